// SPDX-License-Identifier: MIT
/*
 * Buffers for the compositor. A guest framebuffer in a dma-buf becomes a
 * zwp_linux_dmabuf_v1 wl_buffer, made once (the compositor answers
 * created or failed on the loop) and kept with the framebuffer; the
 * framebuffer stays locked from its attach until the compositor's
 * wl_buffer.release. Whatever the compositor cannot take that way is
 * copied into a wl_shm buffer of the layer's subsurface: a few of them,
 * reused once released.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <drm_fourcc.h>
#include <wayland-client-protocol.h>

#include "common/log.h"
#include "wayland/linux-dmabuf-unstable-v1-client-protocol.h"
#include "wayland/wayland-impl.h"

/* wl_shm buffers per subsurface: one shown, one committed, one being written, one spare. */
#define SHM_PER_SLOT 4

const char *wayland_shm_why(enum wayland_shm_reason why)
{
	switch (why) {
	case SHM_NO_DMABUF:
		return "copied into wl_shm: the compositor offers no linux-dmabuf";
	case SHM_NO_FD:
		return "copied into wl_shm: it is no dma-buf";
	case SHM_FORMAT:
		return "copied into wl_shm: the compositor takes no dma-buf of its format";
	case SHM_PENDING:
		return "copied into wl_shm: the compositor has not imported it yet";
	case SHM_FAILED:
		return "copied into wl_shm: the compositor refused its dma-buf";
	case SHM_CROP:
		return "copied into wl_shm: it is cropped or scaled, and there is no wp_viewporter";
	case SHM_HELD:
		return "copied into wl_shm: the compositor has not released the dma-bufs it was given";
	case SHM_REASONS:
		break;
	}
	return "copied into wl_shm";
}

/* ---- dma-bufs ---- */

static void fb_free(struct wayland_fb *fb)
{
	if (fb->params)
		zwp_linux_buffer_params_v1_destroy(fb->params);
	if (fb->buffer)
		wl_buffer_destroy(fb->buffer);
	wl_list_remove(&fb->link);
	free(fb);
}

static void handle_fb_addon_destroy(struct dmab_addon *addon)
{
	/* The framebuffer goes, so it is unlocked: the compositor has let go of it. */
	struct wayland_fb *fb = wl_container_of(addon, fb, addon);
	fb_free(fb);
}

static void handle_fb_release(void *data, struct wl_buffer *buffer)
{
	struct wayland_fb *fb = data;
	if (!fb->busy)
		return;
	fb->busy = false;
	if (fb->slot)
		fb->slot->held--;
	fb->slot = NULL;
	/* The last unlock may free the framebuffer, and fb with it. */
	dmab_ofb_unlock(fb->ofb);
}

static const struct wl_buffer_listener fb_buffer_listener = {
	.release = handle_fb_release,
};

static void handle_params_created(void *data, struct zwp_linux_buffer_params_v1 *params,
		struct wl_buffer *buffer)
{
	struct wayland_fb *fb = data;
	zwp_linux_buffer_params_v1_destroy(params);
	fb->params = NULL;
	fb->buffer = buffer;
	wl_buffer_add_listener(buffer, &fb_buffer_listener, fb);
	/* Shown directly from the next frame on. */
	dmab_log(DMAB_LOG_DEBUG, "wayland: a %ux%u %.4s dma-buf imported by the compositor",
		fb->ofb->width, fb->ofb->height, (const char *)&fb->ofb->fourcc);
}

static void handle_params_failed(void *data, struct zwp_linux_buffer_params_v1 *params)
{
	struct wayland_fb *fb = data;
	zwp_linux_buffer_params_v1_destroy(params);
	fb->params = NULL;
	fb->failed = true;
	if (!fb->conn->logged[SHM_FAILED]) {
		fb->conn->logged[SHM_FAILED] = true;
		dmab_log(DMAB_LOG_INFO, "wayland: the compositor refused a %ux%u %.4s dma-buf: "
			"such buffers are copied into wl_shm buffers, one copy per frame",
			fb->ofb->width, fb->ofb->height, (const char *)&fb->ofb->fourcc);
	}
}

static const struct zwp_linux_buffer_params_v1_listener params_listener = {
	.created = handle_params_created,
	.failed = handle_params_failed,
};

