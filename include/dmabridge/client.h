/* SPDX-License-Identifier: MIT */
/*
 * libdmabridge-client: a user-space frontend of Xen's para-virtual display
 * protocol (displif, device "vdispl"), for guests that want a display
 * without the kernel's xen-drm-front, and for tests.
 *
 * A struct dmab_client is one vdispl device of this domain, with one or
 * more connectors (virtual displays). Buffers are shared with the backend
 * (or, with backend allocation, shared by it), attached as framebuffers,
 * shown with dmab_client_set_config() and flipped with dmab_client_flip();
 * the backend reports each flip it presented.
 *
 * The client runs on real Xen (in a domU, through libxenstore,
 * libxenevtchn, libxengnttab) or on dmabridge's simulator (a unix socket
 * to dmabridged). It is single-threaded: poll dmab_client_get_fd() and call
 * dmab_client_dispatch() when it is readable; requests block until the
 * backend answers, at most the timeout given in the options.
 *
 * Every int function returns 0 or a negative errno. Errors the backend
 * reports (displif status -XEN_E*) come back as the same negative errno;
 * a backend that does not answer in time gives -ETIMEDOUT, one that breaks
 * the ring protocol -EIO, one that went away -ENOTCONN.
 *
 * The library logs through stderr; the environment variable DMABRIDGE_LOG
 * (error, warn, info, debug or silent; read by dmab_client_connect()) sets
 * how much.
 */
#ifndef DMABRIDGE_CLIENT_H
#define DMABRIDGE_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct dmab_client;
struct dmab_client_buffer;

enum dmab_client_hv {
	DMAB_CLIENT_HV_AUTO = 0,        /* Xen if /dev/xen exists, else the simulator */
	DMAB_CLIENT_HV_XEN,
	DMAB_CLIENT_HV_SIM,
};

/** A connector to ask the simulator's toolstack for (see create_device). */
struct dmab_client_connector_spec {
	uint32_t width, height;
	const char *unique_id;          /* may be NULL */
};

struct dmab_client_options {
	enum dmab_client_hv hv;
	const char *sim_socket;         /* NULL: the simulator's default socket */
	uint32_t devid;                 /* the vdispl device, usually 0 */
	uint32_t timeout_ms;            /* per request and for connecting; 0: 3000 */
	/*
	 * Simulator only: create the device first, as `xl create` would with
	 * vdispl=['be-alloc=<be_alloc>,connectors=...'] (at least one
	 * connector). On Xen the device comes from the domain's configuration
	 * and these are ignored.
	 */
	bool create_device;
	bool be_alloc;
	/*
	 * Simulator only: the domain's name, as xl's name= gives it (1 to 31
	 * printable characters); connecting fails with -EEXIST when another
	 * domain has it. NULL: named after the program and its domid.
	 */
	const char *domain_name;
	/*
	 * Simulator only: framebuffers in plain memory (memfds), as a guest's
	 * RAM is, even where the host has a dma-buf heap the simulator would
	 * otherwise take them from: the backend then exports udmabufs or copies.
	 */
	bool plain_memory;
	const struct dmab_client_connector_spec *connectors;
	unsigned int connector_count;
};

/**
 * Attach to the vdispl device: read its configuration, publish the rings
 * and event channels of every connector, and wait until the backend is
 * connected, at most timeout_ms. A device left connected by an earlier
 * client is reset first. Returns 0 with *client set; -ENOENT when the
 * domain has no such device, -ETIMEDOUT when the backend did not connect.
 */
int dmab_client_connect(const struct dmab_client_options *options,
		struct dmab_client **client);

/**
 * Close the device: turn the connectors off, release every buffer (telling
 * the backend), close the rings once the backend let go of them and go
 * back to XenbusStateInitialising, so the device can be attached again.
 * Not from inside the flip handler. NULL is a no-op.
 */
void dmab_client_destroy(struct dmab_client *client);

/** The domain id this client runs as. */
uint16_t dmab_client_domid(const struct dmab_client *client);

/** One fd to poll for input; owned by the client. */
int dmab_client_get_fd(const struct dmab_client *client);

/**
 * Handle what is pending without blocking: page-flip events, and the
 * backend leaving. Returns 0, or -ENOTCONN once the backend is gone
 * (every later request fails with -ENOTCONN too).
 */
