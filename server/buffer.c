// SPDX-License-Identifier: MIT
/*
 * Display buffers and framebuffers of a guest device. A buffer reaches the
 * display in one of three ways (enum dmab_import), chosen per buffer:
 * the guest's grants as a dma-buf (zero copy), the guest's grants mapped
 * and copied into a host buffer on each flip (when the hypervisor cannot
 * export them), or a host buffer granted to the guest (be-alloc).
 *
 * Teardown runs in one order whatever the cause: off the display, then the
 * framebuffers, then the buffer is handed back (close + wait released,
 * unmap, or end the grants), and only then is the guest answered.
 *
 * The buffers are the device's, shared by its connectors: frontend.c sets
 * them up with the device and releases them when it disconnects. Its
 * connectors hand their buffer requests here; a deferred answer goes back
 * through the connector that asked, and a framebuffer that goes is taken
 * off every connector of the device.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "protocol/format.h"
#include "protocol/pgdir.h"
#include "protocol/status.h"
#include "server/frontend.h"
#include "server/release.h"
#include "server/server.h"

const char *dmab_import_name(enum dmab_import import)
{
	switch (import) {
	case DMAB_IMPORT_ZERO_COPY: return "zero-copy";
	case DMAB_IMPORT_COPY: return "copy";
	case DMAB_IMPORT_BE_ALLOC: return "be-alloc";
	}
	return "?";
}

void dmab_buffers_init(struct dmab_frontend *fe)
{
	wl_list_init(&fe->dbufs);
	wl_list_init(&fe->releasing);
	wl_list_init(&fe->fbs);
}

/* ---- page directories ---- */

static void *pgdir_map(void *data, grant_ref_t ref, bool writable)
{
	struct dmab_frontend *fe = data;
	void *page;
	return dmab_hv_grant_map(fe->server->hv, fe->domid, 1, &ref, writable, &page) ? NULL : page;
}

static void pgdir_unmap(void *data, void *page)
{
	struct dmab_frontend *fe = data;
	dmab_hv_grant_unmap(fe->server->hv, page, 1);
}

int dmab_fe_pgdir_read(struct dmab_frontend *fe, grant_ref_t first, uint32_t n,
		grant_ref_t *refs, char *reason)
{
	struct dmab_pgdir_access access = { pgdir_map, pgdir_unmap, fe };
	return dmab_pgdir_read(&access, first, n, refs, reason);
}

int dmab_fe_pgdir_write(struct dmab_frontend *fe, grant_ref_t first, uint32_t n,
		const grant_ref_t *refs, char *reason)
{
	struct dmab_pgdir_access access = { pgdir_map, pgdir_unmap, fe };
	return dmab_pgdir_write(&access, first, n, refs, reason);
}

/* ---- lookups ---- */

static struct dmab_dbuf *dbuf_find(struct dmab_frontend *fe, uint64_t cookie)
{
	struct dmab_dbuf *dbuf;
	wl_list_for_each(dbuf, &fe->dbufs, link) {
		if (dbuf->cookie == cookie)
			return dbuf;
	}
	return NULL;
}

struct dmab_fb *dmab_fb_find(struct dmab_frontend *fe, uint64_t cookie)
{
	struct dmab_fb *fb;
	wl_list_for_each(fb, &fe->fbs, link) {
		if (fb->cookie == cookie)
			return fb;
	}
	return NULL;
}

static void answer(struct dmab_deferred *d, int32_t status)
{
	if (d->active && d->conn)
		dmab_connector_respond(d->conn, d->id, d->op, status, 0);
	d->active = false;
}

static void defer(struct dmab_deferred *d, struct dmab_connector *conn, const struct dmab_cmd *cmd)
{
	*d = (struct dmab_deferred){ conn, cmd->id, cmd->op, true };
}

/* ---- release ---- */

static size_t dbuf_bytes(const struct dmab_dbuf *dbuf)
{
	return (size_t)dbuf->num_grefs * DMAB_XEN_PAGE_SIZE;
}

/* The guest's pages mapped for reading a zero-copy buffer (composition, screenshots). */
struct cpu_map {
	struct dmab_hv *hv;
	uint32_t count;
};

static void cpu_unmap(void *data, void *cpu)
{
	struct cpu_map *m = data;
	dmab_hv_grant_unmap(m->hv, cpu, m->count);
	free(m);
}

