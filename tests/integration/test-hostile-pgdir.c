// SPDX-License-Identifier: MIT
/*
 * Hostile guests: page directories (struct xendispl_page_directory chains)
 * that lie. A chain that loops on one page, between two pages, or through
 * more pages than the server remembers; a chain too short or too long for
 * the buffer's size; buffer refs of 0; directory refs that were never
 * granted, whose grant ended, that are granted to another domain, or that
 * belong to a second guest's grant table; buffer refs of another guest;
 * the same for GET_EDID and, on a be-alloc device, for directories the
 * server writes into. Each is answered with an error (protocol/pgdir.c's
 * -EINVAL as -XEN_EINVAL; a buffer page granted to another domain is the
 * simulator's -EPERM, -XEN_EPERM), quickly, with a log line naming the
 * guest; a correct chain of the same sizes is taken, so the refusals are
 * not for some other reason.
 *
 * Without these defences: a loop makes the walk run forever (dmabridged
 * hangs, every guest's display freezes) or, unbounded, write refs past the
 * array sized from buffer_sz (heap overflow); a chain shorter than the
 * buffer leaves refs unset (0, or garbage from the allocator) that are then
 * mapped; a ref of 0 is the console's page on Xen; mapping a directory
 * from the wrong domain, or one granted to someone else, reads (be-alloc:
 * writes) another guest's memory; a failed be-alloc that does not free its
 * host buffer leaks it (the descriptor count shows it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <drm_fourcc.h>

#include "hv/sim/sim.h"
#include "protocol/pgdir.h"
#include "tests/integration/evil.h"

#define LIMITS \
	"[limits]\n" \
	"max-buffer-bytes = 536870912\n" \
	"max-bytes = 1073741824\n" \
	"requests-per-second = 0\n"

#define PER_PAGE ((uint32_t)DMAB_PGDIR_REFS_PER_PAGE)
/* A ref no table has: the simulator's tables grow from 8. */
#define NEVER_GRANTED 0x00fffff0u

/* Directory pages shared as one block, to be linked by hand. */
struct chain {
	uint32_t n;
	grant_ref_t *refs;
	void *pages;
};

static int chain_share(struct dmab_client *c, uint32_t n, domid_t remote, bool writable,
		struct chain *ch)
{
	ch->n = n;
	ch->refs = calloc(n, sizeof(*ch->refs));
	int ret = dmab_hv_share_alloc(dmab_frontend_hv(c), remote, n,
		writable ? DMAB_HV_SHARE_WRITABLE : 0, ch->refs, &ch->pages);
	if (ret)
		fprintf(stderr, "cannot share %u pages: %s\n", n, strerror(-ret));
	return ret;
}

static void chain_free(struct dmab_client *c, struct chain *ch)
{
	dmab_hv_share_free(dmab_frontend_hv(c), ch->pages, ch->n);
	free(ch->refs);
}

/* Page i: links to next, lists refs that look fine (nonzero) but are nobody's. */
static void chain_link(struct chain *ch, uint32_t i, grant_ref_t next)
{
	struct xendispl_page_directory *d = evil_dir_page(ch->pages, i);
	d->gref_dir_next_page = next;
	for (uint32_t k = 0; k < PER_PAGE; k++)
		d->gref[k] = 0x00e00000u + i * PER_PAGE + k;
}

/* A PRIME import of npages pages (no geometry: any size goes) at dir. */
static void import_req(struct xendispl_req *r, uint64_t cookie, uint32_t npages,
		grant_ref_t dir)
{
	dmab_fe_req_dbuf_create(r, cookie, 0, 0, 0, npages * DMAB_XEN_PAGE_SIZE, dir, false);
}

/* The refs a second guest granted to dom0: a directory and its four pages. */
struct accomplice {
	pid_t pid;
	int release;                    /* write a byte: it may go */
	grant_ref_t dir, pages[4];
};

