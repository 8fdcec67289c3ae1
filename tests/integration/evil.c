// SPDX-License-Identifier: MIT
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <drm_fourcc.h>

#include "client/pgdir.h"
#include "tests/integration/evil.h"
#include "tests/integration/remote.h"

void evil_sleep_ms(uint32_t ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int evil_check(bool ok, const char *file, int line, const char *fmt, ...)
{
	if (ok)
		return 0;
	va_list args;
	va_start(args, fmt);
	fprintf(stderr, "FAIL %s:%d: ", file, line);
	vfprintf(stderr, fmt, args);
	fputc('\n', stderr);
	va_end(args);
	return 1;
}

/* ---- the good guest ---- */

struct evil_good_shared {
	atomic_uint domid;
	atomic_uint frame;              /* the frame on screen (its event came) */
	atomic_int ready;
	atomic_int pause;               /* the test asks it to stop between frames */
	atomic_int paused;              /* ... and it did */
	atomic_int stop;
	atomic_int error;               /* the step that failed, 0 if none */
	atomic_uint max_wait_ms;        /* longest wait for a flip event ... */
	atomic_uint wait_epoch;         /* ... of those begun since it last changed */
	atomic_uint hostile_domid;      /* the last hostile guest's, from evil_connect() */
	atomic_uint hostile_devid;      /* ... and its device's */
};

static struct dmab_client_buffer *good_flipped;

static void handle_good_flip(void *data, unsigned int index, struct dmab_client_buffer *buffer)
{
	good_flipped = buffer;
}

static int good_wait_flip(struct dmab_client *client, struct dmab_client_buffer *buffer,
		uint32_t timeout_ms)
{
	uint64_t deadline = dmab_ts_now_ms() + timeout_ms;
	good_flipped = NULL;
	while (good_flipped != buffer) {
		uint64_t now = dmab_ts_now_ms();
		if (now >= deadline)
			return -ETIMEDOUT;
		struct pollfd p = { dmab_client_get_fd(client), POLLIN, 0 };
		poll(&p, 1, (int)(deadline - now));
		if (dmab_client_dispatch(client))
			return -ENOTCONN;
	}
	return 0;
}

static int good_fail(struct evil_good_shared *sh, int step)
{
	atomic_store(&sh->error, step);
	fprintf(stderr, "good guest: step %d failed\n", step);
	return step;
}

/*
 * The well-behaved guest: two buffers, the connector enabled with the
 * first, then a flip per frame, each after the previous one's event, as
 * Linux's xen-drm-front does.
 */
static int good_main(struct evil_env *env)
{
	struct evil_good_shared *sh = env->good;
	struct dmab_client_connector_spec spec = { EVIL_GOOD_WIDTH, EVIL_GOOD_HEIGHT, "good0" };
	struct dmab_client_options options;
	dmab_ts_client_options(&env->server, &options);
	options.create_device = true;
	options.connectors = &spec;
	options.connector_count = 1;

	struct dmab_client *client;
	if (dmab_client_connect(&options, &client))
		return good_fail(sh, 1);
	atomic_store(&sh->domid, dmab_client_domid(client));
	dmab_client_set_flip_handler(client, handle_good_flip, NULL);

	struct dmab_client_buffer *bufs[2];
	for (int i = 0; i < 2; i++) {
		if (dmab_client_buffer_create(client, EVIL_GOOD_WIDTH, EVIL_GOOD_HEIGHT,
				DRM_FORMAT_XRGB8888, &bufs[i]))
			return good_fail(sh, 2);
	}
	dmab_ts_fill(dmab_client_buffer_data(bufs[0]), dmab_client_buffer_stride(bufs[0]),
		EVIL_GOOD_WIDTH, EVIL_GOOD_HEIGHT, 0);
	if (dmab_client_set_config(client, 0, bufs[0], 0, 0))
		return good_fail(sh, 3);

	uint32_t f = 1;
	while (!atomic_load(&sh->stop)) {
		/* The frame on screen stays there, untouched, while paused. */
		if (atomic_load(&sh->pause) && atomic_load(&sh->ready)) {
			atomic_store(&sh->paused, 1);
			while (atomic_load(&sh->pause) && !atomic_load(&sh->stop))
				evil_sleep_ms(1);
			atomic_store(&sh->paused, 0);
			continue;
		}
		struct dmab_client_buffer *b = bufs[f % 2];
		dmab_ts_fill(dmab_client_buffer_data(b), dmab_client_buffer_stride(b),
			EVIL_GOOD_WIDTH, EVIL_GOOD_HEIGHT, f);
		uint64_t t0 = dmab_ts_now_ms();
		unsigned int epoch = atomic_load(&sh->wait_epoch);
		int fr = dmab_client_flip(client, 0, b);
		if (fr) {
			fprintf(stderr, "flip: %d\n", fr);
			return good_fail(sh, 4);
		}
		if (good_wait_flip(client, b, 3000))
			return good_fail(sh, 5);
		uint32_t waited = (uint32_t)(dmab_ts_now_ms() - t0);
		/* A wait the test's reset came in the middle of is not measured. */
		if (epoch == atomic_load(&sh->wait_epoch) && waited > atomic_load(&sh->max_wait_ms))
			atomic_store(&sh->max_wait_ms, waited);
		atomic_store(&sh->frame, f);
		atomic_store(&sh->ready, 1);
		f++;
	}
	dmab_client_destroy(client);
	return 0;
}

/* Wait for a child: its exit status, 128 + signal, or -1 (killed after timeout_ms). */
static int wait_child(pid_t pid, uint32_t timeout_ms)
{
	uint64_t deadline = dmab_ts_now_ms() + timeout_ms;
	int status;
	pid_t r;
	while ((r = waitpid(pid, &status, WNOHANG)) == 0 && dmab_ts_now_ms() < deadline)
		evil_sleep_ms(5);
	if (r != pid) {
		fprintf(stderr, "guest %d did not finish in %u ms; killing it\n", pid, timeout_ms);
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		return -1;
	}
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static pid_t run_child(int (*fn)(struct evil_env *env, void *data), struct evil_env *env,
		void *data)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0)
		_exit(fn(env, data));
	return pid;
}

