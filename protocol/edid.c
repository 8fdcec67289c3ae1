// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "protocol/edid.h"

/* A DTD stores active and blanking sizes in 12 bits, the clock in 16 bits of 10 kHz. */
#define DTD_MAX_ACTIVE 4095u
#define DTD_MAX_CLOCK_HZ (65535ull * 10000)

/* VESA CVT 1.2, reduced blanking version 1. */
#define CVT_CELL 8u
#define CVT_RB_H_BLANK 160u
#define CVT_RB_H_FRONT_PORCH 48u
#define CVT_RB_H_SYNC 32u
#define CVT_RB_MIN_V_BLANK_US 460u
#define CVT_RB_V_FRONT_PORCH 3u
#define CVT_RB_MIN_V_BACK_PORCH 6u
#define CVT_CLOCK_STEP_HZ 250000u

/*
 * EDID 1.4 does not allow a DTD clock under 10 MHz, which CVT gives for
 * anything much smaller than VGA. Smaller modes get the frame of a 640x480
 * CVT-RB timing, the extra lines and columns going into the blanking.
 */
#define MIN_FRAME_WIDTH 640u
#define MIN_FRAME_HEIGHT 480u

/* 96 DPI is 960 pixels per 254 mm. */
#define MM_PER_PX_NUM 254u
#define MM_PER_PX_DEN 960u
/* Screen sizes under 10 cm are flagged as dubious by conformance checkers. */
#define MIN_SCREEN_MM 100u
#define MAX_SCREEN_MM 2550u

/* "DMB": each letter is 5 bits, 'A' = 1. */
#define MANUFACTURER_ID ((('D' - '@') << 10) | (('M' - '@') << 5) | ('B' - '@'))
#define PRODUCT_CODE 0x0001u
#define MANUFACTURE_WEEK 1u
#define MANUFACTURE_YEAR 2025u
#define MONITOR_NAME "dmabridge"

#define DESC_TAG_DUMMY 0x10
#define DESC_TAG_RANGE_LIMITS 0xfd
#define DESC_TAG_NAME 0xfc

struct timing {
	uint32_t clock_hz;
	uint32_t hactive, hfront, hsync, hblank;
	uint32_t vactive, vfront, vsync, vblank;
};

/* The largest mode, 4095x4095, fits at 30 Hz (530.25 MHz). */
static const uint32_t refresh_rates[] = { 60, 50, 48, 30 };

static uint32_t max_u32(uint32_t a, uint32_t b)
{
	return a > b ? a : b;
}

static uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

static uint64_t div_round_up(uint64_t n, uint64_t d)
{
	return (n + d - 1) / d;
}

static uint32_t div_round(uint32_t n, uint32_t d)
{
	return (n + d / 2) / d;
}

/* CVT ties the vsync width to the aspect ratio so that sinks can recognise it. */
static uint32_t cvt_vsync_lines(uint32_t w, uint32_t h)
{
	if (w * 3 == h * 4)
		return 4;
	if (w * 9 == h * 16)
		return 5;
	if (w * 10 == h * 16)
		return 6;
	if (w * 4 == h * 5 || w * 9 == h * 15)
		return 7;
	return 10;
}

/*
 * The CVT-RB v1 timing for w x h at rate Hz. CVT works on a multiple of
 * the 8-pixel cell; the front porch and sync keep their CVT widths and
 * the back porch absorbs what the requested size lacks (it is the only
 * blanking part a DTD does not store in a narrow field).
 * Returns false if the clock does not fit in a DTD.
 */
