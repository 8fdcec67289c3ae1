// SPDX-License-Identifier: MIT
/*
 * Hostile guests: a request rewritten while the server reads it. A thread
 * of the hostile guest rewrites the ring slot of the request in flight, in
 * a tight loop, alternating two complete requests, and rewrites the page
 * directory the request names (refs to 0 and back, the next-page link to
 * itself and back), while the main thread sends request after request.
 *
 * The server copies each request out of the ring once (protocol/ring.c) and
 * walks each directory page from a copy (protocol/pgdir.c): whatever it
 * answers must be explained by one version of the request, never by a
 * mix of what two reads saw:
 * - GET_EDID (id 2k) against PG_FLIP of an unknown cookie (id 2k+1): an
 *   answer with GET_EDID's id and PG_FLIP's operation (or the reverse), a
 *   PG_FLIP answered with an EDID size, a GET_EDID answered -XEN_ENOENT,
 *   are answers built from two reads of the slot (id and operation are one
 *   8-octet word, written whole);
 * - DBUF_CREATE of 16 KiB (id 2k) against the same with 2 GiB (id 2k+1,
 *   -XEN_E2BIG): a buffer the server then lists must be the 16 KiB one. A
 *   size checked in one read and used from another would create a 2 GiB
 *   buffer over 4 pages: the copy path then reads far past the mapping.
 * No ASan or UBSan report either (dmabridged must stop cleanly).
 *
 * Without the single copy (a decoder reading the shared slot field by
 * field, as the ring macros invite): the checks pass on one value and the
 * server acts on another, i.e. every size and bound check can be bypassed
 * by a guest that wins a race, which on two CPUs it does within seconds.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <drm_fourcc.h>

#include "tests/integration/evil.h"

#define LIMITS "[limits]\nrequests-per-second = 0\nmax-buffers = 4096\n"
#define RING_SLOTS 32u
#define NEVER_GRANTED 0x00fffff0u
#define SMALL 16384u
#define HUGE 0x7fff0000u
#define RUN_MS 1500

enum phase { PHASE_IDLE, PHASE_EDID, PHASE_CREATE, PHASE_STOP };

/* The job: phase, iteration k and ring index, in one word so they agree. */
static uint64_t job_pack(enum phase ph, uint32_t k, RING_IDX idx)
{
	return (uint64_t)ph << 56 | (uint64_t)(k & 0xffffff) << 32 | idx;
}

struct race {
	struct xen_displif_sring *sring;
	struct xendispl_page_directory *dir;
	grant_ref_t dir_ref;
	grant_ref_t refs[4];            /* what the directory lists when it is right */
	grant_ref_t edid_dir_ref;
	uint64_t cookie_base;
	_Atomic uint64_t job;
	atomic_int writing;
	atomic_ulong rewrites;
};

/*
 * The versions of request k in phase ph: x the good one, y and z refused
 * (for GET_EDID, z is x again).
 */
static void images(const struct race *r, enum phase ph, uint32_t k,
		struct xendispl_req *x, struct xendispl_req *y, struct xendispl_req *z)
{
	memset(x, 0xc5, sizeof(*x));
	memset(y, 0xd6, sizeof(*y));
	x->id = (uint16_t)(2 * k) & 0x7fff;
	y->id = (uint16_t)(2 * k + 1) & 0x7fff;
	if (ph == PHASE_EDID) {
		x->operation = XENDISPL_OP_GET_EDID;
		x->op.get_edid.buffer_sz = XENDISPL_EDID_BLOCK_SIZE;
		x->op.get_edid.gref_directory = r->edid_dir_ref;
		y->operation = XENDISPL_OP_PG_FLIP;
		y->op.pg_flip.fb_cookie = 0xbad0000000000000ull | k;
		*z = *x;
		return;
	}
	memset(z, 0xe7, sizeof(*z));
	z->id = y->id;
	struct xendispl_req *v[3] = { x, y, z };
	for (int i = 0; i < 3; i++) {
		struct xendispl_dbuf_create_req *d = &v[i]->op.dbuf_create;
		v[i]->operation = XENDISPL_OP_DBUF_CREATE;
		d->dbuf_cookie = r->cookie_base + k;
		/* y: too large (-XEN_E2BIG); z: rows that do not fit (-XEN_EINVAL). */
		d->width = i == 2 ? 128 : 64;
		d->height = 64;
		d->bpp = 32;
		d->buffer_sz = i == 1 ? HUGE : SMALL;
		d->flags = 0;
		d->gref_directory = r->dir_ref;
		d->data_ofs = 0;
	}
}

