// SPDX-License-Identifier: MIT
/*
 * The devices the VM tier provides, proved by using them, and what vkms
 * does with foreign dma-bufs (the fact the display fallback is built on):
 *
 *   vm-devices drm <driver>     a card whose DRM driver is <driver> (found by
 *                               DRM_IOCTL_VERSION, not by number); for vkms
 *                               also a connected virtual connector with modes,
 *                               a CRTC, a primary plane and a writeback connector
 *   vm-devices dumb <driver>    a dumb buffer of that card, exported as a dma-buf
 *                               and mapped
 *   vm-devices udmabuf          a udmabuf over a sealed memfd shares its pages
 *   vm-devices heap             a system-heap dma-buf maps and keeps what is written
 *   vm-devices scanout <source> a dma-buf from <source> (heap, udmabuf, dumb)
 *                               imported into vkms (PRIME + AddFB2) and committed
 *                               with the writeback connector on the same CRTC;
 *                               heap and dumb must scan out pixel-exact, udmabuf
 *                               must import but be refused at commit (EINVAL:
 *                               Linux 6.1's udmabuf has no vmap, and vkms
 *                               composes with the CPU)
 *
 * Exit status 0 when the device behaves as stated, 1 otherwise, 2 for usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <drm_fourcc.h>
#include <linux/dma-buf.h>
#include <linux/udmabuf.h>
#include <xf86drm.h>
#include <xf86drmMode.h>

#include "common/memory.h"

#define WIDTH 640
#define HEIGHT 480
#define STRIDE (WIDTH * 4)
#define SIZE ((size_t)STRIDE * HEIGHT)

static int fail(const char *what)
{
	fprintf(stderr, "FAIL: %s\n", what);
	return 1;
}

static int fail_errno(const char *what, int err)
{
	fprintf(stderr, "FAIL: %s: %s\n", what, strerror(err));
	return 1;
}

/* The card driven by driver, opened read-write, or -1. */
static int open_card(const char *driver)
{
	glob_t g;
	if (glob("/dev/dri/card*", 0, NULL, &g) != 0) {
		fprintf(stderr, "no /dev/dri/card*\n");
		return -1;
	}
	int found = -1;
	for (size_t i = 0; i < g.gl_pathc && found < 0; i++) {
		int fd = open(g.gl_pathv[i], O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			fprintf(stderr, "%s: %s\n", g.gl_pathv[i], strerror(errno));
			continue;
		}
		drmVersionPtr v = drmGetVersion(fd);
		if (v) {
			printf("%s: driver %s %d.%d.%d (%s)\n", g.gl_pathv[i], v->name,
				v->version_major, v->version_minor, v->version_patchlevel, v->desc);
			if (strcmp(v->name, driver) == 0)
				found = fd;
			drmFreeVersion(v);
		}
		if (found != fd)
			close(fd);
	}
	globfree(&g);
	if (found < 0)
		fprintf(stderr, "no card with driver %s\n", driver);
	return found;
}

/* One value of a pixel of the pattern: different for every source so that a
 * stale buffer on screen cannot pass for the new one. */
static uint32_t pattern(unsigned x, unsigned y, unsigned seed)
{
	return ((x * 7 + seed) & 0xff) << 16 | ((y * 3 + seed * 5) & 0xff) << 8 |
		((x ^ y ^ seed) & 0xff);
}

static int sync_dmabuf(int fd, uint64_t flags)
{
	struct dma_buf_sync sync = { .flags = flags };
	return ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync) < 0 ? -errno : 0;
}

/* Writes the pattern into a dma-buf through its own mmap. */
static int fill_dmabuf(int fd, unsigned seed)
{
	uint32_t *px = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (px == MAP_FAILED)
		return -errno;
	int ret = sync_dmabuf(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE);
	for (unsigned y = 0; y < HEIGHT && ret == 0; y++)
		for (unsigned x = 0; x < WIDTH; x++)
			px[y * WIDTH + x] = pattern(x, y, seed);
	if (ret == 0)
		ret = sync_dmabuf(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE);
	munmap(px, SIZE);
	return ret;
}

