// SPDX-License-Identifier: MIT
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "protocol/xenstore.h"

#define ROOT "/local/domain/0/backend/vdispl"
#define FE_DIR "/local/domain/5/device/vdispl/0"

#define N DMAB_XENBUS_BE_NONE
#define IW DMAB_XENBUS_BE_INIT_WAIT
#define CO DMAB_XENBUS_BE_CONNECT
#define DI DMAB_XENBUS_BE_DISCONNECT
#define CL DMAB_XENBUS_BE_CLOSED
#define RC DMAB_XENBUS_BE_RECONNECT
#define RM DMAB_XENBUS_BE_REMOVE

/* Shorter names for the XenbusStates, in their numeric order. */
#define S_UNK XenbusStateUnknown
#define S_INIT XenbusStateInitialising
#define S_WAIT XenbusStateInitWait
#define S_INITD XenbusStateInitialised
#define S_CONN XenbusStateConnected
#define S_CLOSING XenbusStateClosing
#define S_CLOSED XenbusStateClosed
#define S_RECF XenbusStateReconfiguring
#define S_RECFD XenbusStateReconfigured

static void assert_contains(const char *haystack, const char *needle)
{
	if (strstr(haystack, needle) == NULL)
		fail_msg("\"%s\" does not contain \"%s\"", haystack, needle);
}

/* ------------------------------------------------------------------ paths */

static void test_paths(void **state)
{
	(void)state;
	char buf[DMAB_XS_PATH_MAX];

	assert_int_equal(dmab_xs_backend_root(buf, sizeof(buf), 0), 0);
	assert_string_equal(buf, ROOT);
	assert_int_equal(dmab_xs_backend_dir(buf, sizeof(buf), 7, 5, 3), 0);
	assert_string_equal(buf, "/local/domain/7/backend/vdispl/5/3");
	assert_int_equal(dmab_xs_backend_dir(buf, sizeof(buf), 32751, 32751,
		UINT32_MAX), 0);
	assert_string_equal(buf,
		"/local/domain/32751/backend/vdispl/32751/4294967295");
	assert_int_equal(dmab_xs_frontend_dir(buf, sizeof(buf), 5, 0), 0);
	assert_string_equal(buf, FE_DIR);
	assert_int_equal(dmab_xs_domain_name(buf, sizeof(buf), 5), 0);
	assert_string_equal(buf, "/local/domain/5/name");
	assert_int_equal(dmab_xs_domain_name(buf, strlen("/local/domain/5/name"), 5), -ENAMETOOLONG);
	assert_int_equal(dmab_xs_connector_dir(buf, sizeof(buf), FE_DIR, 2), 0);
	assert_string_equal(buf, FE_DIR "/2");
	assert_int_equal(dmab_xs_join(buf, sizeof(buf), FE_DIR, "0/resolution"), 0);
	assert_string_equal(buf, FE_DIR "/0/resolution");
}

static void test_paths_too_long(void **state)
{
	(void)state;
	char buf[64];
	size_t exact = strlen(FE_DIR) + 1;

	/* Exactly enough room, then one byte less. */
	assert_int_equal(dmab_xs_frontend_dir(buf, exact, 5, 0), 0);
	assert_string_equal(buf, FE_DIR);
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(dmab_xs_frontend_dir(buf, exact - 1, 5, 0), -ENAMETOOLONG);
	assert_string_equal(buf, "");

	exact = strlen(ROOT) + 1;
	assert_int_equal(dmab_xs_backend_root(buf, exact, 0), 0);
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(dmab_xs_backend_root(buf, exact - 1, 0), -ENAMETOOLONG);
	assert_string_equal(buf, "");

	memset(buf, 'x', sizeof(buf));
	assert_int_equal(dmab_xs_backend_dir(buf, 20, 0, 5, 0), -ENAMETOOLONG);
	assert_string_equal(buf, "");
	assert_int_equal(dmab_xs_connector_dir(buf, sizeof(FE_DIR), FE_DIR, 0),
		-ENAMETOOLONG);
	assert_int_equal(dmab_xs_join(buf, sizeof(FE_DIR) + 5, FE_DIR, "state"),
		-ENAMETOOLONG);
	assert_int_equal(dmab_xs_join(buf, sizeof(FE_DIR) + 6, FE_DIR, "state"), 0);

	/* No room at all: nothing may be written. */
	buf[0] = 'x';
	assert_int_equal(dmab_xs_backend_root(buf, 0, 0), -ENAMETOOLONG);
	assert_int_equal(buf[0], 'x');
}

