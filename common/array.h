/* SPDX-License-Identifier: MIT */
#ifndef DMAB_COMMON_ARRAY_H
#define DMAB_COMMON_ARRAY_H

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

/**
 * Make room for one more element in a growable array of *cap elements of
 * elem octets each, n of them in use: doubles (from 8) when full.
 * 0 or -ENOMEM (the array is left as it was).
 */
static inline int dmab_array_reserve(void **array, size_t *cap, size_t n, size_t elem)
{
	if (n < *cap)
		return 0;
	size_t ncap = *cap ? *cap * 2 : 8;
	void *grown = realloc(*array, ncap * elem);
	if (!grown)
		return -ENOMEM;
	*array = grown;
	*cap = ncap;
	return 0;
}

#endif
