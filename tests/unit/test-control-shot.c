// SPDX-License-Identifier: MIT
/*
 * Screenshots drawn by a worker thread from a capture made by hand: what
 * the integration tests cannot make here (a buffer the CPU cannot map,
 * views half off the canvas, packed rows), and cancelling one that waits
 * on a pipe nobody reads.
 */
#include <errno.h>
#include <fcntl.h>
#include <png.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <drm_fourcc.h>
#include <wayland-server-core.h>

#include "common/log.h"
#include "server/control-shot.h"
#include "output/capture.h"

#define W 100
#define H 130           /* two whole bands of 64 rows and one of 2 */
#define RED 0xffff0000u

struct outcome {
	bool called;
	int status;
	char error[160];
	uint32_t width, height;
	size_t skipped[8];
	size_t nskipped;
};

static void handle_done(void *data, const struct dmab_shot_result *r)
{
	struct outcome *o = data;
	o->called = true;
	o->status = r->status;
	snprintf(o->error, sizeof(o->error), "%s", r->status ? r->error : "");
	o->width = r->width;
	o->height = r->height;
	o->nskipped = r->nskipped < 8 ? r->nskipped : 8;
	memcpy(o->skipped, r->skipped, o->nskipped * sizeof(size_t));
}

static void wait_done(struct wl_event_loop *loop, struct outcome *o)
{
	uint64_t deadline = dmab_now_ms() + 20000;
	while (!o->called && dmab_now_ms() < deadline)
		wl_event_loop_dispatch(loop, 100);
	assert_true(o->called);
}

/* A sealed-less memfd holding size octets of data. */
static int memfd_of(const void *data, size_t size)
{
	int fd = memfd_create("test-shot", MFD_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, size), (ssize_t)size);
	return fd;
}

static struct dmab_capture *capture_new(size_t nlayers, bool blend)
{
	struct dmab_capture *c = calloc(1, sizeof(*c) + nlayers * sizeof(c->layers[0]));
	assert_non_null(c);
	c->width = W;
	c->height = H;
	c->blend = blend;
	c->nlayers = nlayers;
	return c;
}

static uint32_t rgb888_at(uint32_t x, uint32_t y)
{
	return 0xff000000u | (x * 8) << 16 | (y * 12) << 8 | ((x + y) * 3);
}