/* Compiler barrier: each store below must reach the page. */
static void barrier(void)
{
	atomic_signal_fence(memory_order_seq_cst);
}

static void *rewriter(void *data)
{
	struct race *r = data;
	for (;;) {
		uint64_t job = atomic_load(&r->job);
		enum phase ph = (enum phase)(job >> 56);
		if (ph == PHASE_STOP)
			return NULL;
		if (ph == PHASE_IDLE) {
			sched_yield();
			continue;
		}
		uint32_t k = (uint32_t)(job >> 32) & 0xffffff;
		RING_IDX idx = (RING_IDX)job;
		struct xendispl_req x, y, z;
		images(r, ph, k, &x, &y, &z);
		struct xendispl_req *slot = &r->sring->ring[idx % RING_SLOTS].req;
		struct xendispl_page_directory *dir = ph == PHASE_EDID ?
			(struct xendispl_page_directory *)((uint8_t *)r->dir + DMAB_XEN_PAGE_SIZE) :
			r->dir;
		grant_ref_t self = ph == PHASE_EDID ? r->edid_dir_ref : r->dir_ref;
		grant_ref_t good = ph == PHASE_EDID ? dir->gref[0] : r->refs[1];
		unsigned int gref = ph == PHASE_EDID ? 0 : 1;

		atomic_store(&r->writing, 1);
		unsigned long n = 0;
		while (atomic_load(&r->job) == job) {
			/* Its response is out: leave the slot to it. */
			RING_IDX rsp = __atomic_load_n(&r->sring->rsp_prod, __ATOMIC_ACQUIRE);
			if ((int32_t)(rsp - idx) > 0)
				continue;
			memcpy(slot, &x, sizeof(x));
			barrier();
			__atomic_store_n(&dir->gref[gref], n % 3 == 0 ? 0 : NEVER_GRANTED,
				__ATOMIC_RELAXED);
			__atomic_store_n(&dir->gref_dir_next_page, self, __ATOMIC_RELAXED);
			barrier();
			memcpy(slot, &y, sizeof(y));
			barrier();
			__atomic_store_n(&dir->gref[gref], good, __ATOMIC_RELAXED);
			__atomic_store_n(&dir->gref_dir_next_page, 0, __ATOMIC_RELAXED);
			barrier();
			memcpy(slot, &z, sizeof(z));
			barrier();
			n++;
		}
		atomic_fetch_add(&r->rewrites, n);
		atomic_store(&r->writing, 0);
	}
}

/* Stop rewriting and wait until the thread is out of the slot. */
static void idle(struct race *r)
{
	atomic_store(&r->job, job_pack(PHASE_IDLE, 0, 0));
	while (atomic_load(&r->writing))
		sched_yield();
}

/* A response the thread wrote over (it saw rsp_prod too late): not the server's. */
static bool clobbered(const struct xendispl_resp *resp)
{
	const uint8_t *b = (const uint8_t *)resp;
	if (b[3])
		return true;
	for (size_t i = 12; i < sizeof(*resp); i++) {
		if (b[i])
			return true;
	}
	return false;
}

/*
 * Responses share the ring's slots with requests: the answer to the request
 * in slot i goes into slot i, where the thread is still rewriting the
 * request. So that the answers can be read, a FB_DETACH of a framebuffer on
 * screen is kept waiting (the display lets go of it at its next refresh):
 * while it waits, every answer goes into the slot before its request's. A
 * "window" is the time that FB_DETACH waits.
 */
#define DETACH_ID 0xd000

struct window {
	uint64_t dbuf;                  /* what the framebuffers on screen are made of */
	bool open;
};

static int window_open(struct dmab_client *c, struct window *w)
{
	struct xendispl_req r;
	uint64_t fb = evil_cookie();
	int fails = 0;
	dmab_fe_req_fb_attach(&r, w->dbuf, fb, 64, 32, DRM_FORMAT_XRGB8888);
	fails += evil_expect(c, "FB_ATTACH", &r, 0);
	dmab_fe_req_set_config(&r, fb, 0, 0, 64, 32, 32);
	fails += EVIL_CHECK(evil_call(c, 0, &r) == 0, "SET_CONFIG failed");
	evil_sleep_ms(50); /* on screen */
	dmab_fe_req_fb_detach(&r, fb);
	r.id = DETACH_ID;
	fails += EVIL_CHECK(dmab_frontend_put(c, 0, &r, true) == 0, "cannot put FB_DETACH");
	w->open = !fails;
	return fails;
}

