// SPDX-License-Identifier: MIT
/*
 * A soak, short for CI: several guests at a time connect, flip frames and
 * leave, each in one of four ways (orderly, killed with SIGKILL, closing
 * and attaching its device again from the same domain, exiting without a
 * word), one after another, for DMAB_SOAK_SECONDS (20 by default; set it
 * higher by hand for a longer run). All along the server must answer its
 * control socket; at the end its descriptors and shared mappings must be
 * back where they were before the first guest, nothing stale written to
 * the store, and it must stop cleanly (under ASan: without a leak).
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <drm_fourcc.h>

#include "client/frontend.h"
#include "hv/sim/sim.h"
#include "tests/integration/harness.h"

#define SLOTS 4
#define CONN_W 128
#define CONN_H 96
#define SETTLE_MS 10000
#define SLOW_ANSWER_MS 2000

static int failures;

enum ending { END_ORDERLY, END_KILLED, END_REATTACH, END_ABRUPT, END_COUNT };

static const char *const ending_names[END_COUNT] = {
	"orderly", "killed", "reattached", "abrupt",
};

struct guest {
	struct dmab_test_server *server;
	enum ending ending;
	uint32_t run_ms;
	bool be_alloc;
};

/* ---- in a guest ---- */

static bool flipped;

static void handle_flip(void *data, unsigned int index, struct dmab_client_buffer *buffer)
{
	flipped = true;
}

static void options_for(const struct guest *g, struct dmab_client_options *options,
		const struct dmab_client_connector_spec *spec, bool create)
{
	dmab_ts_client_options(g->server, options);
	options->create_device = create;
	options->be_alloc = g->be_alloc;
	options->connectors = spec;
	options->connector_count = 1;
}

/* Flip two buffers for run_ms (forever when run_ms is 0); 0 or a negative errno. */
static int flip_for(struct dmab_client *client, uint32_t run_ms, uint32_t seed)
{
	struct dmab_client_buffer *bufs[2] = { NULL, NULL };
	int ret = 0;
	for (int i = 0; i < 2 && !ret; i++)
		ret = dmab_client_buffer_create(client, CONN_W, CONN_H, DRM_FORMAT_XRGB8888,
			&bufs[i]);
	dmab_client_set_flip_handler(client, handle_flip, NULL);
	uint64_t end = dmab_ts_now_ms() + run_ms;
	for (uint32_t f = 0; !ret && (run_ms == 0 || dmab_ts_now_ms() < end); f++) {
		struct dmab_client_buffer *b = bufs[f % 2];
		dmab_ts_fill(dmab_client_buffer_data(b), dmab_client_buffer_stride(b), CONN_W,
			CONN_H, seed + f);
		if (f == 0) {
			ret = dmab_client_set_config(client, 0, b, 0, 0);
			continue;
		}
		flipped = false;
		ret = dmab_client_flip(client, 0, b);
		if (!ret)
			ret = dmab_ts_dispatch_until(client, &flipped, 3000);
	}
	for (int i = 0; i < 2; i++) {
		int r = dmab_client_buffer_destroy(bufs[i]);
		if (!ret)
			ret = r;
	}
	return ret;
}

static int guest_main(void *data)
{
	struct guest *g = data;
	const struct dmab_client_connector_spec spec = { CONN_W, CONN_H, NULL };
	struct dmab_client_options options;
	struct dmab_client *client;
	uint32_t seed = (uint32_t)getpid();

	if (g->ending == END_REATTACH) {
		/* Close the device and attach it again, twice, from this one domain. */
		struct dmab_hv *hv;
		GUEST_CHECK(dmab_hv_sim_connect(g->server->sim_socket, &hv) == 0);
		for (int round = 0; round < 3; round++) {
			options_for(g, &options, &spec, round == 0);
			GUEST_CHECK(dmab_frontend_connect(&options, hv, &client) == 0);
			GUEST_CHECK(flip_for(client, g->run_ms / 3 + 1, seed + (uint32_t)round) == 0);
			dmab_client_destroy(client);
		}
		dmab_hv_destroy(hv);
		return 0;
	}

	options_for(g, &options, &spec, true);
	GUEST_CHECK(dmab_client_connect(&options, &client) == 0);
	switch (g->ending) {
	case END_KILLED:
		/* Until the test's SIGKILL, between any two calls. */
		GUEST_CHECK(flip_for(client, 0, seed) == 0);
		return 1;
	case END_ABRUPT:
		GUEST_CHECK(flip_for(client, g->run_ms, seed) == 0);
		/* Gone without closing anything: the process's end closes it all. */
		_exit(0);
	default:
		GUEST_CHECK(flip_for(client, g->run_ms, seed) == 0);
		dmab_client_destroy(client);
		return 0;
	}
}

