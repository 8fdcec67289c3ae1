// SPDX-License-Identifier: MIT
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "protocol/wire.h"
#include "tests/hv/harness.h"

int harness_count_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	if (!dir)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(dir)))
		if (e->d_name[0] != '.')
			n++;
	closedir(dir);
	return n - 1; /* the directory's own descriptor */
}

const char *harness_errname(long long err)
{
	static char buf[4][32];
	static unsigned int next;
	char *out = buf[next++ % 4];
	if (err == 0)
		return "0";
	long long e = err < 0 ? -err : err;
	const char *name = e < 4096 ? strerrorname_np((int)e) : NULL;
	if (name)
		snprintf(out, sizeof(buf[0]), "%s%s", err < 0 ? "-" : "", name);
	else
		snprintf(out, sizeof(buf[0]), "%lld", err);
	return out;
}

static uint32_t word(uint32_t seed, uint32_t page, uint32_t i)
{
	uint32_t x = seed * 2654435761u ^ page * 40503u ^ i * 2246822519u;
	return x ^ (x >> 13);
}

void harness_fill(void *addr, uint32_t count, uint32_t seed)
{
	uint32_t *w = addr;
	const uint32_t per_page = DMAB_XEN_PAGE_SIZE / sizeof(uint32_t);
	for (uint32_t p = 0; p < count; p++)
		for (uint32_t i = 0; i < per_page; i++)
			w[p * per_page + i] = word(seed, p, i);
}

long harness_check(const void *addr, uint32_t count, uint32_t seed,
		const uint32_t *page_of)
{
	const uint32_t *w = addr;
	const uint32_t per_page = DMAB_XEN_PAGE_SIZE / sizeof(uint32_t);
	for (uint32_t p = 0; p < count; p++) {
		uint32_t src = page_of ? page_of[p] : p;
		for (uint32_t i = 0; i < per_page; i++)
			if (w[p * per_page + i] != word(seed, src, i))
				return (long)((p * per_page + i) * sizeof(uint32_t));
	}
	return -1;
}

int harness_pump(struct dmab_hv *hv, int timeout_ms)
{
	struct pollfd pfd = { .fd = dmab_hv_get_fd(hv), .events = POLLIN };
	if (poll(&pfd, 1, timeout_ms) < 0 && errno != EINTR)
		return -errno;
	return dmab_hv_dispatch(hv);
}

bool harness_have_device(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}
