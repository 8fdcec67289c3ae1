// SPDX-License-Identifier: MIT
/* common/: rate limits of log lines. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <time.h>

#include "common/log.h"

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

/* How many of n lines one limit lets through now. */
static unsigned int allowed(struct dmab_ratelimit *rl, unsigned int n)
{
	unsigned int yes = 0;
	for (unsigned int i = 0; i < n; i++)
		yes += dmab_ratelimit_allow(rl, NULL);
	return yes;
}

static void ratelimit_window(void **state)
{
	struct dmab_ratelimit rl = { .interval_ms = 200, .burst = 3 };
	uint32_t dropped = 99;
	assert_true(dmab_ratelimit_allow(&rl, &dropped));
	assert_int_equal(dropped, 0);
	assert_int_equal(allowed(&rl, 10), 2);
	/* The next window's first line says how many were held back. */
	sleep_ms(250);
	assert_true(dmab_ratelimit_allow(&rl, &dropped));
	assert_int_equal(dropped, 8);
	assert_true(dmab_ratelimit_allow(&rl, &dropped));
	assert_int_equal(dropped, 0);
}

static void ratelimit_parent(void **state)
{
	struct dmab_ratelimit all = { .interval_ms = 60000, .burst = 4 };
	struct dmab_ratelimit a = { .interval_ms = 60000, .burst = 3, .parent = &all };
	struct dmab_ratelimit b = a;
	assert_int_equal(allowed(&a, 10), 3);
	/* Room for one more over both. */
	assert_int_equal(allowed(&b, 10), 1);
	/* What the parent held back is counted where the line came from. */
	assert_int_equal(b.suppressed, 9);
	assert_int_equal(a.suppressed, 7);
}

static void table_keys(void **state)
{
	const struct dmab_ratelimit per_key[2] = {
		{ .interval_ms = 60000, .burst = 2 },
		{ .interval_ms = 60000, .burst = 5 },
	};
	const struct dmab_ratelimit all[2] = {
		{ .interval_ms = 60000, .burst = 100 },
		{ .interval_ms = 60000, .burst = 100 },
	};
	struct dmab_ratelimit_table *t = dmab_ratelimit_table_create(2, 2, per_key, all);
	assert_non_null(t);

	/* A key's limit is the same one however often it is asked for: it lasts. */
	assert_int_equal(allowed(dmab_ratelimit_table_get(t, 7, 0), 1), 1);
	assert_int_equal(allowed(dmab_ratelimit_table_get(t, 7, 0), 5), 1);
	/* Classes apart, keys apart. */
	assert_int_equal(allowed(dmab_ratelimit_table_get(t, 7, 1), 10), 5);
	assert_int_equal(allowed(dmab_ratelimit_table_get(t, 8, 0), 10), 2);

	/* A third key takes the place of the one used longest ago (7). */
	dmab_ratelimit_table_get(t, 8, 1);
	assert_int_equal(allowed(dmab_ratelimit_table_get(t, 9, 0), 10), 2);
	assert_int_equal(allowed(dmab_ratelimit_table_get(t, 8, 0), 10), 0);
	assert_int_equal(allowed(dmab_ratelimit_table_get(t, 7, 0), 10), 2);
	dmab_ratelimit_table_destroy(t);
	dmab_ratelimit_table_destroy(NULL);
}

static void table_all_keys(void **state)
{
	const struct dmab_ratelimit per_key = { .interval_ms = 60000, .burst = 10 };
	const struct dmab_ratelimit all = { .interval_ms = 60000, .burst = 25 };
	struct dmab_ratelimit_table *t = dmab_ratelimit_table_create(64, 1, &per_key, &all);
	assert_non_null(t);
	/* Many keys, each within its own limit: together no more than the limit over all. */
	unsigned int yes = 0;
	for (uint64_t key = 0; key < 50; key++)
		yes += allowed(dmab_ratelimit_table_get(t, key, 0), 10);
	assert_int_equal(yes, 25);
	dmab_ratelimit_table_destroy(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ratelimit_window),
		cmocka_unit_test(ratelimit_parent),
		cmocka_unit_test(table_keys),
		cmocka_unit_test(table_all_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
