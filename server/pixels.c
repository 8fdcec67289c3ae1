// SPDX-License-Identifier: MIT
#include <errno.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <drm_fourcc.h>

#include "common/pixman-format.h"
#include "protocol/format.h"
#include "server/pixels.h"

pixman_image_t *dmab_pixels_to_argb(const void *data, uint32_t width, uint32_t height,
		uint32_t stride, uint32_t fourcc)
{
	pixman_format_code_t format = dmab_pixman_format(fourcc);
	const struct dmab_format *fmt = dmab_format_lookup(fourcc);
	if (!format || !fmt || width == 0 || height == 0)
		return NULL;

	/* pixman wants 32-bit aligned rows: guests' packed rows may not be. */
	uint32_t row = (uint32_t)dmab_row_bytes(width, fmt->bpp);
	uint32_t aligned = (row + 3) & ~3u;
	uint8_t *copy = malloc((size_t)aligned * height);
	if (!copy)
		return NULL;
	for (uint32_t y = 0; y < height; y++)
		memcpy(copy + (size_t)y * aligned, (const uint8_t *)data + (size_t)y * stride, row);

	pixman_image_t *src = pixman_image_create_bits(format, (int)width, (int)height,
		(uint32_t *)(void *)copy, (int)aligned);
	pixman_image_t *dst = pixman_image_create_bits(PIXMAN_a8r8g8b8, (int)width,
		(int)height, NULL, 0);
	if (src && dst)
		pixman_image_composite32(PIXMAN_OP_SRC, src, NULL, dst, 0, 0, 0, 0, 0, 0,
			(int32_t)width, (int32_t)height);
	if (src)
		pixman_image_unref(src);
	free(copy);
	return dst;
}

int dmab_png_write(int fd, pixman_image_t *image)
{
	int width = pixman_image_get_width(image);
	int height = pixman_image_get_height(image);
	/* a8b8g8r8 is R, G, B, A in memory on little-endian hosts: PNG's order. */
	pixman_image_t *rgba = pixman_image_create_bits(PIXMAN_a8b8g8r8, width, height, NULL, 0);
	if (!rgba)
		return -ENOMEM;
	pixman_image_composite32(PIXMAN_OP_SRC, image, NULL, rgba, 0, 0, 0, 0, 0, 0, width, height);

	int ret = -EIO;
	int copy = dup(fd);
	FILE *f = copy >= 0 ? fdopen(copy, "wb") : NULL;
	if (!f) {
		if (copy >= 0)
			close(copy);
		pixman_image_unref(rgba);
		return -errno;
	}
	png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	png_infop info = png ? png_create_info_struct(png) : NULL;
	if (!info)
		goto out;
	if (setjmp(png_jmpbuf(png)))
		goto out;
	png_init_io(png, f);
	png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8,
		PNG_COLOR_TYPE_RGB_ALPHA, PNG_INTERLACE_NONE,
		PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(png, info);
	uint8_t *pixels = (uint8_t *)pixman_image_get_data(rgba);
	int stride = pixman_image_get_stride(rgba);
	for (int y = 0; y < height; y++)
		png_write_row(png, pixels + (size_t)y * (size_t)stride);
	png_write_end(png, NULL);
	ret = 0;
out:
	png_destroy_write_struct(&png, &info);
	if (fclose(f) != 0 && ret == 0)
		ret = -errno;
	pixman_image_unref(rgba);
	return ret;
}
