// SPDX-License-Identifier: MIT
/*
 * dmabridged on a KMS device: vkms, in the VM tier (it skips where there
 * is none). Guests' frames are checked pixel by pixel on screenshots of
 * the screen: what the display made of them where its writeback connector
 * can run beside the screen, else (vkms of Linux 6.1, whose encoders clone
 * nothing) the views' frames as the display shows them. A heap dma-buf
 * scanned out on a plane (zero copy), a udmabuf vkms cannot scan out
 * (it refuses the commit: composed from then on, and status says why),
 * be-alloc buffers from the device's dumb buffers, several guests
 * overlapping, more of them than planes, flips paced by the display's
 * vblank, and a buffer destroyed while on screen released only after the
 * commit that replaced it.
 *
 * What the display itself shows is checked through vkms's CRC of each
 * frame (debugfs): the CRC of the picture the guests' frames and the layout
 * make, computed here, must be the display's, whether the guests are on
 * planes or composed. A connector unplugged and plugged again, and
 * another client holding DRM master, are scenarios of their own
 * (test-drm SCENARIO...).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <xf86drm.h>
#include <xf86drmMode.h>
#include <zlib.h>
#include <drm_fourcc.h>

#include "client/frontend.h"
#include "tests/integration/harness.h"

#define STEP_MS 60000
#define SHOW_MS 20000

static int failures;
static char card[64];

struct gspec {
	const char *uid;
	uint32_t width, height, fourcc;
	bool be_alloc, plain;           /* plain: guest memory, not the dma-buf heap */
	int32_t x, y;
};

struct guest {
	struct dmab_test_server *server;
	struct dmab_ts_sync sync;
	const struct gspec *spec;
	uint32_t picture;
};

enum { CMD_FLIPS = 1, CMD_DESTROY, CMD_END };

static bool flipped;

static void handle_flip(void *data, unsigned int index, struct dmab_client_buffer *buffer)
{
	flipped = true;
}

/*
 * Shows its picture, then on command: flips for a while (the test reads
 * the rate), or destroys the buffer on screen and reports how long the
 * answer took, or ends.
 */
/* The test's own hold of DRM master: not the guests' (they are forked). */
static int master_holder = -1;

