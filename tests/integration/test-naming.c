// SPDX-License-Identifier: MIT
/*
 * What a guest may name. A guest chooses its connectors' unique-ids; the
 * toolstack, not the guest, names the domain. A place bound to a domain
 * goes to that domain's connector only, a place is held by one connector
 * at a time, a unique-id two connectors share selects neither, and status
 * says who holds which place. Also: positions at the ends of int32, and a
 * reload of a configuration path that is no longer a file.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <drm_fourcc.h>

#include "hv/sim/sim.h"
#include "tests/integration/harness.h"

#define STEP_MS 20000
#define SHOW_MS 3000
#define W 160
#define H 100

static int failures;

struct guest {
	struct dmab_test_server *server;
	struct dmab_ts_sync sync;
	const char *name;               /* the domain's, NULL: the simulator's choice */
	const char *uid;
	uint32_t picture;
};

/* Connect, show its picture, say its domid, hold until told to go. */
static int guest_main(void *data)
{
	struct guest *g = data;
	struct dmab_client_connector_spec spec = { W, H, g->uid };
	struct dmab_client_options options;
	dmab_ts_client_options(g->server, &options);
	options.create_device = true;
	options.connectors = &spec;
	options.connector_count = 1;
	options.domain_name = g->name;
	struct dmab_client *client;
	GUEST_CHECK(dmab_client_connect(&options, &client) == 0);
	struct dmab_client_buffer *b;
	GUEST_CHECK(dmab_client_buffer_create(client, W, H, DRM_FORMAT_XRGB8888, &b) == 0);
	dmab_ts_fill(dmab_client_buffer_data(b), dmab_client_buffer_stride(b), W, H, g->picture);
	GUEST_CHECK(dmab_client_set_config(client, 0, b, 0, 0) == 0);
	GUEST_CHECK(dmab_ts_sync_reach(&g->sync, 1, dmab_client_domid(client), NULL,
		STEP_MS) == 0);
	dmab_client_destroy(client);
	return 0;
}

struct running {
	struct guest g;
	pid_t pid;
	uint64_t domid;
};

static bool start(struct running *r, struct dmab_test_server *s, const char *name,
		const char *uid, uint32_t picture)
{
	r->g = (struct guest){ .server = s, .name = name, .uid = uid, .picture = picture };
	if (dmab_ts_sync_open(&r->g.sync))
		return false;
	r->pid = dmab_ts_guest(guest_main, &r->g);
	dmab_ts_sync_parent(&r->g.sync);
	uint32_t step;
	int ret = dmab_ts_sync_wait(&r->g.sync, &step, &r->domid, STEP_MS);
	if (ret || step != 1) {
		fprintf(stderr, "guest %s/%s did not come up: %s\n", name ? name : "-", uid,
			ret ? strerror(-ret) : "wrong step");
		failures++;
		return false;
	}
	return true;
}

static void stop(struct running *r)
{
	dmab_ts_sync_go(&r->g.sync, 0);
	CHECK(dmab_ts_guest_wait(r->pid, 10000) == 0);
	dmab_ts_sync_close(&r->g.sync);
}

/* The status object of domain domid's connector 0 (put it), NULL if absent. */
static json_object *connector_status(struct dmab_test_server *s, uint64_t domid,
		json_object **guest)
{
	json_object *g = dmab_ts_guest_status(s, (unsigned int)domid, 0), *conns;
	if (!g || !json_object_object_get_ex(g, "connectors", &conns) ||
			json_object_array_length(conns) != 1) {
		if (g)
			json_object_put(g);
		return NULL;
	}
	json_object *c = json_object_get(json_object_array_get_idx(conns, 0));
	if (guest)
		*guest = g;
	else
		json_object_put(g);
	return c;
}

static json_object *get(json_object *o, const char *key)
{
	json_object *v = NULL;
	json_object_object_get_ex(o, key, &v);
	return v;
}

/* Connector 0 of domid: at x, y, z, holding [connector.label] (NULL: none). */
static void expect_place(struct dmab_test_server *s, uint64_t domid, int32_t x, int32_t y,
		int32_t z, const char *label)
{
	json_object *c = connector_status(s, domid, NULL);
	CHECK(c);
	if (!c)
		return;
	json_object *place = get(c, "place");
	json_object *config = get(place, "config");
	bool ok = json_object_get_int(get(place, "x")) == x &&
		json_object_get_int(get(place, "y")) == y &&
		json_object_get_int(get(place, "z")) == z &&
		(label ? config && !strcmp(json_object_get_string(config), label) : !config);
	if (!ok) {
		fprintf(stderr, "dom%" PRIu64 ": expected at %d,%d z %d holding %s, status says %s\n",
			domid, x, y, z, label ? label : "nothing",
			json_object_to_json_string(place));
		failures++;
	}
	json_object_put(c);
}