/* The window's FB_DETACH answered: fine if 0. */
static int window_closed(struct window *w, const struct xendispl_resp *resp)
{
	w->open = false;
	if (clobbered(resp))
		return 0;       /* written over: it came in while the thread still wrote */
	return EVIL_CHECK(resp->status == 0, "the waiting FB_DETACH was answered %s",
		evil_status_name(resp->status));
}

static bool is_detach(const struct xendispl_resp *resp)
{
	return resp->id == DETACH_ID && resp->operation == XENDISPL_OP_FB_DETACH;
}

/*
 * One request, rewritten while in flight. 1 with *resp the server's answer,
 * 0 when it was written over (skip it), -1 without an answer.
 */
static int send_rewritten(struct dmab_client *c, struct race *r, struct window *w,
		enum phase ph, uint32_t k, struct xendispl_resp *resp, int *fails)
{
	RING_IDX idx = __atomic_load_n(&r->sring->req_prod, __ATOMIC_RELAXED);
	struct xendispl_req x, y, z;
	images(r, ph, k, &x, &y, &z);
	atomic_store(&r->job, job_pack(ph, k, idx));
	int ret = dmab_frontend_put(c, 0, &x, true);
	struct xendispl_resp first;
	if (ret == 0)
		ret = dmab_frontend_get_response(c, 0, &first, 3000);
	/*
	 * The answer before ours is in the slot before ours, which the thread
	 * does not write: if it is not ours, it is the window's FB_DETACH
	 * (written over only if it came while the thread did the last request).
	 */
	bool closed = ret == 0 && (clobbered(&first) || is_detach(&first));
	if (closed) {
		*fails += window_closed(w, &first);
		ret = dmab_frontend_get_response(c, 0, resp, 3000);
	} else if (ret == 0) {
		*resp = first;
	}
	idle(r);
	if (ret) {
		fprintf(stderr, "request %u: %s\n", k, strerror(-ret));
		return -1;
	}
	return clobbered(resp) ? 0 : 1;
}

/* Close the window at the end of a phase: wait for its FB_DETACH. */
static int window_finish(struct dmab_client *c, struct window *w)
{
	if (!w->open)
		return 0;
	struct xendispl_resp resp;
	int ret = dmab_frontend_get_response(c, 0, &resp, 3000);
	if (ret)
		return EVIL_CHECK(false, "the waiting FB_DETACH was not answered: %s",
			strerror(-ret));
	/* Written over if it came while the thread still wrote the last request. */
	int fails = EVIL_CHECK(clobbered(&resp) || is_detach(&resp), "an answer with id %u "
		"op 0x%02x instead of the FB_DETACH", resp.id, resp.operation);
	return fails + window_closed(w, &resp);
}

struct tally {
	unsigned long sent, clobbered, x, y, x_failed, windows;
};

static int edid_phase(struct dmab_client *c, struct race *r, struct window *w,
		struct tally *t)
{
	int fails = 0;
	uint64_t end = dmab_ts_now_ms() + RUN_MS;
	for (uint32_t k = 1; dmab_ts_now_ms() < end && fails < 5; k++) {
		if (!w->open) {
			t->windows++;
			if ((fails += window_open(c, w)))
				break;
		}
		struct xendispl_resp resp;
		int got = send_rewritten(c, r, w, PHASE_EDID, k, &resp, &fails);
		if (got < 0)
			return fails + 1;
		t->sent++;
		if (!got) {
			t->clobbered++;
			continue;
		}
		uint16_t idx = (uint16_t)(2 * k) & 0x7fff, idy = (uint16_t)(2 * k + 1) & 0x7fff;
		if (resp.id == idx && resp.operation == XENDISPL_OP_GET_EDID) {
			t->x++;
			bool ok = (resp.status == 0 &&
					resp.op.get_edid.edid_sz == XENDISPL_EDID_BLOCK_SIZE) ||
				(resp.status == -XEN_EINVAL && resp.op.get_edid.edid_sz == 0);
			t->x_failed += resp.status != 0;
			fails += EVIL_CHECK(ok, "GET_EDID %u answered %s with edid_sz %u", k,
				evil_status_name(resp.status), resp.op.get_edid.edid_sz);
		} else if (resp.id == idy && resp.operation == XENDISPL_OP_PG_FLIP) {
			t->y++;
			fails += EVIL_CHECK(resp.status == -XEN_ENOENT &&
				resp.op.get_edid.edid_sz == 0, "PG_FLIP %u answered %s with %u",
				k, evil_status_name(resp.status), resp.op.get_edid.edid_sz);
		} else {
			fails += EVIL_CHECK(false, "request %u (ids %u/%u) answered with id %u, "
				"operation 0x%02x, %s: not one version of it", k, idx, idy, resp.id,
				resp.operation, evil_status_name(resp.status));
		}
	}
	return fails + window_finish(c, w);
}

