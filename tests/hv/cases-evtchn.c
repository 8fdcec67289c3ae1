// SPDX-License-Identifier: MIT
/* Conformance cases for event channels. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "tests/hv/conformance.h"

#define ROUNDS 3
/* A port no guest has allocated. */
#define BOGUS_PORT 100000u

static int evtchn_guest(struct conf *t)
{
	struct conf_chan *c, *loop;
	CHECK_RET(t, conf_evtchn_alloc(t, t->backend_domid, &c), 0);
	/* Offered to ourselves: the backend must not be able to bind it. */
	CHECK_RET(t, conf_evtchn_alloc(t, t->self, &loop), 0);
	evtchn_port_t port = dmab_hv_evtchn_port(c->chn);
	evtchn_port_t loop_port = dmab_hv_evtchn_port(loop->chn);
	CHECK(t, port != loop_port, "two channels on port %u", port);
	TRY(conf_fe_put(t, "ports", "%u %u", port, loop_port));
	TRY(conf_fe_get(t, "bound", NULL));

	/* Ping-pong: each side waits for the other's notification. */
	for (unsigned int i = 1; i <= ROUNDS; i++) {
		CHECK_RET(t, dmab_hv_evtchn_notify(c->chn), 0);
		TRY(conf_wait_count(t, "the backend's notification", &c->count, i));
	}
	CHECK(t, c->count == ROUNDS, "%u notifications from the backend, want %u", c->count,
		ROUNDS);
	/* This one makes the backend close its end from the callback. */
	CHECK_RET(t, dmab_hv_evtchn_notify(c->chn), 0);
	TRY(conf_fe_get(t, "closed", NULL));
	/* The other end is gone: the notification is dropped, not an error. */
	CHECK_RET(t, dmab_hv_evtchn_notify(c->chn), 0);
	TRY(conf_fe_put(t, "notified", "1"));
	conf_evtchn_close(loop);
	conf_evtchn_close(c);
	TRY(conf_fe_put(t, "closed", "1"));
	return CONF_PASS;
}

static int evtchn_backend(struct conf *t)
{
	char *v;
	unsigned int port, loop_port;
	struct conf_chan *c, *other;
	domid_t g = t->guest[0];

	TRY(conf_be_get(t, 0, "ports", &v));
	int n = sscanf(v, "%u %u", &port, &loop_port);
	free(v);
	CHECK(t, n == 2, "bad ports");

	CHECK_RET(t, conf_evtchn_bind(t, g, BOGUS_PORT, &other), -EINVAL);
	CHECK_RET(t, conf_evtchn_bind(t, g, loop_port, &other), -EINVAL);
	CHECK_RET(t, conf_evtchn_bind(t, g, port, &c), 0);
	c->close_at = ROUNDS + 2;
	/* Xen sets a new binding's port pending: its first event comes from the bind. */
	TRY(conf_wait_count(t, "the event of the binding", &c->count, 1));
	/* Bound already. */
	CHECK_RET(t, conf_evtchn_bind(t, g, port, &other), -EINVAL);
	TRY(conf_be_put(t, 0, "bound", "1"));

	for (unsigned int i = 1; i <= ROUNDS; i++) {
		TRY(conf_wait_count(t, "the guest's notification", &c->count, i + 1));
		CHECK(t, c->chn != NULL, "channel closed after %u events", c->count);
		CHECK_RET(t, dmab_hv_evtchn_notify(c->chn), 0);
	}
	TRY(conf_wait_count(t, "the guest's last notification", &c->count, ROUNDS + 2));
	CHECK(t, c->chn == NULL, "channel not closed by its callback");
	TRY(conf_be_put(t, 0, "closed", "1"));
	/* The guest notified the closed channel: no callback. */
	TRY(conf_be_get(t, 0, "notified", NULL));
	CHECK(t, c->count == ROUNDS + 2, "%u callbacks, want %u", c->count, ROUNDS + 2);

	/* Closed by the guest: nothing left to bind to. */
	TRY(conf_be_get(t, 0, "closed", NULL));
	CHECK_RET(t, conf_evtchn_bind(t, g, port, &other), -EINVAL);
	return CONF_PASS;
}

const struct conf_case conf_cases_evtchn[] = {
	{ "evtchn", 1, false, evtchn_backend, evtchn_guest },
	{ 0 },
};
