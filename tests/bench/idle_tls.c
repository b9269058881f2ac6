// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * idle_tls: the client of the memory scenario of make bench
 * (tests/bench/bench_report.sh). Opens N TLS connections to ADDR:PORT, at
 * most CONC at a time in progress, completes a full handshake on each, sends
 * one "GET / HTTP/1.1" and reads the whole answer (it must be a 200), then
 * keeps every connection open and idle (a keep-alive connection between two
 * requests, as a browser holds it). A connection that has sent no request
 * would be closed by the servers' request-head timeouts; one that has had
 * its answer waits for the keep-alive timeout (75 s for all servers).
 *
 * Usage: idle_tls ADDR:PORT N [CONC [SNI [TIMEOUT_S]]]    (IPv4)
 *
 * Prints "idle_tls: ready N" once all N are idle. Then SIGUSR1 prints
 * "idle_tls: alive N" (connections the server has not closed) and SIGTERM
 * or SIGINT exits 0. Any failure before "ready" (connect, handshake, an
 * answer that is not 200, TIMEOUT_S passed) prints a reason and exits 1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum state { S_CONNECT, S_HANDSHAKE, S_WRITE, S_READ, S_IDLE, S_CLOSED };

struct conn {
	int fd;
	enum state st;
	SSL *ssl;
	size_t len; /* bytes of the answer read so far */
	char *buf; /* answer buffer, only while reading it */
};

#define RESP_MAX 16384

static struct sockaddr_in dst;
static SSL_CTX *ctx;
static const char *sni = "bench.test";
static char req[256];
static int req_len, ep;
static long n_idle, n_closed, n_open;

static void fail(const char *what, const char *why)
{
	unsigned long e = ERR_get_error();

	fprintf(stderr, "idle_tls: FAIL: %s: %s%s%s\n", what, why,
		e ? ": " : "", e ? ERR_reason_error_string(e) : "");
	exit(1);
}

static void watch(struct conn *c, unsigned events, int op)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };

	if (epoll_ctl(ep, op, c->fd, &ev))
		fail("epoll_ctl", strerror(errno));
}

static void conn_open(struct conn *c)
{
	int one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		fail("socket", strerror(errno));
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&dst, sizeof(dst)) &&
	    errno != EINPROGRESS)
		fail("connect", strerror(errno));
	c->st = S_CONNECT;
	n_open++;
	watch(c, EPOLLOUT, EPOLL_CTL_ADD);
}

/* The answer is complete: a head and Content-Length bytes of body. */
static int answer_done(struct conn *c)
{
	char *hend, *cl;
	size_t head;

	c->buf[c->len] = '\0';
	hend = strstr(c->buf, "\r\n\r\n");
	if (!hend)
		return 0;
	if (strncmp(c->buf, "HTTP/1.1 200 ", 13)) {
		*strchrnul(c->buf, '\r') = '\0';
		fail("answer is not 200", c->buf);
	}
	head = hend + 4 - c->buf;
	cl = strcasestr(c->buf, "\r\ncontent-length:");
	if (!cl || cl > hend)
		fail("answer", "no Content-Length");
	return c->len >= head + strtoul(cl + 17, NULL, 10);
}

/* Advance one connection as far as it goes; 1 when it became idle. */
static int step(struct conn *c)
{
	socklen_t l = sizeof(int);
	char b[512];
	int r, err = 0;

	switch (c->st) {
	case S_CONNECT:
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
		if (err)
			fail("connect", strerror(err));
		c->ssl = SSL_new(ctx);
		if (!c->ssl || !SSL_set_fd(c->ssl, c->fd))
			fail("SSL_new", "out of memory");
		SSL_set_tlsext_host_name(c->ssl, sni);
		SSL_set_connect_state(c->ssl);
		c->st = S_HANDSHAKE;
		/* fall through */
	case S_HANDSHAKE:
		r = SSL_do_handshake(c->ssl);
		if (r != 1) {
			err = SSL_get_error(c->ssl, r);
			if (err == SSL_ERROR_WANT_READ)
				watch(c, EPOLLIN, EPOLL_CTL_MOD);
			else if (err == SSL_ERROR_WANT_WRITE)
				watch(c, EPOLLOUT, EPOLL_CTL_MOD);
			else
				fail("handshake", "TLS error");
			return 0;
		}
		c->st = S_WRITE;
		/* fall through */
	case S_WRITE:
		r = SSL_write(c->ssl, req, req_len);
		if (r <= 0) {
			err = SSL_get_error(c->ssl, r);
			if (err == SSL_ERROR_WANT_WRITE)
				watch(c, EPOLLOUT, EPOLL_CTL_MOD);
			else if (err == SSL_ERROR_WANT_READ)
				watch(c, EPOLLIN, EPOLL_CTL_MOD);
			else
				fail("request", "write failed");
			return 0;
		}
		c->st = S_READ;
		c->buf = malloc(RESP_MAX + 1);
		if (!c->buf)
			fail("malloc", "out of memory");
		watch(c, EPOLLIN, EPOLL_CTL_MOD);
		/* fall through */
	case S_READ:
		for (;;) {
			if (c->len == RESP_MAX)
				fail("answer", "too large");
			r = SSL_read(c->ssl, c->buf + c->len,
				     RESP_MAX - c->len);
			if (r <= 0) {
				err = SSL_get_error(c->ssl, r);
				if (err == SSL_ERROR_WANT_READ)
					return 0;
				fail("answer",
				     "connection closed before the answer");
			}
			c->len += r;
			if (answer_done(c))
				break;
		}
		free(c->buf);
		c->buf = NULL;
		c->st = S_IDLE;
		return 1;
	case S_IDLE: /* the server closed it, or sent something unasked */
		r = SSL_read(c->ssl, b, sizeof(b));
		if (r <= 0 && SSL_get_error(c->ssl, r) == SSL_ERROR_WANT_READ)
			return 0;
		if (r > 0)
			return 0;
		epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
		c->st = S_CLOSED;
		n_closed++;
		return 0;
	case S_CLOSED:
		return 0;
	}
	return 0;
}

