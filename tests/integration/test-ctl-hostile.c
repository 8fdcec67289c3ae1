// SPDX-License-Identifier: MIT
/*
 * Hostile control clients. The control socket is local and 0600, but what
 * arrives on it is still input: a script with a bug, a stuck tool, a
 * client that never reads. None of it may crash dmabridged, nor stall the
 * one event loop that serves every guest, nor lock the administrator out.
 * A well-behaved guest ("good0", tests/integration/evil.h) flips at 60 Hz
 * all along; its frames and the answers of a second, honest control client
 * are measured while each attack runs.
 *
 * The parts run as separate tests (the first argument names one):
 * - requests: every string field of every command given null, a number,
 *   an array, an object, a boolean; integers out of int32 range, as
 *   floats, as strings; unknown keys; strings with a NUL; not JSON at all.
 *   Each gets an error answer and the guest keeps flipping.
 * - pipeline: a client that sends requests as fast as the socket takes
 *   them and never reads an answer.
 * - big-answer: a status larger than the socket buffer arrives whole,
 *   through a client that starts reading late, and through dmabridgectl.
 * - idle: sixteen idle clients hold every slot; the administrator still
 *   gets an answer, and idle clients are closed after the idle timeout.
 * - timeout: dmabridgectl --timeout against a socket that never answers.
 * - shots: a screenshot into a pipe nobody reads, a very large one, more
 *   at once than the server takes, and a shutdown with screenshots still
 *   being written.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <png.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <drm_fourcc.h>

#include "tests/integration/evil.h"

/* What the server promises (docs/dmabridgectl.md). */
#define IDLE_TIMEOUT_MS 10000
#define MAX_CLIENTS 16
#define MAX_SHOTS 2

/* How quickly an honest client must be answered while an attack runs. */
#define ANSWER_MS 250

/* ---- a control client of our own ---- */

static int ctl_connect(struct dmab_test_server *s)
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

/* Send text and a newline, with fd (-1: none) on the first octet. 0 or -errno. */
static int ctl_send(int sock, const char *text, size_t len, int fd)
{
	char *line = malloc(len + 1);
	if (!line)
		return -ENOMEM;
	memcpy(line, text, len);
	line[len] = '\n';
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctrl;
	struct iovec iov = { line, len + 1 };
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
	ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	int ret = n == (ssize_t)(len + 1) ? 0 : n < 0 ? -errno : -EIO;
	free(line);
	return ret;
}

/*
 * Read one answer line within timeout_ms: its JSON (put it), or NULL on a
 * timeout, a hangup, or a line that is not a JSON object. *size (may be
 * NULL) receives the octets of the line.
 */