int dmab_client_dispatch(struct dmab_client *client);

/** Whether the device is connected to its backend. */
bool dmab_client_connected(const struct dmab_client *client);

/** The protocol version agreed with the backend (1 or 2). */
unsigned int dmab_client_protocol_version(const struct dmab_client *client);

/** Whether buffers are allocated by the backend (be-alloc). */
bool dmab_client_be_alloc(const struct dmab_client *client);

struct dmab_client_connector_info {
	uint32_t width, height;         /* the "resolution" of the connector */
	char unique_id[65];
};

unsigned int dmab_client_connector_count(const struct dmab_client *client);

/** Describe connector index (0-based); -EINVAL if there is no such one. */
int dmab_client_connector_info(const struct dmab_client *client,
		unsigned int index, struct dmab_client_connector_info *info);

/**
 * Ask the backend for connector index's EDID (protocol version 2; version
 * 1 gives -EOPNOTSUPP). Copies at most len bytes into edid (NULL when len
 * is 0) and gives the EDID's size in *size.
 */
int dmab_client_get_edid(struct dmab_client *client, unsigned int index,
		uint8_t *edid, size_t len, size_t *size);

/**
 * Create a display buffer of width x height pixels in a DRM fourcc format
 * (XRGB8888, ARGB8888, RGB565, RGB888, XRGB/ARGB4444, XRGB/ARGB1555, YUYV)
 * and attach it as a framebuffer. The pixels are shared with the backend:
 * by this domain, or by the backend when the device is be-alloc. Rows are
 * packed as Linux's xen-drm-front packs its dumb buffers:
 * stride = ceil(width * bpp / 8), no padding (YUYV needs an even width).
 * Returns 0 with *buffer set; it belongs to the client and is freed with
 * dmab_client_buffer_destroy() or dmab_client_destroy().
 */
int dmab_client_buffer_create(struct dmab_client *client, uint32_t width,
		uint32_t height, uint32_t fourcc, struct dmab_client_buffer **buffer);

/** The buffer's pixels, writable, stride bytes per row. */
void *dmab_client_buffer_data(const struct dmab_client_buffer *buffer);
uint32_t dmab_client_buffer_stride(const struct dmab_client_buffer *buffer);
uint32_t dmab_client_buffer_width(const struct dmab_client_buffer *buffer);
uint32_t dmab_client_buffer_height(const struct dmab_client_buffer *buffer);
uint32_t dmab_client_buffer_format(const struct dmab_client_buffer *buffer);

/** Whether the backend still shows (or is about to show) this buffer. */
bool dmab_client_buffer_busy(const struct dmab_client_buffer *buffer);

/**
 * Detach and destroy a buffer: the backend stops using it before it
 * answers, then the pages are released. A connector that showed it is off
 * afterwards (as when a KMS framebuffer in use is removed) until the next
 * dmab_client_set_config(). The buffer is gone whatever this returns: 0,
 * or the first error of the requests. NULL is a no-op.
 */
int dmab_client_buffer_destroy(struct dmab_client_buffer *buffer);

/**
 * Show buffer on connector index at x, y (its width and height), or turn
 * the connector off when buffer is NULL.
 */
int dmab_client_set_config(struct dmab_client *client, unsigned int index,
		struct dmab_client_buffer *buffer, uint32_t x, uint32_t y);

/**
 * Called when the backend presented a flipped buffer on a connector
 * (XENDISPL_EVT_PG_FLIP). Runs from dmab_client_dispatch() only; it may
 * flip, draw and destroy buffers, but not destroy the client.
 */
typedef void (*dmab_client_flip_fn)(void *data, unsigned int index,
		struct dmab_client_buffer *buffer);

void dmab_client_set_flip_handler(struct dmab_client *client,
		dmab_client_flip_fn fn, void *data);

/**
 * Queue buffer for display on connector index at the next refresh. The
 * flip handler reports when it is on screen. Until then the buffer is busy.
 * One flip per connector at a time: -EBUSY while the previous one was not
 * reported, unless that was longer ago than the timeout plus 100 ms (as
 * Linux, that flip is then taken as shown).
 */
int dmab_client_flip(struct dmab_client *client, unsigned int index,
		struct dmab_client_buffer *buffer);

#ifdef __cplusplus
}
#endif

#endif
