// SPDX-License-Identifier: MIT
#include <errno.h>
#include <inttypes.h>
#include <json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/paths.h"
#include "server/control.h"
#include "server/control-request.h"
#include "server/control-shot.h"
#include "server/frontend.h"
#include "server/layout.h"
#include "output/capture.h"
#include "server/server.h"

/*
 * Bounds on what one client can make the server hold or do. Each client
 * gets one request per loop iteration (a turn, as guests get), and none
 * while an answer of its is outstanding or its queue of answers is above
 * OUT_PAUSE: then nothing more is read from it until it reads.
 */
#define MAX_CLIENTS 16
#define MAX_LINE (64 * 1024)
#define MAX_CLIENT_FDS 4
#define OUT_PAUSE (64 * 1024)
/* A client whose answers would pile up beyond this is dropped. */
#define OUT_MAX (64u << 20)
/* A client with nothing outstanding, or not reading its answers, for this long is closed. */
#define IDLE_TIMEOUT_MS 10000
#define IDLE_CHECK_MS 1000
/* "domid/devid/index" */
#define CONNECTOR_ID_LEN 32

struct client {
	struct wl_list link;            /* dmab_control.clients */
	struct dmab_control *control;
	int fd;
	struct wl_event_source *source;
	uint32_t mask;                  /* what source waits for */
	char in[MAX_LINE];
	size_t in_len;
	size_t scanned;                 /* in[0, scanned) holds no newline */
	bool eof;                       /* it will send no more */
	int fds[MAX_CLIENT_FDS];        /* descriptors received, for screenshots, oldest first */
	unsigned int nfds;
	char *out;                      /* answers not sent yet: out[out_off, out_len) */
	size_t out_off, out_len, out_cap;
	struct wl_list turn_link;       /* dmab_control.turns, while waiting for a turn */
	bool waiting_turn;
	uint64_t active_ms;             /* it was last served, or read from us */
	/* A screenshot of its being made, and what its answer needs to say. */
	struct dmab_shot *shot;
	/* A screen's display is capturing itself for it: the file waits here. */
	struct dmab_screen *display_screen;
	int display_fd;
	const char *shot_source;        /* "display" or "layers" */
	char shot_connector[DMAB_CTL_NAME_MAX + 1];     /* "" for a screen */
	char (*shot_layers)[CONNECTOR_ID_LEN];          /* each layer's connector */
	/*
	 * The screenshot's frames that only dmabridged writes (copy-path
	 * shadows, compositions), locked so that none is reused under the
	 * worker's eyes. Guests write their own buffers whatever we lock.
	 */
	struct dmab_ofb **shot_locks;
	size_t nshot_locks;
};

static void shot_unlock(struct client *c)
{
	for (size_t i = 0; i < c->nshot_locks; i++)
		dmab_ofb_unlock(c->shot_locks[i]);
	free(c->shot_locks);
	c->shot_locks = NULL;
	c->nshot_locks = 0;
}

static void client_destroy(struct client *c)
{
	wl_event_source_remove(c->source);
	close(c->fd);
	for (unsigned int i = 0; i < c->nfds; i++)
		close(c->fds[i]);
	if (c->waiting_turn)
		wl_list_remove(&c->turn_link);
	/* Nobody is left to answer: the thread stops at its next look. */
	if (c->shot)
		dmab_shot_cancel(c->shot);
	shot_unlock(c);
	if (c->display_screen) {
		dmab_screen_capture_cancel(c->display_screen, c);
		close(c->display_fd);
	}
	free(c->shot_layers);
	wl_list_remove(&c->link);
	c->control->nclients--;
	free(c->out);
	free(c);
}

static bool has_line(struct client *c)
{
	if (memchr(c->in + c->scanned, '\n', c->in_len - c->scanned))
		return true;
	c->scanned = c->in_len;
	return false;
}

static size_t out_pending(const struct client *c)
{
	return c->out_len - c->out_off;
}

/* Whether it may have its next request handled: no answer of its is outstanding. */
static bool may_serve(const struct client *c)
{
	return !c->shot && !c->display_screen && out_pending(c) <= OUT_PAUSE;
}

static void schedule_turn(struct client *c)
{
	struct dmab_control *control = c->control;
	if (c->waiting_turn)
		return;
	c->waiting_turn = true;
	bool was_empty = wl_list_empty(&control->turns);
	wl_list_insert(control->turns.prev, &c->turn_link);
	uint64_t one = 1;
	if (was_empty && write(control->turn_fd, &one, sizeof(one)) < 0)
		dmab_log_errno(DMAB_LOG_ERROR, -errno, "control: cannot schedule a turn");
}

