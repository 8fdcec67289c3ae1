/* SPDX-License-Identifier: MIT */
/*
 * dmabridged's configuration: an INI file (docs/configuration.md) with the
 * command line on top. Everything has a default, so no file is needed.
 */
#ifndef DMAB_SERVER_CONFIG_H
#define DMAB_SERVER_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "common/log.h"
#include "server/output.h"

#define DMAB_CONFIG_MAX_PLACES 64

enum dmab_hv_kind {
	DMAB_HV_KIND_SIM,
	DMAB_HV_KIND_XEN,
};

/** What one guest device may hold and ask. */
struct dmab_config_limits {
	uint32_t max_buffers;           /* display buffers */
	uint32_t max_framebuffers;
	uint32_t max_buffer_bytes;      /* one buffer */
	uint64_t max_bytes;             /* all its buffers */
	uint32_t max_width, max_height; /* of a buffer, framebuffer or connector */
	uint32_t max_connectors;
	uint32_t requests_per_second;   /* 0: unlimited */
};

/** Where a guest connector goes, matched by its unique-id. */
struct dmab_config_place {
	char unique_id[65];
	char screen[32];                /* "" for the first screen */
	int32_t x, y, z;
	bool visible;
	bool has_position;              /* x and y were given */
};

struct dmab_config {
	enum dmab_hv_kind hv;
	char sim_socket[108];           /* "" for the default */
	char control_socket[108];       /* "" for the default */
	enum dmab_log_level log_level;
	char output[16];                /* "headless" */
	struct dmab_screen screens[DMAB_MAX_SCREENS];
	unsigned int nscreens;
	struct dmab_config_limits limits;
	uint32_t release_timeout_ms;    /* waiting for a display to let go of a guest buffer */
	struct dmab_config_place places[DMAB_CONFIG_MAX_PLACES];
	unsigned int nplaces;
};

/** What the command line set: it wins over the file, at start and at every reload. */
struct dmab_config_cli {
	bool hv_set;
	enum dmab_hv_kind hv;
	char sim_socket[108];           /* "" when not given */
	char control_socket[108];
	struct dmab_screen screens[DMAB_MAX_SCREENS];
	unsigned int nscreens;          /* 0 when not given */
	bool log_level_set;
	enum dmab_log_level log_level;
};

/** Put what the command line set over config. */
void dmab_config_apply_cli(struct dmab_config *config, const struct dmab_config_cli *cli);

/** Defaults: simulator, headless 1920x1080 screen "main", moderate limits. */
void dmab_config_defaults(struct dmab_config *config);

/**
 * Read an INI file over config (keys not in the file keep their value).
 * On error err (len bytes) names the file, line and key; returns -EINVAL,
 * or -errno when the file cannot be read.
 */
int dmab_config_load(struct dmab_config *config, const char *path, char *err, size_t len);

/** The placement configured for a connector's unique-id, or NULL. */
const struct dmab_config_place *dmab_config_find_place(const struct dmab_config *config,
		const char *unique_id);

#endif
