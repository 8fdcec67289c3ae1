/* SPDX-License-Identifier: MIT */
/*
 * Private hooks into libdmabridge-client for the project's tests that play
 * a broken or hostile guest: connect with dmab_client_connect(), then put
 * into a connector's shared pages what no well-behaved frontend would.
 * Not installed, not in the shared library: link client_static_dep.
 *
 * Requests written here go through the same ring state as the library's
 * own (the private producer index, the id counter), so raw and normal
 * requests can be mixed; dmab_frontend_set_req_prod() is the exception.
 * None of these runs a user callback (the flip handler runs only from
 * dmab_client_dispatch()).
 */
#ifndef DMAB_CLIENT_FRONTEND_H
#define DMAB_CLIENT_FRONTEND_H

#include <stdbool.h>
#include <stdint.h>

#include "dmabridge/client.h"
#include "hv/hv.h"
#include "protocol/wire.h"

/**
 * dmab_client_connect() over an hv the caller opened in the frontend role
 * (dmab_hv_sim_connect(), dmab_hv_xen_open()), e.g. to attach the same
 * device again from the same domain after dmab_client_destroy(), or to
 * set up the store before connecting. options->hv and sim_socket are not
 * looked at; create_device works on the simulator. The caller keeps hv:
 * dmab_client_destroy() leaves it open, and it must outlive the client.
 * While the client exists, dispatch it with dmab_client_dispatch() only.
 */
int dmab_frontend_connect(const struct dmab_client_options *options,
		struct dmab_hv *hv, struct dmab_client **client);

/** The hv the client runs on, e.g. to share more pages. */
struct dmab_hv *dmab_frontend_hv(struct dmab_client *client);

/** The backend's domain, to share pages with. */
domid_t dmab_frontend_backend_domid(const struct dmab_client *client);

/**
 * Put req into connector index's request ring exactly as given (its id
 * too), publish the producer index, and notify the backend if notify is
 * true (whether or not the ring asked for it). -EINVAL for no such
 * connector, -ENOTCONN before the rings exist, -EBUSY with the ring full.
 */
int dmab_frontend_put(struct dmab_client *client, unsigned int index,
		const struct xendispl_req *req, bool notify);

/**
 * Write value into the shared req_prod of connector index's ring, leaving
 * the private producer index alone (so later normal requests overwrite it
 * again), and notify if asked. For "the guest lies about its producer".
 */
int dmab_frontend_set_req_prod(struct dmab_client *client, unsigned int index,
		RING_IDX value, bool notify);

/** Notify the backend on connector index's request channel. */
int dmab_frontend_notify(struct dmab_client *client, unsigned int index);

/**
 * Wait up to timeout_ms for the next response on connector index's ring,
 * whatever its id, and copy it out. Returns 0, -ETIMEDOUT, -EPROTO (the
 * backend published more responses than requests), -ENOTCONN.
 */
int dmab_frontend_get_response(struct dmab_client *client, unsigned int index,
		struct xendispl_resp *resp, uint32_t timeout_ms);

/**
 * Send req through the library's normal path (its id is set to the ring's
 * next one) and wait for the response with that id, at most the client's
 * timeout. The status is left in resp as the backend wrote it.
 * Returns 0, -ENOTCONN, -ETIMEDOUT or -EIO (broken or full ring).
 */
int dmab_frontend_call(struct dmab_client *client, unsigned int index,
		struct xendispl_req *req, struct xendispl_resp *resp);

/** Connector index's shared request ring page, NULL if there is none. */
struct xen_displif_sring *dmab_frontend_sring(struct dmab_client *client,
		unsigned int index);

/** Connector index's shared event page, NULL if there is none. */
struct xendispl_event_page *dmab_frontend_event_page(struct dmab_client *client,
		unsigned int index);

/**
 * Handle the hv for up to timeout_ms (watches and channel notifications;
 * events stay on the event page for dmab_client_dispatch()).
 * Returns 0 or -ENOTCONN.
 */
int dmab_frontend_pump(struct dmab_client *client, uint32_t timeout_ms);

/** The cookies a buffer was created and attached with. */
uint64_t dmab_frontend_dbuf_cookie(const struct dmab_client_buffer *buffer);
uint64_t dmab_frontend_fb_cookie(const struct dmab_client_buffer *buffer);

#endif
