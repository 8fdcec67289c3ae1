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
#include <drm_fourcc.h>
#include <xf86drm.h>

#include "tests/integration/harness.h"
#include "tests/integration/remote.h"

/* Set while dmab_ts_shot_until() polls: only its last attempt reports. */
static bool quiet;

uint64_t dmab_ts_now_ms(void)
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

	uint64_t deadline = dmab_ts_now_ms() + 10000;
	while (dmab_ts_now_ms() < deadline) {
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

int dmab_ts_attach_remote(struct dmab_test_server *s, uint32_t timeout_ms)
{
	memset(s, 0, sizeof(*s));
	return dmab_ts_remote_open(&s->remote, timeout_ms);
}

bool dmab_ts_alive(const struct dmab_test_server *s)
{
	if (s->remote)
		return dmab_ts_remote_number(s->remote, "alive", NULL) == 1;
	/* Look without reaping: dmab_ts_stop() wants the exit status. */
	siginfo_t info = { 0 };
	return s->pid > 0 &&
		waitid(P_PID, (id_t)s->pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
		info.si_pid == 0;
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
		uint64_t deadline = dmab_ts_now_ms() + 10000;
		pid_t r;
		while ((r = waitpid(s->pid, &status, WNOHANG)) == 0 && dmab_ts_now_ms() < deadline)
			sleep_ms(10);
		if (r == 0) {
			fprintf(stderr, "harness: dmabridged did not stop; killing it\n");
			kill(s->pid, SIGKILL);
			waitpid(s->pid, &status, 0);
		}
		s->pid = 0;
	}
	int ret = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	/* DMAB_TS_DUMP_LOG=1 shows it even when all went well. */
	if (ret != 0 || getenv("DMAB_TS_DUMP_LOG"))
		dmab_ts_dump_log(s);
	remove_dir(s->dir);
	return ret;
}

int dmab_ts_fd_count(const struct dmab_test_server *s)
{
	if (s->remote)
		return (int)dmab_ts_remote_number(s->remote, "fds", NULL);
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

int dmab_ts_shared_map_count(const struct dmab_test_server *s)
{
	if (s->remote)
		return (int)dmab_ts_remote_number(s->remote, "maps", NULL);
	char path[64], line[512];
	snprintf(path, sizeof(path), "/proc/%d/maps", s->pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	int n = 0;
	while (fgets(line, sizeof(line), f)) {
		/* address perms offset dev inode path: shared ones are 's' in perms */
		char perms[8] = "";
		if (sscanf(line, "%*s %7s", perms) == 1 && perms[3] == 's')
			n++;
	}
	fclose(f);
	return n;
}

void dmab_ts_dump_log(const struct dmab_test_server *s)
{
	if (s->remote) {
		fprintf(stderr, "(dmabridged's log is in dom0: the check prints it)\n");
		return;
	}
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

int dmab_ts_log_count_all(const struct dmab_test_server *s, const char *const *needles,
		unsigned int n)
{
	if (s->remote) {
		char arg[DMAB_REMOTE_REQ_MAX];
		size_t len = (size_t)snprintf(arg, sizeof(arg), "%u", s->log_from);
		for (unsigned int i = 0; i < n && len < sizeof(arg); i++)
			len += (size_t)snprintf(arg + len, sizeof(arg) - len, "\t%s", needles[i]);
		return len < sizeof(arg) ? (int)dmab_ts_remote_number(s->remote, "count", arg) : -1;
	}
	FILE *f = fopen(s->log, "r");
	if (!f)
		return -1;
	char line[2048];
	unsigned int number = 0;        /* of the line line is (a part of) */
	int count = 0;
	while (fgets(line, sizeof(line), f)) {
		bool skip = number < s->log_from;
		number += strchr(line, '\n') != NULL;
		if (skip)
			continue;
		bool all = true;
		for (unsigned int i = 0; i < n && all; i++)
			all = strstr(line, needles[i]) != NULL;
		count += all;
	}
	fclose(f);
	return count;
}

int dmab_ts_log_count(const struct dmab_test_server *s, const char *needle)
{
	return dmab_ts_log_count_all(s, &needle, 1);
}

void dmab_ts_log_mark(struct dmab_test_server *s)
{
	if (s->remote) {
		long long n = dmab_ts_remote_number(s->remote, "lines", NULL);
		s->log_from = n > 0 ? (unsigned int)n : 0;
		return;
	}
	FILE *f = fopen(s->log, "r");
	if (!f)
		return;
	unsigned int n = 0;
	int c;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	s->log_from = n;
}

long dmab_ts_rss_kb(const struct dmab_test_server *s)
{
	if (s->remote)
		return (long)dmab_ts_remote_number(s->remote, "rss", NULL);
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", s->pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	long kb = -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

/* A control request through the relay: its answer, and what it wrote to fd. */
static json_object *remote_ctl(struct dmab_test_server *s, const char *request, int fd)
{
	char arg[DMAB_REMOTE_REQ_MAX];
	int n = snprintf(arg, sizeof(arg), "%d\t%s", fd >= 0, request);
	if (n < 0 || (size_t)n >= sizeof(arg))
		return NULL;
	size_t len;
	char *a = dmab_ts_remote_call(s->remote, "ctl", arg, (size_t)n, &len);
	if (!a)
		return NULL;
	json_object *answer = json_tokener_parse(a);
	size_t json_len = strlen(a);
	if (fd >= 0 && json_len < len) {
		const char *data = a + json_len + 1;
		size_t left = len - json_len - 1;
		while (left) {
			ssize_t w = write(fd, data, left);
			if (w <= 0)
				break;
			data += w;
			left -= (size_t)w;
		}
	}
	free(a);
	return answer;
}

json_object *dmab_ts_ctl(struct dmab_test_server *s, const char *request, int fd)
{
	if (s->remote)
		return remote_ctl(s, request, fd);
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

static int read_png(FILE *f, uint8_t **rgba, uint32_t *width, uint32_t *height)
{
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
	return ret;
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
	int ret = read_png(f, rgba, width, height);
	fclose(f);
	return ret;
}

int dmab_ts_png_read(const char *path, uint8_t **rgba, uint32_t *width, uint32_t *height)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -errno;
	int ret = read_png(f, rgba, width, height);
	fclose(f);
	return ret;
}

bool dmab_ts_wait(bool (*pred)(void *data), void *data, uint32_t timeout_ms)
{
	uint64_t deadline = dmab_ts_now_ms() + timeout_ms;
	for (;;) {
		if (pred(data))
			return true;
		if (dmab_ts_now_ms() >= deadline)
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
	if (s->remote) {
		options->hv = DMAB_CLIENT_HV_XEN;
		return;
	}
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
	uint64_t deadline = dmab_ts_now_ms() + timeout_ms;
	pid_t r;
	while ((r = waitpid(pid, &status, WNOHANG)) == 0 && dmab_ts_now_ms() < deadline)
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
				if (!bad && !quiet)
					fprintf(stderr, "pixel %u,%u of frame %u: 0x%08x, expected 0x%08x\n",
						x, y, f, got, want);
				bad++;
			}
		}
	}
	return bad;
}

/* ---- pictures in every format ---- */

static uint32_t mix(uint32_t f, uint32_t x, uint32_t y)
{
	uint32_t h = x * 0x9e3779b1u ^ (y + 0x7f4a7c15u) * 0x85ebca77u ^ (f + 1) * 0xc2b2ae3du;
	h ^= h >> 15;
	h *= 0x2c1b3c6du;
	h ^= h >> 12;
	h *= 0x297a2d39u;
	h ^= h >> 15;
	return h;
}

/* The raw value of pixel x, y of frame f in an RGB format (junk in X bits too). */
static uint32_t raw_pixel(uint32_t fourcc, uint32_t f, uint32_t x, uint32_t y)
{
	uint32_t h = mix(f, x, y);
	switch (fourcc) {
	case DRM_FORMAT_XRGB8888:
	case DRM_FORMAT_ARGB8888:
		return h;
	case DRM_FORMAT_RGB888:
		return h & 0xffffff;
	default:
		return h & 0xffff;
	}
}

/* YUYV: luma per pixel, chroma per pair of pixels, all in the limited range. */
static uint8_t yuyv_y(uint32_t f, uint32_t x, uint32_t y)
{
	return (uint8_t)(16 + mix(f, x, y) % 220);
}

static uint8_t yuyv_u(uint32_t f, uint32_t x, uint32_t y)
{
	return (uint8_t)(16 + mix(f, x >> 1, y ^ 0x5555u) % 225);
}

static uint8_t yuyv_v(uint32_t f, uint32_t x, uint32_t y)
{
	return (uint8_t)(16 + mix(f, x >> 1, y ^ 0xaaaau) % 225);
}

static uint32_t bpp_of(uint32_t fourcc)
{
	switch (fourcc) {
	case DRM_FORMAT_XRGB8888:
	case DRM_FORMAT_ARGB8888:
		return 32;
	case DRM_FORMAT_RGB888:
		return 24;
	default:
		return 16;
	}
}

void dmab_ts_fill_format(void *data, uint32_t stride, uint32_t width, uint32_t height,
		uint32_t fourcc, uint32_t f)
{
	for (uint32_t y = 0; y < height; y++) {
		uint8_t *row = (uint8_t *)data + (size_t)y * stride;
		if (fourcc == DRM_FORMAT_YUYV) {
			for (uint32_t x = 0; x + 1 < width; x += 2) {
				uint8_t *p = row + (size_t)x * 2;
				p[0] = yuyv_y(f, x, y);
				p[1] = yuyv_u(f, x, y);
				p[2] = yuyv_y(f, x + 1, y);
				p[3] = yuyv_v(f, x, y);
			}
			continue;
		}
		uint32_t bytes = bpp_of(fourcc) / 8;
		for (uint32_t x = 0; x < width; x++) {
			uint32_t v = raw_pixel(fourcc, f, x, y);
			uint8_t *p = row + (size_t)x * bytes;
			for (uint32_t i = 0; i < bytes; i++)
				p[i] = (uint8_t)(v >> (8 * i)); /* DRM formats are little-endian */
		}
	}
}

static uint32_t widen(uint32_t v, unsigned int bits)
{
	switch (bits) {
	case 1: return v ? 0xff : 0;
	case 4: return v << 4 | v;
	case 5: return v << 3 | v >> 2;
	case 6: return v << 2 | v >> 4;
	default: return v;
	}
}

static uint32_t argb(uint32_t a, uint32_t r, uint32_t g, uint32_t b)
{
	return a << 24 | r << 16 | g << 8 | b;
}

static uint32_t clamp_round(double v)
{
	if (v <= 0)
		return 0;
	if (v >= 255)
		return 255;
	return (uint32_t)(v + 0.5);
}

uint32_t dmab_ts_format_expect(uint32_t fourcc, uint32_t f, uint32_t x, uint32_t y)
{
	uint32_t p = fourcc == DRM_FORMAT_YUYV ? 0 : raw_pixel(fourcc, f, x, y);
	switch (fourcc) {
	case DRM_FORMAT_XRGB8888:
	case DRM_FORMAT_RGB888:
		return 0xff000000u | (p & 0xffffff);
	case DRM_FORMAT_ARGB8888:
		return p;
	case DRM_FORMAT_RGB565:
		return argb(0xff, widen(p >> 11, 5), widen((p >> 5) & 63, 6), widen(p & 31, 5));
	case DRM_FORMAT_XRGB4444:
	case DRM_FORMAT_ARGB4444:
		return argb(fourcc == DRM_FORMAT_ARGB4444 ? widen(p >> 12, 4) : 0xff,
			widen((p >> 8) & 15, 4), widen((p >> 4) & 15, 4), widen(p & 15, 4));
	case DRM_FORMAT_XRGB1555:
	case DRM_FORMAT_ARGB1555:
		return argb(fourcc == DRM_FORMAT_ARGB1555 ? widen(p >> 15, 1) : 0xff,
			widen((p >> 10) & 31, 5), widen((p >> 5) & 31, 5), widen(p & 31, 5));
	case DRM_FORMAT_YUYV: {
		/* ITU-R BT.601, limited range: Y 16..235, Cb/Cr 16..240. */
		double yy = (yuyv_y(f, x, y) - 16) * 255.0 / 219.0;
		double cb = (yuyv_u(f, x & ~1u, y) - 128) * 255.0 / 224.0;
		double cr = (yuyv_v(f, x & ~1u, y) - 128) * 255.0 / 224.0;
		return argb(0xff, clamp_round(yy + 1.402 * cr),
			clamp_round(yy - 0.344136 * cb - 0.714136 * cr),
			clamp_round(yy + 1.772 * cb));
	}
	}
	return 0;
}

static uint32_t channel_diff(uint32_t a, uint32_t b, unsigned int shift)
{
	uint32_t x = (a >> shift) & 0xff, y = (b >> shift) & 0xff;
	return x > y ? x - y : y - x;
}

uint64_t dmab_ts_check_format(const uint8_t *rgba, uint32_t shot_width, uint32_t x0,
		uint32_t y0, uint32_t width, uint32_t height, uint32_t fourcc, uint32_t f,
		bool alpha)
{
	uint32_t tolerance = fourcc == DRM_FORMAT_YUYV ? 4 : 0;
	uint64_t bad = 0;
	for (uint32_t y = 0; y < height; y++) {
		for (uint32_t x = 0; x < width; x++) {
			const uint8_t *p = rgba + ((size_t)(y0 + y) * shot_width + x0 + x) * 4;
			uint32_t want = dmab_ts_format_expect(fourcc, f, x, y);
			uint32_t got = argb(p[3], p[0], p[1], p[2]);
			if (!alpha) {
				want |= 0xff000000u;
				got |= 0xff000000u;
			}
			bool ok = true;
			for (unsigned int shift = 0; shift < 32; shift += 8)
				ok = ok && channel_diff(got, want, shift) <= tolerance;
			if (!ok) {
				if (!bad && !quiet)
					fprintf(stderr, "pixel %u,%u of frame %u (%.4s): 0x%08x, "
						"expected 0x%08x\n", x, y, f, (const char *)&fourcc,
						got, want);
				bad++;
			}
		}
	}
	return bad;
}

uint64_t dmab_ts_check_black(const uint8_t *rgba, uint32_t shot_width, uint32_t x0,
		uint32_t y0, uint32_t width, uint32_t height)
{
	uint64_t bad = 0;
	for (uint32_t y = y0; y < y0 + height; y++) {
		for (uint32_t x = x0; x < x0 + width; x++) {
			const uint8_t *p = rgba + ((size_t)y * shot_width + x) * 4;
			if (p[0] || p[1] || p[2] || p[3] != 0xff) {
				if (!bad && !quiet)
					fprintf(stderr, "pixel %u,%u: %02x%02x%02x alpha %02x, "
						"expected black\n", x, y, p[0], p[1], p[2], p[3]);
				bad++;
			}
		}
	}
	return bad;
}

uint64_t dmab_ts_shot_until(struct dmab_test_server *s, const char *target,
		uint64_t (*check)(const uint8_t *rgba, uint32_t width, uint32_t height, void *data),
		void *data, uint32_t timeout_ms)
{
	uint64_t deadline = dmab_ts_now_ms() + timeout_ms;
	for (;;) {
		bool last = dmab_ts_now_ms() >= deadline;
		uint8_t *rgba;
		uint32_t w, h;
		if (dmab_ts_screenshot(s, target, &rgba, &w, &h) == 0) {
			quiet = !last;
			uint64_t bad = check(rgba, w, h, data);
			quiet = false;
			free(rgba);
			if (bad == 0 || last)
				return bad;
		} else if (last) {
			return UINT64_MAX;
		}
		sleep_ms(10);
	}
}

/* ---- the server ---- */

int dmab_ts_fd_settle(const struct dmab_test_server *s, int expect, uint32_t timeout_ms)
{
	uint64_t deadline = dmab_ts_now_ms() + timeout_ms;
	for (;;) {
		int n = dmab_ts_fd_count(s);
		if (n == expect || n < 0 || dmab_ts_now_ms() >= deadline)
			return n;
		sleep_ms(10);
	}
}

json_object *dmab_ts_guest_status(struct dmab_test_server *s, unsigned int domid,
		unsigned int devid)
{
	json_object *r = dmab_ts_ctl(s, "{\"cmd\":\"status\"}", -1), *guests, *found = NULL;
	if (!r)
		return NULL;
	if (json_object_object_get_ex(r, "guests", &guests)) {
		for (size_t i = 0; i < json_object_array_length(guests); i++) {
			json_object *g = json_object_array_get_idx(guests, i), *d, *v;
			if (json_object_object_get_ex(g, "domid", &d) &&
					json_object_object_get_ex(g, "devid", &v) &&
					json_object_get_int64(d) == domid &&
					json_object_get_int64(v) == devid) {
				found = json_object_get(g);
				break;
			}
		}
	}
	json_object_put(r);
	return found;
}

/* ---- guests ---- */

int dmab_ts_dispatch_until(struct dmab_client *client, const bool *flag, uint32_t timeout_ms)
{
	uint64_t deadline = dmab_ts_now_ms() + timeout_ms;
	for (;;) {
		int ret = dmab_client_dispatch(client);
		if (ret)
			return ret;
		if (*flag)
			return 0;
		uint64_t now = dmab_ts_now_ms();
		if (now >= deadline)
			return -ETIMEDOUT;
		struct pollfd p = { dmab_client_get_fd(client), POLLIN, 0 };
		poll(&p, 1, (int)(deadline - now));
	}
}

struct sync_msg {
	uint32_t step;
	uint32_t pad;
	uint64_t value;
};

int dmab_ts_sync_open(struct dmab_ts_sync *sync)
{
	/* A go to a guest that died is an error to report, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	if (pipe2(sync->up, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(sync->down, O_CLOEXEC) < 0) {
		int err = -errno;
		close(sync->up[0]);
		close(sync->up[1]);
		return err;
	}
	return 0;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void dmab_ts_sync_parent(struct dmab_ts_sync *sync)
{
	close_fd(&sync->up[1]);
	close_fd(&sync->down[0]);
}

void dmab_ts_sync_close(struct dmab_ts_sync *sync)
{
	close_fd(&sync->up[0]);
	close_fd(&sync->up[1]);
	close_fd(&sync->down[0]);
	close_fd(&sync->down[1]);
}

/* Read exactly len octets within the deadline: 0, -ETIMEDOUT, -EPIPE. */
static int read_full(int fd, void *buf, size_t len, uint64_t deadline)
{
	size_t got = 0;
	while (got < len) {
		uint64_t now = dmab_ts_now_ms();
		if (now >= deadline)
			return -ETIMEDOUT;
		struct pollfd p = { fd, POLLIN, 0 };
		int r = poll(&p, 1, (int)(deadline - now));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			continue;
		ssize_t n = read(fd, (uint8_t *)buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EPIPE;
		got += (size_t)n;
	}
	return 0;
}

int dmab_ts_sync_reach(struct dmab_ts_sync *sync, uint32_t step, uint64_t value,
		uint32_t *cmd, uint32_t timeout_ms)
{
	struct sync_msg m = { .step = step, .value = value };
	if (write(sync->up[1], &m, sizeof(m)) != (ssize_t)sizeof(m))
		return -EPIPE;
	uint32_t c;
	int ret = read_full(sync->down[0], &c, sizeof(c), dmab_ts_now_ms() + timeout_ms);
	if (ret == 0 && cmd)
		*cmd = c;
	return ret;
}

bool dmab_ts_sync_poll(struct dmab_ts_sync *sync, uint32_t *cmd)
{
	struct pollfd p = { sync->down[0], POLLIN, 0 };
	if (poll(&p, 1, 0) != 1)
		return false;
	uint32_t c;
	if (read_full(sync->down[0], &c, sizeof(c), dmab_ts_now_ms() + 1000))
		return false;
	if (cmd)
		*cmd = c;
	return true;
}

int dmab_ts_sync_wait(struct dmab_ts_sync *sync, uint32_t *step, uint64_t *value,
		uint32_t timeout_ms)
{
	struct sync_msg m;
	int ret = read_full(sync->up[0], &m, sizeof(m), dmab_ts_now_ms() + timeout_ms);
	if (ret)
		return ret;
	*step = m.step;
	if (value)
		*value = m.value;
	return 0;
}

int dmab_ts_sync_go(struct dmab_ts_sync *sync, uint32_t cmd)
{
	return write(sync->down[1], &cmd, sizeof(cmd)) == (ssize_t)sizeof(cmd) ? 0 : -EPIPE;
}

bool dmab_ts_find_card(const char *driver, char *path, size_t len)
{
	DIR *d = opendir("/dev/dri");
	struct dirent *e;
	bool found = false;
	while (d && !found && (e = readdir(d))) {
		if (strncmp(e->d_name, "card", 4))
			continue;
		char name[300];
		snprintf(name, sizeof(name), "/dev/dri/%s", e->d_name);
		int fd = open(name, O_RDWR | O_CLOEXEC);
		drmVersion *v = fd >= 0 ? drmGetVersion(fd) : NULL;
		found = v && !strcmp(v->name, driver);
		drmFreeVersion(v);
		if (fd >= 0)
			close(fd);
		if (found)
			snprintf(path, len, "%s", name);
	}
	if (d)
		closedir(d);
	return found;
}
