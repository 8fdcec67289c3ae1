// SPDX-License-Identifier: MIT
/*
 * A guest connector: its request ring and event page, both mapped from the
 * guest, their event channels, and its view on the display. Requests are
 * copied out of the ring once, decoded by protocol/, and answered in the
 * ring; PG_FLIP events go out when the display shows the frame.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/edid.h"
#include "protocol/format.h"
#include "protocol/response.h"
#include "protocol/status.h"
#include "server/frontend.h"
#include "server/layout.h"
#include "server/server.h"

/* Requests taken per wake-up before other guests get their turn. */
#define REQUEST_BUDGET 64

void dmab_connector_respond(struct dmab_connector *conn, uint16_t id, uint8_t op,
		int32_t status, uint32_t edid_sz)
{
	struct xendispl_resp resp;
	bool notify;
	dmab_resp_encode(&resp, id, op, status, edid_sz);
	if (status)
		conn->stats.errors++;
	if (dmab_req_ring_put(&conn->req, &resp, &notify) == 0 && notify)
		dmab_hv_evtchn_notify(conn->req_chn);
}

/* requests_per_second, as a token bucket over the whole device. */
static bool take_token(struct dmab_frontend *fe)
{
	uint32_t rate = fe->server->config.limits.requests_per_second;
	if (rate == 0)
		return true;
	uint64_t now = dmab_now_ns();
	fe->tokens += (double)(now - fe->tokens_ns) * rate / 1e9;
	fe->tokens_ns = now;
	if (fe->tokens > rate)
		fe->tokens = rate;
	if (fe->tokens < 1)
		return false;
	fe->tokens -= 1;
	return true;
}

static int set_config(struct dmab_connector *conn, const struct dmab_cmd_set_config *sc)
{
	if (sc->fb_cookie == 0) {
		if (conn->showing)
			dmab_oview_show(conn->view, NULL, NULL);
		conn->showing = NULL;
		conn->flip_fb = NULL;
		return 0;
	}
	struct dmab_fb *fb = dmab_fb_find(conn->fe, sc->fb_cookie);
	if (!fb) {
		conn_log_rl(conn, DMAB_LOG_WARN, "SET_CONFIG of unknown fb 0x%" PRIx64, sc->fb_cookie);
		return -XEN_ENOENT;
	}
	const struct dmab_format *fmt = dmab_format_lookup(fb->fourcc);
	if (fb->detaching || fmt->bpp != sc->bpp || sc->width > fb->width ||
			sc->height > fb->height) {
		conn_log_rl(conn, DMAB_LOG_WARN, "SET_CONFIG %ux%u+%u+%u bpp %u does not fit "
			"fb 0x%" PRIx64 " (%ux%u %s)", sc->width, sc->height, sc->x, sc->y, sc->bpp,
			fb->cookie, fb->width, fb->height, fmt->name);
		return -XEN_EINVAL;
	}
	struct dmab_rect dst = { sc->x, sc->y, sc->width, sc->height };
	int ret = dmab_oview_show(conn->view, fb->ofb, &dst);
	if (ret)
		return dmab_xen_status(ret);
	conn->showing = fb;
	return 0;
}

static int pg_flip(struct dmab_connector *conn, uint64_t cookie)
{
	struct dmab_fb *fb = dmab_fb_find(conn->fe, cookie);
	if (!fb || fb->detaching) {
		conn_log_rl(conn, DMAB_LOG_WARN, "PG_FLIP of %s fb 0x%" PRIx64,
			fb ? "a detaching" : "an unknown", cookie);
		return fb ? -XEN_EINVAL : -XEN_ENOENT;
	}
	if (!conn->showing) {
		conn_log_rl(conn, DMAB_LOG_WARN, "PG_FLIP while the connector is off");
		return -XEN_EINVAL;
	}
	int ret = dmab_oview_flip(conn->view, fb->ofb);
	if (ret)
		return dmab_xen_status(ret);
	conn->stats.flips++;
	conn->showing = fb;
	conn->flip_fb = fb;
	conn->flip_ns = dmab_now_ns();
	return 0;
}

