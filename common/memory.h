/* SPDX-License-Identifier: MIT */
/* Shareable memory: what a guest shares and what a display scans out. */
#ifndef DMAB_COMMON_MEMORY_H
#define DMAB_COMMON_MEMORY_H

#include <stddef.h>

/**
 * A dma-buf of size octets from the system heap (/dev/dma_heap/system):
 * mappable and, unlike udmabuf in Linux 6.1, vmap-able, so a display can
 * scan it out. The fd (O_RDWR, close-on-exec) or -errno (-ENOENT without
 * the heap).
 */
int dmab_heap_alloc(size_t size);

/**
 * A memfd of size octets sealed against shrinking, growing and further
 * seals: whoever maps it can never lose pages under the mapping, nor be
 * sealed out of writing it. The fd or -errno.
 */
int dmab_sealed_memfd(const char *name, size_t size);

#endif
