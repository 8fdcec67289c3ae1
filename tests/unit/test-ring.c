// SPDX-License-Identifier: MIT
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/response.h"
#include "protocol/ring.h"

/* A frontend on the same page, driven with the ring.h macros as Linux does. */
struct pair {
	void *page;
	struct xen_displif_front_ring front;
	struct dmab_req_ring back;
};

static int pair_setup(void **state)
{
	struct pair *p = calloc(1, sizeof(*p));
	p->page = aligned_alloc(4096, 4096);
	memset(p->page, 0x5a, 4096);
	SHARED_RING_INIT((struct xen_displif_sring *)p->page);
	FRONT_RING_INIT(&p->front, (struct xen_displif_sring *)p->page, 4096);
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

static void front_push(struct pair *p, uint16_t id, uint64_t cookie)
{
	struct xendispl_req *req = RING_GET_REQUEST(&p->front, p->front.req_prod_pvt);
	req->id = id;
	req->operation = XENDISPL_OP_PG_FLIP;
	req->op.pg_flip.fb_cookie = cookie;
	p->front.req_prod_pvt++;
	int notify;
	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&p->front, notify);
	(void)notify;
}

static void respond(struct pair *p, uint16_t id, int32_t status)
{
	struct xendispl_resp resp;
	bool notify;
	dmab_resp_encode(&resp, id, XENDISPL_OP_PG_FLIP, status, 0);
	assert_int_equal(dmab_req_ring_put(&p->back, &resp, &notify), 0);
}

static void round_trip(void **state)
{
	struct pair *p = *state;
	struct xendispl_req req;

	assert_int_equal(dmab_req_ring_get(&p->back, &req), 0);
	assert_false(dmab_req_ring_final_check(&p->back));

	for (uint16_t i = 0; i < 3; i++)
		front_push(p, 100 + i, 1000 + i);
	for (uint16_t i = 0; i < 3; i++) {
		assert_int_equal(dmab_req_ring_get(&p->back, &req), 1);
		assert_int_equal(req.id, 100 + i);
		assert_int_equal(req.op.pg_flip.fb_cookie, 1000 + i);
	}
	assert_int_equal(dmab_req_ring_get(&p->back, &req), 0);
	assert_int_equal(dmab_req_ring_pending(&p->back), 3);

	/* Answered out of order: responses are matched by id. */
	respond(p, 102, 0);
	respond(p, 100, -XEN_EINVAL);
	respond(p, 101, 0);
	assert_int_equal(dmab_req_ring_pending(&p->back), 0);

	uint16_t seen[3];
	int n = 0;
	while (RING_HAS_UNCONSUMED_RESPONSES(&p->front)) {
		struct xendispl_resp *resp = RING_GET_RESPONSE(&p->front, p->front.rsp_cons);
		seen[n++] = resp->id;
		if (resp->id == 100)
			assert_int_equal(resp->status, -XEN_EINVAL);
		p->front.rsp_cons++;
	}
	assert_int_equal(n, 3);
	assert_int_equal(seen[0], 102);
	assert_int_equal(seen[2], 101);

	/* Nothing taken is left to answer. */
	struct xendispl_resp resp;
	bool notify;
	dmab_resp_encode(&resp, 1, XENDISPL_OP_PG_FLIP, 0, 0);
	assert_int_equal(dmab_req_ring_put(&p->back, &resp, &notify), -ENOSPC);
}

static void copy_once(void **state)
{
	struct pair *p = *state;
	struct xendispl_req req;
	front_push(p, 1, 0xabc);
	assert_int_equal(dmab_req_ring_get(&p->back, &req), 1);
	/* The frontend rewrites the slot after the backend took it. */
	RING_GET_REQUEST(&p->front, 0)->op.pg_flip.fb_cookie = 0xdead;
	RING_GET_REQUEST(&p->front, 0)->operation = 0xff;
	assert_int_equal(req.op.pg_flip.fb_cookie, 0xabc);
	assert_int_equal(req.operation, XENDISPL_OP_PG_FLIP);
}

