/* SPDX-License-Identifier: MIT */
/*
 * What the files of libdmabridge-client share. Not installed.
 */
#ifndef DMAB_CLIENT_IMPL_H
#define DMAB_CLIENT_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include "common/log.h"
#include "dmabridge/client.h"
#include "hv/hv.h"
#include "protocol/xenstore.h"
#include "client/ring.h"

#define DMAB_CLIENT_DEFAULT_TIMEOUT_MS 3000u
/*
 * Linux's frame-done timeout is its request timeout plus 100 ms: a flip
 * without an event after that long is taken as shown.
 */
#define DMAB_CLIENT_FRAME_SLACK_MS 100u
/* How long a page the backend still maps is waited for when it is freed. */
#define DMAB_CLIENT_UNSHARE_WAIT_MS 1000u

enum client_phase {
	CLIENT_CONNECTING,      /* waiting for the backend, publishing */
	CLIENT_CONNECTED,
	CLIENT_LOST,            /* the backend left; we are Reconfiguring */
	CLIENT_CLOSING,         /* destroy: we are Closing */
};

/** One connector: its transport and what it shows. */
struct client_conn {
	struct dmab_client *client;
	unsigned int index;
	uint32_t width, height;
	char unique_id[DMAB_XS_UNIQUE_ID_MAX + 1];

	void *req_page;                 /* shared, NULL while unpublished */
	grant_ref_t req_ref;
	struct dmab_fe_ring ring;
	struct dmab_hv_evtchn *req_chn;

	void *evt_page;
	grant_ref_t evt_ref;
	struct dmab_fe_evt evt;
	struct dmab_hv_evtchn *evt_chn;
	bool warned_id_gap;

	struct dmab_client_buffer *front;       /* shown */
	struct dmab_client_buffer *pending;     /* flipped, no event yet */
	uint64_t pending_since_ms;
};

struct dmab_client_buffer {
	struct dmab_client *client;
	struct dmab_client_buffer *next;

	uint32_t width, height, fourcc, bpp;
	uint32_t stride, size;
	uint64_t dbuf_cookie, fb_cookie;
	bool be_alloc;
	bool created;                   /* the backend has the display buffer */
	bool attached;                  /* ... and the framebuffer */

	uint32_t npages;
	void *data;                     /* shared by us, or mapped (be_alloc) */
	uint32_t dir_pages;
	void *dir;
};

struct dmab_client {
	struct dmab_hv *hv;
	bool owns_hv;
	bool hv_gone;                   /* the hypervisor connection broke */
	bool sim;
	bool plain_memory;              /* framebuffers not from the dma-buf heap */
	uint32_t devid;
	uint32_t timeout_ms;
	domid_t be_domid;
	char fe_dir[DMAB_XS_PATH_MAX];
	char be_dir[DMAB_XS_PATH_MAX];

	enum client_phase phase;
	enum xenbus_state fe_state;     /* as we wrote it */
	enum xenbus_state be_state;     /* as last read */
	bool be_changed;                /* the watch fired since */
	struct dmab_hv_watch *be_watch;
	unsigned int version;
	bool be_alloc;

	unsigned int nconns;
	struct client_conn *conns;

	int epoll_fd;                   /* what dmab_client_get_fd() gives */
	int wake_fd;                    /* eventfd: dispatch has work */
	bool in_dispatch;

	struct dmab_client_buffer *buffers;

	dmab_client_flip_fn flip_fn;
	void *flip_data;

	struct dmab_ratelimit rl;
};

/**
 * dmab_client_connect() over hv, a frontend-role hv, which the client
 * destroys with itself (also on failure) only when owns_hv.
 */
int dmab_client_connect_over(const struct dmab_client_options *options,
		struct dmab_hv *hv, bool owns_hv, struct dmab_client **client);

/** Connected, and the backend too: requests may be sent. */
bool dmab_client_can_send(const struct dmab_client *client);

/**
 * Send req (filled by a dmab_fe_req_* builder; the id is set here) on
 * connector index's ring and wait for its response, at most the client's
 * timeout. Returns 0 with *resp (status not looked at), -ENOTCONN,
 * -ETIMEDOUT, or -EIO for a broken or full ring.
 */
int dmab_client_call(struct dmab_client *client, unsigned int index,
		struct xendispl_req *req, struct xendispl_resp *resp);

/** dmab_client_call(), then the response status as a negative errno. resp may be NULL. */
int dmab_client_request(struct dmab_client *client, unsigned int index,
		struct xendispl_req *req, struct xendispl_resp *resp);

/**
 * Wait for the hv fd once, at most until deadline_ms (dmab_now_ms()), and
 * dispatch it: watch and channel callbacks only, never a user callback.
 * Returns 0, -ETIMEDOUT if the deadline had passed, -ENOTCONN if the
 * hypervisor connection is gone.
 */
int dmab_client_pump(struct dmab_client *client, uint64_t deadline_ms);

/** Act on a backend state change seen by the watch (see dmab_xenbus_frontend_step). */
int dmab_client_process_state(struct dmab_client *client);

/**
 * dmab_hv_share_free(), retried for a while if the backend still maps the
 * pages (-EBUSY). Pages that stay busy are left to the hv, which frees them
 * when the backend lets go or the client goes away.
 */
void dmab_client_unshare(struct dmab_client *client, void *addr, uint32_t count);

/**
 * A cookie never used before by this process, never 0: the process id in
 * the upper half, so that processes of one domain do not collide either.
 */
uint64_t dmab_client_next_cookie(void);

/** Forget buffer in what the connectors show (it is being destroyed). */
void dmab_client_forget_shown(struct dmab_client *client,
		struct dmab_client_buffer *buffer);

/** The buffer with fb_cookie, or NULL. */
struct dmab_client_buffer *dmab_client_find_fb(struct dmab_client *client,
		uint64_t fb_cookie);

#endif
