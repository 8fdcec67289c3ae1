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
#include <wayland-server-core.h>

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

#endif
