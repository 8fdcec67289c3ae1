// SPDX-License-Identifier: MIT
/* Conformance cases for the store: nodes, permissions, transactions, watches. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/hv/conformance.h"

#define NO_TX DMAB_HV_NO_TX

/* base + "/" + rel, in buf. */
static const char *at(char *buf, size_t len, const char *base, const char *rel)
{
	if (snprintf(buf, len, "%s/%s", base, rel) >= (int)len)
		buf[0] = '\0'; /* an empty path fails loudly */
	return buf;
}

#define P(rel) at(pbuf, sizeof(pbuf), base, (rel))

static int write_node(struct conf *t, dmab_hv_tx_t tx, const char *path, const char *value)
{
	return dmab_hv_store_write(t->hv, tx, path, value);
}

static int read_rc(struct conf *t, dmab_hv_tx_t tx, const char *path)
{
	char *v = NULL;
	int ret = dmab_hv_store_read(t->hv, tx, path, &v);
	free(v);
	return ret;
}

static int dir_rc(struct conf *t, const char *path)
{
	char **names = NULL;
	unsigned int count;
	int ret = dmab_hv_store_directory(t->hv, NO_TX, path, &names, &count);
	free(names);
	return ret;
}

/* ---- store: read, write, remove, directory ---- */

static int store_guest(struct conf *t)
{
	char base[160], pbuf[256], big[5001];
	conf_scratch(t, base, sizeof(base));

	CHECK_RET(t, write_node(t, NO_TX, P("a"), "hello"), 0);
	CHECK_READ(t, NO_TX, P("a"), "hello");
	CHECK_RET(t, write_node(t, NO_TX, P("b"), ""), 0);
	CHECK_READ(t, NO_TX, P("b"), "");
	CHECK_RET(t, dmab_hv_store_printf(t->hv, NO_TX, P("c"), "%d-%s", 42, "x"), 0);
	CHECK_READ(t, NO_TX, P("c"), "42-x");

	/* Missing parents are created, with empty values. */
	CHECK_RET(t, write_node(t, NO_TX, P("d/e/f"), "deep"), 0);
	CHECK_READ(t, NO_TX, P("d/e/f"), "deep");
	CHECK_READ(t, NO_TX, P("d/e"), "");
	CHECK_DIR(t, NO_TX, base, "a b c d");
	CHECK_DIR(t, NO_TX, P("d/e"), "f");
	CHECK_DIR(t, NO_TX, P("a"), "");

	/* Remove takes the subtree; removing what is gone is fine. */
	CHECK_RET(t, dmab_hv_store_remove(t->hv, NO_TX, P("d")), 0);
	CHECK_RET(t, read_rc(t, NO_TX, P("d/e/f")), -ENOENT);
	CHECK_RET(t, read_rc(t, NO_TX, P("d")), -ENOENT);
	CHECK_RET(t, dmab_hv_store_remove(t->hv, NO_TX, P("d")), 0);
	CHECK_RET(t, read_rc(t, NO_TX, P("none")), -ENOENT);
	CHECK_RET(t, dir_rc(t, P("none")), -ENOENT);
	CHECK_DIR(t, NO_TX, base, "a b c");

	CHECK_RET(t, write_node(t, NO_TX, P("a"), "world"), 0);
	CHECK_READ(t, NO_TX, P("a"), "world");

	/* Values up to a couple of KiB go through; beyond the payload limit they do not. */
	memset(big, 'v', 2000);
	big[2000] = '\0';
	CHECK_RET(t, write_node(t, NO_TX, P("big"), big), 0);
	CHECK_READ(t, NO_TX, P("big"), big);
	memset(big, 'v', 5000);
	big[5000] = '\0';
	CHECK_RET(t, write_node(t, NO_TX, P("big"), big), -E2BIG);
	CHECK_RET(t, dmab_hv_store_remove(t->hv, NO_TX, P("big")), 0);

	/* Relative paths are relative to our own domain's directory. */
	char domid[16];
	snprintf(domid, sizeof(domid), "%u", t->self);
	CHECK_READ(t, NO_TX, "domid", domid);

	TRY(conf_fe_put(t, "done", "1"));
	TRY(conf_fe_get(t, "wrote", NULL));
	/* dom0 wrote into our directory: we own what it created there. */
	CHECK_READ(t, NO_TX, P("from-dom0"), "hi");
	CHECK_RET(t, write_node(t, NO_TX, P("from-dom0"), "mine"), 0);
	CHECK_RET(t, dmab_hv_store_remove(t->hv, NO_TX, base), 0);
	CHECK_RET(t, read_rc(t, NO_TX, base), -ENOENT);
	return CONF_PASS;
}

