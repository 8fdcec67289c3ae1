// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/paths.h"

const char *dmab_runtime_dir_path(char *buf, size_t len)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n;
	if (xdg && xdg[0])
		n = snprintf(buf, len, "%s", xdg);
	else if (geteuid() == 0)
		n = snprintf(buf, len, "/run/dmabridge");
	else
		n = snprintf(buf, len, "/tmp/dmabridge-%u", (unsigned int)geteuid());
	return n >= 0 && (size_t)n < len ? buf : NULL;
}

int dmab_private_dir(const char *dir, bool create)
{
	if (create && mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	/* lstat: a symlink is refused, whoever made it and wherever it leads. */
	struct stat st;
	if (lstat(dir, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if (st.st_uid != geteuid())
		return -EPERM;
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return -EACCES;
	return 0;
}

const char *dmab_runtime_dir(char *buf, size_t len, bool create)
{
	if (!dmab_runtime_dir_path(buf, len)) {
		dmab_log(DMAB_LOG_ERROR, "the runtime directory's path is too long");
		return NULL;
	}
	int ret = dmab_private_dir(buf, create);
	if (ret == -EPERM || ret == -EACCES || ret == -ENOTDIR)
		dmab_log(DMAB_LOG_ERROR, "%s is not a directory of this user's alone (%s): not "
			"using it for sockets; name them outright instead", buf,
			ret == -EPERM ? "another user's" : ret == -EACCES ? "others may write it" :
			"not a directory");
	else if (ret)
		dmab_log_errno(DMAB_LOG_ERROR, ret, "the runtime directory %s", buf);
	return ret ? NULL : buf;
}

const char *dmab_default_socket(char *buf, size_t len, const char *env, const char *name)
{
	const char *path = getenv(env);
	if (path && path[0]) {
		int n = snprintf(buf, len, "%s", path);
		return n >= 0 && (size_t)n < len ? buf : NULL;
	}
	if (!dmab_runtime_dir(buf, len, false))
		return NULL;
	size_t used = strlen(buf);
	int n = snprintf(buf + used, len - used, "/%s", name);
	if (n < 0 || (size_t)n >= len - used) {
		dmab_log(DMAB_LOG_ERROR, "the path of %s in %.*s is too long", name, (int)used, buf);
		return NULL;
	}
	return buf;
}

const char *dmab_default_control_socket(char *buf, size_t len)
{
	return dmab_default_socket(buf, len, DMAB_ENV_SOCKET, "dmabridge.sock");
}

const char *dmab_find_socket(char *buf, size_t len, const char *env, const char *name,
		const char *system_dir)
{
	const char *set = getenv(env);
	const char *path = dmab_default_socket(buf, len, env, name);
	if ((set && set[0]) || geteuid() != 0 || (path && access(path, F_OK) == 0))
		return path;
	/*
	 * Root's login session has an XDG_RUNTIME_DIR of its own; a system
	 * service (dmabridged under systemd) has none, and so uses the
	 * system's directory: look there when the session has no socket.
	 */
	char other[256];
	int n = snprintf(other, sizeof(other), "%s/%s", system_dir, name);
	if (n < 0 || (size_t)n >= sizeof(other) || (size_t)n >= len ||
			dmab_private_dir(system_dir, false) || access(other, F_OK))
		return path;
	memcpy(buf, other, (size_t)n + 1);
	return buf;
}

const char *dmab_find_control_socket(char *buf, size_t len)
{
	return dmab_find_socket(buf, len, DMAB_ENV_SOCKET, "dmabridge.sock", "/run/dmabridge");
}
