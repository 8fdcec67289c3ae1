// SPDX-License-Identifier: MIT
/*
 * xen-frames: known frames drawn by a Xen guest through Linux's
 * xen-drm-front, and their check in dom0 against what dmabridged shows.
 *
 *   xen-frames ids
 *       (guest) one line per connected connector of the KMS device:
 *       "<connector id> <crtc id> <width>x<height>"
 *   xen-frames draw [--frames N] [--connectors N] [--buffers N] [--timeout S]
 *       (guest) on up to N connectors at once (all by default), each in
 *       its first mode: dumb buffers, frame 0 shown with SET_CRTC, the
 *       others with page flips. Once a frame is on screen (SET_CRTC
 *       returned, or every connector's flip event came) it prints
 *       "frame K <crc of connector 0> <crc of connector 1> ..." and puts the
 *       same in XenStore (data/dmab-frames/shown, relative to the guest's
 *       own directory), then waits until dom0 writes K to
 *       data/dmab-frames/ack before it draws the next.
 *   xen-frames loop [--connectors N] [--buffers N] [--timeout S]
 *       (guest) the same frames without end and without waiting for dom0,
 *       each flipped once the last one's event came, as a compositor
 *       does: the well-behaved guest beside hostile ones (check-hostile).
 *       While data/dmab-frames/hold exists it stops between frames and
 *       says which is on screen in data/dmab-frames/held ("K crc ...");
 *       the longest it waited for a flip event is in
 *       data/dmab-frames/max-wait-ms (of the waits begun since dom0
 *       last removed it). It
 *       ends, turning its CRTCs off, once data/dmab-frames/stop exists.
 *   xen-frames check PNG K INDEX [CRC]
 *       (dom0) prints the PNG's checksum, compares every pixel with frame K
 *       of connector INDEX, and the checksum with CRC.
 *   xen-frames display-crc K INDEX X Y WIDTHxHEIGHT SCREENWxSCREENH
 *       (dom0) prints the CRC vkms computes of a screen showing frame K of
 *       connector INDEX (WIDTHxHEIGHT) at X, Y over black, as vkms's
 *       debugfs file crtc-N/crc/data writes it ("0x%08x"): each row of the
 *       CRTC as pixels of 16-bit a, r, g, b (8-bit channels times 257, a
 *       0xffff) through crc32_le from 0 (Linux 6.1, vkms_composer.c).
 *
 * A frame's checksum is zlib's crc32 over its pixels as R, G, B octets,
 * row by row: the guest reads them back from the buffer it drew, dom0 from
 * the screenshot (dmabridgectl screenshot), so both name the same image.
 * Exit status: 0 when all went as stated, 1 otherwise, 2 for usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <drm_fourcc.h>
#include <png.h>
#include <xenstore.h>
#include <xf86drm.h>
#include <xf86drmMode.h>
#include <zlib.h>

#define MAX_CONNECTORS 4
#define MAX_BUFFERS 3

struct buffer {
	uint32_t handle;
	uint32_t fb;
	uint32_t pitch;
	uint64_t size;
	uint8_t *map;
};

struct output {
	uint32_t connector;
	uint32_t crtc;
	drmModeModeInfo mode;
	struct buffer buffers[MAX_BUFFERS];
	bool flip_pending;
};

struct draw {
	int fd;
	struct xs_handle *xs;
	struct output outputs[MAX_CONNECTORS];
	unsigned int count;
	unsigned int buffers;
	int timeout_ms;
};

/* The colour of a pixel of frame k on connector index: every pixel differs
 * from its neighbours, from the same pixel of the next frame and of the
 * other connectors, so an offset, a swap or a stale frame all show. */
static void pattern(unsigned int k, unsigned int index, uint32_t x, uint32_t y, uint8_t rgb[3])
{
	rgb[0] = (uint8_t)(x + 3 * k);
	rgb[1] = (uint8_t)(y + 64 * index + 5 * k);
	rgb[2] = (uint8_t)(x ^ y ^ (37 * k) ^ (101 * index));
}

