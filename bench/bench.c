// SPDX-License-Identifier: MIT
/*
 * dmabridge's benchmark: what moving frames costs the server. It starts
 * dmabridged (headless output, simulated guests running dmabridge-play)
 * and measures, in one run so that ratios hold on a noisy machine:
 *
 *   flips     server CPU per presented flip for each import path this
 *             host has (zero copy, be-alloc, copy), sizes and formats;
 *             each over its floor measured here: for the copy path a
 *             memcpy of the same frame, for the others what the kernel
 *             charges for a flip's two wake-ups and two notifications;
 *   latency   what the server adds to a flip (notification to the frame
 *             handed to the output), p50/p99/max, with 1, 8 and 16 guests;
 *   load      16 guests at 60 Hz: server CPU % of one core, frames
 *             presented against expected, RSS;
 *   memory    the server's own memory per connected guest;
 *   mixed     a 3840x2160 copy-path guest (three buffers: it draws while
 *             its last frame is copied) beside four 640x480 be-alloc
 *             guests: its frame rate, and what the copies add to the
 *             others' flips against the same four alone.
 *
 * Simulated guests run at nice 10: they stand for Xen guests, which run
 * on vCPUs of their own and do not take the server's CPU when they wake.
 *
 * Server CPU is the sum over its threads of /proc/<pid>/task/<tid>/schedstat
 * (nanoseconds), so copy workers count. --short runs each part briefly, for
 * CI: it fails only on an error, never on a figure. --markdown FILE writes
 * the table for docs/performance.md; --only PART runs one part. --drm CARD
 * (a path, or a driver's name: "vkms") puts the guests on that KMS device
 * instead of the headless output (the VM tier runs it on vkms): frames at
 * most as large as its screen, up to 8 guests, no mixed part.
 *
 * bench --attach PID --socket PATH [--seconds N] measures a dmabridged
 * that runs already with guests of any kind (the Xen tier's, real domains
 * running xen-drm-front): over N seconds (default 5), its CPU per flip
 * presented, against the floor of what it did (a memcpy of the octets it
 * copied per frame, or a flip's wake-ups), and what it added to the flips.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <png.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <drm_fourcc.h>

#include "tests/integration/harness.h"

static bool short_run;
static const char *only;        /* one part, or NULL for all */
static FILE *md;
static const char *play;
static char drm_card[256];      /* the drm output's device, or "" for headless */
static pid_t attach_pid;        /* --attach: a running dmabridged */
static const char *attach_socket;
static uint32_t attach_seconds = 5;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(uint32_t ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

/*
 * CPU time of pid in clock ticks, from /proc/<pid>/stat (utime and stime,
 * all its threads), in nanoseconds: for kernels without schedstat
 * (CONFIG_SCHED_INFO), as the VM tier's.
 */
static uint64_t cpu_ticks_ns(pid_t pid)
{
	char path[64], line[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	char *end = fgets(line, sizeof(line), f) ? strrchr(line, ')') : NULL;
	fclose(f);
	unsigned long long utime = 0, stime = 0;
	/* After the name: state, then fields 4 to 13, then utime and stime. */
	if (!end || sscanf(end + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
			&utime, &stime) != 2)
		return 0;
	return (utime + stime) * (1000000000ull / (unsigned long long)sysconf(_SC_CLK_TCK));
}

/* CPU time of every thread of pid, in nanoseconds. */
static uint64_t cpu_ns(pid_t pid)
{
	static int schedstat = -1;
	if (schedstat < 0)
		schedstat = access("/proc/self/schedstat", R_OK) == 0;
	if (!schedstat)
		return cpu_ticks_ns(pid);
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	DIR *d = opendir(path);
	uint64_t total = 0;
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char file[128];
		snprintf(file, sizeof(file), "/proc/%d/task/%.20s/schedstat", pid, e->d_name);
		FILE *f = fopen(file, "r");
		if (!f)
			continue; /* a thread that ended */
		unsigned long long run = 0;
		if (fscanf(f, "%llu", &run) == 1)
			total += run;
		fclose(f);
	}
	if (d)
		closedir(d);
	return total;
}

/* Times the threads of pid went to sleep (voluntary context switches). */
static uint64_t sleeps(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	DIR *d = opendir(path);
	uint64_t total = 0;
	struct dirent *e;
	static const char key[] = "voluntary_ctxt_switches:";
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char file[128];
		snprintf(file, sizeof(file), "/proc/%d/task/%.20s/status", pid, e->d_name);
		FILE *f = fopen(file, "r");
		while (f && fgets(line, sizeof(line), f)) {
			if (!strncmp(line, key, sizeof(key) - 1))
				total += strtoull(line + sizeof(key) - 1, NULL, 10);
		}
		if (f)
			fclose(f);
	}
	if (d)
		closedir(d);
	return total;
}

