// SPDX-License-Identifier: MIT
/*
 * Hostile guests: sizes that lie. Display buffers whose width, height,
 * bpp, buffer_sz and data_ofs do not agree, sizes over the [limits] of the
 * configuration (one buffer's octets, buffers, octets in all, framebuffers,
 * width and height), framebuffers larger than their buffer, SET_CONFIG
 * rectangles outside the connector or the framebuffer, unknown pixel
 * formats, operations and DBUF_CREATE flags, backend allocation asked of a
 * device without it, EDID buffers of impossible sizes. Each gets its exact
 * status: -XEN_E2BIG over a limit, -XEN_ENOSPC when the guest holds too
 * much, -XEN_EOPNOTSUPP for an unknown operation, -XEN_EINVAL otherwise.
 * Every request carries real, valid pages, so a check that is missing shows
 * as a request that succeeds (status 0), not as some later failure.
 *
 * Without these defences: a buffer_sz that does not cover width x height
 * makes every copy and every scan-out read past the guest's pages (the
 * copy path's memcpy faults, the display reads another domain's memory); a
 * data_ofs past the buffer does the same from the start; no limit on sizes
 * or counts lets one guest take all of dom0's memory and descriptors
 * (others then fail to connect or allocate); a framebuffer larger than its
 * buffer, or a rectangle outside it, is read past its end at every flip
 * and screenshot; an unknown format has no conversion (NULL table entry);
 * unknown flags and operations taken as known ones do what nobody asked.
 * Responses must be zeroed before they are filled: the guest's own octets
 * in the slot must not come back (Linux reads fields it did not send).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <drm_fourcc.h>

#include "tests/integration/evil.h"

#define LIMITS \
	"[limits]\n" \
	"max-buffer-bytes = 262144\n" \
	"max-buffers = 4\n" \
	"max-bytes = 786432\n" \
	"max-framebuffers = 3\n" \
	"max-width = 1024\n" \
	"max-height = 1024\n" \
	"requests-per-second = 0\n"

#define MAX_BUFFER 262144u

/* A DBUF_CREATE over p with every field given. */
static void dbuf_req(struct xendispl_req *r, uint64_t cookie, uint32_t w, uint32_t h,
		uint32_t bpp, uint32_t size, uint32_t data_ofs, uint32_t flags,
		const struct evil_pages *p)
{
	dmab_fe_req_dbuf_create(r, cookie, w, h, bpp, size, p->dir_refs[0], false);
	r->op.dbuf_create.data_ofs = data_ofs;
	r->op.dbuf_create.flags = flags;
}

/* How the server took buffer cookie of guest domid: 'c'opy, 'z'ero-copy, 'b'e-alloc, 0. */
static char import_of(struct dmab_test_server *s, unsigned int domid, uint64_t cookie)
{
	json_object *r = dmab_ts_ctl(s, "{\"cmd\":\"status\"}", -1), *guests, *v;
	char want[24], found = 0;
	snprintf(want, sizeof(want), "0x%llx", (unsigned long long)cookie);
	if (!r)
		return 0;
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
						json_object_object_get_ex(b, "import", &v))
					found = json_object_get_string(v)[0];
			}
		}
	}
	json_object_put(r);
	return found;
}

static int destroy(struct dmab_client *c, uint64_t cookie)
{
	struct xendispl_req r;
	dmab_fe_req_dbuf_destroy(&r, cookie);
	return evil_expect(c, "DBUF_DESTROY", &r, 0);
}