static int guest_main(void *data)
{
	struct guest *g = data;
	if (master_holder >= 0)
		close(master_holder);
	const struct gspec *sp = g->spec;
	struct dmab_client_connector_spec spec = { sp->width, sp->height, sp->uid };
	struct dmab_client_options options;
	dmab_ts_client_options(g->server, &options);
	options.create_device = true;
	options.be_alloc = sp->be_alloc;
	options.plain_memory = sp->plain;
	options.connectors = &spec;
	options.connector_count = 1;
	options.timeout_ms = 10000;
	struct dmab_client *client;
	GUEST_CHECK(dmab_client_connect(&options, &client) == 0);
	dmab_client_set_flip_handler(client, handle_flip, NULL);
	struct dmab_client_buffer *b[2];
	for (int i = 0; i < 2; i++) {
		GUEST_CHECK(dmab_client_buffer_create(client, sp->width, sp->height, sp->fourcc,
			&b[i]) == 0);
		dmab_ts_fill_format(dmab_client_buffer_data(b[i]), dmab_client_buffer_stride(b[i]),
			sp->width, sp->height, sp->fourcc, g->picture);
	}
	GUEST_CHECK(dmab_client_set_config(client, 0, b[0], 0, 0) == 0);
	uint32_t cmd;
	GUEST_CHECK(dmab_ts_sync_reach(&g->sync, 1, dmab_client_domid(client), &cmd,
		STEP_MS) == 0);
	if (cmd == CMD_FLIPS) {
		uint64_t end = dmab_ts_now_ms() + 3000;
		unsigned int n = 1;
		/* Ending on b[0]: the buffer the destroy step takes off the screen. */
		for (; dmab_ts_now_ms() < end || n % 2 == 0; n++) {
			flipped = false;
			GUEST_CHECK(dmab_client_flip(client, 0, b[n % 2]) == 0);
			GUEST_CHECK(dmab_ts_dispatch_until(client, &flipped, 5000) == 0);
		}
		GUEST_CHECK(dmab_ts_sync_reach(&g->sync, 2, 0, &cmd, STEP_MS) == 0);
	}
	if (cmd == CMD_DESTROY) {
		/* FB_DETACH and DBUF_DESTROY of the buffer on screen: answered once it is off. */
		uint64_t t = dmab_ts_now_ms();
		GUEST_CHECK(dmab_client_buffer_destroy(b[0]) == 0);
		GUEST_CHECK(dmab_ts_sync_reach(&g->sync, 3, dmab_ts_now_ms() - t, &cmd,
			STEP_MS) == 0);
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
	r->g = (struct guest){ .server = s, .spec = spec, .picture = picture };
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

static void finish(struct running *r)
{
	dmab_ts_sync_go(&r->g.sync, CMD_END);
	CHECK(dmab_ts_guest_wait(r->pid, 20000) == 0);
	dmab_ts_sync_close(&r->g.sync);
}

static json_object *get(json_object *o, const char *key)
{
	json_object *v = NULL;
	json_object_object_get_ex(o, key, &v);
	return v;
}

/* Connector 0 of domid: how the display shows it, and its first buffer's import path. */
static void how_shown(struct dmab_test_server *s, uint64_t domid, char *display, size_t dlen,
		char *import, size_t ilen)
{
	json_object *g = dmab_ts_guest_status(s, (unsigned int)domid, 0);
	json_object *conns = get(g, "connectors"), *bufs = get(g, "buffers");
	json_object *c = conns ? json_object_array_get_idx(conns, 0) : NULL;
	json_object *b = bufs ? json_object_array_get_idx(bufs, 0) : NULL;
	snprintf(display, dlen, "%s", c && get(c, "display") ?
		json_object_get_string(get(c, "display")) : "?");
	snprintf(import, ilen, "%s", b && get(b, "import") ?
		json_object_get_string(get(b, "import")) : "?");
	if (g)
		json_object_put(g);
}

/* What domid's first buffer is made of (host buffers: "gbm", "dumb"), "" if unsaid. */
static void buffer_memory(struct dmab_test_server *s, uint64_t domid, char *memory, size_t len)
{
	json_object *g = dmab_ts_guest_status(s, (unsigned int)domid, 0);
	json_object *bufs = get(g, "buffers");
	json_object *b = bufs ? json_object_array_get_idx(bufs, 0) : NULL;
	snprintf(memory, len, "%s", b && get(b, "memory") ?
		json_object_get_string(get(b, "memory")) : "");
	if (g)
		json_object_put(g);
}

/* Mesa's driver for devices without their own, which GBM needs on vkms. */
static bool have_mesa_sw(void)
{
	static const char *const paths[] = {
		"/usr/lib/x86_64-linux-gnu/dri/kms_swrast_dri.so",
		"/usr/lib/aarch64-linux-gnu/dri/kms_swrast_dri.so",
	};
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		if (access(paths[i], R_OK) == 0)
			return true;
	}
	return false;
}

struct scene {
	const struct gspec *specs;
	const uint32_t *pictures;
	size_t n;
	const bool *on_plane;   /* for CRCs: each guest's frames scanned out as they are (or NULL) */
};

/* The screen as the display made it: each guest's picture where it is in front. */
static uint64_t check_scene(const uint8_t *rgba, uint32_t width, uint32_t height, void *data)
{
	const struct scene *sc = data;
	uint64_t bad = 0;
	for (size_t i = 0; i < sc->n; i++) {
		const struct gspec *sp = &sc->specs[i];
		/* Later guests are in front (z from the configuration): check what is visible. */
		for (uint32_t y = 0; y < sp->height; y++) {
			for (uint32_t x = 0; x < sp->width; x++) {
				uint32_t sx = (uint32_t)sp->x + x, sy = (uint32_t)sp->y + y;
				bool covered = false;
				for (size_t j = i + 1; j < sc->n && !covered; j++) {
					const struct gspec *o = &sc->specs[j];
					covered = (int32_t)sx >= o->x && (int32_t)sy >= o->y &&
						sx < (uint32_t)o->x + o->width &&
						sy < (uint32_t)o->y + o->height;
				}
				if (covered || sx >= width || sy >= height)
					continue;
				uint32_t want = dmab_ts_format_expect(sp->fourcc, sc->pictures[i], x, y) |
					0xff000000u;
				const uint8_t *p = rgba + ((size_t)sy * width + sx) * 4;
				uint32_t got = 0xff000000u | (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
				if (got != want) {
					if (!bad)
						fprintf(stderr, "%s at %u,%u: 0x%08x, expected 0x%08x\n",
							sp->uid, sx, sy, got, want);
					bad++;
				}
			}
		}
	}
	return bad;
}

static uint64_t shot_scene(struct dmab_test_server *s, const char *screen,
		const struct scene *sc)
{
	char target[64];
	snprintf(target, sizeof(target), "screen:%s", screen);
	return dmab_ts_shot_until(s, target, check_scene, (void *)sc, SHOW_MS);
}

/* Frames the first screen committed. */
static int64_t screen_frames(struct dmab_test_server *s)
{
	json_object *r = dmab_ts_ctl(s, "{\"cmd\":\"status\"}", -1);
	json_object *screens = get(get(r, "output"), "screens");
	json_object *first = screens ? json_object_array_get_idx(screens, 0) : NULL;
	int64_t frames = first && get(first, "frames") ?
		json_object_get_int64(get(first, "frames")) : -1;
	if (r)
		json_object_put(r);
	return frames;
}

/* The first screen's name and whether screenshots come from the display. */
static bool screen_name(struct dmab_test_server *s, char *name, size_t len)
{
	json_object *r = dmab_ts_ctl(s, "{\"cmd\":\"status\"}", -1);
	json_object *screens = get(get(r, "output"), "screens");
	json_object *first = screens ? json_object_array_get_idx(screens, 0) : NULL;
	bool ok = first && get(first, "name");
	if (ok)
		snprintf(name, len, "%s", json_object_get_string(get(first, "name")));
	if (r)
		json_object_put(r);
	return ok;
}

static const struct gspec specs[] = {
	{ "heap0", 320, 240, DRM_FORMAT_XRGB8888, false, false, 0, 0 },
	{ "plain0", 256, 192, DRM_FORMAT_XRGB8888, false, true, 200, 150 },
	{ "bealloc0", 200, 160, DRM_FORMAT_RGB565, true, false, 380, 60 },
	{ "heap1", 160, 120, DRM_FORMAT_XRGB8888, false, false, 500, 300 },
};
#define NSPECS (sizeof(specs) / sizeof(specs[0]))

static const char config_fmt[] =
	"[server]\noutput = drm\n[drm]\ndevice = %s\n"
	"[connector.heap0]\nx = 0\ny = 0\nz = 1\n"
	"[connector.plain0]\nx = 200\ny = 150\nz = 2\n"
	"[connector.bealloc0]\nx = 380\ny = 60\nz = 3\n"
	"[connector.heap1]\nx = 500\ny = 300\nz = 4\n";

/* The first screen's size. */
static bool screen_size(struct dmab_test_server *s, uint32_t *width, uint32_t *height)
{
	json_object *r = dmab_ts_ctl(s, "{\"cmd\":\"status\"}", -1);
	json_object *screens = get(get(r, "output"), "screens");
	json_object *first = screens ? json_object_array_get_idx(screens, 0) : NULL;
	bool ok = first && get(first, "width") && get(first, "height");
	if (ok) {
		*width = (uint32_t)json_object_get_int64(get(first, "width"));
		*height = (uint32_t)json_object_get_int64(get(first, "height"));
	}
	if (r)
		json_object_put(r);
	return ok;
}

/*
 * The CRC vkms computes of a frame showing scene (Linux 6.1,
 * drivers/gpu/drm/vkms/vkms_composer.c): each row of the CRTC as pixels of
 * four 16-bit channels a, r, g, b (8-bit channels times 257, a 0xffff: the
 * guests' frames are opaque over black), run through crc32_le from 0, row
 * after row. zlib's crc32() is crc32_le with the value inverted before and
 * after. vkms widens RGB565 on a plane itself (vkms_formats.c: 5 or 6 bits
 * times 65535 / 31 or 63, rounded); composed here it is XRGB8888 by then.
 */
static uint16_t widen16(uint32_t v, uint32_t max)
{
	return (uint16_t)((v * 65535u + max / 2) / max);
}

static uint32_t scene_crc(const struct scene *sc, uint32_t width, uint32_t height)
{
	uint16_t *row = calloc(width, 8);
	uint32_t crc = 0;
	for (uint32_t y = 0; row && y < height; y++) {
		for (uint32_t x = 0; x < width; x++) {
			uint32_t rgb = 0;
			bool native565 = false;
			/* The last guest of the scene covering the pixel is in front. */
			for (size_t i = sc->n; i-- > 0;) {
				const struct gspec *sp = &sc->specs[i];
				if ((int32_t)x >= sp->x && (int32_t)y >= sp->y &&
						x < (uint32_t)sp->x + sp->width &&
						y < (uint32_t)sp->y + sp->height) {
					rgb = dmab_ts_format_expect(sp->fourcc, sc->pictures[i],
						x - (uint32_t)sp->x, y - (uint32_t)sp->y);
					native565 = sp->fourcc == DRM_FORMAT_RGB565 &&
						sc->on_plane && sc->on_plane[i];
					break;
				}
			}
			uint16_t *p = row + (size_t)x * 4;
			p[0] = 0xffff;
			if (native565) {
				/* Widened by vkms: its 5 and 6 bits are the 8 bits' top ones. */
				p[1] = widen16((rgb >> 19) & 31, 31);
				p[2] = widen16((rgb >> 10) & 63, 63);
				p[3] = widen16((rgb >> 3) & 31, 31);
			} else {
				p[1] = (uint16_t)(((rgb >> 16) & 0xff) * 257);
				p[2] = (uint16_t)(((rgb >> 8) & 0xff) * 257);
				p[3] = (uint16_t)((rgb & 0xff) * 257);
			}
		}
		crc = ~(uint32_t)crc32(~crc, (const Bytef *)row, width * 8);
	}
	free(row);
	return crc;
}

/*
 * Whether the display shows a frame of CRC want, steadily (several frames
 * in a row), within ms: vkms's CRCs of CRTC 0, read from debugfs.
 */
static bool display_shows(uint32_t want, int ms)
{
	struct stat st;
	if (stat(card, &st)) {
		fprintf(stderr, "%s: %s\n", card, strerror(errno));
		return false;
	}
	char dir[96], path[128];
	snprintf(dir, sizeof(dir), "/sys/kernel/debug/dri/%u/crtc-0/crc", minor(st.st_rdev));
	snprintf(path, sizeof(path), "%s/control", dir);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "auto", 4) != 4) {
		fprintf(stderr, "%s: %s (is debugfs mounted?)\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return false;
	}
	close(fd);
	/* Open, vkms computes a CRC per frame; one line per read: "frame crc". */
	snprintf(path, sizeof(path), "%s/data", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return false;
	}
	unsigned int in_row = 0, frames = 0;
	uint32_t last = 0;
	uint64_t end = dmab_ts_now_ms() + (uint64_t)ms;
	while (in_row < 5 && dmab_ts_now_ms() < end) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		if (poll(&pfd, 1, 500) <= 0)
			continue;
		char line[64];
		ssize_t n = read(fd, line, sizeof(line) - 1);
		if (n <= 0)
			continue;
		line[n] = '\0';
		char *sep = strchr(line, ' ');
		if (!sep)
			continue;
		last = (uint32_t)strtoul(sep + 1, NULL, 16);
		frames++;
		in_row = last == want ? in_row + 1 : 0;
	}
	close(fd);
	fprintf(stderr, "display CRC 0x%08x after %u frames, expected 0x%08x\n", last, frames,
		want);
	return in_row >= 5;
}

