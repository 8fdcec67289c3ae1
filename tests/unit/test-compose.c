// SPDX-License-Identifier: MIT
/*
 * Composition, pixel for pixel, against a reference computed here from
 * the definitions of the formats (drm_fourcc.h, little-endian), not from
 * the code under test: n-bit channels widened by bit replication, X
 * formats opaque, YUYV as BT.601 limited range (within 3 per channel), and
 * alpha blended OVER what is below with pixman's premultiplied 8-bit
 * arithmetic, which is exact.
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
#include "output/capture.h"
#include "output/compose.h"
#include "output/headless/headless.h"

#define MAX_PICS 16

/* ---- the reference ---- */

struct rgb {
	int r, g, b;
};

struct format {
	uint32_t fourcc;
	const char *name;
	uint32_t bpp;
	uint32_t odd_width;     /* a width whose packed rows pixman cannot address */
	uint32_t odd_offset;    /* an offset pixman cannot address */
};

static const struct format formats[] = {
	{ DRM_FORMAT_RGB565, "RGB565", 16, 5, 2 },
	{ DRM_FORMAT_RGB888, "RGB888", 24, 3, 1 },
	{ DRM_FORMAT_XRGB8888, "XRGB8888", 32, 3, 2 },
	{ DRM_FORMAT_ARGB8888, "ARGB8888", 32, 3, 2 },
	{ DRM_FORMAT_XRGB4444, "XRGB4444", 16, 3, 2 },
	{ DRM_FORMAT_ARGB4444, "ARGB4444", 16, 5, 2 },
	{ DRM_FORMAT_XRGB1555, "XRGB1555", 16, 3, 2 },
	{ DRM_FORMAT_ARGB1555, "ARGB1555", 16, 5, 2 },
	/* Pairs of pixels share their chroma: widths are even. */
	{ DRM_FORMAT_YUYV, "YUYV", 16, 6, 2 },
};

static const struct format *format_of(uint32_t fourcc)
{
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		if (formats[i].fourcc == fourcc)
			return &formats[i];
	}
	fail_msg("no format %08x", fourcc);
	return NULL;
}

/* An n-bit value to 8 bits, its bits repeated from the top: 5 bits abcde -> abcdeabc. */
static int widen(unsigned int v, unsigned int bits)
{
	unsigned int out = 0;
	for (int shift = 8 - (int)bits; shift > -(int)bits; shift -= (int)bits)
		out |= shift >= 0 ? v << shift : v >> -shift;
	return (int)(out & 0xff);
}

static unsigned int le16(const uint8_t *p)
{
	return (unsigned int)p[0] | (unsigned int)p[1] << 8;
}

static int clamp8(double v)
{
	return v < 0 ? 0 : v > 255 ? 255 : (int)(v + 0.5);
}

/* Pixel x of a row, and its alpha (255: opaque). */
static struct rgb decode(uint32_t fourcc, const uint8_t *row, uint32_t x, int *alpha)
{
	const uint8_t *p;
	unsigned int v;
	*alpha = 255;
	switch (fourcc) {
	case DRM_FORMAT_RGB565:         /* [15:0] R:G:B 5:6:5 */
		v = le16(row + 2 * x);
		return (struct rgb){ widen(v >> 11, 5), widen((v >> 5) & 63, 6), widen(v & 31, 5) };
	case DRM_FORMAT_RGB888:         /* [23:0] R:G:B */
		p = row + 3 * x;
		return (struct rgb){ p[2], p[1], p[0] };
	case DRM_FORMAT_ARGB8888:       /* [31:0] A:R:G:B */
		*alpha = row[4 * x + 3];
		__attribute__((fallthrough));
	case DRM_FORMAT_XRGB8888:       /* [31:0] x:R:G:B */
		p = row + 4 * x;
		return (struct rgb){ p[2], p[1], p[0] };
	case DRM_FORMAT_ARGB4444:       /* [15:0] A:R:G:B 4:4:4:4 */
		*alpha = widen(le16(row + 2 * x) >> 12, 4);
		__attribute__((fallthrough));
	case DRM_FORMAT_XRGB4444:
		v = le16(row + 2 * x);
		return (struct rgb){ widen((v >> 8) & 15, 4), widen((v >> 4) & 15, 4),
			widen(v & 15, 4) };
	case DRM_FORMAT_ARGB1555:       /* [15:0] A:R:G:B 1:5:5:5 */
		*alpha = widen(le16(row + 2 * x) >> 15, 1);
		__attribute__((fallthrough));
	case DRM_FORMAT_XRGB1555:
		v = le16(row + 2 * x);
		return (struct rgb){ widen((v >> 10) & 31, 5), widen((v >> 5) & 31, 5),
			widen(v & 31, 5) };
	case DRM_FORMAT_YUYV: {         /* [31:0] Cr0:Y1:Cb0:Y0, two pixels */
		p = row + 4 * (x / 2);
		double y = 1.164 * (p[2 * (x & 1)] - 16), u = p[1] - 128, w = p[3] - 128;
		return (struct rgb){ clamp8(y + 1.596 * w), clamp8(y - 0.813 * w - 0.391 * u),
			clamp8(y + 2.018 * u) };
	}
	default:
		fail_msg("no format %08x", fourcc);
		return (struct rgb){ 0 };
	}
}

