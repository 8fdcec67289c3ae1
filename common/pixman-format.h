/* SPDX-License-Identifier: MIT */
#ifndef DMAB_COMMON_PIXMAN_FORMAT_H
#define DMAB_COMMON_PIXMAN_FORMAT_H

#include <stdint.h>
#include <drm_fourcc.h>
#include <pixman.h>

/**
 * The pixman format of a DRM fourcc displif carries, 0 if there is none.
 * DRM formats are little-endian words, as pixman's are on x86 and arm64.
 * pixman reads YUYV (yuy2) but cannot write it.
 */
static inline pixman_format_code_t dmab_pixman_format(uint32_t fourcc)
{
	switch (fourcc) {
	case DRM_FORMAT_XRGB8888: return PIXMAN_x8r8g8b8;
	case DRM_FORMAT_ARGB8888: return PIXMAN_a8r8g8b8;
	case DRM_FORMAT_RGB888: return PIXMAN_r8g8b8;
	case DRM_FORMAT_RGB565: return PIXMAN_r5g6b5;
	case DRM_FORMAT_XRGB4444: return PIXMAN_x4r4g4b4;
	case DRM_FORMAT_ARGB4444: return PIXMAN_a4r4g4b4;
	case DRM_FORMAT_XRGB1555: return PIXMAN_x1r5g5b5;
	case DRM_FORMAT_ARGB1555: return PIXMAN_a1r5g5b5;
	case DRM_FORMAT_YUYV: return PIXMAN_yuy2;
	default: return 0;
	}
}

#endif
