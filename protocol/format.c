// SPDX-License-Identifier: MIT
#include <errno.h>
#include <drm_fourcc.h>

#include "protocol/format.h"

/* The formats Linux's xen-drm-front offers on its planes. */
static const struct dmab_format formats[] = {
	{ DRM_FORMAT_RGB565, 16, 1, false, "RGB565" },
	{ DRM_FORMAT_RGB888, 24, 1, false, "RGB888" },
	{ DRM_FORMAT_XRGB8888, 32, 1, false, "XRGB8888" },
	{ DRM_FORMAT_ARGB8888, 32, 1, true, "ARGB8888" },
	{ DRM_FORMAT_XRGB4444, 16, 1, false, "XRGB4444" },
	{ DRM_FORMAT_ARGB4444, 16, 1, true, "ARGB4444" },
	{ DRM_FORMAT_XRGB1555, 16, 1, false, "XRGB1555" },
	{ DRM_FORMAT_ARGB1555, 16, 1, true, "ARGB1555" },
	{ DRM_FORMAT_YUYV, 16, 2, false, "YUYV" },
};

const struct dmab_format *dmab_format_lookup(uint32_t fourcc)
{
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		if (formats[i].fourcc == fourcc)
			return &formats[i];
	}
	return NULL;
}

const struct dmab_format *dmab_format_all(size_t *count)
{
	*count = sizeof(formats) / sizeof(formats[0]);
	return formats;
}

bool dmab_format_bpp_valid(uint32_t bpp)
{
	return bpp == 16 || bpp == 24 || bpp == 32;
}

uint64_t dmab_row_bytes(uint32_t width, uint32_t bpp)
{
	return ((uint64_t)width * bpp + 7) / 8;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

int dmab_buffer_stride(uint32_t width, uint32_t height, uint32_t bpp,
		uint32_t buffer_sz, uint32_t data_ofs, uint32_t *stride)
{
	if (width == 0 || height == 0 || bpp == 0 || data_ofs > buffer_sz)
		return -EINVAL;

	uint64_t packed = dmab_row_bytes(width, bpp);
	uint64_t avail = (uint64_t)buffer_sz - data_ofs;

	if (avail % height == 0) {
		uint64_t pitch = avail / height;
		static const uint64_t aligns[] = { 1, 4, 8, 64 };
		for (size_t i = 0; i < sizeof(aligns) / sizeof(aligns[0]); i++) {
			if (pitch == align_up(packed, aligns[i])) {
				*stride = (uint32_t)pitch;
				return 0;
			}
		}
	}

	uint64_t conv = 4 * (((uint64_t)width * bpp + 31) / 32);
	if (conv * height > avail || conv > UINT32_MAX)
		return -EINVAL;
	*stride = (uint32_t)conv;
	return 0;
}
