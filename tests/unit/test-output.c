// SPDX-License-Identifier: MIT
/*
 * The output layer's contract, driven on a real event loop through a
 * backend written here: it checks and records every commit, refuses
 * test() or commit() when told to, holds what its display reads, and
 * reports a commit on screen only when the test says so.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <drm_fourcc.h>

#include "common/log.h"
#include "output/backend.h"
#include "output/swapchain.h"

#define MAX_LAYERS 16
#define MAX_HELD 64
#define MAX_IMAGES 48
#define MAX_VIEWS 24
#define MAX_EVENTS 64

/* ---- the backend ---- */

/* One commit the backend took, as it saw it. */
struct record {
	char screen[DMAB_SCREEN_NAME_MAX + 1];
	size_t nlayers;
	struct dmab_layer layers[MAX_LAYERS];
};

/* How a screen of the backend behaves; the test may change it at any time. */
struct fake_opts {
	int test_ret;           /* what test() answers */
	size_t planes;          /* test() refuses more layers than this (0: any number) */
	int commit_ret;         /* what commit() answers for views' layers */
	int composed_ret;       /* what commit() answers for a composed target */
	bool no_test;           /* the screen has no test() hook */
	bool hold;              /* keep what leaves the screen locked until released */
};

struct fake_screen {
	struct dmab_screen base;
	struct fake_backend *backend;
	struct wl_list link;            /* fake_backend.screens */
	struct fake_opts opts;
	/* What the display reads: the commit in flight, what is on screen, what it holds on. */
	struct dmab_ofb *queued[MAX_LAYERS], *shown[MAX_LAYERS], *held[MAX_HELD];
	size_t nqueued, nshown, nheld;
	bool in_flight;
	unsigned int tests, commit_calls;
};

struct fake_backend {
	struct dmab_backend base;
	struct wl_list screens;         /* fake_screen.link */
	struct fake_screen *first;
	struct record *records;
	size_t nrecords, cap;
};

static const struct dmab_screen_impl fake_screen_impl;
static const struct dmab_screen_impl fake_screen_impl_no_test;

/* What every state handed to a backend must be, whoever made it. */
static void check_state(const struct fake_screen *fs, const struct dmab_screen_state *state)
{
	assert_true(state->nlayers <= MAX_LAYERS);
	for (size_t i = 0; i < state->nlayers; i++) {
		const struct dmab_layer *l = &state->layers[i];
		assert_non_null(l->fb);
		assert_true(l->fb->locks > 0);
		assert_true(l->src.width > 0 && l->src.height > 0);
		/* The same size, unless the view is scaled. */
		if (!l->view || !l->view->place.width) {
			assert_int_equal(l->src.width, l->dst.width);
			assert_int_equal(l->src.height, l->dst.height);
		}
		assert_true(l->dst.width > 0 && l->dst.height > 0);
		assert_true(l->dst.x >= 0 && l->dst.y >= 0);
		assert_true((uint64_t)l->dst.x + l->dst.width <= fs->base.width);
		assert_true((uint64_t)l->dst.y + l->dst.height <= fs->base.height);
		assert_true(l->src.x >= 0 && l->src.y >= 0);
		assert_true((uint64_t)l->src.x + l->src.width <= l->fb->width);
		assert_true((uint64_t)l->src.y + l->src.height <= l->fb->height);
		if (!l->view) {
			assert_int_equal(state->nlayers, 1);
			continue;
		}
		assert_ptr_equal(l->view->screen, &fs->base);
		assert_true(l->view->place.visible);
		if (i > 0) {
			const struct dmab_view *below = state->layers[i - 1].view;
			const struct dmab_view *v = l->view;
			assert_true(below->place.z < v->place.z ||
				(below->place.z == v->place.z && below->serial < v->serial));
		}
	}
}

static bool is_composed(const struct dmab_screen_state *state)
{
	return state->nlayers == 1 && !state->layers[0].view;
}

static int fake_test(struct dmab_screen *screen, const struct dmab_screen_state *state)
{
	struct fake_screen *fs = wl_container_of(screen, fs, base);
	check_state(fs, state);
	fs->tests++;
	if (fs->opts.planes && state->nlayers > fs->opts.planes)
		return -ENOSPC;
	return fs->opts.test_ret;
}

static int fake_commit(struct dmab_screen *screen, const struct dmab_screen_state *state)
{
	struct fake_screen *fs = wl_container_of(screen, fs, base);
	struct fake_backend *b = fs->backend;
	check_state(fs, state);
	/* One commit in flight per screen. */
	assert_false(fs->in_flight);
	fs->commit_calls++;
	int ret = is_composed(state) ? fs->opts.composed_ret : fs->opts.commit_ret;
	if (ret)
		return ret;
	if (b->nrecords == b->cap) {
		b->cap = b->cap ? 2 * b->cap : 16;
		b->records = realloc(b->records, b->cap * sizeof(*b->records));
		assert_non_null(b->records);
	}
	struct record *r = &b->records[b->nrecords++];
	memset(r, 0, sizeof(*r));
	snprintf(r->screen, sizeof(r->screen), "%s", screen->name);
	r->nlayers = state->nlayers;
	if (state->nlayers)
		memcpy(r->layers, state->layers, state->nlayers * sizeof(*state->layers));
	for (size_t i = 0; i < state->nlayers; i++)
		fs->queued[i] = dmab_ofb_lock(state->layers[i].fb);
	fs->nqueued = state->nlayers;
	fs->in_flight = true;
	return 0;
}

static void unlock_list(struct dmab_ofb **fbs, size_t *n)
{
	size_t count = *n;
	*n = 0;
	for (size_t i = 0; i < count; i++)
		dmab_ofb_unlock(fbs[i]);
}

static void fake_screen_destroy(struct dmab_screen *screen)
{
	struct fake_screen *fs = wl_container_of(screen, fs, base);
	unlock_list(fs->queued, &fs->nqueued);
	unlock_list(fs->shown, &fs->nshown);
	unlock_list(fs->held, &fs->nheld);
	wl_list_remove(&fs->link);
	if (fs->backend->first == fs)
		fs->backend->first = NULL;
	free(fs);
}

static const struct dmab_screen_impl fake_screen_impl = {
	.commit = fake_commit,
	.test = fake_test,
	.destroy = fake_screen_destroy,
};

static const struct dmab_screen_impl fake_screen_impl_no_test = {
	.commit = fake_commit,
	.destroy = fake_screen_destroy,
};

/* A screen plugged in: 0, or -EEXIST when its name is taken (it is gone then). */
static int fake_screen_add(struct fake_backend *b, const char *name, uint32_t width,
		uint32_t height, const struct fake_opts *opts, struct fake_screen **out)
{
	struct fake_screen *fs = calloc(1, sizeof(*fs));
	assert_non_null(fs);
	fs->backend = b;
	if (opts)
		fs->opts = *opts;
	dmab_screen_init(&fs->base, &b->base, fs->opts.no_test ? &fake_screen_impl_no_test :
		&fake_screen_impl, name, width, height, 0);
	wl_list_insert(b->screens.prev, &fs->link);
	int ret = dmab_screen_announce(&fs->base);
	if (ret) {
		dmab_screen_finish(&fs->base);
		fs = NULL;
	}
	if (out)
		*out = fs;
	return ret;
}

/* The screen is unplugged. */
static void fake_screen_remove(struct fake_screen *fs)
{
	dmab_screen_finish(&fs->base);
}

/* The commit in flight is on screen since when_ns. */
static void fake_present(struct fake_screen *fs, uint64_t when_ns)
{
	assert_true(fs->in_flight);
	fs->in_flight = false;
	/* What leaves the screen is let go of now, or later when holding on. */
	for (size_t i = 0; i < fs->nshown; i++) {
		if (fs->opts.hold) {
			assert_true(fs->nheld < MAX_HELD);
			fs->held[fs->nheld++] = fs->shown[i];
		} else {
			dmab_ofb_unlock(fs->shown[i]);
		}
	}
	memcpy(fs->shown, fs->queued, fs->nqueued * sizeof(*fs->queued));
	fs->nshown = fs->nqueued;
	fs->nqueued = 0;
	dmab_screen_presented(&fs->base, when_ns);
}

static void fake_release_held(struct fake_screen *fs)
{
	unlock_list(fs->held, &fs->nheld);
}

static int fake_backend_start(struct dmab_backend *backend)
{
	struct fake_backend *b = wl_container_of(backend, b, base);
	return fake_screen_add(b, "main", 640, 480, NULL, &b->first);
}

static void fake_backend_destroy(struct dmab_backend *backend)
{
	struct fake_backend *b = wl_container_of(backend, b, base);
	while (!wl_list_empty(&b->screens)) {
		struct fake_screen *fs = wl_container_of(b->screens.next, fs, link);
		dmab_screen_finish(&fs->base);
	}
	free(b->records);
	dmab_backend_finish(backend);
	free(b);
}

