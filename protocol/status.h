/* SPDX-License-Identifier: MIT */
#ifndef DMAB_PROTOCOL_STATUS_H
#define DMAB_PROTOCOL_STATUS_H

#include <stdint.h>

/**
 * The displif status for a host error: a negative errno becomes the
 * negative XEN_E* a frontend understands (-XEN_EIO when Xen has no such
 * code); 0 stays 0. Host and Xen numbers differ on some platforms, so
 * statuses are always converted here.
 */
int32_t dmab_xen_status(int err);

#endif
