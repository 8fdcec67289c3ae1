// SPDX-License-Identifier: MIT
/*
 * Hostile guests that die (SIGKILL) in the middle of everything: with
 * answers the server still owes (FB_DETACH and DBUF_DESTROY of what is on
 * screen), with a full ring it never announced, while the server works
 * through 32 buffer creations, while a thread rewrites the ring and the
 * page directory, with its event page full, while the server drops it,
 * and at random moments of a busy batch. Each time the server must clean
 * up everything of the guest (its device gone, its descriptors released,
 * its frames off the screen) and go on: the well-behaved guest keeps its
 * frames, and a new guest afterwards is served as usual.
 *
 * Without it: answers owed to a dead guest are written through freed
 * connectors (use after free, as DBUF_DESTROY's deferred answer once was),
 * grants of a dead domain stay mapped for ever (descriptors and memory
 * leak with every guest that crashes: the descriptor count sees it), a
 * framebuffer of the dead guest stays on screen, or the server blocks
 * waiting for a domain that will never answer.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <drm_fourcc.h>

#include "tests/integration/evil.h"

#define LIMITS "[limits]\nrequests-per-second = 0\n"
#define RING_SLOTS 32u

static void die(void)
{
	fflush(NULL);
	raise(SIGKILL);
}

/* A buffer of our own pages with a framebuffer, shown on connector index. */
static int shown_buffer(struct dmab_client *c, unsigned int index, struct evil_pages *p,
		uint64_t *dbuf, uint64_t *fb)
{
	struct xendispl_req r;
	if (evil_pages_share(c, 64 * 32 * 4, p))
		return 1;
	dmab_ts_fill(p->data, 64 * 4, 64, 32, index + 3);
	*dbuf = evil_cookie();
	*fb = evil_cookie();
	evil_req_dbuf(&r, *dbuf, 64, 32, p);
	int fails = evil_expect(c, "DBUF_CREATE", &r, 0);
	dmab_fe_req_fb_attach(&r, *dbuf, *fb, 64, 32, DRM_FORMAT_XRGB8888);
	fails += evil_expect(c, "FB_ATTACH", &r, 0);
	dmab_fe_req_set_config(&r, *fb, 0, 0, 64, 32, 32);
	fails += EVIL_CHECK(evil_call(c, index, &r) == 0, "SET_CONFIG");
	return fails;
}

/* Put n requests without waiting for anything. */
static int put_all(struct dmab_client *c, struct xendispl_req *reqs, unsigned int n, bool notify)
{
	for (unsigned int i = 0; i < n; i++) {
		reqs[i].id = (uint16_t)(0x9000 + i);
		if (dmab_frontend_put(c, 0, &reqs[i], false))
			return 1;
	}
	return notify ? dmab_frontend_notify(c, 0) != 0 : 0;
}

static int owed_answers(struct evil_env *env, void *data)
{
	struct dmab_client *c;
	if (evil_connect(env, false, 2, &c))
		return 100;
	struct evil_pages pa, pb, pc;
	uint64_t da, fa, db, fbb;
	int fails = shown_buffer(c, 0, &pa, &da, &fa) + shown_buffer(c, 1, &pb, &db, &fbb);
	if (evil_pages_share(c, 16384, &pc))
		return 101;
	evil_sleep_ms(50); /* on screen: their detach and destroy wait for the display */
	if (fails)
		return fails;
	struct xendispl_req reqs[6];
	dmab_fe_req_fb_detach(&reqs[0], fa);
	dmab_fe_req_dbuf_destroy(&reqs[1], db);
	dmab_fe_req_pg_flip(&reqs[2], fa);
	evil_req_dbuf(&reqs[3], evil_cookie(), 64, 64, &pc);
	dmab_fe_req_get_edid(&reqs[4], XENDISPL_EDID_BLOCK_SIZE, pc.dir_refs[0]);
	dmab_fe_req_dbuf_destroy(&reqs[5], da);
	if (put_all(c, reqs, 6, true))
		return 102;
	die();
	return 103;
}

static int never_notified(struct evil_env *env, void *data)
{
	struct dmab_client *c;
	if (evil_connect(env, false, 1, &c))
		return 100;
	struct evil_pages p;
	if (evil_pages_share(c, 16384, &p))
		return 101;
	struct xendispl_req reqs[RING_SLOTS];
	for (unsigned int i = 0; i < RING_SLOTS; i++)
		evil_req_dbuf(&reqs[i], evil_cookie(), 64, 64, &p);
	if (put_all(c, reqs, RING_SLOTS, false))
		return 102;
	die();
	return 103;
}

