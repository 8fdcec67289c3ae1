// SPDX-License-Identifier: MIT
/*
 * The host side of the simulator: domain 0, in the backend role, serving
 * the simulated hypervisor to guest processes on a unix socket. It keeps
 * what Xen keeps: the store, one grant table per domain, the event
 * channels between domains, and the toolstack's view of which domains
 * exist. A guest is untrusted: every message is checked, and a malformed
 * one closes that guest's connection only.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/udmabuf.h>

#include "common/array.h"
#include "common/log.h"
#include "common/paths.h"
#include "hv/hv-impl.h"
#include "hv/sim/gnttab.h"
#include "hv/sim/sim.h"
#include "hv/sim/store.h"
#include "hv/sim/wire.h"
#include "protocol/xenstore.h"

#define MAX_DEVICES_PER_GUEST 8
#define MAX_CONNECTORS 16
#define MAX_RESOLUTION 16384
#define MAX_MAPS_PER_GUEST 4096
#define MAX_REGIONS_PER_GUEST 256
#define MAX_QUEUED_MESSAGES 1024
#define MESSAGES_PER_WAKEUP 16
#define EVENTS_PER_DISPATCH 64
#define EVENTS_PER_BATCH 16

/* libxl's LIBXL_DESTROY_TIMEOUT: how long it waits for a backend to close a device. */
#define DEFAULT_RELEASE_TIMEOUT_MS 10000
#define VDISPL_ROOT "/local/domain/0/backend/vdispl"

enum tag { TAG_LISTEN = 1, TAG_CONN, TAG_PORT, TAG_PENDING, TAG_TOOLSTACK };

struct host;
struct conn;

/* What epoll hands back: every source starts with its tag. */
struct source {
	enum tag tag;
};

/*
 * One end of an interdomain channel. A guest's port owns the pair of
 * eventfds (the guest has copies); dom0's bound port points at it.
 */
struct port {
	struct source src;
	domid_t owner;
	evtchn_port_t number;
	domid_t remote;
	int to_owner_fd;        /* guest ports: the guest waits on it */
	int from_owner_fd;      /* guest ports: the guest writes it */
	struct port *peer;      /* the other end once bound */
};

/* A guest's mapping of another domain's grants. */
struct guest_map {
	uint32_t id;
	domid_t granter;
	uint32_t count;
	grant_ref_t *refs;
};

struct domain {
	struct host *host;
	domid_t domid;
	char name[32];
	struct conn *conn;      /* NULL for dom0 and once the guest is gone */
	bool dying;             /* gone; kept while others hold its grants */
	struct sim_gnttab gnttab;
	struct port **ports;
	size_t nports, ports_cap;
	evtchn_port_t next_port;
	struct guest_map *maps;
	size_t nmaps, maps_cap;
	uint32_t next_map;
	unsigned int devices;
	/* Dead, and the toolstack waits for the backend to close its devices. */
	bool releasing;
	uint64_t release_deadline_ms;
};

struct out_msg {
	struct dmab_sim_hdr hdr;
	uint8_t *payload;
	int fds[DMAB_SIM_MAX_FDS];
	unsigned int nfds;
};

struct conn {
	struct source src;
	struct host *host;
	int sock;
	struct domain *dom;     /* after HELLO */
	struct out_msg *queue;
	size_t queue_len, queue_cap;
	bool want_out;
	bool dead;
	uint32_t uid;           /* the peer's user: what its log lines are limited by */
};

/* dom0's mapping of a guest's grants. */
struct host_map {
	void *addr;
	uint32_t count;
	domid_t domid;
	grant_ref_t *refs;
};

/* A dma-buf made of a guest's grants. */
struct host_export {
	int fd;                 /* the number the caller got */
	domid_t domid;
	uint32_t count;
	grant_ref_t *refs;
};

/* dom0's dma-buf granted to a guest. */
struct host_import {
	int fd;                 /* the caller's number */
	uint32_t region;
	uint32_t count;
	grant_ref_t *refs;
};

struct host {
	struct dmab_hv base;
	struct dmab_sim_limits limits;
	char *socket_path;
	struct source listen_src;
	int listen_fd;
	struct source pending_src;
	int pending_fd;
	/*
	 * The toolstack: its watch on the backends' devices (this is the
	 * watch's connection), and a timer for the backends that do not
	 * close a dead guest's device in time.
	 */
	struct source toolstack_src;
	int toolstack_timer;
	bool toolstack_due;
	struct dmab_sim_store *store;
	int udmabuf_fd;         /* -1 without /dev/udmabuf */

	int spare_fd;                   /* held back for accept() at the fd limit */
	struct dmab_ratelimit rl;       /* lines no guest can be named in */
	struct dmab_ratelimit_table *peer_logs;
	struct domain **domains;        /* index = domid; [0] is us */
	domid_t last_domid;             /* the last one given to a guest */
	struct conn **conns;
	size_t nconns, conns_cap;
	/* Bumped when a port or a connection is freed: events fetched before name freed memory. */
	uint64_t sources_freed;

	struct host_map *maps;
	size_t nmaps, maps_cap;
	struct host_export *exports;
	size_t nexports, exports_cap;
	struct host_import *imports;
	size_t nimports, imports_cap;

};

static const struct dmab_hv_impl host_impl;

static struct host *host_of(struct dmab_hv *hv)
{
	return (struct host *)hv;
}

static uint32_t dom_limit(const struct host *h)
{
	return h->limits.max_guests + 1;
}

static struct domain *find_domain(struct host *h, uint32_t domid)
{
	if (domid >= dom_limit(h))
		return NULL;
	return h->domains[domid];
}

/* ---- domains ---- */

static struct domain *domain_new(struct host *h, domid_t domid)
{
	struct domain *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->host = h;
	d->domid = domid;
	d->next_port = 1;
	d->next_map = 1;
	sim_gnttab_init(&d->gnttab, h->limits.max_grants, domid ? h->limits.max_memory : UINT64_MAX);
	h->domains[domid] = d;
	return d;
}

static void domain_free(struct domain *d)
{
	d->host->domains[d->domid] = NULL;
	sim_gnttab_finish(&d->gnttab);
	free(d->ports);
	free(d->maps);
	free(d);
}

/* A dying domain goes once nobody holds its grants any more. */
static void domain_reap(struct domain *d)
{
	if (d && d->dying && !d->releasing && !sim_gnttab_busy(&d->gnttab))
		domain_free(d);
}

/* ---- event channels ---- */

static struct port *find_port(struct domain *d, evtchn_port_t number)
{
	for (size_t i = 0; i < d->nports; i++) {
		if (d->ports[i]->number == number)
			return d->ports[i];
	}
	return NULL;
}

static void port_unbind(struct host *h, struct port *p)
{
	struct port *peer = p->peer;
	if (!peer)
		return;
	/* The guest's end is the one with the eventfds. */
	struct port *guest_end = p->from_owner_fd >= 0 ? p : peer;
	epoll_ctl(h->base.fd, EPOLL_CTL_DEL, guest_end->from_owner_fd, NULL);
	p->peer = NULL;
	peer->peer = NULL;
}

static void port_free(struct host *h, struct domain *d, struct port *p)
{
	h->sources_freed++;
	port_unbind(h, p);
	for (size_t i = 0; i < d->nports; i++) {
		if (d->ports[i] == p) {
			d->ports[i] = d->ports[--d->nports];
			break;
		}
	}
	if (p->to_owner_fd >= 0)
		close(p->to_owner_fd);
	if (p->from_owner_fd >= 0)
		close(p->from_owner_fd);
	free(p);
}

static int port_new(struct domain *d, domid_t remote, struct port **out)
{
	if (d->domid && d->nports >= d->host->limits.max_evtchns)
		return -ENOSPC;
	int ret = dmab_array_reserve((void **)&d->ports, &d->ports_cap, d->nports, sizeof(*d->ports));
	if (ret)
		return ret;
	struct port *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->src.tag = TAG_PORT;
	p->owner = d->domid;
	p->remote = remote;
	p->to_owner_fd = p->from_owner_fd = -1;
	/* Port numbers are not reused while the domain lives, as in Xen's table. */
	p->number = d->next_port++;
	d->ports[d->nports++] = p;
	*out = p;
	return 0;
}

/* ---- log lines a guest can cause ---- */

/*
 * Every connection is a new domain, so a guest's lines are limited by what
 * it cannot renew by reconnecting: its user. Per user and 5 s, 20 lines of
 * its mistakes and 20 of its comings and goings; over all users, 100.
 */
enum peer_log { PEER_LOG_WARN, PEER_LOG_LIFE, PEER_LOG_CLASSES };
#define PEER_LOG_INTERVAL_MS 5000
#define PEER_LOG_USERS 64

static struct dmab_ratelimit_table *peer_logs_create(void)
{
	static const struct dmab_ratelimit peer[PEER_LOG_CLASSES] = {
		[PEER_LOG_WARN] = { .interval_ms = PEER_LOG_INTERVAL_MS, .burst = 20 },
		[PEER_LOG_LIFE] = { .interval_ms = PEER_LOG_INTERVAL_MS, .burst = 20 },
	};
	static const struct dmab_ratelimit all[PEER_LOG_CLASSES] = {
		[PEER_LOG_WARN] = { .interval_ms = PEER_LOG_INTERVAL_MS, .burst = 100 },
		[PEER_LOG_LIFE] = { .interval_ms = PEER_LOG_INTERVAL_MS, .burst = 100 },
	};
	return dmab_ratelimit_table_create(PEER_LOG_USERS, PEER_LOG_CLASSES, peer, all);
}

static struct dmab_ratelimit *conn_rl(const struct conn *c, enum peer_log class)
{
	return dmab_ratelimit_table_get(c->host->peer_logs, c->uid, class);
}

/* ---- messages to guests ---- */

static void conn_close(struct conn *c);

static void conn_update_events(struct conn *c)
{
	bool want = c->queue_len > 0;
	if (want == c->want_out)
		return;
	struct epoll_event ev = {
		.events = EPOLLIN | (want ? EPOLLOUT : 0),
		.data.ptr = &c->src,
	};
	epoll_ctl(c->host->base.fd, EPOLL_CTL_MOD, c->sock, &ev);
	c->want_out = want;
}

