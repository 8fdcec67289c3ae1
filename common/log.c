// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/log.h"

static enum dmab_log_level log_level = DMAB_LOG_INFO;

static const char *const level_names[] = {
	[DMAB_LOG_SILENT] = "silent",
	[DMAB_LOG_ERROR] = "error",
	[DMAB_LOG_WARN] = "warn",
	[DMAB_LOG_INFO] = "info",
	[DMAB_LOG_DEBUG] = "debug",
};

__attribute__((format(printf, 2, 0)))
static void log_stderr(enum dmab_log_level level, const char *fmt, va_list args)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	/* One fprintf per line keeps lines from several processes whole. */
	char line[1024];
	int n = vsnprintf(line, sizeof(line), fmt, args);
	if (n < 0)
		return;
	fprintf(stderr, "%5lld.%03ld %-5s %s\n", (long long)ts.tv_sec,
		ts.tv_nsec / 1000000, level_names[level], line);
}

static dmab_log_handler_t log_handler = log_stderr;

void dmab_log_init(enum dmab_log_level level, dmab_log_handler_t handler)
{
	if (level > DMAB_LOG_DEBUG)
		level = DMAB_LOG_DEBUG;
	log_level = level;
	log_handler = handler ? handler : log_stderr;
}

enum dmab_log_level dmab_log_get_level(void)
{
	return log_level;
}

int dmab_log_level_parse(const char *name, enum dmab_log_level *level)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*level = (enum dmab_log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

void _dmab_log(enum dmab_log_level level, const char *fmt, ...)
{
	if (level > log_level || level == DMAB_LOG_SILENT)
		return;
	int saved = errno;
	va_list args;
	va_start(args, fmt);
	log_handler(level, fmt, args);
	va_end(args);
	errno = saved;
}

const char *dmab_strerror(int err)
{
	return strerror(err < 0 ? -err : err);
}

uint64_t dmab_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t dmab_now_ms(void)
{
	return dmab_now_ns() / 1000000u;
}

bool dmab_ratelimit_allow(struct dmab_ratelimit *rl, uint32_t *suppressed)
{
	uint64_t now = dmab_now_ms();
	if (suppressed)
		*suppressed = 0;
	if (rl->window_start_ms == 0 || now - rl->window_start_ms >= rl->interval_ms) {
		if (suppressed)
			*suppressed = rl->suppressed;
		rl->window_start_ms = now;
		rl->printed = 0;
		rl->suppressed = 0;
	}
	if (rl->printed < rl->burst) {
		rl->printed++;
		return true;
	}
	rl->suppressed++;
	return false;
}
