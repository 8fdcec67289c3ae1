// SPDX-License-Identifier: MIT
#include <stdlib.h>

#include "common/pixman-format.h"
#include "output/output-impl.h"
#include "output/swapchain.h"

/* A slot outlives its swapchain while a lock holds its framebuffer. */
struct slot {
	struct dmab_ofb *fb;
	struct dmab_obuf *buf;
	struct dmab_swapchain *sc;      /* NULL once the swapchain is gone */
	struct wl_listener release;
	struct wl_listener destroy;
};

struct dmab_swapchain {
	struct dmab_output *output;
	struct dmab_screen *screen;
	uint32_t width, height, fourcc;
	unsigned int max;
	struct slot *slots[DMAB_SWAPCHAIN_MAX];
	unsigned int nslots;
	struct wl_signal release;
};

static void handle_fb_release(struct wl_listener *listener, void *data)
{
	struct slot *slot = wl_container_of(listener, slot, release);
	if (slot->sc)
		wl_signal_emit(&slot->sc->release, slot->fb);
}

static void handle_fb_destroy(struct wl_listener *listener, void *data)
{
	struct slot *slot = wl_container_of(listener, slot, destroy);
	wl_list_remove(&slot->release.link);
	wl_list_remove(&slot->destroy.link);
	dmab_obuf_destroy(slot->buf);
	free(slot);
}

struct dmab_swapchain *dmab_swapchain_create(struct dmab_output *output,
		struct dmab_screen *screen, uint32_t width, uint32_t height, uint32_t fourcc,
		unsigned int max)
{
	if (!dmab_pixman_format(fourcc) || width == 0 || height == 0 || max < 2 ||
			max > DMAB_SWAPCHAIN_MAX)
		return NULL;
	struct dmab_swapchain *sc = calloc(1, sizeof(*sc));
	if (!sc)
		return NULL;
	*sc = (struct dmab_swapchain){
		.output = output, .screen = screen, .width = width, .height = height,
		.fourcc = fourcc, .max = max,
	};
	wl_signal_init(&sc->release);
	return sc;
}

void dmab_swapchain_destroy(struct dmab_swapchain *sc)
{
	if (!sc)
		return;
	for (unsigned int i = 0; i < sc->nslots; i++) {
		sc->slots[i]->sc = NULL;
		dmab_ofb_drop(sc->slots[i]->fb);
	}
	free(sc);
}

bool dmab_swapchain_fits(const struct dmab_swapchain *sc, uint32_t width, uint32_t height,
		uint32_t fourcc)
{
	return sc->width == width && sc->height == height && sc->fourcc == fourcc;
}

static struct slot *slot_add(struct dmab_swapchain *sc)
{
	if (sc->nslots == sc->max)
		return NULL;
	struct slot *slot = calloc(1, sizeof(*slot));
	if (!slot)
		return NULL;
	uint32_t bpp = PIXMAN_FORMAT_BPP(dmab_pixman_format(sc->fourcc));
	uint32_t stride = (uint32_t)((((uint64_t)sc->width * bpp + 7) / 8 + 3) & ~(uint64_t)3);
	size_t size = (size_t)stride * sc->height;
	if (dmab_obuf_alloc(sc->output, sc->screen, sc->width, sc->height, bpp, &stride, size,
			&slot->buf)) {
		free(slot);
		return NULL;
	}
	if (dmab_ofb_create(slot->buf, sc->width, sc->height, sc->fourcc, 0, stride, &slot->fb)) {
		dmab_obuf_destroy(slot->buf);
		free(slot);
		return NULL;
	}
	slot->sc = sc;
	slot->release.notify = handle_fb_release;
	wl_signal_add(&slot->fb->events.release, &slot->release);
	/* The buffer goes with the framebuffer, whenever its last lock goes. */
	slot->destroy.notify = handle_fb_destroy;
	wl_signal_add(&slot->fb->events.destroy, &slot->destroy);
	sc->slots[sc->nslots++] = slot;
	return slot;
}

struct dmab_ofb *dmab_swapchain_acquire(struct dmab_swapchain *sc)
{
	/* One made before: its pages are in already. */
	for (unsigned int i = 0; i < sc->nslots; i++) {
		if (!sc->slots[i]->fb->locks)
			return dmab_ofb_lock(sc->slots[i]->fb);
	}
	struct slot *slot = slot_add(sc);
	return slot ? dmab_ofb_lock(slot->fb) : NULL;
}

bool dmab_swapchain_full(const struct dmab_swapchain *sc)
{
	for (unsigned int i = 0; i < sc->nslots; i++) {
		if (!sc->slots[i]->fb->locks)
			return false;
	}
	return sc->nslots == sc->max;
}

void dmab_swapchain_add_release_listener(struct dmab_swapchain *sc,
		struct wl_listener *listener)
{
	wl_signal_add(&sc->release, listener);
}
