// SPDX-License-Identifier: MIT
/*
 * dmabridge-play (the binary meson built, $DMABRIDGE_PLAY) as a guest of a
 * real dmabridged: with two buffers and with three (the next frame drawn
 * while the last one's flip is awaited), the test pattern and a PNG. Each
 * run shows a fixed number of frames and holds the last: the screenshot of
 * its connector must be that frame exactly, and its summary must count
 * every frame, with no flip timed out.
 */
#include <errno.h>
#include <inttypes.h>
#include <png.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client/tools/pattern.h"
#include "tests/integration/harness.h"

#define WIDTH 320
#define HEIGHT 240

static int failures;

static void sleep_ms(uint32_t ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

struct play_run {
	pid_t pid;
	char out[128];          /* its standard output, with the summary */
};

static bool play_start(struct play_run *p, struct dmab_test_server *s, const char *uid,
		unsigned int buffers, unsigned int frames, const char *png)
{
	const char *bin = getenv("DMABRIDGE_PLAY");
	if (!bin)
		return false;
	char create[64], count[16], nbuf[16];
	snprintf(create, sizeof(create), "%s:%ux%u", uid, WIDTH, HEIGHT);
	snprintf(count, sizeof(count), "%u", frames);
	snprintf(nbuf, sizeof(nbuf), "%u", buffers);
	snprintf(p->out, sizeof(p->out), "%s/play-%s.out", s->dir, uid);
	const char *argv[16];
	int n = 0;
	argv[n++] = bin;
	argv[n++] = "--sim-socket";
	argv[n++] = s->sim_socket;
	argv[n++] = "--create";
	argv[n++] = create;
	argv[n++] = "--buffers";
	argv[n++] = nbuf;
	argv[n++] = "--frames";
	argv[n++] = count;
	argv[n++] = "--hold";
	if (png) {
		argv[n++] = "--png";
		argv[n++] = png;
	}
	argv[n] = NULL;
	fflush(NULL);
	p->pid = fork();
	if (p->pid == 0) {
		if (!freopen(p->out, "w", stdout))
			_exit(126);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	return p->pid > 0;
}

/* SIGTERM, then its summary line; whether it exited 0. */
static bool play_stop(struct play_run *p, char *summary, size_t len)
{
	kill(p->pid, SIGTERM);
	int status = -1;
	waitpid(p->pid, &status, 0);
	summary[0] = '\0';
	FILE *f = fopen(p->out, "r");
	char line[256];
	while (f && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "dmabridge-play: ", 16))
			snprintf(summary, len, "%s", line);
	}
	if (f)
		fclose(f);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static int64_t connector_frames(struct dmab_test_server *s, const char *uid)
{
	json_object *r = dmab_ts_ctl(s, "{\"cmd\":\"stats\"}", -1);
	json_object *conns = NULL, *v = NULL;
	int64_t frames = -1;
	json_object_object_get_ex(r, "connectors", &conns);
	for (size_t i = 0; conns && i < json_object_array_length(conns); i++) {
		json_object *c = json_object_array_get_idx(conns, i);
		if (json_object_object_get_ex(c, "unique_id", &v) &&
				!strcmp(json_object_get_string(v), uid) &&
				json_object_object_get_ex(c, "frames", &v))
			frames = json_object_get_int64(v);
	}
	if (r)
		json_object_put(r);
	return frames;
}

/* The picture of the PNG: a frame of the pattern, so it is checked like one. */
#define PNG_FRAME 77u

static bool write_png(const char *path)
{
	uint32_t *pixels = malloc((size_t)WIDTH * HEIGHT * 4);
	if (!pixels)
		return false;
	dmab_pattern_fill(pixels, WIDTH * 4, WIDTH, HEIGHT, PNG_FRAME);
	png_image image = { .version = PNG_IMAGE_VERSION, .width = WIDTH, .height = HEIGHT,
		.format = PNG_FORMAT_BGRA };
	bool ok = png_image_write_to_file(&image, path, 0, pixels, WIDTH * 4, NULL) != 0;
	free(pixels);
	return ok;
}

/*
 * frames frames with buffers buffers; the last one held must be on the
 * screen as drawn: the pattern's frame frames - 1, or the PNG.
 */
static void run(unsigned int buffers, unsigned int frames, bool png)
{
	struct dmab_test_server s;
	if (dmab_ts_start(&s, "[screen.main]\nwidth = 640\nheight = 480\n", NULL)) {
		failures++;
		return;
	}
	char uid[32], png_path[160];
	snprintf(uid, sizeof(uid), "play%u%s", buffers, png ? "png" : "");
	snprintf(png_path, sizeof(png_path), "%s/picture.png", s.dir);
	if (png && !write_png(png_path)) {
		fprintf(stderr, "cannot write %s\n", png_path);
		failures++;
		dmab_ts_stop(&s);
		return;
	}
	struct play_run p;
	CHECK(play_start(&p, &s, uid, buffers, frames, png ? png_path : NULL));
	uint64_t until = dmab_ts_now_ms() + 30000;
	/* The server counts flips presented: frame 0 came with SET_CONFIG. */
	while (connector_frames(&s, uid) < (int64_t)frames - 1 && dmab_ts_now_ms() < until)
		sleep_ms(20);
	int64_t shown = connector_frames(&s, uid);
	CHECK(shown == (int64_t)frames - 1);
	uint8_t *rgba = NULL;
	uint32_t w = 0, h = 0;
	char target[64];
	snprintf(target, sizeof(target), "connector:%s", uid);
	CHECK(dmab_ts_screenshot(&s, target, &rgba, &w, &h) == 0);
	uint32_t want_frame = png ? PNG_FRAME : frames - 1;
	uint64_t bad = UINT64_MAX;
	if (rgba && w == WIDTH && h == HEIGHT) {
		bad = 0;
		for (uint32_t y = 0; y < HEIGHT; y++) {
			for (uint32_t x = 0; x < WIDTH; x++) {
				const uint8_t *q = rgba + ((size_t)y * WIDTH + x) * 4;
				uint32_t got = 0xff000000u | (uint32_t)q[0] << 16 |
					(uint32_t)q[1] << 8 | q[2];
				uint32_t want = dmab_pattern_pixel(x, y, WIDTH, want_frame);
				if (got != want && !bad++)
					fprintf(stderr, "at %u,%u: 0x%08x, expected 0x%08x\n", x, y,
						got, want);
			}
		}
	}
	free(rgba);
	char summary[256];
	CHECK(play_stop(&p, summary, sizeof(summary)));
	fprintf(stderr, "%u buffers, %s: %" PRId64 " flips shown, %" PRIu64 " pixels wrong; %s",
		buffers, png ? "a PNG" : "the pattern", shown, bad, summary);
	CHECK(bad == 0);
	char want[64];
	snprintf(want, sizeof(want), "%u frames (%u flips)", frames, frames - 1);
	CHECK(strstr(summary, want) != NULL);
	CHECK(strstr(summary, ", 0 flip timeouts") != NULL);
	if (failures)
		dmab_ts_dump_log(&s);
	CHECK(dmab_ts_stop(&s) == 0);
}

int main(void)
{
	if (!getenv("DMABRIDGE_PLAY")) {
		fprintf(stderr, "DMABRIDGE_PLAY is not set: skipped\n");
		return 77;
	}
	signal(SIGPIPE, SIG_IGN);
	run(2, 40, false);
	run(3, 40, false);
	run(3, 41, false);
	/* With three buffers the third holds the picture first at frame 2. */
	run(3, 3, true);
	run(2, 2, true);
	return failures ? 1 : 0;
}