static void out_msg_free(struct out_msg *m)
{
	for (unsigned int i = 0; i < m->nfds; i++)
		close(m->fds[i]);
	free(m->payload);
}

static int conn_flush(struct conn *c)
{
	while (c->queue_len) {
		struct out_msg *m = &c->queue[0];
		int ret = dmab_sim_send(c->sock, m->hdr.type, m->hdr.seq, m->hdr.status,
			m->payload, m->hdr.len, m->fds, m->nfds, true);
		if (ret == -EAGAIN)
			break;
		if (ret)
			return ret;
		out_msg_free(m);
		memmove(&c->queue[0], &c->queue[1], (c->queue_len - 1) * sizeof(*c->queue));
		c->queue_len--;
	}
	conn_update_events(c);
	return 0;
}

/*
 * Cut a guest off from outside its own messages (a send to it overflowed,
 * maybe during a dom0 store call): dispatch closes dead connections, so
 * make sure it runs.
 */
static void conn_kill(struct conn *c)
{
	c->dead = true;
	uint64_t one = 1;
	if (write(c->host->pending_fd, &one, sizeof(one)) < 0)
		dmab_log_errno(DMAB_LOG_ERROR, -errno, "sim: cannot signal a dead connection");
}

/*
 * Send without ever waiting for the guest: what its socket cannot take now
 * is queued, and a guest that lets the queue grow past the bound is cut
 * off. fds are not consumed.
 */
static void conn_send(struct conn *c, uint32_t type, uint32_t seq, int32_t status,
		const void *payload, size_t len, const int *fds, unsigned int nfds)
{
	if (c->dead)
		return;
	int ret = -EAGAIN;
	if (c->queue_len == 0)
		ret = dmab_sim_send(c->sock, type, seq, status, payload, len, fds, nfds, true);
	if (ret == 0)
		return;
	if (ret != -EAGAIN || c->queue_len >= MAX_QUEUED_MESSAGES ||
			dmab_array_reserve((void **)&c->queue, &c->queue_cap, c->queue_len, sizeof(*c->queue))) {
		if (ret == -EAGAIN)
			dmab_log_ratelimited(conn_rl(c, PEER_LOG_WARN), DMAB_LOG_WARN,
				"sim: domain %u does not read its socket; disconnecting",
				c->dom ? c->dom->domid : 0);
		else
			dmab_log_ratelimited(conn_rl(c, PEER_LOG_LIFE), DMAB_LOG_INFO,
				"sim: domain %u: its socket failed (%s)",
				c->dom ? c->dom->domid : 0, dmab_strerror(ret));
		conn_kill(c);
		return;
	}
	struct out_msg *m = &c->queue[c->queue_len];
	memset(m, 0, sizeof(*m));
	m->hdr = (struct dmab_sim_hdr){ type, seq, status, (uint32_t)len };
	if (len) {
		m->payload = malloc(len);
		if (!m->payload) {
			conn_kill(c);
			return;
		}
		memcpy(m->payload, payload, len);
	}
	for (unsigned int i = 0; i < nfds; i++) {
		m->fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 0);
		if (m->fds[i] < 0) {
			m->nfds = i;
			out_msg_free(m);
			conn_kill(c);
			return;
		}
	}
	m->nfds = nfds;
	c->queue_len++;
	conn_update_events(c);
}

/* ---- the store's watch events ---- */

static void toolstack_wake(struct host *h);

static void handle_store_fire(void *user, void *connp, const char *path, const char *token)
{
	struct host *h = user;
	struct conn *c = connp;
	if (connp == &h->toolstack_src) {
		toolstack_wake(h);
		return;
	}
	if (c) {
		size_t lp = strlen(path) + 1, lt = strlen(token) + 1;
		char *m = malloc(lp + lt);
		if (!m)
			return;
		memcpy(m, path, lp);
		memcpy(m + lp, token, lt);
		conn_send(c, DMAB_SIM_EVT_WATCH, 0, 0, m, lp + lt, NULL, 0);
		free(m);
		return;
	}
	/* Ours: delivered from dispatch, never from inside a store call. */
	if (dmab_hv_queue_watch(&h->base, path, token))
		return;
	uint64_t one = 1;
	if (write(h->pending_fd, &one, sizeof(one)) < 0)
		dmab_log_errno(DMAB_LOG_ERROR, -errno, "sim: cannot signal a watch event");
}

/* ---- the toolstack ---- */

