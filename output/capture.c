// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "output/capture.h"

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

static int capture_layer(const struct dmab_layer *l, struct dmab_capture_layer *out)
{
	const struct dmab_ofb *fb = l->fb;
	*out = (struct dmab_capture_layer){
		.fd = -1,
		.size = fb->buffer->size,
		.offset = fb->offset, .stride = fb->stride, .fourcc = fb->fourcc,
		.src = l->src, .dst = l->dst,
		.user = l->view ? l->view->data : NULL,
		.fb = l->fb,
	};
	if (fb->buffer->cpu_unmap) {
		/* Its fd has no mmap: read where its importer mapped it, while locked. */
		out->cpu = fb->buffer->cpu;
		out->held = dmab_ofb_lock(l->fb);
	} else if (fb->buffer->fd >= 0) {
		out->fd = fcntl(fb->buffer->fd, F_DUPFD_CLOEXEC, 0);
		if (out->fd < 0)
			return -errno;
	}
	return 0;
}

bool dmab_capture_holds(const struct dmab_capture *capture)
{
	for (size_t i = 0; capture && i < capture->nlayers; i++) {
		if (capture->layers[i].held)
			return true;
	}
	return false;
}

int dmab_screen_capture(struct dmab_screen *screen, struct dmab_capture **out)
{
	struct dmab_layer *layers;
	size_t n;
	int ret = dmab_screen_current_layers(screen, &layers, &n);
	if (ret)
		return ret;
	struct dmab_capture *capture = capture_new(screen->width, screen->height, n);
	if (!capture) {
		free(layers);
		return -ENOMEM;
	}
	capture->blend = true;
	for (size_t i = 0; i < n && ret == 0; i++) {
		ret = capture_layer(&layers[i], &capture->layers[i]);
		if (ret == 0)
			capture->nlayers++;
	}
	free(layers);
	if (ret) {
		dmab_capture_destroy(capture);
		return ret;
	}
	*out = capture;
	return 0;
}

int dmab_view_capture(struct dmab_view *view, struct dmab_capture **out)
{
	struct dmab_layer layer;
	bool shows = dmab_view_current_layer(view, &layer);
	struct dmab_capture *capture = capture_new(view->width, view->height, shows);
	if (!capture)
		return -ENOMEM;
	if (shows) {
		int ret = capture_layer(&layer, &capture->layers[0]);
		if (ret) {
			free(capture);
			return ret;
		}
		capture->layers[0].user = view->data;
		capture->nlayers = 1;
	}
	*out = capture;
	return 0;
}

int dmab_ofb_capture(struct dmab_ofb *fb, struct dmab_capture **out)
{
	struct dmab_capture *capture = capture_new(fb->width, fb->height, 1);
	if (!capture)
		return -ENOMEM;
	struct dmab_layer layer = {
		.fb = fb,
		.src = { 0, 0, fb->width, fb->height },
		.dst = { 0, 0, fb->width, fb->height },
	};
	int ret = capture_layer(&layer, &capture->layers[0]);
	if (ret) {
		free(capture);
		return ret;
	}
	capture->nlayers = 1;
	*out = capture;
	return 0;
}

void dmab_capture_destroy(struct dmab_capture *capture)
{
	if (!capture)
		return;
	for (size_t i = 0; i < capture->nlayers; i++) {
		if (capture->layers[i].fd >= 0)
			close(capture->layers[i].fd);
		dmab_ofb_unlock(capture->layers[i].held);
	}
	free(capture);
}
