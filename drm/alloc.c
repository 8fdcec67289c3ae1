// SPDX-License-Identifier: MIT
/*
 * Scanout memory of the device: dumb buffers, mapped for the CPU and
 * exported as dma-bufs (be-alloc grants them to guests; composition draws
 * into them). A buffer is exactly size octets, page rows of 8-bit pixels,
 * since gntdev grants a dma-buf only whole: its framebuffers give their
 * own pitch (the guest's, which it computed and writes at).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "drm/drm-impl.h"

struct dumb {
	uint32_t handle;
	size_t map_size;
};

static struct drm_backend *backend_of(const struct dmab_allocator *alloc)
{
	return wl_container_of(alloc, (struct drm_backend *)NULL, allocator);
}

static int dumb_alloc(const struct dmab_allocator *alloc, uint32_t width, uint32_t height,
		uint32_t bpp, uint32_t *stride, size_t size, struct dmab_obuf *buf)
{
	struct drm_backend *drm = backend_of(alloc);
	size = (size + 4095) & ~(size_t)4095;
	if (*stride == 0 || size == 0 || size / 4096 > UINT32_MAX)
		return -EINVAL;
	struct drm_mode_create_dumb create = {
		.width = 4096,
		.height = (uint32_t)(size / 4096),
		.bpp = 8,
	};
	if (drmIoctl(drm->fd, DRM_IOCTL_MODE_CREATE_DUMB, &create))
		return -errno;
	struct dumb *d = calloc(1, sizeof(*d));
	int ret = d ? 0 : -ENOMEM;
	int fd = -1;
	void *cpu = MAP_FAILED;
	/* A driver that pads rows or pages makes more than asked: not grantable. */
	if (ret == 0 && create.size != size)
		ret = -EINVAL;
	struct drm_mode_map_dumb map = { .handle = create.handle };
	if (ret == 0 && drmIoctl(drm->fd, DRM_IOCTL_MODE_MAP_DUMB, &map))
		ret = -errno;
	if (ret == 0) {
		cpu = mmap(NULL, create.size, PROT_READ | PROT_WRITE, MAP_SHARED, drm->fd,
			(off_t)map.offset);
		if (cpu == MAP_FAILED)
			ret = -errno;
	}
	if (ret == 0 && drmPrimeHandleToFD(drm->fd, create.handle, DRM_CLOEXEC | DRM_RDWR, &fd))
		ret = -errno;
	if (ret) {
		if (cpu != MAP_FAILED)
			munmap(cpu, create.size);
		struct drm_mode_destroy_dumb destroy = { .handle = create.handle };
		drmIoctl(drm->fd, DRM_IOCTL_MODE_DESTROY_DUMB, &destroy);
		free(d);
		return ret;
	}
	d->handle = create.handle;
	d->map_size = create.size;
	buf->fd = fd;
	buf->cpu = cpu;
	buf->size = create.size;
	buf->impl_data = d;
	return 0;
}

static void dumb_free(const struct dmab_allocator *alloc, struct dmab_obuf *buf)
{
	struct drm_backend *drm = backend_of(alloc);
	struct dumb *d = buf->impl_data;
	munmap(buf->cpu, d->map_size);
	close(buf->fd);
	struct drm_mode_destroy_dumb destroy = { .handle = d->handle };
	drmIoctl(drm->fd, DRM_IOCTL_MODE_DESTROY_DUMB, &destroy);
	free(d);
}

void drm_allocator_init(struct drm_backend *drm)
{
	drm->allocator = (struct dmab_allocator){ .alloc = dumb_alloc, .free = dumb_free };
	drm->base.allocator = &drm->allocator;
}

uint32_t drm_alloc_handle(const struct drm_backend *drm, const struct dmab_obuf *buf)
{
	if (buf->allocator != &drm->allocator)
		return 0;
	const struct dumb *d = buf->impl_data;
	return d->handle;
}
