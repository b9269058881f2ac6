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
#include "pool.h"
#include "upstream.h"

struct probe {
	struct loop_io io; /* first: the epoll callback casts back */
	struct loop_timer timer;
	struct health *h;
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
	struct loop *loop;
	struct upstream *up;
	const struct cfg_health *cfg;
	health_cb cb;
	void *data;
};

static void probe_arm_next(struct probe *p)
{
	loop__timer_set(p->h->loop, &p->timer, p->next_start);
}

static void probe_done(struct probe *p, bool ok, const char *why)
{
	struct health *h = p->h;
	const char *name = h->up->servers[p->server].name;
	int change;

	loop__io_close(h->loop, &p->io);
	p->running = false;
	change = upstream__health_result(h->up, p->server, ok, h->cfg->rise,
					 h->cfg->fall);
	if (change > 0)
		log_warn("upstream %s is up (health check %s)", name,
			 h->cfg->path);
	else if (change < 0)
		log_warn("upstream %s is down: health check %s: %s", name,
			 h->cfg->path, why);
	if (change)
		h->cb(h->data, p->server, change > 0 ? HEALTH_UP : HEALTH_DOWN);
	probe_arm_next(p);
}

/* No probe this round: not the server's fault, so no result either. */
static void probe_skip(struct probe *p, int err)
{
	struct health *h = p->h;

	loop__io_close(h->loop, &p->io);
	p->running = false;
	log_err("health check of %s not run: %s",
		h->up->servers[p->server].name, strerror(err));
	h->cb(h->data, p->server, HEALTH_LOCAL_ERROR);
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
			loop__io_set(p->h->loop, io, EPOLLOUT);
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
		loop__io_set(p->h->loop, io, EPOLLIN);
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
		loop__io_set(p->h->loop, io, EPOLLIN);
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
	struct loop *l = p->h->loop;
	struct upstream_server *s = &p->h->up->servers[p->server];
	const struct cfg_health *h = p->h->cfg;
	int fd;

	p->next_start = l->now + h->interval_ms;
	if (p->server >= (int)p->h->up->n || s->removed) {
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
		if (pool__local_error(errno))
			probe_skip(p, errno);
		else
			probe_done(p, false, strerror(errno));
		return;
	}
	loop__io_init(&p->io, fd, probe_io);
	p->running = true;
	p->sent = 0;
	p->res_len = 0;
	p->connecting = false;
	if (connect(fd, (struct sockaddr *)&s->ss, s->len)) {
		if (pool__local_error(errno)) {
			probe_skip(p, errno);
			return;
		}
		if (errno != EINPROGRESS) {
			probe_done(p, false, strerror(errno));
			return;
		}
		p->connecting = true;
	}
	if (loop__io_set(l, &p->io, EPOLLOUT)) {
		probe_skip(p, errno);
		return;
	}
	loop__timer_set(l, &p->timer, l->now + h->timeout_ms);
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

void health__sync(struct health *h)
{
	unsigned i;

	if (!h)
		return;
	for (i = h->n; i < h->up->n; i++) {
		struct probe *p = &h->probes[i];

		p->h = h;
		p->server = i;
		p->io.fd = -1;
		loop__timer_init(&p->timer, probe_timer);
		/* Spread the first probes; start soon after the server joins. */
		loop__timer_set(h->loop, &p->timer,
				h->loop->now + 10 + (i - h->n) * 7);
	}
	h->n = h->up->n;
}

int health__start(struct loop *l, struct upstream *up,
		  const struct cfg_health *cfg, health_cb cb, void *data,
		  struct health **out)
{
	struct health *h;

	*out = NULL;
	if (!cfg->enabled)
		return 0;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->loop = l;
	h->up = up;
	h->cfg = cfg;
	h->cb = cb;
	h->data = data;
	health__sync(h);
	*out = h;
	return 0;
}

/*
 * The probes' events may still be queued in the batch being dispatched
 * (a reload stops the checks from a signal event): closed, their io reads
 * fd -1, and the memory is freed only after the batch.
 */
void health__stop(struct health *h)
{
	unsigned i;

	if (!h)
		return;
	for (i = 0; i < h->n; i++) {
		loop__timer_del(h->loop, &h->probes[i].timer);
		loop__io_close(h->loop, &h->probes[i].io);
	}
	loop__defer_free(h->loop, h);
}
