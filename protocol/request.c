// SPDX-License-Identifier: MIT
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "protocol/format.h"
#include "protocol/request.h"

__attribute__((format(printf, 3, 4)))
static int reject(char *reason, int status, const char *fmt, ...)
{
	va_list args;
	va_start(args, fmt);
	vsnprintf(reason, DMAB_REASON_LEN, fmt, args);
	va_end(args);
	return status;
}

static uint32_t pages_for(uint32_t bytes)
{
	return (uint32_t)(((uint64_t)bytes + DMAB_XEN_PAGE_SIZE - 1) / DMAB_XEN_PAGE_SIZE);
}

static int check_dims(const struct dmab_limits *lim, const char *what,
		uint32_t width, uint32_t height, char *reason)
{
	if (width == 0 || height == 0)
		return reject(reason, -XEN_EINVAL, "%s %" PRIu32 "x%" PRIu32 " is empty",
			what, width, height);
	if (width > lim->max_width || height > lim->max_height)
		return reject(reason, -XEN_E2BIG, "%s %" PRIu32 "x%" PRIu32
			" exceeds the limit %" PRIu32 "x%" PRIu32,
			what, width, height, lim->max_width, lim->max_height);
	return 0;
}

static int decode_dbuf_create(const struct xendispl_dbuf_create_req *in,
		const struct dmab_decode_ctx *ctx, struct dmab_cmd_dbuf_create *out,
		char *reason)
{
	const struct dmab_limits *lim = ctx->limits;

	if (in->dbuf_cookie == 0)
		return reject(reason, -XEN_EINVAL, "dbuf_cookie is 0");
	if (in->flags & ~(uint32_t)XENDISPL_DBUF_FLG_REQ_ALLOC)
		return reject(reason, -XEN_EINVAL, "unknown flags 0x%" PRIx32, in->flags);
	if (in->buffer_sz == 0)
		return reject(reason, -XEN_EINVAL, "buffer_sz is 0");
	if (in->buffer_sz > lim->max_buffer_bytes)
		return reject(reason, -XEN_E2BIG, "buffer_sz %" PRIu32
			" exceeds the limit %" PRIu32, in->buffer_sz, lim->max_buffer_bytes);
	if (in->gref_directory == 0)
		return reject(reason, -XEN_EINVAL, "gref_directory is 0");

	*out = (struct dmab_cmd_dbuf_create){
		.dbuf_cookie = in->dbuf_cookie,
		.width = in->width,
		.height = in->height,
		.bpp = in->bpp,
		.buffer_sz = in->buffer_sz,
		/* Version 1 has no data_ofs: those octets are reserved there. */
		.data_ofs = ctx->version >= 2 ? in->data_ofs : 0,
		.num_grefs = pages_for(in->buffer_sz),
		.gref_directory = in->gref_directory,
		.be_alloc = in->flags & XENDISPL_DBUF_FLG_REQ_ALLOC,
	};

	if (out->data_ofs >= out->buffer_sz)
		return reject(reason, -XEN_EINVAL, "data_ofs %" PRIu32
			" is not inside buffer_sz %" PRIu32, out->data_ofs, out->buffer_sz);

	if (in->width == 0 && in->height == 0 && in->bpp == 0) {
		/* A PRIME import: the pages exist in the frontend already. */
		if (out->be_alloc)
			return reject(reason, -XEN_EINVAL,
				"backend allocation asked without width, height and bpp");
		return 0;
	}

	int ret = check_dims(lim, "buffer", in->width, in->height, reason);
	if (ret)
		return ret;
	if (!dmab_format_bpp_valid(in->bpp))
		return reject(reason, -XEN_EINVAL, "bpp %" PRIu32 " is not 16, 24 or 32", in->bpp);
	if (dmab_buffer_stride(in->width, in->height, in->bpp, out->buffer_sz,
			out->data_ofs, &out->stride) < 0)
		return reject(reason, -XEN_EINVAL, "%" PRIu32 "x%" PRIu32 "x%" PRIu32
			" at offset %" PRIu32 " does not fit buffer_sz %" PRIu32,
			in->width, in->height, in->bpp, out->data_ofs, out->buffer_sz);
	return 0;
}

