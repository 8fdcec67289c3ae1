// SPDX-License-Identifier: MIT
#include <errno.h>
#include <inttypes.h>
#include <json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/paths.h"
#include "server/control.h"
#include "server/control-request.h"
#include "server/frontend.h"
#include "server/pixels.h"
#include "server/server.h"

#define MAX_CLIENTS 16
#define MAX_LINE (64 * 1024)
#define MAX_CLIENT_FDS 4

struct client {
	struct wl_list link;
	struct dmab_control *control;
	int fd;
	struct wl_event_source *source;
	char buf[MAX_LINE];
	size_t len;
	int fds[MAX_CLIENT_FDS];
	unsigned int nfds;
};

struct dmab_control {
	struct dmab_server *server;
	char path[108];
	int fd;
	struct wl_event_source *source;
	struct wl_list clients;
	unsigned int nclients;
	struct dmab_ratelimit rl;       /* log lines about bad requests */
};

static void client_destroy(struct client *c)
{
	wl_event_source_remove(c->source);
	close(c->fd);
	for (unsigned int i = 0; i < c->nfds; i++)
		close(c->fds[i]);
	wl_list_remove(&c->link);
	c->control->nclients--;
	free(c);
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
static struct dmab_connector *find_connector(struct dmab_server *server, const char *sel)
{
	unsigned int domid, devid, index;
	char tail;
	if (sscanf(sel, "%u/%u/%u%c", &domid, &devid, &index, &tail) == 3 &&
			domid < DOMID_FIRST_RESERVED)
		return dmab_frontend_find_connector(server, (domid_t)domid, devid, index, NULL);
	return dmab_frontend_find_connector(server, DOMID_INVALID, 0, 0, sel);
}

static json_object *placement_json(const struct dmab_server *server,
		const struct dmab_placement *p)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "screen",
		json_object_new_string(server->output->screens[p->screen].name));
	json_object_object_add(o, "x", json_object_new_int(p->x));
	json_object_object_add(o, "y", json_object_new_int(p->y));
	json_object_object_add(o, "z", json_object_new_int(p->z));
	json_object_object_add(o, "visible", json_object_new_boolean(p->visible));
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
	json_object_object_add(out, "type", json_object_new_string(server->output->impl->type));
	json_object *screens = json_object_new_array();
	for (unsigned int i = 0; i < server->output->nscreens; i++) {
		const struct dmab_screen *s = &server->output->screens[i];
		json_object *so = json_object_new_object();
		json_object_object_add(so, "name", json_object_new_string(s->name));
		json_object_object_add(so, "width", json_object_new_int64(s->width));
		json_object_object_add(so, "height", json_object_new_int64(s->height));
		json_object_array_add(screens, so);
	}
	json_object_object_add(out, "screens", screens);
	json_object_object_add(r, "output", out);

	json_object *guests = json_object_new_array();
	struct dmab_frontend *fe;
	wl_list_for_each(fe, &server->frontends, link) {
		json_object *g = json_object_new_object();
		json_object_object_add(g, "domid", json_object_new_int(fe->domid));
		json_object_object_add(g, "devid", json_object_new_int64(fe->devid));
		json_object_object_add(g, "state", json_object_new_string(state_name(fe)));
		json_object_object_add(g, "connected", json_object_new_boolean(fe->connected));
		json_object_object_add(g, "be_alloc", json_object_new_boolean(fe->config.be_alloc));
		json_object_object_add(g, "protocol", json_object_new_int((int)fe->version));
		json_object *conns = json_object_new_array();
		for (unsigned int i = 0; i < fe->nconns; i++) {
			struct dmab_connector *c = fe->conns[i];
			json_object *co = json_object_new_object();
			json_object_object_add(co, "index", json_object_new_int((int)i));
			json_object_object_add(co, "unique_id", json_object_new_string(c->unique_id));
			json_object_object_add(co, "width", json_object_new_int64(c->width));
			json_object_object_add(co, "height", json_object_new_int64(c->height));
			json_object_object_add(co, "enabled", json_object_new_boolean(c->showing != NULL));
			json_object_object_add(co, "place", placement_json(server, &c->view->place));
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

static json_object *cmd_screenshot(struct client *client, const struct dmab_ctl_screenshot *req)
{
	struct dmab_server *server = client->control->server;
	pixman_image_t *img = NULL;
	int fd = take_fd(client);
	if (fd < 0)
		return error("screenshot needs the file to write as a descriptor");

	json_object *r;
	const char *screen_name = NULL, *connector = NULL;
	switch (req->target) {
	case DMAB_CTL_TARGET_FIRST_SCREEN:
		screen_name = server->output->screens[0].name;
		break;
	case DMAB_CTL_TARGET_SCREEN:
		screen_name = req->name;
		break;
	case DMAB_CTL_TARGET_CONNECTOR:
		connector = req->name;
		break;
	case DMAB_CTL_TARGET_ANY:
		if (dmab_output_find_screen(server->output, req->name) >= 0)
			screen_name = req->name;
		else
			connector = req->name;
		break;
	}

	if (connector) {
		struct dmab_connector *c = find_connector(server, connector);
		if (!c) {
			r = error("no connector %s%s", connector, req->target == DMAB_CTL_TARGET_ANY ?
				", and no screen of that name" : "");
			goto out;
		}
		img = dmab_oview_snapshot(c->view);
		if (!img) {
			r = error("connector %s shows a buffer without CPU access", connector);
			goto out;
		}
	} else {
		int screen = dmab_output_find_screen(server->output, screen_name);
		if (screen < 0) {
			r = error("no screen %s", screen_name);
			goto out;
		}
		img = dmab_output_snapshot(server->output, (unsigned int)screen);
		if (!img) {
			r = error("cannot compose screen %s", screen_name);
			goto out;
		}
	}
	int ret = dmab_png_write(fd, img);
	if (ret) {
		r = error("writing the PNG: %s", dmab_strerror(ret));
		goto out;
	}
	r = json_object_new_object();
	json_object_object_add(r, "width", json_object_new_int(pixman_image_get_width(img)));
	json_object_object_add(r, "height", json_object_new_int(pixman_image_get_height(img)));
out:
	if (img)
		pixman_image_unref(img);
	close(fd);
	return r;
}

static json_object *cmd_layout(struct dmab_server *server, const struct dmab_ctl_layout *req)
{
	struct dmab_connector *c = find_connector(server, req->connector);
	if (!c)
		return error("no connector %s", req->connector);
	struct dmab_placement p = c->view->place;
	if (req->has_screen) {
		int screen = dmab_output_find_screen(server->output, req->screen);
		if (screen < 0)
			return error("no screen %s", req->screen);
		p.screen = (unsigned int)screen;
	}
	if (req->has_x)
		p.x = req->x;
	if (req->has_y)
		p.y = req->y;
	if (req->has_z)
		p.z = req->z;
	if (req->has_visible)
		p.visible = req->visible;
	c->place = p;
	dmab_oview_place(c->view, &p);
	json_object *r = json_object_new_object();
	json_object_object_add(r, "place", placement_json(server, &p));
	return r;
}

static void handle_line(struct client *client, const char *line, size_t len)
{
	struct dmab_control *control = client->control;
	struct dmab_server *server = control->server;
	struct dmab_ctl_request req;
	char why[DMAB_CTL_ERROR_MAX];
	json_object *r;
	if (dmab_ctl_request_parse(line, len, &req, why)) {
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
			break;
		case DMAB_CTL_LAYOUT:
			r = cmd_layout(server, &req.layout);
			break;
		case DMAB_CTL_RELOAD:
		default:
			r = dmab_server_reload(server) ? error("reload failed: see the log") :
				json_object_new_object();
			break;
		}
	}
	if (!json_object_object_get_ex(r, "ok", NULL))
		json_object_object_add(r, "ok", json_object_new_boolean(true));
	const char *text = json_object_to_json_string_ext(r, JSON_C_TO_STRING_PLAIN);
	size_t tlen = strlen(text);
	/* Answers are small but may exceed the socket buffer: write it all. */
	const char *p = text;
	while (tlen) {
		ssize_t n = send(client->fd, p, tlen, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		p += n;
		tlen -= (size_t)n;
	}
	send(client->fd, "\n", 1, MSG_NOSIGNAL);
	json_object_put(r);
}

static int handle_client(int fd, uint32_t mask, void *data)
{
	struct client *c = data;
	if (mask & (WL_EVENT_HANGUP | WL_EVENT_ERROR)) {
		client_destroy(c);
		return 0;
	}
	union {
		char buf[CMSG_SPACE(sizeof(int) * MAX_CLIENT_FDS)];
		struct cmsghdr align;
	} ctrl;
	struct iovec iov = { c->buf + c->len, sizeof(c->buf) - c->len };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctrl.buf, .msg_controllen = sizeof(ctrl.buf),
	};
	ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		client_destroy(c);
		return 0;
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
	c->len += (size_t)n;
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		if (!nl)
			break;
		*nl = '\0';
		handle_line(c, c->buf, (size_t)(nl - c->buf));
		size_t used = (size_t)(nl - c->buf) + 1;
		memmove(c->buf, nl + 1, c->len - used);
		c->len -= used;
	}
	if (c->len == sizeof(c->buf))
		client_destroy(c); /* a line longer than any request */
	return 0;
}