/*
 * After anything changed for c: wait for what it may do next, give it a
 * turn if a request of its may be handled, and close it once it is done.
 * false when c was destroyed.
 */
static bool client_update(struct client *c)
{
	bool line = has_line(c);
	if (c->eof && !line && !c->shot && !c->display_screen && out_pending(c) == 0) {
		client_destroy(c);
		return false;
	}
	uint32_t mask = 0;
	if (!c->eof && !line && may_serve(c))
		mask |= WL_EVENT_READABLE;
	if (out_pending(c))
		mask |= WL_EVENT_WRITABLE;
	if (mask != c->mask && wl_event_source_fd_update(c->source, mask) == 0)
		c->mask = mask;
	if (line && may_serve(c))
		schedule_turn(c);
	return true;
}

/* Send what the socket takes now. false when c was destroyed (it is gone). */
static bool client_flush(struct client *c)
{
	while (out_pending(c)) {
		ssize_t n = send(c->fd, c->out + c->out_off, out_pending(c),
			MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			client_destroy(c);
			return false;
		}
		c->out_off += (size_t)n;
		c->active_ms = dmab_now_ms();
	}
	if (out_pending(c) == 0) {
		c->out_off = c->out_len = 0;
		/* A large answer's buffer goes with it. */
		if (c->out_cap > OUT_PAUSE) {
			free(c->out);
			c->out = NULL;
			c->out_cap = 0;
		}
	}
	return true;
}

/* Room for len more octets of answers, within OUT_MAX. */
static bool out_reserve(struct client *c, size_t len)
{
	if (len > OUT_MAX - out_pending(c))
		return false;
	if (c->out_len + len <= c->out_cap)
		return true;
	if (c->out_off) {
		memmove(c->out, c->out + c->out_off, out_pending(c));
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	size_t cap = c->out_cap ? c->out_cap : 4096;
	while (cap < c->out_len + len)
		cap *= 2;
	if (cap == c->out_cap)
		return true;
	char *grown = realloc(c->out, cap);
	if (!grown)
		return false;
	c->out = grown;
	c->out_cap = cap;
	return true;
}

/* Queue an answer (taken) and its newline. false when c was dropped instead. */
static bool client_answer(struct client *c, json_object *r)
{
	if (!json_object_object_get_ex(r, "ok", NULL))
		json_object_object_add(r, "ok", json_object_new_boolean(true));
	size_t len;
	const char *text = json_object_to_json_string_length(r, JSON_C_TO_STRING_PLAIN, &len);
	if (!out_reserve(c, len + 1)) {
		dmab_log_ratelimited(&c->control->rl, DMAB_LOG_WARN, "control: an answer of %zu "
			"octets does not fit a client's queue: closing it", len);
		json_object_put(r);
		client_destroy(c);
		return false;
	}
	memcpy(c->out + c->out_len, text, len);
	c->out[c->out_len + len] = '\n';
	c->out_len += len + 1;
	c->active_ms = dmab_now_ms();
	json_object_put(r);
	return client_flush(c);
}

static int take_fd(struct client *c)
{
	if (c->nfds == 0)
		return -1;
	int fd = c->fds[0];
	memmove(&c->fds[0], &c->fds[1], (c->nfds - 1) * sizeof(int));
	c->nfds--;
	return fd;
}

static const char *state_name(const struct dmab_frontend *fe)
{
	return dmab_xenbus_state_name(fe->be_state);
}

/* "domid/devid/index" or a unique-id. */

static json_object *placement_json(const struct dmab_server *server,
		const struct dmab_view_place *p)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "screen", json_object_new_string(p->screen));
	json_object_object_add(o, "x", json_object_new_int(p->x));
	json_object_object_add(o, "y", json_object_new_int(p->y));
	json_object_object_add(o, "z", json_object_new_int(p->z));
	json_object_object_add(o, "visible", json_object_new_boolean(p->visible));
	if (p->width) {
		/* Scaled: its size on the screen. */
		json_object_object_add(o, "width", json_object_new_int64(p->width));
		json_object_object_add(o, "height", json_object_new_int64(p->height));
	}
	return o;
}