static const struct dmab_backend_impl fake_backend_impl = {
	.type = "fake",
	.start = fake_backend_start,
	.destroy = fake_backend_destroy,
};

static struct fake_backend *fake_backend_create(void)
{
	struct fake_backend *b = calloc(1, sizeof(*b));
	assert_non_null(b);
	dmab_backend_init(&b->base, &fake_backend_impl, "fake");
	wl_list_init(&b->screens);
	return b;
}

/* ---- what the user sees ---- */

/* A framebuffer of one colour, and what it told its owner. */
struct image {
	struct dmab_obuf *buf;
	struct dmab_ofb *fb;
	uint32_t color;
	unsigned int releases;
	bool freed;
	bool drop_at_release;           /* its owner frees it, and its buffer, once idle */
	bool relock_at_release;         /* its owner needs it again */
	struct wl_listener release, destroy;
};

/* A view and what it told its user; it can attach or destroy itself when told. */
struct tview {
	struct dmab_view *view;
	struct dmab_view_present_event events[MAX_EVENTS];
	size_t nevents;
	unsigned int frames;
	struct dmab_ofb *attach_at_frame;
	bool destroy_at_present, destroy_at_frame;
	struct wl_listener present, frame, destroy;
};

struct env {
	struct wl_event_loop *loop;
	struct dmab_output *output;
	struct fake_backend *backend;
	struct fake_screen *main;
	struct image images[MAX_IMAGES];
	size_t nimages;
	struct tview views[MAX_VIEWS];
	size_t nviews;
	int fds;
};

static int count_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	assert_non_null(dir);
	int n = 0;
	while (readdir(dir))
		n++;
	closedir(dir);
	return n;
}

static void handle_image_release(struct wl_listener *listener, void *data)
{
	struct image *img = wl_container_of(listener, img, release);
	assert_int_equal(img->fb->locks, 0);
	img->releases++;
	if (img->relock_at_release)
		dmab_ofb_lock(img->fb);
	if (img->drop_at_release) {
		dmab_ofb_drop(img->fb);
		dmab_obuf_destroy(img->buf);
		img->buf = NULL;
	}
}

static void handle_image_destroy(struct wl_listener *listener, void *data)
{
	struct image *img = wl_container_of(listener, img, destroy);
	wl_list_remove(&img->release.link);
	wl_list_remove(&img->destroy.link);
	img->freed = true;
}

static struct image *image_add(struct env *e, uint32_t width, uint32_t height, uint32_t color)
{
	assert_true(e->nimages < MAX_IMAGES);
	struct image *img = &e->images[e->nimages++];
	uint32_t stride = width * 4;
	assert_int_equal(dmab_obuf_alloc(e->output, NULL, width, height, 32, &stride,
		(size_t)stride * height, &img->buf), 0);
	assert_non_null(img->buf->cpu);
	for (uint32_t y = 0; y < height; y++) {
		uint32_t *row = (uint32_t *)(void *)((uint8_t *)img->buf->cpu + (size_t)y * stride);
		for (uint32_t x = 0; x < width; x++)
			row[x] = color;
	}
	assert_int_equal(dmab_ofb_create(img->buf, width, height, DRM_FORMAT_XRGB8888, 0, stride,
		&img->fb), 0);
	img->color = color;
	img->release.notify = handle_image_release;
	img->destroy.notify = handle_image_destroy;
	wl_signal_add(&img->fb->events.release, &img->release);
	wl_signal_add(&img->fb->events.destroy, &img->destroy);
	return img;
}

static void handle_view_present(struct wl_listener *listener, void *data)
{
	struct tview *tv = wl_container_of(listener, tv, present);
	const struct dmab_view_present_event *event = data;
	assert_ptr_equal(event->view, tv->view);
	assert_true(tv->nevents < MAX_EVENTS);
	tv->events[tv->nevents++] = *event;
	if (tv->destroy_at_present)
		dmab_view_destroy(tv->view);
}

static void handle_view_frame(struct wl_listener *listener, void *data)
{
	struct tview *tv = wl_container_of(listener, tv, frame);
	tv->frames++;
	if (tv->attach_at_frame) {
		struct dmab_ofb *fb = tv->attach_at_frame;
		tv->attach_at_frame = NULL;
		dmab_view_attach(tv->view, &(struct dmab_view_content){
			.fb = fb, .src = { 0, 0, fb->width, fb->height } });
	}
	if (tv->destroy_at_frame)
		dmab_view_destroy(tv->view);
}

static void handle_view_destroy(struct wl_listener *listener, void *data)
{
	struct tview *tv = wl_container_of(listener, tv, destroy);
	wl_list_remove(&tv->present.link);
	wl_list_remove(&tv->frame.link);
	wl_list_remove(&tv->destroy.link);
	tv->view = NULL;
}

static struct dmab_view_place place(const char *screen, int32_t x, int32_t y, int32_t z,
		bool visible)
{
	struct dmab_view_place p = { .x = x, .y = y, .z = z, .visible = visible };
	snprintf(p.screen, sizeof(p.screen), "%s", screen);
	return p;
}

static struct tview *view_add(struct env *e, uint32_t width, uint32_t height,
		struct dmab_view_place p)
{
	assert_true(e->nviews < MAX_VIEWS);
	struct tview *tv = &e->views[e->nviews++];
	tv->view = dmab_view_create(e->output, width, height, &p);
	assert_non_null(tv->view);
	tv->present.notify = handle_view_present;
	tv->frame.notify = handle_view_frame;
	tv->destroy.notify = handle_view_destroy;
	wl_signal_add(&tv->view->events.present, &tv->present);
	wl_signal_add(&tv->view->events.frame, &tv->frame);
	wl_signal_add(&tv->view->events.destroy, &tv->destroy);
	return tv;
}

/* Show all of fb at the view's top-left. */
static void attach(struct tview *tv, struct dmab_ofb *fb)
{
	dmab_view_attach(tv->view, &(struct dmab_view_content){
		.fb = fb, .src = { 0, 0, fb ? fb->width : 0, fb ? fb->height : 0 } });
}

static const struct dmab_view_present_event *last_event(const struct tview *tv)
{
	assert_true(tv->nevents > 0);
	return &tv->events[tv->nevents - 1];
}

/* Run what is ready now, idle sources included. */
static void idle(struct env *e)
{
	assert_int_equal(wl_event_loop_dispatch(e->loop, 0), 0);
}

/* Run the loop until pred holds or ms have passed; whether it holds. */
static bool run_until(struct env *e, bool (*pred)(void *data), void *data, int ms)
{
	uint64_t deadline = dmab_now_ms() + (uint64_t)ms;
	while (!pred(data)) {
		uint64_t now = dmab_now_ms();
		if (now >= deadline)
			return false;
		assert_int_equal(wl_event_loop_dispatch(e->loop, (int)(deadline - now)), 0);
	}
	return true;
}

static bool never(void *data)
{
	return false;
}

static void run_for(struct env *e, int ms)
{
	run_until(e, never, NULL, ms);
}

struct count_at_least {
	const size_t *count;
	size_t n;
};

static bool reached(void *data)
{
	const struct count_at_least *c = data;
	return *c->count >= c->n;
}

/* Run until tv has heard of n presents in all (at most ms). */
static bool run_until_events(struct env *e, struct tview *tv, size_t n, int ms)
{
	struct count_at_least c = { &tv->nevents, n };
	return run_until(e, reached, &c, ms);
}

/* A second screen, "side", 320x240, with its first commit on screen. */
static struct fake_screen *add_side(struct env *e)
{
	struct fake_screen *side;
	assert_int_equal(fake_screen_add(e->backend, "side", 320, 240, NULL, &side), 0);
	idle(e);
	fake_present(side, 1);
	return side;
}

/* Let every screen that still has a commit to make make it, and show it. */
static void settle(struct env *e)
{
	for (int round = 0; round < 4; round++) {
		idle(e);
		struct fake_screen *fs;
		wl_list_for_each(fs, &e->backend->screens, link) {
			if (fs->in_flight)
				fake_present(fs, dmab_now_ns());
		}
	}
}

static bool view_gone(void *data)
{
	const struct tview *tv = data;
	return !tv->view;
}

static const struct record *last_record(const struct env *e)
{
	assert_true(e->backend->nrecords > 0);
	return &e->backend->records[e->backend->nrecords - 1];
}

/* The layer of view in r, or NULL. */
static const struct dmab_layer *layer_of(const struct record *r, const struct tview *tv)
{
	for (size_t i = 0; i < r->nlayers; i++) {
		if (r->layers[i].view == tv->view)
			return &r->layers[i];
	}
	return NULL;
}