static int store_printf(struct host *h, uint32_t tx, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int store_printf(struct host *h, uint32_t tx, const char *path, const char *fmt, ...)
{
	char value[128];
	va_list args;
	va_start(args, fmt);
	int n = vsnprintf(value, sizeof(value), fmt, args);
	va_end(args);
	if (n < 0 || (size_t)n >= sizeof(value))
		return -ENAMETOOLONG;
	return dmab_sim_store_write(h->store, 0, tx, path, value, (size_t)n);
}

static int set_perms(struct host *h, uint32_t tx, const char *path,
		domid_t owner, domid_t reader)
{
	struct dmab_sim_store_perm perms[2] = {
		{ owner, DMAB_SIM_STORE_PERM_NONE },
		{ reader, DMAB_SIM_STORE_PERM_READ },
	};
	return dmab_sim_store_set_perms(h->store, 0, tx, path, perms, owner == reader ? 1 : 2);
}

/* What libxl writes for a new domain: its directory and the parts it owns. */
static int toolstack_introduce(struct host *h, struct domain *d)
{
	char path[128];
	int ret;
	snprintf(path, sizeof(path), "/local/domain/%u", d->domid);
	ret = dmab_sim_store_mkdir(h->store, 0, 0, path);
	if (!ret)
		ret = set_perms(h, 0, path, 0, d->domid);
	if (!ret)
		ret = store_printf(h, 0, strcat(path, "/domid"), "%u", d->domid);
	snprintf(path, sizeof(path), "/local/domain/%u/name", d->domid);
	if (!ret)
		ret = store_printf(h, 0, path, "%s", d->name);
	static const char *const owned[] = { "device", "data", "control" };
	for (size_t i = 0; i < 3 && !ret; i++) {
		snprintf(path, sizeof(path), "/local/domain/%u/%s", d->domid, owned[i]);
		ret = dmab_sim_store_mkdir(h->store, 0, 0, path);
		if (!ret)
			ret = set_perms(h, 0, path, d->domid, d->domid);
	}
	if (!ret)
		dmab_sim_store_domain_introduced(h->store, d->domid);
	return ret;
}

/*
 * A dead guest's teardown, in libxl's order (libxl_device.c, forced
 * removal, as for a destroyed domain): per device, the frontend's
 * directory goes and the backend is told to close (online 0, state
 * Closing) in one transaction; once the backend says Closed, or after
 * libxl's timeout, the device's directories go; once every device is
 * gone, the domain's directory, and @releaseDomain. Until then the
 * backend's directory is there for it to write its state into.
 */

static void toolstack_wake(struct host *h)
{
	if (h->toolstack_due)
		return;
	h->toolstack_due = true;
	uint64_t one = 1;
	if (write(h->pending_fd, &one, sizeof(one)) < 0)
		dmab_log_errno(DMAB_LOG_ERROR, -errno, "sim: cannot signal the toolstack");
}

/* libxl__xs_path_cleanup(): remove path, then the parents it leaves empty. */
static void path_cleanup(struct host *h, uint32_t tx, const char *path)
{
	char p[128];
	snprintf(p, sizeof(p), "%s", path);
	if (dmab_sim_store_rm(h->store, 0, tx, p))
		return;
	for (char *last = strrchr(p, '/'); last && last != p; last = strrchr(p, '/')) {
		*last = '\0';
		char *value = NULL, **names = NULL;
		size_t len = 1;
		unsigned int count = 1;
		if (dmab_sim_store_read(h->store, 0, tx, p, &value, &len) == 0)
			dmab_sim_store_directory(h->store, 0, tx, p, &names, &count);
		free(value);
		free(names);
		if (len || count || dmab_sim_store_rm(h->store, 0, tx, p))
			break;
	}
}

/* A transaction of the toolstack's, started over while it conflicts. */
static void toolstack_tx(struct host *h, int (*body)(struct host *h, uint32_t tx,
		domid_t domid, const char *devid), domid_t domid, const char *devid)
{
	for (int attempt = 0; attempt < 8; attempt++) {
		uint32_t tx;
		if (dmab_sim_store_tx_start(h->store, 0, &tx))
			return;
		int ret = body(h, tx, domid, devid);
		if (dmab_sim_store_tx_end(h->store, 0, tx, ret == 0) != -EAGAIN || ret)
			return;
	}
}

/* libxl__initiate_device_generic_remove(), forced. */
static int device_close(struct host *h, uint32_t tx, domid_t domid, const char *devid)
{
	char path[128], *state;
	snprintf(path, sizeof(path), "/local/domain/%u/device/vdispl/%s", domid, devid);
	path_cleanup(h, tx, path);
	snprintf(path, sizeof(path), VDISPL_ROOT "/%u/%s/state", domid, devid);
	if (dmab_sim_store_read(h->store, 0, tx, path, &state, NULL))
		return 0; /* the backend's side is gone already */
	bool closed = atoi(state) == XenbusStateClosed;
	free(state);
	snprintf(path, sizeof(path), VDISPL_ROOT "/%u/%s/online", domid, devid);
	int ret = store_printf(h, tx, path, "0");
	snprintf(path, sizeof(path), VDISPL_ROOT "/%u/%s/state", domid, devid);
	if (!ret && !closed)
		ret = store_printf(h, tx, path, "%d", XenbusStateClosing);
	return ret;
}

/* libxl__device_destroy(). */
static int device_destroy(struct host *h, uint32_t tx, domid_t domid, const char *devid)
{
	char path[128];
	snprintf(path, sizeof(path), "/local/domain/%u/device/vdispl/%s", domid, devid);
	path_cleanup(h, tx, path);
	snprintf(path, sizeof(path), VDISPL_ROOT "/%u/%s", domid, devid);
	path_cleanup(h, tx, path);
	return 0;
}

/* The device ids under a domain's backend directory (free() the block); NULL for none. */
static char **vdispl_devices(struct host *h, domid_t domid, unsigned int *count)
{
	char path[64], **names;
	snprintf(path, sizeof(path), VDISPL_ROOT "/%u", domid);
	if (dmab_sim_store_directory(h->store, 0, 0, path, &names, count))
		return NULL;
	if (*count == 0) {
		free(names);
		return NULL;
	}
	return names;
}

static void toolstack_release_done(struct host *h, struct domain *d)
{
	char path[64];
	snprintf(path, sizeof(path), "/local/domain/%u", d->domid);
	dmab_sim_store_rm(h->store, 0, 0, path);
	d->releasing = false;
	dmab_sim_store_domain_released(h->store, d->domid);
}

/* Remove the devices their backend closed (or that ran out of time). */
static void toolstack_poll(struct host *h)
{
	uint64_t now = dmab_now_ms(), next = 0;
	for (uint32_t id = 1; id < dom_limit(h); id++) {
		struct domain *d = h->domains[id];
		if (!d || !d->releasing)
			continue;
		bool late = now >= d->release_deadline_ms;
		unsigned int count;
		char **devs = vdispl_devices(h, d->domid, &count);
		for (unsigned int i = 0; devs && i < count; i++) {
			char path[128], *state;
			snprintf(path, sizeof(path), VDISPL_ROOT "/%u/%s/state", d->domid, devs[i]);
			bool closed = dmab_sim_store_read(h->store, 0, 0, path, &state, NULL) != 0;
			if (!closed) {
				closed = atoi(state) == XenbusStateClosed;
				free(state);
			}
			if (!closed && late)
				dmab_log(DMAB_LOG_WARN, "sim: the backend did not close vdispl device "
					"%s of dead domain %u in %u ms; removing it", devs[i], d->domid,
					h->limits.release_timeout_ms);
			if (closed || late)
				toolstack_tx(h, device_destroy, d->domid, devs[i]);
		}
		free(devs);
		devs = vdispl_devices(h, d->domid, &count);
		free(devs);
		if (!devs) {
			toolstack_release_done(h, d);
			domain_reap(d);
		} else if (!next || d->release_deadline_ms < next) {
			next = d->release_deadline_ms;
		}
	}
	struct itimerspec when = { 0 };
	if (next) {
		uint64_t ms = next > now ? next - now : 1;
		when.it_value = (struct timespec){ (time_t)(ms / 1000), (long)(ms % 1000) * 1000000 };
	}
	timerfd_settime(h->toolstack_timer, 0, &when, NULL);
}

/* A domain died: @releaseDomain, and its devices start to go. */
static void toolstack_release(struct host *h, struct domain *d)
{
	dmab_sim_store_domain_released(h->store, d->domid);
	unsigned int count;
	char **devs = vdispl_devices(h, d->domid, &count);
	for (unsigned int i = 0; devs && i < count; i++)
		toolstack_tx(h, device_close, d->domid, devs[i]);
	free(devs);
	d->releasing = true;
	d->release_deadline_ms = dmab_now_ms() + h->limits.release_timeout_ms;
	if (devs)
		toolstack_wake(h);
	else
		toolstack_release_done(h, d);
}

static int toolstack_add_vdispl(struct host *h, struct domain *d,
		const struct dmab_sim_add_vdispl *req, char *why, size_t why_len)
{
	if (req->count == 0 || req->count > MAX_CONNECTORS) {
		snprintf(why, why_len, "%u connectors", req->count);
		return -EINVAL;
	}
	if (d->devices >= MAX_DEVICES_PER_GUEST) {
		snprintf(why, why_len, "more than %d devices", MAX_DEVICES_PER_GUEST);
		return -ENOSPC;
	}
	for (uint32_t i = 0; i < req->count; i++) {
		const struct dmab_sim_connector_msg *c = &req->connectors[i];
		char uid[DMAB_XS_UNIQUE_ID_MAX + 1];
		if (c->width == 0 || c->height == 0 || c->width > MAX_RESOLUTION ||
				c->height > MAX_RESOLUTION) {
			snprintf(why, why_len, "connector %u: resolution %ux%u", i, c->width, c->height);
			return -EINVAL;
		}
		if (!memchr(c->unique_id, '\0', sizeof(c->unique_id)) ||
				(c->unique_id[0] && dmab_xs_parse_unique_id("unique-id", c->unique_id,
					uid, sizeof(uid), why, why_len))) {
			if (!memchr(c->unique_id, '\0', sizeof(c->unique_id)))
				snprintf(why, why_len, "connector %u: unique-id not terminated", i);
			return -EINVAL;
		}
	}

	char fe[96], be[96], path[160];
	snprintf(fe, sizeof(fe), "/local/domain/%u/device/vdispl/%u", d->domid, req->devid);
	snprintf(be, sizeof(be), "/local/domain/0/backend/vdispl/%u/%u", d->domid, req->devid);
	char *existing;
	if (dmab_sim_store_read(h->store, 0, 0, be, &existing, NULL) == 0) {
		free(existing);
		snprintf(why, why_len, "device %u exists", req->devid);
		return -EEXIST;
	}

	int ret;
	for (int attempt = 0; attempt < 8; attempt++) {
		uint32_t tx;
		ret = dmab_sim_store_tx_start(h->store, 0, &tx);
		if (ret)
			break;
		/* Frontend: owned by the guest, readable by the backend. */
		ret = dmab_sim_store_mkdir(h->store, 0, tx, fe);
		if (!ret)
			ret = set_perms(h, tx, fe, d->domid, 0);
		snprintf(path, sizeof(path), "%s/backend", fe);
		if (!ret)
			ret = store_printf(h, tx, path, "%s", be);
		snprintf(path, sizeof(path), "%s/backend-id", fe);
		if (!ret)
			ret = store_printf(h, tx, path, "0");
		snprintf(path, sizeof(path), "%s/state", fe);
		if (!ret)
			ret = store_printf(h, tx, path, "%d", XenbusStateInitialising);
		/* The configuration is the backend's, read-only to the guest (libxl's ro_front). */
		snprintf(path, sizeof(path), "%s/be-alloc", fe);
		if (!ret)
			ret = store_printf(h, tx, path, "%d", req->be_alloc ? 1 : 0);
		if (!ret)
			ret = set_perms(h, tx, path, 0, d->domid);
		for (uint32_t i = 0; i < req->count && !ret; i++) {
			const struct dmab_sim_connector_msg *c = &req->connectors[i];
			snprintf(path, sizeof(path), "%s/%u/resolution", fe, i);
			ret = store_printf(h, tx, path, "%ux%u", c->width, c->height);
			if (!ret)
				ret = set_perms(h, tx, path, 0, d->domid);
			snprintf(path, sizeof(path), "%s/%u/unique-id", fe, i);
			if (!ret && c->unique_id[0])
				ret = store_printf(h, tx, path, "%s", c->unique_id);
			if (!ret && c->unique_id[0])
				ret = set_perms(h, tx, path, 0, d->domid);
		}
		/* Backend: ours, readable by the guest. */
		if (!ret)
			ret = dmab_sim_store_mkdir(h->store, 0, tx, be);
		if (!ret)
			ret = set_perms(h, tx, be, 0, d->domid);
		snprintf(path, sizeof(path), "%s/frontend", be);
		if (!ret)
			ret = store_printf(h, tx, path, "%s", fe);
		snprintf(path, sizeof(path), "%s/frontend-id", be);
		if (!ret)
			ret = store_printf(h, tx, path, "%u", d->domid);
		snprintf(path, sizeof(path), "%s/online", be);
		if (!ret)
			ret = store_printf(h, tx, path, "1");
		snprintf(path, sizeof(path), "%s/state", be);
		if (!ret)
			ret = store_printf(h, tx, path, "%d", XenbusStateInitialising);
		int end = dmab_sim_store_tx_end(h->store, 0, tx, ret == 0);
		if (ret)
			break;
		ret = end;
		if (ret != -EAGAIN)
			break;
	}
	if (ret) {
		snprintf(why, why_len, "store: %s", dmab_strerror(ret));
		return ret;
	}
	d->devices++;
	return 0;
}

/* ---- guest connections ---- */

static void guest_gone(struct host *h, struct domain *d)
{
	dmab_sim_store_release_domain(h->store, d->domid);
	while (d->nports)
		port_free(h, d, d->ports[0]);
	/* Its mappings of others' grants end with it. */
	for (size_t i = 0; i < d->nmaps; i++) {
		struct domain *granter = find_domain(h, d->maps[i].granter);
		for (uint32_t j = 0; granter && j < d->maps[i].count; j++)
			sim_grant_release(&granter->gnttab, d->maps[i].refs[j]);
		free(d->maps[i].refs);
		if (granter && granter != d)
			domain_reap(granter);
	}
	d->nmaps = 0;
	toolstack_release(h, d);
	d->conn = NULL;
	d->dying = true;
	domain_reap(d);
}

static void conn_close(struct conn *c)
{
	struct host *h = c->host;
	h->sources_freed++;
	epoll_ctl(h->base.fd, EPOLL_CTL_DEL, c->sock, NULL);
	dmab_sim_store_unwatch_conn(h->store, c);
	if (c->dom) {
		dmab_log_ratelimited(conn_rl(c, PEER_LOG_LIFE), DMAB_LOG_INFO,
			"sim: domain %u (%s) disconnected", c->dom->domid, c->dom->name);
		guest_gone(h, c->dom);
	}
	for (size_t i = 0; i < c->queue_len; i++)
		out_msg_free(&c->queue[i]);
	free(c->queue);
	close(c->sock);
	for (size_t i = 0; i < h->nconns; i++) {
		if (h->conns[i] == c) {
			h->conns[i] = h->conns[--h->nconns];
			break;
		}
	}
	free(c);
}

/* A guest broke the protocol: say why, once, and cut it off. */
__attribute__((format(printf, 2, 3)))
static int violation(struct conn *c, const char *fmt, ...)
{
	char why[160];
	va_list args;
	va_start(args, fmt);
	vsnprintf(why, sizeof(why), fmt, args);
	va_end(args);
	dmab_log_ratelimited(conn_rl(c, PEER_LOG_WARN), DMAB_LOG_WARN,
		"sim: domain %u: %s; disconnecting",
		c->dom ? c->dom->domid : 0, why);
	c->dead = true;
	return -EPROTO;
}

static void reply(struct conn *c, const struct dmab_sim_msg *msg, int32_t status,
		const void *payload, size_t len, const int *fds, unsigned int nfds)
{
	conn_send(c, msg->hdr.type, msg->hdr.seq, status, status ? NULL : payload,
		status ? 0 : len, status ? NULL : fds, status ? 0 : nfds);
}

static void reply_id(struct conn *c, const struct dmab_sim_msg *msg, int32_t status,
		uint32_t id)
{
	reply(c, msg, status, &id, sizeof(id), NULL, 0);
}

/*
 * What the toolstack calls the domain: the name asked for, unique as Xen
 * keeps names, or <program>-<domid>. Printable and terminated either way.
 */
static int domain_name(struct host *h, domid_t domid, const struct dmab_sim_hello *hello,
		char name[32])
{
	char asked[sizeof(hello->name)] = "";
	for (size_t i = 0; i < sizeof(asked) - 1 && hello->name[i]; i++)
		asked[i] = (hello->name[i] >= 0x20 && hello->name[i] < 0x7f) ? hello->name[i] : '?';
	if (!(hello->flags & DMAB_SIM_HELLO_NAMED)) {
		snprintf(name, 32, "%.25s-%u", asked, domid);
		return 0;
	}
	if (!asked[0])
		return -EINVAL;
	for (uint32_t i = 1; i <= h->limits.max_guests; i++) {
		if (h->domains[i] && !strcmp(h->domains[i]->name, asked))
			return -EEXIST;
	}
	memcpy(name, asked, sizeof(asked));
	return 0;
}

static int handle_hello(struct conn *c, const struct dmab_sim_msg *msg)
{
	struct host *h = c->host;
	struct dmab_sim_hello hello;
	if (msg->hdr.len != sizeof(hello))
		return violation(c, "HELLO of %u octets", msg->hdr.len);
	memcpy(&hello, msg->payload, sizeof(hello));
	if (hello.version != DMAB_SIM_PROTOCOL_VERSION) {
		reply(c, msg, -EPROTONOSUPPORT, NULL, 0, NULL, 0);
		return violation(c, "protocol version %u", hello.version);
	}

	/*
	 * As Xen does, from after the last id given out: an id comes back as
	 * late as possible, not while dom0 may still hold grants, state or
	 * watches for the domain that had it.
	 */
	domid_t domid = 0;
	for (uint32_t n = 0; n < h->limits.max_guests && !domid; n++) {
		uint32_t i = (h->last_domid + n) % h->limits.max_guests + 1;
		if (!h->domains[i])
			domid = (domid_t)i;
	}
	if (!domid) {
		reply(c, msg, -EAGAIN, NULL, 0, NULL, 0);
		return violation(c, "no free domain id (%u guests)", h->limits.max_guests);
	}
	char name[32];
	int ret = domain_name(h, domid, &hello, name);
	if (ret) {
		/* As xl refuses a second domain of one name: an error, not a violation. */
		reply(c, msg, ret, NULL, 0, NULL, 0);
		return 0;
	}
	struct domain *d = domain_new(h, domid);
	if (!d) {
		reply(c, msg, -ENOMEM, NULL, 0, NULL, 0);
		return -ENOMEM;
	}
	h->last_domid = domid;
	memcpy(d->name, name, sizeof(d->name));
	d->conn = c;
	c->dom = d;
	ret = toolstack_introduce(h, d);
	if (ret) {
		reply(c, msg, ret, NULL, 0, NULL, 0);
		return violation(c, "cannot introduce the domain: %s", dmab_strerror(ret));
	}
	dmab_log_ratelimited(conn_rl(c, PEER_LOG_LIFE), DMAB_LOG_INFO,
		"sim: domain %u (%s) connected", d->domid, d->name);
	struct dmab_sim_hello_reply answer = { d->domid, h->limits.max_message };
	reply(c, msg, 0, &answer, sizeof(answer), NULL, 0);
	return 0;
}

static int handle_mem_add(struct conn *c, struct dmab_sim_msg *msg)
{
	struct dmab_sim_mem_add add;
	if (msg->hdr.len != sizeof(add) || msg->nfds != 1)
		return violation(c, "MEM_ADD of %u octets with %u fds", msg->hdr.len, msg->nfds);
	memcpy(&add, msg->payload, sizeof(add));
	uint32_t id = 0;
	/* Each region is a descriptor held here: one guest must not use them all up. */
	int ret = c->dom->gnttab.nregions >= MAX_REGIONS_PER_GUEST ? -ENOSPC :
		sim_region_add(&c->dom->gnttab, msg->fds[0], add.kind, add.size, &id);
	if (ret == 0)
		msg->fds[0] = -1; /* taken */
	else
		dmab_log_ratelimited(conn_rl(c, PEER_LOG_WARN), DMAB_LOG_WARN,
			"sim: domain %u: memory refused: %s",
			c->dom->domid, dmab_strerror(ret));
	reply_id(c, msg, ret, id);
	return 0;
}

static int handle_grant(struct conn *c, const struct dmab_sim_msg *msg)
{
	struct dmab_sim_grant gr;
	if (msg->hdr.len != sizeof(gr))
		return violation(c, "GRANT of %u octets", msg->hdr.len);
	memcpy(&gr, msg->payload, sizeof(gr));
	if ((uint64_t)gr.count * sizeof(grant_ref_t) + sizeof(struct dmab_sim_hdr) >
			c->host->limits.max_message) {
		reply(c, msg, -E2BIG, NULL, 0, NULL, 0);
		return 0;
	}
	grant_ref_t *refs = malloc((size_t)gr.count * sizeof(*refs) + 1);
	if (!refs) {
		reply(c, msg, -ENOMEM, NULL, 0, NULL, 0);
		return 0;
	}
	int ret = sim_grant_add(&c->dom->gnttab, gr.region, gr.first, gr.count, gr.remote,
		gr.readonly, refs);
	reply(c, msg, ret, refs, (size_t)gr.count * sizeof(*refs), NULL, 0);
	free(refs);
	return 0;
}

static int handle_end_access(struct conn *c, const struct dmab_sim_msg *msg)
{
	struct dmab_sim_refs head;
	if (msg->hdr.len < sizeof(head))
		return violation(c, "END_ACCESS of %u octets", msg->hdr.len);
	memcpy(&head, msg->payload, sizeof(head));
	if ((uint64_t)head.count * sizeof(uint32_t) != msg->hdr.len - sizeof(head))
		return violation(c, "END_ACCESS of %u refs in %u octets", head.count, msg->hdr.len);
	grant_ref_t *refs = malloc((size_t)head.count * sizeof(*refs) + 1);
	if (!refs) {
		reply(c, msg, -ENOMEM, NULL, 0, NULL, 0);
		return 0;
	}
	memcpy(refs, msg->payload + sizeof(head), (size_t)head.count * sizeof(*refs));
	int ret = sim_grant_end(&c->dom->gnttab, head.count, refs, false);
	free(refs);
	reply(c, msg, ret, NULL, 0, NULL, 0);
	return 0;
}

/* An fd for the guest: read-only grants of a memfd go as a read-only reopen. */
static int fd_for_guest(const struct sim_region *r, bool writable)
{
	if (writable || r->kind != DMAB_SIM_MEM_MEMFD)
		return fcntl(r->fd, F_DUPFD_CLOEXEC, 0);
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", r->fd);
	return open(path, O_RDONLY | O_CLOEXEC);
}

static int handle_map(struct conn *c, const struct dmab_sim_msg *msg)
{
	struct host *h = c->host;
	struct domain *d = c->dom;
	struct dmab_sim_map head;
	if (msg->hdr.len < sizeof(head))
		return violation(c, "MAP of %u octets", msg->hdr.len);
	memcpy(&head, msg->payload, sizeof(head));
	if ((uint64_t)head.count * sizeof(uint32_t) != msg->hdr.len - sizeof(head) ||
			head.count == 0)
		return violation(c, "MAP of %u refs in %u octets", head.count, msg->hdr.len);

	struct domain *granter = find_domain(h, head.domid);
	size_t reply_len = sizeof(struct dmab_sim_map_reply) +
		(size_t)head.count * sizeof(struct dmab_sim_map_page);
	int ret = 0;
	if (!granter || granter->dying || granter == d)
		ret = -EINVAL;
	else if (d->nmaps >= MAX_MAPS_PER_GUEST)
		ret = -ENOSPC;
	else if (reply_len + sizeof(struct dmab_sim_hdr) > h->limits.max_message)
		ret = -E2BIG;
	else
		ret = dmab_array_reserve((void **)&d->maps, &d->maps_cap, d->nmaps, sizeof(*d->maps));
	if (ret) {
		reply(c, msg, ret, NULL, 0, NULL, 0);
		return 0;
	}

	grant_ref_t *refs = malloc((size_t)head.count * sizeof(*refs));
	struct dmab_sim_map_reply *r = calloc(1, reply_len);
	struct sim_region *regions[DMAB_SIM_MAX_FDS];
	int fds[DMAB_SIM_MAX_FDS];
	unsigned int nfds = 0;
	if (!refs || !r) {
		ret = -ENOMEM;
		goto out;
	}
	memcpy(refs, msg->payload + sizeof(head), (size_t)head.count * sizeof(*refs));
	for (uint32_t i = 0; i < head.count; i++) {
		struct sim_grant *g;
		ret = sim_grant_check(&granter->gnttab, refs[i], d->domid, head.writable, &g);
		if (ret)
			goto out;
		unsigned int k = 0;
		while (k < nfds && regions[k] != g->region)
			k++;
		if (k == nfds) {
			if (nfds == DMAB_SIM_MAX_FDS) {
				ret = -E2BIG;
				goto out;
			}
			fds[nfds] = fd_for_guest(g->region, head.writable);
			if (fds[nfds] < 0) {
				ret = -errno;
				goto out;
			}
			regions[nfds++] = g->region;
		}
		r->pages[i] = (struct dmab_sim_map_page){ k, g->page };
	}
	for (uint32_t i = 0; i < head.count; i++)
		sim_grant_hold(&granter->gnttab, refs[i]);
	r->map = d->next_map++;
	r->nfds = nfds;
	d->maps[d->nmaps++] = (struct guest_map){ r->map, granter->domid, head.count, refs };
	refs = NULL;
out:
	reply(c, msg, ret, r, reply_len, fds, nfds);
	for (unsigned int i = 0; i < nfds; i++)
		close(fds[i]);
	free(refs);
	free(r);
	return 0;
}

static int handle_unmap(struct conn *c, const struct dmab_sim_msg *msg)
{
	struct dmab_sim_id_msg m;
	if (msg->hdr.len != sizeof(m))
		return violation(c, "UNMAP of %u octets", msg->hdr.len);
	memcpy(&m, msg->payload, sizeof(m));
	struct domain *d = c->dom;
	for (size_t i = 0; i < d->nmaps; i++) {
		if (d->maps[i].id != m.id)
			continue;
		struct domain *granter = find_domain(c->host, d->maps[i].granter);
		for (uint32_t j = 0; granter && j < d->maps[i].count; j++)
			sim_grant_release(&granter->gnttab, d->maps[i].refs[j]);
		free(d->maps[i].refs);
		d->maps[i] = d->maps[--d->nmaps];
		domain_reap(granter);
		reply(c, msg, 0, NULL, 0, NULL, 0);
		return 0;
	}
	reply(c, msg, -EINVAL, NULL, 0, NULL, 0);
	return 0;
}

static int handle_evtchn_alloc(struct conn *c, const struct dmab_sim_msg *msg)
{
	struct dmab_sim_id_msg m;
	if (msg->hdr.len != sizeof(m))
		return violation(c, "EVTCHN_ALLOC of %u octets", msg->hdr.len);
	memcpy(&m, msg->payload, sizeof(m));
	struct domain *d = c->dom;
	struct port *p;
	int ret = m.id >= DOMID_FIRST_RESERVED ? -EINVAL : port_new(d, (domid_t)m.id, &p);
	if (ret) {
		reply(c, msg, ret, NULL, 0, NULL, 0);
		return 0;
	}
	p->to_owner_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	p->from_owner_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (p->to_owner_fd < 0 || p->from_owner_fd < 0) {
		ret = -errno;
		port_free(c->host, d, p);
		reply(c, msg, ret, NULL, 0, NULL, 0);
		return 0;
	}
	int fds[2] = { p->to_owner_fd, p->from_owner_fd };
	uint32_t number = p->number;
	reply(c, msg, 0, &number, sizeof(number), fds, 2);
	return 0;
}

static int handle_evtchn_close(struct conn *c, const struct dmab_sim_msg *msg)
{
	struct dmab_sim_id_msg m;
	if (msg->hdr.len != sizeof(m))
		return violation(c, "EVTCHN_CLOSE of %u octets", msg->hdr.len);
	memcpy(&m, msg->payload, sizeof(m));
	struct port *p = find_port(c->dom, m.id);
	if (p)
		port_free(c->host, c->dom, p);
	reply(c, msg, p ? 0 : -EINVAL, NULL, 0, NULL, 0);
	return 0;
}

static int handle_store(struct conn *c, const struct dmab_sim_msg *msg)
{
	struct host *h = c->host;
	domid_t domid = c->dom->domid;
	uint32_t tx;
	if (msg->hdr.len < sizeof(tx))
		return violation(c, "store request of %u octets", msg->hdr.len);
	memcpy(&tx, msg->payload, sizeof(tx));
	const uint8_t *strings = msg->payload + sizeof(tx);
	size_t slen = msg->hdr.len - sizeof(tx);
	const char *path = dmab_sim_string(strings, slen, 0);
	if (!path)
		return violation(c, "store request without a path");

	int ret;
	switch (msg->hdr.type) {
	case DMAB_SIM_STORE_READ: {
		char *value;
		size_t len;
		ret = dmab_sim_store_read(h->store, domid, tx, path, &value, &len);
		if (ret == 0 && memchr(value, '\0', len)) {
			/* Strings only on this wire: a value with a NUL reads up to it. */
			len = strlen(value);
		}
		reply(c, msg, ret, ret ? NULL : value, ret ? 0 : len + 1, NULL, 0);
		if (ret == 0)
			free(value);
		return 0;
	}
	case DMAB_SIM_STORE_WRITE: {
		const char *value = dmab_sim_string(strings, slen, 1);
		if (!value)
			return violation(c, "store write without a value");
		ret = dmab_sim_store_write(h->store, domid, tx, path, value, strlen(value));
		break;
	}
	case DMAB_SIM_STORE_REMOVE:
		ret = dmab_sim_store_rm(h->store, domid, tx, path);
		break;
	case DMAB_SIM_STORE_DIRECTORY: {
		char **names;
		unsigned int count;
		ret = dmab_sim_store_directory(h->store, domid, tx, path, &names, &count);
		if (ret) {
			reply(c, msg, ret, NULL, 0, NULL, 0);
			return 0;
		}
		size_t len = sizeof(uint32_t);
		for (unsigned int i = 0; i < count; i++)
			len += strlen(names[i]) + 1;
		uint8_t *out = len + sizeof(struct dmab_sim_hdr) <= h->limits.max_message ?
			malloc(len) : NULL;
		if (!out) {
			free(names);
			reply(c, msg, -E2BIG, NULL, 0, NULL, 0);
			return 0;
		}
		uint32_t n = count;
		memcpy(out, &n, sizeof(n));
		size_t pos = sizeof(n);
		for (unsigned int i = 0; i < count; i++) {
			size_t l = strlen(names[i]) + 1;
			memcpy(out + pos, names[i], l);
			pos += l;
		}
		free(names);
		reply(c, msg, 0, out, len, NULL, 0);
		free(out);
		return 0;
	}
	default:
		return violation(c, "message type %u", msg->hdr.type);
	}
	reply(c, msg, ret, NULL, 0, NULL, 0);
	return 0;
}

static int handle_watch(struct conn *c, const struct dmab_sim_msg *msg)
{
	const char *path = dmab_sim_string(msg->payload, msg->hdr.len, 0);
	const char *token = dmab_sim_string(msg->payload, msg->hdr.len, 1);
	if (!path || !token)
		return violation(c, "watch request without path and token");
	int ret = msg->hdr.type == DMAB_SIM_STORE_WATCH ?
		dmab_sim_store_watch(c->host->store, c->dom->domid, c, path, token) :
		dmab_sim_store_unwatch(c->host->store, c->dom->domid, c, path, token);
	reply(c, msg, ret, NULL, 0, NULL, 0);
	return 0;
}

static int handle_message(struct conn *c, struct dmab_sim_msg *msg)
{
	struct host *h = c->host;
	if (!c->dom && msg->hdr.type != DMAB_SIM_HELLO)
		return violation(c, "message type %u before HELLO", msg->hdr.type);
	/* Descriptors come with MEM_ADD only. */
	if (msg->nfds && msg->hdr.type != DMAB_SIM_MEM_ADD)
		return violation(c, "%u descriptors with message type %u", msg->nfds, msg->hdr.type);

	switch (msg->hdr.type) {
	case DMAB_SIM_HELLO:
		if (c->dom)
			return violation(c, "second HELLO");
		return handle_hello(c, msg);
	case DMAB_SIM_MEM_ADD:
		return handle_mem_add(c, msg);
	case DMAB_SIM_MEM_REMOVE: {
		struct dmab_sim_region_msg m;
		if (msg->hdr.len != sizeof(m))
			return violation(c, "MEM_REMOVE of %u octets", msg->hdr.len);
		memcpy(&m, msg->payload, sizeof(m));
		reply(c, msg, sim_region_remove(&c->dom->gnttab, m.region), NULL, 0, NULL, 0);
		return 0;
	}
	case DMAB_SIM_GRANT:
		return handle_grant(c, msg);
	case DMAB_SIM_END_ACCESS:
		return handle_end_access(c, msg);
	case DMAB_SIM_MAP:
		return handle_map(c, msg);
	case DMAB_SIM_UNMAP:
		return handle_unmap(c, msg);
	case DMAB_SIM_EVTCHN_ALLOC:
		return handle_evtchn_alloc(c, msg);
	case DMAB_SIM_EVTCHN_CLOSE:
		return handle_evtchn_close(c, msg);
	case DMAB_SIM_STORE_READ:
	case DMAB_SIM_STORE_WRITE:
	case DMAB_SIM_STORE_REMOVE:
	case DMAB_SIM_STORE_DIRECTORY:
		return handle_store(c, msg);
	case DMAB_SIM_STORE_WATCH:
	case DMAB_SIM_STORE_UNWATCH:
		return handle_watch(c, msg);
	case DMAB_SIM_TX_START: {
		uint32_t tx = 0;
		int ret = dmab_sim_store_tx_start(h->store, c->dom->domid, &tx);
		reply_id(c, msg, ret, tx);
		return 0;
	}
	case DMAB_SIM_TX_END: {
		struct dmab_sim_tx_end m;
		if (msg->hdr.len != sizeof(m))
			return violation(c, "TX_END of %u octets", msg->hdr.len);
		memcpy(&m, msg->payload, sizeof(m));
		reply(c, msg, dmab_sim_store_tx_end(h->store, c->dom->domid, m.tx, !m.abort),
			NULL, 0, NULL, 0);
		return 0;
	}
	case DMAB_SIM_DOMAIN_ALIVE: {
		struct dmab_sim_id_msg m;
		if (msg->hdr.len != sizeof(m))
			return violation(c, "DOMAIN_ALIVE of %u octets", msg->hdr.len);
		memcpy(&m, msg->payload, sizeof(m));
		struct domain *d = find_domain(h, m.id);
		reply(c, msg, d && !d->dying ? 0 : -ENOENT, NULL, 0, NULL, 0);
		return 0;
	}
	case DMAB_SIM_ADD_VDISPL: {
		struct dmab_sim_add_vdispl head;
		if (msg->hdr.len < sizeof(head))
			return violation(c, "ADD_VDISPL of %u octets", msg->hdr.len);
		memcpy(&head, msg->payload, sizeof(head));
		if ((uint64_t)head.count * sizeof(struct dmab_sim_connector_msg) !=
				msg->hdr.len - sizeof(head))
			return violation(c, "ADD_VDISPL of %u connectors in %u octets",
				head.count, msg->hdr.len);
		struct dmab_sim_add_vdispl *req = malloc(msg->hdr.len);
		if (!req) {
			reply(c, msg, -ENOMEM, NULL, 0, NULL, 0);
			return 0;
		}
		memcpy(req, msg->payload, msg->hdr.len);
		char why[128] = "";
		int ret = toolstack_add_vdispl(h, c->dom, req, why, sizeof(why));
		free(req);
		if (ret)
			dmab_log_ratelimited(conn_rl(c, PEER_LOG_WARN), DMAB_LOG_WARN,
				"sim: domain %u: vdispl device refused: %s", c->dom->domid, why);
		else
			dmab_log_ratelimited(conn_rl(c, PEER_LOG_LIFE), DMAB_LOG_INFO,
				"sim: domain %u: vdispl device %u created", c->dom->domid, head.devid);
		reply(c, msg, ret, NULL, 0, NULL, 0);
		return 0;
	}
	default:
		return violation(c, "unknown message type %u", msg->hdr.type);
	}
}

static void handle_conn(struct conn *c, uint32_t events)
{
	struct host *h = c->host;
	if (events & EPOLLOUT) {
		int ret = conn_flush(c);
		if (ret)
			c->dead = true;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		for (int i = 0; i < MESSAGES_PER_WAKEUP && !c->dead; i++) {
			struct dmab_sim_msg msg;
			int ret = dmab_sim_recv(c->sock, h->limits.max_message, &msg);
			if (ret == -EAGAIN)
				break;
			if (ret == 0) {
				c->dead = true;
				break;
			}
			if (ret < 0) {
				violation(c, "unreadable message: %s", dmab_strerror(ret));
				break;
			}
			handle_message(c, &msg);
			dmab_sim_msg_finish(&msg);
		}
	}
}

static void handle_listen(struct host *h)
{
	int fd = accept4(h->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0 && (errno == EMFILE || errno == ENFILE) && h->spare_fd >= 0) {
		/*
		 * Out of descriptors: the connection would stay in the backlog and
		 * the socket readable forever, a busy loop. Use the spare to take
		 * it and turn it away.
		 */
		int err = -errno;
		close(h->spare_fd);
		fd = accept4(h->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0)
			close(fd);
		h->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		dmab_log_ratelimited(&h->rl, DMAB_LOG_WARN, "sim: refusing a guest: %s",
			dmab_strerror(err));
		return;
	}
	if (fd < 0) {
		if (errno != EAGAIN && errno != EINTR)
			dmab_log_ratelimited(&h->rl, DMAB_LOG_WARN, "sim: accept: %s",
				dmab_strerror(-errno));
		return;
	}
	struct conn *c = calloc(1, sizeof(*c));
	if (!c || h->nconns >= h->limits.max_guests ||
			dmab_array_reserve((void **)&h->conns, &h->conns_cap, h->nconns, sizeof(*h->conns))) {
		dmab_log_ratelimited(&h->rl, DMAB_LOG_WARN, "sim: refusing a guest: %zu connected",
			h->nconns);
		free(c);
		close(fd);
		return;
	}
	c->src.tag = TAG_CONN;
	c->host = h;
	c->sock = fd;
	struct ucred cred;
	socklen_t cred_len = sizeof(cred);
	c->uid = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cred_len) == 0 ?
		(uint32_t)cred.uid : UINT32_MAX;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &c->src };
	if (epoll_ctl(h->base.fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		free(c);
		close(fd);
		return;
	}
	h->conns[h->nconns++] = c;
}

