// SPDX-License-Identifier: MIT
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hv/sim/store.h"

#define NO_TX DMAB_SIM_STORE_NO_TX
#define P_NONE DMAB_SIM_STORE_PERM_NONE
#define P_READ DMAB_SIM_STORE_PERM_READ
#define P_WRITE DMAB_SIM_STORE_PERM_WRITE
#define P_BOTH DMAB_SIM_STORE_PERM_BOTH
#define ANY DMAB_SIM_STORE_DOMID_ANY

#define MAX_EVENTS 256

/* Two connections to tell watches apart by. */
static int conn_a, conn_b;
#define CA ((void *)&conn_a)
#define CB ((void *)&conn_b)

struct event {
	void *conn;
	char *path;
	char *token;
};

struct fixture {
	struct dmab_sim_store *store;
	struct event events[MAX_EVENTS];
	unsigned int count;
	/* Runs inside the fire callback, after the event is recorded. */
	void (*hook)(struct fixture *f, const struct event *e);
	int hook_calls;
	char *hook_seen;
};

static void on_fire(void *user, void *conn, const char *path, const char *token)
{
	struct fixture *f = user;
	struct event *e;

	assert_true(f->count < MAX_EVENTS);
	e = &f->events[f->count++];
	e->conn = conn;
	e->path = strdup(path);
	e->token = strdup(token);
	assert_non_null(e->path);
	assert_non_null(e->token);
	if (f->hook)
		f->hook(f, e);
}

static void clear_events(struct fixture *f)
{
	for (unsigned int i = 0; i < f->count; i++) {
		free(f->events[i].path);
		free(f->events[i].token);
	}
	f->count = 0;
}

static int setup_with(void **state, const struct dmab_sim_store_limits *limits)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->store = dmab_sim_store_create(limits, on_fire, f);
	if (!f->store) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_with(state, NULL);
}

static int setup_small(void **state)
{
	static const struct dmab_sim_store_limits small = {
		.max_nodes = 5,
		.max_watches = 3,
		.max_transactions = 2,
		.max_tx_nodes = 8,
		.max_perms = 3,
	};

	return setup_with(state, &small);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	clear_events(f);
	dmab_sim_store_destroy(f->store);
	free(f->hook_seen);
	free(f);
	return 0;
}

/* ---- helpers ---- */

static int wr(struct fixture *f, uint16_t dom, uint32_t tx, const char *path,
		const char *value)
{
	return dmab_sim_store_write(f->store, dom, tx, path, value, strlen(value));
}

static int rd(struct fixture *f, uint16_t dom, uint32_t tx, const char *path)
{
	char *value = NULL;
	int ret = dmab_sim_store_read(f->store, dom, tx, path, &value, NULL);

	free(value);
	return ret;
}

static void assert_value(struct fixture *f, uint16_t dom, uint32_t tx,
		const char *path, const char *expected)
{
	char *value = NULL;
	size_t len = 0;

	assert_int_equal(dmab_sim_store_read(f->store, dom, tx, path, &value, &len), 0);
	assert_non_null(value);
	assert_int_equal(len, strlen(expected));
	assert_string_equal(value, expected);
	free(value);
}

static void set_perms(struct fixture *f, uint16_t dom, const char *path,
		const struct dmab_sim_store_perm *perms, unsigned int count)
{
	assert_int_equal(dmab_sim_store_set_perms(f->store, dom, NO_TX, path,
		perms, count), 0);
}

/* What libxl does for a guest: dom0 creates its home and gives it away. */
static void make_home(struct fixture *f, uint16_t domid)
{
	char path[64];
	struct dmab_sim_store_perm perm = { domid, P_NONE };

	snprintf(path, sizeof(path), "/local/domain/%u", (unsigned int)domid);
	assert_int_equal(dmab_sim_store_mkdir(f->store, 0, NO_TX, path), 0);
	set_perms(f, 0, path, &perm, 1);
}

static unsigned int count_events(const struct fixture *f, void *conn,
		const char *path, const char *token)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < f->count; i++) {
		const struct event *e = &f->events[i];

		if (e->conn == conn && strcmp(e->path, path) == 0 &&
		    strcmp(e->token, token) == 0)
			n++;
	}
	return n;
}

/* Index of the first event with token, or -1. */
static int find_token(const struct fixture *f, const char *token)
{
	for (unsigned int i = 0; i < f->count; i++) {
		if (strcmp(f->events[i].token, token) == 0)
			return (int)i;
	}
	return -1;
}

static void watch(struct fixture *f, uint16_t dom, void *conn,
		const char *path, const char *token)
{
	assert_int_equal(dmab_sim_store_watch(f->store, dom, conn, path, token), 0);
}

static void assert_children(struct fixture *f, uint16_t dom, uint32_t tx,
		const char *path, const char *const *expected, unsigned int n)
{
	char **names = NULL;
	unsigned int count = 99;

	assert_int_equal(dmab_sim_store_directory(f->store, dom, tx, path,
		&names, &count), 0);
	assert_int_equal(count, n);
	for (unsigned int i = 0; i < n; i++)
		assert_string_equal(names[i], expected[i]);
	assert_null(names[n]);
	free(names);
}

/* ------------------------------------------------------------------ paths */

static void test_create_destroy(void **state)
{
	struct fixture *f = *state;
	struct dmab_sim_store_perm *perms = NULL;
	unsigned int count = 0;

	dmab_sim_store_destroy(NULL);
	assert_null(dmab_sim_store_create(NULL, NULL, NULL));
	/* The root exists, readable by dom0 only, empty. */
	assert_value(f, 0, NO_TX, "/", "");
	assert_int_equal(rd(f, 5, NO_TX, "/"), -EACCES);
	assert_int_equal(dmab_sim_store_get_perms(f->store, 0, NO_TX, "/",
		&perms, &count), 0);
	assert_int_equal(count, 1);
	assert_int_equal(perms[0].domid, 0);
	assert_int_equal(perms[0].perm, P_NONE);
	free(perms);
	assert_children(f, 0, NO_TX, "/", NULL, 0);
}

static void test_relative_paths(void **state)
{
	struct fixture *f = *state;

	make_home(f, 5);
	assert_int_equal(wr(f, 5, NO_TX, "device/vdispl/0/state", "1"), 0);
	assert_value(f, 0, NO_TX, "/local/domain/5/device/vdispl/0/state", "1");
	assert_value(f, 5, NO_TX, "device/vdispl/0/state", "1");
	assert_value(f, 5, NO_TX, "/local/domain/5/device/vdispl/0/state", "1");

	/* Relative to the caller, not to anyone else. */
	assert_int_equal(wr(f, 0, NO_TX, "name", "Domain-0"), 0);
	assert_value(f, 0, NO_TX, "/local/domain/0/name", "Domain-0");
	assert_int_equal(rd(f, 0, NO_TX, "device/vdispl/0/state"), -ENOENT);

	static const char *const children[] = { "vdispl" };
	assert_children(f, 5, NO_TX, "device", children, 1);
}

static void test_path_validation(void **state)
{
	struct fixture *f = *state;
	static const char *const bad[] = {
		"/a b", "/a.b", "/a:b", "/a\\b", "/a//b", "//", "/a/", "a/",
		"", "/é", "@releaseDomain", "@x",
	};
	char *value = (char *)"untouched";
	char path[DMAB_SIM_STORE_PATH_MAX + 2];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(wr(f, 0, NO_TX, bad[i], "x"), -EINVAL);
		assert_int_equal(dmab_sim_store_mkdir(f->store, 0, NO_TX, bad[i]), -EINVAL);
		assert_int_equal(rd(f, 0, NO_TX, bad[i]), -EINVAL);
		assert_int_equal(dmab_sim_store_rm(f->store, 0, NO_TX, bad[i]), -EINVAL);
	}
	assert_int_equal(dmab_sim_store_read(f->store, 0, NO_TX, NULL, &value, NULL), -EINVAL);
	assert_string_equal(value, "untouched");
	assert_children(f, 0, NO_TX, "/", NULL, 0);

	/* Every allowed character. */
	assert_int_equal(wr(f, 0, NO_TX, "/Az09-_@/x", "ok"), 0);
	assert_value(f, 0, NO_TX, "/Az09-_@/x", "ok");

	/* Absolute length: 3072 is fine, 3073 is not. */
	memset(path, 'a', sizeof(path));
	path[0] = '/';
	path[DMAB_SIM_STORE_PATH_MAX] = '\0';
	assert_int_equal(wr(f, 0, NO_TX, path, "long"), 0);
	assert_value(f, 0, NO_TX, path, "long");
	path[DMAB_SIM_STORE_PATH_MAX] = 'a';
	path[DMAB_SIM_STORE_PATH_MAX + 1] = '\0';
	assert_int_equal(wr(f, 0, NO_TX, path, "long"), -EINVAL);

	/* A guest: fewer than 2048 bytes below its home. */
	make_home(f, 5);
	memset(path, 'b', sizeof(path));
	path[DMAB_SIM_STORE_REL_PATH_MAX - 1] = '\0';
	assert_int_equal(wr(f, 5, NO_TX, path, "x"), 0);
	path[DMAB_SIM_STORE_REL_PATH_MAX - 1] = 'b';
	path[DMAB_SIM_STORE_REL_PATH_MAX] = '\0';
	assert_int_equal(wr(f, 5, NO_TX, path, "x"), -EINVAL);
	/* The same path is fine for dom0. */
	char abs[DMAB_SIM_STORE_PATH_MAX + 1] = "/local/domain/5/";
	strcat(abs, path);
	assert_int_equal(wr(f, 0, NO_TX, abs, "x"), 0);
}