static int good_child(struct evil_env *env, void *data)
{
	return good_main(env);
}

int64_t evil_good_frames(struct evil_env *env)
{
	return evil_stat(&env->server, env->good_conn, "frames");
}

uint32_t evil_good_max_wait_ms(struct evil_env *env)
{
	if (env->xen) {
		long long ms = dmab_ts_remote_number(env->server.remote, "good-wait", NULL);
		return ms < 0 ? UINT32_MAX : (uint32_t)ms;
	}
	return atomic_load(&env->good->max_wait_ms);
}

static bool wait_flag(atomic_int *flag, int value, uint32_t timeout_ms)
{
	uint64_t deadline = dmab_ts_now_ms() + timeout_ms;
	while (atomic_load(flag) != value) {
		if (dmab_ts_now_ms() >= deadline)
			return false;
		evil_sleep_ms(1);
	}
	return true;
}

void evil_good_max_wait_reset(struct evil_env *env)
{
	if (env->xen) {
		dmab_ts_remote_number(env->server.remote, "good-wait-reset", NULL);
	} else {
		atomic_fetch_add(&env->good->wait_epoch, 1);
		atomic_store(&env->good->max_wait_ms, 0);
	}
}

/* On Xen the relay holds the good guest and compares (remote.h). */
static int xen_good_check_screen(struct evil_env *env)
{
	char *a = dmab_ts_remote_call(env->server.remote, "good-screen", NULL, 0, NULL);
	if (!a)
		return EVIL_CHECK(false, "no answer about the good guest's screen");
	int fails = EVIL_CHECK(a[0] == '0', "the good guest's screen: %s", a + (a[0] ? 2 : 0));
	if (!fails)
		fprintf(stderr, "good guest: %s", a + 2);
	free(a);
	return fails;
}

int evil_good_check_screen(struct evil_env *env)
{
	if (env->xen)
		return xen_good_check_screen(env);
	struct evil_good_shared *sh = env->good;
	int fails = 0;
	atomic_store(&sh->pause, 1);
	if (!wait_flag(&sh->paused, 1, 3000)) {
		atomic_store(&sh->pause, 0);
		return EVIL_CHECK(false, "the good guest did not pause (error %d)",
			atomic_load(&sh->error));
	}
	uint32_t f = atomic_load(&sh->frame);
	uint8_t *rgba;
	uint32_t w, h;
	if (dmab_ts_screenshot(&env->server, "connector:good0", &rgba, &w, &h) == 0) {
		fails += EVIL_CHECK(w == EVIL_GOOD_WIDTH && h == EVIL_GOOD_HEIGHT,
			"good0 is %ux%u", w, h);
		if (!fails)
			fails += EVIL_CHECK(dmab_ts_check(rgba, w, 0, 0, w, h, f) == 0,
				"good0 does not show its frame %u", f);
		free(rgba);
	} else {
		fails += EVIL_CHECK(false, "no screenshot of good0");
	}
	if (dmab_ts_screenshot(&env->server, "screen:main", &rgba, &w, &h) == 0) {
		fails += EVIL_CHECK(w == 800 && h == 300 &&
			dmab_ts_check(rgba, w, 0, 0, EVIL_GOOD_WIDTH, EVIL_GOOD_HEIGHT, f) == 0,
			"the screen does not show good0's frame %u at 0,0", f);
		free(rgba);
	} else {
		fails += EVIL_CHECK(false, "no screenshot of the screen");
	}
	atomic_store(&sh->pause, 0);
	return fails;
}

