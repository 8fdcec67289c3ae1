// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/log.h"
#include "server/release.h"

/* How often a pending release is looked at again. */
#define POLL_MS 5

struct pending {
	struct wl_list link;            /* dmab_release.pending */
	int fd;                         /* the number: a placeholder holds it */
	domid_t domid;
	uint64_t deadline_ms;
	void (*done)(void *data, int status);
	void *data;
};

struct dmab_release {
	dmab_release_released_fn released;
	void *data;
	uint32_t timeout_ms;
	int placeholder_fd;             /* /dev/null, to hold fd numbers */
	struct wl_list pending;         /* struct pending.link, oldest first */
	struct wl_event_source *timer;
};

static void finish(struct pending *p, int status)
{
	wl_list_remove(&p->link);
	close(p->fd);
	if (p->done)
		p->done(p->data, status);
	free(p);
}

/* 1 released (or given up on), 0 still in use. */
static int poll_one(struct dmab_release *release, struct pending *p, bool force)
{
	int ret = release->released(release->data, p->fd);
	if (ret == -ETIMEDOUT) {
		if (!force && dmab_now_ms() < p->deadline_ms)
			return 0;
		dmab_log(DMAB_LOG_ERROR, "dom%u: a buffer is still in use %u ms after it left the "
			"display; giving up on it", p->domid, release->timeout_ms);
		finish(p, -ETIMEDOUT);
		return 1;
	}
	if (ret)
		dmab_log_errno(DMAB_LOG_WARN, ret, "dom%u: waiting for a buffer's release", p->domid);
	finish(p, 0);
	return 1;
}

static int handle_timer(void *data)
{
	struct dmab_release *release = data;
	struct pending *p, *tmp;
	wl_list_for_each_safe(p, tmp, &release->pending, link)
		poll_one(release, p, false);
	if (!wl_list_empty(&release->pending))
		wl_event_source_timer_update(release->timer, POLL_MS);
	return 0;
}

struct dmab_release *dmab_release_create(struct wl_event_loop *loop,
		dmab_release_released_fn released, void *data, uint32_t timeout_ms)
{
	struct dmab_release *release = calloc(1, sizeof(*release));
	if (!release)
		return NULL;
	release->released = released;
	release->data = data;
	release->timeout_ms = timeout_ms;
	wl_list_init(&release->pending);
	release->placeholder_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (release->placeholder_fd < 0)
		goto err_release;
	release->timer = wl_event_loop_add_timer(loop, handle_timer, release);
	if (!release->timer)
		goto err_placeholder;
	return release;
err_placeholder:
	close(release->placeholder_fd);
err_release:
	free(release);
	return NULL;
}

void dmab_release_destroy(struct dmab_release *release)
{
	if (!release)
		return;
	/* Buffers still leaving the display: give them their time, no more. */
	uint64_t deadline = dmab_now_ms() + release->timeout_ms;
	while (!wl_list_empty(&release->pending)) {
		bool force = dmab_now_ms() >= deadline;
		struct pending *p, *tmp;
		wl_list_for_each_safe(p, tmp, &release->pending, link)
			poll_one(release, p, force);
		if (!wl_list_empty(&release->pending))
			usleep(POLL_MS * 1000);
	}
	wl_event_source_remove(release->timer);
	close(release->placeholder_fd);
	free(release);
}

void dmab_release_set_timeout(struct dmab_release *release, uint32_t timeout_ms)
{
	release->timeout_ms = timeout_ms;
}

void dmab_release_export(struct dmab_release *release, int fd, domid_t domid,
		void (*done)(void *data, int status), void *data)
{
	struct pending *p = calloc(1, sizeof(*p));
	/*
	 * The hypervisor finds an export by its fd number: swap /dev/null in
	 * so the number stays ours (and not another export's) while we wait.
	 */
	if (!p || dup3(release->placeholder_fd, fd, O_CLOEXEC) < 0) {
		dmab_log(DMAB_LOG_ERROR, "dom%u: cannot track a buffer's release", domid);
		close(fd);
		free(p);
		if (done)
			done(data, -ENOMEM);
		return;
	}
	*p = (struct pending){
		.fd = fd, .domid = domid, .done = done, .data = data,
		.deadline_ms = dmab_now_ms() + release->timeout_ms,
	};
	wl_list_insert(release->pending.prev, &p->link);
	if (poll_one(release, p, false) == 0)
		wl_event_source_timer_update(release->timer, POLL_MS);
}
