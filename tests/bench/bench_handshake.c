// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * bench_handshake: what one new TLS connection costs lbtls's TLS library,
 * in one process, without sockets. The server side is lbtls's own: the
 * SSL_CTX comes from tls__ctx_new() (tls-tier/tls/tls.c) with bench-tls's
 * settings (TLS 1.3 only, one cipher suite, X25519, the certificate given,
 * ticket keys as lbtls makes them); the client is the same library with
 * default settings and no session to resume. The two talk over a BIO pair.
 *
 * Per connection the server does what lbtls's worker does with it, minus
 * the syscalls: SSL_new, the handshake (key share, CertificateVerify, the
 * stock two session tickets), read one small request, write one small
 * response, SSL_shutdown, SSL_free. Only those server calls are timed,
 * with the thread's CPU clock (CLOCK_THREAD_CPUTIME_ID), so other load on
 * the machine inflates a figure only by what it does to caches; the client
 * is not counted. Under callgrind, --toggle-collect=srv_* counts the
 * server's instructions alone.
 *
 * Usage: bench_handshake CERT KEY [CONNS [ROUNDS]]
 *   (CONNS per round, default 2000; ROUNDS default 5; environment:
 *   CIPHERSUITE, TICKETS to issue another number of session tickets)
 * Prints one line per round and ends with
 *   handshake: LIB server_us_per_conn median=M min=A max=B conns_per_cpu_s=N
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "config.h"
#include "tls.h"

#define NAME "bench.test"

static const char request[] = "GET / HTTP/1.1\r\nHost: " NAME "\r\n\r\n";
static const char response[] = "HTTP/1.1 200 OK\r\nContent-Length: 13\r\n"
			       "Connection: close\r\n\r\nHello, world\n";

static double cpu_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void die(const char *what)
{
	char buf[256];
	unsigned long e = ERR_get_error();

	buf[0] = 0;
	if (e)
		ERR_error_string_n(e, buf, sizeof(buf));
	fprintf(stderr, "bench_handshake: %s%s%s\n", what, *buf ? ": " : "",
		buf);
	exit(1);
}

/* The server's calls, kept out of line so callgrind can toggle on them. */
__attribute__((noinline)) static SSL *srv_new(SSL_CTX *ctx, BIO *bio)
{
	SSL *s = SSL_new(ctx);

	if (!s)
		return NULL;
	SSL_set_bio(s, bio, bio);
	SSL_set_accept_state(s);
	return s;
}

__attribute__((noinline)) static int srv_handshake(SSL *s)
{
	int r = SSL_do_handshake(s);

	if (r == 1)
		return 1;
	r = SSL_get_error(s, r);
	return r == SSL_ERROR_WANT_READ || r == SSL_ERROR_WANT_WRITE ? 0 : -1;
}

__attribute__((noinline)) static int srv_answer(SSL *s)
{
	char buf[512];
	int n = SSL_read(s, buf, sizeof(buf));

	if (n <= 0)
		return -1;
	if (SSL_write(s, response, sizeof(response) - 1) !=
	    (int)sizeof(response) - 1)
		return -1;
	SSL_shutdown(s);
	return 0;
}

__attribute__((noinline)) static void srv_free(SSL *s)
{
	SSL_free(s);
}

static int cli_step(SSL *c)
{
	int r = SSL_do_handshake(c);

	if (r == 1)
		return 1;
	r = SSL_get_error(c, r);
	return r == SSL_ERROR_WANT_READ || r == SSL_ERROR_WANT_WRITE ? 0 : -1;
}

