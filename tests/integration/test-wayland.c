// SPDX-License-Identifier: MIT
/*
 * dmabridged inside a Wayland compositor: Debian's Weston on its headless
 * backend with the pixman renderer, started here with a socket of its own
 * (the test skips where there is no Weston). Guests' frames are checked
 * pixel by pixel on Weston's own screenshots (weston-screenshooter, which
 * Weston allows with --debug). That Weston offers no linux-dmabuf, so
 * every buffer takes the wl_shm path by itself, and status says so. Then:
 * flips paced by the compositor; the compositor killed and started again
 * while a guest flips (the screen goes and comes back, the guest never
 * waits); frame callbacks where wp_presentation is not used; and Weston's
 * ivi-shell, where the window is an ivi surface with the configured id
 * (no layout controller places it there, so it stays hidden: its frames
 * complete anyway).
 *
 * Part "vkms" (the VM tier, as root): the same two guests in Weston on
 * its DRM backend with the pixman renderer on a vkms card, so the wl_shm
 * path is proven on a compositor that scans out: exact on Weston's
 * screenshot of the connector, paced by its page flips, and across
 * Weston stopped and started again.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <drm_fourcc.h>

#include "tests/integration/harness.h"

#define STEP_MS 60000
#define SHOW_MS 20000
#define WIDTH 640
#define HEIGHT 480

static int failures;

/* The compositor's output: Weston's headless one, or a vkms connector ("vkms"). */
static char drm_card[64];       /* "card0": Weston on its DRM backend there */
static uint32_t out_width = WIDTH, out_height = HEIGHT;
static const char *out_name = "headless";

static void sleep_ms(uint32_t ms)
{
	nanosleep(&(struct timespec){ ms / 1000, (long)(ms % 1000) * 1000000 }, NULL);
}

/* A program on $PATH, into path; false if there is none. */
static bool find_program(const char *name, char *path, size_t len)
{
	const char *dirs = getenv("PATH");
	if (!dirs)
		dirs = "/usr/bin:/bin";
	while (*dirs) {
		size_t n = strcspn(dirs, ":");
		snprintf(path, len, "%.*s/%s", (int)n, dirs, name);
		if (n && access(path, X_OK) == 0)
			return true;
		dirs += n + (dirs[n] == ':');
	}
	return false;
}

static char weston_bin[256], shooter_bin[256];

struct weston {
	pid_t pid;
	char dir[64];                   /* its XDG_RUNTIME_DIR, with its socket and log */
	char socket[128];
};

enum dmabuf_mode { NO_DMABUF, DMABUF_TAKEN, DMABUF_REFUSED };

static bool compositor_start(struct weston *w, const char *shell, bool stall,
		enum dmabuf_mode dmabuf);

/* Weston, headless and pixman, on its own socket; shell: "desktop" or "ivi". */
static bool weston_start(struct weston *w, const char *shell)
{
	return compositor_start(w, shell, false, NO_DMABUF);
}

/* The compositor that never answers (wl-stall), with linux-dmabuf or not. */
static bool stall_start(struct weston *w, enum dmabuf_mode dmabuf)
{
	return compositor_start(w, NULL, true, dmabuf);
}

static bool compositor_start(struct weston *w, const char *shell, bool stall,
		enum dmabuf_mode dmabuf)
{
	if (!w->dir[0]) {
		snprintf(w->dir, sizeof(w->dir), "/tmp/dmab-weston-XXXXXX");
		if (!mkdtemp(w->dir))
			return false;
	}
	snprintf(w->socket, sizeof(w->socket), "%s/wl-dmab", w->dir);
	unlink(w->socket);
	char log[128], shell_arg[64], size_w[32], size_h[32];
	snprintf(log, sizeof(log), "%s/weston.log", w->dir);
	snprintf(shell_arg, sizeof(shell_arg), "--shell=%s-shell.so", shell ? shell : "");
	snprintf(size_w, sizeof(size_w), "--width=%d", WIDTH);
	snprintf(size_h, sizeof(size_h), "--height=%d", HEIGHT);
	fflush(NULL);
	w->pid = fork();
	if (w->pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		setenv("XDG_RUNTIME_DIR", w->dir, 1);
		unsetenv("WAYLAND_DISPLAY");
		unsetenv("DISPLAY");
		const char *stall_bin = getenv("DMAB_WL_STALL");
		if (stall && stall_bin)
			execl(stall_bin, stall_bin, "wl-dmab", dmabuf == DMABUF_TAKEN ? "--dmabuf" :
				dmabuf == DMABUF_REFUSED ? "--dmabuf-refuse" : NULL, (char *)NULL);
		if (stall)
			_exit(127);
		/* --debug: the screenshooter is for any client. */
		if (drm_card[0]) {
			/* Its own launcher, as root, on a VT of its own; no input devices here. */
			char device[300];
			snprintf(device, sizeof(device), "--drm-device=%s", drm_card);
			execl(weston_bin, weston_bin, "--backend=drm-backend.so", device, "--tty=2",
				"--continue-without-input", "--use-pixman", "--socket=wl-dmab",
				shell_arg, "--idle-time=0", "--debug", "--no-config", (char *)NULL);
			_exit(127);
		}
		execl(weston_bin, weston_bin, "--backend=headless-backend.so", "--use-pixman",
			"--socket=wl-dmab", size_w, size_h, shell_arg, "--idle-time=0", "--debug",
			"--no-config", (char *)NULL);
		_exit(127);
	}
	if (w->pid < 0)
		return false;
	for (int i = 0; i < 200; i++) {
		if (access(w->socket, F_OK) == 0)
			return true;
		sleep_ms(50);
	}
	fprintf(stderr, "weston did not make its socket\n");
	return false;
}