/* Geometry of one display buffer that does not add up. */
static int geometry(struct dmab_client *c, const struct evil_pages *p)
{
	struct xendispl_req r;
	int fails = 0;
#define DBUF(what, want, w, h, bpp, size, ofs, flags) do { \
	dbuf_req(&r, evil_cookie(), w, h, bpp, size, ofs, flags, p); \
	fails += evil_expect(c, what, &r, want); \
} while (0)
	DBUF("buffer_sz one over max-buffer-bytes", -XEN_E2BIG, 256, 256, 32, MAX_BUFFER + 1, 0, 0);
	DBUF("buffer_sz 4 GiB - 1", -XEN_E2BIG, 256, 256, 32, 0xffffffffu, 0, 0);
	DBUF("buffer_sz 0", -XEN_EINVAL, 64, 64, 32, 0, 0, 0);
	DBUF("64x64x32 in 8192 octets", -XEN_EINVAL, 64, 64, 32, 8192, 0, 0);
	DBUF("64x64x32 in 16383 octets", -XEN_EINVAL, 64, 64, 32, 16383, 0, 0);
	DBUF("bpp 8", -XEN_EINVAL, 64, 64, 8, 16384, 0, 0);
	DBUF("bpp 0 with a size", -XEN_EINVAL, 64, 64, 0, 16384, 0, 0);
	DBUF("bpp 33", -XEN_EINVAL, 64, 64, 33, 16384, 0, 0);
	DBUF("bpp 4294967295", -XEN_EINVAL, 64, 64, 0xffffffffu, 16384, 0, 0);
	DBUF("width 0", -XEN_EINVAL, 0, 64, 32, 16384, 0, 0);
	DBUF("height 0", -XEN_EINVAL, 64, 0, 32, 16384, 0, 0);
	DBUF("width over max-width", -XEN_E2BIG, 2048, 16, 32, 131072, 0, 0);
	DBUF("height over max-height", -XEN_E2BIG, 16, 2048, 32, 131072, 0, 0);
	DBUF("width and height 2^32 - 1", -XEN_E2BIG, 0xffffffffu, 0xffffffffu, 32, MAX_BUFFER, 0, 0);
	DBUF("1024x1024x32 in 256 KiB", -XEN_EINVAL, 1024, 1024, 32, MAX_BUFFER, 0, 0);
	DBUF("data_ofs at the end", -XEN_EINVAL, 64, 64, 32, 16384, 16384, 0);
	DBUF("data_ofs past the end", -XEN_EINVAL, 64, 64, 32, 16384, 0xffffffffu, 0);
	DBUF("data_ofs leaving too little", -XEN_EINVAL, 64, 64, 32, 16384, 4096, 0);
	DBUF("data_ofs + rows wrapping 32 bits", -XEN_EINVAL, 64, 64, 32, MAX_BUFFER, 0xfffff000u, 0);
	DBUF("unknown flag 0x2", -XEN_EINVAL, 64, 64, 32, 16384, 0, 0x2);
	DBUF("unknown flag 0x80000000", -XEN_EINVAL, 64, 64, 32, 16384, 0, 0x80000000u);
	DBUF("be-alloc and an unknown flag", -XEN_EINVAL, 64, 64, 32, 16384, 0, 0x3);
	DBUF("be-alloc on a device without be-alloc", -XEN_EINVAL, 64, 64, 32, 16384, 0,
		XENDISPL_DBUF_FLG_REQ_ALLOC);
	DBUF("be-alloc of an import (no geometry)", -XEN_EINVAL, 0, 0, 0, 16384, 0,
		XENDISPL_DBUF_FLG_REQ_ALLOC);
#undef DBUF

	/* What does add up is taken: the checks above are not refusing everything. */
	uint64_t ok = evil_cookie();
	dbuf_req(&r, ok, 64, 64, 32, 16384 + 4096, 4096, 0, p);
	fails += evil_expect(c, "64x64x32 at data_ofs 4096 in 20480 octets", &r, 0);
	fails += destroy(c, ok);
	ok = evil_cookie();
	dbuf_req(&r, ok, 256, 256, 32, MAX_BUFFER, 0, 0, p);
	fails += evil_expect(c, "exactly max-buffer-bytes", &r, 0);
	fails += destroy(c, ok);
	return fails;
}

