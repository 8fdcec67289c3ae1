// SPDX-License-Identifier: MIT
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include <drm_fourcc.h>

#include "protocol/status.h"
#include "protocol/format.h"
#include "protocol/request.h"
#include "protocol/response.h"

static const struct dmab_limits limits = {
	.max_buffer_bytes = 64u << 20,
	.max_width = 8192,
	.max_height = 8192,
};

static const struct dmab_limits no_limits = {
	.max_buffer_bytes = UINT32_MAX,
	.max_width = UINT32_MAX,
	.max_height = UINT32_MAX,
};

static struct dmab_decode_ctx ctx_v2 = {
	.version = 2, .conn_width = 1024, .conn_height = 768, .limits = &limits,
};

static struct dmab_decode_ctx ctx_v1 = {
	.version = 1, .conn_width = 1024, .conn_height = 768, .limits = &limits,
};

/* Requests start from stale bytes, as a reused ring slot would have. */
static struct xendispl_req req_of(uint8_t op)
{
	struct xendispl_req req;
	memset(&req, 0, sizeof(req));
	memset(req.reserved, 0xa5, sizeof(req.reserved));
	req.id = 0x1234;
	req.operation = op;
	return req;
}

static struct xendispl_req dbuf_req(uint32_t w, uint32_t h, uint32_t bpp, uint32_t sz)
{
	struct xendispl_req req = req_of(XENDISPL_OP_DBUF_CREATE);
	req.op.dbuf_create.dbuf_cookie = 0xffff888012345000ull;
	req.op.dbuf_create.width = w;
	req.op.dbuf_create.height = h;
	req.op.dbuf_create.bpp = bpp;
	req.op.dbuf_create.buffer_sz = sz;
	req.op.dbuf_create.gref_directory = 77;
	return req;
}

static int decode(const struct xendispl_req *req, const struct dmab_decode_ctx *ctx,
		struct dmab_cmd *cmd)
{
	char reason[DMAB_REASON_LEN];
	int ret = dmab_request_decode(req, ctx, cmd, reason);
	if (ret)
		assert_true(strlen(reason) > 0);
	else
		assert_string_equal(reason, "");
	return ret;
}

static void expect_reject(const struct xendispl_req *req, const struct dmab_decode_ctx *ctx,
		int status, const char *needle)
{
	struct dmab_cmd cmd;
	char reason[DMAB_REASON_LEN];
	assert_int_equal(dmab_request_decode(req, ctx, &cmd, reason), status);
	/* The error can be answered: id and op survive. */
	assert_int_equal(cmd.id, req->id);
	assert_int_equal(cmd.op, req->operation);
	if (!strstr(reason, needle))
		fail_msg("reason \"%s\" does not mention \"%s\"", reason, needle);
}

static void dbuf_create_valid(void **state)
{
	struct xendispl_req req = dbuf_req(640, 480, 32, 640 * 480 * 4);
	struct dmab_cmd cmd;
	assert_int_equal(decode(&req, &ctx_v2, &cmd), 0);
	assert_int_equal(cmd.id, 0x1234);
	assert_int_equal(cmd.op, XENDISPL_OP_DBUF_CREATE);
	assert_int_equal(cmd.dbuf_create.dbuf_cookie, 0xffff888012345000ull);
	assert_int_equal(cmd.dbuf_create.stride, 2560);
	assert_int_equal(cmd.dbuf_create.num_grefs, 300);
	assert_int_equal(cmd.dbuf_create.gref_directory, 77);
	assert_false(cmd.dbuf_create.be_alloc);

	req.op.dbuf_create.buffer_sz += 1;
	assert_int_equal(decode(&req, &ctx_v2, &cmd), 0);
	assert_int_equal(cmd.dbuf_create.num_grefs, 301);

	req.op.dbuf_create.flags = XENDISPL_DBUF_FLG_REQ_ALLOC;
	assert_int_equal(decode(&req, &ctx_v2, &cmd), 0);
	assert_true(cmd.dbuf_create.be_alloc);
}