static int store_backend(struct conf *t)
{
	char base[160], gbase[160], pbuf[256];
	conf_scratch(t, base, sizeof(base));
	conf_scratch_of(t, t->guest[0], gbase, sizeof(gbase));

	CHECK_RET(t, write_node(t, NO_TX, P("x"), "1"), 0);
	CHECK_READ(t, NO_TX, P("x"), "1");
	CHECK_RET(t, write_node(t, NO_TX, P("y/z"), "2"), 0);
	CHECK_DIR(t, NO_TX, base, "x y");
	CHECK_RET(t, dmab_hv_store_remove(t->hv, NO_TX, base), 0);
	CHECK_RET(t, read_rc(t, NO_TX, P("x")), -ENOENT);

	TRY(conf_be_get(t, 0, "done", NULL));
	/* dom0 reads every domain's nodes. */
	CHECK_READ(t, NO_TX, at(pbuf, sizeof(pbuf), gbase, "a"), "world");
	CHECK_READ(t, NO_TX, at(pbuf, sizeof(pbuf), gbase, "c"), "42-x");
	CHECK_DIR(t, NO_TX, gbase, "a b c");
	CHECK_RET(t, write_node(t, NO_TX, at(pbuf, sizeof(pbuf), gbase, "from-dom0"), "hi"), 0);
	TRY(conf_be_put(t, 0, "wrote", "1"));
	return CONF_PASS;
}

/* ---- permissions ---- */

static int perms_guest(struct conf *t)
{
	char base[160], pbuf[256], *secret = NULL, *other = NULL, path[256];
	conf_scratch(t, base, sizeof(base));
	CHECK_RET(t, write_node(t, NO_TX, P("mine"), t->index ? "b" : "a"), 0);
	TRY(conf_fe_put(t, "mine", "%s", P("mine")));
	int ret = conf_fe_get(t, "secret", &secret);
	if (!ret)
		ret = conf_fe_get(t, "other", &other);
	if (ret) {
		free(secret);
		return ret;
	}
	char sec[256], oth[256], sdir[256], odir[256];
	snprintf(sec, sizeof(sec), "%s", secret);
	snprintf(oth, sizeof(oth), "%s", other);
	free(secret);
	free(other);
	snprintf(sdir, sizeof(sdir), "%s", sec);
	*strrchr(sdir, '/') = '\0';
	snprintf(odir, sizeof(odir), "%s", oth);
	*strrchr(odir, '/') = '\0';

	/* dom0's nodes: nothing at all. */
	CHECK_RET(t, read_rc(t, NO_TX, sec), -EACCES);
	CHECK_RET(t, write_node(t, NO_TX, sec, "x"), -EACCES);
	CHECK_RET(t, write_node(t, NO_TX, at(path, sizeof(path), sdir, "new"), "x"), -EACCES);
	CHECK_RET(t, dmab_hv_store_remove(t->hv, NO_TX, sec), -EACCES);
	CHECK_RET(t, dir_rc(t, sdir), -EACCES);
	/* The other guest's: nothing either. */
	CHECK_RET(t, read_rc(t, NO_TX, oth), -EACCES);
	CHECK_RET(t, write_node(t, NO_TX, oth, "x"), -EACCES);
	CHECK_RET(t, dmab_hv_store_remove(t->hv, NO_TX, oth), -EACCES);
	CHECK_RET(t, write_node(t, NO_TX, at(path, sizeof(path), odir, "new"), "x"), -EACCES);
	CHECK_RET(t, dir_rc(t, odir), -EACCES);

	/* The toolstack's nodes: the other domain's are hidden, our own read-only. */
	snprintf(path, sizeof(path), "/local/domain/%u/name", t->peer);
	CHECK_RET(t, read_rc(t, NO_TX, path), -EACCES);
	snprintf(path, sizeof(path), "/local/domain/%u", t->peer);
	CHECK_RET(t, read_rc(t, NO_TX, path), -EACCES);
	snprintf(path, sizeof(path), "/local/domain/%u/name", t->self);
	CHECK_RET(t, read_rc(t, NO_TX, path), 0);
	CHECK_RET(t, write_node(t, NO_TX, path, "renamed"), -EACCES);
	snprintf(path, sizeof(path), "/local/domain/%u/domid", t->self);
	CHECK_RET(t, write_node(t, NO_TX, path, "0"), -EACCES);
	CHECK_READ(t, NO_TX, P("mine"), t->index ? "b" : "a");
	TRY(conf_fe_put(t, "checked", "1"));
	return CONF_PASS;
}

