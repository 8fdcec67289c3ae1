// SPDX-License-Identifier: MIT
/*
 * dmabridge-play: a guest program that shows pictures on a vdispl connector
 * through libdmabridge-client, double-buffered on page-flip events: a test
 * pattern (see pattern.h for its formula), a PNG file, or raw frames from
 * stdin. Prints the frame rate every second and a summary at the end.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>
#include <drm_fourcc.h>

#include "dmabridge/client.h"
#include "client/tools/pattern.h"
#include "client/tools/render.h"
#include "protocol/format.h"

#define MAX_CONNECTORS 16
#define DEFAULT_WIDTH 640
#define DEFAULT_HEIGHT 480
#define TIMEOUT_MS 3000
/* As Linux: a flip without its event after the request timeout + 100 ms is done. */
#define FRAME_SLACK_MS 100

enum source {
	SOURCE_PATTERN,
	SOURCE_PNG,
	SOURCE_RAW,
};

struct play {
	struct dmab_client *client;
	unsigned int connector;
	uint32_t width, height;         /* of the buffers: the connector's resolution */
	uint32_t fourcc;
	uint32_t timeout_ms;
	struct dmab_client_buffer *buffers[3];
	unsigned int buffer_count;      /* 2, or 3: the next frame drawn while a flip waits */
	uint32_t *scratch;              /* XRGB8888, width x height */
	int sigfd;
	bool quit;

	enum source source;
	uint32_t *image;                /* PNG, or one raw frame */
	uint32_t image_width, image_height;

	/* the flip being waited for */
	struct dmab_client_buffer *flipping;
	bool flip_done;
	uint64_t flip_deadline;

	uint64_t frames, flips, flip_timeouts;
	uint64_t start_ms, end_ms, second_ms, second_frames;
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: dmabridge-play [options]\n"
		"Show a test pattern, a PNG or raw frames on a Xen para-virtual display.\n"
		"\n"
		"  --sim                  use dmabridge's simulator (the default without /dev/xen)\n"
		"  --xen                  use Xen (the default with /dev/xen)\n"
		"  --sim-socket PATH      the simulator's socket (default: $DMABRIDGE_SIM_SOCKET,\n"
		"                         $XDG_RUNTIME_DIR/dmabridge-sim.sock)\n"
		"  --devid N              the vdispl device (default 0)\n"
		"  --create [ID:]WxH[,...]  simulator: create the device with these connectors,\n"
		"                         ID their unique-id (default one of %ux%u)\n"
		"  --be-alloc             simulator: create it with backend-allocated buffers\n"
		"  --name NAME            simulator: the domain's name, as xl's name=\n"
		"  --connector N          the connector to show on (default 0)\n"
		"  --format NAME          XRGB8888 (default), ARGB8888, RGB565, RGB888,\n"
		"                         XRGB4444, ARGB4444, XRGB1555, ARGB1555, YUYV\n"
		"  --frames N             stop after N frames (default: run until stopped)\n"
		"  --hold                 after the last frame, keep it shown until stopped\n"
		"  --png FILE             show FILE (centred) instead of the test pattern\n"
		"  --raw WxH              show raw BGRA (XRGB8888 little-endian) WxH frames\n"
		"                         read from stdin, e.g. ffmpeg ... -f rawvideo\n"
		"                         -pix_fmt bgra - | dmabridge-play --raw 1280x720\n"
		"  --buffers N            2 (default) or 3: with 3, the next frame is drawn\n"
		"                         while the last one's flip waits for its event\n"
		"  --timeout MS           request timeout (default %u)\n"
		"  -v, --verbose          log what the library does (DMABRIDGE_LOG=debug)\n"
		"  -h, --help             this text\n"
		"\n"
		"Frame 0 is shown with SET_CONFIG, every later one with a page flip into\n"
		"a buffer that is neither shown nor being flipped, once the previous flip\n"
		"was reported.\n"
		"The test pattern of frame f at (x, y), XRGB8888, width w:\n"
		"  white where (x + w - (4f %% w)) %% w < 8, else R = (x + f) & 255,\n"
		"  G = (y + 2f) & 255, B = ((x >> 5) + (y >> 5) + (f >> 4)) odd ? 0xc0 : 0x40\n",
		DEFAULT_WIDTH, DEFAULT_HEIGHT, TIMEOUT_MS);
}