/* ---- the hv operations of domain 0 ---- */

/*
 * Close connections found dead: by their own messages, or by a send that
 * overflowed while serving someone else.
 */
static void reap_dead(struct host *h)
{
	for (size_t i = 0; i < h->nconns; ) {
		if (h->conns[i]->dead)
			conn_close(h->conns[i]);
		else
			i++;
	}
}

static int dispatch_one(struct host *h, struct source *src, uint32_t events)
{
	struct dmab_hv *hv = &h->base;
	switch (src->tag) {
	case TAG_LISTEN:
		handle_listen(h);
		break;
	case TAG_CONN:
		handle_conn((struct conn *)src, events);
		break;
	case TAG_PORT: {
		struct port *p = (struct port *)src;
		uint64_t count;
		if (read(p->from_owner_fd, &count, sizeof(count)) == sizeof(count) && p->peer)
			dmab_hv_deliver_event(hv, p->peer->number);
		break;
	}
	case TAG_PENDING: {
		uint64_t count;
		if (read(h->pending_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
			return -errno;
		/* The backend's own events first: it hears of its own writes at once. */
		dmab_hv_deliver_queued(hv);
		if (h->toolstack_due) {
			h->toolstack_due = false;
			toolstack_poll(h);
		}
		break;
	}
	case TAG_TOOLSTACK: {
		uint64_t count;
		if (read(h->toolstack_timer, &count, sizeof(count)) < 0 && errno != EAGAIN)
			return -errno;
		toolstack_poll(h);
		break;
	}
	}
	return 0;
}

static int host_dispatch(struct dmab_hv *hv)
{
	struct host *h = host_of(hv);
	/*
	 * Events come in batches, one system call for all that are ready; a
	 * callback may free what a later one of the batch names: then the rest
	 * is dropped and fetched again (every source is level-triggered, so an
	 * event dropped unhandled is reported again).
	 */
	struct epoll_event evs[EVENTS_PER_BATCH];
	for (int handled = 0; handled < EVENTS_PER_DISPATCH; ) {
		int n = epoll_wait(hv->fd, evs, EVENTS_PER_BATCH, 0);
		if (n < 0)
			return errno == EINTR ? 0 : -errno;
		uint64_t freed = h->sources_freed;
		int i;
		for (i = 0; i < n && h->sources_freed == freed; i++, handled++) {
			int ret = dispatch_one(h, evs[i].data.ptr, evs[i].events);
			if (ret)
				return ret;
			reap_dead(h);
		}
		/* Fewer than a batch and all handled: nothing else was ready. */
		if (n < EVENTS_PER_BATCH && i == n)
			break;
	}
	return 0;
}

static int host_store_read(struct dmab_hv *hv, dmab_hv_tx_t tx, const char *path,
		char **value)
{
	return dmab_sim_store_read(host_of(hv)->store, 0, tx, path, value, NULL);
}

/*
 * The toolstack makes a device's backend directory, never the backend: a
 * backend write that makes it is one into a directory the toolstack has
 * removed, which leaves a stale node behind (on Xen too). Say so.
 */
static void check_stale_write(struct host *h, dmab_hv_tx_t tx, const char *path)
{
	domid_t fe;
	uint32_t devid;
	const char *rest;
	if (dmab_xs_parse_backend_path(VDISPL_ROOT, path, &fe, &devid, &rest) || !rest[0])
		return;
	char dir[128], *value;
	snprintf(dir, sizeof(dir), "%.*s", (int)(rest - path - 1), path);
	if (dmab_sim_store_read(h->store, 0, tx, dir, &value, NULL) == 0) {
		free(value);
		return;
	}
	dmab_log_ratelimited(&h->rl, DMAB_LOG_WARN, "sim: domain 0 wrote %s after the "
		"toolstack removed the device: a stale node", path);
}

static int host_store_write(struct dmab_hv *hv, dmab_hv_tx_t tx, const char *path,
		const char *value)
{
	check_stale_write(host_of(hv), tx, path);
	return dmab_sim_store_write(host_of(hv)->store, 0, tx, path, value, strlen(value));
}

static int host_store_remove(struct dmab_hv *hv, dmab_hv_tx_t tx, const char *path)
{
	int ret = dmab_sim_store_rm(host_of(hv)->store, 0, tx, path);
	return ret == -ENOENT ? 0 : ret;
}

static int host_store_directory(struct dmab_hv *hv, dmab_hv_tx_t tx,
		const char *path, char ***names, unsigned int *count)
{
	return dmab_sim_store_directory(host_of(hv)->store, 0, tx, path, names, count);
}

static int host_tx_start(struct dmab_hv *hv, dmab_hv_tx_t *tx)
{
	return dmab_sim_store_tx_start(host_of(hv)->store, 0, tx);
}

static int host_tx_end(struct dmab_hv *hv, dmab_hv_tx_t tx, bool abort)
{
	return dmab_sim_store_tx_end(host_of(hv)->store, 0, tx, !abort);
}

static int host_watch(struct dmab_hv *hv, const char *path, const char *token)
{
	return dmab_sim_store_watch(host_of(hv)->store, 0, NULL, path, token);
}

static int host_unwatch(struct dmab_hv *hv, const char *path, const char *token)
{
	return dmab_sim_store_unwatch(host_of(hv)->store, 0, NULL, path, token);
}

static bool host_domain_alive(struct dmab_hv *hv, domid_t domid)
{
	struct domain *d = find_domain(host_of(hv), domid);
	return d && !d->dying;
}

static int host_evtchn_bind(struct dmab_hv *hv, domid_t remote,
		evtchn_port_t remote_port, evtchn_port_t *local)
{
	struct host *h = host_of(hv);
	struct domain *d = find_domain(h, remote);
	if (!d || d->dying || remote == 0)
		return -ESRCH;
	struct port *theirs = find_port(d, remote_port);
	/* Xen: the port must be unbound and offered to us. */
	if (!theirs || theirs->peer || theirs->remote != 0)
		return -EINVAL;
	struct port *ours;
	int ret = port_new(h->domains[0], remote, &ours);
	if (ret)
		return ret;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &theirs->src };
	if (epoll_ctl(hv->fd, EPOLL_CTL_ADD, theirs->from_owner_fd, &ev) < 0) {
		ret = -errno;
		port_free(h, h->domains[0], ours);
		return ret;
	}
	ours->peer = theirs;
	theirs->peer = ours;
	*local = ours->number;
	/*
	 * Xen sets the new local port pending at once (a notification sent
	 * to the unbound port is not lost): the binder hears one event.
	 */
	uint64_t one = 1;
	if (write(theirs->from_owner_fd, &one, sizeof(one)) < 0)
		dmab_log_errno(DMAB_LOG_WARN, -errno, "sim: the event of a new binding");
	return 0;
}

static int host_evtchn_alloc(struct dmab_hv *hv, domid_t remote, evtchn_port_t *local)
{
	/* Simulated guests are frontends: nobody would bind to it. */
	return -EOPNOTSUPP;
}

static int host_evtchn_notify(struct dmab_hv *hv, evtchn_port_t local)
{
	struct port *p = find_port(host_of(hv)->domains[0], local);
	if (!p)
		return -EINVAL;
	if (!p->peer)
		return 0; /* the other end closed: Xen drops it silently */
	uint64_t one = 1;
	return write(p->peer->to_owner_fd, &one, sizeof(one)) < 0 ? -errno : 0;
}

static void host_evtchn_close(struct dmab_hv *hv, evtchn_port_t local)
{
	struct host *h = host_of(hv);
	struct port *p = find_port(h->domains[0], local);
	if (p)
		port_free(h, h->domains[0], p);
}

/* Map each run of consecutive pages of one region with one mmap. */
static int map_pages(struct sim_gnttab *t, uint8_t *base, uint32_t count,
		const grant_ref_t *refs, int prot)
{
	for (uint32_t i = 0; i < count; ) {
		const struct sim_grant *g = &t->entries[refs[i]];
		uint32_t run = 1;
		while (i + run < count && t->entries[refs[i + run]].region == g->region &&
				t->entries[refs[i + run]].page == g->page + run)
			run++;
		if (mmap(base + (size_t)i * DMAB_XEN_PAGE_SIZE, (size_t)run * DMAB_XEN_PAGE_SIZE,
				prot, MAP_SHARED | MAP_FIXED, g->region->fd,
				(off_t)g->page * DMAB_XEN_PAGE_SIZE) == MAP_FAILED)
			return -errno;
		i += run;
	}
	return 0;
}

static int check_refs(struct domain *d, uint32_t count, const grant_ref_t *refs,
		bool writable)
{
	/* A dead domain is kept for the mappings it had; no new ones, as Xen. */
	if (d->dying)
		return -EINVAL;
	for (uint32_t i = 0; i < count; i++) {
		struct sim_grant *g;
		int ret = sim_grant_check(&d->gnttab, refs[i], 0, writable, &g);
		if (ret)
			return ret;
	}
	return 0;
}

static int host_grant_map(struct dmab_hv *hv, domid_t domid, uint32_t count,
		const grant_ref_t *refs, bool writable, void **addr)
{
	struct host *h = host_of(hv);
	struct domain *d = find_domain(h, domid);
	if (!d || domid == 0)
		return -EINVAL;
	int ret = check_refs(d, count, refs, writable);
	if (ret)
		return ret;
	ret = dmab_array_reserve((void **)&h->maps, &h->maps_cap, h->nmaps, sizeof(*h->maps));
	if (ret)
		return ret;
	grant_ref_t *kept = malloc((size_t)count * sizeof(*kept));
	if (!kept)
		return -ENOMEM;
	memcpy(kept, refs, (size_t)count * sizeof(*kept));

	size_t size = (size_t)count * DMAB_XEN_PAGE_SIZE;
	uint8_t *base = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED) {
		free(kept);
		return -ENOMEM;
	}
	ret = map_pages(&d->gnttab, base, count, kept, PROT_READ | (writable ? PROT_WRITE : 0));
	if (ret) {
		munmap(base, size);
		free(kept);
		return ret;
	}
	for (uint32_t i = 0; i < count; i++)
		sim_grant_hold(&d->gnttab, kept[i]);
	h->maps[h->nmaps++] = (struct host_map){ base, count, domid, kept };
	*addr = base;
	return 0;
}

