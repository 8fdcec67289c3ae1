// SPDX-License-Identifier: MIT
#include <errno.h>
#include <ini.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "server/config.h"

/* The longest section name inih keeps whole (it cuts at 49 octets). */
#define INI_SECTION_MAX 48
/* Xen's first reserved domain id (DOMID_FIRST_RESERVED). */
#define DOMID_LIMIT 0x7ff0

void dmab_config_defaults(struct dmab_config *config)
{
	memset(config, 0, sizeof(*config));
#ifdef DMAB_HAVE_SIM
	config->hv = DMAB_HV_KIND_SIM;
#else
	config->hv = DMAB_HV_KIND_XEN;
#endif
	config->log_level = DMAB_LOG_INFO;
	snprintf(config->outputs[0], sizeof(config->outputs[0]), "headless");
	config->noutputs = 1;
	config->screens[0] = (struct dmab_headless_screen_config){
		.name = "main", .width = 1920, .height = 1080, .refresh_mhz = 60000,
	};
	config->nscreens = 1;
	config->drm.overlay_planes = -1;
	config->limits = (struct dmab_config_limits){
		.max_buffers = 32,
		.max_framebuffers = 64,
		.max_buffer_bytes = 64u << 20,
		.max_bytes = 256ull << 20,
		.max_width = 8192,
		.max_height = 8192,
		.max_connectors = 8,
		.requests_per_second = 2000,
	};
	config->release_timeout_ms = 2500;
}

struct parse {
	struct dmab_config *config;
	char *err;
	size_t len;
	const char *path;
	bool screens_from_file;
	bool failed;
	char why[160];
};

static bool parse_u64(const char *value, uint64_t max, uint64_t *out)
{
	if (value[0] < '0' || value[0] > '9')
		return false;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(value, &end, 10);
	if (errno || *end || v > max)
		return false;
	*out = v;
	return true;
}

static bool parse_i32(const char *value, int32_t *out)
{
	char *end;
	errno = 0;
	long v = strtol(value, &end, 10);
	if (errno || *end || end == value || v < INT32_MIN || v > INT32_MAX)
		return false;
	*out = (int32_t)v;
	return true;
}

static bool parse_bool(const char *value, bool *out)
{
	if (!strcmp(value, "true") || !strcmp(value, "yes") || !strcmp(value, "1")) {
		*out = true;
		return true;
	}
	if (!strcmp(value, "false") || !strcmp(value, "no") || !strcmp(value, "0")) {
		*out = false;
		return true;
	}
	return false;
}

static bool copy_str(char *dst, size_t size, const char *value)
{
	size_t n = strlen(value);
	if (n == 0 || n >= size)
		return false;
	memcpy(dst, value, n + 1);
	return true;
}

/* "headless", or several: "drm headless" (commas or spaces between). */
static bool parse_outputs(struct dmab_config *c, const char *value)
{
	static const char *const known[] = { "headless", "drm", "wayland" };
	unsigned int n = 0;
	char names[DMAB_MAX_OUTPUTS][16];
	const char *p = value;
	while (*p) {
		size_t len = strcspn(p, ", ");
		if (len) {
			bool ok = false;
			for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
				ok = ok || (strlen(known[i]) == len && !strncmp(p, known[i], len));
			for (unsigned int i = 0; i < n && ok; i++)
				ok = strlen(names[i]) != len || strncmp(p, names[i], len);
			if (!ok || n == DMAB_MAX_OUTPUTS)
				return false;
			snprintf(names[n++], sizeof(names[0]), "%.*s", (int)len, p);
		}
		p += len;
		p += strspn(p, ", ");
	}
	if (n == 0)
		return false;
	memcpy(c->outputs, names, sizeof(names));
	c->noutputs = n;
	return true;
}

static bool server_key(struct dmab_config *c, const char *name, const char *value)
{
	if (!strcmp(name, "hypervisor")) {
		if (!strcmp(value, "sim"))
			c->hv = DMAB_HV_KIND_SIM;
		else if (!strcmp(value, "xen"))
			c->hv = DMAB_HV_KIND_XEN;
		else
			return false;
		return true;
	}
	if (!strcmp(name, "sim-socket"))
		return copy_str(c->sim_socket, sizeof(c->sim_socket), value);
	if (!strcmp(name, "control-socket"))
		return copy_str(c->control_socket, sizeof(c->control_socket), value);
	if (!strcmp(name, "log-level"))
		return dmab_log_level_parse(value, &c->log_level) == 0;
	if (!strcmp(name, "output"))
		return parse_outputs(c, value);
	if (!strcmp(name, "release-timeout-ms")) {
		uint64_t v;
		if (!parse_u64(value, 2900, &v) || v == 0)
			return false; /* below Linux's 3000 ms response timeout */
		c->release_timeout_ms = (uint32_t)v;
		return true;
	}
	return false;
}

