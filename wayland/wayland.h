/* SPDX-License-Identifier: MIT */
/*
 * The Wayland backend: guests shown inside a compositor that is already
 * running (a desktop session, Weston's ivi-shell). Each configured window
 * is a screen: an xdg_toplevel (windowed, or fullscreen on a named
 * wl_output) or, where the compositor offers ivi_application and the
 * window has an ivi id, an ivi surface the shell places. Each view on it
 * is a subsurface showing the guest's dma-buf (zwp_linux_dmabuf_v1, no
 * copy) or, where the compositor cannot take that buffer, a wl_shm copy.
 * The compositor going away takes the screens with it; they come back
 * when it returns.
 */
#ifndef DMAB_WAYLAND_WAYLAND_H
#define DMAB_WAYLAND_WAYLAND_H

#include <stdbool.h>
#include <stdint.h>

#include "output/output.h"

#define DMAB_WAYLAND_MAX_WINDOWS 8

/** One window: a screen named name. */
struct dmab_wayland_window_config {
	char name[DMAB_SCREEN_NAME_MAX + 1];
	uint32_t width, height;         /* until the compositor says otherwise */
	char title[64];                 /* "": "dmabridge NAME" */
	bool fullscreen;
	char wl_output[64];             /* fullscreen on the wl_output of this name ("": any) */
	bool has_ivi_id;                /* an ivi surface with this id where ivi_application is */
	uint32_t ivi_id;
};

struct dmab_wayland_config {
	/* The compositor's socket: a name in $XDG_RUNTIME_DIR or a path; "": $WAYLAND_DISPLAY. */
	char display[108];
	bool no_dmabuf;                 /* never zwp_linux_dmabuf_v1: every buffer through wl_shm */
	bool no_presentation;           /* pace by frame callbacks even where wp_presentation is */
	/*
	 * Commit this long before the compositor's next refresh when some
	 * views' frames are not in yet (0: 10 ms, at most half a refresh), so
	 * that several guests' frames go out together: the compositor itself
	 * repaints some milliseconds before its refresh.
	 */
	uint32_t repaint_window_us;
	struct dmab_wayland_window_config windows[DMAB_WAYLAND_MAX_WINDOWS];
	unsigned int nwindows;
};

/** A Wayland backend for config (copied); NULL on failure. It connects at start. */
struct dmab_backend *dmab_wayland_create(const struct dmab_wayland_config *config);

#endif
