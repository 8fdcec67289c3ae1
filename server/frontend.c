// SPDX-License-Identifier: MIT
/*
 * Guest devices: finding them under backend/vdispl, and the xenbus state
 * machine of each (protocol/xenstore.c decides the steps; this file takes
 * them). Only what the toolstack wrote into our own backend directory
 * (frontend-id, frontend) says whose grants a device may map.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/frontend.h"
#include "server/server.h"

static int read_key(struct dmab_frontend *fe, const char *dir, const char *key,
		char *value, size_t len)
{
	char path[DMAB_XS_PATH_MAX];
	int ret = dmab_xs_join(path, sizeof(path), dir, key);
	return ret ? ret : dmab_hv_store_read_to(fe->server->hv, path, value, len);
}

/*
 * Our state (with the versions we speak, when versions is true) goes into
 * our backend directory only while that exists: the toolstack removes it
 * once we said Closed, and a plain write then would bring back a stale
 * node, and through our own watch on the backend root, the device.
 * -ENOENT when the directory is gone.
 */
static int write_state(struct dmab_frontend *fe, enum xenbus_state state, bool versions)
{
	char value[16];
	snprintf(value, sizeof(value), "%d", state);
	const struct dmab_hv_store_node nodes[] = {
		{ "state", value },
		{ XENDISPL_FIELD_BE_VERSIONS, DMAB_XS_BACKEND_VERSIONS },
	};
	int ret = dmab_hv_store_write_in(fe->server->hv, fe->be_path, nodes, versions ? 2 : 1);
	if (ret == -ENOENT)
		fe_log_class(fe, DMAB_GUEST_LOG_DEBUG, DMAB_LOG_DEBUG,
			"backend directory gone: no state %s", dmab_xenbus_state_name(state));
	else if (ret)
		fe_log_rl(fe, DMAB_LOG_ERROR, "cannot write state %s: %s",
			dmab_xenbus_state_name(state), dmab_strerror(ret));
	else
		fe_log_class(fe, DMAB_GUEST_LOG_DEBUG, DMAB_LOG_DEBUG, "backend state %s",
			dmab_xenbus_state_name(state));
	fe->be_state = state;
	return ret;
}

/* A state node: Unknown when it is gone, Closed when it is garbage. */
static enum xenbus_state read_state(struct dmab_frontend *fe, const char *dir)
{
	char value[DMAB_XS_VALUE_MAX], err[128];
	enum xenbus_state state;
	if (read_key(fe, dir, "state", value, sizeof(value)))
		return XenbusStateUnknown;
	if (dmab_xenbus_parse_state("state", value, &state, err, sizeof(err))) {
		fe_log_rl(fe, DMAB_LOG_WARN, "%s", err);
		return XenbusStateClosed;
	}
	return state;
}

static void disconnect(struct dmab_frontend *fe)
{
	/* Off the display first, then the buffers it showed, then the rings. */
	for (unsigned int i = 0; i < fe->nconns; i++) {
		dmab_buffers_forget_connector(fe, fe->conns[i]);
		wl_list_remove(&fe->conn_broken[i].link);
		dmab_connector_destroy(fe->conns[i]);
		fe->conns[i] = NULL;
	}
	fe->nconns = 0;
	dmab_buffers_release_all(fe);
	if (fe->connected)
		fe_log_class(fe, DMAB_GUEST_LOG_LIFE, DMAB_LOG_INFO, "disconnected");
	fe->connected = false;
}

static void handle_conn_broken(struct wl_listener *listener, void *data);