/* ---- the environment ---- */

/* The server's descriptors once nothing changes for a while. */
static int settled_fds(struct dmab_test_server *s)
{
	int last = -1;
	for (int i = 0; i < 50; i++) {
		evil_sleep_ms(100);
		int n = dmab_ts_fd_count(s);
		if (n == last)
			return n;
		last = n;
	}
	return last;
}

static struct evil_good_shared *good_shared(void)
{
	struct evil_good_shared *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return NULL;
	memset(sh, 0, sizeof(*sh));
	return sh;
}

/*
 * In a domU of the Xen tier: dmabridged in dom0 takes the configuration,
 * and the good guest is the other domU's, already flipping.
 */
static int xen_env_start(struct evil_env *env, const char *config)
{
	env->xen = true;
	if (dmab_ts_attach_remote(&env->server, 60000)) {
		fprintf(stderr, "no relay to dmabridged in dom0 (data/evil/ready)\n");
		return -1;
	}
	char *a = dmab_ts_remote_call(env->server.remote, "config", config, strlen(config), NULL);
	bool ok = a && strstr(a, "\"ok\":true");
	if (!ok)
		fprintf(stderr, "dmabridged did not take the configuration: %s\n", a ? a : "no answer");
	free(a);
	long long good = dmab_ts_remote_number(env->server.remote, "good", NULL);
	env->good = good_shared();
	if (!ok || good <= 0 || !env->good)
		return -1;
	env->good_domid = (unsigned int)good;
	/* The longest wait of this environment's, as a new good guest's locally. */
	evil_good_max_wait_reset(env);
	snprintf(env->good_conn, sizeof(env->good_conn), "%u/0/0", env->good_domid);
	int64_t f0 = evil_good_frames(env);
	uint64_t t0 = dmab_ts_now_ms();
	long long d0 = dmab_ts_remote_number(env->server.remote, "now", NULL);
	evil_sleep_ms(2000);
	int64_t f1 = evil_good_frames(env);
	uint64_t elapsed = dmab_ts_now_ms() - t0;
	long long d1 = dmab_ts_remote_number(env->server.remote, "now", NULL);
	fprintf(stderr, "%llu ms here were %lld ms in dom0\n", (unsigned long long)elapsed,
		d1 - d0);
	if (f0 < 0 || f1 - f0 < 2) {
		fprintf(stderr, "the good guest (dom%u) does not flip: %lld frames in %llu ms\n",
			env->good_domid, (long long)(f1 - f0), (unsigned long long)elapsed);
		return -1;
	}
	env->good_hz = (unsigned int)((f1 - f0) * 1000 / (int64_t)elapsed);
	fprintf(stderr, "the good guest's frames: %lld in %llu ms\n", (long long)(f1 - f0),
		(unsigned long long)elapsed);
	/* No more than the screen's refresh (EVIL_BASE_CONFIG: 60 Hz) is its due. */
	if (env->good_hz > 60)
		env->good_hz = 60;
	if (env->good_hz == 0)
		env->good_hz = 1;
	env->baseline_fds = settled_fds(&env->server);
	/* The domain's log window opened at its boot: the first case waits it out too. */
	env->last_end_ms = dmab_ts_now_ms();
	fprintf(stderr, "dmabridged in dom0: good guest dom%u at %u frames a second, "
		"%d descriptors; timing limits %u times looser\n", env->good_domid, env->good_hz,
		env->baseline_fds, env->slack);
	return 0;
}

