// SPDX-License-Identifier: MIT
/*
 * KMS screens: a connected connector, the CRTC that drives it and its
 * planes. A commit is one atomic request for the CRTC: every view a layer
 * of libliftoff, which puts what it can on planes (trying assignments
 * with TEST_ONLY commits); what it could not place is composed with pixman
 * into a buffer on the primary plane, the composition layer. The commit
 * is non-blocking with a page-flip event, whose timestamp is the present.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libliftoff.h>
#include <drm_fourcc.h>

#include "common/log.h"
#include "drm/drm-impl.h"
#include "output/compose.h"
#include "output/swapchain.h"

/* Composition buffers: one on screen, one queued, one being drawn. */
#define TARGETS 3

static struct dmab_ratelimit log_rl = { .interval_ms = 5000, .burst = 10 };

static const struct dmab_screen_impl screen_impl;

static uint32_t refresh_mhz(const drmModeModeInfo *mode)
{
	if (!mode->htotal || !mode->vtotal)
		return 60000;
	uint64_t mhz = (uint64_t)mode->clock * 1000000 / ((uint64_t)mode->htotal * mode->vtotal);
	return mhz ? (uint32_t)mhz : 60000;
}

static void release(struct drm_held *held)
{
	struct dmab_ofb **fbs = held->fbs;
	size_t n = held->n;
	*held = (struct drm_held){ 0 };
	for (size_t i = 0; i < n; i++)
		dmab_ofb_unlock(fbs[i]);
	free(fbs);
}

static int set_plane_props(struct liftoff_layer *layer, uint32_t fb_id,
		const struct dmab_rect *src, const struct dmab_rect *dst)
{
	int ret = 0;
	if (fb_id)
		ret = liftoff_layer_set_property(layer, "FB_ID", fb_id);
	else
		liftoff_layer_set_fb_composited(layer);
	/* CRTC_* are signed and unsigned 32-bit in KMS; SRC_* 16.16 fixed point. */
	ret = ret ? ret : liftoff_layer_set_property(layer, "CRTC_X", (uint64_t)(int64_t)dst->x);
	ret = ret ? ret : liftoff_layer_set_property(layer, "CRTC_Y", (uint64_t)(int64_t)dst->y);
	ret = ret ? ret : liftoff_layer_set_property(layer, "CRTC_W", dst->width);
	ret = ret ? ret : liftoff_layer_set_property(layer, "CRTC_H", dst->height);
	ret = ret ? ret : liftoff_layer_set_property(layer, "SRC_X", (uint64_t)src->x << 16);
	ret = ret ? ret : liftoff_layer_set_property(layer, "SRC_Y", (uint64_t)src->y << 16);
	ret = ret ? ret : liftoff_layer_set_property(layer, "SRC_W", (uint64_t)src->width << 16);
	ret = ret ? ret : liftoff_layer_set_property(layer, "SRC_H", (uint64_t)src->height << 16);
	return ret;
}

/*
 * How many layers libliftoff may try on planes; the others are composed.
 * Its allocation (0.3) tries every assignment of candidates to planes with
 * a TEST_ONLY commit each, about planes^candidates of them: with 13 layers
 * on vkms's 10 planes it never ends. With 3 it is some hundred tests on a
 * device of 10 planes, made only when the layers change (a guest comes,
 * goes or moves), not at each flip.
 */
#define PLANE_CANDIDATES 3

/* As many libliftoff layers as the state has layers; the others disabled. */
static int layers_fit(struct drm_screen *s, size_t n)
{
	while (s->nlayers < n) {
		if (s->nlayers == s->layers_cap) {
			size_t cap = s->layers_cap ? s->layers_cap * 2 : 8;
			struct liftoff_layer **grown = realloc(s->layers, cap * sizeof(*grown));
			if (!grown)
				return -ENOMEM;
			s->layers = grown;
			s->layers_cap = cap;
		}
		struct liftoff_layer *layer = liftoff_layer_create(s->output);
		if (!layer)
			return -ENOMEM;
		s->layers[s->nlayers++] = layer;
	}
	while (s->nlayers > n)
		liftoff_layer_destroy(s->layers[--s->nlayers]);
	return 0;
}

/*
 * Fill req for state. *target is the composition buffer, locked, when
 * composition was needed, else NULL.
 */
