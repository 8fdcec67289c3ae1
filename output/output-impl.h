/* SPDX-License-Identifier: MIT */
/* What the output layer's own files share; not for users or backends. */
#ifndef DMAB_OUTPUT_OUTPUT_IMPL_H
#define DMAB_OUTPUT_OUTPUT_IMPL_H

#include "output/backend.h"

/* output.c */

/**
 * Emit signal so that a listener may free the object it belongs to, whose
 * destroy signal is destroy (emitted before it is freed). Returns whether
 * it was freed: then nothing of it may be touched.
 */
bool dmab_signal_emit_guarded(struct wl_signal *signal, struct wl_signal *destroy, void *data);

/* screen.c */

/** Something on screen changed: commit at the next chance. */
void dmab_screen_schedule_frame(struct dmab_screen *screen);

/* view.c */

/** Views placed on screen's name come onto it (it was announced). */
void dmab_view_screen_added(struct dmab_screen *screen);

/** screen goes: its views lose it and complete on the 60 Hz clock. */
void dmab_view_screen_removed(struct dmab_screen *screen);

/** The first view (in list order) satisfying pred, or NULL. */
struct dmab_view *dmab_view_find(struct dmab_output *output,
		bool (*pred)(struct dmab_view *view, void *data), void *data);

/**
 * Queued content of every view committed on screen (NULL: views without a
 * screen, pending) becomes current; events.present for each, shown if
 * on_screen (the commit reached the screen) and the view is visible there.
 */
void dmab_view_complete(struct dmab_output *output, struct dmab_screen *screen,
		uint64_t when_ns, bool on_screen);

/**
 * view has a frame queued on a screen it left, and a newer one for its new
 * screen: the queued one becomes current now, not shown (that screen's
 * display holds its own lock on it).
 */
void dmab_view_complete_left(struct dmab_view *view, uint64_t when_ns);

/** The 60 Hz clock of views without a screen. */
int dmab_view_limbo_tick(void *data);

/* alloc.c */

/** System memory: dma-buf heap, else udmabuf over a sealed memfd, else the memfd. */
extern const struct dmab_allocator dmab_system_allocator;

#endif