static int accomplice_start(struct evil_env *env, struct accomplice *a)
{
	int up[2], down[2];
	if (pipe(up) || pipe(down))
		return -1;
	fflush(NULL);
	a->pid = fork();
	if (a->pid == 0) {
		struct dmab_hv *hv;
		grant_ref_t *filler = calloc(4000, sizeof(*filler)), refs[5];
		void *mem, *dir;
		/* Many refs first, so its directory's ref is past any of the hostile guest's. */
		if (dmab_hv_sim_connect(env->server.sim_socket, &hv) ||
				dmab_hv_share_alloc(hv, 0, 4000, 0, filler, &mem) ||
				dmab_hv_share_alloc(hv, 0, 4, DMAB_HV_SHARE_WRITABLE, refs + 1, &mem) ||
				dmab_hv_share_alloc(hv, 0, 1, DMAB_HV_SHARE_WRITABLE, refs, &dir))
			_exit(1);
		struct xendispl_page_directory *d = dir;
		memcpy(d->gref, refs + 1, 4 * sizeof(grant_ref_t));
		if (write(up[1], refs, sizeof(refs)) != sizeof(refs))
			_exit(2);
		char byte;
		if (read(down[0], &byte, 1) < 0)
			_exit(3);
		_exit(0);
	}
	close(up[1]);
	close(down[0]);
	a->release = down[1];
	grant_ref_t refs[5];
	ssize_t n = read(up[0], refs, sizeof(refs));
	close(up[0]);
	if (n != sizeof(refs))
		return -1;
	a->dir = refs[0];
	memcpy(a->pages, refs + 1, sizeof(a->pages));
	return 0;
}

static void accomplice_stop(struct accomplice *a)
{
	if (write(a->release, "x", 1) < 0)
		kill(a->pid, SIGKILL);
	close(a->release);
	waitpid(a->pid, NULL, 0);
}

