// SPDX-License-Identifier: MIT
/*
 * Four guests at once, each its own domain with its own resolution and
 * pixel format, two with guest-allocated buffers and two be-alloc, placed
 * on one screen by the configuration file with overlaps, so the composed
 * screen shows the z order. They flip in step (every frame of every guest
 * checked on its connector and on the screen), then freely for the
 * statistics; then the layout command and a SIGHUP reload of a changed
 * file move connectors, and the screen must follow.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <drm_fourcc.h>

#include "tests/integration/harness.h"

#define STEP_MS 20000
#define SHOW_MS 2000

#define SCREEN_W 1024
#define SCREEN_H 600
#define NGUESTS 4
#define LOCKSTEP 3              /* frames flipped in step with the test */
#define FINAL_FRAME 50

enum step {
	STEP_FREE = LOCKSTEP + 1,   /* about to flip freely until told to stop */
	STEP_FINAL,                 /* the final frame is on screen */
};

static int failures;

struct place {
	int32_t x, y, z;
	bool visible;
};

struct gspec {
	const char *uid;
	uint32_t width, height, fourcc;
	bool be_alloc;
	struct place at;            /* as the configuration file first has it */
};

/*
 * A and B overlap (B in front), B and D overlap (B in front), C is alone.
 * Every z is different, so the order is never a tie.
 */
static const struct gspec gspecs[NGUESTS] = {
	{ "gA", 400, 300, DRM_FORMAT_XRGB8888, false, { 0, 0, 0, true } },
	{ "gB", 320, 240, DRM_FORMAT_RGB565, false, { 300, 200, 5, true } },
	{ "gC", 256, 192, DRM_FORMAT_XRGB1555, true, { 700, 0, 1, true } },
	{ "gD", 200, 150, DRM_FORMAT_RGB888, true, { 250, 380, 2, true } },
};

/* Frame f of guest i shows picture f + 100 * i: no two guests alike. */
static uint32_t picture(unsigned int i, uint32_t f)
{
	return f + 100 * i;
}

/* ---- guests ---- */

struct guest {
	struct dmab_test_server *server;
	struct dmab_ts_sync sync;
	unsigned int index;
};

static bool flipped;

static void handle_flip(void *data, unsigned int index, struct dmab_client_buffer *buffer)
{
	flipped = true;
}

static int flip_shown(struct dmab_client *client, struct dmab_client_buffer *b)
{
	flipped = false;
	int ret = dmab_client_flip(client, 0, b);
	if (ret == 0)
		ret = dmab_ts_dispatch_until(client, &flipped, 3000);
	if (ret)
		fprintf(stderr, "guest: flip: %s\n", strerror(-ret));
	return ret;
}

static int guest_main(void *data)
{
	struct guest *g = data;
	const struct gspec *sp = &gspecs[g->index];
	struct dmab_client_connector_spec spec = { sp->width, sp->height, sp->uid };
	struct dmab_client_options options;
	dmab_ts_client_options(g->server, &options);
	options.create_device = true;
	options.be_alloc = sp->be_alloc;
	options.connectors = &spec;
	options.connector_count = 1;
	struct dmab_client *client;
	GUEST_CHECK(dmab_client_connect(&options, &client) == 0);
	GUEST_CHECK(dmab_client_be_alloc(client) == sp->be_alloc);
	dmab_client_set_flip_handler(client, handle_flip, NULL);
	uint64_t domid = dmab_client_domid(client);

	struct dmab_client_buffer *bufs[2];
	for (int i = 0; i < 2; i++)
		GUEST_CHECK(dmab_client_buffer_create(client, sp->width, sp->height, sp->fourcc,
			&bufs[i]) == 0);

	/* In step with the test: every frame is checked. */
	for (uint32_t f = 0; f < LOCKSTEP; f++) {
		struct dmab_client_buffer *b = bufs[f % 2];
		dmab_ts_fill_format(dmab_client_buffer_data(b), dmab_client_buffer_stride(b),
			sp->width, sp->height, sp->fourcc, picture(g->index, f));
		if (f == 0)
			GUEST_CHECK(dmab_client_set_config(client, 0, b, 0, 0) == 0);
		else
			GUEST_CHECK(flip_shown(client, b) == 0);
		GUEST_CHECK(dmab_ts_sync_reach(&g->sync, f + 1, domid, NULL, STEP_MS) == 0);
	}

	/* Freely, as fast as the display takes them, until the test has its numbers. */
	GUEST_CHECK(dmab_ts_sync_reach(&g->sync, STEP_FREE, domid, NULL, STEP_MS) == 0);
	uint32_t n = LOCKSTEP;
	while (!dmab_ts_sync_poll(&g->sync, NULL))
		GUEST_CHECK(flip_shown(client, bufs[n++ % 2]) == 0);

	struct dmab_client_buffer *b = bufs[n % 2];
	dmab_ts_fill_format(dmab_client_buffer_data(b), dmab_client_buffer_stride(b),
		sp->width, sp->height, sp->fourcc, picture(g->index, FINAL_FRAME));
	GUEST_CHECK(flip_shown(client, b) == 0);
	GUEST_CHECK(dmab_ts_sync_reach(&g->sync, STEP_FINAL, domid, NULL, STEP_MS) == 0);
	dmab_client_destroy(client);
	return 0;
}

