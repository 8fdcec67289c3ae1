// SPDX-License-Identifier: MIT
#include <errno.h>
#include <string.h>

#include "client/pgdir.h"

static struct xendispl_page_directory *dir_page(const void *dir, uint32_t i)
{
	return (struct xendispl_page_directory *)
		((uintptr_t)dir + (size_t)i * DMAB_XEN_PAGE_SIZE);
}

void dmab_fe_pgdir_fill(void *dir, uint32_t dir_pages,
		const grant_ref_t *dir_refs, const grant_ref_t *refs,
		uint32_t num_refs)
{
	uint32_t done = 0;

	for (uint32_t i = 0; i < dir_pages; i++) {
		struct xendispl_page_directory *page = dir_page(dir, i);
		uint32_t n = num_refs - done;
		if (n > DMAB_PGDIR_REFS_PER_PAGE)
			n = DMAB_PGDIR_REFS_PER_PAGE;

		memset(page, 0, DMAB_XEN_PAGE_SIZE);
		page->gref_dir_next_page = i + 1 < dir_pages ? dir_refs[i + 1] : 0;
		if (refs)
			memcpy(page->gref, refs + done, n * sizeof(grant_ref_t));
		done += n;
	}
}

int dmab_fe_pgdir_read(const void *dir, uint32_t dir_pages,
		grant_ref_t *refs, uint32_t num_refs)
{
	uint32_t done = 0;

	for (uint32_t i = 0; i < dir_pages && done < num_refs; i++) {
		const struct xendispl_page_directory *page = dir_page(dir, i);
		uint32_t n = num_refs - done;
		if (n > DMAB_PGDIR_REFS_PER_PAGE)
			n = DMAB_PGDIR_REFS_PER_PAGE;
		memcpy(refs + done, page->gref, n * sizeof(grant_ref_t));
		done += n;
	}
	if (done < num_refs)
		return -EINVAL;
	/* Checked in the copy: the backend may still write the pages. */
	for (uint32_t i = 0; i < num_refs; i++) {
		if (refs[i] == 0)
			return -EPROTO;
	}
	return 0;
}