static int make_udmabuf(void)
{
	int memfd = dmab_sealed_memfd("vm-devices", SIZE);
	if (memfd < 0)
		return memfd;
	int dev = open("/dev/udmabuf", O_RDWR | O_CLOEXEC);
	if (dev < 0) {
		int err = -errno;
		close(memfd);
		return err;
	}
	struct udmabuf_create create = {
		.memfd = (uint32_t)memfd,
		.flags = UDMABUF_FLAGS_CLOEXEC,
		.offset = 0,
		.size = SIZE,
	};
	int fd = ioctl(dev, UDMABUF_CREATE, &create);
	int ret = fd < 0 ? -errno : fd;
	close(dev);
	close(memfd);
	return ret;
}

/* A dumb buffer of card as a dma-buf; its GEM handle is closed again. */
static int make_dumb_dmabuf(int card)
{
	uint32_t handle, pitch;
	uint64_t size;
	if (drmModeCreateDumbBuffer(card, WIDTH, HEIGHT, 32, 0, &handle, &pitch, &size) < 0)
		return -errno;
	int fd = -1;
	int ret = pitch != STRIDE ? -EPROTO :
		drmPrimeHandleToFD(card, handle, DRM_CLOEXEC | DRM_RDWR, &fd) < 0 ? -errno : 0;
	drmModeDestroyDumbBuffer(card, handle);
	return ret < 0 ? ret : fd;
}

static int cmd_drm(const char *driver)
{
	int card = open_card(driver);
	if (card < 0)
		return fail("no such card");
	if (strcmp(driver, "vkms") != 0) {
		close(card);
		return 0;
	}
	int ret = 1;
	if (drmSetClientCap(card, DRM_CLIENT_CAP_ATOMIC, 1) < 0 ||
			drmSetClientCap(card, DRM_CLIENT_CAP_WRITEBACK_CONNECTORS, 1) < 0) {
		fail_errno("atomic and writeback client caps", errno);
		goto out_card;
	}
	drmModeResPtr res = drmModeGetResources(card);
	if (!res) {
		fail_errno("drmModeGetResources", errno);
		goto out_card;
	}
	int virtual = 0, writeback = 0;
	for (int i = 0; i < res->count_connectors; i++) {
		drmModeConnectorPtr c = drmModeGetConnector(card, res->connectors[i]);
		if (!c)
			continue;
		printf("connector %u: %s-%u, %s, %d modes\n", c->connector_id,
			drmModeGetConnectorTypeName(c->connector_type), c->connector_type_id,
			c->connection == DRM_MODE_CONNECTED ? "connected" : "not connected",
			c->count_modes);
		if (c->connector_type == DRM_MODE_CONNECTOR_WRITEBACK)
			writeback++;
		else if (c->connector_type == DRM_MODE_CONNECTOR_VIRTUAL &&
				c->connection == DRM_MODE_CONNECTED && c->count_modes > 0)
			virtual++;
		drmModeFreeConnector(c);
	}
	printf("%d CRTCs, %d encoders\n", res->count_crtcs, res->count_encoders);
	drmModePlaneResPtr planes = drmModeGetPlaneResources(card);
	printf("%u planes\n", planes ? planes->count_planes : 0);
	if (res->count_crtcs < 1)
		fail("vkms has no CRTC");
	else if (!planes || planes->count_planes < 1)
		fail("vkms has no plane");
	else if (virtual < 1)
		fail("vkms has no connected virtual connector with modes");
	else if (writeback < 1)
		fail("vkms has no writeback connector (vkms.enable_writeback?)");
	else
		ret = 0;
	drmModeFreePlaneResources(planes);
	drmModeFreeResources(res);
out_card:
	close(card);
	return ret;
}

/* Maps a dma-buf and checks that the pattern written through it stays. */
static int check_mapping(int fd, unsigned seed)
{
	int ret = fill_dmabuf(fd, seed);
	if (ret < 0)
		return fail_errno("write through the dma-buf's mapping", -ret);
	uint32_t *px = mmap(NULL, SIZE, PROT_READ, MAP_SHARED, fd, 0);
	if (px == MAP_FAILED)
		return fail_errno("map the dma-buf again", errno);
	bool same = true;
	for (unsigned y = 0; y < HEIGHT && same; y++)
		for (unsigned x = 0; x < WIDTH && same; x++)
			same = px[y * WIDTH + x] == pattern(x, y, seed);
	munmap(px, SIZE);
	return same ? 0 : fail("the dma-buf does not keep what was written into it");
}

