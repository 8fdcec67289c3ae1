// SPDX-License-Identifier: MIT
/*
 * test-hv-sim: what only the simulator has. The host (domain 0) runs in
 * this process; guests are forked children, either well-behaved ones using
 * hv/sim/guest.c or hostile ones speaking the socket protocol of
 * hv/sim/wire.h directly. Whatever a hostile guest does, the host must
 * keep serving a well-behaved guest, close (or refuse) the bad one, and
 * hold no descriptor of it afterwards.
 *
 *   test-hv-sim [TEST]...    (TAP on stdout; no argument runs them all)
 *
 * Children exit with _exit(): the leak checker watches this process, and
 * the guest library's own leaks are the conformance suite's business.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "hv/sim/sim.h"
#include "hv/sim/wire.h"
#include "protocol/wire.h"
#include "tests/hv/harness.h"

#define PAGE DMAB_XEN_PAGE_SIZE
#define NO_TX DMAB_HV_NO_TX
#define CHILD_TIMEOUT_MS 20000
#define PING_TIMEOUT_MS 3000

/* ---- failures ---- */

static char failure[512];

__attribute__((format(printf, 3, 4)))
static int fail_at(const char *file, int line, const char *fmt, ...)
{
	if (failure[0])
		return 1;
	int n = snprintf(failure, sizeof(failure), "%s:%d: ", file, line);
	va_list args;
	va_start(args, fmt);
	vsnprintf(failure + n, sizeof(failure) - (size_t)n, fmt, args);
	va_end(args);
	return 1;
}

#define CHECK(cond, ...) do { \
	if (!(cond)) \
		return fail_at(__FILE__, __LINE__, __VA_ARGS__); \
} while (0)

#define CHECK_RET(expr, want) do { \
	long long _got = (expr), _want = (want); \
	if (_got != _want) \
		return fail_at(__FILE__, __LINE__, "%s = %s, want %s", #expr, \
			harness_errname(_got), harness_errname(_want)); \
} while (0)

#define TRY(expr) do { \
	int _r = (expr); \
	if (_r) \
		return _r; \
} while (0)

/* In children: say what went wrong on stderr and give the exit status. */
#define CCHECK(cond, ...) do { \
	if (!(cond)) { \
		fprintf(stderr, "child %d: %s:%d: ", (int)getpid(), __FILE__, __LINE__); \
		fprintf(stderr, __VA_ARGS__); \
		fputc('\n', stderr); \
		return 1; \
	} \
} while (0)

#define CCHECK_RET(expr, want) do { \
	long long _got = (expr), _want = (want); \
	CCHECK(_got == _want, "%s = %s, want %s", #expr, harness_errname(_got), \
		harness_errname(_want)); \
} while (0)

/* ---- the host ---- */

struct host {
	struct dmab_hv *hv;
	char dir[64];
	char sock[128];
};

static int host_start(struct host *h, const struct dmab_sim_limits *limits)
{
	snprintf(h->dir, sizeof(h->dir), "/tmp/dmab-sim-test-XXXXXX");
	CHECK(mkdtemp(h->dir), "mkdtemp: %s", strerror(errno));
	snprintf(h->sock, sizeof(h->sock), "%s/sim.sock", h->dir);
	int ret = dmab_hv_sim_host(h->sock, limits, &h->hv);
	if (ret) {
		rmdir(h->dir);
		return fail_at(__FILE__, __LINE__, "dmab_hv_sim_host: %s", harness_errname(ret));
	}
	return 0;
}

static void host_stop(struct host *h)
{
	dmab_hv_destroy(h->hv);
	h->hv = NULL;
	rmdir(h->dir);
}

/* ---- children ---- */

typedef int (*child_fn)(const char *sock, int report, void *arg);

struct child {
	pid_t pid;
	int rd;                 /* what the child reports */
	int status;
	bool exited;
};

static int spawn(struct host *h, struct child *c, child_fn fn, void *arg)
{
	int p[2];
	memset(c, 0, sizeof(*c));
	CHECK(pipe2(p, O_CLOEXEC) == 0, "pipe: %s", strerror(errno));
	fflush(NULL);
	c->pid = fork();
	CHECK(c->pid >= 0, "fork: %s", strerror(errno));
	if (c->pid == 0) {
		/* Nothing of the host's: only stdio and the report pipe, as fd 3. */
		dup2(p[1], 3);
		close_range(4, ~0u, 0);
		_exit(fn(h->sock, 3, arg));
	}
	close(p[1]);
	c->rd = p[0];
	fcntl(c->rd, F_SETFL, O_NONBLOCK);
	return 0;
}

static bool child_poll(struct child *c)
{
	if (!c->exited && waitpid(c->pid, &c->status, WNOHANG) == c->pid)
		c->exited = true;
	return c->exited;
}

static void child_finish(struct child *c)
{
	if (c->pid > 0 && !c->exited) {
		kill(c->pid, SIGKILL);
		waitpid(c->pid, &c->status, 0);
		c->exited = true;
	}
	if (c->rd >= 0)
		close(c->rd);
	c->rd = -1;
}

/* Serve until the child exited; its exit status must be 0. */
static int child_wait(struct host *h, struct child *c, const char *what)
{
	uint64_t deadline = dmab_now_ms() + CHILD_TIMEOUT_MS;
	while (!child_poll(c)) {
		CHECK(dmab_now_ms() < deadline, "%s: child still running", what);
		harness_pump(h->hv, 10);
	}
	CHECK(WIFEXITED(c->status) && WEXITSTATUS(c->status) == 0,
		"%s: child exit status %#x (see stderr)", what, c->status);
	return 0;
}

/* Serve until the child reported a number (domids and steps). */
static int child_read(struct host *h, struct child *c, uint32_t *v, const char *what)
{
	uint64_t deadline = dmab_now_ms() + CHILD_TIMEOUT_MS;
	for (;;) {
		ssize_t n = read(c->rd, v, sizeof(*v));
		if (n == sizeof(*v))
			return 0;
		CHECK(n < 0 && errno == EAGAIN, "%s: child report: %zd (%s)", what, n,
			n < 0 ? strerror(errno) : "end of pipe");
		CHECK(dmab_now_ms() < deadline, "%s: no report from the child", what);
		harness_pump(h->hv, 10);
	}
}

static void report(int fd, uint32_t v)
{
	if (write(fd, &v, sizeof(v)) != sizeof(v))
		_exit(3);
}

/* ---- a well-behaved guest ---- */

/*
 * Connects, reports its domid, runs an optional scenario (its result is
 * reported too), then answers pings: data/ping = N -> data/pong = N, until
 * data/ping = "exit".
 */
typedef int (*scenario_fn)(struct dmab_hv *hv, int report_fd);

static void handle_ping(void *data, const char *path)
{
	*(bool *)data = true;
}

static int good_guest(const char *sock, int rep, void *arg)
{
	scenario_fn scenario = (scenario_fn)arg;
	struct dmab_hv *hv;
	int ret = dmab_hv_sim_connect(sock, &hv);
	CCHECK_RET(ret, 0);
	report(rep, dmab_hv_domid(hv));
	if (scenario) {
		int st = scenario(hv, rep);
		report(rep, (uint32_t)st);
		if (st) {
			dmab_hv_destroy(hv);
			return st;
		}
	}
	bool fired = false;
	struct dmab_hv_watch *w;
	CCHECK_RET(dmab_hv_watch_add(hv, "data/ping", handle_ping, &fired, &w), 0);
	uint64_t deadline = dmab_now_ms() + 120000;
	int status = 1;
	while (dmab_now_ms() < deadline) {
		if (harness_pump(hv, 100))
			break;
		if (!fired)
			continue;
		fired = false;
		char *v = NULL;
		if (dmab_hv_store_read(hv, NO_TX, "data/ping", &v))
			continue;
		bool stop = strcmp(v, "exit") == 0;
		if (!stop && dmab_hv_store_write(hv, NO_TX, "data/pong", v))
			stop = true;
		free(v);
		if (stop) {
			status = 0;
			break;
		}
	}
	dmab_hv_watch_remove(w);
	dmab_hv_destroy(hv);
	return status;
}

static int ping(struct host *h, domid_t guest, int timeout_ms)
{
	static unsigned int n;
	char path[64], want[16], *v = NULL;
	snprintf(path, sizeof(path), "/local/domain/%u/data/ping", guest);
	snprintf(want, sizeof(want), "%u", ++n);
	CHECK_RET(dmab_hv_store_write(h->hv, NO_TX, path, want), 0);
	snprintf(path, sizeof(path), "/local/domain/%u/data/pong", guest);
	uint64_t deadline = dmab_now_ms() + (uint64_t)timeout_ms;
	for (;;) {
		if (dmab_hv_store_read(h->hv, NO_TX, path, &v) == 0) {
			bool ok = strcmp(v, want) == 0;
			free(v);
			if (ok)
				return 0;
		}
		CHECK(dmab_now_ms() < deadline, "guest %u did not answer ping %s within %d ms",
			guest, want, timeout_ms);
		harness_pump(h->hv, 5);
	}
}

static int stop_guest(struct host *h, struct child *c, domid_t guest)
{
	char path[64];
	snprintf(path, sizeof(path), "/local/domain/%u/data/ping", guest);
	CHECK_RET(dmab_hv_store_write(h->hv, NO_TX, path, "exit"), 0);
	TRY(child_wait(h, c, "well-behaved guest"));
	child_finish(c);
	return 0;
}

static int start_good(struct host *h, struct child *c, domid_t *domid, scenario_fn scenario)
{
	uint32_t id;
	TRY(spawn(h, c, good_guest, (void *)scenario));
	TRY(child_read(h, c, &id, "guest domid"));
	*domid = (domid_t)id;
	if (scenario) {
		uint32_t st;
		TRY(child_read(h, c, &st, "guest scenario"));
		CHECK(st == 0, "guest %u's scenario failed (see stderr)", *domid);
	}
	return 0;
}

/* ---- a raw guest: the wire protocol by hand ---- */