/* A line of /proc/<pid>/status in kB, 0 if absent. */
static uint64_t status_kb(pid_t pid, const char *key)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	FILE *f = fopen(path, "r");
	uint64_t v = 0;
	size_t len = strlen(key);
	while (f && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, len) && line[len] == ':')
			v = strtoull(line + len + 1, NULL, 10);
	}
	if (f)
		fclose(f);
	return v;
}

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The table goes to stdout, and to the markdown file when asked. */
static void out(const char *fmt, ...)
{
	va_list args;
	va_start(args, fmt);
	vprintf(fmt, args);
	va_end(args);
	if (md) {
		va_start(args, fmt);
		vfprintf(md, fmt, args);
		va_end(args);
	}
	fflush(stdout);
}

/* ---- guests ---- */

struct guest {
	pid_t pid;
};

static const char *format_name(uint32_t fourcc)
{
	return fourcc == DRM_FORMAT_RGB565 ? "RGB565" : "XRGB8888";
}

/* dmab-play showing a pattern, a flip each time the last one is on screen. */
static int guest_start_buffers(struct guest *g, struct dmab_test_server *s, const char *uid,
		uint32_t w, uint32_t h, uint32_t fourcc, bool be_alloc, unsigned int buffers,
		const char *png)
{
	char nbuf[8];
	snprintf(nbuf, sizeof(nbuf), "%u", buffers);
	char create[96];
	snprintf(create, sizeof(create), "%s:%ux%u", uid, w, h);
	const char *argv[16];
	int n = 0;
	argv[n++] = play;
	argv[n++] = "--sim-socket";
	argv[n++] = s->sim_socket;
	argv[n++] = "--create";
	argv[n++] = create;
	argv[n++] = "--format";
	argv[n++] = format_name(fourcc);
	if (be_alloc)
		argv[n++] = "--be-alloc";
	argv[n++] = "--buffers";
	argv[n++] = nbuf;
	if (png) {
		argv[n++] = "--png";
		argv[n++] = png;
	}
	argv[n] = NULL;
	fflush(NULL);
	g->pid = fork();
	if (g->pid < 0)
		return -errno;
	if (g->pid == 0) {
		FILE *null = freopen("/dev/null", "w", stdout);
		(void)null;
		/*
		 * A Xen guest runs on vCPUs of its own; a simulated one is a
		 * process on the server's CPUs. Woken by its flip event, it would
		 * take the server's CPU in the middle of its loop's work (for a
		 * slice of its drawing: milliseconds at 3840x2160), which no
		 * guest does to dom0: at nice 10 it yields to the server.
		 */
		if (setpriority(PRIO_PROCESS, 0, 10))
			perror("bench: setpriority");
		execv(play, (char *const *)argv);
		_exit(127);
	}
	return 0;
}

static int guest_start(struct guest *g, struct dmab_test_server *s, const char *uid,
		uint32_t w, uint32_t h, uint32_t fourcc, bool be_alloc)
{
	return guest_start_buffers(g, s, uid, w, h, fourcc, be_alloc, 2, NULL);
}

static void guest_stop(struct guest *g)
{
	if (g->pid <= 0)
		return;
	kill(g->pid, SIGTERM);
	int status;
	waitpid(g->pid, &status, 0);
	g->pid = 0;
}

static json_object *get(json_object *o, const char *key)
{
	json_object *v = NULL;
	json_object_object_get_ex(o, key, &v);
	return v;
}

/* Frames presented, summed over connectors; the worst of a stat over them. */
struct totals {
	int64_t frames;
	int64_t bytes_copied;
	int64_t handoff_p50, handoff_p99, handoff_max;
	unsigned int connectors;
	char import[16];
};

/* Over the connectors whose unique-id starts with prefix (NULL: all). */
static bool totals_of(struct dmab_test_server *s, struct totals *t, const char *prefix)
{
	*t = (struct totals){ 0 };
	json_object *r = dmab_ts_ctl(s, "{\"cmd\":\"stats\"}", -1);
	json_object *conns = get(r, "connectors");
	for (size_t i = 0; conns && i < json_object_array_length(conns); i++) {
		json_object *c = json_object_array_get_idx(conns, i);
		const char *uid = json_object_get_string(get(c, "unique_id"));
		if (prefix && (!uid || strncmp(uid, prefix, strlen(prefix))))
			continue;
		t->frames += json_object_get_int64(get(c, "frames"));
		t->bytes_copied += json_object_get_int64(get(c, "bytes_copied"));
		int64_t v;
		if ((v = json_object_get_int64(get(c, "handoff_p50_us"))) > t->handoff_p50)
			t->handoff_p50 = v;
		if ((v = json_object_get_int64(get(c, "handoff_p99_us"))) > t->handoff_p99)
			t->handoff_p99 = v;
		if ((v = json_object_get_int64(get(c, "handoff_max_us"))) > t->handoff_max)
			t->handoff_max = v;
		json_object *bufs = get(c, "buffers");
		json_object_object_foreach(bufs, key, val) {
			if (json_object_get_int64(val) > 0)
				snprintf(t->import, sizeof(t->import), "%s", key);
		}
		t->connectors++;
	}
	if (r)
		json_object_put(r);
	return r != NULL;
}

