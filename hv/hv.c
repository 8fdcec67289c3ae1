// SPDX-License-Identifier: MIT
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/array.h"
#include "hv/hv-impl.h"

struct dmab_hv_watch {
	struct dmab_hv *hv;
	char *path;
	char token[24];
	dmab_hv_watch_fn fn;
	void *data;
};

struct dmab_hv_evtchn {
	struct dmab_hv *hv;
	evtchn_port_t port;
	dmab_hv_evtchn_fn fn;
	void *data;
};

struct dmab_hv_queued {
	char *path;
	char *token;
};

/* Append to a growable array of pointers. */
static int push(void ***array, size_t *n, size_t *cap, void *item)
{
	int ret = dmab_array_reserve((void **)array, cap, *n, sizeof(**array));
	if (ret)
		return ret;
	(*array)[(*n)++] = item;
	return 0;
}

static void drop(void **array, size_t *n, const void *item)
{
	for (size_t i = 0; i < *n; i++) {
		if (array[i] == item) {
			array[i] = array[--*n];
			return;
		}
	}
}

void dmab_hv_init(struct dmab_hv *hv, const struct dmab_hv_impl *impl,
		enum dmab_hv_role role, domid_t domid)
{
	memset(hv, 0, sizeof(*hv));
	hv->impl = impl;
	hv->role = role;
	hv->domid = domid;
	hv->fd = -1;
}

void dmab_hv_finish(struct dmab_hv *hv)
{
	while (hv->nwatches)
		dmab_hv_watch_remove(hv->watches[0]);
	while (hv->nchans)
		dmab_hv_evtchn_close(hv->chans[0]);
	free(hv->watches);
	free(hv->chans);
	free(hv->queued);
	hv->watches = NULL;
	hv->chans = NULL;
	hv->queued = NULL;
}

int dmab_hv_queue_watch(struct dmab_hv *hv, const char *path, const char *token)
{
	int ret = dmab_array_reserve((void **)&hv->queued, &hv->queued_cap, hv->nqueued,
		sizeof(*hv->queued));
	if (ret)
		return ret;
	struct dmab_hv_queued q = { strdup(path), strdup(token) };
	if (!q.path || !q.token) {
		free(q.path);
		free(q.token);
		return -ENOMEM;
	}
	hv->queued[hv->nqueued++] = q;
	return 0;
}

void dmab_hv_deliver_queued(struct dmab_hv *hv)
{
	/* One at a time from the front: callbacks may queue more, or unwatch. */
	while (hv->nqueued) {
		struct dmab_hv_queued q = hv->queued[0];
		memmove(&hv->queued[0], &hv->queued[1], (hv->nqueued - 1) * sizeof(q));
		hv->nqueued--;
		dmab_hv_deliver_watch(hv, q.path, q.token);
		free(q.path);
		free(q.token);
	}
}

static void drop_queued(struct dmab_hv *hv, const char *token)
{
	size_t kept = 0;
	for (size_t i = 0; i < hv->nqueued; i++) {
		if (strcmp(hv->queued[i].token, token) == 0) {
			free(hv->queued[i].path);
			free(hv->queued[i].token);
		} else {
			hv->queued[kept++] = hv->queued[i];
		}
	}
	hv->nqueued = kept;
}

void dmab_hv_destroy(struct dmab_hv *hv)
{
	if (hv)
		hv->impl->destroy(hv);
}

const char *dmab_hv_name(const struct dmab_hv *hv)
{
	return hv->impl->name;
}

enum dmab_hv_role dmab_hv_role(const struct dmab_hv *hv)
{
	return hv->role;
}

domid_t dmab_hv_domid(const struct dmab_hv *hv)
{
	return hv->domid;
}

int dmab_hv_get_fd(const struct dmab_hv *hv)
{
	return hv->fd;
}

int dmab_hv_dispatch(struct dmab_hv *hv)
{
	return hv->impl->dispatch(hv);
}

int dmab_hv_store_read(struct dmab_hv *hv, dmab_hv_tx_t tx, const char *path,
		char **value)
{
	return hv->impl->store_read(hv, tx, path, value);
}

int dmab_hv_store_write(struct dmab_hv *hv, dmab_hv_tx_t tx, const char *path,
		const char *value)
{
	return hv->impl->store_write(hv, tx, path, value);
}

int dmab_hv_store_printf(struct dmab_hv *hv, dmab_hv_tx_t tx, const char *path,
		const char *fmt, ...)
{
	char buf[256];
	va_list args;
	va_start(args, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, args);
	va_end(args);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -ENAMETOOLONG;
	return hv->impl->store_write(hv, tx, path, buf);
}