static int raw_connect(const char *sock)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", sock);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static int raw_send(int fd, uint32_t type, const void *payload, size_t len,
		const int *fds, unsigned int nfds)
{
	static uint32_t seq;
	return dmab_sim_send(fd, type, ++seq, 0, payload, len, fds, nfds, false);
}

/*
 * The next message that is not a watch event, within 5 s: 1 with *msg,
 * 0 when the host closed the connection, -ETIMEDOUT.
 */
static int raw_recv(int fd, struct dmab_sim_msg *msg)
{
	uint64_t deadline = dmab_now_ms() + 5000;
	for (;;) {
		int ret = dmab_sim_recv(fd, 4 * DMAB_SIM_DEFAULT_MAX_MESSAGE, msg);
		if (ret == 1 && msg->hdr.type == DMAB_SIM_EVT_WATCH) {
			dmab_sim_msg_finish(msg);
			continue;
		}
		if (ret == -ECONNRESET)
			return 0;
		if (ret != -EAGAIN)
			return ret;
		uint64_t now = dmab_now_ms();
		if (now >= deadline)
			return -ETIMEDOUT;
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		poll(&pfd, 1, (int)(deadline - now));
	}
}

/* Send and return the answer's status (or 1 if the host hung up). */
static int raw_call(int fd, uint32_t type, const void *payload, size_t len,
		const int *fds, unsigned int nfds, struct dmab_sim_msg *out)
{
	int ret = raw_send(fd, type, payload, len, fds, nfds);
	if (ret)
		return ret == -EPIPE || ret == -ECONNRESET ? 1 : ret;
	struct dmab_sim_msg msg;
	ret = raw_recv(fd, &msg);
	if (ret <= 0)
		return ret == 0 ? 1 : ret;
	if (msg.hdr.type != type) {
		dmab_sim_msg_finish(&msg);
		return -EPROTO;
	}
	ret = msg.hdr.status;
	if (out && ret == 0)
		*out = msg;
	else
		dmab_sim_msg_finish(&msg);
	return ret;
}

static int raw_hello(int fd, domid_t *domid)
{
	struct dmab_sim_hello hello = { .version = DMAB_SIM_PROTOCOL_VERSION, .name = "hostile" };
	struct dmab_sim_msg msg;
	int ret = raw_call(fd, DMAB_SIM_HELLO, &hello, sizeof(hello), NULL, 0, &msg);
	if (ret)
		return ret;
	struct dmab_sim_hello_reply r;
	memcpy(&r, msg.payload, sizeof(r));
	dmab_sim_msg_finish(&msg);
	*domid = (domid_t)r.domid;
	return 0;
}

/* 0 once the host closed the connection (answers before that are read and dropped). */
static int expect_closed(int fd)
{
	for (;;) {
		struct dmab_sim_msg msg;
		int ret = raw_recv(fd, &msg);
		if (ret == 1) {
			dmab_sim_msg_finish(&msg);
			continue;
		}
		return ret;
	}
}

/* A request that the host answers: proof the connection still works. */
static int still_served(int fd)
{
	uint8_t m[9] = { 0 };
	memcpy(m + 4, "name", 5);
	return raw_call(fd, DMAB_SIM_STORE_READ, m, sizeof(m), NULL, 0, NULL);
}

static int sealed_memfd(size_t size, unsigned int seals)
{
	int fd = memfd_create("sim-test", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0 || (seals && fcntl(fd, F_ADD_SEALS, seals) < 0)) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* ---- hostile scenarios: each a child, exit 0 when the host reacted as it must ---- */

struct bad_msg {
	const char *name;
	bool hello;             /* say HELLO first */
	uint32_t type;
	const void *payload;
	size_t len;
	unsigned int nfds;      /* eventfds to attach */
	bool closed;            /* the host must hang up (else: answer with status) */
	int status;
};

static int bad_message(const char *sock, int rep, void *arg)
{
	const struct bad_msg *b = arg;
	int fd = raw_connect(sock);
	CCHECK(fd >= 0, "connect: %s", harness_errname(fd));
	domid_t domid;
	if (b->hello)
		CCHECK_RET(raw_hello(fd, &domid), 0);
	int fds[DMAB_SIM_MAX_FDS];
	for (unsigned int i = 0; i < b->nfds; i++)
		fds[i] = eventfd(0, EFD_CLOEXEC);
	int ret = raw_send(fd, b->type, b->payload, b->len, fds, b->nfds);
	for (unsigned int i = 0; i < b->nfds; i++)
		close(fds[i]);
	CCHECK_RET(ret, 0);
	if (b->closed) {
		CCHECK_RET(expect_closed(fd), 0);
	} else {
		struct dmab_sim_msg msg;
		CCHECK_RET(raw_recv(fd, &msg), 1);
		int st = msg.hdr.status;
		dmab_sim_msg_finish(&msg);
		CCHECK(st == b->status, "%s: status %s, want %s", b->name, harness_errname(st),
			harness_errname(b->status));
		CCHECK_RET(still_served(fd), 0);
	}
	close(fd);
	return 0;
}

/* Raw bytes that are not a message: short header, lying length, garbage. */
struct bad_bytes {
	const char *name;
	bool hello;
	const void *bytes;
	size_t len;
};

static int bad_bytes(const char *sock, int rep, void *arg)
{
	const struct bad_bytes *b = arg;
	int fd = raw_connect(sock);
	CCHECK(fd >= 0, "connect: %s", harness_errname(fd));
	domid_t domid;
	if (b->hello)
		CCHECK_RET(raw_hello(fd, &domid), 0);
	CCHECK(send(fd, b->bytes, b->len, MSG_NOSIGNAL) == (ssize_t)b->len, "send: %s",
		strerror(errno));
	CCHECK_RET(expect_closed(fd), 0);
	close(fd);
	return 0;
}

/* More descriptors than one message may carry. */
static int too_many_fds(const char *sock, int rep, void *arg)
{
	int fd = raw_connect(sock);
	CCHECK(fd >= 0, "connect: %s", harness_errname(fd));
	domid_t domid;
	CCHECK_RET(raw_hello(fd, &domid), 0);
	enum { N = DMAB_SIM_MAX_FDS + 8 };
	int fds[N];
	for (int i = 0; i < N; i++)
		fds[i] = eventfd(0, EFD_CLOEXEC);
	struct {
		struct dmab_sim_hdr hdr;
		struct dmab_sim_mem_add add;
	} m = { { DMAB_SIM_MEM_ADD, 1, 0, sizeof(struct dmab_sim_mem_add) },
		{ DMAB_SIM_MEM_MEMFD, 0, PAGE } };
	union {
		char buf[CMSG_SPACE(sizeof(fds))];
		struct cmsghdr align;
	} ctrl;
	memset(&ctrl, 0, sizeof(ctrl));
	struct iovec iov = { &m, sizeof(m) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctrl.buf,
		.msg_controllen = sizeof(ctrl.buf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(cm), fds, sizeof(fds));
	CCHECK(sendmsg(fd, &mh, MSG_NOSIGNAL) == sizeof(m), "sendmsg: %s", strerror(errno));
	for (int i = 0; i < N; i++)
		close(fds[i]);
	CCHECK_RET(expect_closed(fd), 0);
	close(fd);
	return 0;
}

/* One message far over the host's limit. */
static int huge_message(const char *sock, int rep, void *arg)
{
	int fd = raw_connect(sock);
	CCHECK(fd >= 0, "connect: %s", harness_errname(fd));
	domid_t domid;
	CCHECK_RET(raw_hello(fd, &domid), 0);
	size_t len = 4 * DMAB_SIM_DEFAULT_MAX_MESSAGE;
	int sndbuf = (int)len * 2;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	uint8_t *big = calloc(1, len);
	CCHECK(big, "calloc");
	memcpy(big + 4, "name", 5);
	int ret = raw_send(fd, DMAB_SIM_STORE_READ, big, len, NULL, 0);
	free(big);
	CCHECK_RET(ret, 0);
	CCHECK_RET(expect_closed(fd), 0);
	close(fd);
	return 0;
}

/* MEM_ADD with descriptors that must not become guest memory. */
static int mem_add_status(int sock, int memfd, uint32_t kind, uint64_t size)
{
	struct dmab_sim_mem_add add = { .kind = kind, .size = size };
	return raw_call(sock, DMAB_SIM_MEM_ADD, &add, sizeof(add), &memfd, 1, NULL);
}

static int bad_memory(const char *sock, int rep, void *arg)
{
	int fd = raw_connect(sock);
	CCHECK(fd >= 0, "connect: %s", harness_errname(fd));
	domid_t domid;
	CCHECK_RET(raw_hello(fd, &domid), 0);

	/* Not sealed against shrinking: the guest could pull pages from under dom0's maps. */
	int unsealed = sealed_memfd(4 * PAGE, 0);
	CCHECK(unsealed >= 0, "memfd");
	CCHECK_RET(mem_add_status(fd, unsealed, DMAB_SIM_MEM_MEMFD, 4 * PAGE), -EINVAL);
	/* ... nor when it claims to be a dma-buf. */
	CCHECK(mem_add_status(fd, unsealed, DMAB_SIM_MEM_DMABUF, 4 * PAGE) < 0,
		"an unsealed memfd accepted as a dma-buf");
	close(unsealed);
	/* Grow-only seals are not enough either. */
	int grow = sealed_memfd(PAGE, F_SEAL_GROW);
	CCHECK_RET(mem_add_status(fd, grow, DMAB_SIM_MEM_MEMFD, PAGE), -EINVAL);
	close(grow);

	/* A pipe is no memory at all; a regular file is no dma-buf. */
	int p[2];
	CCHECK(pipe2(p, O_CLOEXEC) == 0, "pipe");
	CCHECK(mem_add_status(fd, p[0], DMAB_SIM_MEM_MEMFD, PAGE) < 0, "a pipe accepted");
	CCHECK(mem_add_status(fd, p[0], DMAB_SIM_MEM_DMABUF, PAGE) < 0, "a pipe accepted");
	close(p[0]);
	close(p[1]);
	char tmpl[] = "/tmp/dmab-sim-file-XXXXXX";
	int file = mkostemp(tmpl, O_CLOEXEC);
	CCHECK(file >= 0, "mkostemp");
	unlink(tmpl);
	CCHECK(ftruncate(file, PAGE) == 0, "ftruncate");
	CCHECK(mem_add_status(fd, file, DMAB_SIM_MEM_DMABUF, PAGE) < 0,
		"a regular file accepted as a dma-buf");
	CCHECK(mem_add_status(fd, file, DMAB_SIM_MEM_MEMFD, PAGE) < 0,
		"a regular file accepted as a memfd");
	close(file);

	/* Sizes: not a page multiple, larger than the memfd, zero, an unknown kind. */
	int ok = sealed_memfd(2 * PAGE, F_SEAL_SHRINK);
	CCHECK(ok >= 0, "memfd");
	CCHECK_RET(mem_add_status(fd, ok, DMAB_SIM_MEM_MEMFD, PAGE + 1), -EINVAL);
	CCHECK_RET(mem_add_status(fd, ok, DMAB_SIM_MEM_MEMFD, 3 * PAGE), -EINVAL);
	CCHECK_RET(mem_add_status(fd, ok, DMAB_SIM_MEM_MEMFD, 0), -EINVAL);
	CCHECK_RET(mem_add_status(fd, ok, 7, PAGE), -EINVAL);
	/* And the real thing still works. */
	CCHECK_RET(mem_add_status(fd, ok, DMAB_SIM_MEM_MEMFD, 2 * PAGE), 0);
	close(ok);
	CCHECK_RET(still_served(fd), 0);
	close(fd);
	return 0;
}

/* Requests as fast as the socket takes them, never reading an answer. */
static int flood_no_read(const char *sock, int rep, void *arg)
{
	int fd = raw_connect(sock);
	CCHECK(fd >= 0, "connect: %s", harness_errname(fd));
	domid_t domid;
	CCHECK_RET(raw_hello(fd, &domid), 0);
	uint8_t m[9] = { 0 };
	memcpy(m + 4, "name", 5);
	uint64_t deadline = dmab_now_ms() + 15000;
	while (dmab_now_ms() < deadline) {
		int ret = dmab_sim_send(fd, DMAB_SIM_STORE_READ, 1, 0, m, sizeof(m), NULL, 0, true);
		if (ret == -EPIPE || ret == -ECONNRESET)
			break;
		if (ret == -EAGAIN) {
			/* Full: wait a little for room or for the hang-up. */
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };
			poll(&pfd, 1, 50);
			if (pfd.revents & (POLLHUP | POLLERR))
				break;
			continue;
		}
		CCHECK_RET(ret, 0);
	}
	struct pollfd pfd = { .fd = fd, .events = 0 };
	CCHECK(poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLHUP), "still connected after 15 s");
	close(fd);
	return 0;
}