static void test_values(void **state)
{
	struct fixture *f = *state;
	static const char binary[] = { 'a', '\0', 'b', '\n', '\0' };
	char big[DMAB_SIM_STORE_VALUE_MAX + 1];
	char *value = NULL;
	size_t len = 0;

	assert_int_equal(dmab_sim_store_write(f->store, 0, NO_TX, "/bin", binary,
		sizeof(binary)), 0);
	assert_int_equal(dmab_sim_store_read(f->store, 0, NO_TX, "/bin", &value,
		&len), 0);
	assert_int_equal(len, sizeof(binary));
	assert_memory_equal(value, binary, sizeof(binary));
	assert_int_equal(value[len], '\0');
	free(value);

	memset(big, 'v', sizeof(big));
	assert_int_equal(dmab_sim_store_write(f->store, 0, NO_TX, "/big", big,
		DMAB_SIM_STORE_VALUE_MAX), 0);
	assert_int_equal(dmab_sim_store_write(f->store, 0, NO_TX, "/big", big,
		sizeof(big)), -E2BIG);
	assert_int_equal(dmab_sim_store_read(f->store, 0, NO_TX, "/big", &value,
		&len), 0);
	assert_int_equal(len, DMAB_SIM_STORE_VALUE_MAX);
	free(value);
	assert_int_equal(dmab_sim_store_write(f->store, 0, NO_TX, "/new", big,
		sizeof(big)), -E2BIG);
	assert_int_equal(rd(f, 0, NO_TX, "/new"), -ENOENT);

	/* Overwrite, then empty. */
	assert_int_equal(wr(f, 0, NO_TX, "/v", "one"), 0);
	assert_int_equal(wr(f, 0, NO_TX, "/v", "two"), 0);
	assert_value(f, 0, NO_TX, "/v", "two");
	assert_int_equal(dmab_sim_store_write(f->store, 0, NO_TX, "/v", NULL, 0), 0);
	assert_value(f, 0, NO_TX, "/v", "");
	assert_int_equal(dmab_sim_store_write(f->store, 0, NO_TX, "/v", NULL, 1), -EINVAL);
}

/* ------------------------------------------------------------ permissions */

static void test_read_permissions(void **state)
{
	struct fixture *f = *state;
	const struct dmab_sim_store_perm read5[] = { { 0, P_NONE }, { 5, P_READ } };

	assert_int_equal(wr(f, 0, NO_TX, "/secret/key", "s"), 0);
	assert_int_equal(rd(f, 5, NO_TX, "/secret/key"), -EACCES);
	assert_int_equal(rd(f, 5, NO_TX, "/secret"), -EACCES);
	/* Absence below an unreadable node is not told either. */
	assert_int_equal(rd(f, 5, NO_TX, "/secret/none"), -EACCES);
	assert_int_equal(rd(f, 5, NO_TX, "/secret/none/deeper"), -EACCES);
	assert_int_equal(rd(f, 0, NO_TX, "/secret/none"), -ENOENT);

	set_perms(f, 0, "/secret", read5, 2);
	assert_value(f, 5, NO_TX, "/secret", "");
	assert_int_equal(rd(f, 6, NO_TX, "/secret"), -EACCES);
	assert_int_equal(rd(f, 5, NO_TX, "/secret/none"), -ENOENT);
	/* The child kept the permissions it was created with. */
	assert_int_equal(rd(f, 5, NO_TX, "/secret/key"), -EACCES);

	char **names = NULL;
	unsigned int count;
	assert_int_equal(dmab_sim_store_directory(f->store, 6, NO_TX, "/secret",
		&names, &count), -EACCES);
	assert_null(names);
	struct dmab_sim_store_perm *perms = NULL;
	assert_int_equal(dmab_sim_store_get_perms(f->store, 6, NO_TX, "/secret",
		&perms, &count), -EACCES);
	assert_null(perms);
	assert_int_equal(dmab_sim_store_get_perms(f->store, 5, NO_TX, "/secret",
		&perms, &count), 0);
	assert_int_equal(count, 2);
	for (unsigned int i = 0; i < 2; i++) {
		assert_int_equal(perms[i].domid, read5[i].domid);
		assert_int_equal(perms[i].perm, read5[i].perm);
	}
	free(perms);
}

static void test_permission_entries(void **state)
{
	struct fixture *f = *state;
	const struct dmab_sim_store_perm owned_read[] = { { 5, P_READ } };
	const struct dmab_sim_store_perm write_only[] = { { 5, P_NONE }, { 6, P_WRITE } };
	const struct dmab_sim_store_perm anyone[] = { { 0, P_NONE }, { ANY, P_BOTH } };
	const struct dmab_sim_store_perm listed_first[] = {
		{ 0, P_READ }, { 6, P_NONE }, { ANY, P_BOTH },
	};

	assert_int_equal(wr(f, 0, NO_TX, "/n", "v"), 0);

	/* The owner may do anything; the rest get the owner entry's perm. */
	set_perms(f, 0, "/n", owned_read, 1);
	assert_int_equal(wr(f, 5, NO_TX, "/n", "by5"), 0);
	assert_value(f, 7, NO_TX, "/n", "by5");
	assert_int_equal(wr(f, 7, NO_TX, "/n", "by7"), -EACCES);

	/* Write-only: 6 may write but not read. */
	set_perms(f, 0, "/n", write_only, 2);
	assert_int_equal(wr(f, 6, NO_TX, "/n", "by6"), 0);
	assert_int_equal(rd(f, 6, NO_TX, "/n"), -EACCES);
	assert_int_equal(rd(f, 7, NO_TX, "/n"), -EACCES);
	assert_value(f, 5, NO_TX, "/n", "by6");

	/* DOMID_ANY matches every domain. */
	set_perms(f, 0, "/n", anyone, 2);
	assert_int_equal(wr(f, 9, NO_TX, "/n", "by9"), 0);
	assert_value(f, 8, NO_TX, "/n", "by9");

	/* The first matching entry wins. */
	set_perms(f, 0, "/n", listed_first, 3);
	assert_int_equal(rd(f, 6, NO_TX, "/n"), -EACCES);
	assert_int_equal(wr(f, 7, NO_TX, "/n", "by7"), 0);
}

static void test_write_creates_parents(void **state)
{
	struct fixture *f = *state;
	const struct dmab_sim_store_perm shared[] = { { 0, P_NONE }, { 5, P_BOTH } };
	struct dmab_sim_store_perm *perms = NULL;
	unsigned int count = 0;

	make_home(f, 5);
	assert_int_equal(wr(f, 5, NO_TX, "a/b/c", "leaf"), 0);
	assert_value(f, 5, NO_TX, "a/b", "");
	assert_value(f, 5, NO_TX, "a", "");
	assert_int_equal(dmab_sim_store_get_perms(f->store, 5, NO_TX, "a/b",
		&perms, &count), 0);
	assert_int_equal(count, 1);
	assert_int_equal(perms[0].domid, 5);
	assert_int_equal(perms[0].perm, P_NONE);
	free(perms);

	/* dom0 creating in a guest's directory: the guest owns it. */
	assert_int_equal(wr(f, 0, NO_TX, "/local/domain/5/d/e", "x"), 0);
	assert_int_equal(dmab_sim_store_get_perms(f->store, 0, NO_TX,
		"/local/domain/5/d/e", &perms, &count), 0);
	assert_int_equal(perms[0].domid, 5);
	free(perms);

	/* A guest creating in dom0's writable directory owns what it creates. */
	assert_int_equal(wr(f, 0, NO_TX, "/shared", ""), 0);
	set_perms(f, 0, "/shared", shared, 2);
	assert_int_equal(wr(f, 5, NO_TX, "/shared/x/y", "5"), 0);
	for (int i = 0; i < 2; i++) {
		const char *p = i ? "/shared/x/y" : "/shared/x";

		assert_int_equal(dmab_sim_store_get_perms(f->store, 0, NO_TX, p,
			&perms, &count), 0);
		assert_int_equal(count, 2);
		assert_int_equal(perms[0].domid, 5);
		assert_int_equal(perms[0].perm, P_NONE);
		assert_int_equal(perms[1].domid, 5);
		assert_int_equal(perms[1].perm, P_BOTH);
		free(perms);
	}
	/* And may therefore set permissions on it, but not on the parent. */
	assert_int_equal(dmab_sim_store_set_perms(f->store, 5, NO_TX, "/shared/x",
		shared + 1, 1), 0);
	assert_int_equal(dmab_sim_store_set_perms(f->store, 5, NO_TX, "/shared",
		shared, 2), -EACCES);

	static const char *const children[] = { "a", "d" };
	assert_children(f, 0, NO_TX, "/local/domain/5", children, 2);
}

