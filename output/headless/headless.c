// SPDX-License-Identifier: MIT
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "common/log.h"
#include "common/pixman-format.h"
#include "output/backend.h"
#include "output/headless/headless.h"

/* A framebuffer the display reads, and (verify) what it held when committed. */
struct held {
	struct dmab_ofb *fb;
	struct dmab_rect src;
	uint64_t hash;
};

struct headless_screen {
	struct dmab_screen base;
	struct headless *headless;
	uint32_t planes;
	bool verify;
	/*
	 * The refresh, a timer on an ideal timeline (its lateness does not
	 * add up). A commit that comes within a refresh of the last one
	 * shown (a guest flipping at the refresh rate) starts it periodic: a
	 * steady stream of frames costs one read a refresh and no re-arming;
	 * a refresh with nothing to show stops it. Any other commit sets it
	 * for the next refresh only, so that a slower guest costs no wake-up
	 * without a frame.
	 */
	int timer_fd;
	struct wl_event_source *timer;
	enum { TIMER_OFF, TIMER_ONCE, TIMER_PERIODIC } timer_mode;
	struct dmab_headless_screen_stats stats;
	uint64_t last_vblank_ns, next_vblank_ns;
	/* What the display reads: the commit in flight, and what is on screen. */
	struct held *queued, *shown;
	size_t nqueued, nshown;
	bool armed;                     /* a commit waits for the next refresh */
	uint64_t written;               /* verify: frames changed under the display */
};

struct headless {
	struct dmab_backend base;
	struct dmab_headless_screen_config *configs;
	unsigned int nconfigs;
	struct headless_screen **screens;
	unsigned int nscreens;
};

static const struct dmab_screen_impl screen_impl;

/* FNV-1a over the pixels of src, as the buffer holds them; 0 without CPU access. */
static uint64_t hash_of(const struct dmab_ofb *fb, const struct dmab_rect *src)
{
	if (!fb->buffer->cpu)
		return 0;
	uint32_t bpp = PIXMAN_FORMAT_BPP(dmab_pixman_format(fb->fourcc));
	size_t first = (size_t)src->x * bpp / 8, len = ((size_t)src->width * bpp + 7) / 8;
	uint64_t h = 0xcbf29ce484222325ull;
	for (uint32_t y = 0; y < src->height; y++) {
		const uint8_t *row = (const uint8_t *)fb->buffer->cpu + fb->offset +
			(size_t)(src->y + (int32_t)y) * fb->stride + first;
		for (size_t i = 0; i < len; i++)
			h = (h ^ row[i]) * 0x100000001b3ull;
	}
	return h;
}

/* The display lets go: (verify) nobody may have written what it read. */
static void release_all(struct headless_screen *hs, struct held **list, size_t *n)
{
	struct held *held = *list;
	size_t count = *n;
	*list = NULL;
	*n = 0;
	for (size_t i = 0; i < count; i++) {
		if (hs->verify && hash_of(held[i].fb, &held[i].src) != held[i].hash) {
			hs->written++;
			dmab_log(DMAB_LOG_ERROR, "screen %s: a framebuffer changed while the display "
				"read it (%" PRIu64 " so far)", hs->base.name, hs->written);
		}
		dmab_ofb_unlock(held[i].fb);
	}
	free(held);
}

static uint64_t period_ns(const struct headless_screen *hs)
{
	return 1000000000000ull / hs->base.refresh_mhz;
}

static struct itimerspec timer_spec(uint64_t first_ns, uint64_t period)
{
	return (struct itimerspec){
		.it_value = { (time_t)(first_ns / 1000000000u), (long)(first_ns % 1000000000u) },
		.it_interval = { (time_t)(period / 1000000000u), (long)(period % 1000000000u) },
	};
}

static void set_timer(struct headless_screen *hs, int mode)
{
	uint64_t period = period_ns(hs);
	struct itimerspec spec = mode == TIMER_OFF ? (struct itimerspec){ 0 } :
		timer_spec(hs->next_vblank_ns, mode == TIMER_PERIODIC ? period : 0);
	if (timerfd_settime(hs->timer_fd, TFD_TIMER_ABSTIME, &spec, NULL) < 0) {
		dmab_log_errno(DMAB_LOG_ERROR, -errno, "screen %s: its refresh timer",
			hs->base.name);
		return;
	}
	hs->timer_mode = mode;
	if (mode != TIMER_OFF)
		hs->stats.timer_starts++;
}

static int handle_vblank(int fd, uint32_t mask, void *data)
{
	struct headless_screen *hs = data;
	uint64_t expirations;
	if (read(fd, &expirations, sizeof(expirations)) != sizeof(expirations) ||
			!expirations || hs->timer_mode == TIMER_OFF)
		return 0;
	bool periodic = hs->timer_mode == TIMER_PERIODIC;
	if (!periodic)
		hs->timer_mode = TIMER_OFF;     /* it fired its once */
	/* Late by whole refreshes (a busy loop): the latest one is now. */
	uint64_t period = period_ns(hs);
	hs->last_vblank_ns = hs->next_vblank_ns + (expirations - 1) * period;
	hs->next_vblank_ns = hs->last_vblank_ns + period;
	if (!hs->armed) {
		/* Nothing to show: no refresh to keep time for until the next commit. */
		hs->stats.idle_refreshes++;
		if (periodic)
			set_timer(hs, TIMER_OFF);
		return 0;
	}
	hs->armed = false;
	/* The new frame is on screen: the display lets go of the old one. */
	release_all(hs, &hs->shown, &hs->nshown);
	hs->shown = hs->queued;
	hs->nshown = hs->nqueued;
	hs->queued = NULL;
	hs->nqueued = 0;
	dmab_screen_presented(&hs->base, hs->last_vblank_ns);
	return 0;
}

