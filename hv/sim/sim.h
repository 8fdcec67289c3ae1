/* SPDX-License-Identifier: MIT */
/*
 * The embedded simulator: a user-space stand-in for Xen with the same
 * semantics, so that dmabridged and its guests run on any Linux machine.
 * The backend hosts it (as domain 0) on a unix socket; each guest process
 * connects, gets a domid and becomes a frontend. See docs/architecture.md
 * for the socket protocol.
 */
#ifndef DMAB_HV_SIM_H
#define DMAB_HV_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv/hv.h"

/** Bounds on what one guest may hold; 0 fields take the defaults. */
struct dmab_sim_limits {
	uint32_t max_guests;            /* default 64 */
	uint32_t max_grants;            /* grant refs per guest, default 65536 */
	uint64_t max_memory;            /* bytes of shared memory per guest, default 1 GiB */
	uint32_t max_evtchns;           /* per guest, default 64 */
	uint32_t max_watches;           /* per guest, default 128 */
	uint32_t max_store_nodes;       /* store nodes a guest may own, default 1000 */
	uint32_t max_message;           /* bytes of one socket message, default 64 KiB */
	/*
	 * How long the toolstack waits for the backend to close a dead guest's
	 * device before it removes it anyway, default 10 s (libxl's).
	 */
	uint32_t release_timeout_ms;
};

/**
 * Host the simulator as domain 0 in the backend role, listening on
 * socket_path (an existing socket file is replaced only if nobody answers
 * on it), made mode 0600 whatever the umask: whoever connects becomes a
 * guest. limits may be NULL. Returns 0 with *hv set or a negative errno.
 */
int dmab_hv_sim_host(const char *socket_path, const struct dmab_sim_limits *limits,
		struct dmab_hv **hv);

/**
 * Connect to the simulator at socket_path as a new guest domain (frontend
 * role), named after the program and its domid.
 */
int dmab_hv_sim_connect(const char *socket_path, struct dmab_hv **hv);

/**
 * The same, with the domain's name as the toolstack gives it (xl's name=,
 * 1 to 31 printable characters): -EEXIST when a domain has it already,
 * as xl refuses a second domain of one name.
 */
int dmab_hv_sim_connect_named(const char *socket_path, const char *name, struct dmab_hv **hv);

/** One connector of a vdispl device, as in xl's vdispl=['connectors=id0:640x480;...']. */
struct dmab_sim_connector {
	const char *unique_id;
	uint32_t width, height;
};

/**
 * The toolstack step: ask the simulator for a vdispl device devid for this
 * guest, with the nodes and values libxl writes for
 * vdispl=['backend=0,be-alloc=<0|1>,connectors=...']. The backend then
 * sees it under /local/domain/0/backend/vdispl/<domid>/<devid>.
 */
int dmab_hv_sim_add_vdispl(struct dmab_hv *hv, uint32_t devid, bool be_alloc,
		const struct dmab_sim_connector *connectors, unsigned int count);

/**
 * Where the simulator listens by default: $DMABRIDGE_SIM_SOCKET, else
 * dmabridge-sim.sock in the runtime directory of common/paths.h
 * ($XDG_RUNTIME_DIR, /run/dmabridge for root, /tmp/dmabridge-<uid>),
 * which must be private to this user; the server makes it, this does not.
 * Returns buf, or NULL (logged) if it is not private or does not fit.
 */
const char *dmab_hv_sim_default_socket(char *buf, size_t len);

#endif
