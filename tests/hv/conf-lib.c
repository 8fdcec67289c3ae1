// SPDX-License-Identifier: MIT
/* The conformance suite's step helpers: results, mailbox, waits, resources. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/log.h"
#include "tests/hv/conformance.h"

/* How often a wait re-checks its condition when nothing arrives. */
#define POLL_SLICE_MS 50

/* ---- results ---- */

int conf_fail(struct conf *t, const char *file, int line, const char *fmt, ...)
{
	if (t->why[0])
		return CONF_FAIL;
	const char *base = strrchr(file, '/');
	int n = snprintf(t->why, sizeof(t->why), "%s:%d: ", base ? base + 1 : file, line);
	va_list args;
	va_start(args, fmt);
	if (n > 0 && (size_t)n < sizeof(t->why))
		vsnprintf(t->why + n, sizeof(t->why) - (size_t)n, fmt, args);
	va_end(args);
	return CONF_FAIL;
}

int conf_skip(struct conf *t, const char *fmt, ...)
{
	va_list args;
	va_start(args, fmt);
	vsnprintf(t->why, sizeof(t->why), fmt, args);
	va_end(args);
	return CONF_SKIP;
}

/* ---- paths ---- */

void conf_mailbox(char *buf, size_t len, domid_t domid)
{
	snprintf(buf, len, "/local/domain/%u/data/conformance", domid);
}

void conf_scratch_of(struct conf *t, domid_t domid, char *buf, size_t len)
{
	if (domid == 0)
		snprintf(buf, len, "/local/domain/0/conformance/%u", t->seq);
	else
		snprintf(buf, len, "/local/domain/%u/data/conformance/t/%u", domid, t->seq);
}

void conf_scratch(struct conf *t, char *buf, size_t len)
{
	conf_scratch_of(t, t->backend ? dmab_hv_domid(t->hv) : t->self, buf, len);
}

void conf_refs_format(char *buf, size_t len, const grant_ref_t *refs, uint32_t count)
{
	size_t pos = 0;
	buf[0] = '\0';
	for (uint32_t i = 0; i < count && pos < len; i++) {
		int n = snprintf(buf + pos, len - pos, "%s%u", i ? " " : "", refs[i]);
		if (n < 0)
			break;
		pos += (size_t)n;
	}
}

int conf_refs_parse(const char *s, grant_ref_t *refs, uint32_t max, uint32_t *count)
{
	uint32_t n = 0;
	while (*s) {
		char *end;
		errno = 0;
		unsigned long v = strtoul(s, &end, 10);
		if (end == s || errno || v > UINT32_MAX || n == max)
			return -EINVAL;
		refs[n++] = (grant_ref_t)v;
		s = end;
		while (*s == ' ')
			s++;
	}
	*count = n;
	return 0;
}

/* ---- waiting ---- */

static int guests_alive(struct conf *t)
{
	if (!t->backend || t->allow_death)
		return 0;
	for (unsigned int i = 0; i < t->nguests; i++)
		if (!dmab_hv_domain_alive(t->hv, t->guest[i]))
			return -1 - (int)i;
	return 0;
}

int conf_wait(struct conf *t, const char *what, conf_cond_fn cond, void *arg)
{
	uint64_t deadline = dmab_now_ms() + (uint64_t)t->timeout_ms;
	for (;;) {
		int ret = cond(t, arg);
		if (ret < 0)
			return ret;
		if (ret > 0)
			return 0;
		int dead = guests_alive(t);
		if (dead)
			return conf_fail(t, __FILE__, __LINE__, "guest %u died while waiting for %s",
				t->guest[-1 - dead], what);
		uint64_t now = dmab_now_ms();
		if (now >= deadline)
			return conf_fail(t, __FILE__, __LINE__, "timed out after %d ms waiting for %s",
				t->timeout_ms, what);
		uint64_t left = deadline - now;
		ret = harness_pump(t->hv, left < POLL_SLICE_MS ? (int)left : POLL_SLICE_MS);
		if (ret)
			return conf_fail(t, __FILE__, __LINE__, "dispatch: %s while waiting for %s",
				harness_errname(ret), what);
	}
}

