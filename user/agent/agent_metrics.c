// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * /metrics on the agent's loop: read the request without waiting, answer
 * with the text of the moment, send without waiting, close. Nothing here
 * blocks: every socket is non-blocking and every connection has a deadline
 * the loop enforces (metrics__timeout_ms, metrics__expire).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include "agent_metrics.h"

static __u64 clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

static int listen_tcp4(const char *addr)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	const char *colon = strrchr(addr, ':');
	char host[64], *end;
	long port;
	int fd, on = 1;

	if (!colon || colon - addr >= (long)sizeof(host))
		return -EINVAL;
	memcpy(host, addr, colon - addr);
	host[colon - addr] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (*end || port < 1 || port > 65535 ||
	    inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return -EINVAL;
	sa.sin_port = htons(port);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 64)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

void metrics__init(struct metrics_server *m)
{
	int i;

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	for (i = 0; i < METRICS_MAX_CONNS; i++)
		m->c[i].fd = -1;
}

int metrics__open(struct metrics_server *m, const char *addr, int epfd,
		  __u64 listen_tag, __u64 conn_tag, metrics_render_fn render,
		  void *ctx)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = listen_tag };

	metrics__init(m);
	m->epfd = epfd;
	m->conn_tag = conn_tag;
	m->render = render;
	m->ctx = ctx;
	m->fd = listen_tcp4(addr);
	if (m->fd < 0)
		return m->fd;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, m->fd, &ev)) {
		int err = -errno;

		close(m->fd);
		m->fd = -1;
		return err;
	}
	return 0;
}

static void conn_close(struct metrics_conn *c)
{
	close(c->fd); /* leaves the epoll set with it */
	free(c->out);
	c->fd = -1;
	c->out = NULL;
	c->rlen = c->olen = c->off = 0;
}

/* After the answer: discard what the client still sends, until it closes. */
static void conn_drain(struct metrics_conn *c)
{
	char sink[4096];
	ssize_t n;

	do
		n = recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT);
	while (n > 0);
	if (n == 0 || (errno != EAGAIN && errno != EINTR))
		conn_close(c);
}

void metrics__accept(struct metrics_server *m)
{
	int n, i, fd;

	/* a bounded batch: the loop has other work */
	for (n = 0; n < METRICS_MAX_CONNS; n++) {
		struct epoll_event ev = { .events = EPOLLIN };
		struct metrics_conn *c = NULL;

		fd = accept4(m->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		for (i = 0; i < METRICS_MAX_CONNS; i++) {
			if (m->c[i].fd < 0) {
				c = &m->c[i];
				break;
			}
			if (!c || m->c[i].seq < c->seq)
				c = &m->c[i];
		}
		if (c->fd >= 0) /* every slot taken: the oldest gives way */
			conn_close(c);
		ev.data.u64 = m->conn_tag | (__u32)(c - m->c);
		if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, fd, &ev)) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->seq = ++m->accepted;
		c->deadline_ms = clock_ms() + METRICS_DEADLINE_MS;
	}
}

static int respond(struct metrics_conn *c, const char *status,
		   const char *extra, const char *body, size_t blen, int head)
{
	FILE *f = open_memstream(&c->out, &c->olen);

	if (!f)
		return -ENOMEM;
	fprintf(f,
		"HTTP/1.1 %s\r\n%sContent-Type: text/plain; version=0.0.4\r\n"
		"Content-Length: %zu\r\nConnection: close\r\n\r\n",
		status, extra, blen);
	if (!head && blen)
		fwrite(body, 1, blen, f);
	return fclose(f) ? -ENOMEM : 0;
}