static int perms_backend(struct conf *t)
{
	char base[160], pbuf[256], *mine[2] = { NULL, NULL };
	conf_scratch(t, base, sizeof(base));
	CHECK_RET(t, write_node(t, NO_TX, P("secret"), "s"), 0);
	for (unsigned int i = 0; i < 2; i++)
		CHECK(t, dmab_hv_domain_alive(t->hv, t->guest[i]), "guest %u not alive", t->guest[i]);
	CHECK(t, !dmab_hv_domain_alive(t->hv, DOMID_FIRST_RESERVED - 1),
		"domain %u alive", DOMID_FIRST_RESERVED - 1);

	int ret = conf_be_get(t, 0, "mine", &mine[0]);
	if (!ret)
		ret = conf_be_get(t, 1, "mine", &mine[1]);
	for (unsigned int i = 0; i < 2 && !ret; i++) {
		ret = conf_be_put(t, i, "secret", "%s", P("secret"));
		if (!ret)
			ret = conf_be_put(t, i, "other", "%s", mine[1 - i]);
	}
	for (unsigned int i = 0; i < 2 && !ret; i++)
		ret = conf_be_get(t, i, "checked", NULL);
	/* Nothing the guests tried changed anything. */
	if (!ret)
		ret = conf_check_read(t, __FILE__, __LINE__, NO_TX, P("secret"), "s");
	for (unsigned int i = 0; i < 2 && !ret; i++)
		ret = conf_check_read(t, __FILE__, __LINE__, NO_TX, mine[i], i ? "b" : "a");
	if (!ret)
		ret = conf_check_dir(t, __FILE__, __LINE__, NO_TX, base, "secret");
	free(mine[0]);
	free(mine[1]);
	return ret;
}

/* ---- transactions ---- */

