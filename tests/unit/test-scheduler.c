// SPDX-License-Identifier: MIT
/* The scheduler on a real event loop: turns, rounds, and tasks that go. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "server/scheduler.h"

struct counted {
	struct dmab_task task;
	struct dmab_scheduler *scheduler;
	unsigned int runs;
	unsigned int requeue;           /* turns it still queues itself again from */
	struct dmab_task *finish;       /* a task its turn finishes, as a connector's going would */
	struct dmab_task *wake;         /* a task its turn queues */
	unsigned int *order, *norder;   /* where it writes down its turns, in order */
	unsigned int id;
};

static void handle_run(struct dmab_task *task)
{
	struct counted *c = wl_container_of(task, c, task);
	c->runs++;
	if (c->order)
		c->order[(*c->norder)++] = c->id;
	if (c->finish)
		dmab_task_finish(c->finish);
	if (c->wake)
		dmab_scheduler_queue(c->scheduler, c->wake);
	if (c->requeue) {
		c->requeue--;
		dmab_scheduler_queue(c->scheduler, &c->task);
	}
}

struct fixture {
	struct wl_event_loop *loop;
	struct dmab_scheduler *scheduler;
	struct counted t[3];
	unsigned int order[16], norder;
	/* A source of the loop that queues kick[] when readable, as a guest's notification does. */
	int kick_fd;
	struct wl_event_source *kick_source;
	struct dmab_task *kick[3];
	unsigned int nkick;
};

static int handle_kick(int fd, uint32_t mask, void *data)
{
	struct fixture *f = data;
	uint64_t count;
	assert_int_equal(read(fd, &count, sizeof(count)), sizeof(count));
	for (unsigned int i = 0; i < f->nkick; i++)
		dmab_scheduler_queue(f->scheduler, f->kick[i]);
	f->nkick = 0;
	return 0;
}

