// SPDX-License-Identifier: MIT
/*
 * Finding devices and letting them go, against guests that play with
 * their side of the store:
 * - a guest removes its own frontend directory and stays: its device goes
 *   once, is not made again, and the server falls quiet (no loop of its
 *   own writes waking it up);
 * - guests leave, in order and killed: each device goes once ("device
 *   removed" once, never "new device" again), the toolstack's teardown
 *   finds it Closed at once, and no stale backend node is written;
 * - a guest flaps its xenbus state as fast as it can: the lines naming it
 *   stay within the rate limits over the whole run, however many times
 *   its device comes and goes, and the server keeps answering;
 * - a process reconnects to the simulator's socket thousands of times with
 *   a malformed message each time: the simulator's lines stay bounded too.
 *
 *   test-discovery [NAME]...   (no argument runs them all)
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <drm_fourcc.h>

#include "client/frontend.h"
#include "hv/sim/sim.h"
#include "hv/sim/wire.h"
#include "tests/integration/harness.h"

#define STEP_MS 20000
#define GONE_MS 5000
#define CONN_W 160
#define CONN_H 100

/*
 * What the server may log about one guest per 5 s window (server/frontend.c):
 * 20 warnings, 20 lines of its devices coming and going, 100 debug lines;
 * and the simulator per user of its socket (hv/sim/host.c): 20 warnings,
 * 20 lines of connections, and 5 about its socket that name nobody.
 */
#define GUEST_LINES_PER_WINDOW (20 + 20 + 100)
#define SIM_LINES_PER_WINDOW (20 + 20 + 5)
#define WINDOW_MS 5000

static int failures;

static const char config[] = "[screen.main]\nwidth = 640\nheight = 480\n";

/* ---- the server, seen from outside ---- */

/* user + system time of the server so far, in clock ticks. */
static long cpu_ticks(const struct dmab_test_server *s)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", s->pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* After the command name, which may hold spaces: fields 3 onwards. */
	char *p = strrchr(buf, ')');
	unsigned long utime, stime;
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
			&utime, &stime) != 2)
		return -1;
	return (long)(utime + stime);
}

__attribute__((format(printf, 2, 3)))
static int log_lines(const struct dmab_test_server *s, const char *fmt, ...)
{
	char needle[128];
	va_list args;
	va_start(args, fmt);
	vsnprintf(needle, sizeof(needle), fmt, args);
	va_end(args);
	return dmab_ts_log_count(s, needle);
}

