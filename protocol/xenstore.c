// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "protocol/xenstore.h"

/* Bytes of a guest's value shown in an error line, and their quoted size. */
#define SHOWN_MAX 40
#define QUOTED_MAX (SHOWN_MAX * 4 + sizeof("\"\"...")) /* all escaped */

/* ------------------------------------------------------------- messages */

/* Quote value for a log line: escaped, cut after SHOWN_MAX bytes. */
static void quote(char out[QUOTED_MAX], const char *value)
{
	size_t o = 0;
	size_t i;

	out[o++] = '"';
	for (i = 0; value[i] != '\0' && i < SHOWN_MAX; i++) {
		unsigned char c = (unsigned char)value[i];
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20 || c > 0x7e) {
			o += (size_t)snprintf(out + o, QUOTED_MAX - o, "\\x%02x", c);
		} else {
			out[o++] = (char)c;
		}
	}
	out[o++] = '"';
	if (value[i] != '\0') {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

/* `key: "value" <reason>` into err; returns ret. */
__attribute__((format(printf, 6, 7)))
static int fail_value(int ret, char *err, size_t err_len, const char *key,
		const char *value, const char *fmt, ...)
{
	char shown[QUOTED_MAX];
	va_list args;
	int n;

	if (err == NULL || err_len == 0)
		return ret;
	quote(shown, value);
	n = snprintf(err, err_len, "%s: %s ", key, shown);
	if (n < 0 || (size_t)n >= err_len)
		return ret;
	va_start(args, fmt);
	vsnprintf(err + n, err_len - (size_t)n, fmt, args);
	va_end(args);
	return ret;
}

/* `key: <reason>` into err, for a node without a value; returns ret. */
__attribute__((format(printf, 5, 6)))
static int fail_key(int ret, char *err, size_t err_len, const char *key,
		const char *fmt, ...)
{
	va_list args;
	int n;

	if (err == NULL || err_len == 0)
		return ret;
	n = snprintf(err, err_len, "%s: ", key);
	if (n < 0 || (size_t)n >= err_len)
		return ret;
	va_start(args, fmt);
	vsnprintf(err + n, err_len - (size_t)n, fmt, args);
	va_end(args);
	return ret;
}

/* -------------------------------------------------------------- numbers */

enum number {
	NUMBER_OK,
	NUMBER_EMPTY,
	NUMBER_NOT_DECIMAL,
	NUMBER_LEADING_ZERO,
	NUMBER_TOO_BIG,
};

/*
 * n bytes at s, so that path components and list items need no copy.
 * All digits are checked before the leading zero, so "0x10" is "not
 * decimal" rather than "leading zero".
 */
static enum number parse_decimal(const char *s, size_t n, uint32_t max,
		uint32_t *out)
{
	uint32_t v = 0;

	if (n == 0)
		return NUMBER_EMPTY;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return NUMBER_NOT_DECIMAL;
	}
	if (n > 1 && s[0] == '0')
		return NUMBER_LEADING_ZERO;
	for (size_t i = 0; i < n; i++) {
		uint32_t d = (uint32_t)(s[i] - '0');
		/* v * 10 + d <= max, without overflowing on the way. */
		if (d > max || v > (max - d) / 10)
			return NUMBER_TOO_BIG;
		v = v * 10 + d;
	}
	*out = v;
	return NUMBER_OK;
}

static int fail_number(enum number why, char *err, size_t err_len,
		const char *key, const char *value, uint32_t max)
{
	switch (why) {
	case NUMBER_EMPTY:
		return fail_value(-EINVAL, err, err_len, key, value, "is empty");
	case NUMBER_NOT_DECIMAL:
		return fail_value(-EINVAL, err, err_len, key, value,
			"is not a decimal number");
	case NUMBER_LEADING_ZERO:
		return fail_value(-EINVAL, err, err_len, key, value,
			"has a leading zero");
	case NUMBER_TOO_BIG:
	case NUMBER_OK:
		break;
	}
	return fail_value(-ERANGE, err, err_len, key, value,
		"is out of range (max %u)", max);
}

