// SPDX-License-Identifier: MIT
/* The server's parts that need no guest: configuration, statistics, pixels. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <png.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <drm_fourcc.h>

#include "server/config.h"
#include "server/copier.h"
#include "server/pixels.h"
#include "server/stats.h"

static char *write_ini(const char *text)
{
	char *path = strdup("/tmp/dmab-config-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static int load(struct dmab_config *c, const char *text, char *err, size_t len)
{
	char *path = write_ini(text);
	dmab_config_defaults(c);
	int ret = dmab_config_load(c, path, err, len);
	unlink(path);
	free(path);
	return ret;
}

static void config_defaults(void **state)
{
	struct dmab_config c;
	dmab_config_defaults(&c);
	assert_int_equal(c.hv, DMAB_HV_KIND_SIM);
	assert_int_equal(c.nscreens, 1);
	assert_string_equal(c.screens[0].name, "main");
	assert_int_equal(c.screens[0].width, 1920);
	assert_int_equal(c.limits.max_buffers, 32);
	assert_true(c.release_timeout_ms < 3000);
}

static void config_full(void **state)
{
	struct dmab_config c;
	char err[256];
	assert_int_equal(load(&c,
		"; comment\n"
		"[server]\nhypervisor = xen\nlog-level = debug\nrelease-timeout-ms = 1500\n"
		"control-socket = /run/x.sock\n"
		"[limits]\nmax-buffers = 4\nmax-bytes = 8589934592\nrequests-per-second = 0\n"
		"[screen.left]\nwidth = 800\nheight = 600\nrefresh = 30\n"
		"[screen.right]\nwidth = 1024\n"
		"[connector.cluster0]\nscreen = right\nx = -10\ny = 20\nz = 5\nvisible = no\n"
		"[connector.ivi]\nz = 1\n", err, sizeof(err)), 0);
	assert_int_equal(c.hv, DMAB_HV_KIND_XEN);
	assert_int_equal(c.log_level, DMAB_LOG_DEBUG);
	assert_int_equal(c.release_timeout_ms, 1500);
	assert_string_equal(c.control_socket, "/run/x.sock");
	assert_int_equal(c.limits.max_buffers, 4);
	assert_true(c.limits.max_bytes == 8589934592ull);
	assert_int_equal(c.limits.requests_per_second, 0);
	/* The file's screens replace the default one. */
	assert_int_equal(c.nscreens, 2);
	assert_string_equal(c.screens[0].name, "left");
	assert_int_equal(c.screens[0].refresh_mhz, 30000);
	assert_int_equal(c.screens[1].width, 1024);
	assert_int_equal(c.screens[1].height, 1080);

	const struct dmab_config_place *p = dmab_config_find_place(&c, "cluster0");
	assert_non_null(p);
	assert_string_equal(p->screen, "right");
	assert_int_equal(p->x, -10);
	assert_int_equal(p->z, 5);
	assert_false(p->visible);
	assert_true(p->has_position);
	p = dmab_config_find_place(&c, "ivi");
	assert_non_null(p);
	assert_false(p->has_position);
	assert_true(p->visible);
	assert_null(dmab_config_find_place(&c, "nobody"));
	assert_null(dmab_config_find_place(&c, ""));
}