static int host_grant_unmap(struct dmab_hv *hv, void *addr, uint32_t count)
{
	struct host *h = host_of(hv);
	for (size_t i = 0; i < h->nmaps; i++) {
		struct host_map *m = &h->maps[i];
		if (m->addr != addr)
			continue;
		if (m->count != count)
			return -EINVAL;
		munmap(addr, (size_t)count * DMAB_XEN_PAGE_SIZE);
		struct domain *d = find_domain(h, m->domid);
		for (uint32_t j = 0; d && j < count; j++)
			sim_grant_release(&d->gnttab, m->refs[j]);
		free(m->refs);
		*m = h->maps[--h->nmaps];
		domain_reap(d);
		return 0;
	}
	return -EINVAL;
}

static int host_share_alloc(struct dmab_hv *hv, domid_t remote, uint32_t count,
		uint32_t flags, grant_ref_t *refs, void **addr)
{
	/* dom0 shares through imp_to_refs: sharing plain pages is a frontend's job. */
	return -EOPNOTSUPP;
}

static int host_share_free(struct dmab_hv *hv, void *addr, uint32_t count)
{
	return -EOPNOTSUPP;
}

/* The guest's refs are exactly all pages of one dma-buf it registered. */
static struct sim_region *whole_dmabuf(struct sim_gnttab *t, uint32_t count,
		const grant_ref_t *refs)
{
	struct sim_region *r = t->entries[refs[0]].region;
	if (r->kind != DMAB_SIM_MEM_DMABUF || r->pages != count)
		return NULL;
	for (uint32_t i = 0; i < count; i++) {
		if (t->entries[refs[i]].region != r || t->entries[refs[i]].page != i)
			return NULL;
	}
	return r;
}

