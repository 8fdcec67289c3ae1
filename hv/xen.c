// SPDX-License-Identifier: MIT
/*
 * The real hypervisor: struct dmab_hv_impl over libxenstore, libxenevtchn,
 * libxengnttab (gntdev) and, in the frontend role, xengntshr (gntalloc).
 *
 * What the libraries and the Linux drivers under them actually do, where it
 * matters here (Xen 4.17 tools, Linux 6.1):
 * - libxenstore delivers watch events from a reader thread it starts at the
 *   first xs_watch(); xs_fileno() is a pipe that holds one byte while its
 *   queue is non-empty. A watch token is never reused (hv.c numbers them),
 *   so events still queued for a removed watch find no owner and are
 *   dropped by dmab_hv_deliver_watch(); XS_UNWATCH_FILTER is not needed
 *   (and in 4.17 it leaks the body of every event it filters).
 * - gntdev fails a grant map with EINVAL whatever Xen's per-ref status was:
 *   an unknown ref, a ref granted to another domain and a read-only grant
 *   mapped writable all look alike. See grant_map() for the one of those
 *   we tell apart.
 */
#include "hv/hv-impl.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xenevtchn.h>
#include <xengnttab.h>
#include <xenstore.h>
#include <xentoollog.h>

#include "common/log.h"
#include "hv/xen.h"

/*
 * Largest grant count handed to one gntdev or gntalloc call. gntdev refuses
 * more than its "limit" parameter (64 Ki pages by default) per call, and
 * libxengnttab's map computes its request size in an unsigned int, which
 * wraps long before a uint32_t count does.
 */
#define MAX_GRANTS_PER_CALL 65536u

/* Event-channel notifications handled per dispatch; the rest wait for the next. */
#define MAX_EVENTS_PER_DISPATCH 256

enum export_cap {
	EXPORT_UNKNOWN = -1,
	EXPORT_CANNOT = 0,
	EXPORT_CAN = 1,
};

struct xen_hv {
	struct dmab_hv base;
	struct xs_handle *xs;
	xenevtchn_handle *xce;
	xengnttab_handle *xgt;
	xengntshr_handle *xgs;          /* frontend role only */
	int xs_fd;                      /* xs_fileno(), owned by xs */
	int evtchn_fd;                  /* xenevtchn_fd(), owned by xce */
	enum export_cap export_cap;
};

static const struct dmab_hv_impl xen_impl;

static struct xen_hv *xen_hv(struct dmab_hv *hv)
{
	return (struct xen_hv *)hv;
}

/* The errno a failed library call left, as a negative errno that is never 0. */
static int neg_errno(void)
{
	return errno > 0 ? -errno : -EIO;
}

/*
 * The libraries log every failed ioctl and mmap on their own, at error
 * level, to stderr by default. Many of those failures are a guest's doing
 * (bad grant refs) or expected (EXP_FROM_REFS on x86), and this file logs
 * where the cause is known; theirs go to the debug level.
 */
__attribute__((format(printf, 5, 0)))
static void xtl_vmessage(struct xentoollog_logger *logger,
		xentoollog_level level, int errnoval, const char *context,
		const char *format, va_list args)
{
	if (dmab_log_get_level() < DMAB_LOG_DEBUG)
		return;
	char msg[512];
	vsnprintf(msg, sizeof(msg), format, args);
	if (errnoval >= 0)
		dmab_log(DMAB_LOG_DEBUG, "lib%s: %s: %s", context ? context : "xen",
			msg, strerror(errnoval));
	else
		dmab_log(DMAB_LOG_DEBUG, "lib%s: %s", context ? context : "xen", msg);
}

static void xtl_destroy(struct xentoollog_logger *logger)
{
	/* Static; the libraries only destroy loggers they created. */
}

static struct xentoollog_logger xtl_logger = {
	.vmessage = xtl_vmessage,
	.progress = NULL,
	.destroy = xtl_destroy,
};

/* ---- lifetime and dispatch ---- */

static void xen_destroy(struct dmab_hv *hv)
{
	struct xen_hv *xen = xen_hv(hv);

	dmab_hv_finish(hv);
	if (hv->fd >= 0)
		close(hv->fd);
	if (xen->xgs)
		xengntshr_close(xen->xgs);
	xengnttab_close(xen->xgt);
	xenevtchn_close(xen->xce);
	xs_close(xen->xs);
	free(xen);
}

