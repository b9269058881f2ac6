// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>
#include "agent_link.h"
#include "lb_proto.h"

int agent_link__init(struct agent_link *l, const char *path, uint32_t worker,
		     uint32_t weight)
{
	memset(l, 0, sizeof(*l));
	l->fd = -1;
	if (strlen(path) >= sizeof(l->path) || worker >= LB_MAX_WORKERS ||
	    weight < 1 || weight > LB_MAX_WEIGHT)
		return -EINVAL;
	strcpy(l->path, path);
	l->worker = worker;
	l->weight = weight;
	return 0;
}

int agent_link__add_listener(struct agent_link *l, int fd, int which,
			     int family)
{
	if (l->nfds == LB_MAX_LISTENERS || which < 0 ||
	    which >= LB_LISTENER_KINDS ||
	    (family != AF_INET && family != AF_INET6))
		return -EINVAL;
	l->fds[l->nfds] = fd;
	l->listener[l->nfds] = which;
	l->family[l->nfds++] = family == AF_INET6 ? LB_FAMILY_V6 : LB_FAMILY_V4;
	return 0;
}

int agent_link__register(struct agent_link *l, char *why, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char cbuf[CMSG_SPACE(sizeof(int) * LB_MAX_LISTENERS)] = { 0 };
	struct lb_register r = { .magic = LB_PROTO_MAGIC,
				 .version = LB_PROTO_VERSION,
				 .nfds = l->nfds,
				 .worker = l->worker,
				 .weight = l->weight };
	struct iovec iov = { &r, sizeof(r) };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = cbuf,
			     .msg_controllen =
				     CMSG_SPACE(sizeof(int) * l->nfds) };
	struct timeval tv = { .tv_sec = 1 };
	struct lb_register_reply reply;
	struct cmsghdr *cm;
	int fd, err;

	agent_link__lost(l);
	memcpy(r.listener, l->listener, sizeof(r.listener));
	memcpy(r.family, l->family, sizeof(r.family));
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int) * l->nfds);
	memcpy(CMSG_DATA(cm), l->fds, sizeof(int) * l->nfds);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", l->path);

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    sendmsg(fd, &mh, MSG_NOSIGNAL) != sizeof(r)) {
		err = -errno;
		snprintf(why, len, "cannot reach the agent at %s: %s", l->path,
			 strerror(errno));
		goto fail;
	}
	if (recv(fd, &reply, sizeof(reply), 0) != sizeof(reply) ||
	    reply.magic != LB_PROTO_MAGIC) {
		err = -EPROTO;
		snprintf(why, len, "no answer from the agent at %s", l->path);
		goto fail;
	}
	if (reply.status) {
		err = reply.status;
		reply.message[sizeof(reply.message) - 1] = '\0';
		snprintf(why, len, "the agent refused worker %u: %s", l->worker,
			 reply.message);
		goto fail;
	}
	l->fd = fd;
	return 0;
fail:
	close(fd);
	return err;
}

void agent_link__lost(struct agent_link *l)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
}
