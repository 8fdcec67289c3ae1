// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "hv/sim/wire.h"

int dmab_sim_send(int sock, uint32_t type, uint32_t seq, int32_t status,
		const void *payload, size_t len, const int *fds, unsigned int nfds,
		bool nonblock)
{
	struct dmab_sim_hdr hdr = {
		.type = type, .seq = seq, .status = status, .len = (uint32_t)len,
	};
	struct iovec iov[2] = {
		{ .iov_base = &hdr, .iov_len = sizeof(hdr) },
		{ .iov_base = (void *)payload, .iov_len = len },
	};
	union {
		char buf[CMSG_SPACE(sizeof(int) * DMAB_SIM_MAX_FDS)];
		struct cmsghdr align;
	} ctrl;
	struct msghdr mh = {
		.msg_iov = iov,
		.msg_iovlen = len ? 2 : 1,
	};

	if (nfds > DMAB_SIM_MAX_FDS)
		return -EINVAL;
	if (nfds) {
		memset(&ctrl, 0, sizeof(ctrl));
		mh.msg_control = ctrl.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}

	ssize_t n;
	do {
		n = sendmsg(sock, &mh, MSG_NOSIGNAL | (nonblock ? MSG_DONTWAIT : 0));
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if ((size_t)n != sizeof(hdr) + len)
		return -EIO; /* SEQPACKET sends all or nothing */
	return 0;
}

static void close_fds(const int *fds, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
	}
}

int dmab_sim_recv(int sock, uint32_t max_len, struct dmab_sim_msg *msg)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * DMAB_SIM_MAX_FDS)];
		struct cmsghdr align;
	} ctrl;
	size_t cap = sizeof(struct dmab_sim_hdr) + max_len;
	uint8_t *buf = malloc(cap);
	if (!buf)
		return -ENOMEM;

	struct iovec iov = { .iov_base = buf, .iov_len = cap };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctrl.buf,
		.msg_controllen = sizeof(ctrl.buf),
	};
	ssize_t n;
	do {
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		int err = errno == EWOULDBLOCK ? -EAGAIN : -errno;
		free(buf);
		return err;
	}

	memset(msg, 0, sizeof(*msg));
	for (unsigned int i = 0; i < DMAB_SIM_MAX_FDS; i++)
		msg->fds[i] = -1;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		size_t count = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		const int *in = (const int *)(void *)CMSG_DATA(cm);
		for (size_t i = 0; i < count; i++) {
			if (msg->nfds < DMAB_SIM_MAX_FDS)
				msg->fds[msg->nfds++] = in[i];
			else
				close(in[i]);
		}
	}

	int ret = 1;
	if (n == 0 && msg->nfds == 0) {
		ret = 0;
	} else if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		ret = -EMSGSIZE;
	} else if ((size_t)n < sizeof(struct dmab_sim_hdr)) {
		ret = -EPROTO;
	} else {
		memcpy(&msg->hdr, buf, sizeof(msg->hdr));
		if (msg->hdr.len != (size_t)n - sizeof(msg->hdr))
			ret = -EPROTO;
	}
	if (ret != 1) {
		close_fds(msg->fds, msg->nfds);
		msg->nfds = 0;
		free(buf);
		return ret;
	}

	/* The payload stays where it is; the header in front is dead weight. */
	memmove(buf, buf + sizeof(msg->hdr), msg->hdr.len);
	msg->payload = buf;
	return 1;
}

void dmab_sim_msg_finish(struct dmab_sim_msg *msg)
{
	close_fds(msg->fds, msg->nfds);
	msg->nfds = 0;
	free(msg->payload);
	msg->payload = NULL;
}

const char *dmab_sim_string(const uint8_t *area, size_t len, unsigned int n)
{
	size_t pos = 0;
	if (len == 0)
		return NULL;
	for (unsigned int i = 0; ; i++) {
		const uint8_t *nul = memchr(area + pos, '\0', len - pos);
		if (!nul)
			return NULL;
		if (i == n)
			return (const char *)area + pos;
		pos = (size_t)(nul - area) + 1;
		if (pos >= len)
			return NULL;
	}
}
