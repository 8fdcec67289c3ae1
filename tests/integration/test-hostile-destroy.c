// SPDX-License-Identifier: MIT
/*
 * Hostile guests: DBUF_DESTROY of a buffer whose framebuffers are still
 * attached, sent raw, without FB_DETACH first (a guest may; Linux's
 * xen-drm-front does when a dumb buffer goes while its framebuffer lives).
 * The server must take the framebuffers off the display, free them, hand
 * the pages back and answer, and stay alive: the regression test of
 * 6fa5fed ("server: fix a use after free in DBUF_DESTROY").
 *
 * Without that fix, a framebuffer the display had already let go of (never
 * shown, or replaced) was freed inside the detach together with its buffer,
 * and DBUF_DESTROY then went on with the freed buffer: a use after free,
 * which ASan reports and aborts on (here: no answer, dmabridged dead), and
 * which without ASan corrupts the heap. Without the deferred answer, a
 * buffer still on screen would be handed back while the display reads it:
 * the guest would reuse pages that are being scanned out. Checked here: the
 * answer comes only once the pages are unmapped (the guest can free them
 * at once, the simulator refuses that while they are mapped), and what was
 * attached to the buffer is gone with it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <drm_fourcc.h>

#include "tests/integration/evil.h"

#define W 64
#define H 32

/* A buffer of the guest's own making: pages, directory, buffer, framebuffers. */
struct buf {
	struct evil_pages pages;
	uint64_t dbuf;
	uint64_t fbs[2];
};

static int make(struct dmab_client *c, struct buf *b, unsigned int nfbs)
{
	struct xendispl_req r;
	int fails = 0;
	memset(b, 0, sizeof(*b));
	if (evil_pages_share(c, 4 * W * H, &b->pages))
		return EVIL_CHECK(false, "cannot share pages");
	dmab_ts_fill(b->pages.data, 4 * W, W, H, 7);
	b->dbuf = evil_cookie();
	evil_req_dbuf(&r, b->dbuf, W, H, &b->pages);
	fails += evil_expect(c, "DBUF_CREATE", &r, 0);
	for (unsigned int i = 0; i < nfbs; i++) {
		b->fbs[i] = evil_cookie();
		dmab_fe_req_fb_attach(&r, b->dbuf, b->fbs[i], W, H, DRM_FORMAT_XRGB8888);
		fails += evil_expect(c, "FB_ATTACH", &r, 0);
	}
	return fails;
}

/* After DBUF_DESTROY was answered: nothing of b is left, its pages free. */
static int gone(struct dmab_client *c, struct buf *b, unsigned int nfbs)
{
	struct xendispl_req r;
	int fails = 0;
	for (unsigned int i = 0; i < nfbs; i++) {
		dmab_fe_req_pg_flip(&r, b->fbs[i]);
		fails += evil_expect(c, "PG_FLIP of a framebuffer of the destroyed buffer", &r,
			-XEN_ENOENT);
		dmab_fe_req_fb_detach(&r, b->fbs[i]);
		fails += evil_expect(c, "FB_DETACH of a framebuffer of the destroyed buffer", &r,
			-XEN_ENOENT);
	}
	dmab_fe_req_dbuf_destroy(&r, b->dbuf);
	fails += evil_expect(c, "DBUF_DESTROY again", &r, -XEN_ENOENT);
	fails += EVIL_CHECK(evil_pages_free(c, &b->pages) == 0,
		"DBUF_DESTROY was answered while the server still maps the pages");
	return fails;
}

static int show(struct dmab_client *c, unsigned int index, uint64_t fb)
{
	struct xendispl_req r;
	dmab_fe_req_set_config(&r, fb, 0, 0, W, H, 32);
	int32_t status = evil_call(c, index, &r);
	evil_sleep_ms(50); /* a few refreshes: on screen */
	return EVIL_CHECK(status == 0, "SET_CONFIG on connector %u: %s", index,
		evil_status_name(status));
}

static bool connector_enabled(struct dmab_test_server *s, unsigned int domid, unsigned int devid,
		unsigned int index)
{
	json_object *g = dmab_ts_guest_status(s, domid, devid), *conns, *v;
	bool enabled = true;
	if (!g)
		return true;
	if (json_object_object_get_ex(g, "connectors", &conns) &&
			index < json_object_array_length(conns) &&
			json_object_object_get_ex(json_object_array_get_idx(conns, index), "enabled", &v))
		enabled = json_object_get_boolean(v);
	json_object_put(g);
	return enabled;
}

