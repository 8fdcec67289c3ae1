// SPDX-License-Identifier: MIT
#include <stddef.h>

#include "client/tools/pattern.h"

#define BAR_WIDTH 8u
#define BAR_SPEED 4u

static uint32_t background(uint32_t x, uint32_t y, uint32_t frame)
{
	uint32_t r = (x + frame) & 0xff;
	uint32_t g = (y + 2 * frame) & 0xff;
	uint32_t b = (((x >> 5) + (y >> 5) + (frame >> 4)) & 1) ? 0xc0 : 0x40;
	return 0xff000000u | r << 16 | g << 8 | b;
}

uint32_t dmab_pattern_pixel(uint32_t x, uint32_t y, uint32_t width,
		uint32_t frame)
{
	uint32_t bar = (BAR_SPEED * frame) % width;
	if ((x + width - bar) % width < BAR_WIDTH)
		return 0xffffffffu;
	return background(x, y, frame);
}

void dmab_pattern_fill(uint32_t *pixels, uint32_t stride, uint32_t width,
		uint32_t height, uint32_t frame)
{
	uint32_t bar = (BAR_SPEED * frame) % width;

	for (uint32_t y = 0; y < height; y++) {
		uint32_t *row = (uint32_t *)((uint8_t *)pixels + (size_t)y * stride);
		for (uint32_t x = 0; x < width; x++)
			row[x] = background(x, y, frame);
		/* The bar, wrapping around the right edge. */
		for (uint32_t i = 0; i < BAR_WIDTH && i < width; i++)
			row[(bar + i) % width] = 0xffffffffu;
	}
}