static void test_write_permissions(void **state)
{
	struct fixture *f = *state;

	make_home(f, 5);
	make_home(f, 6);
	assert_int_equal(wr(f, 5, NO_TX, "x", "5"), 0);

	/* Neither another guest's nodes nor new nodes in its directory. */
	assert_int_equal(wr(f, 6, NO_TX, "/local/domain/5/x", "6"), -EACCES);
	assert_int_equal(wr(f, 6, NO_TX, "/local/domain/5/new/deep", "6"), -EACCES);
	assert_int_equal(dmab_sim_store_mkdir(f->store, 6, NO_TX, "/local/domain/5/new"),
		-EACCES);
	assert_int_equal(wr(f, 6, NO_TX, "/top", "6"), -EACCES);
	assert_value(f, 0, NO_TX, "/local/domain/5/x", "5");
	assert_int_equal(rd(f, 0, NO_TX, "/local/domain/5/new"), -ENOENT);
	assert_int_equal(rd(f, 0, NO_TX, "/top"), -ENOENT);
	assert_int_equal(dmab_sim_store_nodes_owned(f->store, 6), 1);
}

static void test_mkdir(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(dmab_sim_store_mkdir(f->store, 0, NO_TX, "/m/n"), 0);
	assert_value(f, 0, NO_TX, "/m/n", "");
	assert_int_equal(wr(f, 0, NO_TX, "/m/n", "kept"), 0);
	assert_int_equal(dmab_sim_store_mkdir(f->store, 0, NO_TX, "/m/n"), 0);
	assert_value(f, 0, NO_TX, "/m/n", "kept");
	/* Existing but not writable is still refused, as in xenstored. */
	assert_int_equal(dmab_sim_store_mkdir(f->store, 5, NO_TX, "/m/n"), -EACCES);
	assert_int_equal(dmab_sim_store_mkdir(f->store, 0, NO_TX, "/"), 0);
}

static void test_rm(void **state)
{
	struct fixture *f = *state;
	static const char *const left[] = { "keep" };

	make_home(f, 5);
	assert_int_equal(wr(f, 0, NO_TX, "/r/a/b/c", "1"), 0);
	assert_int_equal(wr(f, 0, NO_TX, "/r/a/b2", "2"), 0);
	assert_int_equal(wr(f, 0, NO_TX, "/r/keep", "3"), 0);
	assert_int_equal(dmab_sim_store_rm(f->store, 0, NO_TX, "/r/a"), 0);
	assert_int_equal(rd(f, 0, NO_TX, "/r/a"), -ENOENT);
	assert_int_equal(rd(f, 0, NO_TX, "/r/a/b/c"), -ENOENT);
	assert_int_equal(rd(f, 0, NO_TX, "/r/a/b2"), -ENOENT);
	assert_children(f, 0, NO_TX, "/r", left, 1);

	/* Absent node: fine if its parent exists, -ENOENT if not. */
	assert_int_equal(dmab_sim_store_rm(f->store, 0, NO_TX, "/r/a"), 0);
	assert_int_equal(dmab_sim_store_rm(f->store, 0, NO_TX, "/r/a/b"), -ENOENT);
	assert_int_equal(dmab_sim_store_rm(f->store, 5, NO_TX, "gone"), 0);
	assert_int_equal(dmab_sim_store_rm(f->store, 5, NO_TX, "gone/too"), -ENOENT);

	/* Never the root. */
	assert_int_equal(dmab_sim_store_rm(f->store, 0, NO_TX, "/"), -EINVAL);
	assert_int_equal(dmab_sim_store_rm(f->store, 5, NO_TX, "/"), -EACCES);

	/* Without write permission nothing goes, and absence is not told. */
	assert_int_equal(dmab_sim_store_rm(f->store, 5, NO_TX, "/r/keep"), -EACCES);
	assert_int_equal(dmab_sim_store_rm(f->store, 5, NO_TX, "/r"), -EACCES);
	assert_int_equal(dmab_sim_store_rm(f->store, 5, NO_TX, "/r/none"), -EACCES);
	assert_value(f, 0, NO_TX, "/r/keep", "3");

	/* A guest removes its own subtree. */
	assert_int_equal(wr(f, 5, NO_TX, "dev/x", "1"), 0);
	assert_int_equal(dmab_sim_store_rm(f->store, 5, NO_TX, "dev"), 0);
	assert_int_equal(rd(f, 5, NO_TX, "dev"), -ENOENT);
}

static void test_directory(void **state)
{
	struct fixture *f = *state;
	static const char *const order[] = { "zeta", "alpha", "mid" };
	static const char *const after[] = { "zeta", "mid", "alpha" };
	char **names = NULL;
	unsigned int count = 0;

	assert_int_equal(wr(f, 0, NO_TX, "/d/zeta", ""), 0);
	assert_int_equal(wr(f, 0, NO_TX, "/d/alpha/deep", ""), 0);
	assert_int_equal(dmab_sim_store_mkdir(f->store, 0, NO_TX, "/d/mid"), 0);
	assert_children(f, 0, NO_TX, "/d", order, 3);
	assert_int_equal(dmab_sim_store_rm(f->store, 0, NO_TX, "/d/alpha"), 0);
	assert_int_equal(wr(f, 0, NO_TX, "/d/alpha", ""), 0);
	assert_children(f, 0, NO_TX, "/d", after, 3);
	assert_children(f, 0, NO_TX, "/d/zeta", NULL, 0);
	assert_int_equal(dmab_sim_store_directory(f->store, 0, NO_TX, "/nope",
		&names, &count), -ENOENT);
	assert_int_equal(dmab_sim_store_directory(f->store, 5, NO_TX, "/d",
		&names, &count), -EACCES);
	assert_null(names);
}

static void test_set_perms_rules(void **state)
{
	struct fixture *f = *state;
	const struct dmab_sim_store_perm mine[] = { { 5, P_NONE }, { 6, P_READ } };
	const struct dmab_sim_store_perm theirs[] = { { 6, P_NONE } };
	const struct dmab_sim_store_perm bad[] = { { 5, 4 } };
	const struct dmab_sim_store_perm many[] = {
		{ 5, P_NONE }, { 6, P_READ }, { 7, P_READ }, { 8, P_READ },
		{ 9, P_READ }, { 10, P_READ },
	};
	struct dmab_sim_store_perm *perms = NULL;
	unsigned int count = 0;

	make_home(f, 5);
	assert_int_equal(wr(f, 5, NO_TX, "n", ""), 0);
	/* Owner sets, keeping itself the owner. */
	assert_int_equal(dmab_sim_store_set_perms(f->store, 5, NO_TX, "n", mine, 2), 0);
	assert_int_equal(rd(f, 6, NO_TX, "/local/domain/5/n"), 0);
	/* Others may not, even with read permission; nor a write-only one. */
	assert_int_equal(dmab_sim_store_set_perms(f->store, 6, NO_TX,
		"/local/domain/5/n", theirs, 1), -EACCES);
	/* The owner cannot give it away; dom0 can. */
	assert_int_equal(dmab_sim_store_set_perms(f->store, 5, NO_TX, "n", theirs, 1),
		-EPERM);
	assert_int_equal(dmab_sim_store_set_perms(f->store, 5, NO_TX, "n", NULL, 0),
		-EINVAL);
	assert_int_equal(dmab_sim_store_set_perms(f->store, 5, NO_TX, "n", mine, 0),
		-EINVAL);
	assert_int_equal(dmab_sim_store_set_perms(f->store, 5, NO_TX, "n", bad, 1),
		-EINVAL);
	assert_int_equal(dmab_sim_store_set_perms(f->store, 5, NO_TX, "n", many, 6),
		-ENOSPC);
	assert_int_equal(dmab_sim_store_set_perms(f->store, 5, NO_TX, "n", many, 5), 0);
	assert_int_equal(dmab_sim_store_set_perms(f->store, 0, NO_TX,
		"/local/domain/5/n", many, 6), 0);
	assert_int_equal(dmab_sim_store_set_perms(f->store, 5, NO_TX, "absent",
		mine, 2), -ENOENT);

	set_perms(f, 0, "/local/domain/5/n", theirs, 1);
	assert_int_equal(dmab_sim_store_get_perms(f->store, 6, NO_TX,
		"/local/domain/5/n", &perms, &count), 0);
	assert_int_equal(count, 1);
	assert_int_equal(perms[0].domid, 6);
	free(perms);
	assert_int_equal(rd(f, 5, NO_TX, "n"), -EACCES);

	/* Special nodes have permissions too, and only those calls see them. */
	assert_int_equal(dmab_sim_store_get_perms(f->store, 5, NO_TX,
		"@releaseDomain", &perms, &count), 0);
	assert_int_equal(count, 2);
	assert_int_equal(perms[1].domid, ANY);
	assert_int_equal(perms[1].perm, P_READ);
	free(perms);
	assert_int_equal(dmab_sim_store_get_perms(f->store, 5, NO_TX,
		"@introduceDomain", &perms, &count), -EACCES);
	assert_int_equal(dmab_sim_store_set_perms(f->store, 5, NO_TX,
		"@introduceDomain", mine, 2), -EACCES);
	assert_int_equal(dmab_sim_store_set_perms(f->store, 0, NO_TX,
		"@introduceDomain", mine, 2), 0);
}

