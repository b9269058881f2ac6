// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Session tickets (tls-tier/tls/tlscompat.c, tls-tier/tls/tls.c; issue 19 finding
 * 11): keys derived per epoch from a shared secret, with an injected clock.
 * - two separately initialised ticket states (two workers, two hosts) with
 *   the same secret derive the same key for the same epoch, another one for
 *   the next epoch, and the key is HKDF-SHA256 as tlscompat.h documents
 *   (a fixed vector, made with `openssl kdf`: both TLS builds, and any
 *   host, agree);
 * - a ticket key of epoch k opens in k+1 while a ticket of that epoch may
 *   be within its lifetime (renewed), and not after;
 * - real handshakes in memory between two tls__ctx_new() contexts ("worker
 *   0" and "worker 1", each with its own session cache): a ticket of one
 *   resumes on the other, still after a rotation (and is renewed), not
 *   once its epoch left the window; a session older than
 *   tls.ticket_lifetime gives a full handshake, in TLS 1.2 and TLS 1.3;
 * - SSL_OP_CIPHER_SERVER_PREFERENCE is off unless
 *   tls.prefer_server_ciphers is on.
 * At dee1224 (before this file) every ticket used one key for 24 h and
 * the server's cipher order was forced.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "config.h"
#include "tls.h"
#include "tlscompat.h"
#include "../lib/testcert.h"

#define R 3600 /* rotation */
#define L 300 /* lifetime */

/* --- an injectable clock ------------------------------------------------------ */
static long long clock_a, clock_b; /* unix seconds of "worker 0" and "1" */
static long long now_a(void)
{
	return clock_a;
}
static long long now_b(void)
{
	return clock_b;
}
/* 10 s into epoch 480000 (2024-10-04): far from both ends of it */
#define T0 (480000LL * R + 10)

static void secret_fill(struct tls_ticket_key *k, unsigned char base)
{
	unsigned char *p = (unsigned char *)k;
	unsigned i;

	for (i = 0; i < sizeof(*k); i++)
		p[i] = base + i;
}

static void tickets_new(struct tlscompat_tickets *tk, unsigned char base,
			long long (*now)(void))
{
	memset(tk, 0, sizeof(*tk));
	assert_int_equal(tlscompat__tickets_init(tk, R, L), 0);
	secret_fill(&tk->secrets[0], base);
	tk->nsecrets = 1;
	tk->now = now;
}

static const struct tls_ticket_key *seal(struct tlscompat_tickets *tk)
{
	int renew = -1;
	const struct tls_ticket_key *k =
		tlscompat__ticket_key(tk, NULL, &renew);

	assert_non_null(k);
	assert_int_equal(renew, 0);
	return k;
}

static void test_same_secret_same_key_in_two_workers(void **state)
{
	struct tlscompat_tickets a, b;
	struct tls_ticket_key ka;

	(void)state;
	tickets_new(&a, 0, now_a);
	tickets_new(&b, 0, now_b);
	clock_a = clock_b = T0;
	ka = *seal(&a);
	assert_memory_equal(&ka, seal(&b), sizeof(ka));
	/* anywhere in the same epoch */
	clock_b = T0 - 10 + R - 1;
	assert_memory_equal(&ka, seal(&b), sizeof(ka));
	tlscompat__tickets_fini(&a);
	tlscompat__tickets_fini(&b);
}

static void test_epochs_differ(void **state)
{
	struct tlscompat_tickets a, other;
	struct tls_ticket_key k0, k1;

	(void)state;
	tickets_new(&a, 0, now_a);
	clock_a = T0;
	k0 = *seal(&a);
	clock_a = T0 + R;
	k1 = *seal(&a);
	assert_memory_not_equal(k0.name, k1.name, 16);
	assert_memory_not_equal(k0.aes, k1.aes, 32);
	assert_memory_not_equal(k0.hmac, k1.hmac, 32);
	/* stepping back derives epoch k again, the same key */
	clock_a = T0;
	assert_memory_equal(&k0, seal(&a), sizeof(k0));
	/* another secret, the same epoch: another key */
	tickets_new(&other, 1, now_a);
	assert_memory_not_equal(k0.name, seal(&other)->name, 16);
	tlscompat__tickets_fini(&a);
	tlscompat__tickets_fini(&other);
}

/* HKDF-SHA256(secret 00 01 .. 4f, salt "lbtls ticket key", info "lbtls
 * ticket epoch" || be64(3600) || be64(480000)), from `openssl kdf
 * -keylen 80 -kdfopt digest:SHA256 -kdfopt hexkey:0001..4f -kdfopt
 * salt:"lbtls ticket key" -kdfopt hexinfo:6c62..6368<be64 3600><be64
 * 480000> HKDF`. */
static void test_derivation_is_documented_hkdf(void **state)
{
	static const unsigned char want[80] = {
		0x1c, 0xdf, 0xc1, 0x4b, 0xd1, 0x0d, 0x0c, 0x95, 0xfe, 0x61,
		0xb3, 0x35, 0x55, 0x17, 0x25, 0x03, 0xc8, 0xcb, 0x3a, 0xd4,
		0x42, 0x9a, 0xdd, 0x01, 0xdb, 0x95, 0x28, 0xb6, 0x3e, 0x0d,
		0xd6, 0x69, 0xb7, 0xc2, 0x1e, 0x04, 0xc6, 0x0f, 0x66, 0x91,
		0xe1, 0xd8, 0x94, 0x6a, 0x25, 0xeb, 0x88, 0xa2, 0x54, 0xd8,
		0xc0, 0x5f, 0x4d, 0x48, 0x47, 0xf3, 0x54, 0x1a, 0xbb, 0x13,
		0xb8, 0x8a, 0x82, 0x39, 0xc6, 0x08, 0x87, 0xf7, 0x82, 0x78,
		0x05, 0x3e, 0x21, 0xba, 0x80, 0x76, 0x1c, 0x18, 0xe5, 0x42,
	};
	struct tlscompat_tickets a;

	(void)state;
	tickets_new(&a, 0, now_a);
	clock_a = T0;
	assert_memory_equal(seal(&a), want, sizeof(want));
	tlscompat__tickets_fini(&a);
}

static void test_window(void **state)
{
	struct tlscompat_tickets a, b;
	const struct tls_ticket_key *k;
	unsigned char name[16];
	int renew;

	(void)state;
	tickets_new(&a, 0, now_a);
	tickets_new(&b, 0, now_b);
	clock_a = T0;
	memcpy(name, seal(&a)->name, 16);
	/* same epoch, another worker: opens, not renewed */
	clock_b = T0 + 5;
	k = tlscompat__ticket_key(&b, name, &renew);
	assert_non_null(k);
	assert_memory_equal(k->name, name, 16);
	assert_int_equal(renew, 0);
	/* epoch k+1, a ticket of epoch k may still be within its lifetime:
	 * opens, renewed */
	clock_b = T0 - 10 + R + L - 1;
	k = tlscompat__ticket_key(&b, name, &renew);
	assert_non_null(k);
	assert_int_equal(renew, 1);
	/* no ticket of epoch k can be within its lifetime any more */
	clock_b = T0 - 10 + R + L;
	assert_null(tlscompat__ticket_key(&b, name, &renew));
	/* a host whose clock is ahead sealed with k+1: opens here (renewed) */
	clock_a = T0 + R;
	memcpy(name, seal(&a)->name, 16);
	clock_b = T0;
	k = tlscompat__ticket_key(&b, name, &renew);
	assert_non_null(k);
	assert_int_equal(renew, 1);
	/* but not two epochs ahead, nor an unknown name */
	clock_a = T0 + 2 * R;
	memcpy(name, seal(&a)->name, 16);
	assert_null(tlscompat__ticket_key(&b, name, &renew));
	memset(name, 0xee, sizeof(name));
	assert_null(tlscompat__ticket_key(&b, name, &renew));
	tlscompat__tickets_fini(&a);
	tlscompat__tickets_fini(&b);
}

/* The file's second key (the operator's previous secret) still opens. */
static void test_older_secret_opens(void **state)
{
	struct tlscompat_tickets old, now;
	unsigned char name[16];
	int renew;

	(void)state;
	tickets_new(&old, 7, now_a);
	tickets_new(&now, 9, now_b);
	secret_fill(&now.secrets[1], 7);
	now.nsecrets = 2;
	clock_a = clock_b = T0;
	memcpy(name, seal(&old)->name, 16);
	assert_non_null(tlscompat__ticket_key(&now, name, &renew));
	assert_int_equal(renew, 1);
	tlscompat__tickets_fini(&old);
	tlscompat__tickets_fini(&now);
}

/* --- real handshakes, in memory ------------------------------------------------ */

static char dir[] = "/tmp/test_lbtls_tickets.XXXXXX";
static struct lbtls_config cfg;
static struct tls_ticket_key secret;
static SSL_CTX *cctx;

/* The client's newest session: with TLS 1.3 the tickets come after the
 * handshake, and BoringSSL hands them over only through this callback. */
static SSL_SESSION *newest;

static int new_session(SSL *ssl, SSL_SESSION *sess)
{
	(void)ssl;
	SSL_SESSION_free(newest);
	newest = sess;
	return 1; /* ours now */
}

static int group_setup(void **state)
{
	(void)state;
	if (!mkdtemp(dir))
		return -1;
	config__defaults(&cfg);
	snprintf(cfg.tls.certs[0].fullchain, PATH_MAX, "%s/fullchain.pem", dir);
	snprintf(cfg.tls.certs[0].privkey, PATH_MAX, "%s/privkey.pem", dir);
	cfg.tls.ncerts = 1;
	if (testcert__make(cfg.tls.certs[0].fullchain,
			   cfg.tls.certs[0].privkey))
		return -1;
	if (tls__random_key(&secret))
		return -1;
	cctx = SSL_CTX_new(TLS_client_method());
	if (!cctx)
		return -1;
	SSL_CTX_set_verify(cctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(
		cctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
	SSL_CTX_sess_set_new_cb(cctx, new_session);
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[80];

	(void)state;
	SSL_CTX_free(cctx);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

/* A "worker": contexts built from cfg and the shared secret. */
static struct tls_ctx *worker_new(long long (*now)(void))
{
	struct tls_ctx *t = NULL;

	assert_int_equal(tls__ctx_new(&cfg, &secret, &t, stderr), 0);
	t->tickets.now = now;
	return t;
}

/*
 * One connection to worker t, resuming 'in' if not NULL, up to the first
 * byte of application data (which carries TLS 1.3's tickets). Returns the
 * client's session (to free); *reused says whether it resumed.
 */
static SSL_SESSION *connect_once(struct tls_ctx *t, int version,
				 SSL_SESSION *in, int *reused)
{
	SSL *c, *s = tls__ssl_new(t, -1);
	BIO *bc, *bs;
	SSL_SESSION *out;
	char byte;
	int i, cd = 0, sd = 0;

	SSL_SESSION_free(newest);
	newest = NULL;
	c = SSL_new(cctx);
	assert_non_null(c);
	assert_non_null(s);
	assert_int_equal(BIO_new_bio_pair(&bc, 0, &bs, 0), 1);
	SSL_set_bio(c, bc, bc);
	SSL_set_bio(s, bs, bs);
	SSL_set_min_proto_version(c, version);
	SSL_set_max_proto_version(c, version);
	SSL_set_tlsext_host_name(c, "localhost");
	if (in) {
		/* a copy: an OpenSSL client marks a TLS 1.3 session it resumed
		 * not resumable, and this test offers 'in' again */
		unsigned char der[4096], *p = der;
		const unsigned char *q = der;
		int len = i2d_SSL_SESSION(in, NULL);
		SSL_SESSION *copy;

		assert_true(len > 0 && len <= (int)sizeof(der));
		assert_int_equal(i2d_SSL_SESSION(in, &p), len);
		copy = d2i_SSL_SESSION(NULL, &q, len);
		assert_non_null(copy);
		assert_int_equal(SSL_set_session(c, copy), 1);
		SSL_SESSION_free(copy);
	}
	SSL_set_connect_state(c);
	for (i = 0; i < 100 && !(cd && sd); i++) {
		if (!cd)
			cd = SSL_do_handshake(c) == 1;
		if (!sd)
			sd = SSL_do_handshake(s) == 1;
	}
	assert_true(cd && sd);
	assert_int_equal(SSL_write(s, "x", 1), 1);
	assert_int_equal(SSL_read(c, &byte, 1), 1);
	*reused = SSL_session_reused(c);
	/* OpenSSL calls new_session for a TLS 1.2 resumption's ticket */
	out = newest ? newest : SSL_get1_session(c);
	newest = NULL;
	assert_non_null(out);
	/* as after close_notify: OpenSSL drops the session of an SSL freed
	 * without one */
	SSL_set_shutdown(c, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
	SSL_set_shutdown(s, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
	SSL_free(c);
	SSL_free(s);
	return out;
}

/* The key name a session's ticket was sealed with, as hex. */
static void ticket_name(SSL_SESSION *s, unsigned char name[16])
{
	const uint8_t *tick;
	size_t len;

	SSL_SESSION_get0_ticket(s, &tick, &len);
	assert_true(len > 16);
	memcpy(name, tick, 16);
}

static void resume_across_workers(int version)
{
	struct tls_ctx *w0 = worker_new(now_a), *w1 = worker_new(now_b);
	SSL_SESSION *s0, *s1;
	unsigned char n0[16], n1[16];
	int reused;

	clock_a = clock_b = T0;
	s0 = connect_once(w0, version, NULL, &reused);
	assert_false(reused);
	ticket_name(s0, n0);
	/* worker 1, same epoch */
	s1 = connect_once(w1, version, s0, &reused);
	assert_true(reused);
	SSL_SESSION_free(s1);
	/* worker 1, one rotation later: resumes, with a ticket of the new key */
	clock_b = T0 + R;
	s1 = connect_once(w1, version, s0, &reused);
	assert_true(reused);
	ticket_name(s1, n1);
	assert_memory_not_equal(n0, n1, 16);
	SSL_SESSION_free(s1);
	/* two rotations later, epoch k has left the window: full handshake */
	clock_b = T0 + 2 * R;
	s1 = connect_once(w1, version, s0, &reused);
	assert_false(reused);
	SSL_SESSION_free(s1);
	SSL_SESSION_free(s0);
	tls__ctx_free(w0);
	tls__ctx_free(w1);
}

static void test_resume_across_workers_tls13(void **state)
{
	(void)state;
	resume_across_workers(TLS1_3_VERSION);
}

static void test_resume_across_workers_tls12(void **state)
{
	(void)state;
	resume_across_workers(TLS1_2_VERSION);
}

/* The real clock: a session older than tls.ticket_lifetime (1 s here,
 * rotation 1 h: the key is still in the window) is not resumed. */
static void lifetime_bounds_resumption(int version)
{
	struct tls_ctx *w;
	SSL_SESSION *s0, *s1;
	int reused;

	cfg.tls.ticket_lifetime_s = 1;
	w = worker_new(NULL);
	cfg.tls.ticket_lifetime_s = L;
	s0 = connect_once(w, version, NULL, &reused);
	s1 = connect_once(w, version, s0, &reused);
	assert_true(reused); /* within the second */
	SSL_SESSION_free(s1);
	sleep(3); /* OpenSSL's session times are whole seconds */
	s1 = connect_once(w, version, s0, &reused);
	assert_false(reused);
	SSL_SESSION_free(s1);
	SSL_SESSION_free(s0);
	tls__ctx_free(w);
}

static void test_lifetime_bounds_resumption_tls13(void **state)
{
	(void)state;
	lifetime_bounds_resumption(TLS1_3_VERSION);
}

static void test_lifetime_bounds_resumption_tls12(void **state)
{
	(void)state;
	lifetime_bounds_resumption(TLS1_2_VERSION);
}

static void test_server_cipher_preference_only_when_configured(void **state)
{
	struct tls_ctx *t;

	(void)state;
	t = worker_new(NULL);
	assert_false(SSL_CTX_get_options(t->groups[0].set.ctx[0]) &
		     SSL_OP_CIPHER_SERVER_PREFERENCE);
	tls__ctx_free(t);
	cfg.tls.prefer_server_ciphers = true;
	t = worker_new(NULL);
	cfg.tls.prefer_server_ciphers = false;
	assert_true(SSL_CTX_get_options(t->groups[0].set.ctx[0]) &
		    SSL_OP_CIPHER_SERVER_PREFERENCE);
	tls__ctx_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_secret_same_key_in_two_workers),
		cmocka_unit_test(test_epochs_differ),
		cmocka_unit_test(test_derivation_is_documented_hkdf),
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_older_secret_opens),
		cmocka_unit_test(test_resume_across_workers_tls13),
		cmocka_unit_test(test_resume_across_workers_tls12),
		cmocka_unit_test(test_lifetime_bounds_resumption_tls13),
		cmocka_unit_test(test_lifetime_bounds_resumption_tls12),
		cmocka_unit_test(
			test_server_cipher_preference_only_when_configured),
	};

	return cmocka_run_group_tests_name("lbtls_tickets", tests, group_setup,
					   group_teardown);
}
