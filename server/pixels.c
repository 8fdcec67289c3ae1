// SPDX-License-Identifier: MIT
#include <errno.h>
#include <png.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <drm_fourcc.h>

#include "common/pixman-format.h"
#include "protocol/format.h"
#include "server/pixels.h"

static void free_copy(pixman_image_t *image, void *data)
{
	free(data);
}

pixman_image_t *dmab_pixels_image(const void *data, uint32_t width, uint32_t height,
		uint32_t stride, uint32_t fourcc)
{
	pixman_format_code_t format = dmab_pixman_format(fourcc);
	const struct dmab_format *fmt = dmab_format_lookup(fourcc);
	if (!format || !fmt || width == 0 || height == 0 || width > INT32_MAX ||
			height > INT32_MAX)
		return NULL;
	/* pixman only reads 32-bit aligned rows; it never writes to a source. */
	if ((uintptr_t)data % 4 == 0 && stride % 4 == 0 && stride <= INT32_MAX)
		return pixman_image_create_bits(format, (int)width, (int)height,
			(uint32_t *)(uintptr_t)data, (int)stride);

	/* Packed rows, as some guests make them: an aligned copy. */
	uint64_t row = dmab_row_bytes(width, fmt->bpp);
	uint64_t aligned = (row + 3) & ~(uint64_t)3;
	if (aligned > INT32_MAX || aligned * height > SIZE_MAX)
		return NULL;
	uint8_t *copy = malloc((size_t)(aligned * height));
	if (!copy)
		return NULL;
	for (uint32_t y = 0; y < height; y++)
		memcpy(copy + (size_t)y * aligned, (const uint8_t *)data + (size_t)y * stride,
			(size_t)row);
	pixman_image_t *image = pixman_image_create_bits(format, (int)width, (int)height,
		(uint32_t *)(void *)copy, (int)aligned);
	if (!image) {
		free(copy);
		return NULL;
	}
	pixman_image_set_destroy_function(image, free_copy, copy);
	return image;
}

pixman_image_t *dmab_pixels_to_argb(const void *data, uint32_t width, uint32_t height,
		uint32_t stride, uint32_t fourcc)
{
	pixman_image_t *src = dmab_pixels_image(data, width, height, stride, fourcc);
	if (!src)
		return NULL;
	pixman_image_t *dst = pixman_image_create_bits(PIXMAN_a8r8g8b8, (int)width,
		(int)height, NULL, 0);
	if (dst)
		pixman_image_composite32(PIXMAN_OP_SRC, src, NULL, dst, 0, 0, 0, 0, 0, 0,
			(int32_t)width, (int32_t)height);
	pixman_image_unref(src);
	return dst;
}

/* Octets libpng gathers before it hands a chunk to the write function. */
#define PNG_CHUNK (64 * 1024)

struct dmab_png {
	png_structp png;
	png_infop info;
	uint32_t width, height, rows;
	dmab_png_write_fn write;
	void *data;
	int err;                /* what the write function said, for after the longjmp */
};

static void handle_png_write(png_structp png, png_bytep buf, png_size_t len)
{
	struct dmab_png *p = png_get_io_ptr(png);
	int ret = p->write(p->data, buf, len);
	if (ret) {
		p->err = ret;
		png_error(png, "write");
	}
}

static void handle_png_flush(png_structp png)
{
}

static void handle_png_error(png_structp png, png_const_charp msg)
{
	png_longjmp(png, 1);
}

static void handle_png_warning(png_structp png, png_const_charp msg)
{
}

void dmab_png_destroy(struct dmab_png *p)
{
	if (!p)
		return;
	png_destroy_write_struct(&p->png, &p->info);
	free(p);
}

