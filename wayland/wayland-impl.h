/* SPDX-License-Identifier: MIT */
/* What the Wayland backend's files share. */
#ifndef DMAB_WAYLAND_WAYLAND_IMPL_H
#define DMAB_WAYLAND_WAYLAND_IMPL_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <wayland-client-core.h>

#include "output/backend.h"
#include "wayland/wayland.h"

struct wl_display;
struct wl_registry;
struct wl_compositor;
struct wl_subcompositor;
struct wl_shm;
struct wl_surface;
struct wl_subsurface;
struct wl_buffer;
struct wl_callback;
struct wl_output;
struct xdg_wm_base;
struct xdg_surface;
struct xdg_toplevel;
struct zxdg_output_manager_v1;
struct zxdg_output_v1;
struct zwp_linux_dmabuf_v1;
struct zwp_linux_buffer_params_v1;
struct wp_presentation;
struct wp_presentation_feedback;
struct wp_viewporter;
struct wp_viewport;

struct wayland_backend {
	struct dmab_backend base;
	struct dmab_wayland_config config;
	struct wayland_conn *conn;      /* NULL while there is no compositor */
	/* Connecting again (and reopening closed windows), with a growing delay. */
	struct wl_event_source *retry_timer;
	uint32_t retry_ms;
	bool said_unreachable;          /* logged once per absence */
};

/* A (format, modifier) pair the compositor takes as a dma-buf. */
struct wayland_format {
	uint32_t fourcc;
	uint64_t modifier;
};

/* Reasons a buffer goes through wl_shm, each logged once per connection. */
enum wayland_shm_reason {
	SHM_NO_DMABUF,
	SHM_NO_FD,
	SHM_FORMAT,
	SHM_PENDING,
	SHM_FAILED,
	SHM_CROP,
	SHM_HELD,
	SHM_REASONS,
};

/* One connection to a compositor: everything made on it goes with it. */
struct wayland_conn {
	struct wayland_backend *wl;
	struct wl_display *display;
	struct wl_event_source *source;
	struct wl_event_source *reap_idle;      /* a lost connection or closed windows */
	bool lost;
	const char *lost_why;           /* static; NULL: the display's error */
	/* Connecting: two roundtrips on the loop, bounded in time. */
	struct wl_callback *sync;
	unsigned int syncs;
	struct wl_event_source *connect_timer;
	bool ready;
	struct wl_registry *registry;
	struct wl_compositor *compositor;
	struct wl_subcompositor *subcompositor;
	struct wl_shm *shm;
	struct xdg_wm_base *wm_base;
	struct zxdg_output_manager_v1 *xdg_output_manager;
	struct zwp_linux_dmabuf_v1 *dmabuf;
	struct wayland_format *formats;
	size_t nformats, formats_cap;
	struct wp_presentation *presentation;
	clockid_t clock;                /* wp_presentation's */
	struct wp_viewporter *viewporter;
	struct wl_proxy *ivi_application;
	struct wl_list outputs;         /* struct wayland_output.link */
	struct wl_list windows;         /* struct wayland_window.link */
	struct wl_list fbs;             /* struct wayland_fb.link: dma-buf wl_buffers made here */
	bool logged[SHM_REASONS];
};

struct wayland_output {
	struct wl_list link;
	struct wayland_conn *conn;
	uint32_t global;
	struct wl_output *output;
	struct zxdg_output_v1 *xdg_output;
	char name[64];
};

/* A wl_shm buffer a layer's pixels are copied into. */
struct wayland_shm {
	struct wl_list link;            /* wayland_slot.shms */
	struct wl_buffer *buffer;
	void *data;
	size_t size;
	pixman_image_t *image;
	uint32_t width, height, format; /* format: a wl_shm format */
	bool busy;                      /* attached, not released yet */
	bool retired;                   /* of an old size: freed at its release */
};

/* A subsurface showing one layer. */
struct wayland_slot {
	struct wl_surface *surface;
	struct wl_subsurface *subsurface;
	struct wp_viewport *viewport;
	bool cropped;                   /* the viewport has a source set */
	bool scaled;                    /* the viewport has a destination set */
	bool mapped;
	/* dma-buf wl_buffers attached here that the compositor has not released. */
	unsigned int held;
	struct wl_list shms;            /* struct wayland_shm.link */
	bool shm_exhausted_logged;
};