static int cmd_dumb(const char *driver)
{
	int card = open_card(driver);
	if (card < 0)
		return fail("no such card");
	int fd = make_dumb_dmabuf(card);
	close(card);
	if (fd < 0)
		return fail_errno("dumb buffer exported as a dma-buf", -fd);
	int ret = check_mapping(fd, 3);
	close(fd);
	if (ret == 0)
		printf("a %ux%u dumb buffer of %s exports and maps as a dma-buf\n",
			WIDTH, HEIGHT, driver);
	return ret;
}

static int cmd_heap(void)
{
	int fd = dmab_heap_alloc(SIZE);
	if (fd < 0)
		return fail_errno("allocate from /dev/dma_heap/system", -fd);
	int ret = check_mapping(fd, 1);
	close(fd);
	if (ret == 0)
		printf("/dev/dma_heap/system: %zu octets allocated, mapped, kept\n", SIZE);
	return ret;
}

static int cmd_udmabuf(void)
{
	int memfd = dmab_sealed_memfd("vm-devices", SIZE);
	if (memfd < 0)
		return fail_errno("sealed memfd", -memfd);
	int ret = 1;
	int dev = open("/dev/udmabuf", O_RDWR | O_CLOEXEC);
	if (dev < 0) {
		fail_errno("/dev/udmabuf", errno);
		goto out_memfd;
	}
	struct udmabuf_create create = {
		.memfd = (uint32_t)memfd, .flags = UDMABUF_FLAGS_CLOEXEC, .size = SIZE,
	};
	int fd = ioctl(dev, UDMABUF_CREATE, &create);
	close(dev);
	if (fd < 0) {
		fail_errno("UDMABUF_CREATE", errno);
		goto out_memfd;
	}
	/* The point of a udmabuf: the dma-buf is the memfd's pages, not a copy. */
	uint32_t *mem = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	uint32_t *buf = mmap(NULL, SIZE, PROT_READ, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED || buf == MAP_FAILED) {
		fail_errno("map the memfd and the udmabuf", errno);
	} else {
		mem[12345] = 0xdeadbeef;
		if (buf[12345] != 0xdeadbeef)
			fail("a write into the memfd does not show in the udmabuf");
		else
			ret = 0;
	}
	if (mem != MAP_FAILED)
		munmap(mem, SIZE);
	if (buf != MAP_FAILED)
		munmap(buf, SIZE);
	close(fd);
	if (ret == 0)
		printf("/dev/udmabuf: a udmabuf over a sealed memfd shares its pages\n");
out_memfd:
	close(memfd);
	return ret;
}

/* Finds the id of the property called name on an object, or 0. */
static uint32_t prop_id(int card, uint32_t object, uint32_t type, const char *name)
{
	drmModeObjectPropertiesPtr props = drmModeObjectGetProperties(card, object, type);
	uint32_t id = 0;
	for (uint32_t i = 0; props && i < props->count_props && !id; i++) {
		drmModePropertyPtr p = drmModeGetProperty(card, props->props[i]);
		if (p && strcmp(p->name, name) == 0)
			id = p->prop_id;
		drmModeFreeProperty(p);
	}
	drmModeFreeObjectProperties(props);
	return id;
}

static uint64_t prop_value(int card, uint32_t object, uint32_t type, const char *name)
{
	drmModeObjectPropertiesPtr props = drmModeObjectGetProperties(card, object, type);
	uint64_t value = UINT64_MAX;
	for (uint32_t i = 0; props && i < props->count_props; i++) {
		drmModePropertyPtr p = drmModeGetProperty(card, props->props[i]);
		if (p && strcmp(p->name, name) == 0)
			value = props->prop_values[i];
		drmModeFreeProperty(p);
	}
	drmModeFreeObjectProperties(props);
	return value;
}

struct pipe {
	uint32_t crtc, plane, connector, writeback;
	drmModeModeInfo mode;
};

