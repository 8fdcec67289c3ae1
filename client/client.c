// SPDX-License-Identifier: MIT
/*
 * The device: connecting through the xenbus states as Linux's xen-drm-front
 * does, the rings and channels of each connector, requests and their
 * responses, page-flip events.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "client/client-impl.h"
#include "client/request.h"
#ifdef DMAB_HAVE_SIM
#include "hv/sim/sim.h"
#endif
#include "protocol/format.h"
#include "protocol/request.h"
#ifdef DMAB_HAVE_XEN
#include "hv/xen.h"
#endif

/* Bounds on what the toolstack configured; displif has no others. */
#define MAX_RESOLUTION 32768u

static void wake(struct dmab_client *c)
{
	uint64_t one = 1;
	if (write(c->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		dmab_log_errno(DMAB_LOG_ERROR, -errno, "vdispl %u: cannot wake the client",
			c->devid);
}

uint64_t dmab_client_next_cookie(void)
{
	static atomic_uint_fast32_t seq;
	uint32_t n;
	do
		n = (uint32_t)atomic_fetch_add(&seq, 1) + 1;
	while (n == 0);
	return (uint64_t)(uint32_t)getpid() << 32 | n;
}

/* ---- XenStore ---- */

static int read_key(struct dmab_client *c, const char *dir, const char *key,
		char *value, size_t len)
{
	char path[DMAB_XS_PATH_MAX];
	int ret = dmab_xs_join(path, sizeof(path), dir, key);
	if (ret)
		return ret;
	return dmab_hv_store_read_to(c->hv, path, value, len);
}

static int set_state(struct dmab_client *c, enum xenbus_state state)
{
	char path[DMAB_XS_PATH_MAX];
	if (c->hv_gone)
		return -ENOTCONN;
	int ret = dmab_xs_join(path, sizeof(path), c->fe_dir, "state");
	if (!ret)
		ret = dmab_hv_store_printf(c->hv, DMAB_HV_NO_TX, path, "%d", (int)state);
	if (ret) {
		dmab_log_errno(DMAB_LOG_ERROR, ret, "vdispl %u: cannot go %s", c->devid,
			dmab_xenbus_state_name(state));
		return ret;
	}
	dmab_log(DMAB_LOG_DEBUG, "vdispl %u: %s -> %s", c->devid,
		dmab_xenbus_state_name(c->fe_state), dmab_xenbus_state_name(state));
	c->fe_state = state;
	return 0;
}

static enum xenbus_state read_be_state(struct dmab_client *c)
{
	char value[DMAB_XS_VALUE_MAX], err[160];
	enum xenbus_state state;

	int ret = read_key(c, c->be_dir, "state", value, sizeof(value));
	if (ret)
		return XenbusStateUnknown;
	if (dmab_xenbus_parse_state("state", value, &state, err, sizeof(err))) {
		dmab_log(DMAB_LOG_WARN, "vdispl %u: backend %s", c->devid, err);
		return XenbusStateUnknown;
	}
	return state;
}

static void handle_backend_state(void *data, const char *path)
{
	struct dmab_client *c = data;
	c->be_changed = true;
	/* The application learns of it from dmab_client_dispatch(). */
	wake(c);
}

/* ---- transport ---- */

static void handle_req_event(void *data)
{
	/* Responses are looked for by whoever waits for one. */
}

static void handle_evt_event(void *data)
{
	struct client_conn *conn = data;
	wake(conn->client);
}

static void release_transport(struct dmab_client *c)
{
	for (unsigned int i = 0; i < c->nconns; i++) {
		struct client_conn *conn = &c->conns[i];
		dmab_hv_evtchn_close(conn->req_chn);
		dmab_hv_evtchn_close(conn->evt_chn);
		conn->req_chn = conn->evt_chn = NULL;
		if (conn->req_page)
			dmab_client_unshare(c, conn->req_page, 1);
		if (conn->evt_page)
			dmab_client_unshare(c, conn->evt_page, 1);
		conn->req_page = conn->evt_page = NULL;
		conn->front = conn->pending = NULL;
	}
}

static int alloc_transport(struct dmab_client *c)
{
	for (unsigned int i = 0; i < c->nconns; i++) {
		struct client_conn *conn = &c->conns[i];
		int ret = dmab_hv_share_alloc(c->hv, c->be_domid, 1, DMAB_HV_SHARE_WRITABLE,
			&conn->req_ref, &conn->req_page);
		if (ret) {
			conn->req_page = NULL;
			goto err;
		}
		dmab_fe_ring_init(&conn->ring, conn->req_page);

		ret = dmab_hv_share_alloc(c->hv, c->be_domid, 1, DMAB_HV_SHARE_WRITABLE,
			&conn->evt_ref, &conn->evt_page);
		if (ret) {
			conn->evt_page = NULL;
			goto err;
		}
		dmab_fe_evt_init(&conn->evt, conn->evt_page);
		conn->warned_id_gap = false;

		ret = dmab_hv_evtchn_alloc(c->hv, c->be_domid, handle_req_event, conn,
			&conn->req_chn);
		if (ret) {
			conn->req_chn = NULL;
			goto err;
		}
		ret = dmab_hv_evtchn_alloc(c->hv, c->be_domid, handle_evt_event, conn,
			&conn->evt_chn);
		if (ret) {
			conn->evt_chn = NULL;
			goto err;
		}
		continue;
err:
		dmab_log_errno(DMAB_LOG_ERROR, ret, "vdispl %u connector %u: "
			"cannot set up the rings", c->devid, i);
		release_transport(c);
		return ret;
	}
	return 0;
}

static int write_transport(struct dmab_client *c, dmab_hv_tx_t tx, bool version)
{
	char dir[DMAB_XS_PATH_MAX], path[DMAB_XS_PATH_MAX];
	int ret = 0;

	for (unsigned int i = 0; i < c->nconns && !ret; i++) {
		struct client_conn *conn = &c->conns[i];
		ret = dmab_xs_connector_dir(dir, sizeof(dir), c->fe_dir, i);
		const struct {
			const char *key;
			uint32_t value;
		} keys[] = {
			{ XENDISPL_FIELD_REQ_RING_REF, conn->req_ref },
			{ XENDISPL_FIELD_REQ_CHANNEL, dmab_hv_evtchn_port(conn->req_chn) },
			{ XENDISPL_FIELD_EVT_RING_REF, conn->evt_ref },
			{ XENDISPL_FIELD_EVT_CHANNEL, dmab_hv_evtchn_port(conn->evt_chn) },
		};
		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]) && !ret; k++) {
			ret = dmab_xs_join(path, sizeof(path), dir, keys[k].key);
			if (!ret)
				ret = dmab_hv_store_printf(c->hv, tx, path, "%u", keys[k].value);
		}
	}
	if (!ret && version) {
		ret = dmab_xs_join(path, sizeof(path), c->fe_dir, XENDISPL_FIELD_FE_VERSION);
		if (!ret)
			ret = dmab_hv_store_printf(c->hv, tx, path, "%u", c->version);
	}
	return ret;
}