static int dispatch_watches(struct xen_hv *xen)
{
	for (;;) {
		char **event = xs_check_watch(xen->xs);
		if (!event) {
			if (errno == EAGAIN)
				return 0;
			/*
			 * xs.c's reader thread closed the connection (the
			 * daemon went away or sent garbage); the queue is
			 * then empty and xs_check_watch() says EINVAL.
			 */
			int err = errno == EINVAL ? -ECONNRESET : neg_errno();
			dmab_log_errno(DMAB_LOG_ERROR, err, "XenStore: connection lost");
			return err;
		}
		/* One block: the pointers, then the strings. */
		dmab_hv_deliver_watch(&xen->base, event[XS_WATCH_PATH],
			event[XS_WATCH_TOKEN]);
		free(event);
	}
}

static int dispatch_events(struct xen_hv *xen)
{
	for (int i = 0; i < MAX_EVENTS_PER_DISPATCH; i++) {
		/*
		 * xenevtchn_pending() blocks when nothing is pending, even on
		 * a non-blocking fd with some kernels (see xenevtchn.h): ask
		 * poll() first, every time.
		 */
		struct pollfd pfd = { .fd = xen->evtchn_fd, .events = POLLIN };
		int n = poll(&pfd, 1, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int err = neg_errno();
			dmab_log_errno(DMAB_LOG_ERROR, err, "event channels: poll");
			return err;
		}
		if (n == 0 || !(pfd.revents & POLLIN))
			return 0;

		xenevtchn_port_or_error_t port = xenevtchn_pending(xen->xce);
		if (port < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			int err = neg_errno();
			dmab_log_errno(DMAB_LOG_ERROR, err, "event channels: read pending");
			return err;
		}
		/*
		 * The driver masked the port when it fired. Unmask before the
		 * callback: a notification that arrives while it runs is then
		 * delivered again rather than lost, and the callback may close
		 * the channel, after which the port must not be touched.
		 */
		if (xenevtchn_unmask(xen->xce, (evtchn_port_t)port) < 0)
			dmab_log_errno(DMAB_LOG_DEBUG, neg_errno(),
				"event channels: unmask port %d", port);
		dmab_hv_deliver_event(&xen->base, (evtchn_port_t)port);
	}
	return 0;
}

static int xen_dispatch(struct dmab_hv *hv)
{
	struct xen_hv *xen = xen_hv(hv);

	int ret = dispatch_watches(xen);
	if (ret)
		return ret;
	return dispatch_events(xen);
}

/* ---- store ---- */

static int xen_store_read(struct dmab_hv *hv, dmab_hv_tx_t tx,
		const char *path, char **value)
{
	unsigned int len;
	/*
	 * xs_read() returns a malloc'd copy of the value with a NUL after
	 * its len bytes (documented in xenstore.h; xs.c allocates len + 1).
	 */
	char *v = xs_read(xen_hv(hv)->xs, tx, path, &len);
	if (!v)
		return neg_errno();
	*value = v;
	return 0;
}

static int xen_store_write(struct dmab_hv *hv, dmab_hv_tx_t tx,
		const char *path, const char *value)
{
	size_t len = strlen(value);
	if (len > XENSTORE_PAYLOAD_MAX)
		return -E2BIG;
	if (!xs_write(xen_hv(hv)->xs, tx, path, value, (unsigned int)len))
		return neg_errno();
	return 0;
}

static int xen_store_remove(struct dmab_hv *hv, dmab_hv_tx_t tx,
		const char *path)
{
	/*
	 * xenstored acks XS_RM of a missing node whose parent exists, and
	 * says ENOENT when the parent is missing too; absent is absent.
	 */
	if (!xs_rm(xen_hv(hv)->xs, tx, path) && errno != ENOENT)
		return neg_errno();
	return 0;
}

static int xen_store_directory(struct dmab_hv *hv, dmab_hv_tx_t tx,
		const char *path, char ***names, unsigned int *count)
{
	unsigned int num = 0;
	/*
	 * xs_directory() already returns what hv.h promises: one malloc'd
	 * block of num pointers followed by the strings they point to
	 * (xs_directory_common() in xs.c), freed with a single free().
	 */
	errno = 0;
	char **list = xs_directory(xen_hv(hv)->xs, tx, path, &num);
	if (!list) {
		/* An empty directory is a malloc(0) block, which may be NULL. */
		if (errno == 0 && num == 0) {
			*names = NULL;
			*count = 0;
			return 0;
		}
		return neg_errno();
	}
	*names = list;
	*count = num;
	return 0;
}

