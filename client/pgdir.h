/* SPDX-License-Identifier: MIT */
/*
 * The frontend's page directories (struct xendispl_page_directory chains,
 * see protocol/pgdir.h), pure code. The directory pages are one contiguous
 * mapping of dir_pages pages whose grant refs are dir_refs; page i links to
 * page i + 1, the last one to 0.
 */
#ifndef DMAB_CLIENT_PGDIR_H
#define DMAB_CLIENT_PGDIR_H

#include <stddef.h> /* protocol/pgdir.h uses offsetof */
#include <stdint.h>

#include "protocol/pgdir.h"

/**
 * Write the chain: the next-page links, and refs[num_refs] of the buffer
 * (refs NULL: leave them 0 for the backend to fill, be-alloc).
 * dir_pages must be dmab_pgdir_pages(num_refs).
 */
void dmab_fe_pgdir_fill(void *dir, uint32_t dir_pages,
		const grant_ref_t *dir_refs, const grant_ref_t *refs,
		uint32_t num_refs);

/**
 * Copy the num_refs buffer refs the backend wrote into the chain (be-alloc),
 * each read once. Returns 0, or -EPROTO if one of them is 0 (the backend did
 * not fill the directory).
 */
int dmab_fe_pgdir_read(const void *dir, uint32_t dir_pages,
		grant_ref_t *refs, uint32_t num_refs);

#endif
