/* SPDX-License-Identifier: MIT */
/*
 * The output layer: where frames are shown. It knows nothing of guests,
 * grants or Xen.
 *
 * - A backend is one display device (headless, a KMS device, a Wayland
 *   connection). It announces screens as they appear and go; several
 *   backends may run at once.
 * - A screen commits once per refresh: all its views' changes go out
 *   together (one atomic commit per CRTC on KMS), and it says when that
 *   frame is on screen. The refresh rate belongs to the screen.
 * - A view is a layer of a screen: a position, a size, a z order and
 *   visibility, and what it shows. Views are placed by screen name: a view
 *   whose screen is absent (not announced yet, or unplugged) is hidden, not
 *   lost, and comes back when a screen of that name appears. Its frames
 *   still complete, at 60 Hz.
 * - Buffers are memory (a dma-buf, a CPU mapping, or both); framebuffers
 *   are images in a buffer. A framebuffer is locked by whatever still
 *   reads it: a view (pending, queued or current), a backend (a commit in
 *   flight, a compositor that has not released it), a composition. It is
 *   idle at its last unlock (events.release), and only then may its owner
 *   reuse it or let go of its memory.
 *
 * What a view shows moves pending -> queued -> current: pending is set by
 * dmab_view_attach(), taken into a commit (queued) at the screen's next
 * frame, and becomes current when the screen reports the commit on screen
 * (events.present). A change made while a commit is in flight waits for
 * the next refresh; nothing is reported presented before it is on screen.
 *
 * Everything runs on the event loop the output was created with; no call
 * here blocks.
 */
#ifndef DMAB_OUTPUT_OUTPUT_H
#define DMAB_OUTPUT_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pixman.h>
#include <wayland-server-core.h>

struct dmab_backend;
struct dmab_screen;

#define DMAB_SCREEN_NAME_MAX 31

/** A rectangle in pixels. */
struct dmab_rect {
	int32_t x, y;
	uint32_t width, height;
};

/**
 * Memory a display reads: a dma-buf, a CPU mapping, or both. Made by
 * dmab_obuf_import() or dmab_obuf_alloc(); freed by dmab_obuf_destroy()
 * once no framebuffer is made on it.
 */
struct dmab_obuf {
	struct dmab_output *output;
	size_t size;
	int fd;                 /* owned dma-buf (a sealed memfd on the simulator), or -1 */
	void *cpu;              /* CPU mapping of size octets, or NULL */
	bool cpu_writable;
	bool allocated;         /* made here, not imported */
	bool exported;          /* its owner gave it away (granted to a guest): others write it */
	bool dropped;           /* its owner let go: freed with its last framebuffer */
	unsigned int nfbs;      /* framebuffers made on it */
	struct wl_list addons;  /* struct dmab_addon.link: backends' state for it */
	void *impl_data;        /* the allocator's */
	const struct dmab_allocator *allocator;
	const char *memory;     /* what the allocator made it of ("gbm", "dumb", ...), or NULL */
	/* A CPU mapping its importer made (dmab_obuf_set_cpu): undone with it. */
	void (*cpu_unmap)(void *data, void *cpu);
	void *cpu_unmap_data;
};

/**
 * A framebuffer: width x height pixels of fourcc at offset in a buffer,
 * rows stride octets apart.
 */
struct dmab_ofb {
	struct dmab_obuf *buffer;
	uint32_t width, height, fourcc;
	uint32_t offset, stride;
	/*
	 * What pixman reads: the buffer's own pixels where pixman can address
	 * them (rows 4-octet aligned), else a converted copy refreshed at each
	 * composition. NULL when the buffer has no CPU mapping or pixman does
	 * not read the format.
	 */
	pixman_image_t *image;
	bool image_is_copy;
	unsigned int locks;
	bool dropped;           /* its creator let go: freed at the last unlock */
	void *data;             /* the user's */
	struct wl_list addons;  /* struct dmab_addon.link */
	struct {
		/* The last lock went: it is idle. A listener may lock it again or drop it. */
		struct wl_signal release;
		struct wl_signal destroy;
	} events;
};