static int find_pipe(int card, struct pipe *p)
{
	drmModeResPtr res = drmModeGetResources(card);
	if (!res || res->count_crtcs < 1)
		return -ENODEV;
	*p = (struct pipe){ .crtc = res->crtcs[0] };
	bool have_mode = false;
	for (int i = 0; i < res->count_connectors; i++) {
		drmModeConnectorPtr c = drmModeGetConnector(card, res->connectors[i]);
		if (!c)
			continue;
		if (c->connector_type == DRM_MODE_CONNECTOR_WRITEBACK) {
			p->writeback = c->connector_id;
		} else if (c->connection == DRM_MODE_CONNECTED && !p->connector) {
			p->connector = c->connector_id;
			for (int m = 0; m < c->count_modes && !have_mode; m++) {
				if (c->modes[m].hdisplay == WIDTH && c->modes[m].vdisplay == HEIGHT) {
					p->mode = c->modes[m];
					have_mode = true;
				}
			}
		}
		drmModeFreeConnector(c);
	}
	drmModePlaneResPtr planes = drmModeGetPlaneResources(card);
	for (uint32_t i = 0; planes && i < planes->count_planes && !p->plane; i++) {
		drmModePlanePtr pl = drmModeGetPlane(card, planes->planes[i]);
		if (pl && (pl->possible_crtcs & 1) &&
				prop_value(card, pl->plane_id, DRM_MODE_OBJECT_PLANE, "type") ==
				DRM_PLANE_TYPE_PRIMARY)
			p->plane = pl->plane_id;
		drmModeFreePlane(pl);
	}
	drmModeFreePlaneResources(planes);
	drmModeFreeResources(res);
	if (!p->connector || !p->writeback || !p->plane || !have_mode)
		return -ENODEV;
	return 0;
}

/* Commits fb full screen on the primary plane of the CRTC, with the CRTC
 * driving the virtual connector (wb_fb 0: the display) or the writeback
 * connector writing into wb_fb. vkms lets each encoder clone only itself, so
 * the two cannot share the CRTC in one commit. Returns 0 or -errno of the
 * commit; *fence is the writeback's out-fence, or -1. */
static int commit(int card, const struct pipe *p, uint32_t fb, uint32_t wb_fb, int *fence)
{
	uint32_t blob;
	if (drmModeCreatePropertyBlob(card, &p->mode, sizeof(p->mode), &blob) < 0)
		return -errno;
	drmModeAtomicReqPtr req = drmModeAtomicAlloc();
	const uint32_t P = DRM_MODE_OBJECT_PLANE, C = DRM_MODE_OBJECT_CRTC,
		K = DRM_MODE_OBJECT_CONNECTOR;
	int64_t fence_out = -1;
	struct {
		uint32_t object, type;
		const char *name;
		uint64_t value;
	} props[] = {
		{ p->crtc, C, "MODE_ID", blob },
		{ p->crtc, C, "ACTIVE", 1 },
		{ p->plane, P, "FB_ID", fb },
		{ p->plane, P, "CRTC_ID", p->crtc },
		{ p->plane, P, "SRC_X", 0 },
		{ p->plane, P, "SRC_Y", 0 },
		{ p->plane, P, "SRC_W", (uint64_t)WIDTH << 16 },
		{ p->plane, P, "SRC_H", (uint64_t)HEIGHT << 16 },
		{ p->plane, P, "CRTC_X", 0 },
		{ p->plane, P, "CRTC_Y", 0 },
		{ p->plane, P, "CRTC_W", WIDTH },
		{ p->plane, P, "CRTC_H", HEIGHT },
		{ p->connector, K, "CRTC_ID", wb_fb ? 0 : p->crtc },
		{ p->writeback, K, "CRTC_ID", wb_fb ? p->crtc : 0 },
		{ p->writeback, K, "WRITEBACK_FB_ID", wb_fb },
		{ p->writeback, K, "WRITEBACK_OUT_FENCE_PTR", (uint64_t)(uintptr_t)&fence_out },
	};
	/* Without a writeback framebuffer, the writeback properties stay out. */
	size_t count = sizeof(props) / sizeof(props[0]) - (wb_fb ? 0 : 2);
	int ret = 0;
	for (size_t i = 0; i < count && ret == 0; i++) {
		uint32_t id = prop_id(card, props[i].object, props[i].type, props[i].name);
		if (!id) {
			fprintf(stderr, "no property %s on object %u\n", props[i].name,
				props[i].object);
			ret = -ENOENT;
		} else if (drmModeAtomicAddProperty(req, props[i].object, id, props[i].value) < 0) {
			ret = -ENOMEM;
		}
	}
	if (ret == 0 && drmModeAtomicCommit(card, req, DRM_MODE_ATOMIC_ALLOW_MODESET, NULL) < 0)
		ret = -errno;
	drmModeAtomicFree(req);
	drmModeDestroyPropertyBlob(card, blob);
	*fence = (int)fence_out;
	return ret;
}

