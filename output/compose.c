// SPDX-License-Identifier: MIT
#include <sys/ioctl.h>
#include <linux/dma-buf.h>

#include "output/compose.h"

static void sync(struct dmab_obuf *buf, uint64_t flags)
{
	if (buf->fd < 0 || !buf->cpu)
		return;
	struct dma_buf_sync s = { .flags = flags | DMA_BUF_SYNC_READ };
	/* Not a dma-buf (a memfd on the simulator): nothing to sync. */
	ioctl(buf->fd, DMA_BUF_IOCTL_SYNC, &s);
}

void dmab_obuf_begin_cpu_read(struct dmab_obuf *buf)
{
	sync(buf, DMA_BUF_SYNC_START);
}

void dmab_obuf_end_cpu_read(struct dmab_obuf *buf)
{
	sync(buf, DMA_BUF_SYNC_END);
}

size_t dmab_compose(pixman_image_t *target, const struct dmab_layer *layers, size_t n,
		bool clear)
{
	if (clear) {
		pixman_color_t black = { 0, 0, 0, 0xffff };
		pixman_box32_t all = { 0, 0, pixman_image_get_width(target),
			pixman_image_get_height(target) };
		pixman_image_fill_boxes(PIXMAN_OP_SRC, target, &black, 1, &all);
	}
	size_t skipped = 0;
	for (size_t i = 0; i < n; i++) {
		const struct dmab_layer *l = &layers[i];
		dmab_obuf_begin_cpu_read(l->fb->buffer);
		pixman_image_t *src = dmab_ofb_read_image(l->fb);
		if (!src) {
			dmab_obuf_end_cpu_read(l->fb->buffer);
			skipped++;
			continue;
		}
		pixman_image_composite32(PIXMAN_OP_OVER, src, NULL, target, l->src.x, l->src.y,
			0, 0, l->dst.x, l->dst.y, (int32_t)l->dst.width, (int32_t)l->dst.height);
		dmab_obuf_end_cpu_read(l->fb->buffer);
	}
	return skipped;
}
