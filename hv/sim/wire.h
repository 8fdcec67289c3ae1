/* SPDX-License-Identifier: MIT */
/*
 * The simulator's socket protocol between a guest (frontend role) and the
 * host (dmabridged, domain 0). AF_UNIX SOCK_SEQPACKET, one message per
 * packet: a header, a payload of at most the host's message limit, and
 * file descriptors (SCM_RIGHTS) where a message says so.
 *
 * A guest sends requests with a sequence number of its choosing; the host
 * answers each with a message of the same type and seq, status 0 or a
 * negative errno, in order. The host also sends events (seq 0) at any
 * time: DMAB_SIM_EVT_WATCH. Integers are host-endian: both ends run on one
 * machine. Strings are NUL-terminated inside the payload.
 *
 * Anything malformed from a guest (short payload, unterminated string,
 * count beyond the payload, unexpected descriptors) closes that guest's
 * connection.
 */
#ifndef DMAB_HV_SIM_WIRE_H
#define DMAB_HV_SIM_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DMAB_SIM_PROTOCOL_VERSION 2
#define DMAB_SIM_MAX_FDS 16             /* descriptors in one message */
#define DMAB_SIM_DEFAULT_MAX_MESSAGE (64u * 1024)

enum dmab_sim_msg_type {
	/* {version, name} -> {domid, max_message}. Must come first. */
	DMAB_SIM_HELLO = 1,
	/*
	 * {kind, size} + fd -> {region}. A sealed memfd or a dma-buf of the
	 * guest's memory. -ENOSPC beyond the guest's memory or 256 regions.
	 */
	DMAB_SIM_MEM_ADD,
	/* {region} -> {}. -EBUSY while grants or host users remain. */
	DMAB_SIM_MEM_REMOVE,
	/* {region, first, count, remote, readonly} -> {refs[count]} */
	DMAB_SIM_GRANT,
	/* {count, refs[count]} -> {}. All or nothing: -EBUSY if any is mapped. */
	DMAB_SIM_END_ACCESS,
	/* {domid, writable, count, refs[count]} -> {map, nfds, pages[count]} + fds */
	DMAB_SIM_MAP,
	/* {map} -> {} */
	DMAB_SIM_UNMAP,
	/* {remote} -> {port} + fds [host-to-guest eventfd, guest-to-host eventfd] */
	DMAB_SIM_EVTCHN_ALLOC,
	/* {port} -> {} */
	DMAB_SIM_EVTCHN_CLOSE,
	/* {tx, "path"} -> {"value"} */
	DMAB_SIM_STORE_READ,
	/* {tx, "path", "value"} -> {} */
	DMAB_SIM_STORE_WRITE,
	/* {tx, "path"} -> {} */
	DMAB_SIM_STORE_REMOVE,
	/* {tx, "path"} -> {count, "name"...} */
	DMAB_SIM_STORE_DIRECTORY,
	/* {"path", "token"} -> {} */
	DMAB_SIM_STORE_WATCH,
	DMAB_SIM_STORE_UNWATCH,
	/* {} -> {tx} */
	DMAB_SIM_TX_START,
	/* {tx, abort} -> {} */
	DMAB_SIM_TX_END,
	/* {domid} -> {} or -ENOENT */
	DMAB_SIM_DOMAIN_ALIVE,
	/* {devid, be_alloc, count, connectors[count]} -> {} */
	DMAB_SIM_ADD_VDISPL,

	/* host -> guest, seq 0: {"path", "token"} */
	DMAB_SIM_EVT_WATCH = 0x100,
};

struct dmab_sim_hdr {
	uint32_t type;
	uint32_t seq;
	int32_t status;
	uint32_t len;                   /* payload octets after the header */
};

enum dmab_sim_mem_kind {
	DMAB_SIM_MEM_MEMFD = 1,         /* memfd sealed against shrinking */
	DMAB_SIM_MEM_DMABUF = 2,        /* dma-buf (system heap) */
};

/* The name is the domain's, as xl's name=: unique, or the HELLO is refused (-EEXIST). */
#define DMAB_SIM_HELLO_NAMED 1u

struct dmab_sim_hello {
	uint32_t version;
	uint32_t flags;
	/* NAMED: the domain's name; else a hint (the program), made unique as <hint>-<domid> */
	char name[32];
};

struct dmab_sim_hello_reply {
	uint32_t domid;
	uint32_t max_message;           /* bytes of one message, header included */
};

struct dmab_sim_mem_add {
	uint32_t kind;
	uint32_t pad;
	uint64_t size;                  /* a multiple of the page size */
};

struct dmab_sim_region_msg {
	uint32_t region;
};

struct dmab_sim_grant {
	uint32_t region;
	uint32_t first;                 /* first page in the region */
	uint32_t count;
	uint16_t remote;
	uint8_t readonly;
	uint8_t pad;
};

struct dmab_sim_refs {
	uint32_t count;
	uint32_t refs[];
};

struct dmab_sim_map {
	uint32_t domid;
	uint32_t writable;
	uint32_t count;
	uint32_t refs[];
};

/* One mapped page: which of the message's fds, at which page of it. */
struct dmab_sim_map_page {
	uint32_t fd_index;
	uint32_t page;
};

struct dmab_sim_map_reply {
	uint32_t map;
	uint32_t nfds;
	struct dmab_sim_map_page pages[];
};

struct dmab_sim_id_msg {
	uint32_t id;                    /* map, port, domid or tx */
};

struct dmab_sim_tx_end {
	uint32_t tx;
	uint32_t abort;
};

struct dmab_sim_store_msg {
	uint32_t tx;
	char strings[];                 /* "path\0" or "path\0value\0" */
};

struct dmab_sim_connector_msg {
	uint32_t width, height;
	char unique_id[64];
};

struct dmab_sim_add_vdispl {
	uint32_t devid;
	uint32_t be_alloc;
	uint32_t count;
	struct dmab_sim_connector_msg connectors[];
};

/** A received message: header, payload (malloc'd) and descriptors. */
struct dmab_sim_msg {
	struct dmab_sim_hdr hdr;
	uint8_t *payload;
	int fds[DMAB_SIM_MAX_FDS];
	unsigned int nfds;
};

/**
 * Send one message with nfds descriptors (not consumed). MSG_DONTWAIT when
 * nonblock. Returns 0, -EAGAIN, or another negative errno.
 */
int dmab_sim_send(int sock, uint32_t type, uint32_t seq, int32_t status,
		const void *payload, size_t len, const int *fds, unsigned int nfds,
		bool nonblock);

/**
 * Receive one message of at most max_len payload octets. Returns 1 with
 * *msg filled (free with dmab_sim_msg_finish()), 0 on end of stream,
 * -EAGAIN when nothing is there (non-blocking socket), -EMSGSIZE or
 * -EPROTO for a malformed message (its descriptors are closed), or another
 * negative errno.
 */
int dmab_sim_recv(int sock, uint32_t max_len, struct dmab_sim_msg *msg);

/** Free the payload and close descriptors not taken (set to -1 to take one). */
void dmab_sim_msg_finish(struct dmab_sim_msg *msg);

/**
 * Find the n-th NUL-terminated string of a payload area: returns it, or
 * NULL if the area does not hold that many terminated strings.
 */
const char *dmab_sim_string(const uint8_t *area, size_t len, unsigned int n);

#endif
