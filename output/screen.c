// SPDX-License-Identifier: MIT
/*
 * Screens and their frame cycle: at a frame, views that asked for it get
 * events.frame, then every view's latest content goes into one commit;
 * when the backend reports it on screen, what was queued becomes current
 * and the next frame may go out.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <drm_fourcc.h>

#include "common/array.h"
#include "common/log.h"
#include "output/compose.h"
#include "output/output-impl.h"
#include "output/swapchain.h"

/* Composition targets: one on screen, one queued, one being drawn. */
#define COMPOSITION_SLOTS 3

static struct dmab_ratelimit log_rl = { .interval_ms = 5000, .burst = 10 };

static int handle_frame_timer(void *data);

void dmab_screen_init(struct dmab_screen *screen, struct dmab_backend *backend,
		const struct dmab_screen_impl *impl, const char *name, uint32_t width,
		uint32_t height, uint32_t refresh_mhz)
{
	memset(screen, 0, sizeof(*screen));
	screen->output = backend->output;
	screen->backend = backend;
	screen->impl = impl;
	snprintf(screen->name, sizeof(screen->name), "%s", name);
	screen->width = width;
	screen->height = height;
	screen->refresh_mhz = refresh_mhz ? refresh_mhz : 60000;
	screen->ntested = SIZE_MAX;     /* nothing tested yet: the first state is */
	screen->frame_timer = wl_event_loop_add_timer(backend->output->loop, handle_frame_timer,
		screen);
	wl_list_init(&screen->link);
	wl_signal_init(&screen->events.destroy);
}

int dmab_screen_announce(struct dmab_screen *screen)
{
	if (dmab_output_find_screen(screen->output, screen->name)) {
		dmab_log(DMAB_LOG_ERROR, "output %s: a screen named %s exists already",
			screen->backend->name, screen->name);
		return -EEXIST;
	}
	wl_list_insert(screen->output->screens.prev, &screen->link);
	screen->announced = true;
	dmab_log(DMAB_LOG_INFO, "output %s: screen %s %ux%u@%u.%03u", screen->backend->name,
		screen->name, screen->width, screen->height, screen->refresh_mhz / 1000,
		screen->refresh_mhz % 1000);
	dmab_view_screen_added(screen);
	wl_signal_emit_mutable(&screen->output->events.new_screen, screen);
	screen->dirty = true;
	dmab_screen_schedule_frame(screen);
	return 0;
}

static void target_release(struct dmab_ofb **target)
{
	struct dmab_ofb *fb = *target;
	*target = NULL;
	dmab_ofb_unlock(fb);
}

void dmab_screen_finish(struct dmab_screen *screen)
{
	if (screen->announced) {
		wl_signal_emit_mutable(&screen->events.destroy, screen);
		wl_list_remove(&screen->link);
		wl_list_init(&screen->link);
		screen->announced = false;
		/* What was on its way completes, never shown: nobody is left waiting. */
		dmab_view_complete(screen->output, screen, dmab_now_ns(), false);
		dmab_view_screen_removed(screen);
		dmab_log(DMAB_LOG_INFO, "output %s: screen %s is gone", screen->backend->name,
			screen->name);
	}
	if (screen->frame_idle) {
		wl_event_source_remove(screen->frame_idle);
		screen->frame_idle = NULL;
	}
	if (screen->frame_timer) {
		wl_event_source_remove(screen->frame_timer);
		screen->frame_timer = NULL;
	}
	target_release(&screen->target_queued);
	target_release(&screen->target_current);
	dmab_swapchain_destroy(screen->composition);
	screen->composition = NULL;
	free(screen->tested);
	screen->tested = NULL;
	screen->impl->destroy(screen);
}

void dmab_screen_set_mode(struct dmab_screen *screen, uint32_t width, uint32_t height,
		uint32_t refresh_mhz)
{
	screen->width = width;
	screen->height = height;
	if (refresh_mhz)
		screen->refresh_mhz = refresh_mhz;
	/* What the backend took in the old mode may not fit the new one. */
	screen->ntested = SIZE_MAX;
	/* The targets no longer fit: those on screen go at their last unlock. */
	dmab_swapchain_destroy(screen->composition);
	screen->composition = NULL;
	screen->dirty = true;
	dmab_screen_schedule_frame(screen);
}

static void run_frame(struct dmab_screen *screen);

static void handle_frame_idle(void *data)
{
	struct dmab_screen *screen = data;
	screen->frame_idle = NULL;
	run_frame(screen);
}