/* task is queued from a source of the loop in the next iteration. */
static void queue_from_loop(struct fixture *f, struct dmab_task *task)
{
	uint64_t one = 1;
	f->kick[f->nkick++] = task;
	assert_int_equal(write(f->kick_fd, &one, sizeof(one)), sizeof(one));
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->loop = wl_event_loop_create();
	assert_non_null(f->loop);
	f->scheduler = dmab_scheduler_create(f->loop);
	assert_non_null(f->scheduler);
	f->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_true(f->kick_fd >= 0);
	f->kick_source = wl_event_loop_add_fd(f->loop, f->kick_fd, WL_EVENT_READABLE,
		handle_kick, f);
	assert_non_null(f->kick_source);
	for (unsigned int i = 0; i < 3; i++) {
		dmab_task_init(&f->t[i].task, handle_run);
		f->t[i].scheduler = f->scheduler;
		f->t[i].id = i;
		f->t[i].order = f->order;
		f->t[i].norder = &f->norder;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	for (unsigned int i = 0; i < 3; i++)
		dmab_task_finish(&f->t[i].task);
	dmab_scheduler_destroy(f->scheduler);
	wl_event_source_remove(f->kick_source);
	wl_event_loop_destroy(f->loop);
	free(f);
	return 0;
}

/* One loop iteration, without waiting. */
static void iterate(struct fixture *f)
{
	assert_int_equal(wl_event_loop_dispatch(f->loop, 0), 0);
}

static void nothing_queued_runs_nothing(void **state)
{
	struct fixture *f = *state;
	iterate(f);
	for (unsigned int i = 0; i < 3; i++)
		assert_int_equal(f->t[i].runs, 0);
}

/* Each queued task gets one turn per iteration, in the order they were queued. */
static void one_turn_each_in_order(void **state)
{
	struct fixture *f = *state;
	dmab_scheduler_queue(f->scheduler, &f->t[2].task);
	dmab_scheduler_queue(f->scheduler, &f->t[0].task);
	dmab_scheduler_queue(f->scheduler, &f->t[1].task);
	assert_true(f->t[0].task.queued);
	iterate(f);
	assert_int_equal(f->norder, 3);
	assert_int_equal(f->order[0], 2);
	assert_int_equal(f->order[1], 0);
	assert_int_equal(f->order[2], 1);
	for (unsigned int i = 0; i < 3; i++)
		assert_false(f->t[i].task.queued);
	iterate(f);
	assert_int_equal(f->norder, 3);
}

static void queued_twice_runs_once(void **state)
{
	struct fixture *f = *state;
	dmab_scheduler_queue(f->scheduler, &f->t[0].task);
	dmab_scheduler_queue(f->scheduler, &f->t[0].task);
	dmab_scheduler_queue(f->scheduler, &f->t[1].task);
	dmab_scheduler_queue(f->scheduler, &f->t[0].task);
	iterate(f);
	assert_int_equal(f->t[0].runs, 1);
	assert_int_equal(f->t[1].runs, 1);
	iterate(f);
	assert_int_equal(f->t[0].runs, 1);
}

/*
 * A task that always has more to do queues itself from its turn: it waits
 * for the next iteration, behind the others, and does not hold the loop.
 */
static void requeued_from_run_waits_for_next_round(void **state)
{
	struct fixture *f = *state;
	f->t[0].requeue = 100;
	queue_from_loop(f, &f->t[0].task);
	queue_from_loop(f, &f->t[1].task);
	iterate(f);
	assert_int_equal(f->t[0].runs, 1);
	assert_int_equal(f->t[1].runs, 1);
	assert_true(f->t[0].task.queued);
	/* Queued while 0 waits: it comes after 0 in the next round. */
	dmab_scheduler_queue(f->scheduler, &f->t[2].task);
	iterate(f);
	assert_int_equal(f->t[0].runs, 2);
	assert_int_equal(f->t[1].runs, 1);
	assert_int_equal(f->t[2].runs, 1);
	assert_int_equal(f->norder, 4);
	assert_int_equal(f->order[2], 0);
	assert_int_equal(f->order[3], 2);
	for (unsigned int i = 3; i <= 10; i++) {
		iterate(f);
		assert_int_equal(f->t[0].runs, i);
	}
}

/* Queued from another task's turn: the next round too, not this one. */
static void queued_by_another_waits_for_next_round(void **state)
{
	struct fixture *f = *state;
	f->t[0].wake = &f->t[1].task;
	queue_from_loop(f, &f->t[0].task);
	iterate(f);
	assert_int_equal(f->t[0].runs, 1);
	assert_int_equal(f->t[1].runs, 0);
	assert_true(f->t[1].task.queued);
	iterate(f);
	assert_int_equal(f->t[0].runs, 1);
	assert_int_equal(f->t[1].runs, 1);
	iterate(f);
	assert_int_equal(f->t[1].runs, 1);
}

static void finished_task_does_not_run(void **state)
{
	struct fixture *f = *state;
	dmab_scheduler_queue(f->scheduler, &f->t[0].task);
	dmab_scheduler_queue(f->scheduler, &f->t[1].task);
	dmab_task_finish(&f->t[0].task);
	assert_false(f->t[0].task.queued);
	/* Finishing a task that is not queued is nothing. */
	dmab_task_finish(&f->t[2].task);
	iterate(f);
	assert_int_equal(f->t[0].runs, 0);
	assert_int_equal(f->t[1].runs, 1);
	/* And it can be queued again. */
	dmab_scheduler_queue(f->scheduler, &f->t[0].task);
	iterate(f);
	assert_int_equal(f->t[0].runs, 1);
}

/* A turn that makes another task of the same round go (a connector torn down). */
static void finished_during_the_round_does_not_run(void **state)
{
	struct fixture *f = *state;
	f->t[0].finish = &f->t[1].task;
	dmab_scheduler_queue(f->scheduler, &f->t[0].task);
	dmab_scheduler_queue(f->scheduler, &f->t[1].task);
	dmab_scheduler_queue(f->scheduler, &f->t[2].task);
	iterate(f);
	assert_int_equal(f->t[0].runs, 1);
	assert_int_equal(f->t[1].runs, 0);
	assert_int_equal(f->t[2].runs, 1);
	iterate(f);
	assert_int_equal(f->t[1].runs, 0);
}

/* The last one of the round may go too: the round ends there. */
static void last_of_round_finished(void **state)
{
	struct fixture *f = *state;
	f->t[0].finish = &f->t[2].task;
	f->t[1].finish = &f->t[0].task;         /* itself, already taken off: nothing */
	dmab_scheduler_queue(f->scheduler, &f->t[0].task);
	dmab_scheduler_queue(f->scheduler, &f->t[1].task);
	dmab_scheduler_queue(f->scheduler, &f->t[2].task);
	iterate(f);
	assert_int_equal(f->t[0].runs, 1);
	assert_int_equal(f->t[1].runs, 1);
	assert_int_equal(f->t[2].runs, 0);
}

/*
 * Queued by a source of the loop (a guest's notification): the turns run
 * in the same iteration, once the sources are dispatched, not one wake-up
 * of the loop later; a task its turn queues again still waits for the
 * next iteration.
 */
static void queued_by_a_source_runs_in_the_same_iteration(void **state)
{
	struct fixture *f = *state;
	f->t[1].requeue = 1;
	queue_from_loop(f, &f->t[0].task);
	queue_from_loop(f, &f->t[1].task);
	iterate(f);
	assert_int_equal(f->t[0].runs, 1);
	assert_int_equal(f->t[1].runs, 1);
	assert_true(f->t[1].task.queued);
	iterate(f);
	assert_int_equal(f->t[1].runs, 2);
	assert_false(f->t[1].task.queued);
	iterate(f);
	assert_int_equal(f->norder, 3);
}

/* Queued, finished (nothing left), queued again before the loop ran: one turn. */
static void finished_and_queued_again_runs_once(void **state)
{
	struct fixture *f = *state;
	dmab_scheduler_queue(f->scheduler, &f->t[0].task);
	dmab_task_finish(&f->t[0].task);
	dmab_scheduler_queue(f->scheduler, &f->t[0].task);
	iterate(f);
	assert_int_equal(f->t[0].runs, 1);
	iterate(f);
	assert_int_equal(f->t[0].runs, 1);
}

/* Destroyed with tasks queued: they are dropped, and their owners may finish them after. */
static void destroy_with_tasks_queued(void **state)
{
	struct wl_event_loop *loop = wl_event_loop_create();
	assert_non_null(loop);
	struct dmab_scheduler *scheduler = dmab_scheduler_create(loop);
	assert_non_null(scheduler);
	struct counted a = { 0 }, b = { 0 };
	dmab_task_init(&a.task, handle_run);
	dmab_task_init(&b.task, handle_run);
	dmab_scheduler_queue(scheduler, &a.task);
	dmab_scheduler_queue(scheduler, &b.task);
	dmab_scheduler_destroy(scheduler);
	assert_false(a.task.queued);
	dmab_task_finish(&a.task);
	dmab_task_finish(&b.task);
	assert_int_equal(wl_event_loop_dispatch(loop, 0), 0);
	assert_int_equal(a.runs, 0);
	wl_event_loop_destroy(loop);
	dmab_scheduler_destroy(NULL);
}

/* ---- the loop's iterations, timed ---- */

static char logged[8][512];
static unsigned int nlogged;

__attribute__((format(printf, 2, 0)))
static void capture_log(enum dmab_log_level level, const char *fmt, va_list args)
{
	if (nlogged < 8)
		vsnprintf(logged[nlogged++], sizeof(logged[0]), fmt, args);
}

static void note_time(void *data)
{
	*(uint64_t *)data = dmab_now_ms();
}

/* A source whose dispatch holds the loop for hold_ms. */
struct holder {
	int fd;
	uint32_t hold_ms;
};

static int handle_hold(int fd, uint32_t mask, void *data)
{
	struct holder *h = data;
	uint64_t v;
	assert_int_equal(read(h->fd, &v, sizeof(v)), sizeof(v));
	struct timespec ts = { h->hold_ms / 1000, (long)(h->hold_ms % 1000) * 1000000 };
	while (nanosleep(&ts, &ts) < 0)
		;
	return 0;
}

static void hold_once(struct holder *h, uint32_t ms)
{
	uint64_t one = 1;
	h->hold_ms = ms;
	assert_int_equal(write(h->fd, &one, sizeof(one)), sizeof(one));
}

/*
 * An iteration that holds the loop 50 ms or more is counted and logged as a
 * warning, once every 10 s, the next line saying how many more there were;
 * a quick one, and the wait for work, are not.
 */
static void slow_iterations_are_logged(void **state)
{
	dmab_log_init(DMAB_LOG_DEBUG, capture_log);
	nlogged = 0;
	struct wl_event_loop *loop = wl_event_loop_create();
	assert_non_null(loop);
	struct holder h = { .fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) };
	assert_true(h.fd >= 0);
	struct wl_event_source *src = wl_event_loop_add_fd(loop, h.fd, WL_EVENT_READABLE,
		handle_hold, &h);
	assert_non_null(src);
	struct dmab_loop_timing timing;
	dmab_loop_timing_init(&timing, 50);

	/* Nothing to do: 100 ms of waiting is not 100 ms of work. */
	assert_int_equal(dmab_loop_run_once(loop, 100, &timing), 0);
	assert_int_equal(timing.slow, 0);
	assert_int_equal(nlogged, 0);

	/* Work queued before the loop runs (an idle source) is done before it waits. */
	uint64_t ran_ms = 0, called_ms = dmab_now_ms();
	assert_non_null(wl_event_loop_add_idle(loop, note_time, &ran_ms));
	assert_int_equal(dmab_loop_run_once(loop, 300, &timing), 0);
	assert_true(ran_ms != 0 && ran_ms - called_ms < 200);

	hold_once(&h, 1);
	assert_int_equal(dmab_loop_run_once(loop, 1000, &timing), 0);
	assert_int_equal(timing.slow, 0);
	assert_true(timing.longest_ms >= 1);
	assert_int_equal(nlogged, 0);

	hold_once(&h, 60);
	assert_int_equal(dmab_loop_run_once(loop, 1000, &timing), 0);
	assert_int_equal(timing.slow, 1);
	assert_true(timing.longest_ms >= 60);
	assert_int_equal(nlogged, 1);
	assert_non_null(strstr(logged[0], "the event loop was busy for "));
	assert_null(strstr(logged[0], "more times"));

	/* Within the 10 s: counted, not logged. */
	hold_once(&h, 150);
	assert_int_equal(dmab_loop_run_once(loop, 1000, &timing), 0);
	hold_once(&h, 55);
	assert_int_equal(dmab_loop_run_once(loop, 1000, &timing), 0);
	assert_int_equal(timing.slow, 3);
	assert_int_equal(nlogged, 1);

	/* The next window's line says how many went unsaid. */
	timing.log.window_start_ms -= 10000;
	hold_once(&h, 50);
	assert_int_equal(dmab_loop_run_once(loop, 1000, &timing), 0);
	assert_int_equal(timing.slow, 4);
	assert_int_equal(nlogged, 2);
	const char *longest = strstr(logged[1], "and 2 more times over 50 ms since the last "
		"such line, the longest ");
	assert_non_null(longest);
	assert_true(atoi(strrchr(longest, ',') + sizeof(", the longest") - 1) >= 150);
	assert_true(timing.longest_ms >= 150);

	wl_event_source_remove(src);
	close(h.fd);
	wl_event_loop_destroy(loop);
	dmab_log_init(DMAB_LOG_WARN, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(nothing_queued_runs_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(one_turn_each_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(queued_twice_runs_once, setup, teardown),
		cmocka_unit_test_setup_teardown(requeued_from_run_waits_for_next_round, setup,
			teardown),
		cmocka_unit_test_setup_teardown(queued_by_another_waits_for_next_round, setup,
			teardown),
		cmocka_unit_test_setup_teardown(queued_by_a_source_runs_in_the_same_iteration,
			setup, teardown),
		cmocka_unit_test_setup_teardown(finished_and_queued_again_runs_once, setup,
			teardown),
		cmocka_unit_test_setup_teardown(finished_task_does_not_run, setup, teardown),
		cmocka_unit_test_setup_teardown(finished_during_the_round_does_not_run, setup,
			teardown),
		cmocka_unit_test_setup_teardown(last_of_round_finished, setup, teardown),
		cmocka_unit_test(destroy_with_tasks_queued),
		cmocka_unit_test(slow_iterations_are_logged),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
