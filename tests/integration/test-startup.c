// SPDX-License-Identifier: MIT
/*
 * dmabridged starting up:
 * - its default sockets go into a runtime directory only its user may
 *   write, made 0700, and are 0600 even with umask 000 (whoever connects
 *   to the simulator's socket becomes a guest); dmabridgectl and the
 *   client library find them there without being told;
 * - a runtime directory others may write, a symlink, or another user's
 *   is refused, and dmabridged does not start;
 * - SIGHUP, SIGTERM and SIGINT in its first moments (while it reads its
 *   configuration, and while it sets up) wait for the event loop instead
 *   of killing it: SIGHUP reloads, the others stop it in order.
 *
 *   test-startup [NAME]...   (no argument runs them all)
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/integration/harness.h"

#define START_MS 10000
#define STARTS 50

static int failures;

static void sleep_ms(uint32_t ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

/* A dmabridged of our own making: environment, umask, arguments as the test needs. */
struct daemon {
	pid_t pid;
	char dir[64];                   /* scratch directory */
	char log[96];
	int status;                     /* once reaped */
	bool reaped;
};

static int scratch(struct daemon *d)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->dir, sizeof(d->dir), "/tmp/dmab-start-XXXXXX");
	if (!mkdtemp(d->dir))
		return -errno;
	snprintf(d->log, sizeof(d->log), "%s/dmabridged.log", d->dir);
	return 0;
}

/*
 * Start dmabridged with argv (NULL-terminated, after the program) and, if
 * runtime is not NULL, XDG_RUNTIME_DIR=runtime and no socket variables.
 */
