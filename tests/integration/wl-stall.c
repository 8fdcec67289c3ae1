// SPDX-License-Identifier: MIT
/*
 * A compositor that takes everything and answers nothing: it offers what
 * dmabridged's Wayland output needs (wl_compositor, wl_subcompositor,
 * wl_shm, xdg_wm_base, wp_presentation, wp_viewporter and, with
 * --dmabuf, zwp_linux_dmabuf_v1 taking any buffer, or with
 * --dmabuf-refuse, refusing every one), configures windows,
 * and then never sends a frame callback, a presentation feedback or a
 * wl_buffer.release. SIGUSR1 closes every window (xdg_toplevel.close).
 *
 *   wl-stall SOCKET-NAME [--dmabuf|--dmabuf-refuse]   (the socket in $XDG_RUNTIME_DIR)
 *
 * Requests are taken by one generic dispatcher: objects are made as the
 * protocol's descriptions say, descriptors passed are closed, destructors
 * destroy.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <drm_fourcc.h>
#include <wayland-server-core.h>
#include <wayland-server-protocol.h>

#include "wayland/linux-dmabuf-unstable-v1-server-protocol.h"
#include "wayland/presentation-time-server-protocol.h"
#include "wayland/viewporter-server-protocol.h"
#include "wayland/xdg-shell-server-protocol.h"

struct window {
	struct wl_list link;
	struct wl_resource *surface, *xdg_surface, *toplevel;
	bool configured;
};

static struct wl_list windows;
static struct wl_display *display;
static unsigned long commits, buffers, refused;
static bool refuse;

static struct window *window_of_surface(struct wl_resource *surface)
{
	struct window *w;
	wl_list_for_each(w, &windows, link) {
		if (w->surface == surface)
			return w;
	}
	return NULL;
}

static void handle_xdg_surface_gone(struct wl_resource *resource)
{
	struct window *w;
	wl_list_for_each(w, &windows, link) {
		if (w->xdg_surface == resource) {
			wl_list_remove(&w->link);
			free(w);
			return;
		}
	}
}

static void handle_toplevel_gone(struct wl_resource *resource)
{
	struct window *w;
	wl_list_for_each(w, &windows, link) {
		if (w->toplevel == resource)
			w->toplevel = NULL;
	}
}

static void handle_surface_gone(struct wl_resource *resource)
{
	struct window *w;
	wl_list_for_each(w, &windows, link) {
		if (w->surface == resource)
			w->surface = NULL;
	}
}

static int dispatch(const void *impl, void *target, uint32_t opcode,
		const struct wl_message *msg, union wl_argument *args);

static struct wl_resource *make(struct wl_client *client, const struct wl_interface *iface,
		uint32_t version, uint32_t id)
{
	struct wl_resource *r = wl_resource_create(client, iface, (int)version, id);
	if (!r) {
		wl_client_post_no_memory(client);
		return NULL;
	}
	wl_resource_destroy_func_t gone = NULL;
	if (iface == &xdg_surface_interface)
		gone = handle_xdg_surface_gone;
	else if (iface == &xdg_toplevel_interface)
		gone = handle_toplevel_gone;
	else if (iface == &wl_surface_interface)
		gone = handle_surface_gone;
	wl_resource_set_dispatcher(r, dispatch, NULL, NULL, gone);
	return r;
}

static int dispatch(const void *impl, void *target, uint32_t opcode,
		const struct wl_message *msg, union wl_argument *args)
{
	struct wl_resource *res = target;
	struct wl_client *client = wl_resource_get_client(res);
	const char *cls = wl_resource_get_class(res);
	uint32_t version = (uint32_t)wl_resource_get_version(res);
	struct wl_resource *made[4] = { NULL };
	int nmade = 0;
	int i = 0;
	for (const char *c = msg->signature; *c; c++) {
		if ((*c >= '0' && *c <= '9') || *c == '?')
			continue;
		if (*c == 'n' && msg->types[i]) {
			struct wl_resource *r = make(client, msg->types[i], version, args[i].n);
			if (!r)
				return 0;
			if (nmade < 4)
				made[nmade++] = r;
		} else if (*c == 'h') {
			close(args[i].h);
		}
		i++;
	}
	if (!strcmp(cls, "xdg_wm_base") && !strcmp(msg->name, "get_xdg_surface")) {
		struct window *w = calloc(1, sizeof(*w));
		if (w) {
			w->xdg_surface = made[0];
			w->surface = args[1].o ? (struct wl_resource *)args[1].o : NULL;
			wl_list_insert(&windows, &w->link);
		}
	} else if (!strcmp(cls, "xdg_surface") && !strcmp(msg->name, "get_toplevel")) {
		struct window *w;
		wl_list_for_each(w, &windows, link) {
			if (w->xdg_surface == res)
				w->toplevel = made[0];
		}
	} else if (!strcmp(cls, "wl_surface") && !strcmp(msg->name, "commit")) {
		commits++;
		struct window *w = window_of_surface(res);
		if (w && !w->configured && w->toplevel) {
			struct wl_array states;
			wl_array_init(&states);
			wl_resource_post_event(w->toplevel, XDG_TOPLEVEL_CONFIGURE, 0, 0, &states);
			wl_resource_post_event(w->xdg_surface, XDG_SURFACE_CONFIGURE,
				wl_display_next_serial(display));
			wl_array_release(&states);
			w->configured = true;
		}
	} else if (!strcmp(cls, "zwp_linux_buffer_params_v1") && !strcmp(msg->name, "create")) {
		/* Any buffer is taken (dmabridged shows it directly and locks it), or none. */
		struct wl_resource *b = refuse ? NULL : make(client, &wl_buffer_interface, 1, 0);
		if (b) {
			buffers++;
			wl_resource_post_event(res, ZWP_LINUX_BUFFER_PARAMS_V1_CREATED, b);
		} else if (refuse) {
			refused++;
			wl_resource_post_event(res, ZWP_LINUX_BUFFER_PARAMS_V1_FAILED);
		}
	}
	if (!strcmp(msg->name, "destroy") || !strcmp(msg->name, "release"))
		wl_resource_destroy(res);
	return 0;
}