static void assert_rect(struct dmab_rect got, int32_t x, int32_t y, uint32_t w, uint32_t h)
{
	assert_int_equal(got.x, x);
	assert_int_equal(got.y, y);
	assert_int_equal(got.width, w);
	assert_int_equal(got.height, h);
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	assert_non_null(e);
	e->fds = count_fds();
	e->loop = wl_event_loop_create();
	assert_non_null(e->loop);
	e->output = dmab_output_create(e->loop);
	assert_non_null(e->output);
	e->backend = fake_backend_create();
	assert_int_equal(dmab_output_add_backend(e->output, &e->backend->base), 0);
	e->main = e->backend->first;
	assert_non_null(e->main);
	assert_ptr_equal(dmab_output_find_screen(e->output, "main"), &e->main->base);
	/* A new screen commits once, even with nothing to show. */
	idle(e);
	assert_int_equal(e->backend->nrecords, 1);
	assert_int_equal(e->backend->records[0].nlayers, 0);
	fake_present(e->main, 1);
	e->backend->nrecords = 0;
	e->main->tests = 0;
	e->main->commit_calls = 0;
	*state = e;
	return 0;
}

/*
 * The output goes with everything in it; then the user's framebuffers are
 * unlocked (nothing holds them), freed at their drop, and their buffers
 * freed: not one descriptor is left (ASan sees to the memory).
 */
static int teardown(void **state)
{
	struct env *e = *state;
	dmab_output_destroy(e->output);
	for (size_t i = 0; i < e->nimages; i++) {
		struct image *img = &e->images[i];
		if (!img->freed) {
			assert_int_equal(img->fb->locks, 0);
			dmab_ofb_drop(img->fb);
			assert_true(img->freed);
		}
		dmab_obuf_destroy(img->buf);
	}
	wl_event_loop_destroy(e->loop);
	assert_int_equal(count_fds(), e->fds);
	free(e);
	return 0;
}

/* ---- the frame cycle ---- */

/*
 * A frame attached while a commit is in flight waits for its present: the
 * frame in flight stays locked and is reported once, at its own present.
 */
static void attach_while_in_flight(void **state)
{
	struct env *e = *state;
	struct image *a = image_add(e, 32, 32, 0xff0000), *b = image_add(e, 32, 32, 0x00ff00);
	struct tview *v = view_add(e, 32, 32, place("main", 10, 20, 0, true));

	attach(v, a->fb);
	idle(e);
	assert_int_equal(e->backend->nrecords, 1);
	const struct dmab_layer *l = layer_of(last_record(e), v);
	assert_non_null(l);
	assert_ptr_equal(l->fb, a->fb);
	assert_rect(l->dst, 10, 20, 32, 32);
	assert_true(e->main->base.in_flight);

	attach(v, b->fb);
	idle(e);
	run_for(e, 20);
	/* Nothing goes out, nothing is reported while a commit is in flight. */
	assert_int_equal(e->backend->nrecords, 1);
	assert_int_equal(v->nevents, 0);
	/* a: queued on the view and read by the display; b: pending. */
	assert_int_equal(a->fb->locks, 2);
	assert_int_equal(b->fb->locks, 1);
	assert_ptr_equal(dmab_view_latest(v->view)->fb, b->fb);

	fake_present(e->main, 1000);
	assert_int_equal(v->nevents, 1);
	assert_ptr_equal(v->events[0].fb, a->fb);
	assert_int_equal(v->events[0].when_ns, 1000);
	assert_true(v->events[0].shown);
	assert_ptr_equal(v->view->current.fb, a->fb);

	idle(e);
	assert_int_equal(e->backend->nrecords, 2);
	assert_ptr_equal(layer_of(last_record(e), v)->fb, b->fb);
	run_for(e, 20);
	/* b is in flight, not on screen: not reported yet. */
	assert_int_equal(v->nevents, 1);
	assert_int_equal(a->releases, 0);

	fake_present(e->main, 2000);
	assert_int_equal(v->nevents, 2);
	assert_ptr_equal(v->events[1].fb, b->fb);
	assert_int_equal(v->events[1].when_ns, 2000);
	assert_true(v->events[1].shown);
	/* Nobody reads a any more: the view and the display let go at b's present. */
	assert_int_equal(a->fb->locks, 0);
	assert_int_equal(a->releases, 1);
	assert_int_equal(b->fb->locks, 2);

	/* Nothing changed: no more commits, no more presents. */
	idle(e);
	run_for(e, 20);
	assert_int_equal(e->backend->nrecords, 2);
	assert_int_equal(v->nevents, 2);
}

/* A pending frame replaced before it went out: unlocked, never reported. */
static void pending_replaced(void **state)
{
	struct env *e = *state;
	struct image *a = image_add(e, 16, 16, 1), *b = image_add(e, 16, 16, 2),
		*c = image_add(e, 16, 16, 3);
	struct tview *v = view_add(e, 16, 16, place("main", 0, 0, 0, true));
	attach(v, a->fb);
	idle(e);
	attach(v, b->fb);
	attach(v, c->fb);
	assert_int_equal(b->fb->locks, 0);
	assert_int_equal(b->releases, 1);
	fake_present(e->main, 10);
	idle(e);
	assert_int_equal(e->backend->nrecords, 2);
	assert_ptr_equal(layer_of(last_record(e), v)->fb, c->fb);
	fake_present(e->main, 20);
	assert_int_equal(v->nevents, 2);
	assert_ptr_equal(v->events[0].fb, a->fb);
	assert_ptr_equal(v->events[1].fb, c->fb);
}

/*
 * events.frame comes before the screen commits, and only when no commit is
 * in flight: what its listener attaches goes out in that commit.
 */
static void frame_before_commit(void **state)
{
	struct env *e = *state;
	struct image *a = image_add(e, 16, 16, 1), *b = image_add(e, 16, 16, 2);
	struct tview *v = view_add(e, 16, 16, place("main", 0, 0, 0, true));
	attach(v, a->fb);
	idle(e);
	v->attach_at_frame = b->fb;
	dmab_view_schedule_frame(v->view);
	idle(e);
	assert_int_equal(v->frames, 0);
	fake_present(e->main, 10);
	idle(e);
	assert_int_equal(v->frames, 1);
	assert_int_equal(e->backend->nrecords, 2);
	assert_ptr_equal(layer_of(last_record(e), v)->fb, b->fb);
	/* A frame asked for with nothing attached: no commit. */
	fake_present(e->main, 20);
	dmab_view_schedule_frame(v->view);
	idle(e);
	assert_int_equal(v->frames, 2);
	assert_int_equal(e->backend->nrecords, 2);
}

/*
 * A backend that holds a framebuffer past the next refresh (a compositor
 * that has not released it): it is idle at the backend's unlock, not when
 * the view lets go.
 */
static void backend_holds_past_refresh(void **state)
{
	struct env *e = *state;
	e->main->opts.hold = true;
	struct image *a = image_add(e, 16, 16, 1), *b = image_add(e, 16, 16, 2),
		*c = image_add(e, 16, 16, 3);
	struct tview *v = view_add(e, 16, 16, place("main", 0, 0, 0, true));
	attach(v, a->fb);
	idle(e);
	fake_present(e->main, 10);
	attach(v, b->fb);
	idle(e);
	fake_present(e->main, 20);
	/* The view let go of a at b's present; the display still holds it. */
	assert_int_equal(a->fb->locks, 1);
	assert_int_equal(a->releases, 0);
	attach(v, c->fb);
	idle(e);
	fake_present(e->main, 30);
	run_for(e, 40);
	assert_int_equal(a->releases, 0);
	/* Dropped while held: it stays until the display lets go. */
	dmab_ofb_drop(a->fb);
	assert_false(a->freed);
	fake_release_held(e->main);
	assert_int_equal(a->releases, 1);
	assert_true(a->freed);
	assert_int_equal(b->releases, 1);
	assert_int_equal(b->fb->locks, 0);
	assert_int_equal(c->fb->locks, 2);
}

/* ---- several views ---- */

static size_t index_of(const struct record *r, const struct tview *tv)
{
	for (size_t i = 0; i < r->nlayers; i++) {
		if (r->layers[i].view == tv->view)
			return i;
	}
	fail_msg("view not in the commit");
	return 0;
}

/*
 * One commit for all views of a screen, bottom to top by z, equal z in
 * creation order; invisible views are no layer but their frames complete.
 */
