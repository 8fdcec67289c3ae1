/* SPDX-License-Identifier: MIT */
/* Per-connector statistics. */
#ifndef DMAB_SERVER_STATS_H
#define DMAB_SERVER_STATS_H

#include <stdint.h>

#define DMAB_STATS_SAMPLES 512

struct dmab_stats {
	uint64_t frames;                /* flips presented */
	uint64_t flips;                 /* PG_FLIP requests taken */
	uint64_t bytes_copied;          /* copy path */
	uint64_t events_dropped;        /* the guest did not consume its event page */
	uint64_t requests;
	uint64_t errors;                /* requests answered with an error */

	/* flip latency, request to screen, in microseconds: the last samples */
	uint32_t latency_us[DMAB_STATS_SAMPLES];
	uint32_t nsamples, next_sample;
	/*
	 * What the server adds: request received to the commit that took the
	 * frame submitted, in microseconds (the rest is the display's refresh).
	 */
	uint32_t commit_us[DMAB_STATS_SAMPLES];
	uint32_t ncommit, next_commit;
	/*
	 * The server's own work: request received to the frame handed to the
	 * output (attached to its view: at once for zero copy and be-alloc,
	 * after the copy on the copy path), in microseconds.
	 */
	uint32_t handoff_us[DMAB_STATS_SAMPLES];
	uint32_t nhandoff, next_handoff;

	/* frames per second over the last whole second */
	uint64_t window_start_ns;
	uint64_t window_frames;
	uint64_t last_ns;               /* the last frame */
	double fps;                     /* of the last whole window, 0 before one closed */
};

void dmab_stats_frame(struct dmab_stats *stats, uint64_t requested_ns, uint64_t shown_ns);

/** A flip requested at requested_ns went out in a commit at committed_ns. */
void dmab_stats_commit(struct dmab_stats *stats, uint64_t requested_ns, uint64_t committed_ns);

/** The p-th percentile of recent request-to-commit times in microseconds, 0 without samples. */
uint32_t dmab_stats_commit_us(const struct dmab_stats *stats, unsigned int p);

/** A flip requested at requested_ns was handed to the output at handed_ns. */
void dmab_stats_handoff(struct dmab_stats *stats, uint64_t requested_ns, uint64_t handed_ns);

/** The p-th percentile of recent request-to-handoff times in microseconds, 0 without samples. */
uint32_t dmab_stats_handoff_us(const struct dmab_stats *stats, unsigned int p);

/** Frames per second, decayed to 0 when nothing was presented for a while. */
double dmab_stats_fps(const struct dmab_stats *stats, uint64_t now_ns);

/** The p-th percentile (0..100) of recent flip latencies in microseconds, 0 without samples. */
uint32_t dmab_stats_latency_us(const struct dmab_stats *stats, unsigned int p);

#endif