static void bind(struct wl_client *client, void *data, uint32_t version, uint32_t id)
{
	const struct wl_interface *iface = data;
	struct wl_resource *r = make(client, iface, version, id);
	if (!r)
		return;
	if (iface == &wl_shm_interface) {
		wl_resource_post_event(r, WL_SHM_FORMAT, WL_SHM_FORMAT_ARGB8888);
		wl_resource_post_event(r, WL_SHM_FORMAT, WL_SHM_FORMAT_XRGB8888);
	} else if (iface == &wp_presentation_interface) {
		wl_resource_post_event(r, WP_PRESENTATION_CLOCK_ID, (uint32_t)CLOCK_MONOTONIC);
	} else if (iface == &zwp_linux_dmabuf_v1_interface) {
		uint64_t mod = DRM_FORMAT_MOD_INVALID;
		wl_resource_post_event(r, ZWP_LINUX_DMABUF_V1_FORMAT, DRM_FORMAT_XRGB8888);
		wl_resource_post_event(r, ZWP_LINUX_DMABUF_V1_MODIFIER, DRM_FORMAT_XRGB8888,
			(uint32_t)(mod >> 32), (uint32_t)mod);
	}
}

static int handle_close(int sig, void *data)
{
	struct window *w;
	unsigned int n = 0;
	wl_list_for_each(w, &windows, link) {
		if (w->toplevel) {
			wl_resource_post_event(w->toplevel, XDG_TOPLEVEL_CLOSE);
			n++;
		}
	}
	fprintf(stderr, "wl-stall: closed %u window(s)\n", n);
	return 0;
}

static int handle_term(int sig, void *data)
{
	wl_display_terminate(display);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: wl-stall SOCKET-NAME [--dmabuf|--dmabuf-refuse]\n");
		return 2;
	}
	refuse = argc > 2 && !strcmp(argv[2], "--dmabuf-refuse");
	bool dmabuf = refuse || (argc > 2 && !strcmp(argv[2], "--dmabuf"));
	wl_list_init(&windows);
	display = wl_display_create();
	if (!display || wl_display_add_socket(display, argv[1])) {
		fprintf(stderr, "wl-stall: cannot listen on %s\n", argv[1]);
		return 1;
	}
	wl_global_create(display, &wl_compositor_interface, 4, (void *)&wl_compositor_interface,
		bind);
	wl_global_create(display, &wl_subcompositor_interface, 1,
		(void *)&wl_subcompositor_interface, bind);
	wl_global_create(display, &wl_shm_interface, 1, (void *)&wl_shm_interface, bind);
	wl_global_create(display, &xdg_wm_base_interface, 2, (void *)&xdg_wm_base_interface, bind);
	wl_global_create(display, &wp_presentation_interface, 1,
		(void *)&wp_presentation_interface, bind);
	wl_global_create(display, &wp_viewporter_interface, 1, (void *)&wp_viewporter_interface,
		bind);
	if (dmabuf)
		wl_global_create(display, &zwp_linux_dmabuf_v1_interface, 3,
			(void *)&zwp_linux_dmabuf_v1_interface, bind);
	struct wl_event_loop *loop = wl_display_get_event_loop(display);
	wl_event_loop_add_signal(loop, SIGUSR1, handle_close, NULL);
	wl_event_loop_add_signal(loop, SIGTERM, handle_term, NULL);
	wl_event_loop_add_signal(loop, SIGINT, handle_term, NULL);
	fprintf(stderr, "wl-stall: listening on %s%s\n", argv[1], dmabuf ? ", linux-dmabuf" : "");
	wl_display_run(display);
	fprintf(stderr, "wl-stall: %lu commits, %lu dma-buf buffers taken (none released), "
		"%lu refused\n", commits, buffers, refused);
	wl_display_destroy_clients(display);
	wl_display_destroy(display);
	struct window *w, *tmp;
	wl_list_for_each_safe(w, tmp, &windows, link)
		free(w);
	return 0;
}
