// SPDX-License-Identifier: MIT
/* common/: rate limits of log lines, the sockets' default directory. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/paths.h"

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

/* How many of n lines one limit lets through now. */
static unsigned int allowed(struct dmab_ratelimit *rl, unsigned int n)
{
	unsigned int yes = 0;
	for (unsigned int i = 0; i < n; i++)
		yes += dmab_ratelimit_allow(rl, NULL);
	return yes;
}

static void ratelimit_window(void **state)
{
	struct dmab_ratelimit rl = { .interval_ms = 200, .burst = 3 };
	uint32_t dropped = 99;
	assert_true(dmab_ratelimit_allow(&rl, &dropped));
	assert_int_equal(dropped, 0);
	assert_int_equal(allowed(&rl, 10), 2);
	/* The next window's first line says how many were held back. */
	sleep_ms(250);
	assert_true(dmab_ratelimit_allow(&rl, &dropped));
	assert_int_equal(dropped, 8);
	assert_true(dmab_ratelimit_allow(&rl, &dropped));
	assert_int_equal(dropped, 0);
}

static void ratelimit_parent(void **state)
{
	struct dmab_ratelimit all = { .interval_ms = 60000, .burst = 4 };
	struct dmab_ratelimit a = { .interval_ms = 60000, .burst = 3, .parent = &all };
	struct dmab_ratelimit b = a;
	assert_int_equal(allowed(&a, 10), 3);
	/* Room for one more over both. */
	assert_int_equal(allowed(&b, 10), 1);
	/* What the parent held back is counted where the line came from. */
	assert_int_equal(b.suppressed, 9);
	assert_int_equal(a.suppressed, 7);
}

static void table_keys(void **state)
{
	const struct dmab_ratelimit per_key[2] = {
		{ .interval_ms = 60000, .burst = 2 },
		{ .interval_ms = 60000, .burst = 5 },
	};
	const struct dmab_ratelimit all[2] = {
		{ .interval_ms = 60000, .burst = 100 },
		{ .interval_ms = 60000, .burst = 100 },
	};
	struct dmab_ratelimit_table *t = dmab_ratelimit_table_create(2, 2, per_key, all);
	assert_non_null(t);

	/* A key's limit is the same one however often it is asked for: it lasts. */
	assert_int_equal(allowed(dmab_ratelimit_table_get(t, 7, 0), 1), 1);
	assert_int_equal(allowed(dmab_ratelimit_table_get(t, 7, 0), 5), 1);
	/* Classes apart, keys apart. */
	assert_int_equal(allowed(dmab_ratelimit_table_get(t, 7, 1), 10), 5);
	assert_int_equal(allowed(dmab_ratelimit_table_get(t, 8, 0), 10), 2);

	/* A third key takes the place of the one used longest ago (7). */
	dmab_ratelimit_table_get(t, 8, 1);
	assert_int_equal(allowed(dmab_ratelimit_table_get(t, 9, 0), 10), 2);
	assert_int_equal(allowed(dmab_ratelimit_table_get(t, 8, 0), 10), 0);
	assert_int_equal(allowed(dmab_ratelimit_table_get(t, 7, 0), 10), 2);
	dmab_ratelimit_table_destroy(t);
	dmab_ratelimit_table_destroy(NULL);
}

static void table_all_keys(void **state)
{
	const struct dmab_ratelimit per_key = { .interval_ms = 60000, .burst = 10 };
	const struct dmab_ratelimit all = { .interval_ms = 60000, .burst = 25 };
	struct dmab_ratelimit_table *t = dmab_ratelimit_table_create(64, 1, &per_key, &all);
	assert_non_null(t);
	/* Many keys, each within its own limit: together no more than the limit over all. */
	unsigned int yes = 0;
	for (uint64_t key = 0; key < 50; key++)
		yes += allowed(dmab_ratelimit_table_get(t, key, 0), 10);
	assert_int_equal(yes, 25);
	dmab_ratelimit_table_destroy(t);
}

/* ---- the sockets' directory ---- */

static void make_base(char *base, size_t len)
{
	snprintf(base, len, "/tmp/dmab-paths-XXXXXX");
	assert_non_null(mkdtemp(base));
}

