// SPDX-License-Identifier: MIT
#include <errno.h>

#include "protocol/status.h"
#include "protocol/wire.h"

int32_t dmab_xen_status(int err)
{
	if (err == 0)
		return 0;
	if (err > 0)
		err = -err;

	switch (-err) {
	case EPERM: return -XEN_EPERM;
	case ENOENT: return -XEN_ENOENT;
	case EIO: return -XEN_EIO;
	case E2BIG: return -XEN_E2BIG;
	case EBADF: return -XEN_EBADF;
	case EAGAIN: return -XEN_EAGAIN;
	case ENOMEM: return -XEN_ENOMEM;
	case EACCES: return -XEN_EACCES;
	case EFAULT: return -XEN_EFAULT;
	case EBUSY: return -XEN_EBUSY;
	case EEXIST: return -XEN_EEXIST;
	case ENODEV: return -XEN_ENODEV;
	case EINVAL: return -XEN_EINVAL;
	case ENFILE: return -XEN_ENFILE;
	case EMFILE: return -XEN_EMFILE;
	case ENOSPC: return -XEN_ENOSPC;
	case ERANGE: return -XEN_ERANGE;
	case ENOSYS: return -XEN_ENOSYS;
	case EOVERFLOW: return -XEN_EOVERFLOW;
	case EMSGSIZE: return -XEN_EMSGSIZE;
	case EOPNOTSUPP: return -XEN_EOPNOTSUPP;
	case ENOBUFS: return -XEN_ENOBUFS;
	case ETIMEDOUT: return -XEN_ETIMEDOUT;
	case EPROTO: return -XEN_EIO;
	case EDQUOT: return -XEN_ENOSPC;
	default: return -XEN_EIO;
	}
}
