// SPDX-License-Identifier: MIT
/*
 * The guest side of the simulator: a frontend-role hv over the host's
 * socket. Store, grant and channel operations are calls answered by the
 * host; watch events and channel notifications arrive on their own and are
 * delivered from dmab_hv_dispatch().
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/array.h"
#include "common/log.h"
#include "common/memory.h"
#include "hv/hv-impl.h"
#include "hv/sim/sim.h"
#include "hv/sim/wire.h"

#define CALL_TIMEOUT_MS 10000

enum tag { TAG_SOCKET = 1, TAG_PENDING, TAG_PORT };

struct guest_port {
	evtchn_port_t port;
	int in_fd;              /* the host signals us here */
	int out_fd;             /* we signal the host here */
};

struct guest_share {
	void *addr;
	uint32_t count;
	uint32_t region;
	grant_ref_t *refs;
};

struct guest_map {
	void *addr;
	uint32_t count;
	uint32_t id;
};

struct guest {
	struct dmab_hv base;
	int sock;
	int pending_fd;
	uint32_t seq;
	uint32_t max_message;
	bool dead;


	struct guest_port *ports;
	size_t nports, ports_cap;
	struct guest_share *shares;
	size_t nshares, shares_cap;
	struct guest_map *maps;
	size_t nmaps, maps_cap;
};

static const struct dmab_hv_impl guest_impl;

static struct guest *guest_of(struct dmab_hv *hv)
{
	return (struct guest *)hv;
}

static void queue_watch(struct guest *g, const struct dmab_sim_msg *msg)
{
	const char *path = dmab_sim_string(msg->payload, msg->hdr.len, 0);
	const char *token = dmab_sim_string(msg->payload, msg->hdr.len, 1);
	if (!path || !token || dmab_hv_queue_watch(&g->base, path, token))
		return;
	uint64_t one = 1;
	if (write(g->pending_fd, &one, sizeof(one)) < 0)
		dmab_log_errno(DMAB_LOG_ERROR, -errno, "sim guest: cannot signal a queued watch");
}

static void lost_host(struct guest *g, int err)
{
	if (!g->dead)
		dmab_log_errno(DMAB_LOG_ERROR, err, "sim guest %u: lost the simulator",
			g->base.domid);
	g->dead = true;
}

/*
 * Send a request and wait for its answer, queueing events that arrive in
 * between. Returns the host's status; on success *reply (may be NULL)
 * holds the answer, which the caller finishes.
 */
static int call(struct guest *g, uint32_t type, const void *payload, size_t len,
		const int *fds, unsigned int nfds, struct dmab_sim_msg *reply)
{
	if (g->dead)
		return -ENOTCONN;
	if (len + sizeof(struct dmab_sim_hdr) > g->max_message)
		return -E2BIG;

	uint32_t seq = ++g->seq ? g->seq : ++g->seq;
	int ret = dmab_sim_send(g->sock, type, seq, 0, payload, len, fds, nfds, false);
	if (ret) {
		lost_host(g, ret);
		return -ENOTCONN;
	}

	uint64_t deadline = dmab_now_ms() + CALL_TIMEOUT_MS;
	for (;;) {
		struct dmab_sim_msg msg;
		ret = dmab_sim_recv(g->sock, g->max_message, &msg);
		if (ret == -EAGAIN) {
			uint64_t now = dmab_now_ms();
			if (now >= deadline) {
				lost_host(g, -ETIMEDOUT);
				return -ETIMEDOUT;
			}
			struct pollfd pfd = { .fd = g->sock, .events = POLLIN };
			poll(&pfd, 1, (int)(deadline - now));
			continue;
		}
		if (ret <= 0) {
			lost_host(g, ret ? ret : -ECONNRESET);
			return -ENOTCONN;
		}
		if (msg.hdr.type == DMAB_SIM_EVT_WATCH) {
			queue_watch(g, &msg);
			dmab_sim_msg_finish(&msg);
			continue;
		}
		if (msg.hdr.seq != seq || msg.hdr.type != type) {
			dmab_sim_msg_finish(&msg);
			lost_host(g, -EPROTO);
			return -ENOTCONN;
		}
		ret = msg.hdr.status;
		if (reply && ret == 0)
			*reply = msg;
		else
			dmab_sim_msg_finish(&msg);
		return ret;
	}
}

