// SPDX-License-Identifier: MIT
/*
 * Buffers (memory) and framebuffers (images in it), with the locks that
 * say who still reads a framebuffer.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/log.h"
#include "common/pixman-format.h"
#include "output/backend.h"
#include "output/output-impl.h"

void dmab_addon_add(struct wl_list *addons, struct dmab_addon *addon, const void *owner,
		void (*destroy)(struct dmab_addon *addon))
{
	addon->owner = owner;
	addon->destroy = destroy;
	wl_list_insert(addons, &addon->link);
}

struct dmab_addon *dmab_addon_find(struct wl_list *addons, const void *owner)
{
	struct dmab_addon *addon;
	wl_list_for_each(addon, addons, link) {
		if (addon->owner == owner)
			return addon;
	}
	return NULL;
}

void dmab_addon_remove(struct dmab_addon *addon)
{
	wl_list_remove(&addon->link);
	wl_list_init(&addon->link);
}

static void addons_destroy(struct wl_list *addons)
{
	while (!wl_list_empty(addons)) {
		struct dmab_addon *addon = wl_container_of(addons->next, addon, link);
		dmab_addon_remove(addon);
		addon->destroy(addon);
	}
}

/* Whether fd's memory holds size octets, where it says (dma-bufs and memfds do). */
static bool holds(int fd, size_t size)
{
	/* The offset is shared with the caller's descriptor: put it back (a dma-buf has none). */
	off_t cur = lseek(fd, 0, SEEK_CUR);
	off_t end = lseek(fd, 0, SEEK_END);
	if (cur >= 0)
		lseek(fd, cur, SEEK_SET);
	return end < 0 || (uint64_t)end >= size;
}

static size_t page_round(size_t size)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t p = page > 0 ? (size_t)page : 4096;
	return (size + p - 1) / p * p;
}

int dmab_obuf_import(struct dmab_output *output, int fd, size_t size, struct dmab_obuf **out)
{
	struct dmab_obuf *buf = calloc(1, sizeof(*buf));
	if (!buf)
		return -ENOMEM;
	buf->output = output;
	buf->size = size;
	wl_list_init(&buf->addons);
	buf->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (buf->fd < 0) {
		int err = -errno;
		free(buf);
		return err;
	}
	/* Reading a mapping past the end of its memory is SIGBUS. */
	if (!holds(buf->fd, size)) {
		close(buf->fd);
		free(buf);
		return -EINVAL;
	}
	/* For composition and screenshots; a gntdev dma-buf has no mmap. */
	void *cpu = mmap(NULL, page_round(size), PROT_READ, MAP_SHARED, buf->fd, 0);
	if (cpu != MAP_FAILED)
		buf->cpu = cpu;

	bool taken = false;
	struct dmab_backend *backend;
	wl_list_for_each(backend, &output->backends, link) {
		if (backend->impl->import && backend->impl->import(backend, buf) == 0)
			taken = true;
	}
	if (!taken && !buf->cpu) {
		addons_destroy(&buf->addons);
		close(buf->fd);
		free(buf);
		return -EOPNOTSUPP;
	}
	*out = buf;
	return 0;
}

int dmab_obuf_alloc(struct dmab_output *output, struct dmab_screen *screen,
		uint32_t width, uint32_t height, uint32_t bpp, uint32_t *stride, size_t size,
		struct dmab_obuf **out)
{
	const struct dmab_allocator *allocator = output->allocator;
	if (screen && screen->backend->allocator)
		allocator = screen->backend->allocator;
	struct dmab_obuf *buf = calloc(1, sizeof(*buf));
	if (!buf)
		return -ENOMEM;
	buf->output = output;
	buf->fd = -1;
	buf->allocated = true;
	wl_list_init(&buf->addons);
	int ret = allocator->alloc(allocator, width, height, bpp, stride, size, buf);
	if (ret) {
		free(buf);
		return ret;
	}
	buf->allocator = allocator;
	buf->cpu_writable = buf->cpu != NULL;
	*out = buf;
	return 0;
}

static void obuf_free(struct dmab_obuf *buf)
{
	addons_destroy(&buf->addons);
	if (buf->allocator) {
		buf->allocator->free(buf->allocator, buf);
	} else if (buf->cpu_unmap) {
		buf->cpu_unmap(buf->cpu_unmap_data, buf->cpu);
		close(buf->fd);
	} else {
		if (buf->cpu)
			munmap(buf->cpu, page_round(buf->size));
		if (buf->fd >= 0)
			close(buf->fd);
	}
	free(buf);
}

int dmab_obuf_set_cpu(struct dmab_obuf *buf, void *cpu, void (*unmap)(void *data, void *cpu),
		void *data)
{
	if (buf->cpu || buf->nfbs || buf->allocator)
		return -EBUSY;
	buf->cpu = cpu;
	buf->cpu_writable = false;
	buf->cpu_unmap = unmap;
	buf->cpu_unmap_data = data;
	return 0;
}

