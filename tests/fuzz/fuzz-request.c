// SPDX-License-Identifier: MIT
/*
 * Request decoding as a hostile frontend drives it: any 64 octets in the
 * ring, under any negotiated version, connector size and limits. Whatever
 * decodes is pushed through the checks the server does next.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "protocol/format.h"
#include "protocol/request.h"
#include "protocol/response.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_header {
	uint8_t version;
	uint8_t pad[3];
	uint32_t conn_width;
	uint32_t conn_height;
	uint32_t max_buffer_bytes;
	uint32_t max_width;
	uint32_t max_height;
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_header hdr;
	struct xendispl_req req;

	if (size < sizeof(hdr) + sizeof(req))
		return -1;
	memcpy(&hdr, data, sizeof(hdr));
	memcpy(&req, data + sizeof(hdr), sizeof(req));

	struct dmab_limits limits = {
		.max_buffer_bytes = hdr.max_buffer_bytes,
		.max_width = hdr.max_width,
		.max_height = hdr.max_height,
	};
	struct dmab_decode_ctx ctx = {
		.version = 1 + (hdr.version & 1),
		.conn_width = hdr.conn_width,
		.conn_height = hdr.conn_height,
		.limits = &limits,
	};
	struct dmab_cmd cmd;
	char reason[DMAB_REASON_LEN];
	int status = dmab_request_decode(&req, &ctx, &cmd, reason);
	if (memchr(reason, '\0', sizeof(reason)) == NULL)
		__builtin_trap();

	struct xendispl_resp resp;
	dmab_resp_encode(&resp, cmd.id, cmd.op, status, 128);
	if (status != 0 || resp.id != req.id)
		return 0;

	if (cmd.op == XENDISPL_OP_DBUF_CREATE && cmd.dbuf_create.width) {
		const struct dmab_cmd_dbuf_create *d = &cmd.dbuf_create;
		/* What decoding accepted must hold together. */
		if ((uint64_t)d->stride * d->height + d->data_ofs > d->buffer_sz ||
				d->stride < ((uint64_t)d->width * d->bpp + 7) / 8)
			__builtin_trap();
		/* And any framebuffer the remaining input describes is checked. */
		size_t rest = size - sizeof(hdr) - sizeof(req);
		if (rest >= 12) {
			uint32_t fb[3];
			memcpy(fb, data + sizeof(hdr) + sizeof(req), sizeof(fb));
			struct dmab_buffer_geom geom = {
				.width = d->width, .height = d->height, .bpp = d->bpp,
				.stride = d->stride, .buffer_sz = d->buffer_sz,
				.data_ofs = d->data_ofs,
			};
			uint32_t stride;
			if (dmab_fb_check(&geom, fb[0], fb[1], fb[2], &stride, reason) == 0) {
				const struct dmab_format *fmt = dmab_format_lookup(fb[2]);
				if (!fmt || d->data_ofs + (uint64_t)stride * (fb[1] - 1) +
						dmab_row_bytes(fb[0], fmt->bpp) > d->buffer_sz)
					__builtin_trap();
			}
		}
	}
	return 0;
}