/* One connection; returns the server's CPU time in ns. */
static double one_conn(SSL_CTX *sctx, SSL_CTX *cctx)
{
	BIO *bc, *bs;
	SSL *c, *s;
	char buf[1024];
	double t0, spent = 0;
	int cdone = 0, sdone = 0, i, n;

	if (!BIO_new_bio_pair(&bc, 0, &bs, 0))
		die("BIO_new_bio_pair");
	c = SSL_new(cctx);
	if (!c)
		die("client SSL_new");
	SSL_set_bio(c, bc, bc);
	SSL_set_connect_state(c);
	SSL_set_tlsext_host_name(c, NAME);

	t0 = cpu_now_ns();
	s = srv_new(sctx, bs);
	spent += cpu_now_ns() - t0;
	if (!s)
		die("server SSL_new");
	for (i = 0; i < 16 && !(cdone && sdone); i++) {
		if (!cdone && (cdone = cli_step(c)) < 0)
			die("client handshake");
		if (!sdone) {
			t0 = cpu_now_ns();
			sdone = srv_handshake(s);
			spent += cpu_now_ns() - t0;
			if (sdone < 0)
				die("server handshake");
		}
	}
	if (!(cdone && sdone))
		die("handshake did not finish");
	if (SSL_session_reused(s))
		die("the server resumed a session");
	if (SSL_write(c, request, sizeof(request) - 1) !=
	    (int)sizeof(request) - 1)
		die("client write");
	t0 = cpu_now_ns();
	n = srv_answer(s);
	spent += cpu_now_ns() - t0;
	if (n)
		die("server read/write");
	/* the tickets, the answer, then close_notify */
	n = 0;
	for (i = 0; i < 8; i++) {
		int r = SSL_read(c, buf + n, sizeof(buf) - 1 - n);

		if (r <= 0)
			break;
		n += r;
	}
	buf[n] = 0;
	if (!strstr(buf, "Hello, world"))
		die("client did not get the answer");
	SSL_free(c);
	t0 = cpu_now_ns();
	srv_free(s);
	spent += cpu_now_ns() - t0;
	return spent;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static struct lbtls_config cfg;
	struct tls_ticket_key key;
	struct tls_ctx *t = NULL;
	SSL_CTX *cctx;
	double *us;
	long conns = 2000, rounds = 5, r, i;

	if (argc < 3 || argc > 5) {
		fprintf(stderr,
			"Usage: bench_handshake CERT KEY [CONNS [ROUNDS]]\n");
		return 2;
	}
	if (argc > 3)
		conns = strtol(argv[3], NULL, 10);
	if (argc > 4)
		rounds = strtol(argv[4], NULL, 10);
	if (conns < 1 || rounds < 1) {
		fprintf(stderr,
			"bench_handshake: CONNS and ROUNDS must be >= 1\n");
		return 2;
	}

	/* bench-tls's lbtls.yaml.in: TLS 1.3, one suite, X25519 */
	config__defaults(&cfg);
	snprintf(cfg.path, sizeof(cfg.path), "bench_handshake");
	cfg.tls.ncerts = 1;
	snprintf(cfg.tls.certs[0].fullchain, sizeof(cfg.tls.certs[0].fullchain),
		 "%s", argv[1]);
	snprintf(cfg.tls.certs[0].privkey, sizeof(cfg.tls.certs[0].privkey),
		 "%s", argv[2]);
	cfg.tls.min_proto = TLS1_3_VERSION;
	cfg.tls.max_proto = TLS1_3_VERSION;
	snprintf(cfg.tls.ciphersuites, sizeof(cfg.tls.ciphersuites), "%s",
		 getenv("CIPHERSUITE") ? getenv("CIPHERSUITE") :
					 "TLS_AES_128_GCM_SHA256");
	snprintf(cfg.tls.groups, sizeof(cfg.tls.groups), "X25519");
	if (tls__random_key(&key) || tls__ctx_new(&cfg, &key, &t, stderr))
		die("cannot build lbtls's TLS context");

	/* TICKETS=N: session tickets per handshake (the stock 2 otherwise),
	 * to see what they cost */
	if (getenv("TICKETS"))
		SSL_CTX_set_num_tickets(t->groups[0].set.ctx[0],
					strtoul(getenv("TICKETS"), NULL, 10));

	cctx = SSL_CTX_new(TLS_client_method());
	if (!cctx)
		die("client SSL_CTX_new");
	SSL_CTX_set_min_proto_version(cctx, TLS1_3_VERSION);
	SSL_CTX_set_max_proto_version(cctx, TLS1_3_VERSION);
	SSL_CTX_set_verify(cctx, SSL_VERIFY_NONE, NULL);

	us = calloc(rounds, sizeof(*us));
	if (!us)
		die("calloc");
	one_conn(t->groups[0].set.ctx[0],
		 cctx); /* warm up: first-use allocations */
	for (r = 0; r < rounds; r++) {
		double ns = 0;

		for (i = 0; i < conns; i++)
			ns += one_conn(t->groups[0].set.ctx[0], cctx);
		us[r] = ns / conns / 1e3;
		printf("round %ld: %ld connections, server %.1f us CPU each\n",
		       r + 1, conns, us[r]);
		fflush(stdout);
	}
	qsort(us, rounds, sizeof(*us), cmp_double);
	printf("handshake: %s server_us_per_conn median=%.1f min=%.1f max=%.1f conns_per_cpu_s=%.0f\n",
	       OpenSSL_version(OPENSSL_VERSION), us[rounds / 2], us[0],
	       us[rounds - 1], 1e6 / us[rounds / 2]);
	free(us);
	SSL_CTX_free(cctx);
	tls__ctx_free(t);
	return 0;
}
