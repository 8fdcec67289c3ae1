// SPDX-License-Identifier: MIT
/*
 * dmabridgectl: ask a running dmabridged about its guests, statistics and
 * screens, take screenshots, move guest connectors. Talks JSON lines over
 * the control socket; --json prints the server's answer as it is.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <json.h>
#include <math.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/paths.h"

static const char usage[] =
	"usage: dmabridgectl [--socket PATH] [--json] [--timeout SECONDS] COMMAND [ARGS]\n"
	"\n"
	"  status                        guests, connectors and buffers (and how\n"
	"                                each buffer reaches the display)\n"
	"  stats [-w SECONDS]            per-connector statistics, again every\n"
	"                                SECONDS with -w\n"
	"  screenshot [TARGET] FILE      write a PNG of a screen (default: the first)\n"
	"                                or a connector (domid/devid/index or unique-id)\n"
	"  layout CONNECTOR [screen=NAME] [x=N] [y=N] [z=N] [visible=yes|no]\n"
	"                  [width=N] [height=N]   (0: the connector's own size)\n"
	"                                move a guest connector\n"
	"  reload                        re-read dmabridged's configuration file\n"
	"\n"
	"--timeout: how long to wait for dmabridged's answer (default 30 s).\n";

#define DEFAULT_TIMEOUT_S 30.0

static bool json_out;
static const char *socket_path;
static double timeout_s = DEFAULT_TIMEOUT_S;

/* CLOCK_MONOTONIC in milliseconds. */
static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t deadline;                /* of the request under way, in now_ms() time */

static void say_timeout(const char *what)
{
	fprintf(stderr, "dmabridgectl: %s within %g s (--timeout)\n", what, timeout_s);
}

/* Wait until fd is ready for events; false (said why) at the deadline or on an error. */
static bool wait_for(int fd, short events, const char *what)
{
	for (;;) {
		int64_t left = deadline - now_ms();
		if (left <= 0) {
			say_timeout(what);
			return false;
		}
		struct pollfd p = { fd, events, 0 };
		int n = poll(&p, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (n > 0)
			return true;
		if (n < 0 && errno != EINTR) {
			fprintf(stderr, "dmabridgectl: %s\n", strerror(errno));
			return false;
		}
	}
}

/* Connect to dmabridged by the deadline; the socket (non-blocking), or -1 (said why). */
static int connect_to(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "dmabridgectl: socket path too long\n");
		return -1;
	}
	strcpy(addr.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "dmabridgectl: %s\n", strerror(errno));
		return -1;
	}
	/*
	 * A unix socket whose backlog is full makes connect() wait, for as
	 * long as the send timeout says (a non-blocking one fails at once).
	 */
	int64_t left = deadline - now_ms();
	struct timeval tv = { left / 1000, (left % 1000) * 1000 };
	if (left <= 0 || setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
			connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		if (left <= 0 || errno == EAGAIN || errno == EINPROGRESS)
			say_timeout("dmabridged did not take the connection");
		else
			fprintf(stderr, "dmabridgectl: cannot reach dmabridged at %s: %s\n", path,
				strerror(errno));
		close(fd);
		return -1;
	}
	int flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		fprintf(stderr, "dmabridgectl: %s\n", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Send line (len octets) with fd (-1: none) on its first octet, by the deadline. */
static bool send_line(int sock, const char *line, size_t len, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctrl;
	size_t sent = 0;
	while (sent < len) {
		struct iovec iov = { (char *)line + sent, len - sent };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		if (fd >= 0 && sent == 0) {
			memset(&ctrl, 0, sizeof(ctrl));
			mh.msg_control = ctrl.buf;
			mh.msg_controllen = sizeof(ctrl.buf);
			struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(cm), &fd, sizeof(int));
		}
		ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL);
		if (n > 0) {
			sent += (size_t)n;
		} else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (!wait_for(sock, POLLOUT, "dmabridged did not take the request"))
				return false;
		} else {
			fprintf(stderr, "dmabridgectl: sending the request: %s\n", strerror(errno));
			return false;
		}
	}
	return true;
}

/* Read one answer line of any length by the deadline; malloc'd, without the newline. */
static char *read_line(int sock)
{
	size_t cap = 4096, used = 0;
	char *buf = malloc(cap);
	bool oom = !buf;
	while (buf) {
		if (used == cap) {
			char *grown = realloc(buf, cap * 2);
			oom = !grown;
			if (!grown)
				break;
			buf = grown;
			cap *= 2;
		}
		ssize_t n = read(sock, buf + used, cap - used);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (!wait_for(sock, POLLIN, "no answer from dmabridged")) {
				free(buf);
				return NULL;
			}
			continue;
		}
		if (n <= 0)
			break;
		char *nl = memchr(buf + used, '\n', (size_t)n);
		used += (size_t)n;
		if (nl) {
			*nl = '\0';
			return buf;
		}
	}
	free(buf);
	fprintf(stderr, "dmabridgectl: no answer from dmabridged%s\n", oom ? ": out of memory" : "");
	return NULL;
}

