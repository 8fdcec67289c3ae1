// SPDX-License-Identifier: MIT
#include <errno.h>

#include "client/client-impl.h"
#include "client/frontend.h"

static struct client_conn *ring_of(struct dmab_client *c, unsigned int index)
{
	if (index >= c->nconns || !c->conns[index].req_page)
		return NULL;
	return &c->conns[index];
}

int dmab_frontend_connect(const struct dmab_client_options *options,
		struct dmab_hv *hv, struct dmab_client **client)
{
	if (dmab_hv_role(hv) != DMAB_HV_FRONTEND)
		return -EINVAL;
	return dmab_client_connect_over(options, hv, false, client);
}

struct dmab_hv *dmab_frontend_hv(struct dmab_client *c)
{
	return c->hv;
}

domid_t dmab_frontend_backend_domid(const struct dmab_client *c)
{
	return c->be_domid;
}

int dmab_frontend_put(struct dmab_client *c, unsigned int index,
		const struct xendispl_req *req, bool notify)
{
	if (index >= c->nconns)
		return -EINVAL;
	struct client_conn *conn = ring_of(c, index);
	if (!conn)
		return -ENOTCONN;
	bool asked;
	int ret = dmab_fe_ring_send_raw(&conn->ring, req, &asked);
	if (ret)
		return ret;
	return notify ? dmab_hv_evtchn_notify(conn->req_chn) : 0;
}

int dmab_frontend_set_req_prod(struct dmab_client *c, unsigned int index,
		RING_IDX value, bool notify)
{
	if (index >= c->nconns)
		return -EINVAL;
	struct client_conn *conn = ring_of(c, index);
	if (!conn)
		return -ENOTCONN;
	xen_wmb();
	__atomic_store_n(&conn->ring.front.sring->req_prod, value, __ATOMIC_RELAXED);
	xen_mb();
	return notify ? dmab_hv_evtchn_notify(conn->req_chn) : 0;
}

int dmab_frontend_notify(struct dmab_client *c, unsigned int index)
{
	if (index >= c->nconns)
		return -EINVAL;
	struct client_conn *conn = ring_of(c, index);
	return conn ? dmab_hv_evtchn_notify(conn->req_chn) : -ENOTCONN;
}

int dmab_frontend_get_response(struct dmab_client *c, unsigned int index,
		struct xendispl_resp *resp, uint32_t timeout_ms)
{
	if (index >= c->nconns)
		return -EINVAL;
	struct client_conn *conn = ring_of(c, index);
	if (!conn)
		return -ENOTCONN;

	uint64_t deadline = dmab_now_ms() + timeout_ms;
	for (;;) {
		int ret = dmab_fe_ring_take_any(&conn->ring, resp);
		if (ret == 1)
			return 0;
		if (ret < 0)
			return ret;
		ret = dmab_client_pump(c, deadline);
		if (ret)
			return ret;
	}
}

int dmab_frontend_call(struct dmab_client *c, unsigned int index,
		struct xendispl_req *req, struct xendispl_resp *resp)
{
	return dmab_client_call(c, index, req, resp);
}

struct xen_displif_sring *dmab_frontend_sring(struct dmab_client *c,
		unsigned int index)
{
	struct client_conn *conn = ring_of(c, index);
	return conn ? conn->req_page : NULL;
}

struct xendispl_event_page *dmab_frontend_event_page(struct dmab_client *c,
		unsigned int index)
{
	struct client_conn *conn = ring_of(c, index);
	return conn ? conn->evt_page : NULL;
}

int dmab_frontend_pump(struct dmab_client *c, uint32_t timeout_ms)
{
	uint64_t deadline = dmab_now_ms() + timeout_ms;
	int ret = dmab_hv_dispatch(c->hv);
	while (ret == 0)
		ret = dmab_client_pump(c, deadline);
	if (ret != -ETIMEDOUT)
		return -ENOTCONN;
	dmab_client_process_state(c);
	return c->phase == CLIENT_CONNECTED ? 0 : -ENOTCONN;
}

uint64_t dmab_frontend_dbuf_cookie(const struct dmab_client_buffer *b)
{
	return b->dbuf_cookie;
}

uint64_t dmab_frontend_fb_cookie(const struct dmab_client_buffer *b)
{
	return b->fb_cookie;
}
