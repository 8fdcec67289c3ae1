// SPDX-License-Identifier: MIT
/*
 * The connection to the compositor, on dmabridged's own event loop: its
 * globals, its socket's events, and losing it. A lost compositor takes
 * every screen of it away (views are hidden and complete on their own
 * clock, like on an unplugged monitor); dmabridged connects again with a
 * growing delay, and the screens come back with it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <wayland-client-protocol.h>
#include <drm_fourcc.h>

#include "common/array.h"
#include "common/log.h"
#include "wayland/ivi-application.h"
#include "wayland/linux-dmabuf-unstable-v1-client-protocol.h"
#include "wayland/presentation-time-client-protocol.h"
#include "wayland/viewporter-client-protocol.h"
#include "wayland/wayland-impl.h"
#include "wayland/xdg-output-unstable-v1-client-protocol.h"
#include "wayland/xdg-shell-client-protocol.h"

#define RETRY_FIRST_MS 250
#define RETRY_MAX_MS 5000

static void conn_destroy(struct wayland_conn *conn);

static uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

static const char *display_name(const struct wayland_backend *wl)
{
	if (wl->config.display[0])
		return wl->config.display;
	const char *env = getenv("WAYLAND_DISPLAY");
	return env && env[0] ? env : "wayland-0";
}

static void retry_in(struct wayland_backend *wl, uint32_t ms)
{
	if (wl->retry_timer)
		wl_event_source_timer_update(wl->retry_timer, (int)ms);
}

/* Gone: the screens go, and the next attempt is scheduled. */
static void conn_lost(struct wayland_conn *conn, const char *why)
{
	struct wayland_backend *wl = conn->wl;
	bool was_ready = conn->ready;
	if (was_ready)
		dmab_log(DMAB_LOG_WARN, "wayland: lost the compositor (%s): its windows are gone; "
			"connecting again", why);
	conn_destroy(conn);
	wl->conn = NULL;
	/* Back soon after a working connection; ever later while it keeps failing. */
	wl->retry_ms = was_ready || !wl->retry_ms ? RETRY_FIRST_MS :
		min_u32(wl->retry_ms * 2, RETRY_MAX_MS);
	retry_in(wl, wl->retry_ms);
}

static const char *display_error(struct wl_display *display)
{
	static char text[160];
	int err = wl_display_get_error(display);
	const struct wl_interface *iface = NULL;
	uint32_t id = 0;
	if (err == EPROTO) {
		uint32_t code = wl_display_get_protocol_error(display, &iface, &id);
		snprintf(text, sizeof(text), "protocol error %u on %s@%u", code,
			iface ? iface->name : "?", id);
		return text;
	}
	snprintf(text, sizeof(text), "%s", err ? dmab_strerror(-err) : "hung up");
	return text;
}

static void handle_reap(void *data)
{
	struct wayland_conn *conn = data;
	conn->reap_idle = NULL;
	if (conn->lost) {
		conn_lost(conn, conn->lost_why ? conn->lost_why : display_error(conn->display));
		return;
	}
	wayland_windows_reap(conn);
	/* A closed window opens again after a while, like a monitor plugged back. */
	retry_in(conn->wl, 1000);
}

void wayland_conn_schedule_reap(struct wayland_conn *conn)
{
	if (!conn->reap_idle)
		conn->reap_idle = wl_event_loop_add_idle(conn->wl->base.output->loop, handle_reap,
			conn);
}

void wayland_conn_flush(struct wayland_conn *conn)
{
	if (conn->lost)
		return;
	if (wl_display_flush(conn->display) >= 0) {
		wl_event_source_fd_update(conn->source, WL_EVENT_READABLE);
		return;
	}
	if (errno == EAGAIN) {
		/* The socket is full: the rest goes once it drains. */
		wl_event_source_fd_update(conn->source, WL_EVENT_READABLE | WL_EVENT_WRITABLE);
		return;
	}
	conn->lost = true;
	wayland_conn_schedule_reap(conn);
}

uint64_t wayland_conn_to_monotonic(const struct wayland_conn *conn, uint64_t ns)
{
	struct timespec clk, mono;
	if (conn->clock == CLOCK_MONOTONIC || clock_gettime(conn->clock, &clk))
		return ns;
	clock_gettime(CLOCK_MONOTONIC, &mono);
	int64_t offset = ((int64_t)mono.tv_sec - clk.tv_sec) * 1000000000 +
		(mono.tv_nsec - clk.tv_nsec);
	return (uint64_t)((int64_t)ns + offset);
}

