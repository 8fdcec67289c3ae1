// SPDX-License-Identifier: MIT
/*
 * dmabridgectl itself (the binary meson built, named by $DMABRIDGECTL)
 * against a real dmabridged with a guest showing a frame: status and stats
 * as text and as JSON, screenshots of screens and connectors as PNG files,
 * layout changes, reload, and the exit status of everything that goes
 * wrong: 1 with a message when dmabridged refuses or cannot be reached,
 * 2 for a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <drm_fourcc.h>

#include "tests/integration/harness.h"

#define STEP_MS 20000
#define CTL_MS 10000

#define MAIN_W 800
#define MAIN_H 600
#define SIDE_W 320
#define SIDE_H 240
#define CONN_W 320
#define CONN_H 200
#define AT_X 40
#define AT_Y 30
#define FRAME 7

static int failures;

/* ---- running dmabridgectl ---- */

struct ctl {
	int status;             /* exit status, -1 if it did not exit normally */
	char out[64 * 1024];
	char err[8 * 1024];
};

static struct dmab_test_server server;

/* Read what the pipes give until both are closed or the deadline. */
static void drain(int out, int err, struct ctl *c, uint64_t deadline)
{
	size_t lens[2] = { 0, 0 };
	char *bufs[2] = { c->out, c->err };
	size_t caps[2] = { sizeof(c->out) - 1, sizeof(c->err) - 1 };
	struct pollfd p[2] = { { out, POLLIN, 0 }, { err, POLLIN, 0 } };
	int open_fds = 2;
	while (open_fds && dmab_ts_now_ms() < deadline) {
		if (poll(p, 2, (int)(deadline - dmab_ts_now_ms())) <= 0)
			continue;
		for (int i = 0; i < 2; i++) {
			if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			char tmp[4096];
			ssize_t n = read(p[i].fd, tmp, sizeof(tmp));
			if (n <= 0) {
				p[i].fd = -1;
				open_fds--;
				continue;
			}
			size_t take = (size_t)n < caps[i] - lens[i] ? (size_t)n : caps[i] - lens[i];
			memcpy(bufs[i] + lens[i], tmp, take);
			lens[i] += take;
		}
	}
	c->out[lens[0]] = '\0';
	c->err[lens[1]] = '\0';
}

/*
 * Run dmabridgectl with args (NULL-terminated) and env (NAME=VALUE or
 * NULL), $DMABRIDGE_SOCKET unset unless env sets it.
 */
