// SPDX-License-Identifier: MIT
/*
 * Every displif request through the real client library, and what the
 * server does with it as seen from outside: GET_EDID's bytes, SET_CONFIG
 * with a rectangle and turned off, FB_DETACH and DBUF_DESTROY of the
 * buffer on screen, a device with two connectors, all nine pixel formats
 * (checked against values worked out here, not by the server's code) and
 * widths whose packed rows are not a multiple of four octets. Guests are
 * child processes; the test looks at the server's screenshots and status
 * while a guest holds still between steps.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <drm_fourcc.h>

#include "client/frontend.h"
#include "client/request.h"
#include "protocol/edid.h"
#include "tests/integration/harness.h"

#define STEP_MS 20000   /* a step of a guest, generous for ASan */
#define SHOW_MS 2000    /* a SET_CONFIG reaching the screen (a refresh or two) */

#define SCREEN_W 1024
#define SCREEN_H 768

static int failures;

/* ---- the guest side ---- */

struct guest {
	struct dmab_test_server *server;
	struct dmab_ts_sync sync;
	bool be_alloc;
	uint32_t fourcc;                /* for the format and width tests */
	uint32_t width, height;
};

static bool flipped[4];

static void handle_flip(void *data, unsigned int index, struct dmab_client_buffer *buffer)
{
	if (index < 4)
		flipped[index] = true;
}

static int guest_connect(struct guest *g, const struct dmab_client_connector_spec *specs,
		unsigned int count, struct dmab_client **client)
{
	struct dmab_client_options options;
	dmab_ts_client_options(g->server, &options);
	options.create_device = true;
	options.be_alloc = g->be_alloc;
	options.connectors = specs;
	options.connector_count = count;
	int ret = dmab_client_connect(&options, client);
	if (ret) {
		fprintf(stderr, "guest: connect: %s\n", strerror(-ret));
		return ret;
	}
	dmab_client_set_flip_handler(*client, handle_flip, NULL);
	return 0;
}

/* Flip and wait for the backend to say it is on screen. */
static int flip_shown(struct dmab_client *client, unsigned int index,
		struct dmab_client_buffer *b)
{
	flipped[index] = false;
	int ret = dmab_client_flip(client, index, b);
	if (ret) {
		fprintf(stderr, "guest: flip on %u: %s\n", index, strerror(-ret));
		return ret;
	}
	ret = dmab_ts_dispatch_until(client, &flipped[index], 3000);
	if (ret)
		fprintf(stderr, "guest: no flip event on %u: %s\n", index, strerror(-ret));
	return ret;
}

static struct dmab_client_buffer *buffer_drawn(struct dmab_client *client, uint32_t width,
		uint32_t height, uint32_t fourcc, uint32_t f)
{
	struct dmab_client_buffer *b;
	int ret = dmab_client_buffer_create(client, width, height, fourcc, &b);
	if (ret) {
		fprintf(stderr, "guest: buffer %ux%u %.4s: %s\n", width, height,
			(const char *)&fourcc, strerror(-ret));
		return NULL;
	}
	dmab_ts_fill_format(dmab_client_buffer_data(b), dmab_client_buffer_stride(b),
		width, height, fourcc, f);
	return b;
}

static int reach(struct guest *g, struct dmab_client *client, uint32_t step)
{
	int ret = dmab_ts_sync_reach(&g->sync, step, dmab_client_domid(client), NULL, STEP_MS);
	if (ret)
		fprintf(stderr, "guest: no go after step %u: %s\n", step, strerror(-ret));
	return ret;
}

/* ---- the test side ---- */

/* What a screenshot should show: one frame in a rectangle, black elsewhere. */
struct expect {
	uint32_t width, height;         /* of the screenshot */
	uint32_t x, y, w, h;            /* the frame; w == 0: all black */
	uint32_t fourcc, f;
	bool alpha;
};

static uint64_t check_expect(const uint8_t *rgba, uint32_t width, uint32_t height, void *data)
{
	const struct expect *e = data;
	if (width != e->width || height != e->height) {
		fprintf(stderr, "screenshot %ux%u, expected %ux%u\n", width, height,
			e->width, e->height);
		return UINT64_MAX;
	}
	if (e->w == 0)
		return dmab_ts_check_black(rgba, width, 0, 0, width, height);
	uint64_t bad = dmab_ts_check_format(rgba, width, e->x, e->y, e->w, e->h, e->fourcc,
		e->f, e->alpha);
	/* Black around it: above, below, left and right of the rectangle. */
	bad += dmab_ts_check_black(rgba, width, 0, 0, width, e->y);
	bad += dmab_ts_check_black(rgba, width, 0, e->y + e->h, width, height - e->y - e->h);
	bad += dmab_ts_check_black(rgba, width, 0, e->y, e->x, e->h);
	bad += dmab_ts_check_black(rgba, width, e->x + e->w, e->y, width - e->x - e->w, e->h);
	return bad;
}

