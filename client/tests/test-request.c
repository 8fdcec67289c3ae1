// SPDX-License-Identifier: MIT
/*
 * What the frontend sends must pass the backend's validation
 * (protocol/request.c) and mean there what it meant here: the stride the
 * backend derives is the one the client draws with.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include <drm_fourcc.h>

#include "client/request.h"
#include "protocol/format.h"
#include "protocol/request.h"
#include "protocol/status.h"

static const struct dmab_limits limits = {
	.max_buffer_bytes = 256u << 20,
	.max_width = 16384,
	.max_height = 16384,
};

static int decode(const struct xendispl_req *req, unsigned int version,
		struct dmab_cmd *cmd)
{
	const struct dmab_decode_ctx ctx = {
		.version = version,
		.conn_width = 1920,
		.conn_height = 1080,
		.limits = &limits,
	};
	char reason[DMAB_REASON_LEN];
	int ret = dmab_request_decode(req, &ctx, cmd, reason);
	if (ret)
		print_error("decode: %s\n", reason);
	return ret;
}

static void test_status_errno(void **state)
{
	static const int codes[] = {
		EPERM, ENOENT, EIO, E2BIG, EBADF, EAGAIN, ENOMEM, EACCES, EFAULT,
		EBUSY, EEXIST, ENODEV, EINVAL, ENFILE, EMFILE, ENOSPC, ERANGE,
		ENOSYS, EOVERFLOW, EMSGSIZE, EOPNOTSUPP, ENOBUFS, ETIMEDOUT,
	};
	assert_int_equal(dmab_fe_status_errno(0), 0);
	/* What the backend encodes comes back as the errno it started from. */
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		assert_int_equal(dmab_fe_status_errno(dmab_xen_status(-codes[i])), -codes[i]);
	assert_int_equal(dmab_fe_status_errno(-XEN_ENOTCONN), -ENOTCONN);
	assert_int_equal(dmab_fe_status_errno(-XEN_ENAMETOOLONG), -ENAMETOOLONG);
	/* Nonsense is an I/O error, never success. */
	assert_int_equal(dmab_fe_status_errno(-9999), -EIO);
	assert_int_equal(dmab_fe_status_errno(7), -EIO);
	assert_int_equal(dmab_fe_status_errno(INT32_MIN), -EIO);
}

static void test_layout(void **state)
{
	size_t count;
	const struct dmab_format *formats = dmab_format_all(&count);

	for (size_t f = 0; f < count; f++) {
		for (uint32_t w = 1; w <= 700; w++) {
			uint32_t h = 1 + w % 37, stride, size, derived;
			assert_int_equal(dmab_fe_buffer_layout(w, h, formats[f].bpp, &stride, &size), 0);
			/* Linux 6.1: DIV_ROUND_UP(width * bpp, 8), packed rows. */
			assert_int_equal(stride, (w * formats[f].bpp + 7) / 8);
			assert_int_equal(size, stride * h);
			/* The backend finds the same pitch from buffer_sz. */
			assert_int_equal(dmab_buffer_stride(w, h, formats[f].bpp, size, 0, &derived), 0);
			assert_int_equal(derived, stride);
		}
	}
	uint32_t stride, size;
	assert_int_equal(dmab_fe_buffer_layout(0, 1, 32, &stride, &size), -EINVAL);
	assert_int_equal(dmab_fe_buffer_layout(65536, 16385, 32, &stride, &size), -E2BIG);
	assert_int_equal(dmab_fe_buffer_layout(65536, 16384, 32, &stride, &size), -E2BIG);
	assert_int_equal(dmab_fe_buffer_layout(65536, 16383, 32, &stride, &size), 0);
	assert_int_equal(dmab_fe_pages(1), 1);
	assert_int_equal(dmab_fe_pages(4096), 1);
	assert_int_equal(dmab_fe_pages(4097), 2);
	assert_int_equal(dmab_fe_pages(UINT32_MAX), 1u << 20);
}

/* Requests built over garbage: nothing of it may survive. */
static void garbage(struct xendispl_req *req)
{
	memset(req, 0xa5, sizeof(*req));
}

