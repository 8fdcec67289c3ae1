// SPDX-License-Identifier: MIT
#include "server/guest-log.h"

/*
 * Per guest and 5 s: 20 lines of each class but debug, 100 of those; over
 * all guests together ten times that. 256 guests are remembered (a domid
 * that has not logged for the longest makes room), more than the
 * simulator has and more than a host runs at once.
 */
#define GUEST_LOG_INTERVAL_MS 5000
#define GUEST_LOG_GUESTS 256

struct dmab_ratelimit_table *dmab_guest_logs_create(void)
{
	static const struct dmab_ratelimit guest[DMAB_GUEST_LOG_CLASSES] = {
		[DMAB_GUEST_LOG_WARN] = { .interval_ms = GUEST_LOG_INTERVAL_MS, .burst = 20 },
		[DMAB_GUEST_LOG_LIFE] = { .interval_ms = GUEST_LOG_INTERVAL_MS, .burst = 20 },
		[DMAB_GUEST_LOG_DEBUG] = { .interval_ms = GUEST_LOG_INTERVAL_MS, .burst = 100 },
	};
	static const struct dmab_ratelimit all[DMAB_GUEST_LOG_CLASSES] = {
		[DMAB_GUEST_LOG_WARN] = { .interval_ms = GUEST_LOG_INTERVAL_MS, .burst = 200 },
		[DMAB_GUEST_LOG_LIFE] = { .interval_ms = GUEST_LOG_INTERVAL_MS, .burst = 200 },
		[DMAB_GUEST_LOG_DEBUG] = { .interval_ms = GUEST_LOG_INTERVAL_MS, .burst = 1000 },
	};
	return dmab_ratelimit_table_create(GUEST_LOG_GUESTS, DMAB_GUEST_LOG_CLASSES, guest, all);
}

struct dmab_ratelimit *dmab_guest_log_limit(struct dmab_ratelimit_table *logs, domid_t domid,
		enum dmab_guest_log class)
{
	return dmab_ratelimit_table_get(logs, domid, class);
}