static void weston_dump_log(const struct weston *w)
{
	char path[128], line[512];
	snprintf(path, sizeof(path), "%s/weston.log", w->dir);
	FILE *f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		fprintf(stderr, "weston: %s", line);
	if (f)
		fclose(f);
}

static void weston_kill(struct weston *w, int sig)
{
	if (w->pid <= 0)
		return;
	kill(w->pid, sig);
	waitpid(w->pid, NULL, 0);
	w->pid = 0;
}

static void weston_cleanup(struct weston *w)
{
	weston_kill(w, SIGTERM);
	if (!w->dir[0])
		return;
	DIR *d = opendir(w->dir);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		char path[384];
		snprintf(path, sizeof(path), "%s/%s", w->dir, e->d_name);
		if (e->d_name[0] != '.')
			unlink(path);
	}
	if (d)
		closedir(d);
	rmdir(w->dir);
	w->dir[0] = '\0';
}

/* What Weston shows, through weston-screenshooter (it writes a PNG in its directory). */
static int weston_shot(const struct weston *w, uint8_t **rgba, uint32_t *width,
		uint32_t *height)
{
	char dir[160];
	snprintf(dir, sizeof(dir), "%s/shot-XXXXXX", w->dir);
	if (!mkdtemp(dir))
		return -errno;
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		if (chdir(dir))
			_exit(126);
		setenv("XDG_RUNTIME_DIR", w->dir, 1);
		setenv("WAYLAND_DISPLAY", "wl-dmab", 1);
		int null = open("/dev/null", O_WRONLY);
		if (null >= 0)
			dup2(null, 1);
		execl(shooter_bin, shooter_bin, (char *)NULL);
		_exit(127);
	}
	int status = -1;
	uint64_t until = dmab_ts_now_ms() + 10000;
	while (pid > 0 && waitpid(pid, &status, WNOHANG) == 0) {
		if (dmab_ts_now_ms() > until) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			break;
		}
		sleep_ms(20);
	}
	int ret = -ENOENT;
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		char path[448];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (e->d_name[0] == '.')
			continue;
		if (ret == -ENOENT && strstr(e->d_name, ".png"))
			ret = dmab_ts_png_read(path, rgba, width, height);
		unlink(path);
	}
	if (d)
		closedir(d);
	rmdir(dir);
	return ret;
}

/* ---- guests ---- */

struct gspec {
	const char *uid;
	uint32_t width, height;
	int32_t x, y;
};

struct guest {
	struct dmab_test_server *server;
	struct dmab_ts_sync sync;
	const struct gspec *spec;
	uint32_t picture;
	bool blocks;            /* blocks_pixel() rather than the harness's pattern */
};

/* Frame f as solid 16x16 blocks: a picture that scaling leaves alone inside each block. */
static uint32_t blocks_pixel(uint32_t f, uint32_t x, uint32_t y)
{
	uint32_t h = ((x / 16) * 0x9e3779b1u) ^ ((y / 16) * 0x85ebca77u) ^ ((f + 1) * 0xc2b2ae3du);
	h ^= h >> 13;
	h *= 0x2c1b3c6du;
	h ^= h >> 16;
	return 0xff000000u | (h & 0xffffff);
}

enum { CMD_FLIP = 1, CMD_STOP, CMD_END };

static bool flipped;

static void handle_flip(void *data, unsigned int index, struct dmab_client_buffer *buffer)
{
	flipped = true;
}

/*
 * Shows its picture; on CMD_FLIP flips between two buffers of it until
 * told to stop, then reports the flips it made and the longest wait for a
 * flip's event in ms (step 2: flips << 32 | ms).
 */