static bool totals(struct dmab_test_server *s, struct totals *t)
{
	return totals_of(s, t, NULL);
}

/* Wait until n connectors have presented at least min frames each, at most ms. */
static bool wait_running(struct dmab_test_server *s, unsigned int n, int64_t min, uint32_t ms)
{
	uint64_t end = dmab_ts_now_ms() + ms;
	while (dmab_ts_now_ms() < end) {
		struct totals t;
		if (totals(s, &t) && t.connectors == n && t.frames >= min * n)
			return true;
		sleep_ms(50);
	}
	return false;
}

static int server_start(struct dmab_test_server *s)
{
	static const char limits[] =
		"[limits]\nmax-buffer-bytes = 67108864\nmax-bytes = 536870912\n"
		"requests-per-second = 0\n";
	static const char *const args[] = { "--log-level", "warn", NULL };
	char config[512];
	if (drm_card[0])
		snprintf(config, sizeof(config), "[server]\noutput = drm\n[drm]\ndevice = %s\n%s",
			drm_card, limits);
	else
		snprintf(config, sizeof(config), "[screen.main]\nwidth = 3840\nheight = 2160\n%s",
			limits);
	return dmab_ts_start(s, config, args);
}

/* ---- memcpy, the floor of the copy path ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/*
 * A memcpy of size octets as the server's copy meets it: from a frame the
 * guest wrote a while ago into a shadow last written frames ago, so
 * neither is in the cache. Pairs of buffers taken in turn, more of them
 * than a last-level cache holds; the median round.
 */
static double memcpy_ms(size_t size)
{
	enum { PAIRS = 8, ROUNDS = 24 };
	uint8_t *src[PAIRS], *dst[PAIRS];
	for (int i = 0; i < PAIRS; i++) {
		src[i] = malloc(size);
		dst[i] = malloc(size);
		if (!src[i] || !dst[i])
			return 0;
		memset(src[i], 0x5a, size);
		memset(dst[i], 0, size);
	}
	double ms[ROUNDS];
	/* Not fewer in a short run: a pair's first copy is slow (its pages are new). */
	int rounds = ROUNDS;
	for (int i = 0; i < rounds; i++) {
		uint64_t t = now_ns();
		memcpy(dst[i % PAIRS], src[i % PAIRS], size);
		ms[i] = (double)(now_ns() - t) / 1e6;
		__asm__ volatile("" : : "r"(dst[i % PAIRS]) : "memory");
	}
	for (int i = 0; i < PAIRS; i++) {
		free(src[i]);
		free(dst[i]);
	}
	qsort(ms, (size_t)rounds, sizeof(ms[0]), cmp_double);
	return ms[rounds / 2];
}

/* ---- a flip's system floor ---- */

/* One event from ep, which must come from fd, read; false on anything else. */
static bool wait_read(int ep, int fd)
{
	struct epoll_event ev;
	int n;
	while ((n = epoll_wait(ep, &ev, 1, -1)) < 0 && errno == EINTR)
		;
	uint64_t v;
	return n == 1 && ev.data.fd == fd && read(fd, &v, sizeof(v)) == sizeof(v);
}

static bool notify(int fd)
{
	uint64_t one = 1;
	return write(fd, &one, sizeof(one)) == sizeof(one);
}

/*
 * What the kernel charges for a flip's unavoidable part, as dmabridged
 * meets it: sleep until the refresh (a periodic timerfd), notify the
 * guest (an eventfd write that wakes it), sleep until its next request,
 * answer it (another write that wakes it). A peer process plays the
 * guest. CPU of this thread per round, in microseconds; 0 on failure.
 */
