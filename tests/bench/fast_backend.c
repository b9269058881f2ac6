// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * fast_backend: the "fast backend" of make bench-tls. A minimal
 * single-threaded epoll HTTP/1.1 server that answers every request with the
 * same small 200, keeps connections alive (HTTP/1.1 default; closes after
 * the answer on "Connection: close" or an HTTP/1.0 request without
 * "Connection: keep-alive") and handles pipelining. A request body is
 * read and discarded by Content-Length, and the answer goes out once it
 * has all come, as an application that reads its input would (make
 * bench-body); chunked request bodies are refused (400, close): the
 * benchmarks send none.
 *
 * Usage: fast_backend ADDR:PORT [--quickack]     (IPv4, e.g. 127.0.0.1:20080)
 *
 * --quickack: TCP_QUICKACK after every read, so a body is acknowledged at
 * once. Without it, a proxy that writes a body in pieces on a socket without
 * TCP_NODELAY (nginx's upstream connections) has its last piece held by
 * Nagle until the delayed ACK, ~40 ms, as the answer waits for the body.
 *
 * SIGUSR1 prints "fast_backend: conns=N reqs=N open=N" to stdout (flushed),
 * so the driver can see whether a proxy keeps its upstream connections
 * alive. SIGTERM/SIGINT exit 0. Not a test: no fault injection, no timeouts.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_http.h"

#define BUF_SIZE 16384
#define OUT_SIZE 65536
#define MAX_EVENTS 256

static const char resp_keep[] = "HTTP/1.1 200 OK\r\n"
				"Server: fast_backend\r\n"
				"Content-Type: text/plain\r\n"
				"Content-Length: 13\r\n"
				"\r\n"
				"Hello, world\n";
static const char resp_close[] = "HTTP/1.1 200 OK\r\n"
				 "Server: fast_backend\r\n"
				 "Content-Type: text/plain\r\n"
				 "Content-Length: 13\r\n"
				 "Connection: close\r\n"
				 "\r\n"
				 "Hello, world\n";
static const char resp_bad[] = "HTTP/1.1 400 Bad Request\r\n"
			       "Content-Length: 0\r\n"
			       "Connection: close\r\n"
			       "\r\n";

struct client {
	int fd;
	size_t in_len;
	size_t skip; /* request body bytes still to discard */
	int keep; /* the request being read keeps the connection */
	size_t out_len; /* unsent answer bytes (only on a short write) */
	int closing; /* close once out is flushed */
	int want_out; /* EPOLLOUT registered */
	char in[BUF_SIZE];
	char out[OUT_SIZE];
};

static unsigned long long n_conns, n_reqs, n_open;
static int quickack;

static void client_close(int ep, struct client *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c);
	n_open--;
}

/* Queue bytes; everything is written by flush(). */
static int queue(struct client *c, const char *s, size_t n)
{
	if (c->out_len + n > sizeof(c->out))
		return -1;
	memcpy(c->out + c->out_len, s, n);
	c->out_len += n;
	return 0;
}

/* 1 = all written, 0 = blocked, -1 = error. */
static int flush(struct client *c)
{
	size_t off = 0;

	while (off < c->out_len) {
		ssize_t w = send(c->fd, c->out + off, c->out_len - off,
				 MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return -1;
		}
		off += w;
	}
	memmove(c->out, c->out + off, c->out_len - off);
	c->out_len -= off;
	return c->out_len == 0;
}

/* The answer to the request whose body has just been read. */
static int answer(struct client *c)
{
	if (!c->keep) {
		c->closing = 1;
		return queue(c, resp_close, sizeof(resp_close) - 1);
	}
	return queue(c, resp_keep, sizeof(resp_keep) - 1);
}

