// SPDX-License-Identifier: MIT
#include <errno.h>
#include <string.h>

#include "client/request.h"

/* Xen's list of codes, each next to the host's code of the same name. */
static const struct {
	int xen;
	int host;
} errno_table[] = {
#define XEN_ERRNO(name, value) { value, name },
#include <xen/errno.h>
};

int dmab_fe_status_errno(int32_t status)
{
	if (status == 0)
		return 0;
	for (size_t i = 0; i < sizeof(errno_table) / sizeof(errno_table[0]); i++) {
		if (status == -errno_table[i].xen)
			return -errno_table[i].host;
	}
	return -EIO;
}

int dmab_fe_buffer_layout(uint32_t width, uint32_t height, uint32_t bpp,
		uint32_t *stride, uint32_t *size)
{
	if (width == 0 || height == 0 || bpp == 0)
		return -EINVAL;
	uint64_t pitch = ((uint64_t)width * bpp + 7) / 8;
	uint64_t total = pitch * height;
	if (total > UINT32_MAX)
		return -E2BIG;
	*stride = (uint32_t)pitch;
	*size = (uint32_t)total;
	return 0;
}

uint32_t dmab_fe_pages(uint32_t size)
{
	return (uint32_t)(((uint64_t)size + DMAB_XEN_PAGE_SIZE - 1) / DMAB_XEN_PAGE_SIZE);
}

static void req_init(struct xendispl_req *req, uint8_t op)
{
	memset(req, 0, sizeof(*req));
	req->operation = op;
}

void dmab_fe_req_dbuf_create(struct xendispl_req *req, uint64_t dbuf_cookie,
		uint32_t width, uint32_t height, uint32_t bpp, uint32_t buffer_sz,
		grant_ref_t gref_directory, bool be_alloc)
{
	req_init(req, XENDISPL_OP_DBUF_CREATE);
	req->op.dbuf_create.dbuf_cookie = dbuf_cookie;
	req->op.dbuf_create.width = width;
	req->op.dbuf_create.height = height;
	req->op.dbuf_create.bpp = bpp;
	req->op.dbuf_create.buffer_sz = buffer_sz;
	req->op.dbuf_create.flags = be_alloc ? XENDISPL_DBUF_FLG_REQ_ALLOC : 0;
	req->op.dbuf_create.gref_directory = gref_directory;
	req->op.dbuf_create.data_ofs = 0;
}

void dmab_fe_req_dbuf_destroy(struct xendispl_req *req, uint64_t dbuf_cookie)
{
	req_init(req, XENDISPL_OP_DBUF_DESTROY);
	req->op.dbuf_destroy.dbuf_cookie = dbuf_cookie;
}

void dmab_fe_req_fb_attach(struct xendispl_req *req, uint64_t dbuf_cookie,
		uint64_t fb_cookie, uint32_t width, uint32_t height, uint32_t fourcc)
{
	req_init(req, XENDISPL_OP_FB_ATTACH);
	req->op.fb_attach.dbuf_cookie = dbuf_cookie;
	req->op.fb_attach.fb_cookie = fb_cookie;
	req->op.fb_attach.width = width;
	req->op.fb_attach.height = height;
	req->op.fb_attach.pixel_format = fourcc;
}

void dmab_fe_req_fb_detach(struct xendispl_req *req, uint64_t fb_cookie)
{
	req_init(req, XENDISPL_OP_FB_DETACH);
	req->op.fb_detach.fb_cookie = fb_cookie;
}

void dmab_fe_req_set_config(struct xendispl_req *req, uint64_t fb_cookie,
		uint32_t x, uint32_t y, uint32_t width, uint32_t height, uint32_t bpp)
{
	req_init(req, XENDISPL_OP_SET_CONFIG);
	req->op.set_config.fb_cookie = fb_cookie;
	req->op.set_config.x = x;
	req->op.set_config.y = y;
	req->op.set_config.width = width;
	req->op.set_config.height = height;
	req->op.set_config.bpp = bpp;
}

void dmab_fe_req_pg_flip(struct xendispl_req *req, uint64_t fb_cookie)
{
	req_init(req, XENDISPL_OP_PG_FLIP);
	req->op.pg_flip.fb_cookie = fb_cookie;
}

void dmab_fe_req_get_edid(struct xendispl_req *req, uint32_t buffer_sz,
		grant_ref_t gref_directory)
{
	req_init(req, XENDISPL_OP_GET_EDID);
	req->op.get_edid.buffer_sz = buffer_sz;
	req->op.get_edid.gref_directory = gref_directory;
}
