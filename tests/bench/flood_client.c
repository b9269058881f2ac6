// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * flood_client: the legitimate clients of make bench-flood
 * (tests/bench/bench_flood.sh). CONC connections at a time, each a full TLS
 * handshake (no session cache, no tickets, so never a resumption), one
 * "GET /" with "Connection: close", the whole 200 answer read, then closed;
 * a finished connection is replaced at once (closed loop, as wrk -c). Unlike
 * wrk it times the TCP connect (connect() to the socket writable: SYN,
 * SYN-ACK, ACK), which is what a SYN flood delays, and the whole exchange.
 * New connections take their source address in turn from NSRC addresses,
 * BASE, BASE + 0.0.1.0, ...: one per /24, as many clients would, so that
 * per-source-prefix limits see many sources (IP_BIND_ADDRESS_NO_PORT: the
 * port is chosen at connect(), by the 4-tuple).
 *
 * Usage: flood_client ADDR:PORT SNI CONC SECONDS [WARMUP [TIMEOUT_MS
 *                     [BASE NSRC]]]                        (IPv4)
 *
 * The first WARMUP seconds (default 1) are not measured. Handshakes are the
 * connections answered 200 within the SECONDS after it; the latencies are
 * those of the connections opened within them: after the window no new
 * connection is opened and the open ones are given TIMEOUT_MS (default
 * 5000, as is every connection) to finish. A connection that times out
 * counts as failed and with TIMEOUT_MS as its time, so a percentile equal
 * to TIMEOUT_MS means "at least". Prints one line:
 *   flood_client: handshakes=N seconds=S rate=R opened=N failed=N
 *   timeouts=N connect_p50=MS connect_p99=MS connect_max=MS total_p50=MS
 *   total_p99=MS
 * Exit 1 only when it cannot set up (socket, TLS context, arguments).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define RESP_MAX 16384
#define MAX_CONC 4096

enum state { S_FREE, S_CONNECT, S_HANDSHAKE, S_WRITE, S_READ };

struct conn {
	int fd;
	enum state st;
	SSL *ssl;
	double t_open, t_conn; /* t_conn: 0 until established */
	int measured; /* opened inside the window */
	size_t len;
	char buf[RESP_MAX + 1];
};

struct samples {
	double *v;
	size_t n, cap;
};

static struct sockaddr_in dst;
static SSL_CTX *ctx;
static const char *sni;
static char req[256];
static int req_len, ep;
static uint32_t src_base; /* host order; 0: no bind */
static long nsrc = 1, next_src;
static double win_start, win_end, timeout_s = 5.0;
static long handshakes, opened, failed, timeouts;
static struct samples s_conn, s_total;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *why)
{
	fprintf(stderr, "flood_client: %s: %s\n", what, why);
	exit(1);
}

static void add(struct samples *s, double v)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 4096;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		if (!s->v)
			die("realloc", "out of memory");
	}
	s->v[s->n++] = v;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double pct(struct samples *s, double p)
{
	size_t i;

	if (!s->n)
		return 0;
	i = (size_t)(p * s->n + 0.999999);
	return s->v[(i ? i : 1) - 1] * 1000;
}

static void watch(struct conn *c, unsigned events, int op)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };

	if (epoll_ctl(ep, op, c->fd, &ev))
		die("epoll_ctl", strerror(errno));
}

static void conn_close(struct conn *c)
{
	if (c->ssl)
		SSL_free(c->ssl);
	c->ssl = NULL;
	close(c->fd); /* also leaves the epoll set */
	c->st = S_FREE;
}

/* A connection ends: TIMED_OUT, failed (ok == 0) or answered. */
static void conn_end(struct conn *c, int ok, int timed_out)
{
	double t = now();

	if (ok && t >= win_start && t < win_end)
		handshakes++;
	if (c->measured) {
		if (timed_out) {
			timeouts++;
			failed++;
			add(&s_conn,
			    c->t_conn ? c->t_conn - c->t_open : timeout_s);
			add(&s_total, timeout_s);
		} else if (!ok) {
			failed++;
		} else {
			add(&s_conn, c->t_conn - c->t_open);
			add(&s_total, t - c->t_open);
		}
	}
	conn_close(c);
}

static void conn_open(struct conn *c)
{
	int one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		die("socket", strerror(errno));
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (src_base) {
		struct sockaddr_in src = { .sin_family = AF_INET };

		src.sin_addr.s_addr = htonl(src_base + 256 * next_src);
		next_src = (next_src + 1) % nsrc;
		setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
			   sizeof(one));
		if (bind(c->fd, (struct sockaddr *)&src, sizeof(src)))
			die("bind", strerror(errno));
	}
	c->t_open = now();
	c->t_conn = 0;
	c->len = 0;
	c->measured = c->t_open >= win_start && c->t_open < win_end;
	if (c->measured)
		opened++;
	c->st = S_CONNECT;
	if (connect(c->fd, (struct sockaddr *)&dst, sizeof(dst)) &&
	    errno != EINPROGRESS) {
		c->st = S_FREE;
		close(c->fd);
		if (c->measured)
			failed++;
		return;
	}
	watch(c, EPOLLOUT, EPOLL_CTL_ADD);
}

/* The answer is complete: 1 (a 200), -1 (not a 200), 0 (not yet). */
static int answer_done(struct conn *c)
{
	char *hend, *cl;
	size_t head;

	c->buf[c->len] = '\0';
	hend = strstr(c->buf, "\r\n\r\n");
	if (!hend)
		return 0;
	if (strncmp(c->buf, "HTTP/1.1 200 ", 13))
		return -1;
	head = hend + 4 - c->buf;
	cl = strcasestr(c->buf, "\r\ncontent-length:");
	if (!cl || cl > hend)
		return -1;
	return c->len >= head + strtoul(cl + 17, NULL, 10);
}

