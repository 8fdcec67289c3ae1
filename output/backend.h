/* SPDX-License-Identifier: MIT */
/*
 * The contract between the output layer and a backend (headless, drm,
 * wayland). Users of the output layer include output/output.h only; this
 * header is for backends.
 *
 * A backend:
 * - announces screens with dmab_screen_init() + dmab_screen_announce() and
 *   takes them away with dmab_screen_finish(); screen names are unique
 *   across backends;
 * - shows what commit() gives it from the screen's next refresh on, and
 *   reports that refresh with dmab_screen_presented(). One commit is in
 *   flight per screen at most: the output layer waits for the present;
 * - locks every framebuffer the display still reads (dmab_ofb_lock) and
 *   unlocks it when the display no longer does: a frame replaced on screen
 *   is unlocked when its replacement is presented, not when it is committed;
 * - may keep state per buffer or framebuffer (a GEM handle, a KMS FB, a
 *   wl_buffer) as an addon, destroyed with its object.
 *
 * Hooks are optional unless marked required; an absent hook means the
 * backend needs nothing there (no empty stubs).
 */
#ifndef DMAB_OUTPUT_BACKEND_H
#define DMAB_OUTPUT_BACKEND_H

#include "output/output.h"

/** What a screen shows from a refresh on: layers bottom to top. */
struct dmab_screen_state {
	struct dmab_layer *layers;
	size_t nlayers;
};

struct dmab_screen_impl {
	/*
	 * Required. Show state from the next refresh on and call
	 * dmab_screen_presented() once it is on screen (not from inside this
	 * call). The layers' framebuffers are locked by their views until
	 * then; lock what the display reads beyond. 0, or a negative errno
	 * when it cannot be shown (the output layer then composes every layer
	 * into one and commits that).
	 */
	int (*commit)(struct dmab_screen *screen, const struct dmab_screen_state *state);
	/*
	 * Whether commit(state) would succeed, changing nothing (KMS
	 * TEST_ONLY): 0 or a negative errno. Tried before each commit that
	 * differs in its layers from the last; a refusal makes the output
	 * layer compose every layer into one and test that.
	 */
	int (*test)(struct dmab_screen *screen, const struct dmab_screen_state *state);
	/*
	 * The screen may commit only at times it chooses (a Wayland frame
	 * callback): call dmab_screen_frame() then. Without this hook the
	 * output layer commits as soon as nothing is in flight.
	 */
	void (*schedule_frame)(struct dmab_screen *screen);
	/*
	 * Capture what the display shows at the next frame (a writeback
	 * connector) and call done once it is written, or failed. The output
	 * layer runs a frame for it.
	 */
	int (*capture)(struct dmab_screen *screen, dmab_screen_capture_fn done, void *data);
	/* Required with capture: forget the captures asked with data. */
	void (*capture_cancel)(struct dmab_screen *screen, void *data);
	/* Free the backend's screen; the output layer is done with it. */
	void (*destroy)(struct dmab_screen *screen);
};

/** Backend state attached to a buffer or framebuffer, found by owner. */
struct dmab_addon {
	struct wl_list link;
	const void *owner;
	/* Required: free it; its object is going. */
	void (*destroy)(struct dmab_addon *addon);
};

void dmab_addon_add(struct wl_list *addons, struct dmab_addon *addon, const void *owner,
		void (*destroy)(struct dmab_addon *addon));
struct dmab_addon *dmab_addon_find(struct wl_list *addons, const void *owner);
/** Remove without destroying. */
void dmab_addon_remove(struct dmab_addon *addon);

/** Memory a backend (or the output layer) allocates. */
struct dmab_allocator {
	/*
	 * Required. Fill buf->fd, buf->cpu (read-write), buf->size (at least
	 * size) and buf->impl_data; may raise *stride.
	 */
	int (*alloc)(const struct dmab_allocator *alloc, uint32_t width, uint32_t height,
			uint32_t bpp, uint32_t *stride, size_t size, struct dmab_obuf *buf);
	/* Required. Free what alloc made. */
	void (*free)(const struct dmab_allocator *alloc, struct dmab_obuf *buf);
};

struct dmab_backend_impl {
	const char *type;
	/* Required. Announce the screens that exist now; more may follow. */
	int (*start)(struct dmab_backend *backend);
	/* Required. Finish every screen (dmab_screen_finish) and free the backend. */
	void (*destroy)(struct dmab_backend *backend);
	/*
	 * A dma-buf was imported: take it for scanout (e.g. PRIME import) and
	 * keep what that made as an addon of buf. -EOPNOTSUPP: this backend
	 * cannot show it without composing (it is still shown, composed, when
	 * buf has a CPU mapping).
	 */
	int (*import)(struct dmab_backend *backend, struct dmab_obuf *buf);
};

struct dmab_backend {
	const struct dmab_backend_impl *impl;
	struct dmab_output *output;
	struct wl_list link;            /* dmab_output.backends */
	const struct dmab_allocator *allocator;     /* NULL: the output layer's */
	char *name;
};

void dmab_backend_init(struct dmab_backend *backend, const struct dmab_backend_impl *impl,
		const char *name);
void dmab_backend_finish(struct dmab_backend *backend);

/**
 * Set up a screen of backend; announce it when ready. refresh_mhz is the
 * refresh rate in millihertz (0: 60 Hz).
 */
void dmab_screen_init(struct dmab_screen *screen, struct dmab_backend *backend,
		const struct dmab_screen_impl *impl, const char *name, uint32_t width,
		uint32_t height, uint32_t refresh_mhz);

/**
 * The screen is there: views placed on its name come onto it. -EEXIST if
 * another screen has its name (the backend should finish it).
 */
int dmab_screen_announce(struct dmab_screen *screen);

/**
 * The screen is gone: its views are hidden (they come back with a screen
 * of the same name), a commit in flight completes now. Calls impl->destroy
 * last. Safe on a screen never announced.
 */
void dmab_screen_finish(struct dmab_screen *screen);

/**
 * Commit window_ns before each refresh rather than as soon as nothing is
 * in flight, so that changes arriving during the refresh period (guests
 * answering the last present) go out together: a screen of several views
 * then runs at its full rate. 0 (the default): at once.
 */
void dmab_screen_set_repaint_window(struct dmab_screen *screen, uint64_t window_ns);

/** The screen's mode changed (a Wayland window resized). */
void dmab_screen_set_mode(struct dmab_screen *screen, uint32_t width, uint32_t height,
		uint32_t refresh_mhz);

/** Commit at the next frame even if no view changed (the backend has something to add). */
void dmab_screen_damage(struct dmab_screen *screen);

/**
 * For backends with schedule_frame: now is the time to commit. With a
 * repaint window, a frame some views are not in yet goes when the window
 * opens (before the refresh after the last present) rather than now.
 */
void dmab_screen_frame(struct dmab_screen *screen);

/** The last commit is on screen since when_ns (CLOCK_MONOTONIC). */
void dmab_screen_presented(struct dmab_screen *screen, uint64_t when_ns);

/**
 * The last commit will never be on screen (a compositor discarded it, or
 * did not answer in time): its views' frames complete, not shown, and
 * the next frame may go out.
 */
void dmab_screen_discarded(struct dmab_screen *screen, uint64_t when_ns);

#endif