int dmab_xs_parse_uint(const char *key, const char *value, uint32_t max,
		uint32_t *out, char *err, size_t err_len)
{
	enum number why;

	if (value == NULL)
		return fail_key(-EINVAL, err, err_len, key, "missing");
	why = parse_decimal(value, strlen(value), max, out);
	if (why != NUMBER_OK)
		return fail_number(why, err, err_len, key, value, max);
	return 0;
}

int dmab_xs_parse_domid(const char *key, const char *value, domid_t *out,
		char *err, size_t err_len)
{
	uint32_t v;
	int ret = dmab_xs_parse_uint(key, value, DOMID_FIRST_RESERVED - 1, &v,
		err, err_len);
	if (ret < 0)
		return ret;
	*out = (domid_t)v;
	return 0;
}

int dmab_xenbus_parse_state(const char *key, const char *value,
		enum xenbus_state *out, char *err, size_t err_len)
{
	uint32_t v;
	int ret = dmab_xs_parse_uint(key, value, XenbusStateReconfigured, &v,
		err, err_len);
	if (ret < 0)
		return ret;
	*out = (enum xenbus_state)v;
	return 0;
}

const char *dmab_xenbus_state_name(enum xenbus_state state)
{
	static const char *const names[] = {
		[XenbusStateUnknown] = "Unknown",
		[XenbusStateInitialising] = "Initialising",
		[XenbusStateInitWait] = "InitWait",
		[XenbusStateInitialised] = "Initialised",
		[XenbusStateConnected] = "Connected",
		[XenbusStateClosing] = "Closing",
		[XenbusStateClosed] = "Closed",
		[XenbusStateReconfiguring] = "Reconfiguring",
		[XenbusStateReconfigured] = "Reconfigured",
	};

	if ((unsigned int)state >= sizeof(names) / sizeof(names[0]))
		return "Invalid";
	return names[state];
}

int dmab_xs_parse_resolution(const char *key, const char *value,
		uint32_t max_width, uint32_t max_height,
		uint32_t *width, uint32_t *height, char *err, size_t err_len)
{
	const char *sep;
	size_t len;
	enum number why_w, why_h;
	uint32_t w = 0, h = 0;

	if (value == NULL)
		return fail_key(-EINVAL, err, err_len, key, "missing");
	len = strlen(value);
	sep = strchr(value, XENDISPL_RESOLUTION_SEPARATOR[0]);
	if (sep == NULL)
		return fail_value(-EINVAL, err, err_len, key, value,
			"is not <width>x<height>");
	why_w = parse_decimal(value, (size_t)(sep - value), max_width, &w);
	why_h = parse_decimal(sep + 1, len - (size_t)(sep - value) - 1,
		max_height, &h);
	if ((why_w != NUMBER_OK && why_w != NUMBER_TOO_BIG) ||
			(why_h != NUMBER_OK && why_h != NUMBER_TOO_BIG))
		return fail_value(-EINVAL, err, err_len, key, value,
			"is not <width>x<height>");
	if (why_w == NUMBER_TOO_BIG)
		return fail_value(-ERANGE, err, err_len, key, value,
			"has a width above %u", max_width);
	if (why_h == NUMBER_TOO_BIG)
		return fail_value(-ERANGE, err, err_len, key, value,
			"has a height above %u", max_height);
	if (w == 0 || h == 0)
		return fail_value(-ERANGE, err, err_len, key, value,
			"has a zero %s", w == 0 ? "width" : "height");
	*width = w;
	*height = h;
	return 0;
}

/* "1,2" for a mask, for the message that says what we would have taken. */
static void mask_list(char *out, size_t len, uint32_t mask)
{
	size_t o = 0;

	out[0] = '\0';
	for (unsigned int v = 0; v < 32; v++) {
		if (!(mask & (1u << v)))
			continue;
		int n = snprintf(out + o, len - o, "%s%u", o ? "," : "", v);
		if (n < 0 || (size_t)n >= len - o)
			return;
		o += (size_t)n;
	}
}

