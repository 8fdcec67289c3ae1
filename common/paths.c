// SPDX-License-Identifier: MIT
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/paths.h"

const char *dmab_default_control_socket(char *buf, size_t len)
{
	const char *env = getenv("DMABRIDGE_SOCKET");
	const char *dir = getenv("XDG_RUNTIME_DIR");
	int n;
	if (env && env[0])
		n = snprintf(buf, len, "%s", env);
	else if (dir && dir[0])
		n = snprintf(buf, len, "%s/dmabridge.sock", dir);
	else if (getuid() == 0)
		n = snprintf(buf, len, "/run/dmabridge.sock");
	else
		n = snprintf(buf, len, "/tmp/dmabridge-%u.sock", (unsigned int)getuid());
	return n >= 0 && (size_t)n < len ? buf : NULL;
}