/*
 * A capture waits: the writeback connector joins this commit and writes
 * what the CRTC shows into a buffer. Attaching it changes the CRTC's
 * connectors, which is a modeset. *wb is the buffer, locked, or NULL.
 */
static int add_writeback(struct drm_screen *s, drmModeAtomicReq *req, uint32_t *flags,
		struct dmab_ofb **wb)
{
	*wb = NULL;
	bool want = !wl_list_empty(&s->captures) && s->wb_connector_id && !s->wb_target;
	if (!want && !s->wb_attached)
		return 0;
	*flags |= DRM_MODE_ATOMIC_ALLOW_MODESET;
	if (!want) {
		/* Done with it: off the CRTC again. */
		return drmModeAtomicAddProperty(req, s->wb_connector_id, s->prop_wb_crtc_id, 0) < 0 ?
			-ENOMEM : 0;
	}
	if (!s->wb_targets)
		s->wb_targets = dmab_swapchain_create(s->drm->base.output, &s->base, s->base.width,
			s->base.height, DRM_FORMAT_XRGB8888, 2);
	struct dmab_ofb *t = s->wb_targets ? dmab_swapchain_acquire(s->wb_targets) : NULL;
	uint32_t fb_id = t ? drm_fb_id(s->drm, t) : 0;
	if (!fb_id) {
		dmab_ofb_unlock(t);
		return -ENOMEM;
	}
	s->wb_fence = -1;
	if (drmModeAtomicAddProperty(req, s->wb_connector_id, s->prop_wb_crtc_id, s->crtc_id) < 0 ||
			drmModeAtomicAddProperty(req, s->wb_connector_id, s->prop_wb_fb_id, fb_id) < 0 ||
			drmModeAtomicAddProperty(req, s->wb_connector_id, s->prop_wb_fence,
				(uint64_t)(uintptr_t)&s->wb_fence) < 0) {
		dmab_ofb_unlock(t);
		return -ENOMEM;
	}
	*wb = t;
	return 0;
}

/*
 * A modeset takes the CRTC as it is: connectors another client left on
 * it (a writeback connector, a second output) come off, or the commit
 * would drive them too, or be refused for them.
 */
static int detach_others(struct drm_screen *s, drmModeAtomicReq *req)
{
	int fd = s->drm->fd;
	drmModeRes *res = drmModeGetResources(fd);
	if (!res)
		return -errno;
	int ret = 0;
	for (int i = 0; i < res->count_connectors && ret == 0; i++) {
		uint32_t id = res->connectors[i];
		uint64_t crtc = 0;
		/* Ours: the writeback is taken care of by add_writeback(). */
		if (id == s->connector_id || id == s->wb_connector_id)
			continue;
		uint32_t prop = drm_prop_get(fd, id, DRM_MODE_OBJECT_CONNECTOR, "CRTC_ID", &crtc);
		if (prop && crtc == s->crtc_id && drmModeAtomicAddProperty(req, id, prop, 0) < 0)
			ret = -ENOMEM;
	}
	drmModeFreeResources(res);
	return ret;
}

