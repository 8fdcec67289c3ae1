// SPDX-License-Identifier: MIT
/*
 * Hostile guests: floods. With requests-per-second = 100 in [limits], a
 * guest keeps its ring full for seconds: thousands of requests a second.
 * - Valid requests (SET_CONFIG of its framebuffer: each a copy of the
 *   guest's pages on this host, and a commit): past the configured rate
 *   they are answered -XEN_EBUSY (server/connector.c, take_token), and
 *   after a second of quiet the guest is served again.
 * - Requests of an unknown operation, the same length of time.
 * - Notifications without requests, as fast as the guest can send them.
 * Meanwhile the well-behaved guest keeps its frame rate (frames counted by
 * the server, each flip's event in good time), the server's memory and
 * descriptors stay where they were, and its log names the flooding guest
 * no more often than the rate limit lets it (20 lines per 5 s).
 *
 * Without these defences: a guest sets the pace of the server's one thread
 * (no per-turn budget: the others' flips wait behind its ring; no request
 * rate: it makes the server do unbounded work, e.g. a DBUF_CREATE walking
 * and mapping a directory per request), and of its log (every refused
 * request a line: the disk fills, the journal drops other lines).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <drm_fourcc.h>

#include "tests/integration/evil.h"

#define RATE 100
#define LIMITS "[limits]\nrequests-per-second = 100\n"
#define FLOOD_MS 3000
#define RING_SLOTS 32u

struct counts {
	unsigned long sent, answered, ok, busy, other;
	uint64_t last_put_ms;           /* when the last request went on the ring */
	int32_t first_other;
	long rss_mid, rss_end;
	int fds_mid, fds_end;
};

/*
 * Keep the ring full of req (ids count up) for ms; count statuses: want
 * is the status of a request that got through the rate limit.
 */
static int flood(struct evil_env *env, struct dmab_client *c, const struct xendispl_req *req,
		int32_t want, uint32_t ms, struct counts *n)
{
	struct dmab_test_server *s = &env->server;
	uint64_t start = dmab_ts_now_ms(), end = start + ms;
	bool mid_done = false;
	memset(n, 0, sizeof(*n));
	while (dmab_ts_now_ms() < end || n->answered < n->sent) {
		bool more = false;
		while (dmab_ts_now_ms() < end && n->sent - n->answered < RING_SLOTS) {
			struct xendispl_req r = *req;
			r.id = (uint16_t)n->sent;
			if (dmab_frontend_put(c, 0, &r, false))
				break;
			n->sent++;
			n->last_put_ms = dmab_ts_now_ms();
			more = true;
		}
		if (more)
			dmab_frontend_notify(c, 0);
		struct xendispl_resp resp;
		int ret = dmab_frontend_get_response(c, 0, &resp, 3000);
		if (ret)
			return EVIL_CHECK(false, "no answer after %lu of %lu requests: %s",
				n->answered, n->sent, strerror(-ret));
		n->answered++;
		if (resp.status == want)
			n->ok++;
		else if (resp.status == -XEN_EBUSY)
			n->busy++;
		else if (n->other++ == 0)
			n->first_other = resp.status;
		if (!mid_done && dmab_ts_now_ms() >= start + ms / 2) {
			n->rss_mid = dmab_ts_rss_kb(s);
			n->fds_mid = dmab_ts_fd_count(s);
			mid_done = true;
		}
	}
	n->rss_end = dmab_ts_rss_kb(s);
	n->fds_end = dmab_ts_fd_count(s);
	return 0;
}

/* The good guest kept (half of) its 60 frames a second over since_ms (evil.h: slack). */
static int good_kept_up(struct evil_env *env, int64_t frames0, uint64_t since_ms,
		const char *what)
{
	int64_t frames = evil_good_frames(env) - frames0;
	uint64_t elapsed = dmab_ts_now_ms() - since_ms;
	int64_t want = (int64_t)(elapsed * env->good_hz / 1000 / 2 / env->slack);
	fprintf(stderr, "%s: the good guest had %lld frames in %llu ms, waited at most %u ms\n",
		what, (long long)frames, (unsigned long long)elapsed, evil_good_max_wait_ms(env));
	return EVIL_CHECK(frames >= want, "%s: the good guest had %lld frames in %llu ms "
		"(want %lld)", what, (long long)frames, (unsigned long long)elapsed, (long long)want) +
		EVIL_CHECK(evil_good_max_wait_ms(env) < 500 * env->slack, "%s: the good guest waited "
		"%u ms for a flip", what, evil_good_max_wait_ms(env));
}

static int bounded(const struct counts *n, const char *what)
{
	fprintf(stderr, "%s: %lu sent, %lu through, %lu busy, %lu other; rss %ld -> %ld KiB, "
		"%d -> %d descriptors\n", what, n->sent, n->ok, n->busy, n->other, n->rss_mid,
		n->rss_end, n->fds_mid, n->fds_end);
	return EVIL_CHECK(n->other == 0, "%s: %lu answers were %s", what, n->other,
		evil_status_name(n->first_other)) +
		EVIL_CHECK(n->rss_end - n->rss_mid < 8192, "%s: the server grew from %ld to %ld KiB",
			what, n->rss_mid, n->rss_end) +
		EVIL_CHECK(n->fds_end == n->fds_mid, "%s: the server went from %d to %d descriptors",
			what, n->fds_mid, n->fds_end);
}