static int handle_frame_timer(void *data)
{
	struct dmab_screen *screen = data;
	screen->frame_timer_armed = false;
	run_frame(screen);
	return 0;
}

/*
 * Milliseconds to wait before committing: until the repaint window before
 * the next refresh opens, so that what arrives meanwhile (other guests'
 * flips) goes out in the same commit. 0: now.
 */
/*
 * Whether every view of screen that attached content lately (in the last
 * two refreshes) has done so for the next frame: then there is nobody to
 * wait for, and the repaint window would only add latency.
 */
static bool all_in(const struct dmab_screen *screen, uint64_t now, uint64_t period)
{
	const struct dmab_view *view;
	wl_list_for_each(view, &screen->output->views, link) {
		if (view->screen == screen && !view->has_pending &&
				now - view->attached_ns < 2 * period)
			return false;
	}
	return true;
}

static uint64_t frame_delay_ms(const struct dmab_screen *screen)
{
	uint64_t now = dmab_now_ns();
	uint64_t period = 1000000000000ull / screen->refresh_mhz;
	/* After a frame the display did not take: no retry before a refresh went by. */
	if (screen->failed_ns && now < screen->failed_ns + period)
		return (screen->failed_ns + period - now + 999999) / 1000000;
	if (!screen->repaint_window_ns || !screen->last_present_ns ||
			now < screen->last_present_ns)
		return 0;
	if (all_in(screen, now, period))
		return 0;
	uint64_t to_next = period - (now - screen->last_present_ns) % period;
	if (to_next <= screen->repaint_window_ns)
		return 0;
	return (to_next - screen->repaint_window_ns) / 1000000;
}

void dmab_screen_schedule_frame(struct dmab_screen *screen)
{
	if (!screen->announced)
		return;
	if (screen->in_flight) {
		screen->frame_pending = true;
		return;
	}
	if (screen->impl->schedule_frame) {
		if (!screen->frame_requested) {
			screen->frame_requested = true;
			screen->impl->schedule_frame(screen);
		}
		return;
	}
	if (screen->frame_idle || screen->frame_timer_armed)
		return;
	uint64_t delay = frame_delay_ms(screen);
	if (delay && screen->frame_timer) {
		wl_event_source_timer_update(screen->frame_timer, (int)delay);
		screen->frame_timer_armed = true;
		return;
	}
	screen->frame_idle = wl_event_loop_add_idle(screen->output->loop, handle_frame_idle,
		screen);
}

void dmab_screen_damage(struct dmab_screen *screen)
{
	screen->dirty = true;
	dmab_screen_schedule_frame(screen);
}

int dmab_screen_capture_display(struct dmab_screen *screen, dmab_screen_capture_fn done,
		void *data)
{
	if (!screen->impl->capture)
		return -ENOTSUP;
	int ret = screen->impl->capture(screen, done, data);
	/* Even when nothing changed: the capture goes with a commit. */
	if (ret == 0)
		dmab_screen_damage(screen);
	return ret;
}

void dmab_screen_capture_cancel(struct dmab_screen *screen, void *data)
{
	if (screen->impl->capture_cancel)
		screen->impl->capture_cancel(screen, data);
}

void dmab_screen_set_repaint_window(struct dmab_screen *screen, uint64_t window_ns)
{
	screen->repaint_window_ns = window_ns;
}

void dmab_screen_frame(struct dmab_screen *screen)
{
	screen->frame_requested = false;
	/* The backend's time to commit: still, views late for it may be waited for a little. */
	uint64_t delay = frame_delay_ms(screen);
	if (delay && screen->frame_timer && !screen->frame_timer_armed) {
		wl_event_source_timer_update(screen->frame_timer, (int)delay);
		screen->frame_timer_armed = true;
		return;
	}
	if (!screen->frame_timer_armed)
		run_frame(screen);
}

struct on_screen {
	struct dmab_screen *screen;
};

static bool wants_frame(struct dmab_view *view, void *data)
{
	return view->screen == data && view->wants_frame;
}

static bool changed(struct dmab_view *view, void *data)
{
	return view->screen == data && (view->has_pending || view->place_changed);
}

static bool queued_elsewhere(struct dmab_view *view, void *data)
{
	return view->screen == data && view->has_pending && view->has_queued &&
		view->queued_on != data;
}

static int by_z(const void *a, const void *b)
{
	const struct dmab_view *va = ((const struct dmab_layer *)a)->view;
	const struct dmab_view *vb = ((const struct dmab_layer *)b)->view;
	if (va->place.z != vb->place.z)
		return va->place.z < vb->place.z ? -1 : 1;
	return va->serial < vb->serial ? -1 : va->serial > vb->serial;
}