/* Choose the protocol version from the backend's "versions". */
static int negotiate_version(struct dmab_client *c, bool *write_version)
{
	char value[DMAB_XS_VALUE_MAX], err[160];
	int ret = read_key(c, c->be_dir, XENDISPL_FIELD_BE_VERSIONS, value, sizeof(value));

	if (ret == -ENOENT) {
		/*
		 * A backend that lists no versions predates version 2's
		 * additions: speak version 1 (no GET_EDID) and, as Linux does,
		 * write no "version".
		 */
		c->version = 1;
		*write_version = false;
		return 0;
	}
	if (ret) {
		dmab_log_errno(DMAB_LOG_ERROR, ret, "vdispl %u: cannot read the backend's versions",
			c->devid);
		return ret;
	}
	ret = dmab_xs_parse_version(XENDISPL_FIELD_BE_VERSIONS, value,
		DMAB_XS_PROTOCOL_MASK, &c->version, err, sizeof(err));
	if (ret) {
		dmab_log(DMAB_LOG_ERROR, "vdispl %u: backend %s", c->devid, err);
		return ret;
	}
	*write_version = true;
	return 0;
}

/* The backend is in InitWait: publish the rings and go Initialised. */
static int publish(struct dmab_client *c)
{
	bool write_version;
	int ret = negotiate_version(c, &write_version);
	if (ret)
		return ret;

	release_transport(c);
	ret = alloc_transport(c);
	if (ret)
		return ret;

	for (int attempt = 0; attempt < 16; attempt++) {
		dmab_hv_tx_t tx;
		ret = dmab_hv_store_tx_start(c->hv, &tx);
		if (ret)
			break;
		ret = write_transport(c, tx, write_version);
		int end = dmab_hv_store_tx_end(c->hv, tx, ret != 0);
		if (ret)
			break;
		ret = end;
		if (ret != -EAGAIN)
			break;
	}
	if (!ret)
		ret = set_state(c, XenbusStateInitialised);
	if (ret) {
		dmab_log_errno(DMAB_LOG_ERROR, ret, "vdispl %u: cannot publish the rings",
			c->devid);
		release_transport(c);
		return ret;
	}
	dmab_log(DMAB_LOG_DEBUG, "vdispl %u: published %u connector(s), version %u",
		c->devid, c->nconns, c->version);
	return 0;
}