static bool limits_key(struct dmab_config_limits *l, const char *name, const char *value)
{
	static const struct {
		const char *name;
		size_t offset;
		bool wide;
		uint64_t min, max;
	} keys[] = {
		{ "max-buffers", offsetof(struct dmab_config_limits, max_buffers), false, 1, 4096 },
		{ "max-framebuffers", offsetof(struct dmab_config_limits, max_framebuffers), false, 1, 4096 },
		{ "max-buffer-bytes", offsetof(struct dmab_config_limits, max_buffer_bytes), false, 4096, UINT32_MAX },
		{ "max-bytes", offsetof(struct dmab_config_limits, max_bytes), true, 4096, UINT64_MAX },
		{ "max-width", offsetof(struct dmab_config_limits, max_width), false, 1, 16384 },
		{ "max-height", offsetof(struct dmab_config_limits, max_height), false, 1, 16384 },
		{ "max-connectors", offsetof(struct dmab_config_limits, max_connectors), false, 1, 16 },
		{ "requests-per-second", offsetof(struct dmab_config_limits, requests_per_second), false, 0, 1000000 },
	};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (strcmp(name, keys[i].name))
			continue;
		uint64_t v;
		if (!parse_u64(value, keys[i].max, &v) || v < keys[i].min)
			return false;
		if (keys[i].wide)
			*(uint64_t *)(void *)((char *)l + keys[i].offset) = v;
		else
			*(uint32_t *)(void *)((char *)l + keys[i].offset) = (uint32_t)v;
		return true;
	}
	return false;
}

static bool screen_key(struct dmab_headless_screen_config *s, const char *name, const char *value)
{
	uint64_t v;
	if (!strcmp(name, "width") || !strcmp(name, "height")) {
		if (!parse_u64(value, 16384, &v) || v == 0)
			return false;
		*(!strcmp(name, "width") ? &s->width : &s->height) = (uint32_t)v;
		return true;
	}
	if (!strcmp(name, "refresh")) {
		if (!parse_u64(value, 240, &v) || v == 0)
			return false;
		s->refresh_mhz = (uint32_t)v * 1000;
		return true;
	}
	if (!strcmp(name, "repaint-window-ms")) {
		if (!parse_u64(value, 100, &v) || v == 0)
			return false;
		s->repaint_window_us = (uint32_t)v * 1000;
		return true;
	}
	if (!strcmp(name, "verify"))
		return parse_bool(value, &s->verify);
	if (!strcmp(name, "planes")) {
		if (!parse_u64(value, 64, &v))
			return false;
		s->planes = (uint32_t)v;
		return true;
	}
	return false;
}

/*
 * 1 to max printable ASCII characters, what dmabridged keeps of unique-ids
 * and domain names; labels (section names) without spaces.
 */
static bool valid_id(const char *value, size_t max, bool spaces)
{
	size_t n = 0;
	for (const char *c = value; *c; c++, n++) {
		if (*c < 0x20 || *c > 0x7e || (*c == ' ' && !spaces))
			return false;
	}
	return n >= 1 && n <= max;
}

static bool copy_id(char *dst, size_t size, const char *value)
{
	return valid_id(value, size - 1, true) && copy_str(dst, size, value);
}

static bool drm_key(struct dmab_drm_config *d, const char *name, const char *value)
{
	if (!strcmp(name, "device"))
		return value[0] == '/' && copy_str(d->device, sizeof(d->device), value);
	if (!strcmp(name, "repaint-window-ms")) {
		uint64_t v;
		if (!parse_u64(value, 100, &v) || v == 0)
			return false;
		d->repaint_window_us = (uint32_t)v * 1000;
		return true;
	}
	if (!strcmp(name, "overlay-planes")) {
		uint64_t v;
		if (!strcmp(value, "all")) {
			d->overlay_planes = -1;
			return true;
		}
		if (!parse_u64(value, 1024, &v))
			return false;
		d->overlay_planes = (int32_t)v;
		return true;
	}
	return false;
}

