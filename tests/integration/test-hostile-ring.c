// SPDX-License-Identifier: MIT
/*
 * Hostile guests: request ring indices that lie. The shared req_prod is
 * the guest's to write; the server bounds it by its own responses
 * (protocol/ring.c: RING_REQUEST_PROD_OVERFLOW). A producer more than a
 * ring (32 requests) ahead of the responses, or moved backwards, marks the
 * ring broken: the server takes nothing more from it, answers nothing of
 * it, logs why naming the guest, and drops the device (writes Closing and
 * tears the connection down from its event loop). A producer exactly a
 * ring ahead is a full ring, and legal: all 32 requests are answered.
 *
 * Without the bound: the server takes as requests ring slots the guest
 * never filled, over and over (a producer 2^31 ahead keeps it busy for
 * hours: a hang for every guest), and writes responses over requests not
 * taken yet; a producer moved backwards makes req_cons - req_prod wrap and
 * does the same. Without dropping the device, a broken ring stays mapped
 * and its guest half-connected forever.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/evil.h"

#define RING_SLOTS 32u

/* One request that needs no state: answered -XEN_EOPNOTSUPP. */
static void junk(struct xendispl_req *r)
{
	memset(r, 0, sizeof(*r));
	r->operation = 0x7e;
}

/* The guest is served: a request gets its answer. */
static int served(struct dmab_client *c)
{
	struct xendispl_req r;
	junk(&r);
	return evil_expect(c, "a request", &r, -XEN_EOPNOTSUPP);
}

/*
 * Write req_prod = value (relative to the responses the server published)
 * and notify; the server must drop us and answer nothing more.
 */
static int lie(struct evil_env *env, struct dmab_client *c, int32_t ahead, const char *what)
{
	struct xen_displif_sring *sring = dmab_frontend_sring(c, 0);
	unsigned int dom = dmab_client_domid(c);
	int fails = served(c);
	/* Fill every slot with a request that would be answered, were it taken. */
	for (unsigned int i = 0; i < RING_SLOTS; i++)
		junk(&sring->ring[i].req);
	RING_IDX rsp = __atomic_load_n(&sring->rsp_prod, __ATOMIC_ACQUIRE);
	fprintf(stderr, "req_prod %u -> %u: %s\n", rsp, rsp + (RING_IDX)ahead, what);
	dmab_frontend_set_req_prod(c, 0, rsp + (RING_IDX)ahead, true);

	fails += EVIL_CHECK(evil_wait_dropped(&env->server, dom, 3000),
		"%s: the server did not drop the guest", what);
	evil_sleep_ms(50);
	fails += EVIL_CHECK(__atomic_load_n(&sring->rsp_prod, __ATOMIC_ACQUIRE) == rsp,
		"%s: the server answered requests after the producer lied", what);
	fails += EVIL_CHECK(evil_log_count(&env->server, "dom%u/vdispl0: dropping the connection: "
		"its request ring's producer ran past the ring", dom) == 1,
		"%s: no log line naming the guest", what);
	/* It stays dropped, whatever else comes. */
	dmab_frontend_notify(c, 0);
	evil_sleep_ms(50);
	fails += EVIL_CHECK(__atomic_load_n(&sring->rsp_prod, __ATOMIC_ACQUIRE) == rsp,
		"%s: the server answered after dropping the guest", what);
	return fails;
}

static int far_ahead(struct evil_env *env, void *data)
{
	struct dmab_client *c;
	if (evil_connect(env, false, 1, &c))
		return 100;
	return lie(env, c, 1000000, "far ahead");
}

static int one_past_full(struct evil_env *env, void *data)
{
	struct dmab_client *c;
	if (evil_connect(env, false, 1, &c))
		return 100;
	return lie(env, c, (int32_t)RING_SLOTS + 1, "a ring and one ahead");
}

static int half_way_round(struct evil_env *env, void *data)
{
	struct dmab_client *c;
	if (evil_connect(env, false, 1, &c))
		return 100;
	return lie(env, c, INT32_MIN, "2^31 ahead");
}

static int backwards(struct evil_env *env, void *data)
{
	struct dmab_client *c;
	if (evil_connect(env, false, 1, &c))
		return 100;
	return lie(env, c, -1, "one back");
}

static int far_backwards(struct evil_env *env, void *data)
{
	struct dmab_client *c;
	if (evil_connect(env, false, 1, &c))
		return 100;
	return lie(env, c, -(int32_t)RING_SLOTS - 5, "a ring and more back");
}

/* Exactly a ring ahead: a full ring, every request answered, nobody dropped. */
static int full_ring(struct evil_env *env, void *data)
{
	struct dmab_client *c;
	if (evil_connect(env, false, 1, &c))
		return 100;
	int fails = 0;
	for (int round = 0; round < 3; round++) {
		struct xendispl_req reqs[RING_SLOTS];
		struct xendispl_resp resps[RING_SLOTS];
		for (unsigned int i = 0; i < RING_SLOTS; i++)
			junk(&reqs[i]);
		fails += evil_batch(c, 0, reqs, RING_SLOTS, resps, 3000);
		for (unsigned int i = 0; i < RING_SLOTS; i++)
			fails += EVIL_CHECK(resps[i].status == -XEN_EOPNOTSUPP, "request %u: %s", i,
				evil_status_name(resps[i].status));
	}
	char state[32];
	bool connected = false;
	fails += EVIL_CHECK(evil_guest_state(&env->server, dmab_client_domid(c), state,
		sizeof(state), &connected) == 0 && connected, "a full ring got the guest dropped");
	fails += served(c);
	return fails;
}

int main(void)
{
	struct evil_env env;
	if (evil_env_start(&env, NULL))
		return 1;
	evil_env_hostile(&env, "a full ring", full_ring, NULL, 0, 30000);
	evil_env_hostile(&env, "req_prod far ahead", far_ahead, NULL, 0, 30000);
	evil_env_hostile(&env, "req_prod a ring and one ahead", one_past_full, NULL, 0, 30000);
	evil_env_hostile(&env, "req_prod 2^31 ahead", half_way_round, NULL, 0, 30000);
	evil_env_hostile(&env, "req_prod moved back by one", backwards, NULL, 0, 30000);
	evil_env_hostile(&env, "req_prod moved back by more than a ring", far_backwards, NULL, 0,
		30000);
	return evil_env_finish(&env) ? 1 : 0;
}
