/* SPDX-License-Identifier: MIT */
#ifndef DMAB_PROTOCOL_XENSTORE_H
#define DMAB_PROTOCOL_XENSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/wire.h"

/* wire.h has no event channels; evtchn_port_t comes from here. */
#include <xen/event_channel.h>

/*
 * The XenStore side of vdispl: where the nodes are, what their values mean,
 * and which XenbusState step each end takes next. Pure code: XenStore is
 * reached through a read callback, nothing here does I/O.
 *
 * Layout (written by the toolstack unless said otherwise):
 *   /local/domain/<be>/backend/vdispl/<fe>/<devid>/   owned by the backend
 *     frontend, frontend-id, online, state, versions (written by us)
 *   /local/domain/<fe>/device/vdispl/<devid>/          owned by the guest
 *     backend, backend-id, state, be-alloc, version (frontend),
 *     <n>/resolution, <n>/unique-id,
 *     <n>/req-ring-ref, <n>/req-event-channel,
 *     <n>/evt-ring-ref, <n>/evt-event-channel (frontend)
 * Everything under the frontend directory is guest-writable at any time,
 * even what the toolstack put there: every value is parsed as hostile.
 *
 * Numbers are strict decimal: digits only (no sign, space or "0x"), no
 * leading zero except "0" itself (nothing writes them: xl and Linux use
 * "%u"), overflow detected, bounded by a caller-given maximum.
 *
 * Parse errors are -EINVAL (malformed), -ERANGE (well-formed but out of
 * bounds) or -EPROTONOSUPPORT (no common protocol version). When err is not
 * NULL, err_len bytes of it receive one line naming the key and the value,
 * e.g. `0/resolution: "19x20x1" is not <width>x<height>`. The value is
 * quoted with control and non-ASCII bytes escaped (\xNN) and cut after 40
 * bytes, so the line is safe to log.
 */

/** Protocol versions this code speaks; "versions" is what a backend publishes. */
#define DMAB_XS_PROTOCOL_MIN 1u
#define DMAB_XS_PROTOCOL_MAX 2u
#define DMAB_XS_PROTOCOL_MASK ((1u << 1) | (1u << 2))
#define DMAB_XS_BACKEND_VERSIONS "1,2"

/** Size of the path buffers used here; vdispl paths are far shorter. */
#define DMAB_XS_PATH_MAX 256
/** Size of a value buffer handed to the read callback. */
#define DMAB_XS_VALUE_MAX 128
/** Longest unique-id kept, without the NUL. */
#define DMAB_XS_UNIQUE_ID_MAX 64
/**
 * Capacity of the config structs. displif's conn-idx is a uint8_t and
 * Linux's xen-drm-front uses at most 4; the caller's limit (8 is a good
 * default) must not exceed this.
 */
#define DMAB_XS_CONNECTORS_MAX 16

/* ------------------------------------------------------------------ paths */

/*
 * Each builder writes a NUL-terminated path into buf (len bytes) and
 * returns 0, or -ENAMETOOLONG (buf then holds "" when len > 0) if it does
 * not fit.
 */

/** The directory a backend watches: /local/domain/<be>/backend/vdispl. */
int dmab_xs_backend_root(char *buf, size_t len, domid_t be);

/** One backend device: /local/domain/<be>/backend/vdispl/<fe>/<devid>. */
int dmab_xs_backend_dir(char *buf, size_t len, domid_t be, domid_t fe,
		uint32_t devid);

/**
 * A domain's name as the toolstack gave it: /local/domain/<domid>/name
 * (libxl writes it in the domain's directory, which the domain may read
 * but not write).
 */
int dmab_xs_domain_name(char *buf, size_t len, domid_t domid);

/** One frontend device: /local/domain/<fe>/device/vdispl/<devid>. */
int dmab_xs_frontend_dir(char *buf, size_t len, domid_t fe, uint32_t devid);

/** A connector's directory: <fe_dir>/<conn>. */
int dmab_xs_connector_dir(char *buf, size_t len, const char *fe_dir,
		uint32_t conn);

/** A node in a directory: <dir>/<key> (key may hold slashes: "0/resolution"). */
int dmab_xs_join(char *buf, size_t len, const char *dir, const char *key);

