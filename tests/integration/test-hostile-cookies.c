// SPDX-License-Identifier: MIT
/*
 * Hostile guests: cookies a guest makes up. Every request that names a
 * display buffer or framebuffer gets unknown, duplicate and zero cookies,
 * and flips come for a connector that is off or a framebuffer on its way
 * out. Each is answered with its exact status (server/buffer.c,
 * server/connector.c, protocol/request.c) and a log line naming the guest,
 * and the guest's real buffer is untouched by all of it.
 *
 * Without these defences: an unknown cookie is a NULL buffer or
 * framebuffer the server dereferences (a crash: the server dies, every
 * guest loses its display); a duplicate one makes a second object under
 * the same cookie, so lookups find the first and the second leaks (the
 * descriptor count and ASan at exit see it) or, for a buffer, DBUF_DESTROY
 * frees the wrong one; a zero cookie is the "none" value of SET_CONFIG, so
 * accepting it elsewhere makes objects nobody can name; a flip on a
 * connector that is off, or of a framebuffer being detached, puts a frame
 * on a view that shows nothing or one about to be freed (use after free).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <drm_fourcc.h>

#include "tests/integration/evil.h"

#define W 64
#define H 32

/* The buffer with dbuf cookie in the server's status: its size, -1 if absent. */
static int64_t listed_size(struct dmab_test_server *s, unsigned int domid, uint64_t cookie)
{
	json_object *r = dmab_ts_ctl(s, "{\"cmd\":\"status\"}", -1), *guests, *v;
	char want[24];
	int64_t size = -1;
	snprintf(want, sizeof(want), "0x%llx", (unsigned long long)cookie);
	if (!r)
		return -1;
	if (json_object_object_get_ex(r, "guests", &guests)) {
		for (size_t i = 0; i < json_object_array_length(guests); i++) {
			json_object *g = json_object_array_get_idx(guests, i), *bufs;
			if (!json_object_object_get_ex(g, "domid", &v) ||
					(unsigned int)json_object_get_int(v) != domid ||
					!json_object_object_get_ex(g, "buffers", &bufs))
				continue;
			for (size_t j = 0; j < json_object_array_length(bufs); j++) {
				json_object *b = json_object_array_get_idx(bufs, j), *c;
				if (json_object_object_get_ex(b, "cookie", &c) &&
						!strcmp(json_object_get_string(c), want) &&
						json_object_object_get_ex(b, "size", &v))
					size = json_object_get_int64(v);
			}
		}
	}
	json_object_put(r);
	return size;
}