/* The request is complete: build the whole response. */
static int answer(struct metrics_server *m, struct metrics_conn *c)
{
	char method[8], target[256], version[16], *body = NULL;
	size_t blen = 0;
	int head, err;
	FILE *f;

	if (sscanf(c->req, "%7s %255s %15s", method, target, version) != 3 ||
	    strncmp(version, "HTTP/1.", 7))
		return respond(c, "400 Bad Request", "", NULL, 0, 0);
	head = !strcmp(method, "HEAD");
	if (!head && strcmp(method, "GET"))
		return respond(c, "405 Method Not Allowed",
			       "Allow: GET, HEAD\r\n", NULL, 0, 0);
	target[strcspn(target, "?")] = '\0';
	if (strcmp(target, "/metrics"))
		return respond(c, "404 Not Found", "", NULL, 0, 0);
	f = open_memstream(&body, &blen);
	if (!f)
		return -ENOMEM;
	m->render(m->ctx, f);
	if (fclose(f)) {
		free(body);
		return -ENOMEM;
	}
	err = respond(c, "200 OK", "", body, blen, head);
	free(body);
	return err;
}

static void conn_read(struct metrics_server *m, struct metrics_conn *c)
{
	ssize_t n;

	n = recv(c->fd, c->req + c->rlen, sizeof(c->req) - 1 - c->rlen, 0);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		conn_close(c);
		return;
	}
	if (n < 0)
		return;
	c->rlen += n;
	c->req[c->rlen] = '\0';
	if (strstr(c->req, "\r\n\r\n") || strstr(c->req, "\n\n")) {
		if (answer(m, c)) {
			conn_close(c);
			return;
		}
	} else if (c->rlen == sizeof(c->req) - 1) {
		if (respond(c, "431 Request Header Fields Too Large", "", NULL,
			    0, 0)) {
			conn_close(c);
			return;
		}
	}
}

/* Send what the socket takes; wait for EPOLLOUT for the rest. Once all is
 * sent, half-close and read until the client closes: closing with its
 * bytes unread would reset the connection and lose the answer. */
static void conn_write(struct metrics_server *m, struct metrics_conn *c,
		       __u32 slot)
{
	struct epoll_event ev = { .events = EPOLLOUT,
				  .data.u64 = m->conn_tag | slot };
	ssize_t n;

	while (c->off < c->olen) {
		n = send(c->fd, c->out + c->off, c->olen - c->off,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			epoll_ctl(m->epfd, EPOLL_CTL_MOD, c->fd, &ev);
			return;
		}
		if (n <= 0) {
			conn_close(c);
			return;
		}
		c->off += n;
	}
	ev.events = EPOLLIN;
	if (shutdown(c->fd, SHUT_WR) ||
	    epoll_ctl(m->epfd, EPOLL_CTL_MOD, c->fd, &ev))
		conn_close(c);
	else
		conn_drain(c);
}

void metrics__event(struct metrics_server *m, __u32 slot, __u32 events)
{
	struct metrics_conn *c;

	if (slot >= METRICS_MAX_CONNS || m->c[slot].fd < 0)
		return;
	c = &m->c[slot];
	if (c->out && c->off == c->olen) {
		conn_drain(c);
		return;
	}
	if (!c->out && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		conn_read(m, c);
	if (c->fd >= 0 && c->out)
		conn_write(m, c, slot);
}

int metrics__timeout_ms(const struct metrics_server *m)
{
	__u64 first = 0, t;
	int i;

	for (i = 0; i < METRICS_MAX_CONNS; i++)
		if (m->c[i].fd >= 0 && (!first || m->c[i].deadline_ms < first))
			first = m->c[i].deadline_ms;
	if (!first)
		return -1;
	t = clock_ms();
	return first > t ? (int)(first - t) : 0;
}

void metrics__expire(struct metrics_server *m)
{
	__u64 t = clock_ms();
	int i;

	for (i = 0; i < METRICS_MAX_CONNS; i++)
		if (m->c[i].fd >= 0 && t >= m->c[i].deadline_ms)
			conn_close(&m->c[i]);
}

void metrics__close(struct metrics_server *m)
{
	int i;

	for (i = 0; i < METRICS_MAX_CONNS; i++)
		if (m->c[i].fd >= 0)
			conn_close(&m->c[i]);
	if (m->fd >= 0)
		close(m->fd);
	m->fd = -1;
}