/* a * b / 255, rounded as pixman rounds it. */
static int mul_un8(int a, int b)
{
	int t = a * b + 0x80;
	return ((t >> 8) + t) >> 8;
}

/* OVER with premultiplied colours: s + d * (1 - sa), saturated. */
static int over(int s, int sa, int d)
{
	int v = s + mul_un8(d, 255 - sa);
	return v > 255 ? 255 : v;
}

/* ---- buffers ---- */

/* A framebuffer of pseudo-random octets, and a copy of them for the reference. */
struct pic {
	struct dmab_obuf *buf;
	struct dmab_ofb *fb;
	uint8_t *bytes;
	size_t size;
};

struct env {
	struct wl_event_loop *loop;
	struct dmab_output *output;
	struct pic pics[MAX_PICS];
	size_t npics;
	uint32_t seed;
	int fds;
};

enum source {
	ALLOCATED,      /* dmab_obuf_alloc: the output's own memory */
	IMPORTED,       /* dmab_obuf_import of a memfd */
};

static uint32_t next_random(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

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

static struct pic *pic_add(struct env *e, enum source source, uint32_t fourcc, uint32_t width,
		uint32_t height, uint32_t stride, uint32_t offset)
{
	assert_true(e->npics < MAX_PICS);
	struct pic *pic = &e->pics[e->npics++];
	pic->size = offset + (size_t)stride * height;
	pic->bytes = malloc(pic->size);
	assert_non_null(pic->bytes);
	for (size_t i = 0; i < pic->size; i++)
		pic->bytes[i] = (uint8_t)next_random(&e->seed);
	if (source == ALLOCATED) {
		uint32_t got = stride;
		assert_int_equal(dmab_obuf_alloc(e->output, NULL, width, height,
			format_of(fourcc)->bpp, &got, pic->size, &pic->buf), 0);
		/* The system allocator keeps the layout asked for. */
		assert_int_equal(got, stride);
		assert_true(pic->buf->cpu_writable);
		memcpy(pic->buf->cpu, pic->bytes, pic->size);
	} else {
		int fd = memfd_create("test-compose", MFD_CLOEXEC);
		assert_true(fd >= 0);
		assert_int_equal(ftruncate(fd, (off_t)pic->size), 0);
		assert_int_equal(pwrite(fd, pic->bytes, pic->size, 0), (ssize_t)pic->size);
		assert_int_equal(dmab_obuf_import(e->output, fd, pic->size, &pic->buf), 0);
		close(fd);
		assert_non_null(pic->buf->cpu);
	}
	assert_int_equal(dmab_ofb_create(pic->buf, width, height, fourcc, offset, stride,
		&pic->fb), 0);
	return pic;
}

/* Opaque random pixels of x8r8g8b8, width x height: what lies below. */
static struct pic *background(struct env *e, uint32_t width, uint32_t height)
{
	return pic_add(e, ALLOCATED, DRM_FORMAT_XRGB8888, width, height, width * 4, 0);
}

/* A whole-pic layer at (x, y). */
static struct dmab_layer at(const struct pic *pic, int32_t x, int32_t y)
{
	return (struct dmab_layer){
		.fb = pic->fb,
		.src = { 0, 0, pic->fb->width, pic->fb->height },
		.dst = { x, y, pic->fb->width, pic->fb->height },
	};
}

static const struct pic *pic_of(const struct env *e, const struct dmab_ofb *fb)
{
	for (size_t i = 0; i < e->npics; i++) {
		if (e->pics[i].fb == fb)
			return &e->pics[i];
	}
	fail_msg("framebuffer not made here");
	return NULL;
}

static struct rgb target_pixel(pixman_image_t *target, int x, int y)
{
	const uint8_t *data = (const uint8_t *)pixman_image_get_data(target);
	uint32_t p = ((const uint32_t *)(const void *)(data +
		(size_t)y * (size_t)pixman_image_get_stride(target)))[x];
	return (struct rgb){ (int)(p >> 16) & 255, (int)(p >> 8) & 255, (int)p & 255 };
}

/*
 * What compositing layers onto target must give, pixel by pixel (the
 * layers are clipped to the target already); below is what the target
 * held before (NULL: black). Layers whose framebuffer has no CPU mapping
 * are left out. Then compared with what target holds.
 */
static void check_target(const struct env *e, pixman_image_t *target, const struct rgb *below,
		const struct dmab_layer *layers, size_t n)
{
	int width = pixman_image_get_width(target), height = pixman_image_get_height(target);
	for (int y = 0; y < height; y++) {
		for (int x = 0; x < width; x++) {
			struct rgb d = below ? below[y * width + x] : (struct rgb){ 0 };
			int tolerance = 0;
			for (size_t i = 0; i < n; i++) {
				const struct dmab_layer *l = &layers[i];
				if (!l->fb->buffer->cpu || x < l->dst.x || y < l->dst.y ||
						x >= l->dst.x + (int)l->dst.width ||
						y >= l->dst.y + (int)l->dst.height)
					continue;
				const struct pic *pic = pic_of(e, l->fb);
				uint32_t sx = (uint32_t)(l->src.x + (x - l->dst.x));
				uint32_t sy = (uint32_t)(l->src.y + (y - l->dst.y));
				int a;
				struct rgb s = decode(l->fb->fourcc, pic->bytes + l->fb->offset +
					(size_t)sy * l->fb->stride, sx, &a);
				d = (struct rgb){ over(s.r, a, d.r), over(s.g, a, d.g),
					over(s.b, a, d.b) };
				/* YUYV is approximate; translucent over it, rounded once more. */
				if (l->fb->fourcc == DRM_FORMAT_YUYV)
					tolerance = 3;
				else if (a == 255)
					tolerance = 0;
				else if (tolerance)
					tolerance++;
			}
			struct rgb got = target_pixel(target, x, y);
			if (abs(got.r - d.r) > tolerance || abs(got.g - d.g) > tolerance ||
					abs(got.b - d.b) > tolerance)
				fail_msg("(%d,%d): %02x%02x%02x, want %02x%02x%02x (within %d)",
					x, y, got.r, got.g, got.b, d.r, d.g, d.b, tolerance);
		}
	}
}

static pixman_image_t *target_create(int width, int height)
{
	pixman_image_t *img = pixman_image_create_bits(PIXMAN_x8r8g8b8, width, height, NULL, 0);
	assert_non_null(img);
	return img;
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	assert_non_null(e);
	e->fds = count_fds();
	e->seed = 0x2545f491;
	e->loop = wl_event_loop_create();
	assert_non_null(e->loop);
	e->output = dmab_output_create(e->loop);
	assert_non_null(e->output);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	dmab_output_destroy(e->output);
	for (size_t i = 0; i < e->npics; i++) {
		assert_int_equal(e->pics[i].fb->locks, 0);
		dmab_ofb_drop(e->pics[i].fb);
		dmab_obuf_destroy(e->pics[i].buf);
		free(e->pics[i].bytes);
	}
	wl_event_loop_destroy(e->loop);
	assert_int_equal(count_fds(), e->fds);
	free(e);
	return 0;
}

/* ---- the tests ---- */

enum layout {
	ALIGNED,        /* rows 4-octet aligned, with padding: pixman reads the buffer */
	PACKED,         /* rows of an odd width, packed */
	OFFSET,         /* packed rows of an odd width at an odd offset */
	NLAYOUTS,
};

static const char *const layout_names[] = { "aligned", "packed", "offset" };

/*
 * Every format, in rows pixman addresses directly and in rows it cannot,
 * from allocated and imported buffers, over random opaque pixels: part of
 * it (src not at 0,0), somewhere inside the target.
 */
static void every_format(void **state)
{
	struct env *e = *state;
	pixman_image_t *target = target_create(16, 10);
	for (size_t f = 0; f < sizeof(formats) / sizeof(formats[0]); f++) {
		const struct format *fmt = &formats[f];
		for (int layout = 0; layout < NLAYOUTS; layout++) {
			for (int source = ALLOCATED; source <= IMPORTED; source++) {
				print_message("%s, %s rows, %s\n", fmt->name, layout_names[layout],
					source == ALLOCATED ? "allocated" : "imported");
				size_t first = e->npics;
				uint32_t width = layout == ALIGNED ? 8 : fmt->odd_width;
				uint32_t row = width * fmt->bpp / 8;
				uint32_t stride = layout == ALIGNED ? ((row + 3) & ~3u) + 8 : row;
				uint32_t offset = layout == OFFSET ? fmt->odd_offset : 0;
				const struct pic *bg = background(e, 16, 10);
				const struct pic *pic = pic_add(e, source, fmt->fourcc, width, 6,
					stride, offset);
				bool direct = layout == ALIGNED || (stride % 4 == 0 && offset == 0);
				assert_int_equal(pic->fb->image_is_copy, !direct);
				struct dmab_layer layers[] = {
					at(bg, 0, 0),
					{ .fb = pic->fb, .src = { 1, 1, width - 1, 5 },
						.dst = { 3, 4, width - 1, 5 } },
				};
				assert_int_equal(dmab_compose(target, layers, 2, true), 0);
				check_target(e, target, NULL, layers, 2);
				/* Composed on black. */
				assert_int_equal(dmab_compose(target, &layers[1], 1, true), 0);
				check_target(e, target, NULL, &layers[1], 1);
				while (e->npics > first) {
					struct pic *p = &e->pics[--e->npics];
					dmab_ofb_drop(p->fb);
					dmab_obuf_destroy(p->buf);
					free(p->bytes);
				}
			}
		}
	}
	pixman_image_unref(target);
}

/* A framebuffer pixman reads through a copy: the copy follows the buffer. */
static void copy_follows_buffer(void **state)
{
	struct env *e = *state;
	pixman_image_t *target = target_create(8, 4);
	struct pic *pic = pic_add(e, ALLOCATED, DRM_FORMAT_RGB888, 3, 2, 9, 1);
	assert_true(pic->fb->image_is_copy);
	struct dmab_layer layer = at(pic, 2, 1);
	dmab_compose(target, &layer, 1, true);
	check_target(e, target, NULL, &layer, 1);
	for (size_t i = 0; i < pic->size; i++)
		pic->bytes[i] = (uint8_t)~pic->bytes[i];
	memcpy(pic->buf->cpu, pic->bytes, pic->size);
	dmab_compose(target, &layer, 1, true);
	check_target(e, target, NULL, &layer, 1);
	pixman_image_unref(target);
}

/* Layers over one another, translucent ones included, bottom to top. */
static void overlapping_layers(void **state)
{
	struct env *e = *state;
	pixman_image_t *target = target_create(16, 10);
	const struct pic *bg = background(e, 16, 10);
	const struct pic *a = pic_add(e, ALLOCATED, DRM_FORMAT_ARGB8888, 8, 5, 32, 0);
	const struct pic *b = pic_add(e, IMPORTED, DRM_FORMAT_ARGB4444, 7, 6, 14, 0);
	const struct pic *c = pic_add(e, ALLOCATED, DRM_FORMAT_ARGB1555, 5, 7, 10, 2);
	const struct pic *d = pic_add(e, IMPORTED, DRM_FORMAT_RGB565, 6, 4, 12, 0);
	const struct pic *y = pic_add(e, ALLOCATED, DRM_FORMAT_YUYV, 4, 3, 8, 0);
	struct dmab_layer layers[] = {
		at(bg, 0, 0), at(y, 0, 7), at(a, 1, 1), at(b, 4, 2), at(c, 6, 0), at(d, 10, 6),
	};
	size_t n = sizeof(layers) / sizeof(layers[0]);
	assert_int_equal(dmab_compose(target, layers, n, true), 0);
	check_target(e, target, NULL, layers, n);

	/* The other way round: another picture, as the reference says. */
	struct dmab_layer reversed[sizeof(layers) / sizeof(layers[0])];
	for (size_t i = 0; i < n; i++)
		reversed[i] = layers[n - 1 - i];
	assert_int_equal(dmab_compose(target, reversed, n, true), 0);
	check_target(e, target, NULL, reversed, n);
	pixman_image_unref(target);
}

/* Without clearing, the layers go over what the target held. */
static void over_what_was_there(void **state)
{
	struct env *e = *state;
	pixman_image_t *target = target_create(9, 7);
	struct rgb below[9 * 7];
	uint32_t *data = pixman_image_get_data(target);
	int stride = pixman_image_get_stride(target) / 4;
	for (int y = 0; y < 7; y++) {
		for (int x = 0; x < 9; x++) {
			uint32_t p = next_random(&e->seed) & 0xffffff;
			data[y * stride + x] = p;
			below[y * 9 + x] = (struct rgb){ (int)(p >> 16), (int)(p >> 8) & 255,
				(int)p & 255 };
		}
	}
	const struct pic *a = pic_add(e, IMPORTED, DRM_FORMAT_ARGB8888, 5, 5, 20, 0);
	struct dmab_layer layer = at(a, 3, 1);
	assert_int_equal(dmab_compose(target, &layer, 1, false), 0);
	check_target(e, target, below, &layer, 1);
	pixman_image_unref(target);
}

/* A backend that takes every dma-buf for scanout, as a KMS device would. */
struct importer {
	struct dmab_backend base;
	unsigned int imported;
};

struct import_addon {
	struct dmab_addon base;
	struct importer *importer;
};

static void handle_import_addon_destroy(struct dmab_addon *addon)
{
	struct import_addon *a = wl_container_of(addon, a, base);
	a->importer->imported--;
	free(a);
}

static int importer_start(struct dmab_backend *backend)
{
	return 0;       /* no screens: it only imports */
}

static void importer_destroy(struct dmab_backend *backend)
{
	struct importer *im = wl_container_of(backend, im, base);
	assert_int_equal(im->imported, 0);
	dmab_backend_finish(backend);
	free(im);
}

static int importer_import(struct dmab_backend *backend, struct dmab_obuf *buf)
{
	struct importer *im = wl_container_of(backend, im, base);
	struct import_addon *a = calloc(1, sizeof(*a));
	assert_non_null(a);
	a->importer = im;
	dmab_addon_add(&buf->addons, &a->base, im, handle_import_addon_destroy);
	im->imported++;
	return 0;
}

static const struct dmab_backend_impl importer_impl = {
	.type = "importer",
	.start = importer_start,
	.destroy = importer_destroy,
	.import = importer_import,
};

/*
 * A buffer without a CPU mapping (a dma-buf that cannot be mapped): shown
 * by a backend that imports it, left out of composition, and counted.
 */
static void unmapped_layer(void **state)
{
	struct env *e = *state;
	int memfd = memfd_create("test-compose-unmapped", MFD_CLOEXEC);
	assert_true(memfd >= 0);
	assert_int_equal(ftruncate(memfd, 4096), 0);
	/* Writable only: mapping it for reading is refused. */
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	close(memfd);

	/* Nobody can use it. */
	struct dmab_obuf *buf = NULL;
	assert_int_equal(dmab_obuf_import(e->output, fd, 4096, &buf), -EOPNOTSUPP);

	struct importer *im = calloc(1, sizeof(*im));
	assert_non_null(im);
	dmab_backend_init(&im->base, &importer_impl, "importer");
	assert_int_equal(dmab_output_add_backend(e->output, &im->base), 0);
	assert_int_equal(dmab_obuf_import(e->output, fd, 4096, &buf), 0);
	close(fd);
	assert_null(buf->cpu);
	assert_int_equal(im->imported, 1);
	struct dmab_ofb *fb;
	assert_int_equal(dmab_ofb_create(buf, 16, 16, DRM_FORMAT_XRGB8888, 0, 64, &fb), 0);
	assert_null(dmab_ofb_read_image(fb));

	pixman_image_t *target = target_create(20, 20);
	const struct pic *bg = background(e, 20, 20);
	const struct pic *top = pic_add(e, ALLOCATED, DRM_FORMAT_ARGB8888, 6, 6, 24, 0);
	struct dmab_layer layers[] = {
		at(bg, 0, 0),
		{ .fb = fb, .src = { 0, 0, 16, 16 }, .dst = { 2, 2, 16, 16 } },
		at(top, 10, 10),
	};
	assert_int_equal(dmab_compose(target, layers, 3, true), 1);
	check_target(e, target, NULL, layers, 3);
	pixman_image_unref(target);
	dmab_ofb_drop(fb);
	dmab_obuf_destroy(buf);
	assert_int_equal(im->imported, 0);
}

/*
 * A headless screen holds what it shows, as a display that scans out by
 * DMA: it takes a buffer it cannot map (a gntdev dma-buf on arm64), which
 * is then shown without a copy but never read.
 */
static void headless_takes_unmapped(void **state)
{
	struct env *e = *state;
	const struct dmab_headless_screen_config config = {
		.name = "main", .width = 64, .height = 48,
	};
	struct dmab_backend *headless = dmab_headless_create(&config, 1);
	assert_non_null(headless);
	assert_int_equal(dmab_output_add_backend(e->output, headless), 0);
	int memfd = memfd_create("test-compose-unmapped", MFD_CLOEXEC);
	assert_true(memfd >= 0);
	assert_int_equal(ftruncate(memfd, 4096), 0);
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	close(memfd);
	struct dmab_obuf *buf = NULL;
	assert_int_equal(dmab_obuf_import(e->output, fd, 4096, &buf), 0);
	close(fd);
	assert_null(buf->cpu);
	dmab_obuf_destroy(buf);
}

static int unmaps;

static void count_unmap(void *data, void *cpu)
{
	unmaps++;
	assert_int_equal(munmap(cpu, 4096), 0);
}

/*
 * Its importer maps such a buffer's memory for reading (Xen: the guest's
 * grants): composition reads it from then on, and the mapping goes with
 * the buffer, after the last framebuffer on it.
 */
static void importer_maps_unmapped(void **state)
{
	struct env *e = *state;
	const struct dmab_headless_screen_config config = {
		.name = "main", .width = 64, .height = 48,
	};
	struct dmab_backend *headless = dmab_headless_create(&config, 1);
	assert_non_null(headless);
	assert_int_equal(dmab_output_add_backend(e->output, headless), 0);
	int memfd = memfd_create("test-compose-importer", MFD_CLOEXEC);
	assert_true(memfd >= 0);
	assert_int_equal(ftruncate(memfd, 4096), 0);
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	struct dmab_obuf *buf = NULL;
	assert_int_equal(dmab_obuf_import(e->output, fd, 4096, &buf), 0);
	close(fd);
	assert_null(buf->cpu);
	uint32_t *cpu = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	assert_true(cpu != MAP_FAILED);
	close(memfd);
	for (int i = 0; i < 32 * 32; i++)
		cpu[i] = 0x00ff8040;
	unmaps = 0;
	assert_int_equal(dmab_obuf_set_cpu(buf, cpu, count_unmap, NULL), 0);
	assert_int_equal(dmab_obuf_set_cpu(buf, cpu, count_unmap, NULL), -EBUSY);
	assert_false(buf->cpu_writable);
	struct dmab_ofb *fb = NULL;
	assert_int_equal(dmab_ofb_create(buf, 32, 32, DRM_FORMAT_XRGB8888, 0, 128, &fb), 0);
	assert_non_null(fb->image);
	/* Composed from it. */
	pixman_image_t *dst = pixman_image_create_bits(PIXMAN_x8r8g8b8, 32, 32, NULL, 0);
	struct dmab_layer layer = { .fb = fb, .src = { 0, 0, 32, 32 }, .dst = { 0, 0, 32, 32 } };
	dmab_compose(dst, &layer, 1, true);
	assert_int_equal(pixman_image_get_data(dst)[5 * 32 + 7] & 0xffffff, 0xff8040);
	pixman_image_unref(dst);
	/* A capture reads the importer's mapping, the framebuffer locked meanwhile. */
	struct dmab_capture *capture = NULL;
	assert_int_equal(dmab_ofb_capture(fb, &capture), 0);
	assert_ptr_equal(capture->layers[0].cpu, cpu);
	assert_int_equal(capture->layers[0].fd, -1);
	assert_true(dmab_capture_holds(capture));
	assert_int_equal(fb->locks, 1);
	dmab_capture_destroy(capture);
	assert_int_equal(fb->locks, 0);
	/* Let go of while a framebuffer is on it: unmapped with the framebuffer. */
	dmab_obuf_destroy(buf);
	assert_int_equal(unmaps, 0);
	dmab_ofb_drop(fb);
	assert_int_equal(unmaps, 1);
}

/*
 * A buffer said to be larger than its memory: refused, since reading the
 * mapping past the memory's end would kill the process (SIGBUS).
 */
static void import_larger_than_memory(void **state)
{
	struct env *e = *state;
	int fd = memfd_create("test-compose-short", MFD_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 4096), 0);
	assert_int_equal(write(fd, "x", 1), 1);
	struct dmab_obuf *buf = NULL;
	assert_int_equal(dmab_obuf_import(e->output, fd, 3 * 4096, &buf), -EINVAL);
	assert_null(buf);
	/* The caller's file offset is its own. */
	assert_int_equal(lseek(fd, 0, SEEK_CUR), 1);
	assert_int_equal(dmab_obuf_import(e->output, fd, 4096, &buf), 0);
	assert_int_equal(lseek(fd, 0, SEEK_CUR), 1);
	dmab_obuf_destroy(buf);
	close(fd);
}

