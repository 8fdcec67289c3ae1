// SPDX-License-Identifier: MIT
#include <errno.h>
#include <string.h>

#include "client/ring.h"

static RING_IDX read_shared(const RING_IDX *idx)
{
	return __atomic_load_n(idx, __ATOMIC_RELAXED);
}

static void write_shared(RING_IDX *idx, RING_IDX value)
{
	__atomic_store_n(idx, value, __ATOMIC_RELAXED);
}

void dmab_fe_ring_init(struct dmab_fe_ring *ring, void *page)
{
	struct xen_displif_sring *sring = page;

	memset(ring, 0, sizeof(*ring));
	SHARED_RING_INIT(sring);
	FRONT_RING_INIT(&ring->front, sring, DMAB_XEN_PAGE_SIZE);
}

int dmab_fe_ring_send_raw(struct dmab_fe_ring *ring,
		const struct xendispl_req *req, bool *notify)
{
	struct xen_displif_front_ring *front = &ring->front;
	int do_notify = 0;

	*notify = false;
	if (ring->broken)
		return -EPROTO;
	if (RING_FULL(front))
		return -EBUSY;

	/* Written whole: no octet of the slot's previous request survives. */
	memcpy(RING_GET_REQUEST(front, front->req_prod_pvt), req, sizeof(*req));
	front->req_prod_pvt++;
	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(front, do_notify);
	*notify = do_notify;
	return 0;
}

int dmab_fe_ring_send(struct dmab_fe_ring *ring, struct xendispl_req *req,
		bool *notify)
{
	req->id = ring->next_id;
	int ret = dmab_fe_ring_send_raw(ring, req, notify);
	if (ret == 0)
		ring->next_id++;
	return ret;
}

/*
 * Copy out the next response, or re-arm the notification when there is
 * none. Returns 1, 0 or -EPROTO.
 */
static int next_response(struct dmab_fe_ring *ring, struct xendispl_resp *resp)
{
	struct xen_displif_front_ring *front = &ring->front;

	if (ring->broken)
		return -EPROTO;

	for (;;) {
		RING_IDX prod = read_shared(&front->sring->rsp_prod);
		xen_rmb(); /* see the responses the producer index covers */

		/* A response for every request sent, never more. */
		if ((RING_IDX)(prod - front->rsp_cons) >
				(RING_IDX)(front->req_prod_pvt - front->rsp_cons)) {
			ring->broken = true;
			return -EPROTO;
		}
		if (prod != front->rsp_cons) {
			memcpy(resp, RING_GET_RESPONSE(front, front->rsp_cons), sizeof(*resp));
			front->rsp_cons++;
			return 1;
		}

		/*
		 * Nothing left: ask to be notified of the next one (rsp_event),
		 * then look again for one that came in meanwhile.
		 */
		write_shared(&front->sring->rsp_event, front->rsp_cons + 1);
		xen_mb();
		if (read_shared(&front->sring->rsp_prod) == front->rsp_cons)
			return 0;
	}
}

int dmab_fe_ring_take(struct dmab_fe_ring *ring, uint16_t id,
		struct xendispl_resp *resp)
{
	struct xendispl_resp r;
	int found = 0;
	int ret;

	/* Drain everything, so the ring is re-armed whatever we find. */
	while ((ret = next_response(ring, &r)) == 1) {
		if (!found && r.id == id) {
			*resp = r;
			found = 1;
		}
	}
	if (ret < 0)
		return ret;
	return found;
}

int dmab_fe_ring_take_any(struct dmab_fe_ring *ring,
		struct xendispl_resp *resp)
{
	int ret = next_response(ring, resp);
	if (ret == 1) {
		/* Re-arm if that was the last one; keep the others queued. */
		struct xen_displif_front_ring *front = &ring->front;
		if (read_shared(&front->sring->rsp_prod) == front->rsp_cons) {
			write_shared(&front->sring->rsp_event, front->rsp_cons + 1);
			xen_mb();
		}
	}
	return ret;
}

void dmab_fe_evt_init(struct dmab_fe_evt *evt, void *page)
{
	memset(evt, 0, sizeof(*evt));
	evt->page = page;
	evt->cons = 0;
	write_shared(&evt->page->in_cons, 0);
	write_shared(&evt->page->in_prod, 0);
}

int dmab_fe_evt_get(struct dmab_fe_evt *evt, struct xendispl_evt *out)
{
	uint32_t prod = read_shared(&evt->page->in_prod);
	xen_rmb(); /* see the events the producer index covers */

	uint32_t avail = prod - evt->cons;
	if (avail == 0)
		return 0;
	if (avail > XENDISPL_IN_RING_LEN) {
		evt->skipped += avail;
		evt->cons = prod;
		write_shared(&evt->page->in_cons, evt->cons);
		return -EPROTO;
	}

	memcpy(out, &XENDISPL_IN_RING_REF(evt->page, evt->cons), sizeof(*out));
	xen_mb(); /* done reading the slot before the backend may reuse it */
	evt->cons++;
	write_shared(&evt->page->in_cons, evt->cons);

	if (out->id != evt->next_id)
		evt->id_gaps++;
	evt->next_id = (uint16_t)(out->id + 1);
	evt->received++;
	return 1;
}