/* The backend left a connected device: requests fail from now on. */
static void lose(struct dmab_client *c, const char *why)
{
	if (c->phase != CLIENT_CONNECTED)
		return;
	dmab_log(DMAB_LOG_WARN, "vdispl %u: %s (backend %s)", c->devid, why,
		dmab_xenbus_state_name(c->be_state));
	c->phase = CLIENT_LOST;
	/*
	 * As Linux: Reconfiguring tells the backend to wait until the device
	 * is released, which dmab_client_destroy() does (then Initialising).
	 */
	set_state(c, XenbusStateReconfiguring);
	wake(c);
}

/* Nothing reaches the other side any more: not the store, not the backend. */
static void hv_gone(struct dmab_client *c)
{
	if (c->hv_gone)
		return;
	c->hv_gone = true;
	c->be_state = XenbusStateUnknown;
	c->be_changed = false;
	lose(c, "the hypervisor connection is gone");
}

int dmab_client_process_state(struct dmab_client *c)
{
	if (!c->be_changed || c->hv_gone)
		return 0;
	c->be_changed = false;
	c->be_state = read_be_state(c);

	/* Each action changes our state; a handful of steps at most. */
	for (int step = 0; step < 8; step++) {
		enum dmab_xenbus_fe_action action =
			dmab_xenbus_frontend_step(c->fe_state, c->be_state);
		int ret;

		switch (action) {
		case DMAB_XENBUS_FE_NONE:
		case DMAB_XENBUS_FE_CLOSED:     /* dmab_client_destroy() waits for it */
			return 0;
		case DMAB_XENBUS_FE_PUBLISH:
			if (c->phase != CLIENT_CONNECTING)
				return 0;
			ret = publish(c);
			if (ret)
				return ret;
			break;
		case DMAB_XENBUS_FE_CONNECT:
			ret = set_state(c, XenbusStateConnected);
			if (ret)
				return ret;
			c->phase = CLIENT_CONNECTED;
			break;
		case DMAB_XENBUS_FE_TEARDOWN:
			if (c->phase == CLIENT_CONNECTED) {
				lose(c, "the backend went away");
				return -ENOTCONN;
			}
			/* Still connecting: start over when the backend is back. */
			release_transport(c);
			ret = set_state(c, XenbusStateInitialising);
			if (ret)
				return ret;
			break;
		}
	}
	return 0;
}

bool dmab_client_can_send(const struct dmab_client *c)
{
	return c->phase == CLIENT_CONNECTED && c->be_state == XenbusStateConnected;
}

int dmab_client_pump(struct dmab_client *c, uint64_t deadline_ms)
{
	uint64_t now = dmab_now_ms();
	if (now >= deadline_ms)
		return -ETIMEDOUT;

	uint64_t wait = deadline_ms - now;
	struct pollfd pfd = { .fd = dmab_hv_get_fd(c->hv), .events = POLLIN };
	if (poll(&pfd, 1, wait > INT_MAX ? INT_MAX : (int)wait) < 0 && errno != EINTR)
		return -errno;

	if (dmab_hv_dispatch(c->hv) < 0) {
		hv_gone(c);
		return -ENOTCONN;
	}
	return 0;
}

void dmab_client_unshare(struct dmab_client *c, void *addr, uint32_t count)
{
	/* The hv frees what is shared when it goes; nothing to say then. */
	if (c->hv_gone)
		return;
	uint64_t deadline = dmab_now_ms() + DMAB_CLIENT_UNSHARE_WAIT_MS;
	int ret;

	while ((ret = dmab_hv_share_free(c->hv, addr, count)) == -EBUSY) {
		/* Give the backend time to unmap; short naps, it is usually quick. */
		uint64_t soon = dmab_now_ms() + 10;
		if (soon > deadline)
			break;
		struct pollfd pfd = { .fd = dmab_hv_get_fd(c->hv), .events = POLLIN };
		poll(&pfd, 1, 10);
		if (dmab_hv_dispatch(c->hv) < 0) {
			hv_gone(c);
			return;
		}
	}
	if (ret == -EBUSY)
		dmab_log(DMAB_LOG_WARN, "vdispl %u: the backend still maps %u shared page(s) "
			"after %u ms; leaving them to the hypervisor", c->devid, count,
			DMAB_CLIENT_UNSHARE_WAIT_MS);
	else if (ret)
		dmab_log_errno(DMAB_LOG_WARN, ret, "vdispl %u: cannot free %u shared page(s)",
			c->devid, count);
}

