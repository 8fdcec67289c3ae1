/* SPDX-License-Identifier: MIT */
/*
 * Handing back dma-bufs exported from a guest's grants. The hypervisor
 * finds an export by its fd number, and the guest may reuse the pages only
 * once every user let go of them, so a release is: off the display first
 * (the caller's), then our fd closed with its number kept, then a wait,
 * without blocking the loop, until the hypervisor says it was released or
 * the release timeout passed.
 *
 * Owns a /dev/null placeholder fd, the numbers of the exports being
 * released (each held by a copy of the placeholder until its wait is
 * over), and a timer that polls them. server.c creates it and destroys it
 * at shutdown, which waits for what is pending; buffer.c hands it the
 * exports of zero-copy buffers.
 */
#ifndef DMAB_SERVER_RELEASE_H
#define DMAB_SERVER_RELEASE_H

#include <stdint.h>
#include <wayland-server-core.h>

#include "hv/hv.h"

struct dmab_release;

/**
 * Whether the hypervisor let go of the export whose fd number was fd,
 * without waiting: 0 if so, -ETIMEDOUT while it is still in use, another
 * negative errno when it cannot tell (the buffer then counts as released).
 * In dmabridged, dmab_hv_dmabuf_exp_wait_released() with a timeout of 0.
 */
typedef int (*dmab_release_released_fn)(void *data, int fd);

/**
 * Releases on loop; released(data, fd) asks the hypervisor, and a buffer
 * still in use timeout_ms after it was handed back is given up on. NULL on
 * failure.
 */
struct dmab_release *dmab_release_create(struct wl_event_loop *loop,
		dmab_release_released_fn released, void *data, uint32_t timeout_ms);

/**
 * Wait for every pending release, at most the release timeout from now,
 * blocking: for shutdown only. Each done runs, with -ETIMEDOUT for those
 * given up on. NULL is a no-op.
 */
void dmab_release_destroy(struct dmab_release *release);

/** The release timeout for exports handed back from now on. */
void dmab_release_set_timeout(struct dmab_release *release, uint32_t timeout_ms);

/**
 * Hand a dma-buf exported from domid's grants back: close it (keeping its
 * number reserved, since the hypervisor finds it by number), then wait
 * without blocking until the hypervisor says every user let go, at most
 * the release timeout. done runs once with 0 or -ETIMEDOUT (-ENOMEM when
 * the release cannot be tracked), possibly before this returns; it may be
 * NULL. Takes fd.
 */
void dmab_release_export(struct dmab_release *release, int fd, domid_t domid,
		void (*done)(void *data, int status), void *data);

#endif
