// SPDX-License-Identifier: MIT
/*
 * The KMS device: opened at start (the configured node, or the first
 * card with a connected connector), atomic and universal planes required,
 * its planes handed to libliftoff, its events (page flips) on the loop,
 * and hot-plug from the kernel's uevents.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libliftoff.h>
#include <libudev.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "drm/drm-impl.h"

uint32_t drm_prop_get(int fd, uint32_t object, uint32_t type, const char *name,
		uint64_t *value)
{
	drmModeObjectProperties *props = drmModeObjectGetProperties(fd, object, type);
	if (!props)
		return 0;
	uint32_t id = 0;
	for (uint32_t i = 0; i < props->count_props && !id; i++) {
		drmModePropertyRes *p = drmModeGetProperty(fd, props->props[i]);
		if (p && !strcmp(p->name, name)) {
			id = p->prop_id;
			if (value)
				*value = props->prop_values[i];
		}
		drmModeFreeProperty(p);
	}
	drmModeFreeObjectProperties(props);
	return id;
}

uint32_t drm_prop_id(int fd, uint32_t object, uint32_t type, const char *name)
{
	return drm_prop_get(fd, object, type, name, NULL);
}

/* libliftoff says why a layer got no plane: worth seeing when debugging. */
__attribute__((format(printf, 2, 0)))
static void handle_liftoff_log(enum liftoff_log_priority priority, const char *fmt, va_list args)
{
	char line[512];
	vsnprintf(line, sizeof(line), fmt, args);
	_dmab_log(priority == LIFTOFF_ERROR ? DMAB_LOG_WARN : DMAB_LOG_DEBUG, "[libliftoff] %s",
		line);
}

static void handle_page_flip(int fd, unsigned int seq, unsigned int sec, unsigned int usec,
		unsigned int crtc_id, void *data)
{
	/* DRM_CAP_TIMESTAMP_MONOTONIC: the time of the vblank on CLOCK_MONOTONIC. */
	uint64_t when = (uint64_t)sec * 1000000000u + (uint64_t)usec * 1000u;
	if (data)
		drm_screen_flipped(data, when ? when : dmab_now_ns());
}

static int handle_drm(int fd, uint32_t mask, void *data)
{
	drmEventContext ctx = {
		.version = 3,
		.page_flip_handler2 = handle_page_flip,
	};
	if (drmHandleEvent(fd, &ctx))
		dmab_log_errno(DMAB_LOG_ERROR, -errno, "reading DRM events");
	return 0;
}

static int handle_uevent(int fd, uint32_t mask, void *data)
{
	struct drm_backend *drm = data;
	struct udev_device *dev = udev_monitor_receive_device(drm->monitor);
	if (!dev)
		return 0;
	const char *node = udev_device_get_devnode(dev);
	const char *name = udev_device_get_sysname(dev);
	bool ours = (node && !strcmp(node, drm->path)) ||
		(name && !strcmp(name, strrchr(drm->path, '/') + 1));
	udev_device_unref(dev);
	if (ours)
		drm_screens_scan(drm);
	return 0;
}

/* Atomic, universal planes, and the page-flip timestamps on the monotonic clock. */
static int usable(int fd)
{
	uint64_t cap = 0;
	if (drmSetClientCap(fd, DRM_CLIENT_CAP_UNIVERSAL_PLANES, 1) ||
			drmSetClientCap(fd, DRM_CLIENT_CAP_ATOMIC, 1))
		return -ENOTSUP;
	/* Writeback connectors, for screenshots of what the CRTC shows, where there are. */
	drmSetClientCap(fd, DRM_CLIENT_CAP_WRITEBACK_CONNECTORS, 1);
	if (drmGetCap(fd, DRM_CAP_TIMESTAMP_MONOTONIC, &cap) || !cap)
		return -ENOTSUP;
	return 0;
}

static bool has_connected(int fd)
{
	drmModeRes *res = drmModeGetResources(fd);
	bool found = false;
	for (int i = 0; res && i < res->count_connectors && !found; i++) {
		drmModeConnector *c = drmModeGetConnector(fd, res->connectors[i]);
		found = c && c->connection == DRM_MODE_CONNECTED &&
			c->connector_type != DRM_MODE_CONNECTOR_WRITEBACK;
		drmModeFreeConnector(c);
	}
	drmModeFreeResources(res);
	return found;
}