static int64_t max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/* a * num / den, rounded down, in 128 bits where it is a scale; exact when num == den. */
static int64_t muldiv(int64_t a, int64_t num, int64_t den)
{
	if (num == den)
		return a;
	__extension__ typedef __int128 wide;
	wide p = (wide)a * num;
	wide q = p / den;
	if (p % den && (p < 0) != (den < 0))
		q--;
	return (int64_t)q;
}

/*
 * A view's content as a layer: clipped to the view, scaled from the view's
 * size (its content's space) to dw x dh at vx, vy, and clipped to the
 * screen (width x height), in 64 bits (positions go to the ends of int32).
 * Unscaled, every step is exact. false when nothing is left.
 */
static bool clip(struct dmab_view *view, const struct dmab_view_content *c,
		int64_t vx, int64_t vy, int64_t dw, int64_t dh, int64_t width, int64_t height,
		struct dmab_layer *layer)
{
	if (!c->fb || !view->width || !view->height || dw <= 0 || dh <= 0)
		return false;
	int64_t vw = view->width, vh = view->height;
	/* In the view's own space: the content's part inside the view. */
	int64_t cx0 = max64(c->dx, 0), cy0 = max64(c->dy, 0);
	int64_t cx1 = min64((int64_t)c->dx + c->src.width, vw);
	int64_t cy1 = min64((int64_t)c->dy + c->src.height, vh);
	if (cx1 <= cx0 || cy1 <= cy0)
		return false;
	int64_t sx0 = c->src.x + (cx0 - c->dx), sy0 = c->src.y + (cy0 - c->dy);
	int64_t sx1 = sx0 + (cx1 - cx0), sy1 = sy0 + (cy1 - cy0);
	/* On the screen. */
	int64_t x0 = vx + muldiv(cx0, dw, vw), x1 = vx + muldiv(cx1, dw, vw);
	int64_t y0 = vy + muldiv(cy0, dh, vh), y1 = vy + muldiv(cy1, dh, vh);
	int64_t left = max64(x0, 0), top = max64(y0, 0);
	int64_t right = min64(x1, width), bottom = min64(y1, height);
	if (right <= left || bottom <= top)
		return false;
	/* What the screen cut off, cut off the source in proportion. */
	sx0 += muldiv(left - x0, vw, dw);
	sy0 += muldiv(top - y0, vh, dh);
	sx1 -= muldiv(x1 - right, vw, dw);
	sy1 -= muldiv(y1 - bottom, vh, dh);
	if (sx1 <= sx0 || sy1 <= sy0)
		return false;
	*layer = (struct dmab_layer){
		.view = view,
		.fb = c->fb,
		.src = {
			.x = (int32_t)sx0, .y = (int32_t)sy0,
			.width = (uint32_t)(sx1 - sx0), .height = (uint32_t)(sy1 - sy0),
		},
		.dst = {
			.x = (int32_t)left, .y = (int32_t)top,
			.width = (uint32_t)(right - left), .height = (uint32_t)(bottom - top),
		},
	};
	return true;
}

static bool layer_of(const struct dmab_screen *screen, struct dmab_view *view,
		const struct dmab_view_content *c, struct dmab_layer *layer)
{
	int64_t dw = view->place.width ? view->place.width : view->width;
	int64_t dh = view->place.height ? view->place.height : view->height;
	return view->place.visible && clip(view, c, view->place.x, view->place.y, dw, dh,
		screen->width, screen->height, layer);
}

const char *dmab_view_how_shown(const struct dmab_view *view)
{
	struct dmab_layer layer;
	if (!view->screen)
		return "not shown: no screen of its name";
	if (!view->place.visible)
		return "not shown: hidden";
	if (!view->current.fb)
		return "not shown: nothing on screen yet";
	if (!layer_of(view->screen, (struct dmab_view *)view, &view->current, &layer))
		return "not shown: outside its screen";
	return view->composed;
}

bool dmab_view_current_layer(struct dmab_view *view, struct dmab_layer *layer)
{
	return clip(view, &view->current, 0, 0, view->width, view->height, view->width,
		view->height, layer);
}