/* ---- composed by a screen ---- */

struct placed {
	const struct pic *pic;
	struct dmab_view_place place;
	uint32_t width, height;         /* the view */
	struct dmab_rect src;
	int32_t dx, dy;
};

/*
 * What a screen of width x height shows of views, bottom to top, worked
 * out here pixel by pixel from their geometry: each screen pixel inside
 * the view and inside the content placed in it shows the content's pixel.
 */
static void check_screen(const struct env *e, pixman_image_t *target, const struct placed *v,
		size_t n)
{
	int width = pixman_image_get_width(target), height = pixman_image_get_height(target);
	for (int y = 0; y < height; y++) {
		for (int x = 0; x < width; x++) {
			struct rgb d = { 0 };
			for (size_t i = 0; i < n; i++) {
				int64_t vx = (int64_t)x - v[i].place.x;
				int64_t vy = (int64_t)y - v[i].place.y;
				int64_t cx = vx - v[i].dx, cy = vy - v[i].dy;
				if (vx < 0 || vy < 0 || vx >= v[i].width || vy >= v[i].height ||
						cx < 0 || cy < 0 || cx >= v[i].src.width ||
						cy >= v[i].src.height)
					continue;
				const struct dmab_ofb *fb = v[i].pic->fb;
				int a;
				struct rgb s = decode(fb->fourcc, v[i].pic->bytes + fb->offset +
					(size_t)(v[i].src.y + cy) * fb->stride,
					(uint32_t)(v[i].src.x + cx), &a);
				d = (struct rgb){ over(s.r, a, d.r), over(s.g, a, d.g),
					over(s.b, a, d.b) };
			}
			struct rgb got = target_pixel(target, x, y);
			if (got.r != d.r || got.g != d.g || got.b != d.b)
				fail_msg("screen (%d,%d): %02x%02x%02x, want %02x%02x%02x", x, y,
					got.r, got.g, got.b, d.r, d.g, d.b);
		}
	}
}

