// SPDX-License-Identifier: MIT
#include <errno.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "protocol/edid.h"

#ifndef EDID_DECODE
#define EDID_DECODE "/usr/bin/edid-decode"
#endif

extern char **environ;

struct mode {
	uint32_t w, h;
};

static const struct mode modes[] = {
	{ 1, 1 }, { 64, 64 }, { 640, 480 }, { 800, 600 }, { 1024, 768 },
	{ 1280, 720 }, { 1366, 768 }, { 1920, 1080 }, { 2560, 1440 },
	{ 3840, 2160 }, { 4095, 4095 }, { 641, 479 }, { 1, 4095 }, { 4095, 1 },
	{ 7, 9 }, { 639, 481 }, { 4000, 3000 },
};

#define N_MODES (sizeof(modes) / sizeof(modes[0]))

struct dtd {
	uint32_t clock_10khz;
	uint32_t hactive, hblank, hfront, hsync;
	uint32_t vactive, vblank, vfront, vsync;
	uint32_t w_mm, h_mm;
	uint8_t flags;
};

static void decode_dtd(const uint8_t *d, struct dtd *t)
{
	t->clock_10khz = d[0] | d[1] << 8;
	t->hactive = d[2] | (d[4] >> 4) << 8;
	t->hblank = d[3] | (d[4] & 0xf) << 8;
	t->vactive = d[5] | (d[7] >> 4) << 8;
	t->vblank = d[6] | (d[7] & 0xf) << 8;
	t->hfront = d[8] | (d[11] >> 6) << 8;
	t->hsync = d[9] | ((d[11] >> 4) & 3) << 8;
	t->vfront = (d[10] >> 4) | ((d[11] >> 2) & 3) << 4;
	t->vsync = (d[10] & 0xf) | (d[11] & 3) << 4;
	t->w_mm = d[12] | (d[14] >> 4) << 8;
	t->h_mm = d[13] | (d[14] & 0xf) << 8;
	t->flags = d[17];
}

static uint8_t sum_block(const uint8_t *edid)
{
	uint8_t sum = 0;

	for (size_t i = 0; i < DMAB_EDID_BLOCK_SIZE; i++)
		sum += edid[i];
	return sum;
}

static uint32_t serial_of(const uint8_t *edid)
{
	return edid[12] | edid[13] << 8 | edid[14] << 16 | (uint32_t)edid[15] << 24;
}

/* The display descriptor (not DTD) with that tag among the four slots, or NULL. */
static const uint8_t *find_descriptor(const uint8_t *edid, uint8_t tag)
{
	for (size_t off = 54; off < 126; off += 18) {
		const uint8_t *d = edid + off;

		if (d[0] == 0 && d[1] == 0 && d[3] == tag)
			return d;
	}
	return NULL;
}

static void generate(uint8_t *edid, uint32_t w, uint32_t h, const char *id)
{
	int ret = dmab_edid_generate(edid, w, h, id);

	if (ret != 0)
		fail_msg("%ux%u: dmab_edid_generate() = %d", w, h, ret);
}

static void test_header_version_checksum(void **state)
{
	(void)state;
	static const uint8_t header[8] = { 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00 };
	uint8_t edid[DMAB_EDID_BLOCK_SIZE];

	for (size_t i = 0; i < N_MODES; i++) {
		memset(edid, 0x5a, sizeof(edid));
		generate(edid, modes[i].w, modes[i].h, "vdispl/1/0");
		assert_memory_equal(edid, header, sizeof(header));
		assert_int_equal(edid[18], 1);
		assert_int_equal(edid[19], 4);
		assert_int_equal(sum_block(edid), 0);
		/* Digital input, no extension blocks. */
		assert_true(edid[20] & 0x80);
		assert_int_equal(edid[126], 0);
	}
}

static void test_manufacturer(void **state)
{
	(void)state;
	uint8_t edid[DMAB_EDID_BLOCK_SIZE];
	char pnp[4];

	generate(edid, 1920, 1080, NULL);
	pnp[0] = '@' + ((edid[8] >> 2) & 0x1f);
	pnp[1] = '@' + (((edid[8] & 3) << 3) | edid[9] >> 5);
	pnp[2] = '@' + (edid[9] & 0x1f);
	pnp[3] = '\0';
	assert_false(edid[8] & 0x80);
	assert_string_equal(pnp, "DMB");
}