static int floods(struct evil_env *env, void *data)
{
	struct dmab_client *c;
	if (evil_connect(env, false, 1, &c))
		return 100;
	unsigned int dom = dmab_client_domid(c);
	uint64_t t0 = dmab_ts_now_ms();
	struct dmab_client_buffer *b;
	if (dmab_client_buffer_create(c, 64, 32, DRM_FORMAT_XRGB8888, &b) ||
			dmab_client_set_config(c, 0, b, 0, 0))
		return 101;
	uint64_t fb = dmab_frontend_fb_cookie(b);
	struct xendispl_req r;
	struct counts n;
	int fails = 0;

	fprintf(stderr, "valid requests\n");
	evil_sleep_ms(1100); /* a full bucket: RATE requests */
	int64_t frames0 = evil_good_frames(env);
	uint64_t since = dmab_ts_now_ms();
	dmab_fe_req_set_config(&r, fb, 0, 0, 64, 32, 32);
	fails += flood(env, c, &r, 0, FLOOD_MS, &n);
	uint64_t flood_end = dmab_ts_now_ms();
	double secs = (double)(flood_end - since) / 1000;
	/*
	 * The bucket is empty: even good requests wait. It refills at RATE a
	 * second, so of a batch sent at once only as many get through as
	 * came in since the flood (one on a fast machine).
	 */
	struct xendispl_req batch[8];
	struct xendispl_resp resps[8];
	for (int i = 0; i < 8; i++)
		batch[i] = r;
	fails += evil_batch(c, 0, batch, 8, resps, 3000);
	/*
	 * Since the flood's last request was put (the server took it later):
	 * its answer's way back, and on Xen two requests to dom0's relay,
	 * count too.
	 */
	uint64_t refilled = 1 + (dmab_ts_now_ms() - n.last_put_ms) * RATE / 1000;
	int waited = 0;
	for (int i = 0; i < 8; i++) {
		waited += resps[i].status == -XEN_EBUSY;
		fails += EVIL_CHECK(resps[i].status == 0 || resps[i].status == -XEN_EBUSY,
			"SET_CONFIG right after the flood: %s", evil_status_name(resps[i].status));
	}
	fails += EVIL_CHECK((uint64_t)(8 - waited) <= refilled, "%d of 8 SET_CONFIG right after "
		"the flood got through, in a bucket refilled by %" PRIu64, 8 - waited, refilled);
	fails += bounded(&n, "valid requests");
	fails += good_kept_up(env, frames0, since, "valid requests");
	unsigned long allowed = (unsigned long)(RATE + RATE * secs) + 5;
	fails += EVIL_CHECK(n.sent >= 2000, "only %lu requests in %.1f s", n.sent, secs);
	fails += EVIL_CHECK(n.ok <= allowed && n.ok >= RATE / 2, "%lu requests through in "
		"%.1f s at %d a second", n.ok, secs, RATE);
	fails += EVIL_CHECK(n.busy + allowed >= n.sent, "only %lu of %lu answered -XEN_EBUSY",
		n.busy, n.sent);
	fails += EVIL_CHECK(evil_log_count(&env->server, "dom%u/vdispl0/0: SET_CONFIG refused: "
		"more than %d requests a second", dom, RATE) >= 1, "no log line for the flood");
	/* ... until the rate allows it again. */
	evil_sleep_ms(1100);
	fails += evil_expect(c, "SET_CONFIG a second later", &r, 0);
	dmab_fe_req_pg_flip(&r, fb);
	fails += evil_expect(c, "PG_FLIP a second later", &r, 0);

	fprintf(stderr, "unknown operations\n");
	frames0 = evil_good_frames(env);
	since = dmab_ts_now_ms();
	memset(&r, 0, sizeof(r));
	r.operation = 0xee;
	fails += flood(env, c, &r, -XEN_EOPNOTSUPP, FLOOD_MS / 2, &n);
	fails += bounded(&n, "unknown operations");
	fails += good_kept_up(env, frames0, since, "unknown operations");

	fprintf(stderr, "notifications\n");
	frames0 = evil_good_frames(env);
	since = dmab_ts_now_ms();
	unsigned long notified = 0;
	while (dmab_ts_now_ms() < since + FLOOD_MS / 2) {
		for (int i = 0; i < 1000; i++)
			fails += dmab_frontend_notify(c, 0) != 0;
		notified += 1000;
	}
	fprintf(stderr, "%lu notifications\n", notified);
	fails += good_kept_up(env, frames0, since, "notifications");
	evil_sleep_ms(1100);
	dmab_fe_req_pg_flip(&r, fb);
	fails += evil_expect(c, "PG_FLIP after the storm", &r, 0);

	fails += evil_log_bounded(&env->server, dom, dmab_ts_now_ms() - t0);
	return fails;
}

int main(void)
{
	struct evil_env env;
	if (evil_env_start(&env, LIMITS))
		return 1;
	evil_env_hostile(&env, "floods", floods, NULL, 0, 60000);
	return evil_env_finish(&env) ? 1 : 0;
}
