// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wayland-server-core.h>

#include "common/array.h"
#include "common/log.h"
#include "server/output.h"

enum note_kind { NOTE_PRESENTED, NOTE_IDLE };

struct dmab_output_note {
	enum note_kind kind;
	struct dmab_oview *view;
	struct dmab_ofb *fb;
	uint64_t when_ns;
};

static void handle_notes(void *data)
{
	struct dmab_output *out = data;
	out->notes_idle = NULL;
	/* A listener may queue more, or destroy what later notes name (purged). */
	while (out->nnotes) {
		struct dmab_output_note n = out->notes[0];
		memmove(&out->notes[0], &out->notes[1], (out->nnotes - 1) * sizeof(n));
		out->nnotes--;
		if (n.kind == NOTE_PRESENTED) {
			if (out->listener.presented)
				out->listener.presented(out->listener.data, n.view, n.fb, n.when_ns);
		} else {
			n.fb->idle_pending = false;
			if (out->listener.fb_idle)
				out->listener.fb_idle(out->listener.data, n.fb);
		}
	}
}

static void note(struct dmab_output *out, enum note_kind kind, struct dmab_oview *view,
		struct dmab_ofb *fb, uint64_t when_ns)
{
	if (dmab_array_reserve((void **)&out->notes, &out->notes_cap, out->nnotes, sizeof(*out->notes))) {
		dmab_log(DMAB_LOG_ERROR, "output %s: out of memory for a notification", out->name);
		return;
	}
	out->notes[out->nnotes++] = (struct dmab_output_note){ kind, view, fb, when_ns };
	if (!out->notes_idle)
		out->notes_idle = wl_event_loop_add_idle(out->loop, handle_notes, out);
}

static void purge_notes(struct dmab_output *out, const struct dmab_oview *view,
		const struct dmab_ofb *fb)
{
	size_t kept = 0;
	for (size_t i = 0; i < out->nnotes; i++) {
		if ((view && out->notes[i].view == view) || (fb && out->notes[i].fb == fb))
			continue;
		out->notes[kept++] = out->notes[i];
	}
	out->nnotes = kept;
}

static void fb_unuse(struct dmab_output *out, struct dmab_ofb *fb)
{
	if (!fb || --fb->users > 0 || fb->idle_pending)
		return;
	fb->idle_pending = true;
	note(out, NOTE_IDLE, NULL, fb, 0);
}

static void fb_use(struct dmab_ofb *fb)
{
	if (fb)
		fb->users++;
}

void dmab_output_init(struct dmab_output *out, const struct dmab_output_impl *impl,
		const char *name, struct wl_event_loop *loop)
{
	memset(out, 0, sizeof(*out));
	out->impl = impl;
	out->name = strdup(name);
	out->loop = loop;
}

int dmab_output_find_screen(const struct dmab_output *out, const char *name)
{
	if (!name)
		return -1;
	for (unsigned int i = 0; i < out->nscreens; i++) {
		if (strcmp(out->screens[i].name, name) == 0)
			return (int)i;
	}
	return -1;
}

void dmab_output_finish(struct dmab_output *out)
{
	while (out->nviews)
		dmab_oview_destroy(out->views[0]);
	if (out->notes_idle)
		wl_event_source_remove(out->notes_idle);
	free(out->notes);
	free(out->views);
	free(out->name);
}

void dmab_output_destroy(struct dmab_output *out)
{
	if (out)
		out->impl->destroy(out);
}

void dmab_output_set_listener(struct dmab_output *out,
		const struct dmab_output_listener *listener)
{
	out->listener = *listener;
}

int dmab_obuf_import(struct dmab_output *out, int fd, size_t size, struct dmab_obuf **buf)
{
	int ret = out->impl->import_dmabuf(out, fd, size, buf);
	if (ret == 0) {
		(*buf)->output = out;
		(*buf)->size = size;
	}
	return ret;
}

int dmab_obuf_alloc(struct dmab_output *out, uint32_t width, uint32_t height,
		uint32_t bpp, uint32_t *stride, size_t size, struct dmab_obuf **buf)
{
	int ret = out->impl->alloc(out, width, height, bpp, stride, size, buf);
	if (ret == 0) {
		(*buf)->output = out;
		(*buf)->allocated = true;
	}
	return ret;
}