static void dbuf_create_rejects(void **state)
{
	struct xendispl_req req;

	req = dbuf_req(640, 480, 32, 640 * 480 * 4);
	req.op.dbuf_create.dbuf_cookie = 0;
	expect_reject(&req, &ctx_v2, -XEN_EINVAL, "dbuf_cookie");

	req = dbuf_req(640, 480, 32, 640 * 480 * 4);
	req.op.dbuf_create.flags = 0x2;
	expect_reject(&req, &ctx_v2, -XEN_EINVAL, "flags 0x2");

	req = dbuf_req(640, 480, 32, 0);
	expect_reject(&req, &ctx_v2, -XEN_EINVAL, "buffer_sz is 0");

	req = dbuf_req(640, 480, 32, (64u << 20) + 1);
	expect_reject(&req, &ctx_v2, -XEN_E2BIG, "67108865");

	req = dbuf_req(640, 480, 32, 640 * 480 * 4);
	req.op.dbuf_create.gref_directory = 0;
	expect_reject(&req, &ctx_v2, -XEN_EINVAL, "gref_directory");

	req = dbuf_req(0, 480, 32, 640 * 480 * 4);
	expect_reject(&req, &ctx_v2, -XEN_EINVAL, "0x480");

	req = dbuf_req(640, 0, 32, 640 * 480 * 4);
	expect_reject(&req, &ctx_v2, -XEN_EINVAL, "640x0");

	req = dbuf_req(8193, 16, 32, 8193 * 16 * 4);
	expect_reject(&req, &ctx_v2, -XEN_E2BIG, "8193x16");

	req = dbuf_req(16, 8193, 32, 8193 * 16 * 4);
	expect_reject(&req, &ctx_v2, -XEN_E2BIG, "16x8193");

	req = dbuf_req(640, 480, 8, 640 * 480 * 4);
	expect_reject(&req, &ctx_v2, -XEN_EINVAL, "bpp 8");

	req = dbuf_req(640, 480, 0, 640 * 480 * 4);
	expect_reject(&req, &ctx_v2, -XEN_EINVAL, "bpp 0");

	/* One octet short. */
	req = dbuf_req(640, 480, 32, 640 * 480 * 4 - 1);
	expect_reject(&req, &ctx_v2, -XEN_EINVAL, "does not fit");

	/* The offset pushes the last row out. */
	req = dbuf_req(640, 480, 32, 640 * 480 * 4);
	req.op.dbuf_create.data_ofs = 4096;
	expect_reject(&req, &ctx_v2, -XEN_EINVAL, "offset 4096");

	req = dbuf_req(640, 480, 32, 640 * 480 * 4);
	req.op.dbuf_create.data_ofs = 640 * 480 * 4;
	expect_reject(&req, &ctx_v2, -XEN_EINVAL, "data_ofs");
}

static void dbuf_create_no_overflow(void **state)
{
	struct dmab_decode_ctx ctx = ctx_v2;
	ctx.limits = &no_limits;
	/* In 32-bit arithmetic the stride 4 * 2^30 wraps to 0 and "fits". */
	struct xendispl_req req = dbuf_req(0x40000000u, 16, 32, 4096);
	expect_reject(&req, &ctx, -XEN_EINVAL, "does not fit");

	/* Stride fits 32 bits, stride * height does not. */
	req = dbuf_req(0x10000, 0x10001, 32, UINT32_MAX);
	expect_reject(&req, &ctx, -XEN_EINVAL, "does not fit");

	req = dbuf_req(UINT32_MAX, UINT32_MAX, 32, UINT32_MAX);
	expect_reject(&req, &ctx, -XEN_EINVAL, "does not fit");

	/* data_ofs + size near the top of 32 bits. */
	req = dbuf_req(1024, 1, 32, UINT32_MAX);
	req.op.dbuf_create.data_ofs = UINT32_MAX - 1000;
	expect_reject(&req, &ctx, -XEN_EINVAL, "does not fit");
}

static void dbuf_create_versions(void **state)
{
	struct xendispl_req req = dbuf_req(640, 480, 32, 640 * 480 * 4 + 4096);
	struct dmab_cmd cmd;
	req.op.dbuf_create.data_ofs = 4096;

	assert_int_equal(decode(&req, &ctx_v2, &cmd), 0);
	assert_int_equal(cmd.dbuf_create.data_ofs, 4096);

	/* Version 1 has no data_ofs: whatever is there is ignored. */
	req.op.dbuf_create.data_ofs = 0xdeadbeef;
	assert_int_equal(decode(&req, &ctx_v1, &cmd), 0);
	assert_int_equal(cmd.dbuf_create.data_ofs, 0);
	expect_reject(&req, &ctx_v2, -XEN_EINVAL, "data_ofs");
}