static uint32_t pixel(const uint8_t *rgba, uint32_t x, uint32_t y)
{
	const uint8_t *p = rgba + ((size_t)y * W + x) * 4;
	return (uint32_t)p[3] << 24 | (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static uint8_t *read_png(FILE *f)
{
	rewind(f);
	png_image png;
	memset(&png, 0, sizeof(png));
	png.version = PNG_IMAGE_VERSION;
	assert_true(png_image_begin_read_from_stdio(&png, f));
	assert_int_equal(png.width, W);
	assert_int_equal(png.height, H);
	png.format = PNG_FORMAT_RGBA;
	uint8_t *rgba = malloc(PNG_IMAGE_SIZE(png));
	assert_non_null(rgba);
	assert_true(png_image_finish_read(&png, NULL, rgba, 0, NULL));
	png_image_free(&png);
	return rgba;
}

static void compose(void **state)
{
	struct wl_event_loop *loop = wl_event_loop_create();
	struct dmab_shots *shots = dmab_shots_create(loop);
	assert_non_null(shots);
	struct dmab_capture *cap = capture_new(3, true);

	/* A: the whole canvas red. */
	uint32_t *red = malloc(W * H * 4);
	for (size_t i = 0; i < W * H; i++)
		red[i] = RED;
	cap->layers[0] = (struct dmab_capture_layer){
		.fd = memfd_of(red, W * H * 4), .size = W * H * 4,
		.stride = W * 4, .fourcc = DRM_FORMAT_XRGB8888, .src = { 0, 0, W, H },
		.dst = { 0, 0, W, H },
	};
	free(red);
	/*
	 * B: a 30x20 RGB888 frame with packed rows (90 octets: pixman cannot
	 * read them in place), after 7 octets of something else, shown from
	 * its pixel 5,5 at the canvas' top left, as a view half off the top
	 * left is clipped.
	 */
	uint8_t packed[7 + 90 * 20];
	for (uint32_t y = 0; y < 20; y++) {
		for (uint32_t x = 0; x < 30; x++) {
			uint32_t v = rgb888_at(x, y);
			memcpy(packed + 7 + y * 90 + x * 3, &v, 3);
		}
	}
	cap->layers[1] = (struct dmab_capture_layer){
		.fd = memfd_of(packed, sizeof(packed)), .size = sizeof(packed),
		.offset = 7, .stride = 90, .fourcc = DRM_FORMAT_RGB888, .src = { 5, 5, 25, 15 },
		.dst = { 0, 0, 25, 15 },
	};
	/* C: a frame the CPU cannot map (an eventfd stands for a gntdev dma-buf): left out. */
	cap->layers[2] = (struct dmab_capture_layer){
		.fd = eventfd(0, EFD_CLOEXEC), .size = 4096, .stride = 64,
		.fourcc = DRM_FORMAT_XRGB8888, .src = { 0, 0, 16, 16 },
		.dst = { 0, 60, 16, 16 },
	};

	FILE *f = tmpfile();
	struct outcome o = { 0 };
	struct dmab_shot *shot;
	assert_int_equal(dmab_shot_start(shots, cap, dup(fileno(f)), false, handle_done, &o,
		&shot), 0);
	wait_done(loop, &o);
	assert_int_equal(o.status, 0);
	assert_int_equal(o.width, W);
	assert_int_equal(o.height, H);
	assert_int_equal(o.nskipped, 1);
	assert_int_equal(o.skipped[0], 2);

	uint8_t *rgba = read_png(f);
	/* B's frame: its pixel 5,5 at 0,0 of the canvas (the view is at -10,-10). */
	for (uint32_t y = 0; y < 15; y++) {
		for (uint32_t x = 0; x < 25; x++)
			assert_int_equal(pixel(rgba, x, y), rgb888_at(x + 5, y + 5));
	}
	assert_int_equal(pixel(rgba, 25, 5), RED);              /* past B */
	assert_int_equal(pixel(rgba, 5, 15), RED);
	assert_int_equal(pixel(rgba, 5, 70), RED);              /* C left out */
	for (uint32_t y = 62; y < 68; y++)                      /* across a band's edge */
		assert_int_equal(pixel(rgba, 60, y), RED);
	free(rgba);
	fclose(f);
	dmab_shots_destroy(shots);
	wl_event_loop_destroy(loop);
}

/*
 * A frame whose fd cannot be mapped but its importer mapped (Xen grants):
 * read from that mapping, required or not, and not unmapped by the shot.
 */
static void importer_mapping(void **state)
{
	struct wl_event_loop *loop = wl_event_loop_create();
	struct dmab_shots *shots = dmab_shots_create(loop);
	assert_non_null(shots);
	uint32_t *frame = malloc(W * H * 4);
	assert_non_null(frame);
	for (size_t i = 0; i < W * H; i++)
		frame[i] = RED;
	struct dmab_capture *cap = capture_new(1, false);
	cap->layers[0] = (struct dmab_capture_layer){
		.fd = -1, .cpu = (const uint8_t *)frame, .size = W * H * 4,
		.stride = W * 4, .fourcc = DRM_FORMAT_XRGB8888, .src = { 0, 0, W, H },
		.dst = { 0, 0, W, H },
	};
	FILE *f = tmpfile();
	struct outcome o = { 0 };
	struct dmab_shot *shot;
	assert_int_equal(dmab_shot_start(shots, cap, dup(fileno(f)), true, handle_done, &o,
		&shot), 0);
	wait_done(loop, &o);
	assert_int_equal(o.status, 0);
	assert_int_equal(o.nskipped, 0);
	uint8_t *rgba = read_png(f);
	assert_int_equal(pixel(rgba, 0, 0), RED);
	assert_int_equal(pixel(rgba, W - 1, H - 1), RED);
	free(rgba);
	fclose(f);
	/* Still the importer's: readable. */
	assert_int_equal(frame[W * H - 1], RED);
	free(frame);
	dmab_shots_destroy(shots);
	wl_event_loop_destroy(loop);
}

/* One view whose buffer cannot be mapped: refused before anything is written. */
static void require_all(void **state)
{
	struct wl_event_loop *loop = wl_event_loop_create();
	struct dmab_shots *shots = dmab_shots_create(loop);
	struct dmab_capture *cap = capture_new(1, false);
	cap->layers[0] = (struct dmab_capture_layer){
		.fd = eventfd(0, EFD_CLOEXEC), .size = 4096, .stride = 64,
		.fourcc = DRM_FORMAT_XRGB8888, .src = { 0, 0, 16, 16 }, .dst = { 0, 0, 16, 16 },
	};
	FILE *f = tmpfile();
	struct outcome o = { 0 };
	struct dmab_shot *shot;
	assert_int_equal(dmab_shot_start(shots, cap, dup(fileno(f)), true, handle_done, &o,
		&shot), 0);
	wait_done(loop, &o);
	assert_int_equal(o.status, -ENODEV);
	assert_string_equal(o.error, "shows a buffer without CPU access");
	fseek(f, 0, SEEK_END);
	assert_int_equal(ftell(f), 0);
	fclose(f);

	/* Lies about the geometry: rows past the buffer's end are not read. */
	uint32_t small[16 * 16] = { 0 };
	cap = capture_new(1, false);
	cap->layers[0] = (struct dmab_capture_layer){
		.fd = memfd_of(small, sizeof(small)), .size = 1 << 20,
		.stride = 64, .fourcc = DRM_FORMAT_XRGB8888, .src = { 0, 0, 16, 1000 },
		.dst = { 0, 0, 16, 1000 },
	};
	f = tmpfile();
	o = (struct outcome){ 0 };
	assert_int_equal(dmab_shot_start(shots, cap, dup(fileno(f)), true, handle_done, &o,
		&shot), 0);
	wait_done(loop, &o);
	assert_int_equal(o.status, -ENODEV);
	fclose(f);
	dmab_shots_destroy(shots);
	wl_event_loop_destroy(loop);
}

/* Into pipes nobody reads: a third is refused, and a shutdown ends them at once. */
static void busy_and_cancel(void **state)
{
	struct wl_event_loop *loop = wl_event_loop_create();
	struct dmab_shots *shots = dmab_shots_create(loop);
	int pipes[DMAB_SHOTS_MAX + 1][2];
	struct outcome o[DMAB_SHOTS_MAX + 1] = { 0 };
	/* Noise does not compress: the PNG cannot hide in the pipe. */
	uint32_t *noise = malloc(W * H * 4);
	uint32_t seed = 1;
	for (size_t i = 0; i < W * H; i++) {
		seed = seed * 1103515245u + 12345u;
		noise[i] = seed;
	}
	for (int i = 0; i <= DMAB_SHOTS_MAX; i++) {
		assert_int_equal(pipe2(pipes[i], O_CLOEXEC), 0);
		fcntl(pipes[i][1], F_SETPIPE_SZ, 4096);
		struct dmab_capture *cap = capture_new(1, false);
		cap->layers[0] = (struct dmab_capture_layer){
			.fd = memfd_of(noise, W * H * 4), .size = W * H * 4,
			.stride = W * 4, .fourcc = DRM_FORMAT_XRGB8888, .src = { 0, 0, W, H },
			.dst = { 0, 0, W, H },
		};
		struct dmab_shot *shot;
		int ret = dmab_shot_start(shots, cap, pipes[i][1], false, handle_done, &o[i], &shot);
		assert_int_equal(ret, i < DMAB_SHOTS_MAX ? 0 : -EBUSY);
	}
	/* Taken, also when refused. */
	assert_int_equal(fcntl(pipes[DMAB_SHOTS_MAX][1], F_GETFD), -1);
	free(noise);
	for (int k = 0; k < 5; k++)
		wl_event_loop_dispatch(loop, 100);
	assert_false(o[0].called || o[1].called);
	uint64_t t0 = dmab_now_ms();
	dmab_shots_destroy(shots);
	assert_true(dmab_now_ms() - t0 < 1000);
	assert_false(o[0].called || o[1].called);
	for (int i = 0; i <= DMAB_SHOTS_MAX; i++)
		close(pipes[i][0]);
	wl_event_loop_destroy(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(compose),
		cmocka_unit_test(require_all),
		cmocka_unit_test(importer_mapping),
		cmocka_unit_test(busy_and_cancel),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
