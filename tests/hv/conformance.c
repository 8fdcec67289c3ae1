// SPDX-License-Identifier: MIT
/*
 * test-hv-conformance: runs the cases of conformance.h.
 *
 *   test-hv-conformance [--hv sim|xen] [--role backend|guest] [--case NAME]...
 *                       [--except NAME]... [--guests N] [--kill-cmd CMD]
 *                       [--timeout SECONDS] [-v]
 *
 * Backend (the default role): domain 0. With --hv sim it hosts the
 * simulator and starts its guests itself (this program, --role guest);
 * with --hv xen a harness starts --guests N domUs running
 * "test-hv-conformance --hv xen --role guest", and --kill-cmd (e.g.
 * "xl destroy %u") lets the domain-death case kill one of them; without it
 * that case is skipped. The backend finds its guests through the store,
 * tells each which case to play (<mailbox>/cmd/<n>), runs its own step and
 * collects theirs (fe/<seq>/result). --case runs only the cases named,
 * --except every case but those. Guests ignore both: the backend
 * decides. Output is TAP on stdout; exit status 0, 1 on failure, 77 when
 * nothing could run (no Xen here).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "hv/sim/sim.h"
#include "tests/hv/conformance.h"
#ifdef DMAB_HAVE_XEN
#include "hv/xen.h"
#endif

#define MAX_GUESTS 8
#define MAX_ONLY 32

struct guest_slot {
	domid_t domid;
	pid_t pid;              /* sim: the process; 0 on Xen */
	unsigned int ncmds;
	bool gone;              /* killed, or told to exit */
};

struct run {
	const struct conf_platform *plat;
	bool sim;
	struct dmab_hv *hv;
	int timeout_ms;
	unsigned int want_guests;
	const char *kill_cmd;
	const char *socket;     /* guest role on the simulator */
	const char *only[MAX_ONLY];
	unsigned int nonly;
	const char *except[MAX_ONLY];
	unsigned int nexcept;
	bool verbose;

	char tmpdir[64];
	char sock[128];
	struct guest_slot guests[MAX_GUESTS];
	unsigned int nguests;
	unsigned int seq;
	unsigned int tap;
	unsigned int passed, failed, skipped;
	unsigned int cases_passed;
};

static const struct conf_case *const case_tables[] = {
	conf_cases_store,
	conf_cases_evtchn,
	conf_cases_grant,
};

static const struct conf_case *find_case(const char *name)
{
	for (size_t i = 0; i < sizeof(case_tables) / sizeof(case_tables[0]); i++)
		for (const struct conf_case *c = case_tables[i]; c->name; c++)
			if (strcmp(c->name, name) == 0)
				return c;
	return NULL;
}

static void init_conf(struct run *r, struct conf *t, bool backend)
{
	memset(t, 0, sizeof(*t));
	t->hv = r->hv;
	t->plat = r->plat;
	t->backend = backend;
	t->sim = r->sim;
	t->timeout_ms = r->timeout_ms;
	t->run = r;
	t->peer = DOMID_INVALID;
	t->case_name = "setup";
}

/* ---- platforms ---- */

static int sim_add_vdispl(struct conf *t)
{
	const struct dmab_sim_connector conn = { "conf-0", 640, 480 };
	return dmab_hv_sim_add_vdispl(t->hv, 0, false, &conn, 1);
}

static struct guest_slot *slot_of(struct run *r, domid_t domid)
{
	for (unsigned int i = 0; i < r->nguests; i++)
		if (r->guests[i].domid == domid)
			return &r->guests[i];
	return NULL;
}

static int sim_kill(struct conf *t, domid_t domid)
{
	struct run *r = t->run;
	struct guest_slot *g = slot_of(r, domid);
	if (!g || g->pid <= 0)
		return -ESRCH;
	if (kill(g->pid, SIGKILL) < 0)
		return -errno;
	int status;
	if (waitpid(g->pid, &status, 0) < 0)
		return -errno;
	g->pid = 0;
	g->gone = true;
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL ? 0 : -ECHILD;
}

static int xen_add_vdispl(struct conf *t)
{
	return 0; /* the harness's xl config has vdispl=[...] */
}

struct child_arg {
	pid_t pid;
	int status;
};

