// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/log.h"
#include "server/scheduler.h"

struct dmab_scheduler {
	struct wl_list queue;           /* struct dmab_task.link, in the order queued */
	int fd;                         /* eventfd: queue is not empty */
	struct wl_event_source *source;
};

static void take(struct dmab_task *task)
{
	wl_list_remove(&task->link);
	wl_list_init(&task->link);
	task->queued = false;
}

static int handle_work(int fd, uint32_t mask, void *data)
{
	struct dmab_scheduler *scheduler = data;
	uint64_t count;
	if (read(fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		return 0;
	/* This round's tasks; a turn that leaves work queues for the next. */
	struct wl_list round;
	wl_list_init(&round);
	wl_list_insert_list(&round, &scheduler->queue);
	wl_list_init(&scheduler->queue);
	while (!wl_list_empty(&round)) {
		struct dmab_task *task = wl_container_of(round.next, task, link);
		take(task);
		task->run(task);
	}
	return 0;
}

struct dmab_scheduler *dmab_scheduler_create(struct wl_event_loop *loop)
{
	struct dmab_scheduler *scheduler = calloc(1, sizeof(*scheduler));
	if (!scheduler)
		return NULL;
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
	uint64_t one = 1;
	if (was_empty && write(scheduler->fd, &one, sizeof(one)) < 0)
		dmab_log_errno(DMAB_LOG_ERROR, -errno, "cannot schedule work");
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