/* Check target now (after a flip event) or within SHOW_MS (after SET_CONFIG). */
static void expect_shot(struct dmab_test_server *s, const char *target, struct expect e,
		bool wait)
{
	uint64_t bad = dmab_ts_shot_until(s, target, check_expect, &e, wait ? SHOW_MS : 0);
	if (bad)
		fprintf(stderr, "%s: %" PRIu64 " pixels wrong\n", target,
			bad == UINT64_MAX ? 0 : bad);
	CHECK(bad == 0);
}

static bool expect_step(struct dmab_ts_sync *sync, uint32_t want, uint64_t *domid)
{
	uint32_t step;
	int ret = dmab_ts_sync_wait(sync, &step, domid, STEP_MS);
	if (ret || step != want) {
		fprintf(stderr, "expected the guest at step %u: %s (step %u)\n", want,
			ret ? strerror(-ret) : "wrong step", ret ? 0 : step);
		failures++;
		return false;
	}
	return true;
}

static bool server_start(struct dmab_test_server *s, const char *places)
{
	char config[1024];
	snprintf(config, sizeof(config), "[screen.main]\nwidth = %d\nheight = %d\n%s",
		SCREEN_W, SCREEN_H, places);
	if (dmab_ts_start(s, config, NULL)) {
		failures++;
		return false;
	}
	return true;
}

static void server_stop(struct dmab_test_server *s)
{
	int status = dmab_ts_stop(s);
	if (status != 0)
		fprintf(stderr, "dmabridged exited with %d\n", status);
	CHECK(status == 0);
}

static pid_t guest_start(struct guest *g, int (*fn)(void *))
{
	if (dmab_ts_sync_open(&g->sync)) {
		failures++;
		return -1;
	}
	pid_t pid = dmab_ts_guest(fn, g);
	dmab_ts_sync_parent(&g->sync);
	return pid;
}

static void guest_finish(struct guest *g, pid_t pid)
{
	int status = dmab_ts_guest_wait(pid, STEP_MS);
	if (status != 0)
		fprintf(stderr, "the guest exited with %d\n", status);
	CHECK(status == 0);
	dmab_ts_sync_close(&g->sync);
}

/* A connector's "enabled" and the number of buffers in status; -1 if absent. */
static void status_of(struct dmab_test_server *s, uint64_t domid, unsigned int index,
		int *enabled, int *nbuffers, const char *cookie, bool *has_cookie)
{
	*enabled = *nbuffers = -1;
	if (has_cookie)
		*has_cookie = false;
	json_object *g = dmab_ts_guest_status(s, (unsigned int)domid, 0), *v;
	if (!g)
		return;
	if (json_object_object_get_ex(g, "connectors", &v) &&
			index < json_object_array_length(v)) {
		json_object *c = json_object_array_get_idx(v, index), *e;
		if (json_object_object_get_ex(c, "enabled", &e))
			*enabled = json_object_get_boolean(e);
	}
	if (json_object_object_get_ex(g, "buffers", &v)) {
		*nbuffers = (int)json_object_array_length(v);
		for (size_t i = 0; cookie && i < json_object_array_length(v); i++) {
			json_object *c;
			if (json_object_object_get_ex(json_object_array_get_idx(v, i), "cookie", &c) &&
					!strcmp(json_object_get_string(c), cookie))
				*has_cookie = true;
		}
	}
	json_object_put(g);
}

/* ---- GET_EDID ---- */

static const struct dmab_client_connector_spec edid_specs[] = {
	{ 1280, 720, "edid-wide" },
	{ 641, 479, "edid-odd" },
	{ 3840, 2160, "" },
};