static void full_ring_waits_for_responses(void **state)
{
	struct pair *p = *state;
	struct xendispl_req req;
	unsigned int size = RING_SIZE(&p->front);
	assert_int_equal(size, 32);

	for (unsigned int i = 0; i < size; i++)
		front_push(p, (uint16_t)i, i + 1);
	assert_true(RING_FULL(&p->front));
	for (unsigned int i = 0; i < size; i++)
		assert_int_equal(dmab_req_ring_get(&p->back, &req), 1);
	assert_int_equal(dmab_req_ring_get(&p->back, &req), 0);

	/* A slot freed by a response lets one more request in, no more. */
	respond(p, 0, 0);
	p->front.rsp_cons++;
	front_push(p, 999, 999);
	assert_int_equal(dmab_req_ring_get(&p->back, &req), 1);
	assert_int_equal(req.id, 999);
	assert_int_equal(dmab_req_ring_get(&p->back, &req), 0);
	assert_false(p->back.broken);
}

static void producer_overflow_is_hostile(void **state)
{
	struct pair *p = *state;
	struct xendispl_req req;
	struct xen_displif_sring *sring = p->page;

	/* Exactly a ring ahead is legal... */
	sring->req_prod = RING_SIZE(&p->back.back);
	assert_int_equal(dmab_req_ring_get(&p->back, &req), 1);
	/* ...one more is not. */
	sring->req_prod = p->back.back.rsp_prod_pvt + RING_SIZE(&p->back.back) + 1;
	assert_int_equal(dmab_req_ring_get(&p->back, &req), -EPROTO);
	assert_true(p->back.broken);
	/* Putting it right does not revive a broken ring. */
	sring->req_prod = 2;
	assert_int_equal(dmab_req_ring_get(&p->back, &req), -EPROTO);
	assert_false(dmab_req_ring_final_check(&p->back));
}

static void producer_behind_is_hostile(void **state)
{
	struct pair *p = *state;
	struct xendispl_req req;
	struct xen_displif_sring *sring = p->page;
	front_push(p, 1, 1);
	front_push(p, 2, 2);
	assert_int_equal(dmab_req_ring_get(&p->back, &req), 1);
	assert_int_equal(dmab_req_ring_get(&p->back, &req), 1);
	respond(p, 1, 0);
	respond(p, 2, 0);
	/* Moving the producer back looks like 2^32 - 1 new requests. */
	sring->req_prod = 1;
	assert_int_equal(dmab_req_ring_get(&p->back, &req), -EPROTO);
}

static void indices_wrap(void **state)
{
	struct pair *p = *state;
	struct xen_displif_sring *sring = p->page;
	struct xendispl_req req;
	RING_IDX start = 0xfffffff0u;

	sring->req_prod = sring->rsp_prod = start;
	sring->req_event = sring->rsp_event = start + 1;
	p->front.req_prod_pvt = p->front.rsp_cons = start;
	p->back.back.req_cons = p->back.back.rsp_prod_pvt = start;

	for (uint16_t i = 0; i < 100; i++) {
		front_push(p, i, i);
		front_push(p, i, i);
		assert_int_equal(dmab_req_ring_get(&p->back, &req), 1);
		assert_int_equal(dmab_req_ring_get(&p->back, &req), 1);
		assert_int_equal(req.id, i);
		respond(p, i, 0);
		respond(p, i, 0);
		p->front.rsp_cons += 2;
	}
	assert_false(p->back.broken);
	assert_true(p->back.back.req_cons < start);
}

static void notify_and_final_check(void **state)
{
	struct pair *p = *state;
	struct xendispl_req req;
	struct xendispl_resp resp;
	bool notify;

	front_push(p, 1, 1);
	assert_int_equal(dmab_req_ring_get(&p->back, &req), 1);
	/* The frontend waits for response 1: rsp_event is rsp_cons + 1. */
	dmab_resp_encode(&resp, 1, XENDISPL_OP_PG_FLIP, 0, 0);
	assert_int_equal(dmab_req_ring_put(&p->back, &resp, &notify), 0);
	assert_true(notify);

	assert_false(dmab_req_ring_final_check(&p->back));
	front_push(p, 2, 2);
	assert_true(dmab_req_ring_final_check(&p->back));
	assert_int_equal(dmab_req_ring_get(&p->back, &req), 1);
	/* The frontend did not ask for another notification. */
	dmab_resp_encode(&resp, 2, XENDISPL_OP_PG_FLIP, 0, 0);
	assert_int_equal(dmab_req_ring_put(&p->back, &resp, &notify), 0);
	assert_false(notify);
}

