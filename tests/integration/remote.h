/* SPDX-License-Identifier: MIT */
/*
 * The Xen tier runs integration tests as user-space frontends in a real
 * domU, where the dmabridged they test runs in dom0, out of reach. They
 * reach it through XenStore, in their own domain's directory, and a relay
 * in dom0 (tests/xen/evil-relay.c) answers:
 *
 *   data/evil/ready      written by the relay once it serves
 *   data/evil/req        "<id>\n<op>\n<argument>", written by the guest;
 *                        <id> is "<pid>.<n>", new for every request
 *   data/evil/ans/<i>    the answer, in chunks of DMAB_REMOTE_CHUNK octets
 *   data/evil/done       "<id>\n<chunks>\n<octets>": the answer to <id> is
 *                        complete (the guest removes data/evil/ans then)
 *
 * The operations (the relay's answer in brackets):
 *   alive                  "1" while dmabridged runs
 *   fds, maps, rss         dmab_ts_fd_count(), dmab_ts_shared_map_count(),
 *                          the resident set in KiB
 *   lines                  the number of lines of its log
 *   now                    dom0's CLOCK_MONOTONIC in ms
 *   count  FROM\tN1\tN2..  lines after the first FROM that contain every Ni
 *   ctl    FD\tJSON        the answer to a control request (FD 1: with a
 *                          descriptor: the answer, a NUL, what was written
 *                          to it)
 *   config TEXT            the configuration file becomes TEXT, reloaded
 *                          [the reload's answer]
 *   good                   the well-behaved guest's domid (another domU,
 *                          whose xen-drm-front flips: xen-frames loop)
 *   good-wait              the longest it waited for a flip event, in ms
 *   good-wait-reset        ... from now on
 *   good-screen            hold it between frames, check its connector's
 *                          screenshot pixel for pixel and against the
 *                          checksum it drew ["0 ..." or "1 what differs"]
 *
 * A request (op and argument) is at most DMAB_REMOTE_REQ_MAX octets:
 * xenstored takes no larger value from a domU.
 */
#ifndef DMAB_TESTS_REMOTE_H
#define DMAB_TESTS_REMOTE_H

#include <stddef.h>
#include <stdint.h>

#define DMAB_REMOTE_DIR "data/evil"
#define DMAB_REMOTE_CHUNK 3000u
#define DMAB_REMOTE_REQ_MAX 2000u

struct dmab_ts_remote;

/** Reach the relay of this domain: 0 once it serves (at most timeout_ms), or -errno. */
int dmab_ts_remote_open(struct dmab_ts_remote **remote, uint32_t timeout_ms);

/**
 * One request: op with arg (arglen octets). The answer (malloc'd, with a
 * NUL after its *len octets) or NULL with errno set. Works in a process
 * forked after dmab_ts_remote_open() too (it opens XenStore anew).
 */
char *dmab_ts_remote_call(struct dmab_ts_remote *remote, const char *op, const void *arg,
		size_t arglen, size_t *len);

/** A number answered to op (arg a string, may be NULL); -1 on error. */
long long dmab_ts_remote_number(struct dmab_ts_remote *remote, const char *op, const char *arg);

#endif
