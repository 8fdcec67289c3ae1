// SPDX-License-Identifier: MIT
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <png.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/integration/harness.h"

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(uint32_t ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

static int connect_control(const struct dmab_test_server *s)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", s->control_socket);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int dmab_ts_start(struct dmab_test_server *s, const char *config_text,
		const char *const *extra_args)
{
	memset(s, 0, sizeof(*s));
	const char *bin = getenv("DMABRIDGED");
	if (!bin) {
		fprintf(stderr, "harness: $DMABRIDGED is not set\n");
		return -EINVAL;
	}
	snprintf(s->dir, sizeof(s->dir), "/tmp/dmab-test-XXXXXX");
	if (!mkdtemp(s->dir))
		return -errno;
	snprintf(s->sim_socket, sizeof(s->sim_socket), "%s/sim.sock", s->dir);
	snprintf(s->control_socket, sizeof(s->control_socket), "%s/control.sock", s->dir);
	snprintf(s->log, sizeof(s->log), "%s/dmabridged.log", s->dir);
	if (config_text) {
		snprintf(s->config, sizeof(s->config), "%s/dmabridged.ini", s->dir);
		FILE *f = fopen(s->config, "w");
		if (!f || fputs(config_text, f) < 0 || fclose(f) != 0)
			return -EIO;
	}

	const char *argv[32];
	int n = 0;
	argv[n++] = bin;
	argv[n++] = "--sim-socket";
	argv[n++] = s->sim_socket;
	argv[n++] = "--control-socket";
	argv[n++] = s->control_socket;
	argv[n++] = "--log-level";
	argv[n++] = "debug";
	if (config_text) {
		argv[n++] = "-c";
		argv[n++] = s->config;
	}
	for (int i = 0; extra_args && extra_args[i] && n < 31; i++)
		argv[n++] = extra_args[i];
	argv[n] = NULL;

	s->pid = fork();
	if (s->pid < 0)
		return -errno;
	if (s->pid == 0) {
		int log = open(s->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (log >= 0) {
			dup2(log, STDOUT_FILENO);
			dup2(log, STDERR_FILENO);
		}
		execv(bin, (char *const *)argv);
		_exit(127);
	}

	uint64_t deadline = now_ms() + 10000;
	while (now_ms() < deadline) {
		int fd = connect_control(s);
		if (fd >= 0) {
			close(fd);
			return 0;
		}
		if (!dmab_ts_alive(s))
			break;
		sleep_ms(10);
	}
	fprintf(stderr, "harness: dmabridged did not start\n");
	dmab_ts_dump_log(s);
	return -ETIMEDOUT;
}

bool dmab_ts_alive(const struct dmab_test_server *s)
{
	return s->pid > 0 && waitpid(s->pid, NULL, WNOHANG) == 0;
}

static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char path[sizeof(e->d_name) + 64];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

int dmab_ts_stop(struct dmab_test_server *s)
{
	int status = 0;
	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		uint64_t deadline = now_ms() + 10000;
		pid_t r;
		while ((r = waitpid(s->pid, &status, WNOHANG)) == 0 && now_ms() < deadline)
			sleep_ms(10);
		if (r == 0) {
			fprintf(stderr, "harness: dmabridged did not stop; killing it\n");
			kill(s->pid, SIGKILL);
			waitpid(s->pid, &status, 0);
		}
		s->pid = 0;
	}
	int ret = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	if (ret != 0)
		dmab_ts_dump_log(s);
	remove_dir(s->dir);
	return ret;
}

int dmab_ts_fd_count(const struct dmab_test_server *s)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", s->pid);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] != '.')
			n++;
	}
	closedir(d);
	return n;
}

void dmab_ts_dump_log(const struct dmab_test_server *s)
{
	FILE *f = fopen(s->log, "r");
	if (!f)
		return;
	char line[1024];
	fprintf(stderr, "---- dmabridged log ----\n");
	while (fgets(line, sizeof(line), f))
		fputs(line, stderr);
	fprintf(stderr, "---- end of log ----\n");
	fclose(f);
}