/* Many requests, answers read as they come: all served, in order. */
static int flood_reading(const char *sock, int rep, void *arg)
{
	int fd = raw_connect(sock);
	CCHECK(fd >= 0, "connect: %s", harness_errname(fd));
	domid_t domid;
	CCHECK_RET(raw_hello(fd, &domid), 0);
	const uint32_t total = 20000, window = 64;
	uint8_t m[9] = { 0 };
	memcpy(m + 4, "name", 5);
	uint32_t sent = 0, answered = 0;
	while (answered < total) {
		while (sent < total && sent - answered < window) {
			CCHECK_RET(dmab_sim_send(fd, DMAB_SIM_STORE_READ, 1000 + sent, 0, m, sizeof(m),
				NULL, 0, false), 0);
			sent++;
		}
		struct dmab_sim_msg msg;
		int ret = raw_recv(fd, &msg);
		CCHECK(ret == 1, "answer %u: %s", answered, harness_errname(ret));
		bool ok = msg.hdr.seq == 1000 + answered && msg.hdr.status == 0;
		dmab_sim_msg_finish(&msg);
		CCHECK(ok, "answer %u out of order or failed", answered);
		answered++;
	}
	close(fd);
	return 0;
}

/* Memory regions one page at a time, until the host says no. */
static int flood_memory(const char *sock, int rep, void *arg)
{
	unsigned int max = *(const unsigned int *)arg;
	int fd = raw_connect(sock);
	CCHECK(fd >= 0, "connect: %s", harness_errname(fd));
	domid_t domid;
	CCHECK_RET(raw_hello(fd, &domid), 0);
	int mem = sealed_memfd(PAGE, F_SEAL_SHRINK);
	CCHECK(mem >= 0, "memfd");
	unsigned int n = 0;
	int ret = 0;
	for (; n < max; n++) {
		ret = mem_add_status(fd, mem, DMAB_SIM_MEM_MEMFD, PAGE);
		if (ret)
			break;
	}
	close(mem);
	report(rep, n);
	/* Refused with a status, the connection alive: a limit, not a crash. */
	CCHECK(ret == -ENOSPC, "region %u: %s, want -ENOSPC", n, harness_errname(ret));
	CCHECK_RET(still_served(fd), 0);
	/* Hold on to them until the parent has checked on the others. */
	struct pollfd pfd = { .fd = rep, .events = 0 };
	poll(&pfd, 1, CHILD_TIMEOUT_MS);
	close(fd);
	return 0;
}

/* ---- running hostile guests next to a well-behaved one ---- */

/*
 * Runs a hostile child while pinging the well-behaved guest every 100 ms,
 * then checks that the host holds no more descriptors than before.
 */
static int against(struct host *h, domid_t good, const char *name, child_fn fn, void *arg)
{
	int base = harness_count_fds();
	struct child bad;
	TRY(spawn(h, &bad, fn, arg));
	uint64_t deadline = dmab_now_ms() + CHILD_TIMEOUT_MS, last_ping = 0;
	int ret = 0;
	while (!ret && !child_poll(&bad)) {
		if (dmab_now_ms() >= deadline)
			ret = fail_at(__FILE__, __LINE__, "%s: hostile guest still running", name);
		harness_pump(h->hv, 10);
		if (!ret && dmab_now_ms() - last_ping >= 100) {
			ret = ping(h, good, PING_TIMEOUT_MS);
			last_ping = dmab_now_ms();
		}
	}
	child_finish(&bad);
	TRY(ret);
	CHECK(WIFEXITED(bad.status) && WEXITSTATUS(bad.status) == 0,
		"%s: hostile guest's checks failed, status %#x (see stderr)", name, bad.status);
	/* Its connection closes with it; the host must let go of everything. */
	deadline = dmab_now_ms() + 2000;
	while (harness_count_fds() != base && dmab_now_ms() < deadline)
		harness_pump(h->hv, 10);
	CHECK(harness_count_fds() == base, "%s: host has %d descriptors, %d before", name,
		harness_count_fds(), base);
	return ping(h, good, PING_TIMEOUT_MS);
}