static void run_env(struct ctl *c, const char *env, const char *const *args)
{
	const char *bin = getenv("DMABRIDGECTL");
	memset(c, 0, sizeof(*c));
	c->status = -1;
	if (!bin) {
		fprintf(stderr, "$DMABRIDGECTL is not set\n");
		failures++;
		return;
	}
	const char *argv[32];
	int n = 0;
	argv[n++] = bin;
	for (int i = 0; args[i] && n < 31; i++)
		argv[n++] = args[i];
	argv[n] = NULL;

	int out[2], err[2];
	if (pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) {
		failures++;
		return;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(out[1], STDOUT_FILENO);
		dup2(err[1], STDERR_FILENO);
		unsetenv("DMABRIDGE_SOCKET");
		if (env)
			putenv((char *)env);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	uint64_t deadline = dmab_ts_now_ms() + CTL_MS;
	drain(out[0], err[0], c, deadline);
	close(out[0]);
	close(err[0]);
	int status;
	pid_t r;
	while ((r = waitpid(pid, &status, WNOHANG)) == 0 && dmab_ts_now_ms() < deadline)
		usleep(5000);
	if (r == 0) {
		fprintf(stderr, "dmabridgectl did not finish; killing it\n");
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		return;
	}
	if (WIFEXITED(status))
		c->status = WEXITSTATUS(status);
}

#define ctl_run(c, ...) run_env(c, NULL, (const char *const[]){ __VA_ARGS__, NULL })
/* With --socket for the test's server first. */
#define ctl(c, ...) ctl_run(c, "--socket", server.control_socket, __VA_ARGS__)

/* Exit status want, and a message naming what went wrong (for 1 and 2). */
static void expect(const struct ctl *c, int want, const char *in_err, const char *what)
{
	if (c->status != want || (in_err && !strstr(c->err, in_err))) {
		fprintf(stderr, "%s: exit %d (expected %d), stderr \"%s\" (expected to contain "
			"\"%s\")\n", what, c->status, want, c->err, in_err ? in_err : "");
		failures++;
	}
	if (want == 1 && strncmp(c->err, "dmabridgectl: ", 14)) {
		fprintf(stderr, "%s: no message on stderr: \"%s\"\n", what, c->err);
		failures++;
	}
	if (want == 2 && !c->err[0]) {
		fprintf(stderr, "%s: a usage error with nothing on stderr\n", what);
		failures++;
	}
}

static json_object *get(json_object *o, const char *key)
{
	json_object *v = NULL;
	return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

/* ---- the guest ---- */

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
	struct dmab_client_connector_spec spec = { CONN_W, CONN_H, "ctl0" };
	struct dmab_client_options options;
	dmab_ts_client_options(g->server, &options);
	options.create_device = true;
	options.connectors = &spec;
	options.connector_count = 1;
	struct dmab_client *client;
	GUEST_CHECK(dmab_client_connect(&options, &client) == 0);
	dmab_client_set_flip_handler(client, handle_flip, NULL);
	struct dmab_client_buffer *b;
	GUEST_CHECK(dmab_client_buffer_create(client, CONN_W, CONN_H, DRM_FORMAT_XRGB8888, &b) == 0);
	dmab_ts_fill_format(dmab_client_buffer_data(b), dmab_client_buffer_stride(b), CONN_W,
		CONN_H, DRM_FORMAT_XRGB8888, FRAME);
	GUEST_CHECK(dmab_client_set_config(client, 0, b, 0, 0) == 0);
	/* A flip of the same buffer: its event says the frame is on screen. */
	GUEST_CHECK(dmab_client_flip(client, 0, b) == 0);
	GUEST_CHECK(dmab_ts_dispatch_until(client, &flipped, 3000) == 0);
	GUEST_CHECK(dmab_ts_sync_reach(&g->sync, 1, dmab_client_domid(client), NULL,
		10 * STEP_MS) == 0);
	dmab_client_destroy(client);
	return 0;
}

/* ---- checks ---- */

/* A PNG dmabridgectl wrote: its size, and the frame where it should be (w == 0: none). */
static void expect_png(const char *path, uint32_t width, uint32_t height, uint32_t x,
		uint32_t y, uint32_t w, uint32_t h, const char *what)
{
	uint8_t *rgba;
	uint32_t pw, ph;
	int ret = dmab_ts_png_read(path, &rgba, &pw, &ph);
	if (ret) {
		fprintf(stderr, "%s: %s is not a PNG: %s\n", what, path, strerror(-ret));
		failures++;
		return;
	}
	if (pw != width || ph != height) {
		fprintf(stderr, "%s: %ux%u, expected %ux%u\n", what, pw, ph, width, height);
		failures++;
	} else if (w == 0) {
		CHECK(dmab_ts_check_black(rgba, pw, 0, 0, pw, ph) == 0);
	} else {
		uint64_t bad = dmab_ts_check_format(rgba, pw, x, y, w, h, DRM_FORMAT_XRGB8888, FRAME,
			true);
		bad += dmab_ts_check_black(rgba, pw, 0, 0, pw, y);
		bad += dmab_ts_check_black(rgba, pw, 0, y + h, pw, ph - y - h);
		bad += dmab_ts_check_black(rgba, pw, 0, y, x, h);
		bad += dmab_ts_check_black(rgba, pw, x + w, y, pw - x - w, h);
		if (bad)
			fprintf(stderr, "%s: %" PRIu64 " pixels wrong\n", what, bad);
		CHECK(bad == 0);
	}
	free(rgba);
}

/* A connector scaled to w x h at x, y: black around it, its picture (not black) inside. */
static void expect_png_scaled(const char *path, uint32_t width, uint32_t height, uint32_t x,
		uint32_t y, uint32_t w, uint32_t h, const char *what)
{
	uint8_t *rgba;
	uint32_t pw, ph;
	if (dmab_ts_png_read(path, &rgba, &pw, &ph)) {
		fprintf(stderr, "%s: %s is not a PNG\n", what, path);
		failures++;
		return;
	}
	if (pw != width || ph != height) {
		fprintf(stderr, "%s: %ux%u, expected %ux%u\n", what, pw, ph, width, height);
		failures++;
		free(rgba);
		return;
	}
	uint64_t bad = dmab_ts_check_black(rgba, pw, 0, 0, pw, y);
	bad += dmab_ts_check_black(rgba, pw, 0, y + h, pw, ph - y - h);
	bad += dmab_ts_check_black(rgba, pw, 0, y, x, h);
	bad += dmab_ts_check_black(rgba, pw, x + w, y, pw - x - w, h);
	/* The pattern has no black pixel. */
	uint64_t dark = 0;
	for (uint32_t j = y; j < y + h; j++)
		for (uint32_t i = x; i < x + w; i++) {
			const uint8_t *q = rgba + ((size_t)j * pw + i) * 4;
			dark += !(q[0] | q[1] | q[2]);
		}
	if (bad || dark)
		fprintf(stderr, "%s: %" PRIu64 " pixels wrong around it, %" PRIu64 " black in it\n",
			what, bad, dark);
	CHECK(bad == 0 && dark == 0);
	free(rgba);
}

static void test_status(uint64_t domid)
{
	struct ctl c;
	char dev[48], conn[48];
	snprintf(dev, sizeof(dev), "dom%" PRIu64 "/vdispl0 (domain test-ctl-%" PRIu64 "): Connected",
		domid, domid);
	snprintf(conn, sizeof(conn), "%" PRIu64 "/0/0", domid);
	const char *import = access("/dev/dma_heap/system", R_OK) == 0 ||
		access("/dev/udmabuf", R_OK | W_OK) == 0 ? ": zero-copy" : ": copy";

	ctl(&c, "status");
	expect(&c, 0, NULL, "status");
	const char *want[] = {
		"dmabridged ", "sim hypervisor", "screen main: 800x600@60.00 (headless)",
		"screen side: 320x240@60.00 (headless)", dev,
		"connector 0 \"ctl0\" 320x200, on, screen main at 40,30 z 4",
		"buffer 0x", import,
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		if (!strstr(c.out, want[i])) {
			fprintf(stderr, "status does not say \"%s\":\n%s", want[i], c.out);
			failures++;
		}
	}

	ctl_run(&c, "--json", "--socket", server.control_socket, "status");
	expect(&c, 0, NULL, "--json status");
	json_object *r = json_tokener_parse(c.out);
	CHECK(r && json_object_get_boolean(get(r, "ok")));
	json_object *guests = get(r, "guests");
	CHECK(guests && json_object_array_length(guests) == 1);
	json_object *g = guests ? json_object_array_get_idx(guests, 0) : NULL;
	CHECK(json_object_get_int64(get(g, "domid")) == (int64_t)domid);
	json_object *co = json_object_array_get_idx(get(g, "connectors"), 0);
	CHECK(co && !strcmp(json_object_get_string(get(co, "unique_id")), "ctl0"));
	CHECK(json_object_get_boolean(get(co, "enabled")));
	CHECK(json_object_get_int(get(get(co, "place"), "x")) == AT_X);
	CHECK(json_object_array_length(get(g, "buffers")) == 1);
	if (r)
		json_object_put(r);

	ctl(&c, "stats");
	expect(&c, 0, NULL, "stats");
	CHECK(strstr(c.out, "connector") && strstr(c.out, "fps"));
	char *line = strstr(c.out, conn);
	CHECK(line && line > c.out && line[-1] == '\n' && strstr(line, "ctl0"));

	ctl_run(&c, "--json", "--socket", server.control_socket, "stats");
	expect(&c, 0, NULL, "--json stats");
	r = json_tokener_parse(c.out);
	CHECK(r && json_object_get_boolean(get(r, "ok")));
	json_object *conns = get(r, "connectors");
	CHECK(conns && json_object_array_length(conns) == 1);
	json_object *st = conns ? json_object_array_get_idx(conns, 0) : NULL;
	CHECK(st && !strcmp(json_object_get_string(get(st, "connector")), conn));
	CHECK(json_object_get_int64(get(st, "frames")) >= 1);
	if (r)
		json_object_put(r);

	/* $DMABRIDGE_SOCKET stands for --socket. */
	char env[200];
	snprintf(env, sizeof(env), "DMABRIDGE_SOCKET=%s", server.control_socket);
	run_env(&c, env, (const char *const[]){ "status", NULL });
	expect(&c, 0, NULL, "status through $DMABRIDGE_SOCKET");
	CHECK(strstr(c.out, dev) != NULL);
}

static void test_screenshot(uint64_t domid)
{
	struct ctl c;
	char file[160], conn[48], line[200];
	snprintf(file, sizeof(file), "%s/shot.png", server.dir);
	snprintf(conn, sizeof(conn), "%" PRIu64 "/0/0", domid);

	ctl(&c, "screenshot", file);
	expect(&c, 0, NULL, "screenshot");
	snprintf(line, sizeof(line), "%s: 800x600\n", file);
	CHECK(!strcmp(c.out, line));
	expect_png(file, MAIN_W, MAIN_H, AT_X, AT_Y, CONN_W, CONN_H, "screenshot");

	ctl(&c, "screenshot", "screen:side", file);
	expect(&c, 0, NULL, "screenshot screen:side");
	expect_png(file, SIDE_W, SIDE_H, 0, 0, 0, 0, "screenshot screen:side");
	ctl(&c, "screenshot", "main", file);
	expect(&c, 0, NULL, "screenshot main");
	expect_png(file, MAIN_W, MAIN_H, AT_X, AT_Y, CONN_W, CONN_H, "screenshot main");

	ctl(&c, "screenshot", conn, file);
	expect(&c, 0, NULL, "screenshot domid/devid/index");
	expect_png(file, CONN_W, CONN_H, 0, 0, CONN_W, CONN_H, "screenshot domid/devid/index");
	ctl_run(&c, "--json", "--socket", server.control_socket, "screenshot", conn, file);
	expect(&c, 0, NULL, "--json screenshot");
	json_object *r = json_tokener_parse(c.out);
	CHECK(r && json_object_get_int(get(r, "width")) == CONN_W &&
		json_object_get_int(get(r, "height")) == CONN_H);
	if (r)
		json_object_put(r);

	/*
	 * The unique-id names the connector, as the usage text and
	 * docs/dmabridgectl.md say ("or of a connector (domid/devid/index, or
	 * its unique-id)"). Known bug, reported: a bare word is always taken
	 * for a screen name, and dmabridged answers "no screen ctl0".
	 */
	unlink(file);
	ctl(&c, "screenshot", "ctl0", file);
	if (c.status != 0)
		fprintf(stderr, "known bug: screenshot by unique-id: exit %d, %s", c.status, c.err);
	expect(&c, 0, NULL, "screenshot by unique-id");
	if (c.status == 0)
		expect_png(file, CONN_W, CONN_H, 0, 0, CONN_W, CONN_H, "screenshot by unique-id");

	/* Refused: exit 1, the reason, and no file left behind. */
	unlink(file);
	ctl(&c, "screenshot", "screen:nowhere", file);
	expect(&c, 1, "no screen nowhere", "screenshot of no screen");
	CHECK(access(file, F_OK) != 0);
	ctl(&c, "screenshot", "9/9/9", file);
	expect(&c, 1, "no connector 9/9/9", "screenshot of no connector");
	CHECK(access(file, F_OK) != 0);
	ctl(&c, "screenshot", "/nonexistent-dir/shot.png");
	expect(&c, 1, "/nonexistent-dir/shot.png", "screenshot into no directory");

	ctl(&c, "screenshot");
	expect(&c, 2, "usage", "screenshot without a file");
	ctl(&c, "screenshot", "a", "b", "c");
	expect(&c, 2, "usage", "screenshot with three arguments");
}

static void test_layout(uint64_t domid)
{
	struct ctl c;
	char file[160];
	snprintf(file, sizeof(file), "%s/layout.png", server.dir);

	ctl(&c, "layout", "ctl0", "x=100", "y=50", "z=3");
	expect(&c, 0, NULL, "layout x y z");
	CHECK(!strcmp(c.out, "ctl0: on main at 100,50 z 3\n"));
	ctl(&c, "screenshot", file);
	expect_png(file, MAIN_W, MAIN_H, 100, 50, CONN_W, CONN_H, "after layout");
	json_object *g = dmab_ts_guest_status(&server, (unsigned int)domid, 0);
	json_object *place = get(json_object_array_get_idx(get(g, "connectors"), 0), "place");
	CHECK(json_object_get_int(get(place, "x")) == 100 &&
		json_object_get_int(get(place, "y")) == 50 &&
		json_object_get_int(get(place, "z")) == 3);
	if (g)
		json_object_put(g);

	/* To the other screen, by domid/devid/index. */
	char conn[48];
	snprintf(conn, sizeof(conn), "%" PRIu64 "/0/0", domid);
	ctl_run(&c, "--json", "--socket", server.control_socket, "layout", conn, "screen=side",
		"x=0", "y=20");
	expect(&c, 0, NULL, "layout to another screen");
	json_object *r = json_tokener_parse(c.out);
	CHECK(r && !strcmp(json_object_get_string(get(get(r, "place"), "screen")), "side"));
	if (r)
		json_object_put(r);
	ctl(&c, "screenshot", "side", file);
	expect_png(file, SIDE_W, SIDE_H, 0, 20, CONN_W, CONN_H, "moved to side");
	ctl(&c, "screenshot", file);
	expect_png(file, MAIN_W, MAIN_H, 0, 0, 0, 0, "main without it");

	ctl(&c, "layout", "ctl0", "visible=no");
	expect(&c, 0, NULL, "layout visible=no");
	ctl(&c, "status");
	CHECK(strstr(c.out, "(hidden)") != NULL);
	ctl(&c, "screenshot", "side", file);
	expect_png(file, SIDE_W, SIDE_H, 0, 0, 0, 0, "hidden");
	/* Hidden, it still shows on its own. */
	ctl(&c, "screenshot", conn, file);
	expect_png(file, CONN_W, CONN_H, 0, 0, CONN_W, CONN_H, "hidden connector");

	/* Scaled: twice its size (the height follows the width), then its own again. */
	ctl(&c, "layout", "ctl0", "screen=main", "x=40", "y=30", "visible=yes", "width=640");
	expect(&c, 0, NULL, "layout width=640");
	CHECK(!strcmp(c.out, "ctl0: on main at 40,30 z 3, 640x400\n"));
	ctl(&c, "screenshot", file);
	expect_png_scaled(file, MAIN_W, MAIN_H, 40, 30, 2 * CONN_W, 2 * CONN_H, "scaled 2x");
	ctl(&c, "layout", "ctl0", "width=0");
	expect(&c, 0, NULL, "layout width=0");
	CHECK(!strcmp(c.out, "ctl0: on main at 40,30 z 3\n"));
	ctl(&c, "layout", "ctl0", "height=16384");
	expect(&c, 1, "more than 16384", "layout to more than the largest size");

	ctl(&c, "layout", "ctl0", "screen=main", "x=40", "y=30", "z=4", "visible=yes");
	expect(&c, 0, NULL, "layout back");
	ctl(&c, "screenshot", file);
	expect_png(file, MAIN_W, MAIN_H, AT_X, AT_Y, CONN_W, CONN_H, "back");

	/* Refused by dmabridged: 1. */
	ctl(&c, "layout", "nosuch", "x=1");
	expect(&c, 1, "no connector nosuch", "layout of no connector");
	ctl(&c, "layout", "ctl0", "screen=nope");
	expect(&c, 1, "no screen nope", "layout to no screen");
	/* Malformed: 2, and nothing sent. */
	ctl(&c, "layout", "ctl0");
	expect(&c, 2, "usage", "layout without a change");
	ctl(&c, "layout", "ctl0", "x=abc");
	expect(&c, 2, "not a number", "layout x=abc");
	ctl(&c, "layout", "ctl0", "colour=red");
	expect(&c, 2, "unknown key", "layout colour=red");
	ctl(&c, "layout", "ctl0", "x");
	expect(&c, 2, "not key=value", "layout x");
	ctl(&c, "status");
	CHECK(strstr(c.out, "on, screen main at 40,30 z 4") != NULL);
}

/* A fake dmabridged that answers one request with answer (NULL: hangs up). */
static pid_t fake_server(const char *path, const char *answer)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	unlink(path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) || listen(fd, 1)) {
		failures++;
		return -1;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		int c = accept(fd, NULL, NULL);
		char buf[4096];
		if (c >= 0 && read(c, buf, sizeof(buf)) > 0 && answer)
			(void)!write(c, answer, strlen(answer));
		_exit(0);
	}
	close(fd);
	return pid;
}