static void sleep_ms(uint32_t ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

/* The server's descriptors once nothing is in flight. */
static int fd_baseline(const struct dmab_test_server *s)
{
	int n = dmab_ts_fd_count(s);
	for (int same = 0, i = 0; same < 10 && i < 500; i++) {
		sleep_ms(10);
		int m = dmab_ts_fd_count(s);
		same = m == n ? same + 1 : 0;
		n = m;
	}
	return n;
}

/* Until the log says the device of guest domid was removed. */
static bool wait_removed(const struct dmab_test_server *s, unsigned int domid,
		uint32_t timeout_ms)
{
	uint64_t deadline = dmab_ts_now_ms() + timeout_ms;
	while (log_lines(s, "dom%u/vdispl0: device removed", domid) < 1) {
		if (dmab_ts_now_ms() >= deadline)
			return false;
		sleep_ms(10);
	}
	return true;
}

/* No guest left, its descriptors and mappings gone, nothing stale written. */
static void expect_clean(struct dmab_test_server *s, int baseline, const char *what)
{
	uint64_t deadline = dmab_ts_now_ms() + GONE_MS;
	while (dmab_ts_guest_count(s) != 0 && dmab_ts_now_ms() < deadline)
		sleep_ms(10);
	CHECK(dmab_ts_guest_count(s) == 0);
	/* The simulator frees a dead domain once its devices are removed: Closed at once. */
	int fds = dmab_ts_fd_settle(s, baseline, GONE_MS);
	if (fds != baseline)
		fprintf(stderr, "%s: dmabridged has %d descriptors, %d before\n", what, fds, baseline);
	CHECK(fds == baseline);
	CHECK(dmab_ts_shared_map_count(s) == 0);
	CHECK(dmab_ts_log_count(s, "a stale node") == 0);
	CHECK(dmab_ts_log_count(s, "did not close vdispl device") == 0);
	CHECK(dmab_ts_alive(s));
}

static bool start(struct dmab_test_server *s)
{
	if (dmab_ts_start(s, config, NULL)) {
		failures++;
		return false;
	}
	return true;
}

/* Stop the server; its log goes to stderr when the test failed since failures_at. */
static void stop(struct dmab_test_server *s, int failures_at)
{
	if (failures != failures_at)
		dmab_ts_dump_log(s);
	int status = dmab_ts_stop(s);
	if (status != 0)
		fprintf(stderr, "dmabridged exited with %d\n", status);
	CHECK(status == 0);
}

/* ---- guests ---- */

struct guest {
	struct dmab_test_server *server;
	struct dmab_ts_sync sync;
	bool orderly;                   /* teardown: dmab_client_destroy() first */
	uint32_t run_ms;                /* flapping: for how long */
};

static bool flipped;

static void handle_flip(void *data, unsigned int index, struct dmab_client_buffer *buffer)
{
	flipped = true;
}

static int guest_connect(struct guest *g, struct dmab_client **client)
{
	static const struct dmab_client_connector_spec spec = { CONN_W, CONN_H, NULL };
	struct dmab_client_options options;
	dmab_ts_client_options(g->server, &options);
	options.create_device = true;
	options.connectors = &spec;
	options.connector_count = 1;
	return dmab_client_connect(&options, client);
}

/* One frame on screen, as a guest in use has. */
static int show_frame(struct dmab_client *client)
{
	struct dmab_client_buffer *b;
	int ret = dmab_client_buffer_create(client, CONN_W, CONN_H, DRM_FORMAT_XRGB8888, &b);
	if (ret)
		return ret;
	dmab_ts_fill(dmab_client_buffer_data(b), dmab_client_buffer_stride(b), CONN_W, CONN_H, 1);
	dmab_client_set_flip_handler(client, handle_flip, NULL);
	ret = dmab_client_set_config(client, 0, b, 0, 0);
	flipped = false;
	if (!ret)
		ret = dmab_client_flip(client, 0, b);
	if (!ret)
		ret = dmab_ts_dispatch_until(client, &flipped, 3000);
	return ret;
}

static pid_t guest_start(struct guest *g, int (*fn)(void *))
{
	if (dmab_ts_sync_open(&g->sync)) {
		failures++;
		return -1;
	}
	pid_t pid = dmab_ts_guest(fn, g);
	dmab_ts_sync_parent(&g->sync);
	return pid;
}

static void guest_finish(struct guest *g, pid_t pid, int want)
{
	int status = dmab_ts_guest_wait(pid, STEP_MS);
	if (status != want)
		fprintf(stderr, "the guest exited with %d, expected %d\n", status, want);
	CHECK(status == want);
	dmab_ts_sync_close(&g->sync);
}

/* ---- a guest removes its own frontend directory and stays ---- */

static int guest_remove_frontend(void *data)
{
	struct guest *g = data;
	struct dmab_client *client;
	GUEST_CHECK(guest_connect(g, &client) == 0);
	GUEST_CHECK(show_frame(client) == 0);
	unsigned int domid = dmab_client_domid(client);
	GUEST_CHECK(dmab_ts_sync_reach(&g->sync, 1, domid, NULL, STEP_MS) == 0);

	char path[64];
	snprintf(path, sizeof(path), "/local/domain/%u/device/vdispl/0", domid);
	GUEST_CHECK(dmab_hv_store_remove(dmab_frontend_hv(client), DMAB_HV_NO_TX, path) == 0);
	GUEST_CHECK(dmab_ts_sync_reach(&g->sync, 2, domid, NULL, 0) != -EPIPE);
	/*
	 * Still here, until told to go: reading the simulator's messages, not
	 * acting on them (the library would write its state back).
	 */
	struct dmab_hv *hv = dmab_frontend_hv(client);
	while (!dmab_ts_sync_poll(&g->sync, NULL)) {
		struct pollfd p = { dmab_hv_get_fd(hv), POLLIN, 0 };
		poll(&p, 1, 20);
		GUEST_CHECK(dmab_hv_dispatch(hv) == 0);
	}
	return 0;
}

static void test_frontend_gone(void)
{
	fprintf(stderr, "== frontend-gone\n");
	struct dmab_test_server s;
	int failures_at = failures;
	if (!start(&s))
		return;
	int baseline = fd_baseline(&s);
	struct guest g = { .server = &s };
	pid_t pid = guest_start(&g, guest_remove_frontend);
	uint32_t step;
	uint64_t domid = 0;
	if (dmab_ts_sync_wait(&g.sync, &step, &domid, STEP_MS) || step != 1) {
		failures++;
		goto out;
	}
	dmab_ts_sync_go(&g.sync, 0);
	CHECK(dmab_ts_sync_wait(&g.sync, &step, &domid, STEP_MS) == 0 && step == 2);
	CHECK(wait_removed(&s, (unsigned int)domid, GONE_MS));

	/* Gone, and quiet: nothing wakes the server up any more. */
	sleep_ms(200);
	int lines = dmab_ts_log_count(&s, "");
	long ticks = cpu_ticks(&s);
	sleep_ms(1000);
	int more_lines = dmab_ts_log_count(&s, "") - lines;
	long busy = cpu_ticks(&s) - ticks;
	fprintf(stderr, "after the removal: %d log lines and %ld ticks of CPU in 1 s\n",
		more_lines, busy);
	CHECK(more_lines <= 5);
	CHECK(ticks >= 0 && busy <= 10);
	CHECK(log_lines(&s, "dom%u/vdispl0: device removed", (unsigned int)domid) == 1);
	CHECK(log_lines(&s, "dom%u/vdispl0: new device", (unsigned int)domid) == 1);
	CHECK(dmab_ts_guest_count(&s) == 0);

	dmab_ts_sync_go(&g.sync, 0);
	guest_finish(&g, pid, 0);
	pid = -1;
	CHECK(log_lines(&s, "dom%u/vdispl0: new device", (unsigned int)domid) == 1);
	expect_clean(&s, baseline, "frontend-gone");
out:
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		dmab_ts_sync_close(&g.sync);
	}
	stop(&s, failures_at);
}

