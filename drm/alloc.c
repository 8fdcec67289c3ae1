// SPDX-License-Identifier: MIT
/*
 * Scanout memory of the device, mapped for the CPU and exported as
 * dma-bufs (be-alloc grants them to guests; composition draws into them).
 *
 * A guest writes a buffer at its own pitch and the grants cover whole
 * pages: a buffer must be exactly the pages asked for, with rows where the
 * guest puts them. GBM (Mesa) is asked first, for a linear scanout buffer
 * of the guest's size and format, and its buffer kept only if it has that
 * layout; otherwise (no GBM, no Mesa driver for the device, a driver that
 * pads rows or sizes) a dumb buffer of page rows of 8-bit pixels, exactly
 * the size asked, whose framebuffers give the guest's own pitch.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#ifdef DMAB_HAVE_GBM
#include <gbm.h>
#endif

#include "common/log.h"
#include "drm/drm-impl.h"

struct drm_buffer {
	uint32_t handle;
	size_t map_size;
	void *bo;               /* struct gbm_bo, or NULL: a dumb buffer */
};

static struct drm_backend *backend_of(const struct dmab_allocator *alloc)
{
	return wl_container_of(alloc, (struct drm_backend *)NULL, allocator);
}

static size_t page_round(size_t size)
{
	return (size + 4095) & ~(size_t)4095;
}

#ifdef DMAB_HAVE_GBM
static uint32_t gbm_format_of(uint32_t bpp)
{
	switch (bpp) {
	case 32: return GBM_FORMAT_XRGB8888;
	case 24: return GBM_FORMAT_RGB888;
	case 16: return GBM_FORMAT_RGB565;
	case 8: return GBM_FORMAT_R8;
	default: return 0;
	}
}

/*
 * A linear scanout buffer from GBM with the guest's layout: 0, or why not
 * (*why for the log, once per reason).
 */
static int gbm_try(struct drm_backend *drm, uint32_t width, uint32_t height, uint32_t bpp,
		uint32_t stride, size_t size, struct dmab_obuf *buf, const char **why)
{
	uint32_t format = gbm_format_of(bpp);
	if (!format) {
		*why = "GBM has no format of this depth";
		return -ENOTSUP;
	}
	struct gbm_bo *bo = gbm_bo_create(drm->gbm, width, height, format,
		GBM_BO_USE_SCANOUT | GBM_BO_USE_LINEAR);
	if (!bo) {
		*why = "GBM cannot make a linear scanout buffer of this format";
		return -errno ? -errno : -ENOMEM;
	}
	int ret = 0;
	int fd = -1;
	void *cpu = MAP_FAILED;
	uint32_t handle = gbm_bo_get_handle(bo).u32;
	if (gbm_bo_get_stride(bo) != stride || gbm_bo_get_offset(bo, 0) != 0) {
		*why = "GBM pads rows where the guest does not";
		ret = -EINVAL;
	}
	/* Exported here, read-write (GBM's own export may be read-only). */
	if (ret == 0 && drmPrimeHandleToFD(drm->fd, handle, DRM_CLOEXEC | DRM_RDWR, &fd)) {
		*why = "GBM's buffer cannot be exported";
		ret = -errno;
	}
	if (ret == 0 && (size_t)lseek(fd, 0, SEEK_END) != size) {
		*why = "GBM's buffer is larger than the guest's pages";
		ret = -EINVAL;
	}
	if (ret == 0) {
		cpu = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (cpu == MAP_FAILED) {
			*why = "GBM's buffer cannot be mapped";
			ret = -errno;
		}
	}
	struct drm_buffer *b = ret == 0 ? calloc(1, sizeof(*b)) : NULL;
	if (ret == 0 && !b)
		ret = -ENOMEM;
	if (ret) {
		if (cpu != MAP_FAILED)
			munmap(cpu, size);
		if (fd >= 0)
			close(fd);
		gbm_bo_destroy(bo);
		return ret;
	}
	*b = (struct drm_buffer){ .handle = handle, .map_size = size, .bo = bo };
	buf->fd = fd;
	buf->cpu = cpu;
	buf->size = size;
	buf->impl_data = b;
	buf->memory = "gbm";
	return 0;
}
#endif

