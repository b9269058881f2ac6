// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Upstream connections: connect, keep-alive pool, close.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "conn.h"
#include "pool.h"
#include "worker.h"

static void pool_io(struct loop_io *io, uint32_t events)
{
	struct pool_conn *pc = (struct pool_conn *)io;

	if (pc->owner) {
		conn__upstream_event(pc->owner, events);
		return;
	}
	/* Idle and readable: the server closed it or broke protocol. */
	pool__close(pc);
}

static void unlink_idle(struct pool_conn *pc)
{
	struct upstream_server *s = &pc->w->up.servers[pc->server];
	struct pool_conn **pp;

	for (pp = &s->idle; *pp; pp = &(*pp)->next)
		if (*pp == pc) {
			*pp = pc->next;
			s->nidle--;
			pc->idle = false;
			return;
		}
}

struct pool_conn *pool__get(struct worker *w, int server)
{
	struct upstream_server *s = &w->up.servers[server];
	struct pool_conn *pc = s->idle;

	if (!pc)
		return NULL;
	s->idle = pc->next;
	s->nidle--;
	pc->next = NULL;
	pc->idle = false;
	pc->reused = true;
	return pc;
}

int pool__connect(struct worker *w, int server, struct pool_conn **out)
{
	struct upstream_server *s = &w->up.servers[server];
	struct pool_conn *pc;
	int fd, one = 1, err;

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
	pc->w = w;
	pc->server = server;
	*out = pc;
	if (connect(fd, (struct sockaddr *)&s->ss, s->len) == 0)
		return 0;
	if (errno == EINPROGRESS) {
		pc->connecting = true;
		return 0;
	}
	err = -errno;
	*out = NULL;
	loop__io_close(&w->loop, &pc->io);
	free(pc);
	return err;
}

void pool__close(struct pool_conn *pc)
{
	if (pc->idle)
		unlink_idle(pc);
	loop__io_close(&pc->w->loop, &pc->io);
	loop__defer_free(&pc->w->loop, pc);
}

void pool__put(struct pool_conn *pc)
{
	struct worker *w = pc->w;
	struct upstream_server *s = &w->up.servers[pc->server];

	pc->owner = NULL;
	if (w->draining || s->removed || s->nidle >= w->up.keepalive ||
	    loop__io_set(&w->loop, &pc->io, EPOLLIN)) {
		pool__close(pc);
		return;
	}
	pc->next = s->idle;
	pc->idle = true;
	pc->idle_since = w->loop.now;
	s->idle = pc;
	s->nidle++;
}

void pool__expire(struct worker *w, uint64_t max_idle)
{
	struct pool_conn *pc, *next;
	unsigned i;

	for (i = 0; i < w->up.n; i++)
		for (pc = w->up.servers[i].idle; pc; pc = next) {
			next = pc->next;
			if (w->loop.now - pc->idle_since >= max_idle)
				pool__close(pc);
		}
}

void pool__flush(struct worker *w)
{
	unsigned i;

	for (i = 0; i < w->up.n; i++)
		while (w->up.servers[i].idle)
			pool__close(w->up.servers[i].idle);
}
