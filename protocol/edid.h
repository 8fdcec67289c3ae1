/* SPDX-License-Identifier: MIT */
/*
 * EDID for the virtual connectors we expose to guests: one 128-octet
 * EDID 1.4 base block per connector, with the configured mode as the
 * preferred (and only) timing.
 */
#ifndef DMAB_PROTOCOL_EDID_H
#define DMAB_PROTOCOL_EDID_H

#include <stdint.h>

#define DMAB_EDID_BLOCK_SIZE 128

/**
 * Build an EDID 1.4 base block (128 octets, checksum correct, no extension
 * blocks) for a virtual display of width x height pixels:
 * - manufacturer "DMB", product code 1, made in week 1 of 2025;
 * - serial number: FNV-1a 32 of unique_id, so the same id always gives the
 *   same block; unique_id may be NULL or "" for serial 0;
 * - digital input, 8 bits per colour, RGB 4:4:4, sRGB chromaticity, gamma 2.2;
 * - one detailed timing, preferred and native: the VESA CVT reduced blanking
 *   (v1) timing for the mode at 60 Hz, or if its pixel clock would exceed the
 *   655.35 MHz a descriptor holds, at the first of 50, 48 and 30 Hz that fits
 *   (see dmab_edid_refresh_hz()). A width that is not a multiple of 8 is timed
 *   as the next multiple of 8, and a mode under 640 wide or 480 high as 640
 *   wide or 480 high (EDID wants a clock of at least 10 MHz); the extra goes
 *   into the back porches, so the active size is exactly width x height;
 * - physical size for 96 DPI, except that the shorter side is at least 10 cm
 *   (keeping square pixels), each side at most 255 cm;
 * - a "Bare Limits" range descriptor that just contains that timing, the
 *   product name "dmabridge" and a dummy descriptor. The display is not
 *   marked continuous-frequency: the timing above is the only mode.
 * Returns 0, or -EINVAL with edid untouched if width or height is 0 or over
 * 4095 (what a detailed timing descriptor holds).
 */
int dmab_edid_generate(uint8_t edid[DMAB_EDID_BLOCK_SIZE], uint32_t width,
		uint32_t height, const char *unique_id);

/**
 * The nominal refresh rate in Hz of the timing dmab_edid_generate() puts in
 * the EDID for that mode: 60 unless the clock forced a lower rate, 0 if the
 * mode is rejected. The real rate is slightly lower (CVT rounds the clock
 * down to 0.25 MHz).
 */
uint32_t dmab_edid_refresh_hz(uint32_t width, uint32_t height);

#endif
