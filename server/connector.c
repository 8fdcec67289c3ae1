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
#include "server/control-shot.h"
#include "server/frontend.h"
#include "server/layout.h"
#include "server/scheduler.h"
#include "server/server.h"

/*
 * Requests taken per wake-up before other guests get their turn, and the
 * time that may take: where mapping grants is slow (a PV dom0, an emulated
 * CPU) 64 requests that each map pages hold the loop for hundreds of ms.
 */
#define REQUEST_BUDGET 64
#define TURN_BUDGET_NS (2 * 1000000ull)

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

/*
 * The guest broke the ring protocol: its device is torn down from the
 * event loop, not under our feet, and nothing of it is handled any more.
 */
static void broken(struct dmab_connector *conn, const char *reason)
{
	struct dmab_connector_broken_event event = { .conn = conn, .reason = reason };
	wl_signal_emit(&conn->events.broken, &event);
}

/* ---- what the connector shows ---- */

/* The guest hears of every flip, in order, once its frame or a later one is on screen. */
static void report_flips(struct dmab_connector *conn, uint64_t upto, uint64_t committed_ns,
		uint64_t when_ns)
{
	struct dmab_frontend *fe = conn->fe;
	uint64_t requested_ns = 0;
	unsigned int n = 0;
	bool pushed = false;
	while (n < conn->nflips && conn->flips[n].seq <= upto) {
		const struct dmab_flip *flip = &conn->flips[n++];
		requested_ns = flip->requested_ns;
		dmab_stats_commit(&conn->stats, flip->requested_ns, committed_ns);
		if (fe->failed)
			continue;
		int ret = dmab_evt_ring_push_pg_flip(&conn->evt, flip->cookie);
		if (ret == -ENOSPC) {
			conn->stats.events_dropped++;
			conn_log_rl(conn, DMAB_LOG_WARN, "event page full: the guest does not consume "
				"events (%" PRIu64 " dropped)", conn->stats.events_dropped);
		} else if (ret) {
			broken(conn, "its event page's consumer index is impossible");
		} else {
			pushed = true;
		}
	}
	/* One notification for the events of a refresh, however many flips it completed. */
	if (pushed)
		dmab_hv_evtchn_notify(conn->evt_chn);
	memmove(conn->flips, conn->flips + n, (conn->nflips - n) * sizeof(conn->flips[0]));
	conn->nflips -= n;
	/* Frames are flips shown; a SET_CONFIG shown is not one. */
	if (n)
		dmab_stats_frame(&conn->stats, requested_ns, when_ns);
}

static void copy_start(struct dmab_connector *conn);
static void handed_off(struct dmab_connector *conn, uint64_t seq);

static void handle_view_present(struct wl_listener *listener, void *data)
{
	struct dmab_connector *conn = wl_container_of(listener, conn, view_present);
	const struct dmab_view_present_event *event = data;
	report_flips(conn, event->seq, event->committed_ns, event->when_ns);
	copy_start(conn);
	dmab_buffers_presented(conn->fe);
}

/* Where the connector's copy-path shadows come from, for framebuffers like fb. */
static int shadows_for(struct dmab_connector *conn, const struct dmab_fb *fb)
{
	struct dmab_server *server = conn->fe->server;
	if (conn->shadows && dmab_swapchain_fits(conn->shadows, fb->width, fb->height, fb->fourcc))
		return 0;
	/*
	 * One on screen, one queued or attached, one being copied into; and one
	 * for each screenshot being made, which holds what it draws.
	 */
	struct dmab_swapchain *sc = dmab_swapchain_create(server->output, conn->view->screen,
		fb->width, fb->height, fb->fourcc, 3 + DMAB_SHOTS_MAX);
	if (!sc)
		return -ENOMEM;
	/* Shadows on screen or queued stay until the display lets go of them. */
	if (conn->shadows) {
		wl_list_remove(&conn->shadow_release.link);
		dmab_swapchain_destroy(conn->shadows);
	}
	conn->shadows = sc;
	dmab_swapchain_add_release_listener(sc, &conn->shadow_release);
	return 0;
}