static int guest_main(void *data)
{
	struct guest *g = data;
	const struct gspec *sp = g->spec;
	struct dmab_client_connector_spec spec = { sp->width, sp->height, sp->uid };
	struct dmab_client_options options;
	dmab_ts_client_options(g->server, &options);
	options.create_device = true;
	options.connectors = &spec;
	options.connector_count = 1;
	options.timeout_ms = 10000;
	struct dmab_client *client;
	GUEST_CHECK(dmab_client_connect(&options, &client) == 0);
	dmab_client_set_flip_handler(client, handle_flip, NULL);
	struct dmab_client_buffer *b[2];
	for (int i = 0; i < 2; i++) {
		GUEST_CHECK(dmab_client_buffer_create(client, sp->width, sp->height,
			DRM_FORMAT_XRGB8888, &b[i]) == 0);
		uint8_t *pixels = dmab_client_buffer_data(b[i]);
		uint32_t stride = dmab_client_buffer_stride(b[i]);
		dmab_ts_fill(pixels, stride, sp->width, sp->height, g->picture);
		for (uint32_t y = 0; y < sp->height && g->blocks; y++) {
			uint32_t *row = (uint32_t *)(void *)(pixels + (size_t)y * stride);
			for (uint32_t x = 0; x < sp->width; x++)
				row[x] = blocks_pixel(g->picture, x, y);
		}
	}
	GUEST_CHECK(dmab_client_set_config(client, 0, b[0], 0, 0) == 0);
	uint32_t cmd;
	GUEST_CHECK(dmab_ts_sync_reach(&g->sync, 1, dmab_client_domid(client), &cmd,
		STEP_MS) == 0);
	while (cmd == CMD_FLIP) {
		uint64_t flips = 0, longest = 0;
		while (!dmab_ts_sync_poll(&g->sync, &cmd)) {
			uint64_t t = dmab_ts_now_ms();
			flipped = false;
			GUEST_CHECK(dmab_client_flip(client, 0, b[++flips % 2]) == 0);
			/* Linux's frontend gives up on a flip after 3 s: so does this guest. */
			GUEST_CHECK(dmab_ts_dispatch_until(client, &flipped, 3000) == 0);
			if (dmab_ts_now_ms() - t > longest)
				longest = dmab_ts_now_ms() - t;
		}
		GUEST_CHECK(cmd == CMD_STOP);
		GUEST_CHECK(dmab_ts_sync_reach(&g->sync, 2, flips << 32 | (longest & 0xffffffff),
			&cmd, STEP_MS) == 0);
	}
	dmab_client_destroy(client);
	return 0;
}

struct running {
	struct guest g;
	pid_t pid;
	uint64_t domid;
};

static bool start(struct running *r, struct dmab_test_server *s, const struct gspec *spec,
		uint32_t picture)
{
	bool blocks = r->g.blocks;
	r->g = (struct guest){ .server = s, .spec = spec, .picture = picture, .blocks = blocks };
	if (dmab_ts_sync_open(&r->g.sync))
		return false;
	r->pid = dmab_ts_guest(guest_main, &r->g);
	dmab_ts_sync_parent(&r->g.sync);
	uint32_t step;
	if (dmab_ts_sync_wait(&r->g.sync, &step, &r->domid, STEP_MS) || step != 1) {
		fprintf(stderr, "guest %s did not come up\n", spec->uid);
		failures++;
		return false;
	}
	return true;
}

/* Stop a flipping guest: its flips and longest wait. */
static bool stop_flips(struct running *r, uint64_t *flips, uint64_t *longest)
{
	uint32_t step;
	uint64_t value = 0;
	bool ok = dmab_ts_sync_go(&r->g.sync, CMD_STOP) == 0 &&
		dmab_ts_sync_wait(&r->g.sync, &step, &value, STEP_MS) == 0 && step == 2;
	*flips = value >> 32;
	*longest = value & 0xffffffff;
	if (!ok) {
		fprintf(stderr, "guest %s: no report of its flips (it failed)\n", r->g.spec->uid);
		failures++;
	}
	return ok;
}

static void finish(struct running *r)
{
	dmab_ts_sync_go(&r->g.sync, CMD_END);
	CHECK(dmab_ts_guest_wait(r->pid, 20000) == 0);
	dmab_ts_sync_close(&r->g.sync);
}

/* ---- what the server says ---- */

static json_object *get(json_object *o, const char *key)
{
	json_object *v = NULL;
	json_object_object_get_ex(o, key, &v);
	return v;
}

