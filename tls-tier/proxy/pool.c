// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Upstream connections: connect, keep-alive pool, liveness check, close.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "pool.h"
#include "upstream.h"

static void pool_io(struct loop_io *io, uint32_t events)
{
	struct pool_conn *pc = (struct pool_conn *)io;

	if (pc->cb) {
		pc->cb(pc, events, pc->data);
		return;
	}
	/* Idle and readable: the server closed it or broke protocol. */
	pool__release(pc, false);
}

void pool__init(struct pool *p, struct loop *loop, struct upstream *up,
		unsigned keepalive)
{
	p->loop = loop;
	p->up = up;
	p->keepalive = keepalive;
	p->closing = false;
}

bool pool__local_error(int err)
{
	err = err < 0 ? -err : err;
	/* EADDRNOTAVAIL: no local port left to connect from */
	return err == EMFILE || err == ENFILE || err == ENOBUFS ||
	       err == ENOMEM || err == EADDRNOTAVAIL;
}

static void unlink_idle(struct pool_conn *pc)
{
	struct upstream_server *s = &pc->pool->up->servers[pc->server];
	struct pool_conn **pp;

	for (pp = &s->idle; *pp; pp = &(*pp)->next)
		if (*pp == pc) {
			*pp = pc->next;
			s->nidle--;
			pc->idle = false;
			pc->next = NULL;
			return;
		}
}

static void pc_close(struct pool_conn *pc)
{
	if (pc->idle)
		unlink_idle(pc);
	loop__io_close(pc->pool->loop, &pc->io);
	loop__defer_free(pc->pool->loop, pc);
}

/*
 * An idle connection the server has not closed and that holds no unread
 * byte: the FIN of a server that timed it out may have arrived after the
 * last epoll pass, and a request sent on it would be lost to the race.
 */
static bool alive(struct pool_conn *pc)
{
	char b;
	ssize_t n = recv(pc->io.fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);

	return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

static struct pool_conn *take_idle(struct pool *p, int server)
{
	struct upstream_server *s = &p->up->servers[server];
	struct pool_conn *pc;

	while ((pc = s->idle)) {
		unlink_idle(pc);
		if (alive(pc))
			return pc;
		pc_close(pc);
	}
	return NULL;
}

int pool__acquire(struct pool *p, int server, pool_cb cb, void *data,
		  struct pool_conn **out)
{
	struct upstream_server *s = &p->up->servers[server];
	struct pool_conn *pc = take_idle(p, server);
	int fd, one = 1, err;

	*out = NULL;
	if (pc) {
		pc->reused = true;
		goto owned;
	}
	pc = calloc(1, sizeof(*pc));
	if (!pc)
		return -ENOMEM;
	fd = socket(s->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0) {
		err = -errno;
		free(pc);
		return err;
	}
	/* Request heads go out in one write; do not wait for Nagle. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	loop__io_init(&pc->io, fd, pool_io);
	pc->pool = p;
	pc->server = server;
	if (connect(fd, (struct sockaddr *)&s->ss, s->len)) {
		if (errno != EINPROGRESS) {
			err = -errno;
			loop__io_close(p->loop, &pc->io);
			free(pc);
			return err;
		}
		pc->connecting = true;
	}
owned:
	pc->cb = cb;
	pc->data = data;
	*out = pc;
	return 0;
}

void pool__release(struct pool_conn *pc, bool reuse)
{
	struct pool *p = pc->pool;
	struct upstream_server *s = &p->up->servers[pc->server];

	pc->cb = NULL;
	pc->data = NULL;
	if (!reuse || p->closing || s->removed || s->nidle >= p->keepalive ||
	    pc->idle || loop__io_set(p->loop, &pc->io, EPOLLIN)) {
		pc_close(pc);
		return;
	}
	pc->next = s->idle;
	pc->idle = true;
	pc->idle_since = p->loop->now;
	s->idle = pc;
	s->nidle++;
}

void pool__expire(struct pool *p, uint64_t max_idle)
{
	struct pool_conn *pc, *next;
	unsigned i;

	for (i = 0; i < p->up->n; i++)
		for (pc = p->up->servers[i].idle; pc; pc = next) {
			next = pc->next;
			if (p->loop->now - pc->idle_since >= max_idle)
				pc_close(pc);
		}
}

void pool__flush(struct pool *p, int server)
{
	unsigned i;

	for (i = 0; i < p->up->n; i++)
		if (server < 0 || (int)i == server)
			while (p->up->servers[i].idle)
				pc_close(p->up->servers[i].idle);
}