/* A shadow is free again: a frame may have waited for one. */
static void handle_shadow_release(struct wl_listener *listener, void *data)
{
	struct dmab_connector *conn = wl_container_of(listener, conn, shadow_release);
	copy_start(conn);
}

/* The part of fb SET_CONFIG named, cut to fb (a later flip may name a smaller one). */
static struct dmab_rect shown_part(const struct dmab_connector *conn, const struct dmab_fb *fb)
{
	const struct dmab_rect *r = &conn->show_rect;
	uint32_t x = conn->show_src_x < fb->width ? conn->show_src_x : fb->width;
	uint32_t y = conn->show_src_y < fb->height ? conn->show_src_y : fb->height;
	return (struct dmab_rect){ (int32_t)x, (int32_t)y,
		r->width < fb->width - x ? r->width : fb->width - x,
		r->height < fb->height - y ? r->height : fb->height - y };
}

/* Octets a copy worker copies before another job gets a turn. */
#define COPY_SLICE (512u << 10)

static bool copy_run(struct dmab_copy_job *job)
{
	struct dmab_connector *conn = wl_container_of(job, conn, copy_job);
	const struct dmab_fb *fb = conn->copy_src;
	uint32_t pitch = conn->copy_dst->stride;
	uint32_t rows = pitch < COPY_SLICE ? COPY_SLICE / pitch : 1;
	conn->copy_bytes += dmab_fb_copy(fb, conn->copy_dst, &conn->copy_row, rows);
	return conn->copy_row == fb->height;
}

static void copy_done(struct dmab_copy_job *job)
{
	struct dmab_connector *conn = wl_container_of(job, conn, copy_job);
	struct dmab_fb *fb = conn->copy_src;
	struct dmab_ofb *shadow = conn->copy_dst;
	conn->copy_src = NULL;
	conn->copy_dst = NULL;
	conn->stats.bytes_copied += conn->copy_bytes;
	/* Content attached directly since (nothing, a zero-copy frame) is newer. */
	if (conn->copy_job_seq > conn->direct_seq) {
		/* Whose frame the shadow holds: its FB_DETACH waits until it is off the screen. */
		shadow->data = fb;
		struct dmab_view_content content = {
			.fb = shadow,
			.src = shown_part(conn, fb),
			.dx = conn->show_rect.x, .dy = conn->show_rect.y,
			.seq = conn->copy_job_seq,
		};
		dmab_view_attach(conn->view, &content);
		conn->copy_attached = conn->copy_job_seq;
		handed_off(conn, conn->copy_job_seq);
	}
	dmab_ofb_unlock(shadow);
	/* A newer frame waits until the screen took this one. */
	copy_start(conn);
	dmab_buffers_presented(conn->fe);
}

/*
 * Start copying the newest frame asked for, on a worker: at once, unless
 * the last copy still waits for the screen to take it (one copy a refresh).
 */
static void copy_start(struct dmab_connector *conn)
{
	struct dmab_server *server = conn->fe->server;
	struct dmab_fb *fb = conn->copy_fb;
	const struct dmab_view *view = conn->view;
	if (!fb || conn->copy_src || (view->has_pending && view->pending.seq == conn->copy_attached))
		return;
	struct dmab_ofb *shadow = dmab_swapchain_acquire(conn->shadows);
	if (!shadow && dmab_swapchain_full(conn->shadows)) {
		/* All held (the display, screenshots): the frame waits for the next one free. */
		return;
	}
	conn->copy_fb = NULL;
	if (!shadow) {
		conn_log_rl(conn, DMAB_LOG_ERROR, "no memory for a shadow buffer: a frame is lost");
		report_flips(conn, conn->copy_seq, 0, dmab_now_ns());
		return;
	}
	conn->copy_src = fb;
	conn->copy_dst = shadow;
	conn->copy_job_seq = conn->copy_seq;
	conn->copy_row = 0;
	conn->copy_bytes = 0;
	conn->copy_job.run = copy_run;
	conn->copy_job.done = copy_done;
	dmab_copier_submit(server->copier, &conn->copy_job);
}