/* A number of screen name's status (-1: no such screen). */
static int64_t screen_value(struct dmab_test_server *s, const char *name, const char *key)
{
	json_object *r = dmab_ts_ctl(s, "{\"cmd\":\"status\"}", -1);
	json_object *screens = get(get(r, "output"), "screens");
	int64_t v = -1;
	for (size_t i = 0; screens && i < json_object_array_length(screens); i++) {
		json_object *sc = json_object_array_get_idx(screens, i);
		if (!strcmp(json_object_get_string(get(sc, "name")), name))
			v = get(sc, key) ? json_object_get_int64(get(sc, key)) : 0;
	}
	if (r)
		json_object_put(r);
	return v;
}

static bool screen_there(struct dmab_test_server *s, const char *name, bool there,
		uint32_t timeout_ms)
{
	uint64_t until = dmab_ts_now_ms() + timeout_ms;
	do {
		if ((screen_value(s, name, "width") >= 0) == there)
			return true;
		sleep_ms(50);
	} while (dmab_ts_now_ms() < until);
	return false;
}

/* How the display shows connector 0 of domid ("direct", or why it is copied). */
static void how_shown(struct dmab_test_server *s, uint64_t domid, char *display, size_t len)
{
	json_object *g = dmab_ts_guest_status(s, (unsigned int)domid, 0);
	json_object *conns = get(g, "connectors");
	json_object *c = conns ? json_object_array_get_idx(conns, 0) : NULL;
	snprintf(display, len, "%s", c && get(c, "display") ?
		json_object_get_string(get(c, "display")) : "?");
	if (g)
		json_object_put(g);
}

/* ---- checks on Weston's screenshots ---- */

struct scene {
	const struct gspec *specs;
	const uint32_t *pictures;
	size_t n;
};