static int test_hostile_messages(void)
{
	static const uint8_t three[3] = { 1, 2, 3 };
	static const struct dmab_sim_hello bad_version = { .version = 99 };
	static const struct dmab_sim_hello hello = { .version = DMAB_SIM_PROTOCOL_VERSION };
	static const uint32_t end_many[3] = { 1000, 8, 9 };            /* count 1000, 2 refs */
	static const uint32_t end_two[3] = { 2, 8, 9 };
	static const struct dmab_sim_grant grant_nowhere = { .region = 1000, .count = 1 };
	static const uint32_t map_many[4] = { 0, 1, 1000, 8 };          /* domid 0, writable, count 1000, 1 ref */
	static const uint32_t map_zero[3] = { 0, 0, 0 };
	static const uint32_t map_wrap[4] = { 0, 0, 0x40000001u, 8 };  /* count * 4 wraps in 32 bits */
	static const uint32_t vdispl_many[3] = { 0, 0, 5 };            /* 5 connectors, none there */
	static const uint8_t read_unterminated[8] = { 0, 0, 0, 0, 'n', 'a', 'm', 'e' };
	static const uint8_t write_no_value[9] = { 0, 0, 0, 0, 'a', 0, 'b', 'c', 'd' };
	static const uint8_t watch_no_token[5] = { 'd', 'a', 't', 'a', 0 };
	static const uint8_t read_ok[9] = { 0, 0, 0, 0, 'n', 'a', 'm', 'e', 0 };
	static const struct bad_msg cases[] = {
		{ "request before HELLO", false, DMAB_SIM_STORE_READ, read_ok, sizeof(read_ok), 0, true, 0 },
		{ "short HELLO", false, DMAB_SIM_HELLO, three, sizeof(three), 0, true, 0 },
		{ "second HELLO", true, DMAB_SIM_HELLO, &hello, sizeof(hello), 0, true, 0 },
		{ "HELLO of another version", false, DMAB_SIM_HELLO, &bad_version, sizeof(bad_version), 0, true, 0 },
		{ "HELLO with a descriptor", false, DMAB_SIM_HELLO, &hello, sizeof(hello), 1, true, 0 },
		{ "short GRANT", true, DMAB_SIM_GRANT, three, sizeof(three), 0, true, 0 },
		{ "short TX_END", true, DMAB_SIM_TX_END, three, 2, 0, true, 0 },
		{ "empty MEM_REMOVE", true, DMAB_SIM_MEM_REMOVE, NULL, 0, 0, true, 0 },
		{ "short UNMAP", true, DMAB_SIM_UNMAP, three, 1, 0, true, 0 },
		{ "empty EVTCHN_ALLOC", true, DMAB_SIM_EVTCHN_ALLOC, NULL, 0, 0, true, 0 },
		{ "long DOMAIN_ALIVE", true, DMAB_SIM_DOMAIN_ALIVE, end_many, 7, 0, true, 0 },
		{ "short store request", true, DMAB_SIM_STORE_READ, three, 2, 0, true, 0 },
		{ "short MEM_ADD", true, DMAB_SIM_MEM_ADD, three, 3, 1, true, 0 },
		{ "MEM_ADD without a descriptor", true, DMAB_SIM_MEM_ADD, map_many, 16, 0, true, 0 },
		{ "MEM_ADD with two descriptors", true, DMAB_SIM_MEM_ADD, map_many, 16, 2, true, 0 },
		{ "END_ACCESS count beyond the payload", true, DMAB_SIM_END_ACCESS, end_many, sizeof(end_many), 0, true, 0 },
		{ "MAP count beyond the payload", true, DMAB_SIM_MAP, map_many, sizeof(map_many), 0, true, 0 },
		{ "MAP of nothing", true, DMAB_SIM_MAP, map_zero, sizeof(map_zero), 0, true, 0 },
		{ "MAP count that wraps", true, DMAB_SIM_MAP, map_wrap, sizeof(map_wrap), 0, true, 0 },
		{ "ADD_VDISPL count beyond the payload", true, DMAB_SIM_ADD_VDISPL, vdispl_many, sizeof(vdispl_many), 0, true, 0 },
		{ "unterminated path", true, DMAB_SIM_STORE_READ, read_unterminated, sizeof(read_unterminated), 0, true, 0 },
		{ "unterminated value", true, DMAB_SIM_STORE_WRITE, write_no_value, sizeof(write_no_value), 0, true, 0 },
		{ "watch without a token", true, DMAB_SIM_STORE_WATCH, watch_no_token, sizeof(watch_no_token), 0, true, 0 },
		{ "empty watch", true, DMAB_SIM_STORE_UNWATCH, NULL, 0, 0, true, 0 },
		{ "store request with a descriptor", true, DMAB_SIM_STORE_READ, read_ok, sizeof(read_ok), 1, true, 0 },
		{ "EVTCHN_CLOSE with descriptors", true, DMAB_SIM_EVTCHN_CLOSE, end_many, 4, 3, true, 0 },
		{ "unknown type", true, 0xdead, read_ok, sizeof(read_ok), 0, true, 0 },
		{ "host-to-guest type", true, DMAB_SIM_EVT_WATCH, read_ok, sizeof(read_ok), 0, true, 0 },
		/* Refused, not cut off. */
		{ "UNMAP of nothing mapped", true, DMAB_SIM_UNMAP, end_many, 4, 0, false, -EINVAL },
		{ "EVTCHN_CLOSE of no port", true, DMAB_SIM_EVTCHN_CLOSE, end_many, 4, 0, false, -EINVAL },
		{ "END_ACCESS of refs never granted", true, DMAB_SIM_END_ACCESS, end_two, sizeof(end_two), 0, false, -EINVAL },
		{ "TX_END of no transaction", true, DMAB_SIM_TX_END, map_zero, 8, 0, false, -ENOENT },
		{ "MEM_REMOVE of no region", true, DMAB_SIM_MEM_REMOVE, end_many, 4, 0, false, -ENOENT },
		{ "GRANT of no region", true, DMAB_SIM_GRANT, &grant_nowhere, sizeof(grant_nowhere), 0, false, -ENOENT },
	};
	struct host h;
	struct child good;
	domid_t good_id;
	TRY(host_start(&h, NULL));
	int ret = start_good(&h, &good, &good_id, NULL);
	for (size_t i = 0; !ret && i < sizeof(cases) / sizeof(cases[0]); i++)
		ret = against(&h, good_id, cases[i].name, bad_message, (void *)&cases[i]);
	if (!ret)
		ret = stop_guest(&h, &good, good_id);
	child_finish(&good);
	host_stop(&h);
	return ret;
}

static int test_hostile_bytes(void)
{
	struct dmab_sim_hdr lying = { DMAB_SIM_STORE_READ, 1, 0, 100 };
	uint8_t lying_msg[sizeof(lying) + 10] = { 0 };
	memcpy(lying_msg, &lying, sizeof(lying));
	uint8_t garbage[64];
	for (size_t i = 0; i < sizeof(garbage); i++)
		garbage[i] = (uint8_t)(i * 151 + 7);
	const struct bad_bytes cases[] = {
		{ "short header", false, "abcde", 5 },
		{ "short header after HELLO", true, "abcde", 5 },
		{ "lying length", true, lying_msg, sizeof(lying_msg) },
		{ "garbage", false, garbage, sizeof(garbage) },
		{ "garbage after HELLO", true, garbage, sizeof(garbage) },
		{ "empty packet", true, "", 0 },
	};
	struct host h;
	struct child good;
	domid_t good_id;
	TRY(host_start(&h, NULL));
	int ret = start_good(&h, &good, &good_id, NULL);
	for (size_t i = 0; !ret && i < sizeof(cases) / sizeof(cases[0]); i++)
		ret = against(&h, good_id, cases[i].name, bad_bytes, (void *)&cases[i]);
	if (!ret)
		ret = against(&h, good_id, "too many descriptors", too_many_fds, NULL);
	if (!ret)
		ret = against(&h, good_id, "huge message", huge_message, NULL);
	if (!ret)
		ret = against(&h, good_id, "memory that is not", bad_memory, NULL);
	if (!ret)
		ret = stop_guest(&h, &good, good_id);
	child_finish(&good);
	host_stop(&h);
	return ret;
}

static int test_flood(void)
{
	struct host h;
	struct child good;
	domid_t good_id;
	TRY(host_start(&h, NULL));
	int ret = start_good(&h, &good, &good_id, NULL);
	if (!ret)
		ret = against(&h, good_id, "flood, never reading", flood_no_read, NULL);
	if (!ret)
		ret = against(&h, good_id, "flood, reading", flood_reading, NULL);
	if (!ret)
		ret = stop_guest(&h, &good, good_id);
	child_finish(&good);
	host_stop(&h);
	return ret;
}

/* A guest that watches its own directory and never reads the events. */
static int deaf_guest(const char *sock, int rep, void *arg)
{
	int fd = raw_connect(sock);
	CCHECK(fd >= 0, "connect: %s", harness_errname(fd));
	domid_t domid;
	CCHECK_RET(raw_hello(fd, &domid), 0);
	static const char watch[] = "data\0tok";
	CCHECK_RET(raw_call(fd, DMAB_SIM_STORE_WATCH, watch, sizeof(watch), NULL, 0, NULL), 0);
	report(rep, domid);
	struct pollfd pfd = { .fd = fd, .events = 0 };
	CCHECK(poll(&pfd, 1, CHILD_TIMEOUT_MS - 2000) == 1 && (pfd.revents & POLLHUP),
		"not cut off");
	close(fd);
	return 0;
}

static int test_deaf_guest(void)
{
	struct host h;
	struct child good, deaf;
	domid_t good_id;
	uint32_t deaf_id;
	char path[64];
	TRY(host_start(&h, NULL));
	int base = -1, ret = start_good(&h, &good, &good_id, NULL);
	if (!ret) {
		base = harness_count_fds();
		ret = spawn(&h, &deaf, deaf_guest, NULL);
	}
	if (!ret)
		ret = child_read(&h, &deaf, &deaf_id, "deaf guest domid");
	if (!ret) {
		/* dom0 writes: every write is an event for the deaf guest. */
		snprintf(path, sizeof(path), "/local/domain/%u/data/n", deaf_id);
		unsigned int i;
		for (i = 0; i < 200000 && dmab_hv_domain_alive(h.hv, (domid_t)deaf_id); i++) {
			dmab_hv_store_printf(h.hv, NO_TX, path, "%u", i);
			if (i % 64 == 0)
				harness_pump(h.hv, 0);
		}
		if (dmab_hv_domain_alive(h.hv, (domid_t)deaf_id))
			ret = fail_at(__FILE__, __LINE__, "deaf guest still connected after %u events", i);
		else
			printf("# deaf guest cut off after %u events\n", i);
	}
	if (!ret)
		ret = child_wait(&h, &deaf, "deaf guest");
	child_finish(&deaf);
	if (!ret) {
		uint64_t deadline = dmab_now_ms() + 2000;
		while (harness_count_fds() != base && dmab_now_ms() < deadline)
			harness_pump(h.hv, 10);
		if (harness_count_fds() != base)
			ret = fail_at(__FILE__, __LINE__, "host has %d descriptors, %d before",
				harness_count_fds(), base);
	}
	if (!ret)
		ret = ping(&h, good_id, PING_TIMEOUT_MS);
	if (!ret)
		ret = stop_guest(&h, &good, good_id);
	child_finish(&good);
	host_stop(&h);
	return ret;
}

/* ---- a port closed and notified at once ---- */

/*
 * A guest that closes its port and notifies it in one breath, with the
 * host not looking: the host finds both in one batch of events, the close
 * first. The port's memory is gone by the time its event comes up: the
 * event must be dropped, not handled, and not reach the backend.
 */
static int close_and_notify_guest(const char *sock, int rep, void *arg)
{
	int fd = raw_connect(sock);
	CCHECK(fd >= 0, "connect: %s", harness_errname(fd));
	domid_t domid;
	CCHECK_RET(raw_hello(fd, &domid), 0);
	struct dmab_sim_id_msg alloc = { 0 };
	struct dmab_sim_msg msg;
	CCHECK_RET(raw_call(fd, DMAB_SIM_EVTCHN_ALLOC, &alloc, sizeof(alloc), NULL, 0, &msg), 0);
	CCHECK(msg.nfds == 2 && msg.hdr.len == sizeof(uint32_t), "EVTCHN_ALLOC: %u fds",
		msg.nfds);
	uint32_t port;
	memcpy(&port, msg.payload, sizeof(port));
	int to_us = msg.fds[0], from_us = msg.fds[1];
	msg.nfds = 0;
	dmab_sim_msg_finish(&msg);
	report(rep, domid);
	report(rep, port);
	/* The backend bound the port and notified it. */
	struct pollfd pfd = { .fd = to_us, .events = POLLIN };
	CCHECK(poll(&pfd, 1, CHILD_TIMEOUT_MS) == 1, "no notification from the backend");
	struct dmab_sim_id_msg close_msg = { port };
	CCHECK_RET(raw_send(fd, DMAB_SIM_EVTCHN_CLOSE, &close_msg, sizeof(close_msg), NULL, 0), 0);
	uint64_t one = 1;
	CCHECK(write(from_us, &one, sizeof(one)) == sizeof(one), "notify: %s", strerror(errno));
	report(rep, 1);
	CCHECK_RET(raw_recv(fd, &msg), 1);
	CCHECK(msg.hdr.type == DMAB_SIM_EVTCHN_CLOSE && msg.hdr.status == 0,
		"EVTCHN_CLOSE answered %u, status %d", msg.hdr.type, msg.hdr.status);
	dmab_sim_msg_finish(&msg);
	close(to_us);
	close(from_us);
	close(fd);
	return 0;
}