static void dbuf_create_prime(void **state)
{
	struct xendispl_req req = dbuf_req(0, 0, 0, 300 * 4096);
	struct dmab_cmd cmd;
	req.op.dbuf_create.data_ofs = 128;
	assert_int_equal(decode(&req, &ctx_v2, &cmd), 0);
	assert_int_equal(cmd.dbuf_create.width, 0);
	assert_int_equal(cmd.dbuf_create.stride, 0);
	assert_int_equal(cmd.dbuf_create.data_ofs, 128);
	assert_int_equal(cmd.dbuf_create.num_grefs, 300);

	req.op.dbuf_create.flags = XENDISPL_DBUF_FLG_REQ_ALLOC;
	expect_reject(&req, &ctx_v2, -XEN_EINVAL, "allocation");

	/* Only all three zero is an import. */
	req = dbuf_req(0, 0, 32, 300 * 4096);
	expect_reject(&req, &ctx_v2, -XEN_EINVAL, "0x0");
}

static void stride_layouts(void **state)
{
	uint32_t stride;

	/* Linux 6.1 dumb buffers: packed rows, buffer_sz = pitch * height. */
	assert_int_equal(dmab_buffer_stride(641, 480, 24, 1923 * 480, 0, &stride), 0);
	assert_int_equal(stride, 1923);
	assert_int_equal(dmab_buffer_stride(641, 480, 16, 1282 * 480, 0, &stride), 0);
	assert_int_equal(stride, 1282);
	/* Rows aligned to 8 octets (newer Linux). */
	assert_int_equal(dmab_buffer_stride(641, 480, 24, 1928 * 480, 0, &stride), 0);
	assert_int_equal(stride, 1928);
	/* Rows aligned to 64 octets. */
	assert_int_equal(dmab_buffer_stride(641, 480, 24, 1984 * 480, 0, &stride), 0);
	assert_int_equal(stride, 1984);
	/* The same with a data offset in front. */
	assert_int_equal(dmab_buffer_stride(641, 480, 24, 1923 * 480 + 64, 64, &stride), 0);
	assert_int_equal(stride, 1923);
	/* Size says nothing (page rounded): the protocol's 4-octet rows. */
	assert_int_equal(dmab_buffer_stride(641, 480, 24, 226 * 4096, 0, &stride), 0);
	assert_int_equal(stride, 1924);
	/* Packed rows whose size does not divide: the convention must fit. */
	assert_int_equal(dmab_buffer_stride(641, 480, 24, 1923 * 480 + 1, 0, &stride), -EINVAL);
	/* A pitch of no known layout is not believed. */
	assert_int_equal(dmab_buffer_stride(640, 480, 32, 2600 * 480, 0, &stride), 0);
	assert_int_equal(stride, 2560);
	assert_int_equal(dmab_buffer_stride(0, 480, 32, 4096, 0, &stride), -EINVAL);
	assert_int_equal(dmab_buffer_stride(16, 16, 32, 4096, 4097, &stride), -EINVAL);
}