static int get_edid(struct dmab_connector *conn, const struct dmab_cmd_get_edid *ge,
		uint32_t *size)
{
	struct dmab_frontend *fe = conn->fe;
	uint8_t edid[DMAB_EDID_BLOCK_SIZE];
	if (dmab_edid_generate(edid, conn->width, conn->height, conn->unique_id) < 0)
		return -XEN_EOPNOTSUPP;

	grant_ref_t refs[XENDISPL_EDID_MAX_SIZE / DMAB_XEN_PAGE_SIZE];
	char reason[DMAB_REASON_LEN];
	if (dmab_fe_pgdir_read(fe, ge->gref_directory, ge->num_grefs, refs, reason)) {
		conn_log_rl(conn, DMAB_LOG_WARN, "GET_EDID: %s", reason);
		return -XEN_EINVAL;
	}
	void *page;
	int ret = dmab_hv_grant_map(fe->server->hv, fe->domid, 1, refs, true, &page);
	if (ret) {
		conn_log_rl(conn, DMAB_LOG_WARN, "GET_EDID: cannot map the buffer: %s",
			dmab_strerror(ret));
		return dmab_xen_status(ret);
	}
	memcpy(page, edid, sizeof(edid));
	dmab_hv_grant_unmap(fe->server->hv, page, 1);
	*size = sizeof(edid);
	return 0;
}

static void handle_request(struct dmab_connector *conn, const struct xendispl_req *req)
{
	struct dmab_frontend *fe = conn->fe;
	const struct dmab_config_limits *cl = &fe->server->config.limits;
	struct dmab_limits limits = {
		.max_buffer_bytes = cl->max_buffer_bytes,
		.max_width = cl->max_width,
		.max_height = cl->max_height,
	};
	struct dmab_decode_ctx ctx = {
		.version = fe->version,
		.conn_width = conn->width,
		.conn_height = conn->height,
		.limits = &limits,
	};
	struct dmab_cmd cmd;
	char reason[DMAB_REASON_LEN];
	uint32_t edid_sz = 0;

	conn->stats.requests++;
	int status = dmab_request_decode(req, &ctx, &cmd, reason);
	/* Every request costs a token, the malformed ones too. */
	if (!take_token(fe)) {
		conn_log_rl(conn, DMAB_LOG_WARN, "%s refused: more than %u requests a second",
			dmab_op_name(cmd.op), cl->requests_per_second);
		status = -XEN_EBUSY;
	} else if (status) {
		conn_log_rl(conn, DMAB_LOG_WARN, "%s refused: %s", dmab_op_name(cmd.op), reason);
	} else {
		switch (cmd.op) {
		case XENDISPL_OP_DBUF_CREATE:
		case XENDISPL_OP_DBUF_DESTROY:
		case XENDISPL_OP_FB_ATTACH:
		case XENDISPL_OP_FB_DETACH:
			status = dmab_buffer_request(conn, &cmd);
			if (status == 1)
				return; /* answered when the display or hypervisor lets go */
			break;
		case XENDISPL_OP_SET_CONFIG:
			status = set_config(conn, &cmd.set_config);
			break;
		case XENDISPL_OP_PG_FLIP:
			status = pg_flip(conn, cmd.pg_flip_cookie);
			break;
		case XENDISPL_OP_GET_EDID:
			status = get_edid(conn, &cmd.get_edid, &edid_sz);
			break;
		}
	}
	dmab_connector_respond(conn, cmd.id, cmd.op, status, edid_sz);
}

void dmab_connector_process(struct dmab_connector *conn)
{
	struct dmab_frontend *fe = conn->fe;
	for (int n = 0; n < REQUEST_BUDGET; n++) {
		if (fe->failed)
			return;
		struct xendispl_req req;
		int ret = dmab_req_ring_get(&conn->req, &req);
		if (ret < 0) {
			dmab_frontend_fail(fe, "its request ring's producer ran past the ring");
			return;
		}
		if (ret == 0) {
			if (dmab_req_ring_final_check(&conn->req))
				continue;
			return;
		}
		handle_request(conn, &req);
	}
	/* More waiting: take it after everyone else had a turn. */
	dmab_server_schedule(fe->server, &conn->busy_link, &conn->busy);
}

