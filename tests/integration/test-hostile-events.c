// SPDX-License-Identifier: MIT
/*
 * Hostile guests: the event page. The server produces page-flip events
 * into a page the guest consumes (in_cons is the guest's to write).
 * - A guest that flips on and on and never consumes: its page fills (63
 *   events), then the server drops events and counts them (statistics
 *   "events_dropped"), keeps answering and presenting its flips, never
 *   waits for it; once the guest consumes, events flow again, their ids
 *   still consecutive.
 * - A guest that writes an impossible in_cons (ahead of in_prod, or more
 *   than a page behind): dropped (Closing), with a log line naming it, and
 *   nothing more is written into its page.
 *
 * Without these defences: a server that waits for room in the event page
 * hangs on the first guest that stops reading (every guest's display
 * freezes); one that writes anyway overwrites events the guest has not
 * read, and with an impossible in_cons computes a free space of ~4 billion
 * slots and keeps writing (over the ring's own indices when the index is
 * used unmasked).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <drm_fourcc.h>

#include "tests/integration/evil.h"

#define FLIPS 150

struct shown {
	struct dmab_client *c;
	struct dmab_client_buffer *b[2];
	uint64_t fb[2];
	unsigned int dom;
	char conn[32];
	struct xendispl_event_page *page;
};

/* Two framebuffers, the connector showing the first. */
static int setup(struct evil_env *env, struct shown *s)
{
	if (evil_connect(env, false, 1, &s->c))
		return 1;
	s->dom = dmab_client_domid(s->c);
	snprintf(s->conn, sizeof(s->conn), "%u/0/0", s->dom);
	s->page = dmab_frontend_event_page(s->c, 0);
	for (int i = 0; i < 2; i++) {
		if (dmab_client_buffer_create(s->c, 64, 32, DRM_FORMAT_XRGB8888, &s->b[i]))
			return 1;
		s->fb[i] = dmab_frontend_fb_cookie(s->b[i]);
		dmab_ts_fill(dmab_client_buffer_data(s->b[i]), dmab_client_buffer_stride(s->b[i]),
			64, 32, i);
	}
	if (dmab_client_set_config(s->c, 0, s->b[0], 0, 0))
		return 1;
	evil_sleep_ms(40);
	return 0;
}

/* PG_FLIP sent raw: the library would wait for the event, and consume it. */
static int32_t flip(struct shown *s, int i)
{
	struct xendispl_req r;
	dmab_fe_req_pg_flip(&r, s->fb[i % 2]);
	return evil_call(s->c, 0, &r);
}

static uint32_t in_prod(const struct shown *s)
{
	return __atomic_load_n(&s->page->in_prod, __ATOMIC_ACQUIRE);
}

static bool wait_events(const struct shown *s, uint32_t n, uint32_t timeout_ms)
{
	uint64_t deadline = dmab_ts_now_ms() + timeout_ms;
	while (in_prod(s) < n) {
		if (dmab_ts_now_ms() >= deadline)
			return false;
		evil_sleep_ms(2);
	}
	return true;
}