int dmab_xs_parse_version(const char *key, const char *value,
		uint32_t supported, unsigned int *version,
		char *err, size_t err_len)
{
	unsigned int best = 0;
	const char *item;
	char list[100];

	if (value == NULL)
		return fail_key(-EINVAL, err, err_len, key, "missing");
	item = value;
	for (;;) {
		const char *end = strchr(item, XENDISPL_LIST_SEPARATOR[0]);
		size_t n = end ? (size_t)(end - item) : strlen(item);
		uint32_t v;
		enum number why = parse_decimal(item, n, UINT32_MAX, &v);

		if (why == NUMBER_TOO_BIG)
			return fail_value(-ERANGE, err, err_len, key, value,
				"has a version out of range (max %u)",
				UINT32_MAX);
		if (why != NUMBER_OK)
			return fail_value(-EINVAL, err, err_len, key, value,
				"is not a list of versions like \"%s\"",
				DMAB_XS_BACKEND_VERSIONS);
		if (v < 32 && (supported & (1u << v)) && v > best)
			best = v;
		if (end == NULL)
			break;
		item = end + 1;
	}
	if (best == 0) {
		mask_list(list, sizeof(list), supported);
		return fail_value(-EPROTONOSUPPORT, err, err_len, key, value,
			"has no version we support (%s)", list);
	}
	*version = best;
	return 0;
}

bool dmab_xs_parse_bool(const char *value)
{
	return value != NULL && strcmp(value, "1") == 0;
}

int dmab_xs_parse_unique_id(const char *key, const char *value,
		char *out, size_t out_len, char *err, size_t err_len)
{
	size_t i;

	out[0] = '\0';
	if (value == NULL)
		return fail_key(-EINVAL, err, err_len, key, "missing");
	for (i = 0; value[i] != '\0'; i++) {
		unsigned char c = (unsigned char)value[i];
		if (c < 0x20 || c > 0x7e)
			return fail_value(-EINVAL, err, err_len, key, value,
				"has a non-printable byte 0x%02x", c);
		if (i + 1 >= out_len)
			return fail_value(-ERANGE, err, err_len, key, value,
				"is longer than %zu bytes", out_len - 1);
	}
	memcpy(out, value, i + 1);
	return 0;
}

/* ---------------------------------------------------------------- paths */

__attribute__((format(printf, 3, 4)))
static int path_printf(char *buf, size_t len, const char *fmt, ...)
{
	va_list args;
	int n;

	if (len == 0)
		return -ENAMETOOLONG;
	va_start(args, fmt);
	n = vsnprintf(buf, len, fmt, args);
	va_end(args);
	if (n < 0 || (size_t)n >= len) {
		buf[0] = '\0';
		return -ENAMETOOLONG;
	}
	return 0;
}

int dmab_xs_backend_root(char *buf, size_t len, domid_t be)
{
	return path_printf(buf, len, "/local/domain/%u/backend/%s",
		(unsigned int)be, XENDISPL_DRIVER_NAME);
}

int dmab_xs_backend_dir(char *buf, size_t len, domid_t be, domid_t fe,
		uint32_t devid)
{
	return path_printf(buf, len, "/local/domain/%u/backend/%s/%u/%u",
		(unsigned int)be, XENDISPL_DRIVER_NAME, (unsigned int)fe, devid);
}

int dmab_xs_domain_name(char *buf, size_t len, domid_t domid)
{
	return path_printf(buf, len, "/local/domain/%u/name", (unsigned int)domid);
}

int dmab_xs_frontend_dir(char *buf, size_t len, domid_t fe, uint32_t devid)
{
	return path_printf(buf, len, "/local/domain/%u/device/%s/%u",
		(unsigned int)fe, XENDISPL_DRIVER_NAME, devid);
}

int dmab_xs_connector_dir(char *buf, size_t len, const char *fe_dir,
		uint32_t conn)
{
	return path_printf(buf, len, "%s/%u", fe_dir, conn);
}

