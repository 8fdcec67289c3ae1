// SPDX-License-Identifier: MIT
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "protocol/pgdir.h"
#include "protocol/request.h"

__attribute__((format(printf, 2, 3)))
static int fail(char *reason, const char *fmt, ...)
{
	va_list args;
	va_start(args, fmt);
	vsnprintf(reason, DMAB_REASON_LEN, fmt, args);
	va_end(args);
	return -EINVAL;
}

uint32_t dmab_pgdir_pages(uint32_t num_refs)
{
	return (uint32_t)(((uint64_t)num_refs + DMAB_PGDIR_REFS_PER_PAGE - 1) /
		DMAB_PGDIR_REFS_PER_PAGE);
}

static bool seen(const grant_ref_t *visited, uint32_t n, grant_ref_t ref)
{
	for (uint32_t i = 0; i < n; i++) {
		if (visited[i] == ref)
			return true;
	}
	return false;
}

/*
 * One walk for both directions: refs_in is NULL when reading. The number of
 * pages the size allows bounds the walk; a loop back into the first 64
 * pages is named as such, any other ends at that bound.
 */
static int walk(const struct dmab_pgdir_access *access, grant_ref_t first,
		uint32_t num_refs, grant_ref_t *refs_out, const grant_ref_t *refs_in,
		char *reason)
{
	uint32_t pages = dmab_pgdir_pages(num_refs);
	grant_ref_t visited[64];
	uint32_t done = 0;
	grant_ref_t ref = first;

	if (num_refs == 0)
		return fail(reason, "a buffer of no pages");

	for (uint32_t p = 0; p < pages; p++) {
		if (ref == 0)
			return fail(reason, "directory ends after %" PRIu32 " of %" PRIu32
				" pages", p, pages);
		if (seen(visited, p < 64 ? p : 64, ref))
			return fail(reason, "directory page %" PRIu32 " (ref %" PRIu32
				") loops back", p, ref);
		if (p < 64)
			visited[p] = ref;

		struct xendispl_page_directory *dir = access->map(access->data, ref, refs_in != NULL);
		if (!dir)
			return fail(reason, "directory page %" PRIu32 " (ref %" PRIu32
				") cannot be mapped", p, ref);

		uint32_t n = num_refs - done;
		if (n > DMAB_PGDIR_REFS_PER_PAGE)
			n = DMAB_PGDIR_REFS_PER_PAGE;

		grant_ref_t next = __atomic_load_n(&dir->gref_dir_next_page, __ATOMIC_RELAXED);
		if (refs_in)
			memcpy(dir->gref, refs_in + done, n * sizeof(grant_ref_t));
		else if (refs_out)
			memcpy(refs_out + done, dir->gref, n * sizeof(grant_ref_t));
		access->unmap(access->data, dir);

		if (refs_out) {
			for (uint32_t i = 0; i < n; i++) {
				if (refs_out[done + i] == 0)
					return fail(reason, "buffer page %" PRIu32 " has ref 0",
						done + i);
			}
		}
		done += n;
		ref = next;
	}

	if (ref != 0)
		return fail(reason, "directory goes on after its %" PRIu32
			" pages (next ref %" PRIu32 ")", pages, ref);
	return 0;
}

int dmab_pgdir_read(const struct dmab_pgdir_access *access, grant_ref_t first,
		uint32_t num_refs, grant_ref_t *refs, char *reason)
{
	return walk(access, first, num_refs, refs, NULL, reason);
}

int dmab_pgdir_write(const struct dmab_pgdir_access *access, grant_ref_t first,
		uint32_t num_refs, const grant_ref_t *refs, char *reason)
{
	return walk(access, first, num_refs, NULL, refs, reason);
}

int dmab_pgdir_check_chain(const struct dmab_pgdir_access *access, grant_ref_t first,
		uint32_t num_refs, char *reason)
{
	return walk(access, first, num_refs, NULL, NULL, reason);
}
