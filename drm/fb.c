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
	bool scanned_out;               /* a commit the display took had it on a plane */
	int refused;                    /* a commit with it on a plane failed: its errno */
	const char *why;                /* why it is composed, NULL if it is not: static */
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

static struct drm_fb *find(struct drm_backend *drm, struct dmab_ofb *ofb)
{
	struct dmab_addon *addon = dmab_addon_find(&ofb->addons, drm);
	struct drm_fb *fb;
	return addon ? wl_container_of(addon, fb, addon) : NULL;
}

uint32_t drm_fb_id(struct drm_backend *drm, struct dmab_ofb *ofb)
{
	struct drm_fb *fb = find(drm, ofb);
	if (fb)
		return fb->refused ? 0 : fb->id;
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
	if (!fb->id)
		fb->why = "the device cannot make a framebuffer of it";
	dmab_addon_add(&ofb->addons, &fb->addon, drm, handle_fb_destroy);
	return fb->id;
}

const char *drm_fb_why(struct drm_backend *drm, struct dmab_ofb *ofb)
{
	struct drm_fb *fb = find(drm, ofb);
	return fb && fb->why ? fb->why : "no plane of the CRTC takes it";
}

void drm_fb_scanned_out(struct drm_backend *drm, struct dmab_ofb *ofb)
{
	struct drm_fb *fb = find(drm, ofb);
	if (fb)
		fb->scanned_out = true;
}

/*
 * A display may accept a framebuffer in a TEST_ONLY commit and refuse it
 * only when it commits (vkms maps every framebuffer to compose with the
 * CPU then, and a udmabuf or gntdev dma-buf cannot be mapped in the
 * kernel): the one place to learn it is the commit's failure.
 */
bool drm_fb_refuse(struct drm_backend *drm, struct dmab_ofb *ofb, int err)
{
	struct drm_fb *fb = find(drm, ofb);
	if (!fb || !fb->id || fb->scanned_out || fb->refused)
		return false;
	fb->refused = err;
	return true;
}

void drm_fb_unrefuse(struct drm_backend *drm, struct dmab_ofb *ofb)
{
	struct drm_fb *fb = find(drm, ofb);
	if (fb && !fb->why)
		fb->refused = 0;
}

void drm_fb_refusal_confirmed(struct drm_backend *drm, struct dmab_ofb *ofb)
{
	struct drm_fb *fb = find(drm, ofb);
	if (!fb || !fb->refused || fb->why)
		return;
	fb->why = "the display refused to scan it out";
	dmab_log(DMAB_LOG_INFO, "%s: a %ux%u %.4s framebuffer: the display refused to scan it "
		"out (%s): composed instead", drm->path, ofb->width, ofb->height,
		(const char *)&ofb->fourcc, dmab_strerror(fb->refused));
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