/* A call whose answer carries a uint32_t. */
static int call_id(struct guest *g, uint32_t type, const void *payload, size_t len,
		const int *fds, unsigned int nfds, uint32_t *id)
{
	struct dmab_sim_msg reply;
	int ret = call(g, type, payload, len, fds, nfds, &reply);
	if (ret)
		return ret;
	if (reply.hdr.len < sizeof(uint32_t)) {
		dmab_sim_msg_finish(&reply);
		return -EPROTO;
	}
	memcpy(id, reply.payload, sizeof(*id));
	dmab_sim_msg_finish(&reply);
	return 0;
}

/* A store request: tx, then one or two strings. */
static int store_call(struct guest *g, uint32_t type, dmab_hv_tx_t tx,
		const char *a, const char *b, struct dmab_sim_msg *reply)
{
	size_t la = strlen(a) + 1, lb = b ? strlen(b) + 1 : 0;
	size_t len = sizeof(struct dmab_sim_store_msg) + la + lb;
	if (len + sizeof(struct dmab_sim_hdr) > g->max_message)
		return -E2BIG;
	struct dmab_sim_store_msg *m = malloc(len);
	if (!m)
		return -ENOMEM;
	m->tx = tx;
	memcpy(m->strings, a, la);
	if (b)
		memcpy(m->strings + la, b, lb);
	int ret = call(g, type, m, len, NULL, 0, reply);
	free(m);
	return ret;
}

static int guest_store_read(struct dmab_hv *hv, dmab_hv_tx_t tx, const char *path,
		char **value)
{
	struct guest *g = guest_of(hv);
	struct dmab_sim_msg reply;
	int ret = store_call(g, DMAB_SIM_STORE_READ, tx, path, NULL, &reply);
	if (ret)
		return ret;
	const char *v = dmab_sim_string(reply.payload, reply.hdr.len, 0);
	*value = v ? strdup(v) : NULL;
	dmab_sim_msg_finish(&reply);
	if (!v)
		return -EPROTO;
	return *value ? 0 : -ENOMEM;
}

static int guest_store_write(struct dmab_hv *hv, dmab_hv_tx_t tx, const char *path,
		const char *value)
{
	return store_call(guest_of(hv), DMAB_SIM_STORE_WRITE, tx, path, value, NULL);
}

static int guest_store_remove(struct dmab_hv *hv, dmab_hv_tx_t tx, const char *path)
{
	return store_call(guest_of(hv), DMAB_SIM_STORE_REMOVE, tx, path, NULL, NULL);
}

static int guest_store_directory(struct dmab_hv *hv, dmab_hv_tx_t tx,
		const char *path, char ***names, unsigned int *count)
{
	struct guest *g = guest_of(hv);
	struct dmab_sim_msg reply;
	int ret = store_call(g, DMAB_SIM_STORE_DIRECTORY, tx, path, NULL, &reply);
	if (ret)
		return ret;

	/* {count, "name"...} into one block: pointers, then the strings. */
	uint32_t n;
	ret = -EPROTO;
	if (reply.hdr.len < sizeof(n))
		goto out;
	memcpy(&n, reply.payload, sizeof(n));
	const uint8_t *strings = reply.payload + sizeof(n);
	size_t slen = reply.hdr.len - sizeof(n);
	if (n > slen)
		goto out;
	if (n && (slen == 0 || strings[slen - 1] != '\0'))
		goto out;
	char **block = malloc(n * sizeof(char *) + slen + 1);
	ret = -ENOMEM;
	if (!block)
		goto out;
	char *copy = (char *)(block + n);
	memcpy(copy, strings, slen);
	copy[slen] = '\0';
	char *p = copy;
	for (uint32_t i = 0; i < n; i++) {
		if (p >= copy + slen) {
			free(block);
			ret = -EPROTO;
			goto out;
		}
		block[i] = p;
		p += strlen(p) + 1;
	}
	*names = block;
	*count = n;
	ret = 0;
out:
	dmab_sim_msg_finish(&reply);
	return ret;
}

