/* SPDX-License-Identifier: MIT */
#ifndef DMAB_PROTOCOL_RESPONSE_H
#define DMAB_PROTOCOL_RESPONSE_H

#include <stdint.h>

#include "protocol/wire.h"

/**
 * Fill a response: every octet is zeroed first, so nothing stale reaches
 * the frontend (Linux reuses the slot for its next request without clearing
 * it, and reads flags from it). edid_sz is used for GET_EDID only.
 */
void dmab_resp_encode(struct xendispl_resp *resp, uint16_t id, uint8_t op,
		int32_t status, uint32_t edid_sz);

/** Fill a page-flip event, zeroed first like a response. */
void dmab_evt_encode_pg_flip(struct xendispl_evt *evt, uint16_t id,
		uint64_t fb_cookie);

#endif