/*
 * Views partly off screen on a headless screen with one plane: the screen
 * clips them and composes them into one target, which shows what they
 * show where they are.
 */
static void composed_by_screen(void **state)
{
	struct env *e = *state;
	const struct dmab_headless_screen_config config = {
		.name = "main", .width = 64, .height = 48, .planes = 1,
	};
	struct dmab_backend *headless = dmab_headless_create(&config, 1);
	assert_non_null(headless);
	assert_int_equal(dmab_output_add_backend(e->output, headless), 0);
	struct dmab_screen *screen = dmab_output_find_screen(e->output, "main");
	assert_non_null(screen);

	const struct pic *a = pic_add(e, ALLOCATED, DRM_FORMAT_XRGB8888, 40, 30, 160, 0);
	const struct pic *b = pic_add(e, IMPORTED, DRM_FORMAT_ARGB8888, 30, 20, 120, 0);
	const struct pic *c = pic_add(e, ALLOCATED, DRM_FORMAT_RGB565, 5, 7, 10, 0);
	const struct pic *d = pic_add(e, IMPORTED, DRM_FORMAT_ARGB4444, 20, 20, 40, 0);
	const struct placed views[] = {
		/* Off the top-left. */
		{ a, { "main", -10, -5, 0, true, 0, 0 }, 40, 30, { 0, 0, 40, 30 }, 0, 0 },
		/* Off the bottom-right. */
		{ b, { "main", 50, 40, 1, true, 0, 0 }, 30, 20, { 0, 0, 30, 20 }, 0, 0 },
		/* Off the left and bottom, placed inside its view. */
		{ c, { "main", -3, 44, 2, true, 0, 0 }, 10, 10, { 0, 0, 5, 7 }, 2, 1 },
		/* Content larger than its view, part of it, shifted up-left. */
		{ d, { "main", 20, 10, 3, true, 0, 0 }, 12, 8, { 3, 2, 17, 18 }, -4, -2 },
	};
	size_t n = sizeof(views) / sizeof(views[0]);
	struct dmab_view *v[sizeof(views) / sizeof(views[0])];
	for (size_t i = 0; i < n; i++) {
		v[i] = dmab_view_create(e->output, views[i].width, views[i].height,
			&views[i].place);
		assert_non_null(v[i]);
		dmab_view_attach(v[i], &(struct dmab_view_content){ .fb = views[i].pic->fb,
			.src = views[i].src, .dx = views[i].dx, .dy = views[i].dy });
	}
	assert_int_equal(wl_event_loop_dispatch(e->loop, 0), 0);
	assert_int_equal(screen->composed, 1);
	/* A slow run (valgrind) may see the vblank in the same dispatch: queued or shown. */
	struct dmab_ofb *composed = screen->target_queued ? screen->target_queued :
		screen->target_current;
	assert_non_null(composed);
	pixman_image_t *target = dmab_ofb_read_image(composed);
	assert_int_equal(pixman_image_get_width(target), 64);
	assert_int_equal(pixman_image_get_height(target), 48);
	check_screen(e, target, views, n);
	for (size_t i = 0; i < n; i++)
		dmab_view_destroy(v[i]);
}