int dmab_xs_join(char *buf, size_t len, const char *dir, const char *key)
{
	return path_printf(buf, len, "%s/%s", dir, key);
}

/* One component at *p ("12" of "12/..."), moving *p to what follows it. */
static int path_number(const char **p, uint32_t max, uint32_t *out)
{
	const char *end = strchr(*p, '/');
	size_t n = end ? (size_t)(end - *p) : strlen(*p);

	if (parse_decimal(*p, n, max, out) != NUMBER_OK)
		return -EINVAL;
	*p += n;
	return 0;
}

int dmab_xs_parse_backend_path(const char *root, const char *path,
		domid_t *fe, uint32_t *devid, const char **rest)
{
	size_t root_len = strlen(root);
	const char *p = path;
	uint32_t fe_v, dev_v;

	if (strncmp(path, root, root_len) != 0)
		return -EINVAL;
	p += root_len;
	if (*p == '\0')
		return -ENOENT;
	if (*p++ != '/')
		return -EINVAL;
	if (path_number(&p, DOMID_FIRST_RESERVED - 1, &fe_v) < 0)
		return -EINVAL;
	if (*p == '\0')
		return -ENOENT;
	p++;
	if (path_number(&p, UINT32_MAX, &dev_v) < 0)
		return -EINVAL;
	if (*p == '/') {
		p++;
		/* Nothing empty in the rest: no "//", no trailing '/'. */
		if (*p == '\0' || *p == '/' || strstr(p, "//") != NULL ||
				p[strlen(p) - 1] == '/')
			return -EINVAL;
	}
	*fe = (domid_t)fe_v;
	*devid = dev_v;
	*rest = p;
	return 0;
}

/* -------------------------------------------------------- configuration */

/*
 * Read <dir>/<key>. Missing is -ENOENT with no message (the caller knows
 * whether that is an error); other failures name the key.
 */
static int read_node(dmab_xs_read_fn read, void *data, const char *dir,
		const char *key, char *value, char *err, size_t err_len)
{
	char path[DMAB_XS_PATH_MAX];
	int ret;

	ret = dmab_xs_join(path, sizeof(path), dir, key);
	if (ret < 0)
		return fail_key(ret, err, err_len, key, "path too long");
	ret = read(data, path, value, DMAB_XS_VALUE_MAX);
	if (ret == -ENOENT)
		return ret;
	if (ret == -E2BIG)
		return fail_key(ret, err, err_len, key,
			"value longer than %d bytes", DMAB_XS_VALUE_MAX - 1);
	if (ret < 0)
		return fail_key(ret, err, err_len, key,
			"cannot be read (error %d)", -ret);
	/* The callback promised a NUL; do not bet on it. */
	value[DMAB_XS_VALUE_MAX - 1] = '\0';
	return 0;
}

int dmab_xs_read_config(dmab_xs_read_fn read, void *data, const char *fe_dir,
		const struct dmab_xs_limits *limits, struct dmab_xs_config *config,
		char *err, size_t err_len)
{
	char value[DMAB_XS_VALUE_MAX];
	char key[32];
	uint32_t n;
	int ret;

	memset(config, 0, sizeof(*config));
	if (limits->max_connectors == 0 ||
			limits->max_connectors > DMAB_XS_CONNECTORS_MAX)
		return fail_key(-EINVAL, err, err_len, "limits",
			"max_connectors %u is not in 1..%d",
			limits->max_connectors, DMAB_XS_CONNECTORS_MAX);

	ret = read_node(read, data, fe_dir, XENDISPL_FIELD_BE_ALLOC, value,
		err, err_len);
	if (ret < 0 && ret != -ENOENT)
		return ret;
	config->be_alloc = ret == 0 && dmab_xs_parse_bool(value);

	/* One past the limit, to tell "exactly max" from "more than max". */
	for (n = 0; n <= limits->max_connectors; n++) {
		struct dmab_xs_connector_config *c = &config->connectors[n];

		snprintf(key, sizeof(key), "%u/%s", n,
			XENDISPL_FIELD_RESOLUTION);
		ret = read_node(read, data, fe_dir, key, value, err, err_len);
		if (ret == -ENOENT)
			break;
		if (ret < 0)
			return ret;
		if (n == limits->max_connectors)
			return fail_key(-E2BIG, err, err_len, key,
				"more than %u connectors",
				limits->max_connectors);
		ret = dmab_xs_parse_resolution(key, value, limits->max_width,
			limits->max_height, &c->width, &c->height,
			err, err_len);
		if (ret < 0)
			return ret;

		snprintf(key, sizeof(key), "%u/%s", n,
			XENDISPL_FIELD_UNIQUE_ID);
		ret = read_node(read, data, fe_dir, key, value, err, err_len);
		if (ret == -ENOENT)
			continue;
		if (ret < 0)
			return ret;
		ret = dmab_xs_parse_unique_id(key, value, c->unique_id,
			sizeof(c->unique_id), err, err_len);
		if (ret < 0)
			return ret;
	}
	if (n == 0)
		return fail_key(-ENOENT, err, err_len, "0/" XENDISPL_FIELD_RESOLUTION,
			"missing: no connector configured");
	config->connector_count = n;
	return 0;
}