static int decode_fb_attach(const struct xendispl_fb_attach_req *in,
		const struct dmab_decode_ctx *ctx, struct dmab_cmd_fb_attach *out,
		char *reason)
{
	if (in->dbuf_cookie == 0)
		return reject(reason, -XEN_EINVAL, "dbuf_cookie is 0");
	if (in->fb_cookie == 0)
		return reject(reason, -XEN_EINVAL, "fb_cookie is 0");
	int ret = check_dims(ctx->limits, "framebuffer", in->width, in->height, reason);
	if (ret)
		return ret;
	const struct dmab_format *fmt = dmab_format_lookup(in->pixel_format);
	if (!fmt)
		return reject(reason, -XEN_EINVAL, "pixel format 0x%08" PRIx32
			" is not supported", in->pixel_format);
	if (in->width % fmt->block_w)
		return reject(reason, -XEN_EINVAL, "%s needs a width divisible by %" PRIu32
			", got %" PRIu32, fmt->name, fmt->block_w, in->width);

	*out = (struct dmab_cmd_fb_attach){
		.dbuf_cookie = in->dbuf_cookie,
		.fb_cookie = in->fb_cookie,
		.width = in->width,
		.height = in->height,
		.fourcc = in->pixel_format,
	};
	return 0;
}

static int decode_set_config(const struct xendispl_set_config_req *in,
		const struct dmab_decode_ctx *ctx, struct dmab_cmd_set_config *out,
		char *reason)
{
	*out = (struct dmab_cmd_set_config){
		.fb_cookie = in->fb_cookie,
		.x = in->x, .y = in->y,
		.width = in->width, .height = in->height,
		.bpp = in->bpp,
	};

	if (in->fb_cookie == 0) {
		/* All zeros resets (disables) the connector. */
		if (in->x || in->y || in->width || in->height || in->bpp)
			return reject(reason, -XEN_EINVAL,
				"fb_cookie 0 with a non-zero mode is neither set nor reset");
		return 0;
	}
	if (in->width == 0 || in->height == 0)
		return reject(reason, -XEN_EINVAL, "mode %" PRIu32 "x%" PRIu32 " is empty",
			in->width, in->height);
	if ((uint64_t)in->x + in->width > ctx->conn_width ||
			(uint64_t)in->y + in->height > ctx->conn_height) {
		/*
		 * Linux's xen-drm-front names its framebuffer's size and the
		 * CRTC's offset into it (xen_drm_front_kms.c), not the mode: a
		 * framebuffer two pipes share is larger than either connector.
		 * The connector then shows the part of its own size at that
		 * offset, which the rectangle must hold.
		 */
		if ((uint64_t)in->x + ctx->conn_width > in->width ||
				(uint64_t)in->y + ctx->conn_height > in->height)
			return reject(reason, -XEN_EINVAL, "rectangle %" PRIu32 "x%" PRIu32
				"+%" PRIu32 "+%" PRIu32 " leaves the %" PRIu32 "x%" PRIu32
				" connector", in->width, in->height, in->x, in->y,
				ctx->conn_width, ctx->conn_height);
		out->x = out->y = 0;
		out->src_x = in->x;
		out->src_y = in->y;
		out->width = ctx->conn_width;
		out->height = ctx->conn_height;
	}
	if (!dmab_format_bpp_valid(in->bpp))
		return reject(reason, -XEN_EINVAL, "bpp %" PRIu32 " is not 16, 24 or 32", in->bpp);
	return 0;
}

static int decode_get_edid(const struct xendispl_get_edid_req *in,
		struct dmab_cmd_get_edid *out, char *reason)
{
	/*
	 * displif asks for XENDISPL_EDID_MAX_SIZE; only the 128 octets written
	 * are required, which is what an older or thriftier frontend gives.
	 */
	if (in->buffer_sz < XENDISPL_EDID_BLOCK_SIZE ||
			in->buffer_sz > XENDISPL_EDID_MAX_SIZE)
		return reject(reason, -XEN_EINVAL, "EDID buffer_sz %" PRIu32
			" is not within %d..%d", in->buffer_sz,
			XENDISPL_EDID_BLOCK_SIZE, XENDISPL_EDID_MAX_SIZE);
	if (in->gref_directory == 0)
		return reject(reason, -XEN_EINVAL, "gref_directory is 0");
	*out = (struct dmab_cmd_get_edid){
		.buffer_sz = in->buffer_sz,
		.num_grefs = pages_for(in->buffer_sz),
		.gref_directory = in->gref_directory,
	};
	return 0;
}

