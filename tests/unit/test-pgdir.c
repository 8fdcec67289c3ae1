// SPDX-License-Identifier: MIT
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/pgdir.h"
#include "protocol/request.h"

#define NPAGES 256

/* The frontend's granted pages, indexed by grant ref. */
struct fake {
	struct xendispl_page_directory *pages[NPAGES];
	unsigned int maps, unmaps, writable_maps;
};

static void *fake_map(void *data, grant_ref_t ref, bool writable)
{
	struct fake *f = data;
	if (ref >= NPAGES || !f->pages[ref])
		return NULL;
	f->maps++;
	f->writable_maps += writable;
	/* Hand out a copy, as a mapping the walker must not keep would be. */
	void *copy = malloc(4096);
	memcpy(copy, f->pages[ref], 4096);
	return copy;
}

static void fake_unmap(void *data, void *page)
{
	struct fake *f = data;
	f->unmaps++;
	free(page);
}

/* Writable variant: map the page itself so writes land. */
static void *fake_map_direct(void *data, grant_ref_t ref, bool writable)
{
	struct fake *f = data;
	if (ref >= NPAGES || !f->pages[ref])
		return NULL;
	f->maps++;
	f->writable_maps += writable;
	return f->pages[ref];
}

static void fake_unmap_direct(void *data, void *page)
{
	struct fake *f = data;
	f->unmaps++;
}

static struct fake *fake_new(void)
{
	return calloc(1, sizeof(struct fake));
}

static void fake_free(struct fake *f)
{
	for (int i = 0; i < NPAGES; i++)
		free(f->pages[i]);
	free(f);
}

/* Build a directory chain on the given refs, describing refs base.. upwards. */
static void chain(struct fake *f, const grant_ref_t *dirs, unsigned int ndirs,
		uint32_t num_refs, grant_ref_t base)
{
	uint32_t done = 0;
	for (unsigned int i = 0; i < ndirs; i++) {
		struct xendispl_page_directory *d = calloc(1, 4096);
		d->gref_dir_next_page = i + 1 < ndirs ? dirs[i + 1] : 0;
		for (uint32_t j = 0; j < DMAB_PGDIR_REFS_PER_PAGE && done < num_refs; j++)
			d->gref[j] = base + done++;
		free(f->pages[dirs[i]]);
		f->pages[dirs[i]] = d;
	}
}

static struct dmab_pgdir_access access_of(struct fake *f)
{
	return (struct dmab_pgdir_access){ fake_map, fake_unmap, f };
}

static void expect_fail(struct fake *f, grant_ref_t first, uint32_t n, const char *needle)
{
	struct dmab_pgdir_access a = access_of(f);
	char reason[DMAB_REASON_LEN] = "";
	grant_ref_t *refs = calloc(n ? n : 1, sizeof(*refs));
	assert_int_equal(dmab_pgdir_read(&a, first, n, refs, reason), -EINVAL);
	if (!strstr(reason, needle))
		fail_msg("reason \"%s\" does not mention \"%s\"", reason, needle);
	assert_int_equal(f->maps, f->unmaps);
	free(refs);
}

static void sizes(void **state)
{
	assert_int_equal(DMAB_PGDIR_REFS_PER_PAGE, 1023);
	assert_int_equal(dmab_pgdir_pages(1), 1);
	assert_int_equal(dmab_pgdir_pages(1023), 1);
	assert_int_equal(dmab_pgdir_pages(1024), 2);
	assert_int_equal(dmab_pgdir_pages(UINT32_MAX), 4198405);
}

static void read_chains(void **state)
{
	static const uint32_t counts[] = { 1, 300, 1023, 1024, 2046, 3000 };
	for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
		struct fake *f = fake_new();
		grant_ref_t dirs[] = { 10, 3, 200 };
		uint32_t n = counts[c];
		chain(f, dirs, dmab_pgdir_pages(n), n, 100000);
		struct dmab_pgdir_access a = access_of(f);
		char reason[DMAB_REASON_LEN];
		grant_ref_t *refs = calloc(n, sizeof(*refs));
		assert_int_equal(dmab_pgdir_read(&a, 10, n, refs, reason), 0);
		for (uint32_t i = 0; i < n; i++)
			assert_int_equal(refs[i], 100000 + i);
		assert_int_equal(f->maps, dmab_pgdir_pages(n));
		assert_int_equal(f->unmaps, f->maps);
		assert_int_equal(f->writable_maps, 0);
		free(refs);
		fake_free(f);
	}
}

static void read_rejects(void **state)
{
	struct fake *f;
	grant_ref_t two[] = { 10, 11 };
	grant_ref_t one[] = { 10 };

	/* Ends early: one page for 2000 refs. */
	f = fake_new();
	chain(f, one, 1, 2000, 500);
	expect_fail(f, 10, 2000, "ends after 1 of 2");
	fake_free(f);

	/* First ref 0. */
	f = fake_new();
	expect_fail(f, 0, 10, "ends after 0");
	fake_free(f);

	/* A page pointing at itself. */
	f = fake_new();
	chain(f, one, 1, 1023, 500);
	f->pages[10]->gref_dir_next_page = 10;
	expect_fail(f, 10, 3000, "loops back");
	fake_free(f);

	/* A -> B -> A. */
	f = fake_new();
	chain(f, two, 2, 2046, 500);
	f->pages[11]->gref_dir_next_page = 10;
	expect_fail(f, 10, 4000, "loops back");
	fake_free(f);

	/* Goes on after the pages the size needs. */
	f = fake_new();
	chain(f, two, 2, 2046, 500);
	expect_fail(f, 10, 300, "goes on");
	assert_int_equal(f->maps, 1);
	fake_free(f);

	/* A zero buffer ref. */
	f = fake_new();
	chain(f, one, 1, 300, 500);
	f->pages[10]->gref[299] = 0;
	expect_fail(f, 10, 300, "buffer page 299 has ref 0");
	fake_free(f);

	/* A directory ref that cannot be mapped. */
	f = fake_new();
	chain(f, two, 2, 2000, 500);
	f->pages[10]->gref_dir_next_page = 99;
	expect_fail(f, 10, 2000, "ref 99) cannot be mapped");
	fake_free(f);

	f = fake_new();
	expect_fail(f, 10, 0, "no pages");
	fake_free(f);
}

