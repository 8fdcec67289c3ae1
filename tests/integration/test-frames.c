// SPDX-License-Identifier: MIT
/*
 * Frames from a guest reach the screen exactly: a guest flips a sequence of
 * patterns (double-buffered, each flip after the previous one's event) and
 * the test checks every frame on the server's screenshot of the connector
 * and of the screen, for guest-allocated buffers (zero copy where the
 * simulator can make dma-bufs of them, the copy path elsewhere) and
 * backend-allocated ones.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <drm_fourcc.h>

#include "tests/integration/harness.h"

#define WIDTH 320
#define HEIGHT 200
#define FRAMES 6

struct guest_args {
	struct dmab_test_server *server;
	bool be_alloc;
	int to_test;            /* the guest says "frame f is on screen" */
	int from_test;          /* the test says "checked, go on" */
};

static bool flipped;

static void handle_flip(void *data, unsigned int index, struct dmab_client_buffer *buffer)
{
	flipped = true;
}

static int wait_flip(struct dmab_client *client)
{
	flipped = false;
	for (int i = 0; i < 300 && !flipped; i++) {
		usleep(10000);
		if (dmab_client_dispatch(client))
			return -1;
	}
	return flipped ? 0 : -1;
}

static int guest(void *data)
{
	struct guest_args *a = data;
	struct dmab_client_connector_spec spec = { WIDTH, HEIGHT, "frames0" };
	struct dmab_client_options options;
	dmab_ts_client_options(a->server, &options);
	options.create_device = true;
	options.be_alloc = a->be_alloc;
	options.connectors = &spec;
	options.connector_count = 1;

	struct dmab_client *client;
	if (dmab_client_connect(&options, &client))
		return 10;
	if (dmab_client_be_alloc(client) != a->be_alloc)
		return 11;
	dmab_client_set_flip_handler(client, handle_flip, NULL);

	struct dmab_client_buffer *bufs[2];
	for (int i = 0; i < 2; i++) {
		if (dmab_client_buffer_create(client, WIDTH, HEIGHT, DRM_FORMAT_XRGB8888, &bufs[i]))
			return 12;
	}
	for (uint32_t f = 0; f < FRAMES; f++) {
		struct dmab_client_buffer *b = bufs[f % 2];
		dmab_ts_fill(dmab_client_buffer_data(b), dmab_client_buffer_stride(b), WIDTH, HEIGHT, f);
		if (f == 0) {
			if (dmab_client_set_config(client, 0, b, 0, 0))
				return 13;
			usleep(100000); /* SET_CONFIG has no event: shown at the next refresh */
		} else {
			if (dmab_client_flip(client, 0, b))
				return 14;
			if (wait_flip(client))
				return 15;
		}
		char c;
		if (write(a->to_test, &f, sizeof(f)) != sizeof(f) || read(a->from_test, &c, 1) != 1)
			return 16;
	}
	dmab_client_destroy(client);
	return 0;
}

static bool no_guests(void *data)
{
	return dmab_ts_guest_count(data) == 0;
}

static int run(bool be_alloc)
{
	struct dmab_test_server server;
	const char *config =
		"[screen.main]\nwidth = 800\nheight = 400\n"
		"[connector.frames0]\nx = 100\ny = 50\n";
	if (dmab_ts_start(&server, config, NULL))
		return 1;

	int up[2], down[2];
	if (pipe(up) || pipe(down))
		return 1;
	struct guest_args args = { &server, be_alloc, up[1], down[0] };
	pid_t pid = dmab_ts_guest(guest, &args);

	int failures = 0;
	for (uint32_t n = 0; n < FRAMES; n++) {
		uint32_t f;
		if (read(up[0], &f, sizeof(f)) != sizeof(f)) {
			fprintf(stderr, "the guest stopped before frame %u\n", n);
			failures++;
			break;
		}
		uint8_t *rgba;
		uint32_t w, h;
		/* The connector alone, then where the layout put it on the screen. */
		if (dmab_ts_screenshot(&server, "connector:frames0", &rgba, &w, &h) ||
				w != WIDTH || h != HEIGHT) {
			failures++;
		} else {
			failures += dmab_ts_check(rgba, w, 0, 0, WIDTH, HEIGHT, f) != 0;
			free(rgba);
		}
		if (dmab_ts_screenshot(&server, "screen:main", &rgba, &w, &h) ||
				w != 800 || h != 400) {
			failures++;
		} else {
			failures += dmab_ts_check(rgba, w, 100, 50, WIDTH, HEIGHT, f) != 0;
			/* Outside the connector the screen is black. */
			const uint8_t *p = rgba + ((size_t)10 * w + 10) * 4;
			failures += p[0] || p[1] || p[2];
			free(rgba);
		}
		if (write(down[1], "k", 1) != 1)
			failures++;
	}

	int status = dmab_ts_guest_wait(pid, 10000);
	if (status != 0) {
		fprintf(stderr, "guest exited with %d\n", status);
		failures++;
	}

	/* The guest is gone: its device with it. */
	if (!dmab_ts_wait(no_guests, &server, 3000)) {
		fprintf(stderr, "the guest's device outlived it\n");
		failures++;
	}
	/* Guest buffers are dma-bufs where the system heap or udmabuf exists. */
	bool dmabufs = access("/dev/dma_heap/system", R_OK) == 0 ||
		access("/dev/udmabuf", R_OK | W_OK) == 0;
	const char *how = be_alloc ? "be-alloc" :
		dmabufs ? "octets, zero-copy" : "copying once per frame";
	if (dmab_ts_log_count(&server, how) < 1) {
		fprintf(stderr, "the log does not say how buffers were shared\n");
		failures++;
	}
	if (dmab_ts_stop(&server) != 0)
		failures++;
	close(up[0]);
	close(up[1]);
	close(down[0]);
	close(down[1]);
	return failures;
}

int main(void)
{
	int failures = 0;
	fprintf(stderr, "guest-allocated buffers\n");
	failures += run(false);
	fprintf(stderr, "backend-allocated buffers\n");
	failures += run(true);
	fprintf(stderr, "%d failures\n", failures);
	return failures ? 1 : 0;
}