static double flip_floor_us(void)
{
	int to_guest = eventfd(0, EFD_CLOEXEC), from_guest = eventfd(0, EFD_CLOEXEC);
	int answer = eventfd(0, EFD_CLOEXEC);
	int timer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	/* One epoll set each: a refresh that comes while the guest is late waits its turn. */
	int ep = epoll_create1(EPOLL_CLOEXEC), gep = epoll_create1(EPOLL_CLOEXEC);
	double us = 0;
	if (to_guest < 0 || from_guest < 0 || answer < 0 || timer < 0 || ep < 0 || gep < 0)
		goto out;
	fflush(NULL);
	pid_t peer = fork();
	if (peer == 0) {
		/* The guest: a request for each event, and it waits for the answer. */
		int events = epoll_create1(EPOLL_CLOEXEC), answers = epoll_create1(EPOLL_CLOEXEC);
		struct epoll_event ev = { .events = EPOLLIN, .data.fd = to_guest };
		epoll_ctl(events, EPOLL_CTL_ADD, to_guest, &ev);
		ev.data.fd = answer;
		epoll_ctl(answers, EPOLL_CTL_ADD, answer, &ev);
		while (wait_read(events, to_guest) && notify(from_guest) &&
				wait_read(answers, answer))
			;
		_exit(1);
	}
	if (peer < 0)
		goto out;
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = timer };
	epoll_ctl(ep, EPOLL_CTL_ADD, timer, &ev);
	ev.data.fd = from_guest;
	epoll_ctl(gep, EPOLL_CTL_ADD, from_guest, &ev);
	struct itimerspec period = { { 0, 16666667 }, { 0, 16666667 } };
	timerfd_settime(timer, 0, &period, NULL);
	int rounds = short_run ? 30 : 120, warmup = 10;
	uint64_t t0 = 0;
	bool ok = true;
	for (int i = 0; ok && i < warmup + rounds; i++) {
		if (i == warmup)
			t0 = thread_cpu_ns();
		/* The refresh: the guest hears of its frame; then its request, answered. */
		ok = wait_read(ep, timer) && notify(to_guest) && wait_read(gep, from_guest) &&
			notify(answer);
	}
	if (ok)
		us = (double)(thread_cpu_ns() - t0) / 1e3 / rounds;
	kill(peer, SIGKILL);
	waitpid(peer, NULL, 0);
out:
	if (gep >= 0)
		close(gep);
	if (ep >= 0)
		close(ep);
	if (timer >= 0)
		close(timer);
	if (answer >= 0)
		close(answer);
	if (from_guest >= 0)
		close(from_guest);
	if (to_guest >= 0)
		close(to_guest);
	return us;
}

/* ---- the parts ---- */

struct size {
	uint32_t width, height;
};

/* One run of the flips part: one guest, one path, size and format. */
struct flip_run {
	char import[16];
	int64_t frames;
	double fps, per, wakeups, floor_us, guest;
};

static int measure_flips(const struct size *sz, uint32_t fourcc, bool be, uint32_t run_ms,
		struct flip_run *r)
{
	uint32_t bpp = fourcc == DRM_FORMAT_RGB565 ? 2 : 4;
	*r = (struct flip_run){ 0 };
	struct dmab_test_server s;
	if (server_start(&s))
		return 1;
	struct guest g;
	/* Three buffers: the guest draws while its last frame is handled. */
	guest_start_buffers(&g, &s, "bench0", sz->width, sz->height, fourcc, be, 3, NULL);
	if (!wait_running(&s, 1, 20, 20000)) {
		fprintf(stderr, "bench: the guest did not get going\n");
		guest_stop(&g);
		dmab_ts_stop(&s);
		return 1;
	}
	struct totals t0, t1;
	totals(&s, &t0);
	uint64_t z0 = sleeps(s.pid), c0 = cpu_ns(s.pid), w0 = now_ns();
	uint64_t gc0 = cpu_ns(g.pid);
	sleep_ms(run_ms);
	uint64_t z1 = sleeps(s.pid), c1 = cpu_ns(s.pid), w1 = now_ns();
	uint64_t gc1 = cpu_ns(g.pid);
	totals(&s, &t1);
	r->frames = t1.frames - t0.frames;
	double frames = (double)r->frames;
	r->wakeups = r->frames > 0 ? (double)(z1 - z0) / frames : 0;
	/* What the guest spends drawing and flipping: at 3840x2160 it may be the limit. */
	r->guest = r->frames > 0 ? (double)(gc1 - gc0) / 1e3 / frames : 0;
	r->per = r->frames > 0 ? (double)(c1 - c0) / 1e3 / frames : 0;
	r->fps = frames * 1e9 / (double)(w1 - w0);
	snprintf(r->import, sizeof(r->import), "%s", t1.import[0] ? t1.import : "?");
	/*
	 * The copy path's floor is a memcpy of the frame; the other paths' the
	 * system's cost of a flip's wake-ups and notifications. Measured with
	 * the guest still running.
	 */
	r->floor_us = !strcmp(t1.import, "copy") ?
		memcpy_ms((size_t)sz->width * sz->height * bpp) * 1000 : flip_floor_us();
	guest_stop(&g);
	return dmab_ts_stop(&s) != 0;
}

