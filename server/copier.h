/* SPDX-License-Identifier: MIT */
/*
 * Worker threads for the copy path: a guest frame copied into a shadow
 * takes milliseconds (a 4000x4000 frame is 61 MiB), which the event loop
 * that serves every guest must not spend. Jobs run on the workers; their
 * completion runs on the loop.
 */
#ifndef DMAB_SERVER_COPIER_H
#define DMAB_SERVER_COPIER_H

#include <stdbool.h>
#include <stddef.h>
#include <wayland-server-core.h>

struct dmab_copier;

struct dmab_copy_job {
	/*
	 * On a worker: one slice of the work, a few hundred kilobytes, then
	 * true when all is done. Jobs take turns slice by slice, so that one
	 * guest's 61 MiB frame does not hold another's small one. Touches only
	 * memory the job's owner keeps alive until done runs.
	 */
	bool (*run)(struct dmab_copy_job *job);
	/* On the loop, after run; not when the job was waited for (dmab_copier_wait). */
	void (*done)(struct dmab_copy_job *job);
	/* The copier's. */
	struct wl_list link;
	int state;
};

/** nthreads workers (at least 1), completions on loop. NULL on failure. */
struct dmab_copier *dmab_copier_create(struct wl_event_loop *loop, unsigned int nthreads);

/** Wait for every job, stop the workers. Pending completions do not run. NULL is a no-op. */
void dmab_copier_destroy(struct dmab_copier *copier);

/** Run job on a worker; its done follows on the loop. */
void dmab_copier_submit(struct dmab_copier *copier, struct dmab_copy_job *job);

/**
 * The job's owner is going: take it back. Returns once it is not running
 * (waiting at most for the one copy under way); done will not be called.
 * A job not submitted, or done already, is a no-op.
 */
void dmab_copier_cancel(struct dmab_copier *copier, struct dmab_copy_job *job);

/** Whether job is queued, running or waiting for its done. */
bool dmab_copier_busy(struct dmab_copier *copier, const struct dmab_copy_job *job);

#endif
