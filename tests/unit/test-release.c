// SPDX-License-Identifier: MIT
/*
 * Releasing exported dma-bufs, on a real event loop. What the hypervisor
 * answers is scripted per fd number: no hypervisor here (nor the
 * simulator, which cannot observe the kernel's last reference) can be
 * made to hold an export for a while and then let go.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "server/release.h"

#define FOREVER (-1)

/* The hypervisor's answers: an export is in use for a number of polls. */
struct hypervisor {
	int fd[8];
	int busy[8];                    /* polls still answered -ETIMEDOUT, or FOREVER */
	int error[8];                   /* answered once it is not busy: 0 or an error */
	unsigned int polls[8];
	unsigned int n;
};

static int find(struct hypervisor *hv, int fd)
{
	for (unsigned int i = 0; i < hv->n; i++) {
		if (hv->fd[i] == fd)
			return (int)i;
	}
	fail_msg("asked about fd %d, never exported", fd);
	return -1;
}

static int scripted_released(void *data, int fd)
{
	struct hypervisor *hv = data;
	int i = find(hv, fd);
	hv->polls[i]++;
	if (hv->busy[i] == FOREVER)
		return -ETIMEDOUT;
	if (hv->busy[i] > 0) {
		hv->busy[i]--;
		return -ETIMEDOUT;
	}
	return hv->error[i];
}

struct outcome {
	unsigned int calls;
	int status;
	uint64_t at_ms;
};

static void handle_done(void *data, int status)
{
	struct outcome *o = data;
	o->calls++;
	o->status = status;
	o->at_ms = dmab_now_ms();
}

/*
 * An export as the hypervisor would give it: here the write end of a pipe,
 * whose read end tells when it was closed.
 */
struct export {
	int fd;
	int peer;
};

static struct export export_new(struct hypervisor *hv, int busy, int error)
{
	int p[2];
	assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	assert_true(hv->n < 8);
	hv->fd[hv->n] = p[1];
	hv->busy[hv->n] = busy;
	hv->error[hv->n] = error;
	hv->n++;
	return (struct export){ .fd = p[1], .peer = p[0] };
}

/* Whether the export's file was closed: every writer gone. */
static bool file_closed(const struct export *e)
{
	char c;
	return read(e->peer, &c, 1) == 0;
}

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

/* Whether fd is a placeholder: /dev/null holding the number. */
static bool is_placeholder(int fd)
{
	struct stat a, b;
	return fstat(fd, &a) == 0 && stat("/dev/null", &b) == 0 && a.st_rdev == b.st_rdev &&
		S_ISCHR(a.st_mode);
}

struct fixture {
	struct wl_event_loop *loop;
	struct hypervisor hv;
	struct dmab_release *release;
	struct export e[4];
	unsigned int ne;
};

static struct fixture *fixture_new(uint32_t timeout_ms)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->loop = wl_event_loop_create();
	assert_non_null(f->loop);
	f->release = dmab_release_create(f->loop, scripted_released, &f->hv, timeout_ms);
	assert_non_null(f->release);
	return f;
}

static void fixture_free(struct fixture *f)
{
	dmab_release_destroy(f->release);
	for (unsigned int i = 0; i < f->ne; i++)
		close(f->e[i].peer);
	wl_event_loop_destroy(f->loop);
	free(f);
}

static struct export *hand_back(struct fixture *f, int busy, int error, struct outcome *o)
{
	struct export *e = &f->e[f->ne++];
	*e = export_new(&f->hv, busy, error);
	dmab_release_export(f->release, e->fd, 7, o ? handle_done : NULL, o);
	return e;
}

/* Run the loop until o is done, at most limit_ms. */
static void run_until(struct fixture *f, const struct outcome *o, uint64_t limit_ms)
{
	uint64_t end = dmab_now_ms() + limit_ms;
	while (!o->calls && dmab_now_ms() < end)
		assert_true(wl_event_loop_dispatch(f->loop, 10) >= 0);
}

static void released_at_once(void **state)
{
	struct fixture *f = fixture_new(1000);
	struct outcome o = { 0 };
	struct export *e = hand_back(f, 0, 0, &o);
	/* Answered before it returns: nothing to wait for. */
	assert_int_equal(o.calls, 1);
	assert_int_equal(o.status, 0);
	assert_int_equal(f->hv.polls[0], 1);
	assert_true(file_closed(e));
	assert_false(fd_open(e->fd));
	/* Without anyone to tell, too. */
	struct export *quiet = hand_back(f, 0, 0, NULL);
	assert_false(fd_open(quiet->fd));
	fixture_free(f);
}

/*
 * Still in use: our reference goes at once, the number stays ours (a
 * placeholder holds it) until the hypervisor lets go, polled from the loop.
 */