/* Show fb (NULL: nothing) from the next frame on; flip_cookie != 0 for a PG_FLIP. */
static int show(struct dmab_connector *conn, struct dmab_fb *fb, uint64_t flip_cookie)
{
	if (fb && fb->dbuf->import == DMAB_IMPORT_COPY) {
		int ret = shadows_for(conn, fb);
		if (ret)
			return ret;
	}
	conn->seq++;
	if (flip_cookie) {
		if (conn->nflips == DMAB_CONN_FLIPS) {
			/* A guest that flips without waiting: the oldest is over. */
			report_flips(conn, conn->flips[0].seq, 0, dmab_now_ns());
		}
		conn->flips[conn->nflips++] = (struct dmab_flip){
			.seq = conn->seq, .cookie = flip_cookie,
			.requested_ns = conn->notified_ns ? conn->notified_ns : dmab_now_ns(),
		};
	}
	conn->showing = fb;
	if (fb && fb->dbuf->import == DMAB_IMPORT_COPY) {
		/* Copied from the next frame on: once per refresh, never into what is on screen. */
		conn->copy_fb = fb;
		conn->copy_seq = conn->seq;
		copy_start(conn);
		return 0;
	}
	conn->copy_fb = NULL;
	conn->direct_seq = conn->seq;
	handed_off(conn, conn->seq);
	struct dmab_view_content content = { .seq = conn->seq };
	if (fb) {
		content.fb = fb->ofb;
		content.src = shown_part(conn, fb);
		content.dx = conn->show_rect.x;
		content.dy = conn->show_rect.y;
	}
	dmab_view_attach(conn->view, &content);
	return 0;
}

void dmab_connector_unshow(struct dmab_connector *conn, struct dmab_fb *fb)
{
	const struct dmab_view_content *latest = dmab_view_latest(conn->view);
	if (conn->showing == fb || conn->copy_fb == fb || (fb->ofb && latest->fb == fb->ofb)) {
		show(conn, NULL, 0);
		conn->showing = NULL;
	}
}