static int guest_tx_start(struct dmab_hv *hv, dmab_hv_tx_t *tx)
{
	uint32_t id;
	int ret = call_id(guest_of(hv), DMAB_SIM_TX_START, NULL, 0, NULL, 0, &id);
	if (ret == 0)
		*tx = id;
	return ret;
}

static int guest_tx_end(struct dmab_hv *hv, dmab_hv_tx_t tx, bool abort)
{
	struct dmab_sim_tx_end m = { .tx = tx, .abort = abort };
	return call(guest_of(hv), DMAB_SIM_TX_END, &m, sizeof(m), NULL, 0, NULL);
}

static int watch_call(struct guest *g, uint32_t type, const char *path, const char *token)
{
	size_t lp = strlen(path) + 1, lt = strlen(token) + 1;
	char *m = malloc(lp + lt);
	if (!m)
		return -ENOMEM;
	memcpy(m, path, lp);
	memcpy(m + lp, token, lt);
	int ret = call(g, type, m, lp + lt, NULL, 0, NULL);
	free(m);
	return ret;
}

static int guest_watch(struct dmab_hv *hv, const char *path, const char *token)
{
	return watch_call(guest_of(hv), DMAB_SIM_STORE_WATCH, path, token);
}

static int guest_unwatch(struct dmab_hv *hv, const char *path, const char *token)
{
	struct guest *g = guest_of(hv);
	return watch_call(g, DMAB_SIM_STORE_UNWATCH, path, token);
}

static bool guest_domain_alive(struct dmab_hv *hv, domid_t domid)
{
	struct dmab_sim_id_msg m = { .id = domid };
	return call(guest_of(hv), DMAB_SIM_DOMAIN_ALIVE, &m, sizeof(m), NULL, 0, NULL) == 0;
}

static int guest_evtchn_bind(struct dmab_hv *hv, domid_t remote,
		evtchn_port_t remote_port, evtchn_port_t *local)
{
	/* Simulated guests are frontends; driver domains are not simulated. */
	return -EOPNOTSUPP;
}

static int guest_evtchn_alloc(struct dmab_hv *hv, domid_t remote, evtchn_port_t *local)
{
	struct guest *g = guest_of(hv);
	struct dmab_sim_id_msg m = { .id = remote };
	struct dmab_sim_msg reply;
	int ret = dmab_array_reserve((void **)&g->ports, &g->ports_cap, g->nports, sizeof(*g->ports));
	if (ret)
		return ret;
	ret = call(g, DMAB_SIM_EVTCHN_ALLOC, &m, sizeof(m), NULL, 0, &reply);
	if (ret)
		return ret;
	ret = -EPROTO;
	if (reply.hdr.len < sizeof(uint32_t) || reply.nfds != 2)
		goto out;

	struct guest_port *p = &g->ports[g->nports];
	memcpy(&p->port, reply.payload, sizeof(p->port));
	p->in_fd = reply.fds[0];
	p->out_fd = reply.fds[1];
	struct epoll_event ev = {
		.events = EPOLLIN,
		.data.u64 = (uint64_t)TAG_PORT << 32 | p->port,
	};
	if (epoll_ctl(g->base.fd, EPOLL_CTL_ADD, p->in_fd, &ev) < 0) {
		ret = -errno;
		goto out;
	}
	reply.fds[0] = reply.fds[1] = -1;
	g->nports++;
	*local = p->port;
	ret = 0;
out:
	dmab_sim_msg_finish(&reply);
	return ret;
}

static struct guest_port *find_port(struct guest *g, evtchn_port_t port)
{
	for (size_t i = 0; i < g->nports; i++) {
		if (g->ports[i].port == port)
			return &g->ports[i];
	}
	return NULL;
}

static int guest_evtchn_notify(struct dmab_hv *hv, evtchn_port_t local)
{
	struct guest_port *p = find_port(guest_of(hv), local);
	if (!p)
		return -EINVAL;
	uint64_t one = 1;
	return write(p->out_fd, &one, sizeof(one)) < 0 ? -errno : 0;
}