static json_object *ctl_answer(int sock, uint32_t timeout_ms, size_t *size)
{
	uint64_t deadline = dmab_ts_now_ms() + timeout_ms;
	size_t cap = 1 << 16, used = 0;
	char *buf = malloc(cap);
	json_object *answer = NULL;
	while (buf) {
		uint64_t now = dmab_ts_now_ms();
		if (now >= deadline)
			break;
		struct pollfd p = { sock, POLLIN, 0 };
		int r = poll(&p, 1, (int)(deadline - now));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		ssize_t n = read(sock, buf + used, cap - used - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		char *nl = memchr(buf + used, '\n', (size_t)n);
		used += (size_t)n;
		if (nl) {
			*nl = '\0';
			if (size)
				*size = (size_t)(nl - buf);
			answer = json_tokener_parse(buf);
			if (answer && !json_object_is_type(answer, json_type_object)) {
				json_object_put(answer);
				answer = NULL;
			}
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
	return answer;
}

/* One request on a connection of its own; the answer or NULL. *ms: how long it took. */
static json_object *ctl_call(struct dmab_test_server *s, const char *text, int fd,
		uint32_t timeout_ms, uint64_t *ms)
{
	uint64_t t0 = dmab_ts_now_ms();
	json_object *r = NULL;
	int sock = ctl_connect(s);
	if (sock >= 0) {
		if (ctl_send(sock, text, strlen(text), fd) == 0)
			r = ctl_answer(sock, timeout_ms, NULL);
		close(sock);
	}
	if (ms)
		*ms = dmab_ts_now_ms() - t0;
	return r;
}

static json_object *get(json_object *o, const char *key)
{
	json_object *v = NULL;
	return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static bool answer_ok(json_object *r)
{
	return r && json_object_get_boolean(get(r, "ok"));
}

/* An error answer: ok false and an error text. */
static bool answer_error(json_object *r)
{
	json_object *e = get(r, "error");
	return r && json_object_is_type(get(r, "ok"), json_type_boolean) && !answer_ok(r) &&
		json_object_is_type(e, json_type_string) && json_object_get_string_len(e) > 0;
}

/* ---- watching the good guest while an attack runs ---- */

struct watch {
	struct evil_env *env;
	uint64_t t0, worst_ms;
	int64_t frames0;
	unsigned int calls, lost;
};

static void watch_start(struct watch *w, struct evil_env *env)
{
	*w = (struct watch){ .env = env, .t0 = dmab_ts_now_ms() };
	w->frames0 = evil_good_frames(env);
}

/* One honest stats request: how long it took. */
static void watch_poll(struct watch *w)
{
	uint64_t ms;
	json_object *r = ctl_call(&w->env->server, "{\"cmd\":\"stats\"}", -1, 5000, &ms);
	w->calls++;
	if (!answer_ok(r))
		w->lost++;
	if (r)
		json_object_put(r);
	if (ms > w->worst_ms)
		w->worst_ms = ms;
}

/*
 * The loop kept serving: every honest request answered within ANSWER_MS and
 * the good guest had at least half of its 60 frames a second. Failures.
 */
static int watch_check(struct watch *w, const char *what)
{
	int64_t frames = evil_good_frames(w->env) - w->frames0;
	uint64_t elapsed = dmab_ts_now_ms() - w->t0;
	int64_t want = (int64_t)(elapsed * 60 / 1000 / 2);
	fprintf(stderr, "%s: %" PRId64 " frames of the good guest in %" PRIu64 " ms (%.1f fps); "
		"%u honest requests, the slowest answered in %" PRIu64 " ms\n", what, frames, elapsed,
		elapsed ? (double)frames * 1000.0 / (double)elapsed : 0.0, w->calls, w->worst_ms);
	int fails = EVIL_CHECK(w->frames0 >= 0 && frames >= want,
		"%s: the good guest had %" PRId64 " frames in %" PRIu64 " ms (want %" PRId64 ")",
		what, frames, elapsed, want);
	fails += EVIL_CHECK(w->lost == 0, "%s: %u honest requests got no answer", what, w->lost);
	fails += EVIL_CHECK(w->worst_ms < ANSWER_MS, "%s: an honest request took %" PRIu64 " ms",
		what, w->worst_ms);
	return fails;
}

/* ---- running dmabridgectl ---- */

struct ctl_run {
	int status;             /* exit status, -1 if it did not exit normally */
	uint64_t ms;            /* how long it ran */
	char *out;              /* all of stdout (free it) */
	size_t out_len;
	char err[4096];
};

/* Run dmabridgectl with args (NULL-terminated), at most timeout_ms. */
static void ctl_run(struct ctl_run *c, uint32_t timeout_ms, const char *const *args)
{
	memset(c, 0, sizeof(*c));
	c->status = -1;
	const char *bin = getenv("DMABRIDGECTL");
	if (!bin) {
		snprintf(c->err, sizeof(c->err), "$DMABRIDGECTL is not set");
		return;
	}
	const char *argv[16];
	int n = 0;
	argv[n++] = bin;
	for (int i = 0; args[i] && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	int out[2], err[2];
	if (pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC))
		return;
	uint64_t t0 = dmab_ts_now_ms(), deadline = t0 + timeout_ms;
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(out[1], STDOUT_FILENO);
		dup2(err[1], STDERR_FILENO);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	size_t cap = 1 << 16, err_len = 0;
	c->out = malloc(cap);
	struct pollfd p[2] = { { out[0], POLLIN, 0 }, { err[0], POLLIN, 0 } };
	int open_fds = 2;
	while (c->out && open_fds && dmab_ts_now_ms() < deadline) {
		if (poll(p, 2, (int)(deadline - dmab_ts_now_ms())) <= 0)
			continue;
		for (int i = 0; i < 2; i++) {
			if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			char tmp[65536];
			ssize_t got = read(p[i].fd, tmp, sizeof(tmp));
			if (got <= 0) {
				p[i].fd = -1;
				open_fds--;
				continue;
			}
			if (i == 0) {
				while (c->out_len + (size_t)got + 1 > cap) {
					char *grown = realloc(c->out, cap * 2);
					if (!grown)
						break;
					c->out = grown;
					cap *= 2;
				}
				if (c->out_len + (size_t)got + 1 <= cap) {
					memcpy(c->out + c->out_len, tmp, (size_t)got);
					c->out_len += (size_t)got;
				}
			} else {
				size_t take = (size_t)got < sizeof(c->err) - 1 - err_len ?
					(size_t)got : sizeof(c->err) - 1 - err_len;
				memcpy(c->err + err_len, tmp, take);
				err_len += take;
			}
		}
	}
	if (c->out)
		c->out[c->out_len] = '\0';
	c->err[err_len] = '\0';
	close(out[0]);
	close(err[0]);
	int status;
	pid_t r;
	while ((r = waitpid(pid, &status, WNOHANG)) == 0 && dmab_ts_now_ms() < deadline)
		evil_sleep_ms(5);
	if (r == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	} else if (WIFEXITED(status)) {
		c->status = WEXITSTATUS(status);
	}
	c->ms = dmab_ts_now_ms() - t0;
}

/* ---- requests: fields of the wrong type ---- */

static const char *const not_strings[] = {
	"null", "1", "-7", "1.5", "[]", "[\"main\"]", "{}", "{\"a\":\"b\"}", "true", "false",
};

static const char *const not_int32[] = {
	"null", "\"1\"", "1.5", "1e3", "[]", "{}", "true", "2147483648", "-2147483649",
	"9223372036854775807", "9223372036854775808", "-9223372036854775809", "1e300",
	"18446744073709551616",
};

static const char *const not_bools[] = { "null", "\"yes\"", "1", "0", "[]", "{}" };

static int expect_refused(struct evil_env *env, const char *request, bool with_fd)
{
	FILE *f = with_fd ? tmpfile() : NULL;
	json_object *r = ctl_call(&env->server, request, f ? fileno(f) : -1, 5000, NULL);
	int fails = EVIL_CHECK(answer_error(r), "%s: answered %s", request,
		r ? json_object_to_json_string(r) : "nothing");
	if (r)
		json_object_put(r);
	if (f)
		fclose(f);
	return fails;
}

/* good0's place as status shows it: x, y, z. */
static bool good_place(struct evil_env *env, int64_t *x, int64_t *y, int64_t *z)
{
	json_object *g = dmab_ts_guest_status(&env->server, env->good_domid, 0);
	json_object *p = get(json_object_array_get_idx(get(g, "connectors"), 0), "place");
	bool ok = p != NULL;
	if (ok) {
		*x = json_object_get_int64(get(p, "x"));
		*y = json_object_get_int64(get(p, "y"));
		*z = json_object_get_int64(get(p, "z"));
	}
	if (g)
		json_object_put(g);
	return ok;
}

static int test_requests(struct evil_env *env)
{
	int fails = 0;
	char req[512];
	struct watch w;
	watch_start(&w, env);
	unsigned int sent = 0;

	/* Strings: the command, and every string field of every command. */
	static const struct { const char *cmd, *key, *rest; bool fd; } fields[] = {
		{ "screenshot", "connector", "", true },
		{ "screenshot", "screen", "", true },
		{ "screenshot", "target", "", true },
		{ "layout", "connector", ",\"x\":1", false },
		{ "layout", "screen", ",\"connector\":\"good0\"", false },
	};
	for (size_t i = 0; i < sizeof(not_strings) / sizeof(not_strings[0]); i++) {
		snprintf(req, sizeof(req), "{\"cmd\":%s}", not_strings[i]);
		fails += expect_refused(env, req, false);
		sent++;
		for (size_t k = 0; k < sizeof(fields) / sizeof(fields[0]); k++) {
			snprintf(req, sizeof(req), "{\"cmd\":\"%s\",\"%s\":%s%s}", fields[k].cmd,
				fields[k].key, not_strings[i], fields[k].rest);
			fails += expect_refused(env, req, fields[k].fd);
			sent++;
			if (!dmab_ts_alive(&env->server))
				return fails + EVIL_CHECK(false, "dmabridged died of %s", req);
		}
	}
	/* Integers: int32 or nothing; booleans: true or false. */
	static const char *const ints[] = { "x", "y", "z" };
	for (size_t i = 0; i < sizeof(not_int32) / sizeof(not_int32[0]); i++) {
		for (size_t k = 0; k < 3; k++) {
			snprintf(req, sizeof(req), "{\"cmd\":\"layout\",\"connector\":\"good0\",\"%s\":%s}",
				ints[k], not_int32[i]);
			fails += expect_refused(env, req, false);
			sent++;
		}
	}
	for (size_t i = 0; i < sizeof(not_bools) / sizeof(not_bools[0]); i++) {
		snprintf(req, sizeof(req), "{\"cmd\":\"layout\",\"connector\":\"good0\",\"visible\":%s}",
			not_bools[i]);
		fails += expect_refused(env, req, false);
		sent++;
	}
	/* Not a request at all, keys nobody knows, two targets, hidden NULs. */
	static const char *const others[] = {
		"", " ", "[]", "\"status\"", "42", "null", "{", "{}", "{\"cmd\":\"status\"} x",
		"{\"cmd\":\"status\"}{\"cmd\":\"status\"}", "{\"cmd\":\"\"}", "{\"cmd\":\"nosuch\"}",
		"{\"cmd\":\"status\",\"colour\":\"red\"}",
		"{\"cmd\":\"stats\",\"x\":1}",
		"{\"cmd\":\"reload\",\"now\":true}",
		"{\"cmd\":\"layout\",\"connector\":\"good0\",\"colour\":\"red\"}",
		"{\"cmd\":\"layout\"}",
		"{\"cmd\":\"layout\",\"connector\":\"good0\\u0000\",\"x\":5}",
		"{\"cmd\":\"layout\",\"connector\":\"good0\",\"screen\":\"main\\u0000x\"}",
		"{\"cmd\":\"stat\\u0000us\"}",
		"{\"cmd\":\"screenshot\",\"screen\":\"main\",\"connector\":\"good0\"}",
		"{\"cmd\":\"screenshot\",\"target\":\"main\",\"screen\":\"main\"}",
		"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
	};
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		bool shot = strstr(others[i], "screenshot") != NULL;
		fails += expect_refused(env, others[i], shot);
		sent++;
		if (!dmab_ts_alive(&env->server))
			return fails + EVIL_CHECK(false, "dmabridged died of %s", others[i]);
	}
	/* A NUL in the middle of the line: what follows it is not a request either. */
	{
		static const char line[] = "{\"cmd\":\"layout\",\"connector\":\"good0\",\"x\":5}\0junk";
		int sock = ctl_connect(&env->server);
		json_object *r = NULL;
		if (sock >= 0 && ctl_send(sock, line, sizeof(line) - 1, -1) == 0)
			r = ctl_answer(sock, 5000, NULL);
		fails += EVIL_CHECK(answer_error(r), "a line with a NUL: answered %s",
			r ? json_object_to_json_string(r) : "nothing");
		if (r)
			json_object_put(r);
		if (sock >= 0)
			close(sock);
	}
	/* None of it moved good0. */
	int64_t x = -1, y = -1, z = -1;
	fails += EVIL_CHECK(good_place(env, &x, &y, &z) && x == 0 && y == 0 && z == 10,
		"good0 moved to %" PRId64 ",%" PRId64 " z %" PRId64, x, y, z);

	/* The ends of int32 are fine, and change what they say. */
	json_object *r = ctl_call(&env->server, "{\"cmd\":\"layout\",\"connector\":\"good0\","
		"\"x\":2147483647,\"y\":-2147483648,\"z\":-2147483648,\"visible\":false}", -1,
		5000, NULL);
	fails += EVIL_CHECK(answer_ok(r), "layout to the ends of int32: %s",
		r ? json_object_to_json_string(r) : "no answer");
	if (r)
		json_object_put(r);
	fails += EVIL_CHECK(good_place(env, &x, &y, &z) && x == INT32_MAX && y == INT32_MIN &&
		z == INT32_MIN, "good0 is at %" PRId64 ",%" PRId64 " z %" PRId64, x, y, z);
	uint8_t *rgba;
	uint32_t sw, sh;
	if (dmab_ts_screenshot(&env->server, "screen:main", &rgba, &sw, &sh) == 0) {
		fails += EVIL_CHECK(dmab_ts_check_black(rgba, sw, 0, 0, sw, sh) == 0,
			"good0 far away and hidden, the screen is not black");
		free(rgba);
	} else {
		fails += EVIL_CHECK(false, "no screenshot with good0 at the end of int32");
	}
	r = ctl_call(&env->server, "{\"cmd\":\"layout\",\"connector\":\"good0\",\"x\":0,\"y\":0,"
		"\"z\":10,\"visible\":true,\"screen\":\"main\"}", -1, 5000, NULL);
	fails += EVIL_CHECK(answer_ok(r), "layout back: %s",
		r ? json_object_to_json_string(r) : "no answer");
	if (r)
		json_object_put(r);

	fprintf(stderr, "%u malformed requests refused\n", sent);
	/* The guest kept flipping through all of it, and shows what it flipped. */
	evil_sleep_ms(500);
	fails += watch_check(&w, "malformed requests");
	fails += evil_good_check_screen(env);
	return fails;
}

/* ---- pipeline: requests sent, answers never read ---- */

#define PIPELINE_MS 2000

static int test_pipeline(struct evil_env *env)
{
	int fails = 0;
	int sock = ctl_connect(&env->server);
	if (sock < 0)
		return EVIL_CHECK(false, "cannot connect: %s", strerror(-sock));
	long rss0 = dmab_ts_rss_kb(&env->server);
	static const char req[] = "{\"cmd\":\"status\"}\n";
	char burst[sizeof(req) * 256];
	for (size_t i = 0; i < 256; i++)
		memcpy(burst + i * (sizeof(req) - 1), req, sizeof(req) - 1);
	size_t burst_len = 256 * (sizeof(req) - 1);

	struct watch w;
	watch_start(&w, env);
	uint64_t end = w.t0 + PIPELINE_MS, next_poll = w.t0;
	size_t sent = 0;
	while (dmab_ts_now_ms() < end) {
		ssize_t n = send(sock, burst + sent % burst_len, burst_len - sent % burst_len,
			MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0)
			sent += (size_t)n;
		else if (n < 0 && errno != EAGAIN)
			break;
		else
			evil_sleep_ms(1);
		if (dmab_ts_now_ms() >= next_poll) {
			watch_poll(&w);
			next_poll = dmab_ts_now_ms() + 100;
		}
	}
	fprintf(stderr, "pipeline: %zu requests sent, no answer read\n", sent / (sizeof(req) - 1));
	fails += watch_check(&w, "a client that never reads");
	long rss1 = dmab_ts_rss_kb(&env->server);
	fprintf(stderr, "pipeline: dmabridged's memory %ld KiB -> %ld KiB\n", rss0, rss1);
	fails += EVIL_CHECK(rss0 > 0 && rss1 > 0 && rss1 - rss0 < 64 * 1024,
		"dmabridged grew from %ld KiB to %ld KiB", rss0, rss1);
	close(sock);

	/* The same from a client that reads, in the end: every answer, whole, in order. */
	sock = ctl_connect(&env->server);
	if (sock < 0)
		return fails + EVIL_CHECK(false, "cannot connect: %s", strerror(-sock));
	char many[64 * 40];
	size_t len = 0;
	for (int i = 0; i < 64; i++)
		len += (size_t)snprintf(many + len, sizeof(many) - len, "%s\n",
			i % 2 ? "{\"cmd\":\"stats\"}" : "{\"cmd\":\"nosuch\"}");
	fails += EVIL_CHECK(ctl_send(sock, many, len - 1, -1) == 0, "cannot send 64 requests");
	size_t cap = 1 << 20, used = 0;
	char *answers = malloc(cap);
	int lines = 0;
	uint64_t deadline = dmab_ts_now_ms() + 10000;
	while (answers && lines < 64 && used < cap - 1 && dmab_ts_now_ms() < deadline) {
		struct pollfd p = { sock, POLLIN, 0 };
		if (poll(&p, 1, 100) <= 0)
			continue;
		ssize_t n = read(sock, answers + used, cap - 1 - used);
		if (n <= 0)
			break;
		for (ssize_t k = 0; k < n; k++)
			lines += answers[used + (size_t)k] == '\n';
		used += (size_t)n;
	}
	fails += EVIL_CHECK(lines == 64, "%d answers to 64 requests", lines);
	char *line = answers;
	for (int i = 0; answers && i < lines; i++) {
		char *nl = strchr(line, '\n');
		*nl = '\0';
		json_object *r = json_tokener_parse(line);
		bool good = i % 2 ? answer_ok(r) && get(r, "connectors") : answer_error(r);
		fails += EVIL_CHECK(good, "answer %d of 64: %s", i, line);
		if (r)
			json_object_put(r);
		line = nl + 1;
	}
	free(answers);
	close(sock);
	return fails;
}

/* ---- big-answer: a status larger than the socket buffer ---- */

#define MANY_BUFFERS 4000

struct many {
	struct evil_env *env;
	struct dmab_ts_sync sync;
};

/*
 * A guest with MANY_BUFFERS small display buffers, all over the same page
 * (what the configuration's limits allow; the simulator bounds the memory
 * regions a guest registers, not how often it names them).
 */
static int many_main(void *data)
{
	struct many *m = data;
	struct dmab_client *client;
	GUEST_CHECK(evil_connect(m->env, false, 1, &client) == 0);
	struct evil_pages p;
	GUEST_CHECK(evil_pages_share(client, 32 * 32 * 4, &p) == 0);
	struct xendispl_req reqs[32];
	struct xendispl_resp resps[32];
	for (unsigned int i = 0; i < MANY_BUFFERS; i += 32) {
		unsigned int n = MANY_BUFFERS - i < 32 ? MANY_BUFFERS - i : 32;
		for (unsigned int k = 0; k < n; k++)
			evil_req_dbuf(&reqs[k], evil_cookie(), 32, 32, &p);
		GUEST_CHECK(evil_batch(client, 0, reqs, n, resps, 10000) == 0);
		for (unsigned int k = 0; k < n; k++)
			GUEST_CHECK(resps[k].status == 0);
	}
	GUEST_CHECK(dmab_ts_sync_reach(&m->sync, 1, dmab_client_domid(client), NULL, 60000) == 0);
	return 0;
}

/* The buffers status lists for guest domid, -1 if it lists no such guest. */
static int status_buffers(json_object *status, unsigned int domid)
{
	json_object *guests = get(status, "guests");
	for (size_t i = 0; guests && i < json_object_array_length(guests); i++) {
		json_object *g = json_object_array_get_idx(guests, i);
		if (json_object_get_int64(get(g, "domid")) == domid)
			return (int)json_object_array_length(get(g, "buffers"));
	}
	return -1;
}

static int test_big_answer(struct evil_env *env)
{
	int fails = 0;
	struct many m = { .env = env };
	if (dmab_ts_sync_open(&m.sync))
		return EVIL_CHECK(false, "no pipes");
	pid_t pid = dmab_ts_guest(many_main, &m);
	dmab_ts_sync_parent(&m.sync);
	uint32_t step;
	uint64_t domid;
	if (dmab_ts_sync_wait(&m.sync, &step, &domid, 60000) || step != 1) {
		fails += EVIL_CHECK(false, "the guest did not make its %d buffers", MANY_BUFFERS);
		goto out;
	}

	/* Ask, and read only when the server could fill the socket buffer several times. */
	int sock = ctl_connect(&env->server);
	int sndbuf = 0;
	socklen_t optlen = sizeof(sndbuf);
	getsockopt(sock, SOL_SOCKET, SO_SNDBUF, &sndbuf, &optlen);
	fails += EVIL_CHECK(sock >= 0 && ctl_send(sock, "{\"cmd\":\"status\"}", 16, -1) == 0,
		"cannot ask for the status");
	evil_sleep_ms(500);
	size_t size = 0;
	json_object *r = ctl_answer(sock, 10000, &size);
	fprintf(stderr, "big-answer: a status of %zu octets (socket buffers of %d octets)\n", size,
		sndbuf);
	fails += EVIL_CHECK(answer_ok(r), "the status did not arrive whole (%zu octets)", size);
	fails += EVIL_CHECK(size > 2 * (size_t)sndbuf, "a status of %zu octets is not larger "
		"than the socket buffer (%d)", size, sndbuf);
	fails += EVIL_CHECK(status_buffers(r, (unsigned int)domid) == MANY_BUFFERS,
		"the status lists %d buffers of dom%" PRIu64, status_buffers(r, (unsigned int)domid),
		domid);
	if (r)
		json_object_put(r);
	/* The connection still works: the next answer starts on a line of its own. */
	fails += EVIL_CHECK(ctl_send(sock, "{\"cmd\":\"stats\"}", 15, -1) == 0, "no second request");
	r = ctl_answer(sock, 5000, NULL);
	fails += EVIL_CHECK(answer_ok(r) && get(r, "connectors"), "the next answer: %s",
		r ? json_object_to_json_string(r) : "none");
	if (r)
		json_object_put(r);
	if (sock >= 0)
		close(sock);

	/* dmabridgectl reads it whole too, as JSON and as text. */
	struct ctl_run c;
	ctl_run(&c, 20000, (const char *const[]){ "--socket", env->server.control_socket,
		"--json", "status", NULL });
	fails += EVIL_CHECK(c.status == 0, "dmabridgectl --json status: exit %d, %s", c.status,
		c.err);
	r = c.out ? json_tokener_parse(c.out) : NULL;
	fails += EVIL_CHECK(status_buffers(r, (unsigned int)domid) == MANY_BUFFERS,
		"dmabridgectl --json status lists %d buffers", status_buffers(r, (unsigned int)domid));
	if (r)
		json_object_put(r);
	free(c.out);
	ctl_run(&c, 20000, (const char *const[]){ "--socket", env->server.control_socket,
		"status", NULL });
	size_t lines = 0;
	for (const char *p = c.out; p && (p = strstr(p, "  buffer 0x")); p++)
		lines++;
	fails += EVIL_CHECK(c.status == 0 && lines == MANY_BUFFERS + 2,
		"dmabridgectl status: exit %d, %zu buffer lines, %s", c.status, lines, c.err);
	free(c.out);
out:
	dmab_ts_sync_go(&m.sync, 0);
	fails += EVIL_CHECK(dmab_ts_guest_wait(pid, 60000) == 0, "the guest failed");
	dmab_ts_sync_close(&m.sync);
	return fails;
}

/* ---- idle: every slot taken ---- */

/* Whether the server closed sock within timeout_ms (it reads EOF). */
static bool closed_within(int sock, uint32_t timeout_ms)
{
	uint64_t deadline = dmab_ts_now_ms() + timeout_ms;
	for (;;) {
		uint64_t now = dmab_ts_now_ms();
		if (now >= deadline)
			return false;
		struct pollfd p = { sock, POLLIN, 0 };
		if (poll(&p, 1, (int)(deadline - now)) <= 0)
			continue;
		char c;
		ssize_t n = recv(sock, &c, 1, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return true;
	}
}

static int test_idle(struct evil_env *env)
{
	int fails = 0;
	int socks[MAX_CLIENTS];
	for (int i = 0; i < MAX_CLIENTS; i++) {
		socks[i] = ctl_connect(&env->server);
		fails += EVIL_CHECK(socks[i] >= 0, "client %d cannot connect", i);
		evil_sleep_ms(20);
	}
	/* One that is never idle in its own eyes: a byte now and then, never a line. */
	(void)!send(socks[MAX_CLIENTS - 1], "{", 1, MSG_NOSIGNAL);
	evil_sleep_ms(200);

	/* The administrator, with every slot taken. */
	struct ctl_run c;
	ctl_run(&c, 20000, (const char *const[]){ "--socket", env->server.control_socket,
		"status", NULL });
	fails += EVIL_CHECK(c.status == 0 && c.out && strstr(c.out, "good0"),
		"dmabridgectl status with %d idle clients: exit %d, %s", MAX_CLIENTS, c.status, c.err);
	free(c.out);
	/* It took the slot of the client idle longest: the first. */
	fails += EVIL_CHECK(closed_within(socks[0], 1000), "the oldest idle client is still open");
	json_object *r = ctl_call(&env->server, "{\"cmd\":\"status\"}", -1, 5000, NULL);
	fails += EVIL_CHECK(answer_ok(r), "another request with every slot taken: %s",
		r ? json_object_to_json_string(r) : "no answer");
	if (r)
		json_object_put(r);

	/* A client that is answered is not idle; one that only trickles is. */
	uint64_t t0 = dmab_ts_now_ms();
	int live = ctl_connect(&env->server);
	fails += EVIL_CHECK(live >= 0, "cannot connect");
	while (dmab_ts_now_ms() < t0 + IDLE_TIMEOUT_MS + 3000) {
		(void)!send(socks[MAX_CLIENTS - 1], " ", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (live >= 0 && ctl_send(live, "{\"cmd\":\"stats\"}", 15, -1) == 0) {
			r = ctl_answer(live, 5000, NULL);
			fails += EVIL_CHECK(answer_ok(r), "a client in use was dropped after %" PRIu64
				" ms", dmab_ts_now_ms() - t0);
			if (r)
				json_object_put(r);
			else
				break;
		}
		evil_sleep_ms(500);
	}
	/*
	 * All gone by now, give or take the idle check's period on a slow
	 * (emulated) machine: at most 5 s more, where a trickle that counted
	 * as use would have kept its client open for good.
	 */
	int open = 0;
	uint64_t deadline = dmab_ts_now_ms() + 5000;
	for (int i = 1; i < MAX_CLIENTS; i++) {
		uint64_t now = dmab_ts_now_ms();
		open += !closed_within(socks[i], now < deadline ? (uint32_t)(deadline - now) : 1);
	}
	fails += EVIL_CHECK(open == 0, "%d idle clients still open %" PRIu64 " ms after the idle "
		"timeout", open, dmab_ts_now_ms() - t0 - IDLE_TIMEOUT_MS);
	for (int i = 0; i < MAX_CLIENTS; i++) {
		if (socks[i] >= 0)
			close(socks[i]);
	}
	if (live >= 0)
		close(live);
	return fails;
}

/* ---- timeout: dmabridgectl against a server that does not answer ---- */

static void unix_addr(struct sockaddr_un *addr, const char *path)
{
	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	size_t len = strlen(path);
	memcpy(addr->sun_path, path, len < sizeof(addr->sun_path) ? len : sizeof(addr->sun_path) - 1);
}

static int listen_on(const char *path, int backlog)
{
	struct sockaddr_un addr;
	unix_addr(&addr, path);
	unlink(path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) || listen(fd, backlog)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int expect_timeout(const char *path, const char *what)
{
	struct ctl_run c;
	ctl_run(&c, 10000, (const char *const[]){ "--socket", path, "--timeout", "1", "status",
		NULL });
	free(c.out);
	fprintf(stderr, "timeout: %s: exit %d after %" PRIu64 " ms: %s", what, c.status, c.ms,
		c.err);
	int fails = EVIL_CHECK(c.status == 1, "%s: dmabridgectl --timeout 1 exited %d", what,
		c.status);
	fails += EVIL_CHECK(c.ms >= 900 && c.ms < 3000, "%s: dmabridgectl --timeout 1 took %"
		PRIu64 " ms", what, c.ms);
	fails += EVIL_CHECK(strstr(c.err, "dmabridgectl: ") == c.err &&
		strstr(c.err, "1 s"), "%s: the message does not say what happened: %s", what, c.err);
	return fails;
}

static int test_timeout(struct evil_env *env)
{
	int fails = 0;
	char path[100];
	snprintf(path, sizeof(path), "%.80s/silent.sock", env->server.dir);

	/* Listening, but nobody ever accepts. */
	int fd = listen_on(path, 8);
	fails += EVIL_CHECK(fd >= 0, "cannot listen on %s", path);
	fails += expect_timeout(path, "a socket nobody accepts on");
	close(fd);

	/* Accepted and read, never answered. */
	fd = listen_on(path, 8);
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		int c = accept(fd, NULL, NULL);
		char buf[4096];
		while (c >= 0 && read(c, buf, sizeof(buf)) > 0)
			;
		_exit(0);
	}
	close(fd);
	fails += expect_timeout(path, "a server that reads and never answers");
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);

	/* A backlog so full that connect() itself waits. */
	fd = listen_on(path, 0);
	int queued[8], nqueued = 0;
	for (; nqueued < 8; nqueued++) {
		struct sockaddr_un addr;
		unix_addr(&addr, path);
		queued[nqueued] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (connect(queued[nqueued], (struct sockaddr *)&addr, sizeof(addr)) < 0) {
			close(queued[nqueued]);
			break;
		}
	}
	fails += expect_timeout(path, "a backlog that is full");
	for (int i = 0; i < nqueued; i++)
		close(queued[i]);
	close(fd);
	unlink(path);

	/* Usage. */
	static const char *const bad[] = { "0", "-1", "abc", "1x", "" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ctl_run c;
		ctl_run(&c, 10000, (const char *const[]){ "--socket", env->server.control_socket,
			"--timeout", bad[i], "status", NULL });
		free(c.out);
		fails += EVIL_CHECK(c.status == 2 && strstr(c.err, "--timeout"),
			"--timeout '%s': exit %d, %s", bad[i], c.status, c.err);
	}
	/* A timeout that is long enough changes nothing. */
	struct ctl_run c;
	ctl_run(&c, 10000, (const char *const[]){ "--socket", env->server.control_socket,
		"--timeout", "2.5", "status", NULL });
	fails += EVIL_CHECK(c.status == 0 && c.out && strstr(c.out, "good0"),
		"--timeout 2.5 status: exit %d, %s", c.status, c.err);
	free(c.out);
	return fails;
}

/* ---- shots: screenshots that take long, or are never read ---- */

/* A PNG in memory as RGBA rows. 0 or -EIO. */
static int png_decode(const void *data, size_t size, uint8_t **rgba, uint32_t *w, uint32_t *h)
{
	png_image png;
	memset(&png, 0, sizeof(png));
	png.version = PNG_IMAGE_VERSION;
	int ret = -EIO;
	if (png_image_begin_read_from_memory(&png, data, size)) {
		png.format = PNG_FORMAT_RGBA;
		*rgba = malloc(PNG_IMAGE_SIZE(png));
		if (*rgba && png_image_finish_read(&png, NULL, *rgba, 0, NULL)) {
			*w = png.width;
			*h = png.height;
			ret = 0;
		} else {
			free(*rgba);
			*rgba = NULL;
		}
	}
	png_image_free(&png);
	return ret;
}

/* A pipe as small as Linux makes them: the PNG cannot hide in it. */
static int small_pipe(int fds[2])
{
	if (pipe2(fds, O_CLOEXEC))
		return -errno;
	fcntl(fds[1], F_SETPIPE_SZ, 4096);
	return 0;
}

/* The same as a stream socket: fds[0] to read, fds[1] to give away. */
static int small_socket(int fds[2])
{
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds))
		return -errno;
	int size = 4096;
	setsockopt(fds[1], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	return 0;
}

/* Ask for a screenshot of target into fd, answer later. The connection or -errno. */
static int shot_start(struct evil_env *env, const char *target_json, int fd)
{
	char req[256];
	snprintf(req, sizeof(req), "{\"cmd\":\"screenshot\",%s}", target_json);
	int sock = ctl_connect(&env->server);
	if (sock < 0)
		return sock;
	int ret = ctl_send(sock, req, strlen(req), fd);
	if (ret) {
		close(sock);
		return ret;
	}
	return sock;
}

static int test_pipe_nobody_reads(struct evil_env *env)
{
	int fails = 0, fds[2];
	if (small_pipe(fds))
		return EVIL_CHECK(false, "no pipe");
	int sock = shot_start(env, "\"screen\":\"main\"", fds[1]);
	close(fds[1]);
	fails += EVIL_CHECK(sock >= 0, "cannot ask for a screenshot");

	/* Nobody reads the pipe for a while: the server goes on. */
	struct watch w;
	watch_start(&w, env);
	while (dmab_ts_now_ms() < w.t0 + 1500) {
		watch_poll(&w);
		evil_sleep_ms(50);
	}
	fails += watch_check(&w, "a screenshot into a pipe nobody reads");

	/* Then someone does: the whole PNG comes, and the answer. */
	size_t cap = 1 << 20, used = 0;
	uint8_t *png = malloc(cap);
	uint64_t deadline = dmab_ts_now_ms() + 10000;
	while (png && dmab_ts_now_ms() < deadline) {
		struct pollfd p = { fds[0], POLLIN, 0 };
		if (poll(&p, 1, 100) <= 0)
			continue;
		ssize_t n = read(fds[0], png + used, cap - used);
		if (n <= 0)
			break;
		used += (size_t)n;
		if (used == cap) {
			uint8_t *grown = realloc(png, cap * 2);
			if (!grown)
				break;
			png = grown;
			cap *= 2;
		}
	}
	json_object *r = sock >= 0 ? ctl_answer(sock, 10000, NULL) : NULL;
	fails += EVIL_CHECK(answer_ok(r) && json_object_get_int(get(r, "width")) == 800,
		"the screenshot, read late: %s", r ? json_object_to_json_string(r) : "no answer");
	if (r)
		json_object_put(r);
	uint8_t *rgba = NULL;
	uint32_t pw = 0, ph = 0;
	fails += EVIL_CHECK(png && png_decode(png, used, &rgba, &pw, &ph) == 0 && pw == 800 &&
		ph == 300, "%zu octets read from the pipe are not an 800x300 PNG", used);
	free(rgba);
	free(png);
	close(fds[0]);
	if (sock >= 0)
		close(sock);

	/* Nobody ever reads: an error, in bounded time, and the server still goes on. */
	if (small_pipe(fds))
		return fails + EVIL_CHECK(false, "no pipe");
	sock = shot_start(env, "\"screen\":\"main\"", fds[1]);
	close(fds[1]);
	watch_start(&w, env);
	r = NULL;
	while (sock >= 0 && dmab_ts_now_ms() < w.t0 + 30000) {
		watch_poll(&w);
		struct pollfd p = { sock, POLLIN, 0 };
		if (poll(&p, 1, 100) == 1) {
			r = ctl_answer(sock, 1000, NULL);
			break;
		}
	}
	fprintf(stderr, "pipe: answered after %" PRIu64 " ms: %s\n", dmab_ts_now_ms() - w.t0,
		r ? json_object_to_json_string(r) : "nothing");
	fails += EVIL_CHECK(answer_error(r), "a screenshot nobody reads: %s",
		r ? json_object_to_json_string(r) : "no answer");
	fails += watch_check(&w, "a screenshot nobody ever reads");
	if (r)
		json_object_put(r);
	close(fds[0]);
	if (sock >= 0)
		close(sock);
	return fails;
}

/*
 * A guest showing noise at 400,0 of the screen: a PNG of the screen cannot
 * hide in a pipe's buffer then.
 */
#define NOISE_W 320
#define NOISE_H 200

struct noise {
	struct dmab_test_server *server;
	struct dmab_ts_sync sync;
	pid_t pid;
};

static bool noise_flipped;

static void handle_noise_flip(void *data, unsigned int index, struct dmab_client_buffer *buffer)
{
	noise_flipped = true;
}

static int noise_main(void *data)
{
	struct noise *n = data;
	struct dmab_client_connector_spec spec = { NOISE_W, NOISE_H, "noise0" };
	struct dmab_client_options options;
	dmab_ts_client_options(n->server, &options);
	options.create_device = true;
	options.connectors = &spec;
	options.connector_count = 1;
	struct dmab_client *client;
	GUEST_CHECK(dmab_client_connect(&options, &client) == 0);
	dmab_client_set_flip_handler(client, handle_noise_flip, NULL);
	struct dmab_client_buffer *buf;
	GUEST_CHECK(dmab_client_buffer_create(client, NOISE_W, NOISE_H, DRM_FORMAT_XRGB8888,
		&buf) == 0);
	dmab_ts_fill_format(dmab_client_buffer_data(buf), dmab_client_buffer_stride(buf), NOISE_W,
		NOISE_H, DRM_FORMAT_XRGB8888, 1);
	GUEST_CHECK(dmab_client_set_config(client, 0, buf, 0, 0) == 0);
	GUEST_CHECK(dmab_client_flip(client, 0, buf) == 0);
	GUEST_CHECK(dmab_ts_dispatch_until(client, &noise_flipped, 5000) == 0);
	GUEST_CHECK(dmab_ts_sync_reach(&n->sync, 1, 0, NULL, 170000) == 0);
	/* Gone as a guest killed would be: the server may be gone already. */
	return 0;
}

static int noise_start(struct evil_env *env, struct noise *n)
{
	*n = (struct noise){ .server = &env->server };
	if (dmab_ts_sync_open(&n->sync))
		return EVIL_CHECK(false, "no pipes");
	n->pid = dmab_ts_guest(noise_main, n);
	dmab_ts_sync_parent(&n->sync);
	uint32_t step;
	return EVIL_CHECK(dmab_ts_sync_wait(&n->sync, &step, NULL, 10000) == 0 && step == 1,
		"the noisy guest did not show its frame");
}

static int noise_stop(struct noise *n)
{
	dmab_ts_sync_go(&n->sync, 0);
	int status = dmab_ts_guest_wait(n->pid, 10000);
	dmab_ts_sync_close(&n->sync);
	return EVIL_CHECK(status == 0, "the noisy guest ended with %d", status);
}

/* A guest with an 8192x8192 connector showing a 4000x4000 frame. */
#define BIG 8192
#define BIG_FB 4000
#define BIG_FRAME 5

struct big {
	struct dmab_test_server *server;
	struct dmab_ts_sync sync;
};

static bool big_flipped;

static void handle_big_flip(void *data, unsigned int index, struct dmab_client_buffer *buffer)
{
	big_flipped = true;
}

static int big_main(void *data)
{
	struct big *b = data;
	struct dmab_client_connector_spec spec = { BIG, BIG, "big0" };
	struct dmab_client_options options;
	dmab_ts_client_options(b->server, &options);
	options.create_device = true;
	options.connectors = &spec;
	options.connector_count = 1;
	options.timeout_ms = 10000;
	struct dmab_client *client;
	GUEST_CHECK(dmab_client_connect(&options, &client) == 0);
	dmab_client_set_flip_handler(client, handle_big_flip, NULL);
	struct dmab_client_buffer *buf;
	GUEST_CHECK(dmab_client_buffer_create(client, BIG_FB, BIG_FB, DRM_FORMAT_XRGB8888,
		&buf) == 0);
	dmab_ts_fill(dmab_client_buffer_data(buf), dmab_client_buffer_stride(buf), BIG_FB,
		BIG_FB, BIG_FRAME);
	GUEST_CHECK(dmab_client_set_config(client, 0, buf, 0, 0) == 0);
	GUEST_CHECK(dmab_client_flip(client, 0, buf) == 0);
	GUEST_CHECK(dmab_ts_dispatch_until(client, &big_flipped, 20000) == 0);
	GUEST_CHECK(dmab_ts_sync_reach(&b->sync, 1, dmab_client_domid(client), NULL, 120000) == 0);
	dmab_client_destroy(client);
	return 0;
}

static int test_big_shot(struct evil_env *env)
{
	int fails = 0;
	struct big b = { .server = &env->server };
	if (dmab_ts_sync_open(&b.sync))
		return EVIL_CHECK(false, "no pipes");
	pid_t pid = dmab_ts_guest(big_main, &b);
	dmab_ts_sync_parent(&b.sync);
	uint32_t step;
	uint64_t domid;
	if (dmab_ts_sync_wait(&b.sync, &step, &domid, 60000) || step != 1) {
		fails += EVIL_CHECK(false, "the big guest did not show its frame");
		goto out;
	}

	FILE *f = tmpfile();
	int sock = f ? shot_start(env, "\"connector\":\"big0\"", fileno(f)) : -1;
	fails += EVIL_CHECK(sock >= 0, "cannot ask for a screenshot of big0");
	struct watch w;
	watch_start(&w, env);
	json_object *r = NULL;
	while (sock >= 0 && dmab_ts_now_ms() < w.t0 + 60000) {
		watch_poll(&w);
		struct pollfd p = { sock, POLLIN, 0 };
		if (poll(&p, 1, 50) == 1) {
			r = ctl_answer(sock, 1000, NULL);
			break;
		}
	}
	uint64_t took = dmab_ts_now_ms() - w.t0;
	fprintf(stderr, "big: a screenshot of %dx%d in %" PRIu64 " ms\n", BIG, BIG, took);
	fails += EVIL_CHECK(answer_ok(r) && json_object_get_int(get(r, "width")) == BIG &&
		json_object_get_int(get(r, "height")) == BIG, "the big screenshot: %s",
		r ? json_object_to_json_string(r) : "no answer");
	if (r)
		json_object_put(r);
	fails += watch_check(&w, "an 8192x8192 screenshot");
	if (sock >= 0)
		close(sock);

	/* And it shows the frame, pixel for pixel, black around it. */
	if (f) {
		rewind(f);
		uint8_t *rgba = NULL;
		uint32_t pw = 0, ph = 0;
		char path[64];
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fileno(f));
		if (dmab_ts_png_read(path, &rgba, &pw, &ph) == 0 && pw == BIG && ph == BIG) {
			fails += EVIL_CHECK(dmab_ts_check(rgba, pw, 0, 0, BIG_FB, BIG_FB, BIG_FRAME) == 0,
				"big0's frame is not what it drew");
			fails += EVIL_CHECK(dmab_ts_check_black(rgba, pw, BIG_FB, 0, BIG - BIG_FB,
				BIG) == 0 && dmab_ts_check_black(rgba, pw, 0, BIG_FB, BIG_FB,
				BIG - BIG_FB) == 0, "big0 is not black around its frame");
		} else {
			fails += EVIL_CHECK(false, "the big screenshot is not an %dx%d PNG", BIG, BIG);
		}
		free(rgba);
		fclose(f);
	}
out:
	dmab_ts_sync_go(&b.sync, 0);
	fails += EVIL_CHECK(dmab_ts_guest_wait(pid, 60000) == 0, "the big guest failed");
	dmab_ts_sync_close(&b.sync);
	return fails;
}

/*
 * More screenshots at once than the server takes: the rest are told it is
 * busy. Into a pipe and a socket nobody reads, that end when their readers go.
 */
static int test_busy(struct evil_env *env)
{
	int fails = 0;
	int pipes[MAX_SHOTS + 1][2], socks[MAX_SHOTS + 1];
	for (int i = 0; i <= MAX_SHOTS; i++) {
		if (i == 1 ? small_socket(pipes[i]) : small_pipe(pipes[i]))
			return fails + EVIL_CHECK(false, "no pipe");
		socks[i] = shot_start(env, "\"screen\":\"main\"", pipes[i][1]);
		close(pipes[i][1]);
		fails += EVIL_CHECK(socks[i] >= 0, "cannot ask for screenshot %d", i);
		evil_sleep_ms(100);
	}
	json_object *r = socks[MAX_SHOTS] >= 0 ? ctl_answer(socks[MAX_SHOTS], 2000, NULL) : NULL;
	json_object *e = get(r, "error");
	fails += EVIL_CHECK(answer_error(r) && strstr(json_object_get_string(e), "busy"),
		"screenshot %d while %d are written: %s", MAX_SHOTS + 1, MAX_SHOTS,
		r ? json_object_to_json_string(r) : "no answer");
	if (r)
		json_object_put(r);
	/* Readers that go away end their screenshots at once, with an error. */
	for (int i = 0; i < MAX_SHOTS; i++) {
		close(pipes[i][0]);
		r = socks[i] >= 0 ? ctl_answer(socks[i], 5000, NULL) : NULL;
		fails += EVIL_CHECK(answer_error(r), "screenshot %d into a closed pipe: %s", i,
			r ? json_object_to_json_string(r) : "no answer");
		if (r)
			json_object_put(r);
	}
	close(pipes[MAX_SHOTS][0]);
	for (int i = 0; i <= MAX_SHOTS; i++) {
		if (socks[i] >= 0)
			close(socks[i]);
	}
	/* Then there is room again. */
	uint8_t *rgba;
	uint32_t w, h;
	if (dmab_ts_screenshot(&env->server, "screen:main", &rgba, &w, &h) == 0)
		free(rgba);
	else
		fails += EVIL_CHECK(false, "no screenshot after the busy ones");
	return fails;
}

/* A client that asks and shuts its side for writing still gets every answer. */
static int test_half_closed(struct evil_env *env)
{
	int fails = 0;
	FILE *f = tmpfile();
	int sock = f ? ctl_connect(&env->server) : -1;
	if (sock < 0)
		return EVIL_CHECK(false, "cannot connect");
	static const char stats[] = "{\"cmd\":\"stats\"}";
	static const char shot[] = "{\"cmd\":\"screenshot\",\"connector\":\"noise0\"}";
	fails += EVIL_CHECK(ctl_send(sock, stats, strlen(stats), -1) == 0 &&
		ctl_send(sock, shot, strlen(shot), fileno(f)) == 0 &&
		shutdown(sock, SHUT_WR) == 0, "cannot ask");
	char buf[65536];
	size_t used = 0;
	uint64_t deadline = dmab_ts_now_ms() + 10000;
	bool closed = false;
	while (!closed && used < sizeof(buf) - 1 && dmab_ts_now_ms() < deadline) {
		struct pollfd p = { sock, POLLIN, 0 };
		if (poll(&p, 1, 100) <= 0)
			continue;
		ssize_t n = read(sock, buf + used, sizeof(buf) - 1 - used);
		closed = n <= 0;
		used += n > 0 ? (size_t)n : 0;
	}
	buf[used] = '\0';
	char *nl = strchr(buf, '\n');
	json_object *first = nl ? json_tokener_parse(buf) : NULL;
	json_object *second = nl ? json_tokener_parse(nl + 1) : NULL;
	fails += EVIL_CHECK(closed && answer_ok(first) && answer_ok(second) &&
		json_object_get_int(get(second, "width")) == NOISE_W,
		"after shutting its side: %s", buf);
	if (first)
		json_object_put(first);
	if (second)
		json_object_put(second);
	uint8_t *rgba = NULL;
	uint32_t w = 0, h = 0;
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fileno(f));
	fails += EVIL_CHECK(dmab_ts_png_read(path, &rgba, &w, &h) == 0 && w == NOISE_W &&
		h == NOISE_H && dmab_ts_check_format(rgba, w, 0, 0, w, h, DRM_FORMAT_XRGB8888, 1,
			true) == 0, "the screenshot of a half-closed client is not noise0's frame");
	free(rgba);
	fclose(f);
	close(sock);
	return fails;
}

/*
 * Screenshots into pipes nobody reads, left running for the shutdown that
 * follows: it must be prompt, and free everything (ASan checks on exit).
 * The read ends go into readers[] (MAX_SHOTS of them), to close afterwards.
 */
static int start_unread_shots(struct evil_env *env, int *readers, int *socks)
{
	int fails = 0;
	for (int i = 0; i < MAX_SHOTS; i++) {
		int fds[2];
		readers[i] = socks[i] = -1;
		if (small_pipe(fds))
			return fails + EVIL_CHECK(false, "no pipe");
		socks[i] = shot_start(env, "\"screen\":\"main\"", fds[1]);
		close(fds[1]);
		readers[i] = fds[0];
		fails += EVIL_CHECK(socks[i] >= 0, "cannot ask for screenshot %d", i);
	}
	evil_sleep_ms(300);
	return fails;
}

int main(int argc, char *argv[])
{
	const char *part = argc > 1 ? argv[1] : "";
	struct evil_env env;
	const char *config = NULL;
	if (!strcmp(part, "big-answer"))
		config = "[limits]\nmax-buffers = 4096\nrequests-per-second = 0\n";
	else if (!strcmp(part, "shots"))
		config = "[connector.noise0]\nx = 400\ny = 0\n";
	if (evil_env_start(&env, config))
		return 1;
	int fails = 0;
	if (!strcmp(part, "requests")) {
		fails += test_requests(&env);
	} else if (!strcmp(part, "pipeline")) {
		fails += test_pipeline(&env);
	} else if (!strcmp(part, "big-answer")) {
		fails += test_big_answer(&env);
	} else if (!strcmp(part, "idle")) {
		fails += test_idle(&env);
	} else if (!strcmp(part, "timeout")) {
		fails += test_timeout(&env);
	} else if (!strcmp(part, "shots")) {
		struct noise noise;
		fails += noise_start(&env, &noise);
		fprintf(stderr, "== a pipe nobody reads\n");
		fails += test_pipe_nobody_reads(&env);
		fprintf(stderr, "== a client that shuts its side for writing\n");
		fails += test_half_closed(&env);
		fprintf(stderr, "== more screenshots than the server takes\n");
		fails += test_busy(&env);
		fprintf(stderr, "== a very large screenshot\n");
		fails += test_big_shot(&env);
		fprintf(stderr, "== a shutdown while screenshots are written\n");
		int readers[MAX_SHOTS], socks[MAX_SHOTS];
		fails += start_unread_shots(&env, readers, socks);
		fails += noise_stop(&noise);
		fails += EVIL_CHECK(dmab_ts_alive(&env.server), "dmabridged died");
		env.failures += fails;
		uint64_t t0 = dmab_ts_now_ms();
		int failures = evil_env_finish(&env);
		uint64_t took = dmab_ts_now_ms() - t0;
		fprintf(stderr, "stopping with %d screenshots unread took %" PRIu64 " ms\n",
			MAX_SHOTS, took);
		failures += EVIL_CHECK(took < 5000, "stopping took %" PRIu64 " ms", took);
		for (int i = 0; i < MAX_SHOTS; i++) {
			if (readers[i] >= 0)
				close(readers[i]);
			if (socks[i] >= 0)
				close(socks[i]);
		}
		return failures ? 1 : 0;
	} else {
		fprintf(stderr, "usage: test-ctl-hostile requests|pipeline|big-answer|idle|timeout|shots\n");
		fails++;
	}
	/* Whatever happened, the server is alive, answers and its guest is fine. */
	fails += EVIL_CHECK(dmab_ts_alive(&env.server), "dmabridged died");
	env.failures += fails;
	return evil_env_finish(&env) ? 1 : 0;
}
