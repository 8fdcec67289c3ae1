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

void dmab_compose_image(pixman_image_t *target, pixman_image_t *src,
		const struct dmab_layer *l, pixman_op_t op)
{
	if (l->src.width == l->dst.width && l->src.height == l->dst.height) {
		pixman_image_composite32(op, src, NULL, target, l->src.x, l->src.y, 0, 0,
			l->dst.x, l->dst.y, (int32_t)l->dst.width, (int32_t)l->dst.height);
		return;
	}
	/*
	 * Scaled: each target pixel samples the source at its centre mapped
	 * back into src, bilinear, the edges padded rather than faded.
	 */
	pixman_transform_t t;
	pixman_transform_init_identity(&t);
	t.matrix[0][0] = pixman_double_to_fixed((double)l->src.width / l->dst.width);
	t.matrix[0][2] = pixman_int_to_fixed(l->src.x);
	t.matrix[1][1] = pixman_double_to_fixed((double)l->src.height / l->dst.height);
	t.matrix[1][2] = pixman_int_to_fixed(l->src.y);
	pixman_image_set_transform(src, &t);
	pixman_image_set_filter(src, PIXMAN_FILTER_BILINEAR, NULL, 0);
	pixman_image_set_repeat(src, PIXMAN_REPEAT_PAD);
	pixman_image_composite32(op, src, NULL, target, 0, 0, 0, 0, l->dst.x, l->dst.y,
		(int32_t)l->dst.width, (int32_t)l->dst.height);
	/* The image is the framebuffer's, read by others unscaled. */
	pixman_image_set_transform(src, NULL);
	pixman_image_set_filter(src, PIXMAN_FILTER_NEAREST, NULL, 0);
	pixman_image_set_repeat(src, PIXMAN_REPEAT_NONE);
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
		dmab_compose_image(target, src, l, PIXMAN_OP_OVER);
		dmab_obuf_end_cpu_read(l->fb->buffer);
	}
	return skipped;
}