static int handle_display(int fd, uint32_t mask, void *data)
{
	struct wayland_conn *conn = data;
	struct wl_display *d = conn->display;
	if (conn->lost)
		return 0;
	if (mask & WL_EVENT_READABLE) {
		while (wl_display_prepare_read(d) != 0) {
			if (wl_display_dispatch_pending(d) < 0)
				goto lost;
		}
		if (wl_display_read_events(d) < 0)
			goto lost;
	}
	if (wl_display_dispatch_pending(d) < 0)
		goto lost;
	if (mask & (WL_EVENT_HANGUP | WL_EVENT_ERROR)) {
		conn_lost(conn, "it hung up");
		return 0;
	}
	wayland_conn_flush(conn);
	return 0;
lost:
	conn_lost(conn, display_error(d));
	return 0;
}

/* ---- globals ---- */

static void handle_shm_format(void *data, struct wl_shm *shm, uint32_t format)
{
}

static const struct wl_shm_listener shm_listener = {
	.format = handle_shm_format,
};

static void handle_ping(void *data, struct xdg_wm_base *base, uint32_t serial)
{
	xdg_wm_base_pong(base, serial);
}

static const struct xdg_wm_base_listener wm_base_listener = {
	.ping = handle_ping,
};

static void add_format(struct wayland_conn *conn, uint32_t fourcc, uint64_t modifier)
{
	if (dmab_array_reserve((void **)&conn->formats, &conn->formats_cap, conn->nformats,
			sizeof(*conn->formats)))
		return;
	conn->formats[conn->nformats++] = (struct wayland_format){ fourcc, modifier };
}

static void handle_dmabuf_format(void *data, struct zwp_linux_dmabuf_v1 *dmabuf,
		uint32_t format)
{
	/* Versions 1 and 2: the format, with the buffer's layout implicit. */
	if (zwp_linux_dmabuf_v1_get_version(dmabuf) < 3)
		add_format(data, format, DRM_FORMAT_MOD_INVALID);
}

static void handle_dmabuf_modifier(void *data, struct zwp_linux_dmabuf_v1 *dmabuf,
		uint32_t format, uint32_t hi, uint32_t lo)
{
	add_format(data, format, (uint64_t)hi << 32 | lo);
}

static const struct zwp_linux_dmabuf_v1_listener dmabuf_listener = {
	.format = handle_dmabuf_format,
	.modifier = handle_dmabuf_modifier,
};

static void handle_presentation_clock(void *data, struct wp_presentation *presentation,
		uint32_t clk_id)
{
	struct wayland_conn *conn = data;
	conn->clock = (clockid_t)clk_id;
}

static const struct wp_presentation_listener presentation_listener = {
	.clock_id = handle_presentation_clock,
};

/* ---- outputs, for fullscreen windows on a named one ---- */

static void set_output_name(struct wayland_output *o, const char *name)
{
	snprintf(o->name, sizeof(o->name), "%s", name);
	wayland_windows_output_named(o->conn, o);
}

static void handle_output_geometry(void *data, struct wl_output *output, int32_t x, int32_t y,
		int32_t pw, int32_t ph, int32_t subpixel, const char *make, const char *model,
		int32_t transform)
{
}

static void handle_output_mode(void *data, struct wl_output *output, uint32_t flags,
		int32_t width, int32_t height, int32_t refresh)
{
}

static void handle_output_done(void *data, struct wl_output *output)
{
}

static void handle_output_scale(void *data, struct wl_output *output, int32_t factor)
{
}

static void handle_output_name(void *data, struct wl_output *output, const char *name)
{
	set_output_name(data, name);
}

static void handle_output_description(void *data, struct wl_output *output, const char *desc)
{
}

static const struct wl_output_listener output_listener = {
	.geometry = handle_output_geometry,
	.mode = handle_output_mode,
	.done = handle_output_done,
	.scale = handle_output_scale,
	.name = handle_output_name,
	.description = handle_output_description,
};

static void handle_xdg_output_position(void *data, struct zxdg_output_v1 *o, int32_t x,
		int32_t y)
{
}

static void handle_xdg_output_size(void *data, struct zxdg_output_v1 *o, int32_t w, int32_t h)
{
}

static void handle_xdg_output_done(void *data, struct zxdg_output_v1 *o)
{
}

static void handle_xdg_output_name(void *data, struct zxdg_output_v1 *o, const char *name)
{
	set_output_name(data, name);
}

static void handle_xdg_output_description(void *data, struct zxdg_output_v1 *o,
		const char *desc)
{
}

static const struct zxdg_output_v1_listener xdg_output_listener = {
	.logical_position = handle_xdg_output_position,
	.logical_size = handle_xdg_output_size,
	.done = handle_xdg_output_done,
	.name = handle_xdg_output_name,
	.description = handle_xdg_output_description,
};