static json_object *cmd_status(struct dmab_server *server)
{
	json_object *r = json_object_new_object();
	json_object_object_add(r, "version", json_object_new_string(DMAB_VERSION));
	json_object_object_add(r, "hypervisor", json_object_new_string(dmab_hv_name(server->hv)));
	json_object_object_add(r, "uptime_s", json_object_new_double(
		(double)(dmab_now_ns() - server->started_ns) / 1e9));

	json_object *out = json_object_new_object();
	json_object *types = json_object_new_array();
	const char *type;
	for (size_t i = 0; (type = dmab_output_backend_type(server->output, i)); i++)
		json_object_array_add(types, json_object_new_string(type));
	json_object_object_add(out, "backends", types);
	json_object *screens = json_object_new_array();
	struct dmab_screen *s;
	wl_list_for_each(s, &server->output->screens, link) {
		json_object *so = json_object_new_object();
		json_object_object_add(so, "name", json_object_new_string(s->name));
		json_object_object_add(so, "backend", json_object_new_string(dmab_screen_type(s)));
		json_object_object_add(so, "width", json_object_new_int64(s->width));
		json_object_object_add(so, "height", json_object_new_int64(s->height));
		json_object_object_add(so, "refresh_mhz", json_object_new_int64(s->refresh_mhz));
		json_object_object_add(so, "frames", json_object_new_int64((int64_t)s->commits));
		json_object_object_add(so, "composed", json_object_new_int64((int64_t)s->composed));
		json_object_object_add(so, "failed", json_object_new_int64((int64_t)s->failed));
		json_object_object_add(so, "discarded", json_object_new_int64((int64_t)s->discarded));
		json_object_object_add(so, "copied_bytes", json_object_new_int64((int64_t)s->copied));
		json_object_array_add(screens, so);
	}
	json_object_object_add(out, "screens", screens);
	json_object_object_add(r, "output", out);

	json_object *guests = json_object_new_array();
	struct dmab_frontend *fe;
	wl_list_for_each(fe, &server->frontends, link) {
		json_object *g = json_object_new_object();
		json_object_object_add(g, "domid", json_object_new_int(fe->domid));
		/* The toolstack's name: what the layout binds to, unlike unique-ids. */
		json_object_object_add(g, "domain", fe->name[0] ?
			json_object_new_string(fe->name) : NULL);
		json_object_object_add(g, "devid", json_object_new_int64(fe->devid));
		json_object_object_add(g, "state", json_object_new_string(state_name(fe)));
		json_object_object_add(g, "connected", json_object_new_boolean(fe->connected));
		json_object_object_add(g, "be_alloc", json_object_new_boolean(fe->config.be_alloc));
		json_object_object_add(g, "protocol", json_object_new_int((int)fe->version));
		json_object *conns = json_object_new_array();
		for (unsigned int i = 0; i < fe->nconns; i++) {
			struct dmab_connector *c = fe->conns[i];
			json_object *co = json_object_new_object();
			char id[48];
			snprintf(id, sizeof(id), "%u/%u/%u", fe->domid, fe->devid, i);
			json_object_object_add(co, "index", json_object_new_int((int)i));
			json_object_object_add(co, "id", json_object_new_string(id));
			json_object_object_add(co, "unique_id", json_object_new_string(c->unique_id));
			json_object_object_add(co, "width", json_object_new_int64(c->width));
			json_object_object_add(co, "height", json_object_new_int64(c->height));
			json_object_object_add(co, "enabled", json_object_new_boolean(c->showing != NULL));
			/* Scanned out as it is, or composed, and why. */
			const char *how = dmab_view_how_shown(c->view);
			json_object_object_add(co, "display", json_object_new_string(
				how ? how : "direct"));
			json_object *place = placement_json(server, &c->place);
			/* Which [connector.LABEL] it holds: who sits where, unambiguously. */
			json_object_object_add(place, "config", c->place_label[0] ?
				json_object_new_string(c->place_label) : NULL);
			json_object_object_add(co, "place", place);
			json_object_array_add(conns, co);
		}
		json_object_object_add(g, "connectors", conns);
		json_object *bufs = json_object_new_array();
		struct dmab_dbuf *d;
		wl_list_for_each(d, &fe->dbufs, link) {
			json_object *bo = json_object_new_object();
			char cookie[24];
			snprintf(cookie, sizeof(cookie), "0x%" PRIx64, d->cookie);
			json_object_object_add(bo, "cookie", json_object_new_string(cookie));
			json_object_object_add(bo, "width", json_object_new_int64(d->geom.width));
			json_object_object_add(bo, "height", json_object_new_int64(d->geom.height));
			json_object_object_add(bo, "bpp", json_object_new_int64(d->geom.bpp));
			json_object_object_add(bo, "size", json_object_new_int64(d->geom.buffer_sz));
			json_object_object_add(bo, "import", json_object_new_string(
				dmab_import_name(d->import)));
			/* What a host buffer is made of. */
			if (d->obuf && d->obuf->allocated && d->obuf->memory)
				json_object_object_add(bo, "memory",
					json_object_new_string(d->obuf->memory));
			json_object_object_add(bo, "framebuffers", json_object_new_int64(d->nfbs));
			json_object_array_add(bufs, bo);
		}
		json_object_object_add(g, "buffers", bufs);
		json_object_object_add(g, "bytes", json_object_new_int64((int64_t)fe->bytes));
		json_object_array_add(guests, g);
	}
	json_object_object_add(r, "guests", guests);
	return r;
}