void dmab_obuf_destroy(struct dmab_obuf *buf)
{
	if (!buf)
		return;
	/* A display may still read a framebuffer on it: the last one frees it. */
	buf->dropped = true;
	if (buf->nfbs == 0)
		obuf_free(buf);
}

static size_t row_bytes(const struct dmab_ofb *fb)
{
	return ((size_t)fb->width * PIXMAN_FORMAT_BPP(dmab_pixman_format(fb->fourcc)) + 7) / 8;
}

/*
 * pixman addresses rows of 32-bit words: where the guest's rows are not
 * (packed rows of odd widths, an unaligned offset) it reads an aligned
 * copy, made once and refreshed when read.
 */
static int make_image(struct dmab_ofb *fb)
{
	struct dmab_obuf *buf = fb->buffer;
	pixman_format_code_t format = dmab_pixman_format(fb->fourcc);
	if (!buf->cpu || !format)
		return 0;
	uint8_t *pixels = (uint8_t *)buf->cpu + fb->offset;
	if (((uintptr_t)pixels & 3) == 0 && (fb->stride & 3) == 0) {
		fb->image = pixman_image_create_bits_no_clear(format, (int)fb->width,
			(int)fb->height, (uint32_t *)(void *)pixels, (int)fb->stride);
		return fb->image ? 0 : -ENOMEM;
	}
	uint64_t row = row_bytes(fb);
	uint64_t aligned = (row + 3) & ~(uint64_t)3;
	fb->image = pixman_image_create_bits_no_clear(format, (int)fb->width, (int)fb->height,
		NULL, (int)aligned);
	if (!fb->image)
		return -ENOMEM;
	fb->image_is_copy = true;
	return 0;
}

int dmab_ofb_create(struct dmab_obuf *buf, uint32_t width, uint32_t height,
		uint32_t fourcc, uint32_t offset, uint32_t stride, struct dmab_ofb **out)
{
	struct dmab_ofb *fb = calloc(1, sizeof(*fb));
	if (!fb)
		return -ENOMEM;
	*fb = (struct dmab_ofb){
		.buffer = buf, .width = width, .height = height, .fourcc = fourcc,
		.offset = offset, .stride = stride,
	};
	wl_list_init(&fb->addons);
	wl_signal_init(&fb->events.release);
	wl_signal_init(&fb->events.destroy);
	int ret = make_image(fb);
	if (ret) {
		free(fb);
		return ret;
	}
	buf->nfbs++;
	*out = fb;
	return 0;
}

static void fb_free(struct dmab_ofb *fb)
{
	/* Backend state first: it may refer to the buffer, which a destroy listener may free. */
	addons_destroy(&fb->addons);
	if (fb->image)
		pixman_image_unref(fb->image);
	fb->image = NULL;
	/* A destroy listener may let go of the buffer: it goes after, with its last framebuffer. */
	struct dmab_obuf *buf = fb->buffer;
	wl_signal_emit_mutable(&fb->events.destroy, fb);
	free(fb);
	if (--buf->nfbs == 0 && buf->dropped)
		obuf_free(buf);
}

struct dmab_ofb *dmab_ofb_lock(struct dmab_ofb *fb)
{
	fb->locks++;
	return fb;
}

void dmab_ofb_unlock(struct dmab_ofb *fb)
{
	if (!fb)
		return;
	if (fb->locks == 0) {
		dmab_log(DMAB_LOG_ERROR, "framebuffer unlocked more often than locked");
		return;
	}
	if (--fb->locks > 0)
		return;
	/* Dropping it is the owner's usual answer to "idle": it may be gone now. */
	if (dmab_signal_emit_guarded(&fb->events.release, &fb->events.destroy, fb))
		return;
	/* A release listener may have locked it again. */
	if (fb->dropped && fb->locks == 0)
		fb_free(fb);
}

void dmab_ofb_drop(struct dmab_ofb *fb)
{
	if (!fb || fb->dropped)
		return;
	fb->dropped = true;
	if (fb->locks == 0)
		fb_free(fb);
}

pixman_image_t *dmab_ofb_read_image(struct dmab_ofb *fb)
{
	if (!fb->image || !fb->image_is_copy)
		return fb->image;
	size_t row = row_bytes(fb);
	uint8_t *dst = (uint8_t *)pixman_image_get_data(fb->image);
	size_t dst_stride = (size_t)pixman_image_get_stride(fb->image);
	const uint8_t *src = (const uint8_t *)fb->buffer->cpu + fb->offset;
	for (uint32_t y = 0; y < fb->height; y++)
		memcpy(dst + y * dst_stride, src + (size_t)y * fb->stride, row);
	return fb->image;
}
