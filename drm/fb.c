// SPDX-License-Identifier: MIT
/*
 * dma-buf to KMS framebuffer: PRIME import, AddFB2 (linear), and the GEM
 * handle closed at once, so that the framebuffer alone keeps the memory;
 * made once per framebuffer, at its first commit, removed with it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <drm_fourcc.h>

#include "common/log.h"
#include "drm/drm-impl.h"

struct drm_fb {
	struct dmab_addon addon;
	struct drm_backend *drm;
	uint32_t id;                    /* 0: the device refused it */
};

static struct dmab_ratelimit log_rl = { .interval_ms = 5000, .burst = 10 };

static void handle_fb_destroy(struct dmab_addon *addon)
{
	struct drm_fb *fb = wl_container_of(addon, fb, addon);
	if (fb->id)
		drmModeRmFB(fb->drm->fd, fb->id);
	free(fb);
}

static uint32_t add_fb(struct drm_backend *drm, const struct dmab_ofb *ofb, uint32_t handle)
{
	uint32_t handles[4] = { handle }, pitches[4] = { ofb->stride }, offsets[4] = { ofb->offset };
	uint64_t modifiers[4] = { DRM_FORMAT_MOD_LINEAR };
	uint32_t id = 0;
	if (drmModeAddFB2WithModifiers(drm->fd, ofb->width, ofb->height, ofb->fourcc, handles,
			pitches, offsets, modifiers, &id, DRM_MODE_FB_MODIFIERS) == 0)
		return id;
	/* Drivers without modifiers take linear implicitly. */
	if (drmModeAddFB2(drm->fd, ofb->width, ofb->height, ofb->fourcc, handles, pitches,
			offsets, &id, 0) == 0)
		return id;
	dmab_log_ratelimited(&log_rl, DMAB_LOG_INFO, "%s: a %ux%u %.4s framebuffer cannot be "
		"scanned out (%s): composed instead", drm->path, ofb->width, ofb->height,
		(const char *)&ofb->fourcc, dmab_strerror(-errno));
	return 0;
}

uint32_t drm_fb_id(struct drm_backend *drm, struct dmab_ofb *ofb)
{
	struct dmab_addon *addon = dmab_addon_find(&ofb->addons, drm);
	struct drm_fb *fb;
	if (addon) {
		fb = wl_container_of(addon, fb, addon);
		return fb->id;
	}
	fb = calloc(1, sizeof(*fb));
	if (!fb)
		return 0;
	fb->drm = drm;
	uint32_t own = drm_alloc_handle(drm, ofb->buffer);
	if (own) {
		/* Ours: the handle is the buffer's, not to be closed here. */
		fb->id = add_fb(drm, ofb, own);
	} else if (ofb->buffer->fd >= 0) {
		uint32_t handle;
		if (drmPrimeFDToHandle(drm->fd, ofb->buffer->fd, &handle) == 0) {
			fb->id = add_fb(drm, ofb, handle);
			drmCloseBufferHandle(drm->fd, handle);
		}
	}
	/* A refusal is remembered: the framebuffer is composed from now on. */
	dmab_addon_add(&ofb->addons, &fb->addon, drm, handle_fb_destroy);
	return fb->id;
}

int drm_import(struct dmab_backend *backend, struct dmab_obuf *buf)
{
	struct drm_backend *drm = wl_container_of(backend, drm, base);
	uint32_t handle;
	if (drmPrimeFDToHandle(drm->fd, buf->fd, &handle))
		return -EOPNOTSUPP;
	drmCloseBufferHandle(drm->fd, handle);
	return 0;
}
