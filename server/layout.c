// SPDX-License-Identifier: MIT
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/frontend.h"
#include "server/layout.h"
#include "server/server.h"

/* Every live connector, oldest device first. */
#define for_each_connector(server, fe, i, conn) \
	wl_list_for_each(fe, &(server)->frontends, link) \
		for (unsigned int i = 0; i < (fe)->nconns && ((conn) = (fe)->conns[i]); i++)

static struct dmab_connector *holder_of(struct dmab_server *server, const char *label,
		const struct dmab_connector *except)
{
	struct dmab_frontend *fe;
	struct dmab_connector *conn;
	for_each_connector(server, fe, i, conn) {
		if (conn != except && !strcmp(conn->place_label, label))
			return conn;
	}
	return NULL;
}

static bool matches(const struct dmab_config_place *place, const struct dmab_connector *conn)
{
	return dmab_config_place_matches(place, conn->fe->domid, conn->fe->name,
		conn->unique_id);
}

/* The configured place conn should hold: free, bound before unbound. */
static const struct dmab_config_place *choose(struct dmab_server *server,
		struct dmab_connector *conn, struct dmab_connector **held_by)
{
	const struct dmab_config *config = &server->config;
	const struct dmab_config_place *best = NULL;
	*held_by = NULL;
	for (unsigned int i = 0; i < config->nplaces; i++) {
		const struct dmab_config_place *p = &config->places[i];
		if (!matches(p, conn))
			continue;
		struct dmab_connector *holder = holder_of(server, p->label, conn);
		if (holder) {
			*held_by = holder;
			continue;
		}
		if (!best || (dmab_config_place_bound(p) && !dmab_config_place_bound(best)))
			best = p;
	}
	return best;
}

/* To the right of what the screen shows, in 64 bits: positions go up to INT32_MAX. */
static int32_t right_of_others(struct dmab_server *server, const struct dmab_connector *conn,
		const char *screen)
{
	int64_t x = 0;
	struct dmab_frontend *fe;
	struct dmab_connector *other;
	for_each_connector(server, fe, i, other) {
		if (other == conn || !other->view || strcmp(other->place.screen, screen))
			continue;
		int64_t right = (int64_t)other->place.x +
			(other->place.width ? other->place.width : other->width);
		if (right > x)
			x = right;
	}
	return x > INT32_MAX ? INT32_MAX : (int32_t)x;
}

void dmab_layout_scaled_size(const struct dmab_connector *conn, uint32_t width,
		uint32_t height, uint32_t *out_width, uint32_t *out_height)
{
	uint64_t w = width, h = height;
	if (w && !h && conn->width)
		h = (uint64_t)conn->height * w / conn->width;
	if (h && !w && conn->height)
		w = (uint64_t)conn->width * h / conn->height;
	if (!w || !h || w > UINT32_MAX || h > UINT32_MAX)
		w = h = 0;
	*out_width = (uint32_t)w;
	*out_height = (uint32_t)h;
}

static void place_at(struct dmab_server *server, struct dmab_connector *conn,
		const struct dmab_config_place *cp)
{
	struct dmab_view_place *place = &conn->place;
	*place = (struct dmab_view_place){ .visible = true };
	snprintf(conn->place_label, sizeof(conn->place_label), "%s", cp ? cp->label : "");
	/* The first screen unless the place names another. */
	struct dmab_screen *screen = dmab_output_first_screen(server->output);
	const char *first = screen ? screen->name : server->config.screens[0].name;
	snprintf(place->screen, sizeof(place->screen), "%s",
		cp && cp->screen[0] ? cp->screen : first);
	if (cp) {
		place->z = cp->z;
		place->visible = cp->visible;
		dmab_layout_scaled_size(conn, cp->width, cp->height, &place->width,
			&place->height);
		if (cp->has_position) {
			place->x = cp->x;
			place->y = cp->y;
			return;
		}
	}
	place->x = right_of_others(server, conn, place->screen);
}

static void describe(const struct dmab_connector *conn, char *buf, size_t len)
{
	const struct dmab_frontend *fe = conn->fe;
	snprintf(buf, len, "%u/%u/%u (domain %s)", fe->domid, fe->devid, conn->index,
		fe->name[0] ? fe->name : "without a name");
}