/* ---- guests leave: one teardown, one removal ---- */

static int guest_leave(void *data)
{
	struct guest *g = data;
	struct dmab_client *client;
	GUEST_CHECK(guest_connect(g, &client) == 0);
	GUEST_CHECK(show_frame(client) == 0);
	GUEST_CHECK(dmab_ts_sync_reach(&g->sync, 1, dmab_client_domid(client), NULL,
		STEP_MS) == 0);
	if (g->orderly) {
		dmab_client_destroy(client);
		return 0;
	}
	/* Until SIGKILL. */
	for (;;)
		dmab_frontend_pump(client, 100);
}

static void test_teardown(void)
{
	fprintf(stderr, "== teardown\n");
	struct dmab_test_server s;
	int failures_at = failures;
	if (!start(&s))
		return;
	int baseline = fd_baseline(&s);
	for (int i = 0; i < 6; i++) {
		struct guest g = { .server = &s, .orderly = i % 2 == 0 };
		pid_t pid = guest_start(&g, guest_leave);
		uint32_t step;
		uint64_t domid = 0;
		if (dmab_ts_sync_wait(&g.sync, &step, &domid, STEP_MS) || step != 1) {
			failures++;
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			dmab_ts_sync_close(&g.sync);
			break;
		}
		if (g.orderly) {
			dmab_ts_sync_go(&g.sync, 0);
			guest_finish(&g, pid, 0);
		} else {
			kill(pid, SIGKILL);
			guest_finish(&g, pid, -1);
		}
		CHECK(wait_removed(&s, (unsigned int)domid, GONE_MS));
		expect_clean(&s, baseline, g.orderly ? "orderly" : "killed");
		/* Whatever came after, the device went once and never came back. */
		sleep_ms(100);
		int removed = log_lines(&s, "dom%u/vdispl0: device removed", (unsigned int)domid);
		int made = log_lines(&s, "dom%u/vdispl0: new device", (unsigned int)domid);
		if (removed != 1 || made != 1)
			fprintf(stderr, "dom%u: %d times \"new device\", %d times \"device removed\"\n",
				(unsigned int)domid, made, removed);
		CHECK(removed == 1 && made == 1);
	}
	stop(&s, failures_at);
}