static void output_get_xdg(struct wayland_conn *conn, struct wayland_output *o)
{
	/* wl_output before version 4 has no name: xdg-output's, where there is one. */
	if (o->xdg_output || !conn->xdg_output_manager || wl_output_get_version(o->output) >= 4)
		return;
	o->xdg_output = zxdg_output_manager_v1_get_xdg_output(conn->xdg_output_manager,
		o->output);
	zxdg_output_v1_add_listener(o->xdg_output, &xdg_output_listener, o);
}

static void output_add(struct wayland_conn *conn, uint32_t global, uint32_t version)
{
	struct wayland_output *o = calloc(1, sizeof(*o));
	if (!o)
		return;
	o->conn = conn;
	o->global = global;
	o->output = wl_registry_bind(conn->registry, global, &wl_output_interface,
		version < 4 ? version : 4);
	wl_output_add_listener(o->output, &output_listener, o);
	wl_list_insert(conn->outputs.prev, &o->link);
	output_get_xdg(conn, o);
}

static void output_destroy(struct wayland_output *o)
{
	if (o->xdg_output)
		zxdg_output_v1_destroy(o->xdg_output);
	if (wl_output_get_version(o->output) >= 3)
		wl_output_release(o->output);
	else
		wl_output_destroy(o->output);
	wl_list_remove(&o->link);
	free(o);
}

static void handle_global(void *data, struct wl_registry *registry, uint32_t name,
		const char *interface, uint32_t version)
{
	struct wayland_conn *conn = data;
	const struct dmab_wayland_config *config = &conn->wl->config;
	if (!strcmp(interface, wl_compositor_interface.name) && version >= 4) {
		conn->compositor = wl_registry_bind(registry, name, &wl_compositor_interface, 4);
	} else if (!strcmp(interface, wl_subcompositor_interface.name)) {
		conn->subcompositor = wl_registry_bind(registry, name, &wl_subcompositor_interface, 1);
	} else if (!strcmp(interface, wl_shm_interface.name)) {
		conn->shm = wl_registry_bind(registry, name, &wl_shm_interface, 1);
		wl_shm_add_listener(conn->shm, &shm_listener, conn);
	} else if (!strcmp(interface, xdg_wm_base_interface.name)) {
		conn->wm_base = wl_registry_bind(registry, name, &xdg_wm_base_interface,
			min_u32(version, 2));
		xdg_wm_base_add_listener(conn->wm_base, &wm_base_listener, conn);
	} else if (!strcmp(interface, zwp_linux_dmabuf_v1_interface.name) && !config->no_dmabuf) {
		/* Version 3 lists formats with their modifiers. */
		conn->dmabuf = wl_registry_bind(registry, name, &zwp_linux_dmabuf_v1_interface,
			min_u32(version, 3));
		zwp_linux_dmabuf_v1_add_listener(conn->dmabuf, &dmabuf_listener, conn);
	} else if (!strcmp(interface, wp_presentation_interface.name) &&
			!config->no_presentation) {
		conn->presentation = wl_registry_bind(registry, name, &wp_presentation_interface, 1);
		wp_presentation_add_listener(conn->presentation, &presentation_listener, conn);
	} else if (!strcmp(interface, wp_viewporter_interface.name)) {
		conn->viewporter = wl_registry_bind(registry, name, &wp_viewporter_interface, 1);
	} else if (!strcmp(interface, zxdg_output_manager_v1_interface.name) && version >= 2) {
		conn->xdg_output_manager = wl_registry_bind(registry, name,
			&zxdg_output_manager_v1_interface, 2);
		struct wayland_output *o;
		wl_list_for_each(o, &conn->outputs, link)
			output_get_xdg(conn, o);
	} else if (!strcmp(interface, dmab_ivi_application_interface.name)) {
		conn->ivi_application = wl_registry_bind(registry, name,
			&dmab_ivi_application_interface, 1);
	} else if (!strcmp(interface, wl_output_interface.name)) {
		output_add(conn, name, version);
	}
}

static void handle_global_remove(void *data, struct wl_registry *registry, uint32_t name)
{
	struct wayland_conn *conn = data;
	struct wayland_output *o;
	wl_list_for_each(o, &conn->outputs, link) {
		if (o->global == name) {
			output_destroy(o);
			return;
		}
	}
}

static const struct wl_registry_listener registry_listener = {
	.global = handle_global,
	.global_remove = handle_global_remove,
};

/* ---- the connection ---- */

