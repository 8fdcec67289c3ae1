// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef DMAB_HAVE_SIM
#include "hv/sim/sim.h"
#endif
#include "protocol/xenstore.h"
#include "server/control.h"
#include "server/copier.h"
#include "server/frontend.h"
#include "server/guest-log.h"
#include "output/headless/headless.h"
#include "server/layout.h"
#include "server/release.h"
#include "server/scheduler.h"
#include "server/server.h"
#ifdef DMAB_HAVE_XEN
#include "hv/xen.h"
#endif

static void handle_control_reload(struct wl_listener *listener, void *data)
{
	struct dmab_server *server = wl_container_of(listener, server, control_reload);
	struct dmab_control_reload_event *event = data;
	event->status = dmab_server_reload(server);
}

static int export_released(void *data, int fd)
{
	return dmab_hv_dmabuf_exp_wait_released(data, fd, 0);
}

static int handle_hv(int fd, uint32_t mask, void *data)
{
	struct dmab_server *server = data;
	int ret = dmab_hv_dispatch(server->hv);
	if (ret) {
		dmab_log_errno(DMAB_LOG_ERROR, ret, "lost the hypervisor");
		wl_event_source_remove(server->hv_source);
		server->hv_source = NULL;
	}
	return 0;
}

static void handle_root(void *data, const char *path)
{
	dmab_frontend_root_changed(data, path);
}

static int open_hv(struct dmab_server *server)
{
	const struct dmab_config *c = &server->config;
	if (c->hv == DMAB_HV_KIND_XEN) {
#ifdef DMAB_HAVE_XEN
		return dmab_hv_xen_open(DMAB_HV_BACKEND, &server->hv);
#else
		dmab_log(DMAB_LOG_ERROR, "this dmabridged was built without Xen support");
		return -EOPNOTSUPP;
#endif
	}
#ifdef DMAB_HAVE_SIM
	char path[108];
	const char *socket = c->sim_socket[0] ? c->sim_socket :
		dmab_hv_sim_default_socket(path, sizeof(path));
	if (!socket)
		return -ENAMETOOLONG;
	return dmab_hv_sim_host(socket, NULL, &server->hv);
#else
	dmab_log(DMAB_LOG_ERROR, "this dmabridged was built without the simulator");
	return -EOPNOTSUPP;
#endif
}

#ifdef DMAB_OUTPUT_HEADLESS
static struct dmab_backend *headless_from_config(const struct dmab_config *c)
{
	return dmab_headless_create(c->screens, c->nscreens);
}
#endif

#ifdef DMAB_OUTPUT_DRM
static struct dmab_backend *drm_from_config(const struct dmab_config *c)
{
	return dmab_drm_create(&c->drm);
}
#endif

#ifdef DMAB_OUTPUT_WAYLAND
static struct dmab_backend *wayland_from_config(const struct dmab_config *c)
{
	return dmab_wayland_create(&c->wayland);
}
#endif

/* The display backends this build has, by the names the configuration uses. */
static const struct {
	const char *name;
	struct dmab_backend *(*create)(const struct dmab_config *config);
} backends[] = {
#ifdef DMAB_OUTPUT_HEADLESS
	{ "headless", headless_from_config },
#endif
#ifdef DMAB_OUTPUT_DRM
	{ "drm", drm_from_config },
#endif
#ifdef DMAB_OUTPUT_WAYLAND
	{ "wayland", wayland_from_config },
#endif
};

static int open_output(struct dmab_server *server)
{
	const struct dmab_config *c = &server->config;
	server->output = dmab_output_create(server->loop);
	if (!server->output)
		return -ENOMEM;
	for (unsigned int i = 0; i < c->noutputs; i++) {
		size_t k = 0;
		while (k < sizeof(backends) / sizeof(backends[0]) && strcmp(backends[k].name,
				c->outputs[i]))
			k++;
		if (k == sizeof(backends) / sizeof(backends[0])) {
			dmab_log(DMAB_LOG_ERROR, "this dmabridged was built without the %s output",
				c->outputs[i]);
			return -EOPNOTSUPP;
		}
		struct dmab_backend *backend = backends[k].create(c);
		if (!backend)
			return -ENOMEM;
		int ret = dmab_output_add_backend(server->output, backend);
		if (ret)
			return ret;
	}
	return 0;
}

int dmab_server_create(struct wl_event_loop *loop, const struct dmab_config *config,
		const char *config_path, const struct dmab_config_cli *cli,
		struct dmab_server **out)
{
	struct dmab_server *server = calloc(1, sizeof(*server));
	if (!server)
		return -ENOMEM;
	server->loop = loop;
	server->config = *config;
	server->config_path = config_path;
	if (cli)
		server->cli = *cli;
	server->started_ns = dmab_now_ns();
	wl_list_init(&server->frontends);
	server->guest_logs = dmab_guest_logs_create();

