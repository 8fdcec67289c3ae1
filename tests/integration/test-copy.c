// SPDX-License-Identifier: MIT
/*
 * The copy path never writes into what the display reads. A guest that
 * flips the framebuffer it already shows (fbcon does) has every frame
 * copied into another shadow: the headless screen's verify mode checks
 * each frame it showed against what it held when committed.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <drm_fourcc.h>

#include "tests/integration/harness.h"

#define STEP_MS 20000
#define W 160
#define H 100
#define FRAMES 60

static int failures;

struct guest {
	struct dmab_test_server *server;
	struct dmab_ts_sync sync;
};

static bool flipped;

static void handle_flip(void *data, unsigned int index, struct dmab_client_buffer *buffer)
{
	flipped = true;
}

static int guest_main(void *data)
{
	struct guest *g = data;
	struct dmab_client_connector_spec spec = { W, H, "fbcon0" };
	struct dmab_client_options options;
	dmab_ts_client_options(g->server, &options);
	options.create_device = true;
	options.connectors = &spec;
	options.connector_count = 1;
	struct dmab_client *client;
	GUEST_CHECK(dmab_client_connect(&options, &client) == 0);
	dmab_client_set_flip_handler(client, handle_flip, NULL);
	struct dmab_client_buffer *b;
	GUEST_CHECK(dmab_client_buffer_create(client, W, H, DRM_FORMAT_XRGB8888, &b) == 0);
	dmab_ts_fill(dmab_client_buffer_data(b), dmab_client_buffer_stride(b), W, H, 0);
	GUEST_CHECK(dmab_client_set_config(client, 0, b, 0, 0) == 0);
	GUEST_CHECK(dmab_ts_sync_reach(&g->sync, 1, dmab_client_domid(client), NULL,
		STEP_MS) == 0);
	/* One buffer, drawn and flipped again and again. */
	for (uint32_t f = 1; f <= FRAMES; f++) {
		dmab_ts_fill(dmab_client_buffer_data(b), dmab_client_buffer_stride(b), W, H, f);
		flipped = false;
		GUEST_CHECK(dmab_client_flip(client, 0, b) == 0);
		GUEST_CHECK(dmab_ts_dispatch_until(client, &flipped, 3000) == 0);
	}
	GUEST_CHECK(dmab_ts_sync_reach(&g->sync, 2, 0, NULL, STEP_MS) == 0);
	dmab_client_destroy(client);
	return 0;
}

static uint64_t check_last(const uint8_t *rgba, uint32_t width, uint32_t height, void *data)
{
	return dmab_ts_check(rgba, width, 0, 0, W, H, FRAMES);
}

int main(void)
{
	struct dmab_test_server s;
	if (dmab_ts_start(&s, "[screen.main]\nwidth = 320\nheight = 200\nverify = yes\n", NULL))
		return 1;
	struct guest g = { .server = &s };
	if (dmab_ts_sync_open(&g.sync))
		return 1;
	pid_t pid = dmab_ts_guest(guest_main, &g);
	dmab_ts_sync_parent(&g.sync);

	uint32_t step;
	uint64_t domid;
	int skip = 0;
	CHECK(dmab_ts_sync_wait(&g.sync, &step, &domid, STEP_MS) == 0 && step == 1);
	json_object *st = dmab_ts_guest_status(&s, (unsigned int)domid, 0), *bufs;
	const char *import = "";
	if (st && json_object_object_get_ex(st, "buffers", &bufs) &&
			json_object_array_length(bufs) == 1) {
		json_object *imp;
		if (json_object_object_get_ex(json_object_array_get_idx(bufs, 0), "import", &imp))
			import = json_object_get_string(imp);
	}
	/* Guest memory from the dma-buf heap is shown as it is: nothing to copy. */
	if (strcmp(import, "copy")) {
		fprintf(stderr, "the guest's buffer is shown %s, not copied: nothing to test\n",
			import[0] ? import : "(unknown)");
		skip = 1;
	}
	if (st)
		json_object_put(st);
	dmab_ts_sync_go(&g.sync, 0);
	uint64_t value;
	CHECK(dmab_ts_sync_wait(&g.sync, &step, &value, STEP_MS) == 0 && step == 2);
	if (!skip) {
		/* The screen verified every frame it showed and released. */
		int written = dmab_ts_log_count(&s, "changed while the display read it");
		fprintf(stderr, "%d frames changed under the display\n", written);
		CHECK(written == 0);
		CHECK(dmab_ts_shot_until(&s, "screen:main", check_last, NULL, 3000) == 0);
		char id[32];
		snprintf(id, sizeof(id), "%" PRIu64 "/0/0", domid);
		json_object *stats = dmab_ts_connector_stats(&s, id), *frames;
		CHECK(stats && json_object_object_get_ex(stats, "frames", &frames) &&
			json_object_get_int64(frames) == FRAMES);
		if (stats)
			json_object_put(stats);
	}
	dmab_ts_sync_go(&g.sync, 0);
	CHECK(dmab_ts_guest_wait(pid, 10000) == 0);
	dmab_ts_sync_close(&g.sync);
	CHECK(dmab_ts_stop(&s) == 0);
	fprintf(stderr, "%d failures\n", failures);
	return failures ? 1 : skip ? 77 : 0;
}