/* Advance one connection as far as it goes. */
static void step(struct conn *c)
{
	socklen_t l = sizeof(int);
	int r, err = 0;

	switch (c->st) {
	case S_FREE:
		return;
	case S_CONNECT:
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
		if (err)
			return conn_end(c, 0, 0);
		c->t_conn = now();
		c->ssl = SSL_new(ctx);
		if (!c->ssl || !SSL_set_fd(c->ssl, c->fd))
			die("SSL_new", "out of memory");
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
				conn_end(c, 0, 0);
			return;
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
				conn_end(c, 0, 0);
			return;
		}
		c->st = S_READ;
		watch(c, EPOLLIN, EPOLL_CTL_MOD);
		/* fall through */
	case S_READ:
		for (;;) {
			if (c->len == RESP_MAX)
				return conn_end(c, 0, 0);
			r = SSL_read(c->ssl, c->buf + c->len,
				     RESP_MAX - c->len);
			if (r <= 0) {
				if (SSL_get_error(c->ssl, r) ==
				    SSL_ERROR_WANT_READ)
					return;
				return conn_end(c, 0, 0);
			}
			c->len += r;
			r = answer_done(c);
			if (r)
				return conn_end(c, r > 0, 0);
		}
	}
}

int main(int argc, char **argv)
{
	struct epoll_event evs[256];
	double warmup = 1, seconds, last_scan = 0, t;
	struct conn *conns;
	char host[64], *colon;
	long conc, i, busy;
	struct in_addr a;

	if (argc < 5 || argc == 8 || argc > 9 ||
	    strlen(argv[1]) >= sizeof(host) ||
	    !(colon = strrchr(argv[1], ':'))) {
		fprintf(stderr,
			"usage: flood_client ADDR:PORT SNI CONC SECONDS "
			"[WARMUP [TIMEOUT_MS [BASE NSRC]]]\n");
		return 2;
	}
	memcpy(host, argv[1], colon - argv[1]);
	host[colon - argv[1]] = '\0';
	dst.sin_family = AF_INET;
	dst.sin_port = htons(atoi(colon + 1));
	if (inet_pton(AF_INET, host, &dst.sin_addr) != 1 || !dst.sin_port)
		die("bad address", argv[1]);
	sni = argv[2];
	conc = atol(argv[3]);
	seconds = atof(argv[4]);
	if (argc > 5)
		warmup = atof(argv[5]);
	if (argc > 6)
		timeout_s = atol(argv[6]) / 1000.0;
	if (argc > 7) {
		if (inet_pton(AF_INET, argv[7], &a) != 1)
			die("bad source address", argv[7]);
		src_base = ntohl(a.s_addr);
		nsrc = atol(argv[8]);
	}
	if (conc < 1 || conc > MAX_CONC || !(seconds > 0) || warmup < 0 ||
	    !(timeout_s > 0) || nsrc < 1 || nsrc > 256)
		die("bad arguments", "CONC 1..4096, SECONDS > 0, NSRC 1..256");
	req_len = snprintf(
		req, sizeof(req),
		"GET / HTTP/1.1\r\nHost: %s\r\n"
		"User-Agent: flood_client\r\nConnection: close\r\n\r\n",
		sni);

	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		die("SSL_CTX_new", "failed");
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	signal(SIGPIPE, SIG_IGN);
	ep = epoll_create1(EPOLL_CLOEXEC);
	conns = calloc(conc, sizeof(*conns));
	if (ep < 0 || !conns)
		die("setup", strerror(errno));

	t = now();
	win_start = t + warmup;
	win_end = win_start + seconds;
	for (;;) {
		int k, j;

		t = now();
		busy = 0;
		for (i = 0; i < conc; i++) {
			if (conns[i].st == S_FREE && t < win_end)
				conn_open(&conns[i]);
			/* at most every 10 ms: time out what is overdue */
			if (conns[i].st != S_FREE && t - last_scan >= 0.01 &&
			    t - conns[i].t_open >= timeout_s)
				conn_end(&conns[i], 0, 1);
			busy += conns[i].st != S_FREE;
		}
		if (t - last_scan >= 0.01)
			last_scan = t;
		if (t >= win_end && !busy)
			break;
		k = epoll_wait(ep, evs, 256, 10);
		if (k < 0 && errno != EINTR)
			die("epoll_wait", strerror(errno));
		for (j = 0; j < k; j++)
			step(evs[j].data.ptr);
	}
	qsort(s_conn.v, s_conn.n, sizeof(double), cmp);
	qsort(s_total.v, s_total.n, sizeof(double), cmp);
	printf("flood_client: handshakes=%ld seconds=%.2f rate=%.1f opened=%ld "
	       "failed=%ld timeouts=%ld connect_p50=%.3f connect_p99=%.3f "
	       "connect_max=%.3f total_p50=%.3f total_p99=%.3f\n",
	       handshakes, seconds, handshakes / seconds, opened, failed,
	       timeouts, pct(&s_conn, 0.5), pct(&s_conn, 0.99),
	       s_conn.n ? s_conn.v[s_conn.n - 1] * 1000 : 0.0,
	       pct(&s_total, 0.5), pct(&s_total, 0.99));
	return 0;
}
