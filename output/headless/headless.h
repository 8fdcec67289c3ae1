/* SPDX-License-Identifier: MIT */
/*
 * The headless backend: screens without a display, with the timing of
 * one. Each screen refreshes on its own timer; a commit is shown from the
 * next refresh on, like a KMS commit, and the display "reads" its layers
 * until they are replaced. planes limits how many layers a screen takes
 * without composition, like a display controller's planes.
 */
#ifndef DMAB_OUTPUT_HEADLESS_H
#define DMAB_OUTPUT_HEADLESS_H

#include <stdint.h>

#include "output/output.h"

struct dmab_headless_screen_config {
	char name[DMAB_SCREEN_NAME_MAX + 1];
	uint32_t width, height;
	uint32_t refresh_mhz;           /* 0: 60 Hz */
	uint32_t planes;                /* 0: as many as there are layers */
	/*
	 * Commit this long before a refresh, so that several guests' frames
	 * go out together (0: 7 ms, at most half a refresh period).
	 */
	uint32_t repaint_window_us;
	/*
	 * Check that no framebuffer changes while the display reads it (from
	 * its commit until the next frame replaced it), and log each that
	 * does: a test of what dmabridged writes, at a cost of reading every
	 * frame twice. A guest drawing into its own buffer on screen (zero
	 * copy, single-buffered) trips it too.
	 */
	bool verify;
};

/** A headless backend with count screens (copied); NULL on failure. */
struct dmab_backend *dmab_headless_create(const struct dmab_headless_screen_config *screens,
		unsigned int count);

/** What a headless screen's refresh timer did. */
struct dmab_headless_screen_stats {
	/*
	 * How often it was set: for each frame that came later than a
	 * refresh after the last one shown, and when a steady stream of
	 * frames (each within a refresh of the last) starts; such a stream
	 * keeps it running.
	 */
	uint64_t timer_starts;
	/* Refreshes it woke for with nothing to show: one where a steady stream ends. */
	uint64_t idle_refreshes;
};

/** Statistics of screen's refresh timer; all 0 for a screen of another backend. */
void dmab_headless_screen_stats(const struct dmab_screen *screen,
		struct dmab_headless_screen_stats *stats);

#endif
