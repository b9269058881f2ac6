// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * One probe per server: connect, "GET path", read the status line; a 2xx or
 * 3xx within the timeout is a success. 'rise' successes in a row bring a
 * server up, 'fall' failures take it down (upstream__health_result).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "health.h"
#include "log.h"
#include "worker.h"

struct probe {
	struct loop_io io; /* first: the epoll callback casts back */
	struct loop_timer timer;
	struct worker *w;
	int server;
	bool running;
	bool connecting;
	char req[512];
	size_t req_len, sent;
	char res[64];
	size_t res_len;
	uint64_t next_start;
};

struct health {
	struct probe probes[CFG_MAX_SERVERS];
	unsigned n;
};

static void probe_arm_next(struct probe *p)
{
	struct loop *l = &p->w->loop;

	loop__timer_set(l, &p->timer, p->next_start);
}

static void probe_done(struct probe *p, bool ok, const char *why)
{
	struct worker *w = p->w;
	const struct cfg_health *h = &w->cfg->upstream.health;
	int change;

	loop__io_close(&w->loop, &p->io);
	p->running = false;
	change = upstream__health_result(&w->up, p->server, ok, h->rise,
					 h->fall);
	if (change > 0)
		log_warn("upstream %s is up (health check %s)",
			 w->up.servers[p->server].name, h->path);
	else if (change < 0)
		log_warn("upstream %s is down: health check %s: %s",
			 w->up.servers[p->server].name, h->path, why);
	if (change)
		worker__publish_health(w);
	probe_arm_next(p);
}

static void probe_io(struct loop_io *io, uint32_t events)
{
	struct probe *p = (struct probe *)io;
	int err = 0;
	socklen_t len = sizeof(err);
	ssize_t n;

	if (p->connecting) {
		getsockopt(io->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err || (events & EPOLLERR)) {
			probe_done(p, false,
				   strerror(err ? err : ECONNREFUSED));
			return;
		}
		p->connecting = false;
	}
	while (p->sent < p->req_len) {
		n = send(io->fd, p->req + p->sent, p->req_len - p->sent,
			 MSG_NOSIGNAL);
		if (n < 0 && errno == EAGAIN) {
			loop__io_set(&p->w->loop, io, EPOLLOUT);
			return;
		}
		if (n < 0) {
			probe_done(p, false, strerror(errno));
			return;
		}
		p->sent += n;
	}
	n = recv(io->fd, p->res + p->res_len, sizeof(p->res) - 1 - p->res_len,
		 0);
	if (n < 0 && errno == EAGAIN) {
		loop__io_set(&p->w->loop, io, EPOLLIN);
		return;
	}
	if (n <= 0) {
		probe_done(p, false,
			   n ? strerror(errno) : "closed without a response");
		return;
	}
	p->res_len += n;
	p->res[p->res_len] = 0;
	if (p->res_len < 12 && !memchr(p->res, '\n', p->res_len)) {
		loop__io_set(&p->w->loop, io, EPOLLIN);
		return;
	}
	/* "HTTP/1.x 2xx" or 3xx */
	if (!strncmp(p->res, "HTTP/1.", 7) && p->res_len >= 12 &&
	    (p->res[9] == '2' || p->res[9] == '3'))
		probe_done(p, true, "");
	else
		probe_done(p, false, "status is not 2xx/3xx");
}

static void probe_start(struct probe *p)
{
	struct worker *w = p->w;
	struct upstream_server *s = &w->up.servers[p->server];
	const struct cfg_health *h = &w->cfg->upstream.health;
	int fd;

	p->next_start = w->loop.now + h->interval_ms;
	if (p->server >= (int)w->up.n || s->removed) {
		probe_arm_next(p); /* gone: idle until its slot is used again */
		return;
	}
	/* The slot's name may change (upstream__set), so build it each time. */
	p->req_len = snprintf(
		p->req, sizeof(p->req),
		"GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: lbtls-health\r\nConnection: close\r\n\r\n",
		h->path, s->name);
	fd = socket(s->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0) {
		probe_done(p, false, strerror(errno));
		return;
	}
	loop__io_init(&p->io, fd, probe_io);
	p->running = true;
	p->sent = 0;
	p->res_len = 0;
	p->connecting = false;
	if (connect(fd, (struct sockaddr *)&s->ss, s->len)) {
		if (errno != EINPROGRESS) {
			probe_done(p, false, strerror(errno));
			return;
		}
		p->connecting = true;
	}
	if (loop__io_set(&w->loop, &p->io, EPOLLOUT)) {
		probe_done(p, false, "epoll");
		return;
	}
	loop__timer_set(&w->loop, &p->timer, w->loop.now + h->timeout_ms);
}

static void probe_timer(struct loop_timer *t)
{
	struct probe *p =
		(struct probe *)((char *)t - offsetof(struct probe, timer));

	if (p->running) {
		probe_done(p, false, "timed out");
		return;
	}
	probe_start(p);
}

void health__sync(struct worker *w)
{
	struct health *h = w->health;
	unsigned i;

	if (!h)
		return;
	for (i = h->n; i < w->up.n; i++) {
		struct probe *p = &h->probes[i];

		p->w = w;
		p->server = i;
		p->io.fd = -1;
		loop__timer_init(&p->timer, probe_timer);
		/* Spread the first probes; start soon after the server joins. */
		loop__timer_set(&w->loop, &p->timer,
				w->loop.now + 10 + (i - h->n) * 7);
	}
	h->n = w->up.n;
}

int health__start(struct worker *w)
{
	if (!w->cfg->upstream.health.enabled)
		return 0;
	w->health = calloc(1, sizeof(*w->health));
	if (!w->health)
		return -ENOMEM;
	health__sync(w);
	return 0;
}

void health__stop(struct worker *w)
{
	struct health *h = w->health;
	unsigned i;

	if (!h)
		return;
	for (i = 0; i < h->n; i++) {
		loop__timer_del(&w->loop, &h->probes[i].timer);
		loop__io_close(&w->loop, &h->probes[i].io);
	}
	free(h);
	w->health = NULL;
}
