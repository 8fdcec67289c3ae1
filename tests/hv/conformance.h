/* SPDX-License-Identifier: MIT */
/*
 * The hv conformance suite: test cases for the interface of hv/hv.h that
 * run unchanged on the simulator and on real Xen.
 *
 * A case is a pair of steps, one run by the backend (domain 0) and one by
 * each guest it involves, in different processes (on Xen, different
 * domains). The two sides talk only through the hv interface: each guest
 * has a mailbox under its own /local/domain/<id>/data/conformance, where
 * the guest writes fe/<seq>/<key> and the backend writes be/<seq>/<key>.
 * Every wait polls the hv fd and dispatches, with a deadline.
 */
#ifndef DMAB_TESTS_HV_CONFORMANCE_H
#define DMAB_TESTS_HV_CONFORMANCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv/hv.h"
#include "tests/hv/harness.h"

enum conf_status {
	CONF_PASS = 0,
	CONF_FAIL = -1,
	CONF_SKIP = -2,
};

#define CONF_MAX_GUESTS 2
#define CONF_MAX_REFS 16

struct conf_platform;
struct conf_res;

/** One side of one case. */
struct conf {
	struct dmab_hv *hv;
	const struct conf_platform *plat;
	bool backend;
	bool sim;                       /* assertions that differ per hv */
	const char *case_name;
	unsigned int seq;
	int timeout_ms;

	/* Backend: the case's guests, [0] first. */
	domid_t guest[CONF_MAX_GUESTS];
	unsigned int nguests;
	bool allow_death;               /* waits do not fail when a guest dies */
	void *run;                      /* the runner's, for platform hooks */

	/* Guest: our part in the case. */
	domid_t self;
	domid_t backend_domid;
	domid_t peer;                   /* the other guest, or DOMID_INVALID */
	unsigned int index;

	char why[512];                  /* first failure or skip reason */
	struct conf_res *res;
	size_t nres, res_cap;
};

/** What differs between the simulator and Xen, beyond struct dmab_hv. */
struct conf_platform {
	const char *name;
	/* Guest: the toolstack step that creates vdispl device 0 (Xen: xl did it). */
	int (*add_vdispl)(struct conf *t);
	/* Backend: kill a guest domain outright (kill -9, xl destroy). */
	int (*kill_guest)(struct conf *t, domid_t domid);
};

struct conf_case {
	const char *name;
	unsigned int guests;            /* 1 or 2 */
	bool victim;                    /* runs on a guest of its own, which dies */
	int (*backend)(struct conf *t);
	int (*guest)(struct conf *t);
};

extern const struct conf_case conf_cases_store[];
extern const struct conf_case conf_cases_evtchn[];
extern const struct conf_case conf_cases_grant[];

/* ---- results ---- */

/** Record a failure (the first one counts) and return CONF_FAIL. */
int conf_fail(struct conf *t, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/** Record a skip reason and return CONF_SKIP. */
int conf_skip(struct conf *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define CHECK(t, cond, ...) do { \
	if (!(cond)) \
		return conf_fail((t), __FILE__, __LINE__, __VA_ARGS__); \
} while (0)

/* An int-valued expression (return code) must equal want. */
#define CHECK_RET(t, expr, want) do { \
	long long _got = (expr), _want = (want); \
	if (_got != _want) \
		return conf_fail((t), __FILE__, __LINE__, "%s = %s, want %s", \
			#expr, harness_errname(_got), harness_errname(_want)); \
} while (0)

/* A step helper failed and recorded why: pass it on. */
#define TRY(expr) do { \
	int _r = (expr); \
	if (_r) \
		return _r; \
} while (0)

/** Check a pattern (see harness_fill) in count pages at addr. */
#define CHECK_PATTERN(t, addr, count, seed, page_of) do { \
	long _off = harness_check((addr), (count), (seed), (page_of)); \
	if (_off >= 0) \
		return conf_fail((t), __FILE__, __LINE__, \
			"pattern %#x wrong at offset %ld of %u pages", \
			(unsigned int)(seed), _off, (unsigned int)(count)); \
} while (0)

/* ---- store checks ---- */

int conf_check_read(struct conf *t, const char *file, int line, dmab_hv_tx_t tx,
		const char *path, const char *want);
/** want: the children's names, sorted, separated by one space. */
int conf_check_dir(struct conf *t, const char *file, int line, dmab_hv_tx_t tx,
		const char *path, const char *want);

#define CHECK_READ(t, tx, path, want) \
	TRY(conf_check_read((t), __FILE__, __LINE__, (tx), (path), (want)))
#define CHECK_DIR(t, tx, path, want) \
	TRY(conf_check_dir((t), __FILE__, __LINE__, (tx), (path), (want)))

/* ---- mailbox ---- */