	int ret = -ENOMEM;
	server->scheduler = dmab_scheduler_create(loop);
	if (!server->scheduler || !server->guest_logs)
		goto err;
	ret = open_hv(server);
	if (ret) {
		dmab_log_errno(DMAB_LOG_ERROR, ret, "cannot open the hypervisor");
		goto err;
	}
	server->release = dmab_release_create(loop, export_released, server->hv,
		config->release_timeout_ms);
	if (!server->release) {
		ret = -ENOMEM;
		goto err;
	}
	/* The loop's core stays the loop's: copies go to the others. */
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	server->copier = dmab_copier_create(loop, cpus > 2 ? (unsigned int)(cpus - 1) : 1);
	if (!server->copier) {
		ret = -ENOMEM;
		goto err;
	}
	ret = open_output(server);
	if (ret) {
		dmab_log_errno(DMAB_LOG_ERROR, ret, "cannot open the output");
		goto err;
	}
	server->hv_source = wl_event_loop_add_fd(loop, dmab_hv_get_fd(server->hv),
		WL_EVENT_READABLE, handle_hv, server);
	if (!server->hv_source) {
		ret = -ENOMEM;
		goto err;
	}
	ret = dmab_control_create(server, &server->control);
	if (ret)
		goto err;
	server->control_reload.notify = handle_control_reload;
	wl_signal_add(&server->control->events.reload, &server->control_reload);

	dmab_xs_backend_root(server->backend_root, sizeof(server->backend_root),
		dmab_hv_domid(server->hv));
	/* The toolstack creates devices here; be watching before any is made. */
	ret = dmab_hv_watch_add(server->hv, server->backend_root, handle_root, server,
		&server->root_watch);
	if (ret) {
		dmab_log_errno(DMAB_LOG_ERROR, ret, "cannot watch %s", server->backend_root);
		goto err;
	}
	dmab_log(DMAB_LOG_INFO, "dmabridged %s: %s hypervisor, domain %u, watching %s",
		DMAB_VERSION, dmab_hv_name(server->hv), dmab_hv_domid(server->hv),
		server->backend_root);
	*out = server;
	return 0;
err:
	dmab_server_destroy(server);
	return ret;
}

void dmab_server_destroy(struct dmab_server *server)
{
	if (!server)
		return;
	dmab_hv_watch_remove(server->root_watch);
	server->root_watch = NULL;
	struct dmab_frontend *fe, *tmp;
	wl_list_for_each_safe(fe, tmp, &server->frontends, link)
		dmab_frontend_destroy(fe);

	/* Buffers still leaving the display get their time, before the hypervisor goes. */
	dmab_release_destroy(server->release);

	if (server->control)
		wl_list_remove(&server->control_reload.link);
	dmab_control_destroy(server->control);
	dmab_copier_destroy(server->copier);
	if (server->hv_source)
		wl_event_source_remove(server->hv_source);
	dmab_output_destroy(server->output);
	dmab_hv_destroy(server->hv);
	dmab_scheduler_destroy(server->scheduler);
	dmab_ratelimit_table_destroy(server->guest_logs);
	free(server);
}

int dmab_server_reload(struct dmab_server *server)
{
	if (!server->config_path) {
		dmab_log(DMAB_LOG_INFO, "reload: no configuration file");
		return 0;
	}
	/* A pipe that nobody writes would hold the loop: only files are read again. */
	struct stat st;
	if (stat(server->config_path, &st) == 0 && S_ISFIFO(st.st_mode)) {
		dmab_log(DMAB_LOG_ERROR, "reload: %s is a pipe, read once at start; keeping the "
			"running configuration", server->config_path);
		return -EINVAL;
	}
	struct dmab_config next;
	dmab_config_defaults(&next);
	char err[256];
	int ret = dmab_config_load(&next, server->config_path, err, sizeof(err));
	if (ret) {
		dmab_log(DMAB_LOG_ERROR, "reload: %s; keeping the running configuration", err);
		return ret;
	}
	dmab_config_apply_cli(&next, &server->cli);
	if (next.hv != server->config.hv || strcmp(next.sim_socket, server->config.sim_socket) ||
			strcmp(next.control_socket, server->config.control_socket) ||
			next.nscreens != server->config.nscreens ||
			memcmp(next.screens, server->config.screens,
				next.nscreens * sizeof(next.screens[0])) ||
			next.noutputs != server->config.noutputs ||
			memcmp(next.outputs, server->config.outputs, sizeof(next.outputs)) ||
			memcmp(&next.drm, &server->config.drm, sizeof(next.drm)) ||
			memcmp(&next.wayland, &server->config.wayland, sizeof(next.wayland)))
		dmab_log(DMAB_LOG_WARN, "reload: hypervisor, sockets, outputs and screens change on "
			"restart only");

	/* Limits, log level and the layout apply now. */
	server->config.limits = next.limits;
	server->config.log_level = next.log_level;
	server->config.release_timeout_ms = next.release_timeout_ms;
	dmab_release_set_timeout(server->release, next.release_timeout_ms);
	memcpy(server->config.places, next.places, sizeof(next.places));
	server->config.nplaces = next.nplaces;
	dmab_log_init(next.log_level, NULL);

	dmab_layout_reload(server);
	dmab_log(DMAB_LOG_INFO, "reloaded %s", server->config_path);
	return 0;
}