static int cmp_run_per(const void *a, const void *b)
{
	const struct flip_run *x = a, *y = b;
	return x->per < y->per ? -1 : x->per > y->per;
}

/*
 * Each path, size and format REPEAT_MAX times, the rounds one after the
 * other (so that a noisy minute spoils one run of each, not every run of
 * one): the row is the run with the median CPU per flip.
 */
#define REPEAT_MAX 3

/* The row of one path, size and format: its median run, and each run's CPU per flip. */
static double flip_row(const struct flip_run *runs, unsigned int repeat, const struct size *sz,
		uint32_t fourcc)
{
	struct flip_run sorted[REPEAT_MAX];
	char each[96] = "";
	size_t len = 0;
	for (unsigned int rep = 0; rep < repeat; rep++) {
		sorted[rep] = runs[rep];
		len += (size_t)snprintf(each + len, sizeof(each) - len, "%s%.0f", rep ? ", " : "",
			runs[rep].per);
	}
	qsort(sorted, repeat, sizeof(*sorted), cmp_run_per);
	const struct flip_run *r = &sorted[repeat / 2];
	char ratio[32] = "-";
	if (r->floor_us > 0)
		snprintf(ratio, sizeof(ratio), "%.2fx", r->per / r->floor_us);
	out("| %s | %ux%u | %s | %" PRId64 " | %.1f | %.1f | %.1f | %.0f | %s | %.0f | %s |\n",
		r->import, sz->width, sz->height, format_name(fourcc), r->frames, r->fps, r->per,
		r->wakeups, r->floor_us, ratio, r->guest, each);
	return r->per;
}

static int part_flips(void)
{
	static const struct size headless_sizes[] = {
		{ 1280, 720 }, { 1920, 1080 }, { 3840, 2160 },
	};
	/* Within vkms's screen (1024x768). */
	static const struct size drm_sizes[] = { { 640, 480 }, { 1024, 768 } };
	static const uint32_t formats[] = { DRM_FORMAT_XRGB8888, DRM_FORMAT_RGB565 };
	const struct size *sizes = drm_card[0] ? drm_sizes : headless_sizes;
	size_t nsizes = short_run ? 1 : drm_card[0] ? 2 : 3, nformats = short_run ? 1 : 2;
	unsigned int repeat = short_run ? 1 : REPEAT_MAX;
	uint32_t run_ms = short_run ? 700 : 3000;
	int errors = 0;
	struct flip_run runs[2][3][2][REPEAT_MAX];
	memset(runs, 0, sizeof(runs));
	for (unsigned int rep = 0; rep < repeat; rep++)
		for (int be = 0; be <= 1; be++)
			for (size_t si = 0; si < nsizes; si++)
				for (size_t fi = 0; fi < nformats; fi++)
					errors += measure_flips(&sizes[si], formats[fi], be, run_ms,
						&runs[be][si][fi][rep]);

	out("\n## Server CPU per presented flip\n\n");
	if (repeat > 1)
		out("Each row the median of %u runs by CPU per flip; all of them in the last "
			"column.\n\n", repeat);
	out("| path | size | format | frames | fps | CPU per flip (us) | wake-ups per flip "
		"| floor (us) | over the floor | guest CPU per frame (us) "
		"| CPU per flip, each run (us) |\n"
		"|---|---|---|---|---|---|---|---|---|---|---|\n");
	double median[2][3][2] = { { { 0 } } };
	for (int be = 0; be <= 1; be++)
		for (size_t si = 0; si < nsizes; si++)
			for (size_t fi = 0; fi < nformats; fi++)
				median[be][si][fi] = flip_row(runs[be][si][fi], repeat, &sizes[si],
					formats[fi]);
	/* Flat: nothing per pixel on the paths without a copy. */
	if (nsizes == 3) {
		out("\nbe-alloc, 3840x2160 over 1920x1080, CPU per flip (medians): ");
		for (size_t fi = 0; fi < nformats; fi++)
			out("%s%s %.2f", fi ? ", " : "", format_name(formats[fi]),
				median[1][1][fi] > 0 ? median[1][2][fi] / median[1][1][fi] : 0);
		out("\n");
	}
	return errors;
}