static int never_consumes(struct evil_env *env, void *data)
{
	struct shown s;
	if (setup(env, &s))
		return 100;
	struct dmab_test_server *srv = &env->server;
	int fails = 0;

	/* One flip per refresh or so, each answered at once although nobody reads. */
	for (int i = 1; i <= FLIPS && !fails; i++) {
		int32_t status = flip(&s, i);
		fails += EVIL_CHECK(status == 0, "PG_FLIP %d: %s", i, evil_status_name(status));
		evil_sleep_ms(17);
	}
	evil_sleep_ms(50);
	uint32_t prod = in_prod(&s), cons = s.page->in_cons;
	int64_t dropped = evil_stat(srv, s.conn, "events_dropped");
	int64_t frames = evil_stat(srv, s.conn, "frames");
	fprintf(stderr, "in_prod %u, in_cons %u, %lld dropped, %lld frames\n", prod, cons,
		(long long)dropped, (long long)frames);
	fails += EVIL_CHECK(cons == 0 && prod == XENDISPL_IN_RING_LEN,
		"the event page is at %u/%u, not full (%u)", prod, cons,
		(unsigned int)XENDISPL_IN_RING_LEN);
	fails += EVIL_CHECK(dropped >= FLIPS / 3, "only %lld events dropped", (long long)dropped);
	fails += EVIL_CHECK(frames >= FLIPS / 2, "only %lld of %d flips presented",
		(long long)frames, FLIPS);
	fails += EVIL_CHECK(evil_log_count(srv, "dom%u/vdispl0/0: event page full: the guest "
		"does not consume events", s.dom) >= 1, "no log line for the full event page");
	for (uint32_t i = 0; i < XENDISPL_IN_RING_LEN; i++) {
		const struct xendispl_evt *e = &XENDISPL_IN_RING_REF(s.page, i);
		if (e->id != i || e->type != XENDISPL_EVT_PG_FLIP) {
			fails += EVIL_CHECK(false, "event %u has id %u type %u", i, e->id, e->type);
			break;
		}
	}

	/* Consumed: events come again, and the ids go on from the last delivered. */
	dmab_client_dispatch(s.c);
	fails += EVIL_CHECK(s.page->in_cons == XENDISPL_IN_RING_LEN, "the library consumed "
		"up to %u", s.page->in_cons);
	fails += EVIL_CHECK(flip(&s, 0) == 0, "PG_FLIP after consuming");
	fails += EVIL_CHECK(wait_events(&s, XENDISPL_IN_RING_LEN + 1, 2000),
		"no event after the guest consumed");
	const struct xendispl_evt *e = &XENDISPL_IN_RING_REF(s.page, XENDISPL_IN_RING_LEN);
	fails += EVIL_CHECK(e->id == XENDISPL_IN_RING_LEN && e->op.pg_flip.fb_cookie == s.fb[0],
		"the next event has id %u for 0x%llx", e->id,
		(unsigned long long)e->op.pg_flip.fb_cookie);
	char state[32];
	bool connected = false;
	fails += EVIL_CHECK(evil_guest_state(srv, s.dom, state, sizeof(state), &connected) == 0 &&
		connected, "a guest that did not read its events was dropped");
	return fails;
}

/* One event delivered, then in_cons set to prod + delta: dropped at the next. */
static int impossible(struct evil_env *env, int32_t delta, const char *what)
{
	struct shown s;
	if (setup(env, &s))
		return 100;
	int fails = 0;
	fails += EVIL_CHECK(flip(&s, 1) == 0, "PG_FLIP");
	fails += EVIL_CHECK(wait_events(&s, 1, 2000), "no event");
	uint32_t prod = in_prod(&s);
	fprintf(stderr, "in_cons %u -> %u: %s\n", s.page->in_cons, prod + (uint32_t)delta, what);
	__atomic_store_n(&s.page->in_cons, prod + (uint32_t)delta, __ATOMIC_RELEASE);
	/* Answered: the flip is fine, its event is what cannot be delivered. */
	fails += EVIL_CHECK(flip(&s, 0) == 0, "PG_FLIP with in_cons impossible");
	fails += EVIL_CHECK(evil_wait_dropped(&env->server, s.dom, 3000),
		"%s: the guest was not dropped", what);
	fails += EVIL_CHECK(evil_log_count(&env->server, "dom%u/vdispl0: dropping the connection: "
		"its event page's consumer index is impossible", s.dom) == 1,
		"%s: no log line naming the guest", what);
	evil_sleep_ms(50);
	fails += EVIL_CHECK(in_prod(&s) == prod, "%s: the server wrote events after all (%u, %u)",
		what, in_prod(&s), prod);
	return fails;
}

static int cons_ahead(struct evil_env *env, void *data)
{
	return impossible(env, 10, "in_cons ahead of in_prod");
}

static int cons_far_behind(struct evil_env *env, void *data)
{
	return impossible(env, -100, "in_cons more than a page behind");
}

int main(void)
{
	struct evil_env env;
	if (evil_env_start(&env, NULL))
		return 1;
	evil_env_hostile(&env, "events never consumed", never_consumes, NULL, 0, 60000);
	evil_env_hostile(&env, "in_cons ahead of in_prod", cons_ahead, NULL, 0, 30000);
	evil_env_hostile(&env, "in_cons far behind in_prod", cons_far_behind, NULL, 0, 30000);
	return evil_env_finish(&env) ? 1 : 0;
}