/* ---- the test ---- */

struct scene {
	struct place at[NGUESTS];
	uint32_t frame[NGUESTS];
};

/* The composed screen: each pixel from the guest in front there, else black. */
static uint64_t check_screen(const uint8_t *rgba, uint32_t width, uint32_t height, void *data)
{
	const struct scene *sc = data;
	if (width != SCREEN_W || height != SCREEN_H) {
		fprintf(stderr, "screen %ux%u, expected %ux%u\n", width, height, SCREEN_W, SCREEN_H);
		return UINT64_MAX;
	}
	uint64_t bad = 0;
	for (uint32_t y = 0; y < height; y++) {
		for (uint32_t x = 0; x < width; x++) {
			int top = -1;
			for (int i = 0; i < NGUESTS; i++) {
				const struct place *p = &sc->at[i];
				if (!p->visible || (int32_t)x < p->x || (int32_t)y < p->y ||
						(int32_t)x >= p->x + (int32_t)gspecs[i].width ||
						(int32_t)y >= p->y + (int32_t)gspecs[i].height)
					continue;
				if (top < 0 || p->z > sc->at[top].z)
					top = i;
			}
			uint32_t want = top < 0 ? 0xff000000u :
				dmab_ts_format_expect(gspecs[top].fourcc, picture((unsigned int)top,
					sc->frame[top]), x - (uint32_t)sc->at[top].x,
					y - (uint32_t)sc->at[top].y) | 0xff000000u;
			const uint8_t *p = rgba + ((size_t)y * width + x) * 4;
			uint32_t got = (uint32_t)p[3] << 24 | (uint32_t)p[0] << 16 |
				(uint32_t)p[1] << 8 | p[2];
			if (got != want) {
				if (!bad)
					fprintf(stderr, "screen %u,%u: 0x%08x, expected 0x%08x (%s)\n",
						x, y, got, want, top < 0 ? "black" : gspecs[top].uid);
				bad++;
			}
		}
	}
	return bad;
}

static void expect_screen(struct dmab_test_server *s, const struct scene *sc, uint32_t wait_ms)
{
	uint64_t bad = dmab_ts_shot_until(s, "screen:main", check_screen, (void *)sc, wait_ms);
	if (bad)
		fprintf(stderr, "the composed screen is wrong in %" PRIu64 " pixels\n",
			bad == UINT64_MAX ? 0 : bad);
	CHECK(bad == 0);
}

struct conn_expect {
	unsigned int index;
	uint32_t frame;
};

static uint64_t check_conn(const uint8_t *rgba, uint32_t width, uint32_t height, void *data)
{
	const struct conn_expect *e = data;
	const struct gspec *sp = &gspecs[e->index];
	if (width != sp->width || height != sp->height)
		return UINT64_MAX;
	return dmab_ts_check_format(rgba, width, 0, 0, width, height, sp->fourcc,
		picture(e->index, e->frame), true);
}

static void expect_conn(struct dmab_test_server *s, unsigned int i, uint32_t frame,
		uint32_t wait_ms)
{
	char target[64];
	snprintf(target, sizeof(target), "connector:%s", gspecs[i].uid);
	struct conn_expect e = { i, frame };
	uint64_t bad = dmab_ts_shot_until(s, target, check_conn, &e, wait_ms);
	if (bad)
		fprintf(stderr, "%s: frame %u wrong in %" PRIu64 " pixels\n", gspecs[i].uid, frame,
			bad == UINT64_MAX ? 0 : bad);
	CHECK(bad == 0);
}

