/* SPDX-License-Identifier: MIT */
/* What the KMS backend's files share. */
#ifndef DMAB_DRM_DRM_IMPL_H
#define DMAB_DRM_DRM_IMPL_H

#include <stdbool.h>
#include <stdint.h>
#include <xf86drm.h>
#include <xf86drmMode.h>

#include "drm/drm.h"
#include "output/backend.h"

struct liftoff_device;
struct liftoff_output;
struct liftoff_layer;
struct udev;
struct udev_monitor;
struct gbm_device;

struct drm_backend {
	struct dmab_backend base;
	struct dmab_drm_config config;
	char path[108];
	int fd;                         /* the device; libliftoff has a dup of it */
	struct liftoff_device *liftoff;
	bool planes_have_zpos;
	struct wl_event_source *fd_source;
	struct dmab_allocator allocator;        /* GBM or dumb buffers of this device */
	struct gbm_device *gbm;         /* NULL: no GBM, or no Mesa driver for the device */
	const char *gbm_refused;        /* the last reason a buffer was not GBM's, logged */
	struct wl_list screens;         /* struct drm_screen.link */
	uint32_t crtcs_used;            /* a bit per CRTC index */
	/*
	 * DRM master: without it every commit is refused (a display server or
	 * another KMS client has the device). Taken again when it lets go.
	 */
	bool master;
	struct wl_event_source *master_timer;
	struct udev *udev;
	struct udev_monitor *monitor;
	struct wl_event_source *monitor_source;
};

/* A framebuffer the display reads, locked until its successor is on screen. */
struct drm_held {
	struct dmab_ofb **fbs;
	size_t n;
};

struct drm_screen {
	struct dmab_screen base;
	struct drm_backend *drm;
	struct wl_list link;            /* drm_backend.screens */
	uint32_t connector_id, crtc_id;
	unsigned int crtc_index;
	drmModeModeInfo mode;
	uint32_t mode_blob;
	bool modeset;                   /* the next commit sets the mode */
	uint32_t prop_conn_crtc_id, prop_crtc_mode_id, prop_crtc_active;
	struct liftoff_output *output;
	struct liftoff_layer *composition;      /* on the primary plane */
	struct liftoff_layer **layers;
	size_t nlayers, layers_cap;
	struct dmab_swapchain *targets; /* what composition draws into */
	struct drm_held queued, shown;
	bool seen;                      /* still connected at the last scan */
	/* Writeback: what the CRTC shows, written into a buffer (screenshots). */
	uint32_t wb_connector_id;       /* 0: none drives from this CRTC */
	uint32_t prop_wb_crtc_id, prop_wb_fb_id, prop_wb_fence;
	struct wl_list captures;        /* struct drm_capture.link, waiting for a frame */
	struct wl_list captures_running;        /* written by the commit in flight */
	struct dmab_swapchain *wb_targets;
	struct dmab_ofb *wb_target;     /* being written */
	int32_t wb_fence;               /* its out-fence, -1 none */
	struct wl_event_source *wb_source;
	bool wb_attached;               /* the connector is on the CRTC */
};

struct drm_capture {
	struct wl_list link;
	dmab_screen_capture_fn done;
	void *data;
};

/* backend.c */

/** The id of object's property name, 0 if it has none. */
uint32_t drm_prop_id(int fd, uint32_t object, uint32_t type, const char *name);

/** As drm_prop_id(), and its current value into *value (may be NULL). */
uint32_t drm_prop_get(int fd, uint32_t object, uint32_t type, const char *name,
		uint64_t *value);

/* fb.c */

/**
 * The KMS framebuffer of fb on this device, made at first use and kept
 * with fb; 0 when the device cannot take it or the display refused to
 * scan it out (then it is composed: drm_fb_why() says why).
 */
uint32_t drm_fb_id(struct drm_backend *drm, struct dmab_ofb *fb);

/** Why fb is composed rather than scanned out, for status. */
const char *drm_fb_why(struct drm_backend *drm, struct dmab_ofb *fb);

/** fb was on a plane of a commit the display took: it scans out. */
void drm_fb_scanned_out(struct drm_backend *drm, struct dmab_ofb *fb);

/**
 * A commit with fb on a plane failed with err: unless it scanned out
 * before, it is composed from now on (true), or taken back by
 * drm_fb_unrefuse() if composing it did not help either.
 */
bool drm_fb_refuse(struct drm_backend *drm, struct dmab_ofb *fb, int err);

/** The commit failed for another reason: fb may be tried on a plane again. */
void drm_fb_unrefuse(struct drm_backend *drm, struct dmab_ofb *fb);

/** The refusal holds: say so, once for the framebuffer. */
void drm_fb_refusal_confirmed(struct drm_backend *drm, struct dmab_ofb *fb);

/** buf is a dma-buf this device can import. */
int drm_import(struct dmab_backend *backend, struct dmab_obuf *buf);

/* alloc.c */

/** Scanout buffers of drm's device (GBM, else dumb buffers), exported as dma-bufs. */
void drm_allocator_init(struct drm_backend *drm);

void drm_allocator_finish(struct drm_backend *drm);

/** The GEM handle of a buffer drm's allocator made, 0 for any other. */
uint32_t drm_alloc_handle(const struct drm_backend *drm, const struct dmab_obuf *buf);

/** A commit was refused with -EACCES: not master any more; try to take it back. */
void drm_lost_master(struct drm_backend *drm);

/* screen.c */

/** Master again: every screen sets its mode and shows its views with the next frame. */
void drm_screens_retake(struct drm_backend *drm);

/** Look at the connectors: new connected ones become screens, gone ones go. */
void drm_screens_scan(struct drm_backend *drm);

/** The page-flip event of a commit of screen. */
void drm_screen_flipped(struct drm_screen *screen, uint64_t when_ns);

void drm_screen_destroy_all(struct drm_backend *drm);

#endif
