/* SPDX-License-Identifier: MIT */
/* Guest pixels on the CPU: format mapping, conversion, screenshots. */
#ifndef DMAB_SERVER_PIXELS_H
#define DMAB_SERVER_PIXELS_H

#include <stddef.h>
#include <stdint.h>
#include <pixman.h>

/**
 * A pixman image of width x height pixels in fourcc at data, stride octets
 * apart. pixman reads them where they are when it can (rows and data 32-bit
 * aligned): then data must outlive the image. Otherwise (packed rows of
 * some guests) the image holds an aligned copy of them. NULL for a format
 * pixman does not read, an empty size, or no memory. The caller unrefs it.
 */
pixman_image_t *dmab_pixels_image(const void *data, uint32_t width, uint32_t height,
		uint32_t stride, uint32_t fourcc);

/**
 * An a8r8g8b8 copy of width x height pixels in fourcc at data, stride octets
 * apart (any alignment). NULL on failure. The caller unrefs it.
 */
pixman_image_t *dmab_pixels_to_argb(const void *data, uint32_t width, uint32_t height,
		uint32_t stride, uint32_t fourcc);

/** Where an encoder's octets go: 0, or a negative errno that ends the encoding. */
typedef int (*dmab_png_write_fn)(void *data, const void *buf, size_t len);

struct dmab_png;

/**
 * Start a PNG (8-bit RGBA) of width x height pixels whose octets go to
 * write(data, ...) as they are made, so that no whole picture needs to be
 * held. 0 with *png set, or a negative errno.
 */
int dmab_png_begin(uint32_t width, uint32_t height, dmab_png_write_fn write, void *data,
		struct dmab_png **png);

/**
 * Append the rows of rows, an a8r8g8b8 image as wide as the PNG. 0, or the
 * negative errno of the write function or of libpng (-EIO). After an
 * error, only dmab_png_destroy() is left to do.
 */
int dmab_png_rows(struct dmab_png *png, pixman_image_t *rows);

/** Finish the PNG once every row is in, and free it. 0 or a negative errno. */
int dmab_png_end(struct dmab_png *png);

/** Free an unfinished PNG (after an error). NULL is a no-op. */
void dmab_png_destroy(struct dmab_png *png);

/** Write an image as PNG (8-bit RGBA) to fd (not closed). 0 or -errno. */
int dmab_png_write(int fd, pixman_image_t *image);

#endif