/* A view that flips to its other picture each time the last one is on screen. */
struct flipper {
	struct wl_listener present;
	struct dmab_view *view;
	const struct pic *pics[2];
	unsigned int shown;
	uint64_t first_ns, last_ns;
	bool off_timeline;
};

static void handle_flipper_present(struct wl_listener *listener, void *data)
{
	struct flipper *f = wl_container_of(listener, f, present);
	const struct dmab_view_present_event *event = data;
	if (!event->shown)
		return;
	if (f->shown == 0)
		f->first_ns = event->when_ns;
	/* Refreshes are on the ideal timeline: whole periods apart. */
	else if ((event->when_ns - f->first_ns) % 16666666u)
		f->off_timeline = true;
	f->last_ns = event->when_ns;
	f->shown++;
	const struct pic *next = f->pics[f->shown % 2];
	dmab_view_attach(f->view, &(struct dmab_view_content){ .fb = next->fb,
		.src = { 0, 0, next->fb->width, next->fb->height } });
}

/* Dispatch the loop for ms. */
static void run_loop_for(struct env *e, int ms)
{
	uint64_t end = dmab_now_ns() + (uint64_t)ms * 1000000u;
	for (uint64_t now = dmab_now_ns(); now < end; now = dmab_now_ns())
		assert_int_equal(wl_event_loop_dispatch(e->loop, (int)((end - now) / 1000000u) + 1),
			0);
}

