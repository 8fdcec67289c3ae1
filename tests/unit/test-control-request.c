// SPDX-License-Identifier: MIT
/* Control requests: every field's type and range, checked once, before use. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "server/control-request.h"

static int parse(const char *text, struct dmab_ctl_request *req, char *error)
{
	return dmab_ctl_request_parse(text, strlen(text), req, error);
}

/* Refused, with an error text containing want. */
static void refused(const char *text, const char *want)
{
	struct dmab_ctl_request req;
	char error[DMAB_CTL_ERROR_MAX];
	memset(error, 'x', sizeof(error));
	int ret = parse(text, &req, error);
	if (ret != -EINVAL || !memchr(error, '\0', sizeof(error)) || !strstr(error, want))
		fail_msg("%s: %d \"%.*s\", expected -EINVAL and \"%s\"", text, ret,
			(int)sizeof(error), error, want);
}

static void commands(void **state)
{
	struct dmab_ctl_request req;
	char error[DMAB_CTL_ERROR_MAX];
	assert_int_equal(parse("{\"cmd\":\"status\"}", &req, error), 0);
	assert_int_equal(req.cmd, DMAB_CTL_STATUS);
	assert_int_equal(parse(" {\"cmd\" : \"stats\"}\r", &req, error), 0);
	assert_int_equal(req.cmd, DMAB_CTL_STATS);
	assert_int_equal(parse("{\"cmd\":\"reload\"}", &req, error), 0);
	assert_int_equal(req.cmd, DMAB_CTL_RELOAD);

	refused("{\"cmd\":\"nosuch\"}", "unknown command \"nosuch\"");
	refused("{\"cmd\":\"\"}", "\"cmd\" is empty");
	refused("{}", "no \"cmd\"");
	refused("{\"cmd\":null}", "\"cmd\" must be a string, not null");
	refused("{\"cmd\":1}", "\"cmd\" must be a string, not int");
	refused("{\"cmd\":1.5}", "not double");
	refused("{\"cmd\":[\"status\"]}", "not array");
	refused("{\"cmd\":{}}", "not object");
	refused("{\"cmd\":true}", "not boolean");
	refused("{\"cmd\":\"status\",\"colour\":\"red\"}", "status takes no \"colour\"");
	refused("{\"cmd\":\"stats\",\"x\":1}", "stats takes no \"x\"");
	refused("{\"cmd\":\"reload\",\"now\":true}", "reload takes no \"now\"");
	/* What a client sends is quoted back tamed: no newline, no quote, bounded. */
	refused("{\"cmd\":\"a\\nb\\\"c\"}", "control character");
	refused("{\"cmd\":\"no\\\"such\"}", "unknown command \"no?such\"");
	refused("{\"cmd\":\"status\",\"k\\n\\\"\":1}", "takes no \"k??\"");
	refused("{\"cmd\":\"status\",\"kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk\":1}",
		"\"kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk...\"");
}

static void not_requests(void **state)
{
	refused("", "empty line");
	refused("  \t", "empty line");
	refused("{", "ends inside");
	refused("{\"cmd\":\"status\"", "ends inside");
	refused("[]", "not a JSON object but array");
	refused("\"status\"", "not a JSON object but string");
	refused("42", "not a JSON object but int");
	refused("null", "not a JSON object but null");
	refused("{\"cmd\":\"status\"} x", "not JSON");
	refused("{\"cmd\":\"status\"}{\"cmd\":\"status\"}", "not JSON");
	refused("{\"cmd\":\"status\",}", "not JSON");
	refused("{\"cmd\":\"status\",\"a\":[[1]]}", "not JSON: nesting too deep");
	refused("{\"cmd\":\"st\xff\"}", "not JSON: invalid utf-8");

	/* A NUL anywhere: json-c would stop at it and take what came before. */
	static const char nul[] = "{\"cmd\":\"status\"}\0junk";
	struct dmab_ctl_request req;
	char error[DMAB_CTL_ERROR_MAX];
	assert_int_equal(dmab_ctl_request_parse(nul, sizeof(nul) - 1, &req, error), -EINVAL);
	assert_non_null(strstr(error, "NUL"));
	/* The length given is all that is read: no NUL needed after it. */
	static const char cut[] = "{\"cmd\":\"stats\"}{\"cmd\"";
	assert_int_equal(dmab_ctl_request_parse(cut, 15, &req, error), 0);
	assert_int_equal(req.cmd, DMAB_CTL_STATS);
}