static void test_dbuf_create(void **state)
{
	size_t count;
	const struct dmab_format *formats = dmab_format_all(&count);
	struct xendispl_req req;
	struct dmab_cmd cmd;

	for (size_t f = 0; f < count; f++) {
		for (unsigned int v = 1; v <= 2; v++) {
			for (int be_alloc = 0; be_alloc < 2; be_alloc++) {
				uint32_t w = 642, h = 481, stride, size;
				assert_int_equal(dmab_fe_buffer_layout(w, h, formats[f].bpp,
					&stride, &size), 0);
				garbage(&req);
				dmab_fe_req_dbuf_create(&req, 0x1122334455667788ull, w, h,
					formats[f].bpp, size, 17, be_alloc);
				assert_int_equal(req.reserved[0] | req.reserved[4], 0);
				assert_int_equal(decode(&req, v, &cmd), 0);
				assert_int_equal(cmd.dbuf_create.dbuf_cookie, 0x1122334455667788ull);
				assert_int_equal(cmd.dbuf_create.stride, stride);
				assert_int_equal(cmd.dbuf_create.num_grefs, dmab_fe_pages(size));
				assert_int_equal(cmd.dbuf_create.gref_directory, 17);
				assert_int_equal(cmd.dbuf_create.data_ofs, 0);
				assert_int_equal(cmd.dbuf_create.be_alloc, be_alloc);

				/* And a framebuffer of the whole buffer fits it. */
				garbage(&req);
				dmab_fe_req_fb_attach(&req, 0x1122334455667788ull, 99, w, h,
					formats[f].fourcc);
				assert_int_equal(decode(&req, v, &cmd), 0);
				assert_int_equal(cmd.fb_attach.fb_cookie, 99);
				const struct dmab_buffer_geom geom = {
					.width = w, .height = h, .bpp = formats[f].bpp,
					.stride = stride, .buffer_sz = size,
				};
				uint32_t fb_stride;
				char reason[DMAB_REASON_LEN];
				assert_int_equal(dmab_fb_check(&geom, w, h, formats[f].fourcc,
					&fb_stride, reason), 0);
				assert_int_equal(fb_stride, stride);
			}
		}
	}
}

static void test_other_requests(void **state)
{
	struct xendispl_req req;
	struct dmab_cmd cmd;

	garbage(&req);
	dmab_fe_req_dbuf_destroy(&req, 5);
	assert_int_equal(decode(&req, 2, &cmd), 0);
	assert_int_equal(cmd.dbuf_destroy_cookie, 5);

	garbage(&req);
	dmab_fe_req_fb_detach(&req, 6);
	assert_int_equal(decode(&req, 2, &cmd), 0);
	assert_int_equal(cmd.fb_detach_cookie, 6);

	garbage(&req);
	dmab_fe_req_set_config(&req, 7, 10, 20, 800, 600, 32);
	assert_int_equal(decode(&req, 2, &cmd), 0);
	assert_int_equal(cmd.set_config.fb_cookie, 7);
	assert_int_equal(cmd.set_config.x, 10);
	assert_int_equal(cmd.set_config.height, 600);

	/* Off: all zeros. */
	garbage(&req);
	dmab_fe_req_set_config(&req, 0, 0, 0, 0, 0, 0);
	assert_int_equal(decode(&req, 2, &cmd), 0);
	assert_int_equal(cmd.set_config.fb_cookie, 0);

	garbage(&req);
	dmab_fe_req_pg_flip(&req, 8);
	assert_int_equal(decode(&req, 1, &cmd), 0);
	assert_int_equal(cmd.pg_flip_cookie, 8);

	garbage(&req);
	dmab_fe_req_get_edid(&req, XENDISPL_EDID_MAX_SIZE, 9);
	assert_int_equal(decode(&req, 2, &cmd), 0);
	assert_int_equal(cmd.get_edid.num_grefs, dmab_fe_pages(XENDISPL_EDID_MAX_SIZE));
	assert_int_equal(cmd.get_edid.gref_directory, 9);
	/* Not in version 1: the client does not send it there. */
	char reason[DMAB_REASON_LEN];
	const struct dmab_decode_ctx v1 = { .version = 1, .limits = &limits };
	assert_int_equal(dmab_request_decode(&req, &v1, &cmd, reason), -XEN_EOPNOTSUPP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_errno),
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_dbuf_create),
		cmocka_unit_test(test_other_requests),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
