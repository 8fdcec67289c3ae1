/* SPDX-License-Identifier: MIT */
/*
 * Where dmabridge's sockets are by default. Whoever can connect to the
 * simulator's socket becomes a guest, and whoever can connect to the
 * control socket controls the server: both go into a directory only the
 * server's user can write, never under a fixed name in a directory others
 * can write (they could take the name first).
 */
#ifndef DMAB_COMMON_PATHS_H
#define DMAB_COMMON_PATHS_H

#include <stdbool.h>
#include <stddef.h>

/* Environment variables naming the sockets outright. */
#define DMAB_ENV_SOCKET "DMABRIDGE_SOCKET"
#define DMAB_ENV_SIM_SOCKET "DMABRIDGE_SIM_SOCKET"

/**
 * The directory of the default sockets: $XDG_RUNTIME_DIR, else
 * /run/dmabridge for root, else /tmp/dmabridge-<uid>. Returns buf, or NULL
 * if it does not fit.
 */
const char *dmab_runtime_dir_path(char *buf, size_t len);

/**
 * Check that dir is private to this user: a directory (not a symlink) that
 * this user owns and nobody else may write. With create, make it (mode
 * 0700) when it does not exist; its parent must. 0, -ENOTDIR (not a
 * directory, or a symlink), -EPERM (another user's), -EACCES (others may
 * write it), or what mkdir() or lstat() said.
 */
int dmab_private_dir(const char *dir, bool create);

/**
 * dmab_runtime_dir_path(), checked with dmab_private_dir() (made with
 * create: the server does it, clients only look). Returns buf, or NULL
 * with a log line saying why.
 */
const char *dmab_runtime_dir(char *buf, size_t len, bool create);

/**
 * Where dmabridged's control socket is by default: $DMABRIDGE_SOCKET, else
 * dmabridge.sock in dmab_runtime_dir() (not made here). Returns buf, or
 * NULL (logged) if that is not a private directory or the path is too long.
 */
const char *dmab_default_control_socket(char *buf, size_t len);

/** The same for name (e.g. "dmabridge-sim.sock") and environment variable env. */
const char *dmab_default_socket(char *buf, size_t len, const char *env, const char *name);

/**
 * Where a client finds dmabridged's control socket: as
 * dmab_default_control_socket(), but for root whose $XDG_RUNTIME_DIR has
 * no socket (a login session, while dmabridged runs as a system service)
 * /run/dmabridge/dmabridge.sock when that exists in a private directory.
 */
const char *dmab_find_control_socket(char *buf, size_t len);

/** dmab_find_control_socket() for name, env, and the system's directory system_dir. */
const char *dmab_find_socket(char *buf, size_t len, const char *env, const char *name,
		const char *system_dir);

#endif
