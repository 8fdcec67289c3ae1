/* SPDX-License-Identifier: MIT */
/*
 * Small helpers shared by the hv tests: descriptor counting, errno names,
 * test patterns in shared pages, and an event-loop step with a deadline.
 */
#ifndef DMAB_TESTS_HV_HARNESS_H
#define DMAB_TESTS_HV_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv/hv.h"

/** Exit status meson reads as "skipped". */
#define HARNESS_SKIP 77

/** Open descriptors of this process (entries of /proc/self/fd), or -1. */
int harness_count_fds(void);

/** "EACCES" for -EACCES (or EACCES), "0" for 0, the number otherwise. Static storage. */
const char *harness_errname(long long err);

/** Fill count pages at addr with a pattern derived from seed. */
void harness_fill(void *addr, uint32_t count, uint32_t seed);

/**
 * Check the pattern harness_fill() wrote; page_of[i] says which page of
 * the original buffer page i shows (NULL: page i). Returns -1 if all is
 * well, else the offset of the first wrong 32-bit word.
 */
long harness_check(const void *addr, uint32_t count, uint32_t seed,
		const uint32_t *page_of);

/**
 * Wait at most timeout_ms for dmab_hv_get_fd() to become readable, then
 * dispatch. Returns dispatch's result (0 also when nothing came).
 */
int harness_pump(struct dmab_hv *hv, int timeout_ms);

/** Whether a device node exists and opens with the given flags. */
bool harness_have_device(const char *path, int flags);

#endif
