/* SPDX-License-Identifier: MIT */
#ifndef DMAB_PROTOCOL_RING_H
#define DMAB_PROTOCOL_RING_H

#include <stdbool.h>
#include <stdint.h>

#include "protocol/wire.h"

/*
 * The backend side of a connector's two shared pages. Everything the
 * frontend can write is read once, into private state, before it is used:
 * the frontend is another domain and may change the page at any moment.
 */

/** The request ring (req-ring-ref): requests in, responses out. */
struct dmab_req_ring {
	struct xen_displif_back_ring back;
	bool broken;            /* the frontend broke the ring protocol */
};

/** Attach to a mapped ring page of XEN_PAGE_SIZE bytes (not owned). */
void dmab_req_ring_init(struct dmab_req_ring *ring, void *page);

/**
 * Copy the next request out of the ring, exactly once.
 * Returns 1 with *req filled, 0 when there is no request, -EPROTO when
 * the frontend's producer index is more than a ring ahead of the
 * responses: such a frontend is hostile and the ring is marked broken.
 */
int dmab_req_ring_get(struct dmab_req_ring *ring, struct xendispl_req *req);

/**
 * Put a response (see dmab_resp_encode) into the ring and publish it.
 * *notify says whether the frontend asked to be notified.
 * Returns 0, or -ENOSPC when every request taken has been answered already.
 */
int dmab_req_ring_put(struct dmab_req_ring *ring,
		const struct xendispl_resp *resp, bool *notify);

/** Requests taken but not answered yet. */
unsigned int dmab_req_ring_pending(const struct dmab_req_ring *ring);

/**
 * Re-arm the frontend's notification and say whether requests arrived in
 * the meantime (RING_FINAL_CHECK_FOR_REQUESTS): call it when
 * dmab_req_ring_get() returned 0, and get again if it returns true.
 */
bool dmab_req_ring_final_check(struct dmab_req_ring *ring);

/** The event page (evt-ring-ref): events out, never blocking. */
struct dmab_evt_ring {
	struct xendispl_event_page *page;
	uint32_t prod;          /* private copy: the shared in_prod is only written */
	uint16_t next_id;       /* ids of delivered events are consecutive from 0 */
	uint64_t delivered;
	uint64_t dropped;       /* events lost because the frontend did not consume */
	bool broken;
};

/** Attach to a mapped event page of XENDISPL_EVENT_PAGE_SIZE bytes. */
void dmab_evt_ring_init(struct dmab_evt_ring *ring, void *page);

/**
 * Publish a page-flip event. Returns 0 (notify the frontend), -ENOSPC when
 * the page is full (the event is dropped and counted: a frontend that does
 * not consume loses events, the backend never waits), or -EPROTO when the
 * frontend's consumer index is impossible (the ring is marked broken).
 */
int dmab_evt_ring_push_pg_flip(struct dmab_evt_ring *ring, uint64_t fb_cookie);

#endif