static int tx_guest(struct conf *t)
{
	char base[160], pbuf[256];
	dmab_hv_tx_t tx, tx2;
	conf_scratch(t, base, sizeof(base));
	CHECK_RET(t, write_node(t, NO_TX, P("x"), "0"), 0);

	/* Commit: invisible outside until then, all at once after. */
	CHECK_RET(t, dmab_hv_store_tx_start(t->hv, &tx), 0);
	CHECK(t, tx != NO_TX, "transaction id %u", tx);
	CHECK_RET(t, write_node(t, tx, P("a"), "1"), 0);
	CHECK_RET(t, write_node(t, tx, P("b"), "2"), 0);
	CHECK_READ(t, tx, P("a"), "1");
	CHECK_DIR(t, tx, base, "a b x");
	CHECK_RET(t, read_rc(t, NO_TX, P("a")), -ENOENT);
	CHECK_RET(t, dmab_hv_store_tx_end(t->hv, tx, false), 0);
	CHECK_READ(t, NO_TX, P("a"), "1");
	CHECK_READ(t, NO_TX, P("b"), "2");

	/* Abort: nothing applied. */
	CHECK_RET(t, dmab_hv_store_tx_start(t->hv, &tx), 0);
	CHECK_RET(t, write_node(t, tx, P("c"), "3"), 0);
	CHECK_RET(t, dmab_hv_store_remove(t->hv, tx, P("a")), 0);
	CHECK_RET(t, dmab_hv_store_tx_end(t->hv, tx, true), 0);
	CHECK_RET(t, read_rc(t, NO_TX, P("c")), -ENOENT);
	CHECK_READ(t, NO_TX, P("a"), "1");

	/* Two transactions of ours over the same node: the later commit loses. */
	CHECK_RET(t, dmab_hv_store_tx_start(t->hv, &tx), 0);
	CHECK_RET(t, dmab_hv_store_tx_start(t->hv, &tx2), 0);
	CHECK_READ(t, tx, P("x"), "0");
	CHECK_READ(t, tx2, P("x"), "0");
	CHECK_RET(t, write_node(t, tx2, P("x"), "t2"), 0);
	CHECK_RET(t, dmab_hv_store_tx_end(t->hv, tx2, false), 0);
	CHECK_RET(t, write_node(t, tx, P("x"), "t1"), 0);
	CHECK_RET(t, write_node(t, tx, P("d"), "t1"), 0);
	CHECK_RET(t, dmab_hv_store_tx_end(t->hv, tx, false), -EAGAIN);
	CHECK_READ(t, NO_TX, P("x"), "t2");
	CHECK_RET(t, read_rc(t, NO_TX, P("d")), -ENOENT);

	/* dom0 changes a node our transaction read: -EAGAIN, nothing applied. */
	CHECK_RET(t, dmab_hv_store_tx_start(t->hv, &tx), 0);
	CHECK_READ(t, tx, P("x"), "t2");
	TRY(conf_fe_put(t, "in-tx", "1"));
	TRY(conf_fe_get(t, "wrote", NULL));
	CHECK_READ(t, tx, P("x"), "t2");
	CHECK_RET(t, write_node(t, tx, P("x"), "guest"), 0);
	CHECK_RET(t, write_node(t, tx, P("e"), "guest"), 0);
	CHECK_RET(t, dmab_hv_store_tx_end(t->hv, tx, false), -EAGAIN);
	CHECK_READ(t, NO_TX, P("x"), "dom0");
	CHECK_RET(t, read_rc(t, NO_TX, P("e")), -ENOENT);

	/* Starting over works. */
	CHECK_RET(t, dmab_hv_store_tx_start(t->hv, &tx), 0);
	CHECK_READ(t, tx, P("x"), "dom0");
	CHECK_RET(t, write_node(t, tx, P("x"), "final"), 0);
	CHECK_RET(t, dmab_hv_store_tx_end(t->hv, tx, false), 0);
	CHECK_READ(t, NO_TX, P("x"), "final");
	return CONF_PASS;
}

static int tx_backend(struct conf *t)
{
	char base[160], gbase[160], pbuf[256];
	dmab_hv_tx_t tx;
	conf_scratch(t, base, sizeof(base));
	conf_scratch_of(t, t->guest[0], gbase, sizeof(gbase));

	/* Our own: a conflict with a plain write, an abort, a commit. */
	CHECK_RET(t, write_node(t, NO_TX, P("x"), "0"), 0);
	CHECK_RET(t, dmab_hv_store_tx_start(t->hv, &tx), 0);
	CHECK_READ(t, tx, P("x"), "0");
	CHECK_RET(t, write_node(t, NO_TX, P("x"), "outside"), 0);
	CHECK_RET(t, write_node(t, tx, P("x"), "inside"), 0);
	CHECK_RET(t, write_node(t, tx, P("y"), "inside"), 0);
	CHECK_RET(t, dmab_hv_store_tx_end(t->hv, tx, false), -EAGAIN);
	CHECK_READ(t, NO_TX, P("x"), "outside");
	CHECK_RET(t, read_rc(t, NO_TX, P("y")), -ENOENT);
	CHECK_RET(t, dmab_hv_store_tx_start(t->hv, &tx), 0);
	CHECK_RET(t, write_node(t, tx, P("y"), "1"), 0);
	CHECK_RET(t, dmab_hv_store_tx_end(t->hv, tx, true), 0);
	CHECK_RET(t, read_rc(t, NO_TX, P("y")), -ENOENT);
	CHECK_RET(t, dmab_hv_store_tx_start(t->hv, &tx), 0);
	CHECK_RET(t, write_node(t, tx, P("y"), "2"), 0);
	CHECK_RET(t, dmab_hv_store_tx_end(t->hv, tx, false), 0);
	CHECK_READ(t, NO_TX, P("y"), "2");

	/* The guest's: change a node under its open transaction. */
	TRY(conf_be_get(t, 0, "in-tx", NULL));
	CHECK_RET(t, write_node(t, NO_TX, at(pbuf, sizeof(pbuf), gbase, "x"), "dom0"), 0);
	TRY(conf_be_put(t, 0, "wrote", "1"));
	return CONF_PASS;
}