/** What a view shows: part of a framebuffer, at a place inside the view. */
struct dmab_view_content {
	struct dmab_ofb *fb;    /* NULL: nothing */
	struct dmab_rect src;   /* in fb */
	int32_t dx, dy;         /* where src's top-left goes, in the view */
	uint64_t seq;           /* the user's, handed back in events.present */
};

/** One layer of a screen: a view's content, placed on the screen. */
struct dmab_layer {
	struct dmab_view *view;         /* NULL for a composition target */
	struct dmab_ofb *fb;
	struct dmab_rect src;           /* in fb */
	/*
	 * On the screen, inside it: the size of src, or another where the
	 * view is scaled (its place gives it another size than its own).
	 */
	struct dmab_rect dst;
	/*
	 * Set by a backend's commit for a layer it composed rather than showed
	 * directly: why (a static string); NULL when shown directly.
	 */
	const char *composed;
};

/** Where a view is: the screen by name, its position on it, stacking. */
struct dmab_view_place {
	char screen[DMAB_SCREEN_NAME_MAX + 1];
	int32_t x, y;
	int32_t z;              /* higher is in front; equal z: the newer view in front */
	bool visible;
	/* Its size on the screen, its content scaled to it; 0: the view's own size. */
	uint32_t width, height;
};

/** Sent with a view's events.present. */
struct dmab_view_present_event {
	struct dmab_view *view;
	struct dmab_ofb *fb;    /* what is on screen now (NULL: nothing) */
	uint64_t seq;           /* its content's seq */
	uint64_t committed_ns;  /* when the commit that took it was submitted (CLOCK_MONOTONIC) */
	uint64_t when_ns;       /* on screen since (CLOCK_MONOTONIC) */
	bool shown;             /* false: the view is hidden or has no screen (it completed anyway) */
};

struct dmab_view {
	struct dmab_output *output;
	struct wl_list link;            /* dmab_output.views */
	struct dmab_screen *screen;     /* NULL while its screen is absent */
	uint32_t width, height;
	struct dmab_view_place place;
	uint64_t serial;                /* creation order */

	struct dmab_view_content pending, queued, current;
	bool has_pending, has_queued;
	struct dmab_screen *queued_on;  /* the screen whose commit holds queued */
	uint64_t queued_ns;             /* when that commit was submitted */
	uint64_t attached_ns;           /* content was last attached */
	bool place_changed;             /* not committed yet */
	/*
	 * How its last commit shows it: NULL directly (a plane, a subsurface),
	 * else why it is composed, or why it cannot be shown at all. Static
	 * strings.
	 */
	const char *composed;
	bool wants_frame;
	void *data;                     /* the user's */
	struct {
		struct wl_signal frame;     /* the screen is about to commit: last chance to attach */
		struct wl_signal present;   /* struct dmab_view_present_event */
		struct wl_signal destroy;
	} events;
};

struct dmab_output {
	struct wl_event_loop *loop;
	struct wl_list backends;        /* struct dmab_backend.link */
	struct wl_list screens;         /* struct dmab_screen.link */
	struct wl_list views;           /* struct dmab_view.link */
	uint64_t next_serial;
	/* Views without a screen complete their frames on this clock. */
	struct wl_event_source *limbo_timer;
	bool limbo_armed;
	const struct dmab_allocator *allocator;   /* for buffers no backend allocates */
	struct {
		struct wl_signal new_screen;    /* struct dmab_screen */
	} events;
};