static void arm(struct headless_screen *hs)
{
	hs->armed = true;
	if (hs->timer_mode != TIMER_OFF)
		return;
	uint64_t now = dmab_now_ns();
	uint64_t period = period_ns(hs);
	uint64_t next = hs->last_vblank_ns + period;
	bool steady = next > now;
	if (!steady)
		next = now + period - (now - hs->last_vblank_ns) % period;
	hs->next_vblank_ns = next;
	set_timer(hs, steady ? TIMER_PERIODIC : TIMER_ONCE);
}

static int screen_test(struct dmab_screen *screen, const struct dmab_screen_state *state)
{
	struct headless_screen *hs = wl_container_of(screen, hs, base);
	return hs->planes && state->nlayers > hs->planes ? -ENOSPC : 0;
}

static int screen_commit(struct dmab_screen *screen, const struct dmab_screen_state *state)
{
	struct headless_screen *hs = wl_container_of(screen, hs, base);
	if (hs->armed)
		return -EBUSY;
	int ret = screen_test(screen, state);
	if (ret)
		return ret;
	struct held *held = NULL;
	if (state->nlayers && !(held = calloc(state->nlayers, sizeof(*held))))
		return -ENOMEM;
	for (size_t i = 0; i < state->nlayers; i++) {
		const struct dmab_layer *l = &state->layers[i];
		held[i] = (struct held){ dmab_ofb_lock(l->fb), l->src,
			hs->verify ? hash_of(l->fb, &l->src) : 0 };
	}
	hs->queued = held;
	hs->nqueued = state->nlayers;
	arm(hs);
	return 0;
}

static void screen_destroy(struct dmab_screen *screen)
{
	struct headless_screen *hs = wl_container_of(screen, hs, base);
	wl_event_source_remove(hs->timer);
	close(hs->timer_fd);
	release_all(hs, &hs->queued, &hs->nqueued);
	release_all(hs, &hs->shown, &hs->nshown);
	free(hs);
}

static const struct dmab_screen_impl screen_impl = {
	.commit = screen_commit,
	.test = screen_test,
	.destroy = screen_destroy,
};

static int backend_start(struct dmab_backend *backend)
{
	struct headless *h = wl_container_of(backend, h, base);
	h->screens = calloc(h->nconfigs, sizeof(*h->screens));
	if (!h->screens)
		return -ENOMEM;
	for (unsigned int i = 0; i < h->nconfigs; i++) {
		const struct dmab_headless_screen_config *c = &h->configs[i];
		struct headless_screen *hs = calloc(1, sizeof(*hs));
		if (!hs)
			return -ENOMEM;
		dmab_screen_init(&hs->base, backend, &screen_impl, c->name, c->width, c->height,
			c->refresh_mhz);
		hs->headless = h;
		hs->planes = c->planes;
		hs->verify = c->verify;
		uint64_t window = c->repaint_window_us ? (uint64_t)c->repaint_window_us * 1000 :
			7000000;
		uint64_t half = period_ns(hs) / 2;
		dmab_screen_set_repaint_window(&hs->base, window < half ? window : half);
		hs->last_vblank_ns = dmab_now_ns();
		hs->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (hs->timer_fd < 0) {
			int ret = -errno;
			free(hs);
			return ret;
		}
		hs->timer = wl_event_loop_add_fd(backend->output->loop, hs->timer_fd,
			WL_EVENT_READABLE, handle_vblank, hs);
		if (!hs->timer) {
			close(hs->timer_fd);
			free(hs);
			return -ENOMEM;
		}
		h->screens[h->nscreens++] = hs;
		int ret = dmab_screen_announce(&hs->base);
		if (ret) {
			h->screens[--h->nscreens] = NULL;
			dmab_screen_finish(&hs->base);
			return ret;
		}
	}
	return 0;
}

static void backend_destroy(struct dmab_backend *backend)
{
	struct headless *h = wl_container_of(backend, h, base);
	for (unsigned int i = 0; i < h->nscreens; i++)
		dmab_screen_finish(&h->screens[i]->base);
	free(h->screens);
	free(h->configs);
	dmab_backend_finish(backend);
	free(h);
}

/*
 * A headless screen shows a framebuffer by holding it, as a display that
 * scans out by DMA does, so it takes every dma-buf, also one it cannot map
 * (a guest's buffer that gntdev exported on arm64): that one is shown
 * without a copy, but it cannot be composed, verified or captured.
 */
static int backend_import(struct dmab_backend *backend, struct dmab_obuf *buf)
{
	(void)backend;
	(void)buf;
	return 0;
}

static const struct dmab_backend_impl backend_impl = {
	.type = "headless",
	.start = backend_start,
	.destroy = backend_destroy,
	.import = backend_import,
};

void dmab_headless_screen_stats(const struct dmab_screen *screen,
		struct dmab_headless_screen_stats *stats)
{
	*stats = (struct dmab_headless_screen_stats){ 0 };
	if (screen->impl != &screen_impl)
		return;
	const struct headless_screen *hs = wl_container_of(screen, hs, base);
	*stats = hs->stats;
}

struct dmab_backend *dmab_headless_create(const struct dmab_headless_screen_config *screens,
		unsigned int count)
{
	struct headless *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	dmab_backend_init(&h->base, &backend_impl, "headless");
	h->configs = count ? calloc(count, sizeof(*screens)) : NULL;
	if (!h->base.name || (count && !h->configs)) {
		free(h->base.name);
		free(h->configs);
		free(h);
		return NULL;
	}
	memcpy(h->configs, screens, count * sizeof(*screens));
	h->nconfigs = count;
	return &h->base;
}
