/* SPDX-License-Identifier: MIT */
/* Guest pixels on the CPU: format mapping, conversion, screenshots. */
#ifndef DMAB_SERVER_PIXELS_H
#define DMAB_SERVER_PIXELS_H

#include <stdint.h>
#include <pixman.h>

/**
 * An a8r8g8b8 copy of width x height pixels in fourcc at data, stride octets
 * apart (any alignment). NULL on failure. The caller unrefs it.
 */
pixman_image_t *dmab_pixels_to_argb(const void *data, uint32_t width, uint32_t height,
		uint32_t stride, uint32_t fourcc);

/** Write an image as PNG (8-bit RGBA) to fd (not closed). 0 or -errno. */
int dmab_png_write(int fd, pixman_image_t *image);

#endif