static int xen_store_tx_start(struct dmab_hv *hv, dmab_hv_tx_t *tx)
{
	xs_transaction_t t = xs_transaction_start(xen_hv(hv)->xs);
	if (t == XBT_NULL)
		return neg_errno();
	*tx = t;
	return 0;
}

static int xen_store_tx_end(struct dmab_hv *hv, dmab_hv_tx_t tx, bool abort)
{
	/* EAGAIN: the transaction conflicted and was not applied. */
	if (!xs_transaction_end(xen_hv(hv)->xs, tx, abort))
		return neg_errno();
	return 0;
}

static int xen_store_watch(struct dmab_hv *hv, const char *path,
		const char *token)
{
	if (!xs_watch(xen_hv(hv)->xs, path, token))
		return neg_errno();
	return 0;
}

static int xen_store_unwatch(struct dmab_hv *hv, const char *path,
		const char *token)
{
	if (!xs_unwatch(xen_hv(hv)->xs, path, token))
		return neg_errno();
	return 0;
}

static bool xen_domain_alive(struct dmab_hv *hv, domid_t domid)
{
	/* false also when xenstored cannot be asked; callers re-check on the next watch. */
	return xs_is_domain_introduced(xen_hv(hv)->xs, domid);
}

/* ---- event channels ---- */

static int xen_evtchn_bind(struct dmab_hv *hv, domid_t remote,
		evtchn_port_t remote_port, evtchn_port_t *local)
{
	xenevtchn_port_or_error_t port =
		xenevtchn_bind_interdomain(xen_hv(hv)->xce, remote, remote_port);
	if (port < 0)
		return neg_errno();
	*local = (evtchn_port_t)port;
	return 0;
}

static int xen_evtchn_alloc(struct dmab_hv *hv, domid_t remote,
		evtchn_port_t *local)
{
	xenevtchn_port_or_error_t port =
		xenevtchn_bind_unbound_port(xen_hv(hv)->xce, remote);
	if (port < 0)
		return neg_errno();
	*local = (evtchn_port_t)port;
	return 0;
}

static int xen_evtchn_notify(struct dmab_hv *hv, evtchn_port_t local)
{
	if (xenevtchn_notify(xen_hv(hv)->xce, local) < 0)
		return neg_errno();
	return 0;
}

static void xen_evtchn_close(struct dmab_hv *hv, evtchn_port_t local)
{
	/*
	 * A notification the driver queued before the unbind may still come
	 * out of xenevtchn_pending(); hv.c drops it if no channel has the port,
	 * and if a new channel got the same port it sees one spurious event.
	 */
	if (xenevtchn_unbind(xen_hv(hv)->xce, local) < 0)
		dmab_log_errno(DMAB_LOG_DEBUG, neg_errno(),
			"event channels: unbind port %" PRIu32, local);
}

/* ---- grants: mapping ---- */

static int map_refs(struct xen_hv *xen, domid_t domid, uint32_t count,
		const grant_ref_t *refs, bool writable, void **addr)
{
	if (count > MAX_GRANTS_PER_CALL)
		return -ENOSPC;
	/* The library copies refs into its ioctl argument; it never writes them. */
	void *p = xengnttab_map_domain_grant_refs(xen->xgt, count, domid,
		(uint32_t *)refs, writable ? PROT_READ | PROT_WRITE : PROT_READ);
	if (!p)
		return neg_errno();
	*addr = p;
	return 0;
}

static int xen_grant_map(struct dmab_hv *hv, domid_t domid, uint32_t count,
		const grant_ref_t *refs, bool writable, void **addr)
{
	struct xen_hv *xen = xen_hv(hv);

	int ret = map_refs(xen, domid, count, refs, writable, addr);
	if (ret != -EINVAL || !writable)
		return ret;
	/*
	 * gntdev says EINVAL for every refused ref. hv.h promises EPERM for a
	 * read-only grant mapped writable, and that one case can be told
	 * apart: the same refs map read-only. Only failed maps pay for it.
	 */
	void *ro;
	if (map_refs(xen, domid, count, refs, false, &ro) == 0) {
		xengnttab_unmap(xen->xgt, ro, count);
		return -EPERM;
	}
	return -EINVAL;
}