static bool cvt_rb_timing(uint32_t w, uint32_t h, uint32_t rate, struct timing *t)
{
	uint32_t hframe = max_u32((w + CVT_CELL - 1) / CVT_CELL * CVT_CELL, MIN_FRAME_WIDTH);
	uint32_t vframe = max_u32(h, MIN_FRAME_HEIGHT);
	uint32_t vsync = cvt_vsync_lines(w, h);

	/*
	 * The spec's H_PERIOD_EST = (1e6 / rate - 460) / lines us and
	 * VBI_LINES = floor(460 / H_PERIOD_EST) + 1, rearranged so that
	 * nothing is rounded before the floor.
	 */
	uint32_t vbi = (uint32_t)((uint64_t)CVT_RB_MIN_V_BLANK_US * vframe * rate /
		(1000000u - CVT_RB_MIN_V_BLANK_US * rate)) + 1;
	vbi = max_u32(vbi, CVT_RB_V_FRONT_PORCH + vsync + CVT_RB_MIN_V_BACK_PORCH);

	uint32_t htotal = hframe + CVT_RB_H_BLANK;
	uint32_t vtotal = vframe + vbi;
	uint64_t clock = (uint64_t)rate * htotal * vtotal /
		CVT_CLOCK_STEP_HZ * CVT_CLOCK_STEP_HZ;
	if (clock > DTD_MAX_CLOCK_HZ)
		return false;

	*t = (struct timing){
		.clock_hz = (uint32_t)clock,
		.hactive = w,
		.hfront = CVT_RB_H_FRONT_PORCH,
		.hsync = CVT_RB_H_SYNC,
		.hblank = htotal - w,
		.vactive = h,
		.vfront = CVT_RB_V_FRONT_PORCH,
		.vsync = vsync,
		.vblank = vtotal - h,
	};
	return true;
}

/* Returns the refresh rate, or 0 if the mode cannot be described. */
static uint32_t choose_timing(uint32_t w, uint32_t h, struct timing *t)
{
	if (w == 0 || h == 0 || w > DTD_MAX_ACTIVE || h > DTD_MAX_ACTIVE)
		return 0;
	for (size_t i = 0; i < sizeof(refresh_rates) / sizeof(refresh_rates[0]); i++) {
		if (cvt_rb_timing(w, h, refresh_rates[i], t))
			return refresh_rates[i];
	}
	return 0;
}

static uint32_t fnv1a(const char *s)
{
	uint32_t hash = 2166136261u;

	for (; *s; s++) {
		hash ^= (uint8_t)*s;
		hash *= 16777619u;
	}
	return hash;
}

/*
 * ~96 DPI, but with the shorter side at least MIN_SCREEN_MM: tiny modes
 * get a lower DPI rather than non-square pixels.
 */
static void image_size_mm(uint32_t w, uint32_t h, uint32_t *w_mm, uint32_t *h_mm)
{
	uint32_t short_px = min_u32(w, h);

	if (div_round(short_px * MM_PER_PX_NUM, MM_PER_PX_DEN) >= MIN_SCREEN_MM) {
		*w_mm = div_round(w * MM_PER_PX_NUM, MM_PER_PX_DEN);
		*h_mm = div_round(h * MM_PER_PX_NUM, MM_PER_PX_DEN);
	} else {
		*w_mm = div_round(w * MIN_SCREEN_MM, short_px);
		*h_mm = div_round(h * MIN_SCREEN_MM, short_px);
	}
	*w_mm = min_u32(*w_mm, MAX_SCREEN_MM);
	*h_mm = min_u32(*h_mm, MAX_SCREEN_MM);
}

/* x and y in 1/1024, as the EDID stores them in 10 bits. */
static void put_chromaticity(uint8_t *e)
{
	/* sRGB primaries and D65 white: red, green, blue, white; x then y. */
	static const uint16_t xy[8] = {
		655, 338, 307, 614, 154, 61, 320, 337,
	};

	e[0] = (xy[0] & 3) << 6 | (xy[1] & 3) << 4 | (xy[2] & 3) << 2 | (xy[3] & 3);
	e[1] = (xy[4] & 3) << 6 | (xy[5] & 3) << 4 | (xy[6] & 3) << 2 | (xy[7] & 3);
	for (size_t i = 0; i < 8; i++)
		e[2 + i] = xy[i] >> 2;
}

static void put_dtd(uint8_t *d, const struct timing *t, uint32_t w_mm, uint32_t h_mm)
{
	uint32_t clock = t->clock_hz / 10000;

	d[0] = clock & 0xff;
	d[1] = clock >> 8;
	d[2] = t->hactive & 0xff;
	d[3] = t->hblank & 0xff;
	d[4] = (t->hactive >> 8) << 4 | (t->hblank >> 8);
	d[5] = t->vactive & 0xff;
	d[6] = t->vblank & 0xff;
	d[7] = (t->vactive >> 8) << 4 | (t->vblank >> 8);
	d[8] = t->hfront & 0xff;
	d[9] = t->hsync & 0xff;
	d[10] = (t->vfront & 0xf) << 4 | (t->vsync & 0xf);
	d[11] = (t->hfront >> 8) << 6 | (t->hsync >> 8) << 4 |
		(t->vfront >> 4) << 2 | (t->vsync >> 4);
	d[12] = w_mm & 0xff;
	d[13] = h_mm & 0xff;
	d[14] = (w_mm >> 8) << 4 | (h_mm >> 8);
	d[15] = 0;
	d[16] = 0;
	/* Digital separate sync; CVT-RB has +hsync, -vsync. */
	d[17] = 0x18 | 0x02;
}