static int guest_edid(void *data)
{
	struct guest *g = data;
	struct dmab_client *client;
	GUEST_CHECK(guest_connect(g, edid_specs, 3, &client) == 0);
	GUEST_CHECK(dmab_client_protocol_version(client) == 2);
	for (unsigned int i = 0; i < 3; i++) {
		uint8_t want[DMAB_EDID_BLOCK_SIZE], got[512];
		GUEST_CHECK(dmab_edid_generate(want, edid_specs[i].width, edid_specs[i].height,
			edid_specs[i].unique_id) == 0);
		memset(got, 0xa5, sizeof(got));
		size_t size = 0;
		int ret = dmab_client_get_edid(client, i, got, sizeof(got), &size);
		if (ret)
			fprintf(stderr, "guest: GET_EDID %u: %s\n", i, strerror(-ret));
		GUEST_CHECK(ret == 0);
		GUEST_CHECK(size == DMAB_EDID_BLOCK_SIZE);
		GUEST_CHECK(memcmp(got, want, sizeof(want)) == 0);
		/* Only the size the backend gave is copied. */
		GUEST_CHECK(got[DMAB_EDID_BLOCK_SIZE] == 0xa5);

		/* A short buffer gets the start, and the whole size. */
		uint8_t head[8];
		GUEST_CHECK(dmab_client_get_edid(client, i, head, sizeof(head), &size) == 0);
		GUEST_CHECK(size == DMAB_EDID_BLOCK_SIZE && !memcmp(head, want, sizeof(head)));
	}
	/* No such connector: the library says so without asking. */
	size_t size;
	GUEST_CHECK(dmab_client_get_edid(client, 3, NULL, 0, &size) == -EINVAL);
	GUEST_CHECK(reach(g, client, 1) == 0);
	dmab_client_destroy(client);
	return 0;
}

static void test_edid(void)
{
	fprintf(stderr, "GET_EDID\n");
	struct dmab_test_server s;
	if (!server_start(&s, ""))
		return;
	struct guest g = { .server = &s };
	pid_t pid = guest_start(&g, guest_edid);
	uint64_t domid;
	if (expect_step(&g.sync, 1, &domid)) {
		/* The requests were answered, nothing counted as an error. */
		json_object *st = dmab_ts_ctl(&s, "{\"cmd\":\"stats\"}", -1), *conns;
		CHECK(st && json_object_object_get_ex(st, "connectors", &conns) &&
			json_object_array_length(conns) == 3);
		for (size_t i = 0; st && conns && i < json_object_array_length(conns); i++) {
			json_object *c = json_object_array_get_idx(conns, i), *v;
			CHECK(json_object_object_get_ex(c, "errors", &v) && json_object_get_int64(v) == 0);
			CHECK(json_object_object_get_ex(c, "requests", &v) && json_object_get_int64(v) >= 2);
		}
		if (st)
			json_object_put(st);
		dmab_ts_sync_go(&g.sync, 0);
	}
	guest_finish(&g, pid);
	server_stop(&s);
}

/* ---- SET_CONFIG: a rectangle, and off ---- */

#define RECT_CONN_W 320
#define RECT_CONN_H 240
#define RECT_W 120
#define RECT_H 80
#define RECT_X 50
#define RECT_Y 40
#define RECT_AT_X 100       /* where the config puts the connector */
#define RECT_AT_Y 60

static int guest_rect(void *data)
{
	struct guest *g = data;
	struct dmab_client_connector_spec spec = { RECT_CONN_W, RECT_CONN_H, "rect0" };
	struct dmab_client *client;
	GUEST_CHECK(guest_connect(g, &spec, 1, &client) == 0);
	struct dmab_client_buffer *a = buffer_drawn(client, RECT_W, RECT_H, DRM_FORMAT_XRGB8888, 1);
	struct dmab_client_buffer *b = buffer_drawn(client, RECT_W, RECT_H, DRM_FORMAT_XRGB8888, 2);
	GUEST_CHECK(a && b);

	GUEST_CHECK(dmab_client_set_config(client, 0, a, RECT_X, RECT_Y) == 0);
	GUEST_CHECK(reach(g, client, 1) == 0);
	/* A flip keeps the rectangle SET_CONFIG chose. */
	GUEST_CHECK(flip_shown(client, 0, b) == 0);
	GUEST_CHECK(reach(g, client, 2) == 0);
	GUEST_CHECK(dmab_client_set_config(client, 0, NULL, 0, 0) == 0);
	GUEST_CHECK(reach(g, client, 3) == 0);

	/* What the server refuses: a rectangle leaving the connector, a flip while off. */
	GUEST_CHECK(dmab_client_set_config(client, 0, a, RECT_CONN_W - RECT_W + 1, 0) == -EINVAL);
	GUEST_CHECK(dmab_client_set_config(client, 0, a, 0, RECT_CONN_H - RECT_H + 1) == -EINVAL);
	GUEST_CHECK(dmab_client_flip(client, 0, a) == -EINVAL);
	/* At the far corner it fits exactly. */
	GUEST_CHECK(dmab_client_set_config(client, 0, a, RECT_CONN_W - RECT_W,
		RECT_CONN_H - RECT_H) == 0);
	GUEST_CHECK(reach(g, client, 4) == 0);
	GUEST_CHECK(dmab_client_buffer_destroy(a) == 0);
	GUEST_CHECK(dmab_client_buffer_destroy(b) == 0);
	dmab_client_destroy(client);
	return 0;
}

