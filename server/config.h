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
#include "drm/drm.h"
#include "output/headless/headless.h"
#include "wayland/wayland.h"

#define DMAB_CONFIG_MAX_PLACES 64
#define DMAB_MAX_SCREENS 8
#define DMAB_MAX_OUTPUTS 4

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

/*
 * inih cuts section names at 49 characters without saying so: a longer
 * [connector.LABEL] is refused, and a long unique-id is given with the
 * unique-id key under a short label.
 */
#define DMAB_CONFIG_LABEL_MAX 38
#define DMAB_CONFIG_ID_MAX 64           /* unique-ids and domain names */

/**
 * Where a guest connector goes: [connector.LABEL]. It is matched by the
 * connector's unique-id, which the guest chooses, and, when the place is
 * bound, by its domain, which the toolstack names and the guest cannot
 * change.
 */
struct dmab_config_place {
	char label[DMAB_CONFIG_LABEL_MAX + 1];
	char unique_id[DMAB_CONFIG_ID_MAX + 1]; /* the label unless given */
	char domain[DMAB_CONFIG_ID_MAX + 1];    /* "" unless bound to a domain name */
	bool has_domid;                 /* bound to a domain id */
	uint16_t domid;
	char screen[32];                /* "" for the first screen */
	int32_t x, y, z;
	bool visible;
	bool has_position;              /* x and y were given */
	uint32_t width, height;         /* its size on the screen, scaled; 0: the connector's */
};

struct dmab_config {
	enum dmab_hv_kind hv;
	char sim_socket[108];           /* "" for the default */
	char control_socket[108];       /* "" for the default */
	enum dmab_log_level log_level;
	/* The display backends to run, by name ("headless", "drm", "wayland"). */
	char outputs[DMAB_MAX_OUTPUTS][16];
	unsigned int noutputs;
	struct dmab_headless_screen_config screens[DMAB_MAX_SCREENS];
	unsigned int nscreens;
	struct dmab_drm_config drm;
	struct dmab_wayland_config wayland;     /* [wayland] and the [window.*] sections */
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
	struct dmab_headless_screen_config screens[DMAB_MAX_SCREENS];
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

/** Whether place names a domain (by name or id) and so takes no other. */
bool dmab_config_place_bound(const struct dmab_config_place *place);

/**
 * Whether place is for the connector unique_id of domain domid named
 * domain_name (NULL or "" when it has no name).
 */
bool dmab_config_place_matches(const struct dmab_config_place *place, uint16_t domid,
		const char *domain_name, const char *unique_id);

/** The place labelled label, or NULL. */
const struct dmab_config_place *dmab_config_find_place(const struct dmab_config *config,
		const char *label);

#endif