static int handle_listen(int fd, uint32_t mask, void *data)
{
	struct dmab_control *control = data;
	int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (cfd < 0)
		return 0;
	if (control->nclients >= MAX_CLIENTS) {
		close(cfd);
		return 0;
	}
	struct client *c = calloc(1, sizeof(*c));
	if (!c) {
		close(cfd);
		return 0;
	}
	c->control = control;
	c->fd = cfd;
	c->source = wl_event_loop_add_fd(control->server->loop, cfd, WL_EVENT_READABLE,
		handle_client, c);
	if (!c->source) {
		close(cfd);
		free(c);
		return 0;
	}
	wl_list_insert(&control->clients, &c->link);
	control->nclients++;
	return 0;
}

int dmab_control_create(struct dmab_server *server, struct dmab_control **out)
{
	struct dmab_control *control = calloc(1, sizeof(*control));
	if (!control)
		return -ENOMEM;
	control->server = server;
	control->rl = (struct dmab_ratelimit){ .interval_ms = 5000, .burst = 20 };
	wl_list_init(&control->clients);
	const char *path = server->config.control_socket[0] ? server->config.control_socket :
		dmab_default_control_socket(control->path, sizeof(control->path));
	if (!path || strlen(path) >= sizeof(control->path)) {
		free(control);
		return -ENAMETOOLONG;
	}
	memmove(control->path, path, strlen(path) + 1);

	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	strcpy(addr.sun_path, control->path);
	control->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (control->fd < 0) {
		free(control);
		return -errno;
	}
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
		dmab_log_errno(DMAB_LOG_ERROR, ret, "control socket %s", control->path);
		close(control->fd);
		free(control);
		return ret;
	}
	control->source = wl_event_loop_add_fd(server->loop, control->fd, WL_EVENT_READABLE,
		handle_listen, control);
	if (!control->source) {
		close(control->fd);
		unlink(control->path);
		free(control);
		return -ENOMEM;
	}
	dmab_log(DMAB_LOG_INFO, "control socket %s", control->path);
	*out = control;
	return 0;
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
	free(control);
}