static void stacking_and_visibility(void **state)
{
	struct env *e = *state;
	struct tview *v[5];
	struct image *img[5];
	static const int32_t z[5] = { 1, 0, 1, 0, -5 };
	for (int i = 0; i < 5; i++) {
		img[i] = image_add(e, 8, 8, (uint32_t)i);
		v[i] = view_add(e, 8, 8, place("main", 10 * i, 0, z[i], i != 3));
		attach(v[i], img[i]->fb);
	}
	idle(e);
	assert_int_equal(e->backend->nrecords, 1);
	const struct record *r = last_record(e);
	/* A(1) B(0) C(1) D(0, invisible) E(-5): E B A C. */
	assert_int_equal(r->nlayers, 4);
	assert_ptr_equal(r->layers[0].view, v[4]->view);
	assert_ptr_equal(r->layers[1].view, v[1]->view);
	assert_ptr_equal(r->layers[2].view, v[0]->view);
	assert_ptr_equal(r->layers[3].view, v[2]->view);
	for (int i = 0; i < 5; i++) {
		if (i != 3)
			assert_ptr_equal(r->layers[index_of(r, v[i])].fb, img[i]->fb);
	}
	fake_present(e->main, 100);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(v[i]->nevents, 1);
		assert_ptr_equal(v[i]->events[0].fb, img[i]->fb);
		assert_int_equal(v[i]->events[0].when_ns, 100);
		assert_int_equal(v[i]->events[0].shown, i != 3);
	}

	/* D shown: above B, its elder of equal z. */
	dmab_view_set_place(v[3]->view, &(struct dmab_view_place){ "main", 30, 0, 0, true, 0, 0 });
	idle(e);
	r = last_record(e);
	assert_int_equal(r->nlayers, 5);
	assert_int_equal(index_of(r, v[4]), 0);
	assert_int_equal(index_of(r, v[1]), 1);
	assert_int_equal(index_of(r, v[3]), 2);
	assert_int_equal(index_of(r, v[0]), 3);
	assert_int_equal(index_of(r, v[2]), 4);
	fake_present(e->main, 200);

	/* A to the top. */
	dmab_view_set_place(v[0]->view, &(struct dmab_view_place){ "main", 0, 0, 2, true, 0, 0 });
	idle(e);
	r = last_record(e);
	assert_int_equal(index_of(r, v[3]), 2);
	assert_int_equal(index_of(r, v[2]), 3);
	assert_int_equal(index_of(r, v[0]), 4);
	fake_present(e->main, 300);

	/* D hidden again; then a frame for the hidden D alone still completes. */
	dmab_view_set_place(v[3]->view, &(struct dmab_view_place){ "main", 30, 0, 0, false, 0, 0 });
	idle(e);
	assert_int_equal(last_record(e)->nlayers, 4);
	fake_present(e->main, 400);
	size_t commits = e->backend->nrecords;
	struct image *d2 = image_add(e, 8, 8, 0x33);
	attach(v[3], d2->fb);
	idle(e);
	assert_int_equal(e->backend->nrecords, commits + 1);
	assert_null(layer_of(last_record(e), v[3]));
	assert_int_equal(v[3]->nevents, 1);
	fake_present(e->main, 500);
	assert_int_equal(v[3]->nevents, 2);
	assert_ptr_equal(last_event(v[3])->fb, d2->fb);
	assert_false(last_event(v[3])->shown);
	assert_int_equal(last_event(v[3])->when_ns, 500);
	assert_int_equal(img[3]->fb->locks, 0);
	/* The others heard nothing new. */
	assert_int_equal(v[0]->nevents, 1);
}

/* ---- clipping ---- */

struct clip_case {
	const char *what;
	int32_t x, y;
	uint32_t width, height;         /* the view */
	struct dmab_rect src;           /* in a 300x200 framebuffer */
	int32_t dx, dy;
	bool dropped;
	struct dmab_rect want_src, want_dst;
};

static const struct clip_case clip_cases[] = {
	{ "inside", 10, 20, 100, 50, { 0, 0, 100, 50 }, 0, 0, false,
		{ 0, 0, 100, 50 }, { 10, 20, 100, 50 } },
	{ "negative position", -30, -10, 100, 50, { 0, 0, 100, 50 }, 0, 0, false,
		{ 30, 10, 70, 40 }, { 0, 0, 70, 40 } },
	{ "over the bottom-right corner", 600, 450, 100, 50, { 0, 0, 100, 50 }, 0, 0, false,
		{ 0, 0, 40, 30 }, { 600, 450, 40, 30 } },
	{ "up to the corner exactly", 576, 416, 64, 64, { 0, 0, 64, 64 }, 0, 0, false,
		{ 0, 0, 64, 64 }, { 576, 416, 64, 64 } },
	{ "content larger than the view", 5, 5, 100, 50, { 0, 0, 300, 200 }, 0, 0, false,
		{ 0, 0, 100, 50 }, { 5, 5, 100, 50 } },
	{ "src offset, dx/dy", 10, 10, 80, 80, { 50, 60, 100, 100 }, 20, -10, false,
		{ 50, 70, 60, 80 }, { 30, 10, 60, 80 } },
	{ "negative dx/dy, view partly off", -5, 0, 50, 50, { 0, 0, 100, 100 }, -10, -10, false,
		{ 15, 10, 45, 50 }, { 0, 0, 45, 50 } },
	{ "view from INT32_MIN, content brought back by dx", INT32_MIN + 5, 0, UINT32_MAX, 100,
		{ 0, 0, 64, 64 }, INT32_MAX, 0, false, { 0, 0, 64, 64 }, { 4, 0, 64, 64 } },
	{ "view from INT32_MIN, content brought back by dy", 0, INT32_MIN, 100, UINT32_MAX,
		{ 0, 0, 64, 64 }, 0, INT32_MAX, false, { 0, 1, 64, 63 }, { 0, 0, 64, 63 } },
	{ "whole int32 range", INT32_MIN, INT32_MIN, UINT32_MAX, UINT32_MAX,
		{ 10, 20, 200, 100 }, INT32_MAX, INT32_MAX, false,
		{ 11, 21, 199, 99 }, { 0, 0, 199, 99 } },
	{ "near INT32_MAX, wide", INT32_MAX - 10, 0, UINT32_MAX, 100, { 0, 0, 64, 64 }, 0, 0,
		true, { 0 }, { 0 } },
	{ "at INT32_MAX, content dx back on screen", INT32_MAX, 0, 100, 100, { 0, 0, 64, 64 },
		INT32_MIN, 0, true, { 0 }, { 0 } },
	{ "near INT32_MAX below", 0, INT32_MAX - 1, 100, UINT32_MAX, { 0, 0, 64, 64 }, 0, 0,
		true, { 0 }, { 0 } },
	{ "at INT32_MIN", INT32_MIN, 0, 100, 100, { 0, 0, 64, 64 }, 0, 0, true, { 0 }, { 0 } },
	{ "dx to INT32_MIN", 100, 0, 100, 100, { 0, 0, 64, 64 }, INT32_MIN, 0, true, { 0 }, { 0 } },
	{ "content beside the view", 10, 10, 100, 100, { 0, 0, 64, 64 }, 150, 0, true,
		{ 0 }, { 0 } },
	{ "content above the view", 10, 100, 100, 100, { 0, 0, 64, 64 }, 0, -64, true,
		{ 0 }, { 0 } },
	{ "right of the screen", 640, 0, 100, 100, { 0, 0, 64, 64 }, 0, 0, true, { 0 }, { 0 } },
	{ "below the screen", 0, 480, 100, 100, { 0, 0, 64, 64 }, 0, 0, true, { 0 }, { 0 } },
	{ "left of the screen", -64, 0, 64, 64, { 0, 0, 64, 64 }, 0, 0, true, { 0 }, { 0 } },
	{ "an empty view", 10, 10, 0, 100, { 0, 0, 64, 64 }, 0, 0, true, { 0 }, { 0 } },
};

/* What status says of a view: shown directly only once a commit showed it. */
static void how_shown(void **state)
{
	struct env *e = *state;
	struct image *img = image_add(e, 8, 8, 1);
	struct tview *v = view_add(e, 8, 8, place("main", 0, 0, 0, true));
	struct tview *away = view_add(e, 8, 8, place("elsewhere", 0, 0, 0, true));
	assert_string_equal(dmab_view_how_shown(v->view), "not shown: nothing on screen yet");
	assert_string_equal(dmab_view_how_shown(away->view), "not shown: no screen of its name");
	attach(v, img->fb);
	idle(e);
	/* Committed, not on screen yet. */
	assert_string_equal(dmab_view_how_shown(v->view), "not shown: nothing on screen yet");
	fake_present(e->main, 100);
	assert_null(dmab_view_how_shown(v->view));
	{ struct dmab_view_place p = place("main", 2000, 0, 0, true); dmab_view_set_place(v->view, &p); }
	assert_string_equal(dmab_view_how_shown(v->view), "not shown: outside its screen");
	{ struct dmab_view_place p = place("main", 0, 0, 0, false); dmab_view_set_place(v->view, &p); }
	assert_string_equal(dmab_view_how_shown(v->view), "not shown: hidden");
}