static json_object *cmd_stats(struct dmab_server *server)
{
	uint64_t now = dmab_now_ns();
	json_object *r = json_object_new_object();
	json_object *conns = json_object_new_array();
	struct dmab_frontend *fe;
	wl_list_for_each(fe, &server->frontends, link) {
		for (unsigned int i = 0; i < fe->nconns; i++) {
			struct dmab_connector *c = fe->conns[i];
			const struct dmab_stats *s = &c->stats;
			json_object *co = json_object_new_object();
			char id[48];
			snprintf(id, sizeof(id), "%u/%u/%u", fe->domid, fe->devid, i);
			json_object_object_add(co, "connector", json_object_new_string(id));
			json_object_object_add(co, "unique_id", json_object_new_string(c->unique_id));
			json_object_object_add(co, "frames", json_object_new_int64((int64_t)s->frames));
			json_object_object_add(co, "flips", json_object_new_int64((int64_t)s->flips));
			json_object_object_add(co, "fps", json_object_new_double(dmab_stats_fps(s, now)));
			json_object_object_add(co, "latency_p50_us",
				json_object_new_int64(dmab_stats_latency_us(s, 50)));
			json_object_object_add(co, "latency_p99_us",
				json_object_new_int64(dmab_stats_latency_us(s, 99)));
			/* What the server adds: to the output, and to the commit. */
			json_object_object_add(co, "handoff_p50_us",
				json_object_new_int64(dmab_stats_handoff_us(s, 50)));
			json_object_object_add(co, "handoff_p99_us",
				json_object_new_int64(dmab_stats_handoff_us(s, 99)));
			json_object_object_add(co, "handoff_max_us",
				json_object_new_int64(dmab_stats_handoff_us(s, 100)));
			json_object_object_add(co, "commit_p50_us",
				json_object_new_int64(dmab_stats_commit_us(s, 50)));
			json_object_object_add(co, "commit_p99_us",
				json_object_new_int64(dmab_stats_commit_us(s, 99)));
			json_object_object_add(co, "bytes_copied",
				json_object_new_int64((int64_t)s->bytes_copied));
			json_object_object_add(co, "events_dropped",
				json_object_new_int64((int64_t)s->events_dropped));
			json_object_object_add(co, "requests", json_object_new_int64((int64_t)s->requests));
			json_object_object_add(co, "errors", json_object_new_int64((int64_t)s->errors));
			uint64_t imports[3] = { 0 };
			struct dmab_dbuf *d;
			wl_list_for_each(d, &fe->dbufs, link)
				imports[d->import]++;
			json_object *im = json_object_new_object();
			for (int k = 0; k < 3; k++)
				json_object_object_add(im, dmab_import_name((enum dmab_import)k),
					json_object_new_int64((int64_t)imports[k]));
			json_object_object_add(co, "buffers", im);
			json_object_array_add(conns, co);
		}
	}
	json_object_object_add(r, "connectors", conns);
	return r;
}

static json_object *error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static json_object *error(const char *fmt, ...)
{
	char msg[256];
	va_list args;
	va_start(args, fmt);
	vsnprintf(msg, sizeof(msg), fmt, args);
	va_end(args);
	json_object *r = json_object_new_object();
	json_object_object_add(r, "ok", json_object_new_boolean(false));
	json_object_object_add(r, "error", json_object_new_string(msg));
	return r;
}