static int xen_grant_unmap(struct dmab_hv *hv, void *addr, uint32_t count)
{
	if (xengnttab_unmap(xen_hv(hv)->xgt, addr, count) < 0)
		return neg_errno();
	return 0;
}

/* ---- grants: sharing (frontend) ---- */

static int xen_share_alloc(struct dmab_hv *hv, domid_t remote, uint32_t count,
		uint32_t flags, grant_ref_t *refs, void **addr)
{
	struct xen_hv *xen = xen_hv(hv);

	if (!xen->xgs)
		return -EOPNOTSUPP;
	if (count > MAX_GRANTS_PER_CALL)
		return -ENOSPC;
	/*
	 * DMAB_HV_SHARE_SCANOUT has nothing to choose from here: gntalloc
	 * pages are zeroed kernel pages, one at a time.
	 */
	void *p = xengntshr_share_pages(xen->xgs, remote, (int)count, refs,
		(flags & DMAB_HV_SHARE_WRITABLE) ? 1 : 0);
	if (!p) {
		int err = neg_errno();
		if (err == -ENOSPC)
			dmab_log(DMAB_LOG_ERROR, "gntalloc: sharing %" PRIu32 " pages "
				"with domain %u exceeds the driver's page limit "
				"(xen_gntalloc.limit, 1024 pages by default; see "
				"/sys/module/xen_gntalloc/parameters/limit)",
				count, remote);
		return err;
	}
	*addr = p;
	return 0;
}

static int xen_share_free(struct dmab_hv *hv, void *addr, uint32_t count)
{
	struct xen_hv *xen = xen_hv(hv);

	if (!xen->xgs)
		return -EOPNOTSUPP;
	/*
	 * This is munmap(): gntalloc drops the pages' last local user and
	 * ends foreign access; the kernel keeps a page the remote still maps
	 * and frees it later. So no EBUSY here, unlike the simulator.
	 */
	if (xengntshr_unshare(xen->xgs, addr, count) < 0)
		return neg_errno();
	return 0;
}

/* ---- grants as dma-bufs ---- */

static bool export_refusal(int err)
{
	/*
	 * How gntdev says it cannot export at all: EINVAL from a PV dom0
	 * (use_ptemod) or from Xen refusing GNTMAP_device_map to a PVH dom0,
	 * ENOTTY without CONFIG_XEN_GNTDEV_DMABUF; ENOSYS and EOPNOTSUPP from
	 * ports of the library without the ioctl. EINVAL is also what a bad
	 * ref gives, hence the check in xen_dmabuf_exp_from_refs().
	 */
	return err == -EINVAL || err == -ENOTTY || err == -ENOSYS ||
		err == -EOPNOTSUPP;
}

static int xen_dmabuf_exp_from_refs(struct dmab_hv *hv, domid_t domid,
		uint32_t count, const grant_ref_t *refs, int *fd)
{
	struct xen_hv *xen = xen_hv(hv);

	if (xen->export_cap == EXPORT_CANNOT)
		return -EOPNOTSUPP;
	if (count > MAX_GRANTS_PER_CALL)
		return -ENOSPC;

	uint32_t out;
	if (xengnttab_dmabuf_exp_from_refs(xen->xgt, domid, 0, count, refs, &out) == 0) {
		if (xen->export_cap != EXPORT_CAN) {
			xen->export_cap = EXPORT_CAN;
			dmab_log(DMAB_LOG_INFO, "grant export as dma-buf: supported "
				"by this host (zero copy)");
		}
		*fd = (int)out;
		return 0;
	}
	int err = neg_errno();
	if (xen->export_cap == EXPORT_CAN || !export_refusal(err))
		return err;

	/*
	 * Undecided, and the answer means either "these refs are bad" or
	 * "this host cannot". Map the same refs the way the export would
	 * (writable): if that works the refs were fine and the host is the
	 * reason; if it fails too, it is the refs, and nothing is decided.
	 */
	void *addr;
	int map_err = map_refs(xen, domid, count, refs, true, &addr);
	if (map_err)
		return map_err;
	xengnttab_unmap(xen->xgt, addr, count);

	xen->export_cap = EXPORT_CANNOT;
	dmab_log(DMAB_LOG_WARN, "grant export as dma-buf: not supported by this "
		"host (EXP_FROM_REFS: %s, while the same %" PRIu32 " grants of "
		"domain %u map fine); falling back to copies",
		dmab_strerror(err), count, domid);
	return -EOPNOTSUPP;
}

