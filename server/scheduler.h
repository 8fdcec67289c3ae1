/* SPDX-License-Identifier: MIT */
/*
 * Turns on the event loop for work that waits: a guest connector with
 * requests in its ring is queued, and every queued task gets one turn per
 * loop iteration, beside every other ready source (other guests, the
 * control socket, vblank timers). A turn is the task's own to bound; one
 * that leaves work queues itself again and waits for the next round, so
 * that nothing holds the server's one thread.
 *
 * A task queued from outside a round (a guest's notification, a display's
 * event) runs at the end of the loop iteration that queued it, with no
 * system call; one queued from a round waits behind the loop's other
 * sources. Owns one eventfd (readable while such a round waits) and its
 * source on the loop. server.c creates it; connector.c queues its connectors' tasks.
 */
#ifndef DMAB_SERVER_SCHEDULER_H
#define DMAB_SERVER_SCHEDULER_H

#include <stdbool.h>
#include <stdint.h>
#include <wayland-server-core.h>

#include "common/log.h"

struct dmab_scheduler;

/** Work waiting for a turn, embedded in its owner. */
struct dmab_task {
	/* One turn, on the loop. It may queue the task again, or finish it. */
	void (*run)(struct dmab_task *task);
	/* The scheduler's. */
	struct wl_list link;
	bool queued;
};

/** A scheduler on loop; NULL on failure. */
struct dmab_scheduler *dmab_scheduler_create(struct wl_event_loop *loop);

/**
 * Tasks still queued are dropped, not run: their owners may finish them
 * after. NULL is a no-op.
 */
void dmab_scheduler_destroy(struct dmab_scheduler *scheduler);

/**
 * Give task a turn: at the end of this loop iteration, once every source
 * ready in it was dispatched. Queuing a queued task does nothing more: it
 * runs once. A task queued from its own run, or from any
 * other run of the round under way, waits for the next round.
 */
void dmab_scheduler_queue(struct dmab_scheduler *scheduler, struct dmab_task *task);

/** Make task ready to be queued; it runs run. */
void dmab_task_init(struct dmab_task *task, void (*run)(struct dmab_task *task));

/** Its owner is going: the task leaves the queue (and the round under way) and is not run. */
void dmab_task_finish(struct dmab_task *task);

/*
 * The loop's iterations, timed: one that holds the loop for slow_ms or more
 * kept every guest's requests and flips, and every client, waiting (a
 * missed refresh or more). It is counted and logged as a warning, at most
 * one line every 10 s, which says how many more there were and the longest.
 */
struct dmab_loop_timing {
	uint32_t slow_ms;
	uint64_t slow;                  /* iterations that took slow_ms or more */
	uint64_t longest_ms;            /* the longest iteration */
	uint64_t unsaid_longest_ms;     /* ... of those not logged since the last line */
	struct dmab_ratelimit log;
};

void dmab_loop_timing_init(struct dmab_loop_timing *timing, uint32_t slow_ms);

/**
 * Wait for work on loop (at most timeout_ms, -1 for ever), then dispatch all
 * of it and time that. 0, or a negative errno from the loop (EINTR is 0).
 */
int dmab_loop_run_once(struct wl_event_loop *loop, int timeout_ms,
		struct dmab_loop_timing *timing);

#endif