int evil_env_start(struct evil_env *env, const char *config_extra)
{
	memset(env, 0, sizeof(*env));
	char config[4096];
	snprintf(config, sizeof(config), "%s%s", EVIL_BASE_CONFIG, config_extra ? config_extra : "");
	const char *slack = getenv("DMAB_EVIL_SLACK");
	env->slack = slack && atoi(slack) > 0 ? (unsigned int)atoi(slack) : 1;
	if (getenv("DMAB_EVIL_XEN"))
		return xen_env_start(env, config);
	env->good_hz = 60;
	if (dmab_ts_start(&env->server, config, NULL))
		return -1;
	env->good = good_shared();
	if (!env->good) {
		dmab_ts_stop(&env->server);
		return -1;
	}
	env->good_pid = run_child(good_child, env, NULL);

	uint64_t deadline = dmab_ts_now_ms() + 10000;
	while (!atomic_load(&env->good->ready) || atomic_load(&env->good->frame) < 3) {
		if (dmab_ts_now_ms() >= deadline || atomic_load(&env->good->error)) {
			fprintf(stderr, "the good guest did not start flipping (error %d)\n",
				atomic_load(&env->good->error));
			kill(env->good_pid, SIGKILL);
			waitpid(env->good_pid, NULL, 0);
			dmab_ts_stop(&env->server);
			return -1;
		}
		evil_sleep_ms(10);
	}
	env->good_domid = atomic_load(&env->good->domid);
	snprintf(env->good_conn, sizeof(env->good_conn), "%u/0/0", env->good_domid);
	env->baseline_fds = settled_fds(&env->server);
	fprintf(stderr, "dmabridged %d: good guest dom%u, %d descriptors\n", env->server.pid,
		env->good_domid, env->baseline_fds);
	return 0;
}

static bool wait_guests(struct dmab_test_server *s, int n, uint32_t timeout_ms)
{
	uint64_t deadline = dmab_ts_now_ms() + timeout_ms;
	for (;;) {
		if (dmab_ts_guest_count(s) == n)
			return true;
		if (dmab_ts_now_ms() >= deadline)
			return false;
		evil_sleep_ms(20);
	}
}

static bool wait_fds(struct dmab_test_server *s, int n, uint32_t timeout_ms, int *last)
{
	uint64_t deadline = dmab_ts_now_ms() + timeout_ms;
	for (;;) {
		/* Control connections of our own come and go: look twice. */
		*last = dmab_ts_fd_count(s);
		if (*last == n) {
			evil_sleep_ms(50);
			*last = dmab_ts_fd_count(s);
			if (*last == n)
				return true;
		}
		if (dmab_ts_now_ms() >= deadline)
			return false;
		evil_sleep_ms(20);
	}
}

/*
 * On Xen the hostile guest's domain stays: the next frontend of its device
 * must be served (a device left Connected by a killed guest is reset by
 * it), and then closes it again. Failures.
 */
static int xen_next_frontend(struct evil_env *env, const char *name, unsigned int devid)
{
	struct dmab_client_options options;
	dmab_ts_client_options(&env->server, &options);
	options.devid = devid;
	options.timeout_ms = 10000;
	struct dmab_client *c;
	int ret = dmab_client_connect(&options, &c);
	if (ret == 0)
		dmab_client_destroy(c);
	return EVIL_CHECK(ret == 0, "%s: the next frontend of vdispl %u is not served: %s", name,
		devid, strerror(-ret));
}

/* Whether device domid/devid is listed as connected. */
static bool device_connected(struct dmab_test_server *s, unsigned int domid, unsigned int devid)
{
	json_object *g = dmab_ts_guest_status(s, domid, devid), *v;
	bool connected = g && json_object_object_get_ex(g, "connected", &v) &&
		json_object_get_boolean(v);
	if (g)
		json_object_put(g);
	return connected;
}

static bool wait_disconnected(struct dmab_test_server *s, unsigned int domid, unsigned int devid,
		uint32_t timeout_ms)
{
	uint64_t deadline = dmab_ts_now_ms() + timeout_ms;
	while (device_connected(s, domid, devid)) {
		if (dmab_ts_now_ms() >= deadline)
			return false;
		evil_sleep_ms(20);
	}
	return true;
}