/* A framebuffer for a dma-buf imported into card; the GEM handle is closed
 * once the framebuffer holds the buffer. */
static int import_fb(int card, int dmabuf, uint32_t *fb)
{
	uint32_t handle;
	if (drmPrimeFDToHandle(card, dmabuf, &handle) < 0)
		return fail_errno("PRIME import (drmPrimeFDToHandle)", errno);
	printf("PRIME import: GEM handle %u\n", handle);
	uint32_t handles[4] = { handle }, pitches[4] = { STRIDE }, offsets[4] = { 0 };
	int ret = drmModeAddFB2(card, WIDTH, HEIGHT, DRM_FORMAT_XRGB8888, handles, pitches,
		offsets, fb, 0);
	int err = errno;
	struct drm_gem_close close_req = { .handle = handle };
	drmIoctl(card, DRM_IOCTL_GEM_CLOSE, &close_req);
	if (ret < 0)
		return fail_errno("AddFB2 of the imported buffer", err);
	printf("AddFB2: framebuffer %u\n", *fb);
	return 0;
}

/* Compares what the writeback caught with the pattern of seed. */
static int check_writeback(int card, uint32_t wb_handle, int fence, unsigned seed)
{
	struct pollfd pfd = { .fd = fence, .events = POLLIN };
	/* The emulated machine may be slow: vkms writes back at its next vblank. */
	int n = poll(&pfd, 1, 20000);
	if (n <= 0)
		return fail(n == 0 ? "writeback fence not signalled in 20 s" : "poll on the fence");
	uint64_t offset;
	if (drmModeMapDumbBuffer(card, wb_handle, &offset) < 0)
		return fail_errno("map the writeback buffer", errno);
	uint32_t *px = mmap(NULL, SIZE, PROT_READ, MAP_SHARED, card, (off_t)offset);
	if (px == MAP_FAILED)
		return fail_errno("mmap the writeback buffer", errno);
	unsigned wrong = 0, first_x = 0, first_y = 0;
	uint32_t first_got = 0;
	for (unsigned y = 0; y < HEIGHT; y++) {
		for (unsigned x = 0; x < WIDTH; x++) {
			uint32_t got = px[y * WIDTH + x] & 0xffffff;
			if (got != pattern(x, y, seed) && wrong++ == 0) {
				first_x = x;
				first_y = y;
				first_got = got;
			}
		}
	}
	munmap(px, SIZE);
	if (wrong) {
		fprintf(stderr, "%u of %u pixels differ; first at %u,%u: 0x%06x, want 0x%06x\n",
			wrong, WIDTH * HEIGHT, first_x, first_y, first_got,
			pattern(first_x, first_y, seed));
		return fail("the writeback does not show the imported buffer");
	}
	printf("writeback: all %u pixels are the imported buffer's\n", WIDTH * HEIGHT);
	return 0;
}

