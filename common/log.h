/* SPDX-License-Identifier: MIT */
#ifndef DMAB_COMMON_LOG_H
#define DMAB_COMMON_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

enum dmab_log_level {
	DMAB_LOG_SILENT = 0,
	DMAB_LOG_ERROR,
	DMAB_LOG_WARN,
	DMAB_LOG_INFO,
	DMAB_LOG_DEBUG,
};

typedef void (*dmab_log_handler_t)(enum dmab_log_level level,
		const char *fmt, va_list args);

/**
 * Set the most verbose level that is printed and where lines go.
 * handler may be NULL for the default (stderr, with a timestamp and level).
 */
void dmab_log_init(enum dmab_log_level level, dmab_log_handler_t handler);

enum dmab_log_level dmab_log_get_level(void);

/** Parse "error", "warn", "info", "debug" or "silent"; -EINVAL otherwise. */
int dmab_log_level_parse(const char *name, enum dmab_log_level *level);

void _dmab_log(enum dmab_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define dmab_log(level, fmt, ...) \
	_dmab_log(level, "[%s:%d] " fmt, __FILE__, __LINE__, ##__VA_ARGS__)

/** Like dmab_log, with ": <strerror(-err)>" appended; err is a negative errno. */
#define dmab_log_errno(level, err, fmt, ...) \
	_dmab_log(level, "[%s:%d] " fmt ": %s", __FILE__, __LINE__, \
		##__VA_ARGS__, dmab_strerror(err))

/** strerror() of a negative errno. */
const char *dmab_strerror(int err);

/**
 * Token bucket for log lines a guest can cause: at most burst lines, then one
 * per interval_ms. Zero-initialise, then set interval_ms and burst, and
 * parent when a line also needs room in a limit over many (all guests).
 */
struct dmab_ratelimit {
	uint32_t interval_ms;
	uint32_t burst;
	uint32_t printed;
	uint32_t suppressed;
	uint64_t window_start_ms;
	struct dmab_ratelimit *parent;  /* may be NULL */
};

/**
 * Whether the next line may be printed. When a window opens after lines were
 * suppressed, *suppressed (may be NULL) receives how many, so the caller can
 * say so once.
 */
bool dmab_ratelimit_allow(struct dmab_ratelimit *rl, uint32_t *suppressed);

/**
 * Rate limits that outlive what they limit, keyed by what an attacker
 * cannot renew cheaply (a guest's domid, a peer's uid): nclasses limits
 * per key, made from templates[class], for at most size keys. A new key
 * beyond that takes the place of the one used longest ago. Each class also
 * has one limit over all keys, made from all[class], the parent of the
 * per-key ones, so that many keys at once cannot flood either.
 */
struct dmab_ratelimit_table;

/** NULL when out of memory. templates and all are copied. */
struct dmab_ratelimit_table *dmab_ratelimit_table_create(unsigned int size,
		unsigned int nclasses, const struct dmab_ratelimit *templates,
		const struct dmab_ratelimit *all);

/** NULL is a no-op. Limits it handed out are gone with it. */
void dmab_ratelimit_table_destroy(struct dmab_ratelimit_table *table);

/**
 * The limit of class (below nclasses) for key, made when the key is new.
 * Owned by the table, valid until the next call.
 */
struct dmab_ratelimit *dmab_ratelimit_table_get(struct dmab_ratelimit_table *table,
		uint64_t key, unsigned int class);

/* The first line after a quiet spell says how many were held back before it. */
#define dmab_log_ratelimited(rl, level, fmt, ...) do { \
	uint32_t _dmab_dropped; \
	if (dmab_log_get_level() >= (level) && \
			dmab_ratelimit_allow((rl), &_dmab_dropped)) { \
		if (_dmab_dropped) \
			_dmab_log(level, "[%s:%d] " fmt " (after %u lines suppressed)", \
				__FILE__, __LINE__, ##__VA_ARGS__, _dmab_dropped); \
		else \
			_dmab_log(level, "[%s:%d] " fmt, __FILE__, __LINE__, ##__VA_ARGS__); \
	} \
} while (0)

/** Monotonic clock in milliseconds and nanoseconds. */
uint64_t dmab_now_ms(void);
uint64_t dmab_now_ns(void);

#endif
