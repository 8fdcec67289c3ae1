// SPDX-License-Identifier: MIT
#include <stdlib.h>
#include <string.h>

#include "server/stats.h"

void dmab_stats_frame(struct dmab_stats *stats, uint64_t requested_ns, uint64_t shown_ns)
{
	stats->frames++;
	if (requested_ns && shown_ns >= requested_ns) {
		uint64_t us = (shown_ns - requested_ns) / 1000;
		stats->latency_us[stats->next_sample] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
		stats->next_sample = (stats->next_sample + 1) % DMAB_STATS_SAMPLES;
		if (stats->nsamples < DMAB_STATS_SAMPLES)
			stats->nsamples++;
	}

	stats->last_ns = shown_ns;
	/* A window counts the frames after the one that opened it. */
	if (stats->window_start_ns == 0) {
		stats->window_start_ns = shown_ns;
		return;
	}
	stats->window_frames++;
	uint64_t span = shown_ns - stats->window_start_ns;
	if (span >= 1000000000u) {
		stats->fps = (double)stats->window_frames * 1e9 / (double)span;
		stats->window_start_ns = shown_ns;
		stats->window_frames = 0;
	}
}

double dmab_stats_fps(const struct dmab_stats *stats, uint64_t now_ns)
{
	/* Two seconds without a frame: the rate is what it is now, zero. */
	if (stats->window_start_ns == 0 || now_ns - stats->window_start_ns > 2000000000u)
		return 0;
	/* Before the first whole second: the rate so far. */
	if (stats->fps == 0 && stats->window_frames && stats->last_ns > stats->window_start_ns)
		return (double)stats->window_frames * 1e9 /
			(double)(stats->last_ns - stats->window_start_ns);
	return stats->fps;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

static uint32_t percentile(const uint32_t *samples, uint32_t n, unsigned int p)
{
	if (n == 0)
		return 0;
	uint32_t sorted[DMAB_STATS_SAMPLES];
	memcpy(sorted, samples, n * sizeof(sorted[0]));
	qsort(sorted, n, sizeof(sorted[0]), cmp_u32);
	/* Nearest rank. */
	uint32_t rank = (uint32_t)((p * n + 99) / 100);
	if (rank == 0)
		rank = 1;
	return sorted[rank - 1];
}

uint32_t dmab_stats_latency_us(const struct dmab_stats *stats, unsigned int p)
{
	return percentile(stats->latency_us, stats->nsamples, p);
}

static void sample(uint32_t *ring, uint32_t *n, uint32_t *next, uint64_t from, uint64_t to)
{
	if (!from || to < from)
		return;
	uint64_t us = (to - from) / 1000;
	ring[*next] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
	*next = (*next + 1) % DMAB_STATS_SAMPLES;
	if (*n < DMAB_STATS_SAMPLES)
		(*n)++;
}

void dmab_stats_commit(struct dmab_stats *stats, uint64_t requested_ns, uint64_t committed_ns)
{
	sample(stats->commit_us, &stats->ncommit, &stats->next_commit, requested_ns, committed_ns);
}

void dmab_stats_handoff(struct dmab_stats *stats, uint64_t requested_ns, uint64_t handed_ns)
{
	sample(stats->handoff_us, &stats->nhandoff, &stats->next_handoff, requested_ns, handed_ns);
}

uint32_t dmab_stats_handoff_us(const struct dmab_stats *stats, unsigned int p)
{
	return percentile(stats->handoff_us, stats->nhandoff, p);
}

uint32_t dmab_stats_commit_us(const struct dmab_stats *stats, unsigned int p)
{
	return percentile(stats->commit_us, stats->ncommit, p);
}
