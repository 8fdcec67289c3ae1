// SPDX-License-Identifier: MIT
/*
 * Display buffers and their framebuffers, and the EDID buffer: pages shared
 * through a page directory, or (be-alloc) the backend's pages mapped here.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client/client-impl.h"
#include "client/pgdir.h"
#include "client/request.h"
#include "protocol/format.h"

/* DBUF and FB requests go on connector 0's ring, as Linux sends them. */
#define GENERIC_RING 0

#define EDID_PAGES \
	((XENDISPL_EDID_MAX_SIZE + DMAB_XEN_PAGE_SIZE - 1) / DMAB_XEN_PAGE_SIZE)

/* Tell the backend (while it listens) and give the pages back. Not linked. */
static int release(struct dmab_client_buffer *b)
{
	struct dmab_client *c = b->client;
	struct xendispl_req req;
	int ret = 0, err;

	dmab_client_forget_shown(c, b);

	if (b->attached) {
		dmab_fe_req_fb_detach(&req, b->fb_cookie);
		err = dmab_client_request(c, GENERIC_RING, &req, NULL);
		if (err && !ret)
			ret = err;
	}
	/*
	 * Backend pages are unmapped before DBUF_DESTROY, as Linux does, so the
	 * backend can free them as it answers instead of when we let go.
	 */
	if (b->be_alloc && b->data)
		dmab_hv_grant_unmap(c->hv, b->data, b->npages);
	if (b->created) {
		dmab_fe_req_dbuf_destroy(&req, b->dbuf_cookie);
		err = dmab_client_request(c, GENERIC_RING, &req, NULL);
		if (err && !ret)
			ret = err;
	}
	/* The backend stopped using our pages before it answered. */
	if (!b->be_alloc && b->data)
		dmab_client_unshare(c, b->data, b->npages);
	if (b->dir)
		dmab_client_unshare(c, b->dir, b->dir_pages);
	free(b);
	return ret;
}

/* Share the pages (guest-allocated) or the empty directory (be-alloc). */
static int share(struct dmab_client_buffer *b, grant_ref_t *refs, grant_ref_t *dir_refs)
{
	struct dmab_client *c = b->client;
	int ret;

	if (!b->be_alloc) {
		ret = dmab_hv_share_alloc(c->hv, c->be_domid, b->npages, DMAB_HV_SHARE_WRITABLE |
			(c->plain_memory ? 0 : DMAB_HV_SHARE_SCANOUT), refs, &b->data);
		if (ret) {
			b->data = NULL;
			return ret;
		}
	}
	/* The backend writes the refs into the directory when it allocates. */
	ret = dmab_hv_share_alloc(c->hv, c->be_domid, b->dir_pages,
		b->be_alloc ? DMAB_HV_SHARE_WRITABLE : 0, dir_refs, &b->dir);
	if (ret) {
		b->dir = NULL;
		return ret;
	}
	dmab_fe_pgdir_fill(b->dir, b->dir_pages, dir_refs, b->be_alloc ? NULL : refs,
		b->npages);
	return 0;
}

/* be-alloc: map what the backend put into the directory. */
static int map_backend_pages(struct dmab_client_buffer *b, grant_ref_t *refs)
{
	struct dmab_client *c = b->client;

	int ret = dmab_fe_pgdir_read(b->dir, b->dir_pages, refs, b->npages);
	if (ret) {
		dmab_log(DMAB_LOG_WARN, "vdispl %u: the backend allocated buffer 0x%llx "
			"but left grant refs 0 in its directory", c->devid,
			(unsigned long long)b->dbuf_cookie);
		return -EIO;
	}
	ret = dmab_hv_grant_map(c->hv, c->be_domid, b->npages, refs, true, &b->data);
	if (ret) {
		b->data = NULL;
		dmab_log_errno(DMAB_LOG_WARN, ret, "vdispl %u: cannot map the %u pages the "
			"backend allocated for buffer 0x%llx", c->devid, b->npages,
			(unsigned long long)b->dbuf_cookie);
	}
	return ret;
}

