/* SPDX-License-Identifier: MIT */
/*
 * The simulator's XenStore: an in-memory tree of nodes with permissions,
 * watches and transactions that behaves like Xen's xenstored as far as a
 * PV backend/frontend pair can tell. No I/O: the socket layer calls these
 * functions on behalf of a domain (the caller's domid) and delivers the
 * watch events that come out of the fire callback.
 *
 * Conventions:
 * - Domain 0 is privileged: it passes every permission check and has no
 *   quota. Every other domain is checked and bounded.
 * - A path is absolute ("/local/domain/1/device") or relative to
 *   /local/domain/<caller>. Characters [A-Za-z0-9-/_@], no "//", no
 *   trailing "/" (except "/" itself), at most DMAB_SIM_STORE_PATH_MAX bytes
 *   absolute and, for unprivileged callers, fewer than
 *   DMAB_SIM_STORE_REL_PATH_MAX bytes after /local/domain/<domid>/;
 *   -EINVAL otherwise. "@releaseDomain" and "@introduceDomain" are only
 *   accepted by watch, unwatch, get_perms and set_perms.
 * - Operations taking a tx accept DMAB_SIM_STORE_NO_TX or an id from
 *   dmab_sim_store_tx_start() by the same caller; any other id is -ENOENT.
 * - Errors as xenstored gives them: -ENOENT absent, -EACCES not permitted
 *   (also for an absent node whose nearest existing ancestor the caller
 *   may not access: absence is not leaked), -EINVAL bad path or argument,
 *   -E2BIG value too long, -ENOSPC a quota, -EPERM an unprivileged owner
 *   change, -EAGAIN a conflicting transaction, -ENOMEM.
 * - Watch events are delivered through the fire callback after the
 *   operation that caused them has completed, so the callback may call any
 *   function here except dmab_sim_store_destroy(). Events caused from
 *   inside the callback are delivered after the current one returns.
 * - Single-threaded.
 */
#ifndef DMAB_HV_SIM_STORE_H
#define DMAB_HV_SIM_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dmab_sim_store;

/** Longest absolute path (XENSTORE_ABS_PATH_MAX). */
#define DMAB_SIM_STORE_PATH_MAX 3072
/** Bound on the part after /local/domain/<domid>/ for unprivileged callers (XENSTORE_REL_PATH_MAX). */
#define DMAB_SIM_STORE_REL_PATH_MAX 2048
/** Longest value (XENSTORE_PAYLOAD_MAX). */
#define DMAB_SIM_STORE_VALUE_MAX 4096

/** Transaction ids; DMAB_SIM_STORE_NO_TX outside of one. */
#define DMAB_SIM_STORE_NO_TX ((uint32_t)0)

/** In a permission entry: every domain (Xen's DOMID_ANY). */
#define DMAB_SIM_STORE_DOMID_ANY ((uint16_t)0x7FF5)

/** Access one permission entry grants. */
enum dmab_sim_store_access {
	DMAB_SIM_STORE_PERM_NONE = 0,
	DMAB_SIM_STORE_PERM_READ = 1,
	DMAB_SIM_STORE_PERM_WRITE = 2,
	DMAB_SIM_STORE_PERM_BOTH = 3,
};

/**
 * One entry of a node's permission list. The first entry names the owner
 * (who may always read, write and set permissions) and its perm is what
 * every domain not listed later gets.
 */
struct dmab_sim_store_perm {
	uint16_t domid;
	uint8_t perm;           /* enum dmab_sim_store_access */
};

/** Bounds on unprivileged domains; 0 fields take the defaults (xenstored's). */
struct dmab_sim_store_limits {
	uint32_t max_nodes;             /* nodes a domain may own, default 1000 */
	uint32_t max_watches;           /* per domain, default 128 */
	uint32_t max_transactions;      /* open at once per domain, default 10 */
	uint32_t max_tx_nodes;          /* nodes one transaction may touch, default 1024 */
	uint32_t max_perms;             /* entries in a permission list, default 5 */
};

/**
 * Receives one watch event: path changed (relative if the watch was set
 * with a relative path), for the watch registered with token by conn.
 * path and token are valid during the call only.
 */
typedef void (*dmab_sim_store_fire_fn)(void *user, void *conn,
		const char *path, const char *token);

/**
 * Create a store holding "/" (owned by domain 0, no access for others),
 * "@releaseDomain" (readable by all) and "@introduceDomain" (domain 0
 * only), as xenstored starts. limits may be NULL for the defaults; fire
 * must not be NULL and receives user with every event. Returns NULL on
 * failure.
 */
struct dmab_sim_store *dmab_sim_store_create(
		const struct dmab_sim_store_limits *limits,
		dmab_sim_store_fire_fn fire, void *user);

/** Free the store, its transactions, watches and undelivered events. NULL is a no-op. */
void dmab_sim_store_destroy(struct dmab_sim_store *store);

/**
 * Read a node (needs read permission). *value is malloc'd, owned by the
 * caller, len bytes followed by a NUL; len may be NULL.
 */
int dmab_sim_store_read(struct dmab_sim_store *store, uint16_t caller,
		uint32_t tx, const char *path, char **value, size_t *len);