/* ------------------------------------------------------------------ quota */

static void test_quota_nodes(void **state)
{
	struct fixture *f = *state;

	make_home(f, 5);        /* 1 node owned by 5, quota 5 */
	assert_int_equal(dmab_sim_store_nodes_owned(f->store, 5), 1);
	assert_int_equal(wr(f, 5, NO_TX, "a/b", ""), 0);
	assert_int_equal(dmab_sim_store_nodes_owned(f->store, 5), 3);
	/* Needs 3 nodes, 2 are left: all or nothing. */
	assert_int_equal(wr(f, 5, NO_TX, "c/d/e", ""), -ENOSPC);
	assert_int_equal(rd(f, 5, NO_TX, "c"), -ENOENT);
	assert_int_equal(dmab_sim_store_mkdir(f->store, 5, NO_TX, "c/d/e"), -ENOSPC);
	assert_int_equal(wr(f, 5, NO_TX, "c/d", ""), 0);
	assert_int_equal(dmab_sim_store_nodes_owned(f->store, 5), 5);
	assert_int_equal(wr(f, 5, NO_TX, "f", ""), -ENOSPC);
	/* Overwriting needs no new node. */
	assert_int_equal(wr(f, 5, NO_TX, "a", "again"), 0);
	/* dom0 has no quota, even when what it creates is owned by 5. */
	assert_int_equal(wr(f, 0, NO_TX, "/local/domain/5/g/h", ""), 0);
	assert_int_equal(dmab_sim_store_nodes_owned(f->store, 5), 7);
	for (int i = 0; i < 20; i++) {
		char p[32];

		snprintf(p, sizeof(p), "/dom0/%d", i);
		assert_int_equal(wr(f, 0, NO_TX, p, ""), 0);
	}
}

static void test_quota_follows_ownership(void **state)
{
	struct fixture *f = *state;
	const struct dmab_sim_store_perm to6[] = { { 6, P_NONE } };
	const struct dmab_sim_store_perm to5[] = { { 5, P_NONE } };

	make_home(f, 5);
	make_home(f, 6);
	assert_int_equal(wr(f, 5, NO_TX, "a/b/c", ""), 0);
	assert_int_equal(dmab_sim_store_nodes_owned(f->store, 5), 4);
	assert_int_equal(dmab_sim_store_nodes_owned(f->store, 6), 1);

	set_perms(f, 0, "/local/domain/5/a/b", to6, 1);
	assert_int_equal(dmab_sim_store_nodes_owned(f->store, 5), 3);
	assert_int_equal(dmab_sim_store_nodes_owned(f->store, 6), 2);

	/* rm gives each owner its node back. */
	assert_int_equal(dmab_sim_store_rm(f->store, 5, NO_TX, "a"), 0);
	assert_int_equal(dmab_sim_store_nodes_owned(f->store, 5), 1);
	assert_int_equal(dmab_sim_store_nodes_owned(f->store, 6), 1);
	assert_int_equal(wr(f, 5, NO_TX, "w/x/y/z", ""), 0);
	assert_int_equal(dmab_sim_store_nodes_owned(f->store, 5), 5);

	/* Given to 6 at its limit: 6 can no longer create. */
	set_perms(f, 0, "/local/domain/5/w", to6, 1);
	set_perms(f, 0, "/local/domain/5/w/x", to6, 1);
	set_perms(f, 0, "/local/domain/5/w/x/y", to6, 1);
	set_perms(f, 0, "/local/domain/5/w/x/y/z", to6, 1);
	assert_int_equal(dmab_sim_store_nodes_owned(f->store, 6), 5);
	assert_int_equal(wr(f, 6, NO_TX, "more", ""), -ENOSPC);
	set_perms(f, 0, "/local/domain/5/w/x/y/z", to5, 1);
	assert_int_equal(wr(f, 6, NO_TX, "more", ""), 0);
}

static void test_quota_watches(void **state)
{
	struct fixture *f = *state;

	watch(f, 5, CA, "/w1", "t");
	watch(f, 5, CA, "/w2", "t");
	watch(f, 5, CB, "/w3", "t");
	/* Per domain, across connections. */
	assert_int_equal(dmab_sim_store_watch(f->store, 5, CB, "/w4", "t"), -ENOSPC);
	assert_int_equal(dmab_sim_store_watch(f->store, 6, CB, "/w4", "t"), 0);
	for (int i = 0; i < 10; i++) {
		char p[32];

		snprintf(p, sizeof(p), "/d0/%d", i);
		watch(f, 0, CA, p, "t");
	}
	assert_int_equal(dmab_sim_store_unwatch(f->store, 5, CA, "/w1", "t"), 0);
	assert_int_equal(dmab_sim_store_watch(f->store, 5, CB, "/w4", "t"), 0);
	assert_int_equal(dmab_sim_store_watch(f->store, 5, CB, "/w5", "t"), -ENOSPC);
}

static void test_quota_transactions(void **state)
{
	struct fixture *f = *state;
	uint32_t a, b, c;

	assert_int_equal(dmab_sim_store_tx_start(f->store, 5, &a), 0);
	assert_int_equal(dmab_sim_store_tx_start(f->store, 5, &b), 0);
	assert_int_not_equal(a, NO_TX);
	assert_int_not_equal(b, NO_TX);
	assert_int_not_equal(a, b);
	assert_int_equal(dmab_sim_store_tx_start(f->store, 5, &c), -ENOSPC);
	assert_int_equal(dmab_sim_store_tx_start(f->store, 6, &c), 0);
	assert_int_equal(dmab_sim_store_tx_end(f->store, 5, a, false), 0);
	assert_int_equal(dmab_sim_store_tx_start(f->store, 5, &c), 0);
	for (int i = 0; i < 10; i++)
		assert_int_equal(dmab_sim_store_tx_start(f->store, 0, &c), 0);
}

/* ---------------------------------------------------------------- watches */

static void test_watch_initial_fire(void **state)
{
	struct fixture *f = *state;

	make_home(f, 5);
	watch(f, 0, CA, "/not/there/yet", "abs");
	assert_int_equal(f->count, 1);
	assert_int_equal(count_events(f, CA, "/not/there/yet", "abs"), 1);
	watch(f, 5, CB, "device", "rel");
	assert_int_equal(f->count, 2);
	assert_int_equal(count_events(f, CB, "device", "rel"), 1);
	/* With no permission at all on the path: it still fires once. */
	watch(f, 6, CB, "/local/domain/5", "peek");
	assert_int_equal(count_events(f, CB, "/local/domain/5", "peek"), 1);
	clear_events(f);
	assert_int_equal(wr(f, 0, NO_TX, "/local/domain/5/x", ""), 0);
	assert_int_equal(count_events(f, CB, "/local/domain/5/x", "peek"), 0);
	assert_int_equal(dmab_sim_store_watch(f->store, 5, CA, "bad//path", "t"),
		-EINVAL);
	assert_int_equal(dmab_sim_store_watch(f->store, 5, CA, "/x", NULL), -EINVAL);
}