static uint32_t crc_rgb(uint32_t crc, const uint8_t *rgb, size_t len)
{
	return (uint32_t)crc32(crc, rgb, (uInt)len);
}

/* ---- the guest: KMS ---- */

static int find_crtc(int fd, drmModeRes *res, drmModeConnector *conn, uint32_t taken)
{
	for (int e = 0; e < conn->count_encoders; e++) {
		drmModeEncoder *enc = drmModeGetEncoder(fd, conn->encoders[e]);
		if (!enc)
			continue;
		for (int c = 0; c < res->count_crtcs; c++) {
			if ((enc->possible_crtcs & (1u << c)) && !(taken & (1u << c))) {
				drmModeFreeEncoder(enc);
				return c;
			}
		}
		drmModeFreeEncoder(enc);
	}
	return -1;
}

static int open_card(void)
{
	int fd = drmOpenWithType("xendrm-du", NULL, DRM_NODE_PRIMARY);
	if (fd < 0)
		fprintf(stderr, "FAIL: no xendrm-du KMS device (xen-drm-front): %s\n",
			strerror(errno));
	return fd;
}

/* Every connected connector with a mode and a free CRTC, in the device's order. */
static int find_outputs(int fd, struct output *outputs, unsigned int max, unsigned int *count)
{
	drmModeRes *res = drmModeGetResources(fd);
	if (!res) {
		fprintf(stderr, "FAIL: drmModeGetResources: %s\n", strerror(errno));
		return -1;
	}
	uint32_t taken = 0;
	*count = 0;
	for (int i = 0; i < res->count_connectors && *count < max; i++) {
		drmModeConnector *conn = drmModeGetConnector(fd, res->connectors[i]);
		if (!conn)
			continue;
		int c = conn->connection == DRM_MODE_CONNECTED && conn->count_modes > 0 ?
			find_crtc(fd, res, conn, taken) : -1;
		if (c >= 0) {
			taken |= 1u << c;
			outputs[*count] = (struct output){
				.connector = conn->connector_id,
				.crtc = res->crtcs[c],
				.mode = conn->modes[0],
			};
			(*count)++;
		}
		drmModeFreeConnector(conn);
	}
	drmModeFreeResources(res);
	return 0;
}

static int cmd_ids(void)
{
	int fd = open_card();
	if (fd < 0)
		return 1;
	struct output outputs[MAX_CONNECTORS];
	unsigned int count;
	int ret = find_outputs(fd, outputs, MAX_CONNECTORS, &count);
	for (unsigned int i = 0; ret == 0 && i < count; i++)
		printf("%u %u %ux%u\n", outputs[i].connector, outputs[i].crtc,
			outputs[i].mode.hdisplay, outputs[i].mode.vdisplay);
	close(fd);
	return ret == 0 && count > 0 ? 0 : 1;
}

static int buffer_create(int fd, uint32_t width, uint32_t height, struct buffer *b)
{
	if (drmModeCreateDumbBuffer(fd, width, height, 32, 0, &b->handle, &b->pitch,
			&b->size) < 0) {
		fprintf(stderr, "FAIL: CREATE_DUMB %ux%u: %s\n", width, height, strerror(errno));
		return -1;
	}
	uint32_t handles[4] = { b->handle }, pitches[4] = { b->pitch }, offsets[4] = { 0 };
	if (drmModeAddFB2(fd, width, height, DRM_FORMAT_XRGB8888, handles, pitches, offsets,
			&b->fb, 0) < 0) {
		fprintf(stderr, "FAIL: ADDFB2 %ux%u: %s\n", width, height, strerror(errno));
		return -1;
	}
	uint64_t offset;
	if (drmModeMapDumbBuffer(fd, b->handle, &offset) < 0) {
		fprintf(stderr, "FAIL: MAP_DUMB: %s\n", strerror(errno));
		return -1;
	}
	void *map = mmap(NULL, b->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)offset);
	if (map == MAP_FAILED) {
		fprintf(stderr, "FAIL: mmap of a dumb buffer: %s\n", strerror(errno));
		return -1;
	}
	b->map = map;
	return 0;
}

