// SPDX-License-Identifier: MIT
/*
 * Control requests as a hostile local client sends them: any octets as one
 * line. What decodes must hold together (a known command, names that are
 * non-empty, bounded, terminated and free of control characters); what is
 * refused must say why in a bounded, printable text.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "server/control-request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool printable(const char *text, size_t size, bool empty_ok)
{
	const char *end = memchr(text, '\0', size);
	if (!end || (!empty_ok && end == text))
		return false;
	for (const char *p = text; p < end; p++) {
		unsigned char c = (unsigned char)*p;
		if (c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

static bool name_ok(const char *name)
{
	return printable(name, DMAB_CTL_NAME_MAX + 1, false);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dmab_ctl_request req;
	char error[DMAB_CTL_ERROR_MAX];
	memset(&req, 0xa5, sizeof(req));
	memset(error, 0xa5, sizeof(error));
	int ret = dmab_ctl_request_parse((const char *)data, size, &req, error);
	if (ret) {
		/* An error text is ASCII: what a client sent is quoted tamed. */
		if ((ret != -EINVAL && ret != -ENOMEM) || !printable(error, sizeof(error), false))
			__builtin_trap();
		for (const char *p = error; *p; p++) {
			if ((unsigned char)*p >= 0x80)
				__builtin_trap();
		}
		return 0;
	}
	if (error[0] != '\0')
		__builtin_trap();
	switch (req.cmd) {
	case DMAB_CTL_STATUS:
	case DMAB_CTL_STATS:
	case DMAB_CTL_RELOAD:
		break;
	case DMAB_CTL_SCREENSHOT:
		if (req.screenshot.target == DMAB_CTL_TARGET_FIRST_SCREEN) {
			if (req.screenshot.name[0] != '\0')
				__builtin_trap();
		} else if (req.screenshot.target != DMAB_CTL_TARGET_SCREEN &&
				req.screenshot.target != DMAB_CTL_TARGET_CONNECTOR &&
				req.screenshot.target != DMAB_CTL_TARGET_ANY) {
			__builtin_trap();
		} else if (!name_ok(req.screenshot.name)) {
			__builtin_trap();
		}
		break;
	case DMAB_CTL_LAYOUT:
		if (!name_ok(req.layout.connector))
			__builtin_trap();
		if (req.layout.has_screen ? !name_ok(req.layout.screen) : req.layout.screen[0] != '\0')
			__builtin_trap();
		if ((!req.layout.has_x && req.layout.x) || (!req.layout.has_y && req.layout.y) ||
				(!req.layout.has_z && req.layout.z) ||
				(!req.layout.has_visible && req.layout.visible))
			__builtin_trap();
		break;
	default:
		__builtin_trap();
	}
	return 0;
}
