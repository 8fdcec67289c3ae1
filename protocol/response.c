// SPDX-License-Identifier: MIT
#include <string.h>

#include "protocol/response.h"

void dmab_resp_encode(struct xendispl_resp *resp, uint16_t id, uint8_t op,
		int32_t status, uint32_t edid_sz)
{
	memset(resp, 0, sizeof(*resp));
	resp->id = id;
	resp->operation = op;
	resp->status = status;
	if (op == XENDISPL_OP_GET_EDID && status == 0)
		resp->op.get_edid.edid_sz = edid_sz;
}

void dmab_evt_encode_pg_flip(struct xendispl_evt *evt, uint16_t id,
		uint64_t fb_cookie)
{
	memset(evt, 0, sizeof(*evt));
	evt->id = id;
	evt->type = XENDISPL_EVT_PG_FLIP;
	evt->op.pg_flip.fb_cookie = fb_cookie;
}