static void count_event(void *data)
{
	(*(unsigned int *)data)++;
}

static int test_close_and_notify(void)
{
	struct host h;
	struct child c;
	uint32_t domid = 0, port = 0, step;
	unsigned int events = 0;
	struct dmab_hv_evtchn *chn = NULL;
	TRY(host_start(&h, NULL));
	int ret = spawn(&h, &c, close_and_notify_guest, NULL);
	if (!ret)
		ret = child_read(&h, &c, &domid, "guest domid");
	if (!ret)
		ret = child_read(&h, &c, &port, "guest port");
	if (!ret && dmab_hv_evtchn_bind(h.hv, (domid_t)domid, port, count_event, &events, &chn))
		ret = fail_at(__FILE__, __LINE__, "cannot bind the guest's port");
	/* The binding's own event, out of the way. */
	for (uint64_t end = dmab_now_ms() + 5000; !ret && !events && dmab_now_ms() < end; )
		harness_pump(h.hv, 10);
	if (!ret && events != 1)
		ret = fail_at(__FILE__, __LINE__, "%u events of the binding, want 1", events);
	/*
	 * One more look: the port leaves epoll's ready list, so that the close
	 * (sent first) is ahead of the notification in the next batch.
	 */
	if (!ret)
		harness_pump(h.hv, 0);
	if (!ret && dmab_hv_evtchn_notify(chn))
		ret = fail_at(__FILE__, __LINE__, "cannot notify the guest");
	/* Not serving until the guest closed and notified: both wait for one batch. */
	if (!ret) {
		struct pollfd pfd = { .fd = c.rd, .events = POLLIN };
		if (poll(&pfd, 1, CHILD_TIMEOUT_MS) != 1 || read(c.rd, &step, sizeof(step)) !=
				sizeof(step))
			ret = fail_at(__FILE__, __LINE__, "the guest did not close and notify");
	}
	if (!ret)
		ret = child_wait(&h, &c, "close-and-notify guest");
	if (!ret && events != 1)
		ret = fail_at(__FILE__, __LINE__, "%u events, want 1: a closed port's event "
			"reached the backend", events);
	dmab_hv_evtchn_close(chn);
	child_finish(&c);
	host_stop(&h);
	return ret;
}

/* ---- several guests ---- */

static int read_is(struct host *h, const char *path, const char *want)
{
	char *v = NULL;
	int ret = dmab_hv_store_read(h->hv, NO_TX, path, &v);
	if (ret)
		return fail_at(__FILE__, __LINE__, "read %s: %s, want \"%s\"", path,
			harness_errname(ret), want);
	bool ok = strcmp(v, want) == 0;
	if (!ok)
		fail_at(__FILE__, __LINE__, "read %s = \"%s\", want \"%s\"", path, v, want);
	free(v);
	return ok ? 0 : 1;
}

static int wait_dead(struct host *h, domid_t domid)
{
	uint64_t deadline = dmab_now_ms() + 5000;
	while (dmab_hv_domain_alive(h->hv, domid)) {
		CHECK(dmab_now_ms() < deadline, "domain %u still alive", domid);
		harness_pump(h->hv, 10);
	}
	return 0;
}

#define NGUESTS 4

static int test_guests(void)
{
	struct host h;
	struct child c[NGUESTS + 1];
	domid_t id[NGUESTS + 1];
	char path[64], want[16];
	int ret = 0;
	unsigned int started = 0;
	TRY(host_start(&h, NULL));
	for (; started < NGUESTS && !ret; started++)
		ret = start_good(&h, &c[started], &id[started], NULL);
	/* Distinct ids, each with the toolstack's nodes, each alive and served. */
	for (unsigned int i = 0; i < started && !ret; i++) {
		for (unsigned int j = 0; j < i && !ret; j++)
			if (id[i] == id[j] || id[i] == 0)
				ret = fail_at(__FILE__, __LINE__, "guests %u and %u both domain %u",
					j, i, id[i]);
		snprintf(path, sizeof(path), "/local/domain/%u/domid", id[i]);
		snprintf(want, sizeof(want), "%u", id[i]);
		if (!ret)
			ret = read_is(&h, path, want);
		/* Named after the program and its id: unique, as Xen keeps names. */
		snprintf(path, sizeof(path), "/local/domain/%u/name", id[i]);
		char name[32];
		snprintf(name, sizeof(name), "test-hv-sim-%u", id[i]);
		if (!ret)
			ret = read_is(&h, path, name);
		if (!ret && !dmab_hv_domain_alive(h.hv, id[i]))
			ret = fail_at(__FILE__, __LINE__, "domain %u not alive", id[i]);
		if (!ret)
			ret = ping(&h, id[i], PING_TIMEOUT_MS);
	}
	/* One leaves: its directory goes, the others stay. */
	if (!ret)
		ret = stop_guest(&h, &c[1], id[1]);
	if (!ret)
		ret = wait_dead(&h, id[1]);
	if (!ret) {
		char *v = NULL;
		snprintf(path, sizeof(path), "/local/domain/%u", id[1]);
		int r = dmab_hv_store_read(h.hv, NO_TX, path, &v);
		free(v);
		if (r != -ENOENT)
			ret = fail_at(__FILE__, __LINE__, "read %s: %s, want -ENOENT", path,
				harness_errname(r));
	}
	for (unsigned int i = 0; i < started && !ret; i++)
		if (i != 1)
			ret = ping(&h, id[i], PING_TIMEOUT_MS);
	for (unsigned int i = 0; i < started; i++) {
		if (!ret && i != 1)
			ret = stop_guest(&h, &c[i], id[i]);
		child_finish(&c[i]);
	}
	host_stop(&h);
	return ret;
}

/* ---- the toolstack's vdispl device ---- */

static const struct dmab_sim_connector vdispl_conns[2] = {
	{ "id0", 640, 480 },
	{ "conn-1", 1920, 1080 },
};

static int guest_read_is(struct dmab_hv *hv, const char *path, const char *want)
{
	char *v = NULL;
	int ret = dmab_hv_store_read(hv, NO_TX, path, &v);
	CCHECK(ret == 0, "read %s: %s", path, harness_errname(ret));
	bool ok = strcmp(v, want) == 0;
	CCHECK(ok, "read %s = \"%s\", want \"%s\"", path, v, want);
	free(v);
	return 0;
}

static int guest_write_rc(struct dmab_hv *hv, const char *dir, const char *node)
{
	char path[160];
	snprintf(path, sizeof(path), "%s/%s", dir, node);
	return dmab_hv_store_write(hv, NO_TX, path, "x");
}

/* As the guest: what libxl would have written, and what it may change. */
static int vdispl_scenario(struct dmab_hv *hv, int rep)
{
	domid_t me = dmab_hv_domid(hv);
	char fe[96], be[96], path[160], want[96];
	CCHECK_RET(dmab_hv_sim_add_vdispl(hv, 0, true, vdispl_conns, 2), 0);
	CCHECK_RET(dmab_hv_sim_add_vdispl(hv, 0, true, vdispl_conns, 2), -EEXIST);
	CCHECK_RET(dmab_hv_sim_add_vdispl(hv, 1, false, vdispl_conns, 0), -EINVAL);
	const struct dmab_sim_connector zero = { "z", 0, 480 };
	CCHECK_RET(dmab_hv_sim_add_vdispl(hv, 1, false, &zero, 1), -EINVAL);

	snprintf(fe, sizeof(fe), "/local/domain/%u/device/vdispl/0", me);
	snprintf(be, sizeof(be), "/local/domain/0/backend/vdispl/%u/0", me);
	snprintf(path, sizeof(path), "%s/backend", fe);
	TRY(guest_read_is(hv, path, be));
	snprintf(path, sizeof(path), "%s/state", be);
	TRY(guest_read_is(hv, path, "1"));
	snprintf(path, sizeof(path), "%s/frontend-id", be);
	snprintf(want, sizeof(want), "%u", me);
	TRY(guest_read_is(hv, path, want));
	snprintf(path, sizeof(path), "%s/0/resolution", fe);
	TRY(guest_read_is(hv, path, "640x480"));

	/* libxl: the frontend directory and its state are the guest's ... */
	CCHECK_RET(guest_write_rc(hv, fe, "state"), 0);
	CCHECK_RET(guest_write_rc(hv, fe, "0/req-ring-ref"), 0);
	CCHECK_RET(guest_write_rc(hv, fe, "new-node"), 0);
	/* ... the backend's directory is read-only to it ... */
	CCHECK_RET(guest_write_rc(hv, be, "state"), -EACCES);
	CCHECK_RET(guest_write_rc(hv, be, "online"), -EACCES);
	CCHECK_RET(guest_write_rc(hv, be, "frontend"), -EACCES);
	CCHECK_RET(guest_write_rc(hv, be, "new-node"), -EACCES);
	snprintf(path, sizeof(path), "%s/state", be);
	CCHECK_RET(dmab_hv_store_remove(hv, NO_TX, path), -EACCES);
	return 0;
}