static int mid_creation(struct evil_env *env, void *data)
{
	struct dmab_client *c;
	if (evil_connect(env, false, 1, &c))
		return 100;
	/* 32 buffers of 1 MiB over the same pages: each a walk and a mapping. */
	struct evil_pages p;
	if (evil_pages_share(c, 1 << 20, &p))
		return 101;
	struct xendispl_req reqs[RING_SLOTS];
	for (unsigned int i = 0; i < RING_SLOTS; i++)
		evil_req_dbuf(&reqs[i], evil_cookie(), 512, 512, &p);
	if (put_all(c, reqs, RING_SLOTS, true))
		return 102;
	die();
	return 103;
}

struct scribble {
	struct xen_displif_sring *sring;
	struct xendispl_page_directory *dir;
	grant_ref_t good;
};

static void *scribbler(void *data)
{
	struct scribble *s = data;
	struct xendispl_req junk;
	memset(&junk, 0x5a, sizeof(junk));
	for (uint32_t n = 0;; n++) {
		memcpy(&s->sring->ring[n % RING_SLOTS].req, &junk, sizeof(junk));
		__atomic_store_n(&s->dir->gref[n % 4], n % 2 ? s->good : 0, __ATOMIC_RELAXED);
		__atomic_store_n(&s->dir->gref_dir_next_page, n % 3 ? 0 : n, __ATOMIC_RELAXED);
	}
	return NULL;
}

static int while_rewriting(struct evil_env *env, void *data)
{
	struct dmab_client *c;
	if (evil_connect(env, false, 1, &c))
		return 100;
	struct evil_pages p;
	if (evil_pages_share(c, 16384, &p))
		return 101;
	struct xendispl_req reqs[16];
	for (unsigned int i = 0; i < 16; i++)
		evil_req_dbuf(&reqs[i], evil_cookie(), 64, 64, &p);
	struct scribble s = { dmab_frontend_sring(c, 0), evil_dir_page(p.dir, 0), p.refs[0] };
	pthread_t thread;
	if (put_all(c, reqs, 16, true) || pthread_create(&thread, NULL, scribbler, &s))
		return 102;
	evil_sleep_ms(2);
	die();
	return 103;
}

static int events_full(struct evil_env *env, void *data)
{
	struct dmab_client *c;
	if (evil_connect(env, false, 1, &c))
		return 100;
	struct evil_pages p;
	uint64_t dbuf, fb;
	if (shown_buffer(c, 0, &p, &dbuf, &fb))
		return 101;
	char conn[32];
	snprintf(conn, sizeof(conn), "%u/0/0", dmab_client_domid(c));
	struct xendispl_req r;
	for (int i = 0; evil_stat(&env->server, conn, "events_dropped") < 5; i++) {
		if (i > 500)
			return 102;
		dmab_fe_req_pg_flip(&r, fb);
		if (evil_call(c, 0, &r) != 0)
			return 103;
		evil_sleep_ms(5);
	}
	dmab_fe_req_pg_flip(&r, fb);
	put_all(c, &r, 1, true);
	die();
	return 104;
}

static int while_dropped(struct evil_env *env, void *data)
{
	struct dmab_client *c;
	if (evil_connect(env, false, 1, &c))
		return 100;
	struct evil_pages p;
	uint64_t dbuf, fb;
	if (shown_buffer(c, 0, &p, &dbuf, &fb))
		return 101;
	struct xen_displif_sring *sring = dmab_frontend_sring(c, 0);
	dmab_frontend_set_req_prod(c, 0, sring->rsp_prod + 1000, true);
	die();
	return 102;
}

static void handle_alarm(int sig)
{
	raise(SIGKILL);
}

/*
 * Requests without end, each flip copying 256 KiB on this host (the copy
 * path), and death at a moment the server is busy with them: after
 * 20 + *data * 37 ms of it.
 */
#define BIG 256