static int build_state(struct dmab_screen *screen, bool current, struct dmab_layer **layers,
		size_t *n)
{
	size_t count = 0, cap = 0;
	struct dmab_layer *out = NULL;
	struct dmab_view *view;
	wl_list_for_each(view, &screen->output->views, link) {
		if (view->screen != screen)
			continue;
		if (dmab_array_reserve((void **)&out, &cap, count, sizeof(*out))) {
			free(out);
			return -ENOMEM;
		}
		if (layer_of(screen, view, current ? &view->current : dmab_view_latest(view),
				&out[count]))
			count++;
	}
	if (count)
		qsort(out, count, sizeof(*out), by_z);
	*layers = out;
	*n = count;
	return 0;
}

int dmab_screen_current_layers(struct dmab_screen *screen, struct dmab_layer **layers,
		size_t *n)
{
	return build_state(screen, true, layers, n);
}

static bool same_layers(const struct dmab_screen *screen, const struct dmab_layer *layers,
		size_t n)
{
	if (n != screen->ntested)
		return false;
	for (size_t i = 0; i < n; i++) {
		const struct dmab_layer *a = &layers[i], *b = &screen->tested[i];
		if (a->fb != b->fb || memcmp(&a->src, &b->src, sizeof(a->src)) ||
				memcmp(&a->dst, &b->dst, sizeof(a->dst)))
			return false;
	}
	return true;
}

/* The backend's answer to TEST_ONLY for these layers, remembered for the same ones. */
static int test_state(struct dmab_screen *screen, const struct dmab_screen_state *state)
{
	if (!screen->impl->test)
		return 0;
	if (same_layers(screen, state->layers, state->nlayers))
		return screen->tested_result;
	int ret = screen->impl->test(screen, state);
	/* Not the layers' fault: the display is not ours now. Tested again next time. */
	if (ret == -EACCES) {
		screen->ntested = SIZE_MAX;
		return ret;
	}
	if (state->nlayers > screen->tested_cap) {
		free(screen->tested);
		screen->tested = malloc(state->nlayers * sizeof(*state->layers));
		screen->tested_cap = screen->tested ? state->nlayers : 0;
	}
	if (state->nlayers <= screen->tested_cap) {
		if (state->nlayers)
			memcpy(screen->tested, state->layers, state->nlayers * sizeof(*state->layers));
		screen->ntested = state->nlayers;
		screen->tested_result = ret;
	} else {
		screen->ntested = SIZE_MAX; /* matches nothing: test again next time */
	}
	return ret;
}

/* Every layer drawn into one target: what any display can show. */
static int compose_all(struct dmab_screen *screen, const struct dmab_screen_state *state,
		struct dmab_layer *target_layer)
{
	if (!screen->composition)
		screen->composition = dmab_swapchain_create(screen->output, screen,
			screen->width, screen->height, DRM_FORMAT_XRGB8888, COMPOSITION_SLOTS);
	struct dmab_ofb *target = screen->composition ?
		dmab_swapchain_acquire(screen->composition) : NULL;
	if (!target)
		return -ENOMEM;
	pixman_image_t *img = dmab_ofb_read_image(target);
	if (!img) {
		dmab_ofb_unlock(target);
		return -ENOTSUP;
	}
	size_t skipped = dmab_compose(img, state->layers, state->nlayers, true);
	if (skipped)
		dmab_log_ratelimited(&log_rl, DMAB_LOG_WARN, "screen %s: %zu layer%s without CPU "
			"access could not be composed", screen->name, skipped, skipped == 1 ? "" : "s");
	*target_layer = (struct dmab_layer){
		.fb = target,
		.src = { 0, 0, screen->width, screen->height },
		.dst = { 0, 0, screen->width, screen->height },
	};
	return 0;
}

/* pending -> queued for every view of the screen; target (may be NULL) is queued. */
static void take_pending(struct dmab_screen *screen, struct dmab_ofb *target)
{
	uint64_t now = dmab_now_ns();
	struct dmab_view *view;
	wl_list_for_each(view, &screen->output->views, link) {
		if (view->screen != screen)
			continue;
		view->place_changed = false;
		if (!view->has_pending)
			continue;
		if (view->has_queued) {
			/* Queued on another screen it left: that one is over. */
			struct dmab_ofb *old = view->queued.fb;
			view->queued = (struct dmab_view_content){ 0 };
			dmab_ofb_unlock(old);
		}
		view->queued = view->pending;
		view->pending = (struct dmab_view_content){ 0 };
		view->has_pending = false;
		view->has_queued = true;
		view->queued_on = screen;
		view->queued_ns = now;
	}
	target_release(&screen->target_queued);
	screen->target_queued = target;
	screen->dirty = false;
}