static int chains(struct evil_env *env, void *data)
{
	struct dmab_client *c;
	if (evil_connect(env, false, 1, &c))
		return 100;
	struct dmab_test_server *s = &env->server;
	unsigned int dom = dmab_client_domid(c);
	domid_t be = dmab_frontend_backend_domid(c);
	uint64_t t0 = dmab_ts_now_ms();
	struct xendispl_req r;
	struct chain ch;
	int fails = 0;

	/*
	 * Before this guest holds many refs: the second guest's must not be
	 * ours. The accomplice is a simulated domain of its own; on Xen a
	 * process of this domU is this domain (the refs of another domU are
	 * Xen's to keep apart: hv-conformance's grant-errors).
	 */
	if (!env->xen) {
		struct accomplice a;
		if (accomplice_start(env, &a))
			return 101;
		import_req(&r, evil_cookie(), 4, a.dir);
		fails += evil_expect(c, "a directory from another guest's grant table", &r,
			-XEN_EINVAL);
		struct evil_pages own;
		if (evil_pages_share(c, 4 * DMAB_XEN_PAGE_SIZE, &own))
			return 102;
		memcpy(evil_dir_page(own.dir, 0)->gref, a.pages, sizeof(a.pages));
		import_req(&r, evil_cookie(), 4, own.dir_refs[0]);
		fails += evil_expect(c, "our directory listing another guest's pages", &r,
			-XEN_EINVAL);
		accomplice_stop(&a);
		evil_pages_free(c, &own);
	}

	/* The correct chain of two pages, for 1024 real pages: taken. */
	struct evil_pages big;
	if (evil_pages_share(c, 1024 * DMAB_XEN_PAGE_SIZE, &big))
		return 103;
	fails += EVIL_CHECK(big.dir_pages == 2, "%u directory pages for 1024 refs", big.dir_pages);
	uint64_t cookie = evil_cookie();
	dmab_fe_req_dbuf_create(&r, cookie, 1024, 1024, 32, 1024 * DMAB_XEN_PAGE_SIZE,
		big.dir_refs[0], false);
	fails += evil_expect(c, "a correct two-page directory", &r, 0);
	dmab_fe_req_dbuf_destroy(&r, cookie);
	fails += evil_expect(c, "DBUF_DESTROY", &r, 0);

	/* The same pages, the chain broken. */
	struct xendispl_page_directory *d0 = evil_dir_page(big.dir, 0);
	struct xendispl_page_directory *d1 = evil_dir_page(big.dir, 1);
	d0->gref_dir_next_page = 0;
	import_req(&r, evil_cookie(), 1024, big.dir_refs[0]);
	fails += evil_expect(c, "a chain one page short", &r, -XEN_EINVAL);
	fails += EVIL_CHECK(evil_log_count(s, "dom%u/vdispl0/0: DBUF_CREATE: directory ends "
		"after 1 of 2 pages", dom) == 1, "no log line for a short chain");
	d0->gref_dir_next_page = big.dir_refs[0];
	import_req(&r, evil_cookie(), 1024, big.dir_refs[0]);
	fails += evil_expect(c, "a page linking to itself", &r, -XEN_EINVAL);
	fails += EVIL_CHECK(evil_log_count(s, "dom%u/vdispl0/0: DBUF_CREATE: directory page 1 "
		"(ref %u) loops back", dom, big.dir_refs[0]) == 1, "no log line for a loop");
	d0->gref_dir_next_page = big.dir_refs[1];
	d1->gref_dir_next_page = big.dir_refs[0];
	import_req(&r, evil_cookie(), 1024, big.dir_refs[0]);
	fails += evil_expect(c, "a chain one page too long (back to the first)", &r, -XEN_EINVAL);
	d1->gref_dir_next_page = big.dir_refs[1];
	import_req(&r, evil_cookie(), 1024, big.dir_refs[0]);
	fails += evil_expect(c, "a chain one page too long (the last to itself)", &r, -XEN_EINVAL);
	d1->gref_dir_next_page = 0;
	import_req(&r, evil_cookie(), 1, big.dir_refs[0]);
	fails += evil_expect(c, "a chain of two pages for a one-page buffer", &r, -XEN_EINVAL);
	d1->gref[0] = 0;
	import_req(&r, evil_cookie(), 1024, big.dir_refs[0]);
	fails += evil_expect(c, "buffer ref 0 on the second directory page", &r, -XEN_EINVAL);
	d1->gref[0] = big.refs[PER_PAGE];
	grant_ref_t saved = d0->gref[5];
	d0->gref[5] = 0;
	import_req(&r, evil_cookie(), 1024, big.dir_refs[0]);
	fails += evil_expect(c, "buffer ref 0 on the first directory page", &r, -XEN_EINVAL);
	d0->gref[5] = NEVER_GRANTED;
	import_req(&r, evil_cookie(), 1024, big.dir_refs[0]);
	fails += evil_expect(c, "a buffer ref never granted", &r, -XEN_EINVAL);
	d0->gref[5] = saved;
	cookie = evil_cookie();
	import_req(&r, cookie, 1024, big.dir_refs[0]);
	fails += evil_expect(c, "mended again: taken", &r, 0);
	dmab_fe_req_dbuf_destroy(&r, cookie);
	fails += evil_expect(c, "DBUF_DESTROY", &r, 0);

	/* A -> B -> A, for a buffer that needs three directory pages. */
	if (chain_share(c, 2, be, true, &ch))
		return 104;
	chain_link(&ch, 0, ch.refs[1]);
	chain_link(&ch, 1, ch.refs[0]);
	import_req(&r, evil_cookie(), 2 * PER_PAGE + 1, ch.refs[0]);
	fails += evil_expect(c, "A -> B -> A", &r, -XEN_EINVAL);
	chain_free(c, &ch);

	/*
	 * A loop into the 66th page: past the 64 the walk remembers. It must
	 * still end, at the number of pages the size allows (100 here).
	 */
	if (chain_share(c, 70, be, true, &ch))
		return 105;
	for (uint32_t i = 0; i < 70; i++)
		chain_link(&ch, i, ch.refs[i < 69 ? i + 1 : 65]);
	uint64_t t = dmab_ts_now_ms();
	import_req(&r, evil_cookie(), 99 * PER_PAGE + 1, ch.refs[0]);
	fails += evil_expect(c, "a loop through 5 of 70 pages, for 100 pages", &r, -XEN_EINVAL);
	fails += EVIL_CHECK(dmab_ts_now_ms() - t < 2000, "the walk took %llu ms",
		(unsigned long long)(dmab_ts_now_ms() - t));
	chain_free(c, &ch);

	/* Directories the server may not map. */
	import_req(&r, evil_cookie(), 1, 0);
	fails += evil_expect(c, "directory ref 0", &r, -XEN_EINVAL);
	import_req(&r, evil_cookie(), 1, NEVER_GRANTED);
	fails += evil_expect(c, "a directory ref never granted", &r, -XEN_EINVAL);
	if (chain_share(c, 1, be, true, &ch))
		return 106;
	grant_ref_t ended = ch.refs[0];
	chain_free(c, &ch);
	import_req(&r, evil_cookie(), 1, ended);
	fails += evil_expect(c, "a directory whose grant ended", &r, -XEN_EINVAL);
	/* A correct directory, granted to the good guest instead of the backend. */
	if (chain_share(c, 1, (domid_t)env->good_domid, true, &ch))
		return 107;
	evil_dir_page(ch.pages, 0)->gref[0] = big.refs[0];
	import_req(&r, evil_cookie(), 1, ch.refs[0]);
	fails += evil_expect(c, "a directory granted to another domain", &r, -XEN_EINVAL);
	/* A directory the backend may map, listing a page granted to another domain. */
	struct chain other, dir;
	if (chain_share(c, 1, (domid_t)env->good_domid, true, &other) ||
			chain_share(c, 1, be, false, &dir))
		return 108;
	evil_dir_page(dir.pages, 0)->gref[0] = other.refs[0];
	import_req(&r, evil_cookie(), 1, dir.refs[0]);
	/* gntdev cannot tell "not ours" from "no such grant" (hv.h); the simulator can. */
	fails += evil_expect(c, "a buffer page granted to another domain", &r,
		env->xen ? -XEN_EINVAL : -XEN_EPERM);
	/* A read-only directory is fine for reading. */
	evil_dir_page(dir.pages, 0)->gref[0] = big.refs[0];
	cookie = evil_cookie();
	import_req(&r, cookie, 1, dir.refs[0]);
	fails += evil_expect(c, "a read-only directory", &r, 0);
	dmab_fe_req_dbuf_destroy(&r, cookie);
	fails += evil_expect(c, "DBUF_DESTROY", &r, 0);

	/* GET_EDID walks directories too. */
	chain_link(&ch, 0, 0);
	dmab_fe_req_get_edid(&r, XENDISPL_EDID_MAX_SIZE, ch.refs[0]);
	fails += evil_expect(c, "GET_EDID into a directory granted to another domain", &r,
		-XEN_EINVAL);
	dmab_fe_req_get_edid(&r, XENDISPL_EDID_MAX_SIZE, NEVER_GRANTED);
	fails += evil_expect(c, "GET_EDID into a directory never granted", &r, -XEN_EINVAL);
	/* Eight good refs for the 32 KiB, and then more directory. */
	memcpy(evil_dir_page(dir.pages, 0)->gref, big.refs, 8 * sizeof(grant_ref_t));
	evil_dir_page(dir.pages, 0)->gref_dir_next_page = dir.refs[0];
	dmab_fe_req_get_edid(&r, XENDISPL_EDID_MAX_SIZE, dir.refs[0]);
	fails += evil_expect(c, "GET_EDID into a directory linking to itself", &r, -XEN_EINVAL);
	chain_free(c, &ch);
	chain_free(c, &other);
	chain_free(c, &dir);

	fails += EVIL_CHECK(evil_pages_free(c, &big) == 0, "the server still maps our pages");
	fails += evil_log_bounded(s, dom, dmab_ts_now_ms() - t0);
	return fails;
}