/*
 * A dma-buf made of grants (gntdev) has no mmap: where a display cannot
 * scan it out, it is composed, and screenshots read it, from the same
 * grants mapped read-only. Without that mapping it is only scanned out.
 */
static void map_for_cpu(struct dmab_frontend *fe, struct dmab_dbuf *dbuf)
{
	struct dmab_server *server = fe->server;
	struct cpu_map *m = calloc(1, sizeof(*m));
	void *cpu = NULL;
	int ret = m ? dmab_hv_grant_map(server->hv, fe->domid, dbuf->num_grefs, dbuf->refs, false,
		&cpu) : -ENOMEM;
	if (ret == 0) {
		*m = (struct cpu_map){ server->hv, dbuf->num_grefs };
		ret = dmab_obuf_set_cpu(dbuf->obuf, cpu, cpu_unmap, m);
		if (ret)
			dmab_hv_grant_unmap(server->hv, cpu, dbuf->num_grefs);
	}
	if (ret) {
		free(m);
		fe_log_rl(fe, DMAB_LOG_WARN, "dbuf 0x%" PRIx64 ": its pages cannot be mapped for "
			"reading (%s): shown only where the display scans it out, and no "
			"screenshot of it", dbuf->cookie, dmab_strerror(ret));
	}
}

static void dbuf_free(struct dmab_dbuf *dbuf)
{
	free(dbuf->refs);
	free(dbuf);
}

static void handle_released(void *data, int status)
{
	struct dmab_dbuf *dbuf = data;
	if (dbuf->fe)
		wl_list_remove(&dbuf->link);
	answer(&dbuf->destroy_reply, status ? -XEN_EBUSY : 0);
	dbuf_free(dbuf);
}

/*
 * Hand the buffer back. It leaves the frontend's books now and waits on its
 * releasing list; a zero-copy release may outlive the frontend itself.
 */
static void dbuf_release(struct dmab_dbuf *dbuf)
{
	struct dmab_frontend *fe = dbuf->fe;
	struct dmab_server *server = fe->server;
	wl_list_remove(&dbuf->link);
	wl_list_insert(&fe->releasing, &dbuf->link);
	fe->ndbufs--;
	fe->bytes -= dbuf_bytes(dbuf);

	switch (dbuf->import) {
	case DMAB_IMPORT_ZERO_COPY:
		/* The display's reference first, then ours, then wait for the rest. */
		dmab_obuf_destroy(dbuf->obuf);
		dmab_release_export(server->release, dbuf->export_fd, fe->domid,
			handle_released, dbuf);
		return;
	case DMAB_IMPORT_COPY:
		dmab_hv_grant_unmap(server->hv, dbuf->map, dbuf->num_grefs);
		break;
	case DMAB_IMPORT_BE_ALLOC:
		/* Grants the guest still maps end when it unmaps (gntdev defers). */
		dmab_hv_dmabuf_imp_release(server->hv, dbuf->obuf->fd);
		dmab_obuf_destroy(dbuf->obuf);
		break;
	}
	handle_released(dbuf, 0);
}

static void fb_free(struct dmab_fb *fb)
{
	struct dmab_frontend *fe = fb->fe;
	if (fb->ofb) {
		/*
		 * The display may still show it (a guest gone with its frame
		 * on screen): the output frees its framebuffer, and the
		 * buffer's release waits, until the screen commits without it.
		 */
		wl_list_remove(&fb->ofb_release.link);
		dmab_ofb_drop(fb->ofb);
	}
	fb->dbuf->nfbs--;
	wl_list_remove(&fb->link);
	fe->nfbs--;
	free(fb);
}

/* Take fb off every connector that shows it or is about to. */
static void fb_unshow(struct dmab_fb *fb)
{
	struct dmab_frontend *fe = fb->fe;
	for (unsigned int i = 0; i < fe->nconns; i++)
		dmab_connector_unshow(fe->conns[i], fb);
}

/* Continue a DBUF_DESTROY once its framebuffers are gone. */
static void dbuf_continue(struct dmab_dbuf *dbuf)
{
	if (!dbuf->destroying || dbuf->nfbs || dbuf->hold)
		return;
	dbuf_release(dbuf);
}

static bool shows_copy_of(const struct dmab_view_content *c, const struct dmab_fb *fb)
{
	return c->fb && c->fb->data == fb;
}