int dmab_hv_store_read_to(void *hv, const char *path, char *value, size_t len)
{
	char *v;
	int ret = dmab_hv_store_read(hv, DMAB_HV_NO_TX, path, &v);
	if (ret)
		return ret;
	size_t n = strlen(v);
	if (n >= len) {
		free(v);
		return -E2BIG;
	}
	memcpy(value, v, n + 1);
	free(v);
	return 0;
}

int dmab_hv_store_remove(struct dmab_hv *hv, dmab_hv_tx_t tx, const char *path)
{
	return hv->impl->store_remove(hv, tx, path);
}

int dmab_hv_store_directory(struct dmab_hv *hv, dmab_hv_tx_t tx,
		const char *path, char ***names, unsigned int *count)
{
	return hv->impl->store_directory(hv, tx, path, names, count);
}

int dmab_hv_store_tx_start(struct dmab_hv *hv, dmab_hv_tx_t *tx)
{
	return hv->impl->store_tx_start(hv, tx);
}

int dmab_hv_store_tx_end(struct dmab_hv *hv, dmab_hv_tx_t tx, bool abort)
{
	return hv->impl->store_tx_end(hv, tx, abort);
}

/* Conflicts come from other writers at the same moment: a few retries do. */
#define WRITE_IN_ATTEMPTS 8

static int write_in_tx(struct dmab_hv *hv, dmab_hv_tx_t tx, const char *dir,
		const struct dmab_hv_store_node *nodes, unsigned int count)
{
	/* Reading dir makes its removal meanwhile a conflict at commit. */
	char *value;
	int ret = dmab_hv_store_read(hv, tx, dir, &value);
	if (ret)
		return ret;
	free(value);
	for (unsigned int i = 0; i < count && !ret; i++) {
		char path[512];
		int n = snprintf(path, sizeof(path), "%s/%s", dir, nodes[i].name);
		ret = n < 0 || (size_t)n >= sizeof(path) ? -ENAMETOOLONG :
			dmab_hv_store_write(hv, tx, path, nodes[i].value);
	}
	return ret;
}

int dmab_hv_store_write_in(struct dmab_hv *hv, const char *dir,
		const struct dmab_hv_store_node *nodes, unsigned int count)
{
	for (int attempt = 0; attempt < WRITE_IN_ATTEMPTS; attempt++) {
		dmab_hv_tx_t tx;
		int ret = dmab_hv_store_tx_start(hv, &tx);
		if (ret)
			return ret;
		ret = write_in_tx(hv, tx, dir, nodes, count);
		if (ret) {
			dmab_hv_store_tx_end(hv, tx, true);
			return ret;
		}
		ret = dmab_hv_store_tx_end(hv, tx, false);
		if (ret != -EAGAIN)
			return ret;
	}
	return -EAGAIN;
}

int dmab_hv_watch_add(struct dmab_hv *hv, const char *path,
		dmab_hv_watch_fn fn, void *data, struct dmab_hv_watch **out)
{
	struct dmab_hv_watch *watch = calloc(1, sizeof(*watch));
	if (!watch)
		return -ENOMEM;
	watch->hv = hv;
	watch->fn = fn;
	watch->data = data;
	snprintf(watch->token, sizeof(watch->token), "dmab%" PRIu64, hv->next_token++);
	watch->path = strdup(path);
	int ret = -ENOMEM;
	if (!watch->path)
		goto err;
	ret = push((void ***)&hv->watches, &hv->nwatches, &hv->watches_cap, watch);
	if (ret)
		goto err;
	ret = hv->impl->store_watch(hv, path, watch->token);
	if (ret) {
		drop((void **)hv->watches, &hv->nwatches, watch);
		goto err;
	}
	*out = watch;
	return 0;
err:
	free(watch->path);
	free(watch);
	return ret;
}

void dmab_hv_watch_remove(struct dmab_hv_watch *watch)
{
	if (!watch)
		return;
	struct dmab_hv *hv = watch->hv;
	hv->impl->store_unwatch(hv, watch->path, watch->token);
	/* No callback after removal: what waits in the queue goes too. */
	drop_queued(hv, watch->token);
	drop((void **)hv->watches, &hv->nwatches, watch);
	free(watch->path);
	free(watch);
}

void dmab_hv_deliver_watch(struct dmab_hv *hv, const char *path, const char *token)
{
	for (size_t i = 0; i < hv->nwatches; i++) {
		struct dmab_hv_watch *watch = hv->watches[i];
		if (strcmp(watch->token, token) == 0) {
			watch->fn(watch->data, path);
			return;
		}
	}
}