static void fb_attach(void **state)
{
	struct xendispl_req req = req_of(XENDISPL_OP_FB_ATTACH);
	struct dmab_cmd cmd;
	req.op.fb_attach.dbuf_cookie = 1;
	req.op.fb_attach.fb_cookie = 2;
	req.op.fb_attach.width = 640;
	req.op.fb_attach.height = 480;

	size_t n;
	const struct dmab_format *all = dmab_format_all(&n);
	assert_int_equal(n, 9);
	for (size_t i = 0; i < n; i++) {
		req.op.fb_attach.pixel_format = all[i].fourcc;
		assert_int_equal(decode(&req, &ctx_v2, &cmd), 0);
		assert_int_equal(cmd.fb_attach.fourcc, all[i].fourcc);
		assert_int_equal(cmd.fb_attach.dbuf_cookie, 1);
		assert_int_equal(cmd.fb_attach.fb_cookie, 2);
	}

	req.op.fb_attach.pixel_format = DRM_FORMAT_NV12;
	expect_reject(&req, &ctx_v2, -XEN_EINVAL, "3231564e");
	req.op.fb_attach.pixel_format = 0;
	expect_reject(&req, &ctx_v2, -XEN_EINVAL, "pixel format");

	req.op.fb_attach.pixel_format = DRM_FORMAT_YUYV;
	req.op.fb_attach.width = 641;
	expect_reject(&req, &ctx_v2, -XEN_EINVAL, "YUYV");

	req.op.fb_attach.pixel_format = DRM_FORMAT_XRGB8888;
	req.op.fb_attach.width = 0;
	expect_reject(&req, &ctx_v2, -XEN_EINVAL, "empty");
	req.op.fb_attach.width = 640;
	req.op.fb_attach.height = 0;
	expect_reject(&req, &ctx_v2, -XEN_EINVAL, "empty");
	req.op.fb_attach.height = 9000;
	expect_reject(&req, &ctx_v2, -XEN_E2BIG, "limit");
	req.op.fb_attach.height = 480;

	req.op.fb_attach.dbuf_cookie = 0;
	expect_reject(&req, &ctx_v2, -XEN_EINVAL, "dbuf_cookie");
	req.op.fb_attach.dbuf_cookie = 1;
	req.op.fb_attach.fb_cookie = 0;
	expect_reject(&req, &ctx_v2, -XEN_EINVAL, "fb_cookie");
}

static void set_config(void **state)
{
	struct xendispl_req req = req_of(XENDISPL_OP_SET_CONFIG);
	struct dmab_cmd cmd;

	/* All zeros: reset. */
	assert_int_equal(decode(&req, &ctx_v2, &cmd), 0);
	assert_int_equal(cmd.set_config.fb_cookie, 0);

	req.op.set_config.width = 1024;
	expect_reject(&req, &ctx_v2, -XEN_EINVAL, "neither");

	req.op.set_config.fb_cookie = 9;
	req.op.set_config.width = 1024;
	req.op.set_config.height = 768;
	req.op.set_config.bpp = 32;
	assert_int_equal(decode(&req, &ctx_v2, &cmd), 0);
	assert_int_equal(cmd.set_config.width, 1024);
	assert_int_equal(cmd.set_config.bpp, 32);

	req.op.set_config.x = 1;
	expect_reject(&req, &ctx_v2, -XEN_EINVAL, "1024x768+1+0");
	req.op.set_config.x = 0;
	req.op.set_config.y = 1;
	expect_reject(&req, &ctx_v2, -XEN_EINVAL, "leaves");
	/* x + width wraps in 32 bits. */
	req.op.set_config.y = 0;
	req.op.set_config.x = UINT32_MAX;
	req.op.set_config.width = 2;
	expect_reject(&req, &ctx_v2, -XEN_EINVAL, "leaves");
	req.op.set_config.x = 0;
	req.op.set_config.width = 1024;
	req.op.set_config.y = UINT32_MAX;
	req.op.set_config.height = 2;
	expect_reject(&req, &ctx_v2, -XEN_EINVAL, "leaves");

	req.op.set_config.y = 0;
	req.op.set_config.height = 0;
	expect_reject(&req, &ctx_v2, -XEN_EINVAL, "empty");
	req.op.set_config.height = 768;
	req.op.set_config.bpp = 12;
	expect_reject(&req, &ctx_v2, -XEN_EINVAL, "bpp 12");

	/* A smaller rectangle placed inside is fine. */
	req.op.set_config.bpp = 16;
	req.op.set_config.x = 24;
	req.op.set_config.y = 8;
	req.op.set_config.width = 1000;
	req.op.set_config.height = 760;
	assert_int_equal(decode(&req, &ctx_v2, &cmd), 0);
	assert_int_equal(cmd.set_config.x, 24);
	assert_int_equal(cmd.set_config.y, 8);
	assert_int_equal(cmd.set_config.src_x, 0);
	assert_int_equal(cmd.set_config.src_y, 0);
	assert_int_equal(cmd.set_config.width, 1000);
	assert_int_equal(cmd.set_config.height, 760);
}

