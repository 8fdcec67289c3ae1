// SPDX-License-Identifier: MIT
/*
 * Windows: each a screen. Its root surface is an xdg_toplevel or an ivi
 * surface holding a black background the size of the screen; each layer
 * of a commit is a subsurface (synchronized, so the whole frame shows at
 * the root's commit), placed and stacked as the layer says. The root's
 * commit asks for a frame callback, which paces the next commit, and for
 * wp_presentation feedback, whose `presented` is the present; without
 * wp_presentation the frame callback is. A compositor that answers
 * neither in time (a hidden window, a stalled compositor) is not waited
 * for: the frame completes, not shown, and the next goes out a while
 * later, so that guests keep getting their page flips.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <drm_fourcc.h>
#include <wayland-client-protocol.h>

#include "common/log.h"
#include "common/pixman-format.h"
#include "output/compose.h"
#include "wayland/ivi-application.h"
#include "wayland/presentation-time-client-protocol.h"
#include "wayland/viewporter-client-protocol.h"
#include "wayland/wayland-impl.h"
#include "wayland/xdg-shell-client-protocol.h"

/*
 * How long a frame waits for the compositor before it completes without
 * it; once it did not answer, frames go at this slower pace until it does
 * (guests flip on, and little is sent to a compositor that may not read).
 */
#define STALL_MS 500
#define STALLED_PERIOD_MS 100

/* dma-bufs a subsurface may have in the compositor's hands: the one shown, the one coming. */
#define MAX_HELD 2

static const struct dmab_screen_impl screen_impl;

/* ---- subsurfaces ---- */

static void slot_destroy(struct wayland_conn *conn, struct wayland_slot *slot)
{
	wayland_fb_forget_slot(conn, slot);
	wayland_shm_destroy_all(slot);
	if (slot->viewport)
		wp_viewport_destroy(slot->viewport);
	wl_subsurface_destroy(slot->subsurface);
	wl_surface_destroy(slot->surface);
	free(slot);
}

static struct wayland_slot *slot_get(struct wayland_window *w, size_t i)
{
	if (i < w->nslots)
		return w->slots[i];
	struct wayland_conn *conn = w->conn;
	struct wayland_slot **grown = realloc(w->slots, (i + 1) * sizeof(*grown));
	if (!grown)
		return NULL;
	w->slots = grown;
	struct wayland_slot *slot = calloc(1, sizeof(*slot));
	if (!slot)
		return NULL;
	wl_list_init(&slot->shms);
	slot->surface = wl_compositor_create_surface(conn->compositor);
	slot->subsurface = wl_subcompositor_get_subsurface(conn->subcompositor, slot->surface,
		w->surface);
	if (conn->viewporter)
		slot->viewport = wp_viewporter_get_viewport(conn->viewporter, slot->surface);
	/* Input is not ours to take: the whole window is the root's. */
	struct wl_region *none = wl_compositor_create_region(conn->compositor);
	wl_surface_set_input_region(slot->surface, none);
	wl_region_destroy(none);
	w->slots[w->nslots++] = slot;
	return slot;
}

/*
 * pixman reads the layer into a wl_shm buffer: at its own size where the
 * compositor scales (wp_viewporter), else scaled here to its size on the
 * screen. Alpha is kept where the format has it, for the compositor to
 * blend.
 */
static bool copy_layer(struct wayland_window *w, struct wayland_slot *slot,
		const struct dmab_layer *l, struct wl_buffer **buffer)
{
	struct dmab_ofb *fb = l->fb;
	bool alpha = PIXMAN_FORMAT_A(dmab_pixman_format(fb->fourcc)) > 0;
	uint32_t width = slot->viewport ? l->src.width : l->dst.width;
	uint32_t height = slot->viewport ? l->src.height : l->dst.height;
	struct wayland_shm *shm = wayland_shm_acquire(w->conn, slot, width, height,
		alpha ? WL_SHM_FORMAT_ARGB8888 : WL_SHM_FORMAT_XRGB8888);
	if (!shm) {
		if (!slot->shm_exhausted_logged)
			dmab_log(DMAB_LOG_WARN, "wayland: window %s: the compositor holds every "
				"wl_shm buffer of a layer: it shows its last frame", w->base.name);
		slot->shm_exhausted_logged = true;
		return false;
	}
	struct dmab_layer into = *l;
	into.dst = (struct dmab_rect){ 0, 0, width, height };
	dmab_obuf_begin_cpu_read(fb->buffer);
	pixman_image_t *src = dmab_ofb_read_image(fb);
	if (src)
		dmab_compose_image(shm->image, src, &into, PIXMAN_OP_SRC);
	dmab_obuf_end_cpu_read(fb->buffer);
	if (!src)
		return false;
	w->base.copied += (uint64_t)width * height * 4;
	shm->busy = true;
	*buffer = shm->buffer;
	return true;
}