/**
 * Write len bytes of value (copied; may be NULL when len is 0) to a node,
 * creating it and missing parents with empty values. Needs write
 * permission on the node or, if it is absent, on its nearest existing
 * ancestor; new nodes take that ancestor's permissions, and an
 * unprivileged caller becomes their owner. -E2BIG over
 * DMAB_SIM_STORE_VALUE_MAX, -ENOSPC over the node quota.
 */
int dmab_sim_store_write(struct dmab_sim_store *store, uint16_t caller,
		uint32_t tx, const char *path, const void *value, size_t len);

/**
 * Make sure a node exists, creating it and missing parents as
 * dmab_sim_store_write() would with an empty value. An existing node is
 * left alone (still -EACCES if the caller may not write it).
 */
int dmab_sim_store_mkdir(struct dmab_sim_store *store, uint16_t caller,
		uint32_t tx, const char *path);

/**
 * Remove a node and everything below it (needs write permission on the
 * node). 0 if the node is absent but its parent exists, -ENOENT if the
 * parent is absent too. Removing "/" is -EINVAL.
 */
int dmab_sim_store_rm(struct dmab_sim_store *store, uint16_t caller,
		uint32_t tx, const char *path);

/**
 * List the children of a node (needs read permission), in creation order.
 * *names is one malloc'd block owned by the caller (free() it once)
 * holding *count + 1 pointers, the last NULL, followed by the strings.
 */
int dmab_sim_store_directory(struct dmab_sim_store *store, uint16_t caller,
		uint32_t tx, const char *path, char ***names,
		unsigned int *count);

/**
 * A node's permission list (needs read permission). *perms is a malloc'd
 * array of *count entries owned by the caller, owner first.
 */
int dmab_sim_store_get_perms(struct dmab_sim_store *store, uint16_t caller,
		uint32_t tx, const char *path, struct dmab_sim_store_perm **perms,
		unsigned int *count);

/**
 * Replace a node's permission list with count entries (copied). Only the
 * owner or domain 0 may; only domain 0 may change the owner (-EPERM).
 * -EINVAL for count 0 or an unknown perm value, -ENOSPC for more entries
 * than the limit. The node quota follows the ownership.
 */
int dmab_sim_store_set_perms(struct dmab_sim_store *store, uint16_t caller,
		uint32_t tx, const char *path,
		const struct dmab_sim_store_perm *perms, unsigned int count);

/**
 * Watch path and everything below it for caller's connection conn (opaque,
 * handed back to fire; may be NULL). Fires once right away with path as
 * given, then on every write, mkdir that created, rm and set_perms at or
 * below path that caller may see: the changed node, or its parent, is
 * readable by caller (before the change as well for rm and set_perms).
 * Removing a subtree also fires watches on the nodes inside it, each with
 * its own path. token is copied. -EEXIST if caller already watches path
 * with token on conn, -ENOSPC over the watch quota.
 */
int dmab_sim_store_watch(struct dmab_sim_store *store, uint16_t caller,
		void *conn, const char *path, const char *token);

/**
 * Remove a watch added with the same caller, conn, path (relative or
 * absolute) and token; its undelivered events are dropped. -ENOENT if
 * there is none.
 */
int dmab_sim_store_unwatch(struct dmab_sim_store *store, uint16_t caller,
		void *conn, const char *path, const char *token);

/**
 * Start a transaction for caller: *tx receives a nonzero id only caller
 * can use. Until it ends, its reads see the store as it was plus its own
 * changes, and nobody else sees those changes. -ENOSPC over the limit.
 */
int dmab_sim_store_tx_start(struct dmab_sim_store *store, uint16_t caller,
		uint32_t *tx);

/**
 * End a transaction; the id is invalid afterwards whatever the result.
 * commit false discards it. commit true applies all its changes at once
 * and fires their watches, or returns -EAGAIN and applies nothing if any
 * node it read, listed, wrote or found absent was changed by someone else
 * meanwhile. -ENOSPC if the commit would exceed the caller's node quota,
 * -ENOMEM if an operation in it hit a transaction limit or memory.
 */
int dmab_sim_store_tx_end(struct dmab_sim_store *store, uint16_t caller,
		uint32_t tx, bool commit);

/** Fire "@introduceDomain" watches (domain 0 is never introduced). */
void dmab_sim_store_domain_introduced(struct dmab_sim_store *store,
		uint16_t domid);

/** Fire "@releaseDomain" watches. */
void dmab_sim_store_domain_released(struct dmab_sim_store *store,
		uint16_t domid);

/**
 * Drop every watch and transaction of domain domid (its connection went
 * away). Its nodes stay: the toolstack removes them.
 */
void dmab_sim_store_release_domain(struct dmab_sim_store *store,
		uint16_t domid);

/** Drop every watch registered with conn, whoever the caller was. */
void dmab_sim_store_unwatch_conn(struct dmab_sim_store *store, void *conn);

/** How many nodes domid owns (what its node quota counts). */
unsigned int dmab_sim_store_nodes_owned(const struct dmab_sim_store *store,
		uint16_t domid);

#endif