#define NMANY 13

/*
 * More guests than the device has planes, one overlapping another: each
 * shown where it belongs, those without a plane composed, and the
 * display's frame (its CRC) the picture they make together. With
 * overlay_planes 0 (the configuration's overlay-planes) every guest is
 * composed and the display shows the same picture.
 */
static void test_many(int overlay_planes)
{
	struct gspec many[NMANY];
	uint32_t pictures[NMANY];
	char uids[NMANY][8];
	char config[4096];
	int len = snprintf(config, sizeof(config), "[server]\noutput = drm\n[drm]\ndevice = %s\n",
		card);
	if (overlay_planes >= 0)
		len += snprintf(config + len, sizeof(config) - (size_t)len,
			"overlay-planes = %d\n", overlay_planes);
	for (int i = 0; i < NMANY; i++) {
		snprintf(uids[i], sizeof(uids[i]), "m%d", i);
		/*
		 * A grid of 4 x 3 without overlap, the first a host buffer (of
		 * 64-pixel tiles: Mesa's software driver pads to them, so GBM
		 * would not make other sizes); the last one over the grid's
		 * corner.
		 */
		int32_t x = i < 12 ? 10 + (i % 4) * 130 : 450, y = i < 12 ? 10 + (i / 4) * 100 : 250;
		many[i] = (struct gspec){ uids[i], i == 0 ? 128 : i < 12 ? 120 : 200,
			i == 0 ? 64 : i < 12 ? 90 : 150, DRM_FORMAT_XRGB8888, i == 0, false, x, y };
		pictures[i] = 40 + (uint32_t)i;
		len += snprintf(config + len, sizeof(config) - (size_t)len,
			"[connector.%s]\nx = %d\ny = %d\nz = %d\n", uids[i], x, y, i + 1);
	}
	fprintf(stderr, "%d guests, overlay-planes %d\n", NMANY, overlay_planes);
	struct dmab_test_server s;
	if (dmab_ts_start(&s, config, NULL)) {
		failures++;
		return;
	}
	char screen[64] = "";
	uint32_t width = 0, height = 0;
	CHECK(screen_name(&s, screen, sizeof(screen)) && screen_size(&s, &width, &height));
	struct running r[NMANY];
	size_t started = 0;
	for (; started < NMANY; started++) {
		if (!start(&r[started], &s, &many[started], pictures[started]))
			break;
	}
	if (started == NMANY) {
		struct scene sc = { many, pictures, NMANY, NULL };
		uint64_t bad = shot_scene(&s, screen, &sc);
		fprintf(stderr, "%d guests: %" PRIu64 " pixels wrong\n", NMANY, bad);
		CHECK(bad == 0);
		/* How each is shown, once every one is on screen. */
		unsigned int direct = 0, composed = 0, unshown = 0;
		uint64_t until = dmab_ts_now_ms() + 10000;
		do {
			direct = composed = unshown = 0;
			for (size_t i = 0; i < NMANY; i++) {
				char display[128], import[32];
				how_shown(&s, r[i].domid, display, sizeof(display), import,
					sizeof(import));
				if (!strcmp(display, "direct"))
					direct++;
				else if (!strncmp(display, "not shown", 9))
					unshown++;
				else
					composed++;
			}
		} while (unshown && dmab_ts_now_ms() < until);
		fprintf(stderr, "%u on planes, %u composed, %u not shown\n", direct, composed,
			unshown);
		/* A host buffer of a linear layout any driver keeps: GBM's, where Mesa drives vkms. */
		char memory[32];
		buffer_memory(&s, r[0].domid, memory, sizeof(memory));
		fprintf(stderr, "the host buffer of %s: %s\n", many[0].uid, memory);
		CHECK(!strcmp(memory, have_mesa_sw() ? "gbm" : "dumb"));
		CHECK(unshown == 0);
		if (overlay_planes < 0)
			CHECK(direct >= 1 && composed >= 1);
		else
			CHECK(direct == 0 && composed == NMANY);
		/* The display's own frame. */
		CHECK(width && height && display_shows(scene_crc(&sc, width, height), SHOW_MS));
	}
	for (size_t i = 0; i < started; i++)
		finish(&r[i]);
	if (failures)
		dmab_ts_dump_log(&s);
	CHECK(dmab_ts_stop(&s) == 0);
}