static int parse_size(const char *s, uint32_t *w, uint32_t *h, const char **end)
{
	char *e;
	errno = 0;
	unsigned long a = strtoul(s, &e, 10);
	if (e == s || *e != 'x' || errno)
		return -EINVAL;
	const char *t = e + 1;
	unsigned long b = strtoul(t, &e, 10);
	if (e == t || errno || a == 0 || b == 0 || a > 16384 || b > 16384)
		return -EINVAL;
	*w = (uint32_t)a;
	*h = (uint32_t)b;
	*end = e;
	return 0;
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *e;
	errno = 0;
	unsigned long v = strtoul(s, &e, 10);
	if (e == s || *e || errno || v > max || s[0] == '-')
		return -EINVAL;
	*out = v;
	return 0;
}

static const struct dmab_format *format_by_name(const char *name)
{
	size_t count;
	const struct dmab_format *all = dmab_format_all(&count);
	for (size_t i = 0; i < count; i++) {
		if (strcasecmp(all[i].name, name) == 0)
			return &all[i];
	}
	return NULL;
}

static void handle_flip(void *data, unsigned int index,
		struct dmab_client_buffer *buffer)
{
	struct play *p = data;
	if (index == p->connector && buffer == p->flipping)
		p->flip_done = true;
}

static void handle_signal(struct play *p)
{
	struct signalfd_siginfo si;
	if (read(p->sigfd, &si, sizeof(si)) == sizeof(si))
		p->quit = true;
}

/*
 * Wait for the client (and stdin when want_stdin), at most timeout_ms
 * (-1: no limit). Returns 1 if stdin is readable, 0 otherwise, or a
 * negative errno when the device is gone.
 */