/*
 * What the subsurface shows of its buffer (src, NULL: all of it) and at
 * which size (the buffer's when 0): the viewport says so where either is
 * not the buffer's own.
 */
static void set_viewport(struct wayland_slot *slot, const struct dmab_rect *src,
		uint32_t width, uint32_t height)
{
	if (!slot->viewport)
		return;
	if (src)
		wp_viewport_set_source(slot->viewport, wl_fixed_from_int(src->x),
			wl_fixed_from_int(src->y), wl_fixed_from_int((int)src->width),
			wl_fixed_from_int((int)src->height));
	else if (slot->cropped)
		wp_viewport_set_source(slot->viewport, wl_fixed_from_int(-1), wl_fixed_from_int(-1),
			wl_fixed_from_int(-1), wl_fixed_from_int(-1));
	if (width)
		wp_viewport_set_destination(slot->viewport, (int32_t)width, (int32_t)height);
	else if (slot->scaled)
		wp_viewport_set_destination(slot->viewport, -1, -1);
	slot->cropped = src != NULL;
	slot->scaled = width != 0;
}

/* One layer onto its subsurface: the dma-buf itself where the compositor took it, else a copy. */
static void show_layer(struct wayland_window *w, struct wayland_slot *slot, struct wl_surface *below,
		struct dmab_layer *l)
{
	struct wayland_conn *conn = w->conn;
	wl_subsurface_set_position(slot->subsurface, l->dst.x, l->dst.y);
	wl_subsurface_place_above(slot->subsurface, below);
	struct dmab_ofb *fb = l->fb;
	bool whole = l->src.x == 0 && l->src.y == 0 && l->src.width == fb->width &&
		l->src.height == fb->height;
	bool scaled = l->src.width != l->dst.width || l->src.height != l->dst.height;
	enum wayland_shm_reason why = SHM_CROP;
	struct wl_buffer *buffer = wayland_fb_buffer(conn, fb, &why);
	if (buffer && (!whole || scaled) && !slot->viewport) {
		why = SHM_CROP;
		buffer = NULL;
	}
	/*
	 * A compositor that keeps every buffer it is given would hold all of
	 * a guest's (or a copy path's) framebuffers, and no new frame could
	 * be drawn: past the one shown and the one on its way, copies.
	 */
	if (buffer && slot->held >= MAX_HELD && !wayland_fb_busy(conn, fb)) {
		why = SHM_HELD;
		buffer = NULL;
		if (!conn->logged[SHM_HELD])
			dmab_log(DMAB_LOG_WARN, "wayland: window %s: the compositor does not release "
				"the dma-bufs it shows: %s", w->base.name, wayland_shm_why(SHM_HELD));
		conn->logged[SHM_HELD] = true;
	}
	if (buffer) {
		/* The compositor crops and scales: wp_viewporter. */
		set_viewport(slot, whole ? NULL : &l->src, scaled || !whole ? l->dst.width : 0,
			l->dst.height);
		l->composed = NULL;
		wl_surface_attach(slot->surface, buffer, 0, 0);
		wayland_fb_attached(conn, fb, slot);
	} else {
		l->composed = wayland_shm_why(why);
		if (!copy_layer(w, slot, l, &buffer)) {
			/* Nothing new to show: the subsurface keeps its last frame. */
			if (slot->mapped)
				return;
			buffer = NULL;
		}
		/* The copy is of src: scaled by the compositor where it can. */
		set_viewport(slot, NULL, scaled && slot->viewport ? l->dst.width : 0, l->dst.height);
		wl_surface_attach(slot->surface, buffer, 0, 0);
	}
	slot->mapped = buffer != NULL;
	wl_surface_damage_buffer(slot->surface, 0, 0, INT32_MAX, INT32_MAX);
	wl_surface_commit(slot->surface);
}

