// SPDX-License-Identifier: MIT
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <wayland-server-core.h>

#include "common/log.h"
#include "common/pixman-format.h"
#include "protocol/format.h"
#include "output/compose.h"
#include "server/control-shot.h"
#include "output/capture.h"
#include "server/pixels.h"

/* Rows composed and encoded at a time: a few MiB, whatever the size of the picture. */
#define BAND_ROWS 64
/* How long a shutdown waits for a cancelled screenshot's thread. */
#define JOIN_MS 2000

struct dmab_shots {
	struct wl_event_loop *loop;
	int done_fd;                    /* eventfd: a thread finished */
	struct wl_event_source *done_source;
	struct wl_list shots;           /* struct dmab_shot.link: under way */
	unsigned int count;
};

struct dmab_shot {
	struct wl_list link;            /* dmab_shots.shots */
	struct dmab_shots *shots;
	pthread_t thread;
	int wake_fd;                    /* eventfd: cancelled, stop waiting */
	atomic_bool cancelled;
	atomic_bool finished;
	dmab_shot_done_fn done;
	void *data;

	/* The thread's from the start until it finished; the loop's after it joined. */
	struct dmab_capture *capture;
	int fd;
	bool require_all;
	uint32_t width, height;
	int status;
	char error[160];
	size_t *skipped;
	size_t nskipped;
};

/* ---- on the thread ---- */

/* A layer's frame, mapped read-only. */
struct frame_map {
	const uint8_t *map;             /* NULL: no frame, or left out */
	size_t len;
};

