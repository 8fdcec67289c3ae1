// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
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
	/* Held back by the parent counts here, where the next line says so. */
	if (rl->printed < rl->burst && (!rl->parent || dmab_ratelimit_allow(rl->parent, NULL))) {
		rl->printed++;
		return true;
	}
	rl->suppressed++;
	return false;
}

struct table_entry {
	uint64_t key;
	uint64_t used;                  /* the table's clock when last asked for */
	bool set;
};

struct dmab_ratelimit_table {
	unsigned int size, nclasses;
	uint64_t clock;
	struct dmab_ratelimit *templates;       /* [nclasses] */
	struct dmab_ratelimit *all;             /* [nclasses] */
	struct table_entry *entries;            /* [size] */
	struct dmab_ratelimit *limits;          /* [size * nclasses] */
};

struct dmab_ratelimit_table *dmab_ratelimit_table_create(unsigned int size,
		unsigned int nclasses, const struct dmab_ratelimit *templates,
		const struct dmab_ratelimit *all)
{
	struct dmab_ratelimit_table *t = calloc(1, sizeof(*t));
	if (!t || size == 0 || nclasses == 0)
		goto err;
	t->size = size;
	t->nclasses = nclasses;
	t->templates = calloc(nclasses, sizeof(*t->templates));
	t->all = calloc(nclasses, sizeof(*t->all));
	t->entries = calloc(size, sizeof(*t->entries));
	t->limits = calloc((size_t)size * nclasses, sizeof(*t->limits));
	if (!t->templates || !t->all || !t->entries || !t->limits)
		goto err;
	for (unsigned int c = 0; c < nclasses; c++) {
		t->all[c] = (struct dmab_ratelimit){
			.interval_ms = all[c].interval_ms, .burst = all[c].burst,
		};
		t->templates[c] = (struct dmab_ratelimit){
			.interval_ms = templates[c].interval_ms, .burst = templates[c].burst,
			.parent = &t->all[c],
		};
	}
	return t;
err:
	dmab_ratelimit_table_destroy(t);
	return NULL;
}

void dmab_ratelimit_table_destroy(struct dmab_ratelimit_table *t)
{
	if (!t)
		return;
	free(t->templates);
	free(t->all);
	free(t->entries);
	free(t->limits);
	free(t);
}

struct dmab_ratelimit *dmab_ratelimit_table_get(struct dmab_ratelimit_table *t,
		uint64_t key, unsigned int class)
{
	unsigned int found = 0;
	bool hit = false;
	for (unsigned int i = 0; i < t->size && !hit; i++) {
		const struct table_entry *e = &t->entries[i];
		if (e->set && e->key == key) {
			found = i;
			hit = true;
		} else if (!e->set || (t->entries[found].set && e->used < t->entries[found].used)) {
			found = i;
		}
	}
	struct table_entry *e = &t->entries[found];
	struct dmab_ratelimit *limits = &t->limits[(size_t)found * t->nclasses];
	if (!hit) {
		*e = (struct table_entry){ .key = key, .set = true };
		memcpy(limits, t->templates, t->nclasses * sizeof(*limits));
	}
	e->used = ++t->clock;
	return &limits[class < t->nclasses ? class : 0];
}