/* ---- the root surface ---- */

static void background_free(struct wayland_window *w)
{
	if (w->background)
		wl_buffer_destroy(w->background);
	if (w->bg_data)
		munmap(w->bg_data, w->bg_size);
	w->background = NULL;
	w->bg_data = NULL;
}

/* Black under the layers, the size of the screen: one pixel scaled where it can be. */
static void attach_background(struct wayland_window *w)
{
	uint32_t bw = w->viewport ? 1 : w->base.width, bh = w->viewport ? 1 : w->base.height;
	if (w->background && (w->bg_width != bw || w->bg_height != bh))
		background_free(w);
	if (!w->background) {
		w->background = wayland_shm_black(w->conn, bw, bh, &w->bg_data, &w->bg_size);
		w->bg_width = bw;
		w->bg_height = bh;
	}
	if (w->viewport)
		wp_viewport_set_destination(w->viewport, (int32_t)w->base.width,
			(int32_t)w->base.height);
	wl_surface_attach(w->surface, w->background, 0, 0);
	wl_surface_damage_buffer(w->surface, 0, 0, INT32_MAX, INT32_MAX);
	struct wl_region *opaque = wl_compositor_create_region(w->conn->compositor);
	wl_region_add(opaque, 0, 0, (int32_t)w->base.width, (int32_t)w->base.height);
	wl_surface_set_opaque_region(w->surface, opaque);
	wl_region_destroy(opaque);
	w->bg_attached = true;
}

/* ---- pacing ---- */

/* Armed while the compositor owes an answer: a present, or the frame callback a frame waits for. */
static void watchdog_update(struct wayland_window *w)
{
	bool waiting = w->in_flight || (w->frame_wanted && w->frame_cb && !w->stalled);
	int ms = w->stalled ? STALLED_PERIOD_MS : STALL_MS;
	wl_event_source_timer_update(w->watchdog, waiting ? ms : 0);
}

static void frame_now(void *data)
{
	struct wayland_window *w = data;
	w->frame_idle = NULL;
	if (!w->frame_wanted)
		return;
	w->frame_wanted = false;
	dmab_screen_frame(&w->base);
	watchdog_update(w);
}

static void frame_soon(struct wayland_window *w)
{
	if (!w->frame_idle)
		w->frame_idle = wl_event_loop_add_idle(w->base.output->loop, frame_now, w);
}

static void feedback_drop(struct wayland_window *w)
{
	if (w->feedback)
		wp_presentation_feedback_destroy(w->feedback);
	w->feedback = NULL;
}

/* The compositor answered: whatever stalled is over. */
static void answered(struct wayland_window *w)
{
	if (w->stalled)
		dmab_log(DMAB_LOG_INFO, "wayland: window %s: the compositor answers again",
			w->base.name);
	w->stalled = false;
}

static void presented(struct wayland_window *w, uint64_t when_ns, bool shown)
{
	if (!w->in_flight)
		return;
	w->in_flight = false;
	feedback_drop(w);
	if (shown)
		dmab_screen_presented(&w->base, when_ns);
	else
		dmab_screen_discarded(&w->base, when_ns);
	watchdog_update(w);
}

static void handle_frame_done(void *data, struct wl_callback *cb, uint32_t ms)
{
	struct wayland_window *w = data;
	wl_callback_destroy(cb);
	w->frame_cb = NULL;
	answered(w);
	/* Without wp_presentation, the frame callback is the present. */
	if (!w->feedback)
		presented(w, dmab_now_ns(), true);
	if (w->frame_wanted)
		frame_soon(w);
	watchdog_update(w);
}

static const struct wl_callback_listener frame_listener = {
	.done = handle_frame_done,
};

static void handle_feedback_sync_output(void *data, struct wp_presentation_feedback *fb,
		struct wl_output *output)
{
}