/* Number of screens, -1 without an answer. */
static int screen_count(struct dmab_test_server *s)
{
	json_object *r = dmab_ts_ctl(s, "{\"cmd\":\"status\"}", -1);
	json_object *screens = get(get(r, "output"), "screens");
	int n = screens ? (int)json_object_array_length(screens) : -1;
	if (r)
		json_object_put(r);
	return n;
}

/* Write text into a sysfs file. */
static bool sysfs_write(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	bool ok = fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text);
	if (!ok)
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return ok;
}

/*
 * The connector's status forced (sysfs: "off" as if unplugged, "detect"
 * as plugged again), then the uevent a display's hot-plug interrupt sends:
 * vkms polls nothing and has no interrupt, so the test sends it through
 * the card's uevent file, as udevadm trigger does. What dmabridged sees is
 * the kernel's: a uevent of the card, and the connector's new status.
 */
static bool plug(const char *screen, const char *status)
{
	const char *cardname = strrchr(card, '/') + 1;
	char path[160];
	snprintf(path, sizeof(path), "/sys/class/drm/%s-%s/status", cardname, screen);
	if (!sysfs_write(path, status))
		return false;
	snprintf(path, sizeof(path), "/sys/class/drm/%s/uevent", cardname);
	return sysfs_write(path, "change");
}

