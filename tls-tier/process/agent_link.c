// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "agent_link.h"
#include "lb_proto.h"
#include "log.h"

static void link_io(struct loop_io *io, uint32_t events);
static void link_timer(struct loop_timer *t);

int agent_link__init(struct agent_link *l, struct loop *loop, const char *path,
		     uint32_t worker, uint32_t weight)
{
	memset(l, 0, sizeof(*l));
	l->loop = loop;
	loop__io_init(&l->io, -1, link_io);
	loop__timer_init(&l->timer, link_timer);
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

void agent_link__close(struct agent_link *l)
{
	loop__io_close(l->loop, &l->io);
	loop__timer_del(l->loop, &l->timer);
	l->state = AGENT_LINK_IDLE;
}

/* Give this attempt up and try again in a while. */
static void link_failed(struct agent_link *l, const char *why)
{
	agent_link__close(l);
	if (!l->warned)
		log_warn("%s; retrying every %d ms", why, AGENT_LINK_RETRY_MS);
	l->warned = true;
	if (!l->stopped)
		loop__timer_set(l->loop, &l->timer,
				l->loop->now + AGENT_LINK_RETRY_MS);
}

/* Connect and send, neither of which waits: a unix socket connects at once
 * or fails (EAGAIN when the agent's backlog is full). */
static int link_send(struct agent_link *l)
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
	struct cmsghdr *cm;
	int fd;

	memcpy(r.listener, l->listener, sizeof(r.listener));
	memcpy(r.family, l->family, sizeof(r.family));
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int) * l->nfds);
	memcpy(CMSG_DATA(cm), l->fds, sizeof(int) * l->nfds);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", l->path);

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	loop__io_init(&l->io, fd, link_io);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) != sizeof(r))
		return -errno;
	return loop__io_set(l->loop, &l->io, EPOLLIN | EPOLLRDHUP);
}

void agent_link__start(struct agent_link *l)
{
	char why[200];
	int err;

	agent_link__close(l);
	if (l->stopped)
		return;
	err = link_send(l);
	if (err) {
		snprintf(why, sizeof(why), "cannot reach the agent at %s: %s",
			 l->path, strerror(-err));
		link_failed(l, why);
		return;
	}
	l->state = AGENT_LINK_WAITING;
	loop__timer_set(l->loop, &l->timer, l->loop->now + AGENT_LINK_REPLY_MS);
}

void agent_link__stop(struct agent_link *l)
{
	l->stopped = true;
	if (l->state == AGENT_LINK_IDLE)
		loop__timer_del(l->loop, &l->timer);
}

static void link_reply(struct agent_link *l)
{
	struct lb_register_reply reply;
	char why[200];
	ssize_t n;

	n = recv(l->io.fd, &reply, sizeof(reply), MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n != sizeof(reply) || reply.magic != LB_PROTO_MAGIC) {
		snprintf(why, sizeof(why), "no answer from the agent at %s",
			 l->path);
		link_failed(l, why);
		return;
	}
	if (reply.status) {
		reply.message[sizeof(reply.message) - 1] = '\0';
		snprintf(why, sizeof(why), "the agent refused worker %u: %s",
			 l->worker, reply.message);
		link_failed(l, why);
		return;
	}
	loop__timer_del(l->loop, &l->timer);
	l->state = AGENT_LINK_REGISTERED;
	l->warned = false;
	log_info("registered with the agent at %s (worker id %u)", l->path,
		 l->worker);
}

static void link_io(struct loop_io *io, uint32_t events)
{
	struct agent_link *l =
		(struct agent_link *)((char *)io -
				      offsetof(struct agent_link, io));
	char buf[64];

	if (l->state == AGENT_LINK_WAITING) {
		link_reply(l);
		return;
	}
	/* The agent never writes after its reply: readable means it left. */
	if (!(events & (EPOLLHUP | EPOLLERR | EPOLLRDHUP)) &&
	    recv(io->fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		return;
	agent_link__close(l);
	if (l->stopped)
		return;
	log_warn("the agent at %s went away; registering again", l->path);
	agent_link__start(l);
}

static void link_timer(struct loop_timer *t)
{
	struct agent_link *l =
		(struct agent_link *)((char *)t -
				      offsetof(struct agent_link, timer));
	char why[200];

	if (l->state != AGENT_LINK_WAITING) {
		agent_link__start(l);
		return;
	}
	snprintf(why, sizeof(why),
		 "no answer from the agent at %s within %d ms", l->path,
		 AGENT_LINK_REPLY_MS);
	link_failed(l, why);
}
