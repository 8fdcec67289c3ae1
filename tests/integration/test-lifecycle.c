// SPDX-License-Identifier: MIT
/*
 * Guests coming and going, and the server going: a guest killed while it
 * flips (guest-allocated and be-alloc), a guest that closes its device and
 * attaches it again three times from the same domain, dmabridged stopped
 * with SIGTERM under two flipping guests, and twenty short-lived guests in
 * a row. After each, the server holds exactly the descriptors it held
 * before the guest came and the next guest works; under ASan the server's
 * exit status also says it leaked nothing.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <drm_fourcc.h>

#include "client/frontend.h"
#include "hv/sim/sim.h"
#include "tests/integration/harness.h"

#define STEP_MS 20000
#define SHOW_MS 2000
#define GONE_MS 5000            /* a guest's device and descriptors going */

#define CONN_W 256
#define CONN_H 160
#define UID "life0"

static int failures;

/* ---- guests ---- */

struct guest {
	struct dmab_test_server *server;
	struct dmab_ts_sync sync;
	bool be_alloc;
	uint32_t fourcc;
	unsigned int number;            /* the many-guests test: which one */
};

static bool flipped;

static void handle_flip(void *data, unsigned int index, struct dmab_client_buffer *buffer)
{
	flipped = true;
}

static void options_for(const struct guest *g, struct dmab_client_options *options,
		const struct dmab_client_connector_spec *spec)
{
	dmab_ts_client_options(g->server, options);
	options->create_device = true;
	options->be_alloc = g->be_alloc;
	options->connectors = spec;
	options->connector_count = 1;
}

static int flip_shown(struct dmab_client *client, struct dmab_client_buffer *b)
{
	flipped = false;
	int ret = dmab_client_flip(client, 0, b);
	if (ret == 0)
		ret = dmab_ts_dispatch_until(client, &flipped, 3000);
	return ret;
}

/*
 * Frames first..first + n - 1 on two buffers, each reported to the test
 * (step = picture + 1) to be checked before the next. The buffers stay.
 */
static int show_frames(struct guest *g, struct dmab_client *client,
		struct dmab_client_buffer *bufs[2], uint32_t first, uint32_t n)
{
	dmab_client_set_flip_handler(client, handle_flip, NULL);
	for (int i = 0; i < 2; i++) {
		int ret = dmab_client_buffer_create(client, CONN_W, CONN_H, g->fourcc, &bufs[i]);
		if (ret) {
			fprintf(stderr, "guest: buffer: %s\n", strerror(-ret));
			return 1;
		}
	}
	for (uint32_t k = 0; k < n; k++) {
		struct dmab_client_buffer *b = bufs[k % 2];
		dmab_ts_fill_format(dmab_client_buffer_data(b), dmab_client_buffer_stride(b),
			CONN_W, CONN_H, g->fourcc, first + k);
		int ret = k == 0 ? dmab_client_set_config(client, 0, b, 0, 0) : flip_shown(client, b);
		if (ret) {
			fprintf(stderr, "guest: frame %u: %s\n", first + k, strerror(-ret));
			return 1;
		}
		if (dmab_ts_sync_reach(&g->sync, first + k + 1, dmab_client_domid(client), NULL,
				STEP_MS))
			return 1;
	}
	return 0;
}

/* ---- the test side ---- */

struct frame_expect {
	uint32_t fourcc, f;
};

static uint64_t check_frame(const uint8_t *rgba, uint32_t width, uint32_t height, void *data)
{
	const struct frame_expect *e = data;
	if (width != CONN_W || height != CONN_H)
		return UINT64_MAX;
	return dmab_ts_check_format(rgba, width, 0, 0, width, height, e->fourcc, e->f, true);
}