/*
 * Linux's xen-drm-front names its framebuffer's size and the CRTC's offset
 * into it, not the mode (two pipes sharing one framebuffer): the connector
 * shows the part of the framebuffer of its own size at that offset.
 */
static void set_config_window(void **state)
{
	struct xendispl_req req = req_of(XENDISPL_OP_SET_CONFIG);
	struct dmab_cmd cmd;
	req.op.set_config.fb_cookie = 9;
	req.op.set_config.bpp = 32;
	req.op.set_config.x = 640;
	req.op.set_config.y = 32;
	req.op.set_config.width = 1664;
	req.op.set_config.height = 800;
	assert_int_equal(decode(&req, &ctx_v2, &cmd), 0);
	assert_int_equal(cmd.set_config.src_x, 640);
	assert_int_equal(cmd.set_config.src_y, 32);
	assert_int_equal(cmd.set_config.x, 0);
	assert_int_equal(cmd.set_config.y, 0);
	assert_int_equal(cmd.set_config.width, 1024);
	assert_int_equal(cmd.set_config.height, 768);

	/* The framebuffer must hold the whole connector-sized part. */
	req.op.set_config.x = 641;
	expect_reject(&req, &ctx_v2, -XEN_EINVAL, "1664x800+641+32 leaves");
	req.op.set_config.x = 640;
	req.op.set_config.y = 33;
	expect_reject(&req, &ctx_v2, -XEN_EINVAL, "leaves");
	/* Wider than the connector, but lower: no part of the connector's size fits. */
	req.op.set_config.x = 0;
	req.op.set_config.y = 0;
	req.op.set_config.height = 767;
	expect_reject(&req, &ctx_v2, -XEN_EINVAL, "leaves");
	/* Offsets that wrap 32 bits. */
	req.op.set_config.height = 800;
	req.op.set_config.x = UINT32_MAX - 100;
	expect_reject(&req, &ctx_v2, -XEN_EINVAL, "leaves");
	req.op.set_config.x = 0;
	req.op.set_config.y = UINT32_MAX - 100;
	expect_reject(&req, &ctx_v2, -XEN_EINVAL, "leaves");
}

static void cookies(void **state)
{
	struct dmab_cmd cmd;
	struct xendispl_req req = req_of(XENDISPL_OP_DBUF_DESTROY);
	expect_reject(&req, &ctx_v2, -XEN_EINVAL, "dbuf_cookie");
	req.op.dbuf_destroy.dbuf_cookie = 5;
	assert_int_equal(decode(&req, &ctx_v2, &cmd), 0);
	assert_int_equal(cmd.dbuf_destroy_cookie, 5);

	req = req_of(XENDISPL_OP_FB_DETACH);
	expect_reject(&req, &ctx_v2, -XEN_EINVAL, "fb_cookie");
	req.op.fb_detach.fb_cookie = 6;
	assert_int_equal(decode(&req, &ctx_v2, &cmd), 0);
	assert_int_equal(cmd.fb_detach_cookie, 6);

	req = req_of(XENDISPL_OP_PG_FLIP);
	expect_reject(&req, &ctx_v2, -XEN_EINVAL, "fb_cookie");
	req.op.pg_flip.fb_cookie = 7;
	assert_int_equal(decode(&req, &ctx_v2, &cmd), 0);
	assert_int_equal(cmd.pg_flip_cookie, 7);
}

static void get_edid(void **state)
{
	struct dmab_cmd cmd;
	struct xendispl_req req = req_of(XENDISPL_OP_GET_EDID);
	req.op.get_edid.buffer_sz = XENDISPL_EDID_MAX_SIZE;
	req.op.get_edid.gref_directory = 3;
	assert_int_equal(decode(&req, &ctx_v2, &cmd), 0);
	assert_int_equal(cmd.get_edid.num_grefs, 8);
	assert_int_equal(cmd.get_edid.gref_directory, 3);

	expect_reject(&req, &ctx_v1, -XEN_EOPNOTSUPP, "version 2");

	req.op.get_edid.buffer_sz = 127;
	expect_reject(&req, &ctx_v2, -XEN_EINVAL, "127");
	req.op.get_edid.buffer_sz = XENDISPL_EDID_MAX_SIZE + 1;
	expect_reject(&req, &ctx_v2, -XEN_EINVAL, "32769");
	req.op.get_edid.buffer_sz = 128;
	assert_int_equal(decode(&req, &ctx_v2, &cmd), 0);
	assert_int_equal(cmd.get_edid.num_grefs, 1);
	req.op.get_edid.gref_directory = 0;
	expect_reject(&req, &ctx_v2, -XEN_EINVAL, "gref_directory");
}