static void read_is_bounded(void **state)
{
	/* A chain of 200 distinct pages, where the size allows 2. */
	struct fake *f = fake_new();
	grant_ref_t dirs[200];
	for (int i = 0; i < 200; i++)
		dirs[i] = (grant_ref_t)(i + 20);
	chain(f, dirs, 200, 200 * 1023, 1);
	expect_fail(f, 20, 2046, "goes on after its 2 pages");
	assert_int_equal(f->maps, 2);
	fake_free(f);

	/* A loop back to the start, longer than 64 pages. */
	f = fake_new();
	chain(f, dirs, 100, 100 * 1023, 1);
	f->pages[dirs[99]]->gref_dir_next_page = dirs[0];
	expect_fail(f, 20, 150 * 1023, "directory page 100 (ref 20) loops back");
	assert_int_equal(f->maps, 100);
	fake_free(f);

	/* A loop among pages past the 64th ends at the size's bound. */
	f = fake_new();
	chain(f, dirs, 100, 100 * 1023, 1);
	f->pages[dirs[99]]->gref_dir_next_page = dirs[80];
	expect_fail(f, 20, 150 * 1023, "goes on after its 150 pages");
	assert_int_equal(f->maps, 150);
	fake_free(f);
}

static void write_chain(void **state)
{
	struct fake *f = fake_new();
	grant_ref_t dirs[] = { 7, 8, 9 };
	chain(f, dirs, 3, 0, 0); /* links only, refs left 0 as be-alloc has them */
	uint32_t n = 2500;
	grant_ref_t *refs = malloc(n * sizeof(*refs));
	for (uint32_t i = 0; i < n; i++)
		refs[i] = 7000 + i;

	struct dmab_pgdir_access a = { fake_map_direct, fake_unmap_direct, f };
	char reason[DMAB_REASON_LEN];
	assert_int_equal(dmab_pgdir_write(&a, 7, n, refs, reason), 0);
	assert_int_equal(f->writable_maps, 3);
	assert_int_equal(f->unmaps, 3);
	assert_int_equal(f->pages[7]->gref[0], 7000);
	assert_int_equal(f->pages[8]->gref[0], 7000 + 1023);
	assert_int_equal(f->pages[9]->gref[2500 - 2047], 7000 + 2499);
	assert_int_equal(f->pages[9]->gref[2500 - 2046], 0);
	/* The frontend's links are left as they were. */
	assert_int_equal(f->pages[7]->gref_dir_next_page, 8);

	/* A short chain fails the same way as for reading. */
	f->pages[8]->gref_dir_next_page = 0;
	f->maps = f->unmaps = 0;
	assert_int_equal(dmab_pgdir_write(&a, 7, n, refs, reason), -EINVAL);
	assert_non_null(strstr(reason, "ends after 2 of 3"));
	assert_int_equal(f->maps, f->unmaps);
	free(refs);
	fake_free(f);
}

/* Before a backend allocates: the chain of a be-alloc directory, read-only, refs 0 and all. */
static void check_chain(void **state)
{
	struct fake *f = fake_new();
	grant_ref_t dirs[] = { 7, 8, 9 };
	chain(f, dirs, 3, 0, 0);
	struct dmab_pgdir_access a = { fake_map_direct, fake_unmap_direct, f };
	char reason[DMAB_REASON_LEN];
	assert_int_equal(dmab_pgdir_check_chain(&a, 7, 2500, reason), 0);
	assert_int_equal(f->maps, 3);
	assert_int_equal(f->writable_maps, 0);
	assert_int_equal(f->pages[7]->gref[0], 0);

	f->pages[9]->gref_dir_next_page = 7;
	assert_int_equal(dmab_pgdir_check_chain(&a, 7, 2500, reason), -EINVAL);
	assert_non_null(strstr(reason, "goes on after its 3 pages"));
	f->pages[8]->gref_dir_next_page = 8;
	assert_int_equal(dmab_pgdir_check_chain(&a, 7, 2500, reason), -EINVAL);
	assert_non_null(strstr(reason, "loops back"));
	f->pages[8]->gref_dir_next_page = 0;
	assert_int_equal(dmab_pgdir_check_chain(&a, 7, 2500, reason), -EINVAL);
	assert_non_null(strstr(reason, "ends after 2 of 3"));
	assert_int_equal(f->maps, f->unmaps);
	fake_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(check_chain),
		cmocka_unit_test(sizes),
		cmocka_unit_test(read_chains),
		cmocka_unit_test(read_rejects),
		cmocka_unit_test(read_is_bounded),
		cmocka_unit_test(write_chain),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
