// SPDX-License-Identifier: MIT
#include <errno.h>
#include <string.h>

#include "protocol/response.h"
#include "protocol/ring.h"

static RING_IDX read_shared(const RING_IDX *idx)
{
	return __atomic_load_n(idx, __ATOMIC_RELAXED);
}

static void write_shared(RING_IDX *idx, RING_IDX value)
{
	__atomic_store_n(idx, value, __ATOMIC_RELAXED);
}

void dmab_req_ring_init(struct dmab_req_ring *ring, void *page)
{
	memset(ring, 0, sizeof(*ring));
	/*
	 * BACK_RING_INIT starts from 0: the frontend initialised the shared
	 * indices when it allocated the page, before publishing its ref.
	 */
	BACK_RING_INIT(&ring->back, (struct xen_displif_sring *)page, DMAB_XEN_PAGE_SIZE);
}

int dmab_req_ring_get(struct dmab_req_ring *ring, struct xendispl_req *req)
{
	struct xen_displif_back_ring *back = &ring->back;

	if (ring->broken)
		return -EPROTO;

	RING_IDX prod = read_shared(&back->sring->req_prod);
	xen_rmb(); /* see the requests the producer index covers */

	if (RING_REQUEST_PROD_OVERFLOW(back, prod)) {
		ring->broken = true;
		return -EPROTO;
	}
	/*
	 * prod is at most a ring ahead of the responses, so a request not taken
	 * yet always has its response slot free.
	 */
	if (back->req_cons == prod)
		return 0;

	memcpy(req, RING_GET_REQUEST(back, back->req_cons), sizeof(*req));
	back->req_cons++;
	return 1;
}

int dmab_req_ring_put(struct dmab_req_ring *ring,
		const struct xendispl_resp *resp, bool *notify)
{
	struct xen_displif_back_ring *back = &ring->back;
	int do_notify = 0;

	*notify = false;
	if (back->rsp_prod_pvt == back->req_cons)
		return -ENOSPC;

	memcpy(RING_GET_RESPONSE(back, back->rsp_prod_pvt), resp, sizeof(*resp));
	back->rsp_prod_pvt++;
	RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(back, do_notify);
	*notify = do_notify;
	return 0;
}

unsigned int dmab_req_ring_pending(const struct dmab_req_ring *ring)
{
	return ring->back.req_cons - ring->back.rsp_prod_pvt;
}

bool dmab_req_ring_final_check(struct dmab_req_ring *ring)
{
	int more = 0;
	if (ring->broken)
		return false;
	RING_FINAL_CHECK_FOR_REQUESTS(&ring->back, more);
	return more;
}

void dmab_evt_ring_init(struct dmab_evt_ring *ring, void *page)
{
	memset(ring, 0, sizeof(*ring));
	ring->page = page;
	/* Continue where the indices stand: a fresh page has both at 0. */
	ring->prod = read_shared(&ring->page->in_prod);
}

int dmab_evt_ring_push_pg_flip(struct dmab_evt_ring *ring, uint64_t fb_cookie)
{
	if (ring->broken)
		return -EPROTO;

	uint32_t cons = read_shared(&ring->page->in_cons);
	uint32_t used = ring->prod - cons;
	if (used > XENDISPL_IN_RING_LEN) {
		ring->broken = true;
		return -EPROTO;
	}
	if (used == XENDISPL_IN_RING_LEN) {
		ring->dropped++;
		return -ENOSPC;
	}
	xen_mb(); /* the slot is free: the frontend finished reading it */

	struct xendispl_evt evt;
	dmab_evt_encode_pg_flip(&evt, ring->next_id, fb_cookie);
	memcpy(&XENDISPL_IN_RING_REF(ring->page, ring->prod), &evt, sizeof(evt));
	xen_wmb(); /* the event is visible before the index that covers it */
	ring->prod++;
	write_shared(&ring->page->in_prod, ring->prod);

	ring->next_id++;
	ring->delivered++;
	return 0;
}