/* A grant ref or event channel port: required, uint32, never 0. */
static int read_handle(dmab_xs_read_fn read, void *data, const char *fe_dir,
		uint32_t conn, const char *field, const char *what,
		uint32_t *out, char *err, size_t err_len)
{
	char value[DMAB_XS_VALUE_MAX];
	char key[48];
	int ret;

	snprintf(key, sizeof(key), "%u/%s", conn, field);
	ret = read_node(read, data, fe_dir, key, value, err, err_len);
	if (ret == -ENOENT)
		return fail_key(ret, err, err_len, key, "missing");
	if (ret < 0)
		return ret;
	ret = dmab_xs_parse_uint(key, value, UINT32_MAX, out, err, err_len);
	if (ret < 0)
		return ret;
	if (*out == 0)
		return fail_value(-ERANGE, err, err_len, key, value,
			"is not a valid %s", what);
	return 0;
}

int dmab_xs_read_transport(dmab_xs_read_fn read, void *data,
		const char *fe_dir, uint32_t connector_count,
		struct dmab_xs_transport *transport, char *err, size_t err_len)
{
	char value[DMAB_XS_VALUE_MAX];
	int ret;

	memset(transport, 0, sizeof(*transport));
	if (connector_count == 0 || connector_count > DMAB_XS_CONNECTORS_MAX)
		return fail_key(-EINVAL, err, err_len, "connector_count",
			"%u is not in 1..%d", connector_count,
			DMAB_XS_CONNECTORS_MAX);

	ret = read_node(read, data, fe_dir, XENDISPL_FIELD_FE_VERSION, value,
		err, err_len);
	if (ret == -ENOENT) {
		transport->version = DMAB_XS_PROTOCOL_MAX;
		transport->version_missing = true;
	} else if (ret < 0) {
		return ret;
	} else {
		ret = dmab_xs_parse_version(XENDISPL_FIELD_FE_VERSION, value,
			DMAB_XS_PROTOCOL_MASK, &transport->version,
			err, err_len);
		if (ret < 0)
			return ret;
	}

	for (uint32_t n = 0; n < connector_count; n++) {
		struct dmab_xs_connector_transport *c = &transport->connectors[n];

		ret = read_handle(read, data, fe_dir, n,
			XENDISPL_FIELD_REQ_RING_REF, "grant reference",
			&c->req_ring_ref, err, err_len);
		if (ret == 0)
			ret = read_handle(read, data, fe_dir, n,
				XENDISPL_FIELD_REQ_CHANNEL, "event channel",
				&c->req_evtchn, err, err_len);
		if (ret == 0)
			ret = read_handle(read, data, fe_dir, n,
				XENDISPL_FIELD_EVT_RING_REF, "grant reference",
				&c->evt_ring_ref, err, err_len);
		if (ret == 0)
			ret = read_handle(read, data, fe_dir, n,
				XENDISPL_FIELD_EVT_CHANNEL, "event channel",
				&c->evt_evtchn, err, err_len);
		if (ret < 0)
			return ret;
	}
	transport->connector_count = connector_count;
	return 0;
}

