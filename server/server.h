/* SPDX-License-Identifier: MIT */
/*
 * dmabridged's composition root. main.c creates the server; the server
 * creates the hypervisor, the output, the copier, the scheduler, the
 * release of exports, the guest log limits and the control socket, hands
 * them down, and creates a device (frontend.c) for each that appears under
 * its backend root. Nothing it creates calls back into it: it listens
 * (the control socket's reload) instead.
 */
#ifndef DMAB_SERVER_SERVER_H
#define DMAB_SERVER_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <wayland-server-core.h>

#include "hv/hv.h"
#include "server/config.h"
#include "output/output.h"

struct dmab_control;
struct dmab_release;
struct dmab_scheduler;

struct dmab_server {
	struct wl_event_loop *loop;
	struct dmab_config config;
	const char *config_path;        /* NULL without a file */
	struct dmab_config_cli cli;     /* what the command line set */
	struct dmab_hv *hv;
	struct wl_event_source *hv_source;
	struct dmab_hv_watch *root_watch;
	char backend_root[64];
	struct dmab_output *output;
	struct dmab_copier *copier;     /* the copy path's workers */
	struct wl_list frontends;       /* struct dmab_frontend.link */
	struct dmab_scheduler *scheduler; /* turns for connectors with requests waiting */
	struct dmab_release *release;   /* exports handed back, until the hypervisor lets go */
	struct dmab_control *control;
	struct wl_listener control_reload;
	struct dmab_ratelimit_table *guest_logs;  /* server/guest-log.h */
	uint64_t started_ns;
};

/**
 * Create the server on loop: hypervisor, output and control socket from
 * config, which came from config_path (may be NULL) with cli over it.
 */
int dmab_server_create(struct wl_event_loop *loop, const struct dmab_config *config,
		const char *config_path, const struct dmab_config_cli *cli,
		struct dmab_server **server);

/**
 * Orderly shutdown: every guest device to Closing, every buffer released,
 * every grant unmapped. Returns when nothing is left to wait for, or after
 * the release timeout.
 */
void dmab_server_destroy(struct dmab_server *server);

/** Re-read the configuration file: layout and limits apply at once. */
int dmab_server_reload(struct dmab_server *server);

#endif