/*
 * One request (taken) with fd or -1, on a connection of its own, and its
 * answer; NULL (said why) when it did not come by the --timeout.
 */
static json_object *call(json_object *req, int fd)
{
	deadline = now_ms() + (int64_t)(timeout_s * 1000.0);
	const char *text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	size_t len = strlen(text);
	char *line = malloc(len + 2);
	int sock = line ? connect_to(socket_path) : -1;
	json_object *r = NULL;
	if (sock >= 0) {
		memcpy(line, text, len);
		line[len] = '\n';
		char *answer = send_line(sock, line, len + 1, fd) ? read_line(sock) : NULL;
		if (answer) {
			r = json_tokener_parse(answer);
			if (!r || !json_object_is_type(r, json_type_object)) {
				fprintf(stderr, "dmabridgectl: dmabridged's answer is not JSON: %.80s\n",
					answer);
				if (r)
					json_object_put(r);
				r = NULL;
			}
			free(answer);
		}
		close(sock);
	}
	free(line);
	json_object_put(req);
	return r;
}

static json_object *request(const char *cmd)
{
	json_object *req = json_object_new_object();
	json_object_object_add(req, "cmd", json_object_new_string(cmd));
	return req;
}

static const char *str(json_object *o, const char *key)
{
	json_object *v;
	const char *s = json_object_object_get_ex(o, key, &v) && v ? json_object_get_string(v) : NULL;
	return s ? s : "";
}

static int64_t num(json_object *o, const char *key)
{
	json_object *v;
	return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

static json_object *arr(json_object *o, const char *key)
{
	json_object *v;
	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_array) ?
		v : NULL;
}

/* The answer, or NULL (error printed) when it says it failed. */
static json_object *checked(json_object *r)
{
	json_object *ok;
	if (!r)
		return NULL;
	if (!json_object_object_get_ex(r, "ok", &ok) || !json_object_get_boolean(ok)) {
		fprintf(stderr, "dmabridgectl: %s\n", str(r, "error"));
		json_object_put(r);
		return NULL;
	}
	return r;
}

static void print_json(json_object *r)
{
	puts(json_object_to_json_string_ext(r, JSON_C_TO_STRING_PRETTY));
}

static int cmd_status(void)
{
	json_object *r = checked(call(request("status"), -1));
	if (!r)
		return 1;
	if (json_out) {
		print_json(r);
		json_object_put(r);
		return 0;
	}
	json_object *out, *v;
	json_object_object_get_ex(r, "output", &out);
	printf("dmabridged %s, %s hypervisor, up %.0f s\n", str(r, "version"),
		str(r, "hypervisor"), json_object_object_get_ex(r, "uptime_s", &v) ?
			json_object_get_double(v) : 0.0);
	json_object *screens = arr(out, "screens");
	for (size_t i = 0; screens && i < json_object_array_length(screens); i++) {
		json_object *s = json_object_array_get_idx(screens, i);
		int64_t mhz = num(s, "refresh_mhz");
		printf("screen %s: %" PRId64 "x%" PRId64 "@%" PRId64 ".%02" PRId64 " (%s), %" PRId64
			" frames, %" PRId64 " composed", str(s, "name"), num(s, "width"),
			num(s, "height"), mhz / 1000, (mhz % 1000) / 10, str(s, "backend"),
			num(s, "frames"), num(s, "composed"));
		/* What a compositor never showed, and what the backend copied to show it. */
		if (num(s, "discarded") > 0)
			printf(", %" PRId64 " not shown", num(s, "discarded"));
		if (num(s, "copied_bytes") > 0)
			printf(", %.1f MiB copied", (double)num(s, "copied_bytes") / (1 << 20));
		printf("\n");
	}
	json_object *guests = arr(r, "guests");
	size_t n = guests ? json_object_array_length(guests) : 0;
	if (n == 0)
		printf("no guests\n");
	for (size_t i = 0; i < n; i++) {
		json_object *g = json_object_array_get_idx(guests, i);
		const char *domain = str(g, "domain");
		printf("dom%" PRId64 "/vdispl%" PRId64 "%s%s%s: %s, protocol %" PRId64 "%s, %" PRId64
			" octets of buffers\n", num(g, "domid"), num(g, "devid"),
			domain[0] ? " (domain " : "", domain, domain[0] ? ")" : "", str(g, "state"),
			num(g, "protocol"), json_object_object_get_ex(g, "be_alloc", &v) &&
				json_object_get_boolean(v) ? ", be-alloc" : "", num(g, "bytes"));
		json_object *conns = arr(g, "connectors");
		for (size_t j = 0; conns && j < json_object_array_length(conns); j++) {
			json_object *c = json_object_array_get_idx(conns, j), *place;
			json_object_object_get_ex(c, "place", &place);
			const char *label = str(place, "config");
			printf("  connector %" PRId64 " \"%s\" %" PRId64 "x%" PRId64 ", %s, screen %s at "
				"%" PRId64 ",%" PRId64 " z %" PRId64 "%s, %s%s%s\n", num(c, "index"),
				str(c, "unique_id"), num(c, "width"), num(c, "height"),
				json_object_object_get_ex(c, "enabled", &v) && json_object_get_boolean(v) ?
					"on" : "off", str(place, "screen"), num(place, "x"), num(place, "y"),
				num(place, "z"), json_object_object_get_ex(place, "visible", &v) &&
					!json_object_get_boolean(v) ? " (hidden)" : "",
				label[0] ? "place [connector." : "no configured place",
				label, label[0] ? "]" : "");
			/* Not shown as it is: why (composed, copied, or not at all). */
			const char *display = str(c, "display");
			if (display[0] && strcmp(display, "direct"))
				printf("    %s\n", display);
		}
		json_object *bufs = arr(g, "buffers");
		for (size_t j = 0; bufs && j < json_object_array_length(bufs); j++) {
			json_object *b = json_object_array_get_idx(bufs, j);
			printf("  buffer %s %" PRId64 "x%" PRId64 " bpp %" PRId64 ", %" PRId64
				" octets: %s\n", str(b, "cookie"), num(b, "width"), num(b, "height"),
				num(b, "bpp"), num(b, "size"), str(b, "import"));
		}
	}
	json_object_put(r);
	return 0;
}