/* Parse every complete request in c->in and queue its answer. */
static int parse(struct client *c)
{
	size_t pos = 0;

	while (!c->closing) {
		char *start = c->in + pos, *hend, *rl_end;
		const char *v;
		size_t avail = c->in_len - pos, cl = 0;
		int keep;

		if (c->skip) {
			size_t k = c->skip < avail ? c->skip : avail;

			c->skip -= k;
			pos += k;
			if (c->skip)
				break;
			if (answer(c))
				return -1;
			continue;
		}
		hend = memmem(start, avail, "\r\n\r\n", 4);
		if (!hend) {
			if (avail == sizeof(c->in)) { /* head too large */
				queue(c, resp_bad, sizeof(resp_bad) - 1);
				c->closing = 1;
			}
			break;
		}
		hend += 4;
		n_reqs++;
		/* HTTP/1.1 keeps alive unless told; HTTP/1.0 closes unless told. */
		rl_end = memchr(start, '\n', hend - start);
		keep = memmem(start, rl_end - start, "HTTP/1.1", 8) != NULL;
		v = find_header(start, hend, "Connection");
		if (v && value_has(v, "close"))
			keep = 0;
		else if (v && value_has(v, "keep-alive"))
			keep = 1;
		if (find_header(start, hend, "Transfer-Encoding")) {
			queue(c, resp_bad, sizeof(resp_bad) - 1);
			c->closing = 1;
			break;
		}
		v = find_header(start, hend, "Content-Length");
		if (v)
			cl = strtoull(v, NULL, 10);
		pos = hend - c->in;
		c->skip = cl;
		c->keep = keep;
		if (!cl && answer(c))
			return -1;
	}
	memmove(c->in, c->in + pos, c->in_len - pos);
	c->in_len -= pos;
	return 0;
}

static void on_client(int ep, struct client *c, unsigned events)
{
	int r;

	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		for (;;) {
			ssize_t n;

			if (c->in_len == sizeof(c->in))
				break;
			n = recv(c->fd, c->in + c->in_len,
				 sizeof(c->in) - c->in_len, 0);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN)
					break;
				client_close(ep, c);
				return;
			}
			if (n == 0) {
				client_close(ep, c);
				return;
			}
			c->in_len += n;
			if (quickack)
				setsockopt(c->fd, IPPROTO_TCP, TCP_QUICKACK,
					   &(int){ 1 }, sizeof(int));
			if (parse(c)) {
				client_close(ep, c);
				return;
			}
			if ((size_t)n < sizeof(c->in) || c->closing)
				break;
		}
	}
	r = flush(c);
	if (r < 0 || (r == 1 && c->closing)) {
		client_close(ep, c);
		return;
	}
	if ((r == 0) != c->want_out) {
		struct epoll_event ev = {
			.events = EPOLLIN | (r == 0 ? EPOLLOUT : 0),
			.data.ptr = c,
		};

		c->want_out = r == 0;
		epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct epoll_event evs[MAX_EVENTS], ev;
	char host[64], *colon;
	int lfd, ep, sfd, one = 1;
	sigset_t mask;

	quickack = argc == 3 && !strcmp(argv[2], "--quickack");
	if (argc != 2 + quickack || strlen(argv[1]) >= sizeof(host) ||
	    !(colon = strrchr(argv[1], ':'))) {
		fprintf(stderr, "usage: fast_backend ADDR:PORT [--quickack]\n");
		return 2;
	}
	memcpy(host, argv[1], colon - argv[1]);
	host[colon - argv[1]] = '\0';
	sa.sin_port = htons(atoi(colon + 1));
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1 || !sa.sin_port) {
		fprintf(stderr, "fast_backend: bad address '%s'\n", argv[1]);
		return 2;
	}

	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0 || sfd < 0) {
		perror("fast_backend: socket");
		return 1;
	}
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(lfd, 4096)) {
		fprintf(stderr, "fast_backend: %s: %s\n", argv[1],
			strerror(errno));
		return 1;
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	ev = (struct epoll_event){ .events = EPOLLIN, .data.ptr = NULL };
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	ev = (struct epoll_event){ .events = EPOLLIN, .data.ptr = &sfd };
	epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
	printf("fast_backend: listening on %s\n", argv[1]);
	fflush(stdout);

	for (;;) {
		int n = epoll_wait(ep, evs, MAX_EVENTS, -1), i;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("fast_backend: epoll_wait");
			return 1;
		}
		for (i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;

			if (p == &sfd) {
				struct signalfd_siginfo si;

				while (read(sfd, &si, sizeof(si)) ==
				       sizeof(si)) {
					if (si.ssi_signo != SIGUSR1)
						return 0;
					printf("fast_backend: conns=%llu reqs=%llu open=%llu\n",
					       n_conns, n_reqs, n_open);
					fflush(stdout);
				}
			} else if (!p) {
				for (;;) {
					int fd = accept4(lfd, NULL, NULL,
							 SOCK_NONBLOCK |
								 SOCK_CLOEXEC);
					struct client *c;

					if (fd < 0)
						break;
					c = calloc(1, sizeof(*c));
					if (!c) {
						close(fd);
						continue;
					}
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY,
						   &one, sizeof(one));
					c->fd = fd;
					ev = (struct epoll_event){
						.events = EPOLLIN, .data.ptr = c
					};
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
					n_conns++;
					n_open++;
				}
			} else {
				on_client(ep, p, evs[i].events);
			}
		}
	}
}