/* Whether any CRTC of the device is on. */
static bool any_crtc_on(void)
{
	int fd = open(card, O_RDWR | O_CLOEXEC);
	drmModeRes *res = fd >= 0 ? drmModeGetResources(fd) : NULL;
	bool on = false;
	for (int i = 0; res && i < res->count_crtcs; i++) {
		drmModeCrtc *c = drmModeGetCrtc(fd, res->crtcs[i]);
		on = on || (c && c->mode_valid);
		drmModeFreeCrtc(c);
	}
	drmModeFreeResources(res);
	if (fd >= 0)
		close(fd);
	return on;
}

/*
 * The connector unplugged while a guest shows on it: the screen goes, the
 * CRTC is turned off, the guest flips on (its frames complete unshown);
 * plugged again, the screen is back with the guest on it.
 */
static void test_hotplug(void)
{
	char config[512];
	snprintf(config, sizeof(config), config_fmt, card);
	struct dmab_test_server s;
	if (dmab_ts_start(&s, config, NULL)) {
		failures++;
		return;
	}
	char screen[64] = "";
	CHECK(screen_name(&s, screen, sizeof(screen)));
	struct running r;
	uint32_t picture = 33;
	if (start(&r, &s, &specs[0], picture)) {
		struct scene sc = { specs, &picture, 1, NULL };
		CHECK(shot_scene(&s, screen, &sc) == 0);
		CHECK(plug(screen, "off"));
		uint64_t until = dmab_ts_now_ms() + 10000;
		while (screen_count(&s) != 0 && dmab_ts_now_ms() < until)
			nanosleep(&(struct timespec){ 0, 50000000 }, NULL);
		int n = screen_count(&s);
		fprintf(stderr, "unplugged: %d screens, a CRTC %s\n", n, any_crtc_on() ? "on" : "off");
		CHECK(n == 0 && !any_crtc_on());
		char display[128], import[32];
		how_shown(&s, r.domid, display, sizeof(display), import, sizeof(import));
		fprintf(stderr, "the guest: %s\n", display);
		CHECK(!strcmp(display, "not shown: no screen of its name"));
		/* Its frames complete meanwhile, at about the refresh rate. */
		dmab_ts_sync_go(&r.g.sync, CMD_FLIPS);
		uint32_t step;
		uint64_t value;
		CHECK(dmab_ts_sync_wait(&r.g.sync, &step, &value, STEP_MS) == 0 && step == 2);
		char id[32];
		snprintf(id, sizeof(id), "%" PRIu64 "/0/0", r.domid);
		json_object *st = dmab_ts_connector_stats(&s, id);
		int64_t frames = st ? json_object_get_int64(get(st, "frames")) : 0;
		fprintf(stderr, "unplugged: %" PRId64 " frames answered\n", frames);
		CHECK(frames > 30);
		if (st)
			json_object_put(st);
		/* Plugged again: the screen is back, the guest on it. */
		CHECK(plug(screen, "detect"));
		until = dmab_ts_now_ms() + 10000;
		while (screen_count(&s) != 1 && dmab_ts_now_ms() < until)
			nanosleep(&(struct timespec){ 0, 50000000 }, NULL);
		CHECK(screen_count(&s) == 1);
		uint64_t bad = shot_scene(&s, screen, &sc);
		fprintf(stderr, "plugged again: %" PRIu64 " pixels wrong\n", bad);
		CHECK(bad == 0);
		until = dmab_ts_now_ms() + 5000;
		do {
			how_shown(&s, r.domid, display, sizeof(display), import, sizeof(import));
		} while (strcmp(display, "direct") && dmab_ts_now_ms() < until);
		CHECK(!strcmp(display, "direct") && any_crtc_on());
		finish(&r);
	} else {
		plug(screen, "detect");
	}
	if (failures)
		dmab_ts_dump_log(&s);
	CHECK(dmab_ts_stop(&s) == 0);
}