static void test_dtd_matches_mode(void **state)
{
	(void)state;
	uint8_t edid[DMAB_EDID_BLOCK_SIZE];
	struct dtd t;

	for (size_t i = 0; i < N_MODES; i++) {
		uint32_t w = modes[i].w, h = modes[i].h;

		generate(edid, w, h, NULL);
		decode_dtd(edid + 54, &t);
		if (t.hactive != w || t.vactive != h)
			fail_msg("%ux%u: DTD says %ux%u", w, h, t.hactive, t.vactive);
		/* EDID 1.4 forbids DTD clocks under 10 MHz. */
		assert_in_range(t.clock_10khz, 1000, 65535);
		/* CVT-RB: the minimum blanking, a whole number of cells. */
		assert_true(t.hblank >= 160);
		assert_int_equal((t.hactive + t.hblank) % 8, 0);
		assert_int_equal(t.hfront, 48);
		assert_int_equal(t.hsync, 32);
		assert_int_equal(t.vfront, 3);
		assert_true(t.vblank > t.vfront + t.vsync + 5);
		/* Digital separate sync, +hsync -vsync, not interlaced. */
		assert_int_equal(t.flags, 0x1a);
		/* Preferred timing is the native mode. */
		assert_true(edid[24] & 0x02);
	}
}

/* Reference values from VESA CVT 1.2 RB tables (and edid-decode --cvt ... rb=1). */
static void test_known_cvt_rb_timings(void **state)
{
	(void)state;
	static const struct {
		uint32_t w, h, clock_10khz, htotal, vtotal, vsync;
	} known[] = {
		{ 640, 480, 2350, 800, 494, 4 },
		{ 1024, 768, 5600, 1184, 790, 4 },
		{ 1280, 720, 6400, 1440, 741, 5 },
		{ 1600, 1200, 13025, 1760, 1235, 4 },
		{ 1920, 1080, 13850, 2080, 1111, 5 },
		{ 1920, 1200, 15400, 2080, 1235, 6 },
		{ 2560, 1440, 24150, 2720, 1481, 5 },
		{ 3840, 2160, 53325, 4000, 2222, 5 },
	};
	uint8_t edid[DMAB_EDID_BLOCK_SIZE];
	struct dtd t;

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		generate(edid, known[i].w, known[i].h, NULL);
		decode_dtd(edid + 54, &t);
		assert_int_equal(t.clock_10khz, known[i].clock_10khz);
		assert_int_equal(t.hactive + t.hblank, known[i].htotal);
		assert_int_equal(t.vactive + t.vblank, known[i].vtotal);
		assert_int_equal(t.vsync, known[i].vsync);
		assert_int_equal(dmab_edid_refresh_hz(known[i].w, known[i].h), 60);
	}
}

static void test_odd_width_keeps_exact_active(void **state)
{
	(void)state;
	uint8_t edid[DMAB_EDID_BLOCK_SIZE];
	struct dtd t;

	generate(edid, 1366, 768, NULL);
	decode_dtd(edid + 54, &t);
	assert_int_equal(t.hactive, 1366);
	/* Timed as 1368 (171 cells) plus the 160-pixel CVT-RB blanking. */
	assert_int_equal(t.hactive + t.hblank, 1368 + 160);

	generate(edid, 641, 479, NULL);
	decode_dtd(edid + 54, &t);
	assert_int_equal(t.hactive, 641);
	assert_int_equal(t.vactive, 479);
	assert_int_equal(t.hactive + t.hblank, 648 + 160);
}

static void test_monitor_name(void **state)
{
	(void)state;
	static const char expected[13] = "dmabridge\n   ";
	uint8_t edid[DMAB_EDID_BLOCK_SIZE];

	generate(edid, 800, 600, "x");
	const uint8_t *d = find_descriptor(edid, 0xfc);
	assert_non_null(d);
	assert_memory_equal(d + 5, expected, sizeof(expected));
}