static void test_backend_path_ok(void **state)
{
	(void)state;
	static const struct {
		const char *path;
		domid_t fe;
		uint32_t devid;
		const char *rest;
	} cases[] = {
		{ ROOT "/5/0", 5, 0, "" },
		{ ROOT "/5/0/state", 5, 0, "state" },
		{ ROOT "/0/7/online", 0, 7, "online" },
		{ ROOT "/32751/4294967295", 32751, UINT32_MAX, "" },
		{ ROOT "/12/3/a/b", 12, 3, "a/b" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		domid_t fe = 1;
		uint32_t devid = 1;
		const char *rest = NULL;

		assert_int_equal(dmab_xs_parse_backend_path(ROOT, cases[i].path,
			&fe, &devid, &rest), 0);
		assert_int_equal(fe, cases[i].fe);
		assert_int_equal(devid, cases[i].devid);
		assert_string_equal(rest, cases[i].rest);
	}
}

static void test_backend_path_bad(void **state)
{
	(void)state;
	static const struct {
		const char *path;
		int ret;
	} cases[] = {
		{ ROOT, -ENOENT },
		{ ROOT "/5", -ENOENT },
		{ "", -EINVAL },
		{ "/local/domain/0/backend/vbd/5/0", -EINVAL },
		{ "/local/domain/0/backend/vdisplx/5/0", -EINVAL },
		{ "/local/domain/1/backend/vdispl/5/0", -EINVAL },
		{ ROOT "/", -EINVAL },
		{ ROOT "//5/0", -EINVAL },
		{ ROOT "/5/", -EINVAL },
		{ ROOT "/5//0", -EINVAL },
		{ ROOT "/5/0/", -EINVAL },
		{ ROOT "/5/0//state", -EINVAL },
		{ ROOT "/5/0/state/", -EINVAL },
		{ ROOT "/05/0", -EINVAL },
		{ ROOT "/5/00", -EINVAL },
		{ ROOT "/+5/0", -EINVAL },
		{ ROOT "/-1/0", -EINVAL },
		{ ROOT "/ 5/0", -EINVAL },
		{ ROOT "/0x5/0", -EINVAL },
		{ ROOT "/5/0x1", -EINVAL },
		{ ROOT "/5/1a", -EINVAL },
		{ ROOT "/32752/0", -EINVAL },		/* DOMID_FIRST_RESERVED */
		{ ROOT "/65535/0", -EINVAL },
		{ ROOT "/99999999999999999999/0", -EINVAL },
		{ ROOT "/5/4294967296", -EINVAL },
		{ ROOT "/5/99999999999999999999", -EINVAL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		domid_t fe = 1;
		uint32_t devid = 1;
		const char *rest = "untouched";
		int ret = dmab_xs_parse_backend_path(ROOT, cases[i].path,
			&fe, &devid, &rest);

		if (ret != cases[i].ret)
			fail_msg("%s: %d, expected %d", cases[i].path, ret,
				cases[i].ret);
		assert_int_equal(fe, 1);
		assert_int_equal(devid, 1);
		assert_string_equal(rest, "untouched");
	}
}

/* ---------------------------------------------------------------- numbers */

static void test_uint_rejects(void **state)
{
	(void)state;
	static const struct {
		const char *value;
		uint32_t max;
		int ret;
		const char *message;
	} cases[] = {
		{ "", UINT32_MAX, -EINVAL, "key: \"\" is empty" },
		{ " 1", UINT32_MAX, -EINVAL, "key: \" 1\" is not a decimal number" },
		{ "1 ", UINT32_MAX, -EINVAL, "key: \"1 \" is not a decimal number" },
		{ "+1", UINT32_MAX, -EINVAL, "key: \"+1\" is not a decimal number" },
		{ "-1", UINT32_MAX, -EINVAL, "key: \"-1\" is not a decimal number" },
		{ "0x10", UINT32_MAX, -EINVAL, "key: \"0x10\" is not a decimal number" },
		{ "1e3", UINT32_MAX, -EINVAL, "key: \"1e3\" is not a decimal number" },
		{ "1\n", UINT32_MAX, -EINVAL, "key: \"1\\x0a\" is not a decimal number" },
		{ "01", UINT32_MAX, -EINVAL, "key: \"01\" has a leading zero" },
		{ "00", UINT32_MAX, -EINVAL, "key: \"00\" has a leading zero" },
		{ "4294967296", UINT32_MAX, -ERANGE,
			"key: \"4294967296\" is out of range (max 4294967295)" },
		{ "99999999999999999999", UINT32_MAX, -ERANGE,
			"key: \"99999999999999999999\" is out of range (max 4294967295)" },
		{ "18446744073709551617", UINT32_MAX, -ERANGE, "is out of range" },
		{ "9", 8, -ERANGE, "key: \"9\" is out of range (max 8)" },
		{ "10", 9, -ERANGE, "key: \"10\" is out of range (max 9)" },
		{ "1", 0, -ERANGE, "key: \"1\" is out of range (max 0)" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[160] = "";
		uint32_t out = 77;
		int ret = dmab_xs_parse_uint("key", cases[i].value, cases[i].max,
			&out, err, sizeof(err));

		if (ret != cases[i].ret)
			fail_msg("\"%s\": %d, expected %d", cases[i].value, ret,
				cases[i].ret);
		assert_int_equal(out, 77);
		assert_contains(err, cases[i].message);
	}
}

static void test_uint_long_inputs(void **state)
{
	(void)state;
	char value[4097];
	char err[160];
	uint32_t out = 77;

	/* A page of digits overflows without reading past the NUL. */
	memset(value, '9', sizeof(value) - 1);
	value[sizeof(value) - 1] = '\0';
	assert_int_equal(dmab_xs_parse_uint("key", value, UINT32_MAX, &out,
		err, sizeof(err)), -ERANGE);
	/* The message shows 40 bytes, then says there was more. */
	assert_contains(err, "key: \"9999999999999999999999999999999999999999\"... "
		"is out of range");
	assert_true(strlen(err) < 120);

	/* Valid digits, then a non-digit at the very end: not a number. */
	memset(value, '1', sizeof(value) - 1);
	value[sizeof(value) - 2] = 'a';
	assert_int_equal(dmab_xs_parse_uint("key", value, UINT32_MAX, &out,
		err, sizeof(err)), -EINVAL);
	assert_contains(err, "is not a decimal number");

	/* Leading zeros do not hide an overflow, nor make it valid. */
	memset(value, '0', sizeof(value) - 1);
	value[sizeof(value) - 2] = '1';
	assert_int_equal(dmab_xs_parse_uint("key", value, UINT32_MAX, &out,
		err, sizeof(err)), -EINVAL);
	assert_contains(err, "has a leading zero");
	assert_int_equal(out, 77);
}

static void test_uint_accepts(void **state)
{
	(void)state;
	uint32_t out = 77;

	assert_int_equal(dmab_xs_parse_uint("k", "0", UINT32_MAX, &out, NULL, 0), 0);
	assert_int_equal(out, 0);
	assert_int_equal(dmab_xs_parse_uint("k", "4294967295", UINT32_MAX, &out,
		NULL, 0), 0);
	assert_int_equal(out, UINT32_MAX);
	assert_int_equal(dmab_xs_parse_uint("k", "8", 8, &out, NULL, 0), 0);
	assert_int_equal(out, 8);
	assert_int_equal(dmab_xs_parse_uint("k", "2832", UINT32_MAX, &out, NULL, 0), 0);
	assert_int_equal(out, 2832);
	assert_int_equal(dmab_xs_parse_uint("k", "0", 0, &out, NULL, 0), 0);
	assert_int_equal(out, 0);
}

static void test_err_buffer(void **state)
{
	(void)state;
	char err[16];
	uint32_t out;

	/* No buffer: only the code. */
	assert_int_equal(dmab_xs_parse_uint("key", "x", 1, &out, NULL, 0), -EINVAL);
	assert_int_equal(dmab_xs_parse_uint("key", "x", 1, &out, err, 0), -EINVAL);
	/* A short buffer is cut, never overrun. */
	memset(err, 'z', sizeof(err));
	assert_int_equal(dmab_xs_parse_uint("a-rather-long-key", "x", 1, &out,
		err, sizeof(err)), -EINVAL);
	assert_int_equal(strlen(err), sizeof(err) - 1);
	assert_memory_equal(err, "a-rather-long-k", sizeof(err));
	/* Missing value. */
	char line[64];
	assert_int_equal(dmab_xs_parse_uint("key", NULL, 1, &out, line,
		sizeof(line)), -EINVAL);
	assert_string_equal(line, "key: missing");
	/* Quotes and backslashes are escaped, so the value cannot fake a line. */
	assert_int_equal(dmab_xs_parse_uint("key", "1\"x\\", 9, &out, line,
		sizeof(line)), -EINVAL);
	assert_string_equal(line, "key: \"1\\\"x\\\\\" is not a decimal number");
	assert_int_equal(dmab_xs_parse_uint("key", "\x7f\xff", 9, &out, line,
		sizeof(line)), -EINVAL);
	assert_string_equal(line, "key: \"\\x7f\\xff\" is not a decimal number");
}

static void test_domid(void **state)
{
	(void)state;
	char err[128];
	domid_t d = 9;

	assert_int_equal(dmab_xs_parse_domid("frontend-id", "0", &d, err,
		sizeof(err)), 0);
	assert_int_equal(d, 0);
	assert_int_equal(dmab_xs_parse_domid("frontend-id", "32751", &d, err,
		sizeof(err)), 0);
	assert_int_equal(d, 32751);
	assert_int_equal(dmab_xs_parse_domid("frontend-id", "32752", &d, err,
		sizeof(err)), -ERANGE);
	assert_string_equal(err,
		"frontend-id: \"32752\" is out of range (max 32751)");
	assert_int_equal(dmab_xs_parse_domid("frontend-id", "65541", &d, err,
		sizeof(err)), -ERANGE);
	assert_int_equal(dmab_xs_parse_domid("frontend-id", "05", &d, err,
		sizeof(err)), -EINVAL);
	assert_int_equal(d, 32751);
}

static void test_state(void **state)
{
	(void)state;
	static const char *const names[] = {
		"Unknown", "Initialising", "InitWait", "Initialised", "Connected",
		"Closing", "Closed", "Reconfiguring", "Reconfigured",
	};
	char err[128];
	char value[4];
	enum xenbus_state s;

	for (unsigned int i = 0; i <= 8; i++) {
		snprintf(value, sizeof(value), "%u", i);
		s = 99;
		assert_int_equal(dmab_xenbus_parse_state("state", value, &s, err,
			sizeof(err)), 0);
		assert_int_equal(s, i);
		assert_string_equal(dmab_xenbus_state_name(s), names[i]);
	}
	s = 99;
	assert_int_equal(dmab_xenbus_parse_state("state", "9", &s, err,
		sizeof(err)), -ERANGE);
	assert_string_equal(err, "state: \"9\" is out of range (max 8)");
	assert_int_equal(dmab_xenbus_parse_state("state", "", &s, err,
		sizeof(err)), -EINVAL);
	assert_string_equal(err, "state: \"\" is empty");
	assert_int_equal(dmab_xenbus_parse_state("state", "4 ", &s, err,
		sizeof(err)), -EINVAL);
	assert_int_equal(s, 99);
	assert_string_equal(dmab_xenbus_state_name((enum xenbus_state)9), "Invalid");
	assert_string_equal(dmab_xenbus_state_name((enum xenbus_state)1000),
		"Invalid");
}

/* ----------------------------------------------------------------- values */

static void test_resolution(void **state)
{
	(void)state;
	static const struct {
		const char *value;
		int ret;
		const char *message;
	} bad[] = {
		{ "19x20x1", -EINVAL,
			"resolution: \"19x20x1\" is not <width>x<height>" },
		{ "", -EINVAL, "resolution: \"\" is not <width>x<height>" },
		{ "640", -EINVAL, "\"640\" is not <width>x<height>" },
		{ "x", -EINVAL, "\"x\" is not <width>x<height>" },
		{ "640x", -EINVAL, "\"640x\" is not <width>x<height>" },
		{ "x480", -EINVAL, "\"x480\" is not <width>x<height>" },
		{ "640X480", -EINVAL, "\"640X480\" is not <width>x<height>" },
		{ "640 x480", -EINVAL, "\"640 x480\" is not <width>x<height>" },
		{ "640x480 ", -EINVAL, "\"640x480 \" is not <width>x<height>" },
		{ "+640x480", -EINVAL, "\"+640x480\" is not <width>x<height>" },
		{ "640x-480", -EINVAL, "\"640x-480\" is not <width>x<height>" },
		{ "0640x480", -EINVAL, "\"0640x480\" is not <width>x<height>" },
		{ "0x10x480", -EINVAL, "\"0x10x480\" is not <width>x<height>" },
		{ "0x480", -ERANGE, "resolution: \"0x480\" has a zero width" },
		{ "640x0", -ERANGE, "resolution: \"640x0\" has a zero height" },
		{ "4097x480", -ERANGE, "\"4097x480\" has a width above 4096" },
		{ "640x2161", -ERANGE, "\"640x2161\" has a height above 2160" },
		{ "99999999999999999999x480", -ERANGE,
			"\"99999999999999999999x480\" has a width above 4096" },
		{ "640x4294967296", -ERANGE,
			"\"640x4294967296\" has a height above 2160" },
	};
	char err[160];
	uint32_t w = 1, h = 1;

	assert_int_equal(dmab_xs_parse_resolution("resolution", "1920x1080",
		4096, 2160, &w, &h, err, sizeof(err)), 0);
	assert_int_equal(w, 1920);
	assert_int_equal(h, 1080);
	assert_int_equal(dmab_xs_parse_resolution("resolution", "4096x2160",
		4096, 2160, &w, &h, err, sizeof(err)), 0);
	assert_int_equal(w, 4096);
	assert_int_equal(h, 2160);
	assert_int_equal(dmab_xs_parse_resolution("resolution", "1x1",
		4096, 2160, &w, &h, err, sizeof(err)), 0);
	assert_int_equal(w, 1);
	assert_int_equal(h, 1);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		w = 7;
		h = 7;
		int ret = dmab_xs_parse_resolution("resolution", bad[i].value,
			4096, 2160, &w, &h, err, sizeof(err));
		if (ret != bad[i].ret)
			fail_msg("\"%s\": %d, expected %d", bad[i].value, ret,
				bad[i].ret);
		assert_contains(err, bad[i].message);
		assert_int_equal(w, 7);
		assert_int_equal(h, 7);
	}
}

static void test_version(void **state)
{
	(void)state;
	static const struct {
		const char *value;
		uint32_t supported;
		int ret;
		unsigned int version;
		const char *message;
	} cases[] = {
		{ "1,2", DMAB_XS_PROTOCOL_MASK, 0, 2, NULL },
		{ "2,1", DMAB_XS_PROTOCOL_MASK, 0, 2, NULL },
		{ "2", DMAB_XS_PROTOCOL_MASK, 0, 2, NULL },
		{ "1", DMAB_XS_PROTOCOL_MASK, 0, 1, NULL },
		{ "1,2,3", DMAB_XS_PROTOCOL_MASK, 0, 2, NULL },
		{ "3,1", DMAB_XS_PROTOCOL_MASK, 0, 1, NULL },
		{ "1,4294967295", DMAB_XS_PROTOCOL_MASK, 0, 1, NULL },
		{ "1,2", 1u << 1, 0, 1, NULL },
		{ "3", DMAB_XS_PROTOCOL_MASK, -EPROTONOSUPPORT, 0,
			"version: \"3\" has no version we support (1,2)" },
		{ "0", DMAB_XS_PROTOCOL_MASK, -EPROTONOSUPPORT, 0,
			"has no version we support" },
		{ "2", 1u << 1, -EPROTONOSUPPORT, 0,
			"version: \"2\" has no version we support (1)" },
		{ "", DMAB_XS_PROTOCOL_MASK, -EINVAL, 0,
			"version: \"\" is not a list of versions like \"1,2\"" },
		{ "1,,2", DMAB_XS_PROTOCOL_MASK, -EINVAL, 0,
			"version: \"1,,2\" is not a list" },
		{ "1,2,", DMAB_XS_PROTOCOL_MASK, -EINVAL, 0,
			"version: \"1,2,\" is not a list" },
		{ ",2", DMAB_XS_PROTOCOL_MASK, -EINVAL, 0,
			"version: \",2\" is not a list" },
		{ "1, 2", DMAB_XS_PROTOCOL_MASK, -EINVAL, 0, "is not a list" },
		{ "02", DMAB_XS_PROTOCOL_MASK, -EINVAL, 0, "is not a list" },
		{ "+2", DMAB_XS_PROTOCOL_MASK, -EINVAL, 0, "is not a list" },
		{ "1;2", DMAB_XS_PROTOCOL_MASK, -EINVAL, 0, "is not a list" },
		{ "2,4294967296", DMAB_XS_PROTOCOL_MASK, -ERANGE, 0,
			"version: \"2,4294967296\" has a version out of range" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[160] = "";
		unsigned int version = 77;
		int ret = dmab_xs_parse_version("version", cases[i].value,
			cases[i].supported, &version, err, sizeof(err));

		if (ret != cases[i].ret)
			fail_msg("\"%s\": %d, expected %d", cases[i].value, ret,
				cases[i].ret);
		if (ret == 0) {
			assert_int_equal(version, cases[i].version);
		} else {
			assert_int_equal(version, 77);
			assert_contains(err, cases[i].message);
		}
	}
}

static void test_bool(void **state)
{
	(void)state;
	assert_true(dmab_xs_parse_bool("1"));
	assert_false(dmab_xs_parse_bool(NULL));
	assert_false(dmab_xs_parse_bool(""));
	assert_false(dmab_xs_parse_bool("0"));
	assert_false(dmab_xs_parse_bool("2"));
	assert_false(dmab_xs_parse_bool("01"));
	assert_false(dmab_xs_parse_bool("1 "));
	assert_false(dmab_xs_parse_bool(" 1"));
	assert_false(dmab_xs_parse_bool("true"));
	assert_false(dmab_xs_parse_bool("11"));
}

static void test_unique_id(void **state)
{
	(void)state;
	char id[DMAB_XS_UNIQUE_ID_MAX + 1];
	char value[DMAB_XS_UNIQUE_ID_MAX + 2];
	char err[160];

	assert_int_equal(dmab_xs_parse_unique_id("0/unique-id", "id0", id,
		sizeof(id), err, sizeof(err)), 0);
	assert_string_equal(id, "id0");
	assert_int_equal(dmab_xs_parse_unique_id("0/unique-id",
		"3f2504e0-4f89-11d3-9a0c-0305e82c3301 ~!\"'", id, sizeof(id),
		err, sizeof(err)), 0);
	assert_string_equal(id, "3f2504e0-4f89-11d3-9a0c-0305e82c3301 ~!\"'");
	assert_int_equal(dmab_xs_parse_unique_id("0/unique-id", "", id,
		sizeof(id), err, sizeof(err)), 0);
	assert_string_equal(id, "");

	/* Exactly the bound, then one more. */
	memset(value, 'u', DMAB_XS_UNIQUE_ID_MAX);
	value[DMAB_XS_UNIQUE_ID_MAX] = '\0';
	assert_int_equal(dmab_xs_parse_unique_id("0/unique-id", value, id,
		sizeof(id), err, sizeof(err)), 0);
	assert_string_equal(id, value);
	value[DMAB_XS_UNIQUE_ID_MAX] = 'u';
	value[DMAB_XS_UNIQUE_ID_MAX + 1] = '\0';
	assert_int_equal(dmab_xs_parse_unique_id("0/unique-id", value, id,
		sizeof(id), err, sizeof(err)), -ERANGE);
	assert_contains(err, "0/unique-id: \"uuuuuuuu");
	assert_contains(err, "\"... is longer than 64 bytes");
	assert_string_equal(id, "");

	static const struct {
		const char *value;
		const char *message;
	} bad[] = {
		{ "a\x01z", "0/unique-id: \"a\\x01z\" has a non-printable byte 0x01" },
		{ "tab\there", "\"tab\\x09here\" has a non-printable byte 0x09" },
		{ "nl\n", "\"nl\\x0a\" has a non-printable byte 0x0a" },
		{ "del\x7f", "\"del\\x7f\" has a non-printable byte 0x7f" },
		{ "caf\xc3\xa9", "\"caf\\xc3\\xa9\" has a non-printable byte 0xc3" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		strcpy(id, "stale");
		assert_int_equal(dmab_xs_parse_unique_id("0/unique-id", bad[i].value,
			id, sizeof(id), err, sizeof(err)), -EINVAL);
		assert_contains(err, bad[i].message);
		assert_string_equal(id, "");
	}

	/* A small output buffer is the bound. */
	char small[4];
	assert_int_equal(dmab_xs_parse_unique_id("k", "abc", small, sizeof(small),
		err, sizeof(err)), 0);
	assert_int_equal(dmab_xs_parse_unique_id("k", "abcd", small, sizeof(small),
		err, sizeof(err)), -ERANGE);
	assert_string_equal(err, "k: \"abcd\" is longer than 3 bytes");
}

/* -------------------------------------------------- an in-memory XenStore */

struct kv {
	char key[48];		/* relative to FE_DIR */
	const char *value;	/* NULL: the node is missing */
	int error;		/* returned instead of the value when non-zero */
};

struct store {
	struct kv kv[80];
	size_t n;
	unsigned int reads;
};

static struct kv *store_find(struct store *s, const char *key)
{
	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->kv[i].key, key) == 0)
			return &s->kv[i];
	}
	return NULL;
}

static void store_set(struct store *s, const char *key, const char *value)
{
	struct kv *kv = store_find(s, key);

	if (kv == NULL) {
		assert_true(s->n < sizeof(s->kv) / sizeof(s->kv[0]));
		kv = &s->kv[s->n++];
		snprintf(kv->key, sizeof(kv->key), "%s", key);
	}
	kv->value = value;
	kv->error = 0;
}

static void store_fail(struct store *s, const char *key, int error)
{
	store_set(s, key, "unused");
	store_find(s, key)->error = error;
}

static int store_read(void *data, const char *path, char *value, size_t len)
{
	struct store *s = data;
	const size_t dir_len = strlen(FE_DIR);
	struct kv *kv;

	s->reads++;
	/* Every read is an absolute path under the device directory. */
	assert_int_equal(strncmp(path, FE_DIR "/", dir_len + 1), 0);
	assert_int_equal(len, DMAB_XS_VALUE_MAX);
	kv = store_find(s, path + dir_len + 1);
	if (kv == NULL || (kv->value == NULL && kv->error == 0))
		return -ENOENT;
	if (kv->error != 0)
		return kv->error;
	if (strlen(kv->value) >= len)
		return -E2BIG;
	strcpy(value, kv->value);
	return 0;
}

static const struct dmab_xs_limits limits = {
	.max_connectors = 4,
	.max_width = 4096,
	.max_height = 2160,
};

/* What xl writes for connectors=id0:1920x1080;id1:800x600, be-alloc=1. */
static void store_config(struct store *s)
{
	memset(s, 0, sizeof(*s));
	store_set(s, "state", "1");
	store_set(s, "backend-id", "0");
	store_set(s, "be-alloc", "1");
	store_set(s, "0/resolution", "1920x1080");
	store_set(s, "0/unique-id", "id0");
	store_set(s, "1/resolution", "800x600");
	store_set(s, "1/unique-id", "id1");
}

/* ... and what the frontend adds before it goes Initialised. */
static void store_transport(struct store *s)
{
	store_config(s);
	store_set(s, "version", "2");
	store_set(s, "0/req-ring-ref", "2832");
	store_set(s, "0/req-event-channel", "15");
	store_set(s, "0/evt-ring-ref", "387");
	store_set(s, "0/evt-event-channel", "16");
	store_set(s, "1/req-ring-ref", "2833");
	store_set(s, "1/req-event-channel", "17");
	store_set(s, "1/evt-ring-ref", "388");
	store_set(s, "1/evt-event-channel", "18");
}

/* ----------------------------------------------------------- config reader */

static void test_config_ok(void **state)
{
	(void)state;
	struct store s;
	struct dmab_xs_config c;
	char err[160] = "";

	store_config(&s);
	assert_int_equal(dmab_xs_read_config(store_read, &s, FE_DIR, &limits,
		&c, err, sizeof(err)), 0);
	assert_true(c.be_alloc);
	assert_int_equal(c.connector_count, 2);
	assert_int_equal(c.connectors[0].width, 1920);
	assert_int_equal(c.connectors[0].height, 1080);
	assert_string_equal(c.connectors[0].unique_id, "id0");
	assert_int_equal(c.connectors[1].width, 800);
	assert_int_equal(c.connectors[1].height, 600);
	assert_string_equal(c.connectors[1].unique_id, "id1");
	assert_string_equal(err, "");

	/* be-alloc: only "1" is true; missing is false. */
	static const char *const not_one[] = { "0", "2", "", "01", "yes", NULL };
	for (size_t i = 0; i < sizeof(not_one) / sizeof(not_one[0]); i++) {
		store_set(&s, "be-alloc", not_one[i]);
		assert_int_equal(dmab_xs_read_config(store_read, &s, FE_DIR,
			&limits, &c, err, sizeof(err)), 0);
		assert_false(c.be_alloc);
	}

	/* A missing unique-id is "", not an error. */
	store_set(&s, "1/unique-id", NULL);
	memset(&c, 0x55, sizeof(c));
	assert_int_equal(dmab_xs_read_config(store_read, &s, FE_DIR, &limits,
		&c, err, sizeof(err)), 0);
	assert_string_equal(c.connectors[1].unique_id, "");
	assert_string_equal(c.connectors[0].unique_id, "id0");
}

static void test_config_connector_count(void **state)
{
	(void)state;
	struct store s;
	struct dmab_xs_config c;
	char err[160];
	char key[32];

	/* Counting stops at the first gap. */
	store_config(&s);
	store_set(&s, "1/resolution", NULL);
	store_set(&s, "2/resolution", "640x480");
	assert_int_equal(dmab_xs_read_config(store_read, &s, FE_DIR, &limits,
		&c, err, sizeof(err)), 0);
	assert_int_equal(c.connector_count, 1);

	/* Exactly the limit, then one more. */
	store_config(&s);
	for (unsigned int i = 0; i < limits.max_connectors; i++) {
		snprintf(key, sizeof(key), "%u/resolution", i);
		store_set(&s, key, "640x480");
	}
	assert_int_equal(dmab_xs_read_config(store_read, &s, FE_DIR, &limits,
		&c, err, sizeof(err)), 0);
	assert_int_equal(c.connector_count, limits.max_connectors);
	store_set(&s, "4/resolution", "640x480");
	assert_int_equal(dmab_xs_read_config(store_read, &s, FE_DIR, &limits,
		&c, err, sizeof(err)), -E2BIG);
	assert_string_equal(err, "4/resolution: more than 4 connectors");
	assert_int_equal(c.connector_count, 0);

	/* The reader stops there: a guest cannot make it walk on. */
	store_set(&s, "5/resolution", "640x480");
	s.reads = 0;
	assert_int_equal(dmab_xs_read_config(store_read, &s, FE_DIR, &limits,
		&c, err, sizeof(err)), -E2BIG);
	assert_true(s.reads <= 1 + 2 * 4 + 1);

	/* The limit may be the whole capacity. */
	struct dmab_xs_limits all = limits;
	all.max_connectors = DMAB_XS_CONNECTORS_MAX;
	store_config(&s);
	for (unsigned int i = 0; i < DMAB_XS_CONNECTORS_MAX; i++) {
		snprintf(key, sizeof(key), "%u/resolution", i);
		store_set(&s, key, "640x480");
	}
	assert_int_equal(dmab_xs_read_config(store_read, &s, FE_DIR, &all,
		&c, err, sizeof(err)), 0);
	assert_int_equal(c.connector_count, DMAB_XS_CONNECTORS_MAX);
	snprintf(key, sizeof(key), "%u/resolution", DMAB_XS_CONNECTORS_MAX);
	store_set(&s, key, "640x480");
	assert_int_equal(dmab_xs_read_config(store_read, &s, FE_DIR, &all,
		&c, err, sizeof(err)), -E2BIG);

	/* None at all. */
	store_config(&s);
	store_set(&s, "0/resolution", NULL);
	assert_int_equal(dmab_xs_read_config(store_read, &s, FE_DIR, &limits,
		&c, err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "0/resolution: missing: no connector configured");

	/* Limits the caller got wrong. */
	struct dmab_xs_limits bad = limits;
	bad.max_connectors = 0;
	assert_int_equal(dmab_xs_read_config(store_read, &s, FE_DIR, &bad,
		&c, err, sizeof(err)), -EINVAL);
	bad.max_connectors = DMAB_XS_CONNECTORS_MAX + 1;
	assert_int_equal(dmab_xs_read_config(store_read, &s, FE_DIR, &bad,
		&c, err, sizeof(err)), -EINVAL);
	assert_contains(err, "max_connectors 17 is not in 1..16");
}

static void test_config_bad_values(void **state)
{
	(void)state;
	static const struct {
		const char *key;
		const char *value;
		int ret;
		const char *message;
	} cases[] = {
		{ "0/resolution", "19x20x1", -EINVAL,
			"0/resolution: \"19x20x1\" is not <width>x<height>" },
		{ "1/resolution", "0x600", -ERANGE,
			"1/resolution: \"0x600\" has a zero width" },
		{ "1/resolution", "8192x600", -ERANGE,
			"1/resolution: \"8192x600\" has a width above 4096" },
		{ "1/resolution", "", -EINVAL,
			"1/resolution: \"\" is not <width>x<height>" },
		{ "1/unique-id", "bad\x1b[2J", -EINVAL,
			"1/unique-id: \"bad\\x1b[2J\" has a non-printable byte 0x1b" },
		{ "0/unique-id", "0123456789012345678901234567890123456789"
			"0123456789012345678901234", -ERANGE,
			"0/unique-id: \"0123456789012345678901234567890123456789\"... "
			"is longer than 64 bytes" },
	};
	struct store s;
	struct dmab_xs_config c;
	char err[200];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		store_config(&s);
		store_set(&s, cases[i].key, cases[i].value);
		int ret = dmab_xs_read_config(store_read, &s, FE_DIR, &limits, &c,
			err, sizeof(err));
		if (ret != cases[i].ret)
			fail_msg("%s=\"%s\": %d, expected %d", cases[i].key,
				cases[i].value, ret, cases[i].ret);
		assert_string_equal(err, cases[i].message);
		assert_int_equal(c.connector_count, 0);
	}
}

static void test_config_read_errors(void **state)
{
	(void)state;
	struct store s;
	struct dmab_xs_config c;
	char err[160];
	char longval[DMAB_XS_VALUE_MAX + 8];

	store_config(&s);
	store_fail(&s, "be-alloc", -EACCES);
	assert_int_equal(dmab_xs_read_config(store_read, &s, FE_DIR, &limits, &c,
		err, sizeof(err)), -EACCES);
	assert_string_equal(err, "be-alloc: cannot be read (error 13)");

	store_config(&s);
	store_fail(&s, "1/resolution", -EIO);
	assert_int_equal(dmab_xs_read_config(store_read, &s, FE_DIR, &limits, &c,
		err, sizeof(err)), -EIO);
	assert_string_equal(err, "1/resolution: cannot be read (error 5)");

	store_config(&s);
	store_fail(&s, "0/unique-id", -EIO);
	assert_int_equal(dmab_xs_read_config(store_read, &s, FE_DIR, &limits, &c,
		err, sizeof(err)), -EIO);
	assert_contains(err, "0/unique-id: cannot be read");

	/* A value longer than the buffer is refused by the callback. */
	store_config(&s);
	memset(longval, 'a', sizeof(longval) - 1);
	longval[sizeof(longval) - 1] = '\0';
	store_set(&s, "0/unique-id", longval);
	assert_int_equal(dmab_xs_read_config(store_read, &s, FE_DIR, &limits, &c,
		err, sizeof(err)), -E2BIG);
	assert_string_equal(err, "0/unique-id: value longer than 127 bytes");

	/* A device directory too long for a path. */
	char dir[DMAB_XS_PATH_MAX];
	memset(dir, 'd', sizeof(dir) - 1);
	dir[sizeof(dir) - 1] = '\0';
	assert_int_equal(dmab_xs_read_config(store_read, &s, dir, &limits, &c,
		err, sizeof(err)), -ENAMETOOLONG);
	assert_string_equal(err, "be-alloc: path too long");
}

/* A callback that fills the whole buffer and forgets the NUL. */
static int read_no_nul(void *data, const char *path, char *value, size_t len)
{
	(void)data;
	(void)path;
	memset(value, '1', len);
	return 0;
}

static void test_config_callback_without_nul(void **state)
{
	struct dmab_xs_config c;
	char err[160];

	(void)state;
	/* Read as 127 digits, never past the buffer (ASan checks). */
	assert_int_equal(dmab_xs_read_config(read_no_nul, NULL, FE_DIR, &limits,
		&c, err, sizeof(err)), -EINVAL);
	assert_contains(err, "0/resolution: \"1111111111111111111111111111111111111111\"... "
		"is not <width>x<height>");
}

/* -------------------------------------------------------- transport reader */

static void test_transport_ok(void **state)
{
	(void)state;
	struct store s;
	struct dmab_xs_transport t;
	char err[160] = "";

	store_transport(&s);
	assert_int_equal(dmab_xs_read_transport(store_read, &s, FE_DIR, 2, &t,
		err, sizeof(err)), 0);
	assert_int_equal(t.version, 2);
	assert_false(t.version_missing);
	assert_int_equal(t.connector_count, 2);
	assert_int_equal(t.connectors[0].req_ring_ref, 2832);
	assert_int_equal(t.connectors[0].req_evtchn, 15);
	assert_int_equal(t.connectors[0].evt_ring_ref, 387);
	assert_int_equal(t.connectors[0].evt_evtchn, 16);
	assert_int_equal(t.connectors[1].req_ring_ref, 2833);
	assert_int_equal(t.connectors[1].req_evtchn, 17);
	assert_int_equal(t.connectors[1].evt_ring_ref, 388);
	assert_int_equal(t.connectors[1].evt_evtchn, 18);
	assert_string_equal(err, "");

	/* Only the connectors asked for are read. */
	store_set(&s, "1/req-ring-ref", NULL);
	assert_int_equal(dmab_xs_read_transport(store_read, &s, FE_DIR, 1, &t,
		err, sizeof(err)), 0);
	assert_int_equal(t.connector_count, 1);
	assert_int_equal(t.connectors[1].req_ring_ref, 0);

	/* Largest values. */
	store_set(&s, "0/req-ring-ref", "4294967295");
	store_set(&s, "0/evt-event-channel", "4294967295");
	assert_int_equal(dmab_xs_read_transport(store_read, &s, FE_DIR, 1, &t,
		err, sizeof(err)), 0);
	assert_int_equal(t.connectors[0].req_ring_ref, UINT32_MAX);
	assert_int_equal(t.connectors[0].evt_evtchn, UINT32_MAX);
}

static void test_transport_version(void **state)
{
	(void)state;
	static const struct {
		const char *value;
		int ret;
		unsigned int version;
		bool missing;
		const char *message;
	} cases[] = {
		/* What Linux's xen-drm-front does: it never writes "version". */
		{ NULL, 0, DMAB_XS_PROTOCOL_MAX, true, NULL },
		{ "1", 0, 1, false, NULL },
		{ "2", 0, 2, false, NULL },
		{ "1,2", 0, 2, false, NULL },
		{ "3", -EPROTONOSUPPORT, 0, false,
			"version: \"3\" has no version we support (1,2)" },
		{ "", -EINVAL, 0, false,
			"version: \"\" is not a list of versions like \"1,2\"" },
		{ "v2", -EINVAL, 0, false,
			"version: \"v2\" is not a list of versions like \"1,2\"" },
	};
	struct store s;
	struct dmab_xs_transport t;
	char err[160];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		store_transport(&s);
		store_set(&s, "version", cases[i].value);
		int ret = dmab_xs_read_transport(store_read, &s, FE_DIR, 2, &t,
			err, sizeof(err));
		if (ret != cases[i].ret)
			fail_msg("version \"%s\": %d, expected %d",
				cases[i].value ? cases[i].value : "(missing)", ret,
				cases[i].ret);
		if (ret == 0) {
			assert_int_equal(t.version, cases[i].version);
			assert_int_equal(t.version_missing, cases[i].missing);
		} else {
			assert_string_equal(err, cases[i].message);
			assert_int_equal(t.connector_count, 0);
		}
	}

	store_transport(&s);
	store_fail(&s, "version", -EIO);
	assert_int_equal(dmab_xs_read_transport(store_read, &s, FE_DIR, 2, &t,
		err, sizeof(err)), -EIO);
	assert_string_equal(err, "version: cannot be read (error 5)");
}