static void handle_shot_done(void *data, const struct dmab_shot_result *result)
{
	struct client *c = data;
	c->shot = NULL;
	shot_unlock(c);
	json_object *r;
	if (result->status == -ENODEV && c->shot_connector[0]) {
		r = error("connector %s %s", c->shot_connector, result->error);
	} else if (result->status) {
		r = error("%s", result->error);
	} else {
		r = json_object_new_object();
		json_object_object_add(r, "width", json_object_new_int64(result->width));
		json_object_object_add(r, "height", json_object_new_int64(result->height));
		/* The display's own picture (writeback), or the views' frames composed here. */
		json_object_object_add(r, "source", json_object_new_string(c->shot_source));
		if (!c->shot_connector[0]) {
			/* Views whose buffers cannot be read are left out, and named. */
			json_object *skipped = json_object_new_array();
			for (size_t i = 0; i < result->nskipped; i++)
				json_object_array_add(skipped, json_object_new_string(
					c->shot_layers[result->skipped[i]]));
			json_object_object_add(r, "skipped", skipped);
		}
	}
	free(c->shot_layers);
	c->shot_layers = NULL;
	c->active_ms = dmab_now_ms();
	if (client_answer(c, r))
		client_update(c);
}

static int shot_start(struct client *client, struct dmab_capture *capture, int fd,
		const char *connector)
{
	client->shot_layers = calloc(capture->nlayers + 1, sizeof(*client->shot_layers));
	if (!client->shot_layers) {
		dmab_capture_destroy(capture);
		close(fd);
		return -ENOMEM;
	}
	for (size_t i = 0; i < capture->nlayers; i++) {
		const struct dmab_connector *c = capture->layers[i].user;
		if (c)
			snprintf(client->shot_layers[i], sizeof(client->shot_layers[i]), "%u/%u/%u",
				c->fe->domid, c->fe->devid, c->index);
	}
	snprintf(client->shot_connector, sizeof(client->shot_connector), "%s",
		connector ? connector : "");
	client->shot_locks = calloc(capture->nlayers + 1, sizeof(*client->shot_locks));
	for (size_t i = 0; client->shot_locks && i < capture->nlayers; i++) {
		struct dmab_ofb *fb = capture->layers[i].fb;
		if (fb && fb->buffer->allocated && !fb->buffer->exported)
			client->shot_locks[client->nshot_locks++] = dmab_ofb_lock(fb);
	}
	int ret = dmab_shot_start(client->control->shots, capture, fd, connector != NULL,
		handle_shot_done, client, &client->shot);
	if (ret) {
		free(client->shot_layers);
		client->shot_layers = NULL;
		shot_unlock(client);
	}
	return ret;
}

static json_object *shot_error(int ret)
{
	if (ret == -EBUSY)
		return error("busy: %d screenshots are being made; try again", DMAB_SHOTS_MAX);
	return error("cannot start the screenshot: %s", dmab_strerror(ret));
}

/* The display wrote what it shows: encode that. */
static void handle_display_captured(void *data, struct dmab_ofb *fb, int status)
{
	struct client *c = data;
	int fd = c->display_fd;
	struct dmab_screen *screen = c->display_screen;
	c->display_screen = NULL;
	c->display_fd = -1;
	struct dmab_capture *capture;
	int ret;
	if (status == -ENOTSUP) {
		/* The display found it cannot capture itself after all: the views' frames. */
		c->shot_source = "layers";
		status = 0;
		ret = dmab_screen_capture(screen, &capture);
	} else {
		ret = status ? status : dmab_ofb_capture(fb, &capture);
	}
	if (ret == 0)
		ret = shot_start(c, capture, fd, NULL);
	else
		close(fd);
	if (ret == 0)
		return;
	json_object *r = status ? error("the display could not capture itself: %s",
		dmab_strerror(status)) : shot_error(ret);
	c->active_ms = dmab_now_ms();
	if (client_answer(c, r))
		client_update(c);
}

/*
 * Capture what to draw (cheap: sizes and dup'd fds) and leave the drawing,
 * encoding and writing to a thread: nothing a client sends may hold the
 * loop. NULL when the answer comes later, from handle_shot_done().
 */