/* The range limits must contain the DTD (what edid-decode also checks, more loosely). */
static void check_range_limits(const uint8_t *edid, uint32_t w, uint32_t h)
{
	struct dtd t;

	decode_dtd(edid + 54, &t);
	const uint8_t *d = find_descriptor(edid, 0xfd);
	if (!d)
		fail_msg("%ux%u: no range limits descriptor", w, h);

	uint64_t clock = t.clock_10khz * 10000ull;
	uint64_t htotal = t.hactive + t.hblank;
	uint64_t frame = htotal * (t.vactive + t.vblank);
	/* No +255 offsets, so the bytes are the values. */
	assert_int_equal(d[4], 0);
	assert_true(d[5] >= 1 && d[5] * frame <= clock);
	assert_true(d[6] * frame >= clock);
	assert_true(d[7] >= 1 && d[7] * 1000 * htotal <= clock);
	assert_true(d[8] * 1000 * htotal >= clock);
	assert_true(d[9] * 10000000ull >= clock);
	assert_true((d[9] - 1) * 10000000ull < clock);
	/* Bare limits, no secondary timing formula. */
	assert_int_equal(d[10], 0x01);
}

static void test_range_limits(void **state)
{
	(void)state;
	uint8_t edid[DMAB_EDID_BLOCK_SIZE];

	for (size_t i = 0; i < N_MODES; i++) {
		generate(edid, modes[i].w, modes[i].h, NULL);
		check_range_limits(edid, modes[i].w, modes[i].h);
	}
}

/* 1, 2, ... growing by ~3% a step, and 4095 last; then 4096 to stop. */
static uint32_t sweep_next(uint32_t v)
{
	if (v == 4095)
		return 4096;
	return v + 1 + v / 32 < 4095 ? v + 1 + v / 32 : 4095;
}

/* A sweep of the whole range, edges included, with the checks that need no tool. */
static void test_mode_sweep(void **state)
{
	(void)state;
	uint8_t edid[DMAB_EDID_BLOCK_SIZE];
	struct dtd t;

	for (uint32_t w = 1; w <= 4095; w = sweep_next(w)) {
		for (uint32_t h = 1; h <= 4095; h = sweep_next(h)) {
			generate(edid, w, h, "sweep");
			assert_int_equal(sum_block(edid), 0);
			decode_dtd(edid + 54, &t);
			if (t.hactive != w || t.vactive != h || t.clock_10khz < 1000)
				fail_msg("%ux%u: DTD %ux%u at %u0 kHz", w, h,
						t.hactive, t.vactive, t.clock_10khz);
			check_range_limits(edid, w, h);

			uint32_t hz = dmab_edid_refresh_hz(w, h);
			uint64_t frame = (uint64_t)(t.hactive + t.hblank) * (t.vactive + t.vblank);
			if (hz < 30 || t.clock_10khz * 10000ull > hz * frame ||
					t.clock_10khz * 10000ull + 250000 <= hz * frame)
				fail_msg("%ux%u: %u Hz but %u0 kHz for %llu pixels", w, h,
						hz, t.clock_10khz, (unsigned long long)frame);
		}
	}
}

static void test_physical_size(void **state)
{
	(void)state;
	uint8_t edid[DMAB_EDID_BLOCK_SIZE];
	struct dtd t;

	/* 96 DPI: 1920 px = 20 in = 508 mm. */
	generate(edid, 1920, 1080, NULL);
	decode_dtd(edid + 54, &t);
	assert_int_equal(t.w_mm, 508);
	assert_int_equal(t.h_mm, 286);
	assert_int_equal(edid[21], 51);
	assert_int_equal(edid[22], 29);

	/* Tiny: the short side is raised to 10 cm, keeping square pixels. */
	generate(edid, 64, 32, NULL);
	decode_dtd(edid + 54, &t);
	assert_int_equal(t.w_mm, 200);
	assert_int_equal(t.h_mm, 100);
	assert_int_equal(edid[21], 20);
	assert_int_equal(edid[22], 10);

	generate(edid, 1, 4095, NULL);
	assert_int_equal(edid[21], 10);
	assert_int_equal(edid[22], 255);
}