static int open_device(struct drm_backend *drm)
{
	if (drm->config.device[0]) {
		snprintf(drm->path, sizeof(drm->path), "%s", drm->config.device);
		int fd = open(drm->path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		int ret = usable(fd);
		if (ret) {
			dmab_log(DMAB_LOG_ERROR, "%s: no atomic modesetting", drm->path);
			close(fd);
			return ret;
		}
		return fd;
	}
	/* The first card, in name order, that can show something now. */
	struct dirent **names;
	int n = scandir("/dev/dri", &names, NULL, alphasort);
	int found = -ENODEV;
	for (int i = 0; i < n; i++) {
		if (found < 0 && !strncmp(names[i]->d_name, "card", 4)) {
			char path[sizeof(drm->path)];
			snprintf(path, sizeof(path), "/dev/dri/%.90s", names[i]->d_name);
			int fd = open(path, O_RDWR | O_CLOEXEC);
			if (fd >= 0 && usable(fd) == 0 && has_connected(fd)) {
				snprintf(drm->path, sizeof(drm->path), "%s", path);
				found = fd;
			} else if (fd >= 0) {
				close(fd);
			}
		}
		free(names[i]);
	}
	if (n >= 0)
		free(names);
	return found;
}

/*
 * The planes libliftoff may give layers: the primary ones, and as many
 * others as the configuration allows, in the device's order.
 */
static int register_planes(struct drm_backend *drm)
{
	if (drm->config.overlay_planes < 0)
		return liftoff_device_register_all_planes(drm->liftoff);
	drmModePlaneRes *planes = drmModeGetPlaneResources(drm->fd);
	if (!planes)
		return -errno;
	int ret = 0;
	uint32_t others = 0;
	for (uint32_t i = 0; i < planes->count_planes && ret == 0; i++) {
		uint64_t type = DRM_PLANE_TYPE_OVERLAY;
		drm_prop_get(drm->fd, planes->planes[i], DRM_MODE_OBJECT_PLANE, "type", &type);
		if (type != DRM_PLANE_TYPE_PRIMARY &&
				others++ >= (uint32_t)drm->config.overlay_planes)
			continue;
		if (!liftoff_plane_create(drm->liftoff, planes->planes[i]))
			ret = -ENOMEM;
	}
	drmModeFreePlaneResources(planes);
	if (ret == 0 && others > (uint32_t)drm->config.overlay_planes)
		dmab_log(DMAB_LOG_INFO, "%s: guests may have %d of the %u planes besides the "
			"primary ones (overlay-planes)", drm->path, drm->config.overlay_planes,
			others);
	return ret;
}

static bool any_plane_has_zpos(int fd)
{
	drmModePlaneRes *planes = drmModeGetPlaneResources(fd);
	bool found = false;
	for (uint32_t i = 0; planes && i < planes->count_planes && !found; i++)
		found = drm_prop_id(fd, planes->planes[i], DRM_MODE_OBJECT_PLANE, "zpos") != 0;
	drmModeFreePlaneResources(planes);
	return found;
}

static void watch_hotplug(struct drm_backend *drm)
{
	/* The kernel's own uevents: no udevd needed. */
	drm->udev = udev_new();
	drm->monitor = drm->udev ? udev_monitor_new_from_netlink(drm->udev, "kernel") : NULL;
	if (!drm->monitor || udev_monitor_filter_add_match_subsystem_devtype(drm->monitor,
			"drm", NULL) || udev_monitor_enable_receiving(drm->monitor)) {
		dmab_log(DMAB_LOG_WARN, "%s: cannot watch for connectors plugged and unplugged",
			drm->path);
		return;
	}
	drm->monitor_source = wl_event_loop_add_fd(drm->base.output->loop,
		udev_monitor_get_fd(drm->monitor), WL_EVENT_READABLE, handle_uevent, drm);
}

/* Master now, or already: with it, commits go through. */
static bool take_master(struct drm_backend *drm)
{
	return drmSetMaster(drm->fd) == 0 || drmIsMaster(drm->fd);
}

#define MASTER_RETRY_MS 500

static int handle_master_timer(void *data)
{
	struct drm_backend *drm = data;
	if (!take_master(drm)) {
		wl_event_source_timer_update(drm->master_timer, MASTER_RETRY_MS);
		return 0;
	}
	drm->master = true;
	dmab_log(DMAB_LOG_INFO, "%s: DRM master again: showing guests", drm->path);
	drm_screens_retake(drm);
	return 0;
}

void drm_lost_master(struct drm_backend *drm)
{
	if (!drm->master)
		return;
	drm->master = false;
	dmab_log(DMAB_LOG_WARN, "%s: another client is DRM master (a display server, a "
		"console): guests' frames are not shown until it lets go", drm->path);
	if (drm->master_timer)
		wl_event_source_timer_update(drm->master_timer, MASTER_RETRY_MS);
}

static int backend_start(struct dmab_backend *backend)
{
	struct drm_backend *drm = wl_container_of(backend, drm, base);
	drm->fd = open_device(drm);
	if (drm->fd < 0) {
		int ret = drm->fd;
		dmab_log_errno(DMAB_LOG_ERROR, ret, "no KMS device to show guests on%s%s",
			drm->config.device[0] ? ": " : "", drm->config.device);
		return ret;
	}
	/* Its debug output is every layer of every frame: errors only. */
	liftoff_log_set_handler(handle_liftoff_log);
	liftoff_log_set_priority(LIFTOFF_ERROR);
	int lfd = fcntl(drm->fd, F_DUPFD_CLOEXEC, 0);
	drm->liftoff = lfd >= 0 ? liftoff_device_create(lfd) : NULL;
	if (!drm->liftoff || register_planes(drm)) {
		if (lfd >= 0 && !drm->liftoff)
			close(lfd);
		dmab_log(DMAB_LOG_ERROR, "%s: libliftoff cannot manage its planes", drm->path);
		return -ENODEV;
	}
	drm->planes_have_zpos = any_plane_has_zpos(drm->fd);
	drmVersion *v = drmGetVersion(drm->fd);
	dmab_log(DMAB_LOG_INFO, "%s: %s (%s), atomic%s", drm->path, v ? v->name : "?",
		v ? v->desc : "?", drm->planes_have_zpos ? ", planes with zpos" : "");
	drmFreeVersion(v);
	drm_allocator_init(drm);
	drm->master_timer = wl_event_loop_add_timer(backend->output->loop, handle_master_timer,
		drm);
	if (!drm->master_timer)
		return -ENOMEM;
	drm->master = true;
	if (!take_master(drm))
		drm_lost_master(drm);
	drm->fd_source = wl_event_loop_add_fd(backend->output->loop, drm->fd, WL_EVENT_READABLE,
		handle_drm, drm);
	if (!drm->fd_source)
		return -ENOMEM;
	watch_hotplug(drm);
	drm_screens_scan(drm);
	return 0;
}

static void backend_destroy(struct dmab_backend *backend)
{
	struct drm_backend *drm = wl_container_of(backend, drm, base);
	if (drm->fd >= 0)
		drm_screen_destroy_all(drm);
	if (drm->monitor_source)
		wl_event_source_remove(drm->monitor_source);
	if (drm->monitor)
		udev_monitor_unref(drm->monitor);
	if (drm->udev)
		udev_unref(drm->udev);
	if (drm->fd_source)
		wl_event_source_remove(drm->fd_source);
	if (drm->master_timer)
		wl_event_source_remove(drm->master_timer);
	if (drm->liftoff)
		liftoff_device_destroy(drm->liftoff);
	drm_allocator_finish(drm);
	if (drm->fd >= 0)
		close(drm->fd);
	dmab_backend_finish(backend);
	free(drm);
}

static const struct dmab_backend_impl backend_impl = {
	.type = "drm",
	.start = backend_start,
	.destroy = backend_destroy,
	.import = drm_import,
};

struct dmab_backend *dmab_drm_create(const struct dmab_drm_config *config)
{
	struct drm_backend *drm = calloc(1, sizeof(*drm));
	if (!drm)
		return NULL;
	dmab_backend_init(&drm->base, &backend_impl, "drm");
	if (!drm->base.name) {
		free(drm);
		return NULL;
	}
	drm->config = *config;
	drm->fd = -1;
	wl_list_init(&drm->screens);
	return &drm->base;
}