/*
 * A view whose place gives it another size: its content is scaled to it,
 * and what the screen cuts off is cut off the source in proportion.
 */
static void scaling(void **state)
{
	struct env *e = *state;
	struct image *img = image_add(e, 100, 50, 0x123456);
	struct dmab_view_place p = place("main", 10, 20, 0, true);
	p.width = 200;
	p.height = 100;
	struct tview *tv = view_add(e, 100, 50, p);
	attach(tv, img->fb);
	idle(e);
	const struct dmab_layer *l = layer_of(last_record(e), tv);
	assert_non_null(l);
	assert_rect(l->src, 0, 0, 100, 50);
	assert_rect(l->dst, 10, 20, 200, 100);
	fake_present(e->main, 1);

	/* Half of it off the left, and a quarter off the bottom of the screen. */
	p.x = -100;
	p.y = 480 - 75;
	dmab_view_set_place(tv->view, &p);
	idle(e);
	l = layer_of(last_record(e), tv);
	assert_non_null(l);
	assert_rect(l->src, 50, 0, 50, 38);
	assert_rect(l->dst, 0, 405, 100, 75);
	fake_present(e->main, 2);

	/* Smaller than its content: a third. */
	p = place("main", 0, 0, 0, true);
	p.width = 33;
	p.height = 16;
	dmab_view_set_place(tv->view, &p);
	idle(e);
	l = layer_of(last_record(e), tv);
	assert_non_null(l);
	assert_rect(l->src, 0, 0, 100, 50);
	assert_rect(l->dst, 0, 0, 33, 16);
	fake_present(e->main, 3);
}

static void clipping(void **state)
{
	struct env *e = *state;
	struct image *img = image_add(e, 300, 200, 0x123456);
	/* A view that is always there: a commit without the case's layer is still a commit. */
	struct image *bg = image_add(e, 4, 4, 0);
	struct tview *anchor = view_add(e, 4, 4, place("main", 0, 0, -1, true));
	attach(anchor, bg->fb);
	idle(e);
	fake_present(e->main, 1);
	uint64_t when = 2;
	for (size_t i = 0; i < sizeof(clip_cases) / sizeof(clip_cases[0]); i++) {
		const struct clip_case *c = &clip_cases[i];
		print_message("clip: %s\n", c->what);
		struct tview *tv = view_add(e, c->width, c->height,
			place("main", c->x, c->y, 0, true));
		dmab_view_attach(tv->view, &(struct dmab_view_content){
			.fb = img->fb, .src = c->src, .dx = c->dx, .dy = c->dy });
		size_t before = e->backend->nrecords;
		idle(e);
		assert_int_equal(e->backend->nrecords, before + 1);
		const struct dmab_layer *l = layer_of(last_record(e), tv);
		if (c->dropped) {
			assert_null(l);
			assert_int_equal(last_record(e)->nlayers, 1);
		} else {
			assert_non_null(l);
			assert_ptr_equal(l->fb, img->fb);
			assert_rect(l->src, c->want_src.x, c->want_src.y, c->want_src.width,
				c->want_src.height);
			assert_rect(l->dst, c->want_dst.x, c->want_dst.y, c->want_dst.width,
				c->want_dst.height);
		}
		fake_present(e->main, when++);
		/* Dropped or not, its frame completes: it is on its screen, visible. */
		assert_int_equal(tv->nevents, 1);
		assert_ptr_equal(tv->events[0].fb, img->fb);
		assert_true(tv->events[0].shown);
		dmab_view_destroy(tv->view);
		idle(e);
		if (e->main->base.in_flight)
			fake_present(e->main, when++);
	}
	assert_int_equal(img->fb->locks, 0);
}

/* ---- screens that go and come back ---- */

static void screen_removed_and_back(void **state)
{
	struct env *e = *state;
	struct image *a = image_add(e, 16, 16, 1), *b = image_add(e, 16, 16, 2);
	struct tview *v = view_add(e, 16, 16, place("main", 5, 5, 0, true));
	struct tview *hidden = view_add(e, 16, 16, place("main", 0, 0, 0, false));
	attach(v, a->fb);
	idle(e);
	fake_present(e->main, 10);
	attach(v, b->fb);
	idle(e);
	assert_true(e->main->base.in_flight);
	size_t commits = e->backend->nrecords;

	/* Unplugged with b in flight: b completes now, never shown. */
	fake_screen_remove(e->main);
	e->main = NULL;
	assert_null(dmab_output_find_screen(e->output, "main"));
	assert_null(v->view->screen);
	assert_null(hidden->view->screen);
	assert_int_equal(v->nevents, 2);
	assert_ptr_equal(v->events[1].fb, b->fb);
	assert_false(v->events[1].shown);
	/* The display let go of a and b; the view keeps b as what it shows. */
	assert_int_equal(a->fb->locks, 0);
	assert_int_equal(b->fb->locks, 1);

	/* Hidden views' frames complete on a 60 Hz clock, shown=false. */
	struct image *frames[8];
	for (int i = 0; i < 8; i++)
		frames[i] = image_add(e, 16, 16, 0x100 + (uint32_t)i);
	uint64_t start = dmab_now_ns();
	for (int i = 0; i < 8; i++) {
		attach(v, frames[i]->fb);
		assert_true(run_until_events(e, v, (size_t)3 + i, 1000));
		const struct dmab_view_present_event *ev = last_event(v);
		assert_ptr_equal(ev->fb, frames[i]->fb);
		assert_false(ev->shown);
		assert_true(ev->when_ns >= start);
		assert_true(ev->when_ns <= dmab_now_ns());
	}
	uint64_t elapsed = v->events[9].when_ns - v->events[2].when_ns;
	/* 7 periods of a 60 Hz clock, give or take a millisecond each. */
	assert_true(elapsed >= 7 * 15500000ull);
	assert_int_equal(e->backend->nrecords, commits);
	/* Frames asked for come on that clock too. */
	dmab_view_schedule_frame(v->view);
	run_for(e, 60);
	assert_int_equal(v->frames, 1);
	for (int i = 0; i < 7; i++)
		assert_int_equal(frames[i]->fb->locks, 0);
	/* The hidden view's frame completes too. */
	attach(hidden, a->fb);
	assert_true(run_until_events(e, hidden, 1, 1000));
	assert_false(last_event(hidden)->shown);

	/* A screen of that name: the views come back in its first commit. */
	struct fake_screen *again;
	assert_int_equal(fake_screen_add(e->backend, "main", 320, 240, NULL, &again), 0);
	e->main = again;
	assert_ptr_equal(v->view->screen, &again->base);
	idle(e);
	assert_int_equal(e->backend->nrecords, commits + 1);
	const struct record *r = last_record(e);
	assert_string_equal(r->screen, "main");
	assert_int_equal(r->nlayers, 1);
	assert_ptr_equal(layer_of(r, v)->fb, frames[7]->fb);
	assert_rect(layer_of(r, v)->dst, 5, 5, 16, 16);
	fake_present(again, 1000);

	/* A second screen with a taken name is refused; the first stays. */
	struct fake_screen *twin;
	assert_int_equal(fake_screen_add(e->backend, "main", 100, 100, NULL, &twin), -EEXIST);
	assert_null(twin);
	assert_ptr_equal(dmab_output_find_screen(e->output, "main"), &again->base);
	assert_ptr_equal(v->view->screen, &again->base);
	attach(v, b->fb);
	idle(e);
	assert_ptr_equal(layer_of(last_record(e), v)->fb, b->fb);
	fake_present(again, 2000);
	assert_true(last_event(v)->shown);
	assert_int_equal(last_event(v)->when_ns, 2000);
}

/* ---- when the backend cannot show the layers ---- */

static uint32_t pixel_at(struct dmab_ofb *fb, uint32_t x, uint32_t y)
{
	pixman_image_t *img = dmab_ofb_read_image(fb);
	assert_non_null(img);
	const uint8_t *data = (const uint8_t *)pixman_image_get_data(img);
	const uint32_t *row = (const uint32_t *)(const void *)(data +
		(size_t)y * (size_t)pixman_image_get_stride(img));
	return row[x] & 0xffffff;
}