static void write_config(const char *path, const struct place *at)
{
	FILE *f = fopen(path, "w");
	if (!f) {
		failures++;
		return;
	}
	fprintf(f, "[screen.main]\nwidth = %d\nheight = %d\n", SCREEN_W, SCREEN_H);
	for (int i = 0; i < NGUESTS; i++)
		fprintf(f, "\n[connector.%s]\nx = %d\ny = %d\nz = %d\nvisible = %s\n", gspecs[i].uid,
			at[i].x, at[i].y, at[i].z, at[i].visible ? "yes" : "no");
	CHECK(fclose(f) == 0);
}

static char *config_text(const struct place *at)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	fprintf(f, "[screen.main]\nwidth = %d\nheight = %d\n", SCREEN_W, SCREEN_H);
	for (int i = 0; i < NGUESTS; i++)
		fprintf(f, "\n[connector.%s]\nx = %d\ny = %d\nz = %d\n", gspecs[i].uid,
			at[i].x, at[i].y, at[i].z);
	fclose(f);
	return text;
}

static json_object *get(json_object *o, const char *key)
{
	json_object *v = NULL;
	return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static struct {
	struct dmab_test_server *server;
	uint64_t domid[NGUESTS];
} ctx;

/* Every connector has a frame rate over a whole second by now. */
static bool all_have_fps(void *data)
{
	for (int i = 0; i < NGUESTS; i++) {
		char id[48];
		snprintf(id, sizeof(id), "%" PRIu64 "/0/0", ctx.domid[i]);
		json_object *st = dmab_ts_connector_stats(ctx.server, id);
		bool ok = st && json_object_get_double(get(st, "fps")) > 0;
		if (st)
			json_object_put(st);
		if (!ok)
			return false;
	}
	return true;
}

/* Connector 0 of guest i is at place p, per status. */
static bool status_place_is(struct dmab_test_server *s, unsigned int i, const struct place *p)
{
	json_object *g = dmab_ts_guest_status(s, (unsigned int)ctx.domid[i], 0);
	json_object *conns = get(g, "connectors");
	json_object *pl = conns && json_object_array_length(conns) == 1 ?
		get(json_object_array_get_idx(conns, 0), "place") : NULL;
	bool ok = pl && json_object_get_int(get(pl, "x")) == p->x &&
		json_object_get_int(get(pl, "y")) == p->y &&
		json_object_get_int(get(pl, "z")) == p->z &&
		json_object_get_boolean(get(pl, "visible")) == p->visible &&
		!strcmp(json_object_get_string(get(pl, "screen")), "main");
	if (g)
		json_object_put(g);
	return ok;
}

struct reload_wait {
	struct dmab_test_server *server;
	const struct place *at;
};

static bool reloaded(void *data)
{
	struct reload_wait *w = data;
	for (unsigned int i = 0; i < NGUESTS; i++) {
		if (!status_place_is(w->server, i, &w->at[i]))
			return false;
	}
	return true;
}

static const char *zero_copy_or_copy(void)
{
	/*
	 * Guest-allocated buffers are zero copy where the simulator can make a
	 * dma-buf of them (the client allocates from the system heap, or
	 * udmabuf over its memory), copied otherwise, like x86 Xen.
	 */
	bool heap = access("/dev/dma_heap/system", R_OK) == 0;
	bool udmabuf = access("/dev/udmabuf", R_OK | W_OK) == 0;
	return heap || udmabuf ? "zero-copy" : "copy";
}

static void check_status(struct dmab_test_server *s)
{
	json_object *r = dmab_ts_ctl(s, "{\"cmd\":\"status\"}", -1);
	json_object *guests = get(r, "guests");
	CHECK(guests && json_object_array_length(guests) == NGUESTS);
	for (int i = 0; i < NGUESTS; i++) {
		json_object *g = dmab_ts_guest_status(s, (unsigned int)ctx.domid[i], 0);
		CHECK(g);
		if (!g)
			continue;
		CHECK(json_object_get_boolean(get(g, "connected")));
		CHECK(!strcmp(json_object_get_string(get(g, "state")), "Connected"));
		CHECK(json_object_get_boolean(get(g, "be_alloc")) == gspecs[i].be_alloc);
		json_object *conn = json_object_array_get_idx(get(g, "connectors"), 0);
		CHECK(conn && !strcmp(json_object_get_string(get(conn, "unique_id")), gspecs[i].uid));
		CHECK(json_object_get_int64(get(conn, "width")) == gspecs[i].width);
		CHECK(json_object_get_int64(get(conn, "height")) == gspecs[i].height);
		json_object *bufs = get(g, "buffers");
		CHECK(bufs && json_object_array_length(bufs) == 2);
		const char *want = gspecs[i].be_alloc ? "be-alloc" : zero_copy_or_copy();
		for (size_t j = 0; bufs && j < json_object_array_length(bufs); j++) {
			const char *import = json_object_get_string(get(json_object_array_get_idx(bufs, j),
				"import"));
			if (strcmp(import, want))
				fprintf(stderr, "%s: buffer %zu reaches the display as %s, expected %s\n",
					gspecs[i].uid, j, import, want);
			CHECK(!strcmp(import, want));
			/* A host buffer says what it is made of; a guest's own memory is the guest's. */
			json_object *memory = get(json_object_array_get_idx(bufs, j), "memory");
			const char *m = memory ? json_object_get_string(memory) : NULL;
			CHECK(gspecs[i].be_alloc ? m && (!strcmp(m, "memfd") || !strcmp(m, "udmabuf") ||
				!strcmp(m, "dma-buf heap")) : !m);
		}
		json_object_put(g);
	}
	if (r)
		json_object_put(r);
}

/*
 * While the guests flip (running): rates and latencies. Once they stopped:
 * every flip was presented and reported.
 */
static void check_stats(struct dmab_test_server *s, bool running)
{
	for (int i = 0; i < NGUESTS; i++) {
		char id[48];
		snprintf(id, sizeof(id), "%" PRIu64 "/0/0", ctx.domid[i]);
		json_object *st = dmab_ts_connector_stats(s, id);
		CHECK(st);
		if (!st)
			continue;
		int64_t frames = json_object_get_int64(get(st, "frames"));
		int64_t flips = json_object_get_int64(get(st, "flips"));
		double fps = json_object_get_double(get(st, "fps"));
		int64_t p50 = json_object_get_int64(get(st, "latency_p50_us"));
		int64_t p99 = json_object_get_int64(get(st, "latency_p99_us"));
		int64_t copied = json_object_get_int64(get(st, "bytes_copied"));
		fprintf(stderr, "%s: %" PRId64 " frames, %" PRId64 " flips, %.1f fps, p50 %" PRId64
			" us, p99 %" PRId64 " us, %" PRId64 " octets copied\n", gspecs[i].uid, frames,
			flips, fps, p50, p99, copied);
		CHECK(!strcmp(json_object_get_string(get(st, "unique_id")), gspecs[i].uid));
		CHECK(frames >= LOCKSTEP - 1);
		if (running) {
			/* One flip may be on its way to the screen. */
			CHECK(frames == flips || frames + 1 == flips);
			/* A 60 Hz connector: sane, not a speed target. */
			CHECK(fps > 0 && fps < 61 * 1.05);
		} else {
			CHECK(frames == flips);
		}
		CHECK(p50 > 0 && p99 >= p50);
		/* Latency is request to screen: no more than a few refreshes here. */
		CHECK(p50 < 1000000);
		/* Only guest-allocated buffers without zero copy are copied. */
		if (gspecs[i].be_alloc || !strcmp(zero_copy_or_copy(), "zero-copy"))
			CHECK(copied == 0);
		else
			CHECK(copied >= (int64_t)gspecs[i].width * gspecs[i].height * 2 * frames);
		CHECK(json_object_get_int64(get(st, "errors")) == 0);
		CHECK(json_object_get_int64(get(st, "events_dropped")) == 0);
		json_object_put(st);
	}
}

static bool wait_all(struct dmab_ts_sync *syncs, uint32_t want)
{
	bool ok = true;
	for (int i = 0; i < NGUESTS; i++) {
		uint32_t step;
		uint64_t value;
		int ret = dmab_ts_sync_wait(&syncs[i], &step, &value, STEP_MS);
		if (ret || step != want) {
			fprintf(stderr, "guest %s: expected at step %u: %s (step %u)\n", gspecs[i].uid,
				want, ret ? strerror(-ret) : "wrong step", ret ? 0 : step);
			failures++;
			ok = false;
			continue;
		}
		ctx.domid[i] = value;
	}
	return ok;
}

static void go_all(struct dmab_ts_sync *syncs)
{
	for (int i = 0; i < NGUESTS; i++)
		dmab_ts_sync_go(&syncs[i], 0);
}

int main(void)
{
	struct place at[NGUESTS];
	for (int i = 0; i < NGUESTS; i++)
		at[i] = gspecs[i].at;
	char *config = config_text(at);
	struct dmab_test_server server;
	int ret = dmab_ts_start(&server, config, NULL);
	free(config);
	if (ret)
		return 1;
	ctx.server = &server;

	struct guest guests[NGUESTS];
	struct dmab_ts_sync syncs[NGUESTS];
	pid_t pids[NGUESTS];
	for (unsigned int i = 0; i < NGUESTS; i++) {
		if (dmab_ts_sync_open(&syncs[i]))
			return 1;
		guests[i] = (struct guest){ .server = &server, .sync = syncs[i], .index = i };
		pids[i] = dmab_ts_guest(guest_main, &guests[i]);
		dmab_ts_sync_parent(&syncs[i]);
	}

	struct scene sc;
	memcpy(sc.at, at, sizeof(at));

	fprintf(stderr, "%d guests flipping in step\n", NGUESTS);
	for (uint32_t f = 0; f < LOCKSTEP; f++) {
		if (!wait_all(syncs, f + 1))
			goto out;
		for (unsigned int i = 0; i < NGUESTS; i++) {
			expect_conn(&server, i, f, f == 0 ? SHOW_MS : 0);
			sc.frame[i] = f;
		}
		expect_screen(&server, &sc, 0);
		if (f == 0)
			check_status(&server);
		go_all(syncs);
	}

	fprintf(stderr, "flipping freely\n");
	if (!wait_all(syncs, STEP_FREE))
		goto out;
	go_all(syncs);
	CHECK(dmab_ts_wait(all_have_fps, NULL, 15000));
	check_stats(&server, true);
	go_all(syncs);   /* stop */
	if (!wait_all(syncs, STEP_FINAL))
		goto out;
	for (unsigned int i = 0; i < NGUESTS; i++) {
		expect_conn(&server, i, FINAL_FRAME, 0);
		sc.frame[i] = FINAL_FRAME;
	}
	expect_screen(&server, &sc, 0);
	check_status(&server);
	check_stats(&server, false);

	fprintf(stderr, "layout: gD in front of gB, gC hidden\n");
	json_object *r = dmab_ts_ctl(&server, "{\"cmd\":\"layout\",\"connector\":\"gD\","
		"\"x\":600,\"y\":300,\"z\":7}", -1);
	CHECK(r && json_object_get_boolean(get(r, "ok")));
	CHECK(json_object_get_int(get(get(r, "place"), "x")) == 600);
	if (r)
		json_object_put(r);
	char req[128];
	snprintf(req, sizeof(req), "{\"cmd\":\"layout\",\"connector\":\"%" PRIu64 "/0/0\","
		"\"visible\":false}", ctx.domid[2]);
	r = dmab_ts_ctl(&server, req, -1);
	CHECK(r && json_object_get_boolean(get(r, "ok")));
	if (r)
		json_object_put(r);
	sc.at[3] = (struct place){ 600, 300, 7, true };
	sc.at[2].visible = false;
	CHECK(status_place_is(&server, 3, &sc.at[3]));
	CHECK(status_place_is(&server, 2, &sc.at[2]));
	expect_screen(&server, &sc, 0);
	/* Hidden from the screen, it still runs and shows on its own. */
	expect_conn(&server, 2, FINAL_FRAME, 0);

	fprintf(stderr, "SIGHUP: gA moved in front of gB, gC back\n");
	struct place next[NGUESTS];
	memcpy(next, sc.at, sizeof(next));
	next[0] = (struct place){ 20, 10, 10, true };
	next[2].visible = true;
	write_config(server.config, next);
	CHECK(kill(server.pid, SIGHUP) == 0);
	struct reload_wait w = { &server, next };
	CHECK(dmab_ts_wait(reloaded, &w, 5000));
	memcpy(sc.at, next, sizeof(next));
	expect_screen(&server, &sc, 0);
	CHECK(dmab_ts_log_count(&server, "reloaded") == 1);

	/* A file with an error is refused whole: nothing moves. */
	FILE *bad = fopen(server.config, "a");
	if (bad) {
		fputs("[connector.gB]\nx = 10\nbogus = 1\n", bad);
		fclose(bad);
	}
	r = dmab_ts_ctl(&server, "{\"cmd\":\"reload\"}", -1);
	CHECK(r && !json_object_get_boolean(get(r, "ok")));
	if (r)
		json_object_put(r);
	CHECK(reloaded(&w));
	expect_screen(&server, &sc, 0);
	go_all(syncs);

out:
	for (int i = 0; i < NGUESTS; i++) {
		int status = dmab_ts_guest_wait(pids[i], STEP_MS);
		if (status != 0)
			fprintf(stderr, "guest %s exited with %d\n", gspecs[i].uid, status);
		CHECK(status == 0);
		dmab_ts_sync_close(&syncs[i]);
	}
	int status = dmab_ts_stop(&server);
	CHECK(status == 0);
	fprintf(stderr, "%d failures\n", failures);
	return failures ? 1 : 0;
}
