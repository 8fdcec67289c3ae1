/* SPDX-License-Identifier: MIT */
/*
 * Screenshots off the event loop. The loop only captures what the display
 * shows (dmab_output_capture(): sizes and dup'd buffer fds); a worker
 * thread maps each layer read-only, composes it with pixman a band of rows
 * at a time, encodes the PNG with libpng and writes it to the client's
 * file, never waiting on that file past a deadline. The loop hears of the
 * end through an eventfd, from which the done callback runs.
 */
#ifndef DMAB_SERVER_CONTROL_SHOT_H
#define DMAB_SERVER_CONTROL_SHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wl_event_loop;
struct dmab_capture;
struct dmab_shots;
struct dmab_shot;

/* Screenshots made at once, server-wide: more are refused (-EBUSY). */
#define DMAB_SHOTS_MAX 2
/* The file must take some of the PNG at least this often... */
#define DMAB_SHOT_STALL_MS 5000
/* ... and all of it within this, from the start. */
#define DMAB_SHOT_MAX_MS 60000

struct dmab_shot_result {
	int status;             /* 0, or a negative errno */
	const char *error;      /* what went wrong, when status is not 0 */
	uint32_t width, height;
	/* Layers left out, as indexes into the capture: their buffers cannot be mapped. */
	const size_t *skipped;
	size_t nskipped;
};

/** Called on the loop when a screenshot is written or failed; result is valid during the call. */
typedef void (*dmab_shot_done_fn)(void *data, const struct dmab_shot_result *result);

/** The screenshots of a server, whose loop runs the done callbacks. NULL on failure. */
struct dmab_shots *dmab_shots_create(struct wl_event_loop *loop);

/**
 * Cancel every screenshot under way and wait for its thread (their done
 * callbacks are not called). A thread stuck in the kernel past a deadline
 * is left behind, with what it uses, and said so. NULL is a no-op.
 */
void dmab_shots_destroy(struct dmab_shots *shots);

/**
 * Draw capture as a PNG into fd on a thread, then call done(data, ...) on
 * the loop. Takes capture and fd, also when it fails. With require_all, a
 * layer whose buffer cannot be mapped fails the screenshot (-ENODEV)
 * before anything is written; otherwise it is left out and listed.
 * 0 with *shot set (valid until done is called or it is cancelled),
 * -EBUSY when DMAB_SHOTS_MAX are under way, or another negative errno.
 */
int dmab_shot_start(struct dmab_shots *shots, struct dmab_capture *capture, int fd,
		bool require_all, dmab_shot_done_fn done, void *data, struct dmab_shot **shot);

/** Nobody waits for shot any more: it stops soon, and its done callback is not called. */
void dmab_shot_cancel(struct dmab_shot *shot);

#endif