static void buffer_destroy(int fd, struct buffer *b)
{
	if (b->map)
		munmap(b->map, b->size);
	if (b->fb)
		drmModeRmFB(fd, b->fb);
	if (b->handle)
		drmModeDestroyDumbBuffer(fd, b->handle);
}

/* Draws frame k of connector index into b, and returns the checksum of what
 * the buffer then holds. */
static uint32_t draw_frame(const struct buffer *b, uint32_t width, uint32_t height,
		unsigned int k, unsigned int index)
{
	uint8_t *row_rgb = malloc((size_t)width * 3);
	uint32_t crc = crc_rgb(0, NULL, 0);
	for (uint32_t y = 0; y < height; y++) {
		uint32_t *row = (uint32_t *)(b->map + (size_t)y * b->pitch);
		for (uint32_t x = 0; x < width; x++) {
			uint8_t rgb[3];
			pattern(k, index, x, y, rgb);
			row[x] = (uint32_t)rgb[0] << 16 | (uint32_t)rgb[1] << 8 | rgb[2];
		}
		/* Read back: the checksum is of the buffer, not of the intent. */
		for (uint32_t x = 0; x < width; x++) {
			uint32_t p = row[x];
			row_rgb[3 * x] = (uint8_t)(p >> 16);
			row_rgb[3 * x + 1] = (uint8_t)(p >> 8);
			row_rgb[3 * x + 2] = (uint8_t)p;
		}
		crc = crc_rgb(crc, row_rgb, (size_t)width * 3);
	}
	free(row_rgb);
	return crc;
}

static void handle_flip(int fd, unsigned int sequence, unsigned int sec, unsigned int usec,
		void *data)
{
	struct output *o = data;
	o->flip_pending = false;
}

static bool flips_pending(const struct draw *d)
{
	for (unsigned int i = 0; i < d->count; i++)
		if (d->outputs[i].flip_pending)
			return true;
	return false;
}

static int wait_flips(struct draw *d, unsigned int k)
{
	drmEventContext ev = { .version = 2, .page_flip_handler = handle_flip };
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (flips_pending(d)) {
		struct pollfd pfd = { .fd = d->fd, .events = POLLIN };
		int n = poll(&pfd, 1, 1000);
		if (n < 0 && errno != EINTR) {
			fprintf(stderr, "FAIL: poll: %s\n", strerror(errno));
			return -1;
		}
		if (n > 0 && drmHandleEvent(d->fd, &ev) < 0) {
			fprintf(stderr, "FAIL: drmHandleEvent: %s\n", strerror(errno));
			return -1;
		}
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		long ms = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
		if (ms > d->timeout_ms) {
			fprintf(stderr, "FAIL: frame %u: no flip event in %d ms\n", k, d->timeout_ms);
			return -1;
		}
	}
	return 0;
}

static int show_frame(struct draw *d, unsigned int k, uint32_t *crcs)
{
	for (unsigned int i = 0; i < d->count; i++) {
		struct output *o = &d->outputs[i];
		const struct buffer *b = &o->buffers[k % d->buffers];
		crcs[i] = draw_frame(b, o->mode.hdisplay, o->mode.vdisplay, k, i);
		if (k == 0) {
			if (drmModeSetCrtc(d->fd, o->crtc, b->fb, 0, 0, &o->connector, 1,
					&o->mode) < 0) {
				fprintf(stderr, "FAIL: SET_CRTC on connector %u: %s\n", o->connector,
					strerror(errno));
				return -1;
			}
			continue;
		}
		if (drmModePageFlip(d->fd, o->crtc, b->fb, DRM_MODE_PAGE_FLIP_EVENT, o) < 0) {
			fprintf(stderr, "FAIL: frame %u: PAGE_FLIP on CRTC %u: %s\n", k, o->crtc,
				strerror(errno));
			return -1;
		}
		o->flip_pending = true;
	}
	return wait_flips(d, k);
}