/* --------------------------------------------------------- xenbus steps */

enum dmab_xenbus_be_action dmab_xenbus_backend_step(enum xenbus_state be,
		enum xenbus_state fe, bool online)
{
	if ((unsigned int)fe > XenbusStateReconfigured)
		fe = XenbusStateClosed;
	if (be == XenbusStateUnknown || fe == XenbusStateUnknown)
		return DMAB_XENBUS_BE_REMOVE;

	if (!online) {
		if (fe == XenbusStateClosed)
			return DMAB_XENBUS_BE_REMOVE;
		switch (be) {
		case XenbusStateClosing:
			return DMAB_XENBUS_BE_CLOSED;
		case XenbusStateClosed:
			return DMAB_XENBUS_BE_NONE;
		default:
			return DMAB_XENBUS_BE_DISCONNECT;
		}
	}

	switch (be) {
	case XenbusStateInitialising:
		switch (fe) {
		case XenbusStateConnected:
		case XenbusStateReconfiguring:
		case XenbusStateReconfigured:
			return DMAB_XENBUS_BE_CLOSED;
		default:
			return DMAB_XENBUS_BE_INIT_WAIT;
		}
	case XenbusStateInitWait:
		switch (fe) {
		case XenbusStateInitialised:
		case XenbusStateConnected:
			return DMAB_XENBUS_BE_CONNECT;
		case XenbusStateReconfiguring:
		case XenbusStateReconfigured:
			return DMAB_XENBUS_BE_CLOSED;
		default:
			return DMAB_XENBUS_BE_NONE;
		}
	case XenbusStateConnected:
		switch (fe) {
		case XenbusStateInitialised:
		case XenbusStateConnected:
			return DMAB_XENBUS_BE_NONE;
		default:
			return DMAB_XENBUS_BE_DISCONNECT;
		}
	case XenbusStateClosing:
		return DMAB_XENBUS_BE_CLOSED;
	case XenbusStateClosed:
		switch (fe) {
		case XenbusStateInitialising:
		case XenbusStateInitWait:
		case XenbusStateClosing:
			return DMAB_XENBUS_BE_RECONNECT;
		default:
			return DMAB_XENBUS_BE_NONE;
		}
	default:
		/* Initialised, Reconfiguring, Reconfigured: not ours to be in. */
		return DMAB_XENBUS_BE_DISCONNECT;
	}
}

enum dmab_xenbus_fe_action dmab_xenbus_frontend_step(enum xenbus_state fe,
		enum xenbus_state be)
{
	/* The backend is gone, restarted, or done releasing. */
	bool be_released = be == XenbusStateUnknown ||
		be == XenbusStateInitialising || be == XenbusStateInitWait ||
		be == XenbusStateClosed;

	switch (fe) {
	case XenbusStateInitialising:
	case XenbusStateInitWait:
		return be == XenbusStateInitWait ? DMAB_XENBUS_FE_PUBLISH :
			DMAB_XENBUS_FE_NONE;
	case XenbusStateInitialised:
		if (be == XenbusStateConnected)
			return DMAB_XENBUS_FE_CONNECT;
		/* Our keys are published and the backend is waiting for them. */
		if (be == XenbusStateInitWait)
			return DMAB_XENBUS_FE_NONE;
		return be_released ? DMAB_XENBUS_FE_TEARDOWN : DMAB_XENBUS_FE_NONE;
	case XenbusStateConnected:
		return be_released ? DMAB_XENBUS_FE_TEARDOWN : DMAB_XENBUS_FE_NONE;
	case XenbusStateClosing:
		return be_released ? DMAB_XENBUS_FE_CLOSED : DMAB_XENBUS_FE_NONE;
	default:
		return DMAB_XENBUS_FE_NONE;
	}
}
