/* SPDX-License-Identifier: MIT */
/*
 * Outputs: where guest frames are shown. An output is one host display
 * device (headless, a KMS device, a Wayland connection) with one or more
 * screens (a KMS connector, a Wayland output). Each guest connector has a
 * view on a screen, placed by the layout; buffers are imported into (or
 * allocated by) the output, framebuffers made on them, and shown on views
 * with show (SET_CONFIG) and flip (PG_FLIP).
 *
 * The generic part (output.c) tracks what each view shows and what is
 * pending, and tells the server when a frame is on screen and when a
 * framebuffer is no longer used by the display; implementations (headless.c,
 * later drm/ and wayland/) only put frames on the display and report back
 * with dmab_output_view_presented().
 */
#ifndef DMAB_SERVER_OUTPUT_H
#define DMAB_SERVER_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wl_event_loop;
struct dmab_output;
struct dmab_obuf;
struct dmab_ofb;
struct dmab_oview;

/** Where a view sits: a screen and a position on it, in its pixels. */
struct dmab_placement {
	unsigned int screen;    /* index into the output's screens */
	int32_t x, y;
	int32_t z;              /* higher is in front */
	bool visible;
};

/**
 * Where in its view a frame shows: the framebuffer's top-left width x
 * height at x, y of the guest connector (SET_CONFIG's rectangle).
 */
struct dmab_rect {
	uint32_t x, y, width, height;
};

/** Events an output reports to the server. */
struct dmab_output_listener {
	/*
	 * fb is being taken to the display in view, now: bring what the
	 * display reads up to date. Called from the implementation as it
	 * latches the frame, once per refresh at most. false: not ready yet,
	 * present it at a later refresh.
	 */
	bool (*latch)(void *data, struct dmab_oview *view, struct dmab_ofb *fb);
	/* fb became the frame on screen in view at when_ns (CLOCK_MONOTONIC). */
	void (*presented)(void *data, struct dmab_oview *view, struct dmab_ofb *fb,
			uint64_t when_ns);
	/* The display no longer reads fb: it may be destroyed now. */
	void (*fb_idle)(void *data, struct dmab_ofb *fb);
	void *data;
};

struct dmab_obuf {
	struct dmab_output *output;
	size_t size;
	void *cpu;              /* CPU mapping, or NULL where there is none */
	int dmabuf_fd;          /* allocated buffers: exportable dma-buf (or sealed memfd), else -1 */
	bool allocated;         /* made by the output (be-alloc or a copy target) */
};

struct dmab_ofb {
	struct dmab_obuf *buffer;
	uint32_t width, height, fourcc;
	uint32_t offset, stride;
	unsigned int users;     /* views showing it or about to */
	bool idle_pending;
	void *user;             /* the server's framebuffer */
};

struct dmab_oview {
	struct dmab_output *output;
	uint32_t width, height;         /* the guest connector's resolution */
	uint32_t refresh_mhz;
	struct dmab_placement place;
	struct dmab_ofb *current;       /* on screen */
	struct dmab_rect current_dst;
	bool has_pending;               /* a change waits for the next refresh */
	struct dmab_ofb *pending;       /* what it shows (NULL: nothing) */
	struct dmab_rect pending_dst;
	bool pending_show;              /* the change is a SET_CONFIG, not a flip */
	void *user;                     /* the server's connector */
	void *impl_data;                /* the implementation's */
};

struct dmab_output_impl {
	const char *type;
	void (*destroy)(struct dmab_output *out);

	/* Wrap a dma-buf (not taken) as a buffer. -EOPNOTSUPP if unusable. */
	int (*import_dmabuf)(struct dmab_output *out, int fd, size_t size,
			struct dmab_obuf **buf);
	/*
	 * Allocate a scanout-capable buffer of size octets laid out as height
	 * rows of *stride octets of bpp pixels, with a CPU mapping and an
	 * exportable fd. The output may raise *stride.
	 */
	int (*alloc)(struct dmab_output *out, uint32_t width, uint32_t height,
			uint32_t bpp, uint32_t *stride, size_t size, struct dmab_obuf **buf);
	void (*buffer_destroy)(struct dmab_output *out, struct dmab_obuf *buf);

	int (*fb_create)(struct dmab_output *out, struct dmab_ofb *fb);
	void (*fb_destroy)(struct dmab_output *out, struct dmab_ofb *fb);

	int (*view_create)(struct dmab_output *out, struct dmab_oview *view);
	void (*view_destroy)(struct dmab_output *out, struct dmab_oview *view);
	void (*view_place)(struct dmab_output *out, struct dmab_oview *view);
	/*
	 * Put view's pending frame on the display at its next refresh and
	 * report it with dmab_output_view_presented().
	 */
	int (*view_commit)(struct dmab_output *out, struct dmab_oview *view);
};

struct dmab_output_note;

/** A screen of an output. */
struct dmab_screen {
	char name[32];
	uint32_t width, height;
	uint32_t refresh_mhz;
};

#define DMAB_MAX_SCREENS 8

