// SPDX-License-Identifier: MIT
/* The guest's end of remote.h: requests through XenStore. */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/integration/remote.h"

#ifdef DMAB_HAVE_XEN
#include <xenstore.h>

struct dmab_ts_remote {
	struct xs_handle *xs;
	pid_t pid;                      /* the process xs belongs to */
	unsigned int seq;
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}


/*
 * A handle of this process's own, watching for answers: libxenstore's is
 * not for a forked child (its watch thread stayed in the parent).
 */
static struct xs_handle *handle(struct dmab_ts_remote *r)
{
	if (r->xs && r->pid == getpid())
		return r->xs;
	r->xs = xs_open(0);
	r->pid = getpid();
	r->seq = 0;
	if (r->xs && !xs_watch(r->xs, DMAB_REMOTE_DIR "/done", "done")) {
		xs_close(r->xs);
		r->xs = NULL;
	}
	return r->xs;
}

/* Until the watch fires (or 100 ms: a missed event costs no more). */
static void wait_answer(struct xs_handle *xs)
{
	struct pollfd p = { xs_fileno(xs), POLLIN, 0 };
	poll(&p, 1, 100);
	char **ev;
	while ((ev = xs_check_watch(xs)))
		free(ev);
}

int dmab_ts_remote_open(struct dmab_ts_remote **remote, uint32_t timeout_ms)
{
	struct dmab_ts_remote *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	if (!handle(r)) {
		int err = -errno;
		free(r);
		return err;
	}
	uint64_t deadline = now_ms() + timeout_ms;
	for (;;) {
		unsigned int len;
		char *v = xs_read(r->xs, XBT_NULL, DMAB_REMOTE_DIR "/ready", &len);
		if (v) {
			free(v);
			*remote = r;
			return 0;
		}
		if (now_ms() >= deadline) {
			xs_close(r->xs);
			free(r);
			return -ETIMEDOUT;
		}
		struct timespec ts = { 0, 100000000 };
		nanosleep(&ts, NULL);
	}
}

char *dmab_ts_remote_call(struct dmab_ts_remote *r, const char *op, const void *arg,
		size_t arglen, size_t *len)
{
	struct xs_handle *xs = handle(r);
	if (!xs)
		return NULL;
	char id[32];
	snprintf(id, sizeof(id), "%d.%u", (int)r->pid, ++r->seq);
	size_t head = strlen(id) + strlen(op) + 2;
	if (head + arglen > DMAB_REMOTE_REQ_MAX) {
		errno = E2BIG;
		return NULL;
	}
	char req[DMAB_REMOTE_REQ_MAX];
	snprintf(req, sizeof(req), "%s\n%s\n", id, op);
	if (arglen)
		memcpy(req + head, arg, arglen);
	if (!xs_write(xs, XBT_NULL, DMAB_REMOTE_DIR "/req", req, (unsigned int)(head + arglen)))
		return NULL;

	/* The relay gives up on nothing: a lost answer is a failed test, after a minute. */
	uint64_t start = now_ms();
	unsigned int chunks = 0;
	size_t total = 0;
	for (;;) {
		unsigned int n;
		char *done = xs_read(xs, XBT_NULL, DMAB_REMOTE_DIR "/done", &n);
		if (done) {
			char *nl = memchr(done, '\n', n);
			bool ours = nl && (size_t)(nl - done) == strlen(id) &&
				!memcmp(done, id, strlen(id)) &&
				sscanf(nl + 1, "%u\n%zu", &chunks, &total) == 2;
			free(done);
			if (ours)
				break;
		}
		if (now_ms() - start > 60000) {
			fprintf(stderr, "remote: no answer to %s in 60 s\n", op);
			errno = ETIMEDOUT;
			return NULL;
		}
		wait_answer(xs);
	}
	char *answer = malloc(total + 1);
	if (!answer)
		return NULL;
	size_t got = 0;
	for (unsigned int i = 0; i < chunks; i++) {
		char path[64];
		snprintf(path, sizeof(path), DMAB_REMOTE_DIR "/ans/%u", i);
		unsigned int n;
		char *part = xs_read(xs, XBT_NULL, path, &n);
		if (!part || got + n > total) {
			free(part);
			free(answer);
			errno = EPROTO;
			return NULL;
		}
		memcpy(answer + got, part, n);
		got += n;
		free(part);
	}
	xs_rm(xs, XBT_NULL, DMAB_REMOTE_DIR "/ans");
	if (got != total) {
		free(answer);
		errno = EPROTO;
		return NULL;
	}
	answer[total] = '\0';
	if (len)
		*len = total;
	return answer;
}

#else

int dmab_ts_remote_open(struct dmab_ts_remote **remote, uint32_t timeout_ms)
{
	return -EOPNOTSUPP;
}

char *dmab_ts_remote_call(struct dmab_ts_remote *r, const char *op, const void *arg,
		size_t arglen, size_t *len)
{
	errno = EOPNOTSUPP;
	return NULL;
}

#endif

long long dmab_ts_remote_number(struct dmab_ts_remote *r, const char *op, const char *arg)
{
	char *a = dmab_ts_remote_call(r, op, arg, arg ? strlen(arg) : 0, NULL);
	if (!a)
		return -1;
	char *end;
	long long n = strtoll(a, &end, 10);
	if (end == a)
		n = -1;
	free(a);
	return n;
}