/* The modifier to import a linear buffer of fourcc with: LINEAR, else implicit; false if none. */
static bool pick_modifier(const struct wayland_conn *conn, uint32_t fourcc, uint64_t *modifier)
{
	bool implicit = false;
	for (size_t i = 0; i < conn->nformats; i++) {
		if (conn->formats[i].fourcc != fourcc)
			continue;
		if (conn->formats[i].modifier == DRM_FORMAT_MOD_LINEAR) {
			*modifier = DRM_FORMAT_MOD_LINEAR;
			return true;
		}
		implicit = implicit || conn->formats[i].modifier == DRM_FORMAT_MOD_INVALID;
	}
	*modifier = DRM_FORMAT_MOD_INVALID;
	return implicit;
}

static struct wayland_fb *find(struct wayland_conn *conn, struct dmab_ofb *ofb)
{
	struct dmab_addon *addon = dmab_addon_find(&ofb->addons, conn);
	struct wayland_fb *fb;
	return addon ? wl_container_of(addon, fb, addon) : NULL;
}

static void log_once(struct wayland_conn *conn, enum wayland_shm_reason why,
		const struct dmab_ofb *ofb)
{
	if (conn->logged[why])
		return;
	conn->logged[why] = true;
	dmab_log(DMAB_LOG_INFO, "wayland: a %ux%u %.4s framebuffer is %s (logged once)",
		ofb->width, ofb->height, (const char *)&ofb->fourcc, wayland_shm_why(why));
}

struct wl_buffer *wayland_fb_buffer(struct wayland_conn *conn, struct dmab_ofb *ofb,
		enum wayland_shm_reason *why)
{
	struct wayland_fb *fb = find(conn, ofb);
	if (fb) {
		if (fb->buffer)
			return fb->buffer;
		*why = fb->failed ? SHM_FAILED : SHM_PENDING;
		return NULL;
	}
	uint64_t modifier;
	if (!conn->dmabuf)
		*why = SHM_NO_DMABUF;
	else if (ofb->buffer->fd < 0)
		*why = SHM_NO_FD;
	else if (!pick_modifier(conn, ofb->fourcc, &modifier))
		*why = SHM_FORMAT;
	else
		*why = SHM_PENDING;
	if (*why != SHM_PENDING) {
		log_once(conn, *why, ofb);
		return NULL;
	}
	fb = calloc(1, sizeof(*fb));
	if (!fb)
		return NULL;
	fb->conn = conn;
	fb->ofb = ofb;
	fb->params = zwp_linux_dmabuf_v1_create_params(conn->dmabuf);
	zwp_linux_buffer_params_v1_add_listener(fb->params, &params_listener, fb);
	/* libwayland sends a duplicate of the descriptor: the buffer keeps its own. */
	zwp_linux_buffer_params_v1_add(fb->params, ofb->buffer->fd, 0, ofb->offset, ofb->stride,
		(uint32_t)(modifier >> 32), (uint32_t)modifier);
	zwp_linux_buffer_params_v1_create(fb->params, (int32_t)ofb->width, (int32_t)ofb->height,
		ofb->fourcc, 0);
	wl_list_insert(&conn->fbs, &fb->link);
	dmab_addon_add(&ofb->addons, &fb->addon, conn, handle_fb_addon_destroy);
	return NULL;
}

void wayland_fb_attached(struct wayland_conn *conn, struct dmab_ofb *ofb,
		struct wayland_slot *slot)
{
	struct wayland_fb *fb = find(conn, ofb);
	if (fb && !fb->busy) {
		fb->busy = true;
		fb->slot = slot;
		slot->held++;
		dmab_ofb_lock(ofb);
	}
}

bool wayland_fb_busy(struct wayland_conn *conn, struct dmab_ofb *ofb)
{
	struct wayland_fb *fb = find(conn, ofb);
	return fb && fb->busy;
}

void wayland_fb_forget_slot(struct wayland_conn *conn, struct wayland_slot *slot)
{
	struct wayland_fb *fb;
	wl_list_for_each(fb, &conn->fbs, link) {
		if (fb->slot == slot)
			fb->slot = NULL;
	}
}

