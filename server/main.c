// SPDX-License-Identifier: MIT
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <wayland-server-core.h>
#ifdef DMAB_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "common/log.h"
#include "common/paths.h"
#include "server/config.h"
#include "server/scheduler.h"
#include "server/server.h"

static const char usage[] =
	"usage: dmabridged [options]\n"
	"\n"
	"The host side of Xen's para-virtual display (vdispl): shows guests'\n"
	"framebuffers on the host display, zero copy where the platform allows.\n"
	"\n"
	"  -c, --config FILE        read the configuration from FILE\n"
	"      --hypervisor sim|xen where guests come from (default: sim)\n"
	"      --sim-socket PATH    the simulator's socket (sim)\n"
	"      --control-socket PATH  the control socket for dmabridgectl\n"
	"      --screen NAME=WxH[@HZ]  a headless screen (repeat for more)\n"
	"  -l, --log-level LEVEL    error, warn, info or debug\n"
	"  -v, --verbose            --log-level debug\n"
	"  -h, --help               this text\n"
	"  -V, --version            the version\n"
	"\n"
	"SIGHUP re-reads the configuration file; SIGTERM and SIGINT stop the\n"
	"server, releasing every guest buffer first.\n";

static bool running = true;

/* Tell systemd (a Type=notify unit) how we are; nothing without it. */
static void notify_systemd(const char *state)
{
#ifdef DMAB_HAVE_SYSTEMD
	sd_notify(0, state);
#else
	(void)state;
#endif
}

static int handle_stop(int sig, void *data)
{
	dmab_log(DMAB_LOG_INFO, "%s: stopping", strsignal(sig));
	notify_systemd("STOPPING=1");
	running = false;
	return 0;
}

static int handle_hup(int sig, void *data)
{
	/* systemd 253's Type=notify-reload also wants when the reload began. */
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	char state[64];
	snprintf(state, sizeof(state), "RELOADING=1\nMONOTONIC_USEC=%" PRIu64,
		(uint64_t)now.tv_sec * 1000000 + (uint64_t)now.tv_nsec / 1000);
	notify_systemd(state);
	/* A file that does not parse leaves the running configuration: ready either way. */
	dmab_server_reload(data);
	notify_systemd("READY=1");
	return 0;
}

static bool parse_screen(const char *arg, struct dmab_headless_screen_config *screen)
{
	const char *eq = strchr(arg, '=');
	unsigned int w, h, hz = 60;
	char tail;
	if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof(screen->name))
		return false;
	int n = sscanf(eq + 1, "%ux%u@%u%c", &w, &h, &hz, &tail);
	if ((n != 2 && n != 3) || w == 0 || h == 0 || w > 16384 || h > 16384 || hz == 0 || hz > 240)
		return false;
	memset(screen, 0, sizeof(*screen));
	memcpy(screen->name, arg, (size_t)(eq - arg));
	screen->width = w;
	screen->height = h;
	screen->refresh_mhz = hz * 1000;
	return true;
}

/* The socket is at its default path, in the runtime directory. */
static bool default_socket(const char *configured, const char *env)
{
	const char *named = getenv(env);
	return !configured[0] && !(named && named[0]);
}