static void handle_feedback_presented(void *data, struct wp_presentation_feedback *fb,
		uint32_t sec_hi, uint32_t sec_lo, uint32_t nsec, uint32_t refresh, uint32_t seq_hi,
		uint32_t seq_lo, uint32_t flags)
{
	struct wayland_window *w = data;
	answered(w);
	uint64_t ns = (((uint64_t)sec_hi << 32 | sec_lo) * 1000000000ull) + nsec;
	uint64_t when = wayland_conn_to_monotonic(w->conn, ns);
	uint64_t now = dmab_now_ns();
	/* The output's refresh, where the compositor knows it. */
	if (refresh) {
		uint64_t mhz = 1000000000000ull / refresh;
		uint64_t cur = w->base.refresh_mhz;
		if (mhz && mhz <= 1000000 && (mhz > cur ? mhz - cur : cur - mhz) > cur / 100)
			w->base.refresh_mhz = (uint32_t)mhz;
	}
	presented(w, when <= now ? when : now, true);
}

static void handle_feedback_discarded(void *data, struct wp_presentation_feedback *fb)
{
	struct wayland_window *w = data;
	answered(w);
	/* Never shown (the window is hidden): its frames complete, not shown. */
	presented(w, dmab_now_ns(), false);
}

static const struct wp_presentation_feedback_listener feedback_listener = {
	.sync_output = handle_feedback_sync_output,
	.presented = handle_feedback_presented,
	.discarded = handle_feedback_discarded,
};

static int handle_watchdog(void *data)
{
	struct wayland_window *w = data;
	if (!w->stalled) {
		w->stalls++;
		dmab_log(DMAB_LOG_WARN, "wayland: window %s: no answer from the compositor in %d "
			"ms (a hidden window, or a stalled compositor): its frames complete without "
			"it until it answers", w->base.name, STALL_MS);
	}
	w->stalled = true;
	if (w->in_flight)
		presented(w, dmab_now_ns(), false);
	else if (w->frame_wanted)
		frame_soon(w);
	return 0;
}

static void screen_schedule_frame(struct dmab_screen *screen)
{
	struct wayland_window *w = wl_container_of(screen, w, base);
	w->frame_wanted = true;
	/* Paced by the compositor's frame callback; not waited for while it does not answer. */
	if (!w->frame_cb || w->stalled)
		frame_soon(w);
	else
		watchdog_update(w);
}

static int screen_commit(struct dmab_screen *screen, const struct dmab_screen_state *state)
{
	struct wayland_window *w = wl_container_of(screen, w, base);
	struct wayland_conn *conn = w->conn;
	if (conn->lost)
		return -EIO;
	struct wl_surface *below = w->surface;
	for (size_t i = 0; i < state->nlayers; i++) {
		struct wayland_slot *slot = slot_get(w, i);
		if (!slot)
			return -ENOMEM;
		show_layer(w, slot, below, &state->layers[i]);
		below = slot->surface;
	}
	for (size_t i = state->nlayers; i < w->nslots; i++) {
		struct wayland_slot *slot = w->slots[i];
		if (!slot->mapped)
			continue;
		wl_surface_attach(slot->surface, NULL, 0, 0);
		wl_surface_commit(slot->surface);
		slot->mapped = false;
	}
	if (!w->bg_attached)
		attach_background(w);
	if (w->frame_cb)
		wl_callback_destroy(w->frame_cb);
	w->frame_cb = wl_surface_frame(w->surface);
	wl_callback_add_listener(w->frame_cb, &frame_listener, w);
	feedback_drop(w);
	if (conn->presentation) {
		w->feedback = wp_presentation_feedback(conn->presentation, w->surface);
		wp_presentation_feedback_add_listener(w->feedback, &feedback_listener, w);
	}
	wl_surface_commit(w->surface);
	w->in_flight = true;
	watchdog_update(w);
	wayland_conn_flush(conn);
	return 0;
}

/* ---- windows ---- */

static void window_free(struct wayland_window *w)
{
	for (size_t i = 0; i < w->nslots; i++)
		slot_destroy(w->conn, w->slots[i]);
	free(w->slots);
	feedback_drop(w);
	if (w->frame_cb)
		wl_callback_destroy(w->frame_cb);
	if (w->frame_idle)
		wl_event_source_remove(w->frame_idle);
	if (w->watchdog)
		wl_event_source_remove(w->watchdog);
	dmab_ivi_surface_destroy(w->ivi_surface);
	if (w->toplevel)
		xdg_toplevel_destroy(w->toplevel);
	if (w->xdg_surface)
		xdg_surface_destroy(w->xdg_surface);
	if (w->viewport)
		wp_viewport_destroy(w->viewport);
	if (w->surface)
		wl_surface_destroy(w->surface);
	background_free(w);
	wl_list_remove(&w->link);
	free(w);
}