struct wayland_window {
	struct dmab_screen base;
	struct wayland_conn *conn;
	const struct dmab_wayland_window_config *config;
	struct wl_list link;            /* wayland_conn.windows */
	struct wl_surface *surface;
	struct xdg_surface *xdg_surface;
	struct xdg_toplevel *toplevel;
	struct wl_proxy *ivi_surface;
	struct wp_viewport *viewport;   /* scales the background */
	struct wl_buffer *background;
	uint32_t bg_width, bg_height;
	void *bg_data;
	size_t bg_size;
	bool bg_attached;
	bool configured;                /* the first configure came: it is a screen */
	bool closed;                    /* the compositor closed it: finished at the next reap */
	uint32_t want_width, want_height;       /* from the last configure, 0: ours */
	struct wayland_slot **slots;
	size_t nslots;
	/* Pacing. */
	struct wl_callback *frame_cb;   /* requested with the last commit */
	bool frame_wanted;              /* the output layer asked for a frame */
	struct wl_event_source *frame_idle;
	struct wp_presentation_feedback *feedback;
	bool in_flight;
	struct wl_event_source *watchdog;
	bool stalled;                   /* the compositor did not answer in time */
	uint64_t stalls;
};

/* A guest framebuffer as a dma-buf wl_buffer: an addon of the framebuffer. */
struct wayland_fb {
	struct dmab_addon addon;        /* owner: the connection */
	struct wl_list link;            /* wayland_conn.fbs */
	struct wayland_conn *conn;
	struct dmab_ofb *ofb;
	struct zwp_linux_buffer_params_v1 *params;      /* while the compositor decides */
	struct wl_buffer *buffer;       /* once created */
	bool failed;
	bool busy;                      /* attached, not released: holds a lock on ofb */
	struct wayland_slot *slot;      /* where it was attached while busy, NULL if gone */
};

/* backend.c */

/** Send what is queued; a broken connection is torn down from the loop. */
void wayland_conn_flush(struct wayland_conn *conn);

/** Tear the connection down from the loop (not from inside a call of the output layer). */
void wayland_conn_schedule_reap(struct wayland_conn *conn);

/** CLOCK_MONOTONIC nanoseconds of a time on the compositor's presentation clock. */
uint64_t wayland_conn_to_monotonic(const struct wayland_conn *conn, uint64_t ns);

/* window.c */

/** Open the windows of the configuration that are not open. */
void wayland_windows_open(struct wayland_conn *conn);

/** A window as its own screen: announced once the compositor configured it. */
void wayland_window_destroy_all(struct wayland_conn *conn);

/** Finish the windows the compositor closed. */
void wayland_windows_reap(struct wayland_conn *conn);

/** An output came or gained its name: fullscreen windows waiting for it go there. */
void wayland_windows_output_named(struct wayland_conn *conn, struct wayland_output *output);

/* buffer.c */

/**
 * The dma-buf wl_buffer of ofb on conn, or NULL with why set (a static
 * string: why it goes through wl_shm instead).
 */
struct wl_buffer *wayland_fb_buffer(struct wayland_conn *conn, struct dmab_ofb *ofb,
		enum wayland_shm_reason *why);

/** ofb's wl_buffer was attached to slot: locked until the compositor releases it. */
void wayland_fb_attached(struct wayland_conn *conn, struct dmab_ofb *ofb,
		struct wayland_slot *slot);

/** Whether ofb's wl_buffer is in the compositor's hands (attached, not released). */
bool wayland_fb_busy(struct wayland_conn *conn, struct dmab_ofb *ofb);

/** slot goes: the buffers attached there no longer count for it. */
void wayland_fb_forget_slot(struct wayland_conn *conn, struct wayland_slot *slot);

/** The connection goes: every wl_buffer of it goes, and the locks they held. */
void wayland_fb_destroy_all(struct wayland_conn *conn);

/** Why a buffer goes through wl_shm, for status and the log. */
const char *wayland_shm_why(enum wayland_shm_reason why);

/**
 * A wl_shm buffer of slot, width x height in format, not in the
 * compositor's hands; NULL when all are (or out of memory).
 */
struct wayland_shm *wayland_shm_acquire(struct wayland_conn *conn, struct wayland_slot *slot,
		uint32_t width, uint32_t height, uint32_t format);

/** Free every wl_shm buffer of slot. */
void wayland_shm_destroy_all(struct wayland_slot *slot);

/** A black wl_shm buffer of width x height; NULL on failure. *data, *size: its mapping. */
struct wl_buffer *wayland_shm_black(struct wayland_conn *conn, uint32_t width, uint32_t height,
		void **data, size_t *size);

#endif