/* ---- watches ---- */

struct saw_arg {
	struct conf_watch *w;
	const char *path;
};

static int saw(struct conf *t, void *arg)
{
	struct saw_arg *a = arg;
	return conf_watch_saw(a->w, a->path, false);
}

static int wait_saw(struct conf *t, struct conf_watch *w, const char *path)
{
	struct saw_arg a = { w, path };
	return conf_wait(t, path, saw, &a);
}

/* The same checks on either side, in the caller's scratch directory. */
static int watch_checks(struct conf *t, const char *base)
{
	char w[200], pbuf[256];
	struct conf_watch *w1, *w2, *w3;
	snprintf(w, sizeof(w), "%s/w", base);

	/* Fires once when added, with the path as given, node present or not. */
	TRY(conf_watch_add(t, w, 0, &w1));
	TRY(conf_wait_count(t, "the initial watch event", &w1->count, 1));
	CHECK(t, strcmp(w1->paths[0], w) == 0, "initial event for %s, want %s", w1->paths[0], w);

	/* Fires for changes at or under the path. */
	CHECK_RET(t, write_node(t, NO_TX, at(pbuf, sizeof(pbuf), w, "x"), "1"), 0);
	TRY(wait_saw(t, w1, pbuf));

	/* No callback after removal: w2 sees two changes after it, w1 nothing. */
	TRY(conf_watch_add(t, w, 0, &w2));
	TRY(conf_wait_count(t, "the second watch's initial event", &w2->count, 1));
	unsigned int before = w1->count;
	conf_watch_remove(w1);
	CHECK_RET(t, write_node(t, NO_TX, w, "2"), 0);
	CHECK_RET(t, write_node(t, NO_TX, at(pbuf, sizeof(pbuf), w, "y"), "1"), 0);
	TRY(wait_saw(t, w2, pbuf));
	CHECK(t, w1->count == before, "removed watch called %u more times", w1->count - before);

	/* A watch that removes itself from its own callback (at its 2nd event). */
	TRY(conf_watch_add(t, w, 2, &w3));
	TRY(conf_wait_count(t, "the third watch's initial event", &w3->count, 1));
	CHECK_RET(t, write_node(t, NO_TX, at(pbuf, sizeof(pbuf), w, "z"), "1"), 0);
	TRY(conf_wait_count(t, "the self-removing watch", &w3->count, 2));
	CHECK(t, w3->watch == NULL, "watch not removed");
	CHECK_RET(t, write_node(t, NO_TX, at(pbuf, sizeof(pbuf), w, "zz"), "1"), 0);
	TRY(wait_saw(t, w2, pbuf));
	CHECK(t, w3->count == 2, "self-removed watch called %u times, want 2", w3->count);

	/* Removal fires too. */
	CHECK_RET(t, dmab_hv_store_remove(t->hv, NO_TX, at(pbuf, sizeof(pbuf), w, "x")), 0);
	TRY(wait_saw(t, w2, pbuf));
	conf_watch_remove(w2);
	return CONF_PASS;
}

struct value_arg {
	struct conf_watch *w;
	const char *path;
	const char *want;
};

/* An event after the initial one, and the node holds want. */
static int changed_to(struct conf *t, void *arg)
{
	struct value_arg *a = arg;
	if (a->w->count < 2)
		return 0;
	char *v = NULL;
	int ret = dmab_hv_store_read(t->hv, NO_TX, a->path, &v);
	bool done = ret == 0 && strcmp(v, a->want) == 0;
	free(v);
	return done;
}

