/* SPDX-License-Identifier: MIT */
/*
 * Control requests, decoded. One line of the control socket (a JSON object,
 * docs/dmabridgectl.md) becomes a command with typed, validated fields, or
 * an error text saying what is wrong with it. Every field's type and range
 * is checked here, once: the handlers in control.c see only the result.
 * Pure code (no I/O, no server state), so that it can be fuzzed alone.
 */
#ifndef DMAB_SERVER_CONTROL_REQUEST_H
#define DMAB_SERVER_CONTROL_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Octets of a name (a screen, a connector's domid/devid/index or unique-id),
 * without its NUL: the longest unique-id displif allows.
 */
#define DMAB_CTL_NAME_MAX 64
/* Octets of an error text, with its NUL. */
#define DMAB_CTL_ERROR_MAX 256

enum dmab_ctl_cmd {
	DMAB_CTL_STATUS,
	DMAB_CTL_STATS,
	DMAB_CTL_SCREENSHOT,
	DMAB_CTL_LAYOUT,
	DMAB_CTL_RELOAD,
};

/** What a screenshot shows. */
enum dmab_ctl_target {
	DMAB_CTL_TARGET_FIRST_SCREEN,   /* nothing named */
	DMAB_CTL_TARGET_SCREEN,         /* "screen" */
	DMAB_CTL_TARGET_CONNECTOR,      /* "connector" */
	DMAB_CTL_TARGET_ANY,            /* "target": a screen of that name, else a connector */
};

struct dmab_ctl_screenshot {
	enum dmab_ctl_target target;
	char name[DMAB_CTL_NAME_MAX + 1];       /* "" for DMAB_CTL_TARGET_FIRST_SCREEN */
};

/* The largest width or height a layout gives a connector on its screen. */
#define DMAB_CTL_PLACE_MAX 16384

/** A layout change: what is not given stays as it is. */
struct dmab_ctl_layout {
	char connector[DMAB_CTL_NAME_MAX + 1];
	bool has_screen, has_x, has_y, has_z, has_visible, has_width, has_height;
	char screen[DMAB_CTL_NAME_MAX + 1];
	int32_t x, y, z;
	bool visible;
	/* Its size on the screen, up to DMAB_CTL_PLACE_MAX; 0: the connector's own. */
	uint32_t width, height;
};

struct dmab_ctl_request {
	enum dmab_ctl_cmd cmd;
	union {
		struct dmab_ctl_screenshot screenshot;  /* DMAB_CTL_SCREENSHOT */
		struct dmab_ctl_layout layout;          /* DMAB_CTL_LAYOUT */
	};
};

/**
 * Decode the request in line, len octets of anything (without the newline
 * that ended it). Names are non-empty, at most DMAB_CTL_NAME_MAX octets of
 * printable characters; integers are JSON integers in int32 range; booleans
 * are true or false; a key the command does not take is refused. Returns 0
 * with *req filled, or -EINVAL with error (DMAB_CTL_ERROR_MAX octets) set to
 * a NUL-terminated text that names the field and what is wrong with it.
 */
int dmab_ctl_request_parse(const char *line, size_t len, struct dmab_ctl_request *req,
		char *error);

#endif