static int child_done(struct conf *t, void *arg)
{
	struct child_arg *c = arg;
	pid_t p = waitpid(c->pid, &c->status, WNOHANG);
	if (p < 0)
		return conf_fail(t, __FILE__, __LINE__, "waitpid: %s", harness_errname(-errno));
	return p == c->pid;
}

static int xen_kill(struct conf *t, domid_t domid)
{
	struct run *r = t->run;
	if (!r->kill_cmd)
		return -EOPNOTSUPP;
	/* Every "%u" in the command stands for the domain id. */
	char cmd[512];
	size_t pos = 0;
	for (const char *s = r->kill_cmd; *s && pos + 8 < sizeof(cmd); ) {
		if (s[0] == '%' && s[1] == 'u') {
			pos += (size_t)snprintf(cmd + pos, sizeof(cmd) - pos, "%u", domid);
			s += 2;
		} else {
			cmd[pos++] = *s++;
		}
	}
	cmd[pos] = '\0';
	struct child_arg c = { .pid = fork() };
	if (c.pid < 0)
		return -errno;
	if (c.pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	/* Keep serving while the toolstack works. */
	if (conf_wait(t, cmd, child_done, &c))
		return -ETIMEDOUT;
	struct guest_slot *g = slot_of(r, domid);
	if (g)
		g->gone = true;
	return WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0 ? 0 : -ECHILD;
}

static const struct conf_platform sim_platform = {
	.name = "sim",
	.add_vdispl = sim_add_vdispl,
	.kill_guest = sim_kill,
};

static const struct conf_platform xen_platform = {
	.name = "xen",
	.add_vdispl = xen_add_vdispl,
	.kill_guest = xen_kill,
};

static int open_hv(struct run *r, enum dmab_hv_role role)
{
	if (r->sim)
		return role == DMAB_HV_BACKEND ?
			dmab_hv_sim_host(r->sock, NULL, &r->hv) :
			dmab_hv_sim_connect(r->socket, &r->hv);
#ifdef DMAB_HAVE_XEN
	return dmab_hv_xen_open(role, &r->hv);
#else
	return -EOPNOTSUPP;
#endif
}

/* What xen.c needs; without it the Xen tier is skipped. */
static const char *missing_xen(enum dmab_hv_role role)
{
#ifndef DMAB_HAVE_XEN
	return "built without Xen support";
#else
	static const char *const nodes[] = {
		"/dev/xen/privcmd", "/dev/xen/evtchn", "/dev/xen/gntdev", "/dev/xen/gntalloc",
	};
	for (size_t i = 0; i < 4; i++) {
		if (i == 3 && role != DMAB_HV_FRONTEND)
			break;
		if (access(nodes[i], R_OK | W_OK) != 0)
			return nodes[i];
	}
	return NULL;
#endif
}

/* ---- the backend ---- */

static void tap(struct run *r, int status, const char *name, const char *why)
{
	r->tap++;
	if (status == CONF_PASS) {
		r->passed++;
		printf("ok %u - %s\n", r->tap, name);
	} else if (status == CONF_SKIP) {
		r->skipped++;
		printf("ok %u - %s # SKIP %s\n", r->tap, name, why);
	} else {
		r->failed++;
		printf("not ok %u - %s: %s\n", r->tap, name, why);
	}
	fflush(stdout);
}

static bool known(struct run *r, domid_t domid)
{
	return slot_of(r, domid) != NULL;
}

struct discover_arg {
	struct run *r;
	unsigned int want;
	pid_t pid;              /* sim: the process we wait for */
};

/* New guests that said ready: add them; done once there are want. */
static int discover_step(struct conf *t, void *arg)
{
	struct discover_arg *a = arg;
	struct run *r = a->r;
	char **names;
	unsigned int count;
	int ret = dmab_hv_store_directory(t->hv, DMAB_HV_NO_TX, "/local/domain", &names, &count);
	if (ret)
		return conf_fail(t, __FILE__, __LINE__, "directory /local/domain: %s",
			harness_errname(ret));
	for (unsigned int i = 0; i < count && r->nguests < a->want; i++) {
		char *end, path[128], *v;
		unsigned long id = strtoul(names[i], &end, 10);
		if (*end || id == dmab_hv_domid(t->hv) || id >= DOMID_FIRST_RESERVED ||
				known(r, (domid_t)id))
			continue;
		conf_mailbox(path, sizeof(path), (domid_t)id);
		strcat(path, "/ready");
		if (dmab_hv_store_read(t->hv, DMAB_HV_NO_TX, path, &v) == 0) {
			free(v);
			r->guests[r->nguests++] = (struct guest_slot){ .domid = (domid_t)id,
				.pid = a->pid };
		}
	}
	free(names);
	if (a->pid > 0 && r->nguests < a->want) {
		int status;
		if (waitpid(a->pid, &status, WNOHANG) == a->pid)
			return conf_fail(t, __FILE__, __LINE__, "guest process %d exited (status %#x) "
				"before it was ready", (int)a->pid, status);
	}
	return r->nguests >= a->want;
}

static int discover(struct run *r, unsigned int want, pid_t pid, int timeout_ms,
		char *why, size_t why_len)
{
	struct conf t;
	init_conf(r, &t, true);
	t.timeout_ms = timeout_ms;
	struct conf_watch *w;
	struct discover_arg a = { r, want, pid };
	int ret = conf_watch_add(&t, "/local/domain", 0, &w);
	if (!ret)
		ret = conf_wait(&t, "guests to say ready", discover_step, &a);
	conf_cleanup(&t);
	if (ret)
		snprintf(why, why_len, "%s", t.why);
	return ret;
}

/* Sim: one more guest process, found by its domid once it is ready. */
static int spawn_guest(struct run *r, char *why, size_t why_len)
{
	if (r->nguests == MAX_GUESTS) {
		snprintf(why, why_len, "too many guests");
		return -ENOSPC;
	}
	char timeout[16];
	snprintf(timeout, sizeof(timeout), "%d", (r->timeout_ms + 999) / 1000);
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(why, why_len, "fork: %s", strerror(errno));
		return -errno;
	}
	if (pid == 0) {
		execl("/proc/self/exe", "test-hv-conformance", "--hv", "sim", "--role", "guest",
			"--socket", r->sock, "--timeout", timeout,
			r->verbose ? "-v" : (char *)NULL, (char *)NULL);
		fprintf(stderr, "exec /proc/self/exe: %s\n", strerror(errno));
		_exit(127);
	}
	int ret = discover(r, r->nguests + 1, pid, r->timeout_ms, why, why_len);
	if (ret) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	return ret;
}

