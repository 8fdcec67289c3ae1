/* SPDX-License-Identifier: MIT */
#ifndef DMAB_PROTOCOL_FORMAT_H
#define DMAB_PROTOCOL_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** A pixel format a displif frontend may attach a framebuffer in. */
struct dmab_format {
	uint32_t fourcc;     /* DRM_FORMAT_* */
	uint32_t bpp;        /* bits per pixel of the single plane */
	uint32_t block_w;    /* pixels per horizontal block (2 for YUYV) */
	bool has_alpha;
	const char *name;
};

/** The format with that DRM fourcc, or NULL if dmabridge does not take it. */
const struct dmab_format *dmab_format_lookup(uint32_t fourcc);

/** The supported formats, for iteration; *count receives their number. */
const struct dmab_format *dmab_format_all(size_t *count);

/** Whether bpp is a depth some supported format has (16, 24 or 32). */
bool dmab_format_bpp_valid(uint32_t bpp);

/** Bytes a row of width pixels takes when packed: ceil(width * bpp / 8). */
uint64_t dmab_row_bytes(uint32_t width, uint32_t bpp);

/**
 * The stride of a frontend's buffer. displif carries no pitch, so it is
 * derived: a frontend that sized the buffer as data_ofs + pitch * height
 * (Linux dumb buffers: packed rows before 6.17, rows aligned to 8 bytes
 * after; allocators aligning to 64) tells its pitch through buffer_sz, and
 * that pitch is used when it is one of those layouts. Otherwise the
 * protocol's convention applies: rows of 4 * ceil(width * bpp / 32) bytes.
 *
 * Returns 0 and the stride, or -EINVAL when the buffer is too small for
 * height rows of that stride after data_ofs (all arithmetic is 64-bit, so
 * nothing overflows). width, height and bpp must be non-zero.
 */
int dmab_buffer_stride(uint32_t width, uint32_t height, uint32_t bpp,
		uint32_t buffer_sz, uint32_t data_ofs, uint32_t *stride);

#endif