/**
 * Split a watch-event path under root (from dmab_xs_backend_root(), no
 * trailing slash) into the frontend domain, the device id and what follows
 * the device directory: "" for the directory itself, else e.g. "state"
 * (*rest points into path). The domain must be below DOMID_FIRST_RESERVED,
 * the device id must fit a uint32_t, both strict decimal; empty components
 * (double or trailing slashes) are malformed.
 * Returns 0, -ENOENT for root itself or root/<fe> (valid, but naming no
 * single device: a removal there can take several devices, so re-read the
 * directory), or -EINVAL for anything malformed or not under root.
 */
int dmab_xs_parse_backend_path(const char *root, const char *path,
		domid_t *fe, uint32_t *devid, const char **rest);

/* ----------------------------------------------------------------- values */

/** A decimal number in [0, max]. value NULL counts as missing (-EINVAL). */
int dmab_xs_parse_uint(const char *key, const char *value, uint32_t max,
		uint32_t *out, char *err, size_t err_len);

/** A domain id below DOMID_FIRST_RESERVED (e.g. "frontend-id"). */
int dmab_xs_parse_domid(const char *key, const char *value, domid_t *out,
		char *err, size_t err_len);

/** A XenbusState node: "0" to "8". */
int dmab_xenbus_parse_state(const char *key, const char *value,
		enum xenbus_state *out, char *err, size_t err_len);

/** "Unknown", "Initialising", ... "Reconfigured", or "Invalid" outside 0..8. */
const char *dmab_xenbus_state_name(enum xenbus_state state);

/**
 * "<width>x<height>", each in [1, max_width] and [1, max_height].
 * Format errors are -EINVAL, zero or too large -ERANGE.
 */
int dmab_xs_parse_resolution(const char *key, const char *value,
		uint32_t max_width, uint32_t max_height,
		uint32_t *width, uint32_t *height, char *err, size_t err_len);

/**
 * Choose a protocol version from a XENDISPL_LIST_SEPARATOR list ("1,2"; a
 * single "2" is a list of one): the highest listed version whose bit is set
 * in supported (bit v for version v, e.g. DMAB_XS_PROTOCOL_MASK).
 * For a backend reading the frontend's "version", and for a frontend
 * reading the backend's "versions". Listed versions we do not know are
 * skipped, not errors (a newer peer lists more); an empty item is
 * malformed. Returns 0, -EINVAL, -ERANGE or -EPROTONOSUPPORT (nothing in
 * common).
 */
int dmab_xs_parse_version(const char *key, const char *value,
		uint32_t supported, unsigned int *version,
		char *err, size_t err_len);

/**
 * A flag node ("be-alloc", "online"): true only for exactly "1"; anything
 * else, and NULL for a missing node, is false (displif: "If value is not
 * "1" or omitted frontend must allocate buffers itself").
 * Note that Linux's xen-drm-front reads be-alloc as any non-zero number.
 */
bool dmab_xs_parse_bool(const char *value);

/**
 * Copy a unique-id: printable ASCII (0x20..0x7e) only, at most out_len - 1
 * bytes, into out (out_len > 0). Control and non-ASCII bytes are -EINVAL,
 * too long is -ERANGE; out then holds "".
 */
int dmab_xs_parse_unique_id(const char *key, const char *value,
		char *out, size_t out_len, char *err, size_t err_len);

/* ---------------------------------------------------------- configuration */

/**
 * Read one node for the readers below: the absolute path, into value
 * (len bytes, NUL-terminated). Returns 0, -ENOENT for a missing node,
 * -E2BIG for a value that does not fit (never truncate silently), or
 * another negative errno, which is passed on.
 */
typedef int (*dmab_xs_read_fn)(void *data, const char *path, char *value,
		size_t len);

/** Bounds the caller puts on a guest's configuration. */
struct dmab_xs_limits {
	uint32_t max_connectors;	/* 1..DMAB_XS_CONNECTORS_MAX */
	uint32_t max_width;
	uint32_t max_height;
};

struct dmab_xs_connector_config {
	uint32_t width;
	uint32_t height;
	char unique_id[DMAB_XS_UNIQUE_ID_MAX + 1];	/* "" when absent */
};

/** What the toolstack configured (it may be changed by the guest since). */
struct dmab_xs_config {
	bool be_alloc;
	uint32_t connector_count;	/* >= 1 */
	struct dmab_xs_connector_config connectors[DMAB_XS_CONNECTORS_MAX];
};