/* dom0's word that it has seen frame k. */
static int wait_ack(struct draw *d, unsigned int k)
{
	for (int waited = 0; waited < d->timeout_ms * 20; waited += 50) {
		unsigned int len;
		char *v = xs_read(d->xs, XBT_NULL, "data/dmab-frames/ack", &len);
		if (v) {
			bool seen = strtoul(v, NULL, 10) == k;
			free(v);
			if (seen)
				return 0;
		}
		usleep(50 * 1000);
	}
	fprintf(stderr, "FAIL: frame %u: dom0 did not acknowledge it in %d s\n", k,
		d->timeout_ms * 20 / 1000);
	return -1;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool xs_exists(struct xs_handle *xs, const char *path)
{
	unsigned int len;
	char *v = xs_read(xs, XBT_NULL, path, &len);
	free(v);
	return v != NULL;
}

static bool xs_put(struct xs_handle *xs, const char *path, const char *value)
{
	if (xs_write(xs, XBT_NULL, path, value, (unsigned int)strlen(value)))
		return true;
	fprintf(stderr, "FAIL: XenStore write %s: %s\n", path, strerror(errno));
	return false;
}

/*
 * loop: held between frames while dom0 wants it, with frame line on
 * screen. 1 when dom0 wants it to stop.
 */
static int hold(struct draw *d, const char *line)
{
	if (xs_exists(d->xs, "data/dmab-frames/stop"))
		return 1;
	if (!xs_exists(d->xs, "data/dmab-frames/hold"))
		return 0;
	if (!xs_put(d->xs, "data/dmab-frames/held", line))
		return -1;
	while (xs_exists(d->xs, "data/dmab-frames/hold"))
		usleep(10 * 1000);
	xs_rm(d->xs, XBT_NULL, "data/dmab-frames/held");
	return 0;
}

/* frames 0: without end (loop). */
static int cmd_draw(unsigned int frames, unsigned int connectors, unsigned int buffers,
		int timeout_s)
{
	struct draw d = { .buffers = buffers, .timeout_ms = timeout_s * 1000 };
	int status = 1;
	d.fd = open_card();
	if (d.fd < 0)
		return 1;
	d.xs = xs_open(0);
	if (!d.xs) {
		fprintf(stderr, "FAIL: cannot reach XenStore: %s\n", strerror(errno));
		goto out_fd;
	}
	if (find_outputs(d.fd, d.outputs, connectors, &d.count) < 0)
		goto out;
	if (d.count == 0) {
		fprintf(stderr, "FAIL: no connected connector with a mode and a CRTC\n");
		goto out;
	}
	for (unsigned int i = 0; i < d.count; i++) {
		struct output *o = &d.outputs[i];
		printf("connector %u: id %u, CRTC %u, %ux%u, %u buffers\n", i, o->connector, o->crtc,
			o->mode.hdisplay, o->mode.vdisplay, d.buffers);
		for (unsigned int b = 0; b < d.buffers; b++)
			if (buffer_create(d.fd, o->mode.hdisplay, o->mode.vdisplay, &o->buffers[b]) < 0)
				goto out;
	}
	fflush(stdout);
	uint64_t max_wait = 0;
	for (unsigned int k = 0; frames == 0 || k < frames; k++) {
		uint32_t crcs[MAX_CONNECTORS];
		/* Whether dom0's reset (see below) is still to come for this wait. */
		bool measured_before = frames == 0 && max_wait &&
			xs_exists(d.xs, "data/dmab-frames/max-wait-ms");
		uint64_t t0 = now_ms();
		if (show_frame(&d, k, crcs) < 0)
			goto out;
		uint64_t waited = now_ms() - t0;
		char line[128];
		int len = snprintf(line, sizeof(line), "%u", k);
		for (unsigned int i = 0; i < d.count; i++)
			len += snprintf(line + len, sizeof(line) - (size_t)len, " %08" PRIx32, crcs[i]);
		if (frames == 0) {
			/*
			 * dom0 removes it to measure the waits that begin from
			 * then on: one it came in the middle of is not one.
			 */
			bool counts = k > 0;
			if (max_wait && !xs_exists(d.xs, "data/dmab-frames/max-wait-ms")) {
				max_wait = 0;
				counts = counts && !measured_before;
			}
			if (counts && waited > max_wait) {
				max_wait = waited;
				char v[32];
				snprintf(v, sizeof(v), "%" PRIu64, max_wait);
				if (!xs_put(d.xs, "data/dmab-frames/max-wait-ms", v))
					goto out;
			}
			if (k == 0)
				printf("flipping\n");
			fflush(stdout);
			int held = hold(&d, line);
			if (held < 0)
				goto out;
			if (held == 0)
				continue;
			printf("%u frames, the longest wait for a flip event %" PRIu64 " ms\n", k + 1,
				max_wait);
			frames = k + 1;
			break;
		}
		printf("frame %s\n", line);
		fflush(stdout);
		if (!xs_put(d.xs, "data/dmab-frames/shown", line))
			goto out;
		if (wait_ack(&d, k) < 0)
			goto out;
	}
	/* Off the screen before the buffers go, as a compositor that exits does. */
	for (unsigned int i = 0; i < d.count; i++)
		if (drmModeSetCrtc(d.fd, d.outputs[i].crtc, 0, 0, 0, NULL, 0, NULL) < 0) {
			fprintf(stderr, "FAIL: disabling CRTC %u: %s\n", d.outputs[i].crtc,
				strerror(errno));
			goto out;
		}
	printf("done: %u frames on %u connectors\n", frames, d.count);
	status = 0;
out:
	for (unsigned int i = 0; i < d.count; i++)
		for (unsigned int b = 0; b < d.buffers; b++)
			buffer_destroy(d.fd, &d.outputs[i].buffers[b]);
	xs_close(d.xs);
out_fd:
	close(d.fd);
	return status;
}

/* ---- dom0: the screenshot ---- */

static int cmd_check(const char *path, unsigned int k, unsigned int index, const char *want)
{
	png_image image = { .version = PNG_IMAGE_VERSION };
	if (!png_image_begin_read_from_file(&image, path)) {
		fprintf(stderr, "FAIL: %s: %s\n", path, image.message);
		return 1;
	}
	image.format = PNG_FORMAT_RGB;
	size_t size = PNG_IMAGE_SIZE(image);
	uint8_t *rgb = malloc(size);
	if (!rgb || !png_image_finish_read(&image, NULL, rgb, 0, NULL)) {
		fprintf(stderr, "FAIL: %s: %s\n", path, rgb ? image.message : "out of memory");
		free(rgb);
		png_image_free(&image);
		return 1;
	}
	uint32_t w = image.width, h = image.height;
	uint32_t crc = crc_rgb(crc_rgb(0, NULL, 0), rgb, size);
	unsigned long wrong = 0;
	uint32_t fx = 0, fy = 0;
	uint8_t got[3] = { 0 }, exp[3] = { 0 };
	for (uint32_t y = 0; y < h; y++) {
		for (uint32_t x = 0; x < w; x++) {
			uint8_t e[3];
			const uint8_t *p = rgb + ((size_t)y * w + x) * 3;
			pattern(k, index, x, y, e);
			if (memcmp(p, e, 3) == 0)
				continue;
			if (wrong++ == 0) {
				fx = x;
				fy = y;
				memcpy(got, p, 3);
				memcpy(exp, e, 3);
			}
		}
	}
	free(rgb);
	printf("%s: %ux%u crc %08" PRIx32, path, w, h, crc);
	int status = 0;
	if (wrong) {
		printf(", %lu pixels differ from frame %u of connector %u, the first at (%u, %u): "
			"#%02x%02x%02x instead of #%02x%02x%02x\n", wrong, k, index, fx, fy,
			got[0], got[1], got[2], exp[0], exp[1], exp[2]);
		status = 1;
	} else {
		printf(", frame %u of connector %u pixel for pixel\n", k, index);
	}
	if (want && strtoul(want, NULL, 16) != crc) {
		printf("FAIL: the guest drew crc %s, the screenshot has %08" PRIx32 "\n", want, crc);
		status = 1;
	}
	return status;
}

/* ---- dom0: the display ---- */

static int cmd_display_crc(unsigned int k, unsigned int index, uint32_t gx, uint32_t gy,
		uint32_t gw, uint32_t gh, uint32_t sw, uint32_t sh)
{
	uint16_t *row = calloc(sw, 8);
	if (!row)
		return 1;
	uint32_t crc = 0;
	for (uint32_t y = 0; y < sh; y++) {
		for (uint32_t x = 0; x < sw; x++) {
			uint8_t rgb[3] = { 0, 0, 0 };
			if (x >= gx && y >= gy && x - gx < gw && y - gy < gh)
				pattern(k, index, x - gx, y - gy, rgb);
			uint16_t *p = row + (size_t)x * 4;
			p[0] = 0xffff;
			p[1] = (uint16_t)(rgb[0] * 257);
			p[2] = (uint16_t)(rgb[1] * 257);
			p[3] = (uint16_t)(rgb[2] * 257);
		}
		/* zlib's crc32 is crc32_le with the value inverted before and after. */
		crc = ~(uint32_t)crc32(~crc, (const Bytef *)row, sw * 8);
	}
	free(row);
	printf("0x%08" PRIx32 "\n", crc);
	return 0;
}

static bool parse_size(const char *s, uint32_t *w, uint32_t *h)
{
	return sscanf(s, "%" SCNu32 "x%" SCNu32, w, h) == 2 && *w && *h && *w <= 16384 &&
		*h <= 16384;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: xen-frames ids\n"
		"       xen-frames draw [--frames N] [--connectors N] [--buffers N] [--timeout S]\n"
		"       xen-frames loop [--connectors N] [--buffers N] [--timeout S]\n"
		"       xen-frames check PNG FRAME INDEX [CRC]\n"
		"       xen-frames display-crc FRAME INDEX X Y WxH SCREEN_WxSCREEN_H\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "ids") == 0 && argc == 2)
		return cmd_ids();
	if (strcmp(cmd, "check") == 0 && (argc == 5 || argc == 6))
		return cmd_check(argv[2], (unsigned int)strtoul(argv[3], NULL, 10),
			(unsigned int)strtoul(argv[4], NULL, 10), argc == 6 ? argv[5] : NULL);
	if (strcmp(cmd, "display-crc") == 0 && argc == 8) {
		uint32_t gw, gh, sw, sh;
		if (!parse_size(argv[6], &gw, &gh) || !parse_size(argv[7], &sw, &sh)) {
			usage(stderr);
			return 2;
		}
		return cmd_display_crc((unsigned int)strtoul(argv[2], NULL, 10),
			(unsigned int)strtoul(argv[3], NULL, 10),
			(uint32_t)strtoul(argv[4], NULL, 10), (uint32_t)strtoul(argv[5], NULL, 10),
			gw, gh, sw, sh);
	}
	bool loop = strcmp(cmd, "loop") == 0;
	if (strcmp(cmd, "draw") != 0 && !loop) {
		usage(stderr);
		return 2;
	}
	static const struct option opts[] = {
		{ "frames", required_argument, NULL, 'f' },
		{ "connectors", required_argument, NULL, 'c' },
		{ "buffers", required_argument, NULL, 'b' },
		{ "timeout", required_argument, NULL, 't' },
		{ 0 },
	};
	unsigned int frames = 5, connectors = MAX_CONNECTORS, buffers = 2;
	int timeout_s = 10;
	int opt;
	optind = 2;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		unsigned long v = optarg ? strtoul(optarg, NULL, 10) : 0;
		switch (opt) {
		case 'f':
			frames = (unsigned int)v;
			break;
		case 'c':
			connectors = v >= 1 && v <= MAX_CONNECTORS ? (unsigned int)v : 0;
			break;
		case 'b':
			buffers = v >= 1 && v <= MAX_BUFFERS ? (unsigned int)v : 0;
			break;
		case 't':
			timeout_s = (int)v;
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || (!loop && frames == 0) || connectors == 0 || buffers == 0 ||
			timeout_s <= 0) {
		usage(stderr);
		return 2;
	}
	return cmd_draw(loop ? 0 : frames, connectors, buffers, timeout_s);
}