/* The composed target shows images placed at (x, y), bottom to top, on black. */
static void check_composed(struct dmab_ofb *target, uint32_t width, uint32_t height,
		struct image **imgs, const int32_t (*pos)[2], size_t n)
{
	assert_int_equal(target->width, width);
	assert_int_equal(target->height, height);
	assert_int_equal(target->fourcc, DRM_FORMAT_XRGB8888);
	for (uint32_t y = 0; y < height; y++) {
		for (uint32_t x = 0; x < width; x++) {
			uint32_t want = 0;
			for (size_t i = 0; i < n; i++) {
				int64_t ix = (int64_t)x - pos[i][0], iy = (int64_t)y - pos[i][1];
				if (ix >= 0 && iy >= 0 && ix < imgs[i]->fb->width &&
						iy < imgs[i]->fb->height)
					want = imgs[i]->color;
			}
			if (pixel_at(target, x, y) != want)
				fail_msg("composed (%u,%u) = %06x, want %06x", x, y,
					pixel_at(target, x, y), want);
		}
	}
}

/*
 * A refused TEST_ONLY: every layer composed into one screen-sized target;
 * the answer is remembered for the same layers and asked again when they
 * change.
 */
static void test_refused_composes(void **state)
{
	struct env *e = *state;
	struct fake_screen *s = e->main;
	s->opts.planes = 1;
	struct image *a = image_add(e, 100, 50, 0xff0000), *b = image_add(e, 50, 50, 0x00ff00);
	struct tview *va = view_add(e, 100, 50, place("main", -10, 10, 0, true));
	struct tview *vb = view_add(e, 50, 50, place("main", 60, 30, 1, true));
	attach(va, a->fb);
	attach(vb, b->fb);
	idle(e);
	assert_int_equal(s->tests, 1);
	const struct record *r = last_record(e);
	assert_int_equal(r->nlayers, 1);
	assert_null(r->layers[0].view);
	assert_rect(r->layers[0].src, 0, 0, 640, 480);
	assert_rect(r->layers[0].dst, 0, 0, 640, 480);
	struct image *imgs[] = { a, b };
	int32_t pos[][2] = { { -10, 10 }, { 60, 30 } };
	check_composed(r->layers[0].fb, 640, 480, imgs, pos, 2);
	assert_int_equal(s->base.composed, 1);
	struct dmab_ofb *target = r->layers[0].fb;
	/* The composition's own lock and the display's. */
	assert_int_equal(target->locks, 2);
	fake_present(s, 10);
	assert_true(last_event(va)->shown);
	assert_true(last_event(vb)->shown);

	/* The same layers: not tested again, composed again into another target. */
	attach(va, a->fb);
	idle(e);
	assert_int_equal(s->tests, 1);
	r = last_record(e);
	assert_null(r->layers[0].view);
	assert_ptr_not_equal(r->layers[0].fb, target);
	check_composed(r->layers[0].fb, 640, 480, imgs, pos, 2);
	assert_int_equal(s->base.composed, 2);
	fake_present(s, 20);

	/* Many composed frames in a row: the targets are reused. */
	for (int i = 0; i < 8; i++) {
		struct dmab_ofb *on_screen = last_record(e)->layers[0].fb;
		attach(vb, b->fb);
		idle(e);
		assert_null(last_record(e)->layers[0].view);
		assert_ptr_not_equal(last_record(e)->layers[0].fb, on_screen);
		fake_present(s, 30 + (uint64_t)i);
	}
	assert_int_equal(s->base.composed, 10);
	assert_int_equal(s->base.failed, 0);
	assert_int_equal(s->tests, 1);

	/* Other layers: tested again. */
	dmab_view_set_place(vb->view, &(struct dmab_view_place){ "main", 61, 30, 1, true, 0, 0 });
	idle(e);
	assert_int_equal(s->tests, 2);
	pos[1][0] = 61;
	check_composed(last_record(e)->layers[0].fb, 640, 480, imgs, pos, 2);
	struct dmab_ofb *last_target = last_record(e)->layers[0].fb;
	fake_present(s, 100);

	/* The backend takes them now: both layers go out as they are. */
	s->opts.planes = 0;
	dmab_view_set_place(vb->view, &(struct dmab_view_place){ "main", 62, 30, 1, true, 0, 0 });
	idle(e);
	assert_int_equal(s->tests, 3);
	r = last_record(e);
	assert_int_equal(r->nlayers, 2);
	assert_ptr_equal(r->layers[0].fb, a->fb);
	assert_ptr_equal(r->layers[1].fb, b->fb);
	assert_int_equal(s->base.composed, 11);
	assert_int_equal(last_target->locks, 2);
	fake_present(s, 200);
	/* The last target is let go of once off screen. */
	assert_int_equal(last_target->locks, 0);
}

/* The first state of a screen is tested too: nothing was tested before it. */
static void first_state_tested(void **state)
{
	struct env *e = *state;
	struct fake_screen *s;
	assert_int_equal(fake_screen_add(e->backend, "picky", 64, 48,
		&(struct fake_opts){ .test_ret = -EINVAL }, &s), 0);
	idle(e);
	assert_int_equal(s->tests, 1);
	const struct record *r = last_record(e);
	assert_string_equal(r->screen, "picky");
	assert_int_equal(r->nlayers, 1);
	assert_null(r->layers[0].view);
	assert_int_equal(s->base.composed, 1);
	check_composed(r->layers[0].fb, 64, 48, NULL, NULL, 0);
	fake_present(s, 10);

	/* A new mode: the same layers are tested again. */
	s->opts.test_ret = 0;
	dmab_screen_set_mode(&s->base, 64, 48, 30000);
	idle(e);
	assert_int_equal(s->tests, 2);
	r = last_record(e);
	assert_int_equal(r->nlayers, 0);
	fake_present(s, 20);
}

/*
 * A commit that fails falls back to composition; a failure even composed
 * completes the frames, not shown, and is counted.
 */
static void commit_failures(void **state)
{
	struct env *e = *state;
	struct fake_screen *s = e->main;
	struct image *a = image_add(e, 20, 20, 0x0000ff), *b = image_add(e, 20, 20, 0xffffff),
		*c = image_add(e, 20, 20, 0x808080);
	struct tview *v = view_add(e, 20, 20, place("main", 3, 4, 0, true));

	s->opts.commit_ret = -EINVAL;
	attach(v, a->fb);
	idle(e);
	assert_int_equal(s->tests, 1);
	assert_int_equal(s->commit_calls, 2);
	const struct record *r = last_record(e);
	assert_null(r->layers[0].view);
	struct image *imgs[] = { a };
	const int32_t pos[][2] = { { 3, 4 } };
	check_composed(r->layers[0].fb, 640, 480, imgs, pos, 1);
	assert_int_equal(s->base.composed, 1);
	uint64_t commits = s->base.commits;
	fake_present(s, 10);
	assert_true(last_event(v)->shown);

	/* Refused even composed: the frame completes now, not shown; counted. */
	s->opts.composed_ret = -EIO;
	size_t records = e->backend->nrecords;
	attach(v, b->fb);
	idle(e);
	assert_int_equal(e->backend->nrecords, records);
	assert_int_equal(s->base.failed, 1);
	assert_int_equal(s->base.commits, commits);
	assert_false(s->base.in_flight);
	assert_int_equal(v->nevents, 2);
	assert_ptr_equal(last_event(v)->fb, b->fb);
	assert_false(last_event(v)->shown);
	assert_int_equal(b->fb->locks, 1);

	/*
	 * The display works again: the next frame goes out, a refresh after
	 * the refused one (a display that refuses is not asked again at once:
	 * its guests would flip as fast as they can).
	 */
	s->opts.commit_ret = 0;
	s->opts.composed_ret = 0;
	attach(v, c->fb);
	idle(e);
	assert_int_equal(e->backend->nrecords, records);
	struct count_at_least more = { &e->backend->nrecords, records + 1 };
	assert_true(run_until(e, reached, &more, 100));
	r = last_record(e);
	assert_int_equal(r->nlayers, 1);
	assert_ptr_equal(r->layers[0].fb, c->fb);
	fake_present(s, 30);
	assert_true(last_event(v)->shown);
	assert_int_equal(s->base.commits, commits + 1);

	/* A screen without test(): a refused commit is composed all the same. */
	struct fake_screen *plain;
	assert_int_equal(fake_screen_add(e->backend, "plain", 64, 64,
		&(struct fake_opts){ .no_test = true, .commit_ret = -EINVAL }, &plain), 0);
	struct tview *w = view_add(e, 20, 20, place("plain", 40, 50, 0, true));
	attach(w, a->fb);
	idle(e);
	r = last_record(e);
	assert_string_equal(r->screen, "plain");
	assert_null(r->layers[0].view);
	const int32_t wpos[][2] = { { 40, 50 } };
	check_composed(r->layers[0].fb, 64, 64, imgs, wpos, 1);
	assert_int_equal(plain->tests, 0);
	fake_present(plain, 40);
	assert_true(last_event(w)->shown);
}

/* ---- views that go ---- */