/* Whether the hostile connector index shows nothing (black) now. */
static bool black(struct dmab_test_server *s, unsigned int domid, unsigned int devid,
		unsigned int index)
{
	char target[64];
	uint8_t *rgba;
	uint32_t w, h;
	snprintf(target, sizeof(target), "connector:%u/%u/%u", domid, devid, index);
	if (dmab_ts_screenshot(s, target, &rgba, &w, &h))
		return false;
	bool all = true;
	for (size_t i = 0; i < (size_t)w * h && all; i++)
		all = !rgba[4 * i] && !rgba[4 * i + 1] && !rgba[4 * i + 2];
	free(rgba);
	return all;
}

static int destroy(struct evil_env *env, void *data)
{
	struct dmab_client *c;
	if (evil_connect(env, false, 2, &c))
		return 100;
	struct dmab_test_server *s = &env->server;
	unsigned int dom = dmab_client_domid(c), devid = evil_devid(env);
	struct xendispl_req r, batch[4];
	struct xendispl_resp resps[4];
	struct buf b, b2;
	uint64_t t0 = dmab_ts_now_ms();
	int fails = 0;

	/* Stop at the first failure: with the server dead, the rest only times out. */
#define SECTION(name) do { \
	if (fails) \
		return fails; \
	fprintf(stderr, "%s\n", name); \
} while (0)
	SECTION("attached, never shown (the case of 6fa5fed)");
	fails += make(c, &b, 1);
	dmab_fe_req_dbuf_destroy(&r, b.dbuf);
	fails += evil_expect(c, "DBUF_DESTROY", &r, 0);
	fails += gone(c, &b, 1);

	SECTION("two attached, never shown");
	fails += make(c, &b, 2);
	dmab_fe_req_dbuf_destroy(&r, b.dbuf);
	fails += evil_expect(c, "DBUF_DESTROY", &r, 0);
	fails += gone(c, &b, 2);

	SECTION("attached and on screen");
	fails += make(c, &b, 1);
	fails += show(c, 0, b.fbs[0]);
	fails += EVIL_CHECK(!black(s, dom, devid, 0), "the buffer is not on screen");
	dmab_fe_req_dbuf_destroy(&r, b.dbuf);
	fails += evil_expect(c, "DBUF_DESTROY", &r, 0);
	fails += EVIL_CHECK(!connector_enabled(s, dom, devid, 0), "the connector still shows it");
	evil_sleep_ms(50);
	fails += EVIL_CHECK(black(s, dom, devid, 0), "the display still shows the destroyed buffer");
	fails += gone(c, &b, 1);
	dmab_fe_req_pg_flip(&r, evil_cookie());
	fails += evil_expect(c, "PG_FLIP afterwards", &r, -XEN_ENOENT);

	SECTION("two attached, one on screen, one not");
	fails += make(c, &b, 2);
	fails += show(c, 0, b.fbs[1]);
	dmab_fe_req_dbuf_destroy(&r, b.dbuf);
	fails += evil_expect(c, "DBUF_DESTROY", &r, 0);
	fails += gone(c, &b, 2);

	SECTION("a flip of it pending, in the same batch");
	fails += make(c, &b, 1);
	fails += make(c, &b2, 1);
	fails += show(c, 0, b2.fbs[0]);
	dmab_fe_req_pg_flip(&batch[0], b.fbs[0]);
	dmab_fe_req_dbuf_destroy(&batch[1], b.dbuf);
	fails += evil_batch(c, 0, batch, 2, resps, 3000);
	fails += EVIL_CHECK(resps[0].status == 0 && resps[1].status == 0,
		"PG_FLIP then DBUF_DESTROY: %s, %s", evil_status_name(resps[0].status),
		evil_status_name(resps[1].status));
	fails += gone(c, &b, 1);

	SECTION("replaced on screen, not idle yet");
	fails += make(c, &b, 1);
	fails += show(c, 0, b.fbs[0]);
	dmab_fe_req_pg_flip(&batch[0], b2.fbs[0]);
	dmab_fe_req_dbuf_destroy(&batch[1], b.dbuf);
	fails += evil_batch(c, 0, batch, 2, resps, 3000);
	fails += EVIL_CHECK(resps[0].status == 0 && resps[1].status == 0,
		"PG_FLIP away then DBUF_DESTROY: %s, %s", evil_status_name(resps[0].status),
		evil_status_name(resps[1].status));
	fails += gone(c, &b, 1);
	dmab_fe_req_dbuf_destroy(&r, b2.dbuf);
	fails += evil_expect(c, "DBUF_DESTROY of the other", &r, 0);
	fails += gone(c, &b2, 1);

	SECTION("on screen on connector 1, destroyed through ring 0");
	fails += make(c, &b, 1);
	fails += show(c, 1, b.fbs[0]);
	dmab_fe_req_dbuf_destroy(&r, b.dbuf);
	fails += evil_expect(c, "DBUF_DESTROY", &r, 0);
	fails += EVIL_CHECK(!connector_enabled(s, dom, devid, 1), "connector 1 still shows it");
	fails += gone(c, &b, 1);

	SECTION("FB_DETACH and DBUF_DESTROY racing in one batch");
	fails += make(c, &b, 1);
	fails += show(c, 0, b.fbs[0]);
	dmab_fe_req_dbuf_destroy(&batch[0], b.dbuf);
	dmab_fe_req_fb_detach(&batch[1], b.fbs[0]);
	dmab_fe_req_dbuf_destroy(&batch[2], b.dbuf);
	fails += evil_batch(c, 0, batch, 3, resps, 3000);
	fails += EVIL_CHECK(resps[0].status == 0 && resps[1].status == -XEN_EINVAL &&
		resps[2].status == -XEN_EINVAL, "DBUF_DESTROY, FB_DETACH, DBUF_DESTROY: %s, %s, %s",
		evil_status_name(resps[0].status), evil_status_name(resps[1].status),
		evil_status_name(resps[2].status));
	fails += gone(c, &b, 1);

	SECTION("FB_DETACH of the one on screen, then DBUF_DESTROY, in one batch");
	fails += make(c, &b, 2);
	fails += show(c, 0, b.fbs[0]);
	dmab_fe_req_fb_detach(&batch[0], b.fbs[0]);
	dmab_fe_req_dbuf_destroy(&batch[1], b.dbuf);
	fails += evil_batch(c, 0, batch, 2, resps, 3000);
	fails += EVIL_CHECK(resps[0].status == 0 && resps[1].status == 0,
		"FB_DETACH then DBUF_DESTROY: %s, %s", evil_status_name(resps[0].status),
		evil_status_name(resps[1].status));
	fails += gone(c, &b, 2);

	SECTION("again and again");
	for (int i = 0; i < 20 && !fails; i++) {
		fails += make(c, &b, 2);
		if (i % 2)
			fails += show(c, i % 4 == 1, b.fbs[i % 4 == 3]);
		dmab_fe_req_dbuf_destroy(&r, b.dbuf);
		fails += evil_expect(c, "DBUF_DESTROY", &r, 0);
		fails += gone(c, &b, 2);
	}
	return fails + evil_log_bounded(s, dom, dmab_ts_now_ms() - t0);
}

