/* SPDX-License-Identifier: MIT */
/*
 * One guest vdispl device (a "frontend" in Xen's terms), its connectors,
 * display buffers and framebuffers. Everything here is owned by the
 * frontend and released when the guest disconnects, dies or misbehaves;
 * nothing one frontend does touches another.
 */
#ifndef DMAB_SERVER_FRONTEND_H
#define DMAB_SERVER_FRONTEND_H

#include <stdbool.h>
#include <stdint.h>
#include <wayland-server-core.h>

#include "common/log.h"
#include "hv/hv.h"
#include "protocol/request.h"
#include "protocol/ring.h"
#include "protocol/xenstore.h"
#include "server/config.h"
#include "server/copier.h"
#include "server/guest-log.h"
#include "server/scheduler.h"
#include "output/output.h"
#include "output/swapchain.h"
#include "server/stats.h"

struct dmab_server;
struct dmab_frontend;

/** How a display buffer reaches the display. */
enum dmab_import {
	DMAB_IMPORT_ZERO_COPY,  /* grants exported as a dma-buf */
	DMAB_IMPORT_COPY,       /* grants mapped, copied once per flip */
	DMAB_IMPORT_BE_ALLOC,   /* allocated here, granted to the guest */
};

const char *dmab_import_name(enum dmab_import import);

/** A request whose response waits for the display or the hypervisor. */
struct dmab_deferred {
	struct dmab_connector *conn;    /* NULL: nobody to answer any more */
	uint16_t id;
	uint8_t op;
	bool active;
};

struct dmab_dbuf {
	struct wl_list link;            /* dmab_frontend.dbufs */
	struct dmab_frontend *fe;
	uint64_t cookie;
	struct dmab_buffer_geom geom;
	uint32_t num_grefs;
	grant_ref_t *refs;
	enum dmab_import import;
	struct dmab_obuf *obuf;         /* zero copy: the import; be-alloc: the allocation */
	int export_fd;                  /* zero copy: the dma-buf the hypervisor made */
	void *map;                      /* copy: the guest's pages, read-only */
	unsigned int nfbs;
	unsigned int hold;              /* being worked on: not released meanwhile */
	bool destroying;
	struct dmab_deferred destroy_reply;
};

struct dmab_fb {
	struct wl_list link;            /* dmab_frontend.fbs */
	struct dmab_frontend *fe;
	uint64_t cookie;
	struct dmab_dbuf *dbuf;
	uint32_t width, height, fourcc, stride;
	/*
	 * zero copy and be-alloc: the framebuffer the display reads, with a
	 * listener for it going idle. The copy path has none: each flip is
	 * copied into a shadow of the connector that shows it.
	 */
	struct dmab_ofb *ofb;
	struct wl_listener ofb_release;
	bool detaching;
	struct dmab_deferred detach_reply;
};

/* Flips whose PG_FLIP event is due when their frame (or a later one) is on screen. */
#define DMAB_CONN_FLIPS 8

struct dmab_flip {
	uint64_t seq;
	uint64_t cookie;
	uint64_t requested_ns;          /* its connector was notified */
	bool handed;                    /* handed to the output (stats) */
};

/** Why a connector's guest is dropped: dmab_connector.events.broken. */
struct dmab_connector_broken_event {
	struct dmab_connector *conn;
	const char *reason;
};

struct dmab_connector {
	struct dmab_frontend *fe;
	unsigned int index;
	uint32_t width, height;
	char unique_id[DMAB_XS_UNIQUE_ID_MAX + 1];
	void *req_page, *evt_page;
	struct dmab_req_ring req;
	struct dmab_evt_ring evt;
	struct dmab_hv_evtchn *req_chn, *evt_chn;
	struct dmab_view *view;
	struct wl_listener view_present;
	struct dmab_view_place place;
	char place_label[DMAB_CONFIG_LABEL_MAX + 1]; /* the configured place it holds, or "" */
	struct dmab_fb *showing;        /* what SET_CONFIG enabled, NULL when off */
	/* SET_CONFIG: where in the connector, its size, and where in the framebuffer */
	struct dmab_rect show_rect;
	uint32_t show_src_x, show_src_y;
	/*
	 * copy: the newest framebuffer to copy, the copy under way
	 * on a worker (from copy_src into copy_dst), and the shadows.
	 */
	struct dmab_fb *copy_fb;
	uint64_t copy_seq;
	struct dmab_copy_job copy_job;
	struct dmab_fb *copy_src;
	struct dmab_ofb *copy_dst;
	uint64_t copy_job_seq;
	uint32_t copy_row;              /* the next row the worker copies */
	uint64_t copy_attached;         /* seq of the last copy attached to the view */
	size_t copy_bytes;
	uint64_t direct_seq;            /* the last content attached without a copy */
	struct dmab_swapchain *shadows;
	struct wl_listener shadow_release;      /* on shadows, while there are */
	/* flips waiting for the screen, oldest first */
	uint64_t seq;                   /* of the last content attached */
	struct dmab_flip flips[DMAB_CONN_FLIPS];
	uint64_t notified_ns;           /* the guest's last notification before a turn */
	unsigned int nflips;
	struct dmab_task task;          /* its turns at requests waiting in the ring */
	struct dmab_stats stats;
	struct {
		/*
		 * struct dmab_connector_broken_event *: the guest broke the ring
		 * protocol in a way that ends its connection.
		 */
		struct wl_signal broken;
	} events;
};