/** Guest: publish fe/<seq>/<key> for the backend. */
int conf_fe_put(struct conf *t, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/** Guest: wait for be/<seq>/<key>; *value malloc'd. Fails on the backend's abort. */
int conf_fe_get(struct conf *t, const char *key, char **value);

/** Backend: publish be/<seq>/<key> for guest index gi. */
int conf_be_put(struct conf *t, unsigned int gi, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/** Backend: wait for guest gi's fe/<seq>/<key>; *value malloc'd (may be NULL if not wanted). */
int conf_be_get(struct conf *t, unsigned int gi, const char *key, char **value);

/** Wait for any node to exist; *value malloc'd (may be NULL if not wanted). */
int conf_wait_node(struct conf *t, const char *path, char **value);

/** "/local/domain/<domid>/data/conformance". */
void conf_mailbox(char *buf, size_t len, domid_t domid);

/** A scratch directory for the case: guest's own data, or dom0's. */
void conf_scratch(struct conf *t, char *buf, size_t len);

/** Same for another domain's scratch directory (backend side). */
void conf_scratch_of(struct conf *t, domid_t domid, char *buf, size_t len);

/** Format refs as "r0 r1 ..." and parse them back; -EINVAL if malformed. */
void conf_refs_format(char *buf, size_t len, const grant_ref_t *refs, uint32_t count);
int conf_refs_parse(const char *s, grant_ref_t *refs, uint32_t max, uint32_t *count);

/* ---- waiting ---- */

/** 1 done, 0 not yet, or a status (CONF_FAIL, recorded) to stop waiting. */
typedef int (*conf_cond_fn)(struct conf *t, void *arg);

/**
 * Dispatch until cond says done, at most the case timeout; what names the
 * wait in the failure message. Backend waits also fail when a guest of
 * the case dies (unless allow_death).
 */
int conf_wait(struct conf *t, const char *what, conf_cond_fn cond, void *arg);

/** Wait until *counter >= target. */
int conf_wait_count(struct conf *t, const char *what, const unsigned int *counter,
		unsigned int target);

/* ---- resources the runner releases if a step stops half-way ---- */

struct conf_watch {
	struct conf *t;
	struct dmab_hv_watch *watch;    /* NULL once removed */
	unsigned int count;
	unsigned int remove_at;         /* remove itself at this event; 0: never */
	char paths[32][160];            /* the first 32 event paths */
};

struct conf_chan {
	struct dmab_hv_evtchn *chn;     /* NULL once closed */
	unsigned int count;
	unsigned int close_at;          /* close itself at this notification; 0: never */
};

/** Add a watch recording its events; *out owned by t. */
int conf_watch_add(struct conf *t, const char *path, unsigned int remove_at,
		struct conf_watch **out);
void conf_watch_remove(struct conf_watch *w);
/** Whether an event came for path exactly (or, with below, at or under it). */
bool conf_watch_saw(const struct conf_watch *w, const char *path, bool below);

int conf_evtchn_alloc(struct conf *t, domid_t remote, struct conf_chan **out);
int conf_evtchn_bind(struct conf *t, domid_t remote, evtchn_port_t port,
		struct conf_chan **out);
void conf_evtchn_close(struct conf_chan *c);

int conf_share(struct conf *t, domid_t remote, uint32_t count, uint32_t flags,
		grant_ref_t *refs, void **addr);
int conf_share_free(struct conf *t, void *addr, uint32_t count);
int conf_map(struct conf *t, domid_t domid, uint32_t count, const grant_ref_t *refs,
		bool writable, void **addr);
int conf_unmap(struct conf *t, void *addr, uint32_t count);
/*
 * Maps refs (read-only) until the hypervisor refuses, as it must once their
 * granter released them, and returns its answer: on Xen, Linux ends a grant
 * that was mapped when it was released a while later, so this retries for
 * a few seconds there (and unmaps what it mapped meanwhile).
 */
int conf_map_ended(struct conf *t, domid_t domid, uint32_t count, const grant_ref_t *refs);
/** An fd the case owns (closed at cleanup unless conf_close()d). */
void conf_own_fd(struct conf *t, int fd);
void conf_close(struct conf *t, int fd);
/** A backend import (imp_to_refs) to release at cleanup. */
int conf_imp_to_refs(struct conf *t, domid_t domid, int fd, uint32_t count,
		grant_ref_t *refs);
int conf_imp_release(struct conf *t, int fd);
/** An exported dma-buf: conf_exp_close() closes it and waits for its release. */
int conf_exp_from_refs(struct conf *t, domid_t domid, uint32_t count,
		const grant_ref_t *refs, int *fd);
int conf_exp_close(struct conf *t, int fd, uint32_t timeout_ms);
/** An mmap() to undo at cleanup. */
void conf_own_mmap(struct conf *t, void *addr, size_t len);
void conf_munmap(struct conf *t, void *addr, size_t len);

/** Release what a step left, newest first. */
void conf_cleanup(struct conf *t);

#endif