/*
 * Host buffers (be-alloc) are the display's own framebuffers: a flip of
 * one pending on connector 0 and its DBUF_DESTROY in one batch drop the
 * display's last lock while the server still looks at connector 1.
 */
static int destroy_be_alloc(struct evil_env *env, void *data)
{
	struct dmab_client *c;
	if (evil_connect(env, true, 2, &c))
		return 100;
	int fails = 0;
	struct dmab_client_buffer *a, *b;
	if (dmab_client_buffer_create(c, W, H, DRM_FORMAT_XRGB8888, &a) ||
			dmab_client_buffer_create(c, W, H, DRM_FORMAT_XRGB8888, &b))
		return 101;
	fails += EVIL_CHECK(dmab_client_set_config(c, 0, b, 0, 0) == 0, "SET_CONFIG");
	fails += EVIL_CHECK(dmab_client_set_config(c, 1, b, 0, 0) == 0, "SET_CONFIG on 1");
	evil_sleep_ms(50);
	struct xendispl_req batch[2];
	struct xendispl_resp resps[2];
	dmab_fe_req_pg_flip(&batch[0], dmab_frontend_fb_cookie(a));
	dmab_fe_req_dbuf_destroy(&batch[1], dmab_frontend_dbuf_cookie(a));
	fails += evil_batch(c, 0, batch, 2, resps, 3000);
	fails += EVIL_CHECK(resps[0].status == 0 && resps[1].status == 0,
		"PG_FLIP then DBUF_DESTROY of a host buffer: %s, %s",
		evil_status_name(resps[0].status), evil_status_name(resps[1].status));
	struct xendispl_req r;
	dmab_fe_req_dbuf_destroy(&r, dmab_frontend_dbuf_cookie(a));
	fails += evil_expect(c, "DBUF_DESTROY again", &r, -XEN_ENOENT);
	dmab_client_destroy(c);
	return fails;
}

int main(void)
{
	struct evil_env env;
	if (evil_env_start(&env, "[limits]\nrequests-per-second = 0\n"))
		return 1;
	evil_env_hostile(&env, "DBUF_DESTROY under attached framebuffers", destroy, NULL, 0, 60000);
	evil_env_hostile(&env, "DBUF_DESTROY of a host buffer with its flip pending",
		destroy_be_alloc, NULL, 0, 60000);
	return evil_env_finish(&env) ? 1 : 0;
}