/*
 * Another client holds DRM master when dmabridged starts (a display server,
 * a console): its guests' frames still complete, not shown, and once the
 * other client lets go dmabridged takes the display and shows them.
 */
static void test_master(void)
{
	int holder = open(card, O_RDWR | O_CLOEXEC);
	CHECK(holder >= 0 && drmIsMaster(holder));
	master_holder = holder;
	char config[512];
	snprintf(config, sizeof(config), config_fmt, card);
	struct dmab_test_server s;
	if (dmab_ts_start(&s, config, NULL)) {
		failures++;
		close(holder);
		return;
	}
	char screen[64] = "";
	CHECK(screen_name(&s, screen, sizeof(screen)));
	struct running r;
	uint32_t picture = 30;
	if (start(&r, &s, &specs[0], picture)) {
		CHECK(dmab_ts_log_count(&s, "another client is DRM master") == 1);
		int64_t committed = screen_frames(&s);
		CHECK(committed == 0);
		/* Not shown, but answered: the guest flips on, paced by the refresh. */
		dmab_ts_sync_go(&r.g.sync, CMD_FLIPS);
		uint32_t step;
		uint64_t value;
		CHECK(dmab_ts_sync_wait(&r.g.sync, &step, &value, STEP_MS) == 0 && step == 2);
		char id[32];
		snprintf(id, sizeof(id), "%" PRIu64 "/0/0", r.domid);
		json_object *st = dmab_ts_connector_stats(&s, id);
		int64_t frames = st ? json_object_get_int64(get(st, "frames")) : 0;
		fprintf(stderr, "without DRM master: %" PRId64 " frames answered in 3 s\n", frames);
		CHECK(frames > 30 && frames < 200);
		if (st)
			json_object_put(st);
		/* The other client goes: the display is dmabridged's, the guest on it. */
		close(holder);
		holder = master_holder = -1;
		uint64_t until = dmab_ts_now_ms() + 5000;
		while (dmab_ts_log_count(&s, "DRM master again") == 0 && dmab_ts_now_ms() < until)
			nanosleep(&(struct timespec){ 0, 50000000 }, NULL);
		CHECK(dmab_ts_log_count(&s, "DRM master again") == 1);
		struct scene sc = { specs, &picture, 1, NULL };
		uint64_t bad = shot_scene(&s, screen, &sc);
		fprintf(stderr, "after DRM master came back: %" PRIu64 " pixels wrong\n", bad);
		CHECK(bad == 0);
		/* Committed again: alone on the screen, on a plane. */
		char display[128], import[32];
		until = dmab_ts_now_ms() + 5000;
		do {
			how_shown(&s, r.domid, display, sizeof(display), import, sizeof(import));
		} while (strcmp(display, "direct") && dmab_ts_now_ms() < until);
		committed = screen_frames(&s);
		fprintf(stderr, "after DRM master came back: %s, %" PRId64 " frames committed\n",
			display, committed);
		CHECK(!strcmp(display, "direct") && committed > 0);
		finish(&r);
	}
	if (holder >= 0)
		close(holder);
	master_holder = -1;
	if (failures)
		dmab_ts_dump_log(&s);
	CHECK(dmab_ts_stop(&s) == 0);
}

