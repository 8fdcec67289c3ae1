// SPDX-License-Identifier: MIT
/*
 * Hostile guests: taking all of the server's time with legal requests.
 * dmabridged serves every guest from one thread, so one guest's requests
 * must never hold that thread for long: between two of them, the others'
 * refreshes, events and requests, and the control socket, must be served.
 *
 * 1. A ring that never runs empty: a guest refills its ring (GET_EDID, a
 *    directory walk and two mappings each) faster than the server drains
 *    it, with requests-per-second = 0 ("unlimited", a documented setting).
 *    The control socket must answer within 100 ms and the good guest's
 *    flips be presented within 250 ms all along.
 *    Today a connector that used its budget of 64 requests per turn
 *    (server/connector.c, REQUEST_BUDGET) queues the rest with
 *    wl_event_loop_add_idle(); libwayland's wl_event_loop_dispatch_idle()
 *    runs idle sources until there are none, also those added while it
 *    runs, so the next turn comes before any file descriptor or timer is
 *    looked at again: as long as the ring is never empty the server does
 *    nothing else. On top, one dmab_hv_dispatch() hands out up to 64
 *    notifications (hv/sim/host.c EVENTS_PER_DISPATCH, hv/xen.c
 *    MAX_EVENTS_PER_DISPATCH), each of which may start a turn of 64
 *    requests: thousands of requests between two visits of the main loop.
 * 2. Flips that each cost a full copy: where the host cannot use a guest's
 *    pages as a dma-buf (x86 Xen for every guest-allocated buffer; here the
 *    simulator without udmabuf) every PG_FLIP and SET_CONFIG copies the
 *    whole framebuffer into a host buffer at once (server/connector.c:
 *    dmab_fb_refresh() before dmab_oview_flip()). A guest with one
 *    framebuffer as large as the default limits allow (max-buffer-bytes,
 *    64 MiB; here 61 MiB) flips without waiting for events, within the
 *    default requests-per-second (2000), for 2 s. The good guest must keep
 *    half of its 60 frames a second and see every flip within 250 ms
 *    (on the Xen tier's emulated CPUs: see evil.h, slack).
 *    Today each of those flips is a 61 MiB memcpy on the server's thread,
 *    64 of them a turn: the other guest's display freezes for the whole
 *    flood. What would defend: copy a framebuffer once per refresh (when
 *    the view takes it), so that a flip replaced before the refresh costs
 *    nothing; count a turn's budget in octets copied, not in requests.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <drm_fourcc.h>

#include "tests/integration/evil.h"

#define RING_SLOTS 32u
#define RUN_MS 2000

/* ---- 1. a ring that never runs empty ---- */

struct feeder {
	struct dmab_client *client;
	struct xen_displif_sring *sring;
	struct xendispl_req req;
	atomic_int stop;
};

/* Refill every free slot, announce it, nap a little: the ring stays full. */
static void *feed(void *data)
{
	struct feeder *f = data;
	RING_IDX prod = __atomic_load_n(&f->sring->req_prod, __ATOMIC_ACQUIRE);
	while (!atomic_load(&f->stop)) {
		RING_IDX rsp = __atomic_load_n(&f->sring->rsp_prod, __ATOMIC_ACQUIRE);
		while (prod - rsp < RING_SLOTS) {
			f->req.id = (uint16_t)prod;
			memcpy(&f->sring->ring[prod % RING_SLOTS].req, &f->req, sizeof(f->req));
			prod++;
		}
		__atomic_store_n(&f->sring->req_prod, prod, __ATOMIC_SEQ_CST);
		dmab_frontend_notify(f->client, 0);
		struct timespec nap = { 0, 200000 };
		nanosleep(&nap, NULL);
	}
	return NULL;
}

static int never_empty(struct evil_env *env, void *data)
{
	struct feeder f = { 0 };
	if (evil_connect(env, false, 1, &f.client))
		return 100;
	struct evil_pages edid;
	if (evil_pages_share(f.client, XENDISPL_EDID_BLOCK_SIZE, &edid))
		return 101;
	f.sring = dmab_frontend_sring(f.client, 0);
	dmab_fe_req_get_edid(&f.req, XENDISPL_EDID_BLOCK_SIZE, edid.dir_refs[0]);

	int64_t frames0 = evil_good_frames(env);
	uint32_t wait0 = evil_good_max_wait_ms(env);
	uint64_t start = dmab_ts_now_ms(), worst = 0;
	RING_IDX rsp0 = f.sring->rsp_prod;
	pthread_t thread;
	if (pthread_create(&thread, NULL, feed, &f))
		return 102;
	while (dmab_ts_now_ms() < start + RUN_MS) {
		uint64_t t = dmab_ts_now_ms();
		json_object *st = dmab_ts_ctl(&env->server, "{\"cmd\":\"status\"}", -1);
		uint64_t latency = dmab_ts_now_ms() - t;
		if (st)
			json_object_put(st);
		if (latency > worst)
			worst = latency;
		evil_sleep_ms(50);
	}
	atomic_store(&f.stop, 1);
	pthread_join(thread, NULL);
	uint64_t elapsed = dmab_ts_now_ms() - start;
	int64_t frames = evil_good_frames(env) - frames0;
	uint32_t wait = evil_good_max_wait_ms(env);
	fprintf(stderr, "%u requests answered in %llu ms; the control socket took up to %llu ms; "
		"the good guest had %lld frames, waited up to %u ms for one (%u before)\n",
		f.sring->rsp_prod - rsp0, (unsigned long long)elapsed, (unsigned long long)worst,
		(long long)frames, wait, wait0);
	int fails = EVIL_CHECK(worst < 100 * env->slack, "the control socket took %llu ms to answer",
		(unsigned long long)worst);
	fails += EVIL_CHECK(wait < 250 * env->slack, "the good guest waited %u ms for a flip event",
		wait);
	return fails;
}

