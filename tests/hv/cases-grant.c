// SPDX-License-Identifier: MIT
/*
 * Conformance cases for grants: mapping, refusals, ending access, dma-buf
 * export of a guest's grants, backend-allocated buffers granted to a
 * guest, and a guest that dies while its pages are mapped.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#ifdef DMAB_HAVE_XEN
#include <xengnttab.h>
#endif
#include <linux/udmabuf.h>

#include "tests/hv/conformance.h"

#define PAGE DMAB_XEN_PAGE_SIZE
#define NPAGES 4
/* A ref beyond any grant table here. */
#define UNKNOWN_REF 1000000u
/* Patterns differ per case and purpose. */
#define SEED(t, n) ((t)->seq * 16u + (n))

static const char heap_path[] = "/dev/dma_heap/system";
static const char udmabuf_path[] = "/dev/udmabuf";

static int get_refs(struct conf *t, const char *key, grant_ref_t *refs, uint32_t want)
{
	char *v;
	uint32_t n;
	if (t->backend)
		TRY(conf_be_get(t, 0, key, &v));
	else
		TRY(conf_fe_get(t, key, &v));
	int ret = conf_refs_parse(v, refs, CONF_MAX_REFS, &n);
	if (ret || n != want)
		ret = conf_fail(t, __FILE__, __LINE__, "%s: \"%s\", want %u refs", key, v, want);
	free(v);
	return ret;
}

static int put_refs(struct conf *t, const char *key, const grant_ref_t *refs, uint32_t count)
{
	char buf[256];
	conf_refs_format(buf, sizeof(buf), refs, count);
	return t->backend ? conf_be_put(t, 0, key, "%s", buf) : conf_fe_put(t, key, "%s", buf);
}

static bool all_zero(const void *addr, size_t len)
{
	const uint8_t *b = addr;
	for (size_t i = 0; i < len; i++)
		if (b[i])
			return false;
	return true;
}

/* Whether anything is mapped at addr (msync says ENOMEM for unmapped memory). */
static bool is_mapped(void *addr, size_t len)
{
	return msync(addr, len, MS_ASYNC) == 0;
}

/* Guest: count pages shared with remote, filled with a pattern, refs published. */
static int share_filled(struct conf *t, domid_t remote, uint32_t count, uint32_t flags,
		uint32_t seed, const char *key, grant_ref_t *refs, void **addr)
{
	CHECK_RET(t, conf_share(t, remote, count, flags, refs, addr), 0);
	CHECK(t, all_zero(*addr, (size_t)count * PAGE), "shared pages not zeroed");
	harness_fill(*addr, count, seed);
	return key ? put_refs(t, key, refs, count) : 0;
}

/* ---- map: read-only, writable, in any order, then gone ---- */

static int map_guest(struct conf *t)
{
	grant_ref_t refs[NPAGES];
	void *addr;
	TRY(share_filled(t, t->backend_domid, NPAGES, DMAB_HV_SHARE_WRITABLE, SEED(t, 1),
		"refs", refs, &addr));
	TRY(conf_fe_get(t, "written", NULL));
	CHECK_PATTERN(t, addr, NPAGES, SEED(t, 2), NULL);
	TRY(conf_fe_put(t, "seen", "1"));
	TRY(conf_fe_get(t, "unmapped", NULL));
	CHECK_RET(t, conf_share_free(t, addr, NPAGES), 0);
	TRY(conf_fe_put(t, "freed", "1"));
	return CONF_PASS;
}