int dmab_png_begin(uint32_t width, uint32_t height, dmab_png_write_fn write, void *data,
		struct dmab_png **out)
{
	if (width == 0 || height == 0 || width > PNG_USER_WIDTH_MAX || height > PNG_USER_HEIGHT_MAX)
		return -EINVAL;
	struct dmab_png *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	*p = (struct dmab_png){ .width = width, .height = height, .write = write, .data = data };
	p->png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, handle_png_error,
		handle_png_warning);
	p->info = p->png ? png_create_info_struct(p->png) : NULL;
	if (!p->info) {
		dmab_png_destroy(p);
		return -ENOMEM;
	}
	if (setjmp(png_jmpbuf(p->png))) {
		int err = p->err ? p->err : -EIO;
		dmab_png_destroy(p);
		return err;
	}
	png_set_write_fn(p->png, p, handle_png_write, handle_png_flush);
	png_set_compression_buffer_size(p->png, PNG_CHUNK);
	/*
	 * Screenshots are for looking at now: a fast setting, and the one
	 * filter that does most for screen contents, instead of trying all.
	 */
	png_set_compression_level(p->png, 3);
	png_set_filter(p->png, PNG_FILTER_TYPE_BASE, PNG_FILTER_SUB);
	png_set_IHDR(p->png, p->info, width, height, 8, PNG_COLOR_TYPE_RGB_ALPHA,
		PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(p->png, p->info);
	/* a8r8g8b8 words are B, G, R, A in memory on little-endian hosts, A, R, G, B on others. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	png_set_bgr(p->png);
#else
	png_set_swap_alpha(p->png);
#endif
	*out = p;
	return 0;
}

int dmab_png_rows(struct dmab_png *p, pixman_image_t *rows)
{
	if (pixman_image_get_format(rows) != PIXMAN_a8r8g8b8 ||
			(uint32_t)pixman_image_get_width(rows) != p->width ||
			(uint32_t)pixman_image_get_height(rows) > p->height - p->rows)
		return -EINVAL;
	const uint8_t *pixels = (const uint8_t *)pixman_image_get_data(rows);
	size_t stride = (size_t)pixman_image_get_stride(rows);
	uint32_t n = (uint32_t)pixman_image_get_height(rows);
	if (setjmp(png_jmpbuf(p->png)))
		return p->err ? p->err : -EIO;
	for (uint32_t y = 0; y < n; y++)
		png_write_row(p->png, (png_const_bytep)(pixels + y * stride));
	p->rows += n;
	return 0;
}

int dmab_png_end(struct dmab_png *p)
{
	int ret = -EINVAL;
	if (p->rows == p->height) {
		if (setjmp(png_jmpbuf(p->png))) {
			ret = p->err ? p->err : -EIO;
			goto out;
		}
		png_write_end(p->png, NULL);
		ret = 0;
	}
out:
	dmab_png_destroy(p);
	return ret;
}

static int write_fd(void *data, const void *buf, size_t len)
{
	int fd = *(int *)data;
	while (len) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		buf = (const uint8_t *)buf + n;
		len -= (size_t)n;
	}
	return 0;
}

int dmab_png_write(int fd, pixman_image_t *image)
{
	pixman_image_t *argb = image;
	int width = pixman_image_get_width(image);
	int height = pixman_image_get_height(image);
	if (pixman_image_get_format(image) != PIXMAN_a8r8g8b8) {
		argb = pixman_image_create_bits(PIXMAN_a8r8g8b8, width, height, NULL, 0);
		if (!argb)
			return -ENOMEM;
		pixman_image_composite32(PIXMAN_OP_SRC, image, NULL, argb, 0, 0, 0, 0, 0, 0,
			width, height);
	}
	struct dmab_png *png;
	int ret = dmab_png_begin((uint32_t)width, (uint32_t)height, write_fd, &fd, &png);
	if (ret == 0) {
		ret = dmab_png_rows(png, argb);
		if (ret == 0)
			ret = dmab_png_end(png);
		else
			dmab_png_destroy(png);
	}
	if (argb != image)
		pixman_image_unref(argb);
	return ret;
}