static json_object *cmd_screenshot(struct client *client, const struct dmab_ctl_screenshot *req)
{
	struct dmab_control *control = client->control;
	struct dmab_server *server = control->server;
	int fd = take_fd(client);
	if (fd < 0)
		return error("screenshot needs the file to write as a descriptor");

	const char *screen_name = NULL, *connector = NULL;
	switch (req->target) {
	case DMAB_CTL_TARGET_FIRST_SCREEN:
		if (!dmab_output_first_screen(server->output)) {
			close(fd);
			return error("no screen");
		}
		screen_name = dmab_output_first_screen(server->output)->name;
		break;
	case DMAB_CTL_TARGET_SCREEN:
		screen_name = req->name;
		break;
	case DMAB_CTL_TARGET_CONNECTOR:
		connector = req->name;
		break;
	case DMAB_CTL_TARGET_ANY:
		if (dmab_output_find_screen(server->output, req->name))
			screen_name = req->name;
		else
			connector = req->name;
		break;
	}

	struct dmab_capture *capture;
	int ret;
	if (connector) {
		char why[256];
		struct dmab_connector *c = dmab_layout_find_connector(server, connector, why,
			sizeof(why));
		if (!c) {
			close(fd);
			return error("%s%s", why, req->target == DMAB_CTL_TARGET_ANY ?
				", and no screen of that name" : "");
		}
		ret = dmab_view_capture(c->view, &capture);
	} else {
		struct dmab_screen *screen = dmab_output_find_screen(server->output, screen_name);
		if (!screen) {
			close(fd);
			return error("no screen %s", screen_name);
		}
		/* What the display made itself, where it can say (KMS writeback). */
		client->shot_source = "display";
		if (dmab_screen_capture_display(screen, handle_display_captured, client) == 0) {
			client->display_screen = screen;
			client->display_fd = fd;
			return NULL;
		}
		ret = dmab_screen_capture(screen, &capture);
	}
	client->shot_source = "layers";
	if (ret) {
		close(fd);
		return error("cannot capture %s: %s", connector ? connector : screen_name,
			dmab_strerror(ret));
	}

	ret = shot_start(client, capture, fd, connector);
	return ret ? shot_error(ret) : NULL;
}

static json_object *cmd_layout(struct dmab_server *server, const struct dmab_ctl_layout *req)
{
	char why[256];
	struct dmab_connector *c = dmab_layout_find_connector(server, req->connector, why,
		sizeof(why));
	if (!c)
		return error("%s", why);
	struct dmab_view_place p = c->place;
	if (req->has_screen) {
		if (!dmab_output_find_screen(server->output, req->screen))
			return error("no screen %s", req->screen);
		/* It names a screen: it fits. */
		snprintf(p.screen, sizeof(p.screen), "%.*s", (int)sizeof(p.screen) - 1, req->screen);
	}
	if (req->has_x)
		p.x = req->x;
	if (req->has_y)
		p.y = req->y;
	if (req->has_z)
		p.z = req->z;
	if (req->has_visible)
		p.visible = req->visible;
	if (req->has_width || req->has_height) {
		/* As in the configuration: the side not given follows the connector's aspect. */
		uint32_t w, h;
		dmab_layout_scaled_size(c, req->has_width ? req->width : 0,
			req->has_height ? req->height : 0, &w, &h);
		if (w > DMAB_CTL_PLACE_MAX || h > DMAB_CTL_PLACE_MAX)
			return error("%s would be %" PRIu32 "x%" PRIu32 " on its screen: more than %d",
				req->connector, w, h, DMAB_CTL_PLACE_MAX);
		p.width = w;
		p.height = h;
	}
	c->place = p;
	dmab_view_set_place(c->view, &p);
	json_object *r = json_object_new_object();
	json_object_object_add(r, "place", placement_json(server, &p));
	return r;
}

/* The configuration is read again by whoever listens: the server. */
static json_object *cmd_reload(struct dmab_control *control)
{
	struct dmab_control_reload_event event = { .status = -ENOSYS };
	wl_signal_emit(&control->events.reload, &event);
	return event.status ? error("reload failed: see the log") : json_object_new_object();
}

/* Handle the first request line of client: one turn. false when client is gone. */
static bool serve_one(struct client *client)
{
	struct dmab_control *control = client->control;
	struct dmab_server *server = control->server;
	char *nl = memchr(client->in, '\n', client->in_len);
	size_t len = (size_t)(nl - client->in);
	struct dmab_ctl_request req;
	char why[DMAB_CTL_ERROR_MAX];
	int ret = dmab_ctl_request_parse(client->in, len, &req, why);
	memmove(client->in, nl + 1, client->in_len - len - 1);
	client->in_len -= len + 1;
	client->scanned = 0;

	json_object *r;
	if (ret) {
		dmab_log_ratelimited(&control->rl, DMAB_LOG_WARN, "control: bad request: %s", why);
		r = error("%s", why);
	} else {
		switch (req.cmd) {
		case DMAB_CTL_STATUS:
			r = cmd_status(server);
			break;
		case DMAB_CTL_STATS:
			r = cmd_stats(server);
			break;
		case DMAB_CTL_SCREENSHOT:
			r = cmd_screenshot(client, &req.screenshot);
			if (!r)
				return true;    /* answered when it is written */
			break;
		case DMAB_CTL_LAYOUT:
			r = cmd_layout(server, &req.layout);
			break;
		case DMAB_CTL_RELOAD:
		default:
			r = cmd_reload(control);
			break;
		}
	}
	return client_answer(client, r);
}