static void handle_req_event(void *data)
{
	/* A turn comes in the next loop iteration, one per connector however many notifications. */
	struct dmab_connector *conn = data;
	dmab_server_schedule(conn->fe->server, &conn->busy_link, &conn->busy);
}

static void handle_evt_event(void *data)
{
	/* The event channel carries nothing from the frontend to us. */
}

void dmab_connector_presented(struct dmab_connector *conn, struct dmab_fb *fb,
		uint64_t when_ns)
{
	struct dmab_frontend *fe = conn->fe;
	if (fe->failed)
		return;
	dmab_stats_frame(&conn->stats, fb == conn->flip_fb ? conn->flip_ns : 0, when_ns);
	if (fb == conn->flip_fb)
		conn->flip_fb = NULL;
	int ret = dmab_evt_ring_push_pg_flip(&conn->evt, fb->cookie);
	if (ret == -ENOSPC) {
		conn->stats.events_dropped++;
		conn_log_rl(conn, DMAB_LOG_WARN, "event page full: the guest does not consume "
			"events (%" PRIu64 " dropped)", conn->stats.events_dropped);
		return;
	}
	if (ret) {
		dmab_frontend_fail(fe, "its event page's consumer index is impossible");
		return;
	}
	dmab_hv_evtchn_notify(conn->evt_chn);
}

int dmab_connector_create(struct dmab_frontend *fe, unsigned int index,
		const struct dmab_xs_connector_transport *transport,
		struct dmab_connector **out)
{
	struct dmab_server *server = fe->server;
	struct dmab_connector *conn = calloc(1, sizeof(*conn));
	if (!conn)
		return -ENOMEM;
	conn->fe = fe;
	conn->index = index;
	conn->width = fe->config.connectors[index].width;
	conn->height = fe->config.connectors[index].height;
	memcpy(conn->unique_id, fe->config.connectors[index].unique_id, sizeof(conn->unique_id));

	/* Only the domain the toolstack named for this device. */
	int ret = dmab_hv_grant_map(server->hv, fe->domid, 1, &transport->req_ring_ref,
		true, &conn->req_page);
	if (ret)
		goto err;
	ret = dmab_hv_grant_map(server->hv, fe->domid, 1, &transport->evt_ring_ref,
		true, &conn->evt_page);
	if (ret)
		goto err;
	dmab_req_ring_init(&conn->req, conn->req_page);
	dmab_evt_ring_init(&conn->evt, conn->evt_page);

	ret = dmab_hv_evtchn_bind(server->hv, fe->domid, transport->req_evtchn,
		handle_req_event, conn, &conn->req_chn);
	if (ret)
		goto err;
	ret = dmab_hv_evtchn_bind(server->hv, fe->domid, transport->evt_evtchn,
		handle_evt_event, conn, &conn->evt_chn);
	if (ret)
		goto err;

	dmab_layout_assign(server, conn);
	uint32_t hz = dmab_edid_refresh_hz(conn->width, conn->height);
	ret = dmab_oview_create(server->output, conn->width, conn->height,
		(hz ? hz : 60) * 1000, &conn->place, conn, &conn->view);
	if (ret)
		goto err;
	*out = conn;
	/* Requests sent before we bound the channel have no notification. */
	dmab_server_schedule(server, &conn->busy_link, &conn->busy);
	return 0;
err:
	dmab_connector_destroy(conn);
	return ret;
}

void dmab_connector_destroy(struct dmab_connector *conn)
{
	if (!conn)
		return;
	struct dmab_hv *hv = conn->fe->server->hv;
	dmab_layout_release(conn->fe->server, conn);
	dmab_oview_destroy(conn->view);
	if (conn->busy)
		wl_list_remove(&conn->busy_link);
	dmab_hv_evtchn_close(conn->req_chn);
	dmab_hv_evtchn_close(conn->evt_chn);
	if (conn->req_page)
		dmab_hv_grant_unmap(hv, conn->req_page, 1);
	if (conn->evt_page)
		dmab_hv_grant_unmap(hv, conn->evt_page, 1);
	free(conn);
}