static void test_rect(void)
{
	fprintf(stderr, "SET_CONFIG with a rectangle, and off\n");
	struct dmab_test_server s;
	char places[128];
	snprintf(places, sizeof(places), "[connector.rect0]\nx = %d\ny = %d\n", RECT_AT_X, RECT_AT_Y);
	if (!server_start(&s, places))
		return;
	struct guest g = { .server = &s };
	pid_t pid = guest_start(&g, guest_rect);
	uint64_t domid;
	int enabled, nbuf;
	const struct expect conn_at = { RECT_CONN_W, RECT_CONN_H, RECT_X, RECT_Y, RECT_W, RECT_H,
		DRM_FORMAT_XRGB8888, 1, true };
	const struct expect screen_at = { SCREEN_W, SCREEN_H, RECT_AT_X + RECT_X, RECT_AT_Y + RECT_Y,
		RECT_W, RECT_H, DRM_FORMAT_XRGB8888, 1, true };
	if (!expect_step(&g.sync, 1, &domid))
		goto out;
	expect_shot(&s, "connector:rect0", conn_at, true);
	expect_shot(&s, "screen:main", screen_at, false);
	status_of(&s, domid, 0, &enabled, &nbuf, NULL, NULL);
	CHECK(enabled == 1 && nbuf == 2);
	dmab_ts_sync_go(&g.sync, 0);

	if (!expect_step(&g.sync, 2, &domid))
		goto out;
	struct expect e = conn_at;
	e.f = 2;
	expect_shot(&s, "connector:rect0", e, false);
	e = screen_at;
	e.f = 2;
	expect_shot(&s, "screen:main", e, false);
	dmab_ts_sync_go(&g.sync, 0);

	if (!expect_step(&g.sync, 3, &domid))
		goto out;
	expect_shot(&s, "connector:rect0",
		(struct expect){ .width = RECT_CONN_W, .height = RECT_CONN_H }, true);
	expect_shot(&s, "screen:main", (struct expect){ .width = SCREEN_W, .height = SCREEN_H },
		false);
	status_of(&s, domid, 0, &enabled, &nbuf, NULL, NULL);
	CHECK(enabled == 0 && nbuf == 2);
	dmab_ts_sync_go(&g.sync, 0);

	if (!expect_step(&g.sync, 4, &domid))
		goto out;
	e = conn_at;
	e.x = RECT_CONN_W - RECT_W;
	e.y = RECT_CONN_H - RECT_H;
	expect_shot(&s, "connector:rect0", e, true);
	dmab_ts_sync_go(&g.sync, 0);
out:
	guest_finish(&g, pid);
	server_stop(&s);
}

/* ---- FB_DETACH and DBUF_DESTROY of what is on screen ---- */

#define GONE_W 256
#define GONE_H 160

/* A request of the client's own kind, outside its bookkeeping: status only. */
static int raw_call(struct dmab_client *client, struct xendispl_req *req)
{
	struct xendispl_resp resp;
	int ret = dmab_frontend_call(client, 0, req, &resp);
	if (ret)
		return ret;
	return dmab_fe_status_errno(resp.status);
}

