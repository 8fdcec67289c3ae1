// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <drm_fourcc.h>
#include <pixman.h>
#include <png.h>

#include "client/tools/render.h"
#include "common/pixman-format.h"

static uint8_t clamp8(int v)
{
	return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)v;
}

/* BT.601 limited range; the offsets keep the shifted values non-negative. */
static void rgb_to_yuv(uint32_t p, int *y, int *u, int *v)
{
	int r = (p >> 16) & 0xff, g = (p >> 8) & 0xff, b = p & 0xff;
	*y = ((66 * r + 129 * g + 25 * b + 128) >> 8) + 16;
	*u = (-38 * r - 74 * g + 112 * b + 128 + (128 << 8)) >> 8;
	*v = (112 * r - 94 * g - 18 * b + 128 + (128 << 8)) >> 8;
}

static void convert_yuyv(const uint32_t *src, uint32_t src_stride, uint32_t width,
		uint32_t height, uint8_t *dst, uint32_t dst_stride)
{
	for (uint32_t row = 0; row < height; row++) {
		const uint32_t *s = (const uint32_t *)((const uint8_t *)src + (size_t)row * src_stride);
		uint8_t *d = dst + (size_t)row * dst_stride;
		for (uint32_t x = 0; x + 1 < width; x += 2) {
			int y0, u0, v0, y1, u1, v1;
			rgb_to_yuv(s[x], &y0, &u0, &v0);
			rgb_to_yuv(s[x + 1], &y1, &u1, &v1);
			d[2 * x + 0] = clamp8(y0);
			d[2 * x + 1] = clamp8((u0 + u1 + 1) / 2);
			d[2 * x + 2] = clamp8(y1);
			d[2 * x + 3] = clamp8((v0 + v1 + 1) / 2);
		}
	}
}

int dmab_render_convert(const uint32_t *src, uint32_t src_stride,
		uint32_t width, uint32_t height, void *dst, uint32_t dst_stride,
		uint32_t fourcc)
{
	if (fourcc == DRM_FORMAT_YUYV) {
		convert_yuyv(src, src_stride, width, height, dst, dst_stride);
		return 0;
	}
	pixman_format_code_t format = dmab_pixman_format(fourcc);
	if (!format)
		return -EINVAL;

	if (fourcc == DRM_FORMAT_XRGB8888 || fourcc == DRM_FORMAT_ARGB8888) {
		for (uint32_t y = 0; y < height; y++) {
			const uint32_t *s = (const uint32_t *)((const uint8_t *)src + (size_t)y * src_stride);
			uint32_t *d = (uint32_t *)((uint8_t *)dst + (size_t)y * dst_stride);
			for (uint32_t x = 0; x < width; x++)
				d[x] = s[x] | 0xff000000u;
		}
		return 0;
	}

	/* pixman wants rows of whole 32-bit words; packed rows may not be. */
	uint32_t bpp = PIXMAN_FORMAT_BPP(format);
	uint32_t row = (uint32_t)(((uint64_t)width * bpp + 7) / 8);
	bool direct = dst_stride % 4 == 0 && ((uintptr_t)dst & 3) == 0;
	uint32_t stride = direct ? dst_stride : (row + 3) & ~3u;
	void *bits = direct ? dst : malloc((size_t)stride * height);
	if (!bits)
		return -ENOMEM;

	int ret = -ENOMEM;
	pixman_image_t *s = pixman_image_create_bits(PIXMAN_x8r8g8b8, (int)width,
		(int)height, (uint32_t *)src, (int)src_stride);
	pixman_image_t *d = pixman_image_create_bits(format, (int)width, (int)height,
		bits, (int)stride);
	if (s && d) {
		pixman_image_composite32(PIXMAN_OP_SRC, s, NULL, d, 0, 0, 0, 0, 0, 0,
			(int)width, (int)height);
		ret = 0;
	}
	if (s)
		pixman_image_unref(s);
	if (d)
		pixman_image_unref(d);

	if (!direct) {
		for (uint32_t y = 0; ret == 0 && y < height; y++)
			memcpy((uint8_t *)dst + (size_t)y * dst_stride,
				(uint8_t *)bits + (size_t)y * stride, row);
		free(bits);
	}
	return ret;
}

void dmab_render_center(const uint32_t *src, uint32_t src_stride,
		uint32_t src_width, uint32_t src_height, uint32_t *dst,
		uint32_t dst_stride, uint32_t dst_width, uint32_t dst_height)
{
	/* Offsets of the overlap in each picture. */
	uint32_t w = src_width < dst_width ? src_width : dst_width;
	uint32_t h = src_height < dst_height ? src_height : dst_height;
	uint32_t sx = (src_width - w) / 2, sy = (src_height - h) / 2;
	uint32_t dx = (dst_width - w) / 2, dy = (dst_height - h) / 2;

	for (uint32_t y = 0; y < dst_height; y++) {
		uint32_t *d = (uint32_t *)((uint8_t *)dst + (size_t)y * dst_stride);
		if (y < dy || y >= dy + h) {
			memset(d, 0, (size_t)dst_width * 4);
			continue;
		}
		const uint32_t *s = (const uint32_t *)((const uint8_t *)src +
			(size_t)(y - dy + sy) * src_stride);
		memset(d, 0, (size_t)dx * 4);
		for (uint32_t x = 0; x < w; x++)
			d[dx + x] = s[sx + x] | 0xff000000u;
		memset(d + dx + w, 0, (size_t)(dst_width - dx - w) * 4);
	}
}

int dmab_render_load_png(const char *path, uint32_t **pixels, uint32_t *width,
		uint32_t *height)
{
	png_image image;
	memset(&image, 0, sizeof(image));
	image.version = PNG_IMAGE_VERSION;

	FILE *f = fopen(path, "rb");
	if (!f)
		return -errno;
	if (!png_image_begin_read_from_stdio(&image, f)) {
		fprintf(stderr, "%s: %s\n", path, image.message);
		fclose(f);
		return -EINVAL;
	}
	/* B, G, R, A octets: a little-endian ARGB word, alpha not premultiplied. */
	image.format = PNG_FORMAT_BGRA;
	size_t size = PNG_IMAGE_SIZE(image);
	uint32_t *data = malloc(size);
	if (!data) {
		png_image_free(&image);
		fclose(f);
		return -ENOMEM;
	}
	if (!png_image_finish_read(&image, NULL, data, 0, NULL)) {
		fprintf(stderr, "%s: %s\n", path, image.message);
		free(data);
		fclose(f);
		return -EINVAL;
	}
	fclose(f);

	for (size_t i = 0; i < (size_t)image.width * image.height; i++) {
		uint32_t p = data[i], a = p >> 24;
		uint32_t r = ((p >> 16 & 0xff) * a + 127) / 255;
		uint32_t g = ((p >> 8 & 0xff) * a + 127) / 255;
		uint32_t b = ((p & 0xff) * a + 127) / 255;
		data[i] = 0xff000000u | r << 16 | g << 8 | b;
	}
	*pixels = data;
	*width = image.width;
	*height = image.height;
	return 0;
}
