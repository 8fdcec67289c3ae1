// SPDX-License-Identifier: MIT
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/log.h"
#include "server/copier.h"

enum { JOB_IDLE, JOB_QUEUED, JOB_RUNNING, JOB_FINISHED };

struct dmab_copier {
	pthread_mutex_t lock;
	pthread_cond_t work;            /* a job was queued, or stop */
	pthread_cond_t finished;        /* a job left RUNNING */
	struct wl_list queued;          /* dmab_copy_job.link, JOB_QUEUED */
	struct wl_list finished_jobs;   /* JOB_FINISHED, for the loop */
	unsigned int cancelling;        /* threads waiting on finished */
	bool stop;
	pthread_t *threads;
	unsigned int nthreads;
	int event_fd;
	struct wl_event_source *source;
};

static void *worker(void *data)
{
	struct dmab_copier *c = data;
	/*
	 * A batch thread: the kernel does not let it preempt the thread that
	 * woke it. Otherwise the loop, queueing a copy, loses its CPU to the
	 * worker in the middle of the wake-up, for a slice of the copy, and
	 * every other guest's flip waits that long (3 ms for a 3840x2160
	 * frame); it keeps its full share of the CPU.
	 */
	struct sched_param param = { 0 };
	int ret = pthread_setschedparam(pthread_self(), SCHED_BATCH, &param);
	if (ret)
		dmab_log_errno(DMAB_LOG_WARN, -ret, "copy worker: cannot become a batch thread");
	pthread_mutex_lock(&c->lock);
	for (;;) {
		while (!c->stop && wl_list_empty(&c->queued))
			pthread_cond_wait(&c->work, &c->lock);
		if (c->stop)
			break;
		struct dmab_copy_job *job = wl_container_of(c->queued.next, job, link);
		wl_list_remove(&job->link);
		wl_list_init(&job->link);
		job->state = JOB_RUNNING;
		pthread_mutex_unlock(&c->lock);
		bool finished = job->run(job);
		pthread_mutex_lock(&c->lock);
		/*
		 * dmab_copier_cancel() waits while it runs: nobody changed it. A
		 * waiter looks again once the lock is let go, after the state
		 * below changed.
		 */
		if (c->cancelling)
			pthread_cond_broadcast(&c->finished);
		if (!finished) {
			/* Its next slice after everyone else's. */
			job->state = JOB_QUEUED;
			wl_list_insert(c->queued.prev, &job->link);
			continue;
		}
		job->state = JOB_FINISHED;
		/* The loop was woken for the first one waiting: it takes them all. */
		bool wake = wl_list_empty(&c->finished_jobs);
		wl_list_insert(c->finished_jobs.prev, &job->link);
		if (!wake)
			continue;
		/* Not under the lock: the loop takes it at once to collect the job. */
		pthread_mutex_unlock(&c->lock);
		uint64_t one = 1;
		if (write(c->event_fd, &one, sizeof(one)) < 0)
			dmab_log_errno(DMAB_LOG_ERROR, -errno, "copy worker: cannot wake the loop");
		pthread_mutex_lock(&c->lock);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

static int handle_finished(int fd, uint32_t mask, void *data)
{
	struct dmab_copier *c = data;
	uint64_t count;
	if (read(fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		return 0;
	for (;;) {
		pthread_mutex_lock(&c->lock);
		struct dmab_copy_job *job = NULL;
		if (!wl_list_empty(&c->finished_jobs)) {
			job = wl_container_of(c->finished_jobs.next, job, link);
			wl_list_remove(&job->link);
			wl_list_init(&job->link);
			job->state = JOB_IDLE;
		}
		pthread_mutex_unlock(&c->lock);
		if (!job)
			return 0;
		/* done may submit the job again, or free it. */
		job->done(job);
	}
}

struct dmab_copier *dmab_copier_create(struct wl_event_loop *loop, unsigned int nthreads)
{
	struct dmab_copier *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	if (nthreads == 0)
		nthreads = 1;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->work, NULL);
	pthread_cond_init(&c->finished, NULL);
	wl_list_init(&c->queued);
	wl_list_init(&c->finished_jobs);
	c->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	c->threads = calloc(nthreads, sizeof(*c->threads));
	if (c->event_fd < 0 || !c->threads)
		goto err;
	c->source = wl_event_loop_add_fd(loop, c->event_fd, WL_EVENT_READABLE, handle_finished, c);
	if (!c->source)
		goto err;
	/* Signals are the loop's (signalfd): workers take none. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (unsigned int i = 0; i < nthreads; i++) {
		if (pthread_create(&c->threads[i], NULL, worker, c)) {
			dmab_log(DMAB_LOG_ERROR, "cannot start a copy worker");
			break;
		}
		c->nthreads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (c->nthreads)
		return c;
err:
	dmab_copier_destroy(c);
	return NULL;
}

void dmab_copier_destroy(struct dmab_copier *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->stop = true;
	pthread_cond_broadcast(&c->work);
	pthread_mutex_unlock(&c->lock);
	for (unsigned int i = 0; i < c->nthreads; i++)
		pthread_join(c->threads[i], NULL);
	/* Whatever is left belongs to owners that are gone too. */
	while (!wl_list_empty(&c->queued)) {
		struct dmab_copy_job *job = wl_container_of(c->queued.next, job, link);
		wl_list_remove(&job->link);
		wl_list_init(&job->link);
		job->state = JOB_IDLE;
	}
	while (!wl_list_empty(&c->finished_jobs)) {
		struct dmab_copy_job *job = wl_container_of(c->finished_jobs.next, job, link);
		wl_list_remove(&job->link);
		wl_list_init(&job->link);
		job->state = JOB_IDLE;
	}
	if (c->source)
		wl_event_source_remove(c->source);
	if (c->event_fd >= 0)
		close(c->event_fd);
	pthread_cond_destroy(&c->finished);
	pthread_cond_destroy(&c->work);
	pthread_mutex_destroy(&c->lock);
	free(c->threads);
	free(c);
}

void dmab_copier_submit(struct dmab_copier *c, struct dmab_copy_job *job)
{
	pthread_mutex_lock(&c->lock);
	job->state = JOB_QUEUED;
	wl_list_insert(c->queued.prev, &job->link);
	pthread_mutex_unlock(&c->lock);
	/* After letting go: a woken worker does not wait for the lock. */
	pthread_cond_signal(&c->work);
}

void dmab_copier_cancel(struct dmab_copier *c, struct dmab_copy_job *job)
{
	pthread_mutex_lock(&c->lock);
	c->cancelling++;
	while (job->state == JOB_RUNNING)
		pthread_cond_wait(&c->finished, &c->lock);
	c->cancelling--;
	if (job->state == JOB_QUEUED || job->state == JOB_FINISHED) {
		wl_list_remove(&job->link);
		wl_list_init(&job->link);
	}
	job->state = JOB_IDLE;
	pthread_mutex_unlock(&c->lock);
}

bool dmab_copier_busy(struct dmab_copier *c, const struct dmab_copy_job *job)
{
	pthread_mutex_lock(&c->lock);
	bool busy = job->state != JOB_IDLE;
	pthread_mutex_unlock(&c->lock);
	return busy;
}