static int build(struct drm_screen *s, const struct dmab_screen_state *state,
		drmModeAtomicReq *req, uint32_t flags, struct dmab_ofb **target)
{
	struct drm_backend *drm = s->drm;
	*target = NULL;
	/* Nothing to show: a black composition, so that the CRTC scans something out. */
	bool empty = state->nlayers == 0;
	int ret = layers_fit(s, empty ? 1 : state->nlayers);
	if (ret)
		return ret;
	struct dmab_rect whole = { 0, 0, s->base.width, s->base.height };
	unsigned int candidates = 0;
	/* Top to bottom: the topmost PLANE_CANDIDATES that can be scanned out may get planes. */
	for (size_t i = state->nlayers; i-- > 0 && ret == 0;) {
		struct dmab_layer *l = &state->layers[i];
		uint32_t fb_id = drm_fb_id(drm, l->fb);
		l->composed = fb_id ? NULL : drm_fb_why(drm, l->fb);
		if (fb_id && candidates++ >= PLANE_CANDIDATES) {
			fb_id = 0;
			l->composed = "more guests on the screen than go on planes";
		}
		ret = set_plane_props(s->layers[i], fb_id, &l->src, &l->dst);
		/*
		 * The order, for libliftoff's plane allocation: with planes
		 * of no zpos property it keeps layers that overlap off planes
		 * whose order is not known.
		 */
		if (ret == 0)
			ret = liftoff_layer_set_property(s->layers[i], "zpos", i + 1);
	}
	if (empty)
		ret = set_plane_props(s->layers[0], 0, &whole, &whole);
	if (ret)
		return ret;

	if (!s->targets)
		s->targets = dmab_swapchain_create(drm->base.output, &s->base, s->base.width,
			s->base.height, DRM_FORMAT_XRGB8888, TARGETS);
	struct dmab_ofb *t = s->targets ? dmab_swapchain_acquire(s->targets) : NULL;
	uint32_t target_fb = t ? drm_fb_id(drm, t) : 0;
	if (!target_fb) {
		dmab_ofb_unlock(t);
		dmab_log_ratelimited(&log_rl, DMAB_LOG_ERROR, "%s: no composition buffer for %s",
			drm->path, s->base.name);
		return -ENOMEM;
	}
	ret = set_plane_props(s->composition, target_fb, &whole, &whole);
	if (ret == 0)
		ret = liftoff_layer_set_property(s->composition, "zpos", 0);

	if (ret == 0 && s->modeset)
		ret = detach_others(s, req);
	if (ret == 0 && s->modeset) {
		if (drmModeAtomicAddProperty(req, s->connector_id, s->prop_conn_crtc_id,
				s->crtc_id) < 0 ||
				drmModeAtomicAddProperty(req, s->crtc_id, s->prop_crtc_mode_id,
					s->mode_blob) < 0 ||
				drmModeAtomicAddProperty(req, s->crtc_id, s->prop_crtc_active, 1) < 0)
			ret = -ENOMEM;
	}
	if (ret == 0)
		ret = liftoff_output_apply(s->output, req, flags);
	if (ret) {
		dmab_ofb_unlock(t);
		return ret;
	}
	if (!liftoff_output_needs_composition(s->output)) {
		dmab_ofb_unlock(t);
		return 0;
	}
	/* What got no plane, in z order, onto the composition buffer. */
	pixman_image_t *img = dmab_ofb_read_image(t);
	dmab_compose(img, NULL, 0, true);
	for (size_t i = 0; i < state->nlayers; i++) {
		struct dmab_layer *l = &state->layers[i];
		if (!liftoff_layer_needs_composition(s->layers[i]))
			continue;
		if (!l->composed)
			l->composed = drm_fb_why(drm, l->fb);
		dmab_compose(img, l, 1, false);
	}
	*target = t;
	return 0;
}

static int commit(struct drm_screen *s, const struct dmab_screen_state *state, uint32_t flags,
		struct dmab_ofb **target, struct dmab_ofb **wb)
{
	drmModeAtomicReq *req = drmModeAtomicAlloc();
	*wb = NULL;
	if (!req)
		return -ENOMEM;
	if (s->modeset)
		flags |= DRM_MODE_ATOMIC_ALLOW_MODESET;
	int ret = 0;
	if (!(flags & DRM_MODE_ATOMIC_TEST_ONLY))
		ret = add_writeback(s, req, &flags, wb);
	if (ret == 0)
		ret = build(s, state, req, flags, target);
	if (ret == 0 && drmModeAtomicCommit(s->drm->fd, req, flags, s) < 0)
		ret = -errno;
	drmModeAtomicFree(req);
	if (ret && *target) {
		dmab_ofb_unlock(*target);
		*target = NULL;
	}
	if (ret && *wb) {
		dmab_ofb_unlock(*wb);
		*wb = NULL;
	}
	return ret;
}

static void captures_end(struct wl_list *list, struct dmab_ofb *fb, int status)
{
	while (!wl_list_empty(list)) {
		struct drm_capture *c = wl_container_of(list->next, c, link);
		wl_list_remove(&c->link);
		c->done(c->data, fb, status);
		free(c);
	}
}

static void wb_finish(struct drm_screen *s, int status)
{
	if (s->wb_source) {
		wl_event_source_remove(s->wb_source);
		s->wb_source = NULL;
	}
	if (s->wb_fence >= 0)
		close(s->wb_fence);
	s->wb_fence = -1;
	struct dmab_ofb *t = s->wb_target;
	s->wb_target = NULL;
	captures_end(&s->captures_running, status ? NULL : t, status);
	dmab_ofb_unlock(t);
	/* More asked meanwhile: another commit, whatever changed. */
	if (!wl_list_empty(&s->captures))
		dmab_screen_damage(&s->base);
}