/*
 * A view destroyed while its frame is queued: nothing it held is touched
 * again, the screen commits without it, and its framebuffers are idle when
 * the display lets go of them.
 */
static void view_destroyed_while_queued(void **state)
{
	struct env *e = *state;
	struct image *a = image_add(e, 16, 16, 1), *b = image_add(e, 16, 16, 2),
		*c = image_add(e, 16, 16, 3);
	struct tview *v = view_add(e, 16, 16, place("main", 0, 0, 0, true));
	struct tview *other = view_add(e, 16, 16, place("main", 100, 0, 0, true));
	attach(other, c->fb);
	attach(v, a->fb);
	idle(e);
	fake_present(e->main, 10);
	attach(v, b->fb);
	idle(e);
	assert_true(e->main->base.in_flight);
	dmab_view_destroy(v->view);
	assert_null(v->view);
	/* The display still reads a (on screen) and b (in flight). */
	assert_int_equal(a->releases, 0);
	assert_int_equal(b->releases, 0);
	assert_int_equal(a->fb->locks, 1);
	assert_int_equal(b->fb->locks, 1);
	size_t records = e->backend->nrecords;
	fake_present(e->main, 20);
	assert_int_equal(a->releases, 1);
	assert_int_equal(b->releases, 0);
	/* The screen commits again, without the view. */
	idle(e);
	assert_int_equal(e->backend->nrecords, records + 1);
	const struct record *r = last_record(e);
	assert_int_equal(r->nlayers, 1);
	assert_ptr_equal(r->layers[0].fb, c->fb);
	fake_present(e->main, 30);
	assert_int_equal(b->releases, 1);
	assert_int_equal(b->fb->locks, 0);
	assert_int_equal(other->nevents, 1);

	/* Destroyed while current only. */
	struct tview *w = view_add(e, 16, 16, place("main", 50, 50, 0, true));
	attach(w, a->fb);
	idle(e);
	fake_present(e->main, 40);
	dmab_view_destroy(w->view);
	idle(e);
	assert_int_equal(last_record(e)->nlayers, 1);
	assert_int_equal(a->fb->locks, 1);
	fake_present(e->main, 50);
	assert_int_equal(a->fb->locks, 0);
	assert_int_equal(a->releases, 2);
}

/*
 * A view destroyed by its own present or frame listener (its user learns
 * there that it is done): nothing touches the view after.
 */
static void view_destroyed_by_its_listeners(void **state)
{
	struct env *e = *state;
	struct image *a = image_add(e, 16, 16, 1), *b = image_add(e, 16, 16, 2);
	struct tview *other = view_add(e, 16, 16, place("main", 100, 0, 0, true));
	attach(other, a->fb);
	struct tview *x = view_add(e, 16, 16, place("main", 50, 50, 0, true));
	x->destroy_at_present = true;
	attach(x, b->fb);
	idle(e);
	fake_present(e->main, 60);
	assert_null(x->view);
	assert_int_equal(x->nevents, 1);
	assert_int_equal(other->nevents, 1);
	idle(e);
	assert_int_equal(last_record(e)->nlayers, 1);
	fake_present(e->main, 70);
	assert_int_equal(b->fb->locks, 0);

	/* At a frame, on a screen and without one. */
	const char *screens[] = { "main", "absent" };
	for (int i = 0; i < 2; i++) {
		struct tview *y = view_add(e, 16, 16, place(screens[i], 0, 0, 0, true));
		y->destroy_at_frame = true;
		dmab_view_schedule_frame(y->view);
		assert_true(run_until(e, view_gone, y, 1000));
		assert_int_equal(y->frames, 1);
		settle(e);
	}
	assert_int_equal(other->nevents, 1);
}

/*
 * The owner of a framebuffer frees it when it is idle: dropped from its
 * own release listener, and its buffer destroyed there too.
 */
static void fb_dropped_at_release(void **state)
{
	struct env *e = *state;
	struct image *a = image_add(e, 16, 16, 1);
	a->drop_at_release = true;
	struct tview *v = view_add(e, 16, 16, place("main", 0, 0, 0, true));
	attach(v, a->fb);
	idle(e);
	fake_present(e->main, 10);
	attach(v, NULL);
	idle(e);
	assert_false(a->freed);
	fake_present(e->main, 20);
	/* The display let go, then the view at the present: idle, then freed. */
	assert_int_equal(a->releases, 1);
	assert_true(a->freed);
	assert_null(a->buf);

	/* A listener that takes a lock again keeps it alive, even dropped. */
	struct image *c = image_add(e, 16, 16, 3);
	c->relock_at_release = true;
	dmab_ofb_lock(c->fb);
	dmab_ofb_unlock(c->fb);
	assert_int_equal(c->releases, 1);
	assert_int_equal(c->fb->locks, 1);
	c->relock_at_release = false;
	dmab_ofb_drop(c->fb);
	assert_false(c->freed);
	dmab_ofb_unlock(c->fb);
	assert_true(c->freed);
	assert_int_equal(c->releases, 2);
}

/* A view that moves to another screen: the one it left commits without it. */
static void view_moved_away(void **state)
{
	struct env *e = *state;
	struct image *a = image_add(e, 16, 16, 1);
	struct tview *v = view_add(e, 16, 16, place("main", 0, 0, 0, true));
	attach(v, a->fb);
	idle(e);
	fake_present(e->main, 10);
	size_t records = e->backend->nrecords;
	dmab_view_set_place(v->view, &(struct dmab_view_place){ "elsewhere", 0, 0, 0, true, 0, 0 });
	assert_null(v->view->screen);
	idle(e);
	assert_int_equal(e->backend->nrecords, records + 1);
	assert_int_equal(last_record(e)->nlayers, 0);
	fake_present(e->main, 20);
	/* Only the view holds it now. */
	assert_int_equal(a->fb->locks, 1);
}

/*
 * A view that moves to another screen while a frame is in flight on the
 * first: the new screen shows that frame, not the one before it.
 */
static void view_moves_with_frame_in_flight(void **state)
{
	struct env *e = *state;
	struct fake_screen *side = add_side(e);
	struct image *f0 = image_add(e, 16, 16, 0), *f1 = image_add(e, 16, 16, 1);
	struct tview *v = view_add(e, 16, 16, place("main", 0, 0, 0, true));
	attach(v, f0->fb);
	idle(e);
	fake_present(e->main, 10);

	attach(v, f1->fb);
	idle(e);
	assert_true(e->main->base.in_flight);
	dmab_view_set_place(v->view, &(struct dmab_view_place){ "side", 8, 8, 0, true, 0, 0 });
	assert_ptr_equal(dmab_view_latest(v->view)->fb, f1->fb);
	idle(e);
	const struct record *r = last_record(e);
	assert_string_equal(r->screen, "side");
	assert_non_null(layer_of(r, v));
	assert_ptr_equal(layer_of(r, v)->fb, f1->fb);
	fake_present(e->main, 20);
	fake_present(side, 20);
	assert_int_equal(v->nevents, 2);
	assert_ptr_equal(v->events[1].fb, f1->fb);
	settle(e);
	assert_int_equal(v->nevents, 2);
	assert_int_equal(f0->fb->locks, 0);
}

/*
 * A view that moves to another screen with a frame in flight on the first
 * and a new frame for the second: both frames are reported, once each, in
 * order.
 */
static void view_moves_and_attaches(void **state)
{
	struct env *e = *state;
	struct fake_screen *side = add_side(e);
	struct image *f1 = image_add(e, 16, 16, 1), *f2 = image_add(e, 16, 16, 2);
	struct tview *v = view_add(e, 16, 16, place("side", 0, 0, 0, true));
	attach(v, f1->fb);
	idle(e);
	assert_true(side->base.in_flight);
	dmab_view_set_place(v->view, &(struct dmab_view_place){ "main", 0, 0, 0, true, 0, 0 });
	attach(v, f2->fb);
	idle(e);
	assert_ptr_equal(layer_of(last_record(e), v)->fb, f2->fb);
	fake_present(e->main, 30);
	fake_present(side, 30);
	settle(e);
	assert_int_equal(v->nevents, 2);
	assert_ptr_equal(v->events[0].fb, f1->fb);
	assert_false(v->events[0].shown);
	assert_ptr_equal(v->events[1].fb, f2->fb);
	assert_true(v->events[1].shown);
	assert_int_equal(v->events[1].when_ns, 30);
	assert_ptr_equal(v->view->current.fb, f2->fb);
	assert_int_equal(f1->fb->locks, 0);
}

/*
 * A view that loses its screen with a frame in flight there, and gets a
 * new frame: the frame in flight is reported first, and the view ends up
 * showing its newest frame.
 */