/* Four guests of every kind: where each is shown and how, flips, release ordering. */
static void test_kinds(void)
{
	char config[512];
	snprintf(config, sizeof(config), config_fmt, card);
	struct dmab_test_server s;
	if (dmab_ts_start(&s, config, NULL)) {
		failures++;
		return;
	}
	char screen[64] = "";
	CHECK(screen_name(&s, screen, sizeof(screen)));
	fprintf(stderr, "%s: screen %s\n", card, screen);

	struct running r[NSPECS];
	uint32_t pictures[NSPECS];
	size_t started = 0;
	for (; started < NSPECS; started++) {
		pictures[started] = 10 + (uint32_t)started;
		if (!start(&r[started], &s, &specs[started], pictures[started]))
			break;
	}
	if (started == NSPECS) {
		/* Every guest where it belongs, in z order, as the display made it. */
		struct scene sc = { specs, pictures, NSPECS, NULL };
		uint64_t bad = shot_scene(&s, screen, &sc);
		fprintf(stderr, "the display's own picture: %" PRIu64 " pixels wrong\n", bad);
		CHECK(bad == 0);

		char display[128], import[32];
		for (size_t i = 0; i < NSPECS; i++) {
			how_shown(&s, r[i].domid, display, sizeof(display), import, sizeof(import));
			fprintf(stderr, "%s: %s, %s\n", specs[i].uid, import, display);
		}
		/* A heap dma-buf is the guest's own pages, scanned out. */
		how_shown(&s, r[0].domid, display, sizeof(display), import, sizeof(import));
		CHECK(!strcmp(import, "zero-copy"));
		/* On a plane of its own: nothing composed covers it. */
		uint64_t until = dmab_ts_now_ms() + 5000;
		do {
			how_shown(&s, r[3].domid, display, sizeof(display), import,
				sizeof(import));
		} while (strcmp(display, "direct") && dmab_ts_now_ms() < until);
		fprintf(stderr, "heap1 settled as: %s\n", display);
		CHECK(!strcmp(import, "zero-copy") && !strcmp(display, "direct"));
		/* A udmabuf imports, but vkms cannot vmap it: composed, and status says why. */
		how_shown(&s, r[1].domid, display, sizeof(display), import, sizeof(import));
		CHECK(!strcmp(import, "zero-copy"));
		CHECK(strstr(display, "refused") != NULL);
		how_shown(&s, r[2].domid, display, sizeof(display), import, sizeof(import));
		CHECK(!strcmp(import, "be-alloc"));
		/* The display's own frame: each guest as it is shown, on a plane or composed. */
		bool on_plane[NSPECS];
		for (size_t i = 0; i < NSPECS; i++) {
			how_shown(&s, r[i].domid, display, sizeof(display), import,
				sizeof(import));
			on_plane[i] = !strcmp(display, "direct");
		}
		uint32_t width = 0, height = 0;
		struct scene shown = { specs, pictures, NSPECS, on_plane };
		CHECK(screen_size(&s, &width, &height) &&
			display_shows(scene_crc(&shown, width, height), SHOW_MS));
		char memory[32];
		buffer_memory(&s, r[2].domid, memory, sizeof(memory));
		fprintf(stderr, "the host buffer of %s: %s\n", specs[2].uid, memory);
		CHECK(!strcmp(memory, "gbm") || !strcmp(memory, "dumb"));

		/* Flips paced by vkms's vblank: about 60 a second. */
		dmab_ts_sync_go(&r[0].g.sync, CMD_FLIPS);
		uint32_t step;
		uint64_t value;
		CHECK(dmab_ts_sync_wait(&r[0].g.sync, &step, &value, STEP_MS) == 0 && step == 2);
		char id[32];
		snprintf(id, sizeof(id), "%" PRIu64 "/0/0", r[0].domid);
		json_object *st = dmab_ts_connector_stats(&s, id);
		double fps = st ? json_object_get_double(get(st, "fps")) : 0;
		int64_t frames = st ? json_object_get_int64(get(st, "frames")) : 0;
		fprintf(stderr, "flipping: %" PRId64 " frames, %.1f fps\n", frames, fps);
		CHECK(fps > 20 && fps < 65);
		if (st)
			json_object_put(st);

		/* The buffer on screen destroyed: answered once the display let go of it. */
		dmab_ts_sync_go(&r[0].g.sync, CMD_DESTROY);
		CHECK(dmab_ts_sync_wait(&r[0].g.sync, &step, &value, STEP_MS) == 0 && step == 3);
		fprintf(stderr, "destroying the buffer on screen took %" PRIu64 " ms\n", value);
		/* Answered after the display let go: its place is black from then on. */
		uint8_t *rgba = NULL;
		uint32_t w, h;
		char target[80];
		snprintf(target, sizeof(target), "screen:%s", screen);
		CHECK(dmab_ts_screenshot(&s, target, &rgba, &w, &h) == 0);
		if (rgba) {
			CHECK(dmab_ts_check_black(rgba, w, 0, 0, 200, 60) == 0);
			free(rgba);
		}
	}
	for (size_t i = 0; i < started; i++)
		finish(&r[i]);
	if (failures)
		dmab_ts_dump_log(&s);
	CHECK(dmab_ts_stop(&s) == 0);
}

