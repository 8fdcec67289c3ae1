/* SPDX-License-Identifier: MIT */
/*
 * What the hostile-guest tests (test-hostile-*.c) share.
 *
 * Each test runs the real dmabridged with a well-behaved guest alongside
 * ("good0": it flips frames all the time, waiting for each one's event) and
 * hostile guests, each a process of its own and so a domain of its own,
 * which use the private hooks of client/frontend.h to put into their shared
 * pages what no honest frontend would. After each hostile guest:
 * - it exited as expected (its own checks passed, or it was killed);
 * - dmabridged is alive and answers on its control socket;
 * - the hostile device is gone, the log says so naming it, its warnings
 *   were rate-limited, and the server holds exactly the descriptors it
 *   held before the hostile guest came (nothing leaked);
 * - the good guest's frames kept arriving, none waited long for its
 *   event, and a screenshot shows its current frame, pixel for pixel.
 * At the end dmabridged must stop cleanly: under ASan+UBSan any report or
 * leak makes that fail.
 *
 * The same programs run as user-space frontends in a domU of the Xen tier
 * (tests/xen/check-hostile.sh), with DMAB_EVIL_XEN=1 in their environment:
 * dmabridged then runs in dom0 and is reached through the relay of
 * remote.h, the good guest is another domU whose xen-drm-front flips known
 * frames (xen-frames loop), and the hostile guests, processes of this
 * domU, use its vdispl devices (EVIL_XEN_DEVICES). The domain stays after
 * each hostile guest, so instead of its device going, the next frontend
 * of the device must be served (connect, then close) and the server must
 * then hold what it held before; the log is looked at from the hostile
 * guest's start on.
 */
#ifndef DMAB_TESTS_EVIL_H
#define DMAB_TESTS_EVIL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "client/frontend.h"
#include "client/request.h"
#include "tests/integration/harness.h"

/* The screen of every hostile test: good0 on top at 0,0, hostile ones at 400,0. */
#define EVIL_BASE_CONFIG \
	"[screen.main]\nwidth = 800\nheight = 300\n" \
	"[connector.good0]\nx = 0\ny = 0\nz = 10\n" \
	"[connector.evil0]\nx = 400\ny = 0\n"

#define EVIL_GOOD_WIDTH 160
#define EVIL_GOOD_HEIGHT 100
/* Hostile connectors. */
#define EVIL_WIDTH 320
#define EVIL_HEIGHT 200

/*
 * The vdispl devices of a hostile domU on Xen (its xl configuration, made
 * by check-hostile.sh): devid = 2 * be_alloc + (connectors - 1), with
 * connectors evil0 (and evil1) of EVIL_WIDTH x EVIL_HEIGHT.
 */
#define EVIL_XEN_DEVICES 4

/* The exit status of a guest that died of SIGKILL (see evil_env_hostile). */
#define EVIL_KILLED (128 + 9)

struct evil_good_shared;

struct evil_env {
	struct dmab_test_server server;
	pid_t good_pid;
	struct evil_good_shared *good;  /* shared with the good guest's process */
	unsigned int good_domid;
	char good_conn[32];             /* "domid/0/0", for statistics */
	int baseline_fds;
	int failures;
	bool xen;                       /* in a domU of the Xen tier (see above) */
	unsigned int good_hz;           /* the good guest's frames a second, unhindered */
	/*
	 * Timing limits are this many times looser: 1, or DMAB_EVIL_SLACK
	 * (the Xen tier, whose CPUs are emulated: four vCPUs of dom0 and two
	 * guests on two host cores, and every look at the server a XenStore
	 * round trip through dom0).
	 */
	unsigned int slack;
	uint64_t last_end_ms;           /* when the last hostile guest's checks ended */
};

/** A hostile guest: runs in its own process; returns its number of failures. */
typedef int (*evil_fn)(struct evil_env *env, void *data);

/**
 * Start dmabridged with EVIL_BASE_CONFIG plus config_extra (may be NULL),
 * then the good guest, and note the server's descriptors once it settled.
 * 0, or -1 when the environment could not be set up.
 */
int evil_env_start(struct evil_env *env, const char *config_extra);

/**
 * Run fn as a hostile guest and check everything the header comment lists.
 * want_status is the exit status expected of the guest process: 0 for a
 * guest whose checks passed, EVIL_KILLED for one that kills itself.
 * Returns the failures (also added to env->failures).
 */
int evil_env_hostile(struct evil_env *env, const char *name, evil_fn fn, void *data,
		int want_status, uint32_t timeout_ms);

/** Stop the good guest and the server; returns env->failures plus what that found. */
int evil_env_finish(struct evil_env *env);

/* ---- the good guest, seen from outside ---- */

/** Frames the server presented for the good guest (its statistics), -1 on error. */
int64_t evil_good_frames(struct evil_env *env);