/*
 * Every buffer the server lists for domid but keep must be one of the race's
 * 16 KiB ones: destroy them. Failures.
 */
static int check_buffers(struct dmab_test_server *s, struct dmab_client *c, unsigned int domid,
		uint64_t keep, unsigned long *created)
{
	json_object *st = dmab_ts_ctl(s, "{\"cmd\":\"status\"}", -1), *guests, *v;
	int fails = 0;
	if (!st)
		return EVIL_CHECK(false, "no status");
	if (json_object_object_get_ex(st, "guests", &guests)) {
		for (size_t i = 0; i < json_object_array_length(guests); i++) {
			json_object *g = json_object_array_get_idx(guests, i), *bufs;
			if (!json_object_object_get_ex(g, "domid", &v) ||
					(unsigned int)json_object_get_int(v) != domid ||
					!json_object_object_get_ex(g, "buffers", &bufs))
				continue;
			for (size_t j = 0; j < json_object_array_length(bufs); j++) {
				json_object *b = json_object_array_get_idx(bufs, j), *ck, *size, *w, *h;
				if (!json_object_object_get_ex(b, "cookie", &ck) ||
						!json_object_object_get_ex(b, "size", &size) ||
						!json_object_object_get_ex(b, "width", &w) ||
						!json_object_object_get_ex(b, "height", &h))
					continue;
				uint64_t cookie = strtoull(json_object_get_string(ck), NULL, 16);
				if (cookie == keep)
					continue;
				(*created)++;
				fails += EVIL_CHECK(json_object_get_int64(size) == SMALL &&
					json_object_get_int64(w) == 64 && json_object_get_int64(h) == 64,
					"DBUF_CREATE made buffer 0x%llx of %lldx%lld, %lld octets",
					(unsigned long long)cookie, (long long)json_object_get_int64(w),
					(long long)json_object_get_int64(h),
					(long long)json_object_get_int64(size));
				struct xendispl_req d;
				dmab_fe_req_dbuf_destroy(&d, cookie);
				int32_t status = evil_call(c, 0, &d);
				fails += EVIL_CHECK(status == 0, "DBUF_DESTROY 0x%llx: %s",
					(unsigned long long)cookie, evil_status_name(status));
			}
		}
	}
	json_object_put(st);
	return fails;
}

static int create_phase(struct evil_env *env, struct dmab_client *c, struct race *r,
		struct window *w, struct tally *t)
{
	unsigned int dom = dmab_client_domid(c);
	unsigned long listed = 0;
	int fails = 0;
	uint64_t end = dmab_ts_now_ms() + RUN_MS;
	for (uint32_t k = 1; dmab_ts_now_ms() < end && fails < 5; k++) {
		if (!w->open) {
			/* What the last window created: the right buffers, then gone. */
			fails += check_buffers(&env->server, c, dom, w->dbuf, &listed);
			t->windows++;
			if ((fails += window_open(c, w)))
				break;
		}
		struct xendispl_resp resp;
		int got = send_rewritten(c, r, w, PHASE_CREATE, k, &resp, &fails);
		if (got < 0)
			return fails + 1;
		t->sent++;
		if (!got) {
			t->clobbered++;
			continue;
		}
		fails += EVIL_CHECK(resp.operation == XENDISPL_OP_DBUF_CREATE &&
			(resp.id == ((uint16_t)(2 * k) & 0x7fff) ||
			 resp.id == ((uint16_t)(2 * k + 1) & 0x7fff)),
			"DBUF_CREATE %u answered with id %u, operation 0x%02x", k, resp.id,
			resp.operation);
		if (resp.status == 0)
			t->x++;
		else if (resp.status == -XEN_E2BIG)
			t->y++;
		else if (resp.status == -XEN_EINVAL)
			t->x_failed++;      /* z, or a directory caught mid-rewrite */
		else
			fails += EVIL_CHECK(false, "DBUF_CREATE %u answered %s", k,
				evil_status_name(resp.status));
	}
	fails += window_finish(c, w);
	fails += check_buffers(&env->server, c, dom, w->dbuf, &listed);
	fails += EVIL_CHECK(listed >= t->x, "%lu buffers created, %lu listed", t->x, listed);
	return fails;
}