int main(int argc, char **argv)
{
	long n, conc = 200, next = 0, timeout_s = 120;
	struct epoll_event evs[256], ev;
	struct conn *conns;
	struct rlimit rl;
	char host[64], *colon;
	sigset_t mask;
	int sfd, ready = 0;
	time_t deadline;

	if (argc < 3 || argc > 6 || strlen(argv[1]) >= sizeof(host) ||
	    !(colon = strrchr(argv[1], ':'))) {
		fprintf(stderr,
			"usage: idle_tls ADDR:PORT N [CONC [SNI [TIMEOUT_S]]]\n");
		return 2;
	}
	memcpy(host, argv[1], colon - argv[1]);
	host[colon - argv[1]] = '\0';
	dst.sin_family = AF_INET;
	dst.sin_port = htons(atoi(colon + 1));
	if (inet_pton(AF_INET, host, &dst.sin_addr) != 1 || !dst.sin_port) {
		fprintf(stderr, "idle_tls: bad address '%s'\n", argv[1]);
		return 2;
	}
	n = atol(argv[2]);
	if (argc > 3)
		conc = atol(argv[3]);
	if (argc > 4)
		sni = argv[4];
	if (argc > 5)
		timeout_s = atol(argv[5]);
	if (n < 1 || conc < 1) {
		fprintf(stderr, "idle_tls: N and CONC must be positive\n");
		return 2;
	}
	req_len = snprintf(req, sizeof(req),
			   "GET / HTTP/1.1\r\nHost: %s\r\n"
			   "User-Agent: idle_tls\r\n\r\n",
			   sni);

	rl.rlim_cur = rl.rlim_max = n + 64;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		fail("setrlimit(RLIMIT_NOFILE)", strerror(errno));

	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		fail("SSL_CTX_new", "failed");
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);

	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	ep = epoll_create1(EPOLL_CLOEXEC);
	conns = calloc(n, sizeof(*conns));
	if (sfd < 0 || ep < 0 || !conns)
		fail("setup", strerror(errno));
	ev = (struct epoll_event){ .events = EPOLLIN, .data.ptr = NULL };
	epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);

	deadline = time(NULL) + timeout_s;
	for (;;) {
		int k, i;

		while (next < n && n_open - n_idle < conc)
			conn_open(&conns[next++]);
		if (!ready && n_idle == n) {
			if (n_closed)
				fail("server",
				     "closed connections while others "
				     "were being opened");
			printf("idle_tls: ready %ld\n", n_idle);
			fflush(stdout);
			ready = 1;
		}
		if (!ready && time(NULL) > deadline) {
			fprintf(stderr,
				"idle_tls: FAIL: only %ld of %ld connections "
				"idle after %ld s\n",
				n_idle, n, timeout_s);
			return 1;
		}
		k = epoll_wait(ep, evs, 256, 1000);
		if (k < 0 && errno != EINTR)
			fail("epoll_wait", strerror(errno));
		for (i = 0; i < k; i++) {
			struct signalfd_siginfo si;

			if (evs[i].data.ptr) {
				n_idle += step(evs[i].data.ptr);
				continue;
			}
			while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo != SIGUSR1)
					return 0;
				printf("idle_tls: alive %ld\n",
				       n_idle - n_closed);
				fflush(stdout);
			}
		}
	}
}