static int launch(struct daemon *d, const char *runtime, mode_t mask, const char *const *args)
{
	const char *bin = getenv("DMABRIDGED");
	if (!bin)
		return -EINVAL;
	const char *argv[16] = { bin };
	for (int i = 0; args && args[i] && i < 14; i++)
		argv[i + 1] = args[i];
	fflush(NULL);
	d->pid = fork();
	if (d->pid < 0)
		return -errno;
	if (d->pid == 0) {
		int log = open(d->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (log >= 0) {
			dup2(log, STDOUT_FILENO);
			dup2(log, STDERR_FILENO);
		}
		if (runtime) {
			setenv("XDG_RUNTIME_DIR", runtime, 1);
			unsetenv("DMABRIDGE_SOCKET");
			unsetenv("DMABRIDGE_SIM_SOCKET");
		}
		umask(mask);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	return 0;
}

/* Reap it if it ended; whether it did. */
static bool ended(struct daemon *d)
{
	if (!d->reaped && waitpid(d->pid, &d->status, WNOHANG) == d->pid)
		d->reaped = true;
	return d->reaped;
}

static bool wait_ended(struct daemon *d, uint32_t timeout_ms)
{
	uint64_t deadline = dmab_ts_now_ms() + timeout_ms;
	while (!ended(d) && dmab_ts_now_ms() < deadline)
		sleep_ms(5);
	return d->reaped;
}

static bool answers(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(addr.sun_path))
		return false;
	memcpy(addr.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

/* Until the control socket answers; false if it died first or took too long. */
static bool wait_up(struct daemon *d, const char *control)
{
	uint64_t deadline = dmab_ts_now_ms() + START_MS;
	while (dmab_ts_now_ms() < deadline) {
		if (answers(control))
			return true;
		if (ended(d))
			return false;
		sleep_ms(5);
	}
	return false;
}

static int count_lines(const char *path, const char *needle)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	char line[1024];
	int n = 0;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

static void dump(const struct daemon *d)
{
	FILE *f = fopen(d->log, "r");
	if (!f)
		return;
	char line[1024];
	fprintf(stderr, "---- dmabridged log ----\n");
	while (fgets(line, sizeof(line), f))
		fputs(line, stderr);
	fprintf(stderr, "---- end of log ----\n");
	fclose(f);
}

/* Stop it with SIGTERM; whether it stopped in order (exit status 0). */
static bool stop(struct daemon *d)
{
	if (!ended(d))
		kill(d->pid, SIGTERM);
	if (!wait_ended(d, START_MS)) {
		kill(d->pid, SIGKILL);
		waitpid(d->pid, &d->status, 0);
		d->reaped = true;
		fprintf(stderr, "dmabridged did not stop\n");
		return false;
	}
	bool ok = WIFEXITED(d->status) && WEXITSTATUS(d->status) == 0;
	if (!ok)
		fprintf(stderr, "dmabridged ended with status %#x\n", d->status);
	return ok;
}

static void cleanup(struct daemon *d, bool failed)
{
	if (failed)
		dump(d);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", d->dir);
}

static mode_t mode_of(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0 ? st.st_mode : 0;
}

/* ---- where the sockets go ---- */

static int guest_default_socket(void *data)
{
	const char *runtime = data;
	setenv("XDG_RUNTIME_DIR", runtime, 1);
	unsetenv("DMABRIDGE_SIM_SOCKET");
	static const struct dmab_client_connector_spec spec = { 160, 100, NULL };
	struct dmab_client_options options = {
		.hv = DMAB_CLIENT_HV_SIM,       /* sim_socket NULL: the default */
		.create_device = true,
		.connectors = &spec,
		.connector_count = 1,
	};
	struct dmab_client *client;
	GUEST_CHECK(dmab_client_connect(&options, &client) == 0);
	dmab_client_destroy(client);
	return 0;
}

static void test_sockets(void)
{
	fprintf(stderr, "== sockets\n");
	int failures_at = failures;
	struct daemon d;
	if (scratch(&d)) {
		failures++;
		return;
	}
	char runtime[96], control[128], sim[128], cmd[512];
	snprintf(runtime, sizeof(runtime), "%s/run", d.dir);
	snprintf(control, sizeof(control), "%s/dmabridge.sock", runtime);
	snprintf(sim, sizeof(sim), "%s/dmabridge-sim.sock", runtime);
	static const char *const args[] = { "--log-level", "debug", NULL };

	/* umask 000: what it makes must not follow it. */
	CHECK(launch(&d, runtime, 0, args) == 0);
	CHECK(wait_up(&d, control));
	CHECK((mode_of(runtime) & 07777) == 0700 && S_ISDIR(mode_of(runtime)));
	CHECK((mode_of(control) & 07777) == 0600 && S_ISSOCK(mode_of(control)));
	CHECK((mode_of(sim) & 07777) == 0600 && S_ISSOCK(mode_of(sim)));
	fprintf(stderr, "runtime directory %o, control socket %o, simulator socket %o\n",
		mode_of(runtime) & 07777, mode_of(control) & 07777, mode_of(sim) & 07777);

	/* The clients find both without being told. */
	const char *ctl = getenv("DMABRIDGECTL");
	CHECK(ctl != NULL);
	if (ctl) {
		snprintf(cmd, sizeof(cmd), "env -u DMABRIDGE_SOCKET XDG_RUNTIME_DIR='%s' '%s' "
			"status >/dev/null", runtime, ctl);
		CHECK(system(cmd) == 0);
	}
	pid_t guest = dmab_ts_guest(guest_default_socket, runtime);
	CHECK(dmab_ts_guest_wait(guest, START_MS) == 0);
	CHECK(count_lines(d.log, "vdispl0: new device") == 1);

	CHECK(stop(&d));
	/* It takes its sockets with it, and leaves the directory for the next one. */
	CHECK(mode_of(control) == 0 && mode_of(sim) == 0);
	CHECK(S_ISDIR(mode_of(runtime)));
	cleanup(&d, failures != failures_at);
}

/* A runtime directory that is not its user's alone: dmabridged does not start. */
static void refused(const char *what, void (*spoil)(const char *runtime, const char *dir))
{
	fprintf(stderr, "== refused: %s\n", what);
	int failures_at = failures;
	struct daemon d;
	if (scratch(&d)) {
		failures++;
		return;
	}
	char runtime[96];
	snprintf(runtime, sizeof(runtime), "%s/run", d.dir);
	spoil(runtime, d.dir);
	CHECK(launch(&d, runtime, 022, NULL) == 0);
	CHECK(wait_ended(&d, START_MS));
	if (!d.reaped)
		stop(&d);
	CHECK(WIFEXITED(d.status) && WEXITSTATUS(d.status) != 0);
	CHECK(count_lines(d.log, "is not a directory of this user's alone") == 1);
	char sock[128];
	snprintf(sock, sizeof(sock), "%s/dmabridge-sim.sock", runtime);
	CHECK(mode_of(sock) == 0);
	cleanup(&d, failures != failures_at);
}

static void open_to_all(const char *runtime, const char *dir)
{
	mkdir(runtime, 0700);
	chmod(runtime, 01777);
}

static void symlinked(const char *runtime, const char *dir)
{
	char real[128];
	snprintf(real, sizeof(real), "%s/real", dir);
	mkdir(real, 0700);
	if (symlink(real, runtime) < 0)
		failures++;
}

static void someone_elses(const char *runtime, const char *dir)
{
	mkdir(runtime, 0700);
	if (chown(runtime, 65534, 65534) < 0)
		failures++;
}

static void test_refused(void)
{
	refused("others may write it", open_to_all);
	refused("a symlink", symlinked);
	/* Only root can give a directory away. */
	if (geteuid() == 0)
		refused("another user's", someone_elses);
}

/* ---- signals before the loop runs ---- */

static const char config[] = "[screen.main]\nwidth = 320\nheight = 240\n";

/*
 * Catch dmabridged in the middle of reading its configuration: the file is
 * a FIFO, so it waits there until we write it. The signal comes then; the
 * FIFO is replaced by a plain file with the same text before it is
 * written, so a reload reads that.
 */
static void early_signal(int sig)
{
	fprintf(stderr, "== %s while reading the configuration\n", strsignal(sig));
	int failures_at = failures;
	struct daemon d;
	if (scratch(&d)) {
		failures++;
		return;
	}
	char cfg[96], plain[96], sim[96], control[96];
	snprintf(cfg, sizeof(cfg), "%s/dmabridged.ini", d.dir);
	snprintf(plain, sizeof(plain), "%s/plain.ini", d.dir);
	snprintf(sim, sizeof(sim), "%s/sim.sock", d.dir);
	snprintf(control, sizeof(control), "%s/control.sock", d.dir);
	FILE *f = fopen(plain, "w");
	CHECK(f && fputs(config, f) >= 0 && fclose(f) == 0);
	CHECK(mkfifo(cfg, 0600) == 0);
	const char *const args[] = { "-c", cfg, "--sim-socket", sim, "--control-socket", control,
		NULL };
	CHECK(launch(&d, NULL, 077, args) == 0);

	/* Blocks until dmabridged opens it: then it is running its main(). */
	int fifo = open(cfg, O_WRONLY | O_CLOEXEC);
	CHECK(fifo >= 0);
	CHECK(kill(d.pid, sig) == 0);
	CHECK(rename(plain, cfg) == 0);
	if (fifo >= 0) {
		CHECK(write(fifo, config, strlen(config)) == (ssize_t)strlen(config));
		close(fifo);
	}

	if (sig == SIGHUP) {
		/* It comes up, then reloads once the loop takes the signal. */
		CHECK(wait_up(&d, control));
		uint64_t deadline = dmab_ts_now_ms() + START_MS;
		while (count_lines(d.log, "reloaded") < 1 && dmab_ts_now_ms() < deadline &&
				!ended(&d))
			sleep_ms(5);
		CHECK(count_lines(d.log, "reloaded") == 1);
		CHECK(stop(&d));
	} else {
		/* It stops, in order, as soon as it can. */
		CHECK(wait_ended(&d, START_MS));
		if (!d.reaped)
			stop(&d);
		if (WIFSIGNALED(d.status))
			fprintf(stderr, "dmabridged died of %s\n", strsignal(WTERMSIG(d.status)));
		CHECK(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 0);
		CHECK(count_lines(d.log, "stopping") == 1);
	}
	cleanup(&d, failures != failures_at);
}

/* SIGHUP while it sets up (its first line is out), start after start. */
static void test_hup_at_start(void)
{
	fprintf(stderr, "== SIGHUP while setting up, %d starts\n", STARTS);
	int failures_at = failures;
	struct daemon d;
	if (scratch(&d)) {
		failures++;
		return;
	}
	char sim[96], control[96];
	snprintf(sim, sizeof(sim), "%s/sim.sock", d.dir);
	snprintf(control, sizeof(control), "%s/control.sock", d.dir);
	const char *const args[] = { "--sim-socket", sim, "--control-socket", control,
		"--log-level", "debug", NULL };
	int died = 0;
	for (int i = 0; i < STARTS && failures == failures_at; i++) {
		unlink(d.log);
		CHECK(launch(&d, NULL, 077, args) == 0);
		uint64_t deadline = dmab_ts_now_ms() + START_MS;
		struct stat st;
		while ((stat(d.log, &st) < 0 || st.st_size == 0) && !ended(&d) &&
				dmab_ts_now_ms() < deadline)
			;
		kill(d.pid, SIGHUP);
		if (!wait_up(&d, control)) {
			died++;
			if (d.reaped && WIFSIGNALED(d.status))
				fprintf(stderr, "start %d: dmabridged died of %s\n", i,
					strsignal(WTERMSIG(d.status)));
			failures++;
		}
		CHECK(stop(&d));
		d.reaped = false;
	}
	CHECK(died == 0);
	cleanup(&d, failures != failures_at);
}

static void test_early_signals(void)
{
	early_signal(SIGHUP);
	early_signal(SIGTERM);
	early_signal(SIGINT);
	test_hup_at_start();
}

static const struct {
	const char *name;
	void (*fn)(void);
} tests[] = {
	{ "sockets", test_sockets },
	{ "refused", test_refused },
	{ "early-signals", test_early_signals },
};

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
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