int dmab_request_decode(const struct xendispl_req *req,
		const struct dmab_decode_ctx *ctx, struct dmab_cmd *cmd,
		char *reason)
{
	memset(cmd, 0, sizeof(*cmd));
	reason[0] = '\0';
	cmd->id = req->id;
	cmd->op = req->operation;

	switch (req->operation) {
	case XENDISPL_OP_DBUF_CREATE:
		return decode_dbuf_create(&req->op.dbuf_create, ctx, &cmd->dbuf_create, reason);
	case XENDISPL_OP_DBUF_DESTROY:
		if (req->op.dbuf_destroy.dbuf_cookie == 0)
			return reject(reason, -XEN_EINVAL, "dbuf_cookie is 0");
		cmd->dbuf_destroy_cookie = req->op.dbuf_destroy.dbuf_cookie;
		return 0;
	case XENDISPL_OP_FB_ATTACH:
		return decode_fb_attach(&req->op.fb_attach, ctx, &cmd->fb_attach, reason);
	case XENDISPL_OP_FB_DETACH:
		if (req->op.fb_detach.fb_cookie == 0)
			return reject(reason, -XEN_EINVAL, "fb_cookie is 0");
		cmd->fb_detach_cookie = req->op.fb_detach.fb_cookie;
		return 0;
	case XENDISPL_OP_SET_CONFIG:
		return decode_set_config(&req->op.set_config, ctx, &cmd->set_config, reason);
	case XENDISPL_OP_PG_FLIP:
		if (req->op.pg_flip.fb_cookie == 0)
			return reject(reason, -XEN_EINVAL, "fb_cookie is 0");
		cmd->pg_flip_cookie = req->op.pg_flip.fb_cookie;
		return 0;
	case XENDISPL_OP_GET_EDID:
		if (ctx->version < 2)
			return reject(reason, -XEN_EOPNOTSUPP, "GET_EDID needs protocol version 2");
		return decode_get_edid(&req->op.get_edid, &cmd->get_edid, reason);
	default:
		return reject(reason, -XEN_EOPNOTSUPP, "unknown operation 0x%02x",
			req->operation);
	}
}

const char *dmab_op_name(uint8_t op)
{
	switch (op) {
	case XENDISPL_OP_DBUF_CREATE: return "DBUF_CREATE";
	case XENDISPL_OP_DBUF_DESTROY: return "DBUF_DESTROY";
	case XENDISPL_OP_FB_ATTACH: return "FB_ATTACH";
	case XENDISPL_OP_FB_DETACH: return "FB_DETACH";
	case XENDISPL_OP_SET_CONFIG: return "SET_CONFIG";
	case XENDISPL_OP_PG_FLIP: return "PG_FLIP";
	case XENDISPL_OP_GET_EDID: return "GET_EDID";
	default: return "unknown";
	}
}

int dmab_fb_check(const struct dmab_buffer_geom *buf, uint32_t width,
		uint32_t height, uint32_t fourcc, uint32_t *stride, char *reason)
{
	const struct dmab_format *fmt = dmab_format_lookup(fourcc);
	if (!fmt)
		return reject(reason, -XEN_EINVAL, "pixel format 0x%08" PRIx32
			" is not supported", fourcc);
	if (width == 0 || height == 0)
		return reject(reason, -XEN_EINVAL, "framebuffer %" PRIu32 "x%" PRIu32
			" is empty", width, height);

	uint32_t pitch = buf->stride;
	if (pitch == 0) {
		if (dmab_buffer_stride(width, height, fmt->bpp, buf->buffer_sz,
				buf->data_ofs, &pitch) < 0)
			return reject(reason, -XEN_EINVAL, "%s %" PRIu32 "x%" PRIu32
				" does not fit the imported buffer of %" PRIu32 " octets at %" PRIu32,
				fmt->name, width, height, buf->buffer_sz, buf->data_ofs);
	}

	uint64_t row = dmab_row_bytes(width, fmt->bpp);
	if (row > pitch)
		return reject(reason, -XEN_EINVAL, "%s rows of %" PRIu32 " pixels (%" PRIu64
			" octets) exceed the stride %" PRIu32, fmt->name, width, row, pitch);
	uint64_t end = buf->data_ofs + (uint64_t)pitch * (height - 1) + row;
	if (end > buf->buffer_sz)
		return reject(reason, -XEN_EINVAL, "%s %" PRIu32 "x%" PRIu32
			" with stride %" PRIu32 " ends at %" PRIu64 ", past buffer_sz %" PRIu32,
			fmt->name, width, height, pitch, end, buf->buffer_sz);
	*stride = pitch;
	return 0;
}