static int map_backend(struct conf *t)
{
	grant_ref_t refs[NPAGES];
	domid_t g = t->guest[0];
	void *ro, *rw, *sub;
	TRY(get_refs(t, "refs", refs, NPAGES));

	CHECK_RET(t, conf_map(t, g, NPAGES, refs, false, &ro), 0);
	CHECK_PATTERN(t, ro, NPAGES, SEED(t, 1), NULL);
	CHECK(t, is_mapped(ro, NPAGES * PAGE), "mapping not there");
	CHECK_RET(t, conf_unmap(t, ro, NPAGES), 0);
	CHECK(t, !is_mapped(ro, NPAGES * PAGE), "still mapped after unmap");

	/* Refs in any order, as one contiguous mapping. */
	const grant_ref_t some[2] = { refs[3], refs[1] };
	const uint32_t page_of[2] = { 3, 1 };
	CHECK_RET(t, conf_map(t, g, 2, some, false, &sub), 0);
	CHECK_PATTERN(t, sub, 2, SEED(t, 1), page_of);
	CHECK_RET(t, conf_unmap(t, sub, 2), 0);

	/* Writable; a second mapping of one of its pages sees the same memory. */
	CHECK_RET(t, conf_map(t, g, NPAGES, refs, true, &rw), 0);
	CHECK_PATTERN(t, rw, NPAGES, SEED(t, 1), NULL);
	CHECK_RET(t, conf_map(t, g, 1, &refs[2], false, &sub), 0);
	harness_fill(rw, NPAGES, SEED(t, 2));
	const uint32_t third[1] = { 2 };
	CHECK_PATTERN(t, sub, 1, SEED(t, 2), third);
	CHECK_RET(t, conf_unmap(t, sub, 1), 0);
	CHECK_RET(t, dmab_hv_grant_map(t->hv, g, 0, refs, false, &sub), -EINVAL);

	TRY(conf_be_put(t, 0, "written", "1"));
	TRY(conf_be_get(t, 0, "seen", NULL));
	CHECK_RET(t, conf_unmap(t, rw, NPAGES), 0);
	TRY(conf_be_put(t, 0, "unmapped", "1"));
	TRY(conf_be_get(t, 0, "freed", NULL));
	/* Freed: no longer granted. */
	CHECK_RET(t, conf_map(t, g, NPAGES, refs, false, &ro), -EINVAL);
	CHECK_RET(t, conf_map(t, g, 1, &refs[0], false, &ro), -EINVAL);
	return CONF_PASS;
}

/* ---- refusals: read-only, unknown, granted to someone else ---- */

static int errors_guest_a(struct conf *t)
{
	grant_ref_t ro, other;
	void *ro_addr, *other_addr;
	TRY(share_filled(t, t->backend_domid, 1, 0, SEED(t, 3), NULL, &ro, &ro_addr));
	TRY(share_filled(t, t->peer, 1, DMAB_HV_SHARE_WRITABLE, SEED(t, 4), NULL, &other,
		&other_addr));
	TRY(conf_fe_put(t, "refs", "%u %u", ro, other));
	char *done;
	TRY(conf_fe_get(t, "peer-done", &done));
	bool refused = !strcmp(done, "xsm");
	free(done);
	/* The other guest wrote into what we granted it (unless Xen's policy kept it out). */
	if (!refused)
		CHECK_PATTERN(t, other_addr, 1, SEED(t, 5), NULL);
	CHECK_RET(t, conf_share_free(t, ro_addr, 1), 0);
	CHECK_RET(t, conf_share_free(t, other_addr, 1), 0);
	TRY(conf_fe_put(t, "freed", "1"));
	return CONF_PASS;
}

/*
 * Whether Xen's security policy (XSM) refused this domain the ref: gntdev
 * says EINVAL for any refused ref, and a release build of Xen logs
 * nothing, but a grant copy of the same ref gets Xen's own status, and
 * GNTST_permission_denied is the policy's (XSM SILO, the default on Arm,
 * allows grants between a domU and dom0 only). Prints what Xen said.
 */