static void test_many_all(void)
{
	test_many(-1);
}

static void test_many_composed(void)
{
	test_many(0);
}

static const struct {
	const char *name;
	void (*run)(void);
} scenarios[] = {
	{ "kinds", test_kinds },
	{ "many", test_many_all },
	{ "composed", test_many_composed },
	{ "hotplug", test_hotplug },
	{ "master", test_master },
};

/* test-drm [SCENARIO...]: those scenarios, or every one. */
int main(int argc, char **argv)
{
	if (!dmab_ts_find_card("vkms", card, sizeof(card))) {
		fprintf(stderr, "no vkms device: this test runs in the VM tier\n");
		return 77;
	}
	if (access("/dev/dma_heap/system", R_OK) || access("/dev/udmabuf", R_OK)) {
		fprintf(stderr, "no dma-buf heap or udmabuf: this test runs in the VM tier\n");
		return 77;
	}
	size_t n = sizeof(scenarios) / sizeof(scenarios[0]);
	for (int a = 1; a < argc; a++) {
		size_t i = 0;
		while (i < n && strcmp(argv[a], scenarios[i].name))
			i++;
		if (i == n) {
			fprintf(stderr, "no scenario %s\n", argv[a]);
			return 2;
		}
	}
	for (size_t i = 0; i < n; i++) {
		bool wanted = argc == 1;
		for (int a = 1; a < argc; a++)
			wanted = wanted || !strcmp(argv[a], scenarios[i].name);
		if (!wanted)
			continue;
		fprintf(stderr, "=== %s\n", scenarios[i].name);
		scenarios[i].run();
	}
	fprintf(stderr, "%d failures\n", failures);
	return failures ? 1 : 0;
}
