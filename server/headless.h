/* SPDX-License-Identifier: MIT */
#ifndef DMAB_SERVER_HEADLESS_H
#define DMAB_SERVER_HEADLESS_H

#include "server/output.h"

/** A headless output with count screens (copied), timed on loop. */
int dmab_headless_create(const struct dmab_screen *screens, unsigned int count,
		struct wl_event_loop *loop, struct dmab_output **out);

#endif