static int handle_turns(int fd, uint32_t mask, void *data)
{
	struct dmab_control *control = data;
	uint64_t count;
	if (read(fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		return 0;
	/* This round's clients; a request that comes meanwhile waits for the next. */
	struct wl_list round;
	wl_list_init(&round);
	wl_list_insert_list(&round, &control->turns);
	wl_list_init(&control->turns);
	while (!wl_list_empty(&round)) {
		struct client *c = wl_container_of(round.next, c, turn_link);
		wl_list_remove(&c->turn_link);
		c->waiting_turn = false;
		if (!has_line(c) || !may_serve(c))
			continue;
		if (serve_one(c))
			client_update(c);
	}
	return 0;
}

/* One read of what the client sent. false when it was destroyed. */
static bool client_read(struct client *c)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * MAX_CLIENT_FDS)];
		struct cmsghdr align;
	} ctrl;
	struct iovec iov = { c->in + c->in_len, sizeof(c->in) - c->in_len };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctrl.buf, .msg_controllen = sizeof(ctrl.buf),
	};
	ssize_t n = recvmsg(c->fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return true;
	if (n < 0) {
		client_destroy(c);
		return false;
	}
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		size_t count = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		const int *in = (const int *)(void *)CMSG_DATA(cm);
		for (size_t i = 0; i < count; i++) {
			if (c->nfds < MAX_CLIENT_FDS)
				c->fds[c->nfds++] = in[i];
			else
				close(in[i]);
		}
	}
	if (n == 0) {
		/* Shut for writing: what it asked for is still answered. */
		c->eof = true;
		return true;
	}
	c->in_len += (size_t)n;
	if (!has_line(c) && c->in_len == sizeof(c->in)) {
		dmab_log_ratelimited(&c->control->rl, DMAB_LOG_WARN, "control: a request longer "
			"than %d octets: closing the connection", MAX_LINE);
		client_destroy(c);
		return false;
	}
	return true;
}

static int handle_client(int fd, uint32_t mask, void *data)
{
	struct client *c = data;
	if (mask & (WL_EVENT_HANGUP | WL_EVENT_ERROR)) {
		/* Gone: nobody reads what it asked for. */
		client_destroy(c);
		return 0;
	}
	if ((mask & WL_EVENT_WRITABLE) && !client_flush(c))
		return 0;
	if ((mask & WL_EVENT_READABLE) && !client_read(c))
		return 0;
	client_update(c);
	return 0;
}

/*
 * Close clients that had nothing outstanding, or did not read their
 * answers, for IDLE_TIMEOUT_MS.
 */
static int handle_idle_timer(void *data)
{
	struct dmab_control *control = data;
	uint64_t now = dmab_now_ms();
	struct client *c, *tmp;
	wl_list_for_each_safe(c, tmp, &control->clients, link) {
		if (!c->shot && !c->display_screen && now - c->active_ms >= IDLE_TIMEOUT_MS) {
			dmab_log(DMAB_LOG_DEBUG, "control: closing a connection idle for %" PRIu64 " ms",
				now - c->active_ms);
			client_destroy(c);
		}
	}
	if (control->nclients)
		wl_event_source_timer_update(control->idle_timer, IDLE_CHECK_MS);
	return 0;
}

/* The client idle longest, to make room for a new one; NULL if none may go. */
static struct client *eviction_candidate(struct dmab_control *control)
{
	struct client *c, *oldest = NULL;
	wl_list_for_each(c, &control->clients, link) {
		if (c->waiting_turn || c->shot || c->display_screen)
			continue;
		if (!oldest || c->active_ms < oldest->active_ms)
			oldest = c;
	}
	return oldest;
}

