// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>

#include "hv/sim/gnttab.h"

void sim_gnttab_init(struct sim_gnttab *t, uint32_t max_grants, uint64_t max_memory)
{
	memset(t, 0, sizeof(*t));
	t->max_grants = max_grants;
	t->max_memory = max_memory;
	t->next_region_id = 1;
	t->search_from = DMAB_SIM_FIRST_REF;
}

static void region_close(struct sim_gnttab *t, struct sim_region *r)
{
	for (uint32_t i = 0; i < t->nregions; i++) {
		if (t->regions[i] == r) {
			t->regions[i] = t->regions[--t->nregions];
			break;
		}
	}
	t->memory -= (uint64_t)r->pages * DMAB_XEN_PAGE_SIZE;
	close(r->fd);
	free(r);
}

void sim_gnttab_finish(struct sim_gnttab *t)
{
	while (t->nregions)
		region_close(t, t->regions[0]);
	free(t->regions);
	free(t->entries);
	memset(t, 0, sizeof(*t));
}

static int region_size(int fd, enum dmab_sim_mem_kind kind, uint64_t *size)
{
	if (kind == DMAB_SIM_MEM_MEMFD) {
		int seals = fcntl(fd, F_GET_SEALS);
		if (seals < 0)
			return -EBADF; /* not a memfd */
		if (!(seals & F_SEAL_SHRINK))
			return -EINVAL;
		struct stat st;
		if (fstat(fd, &st) < 0)
			return -errno;
		*size = (uint64_t)st.st_size;
		return 0;
	}
	if (kind == DMAB_SIM_MEM_DMABUF) {
		/*
		 * dma-bufs report their size through lseek, and cannot shrink.
		 * Any other file could be truncated under dom0's mapping.
		 */
		struct statfs fs;
		if (fstatfs(fd, &fs) < 0 || fs.f_type != DMA_BUF_MAGIC)
			return -EBADF;
		off_t end = lseek(fd, 0, SEEK_END);
		if (end < 0)
			return -EBADF;
		*size = (uint64_t)end;
		return 0;
	}
	return -EINVAL;
}