static int guest_gone(void *data)
{
	struct guest *g = data;
	struct dmab_client_connector_spec spec = { GONE_W, GONE_H, "gone0" };
	struct dmab_client *client;
	GUEST_CHECK(guest_connect(g, &spec, 1, &client) == 0);
	struct dmab_client_buffer *a = buffer_drawn(client, GONE_W, GONE_H, DRM_FORMAT_XRGB8888, 3);
	struct dmab_client_buffer *b = buffer_drawn(client, GONE_W, GONE_H, DRM_FORMAT_XRGB8888, 4);
	GUEST_CHECK(a && b);

	/* 1: a on screen. 2: a destroyed through the library (FB_DETACH, DBUF_DESTROY). */
	GUEST_CHECK(dmab_client_set_config(client, 0, a, 0, 0) == 0);
	GUEST_CHECK(flip_shown(client, 0, a) == 0);
	GUEST_CHECK(dmab_ts_sync_reach(&g->sync, 1, dmab_frontend_dbuf_cookie(a), NULL,
		STEP_MS) == 0);
	int ret = dmab_client_buffer_destroy(a);
	if (ret)
		fprintf(stderr, "guest: destroying the buffer on screen: %s\n", strerror(-ret));
	GUEST_CHECK(ret == 0);
	GUEST_CHECK(reach(g, client, 2) == 0);

	/* 3: b on screen. 4: DBUF_DESTROY alone: its framebuffer goes with it. */
	GUEST_CHECK(dmab_client_set_config(client, 0, b, 0, 0) == 0);
	GUEST_CHECK(flip_shown(client, 0, b) == 0);
	GUEST_CHECK(dmab_ts_sync_reach(&g->sync, 3, dmab_frontend_dbuf_cookie(b), NULL,
		STEP_MS) == 0);
	struct xendispl_req req;
	dmab_fe_req_dbuf_destroy(&req, dmab_frontend_dbuf_cookie(b));
	ret = raw_call(client, &req);
	if (ret)
		fprintf(stderr, "guest: DBUF_DESTROY of the buffer on screen: %s\n", strerror(-ret));
	GUEST_CHECK(ret == 0);
	GUEST_CHECK(reach(g, client, 4) == 0);
	/* The server has neither the framebuffer nor the buffer any more. */
	GUEST_CHECK(dmab_client_buffer_destroy(b) == -ENOENT);

	/* 5: c on screen. 6: FB_DETACH alone: off the screen, the buffer stays. */
	struct dmab_client_buffer *c = buffer_drawn(client, GONE_W, GONE_H, DRM_FORMAT_XRGB8888, 5);
	GUEST_CHECK(c);
	GUEST_CHECK(dmab_client_set_config(client, 0, c, 0, 0) == 0);
	GUEST_CHECK(flip_shown(client, 0, c) == 0);
	GUEST_CHECK(dmab_ts_sync_reach(&g->sync, 5, dmab_frontend_dbuf_cookie(c), NULL,
		STEP_MS) == 0);
	dmab_fe_req_fb_detach(&req, dmab_frontend_fb_cookie(c));
	GUEST_CHECK(raw_call(client, &req) == 0);
	GUEST_CHECK(reach(g, client, 6) == 0);
	/* A flip of a detached framebuffer is refused. */
	GUEST_CHECK(dmab_client_flip(client, 0, c) == -ENOENT);
	/* FB_DETACH again is refused; DBUF_DESTROY still goes through. */
	GUEST_CHECK(dmab_client_buffer_destroy(c) == -ENOENT);
	GUEST_CHECK(reach(g, client, 7) == 0);
	dmab_client_destroy(client);
	return 0;
}

static void test_gone(void)
{
	fprintf(stderr, "FB_DETACH and DBUF_DESTROY of the buffer on screen\n");
	struct dmab_test_server s;
	if (!server_start(&s, "[connector.gone0]\nx = 10\ny = 20\n"))
		return;
	struct guest g = { .server = &s };
	pid_t pid = guest_start(&g, guest_gone);
	uint64_t value, domid = 0;
	char cookie[24];
	int enabled, nbuf;
	bool has;
	const struct expect black_conn = { .width = GONE_W, .height = GONE_H };
	const struct expect black_screen = { .width = SCREEN_W, .height = SCREEN_H };

	for (uint32_t f = 3; f <= 5; f++) {
		uint32_t step = 2 * (f - 3) + 1;
		if (!expect_step(&g.sync, step, &value))
			goto out;
		snprintf(cookie, sizeof(cookie), "0x%" PRIx64, value);
		expect_shot(&s, "connector:gone0", (struct expect){ GONE_W, GONE_H, 0, 0, GONE_W,
			GONE_H, DRM_FORMAT_XRGB8888, f, true }, false);
		expect_shot(&s, "screen:main", (struct expect){ SCREEN_W, SCREEN_H, 10, 20, GONE_W,
			GONE_H, DRM_FORMAT_XRGB8888, f, true }, false);
		dmab_ts_sync_go(&g.sync, 0);

		/*
		 * The server answered only once the frame was off the display:
		 * black now, without waiting for another refresh.
		 */
		if (!expect_step(&g.sync, step + 1, &domid))
			goto out;
		expect_shot(&s, "connector:gone0", black_conn, false);
		expect_shot(&s, "screen:main", black_screen, false);
		status_of(&s, domid, 0, &enabled, &nbuf, cookie, &has);
		CHECK(enabled == 0);
		if (f == 5) {
			/* FB_DETACH alone: the buffer is still there, with no framebuffer. */
			CHECK(has);
			json_object *gs = dmab_ts_guest_status(&s, (unsigned int)domid, 0), *bufs, *v;
			CHECK(gs && json_object_object_get_ex(gs, "buffers", &bufs) &&
				json_object_array_length(bufs) == 1 &&
				json_object_object_get_ex(json_object_array_get_idx(bufs, 0),
					"framebuffers", &v) && json_object_get_int64(v) == 0);
			if (gs)
				json_object_put(gs);
		} else {
			CHECK(!has);
		}
		dmab_ts_sync_go(&g.sync, 0);
	}
	if (expect_step(&g.sync, 7, &domid)) {
		status_of(&s, domid, 0, &enabled, &nbuf, NULL, NULL);
		CHECK(nbuf == 0);
		dmab_ts_sync_go(&g.sync, 0);
	}
out:
	guest_finish(&g, pid);
	server_stop(&s);
}