static int part_latency(void)
{
	static const unsigned int counts[] = { 1, 8, 16 };
	uint32_t run_ms = short_run ? 700 : 4000;
	int errors = 0;
	out("\n## What the server adds to a flip (notification to the output), 640x480 guests\n\n");
	out("| guests | path | p50 (us) | p99 (us) | max (us) | frames | expected at 60 Hz "
		"| server CPU %% of a core | RSS (MiB) |\n|---|---|---|---|---|---|---|---|---|\n");
	/* 16 guests on an emulated CPU measure only the emulation. */
	for (size_t ci = 0; ci < (short_run ? 1 : drm_card[0] ? 2 : 3); ci++) {
		for (int be = 0; be <= 1; be++) {
			unsigned int n = counts[ci];
			struct dmab_test_server s;
			if (server_start(&s)) {
				errors++;
				continue;
			}
			struct guest g[16];
			for (unsigned int i = 0; i < n; i++) {
				char uid[16];
				snprintf(uid, sizeof(uid), "lat%u", i);
				guest_start(&g[i], &s, uid, 640, 480, DRM_FORMAT_XRGB8888, be);
			}
			if (!wait_running(&s, n, 30, 30000)) {
				fprintf(stderr, "bench: %u guests did not get going\n", n);
				errors++;
			} else {
				/* Fresh samples: the statistics keep the last 512 per connector. */
				sleep_ms(short_run ? 300 : 2000);
				struct totals t0, t1;
				totals(&s, &t0);
				uint64_t c0 = cpu_ns(s.pid), w0 = now_ns();
				sleep_ms(run_ms);
				uint64_t c1 = cpu_ns(s.pid), w1 = now_ns();
				totals(&s, &t1);
				double secs = (double)(w1 - w0) / 1e9;
				out("| %u | %s | %" PRId64 " | %" PRId64 " | %" PRId64 " | %" PRId64
					" | %.0f | %.1f | %.1f |\n", n, t1.import, t1.handoff_p50,
					t1.handoff_p99, t1.handoff_max, t1.frames - t0.frames,
					secs * 60 * n, (double)(c1 - c0) / 1e7 / secs,
					(double)status_kb(s.pid, "VmRSS") / 1024);
			}
			for (unsigned int i = 0; i < n; i++)
				guest_stop(&g[i]);
			if (dmab_ts_stop(&s) != 0)
				errors++;
		}
	}
	return errors;
}

static int part_memory(void)
{
	unsigned int n = short_run ? 4 : 16;
	struct dmab_test_server s;
	if (server_start(&s))
		return 1;
	sleep_ms(200);
	uint64_t anon0 = status_kb(s.pid, "RssAnon"), rss0 = status_kb(s.pid, "VmRSS");
	struct guest g[16];
	for (unsigned int i = 0; i < n; i++) {
		char uid[16];
		snprintf(uid, sizeof(uid), "mem%u", i);
		guest_start(&g[i], &s, uid, 640, 480, DRM_FORMAT_XRGB8888, false);
	}
	int errors = wait_running(&s, n, 10, 30000) ? 0 : 1;
	uint64_t anon1 = status_kb(s.pid, "RssAnon"), rss1 = status_kb(s.pid, "VmRSS");
	out("\n## The server's memory per connected guest (640x480, 2 buffers each)\n\n");
	out("| guests | anonymous memory (KiB) | per guest (KiB) | RSS with mapped guest pages "
		"(KiB) |\n|---|---|---|---|\n");
	out("| 0 | %" PRIu64 " | - | %" PRIu64 " |\n", anon0, rss0);
	out("| %u | %" PRIu64 " | %.0f | %" PRIu64 " |\n", n, anon1,
		(double)(anon1 - anon0) / n, rss1);
	for (unsigned int i = 0; i < n; i++)
		guest_stop(&g[i]);
	if (dmab_ts_stop(&s) != 0)
		errors++;
	return errors;
}

/* A still picture for a guest that draws nothing per frame. */
static bool write_png(const char *path, uint32_t width, uint32_t height)
{
	size_t stride = (size_t)width * 4;
	void *pixels = malloc(stride * height);
	if (!pixels)
		return false;
	dmab_ts_fill(pixels, (uint32_t)stride, width, height, 7);
	png_image image = { .version = PNG_IMAGE_VERSION, .width = width, .height = height,
		.format = PNG_FORMAT_BGRA };
	bool ok = png_image_write_to_file(&image, path, 0, pixels, (png_int_32)stride, NULL) != 0;
	free(pixels);
	return ok;
}

/*
 * Does a copy hold other guests' flips? Four 640x480 be-alloc guests
 * alone, then the same four beside a 3840x2160 XRGB8888 copy-path guest
 * (33 MB a frame) with three buffers, each on a server of its own: the
 * four's added latency (their own handoffs, notification to output) in
 * each, and the big guest's frame rate and server CPU per frame. The big
 * guest runs twice: drawing dmabridge-play's pattern (about 11 ms of its
 * own CPU a frame, on the CPUs the server has: a simulated guest is a
 * process of this machine, where a Xen guest has vCPUs of its own), and
 * showing a still picture, flipped as fast as it goes (every frame copied
 * all the same), which leaves the copies as the only load beside the four.
 */