/* ... and the configuration (be-alloc, connectors) read-only as well. */
static int vdispl_ro_scenario(struct dmab_hv *hv, int rep)
{
	char fe[96], path[160];
	snprintf(fe, sizeof(fe), "/local/domain/%u/device/vdispl/0", dmab_hv_domid(hv));
	static const char *const ro[] = { "be-alloc", "0/resolution", "0/unique-id",
		"1/resolution", "1/unique-id" };
	for (size_t i = 0; i < sizeof(ro) / sizeof(ro[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", fe, ro[i]);
		char *v = NULL;
		CCHECK_RET(dmab_hv_store_read(hv, NO_TX, path, &v), 0);
		free(v);
		CCHECK_RET(guest_write_rc(hv, fe, ro[i]), -EACCES);
		CCHECK_RET(dmab_hv_store_remove(hv, NO_TX, path), -EACCES);
	}
	return 0;
}

static int vdispl_both(struct dmab_hv *hv, int rep)
{
	TRY(vdispl_scenario(hv, rep));
	return vdispl_ro_scenario(hv, rep);
}

/* Another guest sees none of it. */
static int vdispl_snoop(struct dmab_hv *hv, int rep)
{
	domid_t victim = (domid_t)(dmab_hv_domid(hv) - 1);
	char path[128];
	char *v = NULL;
	snprintf(path, sizeof(path), "/local/domain/%u/device/vdispl/0/be-alloc", victim);
	CCHECK_RET(dmab_hv_store_read(hv, NO_TX, path, &v), -EACCES);
	snprintf(path, sizeof(path), "/local/domain/0/backend/vdispl/%u/0/state", victim);
	CCHECK_RET(dmab_hv_store_read(hv, NO_TX, path, &v), -EACCES);
	return 0;
}

static int dir_is(struct host *h, const char *path, const char *want)
{
	char **names = NULL;
	unsigned int count;
	int ret = dmab_hv_store_directory(h->hv, NO_TX, path, &names, &count);
	CHECK(ret == 0, "directory %s: %s", path, harness_errname(ret));
	/* Sorted by a simple insertion sort: few names. */
	for (unsigned int i = 1; i < count; i++)
		for (unsigned int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
			char *tmp = names[j];
			names[j] = names[j - 1];
			names[j - 1] = tmp;
		}
	char got[256] = "";
	for (unsigned int i = 0; i < count; i++)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", i ? " " : "", names[i]);
	free(names);
	CHECK(strcmp(got, want) == 0, "directory %s = \"%s\", want \"%s\"", path, got, want);
	return 0;
}

static int absent(struct host *h, const char *path)
{
	char *v = NULL;
	int ret = dmab_hv_store_read(h->hv, NO_TX, path, &v);
	free(v);
	CHECK(ret == -ENOENT, "read %s: %s, want -ENOENT", path, harness_errname(ret));
	return 0;
}

/* Serve until path reads want (NULL: until it is gone), at most timeout_ms. */
static int wait_node(struct host *h, const char *path, const char *want, uint32_t timeout_ms)
{
	uint64_t deadline = dmab_now_ms() + timeout_ms;
	for (;;) {
		char *v = NULL;
		int ret = dmab_hv_store_read(h->hv, NO_TX, path, &v);
		bool done = want ? ret == 0 && !strcmp(v, want) : ret == -ENOENT;
		free(v);
		if (done)
			return 0;
		CHECK(dmab_now_ms() < deadline, "%s is not %s after %u ms", path,
			want ? want : "gone", timeout_ms);
		harness_pump(h->hv, 5);
	}
}

static unsigned int stale_lines;

__attribute__((format(printf, 2, 0)))
static void count_stale(enum dmab_log_level level, const char *fmt, va_list args)
{
	char line[512];
	vsnprintf(line, sizeof(line), fmt, args);
	stale_lines += strstr(line, "a stale node") != NULL;
}

/*
 * A dead guest's device goes in libxl's order: its frontend directory
 * goes and the backend is told to close (online 0, Closing); the backend's
 * directory stays for it to say Closed, then it goes with the domain's.
 */
static int teardown_closed(struct host *h, domid_t g, const char *fe, const char *be)
{
	char path[160], dom[64], vd[64];
	snprintf(path, sizeof(path), "%s/online", be);
	TRY(wait_node(h, path, "0", 3000));
	snprintf(path, sizeof(path), "%s/state", be);
	TRY(read_is(h, path, "5"));
	TRY(absent(h, fe));
	/* Without the backend's word, nothing more goes for a while. */
	uint64_t until = dmab_now_ms() + 200;
	while (dmab_now_ms() < until)
		harness_pump(h->hv, 10);
	snprintf(path, sizeof(path), "%s/frontend-id", be);
	snprintf(dom, sizeof(dom), "%u", g);
	TRY(read_is(h, path, dom));
	CHECK(!dmab_hv_domain_alive(h->hv, g), "domain %u alive", g);

	const struct dmab_hv_store_node closed = { "state", "6" };
	CHECK_RET(dmab_hv_store_write_in(h->hv, be, &closed, 1), 0);
	snprintf(vd, sizeof(vd), "/local/domain/0/backend/vdispl/%u", g);
	snprintf(dom, sizeof(dom), "/local/domain/%u", g);
	TRY(wait_node(h, vd, NULL, 3000));
	TRY(wait_node(h, dom, NULL, 3000));

	/* A backend that writes late brings nothing back... */
	CHECK_RET(dmab_hv_store_write_in(h->hv, be, &closed, 1), -ENOENT);
	TRY(absent(h, vd));
	/* ... unless it writes blindly, which the simulator calls out. */
	stale_lines = 0;
	dmab_log_init(DMAB_LOG_WARN, count_stale);
	snprintf(path, sizeof(path), "%s/state", be);
	int ret = dmab_hv_store_write(h->hv, NO_TX, path, "6");
	dmab_log_init(getenv("DMAB_TEST_VERBOSE") ? DMAB_LOG_DEBUG : DMAB_LOG_ERROR, NULL);
	CHECK_RET(ret, 0);
	CHECK(stale_lines == 1, "%u lines about a stale node, want 1", stale_lines);
	CHECK_RET(dmab_hv_store_remove(h->hv, NO_TX, vd), 0);
	return 0;
}

/* A backend that never closes a dead guest's device: it goes after the timeout. */
static int test_vdispl_timeout(void)
{
	struct host h;
	struct child c;
	domid_t g;
	char fe[96], be[96], path[160];
	const struct dmab_sim_limits limits = { .release_timeout_ms = 500 };
	TRY(host_start(&h, &limits));
	int ret = start_good(&h, &c, &g, vdispl_scenario);
	snprintf(fe, sizeof(fe), "/local/domain/%u/device/vdispl/0", g);
	snprintf(be, sizeof(be), "/local/domain/0/backend/vdispl/%u/0", g);
	snprintf(path, sizeof(path), "%s/online", be);
	uint64_t t0 = dmab_now_ms();
	if (!ret)
		ret = stop_guest(&h, &c, g);
	if (!ret)
		ret = wait_node(&h, path, "0", 3000);
	if (!ret)
		ret = absent(&h, fe);
	if (!ret)
		ret = wait_node(&h, be, NULL, 3000);
	uint64_t took = dmab_now_ms() - t0;
	if (!ret && took < 500)
		ret = fail_at(__FILE__, __LINE__, "removed after %llu ms, before the timeout",
			(unsigned long long)took);
	snprintf(path, sizeof(path), "/local/domain/%u", g);
	if (!ret)
		ret = wait_node(&h, path, NULL, 1000);
	child_finish(&c);
	host_stop(&h);
	return ret;
}

static int vdispl_test(scenario_fn scenario)
{
	struct host h;
	struct child c, snoop;
	domid_t g, s;
	char fe[96], be[96], path[160], want[96];
	TRY(host_start(&h, NULL));
	int ret = start_good(&h, &c, &g, scenario);
	snprintf(fe, sizeof(fe), "/local/domain/%u/device/vdispl/0", g);
	snprintf(be, sizeof(be), "/local/domain/0/backend/vdispl/%u/0", g);
	/* As dom0: exactly libxl's nodes and values. */
	struct { const char *dir, *node, *value; } nodes[] = {
		{ fe, "backend", be }, { fe, "backend-id", "0" }, { fe, "state", "x" },
		{ fe, "be-alloc", "1" },
		{ fe, "0/resolution", "640x480" }, { fe, "0/unique-id", "id0" },
		{ fe, "1/resolution", "1920x1080" }, { fe, "1/unique-id", "conn-1" },
		{ be, "frontend", fe }, { be, "frontend-id", want }, { be, "online", "1" },
		{ be, "state", "1" },
	};
	snprintf(want, sizeof(want), "%u", g);
	for (size_t i = 0; !ret && i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", nodes[i].dir, nodes[i].node);
		ret = read_is(&h, path, nodes[i].value);
	}
	if (!ret)
		ret = dir_is(&h, fe, "0 1 backend backend-id be-alloc new-node state");
	if (!ret)
		ret = dir_is(&h, be, "frontend frontend-id online state");
	if (!ret)
		ret = dir_is(&h, "/local/domain/0/backend/vdispl", want);
	if (!ret) {
		ret = start_good(&h, &snoop, &s, vdispl_snoop);
		if (!ret && s != g + 1)
			ret = fail_at(__FILE__, __LINE__, "second guest is %u, want %u", s, g + 1);
		if (!ret)
			ret = stop_guest(&h, &snoop, s);
		child_finish(&snoop);
	}
	if (!ret)
		ret = stop_guest(&h, &c, g);
	if (!ret)
		ret = wait_dead(&h, g);
	if (!ret)
		ret = teardown_closed(&h, g, fe, be);
	child_finish(&c);
	host_stop(&h);
	return ret;
}

static int test_vdispl(void)
{
	return vdispl_test(vdispl_both);
}

/* ---- limits ---- */

static int limited(const struct dmab_sim_limits *limits, scenario_fn scenario)
{
	struct host h;
	struct child c, other;
	domid_t g, o;
	TRY(host_start(&h, limits));
	/* A guest at its limits next to one that is not. */
	int ret = start_good(&h, &other, &o, NULL);
	if (!ret)
		ret = start_good(&h, &c, &g, scenario);
	if (!ret)
		ret = ping(&h, o, PING_TIMEOUT_MS);
	if (!ret)
		ret = ping(&h, g, PING_TIMEOUT_MS);
	if (!ret)
		ret = stop_guest(&h, &c, g);
	if (!ret)
		ret = stop_guest(&h, &other, o);
	child_finish(&c);
	child_finish(&other);
	host_stop(&h);
	return ret;
}

static int grants_scenario(struct dmab_hv *hv, int rep)
{
	grant_ref_t refs[17];
	void *a, *b;
	CCHECK_RET(dmab_hv_share_alloc(hv, 0, 17, 0, refs, &a), -ENOSPC);
	CCHECK_RET(dmab_hv_share_alloc(hv, 0, 16, 0, refs, &a), 0);
	CCHECK_RET(dmab_hv_share_alloc(hv, 0, 1, 0, refs, &b), -ENOSPC);
	CCHECK_RET(dmab_hv_share_free(hv, a, 16), 0);
	CCHECK_RET(dmab_hv_share_alloc(hv, 0, 1, 0, refs, &b), 0);
	CCHECK_RET(dmab_hv_share_free(hv, b, 1), 0);
	return 0;
}

static int memory_scenario(struct dmab_hv *hv, int rep)
{
	grant_ref_t refs[9];
	void *a, *b;
	CCHECK_RET(dmab_hv_share_alloc(hv, 0, 9, 0, refs, &a), -ENOSPC);
	CCHECK_RET(dmab_hv_share_alloc(hv, 0, 8, 0, refs, &a), 0);
	CCHECK_RET(dmab_hv_share_alloc(hv, 0, 1, 0, refs, &b), -ENOSPC);
	CCHECK_RET(dmab_hv_share_free(hv, a, 8), 0);
	CCHECK_RET(dmab_hv_share_alloc(hv, 0, 1, 0, refs, &b), 0);
	CCHECK_RET(dmab_hv_share_free(hv, b, 1), 0);
	return 0;
}

static void no_event(void *data)
{
}

static int evtchn_scenario(struct dmab_hv *hv, int rep)
{
	struct dmab_hv_evtchn *c[5];
	for (int i = 0; i < 4; i++)
		CCHECK_RET(dmab_hv_evtchn_alloc(hv, 0, no_event, NULL, &c[i]), 0);
	CCHECK_RET(dmab_hv_evtchn_alloc(hv, 0, no_event, NULL, &c[4]), -ENOSPC);
	dmab_hv_evtchn_close(c[2]);
	CCHECK_RET(dmab_hv_evtchn_alloc(hv, 0, no_event, NULL, &c[2]), 0);
	for (int i = 0; i < 4; i++)
		dmab_hv_evtchn_close(c[i]);
	return 0;
}

static void no_watch(void *data, const char *path)
{
}

static int watch_scenario(struct dmab_hv *hv, int rep)
{
	struct dmab_hv_watch *w[5];
	for (int i = 0; i < 4; i++)
		CCHECK_RET(dmab_hv_watch_add(hv, "data", no_watch, NULL, &w[i]), 0);
	CCHECK_RET(dmab_hv_watch_add(hv, "data", no_watch, NULL, &w[4]), -ENOSPC);
	for (int i = 0; i < 4; i++)
		dmab_hv_watch_remove(w[i]);
	return 0;
}

static int nodes_scenario(struct dmab_hv *hv, int rep)
{
	char path[64];
	int i, ret = 0;
	for (i = 0; i < 100; i++) {
		snprintf(path, sizeof(path), "data/n%d", i);
		ret = dmab_hv_store_write(hv, NO_TX, path, "x");
		if (ret)
			break;
	}
	CCHECK(ret == -ENOSPC && i > 0 && i < 32, "node %d: %s", i, harness_errname(ret));
	snprintf(path, sizeof(path), "data/n%d", i - 1);
	CCHECK_RET(dmab_hv_store_remove(hv, NO_TX, path), 0);
	/* One free again; the pings need two (ping, pong). */
	for (int j = 0; j < 4; j++) {
		snprintf(path, sizeof(path), "data/n%d", j);
		CCHECK_RET(dmab_hv_store_remove(hv, NO_TX, path), 0);
	}
	return 0;
}

static int message_scenario(struct dmab_hv *hv, int rep)
{
	char *big = malloc(5000);
	CCHECK(big, "malloc");
	memset(big, 'v', 4999);
	big[4999] = '\0';
	int ret = dmab_hv_store_write(hv, NO_TX, "data/big", big);
	free(big);
	CCHECK_RET(ret, -E2BIG);
	grant_ref_t *refs = calloc(2000, sizeof(*refs));
	void *addr;
	CCHECK(refs, "calloc");
	ret = dmab_hv_share_alloc(hv, 0, 2000, 0, refs, &addr);
	int ret2 = dmab_hv_grant_map(hv, 0, 2000, refs, false, &addr);
	free(refs);
	CCHECK_RET(ret, -E2BIG);
	CCHECK_RET(ret2, -E2BIG);
	CCHECK_RET(dmab_hv_store_write(hv, NO_TX, "data/small", "fits"), 0);
	return 0;
}

static int test_limits(void)
{
	TRY(limited(&(struct dmab_sim_limits){ .max_grants = 16 }, grants_scenario));
	TRY(limited(&(struct dmab_sim_limits){ .max_memory = 8 * PAGE }, memory_scenario));
	TRY(limited(&(struct dmab_sim_limits){ .max_evtchns = 4 }, evtchn_scenario));
	TRY(limited(&(struct dmab_sim_limits){ .max_watches = 4 }, watch_scenario));
	TRY(limited(&(struct dmab_sim_limits){ .max_store_nodes = 16 }, nodes_scenario));
	TRY(limited(&(struct dmab_sim_limits){ .max_message = 4096 }, message_scenario));
	return 0;
}

/* A guest that cannot even connect: exit 0 when refused. */
static int refused_guest(const char *sock, int rep, void *arg)
{
	struct dmab_hv *hv;
	int ret = dmab_hv_sim_connect(sock, &hv);
	if (ret == 0)
		dmab_hv_destroy(hv);
	CCHECK(ret < 0, "connected beyond max_guests");
	return 0;
}

static int test_max_guests(void)
{
	struct host h;
	struct child a, b, c;
	domid_t ia, ib, ic;
	TRY(host_start(&h, &(struct dmab_sim_limits){ .max_guests = 2 }));
	int base = -1, ret = start_good(&h, &a, &ia, NULL);
	if (!ret)
		ret = start_good(&h, &b, &ib, NULL);
	if (!ret) {
		base = harness_count_fds();
		ret = spawn(&h, &c, refused_guest, NULL);
	}
	if (!ret)
		ret = child_wait(&h, &c, "third guest");
	child_finish(&c);
	if (!ret && harness_count_fds() != base)
		ret = fail_at(__FILE__, __LINE__, "host has %d descriptors, %d before",
			harness_count_fds(), base);
	if (!ret)
		ret = ping(&h, ia, PING_TIMEOUT_MS);
	if (!ret)
		ret = ping(&h, ib, PING_TIMEOUT_MS);
	/* One leaves: room for another. */
	if (!ret)
		ret = stop_guest(&h, &a, ia);
	if (!ret)
		ret = wait_dead(&h, ia);
	if (!ret)
		ret = start_good(&h, &c, &ic, NULL);
	if (!ret)
		ret = ping(&h, ic, PING_TIMEOUT_MS);
	if (!ret)
		ret = stop_guest(&h, &c, ic);
	if (!ret)
		ret = stop_guest(&h, &b, ib);
	child_finish(&a);
	child_finish(&b);
	child_finish(&c);
	host_stop(&h);
	return ret;
}

/* ---- a domain id is not handed out again at once ---- */

static grant_ref_t reuse_ref;

/* The newcomer must not reach what dom0 granted to the guest before it. */
static int reuse_scenario(struct dmab_hv *hv, int rep)
{
	void *addr;
	int ret = dmab_hv_grant_map(hv, 0, 1, &reuse_ref, false, &addr);
	if (ret == 0)
		dmab_hv_grant_unmap(hv, addr, 1);
	CCHECK(ret < 0, "domain %u mapped dom0's grant %u", dmab_hv_domid(hv), reuse_ref);
	return 0;
}

static int test_domid_reuse(void)
{
	struct host h;
	struct child a, b;
	domid_t ia, ib;
	TRY(host_start(&h, NULL));
	int fd = sealed_memfd(PAGE, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	int ret = fd < 0 ? fail_at(__FILE__, __LINE__, "memfd: %s", harness_errname(fd)) : 0;
	if (!ret)
		ret = start_good(&h, &a, &ia, NULL);
	if (!ret) {
		int r = dmab_hv_dmabuf_imp_to_refs(h.hv, ia, fd, 1, &reuse_ref);
		if (r)
			ret = fail_at(__FILE__, __LINE__, "imp_to_refs: %s", harness_errname(r));
	}
	/* The guest goes before dom0 has noticed and cleaned up. */
	if (!ret)
		ret = stop_guest(&h, &a, ia);
	if (!ret)
		ret = wait_dead(&h, ia);
	if (!ret)
		ret = start_good(&h, &b, &ib, reuse_scenario);
	if (!ret && ib == ia)
		ret = fail_at(__FILE__, __LINE__, "domain %u reused at once", ia);
	if (!ret)
		ret = stop_guest(&h, &b, ib);
	child_finish(&a);
	child_finish(&b);
	if (fd >= 0) {
		dmab_hv_dmabuf_imp_release(h.hv, fd);
		close(fd);
	}
	host_stop(&h);
	return ret;
}

/* ---- one guest must not use up the host's descriptors ---- */

static int evtchn_and_share(struct dmab_hv *hv, int rep)
{
	struct dmab_hv_evtchn *c[8];
	grant_ref_t refs[4];
	void *addr;
	for (int i = 0; i < 8; i++)
		CCHECK_RET(dmab_hv_evtchn_alloc(hv, 0, no_event, NULL, &c[i]), 0);
	CCHECK_RET(dmab_hv_share_alloc(hv, 0, 4, DMAB_HV_SHARE_WRITABLE, refs, &addr), 0);
	CCHECK_RET(dmab_hv_share_free(hv, addr, 4), 0);
	for (int i = 0; i < 8; i++)
		dmab_hv_evtchn_close(c[i]);
	return 0;
}

static int test_flood_memory(void)
{
	/* A daemon's usual descriptor limit, so that the test is quick. */
	struct rlimit old, low;
	CHECK(getrlimit(RLIMIT_NOFILE, &old) == 0, "getrlimit");
	low = old;
	low.rlim_cur = old.rlim_cur < 1024 ? old.rlim_cur : 1024;
	CHECK(setrlimit(RLIMIT_NOFILE, &low) == 0, "setrlimit");

	struct host h;
	struct child good, flood, late;
	domid_t good_id, late_id;
	/* Stop short of the limit: what a careful attacker would do. */
	unsigned int max = (unsigned int)low.rlim_cur - 40;
	uint32_t regions;
	int ret = host_start(&h, NULL);
	if (!ret)
		ret = start_good(&h, &good, &good_id, NULL);
	if (!ret)
		ret = spawn(&h, &flood, flood_memory, &max);
	if (!ret)
		ret = child_read(&h, &flood, &regions, "regions added");
	if (!ret)
		printf("# one guest registered %u memory regions\n", regions);
	/* While it holds them: the others are served, newcomers too. */
	if (!ret)
		ret = ping(&h, good_id, PING_TIMEOUT_MS);
	if (!ret)
		ret = start_good(&h, &late, &late_id, evtchn_and_share);
	if (!ret)
		ret = ping(&h, late_id, PING_TIMEOUT_MS);
	if (!ret)
		ret = stop_guest(&h, &late, late_id);
	child_finish(&late);
	if (!ret) {
		close(flood.rd); /* lets it go */
		flood.rd = -1;
		ret = child_wait(&h, &flood, "memory flood");
	}
	child_finish(&flood);
	if (!ret)
		ret = stop_guest(&h, &good, good_id);
	child_finish(&good);
	if (h.hv)
		host_stop(&h);
	setrlimit(RLIMIT_NOFILE, &old);
	return ret;
}

/* ---- the host out of descriptors ---- */

/* Connect once the host is at its limit; exit 0 when it turns us away. */
static int knock(const char *sock, int rep, void *arg)
{
	usleep(200000); /* the host lowers its limit meanwhile */
	int fd = raw_connect(sock);
	if (fd < 0)
		return 2;
	struct pollfd p = { fd, POLLIN, 0 };
	char c;
	int ret = poll(&p, 1, 5000) == 1 && read(fd, &c, 1) == 0 ? 0 : 1;
	close(fd);
	return ret;
}

/*
 * A connection the host cannot accept for want of descriptors stays in the
 * backlog: without turning it away, the socket stays readable and dispatch
 * spins.
 */
static int test_accept_at_limit(void)
{
	struct host h;
	struct child c;
	TRY(host_start(&h, NULL));
	int ret = spawn(&h, &c, knock, NULL);
	struct rlimit old, low;
	getrlimit(RLIMIT_NOFILE, &old);
	low = old;
	low.rlim_cur = (rlim_t)harness_count_fds() + 8;
	if (!ret && setrlimit(RLIMIT_NOFILE, &low) != 0)
		ret = fail_at(__FILE__, __LINE__, "setrlimit: %s", strerror(errno));
	/* Take every descriptor left. */
	int hog[16], nhog = 0;
	while (!ret && nhog < 16 && (hog[nhog] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
		nhog++;
	if (!ret && nhog == 16)
		ret = fail_at(__FILE__, __LINE__, "the descriptor limit does not hold");
	if (!ret) {
		/* The knock comes, is turned away, and the host goes quiet. */
		struct pollfd p = { dmab_hv_get_fd(h.hv), POLLIN, 0 };
		int rounds = 0;
		for (int i = 0; i < 300; i++) {
			if (poll(&p, 1, 10) == 1) {
				dmab_hv_dispatch(h.hv);
				rounds++;
			}
			int status;
			if (waitpid(c.pid, &status, WNOHANG) == c.pid) {
				c.exited = true;
				c.status = status;
				break;
			}
		}
		setrlimit(RLIMIT_NOFILE, &old);
		if (!c.exited || !WIFEXITED(c.status) || WEXITSTATUS(c.status) != 0)
			ret = fail_at(__FILE__, __LINE__, "the host did not turn the guest away");
		else if (poll(&p, 1, 50) != 0)
			ret = fail_at(__FILE__, __LINE__, "the host is still busy after %d rounds",
				rounds);
	}
	while (nhog)
		close(hog[--nhog]);
	setrlimit(RLIMIT_NOFILE, &old);
	child_finish(&c);
	host_stop(&h);
	return ret;
}

/* ---- no new mappings of a dead domain's grants ---- */

static int share_two(struct dmab_hv *hv, int rep)
{
	void *addr;
	grant_ref_t refs[2];
	int ret = dmab_hv_share_alloc(hv, 0, 2, DMAB_HV_SHARE_WRITABLE, refs, &addr);
	if (!ret)
		ret = dmab_hv_store_printf(hv, NO_TX, "data/refs", "%u %u", refs[0], refs[1]);
	return ret ? 1 : 0;
}

static int test_dead_domain_grants(void)
{
	struct host h;
	struct child g;
	domid_t id;
	uint32_t refs[2];
	void *addr = NULL;
	TRY(host_start(&h, NULL));
	int ret = start_good(&h, &g, &id, share_two);
	if (!ret) {
		char path[64], *v = NULL;
		snprintf(path, sizeof(path), "/local/domain/%u/data/refs", id);
		if (dmab_hv_store_read(h.hv, NO_TX, path, &v) || sscanf(v, "%u %u", &refs[0], &refs[1]) != 2)
			ret = fail_at(__FILE__, __LINE__, "no refs from the guest");
		free(v);
	}
	if (!ret) {
		grant_ref_t r = refs[0];
		int m = dmab_hv_grant_map(h.hv, id, 1, &r, false, &addr);
		if (m)
			ret = fail_at(__FILE__, __LINE__, "map: %s", harness_errname(m));
	}
	/* Killed while dom0 maps one of its pages: it stays, for that mapping. */
	if (!ret) {
		kill(g.pid, SIGKILL);
		ret = wait_dead(&h, id);
	}
	if (!ret) {
		grant_ref_t r = refs[1];
		void *other;
		int fd;
		int m = dmab_hv_grant_map(h.hv, id, 1, &r, false, &other);
		int e = dmab_hv_dmabuf_exp_from_refs(h.hv, id, 1, &r, &fd);
		if (m != -EINVAL || e != -EINVAL)
			ret = fail_at(__FILE__, __LINE__, "a dead domain's grant: map %s, export %s",
				harness_errname(m), harness_errname(e));
		if (m == 0)
			dmab_hv_grant_unmap(h.hv, other, 1);
		if (e == 0)
			close(fd);
	}
	if (addr && dmab_hv_grant_unmap(h.hv, addr, 1) != 0 && !ret)
		ret = fail_at(__FILE__, __LINE__, "unmap of the kept mapping failed");
	child_finish(&g);
	host_stop(&h);
	return ret;
}

/* ---- the socket ---- */

/* Whoever may connect becomes a guest: the socket is 0600 whatever the umask. */
static int test_socket_mode(void)
{
	struct host h;
	mode_t was = umask(0);
	int ret = host_start(&h, NULL);
	mode_t after = umask(was);
	TRY(ret);
	struct stat st;
	if (after != 0)
		ret = fail_at(__FILE__, __LINE__, "umask %o after, 0 before", (unsigned int)after);
	else if (lstat(h.sock, &st) < 0)
		ret = fail_at(__FILE__, __LINE__, "lstat %s: %s", h.sock, strerror(errno));
	else if (!S_ISSOCK(st.st_mode) || (st.st_mode & 07777) != 0600)
		ret = fail_at(__FILE__, __LINE__, "%s has mode %o, want a socket of 0600", h.sock,
			(unsigned int)st.st_mode);
	host_stop(&h);
	return ret;
}

/* ---- main ---- */

struct test {
	const char *name;
	int (*fn)(void);
};

static const struct test tests[] = {
	{ "guests", test_guests },
	{ "vdispl", test_vdispl },
	{ "vdispl-timeout", test_vdispl_timeout },
	{ "limits", test_limits },
	{ "max-guests", test_max_guests },
	{ "domid-reuse", test_domid_reuse },
	{ "hostile-messages", test_hostile_messages },
	{ "hostile-bytes", test_hostile_bytes },
	{ "flood", test_flood },
	{ "deaf-guest", test_deaf_guest },
	{ "close-and-notify", test_close_and_notify },
	{ "flood-memory", test_flood_memory },
	{ "accept-at-limit", test_accept_at_limit },
	{ "dead-domain-grants", test_dead_domain_grants },
	{ "socket-mode", test_socket_mode },
};

int main(int argc, char **argv)
{
	dmab_log_init(getenv("DMAB_TEST_VERBOSE") ? DMAB_LOG_DEBUG : DMAB_LOG_ERROR, NULL);
	signal(SIGPIPE, SIG_IGN);
	unsigned int n = 0, failed = 0;
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		bool run = argc == 1;
		for (int a = 1; a < argc; a++)
			run |= strcmp(argv[a], tests[i].name) == 0;
		if (!run)
			continue;
		failure[0] = '\0';
		int fds = harness_count_fds();
		int ret = tests[i].fn();
		if (!ret && harness_count_fds() != fds)
			ret = fail_at(__FILE__, __LINE__, "%d descriptors before, %d after",
				fds, harness_count_fds());
		n++;
		if (ret) {
			failed++;
			printf("not ok %u - %s: %s\n", n, tests[i].name, failure);
		} else {
			printf("ok %u - %s\n", n, tests[i].name);
		}
		fflush(stdout);
	}
	printf("1..%u\n", n);
	return failed ? 1 : 0;
}