static int race(struct evil_env *env, void *data)
{
	struct dmab_client *c;
	if (evil_connect(env, false, 1, &c))
		return 100;
	unsigned int dom = dmab_client_domid(c);
	uint64_t t0 = dmab_ts_now_ms();
	struct dmab_hv *hv = dmab_frontend_hv(c);
	domid_t be = dmab_frontend_backend_domid(c);
	struct race r = { .sring = dmab_frontend_sring(c, 0), .cookie_base = evil_cookie() << 8 };
	int fails = 0;

	/* Four buffer pages, and two directory pages: one for buffers, one for EDIDs. */
	void *pages, *edid;
	grant_ref_t dir_refs[2], edid_ref;
	if (dmab_hv_share_alloc(hv, be, 4, DMAB_HV_SHARE_WRITABLE, r.refs, &pages) ||
			dmab_hv_share_alloc(hv, be, 1, DMAB_HV_SHARE_WRITABLE, &edid_ref, &edid) ||
			dmab_hv_share_alloc(hv, be, 2, 0, dir_refs, (void **)&r.dir))
		return 101;
	r.dir_ref = dir_refs[0];
	r.edid_dir_ref = dir_refs[1];
	memcpy(r.dir->gref, r.refs, sizeof(r.refs));
	((struct xendispl_page_directory *)((uint8_t *)r.dir + DMAB_XEN_PAGE_SIZE))->gref[0] =
		edid_ref;

	pthread_t thread;
	atomic_store(&r.job, job_pack(PHASE_IDLE, 0, 0));
	if (pthread_create(&thread, NULL, rewriter, &r))
		return 102;

	/* The buffer the windows' framebuffers are made of. */
	struct evil_pages disp;
	struct window w = { .dbuf = evil_cookie() };
	struct xendispl_req q;
	if (evil_pages_share(c, 64 * 32 * 4, &disp))
		return 103;
	evil_req_dbuf(&q, w.dbuf, 64, 32, &disp);
	fails += evil_expect(c, "a buffer to show", &q, 0);

	struct tally edid_t = { 0 }, create_t = { 0 };
	fails += edid_phase(c, &r, &w, &edid_t);
	fprintf(stderr, "GET_EDID/PG_FLIP: %lu sent in %lu windows, %lu rewritten answers "
		"skipped; GET_EDID %lu (%lu refused), PG_FLIP %lu; %lu rewrites\n", edid_t.sent,
		edid_t.windows, edid_t.clobbered, edid_t.x, edid_t.x_failed, edid_t.y,
		atomic_load(&r.rewrites));
	if (!fails)
		fails += create_phase(env, c, &r, &w, &create_t);
	fprintf(stderr, "DBUF_CREATE: %lu sent in %lu windows, %lu rewritten answers skipped; "
		"%lu created, %lu too large, %lu not fitting or bad directory\n", create_t.sent, create_t.windows,
		create_t.clobbered, create_t.x, create_t.y, create_t.x_failed);

	atomic_store(&r.job, job_pack(PHASE_STOP, 0, 0));
	pthread_join(thread, NULL);

	/* The race must have been run, both versions seen, most answers readable. */
	fails += EVIL_CHECK(edid_t.x > 0 && edid_t.y > 0 && create_t.x > 0 && create_t.y > 0,
		"the server never read one of the versions: the race did not happen");
	fails += EVIL_CHECK(edid_t.clobbered * 2 < edid_t.sent &&
		create_t.clobbered * 2 < create_t.sent, "most answers were written over");
	if (edid_t.x > edid_t.x_failed) {
		static const uint8_t header[8] = { 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0 };
		fails += EVIL_CHECK(!memcmp(edid, header, sizeof(header)),
			"the EDID the server wrote has no EDID header");
	}

	/* Nothing of it stayed: no buffer, nothing mapped. */
	dmab_fe_req_dbuf_destroy(&q, w.dbuf);
	fails += evil_expect(c, "DBUF_DESTROY of the buffer shown", &q, 0);
	fails += EVIL_CHECK(evil_pages_free(c, &disp) == 0, "the buffer shown is still mapped");
	memset(&q, 0, sizeof(q));
	q.operation = 0x7e;
	fails += evil_expect(c, "still served", &q, -XEN_EOPNOTSUPP);
	fails += EVIL_CHECK(dmab_hv_share_free(hv, pages, 4) == 0 &&
		dmab_hv_share_free(hv, r.dir, 2) == 0 && dmab_hv_share_free(hv, edid, 1) == 0,
		"the server still maps pages of the race");
	fails += evil_log_bounded(&env->server, dom, dmab_ts_now_ms() - t0);
	return fails;
}

int main(void)
{
	struct evil_env env;
	if (evil_env_start(&env, LIMITS))
		return 1;
	evil_env_hostile(&env, "requests rewritten in flight", race, NULL, 0, 60000);
	return evil_env_finish(&env) ? 1 : 0;
}