/* ---- two connectors on one device ---- */

static const struct dmab_client_connector_spec multi_specs[] = {
	{ 320, 240, "multiA" },
	{ 200, 150, "multiB" },
};
static const uint32_t multi_formats[] = { DRM_FORMAT_XRGB8888, DRM_FORMAT_RGB565 };
static const uint32_t multi_at[][2] = { { 0, 0 }, { 500, 400 } };
#define MULTI_FRAMES 4

static int guest_multi(void *data)
{
	struct guest *g = data;
	struct dmab_client *client;
	GUEST_CHECK(guest_connect(g, multi_specs, 2, &client) == 0);
	GUEST_CHECK(dmab_client_connector_count(client) == 2);
	struct dmab_client_buffer *bufs[2][2];
	for (unsigned int c = 0; c < 2; c++) {
		struct dmab_client_connector_info info;
		GUEST_CHECK(dmab_client_connector_info(client, c, &info) == 0);
		GUEST_CHECK(info.width == multi_specs[c].width &&
			info.height == multi_specs[c].height &&
			!strcmp(info.unique_id, multi_specs[c].unique_id));
		for (unsigned int i = 0; i < 2; i++) {
			bufs[c][i] = buffer_drawn(client, info.width, info.height, multi_formats[c], 0);
			GUEST_CHECK(bufs[c][i]);
		}
	}
	for (uint32_t f = 0; f < MULTI_FRAMES; f++) {
		for (unsigned int c = 0; c < 2; c++) {
			struct dmab_client_buffer *b = bufs[c][f % 2];
			/* Different pictures on the two: frame f and frame 100 + f. */
			dmab_ts_fill_format(dmab_client_buffer_data(b), dmab_client_buffer_stride(b),
				multi_specs[c].width, multi_specs[c].height, multi_formats[c], f + 100 * c);
			if (f == 0)
				GUEST_CHECK(dmab_client_set_config(client, c, b, 0, 0) == 0);
		}
		if (f > 0) {
			/* Both flips in flight at once, then both events. */
			flipped[0] = flipped[1] = false;
			GUEST_CHECK(dmab_client_flip(client, 0, bufs[0][f % 2]) == 0);
			GUEST_CHECK(dmab_client_flip(client, 1, bufs[1][f % 2]) == 0);
			GUEST_CHECK(dmab_ts_dispatch_until(client, &flipped[0], 3000) == 0);
			GUEST_CHECK(dmab_ts_dispatch_until(client, &flipped[1], 3000) == 0);
		}
		GUEST_CHECK(reach(g, client, f + 1) == 0);
	}
	/* One off, the other still on. */
	GUEST_CHECK(dmab_client_set_config(client, 0, NULL, 0, 0) == 0);
	GUEST_CHECK(reach(g, client, MULTI_FRAMES + 1) == 0);
	dmab_client_destroy(client);
	return 0;
}