static int do_connect(struct dmab_frontend *fe)
{
	struct dmab_server *server = fe->server;
	const struct dmab_config_limits *cl = &server->config.limits;
	char err[160];
	struct dmab_xs_limits limits = {
		.max_connectors = cl->max_connectors,
		.max_width = cl->max_width,
		.max_height = cl->max_height,
	};
	/* Read once, now: the guest can rewrite its directory any time. */
	int ret = dmab_xs_read_config(dmab_hv_store_read_to, server->hv, fe->fe_path, &limits, &fe->config,
		err, sizeof(err));
	if (ret) {
		fe_log_rl(fe, DMAB_LOG_WARN, "configuration refused: %s", err);
		return ret;
	}
	struct dmab_xs_transport transport;
	ret = dmab_xs_read_transport(dmab_hv_store_read_to, server->hv, fe->fe_path, fe->config.connector_count,
		&transport, err, sizeof(err));
	if (ret) {
		fe_log_rl(fe, DMAB_LOG_WARN, "transport refused: %s", err);
		return ret;
	}
	fe->version = transport.version;
	fe->failed = false;

	for (unsigned int i = 0; i < fe->config.connector_count; i++) {
		ret = dmab_connector_create(fe, i, &transport.connectors[i], &fe->conns[i]);
		if (ret) {
			fe_log_rl(fe, DMAB_LOG_WARN, "connector %u: %s", i, dmab_strerror(ret));
			disconnect(fe);
			return ret;
		}
		fe->conn_broken[i].notify = handle_conn_broken;
		wl_signal_add(&fe->conns[i]->events.broken, &fe->conn_broken[i]);
		fe->nconns++;
	}
	fe->connected = true;
	fe->tokens = cl->requests_per_second;
	fe->tokens_ns = dmab_now_ns();

	char res[DMAB_XS_CONNECTORS_MAX * 24] = "";
	size_t pos = 0;
	for (unsigned int i = 0; i < fe->nconns && pos < sizeof(res); i++)
		pos += (size_t)snprintf(res + pos, sizeof(res) - pos, "%s%ux%u", i ? ", " : "",
			fe->conns[i]->width, fe->conns[i]->height);
	fe_log_class(fe, DMAB_GUEST_LOG_LIFE, DMAB_LOG_INFO,
		"connected: protocol %u%s, %u connector%s (%s)%s",
		fe->version, transport.version_missing ? " (assumed)" : "", fe->nconns,
		fe->nconns == 1 ? "" : "s", res, fe->config.be_alloc ? ", be-alloc" : "");
	return 0;
}

static void frontend_free(struct dmab_frontend *fe)
{
	disconnect(fe);
	dmab_buffers_orphan(fe);
	dmab_hv_watch_remove(fe->fe_watch);
	dmab_hv_watch_remove(fe->be_watch);
	if (fe->step_idle)
		wl_event_source_remove(fe->step_idle);
	wl_list_remove(&fe->link);
	free(fe);
}

/* What the states of the device at be_path and fe_path call for. */
static enum dmab_xenbus_be_action next_action(struct dmab_frontend *fe, enum xenbus_state *be)
{
	char online[8] = "";
	bool is_online = read_key(fe, fe->be_path, "online", online, sizeof(online)) == 0 &&
		dmab_xs_parse_bool(online);
	*be = read_state(fe, fe->be_path);
	enum xenbus_state fstate = read_state(fe, fe->fe_path);
	return dmab_xenbus_backend_step(*be, fstate, is_online);
}

/*
 * A device going away: say Closed, the toolstack waits for it, unless we
 * said so already or the directory is gone. Writing the same state again
 * would only fire our own watches.
 */
static void say_closed(struct dmab_frontend *fe, enum xenbus_state be)
{
	if (be != XenbusStateUnknown && be != XenbusStateClosed)
		write_state(fe, XenbusStateClosed, false);
}

/* Take the steps the states call for, until there is nothing to do. */
static void step(struct dmab_frontend *fe)
{
	for (int i = 0; i < 8; i++) {
		enum xenbus_state be;
		enum dmab_xenbus_be_action action = next_action(fe, &be);

		switch (action) {
		case DMAB_XENBUS_BE_NONE:
			return;
		case DMAB_XENBUS_BE_INIT_WAIT:
		case DMAB_XENBUS_BE_RECONNECT:
			disconnect(fe);
			if (write_state(fe, XenbusStateInitWait, true))
				return;
			break;
		case DMAB_XENBUS_BE_CONNECT:
			if (do_connect(fe) == 0) {
				if (write_state(fe, XenbusStateConnected, false))
					return;
			} else if (write_state(fe, XenbusStateClosing, false)) {
				return;
			}
			break;
		case DMAB_XENBUS_BE_DISCONNECT:
			disconnect(fe);
			if (write_state(fe, XenbusStateClosing, false))
				return;
			break;
		case DMAB_XENBUS_BE_CLOSED:
			disconnect(fe);
			if (write_state(fe, XenbusStateClosed, false))
				return;
			break;
		case DMAB_XENBUS_BE_REMOVE:
			fe_log_class(fe, DMAB_GUEST_LOG_LIFE, DMAB_LOG_INFO, "device removed");
			say_closed(fe, be);
			frontend_free(fe);
			return;
		}
	}
	fe_log_rl(fe, DMAB_LOG_WARN, "state machine did not settle");
}