/* A control request's answer: whether it was ok, and its error text. */
static bool ctl_ok(struct dmab_test_server *s, const char *request, char *error, size_t len)
{
	json_object *r = dmab_ts_ctl(s, request, -1);
	bool ok = r && json_object_get_boolean(get(r, "ok"));
	if (error)
		snprintf(error, len, "%s", r && get(r, "error") ?
			json_object_get_string(get(r, "error")) : "");
	if (r)
		json_object_put(r);
	return ok;
}

struct region {
	uint32_t x, y, picture;
};

static uint64_t check_region(const uint8_t *rgba, uint32_t width, uint32_t height, void *data)
{
	const struct region *r = data;
	return dmab_ts_check(rgba, width, r->x, r->y, W, H, r->picture);
}

static uint64_t shot(struct dmab_test_server *s, const char *target, uint32_t x, uint32_t y,
		uint32_t picture)
{
	struct region r = { x, y, picture };
	return dmab_ts_shot_until(s, target, check_region, &r, SHOW_MS);
}

/*
 * A guest that calls its connector cluster0 from another domain does not
 * get the cluster's place, nor answer to its name.
 */
static void test_bound(void)
{
	fprintf(stderr, "a place bound to a domain\n");
	struct dmab_test_server s;
	if (dmab_ts_start(&s, "[screen.main]\nwidth = 800\nheight = 400\n"
			"[connector.cluster]\nunique-id = cluster0\ndomain = cluster\n"
			"x = 300\ny = 50\nz = 10\n", NULL)) {
		failures++;
		return;
	}
	/* The impostor first: nothing is configured for it. */
	struct running evil, cluster;
	if (!start(&evil, &s, "evil", "cluster0", 7)) {
		dmab_ts_stop(&s);
		return;
	}
	if (!start(&cluster, &s, "cluster", "cluster0", 3)) {
		stop(&evil);
		dmab_ts_stop(&s);
		return;
	}
	expect_place(&s, evil.domid, 0, 0, 0, NULL);
	expect_place(&s, cluster.domid, 300, 50, 10, "cluster");
	json_object *g = NULL, *c = connector_status(&s, cluster.domid, &g);
	CHECK(g && get(g, "domain") && !strcmp(json_object_get_string(get(g, "domain")),
		"cluster"));
	if (c)
		json_object_put(c);
	if (g)
		json_object_put(g);
	CHECK(dmab_ts_log_count(&s, "has unique-id \"cluster0\", like") == 1);

	/* The cluster's picture where the cluster belongs, the impostor's where it is. */
	CHECK(shot(&s, "screen:main", 300, 50, 3) == 0);
	CHECK(shot(&s, "screen:main", 0, 0, 7) == 0);

	/* The label is the administrator's name: it means the cluster. */
	CHECK(shot(&s, "connector:cluster", 0, 0, 3) == 0);
	CHECK(shot(&s, "connector:cluster:cluster0", 0, 0, 3) == 0);
	CHECK(shot(&s, "connector:evil:cluster0", 0, 0, 7) == 0);

	/* The unique-id alone names two connectors: neither is moved. */
	char error[256];
	CHECK(!ctl_ok(&s, "{\"cmd\":\"layout\",\"connector\":\"cluster0\",\"x\":5}", error,
		sizeof(error)));
	CHECK(strstr(error, "names 2 connectors") != NULL);
	expect_place(&s, evil.domid, 0, 0, 0, NULL);
	expect_place(&s, cluster.domid, 300, 50, 10, "cluster");
	CHECK(ctl_ok(&s, "{\"cmd\":\"layout\",\"connector\":\"cluster\",\"z\":11}", NULL, 0));
	expect_place(&s, cluster.domid, 300, 50, 11, "cluster");

	/* Another domain cannot take the cluster's name either, as xl refuses it. */
	struct dmab_hv *hv;
	CHECK(dmab_hv_sim_connect_named(s.sim_socket, "cluster", &hv) == -EEXIST);

	stop(&evil);
	stop(&cluster);
	CHECK(dmab_ts_stop(&s) == 0);
}