static int cookies(struct evil_env *env, void *data)
{
	struct dmab_client *c;
	if (evil_connect(env, false, 1, &c))
		return 100;
	unsigned int dom = dmab_client_domid(c);
	uint64_t t0 = dmab_ts_now_ms();
	struct dmab_test_server *s = &env->server;
	struct dmab_client_buffer *b;
	if (dmab_client_buffer_create(c, W, H, DRM_FORMAT_XRGB8888, &b))
		return 101;
	uint64_t dbuf = dmab_frontend_dbuf_cookie(b), fb = dmab_frontend_fb_cookie(b);
	uint64_t unknown = evil_cookie();
	struct xendispl_req r;
	int fails = 0;

	/* The connector was never enabled. */
	dmab_fe_req_pg_flip(&r, fb);
	fails += evil_expect(c, "PG_FLIP on a connector that is off", &r, -XEN_EINVAL);
	fails += EVIL_CHECK(evil_log_count(s, "dom%u/vdispl0/0: PG_FLIP while the connector is off",
		dom) == 1, "no log line for PG_FLIP on a connector that is off");

	/* Unknown cookies. */
	dmab_fe_req_fb_attach(&r, unknown, evil_cookie(), W, H, DRM_FORMAT_XRGB8888);
	fails += evil_expect(c, "FB_ATTACH to an unknown dbuf", &r, -XEN_ENOENT);
	fails += EVIL_CHECK(evil_log_count(s, "dom%u/vdispl0/0: FB_ATTACH to an unknown dbuf 0x%llx",
		dom, (unsigned long long)unknown) == 1, "no log line for FB_ATTACH to an unknown dbuf");
	dmab_fe_req_pg_flip(&r, unknown);
	fails += evil_expect(c, "PG_FLIP of an unknown fb", &r, -XEN_ENOENT);
	fails += EVIL_CHECK(evil_log_count(s, "dom%u/vdispl0/0: PG_FLIP of an unknown fb 0x%llx",
		dom, (unsigned long long)unknown) == 1, "no log line for PG_FLIP of an unknown fb");
	dmab_fe_req_set_config(&r, unknown, 0, 0, W, H, 32);
	fails += evil_expect(c, "SET_CONFIG of an unknown fb", &r, -XEN_ENOENT);
	dmab_fe_req_fb_detach(&r, unknown);
	fails += evil_expect(c, "FB_DETACH of an unknown fb", &r, -XEN_ENOENT);
	dmab_fe_req_dbuf_destroy(&r, unknown);
	fails += evil_expect(c, "DBUF_DESTROY of an unknown dbuf", &r, -XEN_ENOENT);
	/* A cookie of the other kind is unknown too. */
	dmab_fe_req_pg_flip(&r, dbuf);
	fails += evil_expect(c, "PG_FLIP of a dbuf cookie", &r, -XEN_ENOENT);
	dmab_fe_req_dbuf_destroy(&r, fb);
	fails += evil_expect(c, "DBUF_DESTROY of an fb cookie", &r, -XEN_ENOENT);

	/* Duplicates: of a buffer (with pages of its own) and of a framebuffer. */
	struct evil_pages p;
	if (evil_pages_share(c, 4 * W * H, &p))
		return 102;
	evil_req_dbuf(&r, dbuf, W, H, &p);
	fails += evil_expect(c, "DBUF_CREATE of an existing dbuf cookie", &r, -XEN_EEXIST);
	fails += EVIL_CHECK(evil_log_count(s, "dom%u/vdispl0/0: DBUF_CREATE of existing dbuf 0x%llx",
		dom, (unsigned long long)dbuf) == 1, "no log line for a duplicate dbuf");
	dmab_fe_req_fb_attach(&r, dbuf, fb, W, H, DRM_FORMAT_XRGB8888);
	fails += evil_expect(c, "FB_ATTACH of an existing fb cookie", &r, -XEN_EEXIST);
	dmab_fe_req_fb_attach(&r, dbuf, fb, W / 2, H / 2, DRM_FORMAT_RGB565);
	fails += evil_expect(c, "FB_ATTACH of an existing fb cookie, other geometry", &r,
		-XEN_EEXIST);
	/* The original is what the server still has. */
	fails += EVIL_CHECK(listed_size(s, dom, dbuf) == 4 * W * H,
		"the server's dbuf 0x%llx is not the original any more", (unsigned long long)dbuf);

	/* Zero cookies. */
	evil_req_dbuf(&r, 0, W, H, &p);
	fails += evil_expect(c, "DBUF_CREATE with dbuf cookie 0", &r, -XEN_EINVAL);
	dmab_fe_req_dbuf_destroy(&r, 0);
	fails += evil_expect(c, "DBUF_DESTROY of cookie 0", &r, -XEN_EINVAL);
	dmab_fe_req_fb_attach(&r, 0, evil_cookie(), W, H, DRM_FORMAT_XRGB8888);
	fails += evil_expect(c, "FB_ATTACH to dbuf cookie 0", &r, -XEN_EINVAL);
	dmab_fe_req_fb_attach(&r, dbuf, 0, W, H, DRM_FORMAT_XRGB8888);
	fails += evil_expect(c, "FB_ATTACH with fb cookie 0", &r, -XEN_EINVAL);
	dmab_fe_req_fb_detach(&r, 0);
	fails += evil_expect(c, "FB_DETACH of cookie 0", &r, -XEN_EINVAL);
	dmab_fe_req_pg_flip(&r, 0);
	fails += evil_expect(c, "PG_FLIP of cookie 0", &r, -XEN_EINVAL);
	dmab_fe_req_set_config(&r, 0, 0, 0, W, H, 32);
	fails += evil_expect(c, "SET_CONFIG of cookie 0 with a mode", &r, -XEN_EINVAL);

	/* None of that touched the real buffer: it shows and flips. */
	dmab_fe_req_set_config(&r, fb, 0, 0, W, H, 32);
	fails += evil_expect(c, "SET_CONFIG of the real fb", &r, 0);
	dmab_fe_req_pg_flip(&r, fb);
	fails += evil_expect(c, "PG_FLIP of the real fb", &r, 0);
	dmab_fe_req_set_config(&r, 0, 0, 0, 0, 0, 0);
	fails += evil_expect(c, "SET_CONFIG off", &r, 0);
	dmab_fe_req_pg_flip(&r, fb);
	fails += evil_expect(c, "PG_FLIP once the connector is off again", &r, -XEN_EINVAL);

	/*
	 * A framebuffer on its way out: FB_DETACH of one on screen waits for
	 * the display; what comes in the same batch finds it detaching.
	 */
	dmab_fe_req_set_config(&r, fb, 0, 0, W, H, 32);
	fails += evil_expect(c, "SET_CONFIG of the real fb", &r, 0);
	evil_sleep_ms(50); /* on screen */
	struct xendispl_req batch[4];
	struct xendispl_resp resps[4];
	dmab_fe_req_fb_detach(&batch[0], fb);
	dmab_fe_req_pg_flip(&batch[1], fb);
	dmab_fe_req_set_config(&batch[2], fb, 0, 0, W, H, 32);
	dmab_fe_req_fb_detach(&batch[3], fb);
	fails += evil_batch(c, 0, batch, 4, resps, 3000);
	fails += EVIL_CHECK(resps[0].status == 0, "FB_DETACH of the fb on screen: %s",
		evil_status_name(resps[0].status));
	fails += EVIL_CHECK(resps[1].status == -XEN_EINVAL, "PG_FLIP of a detaching fb: %s",
		evil_status_name(resps[1].status));
	fails += EVIL_CHECK(resps[2].status == -XEN_EINVAL, "SET_CONFIG of a detaching fb: %s",
		evil_status_name(resps[2].status));
	fails += EVIL_CHECK(resps[3].status == -XEN_EINVAL, "FB_DETACH of a detaching fb: %s",
		evil_status_name(resps[3].status));
	dmab_fe_req_pg_flip(&r, fb);
	fails += evil_expect(c, "PG_FLIP of the detached fb", &r, -XEN_ENOENT);

	/* A buffer on its way out, the same. */
	uint64_t fb2 = evil_cookie();
	dmab_fe_req_fb_attach(&r, dbuf, fb2, W, H, DRM_FORMAT_XRGB8888);
	fails += evil_expect(c, "FB_ATTACH of a new fb", &r, 0);
	dmab_fe_req_set_config(&r, fb2, 0, 0, W, H, 32);
	fails += evil_expect(c, "SET_CONFIG of the new fb", &r, 0);
	evil_sleep_ms(50);
	dmab_fe_req_dbuf_destroy(&batch[0], dbuf);
	dmab_fe_req_fb_attach(&batch[1], dbuf, evil_cookie(), W, H, DRM_FORMAT_XRGB8888);
	dmab_fe_req_dbuf_destroy(&batch[2], dbuf);
	evil_req_dbuf(&batch[3], dbuf, W, H, &p);
	fails += evil_batch(c, 0, batch, 4, resps, 3000);
	fails += EVIL_CHECK(resps[0].status == 0, "DBUF_DESTROY of the dbuf on screen: %s",
		evil_status_name(resps[0].status));
	fails += EVIL_CHECK(resps[1].status == -XEN_EINVAL, "FB_ATTACH to a dbuf being "
		"destroyed: %s", evil_status_name(resps[1].status));
	fails += EVIL_CHECK(resps[2].status == -XEN_EINVAL, "DBUF_DESTROY of a dbuf being "
		"destroyed: %s", evil_status_name(resps[2].status));
	fails += EVIL_CHECK(resps[3].status == -XEN_EEXIST, "DBUF_CREATE of a dbuf being "
		"destroyed: %s", evil_status_name(resps[3].status));

	/* Once destroyed, its cookie may be used again (displif says so). */
	evil_req_dbuf(&r, dbuf, W, H, &p);
	fails += evil_expect(c, "DBUF_CREATE reusing a destroyed cookie", &r, 0);
	dmab_fe_req_dbuf_destroy(&r, dbuf);
	fails += evil_expect(c, "DBUF_DESTROY of it", &r, 0);

	fails += evil_log_bounded(s, dom, dmab_ts_now_ms() - t0);
	/* The library still thinks it has b: leave without telling anyone. */
	return fails;
}

int main(void)
{
	struct evil_env env;
	if (evil_env_start(&env, NULL))
		return 1;
	evil_env_hostile(&env, "made-up cookies", cookies, NULL, 0, 30000);
	return evil_env_finish(&env) ? 1 : 0;
}