/* ---- requests ---- */

int dmab_client_call(struct dmab_client *c, unsigned int index,
		struct xendispl_req *req, struct xendispl_resp *resp)
{
	if (index >= c->nconns)
		return -EINVAL;
	dmab_client_process_state(c);
	if (!dmab_client_can_send(c))
		return -ENOTCONN;

	struct client_conn *conn = &c->conns[index];
	uint8_t op = req->operation;
	bool notify;
	int ret = dmab_fe_ring_send(&conn->ring, req, &notify);
	if (ret) {
		dmab_log_ratelimited(&c->rl, DMAB_LOG_WARN, "vdispl %u connector %u: %s: %s",
			c->devid, index, dmab_op_name(op), ret == -EBUSY ?
			"the ring is full of unanswered requests" : "the ring is broken");
		return -EIO;
	}
	if (notify) {
		ret = dmab_hv_evtchn_notify(conn->req_chn);
		if (ret) {
			dmab_log_errno(DMAB_LOG_WARN, ret, "vdispl %u connector %u: cannot notify",
				c->devid, index);
			return -EIO;
		}
	}

	uint16_t id = req->id;
	uint64_t deadline = dmab_now_ms() + c->timeout_ms;
	for (;;) {
		ret = dmab_fe_ring_take(&conn->ring, id, resp);
		if (ret == 1)
			return 0;
		if (ret < 0) {
			dmab_log_ratelimited(&c->rl, DMAB_LOG_WARN, "vdispl %u connector %u: "
				"the backend broke the request ring (more responses than requests)",
				c->devid, index);
			return -EIO;
		}
		dmab_client_process_state(c);
		if (!dmab_client_can_send(c))
			return -ENOTCONN;
		ret = dmab_client_pump(c, deadline);
		if (ret == -ETIMEDOUT) {
			dmab_log_ratelimited(&c->rl, DMAB_LOG_WARN, "vdispl %u connector %u: "
				"no response to %s (id %u) in %u ms", c->devid, index,
				dmab_op_name(op), id, c->timeout_ms);
			return ret;
		}
		if (ret)
			return ret;
	}
}

int dmab_client_request(struct dmab_client *c, unsigned int index,
		struct xendispl_req *req, struct xendispl_resp *resp_out)
{
	struct xendispl_resp resp;
	uint8_t op = req->operation;
	int ret = dmab_client_call(c, index, req, &resp);
	if (ret)
		return ret;
	ret = dmab_fe_status_errno(resp.status);
	if (ret)
		dmab_log(DMAB_LOG_DEBUG, "vdispl %u connector %u: %s: the backend answered %d (%s)",
			c->devid, index, dmab_op_name(op), resp.status, dmab_strerror(ret));
	if (resp_out)
		*resp_out = resp;
	return ret;
}

/* ---- events ---- */

struct dmab_client_buffer *dmab_client_find_fb(struct dmab_client *c,
		uint64_t fb_cookie)
{
	for (struct dmab_client_buffer *b = c->buffers; b; b = b->next) {
		if (b->attached && b->fb_cookie == fb_cookie)
			return b;
	}
	return NULL;
}

void dmab_client_forget_shown(struct dmab_client *c,
		struct dmab_client_buffer *buffer)
{
	for (unsigned int i = 0; i < c->nconns; i++) {
		if (c->conns[i].front == buffer)
			c->conns[i].front = NULL;
		if (c->conns[i].pending == buffer)
			c->conns[i].pending = NULL;
	}
}

static void handle_flip(struct dmab_client *c, struct client_conn *conn,
		uint64_t fb_cookie)
{
	struct dmab_client_buffer *b = dmab_client_find_fb(c, fb_cookie);
	if (!b) {
		dmab_log_ratelimited(&c->rl, DMAB_LOG_WARN, "vdispl %u connector %u: "
			"page-flip event for unknown fb_cookie 0x%llx", c->devid, conn->index,
			(unsigned long long)fb_cookie);
		return;
	}
	if (conn->pending == b) {
		conn->front = b;
		conn->pending = NULL;
	}
	if (c->flip_fn)
		c->flip_fn(c->flip_data, conn->index, b);
}