static void held_until_released(void **state)
{
	struct fixture *f = fixture_new(5000);
	struct outcome o = { 0 };
	struct export *e = hand_back(f, 3, 0, &o);
	assert_int_equal(o.calls, 0);
	assert_true(file_closed(e));
	assert_true(fd_open(e->fd));
	assert_true(is_placeholder(e->fd));
	int other = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(other >= 0 && other != e->fd);
	close(other);

	run_until(f, &o, 2000);
	assert_int_equal(o.calls, 1);
	assert_int_equal(o.status, 0);
	/* Three answers "in use", then the one that let it go. */
	assert_int_equal(f->hv.polls[0], 4);
	assert_false(fd_open(e->fd));
	/* Nothing more is asked once it is done. */
	assert_true(wl_event_loop_dispatch(f->loop, 30) >= 0);
	assert_int_equal(f->hv.polls[0], 4);
	assert_int_equal(o.calls, 1);
	fixture_free(f);
}

/* Each export on its own: one released does not end the others' waits. */
static void several_pending(void **state)
{
	struct fixture *f = fixture_new(5000);
	struct outcome a = { 0 }, b = { 0 }, c = { 0 };
	struct export *ea = hand_back(f, 6, 0, &a);
	struct export *eb = hand_back(f, 1, 0, &b);
	struct export *ec = hand_back(f, 3, 0, &c);
	run_until(f, &b, 2000);
	assert_int_equal(b.calls, 1);
	assert_int_equal(a.calls, 0);
	assert_false(fd_open(eb->fd));
	assert_true(is_placeholder(ea->fd));
	run_until(f, &a, 2000);
	assert_int_equal(a.calls, 1);
	assert_int_equal(c.calls, 1);
	assert_true(c.at_ms <= a.at_ms);
	assert_false(fd_open(ea->fd));
	assert_false(fd_open(ec->fd));
	fixture_free(f);
}

/* A buffer in use past the timeout is given up on, not before. */
static void given_up_after_timeout(void **state)
{
	struct fixture *f = fixture_new(60);
	struct outcome o = { 0 };
	uint64_t start = dmab_now_ms();
	struct export *e = hand_back(f, FOREVER, 0, &o);
	run_until(f, &o, 2000);
	assert_int_equal(o.calls, 1);
	assert_int_equal(o.status, -ETIMEDOUT);
	assert_true(o.at_ms - start >= 60);
	assert_true(f->hv.polls[0] > 1);
	assert_false(fd_open(e->fd));
	fixture_free(f);
}

/* The hypervisor cannot tell: the buffer counts as released. */
static void hypervisor_error_counts_as_released(void **state)
{
	struct fixture *f = fixture_new(1000);
	struct outcome o = { 0 };
	struct export *e = hand_back(f, 0, -ENOENT, &o);
	assert_int_equal(o.calls, 1);
	assert_int_equal(o.status, 0);
	assert_false(fd_open(e->fd));
	fixture_free(f);
}

/* A new timeout is for exports handed back from then on. */
static void timeout_changes_for_later_exports(void **state)
{
	struct fixture *f = fixture_new(5000);
	struct outcome before = { 0 }, after = { 0 };
	hand_back(f, FOREVER, 0, &before);
	dmab_release_set_timeout(f->release, 0);
	hand_back(f, FOREVER, 0, &after);
	assert_int_equal(after.calls, 1);
	assert_int_equal(after.status, -ETIMEDOUT);
	assert_true(wl_event_loop_dispatch(f->loop, 30) >= 0);
	assert_int_equal(before.calls, 0);
	/* Let it go, or destroying would wait for it. */
	f->hv.busy[0] = 0;
	run_until(f, &before, 2000);
	assert_int_equal(before.status, 0);
	fixture_free(f);
}

/*
 * Shutdown waits for what is pending, without the loop, at most the
 * timeout: the one let go answers 0, the one still in use -ETIMEDOUT.
 */
static void destroy_waits_then_gives_up(void **state)
{
	struct fixture *f = fixture_new(80);
	struct outcome soon = { 0 }, never = { 0 };
	struct export *es = hand_back(f, 4, 0, &soon);
	struct export *en = hand_back(f, FOREVER, 0, &never);
	uint64_t start = dmab_now_ms();
	dmab_release_destroy(f->release);
	f->release = NULL;
	uint64_t took = dmab_now_ms() - start;
	assert_int_equal(soon.calls, 1);
	assert_int_equal(soon.status, 0);
	assert_int_equal(never.calls, 1);
	assert_int_equal(never.status, -ETIMEDOUT);
	assert_true(took >= 80);
	assert_true(took < 2000);
	assert_false(fd_open(es->fd));
	assert_false(fd_open(en->fd));
	fixture_free(f);
}

/* Nothing pending: shutdown does not wait. */
static void destroy_with_nothing_pending(void **state)
{
	struct fixture *f = fixture_new(5000);
	uint64_t start = dmab_now_ms();
	dmab_release_destroy(f->release);
	f->release = NULL;
	assert_true(dmab_now_ms() - start < 1000);
	fixture_free(f);
	dmab_release_destroy(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(released_at_once),
		cmocka_unit_test(held_until_released),
		cmocka_unit_test(several_pending),
		cmocka_unit_test(given_up_after_timeout),
		cmocka_unit_test(hypervisor_error_counts_as_released),
		cmocka_unit_test(timeout_changes_for_later_exports),
		cmocka_unit_test(destroy_waits_then_gives_up),
		cmocka_unit_test(destroy_with_nothing_pending),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