static void handle_step_idle(void *data)
{
	struct dmab_frontend *fe = data;
	fe->step_idle = NULL;
	step(fe);
}

static void schedule_step(struct dmab_frontend *fe)
{
	/* Watch events come in bursts: step once they are all in. */
	if (!fe->step_idle)
		fe->step_idle = wl_event_loop_add_idle(fe->server->loop, handle_step_idle, fe);
}

static void handle_state_watch(void *data, const char *path)
{
	schedule_step(data);
}

/*
 * A connector's guest broke the protocol in a way that ends its
 * connection: nothing of it is handled any more (its connectors look at
 * failed), and it is torn down (Closing) from the event loop, not under
 * the connector's feet.
 */
static void handle_conn_broken(struct wl_listener *listener, void *data)
{
	const struct dmab_connector_broken_event *event = data;
	struct dmab_frontend *fe = event->conn->fe;
	if (fe->failed)
		return;
	fe->failed = true;
	/* Its mistakes so far may have used up the warnings: this one is its going. */
	fe_log_class(fe, DMAB_GUEST_LOG_LIFE, DMAB_LOG_WARN, "dropping the connection: %s",
		event->reason);
	write_state(fe, XenbusStateClosing, false);
	schedule_step(fe);
}

static struct dmab_frontend *find(struct dmab_server *server, domid_t domid, uint32_t devid)
{
	struct dmab_frontend *fe;
	wl_list_for_each(fe, &server->frontends, link) {
		if (fe->domid == domid && fe->devid == devid)
			return fe;
	}
	return NULL;
}

static void create(struct dmab_server *server, domid_t domid, uint32_t devid)
{
	struct dmab_frontend *fe = calloc(1, sizeof(*fe));
	if (!fe)
		return;
	fe->server = server;
	fe->domid = domid;
	fe->devid = devid;
	dmab_buffers_init(fe);
	wl_list_init(&fe->link);
	dmab_xs_backend_dir(fe->be_path, sizeof(fe->be_path), dmab_hv_domid(server->hv),
		domid, devid);

	/*
	 * The toolstack wrote frontend-id and frontend into our own directory:
	 * they, not the guest, say whose device this is.
	 */
	char value[DMAB_XS_PATH_MAX], err[128], expect[DMAB_XS_PATH_MAX];
	domid_t owner;
	if (read_key(fe, fe->be_path, "frontend-id", value, sizeof(value)) ||
			read_key(fe, fe->be_path, "frontend", fe->fe_path, sizeof(fe->fe_path))) {
		free(fe); /* not written yet: the toolstack's next write brings us back */
		return;
	}
	dmab_xs_frontend_dir(expect, sizeof(expect), domid, devid);
	if (dmab_xs_parse_domid("frontend-id", value, &owner, err, sizeof(err)) ||
			owner != domid || strcmp(fe->fe_path, expect)) {
		dmab_log_ratelimited(dmab_guest_log_limit(server->guest_logs, domid,
			DMAB_GUEST_LOG_WARN),
			DMAB_LOG_WARN, "backend/vdispl/%u/%u: frontend-id %s, frontend %s do not "
			"name this device; ignored", domid, devid, value, fe->fe_path);
		free(fe);
		return;
	}

	/*
	 * A device on its way out is not taken: its frontend is gone (or
	 * Closed and offline). This is also what our own last write of Closed
	 * to a device we just removed looks like: it must not bring the
	 * device back, nor say Closed again (that would fire our watch once
	 * more).
	 */
	enum xenbus_state be;
	if (next_action(fe, &be) == DMAB_XENBUS_BE_REMOVE) {
		fe_log_class(fe, DMAB_GUEST_LOG_DEBUG, DMAB_LOG_DEBUG,
			"a device on its way out: not taken");
		say_closed(fe, be);
		free(fe);
		return;
	}

	/* The toolstack's name for the domain, which the layout may be bound to. */
	char name_path[DMAB_XS_PATH_MAX];
	dmab_xs_domain_name(name_path, sizeof(name_path), domid);
	if (dmab_hv_store_read_to(server->hv, name_path, value, sizeof(value)) == 0 &&
			dmab_xs_parse_unique_id("name", value, fe->name, sizeof(fe->name),
				err, sizeof(err)))
		dmab_log(DMAB_LOG_WARN, "dom%u: domain %s; taken as a domain without a name",
			domid, err);

	char state_path[DMAB_XS_PATH_MAX];
	dmab_xs_join(state_path, sizeof(state_path), fe->fe_path, "state");
	int ret = dmab_hv_watch_add(server->hv, state_path, handle_state_watch, fe, &fe->fe_watch);
	if (ret == 0) {
		dmab_xs_join(state_path, sizeof(state_path), fe->be_path, "state");
		ret = dmab_hv_watch_add(server->hv, state_path, handle_state_watch, fe, &fe->be_watch);
	}
	if (ret) {
		dmab_log_errno(DMAB_LOG_ERROR, ret, "dom%u/vdispl%u: cannot watch", domid, devid);
		dmab_hv_watch_remove(fe->fe_watch);
		free(fe);
		return;
	}
	wl_list_insert(server->frontends.prev, &fe->link);

	/* A device past Initialising holds nothing of ours: we restarted. */
	if (be > XenbusStateInitialising && be != XenbusStateClosing && be != XenbusStateClosed)
		write_state(fe, XenbusStateClosing, false);
	fe_log_class(fe, DMAB_GUEST_LOG_LIFE, DMAB_LOG_INFO, "new device");
	schedule_step(fe);
}