/* What one guest may hold: max-buffers, max-bytes, max-framebuffers. */
static int holdings(struct dmab_test_server *s, struct dmab_client *c,
		const struct evil_pages *p)
{
	unsigned int dom = dmab_client_domid(c);
	struct xendispl_req r;
	uint64_t cookies[5];
	int fails = 0;

	for (int i = 0; i < 4; i++) {
		cookies[i] = evil_cookie();
		dbuf_req(&r, cookies[i], 32, 32, 32, 4096, 0, 0, p);
		fails += evil_expect(c, "a buffer within max-buffers", &r, 0);
	}
	dbuf_req(&r, evil_cookie(), 32, 32, 32, 4096, 0, 0, p);
	fails += evil_expect(c, "a buffer over max-buffers", &r, -XEN_ENOSPC);
	for (int i = 0; i < 4; i++)
		fails += destroy(c, cookies[i]);

	/* 3 x 256 KiB is max-bytes exactly; then not one page more. */
	for (int i = 0; i < 3; i++) {
		cookies[i] = evil_cookie();
		dbuf_req(&r, cookies[i], 256, 256, 32, MAX_BUFFER, 0, 0, p);
		fails += evil_expect(c, "a buffer within max-bytes", &r, 0);
	}
	dbuf_req(&r, evil_cookie(), 32, 32, 32, 4096, 0, 0, p);
	fails += evil_expect(c, "a page over max-bytes", &r, -XEN_ENOSPC);
	/*
	 * Copied framebuffers have a host buffer of their own: it counts too.
	 * (Where the host can import the guest's pages, there is none.)
	 */
	bool copied = import_of(s, dom, cookies[0]) == 'c';
	dmab_fe_req_fb_attach(&r, cookies[0], evil_cookie(), 256, 256, DRM_FORMAT_XRGB8888);
	fails += evil_expect(c, copied ? "a copied framebuffer over max-bytes" :
		"a zero-copy framebuffer at max-bytes", &r, copied ? -XEN_ENOSPC : 0);
	for (int i = 0; i < 3; i++)
		fails += destroy(c, cookies[i]);

	uint64_t dbuf = evil_cookie();
	dbuf_req(&r, dbuf, 64, 64, 32, 16384, 0, 0, p);
	fails += evil_expect(c, "a buffer for framebuffers", &r, 0);
	for (int i = 0; i < 3; i++) {
		cookies[i] = evil_cookie();
		dmab_fe_req_fb_attach(&r, dbuf, cookies[i], 16, 16, DRM_FORMAT_XRGB8888);
		fails += evil_expect(c, "a framebuffer within max-framebuffers", &r, 0);
	}
	dmab_fe_req_fb_attach(&r, dbuf, evil_cookie(), 16, 16, DRM_FORMAT_XRGB8888);
	fails += evil_expect(c, "a framebuffer over max-framebuffers", &r, -XEN_ENOSPC);
	fails += destroy(c, dbuf);      /* the framebuffers go with it */
	return fails;
}

