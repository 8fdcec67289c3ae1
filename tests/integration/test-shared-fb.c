// SPDX-License-Identifier: MIT
/*
 * Two connectors showing parts of one framebuffer, as Linux's xen-drm-front
 * sets up two pipes that share one (modetest -s A@CRTC1:WxH -s B@CRTC2:WxH):
 * SET_CONFIG then names the framebuffer's size and the CRTC's offset into
 * it (xen_drm_front_kms.c), a rectangle larger than the connector. Each
 * connector must show the part of the framebuffer of its own size at that
 * offset, after the SET_CONFIG and after page flips, and an offset whose
 * part the framebuffer does not hold is refused.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <drm_fourcc.h>

#include "tests/integration/harness.h"

/* Left: 320x200 at 0,0 of the framebuffer; right: 400x240 at 320,0. */
#define LEFT_W 320
#define LEFT_H 200
#define RIGHT_W 400
#define RIGHT_H 240
#define FB_W (LEFT_W + RIGHT_W)
#define FB_H RIGHT_H
#define FRAMES 3

struct guest_args {
	struct dmab_test_server *server;
	int to_test;            /* the guest says "frame f is shown" */
	int from_test;          /* the test says "checked, go on" */
};

static bool flipped[2];

static void handle_flip(void *data, unsigned int index, struct dmab_client_buffer *buffer)
{
	if (index < 2)
		flipped[index] = true;
}

static int wait_flips(struct dmab_client *client)
{
	for (int i = 0; i < 300 && !(flipped[0] && flipped[1]); i++) {
		usleep(10000);
		if (dmab_client_dispatch(client))
			return -1;
	}
	return flipped[0] && flipped[1] ? 0 : -1;
}

static int guest(void *data)
{
	struct guest_args *a = data;
	struct dmab_client_connector_spec specs[] = {
		{ LEFT_W, LEFT_H, "left" }, { RIGHT_W, RIGHT_H, "right" },
	};
	struct dmab_client_options options;
	dmab_ts_client_options(a->server, &options);
	options.create_device = true;
	options.connectors = specs;
	options.connector_count = 2;

	struct dmab_client *client;
	GUEST_CHECK(dmab_client_connect(&options, &client) == 0);
	dmab_client_set_flip_handler(client, handle_flip, NULL);

	struct dmab_client_buffer *bufs[2];
	for (int i = 0; i < 2; i++)
		GUEST_CHECK(dmab_client_buffer_create(client, FB_W, FB_H, DRM_FORMAT_XRGB8888,
			&bufs[i]) == 0);
	/* The right part must lie inside the framebuffer: one column more does not. */
	GUEST_CHECK(dmab_client_set_config(client, 1, bufs[0], LEFT_W + 1, 0) == -EINVAL);
	for (uint32_t f = 0; f < FRAMES; f++) {
		struct dmab_client_buffer *b = bufs[f % 2];
		dmab_ts_fill(dmab_client_buffer_data(b), dmab_client_buffer_stride(b), FB_W, FB_H, f);
		if (f == 0) {
			GUEST_CHECK(dmab_client_set_config(client, 0, b, 0, 0) == 0);
			GUEST_CHECK(dmab_client_set_config(client, 1, b, LEFT_W, 0) == 0);
		} else {
			flipped[0] = flipped[1] = false;
			GUEST_CHECK(dmab_client_flip(client, 0, b) == 0);
			GUEST_CHECK(dmab_client_flip(client, 1, b) == 0);
			GUEST_CHECK(wait_flips(client) == 0);
		}
		char c;
		GUEST_CHECK(write(a->to_test, &f, sizeof(f)) == sizeof(f));
		GUEST_CHECK(read(a->from_test, &c, 1) == 1);
	}
	dmab_client_destroy(client);
	return 0;
}

struct part {
	uint32_t x0, y0, width, height;  /* in the framebuffer */
	uint32_t f;
};

/* The screenshot is the part's size and holds the framebuffer's pixels there. */
static uint64_t check_part(const uint8_t *rgba, uint32_t width, uint32_t height, void *data)
{
	const struct part *p = data;
	if (width != p->width || height != p->height) {
		fprintf(stderr, "screenshot %ux%u, expected %ux%u\n", width, height,
			p->width, p->height);
		return UINT64_MAX;
	}
	uint64_t bad = 0;
	for (uint32_t y = 0; y < height; y++) {
		for (uint32_t x = 0; x < width; x++) {
			const uint8_t *px = rgba + ((size_t)y * width + x) * 4;
			uint32_t got = 0xff000000u | (uint32_t)px[0] << 16 | (uint32_t)px[1] << 8 | px[2];
			uint32_t want = dmab_ts_pattern(p->f, p->x0 + x, p->y0 + y);
			if (got != want && bad++ == 0)
				fprintf(stderr, "pixel %u,%u of frame %u: 0x%08x, expected 0x%08x "
					"(framebuffer %u,%u)\n", x, y, p->f, got, want,
					p->x0 + x, p->y0 + y);
		}
	}
	return bad;
}

int main(void)
{
	struct dmab_test_server server;
	const char *config =
		"[screen.main]\nwidth = 800\nheight = 300\n"
		"[connector.left]\nx = 0\ny = 0\n"
		"[connector.right]\nx = 360\ny = 0\n";
	if (dmab_ts_start(&server, config, NULL))
		return 1;
	int up[2], down[2];
	if (pipe(up) || pipe(down))
		return 1;
	struct guest_args args = { &server, up[1], down[0] };
	pid_t pid = dmab_ts_guest(guest, &args);
	/* The guest's ends: a guest that stops is an end of file here, not a hang. */
	close(up[1]);
	close(down[0]);

	int failures = 0;
	for (uint32_t n = 0; n < FRAMES; n++) {
		uint32_t f;
		if (read(up[0], &f, sizeof(f)) != sizeof(f)) {
			fprintf(stderr, "the guest stopped before frame %u\n", n);
			failures++;
			break;
		}
		struct part left = { 0, 0, LEFT_W, LEFT_H, f };
		struct part right = { LEFT_W, 0, RIGHT_W, RIGHT_H, f };
		fprintf(stderr, "frame %u\n", f);
		CHECK(dmab_ts_shot_until(&server, "connector:left", check_part, &left, 3000) == 0);
		CHECK(dmab_ts_shot_until(&server, "connector:right", check_part, &right, 3000) == 0);
		if (write(down[1], "k", 1) != 1)
			failures++;
	}
	int status = dmab_ts_guest_wait(pid, 10000);
	if (status != 0) {
		fprintf(stderr, "guest exited with %d\n", status);
		failures++;
	}
	/* The one refusal was the guest's offset past the framebuffer's edge. */
	CHECK(dmab_ts_log_count(&server, "leaves the 400x240 connector") == 1);
	if (dmab_ts_stop(&server) != 0)
		failures++;
	close(up[0]);
	close(down[1]);
	fprintf(stderr, "%d failures\n", failures);
	return failures ? 1 : 0;
}