static int dumb_alloc(struct drm_backend *drm, size_t size, struct dmab_obuf *buf)
{
	if (size / 4096 > UINT32_MAX)
		return -EINVAL;
	struct drm_mode_create_dumb create = {
		.width = 4096,
		.height = (uint32_t)(size / 4096),
		.bpp = 8,
	};
	if (drmIoctl(drm->fd, DRM_IOCTL_MODE_CREATE_DUMB, &create))
		return -errno;
	struct drm_buffer *b = calloc(1, sizeof(*b));
	int ret = b ? 0 : -ENOMEM;
	int fd = -1;
	void *cpu = MAP_FAILED;
	/* A driver that pads rows or pages makes more than asked: not grantable. */
	if (ret == 0 && create.size != size)
		ret = -EINVAL;
	struct drm_mode_map_dumb map = { .handle = create.handle };
	if (ret == 0 && drmIoctl(drm->fd, DRM_IOCTL_MODE_MAP_DUMB, &map))
		ret = -errno;
	if (ret == 0) {
		cpu = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, drm->fd,
			(off_t)map.offset);
		if (cpu == MAP_FAILED)
			ret = -errno;
	}
	if (ret == 0 && drmPrimeHandleToFD(drm->fd, create.handle, DRM_CLOEXEC | DRM_RDWR, &fd))
		ret = -errno;
	if (ret) {
		if (cpu != MAP_FAILED)
			munmap(cpu, size);
		struct drm_mode_destroy_dumb destroy = { .handle = create.handle };
		drmIoctl(drm->fd, DRM_IOCTL_MODE_DESTROY_DUMB, &destroy);
		free(b);
		return ret;
	}
	*b = (struct drm_buffer){ .handle = create.handle, .map_size = size };
	buf->fd = fd;
	buf->cpu = cpu;
	buf->size = size;
	buf->impl_data = b;
	buf->memory = "dumb";
	return 0;
}

static int drm_alloc(const struct dmab_allocator *alloc, uint32_t width, uint32_t height,
		uint32_t bpp, uint32_t *stride, size_t size, struct dmab_obuf *buf)
{
	struct drm_backend *drm = backend_of(alloc);
	size = page_round(size);
	if (*stride == 0 || size == 0)
		return -EINVAL;
#ifdef DMAB_HAVE_GBM
	if (drm->gbm) {
		const char *why = NULL;
		int ret = gbm_try(drm, width, height, bpp, *stride, size, buf, &why);
		if (ret == 0)
			return 0;
		/* Said once per reason: a guest asks again at every mode. */
		if (why != drm->gbm_refused) {
			drm->gbm_refused = why;
			dmab_log(DMAB_LOG_INFO, "%s: a host buffer of %ux%u at %u bpp from dumb "
				"buffers: %s", drm->path, width, height, bpp, why);
		}
	}
#endif
	return dumb_alloc(drm, size, buf);
}

static void drm_free(const struct dmab_allocator *alloc, struct dmab_obuf *buf)
{
	struct drm_backend *drm = backend_of(alloc);
	struct drm_buffer *b = buf->impl_data;
	munmap(buf->cpu, b->map_size);
	close(buf->fd);
#ifdef DMAB_HAVE_GBM
	if (b->bo) {
		gbm_bo_destroy(b->bo);
		free(b);
		return;
	}
#endif
	struct drm_mode_destroy_dumb destroy = { .handle = b->handle };
	drmIoctl(drm->fd, DRM_IOCTL_MODE_DESTROY_DUMB, &destroy);
	free(b);
}

void drm_allocator_init(struct drm_backend *drm)
{
	drm->allocator = (struct dmab_allocator){ .alloc = drm_alloc, .free = drm_free };
	drm->base.allocator = &drm->allocator;
#ifdef DMAB_HAVE_GBM
	drm->gbm = gbm_create_device(drm->fd);
	if (drm->gbm)
		dmab_log(DMAB_LOG_INFO, "%s: host buffers from GBM (%s) where the guest's layout "
			"allows, else dumb buffers", drm->path, gbm_device_get_backend_name(drm->gbm));
	else
		dmab_log(DMAB_LOG_INFO, "%s: no GBM driver for this device: host buffers are "
			"dumb buffers", drm->path);
#endif
}

void drm_allocator_finish(struct drm_backend *drm)
{
#ifdef DMAB_HAVE_GBM
	if (drm->gbm)
		gbm_device_destroy(drm->gbm);
	drm->gbm = NULL;
#endif
}

uint32_t drm_alloc_handle(const struct drm_backend *drm, const struct dmab_obuf *buf)
{
	if (buf->allocator != &drm->allocator)
		return 0;
	const struct drm_buffer *b = buf->impl_data;
	return b->handle;
}