static void conn_destroy(struct wayland_conn *conn)
{
	if (!conn)
		return;
	/* The screens first: their views are hidden, and nothing is committed any more. */
	wayland_window_destroy_all(conn);
	wayland_fb_destroy_all(conn);
	while (!wl_list_empty(&conn->outputs)) {
		struct wayland_output *o = wl_container_of(conn->outputs.next, o, link);
		output_destroy(o);
	}
	if (conn->ivi_application)
		wl_proxy_destroy(conn->ivi_application);
	if (conn->viewporter)
		wp_viewporter_destroy(conn->viewporter);
	if (conn->presentation)
		wp_presentation_destroy(conn->presentation);
	if (conn->dmabuf)
		zwp_linux_dmabuf_v1_destroy(conn->dmabuf);
	if (conn->xdg_output_manager)
		zxdg_output_manager_v1_destroy(conn->xdg_output_manager);
	if (conn->wm_base)
		xdg_wm_base_destroy(conn->wm_base);
	if (conn->shm)
		wl_shm_destroy(conn->shm);
	if (conn->subcompositor)
		wl_subcompositor_destroy(conn->subcompositor);
	if (conn->compositor)
		wl_compositor_destroy(conn->compositor);
	if (conn->registry)
		wl_registry_destroy(conn->registry);
	if (conn->sync)
		wl_callback_destroy(conn->sync);
	if (conn->connect_timer)
		wl_event_source_remove(conn->connect_timer);
	if (conn->reap_idle)
		wl_event_source_remove(conn->reap_idle);
	if (conn->source)
		wl_event_source_remove(conn->source);
	if (conn->display)
		wl_display_disconnect(conn->display);
	free(conn->formats);
	free(conn);
}

static const struct wl_callback_listener sync_listener;

static void sync_start(struct wayland_conn *conn)
{
	conn->sync = wl_display_sync(conn->display);
	wl_callback_add_listener(conn->sync, &sync_listener, conn);
}

/* The globals are known, and what they say at once (formats, clock, output names). */
static void conn_ready(struct wayland_conn *conn)
{
	struct wayland_backend *wl = conn->wl;
	wl_event_source_timer_update(conn->connect_timer, 0);
	if (!conn->compositor || !conn->subcompositor || !conn->shm ||
			(!conn->wm_base && !conn->ivi_application)) {
		if (!wl->said_unreachable)
			dmab_log(DMAB_LOG_ERROR, "wayland: %s lacks what dmabridged needs "
				"(wl_compositor 4, wl_subcompositor, wl_shm, and xdg_wm_base or "
				"ivi_application); trying again", display_name(wl));
		wl->said_unreachable = true;
		conn->lost = true;
		conn->lost_why = "it lacks what dmabridged needs";
		wayland_conn_schedule_reap(conn);
		return;
	}
	conn->ready = true;
	wl->said_unreachable = false;
	wl->retry_ms = 0;
	dmab_log(DMAB_LOG_INFO, "wayland: connected to %s: linux-dmabuf %s, %s, %s%s",
		display_name(wl), conn->dmabuf ? "yes" : "no (every buffer through wl_shm)",
		conn->presentation ? "wp_presentation" : "frame callbacks",
		conn->viewporter ? "wp_viewporter" : "no wp_viewporter",
		conn->ivi_application ? ", ivi_application" : "");
	wayland_windows_open(conn);
}

static void handle_sync_done(void *data, struct wl_callback *cb, uint32_t serial)
{
	struct wayland_conn *conn = data;
	wl_callback_destroy(cb);
	conn->sync = NULL;
	if (++conn->syncs < 2)
		sync_start(conn);
	else
		conn_ready(conn);
}

static const struct wl_callback_listener sync_listener = {
	.done = handle_sync_done,
};

#define CONNECT_TIMEOUT_MS 5000

/* A compositor that accepted the connection but never answers is no compositor. */
static int handle_connect_timeout(void *data)
{
	struct wayland_conn *conn = data;
	if (!conn->ready) {
		dmab_log(DMAB_LOG_WARN, "wayland: %s does not answer", display_name(conn->wl));
		conn->lost = true;
		conn->lost_why = "it does not answer";
		wayland_conn_schedule_reap(conn);
	}
	return 0;
}

/*
 * The compositor's socket, connected without waiting: a compositor that
 * does not accept (stopped, its backlog full) is no compositor yet, and
 * never holds dmabridged's loop. INT32_MAX: a socket libwayland is handed
 * by $WAYLAND_SOCKET.
 */
