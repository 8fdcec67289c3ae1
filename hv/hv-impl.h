/* SPDX-License-Identifier: MIT */
/*
 * What an hv implementation provides. Implementations speak in ports and
 * watch tokens, as the Xen libraries do; hv.c turns those into the
 * callback objects of hv.h.
 */
#ifndef DMAB_HV_IMPL_H
#define DMAB_HV_IMPL_H

#include "hv/hv.h"

struct dmab_hv_impl {
	const char *name;
	void (*destroy)(struct dmab_hv *hv);
	int (*dispatch)(struct dmab_hv *hv);

	int (*store_read)(struct dmab_hv *hv, dmab_hv_tx_t tx, const char *path, char **value);
	int (*store_write)(struct dmab_hv *hv, dmab_hv_tx_t tx, const char *path, const char *value);
	int (*store_remove)(struct dmab_hv *hv, dmab_hv_tx_t tx, const char *path);
	int (*store_directory)(struct dmab_hv *hv, dmab_hv_tx_t tx, const char *path,
			char ***names, unsigned int *count);
	int (*store_tx_start)(struct dmab_hv *hv, dmab_hv_tx_t *tx);
	int (*store_tx_end)(struct dmab_hv *hv, dmab_hv_tx_t tx, bool abort);
	/* Events come back through dmab_hv_deliver_watch() with the token. */
	int (*store_watch)(struct dmab_hv *hv, const char *path, const char *token);
	int (*store_unwatch)(struct dmab_hv *hv, const char *path, const char *token);
	bool (*domain_alive)(struct dmab_hv *hv, domid_t domid);

	/* Notifications come back through dmab_hv_deliver_event() with the local port. */
	int (*evtchn_bind)(struct dmab_hv *hv, domid_t remote, evtchn_port_t remote_port,
			evtchn_port_t *local);
	int (*evtchn_alloc)(struct dmab_hv *hv, domid_t remote, evtchn_port_t *local);
	int (*evtchn_notify)(struct dmab_hv *hv, evtchn_port_t local);
	void (*evtchn_close)(struct dmab_hv *hv, evtchn_port_t local);

	int (*grant_map)(struct dmab_hv *hv, domid_t domid, uint32_t count,
			const grant_ref_t *refs, bool writable, void **addr);
	int (*grant_unmap)(struct dmab_hv *hv, void *addr, uint32_t count);
	int (*share_alloc)(struct dmab_hv *hv, domid_t remote, uint32_t count,
			uint32_t flags, grant_ref_t *refs, void **addr);
	int (*share_free)(struct dmab_hv *hv, void *addr, uint32_t count);

	int (*dmabuf_exp_from_refs)(struct dmab_hv *hv, domid_t domid, uint32_t count,
			const grant_ref_t *refs, int *fd);
	int (*dmabuf_exp_wait_released)(struct dmab_hv *hv, int fd, uint32_t timeout_ms);
	int (*dmabuf_imp_to_refs)(struct dmab_hv *hv, domid_t domid, int fd,
			uint32_t count, grant_ref_t *refs);
	int (*dmabuf_imp_release)(struct dmab_hv *hv, int fd);
};

struct dmab_hv_queued;

struct dmab_hv {
	const struct dmab_hv_impl *impl;
	enum dmab_hv_role role;
	domid_t domid;
	int fd;                         /* set by the implementation */

	struct dmab_hv_watch **watches;
	size_t nwatches, watches_cap;
	uint64_t next_token;

	struct dmab_hv_evtchn **chans;
	size_t nchans, chans_cap;

	struct dmab_hv_queued *queued;  /* watch events waiting for dispatch */
	size_t nqueued, queued_cap;
};

/** Set up the generic part; the implementation sets hv->fd. */
void dmab_hv_init(struct dmab_hv *hv, const struct dmab_hv_impl *impl,
		enum dmab_hv_role role, domid_t domid);

/** Remove every watch and channel still open; called by impl->destroy first. */
void dmab_hv_finish(struct dmab_hv *hv);

/** From dispatch: a watch with this token fired for path. Unknown tokens are ignored. */
void dmab_hv_deliver_watch(struct dmab_hv *hv, const char *path, const char *token);

/** From dispatch: the local port was notified. Unknown ports are ignored. */
void dmab_hv_deliver_event(struct dmab_hv *hv, evtchn_port_t port);

/**
 * Keep a watch event (copied) for dmab_hv_deliver_queued(), for events that
 * arrive where no callback may run (inside another call). The
 * implementation makes its fd readable. Removing the watch drops them.
 */
int dmab_hv_queue_watch(struct dmab_hv *hv, const char *path, const char *token);

/** From dispatch: deliver the queued events, and those queued meanwhile. */
void dmab_hv_deliver_queued(struct dmab_hv *hv);

#endif