int evil_env_hostile(struct evil_env *env, const char *name, evil_fn fn, void *data,
		int want_status, uint32_t timeout_ms)
{
	int fails = 0;
	/*
	 * On Xen every hostile guest is the same domain, whose log lines are
	 * counted in windows of 5 s (server/guest-log.c): each one starts in
	 * a window of its own, as a new simulated domain does.
	 */
	while (env->xen && env->last_end_ms && dmab_ts_now_ms() < env->last_end_ms + 5100)
		evil_sleep_ms(50);
	fprintf(stderr, "== %s\n", name);
	dmab_ts_log_mark(&env->server);
	int64_t frames0 = evil_good_frames(env);
	uint64_t t0 = dmab_ts_now_ms();

	atomic_store(&env->good->hostile_domid, 0);
	atomic_store(&env->good->hostile_devid, 0);
	pid_t pid = run_child(fn, env, data);
	int status = wait_child(pid, timeout_ms);
	fails += EVIL_CHECK(status == want_status, "%s: the hostile guest ended with %d, "
		"expected %d", name, status, want_status);

	if (!dmab_ts_alive(&env->server)) {
		/* dmab_ts_alive() reaped it: dmab_ts_stop() will not see how it ended. */
		fails += EVIL_CHECK(false, "%s: dmabridged died", name);
		dmab_ts_dump_log(&env->server);
		env->failures += fails;
		return fails;
	}
	/* Whatever it did, the server still answers. */
	json_object *st = dmab_ts_ctl(&env->server, "{\"cmd\":\"status\"}", -1);
	fails += EVIL_CHECK(st != NULL, "%s: dmabridged does not answer", name);
	if (st)
		json_object_put(st);

	unsigned int dom = atomic_load(&env->good->hostile_domid);
	unsigned int devid = atomic_load(&env->good->hostile_devid);
	if (env->xen && dom) {
		fails += xen_next_frontend(env, name, devid);
		fails += EVIL_CHECK(wait_disconnected(&env->server, dom, devid, 5000),
			"%s: dom%u's vdispl %u is still connected after its frontend left", name,
			dom, devid);
	} else if (!env->xen) {
		fails += EVIL_CHECK(wait_guests(&env->server, 1, 5000),
			"%s: the hostile device is still there after its guest left", name);
	}
	int fds = -1;
	fails += EVIL_CHECK(wait_fds(&env->server, env->baseline_fds, 5000, &fds),
		"%s: dmabridged holds %d descriptors, %d before the hostile guest", name, fds,
		env->baseline_fds);

	/* Whatever it did, its going is logged, and its warnings are rate-limited. */
	if (dom && env->xen) {
		fails += EVIL_CHECK(evil_log_count(&env->server, "dom%u/vdispl%u: disconnected", dom,
			devid) >= 1, "%s: the log does not say dom%u/vdispl%u was disconnected", name,
			dom, devid);
	} else if (dom) {
		fails += EVIL_CHECK(evil_log_count(&env->server, "dom%u/vdispl0: device removed",
			dom) == 1, "%s: the log does not say dom%u went", name, dom);
	}
	if (dom)
		fails += evil_log_rate_limited(&env->server, dom, dmab_ts_now_ms() - t0);

	int64_t frames1 = evil_good_frames(env);
	uint64_t elapsed = dmab_ts_now_ms() - t0;
	/* Its usual rate; a third of it even on a slow (sanitizer) build under attack. */
	int64_t want = (int64_t)(elapsed * env->good_hz / 1000 / 3 / env->slack);
	fails += EVIL_CHECK(frames0 >= 0 && frames1 - frames0 >= (want ? want : 1),
		"%s: the good guest got %lld frames in %llu ms (want %lld)", name,
		(long long)(frames1 - frames0), (unsigned long long)elapsed, (long long)want);
	uint32_t waited = evil_good_max_wait_ms(env);
	fails += EVIL_CHECK(waited < 1000 * env->slack, "%s: the good guest waited %u ms for a "
		"flip event", name, waited);
	fails += EVIL_CHECK(atomic_load(&env->good->error) == 0,
		"%s: the good guest failed at step %d", name, atomic_load(&env->good->error));
	fails += evil_good_check_screen(env);

	fprintf(stderr, "== %s: %s (good guest: %lld frames in %llu ms)\n", name,
		fails ? "FAILED" : "ok", (long long)(frames1 - frames0), (unsigned long long)elapsed);
	env->failures += fails;
	env->last_end_ms = dmab_ts_now_ms();
	return fails;
}

