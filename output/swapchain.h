/* SPDX-License-Identifier: MIT */
/*
 * A few framebuffers of one size and format, reused: composition targets
 * and copy-path shadows. A framebuffer handed out is one nobody reads (no
 * lock), so what is on screen or queued for it is never written.
 */
#ifndef DMAB_OUTPUT_SWAPCHAIN_H
#define DMAB_OUTPUT_SWAPCHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "output/output.h"

#define DMAB_SWAPCHAIN_MAX 8

struct dmab_swapchain;

/**
 * A swapchain of at most max (2..DMAB_SWAPCHAIN_MAX) framebuffers of
 * width x height in fourcc, allocated as needed by screen's backend (may
 * be NULL: the output layer's allocator). NULL on failure.
 */
struct dmab_swapchain *dmab_swapchain_create(struct dmab_output *output,
		struct dmab_screen *screen, uint32_t width, uint32_t height, uint32_t fourcc,
		unsigned int max);

/**
 * Let go of every framebuffer: those still locked are freed with their
 * buffer at their last unlock. NULL is a no-op.
 */
void dmab_swapchain_destroy(struct dmab_swapchain *sc);

/** Whether it makes framebuffers of this size and format. */
bool dmab_swapchain_fits(const struct dmab_swapchain *sc, uint32_t width, uint32_t height,
		uint32_t fourcc);

/**
 * A framebuffer nobody has locked, locked once for the caller; made if
 * there are fewer than max. NULL when all are in use or allocation fails.
 */
struct dmab_ofb *dmab_swapchain_acquire(struct dmab_swapchain *sc);

/**
 * Whether all max framebuffers are made and locked: acquire failed for
 * want of a free one, not of memory.
 */
bool dmab_swapchain_full(const struct dmab_swapchain *sc);

/**
 * Call listener (data: the framebuffer) whenever one of sc's framebuffers
 * becomes idle, while sc lives: acquire may succeed now. The listener may
 * acquire it; it is removed with wl_list_remove() before sc is destroyed.
 */
void dmab_swapchain_add_release_listener(struct dmab_swapchain *sc,
		struct wl_listener *listener);

#endif