/* Look for devices that came or went under root/<domid> (all when domid < 0). */
static void rescan(struct dmab_server *server, long domid)
{
	struct dmab_frontend *fe, *tmp;
	/* Devices whose directory is gone step to REMOVE. */
	wl_list_for_each_safe(fe, tmp, &server->frontends, link) {
		if (domid < 0 || fe->domid == domid)
			schedule_step(fe);
	}

	char **doms;
	unsigned int ndoms;
	if (dmab_hv_store_directory(server->hv, DMAB_HV_NO_TX, server->backend_root,
			&doms, &ndoms))
		return;
	for (unsigned int i = 0; i < ndoms; i++) {
		char path[DMAB_XS_PATH_MAX], err[128];
		domid_t d;
		if (dmab_xs_parse_domid("domid", doms[i], &d, err, sizeof(err)) ||
				(domid >= 0 && d != domid))
			continue;
		char **devs;
		unsigned int ndevs;
		dmab_xs_join(path, sizeof(path), server->backend_root, doms[i]);
		if (dmab_hv_store_directory(server->hv, DMAB_HV_NO_TX, path, &devs, &ndevs))
			continue;
		for (unsigned int j = 0; j < ndevs; j++) {
			uint32_t devid;
			if (dmab_xs_parse_uint("devid", devs[j], UINT32_MAX, &devid, err, sizeof(err)))
				continue;
			if (!find(server, d, devid))
				create(server, d, devid);
		}
		free(devs);
	}
	free(doms);
}

void dmab_frontend_root_changed(struct dmab_server *server, const char *path)
{
	domid_t domid;
	uint32_t devid;
	const char *rest;
	int ret = dmab_xs_parse_backend_path(server->backend_root, path, &domid, &devid, &rest);
	if (ret == -ENOENT) {
		/* The root, or a whole domain's devices. */
		const char *tail = path + strlen(server->backend_root);
		long d = -1;
		if (tail[0] == '/') {
			char err[64];
			domid_t parsed;
			if (dmab_xs_parse_domid("domid", tail + 1, &parsed, err, sizeof(err)) == 0)
				d = parsed;
		}
		rescan(server, d);
		return;
	}
	if (ret)
		return;
	struct dmab_frontend *fe = find(server, domid, devid);
	if (fe)
		schedule_step(fe);
	else
		create(server, domid, devid);
}

void dmab_frontend_destroy(struct dmab_frontend *fe)
{
	disconnect(fe);
	if (fe->be_state != XenbusStateClosed && fe->be_state != XenbusStateUnknown)
		write_state(fe, XenbusStateClosing, false);
	frontend_free(fe);
}
