// SPDX-License-Identifier: MIT
/*
 * The output layer's own allocator, for what no backend allocates: the
 * best shareable memory the host has. A system-heap dma-buf can be scanned
 * out by a display that vmaps (vkms) and granted to guests; a udmabuf over
 * a sealed memfd can be granted and imported; a bare sealed memfd only
 * serves the simulator, which takes memfds where a dma-buf is due.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/udmabuf.h>

#include "common/memory.h"
#include "output/output-impl.h"

struct system_buffer {
	size_t map_size;
	int memfd;              /* under a udmabuf, else -1 */
};

static size_t page_round(size_t size)
{
	return (size + 4095) & ~(size_t)4095;
}

static int udmabuf_over(int memfd, size_t size)
{
	int dev = open("/dev/udmabuf", O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return -errno;
	struct udmabuf_create create = {
		.memfd = (uint32_t)memfd,
		.flags = UDMABUF_FLAGS_CLOEXEC,
		.offset = 0,
		.size = size,
	};
	int ret = ioctl(dev, UDMABUF_CREATE, &create);
	ret = ret < 0 ? -errno : ret;
	close(dev);
	return ret;
}

static int system_alloc(const struct dmab_allocator *alloc, uint32_t width, uint32_t height,
		uint32_t bpp, uint32_t *stride, size_t size, struct dmab_obuf *buf)
{
	struct system_buffer *sb = calloc(1, sizeof(*sb));
	if (!sb)
		return -ENOMEM;
	sb->memfd = -1;
	size = page_round(size);

	int map_fd = dmab_heap_alloc(size);
	int fd = map_fd;
	const char *memory = "dma-buf heap";
	if (fd < 0) {
		sb->memfd = dmab_sealed_memfd("dmabridge-output", size);
		if (sb->memfd < 0) {
			int err = sb->memfd;
			free(sb);
			return err;
		}
		map_fd = sb->memfd;
		fd = udmabuf_over(sb->memfd, size);
		memory = "udmabuf";
		if (fd < 0) {
			fd = sb->memfd;
			sb->memfd = -1;
			memory = "memfd";
		}
	}
	void *cpu = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0);
	if (cpu == MAP_FAILED) {
		int err = -errno;
		close(fd);
		if (sb->memfd >= 0)
			close(sb->memfd);
		free(sb);
		return err;
	}
	sb->map_size = size;
	buf->memory = memory;
	buf->fd = fd;
	buf->cpu = cpu;
	buf->size = size;
	buf->impl_data = sb;
	return 0;
}

static void system_free(const struct dmab_allocator *alloc, struct dmab_obuf *buf)
{
	struct system_buffer *sb = buf->impl_data;
	munmap(buf->cpu, sb->map_size);
	close(buf->fd);
	if (sb->memfd >= 0)
		close(sb->memfd);
	free(sb);
}

const struct dmab_allocator dmab_system_allocator = {
	.alloc = system_alloc,
	.free = system_free,
};