static void unknown_ops(void **state)
{
	static const uint8_t ops[] = { 0x00, 0x0f, 0x17, 0x80, 0xff };
	for (size_t i = 0; i < sizeof(ops); i++) {
		struct xendispl_req req = req_of(ops[i]);
		expect_reject(&req, &ctx_v2, -XEN_EOPNOTSUPP, "unknown operation");
	}
	assert_string_equal(dmab_op_name(XENDISPL_OP_PG_FLIP), "PG_FLIP");
	assert_string_equal(dmab_op_name(0x42), "unknown");
}

static void fb_check(void **state)
{
	char reason[DMAB_REASON_LEN];
	uint32_t stride;
	struct dmab_buffer_geom buf = {
		.width = 640, .height = 480, .bpp = 32, .stride = 2560,
		.buffer_sz = 2560 * 480,
	};

	assert_int_equal(dmab_fb_check(&buf, 640, 480, DRM_FORMAT_XRGB8888, &stride, reason), 0);
	assert_int_equal(stride, 2560);
	/* Smaller framebuffer, or another format on the same rows. */
	assert_int_equal(dmab_fb_check(&buf, 320, 200, DRM_FORMAT_ARGB8888, &stride, reason), 0);
	assert_int_equal(dmab_fb_check(&buf, 1280, 480, DRM_FORMAT_RGB565, &stride, reason), 0);
	assert_int_equal(stride, 2560);

	assert_int_equal(dmab_fb_check(&buf, 641, 480, DRM_FORMAT_XRGB8888, &stride, reason), -XEN_EINVAL);
	assert_non_null(strstr(reason, "exceed the stride"));
	assert_int_equal(dmab_fb_check(&buf, 640, 481, DRM_FORMAT_XRGB8888, &stride, reason), -XEN_EINVAL);
	assert_non_null(strstr(reason, "past buffer_sz"));
	assert_int_equal(dmab_fb_check(&buf, 640, 480, DRM_FORMAT_NV12, &stride, reason), -XEN_EINVAL);
	assert_int_equal(dmab_fb_check(&buf, 0, 480, DRM_FORMAT_XRGB8888, &stride, reason), -XEN_EINVAL);

	/* The last row may be short of a full stride, not of its pixels. */
	buf.buffer_sz = 2560 * 479 + 1280;
	assert_int_equal(dmab_fb_check(&buf, 320, 480, DRM_FORMAT_XRGB8888, &stride, reason), 0);
	assert_int_equal(dmab_fb_check(&buf, 321, 480, DRM_FORMAT_XRGB8888, &stride, reason), -XEN_EINVAL);

	/* With an offset. */
	buf.buffer_sz = 2560 * 480;
	buf.data_ofs = 2560;
	assert_int_equal(dmab_fb_check(&buf, 640, 479, DRM_FORMAT_XRGB8888, &stride, reason), 0);
	assert_int_equal(dmab_fb_check(&buf, 640, 480, DRM_FORMAT_XRGB8888, &stride, reason), -XEN_EINVAL);

	/* stride * (height - 1) is 2^32: it must not wrap to "fits". */
	struct dmab_buffer_geom tall = {
		.width = 16384, .height = 2, .bpp = 32, .stride = 65536,
		.buffer_sz = 65536 * 2,
	};
	assert_int_equal(dmab_fb_check(&tall, 16, 65537, DRM_FORMAT_XRGB8888, &stride, reason), -XEN_EINVAL);
	assert_non_null(strstr(reason, "past buffer_sz"));

	/* A PRIME import: the layout comes from the framebuffer. */
	struct dmab_buffer_geom prime = { .buffer_sz = 300 * 4096 };
	assert_int_equal(dmab_fb_check(&prime, 640, 480, DRM_FORMAT_XRGB8888, &stride, reason), 0);
	assert_int_equal(stride, 2560);
	assert_int_equal(dmab_fb_check(&prime, 640, 481, DRM_FORMAT_XRGB8888, &stride, reason), -XEN_EINVAL);
	assert_non_null(strstr(reason, "imported"));
	assert_int_equal(dmab_fb_check(&prime, 1280, 480, DRM_FORMAT_RGB565, &stride, reason), 0);
	assert_int_equal(stride, 2560);
}