int evil_env_finish(struct evil_env *env)
{
	if (env->xen) {
		/* dmabridged and the good guest stay: check-hostile.sh looks at them last. */
		env->failures += EVIL_CHECK(dmab_ts_alive(&env->server), "dmabridged is gone");
		munmap(env->good, sizeof(*env->good));
		fprintf(stderr, "%d failures\n", env->failures);
		return env->failures;
	}
	atomic_store(&env->good->stop, 1);
	int status = wait_child(env->good_pid, 10000);
	env->failures += EVIL_CHECK(status == 0, "the good guest ended with %d (step %d)",
		status, atomic_load(&env->good->error));
	/* EVIL_DUMP_LOG=1 shows the server's log even when all went well. */
	if (getenv("EVIL_DUMP_LOG"))
		dmab_ts_dump_log(&env->server);
	int ret = dmab_ts_stop(&env->server);
	env->failures += EVIL_CHECK(ret == 0, "dmabridged exited with %d", ret);
	munmap(env->good, sizeof(*env->good));
	fprintf(stderr, "%d failures\n", env->failures);
	return env->failures;
}

/* ---- hostile guests ---- */

int evil_connect(struct evil_env *env, bool be_alloc, unsigned int nconns,
		struct dmab_client **client)
{
	struct dmab_client_connector_spec specs[8];
	char ids[8][16];
	if (nconns == 0 || nconns > 8)
		return -EINVAL;
	for (unsigned int i = 0; i < nconns; i++) {
		snprintf(ids[i], sizeof(ids[i]), "evil%u", i);
		specs[i] = (struct dmab_client_connector_spec){ EVIL_WIDTH, EVIL_HEIGHT, ids[i] };
	}
	struct dmab_client_options options;
	dmab_ts_client_options(&env->server, &options);
	if (env->xen) {
		/* The domain's own devices, one of each kind (EVIL_XEN_DEVICES). */
		if (nconns > 2)
			return -EINVAL;
		options.devid = 2 * be_alloc + nconns - 1;
	} else {
		options.create_device = true;
		options.be_alloc = be_alloc;
		options.connectors = specs;
		options.connector_count = nconns;
	}
	options.timeout_ms = env->xen ? 10000 : 3000;
	int ret = dmab_client_connect(&options, client);
	if (ret) {
		fprintf(stderr, "hostile guest: cannot connect: %s\n", strerror(-ret));
		return ret;
	}
	atomic_store(&env->good->hostile_devid, options.devid);
	atomic_store(&env->good->hostile_domid, dmab_client_domid(*client));
	if (env->xen && (dmab_client_connector_count(*client) != nconns ||
			dmab_client_be_alloc(*client) != be_alloc)) {
		fprintf(stderr, "hostile guest: vdispl %u has %u connectors%s, not %u%s\n",
			options.devid, dmab_client_connector_count(*client),
			dmab_client_be_alloc(*client) ? " (be-alloc)" : "", nconns,
			be_alloc ? " (be-alloc)" : "");
		dmab_client_destroy(*client);
		return -EINVAL;
	}
	return 0;
}

unsigned int evil_devid(struct evil_env *env)
{
	return atomic_load(&env->good->hostile_devid);
}

uint64_t evil_cookie(void)
{
	static uint32_t n;
	return 0xe000000000000000ull | (uint64_t)(uint32_t)getpid() << 24 | ++n;
}

const char *evil_status_name(int32_t status)
{
	static char other[32];
	switch (status) {
	case 0: return "0";
	case -XEN_EPERM: return "-XEN_EPERM";
	case -XEN_ENOENT: return "-XEN_ENOENT";
	case -XEN_EIO: return "-XEN_EIO";
	case -XEN_E2BIG: return "-XEN_E2BIG";
	case -XEN_ENOMEM: return "-XEN_ENOMEM";
	case -XEN_EBUSY: return "-XEN_EBUSY";
	case -XEN_EEXIST: return "-XEN_EEXIST";
	case -XEN_EINVAL: return "-XEN_EINVAL";
	case -XEN_ENOSPC: return "-XEN_ENOSPC";
	case -XEN_EOPNOTSUPP: return "-XEN_EOPNOTSUPP";
	case EVIL_NO_ANSWER: return "no answer";
	}
	snprintf(other, sizeof(other), "%d", status);
	return other;
}