void dmab_obuf_destroy(struct dmab_obuf *buf)
{
	if (buf)
		buf->output->impl->buffer_destroy(buf->output, buf);
}

int dmab_ofb_create(struct dmab_obuf *buf, uint32_t width, uint32_t height,
		uint32_t fourcc, uint32_t offset, uint32_t stride, void *user,
		struct dmab_ofb **out_fb)
{
	struct dmab_ofb *fb = calloc(1, sizeof(*fb));
	if (!fb)
		return -ENOMEM;
	*fb = (struct dmab_ofb){
		.buffer = buf, .width = width, .height = height, .fourcc = fourcc,
		.offset = offset, .stride = stride, .user = user,
	};
	int ret = buf->output->impl->fb_create(buf->output, fb);
	if (ret) {
		free(fb);
		return ret;
	}
	*out_fb = fb;
	return 0;
}

bool dmab_ofb_busy(const struct dmab_ofb *fb)
{
	return fb->users > 0;
}

int dmab_ofb_destroy(struct dmab_ofb *fb)
{
	if (!fb)
		return 0;
	if (fb->users)
		return -EBUSY;
	struct dmab_output *out = fb->buffer->output;
	purge_notes(out, NULL, fb);
	out->impl->fb_destroy(out, fb);
	free(fb);
	return 0;
}

int dmab_oview_create(struct dmab_output *out, uint32_t width, uint32_t height,
		uint32_t refresh_mhz, const struct dmab_placement *place, void *user,
		struct dmab_oview **out_view)
{
	int ret = dmab_array_reserve((void **)&out->views, &out->views_cap, out->nviews, sizeof(*out->views));
	if (ret)
		return ret;
	struct dmab_oview *view = calloc(1, sizeof(*view));
	if (!view)
		return -ENOMEM;
	*view = (struct dmab_oview){
		.output = out, .width = width, .height = height,
		.refresh_mhz = refresh_mhz ? refresh_mhz : 60000,
		.place = *place, .user = user,
	};
	ret = out->impl->view_create(out, view);
	if (ret) {
		free(view);
		return ret;
	}
	out->views[out->nviews++] = view;
	*out_view = view;
	return 0;
}

void dmab_oview_destroy(struct dmab_oview *view)
{
	if (!view)
		return;
	struct dmab_output *out = view->output;
	out->impl->view_destroy(out, view);
	purge_notes(out, view, NULL);
	if (view->has_pending)
		fb_unuse(out, view->pending);
	fb_unuse(out, view->current);
	for (size_t i = 0; i < out->nviews; i++) {
		if (out->views[i] == view) {
			out->views[i] = out->views[--out->nviews];
			break;
		}
	}
	free(view);
}

void dmab_oview_place(struct dmab_oview *view, const struct dmab_placement *place)
{
	view->place = *place;
	view->output->impl->view_place(view->output, view);
}

static int set_pending(struct dmab_oview *view, struct dmab_ofb *fb,
		const struct dmab_rect *dst, bool show)
{
	struct dmab_output *out = view->output;
	if (view->has_pending) {
		/* Replaced before it reached the screen: its guest still hears of it. */
		if (!view->pending_show && view->pending)
			note(out, NOTE_PRESENTED, view, view->pending, dmab_now_ns());
		fb_unuse(out, view->pending);
	}
	fb_use(fb);
	view->has_pending = true;
	view->pending = fb;
	view->pending_show = show;
	view->pending_dst = dst ? *dst : (struct dmab_rect){ 0 };
	return out->impl->view_commit(out, view);
}

static uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

int dmab_oview_show(struct dmab_oview *view, struct dmab_ofb *fb, const struct dmab_rect *dst)
{
	struct dmab_rect whole;
	if (fb && !dst) {
		whole = (struct dmab_rect){ 0, 0, min_u32(fb->width, view->width),
			min_u32(fb->height, view->height) };
		dst = &whole;
	}
	return set_pending(view, fb, dst, true);
}

int dmab_oview_flip(struct dmab_oview *view, struct dmab_ofb *fb)
{
	/* A flip keeps the rectangle SET_CONFIG chose, within the new frame. */
	struct dmab_rect dst = view->has_pending ? view->pending_dst : view->current_dst;
	if (dst.width == 0 || dst.height == 0)
		dst = (struct dmab_rect){ 0, 0, view->width, view->height };
	dst.width = min_u32(dst.width, fb->width);
	dst.height = min_u32(dst.height, fb->height);
	return set_pending(view, fb, &dst, false);
}