static bool xsm_refuses(struct conf *t, domid_t granter, grant_ref_t ref)
{
#ifdef DMAB_HAVE_XEN
	if (t->sim)
		return false;
	xengnttab_handle *xgt = xengnttab_open(NULL, 0);
	void *page = NULL;
	if (!xgt || posix_memalign(&page, 4096, 4096)) {
		fprintf(stderr, "grant copy: cannot set up: %s\n", strerror(errno));
		if (xgt)
			xengnttab_close(xgt);
		return false;
	}
	xengnttab_grant_copy_segment_t seg = { .flags = GNTCOPY_source_gref, .len = 4096 };
	seg.source.foreign.ref = ref;
	seg.source.foreign.domid = granter;
	seg.dest.virt = page;
	int ret = xengnttab_grant_copy(xgt, 1, &seg);
	fprintf(stderr, "grant copy of ref %u of domain %u into this domain: %s, Xen's status %d\n",
		(unsigned int)ref, (unsigned int)granter, ret ? strerror(errno) : "done", seg.status);
	free(page);
	xengnttab_close(xgt);
	return ret == 0 && seg.status == GNTST_permission_denied;
#else
	(void)t;
	(void)granter;
	(void)ref;
	return false;
#endif
}

static int errors_guest_b(struct conf *t)
{
	char *v;
	unsigned int granter, ro, other;
	void *addr;
	TRY(conf_fe_get(t, "refs", &v));
	int n = sscanf(v, "%u %u %u", &granter, &ro, &other);
	free(v);
	CHECK(t, n == 3, "bad refs");
	CHECK(t, granter == t->peer, "refs of domain %u, want %u", granter, t->peer);

	grant_ref_t ref = other;
	int mapped = conf_map(t, t->peer, 1, &ref, true, &addr);
	if (mapped && xsm_refuses(t, t->peer, ref)) {
		TRY(conf_fe_put(t, "done", "xsm"));
		return conf_skip(t, "Xen's security policy keeps domUs from each other's grants "
			"(XSM SILO, the default on Arm; xsm=dummy on Xen's command line allows them)");
	}
	CHECK_RET(t, mapped, 0);
	CHECK_PATTERN(t, addr, 1, SEED(t, 4), NULL);
	harness_fill(addr, 1, SEED(t, 5));
	CHECK_RET(t, conf_unmap(t, addr, 1), 0);
	/* Granted to dom0, not to us. */
	ref = ro;
	CHECK_RET(t, conf_map(t, t->peer, 1, &ref, false, &addr), t->sim ? -EPERM : -EINVAL);
	TRY(conf_fe_put(t, "done", "1"));
	return CONF_PASS;
}

static int errors_guest(struct conf *t)
{
	return t->index == 0 ? errors_guest_a(t) : errors_guest_b(t);
}

static int errors_backend(struct conf *t)
{
	domid_t a = t->guest[0];
	char *v;
	unsigned int ro_u, other_u;
	void *addr;
	TRY(conf_be_get(t, 0, "refs", &v));
	int n = sscanf(v, "%u %u", &ro_u, &other_u);
	free(v);
	CHECK(t, n == 2, "bad refs");
	grant_ref_t ro = ro_u, other = other_u, unknown = UNKNOWN_REF;
	/* gntdev cannot tell "not yours" from "no such ref"; the simulator can. */
	int not_ours = t->sim ? -EPERM : -EINVAL;

	CHECK_RET(t, conf_map(t, a, 1, &ro, true, &addr), -EPERM);
	CHECK_RET(t, conf_map(t, a, 1, &ro, false, &addr), 0);
	CHECK_PATTERN(t, addr, 1, SEED(t, 3), NULL);
	CHECK_RET(t, conf_unmap(t, addr, 1), 0);
	CHECK_RET(t, conf_map(t, a, 1, &other, false, &addr), not_ours);
	const grant_ref_t both[2] = { ro, other };
	CHECK_RET(t, conf_map(t, a, 2, both, false, &addr), not_ours);
	CHECK_RET(t, conf_map(t, a, 1, &unknown, false, &addr), -EINVAL);
	const grant_ref_t with_unknown[2] = { ro, unknown };
	CHECK_RET(t, conf_map(t, a, 2, with_unknown, false, &addr), -EINVAL);
	CHECK_RET(t, conf_map(t, DOMID_FIRST_RESERVED - 1, 1, &ro, false, &addr), -EINVAL);

	/* The other guest maps what was granted to it. */
	TRY(conf_be_put(t, 1, "refs", "%u %u %u", a, ro, other));
	char *done;
	TRY(conf_be_get(t, 1, "done", &done));
	int ret = conf_be_put(t, 0, "peer-done", "%s", done);
	free(done);
	TRY(ret);
	TRY(conf_be_get(t, 0, "freed", NULL));
	CHECK_RET(t, conf_map(t, a, 1, &ro, false, &addr), -EINVAL);
	return CONF_PASS;
}

