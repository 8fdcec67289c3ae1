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
	"usage: dmabridgectl [--socket PATH] [--json] COMMAND [ARGS]\n"
	"\n"
	"  status                        guests, connectors and buffers (and how\n"
	"                                each buffer reaches the display)\n"
	"  stats [-w SECONDS]            per-connector statistics, again every\n"
	"                                SECONDS with -w\n"
	"  screenshot [TARGET] FILE      write a PNG of a screen (default: the first)\n"
	"                                or a connector (domid/devid/index or unique-id)\n"
	"  layout CONNECTOR [screen=NAME] [x=N] [y=N] [z=N] [visible=yes|no]\n"
	"                                move a guest connector\n"
	"  reload                        re-read dmabridged's configuration file\n";

static bool json_out;

static int connect_to(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "dmabridgectl: socket path too long\n");
		return -1;
	}
	strcpy(addr.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		fprintf(stderr, "dmabridgectl: cannot reach dmabridged at %s: %s\n", path,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Send one request (taken), with fd or -1, and read one answer line. */
static json_object *call(int sock, json_object *req, int fd)
{
	const char *text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	size_t len = strlen(text);
	char *line = malloc(len + 2);
	if (!line) {
		json_object_put(req);
		return NULL;
	}
	memcpy(line, text, len);
	json_object_put(req);
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
	if (sent != (ssize_t)(len + 1)) {
		fprintf(stderr, "dmabridgectl: sending the request: %s\n", strerror(errno));
		return NULL;
	}

	size_t cap = 4096, used = 0;
	char *buf = malloc(cap);
	while (buf) {
		if (used == cap) {
			char *grown = realloc(buf, cap * 2);
			if (!grown)
				break;
			buf = grown;
			cap *= 2;
		}
		ssize_t n = read(sock, buf + used, cap - used);
		if (n <= 0)
			break;
		used += (size_t)n;
		char *nl = memchr(buf, '\n', used);
		if (nl) {
			*nl = '\0';
			json_object *r = json_tokener_parse(buf);
			if (!r || !json_object_is_type(r, json_type_object)) {
				fprintf(stderr, "dmabridgectl: dmabridged's answer is not JSON: %.80s\n", buf);
				if (r)
					json_object_put(r);
				r = NULL;
			}
			free(buf);
			return r;
		}
	}
	free(buf);
	fprintf(stderr, "dmabridgectl: no answer from dmabridged\n");
	return NULL;
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
	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "";
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

static int cmd_status(int sock)
{
	json_object *r = checked(call(sock, request("status"), -1));
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
		printf("screen %s: %" PRId64 "x%" PRId64 " (%s)\n", str(s, "name"),
			num(s, "width"), num(s, "height"), str(out, "type"));
	}
	json_object *guests = arr(r, "guests");
	size_t n = guests ? json_object_array_length(guests) : 0;
	if (n == 0)
		printf("no guests\n");
	for (size_t i = 0; i < n; i++) {
		json_object *g = json_object_array_get_idx(guests, i);
		printf("dom%" PRId64 "/vdispl%" PRId64 ": %s, protocol %" PRId64 "%s, %" PRId64
			" octets of buffers\n", num(g, "domid"), num(g, "devid"), str(g, "state"),
			num(g, "protocol"), json_object_object_get_ex(g, "be_alloc", &v) &&
				json_object_get_boolean(v) ? ", be-alloc" : "", num(g, "bytes"));
		json_object *conns = arr(g, "connectors");
		for (size_t j = 0; conns && j < json_object_array_length(conns); j++) {
			json_object *c = json_object_array_get_idx(conns, j), *place;
			json_object_object_get_ex(c, "place", &place);
			printf("  connector %" PRId64 " \"%s\" %" PRId64 "x%" PRId64 ", %s, screen %s at "
				"%" PRId64 ",%" PRId64 " z %" PRId64 "%s\n", num(c, "index"),
				str(c, "unique_id"), num(c, "width"), num(c, "height"),
				json_object_object_get_ex(c, "enabled", &v) && json_object_get_boolean(v) ?
					"on" : "off", str(place, "screen"), num(place, "x"), num(place, "y"),
				num(place, "z"), json_object_object_get_ex(place, "visible", &v) &&
					!json_object_get_boolean(v) ? " (hidden)" : "");
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

static int print_stats(int sock)
{
	json_object *r = checked(call(sock, request("stats"), -1));
	if (!r)
		return 1;
	if (json_out) {
		puts(json_object_to_json_string_ext(r, JSON_C_TO_STRING_PLAIN));
		json_object_put(r);
		return 0;
	}
	json_object *conns = arr(r, "connectors");
	size_t n = conns ? json_object_array_length(conns) : 0;
	printf("%-10s %-12s %8s %7s %9s %9s %12s %7s %7s\n", "connector", "unique-id",
		"frames", "fps", "p50 ms", "p99 ms", "copied MB", "dropped", "errors");
	for (size_t i = 0; i < n; i++) {
		json_object *c = json_object_array_get_idx(conns, i), *v;
		double fps = json_object_object_get_ex(c, "fps", &v) ? json_object_get_double(v) : 0;
		printf("%-10s %-12s %8" PRId64 " %7.1f %9.2f %9.2f %12.1f %7" PRId64 " %7" PRId64 "\n",
			str(c, "connector"), str(c, "unique_id"), num(c, "frames"), fps,
			num(c, "latency_p50_us") / 1000.0, num(c, "latency_p99_us") / 1000.0,
			num(c, "bytes_copied") / 1e6, num(c, "events_dropped"), num(c, "errors"));
	}
	if (n == 0)
		printf("(no connectors)\n");
	json_object_put(r);
	return 0;
}

static int cmd_stats(int sock, int argc, char **argv)
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
		int ret = print_stats(sock);
		if (ret || every <= 0)
			return ret;
		fflush(stdout);
		struct timespec ts = { (time_t)every, (long)((every - (time_t)every) * 1e9) };
		nanosleep(&ts, NULL);
	}
}

static int cmd_screenshot(int sock, int argc, char **argv)
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
	json_object *r = checked(call(sock, req, fd));
	close(fd);
	if (!r) {
		unlink(file);
		return 1;
	}
	if (json_out)
		print_json(r);
	else
		printf("%s: %" PRId64 "x%" PRId64 "\n", file, num(r, "width"), num(r, "height"));
	json_object_put(r);
	return 0;
}

static int cmd_layout(int sock, int argc, char **argv)
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
		} else if (!strcmp(key, "x") || !strcmp(key, "y") || !strcmp(key, "z")) {
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
	json_object *r = checked(call(sock, req, -1));
	if (!r)
		return 1;
	if (json_out) {
		print_json(r);
	} else {
		json_object *p;
		json_object_object_get_ex(r, "place", &p);
		printf("%s: on %s at %" PRId64 ",%" PRId64 " z %" PRId64 "\n", argv[0],
			str(p, "screen"), num(p, "x"), num(p, "y"), num(p, "z"));
	}
	json_object_put(r);
	return 0;
}

int main(int argc, char *argv[])
{
	static const struct option options[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	char def[108];
	const char *path = NULL;
	int opt;
	while ((opt = getopt_long(argc, argv, "+s:jh", options, NULL)) != -1) {
		switch (opt) {
		case 's':
			path = optarg;
			break;
		case 'j':
			json_out = true;
			break;
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
	if (!path)
		path = dmab_default_control_socket(def, sizeof(def));
	const char *cmd = argv[optind];
	int sub_argc = argc - optind - 1;
	char **sub_argv = argv + optind + 1;
	if (strcmp(cmd, "status") && strcmp(cmd, "stats") && strcmp(cmd, "screenshot") &&
			strcmp(cmd, "layout") && strcmp(cmd, "reload")) {
		fprintf(stderr, "dmabridgectl: unknown command %s\n", cmd);
		fputs(usage, stderr);
		return 2;
	}
	int sock = path ? connect_to(path) : -1;
	if (sock < 0)
		return 1;

	int ret;
	if (!strcmp(cmd, "status")) {
		ret = cmd_status(sock);
	} else if (!strcmp(cmd, "stats")) {
		ret = cmd_stats(sock, sub_argc, sub_argv);
	} else if (!strcmp(cmd, "screenshot")) {
		ret = cmd_screenshot(sock, sub_argc, sub_argv);
	} else if (!strcmp(cmd, "layout")) {
		ret = cmd_layout(sock, sub_argc, sub_argv);
	} else {
		json_object *r = checked(call(sock, request("reload"), -1));
		ret = r ? 0 : 1;
		if (r)
			json_object_put(r);
	}
	close(sock);
	return ret;
}