static void screen_destroy(struct dmab_screen *screen)
{
	struct wayland_window *w = wl_container_of(screen, w, base);
	struct wayland_conn *conn = w->conn;
	window_free(w);
	wayland_conn_flush(conn);
}

static const struct dmab_screen_impl screen_impl = {
	.commit = screen_commit,
	.schedule_frame = screen_schedule_frame,
	.destroy = screen_destroy,
};

/* The compositor gave the window its size: the screen's mode, announced the first time. */
static void configured(struct wayland_window *w, uint32_t width, uint32_t height)
{
	if (!width || !height) {
		width = w->config->width;
		height = w->config->height;
	}
	if (!w->configured) {
		w->configured = true;
		w->base.width = width;
		w->base.height = height;
		if (dmab_screen_announce(&w->base)) {
			w->closed = true;
			wayland_conn_schedule_reap(w->conn);
		}
		return;
	}
	if (width != w->base.width || height != w->base.height) {
		dmab_log(DMAB_LOG_INFO, "wayland: window %s is %ux%u now", w->base.name, width,
			height);
		w->bg_attached = false;
		dmab_screen_set_mode(&w->base, width, height, 0);
	}
}

static void handle_xdg_surface_configure(void *data, struct xdg_surface *xdg_surface,
		uint32_t serial)
{
	struct wayland_window *w = data;
	xdg_surface_ack_configure(xdg_surface, serial);
	configured(w, w->want_width, w->want_height);
	if (w->base.announced) {
		/* An acked configure wants a commit answering it. */
		dmab_screen_damage(&w->base);
	}
}

static const struct xdg_surface_listener xdg_surface_listener = {
	.configure = handle_xdg_surface_configure,
};

static void handle_toplevel_configure(void *data, struct xdg_toplevel *toplevel,
		int32_t width, int32_t height, struct wl_array *states)
{
	struct wayland_window *w = data;
	w->want_width = width > 0 ? (uint32_t)width : 0;
	w->want_height = height > 0 ? (uint32_t)height : 0;
}

static void handle_toplevel_close(void *data, struct xdg_toplevel *toplevel)
{
	struct wayland_window *w = data;
	dmab_log(DMAB_LOG_INFO, "wayland: window %s was closed: its screen is gone until it "
		"opens again", w->base.name);
	w->closed = true;
	wayland_conn_schedule_reap(w->conn);
}

static const struct xdg_toplevel_listener toplevel_listener = {
	.configure = handle_toplevel_configure,
	.close = handle_toplevel_close,
};

static void handle_ivi_configure(void *data, struct wl_proxy *ivi_surface, int32_t width,
		int32_t height)
{
	struct wayland_window *w = data;
	if (width > 0 && height > 0)
		configured(w, (uint32_t)width, (uint32_t)height);
}

static const struct dmab_ivi_surface_listener ivi_listener = {
	.configure = handle_ivi_configure,
};

static struct wayland_output *output_named(struct wayland_conn *conn, const char *name)
{
	struct wayland_output *o;
	wl_list_for_each(o, &conn->outputs, link) {
		if (!strcmp(o->name, name))
			return o;
	}
	return NULL;
}

static void set_fullscreen(struct wayland_window *w)
{
	const char *name = w->config->wl_output;
	struct wayland_output *o = name[0] ? output_named(w->conn, name) : NULL;
	if (name[0] && !o)
		dmab_log(DMAB_LOG_WARN, "wayland: window %s: no output named %s (yet): "
			"fullscreen where the compositor puts it", w->base.name, name);
	xdg_toplevel_set_fullscreen(w->toplevel, o ? o->output : NULL);
}

void wayland_windows_output_named(struct wayland_conn *conn, struct wayland_output *output)
{
	struct wayland_window *w;
	wl_list_for_each(w, &conn->windows, link) {
		if (w->toplevel && w->config->fullscreen &&
				!strcmp(w->config->wl_output, output->name))
			xdg_toplevel_set_fullscreen(w->toplevel, output->output);
	}
}