static int wait_events(struct play *p, int timeout_ms, bool want_stdin)
{
	struct pollfd fds[3] = {
		{ .fd = dmab_client_get_fd(p->client), .events = POLLIN },
		{ .fd = p->sigfd, .events = POLLIN },
		{ .fd = STDIN_FILENO, .events = POLLIN },
	};
	int n = poll(fds, want_stdin ? 3 : 2, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	if (fds[1].revents & POLLIN)
		handle_signal(p);
	if (fds[0].revents & POLLIN) {
		int ret = dmab_client_dispatch(p->client);
		if (ret < 0)
			return ret;
	}
	return want_stdin && (fds[2].revents & (POLLIN | POLLHUP | POLLERR)) ? 1 : 0;
}

/* Read one raw frame. Returns 1, 0 at the end of the input, or -errno. */
static int read_raw_frame(struct play *p)
{
	uint8_t *dst = (uint8_t *)p->image;
	size_t size = (size_t)p->image_width * p->image_height * 4, got = 0;

	while (got < size && !p->quit) {
		int ret = wait_events(p, -1, true);
		if (ret < 0)
			return ret;
		if (ret == 0)
			continue;
		ssize_t n = read(STDIN_FILENO, dst + got, size - got);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		if (n == 0) {
			if (got)
				fprintf(stderr, "dmabridge-play: the input ended inside a frame "
					"(%zu of %zu octets)\n", got, size);
			return 0;
		}
		got += (size_t)n;
	}
	return got == size ? 1 : 0;
}

/* Draw frame number frame into buffer. Returns 1, 0 when the input ended, or -errno. */
static int draw(struct play *p, struct dmab_client_buffer *buffer, uint64_t frame)
{
	uint32_t stride = p->width * 4;

	switch (p->source) {
	case SOURCE_PATTERN:
		if (p->fourcc == DRM_FORMAT_XRGB8888 || p->fourcc == DRM_FORMAT_ARGB8888) {
			/* The pattern is opaque XRGB8888 already: straight into the buffer. */
			dmab_pattern_fill(dmab_client_buffer_data(buffer),
				dmab_client_buffer_stride(buffer), p->width, p->height,
				(uint32_t)frame);
			return 1;
		}
		dmab_pattern_fill(p->scratch, stride, p->width, p->height, (uint32_t)frame);
		break;
	case SOURCE_PNG:
		if (frame >= p->buffer_count)
			return 1; /* every buffer holds it already */
		dmab_render_center(p->image, p->image_width * 4, p->image_width,
			p->image_height, p->scratch, stride, p->width, p->height);
		break;
	case SOURCE_RAW: {
		int ret = read_raw_frame(p);
		if (ret <= 0)
			return ret;
		dmab_render_center(p->image, p->image_width * 4, p->image_width,
			p->image_height, p->scratch, stride, p->width, p->height);
		break;
	}
	}
	int ret = dmab_render_convert(p->scratch, stride, p->width, p->height,
		dmab_client_buffer_data(buffer), dmab_client_buffer_stride(buffer), p->fourcc);
	return ret < 0 ? ret : 1;
}

static void count_frame(struct play *p)
{
	uint64_t now = now_ms();
	p->end_ms = now;
	p->frames++;
	p->second_frames++;
	if (now - p->second_ms >= 1000) {
		printf("%.1f fps\n", (double)p->second_frames * 1000.0 / (double)(now - p->second_ms));
		fflush(stdout);
		p->second_ms = now;
		p->second_frames = 0;
	}
}

/* Ask for a flip to buffer. Returns 0 or -errno. */
static int flip_submit(struct play *p, struct dmab_client_buffer *buffer)
{
	p->flipping = buffer;
	p->flip_done = false;
	p->flip_deadline = now_ms() + p->timeout_ms + FRAME_SLACK_MS;
	int ret = dmab_client_flip(p->client, p->connector, buffer);
	if (ret) {
		fprintf(stderr, "dmabridge-play: page flip: %s\n", strerror(-ret));
		return ret;
	}
	p->flips++;
	return 0;
}

/* Wait for the event of the flip asked for. Returns 0 or -errno (the device is gone). */
static int flip_wait(struct play *p)
{
	int ret;
	uint64_t deadline = p->flip_deadline;
	while (!p->flip_done && !p->quit) {
		uint64_t now = now_ms();
		if (now >= deadline) {
			/* As Linux: the frame is taken as done. */
			p->flip_timeouts++;
			fprintf(stderr, "dmabridge-play: no page-flip event in %u ms\n",
				p->timeout_ms + FRAME_SLACK_MS);
			break;
		}
		ret = wait_events(p, (int)(deadline - now), false);
		if (ret < 0) {
			fprintf(stderr, "dmabridge-play: %s\n", ret == -ENOTCONN ?
				"the backend went away" : strerror(-ret));
			return ret;
		}
	}
	return 0;
}

static int run(struct play *p, uint64_t max_frames, bool hold)
{
	int ret;
	for (unsigned int i = 0; i < p->buffer_count; i++) {
		ret = dmab_client_buffer_create(p->client, p->width, p->height, p->fourcc,
			&p->buffers[i]);
		if (ret) {
			fprintf(stderr, "dmabridge-play: cannot create a %ux%u buffer: %s\n",
				p->width, p->height, strerror(-ret));
			return ret;
		}
	}

	p->start_ms = p->second_ms = now_ms();
	/* Frame 0: the first display enable is a SET_CONFIG, without a flip. */
	ret = draw(p, p->buffers[0], 0);
	if (ret <= 0)
		return ret;
	ret = dmab_client_set_config(p->client, p->connector, p->buffers[0], 0, 0);
	if (ret) {
		fprintf(stderr, "dmabridge-play: SET_CONFIG: %s\n", strerror(-ret));
		return ret;
	}
	count_frame(p);

	/*
	 * buffers[cur] holds the next frame. The one shown is free once the
	 * flip away from it is reported; with three buffers the one after cur
	 * is already free while cur's flip waits, so the next frame is drawn
	 * then, not after its event.
	 */
	unsigned int cur = 1;
	bool more = max_frames == 0 || p->frames < max_frames;
	ret = more ? draw(p, p->buffers[cur], p->frames) : 0;
	while (ret > 0 && !p->quit) {
		ret = flip_submit(p, p->buffers[cur]);
		if (ret)
			return ret;
		unsigned int next = (cur + 1) % p->buffer_count;
		more = max_frames == 0 || p->frames + 1 < max_frames;
		int drawn = 0;
		if (p->buffer_count > 2 && more) {
			drawn = draw(p, p->buffers[next], p->frames + 1);
			if (drawn < 0)
				return drawn;
		}
		ret = flip_wait(p);
		if (ret)
			return ret;
		count_frame(p);
		cur = next;
		if (!more)
			break;
		ret = p->buffer_count > 2 ? drawn : draw(p, p->buffers[cur], p->frames);
		if (ret < 0)
			return ret;
	}

	while (hold && !p->quit) {
		ret = wait_events(p, -1, false);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* [ID:]WxH[,[ID:]WxH...]; the ids are cut out of arg in place. */
static int parse_connectors(char *arg, struct dmab_client_connector_spec *specs,
		unsigned int *count)
{
	char *s = arg;
	*count = 0;
	for (;;) {
		if (*count == MAX_CONNECTORS)
			return -E2BIG;
		const char *end;
		struct dmab_client_connector_spec *spec = &specs[*count];
		spec->unique_id = NULL;
		char *colon = strchr(s, ':');
		char *comma = strchr(s, ',');
		if (colon && (!comma || colon < comma)) {
			if (colon == s)
				return -EINVAL;
			*colon = '\0';
			spec->unique_id = s;
			s = colon + 1;
		}
		if (parse_size(s, &spec->width, &spec->height, &end))
			return -EINVAL;
		(*count)++;
		if (*end == '\0')
			return 0;
		if (*end != ',')
			return -EINVAL;
		s = (char *)end + 1;
	}
}

int main(int argc, char **argv)
{
	enum { OPT_SIM = 256, OPT_XEN, OPT_SOCKET, OPT_DEVID, OPT_CREATE, OPT_BE_ALLOC,
		OPT_CONNECTOR, OPT_FORMAT, OPT_FRAMES, OPT_HOLD, OPT_PNG, OPT_RAW, OPT_TIMEOUT,
		OPT_BUFFERS, OPT_NAME };
	static const struct option long_options[] = {
		{ "sim", no_argument, NULL, OPT_SIM },
		{ "xen", no_argument, NULL, OPT_XEN },
		{ "sim-socket", required_argument, NULL, OPT_SOCKET },
		{ "devid", required_argument, NULL, OPT_DEVID },
		{ "create", required_argument, NULL, OPT_CREATE },
		{ "be-alloc", no_argument, NULL, OPT_BE_ALLOC },
		{ "connector", required_argument, NULL, OPT_CONNECTOR },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "frames", required_argument, NULL, OPT_FRAMES },
		{ "hold", no_argument, NULL, OPT_HOLD },
		{ "png", required_argument, NULL, OPT_PNG },
		{ "raw", required_argument, NULL, OPT_RAW },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "buffers", required_argument, NULL, OPT_BUFFERS },
		{ "name", required_argument, NULL, OPT_NAME },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct dmab_client_options options = { .hv = DMAB_CLIENT_HV_AUTO };
	struct dmab_client_connector_spec specs[MAX_CONNECTORS];
	unsigned int nspecs = 0;
	struct play p = { .fourcc = DRM_FORMAT_XRGB8888, .sigfd = -1, .timeout_ms = TIMEOUT_MS,
		.buffer_count = 2 };
	const char *png = NULL;
	uint64_t max_frames = 0;
	bool hold = false;
	unsigned long v;
	int opt;

	while ((opt = getopt_long(argc, argv, "vh", long_options, NULL)) != -1) {
		const char *end;
		switch (opt) {
		case OPT_SIM:
			options.hv = DMAB_CLIENT_HV_SIM;
			break;
		case OPT_XEN:
			options.hv = DMAB_CLIENT_HV_XEN;
			break;
		case OPT_SOCKET:
			options.sim_socket = optarg;
			options.hv = DMAB_CLIENT_HV_SIM;
			break;
		case OPT_DEVID:
			if (parse_uint(optarg, UINT32_MAX, &v))
				goto bad;
			options.devid = (uint32_t)v;
			break;
		case OPT_CREATE:
			if (parse_connectors(optarg, specs, &nspecs))
				goto bad;
			break;
		case OPT_BE_ALLOC:
			options.be_alloc = true;
			break;
		case OPT_CONNECTOR:
			if (parse_uint(optarg, MAX_CONNECTORS - 1, &v))
				goto bad;
			p.connector = (unsigned int)v;
			break;
		case OPT_FORMAT: {
			const struct dmab_format *f = format_by_name(optarg);
			if (!f)
				goto bad;
			p.fourcc = f->fourcc;
			break;
		}
		case OPT_FRAMES:
			if (parse_uint(optarg, UINT32_MAX, &v) || v == 0)
				goto bad;
			max_frames = v;
			break;
		case OPT_HOLD:
			hold = true;
			break;
		case OPT_BUFFERS:
			if (parse_uint(optarg, 3, &v) || v < 2)
				goto bad;
			p.buffer_count = (unsigned int)v;
			break;
		case OPT_PNG:
			png = optarg;
			p.source = SOURCE_PNG;
			break;
		case OPT_RAW:
			if (parse_size(optarg, &p.image_width, &p.image_height, &end) || *end)
				goto bad;
			p.source = SOURCE_RAW;
			break;
		case OPT_NAME:
			if (!optarg[0] || strlen(optarg) > 31)
				goto bad;
			options.domain_name = optarg;
			break;
		case OPT_TIMEOUT:
			if (parse_uint(optarg, 600000, &v) || v == 0)
				goto bad;
			p.timeout_ms = (uint32_t)v;
			break;
		case 'v':
			setenv("DMABRIDGE_LOG", "debug", 1);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
		continue;
bad:
		fprintf(stderr, "dmabridge-play: bad value for --%s: %s\n",
			long_options[opt - OPT_SIM].name, optarg);
		return 2;
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}

	bool sim = options.hv == DMAB_CLIENT_HV_SIM ||
		(options.hv == DMAB_CLIENT_HV_AUTO && access("/dev/xen", F_OK) != 0);
	if (sim) {
		if (nspecs == 0) {
			specs[0] = (struct dmab_client_connector_spec){ DEFAULT_WIDTH, DEFAULT_HEIGHT, NULL };
			nspecs = 1;
		}
		options.create_device = true;
		options.connectors = specs;
		options.connector_count = nspecs;
	} else if (nspecs || options.be_alloc || options.domain_name) {
		fprintf(stderr, "dmabridge-play: --create, --be-alloc and --name are for the "
			"simulator; on Xen the domain's configuration has them\n");
	}
	options.timeout_ms = p.timeout_ms;

	int status = 1;
	if (p.source == SOURCE_PNG) {
		int ret = dmab_render_load_png(png, &p.image, &p.image_width, &p.image_height);
		if (ret) {
			fprintf(stderr, "dmabridge-play: cannot load %s: %s\n", png, strerror(-ret));
			return 1;
		}
	} else if (p.source == SOURCE_RAW) {
		p.image = malloc((size_t)p.image_width * p.image_height * 4);
		if (!p.image)
			return 1;
	}

	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	p.sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (p.sigfd < 0) {
		perror("dmabridge-play: signalfd");
		goto out;
	}

	int ret = dmab_client_connect(&options, &p.client);
	if (ret) {
		fprintf(stderr, "dmabridge-play: cannot connect vdispl %u: %s\n", options.devid,
			strerror(-ret));
		goto out;
	}
	dmab_client_set_flip_handler(p.client, handle_flip, &p);

	struct dmab_client_connector_info info;
	if (dmab_client_connector_info(p.client, p.connector, &info)) {
		fprintf(stderr, "dmabridge-play: vdispl %u has %u connector(s), no %u\n",
			options.devid, dmab_client_connector_count(p.client), p.connector);
		goto out;
	}
	p.width = info.width;
	p.height = info.height;
	if (p.fourcc == DRM_FORMAT_YUYV && p.width % 2) {
		fprintf(stderr, "dmabridge-play: YUYV needs an even width, not %u\n", p.width);
		goto out;
	}
	p.scratch = malloc((size_t)p.width * p.height * 4);
	if (!p.scratch)
		goto out;

	fprintf(stderr, "dmabridge-play: domain %u, vdispl %u, connector %u %ux%u%s%s%s, "
		"protocol %u%s\n", dmab_client_domid(p.client), options.devid, p.connector,
		p.width, p.height, info.unique_id[0] ? " \"" : "", info.unique_id,
		info.unique_id[0] ? "\"" : "", dmab_client_protocol_version(p.client),
		dmab_client_be_alloc(p.client) ? ", be-alloc" : "");

	ret = run(&p, max_frames, hold);
	/* From the first frame to the last one: --hold time is not frame time. */
	uint64_t ms = p.end_ms > p.start_ms ? p.end_ms - p.start_ms : 0;
	printf("dmabridge-play: %" PRIu64 " frames (%" PRIu64 " flips) in %.2f s, %.1f fps, "
		"%" PRIu64 " flip timeouts\n", p.frames, p.flips, (double)ms / 1000.0,
		ms && p.frames > 1 ? (double)(p.frames - 1) * 1000.0 / (double)ms : 0.0,
		p.flip_timeouts);
	if (ret == 0)
		status = 0;

out:
	/* Destroying the client takes the picture off and releases the buffers. */
	dmab_client_destroy(p.client);
	free(p.scratch);
	free(p.image);
	if (p.sigfd >= 0)
		close(p.sigfd);
	return status;
}