static int set_config(struct dmab_connector *conn, const struct dmab_cmd_set_config *sc)
{
	if (sc->fb_cookie == 0)
		return dmab_xen_status(show(conn, NULL, 0));
	struct dmab_fb *fb = dmab_fb_find(conn->fe, sc->fb_cookie);
	if (!fb) {
		conn_log_rl(conn, DMAB_LOG_WARN, "SET_CONFIG of unknown fb 0x%" PRIx64, sc->fb_cookie);
		return -XEN_ENOENT;
	}
	const struct dmab_format *fmt = dmab_format_lookup(fb->fourcc);
	if (fb->detaching || fmt->bpp != sc->bpp ||
			(uint64_t)sc->src_x + sc->width > fb->width ||
			(uint64_t)sc->src_y + sc->height > fb->height) {
		conn_log_rl(conn, DMAB_LOG_WARN, "SET_CONFIG %ux%u at %u,%u of the framebuffer "
			"bpp %u does not fit fb 0x%" PRIx64 " (%ux%u %s)", sc->width, sc->height,
			sc->src_x, sc->src_y, sc->bpp, fb->cookie, fb->width, fb->height, fmt->name);
		return -XEN_EINVAL;
	}
	/* protocol/ bounded x, y, width and height by the connector's size. */
	struct dmab_rect old = conn->show_rect;
	uint32_t old_x = conn->show_src_x, old_y = conn->show_src_y;
	conn->show_rect = (struct dmab_rect){ (int32_t)sc->x, (int32_t)sc->y, sc->width, sc->height };
	conn->show_src_x = sc->src_x;
	conn->show_src_y = sc->src_y;
	int ret = show(conn, fb, 0);
	if (ret) {
		conn->show_rect = old;
		conn->show_src_x = old_x;
		conn->show_src_y = old_y;
	}
	return dmab_xen_status(ret);
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
	int ret = show(conn, fb, cookie);
	if (ret)
		return dmab_xen_status(ret);
	conn->stats.flips++;
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

/* One turn at the connector's requests: at most REQUEST_BUDGET of them, TURN_BUDGET_NS. */
static void handle_turn(struct dmab_task *task)
{
	struct dmab_connector *conn = wl_container_of(task, conn, task);
	struct dmab_frontend *fe = conn->fe;
	uint64_t start = dmab_now_ns();
	for (int n = 0; n < REQUEST_BUDGET && (n == 0 || dmab_now_ns() - start < TURN_BUDGET_NS);
			n++) {
		if (fe->failed)
			return;
		struct xendispl_req req;
		int ret = dmab_req_ring_get(&conn->req, &req);
		if (ret < 0) {
			broken(conn, "its request ring's producer ran past the ring");
			return;
		}
		if (ret == 0) {
			if (dmab_req_ring_final_check(&conn->req))
				continue;
			/* Empty: the next notification starts the clock again. */
			conn->notified_ns = 0;
			return;
		}
		handle_request(conn, &req);
	}
	/* More waiting: take it after everyone else had a turn. */
	dmab_scheduler_queue(fe->server->scheduler, &conn->task);
}

/* Every flip attached with content up to seq was handed to the output now. */
static void handed_off(struct dmab_connector *conn, uint64_t seq)
{
	uint64_t now = dmab_now_ns();
	for (unsigned int i = 0; i < conn->nflips && conn->flips[i].seq <= seq; i++) {
		if (!conn->flips[i].handed)
			dmab_stats_handoff(&conn->stats, conn->flips[i].requested_ns, now);
		conn->flips[i].handed = true;
	}
}

static void handle_req_event(void *data)
{
	/* A turn comes in the next loop iteration, one per connector however many notifications. */
	struct dmab_connector *conn = data;
	/* The earliest we know of what the guest asked: its flips' latency counts from here. */
	if (!conn->task.queued)
		conn->notified_ns = dmab_now_ns();
	dmab_scheduler_queue(conn->fe->server->scheduler, &conn->task);
}

static void handle_evt_event(void *data)
{
	/* The event channel carries nothing from the frontend to us. */
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
	dmab_task_init(&conn->task, handle_turn);
	wl_signal_init(&conn->events.broken);
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
	conn->view = dmab_view_create(server->output, conn->width, conn->height, &conn->place);
	if (!conn->view) {
		ret = -ENOMEM;
		goto err;
	}
	conn->view->data = conn;
	conn->view_present.notify = handle_view_present;
	conn->shadow_release.notify = handle_shadow_release;
	wl_signal_add(&conn->view->events.present, &conn->view_present);
	*out = conn;
	/* Requests sent before we bound the channel have no notification. */
	dmab_scheduler_queue(server->scheduler, &conn->task);
	return 0;
err:
	dmab_connector_destroy(conn);
	return ret;
}

void dmab_connector_destroy(struct dmab_connector *conn)
{
	if (!conn)
		return;
	struct dmab_server *server = conn->fe->server;
	struct dmab_hv *hv = server->hv;
	/* A copy under way reads the guest's pages: it ends before they go. */
	dmab_copier_cancel(server->copier, &conn->copy_job);
	if (conn->shadows)
		wl_list_remove(&conn->shadow_release.link);
	dmab_ofb_unlock(conn->copy_dst);
	dmab_layout_release(server, conn);
	if (conn->view) {
		wl_list_remove(&conn->view_present.link);
		dmab_view_destroy(conn->view);
	}
	dmab_swapchain_destroy(conn->shadows);
	dmab_task_finish(&conn->task);
	dmab_hv_evtchn_close(conn->req_chn);
	dmab_hv_evtchn_close(conn->evt_chn);
	if (conn->req_page)
		dmab_hv_grant_unmap(hv, conn->req_page, 1);
	if (conn->evt_page)
		dmab_hv_grant_unmap(hv, conn->evt_page, 1);
	free(conn);
}
