// SPDX-License-Identifier: MIT
/*
 * evil-relay: dom0's end of tests/integration/remote.h, for the hostile
 * programs of tests/integration running as user-space frontends in a domU
 * (check-hostile.sh).
 *
 *   evil-relay base-config
 *       prints the configuration every hostile program starts from
 *       (EVIL_BASE_CONFIG), for dmabridged's first start
 *   evil-relay serve DOMID GOOD_DOMID PID SOCKET LOG CONFIG
 *       answers the requests of domain DOMID about dmabridged (process
 *       PID, control socket SOCKET, log file LOG, configuration file
 *       CONFIG) and about the well-behaved guest GOOD_DOMID (xen-frames
 *       loop); returns once domain DOMID is gone.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xenstore.h>

#include "tests/integration/evil.h"
#include "tests/integration/remote.h"

struct relay {
	struct xs_handle *xs;
	char home[64];                  /* /local/domain/<domid>/data/evil */
	char good_home[64];             /* /local/domain/<good>/data/dmab-frames */
	unsigned int good;
	const char *config;
	struct dmab_test_server server;
};

/* An answer: a malloc'd buffer that grows. */
struct answer {
	char *data;
	size_t len, cap;
};

static void put(struct answer *a, const void *data, size_t len)
{
	if (a->len + len + 1 > a->cap) {
		size_t cap = a->cap ? a->cap : 256;
		while (cap < a->len + len + 1)
			cap *= 2;
		char *grown = realloc(a->data, cap);
		if (!grown)
			return;
		a->data = grown;
		a->cap = cap;
	}
	memcpy(a->data + a->len, data, len);
	a->len += len;
	a->data[a->len] = '\0';
}

static void put_text(struct answer *a, const char *text)
{
	put(a, text, strlen(text));
}

/* Short answers: numbers and messages. */
static void putf(struct answer *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct answer *a, const char *fmt, ...)
{
	char buf[4096];
	va_list args;
	va_start(args, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, args);
	va_end(args);
	if (n > 0)
		put(a, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

/* Not our child: alive while its /proc entry is there and not a zombie. */
static bool alive(pid_t pid)
{
	char path[64], stat[256];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	bool running = fgets(stat, sizeof(stat), f) != NULL;
	fclose(f);
	const char *state = strrchr(stat, ')');
	return running && state && state[1] == ' ' && state[2] != 'Z';
}

static char *good_read(struct relay *r, const char *key)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", r->good_home, key);
	unsigned int len;
	return xs_read(r->xs, XBT_NULL, path, &len);
}

static bool good_write(struct relay *r, const char *key, const char *value)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", r->good_home, key);
	return xs_write(r->xs, XBT_NULL, path, value, (unsigned int)strlen(value));
}

/* "count FROM\tN1\tN2...": lines after FROM containing every needle. */
static void op_count(struct relay *r, char *arg, struct answer *a)
{
	const char *needles[16];
	unsigned int n = 0;
	char *save = NULL, *tok = strtok_r(arg, "\t", &save);
	r->server.log_from = tok ? (unsigned int)strtoul(tok, NULL, 10) : 0;
	while ((tok = strtok_r(NULL, "\t", &save)) && n < 16)
		needles[n++] = tok;
	putf(a, "%d", dmab_ts_log_count_all(&r->server, needles, n));
}

/* "ctl FD\tJSON": the answer; with FD 1 a NUL and what was written to the descriptor. */
static void op_ctl(struct relay *r, char *arg, struct answer *a)
{
	char *json = strchr(arg, '\t');
	if (!json)
		return;
	*json++ = '\0';
	FILE *f = arg[0] == '1' ? tmpfile() : NULL;
	json_object *answer = dmab_ts_ctl(&r->server, json, f ? fileno(f) : -1);
	if (!answer) {
		if (f)
			fclose(f);
		return;
	}
	put_text(a, json_object_to_json_string_ext(answer, JSON_C_TO_STRING_PLAIN));
	json_object_put(answer);
	if (!f)
		return;
	put(a, "", 1);
	rewind(f);
	char buf[65536];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		put(a, buf, n);
	fclose(f);
}