static void test_multi(void)
{
	fprintf(stderr, "two connectors on one device\n");
	struct dmab_test_server s;
	char places[256];
	snprintf(places, sizeof(places), "[connector.multiA]\nx = %u\ny = %u\n"
		"[connector.multiB]\nx = %u\ny = %u\n", multi_at[0][0], multi_at[0][1],
		multi_at[1][0], multi_at[1][1]);
	if (!server_start(&s, places))
		return;
	struct guest g = { .server = &s };
	pid_t pid = guest_start(&g, guest_multi);
	uint64_t domid = 0;
	for (uint32_t f = 0; f < MULTI_FRAMES; f++) {
		if (!expect_step(&g.sync, f + 1, &domid))
			goto out;
		for (unsigned int c = 0; c < 2; c++) {
			const struct dmab_client_connector_spec *sp = &multi_specs[c];
			struct expect e = { sp->width, sp->height, 0, 0, sp->width, sp->height,
				multi_formats[c], f + 100 * c, true };
			char target[64];
			/* By unique-id and by domid/devid/index: the same connector. */
			snprintf(target, sizeof(target), "connector:%s", sp->unique_id);
			expect_shot(&s, target, e, f == 0);
			snprintf(target, sizeof(target), "connector:%" PRIu64 "/0/%u", domid, c);
			expect_shot(&s, target, e, false);
		}
		/* The screen: both at their places, black elsewhere. */
		uint8_t *rgba;
		uint32_t w, h;
		if (dmab_ts_screenshot(&s, "screen:main", &rgba, &w, &h) == 0) {
			CHECK(w == SCREEN_W && h == SCREEN_H);
			for (unsigned int c = 0; c < 2; c++)
				CHECK(dmab_ts_check_format(rgba, w, multi_at[c][0], multi_at[c][1],
					multi_specs[c].width, multi_specs[c].height, multi_formats[c],
					f + 100 * c, false) == 0);
			CHECK(dmab_ts_check_black(rgba, w, 320, 0, SCREEN_W - 320, 400) == 0);
			CHECK(dmab_ts_check_black(rgba, w, 0, 240, 320, SCREEN_H - 240) == 0);
			free(rgba);
		} else {
			failures++;
		}
		if (f == 0) {
			json_object *gs = dmab_ts_guest_status(&s, (unsigned int)domid, 0), *conns;
			CHECK(gs && json_object_object_get_ex(gs, "connectors", &conns) &&
				json_object_array_length(conns) == 2);
			for (unsigned int c = 0; gs && conns && c < 2; c++) {
				json_object *co = json_object_array_get_idx(conns, c), *v;
				CHECK(json_object_object_get_ex(co, "width", &v) &&
					json_object_get_int64(v) == multi_specs[c].width);
				CHECK(json_object_object_get_ex(co, "height", &v) &&
					json_object_get_int64(v) == multi_specs[c].height);
				CHECK(json_object_object_get_ex(co, "unique_id", &v) &&
					!strcmp(json_object_get_string(v), multi_specs[c].unique_id));
			}
			if (gs)
				json_object_put(gs);
		}
		dmab_ts_sync_go(&g.sync, 0);
	}
	if (expect_step(&g.sync, MULTI_FRAMES + 1, &domid)) {
		expect_shot(&s, "connector:multiA", (struct expect){ .width = 320, .height = 240 },
			true);
		const struct dmab_client_connector_spec *sp = &multi_specs[1];
		expect_shot(&s, "connector:multiB", (struct expect){ sp->width, sp->height, 0, 0,
			sp->width, sp->height, multi_formats[1], MULTI_FRAMES - 1 + 100, true }, false);
		/* Each connector counted its own flips. */
		for (unsigned int c = 0; c < 2; c++) {
			char id[48];
			snprintf(id, sizeof(id), "%" PRIu64 "/0/%u", domid, c);
			json_object *st = dmab_ts_connector_stats(&s, id), *v;
			CHECK(st && json_object_object_get_ex(st, "flips", &v) &&
				json_object_get_int64(v) == MULTI_FRAMES - 1);
			if (st)
				json_object_put(st);
		}
		dmab_ts_sync_go(&g.sync, 0);
	}
out:
	guest_finish(&g, pid);
	server_stop(&s);
}

/* ---- pixel formats and widths ---- */

static const uint32_t all_formats[] = {
	DRM_FORMAT_XRGB8888, DRM_FORMAT_ARGB8888, DRM_FORMAT_RGB565, DRM_FORMAT_RGB888,
	DRM_FORMAT_XRGB4444, DRM_FORMAT_ARGB4444, DRM_FORMAT_XRGB1555, DRM_FORMAT_ARGB1555,
	DRM_FORMAT_YUYV,
};
#define NFORMATS (sizeof(all_formats) / sizeof(all_formats[0]))

static uint32_t bits_per_pixel(uint32_t fourcc)
{
	switch (fourcc) {
	case DRM_FORMAT_XRGB8888:
	case DRM_FORMAT_ARGB8888:
		return 32;
	case DRM_FORMAT_RGB888:
		return 24;
	default:
		return 16;
	}
}

/*
 * For each format the guest is given (g->fourcc 0: all nine): a buffer
 * shown with SET_CONFIG (frame 2i), then another flipped (frame 2i + 1).
 */