static void xen_status(void **state)
{
	assert_int_equal(dmab_xen_status(0), 0);
	assert_int_equal(dmab_xen_status(-ENOMEM), -XEN_ENOMEM);
	assert_int_equal(dmab_xen_status(ENOMEM), -XEN_ENOMEM);
	assert_int_equal(dmab_xen_status(-EINVAL), -XEN_EINVAL);
	assert_int_equal(dmab_xen_status(-EOPNOTSUPP), -XEN_EOPNOTSUPP);
	assert_int_equal(dmab_xen_status(-ETIMEDOUT), -XEN_ETIMEDOUT);
	assert_int_equal(dmab_xen_status(-EPROTO), -XEN_EIO);
	assert_int_equal(dmab_xen_status(-EDQUOT), -XEN_ENOSPC);
	assert_int_equal(dmab_xen_status(-ENOTTY), -XEN_EIO);
}

static void encode_zeroes(void **state)
{
	struct xendispl_resp resp;
	memset(&resp, 0xaa, sizeof(resp));
	dmab_resp_encode(&resp, 7, XENDISPL_OP_PG_FLIP, -XEN_EINVAL, 999);
	assert_int_equal(resp.id, 7);
	assert_int_equal(resp.operation, XENDISPL_OP_PG_FLIP);
	assert_int_equal(resp.status, -XEN_EINVAL);
	assert_int_equal(resp.reserved, 0);
	for (size_t i = 0; i < sizeof(resp.op.reserved1); i++)
		assert_int_equal(resp.op.reserved1[i], 0);

	memset(&resp, 0xaa, sizeof(resp));
	dmab_resp_encode(&resp, 8, XENDISPL_OP_GET_EDID, 0, 128);
	assert_int_equal(resp.op.get_edid.edid_sz, 128);
	for (size_t i = sizeof(uint32_t); i < sizeof(resp.op.reserved1); i++)
		assert_int_equal(resp.op.reserved1[i], 0);
	/* A failed GET_EDID reports no size. */
	dmab_resp_encode(&resp, 8, XENDISPL_OP_GET_EDID, -XEN_EIO, 128);
	assert_int_equal(resp.op.get_edid.edid_sz, 0);

	struct xendispl_evt evt;
	memset(&evt, 0xaa, sizeof(evt));
	dmab_evt_encode_pg_flip(&evt, 3, 0x1122334455667788ull);
	assert_int_equal(evt.id, 3);
	assert_int_equal(evt.type, XENDISPL_EVT_PG_FLIP);
	assert_int_equal(evt.op.pg_flip.fb_cookie, 0x1122334455667788ull);
	for (size_t i = 0; i < sizeof(evt.reserved); i++)
		assert_int_equal(evt.reserved[i], 0);
	for (size_t i = sizeof(uint64_t); i < sizeof(evt.op.reserved); i++)
		assert_int_equal(evt.op.reserved[i], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(dbuf_create_valid),
		cmocka_unit_test(dbuf_create_rejects),
		cmocka_unit_test(dbuf_create_no_overflow),
		cmocka_unit_test(dbuf_create_versions),
		cmocka_unit_test(dbuf_create_prime),
		cmocka_unit_test(stride_layouts),
		cmocka_unit_test(fb_attach),
		cmocka_unit_test(set_config),
		cmocka_unit_test(set_config_window),
		cmocka_unit_test(cookies),
		cmocka_unit_test(get_edid),
		cmocka_unit_test(unknown_ops),
		cmocka_unit_test(fb_check),
		cmocka_unit_test(xen_status),
		cmocka_unit_test(encode_zeroes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
