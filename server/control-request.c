// SPDX-License-Identifier: MIT
#include <errno.h>
#include <json.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "server/control-request.h"

/*
 * A request is one object of scalars. One level more, so that an array or
 * object given for a scalar is named as such; deeper is refused at once.
 */
#define MAX_DEPTH 3
/* Octets of a client's text quoted back in an error. */
#define QUOTE_MAX 40

static int fail(char *error, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(char *error, const char *fmt, ...)
{
	va_list args;
	va_start(args, fmt);
	vsnprintf(error, DMAB_CTL_ERROR_MAX, fmt, args);
	va_end(args);
	return -EINVAL;
}

/*
 * A client's text, fit to quote in an answer and a log line: printable
 * ASCII only (no newline can forge a log line), at most QUOTE_MAX octets.
 */
static const char *quote(char out[QUOTE_MAX + 4], const char *text)
{
	size_t n = 0;
	for (; text[n] && n < QUOTE_MAX; n++) {
		unsigned char c = (unsigned char)text[n];
		out[n] = c >= 0x20 && c < 0x7f && c != '"' && c != '\\' ? (char)c : '?';
	}
	out[n] = '\0';
	if (text[n])
		strcat(out, "...");
	return out;
}

static const char *type_name(json_object *v)
{
	return json_type_to_name(json_object_get_type(v));
}

static int get_name(json_object *v, const char *key, char *out, char *error)
{
	if (!json_object_is_type(v, json_type_string))
		return fail(error, "\"%s\" must be a string, not %s", key, type_name(v));
	const char *s = json_object_get_string(v);
	int len = json_object_get_string_len(v);
	if (len == 0)
		return fail(error, "\"%s\" is empty", key);
	if (len > DMAB_CTL_NAME_MAX)
		return fail(error, "\"%s\" is longer than %d octets", key, DMAB_CTL_NAME_MAX);
	for (int i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return fail(error, "\"%s\" holds a control character", key);
	}
	memcpy(out, s, (size_t)len);
	out[len] = '\0';
	return 0;
}

static int get_int32(json_object *v, const char *key, int32_t *out, char *error)
{
	if (!json_object_is_type(v, json_type_int))
		return fail(error, "\"%s\" must be an integer, not %s", key, type_name(v));
	/* json-c saturates what int64 cannot hold: still out of range below. */
	int64_t n = json_object_get_int64(v);
	if (n < INT32_MIN || n > INT32_MAX)
		return fail(error, "\"%s\" is outside %d..%d", key, INT32_MIN, INT32_MAX);
	*out = (int32_t)n;
	return 0;
}

static int get_size(json_object *v, const char *key, uint32_t *out, char *error)
{
	if (!json_object_is_type(v, json_type_int))
		return fail(error, "\"%s\" must be an integer, not %s", key, type_name(v));
	int64_t n = json_object_get_int64(v);
	if (n < 0 || n > DMAB_CTL_PLACE_MAX)
		return fail(error, "\"%s\" is outside 0..%d", key, DMAB_CTL_PLACE_MAX);
	*out = (uint32_t)n;
	return 0;
}

static int get_bool(json_object *v, const char *key, bool *out, char *error)
{
	if (!json_object_is_type(v, json_type_boolean))
		return fail(error, "\"%s\" must be true or false, not %s", key, type_name(v));
	*out = json_object_get_boolean(v);
	return 0;
}

static int parse_screenshot(json_object *root, struct dmab_ctl_screenshot *shot, char *error)
{
	static const struct {
		const char *key;
		enum dmab_ctl_target target;
	} targets[] = {
		{ "screen", DMAB_CTL_TARGET_SCREEN },
		{ "connector", DMAB_CTL_TARGET_CONNECTOR },
		{ "target", DMAB_CTL_TARGET_ANY },
	};
	char q[QUOTE_MAX + 4];
	shot->target = DMAB_CTL_TARGET_FIRST_SCREEN;
	json_object_object_foreach(root, key, v) {
		if (!strcmp(key, "cmd"))
			continue;
		size_t i = 0;
		while (i < sizeof(targets) / sizeof(targets[0]) && strcmp(key, targets[i].key))
			i++;
		if (i == sizeof(targets) / sizeof(targets[0]))
			return fail(error, "screenshot takes no \"%s\"", quote(q, key));
		if (shot->target != DMAB_CTL_TARGET_FIRST_SCREEN)
			return fail(error, "screenshot takes one of \"screen\", \"connector\" and "
				"\"target\"");
		int ret = get_name(v, key, shot->name, error);
		if (ret)
			return ret;
		shot->target = targets[i].target;
	}
	return 0;
}

static int parse_layout(json_object *root, struct dmab_ctl_layout *l, char *error)
{
	char q[QUOTE_MAX + 4];
	bool has_connector = false;
	json_object_object_foreach(root, key, v) {
		int ret = 0;
		if (!strcmp(key, "cmd")) {
			continue;
		} else if (!strcmp(key, "connector")) {
			ret = get_name(v, key, l->connector, error);
			has_connector = true;
		} else if (!strcmp(key, "screen")) {
			ret = get_name(v, key, l->screen, error);
			l->has_screen = true;
		} else if (!strcmp(key, "x")) {
			ret = get_int32(v, key, &l->x, error);
			l->has_x = true;
		} else if (!strcmp(key, "y")) {
			ret = get_int32(v, key, &l->y, error);
			l->has_y = true;
		} else if (!strcmp(key, "z")) {
			ret = get_int32(v, key, &l->z, error);
			l->has_z = true;
		} else if (!strcmp(key, "visible")) {
			ret = get_bool(v, key, &l->visible, error);
			l->has_visible = true;
		} else if (!strcmp(key, "width")) {
			ret = get_size(v, key, &l->width, error);
			l->has_width = true;
		} else if (!strcmp(key, "height")) {
			ret = get_size(v, key, &l->height, error);
			l->has_height = true;
		} else {
			ret = fail(error, "layout takes no \"%s\"", quote(q, key));
		}
		if (ret)
			return ret;
	}
	if (!has_connector)
		return fail(error, "layout needs a \"connector\"");
	return 0;
}

/* Whether len octets at text are all white space (text need not end in a NUL). */
static bool blank(const char *text, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (text[i] != ' ' && text[i] != '\t' && text[i] != '\r')
			return false;
	}
	return true;
}

