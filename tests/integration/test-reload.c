// SPDX-License-Identifier: MIT
/*
 * SIGHUP re-reads the configuration file, and the command line still
 * overrides it (docs/configuration.md: "the command line overrides it").
 * The harness starts dmabridged with --sim-socket, --control-socket and
 * --log-level debug on the command line and a file that sets none of
 * them: a reload of that unchanged file must neither claim that sockets
 * changed nor drop the log level to the file's default.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <drm_fourcc.h>

#include "client/frontend.h"
#include "tests/integration/harness.h"

#define STEP_MS 20000
#define RESTART_ONLY "change on restart only"

static int failures;

static const char config[] =
	"[screen.main]\nwidth = 640\nheight = 480\n"
	"[connector.hup0]\nx = 0\ny = 0\n";

struct guest {
	struct dmab_test_server *server;
	struct dmab_ts_sync sync;
};

static int guest_main(void *data)
{
	struct guest *g = data;
	struct dmab_client_connector_spec spec = { 320, 200, "hup0" };
	struct dmab_client_options options;
	dmab_ts_client_options(g->server, &options);
	options.create_device = true;
	options.connectors = &spec;
	options.connector_count = 1;
	struct dmab_client *client;
	GUEST_CHECK(dmab_client_connect(&options, &client) == 0);
	GUEST_CHECK(dmab_ts_sync_reach(&g->sync, 1, dmab_client_domid(client), NULL, STEP_MS) == 0);
	/* After the reload: a buffer, which dmabridged logs at debug level. */
	struct dmab_client_buffer *b;
	GUEST_CHECK(dmab_client_buffer_create(client, 320, 200, DRM_FORMAT_XRGB8888, &b) == 0);
	GUEST_CHECK(dmab_ts_sync_reach(&g->sync, 2, dmab_frontend_dbuf_cookie(b), NULL,
		STEP_MS) == 0);
	dmab_client_destroy(client);
	return 0;
}

static bool wait_log(struct dmab_test_server *s, const char *needle, int count)
{
	uint64_t deadline = dmab_ts_now_ms() + 5000;
	while (dmab_ts_log_count(s, needle) < count && dmab_ts_now_ms() < deadline)
		usleep(10000);
	return dmab_ts_log_count(s, needle) >= count;
}

static bool expect_step(struct dmab_ts_sync *sync, uint32_t want, uint64_t *value)
{
	uint32_t step;
	int ret = dmab_ts_sync_wait(sync, &step, value, STEP_MS);
	if (ret || step != want) {
		fprintf(stderr, "expected the guest at step %u: %s\n", want,
			ret ? strerror(-ret) : "wrong step");
		failures++;
		return false;
	}
	return true;
}

int main(void)
{
	struct dmab_test_server s;
	if (dmab_ts_start(&s, config, NULL))
		return 1;
	struct guest g = { .server = &s };
	if (dmab_ts_sync_open(&g.sync))
		return 1;
	pid_t pid = dmab_ts_guest(guest_main, &g);
	dmab_ts_sync_parent(&g.sync);
	uint64_t value;
	if (!expect_step(&g.sync, 1, &value))
		goto out;
	/* --log-level debug is in force: the device's steps are logged. */
	CHECK(dmab_ts_log_count(&s, "backend state Connected") == 1);

	fprintf(stderr, "SIGHUP with the file unchanged\n");
	CHECK(kill(s.pid, SIGHUP) == 0);
	CHECK(wait_log(&s, "reloaded", 1));
	/*
	 * Known bug, reported: dmab_server_reload() compares the sockets of
	 * the file alone with the running ones, which came from the command
	 * line, and warns that they changed.
	 */
	int warned = dmab_ts_log_count(&s, RESTART_ONLY);
	if (warned)
		fprintf(stderr, "known bug: an unchanged file reloaded: \"%s\"\n", RESTART_ONLY);
	CHECK(warned == 0);

	dmab_ts_sync_go(&g.sync, 0);
	if (!expect_step(&g.sync, 2, &value))
		goto out;
	/*
	 * Known bug, reported: the reload sets the file's log level (here the
	 * default, info) over --log-level debug, so this is not logged.
	 */
	char line[64];
	snprintf(line, sizeof(line), "dbuf 0x%" PRIx64 ":", value);
	if (dmab_ts_log_count(&s, line) != 1)
		fprintf(stderr, "known bug: after a reload, --log-level debug is gone "
			"(no \"%s\" in the log)\n", line);
	CHECK(dmab_ts_log_count(&s, line) == 1);

	/* What does change on restart only is still told: a new screen size. */
	fprintf(stderr, "reload with a changed screen\n");
	FILE *f = fopen(s.config, "w");
	CHECK(f && fputs("[screen.main]\nwidth = 800\nheight = 480\n", f) >= 0 && fclose(f) == 0);
	json_object *r = dmab_ts_ctl(&s, "{\"cmd\":\"reload\"}", -1), *ok;
	CHECK(r && json_object_object_get_ex(r, "ok", &ok) && json_object_get_boolean(ok));
	if (r)
		json_object_put(r);
	CHECK(dmab_ts_log_count(&s, "reloaded") == 2);
	CHECK(dmab_ts_log_count(&s, RESTART_ONLY) == warned + 1);
	/* The screen itself stays as it was. */
	uint8_t *rgba;
	uint32_t w, h;
	if (dmab_ts_screenshot(&s, "screen:main", &rgba, &w, &h) == 0) {
		CHECK(w == 640 && h == 480);
		free(rgba);
	} else {
		failures++;
	}
	dmab_ts_sync_go(&g.sync, 0);
out:
	CHECK(dmab_ts_guest_wait(pid, STEP_MS) == 0);
	dmab_ts_sync_close(&g.sync);
	CHECK(dmab_ts_stop(&s) == 0);
	fprintf(stderr, "%d failures\n", failures);
	return failures ? 1 : 0;
}