/* ---- a guest flaps its xenbus state ---- */

static int guest_flap(void *data)
{
	struct guest *g = data;
	struct dmab_client *client;
	GUEST_CHECK(guest_connect(g, &client) == 0);
	struct dmab_hv *hv = dmab_frontend_hv(client);
	unsigned int domid = dmab_client_domid(client);
	char state[64];
	snprintf(state, sizeof(state), "/local/domain/%u/device/vdispl/0/state", domid);
	GUEST_CHECK(dmab_ts_sync_reach(&g->sync, 1, domid, NULL, STEP_MS) == 0);

	/*
	 * Closing, Initialising, Initialised, Connected, over and over: the
	 * server disconnects and connects the rings (still published) each
	 * time.
	 */
	static const char *const values[] = { "5", "1", "3", "4" };
	uint64_t end = dmab_ts_now_ms() + g->run_ms;
	unsigned long writes = 0;
	for (size_t i = 0; dmab_ts_now_ms() < end; i++) {
		GUEST_CHECK(dmab_hv_store_write(hv, DMAB_HV_NO_TX, state, values[i % 4]) == 0);
		writes++;
		/* The library's watch events: read, not acted on. */
		GUEST_CHECK(dmab_hv_dispatch(hv) == 0);
		sleep_ms(1);
	}
	/* Last, the state node goes, and the device with it. */
	GUEST_CHECK(dmab_hv_store_remove(hv, DMAB_HV_NO_TX, state) == 0);
	fprintf(stderr, "guest dom%u: %lu state changes in %u ms\n", domid, writes, g->run_ms);
	return 0;
}

static void test_flapping(void)
{
	fprintf(stderr, "== flapping\n");
	struct dmab_test_server s;
	int failures_at = failures;
	if (!start(&s))
		return;
	int baseline = fd_baseline(&s);
	struct guest g = { .server = &s, .run_ms = 3000 };
	uint64_t t0 = dmab_ts_now_ms();
	pid_t pid = guest_start(&g, guest_flap);
	uint32_t step;
	uint64_t domid = 0;
	if (dmab_ts_sync_wait(&g.sync, &step, &domid, STEP_MS) || step != 1) {
		failures++;
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		dmab_ts_sync_close(&g.sync);
		stop(&s, failures_at);
		return;
	}
	dmab_ts_sync_go(&g.sync, 0);

	/* The control socket answers all along. */
	uint64_t worst = 0;
	while (waitpid(pid, NULL, WNOHANG) == 0 && dmab_ts_now_ms() - t0 < STEP_MS) {
		uint64_t a = dmab_ts_now_ms();
		json_object *r = dmab_ts_ctl(&s, "{\"cmd\":\"status\"}", -1);
		uint64_t took = dmab_ts_now_ms() - a;
		CHECK(r != NULL);
		if (r)
			json_object_put(r);
		worst = took > worst ? took : worst;
		sleep_ms(50);
	}
	dmab_ts_sync_close(&g.sync);
	CHECK(dmab_ts_alive(&s));
	expect_clean(&s, baseline, "flapping");
	uint64_t elapsed = dmab_ts_now_ms() - t0;

	int lines = log_lines(&s, "dom%u/vdispl", (unsigned int)domid);
	int made = log_lines(&s, "dom%u/vdispl0: new device", (unsigned int)domid);
	int bound = (int)(GUEST_LINES_PER_WINDOW * (elapsed / WINDOW_MS + 2));
	fprintf(stderr, "dom%u: %d lines in %" PRIu64 " ms (at most %d), device made %d times, "
		"control answered within %" PRIu64 " ms\n", (unsigned int)domid, lines, elapsed,
		bound, made, worst);
	CHECK(lines <= bound);
	CHECK(made == 1);
	CHECK(worst < 1000);
	stop(&s, failures_at);
}

/* ---- a process reconnects to the simulator with a malformed message ---- */