static const struct {
	const char *name;
	enum dmab_ctl_cmd cmd;
} commands[] = {
	{ "status", DMAB_CTL_STATUS },
	{ "stats", DMAB_CTL_STATS },
	{ "screenshot", DMAB_CTL_SCREENSHOT },
	{ "layout", DMAB_CTL_LAYOUT },
	{ "reload", DMAB_CTL_RELOAD },
};

static int parse_object(json_object *root, struct dmab_ctl_request *req, char *error)
{
	char q[QUOTE_MAX + 4];
	json_object *cmd;
	if (!json_object_is_type(root, json_type_object))
		return fail(error, "not a JSON object but %s", type_name(root));
	if (!json_object_object_get_ex(root, "cmd", &cmd))
		return fail(error, "no \"cmd\"");
	char name[DMAB_CTL_NAME_MAX + 1];
	int ret = get_name(cmd, "cmd", name, error);
	if (ret)
		return ret;
	size_t i = 0;
	while (i < sizeof(commands) / sizeof(commands[0]) && strcmp(name, commands[i].name))
		i++;
	if (i == sizeof(commands) / sizeof(commands[0]))
		return fail(error, "unknown command \"%s\"", quote(q, name));
	req->cmd = commands[i].cmd;

	switch (req->cmd) {
	case DMAB_CTL_SCREENSHOT:
		return parse_screenshot(root, &req->screenshot, error);
	case DMAB_CTL_LAYOUT:
		return parse_layout(root, &req->layout, error);
	case DMAB_CTL_STATUS:
	case DMAB_CTL_STATS:
	case DMAB_CTL_RELOAD:
		break;
	}
	json_object_object_foreach(root, key, v) {
		(void)v;
		if (strcmp(key, "cmd"))
			return fail(error, "%s takes no \"%s\"", commands[i].name, quote(q, key));
	}
	return 0;
}

int dmab_ctl_request_parse(const char *line, size_t len, struct dmab_ctl_request *req,
		char *error)
{
	memset(req, 0, sizeof(*req));
	error[0] = '\0';
	/* json-c would end the text at a NUL and take what came before it. */
	if (memchr(line, '\0', len))
		return fail(error, "not JSON: a NUL in the request");
	if (len > INT_MAX)
		return fail(error, "not JSON: too long");
	struct json_tokener *tok = json_tokener_new_ex(MAX_DEPTH);
	if (!tok) {
		fail(error, "out of memory");
		return -ENOMEM;
	}
	/* Trailing text after the object is refused too. */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	json_object *root = json_tokener_parse_ex(tok, line, (int)len);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	if (jerr == json_tokener_continue && !blank(line, len)) {
		/* A number at the very end may go on in the next octets: there are none. */
		root = json_tokener_parse_ex(tok, " ", 1);
		jerr = json_tokener_get_error(tok);
	}
	int ret;
	if (jerr == json_tokener_continue && blank(line, len))
		ret = fail(error, "an empty line is no request");
	else if (jerr == json_tokener_continue)
		ret = fail(error, "not JSON: the request ends inside a value");
	else if (jerr != json_tokener_success)
		ret = fail(error, "not JSON: %s at octet %zu", json_tokener_error_desc(jerr),
			json_tokener_get_parse_end(tok));
	else
		ret = parse_object(root, req, error);
	if (root)
		json_object_put(root);
	json_tokener_free(tok);
	if (ret)
		memset(req, 0, sizeof(*req));
	return ret;
}