/* be-alloc: the server writes the refs of its buffer into our directory. */
static int be_alloc(struct evil_env *env, void *data)
{
	struct dmab_client *c;
	if (evil_connect(env, true, 1, &c))
		return 100;
	domid_t be = dmab_frontend_backend_domid(c);
	struct xendispl_req r;
	struct chain ch;
	int fails = 0;
	if (chain_share(c, 2, be, true, &ch))
		return 101;
	struct xendispl_page_directory *d0 = evil_dir_page(ch.pages, 0);

	uint64_t cookie = evil_cookie();
	d0->gref_dir_next_page = 0;
	dmab_fe_req_dbuf_create(&r, cookie, 64, 64, 32, 16384, ch.refs[0], true);
	fails += evil_expect(c, "a correct be-alloc", &r, 0);
	fails += EVIL_CHECK(d0->gref[0] && d0->gref[3] && !d0->gref[4],
		"the server did not fill the directory: %u %u %u", d0->gref[0], d0->gref[3],
		d0->gref[4]);
	dmab_fe_req_dbuf_destroy(&r, cookie);
	fails += evil_expect(c, "DBUF_DESTROY", &r, 0);

	d0->gref_dir_next_page = ch.refs[0];
	dmab_fe_req_dbuf_create(&r, evil_cookie(), 1024, 1024, 32, 1024 * DMAB_XEN_PAGE_SIZE,
		ch.refs[0], true);
	fails += evil_expect(c, "be-alloc into a page linking to itself", &r, -XEN_EINVAL);
	d0->gref_dir_next_page = 0;
	dmab_fe_req_dbuf_create(&r, evil_cookie(), 1024, 1024, 32, 1024 * DMAB_XEN_PAGE_SIZE,
		ch.refs[0], true);
	fails += evil_expect(c, "be-alloc into a chain one page short", &r, -XEN_EINVAL);
	d0->gref_dir_next_page = ch.refs[1];
	dmab_fe_req_dbuf_create(&r, evil_cookie(), 64, 64, 32, 16384, ch.refs[0], true);
	fails += evil_expect(c, "be-alloc into a chain one page too long", &r, -XEN_EINVAL);
	dmab_fe_req_dbuf_create(&r, evil_cookie(), 64, 64, 32, 16384, NEVER_GRANTED, true);
	fails += evil_expect(c, "be-alloc into a directory never granted", &r, -XEN_EINVAL);
	chain_free(c, &ch);

	if (chain_share(c, 1, be, false, &ch))
		return 102;
	dmab_fe_req_dbuf_create(&r, evil_cookie(), 64, 64, 32, 16384, ch.refs[0], true);
	fails += evil_expect(c, "be-alloc into a read-only directory", &r, -XEN_EINVAL);
	fails += EVIL_CHECK(evil_dir_page(ch.pages, 0)->gref[0] == 0,
		"the server wrote into a read-only directory");
	chain_free(c, &ch);
	if (chain_share(c, 1, (domid_t)env->good_domid, true, &ch))
		return 103;
	dmab_fe_req_dbuf_create(&r, evil_cookie(), 64, 64, 32, 16384, ch.refs[0], true);
	fails += evil_expect(c, "be-alloc into a directory granted to another domain", &r,
		-XEN_EINVAL);
	fails += EVIL_CHECK(evil_dir_page(ch.pages, 0)->gref[0] == 0,
		"the server wrote into a directory granted to another domain");
	chain_free(c, &ch);
	return fails;
}

int main(void)
{
	struct evil_env env;
	if (evil_env_start(&env, LIMITS))
		return 1;
	evil_env_hostile(&env, "page directories that lie", chains, NULL, 0, 60000);
	evil_env_hostile(&env, "be-alloc into directories that lie", be_alloc, NULL, 0, 60000);
	return evil_env_finish(&env) ? 1 : 0;
}