static void screenshots(void **state)
{
	struct dmab_ctl_request req;
	char error[DMAB_CTL_ERROR_MAX];
	assert_int_equal(parse("{\"cmd\":\"screenshot\"}", &req, error), 0);
	assert_int_equal(req.cmd, DMAB_CTL_SCREENSHOT);
	assert_int_equal(req.screenshot.target, DMAB_CTL_TARGET_FIRST_SCREEN);
	assert_string_equal(req.screenshot.name, "");
	assert_int_equal(parse("{\"cmd\":\"screenshot\",\"screen\":\"main\"}", &req, error), 0);
	assert_int_equal(req.screenshot.target, DMAB_CTL_TARGET_SCREEN);
	assert_string_equal(req.screenshot.name, "main");
	assert_int_equal(parse("{\"connector\":\"1/0/0\",\"cmd\":\"screenshot\"}", &req, error), 0);
	assert_int_equal(req.screenshot.target, DMAB_CTL_TARGET_CONNECTOR);
	assert_string_equal(req.screenshot.name, "1/0/0");
	assert_int_equal(parse("{\"cmd\":\"screenshot\",\"target\":\"cluster0\"}", &req, error), 0);
	assert_int_equal(req.screenshot.target, DMAB_CTL_TARGET_ANY);
	assert_string_equal(req.screenshot.name, "cluster0");

	static const char *const keys[] = { "screen", "connector", "target" };
	static const char *const values[] = { "null", "1", "-1", "2.5", "[]", "{}", "true" };
	char text[128];
	for (size_t k = 0; k < 3; k++) {
		for (size_t v = 0; v < sizeof(values) / sizeof(values[0]); v++) {
			snprintf(text, sizeof(text), "{\"cmd\":\"screenshot\",\"%s\":%s}", keys[k],
				values[v]);
			char want[64];
			snprintf(want, sizeof(want), "\"%s\" must be a string", keys[k]);
			refused(text, want);
		}
	}
	refused("{\"cmd\":\"screenshot\",\"screen\":\"main\",\"connector\":\"1/0/0\"}",
		"one of \"screen\", \"connector\" and \"target\"");
	refused("{\"cmd\":\"screenshot\",\"screen\":\"a\",\"screen\":\"b\",\"target\":\"c\"}",
		"one of");
	refused("{\"cmd\":\"screenshot\",\"file\":\"/etc/passwd\"}", "screenshot takes no \"file\"");
	refused("{\"cmd\":\"screenshot\",\"screen\":\"\"}", "\"screen\" is empty");
	refused("{\"cmd\":\"screenshot\",\"screen\":\"ma\\u0000in\"}", "control character");
	refused("{\"cmd\":\"screenshot\",\"target\":\"a\\tb\"}", "control character");
}

static void names(void **state)
{
	struct dmab_ctl_request req;
	char error[DMAB_CTL_ERROR_MAX];
	char text[256], name[DMAB_CTL_NAME_MAX + 2];
	memset(name, 'n', DMAB_CTL_NAME_MAX);
	name[DMAB_CTL_NAME_MAX] = '\0';
	snprintf(text, sizeof(text), "{\"cmd\":\"layout\",\"connector\":\"%s\"}", name);
	assert_int_equal(parse(text, &req, error), 0);
	assert_string_equal(req.layout.connector, name);
	name[DMAB_CTL_NAME_MAX] = 'n';
	name[DMAB_CTL_NAME_MAX + 1] = '\0';
	snprintf(text, sizeof(text), "{\"cmd\":\"layout\",\"connector\":\"%s\"}", name);
	refused(text, "\"connector\" is longer than 64 octets");
	/* UTF-8 is a name like any other. */
	assert_int_equal(parse("{\"cmd\":\"layout\",\"connector\":\"caf\xc3\xa9\"}", &req, error), 0);
	assert_string_equal(req.layout.connector, "caf\xc3\xa9");
}