/* The test's half of show_frames(); the guest's domid in *domid. */
static bool check_frames(struct dmab_test_server *s, struct guest *g, uint32_t first,
		uint32_t n, uint64_t *domid)
{
	for (uint32_t k = 0; k < n; k++) {
		uint32_t step;
		int ret = dmab_ts_sync_wait(&g->sync, &step, domid, STEP_MS);
		if (ret || step != first + k + 1) {
			fprintf(stderr, "expected the guest at frame %u: %s\n", first + k,
				ret ? strerror(-ret) : "wrong step");
			failures++;
			return false;
		}
		struct frame_expect e = { g->fourcc, first + k };
		uint64_t bad = dmab_ts_shot_until(s, "connector:" UID, check_frame, &e,
			k == 0 ? SHOW_MS : 0);
		if (bad)
			fprintf(stderr, "frame %u wrong in %" PRIu64 " pixels\n", first + k,
				bad == UINT64_MAX ? 0 : bad);
		CHECK(bad == 0);
		dmab_ts_sync_go(&g->sync, 0);
	}
	return true;
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

static void guest_finish(struct guest *g, pid_t pid, int want)
{
	int status = dmab_ts_guest_wait(pid, STEP_MS);
	if (status != want)
		fprintf(stderr, "the guest exited with %d, expected %d\n", status, want);
	CHECK(status == want);
	dmab_ts_sync_close(&g->sync);
}

/* The server's descriptors once nothing is in flight (a control connection closing). */
static int fd_baseline(const struct dmab_test_server *s)
{
	int n = dmab_ts_fd_count(s);
	for (int same = 0, i = 0; same < 10 && i < 500; i++) {
		usleep(10000);
		int m = dmab_ts_fd_count(s);
		same = m == n ? same + 1 : 0;
		n = m;
	}
	return n;
}

static bool no_guests(void *data)
{
	return dmab_ts_guest_count(data) == 0;
}

/* The guest is gone from status, and its descriptors with it. */
static void expect_gone(struct dmab_test_server *s, int baseline, const char *what)
{
	CHECK(dmab_ts_wait(no_guests, s, GONE_MS));
	int fds = dmab_ts_fd_settle(s, baseline, GONE_MS);
	if (fds != baseline)
		fprintf(stderr, "%s: dmabridged has %d descriptors, %d before\n", what, fds, baseline);
	CHECK(fds == baseline);
	/* Rings, grants, shadows and host buffers are shared mappings: all gone. */
	int maps = dmab_ts_shared_map_count(s);
	if (maps != 0)
		fprintf(stderr, "%s: dmabridged still has %d shared mappings\n", what, maps);
	CHECK(maps == 0);
	CHECK(dmab_ts_alive(s));
}

static bool start(struct dmab_test_server *s)
{
	if (dmab_ts_start(s, "[screen.main]\nwidth = 640\nheight = 480\n", NULL)) {
		failures++;
		return false;
	}
	return true;
}

static void stop(struct dmab_test_server *s)
{
	int status = dmab_ts_stop(s);
	if (status != 0)
		fprintf(stderr, "dmabridged exited with %d\n", status);
	CHECK(status == 0);
}

/* ---- (a) killed while flipping ---- */

static int guest_flip_forever(void *data)
{
	struct guest *g = data;
	struct dmab_client_connector_spec spec = { CONN_W, CONN_H, UID };
	struct dmab_client_options options;
	options_for(g, &options, &spec);
	struct dmab_client *client;
	struct dmab_client_buffer *bufs[2];
	GUEST_CHECK(dmab_client_connect(&options, &client) == 0);
	GUEST_CHECK(show_frames(g, client, bufs, 0, 1) == 0);
	/* Until SIGKILL: the test kills it between any two calls. */
	for (uint32_t n = 1;; n++)
		GUEST_CHECK(flip_shown(client, bufs[n % 2]) == 0);
}

/* The guest that comes next, checked frame by frame. */
static int guest_frames(void *data)
{
	struct guest *g = data;
	struct dmab_client_connector_spec spec = { CONN_W, CONN_H, UID };
	struct dmab_client_options options;
	options_for(g, &options, &spec);
	struct dmab_client *client;
	struct dmab_client_buffer *bufs[2];
	GUEST_CHECK(dmab_client_connect(&options, &client) == 0);
	GUEST_CHECK(show_frames(g, client, bufs, 0, 3) == 0);
	dmab_client_destroy(client);
	return 0;
}

struct frames_wait {
	struct dmab_test_server *server;
	char connector[48];
	int64_t frames;
};

static bool has_frames(void *data)
{
	struct frames_wait *w = data;
	json_object *st = dmab_ts_connector_stats(w->server, w->connector), *v;
	bool ok = st && json_object_object_get_ex(st, "frames", &v) &&
		json_object_get_int64(v) >= w->frames;
	if (st)
		json_object_put(st);
	return ok;
}

static void test_killed(bool be_alloc)
{
	fprintf(stderr, "a %s guest killed while flipping\n",
		be_alloc ? "be-alloc" : "guest-allocated");
	struct dmab_test_server s;
	if (!start(&s))
		return;
	int baseline = fd_baseline(&s);
	struct guest g = { .server = &s, .be_alloc = be_alloc, .fourcc = DRM_FORMAT_XRGB8888 };
	pid_t pid = guest_start(&g, guest_flip_forever);
	uint64_t domid = 0;
	if (check_frames(&s, &g, 0, 1, &domid)) {
		struct frames_wait w = { &s, "", 10 };
		snprintf(w.connector, sizeof(w.connector), "%" PRIu64 "/0/0", domid);
		CHECK(dmab_ts_wait(has_frames, &w, STEP_MS));
		/* Flips in flight, buffers on screen: nothing is tidied up first. */
		CHECK(kill(pid, SIGKILL) == 0);
		int status;
		CHECK(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status));
		pid = -1;

		char removed[64];
		snprintf(removed, sizeof(removed), "dom%" PRIu64 "/vdispl0: device removed", domid);
		uint64_t deadline = dmab_ts_now_ms() + GONE_MS;
		while (dmab_ts_log_count(&s, removed) < 1 && dmab_ts_now_ms() < deadline)
			usleep(10000);
		if (dmab_ts_log_count(&s, removed) != 1)
			fprintf(stderr, "the log does not say \"%s\" once\n", removed);
		CHECK(dmab_ts_log_count(&s, removed) == 1);
		expect_gone(&s, baseline, "after SIGKILL");
		/* A guest going with its frame on screen is no fault of the server's. */
		int errors = dmab_ts_log_count(&s, " error ");
		if (errors)
			fprintf(stderr, "%d error lines in the log\n", errors);
		CHECK(errors == 0);
	}
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	dmab_ts_sync_close(&g.sync);

	/* The next guest works as if nothing happened. */
	struct guest next = { .server = &s, .be_alloc = be_alloc, .fourcc = DRM_FORMAT_RGB565 };
	pid = guest_start(&next, guest_frames);
	uint64_t next_domid = 0;
	check_frames(&s, &next, 0, 3, &next_domid);
	guest_finish(&next, pid, 0);
	CHECK(next_domid != domid);
	expect_gone(&s, baseline, "after the next guest");
	stop(&s);
}