/* Bare limits around the one timing we offer, so that sinks infer no other mode. */
static void put_range_limits(uint8_t *d, const struct timing *t)
{
	uint64_t htotal = t->hactive + t->hblank;
	uint64_t frame = htotal * (t->vactive + t->vblank);

	/*
	 * All fit in a byte without the EDID 1.4 +255 offsets: the refresh
	 * is at most 60 Hz, and the line rate at most 60 * (4095 + VBI),
	 * about 253 kHz.
	 */
	d[3] = DESC_TAG_RANGE_LIMITS;
	d[5] = t->clock_hz / frame;
	d[6] = div_round_up(t->clock_hz, frame);
	d[7] = t->clock_hz / (htotal * 1000);
	d[8] = div_round_up(t->clock_hz, htotal * 1000);
	d[9] = div_round_up(t->clock_hz, 10000000);
	d[10] = 0x01;
	d[11] = 0x0a;
	memset(d + 12, ' ', 6);
}

static void put_name(uint8_t *d)
{
	size_t len = strlen(MONITOR_NAME);

	d[3] = DESC_TAG_NAME;
	memcpy(d + 5, MONITOR_NAME, len);
	d[5 + len] = 0x0a;
	memset(d + 6 + len, ' ', 13 - len - 1);
}

uint32_t dmab_edid_refresh_hz(uint32_t width, uint32_t height)
{
	struct timing t;

	return choose_timing(width, height, &t);
}

int dmab_edid_generate(uint8_t edid[DMAB_EDID_BLOCK_SIZE], uint32_t width,
		uint32_t height, const char *unique_id)
{
	static const uint8_t header[8] = { 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00 };
	struct timing t;
	uint32_t w_mm, h_mm;

	if (!choose_timing(width, height, &t))
		return -EINVAL;
	image_size_mm(width, height, &w_mm, &h_mm);
	uint32_t serial = unique_id && unique_id[0] ? fnv1a(unique_id) : 0;

	memset(edid, 0, DMAB_EDID_BLOCK_SIZE);
	memcpy(edid, header, sizeof(header));
	edid[8] = MANUFACTURER_ID >> 8;
	edid[9] = MANUFACTURER_ID & 0xff;
	edid[10] = PRODUCT_CODE & 0xff;
	edid[11] = PRODUCT_CODE >> 8;
	edid[12] = serial & 0xff;
	edid[13] = (serial >> 8) & 0xff;
	edid[14] = (serial >> 16) & 0xff;
	edid[15] = serial >> 24;
	edid[16] = MANUFACTURE_WEEK;
	edid[17] = MANUFACTURE_YEAR - 1990;
	edid[18] = 1;
	edid[19] = 4;
	/* Digital, 8 bits per colour, interface not defined. */
	edid[20] = 0xa0;
	edid[21] = div_round(w_mm, 10);
	edid[22] = div_round(h_mm, 10);
	/* Gamma 2.2, stored as 100 * gamma - 100. */
	edid[23] = 120;
	/*
	 * No DPMS, RGB 4:4:4, sRGB default, the preferred timing is native,
	 * not continuous-frequency: we offer exactly one mode.
	 */
	edid[24] = 0x04 | 0x02;
	put_chromaticity(edid + 25);
	/* No established timings (35..37); unused standard timings are 0x0101. */
	for (size_t i = 38; i < 54; i++)
		edid[i] = 0x01;
	put_dtd(edid + 54, &t, w_mm, h_mm);
	put_range_limits(edid + 72, &t);
	put_name(edid + 90);
	edid[108 + 3] = DESC_TAG_DUMMY;
	/* edid[126]: no extension blocks. */

	uint8_t sum = 0;
	for (size_t i = 0; i < DMAB_EDID_BLOCK_SIZE - 1; i++)
		sum += edid[i];
	edid[DMAB_EDID_BLOCK_SIZE - 1] = -sum;
	return 0;
}
