/* SPDX-License-Identifier: MIT */
/*
 * The layout: which guest connector is which, and where its view goes.
 *
 * A guest chooses its connectors' unique-ids (on Xen it owns its frontend
 * directory and may rewrite them), so a unique-id alone never decides
 * anything another guest could want. A configured place ([connector.LABEL])
 * is held by at most one live connector: the first that matches it, where
 * a place bound to a domain (by the name or id the toolstack gave it)
 * matches that domain's connectors only. A connector that finds its place
 * held by another is placed like an unconfigured one and a warning says
 * who holds it; it takes the place when the holder goes.
 */
#ifndef DMAB_SERVER_LAYOUT_H
#define DMAB_SERVER_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

struct dmab_connector;
struct dmab_server;

/**
 * Give a new connector its place: a configured one it matches and nobody
 * holds, else to the right of what is on the first screen. Sets
 * conn->place and conn->place_label; the view is made from them after.
 */
void dmab_layout_assign(struct dmab_server *server, struct dmab_connector *conn);

/**
 * A connector goes: the place it held is free, and the first live
 * connector waiting for it (matching, without a place) moves there.
 */
void dmab_layout_release(struct dmab_server *server, struct dmab_connector *conn);

/**
 * The configuration changed: every live connector is placed again, oldest
 * first. Connectors that had no configured place and get none stay where
 * they are.
 */
void dmab_layout_reload(struct dmab_server *server);

/**
 * The size conn shows at when scaled to width x height, in *out_width x
 * *out_height: one of the two given (the other 0) keeps the connector's
 * aspect; neither, or a side that comes to 0, is its own size (0 x 0).
 */
void dmab_layout_scaled_size(const struct dmab_connector *conn, uint32_t width,
		uint32_t height, uint32_t *out_width, uint32_t *out_height);

/**
 * The connector a control client means by sel, or NULL with a reason in
 * err (len octets). sel is "domid/devid/index"; or the label of a
 * configured place, which means the connector holding it; or
 * "DOMAIN:UNIQUE-ID" with the domain's name; or a unique-id that one live
 * connector has (a unique-id that several have is refused, naming them).
 */
struct dmab_connector *dmab_layout_find_connector(struct dmab_server *server,
		const char *sel, char *err, size_t len);

#endif
