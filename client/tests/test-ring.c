// SPDX-License-Identifier: MIT
/*
 * The frontend ring code against the backend's (protocol/ring.c) on one
 * page: what one writes, the other must read, and what a broken backend
 * writes must not hang or fool the frontend.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client/request.h"
#include "client/ring.h"
#include "protocol/response.h"
#include "protocol/ring.h"

struct pair {
	void *page;
	struct dmab_fe_ring front;
	struct dmab_req_ring back;
};

static int pair_setup(void **state)
{
	struct pair *p = calloc(1, sizeof(*p));
	p->page = aligned_alloc(4096, 4096);
	memset(p->page, 0x5a, 4096);    /* what a reused page may hold */
	dmab_fe_ring_init(&p->front, p->page);
	dmab_req_ring_init(&p->back, p->page);
	*state = p;
	return 0;
}

static int pair_teardown(void **state)
{
	struct pair *p = *state;
	free(p->page);
	free(p);
	return 0;
}

static uint16_t send_flip(struct pair *p, uint64_t cookie, bool *notify)
{
	struct xendispl_req req;
	dmab_fe_req_pg_flip(&req, cookie);
	assert_int_equal(dmab_fe_ring_send(&p->front, &req, notify), 0);
	return req.id;
}

static void answer(struct pair *p, int32_t status, bool *notify)
{
	struct xendispl_req req;
	struct xendispl_resp resp;
	assert_int_equal(dmab_req_ring_get(&p->back, &req), 1);
	dmab_resp_encode(&resp, req.id, req.operation, status, 0);
	assert_int_equal(dmab_req_ring_put(&p->back, &resp, notify), 0);
}

static void test_round_trip(void **state)
{
	struct pair *p = *state;
	struct xendispl_resp resp;
	bool notify;

	for (int i = 0; i < 100; i++) {
		uint16_t id = send_flip(p, 0x1000 + i, &notify);
		assert_int_equal(id, i);
		/* The backend re-armed its notification with final_check. */
		assert_true(notify);
		assert_int_equal(dmab_fe_ring_take(&p->front, id, &resp), 0);

		struct xendispl_req req;
		assert_int_equal(dmab_req_ring_get(&p->back, &req), 1);
		assert_int_equal(req.op.pg_flip.fb_cookie, 0x1000 + i);
		/* Everything but id, operation and the cookie is 0, garbage or not. */
		for (size_t o = 3; o < sizeof(req); o++) {
			if (o < 8 || o >= 16)
				assert_int_equal(((uint8_t *)&req)[o], 0);
		}
		assert_int_equal(dmab_req_ring_get(&p->back, &req), 0);
		assert_false(dmab_req_ring_final_check(&p->back));

		dmab_resp_encode(&resp, req.id, req.operation, -XEN_EINVAL, 0);
		assert_int_equal(dmab_req_ring_put(&p->back, &resp, &notify), 0);
		/* Every response is notified: the frontend re-armed after each. */
		assert_true(notify);

		memset(&resp, 0, sizeof(resp));
		assert_int_equal(dmab_fe_ring_take(&p->front, id, &resp), 1);
		assert_int_equal(resp.id, id);
		assert_int_equal(resp.status, -XEN_EINVAL);
		assert_int_equal(dmab_fe_ring_take(&p->front, id, &resp), 0);
	}
}

static void test_stale_responses_dropped(void **state)
{
	struct pair *p = *state;
	struct xendispl_resp resp;
	bool notify;

	/* Request 0 timed out; its late answer comes with the answer to 1. */
	uint16_t old = send_flip(p, 1, &notify);
	uint16_t id = send_flip(p, 2, &notify);
	answer(p, -XEN_EBUSY, &notify);
	answer(p, 0, &notify);
	assert_int_not_equal(old, id);
	assert_int_equal(dmab_fe_ring_take(&p->front, id, &resp), 1);
	assert_int_equal(resp.id, id);
	assert_int_equal(resp.status, 0);

	/* Both were consumed: the ring has room for a full round again. */
	assert_int_equal(RING_FREE_REQUESTS(&p->front.front), RING_SIZE(&p->front.front));
}