void wayland_fb_destroy_all(struct wayland_conn *conn)
{
	while (!wl_list_empty(&conn->fbs)) {
		struct wayland_fb *fb = wl_container_of(conn->fbs.next, fb, link);
		struct dmab_ofb *ofb = fb->ofb;
		bool busy = fb->busy;
		dmab_addon_remove(&fb->addon);
		fb_free(fb);
		/* The compositor is gone, and what it held with it. */
		if (busy)
			dmab_ofb_unlock(ofb);
	}
}

/* ---- wl_shm ---- */

static struct wl_buffer *shm_make(struct wayland_conn *conn, uint32_t width, uint32_t height,
		uint32_t format, void **data, size_t *size)
{
	size_t stride = (size_t)width * 4, len = stride * height;
	if (!width || !height || len > INT32_MAX)
		return NULL;
	int fd = memfd_create("dmabridge-wl-shm", MFD_CLOEXEC);
	if (fd < 0)
		return NULL;
	void *map = MAP_FAILED;
	if (ftruncate(fd, (off_t)len) == 0)
		map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		close(fd);
		return NULL;
	}
	struct wl_shm_pool *pool = wl_shm_create_pool(conn->shm, fd, (int32_t)len);
	struct wl_buffer *buffer = wl_shm_pool_create_buffer(pool, 0, (int32_t)width,
		(int32_t)height, (int32_t)stride, format);
	wl_shm_pool_destroy(pool);
	close(fd);
	*data = map;
	*size = len;
	return buffer;
}

struct wl_buffer *wayland_shm_black(struct wayland_conn *conn, uint32_t width, uint32_t height,
		void **data, size_t *size)
{
	/* A fresh memfd reads as zeros: opaque black in XRGB8888. */
	return shm_make(conn, width, height, WL_SHM_FORMAT_XRGB8888, data, size);
}

static void shm_free(struct wayland_shm *shm)
{
	wl_list_remove(&shm->link);
	if (shm->image)
		pixman_image_unref(shm->image);
	if (shm->buffer)
		wl_buffer_destroy(shm->buffer);
	munmap(shm->data, shm->size);
	free(shm);
}

static void handle_shm_release(void *data, struct wl_buffer *buffer)
{
	struct wayland_shm *shm = data;
	shm->busy = false;
	if (shm->retired)
		shm_free(shm);
}

static const struct wl_buffer_listener shm_buffer_listener = {
	.release = handle_shm_release,
};

struct wayland_shm *wayland_shm_acquire(struct wayland_conn *conn, struct wayland_slot *slot,
		uint32_t width, uint32_t height, uint32_t format)
{
	struct wayland_shm *shm, *tmp;
	unsigned int count = 0;
	wl_list_for_each_safe(shm, tmp, &slot->shms, link) {
		bool fits = shm->width == width && shm->height == height && shm->format == format;
		if (!fits) {
			/* Of another size: gone now, or once the compositor lets go. */
			shm->retired = true;
			if (!shm->busy)
				shm_free(shm);
			continue;
		}
		if (!shm->busy)
			return shm;
		count++;
	}
	if (count >= SHM_PER_SLOT)
		return NULL;
	shm = calloc(1, sizeof(*shm));
	if (!shm)
		return NULL;
	shm->buffer = shm_make(conn, width, height, format, &shm->data, &shm->size);
	if (!shm->buffer) {
		free(shm);
		return NULL;
	}
	shm->width = width;
	shm->height = height;
	shm->format = format;
	shm->image = pixman_image_create_bits(format == WL_SHM_FORMAT_ARGB8888 ?
		PIXMAN_a8r8g8b8 : PIXMAN_x8r8g8b8, (int)width, (int)height, shm->data,
		(int)width * 4);
	wl_buffer_add_listener(shm->buffer, &shm_buffer_listener, shm);
	wl_list_insert(&slot->shms, &shm->link);
	if (!shm->image) {
		shm_free(shm);
		return NULL;
	}
	return shm;
}

void wayland_shm_destroy_all(struct wayland_slot *slot)
{
	while (!wl_list_empty(&slot->shms)) {
		struct wayland_shm *shm = wl_container_of(slot->shms.next, shm, link);
		shm_free(shm);
	}
}