/* Whether a connector copies fb, or shows a copy of it or is about to. */
static bool copy_on_screen(const struct dmab_fb *fb)
{
	const struct dmab_frontend *fe = fb->fe;
	for (unsigned int i = 0; i < fe->nconns; i++) {
		const struct dmab_connector *conn = fe->conns[i];
		const struct dmab_view *view = conn->view;
		if (conn->copy_src == fb || shows_copy_of(&view->current, fb) ||
				shows_copy_of(&view->queued, fb) || shows_copy_of(&view->pending, fb))
			return true;
	}
	return false;
}

/*
 * Free a detaching fb once the display let go of it; whether it did. On
 * the copy path the display reads shadows, but the guest is answered only
 * once its frame is off the screen too, as on the others.
 */
static bool fb_try_free(struct dmab_fb *fb)
{
	if (!fb->detaching || (fb->ofb ? fb->ofb->locks > 0 : copy_on_screen(fb)))
		return false;
	answer(&fb->detach_reply, 0);
	fb_free(fb);
	return true;
}

void dmab_buffers_presented(struct dmab_frontend *fe)
{
	struct dmab_fb *fb, *tmp;
	wl_list_for_each_safe(fb, tmp, &fe->fbs, link) {
		if (fb->ofb || !fb->detaching)
			continue;
		struct dmab_dbuf *dbuf = fb->dbuf;
		if (fb_try_free(fb))
			dbuf_continue(dbuf);
	}
}

static void handle_ofb_release(struct wl_listener *listener, void *data)
{
	struct dmab_fb *fb = wl_container_of(listener, fb, ofb_release);
	struct dmab_dbuf *dbuf = fb->dbuf;
	if (fb_try_free(fb))
		dbuf_continue(dbuf);
}

/*
 * Take fb off the screen and free it if the display let go at once (else
 * dmab_fb_idle() does, later). The buffer's own destroy is the caller's to
 * continue: it may be freed by that.
 */
static void fb_detach(struct dmab_fb *fb)
{
	fb->detaching = true;
	/*
	 * Taking it off one connector may drop the display's last lock, whose
	 * release frees fb while the others are still to be looked at: our
	 * own lock holds it until they all were, and so does the buffer.
	 */
	struct dmab_dbuf *dbuf = fb->dbuf;
	struct dmab_ofb *ofb = fb->ofb;
	dbuf->hold++;
	if (ofb)
		dmab_ofb_lock(ofb);
	fb_unshow(fb);
	if (ofb)
		dmab_ofb_unlock(ofb);   /* its release frees fb, when nothing else reads it */
	else
		fb_try_free(fb);
	dbuf->hold--;
}

/* ---- requests ---- */

