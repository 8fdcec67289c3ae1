/* SPDX-License-Identifier: MIT */
/*
 * The frontend side of a connector's two shared pages, pure code: the
 * request ring (requests out, responses in) and the event page (events
 * in). The backend is another domain: every index it writes is read once
 * and checked, every response and event is copied out of the page once.
 */
#ifndef DMAB_CLIENT_RING_H
#define DMAB_CLIENT_RING_H

#include <stdbool.h>
#include <stdint.h>

#include "protocol/wire.h"

/** The request ring (req-ring-ref). */
struct dmab_fe_ring {
	struct xen_displif_front_ring front;
	uint16_t next_id;       /* ids as Linux gives them: consecutive per ring */
	bool broken;            /* the backend broke the ring protocol */
};

/**
 * Initialise a fresh ring page of XEN_PAGE_SIZE bytes (not owned):
 * SHARED_RING_INIT and FRONT_RING_INIT, as Linux does before it grants it.
 */
void dmab_fe_ring_init(struct dmab_fe_ring *ring, void *page);

/**
 * Put a request into the next slot and publish it. The slot is written
 * whole from req (which the caller zeroed before filling it, see
 * client/request.h), so nothing of an earlier request stays in it; req->id
 * is set to the ring's next id first.
 * Returns 0 with *notify saying whether the backend asked to be notified,
 * -EPROTO on a broken ring, -EBUSY when every slot waits for a response
 * (the backend stopped answering).
 */
int dmab_fe_ring_send(struct dmab_fe_ring *ring, struct xendispl_req *req,
		bool *notify);

/**
 * Like dmab_fe_ring_send() without touching req->id: the caller's request
 * goes into the ring as it is (hostile tests).
 */
int dmab_fe_ring_send_raw(struct dmab_fe_ring *ring,
		const struct xendispl_req *req, bool *notify);

/**
 * Consume the responses that arrived and look for the one with id.
 * Responses with other ids (answers to requests that timed out) are
 * dropped, as Linux drops them. Before it returns, the ring is re-armed so
 * that the backend notifies the next response.
 * Returns 1 with *resp copied out, 0 if it has not arrived yet, -EPROTO
 * when the backend published more responses than there were requests
 * (the ring is marked broken and stays so).
 */
int dmab_fe_ring_take(struct dmab_fe_ring *ring, uint16_t id,
		struct xendispl_resp *resp);

/**
 * Take the next response whatever its id: 1 with *resp, 0 if there is
 * none, -EPROTO as dmab_fe_ring_take(). Re-arms like it.
 */
int dmab_fe_ring_take_any(struct dmab_fe_ring *ring,
		struct xendispl_resp *resp);

/** The event page (evt-ring-ref). */
struct dmab_fe_evt {
	struct xendispl_event_page *page;
	uint32_t cons;          /* private copy: the shared in_cons is only written */
	uint16_t next_id;       /* the id the next event should carry */
	uint64_t received;
	uint64_t skipped;       /* lost to an impossible in_prod */
	uint64_t id_gaps;       /* events whose id was not the expected one */
};

/** Attach to a fresh event page (in_cons and in_prod 0; not owned). */
void dmab_fe_evt_init(struct dmab_fe_evt *evt, void *page);

/**
 * Copy the next event out and release its slot. Returns 1 with *out, 0 if
 * there is none, -EPROTO when in_prod is more than a ring ahead of in_cons:
 * those events cannot be trusted and are skipped (in_cons jumps to in_prod).
 * An event whose id is not the expected one is still given (Linux would
 * drop it) and counted in id_gaps; the expected id follows it.
 */
int dmab_fe_evt_get(struct dmab_fe_evt *evt, struct xendispl_evt *out);

#endif