int dmab_client_buffer_create(struct dmab_client *c, uint32_t width,
		uint32_t height, uint32_t fourcc, struct dmab_client_buffer **out)
{
	const struct dmab_format *fmt = dmab_format_lookup(fourcc);
	struct xendispl_req req;
	grant_ref_t *refs = NULL, *dir_refs = NULL;
	int ret;

	if (!fmt || width == 0 || height == 0 || width % fmt->block_w)
		return -EINVAL;
	if (!dmab_client_can_send(c))
		return -ENOTCONN;

	struct dmab_client_buffer *b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->client = c;
	b->width = width;
	b->height = height;
	b->fourcc = fourcc;
	b->bpp = fmt->bpp;
	b->be_alloc = c->be_alloc;
	ret = dmab_fe_buffer_layout(width, height, fmt->bpp, &b->stride, &b->size);
	if (ret) {
		free(b);
		return ret;
	}
	b->npages = dmab_fe_pages(b->size);
	b->dir_pages = dmab_pgdir_pages(b->npages);
	b->dbuf_cookie = dmab_client_next_cookie();
	b->fb_cookie = dmab_client_next_cookie();

	refs = calloc(b->npages, sizeof(*refs));
	dir_refs = calloc(b->dir_pages, sizeof(*dir_refs));
	ret = -ENOMEM;
	if (!refs || !dir_refs)
		goto err;

	ret = share(b, refs, dir_refs);
	if (ret) {
		dmab_log_errno(DMAB_LOG_WARN, ret, "vdispl %u: cannot share %u pages for a "
			"%ux%u buffer", c->devid, b->npages + b->dir_pages, width, height);
		goto err;
	}

	dmab_fe_req_dbuf_create(&req, b->dbuf_cookie, width, height, b->bpp, b->size,
		dir_refs[0], b->be_alloc);
	ret = dmab_client_request(c, GENERIC_RING, &req, NULL);
	if (ret)
		goto err;
	b->created = true;

	if (b->be_alloc) {
		ret = map_backend_pages(b, refs);
		if (ret)
			goto err;
	}

	dmab_fe_req_fb_attach(&req, b->dbuf_cookie, b->fb_cookie, width, height, fourcc);
	ret = dmab_client_request(c, GENERIC_RING, &req, NULL);
	if (ret)
		goto err;
	b->attached = true;

	b->next = c->buffers;
	c->buffers = b;
	free(refs);
	free(dir_refs);
	*out = b;
	return 0;

err:
	release(b);
	free(refs);
	free(dir_refs);
	return ret;
}

int dmab_client_buffer_destroy(struct dmab_client_buffer *b)
{
	if (!b)
		return 0;
	for (struct dmab_client_buffer **p = &b->client->buffers; *p; p = &(*p)->next) {
		if (*p == b) {
			*p = b->next;
			break;
		}
	}
	return release(b);
}

void *dmab_client_buffer_data(const struct dmab_client_buffer *b)
{
	return b->data;
}

uint32_t dmab_client_buffer_stride(const struct dmab_client_buffer *b)
{
	return b->stride;
}

uint32_t dmab_client_buffer_width(const struct dmab_client_buffer *b)
{
	return b->width;
}

uint32_t dmab_client_buffer_height(const struct dmab_client_buffer *b)
{
	return b->height;
}

uint32_t dmab_client_buffer_format(const struct dmab_client_buffer *b)
{
	return b->fourcc;
}

bool dmab_client_buffer_busy(const struct dmab_client_buffer *b)
{
	const struct dmab_client *c = b->client;
	for (unsigned int i = 0; i < c->nconns; i++) {
		if (c->conns[i].front == b || c->conns[i].pending == b)
			return true;
	}
	return false;
}

int dmab_client_get_edid(struct dmab_client *c, unsigned int index,
		uint8_t *edid, size_t len, size_t *size)
{
	const uint32_t buffer_sz = XENDISPL_EDID_MAX_SIZE;
	const uint32_t npages = EDID_PAGES;
	const uint32_t dir_pages = 1;
	grant_ref_t refs[EDID_PAGES];
	grant_ref_t dir_refs[1];
	void *data = NULL, *dir = NULL;
	struct xendispl_req req;
	struct xendispl_resp resp;

	_Static_assert(EDID_PAGES <= DMAB_PGDIR_REFS_PER_PAGE,
		"the EDID buffer fits one directory page");
	if (index >= c->nconns || (!edid && len))
		return -EINVAL;
	if (!dmab_client_can_send(c))
		return -ENOTCONN;
	if (c->version < 2)
		return -EOPNOTSUPP;

	int ret = dmab_hv_share_alloc(c->hv, c->be_domid, npages, DMAB_HV_SHARE_WRITABLE,
		refs, &data);
	if (ret)
		return ret;
	ret = dmab_hv_share_alloc(c->hv, c->be_domid, dir_pages, 0, dir_refs, &dir);
	if (ret)
		goto out;
	dmab_fe_pgdir_fill(dir, dir_pages, dir_refs, refs, npages);

	dmab_fe_req_get_edid(&req, buffer_sz, dir_refs[0]);
	ret = dmab_client_request(c, index, &req, &resp);
	if (ret)
		goto out;

	uint32_t edid_sz = resp.op.get_edid.edid_sz;
	if (edid_sz > buffer_sz) {
		dmab_log(DMAB_LOG_WARN, "vdispl %u connector %u: the backend claims an EDID "
			"of %u octets in a buffer of %u", c->devid, index, edid_sz, buffer_sz);
		ret = -EIO;
		goto out;
	}
	if (len)
		memcpy(edid, data, edid_sz < len ? edid_sz : len);
	*size = edid_sz;

out:
	if (dir)
		dmab_client_unshare(c, dir, dir_pages);
	dmab_client_unshare(c, data, npages);
	return ret;
}