static int dbuf_create(struct dmab_connector *conn, const struct dmab_cmd_dbuf_create *c)
{
	struct dmab_frontend *fe = conn->fe;
	struct dmab_server *server = fe->server;
	const struct dmab_config_limits *limits = &server->config.limits;
	char reason[DMAB_REASON_LEN];
	size_t bytes = (size_t)c->num_grefs * DMAB_XEN_PAGE_SIZE;

	if (dbuf_find(fe, c->dbuf_cookie)) {
		conn_log_rl(conn, DMAB_LOG_WARN, "DBUF_CREATE of existing dbuf 0x%" PRIx64,
			c->dbuf_cookie);
		return -XEN_EEXIST;
	}
	if (fe->ndbufs >= limits->max_buffers || fe->bytes + bytes > limits->max_bytes) {
		conn_log_rl(conn, DMAB_LOG_WARN, "DBUF_CREATE refused: %u buffers, %" PRIu64
			" octets held (limits %u, %" PRIu64 ")", fe->ndbufs, fe->bytes,
			limits->max_buffers, limits->max_bytes);
		return -XEN_ENOSPC;
	}
	if (c->be_alloc && !fe->config.be_alloc) {
		conn_log_rl(conn, DMAB_LOG_WARN, "DBUF_CREATE asks for be-alloc on a device without it");
		return -XEN_EINVAL;
	}

	struct dmab_dbuf *dbuf = calloc(1, sizeof(*dbuf));
	grant_ref_t *refs = calloc(c->num_grefs, sizeof(*refs));
	if (!dbuf || !refs) {
		free(dbuf);
		free(refs);
		return -XEN_ENOMEM;
	}
	*dbuf = (struct dmab_dbuf){
		.fe = fe,
		.cookie = c->dbuf_cookie,
		.geom = {
			.width = c->width, .height = c->height, .bpp = c->bpp,
			.stride = c->stride, .buffer_sz = c->buffer_sz, .data_ofs = c->data_ofs,
		},
		.num_grefs = c->num_grefs,
		.refs = refs,
		.export_fd = -1,
	};

	int ret;
	if (c->be_alloc) {
		/*
		 * The directory's chain first: a guest's lie about it must cost no
		 * allocation, and get the same answer where allocating would fail.
		 */
		struct dmab_pgdir_access access = { pgdir_map, pgdir_unmap, fe };
		if (dmab_pgdir_check_chain(&access, c->gref_directory, c->num_grefs, reason)) {
			conn_log_rl(conn, DMAB_LOG_WARN, "DBUF_CREATE: %s", reason);
			ret = -EINVAL;
			goto err;
		}
		uint32_t stride = c->stride;
		/* Scanout memory of the display this connector is on, where it can. */
		ret = dmab_obuf_alloc(server->output, conn->view->screen, c->width, c->height,
			c->bpp, &stride, bytes, &dbuf->obuf);
		if (ret == 0 && stride != c->stride) {
			/* The guest writes rows at its own stride: a wider one would shear. */
			dmab_obuf_destroy(dbuf->obuf);
			ret = -EINVAL;
		}
		if (ret) {
			fe_log_rl(fe, DMAB_LOG_ERROR, "be-alloc of %ux%u: %s", c->width, c->height,
				dmab_strerror(ret));
			goto err;
		}
		ret = dmab_hv_dmabuf_imp_to_refs(server->hv, fe->domid, dbuf->obuf->fd,
			c->num_grefs, refs);
		if (ret) {
			fe_log_rl(fe, DMAB_LOG_ERROR, "granting a host buffer: %s", dmab_strerror(ret));
			dmab_obuf_destroy(dbuf->obuf);
			goto err;
		}
		if (dmab_fe_pgdir_write(fe, c->gref_directory, c->num_grefs, refs, reason)) {
			conn_log_rl(conn, DMAB_LOG_WARN, "DBUF_CREATE: %s", reason);
			dmab_hv_dmabuf_imp_release(server->hv, dbuf->obuf->fd);
			dmab_obuf_destroy(dbuf->obuf);
			ret = -EINVAL;
			goto err;
		}
		dbuf->import = DMAB_IMPORT_BE_ALLOC;
		dbuf->obuf->exported = true;
	} else {
		if (dmab_fe_pgdir_read(fe, c->gref_directory, c->num_grefs, refs, reason)) {
			conn_log_rl(conn, DMAB_LOG_WARN, "DBUF_CREATE: %s", reason);
			ret = -EINVAL;
			goto err;
		}
		int fd;
		ret = dmab_hv_dmabuf_exp_from_refs(server->hv, fe->domid, c->num_grefs, refs, &fd);
		if (ret == 0) {
			ret = dmab_obuf_import(server->output, fd, bytes, &dbuf->obuf);
			if (ret == 0) {
				dbuf->export_fd = fd;
				dbuf->import = DMAB_IMPORT_ZERO_COPY;
				if (!dbuf->obuf->cpu)
					map_for_cpu(fe, dbuf);
			} else {
				fe_log_rl(fe, DMAB_LOG_INFO, "the display cannot take the guest's dma-buf "
					"(%s): copying", dmab_strerror(ret));
				dmab_release_export(server->release, fd, fe->domid, NULL, NULL);
				ret = -EOPNOTSUPP;
			}
		}
		if (ret == -EOPNOTSUPP) {
			if (!fe->told_copy) {
				fe_log_rl(fe, DMAB_LOG_INFO, "the hypervisor cannot export this guest's "
					"grants as dma-bufs here: mapping them and copying once per frame");
				fe->told_copy = true;
			}
			ret = dmab_hv_grant_map(server->hv, fe->domid, c->num_grefs, refs, false,
				&dbuf->map);
			if (ret == 0)
				dbuf->import = DMAB_IMPORT_COPY;
		}
		if (ret) {
			conn_log_rl(conn, DMAB_LOG_WARN, "DBUF_CREATE: the guest's pages: %s",
				dmab_strerror(ret));
			goto err;
		}
	}

	wl_list_insert(fe->dbufs.prev, &dbuf->link);
	fe->ndbufs++;
	fe->bytes += bytes;
	fe->import_count[dbuf->import]++;
	fe_log(fe, DMAB_LOG_DEBUG, "dbuf 0x%" PRIx64 ": %ux%u bpp %u, %" PRIu32 " octets, %s",
		dbuf->cookie, c->width, c->height, c->bpp, c->buffer_sz,
		dmab_import_name(dbuf->import));
	return 0;
err:
	dbuf_free(dbuf);
	return dmab_xen_status(ret);
}