bool dmab_output_view_latch(struct dmab_oview *view)
{
	struct dmab_output *out = view->output;
	if (view->has_pending && view->pending && out->listener.latch)
		return out->listener.latch(out->listener.data, view, view->pending);
	return true;
}

void dmab_output_view_presented(struct dmab_oview *view, uint64_t when_ns)
{
	struct dmab_output *out = view->output;
	if (!view->has_pending)
		return;
	struct dmab_ofb *old = view->current;
	view->current = view->pending;
	view->current_dst = view->pending_dst;
	view->has_pending = false;
	view->pending = NULL;
	if (!view->pending_show && view->current)
		note(out, NOTE_PRESENTED, view, view->current, when_ns);
	fb_unuse(out, old);
}

static int capture_layer(struct dmab_oview *view, struct dmab_capture_layer *layer)
{
	struct dmab_ofb *fb = view->current;
	*layer = (struct dmab_capture_layer){
		.fd = -1, .x = view->place.x, .y = view->place.y,
		.width = view->width, .height = view->height, .user = view->user,
	};
	if (!fb)
		return 0;
	layer->frame = true;
	layer->size = fb->buffer->size;
	layer->offset = fb->offset;
	layer->stride = fb->stride;
	layer->fourcc = fb->fourcc;
	layer->src = view->current_dst;
	if (fb->buffer->dmabuf_fd >= 0) {
		layer->fd = fcntl(fb->buffer->dmabuf_fd, F_DUPFD_CLOEXEC, 0);
		if (layer->fd < 0)
			return -errno;
	}
	return 0;
}

static struct dmab_capture *capture_new(uint32_t width, uint32_t height, size_t nlayers)
{
	struct dmab_capture *capture = calloc(1, sizeof(*capture) +
		nlayers * sizeof(capture->layers[0]));
	if (capture) {
		capture->width = width;
		capture->height = height;
	}
	return capture;
}

void dmab_capture_destroy(struct dmab_capture *capture)
{
	if (!capture)
		return;
	for (size_t i = 0; i < capture->nlayers; i++) {
		if (capture->layers[i].fd >= 0)
			close(capture->layers[i].fd);
	}
	free(capture);
}

int dmab_oview_capture(struct dmab_oview *view, struct dmab_capture **out_capture)
{
	struct dmab_capture *capture = capture_new(view->width, view->height, 1);
	if (!capture)
		return -ENOMEM;
	int ret = capture_layer(view, &capture->layers[0]);
	if (ret) {
		free(capture);
		return ret;
	}
	capture->nlayers = 1;
	capture->layers[0].x = capture->layers[0].y = 0;
	*out_capture = capture;
	return 0;
}

static int by_z(const void *a, const void *b)
{
	const struct dmab_oview *va = *(struct dmab_oview *const *)a;
	const struct dmab_oview *vb = *(struct dmab_oview *const *)b;
	return (va->place.z > vb->place.z) - (va->place.z < vb->place.z);
}

int dmab_output_capture(struct dmab_output *out, unsigned int screen,
		struct dmab_capture **out_capture)
{
	if (screen >= out->nscreens)
		return -EINVAL;
	struct dmab_oview **sorted = malloc(out->nviews * sizeof(*sorted) + 1);
	struct dmab_capture *capture = capture_new(out->screens[screen].width,
		out->screens[screen].height, out->nviews);
	if (!sorted || !capture) {
		free(sorted);
		free(capture);
		return -ENOMEM;
	}
	capture->blend = true;
	memcpy(sorted, out->views, out->nviews * sizeof(*sorted));
	qsort(sorted, out->nviews, sizeof(*sorted), by_z);
	int ret = 0;
	for (size_t i = 0; i < out->nviews && ret == 0; i++) {
		struct dmab_oview *view = sorted[i];
		if (!view->place.visible || view->place.screen != screen)
			continue;
		ret = capture_layer(view, &capture->layers[capture->nlayers]);
		if (ret == 0)
			capture->nlayers++;
	}
	free(sorted);
	if (ret) {
		dmab_capture_destroy(capture);
		return ret;
	}
	*out_capture = capture;
	return 0;
}