static bool wayland_key(struct dmab_wayland_config *w, const char *name, const char *value)
{
	if (!strcmp(name, "display"))
		return copy_str(w->display, sizeof(w->display), value);
	if (!strcmp(name, "repaint-window-ms")) {
		uint64_t v;
		if (!parse_u64(value, 100, &v) || v == 0)
			return false;
		w->repaint_window_us = (uint32_t)v * 1000;
		return true;
	}
	if (!strcmp(name, "dmabuf") || !strcmp(name, "presentation")) {
		bool on;
		if (!parse_bool(value, &on))
			return false;
		*(!strcmp(name, "dmabuf") ? &w->no_dmabuf : &w->no_presentation) = !on;
		return true;
	}
	return false;
}

static bool window_key(struct dmab_wayland_window_config *w, const char *name,
		const char *value)
{
	uint64_t v;
	if (!strcmp(name, "width") || !strcmp(name, "height")) {
		if (!parse_u64(value, 16384, &v) || v == 0)
			return false;
		*(!strcmp(name, "width") ? &w->width : &w->height) = (uint32_t)v;
		return true;
	}
	if (!strcmp(name, "title"))
		return valid_id(value, sizeof(w->title) - 1, true) &&
			copy_str(w->title, sizeof(w->title), value);
	if (!strcmp(name, "fullscreen"))
		return parse_bool(value, &w->fullscreen);
	if (!strcmp(name, "wl-output"))
		return copy_str(w->wl_output, sizeof(w->wl_output), value);
	if (!strcmp(name, "ivi-id")) {
		if (!parse_u64(value, UINT32_MAX, &v))
			return false;
		w->has_ivi_id = true;
		w->ivi_id = (uint32_t)v;
		return true;
	}
	return false;
}

static struct dmab_wayland_window_config *window_named(struct parse *p, const char *name)
{
	struct dmab_wayland_config *wl = &p->config->wayland;
	for (unsigned int i = 0; i < wl->nwindows; i++) {
		if (!strcmp(wl->windows[i].name, name))
			return &wl->windows[i];
	}
	if (wl->nwindows == DMAB_WAYLAND_MAX_WINDOWS || !valid_id(name, DMAB_SCREEN_NAME_MAX,
			false))
		return NULL;
	struct dmab_wayland_window_config *w = &wl->windows[wl->nwindows++];
	*w = (struct dmab_wayland_window_config){ .width = 1280, .height = 720 };
	snprintf(w->name, sizeof(w->name), "%s", name);
	return w;
}

static bool place_key(struct dmab_config_place *p, const char *name, const char *value)
{
	if (!strcmp(name, "unique-id"))
		return copy_id(p->unique_id, sizeof(p->unique_id), value);
	if (!strcmp(name, "domain"))
		return copy_id(p->domain, sizeof(p->domain), value);
	if (!strcmp(name, "domid")) {
		uint64_t v;
		if (!parse_u64(value, DOMID_LIMIT - 1, &v))
			return false;
		p->has_domid = true;
		p->domid = (uint16_t)v;
		return true;
	}
	if (!strcmp(name, "screen"))
		return copy_str(p->screen, sizeof(p->screen), value);
	if (!strcmp(name, "x") || !strcmp(name, "y")) {
		p->has_position = true;
		return parse_i32(value, !strcmp(name, "x") ? &p->x : &p->y);
	}
	if (!strcmp(name, "z"))
		return parse_i32(value, &p->z);
	if (!strcmp(name, "width") || !strcmp(name, "height")) {
		uint64_t v;
		if (!parse_u64(value, 16384, &v) || v == 0)
			return false;
		*(!strcmp(name, "width") ? &p->width : &p->height) = (uint32_t)v;
		return true;
	}
	if (!strcmp(name, "visible"))
		return parse_bool(value, &p->visible);
	return false;
}

static struct dmab_headless_screen_config *screen_named(struct parse *p, const char *name)
{
	struct dmab_config *c = p->config;
	if (!p->screens_from_file) {
		/* The first [screen.*] replaces the default screen. */
		c->nscreens = 0;
		p->screens_from_file = true;
	}
	for (unsigned int i = 0; i < c->nscreens; i++) {
		if (!strcmp(c->screens[i].name, name))
			return &c->screens[i];
	}
	if (c->nscreens == DMAB_MAX_SCREENS || !name[0] ||
			strlen(name) >= sizeof(c->screens[0].name))
		return NULL;
	struct dmab_headless_screen_config *s = &c->screens[c->nscreens++];
	*s = (struct dmab_headless_screen_config){ .width = 1920, .height = 1080, .refresh_mhz = 60000 };
	snprintf(s->name, sizeof(s->name), "%s", name);
	return s;
}

