// SPDX-License-Identifier: MIT
/*
 * Views: the layers of screens. What a view shows moves pending -> queued
 * -> current; each state holds a lock on its framebuffer.
 */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "output/output-impl.h"

/* Views without a screen complete their frames at this rate. */
#define LIMBO_PERIOD_MS 16

static void content_set(struct dmab_view_content *dst, const struct dmab_view_content *src)
{
	if (src->fb)
		dmab_ofb_lock(src->fb);
	struct dmab_ofb *old = dst->fb;
	*dst = *src;
	dmab_ofb_unlock(old);
}

static void content_clear(struct dmab_view_content *c)
{
	struct dmab_ofb *old = c->fb;
	*c = (struct dmab_view_content){ 0 };
	dmab_ofb_unlock(old);
}

static void limbo_schedule(struct dmab_output *output)
{
	if (output->limbo_armed)
		return;
	output->limbo_armed = true;
	wl_event_source_timer_update(output->limbo_timer, LIMBO_PERIOD_MS);
}

/* A view left screen: it commits without it, even if nothing else changed. */
static void screen_left(struct dmab_screen *screen)
{
	screen->dirty = true;
	dmab_screen_schedule_frame(screen);
}

/* The view's screen (or the limbo clock) should run a frame. */
static void view_changed(struct dmab_view *view)
{
	if (view->screen)
		dmab_screen_schedule_frame(view->screen);
	else
		limbo_schedule(view->output);
}

struct dmab_view *dmab_view_create(struct dmab_output *output, uint32_t width,
		uint32_t height, const struct dmab_view_place *place)
{
	struct dmab_view *view = calloc(1, sizeof(*view));
	if (!view)
		return NULL;
	view->output = output;
	view->width = width;
	view->height = height;
	view->place = *place;
	view->place.screen[sizeof(view->place.screen) - 1] = '\0';
	view->serial = output->next_serial++;
	wl_signal_init(&view->events.frame);
	wl_signal_init(&view->events.present);
	wl_signal_init(&view->events.destroy);
	wl_list_insert(output->views.prev, &view->link);
	view->screen = dmab_output_find_screen(output, view->place.screen);
	view->place_changed = true;
	view_changed(view);
	return view;
}

void dmab_view_destroy(struct dmab_view *view)
{
	if (!view)
		return;
	wl_signal_emit_mutable(&view->events.destroy, view);
	wl_list_remove(&view->link);
	/* Its screen commits without it; the display unlocks what it still shows. */
	if (view->screen)
		screen_left(view->screen);
	content_clear(&view->pending);
	content_clear(&view->queued);
	content_clear(&view->current);
	free(view);
}

void dmab_view_set_place(struct dmab_view *view, const struct dmab_view_place *place)
{
	struct dmab_screen *old = view->screen;
	view->place = *place;
	view->place.screen[sizeof(view->place.screen) - 1] = '\0';
	view->screen = dmab_output_find_screen(view->output, view->place.screen);
	view->place_changed = true;
	if (old && old != view->screen)
		screen_left(old);
	view_changed(view);
}

void dmab_view_attach(struct dmab_view *view, const struct dmab_view_content *content)
{
	content_set(&view->pending, content);
	view->has_pending = true;
	view->attached_ns = dmab_now_ns();
	view_changed(view);
}

const struct dmab_view_content *dmab_view_latest(const struct dmab_view *view)
{
	if (view->has_pending)
		return &view->pending;
	/* Queued on a screen it left: newer than current, and what its new screen shows. */
	return view->has_queued ? &view->queued : &view->current;
}

void dmab_view_schedule_frame(struct dmab_view *view)
{
	view->wants_frame = true;
	view_changed(view);
}

struct dmab_view *dmab_view_find(struct dmab_output *output,
		bool (*pred)(struct dmab_view *view, void *data), void *data)
{
	struct dmab_view *view;
	wl_list_for_each(view, &output->views, link) {
		if (pred(view, data))
			return view;
	}
	return NULL;
}

void dmab_view_screen_added(struct dmab_screen *screen)
{
	struct dmab_view *view;
	wl_list_for_each(view, &screen->output->views, link) {
		if (!view->screen && !strcmp(view->place.screen, screen->name)) {
			view->screen = screen;
			view->place_changed = true;
		}
	}
}

void dmab_view_screen_removed(struct dmab_screen *screen)
{
	struct dmab_view *view;
	bool any = false;
	wl_list_for_each(view, &screen->output->views, link) {
		if (view->screen == screen) {
			view->screen = NULL;
			any = any || view->has_pending || view->wants_frame;
		}
	}
	if (any)
		limbo_schedule(screen->output);
}

struct complete {
	struct dmab_screen *screen;
};

static bool completes(struct dmab_view *view, void *data)
{
	struct complete *c = data;
	if (c->screen)
		return view->has_queued && view->queued_on == c->screen;
	/* A frame still in flight on a screen the view left completes first. */
	return !view->screen && view->has_pending && !view->has_queued;
}

/* Queued (screen) or pending (NULL) becomes current; its user hears of it. */
static void complete_view(struct dmab_view *view, struct dmab_screen *screen,
		uint64_t when_ns, bool on_screen)
{
	struct dmab_view_content *from = screen ? &view->queued : &view->pending;
	struct dmab_ofb *old = view->current.fb;
	view->current = *from;
	*from = (struct dmab_view_content){ 0 };
	if (screen) {
		view->has_queued = false;
		view->queued_on = NULL;
	} else {
		view->has_pending = false;
	}
	struct dmab_view_present_event event = {
		.view = view,
		.fb = view->current.fb,
		.seq = view->current.seq,
		/* Without a screen, nothing was committed: it completes now. */
		.committed_ns = screen ? view->queued_ns : when_ns,
		.when_ns = when_ns,
		.shown = on_screen && view->screen == screen && view->place.visible,
	};
	/* The view's lock on the old frame goes after its user heard of the new one. */
	dmab_signal_emit_guarded(&view->events.present, &view->events.destroy, &event);
	dmab_ofb_unlock(old);
}

void dmab_view_complete(struct dmab_output *output, struct dmab_screen *screen,
		uint64_t when_ns, bool on_screen)
{
	struct complete c = { screen };
	struct dmab_view *view;
	/* One at a time: a present listener may attach, move or destroy views. */
	while ((view = dmab_view_find(output, completes, &c)))
		complete_view(view, screen, when_ns, on_screen);
}

void dmab_view_complete_left(struct dmab_view *view, uint64_t when_ns)
{
	complete_view(view, view->queued_on, when_ns, false);
}

static bool limbo_wants_frame(struct dmab_view *view, void *data)
{
	return !view->screen && view->wants_frame;
}

static bool limbo_busy(struct dmab_view *view, void *data)
{
	return !view->screen && (view->wants_frame || view->has_pending);
}

int dmab_view_limbo_tick(void *data)
{
	struct dmab_output *output = data;
	output->limbo_armed = false;
	struct dmab_view *view;
	while ((view = dmab_view_find(output, limbo_wants_frame, NULL))) {
		view->wants_frame = false;
		dmab_signal_emit_guarded(&view->events.frame, &view->events.destroy, view);
	}
	dmab_view_complete(output, NULL, dmab_now_ns(), false);
	if (dmab_view_find(output, limbo_busy, NULL))
		limbo_schedule(output);
	return 0;
}