/**
 * Read be-alloc and the connectors under fe_dir: <n>/resolution for n from
 * 0 until the first missing one, each with its optional <n>/unique-id.
 * No connector is -ENOENT; a resolution at n == max_connectors is -E2BIG;
 * bad values as the parsers above; the callback's own errors are passed on.
 * limits->max_connectors outside 1..DMAB_XS_CONNECTORS_MAX is -EINVAL.
 * config is zeroed first and complete only when 0 is returned.
 */
int dmab_xs_read_config(dmab_xs_read_fn read, void *data, const char *fe_dir,
		const struct dmab_xs_limits *limits, struct dmab_xs_config *config,
		char *err, size_t err_len);

struct dmab_xs_connector_transport {
	grant_ref_t req_ring_ref;
	evtchn_port_t req_evtchn;
	grant_ref_t evt_ring_ref;
	evtchn_port_t evt_evtchn;
};

/** What the frontend published before it went Initialised. */
struct dmab_xs_transport {
	unsigned int version;	/* negotiated protocol version */
	bool version_missing;	/* no "version" node: version is the default */
	uint32_t connector_count;
	struct dmab_xs_connector_transport connectors[DMAB_XS_CONNECTORS_MAX];
};

/**
 * Read the frontend's "version" and, for connectors 0..connector_count-1,
 * <n>/req-ring-ref, <n>/req-event-channel, <n>/evt-ring-ref and
 * <n>/evt-event-channel. All four are required (missing: -ENOENT); a ref or
 * port of 0 is -ERANGE (displif reserves grant ref 0 for the console, Xen
 * never allocates port 0).
 * "version" is chosen with dmab_xs_parse_version() against
 * DMAB_XS_PROTOCOL_MASK. When it is missing the version is
 * DMAB_XS_PROTOCOL_MAX and version_missing is set: Linux's xen-drm-front
 * never writes "version" (nor reads "versions") yet fills the version 2
 * field data_ofs, and a version 1 frontend sends nothing that version 2
 * reads differently (data_ofs is a reserved 0 for it, GET_EDID unknown).
 * connector_count outside 1..DMAB_XS_CONNECTORS_MAX is -EINVAL.
 * transport is zeroed first and complete only when 0 is returned.
 */
int dmab_xs_read_transport(dmab_xs_read_fn read, void *data,
		const char *fe_dir, uint32_t connector_count,
		struct dmab_xs_transport *transport, char *err, size_t err_len);

/* ---------------------------------------------------------- xenbus steps */

/**
 * What a backend does next. Every action but NONE changes the backend's
 * state, so call dmab_xenbus_backend_step() again after it, with the new
 * state, until it returns NONE: each call takes one step.
 */
enum dmab_xenbus_be_action {
	DMAB_XENBUS_BE_NONE,
	/** Publish "versions" (DMAB_XS_BACKEND_VERSIONS), go InitWait. */
	DMAB_XENBUS_BE_INIT_WAIT,
	/**
	 * Read the config and the transport, map the rings, bind the event
	 * channels, go Connected. On failure release what was taken and go
	 * Closing (then the steps lead to Closed, where a frontend that stays
	 * Initialised is left alone: no retry loop driven by a bad guest).
	 */
	DMAB_XENBUS_BE_CONNECT,
	/**
	 * Release everything the frontend owned (rings, channels, buffers, once
	 * the display no longer uses them), go Closing.
	 */
	DMAB_XENBUS_BE_DISCONNECT,
	/**
	 * Release whatever is still held (the toolstack writes Closing behind
	 * the backend's back when it removes a device), go Closed.
	 */
	DMAB_XENBUS_BE_CLOSED,
	/** The frontend starts over: as INIT_WAIT, from Closed. */
	DMAB_XENBUS_BE_RECONNECT,
	/**
	 * The device is gone: release everything, write Closed if the backend
	 * node still exists, forget the device.
	 */
	DMAB_XENBUS_BE_REMOVE,
};