static int watch_other_side(struct conf *t, const char *path, const char *want,
		int (*announce)(struct conf *t))
{
	struct conf_watch *w;
	TRY(conf_watch_add(t, path, 0, &w));
	TRY(conf_wait_count(t, "the initial watch event", &w->count, 1));
	TRY(announce(t));
	struct value_arg a = { w, path, want };
	TRY(conf_wait(t, path, changed_to, &a));
	CHECK(t, conf_watch_saw(w, path, false), "no event for %s", path);
	conf_watch_remove(w);
	return 0;
}

static int announce_fe(struct conf *t)
{
	return conf_fe_put(t, "watching", "1");
}

static int announce_be(struct conf *t)
{
	return conf_be_put(t, 0, "watching", "1");
}

static int watch_guest(struct conf *t)
{
	char base[160], pbuf[256];
	conf_scratch(t, base, sizeof(base));
	TRY(watch_checks(t, base));
	/* dom0 writes into our directory; we see it. */
	TRY(watch_other_side(t, P("from-dom0"), "hello", announce_fe));
	/* We write what dom0 watches. */
	TRY(conf_fe_get(t, "watching", NULL));
	CHECK_RET(t, write_node(t, NO_TX, P("to-dom0"), "x"), 0);
	return CONF_PASS;
}

static int watch_backend(struct conf *t)
{
	char base[160], gbase[160], pbuf[256];
	conf_scratch(t, base, sizeof(base));
	conf_scratch_of(t, t->guest[0], gbase, sizeof(gbase));
	TRY(watch_checks(t, base));
	TRY(conf_be_get(t, 0, "watching", NULL));
	CHECK_RET(t, write_node(t, NO_TX, at(pbuf, sizeof(pbuf), gbase, "from-dom0"), "hello"), 0);
	TRY(watch_other_side(t, at(pbuf, sizeof(pbuf), gbase, "to-dom0"), "x", announce_be));
	return CONF_PASS;
}

/* ---- writes that never bring back a removed directory ---- */

/* What a backend does with its state node, on both sides of a removal. */
static int write_in_checks(struct conf *t, const char *base)
{
	char pbuf[256];
	const struct dmab_hv_store_node nodes[] = { { "state", "4" }, { "versions", "1,2" } };
	CHECK_RET(t, write_node(t, NO_TX, P("dev/online"), "1"), 0);
	CHECK_RET(t, dmab_hv_store_write_in(t->hv, P("dev"), nodes, 2), 0);
	CHECK_READ(t, NO_TX, P("dev/state"), "4");
	CHECK_READ(t, NO_TX, P("dev/versions"), "1,2");
	CHECK_DIR(t, NO_TX, P("dev"), "online state versions");

	CHECK_RET(t, dmab_hv_store_remove(t->hv, NO_TX, P("dev")), 0);
	/* More times than transactions may be open at once: none is left open. */
	for (int i = 0; i < 20; i++)
		CHECK_RET(t, dmab_hv_store_write_in(t->hv, P("dev"), nodes, 2), -ENOENT);
	CHECK_RET(t, read_rc(t, NO_TX, P("dev/state")), -ENOENT);
	CHECK_RET(t, read_rc(t, NO_TX, P("dev")), -ENOENT);
	CHECK_DIR(t, NO_TX, base, "");
	return CONF_PASS;
}

static int write_in_guest(struct conf *t)
{
	char base[160];
	conf_scratch(t, base, sizeof(base));
	CHECK_RET(t, write_node(t, NO_TX, base, ""), 0);
	return write_in_checks(t, base);
}

static int write_in_backend(struct conf *t)
{
	char base[160];
	conf_scratch(t, base, sizeof(base));
	CHECK_RET(t, write_node(t, NO_TX, base, ""), 0);
	TRY(write_in_checks(t, base));
	CHECK_RET(t, dmab_hv_store_remove(t->hv, NO_TX, base), 0);
	return CONF_PASS;
}

const struct conf_case conf_cases_store[] = {
	{ "store", 1, false, store_backend, store_guest },
	{ "perms", 2, false, perms_backend, perms_guest },
	{ "tx", 1, false, tx_backend, tx_guest },
	{ "watch", 1, false, watch_backend, watch_guest },
	{ "write-in", 1, false, write_in_backend, write_in_guest },
	{ 0 },
};