static void test_too_many_responses(void **state)
{
	struct pair *p = *state;
	struct xendispl_resp resp;
	bool notify;

	uint16_t id = send_flip(p, 1, &notify);
	/* A backend publishing responses nobody asked for. */
	struct xen_displif_sring *sring = p->page;
	sring->rsp_prod = 5;
	assert_int_equal(dmab_fe_ring_take(&p->front, id, &resp), -EPROTO);
	assert_true(p->front.broken);
	/* And it stays broken: no request goes out on it any more. */
	struct xendispl_req req;
	dmab_fe_req_pg_flip(&req, 1);
	assert_int_equal(dmab_fe_ring_send(&p->front, &req, &notify), -EPROTO);
	assert_int_equal(dmab_fe_ring_take_any(&p->front, &resp), -EPROTO);
}

static void test_wrapped_garbage_producer(void **state)
{
	struct pair *p = *state;
	struct xendispl_resp resp;
	bool notify;

	uint16_t id = send_flip(p, 1, &notify);
	struct xen_displif_sring *sring = p->page;
	sring->rsp_prod = 0xfffffff0u; /* "behind" the consumer, i.e. far ahead */
	assert_int_equal(dmab_fe_ring_take(&p->front, id, &resp), -EPROTO);
}

static void test_ring_full(void **state)
{
	struct pair *p = *state;
	bool notify;
	unsigned int size = RING_SIZE(&p->front.front);

	for (unsigned int i = 0; i < size; i++)
		send_flip(p, i + 1, &notify);
	struct xendispl_req req;
	dmab_fe_req_pg_flip(&req, 99);
	assert_int_equal(dmab_fe_ring_send(&p->front, &req, &notify), -EBUSY);

	/* One answer frees one slot. */
	answer(p, 0, &notify);
	struct xendispl_resp resp;
	assert_int_equal(dmab_fe_ring_take(&p->front, 0, &resp), 1);
	assert_int_equal(dmab_fe_ring_send(&p->front, &req, &notify), 0);
}

static void test_take_any(void **state)
{
	struct pair *p = *state;
	struct xendispl_resp resp;
	bool notify;

	send_flip(p, 1, &notify);
	send_flip(p, 2, &notify);
	assert_int_equal(dmab_fe_ring_take_any(&p->front, &resp), 0);
	answer(p, 0, &notify);
	answer(p, -XEN_ENOENT, &notify);
	assert_int_equal(dmab_fe_ring_take_any(&p->front, &resp), 1);
	assert_int_equal(resp.id, 0);
	assert_int_equal(dmab_fe_ring_take_any(&p->front, &resp), 1);
	assert_int_equal(resp.id, 1);
	assert_int_equal(resp.status, -XEN_ENOENT);
	assert_int_equal(dmab_fe_ring_take_any(&p->front, &resp), 0);

	/* Re-armed: the next response is notified. */
	send_flip(p, 3, &notify);
	answer(p, 0, &notify);
	assert_true(notify);
}

static void test_raw_keeps_id(void **state)
{
	struct pair *p = *state;
	struct xendispl_req req, got;
	bool notify;

	memset(&req, 0xee, sizeof(req));
	req.id = 0x4242;
	assert_int_equal(dmab_fe_ring_send_raw(&p->front, &req, &notify), 0);
	assert_int_equal(dmab_req_ring_get(&p->back, &got), 1);
	assert_memory_equal(&req, &got, sizeof(req));
	/* The normal path's ids are unaffected. */
	assert_int_equal(send_flip(p, 1, &notify), 0);
}

struct evt_pair {
	void *page;
	struct dmab_fe_evt front;
	struct dmab_evt_ring back;
};

