// SPDX-License-Identifier: MIT
/*
 * The headless output: no display, but the timing of one. Each view
 * presents at its own refresh rate on a timer, and keeps its last frame
 * for screenshots. Buffers it allocates are real dma-bufs where the host
 * can make them (system heap, udmabuf), so be-alloc works on Xen too.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/udmabuf.h>
#include <wayland-server-core.h>

#include "common/log.h"
#include "common/memory.h"
#include "server/headless.h"

struct headless_buffer {
	struct dmab_obuf base;
	size_t map_size;
	int memfd;              /* backing memfd of a udmabuf, else -1 */
};

struct headless_view {
	struct dmab_oview *view;
	struct wl_event_source *timer;
	/* vblanks are on an ideal timeline: the timer's lateness does not add up */
	uint64_t last_vblank_ns;
	uint64_t next_vblank_ns;
	bool armed;
};

struct headless {
	struct dmab_output base;
};

static const struct dmab_output_impl headless_impl;

static size_t page_round(size_t size)
{
	return (size + 4095) & ~(size_t)4095;
}

static int udmabuf_over(int memfd, size_t size)
{
	int dev = open("/dev/udmabuf", O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return -errno;
	struct udmabuf_create create = {
		.memfd = (uint32_t)memfd,
		.flags = UDMABUF_FLAGS_CLOEXEC,
		.offset = 0,
		.size = size,
	};
	int ret = ioctl(dev, UDMABUF_CREATE, &create);
	ret = ret < 0 ? -errno : ret;
	close(dev);
	return ret;
}

static int headless_alloc(struct dmab_output *out, uint32_t width, uint32_t height,
		uint32_t bpp, uint32_t *stride, size_t size, struct dmab_obuf **out_buf)
{
	struct headless_buffer *buf = calloc(1, sizeof(*buf));
	if (!buf)
		return -ENOMEM;
	buf->memfd = -1;
	size = page_round(size);

	/* The best exportable memory this host has, in order. */
	int map_fd = dmab_heap_alloc(size);
	int fd = map_fd;
	if (fd < 0) {
		buf->memfd = dmab_sealed_memfd("dmabridge-headless", size);
		if (buf->memfd < 0) {
			int err = buf->memfd;
			free(buf);
			return err;
		}
		map_fd = buf->memfd;
		fd = udmabuf_over(buf->memfd, size);
		if (fd < 0) {
			/* Only the simulator takes a memfd where a dma-buf is due. */
			fd = buf->memfd;
			buf->memfd = -1;
		}
	}
	void *cpu = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0);
	if (cpu == MAP_FAILED) {
		int err = -errno;
		close(fd);
		if (buf->memfd >= 0)
			close(buf->memfd);
		free(buf);
		return err;
	}
	buf->base.cpu = cpu;
	buf->base.size = size;
	buf->base.dmabuf_fd = fd;
	buf->map_size = size;
	*out_buf = &buf->base;
	return 0;
}

static int headless_import(struct dmab_output *out, int fd, size_t size,
		struct dmab_obuf **out_buf)
{
	struct headless_buffer *buf = calloc(1, sizeof(*buf));
	if (!buf)
		return -ENOMEM;
	buf->memfd = -1;
	buf->base.dmabuf_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (buf->base.dmabuf_fd < 0) {
		int err = -errno;
		free(buf);
		return err;
	}
	/* CPU access is only for screenshots: a gntdev dma-buf has none. */
	size_t map_size = page_round(size);
	void *cpu = mmap(NULL, map_size, PROT_READ, MAP_SHARED, fd, 0);
	if (cpu != MAP_FAILED) {
		buf->base.cpu = cpu;
		buf->map_size = map_size;
	}
	*out_buf = &buf->base;
	return 0;
}

