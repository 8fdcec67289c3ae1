/* SPDX-License-Identifier: MIT */
/*
 * The limits on log lines a guest can cause. They are kept per guest
 * (domid), not per device or connection: a guest that makes its device
 * come and go gets no fresh budget each time. One limit per class, so that
 * its mistakes do not hide its devices coming and going; over all guests
 * together, one more per class.
 *
 * Owns the table of limits (memory only). server.c creates it; the
 * fe_log_class(), fe_log_rl() and conn_log_rl() of server/frontend.h
 * look limits up in it for frontend.c, connector.c, buffer.c and layout.c.
 */
#ifndef DMAB_SERVER_GUEST_LOG_H
#define DMAB_SERVER_GUEST_LOG_H

#include "common/log.h"
#include "protocol/wire.h"

enum dmab_guest_log {
	DMAB_GUEST_LOG_WARN,            /* what it did wrong */
	DMAB_GUEST_LOG_LIFE,            /* its devices coming, connecting, going */
	DMAB_GUEST_LOG_DEBUG,           /* the steps it made us take */
	DMAB_GUEST_LOG_CLASSES,
};

/**
 * The limits of dmab_guest_log_limit(); NULL without memory. Destroyed
 * with dmab_ratelimit_table_destroy().
 */
struct dmab_ratelimit_table *dmab_guest_logs_create(void);

/** The limit of a class of lines about guest domid, in logs (never NULL). */
struct dmab_ratelimit *dmab_guest_log_limit(struct dmab_ratelimit_table *logs, domid_t domid,
		enum dmab_guest_log class);

#endif