static int connect_socket(const struct wayland_backend *wl)
{
	const char *name = display_name(wl);
	if (!wl->config.display[0] && getenv("WAYLAND_SOCKET"))
		return INT32_MAX;
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	const char *runtime = getenv("XDG_RUNTIME_DIR");
	int n;
	if (name[0] == '/')
		n = snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", name);
	else if (runtime)
		n = snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/%s", runtime, name);
	else
		return -ENOENT;
	if (n < 0 || (size_t)n >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int err = errno == EINPROGRESS ? -EAGAIN : -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* Connect; the globals come on the loop, and the windows open once they are known. */
static int conn_create(struct wayland_backend *wl, struct wayland_conn **out)
{
	struct wayland_conn *conn = calloc(1, sizeof(*conn));
	if (!conn)
		return -ENOMEM;
	conn->wl = wl;
	conn->clock = CLOCK_MONOTONIC;
	wl_list_init(&conn->outputs);
	wl_list_init(&conn->windows);
	wl_list_init(&conn->fbs);
	int ret = -ENOMEM;
	ret = connect_socket(wl);
	if (ret < 0)
		goto err;
	/* Takes the socket, and closes it on failure. */
	errno = 0;
	conn->display = ret == INT32_MAX ? wl_display_connect(NULL) : wl_display_connect_to_fd(ret);
	if (!conn->display) {
		ret = errno ? -errno : -ECONNREFUSED;
		goto err;
	}
	ret = -ENOMEM;
	conn->registry = wl_display_get_registry(conn->display);
	wl_registry_add_listener(conn->registry, &registry_listener, conn);
	sync_start(conn);
	struct wl_event_loop *loop = wl->base.output->loop;
	conn->source = wl_event_loop_add_fd(loop, wl_display_get_fd(conn->display),
		WL_EVENT_READABLE, handle_display, conn);
	conn->connect_timer = wl_event_loop_add_timer(loop, handle_connect_timeout, conn);
	if (!conn->source || !conn->connect_timer)
		goto err;
	wl_event_source_timer_update(conn->connect_timer, CONNECT_TIMEOUT_MS);
	*out = conn;
	return 0;
err:
	conn_destroy(conn);
	return ret;
}

static void try_connect(struct wayland_backend *wl)
{
	struct wayland_conn *conn;
	int ret = conn_create(wl, &conn);
	if (ret) {
		if (!wl->said_unreachable)
			dmab_log_errno(DMAB_LOG_WARN, ret, "wayland: no compositor at %s yet; "
				"trying again", display_name(wl));
		wl->said_unreachable = true;
		wl->retry_ms = wl->retry_ms ? min_u32(wl->retry_ms * 2, RETRY_MAX_MS) :
			RETRY_FIRST_MS;
		retry_in(wl, wl->retry_ms);
		return;
	}
	wl->conn = conn;
	wayland_conn_flush(conn);
}

static int handle_retry(void *data)
{
	struct wayland_backend *wl = data;
	if (!wl->conn) {
		try_connect(wl);
	} else if (wl->conn->ready) {
		wayland_windows_open(wl->conn);
		wayland_conn_flush(wl->conn);
	}
	return 0;
}

static int backend_start(struct dmab_backend *backend)
{
	struct wayland_backend *wl = wl_container_of(backend, wl, base);
	wl->retry_timer = wl_event_loop_add_timer(backend->output->loop, handle_retry, wl);
	if (!wl->retry_timer)
		return -ENOMEM;
	/* No compositor yet is no error: its screens come when it does. */
	try_connect(wl);
	return 0;
}

static void backend_destroy(struct dmab_backend *backend)
{
	struct wayland_backend *wl = wl_container_of(backend, wl, base);
	conn_destroy(wl->conn);
	wl->conn = NULL;
	if (wl->retry_timer)
		wl_event_source_remove(wl->retry_timer);
	dmab_backend_finish(backend);
	free(wl);
}

static int backend_import(struct dmab_backend *backend, struct dmab_obuf *buf)
{
	struct wayland_backend *wl = wl_container_of(backend, wl, base);
	/* Whether the compositor takes it is known at its first commit. */
	return wl->conn && wl->conn->dmabuf ? 0 : -EOPNOTSUPP;
}

static const struct dmab_backend_impl backend_impl = {
	.type = "wayland",
	.start = backend_start,
	.destroy = backend_destroy,
	.import = backend_import,
};

struct dmab_backend *dmab_wayland_create(const struct dmab_wayland_config *config)
{
	struct wayland_backend *wl = calloc(1, sizeof(*wl));
	if (!wl)
		return NULL;
	dmab_backend_init(&wl->base, &backend_impl, "wayland");
	if (!wl->base.name) {
		free(wl);
		return NULL;
	}
	wl->config = *config;
	return &wl->base;
}