/* ---- ending access while mapped ---- */

static int end_guest(struct conf *t)
{
	grant_ref_t refs[2];
	void *addr;
	TRY(share_filled(t, t->backend_domid, 2, DMAB_HV_SHARE_WRITABLE, SEED(t, 6), "refs",
		refs, &addr));
	TRY(conf_fe_get(t, "mapped", NULL));
	int first = conf_share_free(t, addr, 2);
	TRY(conf_fe_put(t, "first", "%d", first));
	TRY(conf_fe_get(t, "unmapped", NULL));
	if (first != 0)
		CHECK_RET(t, conf_share_free(t, addr, 2), 0);
	TRY(conf_fe_put(t, "freed", "1"));
	return CONF_PASS;
}

static int end_backend(struct conf *t)
{
	grant_ref_t refs[2];
	domid_t g = t->guest[0];
	void *addr;
	char *v;
	TRY(get_refs(t, "refs", refs, 2));
	CHECK_RET(t, conf_map(t, g, 2, refs, true, &addr), 0);
	CHECK_PATTERN(t, addr, 2, SEED(t, 6), NULL);
	TRY(conf_be_put(t, 0, "mapped", "1"));
	TRY(conf_be_get(t, 0, "first", &v));
	int first = atoi(v);
	free(v);
	/* The simulator refuses; Xen's gntalloc lets go and frees the pages later. */
	CHECK(t, first == (t->sim ? -EBUSY : 0), "share_free while mapped: %s, want %s",
		harness_errname(first), harness_errname(t->sim ? -EBUSY : 0));
	CHECK_PATTERN(t, addr, 2, SEED(t, 6), NULL);
	CHECK_RET(t, conf_unmap(t, addr, 2), 0);
	TRY(conf_be_put(t, 0, "unmapped", "1"));
	TRY(conf_be_get(t, 0, "freed", NULL));
	CHECK_RET(t, conf_map_ended(t, g, 2, refs), -EINVAL);
	return CONF_PASS;
}

/* ---- dma-buf export of a guest's grants ---- */

static void dmabuf_sync(int fd, uint64_t flags)
{
	struct dma_buf_sync sync = { .flags = flags };
	ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync);
}

/* Export, and where it worked and the buffer has mmap, read the pattern through it. */
static int export_check(struct conf *t, const grant_ref_t *refs, uint32_t count,
		uint32_t seed, int want, bool readable, int *fd)
{
	int ret = conf_exp_from_refs(t, t->guest[0], count, refs, fd);
	CHECK(t, ret == want, "exp_from_refs of %u refs: %s, want %s", count,
		harness_errname(ret), harness_errname(want));
	if (ret || !readable)
		return 0;
	void *p = mmap(NULL, (size_t)count * PAGE, PROT_READ, MAP_SHARED, *fd, 0);
	CHECK(t, p != MAP_FAILED, "mmap of the exported dma-buf: %s", harness_errname(-errno));
	conf_own_mmap(t, p, (size_t)count * PAGE);
	dmabuf_sync(*fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ);
	CHECK_PATTERN(t, p, count, seed, NULL);
	dmabuf_sync(*fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);
	conf_munmap(t, p, (size_t)count * PAGE);
	return 0;
}