static void process_events(struct dmab_client *c)
{
	for (unsigned int i = 0; i < c->nconns && c->phase == CLIENT_CONNECTED; i++) {
		struct client_conn *conn = &c->conns[i];
		struct xendispl_evt evt;
		int ret = 0;

		if (!conn->evt_page)
			continue;
		/* Bounded: a backend that keeps producing does not keep us here. */
		for (unsigned int n = 0; n < XENDISPL_IN_RING_LEN; n++) {
			ret = dmab_fe_evt_get(&conn->evt, &evt);
			if (ret == 0)
				break;
			if (ret < 0) {
				dmab_log_ratelimited(&c->rl, DMAB_LOG_WARN, "vdispl %u connector %u: "
					"impossible event index, events skipped", c->devid, i);
				continue;
			}
			if (conn->evt.id_gaps && !conn->warned_id_gap) {
				dmab_log(DMAB_LOG_WARN, "vdispl %u connector %u: event id %u is not "
					"consecutive (Linux drops such events)", c->devid, i, evt.id);
				conn->warned_id_gap = true;
			}
			if (evt.type == XENDISPL_EVT_PG_FLIP)
				handle_flip(c, conn, evt.op.pg_flip.fb_cookie);
			else
				dmab_log_ratelimited(&c->rl, DMAB_LOG_WARN, "vdispl %u connector %u: "
					"unknown event type %u", c->devid, i, evt.type);
			/* The handler may have destroyed buffers or lost the backend. */
			if (c->phase != CLIENT_CONNECTED || !conn->evt_page)
				break;
		}
		if (ret != 0 && c->phase == CLIENT_CONNECTED)
			wake(c); /* more left: come back */
	}
}