static void view_hidden_with_frame_in_flight(void **state)
{
	struct env *e = *state;
	struct image *f4 = image_add(e, 16, 16, 4), *f5 = image_add(e, 16, 16, 5);
	struct tview *v = view_add(e, 16, 16, place("main", 0, 0, 0, true));
	attach(v, f4->fb);
	idle(e);
	assert_true(e->main->base.in_flight);
	dmab_view_set_place(v->view, &(struct dmab_view_place){ "nowhere", 0, 0, 0, true, 0, 0 });
	attach(v, f5->fb);
	run_for(e, 50);
	fake_present(e->main, dmab_now_ns());
	assert_true(run_until_events(e, v, 2, 1000));
	run_for(e, 50);
	settle(e);
	assert_int_equal(v->nevents, 2);
	assert_ptr_equal(v->events[0].fb, f4->fb);
	assert_ptr_equal(v->events[1].fb, f5->fb);
	assert_false(v->events[1].shown);
	assert_ptr_equal(v->view->current.fb, f5->fb);
	assert_ptr_equal(dmab_view_latest(v->view)->fb, f5->fb);
	assert_int_equal(f4->fb->locks, 0);
}

/* ---- swapchains ---- */

static void handle_gone(struct wl_listener *listener, void *data)
{
	wl_list_remove(&listener->link);
	wl_list_init(&listener->link);
}

struct release_count {
	struct wl_listener listener;
	int count;
	struct dmab_ofb *last, *taken;
	struct dmab_swapchain *acquire;
};

static void handle_release_count(struct wl_listener *listener, void *data)
{
	struct release_count *r = wl_container_of(listener, r, listener);
	r->count++;
	r->last = data;
	if (r->acquire)
		r->taken = dmab_swapchain_acquire(r->acquire);
}

static void swapchain_slots(void **state)
{
	struct env *e = *state;
	int fds = count_fds();
	struct dmab_swapchain *sc = dmab_swapchain_create(e->output, NULL, 64, 64,
		DRM_FORMAT_XRGB8888, 3);
	assert_non_null(sc);
	assert_true(dmab_swapchain_fits(sc, 64, 64, DRM_FORMAT_XRGB8888));
	assert_false(dmab_swapchain_fits(sc, 64, 65, DRM_FORMAT_XRGB8888));
	struct dmab_ofb *f[3];
	for (int i = 0; i < 3; i++) {
		f[i] = dmab_swapchain_acquire(sc);
		assert_non_null(f[i]);
		assert_int_equal(f[i]->locks, 1);
		assert_int_equal(f[i]->width, 64);
		assert_true(f[i]->stride >= 256);
		for (int j = 0; j < i; j++)
			assert_ptr_not_equal(f[i], f[j]);
	}
	/* At most max, and never one somebody reads. */
	assert_null(dmab_swapchain_acquire(sc));
	assert_true(dmab_swapchain_full(sc));
	struct release_count released = { .listener.notify = handle_release_count };
	dmab_swapchain_add_release_listener(sc, &released.listener);
	dmab_ofb_lock(f[1]);            /* a display reads it */
	dmab_ofb_unlock(f[1]);          /* the composition is done with it */
	assert_int_equal(released.count, 0);
	assert_null(dmab_swapchain_acquire(sc));
	dmab_ofb_unlock(f[0]);
	/* Whoever waits for one hears of it, and may take it then. */
	assert_int_equal(released.count, 1);
	assert_ptr_equal(released.last, f[0]);
	assert_false(dmab_swapchain_full(sc));
	assert_ptr_equal(dmab_swapchain_acquire(sc), f[0]);
	assert_null(dmab_swapchain_acquire(sc));
	released.acquire = sc;          /* the listener takes it at once */
	dmab_ofb_unlock(f[1]);
	assert_int_equal(released.count, 2);
	assert_ptr_equal(released.taken, f[1]);
	assert_int_equal(f[1]->locks, 1);
	assert_null(dmab_swapchain_acquire(sc));
	wl_list_remove(&released.listener.link);

	/* Destroyed with all three locked: each goes, with its buffer, at its last unlock. */
	struct wl_listener gone[3];
	for (int i = 0; i < 3; i++) {
		gone[i].notify = handle_gone;
		wl_signal_add(&f[i]->events.destroy, &gone[i]);
	}
	dmab_swapchain_destroy(sc);
	int held = count_fds();
	for (int i = 0; i < 3; i++)
		assert_false(wl_list_empty(&gone[i].link));
	dmab_ofb_unlock(f[2]);
	assert_true(wl_list_empty(&gone[2].link));
	assert_true(count_fds() < held);
	dmab_ofb_unlock(f[0]);
	dmab_ofb_unlock(f[1]);
	assert_true(wl_list_empty(&gone[0].link));
	assert_true(wl_list_empty(&gone[1].link));
	assert_int_equal(count_fds(), fds);

	/* Destroyed with none in use: all go now. */
	sc = dmab_swapchain_create(e->output, NULL, 8, 8, DRM_FORMAT_ARGB8888, 2);
	assert_non_null(sc);
	dmab_ofb_unlock(dmab_swapchain_acquire(sc));
	dmab_swapchain_destroy(sc);
	assert_int_equal(count_fds(), fds);

	/* What it refuses. */
	assert_null(dmab_swapchain_create(e->output, NULL, 8, 8, DRM_FORMAT_XRGB8888, 1));
	assert_null(dmab_swapchain_create(e->output, NULL, 8, 8, DRM_FORMAT_XRGB8888,
		DMAB_SWAPCHAIN_MAX + 1));
	assert_null(dmab_swapchain_create(e->output, NULL, 0, 8, DRM_FORMAT_XRGB8888, 2));
	assert_null(dmab_swapchain_create(e->output, NULL, 8, 8, DRM_FORMAT_NV12, 2));
}

/* ---- the end ---- */

/*
 * The output destroyed with everything in use: commits in flight, composed
 * targets on screen, a held framebuffer, hidden views with frames pending,
 * frames asked for. Teardown checks that nothing is left.
 */
static void destroyed_in_use(void **state)
{
	struct env *e = *state;
	struct fake_screen *side;
	assert_int_equal(fake_screen_add(e->backend, "side", 100, 100,
		&(struct fake_opts){ .planes = 1, .hold = true }, &side), 0);
	struct image *img[6];
	for (int i = 0; i < 6; i++)
		img[i] = image_add(e, 32, 32, (uint32_t)i * 0x111111);
	struct tview *a = view_add(e, 32, 32, place("main", 0, 0, 0, true));
	struct tview *b = view_add(e, 32, 32, place("side", 0, 0, 0, true));
	struct tview *c = view_add(e, 32, 32, place("side", 10, 10, 1, true));
	struct tview *d = view_add(e, 32, 32, place("absent", 0, 0, 0, true));
	attach(a, img[0]->fb);
	attach(b, img[1]->fb);
	attach(c, img[2]->fb);
	idle(e);
	fake_present(e->main, 10);
	fake_present(side, 10);
	attach(a, img[3]->fb);
	attach(b, img[4]->fb);
	attach(d, img[5]->fb);
	dmab_view_schedule_frame(c->view);
	dmab_view_schedule_frame(d->view);
	idle(e);
	assert_true(e->main->base.in_flight);
	assert_true(side->base.in_flight);
	/* A framebuffer the user dropped while the display reads it. */
	dmab_ofb_drop(img[0]->fb);
	assert_false(img[0]->freed);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(attach_while_in_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(pending_replaced, setup, teardown),
		cmocka_unit_test_setup_teardown(frame_before_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(backend_holds_past_refresh, setup, teardown),
		cmocka_unit_test_setup_teardown(stacking_and_visibility, setup, teardown),
		cmocka_unit_test_setup_teardown(how_shown, setup, teardown),
		cmocka_unit_test_setup_teardown(clipping, setup, teardown),
		cmocka_unit_test_setup_teardown(scaling, setup, teardown),
		cmocka_unit_test_setup_teardown(screen_removed_and_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_composes, setup, teardown),
		cmocka_unit_test_setup_teardown(first_state_tested, setup, teardown),
		cmocka_unit_test_setup_teardown(commit_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(view_destroyed_while_queued, setup, teardown),
		cmocka_unit_test_setup_teardown(view_destroyed_by_its_listeners, setup, teardown),
		cmocka_unit_test_setup_teardown(fb_dropped_at_release, setup, teardown),
		cmocka_unit_test_setup_teardown(view_moved_away, setup, teardown),
		cmocka_unit_test_setup_teardown(view_moves_with_frame_in_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(view_moves_and_attaches, setup, teardown),
		cmocka_unit_test_setup_teardown(view_hidden_with_frame_in_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(swapchain_slots, setup, teardown),
		cmocka_unit_test_setup_teardown(destroyed_in_use, setup, teardown),
	};
	dmab_log_init(DMAB_LOG_WARN, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