/** A screen as the user sees it: read-only outside the output layer. */
struct dmab_screen {
	struct dmab_output *output;
	struct dmab_backend *backend;
	const struct dmab_screen_impl *impl;
	struct wl_list link;            /* dmab_output.screens */
	char name[DMAB_SCREEN_NAME_MAX + 1];
	uint32_t width, height;
	uint32_t refresh_mhz;
	bool announced;
	/* The frame cycle. */
	bool in_flight;                 /* a commit waits for its present */
	bool frame_pending;             /* a frame is due once the commit in flight is on screen */
	bool frame_requested;           /* impl->schedule_frame() was asked */
	bool dirty;                     /* a view left it: commit even with nothing pending */
	struct wl_event_source *frame_idle;
	struct wl_event_source *frame_timer;    /* the repaint window opens */
	bool frame_timer_armed;
	uint64_t repaint_window_ns;     /* commit this long before a refresh; 0: at once */
	uint64_t last_present_ns;
	uint64_t failed_ns;             /* a frame the display did not take: the next a refresh later */
	/* The last state tested, and whether the backend took it. */
	struct dmab_layer *tested;
	size_t ntested, tested_cap;
	int tested_result;
	/* When the backend cannot show the layers: everything composed into one. */
	struct dmab_swapchain *composition;
	struct dmab_ofb *target_queued, *target_current;
	uint64_t commits;               /* frames committed */
	uint64_t composed;              /* of which composed by the output layer */
	uint64_t failed;                /* frames the backend refused even composed */
	uint64_t discarded;             /* frames the display never showed */
	uint64_t copied;                /* octets the backend copied to show layers (wl_shm) */
	struct {
		struct wl_signal destroy;
	} events;
};

/**
 * The output layer on loop, with no backend yet. NULL on failure.
 */
struct dmab_output *dmab_output_create(struct wl_event_loop *loop);

/**
 * Destroy every backend (their screens go), then the views (what they
 * showed is unlocked). Buffers and framebuffers are the user's to destroy
 * before; NULL is a no-op.
 */
void dmab_output_destroy(struct dmab_output *output);

/**
 * Add a backend (taken) and start it: it announces its screens, now or
 * later. A screen whose name is taken already is refused by the backend.
 */
int dmab_output_add_backend(struct dmab_output *output, struct dmab_backend *backend);

/** The screen named name, or NULL. */
struct dmab_screen *dmab_output_find_screen(struct dmab_output *output, const char *name);

/** The type ("headless", "drm", ...) of the index-th backend, NULL past the last. */
const char *dmab_output_backend_type(struct dmab_output *output, size_t index);

/** The type of the backend a screen belongs to. */
const char *dmab_screen_type(const struct dmab_screen *screen);

/** The first screen announced that is still there, or NULL. */
struct dmab_screen *dmab_output_first_screen(struct dmab_output *output);

/**
 * What screen shows now (its views' current content, clipped), bottom to
 * top, in a malloc'd array (NULL when empty); the framebuffers are not
 * locked for the caller. 0 or -ENOMEM.
 */
int dmab_screen_current_layers(struct dmab_screen *screen, struct dmab_layer **layers,
		size_t *n);

/**
 * Called with what the display showed (locked for the call: lock it to
 * keep it) and 0, or with NULL and a negative errno: -ENOTSUP when the
 * display found it cannot capture itself (then capture the layers).
 */
typedef void (*dmab_screen_capture_fn)(void *data, struct dmab_ofb *fb, int status);

/**
 * Capture what screen's display shows, as the display made it (a KMS
 * writeback connector), at its next frame: done(data, ...) is called
 * later, from the loop. -ENOTSUP when the display cannot (then capture
 * the layers: dmab_screen_capture()).
 */
int dmab_screen_capture_display(struct dmab_screen *screen, dmab_screen_capture_fn done,
		void *data);

/** Nobody waits for the display captures asked with data any more: done is not called. */
void dmab_screen_capture_cancel(struct dmab_screen *screen, void *data);

/** A view's current content as a layer in the view's own coordinates; false if none. */
bool dmab_view_current_layer(struct dmab_view *view, struct dmab_layer *layer);

/**
 * How the display shows a view now: NULL when directly (a plane, a
 * subsurface), else why composed, or why not shown at all (no screen of its
 * name, hidden, outside its screen, nothing on screen yet). A static string.
 */
const char *dmab_view_how_shown(const struct dmab_view *view);

/* ---- buffers ---- */

/**
 * Wrap a dma-buf (dup'd; the caller keeps fd) of size octets. It is mapped
 * for the CPU where the exporter allows, and offered to every backend that
 * imports buffers. -EINVAL when its memory is smaller than size;
 * -EOPNOTSUPP when nothing could use it: no CPU mapping and no backend
 * took it.
 */