static int handle_wb_fence(int fd, uint32_t mask, void *data)
{
	wb_finish(data, (mask & WL_EVENT_ERROR) ? -EIO : 0);
	return 0;
}

static void wb_started(struct drm_screen *s, struct dmab_ofb *wb)
{
	s->wb_attached = true;
	s->wb_target = wb;
	wl_list_insert_list(&s->captures_running, &s->captures);
	wl_list_init(&s->captures);
	/* The out-fence signals (becomes readable) once the frame is written. */
	s->wb_source = s->wb_fence >= 0 ? wl_event_loop_add_fd(s->drm->base.output->loop,
		s->wb_fence, WL_EVENT_READABLE, handle_wb_fence, s) : NULL;
	if (!s->wb_source)
		wb_finish(s, -EIO);
}

static int screen_capture(struct dmab_screen *screen, dmab_screen_capture_fn done, void *data)
{
	struct drm_screen *s = wl_container_of(screen, s, base);
	/* Without master nothing of ours is on the display: the views' frames then. */
	if (!s->wb_connector_id || !s->drm->master)
		return -ENOTSUP;
	struct drm_capture *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->done = done;
	c->data = data;
	wl_list_insert(s->captures.prev, &c->link);
	return 0;
}

static void cancel_in(struct wl_list *list, void *data)
{
	struct drm_capture *c, *tmp;
	wl_list_for_each_safe(c, tmp, list, link) {
		if (c->data == data) {
			wl_list_remove(&c->link);
			free(c);
		}
	}
}

static void screen_capture_cancel(struct dmab_screen *screen, void *data)
{
	struct drm_screen *s = wl_container_of(screen, s, base);
	cancel_in(&s->captures, data);
	cancel_in(&s->captures_running, data);
}

static int screen_test(struct dmab_screen *screen, const struct dmab_screen_state *state)
{
	struct drm_screen *s = wl_container_of(screen, s, base);
	if (!s->drm->master) {
		captures_end(&s->captures, NULL, -ENOTSUP);
		return -EACCES;
	}
	struct dmab_ofb *target, *wb;
	int ret = commit(s, state, DRM_MODE_ATOMIC_TEST_ONLY, &target, &wb);
	dmab_ofb_unlock(target);
	return ret;
}

/*
 * After a failed commit: libliftoff keeps an allocation while its layers
 * do not change, and the one it found with the failed request (every
 * TEST_ONLY of it failing, e.g. for a writeback the CRTC cannot take) is
 * no guide for the next. New layers make it start over.
 */
static void forget_allocation(struct drm_screen *s)
{
	layers_fit(s, 0);
}

/*
 * The commit failed (err) with framebuffers on planes that never scanned
 * out: try again with those composed. If that is taken, they were the
 * cause and stay composed; if not, they may be tried on planes again.
 */
static int commit_without_untried(struct drm_screen *s, const struct dmab_screen_state *state,
		uint32_t flags, int err, struct dmab_ofb **target, struct dmab_ofb **wb)
{
	struct drm_backend *drm = s->drm;
	size_t refused = 0;
	for (size_t i = 0; i < state->nlayers && i < s->nlayers; i++) {
		if (liftoff_layer_get_plane(s->layers[i]) &&
				drm_fb_refuse(drm, state->layers[i].fb, err))
			refused++;
	}
	if (!refused)
		return err;
	forget_allocation(s);
	int ret = commit(s, state, flags, target, wb);
	for (size_t i = 0; i < state->nlayers; i++) {
		if (ret == 0)
			drm_fb_refusal_confirmed(drm, state->layers[i].fb);
		else
			drm_fb_unrefuse(drm, state->layers[i].fb);
	}
	return ret;
}