int dmab_ts_log_count(const struct dmab_test_server *s, const char *needle)
{
	FILE *f = fopen(s->log, "r");
	if (!f)
		return -1;
	char line[1024];
	int n = 0;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

json_object *dmab_ts_ctl(struct dmab_test_server *s, const char *request, int fd)
{
	int sock = connect_control(s);
	if (sock < 0)
		return NULL;
	size_t len = strlen(request);
	char *line = malloc(len + 1);
	memcpy(line, request, len);
	line[len] = '\n';
	struct iovec iov = { line, len + 1 };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctrl;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (fd >= 0) {
		memset(&ctrl, 0, sizeof(ctrl));
		mh.msg_control = ctrl.buf;
		mh.msg_controllen = sizeof(ctrl.buf);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	ssize_t sent = sendmsg(sock, &mh, MSG_NOSIGNAL);
	free(line);
	json_object *answer = NULL;
	if (sent == (ssize_t)(len + 1)) {
		size_t cap = 1 << 16, used = 0;
		char *buf = malloc(cap);
		struct pollfd p = { sock, POLLIN, 0 };
		while (buf && poll(&p, 1, 5000) > 0) {
			ssize_t n = read(sock, buf + used, cap - used - 1);
			if (n <= 0)
				break;
			used += (size_t)n;
			if (memchr(buf, '\n', used)) {
				buf[used] = '\0';
				answer = json_tokener_parse(buf);
				break;
			}
			if (used == cap - 1) {
				char *grown = realloc(buf, cap * 2);
				if (!grown)
					break;
				buf = grown;
				cap *= 2;
			}
		}
		free(buf);
	}
	close(sock);
	return answer;
}

int dmab_ts_screenshot(struct dmab_test_server *s, const char *target,
		uint8_t **rgba, uint32_t *width, uint32_t *height)
{
	char req[256];
	if (!strncmp(target, "screen:", 7))
		snprintf(req, sizeof(req), "{\"cmd\":\"screenshot\",\"screen\":\"%s\"}", target + 7);
	else if (!strncmp(target, "connector:", 10))
		snprintf(req, sizeof(req), "{\"cmd\":\"screenshot\",\"connector\":\"%s\"}", target + 10);
	else
		return -EINVAL;
	FILE *f = tmpfile();
	if (!f)
		return -errno;
	json_object *r = dmab_ts_ctl(s, req, fileno(f));
	json_object *ok;
	bool good = r && json_object_object_get_ex(r, "ok", &ok) && json_object_get_boolean(ok);
	if (!good) {
		fprintf(stderr, "harness: screenshot %s: %s\n", target,
			r ? json_object_to_json_string(r) : "no answer");
		if (r)
			json_object_put(r);
		fclose(f);
		return -EIO;
	}
	json_object_put(r);
	rewind(f);

	png_image png;
	memset(&png, 0, sizeof(png));
	png.version = PNG_IMAGE_VERSION;
	int ret = -EIO;
	if (png_image_begin_read_from_stdio(&png, f)) {
		png.format = PNG_FORMAT_RGBA;
		*rgba = malloc(PNG_IMAGE_SIZE(png));
		if (*rgba && png_image_finish_read(&png, NULL, *rgba, 0, NULL)) {
			*width = png.width;
			*height = png.height;
			ret = 0;
		} else {
			free(*rgba);
			*rgba = NULL;
		}
	}
	png_image_free(&png);
	fclose(f);
	return ret;
}

bool dmab_ts_wait(bool (*pred)(void *data), void *data, uint32_t timeout_ms)
{
	uint64_t deadline = now_ms() + timeout_ms;
	for (;;) {
		if (pred(data))
			return true;
		if (now_ms() >= deadline)
			return false;
		sleep_ms(10);
	}
}

int dmab_ts_guest_count(struct dmab_test_server *s)
{
	json_object *r = dmab_ts_ctl(s, "{\"cmd\":\"status\"}", -1), *g;
	if (!r)
		return -1;
	int n = json_object_object_get_ex(r, "guests", &g) ? (int)json_object_array_length(g) : -1;
	json_object_put(r);
	return n;
}

json_object *dmab_ts_connector_stats(struct dmab_test_server *s, const char *connector)
{
	json_object *r = dmab_ts_ctl(s, "{\"cmd\":\"stats\"}", -1), *conns, *found = NULL;
	if (!r)
		return NULL;
	if (json_object_object_get_ex(r, "connectors", &conns)) {
		for (size_t i = 0; i < json_object_array_length(conns); i++) {
			json_object *c = json_object_array_get_idx(conns, i), *id;
			if (json_object_object_get_ex(c, "connector", &id) &&
					!strcmp(json_object_get_string(id), connector)) {
				found = json_object_get(c);
				break;
			}
		}
	}
	json_object_put(r);
	return found;
}

void dmab_ts_client_options(const struct dmab_test_server *s,
		struct dmab_client_options *options)
{
	memset(options, 0, sizeof(*options));
	options->hv = DMAB_CLIENT_HV_SIM;
	options->sim_socket = s->sim_socket;
}

pid_t dmab_ts_guest(int (*fn)(void *data), void *data)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0)
		_exit(fn(data));
	return pid;
}

int dmab_ts_guest_wait(pid_t pid, uint32_t timeout_ms)
{
	int status;
	uint64_t deadline = now_ms() + timeout_ms;
	pid_t r;
	while ((r = waitpid(pid, &status, WNOHANG)) == 0 && now_ms() < deadline)
		sleep_ms(10);
	if (r == 0) {
		fprintf(stderr, "harness: guest %d did not finish; killing it\n", pid);
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		return -1;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

uint32_t dmab_ts_pattern(uint32_t f, uint32_t x, uint32_t y)
{
	uint32_t r = (x * 7 + f * 13) & 0xff;
	uint32_t g = (y * 5 + f * 3) & 0xff;
	uint32_t b = (x ^ y ^ (f * 29)) & 0xff;
	return 0xff000000u | r << 16 | g << 8 | b;
}

void dmab_ts_fill(void *data, uint32_t stride, uint32_t width, uint32_t height, uint32_t f)
{
	for (uint32_t y = 0; y < height; y++) {
		uint32_t *row = (uint32_t *)(void *)((uint8_t *)data + (size_t)y * stride);
		for (uint32_t x = 0; x < width; x++)
			row[x] = dmab_ts_pattern(f, x, y);
	}
}

uint64_t dmab_ts_check(const uint8_t *rgba, uint32_t shot_width, uint32_t x0, uint32_t y0,
		uint32_t width, uint32_t height, uint32_t f)
{
	uint64_t bad = 0;
	for (uint32_t y = 0; y < height; y++) {
		for (uint32_t x = 0; x < width; x++) {
			const uint8_t *p = rgba + ((size_t)(y0 + y) * shot_width + x0 + x) * 4;
			uint32_t want = dmab_ts_pattern(f, x, y);
			uint32_t got = 0xff000000u | (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
			if (got != want) {
				if (!bad)
					fprintf(stderr, "pixel %u,%u of frame %u: 0x%08x, expected 0x%08x\n",
						x, y, f, got, want);
				bad++;
			}
		}
	}
	return bad;
}