/* Framebuffers that do not fit their buffer, formats nobody knows. */
static int framebuffers(struct dmab_client *c, const struct evil_pages *p)
{
	struct xendispl_req r;
	int fails = 0;
	uint64_t dbuf = evil_cookie(), import = evil_cookie();
	dbuf_req(&r, dbuf, 32, 32, 32, 4096, 0, 0, p);
	fails += evil_expect(c, "a 32x32x32 buffer", &r, 0);
	/* A PRIME import: pages without a layout, checked at FB_ATTACH. */
	dbuf_req(&r, import, 0, 0, 0, 4096, 0, 0, p);
	fails += evil_expect(c, "a 4096-octet import", &r, 0);

#define FB(what, want, d, w, h, fourcc) do { \
	dmab_fe_req_fb_attach(&r, d, evil_cookie(), w, h, fourcc); \
	fails += evil_expect(c, what, &r, want); \
} while (0)
	FB("64x64 on a 32x32 buffer", -XEN_EINVAL, dbuf, 64, 64, DRM_FORMAT_XRGB8888);
	FB("32x33 on a 32x32 buffer", -XEN_EINVAL, dbuf, 32, 33, DRM_FORMAT_XRGB8888);
	FB("33x32 on a 32x32 buffer (rows past the stride)", -XEN_EINVAL, dbuf, 33, 32,
		DRM_FORMAT_XRGB8888);
	FB("32x33 on a 4096-octet import", -XEN_EINVAL, import, 32, 33, DRM_FORMAT_XRGB8888);
	FB("1024x2 on a 4096-octet import", -XEN_EINVAL, import, 1024, 2, DRM_FORMAT_XRGB8888);
	FB("width 0", -XEN_EINVAL, dbuf, 0, 32, DRM_FORMAT_XRGB8888);
	FB("height 0", -XEN_EINVAL, dbuf, 32, 0, DRM_FORMAT_XRGB8888);
	FB("width over max-width", -XEN_E2BIG, dbuf, 2048, 1, DRM_FORMAT_XRGB8888);
	FB("width 2^32 - 1", -XEN_E2BIG, dbuf, 0xffffffffu, 1, DRM_FORMAT_XRGB8888);
	FB("format 'ABCD'", -XEN_EINVAL, dbuf, 32, 32, fourcc_code('A', 'B', 'C', 'D'));
	FB("format 0", -XEN_EINVAL, dbuf, 32, 32, 0);
	FB("format NV12 (not offered)", -XEN_EINVAL, dbuf, 32, 32, DRM_FORMAT_NV12);
	FB("YUYV of an odd width", -XEN_EINVAL, dbuf, 15, 16, DRM_FORMAT_YUYV);
	/* What fits is taken, also in a format of fewer bits than the buffer's. */
	FB("32x32 XRGB8888 on the 32x32 buffer", 0, dbuf, 32, 32, DRM_FORMAT_XRGB8888);
	FB("32x32 RGB565 on the 32x32 buffer", 0, dbuf, 32, 32, DRM_FORMAT_RGB565);
	FB("32x32 XRGB8888 on the import", 0, import, 32, 32, DRM_FORMAT_XRGB8888);
#undef FB
	fails += destroy(c, dbuf);
	fails += destroy(c, import);
	return fails;
}

/* SET_CONFIG rectangles against the 320x200 connector and a 64x32 framebuffer. */
static int rectangles(struct dmab_client *c, const struct evil_pages *p)
{
	struct xendispl_req r;
	int fails = 0;
	uint64_t dbuf = evil_cookie(), fb = evil_cookie();
	dbuf_req(&r, dbuf, 64, 32, 32, 8192, 0, 0, p);
	fails += evil_expect(c, "a 64x32 buffer", &r, 0);
	dmab_fe_req_fb_attach(&r, dbuf, fb, 64, 32, DRM_FORMAT_XRGB8888);
	fails += evil_expect(c, "its framebuffer", &r, 0);

#define SC(what, want, x, y, w, h, bpp) do { \
	dmab_fe_req_set_config(&r, fb, x, y, w, h, bpp); \
	fails += evil_expect(c, what, &r, want); \
} while (0)
	SC("x past the right edge", -XEN_EINVAL, EVIL_WIDTH - 63, 0, 64, 32, 32);
	SC("y past the bottom edge", -XEN_EINVAL, 0, EVIL_HEIGHT - 31, 64, 32, 32);
	SC("x + width wrapping 32 bits", -XEN_EINVAL, 0xffffffffu, 0, 2, 2, 32);
	SC("y + height wrapping 32 bits", -XEN_EINVAL, 0, 0xfffffff0u, 2, 0x20, 32);
	SC("wider than the connector", -XEN_EINVAL, 0, 0, EVIL_WIDTH + 1, 32, 32);
	SC("width 0", -XEN_EINVAL, 0, 0, 0, 32, 32);
	SC("height 0", -XEN_EINVAL, 0, 0, 64, 0, 32);
	SC("inside the connector, larger than the framebuffer", -XEN_EINVAL, 0, 0, 128, 64, 32);
	SC("bpp 16 for XRGB8888", -XEN_EINVAL, 0, 0, 64, 32, 16);
	SC("bpp 8", -XEN_EINVAL, 0, 0, 64, 32, 8);
	SC("in the bottom right corner, exactly", 0, EVIL_WIDTH - 64, EVIL_HEIGHT - 32, 64, 32, 32);
#undef SC
	dmab_fe_req_set_config(&r, 0, 0, 0, 0, 0, 32);
	fails += evil_expect(c, "off, but with a bpp", &r, -XEN_EINVAL);
	dmab_fe_req_set_config(&r, 0, 0, 0, 0, 0, 0);
	fails += evil_expect(c, "off", &r, 0);
	fails += destroy(c, dbuf);
	return fails;
}