static void headless_buffer_destroy(struct dmab_output *out, struct dmab_obuf *base)
{
	struct headless_buffer *buf = (struct headless_buffer *)base;
	if (buf->base.cpu)
		munmap(buf->base.cpu, buf->map_size);
	if (buf->base.dmabuf_fd >= 0)
		close(buf->base.dmabuf_fd);
	if (buf->memfd >= 0)
		close(buf->memfd);
	free(buf);
}

static int headless_fb_create(struct dmab_output *out, struct dmab_ofb *fb)
{
	return 0;
}

static void headless_fb_destroy(struct dmab_output *out, struct dmab_ofb *fb)
{
}

static struct headless_view *hview_of(struct dmab_oview *view)
{
	return view->impl_data;
}

static uint64_t period_ns(const struct dmab_oview *view)
{
	return 1000000000000ull / view->refresh_mhz;
}

static int headless_view_commit(struct dmab_output *out, struct dmab_oview *view);

static int handle_vblank(void *data)
{
	struct headless_view *hv = data;
	hv->armed = false;
	hv->last_vblank_ns = hv->next_vblank_ns;
	if (!dmab_output_view_latch(hv->view)) {
		/* Not ready: the frame waits for the next refresh. */
		headless_view_commit(hv->view->output, hv->view);
		return 0;
	}
	dmab_output_view_presented(hv->view, dmab_now_ns());
	return 0;
}

static int headless_view_create(struct dmab_output *out, struct dmab_oview *view)
{
	struct headless_view *hv = calloc(1, sizeof(*hv));
	if (!hv)
		return -ENOMEM;
	hv->view = view;
	hv->timer = wl_event_loop_add_timer(out->loop, handle_vblank, hv);
	if (!hv->timer) {
		free(hv);
		return -ENOMEM;
	}
	hv->last_vblank_ns = dmab_now_ns();
	view->impl_data = hv;
	return 0;
}

static void headless_view_destroy(struct dmab_output *out, struct dmab_oview *view)
{
	struct headless_view *hv = hview_of(view);
	wl_event_source_remove(hv->timer);
	free(hv);
}

static void headless_view_place(struct dmab_output *out, struct dmab_oview *view)
{
}

static int headless_view_commit(struct dmab_output *out, struct dmab_oview *view)
{
	struct headless_view *hv = hview_of(view);
	if (hv->armed)
		return 0; /* the next vblank takes the newest pending frame */
	/* The next refresh on this view's own cadence. */
	uint64_t now = dmab_now_ns();
	uint64_t period = period_ns(view);
	uint64_t next = hv->last_vblank_ns + period;
	if (next <= now)
		next = now + period - (now - hv->last_vblank_ns) % period;
	hv->next_vblank_ns = next;
	/* The timer counts milliseconds: round up, never present early. */
	uint64_t delay_ms = (next - now + 999999) / 1000000;
	wl_event_source_timer_update(hv->timer, delay_ms ? (int)delay_ms : 1);
	hv->armed = true;
	return 0;
}

static void headless_destroy(struct dmab_output *out)
{
	dmab_output_finish(out);
	free(out);
}

int dmab_headless_create(const struct dmab_screen *screens, unsigned int count,
		struct wl_event_loop *loop, struct dmab_output **out)
{
	if (count == 0 || count > DMAB_MAX_SCREENS)
		return -EINVAL;
	struct headless *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	dmab_output_init(&h->base, &headless_impl, "headless", loop);
	if (!h->base.name) {
		free(h);
		return -ENOMEM;
	}
	memcpy(h->base.screens, screens, count * sizeof(*screens));
	h->base.nscreens = count;
	*out = &h->base;
	return 0;
}

static const struct dmab_output_impl headless_impl = {
	.type = "headless",
	.destroy = headless_destroy,
	.import_dmabuf = headless_import,
	.alloc = headless_alloc,
	.buffer_destroy = headless_buffer_destroy,
	.fb_create = headless_fb_create,
	.fb_destroy = headless_fb_destroy,
	.view_create = headless_view_create,
	.view_destroy = headless_view_destroy,
	.view_place = headless_view_place,
	.view_commit = headless_view_commit,
};