static int export_guest(struct conf *t)
{
	grant_ref_t plain[NPAGES], scanout[NPAGES], ro;
	void *plain_addr, *scanout_addr, *ro_addr;
	char *v;
	TRY(share_filled(t, t->backend_domid, NPAGES, DMAB_HV_SHARE_WRITABLE, SEED(t, 7),
		"plain", plain, &plain_addr));
	TRY(share_filled(t, t->backend_domid, NPAGES,
		DMAB_HV_SHARE_WRITABLE | DMAB_HV_SHARE_SCANOUT, SEED(t, 8), "scanout", scanout,
		&scanout_addr));
	TRY(share_filled(t, t->backend_domid, 1, 0, SEED(t, 9), "ro", &ro, &ro_addr));

	/* While exported, ending access is refused (sim) or deferred (Xen). */
	TRY(conf_fe_get(t, "held", &v));
	bool plain_freed = false;
	if (strcmp(v, "none") != 0) {
		int want = atoi(v), ret = conf_share_free(t, plain_addr, NPAGES);
		plain_freed = ret == 0;
		if (ret != want)
			conf_fail(t, __FILE__, __LINE__, "share_free while exported: %s, want %s",
				harness_errname(ret), harness_errname(want));
	}
	free(v);
	if (t->why[0])
		return CONF_FAIL;
	TRY(conf_fe_put(t, "tried", "1"));
	TRY(conf_fe_get(t, "released", NULL));
	if (!plain_freed)
		CHECK_RET(t, conf_share_free(t, plain_addr, NPAGES), 0);
	CHECK_RET(t, conf_share_free(t, scanout_addr, NPAGES), 0);
	CHECK_RET(t, conf_share_free(t, ro_addr, 1), 0);
	return CONF_PASS;
}

static int export_backend(struct conf *t)
{
	grant_ref_t plain[NPAGES], scanout[NPAGES], ro, unknown = UNKNOWN_REF;
	TRY(get_refs(t, "plain", plain, NPAGES));
	TRY(get_refs(t, "scanout", scanout, NPAGES));
	TRY(get_refs(t, "ro", &ro, 1));

	/*
	 * What this host can do. Simulator: the guest's scanout buffers come
	 * from the system heap where there is one and go out as that dma-buf;
	 * other memory needs udmabuf. Xen: x86 refuses EXP_FROM_REFS, arm64
	 * does it, and its dma-bufs have no mmap.
	 */
	bool heap = harness_have_device(heap_path, O_RDONLY);
	bool udmabuf = harness_have_device(udmabuf_path, O_RDWR);
	int want_plain, want_scanout, want_unknown = -EINVAL;
	bool readable = t->sim;
	if (t->sim) {
		want_plain = udmabuf ? 0 : -EOPNOTSUPP;
		want_scanout = heap || udmabuf ? 0 : -EOPNOTSUPP;
	} else {
#if defined(__x86_64__) || defined(__i386__)
		want_plain = want_scanout = want_unknown = -EOPNOTSUPP;
#elif defined(__aarch64__)
		want_plain = want_scanout = 0;
#else
		return conf_skip(t, "no known dma-buf export behaviour for this architecture");
#endif
	}
	printf("# %s: %s %s, %s %s: export %s (plain), %s (scanout)\n", t->case_name,
		heap_path, heap ? "present" : "absent", udmabuf_path, udmabuf ? "present" : "absent",
		harness_errname(want_plain), harness_errname(want_scanout));

	int plain_fd = -1, scanout_fd = -1, fd;
	TRY(export_check(t, plain, NPAGES, SEED(t, 7), want_plain, readable, &plain_fd));
	TRY(export_check(t, scanout, NPAGES, SEED(t, 8), want_scanout, readable, &scanout_fd));
	if (t->sim) {
		/* gntdev maps what it exports writable; the simulator checks that first. */
		CHECK_RET(t, conf_exp_from_refs(t, t->guest[0], 1, &ro, &fd), -EPERM);
	}
	CHECK_RET(t, conf_exp_from_refs(t, t->guest[0], 1, &unknown, &fd), want_unknown);
	CHECK_RET(t, conf_exp_from_refs(t, t->guest[0], 0, plain, &fd), -EINVAL);

	if (want_plain == 0)
		TRY(conf_be_put(t, 0, "held", "%d", t->sim ? -EBUSY : 0));
	else
		TRY(conf_be_put(t, 0, "held", "none"));
	TRY(conf_be_get(t, 0, "tried", NULL));
	if (want_plain == 0)
		CHECK_RET(t, conf_exp_close(t, plain_fd, 1000), 0);
	if (want_scanout == 0)
		CHECK_RET(t, conf_exp_close(t, scanout_fd, 1000), 0);
	/* Nothing exported under this number: "already released". */
	CHECK_RET(t, dmab_hv_dmabuf_exp_wait_released(t->hv, 9999, 0), 0);
	TRY(conf_be_put(t, 0, "released", "1"));
	return CONF_PASS;
}