/* Each guest's picture where it is in front (later ones are), black elsewhere. */
static uint64_t check_scene(const uint8_t *rgba, uint32_t width, uint32_t height,
		const struct scene *sc, bool report)
{
	uint64_t bad = 0;
	for (uint32_t y = 0; y < height; y++) {
		for (uint32_t x = 0; x < width; x++) {
			uint32_t want = 0xff000000u;
			for (size_t i = 0; i < sc->n; i++) {
				const struct gspec *sp = &sc->specs[i];
				if ((int32_t)x >= sp->x && (int32_t)y >= sp->y &&
						x < (uint32_t)sp->x + sp->width &&
						y < (uint32_t)sp->y + sp->height)
					want = dmab_ts_pattern(sc->pictures[i], x - (uint32_t)sp->x,
						y - (uint32_t)sp->y);
			}
			const uint8_t *p = rgba + ((size_t)y * width + x) * 4;
			uint32_t got = 0xff000000u | (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
			if (got != want) {
				if (!bad && report)
					fprintf(stderr, "weston's screen at %u,%u: 0x%08x, expected 0x%08x\n",
						x, y, got, want);
				bad++;
			}
		}
	}
	return bad;
}

/* Screenshots until the scene is exact or the time is up; the pixels wrong at the last. */
static uint64_t shot_scene(const struct weston *w, const struct scene *sc)
{
	uint64_t until = dmab_ts_now_ms() + SHOW_MS, bad = UINT64_MAX;
	for (;;) {
		uint8_t *rgba = NULL;
		uint32_t width = 0, height = 0;
		bool last = dmab_ts_now_ms() > until;
		if (weston_shot(w, &rgba, &width, &height) == 0) {
			bad = width == out_width && height == out_height ?
				check_scene(rgba, width, height, sc, last) : UINT64_MAX - 1;
			free(rgba);
		}
		if (bad == 0 || last)
			return bad;
		sleep_ms(200);
	}
}

static const char desktop_config[] =
	"[server]\noutput = wayland\n"
	"[wayland]\ndisplay = %s\n%s"
	"[window.desk]\nwidth = %u\nheight = %u\nfullscreen = yes\nwl-output = %s\n"
	"[connector.w0]\nscreen = desk\nx = 10\ny = 20\nz = 1\n"
	"[connector.w1]\nscreen = desk\nx = 250\ny = 200\nz = 2\n";

static const struct gspec specs[] = {
	{ "w0", 320, 240, 10, 20 },
	{ "w1", 200, 150, 250, 200 },
};

/*
 * Two guests in a fullscreen window of Weston's desktop-shell: pixel
 * exact, through wl_shm; flips paced by the compositor; the compositor
 * killed while the guests flip and started again.
 */
static void test_desktop(void)
{
	struct weston w = { 0 };
	if (!weston_start(&w, "desktop")) {
		failures++;
		weston_cleanup(&w);
		return;
	}
	char config[1024];
	snprintf(config, sizeof(config), desktop_config, w.socket, "", out_width, out_height,
		out_name);
	struct dmab_test_server s;
	if (dmab_ts_start(&s, config, NULL)) {
		failures++;
		weston_cleanup(&w);
		return;
	}
	CHECK(screen_there(&s, "desk", true, 10000));
	/* Fullscreen on Weston's output by its name (xdg-output's: wl_output 3 has none). */
	CHECK(dmab_ts_log_count(&s, "no output named") == 0);
	struct running r[2] = { 0 };
	uint32_t pictures[2] = { 5, 9 };
	bool up = start(&r[0], &s, &specs[0], pictures[0]);
	up = up && start(&r[1], &s, &specs[1], pictures[1]);
	if (up) {
		struct scene sc = { specs, pictures, 2 };
		uint64_t bad = shot_scene(&w, &sc);
		fprintf(stderr, "weston's screen with two guests: %" PRIu64 " pixels wrong\n", bad);
		CHECK(bad == 0);
		/* No linux-dmabuf here: each buffer copied into wl_shm, as status and the log say. */
		char display[160];
		how_shown(&s, r[0].domid, display, sizeof(display));
		fprintf(stderr, "w0 is shown: %s\n", display);
		CHECK(strstr(display, "wl_shm") && strstr(display, "no linux-dmabuf"));
		CHECK(dmab_ts_log_count(&s, "offers no linux-dmabuf (logged once)") == 1);
		CHECK(screen_value(&s, "desk", "copied_bytes") > 0);

		/* Paced by the compositor's presentation: about its refresh. (A
		 * compositor slow to configure the window at first may have been
		 * waited for already.) */
		int unanswered = dmab_ts_log_count(&s, "no answer from the compositor");
		CHECK(dmab_ts_sync_go(&r[0].g.sync, CMD_FLIP) == 0);
		CHECK(dmab_ts_sync_go(&r[1].g.sync, CMD_FLIP) == 0);
		sleep_ms(3000);
		uint64_t flips[2] = { 0 }, longest[2] = { 0 };
		for (int i = 0; i < 2; i++) {
			if (stop_flips(&r[i], &flips[i], &longest[i]))
				fprintf(stderr, "%s: %" PRIu64 " flips in 3 s, the longest %" PRIu64
					" ms\n", specs[i].uid, flips[i], longest[i]);
		}
		/* vkms flips at 60 Hz, but Weston repaints in software on an emulated CPU there. */
		uint64_t least = drm_card[0] ? 10 : 30;
		CHECK(flips[0] >= least && flips[1] >= least);
		CHECK(flips[0] <= 200 && flips[1] <= 200);
		CHECK(dmab_ts_log_count(&s, "no answer from the compositor") == unanswered);

		/* The compositor dies while they flip: the screen goes, the guests never wait. */
		CHECK(dmab_ts_sync_go(&r[0].g.sync, CMD_FLIP) == 0);
		CHECK(dmab_ts_sync_go(&r[1].g.sync, CMD_FLIP) == 0);
		sleep_ms(500);
		/* On a VT, Weston killed outright leaves it in graphics mode, and
		 * no Weston starts there again: it is stopped instead. */
		weston_kill(&w, drm_card[0] ? SIGTERM : SIGKILL);
		CHECK(screen_there(&s, "desk", false, 5000));
		sleep_ms(1500);
		CHECK(weston_start(&w, "desktop"));
		CHECK(screen_there(&s, "desk", true, 15000));
		sleep_ms(1000);
		for (int i = 0; i < 2; i++) {
			if (stop_flips(&r[i], &flips[i], &longest[i]))
				fprintf(stderr, "%s across the compositor's restart: %" PRIu64 " flips, "
					"the longest %" PRIu64 " ms\n", specs[i].uid, flips[i], longest[i]);
			CHECK(longest[i] < 3000);
		}
		CHECK(dmab_ts_log_count(&s, "lost the compositor") == 1);
		bad = shot_scene(&w, &sc);
		fprintf(stderr, "weston's screen after its restart: %" PRIu64 " pixels wrong\n", bad);
		CHECK(bad == 0);
		finish(&r[0]);
		finish(&r[1]);
	}
	if (failures) {
		dmab_ts_dump_log(&s);
		weston_dump_log(&w);
	}
	CHECK(dmab_ts_stop(&s) == 0);
	weston_cleanup(&w);
}

/* Without wp_presentation: the frame callbacks pace and complete the frames. */
static void test_frame_callbacks(void)
{
	struct weston w = { 0 };
	if (!weston_start(&w, "desktop")) {
		failures++;
		weston_cleanup(&w);
		return;
	}
	char config[1024];
	snprintf(config, sizeof(config), desktop_config, w.socket, "presentation = no\n",
		out_width, out_height, out_name);
	struct dmab_test_server s;
	if (dmab_ts_start(&s, config, NULL)) {
		failures++;
		weston_cleanup(&w);
		return;
	}
	CHECK(screen_there(&s, "desk", true, 10000));
	CHECK(dmab_ts_log_count(&s, "frame callbacks") == 1);
	struct running r = { 0 };
	uint32_t picture = 21;
	if (start(&r, &s, &specs[0], picture)) {
		struct scene sc = { specs, &picture, 1 };
		uint64_t bad = shot_scene(&w, &sc);
		fprintf(stderr, "frame callbacks: %" PRIu64 " pixels wrong\n", bad);
		CHECK(bad == 0);
		CHECK(dmab_ts_sync_go(&r.g.sync, CMD_FLIP) == 0);
		sleep_ms(2000);
		uint64_t flips = 0, longest = 0;
		if (stop_flips(&r, &flips, &longest))
			fprintf(stderr, "frame callbacks: %" PRIu64 " flips in 2 s, the longest %" PRIu64
				" ms\n", flips, longest);
		CHECK(flips >= 20 && flips <= 140);
		finish(&r);
	}
	if (failures) {
		dmab_ts_dump_log(&s);
		weston_dump_log(&w);
	}
	CHECK(dmab_ts_stop(&s) == 0);
	weston_cleanup(&w);
}

/*
 * Weston's ivi-shell: the window is an ivi surface with the configured
 * id. Debian's Weston has no layout controller that runs headless (its
 * hmi-controller needs its user interface), so nothing puts the surface
 * on a layer and the compositor never shows it: the frames complete
 * without it, and the guest flips on.
 */
static void test_ivi(void)
{
	struct weston w = { 0 };
	if (!weston_start(&w, "ivi")) {
		failures++;
		weston_cleanup(&w);
		return;
	}
	char config[512];
	snprintf(config, sizeof(config), "[server]\noutput = wayland\n[wayland]\ndisplay = %s\n"
		"[window.cluster]\nwidth = 640\nheight = 480\nivi-id = 4242\n", w.socket);
	struct dmab_test_server s;
	if (dmab_ts_start(&s, config, NULL)) {
		failures++;
		weston_cleanup(&w);
		return;
	}
	CHECK(screen_there(&s, "cluster", true, 10000));
	CHECK(dmab_ts_log_count(&s, "ivi_application") == 1);
	CHECK(dmab_ts_log_count(&s, "window cluster is ivi surface 4242") == 1);
	struct running r = { 0 };
	if (start(&r, &s, &specs[0], 3)) {
		CHECK(dmab_ts_sync_go(&r.g.sync, CMD_FLIP) == 0);
		sleep_ms(3000);
		uint64_t flips = 0, longest = 0;
		if (stop_flips(&r, &flips, &longest))
			fprintf(stderr, "ivi surface, hidden: %" PRIu64 " flips in 3 s, the longest %"
				PRIu64 " ms\n", flips, longest);
		CHECK(flips >= 5 && longest < 3000);
		CHECK(screen_value(&s, "cluster", "discarded") > 0);
		finish(&r);
	}
	/* The compositor accepted the id: the connection lived through it all. */
	CHECK(dmab_ts_log_count(&s, "lost the compositor") == 0);
	if (failures) {
		dmab_ts_dump_log(&s);
		weston_dump_log(&w);
	}
	CHECK(dmab_ts_stop(&s) == 0);
	weston_cleanup(&w);
}

static int channel_diff(uint32_t a, uint32_t b)
{
	int d = 0;
	for (int shift = 0; shift < 24; shift += 8) {
		int x = (int)((a >> shift) & 0xff) - (int)((b >> shift) & 0xff);
		if (x < 0)
			x = -x;
		if (x > d)
			d = x;
	}
	return d;
}

/*
 * Frame f of blocks_pixel() (w x h) scaled 2x from 0,0: inside each block
 * (away from its edges, where filters blend neighbours) the screen shows
 * the block's colour. The pixels checked go to *checked.
 */
static uint64_t check_scaled(const uint8_t *rgba, uint32_t width, uint32_t w, uint32_t h,
		uint32_t f, uint64_t *checked, bool report)
{
	uint64_t bad = 0;
	*checked = 0;
	for (uint32_t sy = 0; sy < 2 * h; sy++) {
		for (uint32_t sx = 0; sx < 2 * w; sx++) {
			if (sx % 32 < 2 || sx % 32 > 29 || sy % 32 < 2 || sy % 32 > 29)
				continue;
			uint32_t want = blocks_pixel(f, sx / 2, sy / 2);
			const uint8_t *p = rgba + ((size_t)sy * width + sx) * 4;
			uint32_t got = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
			(*checked)++;
			if (channel_diff(got, want) > 1) {
				if (!bad && report)
					fprintf(stderr, "scaled at %u,%u: 0x%06x, expected 0x%06x\n", sx, sy,
						got, want & 0xffffff);
				bad++;
			}
		}
	}
	return bad;
}

/*
 * A connector whose place gives it twice its size: the compositor scales
 * it (wp_viewporter), and dmabridged's own screenshot of the screen draws
 * it scaled the same way.
 */
static void test_scaled(void)
{
	struct weston w = { 0 };
	if (!weston_start(&w, "desktop")) {
		failures++;
		weston_cleanup(&w);
		return;
	}
	char config[1024];
	snprintf(config, sizeof(config), "[server]\noutput = wayland\n[wayland]\ndisplay = %s\n"
		"[window.desk]\nwidth = 640\nheight = 480\nfullscreen = yes\n"
		"[connector.w0]\nscreen = desk\nx = 0\ny = 0\nwidth = 640\nheight = 480\n",
		w.socket);
	struct dmab_test_server s;
	if (dmab_ts_start(&s, config, NULL)) {
		failures++;
		weston_cleanup(&w);
		return;
	}
	CHECK(screen_there(&s, "desk", true, 10000));
	struct running r = { 0 };
	uint32_t picture = 12;
	r.g.blocks = true;
	if (start(&r, &s, &specs[0], picture)) {
		uint64_t bad = UINT64_MAX, checked = 0, until = dmab_ts_now_ms() + SHOW_MS;
		do {
			uint8_t *rgba = NULL;
			uint32_t width = 0, height = 0;
			if (weston_shot(&w, &rgba, &width, &height) == 0 && width == WIDTH &&
					height == HEIGHT)
				bad = check_scaled(rgba, width, 320, 240, picture, &checked,
					dmab_ts_now_ms() > until);
			free(rgba);
			if (bad)
				sleep_ms(200);
		} while (bad && dmab_ts_now_ms() <= until);
		fprintf(stderr, "scaled 2x by the compositor: %" PRIu64 " of %" PRIu64 " pixels "
			"wrong\n", bad, checked);
		CHECK(bad == 0 && checked > 640 * 480 / 2);

		uint8_t *rgba = NULL;
		uint32_t width = 0, height = 0;
		CHECK(dmab_ts_screenshot(&s, "screen:desk", &rgba, &width, &height) == 0);
		if (rgba && width == WIDTH && height == HEIGHT) {
			bad = check_scaled(rgba, width, 320, 240, picture, &checked, true);
			fprintf(stderr, "scaled 2x in dmabridged's screenshot: %" PRIu64 " of %" PRIu64
				" pixels wrong\n", bad, checked);
			CHECK(bad == 0 && checked > 640 * 480 / 2);
		}
		free(rgba);
		json_object *g = dmab_ts_guest_status(&s, (unsigned int)r.domid, 0);
		json_object *conns = get(g, "connectors");
		json_object *c = conns ? json_object_array_get_idx(conns, 0) : NULL;
		json_object *place = get(c, "place");
		CHECK(place && json_object_get_int64(get(place, "width")) == 640 &&
			json_object_get_int64(get(place, "height")) == 480);
		if (g)
			json_object_put(g);
		finish(&r);
	}
	if (failures) {
		dmab_ts_dump_log(&s);
		weston_dump_log(&w);
	}
	CHECK(dmab_ts_stop(&s) == 0);
	weston_cleanup(&w);
}

/*
 * A compositor that never sends a frame callback, a presentation feedback
 * or a wl_buffer.release (wl-stall): the guest flips on, at a slower pace,
 * and never waits near the frontend's 3 s; with linux-dmabuf, the buffers
 * it keeps are bounded (copies take over), so no framebuffer of the copy
 * path runs out. Then the compositor closes the window: the screen goes,
 * the guest flips on, and the window opens again.
 */
static void test_stall(enum dmabuf_mode dmabuf)
{
	if (!getenv("DMAB_WL_STALL")) {
		fprintf(stderr, "DMAB_WL_STALL is not set: skipped\n");
		return;
	}
	struct weston w = { 0 };
	if (!stall_start(&w, dmabuf)) {
		failures++;
		weston_cleanup(&w);
		return;
	}
	char config[512];
	snprintf(config, sizeof(config), "[server]\noutput = wayland\n[wayland]\ndisplay = %s\n"
		"[window.main]\nwidth = 640\nheight = 480\n", w.socket);
	struct dmab_test_server s;
	if (dmab_ts_start(&s, config, NULL)) {
		failures++;
		weston_cleanup(&w);
		return;
	}
	CHECK(screen_there(&s, "main", true, 10000));
	struct running r = { 0 };
	const char *label = dmabuf == DMABUF_TAKEN ? "stalled compositor with linux-dmabuf" :
		dmabuf == DMABUF_REFUSED ? "stalled compositor refusing dma-bufs" :
		"stalled compositor";
	if (start(&r, &s, &specs[0], 7)) {
		CHECK(dmab_ts_sync_go(&r.g.sync, CMD_FLIP) == 0);
		sleep_ms(3000);
		uint64_t flips = 0, longest = 0;
		if (stop_flips(&r, &flips, &longest))
			fprintf(stderr, "%s: %" PRIu64 " flips in 3 s, the longest %" PRIu64 " ms\n",
				label, flips, longest);
		CHECK(flips >= 10 && longest < 3000);
		CHECK(dmab_ts_log_count(&s, "no answer from the compositor") == 1);
		CHECK(screen_value(&s, "main", "discarded") > 0);
		char display[160];
		how_shown(&s, r.domid, display, sizeof(display));
		fprintf(stderr, "%s: shown %s\n", label, display);
		if (dmabuf == DMABUF_TAKEN)
			CHECK(dmab_ts_log_count(&s, "does not release the dma-bufs") == 1);
		/* Refused: that buffer is copied into wl_shm, said once, and shown in status. */
		if (dmabuf == DMABUF_REFUSED) {
			CHECK(dmab_ts_log_count(&s, "the compositor refused a") == 1);
			CHECK(strstr(display, "refused its dma-buf") != NULL);
		}

		/* The window closed: its screen goes, the guest flips on, the window opens again. */
		CHECK(dmab_ts_sync_go(&r.g.sync, CMD_FLIP) == 0);
		sleep_ms(300);
		kill(w.pid, SIGUSR1);
		CHECK(screen_there(&s, "main", false, 3000));
		CHECK(dmab_ts_log_count(&s, "window main was closed") == 1);
		CHECK(screen_there(&s, "main", true, 5000));
		sleep_ms(500);
		if (stop_flips(&r, &flips, &longest))
			fprintf(stderr, "%s, window closed and opened again: %" PRIu64 " flips, the "
				"longest %" PRIu64 " ms\n", label, flips, longest);
		CHECK(flips >= 5 && longest < 3000);
		/* Its buffers go, whatever the compositor still holds. */
		uint64_t t = dmab_ts_now_ms();
		finish(&r);
		fprintf(stderr, "%s: the guest ended in %" PRIu64 " ms\n", label,
			dmab_ts_now_ms() - t);
	}
	CHECK(dmab_ts_log_count(&s, "lost the compositor") == 0);
	if (failures) {
		dmab_ts_dump_log(&s);
		weston_dump_log(&w);
	}
	CHECK(dmab_ts_stop(&s) == 0);
	weston_cleanup(&w);
}

int main(int argc, char **argv)
{
	if (!find_program("weston", weston_bin, sizeof(weston_bin)) ||
			!find_program("weston-screenshooter", shooter_bin, sizeof(shooter_bin))) {
		fprintf(stderr, "no weston or weston-screenshooter on PATH: skipped\n");
		return 77;
	}
	signal(SIGPIPE, SIG_IGN);
	const char *only = argc > 1 ? argv[1] : NULL;
	if (only && !strcmp(only, "vkms")) {
		char path[sizeof(drm_card)];
		if (geteuid() != 0 || !dmab_ts_find_card("vkms", path, sizeof(path))) {
			fprintf(stderr, "needs root and a vkms card (the VM tier): skipped\n");
			return 77;
		}
		snprintf(drm_card, sizeof(drm_card), "%s", strrchr(path, '/') + 1);
		/* vkms's connector and its preferred mode. */
		out_name = "Virtual-1";
		out_width = 1024;
		out_height = 768;
		fprintf(stderr, "weston on %s (vkms), pixman renderer\n", drm_card);
		test_desktop();
		return failures ? 1 : 0;
	}
	if (!only || !strcmp(only, "desktop"))
		test_desktop();
	if (!only || !strcmp(only, "frame-callbacks"))
		test_frame_callbacks();
	if (!only || !strcmp(only, "ivi"))
		test_ivi();
	if (!only || !strcmp(only, "scaled"))
		test_scaled();
	if (!only || !strcmp(only, "stall"))
		test_stall(NO_DMABUF);
	if (!only || !strcmp(only, "stall-dmabuf"))
		test_stall(DMABUF_TAKEN);
	if (!only || !strcmp(only, "stall-dmabuf-refused"))
		test_stall(DMABUF_REFUSED);
	return failures ? 1 : 0;
}
