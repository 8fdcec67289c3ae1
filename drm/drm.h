/* SPDX-License-Identifier: MIT */
/*
 * The KMS backend: every connected connector of a DRM device with a CRTC
 * to drive it is a screen, named after the connector (Virtual-1,
 * HDMI-A-1). Each screen commits once per refresh with one non-blocking
 * atomic commit; views go on planes through libliftoff, and what gets no
 * plane is composed onto the primary plane. Connectors plugged and
 * unplugged come and go as screens.
 */
#ifndef DMAB_DRM_DRM_H
#define DMAB_DRM_DRM_H

#include <stdint.h>

#include "output/output.h"

struct dmab_drm_config {
	char device[108];               /* /dev/dri/cardN, or "": the first with a connected connector */
	uint32_t repaint_window_us;     /* 0: 7 ms, at most half a refresh period */
	/*
	 * Planes besides the primary ones that guests may have (overlay and
	 * cursor planes, in the device's order); what gets none is composed.
	 * Negative: all the device has.
	 */
	int32_t overlay_planes;
};

/** A KMS backend for config (copied); NULL on failure. The device opens at start. */
struct dmab_backend *dmab_drm_create(const struct dmab_drm_config *config);

#endif