static int udmabuf_from(struct host *h, struct sim_gnttab *t, uint32_t count,
		const grant_ref_t *refs)
{
	size_t max_items = count;
	struct udmabuf_create_list *list = calloc(1, sizeof(*list) +
		max_items * sizeof(struct udmabuf_create_item));
	if (!list)
		return -ENOMEM;
	list->flags = UDMABUF_FLAGS_CLOEXEC;
	for (uint32_t i = 0; i < count; ) {
		const struct sim_grant *g = &t->entries[refs[i]];
		if (g->region->kind != DMAB_SIM_MEM_MEMFD) {
			free(list);
			return -EOPNOTSUPP;
		}
		uint32_t run = 1;
		while (i + run < count && t->entries[refs[i + run]].region == g->region &&
				t->entries[refs[i + run]].page == g->page + run)
			run++;
		list->list[list->count++] = (struct udmabuf_create_item){
			.memfd = (uint32_t)g->region->fd,
			.offset = (uint64_t)g->page * DMAB_XEN_PAGE_SIZE,
			.size = (uint64_t)run * DMAB_XEN_PAGE_SIZE,
		};
		i += run;
	}
	int fd = ioctl(h->udmabuf_fd, UDMABUF_CREATE_LIST, list);
	int err = fd < 0 ? -errno : fd;
	free(list);
	return err;
}

