/* SPDX-License-Identifier: MIT */
/*
 * dmabridge-play's pixels: every source is drawn as XRGB8888 first, then
 * converted into the buffer's format.
 */
#ifndef DMAB_CLIENT_TOOLS_RENDER_H
#define DMAB_CLIENT_TOOLS_RENDER_H

#include <stdint.h>

/**
 * Convert a width x height XRGB8888 picture (src, rows of src_stride bytes,
 * a multiple of 4) into dst in the DRM format fourcc (rows of dst_stride
 * bytes). RGB formats go through pixman (alpha, where the format has it, is
 * opaque); YUYV is BT.601 limited range, each pair's chroma averaged.
 * Returns 0, -EINVAL for a format dmabridge does not take, -ENOMEM.
 */
int dmab_render_convert(const uint32_t *src, uint32_t src_stride,
		uint32_t width, uint32_t height, void *dst, uint32_t dst_stride,
		uint32_t fourcc);

/**
 * Copy a src_width x src_height XRGB8888 picture (rows of src_stride bytes)
 * into a dst_width x dst_height one (rows of dst_stride bytes), centred,
 * clipped where it is larger, on black where it is smaller.
 */
void dmab_render_center(const uint32_t *src, uint32_t src_stride,
		uint32_t src_width, uint32_t src_height, uint32_t *dst,
		uint32_t dst_stride, uint32_t dst_width, uint32_t dst_height);

/**
 * Load a PNG file as XRGB8888 (any alpha composed over black). *pixels is
 * malloc'd with rows of 4 * *width bytes, owned by the caller.
 * Returns 0, -ENOENT, -EINVAL (not a PNG libpng can read), -ENOMEM.
 */
int dmab_render_load_png(const char *path, uint32_t **pixels, uint32_t *width,
		uint32_t *height);

#endif
