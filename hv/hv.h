/* SPDX-License-Identifier: MIT */
/*
 * The hypervisor layer: everything displif needs from Xen, behind one
 * interface with two implementations, the real thing (hv/xen.c, over
 * libxenstore, libxenevtchn, libxengnttab and xengntshr) and the embedded
 * simulator (hv/sim/). Nothing above this layer knows which one it runs on.
 *
 * Conventions:
 * - Every int function returns 0 (or a count/port where said) or a negative
 *   errno. "-1 and errno" from the Xen libraries is converted here.
 * - A struct dmab_hv is single-threaded: the owner polls dmab_hv_get_fd()
 *   and calls dmab_hv_dispatch() when it is readable; watch and event
 *   callbacks run from dispatch, and may call any dmab_hv_* function,
 *   including removing the watch or closing the channel being delivered.
 * - Domain ids are domid_t, grant references grant_ref_t, ports
 *   evtchn_port_t, all from the Xen public headers.
 */
#ifndef DMAB_HV_HV_H
#define DMAB_HV_HV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/wire.h"

struct dmab_hv;

/** Which side of split drivers this handle plays. */
enum dmab_hv_role {
	DMAB_HV_BACKEND,        /* maps foreign grants, binds to frontends' channels */
	DMAB_HV_FRONTEND,       /* shares its pages, allocates unbound channels */
};

/* ---- lifetime and dispatch ---- */

/** Close the handle; everything still open through it is released. NULL is a no-op. */
void dmab_hv_destroy(struct dmab_hv *hv);

/** "xen" or "sim". */
const char *dmab_hv_name(const struct dmab_hv *hv);

enum dmab_hv_role dmab_hv_role(const struct dmab_hv *hv);

/** This domain's id. */
domid_t dmab_hv_domid(const struct dmab_hv *hv);

/** One fd that becomes readable when dmab_hv_dispatch() has work. Owned by hv. */
int dmab_hv_get_fd(const struct dmab_hv *hv);

/**
 * Handle everything pending without blocking: watch events, event-channel
 * notifications and (simulator host) guests' messages. Returns 0, or a
 * negative errno if the connection to the hypervisor itself is gone.
 */
int dmab_hv_dispatch(struct dmab_hv *hv);

/* ---- store (XenStore) ---- */

/** A transaction id; DMAB_HV_NO_TX outside of one. */
typedef uint32_t dmab_hv_tx_t;
#define DMAB_HV_NO_TX ((dmab_hv_tx_t)0)

/** Read a node. *value is NUL-terminated, malloc'd, owned by the caller. -ENOENT if absent. */
int dmab_hv_store_read(struct dmab_hv *hv, dmab_hv_tx_t tx, const char *path,
		char **value);

/** Write a node, creating it and missing parents. */
int dmab_hv_store_write(struct dmab_hv *hv, dmab_hv_tx_t tx, const char *path,
		const char *value);

/**
 * Read a node into value (len octets, NUL-terminated), outside any
 * transaction: -E2BIG if it does not fit. Its signature is protocol/'s
 * dmab_xs_read_fn, with the struct dmab_hv as data.
 */
int dmab_hv_store_read_to(void *hv, const char *path, char *value, size_t len);

