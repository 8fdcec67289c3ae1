/* SPDX-License-Identifier: MIT */
#ifndef DMAB_PROTOCOL_REQUEST_H
#define DMAB_PROTOCOL_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/wire.h"

/** Bounds the caller puts on what a frontend may ask for. */
struct dmab_limits {
	uint32_t max_buffer_bytes;  /* one display buffer */
	uint32_t max_width;         /* of a buffer or framebuffer */
	uint32_t max_height;
};

/** What the decoder needs to know about the ring a request came from. */
struct dmab_decode_ctx {
	unsigned int version;       /* negotiated displif version, 1 or 2 */
	uint32_t conn_width;        /* resolution of this ring's connector */
	uint32_t conn_height;
	const struct dmab_limits *limits;
};

struct dmab_cmd_dbuf_create {
	uint64_t dbuf_cookie;
	/*
	 * width, height, bpp and stride are 0 for a PRIME import: the frontend
	 * shares pages of a buffer it imported and says nothing of their
	 * layout until FB_ATTACH.
	 */
	uint32_t width;
	uint32_t height;
	uint32_t bpp;
	uint32_t stride;
	uint32_t buffer_sz;
	uint32_t data_ofs;          /* always 0 in protocol version 1 */
	uint32_t num_grefs;         /* ceil(buffer_sz / XEN_PAGE_SIZE) */
	grant_ref_t gref_directory;
	bool be_alloc;
};

struct dmab_cmd_fb_attach {
	uint64_t dbuf_cookie;
	uint64_t fb_cookie;
	uint32_t width;
	uint32_t height;
	uint32_t fourcc;
};

/*
 * What the connector shows: the part of the framebuffer at src_x, src_y,
 * width x height, placed at x, y on the connector (inside it).
 */
struct dmab_cmd_set_config {
	uint64_t fb_cookie;         /* 0: disable the connector */
	uint32_t x, y, width, height;
	uint32_t src_x, src_y;
	uint32_t bpp;
};

struct dmab_cmd_get_edid {
	uint32_t buffer_sz;
	uint32_t num_grefs;
	grant_ref_t gref_directory;
};

/** A request that passed validation. op is XENDISPL_OP_*. */
struct dmab_cmd {
	uint16_t id;
	uint8_t op;
	union {
		struct dmab_cmd_dbuf_create dbuf_create;
		uint64_t dbuf_destroy_cookie;
		struct dmab_cmd_fb_attach fb_attach;
		uint64_t fb_detach_cookie;
		struct dmab_cmd_set_config set_config;
		uint64_t pg_flip_cookie;
		struct dmab_cmd_get_edid get_edid;
	};
};

/** Room for any reason dmab_request_decode() gives. */
#define DMAB_REASON_LEN 128

/**
 * Validate a request the caller has already copied out of the shared ring
 * (so the frontend can no longer change it) and turn it into a command.
 *
 * Returns 0, or the negative XEN_E* status to answer with: -XEN_EOPNOTSUPP
 * for an operation unknown (or, GET_EDID, unknown in version 1),
 * -XEN_E2BIG for a size over the caller's limits, -XEN_EINVAL otherwise.
 * On error reason (DMAB_REASON_LEN bytes) says what was wrong, with values,
 * for the log; cmd->id and cmd->op are set either way so an error can be
 * answered.
 *
 * What needs the frontend's other objects (does the cookie exist, does the
 * framebuffer fit its buffer) is the caller's job: see dmab_fb_check().
 */
int dmab_request_decode(const struct xendispl_req *req,
		const struct dmab_decode_ctx *ctx, struct dmab_cmd *cmd,
		char *reason);

/** Name of a XENDISPL_OP_* for logs ("DBUF_CREATE"), "op 0x.." if unknown. */
const char *dmab_op_name(uint8_t op);

/** What a framebuffer is attached to, from its buffer's DBUF_CREATE. */
struct dmab_buffer_geom {
	uint32_t width, height, bpp;    /* 0 for a PRIME import */
	uint32_t stride;                /* 0 for a PRIME import */
	uint32_t buffer_sz;
	uint32_t data_ofs;
};

/**
 * Check that a framebuffer of width x height in fourcc lies inside the
 * buffer, and give the stride to read it with (the buffer's own, or for a
 * PRIME import the one dmab_buffer_stride() derives for the framebuffer).
 * Returns 0 or -XEN_EINVAL with reason filled in.
 */
int dmab_fb_check(const struct dmab_buffer_geom *buf, uint32_t width,
		uint32_t height, uint32_t fourcc, uint32_t *stride, char *reason);

#endif