/* Echoed id and operation, every reserved octet zero. Failures. */
static int check_response(const struct xendispl_req *req, const struct xendispl_resp *resp)
{
	int fails = 0;
	fails += EVIL_CHECK(resp->id == req->id && resp->operation == req->operation,
		"response id %u op 0x%02x to request id %u op 0x%02x", resp->id,
		resp->operation, req->id, req->operation);
	bool zero = resp->reserved == 0;
	/* The only field after the status: GET_EDID's edid_sz. */
	size_t from = resp->operation == XENDISPL_OP_GET_EDID ? sizeof(uint32_t) : 0;
	for (size_t i = from; i < sizeof(resp->op.reserved1); i++)
		zero = zero && resp->op.reserved1[i] == 0;
	fails += EVIL_CHECK(zero, "response to op 0x%02x has reserved octets set",
		req->operation);
	return fails;
}

int32_t evil_call(struct dmab_client *client, unsigned int index, struct xendispl_req *req)
{
	struct xendispl_resp resp;
	int ret = dmab_frontend_call(client, index, req, &resp);
	if (ret) {
		fprintf(stderr, "no answer to op 0x%02x on ring %u: %s\n", req->operation, index,
			strerror(-ret));
		return EVIL_NO_ANSWER;
	}
	if (check_response(req, &resp))
		return EVIL_NO_ANSWER;
	return resp.status;
}

int evil_expect(struct dmab_client *client, const char *what, struct xendispl_req *req,
		int32_t want)
{
	int32_t got = evil_call(client, 0, req);
	if (got == want) {
		fprintf(stderr, "  ok   %s: %s\n", what, evil_status_name(got));
		return 0;
	}
	fprintf(stderr, "FAIL   %s: %s, expected ", what, evil_status_name(got));
	fprintf(stderr, "%s\n", evil_status_name(want));
	return 1;
}

int evil_batch(struct dmab_client *client, unsigned int index, struct xendispl_req *reqs,
		unsigned int n, struct xendispl_resp *resps, uint32_t timeout_ms)
{
	bool got[32] = { false };
	int fails = 0;
	if (n > 32)
		return EVIL_CHECK(false, "a batch of %u requests does not fit the ring", n);
	for (unsigned int i = 0; i < n; i++) {
		reqs[i].id = (uint16_t)(0xe000 + i);
		int ret = dmab_frontend_put(client, index, &reqs[i], false);
		if (ret)
			return EVIL_CHECK(false, "cannot put request %u: %s", i, strerror(-ret));
	}
	dmab_frontend_notify(client, index);
	uint64_t deadline = dmab_ts_now_ms() + timeout_ms;
	for (unsigned int k = 0; k < n; k++) {
		struct xendispl_resp r;
		uint64_t now = dmab_ts_now_ms();
		int ret = dmab_frontend_get_response(client, index, &r,
			now < deadline ? (uint32_t)(deadline - now) : 0);
		if (ret) {
			for (unsigned int i = 0; i < n; i++)
				fails += EVIL_CHECK(got[i], "no answer to request %u (op 0x%02x): %s",
					i, reqs[i].operation, strerror(-ret));
			return fails;
		}
		unsigned int i = (uint16_t)(r.id - 0xe000);
		if (i >= n || got[i]) {
			fails += EVIL_CHECK(false, "a response with id 0x%04x", r.id);
			continue;
		}
		got[i] = true;
		resps[i] = r;
		fails += check_response(&reqs[i], &r);
	}
	return fails;
}

struct xendispl_page_directory *evil_dir_page(void *dir, uint32_t i)
{
	return (struct xendispl_page_directory *)((uint8_t *)dir + (size_t)i * DMAB_XEN_PAGE_SIZE);
}

int evil_pages_share(struct dmab_client *client, uint32_t size, struct evil_pages *p)
{
	struct dmab_hv *hv = dmab_frontend_hv(client);
	domid_t be = dmab_frontend_backend_domid(client);
	memset(p, 0, sizeof(*p));
	p->npages = dmab_fe_pages(size);
	p->dir_pages = dmab_pgdir_pages(p->npages);
	p->refs = calloc(p->npages, sizeof(*p->refs));
	p->dir_refs = calloc(p->dir_pages, sizeof(*p->dir_refs));
	if (!p->refs || !p->dir_refs)
		return -ENOMEM;
	int ret = dmab_hv_share_alloc(hv, be, p->npages, DMAB_HV_SHARE_WRITABLE, p->refs, &p->data);
	if (ret)
		return ret;
	ret = dmab_hv_share_alloc(hv, be, p->dir_pages, DMAB_HV_SHARE_WRITABLE, p->dir_refs,
		&p->dir);
	if (ret)
		return ret;
	dmab_fe_pgdir_fill(p->dir, p->dir_pages, p->dir_refs, p->refs, p->npages);
	return 0;
}