static void guest_evtchn_close(struct dmab_hv *hv, evtchn_port_t local)
{
	struct guest *g = guest_of(hv);
	struct guest_port *p = find_port(g, local);
	if (!p)
		return;
	struct dmab_sim_id_msg m = { .id = local };
	call(g, DMAB_SIM_EVTCHN_CLOSE, &m, sizeof(m), NULL, 0, NULL);
	epoll_ctl(g->base.fd, EPOLL_CTL_DEL, p->in_fd, NULL);
	close(p->in_fd);
	close(p->out_fd);
	*p = g->ports[--g->nports];
}

static int guest_grant_map(struct dmab_hv *hv, domid_t domid, uint32_t count,
		const grant_ref_t *refs, bool writable, void **addr)
{
	struct guest *g = guest_of(hv);
	size_t len = sizeof(struct dmab_sim_map) + (size_t)count * sizeof(uint32_t);
	if (len + sizeof(struct dmab_sim_hdr) > g->max_message)
		return -E2BIG;
	int ret = dmab_array_reserve((void **)&g->maps, &g->maps_cap, g->nmaps, sizeof(*g->maps));
	if (ret)
		return ret;
	struct dmab_sim_map *m = malloc(len);
	if (!m)
		return -ENOMEM;
	m->domid = domid;
	m->writable = writable;
	m->count = count;
	memcpy(m->refs, refs, count * sizeof(uint32_t));
	struct dmab_sim_msg reply;
	ret = call(g, DMAB_SIM_MAP, m, len, NULL, 0, &reply);
	free(m);
	if (ret)
		return ret;

	struct dmab_sim_map_reply r;
	ret = -EPROTO;
	if (reply.hdr.len != sizeof(r) + (size_t)count * sizeof(struct dmab_sim_map_page))
		goto out;
	memcpy(&r, reply.payload, sizeof(r));
	if (r.nfds != reply.nfds)
		goto out;
	const struct dmab_sim_map_page *pages =
		(const void *)(reply.payload + sizeof(r));

	size_t size = (size_t)count * DMAB_XEN_PAGE_SIZE;
	uint8_t *base = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ret = -ENOMEM;
	if (base == MAP_FAILED)
		goto out_unmap_host;
	int prot = PROT_READ | (writable ? PROT_WRITE : 0);
	for (uint32_t i = 0; i < count; ) {
		/* One mmap per run of consecutive pages of one descriptor. */
		uint32_t run = 1;
		while (i + run < count && pages[i + run].fd_index == pages[i].fd_index &&
				pages[i + run].page == pages[i].page + run)
			run++;
		if (pages[i].fd_index >= reply.nfds ||
				mmap(base + (size_t)i * DMAB_XEN_PAGE_SIZE,
					(size_t)run * DMAB_XEN_PAGE_SIZE, prot,
					MAP_SHARED | MAP_FIXED, reply.fds[pages[i].fd_index],
					(off_t)pages[i].page * DMAB_XEN_PAGE_SIZE) == MAP_FAILED) {
			ret = pages[i].fd_index >= reply.nfds ? -EPROTO : -errno;
			munmap(base, size);
			goto out_unmap_host;
		}
		i += run;
	}
	g->maps[g->nmaps++] = (struct guest_map){ base, count, r.map };
	*addr = base;
	ret = 0;
	goto out;

out_unmap_host:;
	struct dmab_sim_id_msg um = { .id = r.map };
	call(g, DMAB_SIM_UNMAP, &um, sizeof(um), NULL, 0, NULL);
out:
	dmab_sim_msg_finish(&reply);
	return ret;
}

static int guest_grant_unmap(struct dmab_hv *hv, void *addr, uint32_t count)
{
	struct guest *g = guest_of(hv);
	for (size_t i = 0; i < g->nmaps; i++) {
		struct guest_map *m = &g->maps[i];
		if (m->addr != addr)
			continue;
		if (m->count != count)
			return -EINVAL;
		munmap(addr, (size_t)count * DMAB_XEN_PAGE_SIZE);
		struct dmab_sim_id_msg um = { .id = m->id };
		*m = g->maps[--g->nmaps];
		return call(g, DMAB_SIM_UNMAP, &um, sizeof(um), NULL, 0, NULL);
	}
	return -EINVAL;
}