static int screen_commit(struct dmab_screen *screen, const struct dmab_screen_state *state)
{
	struct drm_screen *s = wl_container_of(screen, s, base);
	struct dmab_ofb *target, *wb;
	uint32_t flags = DRM_MODE_ATOMIC_NONBLOCK | DRM_MODE_PAGE_FLIP_EVENT;
	bool capturing = !wl_list_empty(&s->captures) && !s->wb_target;
	if (!s->drm->master) {
		/* Nothing of ours is on the display: screenshots are of the views. */
		captures_end(&s->captures, NULL, -ENOTSUP);
		return -EACCES;
	}
	int ret = commit(s, state, flags, &target, &wb);
	if (ret == -EACCES || ret == -EPERM) {
		drm_lost_master(s->drm);
		return -EACCES;
	}
	if (ret && ret != -EBUSY && ret != -ENOMEM)
		ret = commit_without_untried(s, state, flags, ret, &target, &wb);
	if (ret && capturing) {
		/*
		 * Without the writeback it may pass: the capture failed, not the
		 * frame. A device whose encoders are no clones of each other
		 * (vkms) drives a writeback only alone on the CRTC, which would
		 * take the screen off for every capture: its screenshots are
		 * composed from the views instead.
		 */
		int wb_err = ret;
		captures_end(&s->captures, NULL, -ENOTSUP);
		forget_allocation(s);
		ret = commit(s, state, flags, &target, &wb);
		if (ret == 0) {
			s->wb_connector_id = 0;
			dmab_log(DMAB_LOG_INFO, "%s: screen %s: the writeback connector cannot "
				"join the CRTC beside the screen's (%s): screenshots are composed "
				"from what the views show", s->drm->path, screen->name,
				dmab_strerror(wb_err));
		}
	}
	if (ret) {
		dmab_log_ratelimited(&log_rl, DMAB_LOG_WARN, "%s: screen %s: atomic commit: %s",
			s->drm->path, screen->name, dmab_strerror(ret));
		return ret;
	}
	s->modeset = false;
	for (size_t i = 0; i < state->nlayers && i < s->nlayers; i++) {
		if (liftoff_layer_get_plane(s->layers[i]))
			drm_fb_scanned_out(s->drm, state->layers[i].fb);
	}
	if (wb)
		wb_started(s, wb);
	else if (s->wb_attached && !s->wb_target)
		s->wb_attached = false;
	/* The display reads these until the next commit is on screen. */
	size_t n = state->nlayers + (target != NULL);
	struct dmab_ofb **fbs = n ? calloc(n, sizeof(*fbs)) : NULL;
	for (size_t i = 0; fbs && i < state->nlayers; i++)
		fbs[i] = dmab_ofb_lock(state->layers[i].fb);
	if (fbs && target)
		fbs[n - 1] = target;
	else
		dmab_ofb_unlock(target);
	release(&s->queued);
	s->queued = (struct drm_held){ fbs, fbs ? n : 0 };
	return 0;
}

void drm_screens_retake(struct drm_backend *drm)
{
	struct drm_screen *s;
	wl_list_for_each(s, &drm->screens, link) {
		/* Whatever the other client left on the CRTC: ours again, from a modeset. */
		s->modeset = true;
		forget_allocation(s);
		dmab_screen_damage(&s->base);
	}
}

void drm_screen_flipped(struct drm_screen *s, uint64_t when_ns)
{
	release(&s->shown);
	s->shown = s->queued;
	s->queued = (struct drm_held){ 0 };
	dmab_screen_presented(&s->base, when_ns);
}

static void screen_destroy(struct dmab_screen *screen)
{
	struct drm_screen *s = wl_container_of(screen, s, base);
	struct drm_backend *drm = s->drm;
	/* Off: nothing of ours on this CRTC any more, so nothing read after this. */
	drmModeAtomicReq *req = drmModeAtomicAlloc();
	if (req) {
		drmModeAtomicAddProperty(req, s->crtc_id, s->prop_crtc_active, 0);
		drmModeAtomicAddProperty(req, s->crtc_id, s->prop_crtc_mode_id, 0);
		drmModeAtomicAddProperty(req, s->connector_id, s->prop_conn_crtc_id, 0);
		for (size_t i = 0; i < s->nlayers; i++)
			liftoff_layer_set_property(s->layers[i], "FB_ID", 0);
		liftoff_layer_set_property(s->composition, "FB_ID", 0);
		if (liftoff_output_apply(s->output, req, DRM_MODE_ATOMIC_ALLOW_MODESET) == 0)
			drmModeAtomicCommit(drm->fd, req, DRM_MODE_ATOMIC_ALLOW_MODESET, NULL);
		drmModeAtomicFree(req);
	}
	if (s->wb_target)
		wb_finish(s, -ENODEV);
	captures_end(&s->captures, NULL, -ENODEV);
	dmab_swapchain_destroy(s->wb_targets);
	while (s->nlayers)
		liftoff_layer_destroy(s->layers[--s->nlayers]);
	free(s->layers);
	liftoff_layer_destroy(s->composition);
	liftoff_output_destroy(s->output);
	release(&s->queued);
	release(&s->shown);
	dmab_swapchain_destroy(s->targets);
	if (s->mode_blob)
		drmModeDestroyPropertyBlob(drm->fd, s->mode_blob);
	drm->crtcs_used &= ~(1u << s->crtc_index);
	wl_list_remove(&s->link);
	free(s);
}

