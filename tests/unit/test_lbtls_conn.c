// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A worker's accept path and client connections (tls-tier/process/worker.c,
 * tls-tier/proxy/client.c, tls-tier/proxy/txn.c) driven in-process: a real listening socket, real
 * OpenSSL clients on loopback, a TLS context with a certificate made here,
 * a backend socket the test answers itself, and the worker's own epoll
 * loop run one pass at a time. Checks:
 * - accept_io() accepts a bounded batch and runs no handshake step: the
 *   clients have no byte of the server's flight until the loop reports
 *   their sockets; then TLS 1.3 and TLS 1.2 handshakes complete;
 * - the port 80 listener answers its redirect from the loop;
 * - a client that does not read: the response is not retried on upstream
 *   events (write() to the client is not called again until EPOLLOUT),
 *   the upstream is no longer read once the buffer is full
 *   (back-pressure), and when the client reads, every byte arrives;
 * - memory: a connection idle after its handshake, and between keep-alive
 *   requests, holds no buffer (in, out, upstream ones) and no request
 *   info; a request head larger than the first client buffer grows it
 *   and goes upstream whole.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <inttypes.h>
#include <sys/syscall.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "../lib/testcert.h"
#include "../../tls-tier/process/worker.c"
#include "../../tls-tier/proxy/client.c"
#include "../../tls-tier/proxy/txn.c"

/* --- write() on the worker's side of one client, counted ---------------------
 * OpenSSL's socket BIO writes with write(2); this definition takes the place
 * of libc's for libssl too, so every attempt to write to the client counts. */
static int counted_fd = -1;
static unsigned counted_writes;

ssize_t write(int fd, const void *buf, size_t n)
{
	ssize_t r = syscall(SYS_write, fd, buf, n);

	if (fd == counted_fd && fd >= 0)
		counted_writes++;
	return r;
}

/* --- the worker under test ------------------------------------------------------ */

static struct lbtls_config cfg;
static struct worker W;
static struct metrics_block mb;
static struct cfg_addr lis_addr;
static char dir[] = "/tmp/test_lbtls_conn.XXXXXX";
static int backend_lfd = -1;
static SSL_CTX *cctx;

static int listen_any(struct sockaddr_in *sin)
{
	socklen_t sl = sizeof(*sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)sin, sizeof(*sin)) ||
	    listen(fd, 256) || getsockname(fd, (struct sockaddr *)sin, &sl))
		return -1;
	return fd;
}

