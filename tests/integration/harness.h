/* SPDX-License-Identifier: MIT */
/*
 * Integration tests run the real dmabridged (the binary meson built, named
 * by $DMABRIDGED) on the simulator, in a private directory, and real guest
 * processes using libdmabridge-client. What the guests show is checked on
 * the server's screenshots, pixel by pixel.
 */
#ifndef DMAB_TESTS_HARNESS_H
#define DMAB_TESTS_HARNESS_H

#include <json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "dmabridge/client.h"

/*
 * Checks in a test file: CHECK counts a failure in the file's own
 * `failures` and goes on; GUEST_CHECK, in a guest process, returns 1.
 */
#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
		failures++; \
	} \
} while (0)

#define GUEST_CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "guest %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
		return 1; \
	} \
} while (0)

/** CLOCK_MONOTONIC in milliseconds. */
uint64_t dmab_ts_now_ms(void);

struct dmab_ts_remote;

struct dmab_test_server {
	pid_t pid;
	char dir[64];                   /* private run directory */
	char sim_socket[108];
	char control_socket[108];
	char config[128];
	char log[128];
	unsigned int log_from;          /* log lines before it are not counted */
	/*
	 * The Xen tier: dmabridged runs in dom0, and the functions below that
	 * look at it ask the relay of remote.h (dmab_ts_attach_remote()).
	 */
	struct dmab_ts_remote *remote;
};

/**
 * Start dmabridged with config_text as its configuration file (NULL: none)
 * and extra arguments (NULL-terminated, may be NULL); wait until its control
 * socket answers. 0 or -errno; the server's log is in s->log.
 */
int dmab_ts_start(struct dmab_test_server *s, const char *config_text,
		const char *const *extra_args);

/**
 * Stop it with SIGTERM and wait (at most 10 s, then SIGKILL). Returns its
 * exit status (0: orderly; under ASan, leaks make it non-zero), or -1 if
 * it died of a signal. Removes the directory.
 */
int dmab_ts_stop(struct dmab_test_server *s);

/**
 * In a domU of the Xen tier: reach the dmabridged of dom0 through its
 * relay (remote.h) instead of starting one. 0 or -errno.
 */
int dmab_ts_attach_remote(struct dmab_test_server *s, uint32_t timeout_ms);

/** Whether the server process is still running. */
bool dmab_ts_alive(const struct dmab_test_server *s);

/** Number of open fds of the server process, -1 on error. */
int dmab_ts_fd_count(const struct dmab_test_server *s);

/**
 * Number of the server's memory mappings of files and shared memory (the
 * lines of /proc/<pid>/maps naming a file, memfd or dma-buf: not the
 * anonymous ones malloc makes and keeps as it likes), -1 on error.
 */
int dmab_ts_shared_map_count(const struct dmab_test_server *s);

/** Print the server's log to stderr (for a failing test). */
void dmab_ts_dump_log(const struct dmab_test_server *s);

/** Count lines of the server's log (from log_from on) containing needle. */
int dmab_ts_log_count(const struct dmab_test_server *s, const char *needle);

/** Count lines of the server's log (from log_from on) containing all n needles. */
int dmab_ts_log_count_all(const struct dmab_test_server *s, const char *const *needles,
		unsigned int n);

/** Count only what the log says from now on (sets log_from). */
void dmab_ts_log_mark(struct dmab_test_server *s);

/** The server's resident memory in KiB, -1 on error. */
long dmab_ts_rss_kb(const struct dmab_test_server *s);

/**
 * One control request (a JSON text) with an optional descriptor (-1 for
 * none); the answer (json_object_put() it), NULL if none came.
 */
json_object *dmab_ts_ctl(struct dmab_test_server *s, const char *request, int fd);

/**
 * A screenshot as 8-bit RGBA rows (malloc'd, *width * 4 octets each).
 * target is "screen:NAME" or "connector:SELECTOR". 0 or -errno.
 */
int dmab_ts_screenshot(struct dmab_test_server *s, const char *target,
		uint8_t **rgba, uint32_t *width, uint32_t *height);

/** A PNG file as 8-bit RGBA rows, like dmab_ts_screenshot(). 0 or -errno. */
int dmab_ts_png_read(const char *path, uint8_t **rgba, uint32_t *width, uint32_t *height);

/**
 * The DRM card of driver ("vkms"), by the driver's name: card numbers
 * follow probe order. Its path ("/dev/dri/card1") in path; whether found.
 */
bool dmab_ts_find_card(const char *driver, char *path, size_t len);

/** Poll until pred(data) is true or timeout_ms passes; whether it became true. */
bool dmab_ts_wait(bool (*pred)(void *data), void *data, uint32_t timeout_ms);

/** How many guest devices dmab_ts_ctl(status) lists, -1 on error. */
int dmab_ts_guest_count(struct dmab_test_server *s);

/** The stats object of connector "domid/devid/index", NULL if absent (put it). */
json_object *dmab_ts_connector_stats(struct dmab_test_server *s, const char *connector);

/** Client options for a simulated guest of this server. */
void dmab_ts_client_options(const struct dmab_test_server *s,
		struct dmab_client_options *options);

/**
 * Run fn(data) in a child process (a guest domain of its own); returns the
 * pid. The child exits with fn's return value.
 */
pid_t dmab_ts_guest(int (*fn)(void *data), void *data);

/** Wait for a guest (at most timeout_ms, then SIGKILL); its exit status or -1. */
int dmab_ts_guest_wait(pid_t pid, uint32_t timeout_ms);