static int guest_share_alloc(struct dmab_hv *hv, domid_t remote, uint32_t count,
		uint32_t flags, grant_ref_t *refs, void **addr)
{
	struct guest *g = guest_of(hv);
	size_t size = (size_t)count * DMAB_XEN_PAGE_SIZE;
	if (sizeof(struct dmab_sim_refs) + (size_t)count * sizeof(uint32_t) +
			sizeof(struct dmab_sim_hdr) > g->max_message)
		return -E2BIG;
	int ret = dmab_array_reserve((void **)&g->shares, &g->shares_cap, g->nshares, sizeof(*g->shares));
	if (ret)
		return ret;

	enum dmab_sim_mem_kind kind = DMAB_SIM_MEM_DMABUF;
	int fd = (flags & DMAB_HV_SHARE_SCANOUT) ? dmab_heap_alloc(size) : -ENOENT;
	if (fd < 0) {
		kind = DMAB_SIM_MEM_MEMFD;
		fd = dmab_sealed_memfd("dmabridge-guest", size);
		if (fd < 0)
			return fd;
	}
	void *base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (base == MAP_FAILED) {
		ret = -errno;
		close(fd);
		return ret;
	}

	struct dmab_sim_mem_add add = { .kind = kind, .size = size };
	uint32_t region;
	ret = call_id(g, DMAB_SIM_MEM_ADD, &add, sizeof(add), &fd, 1, &region);
	close(fd); /* the mapping and the host keep the memory */
	if (ret)
		goto err_unmap;

	struct dmab_sim_grant gr = {
		.region = region, .first = 0, .count = count, .remote = remote,
		.readonly = !(flags & DMAB_HV_SHARE_WRITABLE),
	};
	struct dmab_sim_msg reply;
	ret = call(g, DMAB_SIM_GRANT, &gr, sizeof(gr), NULL, 0, &reply);
	if (ret)
		goto err_region;
	if (reply.hdr.len != (size_t)count * sizeof(uint32_t)) {
		dmab_sim_msg_finish(&reply);
		ret = -EPROTO;
		goto err_region;
	}
	grant_ref_t *kept = malloc((size_t)count * sizeof(*kept));
	if (!kept) {
		dmab_sim_msg_finish(&reply);
		ret = -ENOMEM;
		goto err_region; /* the host drops the grants with the guest */
	}
	memcpy(kept, reply.payload, (size_t)count * sizeof(*kept));
	memcpy(refs, kept, (size_t)count * sizeof(*kept));
	dmab_sim_msg_finish(&reply);

	g->shares[g->nshares++] = (struct guest_share){ base, count, region, kept };
	*addr = base;
	return 0;

err_region:;
	struct dmab_sim_region_msg rm = { .region = region };
	call(g, DMAB_SIM_MEM_REMOVE, &rm, sizeof(rm), NULL, 0, NULL);
err_unmap:
	munmap(base, size);
	return ret;
}

static int guest_share_free(struct dmab_hv *hv, void *addr, uint32_t count)
{
	struct guest *g = guest_of(hv);
	for (size_t i = 0; i < g->nshares; i++) {
		struct guest_share *s = &g->shares[i];
		if (s->addr != addr)
			continue;
		if (s->count != count)
			return -EINVAL;
		size_t len = sizeof(struct dmab_sim_refs) + (size_t)count * sizeof(uint32_t);
		struct dmab_sim_refs *m = malloc(len);
		if (!m)
			return -ENOMEM;
		m->count = count;
		memcpy(m->refs, s->refs, (size_t)count * sizeof(uint32_t));
		int ret = call(g, DMAB_SIM_END_ACCESS, m, len, NULL, 0, NULL);
		free(m);
		if (ret)
			return ret;
		struct dmab_sim_region_msg rm = { .region = s->region };
		ret = call(g, DMAB_SIM_MEM_REMOVE, &rm, sizeof(rm), NULL, 0, NULL);
		munmap(s->addr, (size_t)count * DMAB_XEN_PAGE_SIZE);
		free(s->refs);
		*s = g->shares[--g->nshares];
		return ret;
	}
	return -EINVAL;
}