static void test_transport_bad_keys(void **state)
{
	(void)state;
	static const char *const fields[] = {
		"req-ring-ref", "req-event-channel", "evt-ring-ref",
		"evt-event-channel",
	};
	struct store s;
	struct dmab_xs_transport t;
	char key[48], expect[160], err[160];

	for (unsigned int conn = 0; conn < 2; conn++) {
		for (size_t f = 0; f < 4; f++) {
			bool ref = strstr(fields[f], "ring-ref") != NULL;

			snprintf(key, sizeof(key), "%u/%s", conn, fields[f]);

			/* Missing. */
			store_transport(&s);
			store_set(&s, key, NULL);
			assert_int_equal(dmab_xs_read_transport(store_read, &s,
				FE_DIR, 2, &t, err, sizeof(err)), -ENOENT);
			snprintf(expect, sizeof(expect), "%s: missing", key);
			assert_string_equal(err, expect);
			assert_int_equal(t.connector_count, 0);

			/* Zero: grant ref 0 is the console's, port 0 is reserved. */
			store_transport(&s);
			store_set(&s, key, "0");
			assert_int_equal(dmab_xs_read_transport(store_read, &s,
				FE_DIR, 2, &t, err, sizeof(err)), -ERANGE);
			snprintf(expect, sizeof(expect),
				"%s: \"0\" is not a valid %s", key,
				ref ? "grant reference" : "event channel");
			assert_string_equal(err, expect);

			/* Overflow and garbage. */
			store_transport(&s);
			store_set(&s, key, "4294967296");
			assert_int_equal(dmab_xs_read_transport(store_read, &s,
				FE_DIR, 2, &t, err, sizeof(err)), -ERANGE);
			snprintf(expect, sizeof(expect),
				"%s: \"4294967296\" is out of range", key);
			assert_contains(err, expect);

			store_transport(&s);
			store_set(&s, key, "-1");
			assert_int_equal(dmab_xs_read_transport(store_read, &s,
				FE_DIR, 2, &t, err, sizeof(err)), -EINVAL);
			snprintf(expect, sizeof(expect),
				"%s: \"-1\" is not a decimal number", key);
			assert_string_equal(err, expect);

			store_transport(&s);
			store_fail(&s, key, -EIO);
			assert_int_equal(dmab_xs_read_transport(store_read, &s,
				FE_DIR, 2, &t, err, sizeof(err)), -EIO);
		}
	}

	store_transport(&s);
	assert_int_equal(dmab_xs_read_transport(store_read, &s, FE_DIR, 0, &t,
		err, sizeof(err)), -EINVAL);
	assert_int_equal(dmab_xs_read_transport(store_read, &s, FE_DIR,
		DMAB_XS_CONNECTORS_MAX + 1, &t, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "connector_count: 17 is not in 1..16");
}

/* ------------------------------------------------------------ xenbus steps */

#define NSTATES 9

/*
 * The backend's table, written out from displif.h, Linux's backends and
 * xen-drm-front (see xenstore.h); rows are the frontend's state, columns
 * the backend's, both in XenbusState order.
 */
static const enum dmab_xenbus_be_action be_online[NSTATES][NSTATES] = {
	/*                 Unk Init Wait Initd Conn Closing Closed Recf Recfd */
	[S_UNK] =        { RM, RM,  RM,  RM,   RM,  RM,     RM,    RM,  RM },
	[S_INIT] =       { RM, IW,  N,   DI,   DI,  CL,     RC,    DI,  DI },
	[S_WAIT] =       { RM, IW,  N,   DI,   DI,  CL,     RC,    DI,  DI },
	[S_INITD] =      { RM, IW,  CO,  DI,   N,   CL,     N,     DI,  DI },
	[S_CONN] =       { RM, CL,  CO,  DI,   N,   CL,     N,     DI,  DI },
	[S_CLOSING] =    { RM, IW,  N,   DI,   DI,  CL,     RC,    DI,  DI },
	[S_CLOSED] =     { RM, IW,  N,   DI,   DI,  CL,     N,     DI,  DI },
	[S_RECF] =       { RM, CL,  CL,  DI,   DI,  CL,     N,     DI,  DI },
	[S_RECFD] =      { RM, CL,  CL,  DI,   DI,  CL,     N,     DI,  DI },
};

static const enum dmab_xenbus_be_action be_offline[NSTATES][NSTATES] = {
	/*                 Unk Init Wait Initd Conn Closing Closed Recf Recfd */
	[S_UNK] =        { RM, RM,  RM,  RM,   RM,  RM,     RM,    RM,  RM },
	[S_INIT] =       { RM, DI,  DI,  DI,   DI,  CL,     N,     DI,  DI },
	[S_WAIT] =       { RM, DI,  DI,  DI,   DI,  CL,     N,     DI,  DI },
	[S_INITD] =      { RM, DI,  DI,  DI,   DI,  CL,     N,     DI,  DI },
	[S_CONN] =       { RM, DI,  DI,  DI,   DI,  CL,     N,     DI,  DI },
	[S_CLOSING] =    { RM, DI,  DI,  DI,   DI,  CL,     N,     DI,  DI },
	[S_CLOSED] =     { RM, RM,  RM,  RM,   RM,  RM,     RM,    RM,  RM },
	[S_RECF] =       { RM, DI,  DI,  DI,   DI,  CL,     N,     DI,  DI },
	[S_RECFD] =      { RM, DI,  DI,  DI,   DI,  CL,     N,     DI,  DI },
};

static void test_backend_table(void **state)
{
	(void)state;
	for (unsigned int fe = 0; fe < NSTATES; fe++) {
		for (unsigned int be = 0; be < NSTATES; be++) {
			enum dmab_xenbus_be_action on = dmab_xenbus_backend_step(be,
				fe, true);
			enum dmab_xenbus_be_action off = dmab_xenbus_backend_step(be,
				fe, false);
			if (on != be_online[fe][be] || off != be_offline[fe][be])
				fail_msg("be %s fe %s: online %d (want %d), "
					"offline %d (want %d)",
					dmab_xenbus_state_name(be),
					dmab_xenbus_state_name(fe), on,
					be_online[fe][be], off, be_offline[fe][be]);
		}
	}
}

static void test_backend_invalid_states(void **state)
{
	(void)state;
	/* A frontend state outside 0..8 is a frontend error: as Closed. */
	for (unsigned int be = 0; be < NSTATES; be++) {
		for (unsigned int bad = 9; bad < 12; bad++) {
			assert_int_equal(dmab_xenbus_backend_step(be, bad, true),
				be_online[S_CLOSED][be]);
			assert_int_equal(dmab_xenbus_backend_step(be, bad, false),
				be_offline[S_CLOSED][be]);
		}
		assert_int_equal(dmab_xenbus_backend_step(be, 0xffffffffu, true),
			be_online[S_CLOSED][be]);
	}
	/* A backend state outside 0..8 was not written by us: tear down. */
	for (unsigned int fe = 1; fe < NSTATES; fe++) {
		assert_int_equal(dmab_xenbus_backend_step(9, fe, true), DI);
		if (fe != S_CLOSED)
			assert_int_equal(dmab_xenbus_backend_step(100, fe, false), DI);
	}
	assert_int_equal(dmab_xenbus_backend_step(9, S_UNK, true), RM);
}

/* The state each action leaves the backend in; -1: the device is gone. */
static int be_target(enum dmab_xenbus_be_action a, bool connect_fails)
{
	switch (a) {
	case DMAB_XENBUS_BE_INIT_WAIT:
	case DMAB_XENBUS_BE_RECONNECT:
		return S_WAIT;
	case DMAB_XENBUS_BE_CONNECT:
		return connect_fails ? S_CLOSING : S_CONN;
	case DMAB_XENBUS_BE_DISCONNECT:
		return S_CLOSING;
	case DMAB_XENBUS_BE_CLOSED:
		return S_CLOSED;
	case DMAB_XENBUS_BE_REMOVE:
		return -1;
	case DMAB_XENBUS_BE_NONE:
		break;
	}
	fail_msg("no target for action %d", a);
	return -1;
}

/*
 * With the frontend standing still, the backend settles in a few steps from
 * any state, whether connecting works or not: a frontend cannot make it
 * spin, and one watch event is handled with a bounded loop.
 */
static void test_backend_settles(void **state)
{
	(void)state;
	for (unsigned int fails = 0; fails < 2; fails++) {
		for (unsigned int online = 0; online < 2; online++) {
			for (unsigned int fe = 0; fe < NSTATES + 1; fe++) {
				for (unsigned int start = 0; start < NSTATES + 1; start++) {
					int be = start;
					unsigned int steps = 0;
					enum dmab_xenbus_be_action a;

					while ((a = dmab_xenbus_backend_step(be, fe,
							online)) != N) {
						be = be_target(a, fails);
						if (be < 0)
							break;
						if (++steps > 4)
							fail_msg("no rest: fe %u, start %u, "
								"online %u, fails %u", fe,
								start, online, fails);
					}
				}
			}
		}
	}
}

/* Walk the backend until it rests; returns the actions taken, in order. */
static size_t be_walk(enum xenbus_state *be, enum xenbus_state fe, bool online,
		enum dmab_xenbus_be_action *actions, size_t max)
{
	size_t n = 0;
	enum dmab_xenbus_be_action a;

	while ((a = dmab_xenbus_backend_step(*be, fe, online)) != N) {
		assert_true(n < max);
		actions[n++] = a;
		int t = be_target(a, false);
		if (t < 0)
			break;
		*be = t;
	}
	return n;
}

static void test_backend_reconnect_sequence(void **state)
{
	(void)state;
	enum xenbus_state be = S_INIT;
	enum dmab_xenbus_be_action a[8];

	/* Creation: both Initialising. */
	assert_int_equal(be_walk(&be, S_INIT, true, a, 8), 1);
	assert_int_equal(a[0], IW);
	assert_int_equal(be, S_WAIT);
	assert_int_equal(be_walk(&be, S_INITD, true, a, 8), 1);
	assert_int_equal(a[0], CO);
	assert_int_equal(be, S_CONN);
	assert_int_equal(be_walk(&be, S_CONN, true, a, 8), 0);
	/* The Initialised watch fires late: no second connect. */
	assert_int_equal(be_walk(&be, S_INITD, true, a, 8), 0);
	assert_int_equal(be, S_CONN);

	/* The frontend closes, the backend follows it to InitWait. */
	assert_int_equal(be_walk(&be, S_CLOSING, true, a, 8), 3);
	assert_int_equal(a[0], DI);
	assert_int_equal(a[1], CL);
	assert_int_equal(a[2], RC);
	assert_int_equal(be, S_WAIT);
	assert_int_equal(be_walk(&be, S_CLOSED, true, a, 8), 0);
	assert_int_equal(be_walk(&be, S_INIT, true, a, 8), 0);
	assert_int_equal(be_walk(&be, S_INITD, true, a, 8), 1);
	assert_int_equal(a[0], CO);
	assert_int_equal(be, S_CONN);

	/* The same with a backend that only saw Closed: it rests in Closed. */
	assert_int_equal(be_walk(&be, S_CLOSED, true, a, 8), 2);
	assert_int_equal(a[0], DI);
	assert_int_equal(a[1], CL);
	assert_int_equal(be, S_CLOSED);
	assert_int_equal(be_walk(&be, S_INIT, true, a, 8), 1);
	assert_int_equal(a[0], RC);
	assert_int_equal(be, S_WAIT);
	assert_int_equal(be_walk(&be, S_INITD, true, a, 8), 1);
	assert_int_equal(a[0], CO);

	/* A frontend that restarts without closing first. */
	assert_int_equal(be_walk(&be, S_INIT, true, a, 8), 3);
	assert_int_equal(a[0], DI);
	assert_int_equal(a[1], CL);
	assert_int_equal(a[2], RC);
	assert_int_equal(be, S_WAIT);

	/* A frontend that goes straight to Connected. */
	assert_int_equal(be_walk(&be, S_CONN, true, a, 8), 1);
	assert_int_equal(a[0], CO);
	assert_int_equal(be, S_CONN);

	/* Reconfiguring: wait in Closed until it is Initialising again. */
	assert_int_equal(be_walk(&be, S_RECF, true, a, 8), 2);
	assert_int_equal(be, S_CLOSED);
	assert_int_equal(be_walk(&be, S_RECF, true, a, 8), 0);
	assert_int_equal(be_walk(&be, S_INIT, true, a, 8), 1);
	assert_int_equal(a[0], RC);

	/* The frontend node disappears. */
	assert_int_equal(be_walk(&be, S_UNK, true, a, 8), 1);
	assert_int_equal(a[0], RM);
}

#define FN DMAB_XENBUS_FE_NONE
#define FP DMAB_XENBUS_FE_PUBLISH
#define FC DMAB_XENBUS_FE_CONNECT
#define FT DMAB_XENBUS_FE_TEARDOWN
#define FX DMAB_XENBUS_FE_CLOSED

static void test_frontend_table(void **state)
{
	(void)state;
	/* Rows are the frontend's state, columns the backend's. */
	static const enum dmab_xenbus_fe_action want[NSTATES][NSTATES] = {
		/*              Unk Init Wait Initd Conn Closing Closed Recf Recfd */
		[S_UNK] =     { FN, FN,  FN,  FN,   FN,  FN,     FN,    FN,  FN },
		[S_INIT] =    { FN, FN,  FP,  FN,   FN,  FN,     FN,    FN,  FN },
		[S_WAIT] =    { FN, FN,  FP,  FN,   FN,  FN,     FN,    FN,  FN },
		[S_INITD] =   { FT, FT,  FN,  FN,   FC,  FN,     FT,    FN,  FN },
		[S_CONN] =    { FT, FT,  FT,  FN,   FN,  FN,     FT,    FN,  FN },
		[S_CLOSING] = { FX, FX,  FX,  FN,   FN,  FN,     FX,    FN,  FN },
		[S_CLOSED] =  { FN, FN,  FN,  FN,   FN,  FN,     FN,    FN,  FN },
		[S_RECF] =    { FN, FN,  FN,  FN,   FN,  FN,     FN,    FN,  FN },
		[S_RECFD] =   { FN, FN,  FN,  FN,   FN,  FN,     FN,    FN,  FN },
	};

	for (unsigned int fe = 0; fe < NSTATES; fe++) {
		for (unsigned int be = 0; be < NSTATES; be++) {
			enum dmab_xenbus_fe_action got =
				dmab_xenbus_frontend_step(fe, be);
			if (got != want[fe][be])
				fail_msg("fe %s be %s: %d, want %d",
					dmab_xenbus_state_name(fe),
					dmab_xenbus_state_name(be), got,
					want[fe][be]);
		}
	}
	for (unsigned int fe = 0; fe < NSTATES; fe++)
		assert_int_equal(dmab_xenbus_frontend_step(fe, 9), FN);
}

/*
 * Both ends over one store, with watches: each state write queues an event
 * for the other end (xenstored fires a watch on every write), which reads
 * the states as they are when it runs. The frontend is either ours
 * (dmab_xenbus_frontend_step) or a model of Linux's xen-drm-front
 * (displback_changed and xen_drv_remove in drivers/gpu/drm/xen).
 */
struct sim {
	enum xenbus_state be, fe;
	bool online;
	bool removed;
	bool linux_fe;
	bool be_alloc;		/* Linux: Reconfiguring lasts until release */
	bool drm;		/* Linux: the DRM device exists */
	bool connect_fails;
	char queue[256];	/* 'B': backend wrote, 'F': frontend wrote */
	size_t head, tail;
	unsigned int connects, publishes, reconnects;
};

static void sim_push(struct sim *s, char who)
{
	assert_true(s->tail < sizeof(s->queue));
	s->queue[s->tail++] = who;
}

static void sim_set_be(struct sim *s, enum xenbus_state st)
{
	s->be = st;
	sim_push(s, 'B');
}

static void sim_set_fe(struct sim *s, enum xenbus_state st)
{
	s->fe = st;
	sim_push(s, 'F');
}

static void sim_backend(struct sim *s)
{
	enum dmab_xenbus_be_action a;
	unsigned int steps = 0;

	if (s->removed)
		return;
	while ((a = dmab_xenbus_backend_step(s->be, s->fe, s->online)) != N) {
		assert_true(++steps <= 4);
		if (a == RM) {
			s->removed = true;
			return;
		}
		if (a == CO)
			s->connects++;
		if (a == RC)
			s->reconnects++;
		sim_set_be(s, be_target(a, s->connect_fails));
	}
}

static void linux_disconnect(struct sim *s)
{
	if (!s->drm)
		return;
	sim_set_fe(s, S_RECF);
	s->drm = false;
	if (!s->be_alloc)
		sim_set_fe(s, S_INIT);
}

static void linux_backend_changed(struct sim *s)
{
	switch (s->be) {
	case S_INIT:
		if (s->fe != S_RECF)
			linux_disconnect(s);
		break;
	case S_WAIT:
		if (s->fe == S_RECF)
			break;
		linux_disconnect(s);
		if (s->fe != S_INIT)
			break;
		s->publishes++;
		sim_set_fe(s, S_INITD);
		break;
	case S_CONN:
		if (s->fe != S_INITD)
			break;
		s->drm = true;
		sim_set_fe(s, S_CONN);
		break;
	case S_UNK:
	case S_CLOSED:
		if (s->fe != S_CLOSED)
			linux_disconnect(s);
		break;
	default:
		break;
	}
}

static void our_frontend(struct sim *s)
{
	enum dmab_xenbus_fe_action a;
	unsigned int steps = 0;

	while ((a = dmab_xenbus_frontend_step(s->fe, s->be)) != FN) {
		assert_true(++steps <= 4);
		switch (a) {
		case DMAB_XENBUS_FE_PUBLISH:
			s->publishes++;
			sim_set_fe(s, S_INITD);
			break;
		case DMAB_XENBUS_FE_CONNECT:
			sim_set_fe(s, S_CONN);
			break;
		case DMAB_XENBUS_FE_TEARDOWN:
			sim_set_fe(s, S_INIT);
			break;
		case DMAB_XENBUS_FE_CLOSED:
			sim_set_fe(s, S_CLOSED);
			break;
		case DMAB_XENBUS_FE_NONE:
			break;
		}
	}
}

/* Deliver events until none is left, or until stop() holds. */
static void sim_run_until(struct sim *s, bool (*stop)(const struct sim *))
{
	while (s->head < s->tail) {
		if (stop && stop(s))
			return;
		if (s->queue[s->head++] == 'F')
			sim_backend(s);
		else if (s->linux_fe)
			linux_backend_changed(s);
		else
			our_frontend(s);
	}
}

static void sim_run(struct sim *s)
{
	sim_run_until(s, NULL);
}

/* The toolstack wrote both directories, both Initialising. */
static void sim_create(struct sim *s, bool linux_fe, bool be_alloc)
{
	memset(s, 0, sizeof(*s));
	s->be = S_INIT;
	s->fe = S_INIT;
	s->online = true;
	s->linux_fe = linux_fe;
	s->be_alloc = be_alloc;
	sim_push(s, 'F');
	sim_push(s, 'B');
}

static void assert_connected(const struct sim *s)
{
	if (s->be != S_CONN || s->fe != S_CONN || s->removed)
		fail_msg("be %s, fe %s%s", dmab_xenbus_state_name(s->be),
			dmab_xenbus_state_name(s->fe),
			s->removed ? ", removed" : "");
}

static bool be_in_initwait(const struct sim *s)
{
	return s->be == S_WAIT;
}

static void test_sim_linux_frontend(void **state)
{
	(void)state;
	struct sim s;

	sim_create(&s, true, false);
	sim_run(&s);
	assert_connected(&s);
	assert_int_equal(s.connects, 1);
	assert_int_equal(s.publishes, 1);

	/*
	 * Unbind the driver in the guest: Closing, then it waits for the
	 * backend's InitWait (1 s at most), then Closed.
	 */
	sim_set_fe(&s, S_CLOSING);
	sim_run_until(&s, be_in_initwait);
	assert_int_equal(s.be, S_WAIT);
	s.drm = false;
	sim_set_fe(&s, S_CLOSED);
	sim_run(&s);
	assert_int_equal(s.be, S_WAIT);

	/* Bind it again: a new watch fires once at once. */
	sim_set_fe(&s, S_INIT);
	linux_backend_changed(&s);
	sim_run(&s);
	assert_connected(&s);
	assert_int_equal(s.connects, 2);
}

static void test_sim_linux_backend_restart(void **state)
{
	(void)state;
	for (unsigned int be_alloc = 0; be_alloc < 2; be_alloc++) {
		struct sim s;

		sim_create(&s, true, be_alloc);
		sim_run(&s);
		assert_connected(&s);

		/*
		 * dmabridged restarts: it holds nothing, so it adopts the
		 * device as Closing whatever the store says.
		 */
		s.be = S_CLOSING;
		sim_backend(&s);
		sim_run(&s);
		if (be_alloc) {
			/* The guest's DRM device is still open: both wait. */
			assert_int_equal(s.fe, S_RECF);
			assert_int_equal(s.be, S_CLOSED);
			/* The last client closes it. */
			sim_set_fe(&s, S_INIT);
			sim_run(&s);
		}
		assert_connected(&s);
		assert_int_equal(s.connects, 2);
		assert_int_equal(s.publishes, 2);
	}
}

static void test_sim_linux_toolstack_remove(void **state)
{
	(void)state;
	struct sim s;

	sim_create(&s, true, false);
	sim_run(&s);
	assert_connected(&s);

	/* libxl: online 0 and state Closing in one transaction. */
	s.online = false;
	sim_set_be(&s, S_CLOSING);
	sim_backend(&s);
	sim_run(&s);
	assert_int_equal(s.be, S_CLOSED);
	assert_false(s.removed);
	assert_int_equal(s.reconnects, 0);

	/* libxl saw Closed and deletes both directories. */
	s.fe = S_UNK;
	s.be = S_UNK;
	sim_push(&s, 'F');
	sim_run(&s);
	assert_true(s.removed);
	assert_int_equal(s.connects, 1);
}

static void test_sim_bad_transport(void **state)
{
	(void)state;
	struct sim s;

	/* The frontend's keys are bad: one attempt, then rest in Closed. */
	sim_create(&s, true, false);
	s.connect_fails = true;
	sim_run(&s);
	assert_int_equal(s.connects, 1);
	assert_int_equal(s.be, S_CLOSED);
	assert_int_equal(s.fe, S_INITD);
}

static void test_sim_our_frontend(void **state)
{
	(void)state;
	struct sim s;

	sim_create(&s, false, false);
	sim_run(&s);
	assert_connected(&s);
	assert_int_equal(s.connects, 1);

	/* The client closes the device. */
	sim_set_fe(&s, S_CLOSING);
	sim_run(&s);
	assert_int_equal(s.fe, S_CLOSED);
	assert_int_equal(s.be, S_WAIT);

	/* ... and opens it again. */
	sim_set_fe(&s, S_INIT);
	our_frontend(&s);
	sim_run(&s);
	assert_connected(&s);
	assert_int_equal(s.connects, 2);

	/* The backend restarts under a connected client. */
	s.be = S_CLOSING;
	sim_backend(&s);
	sim_run(&s);
	assert_connected(&s);
	assert_int_equal(s.connects, 3);

	/* The toolstack removes the device. */
	s.online = false;
	sim_set_be(&s, S_CLOSING);
	sim_backend(&s);
	sim_run(&s);
	assert_int_equal(s.be, S_CLOSED);
	assert_int_equal(s.fe, S_INIT);
	assert_false(s.removed);
	s.fe = S_UNK;
	sim_push(&s, 'F');
	sim_run(&s);
	assert_true(s.removed);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_paths_too_long),
		cmocka_unit_test(test_backend_path_ok),
		cmocka_unit_test(test_backend_path_bad),
		cmocka_unit_test(test_uint_rejects),
		cmocka_unit_test(test_uint_long_inputs),
		cmocka_unit_test(test_uint_accepts),
		cmocka_unit_test(test_err_buffer),
		cmocka_unit_test(test_domid),
		cmocka_unit_test(test_state),
		cmocka_unit_test(test_resolution),
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_bool),
		cmocka_unit_test(test_unique_id),
		cmocka_unit_test(test_config_ok),
		cmocka_unit_test(test_config_connector_count),
		cmocka_unit_test(test_config_bad_values),
		cmocka_unit_test(test_config_read_errors),
		cmocka_unit_test(test_config_callback_without_nul),
		cmocka_unit_test(test_transport_ok),
		cmocka_unit_test(test_transport_version),
		cmocka_unit_test(test_transport_bad_keys),
		cmocka_unit_test(test_backend_table),
		cmocka_unit_test(test_backend_invalid_states),
		cmocka_unit_test(test_backend_settles),
		cmocka_unit_test(test_backend_reconnect_sequence),
		cmocka_unit_test(test_frontend_table),
		cmocka_unit_test(test_sim_linux_frontend),
		cmocka_unit_test(test_sim_linux_backend_restart),
		cmocka_unit_test(test_sim_linux_toolstack_remove),
		cmocka_unit_test(test_sim_bad_transport),
		cmocka_unit_test(test_sim_our_frontend),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