static bool is_open(struct wayland_conn *conn, const struct dmab_wayland_window_config *c)
{
	struct wayland_window *w;
	wl_list_for_each(w, &conn->windows, link) {
		if (w->config == c)
			return true;
	}
	return false;
}

static void window_open(struct wayland_conn *conn, const struct dmab_wayland_window_config *c)
{
	struct wayland_window *w = calloc(1, sizeof(*w));
	if (!w)
		return;
	dmab_screen_init(&w->base, &conn->wl->base, &screen_impl, c->name, c->width, c->height,
		0);
	w->conn = conn;
	w->config = c;
	wl_list_insert(conn->windows.prev, &w->link);
	uint32_t us = conn->wl->config.repaint_window_us;
	uint64_t window = us ? (uint64_t)us * 1000 : 10000000;
	uint64_t half = 1000000000000ull / w->base.refresh_mhz / 2;
	dmab_screen_set_repaint_window(&w->base, window < half ? window : half);
	w->watchdog = wl_event_loop_add_timer(conn->wl->base.output->loop, handle_watchdog, w);
	w->surface = wl_compositor_create_surface(conn->compositor);
	if (!w->watchdog || !w->surface) {
		dmab_screen_finish(&w->base);
		return;
	}
	if (conn->viewporter)
		w->viewport = wp_viewporter_get_viewport(conn->viewporter, w->surface);
	if (c->has_ivi_id && conn->ivi_application) {
		w->ivi_surface = dmab_ivi_surface_create(conn->ivi_application, c->ivi_id,
			w->surface);
		wl_proxy_add_listener(w->ivi_surface, (void (**)(void))&ivi_listener, w);
		dmab_log(DMAB_LOG_INFO, "wayland: window %s is ivi surface %" PRIu32, c->name,
			c->ivi_id);
		/* The shell places it; its size is ours until it says otherwise. */
		configured(w, c->width, c->height);
		return;
	}
	if (!conn->wm_base) {
		dmab_log(DMAB_LOG_ERROR, "wayland: window %s has no ivi-id, and the compositor "
			"has no xdg_wm_base: it cannot be shown", c->name);
		dmab_screen_finish(&w->base);
		return;
	}
	if (c->has_ivi_id)
		dmab_log(DMAB_LOG_INFO, "wayland: window %s: the compositor has no "
			"ivi_application: an xdg_toplevel instead", c->name);
	w->xdg_surface = xdg_wm_base_get_xdg_surface(conn->wm_base, w->surface);
	xdg_surface_add_listener(w->xdg_surface, &xdg_surface_listener, w);
	w->toplevel = xdg_surface_get_toplevel(w->xdg_surface);
	xdg_toplevel_add_listener(w->toplevel, &toplevel_listener, w);
	char title[96];
	snprintf(title, sizeof(title), "%s", c->title[0] ? c->title : "");
	if (!c->title[0])
		snprintf(title, sizeof(title), "dmabridge %s", c->name);
	xdg_toplevel_set_title(w->toplevel, title);
	xdg_toplevel_set_app_id(w->toplevel, "dmabridge");
	if (c->fullscreen)
		set_fullscreen(w);
	/* The first commit has no buffer: the compositor answers with a configure. */
	wl_surface_commit(w->surface);
}

void wayland_windows_open(struct wayland_conn *conn)
{
	const struct dmab_wayland_config *config = &conn->wl->config;
	for (unsigned int i = 0; i < config->nwindows; i++) {
		if (!is_open(conn, &config->windows[i]))
			window_open(conn, &config->windows[i]);
	}
}

void wayland_windows_reap(struct wayland_conn *conn)
{
	struct wayland_window *w, *tmp;
	wl_list_for_each_safe(w, tmp, &conn->windows, link) {
		if (w->closed)
			dmab_screen_finish(&w->base);
	}
	wayland_conn_flush(conn);
}

void wayland_window_destroy_all(struct wayland_conn *conn)
{
	while (!wl_list_empty(&conn->windows)) {
		struct wayland_window *w = wl_container_of(conn->windows.next, w, link);
		dmab_screen_finish(&w->base);
	}
}