static const struct dmab_screen_impl screen_impl = {
	.commit = screen_commit,
	.test = screen_test,
	.capture = screen_capture,
	.capture_cancel = screen_capture_cancel,
	.destroy = screen_destroy,
};

/* Whether one of conn's encoders can take the CRTC of index crtc. */
static bool pick_crtc_possible(struct drm_backend *drm, drmModeConnector *conn, unsigned int crtc)
{
	bool possible = false;
	for (int e = 0; e < conn->count_encoders && !possible; e++) {
		drmModeEncoder *enc = drmModeGetEncoder(drm->fd, conn->encoders[e]);
		possible = enc && crtc < 32 && (enc->possible_crtcs & (1u << crtc));
		drmModeFreeEncoder(enc);
	}
	return possible;
}

/* A free CRTC that can drive conn, by index; -1 if none. */
static int pick_crtc(struct drm_backend *drm, drmModeRes *res, drmModeConnector *conn)
{
	for (int e = 0; e < conn->count_encoders; e++) {
		drmModeEncoder *enc = drmModeGetEncoder(drm->fd, conn->encoders[e]);
		if (!enc)
			continue;
		uint32_t possible = enc->possible_crtcs;
		drmModeFreeEncoder(enc);
		for (int i = 0; i < res->count_crtcs && i < 32; i++) {
			if ((possible & (1u << i)) && !(drm->crtcs_used & (1u << i)))
				return i;
		}
	}
	return -1;
}

/* The mode to show: the preferred one, else the first. */
static const drmModeModeInfo *pick_mode(const drmModeConnector *conn)
{
	for (int i = 0; i < conn->count_modes; i++) {
		if (conn->modes[i].type & DRM_MODE_TYPE_PREFERRED)
			return &conn->modes[i];
	}
	return conn->count_modes ? &conn->modes[0] : NULL;
}

/* A writeback connector that can take its picture from s's CRTC. */
static void find_writeback(struct drm_backend *drm, drmModeRes *res, struct drm_screen *s)
{
	for (int i = 0; i < res->count_connectors && !s->wb_connector_id; i++) {
		drmModeConnector *conn = drmModeGetConnector(drm->fd, res->connectors[i]);
		if (!conn)
			continue;
		bool usable = conn->connector_type == DRM_MODE_CONNECTOR_WRITEBACK &&
			pick_crtc_possible(drm, conn, s->crtc_index);
		uint32_t id = conn->connector_id;
		drmModeFreeConnector(conn);
		if (!usable)
			continue;
		uint64_t crtc = 0;
		s->prop_wb_crtc_id = drm_prop_get(drm->fd, id, DRM_MODE_OBJECT_CONNECTOR, "CRTC_ID",
			&crtc);

		s->prop_wb_fb_id = drm_prop_id(drm->fd, id, DRM_MODE_OBJECT_CONNECTOR,
			"WRITEBACK_FB_ID");
		s->prop_wb_fence = drm_prop_id(drm->fd, id, DRM_MODE_OBJECT_CONNECTOR,
			"WRITEBACK_OUT_FENCE_PTR");
		if (s->prop_wb_crtc_id && s->prop_wb_fb_id && s->prop_wb_fence) {
			s->wb_connector_id = id;
			/* Left on the CRTC by another client: the first commit takes it off. */
			s->wb_attached = crtc == s->crtc_id;
		}
	}
}

static struct drm_screen *find(struct drm_backend *drm, uint32_t connector_id)
{
	struct drm_screen *s;
	wl_list_for_each(s, &drm->screens, link) {
		if (s->connector_id == connector_id)
			return s;
	}
	return NULL;
}