static int group_setup(void **state)
{
	static struct tls_ticket_key key;
	struct sockaddr_in sin;
	struct cfg_server *s;

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	if (!mkdtemp(dir))
		return -1;
	config__defaults(&cfg);
	snprintf(cfg.tls.certs[0].fullchain, PATH_MAX, "%s/fullchain.pem", dir);
	snprintf(cfg.tls.certs[0].privkey, PATH_MAX, "%s/privkey.pem", dir);
	cfg.tls.ncerts = 1;
	if (testcert__make(cfg.tls.certs[0].fullchain,
			   cfg.tls.certs[0].privkey))
		return -1;
	cfg.upstream.health.enabled = false;
	cfg.upstream.max_fails = 0;
	/* the backend: a listening socket this test answers on */
	backend_lfd = listen_any(&sin);
	if (backend_lfd < 0)
		return -1;
	s = &cfg.upstream.servers[0];
	memcpy(&s->ss, &sin, sizeof(sin));
	s->len = sizeof(sin);
	s->weight = 1;
	snprintf(s->name, sizeof(s->name), "127.0.0.1:%u", ntohs(sin.sin_port));
	cfg.upstream.nservers = 1;
	if (tls__random_key(&key) ||
	    tls__ctx_new(&cfg, &key, &W.px.tls, stderr))
		return -1;
	if (loop__init(&W.px.loop) ||
	    upstream__init(&W.px.up, &cfg.upstream, 1))
		return -1;
	pool__init(&W.px.pool, &W.px.loop, &W.px.up, cfg.upstream.keepalive);
	W.px.cfg = &cfg;
	W.px.m = &mb;
	W.px.https_port = 8443;
	snprintf(W.who, sizeof(W.who), "worker 0");
	cctx = SSL_CTX_new(TLS_client_method());
	if (!cctx)
		return -1;
	SSL_CTX_set_verify(cctx, SSL_VERIFY_NONE, NULL);
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[64];

	(void)state;
	client__close_all(&W.px);
	pool__flush(&W.px.pool, -1);
	loop__fini(&W.px.loop);
	tls__ctx_free(W.px.tls);
	SSL_CTX_free(cctx);
	close(backend_lfd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

/* A listener of the worker on a fresh loopback port. */
static struct worker_listener *add_listener(bool tls)
{
	struct worker_listener *l = &W.lis[W.nlis++];
	struct sockaddr_in sin;
	int fd = listen_any(&sin);

	assert_true(fd >= 0);
	memcpy(&lis_addr.ss, &sin, sizeof(sin));
	lis_addr.len = sizeof(sin);
	lis_addr.port = ntohs(sin.sin_port);
	snprintf(lis_addr.text, sizeof(lis_addr.text), "127.0.0.1:%u",
		 lis_addr.port);
	loop__io_init(&l->io, fd, accept_io);
	l->w = &W;
	l->tls = tls;
	l->addr = &lis_addr;
	assert_int_equal(loop__io_set(&W.px.loop, &l->io, EPOLLIN), 0);
	return l;
}

static void drop_listener(struct worker_listener *l)
{
	client__close_all(&W.px);
	loop__io_close(&W.px.loop, &l->io);
	W.nlis--;
	loop__run_once(&W.px.loop, 0); /* frees the closed connections */
}

static int connect_to(uint16_t port, int rcvbuf)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons(port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	if (rcvbuf)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	return fd;
}

struct tclient {
	int fd;
	SSL *ssl;
	bool done;
};

/* Start a TLS client: its ClientHello is on the wire when this returns. */
static void client_start(struct tclient *cl, int max_version, int rcvbuf)
{
	cl->fd = connect_to(lis_addr.port, rcvbuf);
	cl->ssl = SSL_new(cctx);
	assert_non_null(cl->ssl);
	if (max_version)
		SSL_set_max_proto_version(cl->ssl, max_version);
	SSL_set_fd(cl->ssl, cl->fd);
	SSL_set_connect_state(cl->ssl);
	assert_int_equal(SSL_do_handshake(cl->ssl), -1);
	assert_int_equal(SSL_get_error(cl->ssl, -1), SSL_ERROR_WANT_READ);
	cl->done = false;
}

static void client_free(struct tclient *cl)
{
	SSL_free(cl->ssl);
	close(cl->fd);
}

/* Bytes waiting for the client, without taking them. */
static bool has_input(int fd)
{
	char b;

	return recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

/* Run the worker's loop and the clients' handshakes until all are done. */
static void handshake_all(struct tclient *cl, int n)
{
	int i, left = n, round;

	for (round = 0; round < 2000 && left; round++) {
		loop__run_once(&W.px.loop, 5);
		for (i = 0; i < n; i++) {
			if (cl[i].done)
				continue;
			if (SSL_do_handshake(cl[i].ssl) == 1) {
				cl[i].done = true;
				left--;
			} else {
				assert_int_equal(SSL_get_error(cl[i].ssl, -1),
						 SSL_ERROR_WANT_READ);
			}
		}
	}
	assert_int_equal(left, 0);
}

/* --- accept: bounded, no handshake inline ---------------------------------------- */

static void accept_defers_handshakes(int max_version, int want_version)
{
	enum { N = ACCEPT_BATCH + 5 };
	struct worker_listener *l = add_listener(true);
	struct tclient cl[N];
	uint64_t full0 = mb.handshakes_full;
	int i;

	for (i = 0; i < N; i++)
		client_start(&cl[i], max_version, 0);
	/* One wakeup of the listener. */
	accept_io(&l->io, EPOLLIN);
	assert_int_equal(W.px.nclients, ACCEPT_BATCH);
	assert_int_equal(mb.handshakes_full, full0);
	for (i = 0; i < N; i++)
		if (has_input(cl[i].fd))
			fail_msg("client %d got handshake bytes from accept_io",
				 i);
	/* The rest come from later wakeups; every handshake completes from
	 * its own readiness events. */
	handshake_all(cl, N);
	assert_int_equal(W.px.nclients, N);
	for (i = 0; i < N; i++) {
		assert_int_equal(SSL_version(cl[i].ssl), want_version);
		client_free(&cl[i]);
	}
	/* the server side counts a handshake once it read the Finished */
	for (i = 0; i < 50 && mb.handshakes_full < full0 + N; i++)
		loop__run_once(&W.px.loop, 5);
	assert_int_equal(mb.handshakes_full, full0 + N);
	drop_listener(l);
	assert_int_equal(W.px.nclients, 0);
}

static void test_accept_defers_handshakes_tls13(void **state)
{
	(void)state;
	accept_defers_handshakes(0, TLS1_3_VERSION);
}

static void test_accept_defers_handshakes_tls12(void **state)
{
	(void)state;
	accept_defers_handshakes(TLS1_2_VERSION, TLS1_2_VERSION);
}

static void test_accept_plain_redirect(void **state)
{
	static const char req[] =
		"GET /a?b=1 HTTP/1.1\r\nHost: h.example\r\n\r\n";
	struct worker_listener *l = add_listener(false);
	char buf[1024];
	ssize_t n = 0, r;
	int fd, i;

	(void)state;
	fd = connect_to(lis_addr.port, 0);
	assert_int_equal(send(fd, req, sizeof(req) - 1, 0), sizeof(req) - 1);
	accept_io(&l->io, EPOLLIN);
	assert_int_equal(W.px.nclients, 1);
	for (i = 0; i < 200 && !memmem(buf, n, "\r\n\r\n", 4); i++) {
		loop__run_once(&W.px.loop, 5);
		r = recv(fd, buf + n, sizeof(buf) - 1 - n, MSG_DONTWAIT);
		if (r > 0)
			n += r;
	}
	buf[n] = 0;
	assert_non_null(strstr(buf, "HTTP/1.1 301 "));
	assert_non_null(
		strstr(buf, "\r\nLocation: https://h.example:8443/a?b=1\r\n"));
	close(fd);
	drop_listener(l);
}

/* --- a client that does not read ------------------------------------------------ */

#define BIG (4u << 20) /* response body bytes */

static unsigned char pattern(uint64_t i)
{
	return (unsigned char)(i % 251);
}

struct backend {
	int fd;
	uint64_t sent; /* body bytes written */
};

/* The backend writes as much of the body as its socket takes. */
static void backend_push(struct backend *b)
{
	unsigned char blk[16384];
	size_t i, n;
	ssize_t r;

	while (b->sent < BIG) {
		n = BIG - b->sent < sizeof(blk) ? BIG - b->sent : sizeof(blk);
		for (i = 0; i < n; i++)
			blk[i] = pattern(b->sent + i);
		r = send(b->fd, blk, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (r <= 0)
			return;
		b->sent += r;
	}
}

static void test_slow_client_waits_for_epollout(void **state)
{
	static const char req[] = "GET /big HTTP/1.1\r\nHost: a\r\n\r\n";
	struct worker_listener *l = add_listener(true);
	struct backend b = { -1, 0 };
	struct tclient cl;
	struct client *c;
	char head[4096], resp[2 * 16384], *p;
	unsigned char buf[16384];
	size_t hlen = 0;
	uint64_t got = 0;
	bool in_body = false;
	int i, r, n;

	(void)state;
	client_start(&cl, 0, 8192);
	handshake_all(&cl, 1);
	assert_int_equal(SSL_write(cl.ssl, req, sizeof(req) - 1),
			 sizeof(req) - 1);
	/* lbtls connects upstream and sends the request */
	for (i = 0; i < 500 && b.fd < 0; i++) {
		loop__run_once(&W.px.loop, 5);
		b.fd = accept4(backend_lfd, NULL, NULL, SOCK_CLOEXEC);
	}
	assert_true(b.fd >= 0);
	n = 32768; /* a backend socket that does not hold the whole body */
	setsockopt(b.fd, SOL_SOCKET, SO_SNDBUF, &n, sizeof(n));
	for (i = 0; i < 500 && !memmem(head, hlen, "\r\n\r\n", 4); i++) {
		loop__run_once(&W.px.loop, 5);
		r = recv(b.fd, head + hlen, sizeof(head) - hlen, MSG_DONTWAIT);
		if (r > 0)
			hlen += r;
	}
	assert_non_null(memmem(head, hlen, "GET /big HTTP/1.1\r\n", 19));
	n = snprintf(head, sizeof(head),
		     "HTTP/1.1 200 OK\r\nContent-Length: %u\r\n\r\n", BIG);
	assert_int_equal(send(b.fd, head, n, 0), n);

	/* The client reads nothing: its socket fills, then lbtls's buffer. */
	c = W.px.clients;
	assert_non_null(c);
	for (i = 0; i < 2000; i++) {
		backend_push(&b);
		loop__run_once(&W.px.loop, 1);
		if (c->txn->uc && !buf__room(&c->txn->uin) &&
		    (c->io.events & EPOLLOUT))
			break;
	}
	assert_non_null(c->txn->uc);
	assert_int_equal(buf_len(&c->txn->uin), UIN_CAP); /* bounded */
	assert_true(c->io.events & EPOLLOUT); /* waits to be writable */
	assert_false(c->txn->uc->io.events & EPOLLIN); /* back-pressure */
	assert_true(b.sent < BIG);

	/* Upstream events while the client is still full: no write to it
	 * is even tried before it reports EPOLLOUT. */
	counted_fd = c->io.fd;
	counted_writes = 0;
	for (i = 0; i < 10; i++) {
		up_event(c->txn->uc, EPOLLIN, c->txn);
		loop__run_once(&W.px.loop, 1);
	}
	assert_int_equal(counted_writes, 0);

	/* The client reads: everything arrives, in order, intact, and
	 * lbtls never buffers more than its 64 KiB. */
	hlen = 0;
	for (i = 0; i < 200000 && got < BIG; i++) {
		backend_push(&b);
		loop__run_once(&W.px.loop, 0);
		assert_true(!c->txn || c->txn->uin.cap <= UIN_CAP);
		r = SSL_read(cl.ssl, buf, sizeof(buf));
		if (r <= 0) {
			assert_int_equal(SSL_get_error(cl.ssl, r),
					 SSL_ERROR_WANT_READ);
			continue;
		}
		p = (char *)buf;
		if (!in_body) {
			char *e;

			assert_true(hlen + r < sizeof(resp));
			memcpy(resp + hlen, buf, r);
			hlen += r;
			resp[hlen] = 0;
			e = strstr(resp, "\r\n\r\n");
			if (!e)
				continue;
			assert_non_null(strstr(resp, "HTTP/1.1 200 OK\r\n"));
			in_body = true;
			n = hlen - (e + 4 - resp); /* body bytes in this read */
			p = (char *)buf + r - n;
			r = n;
		}
		for (n = 0; n < r; n++)
			if ((unsigned char)p[n] != pattern(got + n))
				fail_msg("byte %" PRIu64 " differs", got + n);
		got += r;
	}
	assert_int_equal(got, BIG);
	assert_true(counted_writes > 0); /* resumed on EPOLLOUT */
	counted_fd = -1;
	client_free(&cl);
	close(b.fd);
	drop_listener(l);
}

/* --- memory: idle connections hold no buffers --------------------------------- */

static void assert_no_buffers(const struct client *c)
{
	assert_null(c->in.d);
	assert_null(c->out.d);
	assert_null(c->txn); /* which holds the upstream buffers */
}

/* Run the loop until the backend has a whole request head. */
static size_t backend_head(int fd, char *buf, size_t cap)
{
	size_t len = 0;
	ssize_t r;
	int i;

	for (i = 0; i < 500 && !memmem(buf, len, "\r\n\r\n", 4); i++) {
		loop__run_once(&W.px.loop, 5);
		r = recv(fd, buf + len, cap - len, MSG_DONTWAIT);
		if (r > 0)
			len += r;
	}
	assert_non_null(memmem(buf, len, "\r\n\r\n", 4));
	return len;
}

/* Run the loop until the client has read a whole "ok" response. */
static void client_ok(struct tclient *cl)
{
	char buf[4096];
	size_t len = 0;
	int i, r;

	for (i = 0; i < 500; i++) {
		loop__run_once(&W.px.loop, 5);
		r = SSL_read(cl->ssl, buf + len, sizeof(buf) - 1 - len);
		if (r <= 0) {
			assert_int_equal(SSL_get_error(cl->ssl, r),
					 SSL_ERROR_WANT_READ);
			continue;
		}
		len += r;
		buf[len] = 0;
		if (strstr(buf, "\r\n\r\nok"))
			break;
	}
	assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(buf, "\r\nConnection: keep-alive\r\n\r\nok"));
}

static void test_idle_holds_no_buffers(void **state)
{
	static const char small[] = "GET /small HTTP/1.1\r\nHost: a\r\n\r\n";
	static const char ok[] =
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	static const char ok_close[] =
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
	struct worker_listener *l = add_listener(true);
	static char big[24 * 1024], head[32 * 1024];
	char pad[1001];
	struct tclient cl;
	struct client *c;
	int bfd = -1, i, n;
	size_t hlen;

	(void)state;
	client_start(&cl, 0, 0);
	handshake_all(&cl, 1);
	for (i = 0; i < 10; i++)
		loop__run_once(&W.px.loop, 2);
	c = W.px.clients;
	assert_non_null(c);
	/* handshake done, waiting for the first request */
	assert_int_equal(c->state, C_HEAD);
	assert_no_buffers(c);

	/* a head of 16 KiB: more than the first buffer holds */
	memset(pad, 'p', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = 0;
	n = snprintf(big, sizeof(big), "GET /big-head HTTP/1.1\r\nHost: a\r\n");
	for (i = 0; i < 16; i++)
		n += snprintf(big + n, sizeof(big) - n, "X-Pad-%d: %s\r\n", i,
			      pad);
	n += snprintf(big + n, sizeof(big) - n, "X-Last: end\r\n\r\n");
	assert_true(n > IN_SMALL + 4096);
	assert_int_equal(SSL_write(cl.ssl, big, n), n);
	for (i = 0; i < 500 && bfd < 0; i++) {
		loop__run_once(&W.px.loop, 5);
		bfd = accept4(backend_lfd, NULL, NULL, SOCK_CLOEXEC);
	}
	assert_true(bfd >= 0);
	hlen = backend_head(bfd, head, sizeof(head));
	assert_non_null(memmem(head, hlen, "GET /big-head HTTP/1.1\r\n", 24));
	assert_non_null(memmem(head, hlen, pad, sizeof(pad) - 1));
	assert_non_null(memmem(head, hlen, "\r\nX-Last: end\r\n", 15));
	assert_int_equal(c->state, C_PROXY);
	assert_int_equal(c->in.cap, cfg.limits.header_total + IN_EXTRA);
	assert_int_equal(send(bfd, ok, sizeof(ok) - 1, 0), sizeof(ok) - 1);
	client_ok(&cl);
	for (i = 0; i < 5; i++)
		loop__run_once(&W.px.loop, 1);
	/* keep-alive, between requests */
	assert_int_equal(c->state, C_IDLE);
	assert_no_buffers(c);

	/* the next request: a small buffer again, the pooled upstream */
	assert_int_equal(SSL_write(cl.ssl, small, sizeof(small) - 1),
			 sizeof(small) - 1);
	hlen = backend_head(bfd, head, sizeof(head));
	assert_non_null(memmem(head, hlen, "GET /small HTTP/1.1\r\n", 21));
	assert_int_equal(c->state, C_PROXY);
	assert_int_equal(c->in.cap, IN_SMALL);
	assert_int_equal(send(bfd, ok_close, sizeof(ok_close) - 1, 0),
			 sizeof(ok_close) - 1);
	client_ok(&cl);
	for (i = 0; i < 5; i++)
		loop__run_once(&W.px.loop, 1);
	assert_int_equal(c->state, C_IDLE);
	assert_no_buffers(c);
	client_free(&cl);
	close(bfd);
	drop_listener(l);
}

/*
 * Two TLS records in one TCP segment: the second request is read ahead with
 * the first (OpenSSL's read-ahead buffer, or BoringSSL's read-ahead BIO in
 * tlscompat.c), so the socket shows nothing more, and it must still be
 * served (tlsio__pending) without the client sending another byte.
 */
static void test_two_records_one_segment(void **state)
{
	static const char one[] = "GET /one HTTP/1.1\r\nHost: a\r\n\r\n";
	static const char two[] = "GET /two HTTP/1.1\r\nHost: a\r\n\r\n";
	static const char ok[] =
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	struct worker_listener *l = add_listener(true);
	static char head[4096];
	struct tclient cl;
	BIO *mem;
	char *wire;
	long n;
	int bfd = -1, i;
	size_t hlen;

	(void)state;
	client_start(&cl, 0, 0);
	handshake_all(&cl, 1);
	mem = BIO_new(BIO_s_mem());
	assert_non_null(mem);
	SSL_set0_wbio(cl.ssl, mem); /* both records into memory first */
	assert_int_equal(SSL_write(cl.ssl, one, sizeof(one) - 1),
			 sizeof(one) - 1);
	assert_int_equal(SSL_write(cl.ssl, two, sizeof(two) - 1),
			 sizeof(two) - 1);
	n = BIO_get_mem_data(mem, &wire);
	assert_true(n > (long)(sizeof(one) + sizeof(two)));
	assert_int_equal(send(cl.fd, wire, n, 0), n); /* one segment */
	for (i = 0; i < 500 && bfd < 0; i++) {
		loop__run_once(&W.px.loop, 5);
		bfd = accept4(backend_lfd, NULL, NULL, SOCK_CLOEXEC);
	}
	assert_true(bfd >= 0);
	hlen = backend_head(bfd, head, sizeof(head));
	assert_non_null(memmem(head, hlen, "GET /one HTTP/1.1\r\n", 19));
	assert_int_equal(send(bfd, ok, sizeof(ok) - 1, 0), sizeof(ok) - 1);
	client_ok(&cl);
	/* no more bytes from the client: the second request is in hand */
	hlen = backend_head(bfd, head, sizeof(head));
	assert_non_null(memmem(head, hlen, "GET /two HTTP/1.1\r\n", 19));
	assert_int_equal(send(bfd, ok, sizeof(ok) - 1, 0), sizeof(ok) - 1);
	client_ok(&cl);
	client_free(&cl);
	close(bfd);
	drop_listener(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accept_defers_handshakes_tls13),
		cmocka_unit_test(test_accept_defers_handshakes_tls12),
		cmocka_unit_test(test_accept_plain_redirect),
		cmocka_unit_test(test_slow_client_waits_for_epollout),
		cmocka_unit_test(test_idle_holds_no_buffers),
		cmocka_unit_test(test_two_records_one_segment),
	};

	return cmocka_run_group_tests_name("lbtls_conn", tests, group_setup,
					   group_teardown);
}