static int map_frame(const struct dmab_capture_layer *l, struct frame_map *m)
{
	const struct dmab_format *fmt = dmab_format_lookup(l->fourcc);
	if (l->fd < 0 && !l->cpu)
		return -ENODEV;
	if (!fmt || !dmab_pixman_format(l->fourcc) || l->src.width == 0 || l->src.height == 0 ||
			l->src.x < 0 || l->src.y < 0)
		return -EINVAL;
	/* What the shown rows span, and not an octet more, in 64 bits. */
	uint64_t end = (uint64_t)l->offset +
		(uint64_t)l->stride * ((uint64_t)l->src.y + l->src.height - 1) +
		dmab_row_bytes((uint32_t)l->src.x + l->src.width, fmt->bpp);
	if (end > l->size || end > SIZE_MAX)
		return -EINVAL;
	if (l->cpu) {
		/* The importer's mapping, held for the capture: not ours to unmap. */
		m->map = l->cpu;
		m->len = 0;
		return 0;
	}
	/* A mapping past the end of a file would fault (SIGBUS) when read. */
	struct stat st;
	if (fstat(l->fd, &st) == 0 && st.st_size > 0 && (uint64_t)st.st_size < end)
		return -EINVAL;
	void *p = mmap(NULL, (size_t)end, PROT_READ, MAP_SHARED, l->fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	m->map = p;
	m->len = (size_t)end;
	return 0;
}

struct box {
	int64_t x0, y0, x1, y1;
};

static struct box clip(struct box a, struct box b)
{
	struct box c = {
		a.x0 > b.x0 ? a.x0 : b.x0, a.y0 > b.y0 ? a.y0 : b.y0,
		a.x1 < b.x1 ? a.x1 : b.x1, a.y1 < b.y1 ? a.y1 : b.y1,
	};
	return c;
}

static bool empty(struct box b)
{
	return b.x0 >= b.x1 || b.y0 >= b.y1;
}

/*
 * Draw a layer into band, rows [band_y, band_y + rows) of the canvas, as
 * the display shows it. All geometry is clipped in 64 bits before pixman
 * sees it.
 */
static int draw_layer(const struct dmab_capture *cap, const struct dmab_capture_layer *l,
		const struct frame_map *m, pixman_image_t *band, int64_t band_y)
{
	struct box area = { 0, band_y, cap->width, band_y + pixman_image_get_height(band) };
	struct box dst = { l->dst.x, l->dst.y, (int64_t)l->dst.x + l->dst.width,
		(int64_t)l->dst.y + l->dst.height };
	struct box shown = clip(dst, area);
	if (empty(shown))
		return 0;
	uint32_t nrows = (uint32_t)(shown.y1 - shown.y0);
	if (l->src.width != l->dst.width || l->src.height != l->dst.height) {
		/*
		 * Scaled: the whole part shown, drawn as the display scales it
		 * (dmab_compose_image()), the band's rows of it.
		 */
		pixman_image_t *whole = dmab_pixels_image(m->map + l->offset +
			(uint64_t)l->src.y * l->stride, (uint32_t)l->src.x + l->src.width,
			l->src.height, l->stride, l->fourcc);
		if (!whole)
			return -ENOMEM;
		struct dmab_layer layer = {
			.src = { l->src.x, 0, l->src.width, l->src.height },
			.dst = { l->dst.x, (int32_t)(dst.y0 - band_y), l->dst.width, l->dst.height },
		};
		/* pixman keeps to the band: the rows of other bands are left alone. */
		dmab_compose_image(band, whole, &layer, cap->blend ? PIXMAN_OP_OVER :
			PIXMAN_OP_SRC);
		pixman_image_unref(whole);
		return 0;
	}
	/* The frame's rows in this band, read where they are when pixman can. */
	uint64_t row0 = (uint64_t)l->src.y + (uint64_t)(shown.y0 - dst.y0);
	pixman_image_t *src = dmab_pixels_image(m->map + l->offset + row0 * l->stride,
		(uint32_t)l->src.x + l->src.width, nrows, l->stride, l->fourcc);
	if (!src)
		return -ENOMEM;
	pixman_image_composite32(cap->blend ? PIXMAN_OP_OVER : PIXMAN_OP_SRC, src, NULL, band,
		(int32_t)(l->src.x + (shown.x0 - dst.x0)), 0, 0, 0, (int32_t)shown.x0,
		(int32_t)(shown.y0 - band_y), (int32_t)(shown.x1 - shown.x0), (int32_t)nrows);
	pixman_image_unref(src);
	return 0;
}

enum write_way {
	WRITE_PLAIN,            /* a regular file: a write never waits on anyone */
	WRITE_SOCKET,           /* send(MSG_DONTWAIT) */
	WRITE_NOWAIT,           /* pipes and devices: pwritev2(RWF_NOWAIT) */
	WRITE_PIPE_BUF,         /* where RWF_NOWAIT is not taken: PIPE_BUF octets after POLLOUT */
};

struct writer {
	struct dmab_shot *shot;
	enum write_way way;
	uint64_t end_ms, progress_ms;
};

/*
 * Wait until the file takes octets, as long as the deadlines allow. The
 * client's file status flags are its own: they are never changed.
 */
static int wait_writable(struct writer *w)
{
	for (;;) {
		uint64_t now = dmab_now_ms();
		uint64_t until = w->progress_ms + DMAB_SHOT_STALL_MS;
		if (until > w->end_ms)
			until = w->end_ms;
		if (now >= until)
			return -ETIMEDOUT;
		struct pollfd p[2] = {
			{ w->shot->fd, POLLOUT, 0 },
			{ w->shot->wake_fd, POLLIN, 0 },
		};
		int n = poll(p, 2, (int)(until - now));
		if (n < 0 && errno != EINTR)
			return -errno;
		if (atomic_load(&w->shot->cancelled))
			return -ECANCELED;
		if (n > 0 && (p[0].revents & POLLNVAL))
			return -EBADF;
		/* Ready, or an error or hangup the next write will name. */
		if (n > 0 && p[0].revents)
			return 0;
	}
}

static int write_png(void *data, const void *buf, size_t len)
{
	struct writer *w = data;
	int fd = w->shot->fd;
	while (len) {
		if (atomic_load(&w->shot->cancelled))
			return -ECANCELED;
		if (dmab_now_ms() >= w->end_ms)
			return -ETIMEDOUT;
		ssize_t n;
		struct iovec iov = { (void *)buf, len };
		switch (w->way) {
		case WRITE_PLAIN:
			n = write(fd, buf, len);
			break;
		case WRITE_SOCKET:
			n = send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
			break;
		case WRITE_NOWAIT:
			n = pwritev2(fd, &iov, 1, -1, RWF_NOWAIT);
			if (n < 0 && errno == EOPNOTSUPP) {
				w->way = WRITE_PIPE_BUF;
				continue;
			}
			break;
		case WRITE_PIPE_BUF:
		default: {
			/* After POLLOUT a pipe takes PIPE_BUF octets without blocking. */
			int ret = wait_writable(w);
			if (ret)
				return ret;
			n = write(fd, buf, len < PIPE_BUF ? len : PIPE_BUF);
			break;
		}
		}
		if (n > 0) {
			buf = (const uint8_t *)buf + n;
			len -= (size_t)n;
			w->progress_ms = dmab_now_ms();
			continue;
		}
		if (n == 0)
			return -EIO;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		int ret = wait_writable(w);
		if (ret)
			return ret;
	}
	return 0;
}

static enum write_way write_way(int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return WRITE_PIPE_BUF;
	if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))
		return WRITE_PLAIN;
	if (S_ISSOCK(st.st_mode))
		return WRITE_SOCKET;
	return WRITE_NOWAIT;
}