/* An unbound place: the first connector holds it, the next gets it when it goes. */
static void test_held(void)
{
	fprintf(stderr, "a place held by one connector at a time\n");
	struct dmab_test_server s;
	if (dmab_ts_start(&s, "[screen.main]\nwidth = 800\nheight = 400\n"
			"[connector.ivi0]\nx = 500\ny = 200\nz = 3\n", NULL)) {
		failures++;
		return;
	}
	struct running first, second;
	if (!start(&first, &s, NULL, "ivi0", 1)) {
		dmab_ts_stop(&s);
		return;
	}
	if (!start(&second, &s, NULL, "ivi0", 2)) {
		stop(&first);
		dmab_ts_stop(&s);
		return;
	}
	expect_place(&s, first.domid, 500, 200, 3, "ivi0");
	/* Beside the others: right of the first. */
	expect_place(&s, second.domid, 500 + W, 0, 0, NULL);
	CHECK(dmab_ts_log_count(&s, "its place [connector.ivi0] is held by") == 1);
	CHECK(shot(&s, "screen:main", 500, 200, 1) == 0);

	stop(&first);
	/* The place is free: the waiting connector moves in. */
	uint64_t deadline = dmab_ts_now_ms() + SHOW_MS;
	while (dmab_ts_log_count(&s, "takes its place [connector.ivi0]") < 1 &&
			dmab_ts_now_ms() < deadline)
		usleep(10000);
	expect_place(&s, second.domid, 500, 200, 3, "ivi0");
	CHECK(shot(&s, "screen:main", 500, 200, 2) == 0);
	stop(&second);
	CHECK(dmab_ts_stop(&s) == 0);
}

/* Positions at the ends of int32: nothing overflows (UBSan runs this too). */
static void test_far(void)
{
	fprintf(stderr, "positions at the ends of int32\n");
	struct dmab_test_server s;
	if (dmab_ts_start(&s, "[screen.main]\nwidth = 800\nheight = 400\n", NULL)) {
		failures++;
		return;
	}
	struct running a, b;
	if (!start(&a, &s, NULL, "far0", 1)) {
		dmab_ts_stop(&s);
		return;
	}
	CHECK(ctl_ok(&s, "{\"cmd\":\"layout\",\"connector\":\"far0\",\"x\":2147483600,"
		"\"y\":-2147483648}", NULL, 0));
	/* Placed to the right of a connector at the far right: clamped, not wrapped. */
	if (start(&b, &s, NULL, "far1", 2)) {
		expect_place(&s, b.domid, INT32_MAX, 0, 0, NULL);
		/* Nothing of either is on the screen. */
		uint8_t *rgba = NULL;
		uint32_t w, h;
		CHECK(dmab_ts_screenshot(&s, "screen:main", &rgba, &w, &h) == 0);
		if (rgba) {
			CHECK(dmab_ts_check_black(rgba, w, 0, 0, w, h) == 0);
			free(rgba);
		}
		stop(&b);
	}
	CHECK(ctl_ok(&s, "{\"cmd\":\"layout\",\"connector\":\"far0\",\"x\":-2147483648,"
		"\"y\":2147483647}", NULL, 0));
	CHECK(dmab_ts_alive(&s));
	stop(&a);
	CHECK(dmab_ts_stop(&s) == 0);
}

/* A configuration path that became a directory: the reload fails, the layout stays. */
static void test_reload_not_a_file(void)
{
	fprintf(stderr, "reloading a path that is no longer a file\n");
	struct dmab_test_server s;
	if (dmab_ts_start(&s, "[screen.main]\nwidth = 800\nheight = 400\n"
			"[connector.r0]\nx = 100\ny = 100\nz = 4\n", NULL)) {
		failures++;
		return;
	}
	struct running a;
	if (!start(&a, &s, NULL, "r0", 5)) {
		dmab_ts_stop(&s);
		return;
	}
	expect_place(&s, a.domid, 100, 100, 4, "r0");
	CHECK(unlink(s.config) == 0);
	CHECK(mkdir(s.config, 0700) == 0);
	char error[256];
	CHECK(!ctl_ok(&s, "{\"cmd\":\"reload\"}", error, sizeof(error)));
	CHECK(dmab_ts_log_count(&s, "Is a directory; keeping the running configuration") == 1);
	expect_place(&s, a.domid, 100, 100, 4, "r0");
	CHECK(rmdir(s.config) == 0);
	stop(&a);
	CHECK(dmab_ts_stop(&s) == 0);
}

int main(void)
{
	test_bound();
	test_held();
	test_far();
	test_reload_not_a_file();
	fprintf(stderr, "%d failures\n", failures);
	return failures ? 1 : 0;
}