/* Places bound to a domain, and unique-ids longer than a section name may be. */
static void config_bound_places(void **state)
{
	struct dmab_config c;
	char err[256];
	static const char long_id[] =
		"a-unique-id-of-sixty-four-characters-0123456789012345678901234567";
	char text[1024];
	snprintf(text, sizeof(text),
		"[connector.cluster]\nunique-id = cluster0\ndomain = cluster-vm\nz = 10\n"
		"[connector.cluster-any]\nunique-id = cluster0\nz = 1\n"
		"[connector.rear]\nunique-id = rear0\ndomid = 7\n"
		"[connector.both]\nunique-id = b\ndomid = 3\ndomain = bvm\n"
		"[connector.long]\nunique-id = %s\n"
		"[connector.ivi0]\nx = 1\ny = 2\n", long_id + 1);
	assert_int_equal(strlen(long_id + 1), 64);
	assert_int_equal(load(&c, text, err, sizeof(err)), 0);
	assert_int_equal(c.nplaces, 6);

	const struct dmab_config_place *cluster = dmab_config_find_place(&c, "cluster");
	assert_non_null(cluster);
	assert_string_equal(cluster->unique_id, "cluster0");
	assert_true(dmab_config_place_bound(cluster));
	assert_true(dmab_config_place_matches(cluster, 5, "cluster-vm", "cluster0"));
	/* Another domain calling its connector cluster0 is not the cluster. */
	assert_false(dmab_config_place_matches(cluster, 6, "evil", "cluster0"));
	assert_false(dmab_config_place_matches(cluster, 6, NULL, "cluster0"));
	assert_false(dmab_config_place_matches(cluster, 5, "cluster-vm", "cluster1"));

	const struct dmab_config_place *any = dmab_config_find_place(&c, "cluster-any");
	assert_false(dmab_config_place_bound(any));
	assert_true(dmab_config_place_matches(any, 6, "evil", "cluster0"));
	assert_true(dmab_config_place_matches(any, 6, NULL, "cluster0"));

	const struct dmab_config_place *rear = dmab_config_find_place(&c, "rear");
	assert_true(dmab_config_place_bound(rear));
	assert_true(dmab_config_place_matches(rear, 7, "whatever", "rear0"));
	assert_false(dmab_config_place_matches(rear, 8, "whatever", "rear0"));

	const struct dmab_config_place *both = dmab_config_find_place(&c, "both");
	assert_true(dmab_config_place_matches(both, 3, "bvm", "b"));
	assert_false(dmab_config_place_matches(both, 4, "bvm", "b"));
	assert_false(dmab_config_place_matches(both, 3, "other", "b"));

	const struct dmab_config_place *lp = dmab_config_find_place(&c, "long");
	assert_string_equal(lp->unique_id, long_id + 1);
	assert_true(dmab_config_place_matches(lp, 1, NULL, long_id + 1));

	/* Without unique-id, the label is the unique-id. */
	const struct dmab_config_place *ivi = dmab_config_find_place(&c, "ivi0");
	assert_string_equal(ivi->unique_id, "ivi0");
	assert_false(dmab_config_place_bound(ivi));
}

/* A KMS output's screens are its connectors: a place may name one before it exists. */
static void config_drm(void **state)
{
	struct dmab_config c;
	char err[256] = "";
	assert_int_equal(load(&c, "[server]\noutput = drm headless\n[drm]\ndevice = /dev/dri/card1\n"
		"repaint-window-ms = 4\n[connector.c0]\nscreen = HDMI-A-1\n", err, sizeof(err)), 0);
	assert_int_equal(c.noutputs, 2);
	assert_string_equal(c.outputs[0], "drm");
	assert_string_equal(c.outputs[1], "headless");
	assert_string_equal(c.drm.device, "/dev/dri/card1");
	assert_int_equal(c.drm.repaint_window_us, 4000);
	assert_int_equal(c.drm.overlay_planes, -1);
	assert_int_equal(load(&c, "[server]\noutput = drm\n[drm]\noverlay-planes = 0\n", err,
		sizeof(err)), 0);
	assert_int_equal(c.drm.overlay_planes, 0);
	assert_int_equal(load(&c, "[server]\noutput = drm\n[drm]\noverlay-planes = all\n", err,
		sizeof(err)), 0);
	assert_int_equal(c.drm.overlay_planes, -1);
	assert_int_equal(load(&c, "[server]\noutput = drm\n[drm]\noverlay-planes = -1\n", err,
		sizeof(err)), -EINVAL);
	/* Headless alone: every screen is known at load. */
	assert_int_equal(load(&c, "[connector.c0]\nscreen = HDMI-A-1\n", err, sizeof(err)),
		-EINVAL);
	assert_int_equal(load(&c, "[server]\noutput = drm drm\n", err, sizeof(err)), -EINVAL);
	assert_int_equal(load(&c, "[server]\noutput = kms\n", err, sizeof(err)), -EINVAL);
	assert_int_equal(load(&c, "[drm]\ndevice = card1\n", err, sizeof(err)), -EINVAL);
}