static void test_watch_descendants(void **state)
{
	struct fixture *f = *state;

	watch(f, 0, CA, "/a", "a");
	watch(f, 0, CA, "/", "root");
	clear_events(f);
	assert_int_equal(wr(f, 0, NO_TX, "/a/b/c", "1"), 0);
	assert_int_equal(count_events(f, CA, "/a/b/c", "a"), 1);
	assert_int_equal(count_events(f, CA, "/a/b/c", "root"), 1);
	/* One event for the node written, not one per parent created. */
	assert_int_equal(f->count, 2);

	clear_events(f);
	assert_int_equal(wr(f, 0, NO_TX, "/ab", "1"), 0);
	assert_int_equal(wr(f, 0, NO_TX, "/b/a", "1"), 0);
	assert_int_equal(find_token(f, "a"), -1);
	assert_int_equal(count_events(f, CA, "/ab", "root"), 1);

	clear_events(f);
	assert_int_equal(wr(f, 0, NO_TX, "/a", "2"), 0);
	assert_int_equal(dmab_sim_store_mkdir(f->store, 0, NO_TX, "/a/m"), 0);
	assert_int_equal(dmab_sim_store_mkdir(f->store, 0, NO_TX, "/a/m"), 0);
	const struct dmab_sim_store_perm p[] = { { 0, P_NONE }, { 5, P_READ } };
	set_perms(f, 0, "/a/b", p, 2);
	assert_int_equal(count_events(f, CA, "/a", "a"), 1);
	/* mkdir of an existing node changes nothing and fires nothing. */
	assert_int_equal(count_events(f, CA, "/a/m", "a"), 1);
	assert_int_equal(count_events(f, CA, "/a/b", "a"), 1);

	/* Failed operations fire nothing. */
	clear_events(f);
	assert_int_equal(wr(f, 5, NO_TX, "/a/x", "1"), -EACCES);
	assert_int_equal(dmab_sim_store_rm(f->store, 5, NO_TX, "/a"), -EACCES);
	assert_int_equal(f->count, 0);
	/* Nor does removing something already absent. */
	assert_int_equal(dmab_sim_store_rm(f->store, 0, NO_TX, "/a/none"), 0);
	assert_int_equal(f->count, 0);
}

static void test_watch_relative_events(void **state)
{
	struct fixture *f = *state;

	make_home(f, 5);
	watch(f, 5, CA, "device", "dev");
	clear_events(f);
	assert_int_equal(wr(f, 0, NO_TX, "/local/domain/5/device/vdispl/0", "x"), 0);
	assert_int_equal(count_events(f, CA, "device/vdispl/0", "dev"), 1);
	/* Removable by either spelling. */
	assert_int_equal(dmab_sim_store_unwatch(f->store, 5, CA,
		"/local/domain/5/device", "dev"), 0);
	clear_events(f);
	assert_int_equal(wr(f, 0, NO_TX, "/local/domain/5/device/vdispl/0", "y"), 0);
	assert_int_equal(f->count, 0);
}

static void test_watch_rm_subtree(void **state)
{
	struct fixture *f = *state;
	int inner, root;

	assert_int_equal(wr(f, 0, NO_TX, "/a/b/c", "1"), 0);
	assert_int_equal(wr(f, 0, NO_TX, "/a/sibling", "1"), 0);
	watch(f, 0, CA, "/a", "ancestor");
	watch(f, 0, CA, "/a/b", "root");
	watch(f, 0, CA, "/a/b/c", "inner");
	watch(f, 0, CA, "/a/b/c/never", "absent");
	watch(f, 0, CA, "/a/sibling", "sibling");
	clear_events(f);

	assert_int_equal(dmab_sim_store_rm(f->store, 0, NO_TX, "/a/b"), 0);
	assert_int_equal(count_events(f, CA, "/a/b", "ancestor"), 1);
	assert_int_equal(count_events(f, CA, "/a/b", "root"), 1);
	assert_int_equal(count_events(f, CA, "/a/b/c", "inner"), 1);
	assert_int_equal(find_token(f, "absent"), -1);
	assert_int_equal(find_token(f, "sibling"), -1);
	assert_int_equal(f->count, 3);
	/* Inside first, then the removed node itself. */
	inner = find_token(f, "inner");
	root = find_token(f, "root");
	assert_true(inner < root);
}

static void test_watch_permissions(void **state)
{
	struct fixture *f = *state;
	const struct dmab_sim_store_perm read6[] = { { 5, P_NONE }, { 6, P_READ } };
	const struct dmab_sim_store_perm only5[] = { { 5, P_NONE } };
	const struct dmab_sim_store_perm dir_read[] = { { 0, P_READ } };

	make_home(f, 5);
	assert_int_equal(wr(f, 5, NO_TX, "x", "1"), 0);
	watch(f, 6, CA, "/local/domain/5", "w6");
	watch(f, 5, CB, "/local/domain/5", "w5");
	clear_events(f);

	/* 6 may read neither the node nor its parent: no event. */
	assert_int_equal(wr(f, 5, NO_TX, "x", "2"), 0);
	assert_int_equal(count_events(f, CB, "/local/domain/5/x", "w5"), 1);
	assert_int_equal(count_events(f, CA, "/local/domain/5/x", "w6"), 0);

	/* Granted read: 6 hears about the grant and what follows. */
	clear_events(f);
	set_perms(f, 5, "/local/domain/5/x", read6, 2);
	assert_int_equal(count_events(f, CA, "/local/domain/5/x", "w6"), 1);
	assert_int_equal(wr(f, 5, NO_TX, "x", "3"), 0);
	assert_int_equal(count_events(f, CA, "/local/domain/5/x", "w6"), 2);

	/* Revoked: 6 hears about the revocation (old permissions), then nothing. */
	clear_events(f);
	set_perms(f, 5, "/local/domain/5/x", only5, 1);
	assert_int_equal(count_events(f, CA, "/local/domain/5/x", "w6"), 1);
	assert_int_equal(wr(f, 5, NO_TX, "x", "4"), 0);
	assert_int_equal(count_events(f, CA, "/local/domain/5/x", "w6"), 1);

	/* Removal is judged by the permissions before it. */
	set_perms(f, 5, "/local/domain/5/x", read6, 2);
	clear_events(f);
	assert_int_equal(dmab_sim_store_rm(f->store, 5, NO_TX, "x"), 0);
	assert_int_equal(count_events(f, CA, "/local/domain/5/x", "w6"), 1);
	assert_int_equal(wr(f, 5, NO_TX, "y/z", "1"), 0);
	clear_events(f);
	assert_int_equal(dmab_sim_store_rm(f->store, 5, NO_TX, "y"), 0);
	assert_int_equal(count_events(f, CB, "/local/domain/5/y", "w5"), 1);
	assert_int_equal(count_events(f, CA, "/local/domain/5/y", "w6"), 0);

	/* xenstored's rule: a readable parent is enough (its listing changes). */
	assert_int_equal(wr(f, 0, NO_TX, "/pub/hidden", "1"), 0);
	set_perms(f, 0, "/pub", dir_read, 1);
	watch(f, 6, CA, "/pub", "pub");
	clear_events(f);
	assert_int_equal(wr(f, 0, NO_TX, "/pub/hidden", "2"), 0);
	assert_int_equal(count_events(f, CA, "/pub/hidden", "pub"), 1);
	assert_int_equal(rd(f, 6, NO_TX, "/pub/hidden"), -EACCES);
	assert_int_equal(wr(f, 0, NO_TX, "/pub/hidden/deeper", "1"), 0);
	assert_int_equal(count_events(f, CA, "/pub/hidden/deeper", "pub"), 0);
}

static void test_watch_duplicates_unwatch(void **state)
{
	struct fixture *f = *state;

	watch(f, 5, CA, "/w", "t");
	assert_int_equal(dmab_sim_store_watch(f->store, 5, CA, "/w", "t"), -EEXIST);
	/* Different token, connection or domain: a different watch. */
	watch(f, 5, CA, "/w", "u");
	watch(f, 5, CB, "/w", "t");
	watch(f, 0, CA, "/w", "t");
	clear_events(f);
	assert_int_equal(wr(f, 0, NO_TX, "/w", "1"), 0);
	assert_int_equal(f->count, 1);     /* 5 may not read /w */
	assert_int_equal(count_events(f, CA, "/w", "t"), 1);

	assert_int_equal(dmab_sim_store_unwatch(f->store, 0, CA, "/w", "t"), 0);
	assert_int_equal(dmab_sim_store_unwatch(f->store, 0, CA, "/w", "t"), -ENOENT);
	assert_int_equal(dmab_sim_store_unwatch(f->store, 0, CA, "/w", "u"), -ENOENT);
	assert_int_equal(dmab_sim_store_unwatch(f->store, 6, CA, "/w", "u"), -ENOENT);
	assert_int_equal(dmab_sim_store_unwatch(f->store, 5, CB, "/w", "u"), -ENOENT);
	assert_int_equal(dmab_sim_store_unwatch(f->store, 5, CA, "/w/", "u"), -EINVAL);
	clear_events(f);
	assert_int_equal(wr(f, 0, NO_TX, "/w", "2"), 0);
	assert_int_equal(f->count, 0);
	/* Added again, it fires again. */
	watch(f, 0, CA, "/w", "t");
	assert_int_equal(f->count, 1);
}