int dmab_obuf_import(struct dmab_output *output, int fd, size_t size, struct dmab_obuf **buf);

/**
 * An imported buffer the exporter gives no CPU mapping of (a Xen grant
 * dma-buf) can be read at cpu, a read-only mapping of the same memory its
 * importer made (the grants mapped): composition and screenshots read it.
 * unmap(data, cpu) runs when the buffer is freed, after the last
 * framebuffer on it. -EBUSY if it has a CPU mapping already or
 * framebuffers.
 */
int dmab_obuf_set_cpu(struct dmab_obuf *buf, void *cpu, void (*unmap)(void *data, void *cpu),
		void *data);

/**
 * Allocate size octets a display can scan out, mapped for the CPU and
 * exportable (buf->fd), laid out as height rows of at least width pixels of
 * bpp bits: *stride is the row pitch wanted, and may be raised by the
 * allocator. screen (may be NULL) is where it will be shown: its backend
 * allocates if it can.
 */
int dmab_obuf_alloc(struct dmab_output *output, struct dmab_screen *screen,
		uint32_t width, uint32_t height, uint32_t bpp, uint32_t *stride, size_t size,
		struct dmab_obuf **buf);

/**
 * Let go of a buffer: freed now, or when its last framebuffer is (a
 * display may still read one). NULL is a no-op.
 */
void dmab_obuf_destroy(struct dmab_obuf *buf);

/* ---- framebuffers ---- */

/**
 * A framebuffer on buf. The caller checked that it lies inside buf. Its
 * pixman image is made now, once. Unlocked at first; dmab_ofb_drop()
 * when done.
 */
int dmab_ofb_create(struct dmab_obuf *buf, uint32_t width, uint32_t height,
		uint32_t fourcc, uint32_t offset, uint32_t stride, struct dmab_ofb **fb);

/** Take a lock on fb; returns fb. */
struct dmab_ofb *dmab_ofb_lock(struct dmab_ofb *fb);

/** Let go of a lock; the last one emits events.release (and frees a dropped fb). */
void dmab_ofb_unlock(struct dmab_ofb *fb);

/** The creator lets go: freed now if unlocked, else at the last unlock. NULL is a no-op. */
void dmab_ofb_drop(struct dmab_ofb *fb);

/**
 * The image to read fb's pixels through, up to date (a converted copy is
 * refreshed now), or NULL without CPU access. Not to be kept.
 */
pixman_image_t *dmab_ofb_read_image(struct dmab_ofb *fb);

/* ---- views ---- */

/**
 * A view of width x height at place (screen by name; it may not exist yet).
 * Views of equal z are stacked in creation order, the newest in front.
 */
struct dmab_view *dmab_view_create(struct dmab_output *output, uint32_t width,
		uint32_t height, const struct dmab_view_place *place);

/**
 * Take the view off its screen and free it: what it showed is unlocked
 * (a backend may hold it until the next refresh). NULL is a no-op.
 */
void dmab_view_destroy(struct dmab_view *view);

/** Move the view (another screen, position, z, visibility) from the next frame on. */
void dmab_view_set_place(struct dmab_view *view, const struct dmab_view_place *place);

/**
 * Show content from the next frame on (content->fb NULL: nothing); it
 * replaces a pending change (its framebuffer is unlocked, and no present
 * is reported for it: the caller knows it replaced it). content must lie
 * inside its framebuffer; what falls outside the view is clipped.
 */
void dmab_view_attach(struct dmab_view *view, const struct dmab_view_content *content);

/**
 * What the view will show at its next frame: pending if any, else what is
 * queued (in flight on a screen), else current.
 */
const struct dmab_view_content *dmab_view_latest(const struct dmab_view *view);

/**
 * Ask for events.frame before the view's screen next commits, e.g. to copy
 * a frame in as late as possible. Without a screen, at the next 60 Hz tick.
 */
void dmab_view_schedule_frame(struct dmab_view *view);

#endif