void dmab_layout_assign(struct dmab_server *server, struct dmab_connector *conn)
{
	struct dmab_connector *held_by;
	const struct dmab_config_place *cp = choose(server, conn, &held_by);
	place_at(server, conn, cp);

	char who[128], other[128];
	describe(conn, who, sizeof(who));
	if (!cp && held_by) {
		describe(held_by, other, sizeof(other));
		fe_log_rl(conn->fe, DMAB_LOG_WARN, "connector %s, unique-id \"%s\": its place "
			"[connector.%s] is held by %s; placed beside the others until it is free",
			who, conn->unique_id, held_by->place_label, other);
		return;
	}
	/* The same unique-id twice: say so, selectors then need the domain. */
	struct dmab_frontend *fe;
	struct dmab_connector *twin;
	for_each_connector(server, fe, i, twin) {
		if (twin != conn && conn->unique_id[0] && !strcmp(twin->unique_id, conn->unique_id)) {
			describe(twin, other, sizeof(other));
			fe_log_rl(conn->fe, DMAB_LOG_WARN, "connector %s has unique-id \"%s\", "
				"like %s", who, conn->unique_id, other);
			return;
		}
	}
}

void dmab_layout_release(struct dmab_server *server, struct dmab_connector *conn)
{
	if (!conn->place_label[0])
		return;
	char label[sizeof(conn->place_label)];
	memcpy(label, conn->place_label, sizeof(label));
	conn->place_label[0] = '\0';
	const struct dmab_config_place *cp = dmab_config_find_place(&server->config, label);
	if (!cp)
		return;
	struct dmab_frontend *fe;
	struct dmab_connector *waiting;
	for_each_connector(server, fe, i, waiting) {
		if (waiting == conn || waiting->place_label[0] || !waiting->view ||
				!matches(cp, waiting))
			continue;
		place_at(server, waiting, cp);
		dmab_view_set_place(waiting->view, &waiting->place);
		fe_log(fe, DMAB_LOG_INFO, "connector %u takes its place [connector.%s]",
			waiting->index, cp->label);
		return;
	}
}

void dmab_layout_reload(struct dmab_server *server)
{
	struct dmab_frontend *fe;
	struct dmab_connector *conn;
	bool *had = NULL;
	size_t n = 0, k = 0;
	for_each_connector(server, fe, i, conn)
		n++;
	if (n && !(had = calloc(n, sizeof(*had))))
		return;
	/* Everyone lets go, then everyone chooses again, in the order they came. */
	for_each_connector(server, fe, i, conn) {
		had[k++] = conn->place_label[0] != '\0';
		conn->place_label[0] = '\0';
	}
	k = 0;
	for_each_connector(server, fe, i, conn) {
		struct dmab_connector *held_by;
		const struct dmab_config_place *cp = choose(server, conn, &held_by);
		if (cp || had[k]) {
			place_at(server, conn, cp);
			dmab_view_set_place(conn->view, &conn->place);
		}
		k++;
	}
	free(had);
}

static bool parse_numeric(const char *sel, unsigned int *domid, unsigned int *devid,
		unsigned int *index)
{
	char tail;
	return sscanf(sel, "%u/%u/%u%c", domid, devid, index, &tail) == 3;
}

struct dmab_connector *dmab_layout_find_connector(struct dmab_server *server,
		const char *sel, char *err, size_t len)
{
	struct dmab_frontend *fe;
	struct dmab_connector *conn, *found = NULL;
	unsigned int domid, devid, index;

	if (parse_numeric(sel, &domid, &devid, &index)) {
		for_each_connector(server, fe, i, conn) {
			if (fe->domid == domid && fe->devid == devid && conn->index == index)
				return conn;
		}
		snprintf(err, len, "no connector %s", sel);
		return NULL;
	}
	/* A label is the administrator's name: only its holder answers to it. */
	if (dmab_config_find_place(&server->config, sel)) {
		conn = holder_of(server, sel, NULL);
		if (!conn)
			snprintf(err, len, "no connector holds the place [connector.%s]", sel);
		return conn;
	}

	const char *colon = strchr(sel, ':');
	unsigned int count = 0;
	char first[128] = "", second[128] = "";
	for_each_connector(server, fe, i, conn) {
		bool hit;
		if (colon)
			hit = strlen(fe->name) == (size_t)(colon - sel) &&
				!strncmp(fe->name, sel, (size_t)(colon - sel)) &&
				!strcmp(conn->unique_id, colon + 1);
		else
			hit = !strcmp(conn->unique_id, sel);
		/* "DOMAIN:ID" may also be a unique-id of its own. */
		if (!hit && colon)
			hit = !strcmp(conn->unique_id, sel);
		if (!hit)
			continue;
		if (count == 0)
			describe(conn, first, sizeof(first));
		else if (count == 1)
			describe(conn, second, sizeof(second));
		found = conn;
		count++;
	}
	if (count == 1)
		return found;
	if (count == 0)
		snprintf(err, len, "no connector %s", sel);
	else
		snprintf(err, len, "%s names %u connectors (%s, %s%s): use domid/devid/index",
			sel, count, first, second, count > 2 ? ", ..." : "");
	return NULL;
}