static void test_serial(void **state)
{
	(void)state;
	uint8_t a[DMAB_EDID_BLOCK_SIZE], b[DMAB_EDID_BLOCK_SIZE];

	generate(a, 1920, 1080, "domain-1/vdispl/0");
	generate(b, 1920, 1080, "domain-1/vdispl/0");
	assert_memory_equal(a, b, sizeof(a));
	assert_int_not_equal(serial_of(a), 0);

	generate(b, 1920, 1080, "domain-2/vdispl/0");
	assert_int_not_equal(serial_of(a), serial_of(b));
	/* Nothing but the serial (and so the checksum) depends on the id. */
	assert_memory_equal(a, b, 12);
	assert_memory_equal(a + 16, b + 16, DMAB_EDID_BLOCK_SIZE - 17);

	generate(a, 1920, 1080, NULL);
	assert_int_equal(serial_of(a), 0);
	memset(b, 0x5a, sizeof(b));
	generate(b, 1920, 1080, "");
	assert_int_equal(serial_of(b), 0);
	assert_memory_equal(a, b, sizeof(a));
}

static void test_reject(void **state)
{
	(void)state;
	static const struct mode bad[] = {
		{ 0, 1080 }, { 1920, 0 }, { 0, 0 }, { 4096, 1080 }, { 1920, 4096 },
		{ UINT32_MAX, 1 }, { 1, UINT32_MAX },
	};
	uint8_t edid[DMAB_EDID_BLOCK_SIZE], pristine[DMAB_EDID_BLOCK_SIZE];

	memset(pristine, 0x5a, sizeof(pristine));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(edid, pristine, sizeof(edid));
		assert_int_equal(dmab_edid_generate(edid, bad[i].w, bad[i].h, "id"), -EINVAL);
		assert_memory_equal(edid, pristine, sizeof(edid));
		assert_int_equal(dmab_edid_refresh_hz(bad[i].w, bad[i].h), 0);
	}
}

static void test_refresh_lowering(void **state)
{
	(void)state;
	uint8_t edid[DMAB_EDID_BLOCK_SIZE];
	struct dtd t;

	uint32_t hz = dmab_edid_refresh_hz(4095, 4095);
	assert_in_range(hz, 1, 59);
	generate(edid, 4095, 4095, NULL);
	decode_dtd(edid + 54, &t);

	uint64_t clock = t.clock_10khz * 10000ull;
	uint64_t frame = (uint64_t)(t.hactive + t.hblank) * (t.vactive + t.vblank);
	/* The DTD's refresh is the promised one (CVT only rounds the clock down by < 0.25 MHz). */
	assert_true(clock <= hz * frame);
	assert_true(clock + 250000 > hz * frame);
	/*
	 * A 60 Hz frame is never smaller, so 60 Hz really did not fit: even
	 * rounded down to the 0.25 MHz step it would be over 655.35 MHz.
	 */
	assert_true(60 * frame >= 655500000ull);

	/* Still 60 Hz where the clock fits: 3840x2160 is 533.25 MHz. */
	assert_int_equal(dmab_edid_refresh_hz(3840, 2160), 60);
	/* 4000x3000 needs 770 MHz at 60 Hz, 638.75 MHz at 50 Hz. */
	assert_int_equal(dmab_edid_refresh_hz(4000, 3000), 50);
	generate(edid, 4000, 3000, NULL);
	decode_dtd(edid + 54, &t);
	assert_int_equal(t.clock_10khz, 63875);
}

/*
 * Run edid-decode --check on the block. Returns whether it is clean: exit
 * status 0, "EDID conformity: PASS" and neither a "Warnings:" nor a
 * "Failures:" section (warnings alone still PASS with status 0).
 * The report is left in report.
 */
static bool edid_decode_clean(const uint8_t *edid, char *report, size_t size)
{
	char in_path[] = "/tmp/dmab-edid-XXXXXX";
	char out_path[] = "/tmp/dmab-edid-out-XXXXXX";
	int in_fd = mkstemp(in_path);
	assert_true(in_fd >= 0);
	int out_fd = mkstemp(out_path);
	assert_true(out_fd >= 0);
	unlink(out_path);
	assert_int_equal(write(in_fd, edid, DMAB_EDID_BLOCK_SIZE), DMAB_EDID_BLOCK_SIZE);
	close(in_fd);

	posix_spawn_file_actions_t actions;
	assert_int_equal(posix_spawn_file_actions_init(&actions), 0);
	assert_int_equal(posix_spawn_file_actions_adddup2(&actions, out_fd, STDOUT_FILENO), 0);
	assert_int_equal(posix_spawn_file_actions_adddup2(&actions, out_fd, STDERR_FILENO), 0);
	char *argv[] = { "edid-decode", "--check", in_path, NULL };
	pid_t pid;
	int ret = posix_spawn(&pid, EDID_DECODE, &actions, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&actions);
	int status = -1;
	if (ret == 0)
		assert_int_equal(waitpid(pid, &status, 0), pid);
	unlink(in_path);
	assert_int_equal(ret, 0);

	ssize_t len = pread(out_fd, report, size - 1, 0);
	close(out_fd);
	assert_true(len > 0);
	report[len] = '\0';

	return WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
		strstr(report, "\nEDID conformity: PASS\n") &&
		!strstr(report, "\nWarnings:") && !strstr(report, "\nFailures:");
}