static int xen_dmabuf_exp_wait_released(struct dmab_hv *hv, int fd,
		uint32_t timeout_ms)
{
	if (fd < 0)
		return -EBADF;
	/*
	 * gntdev looks the buffer up by the fd NUMBER it returned at export,
	 * in this gntdev handle's export list, not by an open file: the
	 * caller closes the dma-buf fd first (an open fd is itself a user, so
	 * waiting before the close can only time out) and then waits with
	 * the same number. The entry leaves the list when the dma-buf's last
	 * reference is dropped. Newest exports come first in that list, so
	 * wait right after the close: an export in between could be given
	 * the same number and be found instead.
	 *
	 * ENOENT (no such export: already released) is turned into 0 by
	 * libxengnttab itself, so it never reaches this point; hv.c would map
	 * it to 0 as well. -ETIMEDOUT when still in use after timeout_ms.
	 */
	if (xengnttab_dmabuf_exp_wait_released(xen_hv(hv)->xgt, (uint32_t)fd,
			timeout_ms) < 0)
		return neg_errno();
	return 0;
}

static int xen_dmabuf_imp_to_refs(struct dmab_hv *hv, domid_t domid, int fd,
		uint32_t count, grant_ref_t *refs)
{
	if (fd < 0)
		return -EBADF;
	if (count > MAX_GRANTS_PER_CALL)
		return -ENOSPC;
	/*
	 * gntdev takes its own reference to the dma-buf, but files the import
	 * under the fd number, which imp_release() looks up: the caller keeps
	 * fd open (and so its number) until then. count must be the buffer's
	 * exact size in pages (EINVAL otherwise).
	 */
	if (xengnttab_dmabuf_imp_to_refs(xen_hv(hv)->xgt, domid, (uint32_t)fd,
			count, refs) < 0)
		return neg_errno();
	return 0;
}

static int xen_dmabuf_imp_release(struct dmab_hv *hv, int fd)
{
	if (fd < 0)
		return -EBADF;
	/* Ends foreign access; pages the guest still maps are freed later by the kernel. */
	if (xengnttab_dmabuf_imp_release(xen_hv(hv)->xgt, (uint32_t)fd) < 0)
		return neg_errno();
	return 0;
}

static const struct dmab_hv_impl xen_impl = {
	.name = "xen",
	.destroy = xen_destroy,
	.dispatch = xen_dispatch,
	.store_read = xen_store_read,
	.store_write = xen_store_write,
	.store_remove = xen_store_remove,
	.store_directory = xen_store_directory,
	.store_tx_start = xen_store_tx_start,
	.store_tx_end = xen_store_tx_end,
	.store_watch = xen_store_watch,
	.store_unwatch = xen_store_unwatch,
	.domain_alive = xen_domain_alive,
	.evtchn_bind = xen_evtchn_bind,
	.evtchn_alloc = xen_evtchn_alloc,
	.evtchn_notify = xen_evtchn_notify,
	.evtchn_close = xen_evtchn_close,
	.grant_map = xen_grant_map,
	.grant_unmap = xen_grant_unmap,
	.share_alloc = xen_share_alloc,
	.share_free = xen_share_free,
	.dmabuf_exp_from_refs = xen_dmabuf_exp_from_refs,
	.dmabuf_exp_wait_released = xen_dmabuf_exp_wait_released,
	.dmabuf_imp_to_refs = xen_dmabuf_imp_to_refs,
	.dmabuf_imp_release = xen_dmabuf_imp_release,
};

/* ---- open ---- */

static bool is_control_domain(void)
{
	char caps[128];
	int fd = open("/proc/xen/capabilities", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, caps, sizeof(caps) - 1);
	close(fd);
	if (n <= 0)
		return false;
	caps[n] = '\0';
	return strstr(caps, "control_d") != NULL;
}

/*
 * A relative path is relative to the connection's own domain
 * (/local/domain/<id>/), so "domid" is our own id in every domain: libxl
 * writes it for each guest, xen-init-dom0 for dom0, and libxl reads it the
 * same way to learn its own id. Early in dom0's boot, before
 * xen-init-dom0, the node may be missing; dom0 is 0 then.
 */