static int guest_no_dmabuf(void)
{
	/* A simulated guest has no gntdev dma-buf device. */
	return -EOPNOTSUPP;
}

static int guest_exp_from_refs(struct dmab_hv *hv, domid_t domid, uint32_t count,
		const grant_ref_t *refs, int *fd)
{
	return guest_no_dmabuf();
}

static int guest_exp_wait_released(struct dmab_hv *hv, int fd, uint32_t timeout_ms)
{
	return guest_no_dmabuf();
}

static int guest_imp_to_refs(struct dmab_hv *hv, domid_t domid, int fd,
		uint32_t count, grant_ref_t *refs)
{
	return guest_no_dmabuf();
}

static int guest_imp_release(struct dmab_hv *hv, int fd)
{
	return guest_no_dmabuf();
}

static int guest_dispatch(struct dmab_hv *hv)
{
	struct guest *g = guest_of(hv);
	struct epoll_event events[16];
	int n = epoll_wait(hv->fd, events, 16, 0);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;

	for (int i = 0; i < n; i++) {
		enum tag tag = (enum tag)(events[i].data.u64 >> 32);
		if (tag == TAG_SOCKET) {
			for (;;) {
				struct dmab_sim_msg msg;
				int ret = dmab_sim_recv(g->sock, g->max_message, &msg);
				if (ret == -EAGAIN)
					break;
				if (ret <= 0) {
					lost_host(g, ret ? ret : -ECONNRESET);
					epoll_ctl(hv->fd, EPOLL_CTL_DEL, g->sock, NULL);
					break;
				}
				if (msg.hdr.type == DMAB_SIM_EVT_WATCH)
					queue_watch(g, &msg);
				dmab_sim_msg_finish(&msg);
			}
		} else if (tag == TAG_PORT) {
			evtchn_port_t port = (evtchn_port_t)events[i].data.u64;
			struct guest_port *p = find_port(g, port);
			uint64_t count;
			/* A channel closed by an earlier callback of this round is gone. */
			if (p && read(p->in_fd, &count, sizeof(count)) == sizeof(count))
				dmab_hv_deliver_event(hv, port);
		}
	}

	/* Watches last: callbacks make calls, which may queue more. */
	uint64_t count;
	if (read(g->pending_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		return -errno;
	dmab_hv_deliver_queued(hv);
	return g->dead ? -ENOTCONN : 0;
}

static void guest_destroy(struct dmab_hv *hv)
{
	struct guest *g = guest_of(hv);
	dmab_hv_finish(hv);
	while (g->nmaps)
		guest_grant_unmap(hv, g->maps[0].addr, g->maps[0].count);
	/* Shares go with the connection: the host drops this domain's grants. */
	for (size_t i = 0; i < g->nshares; i++) {
		munmap(g->shares[i].addr, (size_t)g->shares[i].count * DMAB_XEN_PAGE_SIZE);
		free(g->shares[i].refs);
	}
	free(g->ports);
	free(g->shares);
	free(g->maps);
	close(g->sock);
	close(g->pending_fd);
	close(hv->fd);
	free(g);
}

int dmab_hv_sim_connect(const char *socket_path, struct dmab_hv **out)
{
	return dmab_hv_sim_connect_named(socket_path, NULL, out);
}

int dmab_hv_sim_connect_named(const char *socket_path, const char *name, struct dmab_hv **out)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	if (strlen(socket_path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	strcpy(addr.sun_path, socket_path);

	struct guest *g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	dmab_hv_init(&g->base, &guest_impl, DMAB_HV_FRONTEND, 0);
	g->max_message = DMAB_SIM_DEFAULT_MAX_MESSAGE;
	g->pending_fd = -1;

	int ret;
	g->sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (g->sock < 0) {
		ret = -errno;
		goto err_free;
	}
	if (connect(g->sock, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		ret = -errno;
		goto err_sock;
	}

	struct dmab_sim_hello hello = {
		.version = DMAB_SIM_PROTOCOL_VERSION,
		.flags = name ? DMAB_SIM_HELLO_NAMED : 0,
	};
	if (name && (!name[0] || strlen(name) >= sizeof(hello.name))) {
		ret = -EINVAL;
		goto err_sock;
	}
	snprintf(hello.name, sizeof(hello.name), "%s", name ? name : program_invocation_short_name);
	struct dmab_sim_msg reply;
	ret = call(g, DMAB_SIM_HELLO, &hello, sizeof(hello), NULL, 0, &reply);
	if (ret)
		goto err_sock;
	struct dmab_sim_hello_reply answer;
	if (reply.hdr.len != sizeof(answer)) {
		dmab_sim_msg_finish(&reply);
		ret = -EPROTO;
		goto err_sock;
	}
	memcpy(&answer, reply.payload, sizeof(answer));
	dmab_sim_msg_finish(&reply);
	g->base.domid = (domid_t)answer.domid;
	g->max_message = answer.max_message;

	g->pending_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	g->base.fd = epoll_create1(EPOLL_CLOEXEC);
	if (g->pending_fd < 0 || g->base.fd < 0) {
		ret = -errno;
		goto err_fds;
	}
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uint64_t)TAG_SOCKET << 32 };
	struct epoll_event pev = { .events = EPOLLIN, .data.u64 = (uint64_t)TAG_PENDING << 32 };
	if (epoll_ctl(g->base.fd, EPOLL_CTL_ADD, g->sock, &ev) < 0 ||
			epoll_ctl(g->base.fd, EPOLL_CTL_ADD, g->pending_fd, &pev) < 0) {
		ret = -errno;
		goto err_fds;
	}
	*out = &g->base;
	return 0;

err_fds:
	if (g->base.fd >= 0)
		close(g->base.fd);
	if (g->pending_fd >= 0)
		close(g->pending_fd);
err_sock:
	close(g->sock);
err_free:
	free(g);
	return ret;
}

int dmab_hv_sim_add_vdispl(struct dmab_hv *hv, uint32_t devid, bool be_alloc,
		const struct dmab_sim_connector *connectors, unsigned int count)
{
	if (hv->impl != &guest_impl)
		return -EINVAL;
	size_t len = sizeof(struct dmab_sim_add_vdispl) +
		(size_t)count * sizeof(struct dmab_sim_connector_msg);
	struct dmab_sim_add_vdispl *m = calloc(1, len);
	if (!m)
		return -ENOMEM;
	m->devid = devid;
	m->be_alloc = be_alloc;
	m->count = count;
	for (unsigned int i = 0; i < count; i++) {
		m->connectors[i].width = connectors[i].width;
		m->connectors[i].height = connectors[i].height;
		if (connectors[i].unique_id)
			snprintf(m->connectors[i].unique_id, sizeof(m->connectors[i].unique_id),
				"%s", connectors[i].unique_id);
	}
	int ret = call(guest_of(hv), DMAB_SIM_ADD_VDISPL, m, len, NULL, 0, NULL);
	free(m);
	return ret;
}

static const struct dmab_hv_impl guest_impl = {
	.name = "sim",
	.destroy = guest_destroy,
	.dispatch = guest_dispatch,
	.store_read = guest_store_read,
	.store_write = guest_store_write,
	.store_remove = guest_store_remove,
	.store_directory = guest_store_directory,
	.store_tx_start = guest_tx_start,
	.store_tx_end = guest_tx_end,
	.store_watch = guest_watch,
	.store_unwatch = guest_unwatch,
	.domain_alive = guest_domain_alive,
	.evtchn_bind = guest_evtchn_bind,
	.evtchn_alloc = guest_evtchn_alloc,
	.evtchn_notify = guest_evtchn_notify,
	.evtchn_close = guest_evtchn_close,
	.grant_map = guest_grant_map,
	.grant_unmap = guest_grant_unmap,
	.share_alloc = guest_share_alloc,
	.share_free = guest_share_free,
	.dmabuf_exp_from_refs = guest_exp_from_refs,
	.dmabuf_exp_wait_released = guest_exp_wait_released,
	.dmabuf_imp_to_refs = guest_imp_to_refs,
	.dmabuf_imp_release = guest_imp_release,
};
