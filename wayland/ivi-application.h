/* SPDX-License-Identifier: MIT */
/*
 * The client side of ivi_application version 1 (GENIVI / Weston's
 * ivi-shell): a wl_surface gets an ivi surface with a numeric id, and the
 * shell's layout controller decides where it goes. Neither Debian's
 * wayland-protocols nor its Weston packages ship the protocol's XML, so
 * its two small interfaces are described here from the protocol's
 * definition: ivi_application.surface_create(uint ivi_id, object
 * wl_surface, new_id ivi_surface) and ivi_surface.destroy() with the
 * event ivi_surface.configure(int width, int height).
 */
#ifndef DMAB_WAYLAND_IVI_APPLICATION_H
#define DMAB_WAYLAND_IVI_APPLICATION_H

#include <stdint.h>
#include <wayland-client-core.h>

struct wl_surface;

extern const struct wl_interface dmab_ivi_application_interface;
extern const struct wl_interface dmab_ivi_surface_interface;

struct dmab_ivi_surface_listener {
	/* The shell asks for this size (0: the client's choice). */
	void (*configure)(void *data, struct wl_proxy *ivi_surface, int32_t width, int32_t height);
};

/** An ivi surface with id for surface; NULL on failure. */
struct wl_proxy *dmab_ivi_surface_create(struct wl_proxy *application, uint32_t ivi_id,
		struct wl_surface *surface);

/** Destroy it (the request and the proxy); NULL is a no-op. */
void dmab_ivi_surface_destroy(struct wl_proxy *ivi_surface);

#endif