static void op_config(struct relay *r, const char *text, struct answer *a)
{
	FILE *f = fopen(r->config, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		putf(a, "{\"ok\":false,\"error\":\"cannot write %s\"}", r->config);
		return;
	}
	json_object *answer = dmab_ts_ctl(&r->server, "{\"cmd\":\"reload\"}", -1);
	if (answer) {
		put_text(a, json_object_to_json_string_ext(answer, JSON_C_TO_STRING_PLAIN));
		json_object_put(answer);
	}
}

/*
 * Hold the good guest between frames, take its connector's screenshot and
 * let xen-frames compare it with the frame and the checksum it drew.
 */
static void op_good_screen(struct relay *r, struct answer *a)
{
	char *held = NULL;
	if (!good_write(r, "hold", "1")) {
		putf(a, "1 cannot ask the good guest to hold: %s", strerror(errno));
		return;
	}
	for (int i = 0; i < 500 && !(held = good_read(r, "held")); i++)
		usleep(10 * 1000);
	unsigned int k;
	char crc[16];
	if (!held || sscanf(held, "%u %15s", &k, crc) != 2) {
		putf(a, "1 the good guest did not hold still in 5 s (held: %s)",
			held ? held : "none");
		goto out;
	}
	char png[] = "/tmp/evil-good-XXXXXX";
	int fd = mkstemp(png);
	if (fd < 0) {
		putf(a, "1 mkstemp: %s", strerror(errno));
		goto out;
	}
	json_object *shot = dmab_ts_ctl(&r->server,
		"{\"cmd\":\"screenshot\",\"connector\":\"good0\"}", fd);
	close(fd);
	json_object *ok;
	if (!shot || !json_object_object_get_ex(shot, "ok", &ok) || !json_object_get_boolean(ok)) {
		putf(a, "1 no screenshot of good0: %s", shot ? json_object_to_json_string(shot) :
			"no answer");
	} else {
		char cmd[256], line[512];
		snprintf(cmd, sizeof(cmd), "xen-frames check %s %u 0 %s 2>&1", png, k, crc);
		FILE *p = popen(cmd, "r");
		struct answer out = { 0 };
		while (p && fgets(line, sizeof(line), p))
			put(&out, line, strlen(line));
		int status = p ? pclose(p) : -1;
		putf(a, "%d frame %u: ", status == 0 ? 0 : 1, k);
		put_text(a, out.data ? out.data : "");
		free(out.data);
	}
	if (shot)
		json_object_put(shot);
	unlink(png);
out:
	free(held);
	char path[128];
	snprintf(path, sizeof(path), "%s/hold", r->good_home);
	xs_rm(r->xs, XBT_NULL, path);
}

static void run(struct relay *r, const char *op, char *arg, struct answer *a)
{
	struct dmab_test_server *s = &r->server;
	if (!strcmp(op, "alive")) {
		putf(a, "%d", alive(s->pid));
	} else if (!strcmp(op, "fds")) {
		putf(a, "%d", dmab_ts_fd_count(s));
	} else if (!strcmp(op, "maps")) {
		putf(a, "%d", dmab_ts_shared_map_count(s));
	} else if (!strcmp(op, "rss")) {
		putf(a, "%ld", dmab_ts_rss_kb(s));
	} else if (!strcmp(op, "lines")) {
		dmab_ts_log_mark(s);
		putf(a, "%u", s->log_from);
	} else if (!strcmp(op, "count")) {
		op_count(r, arg, a);
	} else if (!strcmp(op, "ctl")) {
		op_ctl(r, arg, a);
	} else if (!strcmp(op, "config")) {
		op_config(r, arg, a);
	} else if (!strcmp(op, "now")) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		putf(a, "%lld", (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
	} else if (!strcmp(op, "good")) {
		putf(a, "%u", r->good);
	} else if (!strcmp(op, "good-wait")) {
		char *v = good_read(r, "max-wait-ms");
		put_text(a, v ? v : "0");
		free(v);
	} else if (!strcmp(op, "good-wait-reset")) {
		char path[128];
		snprintf(path, sizeof(path), "%s/max-wait-ms", r->good_home);
		putf(a, "%d", xs_rm(r->xs, XBT_NULL, path) || errno == ENOENT);
	} else if (!strcmp(op, "good-screen")) {
		op_good_screen(r, a);
	} else {
		fprintf(stderr, "evil-relay: unknown request %s\n", op);
	}
}

static bool write_node(struct relay *r, const char *key, const void *data, size_t len)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", r->home, key);
	if (xs_write(r->xs, XBT_NULL, path, data, (unsigned int)len))
		return true;
	fprintf(stderr, "evil-relay: cannot write %s: %s\n", path, strerror(errno));
	return false;
}