static struct dmab_config_place *place_for(struct parse *p, const char *label)
{
	struct dmab_config *c = p->config;
	for (unsigned int i = 0; i < c->nplaces; i++) {
		if (!strcmp(c->places[i].label, label))
			return &c->places[i];
	}
	if (c->nplaces == DMAB_CONFIG_MAX_PLACES) {
		snprintf(p->why, sizeof(p->why), "more than %d [connector.*] sections",
			DMAB_CONFIG_MAX_PLACES);
		return NULL;
	}
	if (!valid_id(label, DMAB_CONFIG_LABEL_MAX, false)) {
		snprintf(p->why, sizeof(p->why), "[connector.%s]: a label is 1 to %d printable "
			"characters (use unique-id = for a longer unique-id)", label,
			DMAB_CONFIG_LABEL_MAX);
		return NULL;
	}
	struct dmab_config_place *pl = &c->places[c->nplaces++];
	*pl = (struct dmab_config_place){ .visible = true };
	snprintf(pl->label, sizeof(pl->label), "%s", label);
	return pl;
}

static int handle_ini(void *user, const char *section, const char *name,
		const char *value)
{
	struct parse *p = user;
	struct dmab_config *c = p->config;
	bool ok = false;

	if (strlen(section) >= INI_SECTION_MAX) {
		/* inih may have cut it: it could name anything. */
		if (!p->failed)
			snprintf(p->why, sizeof(p->why), "[%s...]: section names are at most %d "
				"characters", section, INI_SECTION_MAX - 1);
		p->failed = true;
		return 0;
	}
	if (!strcmp(section, "server")) {
		ok = server_key(c, name, value);
	} else if (!strcmp(section, "limits")) {
		ok = limits_key(&c->limits, name, value);
	} else if (!strcmp(section, "drm")) {
		ok = drm_key(&c->drm, name, value);
	} else if (!strcmp(section, "wayland")) {
		ok = wayland_key(&c->wayland, name, value);
	} else if (!strncmp(section, "window.", 7)) {
		struct dmab_wayland_window_config *w = window_named(p, section + 7);
		ok = w && window_key(w, name, value);
	} else if (!strncmp(section, "screen.", 7)) {
		struct dmab_headless_screen_config *s = screen_named(p, section + 7);
		ok = s && screen_key(s, name, value);
	} else if (!strncmp(section, "connector.", 10)) {
		struct dmab_config_place *pl = place_for(p, section + 10);
		if (!pl) {
			if (!p->failed)
				p->failed = true;
			return 0;
		}
		ok = place_key(pl, name, value);
	}
	if (!ok && !p->failed) {
		snprintf(p->why, sizeof(p->why), "[%s] %s = %s is not understood",
			section, name, value);
		p->failed = true;
	}
	return ok;
}