static void test_errors(void)
{
	struct ctl c;
	/* No server at the socket. */
	ctl_run(&c, "--socket", "/nonexistent-dir/dmabridge.sock", "status");
	expect(&c, 1, "cannot reach dmabridged", "status without a server");
	char path[160];
	snprintf(path, sizeof(path), "%s/stale.sock", server.dir);
	ctl_run(&c, "--socket", path, "stats");
	expect(&c, 1, "cannot reach dmabridged", "stats without a server");

	/* A server that hangs up, or answers garbage. */
	pid_t pid = fake_server(path, NULL);
	ctl_run(&c, "--socket", path, "status");
	expect(&c, 1, "no answer", "a server that hangs up");
	waitpid(pid, NULL, 0);
	/*
	 * Known bug, reported: call() in tools/dmabridgectl.c returns NULL for
	 * an answer that is not JSON without saying so: exit 1, silently.
	 */
	pid = fake_server(path, "this is not JSON\n");
	ctl_run(&c, "--socket", path, "status");
	if (!c.err[0])
		fprintf(stderr, "known bug: a garbled answer gives exit %d and no message\n",
			c.status);
	expect(&c, 1, NULL, "a server that answers garbage");
	waitpid(pid, NULL, 0);

	/* Usage errors. */
	ctl_run(&c, "--socket", server.control_socket);
	expect(&c, 2, "usage", "no command");
	ctl(&c, "frobnicate");
	expect(&c, 2, "unknown command frobnicate", "unknown command");
	ctl_run(&c, "--bogus", "status");
	expect(&c, 2, "usage", "unknown option");
	ctl(&c, "stats", "-w", "0");
	expect(&c, 2, "-w takes seconds", "stats -w 0");
	ctl(&c, "stats", "extra");
	expect(&c, 2, "usage", "stats extra");

	ctl_run(&c, "--help");
	expect(&c, 0, NULL, "--help");
	CHECK(strstr(c.out, "usage: dmabridgectl") != NULL);

	/* reload: the server has a file, and takes it again. */
	int before = dmab_ts_log_count(&server, "reloaded");
	ctl(&c, "reload");
	expect(&c, 0, NULL, "reload");
	CHECK(dmab_ts_log_count(&server, "reloaded") == before + 1);
}