static void private_dir(void **state)
{
	char base[64], dir[96], link[96], file[96];
	make_base(base, sizeof(base));
	snprintf(dir, sizeof(dir), "%s/run", base);
	snprintf(link, sizeof(link), "%s/link", base);
	snprintf(file, sizeof(file), "%s/file", base);

	/* Made 0700 whatever the umask, then found fine. */
	mode_t was = umask(0);
	assert_int_equal(dmab_private_dir(dir, false), -ENOENT);
	assert_int_equal(dmab_private_dir(dir, true), 0);
	umask(was);
	struct stat st;
	assert_int_equal(lstat(dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(dmab_private_dir(dir, true), 0);
	assert_int_equal(dmab_private_dir(dir, false), 0);

	/* Others may write it: refused, and not mended behind the owner's back. */
	assert_int_equal(chmod(dir, 0777), 0);
	assert_int_equal(dmab_private_dir(dir, true), -EACCES);
	assert_int_equal(chmod(dir, 0770), 0);
	assert_int_equal(dmab_private_dir(dir, false), -EACCES);
	assert_int_equal(chmod(dir, 0755), 0);
	assert_int_equal(dmab_private_dir(dir, false), 0);

	/* A symlink to a perfectly good directory is still refused, and so is a file. */
	assert_int_equal(symlink(dir, link), 0);
	assert_int_equal(dmab_private_dir(link, true), -ENOTDIR);
	FILE *f = fopen(file, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(dmab_private_dir(file, true), -ENOTDIR);

	/* Another user's, taken first: refused (root can make one to try). */
	if (geteuid() == 0) {
		assert_int_equal(chown(dir, 65534, 65534), 0);
		assert_int_equal(dmab_private_dir(dir, true), -EPERM);
	}
	unlink(link);
	unlink(file);
	rmdir(dir);
	rmdir(base);
}

static void runtime_dir(void **state)
{
	char base[64], buf[128], sock[128];
	make_base(base, sizeof(base));
	char *saved = getenv("XDG_RUNTIME_DIR") ? strdup(getenv("XDG_RUNTIME_DIR")) : NULL;
	unsetenv(DMAB_ENV_SOCKET);
	unsetenv(DMAB_ENV_SIM_SOCKET);

	setenv("XDG_RUNTIME_DIR", base, 1);
	assert_string_equal(dmab_runtime_dir_path(buf, sizeof(buf)), base);
	assert_int_equal(chmod(base, 0700), 0);
	assert_non_null(dmab_default_control_socket(sock, sizeof(sock)));
	snprintf(buf, sizeof(buf), "%s/dmabridge.sock", base);
	assert_string_equal(sock, buf);
	assert_non_null(dmab_default_socket(sock, sizeof(sock), DMAB_ENV_SIM_SOCKET,
		"dmabridge-sim.sock"));
	snprintf(buf, sizeof(buf), "%s/dmabridge-sim.sock", base);
	assert_string_equal(sock, buf);
	/* A runtime directory others may write gives no default at all. */
	assert_int_equal(chmod(base, 0777), 0);
	assert_null(dmab_default_control_socket(sock, sizeof(sock)));
	/* The variables name a socket outright, wherever. */
	setenv(DMAB_ENV_SOCKET, "/somewhere/ctl.sock", 1);
	assert_string_equal(dmab_default_control_socket(sock, sizeof(sock)), "/somewhere/ctl.sock");
	unsetenv(DMAB_ENV_SOCKET);
	assert_null(dmab_default_control_socket(sock, 8));

	/* Without XDG_RUNTIME_DIR: root's, and everyone else's own. */
	unsetenv("XDG_RUNTIME_DIR");
	if (geteuid() == 0) {
		assert_string_equal(dmab_runtime_dir_path(buf, sizeof(buf)), "/run/dmabridge");
		fflush(NULL);
		pid_t pid = fork();
		if (pid == 0) {
			if (setuid(65534) < 0 || !dmab_runtime_dir_path(buf, sizeof(buf)))
				_exit(2);
			_exit(strcmp(buf, "/tmp/dmabridge-65534") ? 1 : 0);
		}
		int status;
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	} else {
		snprintf(sock, sizeof(sock), "/tmp/dmabridge-%u", (unsigned int)geteuid());
		assert_string_equal(dmab_runtime_dir_path(buf, sizeof(buf)), sock);
	}
	if (saved)
		setenv("XDG_RUNTIME_DIR", saved, 1);
	free(saved);
	rmdir(base);
}

/*
 * Root in a login session (XDG_RUNTIME_DIR of its own, no socket there)
 * finds the socket of dmabridged running as a system service.
 */
static void find_socket(void **state)
{
	char session[64], system[64], buf[160], want[160];
	make_base(session, sizeof(session));
	make_base(system, sizeof(system));
	assert_int_equal(chmod(session, 0700), 0);
	assert_int_equal(chmod(system, 0700), 0);
	char *saved = getenv("XDG_RUNTIME_DIR") ? strdup(getenv("XDG_RUNTIME_DIR")) : NULL;
	unsetenv(DMAB_ENV_SOCKET);
	setenv("XDG_RUNTIME_DIR", session, 1);
	char in_session[160], in_system[160];
	snprintf(in_session, sizeof(in_session), "%s/dmabridge.sock", session);
	snprintf(in_system, sizeof(in_system), "%s/dmabridge.sock", system);

	/* Neither exists: the session's, for the error message. */
	assert_string_equal(dmab_find_socket(buf, sizeof(buf), DMAB_ENV_SOCKET, "dmabridge.sock",
		system), in_session);
	int fd = open(in_system, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	snprintf(want, sizeof(want), "%s", geteuid() == 0 ? in_system : in_session);
	assert_string_equal(dmab_find_socket(buf, sizeof(buf), DMAB_ENV_SOCKET, "dmabridge.sock",
		system), want);
	/* A system directory others may write is not looked into. */
	assert_int_equal(chmod(system, 0777), 0);
	assert_string_equal(dmab_find_socket(buf, sizeof(buf), DMAB_ENV_SOCKET, "dmabridge.sock",
		system), in_session);
	assert_int_equal(chmod(system, 0700), 0);
	/* The session's socket, where there is one, first. */
	fd = open(in_session, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_string_equal(dmab_find_socket(buf, sizeof(buf), DMAB_ENV_SOCKET, "dmabridge.sock",
		system), in_session);
	/* And the variable above all. */
	setenv(DMAB_ENV_SOCKET, "/somewhere/ctl.sock", 1);
	assert_string_equal(dmab_find_socket(buf, sizeof(buf), DMAB_ENV_SOCKET, "dmabridge.sock",
		system), "/somewhere/ctl.sock");
	unsetenv(DMAB_ENV_SOCKET);

	unlink(in_session);
	unlink(in_system);
	rmdir(session);
	rmdir(system);
	if (saved)
		setenv("XDG_RUNTIME_DIR", saved, 1);
	else
		unsetenv("XDG_RUNTIME_DIR");
	free(saved);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ratelimit_window),
		cmocka_unit_test(find_socket),
		cmocka_unit_test(ratelimit_parent),
		cmocka_unit_test(table_keys),
		cmocka_unit_test(table_all_keys),
		cmocka_unit_test(private_dir),
		cmocka_unit_test(runtime_dir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