int dmab_config_load(struct dmab_config *config, const char *path, char *err, size_t len)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		int ret = -errno;
		snprintf(err, len, "%s: %s", path, dmab_strerror(ret));
		return ret;
	}
	/*
	 * fopen() takes a directory, and reading it is an error inih does not
	 * report. A pipe is fine (dmabridged -c <(make-config)).
	 */
	struct stat st;
	int ret = fstat(fileno(f), &st) < 0 ? -errno : 0;
	if (ret == 0 && !S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode))
		ret = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
	if (ret) {
		snprintf(err, len, "%s: %s", path, ret == -EINVAL ? "not a file" :
			dmab_strerror(ret));
		fclose(f);
		return ret;
	}
	struct parse p = { .config = config, .err = err, .len = len, .path = path };
	/* inih goes on after a line the handler refuses, and reports the first. */
	int line = ini_parse_file(f, handle_ini, &p);
	int read_error = ferror(f) ? -EIO : 0;
	fclose(f);
	if (read_error) {
		snprintf(err, len, "%s: %s", path, dmab_strerror(read_error));
		return read_error;
	}
	if (line != 0) {
		snprintf(err, len, "%s:%d: %s", path, line, p.failed ? p.why : "not INI syntax");
		return -EINVAL;
	}
	for (unsigned int i = 0; i < config->nplaces; i++) {
		struct dmab_config_place *pl = &config->places[i];
		if (!pl->unique_id[0])
			memcpy(pl->unique_id, pl->label, sizeof(pl->label));
	}
	for (unsigned int i = 0; i < config->nplaces; i++) {
		for (unsigned int j = 0; j < i; j++) {
			const struct dmab_config_place *a = &config->places[j], *b = &config->places[i];
			if (!strcmp(a->unique_id, b->unique_id) && !strcmp(a->domain, b->domain) &&
					a->has_domid == b->has_domid && a->domid == b->domid) {
				snprintf(err, len, "%s: [connector.%s] and [connector.%s] are both for "
					"unique-id %s%s%s", path, a->label, b->label, a->unique_id,
					a->domain[0] || a->has_domid ? " of the same domain" : "",
					a->domain[0] || a->has_domid ? "" : " of any domain");
				return -EINVAL;
			}
		}
	}
	/*
	 * Headless screens and Wayland windows are known now; a KMS output's
	 * come with its connectors.
	 */
	bool headless = false, wayland = false, known = true;
	for (unsigned int i = 0; i < config->noutputs; i++) {
		headless = headless || !strcmp(config->outputs[i], "headless");
		wayland = wayland || !strcmp(config->outputs[i], "wayland");
		known = known && (!strcmp(config->outputs[i], "headless") ||
			!strcmp(config->outputs[i], "wayland"));
	}
	if (wayland && config->wayland.nwindows == 0) {
		/* One window by default, like the one headless screen. */
		config->wayland.windows[0] = (struct dmab_wayland_window_config){
			.name = "main", .width = 1280, .height = 720,
		};
		config->wayland.nwindows = 1;
	}
	for (unsigned int i = 0; i < config->wayland.nwindows && headless && wayland; i++) {
		for (unsigned int j = 0; j < config->nscreens; j++) {
			if (!strcmp(config->screens[j].name, config->wayland.windows[i].name)) {
				snprintf(err, len, "%s: [window.%s] and [screen.%s] have the same name",
					path, config->screens[j].name, config->screens[j].name);
				return -EINVAL;
			}
		}
	}
	for (unsigned int i = 0; i < config->nplaces && known; i++) {
		const char *screen = config->places[i].screen;
		bool found = !screen[0];
		for (unsigned int j = 0; j < config->nscreens && !found && headless; j++)
			found = !strcmp(config->screens[j].name, screen);
		for (unsigned int j = 0; j < config->wayland.nwindows && !found && wayland; j++)
			found = !strcmp(config->wayland.windows[j].name, screen);
		if (!found) {
			snprintf(err, len, "%s: [connector.%s] names screen \"%s\", which is not configured",
				path, config->places[i].label, screen);
			return -EINVAL;
		}
	}
	return 0;
}

void dmab_config_apply_cli(struct dmab_config *config, const struct dmab_config_cli *cli)
{
	if (cli->hv_set)
		config->hv = cli->hv;
	if (cli->sim_socket[0])
		memcpy(config->sim_socket, cli->sim_socket, sizeof(config->sim_socket));
	if (cli->control_socket[0])
		memcpy(config->control_socket, cli->control_socket, sizeof(config->control_socket));
	if (cli->nscreens) {
		memcpy(config->screens, cli->screens, sizeof(config->screens));
		config->nscreens = cli->nscreens;
	}
	if (cli->log_level_set)
		config->log_level = cli->log_level;
}

bool dmab_config_place_bound(const struct dmab_config_place *place)
{
	return place->domain[0] || place->has_domid;
}

bool dmab_config_place_matches(const struct dmab_config_place *place, uint16_t domid,
		const char *domain_name, const char *unique_id)
{
	if (strcmp(place->unique_id, unique_id))
		return false;
	if (place->has_domid && place->domid != domid)
		return false;
	return !place->domain[0] || (domain_name && !strcmp(place->domain, domain_name));
}

const struct dmab_config_place *dmab_config_find_place(const struct dmab_config *config,
		const char *label)
{
	for (unsigned int i = 0; i < config->nplaces; i++) {
		if (!strcmp(config->places[i].label, label))
			return &config->places[i];
	}
	return NULL;
}