/** The longest the good guest waited for a flip event so far, in ms. */
uint32_t evil_good_max_wait_ms(struct evil_env *env);

/** ... counted from now on: of the waits that begin after this returns. */
void evil_good_max_wait_reset(struct evil_env *env);

/**
 * Pause the good guest between frames, check that the connector and the
 * screen show its current frame exactly, and let it go on. Failures.
 */
int evil_good_check_screen(struct evil_env *env);

/* ---- in a hostile guest ---- */

/**
 * Connect as a new guest with a device of nconns connectors of
 * EVIL_WIDTH x EVIL_HEIGHT ("evil0", "evil1", ...). 0 or a negative errno.
 */
int evil_connect(struct evil_env *env, bool be_alloc, unsigned int nconns,
		struct dmab_client **client);

/** The device evil_connect() connected last (0 on the simulator; EVIL_XEN_DEVICES). */
unsigned int evil_devid(struct evil_env *env);

/** A fresh cookie no guest uses, never 0. */
uint64_t evil_cookie(void);

/** "-XEN_EINVAL" and so on (a static buffer for unknown values). */
const char *evil_status_name(int32_t status);

/* What evil_call() gives when no response came. */
#define EVIL_NO_ANSWER INT32_MIN

/**
 * Send req on ring index (the library sets its id), wait for its response
 * and check that the response echoes the id and operation and has every
 * reserved octet zero. The status, or EVIL_NO_ANSWER (reported on stderr).
 */
int32_t evil_call(struct dmab_client *client, unsigned int index, struct xendispl_req *req);

/** evil_call() on ring 0 and compare: 0 if the status is want, else 1 (reported). */
int evil_expect(struct dmab_client *client, const char *what, struct xendispl_req *req,
		int32_t want);

/**
 * Put n (at most 32) requests on ring index with ids 0xe000 + i, notify
 * once, and collect their responses into resps in request order, whatever
 * order they come in (deferred answers come later), at most timeout_ms.
 * Failures: a response missing, doubled or not echoing its request.
 */
int evil_batch(struct dmab_client *client, unsigned int index, struct xendispl_req *reqs,
		unsigned int n, struct xendispl_resp *resps, uint32_t timeout_ms);

/** Pages shared with the backend, with a page directory describing them. */
struct evil_pages {
	uint32_t npages;
	grant_ref_t *refs;
	void *data;
	uint32_t dir_pages;
	grant_ref_t *dir_refs;
	void *dir;                      /* dir_pages pages, filled in */
};

/**
 * Share size octets (writable, as a display buffer is) and a correct
 * directory for them. 0 or a negative errno.
 */
int evil_pages_share(struct dmab_client *client, uint32_t size, struct evil_pages *p);

/** Give the pages back (-EBUSY while the backend still maps them). */
int evil_pages_free(struct dmab_client *client, struct evil_pages *p);

/** The directory page i of p. */
struct xendispl_page_directory *evil_dir_page(void *dir, uint32_t i);

/** A valid DBUF_CREATE of width x height XRGB8888 over p (which must be large enough). */
void evil_req_dbuf(struct xendispl_req *req, uint64_t cookie, uint32_t width,
		uint32_t height, const struct evil_pages *p);

/* ---- the server, from anywhere ---- */

/**
 * The backend state dmabridged reports for guest domid's device 0
 * ("Connected", ...) and whether it is connected. 0, or -ENOENT when the
 * server lists no such guest.
 */
int evil_guest_state(struct dmab_test_server *s, unsigned int domid, char *state,
		size_t len, bool *connected);

/**
 * Wait until the server dropped guest domid (it wrote Closing and tore the
 * connection down: not Connected) or forgot it. Whether it did in time.
 */
bool evil_wait_dropped(struct dmab_test_server *s, unsigned int domid, uint32_t timeout_ms);

/** Lines of the server's log containing the printf-formatted needle. */
int evil_log_count(struct dmab_test_server *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/**
 * The log's warnings name guest domid no more often than the rate limit
 * allows over elapsed_ms (20 lines per 5 s, plus a few that are logged
 * once per connection). Failures.
 */
int evil_log_rate_limited(struct dmab_test_server *s, unsigned int domid, uint64_t elapsed_ms);

/** evil_log_rate_limited(), and at least one warning names the guest. Failures. */
int evil_log_bounded(struct dmab_test_server *s, unsigned int domid, uint64_t elapsed_ms);

/** A number from connector conn's statistics ("frames", ...), -1 if absent. */
int64_t evil_stat(struct dmab_test_server *s, const char *conn, const char *key);


void evil_sleep_ms(uint32_t ms);

/** Report a failed check on stderr and count it: fails += EVIL_CHECK(cond, fmt, ...). */
#define EVIL_CHECK(cond, ...) evil_check((cond), __FILE__, __LINE__, __VA_ARGS__)
int evil_check(bool ok, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