struct dmab_output {
	const struct dmab_output_impl *impl;
	char *name;
	struct dmab_screen screens[DMAB_MAX_SCREENS];
	unsigned int nscreens;
	struct wl_event_loop *loop;
	struct dmab_output_listener listener;
	struct dmab_oview **views;
	size_t nviews, views_cap;
	/* Listener calls wait for an idle moment: never inside a caller's call. */
	struct dmab_output_note *notes;
	size_t nnotes, notes_cap;
	struct wl_event_source *notes_idle;
};

void dmab_output_init(struct dmab_output *out, const struct dmab_output_impl *impl,
		const char *name, struct wl_event_loop *loop);

/** The screen named name, or -1. */
int dmab_output_find_screen(const struct dmab_output *out, const char *name);
void dmab_output_finish(struct dmab_output *out);
void dmab_output_destroy(struct dmab_output *out);
void dmab_output_set_listener(struct dmab_output *out,
		const struct dmab_output_listener *listener);

/** See the impl. The buffer belongs to the caller until dmab_obuf_destroy(). */
int dmab_obuf_import(struct dmab_output *out, int fd, size_t size, struct dmab_obuf **buf);
int dmab_obuf_alloc(struct dmab_output *out, uint32_t width, uint32_t height,
		uint32_t bpp, uint32_t *stride, size_t size, struct dmab_obuf **buf);
void dmab_obuf_destroy(struct dmab_obuf *buf);

/**
 * A framebuffer of width x height in fourcc at offset with stride in buf.
 * user is handed back in listener calls.
 */
int dmab_ofb_create(struct dmab_obuf *buf, uint32_t width, uint32_t height,
		uint32_t fourcc, uint32_t offset, uint32_t stride, void *user,
		struct dmab_ofb **fb);

/** Whether a view shows fb or is about to. */
bool dmab_ofb_busy(const struct dmab_ofb *fb);

/** Destroy an idle framebuffer (-EBUSY while a view uses it). */
int dmab_ofb_destroy(struct dmab_ofb *fb);

/** A view for a guest connector of width x height at refresh_mhz. */
int dmab_oview_create(struct dmab_output *out, uint32_t width, uint32_t height,
		uint32_t refresh_mhz, const struct dmab_placement *place, void *user,
		struct dmab_oview **view);

/** Take the view off the display; what it showed becomes idle. NULL is a no-op. */
void dmab_oview_destroy(struct dmab_oview *view);

void dmab_oview_place(struct dmab_oview *view, const struct dmab_placement *place);

/**
 * Show fb (NULL: nothing) at dst from the next refresh on: SET_CONFIG. dst
 * must lie inside the view and not exceed fb (the caller validated both;
 * NULL: all of fb at 0, 0). A flip still pending is replaced (and reported
 * presented, so its guest is not left waiting).
 */
int dmab_oview_show(struct dmab_oview *view, struct dmab_ofb *fb, const struct dmab_rect *dst);

/** Replace what the view shows with fb at the next refresh: PG_FLIP. */
int dmab_oview_flip(struct dmab_oview *view, struct dmab_ofb *fb);

/**
 * For implementations: view's pending frame is being taken to the display.
 * false when it is not ready: keep it pending and try at the next refresh.
 */
bool dmab_output_view_latch(struct dmab_oview *view);

/** For implementations: view's pending frame is on screen since when_ns. */
void dmab_output_view_presented(struct dmab_oview *view, uint64_t when_ns);

/**
 * One layer of a capture: a view as the display shows it (its frame's
 * top-left src.width x src.height at src.x, src.y of the view, black
 * elsewhere in the view's width x height), at x, y of the canvas.
 */
struct dmab_capture_layer {
	bool frame;             /* it shows a frame: fd and what follows describe it */
	int fd;                 /* the frame's buffer (a dup, the capture's), -1 if it has no fd */
	size_t size;            /* octets of the buffer, to map from offset 0 */
	uint32_t offset, stride, fourcc;
	struct dmab_rect src;   /* the frame's part and where it shows in the view */
	int32_t x, y;           /* the view's top-left on the canvas */
	uint32_t width, height; /* the view's size */
	void *user;             /* the view's user: only for the caller, and only now */
};

/**
 * What the display shows, described so that it can be drawn later and
 * elsewhere (a worker thread): each layer holds a dup of its buffer's fd,
 * which keeps the memory alive whatever happens to the view, the buffer or
 * the guest meanwhile. Nothing is mapped or read here.
 */
struct dmab_capture {
	uint32_t width, height;         /* the canvas, black where no layer is */
	/*
	 * Layers blend over what is below them (a screen), or replace it (one
	 * view alone: the frame's alpha is kept as it is).
	 */
	bool blend;
	size_t nlayers;
	struct dmab_capture_layer layers[];     /* bottom to top */
};

/**
 * Capture what view shows now, on a canvas of its size. 0 with *capture
 * set (the caller's, for dmab_capture_destroy()), or a negative errno.
 */
int dmab_oview_capture(struct dmab_oview *view, struct dmab_capture **capture);

/**
 * Capture screen as it is composed now: its visible views in z order.
 * 0 with *capture set, -EINVAL for no such screen, or a negative errno.
 */
int dmab_output_capture(struct dmab_output *out, unsigned int screen,
		struct dmab_capture **capture);

/** Close a capture's fds and free it. NULL is a no-op. */
void dmab_capture_destroy(struct dmab_capture *capture);

#endif