/* ---- (b) closing and attaching the same device again ---- */

#define ROUNDS 3

enum { STEP_ROUND_DONE = 1000 };

static int guest_reconnect(void *data)
{
	struct guest *g = data;
	struct dmab_client_connector_spec spec = { CONN_W, CONN_H, UID };
	struct dmab_hv *hv;
	GUEST_CHECK(dmab_hv_sim_connect(g->server->sim_socket, &hv) == 0);
	for (uint32_t r = 0; r < ROUNDS; r++) {
		struct dmab_client_options options;
		options_for(g, &options, &spec);
		/* The toolstack made the device once; later rounds attach it again. */
		options.create_device = r == 0;
		struct dmab_client *client;
		int ret = dmab_frontend_connect(&options, hv, &client);
		if (ret)
			fprintf(stderr, "guest: round %u: connect: %s\n", r, strerror(-ret));
		GUEST_CHECK(ret == 0);
		GUEST_CHECK(dmab_client_be_alloc(client) == g->be_alloc);
		struct dmab_client_buffer *bufs[2];
		GUEST_CHECK(show_frames(g, client, bufs, 10 * r, 3) == 0);
		uint16_t domid = dmab_client_domid(client);
		dmab_client_destroy(client);
		GUEST_CHECK(dmab_ts_sync_reach(&g->sync, STEP_ROUND_DONE + r, domid, NULL,
			STEP_MS) == 0);
	}
	dmab_hv_destroy(hv);
	return 0;
}

struct device_state {
	struct dmab_test_server *server;
	uint64_t domid;
};

/* The device is still there (the domain is), but nobody is attached. */
static bool detached(void *data)
{
	struct device_state *d = data;
	json_object *g = dmab_ts_guest_status(d->server, (unsigned int)d->domid, 0), *v;
	bool ok = g && json_object_object_get_ex(g, "connected", &v) && !json_object_get_boolean(v) &&
		json_object_object_get_ex(g, "buffers", &v) && json_object_array_length(v) == 0;
	if (g)
		json_object_put(g);
	return ok;
}