static int fail(struct dmab_shot *shot, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct dmab_shot *shot, int status, const char *fmt, ...)
{
	va_list args;
	va_start(args, fmt);
	vsnprintf(shot->error, sizeof(shot->error), fmt, args);
	va_end(args);
	return status;
}

static int encode(struct dmab_shot *shot, const struct frame_map *maps)
{
	const struct dmab_capture *cap = shot->capture;
	uint64_t now = dmab_now_ms();
	struct writer w = {
		.shot = shot, .way = write_way(shot->fd),
		.end_ms = now + DMAB_SHOT_MAX_MS, .progress_ms = now,
	};
	struct dmab_png *png;
	int ret = dmab_png_begin(cap->width, cap->height, write_png, &w, &png);
	if (ret)
		goto err;
	pixman_image_t *band = pixman_image_create_bits(PIXMAN_a8r8g8b8, (int)cap->width,
		BAND_ROWS, NULL, 0);
	if (!band) {
		dmab_png_destroy(png);
		return fail(shot, -ENOMEM, "out of memory");
	}
	for (uint32_t y = 0; y < cap->height && ret == 0; y += BAND_ROWS) {
		if (atomic_load(&shot->cancelled)) {
			ret = -ECANCELED;
			break;
		}
		uint32_t rows = cap->height - y < BAND_ROWS ? cap->height - y : BAND_ROWS;
		/* The last band may be shorter: the same memory, fewer rows. */
		pixman_image_t *rows_img = rows == BAND_ROWS ? pixman_image_ref(band) :
			pixman_image_create_bits(PIXMAN_a8r8g8b8, (int)cap->width, (int)rows,
				pixman_image_get_data(band), pixman_image_get_stride(band));
		if (!rows_img) {
			ret = -ENOMEM;
			break;
		}
		pixman_color_t black = { 0, 0, 0, 0xffff };
		pixman_box32_t all = { 0, 0, (int32_t)cap->width, (int32_t)rows };
		pixman_image_fill_boxes(PIXMAN_OP_SRC, rows_img, &black, 1, &all);
		for (size_t i = 0; i < cap->nlayers && ret == 0; i++) {
			if (!maps[i].map)
				continue;       /* left out */
			ret = draw_layer(cap, &cap->layers[i], &maps[i], rows_img, y);
		}
		if (ret == 0)
			ret = dmab_png_rows(png, rows_img);
		pixman_image_unref(rows_img);
	}
	pixman_image_unref(band);
	if (ret) {
		dmab_png_destroy(png);
		goto err;
	}
	ret = dmab_png_end(png);
	if (ret == 0)
		return 0;
err:
	if (ret == -ETIMEDOUT && dmab_now_ms() >= w.end_ms)
		return fail(shot, ret, "writing the PNG: not all of it was read within %d s",
			DMAB_SHOT_MAX_MS / 1000);
	if (ret == -ETIMEDOUT)
		return fail(shot, ret, "writing the PNG: nothing of it was read for %d s",
			DMAB_SHOT_STALL_MS / 1000);
	return fail(shot, ret, "writing the PNG: %s", dmab_strerror(ret));
}

static int draw(struct dmab_shot *shot)
{
	const struct dmab_capture *cap = shot->capture;
	struct frame_map *maps = calloc(cap->nlayers + 1, sizeof(*maps));
	shot->skipped = calloc(cap->nlayers + 1, sizeof(*shot->skipped));
	if (!maps || !shot->skipped) {
		free(maps);
		return fail(shot, -ENOMEM, "out of memory");
	}
	int ret = 0;
	for (size_t i = 0; i < cap->nlayers && ret == 0; i++) {
		if (map_frame(&cap->layers[i], &maps[i]) == 0)
			continue;
		/* A gntdev dma-buf has no CPU mapping at all. */
		if (shot->require_all)
			ret = fail(shot, -ENODEV, "shows a buffer without CPU access");
		else
			shot->skipped[shot->nskipped++] = i;
	}
	if (ret == 0)
		ret = encode(shot, maps);
	for (size_t i = 0; i < cap->nlayers; i++) {
		if (maps[i].map && maps[i].len)
			munmap((void *)maps[i].map, maps[i].len);
	}
	free(maps);
	return ret;
}

static void *run(void *data)
{
	struct dmab_shot *shot = data;
	struct dmab_shots *shots = shot->shots;
	/* Below the loop's thread: a screenshot may wait, guests' frames may not. */
	setpriority(PRIO_PROCESS, (id_t)gettid(), 10);
	shot->status = draw(shot);
	/*
	 * What the capture holds (guests' memory) goes as soon as it is drawn;
	 * framebuffers it locked are the loop's to unlock (shot_free).
	 */
	close(shot->fd);
	shot->fd = -1;
	if (!dmab_capture_holds(shot->capture)) {
		dmab_capture_destroy(shot->capture);
		shot->capture = NULL;
	}
	atomic_store(&shot->finished, true);
	uint64_t one = 1;
	if (write(shots->done_fd, &one, sizeof(one)) < 0)
		dmab_log_errno(DMAB_LOG_ERROR, -errno, "screenshot: cannot tell the loop");
	return NULL;
}