/* ---- backend-allocated buffers granted to a guest ---- */

static int sealed_memfd(size_t size, unsigned int seals)
{
	int fd = memfd_create("conf-be-alloc", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0 || fcntl(fd, F_ADD_SEALS, seals) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static int heap_dmabuf(size_t size)
{
	int heap = open(heap_path, O_RDONLY | O_CLOEXEC);
	if (heap < 0)
		return -errno;
	struct dma_heap_allocation_data alloc = { .len = size, .fd_flags = O_RDWR | O_CLOEXEC };
	int ret = ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &alloc) < 0 ? -errno : (int)alloc.fd;
	close(heap);
	return ret;
}

static int udmabuf_of(size_t size)
{
	int dev = open(udmabuf_path, O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return -errno;
	int memfd = sealed_memfd(size, F_SEAL_SHRINK | F_SEAL_GROW);
	if (memfd < 0) {
		close(dev);
		return memfd;
	}
	struct udmabuf_create create = {
		.memfd = (uint32_t)memfd, .flags = UDMABUF_FLAGS_CLOEXEC, .size = size,
	};
	int ret = ioctl(dev, UDMABUF_CREATE, &create);
	ret = ret < 0 ? -errno : ret;
	close(memfd);
	close(dev);
	return ret;
}

static int be_alloc_backend(struct conf *t)
{
	const uint32_t count = 3;
	const size_t size = count * PAGE;
	grant_ref_t refs[3];
	/* The simulator shares sealed memfds; gntdev wants a dma-buf. */
	bool dmabuf = !t->sim;
	if (t->sim) {
		/*
		 * The guest gets dom0's very memfd: unless it is sealed against
		 * new seals, the guest could seal it against dom0's own writes.
		 */
		int open_fd = sealed_memfd(size, F_SEAL_SHRINK | F_SEAL_GROW);
		CHECK(t, open_fd >= 0, "memfd: %s", harness_errname(open_fd));
		int ret = conf_imp_to_refs(t, t->guest[0], open_fd, count, refs);
		close(open_fd);
		CHECK_RET(t, ret, -EINVAL);
	}
	int fd = t->sim ? sealed_memfd(size, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) :
		heap_dmabuf(size);
	if (!t->sim && fd < 0)
		fd = udmabuf_of(size);
	if (fd < 0) {
		TRY(conf_be_put(t, 0, "refs", "skip"));
		if (!t->sim)
			return conf_skip(t, "no dma-buf to share: neither %s nor %s", heap_path,
				udmabuf_path);
		return conf_fail(t, __FILE__, __LINE__, "memfd: %s", harness_errname(fd));
	}
	conf_own_fd(t, fd);
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(t, p != MAP_FAILED, "mmap: %s", harness_errname(-errno));
	conf_own_mmap(t, p, size);
	if (dmabuf)
		dmabuf_sync(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE);
	harness_fill(p, count, SEED(t, 10));
	if (dmabuf)
		dmabuf_sync(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE);

	/* The count must be the buffer's exact size in pages. */
	CHECK_RET(t, conf_imp_to_refs(t, t->guest[0], fd, count + 1, refs), -EINVAL);
	CHECK_RET(t, conf_imp_to_refs(t, t->guest[0], fd, count, refs), 0);
	TRY(put_refs(t, "refs", refs, count));
	TRY(conf_be_get(t, 0, "written", NULL));
	if (dmabuf)
		dmabuf_sync(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ);
	CHECK_PATTERN(t, p, count, SEED(t, 11), NULL);
	if (dmabuf)
		dmabuf_sync(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);
	/* Released while the guest still maps it: its mapping stays. */
	CHECK_RET(t, conf_imp_release(t, fd), 0);
	TRY(conf_be_put(t, 0, "released", "1"));
	TRY(conf_be_get(t, 0, "remapped", NULL));
	CHECK_RET(t, dmab_hv_dmabuf_imp_release(t->hv, fd), -ENOENT);
	conf_munmap(t, p, size);
	conf_close(t, fd);
	return CONF_PASS;
}

static int be_alloc_guest(struct conf *t)
{
	const uint32_t count = 3;
	grant_ref_t refs[3];
	void *p;
	char *v;
	TRY(conf_fe_get(t, "refs", &v));
	bool skip = strcmp(v, "skip") == 0;
	free(v);
	if (skip)
		return conf_skip(t, "the backend has no buffer to share");
	TRY(get_refs(t, "refs", refs, count));
	CHECK_RET(t, conf_map(t, t->backend_domid, count, refs, true, &p), 0);
	CHECK_PATTERN(t, p, count, SEED(t, 10), NULL);
	harness_fill(p, count, SEED(t, 11));
	TRY(conf_fe_put(t, "written", "1"));
	TRY(conf_fe_get(t, "released", NULL));
	CHECK_PATTERN(t, p, count, SEED(t, 11), NULL);
	harness_fill(p, 1, SEED(t, 12));
	CHECK_RET(t, conf_unmap(t, p, count), 0);
	CHECK(t, !is_mapped(p, count * PAGE), "still mapped after unmap");
	CHECK_RET(t, conf_map_ended(t, t->backend_domid, count, refs), -EINVAL);
	TRY(conf_fe_put(t, "remapped", "1"));
	return CONF_PASS;
}

/* ---- a guest dies while the backend maps its pages ---- */

static int death_guest(struct conf *t)
{
	grant_ref_t refs[2];
	void *addr;
	CHECK_RET(t, t->plat->add_vdispl(t), 0);
	TRY(share_filled(t, t->backend_domid, 2, DMAB_HV_SHARE_WRITABLE, SEED(t, 13), "refs",
		refs, &addr));
	/* Now the backend kills us. */
	TRY(conf_fe_get(t, "never", NULL));
	return conf_fail(t, __FILE__, __LINE__, "still alive");
}

struct death_arg {
	domid_t victim;
	const char *dom_path, *vd_path;
	struct conf_watch *wdom, *wvd, *wrel;
};

/* An event after the initial one, at or under path. */
static bool saw_later(const struct conf_watch *w, const char *path)
{
	size_t len = strlen(path);
	unsigned int n = w->count < 32 ? w->count : 32;
	for (unsigned int i = 1; i < n; i++)
		if (strncmp(w->paths[i], path, len) == 0 &&
				(w->paths[i][len] == '\0' || w->paths[i][len] == '/'))
			return true;
	return false;
}

static bool gone(struct conf *t, const char *path)
{
	char *v = NULL;
	int ret = dmab_hv_store_read(t->hv, DMAB_HV_NO_TX, path, &v);
	free(v);
	return ret == -ENOENT;
}

static int dead(struct conf *t, void *arg)
{
	struct death_arg *a = arg;
	return !dmab_hv_domain_alive(t->hv, a->victim) &&
		saw_later(a->wdom, a->dom_path) && gone(t, a->dom_path) &&
		(!a->wvd || (saw_later(a->wvd, a->vd_path) && gone(t, a->vd_path))) &&
		a->wrel->count >= 2;
}

/* The toolstack told the backend to close the dead guest's device (libxl: online 0, Closing). */
static int told_to_close(struct conf *t, void *arg)
{
	struct death_arg *a = arg;
	char path[128], *v = NULL;
	snprintf(path, sizeof(path), "%s/0/online", a->vd_path);
	bool off = dmab_hv_store_read(t->hv, DMAB_HV_NO_TX, path, &v) == 0 && !strcmp(v, "0");
	free(v);
	return off;
}

static int death_backend(struct conf *t)
{
	grant_ref_t refs[2];
	domid_t v = t->guest[0];
	char dom_path[64], vd_path[96], path[128];
	void *addr;
	TRY(get_refs(t, "refs", refs, 2));

	snprintf(dom_path, sizeof(dom_path), "/local/domain/%u", v);
	snprintf(vd_path, sizeof(vd_path), "/local/domain/%u/backend/vdispl/%u",
		dmab_hv_domid(t->hv), v);
	snprintf(path, sizeof(path), "%s/0/frontend-id", vd_path);
	char *value = NULL;
	bool has_vdispl = dmab_hv_store_read(t->hv, DMAB_HV_NO_TX, path, &value) == 0;
	free(value);
	CHECK(t, has_vdispl || !t->sim, "no vdispl device at %s", vd_path);

	struct death_arg a = { .victim = v, .dom_path = dom_path, .vd_path = vd_path };
	TRY(conf_watch_add(t, dom_path, 0, &a.wdom));
	TRY(conf_watch_add(t, "@releaseDomain", 0, &a.wrel));
	if (has_vdispl)
		TRY(conf_watch_add(t, vd_path, 0, &a.wvd));
	TRY(conf_wait_count(t, "the initial watch event", &a.wdom->count, 1));
	TRY(conf_wait_count(t, "the initial watch event", &a.wrel->count, 1));
	if (a.wvd)
		TRY(conf_wait_count(t, "the initial watch event", &a.wvd->count, 1));

	CHECK_RET(t, conf_map(t, v, 2, refs, true, &addr), 0);
	CHECK_PATTERN(t, addr, 2, SEED(t, 13), NULL);
	t->allow_death = true;
	CHECK_RET(t, t->plat->kill_guest(t, v), 0);
	if (has_vdispl) {
		/* As a backend must: the toolstack waits for Closed before it removes the device. */
		char dev[128];
		snprintf(dev, sizeof(dev), "%s/0", vd_path);
		const struct dmab_hv_store_node closed = { "state", "6" };
		TRY(conf_wait(t, "the toolstack to close the device", told_to_close, &a));
		CHECK_RET(t, dmab_hv_store_write_in(t->hv, dev, &closed, 1), 0);
	}
	TRY(conf_wait(t, "the domain's death to show in the store", dead, &a));

	/* Ours until we let go. */
	CHECK_PATTERN(t, addr, 2, SEED(t, 13), NULL);
	CHECK_RET(t, conf_unmap(t, addr, 2), 0);
	CHECK_RET(t, conf_map(t, v, 2, refs, false, &addr), -EINVAL);
	CHECK(t, !dmab_hv_domain_alive(t->hv, v), "domain %u alive after its death", v);
	return CONF_PASS;
}

const struct conf_case conf_cases_grant[] = {
	{ "grant-map", 1, false, map_backend, map_guest },
	{ "grant-errors", 2, false, errors_backend, errors_guest },
	{ "grant-end-access", 1, false, end_backend, end_guest },
	{ "dmabuf-export", 1, false, export_backend, export_guest },
	{ "be-alloc", 1, false, be_alloc_backend, be_alloc_guest },
	{ "domain-death", 1, true, death_backend, death_guest },
	{ 0 },
};