static void test_reconnect(bool be_alloc)
{
	fprintf(stderr, "a %s guest attaching its device %d times\n",
		be_alloc ? "be-alloc" : "guest-allocated", ROUNDS);
	struct dmab_test_server s;
	if (!start(&s))
		return;
	int baseline = fd_baseline(&s);
	struct guest g = { .server = &s, .be_alloc = be_alloc, .fourcc = DRM_FORMAT_XRGB8888 };
	pid_t pid = guest_start(&g, guest_reconnect);
	int between = -1;
	for (uint32_t r = 0; r < ROUNDS; r++) {
		uint64_t domid;
		if (!check_frames(&s, &g, 10 * r, 3, &domid))
			break;
		uint32_t step;
		if (dmab_ts_sync_wait(&g.sync, &step, &domid, STEP_MS) || step != STEP_ROUND_DONE + r) {
			failures++;
			break;
		}
		struct device_state d = { &s, domid };
		CHECK(dmab_ts_wait(detached, &d, GONE_MS));
		/*
		 * Between rounds the server holds what it holds for a domain
		 * with an idle device: the same each time.
		 */
		if (r == 0) {
			between = fd_baseline(&s);
		} else {
			int fds = dmab_ts_fd_settle(&s, between, GONE_MS);
			if (fds != between)
				fprintf(stderr, "round %u: dmabridged has %d descriptors, %d after round 0\n",
					r, fds, between);
			CHECK(fds == between);
		}
		dmab_ts_sync_go(&g.sync, 0);
	}
	guest_finish(&g, pid, 0);
	expect_gone(&s, baseline, "after the reconnecting guest");
	stop(&s);
}

/* ---- (c) the server stopped under flipping guests ---- */

enum { GUEST_SAW_NOTCONN = 0, GUEST_TIMED_OUT = 3, GUEST_OTHER_ERROR = 4 };

static int guest_until_server_goes(void *data)
{
	struct guest *g = data;
	struct dmab_client_connector_spec spec = { CONN_W, CONN_H, g->number ? "life1" : UID };
	struct dmab_client_options options;
	options_for(g, &options, &spec);
	struct dmab_client *client;
	GUEST_CHECK(dmab_client_connect(&options, &client) == 0);
	dmab_client_set_flip_handler(client, handle_flip, NULL);
	struct dmab_client_buffer *bufs[2];
	for (int i = 0; i < 2; i++) {
		GUEST_CHECK(dmab_client_buffer_create(client, CONN_W, CONN_H, g->fourcc, &bufs[i]) == 0);
		dmab_ts_fill_format(dmab_client_buffer_data(bufs[i]), dmab_client_buffer_stride(bufs[i]),
			CONN_W, CONN_H, g->fourcc, (uint32_t)i);
	}
	GUEST_CHECK(dmab_client_set_config(client, 0, bufs[0], 0, 0) == 0);
	GUEST_CHECK(dmab_ts_sync_reach(&g->sync, 1, dmab_client_domid(client), NULL, STEP_MS) == 0);
	int ret;
	for (uint32_t n = 1;; n++) {
		flipped = false;
		ret = dmab_client_flip(client, 0, bufs[n % 2]);
		if (ret == 0)
			ret = dmab_ts_dispatch_until(client, &flipped, 3000);
		if (ret)
			break;
	}
	if (ret != -ENOTCONN)
		fprintf(stderr, "guest: the backend left with %s, not ENOTCONN\n", strerror(-ret));
	/* Once gone, it stays gone, and closing is quick and clean. */
	GUEST_CHECK(!dmab_client_connected(client));
	GUEST_CHECK(dmab_client_dispatch(client) == -ENOTCONN);
	struct dmab_client_buffer *b;
	GUEST_CHECK(dmab_client_buffer_create(client, 64, 64, DRM_FORMAT_XRGB8888, &b) == -ENOTCONN);
	uint64_t t0 = dmab_ts_now_ms();
	dmab_client_destroy(client);
	if (dmab_ts_now_ms() - t0 > 3000)
		fprintf(stderr, "guest: destroying took %" PRIu64 " ms\n", dmab_ts_now_ms() - t0);
	GUEST_CHECK(dmab_ts_now_ms() - t0 <= 3000);
	return ret == -ENOTCONN ? GUEST_SAW_NOTCONN :
		ret == -ETIMEDOUT ? GUEST_TIMED_OUT : GUEST_OTHER_ERROR;
}