/*
 * Operations that do not exist, with every octet the guest may fill set:
 * the response must be zero but for its id, operation and status.
 */
static int operations(struct dmab_client *c)
{
	static const uint8_t ops[] = { 0x00, 0x01, 0x0f, 0x17, 0x18, 0x7f, 0x80, 0xff };
	int fails = 0;
	for (size_t i = 0; i < sizeof(ops); i++) {
		struct xendispl_req r;
		memset(&r, 0xaa, sizeof(r));
		r.operation = ops[i];
		char what[64];
		snprintf(what, sizeof(what), "operation 0x%02x", ops[i]);
		fails += evil_expect(c, what, &r, -XEN_EOPNOTSUPP);
	}
	/* Known operations with junk in their reserved octets still get zeroed answers. */
	struct xendispl_req r;
	memset(&r, 0xaa, sizeof(r));
	r.operation = XENDISPL_OP_PG_FLIP;
	fails += evil_expect(c, "PG_FLIP of cookie 0xaaaa...", &r, -XEN_ENOENT);

	/* GET_EDID: the buffer must hold an EDID block, and no more than 256. */
	struct evil_pages e;
	if (evil_pages_share(c, XENDISPL_EDID_MAX_SIZE, &e))
		return fails + 1;
	dmab_fe_req_get_edid(&r, XENDISPL_EDID_BLOCK_SIZE - 1, e.dir_refs[0]);
	fails += evil_expect(c, "GET_EDID into 127 octets", &r, -XEN_EINVAL);
	dmab_fe_req_get_edid(&r, XENDISPL_EDID_MAX_SIZE + 1, e.dir_refs[0]);
	fails += evil_expect(c, "GET_EDID into 32769 octets", &r, -XEN_EINVAL);
	dmab_fe_req_get_edid(&r, XENDISPL_EDID_MAX_SIZE, 0);
	fails += evil_expect(c, "GET_EDID with directory 0", &r, -XEN_EINVAL);
	dmab_fe_req_get_edid(&r, XENDISPL_EDID_MAX_SIZE, e.dir_refs[0]);
	fails += evil_expect(c, "GET_EDID, as it should be", &r, 0);
	fails += EVIL_CHECK(evil_pages_free(c, &e) == 0, "the EDID pages are still mapped");
	return fails;
}

static int sizes(struct evil_env *env, void *data)
{
	struct dmab_client *c;
	if (evil_connect(env, false, 1, &c))
		return 100;
	unsigned int dom = dmab_client_domid(c);
	uint64_t t0 = dmab_ts_now_ms();
	int fails = EVIL_CHECK(dmab_client_protocol_version(c) == 2, "protocol %u",
		dmab_client_protocol_version(c));
	/* Real pages for every request: max-buffer-bytes of them. */
	struct evil_pages p;
	if (evil_pages_share(c, MAX_BUFFER + 4096, &p))
		return 101;

	fails += geometry(c, &p);
	fails += EVIL_CHECK(evil_log_count(&env->server, "dom%u/vdispl0/0: DBUF_CREATE refused: "
		"buffer_sz %u exceeds the limit %u", dom, MAX_BUFFER + 1, MAX_BUFFER) == 1,
		"no log line for a buffer over max-buffer-bytes");
	fails += holdings(&env->server, c, &p);
	fails += framebuffers(c, &p);
	fails += rectangles(c, &p);
	fails += operations(c);
	/* Everything the server mapped of ours it has let go. */
	fails += EVIL_CHECK(evil_pages_free(c, &p) == 0, "the server still maps the pages");
	fails += evil_log_bounded(&env->server, dom, dmab_ts_now_ms() - t0);
	return fails;
}

int main(void)
{
	struct evil_env env;
	if (evil_env_start(&env, LIMITS))
		return 1;
	evil_env_hostile(&env, "sizes that lie", sizes, NULL, 0, 60000);
	return evil_env_finish(&env) ? 1 : 0;
}
