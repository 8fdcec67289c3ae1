/* SPDX-License-Identifier: MIT */
/*
 * What the frontend puts into requests, pure code. Every builder zeroes the
 * whole request before it fills it: displif wants reserved octets 0, and a
 * request is written whole into its ring slot (see dmab_fe_ring_send()).
 * The ring sets the id.
 */
#ifndef DMAB_CLIENT_REQUEST_H
#define DMAB_CLIENT_REQUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "protocol/wire.h"

/**
 * The negative errno for a displif status (0 or -XEN_E*): 0 stays 0,
 * -XEN_EINVAL becomes -EINVAL and so on; a status Xen does not define
 * (or a positive one) becomes -EIO.
 */
int dmab_fe_status_errno(int32_t status);

/**
 * The layout of a display buffer of width x height pixels at bpp bits, as
 * Linux 6.1's xen-drm-front sizes its dumb buffers: rows of
 * DIV_ROUND_UP(width * bpp, 8) bytes, size = stride * height, no offset.
 * (protocol/format.h's dmab_buffer_stride() finds this pitch again from
 * buffer_sz.) Returns 0, -EINVAL for a zero argument, -E2BIG when the size
 * does not fit displif's 32-bit buffer_sz.
 */
int dmab_fe_buffer_layout(uint32_t width, uint32_t height, uint32_t bpp,
		uint32_t *stride, uint32_t *size);

/** Pages of XEN_PAGE_SIZE that size bytes take. */
uint32_t dmab_fe_pages(uint32_t size);

void dmab_fe_req_dbuf_create(struct xendispl_req *req, uint64_t dbuf_cookie,
		uint32_t width, uint32_t height, uint32_t bpp, uint32_t buffer_sz,
		grant_ref_t gref_directory, bool be_alloc);

void dmab_fe_req_dbuf_destroy(struct xendispl_req *req, uint64_t dbuf_cookie);

void dmab_fe_req_fb_attach(struct xendispl_req *req, uint64_t dbuf_cookie,
		uint64_t fb_cookie, uint32_t width, uint32_t height, uint32_t fourcc);

void dmab_fe_req_fb_detach(struct xendispl_req *req, uint64_t fb_cookie);

/** fb_cookie 0 with everything else 0 turns the connector off. */
void dmab_fe_req_set_config(struct xendispl_req *req, uint64_t fb_cookie,
		uint32_t x, uint32_t y, uint32_t width, uint32_t height, uint32_t bpp);

void dmab_fe_req_pg_flip(struct xendispl_req *req, uint64_t fb_cookie);

void dmab_fe_req_get_edid(struct xendispl_req *req, uint32_t buffer_sz,
		grant_ref_t gref_directory);

#endif
