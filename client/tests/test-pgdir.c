// SPDX-License-Identifier: MIT
/*
 * The frontend's directories, walked by the backend's code
 * (protocol/pgdir.c) over local pages standing in for grants.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client/pgdir.h"
#include "protocol/request.h"

#define FIRST_REF 100u

/* dir_pages pages, granted as refs FIRST_REF.. */
struct dir {
	uint8_t *pages;
	uint32_t count;
	grant_ref_t *refs;
};

static void dir_init(struct dir *d, uint32_t count)
{
	d->count = count;
	d->pages = aligned_alloc(4096, (size_t)count * 4096);
	memset(d->pages, 0xcc, (size_t)count * 4096);
	d->refs = calloc(count, sizeof(*d->refs));
	/* Not in order: the chain must follow the links, not the layout. */
	for (uint32_t i = 0; i < count; i++)
		d->refs[i] = FIRST_REF + (i * 7919u) % 100003u;
}

static void dir_finish(struct dir *d)
{
	free(d->pages);
	free(d->refs);
}

static void *map(void *data, grant_ref_t ref, bool writable)
{
	struct dir *d = data;
	for (uint32_t i = 0; i < d->count; i++) {
		if (d->refs[i] == ref)
			return d->pages + (size_t)i * 4096;
	}
	return NULL;
}

static void unmap(void *data, void *page)
{
}

static const uint32_t sizes[] = {
	1, 2, DMAB_PGDIR_REFS_PER_PAGE - 1, DMAB_PGDIR_REFS_PER_PAGE,
	DMAB_PGDIR_REFS_PER_PAGE + 1, 3 * DMAB_PGDIR_REFS_PER_PAGE + 5,
	/* 1920x1080 XRGB8888 */
	2025,
};

static void test_guest_alloc(void **state)
{
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		uint32_t n = sizes[s];
		struct dir d;
		dir_init(&d, dmab_pgdir_pages(n));
		grant_ref_t *refs = calloc(n, sizeof(*refs)), *got = calloc(n, sizeof(*got));
		for (uint32_t i = 0; i < n; i++)
			refs[i] = 5000 + i;

		dmab_fe_pgdir_fill(d.pages, d.count, d.refs, refs, n);
		struct dmab_pgdir_access access = { map, unmap, &d };
		char reason[DMAB_REASON_LEN];
		assert_int_equal(dmab_pgdir_read(&access, d.refs[0], n, got, reason), 0);
		assert_memory_equal(refs, got, n * sizeof(*refs));

		free(refs);
		free(got);
		dir_finish(&d);
	}
}

static void test_be_alloc(void **state)
{
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		uint32_t n = sizes[s];
		struct dir d;
		dir_init(&d, dmab_pgdir_pages(n));
		grant_ref_t *refs = calloc(n, sizeof(*refs)), *got = calloc(n, sizeof(*got));
		for (uint32_t i = 0; i < n; i++)
			refs[i] = 9000 + i;

		/* Links only; the refs are the backend's to write. */
		dmab_fe_pgdir_fill(d.pages, d.count, d.refs, NULL, n);
		assert_int_equal(dmab_fe_pgdir_read(d.pages, d.count, got, n), -EPROTO);

		struct dmab_pgdir_access access = { map, unmap, &d };
		char reason[DMAB_REASON_LEN];
		assert_int_equal(dmab_pgdir_write(&access, d.refs[0], n, refs, reason), 0);
		assert_int_equal(dmab_fe_pgdir_read(d.pages, d.count, got, n), 0);
		assert_memory_equal(refs, got, n * sizeof(*refs));

		/* One the backend forgot. */
		struct xendispl_page_directory *last = (void *)(d.pages + (size_t)(d.count - 1) * 4096);
		last->gref[(n - 1) % DMAB_PGDIR_REFS_PER_PAGE] = 0;
		assert_int_equal(dmab_fe_pgdir_read(d.pages, d.count, got, n), -EPROTO);

		free(refs);
		free(got);
		dir_finish(&d);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_guest_alloc),
		cmocka_unit_test(test_be_alloc),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