int dmab_client_dispatch(struct dmab_client *c)
{
	if (c->in_dispatch)
		return c->phase == CLIENT_CONNECTED ? 0 : -ENOTCONN;
	c->in_dispatch = true;

	uint64_t count;
	if (read(c->wake_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		dmab_log_errno(DMAB_LOG_WARN, -errno, "vdispl %u: wake fd", c->devid);

	if (dmab_hv_dispatch(c->hv) < 0)
		hv_gone(c);
	dmab_client_process_state(c);
	process_events(c);

	c->in_dispatch = false;
	return c->phase == CLIENT_CONNECTED ? 0 : -ENOTCONN;
}

/* ---- connecting ---- */

static int open_hv(const struct dmab_client_options *o, struct dmab_hv **hv)
{
	enum dmab_client_hv kind = o->hv;
	if (kind == DMAB_CLIENT_HV_AUTO)
		kind = access("/dev/xen", F_OK) == 0 ? DMAB_CLIENT_HV_XEN : DMAB_CLIENT_HV_SIM;

	if (kind == DMAB_CLIENT_HV_XEN) {
#ifdef DMAB_HAVE_XEN
		return dmab_hv_xen_open(DMAB_HV_FRONTEND, hv);
#else
		dmab_log(DMAB_LOG_ERROR, "this libdmabridge-client was built without Xen");
		return -EOPNOTSUPP;
#endif
	}
	if (kind != DMAB_CLIENT_HV_SIM)
		return -EINVAL;

#ifdef DMAB_HAVE_SIM
	char buf[256];
	const char *path = o->sim_socket;
	if (!path)
		path = dmab_hv_sim_default_socket(buf, sizeof(buf));
	if (!path)
		return -ENAMETOOLONG;
	int ret = dmab_hv_sim_connect_named(path, o->domain_name, hv);
	if (ret)
		dmab_log_errno(DMAB_LOG_ERROR, ret, "cannot reach the simulator at %s", path);
	return ret;
#else
	dmab_log(DMAB_LOG_ERROR, "this libdmabridge-client was built without the simulator");
	return -EOPNOTSUPP;
#endif
}

static int create_device(struct dmab_client *c, const struct dmab_client_options *o)
{
	if (!c->sim) {
		dmab_log(DMAB_LOG_WARN, "vdispl %u: create_device is for the simulator; "
			"on Xen the domain's configuration has the device", o->devid);
		return 0;
	}
	if (o->connector_count == 0 || !o->connectors)
		return -EINVAL;

#ifdef DMAB_HAVE_SIM
	struct dmab_sim_connector *conns = calloc(o->connector_count, sizeof(*conns));
	if (!conns)
		return -ENOMEM;
	for (unsigned int i = 0; i < o->connector_count; i++) {
		conns[i].width = o->connectors[i].width;
		conns[i].height = o->connectors[i].height;
		conns[i].unique_id = o->connectors[i].unique_id;
	}
	int ret = dmab_hv_sim_add_vdispl(c->hv, o->devid, o->be_alloc, conns,
		o->connector_count);
	free(conns);
	if (ret)
		dmab_log_errno(DMAB_LOG_ERROR, ret, "vdispl %u: the simulator's toolstack "
			"refused the device", o->devid);
	return ret;
#else
	return -EOPNOTSUPP;
#endif
}

static int read_device(struct dmab_client *c)
{
	char value[DMAB_XS_PATH_MAX], err[160];
	domid_t domid = dmab_hv_domid(c->hv);

	int ret = dmab_xs_frontend_dir(c->fe_dir, sizeof(c->fe_dir), domid, c->devid);
	if (ret)
		return ret;

	ret = read_key(c, c->fe_dir, "backend-id", value, sizeof(value));
	if (ret == 0)
		ret = dmab_xs_parse_domid("backend-id", value, &c->be_domid, err, sizeof(err));
	else
		snprintf(err, sizeof(err), "backend-id: %s", dmab_strerror(ret));
	if (ret) {
		dmab_log(DMAB_LOG_ERROR, "domain %u has no usable vdispl device %u: %s",
			domid, c->devid, err);
		return ret;
	}

	ret = read_key(c, c->fe_dir, "backend", c->be_dir, sizeof(c->be_dir));
	if (ret) {
		dmab_log_errno(DMAB_LOG_ERROR, ret, "vdispl %u: cannot read backend", c->devid);
		return ret;
	}

	ret = read_key(c, c->fe_dir, "state", value, sizeof(value));
	if (ret || dmab_xenbus_parse_state("state", value, &c->fe_state, err, sizeof(err)))
		c->fe_state = XenbusStateUnknown;

	struct dmab_xs_config *config = calloc(1, sizeof(*config));
	if (!config)
		return -ENOMEM;
	const struct dmab_xs_limits limits = {
		.max_connectors = DMAB_XS_CONNECTORS_MAX,
		.max_width = MAX_RESOLUTION,
		.max_height = MAX_RESOLUTION,
	};
	ret = dmab_xs_read_config(dmab_hv_store_read_to, c->hv, c->fe_dir, &limits, config, err,
		sizeof(err));
	if (ret) {
		dmab_log(DMAB_LOG_ERROR, "vdispl %u: bad configuration: %s", c->devid, err);
		goto out;
	}

	c->be_alloc = config->be_alloc;
	c->conns = calloc(config->connector_count, sizeof(*c->conns));
	ret = -ENOMEM;
	if (!c->conns)
		goto out;
	c->nconns = config->connector_count;
	for (unsigned int i = 0; i < c->nconns; i++) {
		struct client_conn *conn = &c->conns[i];
		conn->client = c;
		conn->index = i;
		conn->width = config->connectors[i].width;
		conn->height = config->connectors[i].height;
		memcpy(conn->unique_id, config->connectors[i].unique_id, sizeof(conn->unique_id));
	}
	ret = 0;
out:
	free(config);
	return ret;
}

static int setup_fds(struct dmab_client *c)
{
	c->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	c->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (c->wake_fd < 0 || c->epoll_fd < 0)
		return -errno;
	struct epoll_event ev = { .events = EPOLLIN };
	if (epoll_ctl(c->epoll_fd, EPOLL_CTL_ADD, dmab_hv_get_fd(c->hv), &ev) < 0 ||
			epoll_ctl(c->epoll_fd, EPOLL_CTL_ADD, c->wake_fd, &ev) < 0)
		return -errno;
	return 0;
}

static int wait_connected(struct dmab_client *c)
{
	uint64_t deadline = dmab_now_ms() + c->timeout_ms;

	for (;;) {
		int ret = dmab_client_process_state(c);
		if (ret)
			return ret;
		if (c->phase == CLIENT_CONNECTED)
			return 0;
		ret = dmab_client_pump(c, deadline);
		if (ret == -ETIMEDOUT)
			dmab_log(DMAB_LOG_ERROR, "vdispl %u: the backend did not connect in %u ms "
				"(it is %s, we are %s)", c->devid, c->timeout_ms,
				dmab_xenbus_state_name(c->be_state),
				dmab_xenbus_state_name(c->fe_state));
		if (ret)
			return ret;
	}
}

static void log_from_env(void)
{
	const char *name = getenv("DMABRIDGE_LOG");
	enum dmab_log_level level;
	if (name && dmab_log_level_parse(name, &level) == 0)
		dmab_log_init(level, NULL);
}

int dmab_client_connect_over(const struct dmab_client_options *options,
		struct dmab_hv *hv, bool owns_hv, struct dmab_client **out)
{
	log_from_env();

	struct dmab_client *c = calloc(1, sizeof(*c));
	if (!c) {
		if (owns_hv)
			dmab_hv_destroy(hv);
		return -ENOMEM;
	}
	c->hv = hv;
	c->owns_hv = owns_hv;
	c->sim = strcmp(dmab_hv_name(hv), "sim") == 0;
	c->plain_memory = options->plain_memory;
	c->wake_fd = c->epoll_fd = -1;
	c->devid = options->devid;
	c->timeout_ms = options->timeout_ms ? options->timeout_ms :
		DMAB_CLIENT_DEFAULT_TIMEOUT_MS;
	c->phase = CLIENT_CONNECTING;
	c->fe_state = XenbusStateUnknown;
	c->rl.interval_ms = 1000;
	c->rl.burst = 10;

	int ret = 0;
	if (options->create_device)
		ret = create_device(c, options);
	if (!ret)
		ret = read_device(c);
	if (!ret)
		ret = setup_fds(c);
	if (ret)
		goto err;

	/*
	 * As Linux's probe: start from Initialising. A frontend left Connected
	 * by an earlier client makes the backend tear down and start over.
	 */
	if (c->fe_state != XenbusStateInitialising) {
		ret = set_state(c, XenbusStateInitialising);
		if (ret)
			goto err;
	}

	char path[DMAB_XS_PATH_MAX];
	ret = dmab_xs_join(path, sizeof(path), c->be_dir, "state");
	if (!ret)
		ret = dmab_hv_watch_add(c->hv, path, handle_backend_state, c, &c->be_watch);
	if (ret) {
		dmab_log_errno(DMAB_LOG_ERROR, ret, "vdispl %u: cannot watch %s", c->devid, path);
		goto err;
	}
	c->be_changed = true;

	ret = wait_connected(c);
	if (ret)
		goto err;

	dmab_log(DMAB_LOG_INFO, "vdispl %u: connected as domain %u to backend domain %u "
		"(%s, protocol %u, %u connector(s)%s)", c->devid, dmab_hv_domid(c->hv),
		c->be_domid, dmab_hv_name(c->hv), c->version, c->nconns,
		c->be_alloc ? ", be-alloc" : "");
	*out = c;
	return 0;

err:
	dmab_client_destroy(c);
	return ret;
}

int dmab_client_connect(const struct dmab_client_options *options,
		struct dmab_client **out)
{
	struct dmab_hv *hv;
	int ret = open_hv(options, &hv);
	if (ret)
		return ret;
	return dmab_client_connect_over(options, hv, true, out);
}

/* ---- closing ---- */

/* Closing, until the backend let go of the rings (see dmab_xenbus_frontend_step). */
static void close_device(struct dmab_client *c)
{
	if (set_state(c, XenbusStateClosing))
		return;
	c->phase = CLIENT_CLOSING;

	uint64_t deadline = dmab_now_ms() + c->timeout_ms;
	for (;;) {
		dmab_client_process_state(c);
		if (dmab_xenbus_frontend_step(c->fe_state, c->be_state) == DMAB_XENBUS_FE_CLOSED)
			return;
		int ret = dmab_client_pump(c, deadline);
		if (ret == -ETIMEDOUT) {
			dmab_log(DMAB_LOG_WARN, "vdispl %u: the backend is still %s after %u ms; "
				"closing anyway", c->devid, dmab_xenbus_state_name(c->be_state),
				c->timeout_ms);
			return;
		}
		if (ret)
			return;
	}
}

void dmab_client_destroy(struct dmab_client *c)
{
	if (!c)
		return;

	if (c->hv && dmab_client_can_send(c)) {
		/* Off first, as a display shutdown does, then the buffers. */
		for (unsigned int i = 0; i < c->nconns && dmab_client_can_send(c); i++) {
			if (c->conns[i].front || c->conns[i].pending)
				dmab_client_set_config(c, i, NULL, 0, 0);
		}
	}
	while (c->buffers)
		dmab_client_buffer_destroy(c->buffers);

	if (c->hv && c->phase == CLIENT_CONNECTED && c->be_state == XenbusStateConnected)
		close_device(c);
	if (c->hv && c->conns)
		release_transport(c);
	/* Ready for the next frontend, as Linux after it released its device. */
	if (c->hv && c->fe_dir[0] && c->fe_state != XenbusStateInitialising &&
			c->fe_state != XenbusStateUnknown)
		set_state(c, XenbusStateInitialising);

	dmab_hv_watch_remove(c->be_watch);
	if (c->owns_hv)
		dmab_hv_destroy(c->hv);
	if (c->epoll_fd >= 0)
		close(c->epoll_fd);
	if (c->wake_fd >= 0)
		close(c->wake_fd);
	free(c->conns);
	free(c);
}

/* ---- queries ---- */

uint16_t dmab_client_domid(const struct dmab_client *c)
{
	return dmab_hv_domid(c->hv);
}

int dmab_client_get_fd(const struct dmab_client *c)
{
	return c->epoll_fd;
}

bool dmab_client_connected(const struct dmab_client *c)
{
	return c->phase == CLIENT_CONNECTED;
}

unsigned int dmab_client_protocol_version(const struct dmab_client *c)
{
	return c->version;
}

bool dmab_client_be_alloc(const struct dmab_client *c)
{
	return c->be_alloc;
}

unsigned int dmab_client_connector_count(const struct dmab_client *c)
{
	return c->nconns;
}

int dmab_client_connector_info(const struct dmab_client *c, unsigned int index,
		struct dmab_client_connector_info *info)
{
	if (index >= c->nconns)
		return -EINVAL;
	memset(info, 0, sizeof(*info));
	info->width = c->conns[index].width;
	info->height = c->conns[index].height;
	_Static_assert(sizeof(info->unique_id) == sizeof(c->conns[index].unique_id),
		"unique-id sizes agree");
	memcpy(info->unique_id, c->conns[index].unique_id, sizeof(info->unique_id));
	return 0;
}

void dmab_client_set_flip_handler(struct dmab_client *c, dmab_client_flip_fn fn,
		void *data)
{
	c->flip_fn = fn;
	c->flip_data = data;
}

/* ---- display ---- */

int dmab_client_set_config(struct dmab_client *c, unsigned int index,
		struct dmab_client_buffer *buffer, uint32_t x, uint32_t y)
{
	struct xendispl_req req;

	if (index >= c->nconns || (buffer && buffer->client != c))
		return -EINVAL;
	if (buffer)
		dmab_fe_req_set_config(&req, buffer->fb_cookie, x, y, buffer->width,
			buffer->height, buffer->bpp);
	else
		dmab_fe_req_set_config(&req, 0, 0, 0, 0, 0, 0);

	int ret = dmab_client_request(c, index, &req, NULL);
	if (ret)
		return ret;
	c->conns[index].front = buffer;
	c->conns[index].pending = NULL;
	return 0;
}

int dmab_client_flip(struct dmab_client *c, unsigned int index,
		struct dmab_client_buffer *buffer)
{
	struct xendispl_req req;

	if (index >= c->nconns || !buffer || buffer->client != c)
		return -EINVAL;

	struct client_conn *conn = &c->conns[index];
	if (conn->pending) {
		uint64_t age = dmab_now_ms() - conn->pending_since_ms;
		if (age < (uint64_t)c->timeout_ms + DMAB_CLIENT_FRAME_SLACK_MS)
			return -EBUSY;
		dmab_log_ratelimited(&c->rl, DMAB_LOG_WARN, "vdispl %u connector %u: "
			"no page-flip event for fb_cookie 0x%llx in %llu ms; taking it as shown",
			c->devid, index, (unsigned long long)conn->pending->fb_cookie,
			(unsigned long long)age);
		conn->front = conn->pending;
		conn->pending = NULL;
	}

	/* Pending before asking: the backend's event may come before its answer. */
	conn->pending = buffer;
	conn->pending_since_ms = dmab_now_ms();
	dmab_fe_req_pg_flip(&req, buffer->fb_cookie);
	int ret = dmab_client_request(c, index, &req, NULL);
	if (ret && conn->pending == buffer)
		conn->pending = NULL;
	return ret;
}