static void test_special_watches(void **state)
{
	struct fixture *f = *state;

	watch(f, 0, CA, "@introduceDomain", "intro0");
	watch(f, 0, CA, "@releaseDomain", "rel0");
	watch(f, 5, CB, "@introduceDomain", "intro5");
	watch(f, 5, CB, "@releaseDomain", "rel5");
	/* Special events are not tree events. */
	watch(f, 0, CB, "/", "root");
	assert_int_equal(count_events(f, CB, "@introduceDomain", "intro5"), 1);
	clear_events(f);

	dmab_sim_store_domain_introduced(f->store, 7);
	assert_int_equal(count_events(f, CA, "@introduceDomain", "intro0"), 1);
	/* Only dom0 may read @introduceDomain, everyone @releaseDomain. */
	assert_int_equal(find_token(f, "intro5"), -1);
	assert_int_equal(f->count, 1);
	clear_events(f);
	dmab_sim_store_domain_released(f->store, 7);
	assert_int_equal(count_events(f, CA, "@releaseDomain", "rel0"), 1);
	assert_int_equal(count_events(f, CB, "@releaseDomain", "rel5"), 1);
	assert_int_equal(f->count, 2);

	/* dom0 is never introduced; tree changes do not reach special watches. */
	clear_events(f);
	dmab_sim_store_domain_introduced(f->store, 0);
	assert_int_equal(f->count, 0);
	assert_int_equal(wr(f, 0, NO_TX, "/x", ""), 0);
	assert_int_equal(f->count, 1);
	assert_int_equal(count_events(f, CB, "/x", "root"), 1);

	/* dom0 may open @introduceDomain to a guest. */
	const struct dmab_sim_store_perm open[] = { { 0, P_NONE }, { 5, P_READ } };
	set_perms(f, 0, "@introduceDomain", open, 2);
	clear_events(f);
	dmab_sim_store_domain_introduced(f->store, 8);
	assert_int_equal(count_events(f, CB, "@introduceDomain", "intro5"), 1);
}

/* ------------------------------------------------------------ re-entrancy */

/* On the first event for /re/x: read it, then write /re/y and rm /re/x. */
static void reenter(struct fixture *f, const struct event *e)
{
	char *value = NULL;

	if (strcmp(e->path, "/re/x") != 0 || f->hook_calls)
		return;
	f->hook_calls++;
	/* The write that fired is complete when we hear of it. */
	assert_int_equal(dmab_sim_store_read(f->store, 0, NO_TX, "/re/x", &value,
		NULL), 0);
	f->hook_seen = value;
	assert_int_equal(wr(f, 0, NO_TX, "/re/y", "from-callback"), 0);
	/* Nested events wait for this one to return. */
	assert_int_equal(find_token(f, "y"), -1);
	assert_int_equal(dmab_sim_store_rm(f->store, 0, NO_TX, "/re/x"), 0);
	uint32_t tx;
	assert_int_equal(dmab_sim_store_tx_start(f->store, 0, &tx), 0);
	assert_int_equal(wr(f, 0, tx, "/re/z", "tx"), 0);
	assert_int_equal(dmab_sim_store_tx_end(f->store, 0, tx, true), 0);
}

static void test_callback_reentrancy(void **state)
{
	struct fixture *f = *state;
	int x, y;

	watch(f, 0, CA, "/re/x", "x");
	watch(f, 0, CA, "/re/y", "y");
	watch(f, 0, CA, "/re", "all");
	clear_events(f);
	f->hook = reenter;
	assert_int_equal(wr(f, 0, NO_TX, "/re/x", "value"), 0);
	f->hook = NULL;

	assert_int_equal(f->hook_calls, 1);
	assert_non_null(f->hook_seen);
	assert_string_equal(f->hook_seen, "value");
	assert_value(f, 0, NO_TX, "/re/y", "from-callback");
	assert_value(f, 0, NO_TX, "/re/z", "tx");
	assert_int_equal(rd(f, 0, NO_TX, "/re/x"), -ENOENT);
	/* write x (x, all), write y (y, all), rm x (x, all), tx z (all). */
	assert_int_equal(count_events(f, CA, "/re/x", "x"), 2);
	assert_int_equal(count_events(f, CA, "/re/y", "y"), 1);
	assert_int_equal(count_events(f, CA, "/re/x", "all"), 2);
	assert_int_equal(count_events(f, CA, "/re/y", "all"), 1);
	assert_int_equal(count_events(f, CA, "/re/z", "all"), 1);
	assert_int_equal(f->count, 7);
	x = find_token(f, "x");
	y = find_token(f, "y");
	assert_true(x == 0 && y > x);
}

/* Drop the watch being delivered: its other queued events go with it. */
static void unwatch_self(struct fixture *f, const struct event *e)
{
	if (strcmp(e->token, "self") == 0)
		assert_int_equal(dmab_sim_store_unwatch(f->store, 0, CA, "/s", "self"), 0);
}

static void test_callback_unwatch(void **state)
{
	struct fixture *f = *state;
	uint32_t tx;

	watch(f, 0, CA, "/s", "self");
	watch(f, 0, CA, "/s", "other");
	assert_int_equal(dmab_sim_store_tx_start(f->store, 0, &tx), 0);
	assert_int_equal(wr(f, 0, tx, "/s/1", ""), 0);
	assert_int_equal(wr(f, 0, tx, "/s/2", ""), 0);
	assert_int_equal(wr(f, 0, tx, "/s/3", ""), 0);
	clear_events(f);
	/* The commit queues self and other for each of the three nodes. */
	f->hook = unwatch_self;
	assert_int_equal(dmab_sim_store_tx_end(f->store, 0, tx, true), 0);
	f->hook = NULL;
	assert_int_equal(count_events(f, CA, "/s/1", "self"), 1);
	assert_int_equal(count_events(f, CA, "/s/1", "other"), 1);
	assert_int_equal(count_events(f, CA, "/s/2", "other"), 1);
	assert_int_equal(count_events(f, CA, "/s/3", "other"), 1);
	assert_int_equal(f->count, 4);
}

/* ----------------------------------------------------------- transactions */

static void test_tx_isolation(void **state)
{
	struct fixture *f = *state;
	static const char *const in_tx[] = { "old", "new" };
	static const char *const outside[] = { "old" };
	uint32_t tx;

	make_home(f, 5);
	assert_int_equal(wr(f, 5, NO_TX, "t/old", "o"), 0);
	assert_int_equal(dmab_sim_store_tx_start(f->store, 5, &tx), 0);
	assert_int_equal(wr(f, 5, tx, "t/new", "n"), 0);
	assert_int_equal(wr(f, 5, tx, "t/old", "changed"), 0);
	assert_value(f, 5, tx, "t/new", "n");
	assert_value(f, 5, tx, "t/old", "changed");
	assert_children(f, 5, tx, "t", in_tx, 2);
	/* Nobody else sees it, not even the same domain outside the tx. */
	assert_int_equal(rd(f, 5, NO_TX, "t/new"), -ENOENT);
	assert_int_equal(rd(f, 0, NO_TX, "/local/domain/5/t/new"), -ENOENT);
	assert_value(f, 5, NO_TX, "t/old", "o");
	assert_children(f, 5, NO_TX, "t", outside, 1);
	assert_int_equal(dmab_sim_store_nodes_owned(f->store, 5), 3);

	/* Removal and permissions in the transaction. */
	assert_int_equal(dmab_sim_store_rm(f->store, 5, tx, "t/old"), 0);
	assert_int_equal(rd(f, 5, tx, "t/old"), -ENOENT);
	assert_value(f, 5, NO_TX, "t/old", "o");
	const struct dmab_sim_store_perm p[] = { { 5, P_NONE }, { 6, P_READ } };
	assert_int_equal(dmab_sim_store_set_perms(f->store, 5, tx, "t/new", p, 2), 0);
	assert_int_equal(rd(f, 6, NO_TX, "/local/domain/5/t/new"), -EACCES);

	assert_int_equal(dmab_sim_store_tx_end(f->store, 5, tx, true), 0);
	assert_value(f, 6, NO_TX, "/local/domain/5/t/new", "n");
	assert_int_equal(rd(f, 5, NO_TX, "t/old"), -ENOENT);
	static const char *const after[] = { "new" };
	assert_children(f, 5, NO_TX, "t", after, 1);
	assert_int_equal(dmab_sim_store_nodes_owned(f->store, 5), 3);
	/* The id is gone. */
	assert_int_equal(rd(f, 5, tx, "t/new"), -ENOENT);
	assert_int_equal(dmab_sim_store_tx_end(f->store, 5, tx, true), -ENOENT);
}