static void screen_add(struct drm_backend *drm, drmModeRes *res, drmModeConnector *conn)
{
	const drmModeModeInfo *mode = pick_mode(conn);
	int crtc = pick_crtc(drm, res, conn);
	char name[DMAB_SCREEN_NAME_MAX + 1];
	const char *type = drmModeGetConnectorTypeName(conn->connector_type);
	snprintf(name, sizeof(name), "%s-%u", type ? type : "Unknown", conn->connector_type_id);
	if (!mode || crtc < 0) {
		dmab_log(DMAB_LOG_WARN, "%s: connector %s: %s", drm->path, name,
			mode ? "no free CRTC drives it" : "no mode");
		return;
	}
	struct drm_screen *s = calloc(1, sizeof(*s));
	if (!s)
		return;
	s->drm = drm;
	s->connector_id = conn->connector_id;
	s->crtc_id = res->crtcs[crtc];
	s->crtc_index = (unsigned int)crtc;
	s->mode = *mode;
	s->modeset = true;
	s->seen = true;
	s->prop_conn_crtc_id = drm_prop_id(drm->fd, s->connector_id, DRM_MODE_OBJECT_CONNECTOR,
		"CRTC_ID");
	s->prop_crtc_mode_id = drm_prop_id(drm->fd, s->crtc_id, DRM_MODE_OBJECT_CRTC, "MODE_ID");
	s->prop_crtc_active = drm_prop_id(drm->fd, s->crtc_id, DRM_MODE_OBJECT_CRTC, "ACTIVE");
	s->output = liftoff_output_create(drm->liftoff, s->crtc_id);
	s->composition = s->output ? liftoff_layer_create(s->output) : NULL;
	if (!s->prop_conn_crtc_id || !s->prop_crtc_mode_id || !s->prop_crtc_active ||
			!s->composition ||
			drmModeCreatePropertyBlob(drm->fd, &s->mode, sizeof(s->mode), &s->mode_blob)) {
		dmab_log(DMAB_LOG_ERROR, "%s: connector %s: cannot set it up", drm->path, name);
		if (s->composition)
			liftoff_layer_destroy(s->composition);
		if (s->output)
			liftoff_output_destroy(s->output);
		free(s);
		return;
	}
	liftoff_output_set_composition_layer(s->output, s->composition);
	wl_list_init(&s->captures);
	wl_list_init(&s->captures_running);
	s->wb_fence = -1;
	find_writeback(drm, res, s);
	drm->crtcs_used |= 1u << crtc;
	wl_list_insert(drm->screens.prev, &s->link);
	dmab_screen_init(&s->base, &drm->base, &screen_impl, name, mode->hdisplay,
		mode->vdisplay, refresh_mhz(mode));
	uint64_t window = drm->config.repaint_window_us ?
		(uint64_t)drm->config.repaint_window_us * 1000 : 7000000;
	uint64_t half = 1000000000000ull / s->base.refresh_mhz / 2;
	dmab_screen_set_repaint_window(&s->base, window < half ? window : half);
	if (dmab_screen_announce(&s->base))
		dmab_screen_finish(&s->base);
}

void drm_screens_scan(struct drm_backend *drm)
{
	drmModeRes *res = drmModeGetResources(drm->fd);
	if (!res) {
		dmab_log_errno(DMAB_LOG_ERROR, -errno, "%s: cannot read its resources", drm->path);
		return;
	}
	struct drm_screen *s, *tmp;
	wl_list_for_each(s, &drm->screens, link)
		s->seen = false;
	for (int i = 0; i < res->count_connectors; i++) {
		drmModeConnector *conn = drmModeGetConnector(drm->fd, res->connectors[i]);
		if (!conn)
			continue;
		s = find(drm, conn->connector_id);
		bool connected = conn->connection == DRM_MODE_CONNECTED &&
			conn->connector_type != DRM_MODE_CONNECTOR_WRITEBACK;
		if (s && connected)
			s->seen = true;
		else if (!s && connected)
			screen_add(drm, res, conn);
		drmModeFreeConnector(conn);
	}
	drmModeFreeResources(res);
	wl_list_for_each_safe(s, tmp, &drm->screens, link) {
		if (!s->seen)
			dmab_screen_finish(&s->base);
	}
}

void drm_screen_destroy_all(struct drm_backend *drm)
{
	while (!wl_list_empty(&drm->screens)) {
		struct drm_screen *s = wl_container_of(drm->screens.next, s, link);
		dmab_screen_finish(&s->base);
	}
}