static int evt_setup(void **state)
{
	struct evt_pair *p = calloc(1, sizeof(*p));
	p->page = aligned_alloc(4096, 4096);
	memset(p->page, 0x5a, 4096);
	dmab_fe_evt_init(&p->front, p->page);
	dmab_evt_ring_init(&p->back, p->page);
	*state = p;
	return 0;
}

static int evt_teardown(void **state)
{
	struct evt_pair *p = *state;
	free(p->page);
	free(p);
	return 0;
}

static void test_events(void **state)
{
	struct evt_pair *p = *state;
	struct xendispl_evt evt;

	assert_int_equal(dmab_fe_evt_get(&p->front, &evt), 0);
	/* Several rounds of a full page, consumed in between. */
	for (uint64_t round = 0; round < 5; round++) {
		for (unsigned int i = 0; i < XENDISPL_IN_RING_LEN; i++)
			assert_int_equal(dmab_evt_ring_push_pg_flip(&p->back, round << 8 | i), 0);
		assert_int_equal(dmab_evt_ring_push_pg_flip(&p->back, 0), -ENOSPC);
		for (unsigned int i = 0; i < XENDISPL_IN_RING_LEN; i++) {
			assert_int_equal(dmab_fe_evt_get(&p->front, &evt), 1);
			assert_int_equal(evt.type, XENDISPL_EVT_PG_FLIP);
			assert_int_equal(evt.op.pg_flip.fb_cookie, round << 8 | i);
		}
		assert_int_equal(dmab_fe_evt_get(&p->front, &evt), 0);
	}
	assert_int_equal(p->front.id_gaps, 0);
	assert_int_equal(p->front.received, 5 * XENDISPL_IN_RING_LEN);
	struct xendispl_event_page *page = p->page;
	assert_int_equal(page->in_cons, page->in_prod);
}

static void test_event_producer_too_far(void **state)
{
	struct evt_pair *p = *state;
	struct xendispl_evt evt;
	struct xendispl_event_page *page = p->page;

	page->in_prod = XENDISPL_IN_RING_LEN + 1;
	assert_int_equal(dmab_fe_evt_get(&p->front, &evt), -EPROTO);
	assert_int_equal(page->in_cons, page->in_prod);
	assert_int_equal(dmab_fe_evt_get(&p->front, &evt), 0);

	/* A backend that lowers in_prod again ("minus one"): far ahead too. */
	page->in_prod -= 2;
	assert_int_equal(dmab_fe_evt_get(&p->front, &evt), -EPROTO);
	assert_int_equal(dmab_fe_evt_get(&p->front, &evt), 0);
}

static void test_event_id_gap(void **state)
{
	struct evt_pair *p = *state;
	struct xendispl_evt evt;
	struct xendispl_event_page *page = p->page;

	dmab_evt_encode_pg_flip(&XENDISPL_IN_RING_REF(page, 0), 0, 7);
	dmab_evt_encode_pg_flip(&XENDISPL_IN_RING_REF(page, 1), 5, 8);
	dmab_evt_encode_pg_flip(&XENDISPL_IN_RING_REF(page, 2), 6, 9);
	page->in_prod = 3;
	for (int i = 0; i < 3; i++)
		assert_int_equal(dmab_fe_evt_get(&p->front, &evt), 1);
	/* Given anyway, counted once, and followed. */
	assert_int_equal(evt.op.pg_flip.fb_cookie, 9);
	assert_int_equal(p->front.id_gaps, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_stale_responses_dropped, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_too_many_responses, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_wrapped_garbage_producer, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_ring_full, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_take_any, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_raw_keeps_id, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_events, evt_setup, evt_teardown),
		cmocka_unit_test_setup_teardown(test_event_producer_too_far, evt_setup, evt_teardown),
		cmocka_unit_test_setup_teardown(test_event_id_gap, evt_setup, evt_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
