/* SPDX-License-Identifier: MIT */
/*
 * The simulator's grant tables: one per domain, naming pages of the shared
 * memory regions that domain registered. No I/O beyond checking the
 * descriptors it is given.
 */
#ifndef DMAB_HV_SIM_GNTTAB_H
#define DMAB_HV_SIM_GNTTAB_H

#include <stdbool.h>
#include <stdint.h>

#include "hv/sim/wire.h"
#include "protocol/wire.h"

/* Like Xen, the first refs are reserved (console, xenstore). */
#define DMAB_SIM_FIRST_REF 8u

/** A shared memory object of a domain: a sealed memfd or a dma-buf. */
struct sim_region {
	int fd;
	enum dmab_sim_mem_kind kind;
	uint32_t id;
	uint32_t pages;
	uint32_t users;         /* grant entries and host-side uses */
	bool removed;           /* given up by its owner; closed when unused */
};

struct sim_grant {
	struct sim_region *region;  /* NULL: free entry */
	uint32_t page;
	domid_t remote;
	bool readonly;
	bool ended;             /* no new mappings; freed when maps drops to 0 */
	uint32_t maps;          /* mappings and dma-buf exports holding it */
};

struct sim_gnttab {
	struct sim_grant *entries;  /* indexed by ref */
	uint32_t nentries;
	uint32_t max_grants;
	uint32_t used;
	uint32_t search_from;

	struct sim_region **regions;
	uint32_t nregions, regions_cap;
	uint32_t next_region_id;
	uint64_t memory, max_memory;
};

void sim_gnttab_init(struct sim_gnttab *t, uint32_t max_grants, uint64_t max_memory);

/** Close every region; entries still held are dropped with them. */
void sim_gnttab_finish(struct sim_gnttab *t);

/**
 * Register a region of size octets (a page multiple). Takes fd on success.
 * A memfd must be sealed against shrinking (F_SEAL_SHRINK), so its owner
 * can never pull pages from under a mapping. -EINVAL for a bad size or an
 * unsealed memfd, -EBADF for an fd of the wrong kind, -ENOSPC over the
 * memory limit.
 */
int sim_region_add(struct sim_gnttab *t, int fd, enum dmab_sim_mem_kind kind,
		uint64_t size, uint32_t *id);

struct sim_region *sim_region_find(struct sim_gnttab *t, uint32_t id);

/** The owner gives a region up: -EBUSY while it has grants, -ENOENT if unknown. */
int sim_region_remove(struct sim_gnttab *t, uint32_t id);

/** A host-side use of a region (a dma-buf export) starts or ends. */
void sim_region_get(struct sim_region *r);
void sim_region_put(struct sim_gnttab *t, struct sim_region *r);

/**
 * Grant count pages of a region from page first to domain remote; refs
 * receives the new refs. All or nothing: -ENOENT unknown region, -EINVAL
 * pages outside it, -ENOSPC no free entries.
 */
int sim_grant_add(struct sim_gnttab *t, uint32_t region, uint32_t first,
		uint32_t count, domid_t remote, bool readonly, grant_ref_t *refs);

/**
 * End access to count refs. Without defer, all or nothing: -EINVAL for a
 * ref that is not granted, -EBUSY if any is still mapped (nothing ends).
 * With defer (a backend releasing its own dma-buf grants, as gntdev does),
 * mapped refs end once the last mapping goes.
 */
int sim_grant_end(struct sim_gnttab *t, uint32_t count, const grant_ref_t *refs,
		bool defer);

/**
 * Check that domain mapper may map ref (writable or not) and return the
 * entry: -EINVAL unknown or ended ref, -EPERM granted to another domain or
 * read-only when writable is asked.
 */
int sim_grant_check(struct sim_gnttab *t, grant_ref_t ref, domid_t mapper,
		bool writable, struct sim_grant **grant);

/** A mapping or export of ref starts (after sim_grant_check) or ends. */
void sim_grant_hold(struct sim_gnttab *t, grant_ref_t ref);
void sim_grant_release(struct sim_gnttab *t, grant_ref_t ref);

/** Whether anything of this table is still mapped or exported. */
bool sim_gnttab_busy(const struct sim_gnttab *t);

#endif