bool dmab_hv_domain_alive(struct dmab_hv *hv, domid_t domid)
{
	return hv->impl->domain_alive(hv, domid);
}

static int evtchn_new(struct dmab_hv *hv, evtchn_port_t port,
		dmab_hv_evtchn_fn fn, void *data, struct dmab_hv_evtchn **out)
{
	struct dmab_hv_evtchn *chn = calloc(1, sizeof(*chn));
	if (!chn || push((void ***)&hv->chans, &hv->nchans, &hv->chans_cap, chn)) {
		free(chn);
		hv->impl->evtchn_close(hv, port);
		return -ENOMEM;
	}
	chn->hv = hv;
	chn->port = port;
	chn->fn = fn;
	chn->data = data;
	*out = chn;
	return 0;
}

int dmab_hv_evtchn_bind(struct dmab_hv *hv, domid_t remote,
		evtchn_port_t remote_port, dmab_hv_evtchn_fn fn, void *data,
		struct dmab_hv_evtchn **chn)
{
	evtchn_port_t port;
	int ret = hv->impl->evtchn_bind(hv, remote, remote_port, &port);
	if (ret)
		return ret;
	return evtchn_new(hv, port, fn, data, chn);
}

int dmab_hv_evtchn_alloc(struct dmab_hv *hv, domid_t remote,
		dmab_hv_evtchn_fn fn, void *data, struct dmab_hv_evtchn **chn)
{
	evtchn_port_t port;
	int ret = hv->impl->evtchn_alloc(hv, remote, &port);
	if (ret)
		return ret;
	return evtchn_new(hv, port, fn, data, chn);
}

evtchn_port_t dmab_hv_evtchn_port(const struct dmab_hv_evtchn *chn)
{
	return chn->port;
}

int dmab_hv_evtchn_notify(struct dmab_hv_evtchn *chn)
{
	return chn->hv->impl->evtchn_notify(chn->hv, chn->port);
}

void dmab_hv_evtchn_close(struct dmab_hv_evtchn *chn)
{
	if (!chn)
		return;
	struct dmab_hv *hv = chn->hv;
	hv->impl->evtchn_close(hv, chn->port);
	drop((void **)hv->chans, &hv->nchans, chn);
	free(chn);
}

void dmab_hv_deliver_event(struct dmab_hv *hv, evtchn_port_t port)
{
	for (size_t i = 0; i < hv->nchans; i++) {
		struct dmab_hv_evtchn *chn = hv->chans[i];
		if (chn->port == port) {
			chn->fn(chn->data);
			return;
		}
	}
}

int dmab_hv_grant_map(struct dmab_hv *hv, domid_t domid, uint32_t count,
		const grant_ref_t *refs, bool writable, void **addr)
{
	if (count == 0)
		return -EINVAL;
	return hv->impl->grant_map(hv, domid, count, refs, writable, addr);
}

int dmab_hv_grant_unmap(struct dmab_hv *hv, void *addr, uint32_t count)
{
	return hv->impl->grant_unmap(hv, addr, count);
}

int dmab_hv_share_alloc(struct dmab_hv *hv, domid_t remote, uint32_t count,
		uint32_t flags, grant_ref_t *refs, void **addr)
{
	if (count == 0)
		return -EINVAL;
	return hv->impl->share_alloc(hv, remote, count, flags, refs, addr);
}

int dmab_hv_share_free(struct dmab_hv *hv, void *addr, uint32_t count)
{
	return hv->impl->share_free(hv, addr, count);
}

int dmab_hv_dmabuf_exp_from_refs(struct dmab_hv *hv, domid_t domid,
		uint32_t count, const grant_ref_t *refs, int *fd)
{
	if (count == 0)
		return -EINVAL;
	return hv->impl->dmabuf_exp_from_refs(hv, domid, count, refs, fd);
}

int dmab_hv_dmabuf_exp_wait_released(struct dmab_hv *hv, int fd,
		uint32_t timeout_ms)
{
	int ret = hv->impl->dmabuf_exp_wait_released(hv, fd, timeout_ms);
	return ret == -ENOENT ? 0 : ret;
}

int dmab_hv_dmabuf_imp_to_refs(struct dmab_hv *hv, domid_t domid, int fd,
		uint32_t count, grant_ref_t *refs)
{
	if (count == 0)
		return -EINVAL;
	return hv->impl->dmabuf_imp_to_refs(hv, domid, fd, count, refs);
}

int dmab_hv_dmabuf_imp_release(struct dmab_hv *hv, int fd)
{
	return hv->impl->dmabuf_imp_release(hv, fd);
}