static int handle_listen(int fd, uint32_t mask, void *data)
{
	struct dmab_control *control = data;
	int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (cfd < 0)
		return 0;
	if (control->nclients >= MAX_CLIENTS) {
		/* Every slot taken: the administrator must still get in. */
		struct client *old = eviction_candidate(control);
		if (!old) {
			dmab_log_ratelimited(&control->rl, DMAB_LOG_WARN, "control: %d clients busy: "
				"refusing another", MAX_CLIENTS);
			close(cfd);
			return 0;
		}
		dmab_log_ratelimited(&control->rl, DMAB_LOG_INFO, "control: %d clients: closing "
			"the one idle for %" PRIu64 " ms", MAX_CLIENTS, dmab_now_ms() - old->active_ms);
		client_destroy(old);
	}
	struct client *c = calloc(1, sizeof(*c));
	if (!c) {
		close(cfd);
		return 0;
	}
	c->control = control;
	c->fd = cfd;
	c->mask = WL_EVENT_READABLE;
	c->active_ms = dmab_now_ms();
	c->source = wl_event_loop_add_fd(control->server->loop, cfd, c->mask, handle_client, c);
	if (!c->source) {
		close(cfd);
		free(c);
		return 0;
	}
	wl_list_insert(control->clients.prev, &c->link);
	if (control->nclients++ == 0)
		wl_event_source_timer_update(control->idle_timer, IDLE_CHECK_MS);
	return 0;
}

/* Bind and listen on control->path, replacing the socket of a dmabridged that died. */
static int open_socket(struct dmab_control *control)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	strcpy(addr.sun_path, control->path);
	control->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (control->fd < 0)
		return -errno;
	int ret = bind(control->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ? -errno : 0;
	if (ret == -EADDRINUSE) {
		/* Replace a socket nobody answers on: a dmabridged that died. */
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		bool alive = probe >= 0 && connect(probe, (struct sockaddr *)&addr, sizeof(addr)) == 0;
		if (probe >= 0)
			close(probe);
		if (!alive) {
			unlink(control->path);
			ret = bind(control->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ? -errno : 0;
		}
	}
	if (ret == 0 && (chmod(control->path, 0600) < 0 || listen(control->fd, 8) < 0))
		ret = -errno;
	if (ret) {
		close(control->fd);
		control->fd = -1;
	}
	return ret;
}

int dmab_control_create(struct dmab_server *server, struct dmab_control **out)
{
	struct dmab_control *control = calloc(1, sizeof(*control));
	if (!control)
		return -ENOMEM;
	control->server = server;
	wl_signal_init(&control->events.reload);
	control->rl = (struct dmab_ratelimit){ .interval_ms = 5000, .burst = 20 };
	wl_list_init(&control->clients);
	wl_list_init(&control->turns);
	int ret = -ENAMETOOLONG;
	const char *path = server->config.control_socket[0] ? server->config.control_socket :
		dmab_default_control_socket(control->path, sizeof(control->path));
	if (!path || strlen(path) >= sizeof(control->path))
		goto err_control;
	memmove(control->path, path, strlen(path) + 1);

	ret = -ENOMEM;
	control->turn_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (control->turn_fd < 0) {
		ret = -errno;
		goto err_control;
	}
	control->turn_source = wl_event_loop_add_fd(server->loop, control->turn_fd,
		WL_EVENT_READABLE, handle_turns, control);
	if (!control->turn_source)
		goto err_turn_fd;
	control->idle_timer = wl_event_loop_add_timer(server->loop, handle_idle_timer, control);
	if (!control->idle_timer)
		goto err_turn_source;
	control->shots = dmab_shots_create(server->loop);
	if (!control->shots)
		goto err_idle_timer;
	ret = open_socket(control);
	if (ret) {
		dmab_log_errno(DMAB_LOG_ERROR, ret, "control socket %s", control->path);
		goto err_shots;
	}
	control->source = wl_event_loop_add_fd(server->loop, control->fd, WL_EVENT_READABLE,
		handle_listen, control);
	if (!control->source) {
		ret = -ENOMEM;
		goto err_socket;
	}
	dmab_log(DMAB_LOG_INFO, "control socket %s", control->path);
	*out = control;
	return 0;

err_socket:
	close(control->fd);
	unlink(control->path);
err_shots:
	dmab_shots_destroy(control->shots);
err_idle_timer:
	wl_event_source_remove(control->idle_timer);
err_turn_source:
	wl_event_source_remove(control->turn_source);
err_turn_fd:
	close(control->turn_fd);
err_control:
	free(control);
	return ret;
}

void dmab_control_destroy(struct dmab_control *control)
{
	if (!control)
		return;
	struct client *c, *tmp;
	wl_list_for_each_safe(c, tmp, &control->clients, link)
		client_destroy(c);
	wl_event_source_remove(control->source);
	close(control->fd);
	unlink(control->path);
	dmab_shots_destroy(control->shots);
	wl_event_source_remove(control->idle_timer);
	wl_event_source_remove(control->turn_source);
	close(control->turn_fd);
	free(control);
}