/* Each view hears how its layer is shown: directly, or composed and why. */
static void record_how_shown(struct dmab_layer *layers, size_t n, const char *all_composed)
{
	for (size_t i = 0; i < n; i++) {
		struct dmab_layer *l = &layers[i];
		if (!l->view)
			continue;
		const char *why = all_composed ? all_composed : l->composed;
		/* Composition reads the CPU mapping: without one, nothing shows. */
		if (why && !l->fb->buffer->cpu)
			why = "composed, but it has no CPU mapping: not shown";
		l->view->composed = why;
	}
}

static void run_frame(struct dmab_screen *screen)
{
	if (!screen->announced)
		return;
	if (screen->in_flight) {
		screen->frame_pending = true;
		return;
	}
	screen->frame_pending = false;

	/* One at a time: a frame listener may attach, move or destroy views. */
	struct dmab_view *view;
	while ((view = dmab_view_find(screen->output, wants_frame, screen))) {
		view->wants_frame = false;
		dmab_signal_emit_guarded(&view->events.frame, &view->events.destroy, view);
	}
	if (!screen->dirty && !dmab_view_find(screen->output, changed, screen))
		return;
	/*
	 * A view that came here with a frame still in flight on the screen it
	 * left: that frame is over for it before its next one is queued here,
	 * reported rather than lost.
	 */
	while ((view = dmab_view_find(screen->output, queued_elsewhere, screen)))
		dmab_view_complete_left(view, dmab_now_ns());

	struct dmab_screen_state state = { 0 };
	if (build_state(screen, false, &state.layers, &state.nlayers)) {
		dmab_log(DMAB_LOG_ERROR, "screen %s: out of memory for a frame", screen->name);
		dmab_screen_schedule_frame(screen);
		return;
	}
	struct dmab_layer target_layer;
	struct dmab_screen_state composed = { &target_layer, 1 };
	struct dmab_ofb *target = NULL;
	int ret = test_state(screen, &state);
	const char *composed_why = ret ? "the display cannot show these layers together" :
		"the display refused the commit";
	if (ret == 0)
		ret = screen->impl->commit(screen, &state);
	/* -EACCES: the display is not ours now (another DRM master): nothing to compose for. */
	if (ret && ret != -EACCES) {
		/* libliftoff's rule: always be ready to compose. */
		ret = compose_all(screen, &state, &target_layer);
		if (ret == 0) {
			target = target_layer.fb;
			ret = screen->impl->commit(screen, &composed);
			if (ret) {
				dmab_ofb_unlock(target);
				target = NULL;
			} else {
				screen->composed++;
			}
		}
	}
	if (ret == 0)
		record_how_shown(state.layers, state.nlayers, target ? composed_why : NULL);
	free(state.layers);
	if (ret) {
		screen->failed++;
		screen->failed_ns = dmab_now_ns();
		if (ret != -EACCES)
			dmab_log_ratelimited(&log_rl, DMAB_LOG_ERROR, "screen %s: the display "
				"refused a frame, composed too: %s", screen->name, dmab_strerror(ret));
		/* Its views' frames complete anyway, not shown, so nobody waits. */
		take_pending(screen, NULL);
		dmab_view_complete(screen->output, screen, dmab_now_ns(), false);
		return;
	}
	take_pending(screen, target);
	screen->failed_ns = 0;
	screen->in_flight = true;
	screen->commits++;
}

void dmab_screen_presented(struct dmab_screen *screen, uint64_t when_ns)
{
	if (!screen->in_flight)
		return;
	screen->in_flight = false;
	screen->last_present_ns = when_ns;
	target_release(&screen->target_current);
	screen->target_current = screen->target_queued;
	screen->target_queued = NULL;
	dmab_view_complete(screen->output, screen, when_ns, true);
	if (screen->frame_pending || screen->dirty ||
			dmab_view_find(screen->output, changed, screen) ||
			dmab_view_find(screen->output, wants_frame, screen))
		dmab_screen_schedule_frame(screen);
}

void dmab_screen_discarded(struct dmab_screen *screen, uint64_t when_ns)
{
	if (!screen->in_flight)
		return;
	screen->in_flight = false;
	screen->discarded++;
	/* What showed before still does: the composition target queued is not read. */
	target_release(&screen->target_queued);
	dmab_view_complete(screen->output, screen, when_ns, false);
	if (screen->frame_pending || screen->dirty ||
			dmab_view_find(screen->output, changed, screen) ||
			dmab_view_find(screen->output, wants_frame, screen))
		dmab_screen_schedule_frame(screen);
}