static int read_own_domid(struct xs_handle *xs, domid_t *domid)
{
	unsigned int len;
	char *value = xs_read(xs, XBT_NULL, "domid", &len);
	if (!value) {
		int err = neg_errno();
		if (err == -ENOENT && is_control_domain()) {
			*domid = 0;
			return 0;
		}
		dmab_log_errno(DMAB_LOG_ERROR, err, "XenStore: cannot read this "
			"domain's id (relative node \"domid\")");
		return err;
	}
	char *end;
	errno = 0;
	unsigned long id = strtoul(value, &end, 10);
	bool ok = errno == 0 && end != value && *end == '\0' &&
		id < DOMID_FIRST_RESERVED;
	if (!ok)
		dmab_log(DMAB_LOG_ERROR, "XenStore: this domain's id \"%s\" is "
			"not a domain id", value);
	free(value);
	if (!ok)
		return -EINVAL;
	*domid = (domid_t)id;
	return 0;
}

static int epoll_add(int epfd, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return neg_errno();
	return 0;
}

int dmab_hv_xen_open(enum dmab_hv_role role, struct dmab_hv **out)
{
	struct xen_hv *xen = calloc(1, sizeof(*xen));
	if (!xen)
		return -ENOMEM;
	xen->export_cap = EXPORT_UNKNOWN;
	int epfd = -1;
	int ret;

	xen->xs = xs_open(0);
	if (!xen->xs) {
		ret = neg_errno();
		dmab_log_errno(DMAB_LOG_ERROR, ret, "Xen: cannot connect to "
			"XenStore (neither %s nor /dev/xen/xenbus; not running "
			"in a Xen domain, or xenstored is not up)",
			xs_daemon_socket());
		goto err_free;
	}
	xen->xce = xenevtchn_open(&xtl_logger, 0);
	if (!xen->xce) {
		ret = neg_errno();
		dmab_log_errno(DMAB_LOG_ERROR, ret, "Xen: cannot open event "
			"channels (/dev/xen/evtchn)");
		goto err_xs;
	}
	xen->xgt = xengnttab_open(&xtl_logger, 0);
	if (!xen->xgt) {
		ret = neg_errno();
		dmab_log_errno(DMAB_LOG_ERROR, ret, "Xen: cannot open the grant "
			"device (/dev/xen/gntdev, CONFIG_XEN_GNTDEV)");
		goto err_xce;
	}
	if (role == DMAB_HV_FRONTEND) {
		xen->xgs = xengntshr_open(&xtl_logger, 0);
		if (!xen->xgs) {
			ret = neg_errno();
			dmab_log_errno(DMAB_LOG_ERROR, ret, "Xen: cannot open the "
				"grant allocator (/dev/xen/gntalloc, "
				"CONFIG_XEN_GRANT_DEV_ALLOC)");
			goto err_xgt;
		}
	}

	domid_t domid;
	ret = read_own_domid(xen->xs, &domid);
	if (ret)
		goto err_xgs;

	/* xs_fileno() creates the watch pipe on first use. */
	xen->xs_fd = xs_fileno(xen->xs);
	if (xen->xs_fd < 0) {
		ret = neg_errno();
		dmab_log_errno(DMAB_LOG_ERROR, ret, "XenStore: no watch fd");
		goto err_xgs;
	}
	xen->evtchn_fd = xenevtchn_fd(xen->xce);

	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0) {
		ret = neg_errno();
		dmab_log_errno(DMAB_LOG_ERROR, ret, "Xen: epoll_create1");
		goto err_xgs;
	}
	ret = epoll_add(epfd, xen->xs_fd);
	if (!ret)
		ret = epoll_add(epfd, xen->evtchn_fd);
	if (ret) {
		dmab_log_errno(DMAB_LOG_ERROR, ret, "Xen: epoll_ctl");
		goto err_epoll;
	}

	dmab_hv_init(&xen->base, &xen_impl, role, domid);
	xen->base.fd = epfd;
	dmab_log(DMAB_LOG_INFO, "Xen: connected as domain %u (%s)", domid,
		role == DMAB_HV_BACKEND ? "backend" : "frontend");
	*out = &xen->base;
	return 0;

err_epoll:
	close(epfd);
err_xgs:
	if (xen->xgs)
		xengntshr_close(xen->xgs);
err_xgt:
	xengnttab_close(xen->xgt);
err_xce:
	xenevtchn_close(xen->xce);
err_xs:
	xs_close(xen->xs);
err_free:
	free(xen);
	return ret;
}

int dmab_hv_xen_can_export(const struct dmab_hv *hv)
{
	if (hv->impl != &xen_impl)
		return -1;
	return ((const struct xen_hv *)hv)->export_cap;
}