/**
 * A deterministic picture for frame f, width x height, XRGB8888: the
 * pixel at x, y. Tests draw it and check it back from screenshots.
 */
uint32_t dmab_ts_pattern(uint32_t f, uint32_t x, uint32_t y);

/** Fill an XRGB8888 buffer (stride octets per row) with frame f of the pattern. */
void dmab_ts_fill(void *data, uint32_t stride, uint32_t width, uint32_t height, uint32_t f);

/**
 * Compare a region of an RGBA screenshot with frame f of the pattern drawn
 * at (x0, y0): returns the number of pixels that differ (0: exact), and
 * reports the first one on stderr.
 */
uint64_t dmab_ts_check(const uint8_t *rgba, uint32_t shot_width, uint32_t x0, uint32_t y0,
		uint32_t width, uint32_t height, uint32_t f);

/**
 * Like dmab_ts_check(), for the pictures of dmab_ts_fill_format(): the
 * region must show dmab_ts_format_expect() of frame f in fourcc, exactly
 * (YUYV: each channel within 3). Alpha is compared too when alpha is true
 * (a connector's own screenshot keeps it; a composed screen does not).
 */
uint64_t dmab_ts_check_format(const uint8_t *rgba, uint32_t shot_width, uint32_t x0,
		uint32_t y0, uint32_t width, uint32_t height, uint32_t fourcc, uint32_t f,
		bool alpha);

/** Pixels of a region that are not opaque black (0: all black). */
uint64_t dmab_ts_check_black(const uint8_t *rgba, uint32_t shot_width, uint32_t x0,
		uint32_t y0, uint32_t width, uint32_t height);

/**
 * A picture for every format dmabridge takes: frame f of it drawn into
 * width x height pixels of fourcc, rows stride octets apart (rows packed
 * as Linux packs them are fine: nothing is written past width). Bits a
 * format ignores (the X of XRGB) are set to junk, so a display that reads
 * them shows it.
 */
void dmab_ts_fill_format(void *data, uint32_t stride, uint32_t width, uint32_t height,
		uint32_t fourcc, uint32_t f);

/**
 * What the display should show for pixel x, y of that picture, as
 * 0xAARRGGBB, worked out here from the format's definition and not from
 * the server's code: n-bit channels widened to 8 by repeating their bits,
 * X formats opaque, YUYV with ITU-R BT.601 limited range.
 */
uint32_t dmab_ts_format_expect(uint32_t fourcc, uint32_t f, uint32_t x, uint32_t y);

/**
 * Take screenshots of target until check() finds nothing wrong (0) or
 * timeout_ms passes: for what has no completion event (SET_CONFIG, a
 * connector turned off), which shows at the connector's next refresh.
 * check() reports what is wrong on stderr only on the last attempt.
 * Returns the last check()'s result, or UINT64_MAX without a screenshot.
 */
uint64_t dmab_ts_shot_until(struct dmab_test_server *s, const char *target,
		uint64_t (*check)(const uint8_t *rgba, uint32_t width, uint32_t height, void *data),
		void *data, uint32_t timeout_ms);

/** Wait until the server has expect fds open; the last count (-1 on error). */
int dmab_ts_fd_settle(const struct dmab_test_server *s, int expect, uint32_t timeout_ms);

/** Guest device domid/devid as dmab_ts_ctl(status) shows it (put it), NULL if absent. */
json_object *dmab_ts_guest_status(struct dmab_test_server *s, unsigned int domid,
		unsigned int devid);

/**
 * Guest side: dispatch client until *flag is true, at most timeout_ms.
 * 0, -ETIMEDOUT, or what dmab_client_dispatch() returned (-ENOTCONN).
 */
int dmab_ts_dispatch_until(struct dmab_client *client, const bool *flag, uint32_t timeout_ms);

/*
 * Steps between the test and a guest process: the guest says it reached a
 * step (with a value, e.g. its domid) and waits for the test's go (with a
 * command), so that the test looks at the screen while the guest holds
 * still. Open before dmab_ts_guest(), then dmab_ts_sync_parent() in the
 * test, so that a guest that dies is seen at once (-EPIPE), not at the
 * timeout.
 */
struct dmab_ts_sync {
	int up[2];              /* guest -> test */
	int down[2];            /* test -> guest */
};

int dmab_ts_sync_open(struct dmab_ts_sync *sync);
/** In the test, after forking the guest: drop the guest's ends. */
void dmab_ts_sync_parent(struct dmab_ts_sync *sync);
void dmab_ts_sync_close(struct dmab_ts_sync *sync);

/** Guest: report step and value, then wait for the go; 0 with *cmd (may be NULL), or -errno. */
int dmab_ts_sync_reach(struct dmab_ts_sync *sync, uint32_t step, uint64_t value,
		uint32_t *cmd, uint32_t timeout_ms);

/** Test: the next step a guest reached; 0, -ETIMEDOUT, or -EPIPE (the guest is gone). */
int dmab_ts_sync_wait(struct dmab_ts_sync *sync, uint32_t *step, uint64_t *value,
		uint32_t timeout_ms);

/**
 * Guest: whether the test sent a go without waiting for it (for a guest
 * that runs until told to stop); *cmd (may be NULL) is its command.
 */
bool dmab_ts_sync_poll(struct dmab_ts_sync *sync, uint32_t *cmd);

/** Test: let the guest go on with cmd. 0 or -errno. */
int dmab_ts_sync_go(struct dmab_ts_sync *sync, uint32_t cmd);

#endif