struct dmab_frontend {
	struct wl_list link;            /* dmab_server.frontends */
	struct dmab_server *server;
	domid_t domid;
	uint32_t devid;
	char name[DMAB_XS_UNIQUE_ID_MAX + 1]; /* the toolstack's name for the domain, or "" */
	char be_path[DMAB_XS_PATH_MAX];
	char fe_path[DMAB_XS_PATH_MAX];
	enum xenbus_state be_state;
	struct dmab_hv_watch *fe_watch;
	struct dmab_hv_watch *be_watch;
	struct wl_event_source *step_idle;

	struct dmab_xs_config config;
	unsigned int version;
	struct dmab_connector *conns[DMAB_XS_CONNECTORS_MAX];
	struct wl_listener conn_broken[DMAB_XS_CONNECTORS_MAX];  /* on conns[i]->events */
	unsigned int nconns;
	bool connected;
	bool failed;                    /* broke the protocol: torn down at the next step */

	struct wl_list dbufs;           /* struct dmab_dbuf.link */
	struct wl_list releasing;       /* dbufs handed back, not released yet */
	struct wl_list fbs;             /* struct dmab_fb.link */
	unsigned int ndbufs, nfbs;
	uint64_t bytes;
	uint64_t import_count[3];       /* per enum dmab_import */
	bool told_copy;                 /* the copy fallback was logged */

	/* requests_per_second as a token bucket */
	double tokens;
	uint64_t tokens_ns;
};

/* Log lines about a guest; those it can cause are limited (server/guest-log.h). */
#define fe_log(fe, level, fmt, ...) \
	dmab_log(level, "dom%u/vdispl%u: " fmt, (fe)->domid, (fe)->devid, ##__VA_ARGS__)
#define fe_log_class(fe, class, level, fmt, ...) \
	dmab_log_ratelimited(dmab_guest_log_limit((fe)->server->guest_logs, (fe)->domid, \
		class), level, "dom%u/vdispl%u: " fmt, (fe)->domid, (fe)->devid, ##__VA_ARGS__)
#define fe_log_rl(fe, level, fmt, ...) \
	fe_log_class(fe, DMAB_GUEST_LOG_WARN, level, fmt, ##__VA_ARGS__)
#define conn_log_rl(conn, level, fmt, ...) \
	dmab_log_ratelimited(dmab_guest_log_limit((conn)->fe->server->guest_logs, \
		(conn)->fe->domid, DMAB_GUEST_LOG_WARN), level, "dom%u/vdispl%u/%u: " fmt, \
		(conn)->fe->domid, (conn)->fe->devid, (conn)->index, ##__VA_ARGS__)

/* frontend.c */

/** Look at a change under the backend root: create, step or remove devices. */
void dmab_frontend_root_changed(struct dmab_server *server, const char *path);

/** Tear a device down as for Closing and forget it (shutdown). */
void dmab_frontend_destroy(struct dmab_frontend *fe);

/* connector.c */

int dmab_connector_create(struct dmab_frontend *fe, unsigned int index,
		const struct dmab_xs_connector_transport *transport,
		struct dmab_connector **conn);
void dmab_connector_destroy(struct dmab_connector *conn);
void dmab_connector_respond(struct dmab_connector *conn, uint16_t id, uint8_t op,
		int32_t status, uint32_t edid_sz);
/** Take fb off the connector if it shows it or is about to (FB_DETACH, DBUF_DESTROY). */
void dmab_connector_unshow(struct dmab_connector *conn, struct dmab_fb *fb);

/* buffer.c: the device's buffers, set up and released by frontend.c */

/** No buffers yet: for a new frontend. */
void dmab_buffers_init(struct dmab_frontend *fe);

/** Handle a buffer request; returns a status, or 1 when the answer is deferred. */
int dmab_buffer_request(struct dmab_connector *conn, const struct dmab_cmd *cmd);
struct dmab_fb *dmab_fb_find(struct dmab_frontend *fe, uint64_t cookie);
/**
 * Copy path: copy rows [*row, *row + count) of fb's pixels from the
 * guest's pages into dst (a framebuffer of fb's size and format), at most
 * to the last row; advances *row. The octets copied. Safe on a copy
 * worker while fb and dst are kept.
 */
size_t dmab_fb_copy(const struct dmab_fb *fb, struct dmab_ofb *dst, uint32_t *row,
		uint32_t count);

/** A copy finished or a frame was presented: copy-path framebuffers may be free now. */
void dmab_buffers_presented(struct dmab_frontend *fe);
/** Release every buffer and framebuffer (connectors are gone already). */
void dmab_buffers_release_all(struct dmab_frontend *fe);
/** The frontend goes: buffers still being released answer nobody. */
void dmab_buffers_orphan(struct dmab_frontend *fe);
/** A deferred answer goes nowhere: its connector is going away. */
void dmab_buffers_forget_connector(struct dmab_frontend *fe, struct dmab_connector *conn);

/** Read or fill (be-alloc) a page directory of the frontend's; reason as protocol/pgdir.h. */
int dmab_fe_pgdir_read(struct dmab_frontend *fe, grant_ref_t first, uint32_t n,
		grant_ref_t *refs, char *reason);
int dmab_fe_pgdir_write(struct dmab_frontend *fe, grant_ref_t first, uint32_t n,
		const grant_ref_t *refs, char *reason);

#endif