static int raw_connect(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static int raw_send(int fd, uint32_t type, const void *payload, uint32_t len)
{
	uint8_t buf[sizeof(struct dmab_sim_hdr) + 64];
	struct dmab_sim_hdr hdr = { type, 1, 0, len };
	memcpy(buf, &hdr, sizeof(hdr));
	memcpy(buf + sizeof(hdr), payload, len);
	return send(fd, buf, sizeof(hdr) + len, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

static int guest_reconnect(void *data)
{
	struct guest *g = data;
	uint64_t end = dmab_ts_now_ms() + g->run_ms;
	unsigned long n = 0;
	do {
		int fd = raw_connect(g->server->sim_socket);
		GUEST_CHECK(fd >= 0);
		if (n % 2) {
			/* A domain first, then nonsense from it. */
			struct dmab_sim_hello hello = { .version = DMAB_SIM_PROTOCOL_VERSION };
			snprintf(hello.name, sizeof(hello.name), "reconnect");
			GUEST_CHECK(raw_send(fd, DMAB_SIM_HELLO, &hello, sizeof(hello)) == 0);
			uint8_t answer[64];
			GUEST_CHECK(recv(fd, answer, sizeof(answer), 0) > 0);
			GUEST_CHECK(raw_send(fd, DMAB_SIM_MEM_REMOVE, "x", 1) == 0);
		} else {
			GUEST_CHECK(raw_send(fd, 0x7777, "", 0) == 0);
		}
		/* The host cuts it off. */
		uint8_t junk[64];
		while (recv(fd, junk, sizeof(junk), 0) > 0)
			;
		close(fd);
		n++;
	} while (dmab_ts_now_ms() < end);
	fprintf(stderr, "%lu connections in %u ms\n", n, g->run_ms);
	return n >= (g->run_ms >= 1000 ? 100 : 1) ? 0 : 1;
}

static void test_sim_reconnect(void)
{
	fprintf(stderr, "== sim-reconnect\n");
	struct dmab_test_server s;
	int failures_at = failures;
	if (!start(&s))
		return;
	int baseline = fd_baseline(&s);
	int before = dmab_ts_log_count(&s, "sim: ");
	uint64_t t0 = dmab_ts_now_ms();
	struct guest g = { .server = &s, .run_ms = 3000 };
	pid_t pid = dmab_ts_guest(guest_reconnect, &g);
	CHECK(dmab_ts_guest_wait(pid, STEP_MS) == 0);
	uint64_t elapsed = dmab_ts_now_ms() - t0;
	json_object *st = dmab_ts_ctl(&s, "{\"cmd\":\"status\"}", -1);
	CHECK(st != NULL);
	if (st)
		json_object_put(st);
	int lines = dmab_ts_log_count(&s, "sim: ") - before;
	int bound = (int)(SIM_LINES_PER_WINDOW * (elapsed / WINDOW_MS + 2));
	fprintf(stderr, "%d simulator lines in %" PRIu64 " ms (at most %d)\n", lines, elapsed,
		bound);
	CHECK(lines <= bound);

	/* Once the window is over, the next line says how many were held back. */
	sleep_ms(WINDOW_MS + 200 - (uint32_t)(elapsed < WINDOW_MS ? elapsed : WINDOW_MS));
	g.run_ms = 1;
	pid = dmab_ts_guest(guest_reconnect, &g);
	CHECK(dmab_ts_guest_wait(pid, STEP_MS) == 0);
	CHECK(dmab_ts_log_count(&s, "lines suppressed)") >= 1);
	expect_clean(&s, baseline, "sim-reconnect");
	stop(&s, failures_at);
}

static const struct {
	const char *name;
	void (*fn)(void);
} tests[] = {
	{ "frontend-gone", test_frontend_gone },
	{ "teardown", test_teardown },
	{ "flapping", test_flapping },
	{ "sim-reconnect", test_sim_reconnect },
};

int main(int argc, char **argv)
{
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		bool run = argc == 1;
		for (int a = 1; a < argc; a++)
			run |= strcmp(argv[a], tests[i].name) == 0;
		if (run)
			tests[i].fn();
	}
	fprintf(stderr, "%d failures\n", failures);
	return failures ? 1 : 0;
}
