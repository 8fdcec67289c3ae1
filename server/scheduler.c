// SPDX-License-Identifier: MIT
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/log.h"
#include "server/scheduler.h"

struct dmab_scheduler {
	struct wl_event_loop *loop;
	struct wl_list queue;           /* struct dmab_task.link, in the order queued */
	/*
	 * A task queued from outside a round runs at the end of this loop
	 * iteration (an idle source: no system call); one queued from a round
	 * waits for the loop to look at its other sources first (the eventfd).
	 */
	struct wl_event_source *idle;
	int fd;                         /* eventfd: a round waits behind the loop's sources */
	bool fd_set;                    /* it was written and not read yet */
	bool in_round;
	struct wl_event_source *source;
};

static void take(struct dmab_task *task)
{
	wl_list_remove(&task->link);
	wl_list_init(&task->link);
	task->queued = false;
}

static void run_round(struct dmab_scheduler *scheduler)
{
	if (scheduler->idle) {
		wl_event_source_remove(scheduler->idle);
		scheduler->idle = NULL;
	}
	if (scheduler->fd_set) {
		uint64_t count;
		if (read(scheduler->fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
			dmab_log_errno(DMAB_LOG_ERROR, -errno, "scheduler: reading its eventfd");
		scheduler->fd_set = false;
	}
	/* This round's tasks; a turn that leaves work queues for the next. */
	struct wl_list round;
	wl_list_init(&round);
	wl_list_insert_list(&round, &scheduler->queue);
	wl_list_init(&scheduler->queue);
	scheduler->in_round = true;
	while (!wl_list_empty(&round)) {
		struct dmab_task *task = wl_container_of(round.next, task, link);
		take(task);
		task->run(task);
	}
	scheduler->in_round = false;
}

static void handle_idle(void *data)
{
	struct dmab_scheduler *scheduler = data;
	/* The loop removes an idle source once it ran. */
	scheduler->idle = NULL;
	run_round(scheduler);
}

static int handle_work(int fd, uint32_t mask, void *data)
{
	run_round(data);
	return 0;
}

struct dmab_scheduler *dmab_scheduler_create(struct wl_event_loop *loop)
{
	struct dmab_scheduler *scheduler = calloc(1, sizeof(*scheduler));
	if (!scheduler)
		return NULL;
	scheduler->loop = loop;
	wl_list_init(&scheduler->queue);
	scheduler->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (scheduler->fd < 0)
		goto err_scheduler;
	scheduler->source = wl_event_loop_add_fd(loop, scheduler->fd, WL_EVENT_READABLE,
		handle_work, scheduler);
	if (!scheduler->source)
		goto err_fd;
	return scheduler;
err_fd:
	close(scheduler->fd);
err_scheduler:
	free(scheduler);
	return NULL;
}

void dmab_scheduler_destroy(struct dmab_scheduler *scheduler)
{
	if (!scheduler)
		return;
	struct dmab_task *task, *tmp;
	wl_list_for_each_safe(task, tmp, &scheduler->queue, link)
		take(task);
	if (scheduler->idle)
		wl_event_source_remove(scheduler->idle);
	wl_event_source_remove(scheduler->source);
	close(scheduler->fd);
	free(scheduler);
}

void dmab_scheduler_queue(struct dmab_scheduler *scheduler, struct dmab_task *task)
{
	if (task->queued)
		return;
	task->queued = true;
	bool was_empty = wl_list_empty(&scheduler->queue);
	wl_list_insert(scheduler->queue.prev, &task->link);
	if (!was_empty)
		return;
	if (!scheduler->in_round) {
		if (!scheduler->idle)
			scheduler->idle = wl_event_loop_add_idle(scheduler->loop, handle_idle,
				scheduler);
		if (scheduler->idle)
			return;
	}
	/* From a round (or without memory for the idle source): the next iteration. */
	uint64_t one = 1;
	if (!scheduler->fd_set) {
		if (write(scheduler->fd, &one, sizeof(one)) < 0)
			dmab_log_errno(DMAB_LOG_ERROR, -errno, "cannot schedule work");
		else
			scheduler->fd_set = true;
	}
}

void dmab_task_init(struct dmab_task *task, void (*run)(struct dmab_task *task))
{
	*task = (struct dmab_task){ .run = run };
	wl_list_init(&task->link);
}

void dmab_task_finish(struct dmab_task *task)
{
	if (task->queued)
		take(task);
}

/* ---- the loop's iterations ---- */

void dmab_loop_timing_init(struct dmab_loop_timing *timing, uint32_t slow_ms)
{
	*timing = (struct dmab_loop_timing){
		.slow_ms = slow_ms,
		.log = { .interval_ms = 10000, .burst = 1 },
	};
}

int dmab_loop_run_once(struct wl_event_loop *loop, int timeout_ms,
		struct dmab_loop_timing *timing)
{
	/*
	 * Idle sources added outside a dispatch (while starting) first, as
	 * wl_event_loop_dispatch() would before it waits; then the wait, outside
	 * the measure: only the work is timed.
	 */
	uint64_t start = dmab_now_ms();
	wl_event_loop_dispatch_idle(loop);
	uint64_t busy = dmab_now_ms() - start;
	struct pollfd pfd = { .fd = wl_event_loop_get_fd(loop), .events = POLLIN };
	if (poll(&pfd, 1, timeout_ms) < 0)
		return errno == EINTR ? 0 : -errno;
	start = dmab_now_ms();
	int ret = wl_event_loop_dispatch(loop, 0) < 0 && errno != EINTR ? -errno : 0;
	busy += dmab_now_ms() - start;
	if (busy > timing->longest_ms)
		timing->longest_ms = busy;
	if (busy < timing->slow_ms)
		return ret;
	timing->slow++;
	uint32_t suppressed;
	if (!dmab_ratelimit_allow(&timing->log, &suppressed)) {
		if (busy > timing->unsaid_longest_ms)
			timing->unsaid_longest_ms = busy;
		return ret;
	}
	if (suppressed)
		dmab_log(DMAB_LOG_WARN, "the event loop was busy for %" PRIu64 " ms at once: "
			"guests and clients waited (and %" PRIu32 " more times over %" PRIu32
			" ms since the last such line, the longest %" PRIu64 " ms)", busy, suppressed,
			timing->slow_ms, timing->unsaid_longest_ms);
	else
		dmab_log(DMAB_LOG_WARN, "the event loop was busy for %" PRIu64 " ms at once: "
			"guests and clients waited", busy);
	timing->unsaid_longest_ms = 0;
	return ret;
}