/**
 * The backend's next step. be is the backend's state as XenStore has it
 * (the toolstack may have written it; Unknown when the node is gone), fe the
 * frontend's (Unknown when the node is gone), online the backend's "online"
 * flag (dmab_xs_parse_bool()). A frontend state outside 0..8 (or one that
 * does not parse) counts as Closed: displif handles a frontend's
 * unrecoverable error "as if frontend goes into the XenbusStateClosed state".
 * A backend that finds a device whose node is past Initialising but holds
 * nothing for it (it restarted) should start with be = Closing.
 *
 * Either node gone: REMOVE. Not online: REMOVE if fe is Closed, else
 * DISCONNECT from Initialising, InitWait, Connected, CLOSED from Closing,
 * NONE from Closed (the toolstack deletes the nodes next). Online:
 *
 *   fe \ be       Initialising InitWait  Connected   Closing  Closed
 *   Initialising  INIT_WAIT    -         DISCONNECT  CLOSED   RECONNECT
 *   InitWait      INIT_WAIT    -         DISCONNECT  CLOSED   RECONNECT
 *   Initialised   INIT_WAIT    CONNECT   -           CLOSED   -
 *   Connected     CLOSED       CONNECT   -           CLOSED   -
 *   Closing       INIT_WAIT    -         DISCONNECT  CLOSED   RECONNECT
 *   Closed        INIT_WAIT    -         DISCONNECT  CLOSED   -
 *   Reconfiguring CLOSED       CLOSED    DISCONNECT  CLOSED   -
 *   Reconfigured  CLOSED       CLOSED    DISCONNECT  CLOSED   -
 *
 * and DISCONNECT from the states a backend never takes (Initialised,
 * Reconfiguring, Reconfigured, anything above 8). Why:
 * - Initialising goes to InitWait at once: libxl destroys the domain if the
 *   backend is not in InitWait about 10 s after creation.
 * - A frontend goes Initialised only after it saw InitWait, so Initialised
 *   (or Connected, when the watch fired late) in InitWait is the time to
 *   connect, and Initialised seen again while Connected is a duplicate.
 * - Closing goes on to Closed at once: Linux's xen-drm-front does nothing
 *   on a backend Closing and waits for Closed.
 * - A frontend back in Initialising while the backend is Connected
 *   restarted without closing: tear down, then start over through Closed.
 * - From Closed, InitWait follows only a frontend that is Initialising
 *   again, or Closing: Linux's xen-drm-front, when unbound, waits in
 *   Closing for the backend's InitWait. A frontend still Initialised or
 *   Connected after the backend closed must restart first.
 * - A frontend in Reconfiguring lost the backend and waits until its
 *   device is free before it goes Initialising. Linux does not look at a
 *   backend InitWait then, so the backend waits in Closed: its InitWait,
 *   once the frontend is Initialising, is the event that wakes it.
 * - A frontend already Connected when the backend is fresh is left over
 *   from an earlier backend: Closed makes it start over.
 */
enum dmab_xenbus_be_action dmab_xenbus_backend_step(enum xenbus_state be,
		enum xenbus_state fe, bool online);

/** What a frontend (the client library) does next; same loop as above. */
enum dmab_xenbus_fe_action {
	DMAB_XENBUS_FE_NONE,
	/**
	 * Read the config, allocate rings and event channels, write the
	 * transport keys and "version", go Initialised.
	 */
	DMAB_XENBUS_FE_PUBLISH,
	/** Start using the rings, go Connected. */
	DMAB_XENBUS_FE_CONNECT,
	/**
	 * The backend went away or restarted: drop the rings, channels and
	 * buffers, go Initialising and wait for its InitWait.
	 */
	DMAB_XENBUS_FE_TEARDOWN,
	/** The frontend is closing and the backend let go: go Closed. */
	DMAB_XENBUS_FE_CLOSED,
};

/**
 * The frontend's next step, fe its own state, be the backend's (Unknown
 * when the node is gone):
 * - Initialising (or InitWait) and backend InitWait: PUBLISH.
 * - Initialised and backend Connected: CONNECT.
 * - Connected and backend Initialising, InitWait (it restarted), Closed
 *   or gone: TEARDOWN; the same for Initialised, except in InitWait, where
 *   the backend is about to read the keys. A backend in Closing is still
 *   releasing: wait for Closed, as Linux does.
 * - Closing (the frontend's own decision) and backend Initialising,
 *   InitWait, Closed or gone: CLOSED.
 * Everything else is NONE, including Closed, Unknown and Reconfiguring
 * (states the library enters only by its own decision).
 */
enum dmab_xenbus_fe_action dmab_xenbus_frontend_step(enum xenbus_state fe,
		enum xenbus_state be);

#endif