static int cmd_scanout(const char *source)
{
	bool want_scanout;
	unsigned seed;
	if (strcmp(source, "heap") == 0) {
		want_scanout = true;
		seed = 11;
	} else if (strcmp(source, "udmabuf") == 0) {
		want_scanout = false;
		seed = 22;
	} else if (strcmp(source, "dumb") == 0) {
		want_scanout = true;
		seed = 33;
	} else {
		fprintf(stderr, "unknown source %s (heap, udmabuf, dumb)\n", source);
		return 2;
	}
	int card = open_card("vkms");
	if (card < 0)
		return fail("no vkms card");
	int ret = 1;
	struct pipe p;
	if (drmSetClientCap(card, DRM_CLIENT_CAP_UNIVERSAL_PLANES, 1) < 0 ||
			drmSetClientCap(card, DRM_CLIENT_CAP_ATOMIC, 1) < 0 ||
			drmSetClientCap(card, DRM_CLIENT_CAP_WRITEBACK_CONNECTORS, 1) < 0) {
		fail_errno("atomic and writeback client caps", errno);
		goto out_card;
	}
	int err = find_pipe(card, &p);
	if (err < 0) {
		fail_errno("a CRTC, primary plane, connected connector with 640x480, writeback", -err);
		goto out_card;
	}
	printf("vkms: CRTC %u, plane %u, connector %u, writeback %u, mode %s\n",
		p.crtc, p.plane, p.connector, p.writeback, p.mode.name);

	int buf;
	if (want_scanout && seed == 33) {
		/* vkms's own buffer, exported and imported again: the control case. */
		buf = make_dumb_dmabuf(card);
	} else {
		buf = seed == 11 ? dmab_heap_alloc(SIZE) : make_udmabuf();
	}
	if (buf < 0) {
		fail_errno("make the dma-buf", -buf);
		goto out_card;
	}
	err = fill_dmabuf(buf, seed);
	if (err < 0) {
		fail_errno("fill the dma-buf through its mapping", -err);
		goto out_buf;
	}
	printf("%s dma-buf: %dx%d XRGB8888, pattern written through its mapping\n",
		source, WIDTH, HEIGHT);

	uint32_t fb;
	if (import_fb(card, buf, &fb) != 0)
		goto out_buf;

	uint32_t wb_handle, wb_pitch, wb_fb;
	uint64_t wb_size;
	if (drmModeCreateDumbBuffer(card, WIDTH, HEIGHT, 32, 0, &wb_handle, &wb_pitch,
			&wb_size) < 0) {
		fail_errno("writeback dumb buffer", errno);
		goto out_fb;
	}
	uint32_t handles[4] = { wb_handle }, pitches[4] = { wb_pitch }, offsets[4] = { 0 };
	if (wb_pitch != STRIDE || drmModeAddFB2(card, WIDTH, HEIGHT, DRM_FORMAT_XRGB8888,
			handles, pitches, offsets, &wb_fb, 0) < 0) {
		fail_errno("writeback framebuffer", errno);
		goto out_wb_handle;
	}

	int fence = -1;
	err = commit(card, &p, fb, 0, &fence);
	printf("atomic commit on the virtual connector: %s\n", err ? strerror(-err) : "ok");
	if (want_scanout) {
		if (err != 0) {
			fail_errno("commit of a buffer vkms should scan out", -err);
		} else {
			/* What the CRTC composes, caught by the writeback connector. */
			err = commit(card, &p, fb, wb_fb, &fence);
			printf("atomic commit on the writeback connector: %s\n",
				err ? strerror(-err) : "ok");
			if (err != 0)
				fail_errno("commit on the writeback connector", -err);
			else
				ret = check_writeback(card, wb_handle, fence, seed);
		}
	} else if (err == 0) {
		fail("vkms scanned out a udmabuf: Linux now vmaps udmabufs; the display "
			"fallback and the platform facts need revisiting");
	} else if (err != -EINVAL) {
		fail_errno("commit of a udmabuf refused, but not with EINVAL", -err);
	} else {
		printf("udmabuf: imported, refused at commit with EINVAL, as measured\n");
		ret = 0;
	}
	if (fence >= 0)
		close(fence);
	drmModeRmFB(card, wb_fb);
out_wb_handle:
	drmModeDestroyDumbBuffer(card, wb_handle);
out_fb:
	drmModeRmFB(card, fb);
out_buf:
	close(buf);
out_card:
	close(card);
	return ret;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && strcmp(argv[1], "drm") == 0)
		return cmd_drm(argv[2]);
	if (argc == 3 && strcmp(argv[1], "dumb") == 0)
		return cmd_dumb(argv[2]);
	if (argc == 2 && strcmp(argv[1], "udmabuf") == 0)
		return cmd_udmabuf();
	if (argc == 2 && strcmp(argv[1], "heap") == 0)
		return cmd_heap();
	if (argc == 3 && strcmp(argv[1], "scanout") == 0)
		return cmd_scanout(argv[2]);
	fprintf(stderr, "usage: %s drm DRIVER | dumb DRIVER | udmabuf | heap | "
		"scanout heap|udmabuf|dumb\n", argv[0]);
	return 2;
}