struct count_arg {
	const unsigned int *counter;
	unsigned int target;
};

static int count_reached(struct conf *t, void *arg)
{
	struct count_arg *a = arg;
	return *a->counter >= a->target;
}

int conf_wait_count(struct conf *t, const char *what, const unsigned int *counter,
		unsigned int target)
{
	struct count_arg a = { counter, target };
	return conf_wait(t, what, count_reached, &a);
}

/* ---- mailbox ---- */

__attribute__((format(printf, 5, 0)))
static int put(struct conf *t, domid_t owner, const char *side, const char *key,
		const char *fmt, va_list args)
{
	char box[96], path[256], value[1024];
	conf_mailbox(box, sizeof(box), owner);
	snprintf(path, sizeof(path), "%s/%s/%u/%s", box, side, t->seq, key);
	vsnprintf(value, sizeof(value), fmt, args);
	int ret = dmab_hv_store_write(t->hv, DMAB_HV_NO_TX, path, value);
	if (ret)
		return conf_fail(t, __FILE__, __LINE__, "mailbox write %s: %s", path,
			harness_errname(ret));
	return 0;
}

int conf_fe_put(struct conf *t, const char *key, const char *fmt, ...)
{
	va_list args;
	va_start(args, fmt);
	int ret = put(t, t->self, "fe", key, fmt, args);
	va_end(args);
	return ret;
}

int conf_be_put(struct conf *t, unsigned int gi, const char *key, const char *fmt, ...)
{
	va_list args;
	va_start(args, fmt);
	int ret = put(t, t->guest[gi], "be", key, fmt, args);
	va_end(args);
	return ret;
}

struct get_arg {
	char path[256];
	char stop[256];         /* a node whose appearance ends the wait in failure */
	const char *stop_why;
	char **value;
};

static int node_there(struct conf *t, void *arg)
{
	struct get_arg *a = arg;
	char *v;
	int ret = dmab_hv_store_read(t->hv, DMAB_HV_NO_TX, a->path, &v);
	if (ret == 0) {
		if (a->value)
			*a->value = v;
		else
			free(v);
		return 1;
	}
	if (ret != -ENOENT)
		return conf_fail(t, __FILE__, __LINE__, "mailbox read %s: %s", a->path,
			harness_errname(ret));
	if (a->stop[0] && dmab_hv_store_read(t->hv, DMAB_HV_NO_TX, a->stop, &v) == 0) {
		/* The other side may have written the node just before it finished. */
		char *late;
		if (dmab_hv_store_read(t->hv, DMAB_HV_NO_TX, a->path, &late) == 0) {
			free(v);
			if (a->value)
				*a->value = late;
			else
				free(late);
			return 1;
		}
		int r = conf_fail(t, __FILE__, __LINE__, "%s (%s) while waiting for %s",
			a->stop_why, v, a->path);
		free(v);
		return r;
	}
	return 0;
}

static int get(struct conf *t, struct get_arg *a, const char *watch_path)
{
	struct conf_watch *w;
	/* The watch only wakes us up; node_there() reads what it needs. */
	int ret = conf_watch_add(t, watch_path, 0, &w);
	if (ret)
		return ret;
	ret = conf_wait(t, a->path, node_there, a);
	conf_watch_remove(w);
	return ret;
}

int conf_wait_node(struct conf *t, const char *path, char **value)
{
	struct get_arg a = { .value = value };
	snprintf(a.path, sizeof(a.path), "%s", path);
	return get(t, &a, path);
}

int conf_fe_get(struct conf *t, const char *key, char **value)
{
	struct get_arg a = { .value = value, .stop_why = "the backend gave up" };
	char box[96], dir[160];
	conf_mailbox(box, sizeof(box), t->self);
	snprintf(dir, sizeof(dir), "%s/be/%u", box, t->seq);
	snprintf(a.path, sizeof(a.path), "%s/%s", dir, key);
	snprintf(a.stop, sizeof(a.stop), "%s/abort", dir);
	return get(t, &a, dir);
}

