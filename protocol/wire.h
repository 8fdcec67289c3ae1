/* SPDX-License-Identifier: MIT */
/*
 * The displif wire layout, from the system's Xen public headers.
 * Include this instead of <xen/io/displif.h>: ring.h needs memory barriers
 * that user space has to provide, and xen.h needs <stdint.h> first.
 */
#ifndef DMAB_PROTOCOL_WIRE_H
#define DMAB_PROTOCOL_WIRE_H

#include <stdatomic.h>
#include <stdint.h>

#if !defined(__XEN_INTERFACE_VERSION__) || __XEN_INTERFACE_VERSION__ < 0x00030208
#error "__XEN_INTERFACE_VERSION__ must be set by the build (see meson.build)"
#endif

/*
 * The other end is another domain on another CPU: full fences for mb(),
 * acquire/release for the one-sided ones (what Linux's virt_*mb() give).
 */
#ifndef xen_mb
#define xen_mb() atomic_thread_fence(memory_order_seq_cst)
#define xen_rmb() atomic_thread_fence(memory_order_acquire)
#define xen_wmb() atomic_thread_fence(memory_order_release)
#endif

#include <xen/xen.h>
#include <xen/errno.h>
#include <xen/event_channel.h>
#include <xen/grant_table.h>
#include <xen/io/ring.h>
#include <xen/io/xenbus.h>
#include <xen/io/displif.h>

#define DMAB_XEN_PAGE_SIZE 4096u

_Static_assert(sizeof(struct xendispl_req) == 64, "displif request is 64 octets");
_Static_assert(sizeof(struct xendispl_resp) == 64, "displif response is 64 octets");
_Static_assert(sizeof(struct xendispl_evt) == 64, "displif event is 64 octets");
_Static_assert(sizeof(grant_ref_t) == 4, "grant refs are 32 bit");

#endif