/* ---- on the loop ---- */

static void shot_free(struct dmab_shot *shot)
{
	if (shot->fd >= 0)
		close(shot->fd);
	dmab_capture_destroy(shot->capture);
	if (shot->wake_fd >= 0)
		close(shot->wake_fd);
	free(shot->skipped);
	free(shot);
}

static int handle_done(int fd, uint32_t mask, void *data)
{
	struct dmab_shots *shots = data;
	uint64_t count;
	if (read(fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		return 0;
	struct dmab_shot *shot, *tmp;
	wl_list_for_each_safe(shot, tmp, &shots->shots, link) {
		if (!atomic_load(&shot->finished))
			continue;
		pthread_join(shot->thread, NULL);
		wl_list_remove(&shot->link);
		shots->count--;
		if (!atomic_load(&shot->cancelled)) {
			struct dmab_shot_result result = {
				.status = shot->status,
				.error = shot->error,
				.width = shot->width,
				.height = shot->height,
				.skipped = shot->skipped,
				.nskipped = shot->nskipped,
			};
			/* It may start or cancel screenshots: none is freed under this walk. */
			shot->done(shot->data, &result);
		}
		shot_free(shot);
	}
	return 0;
}

struct dmab_shots *dmab_shots_create(struct wl_event_loop *loop)
{
	struct dmab_shots *shots = calloc(1, sizeof(*shots));
	if (!shots)
		return NULL;
	shots->loop = loop;
	wl_list_init(&shots->shots);
	shots->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (shots->done_fd < 0)
		goto err_shots;
	shots->done_source = wl_event_loop_add_fd(loop, shots->done_fd, WL_EVENT_READABLE,
		handle_done, shots);
	if (!shots->done_source)
		goto err_fd;
	return shots;

err_fd:
	close(shots->done_fd);
err_shots:
	free(shots);
	return NULL;
}

void dmab_shots_destroy(struct dmab_shots *shots)
{
	if (!shots)
		return;
	struct dmab_shot *shot, *tmp;
	wl_list_for_each(shot, &shots->shots, link)
		dmab_shot_cancel(shot);
	bool stuck = false;
	wl_list_for_each_safe(shot, tmp, &shots->shots, link) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += JOIN_MS / 1000;
		if (pthread_timedjoin_np(shot->thread, NULL, &until) != 0) {
			/* In a write the kernel does not end (a hung file system): it keeps what it uses. */
			dmab_log(DMAB_LOG_ERROR, "screenshot: a thread did not stop in %d ms; leaving it",
				JOIN_MS);
			stuck = true;
			continue;
		}
		wl_list_remove(&shot->link);
		shot_free(shot);
	}
	wl_event_source_remove(shots->done_source);
	if (stuck)
		return;
	close(shots->done_fd);
	free(shots);
}

int dmab_shot_start(struct dmab_shots *shots, struct dmab_capture *capture, int fd,
		bool require_all, dmab_shot_done_fn done, void *data, struct dmab_shot **out)
{
	int ret = -EBUSY;
	struct dmab_shot *shot = NULL;
	if (shots->count >= DMAB_SHOTS_MAX)
		goto err;
	ret = -ENOMEM;
	shot = calloc(1, sizeof(*shot));
	if (!shot)
		goto err;
	*shot = (struct dmab_shot){
		.shots = shots, .capture = capture, .fd = fd, .require_all = require_all,
		.width = capture->width, .height = capture->height, .done = done, .data = data,
	};
	capture = NULL;
	fd = -1;
	shot->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (shot->wake_fd < 0) {
		ret = -errno;
		goto err;
	}
	shot->error[0] = '\0';
	/* Signals are the loop's (signalfd): none may land on the thread. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = -pthread_create(&shot->thread, NULL, run, shot);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret)
		goto err;
	wl_list_insert(shots->shots.prev, &shot->link);
	shots->count++;
	*out = shot;
	return 0;

err:
	if (shot)
		shot_free(shot);
	dmab_capture_destroy(capture);
	if (fd >= 0)
		close(fd);
	return ret;
}

void dmab_shot_cancel(struct dmab_shot *shot)
{
	atomic_store(&shot->cancelled, true);
	uint64_t one = 1;
	if (write(shot->wake_fd, &one, sizeof(one)) < 0)
		dmab_log_errno(DMAB_LOG_ERROR, -errno, "screenshot: cannot wake its thread");
}
