/* SPDX-License-Identifier: MIT */
/*
 * dmabridge-play's test pattern: a pure function of the position and the
 * frame number, so that a test can check every pixel a backend received.
 *
 * Frame f of a width x height picture has at (x, y), as XRGB8888 (alpha,
 * where the format has it, 0xff):
 *
 *   a white bar, 0xffffff, where (x + width - (4 * f) % width) % width < 8
 *     (8 pixels wide, full height, moving right by 4 pixels a frame);
 *   elsewhere  R = (x + f) & 0xff
 *              G = (y + 2 * f) & 0xff
 *              B = 0xc0 if ((x >> 5) + (y >> 5) + (f >> 4)) is odd, else 0x40
 *     (diagonal gradients that scroll, over 32-pixel squares that swap
 *     every 16 frames).
 *
 * All arithmetic is unsigned 32-bit.
 */
#ifndef DMAB_CLIENT_TOOLS_PATTERN_H
#define DMAB_CLIENT_TOOLS_PATTERN_H

#include <stdint.h>

/** The pixel at (x, y) of frame frame, 0xffRRGGBB. width must not be 0. */
uint32_t dmab_pattern_pixel(uint32_t x, uint32_t y, uint32_t width,
		uint32_t frame);

/** Draw frame frame into XRGB8888 pixels with rows of stride bytes. */
void dmab_pattern_fill(uint32_t *pixels, uint32_t stride, uint32_t width,
		uint32_t height, uint32_t frame);

#endif
