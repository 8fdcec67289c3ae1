/* SPDX-License-Identifier: MIT */
/*
 * The control socket: dmabridgectl and scripts ask for status, statistics,
 * screenshots and layout changes. One JSON object per line each way
 * (docs/dmabridgectl.md); a screenshot request carries the file to write
 * the PNG into as a descriptor.
 */
#ifndef DMAB_SERVER_CONTROL_H
#define DMAB_SERVER_CONTROL_H

#include <wayland-server-core.h>

#include "common/log.h"

struct dmab_server;
struct dmab_shots;

/** A client asks for the configuration to be read again: dmab_control.events.reload. */
struct dmab_control_reload_event {
	int status;     /* the listener's: 0, or a negative errno for an error answer */
};

struct dmab_control {
	struct {
		struct wl_signal reload;        /* struct dmab_control_reload_event * */
	} events;

	/* control.c's own */
	struct dmab_server *server;
	char path[108];
	int fd;
	struct wl_event_source *source;
	struct wl_list clients;
	unsigned int nclients;
	struct wl_list turns;           /* struct client.turn_link: a request each, next iteration */
	int turn_fd;                    /* eventfd: turns is not empty */
	struct wl_event_source *turn_source;
	struct wl_event_source *idle_timer;
	struct dmab_shots *shots;
	struct dmab_ratelimit rl;       /* log lines a client can cause */
};

/**
 * The control socket for server, on its loop, at the configured path (or
 * the default one). Owns the listening socket, the clients' sockets and
 * the descriptors they send. 0 or a negative errno.
 */
int dmab_control_create(struct dmab_server *server, struct dmab_control **control);

/** Close every client and the socket. NULL is a no-op. */
void dmab_control_destroy(struct dmab_control *control);

#endif