static void test_tx_repeatable_reads(void **state)
{
	struct fixture *f = *state;
	uint32_t tx;

	assert_int_equal(wr(f, 0, NO_TX, "/r", "before"), 0);
	assert_int_equal(dmab_sim_store_tx_start(f->store, 0, &tx), 0);
	assert_value(f, 0, tx, "/r", "before");
	assert_int_equal(wr(f, 0, NO_TX, "/r", "after"), 0);
	assert_value(f, 0, tx, "/r", "before");
	assert_int_equal(dmab_sim_store_tx_end(f->store, 0, tx, true), -EAGAIN);
}

static void conflict_case(struct fixture *f, int which)
{
	char **names = NULL;
	unsigned int count;
	uint32_t tx;

	assert_int_equal(wr(f, 0, NO_TX, "/c/x", "0"), 0);
	assert_int_equal(dmab_sim_store_tx_start(f->store, 0, &tx), 0);
	switch (which) {
	case 0:         /* read a node someone writes */
		assert_int_equal(rd(f, 0, tx, "/c/x"), 0);
		assert_int_equal(wr(f, 0, NO_TX, "/c/x", "0"), 0);
		break;
	case 1:         /* list a directory someone adds to */
		assert_int_equal(dmab_sim_store_directory(f->store, 0, tx, "/c",
			&names, &count), 0);
		free(names);
		assert_int_equal(wr(f, 0, NO_TX, "/c/added", ""), 0);
		break;
	case 2:         /* find a node absent that someone creates */
		assert_int_equal(rd(f, 0, tx, "/c/missing"), -ENOENT);
		assert_int_equal(wr(f, 0, NO_TX, "/c/missing", ""), 0);
		break;
	case 3:         /* write a node someone removes */
		assert_int_equal(wr(f, 0, tx, "/c/x/sub", "tx"), 0);
		assert_int_equal(dmab_sim_store_rm(f->store, 0, NO_TX, "/c/x"), 0);
		break;
	case 4:         /* write a node someone else's permissions change */
		assert_int_equal(wr(f, 0, tx, "/c/x", "tx"), 0);
		set_perms(f, 0, "/c/x", (const struct dmab_sim_store_perm[]){ { 0, P_READ } }, 1);
		break;
	}
	assert_int_equal(wr(f, 0, tx, "/c/mine", "tx"), 0);
	assert_int_equal(dmab_sim_store_tx_end(f->store, 0, tx, true), -EAGAIN);
	assert_int_equal(rd(f, 0, NO_TX, "/c/mine"), -ENOENT);
	assert_int_equal(rd(f, 0, NO_TX, "/c/x/sub"), -ENOENT);
	assert_int_equal(dmab_sim_store_rm(f->store, 0, NO_TX, "/c"), 0);
}

static void test_tx_conflicts(void **state)
{
	struct fixture *f = *state;
	uint32_t tx;

	watch(f, 0, CA, "/c/mine", "mine");
	for (int i = 0; i < 5; i++)
		conflict_case(f, i);
	clear_events(f);

	/* An unrelated change is no conflict. */
	assert_int_equal(wr(f, 0, NO_TX, "/c/x", "0"), 0);
	assert_int_equal(dmab_sim_store_tx_start(f->store, 0, &tx), 0);
	assert_int_equal(rd(f, 0, tx, "/c/x"), 0);
	assert_int_equal(wr(f, 0, tx, "/c/mine", "tx"), 0);
	assert_int_equal(wr(f, 0, NO_TX, "/elsewhere", ""), 0);
	assert_int_equal(dmab_sim_store_tx_end(f->store, 0, tx, true), 0);
	assert_value(f, 0, NO_TX, "/c/mine", "tx");
	assert_int_equal(count_events(f, CA, "/c/mine", "mine"), 1);
}

static void test_tx_commit_fires(void **state)
{
	struct fixture *f = *state;
	const struct dmab_sim_store_perm read6[] = { { 5, P_NONE }, { 6, P_READ } };
	uint32_t tx;

	make_home(f, 5);
	assert_int_equal(wr(f, 5, NO_TX, "gone/inner", ""), 0);
	assert_int_equal(wr(f, 5, NO_TX, "perm", ""), 0);
	watch(f, 0, CA, "/local/domain/5", "all");
	watch(f, 0, CA, "/local/domain/5/gone/inner", "inner");
	watch(f, 6, CB, "/local/domain/5/perm", "six");
	clear_events(f);

	assert_int_equal(dmab_sim_store_tx_start(f->store, 5, &tx), 0);
	assert_int_equal(wr(f, 5, tx, "a", "1"), 0);
	assert_int_equal(wr(f, 5, tx, "a", "2"), 0);
	assert_int_equal(dmab_sim_store_mkdir(f->store, 5, tx, "b"), 0);
	assert_int_equal(dmab_sim_store_rm(f->store, 5, tx, "gone"), 0);
	assert_int_equal(dmab_sim_store_set_perms(f->store, 5, tx, "perm", read6, 2), 0);
	assert_int_equal(wr(f, 5, tx, "temp", ""), 0);
	assert_int_equal(dmab_sim_store_rm(f->store, 5, tx, "temp"), 0);
	assert_int_equal(f->count, 0);

	assert_int_equal(dmab_sim_store_tx_end(f->store, 5, tx, true), 0);
	assert_int_equal(count_events(f, CA, "/local/domain/5/a", "all"), 1);
	assert_int_equal(count_events(f, CA, "/local/domain/5/b", "all"), 1);
	assert_int_equal(count_events(f, CA, "/local/domain/5/gone", "all"), 1);
	assert_int_equal(count_events(f, CA, "/local/domain/5/gone/inner", "inner"), 1);
	assert_int_equal(count_events(f, CA, "/local/domain/5/perm", "all"), 1);
	assert_int_equal(count_events(f, CB, "/local/domain/5/perm", "six"), 1);
	/* Created and removed inside: nobody hears of it (as xenstored). */
	assert_int_equal(count_events(f, CA, "/local/domain/5/temp", "all"), 0);
	assert_int_equal(f->count, 6);
	assert_value(f, 6, NO_TX, "/local/domain/5/perm", "");
	assert_int_equal(dmab_sim_store_nodes_owned(f->store, 5), 4);

	/* Abort: nothing applied, nothing fired. */
	clear_events(f);
	assert_int_equal(dmab_sim_store_tx_start(f->store, 5, &tx), 0);
	assert_int_equal(wr(f, 5, tx, "aborted", "1"), 0);
	assert_int_equal(dmab_sim_store_rm(f->store, 5, tx, "a"), 0);
	assert_int_equal(dmab_sim_store_tx_end(f->store, 5, tx, false), 0);
	assert_int_equal(f->count, 0);
	assert_int_equal(rd(f, 5, NO_TX, "aborted"), -ENOENT);
	assert_value(f, 5, NO_TX, "a", "2");
	assert_int_equal(dmab_sim_store_nodes_owned(f->store, 5), 4);
}

static void test_tx_foreign_id(void **state)
{
	struct fixture *f = *state;
	uint32_t tx;
	char **names;
	unsigned int count;
	struct dmab_sim_store_perm *perms;
	const struct dmab_sim_store_perm p[] = { { 6, P_NONE } };

	make_home(f, 5);
	make_home(f, 6);
	assert_int_equal(dmab_sim_store_tx_start(f->store, 5, &tx), 0);
	assert_int_equal(wr(f, 5, tx, "mine", "5"), 0);

	assert_int_equal(rd(f, 6, tx, "/local/domain/5/mine"), -ENOENT);
	assert_int_equal(wr(f, 6, tx, "x", "6"), -ENOENT);
	assert_int_equal(dmab_sim_store_mkdir(f->store, 6, tx, "x"), -ENOENT);
	assert_int_equal(dmab_sim_store_rm(f->store, 6, tx, "x"), -ENOENT);
	assert_int_equal(dmab_sim_store_directory(f->store, 6, tx, "x", &names,
		&count), -ENOENT);
	assert_int_equal(dmab_sim_store_get_perms(f->store, 6, tx, "x", &perms,
		&count), -ENOENT);
	assert_int_equal(dmab_sim_store_set_perms(f->store, 6, tx, "x", p, 1), -ENOENT);
	assert_int_equal(dmab_sim_store_tx_end(f->store, 6, tx, true), -ENOENT);
	/* Not even dom0 may use a guest's transaction. */
	assert_int_equal(dmab_sim_store_tx_end(f->store, 0, tx, true), -ENOENT);
	assert_int_equal(rd(f, 5, tx + 1000, "mine"), -ENOENT);
	assert_int_equal(dmab_sim_store_tx_end(f->store, 5, tx + 1000, false), -ENOENT);
	assert_int_equal(dmab_sim_store_tx_end(f->store, 5, NO_TX, true), -ENOENT);
	assert_int_equal(rd(f, 6, NO_TX, "x"), -ENOENT);

	/* The owner's transaction survived all that. */
	assert_int_equal(dmab_sim_store_tx_end(f->store, 5, tx, true), 0);
	assert_value(f, 5, NO_TX, "mine", "5");
}