static int guest_formats(void *data)
{
	struct guest *g = data;
	struct dmab_client_connector_spec spec = { g->width, g->height, "fmt0" };
	struct dmab_client *client;
	GUEST_CHECK(guest_connect(g, &spec, 1, &client) == 0);
	GUEST_CHECK(dmab_client_be_alloc(client) == g->be_alloc);
	for (uint32_t i = 0; i < NFORMATS; i++) {
		uint32_t fourcc = all_formats[i];
		if (g->fourcc && fourcc != g->fourcc)
			continue;
		struct dmab_client_buffer *a = buffer_drawn(client, g->width, g->height, fourcc, 2 * i);
		struct dmab_client_buffer *b = buffer_drawn(client, g->width, g->height, fourcc,
			2 * i + 1);
		GUEST_CHECK(a && b);
		/* Rows packed as Linux packs them: no padding. */
		GUEST_CHECK(dmab_client_buffer_stride(a) == (g->width * bits_per_pixel(fourcc) + 7) / 8);
		GUEST_CHECK(dmab_client_set_config(client, 0, a, 0, 0) == 0);
		GUEST_CHECK(reach(g, client, 2 * i) == 0);
		GUEST_CHECK(flip_shown(client, 0, b) == 0);
		GUEST_CHECK(reach(g, client, 2 * i + 1) == 0);
		GUEST_CHECK(dmab_client_buffer_destroy(a) == 0);
		GUEST_CHECK(dmab_client_buffer_destroy(b) == 0);
	}
	dmab_client_destroy(client);
	return 0;
}

static void run_formats(bool be_alloc, uint32_t only, uint32_t width, uint32_t height)
{
	struct dmab_test_server s;
	if (!server_start(&s, "[connector.fmt0]\nx = 0\ny = 0\n"))
		return;
	struct guest g = { .server = &s, .be_alloc = be_alloc, .fourcc = only,
		.width = width, .height = height };
	pid_t pid = guest_start(&g, guest_formats);
	for (uint32_t i = 0; i < NFORMATS; i++) {
		uint32_t fourcc = all_formats[i];
		if (only && fourcc != only)
			continue;
		for (uint32_t f = 2 * i; f <= 2 * i + 1; f++) {
			if (!expect_step(&g.sync, f, NULL))
				goto out;
			int before = failures;
			struct expect e = { width, height, 0, 0, width, height, fourcc, f, true };
			/* The connector as it is, alpha and all; SET_CONFIG may take a refresh. */
			expect_shot(&s, "connector:fmt0", e, f == 2 * i);
			/* On the composed screen, where alpha formats blend: opaque ones only. */
			if (fourcc != DRM_FORMAT_ARGB8888 && fourcc != DRM_FORMAT_ARGB4444 &&
					fourcc != DRM_FORMAT_ARGB1555) {
				e.width = SCREEN_W;
				e.height = SCREEN_H;
				expect_shot(&s, "screen:main", e, false);
			}
			if (failures != before)
				fprintf(stderr, "  in %.4s, %ux%u, %s, %s\n", (const char *)&fourcc,
					width, height, be_alloc ? "be-alloc" : "guest-allocated",
					f % 2 ? "flipped" : "SET_CONFIG");
			dmab_ts_sync_go(&g.sync, 0);
		}
	}
out:
	guest_finish(&g, pid);
	server_stop(&s);
}

static void test_formats(void)
{
	for (int be_alloc = 0; be_alloc < 2; be_alloc++) {
		fprintf(stderr, "all formats, %s\n", be_alloc ? "be-alloc" : "guest-allocated");
		run_formats(be_alloc, 0, 320, 200);
	}
}

static void test_odd_widths(void)
{
	/* 641 pixels: rows of 1282 and 1923 octets, neither a multiple of 4. */
	static const uint32_t odd[] = { DRM_FORMAT_RGB565, DRM_FORMAT_RGB888 };
	for (int be_alloc = 0; be_alloc < 2; be_alloc++) {
		for (size_t i = 0; i < 2; i++) {
			fprintf(stderr, "641x479 %.4s, %s\n", (const char *)&odd[i],
				be_alloc ? "be-alloc" : "guest-allocated");
			run_formats(be_alloc, odd[i], 641, 479);
		}
	}
}

int main(void)
{
	test_edid();
	test_rect();
	test_gone();
	test_multi();
	test_formats();
	test_odd_widths();
	fprintf(stderr, "%d failures\n", failures);
	return failures ? 1 : 0;
}
