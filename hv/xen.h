/* SPDX-License-Identifier: MIT */
#ifndef DMAB_HV_XEN_H
#define DMAB_HV_XEN_H

#include "hv/hv.h"

/**
 * Open the real hypervisor through libxenstore, libxenevtchn, libxengnttab
 * and (frontend role) xengntshr. Needs /dev/xen (dom0, a driver domain or a
 * domU). Returns 0 with *hv set, or a negative errno (-ENOENT without Xen).
 */
int dmab_hv_xen_open(enum dmab_hv_role role, struct dmab_hv **hv);

/**
 * Whether this host turned out able to export grants as dma-bufs:
 * 1 yes, 0 no (x86: EXP_FROM_REFS is refused), -1 not tried yet.
 * hv must come from dmab_hv_xen_open().
 */
int dmab_hv_xen_can_export(const struct dmab_hv *hv);

#endif