static int print_stats(void)
{
	json_object *r = checked(call(request("stats"), -1));
	if (!r)
		return 1;
	if (json_out) {
		puts(json_object_to_json_string_ext(r, JSON_C_TO_STRING_PLAIN));
		json_object_put(r);
		return 0;
	}
	json_object *conns = arr(r, "connectors");
	size_t n = conns ? json_object_array_length(conns) : 0;
	/* Latency to the screen, and the server's own part of it (request to the output). */
	printf("%-10s %-12s %8s %7s %9s %9s %9s %12s %7s %7s\n", "connector", "unique-id",
		"frames", "fps", "p50 ms", "p99 ms", "ours p99", "copied MB", "dropped", "errors");
	for (size_t i = 0; i < n; i++) {
		json_object *c = json_object_array_get_idx(conns, i), *v;
		double fps = json_object_object_get_ex(c, "fps", &v) ? json_object_get_double(v) : 0;
		printf("%-10s %-12s %8" PRId64 " %7.1f %9.2f %9.2f %9.2f %12.1f %7" PRId64 " %7" PRId64
			"\n", str(c, "connector"), str(c, "unique_id"), num(c, "frames"), fps,
			num(c, "latency_p50_us") / 1000.0, num(c, "latency_p99_us") / 1000.0,
			num(c, "handoff_p99_us") / 1000.0, num(c, "bytes_copied") / 1e6,
			num(c, "events_dropped"), num(c, "errors"));
	}
	if (n == 0)
		printf("(no connectors)\n");
	json_object_put(r);
	return 0;
}

static int cmd_stats(int argc, char **argv)
{
	double every = 0;
	if (argc == 2 && !strcmp(argv[0], "-w")) {
		every = atof(argv[1]);
		if (every <= 0) {
			fprintf(stderr, "dmabridgectl: -w takes seconds\n");
			return 2;
		}
	} else if (argc) {
		fputs(usage, stderr);
		return 2;
	}
	for (;;) {
		int ret = print_stats();
		if (ret || every <= 0)
			return ret;
		fflush(stdout);
		struct timespec ts = { (time_t)every, (long)((every - (time_t)every) * 1e9) };
		nanosleep(&ts, NULL);
	}
}

static int cmd_screenshot(int argc, char **argv)
{
	if (argc < 1 || argc > 2) {
		fputs(usage, stderr);
		return 2;
	}
	const char *file = argv[argc - 1];
	json_object *req = request("screenshot");
	if (argc == 2) {
		const char *target = argv[0];
		if (!strncmp(target, "screen:", 7))
			json_object_object_add(req, "screen", json_object_new_string(target + 7));
		else if (!strncmp(target, "connector:", 10))
			json_object_object_add(req, "connector", json_object_new_string(target + 10));
		else /* a screen name, else a connector: dmabridged knows */
			json_object_object_add(req, "target", json_object_new_string(target));
	}
	int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "dmabridgectl: %s: %s\n", file, strerror(errno));
		json_object_put(req);
		return 1;
	}
	json_object *r = checked(call(req, fd));
	close(fd);
	if (!r) {
		unlink(file);
		return 1;
	}
	if (json_out)
		print_json(r);
	else
		printf("%s: %" PRId64 "x%" PRId64 "\n", file, num(r, "width"), num(r, "height"));
	/* Views whose buffers the CPU cannot read are not in the picture: say which. */
	json_object *skipped = arr(r, "skipped");
	for (size_t i = 0; !json_out && skipped && i < json_object_array_length(skipped); i++) {
		const char *name = json_object_get_string(json_object_array_get_idx(skipped, i));
		fprintf(stderr, "dmabridgectl: connector %s is left out: its buffer cannot be read\n",
			name ? name : "?");
	}
	json_object_put(r);
	return 0;
}

