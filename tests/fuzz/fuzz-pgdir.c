// SPDX-License-Identifier: MIT
/*
 * The page-directory walk over a frontend's pages that say anything: each
 * fuzz chunk becomes one directory page (refs 1..NPAGES), with links
 * folded onto small refs so chains, loops and dead ends all happen.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/pgdir.h"
#include "protocol/request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NPAGES 16
#define CHUNK 32

struct world {
	uint8_t pages[NPAGES + 1][DMAB_XEN_PAGE_SIZE];
	bool present[NPAGES + 1];
	int mapped;
};

static void *map(void *data, grant_ref_t ref, bool writable)
{
	struct world *w = data;
	if (ref > NPAGES || !w->present[ref])
		return NULL;
	w->mapped++;
	return w->pages[ref];
}

static void unmap(void *data, void *page)
{
	struct world *w = data;
	w->mapped--;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct world w;
	if (size < 4)
		return -1;

	uint32_t num_refs = (uint32_t)data[0] << 8 | data[1];
	grant_ref_t first = data[2] % (NPAGES + 2);
	bool writing = data[3] & 1;
	data += 4;
	size -= 4;

	memset(&w, 0, sizeof(w));
	for (int p = 1; p <= NPAGES && size >= CHUNK; p++, data += CHUNK, size -= CHUNK) {
		w.present[p] = data[0] != 0xff;
		struct xendispl_page_directory *dir = (void *)w.pages[p];
		dir->gref_dir_next_page = data[1] % (NPAGES + 2);
		for (uint32_t i = 0; i < DMAB_PGDIR_REFS_PER_PAGE; i++)
			dir->gref[i] = data[2 + i % (CHUNK - 2)];
	}

	grant_ref_t *refs = calloc(num_refs ? num_refs : 1, sizeof(*refs));
	char reason[DMAB_REASON_LEN];
	struct dmab_pgdir_access access = { map, unmap, &w };
	int ret = writing ?
		dmab_pgdir_write(&access, first, num_refs, refs, reason) :
		dmab_pgdir_read(&access, first, num_refs, refs, reason);
	if (w.mapped != 0)
		__builtin_trap();
	if (ret == 0 && !writing) {
		for (uint32_t i = 0; i < num_refs; i++) {
			if (refs[i] == 0)
				__builtin_trap();
		}
	}
	free(refs);
	return 0;
}