/* Answer the request in req (len octets) unless it is the last one answered: whether it did. */
static bool handle(struct relay *r, char *req, unsigned int len, char *last, size_t last_len)
{
	char *nl1 = memchr(req, '\n', len);
	char *nl2 = nl1 ? memchr(nl1 + 1, '\n', len - (size_t)(nl1 + 1 - req)) : NULL;
	if (!nl2)
		return false;
	*nl1 = *nl2 = '\0';
	if (!strcmp(req, last))
		return false;
	snprintf(last, last_len, "%s", req);
	/* req was read with a NUL after its len octets: arg is a string. */
	char *op = nl1 + 1, *arg = nl2 + 1;
	struct answer a = { 0 };
	run(r, op, arg, &a);
	unsigned int chunks = 0;
	for (size_t off = 0; off < a.len; off += DMAB_REMOTE_CHUNK, chunks++) {
		char key[32];
		size_t n = a.len - off < DMAB_REMOTE_CHUNK ? a.len - off : DMAB_REMOTE_CHUNK;
		snprintf(key, sizeof(key), "ans/%u", chunks);
		if (!write_node(r, key, a.data + off, n))
			break;
	}
	char done[96];
	int n = snprintf(done, sizeof(done), "%s\n%u\n%zu", req, chunks, a.len);
	write_node(r, "done", done, (size_t)n);
	free(a.data);
	return true;
}

static int serve(struct relay *r, unsigned int domid)
{
	r->xs = xs_open(0);
	if (!r->xs) {
		fprintf(stderr, "evil-relay: cannot open XenStore: %s\n", strerror(errno));
		return 1;
	}
	char req_path[96], domain[64];
	snprintf(req_path, sizeof(req_path), "%s/req", r->home);
	snprintf(domain, sizeof(domain), "/local/domain/%u", domid);
	if (!xs_watch(r->xs, req_path, "req") || !write_node(r, "ready", "1", 1)) {
		fprintf(stderr, "evil-relay: cannot serve %s: %s\n", r->home, strerror(errno));
		return 1;
	}
	fprintf(stderr, "evil-relay: serving domain %u\n", domid);
	char last[64] = "";
	unsigned int served = 0;
	for (;;) {
		struct pollfd p = { xs_fileno(r->xs), POLLIN, 0 };
		poll(&p, 1, 1000);
		unsigned int n;
		char **ev;
		while ((ev = xs_check_watch(r->xs)))
			free(ev);
		/* The domain gone: nothing more to answer. */
		char *v = xs_read(r->xs, XBT_NULL, domain, &n);
		if (!v)
			break;
		free(v);
		char *req = xs_read(r->xs, XBT_NULL, req_path, &n);
		if (req) {
			served += handle(r, req, n, last, sizeof(last));
			free(req);
		}
	}
	fprintf(stderr, "evil-relay: domain %u is gone after %u requests\n", domid, served);
	xs_close(r->xs);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "base-config")) {
		fputs(EVIL_BASE_CONFIG, stdout);
		return 0;
	}
	if (argc != 8 || strcmp(argv[1], "serve")) {
		fprintf(stderr, "usage: evil-relay base-config\n"
			"       evil-relay serve DOMID GOOD_DOMID PID SOCKET LOG CONFIG\n");
		return 2;
	}
	struct relay r = { 0 };
	unsigned int domid = (unsigned int)strtoul(argv[2], NULL, 10);
	r.good = (unsigned int)strtoul(argv[3], NULL, 10);
	r.server.pid = (pid_t)strtol(argv[4], NULL, 10);
	snprintf(r.server.control_socket, sizeof(r.server.control_socket), "%s", argv[5]);
	snprintf(r.server.log, sizeof(r.server.log), "%s", argv[6]);
	r.config = argv[7];
	snprintf(r.home, sizeof(r.home), "/local/domain/%u/" DMAB_REMOTE_DIR, domid);
	snprintf(r.good_home, sizeof(r.good_home), "/local/domain/%u/data/dmab-frames", r.good);
	signal(SIGPIPE, SIG_IGN);
	return serve(&r, domid);
}