static int part_mixed(void)
{
	unsigned int n = 4;
	uint32_t run_ms = short_run ? 700 : 6000;
	int errors = 0;
	if (drm_card[0]) {
		out("\n(No mixed part on a KMS device: its 3840x2160 guest needs a 3840x2160 "
			"screen.)\n");
		return 0;
	}
	static const char *const runs[] = { "the four alone", "beside a big guest drawing",
		"beside a big guest's still picture" };
	char png[160] = "";
	out("\n## A 3840x2160 copy-path guest beside four 640x480 be-alloc guests\n\n");
	out("| run | the four: p50 (us) | p99 (us) | max (us) | frames | expected at 60 Hz "
		"| big guest: path | fps | its server CPU per frame (us) "
		"| server CPU %% of a core |\n"
		"|---|---|---|---|---|---|---|---|---|---|\n");
	for (int run = 0; run < 3; run++) {
		bool with_big = run > 0;
		struct dmab_test_server s;
		if (server_start(&s)) {
			errors++;
			continue;
		}
		if (run == 2) {
			snprintf(png, sizeof(png), "%s/still.png", s.dir);
			if (!write_png(png, 3840, 2160)) {
				fprintf(stderr, "bench: cannot write %s\n", png);
				errors++;
				dmab_ts_stop(&s);
				continue;
			}
		}
		struct guest g[4], big = { 0 };
		for (unsigned int i = 0; i < n; i++) {
			char uid[16];
			snprintf(uid, sizeof(uid), "small%u", i);
			guest_start(&g[i], &s, uid, 640, 480, DRM_FORMAT_XRGB8888, true);
		}
		if (with_big)
			guest_start_buffers(&big, &s, "big", 3840, 2160, DRM_FORMAT_XRGB8888,
				false, 3, run == 2 ? png : NULL);
		if (!wait_running(&s, n + (unsigned int)with_big, 20, 30000)) {
			fprintf(stderr, "bench: the mixed guests did not get going\n");
			errors++;
		} else {
			sleep_ms(short_run ? 300 : 2000);
			struct totals s0, s1, b0 = { 0 }, b1 = { 0 };
			totals_of(&s, &s0, "small");
			if (with_big)
				totals_of(&s, &b0, "big");
			uint64_t c0 = cpu_ns(s.pid), w0 = now_ns();
			sleep_ms(run_ms);
			uint64_t c1 = cpu_ns(s.pid), w1 = now_ns();
			totals_of(&s, &s1, "small");
			if (with_big)
				totals_of(&s, &b1, "big");
			double secs = (double)(w1 - w0) / 1e9;
			double cpu_pct = (double)(c1 - c0) / 1e7 / secs;
			out("| %s | %" PRId64 " | %" PRId64 " | %" PRId64 " | %" PRId64 " | %.0f ",
				runs[run], s1.handoff_p50, s1.handoff_p99, s1.handoff_max,
				s1.frames - s0.frames, secs * 60 * n);
			if (with_big) {
				int64_t bf = b1.frames - b0.frames;
				/* All of the server's CPU over the big guest's frames: the four's
				 * own share is what the run without it took. */
				out("| %s | %.1f | %.0f | %.1f |\n", b1.import, (double)bf / secs,
					bf > 0 ? (double)(c1 - c0) / 1e3 / (double)bf : 0, cpu_pct);
			} else {
				out("| - | - | - | %.1f |\n", cpu_pct);
			}
		}
		for (unsigned int i = 0; i < n; i++)
			guest_stop(&g[i]);
		if (with_big)
			guest_stop(&big);
		if (dmab_ts_stop(&s) != 0)
			errors++;
	}
	return errors;
}

