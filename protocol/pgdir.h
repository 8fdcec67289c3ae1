/* SPDX-License-Identifier: MIT */
#ifndef DMAB_PROTOCOL_PGDIR_H
#define DMAB_PROTOCOL_PGDIR_H

#include <stdbool.h>
#include <stdint.h>

#include "protocol/wire.h"

/*
 * A displif buffer is described by a chain of page-directory pages
 * (struct xendispl_page_directory): each holds the ref of the next page and
 * up to DMAB_PGDIR_REFS_PER_PAGE refs of the buffer. The number of buffer
 * refs is not sent; it is ceil(buffer_sz / XEN_PAGE_SIZE).
 */
#define DMAB_PGDIR_REFS_PER_PAGE \
	((DMAB_XEN_PAGE_SIZE - offsetof(struct xendispl_page_directory, gref)) / \
		sizeof(grant_ref_t))

/** How the walk reaches the frontend's directory pages. */
struct dmab_pgdir_access {
	/**
	 * Map one directory page of the frontend (writable when asked).
	 * Returns XEN_PAGE_SIZE bytes or NULL (the ref is bad).
	 */
	void *(*map)(void *data, grant_ref_t ref, bool writable);
	void (*unmap)(void *data, void *page);
	void *data;
};

/** Directory pages needed for num_refs buffer refs. */
uint32_t dmab_pgdir_pages(uint32_t num_refs);

/**
 * Read num_refs buffer refs from the chain starting at first into refs.
 * Every page is copied before it is looked at. Errors (-EINVAL, reason filled
 * with DMAB_REASON_LEN bytes at most): a directory page that cannot be
 * mapped, a chain that ends early (next ref 0), loops back on itself, or
 * goes on after the last needed page, and a buffer ref of 0. The walk maps
 * at most dmab_pgdir_pages(num_refs) pages, whatever the frontend wrote.
 */
int dmab_pgdir_read(const struct dmab_pgdir_access *access, grant_ref_t first,
		uint32_t num_refs, grant_ref_t *refs, char *reason);

/**
 * The be-alloc direction: write num_refs refs of a backend buffer into the
 * frontend's chain, whose next-page links the frontend filled in. Same
 * bounds and errors as dmab_pgdir_read(), without the zero-ref check.
 */
int dmab_pgdir_write(const struct dmab_pgdir_access *access, grant_ref_t first,
		uint32_t num_refs, const grant_ref_t *refs, char *reason);

/**
 * Only follow the chain of a directory of num_refs refs, mapping its pages
 * read-only: the checks of dmab_pgdir_write(), before it is worth writing
 * (a backend allocates the buffer in between).
 */
int dmab_pgdir_check_chain(const struct dmab_pgdir_access *access, grant_ref_t first,
		uint32_t num_refs, char *reason);

#endif
