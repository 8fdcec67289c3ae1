// SPDX-License-Identifier: MIT
#include <stddef.h>
#include <wayland-client-protocol.h>

#include "wayland/ivi-application.h"

/* Argument types of every message below, as wayland-scanner lays them out. */
static const struct wl_interface *types[] = {
	NULL,
	&wl_surface_interface,
	&dmab_ivi_surface_interface,
	NULL,
	NULL,
};

static const struct wl_message application_requests[] = {
	{ "surface_create", "uon", types + 0 },
};

static const struct wl_message surface_requests[] = {
	{ "destroy", "", types + 3 },
};

static const struct wl_message surface_events[] = {
	{ "configure", "ii", types + 3 },
};

const struct wl_interface dmab_ivi_application_interface = {
	"ivi_application", 1, 1, application_requests, 0, NULL,
};

const struct wl_interface dmab_ivi_surface_interface = {
	"ivi_surface", 1, 1, surface_requests, 1, surface_events,
};

struct wl_proxy *dmab_ivi_surface_create(struct wl_proxy *application, uint32_t ivi_id,
		struct wl_surface *surface)
{
	return wl_proxy_marshal_flags(application, 0, &dmab_ivi_surface_interface,
		wl_proxy_get_version(application), 0, ivi_id, surface, NULL);
}

void dmab_ivi_surface_destroy(struct wl_proxy *ivi_surface)
{
	if (ivi_surface)
		wl_proxy_marshal_flags(ivi_surface, 0, NULL, wl_proxy_get_version(ivi_surface),
			WL_MARSHAL_FLAG_DESTROY);
}