static int random_moment(struct evil_env *env, void *data)
{
	unsigned int delay_ms = 20 + *(unsigned int *)data * 37;
	struct dmab_client *c;
	if (evil_connect(env, false, 1, &c))
		return 100;
	struct evil_pages big, small;
	uint64_t dbuf = evil_cookie(), fb = evil_cookie();
	struct xendispl_req r;
	if (evil_pages_share(c, BIG * BIG * 4, &big) || evil_pages_share(c, 16384, &small))
		return 101;
	evil_req_dbuf(&r, dbuf, BIG, BIG, &big);
	int fails = evil_expect(c, "DBUF_CREATE of 256 KiB", &r, 0);
	dmab_fe_req_fb_attach(&r, dbuf, fb, BIG, BIG, DRM_FORMAT_XRGB8888);
	fails += evil_expect(c, "FB_ATTACH", &r, 0);
	dmab_fe_req_set_config(&r, fb, 0, 0, BIG < EVIL_WIDTH ? BIG : EVIL_WIDTH,
		BIG < EVIL_HEIGHT ? BIG : EVIL_HEIGHT, 32);
	fails += evil_expect(c, "SET_CONFIG", &r, 0);
	if (fails)
		return fails;

	signal(SIGALRM, handle_alarm);
	struct itimerval when = { .it_value = { delay_ms / 1000, (long)(delay_ms % 1000) * 1000 } };
	setitimer(ITIMER_REAL, &when, NULL);
	/*
	 * Batches of 32, each collected whole before the next: the ring runs
	 * empty between them (a ring that never does is test-hostile-fairness).
	 */
	for (unsigned long sent = 0;;) {
		for (unsigned int i = 0; i < RING_SLOTS; i++, sent++) {
			uint64_t d = evil_cookie();
			switch (sent % 4) {
			case 0:
			case 2:
				dmab_fe_req_pg_flip(&r, fb);
				break;
			case 1:
				evil_req_dbuf(&r, d, 64, 64, &small);
				break;
			case 3:
				dmab_fe_req_get_edid(&r, XENDISPL_EDID_BLOCK_SIZE, small.dir_refs[0]);
				break;
			}
			r.id = (uint16_t)sent;
			if (dmab_frontend_put(c, 0, &r, false))
				return 102;
		}
		dmab_frontend_notify(c, 0);
		for (unsigned int i = 0; i < RING_SLOTS; i++) {
			struct xendispl_resp resp;
			if (dmab_frontend_get_response(c, 0, &resp, 3000))
				return 103;
		}
	}
}

/* After all that, a guest like any other: served, frames on screen, a clean exit. */
static int afterwards(struct evil_env *env, void *data)
{
	struct dmab_client *c;
	if (evil_connect(env, false, 1, &c))
		return 100;
	struct dmab_client_buffer *b;
	if (dmab_client_buffer_create(c, 64, 32, DRM_FORMAT_XRGB8888, &b))
		return 101;
	dmab_ts_fill(dmab_client_buffer_data(b), dmab_client_buffer_stride(b), 64, 32, 42);
	if (dmab_client_set_config(c, 0, b, 0, 0))
		return 102;
	evil_sleep_ms(50);
	char target[64];
	uint8_t *rgba;
	uint32_t w, h;
	snprintf(target, sizeof(target), "connector:%u/0/0", dmab_client_domid(c));
	int fails = 0;
	if (dmab_ts_screenshot(&env->server, target, &rgba, &w, &h) == 0) {
		fails += EVIL_CHECK(dmab_ts_check(rgba, w, 0, 0, 64, 32, 42) == 0,
			"the new guest's frame is not on screen");
		free(rgba);
	} else {
		fails++;
	}
	fails += EVIL_CHECK(dmab_client_buffer_destroy(b) == 0, "buffer destroy");
	dmab_client_destroy(c);
	return fails;
}

int main(void)
{
	struct evil_env env;
	if (evil_env_start(&env, LIMITS))
		return 1;
	evil_env_hostile(&env, "killed with answers owed", owed_answers, NULL, EVIL_KILLED, 30000);
	evil_env_hostile(&env, "killed with a full ring never notified", never_notified, NULL,
		EVIL_KILLED, 30000);
	evil_env_hostile(&env, "killed during 32 creations", mid_creation, NULL, EVIL_KILLED, 30000);
	evil_env_hostile(&env, "killed while rewriting its ring", while_rewriting, NULL,
		EVIL_KILLED, 30000);
	evil_env_hostile(&env, "killed with its event page full", events_full, NULL, EVIL_KILLED,
		30000);
	evil_env_hostile(&env, "killed while being dropped", while_dropped, NULL, EVIL_KILLED, 30000);
	for (unsigned int i = 0; i < 10; i++) {
		char name[64];
		snprintf(name, sizeof(name), "killed %u ms into busy requests", 20 + i * 37);
		evil_env_hostile(&env, name, random_moment, &i, EVIL_KILLED, 30000);
	}
	evil_env_hostile(&env, "a guest afterwards", afterwards, NULL, 0, 30000);
	return evil_env_finish(&env) ? 1 : 0;
}
