// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "output/backend.h"
#include "output/headless/headless.h"

struct headless_screen {
	struct dmab_screen base;
	struct headless *headless;
	uint32_t planes;
	struct wl_event_source *timer;
	/* vblanks are on an ideal timeline: the timer's lateness does not add up */
	uint64_t last_vblank_ns, next_vblank_ns;
	/* What the display reads: the commit in flight, and what is on screen. */
	struct dmab_ofb **queued, **shown;
	size_t nqueued, nshown;
	bool armed;
};

struct headless {
	struct dmab_backend base;
	struct dmab_headless_screen_config *configs;
	unsigned int nconfigs;
	struct headless_screen **screens;
	unsigned int nscreens;
};

static const struct dmab_screen_impl screen_impl;

static void unlock_all(struct dmab_ofb ***fbs, size_t *n)
{
	struct dmab_ofb **list = *fbs;
	size_t count = *n;
	*fbs = NULL;
	*n = 0;
	for (size_t i = 0; i < count; i++)
		dmab_ofb_unlock(list[i]);
	free(list);
}

static uint64_t period_ns(const struct headless_screen *hs)
{
	return 1000000000000ull / hs->base.refresh_mhz;
}

static int handle_vblank(void *data)
{
	struct headless_screen *hs = data;
	hs->armed = false;
	hs->last_vblank_ns = hs->next_vblank_ns;
	/* The new frame is on screen: the display lets go of the old one. */
	unlock_all(&hs->shown, &hs->nshown);
	hs->shown = hs->queued;
	hs->nshown = hs->nqueued;
	hs->queued = NULL;
	hs->nqueued = 0;
	dmab_screen_presented(&hs->base, hs->last_vblank_ns);
	return 0;
}

static void arm(struct headless_screen *hs)
{
	uint64_t now = dmab_now_ns();
	uint64_t period = period_ns(hs);
	uint64_t next = hs->last_vblank_ns + period;
	if (next <= now)
		next = now + period - (now - hs->last_vblank_ns) % period;
	hs->next_vblank_ns = next;
	/* The timer counts milliseconds: round up, never present early. */
	uint64_t delay_ms = (next - now + 999999) / 1000000;
	wl_event_source_timer_update(hs->timer, delay_ms ? (int)delay_ms : 1);
	hs->armed = true;
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
	struct dmab_ofb **fbs = NULL;
	if (state->nlayers && !(fbs = calloc(state->nlayers, sizeof(*fbs))))
		return -ENOMEM;
	for (size_t i = 0; i < state->nlayers; i++)
		fbs[i] = dmab_ofb_lock(state->layers[i].fb);
	hs->queued = fbs;
	hs->nqueued = state->nlayers;
	arm(hs);
	return 0;
}

static void screen_destroy(struct dmab_screen *screen)
{
	struct headless_screen *hs = wl_container_of(screen, hs, base);
	wl_event_source_remove(hs->timer);
	unlock_all(&hs->queued, &hs->nqueued);
	unlock_all(&hs->shown, &hs->nshown);
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
		uint64_t window = c->repaint_window_us ? (uint64_t)c->repaint_window_us * 1000 :
			7000000;
		uint64_t half = period_ns(hs) / 2;
		dmab_screen_set_repaint_window(&hs->base, window < half ? window : half);
		hs->last_vblank_ns = dmab_now_ns();
		hs->timer = wl_event_loop_add_timer(backend->output->loop, handle_vblank, hs);
		if (!hs->timer) {
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

static const struct dmab_backend_impl backend_impl = {
	.type = "headless",
	.start = backend_start,
	.destroy = backend_destroy,
};

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