static int fb_attach(struct dmab_connector *conn, const struct dmab_cmd_fb_attach *c)
{
	struct dmab_frontend *fe = conn->fe;
	struct dmab_server *server = fe->server;
	const struct dmab_config_limits *limits = &server->config.limits;
	char reason[DMAB_REASON_LEN];

	struct dmab_dbuf *dbuf = dbuf_find(fe, c->dbuf_cookie);
	if (!dbuf || dbuf->destroying) {
		conn_log_rl(conn, DMAB_LOG_WARN, "FB_ATTACH to %s dbuf 0x%" PRIx64,
			dbuf ? "a destroyed" : "an unknown", c->dbuf_cookie);
		return dbuf ? -XEN_EINVAL : -XEN_ENOENT;
	}
	if (dmab_fb_find(fe, c->fb_cookie)) {
		conn_log_rl(conn, DMAB_LOG_WARN, "FB_ATTACH of existing fb 0x%" PRIx64, c->fb_cookie);
		return -XEN_EEXIST;
	}
	if (fe->nfbs >= limits->max_framebuffers) {
		conn_log_rl(conn, DMAB_LOG_WARN, "FB_ATTACH refused: %u framebuffers", fe->nfbs);
		return -XEN_ENOSPC;
	}
	uint32_t stride;
	int ret = dmab_fb_check(&dbuf->geom, c->width, c->height, c->fourcc, &stride, reason);
	if (ret) {
		conn_log_rl(conn, DMAB_LOG_WARN, "FB_ATTACH: %s", reason);
		return ret;
	}
	const struct dmab_format *fmt = dmab_format_lookup(c->fourcc);

	struct dmab_fb *fb = calloc(1, sizeof(*fb));
	if (!fb)
		return -XEN_ENOMEM;
	*fb = (struct dmab_fb){
		.fe = fe, .cookie = c->fb_cookie, .dbuf = dbuf,
		.width = c->width, .height = c->height, .fourcc = c->fourcc, .stride = stride,
	};

	if (dbuf->import == DMAB_IMPORT_COPY) {
		/* What the display reads: shadows of the connectors that show it, two each. */
		uint64_t shadow = 2 * (uint64_t)(4 * ((dmab_row_bytes(c->width, fmt->bpp) + 3) / 4)) *
			c->height;
		if (fe->bytes + shadow > limits->max_bytes) {
			conn_log_rl(conn, DMAB_LOG_WARN, "FB_ATTACH refused: %" PRIu64
				" octets held", fe->bytes);
			free(fb);
			return -XEN_ENOSPC;
		}
	} else {
		ret = dmab_ofb_create(dbuf->obuf, c->width, c->height, c->fourcc,
			dbuf->geom.data_ofs, stride, &fb->ofb);
		if (ret) {
			free(fb);
			return dmab_xen_status(ret);
		}
		fb->ofb->data = fb;
		fb->ofb_release.notify = handle_ofb_release;
		wl_signal_add(&fb->ofb->events.release, &fb->ofb_release);
	}
	wl_list_insert(fe->fbs.prev, &fb->link);
	fe->nfbs++;
	dbuf->nfbs++;
	return 0;
}