static int cmd_layout(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage, stderr);
		return 2;
	}
	json_object *req = request("layout");
	json_object_object_add(req, "connector", json_object_new_string(argv[0]));
	for (int i = 1; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		if (!eq) {
			fprintf(stderr, "dmabridgectl: %s is not key=value\n", argv[i]);
			json_object_put(req);
			return 2;
		}
		*eq = '\0';
		const char *key = argv[i], *value = eq + 1;
		if (!strcmp(key, "screen")) {
			json_object_object_add(req, key, json_object_new_string(value));
		} else if (!strcmp(key, "visible")) {
			json_object_object_add(req, key, json_object_new_boolean(
				!strcmp(value, "yes") || !strcmp(value, "true") || !strcmp(value, "1")));
		} else if (!strcmp(key, "x") || !strcmp(key, "y") || !strcmp(key, "z") ||
				!strcmp(key, "width") || !strcmp(key, "height")) {
			char *end;
			long v = strtol(value, &end, 10);
			if (*end || end == value) {
				fprintf(stderr, "dmabridgectl: %s=%s is not a number\n", key, value);
				json_object_put(req);
				return 2;
			}
			json_object_object_add(req, key, json_object_new_int((int32_t)v));
		} else {
			fprintf(stderr, "dmabridgectl: unknown key %s\n", key);
			json_object_put(req);
			return 2;
		}
	}
	json_object *r = checked(call(req, -1));
	if (!r)
		return 1;
	if (json_out) {
		print_json(r);
	} else {
		json_object *p;
		json_object_object_get_ex(r, "place", &p);
		printf("%s: on %s at %" PRId64 ",%" PRId64 " z %" PRId64, argv[0],
			str(p, "screen"), num(p, "x"), num(p, "y"), num(p, "z"));
		if (num(p, "width") || num(p, "height"))
			printf(", %" PRId64 "x%" PRId64, num(p, "width"), num(p, "height"));
		printf("\n");
	}
	json_object_put(r);
	return 0;
}

int main(int argc, char *argv[])
{
	static const struct option options[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	char def[108];
	int opt;
	while ((opt = getopt_long(argc, argv, "+s:jt:h", options, NULL)) != -1) {
		switch (opt) {
		case 's':
			socket_path = optarg;
			break;
		case 'j':
			json_out = true;
			break;
		case 't': {
			char *end;
			errno = 0;
			timeout_s = strtod(optarg, &end);
			if (end == optarg || *end || errno || !isfinite(timeout_s) || timeout_s <= 0 ||
					timeout_s > 1e6) {
				fprintf(stderr, "dmabridgectl: --timeout takes seconds (more than 0): %s\n",
					optarg);
				return 2;
			}
			break;
		}
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		fputs(usage, stderr);
		return 2;
	}
	if (!socket_path)
		socket_path = dmab_find_control_socket(def, sizeof(def));
	const char *cmd = argv[optind];
	int sub_argc = argc - optind - 1;
	char **sub_argv = argv + optind + 1;
	if (strcmp(cmd, "status") && strcmp(cmd, "stats") && strcmp(cmd, "screenshot") &&
			strcmp(cmd, "layout") && strcmp(cmd, "reload")) {
		fprintf(stderr, "dmabridgectl: unknown command %s\n", cmd);
		fputs(usage, stderr);
		return 2;
	}
	if (!socket_path) {
		fprintf(stderr, "dmabridgectl: no socket: set $XDG_RUNTIME_DIR or use --socket\n");
		return 1;
	}

	if (!strcmp(cmd, "status"))
		return cmd_status();
	if (!strcmp(cmd, "stats"))
		return cmd_stats(sub_argc, sub_argv);
	if (!strcmp(cmd, "screenshot"))
		return cmd_screenshot(sub_argc, sub_argv);
	if (!strcmp(cmd, "layout"))
		return cmd_layout(sub_argc, sub_argv);
	json_object *r = checked(call(request("reload"), -1));
	if (r)
		json_object_put(r);
	return r ? 0 : 1;
}