static void layouts(void **state)
{
	struct dmab_ctl_request req;
	char error[DMAB_CTL_ERROR_MAX];
	assert_int_equal(parse("{\"cmd\":\"layout\",\"connector\":\"c0\"}", &req, error), 0);
	assert_int_equal(req.cmd, DMAB_CTL_LAYOUT);
	assert_string_equal(req.layout.connector, "c0");
	assert_false(req.layout.has_screen || req.layout.has_x || req.layout.has_y ||
		req.layout.has_z || req.layout.has_visible);

	assert_int_equal(parse("{\"cmd\":\"layout\",\"connector\":\"1/0/0\",\"screen\":\"side\","
		"\"x\":2147483647,\"y\":-2147483648,\"z\":-0,\"visible\":false}", &req, error), 0);
	assert_true(req.layout.has_screen && req.layout.has_x && req.layout.has_y &&
		req.layout.has_z && req.layout.has_visible);
	assert_string_equal(req.layout.screen, "side");
	assert_int_equal(req.layout.x, INT32_MAX);
	assert_int_equal(req.layout.y, INT32_MIN);
	assert_int_equal(req.layout.z, 0);
	assert_false(req.layout.visible);

	assert_int_equal(parse("{\"cmd\":\"layout\",\"connector\":\"c0\",\"width\":16384,"
		"\"height\":0}", &req, error), 0);
	assert_true(req.layout.has_width && req.layout.has_height);
	assert_int_equal(req.layout.width, 16384);
	assert_int_equal(req.layout.height, 0);
	refused("{\"cmd\":\"layout\",\"connector\":\"c0\",\"width\":16385}",
		"\"width\" is outside 0..16384");
	refused("{\"cmd\":\"layout\",\"connector\":\"c0\",\"height\":-1}",
		"\"height\" is outside 0..16384");
	refused("{\"cmd\":\"layout\",\"connector\":\"c0\",\"height\":\"2\"}",
		"\"height\" must be an integer, not string");

	refused("{\"cmd\":\"layout\"}", "layout needs a \"connector\"");
	refused("{\"cmd\":\"layout\",\"x\":1}", "layout needs a \"connector\"");
	refused("{\"cmd\":\"layout\",\"connector\":null,\"x\":1}", "\"connector\" must be a string");
	refused("{\"cmd\":\"layout\",\"connector\":\"c0\",\"screen\":7}", "\"screen\" must be a string");
	refused("{\"cmd\":\"layout\",\"connector\":\"c0\",\"colour\":\"red\"}",
		"layout takes no \"colour\"");

	static const char *const ints[] = { "x", "y", "z" };
	static const struct { const char *value, *want; } bad[] = {
		{ "null", "must be an integer, not null" },
		{ "\"1\"", "must be an integer, not string" },
		{ "1.0", "must be an integer, not double" },
		{ "1e3", "must be an integer, not double" },
		{ "true", "must be an integer, not boolean" },
		{ "[]", "must be an integer, not array" },
		{ "{}", "must be an integer, not object" },
		{ "2147483648", "is outside -2147483648..2147483647" },
		{ "-2147483649", "is outside" },
		{ "9223372036854775807", "is outside" },
		{ "9223372036854775808", "is outside" },
		{ "18446744073709551616", "is outside" },
		{ "-9223372036854775809", "is outside" },
	};
	char text[128], want[96];
	for (size_t k = 0; k < 3; k++) {
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			snprintf(text, sizeof(text), "{\"cmd\":\"layout\",\"connector\":\"c0\",\"%s\":%s}",
				ints[k], bad[i].value);
			snprintf(want, sizeof(want), "\"%s\" %s", ints[k], bad[i].want);
			refused(text, want);
		}
	}
	static const char *const not_bools[] = { "null", "1", "0", "\"yes\"", "[]", "{}" };
	for (size_t i = 0; i < sizeof(not_bools) / sizeof(not_bools[0]); i++) {
		snprintf(text, sizeof(text), "{\"cmd\":\"layout\",\"connector\":\"c0\",\"visible\":%s}",
			not_bools[i]);
		refused(text, "\"visible\" must be true or false");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(commands),
		cmocka_unit_test(not_requests),
		cmocka_unit_test(screenshots),
		cmocka_unit_test(names),
		cmocka_unit_test(layouts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