int evil_pages_free(struct dmab_client *client, struct evil_pages *p)
{
	struct dmab_hv *hv = dmab_frontend_hv(client);
	int ret = 0;
	if (p->data)
		ret = dmab_hv_share_free(hv, p->data, p->npages);
	if (p->dir) {
		int r = dmab_hv_share_free(hv, p->dir, p->dir_pages);
		if (!ret)
			ret = r;
	}
	free(p->refs);
	free(p->dir_refs);
	memset(p, 0, sizeof(*p));
	return ret;
}

void evil_req_dbuf(struct xendispl_req *req, uint64_t cookie, uint32_t width,
		uint32_t height, const struct evil_pages *p)
{
	dmab_fe_req_dbuf_create(req, cookie, width, height, 32, width * height * 4,
		p->dir_refs[0], false);
}

/* ---- the server ---- */

int evil_guest_state(struct dmab_test_server *s, unsigned int domid, char *state,
		size_t len, bool *connected)
{
	json_object *r = dmab_ts_ctl(s, "{\"cmd\":\"status\"}", -1), *guests;
	if (!r)
		return -EIO;
	int ret = -ENOENT;
	if (json_object_object_get_ex(r, "guests", &guests)) {
		for (size_t i = 0; i < json_object_array_length(guests); i++) {
			json_object *g = json_object_array_get_idx(guests, i), *v, *d;
			/* Device 0: a domain of the Xen tier has more (EVIL_XEN_DEVICES). */
			if (!json_object_object_get_ex(g, "domid", &v) ||
					(unsigned int)json_object_get_int(v) != domid ||
					!json_object_object_get_ex(g, "devid", &d) ||
					json_object_get_int(d) != 0)
				continue;
			if (json_object_object_get_ex(g, "state", &v))
				snprintf(state, len, "%s", json_object_get_string(v));
			*connected = json_object_object_get_ex(g, "connected", &v) &&
				json_object_get_boolean(v);
			ret = 0;
			break;
		}
	}
	json_object_put(r);
	return ret;
}

bool evil_wait_dropped(struct dmab_test_server *s, unsigned int domid, uint32_t timeout_ms)
{
	uint64_t deadline = dmab_ts_now_ms() + timeout_ms;
	for (;;) {
		char state[32] = "";
		bool connected = true;
		int ret = evil_guest_state(s, domid, state, sizeof(state), &connected);
		if (ret == -ENOENT || (ret == 0 && !connected && strcmp(state, "Connected")))
			return true;
		if (dmab_ts_now_ms() >= deadline)
			return false;
		evil_sleep_ms(10);
	}
}

int evil_log_count(struct dmab_test_server *s, const char *fmt, ...)
{
	char needle[512];
	va_list args;
	va_start(args, fmt);
	vsnprintf(needle, sizeof(needle), fmt, args);
	va_end(args);
	return dmab_ts_log_count(s, needle);
}

/* Warnings naming guest domid in the log. */
static int warnings(struct dmab_test_server *s, unsigned int domid)
{
	char name[32];
	snprintf(name, sizeof(name), "dom%u/vdispl", domid);
	const char *needles[] = { " warn ", name };
	return dmab_ts_log_count_all(s, needles, 2);
}

int evil_log_rate_limited(struct dmab_test_server *s, unsigned int domid, uint64_t elapsed_ms)
{
	int n = warnings(s, domid);
	/* server/frontend.c: a burst of 20 per 5 s window; a few once per connection. */
	int bound = (int)(20 * (elapsed_ms / 5000 + 1) + 5);
	return EVIL_CHECK(n >= 0 && n <= bound, "%d warnings name dom%u in %llu ms: not "
		"rate-limited (at most %d)", n, domid, (unsigned long long)elapsed_ms, bound);
}

int evil_log_bounded(struct dmab_test_server *s, unsigned int domid, uint64_t elapsed_ms)
{
	return EVIL_CHECK(warnings(s, domid) >= 1, "no warning in the log names dom%u", domid) +
		evil_log_rate_limited(s, domid, elapsed_ms);
}

int64_t evil_stat(struct dmab_test_server *s, const char *conn, const char *key)
{
	json_object *st = dmab_ts_connector_stats(s, conn), *v;
	if (!st)
		return -1;
	int64_t n = json_object_object_get_ex(st, key, &v) ? json_object_get_int64(v) : -1;
	json_object_put(st);
	return n;
}