static struct xendispl_event_page *event_page(void)
{
	struct xendispl_event_page *page = aligned_alloc(4096, 4096);
	memset(page, 0xaa, 4096);
	page->in_cons = page->in_prod = 0;
	return page;
}

static void events(void **state)
{
	struct xendispl_event_page *page = event_page();
	struct dmab_evt_ring ring;
	dmab_evt_ring_init(&ring, page);

	for (uint64_t i = 0; i < XENDISPL_IN_RING_LEN; i++)
		assert_int_equal(dmab_evt_ring_push_pg_flip(&ring, 0x100 + i), 0);
	assert_int_equal(page->in_prod, XENDISPL_IN_RING_LEN);
	/* Full: the backend does not wait, it drops and counts. */
	assert_int_equal(dmab_evt_ring_push_pg_flip(&ring, 0xdead), -ENOSPC);
	assert_int_equal(dmab_evt_ring_push_pg_flip(&ring, 0xdead), -ENOSPC);
	assert_int_equal(ring.dropped, 2);
	assert_int_equal(page->in_prod, XENDISPL_IN_RING_LEN);

	for (uint32_t i = 0; i < XENDISPL_IN_RING_LEN; i++) {
		struct xendispl_evt *evt = &XENDISPL_IN_RING_REF(page, i);
		assert_int_equal(evt->id, i);
		assert_int_equal(evt->type, XENDISPL_EVT_PG_FLIP);
		assert_int_equal(evt->op.pg_flip.fb_cookie, 0x100 + i);
		for (size_t j = 0; j < sizeof(evt->reserved); j++)
			assert_int_equal(evt->reserved[j], 0);
		for (size_t j = 8; j < sizeof(evt->op.reserved); j++)
			assert_int_equal(evt->op.reserved[j], 0);
	}

	/* The frontend consumes; ids go on consecutively after the drops. */
	page->in_cons = page->in_prod;
	assert_int_equal(dmab_evt_ring_push_pg_flip(&ring, 0x77), 0);
	struct xendispl_evt *evt = &XENDISPL_IN_RING_REF(page, XENDISPL_IN_RING_LEN);
	assert_int_equal(evt->id, XENDISPL_IN_RING_LEN);
	assert_int_equal(evt->op.pg_flip.fb_cookie, 0x77);
	assert_int_equal(ring.delivered, XENDISPL_IN_RING_LEN + 1);
	free(page);
}

static void events_hostile_consumer(void **state)
{
	struct xendispl_event_page *page = event_page();
	struct dmab_evt_ring ring;
	dmab_evt_ring_init(&ring, page);
	assert_int_equal(dmab_evt_ring_push_pg_flip(&ring, 1), 0);

	/* A consumer ahead of the producer. */
	page->in_cons = 5;
	assert_int_equal(dmab_evt_ring_push_pg_flip(&ring, 2), -EPROTO);
	assert_true(ring.broken);
	page->in_cons = 1;
	assert_int_equal(dmab_evt_ring_push_pg_flip(&ring, 3), -EPROTO);

	/* Writing in_prod does not move the backend's producer. */
	dmab_evt_ring_init(&ring, page);
	page->in_cons = 1;
	page->in_prod = 1000;
	assert_int_equal(dmab_evt_ring_push_pg_flip(&ring, 4), 0);
	assert_int_equal(page->in_prod, 2);
	free(page);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(round_trip, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(copy_once, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(full_ring_waits_for_responses, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(producer_overflow_is_hostile, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(producer_behind_is_hostile, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(indices_wrap, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(notify_and_final_check, pair_setup, pair_teardown),
		cmocka_unit_test(events),
		cmocka_unit_test(events_hostile_consumer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
