// SPDX-License-Identifier: MIT
/* dmabridge-play's pattern formula and its conversions into buffer formats. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <drm_fourcc.h>
#include <png.h>

#include "client/tools/pattern.h"
#include "client/tools/render.h"

static void test_pattern_formula(void **state)
{
	/* Frame 0: the bar covers x 0..7. */
	assert_int_equal(dmab_pattern_pixel(0, 0, 640, 0), 0xffffffff);
	assert_int_equal(dmab_pattern_pixel(7, 479, 640, 0), 0xffffffff);
	assert_int_equal(dmab_pattern_pixel(8, 0, 640, 0), 0xff080040);
	assert_int_equal(dmab_pattern_pixel(40, 0, 640, 0), 0xff2800c0);
	assert_int_equal(dmab_pattern_pixel(40, 32, 640, 0), 0xff282040);
	/* Frame 5: bar at 20..27, R + 5, G + 10. */
	assert_int_equal(dmab_pattern_pixel(19, 33, 640, 5), 0xff182bc0);
	assert_int_equal(dmab_pattern_pixel(20, 33, 640, 5), 0xffffffff);
	assert_int_equal(dmab_pattern_pixel(27, 33, 640, 5), 0xffffffff);
	assert_int_equal(dmab_pattern_pixel(28, 33, 640, 5), 0xff212bc0);
	/* Frame 16: the squares swap (3 + 0 + 1 is even). */
	assert_int_equal(dmab_pattern_pixel(100, 0, 640, 16), 0xff742040);
	/* Wrapping: 8-bit channels, the bar around the right edge. */
	assert_int_equal(dmab_pattern_pixel(300, 200, 640, 0), 0xff2cc8c0);
	assert_int_equal(dmab_pattern_pixel(3, 0, 100, 24), 0xffffffff);
	assert_int_equal(dmab_pattern_pixel(96, 0, 100, 24), 0xffffffff);
	assert_int_equal(dmab_pattern_pixel(95, 0, 100, 24), 0xff7730c0);
	assert_int_equal(dmab_pattern_pixel(4, 0, 100, 24), 0xff1c30c0);
}

static void test_pattern_fill(void **state)
{
	static const uint32_t widths[] = { 1, 5, 8, 9, 100, 641 };
	for (size_t i = 0; i < sizeof(widths) / sizeof(widths[0]); i++) {
		uint32_t w = widths[i], h = 37, stride = w * 4 + 12;
		uint32_t *pixels = malloc((size_t)stride * h);
		for (uint32_t frame = 0; frame < 300; frame += 7) {
			dmab_pattern_fill(pixels, stride, w, h, frame);
			for (uint32_t y = 0; y < h; y++) {
				const uint32_t *row = (const uint32_t *)((uint8_t *)pixels + (size_t)y * stride);
				for (uint32_t x = 0; x < w; x++)
					assert_int_equal(row[x], dmab_pattern_pixel(x, y, w, frame));
			}
		}
		free(pixels);
	}
}

static const uint32_t colours[4] = { 0xffff0000, 0xff00ff00, 0xff0000ff, 0xffffffff };

