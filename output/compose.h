/* SPDX-License-Identifier: MIT */
/*
 * Composition with pixman: layers drawn onto one image, for what a display
 * cannot show directly, and for screenshots.
 */
#ifndef DMAB_OUTPUT_COMPOSE_H
#define DMAB_OUTPUT_COMPOSE_H

#include <stddef.h>
#include <pixman.h>

#include "output/backend.h"

/**
 * Draw layers bottom to top onto target (black first where clear is true),
 * each layer's src at its dst, blended by its alpha. A layer whose
 * framebuffer has no CPU access is left out; returns how many were.
 */
size_t dmab_compose(pixman_image_t *target, const struct dmab_layer *layers, size_t n,
		bool clear);

/** Bracket CPU reads of buf (dma-buf cache coherency); no-ops for other memory. */
/**
 * Draw src, the image of l's framebuffer, into target as l says (src onto
 * dst, scaled where their sizes differ) with op.
 */
void dmab_compose_image(pixman_image_t *target, pixman_image_t *src,
		const struct dmab_layer *l, pixman_op_t op);

void dmab_obuf_begin_cpu_read(struct dmab_obuf *buf);
void dmab_obuf_end_cpu_read(struct dmab_obuf *buf);

#endif