/* ---- the test ---- */

struct slot {
	pid_t pid;                      /* 0: free */
	struct guest guest;
	uint64_t kill_at_ms;            /* END_KILLED */
	uint64_t give_up_ms;
};

static uint32_t rng_state;

static uint32_t rng(void)
{
	/* xorshift32: the run is repeatable from its seed. */
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

/* The server's descriptors once nothing is in flight. */
static int fd_baseline(const struct dmab_test_server *s)
{
	int n = dmab_ts_fd_count(s);
	for (int same = 0, i = 0; same < 10 && i < 500; i++) {
		usleep(10000);
		int m = dmab_ts_fd_count(s);
		same = m == n ? same + 1 : 0;
		n = m;
	}
	return n;
}

struct tally {
	unsigned int started[END_COUNT];
	unsigned int failed;
	unsigned int control_calls;
	uint64_t slowest_answer_ms;
};

static void start_guest(struct dmab_test_server *s, struct slot *slot, struct tally *t)
{
	slot->guest = (struct guest){
		.server = s,
		.ending = (enum ending)(rng() % END_COUNT),
		.run_ms = 100 + rng() % 700,
		.be_alloc = rng() % 3 == 0,
	};
	uint64_t now = dmab_ts_now_ms();
	slot->kill_at_ms = now + slot->guest.run_ms;
	slot->give_up_ms = now + slot->guest.run_ms + 20000;
	slot->pid = dmab_ts_guest(guest_main, &slot->guest);
	if (slot->pid < 0) {
		slot->pid = 0;
		t->failed++;
		return;
	}
	t->started[slot->guest.ending]++;
}

/* Whether the slot's guest ended (and how, counted). */
static bool reap(struct slot *slot, struct tally *t, bool stopping)
{
	int status;
	pid_t r = waitpid(slot->pid, &status, WNOHANG);
	uint64_t now = dmab_ts_now_ms();
	if (r == 0) {
		if (slot->guest.ending == END_KILLED && (now >= slot->kill_at_ms || stopping))
			kill(slot->pid, SIGKILL);
		else if (now >= slot->give_up_ms) {
			fprintf(stderr, "a guest (%s) did not finish; killing it\n",
				ending_names[slot->guest.ending]);
			kill(slot->pid, SIGKILL);
			t->failed++;
			slot->guest.ending = END_KILLED;
		}
		return false;
	}
	bool killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
	bool ok = slot->guest.ending == END_KILLED ? killed :
		WIFEXITED(status) && WEXITSTATUS(status) == 0;
	if (!ok) {
		fprintf(stderr, "a guest (%s) ended with status %#x\n",
			ending_names[slot->guest.ending], status);
		t->failed++;
	}
	slot->pid = 0;
	return true;
}

/* One control request, timed: whether it was answered. */
static bool ask(struct dmab_test_server *s, struct tally *t)
{
	uint64_t t0 = dmab_ts_now_ms();
	json_object *r = dmab_ts_ctl(s, "{\"cmd\":\"status\"}", -1);
	uint64_t took = dmab_ts_now_ms() - t0;
	t->control_calls++;
	if (took > t->slowest_answer_ms)
		t->slowest_answer_ms = took;
	if (r)
		json_object_put(r);
	return r != NULL;
}

int main(void)
{
	const char *env = getenv("DMAB_SOAK_SECONDS");
	unsigned int seconds = env && atoi(env) > 0 ? (unsigned int)atoi(env) : 20;
	const char *seed_env = getenv("DMAB_SOAK_SEED");
	rng_state = seed_env && atoi(seed_env) ? (uint32_t)atoi(seed_env) :
		(uint32_t)time(NULL) | 1;
	fprintf(stderr, "soak: %u s, %d guests at a time, seed %u (DMAB_SOAK_SEED)\n", seconds,
		SLOTS, rng_state);

	struct dmab_test_server s;
	if (dmab_ts_start(&s, "[screen.main]\nwidth = 640\nheight = 480\n", NULL))
		return 1;
	int fds0 = fd_baseline(&s);
	int maps0 = dmab_ts_shared_map_count(&s);
	fprintf(stderr, "soak: dmabridged %d starts with %d descriptors, %d shared mappings\n",
		s.pid, fds0, maps0);

	struct slot slots[SLOTS] = { 0 };
	struct tally t = { 0 };
	uint64_t end = dmab_ts_now_ms() + (uint64_t)seconds * 1000;
	bool answering = true;
	while (dmab_ts_now_ms() < end && answering && dmab_ts_alive(&s)) {
		for (int i = 0; i < SLOTS; i++) {
			if (!slots[i].pid || reap(&slots[i], &t, false))
				start_guest(&s, &slots[i], &t);
		}
		answering = ask(&s, &t);
		usleep(20000);
	}
	CHECK(answering);
	/* The ones still running finish their run (or are killed). */
	uint64_t give_up = dmab_ts_now_ms() + 30000;
	for (bool busy = true; busy && dmab_ts_now_ms() < give_up; usleep(10000)) {
		busy = false;
		for (int i = 0; i < SLOTS; i++)
			busy |= slots[i].pid && !reap(&slots[i], &t, true);
	}
	for (int i = 0; i < SLOTS; i++) {
		if (slots[i].pid) {
			kill(slots[i].pid, SIGKILL);
			waitpid(slots[i].pid, NULL, 0);
			t.failed++;
		}
	}

	unsigned int total = 0;
	for (int e = 0; e < END_COUNT; e++)
		total += t.started[e];
	fprintf(stderr, "soak: %u guests (%u orderly, %u killed, %u reattached, %u abrupt), "
		"%u failed; %u control requests, the slowest answered in %" PRIu64 " ms\n", total,
		t.started[END_ORDERLY], t.started[END_KILLED], t.started[END_REATTACH],
		t.started[END_ABRUPT], t.failed, t.control_calls, t.slowest_answer_ms);
	CHECK(t.failed == 0);
	CHECK(total >= SLOTS);
	CHECK(t.slowest_answer_ms < SLOW_ANSWER_MS);
	CHECK(dmab_ts_alive(&s));

	/* Everything back where it was. */
	uint64_t deadline = dmab_ts_now_ms() + SETTLE_MS;
	while (dmab_ts_guest_count(&s) != 0 && dmab_ts_now_ms() < deadline)
		usleep(10000);
	CHECK(dmab_ts_guest_count(&s) == 0);
	int fds = dmab_ts_fd_settle(&s, fds0, SETTLE_MS);
	int maps = dmab_ts_shared_map_count(&s);
	fprintf(stderr, "soak: at the end %d descriptors (%d before), %d shared mappings (%d "
		"before)\n", fds, fds0, maps, maps0);
	CHECK(fds == fds0);
	CHECK(maps == maps0);
	CHECK(dmab_ts_log_count(&s, "a stale node") == 0);
	CHECK(dmab_ts_log_count(&s, "did not close vdispl device") == 0);
	CHECK(dmab_ts_log_count(&s, "state machine did not settle") == 0);

	if (failures)
		dmab_ts_dump_log(&s);
	int status = dmab_ts_stop(&s);
	if (status != 0)
		fprintf(stderr, "dmabridged exited with %d\n", status);
	CHECK(status == 0);
	fprintf(stderr, "%d failures\n", failures);
	return failures ? 1 : 0;
}