static int send_cmd(struct run *r, struct guest_slot *g, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int send_cmd(struct run *r, struct guest_slot *g, const char *fmt, ...)
{
	char path[128], value[256];
	conf_mailbox(path, sizeof(path), g->domid);
	snprintf(path + strlen(path), sizeof(path) - strlen(path), "/cmd/%u", g->ncmds++);
	va_list args;
	va_start(args, fmt);
	vsnprintf(value, sizeof(value), fmt, args);
	va_end(args);
	return dmab_hv_store_write(r->hv, DMAB_HV_NO_TX, path, value);
}

/* The guest's verdict on its step: CONF_* with its reason in why. */
static int guest_result(struct run *r, struct conf *t, unsigned int gi, char *why,
		size_t why_len)
{
	struct conf rt = *t;
	rt.why[0] = '\0';
	rt.res = NULL;
	rt.nres = rt.res_cap = 0;
	rt.allow_death = false;
	char *v = NULL;
	int ret = conf_be_get(&rt, gi, "result", &v);
	conf_cleanup(&rt);
	if (ret) {
		snprintf(why, why_len, "guest %u: no result: %s", t->guest[gi], rt.why);
		return CONF_FAIL;
	}
	int status = CONF_FAIL;
	if (strcmp(v, "pass") == 0)
		status = CONF_PASS;
	else if (strncmp(v, "skip: ", 6) == 0)
		status = CONF_SKIP;
	snprintf(why, why_len, "guest %u: %s", t->guest[gi], v);
	free(v);
	return status;
}

static void remove_case_nodes(struct run *r, const struct conf *t)
{
	char path[160], box[96];
	for (unsigned int i = 0; i < t->nguests; i++) {
		struct guest_slot *g = slot_of(r, t->guest[i]);
		if (g && g->gone)
			continue;
		conf_mailbox(box, sizeof(box), t->guest[i]);
		static const char *const sides[] = { "fe", "be", "t" };
		for (int s = 0; s < 3; s++) {
			snprintf(path, sizeof(path), "%s/%s/%u", box, sides[s], t->seq);
			dmab_hv_store_remove(r->hv, DMAB_HV_NO_TX, path);
		}
	}
	snprintf(path, sizeof(path), "/local/domain/%u/conformance", dmab_hv_domid(r->hv));
	dmab_hv_store_remove(r->hv, DMAB_HV_NO_TX, path);
}

static unsigned int live_guests(struct run *r, struct guest_slot **out, unsigned int max)
{
	unsigned int n = 0;
	for (unsigned int i = 0; i < r->nguests && n < max; i++)
		if (!r->guests[i].gone)
			out[n++] = &r->guests[i];
	return n;
}

static void run_case(struct run *r, const struct conf_case *c)
{
	char why[600] = "";
	struct guest_slot *slots[CONF_MAX_GUESTS];
	unsigned int n;

	if (c->victim) {
		/* A guest of its own on the simulator; on Xen, the last one. */
		struct guest_slot *all[MAX_GUESTS];
		unsigned int live = live_guests(r, all, MAX_GUESTS);
		if (!r->sim && !r->kill_cmd) {
			tap(r, CONF_SKIP, c->name, "no --kill-cmd to kill a guest domain with");
			return;
		}
		if (r->sim && spawn_guest(r, why, sizeof(why))) {
			tap(r, CONF_FAIL, c->name, why);
			return;
		}
		if (r->sim)
			live = live_guests(r, all, MAX_GUESTS);
		if (live == 0) {
			tap(r, CONF_SKIP, c->name, "no guest");
			return;
		}
		slots[0] = all[live - 1];
		n = 1;
	} else {
		n = live_guests(r, slots, c->guests);
		if (n < c->guests) {
			snprintf(why, sizeof(why), "needs %u guests, %u running", c->guests, n);
			tap(r, CONF_SKIP, c->name, why);
			return;
		}
	}

	struct conf t;
	init_conf(r, &t, true);
	t.case_name = c->name;
	t.seq = ++r->seq;
	t.nguests = n;
	for (unsigned int i = 0; i < n; i++)
		t.guest[i] = slots[i]->domid;
	for (unsigned int i = 0; i < n; i++) {
		int ret = send_cmd(r, slots[i], "%u %s %u %u %u", t.seq, c->name, i,
			n > 1 ? t.guest[1 - i] : DOMID_INVALID, dmab_hv_domid(r->hv));
		if (ret) {
			snprintf(why, sizeof(why), "cannot send the command: %s", harness_errname(ret));
			tap(r, CONF_FAIL, c->name, why);
			return;
		}
	}

	int status = c->backend(&t);
	if (status == CONF_FAIL) {
		for (unsigned int i = 0; i < n; i++)
			if (!slots[i]->gone)
				conf_be_put(&t, i, "abort", "the backend failed");
	}
	conf_cleanup(&t);
	snprintf(why, sizeof(why), "%s", t.why[0] ? t.why : "?");

	for (unsigned int i = 0; i < n; i++) {
		if (slots[i]->gone)
			continue; /* the victim */
		char gwhy[400];
		int gs = guest_result(r, &t, i, gwhy, sizeof(gwhy));
		if (gs == CONF_FAIL && status != CONF_FAIL) {
			status = CONF_FAIL;
			snprintf(why, sizeof(why), "%s", gwhy);
		} else if (gs == CONF_FAIL) {
			size_t len = strlen(why);
			snprintf(why + len, sizeof(why) - len, "; %s", gwhy);
		} else if (gs == CONF_SKIP && status == CONF_PASS) {
			status = CONF_SKIP;
			snprintf(why, sizeof(why), "%s", gwhy);
		}
	}
	remove_case_nodes(r, &t);
	if (status == CONF_PASS)
		r->cases_passed++;
	tap(r, status, c->name, why);
}

static bool selected(struct run *r, const char *name)
{
	for (unsigned int i = 0; i < r->nexcept; i++)
		if (strcmp(r->except[i], name) == 0)
			return false;
	if (r->nonly == 0)
		return true;
	for (unsigned int i = 0; i < r->nonly; i++)
		if (strcmp(r->only[i], name) == 0)
			return true;
	return false;
}

struct exit_arg {
	struct run *r;
};

static int guests_exited(struct conf *t, void *arg)
{
	struct run *r = ((struct exit_arg *)arg)->r;
	bool all = true;
	for (unsigned int i = 0; i < r->nguests; i++) {
		struct guest_slot *g = &r->guests[i];
		if (g->pid <= 0)
			continue;
		int status;
		pid_t p = waitpid(g->pid, &status, WNOHANG);
		if (p == 0) {
			all = false;
			continue;
		}
		g->pid = 0;
		if (p < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			char why[128];
			snprintf(why, sizeof(why), "guest %u: exit status %#x", g->domid, status);
			tap(r, CONF_FAIL, "guest-exit", why);
		}
	}
	return all;
}

/* Tell every guest to stop, read their descriptor reports, reap the processes. */
static void stop_guests(struct run *r)
{
	struct conf t;
	init_conf(r, &t, true);
	t.case_name = "exit";
	for (unsigned int i = 0; i < r->nguests; i++) {
		struct guest_slot *g = &r->guests[i];
		if (g->gone)
			continue;
		char path[128], *v = NULL;
		send_cmd(r, g, "%u exit", ++r->seq);
		conf_mailbox(path, sizeof(path), g->domid);
		strcat(path, "/exit");
		t.why[0] = '\0';
		char name[48];
		snprintf(name, sizeof(name), "fd-leaks-guest-%u", g->domid);
		if (conf_wait_node(&t, path, &v))
			tap(r, CONF_FAIL, name, t.why);
		else
			tap(r, strcmp(v, "pass") == 0 ? CONF_PASS : CONF_FAIL, name, v);
		free(v);
		/* Read: the guest may go (and the toolstack remove its nodes). */
		strcat(path, "-ack");
		dmab_hv_store_write(r->hv, DMAB_HV_NO_TX, path, "1");
		g->gone = true;
	}
	struct exit_arg a = { r };
	t.why[0] = '\0';
	if (conf_wait(&t, "guest processes to exit", guests_exited, &a))
		tap(r, CONF_FAIL, "guest-exit", t.why);
	conf_cleanup(&t);
	/* None may outlive us, holding on to our output. */
	for (unsigned int i = 0; i < r->nguests; i++) {
		if (r->guests[i].pid > 0) {
			kill(r->guests[i].pid, SIGKILL);
			waitpid(r->guests[i].pid, NULL, 0);
			r->guests[i].pid = 0;
		}
	}
}

static int backend_main(struct run *r)
{
	int fds_before_hv = harness_count_fds();
	int ret;
	if (r->sim) {
		snprintf(r->tmpdir, sizeof(r->tmpdir), "/tmp/dmab-conf-XXXXXX");
		if (!mkdtemp(r->tmpdir)) {
			fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
			return 1;
		}
		snprintf(r->sock, sizeof(r->sock), "%s/sim.sock", r->tmpdir);
	}
	ret = open_hv(r, DMAB_HV_BACKEND);
	if (ret) {
		printf("Bail out! cannot open the %s hypervisor: %s\n", r->plat->name,
			harness_errname(ret));
		if (r->sim)
			rmdir(r->tmpdir);
		return 1;
	}
	printf("# hv %s, backend domain %u\n", dmab_hv_name(r->hv), dmab_hv_domid(r->hv));

	char why[600];
	bool setup_ok = true;
	if (r->sim) {
		for (unsigned int i = 0; i < r->want_guests && setup_ok; i++) {
			if (spawn_guest(r, why, sizeof(why))) {
				tap(r, CONF_FAIL, "start-guests", why);
				setup_ok = false;
			}
		}
	} else if (discover(r, r->want_guests, 0, r->timeout_ms * 6, why, sizeof(why))) {
		tap(r, CONF_FAIL, "find-guests", why);
		setup_ok = false;
	}
	for (unsigned int i = 0; i < r->nguests; i++)
		printf("# guest domain %u\n", r->guests[i].domid);

	int fds_before = harness_count_fds();
	for (size_t i = 0; setup_ok && i < sizeof(case_tables) / sizeof(case_tables[0]); i++)
		for (const struct conf_case *c = case_tables[i]; c->name; c++)
			if (selected(r, c->name))
				run_case(r, c);
	int fds_after = harness_count_fds();
	snprintf(why, sizeof(why), "%d descriptors before the cases, %d after", fds_before,
		fds_after);
	tap(r, fds_after == fds_before ? CONF_PASS : CONF_FAIL, "fd-leaks-backend", why);

	stop_guests(r);
	dmab_hv_destroy(r->hv);
	r->hv = NULL;
	if (r->sim)
		rmdir(r->tmpdir);
	int fds_end = harness_count_fds();
	snprintf(why, sizeof(why), "%d descriptors before the hypervisor was opened, %d after "
		"it was closed", fds_before_hv, fds_end);
	tap(r, fds_end == fds_before_hv ? CONF_PASS : CONF_FAIL, "fd-leaks-hv", why);

	printf("1..%u\n# %u passed, %u failed, %u skipped\n", r->tap, r->passed, r->failed,
		r->skipped);
	if (r->failed)
		return 1;
	return r->cases_passed ? 0 : HARNESS_SKIP;
}

/* ---- the guest ---- */

static int guest_run_case(struct run *r, struct conf *t, const char *cmd)
{
	unsigned int seq, index, peer, backend;
	char name[64];
	if (sscanf(cmd, "%u %63s %u %u %u", &seq, name, &index, &peer, &backend) != 5)
		return conf_fail(t, __FILE__, __LINE__, "bad command \"%s\"", cmd);
	const struct conf_case *c = find_case(name);
	t->seq = seq;
	t->index = index;
	t->peer = (domid_t)peer;
	t->backend_domid = (domid_t)backend;
	t->case_name = c ? c->name : "?";
	if (!c)
		return conf_fail(t, __FILE__, __LINE__, "unknown case \"%s\"", name);
	return c->guest(t);
}

static int guest_main(struct run *r)
{
	int fds_before_hv = harness_count_fds();
	int ret = open_hv(r, DMAB_HV_FRONTEND);
	if (ret) {
		fprintf(stderr, "guest: cannot open the %s hypervisor: %s\n", r->plat->name,
			harness_errname(ret));
		return 1;
	}
	int fds_open = harness_count_fds();
	domid_t self = dmab_hv_domid(r->hv);
	char box[96], path[160];
	conf_mailbox(box, sizeof(box), self);
	/* Whatever an earlier run of this domain left. */
	dmab_hv_store_remove(r->hv, DMAB_HV_NO_TX, box);
	snprintf(path, sizeof(path), "%s/ready", box);
	ret = dmab_hv_store_write(r->hv, DMAB_HV_NO_TX, path, "1");
	if (ret) {
		fprintf(stderr, "guest %u: cannot write %s: %s\n", self, path, harness_errname(ret));
		dmab_hv_destroy(r->hv);
		return 1;
	}

	int status = 0;
	for (unsigned int n = 0; ; n++) {
		struct conf t;
		init_conf(r, &t, false);
		t.self = self;
		/* The backend may be busy with other guests' cases meanwhile. */
		t.timeout_ms = r->timeout_ms * 10;
		char *cmd = NULL;
		snprintf(path, sizeof(path), "%s/cmd/%u", box, n);
		if (conf_wait_node(&t, path, &cmd)) {
			fprintf(stderr, "guest %u: no command: %s\n", self, t.why);
			conf_cleanup(&t);
			status = 1;
			break;
		}
		conf_cleanup(&t);
		unsigned int seq;
		char word[16];
		if (sscanf(cmd, "%u %15s", &seq, word) == 2 && strcmp(word, "exit") == 0) {
			free(cmd);
			break;
		}
		init_conf(r, &t, false);
		t.self = self;
		int st = guest_run_case(r, &t, cmd);
		free(cmd);
		conf_cleanup(&t);
		if (st == CONF_FAIL)
			fprintf(stderr, "guest %u: case %s failed: %s\n", self, t.case_name, t.why);
		ret = conf_fe_put(&t, "result", "%s%s%s",
			st == CONF_PASS ? "pass" : st == CONF_SKIP ? "skip" : "fail",
			st == CONF_PASS ? "" : ": ", st == CONF_PASS ? "" : t.why);
		if (ret) {
			fprintf(stderr, "guest %u: cannot report: %s\n", self, t.why);
			status = 1;
			break;
		}
	}

	int fds_now = harness_count_fds();
	snprintf(path, sizeof(path), "%s/exit", box);
	if (fds_now == fds_open)
		dmab_hv_store_write(r->hv, DMAB_HV_NO_TX, path, "pass");
	else
		dmab_hv_store_printf(r->hv, DMAB_HV_NO_TX, path,
			"fail: %d descriptors after opening the hypervisor, %d after the cases",
			fds_open, fds_now);
	struct conf t;
	init_conf(r, &t, false);
	t.self = self;
	snprintf(path, sizeof(path), "%s/exit-ack", box);
	if (conf_wait_node(&t, path, NULL)) {
		fprintf(stderr, "guest %u: the backend did not take the report: %s\n", self, t.why);
		status = 1;
	}
	conf_cleanup(&t);
	dmab_hv_destroy(r->hv);
	int fds_end = harness_count_fds();
	if (fds_end != fds_before_hv) {
		fprintf(stderr, "guest %u: %d descriptors before opening the hypervisor, %d after "
			"closing it\n", self, fds_before_hv, fds_end);
		status = 1;
	}
	return status;
}

/* ---- main ---- */

static void usage(FILE *f)
{
	fprintf(f, "usage: test-hv-conformance [--hv sim|xen] [--role backend|guest] "
		"[--case NAME]... [--except NAME]... [--guests N] [--kill-cmd CMD] [--timeout SECONDS] [-v]\n"
		"cases:");
	for (size_t i = 0; i < sizeof(case_tables) / sizeof(case_tables[0]); i++)
		for (const struct conf_case *c = case_tables[i]; c->name; c++)
			fprintf(f, " %s", c->name);
	fprintf(f, "\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "hv", required_argument, NULL, 'H' },
		{ "role", required_argument, NULL, 'r' },
		{ "case", required_argument, NULL, 'c' },
		{ "except", required_argument, NULL, 'x' },
		{ "guests", required_argument, NULL, 'g' },
		{ "kill-cmd", required_argument, NULL, 'k' },
		{ "timeout", required_argument, NULL, 't' },
		{ "socket", required_argument, NULL, 's' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct run r = { .sim = true, .timeout_ms = 10000 };
	bool guest = false;
	int guests = -1;
	int opt;
	while ((opt = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (opt) {
		case 'H':
			if (strcmp(optarg, "sim") && strcmp(optarg, "xen")) {
				usage(stderr);
				return 2;
			}
			r.sim = strcmp(optarg, "sim") == 0;
			break;
		case 'r':
			if (strcmp(optarg, "backend") && strcmp(optarg, "guest")) {
				usage(stderr);
				return 2;
			}
			guest = strcmp(optarg, "guest") == 0;
			break;
		case 'c':
			if (!find_case(optarg) || r.nonly == MAX_ONLY) {
				fprintf(stderr, "unknown case %s\n", optarg);
				usage(stderr);
				return 2;
			}
			r.only[r.nonly++] = optarg;
			break;
		case 'x':
			if (!find_case(optarg) || r.nexcept == MAX_ONLY) {
				fprintf(stderr, "unknown case %s\n", optarg);
				usage(stderr);
				return 2;
			}
			r.except[r.nexcept++] = optarg;
			break;
		case 'g':
			guests = atoi(optarg);
			if (guests < 0 || guests > MAX_GUESTS - 1) {
				usage(stderr);
				return 2;
			}
			break;
		case 'k':
			r.kill_cmd = optarg;
			break;
		case 't':
			r.timeout_ms = atoi(optarg) * 1000;
			if (r.timeout_ms <= 0) {
				usage(stderr);
				return 2;
			}
			break;
		case 's':
			r.socket = optarg;
			break;
		case 'v':
			r.verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	dmab_log_init(r.verbose ? DMAB_LOG_DEBUG : DMAB_LOG_WARN, NULL);
	r.plat = r.sim ? &sim_platform : &xen_platform;
	r.want_guests = guests >= 0 ? (unsigned int)guests : r.sim ? 2 : 1;

	if (!r.sim) {
		const char *missing = missing_xen(guest ? DMAB_HV_FRONTEND : DMAB_HV_BACKEND);
		if (missing) {
			printf("1..0 # SKIP no Xen here (%s)\n", missing);
			return HARNESS_SKIP;
		}
	}
	if (guest && r.sim && !r.socket) {
		fprintf(stderr, "--role guest --hv sim needs --socket\n");
		return 2;
	}
	/* A guest that dies must not take the backend with it. */
	signal(SIGPIPE, SIG_IGN);
	return guest ? guest_main(&r) : backend_main(&r);
}