static void test_tx_limits(void **state)
{
	struct fixture *f = *state;
	uint32_t tx;

	make_home(f, 5);
	/* Node quota counts what the transaction created. */
	assert_int_equal(dmab_sim_store_tx_start(f->store, 5, &tx), 0);
	assert_int_equal(wr(f, 5, tx, "a/b", ""), 0);
	assert_int_equal(wr(f, 5, tx, "c/d", ""), 0);
	assert_int_equal(wr(f, 5, tx, "e", ""), -ENOSPC);
	assert_int_equal(dmab_sim_store_rm(f->store, 5, tx, "c"), 0);
	assert_int_equal(wr(f, 5, tx, "e", ""), 0);
	assert_int_equal(dmab_sim_store_tx_end(f->store, 5, tx, true), 0);
	assert_int_equal(dmab_sim_store_nodes_owned(f->store, 5), 4);

	/* Someone else used up the quota meanwhile: the commit is refused. */
	assert_int_equal(dmab_sim_store_tx_start(f->store, 5, &tx), 0);
	assert_int_equal(wr(f, 5, tx, "f", ""), 0);
	assert_int_equal(wr(f, 0, NO_TX, "/local/domain/5/by0", ""), 0);
	assert_int_equal(dmab_sim_store_tx_end(f->store, 5, tx, true), -ENOSPC);
	assert_int_equal(rd(f, 5, NO_TX, "f"), -ENOENT);
	assert_int_equal(dmab_sim_store_rm(f->store, 0, NO_TX, "/local/domain/5/by0"), 0);

	/* Touching more than 8 nodes fails the operation and the commit. */
	assert_int_equal(dmab_sim_store_tx_start(f->store, 5, &tx), 0);
	assert_int_equal(rd(f, 5, tx, "1"), -ENOENT);   /* 1, home */
	assert_int_equal(rd(f, 5, tx, "2"), -ENOENT);
	assert_int_equal(rd(f, 5, tx, "3"), -ENOENT);
	assert_int_equal(rd(f, 5, tx, "4"), -ENOENT);
	assert_int_equal(rd(f, 5, tx, "5"), -ENOENT);
	assert_int_equal(rd(f, 5, tx, "6"), -ENOENT);
	assert_int_equal(rd(f, 5, tx, "7"), -ENOENT);   /* 8 nodes */
	assert_int_equal(rd(f, 5, tx, "8"), -ENOSPC);
	assert_int_equal(rd(f, 5, tx, "7"), -ENOENT);   /* known ones still work */
	assert_int_equal(dmab_sim_store_tx_end(f->store, 5, tx, true), -ENOMEM);

	/* dom0 has none of these limits. */
	assert_int_equal(dmab_sim_store_tx_start(f->store, 0, &tx), 0);
	for (int i = 0; i < 50; i++) {
		char p[32];

		snprintf(p, sizeof(p), "/many/%d", i);
		assert_int_equal(wr(f, 0, tx, p, ""), 0);
	}
	assert_int_equal(dmab_sim_store_tx_end(f->store, 0, tx, true), 0);
	assert_value(f, 0, NO_TX, "/many/49", "");
}

/* ---------------------------------------------------------------- cleanup */

static void test_release_domain(void **state)
{
	struct fixture *f = *state;
	uint32_t tx, other;

	make_home(f, 5);
	make_home(f, 6);
	watch(f, 5, CA, "/local/domain/5", "five");
	watch(f, 5, CB, "dev", "five-rel");
	watch(f, 6, CA, "/local/domain/6", "six");
	watch(f, 5, CA, "/local/domain/5/x", "five-x");
	assert_int_equal(wr(f, 5, NO_TX, "x", "1"), 0);
	assert_int_equal(dmab_sim_store_tx_start(f->store, 5, &tx), 0);
	assert_int_equal(dmab_sim_store_tx_start(f->store, 6, &other), 0);
	assert_int_equal(wr(f, 5, tx, "pending", ""), 0);

	clear_events(f);
	dmab_sim_store_release_domain(f->store, 5);
	assert_int_equal(wr(f, 0, NO_TX, "/local/domain/5/dev/y", "1"), 0);
	assert_int_equal(wr(f, 0, NO_TX, "/local/domain/6/y", "1"), 0);
	assert_int_equal(f->count, 1);
	assert_int_equal(count_events(f, CA, "/local/domain/6/y", "six"), 1);
	assert_int_equal(dmab_sim_store_tx_end(f->store, 5, tx, true), -ENOENT);
	assert_int_equal(dmab_sim_store_unwatch(f->store, 5, CA, "/local/domain/5",
		"five"), -ENOENT);
	/* Its nodes stay (home, x, dev, dev/y); other domains are untouched. */
	assert_value(f, 0, NO_TX, "/local/domain/5/x", "1");
	assert_int_equal(rd(f, 0, NO_TX, "/local/domain/5/pending"), -ENOENT);
	assert_int_equal(dmab_sim_store_nodes_owned(f->store, 5), 4);
	assert_int_equal(dmab_sim_store_tx_end(f->store, 6, other, true), 0);

	/* Its quotas are free again. */
	watch(f, 5, CA, "/a", "1");
	watch(f, 5, CA, "/b", "2");
	watch(f, 5, CA, "/c", "3");
	assert_int_equal(dmab_sim_store_tx_start(f->store, 5, &tx), 0);
	assert_int_equal(dmab_sim_store_tx_start(f->store, 5, &tx), 0);
}

static void test_unwatch_conn(void **state)
{
	struct fixture *f = *state;

	watch(f, 0, CA, "/u", "a0");
	watch(f, 0, CB, "/u", "b0");
	watch(f, 5, CA, "@releaseDomain", "a5");
	clear_events(f);
	dmab_sim_store_unwatch_conn(f->store, CA);
	assert_int_equal(wr(f, 0, NO_TX, "/u", ""), 0);
	dmab_sim_store_domain_released(f->store, 9);
	assert_int_equal(f->count, 1);
	assert_int_equal(count_events(f, CB, "/u", "b0"), 1);
	assert_int_equal(dmab_sim_store_unwatch(f->store, 0, CA, "/u", "a0"), -ENOENT);
	assert_int_equal(dmab_sim_store_unwatch(f->store, 0, CB, "/u", "b0"), 0);
	/* The watch quota came back. */
	for (int i = 0; i < 3; i++) {
		char p[32];

		snprintf(p, sizeof(p), "/%d", i);
		watch(f, 5, CB, p, "t");
	}
}

/* Events queued by an operation are dropped with the conn during delivery. */
static void drop_conn(struct fixture *f, const struct event *e)
{
	if (e->conn == CA)
		dmab_sim_store_unwatch_conn(f->store, CB);
}

static void test_unwatch_conn_pending(void **state)
{
	struct fixture *f = *state;

	watch(f, 0, CA, "/p", "a");
	watch(f, 0, CB, "/p", "b");
	clear_events(f);
	f->hook = drop_conn;
	assert_int_equal(wr(f, 0, NO_TX, "/p", ""), 0);
	f->hook = NULL;
	assert_int_equal(f->count, 1);
	assert_int_equal(count_events(f, CA, "/p", "a"), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_destroy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relative_paths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_path_validation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_permissions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_permission_entries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_creates_parents, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_permissions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mkdir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_perms_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quota_nodes, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_quota_follows_ownership, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_quota_watches, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_quota_transactions, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_watch_initial_fire, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch_descendants, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch_relative_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch_rm_subtree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch_permissions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch_duplicates_unwatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_special_watches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_callback_reentrancy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_callback_unwatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_isolation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_repeatable_reads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_conflicts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_commit_fires, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_foreign_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_limits, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_release_domain, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_unwatch_conn, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_unwatch_conn_pending, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