/* A configuration path that is not a readable file is an error, not the defaults. */
static void config_not_a_file(void **state)
{
	struct dmab_config c;
	char err[256] = "";
	char dir[] = "/tmp/dmab-config-dir-XXXXXX";
	assert_non_null(mkdtemp(dir));
	dmab_config_defaults(&c);
	assert_int_equal(dmab_config_load(&c, dir, err, sizeof(err)), -EISDIR);
	assert_non_null(strstr(err, dir));
	rmdir(dir);
	assert_int_equal(dmab_config_load(&c, "/dev/null", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a file"));
}

static void config_errors(void **state)
{
	static const struct {
		const char *text;
		const char *needle;
	} bad[] = {
		{ "[server]\nhypervisor = kvm\n", ":2: [server] hypervisor = kvm" },
		{ "[server]\nunknown = 1\n", "unknown = 1" },
		{ "[limits]\nmax-buffers = 0\n", "max-buffers = 0" },
		{ "[limits]\nmax-buffers = -1\n", "max-buffers = -1" },
		{ "[limits]\nmax-width = 99999\n", "max-width" },
		{ "[limits]\nmax-bytes = 18446744073709551616\n", "max-bytes" },
		{ "[screen.a]\nwidth = 0\n", "width = 0" },
		{ "[screen.a]\nrefresh = x\n", "refresh" },
		{ "[connector.c]\nx = 1.5\n", "x = 1.5" },
		{ "[connector.c]\nvisible = maybe\n", "visible" },
		{ "[connector.c]\nscreen = nowhere\n", "names screen \"nowhere\"" },
		{ "[server]\nrelease-timeout-ms = 3000\n", "release-timeout-ms" },
		{ "[nothing]\nkey = value\n", "[nothing]" },
		{ "[server\n", "not INI" },
		/* inih cuts section names at 49 characters: what it kept could name anything. */
		{ "[connector.abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMN]\nz = 1\n",
			"section names are at most 47 characters" },
		{ "[connector.a b]\nz = 1\n", "a label is 1 to 38" },
		{ "[connector.]\nz = 1\n", "a label is 1 to 38" },
		{ "[connector.c]\nunique-id = a\x01b\n", "unique-id" },
		{ "[connector.c]\nunique-id = "
			"0123456789012345678901234567890123456789012345678901234567890123456789\n",
			"unique-id" },
		{ "[connector.c]\ndomid = 32752\n", "domid = 32752" },
		{ "[connector.c]\ndomid = -1\n", "domid = -1" },
		{ "[connector.a]\nunique-id = x\n[connector.b]\nunique-id = x\n",
			"[connector.a] and [connector.b] are both for unique-id x of any domain" },
		{ "[connector.a]\nunique-id = x\ndomain = vm\n"
			"[connector.b]\nunique-id = x\ndomain = vm\n",
			"both for unique-id x of the same domain" },
		{ "[connector.x]\nz = 1\n[connector.b]\nunique-id = x\n", "both for unique-id x" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct dmab_config c;
		char err[256] = "";
		assert_int_equal(load(&c, bad[i].text, err, sizeof(err)), -EINVAL);
		if (!strstr(err, bad[i].needle))
			fail_msg("\"%s\": error \"%s\" does not mention \"%s\"", bad[i].text, err,
				bad[i].needle);
	}
	struct dmab_config c;
	char err[256];
	dmab_config_defaults(&c);
	assert_int_equal(dmab_config_load(&c, "/nonexistent/dmab.ini", err, sizeof(err)), -ENOENT);
}

static void stats_latency(void **state)
{
	struct dmab_stats s;
	memset(&s, 0, sizeof(s));
	assert_int_equal(dmab_stats_latency_us(&s, 50), 0);
	/* 1..100 ms */
	for (uint64_t i = 1; i <= 100; i++)
		dmab_stats_frame(&s, 1000000000ull, 1000000000ull + i * 1000000ull);
	assert_int_equal(s.frames, 100);
	assert_int_equal(dmab_stats_latency_us(&s, 50), 50000);
	assert_int_equal(dmab_stats_latency_us(&s, 99), 99000);
	assert_int_equal(dmab_stats_latency_us(&s, 100), 100000);
	/* A frame nobody asked for (a SET_CONFIG) has no latency. */
	dmab_stats_frame(&s, 0, 5000000000ull);
	assert_int_equal(s.frames, 101);
	assert_int_equal(s.nsamples, 100);
	/* The sample ring keeps the newest. */
	for (int i = 0; i < DMAB_STATS_SAMPLES; i++)
		dmab_stats_frame(&s, 1, 1 + 7000);
	assert_int_equal(dmab_stats_latency_us(&s, 99), 7);
}

static void stats_fps(void **state)
{
	struct dmab_stats s;
	memset(&s, 0, sizeof(s));
	uint64_t t = 10000000000ull;
	/* 60 frames a second for three seconds. */
	for (int i = 0; i <= 180; i++)
		dmab_stats_frame(&s, 0, t + (uint64_t)i * 1000000000ull / 60);
	double fps = dmab_stats_fps(&s, t + 3000000000ull);
	assert_true(fps > 59.99 && fps < 60.01);
	/* Half a second in, the rate so far. */
	memset(&s, 0, sizeof(s));
	for (int i = 0; i <= 30; i++)
		dmab_stats_frame(&s, 0, t + (uint64_t)i * 1000000000ull / 60);
	fps = dmab_stats_fps(&s, t + 510000000ull);
	assert_true(fps > 59.99 && fps < 60.01);
	/* The first window is as exact as the later ones. */
	memset(&s, 0, sizeof(s));
	for (int i = 0; i <= 60; i++)
		dmab_stats_frame(&s, 0, t + (uint64_t)i * 1000000000ull / 60);
	fps = dmab_stats_fps(&s, t + 1000000000ull);
	assert_true(fps > 59.99 && fps < 60.01);
	/* Nothing for five seconds: zero. */
	assert_true(dmab_stats_fps(&s, t + 8000000000ull) == 0);
}

static uint32_t argb_at(pixman_image_t *img, int x, int y)
{
	uint32_t *row = (uint32_t *)((uint8_t *)pixman_image_get_data(img) +
		(size_t)y * (size_t)pixman_image_get_stride(img));
	return row[x];
}

static void pixels_formats(void **state)
{
	/* One pixel each of a known colour, converted to a8r8g8b8. */
	uint8_t xrgb[4] = { 0x33, 0x22, 0x11, 0x00 };    /* B G R X */
	uint8_t argb[4] = { 0x33, 0x22, 0x11, 0x80 };
	uint8_t rgb888[3] = { 0x33, 0x22, 0x11 };
	uint16_t rgb565 = 0xf800;                          /* red */
	uint16_t xrgb1555 = 0x03e0;                        /* green */
	uint16_t argb4444 = 0xf00f;                        /* opaque blue */

	pixman_image_t *img;
	img = dmab_pixels_to_argb(xrgb, 1, 1, 4, DRM_FORMAT_XRGB8888);
	assert_int_equal(argb_at(img, 0, 0), 0xff112233);
	pixman_image_unref(img);
	img = dmab_pixels_to_argb(argb, 1, 1, 4, DRM_FORMAT_ARGB8888);
	assert_int_equal(argb_at(img, 0, 0), 0x80112233);
	pixman_image_unref(img);
	img = dmab_pixels_to_argb(rgb888, 1, 1, 3, DRM_FORMAT_RGB888);
	assert_int_equal(argb_at(img, 0, 0), 0xff112233);
	pixman_image_unref(img);
	img = dmab_pixels_to_argb(&rgb565, 1, 1, 2, DRM_FORMAT_RGB565);
	assert_int_equal(argb_at(img, 0, 0), 0xffff0000);
	pixman_image_unref(img);
	img = dmab_pixels_to_argb(&xrgb1555, 1, 1, 2, DRM_FORMAT_XRGB1555);
	assert_int_equal(argb_at(img, 0, 0), 0xff00ff00);
	pixman_image_unref(img);
	img = dmab_pixels_to_argb(&argb4444, 1, 1, 2, DRM_FORMAT_ARGB4444);
	assert_int_equal(argb_at(img, 0, 0), 0xff0000ff);
	pixman_image_unref(img);
	/* A format dmabridge does not take. */
	assert_null(dmab_pixels_to_argb(xrgb, 1, 1, 4, DRM_FORMAT_NV12));
	assert_null(dmab_pixels_to_argb(xrgb, 0, 1, 4, DRM_FORMAT_XRGB8888));
}

static void pixels_packed_rows(void **state)
{
	/* 3x2 RGB565, rows packed (6 octets) as Linux 6.1 lays them out, misaligned. */
	uint8_t raw[1 + 12];
	uint16_t px[6] = { 0xf800, 0x07e0, 0x001f, 0xffff, 0x0000, 0xf800 };
	memcpy(raw + 1, px, sizeof(px));
	pixman_image_t *img = dmab_pixels_to_argb(raw + 1, 3, 2, 6, DRM_FORMAT_RGB565);
	assert_non_null(img);
	assert_int_equal(argb_at(img, 0, 0), 0xffff0000);
	assert_int_equal(argb_at(img, 1, 0), 0xff00ff00);
	assert_int_equal(argb_at(img, 2, 0), 0xff0000ff);
	assert_int_equal(argb_at(img, 0, 1), 0xffffffff);
	assert_int_equal(argb_at(img, 1, 1), 0xff000000);
	assert_int_equal(argb_at(img, 2, 1), 0xffff0000);
	pixman_image_unref(img);

	/* YUYV: white and black macropixels. */
	uint8_t yuyv[8] = { 235, 128, 235, 128, 16, 128, 16, 128 };
	img = dmab_pixels_to_argb(yuyv, 4, 1, 8, DRM_FORMAT_YUYV);
	assert_non_null(img);
	assert_true((argb_at(img, 0, 0) & 0xffffff) >= 0xf0f0f0);
	assert_true((argb_at(img, 3, 0) & 0xffffff) <= 0x101010);
	pixman_image_unref(img);
}

static void png_round_trip(void **state)
{
	pixman_image_t *img = pixman_image_create_bits(PIXMAN_a8r8g8b8, 3, 2, NULL, 0);
	uint32_t *data = pixman_image_get_data(img);
	int stride = pixman_image_get_stride(img) / 4;
	data[0] = 0xffff0000;
	data[1] = 0xff00ff00;
	data[2] = 0xff0000ff;
	data[stride] = 0x80123456;

	FILE *f = tmpfile();
	assert_int_equal(dmab_png_write(fileno(f), img), 0);
	rewind(f);
	png_image png;
	memset(&png, 0, sizeof(png));
	png.version = PNG_IMAGE_VERSION;
	assert_true(png_image_begin_read_from_stdio(&png, f));
	assert_int_equal(png.width, 3);
	assert_int_equal(png.height, 2);
	png.format = PNG_FORMAT_RGBA;
	uint8_t out[3 * 2 * 4];
	assert_true(png_image_finish_read(&png, NULL, out, 0, NULL));
	static const uint8_t want[] = { 0xff, 0, 0, 0xff, 0, 0xff, 0, 0xff, 0, 0, 0xff, 0xff };
	assert_memory_equal(out, want, sizeof(want));
	/* Premultiplied in pixman, straight in PNG. */
	assert_int_equal(out[12 + 3], 0x80);
	fclose(f);
	pixman_image_unref(img);
}

struct policy_job {
	struct dmab_copy_job job;
	int policy;
	bool done;
};

static bool record_policy(struct dmab_copy_job *job)
{
	struct policy_job *p = wl_container_of(job, p, job);
	p->policy = sched_getscheduler(0);
	return true;
}

static void policy_done(struct dmab_copy_job *job)
{
	struct policy_job *p = wl_container_of(job, p, job);
	p->done = true;
}

/*
 * Copies run on batch threads: woken by the loop, a worker must not take
 * the loop's CPU from it (every other guest's flip would wait for a slice
 * of the copy).
 */
static void copier_batch_workers(void **state)
{
	(void)state;
	struct wl_event_loop *loop = wl_event_loop_create();
	assert_non_null(loop);
	struct dmab_copier *c = dmab_copier_create(loop, 2);
	assert_non_null(c);
	struct policy_job p = { .job = { .run = record_policy, .done = policy_done },
		.policy = -1 };
	wl_list_init(&p.job.link);
	dmab_copier_submit(c, &p.job);
	for (int i = 0; i < 100 && !p.done; i++)
		wl_event_loop_dispatch(loop, 100);
	assert_true(p.done);
	assert_int_equal(p.policy, SCHED_BATCH);
	/* The loop's own thread is left as it was. */
	assert_int_equal(sched_getscheduler(0), SCHED_OTHER);
	dmab_copier_destroy(c);
	wl_event_loop_destroy(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(config_defaults),
		cmocka_unit_test(config_full),
		cmocka_unit_test(config_errors),
		cmocka_unit_test(config_bound_places),
		cmocka_unit_test(config_not_a_file),
		cmocka_unit_test(config_drm),
		cmocka_unit_test(stats_latency),
		cmocka_unit_test(stats_fps),
		cmocka_unit_test(pixels_formats),
		cmocka_unit_test(pixels_packed_rows),
		cmocka_unit_test(png_round_trip),
		cmocka_unit_test(copier_batch_workers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