int main(void)
{
	char config[512];
	snprintf(config, sizeof(config), "[screen.main]\nwidth = %d\nheight = %d\n"
		"[screen.side]\nwidth = %d\nheight = %d\n"
		"[connector.ctl0]\nx = %d\ny = %d\nz = 4\n", MAIN_W, MAIN_H, SIDE_W, SIDE_H,
		AT_X, AT_Y);
	if (dmab_ts_start(&server, config, NULL))
		return 1;

	/* Before any guest. */
	struct ctl c;
	ctl(&c, "status");
	expect(&c, 0, NULL, "status without guests");
	CHECK(strstr(c.out, "no guests") != NULL);
	ctl(&c, "stats");
	expect(&c, 0, NULL, "stats without guests");
	CHECK(strstr(c.out, "(no connectors)") != NULL);

	struct guest g = { .server = &server };
	if (dmab_ts_sync_open(&g.sync))
		return 1;
	pid_t pid = dmab_ts_guest(guest_main, &g);
	dmab_ts_sync_parent(&g.sync);
	uint32_t step;
	uint64_t domid;
	if (dmab_ts_sync_wait(&g.sync, &step, &domid, STEP_MS) || step != 1) {
		fprintf(stderr, "the guest did not come up\n");
		failures++;
	} else {
		fprintf(stderr, "status and stats\n");
		test_status(domid);
		fprintf(stderr, "screenshots\n");
		test_screenshot(domid);
		fprintf(stderr, "layout\n");
		test_layout(domid);
		fprintf(stderr, "errors\n");
		test_errors();
		dmab_ts_sync_go(&g.sync, 0);
	}
	int status = dmab_ts_guest_wait(pid, STEP_MS);
	CHECK(status == 0);
	dmab_ts_sync_close(&g.sync);
	status = dmab_ts_stop(&server);
	CHECK(status == 0);
	fprintf(stderr, "%d failures\n", failures);
	return failures ? 1 : 0;
}