int dmab_buffer_request(struct dmab_connector *conn, const struct dmab_cmd *cmd)
{
	struct dmab_frontend *fe = conn->fe;
	switch (cmd->op) {
	case XENDISPL_OP_DBUF_CREATE:
		return dbuf_create(conn, &cmd->dbuf_create);
	case XENDISPL_OP_FB_ATTACH:
		return fb_attach(conn, &cmd->fb_attach);
	case XENDISPL_OP_FB_DETACH: {
		struct dmab_fb *fb = dmab_fb_find(fe, cmd->fb_detach_cookie);
		if (!fb || fb->detaching) {
			conn_log_rl(conn, DMAB_LOG_WARN, "FB_DETACH of %s fb 0x%" PRIx64,
				fb ? "a detaching" : "an unknown", cmd->fb_detach_cookie);
			return fb ? -XEN_EINVAL : -XEN_ENOENT;
		}
		defer(&fb->detach_reply, conn, cmd);
		fb_detach(fb);
		return 1;
	}
	case XENDISPL_OP_DBUF_DESTROY: {
		struct dmab_dbuf *dbuf = dbuf_find(fe, cmd->dbuf_destroy_cookie);
		if (!dbuf || dbuf->destroying) {
			conn_log_rl(conn, DMAB_LOG_WARN, "DBUF_DESTROY of %s dbuf 0x%" PRIx64,
				dbuf ? "a destroyed" : "an unknown", cmd->dbuf_destroy_cookie);
			return dbuf ? -XEN_EINVAL : -XEN_ENOENT;
		}
		defer(&dbuf->destroy_reply, conn, cmd);
		dbuf->destroying = true;
		/* Its framebuffers go with it, off the screen first; it goes after, once. */
		struct dmab_fb *fb, *tmp;
		dbuf->hold++;
		wl_list_for_each_safe(fb, tmp, &fe->fbs, link) {
			if (fb->dbuf == dbuf && !fb->detaching)
				fb_detach(fb);
		}
		dbuf->hold--;
		dbuf_continue(dbuf);
		return 1;
	}
	}
	return -XEN_EINVAL;
}

size_t dmab_fb_copy(const struct dmab_fb *fb, struct dmab_ofb *dst, uint32_t *row,
		uint32_t count)
{
	const struct dmab_dbuf *dbuf = fb->dbuf;
	const struct dmab_format *fmt = dmab_format_lookup(fb->fourcc);
	size_t len = dmab_row_bytes(fb->width, fmt->bpp);
	const uint8_t *src = (const uint8_t *)dbuf->map + dbuf->geom.data_ofs;
	uint8_t *out = (uint8_t *)dst->buffer->cpu + dst->offset;
	uint32_t end = fb->height - *row < count ? fb->height : *row + count;
	/* dmab_fb_check() proved every row inside the mapping. */
	for (uint32_t y = *row; y < end; y++)
		memcpy(out + (size_t)y * dst->stride, src + (size_t)y * fb->stride, len);
	size_t copied = len * (end - *row);
	*row = end;
	return copied;
}

void dmab_buffers_forget_connector(struct dmab_frontend *fe, struct dmab_connector *conn)
{
	struct dmab_fb *fb;
	wl_list_for_each(fb, &fe->fbs, link) {
		if (fb->detach_reply.conn == conn)
			fb->detach_reply.conn = NULL;
	}
	struct dmab_dbuf *dbuf;
	wl_list_for_each(dbuf, &fe->dbufs, link) {
		if (dbuf->destroy_reply.conn == conn)
			dbuf->destroy_reply.conn = NULL;
	}
	wl_list_for_each(dbuf, &fe->releasing, link) {
		if (dbuf->destroy_reply.conn == conn)
			dbuf->destroy_reply.conn = NULL;
	}
}

void dmab_buffers_orphan(struct dmab_frontend *fe)
{
	struct dmab_dbuf *dbuf, *tmp;
	wl_list_for_each_safe(dbuf, tmp, &fe->releasing, link) {
		dbuf->destroy_reply.active = false;
		dbuf->fe = NULL;
		wl_list_remove(&dbuf->link);
		wl_list_init(&dbuf->link);
	}
}

void dmab_buffers_release_all(struct dmab_frontend *fe)
{
	/* The views are gone: their screens commit without these. */
	struct dmab_fb *fb, *ftmp;
	wl_list_for_each_safe(fb, ftmp, &fe->fbs, link) {
		fb->detach_reply.active = false;
		fb_free(fb);
	}
	struct dmab_dbuf *dbuf, *dtmp;
	wl_list_for_each_safe(dbuf, dtmp, &fe->dbufs, link) {
		dbuf->destroy_reply.active = false;
		dbuf_release(dbuf);
	}
}