static void test_convert_rgb(void **state)
{
	uint8_t out[64];

	/* RGB565, 3 pixels: rows of 6 octets, not a multiple of 4. */
	uint32_t src[2 * 3] = {
		0xffff0000, 0xff00ff00, 0xff0000ff,
		0xffffffff, 0xff000000, 0xff808080,
	};
	memset(out, 0x77, sizeof(out));
	assert_int_equal(dmab_render_convert(src, 12, 3, 2, out, 6, DRM_FORMAT_RGB565), 0);
	uint16_t px[6];
	memcpy(px, out, sizeof(px));
	assert_int_equal(px[0], 0xf800);
	assert_int_equal(px[1], 0x07e0);
	assert_int_equal(px[2], 0x001f);
	assert_int_equal(px[3], 0xffff);
	assert_int_equal(px[4], 0x0000);
	assert_int_equal(px[5], 0x8410);
	assert_int_equal(out[12], 0x77); /* nothing past the rows */

	/* RGB888: B, G, R octets. */
	memset(out, 0, sizeof(out));
	assert_int_equal(dmab_render_convert(colours, 16, 4, 1, out, 12, DRM_FORMAT_RGB888), 0);
	static const uint8_t rgb888[12] = { 0, 0, 0xff, 0, 0xff, 0, 0xff, 0, 0, 0xff, 0xff, 0xff };
	assert_memory_equal(out, rgb888, sizeof(rgb888));

	uint16_t w16[4];
	assert_int_equal(dmab_render_convert(colours, 16, 4, 1, w16, 8, DRM_FORMAT_XRGB1555), 0);
	assert_int_equal(w16[0] & 0x7fff, 0x7c00);
	assert_int_equal(w16[2] & 0x7fff, 0x001f);
	assert_int_equal(dmab_render_convert(colours, 16, 4, 1, w16, 8, DRM_FORMAT_ARGB1555), 0);
	assert_int_equal(w16[1], 0x83e0);
	assert_int_equal(dmab_render_convert(colours, 16, 4, 1, w16, 8, DRM_FORMAT_ARGB4444), 0);
	assert_int_equal(w16[0], 0xff00);
	assert_int_equal(w16[3], 0xffff);
	assert_int_equal(dmab_render_convert(colours, 16, 4, 1, w16, 8, DRM_FORMAT_XRGB4444), 0);
	assert_int_equal(w16[2] & 0x0fff, 0x000f);

	uint32_t w32[4];
	const uint32_t opaque_less[4] = { 0x00ff0000, 0x0000ff00, 0x000000ff, 0 };
	assert_int_equal(dmab_render_convert(opaque_less, 16, 4, 1, w32, 16, DRM_FORMAT_ARGB8888), 0);
	assert_int_equal(w32[0], 0xffff0000);
	assert_int_equal(w32[3], 0xff000000);

	assert_int_equal(dmab_render_convert(colours, 16, 4, 1, w32, 16, DRM_FORMAT_NV12), -EINVAL);
}

static void test_convert_yuyv(void **state)
{
	const uint32_t src[4] = { 0xffffffff, 0xffffffff, 0xff000000, 0xffff0000 };
	uint8_t out[8];
	assert_int_equal(dmab_render_convert(src, 16, 4, 1, out, 8, DRM_FORMAT_YUYV), 0);
	/* White: Y 235, no chroma; black Y 16; red pulls V up and U down. */
	assert_int_equal(out[0], 235);
	assert_int_equal(out[1], 128);
	assert_int_equal(out[2], 235);
	assert_int_equal(out[3], 128);
	assert_int_equal(out[4], 16);
	assert_int_equal(out[6], 82);
	assert_true(out[5] < 128);
	assert_true(out[7] > 128);
}

static void test_center(void **state)
{
	const uint32_t src[2 * 2] = { 1, 2, 3, 4 };
	uint32_t dst[4 * 3];
	memset(dst, 0x55, sizeof(dst));
	dmab_render_center(src, 8, 2, 2, dst, 16, 4, 3);
	/* Offsets (4 - 2) / 2 = 1 and (3 - 2) / 2 = 0. */
	const uint32_t want[4 * 3] = {
		0, 0xff000001, 0xff000002, 0,
		0, 0xff000003, 0xff000004, 0,
		0, 0, 0, 0,
	};
	assert_memory_equal(dst, want, sizeof(dst));

	/* Larger: the middle. */
	const uint32_t big[3 * 3] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
	uint32_t one;
	dmab_render_center(big, 12, 3, 3, &one, 4, 1, 1);
	assert_int_equal(one, 0xff000005);
}

static void test_png(void **state)
{
	char path[] = "/tmp/dmab-test-png-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);

	/* 2x1, straight alpha: opaque red, half-transparent white. */
	const uint8_t rgba[8] = { 0xff, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x80 };
	png_image image;
	memset(&image, 0, sizeof(image));
	image.version = PNG_IMAGE_VERSION;
	image.width = 2;
	image.height = 1;
	image.format = PNG_FORMAT_RGBA;
	assert_true(png_image_write_to_file(&image, path, 0, rgba, 0, NULL));

	uint32_t *pixels, w, h;
	assert_int_equal(dmab_render_load_png(path, &pixels, &w, &h), 0);
	assert_int_equal(w, 2);
	assert_int_equal(h, 1);
	assert_int_equal(pixels[0], 0xffff0000);
	assert_int_equal(pixels[1], 0xff808080);
	free(pixels);

	FILE *f = fopen(path, "w");
	fputs("not a png", f);
	fclose(f);
	assert_int_equal(dmab_render_load_png(path, &pixels, &w, &h), -EINVAL);
	unlink(path);
	assert_int_equal(dmab_render_load_png(path, &pixels, &w, &h), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pattern_formula),
		cmocka_unit_test(test_pattern_fill),
		cmocka_unit_test(test_convert_rgb),
		cmocka_unit_test(test_convert_yuyv),
		cmocka_unit_test(test_center),
		cmocka_unit_test(test_png),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