static int host_exp_from_refs(struct dmab_hv *hv, domid_t domid, uint32_t count,
		const grant_ref_t *refs, int *out)
{
	struct host *h = host_of(hv);
	struct domain *d = find_domain(h, domid);
	if (!d || domid == 0)
		return -EINVAL;
	/* gntdev maps what it exports writable: so must the grants be. */
	int ret = check_refs(d, count, refs, true);
	if (ret)
		return ret;
	ret = dmab_array_reserve((void **)&h->exports, &h->exports_cap, h->nexports, sizeof(*h->exports));
	if (ret)
		return ret;

	int fd;
	struct sim_region *r = whole_dmabuf(&d->gnttab, count, refs);
	if (r) {
		fd = fcntl(r->fd, F_DUPFD_CLOEXEC, 0);
		if (fd < 0)
			fd = -errno;
	} else if (h->udmabuf_fd >= 0)
		fd = udmabuf_from(h, &d->gnttab, count, refs);
	else
		fd = -EOPNOTSUPP;
	if (fd < 0)
		return fd;

	grant_ref_t *kept = malloc((size_t)count * sizeof(*kept));
	if (!kept) {
		close(fd);
		return -ENOMEM;
	}
	memcpy(kept, refs, (size_t)count * sizeof(*kept));
	for (uint32_t i = 0; i < count; i++)
		sim_grant_hold(&d->gnttab, kept[i]);
	h->exports[h->nexports++] = (struct host_export){ fd, domid, count, kept };
	*out = fd;
	return 0;
}

static int host_exp_wait_released(struct dmab_hv *hv, int fd, uint32_t timeout_ms)
{
	struct host *h = host_of(hv);
	/*
	 * The kernel's last reference to the dma-buf cannot be observed from
	 * user space; the caller has closed its fd and removed it from the
	 * display first, so the grants are released here. Newest first, as
	 * gntdev searches.
	 */
	for (size_t i = h->nexports; i-- > 0; ) {
		struct host_export *e = &h->exports[i];
		if (e->fd != fd)
			continue;
		struct domain *d = find_domain(h, e->domid);
		for (uint32_t j = 0; d && j < e->count; j++)
			sim_grant_release(&d->gnttab, e->refs[j]);
		free(e->refs);
		memmove(e, e + 1, (h->nexports - i - 1) * sizeof(*e));
		h->nexports--;
		domain_reap(d);
		return 0;
	}
	return -ENOENT;
}