/*
 * A guest flipping as fast as the screen shows: the headless screen's
 * refresh timer is set at the start of the stream and keeps running,
 * rather than set for every frame, and the frames go out on its timeline.
 * When the stream stops, one refresh finds nothing and stops the timer.
 * A slower guest's frames each set it for one refresh: the screen never
 * wakes without a frame for it.
 */
static void refresh_timer_follows_the_frames(void **state)
{
	struct env *e = *state;
	const struct dmab_headless_screen_config config = {
		.name = "main", .width = 64, .height = 48, .refresh_mhz = 60000,
	};
	struct dmab_backend *headless = dmab_headless_create(&config, 1);
	assert_non_null(headless);
	assert_int_equal(dmab_output_add_backend(e->output, headless), 0);
	struct dmab_screen *screen = dmab_output_find_screen(e->output, "main");
	assert_non_null(screen);
	struct flipper f = { .pics = { background(e, 64, 48), background(e, 64, 48) } };
	f.view = dmab_view_create(e->output, 64, 48, &(struct dmab_view_place){
		.screen = "main", .visible = true });
	assert_non_null(f.view);
	f.present.notify = handle_flipper_present;
	wl_signal_add(&f.view->events.present, &f.present);
	dmab_view_attach(f.view, &(struct dmab_view_content){ .fb = f.pics[0]->fb,
		.src = { 0, 0, 64, 48 } });
	uint64_t end = dmab_now_ns() + 2000000000u;
	while (f.shown < 20 && dmab_now_ns() < end)
		assert_int_equal(wl_event_loop_dispatch(e->loop, 100), 0);
	assert_true(f.shown >= 20);
	assert_false(f.off_timeline);
	struct dmab_headless_screen_stats st;
	dmab_headless_screen_stats(screen, &st);
	/* Once for the first frame, once for the stream; a loop late by a refresh (valgrind) may add. */
	assert_true(st.timer_starts >= 1 && st.timer_starts <= 4);

	/* The stream stops: one refresh finds nothing, and that is the last. */
	wl_list_remove(&f.present.link);
	run_loop_for(e, 120);
	struct dmab_headless_screen_stats after;
	dmab_headless_screen_stats(screen, &after);
	assert_int_equal(after.idle_refreshes, st.idle_refreshes + 1);
	assert_int_equal(after.timer_starts, st.timer_starts);

	/* A frame every third refresh or so: one timer set each, no refresh without a frame. */
	for (unsigned int i = 0; i < 4; i++) {
		dmab_view_attach(f.view, &(struct dmab_view_content){ .fb = f.pics[i % 2]->fb,
			.src = { 0, 0, 64, 48 } });
		run_loop_for(e, 50);
	}
	dmab_headless_screen_stats(screen, &st);
	assert_int_equal(st.timer_starts, after.timer_starts + 4);
	assert_int_equal(st.idle_refreshes, after.idle_refreshes);
	dmab_view_destroy(f.view);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(every_format, setup, teardown),
		cmocka_unit_test_setup_teardown(copy_follows_buffer, setup, teardown),
		cmocka_unit_test_setup_teardown(overlapping_layers, setup, teardown),
		cmocka_unit_test_setup_teardown(over_what_was_there, setup, teardown),
		cmocka_unit_test_setup_teardown(unmapped_layer, setup, teardown),
		cmocka_unit_test_setup_teardown(headless_takes_unmapped, setup, teardown),
		cmocka_unit_test_setup_teardown(importer_maps_unmapped, setup, teardown),
		cmocka_unit_test_setup_teardown(import_larger_than_memory, setup, teardown),
		cmocka_unit_test_setup_teardown(composed_by_screen, setup, teardown),
		cmocka_unit_test_setup_teardown(refresh_timer_follows_the_frames, setup, teardown),
	};
	dmab_log_init(DMAB_LOG_WARN, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