int main(int argc, char *argv[])
{
	/*
	 * Before anything else: stop and reload requests wait, blocked, until
	 * the event loop takes them (wl_event_loop_add_signal() reads them from
	 * a signalfd), instead of killing us while we start.
	 */
	sigset_t handled;
	sigemptyset(&handled);
	sigaddset(&handled, SIGHUP);
	sigaddset(&handled, SIGTERM);
	sigaddset(&handled, SIGINT);
	sigprocmask(SIG_BLOCK, &handled, NULL);

	enum { OPT_HV = 256, OPT_SIM_SOCKET, OPT_CONTROL_SOCKET, OPT_SCREEN };
	static const struct option options[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "hypervisor", required_argument, NULL, OPT_HV },
		{ "sim-socket", required_argument, NULL, OPT_SIM_SOCKET },
		{ "control-socket", required_argument, NULL, OPT_CONTROL_SOCKET },
		{ "screen", required_argument, NULL, OPT_SCREEN },
		{ "log-level", required_argument, NULL, 'l' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};

	/* The file first, then the command line over it: two passes. */
	const char *config_path = NULL;
	int opt;
	while ((opt = getopt_long(argc, argv, "c:l:vhV", options, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config_path = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		case 'V':
			printf("dmabridged %s\n", DMAB_VERSION);
			return 0;
		case '?':
			fputs(usage, stderr);
			return 2;
		}
	}

	struct dmab_config_cli cli = { 0 };
	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:l:vhV", options, NULL)) != -1) {
		switch (opt) {
		case OPT_HV:
			cli.hv_set = true;
			if (!strcmp(optarg, "sim")) {
				cli.hv = DMAB_HV_KIND_SIM;
			} else if (!strcmp(optarg, "xen")) {
				cli.hv = DMAB_HV_KIND_XEN;
			} else {
				fprintf(stderr, "dmabridged: --hypervisor is sim or xen\n");
				return 2;
			}
			break;
		case OPT_SIM_SOCKET:
		case OPT_CONTROL_SOCKET: {
			char *dst = opt == OPT_SIM_SOCKET ? cli.sim_socket : cli.control_socket;
			if (strlen(optarg) >= sizeof(cli.sim_socket)) {
				fprintf(stderr, "dmabridged: socket path too long: %s\n", optarg);
				return 2;
			}
			strcpy(dst, optarg);
			break;
		}
		case OPT_SCREEN:
			if (cli.nscreens == DMAB_MAX_SCREENS ||
					!parse_screen(optarg, &cli.screens[cli.nscreens])) {
				fprintf(stderr, "dmabridged: --screen NAME=WxH[@HZ], at most %d: %s\n",
					DMAB_MAX_SCREENS, optarg);
				return 2;
			}
			cli.nscreens++;
			break;
		case 'l':
			cli.log_level_set = true;
			if (dmab_log_level_parse(optarg, &cli.log_level)) {
				fprintf(stderr, "dmabridged: unknown log level %s\n", optarg);
				return 2;
			}
			break;
		case 'v':
			cli.log_level_set = true;
			cli.log_level = DMAB_LOG_DEBUG;
			break;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "dmabridged: unexpected argument %s\n", argv[optind]);
		return 2;
	}

	struct dmab_config config;
	dmab_config_defaults(&config);
	if (config_path) {
		char err[256];
		if (dmab_config_load(&config, config_path, err, sizeof(err))) {
			fprintf(stderr, "dmabridged: %s\n", err);
			return 2;
		}
	}
	dmab_config_apply_cli(&config, &cli);

	dmab_log_init(config.log_level, NULL);
	/* What we make (the sockets above all) is ours alone from its first moment. */
	umask(0077);
	/* Default sockets go into a directory only we may write: make it. */
	char dir[108];
	if ((default_socket(config.control_socket, DMAB_ENV_SOCKET) ||
			(config.hv == DMAB_HV_KIND_SIM &&
				default_socket(config.sim_socket, DMAB_ENV_SIM_SOCKET))) &&
			!dmab_runtime_dir(dir, sizeof(dir), true))
		return 1;
	/* A guest or client going away mid-write must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	/* Each guest holds descriptors here (rings, channels, buffers): take what we may. */
	struct rlimit nofile;
	if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
		nofile.rlim_cur = nofile.rlim_max;
		setrlimit(RLIMIT_NOFILE, &nofile);
	}

	struct wl_event_loop *loop = wl_event_loop_create();
	if (!loop) {
		dmab_log(DMAB_LOG_ERROR, "cannot create the event loop");
		return 1;
	}
	struct dmab_server *server;
	int ret = dmab_server_create(loop, &config, config_path, &cli, &server);
	if (ret) {
		wl_event_loop_destroy(loop);
		return 1;
	}
	struct wl_event_source *sigs[] = {
		wl_event_loop_add_signal(loop, SIGTERM, handle_stop, server),
		wl_event_loop_add_signal(loop, SIGINT, handle_stop, server),
		wl_event_loop_add_signal(loop, SIGHUP, handle_hup, server),
	};
	/* The control socket takes connections and the backend directory is watched. */
	notify_systemd("READY=1");

	/* Longer than a 60 Hz refresh (16.7 ms), and then some: said in the log. */
	struct dmab_loop_timing timing;
	dmab_loop_timing_init(&timing, 50);
	while (running) {
		int err = dmab_loop_run_once(loop, -1, &timing);
		if (err) {
			dmab_log_errno(DMAB_LOG_ERROR, err, "event loop");
			ret = 1;
			break;
		}
	}

	if (timing.slow)
		dmab_log(DMAB_LOG_INFO, "the event loop was busy for %" PRIu32 " ms or more at once %" PRIu64
			" times, the longest %" PRIu64 " ms", timing.slow_ms, timing.slow,
			timing.longest_ms);
	dmab_server_destroy(server);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		if (sigs[i])
			wl_event_source_remove(sigs[i]);
	}
	wl_event_loop_destroy(loop);
	dmab_log(DMAB_LOG_INFO, "stopped");
	return ret ? 1 : 0;
}