static int host_imp_to_refs(struct dmab_hv *hv, domid_t domid, int fd,
		uint32_t count, grant_ref_t *refs)
{
	struct host *h = host_of(hv);
	struct domain *d = find_domain(h, domid);
	struct domain *self = h->domains[0];
	if (!d || d->dying || domid == 0)
		return -EINVAL;
	int ret = dmab_array_reserve((void **)&h->imports, &h->imports_cap, h->nimports, sizeof(*h->imports));
	if (ret)
		return ret;
	int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (copy < 0)
		return -errno;
	/*
	 * A memfd or a dma-buf; gntdev wants its exact page count. The guest
	 * gets this very memfd: sealed against new seals too, or it could seal
	 * it against our own writes.
	 */
	int seals = fcntl(copy, F_GET_SEALS);
	enum dmab_sim_mem_kind kind = seals >= 0 ? DMAB_SIM_MEM_MEMFD : DMAB_SIM_MEM_DMABUF;
	if (seals >= 0 && !(seals & F_SEAL_SEAL)) {
		close(copy);
		return -EINVAL;
	}
	off_t size = lseek(copy, 0, SEEK_END);
	if (size < 0 || (uint64_t)size != (uint64_t)count * DMAB_XEN_PAGE_SIZE) {
		close(copy);
		return -EINVAL;
	}
	uint32_t region;
	ret = sim_region_add(&self->gnttab, copy, kind, (uint64_t)size, &region);
	if (ret) {
		close(copy);
		return ret;
	}
	grant_ref_t *kept = malloc((size_t)count * sizeof(*kept));
	if (!kept) {
		sim_region_remove(&self->gnttab, region);
		return -ENOMEM;
	}
	ret = sim_grant_add(&self->gnttab, region, 0, count, domid, false, kept);
	if (ret) {
		free(kept);
		sim_region_remove(&self->gnttab, region);
		return ret;
	}
	memcpy(refs, kept, (size_t)count * sizeof(*kept));
	h->imports[h->nimports++] = (struct host_import){ fd, region, count, kept };
	return 0;
}

static int host_imp_release(struct dmab_hv *hv, int fd)
{
	struct host *h = host_of(hv);
	struct domain *self = h->domains[0];
	for (size_t i = h->nimports; i-- > 0; ) {
		struct host_import *im = &h->imports[i];
		if (im->fd != fd)
			continue;
		/* As gntdev: refs a guest still maps end when it unmaps. */
		sim_grant_end(&self->gnttab, im->count, im->refs, true);
		sim_region_remove(&self->gnttab, im->region);
		free(im->refs);
		memmove(im, im + 1, (h->nimports - i - 1) * sizeof(*im));
		h->nimports--;
		return 0;
	}
	return -ENOENT;
}

static void host_destroy(struct dmab_hv *hv)
{
	struct host *h = host_of(hv);
	dmab_hv_finish(hv);
	while (h->nconns)
		conn_close(h->conns[0]);
	while (h->nmaps)
		host_grant_unmap(hv, h->maps[0].addr, h->maps[0].count);
	while (h->nexports)
		host_exp_wait_released(hv, h->exports[0].fd, 0);
	while (h->nimports)
		host_imp_release(hv, h->imports[0].fd);
	for (uint32_t i = 0; i < dom_limit(h); i++) {
		if (h->domains[i])
			domain_free(h->domains[i]);
	}
	dmab_sim_store_destroy(h->store);
	dmab_ratelimit_table_destroy(h->peer_logs);
	free(h->maps);
	free(h->exports);
	free(h->imports);
	free(h->conns);
	free(h->domains);
	if (h->listen_fd >= 0) {
		close(h->listen_fd);
		unlink(h->socket_path);
	}
	if (h->udmabuf_fd >= 0)
		close(h->udmabuf_fd);
	if (h->spare_fd >= 0)
		close(h->spare_fd);
	close(h->pending_fd);
	if (h->toolstack_timer >= 0)
		close(h->toolstack_timer);
	close(hv->fd);
	free(h->socket_path);
	free(h);
}

static int listen_on(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	strcpy(addr.sun_path, path);

	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/*
	 * Whoever connects becomes a guest: the socket is ours alone (0600)
	 * from the moment bind() makes it. A socket file takes its mode from
	 * the umask (fchmod() does not reach it), and this is single-threaded.
	 */
	mode_t umask_was = umask(0177);
	int ret = bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ? -errno : 0;
	if (ret == -EADDRINUSE) {
		/* Replace a socket file nobody answers on any more. */
		int probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		bool alive = probe >= 0 &&
			connect(probe, (struct sockaddr *)&addr, sizeof(addr)) == 0;
		if (probe >= 0)
			close(probe);
		if (!alive) {
			unlink(path);
			ret = bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ? -errno : 0;
		}
	}
	umask(umask_was);
	if (ret) {
		close(fd);
		return ret;
	}
	if (listen(fd, 64) < 0) {
		int err = -errno;
		close(fd);
		unlink(path);
		return err;
	}
	return fd;
}

int dmab_hv_sim_host(const char *socket_path, const struct dmab_sim_limits *limits,
		struct dmab_hv **out)
{
	struct host *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	dmab_hv_init(&h->base, &host_impl, DMAB_HV_BACKEND, 0);
	h->listen_fd = h->pending_fd = h->udmabuf_fd = h->toolstack_timer = -1;
	h->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	h->rl = (struct dmab_ratelimit){ .interval_ms = 5000, .burst = 5 };

	struct dmab_sim_limits l = limits ? *limits : (struct dmab_sim_limits){ 0 };
	h->limits = (struct dmab_sim_limits){
		.max_guests = l.max_guests ? l.max_guests : 64,
		.max_grants = l.max_grants ? l.max_grants : 65536,
		.max_memory = l.max_memory ? l.max_memory : (1ull << 30),
		.max_evtchns = l.max_evtchns ? l.max_evtchns : 64,
		.max_watches = l.max_watches ? l.max_watches : 128,
		.max_store_nodes = l.max_store_nodes ? l.max_store_nodes : 1000,
		.max_message = l.max_message ? l.max_message : DMAB_SIM_DEFAULT_MAX_MESSAGE,
		.release_timeout_ms = l.release_timeout_ms ? l.release_timeout_ms :
			DEFAULT_RELEASE_TIMEOUT_MS,
	};
	if (h->limits.max_guests >= DOMID_FIRST_RESERVED)
		h->limits.max_guests = DOMID_FIRST_RESERVED - 1;
	if (h->limits.max_message < 4096)
		h->limits.max_message = 4096;

	int ret = -ENOMEM;
	h->socket_path = strdup(socket_path);
	h->domains = calloc(dom_limit(h), sizeof(*h->domains));
	struct dmab_sim_store_limits sl = {
		.max_nodes = h->limits.max_store_nodes,
		.max_watches = h->limits.max_watches,
	};
	h->store = dmab_sim_store_create(&sl, handle_store_fire, h);
	h->peer_logs = peer_logs_create();
	if (!h->socket_path || !h->domains || !h->store || !h->peer_logs || !domain_new(h, 0))
		goto err;
	snprintf(h->domains[0]->name, sizeof(h->domains[0]->name), "Domain-0");

	h->base.fd = epoll_create1(EPOLL_CLOEXEC);
	h->pending_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (h->base.fd < 0 || h->pending_fd < 0) {
		ret = -errno;
		goto err;
	}
	h->pending_src.tag = TAG_PENDING;
	struct epoll_event pev = { .events = EPOLLIN, .data.ptr = &h->pending_src };
	if (epoll_ctl(h->base.fd, EPOLL_CTL_ADD, h->pending_fd, &pev) < 0) {
		ret = -errno;
		goto err;
	}
	h->toolstack_timer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	h->toolstack_src.tag = TAG_TOOLSTACK;
	struct epoll_event tev = { .events = EPOLLIN, .data.ptr = &h->toolstack_src };
	if (h->toolstack_timer < 0 ||
			epoll_ctl(h->base.fd, EPOLL_CTL_ADD, h->toolstack_timer, &tev) < 0) {
		ret = -errno;
		goto err;
	}

	/* What xen-init-dom0 and the toolstack set up for domain 0. */
	ret = dmab_sim_store_write(h->store, 0, 0, "/local/domain/0/domid", "0", 1);
	if (!ret)
		ret = dmab_sim_store_write(h->store, 0, 0, "/local/domain/0/name", "Domain-0", 8);
	/* The toolstack hears of the backends' states (the watch fires once now). */
	if (!ret)
		ret = dmab_sim_store_watch(h->store, 0, &h->toolstack_src, VDISPL_ROOT, "toolstack");
	if (ret)
		goto err;

	h->listen_fd = listen_on(socket_path);
	if (h->listen_fd < 0) {
		ret = h->listen_fd;
		dmab_log_errno(DMAB_LOG_ERROR, ret, "sim: cannot listen on %s", socket_path);
		goto err;
	}
	h->listen_src.tag = TAG_LISTEN;
	struct epoll_event lev = { .events = EPOLLIN, .data.ptr = &h->listen_src };
	if (epoll_ctl(h->base.fd, EPOLL_CTL_ADD, h->listen_fd, &lev) < 0) {
		ret = -errno;
		goto err;
	}

	h->udmabuf_fd = open("/dev/udmabuf", O_RDWR | O_CLOEXEC);
	int heap = open("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC);
	dmab_log(DMAB_LOG_INFO, "sim: hypervisor on %s; guest buffers as dma-bufs: "
		"system heap %s, udmabuf %s", socket_path, heap >= 0 ? "yes" : "no",
		h->udmabuf_fd >= 0 ? "yes" : "no");
	if (heap >= 0)
		close(heap);
	*out = &h->base;
	return 0;

err:
	host_destroy(&h->base);
	return ret;
}

const char *dmab_hv_sim_default_socket(char *buf, size_t len)
{
	return dmab_default_socket(buf, len, DMAB_ENV_SIM_SOCKET, "dmabridge-sim.sock");
}

static const struct dmab_hv_impl host_impl = {
	.name = "sim",
	.destroy = host_destroy,
	.dispatch = host_dispatch,
	.store_read = host_store_read,
	.store_write = host_store_write,
	.store_remove = host_store_remove,
	.store_directory = host_store_directory,
	.store_tx_start = host_tx_start,
	.store_tx_end = host_tx_end,
	.store_watch = host_watch,
	.store_unwatch = host_unwatch,
	.domain_alive = host_domain_alive,
	.evtchn_bind = host_evtchn_bind,
	.evtchn_alloc = host_evtchn_alloc,
	.evtchn_notify = host_evtchn_notify,
	.evtchn_close = host_evtchn_close,
	.grant_map = host_grant_map,
	.grant_unmap = host_grant_unmap,
	.share_alloc = host_share_alloc,
	.share_free = host_share_free,
	.dmabuf_exp_from_refs = host_exp_from_refs,
	.dmabuf_exp_wait_released = host_exp_wait_released,
	.dmabuf_imp_to_refs = host_imp_to_refs,
	.dmabuf_imp_release = host_imp_release,
};