/* A dmabridged running already, with whatever guests it has. */
static int part_attached(void)
{
	struct dmab_test_server s = { .pid = attach_pid };
	snprintf(s.control_socket, sizeof(s.control_socket), "%s", attach_socket);
	struct totals t0, t1;
	if (!totals(&s, &t0) || t0.connectors == 0) {
		fprintf(stderr, "bench: no connector at %s\n", attach_socket);
		return 1;
	}
	uint64_t z0 = sleeps(s.pid), c0 = cpu_ns(s.pid), w0 = now_ns();
	sleep_ms(attach_seconds * 1000);
	uint64_t z1 = sleeps(s.pid), c1 = cpu_ns(s.pid), w1 = now_ns();
	if (!totals(&s, &t1) || c1 == 0) {
		fprintf(stderr, "bench: dmabridged %d went away\n", (int)s.pid);
		return 1;
	}
	int64_t frames = t1.frames - t0.frames;
	double secs = (double)(w1 - w0) / 1e9;
	double per = frames > 0 ? (double)(c1 - c0) / 1e3 / (double)frames : 0;
	double wakeups = frames > 0 ? (double)(z1 - z0) / (double)frames : 0;
	/* The floor of what it did: the octets it copied per frame, or a flip's wake-ups. */
	int64_t copied = frames > 0 ? (t1.bytes_copied - t0.bytes_copied) / frames : 0;
	double floor_us = copied > 0 ? memcpy_ms((size_t)copied) * 1000 : flip_floor_us();
	out("\n## dmabridged %d, %u connectors, %u s\n\n", (int)s.pid, t1.connectors,
		attach_seconds);
	out("| path | frames | fps | CPU per flip (us) | wake-ups per flip "
		"| octets copied per frame | floor (us) | over the floor | p50 (us) | p99 (us) "
		"| max (us) | server CPU %% of a core |\n"
		"|---|---|---|---|---|---|---|---|---|---|---|---|\n");
	out("| %s | %" PRId64 " | %.1f | %.1f | %.1f | %" PRId64 " | %.0f | %.2fx | %" PRId64
		" | %" PRId64 " | %" PRId64 " | %.1f |\n", t1.import[0] ? t1.import : "?", frames,
		(double)frames / secs, per, wakeups, copied, floor_us,
		floor_us > 0 ? per / floor_us : 0, t1.handoff_p50, t1.handoff_p99, t1.handoff_max,
		(double)(c1 - c0) / 1e7 / secs);
	if (frames <= 0) {
		fprintf(stderr, "bench: no frame presented in %u s\n", attach_seconds);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--short")) {
			short_run = true;
		} else if (!strcmp(argv[i], "--only") && i + 1 < argc) {
			only = argv[++i];
		} else if (!strcmp(argv[i], "--drm") && i + 1 < argc) {
			const char *card = argv[++i];
			if (card[0] == '/') {
				snprintf(drm_card, sizeof(drm_card), "%s", card);
			} else if (!dmab_ts_find_card(card, drm_card, sizeof(drm_card))) {
				fprintf(stderr, "bench: no DRM card of the driver %s: skipped\n",
					card);
				return 77;
			}
		} else if (!strcmp(argv[i], "--attach") && i + 1 < argc) {
			attach_pid = (pid_t)atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--socket") && i + 1 < argc) {
			attach_socket = argv[++i];
		} else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
			attach_seconds = (uint32_t)atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--markdown") && i + 1 < argc) {
			md = fopen(argv[++i], "w");
			if (!md) {
				perror(argv[i]);
				return 2;
			}
		} else {
			fprintf(stderr, "usage: bench [--short] [--only flips|latency|memory|mixed] "
				"[--drm CARD] [--markdown FILE]\n"
				"       bench --attach PID --socket PATH [--seconds N] "
				"[--markdown FILE]\n");
			return 2;
		}
	}
	if (attach_pid > 0 || attach_socket) {
		if (attach_pid <= 0 || !attach_socket || attach_seconds == 0) {
			fprintf(stderr, "bench: --attach PID --socket PATH, and --seconds N "
				"above 0\n");
			return 2;
		}
		out("# dmabridge benchmark\n\n%ld CPUs, attached to a running dmabridged\n",
			sysconf(_SC_NPROCESSORS_ONLN));
		int errors = part_attached();
		if (md)
			fclose(md);
		return errors ? 1 : 0;
	}
	play = getenv("DMABRIDGE_PLAY");
	if (!play || !getenv("DMABRIDGED")) {
		fprintf(stderr, "bench: $DMABRIDGED and $DMABRIDGE_PLAY name the programs\n");
		return 2;
	}
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	char output[300] = "headless output";
	if (drm_card[0])
		snprintf(output, sizeof(output), "drm output on %s", drm_card);
	out("# dmabridge benchmark\n\n%ld CPUs, %s host, simulator, %s%s\n",
		cpus, access("/dev/dma_heap/system", R_OK) == 0 ? "dma-buf heap on this" :
		"no dma-buf heap on this", output,
		short_run ? " (short run: figures are rough)" : "");
	int errors = 0;
	if (!only || !strcmp(only, "flips"))
		errors += part_flips();
	if (!only || !strcmp(only, "latency"))
		errors += part_latency();
	if (!only || !strcmp(only, "memory"))
		errors += part_memory();
	if (!only || !strcmp(only, "mixed"))
		errors += part_mixed();
	if (md)
		fclose(md);
	if (errors)
		fprintf(stderr, "bench: %d errors\n", errors);
	return errors ? 1 : 0;
}