/** Printf-style dmab_hv_store_write(). */
int dmab_hv_store_printf(struct dmab_hv *hv, dmab_hv_tx_t tx, const char *path,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/** Remove a node and everything under it. Removing an absent node is not an error. */
int dmab_hv_store_remove(struct dmab_hv *hv, dmab_hv_tx_t tx, const char *path);

/**
 * List the children of a node. *names is one malloc'd block (free() it
 * once) holding *count pointers followed by the strings. -ENOENT if absent.
 */
int dmab_hv_store_directory(struct dmab_hv *hv, dmab_hv_tx_t tx,
		const char *path, char ***names, unsigned int *count);

/** Start a transaction. */
int dmab_hv_store_tx_start(struct dmab_hv *hv, dmab_hv_tx_t *tx);

/**
 * Commit (abort false) or abandon a transaction. -EAGAIN: it conflicted
 * with another change and nothing was applied; start over.
 */
int dmab_hv_store_tx_end(struct dmab_hv *hv, dmab_hv_tx_t tx, bool abort);

/** One node of dmab_hv_store_write_in(): a name under the directory, and its value. */
struct dmab_hv_store_node {
	const char *name;
	const char *value;
};

/**
 * Write count nodes under dir in one transaction, only while dir exists:
 * a plain write creates missing parents, so a backend writing its state
 * into a directory the toolstack has just removed would bring back a
 * stale node. -ENOENT when dir is gone (nothing is written). A commit
 * that conflicts with another change is started over a few times, then
 * -EAGAIN.
 */
int dmab_hv_store_write_in(struct dmab_hv *hv, const char *dir,
		const struct dmab_hv_store_node *nodes, unsigned int count);

struct dmab_hv_watch;

/**
 * Called for a change at or under the watched path, with the path that
 * changed. As in Xen, a watch fires once right after it is added, and
 * events may be coalesced or spurious: re-read what you care about.
 */
typedef void (*dmab_hv_watch_fn)(void *data, const char *path);

/** Watch a path (or "@releaseDomain" / "@introduceDomain"). *watch is owned by the caller. */
int dmab_hv_watch_add(struct dmab_hv *hv, const char *path,
		dmab_hv_watch_fn fn, void *data, struct dmab_hv_watch **watch);

/** Stop watching; no callback runs after this returns. NULL is a no-op. */
void dmab_hv_watch_remove(struct dmab_hv_watch *watch);

/** Whether the domain exists (Xen: introduced to XenStore; sim: connected). */
bool dmab_hv_domain_alive(struct dmab_hv *hv, domid_t domid);

/* ---- event channels ---- */

struct dmab_hv_evtchn;

/** Called when the other end notified the channel. */
typedef void (*dmab_hv_evtchn_fn)(void *data);

/** Backend: bind to remote_port that domain remote allocated for us. */
int dmab_hv_evtchn_bind(struct dmab_hv *hv, domid_t remote,
		evtchn_port_t remote_port, dmab_hv_evtchn_fn fn, void *data,
		struct dmab_hv_evtchn **chn);

/** Frontend: allocate an unbound port that domain remote may bind to. */
int dmab_hv_evtchn_alloc(struct dmab_hv *hv, domid_t remote,
		dmab_hv_evtchn_fn fn, void *data, struct dmab_hv_evtchn **chn);

/** This end's port (what a frontend publishes in XenStore). */
evtchn_port_t dmab_hv_evtchn_port(const struct dmab_hv_evtchn *chn);

/** Notify the other end. */
int dmab_hv_evtchn_notify(struct dmab_hv_evtchn *chn);

/** Close the channel; no callback runs after this returns. NULL is a no-op. */
void dmab_hv_evtchn_close(struct dmab_hv_evtchn *chn);

/* ---- grants: mapping another domain's pages ---- */

/**
 * Map count refs granted by domain domid as one contiguous mapping of
 * count * XEN_PAGE_SIZE bytes at *addr, read-only unless writable. All or
 * nothing. Errors: -EINVAL for a ref that is unknown or no longer granted
 * (and, on Xen, granted to another domain: gntdev does not tell them
 * apart), -EPERM for a read-only grant mapped writable (and, in the
 * simulator, a ref granted to another domain), -ENOMEM/-ENOSPC for limits.
 */
int dmab_hv_grant_map(struct dmab_hv *hv, domid_t domid, uint32_t count,
		const grant_ref_t *refs, bool writable, void **addr);

/** Undo dmab_hv_grant_map(); addr and count as it gave them. */
int dmab_hv_grant_unmap(struct dmab_hv *hv, void *addr, uint32_t count);

/* ---- grants: sharing our pages (frontend) ---- */

/** Hints for dmab_hv_share_alloc(). */
enum dmab_hv_share_flags {
	DMAB_HV_SHARE_WRITABLE = 1 << 0,  /* remote may write */
	DMAB_HV_SHARE_SCANOUT = 1 << 1,   /* a framebuffer: prefer pages a display can scan out */
};

/**
 * Allocate count zeroed pages shared with domain remote: refs[count]
 * receives their grant refs, *addr their contiguous mapping here.
 * Xen: xengntshr_share_pages(). Simulator: pages of the guest's memory, or
 * with DMAB_HV_SCANOUT a dma-buf from /dev/dma_heap/system when present.
 */
int dmab_hv_share_alloc(struct dmab_hv *hv, domid_t remote, uint32_t count,
		uint32_t flags, grant_ref_t *refs, void **addr);

/**
 * End the remote's access and free the pages. On Xen the kernel keeps
 * pages the remote still maps until it lets go; the simulator answers
 * -EBUSY instead (nothing is freed then; try again later).
 */
int dmab_hv_share_free(struct dmab_hv *hv, void *addr, uint32_t count);

/* ---- grants as dma-bufs (backend) ---- */

/**
 * A dma-buf over count refs of domain domid (IOCTL_GNTDEV_DMABUF_EXP_FROM_REFS):
 * zero copy. *fd is owned by the caller, who closes it and then calls
 * dmab_hv_dmabuf_exp_wait_released() with the same number.
 * -EOPNOTSUPP: this host cannot export these grants as a dma-buf (x86 Xen
 * for any grant; decided from the first real attempt and then remembered;
 * the simulator without a kernel path for these pages). Map and copy then.
 */
int dmab_hv_dmabuf_exp_from_refs(struct dmab_hv *hv, domid_t domid,
		uint32_t count, const grant_ref_t *refs, int *fd);

/**
 * Wait until every user of an exported dma-buf let go of it, at most
 * timeout_ms. 0 when released (including "already released", which Xen
 * reports as ENOENT), -ETIMEDOUT if it is still in use. Call it right
 * after closing the fd: the kernel finds the buffer by the fd number. It
 * blocks; an event loop polls it with timeout 0 from a timer instead.
 */
int dmab_hv_dmabuf_exp_wait_released(struct dmab_hv *hv, int fd,
		uint32_t timeout_ms);

/**
 * Grant the count pages of our dma-buf fd to domain domid
 * (IOCTL_GNTDEV_DMABUF_IMP_TO_REFS): refs[count] receives the refs. fd stays
 * owned by the caller and must stay open until dmab_hv_dmabuf_imp_release().
 */
int dmab_hv_dmabuf_imp_to_refs(struct dmab_hv *hv, domid_t domid, int fd,
		uint32_t count, grant_ref_t *refs);

/** End the grants dmab_hv_dmabuf_imp_to_refs() made for fd. */
int dmab_hv_dmabuf_imp_release(struct dmab_hv *hv, int fd);

#endif