int sim_region_add(struct sim_gnttab *t, int fd, enum dmab_sim_mem_kind kind,
		uint64_t size, uint32_t *id)
{
	if (size == 0 || size % DMAB_XEN_PAGE_SIZE || size / DMAB_XEN_PAGE_SIZE > UINT32_MAX)
		return -EINVAL;
	uint64_t actual = 0;
	int ret = region_size(fd, kind, &actual);
	if (ret)
		return ret;
	if (actual < size)
		return -EINVAL;
	if (t->memory + size > t->max_memory)
		return -ENOSPC;

	if (t->nregions == t->regions_cap) {
		uint32_t cap = t->regions_cap ? t->regions_cap * 2 : 16;
		struct sim_region **grown = realloc(t->regions, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		t->regions = grown;
		t->regions_cap = cap;
	}
	struct sim_region *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->fd = fd;
	r->kind = kind;
	r->id = t->next_region_id++;
	r->pages = (uint32_t)(size / DMAB_XEN_PAGE_SIZE);
	t->regions[t->nregions++] = r;
	t->memory += size;
	*id = r->id;
	return 0;
}

struct sim_region *sim_region_find(struct sim_gnttab *t, uint32_t id)
{
	for (uint32_t i = 0; i < t->nregions; i++) {
		if (t->regions[i]->id == id && !t->regions[i]->removed)
			return t->regions[i];
	}
	return NULL;
}

int sim_region_remove(struct sim_gnttab *t, uint32_t id)
{
	struct sim_region *r = sim_region_find(t, id);
	if (!r)
		return -ENOENT;
	for (uint32_t ref = 0; ref < t->nentries; ref++) {
		if (t->entries[ref].region == r && !t->entries[ref].ended)
			return -EBUSY;
	}
	r->removed = true;
	if (r->users == 0)
		region_close(t, r);
	return 0;
}

void sim_region_get(struct sim_region *r)
{
	r->users++;
}

void sim_region_put(struct sim_gnttab *t, struct sim_region *r)
{
	if (--r->users == 0 && r->removed)
		region_close(t, r);
}

static int grow_entries(struct sim_gnttab *t, uint32_t need)
{
	if (need <= t->nentries)
		return 0;
	if (need > t->max_grants + DMAB_SIM_FIRST_REF)
		return -ENOSPC;
	uint32_t n = t->nentries ? t->nentries : 64;
	while (n < need)
		n *= 2;
	if (n > t->max_grants + DMAB_SIM_FIRST_REF)
		n = t->max_grants + DMAB_SIM_FIRST_REF;
	struct sim_grant *grown = realloc(t->entries, n * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	memset(grown + t->nentries, 0, (n - t->nentries) * sizeof(*grown));
	t->entries = grown;
	t->nentries = n;
	return 0;
}

int sim_grant_add(struct sim_gnttab *t, uint32_t region, uint32_t first,
		uint32_t count, domid_t remote, bool readonly, grant_ref_t *refs)
{
	struct sim_region *r = sim_region_find(t, region);
	if (!r)
		return -ENOENT;
	if (count == 0 || first >= r->pages || count > r->pages - first)
		return -EINVAL;
	if (count > t->max_grants - t->used)
		return -ENOSPC;
	int ret = grow_entries(t, t->used + count + DMAB_SIM_FIRST_REF);
	if (ret)
		return ret;

	uint32_t ref = t->search_from;
	for (uint32_t i = 0; i < count; i++) {
		/* There are count free entries: the search ends. */
		while (t->entries[ref].region) {
			if (++ref >= t->nentries)
				ref = DMAB_SIM_FIRST_REF;
		}
		t->entries[ref] = (struct sim_grant){
			.region = r,
			.page = first + i,
			.remote = remote,
			.readonly = readonly,
		};
		r->users++;
		refs[i] = ref;
	}
	t->used += count;
	t->search_from = ref;
	return 0;
}

static struct sim_grant *entry(struct sim_gnttab *t, grant_ref_t ref)
{
	if (ref < DMAB_SIM_FIRST_REF || ref >= t->nentries || !t->entries[ref].region)
		return NULL;
	return &t->entries[ref];
}

static void entry_free(struct sim_gnttab *t, grant_ref_t ref)
{
	struct sim_region *r = t->entries[ref].region;
	memset(&t->entries[ref], 0, sizeof(t->entries[ref]));
	t->used--;
	sim_region_put(t, r);
}

int sim_grant_end(struct sim_gnttab *t, uint32_t count, const grant_ref_t *refs,
		bool defer)
{
	for (uint32_t i = 0; i < count; i++) {
		struct sim_grant *g = entry(t, refs[i]);
		if (!g || g->ended)
			return -EINVAL;
		if (g->maps && !defer)
			return -EBUSY;
	}
	for (uint32_t i = 0; i < count; i++) {
		struct sim_grant *g = entry(t, refs[i]);
		if (!g || g->ended)
			continue; /* the same ref twice in the list */
		g->ended = true;
		if (g->maps == 0)
			entry_free(t, refs[i]);
	}
	return 0;
}

int sim_grant_check(struct sim_gnttab *t, grant_ref_t ref, domid_t mapper,
		bool writable, struct sim_grant **grant)
{
	struct sim_grant *g = entry(t, ref);
	if (!g || g->ended)
		return -EINVAL;
	if (g->remote != mapper || (writable && g->readonly))
		return -EPERM;
	*grant = g;
	return 0;
}

void sim_grant_hold(struct sim_gnttab *t, grant_ref_t ref)
{
	t->entries[ref].maps++;
}

void sim_grant_release(struct sim_gnttab *t, grant_ref_t ref)
{
	struct sim_grant *g = &t->entries[ref];
	if (--g->maps == 0 && g->ended)
		entry_free(t, ref);
}

bool sim_gnttab_busy(const struct sim_gnttab *t)
{
	for (uint32_t ref = 0; ref < t->nentries; ref++) {
		if (t->entries[ref].maps)
			return true;
	}
	for (uint32_t i = 0; i < t->nregions; i++) {
		if (t->regions[i]->users && t->regions[i]->removed)
			return true;
	}
	return false;
}
