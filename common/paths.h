/* SPDX-License-Identifier: MIT */
#ifndef DMAB_COMMON_PATHS_H
#define DMAB_COMMON_PATHS_H

#include <stddef.h>

/**
 * Where dmabridged's control socket is by default: $DMABRIDGE_SOCKET, else
 * $XDG_RUNTIME_DIR/dmabridge.sock, else /run/dmabridge.sock for root and
 * /tmp/dmabridge-<uid>.sock for others. Returns buf, or NULL if too long.
 */
const char *dmab_default_control_socket(char *buf, size_t len);

#endif