int conf_be_get(struct conf *t, unsigned int gi, const char *key, char **value)
{
	struct get_arg a = { .value = value, .stop_why = "the guest finished" };
	char box[96], dir[160];
	conf_mailbox(box, sizeof(box), t->guest[gi]);
	snprintf(dir, sizeof(dir), "%s/fe/%u", box, t->seq);
	snprintf(a.path, sizeof(a.path), "%s/%s", dir, key);
	if (strcmp(key, "result") != 0)
		snprintf(a.stop, sizeof(a.stop), "%s/result", dir);
	return get(t, &a, dir);
}

/* ---- resources ---- */

enum res_kind { RES_WATCH, RES_CHAN, RES_SHARE, RES_MAP, RES_FD, RES_IMPORT, RES_EXPORT, RES_MMAP };

struct conf_res {
	enum res_kind kind;
	void *ptr;              /* watch, channel, or address */
	size_t len;             /* pages for shares and maps, octets for mmaps */
	int fd;
};

static int track(struct conf *t, enum res_kind kind, void *ptr, size_t len, int fd)
{
	if (t->nres == t->res_cap) {
		size_t cap = t->res_cap ? t->res_cap * 2 : 16;
		struct conf_res *grown = realloc(t->res, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		t->res = grown;
		t->res_cap = cap;
	}
	t->res[t->nres++] = (struct conf_res){ kind, ptr, len, fd };
	return 0;
}

static void untrack(struct conf *t, enum res_kind kind, const void *ptr, int fd)
{
	for (size_t i = t->nres; i-- > 0; ) {
		struct conf_res *r = &t->res[i];
		if (r->kind == kind && r->ptr == ptr && r->fd == fd) {
			memmove(r, r + 1, (t->nres - i - 1) * sizeof(*r));
			t->nres--;
			return;
		}
	}
}

static void handle_watch(void *data, const char *path)
{
	struct conf_watch *w = data;
	if (w->count < sizeof(w->paths) / sizeof(w->paths[0]))
		snprintf(w->paths[w->count], sizeof(w->paths[0]), "%s", path);
	w->count++;
	if (w->remove_at && w->count == w->remove_at) {
		dmab_hv_watch_remove(w->watch);
		w->watch = NULL;
	}
}

int conf_watch_add(struct conf *t, const char *path, unsigned int remove_at,
		struct conf_watch **out)
{
	struct conf_watch *w = calloc(1, sizeof(*w));
	if (!w || track(t, RES_WATCH, w, 0, -1)) {
		free(w);
		return conf_fail(t, __FILE__, __LINE__, "out of memory");
	}
	w->t = t;
	w->remove_at = remove_at;
	int ret = dmab_hv_watch_add(t->hv, path, handle_watch, w, &w->watch);
	if (ret) {
		w->watch = NULL;
		return conf_fail(t, __FILE__, __LINE__, "watch %s: %s", path, harness_errname(ret));
	}
	*out = w;
	return 0;
}

void conf_watch_remove(struct conf_watch *w)
{
	dmab_hv_watch_remove(w->watch);
	w->watch = NULL;
}

bool conf_watch_saw(const struct conf_watch *w, const char *path, bool below)
{
	size_t len = strlen(path);
	unsigned int n = w->count < 32 ? w->count : 32;
	for (unsigned int i = 0; i < n; i++) {
		const char *p = w->paths[i];
		if (strcmp(p, path) == 0)
			return true;
		if (below && strncmp(p, path, len) == 0 && p[len] == '/')
			return true;
	}
	return false;
}

static void handle_event(void *data)
{
	struct conf_chan *c = data;
	c->count++;
	if (c->close_at && c->count == c->close_at) {
		dmab_hv_evtchn_close(c->chn);
		c->chn = NULL;
	}
}

static struct conf_chan *chan_new(struct conf *t)
{
	struct conf_chan *c = calloc(1, sizeof(*c));
	if (!c || track(t, RES_CHAN, c, 0, -1)) {
		free(c);
		return NULL;
	}
	return c;
}

int conf_evtchn_alloc(struct conf *t, domid_t remote, struct conf_chan **out)
{
	struct conf_chan *c = chan_new(t);
	if (!c)
		return -ENOMEM;
	int ret = dmab_hv_evtchn_alloc(t->hv, remote, handle_event, c, &c->chn);
	if (ret)
		c->chn = NULL;
	else
		*out = c;
	return ret;
}

int conf_evtchn_bind(struct conf *t, domid_t remote, evtchn_port_t port,
		struct conf_chan **out)
{
	struct conf_chan *c = chan_new(t);
	if (!c)
		return -ENOMEM;
	int ret = dmab_hv_evtchn_bind(t->hv, remote, port, handle_event, c, &c->chn);
	if (ret)
		c->chn = NULL;
	else
		*out = c;
	return ret;
}

void conf_evtchn_close(struct conf_chan *c)
{
	dmab_hv_evtchn_close(c->chn);
	c->chn = NULL;
}

int conf_share(struct conf *t, domid_t remote, uint32_t count, uint32_t flags,
		grant_ref_t *refs, void **addr)
{
	int ret = dmab_hv_share_alloc(t->hv, remote, count, flags, refs, addr);
	if (ret == 0 && track(t, RES_SHARE, *addr, count, -1)) {
		dmab_hv_share_free(t->hv, *addr, count);
		return -ENOMEM;
	}
	return ret;
}

int conf_share_free(struct conf *t, void *addr, uint32_t count)
{
	int ret = dmab_hv_share_free(t->hv, addr, count);
	if (ret == 0)
		untrack(t, RES_SHARE, addr, -1);
	return ret;
}

int conf_map(struct conf *t, domid_t domid, uint32_t count, const grant_ref_t *refs,
		bool writable, void **addr)
{
	int ret = dmab_hv_grant_map(t->hv, domid, count, refs, writable, addr);
	if (ret == 0 && track(t, RES_MAP, *addr, count, -1)) {
		dmab_hv_grant_unmap(t->hv, *addr, count);
		return -ENOMEM;
	}
	return ret;
}

int conf_unmap(struct conf *t, void *addr, uint32_t count)
{
	int ret = dmab_hv_grant_unmap(t->hv, addr, count);
	if (ret == 0)
		untrack(t, RES_MAP, addr, -1);
	return ret;
}

/* How long Linux may take to end a grant that was mapped when it was released. */
#define DEFERRED_END_MS 5000

int conf_map_ended(struct conf *t, domid_t domid, uint32_t count, const grant_ref_t *refs)
{
	/*
	 * Linux ends a grant that is still mapped when its granter releases it
	 * later, from a timer that retries once a second (gnttab_add_deferred):
	 * until then Xen still maps it. The simulator ends it at once.
	 */
	for (int waited = 0;; waited += 100) {
		void *addr;
		int ret = conf_map(t, domid, count, refs, false, &addr);
		if (ret != 0 || t->sim || waited >= DEFERRED_END_MS)
			return ret;
		conf_unmap(t, addr, count);
		usleep(100 * 1000);
	}
}

void conf_own_fd(struct conf *t, int fd)
{
	if (track(t, RES_FD, NULL, 0, fd))
		close(fd);
}

void conf_close(struct conf *t, int fd)
{
	untrack(t, RES_FD, NULL, fd);
	close(fd);
}

int conf_imp_to_refs(struct conf *t, domid_t domid, int fd, uint32_t count,
		grant_ref_t *refs)
{
	int ret = dmab_hv_dmabuf_imp_to_refs(t->hv, domid, fd, count, refs);
	if (ret == 0 && track(t, RES_IMPORT, NULL, 0, fd)) {
		dmab_hv_dmabuf_imp_release(t->hv, fd);
		return -ENOMEM;
	}
	return ret;
}

int conf_imp_release(struct conf *t, int fd)
{
	int ret = dmab_hv_dmabuf_imp_release(t->hv, fd);
	if (ret == 0)
		untrack(t, RES_IMPORT, NULL, fd);
	return ret;
}

int conf_exp_from_refs(struct conf *t, domid_t domid, uint32_t count,
		const grant_ref_t *refs, int *fd)
{
	int ret = dmab_hv_dmabuf_exp_from_refs(t->hv, domid, count, refs, fd);
	if (ret == 0 && track(t, RES_EXPORT, NULL, 0, *fd)) {
		close(*fd);
		dmab_hv_dmabuf_exp_wait_released(t->hv, *fd, 0);
		return -ENOMEM;
	}
	return ret;
}

int conf_exp_close(struct conf *t, int fd, uint32_t timeout_ms)
{
	untrack(t, RES_EXPORT, NULL, fd);
	close(fd);
	return dmab_hv_dmabuf_exp_wait_released(t->hv, fd, timeout_ms);
}

void conf_own_mmap(struct conf *t, void *addr, size_t len)
{
	if (track(t, RES_MMAP, addr, len, -1))
		munmap(addr, len);
}

void conf_munmap(struct conf *t, void *addr, size_t len)
{
	untrack(t, RES_MMAP, addr, -1);
	munmap(addr, len);
}

void conf_cleanup(struct conf *t)
{
	while (t->nres) {
		struct conf_res r = t->res[--t->nres];
		switch (r.kind) {
		case RES_WATCH: {
			struct conf_watch *w = r.ptr;
			dmab_hv_watch_remove(w->watch);
			free(w);
			break;
		}
		case RES_CHAN: {
			struct conf_chan *c = r.ptr;
			dmab_hv_evtchn_close(c->chn);
			free(c);
			break;
		}
		case RES_SHARE:
			/* -EBUSY if the other side still maps them: dropped at destroy. */
			dmab_hv_share_free(t->hv, r.ptr, (uint32_t)r.len);
			break;
		case RES_MAP:
			dmab_hv_grant_unmap(t->hv, r.ptr, (uint32_t)r.len);
			break;
		case RES_FD:
			close(r.fd);
			break;
		case RES_IMPORT:
			dmab_hv_dmabuf_imp_release(t->hv, r.fd);
			break;
		case RES_EXPORT:
			close(r.fd);
			dmab_hv_dmabuf_exp_wait_released(t->hv, r.fd, 0);
			break;
		case RES_MMAP:
			munmap(r.ptr, r.len);
			break;
		}
	}
	free(t->res);
	t->res = NULL;
	t->res_cap = 0;
}

/* ---- store checks ---- */

int conf_check_read(struct conf *t, const char *file, int line, dmab_hv_tx_t tx,
		const char *path, const char *want)
{
	char *v = NULL;
	int ret = dmab_hv_store_read(t->hv, tx, path, &v);
	if (ret)
		return conf_fail(t, file, line, "read %s: %s, want \"%s\"", path,
			harness_errname(ret), want);
	bool ok = strcmp(v, want) == 0;
	if (!ok)
		conf_fail(t, file, line, "read %s = \"%.100s\", want \"%s\"", path, v, want);
	free(v);
	return ok ? 0 : CONF_FAIL;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int conf_check_dir(struct conf *t, const char *file, int line, dmab_hv_tx_t tx,
		const char *path, const char *want)
{
	char **names = NULL;
	unsigned int count = 0;
	int ret = dmab_hv_store_directory(t->hv, tx, path, &names, &count);
	if (ret)
		return conf_fail(t, file, line, "directory %s: %s, want \"%s\"", path,
			harness_errname(ret), want);
	qsort(names, count, sizeof(*names), cmp_names);
	char got[512] = "";
	size_t pos = 0;
	for (unsigned int i = 0; i < count && pos < sizeof(got); i++) {
		int n = snprintf(got + pos, sizeof(got) - pos, "%s%s", i ? " " : "", names[i]);
		if (n > 0)
			pos += (size_t)n;
	}
	free(names);
	if (strcmp(got, want) != 0)
		return conf_fail(t, file, line, "directory %s = \"%s\", want \"%s\" (sorted)",
			path, got, want);
	return 0;
}