static void check_with_edid_decode(const uint8_t *edid, uint32_t w, uint32_t h)
{
	static char report[65536];

	if (!edid_decode_clean(edid, report, sizeof(report)))
		fail_msg("%ux%u: edid-decode --check:\n%s", w, h, report);
}

static void test_edid_decode_modes(void **state)
{
	(void)state;
	uint8_t edid[DMAB_EDID_BLOCK_SIZE];

	for (size_t i = 0; i < N_MODES; i++) {
		generate(edid, modes[i].w, modes[i].h, "vdispl/0");
		check_with_edid_decode(edid, modes[i].w, modes[i].h);
	}
}

static void test_edid_decode_random_modes(void **state)
{
	(void)state;
	uint8_t edid[DMAB_EDID_BLOCK_SIZE];
	/* xorshift32 with a fixed seed, so that a failing mode fails again. */
	uint32_t x = 0x2545f491;

	for (int i = 0; i < 40; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		uint32_t w = x % 4095 + 1;
		uint32_t h = (x >> 12) % 4095 + 1;
		generate(edid, w, h, NULL);
		check_with_edid_decode(edid, w, h);
	}
}

static void fix_checksum(uint8_t *edid)
{
	edid[DMAB_EDID_BLOCK_SIZE - 1] -= sum_block(edid);
}

/* The check above must be able to fail, on warnings as well as on failures. */
static void test_edid_decode_catches_bad_blocks(void **state)
{
	(void)state;
	static char report[65536];
	uint8_t edid[DMAB_EDID_BLOCK_SIZE];

	generate(edid, 1920, 1080, NULL);
	assert_true(edid_decode_clean(edid, report, sizeof(report)));

	/* A 5x3 cm screen with a matching DTD: only a warning, and still PASS. */
	edid[21] = 5;
	edid[22] = 3;
	edid[54 + 12] = 50;
	edid[54 + 13] = 28;
	edid[54 + 14] = 0;
	fix_checksum(edid);
	assert_false(edid_decode_clean(edid, report, sizeof(report)));
	assert_non_null(strstr(report, "\nEDID conformity: PASS\n"));

	generate(edid, 1920, 1080, NULL);
	edid[127]++;
	assert_false(edid_decode_clean(edid, report, sizeof(report)));
}

int main(void)
{
	const struct CMUnitTest pure[] = {
		cmocka_unit_test(test_header_version_checksum),
		cmocka_unit_test(test_manufacturer),
		cmocka_unit_test(test_dtd_matches_mode),
		cmocka_unit_test(test_known_cvt_rb_timings),
		cmocka_unit_test(test_odd_width_keeps_exact_active),
		cmocka_unit_test(test_monitor_name),
		cmocka_unit_test(test_range_limits),
		cmocka_unit_test(test_mode_sweep),
		cmocka_unit_test(test_physical_size),
		cmocka_unit_test(test_serial),
		cmocka_unit_test(test_reject),
		cmocka_unit_test(test_refresh_lowering),
	};
	const struct CMUnitTest conformance[] = {
		cmocka_unit_test(test_edid_decode_modes),
		cmocka_unit_test(test_edid_decode_random_modes),
		cmocka_unit_test(test_edid_decode_catches_bad_blocks),
	};

	int failed = cmocka_run_group_tests_name("edid", pure, NULL, NULL);
	if (access(EDID_DECODE, X_OK) != 0) {
		fprintf(stderr, "%s not found: conformance tests skipped\n", EDID_DECODE);
		return failed ? 1 : 77;
	}
	failed += cmocka_run_group_tests_name("edid-decode", conformance, NULL, NULL);
	return failed ? 1 : 0;
}