/* ---- 2. flips that each cost a full copy ---- */

#define SIDE 4000               /* 4000 x 4000 x 4: 61 MiB, below the default max-buffer-bytes */

static int copies(struct evil_env *env, void *data)
{
	struct dmab_client *c;
	if (evil_connect(env, false, 1, &c))
		return 100;
	struct evil_pages p;
	uint64_t dbuf = evil_cookie(), fb = evil_cookie();
	struct xendispl_req r;
	if (evil_pages_share(c, SIDE * SIDE * 4, &p))
		return 101;
	evil_req_dbuf(&r, dbuf, SIDE, SIDE, &p);
	int fails = evil_expect(c, "DBUF_CREATE of 61 MiB", &r, 0);
	dmab_fe_req_fb_attach(&r, dbuf, fb, SIDE, SIDE, DRM_FORMAT_XRGB8888);
	fails += evil_expect(c, "FB_ATTACH", &r, 0);
	dmab_fe_req_set_config(&r, fb, 0, 0, EVIL_WIDTH, EVIL_HEIGHT, 32);
	fails += evil_expect(c, "SET_CONFIG", &r, 0);
	if (fails)
		return fails;

	/* The flips' cost, not the creation's (one request: 15625 grants to map). */
	evil_good_max_wait_reset(env);
	int64_t frames0 = evil_good_frames(env);
	uint64_t start = dmab_ts_now_ms(), end = start + RUN_MS;
	unsigned long sent = 0, answered = 0, busy = 0;
	while (dmab_ts_now_ms() < end || answered < sent) {
		bool more = false;
		while (dmab_ts_now_ms() < end && sent - answered < RING_SLOTS) {
			dmab_fe_req_pg_flip(&r, fb);
			r.id = (uint16_t)sent;
			if (dmab_frontend_put(c, 0, &r, false))
				return 102;
			sent++;
			more = true;
		}
		if (more)
			dmab_frontend_notify(c, 0);
		struct xendispl_resp resp;
		int ret = dmab_frontend_get_response(c, 0, &resp, 10000);
		if (ret)
			return fails + EVIL_CHECK(false, "no answer: %s", strerror(-ret));
		answered++;
		busy += resp.status == -XEN_EBUSY;
		fails += EVIL_CHECK(resp.status == 0 || resp.status == -XEN_EBUSY,
			"PG_FLIP answered %s", evil_status_name(resp.status));
	}
	uint64_t elapsed = dmab_ts_now_ms() - start;
	int64_t frames = evil_good_frames(env) - frames0;
	fprintf(stderr, "%lu flips of 61 MiB (%lu -XEN_EBUSY) in %llu ms; the good guest had "
		"%lld frames, waited up to %u ms for one\n", sent, busy, (unsigned long long)elapsed,
		(long long)frames, evil_good_max_wait_ms(env));
	fails += EVIL_CHECK(frames >= (int64_t)(elapsed * env->good_hz / 1000 / 2 / env->slack),
		"the good guest had %lld frames in %llu ms", (long long)frames,
		(unsigned long long)elapsed);
	fails += EVIL_CHECK(evil_good_max_wait_ms(env) < 250 * env->slack,
		"the good guest waited %u ms for a flip event", evil_good_max_wait_ms(env));
	return fails;
}

int main(void)
{
	struct evil_env env;
	int failures = 0;
	if (evil_env_start(&env, "[limits]\nrequests-per-second = 0\n"))
		return 1;
	evil_env_hostile(&env, "a ring that never runs empty", never_empty, NULL, 0, 60000);
	failures += evil_env_finish(&env);

	/* The default limits: nothing in the configuration allows this. */
	if (evil_env_start(&env, NULL))
		return 1;
	evil_env_hostile(&env, "flips that each cost a full copy", copies, NULL, 0, 120000);
	failures += evil_env_finish(&env);
	return failures ? 1 : 0;
}