static void test_sigterm(void)
{
	fprintf(stderr, "dmabridged stopped under two flipping guests\n");
	struct dmab_test_server s;
	if (!start(&s))
		return;
	struct guest g[2] = {
		{ .server = &s, .fourcc = DRM_FORMAT_XRGB8888, .number = 0 },
		{ .server = &s, .fourcc = DRM_FORMAT_RGB565, .be_alloc = true, .number = 1 },
	};
	pid_t pids[2];
	uint64_t domids[2] = { 0, 0 };
	bool ready = true;
	for (int i = 0; i < 2; i++)
		pids[i] = guest_start(&g[i], guest_until_server_goes);
	for (int i = 0; i < 2; i++) {
		uint32_t step;
		if (dmab_ts_sync_wait(&g[i].sync, &step, &domids[i], STEP_MS) || step != 1) {
			failures++;
			ready = false;
		}
	}
	for (int i = 0; i < 2; i++)
		dmab_ts_sync_go(&g[i].sync, 0);
	for (int i = 0; ready && i < 2; i++) {
		struct frames_wait w = { &s, "", 5 };
		snprintf(w.connector, sizeof(w.connector), "%" PRIu64 "/0/0", domids[i]);
		CHECK(dmab_ts_wait(has_frames, &w, STEP_MS));
	}
	uint64_t t0 = dmab_ts_now_ms();
	int status = dmab_ts_stop(&s);
	uint64_t took = dmab_ts_now_ms() - t0;
	fprintf(stderr, "dmabridged stopped in %" PRIu64 " ms with %d\n", took, status);
	CHECK(status == 0);
	CHECK(took < 5000);
	for (int i = 0; i < 2; i++)
		guest_finish(&g[i], pids[i], GUEST_SAW_NOTCONN);
}

/* ---- (d) many short-lived guests ---- */

#define MANY 20

static int guest_short(void *data)
{
	struct guest *g = data;
	struct dmab_client_connector_spec spec = { CONN_W, CONN_H, UID };
	struct dmab_client_options options;
	options_for(g, &options, &spec);
	struct dmab_client *client;
	GUEST_CHECK(dmab_client_connect(&options, &client) == 0);
	dmab_client_set_flip_handler(client, handle_flip, NULL);
	struct dmab_client_buffer *a, *b;
	GUEST_CHECK(dmab_client_buffer_create(client, CONN_W, CONN_H, g->fourcc, &a) == 0);
	GUEST_CHECK(dmab_client_buffer_create(client, CONN_W, CONN_H, g->fourcc, &b) == 0);
	GUEST_CHECK(dmab_client_set_config(client, 0, a, 0, 0) == 0);
	GUEST_CHECK(flip_shown(client, b) == 0);
	/* One more flip left in flight for what does not say goodbye. */
	GUEST_CHECK(dmab_client_flip(client, 0, a) == 0);
	switch (g->number % 3) {
	case 0:
		dmab_client_destroy(client);    /* orderly */
		break;
	case 1:
		break;                          /* exits holding everything */
	case 2:
		dmab_client_buffer_destroy(b);  /* half tidied */
		break;
	}
	return 0;
}

static void test_many(void)
{
	fprintf(stderr, "%d short-lived guests in a row\n", MANY);
	struct dmab_test_server s;
	if (!start(&s))
		return;
	int baseline = fd_baseline(&s);
	for (unsigned int i = 0; i < MANY; i++) {
		static const uint32_t formats[] = {
			DRM_FORMAT_XRGB8888, DRM_FORMAT_RGB565, DRM_FORMAT_YUYV, DRM_FORMAT_RGB888,
		};
		struct guest g = { .server = &s, .be_alloc = i % 2, .number = i,
			.fourcc = formats[i % 4] };
		pid_t pid = dmab_ts_guest(guest_short, &g);
		int status = dmab_ts_guest_wait(pid, STEP_MS);
		if (status != 0)
			fprintf(stderr, "guest %u exited with %d\n", i, status);
		CHECK(status == 0);
		char what[32];
		snprintf(what, sizeof(what), "after guest %u", i);
		expect_gone(&s, baseline, what);
	}
	/* And the server still serves. */
	struct guest last = { .server = &s, .fourcc = DRM_FORMAT_XRGB8888 };
	pid_t pid = guest_start(&last, guest_frames);
	uint64_t domid;
	check_frames(&s, &last, 0, 3, &domid);
	guest_finish(&last, pid, 0);
	expect_gone(&s, baseline, "after the last guest");
	stop(&s);
}

int main(void)
{
	test_killed(false);
	test_killed(true);
	test_reconnect(false);
	test_reconnect(true);
	test_sigterm();
	test_many();
	fprintf(stderr, "%d failures\n", failures);
	return failures ? 1 : 0;
}
