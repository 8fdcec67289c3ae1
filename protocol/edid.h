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
 * Build a valid EDID 1.4 base block (128 bytes, checksum correct) describing a
 * virtual display of width x height pixels at 60 Hz: a preferred detailed timing
 * (CVT reduced blanking v1 timing for that mode, computed in integer arithmetic),
 * monitor name descriptor "dmabridge", a display range limits descriptor consistent
 * with the timing, and a 32-bit serial number derived from unique_id (a stable hash,
 * e.g. FNV-1a; unique_id may be NULL or empty -> serial 0). Manufacturer ID "DMB"
 * (or another valid 3-letter PNP id you choose), a product code, week/year of
 * manufacture, digital input, physical size derived for ~96 DPI (in cm, clamped to
 * 1..255), sRGB/standard chromaticity, no extension blocks.
 * If a 60 Hz timing cannot be expressed (pixel clock > 655.35 MHz), lower the refresh
 * rate (e.g. 50, 30 Hz...) until it fits; if width or height is 0 or exceeds what a
 * detailed timing descriptor can hold (12 bits: 4095), return -EINVAL and leave edid
 * untouched.
 * Returns 0 on success.
 */
int dmab_edid_generate(uint8_t edid[DMAB_EDID_BLOCK_SIZE], uint32_t width,
		uint32_t height, const char *unique_id);

/** Refresh rate in Hz that dmab_edid_generate() uses for that mode (60 unless lowered), 0 if impossible. */
uint32_t dmab_edid_refresh_hz(uint32_t width, uint32_t height);

#endif
