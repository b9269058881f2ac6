// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * OpenSSL 3.0 and BoringSSL behind one interface (tlscompat.h). The only
 * file of the tier with #ifdef OPENSSL_IS_BORINGSSL.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/hmac.h>
#ifdef OPENSSL_IS_BORINGSSL
#include <openssl/hkdf.h>
#else
#include <openssl/core_names.h>
#include <openssl/kdf.h>
#endif

#include "tlscompat.h"

static int ex_idx = -1; /* SSL_CTX ex_data slot holding the tickets */

/* HKDF-SHA256 (RFC 5869) into out: EVP_KDF or <openssl/hkdf.h>, below. */
static int hkdf(struct tlscompat_tickets *tk, unsigned char *out,
		size_t out_len, const unsigned char *secret, size_t secret_len,
		const unsigned char *salt, size_t salt_len,
		const unsigned char *info, size_t info_len);

static long long realtime_now(void)
{
	struct timespec ts;

	/* REALTIME, not MONOTONIC: epochs must agree across hosts. */
	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec;
}

static long long floor_div(long long a, long long b)
{
	return a / b - (a % b < 0);
}

/* The key of 'epoch' from 'secret' (tlscompat.h gives the formula). */
static int derive_key(struct tlscompat_tickets *tk,
		      const struct tls_ticket_key *secret, long long epoch,
		      struct tls_ticket_key *out)
{
	static const char salt[] = "lbtls ticket key";
	unsigned char info[18 + 16] = "lbtls ticket epoch";
	unsigned long long v[2] = { tk->rotation, (unsigned long long)epoch };
	unsigned i, j;

	for (i = 0; i < 2; i++)
		for (j = 0; j < 8; j++)
			info[18 + 8 * i + j] = v[i] >> (56 - 8 * j);
	return hkdf(tk, (unsigned char *)out, sizeof(*out),
		    (const unsigned char *)secret, sizeof(*secret),
		    (const unsigned char *)salt, sizeof(salt) - 1, info,
		    sizeof(info));
}

/*
 * Bring keys to the epochs of 'now': on an epoch change, what is still in
 * the window moves down, only the new epochs are derived (one per secret
 * on a forward step of one). Clock stepped back: all derived again.
 */
static int tickets_refresh(struct tlscompat_tickets *tk, long long now)
{
	long long top = floor_div(now, tk->rotation) + 1, shift;
	unsigned s, i;

	if (tk->keys && top == tk->top)
		return 0;
	if (!tk->keys) {
		tk->keys = calloc((size_t)tk->nsecrets * tk->nwin,
				  sizeof(*tk->keys));
		if (!tk->keys)
			return -ENOMEM;
		shift = tk->nwin; /* nothing to keep */
	} else {
		shift = top - tk->top;
		if (shift <= 0 || shift > tk->nwin)
			shift = tk->nwin;
	}
	tk->top = top;
	for (s = 0; s < tk->nsecrets; s++) {
		struct tls_ticket_key *row = tk->keys + (size_t)s * tk->nwin;

		/* descending: row[i - shift] is read before it is replaced */
		for (i = tk->nwin; i-- > 0;) {
			if (i >= shift) {
				row[i] = row[i - shift];
				continue;
			}
			if (derive_key(tk, &tk->secrets[s], top - i, &row[i])) {
				OPENSSL_cleanse(tk->keys,
						(size_t)tk->nsecrets *
							tk->nwin *
							sizeof(*tk->keys));
				free(tk->keys);
				tk->keys = NULL;
				return -EIO;
			}
		}
	}
	return 0;
}

const struct tls_ticket_key *tlscompat__ticket_key(struct tlscompat_tickets *tk,
						   const unsigned char *name,
						   int *renew)
{
	long long now, oldest;
	unsigned s, i;

	*renew = 0;
	if (!tk || !tk->nsecrets)
		return NULL;
	now = tk->now ? tk->now() : realtime_now();
	if (tickets_refresh(tk, now))
		return NULL;
	if (!name)
		return &tk->keys[1]; /* secret 0, now's epoch (top - 1) */
	/* epochs that may hold a ticket sealed less than 'lifetime' ago */
	oldest = floor_div(now - tk->lifetime, tk->rotation);
	for (s = 0; s < tk->nsecrets; s++)
		for (i = 0; i < tk->nwin && tk->top - i >= oldest; i++)
			if (!memcmp(name, tk->keys[s * tk->nwin + i].name,
				    16)) {
				*renew = s || i != 1;
				return &tk->keys[s * tk->nwin + i];
			}
	return NULL;
}

static struct tlscompat_tickets *ctx_tickets(SSL *s)
{
	return SSL_CTX_get_ex_data(SSL_get_SSL_CTX(s), ex_idx);
}

static int tickets_attach(SSL_CTX *ctx, struct tlscompat_tickets *tk)
{
	if (ex_idx < 0)
		ex_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	return ex_idx >= 0 && SSL_CTX_set_ex_data(ctx, ex_idx, tk) == 1;
}

/*
 * Seal (enc) or open a ticket: AES-256-CBC and HMAC-SHA256 with the key's
 * halves, nginx's format. The HMAC_CTX callback is the one BoringSSL has;
 * OpenSSL 3.0 deprecates it for an EVP_MAC_CTX one, but there libssl
 * fetches HMAC and the callback names its digest, both looked up by name
 * per ticket (openssl#21005); here both algorithms are fetched once
 * (tlscompat__tickets_init) and passed in.
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static int ticket_cb(SSL *s, unsigned char *key_name, unsigned char *iv,
		     EVP_CIPHER_CTX *ectx, HMAC_CTX *hctx, int enc)
{
	struct tlscompat_tickets *tk = ctx_tickets(s);
	const struct tls_ticket_key *k;
	int renew;

	k = tlscompat__ticket_key(tk, enc ? NULL : key_name, &renew);
	if (!k)
		return enc ? -1 : 0; /* opening: unknown key, full handshake */
	if (enc) {
		memcpy(key_name, k->name, 16);
		if (RAND_bytes(iv, EVP_CIPHER_iv_length(tk->aes)) != 1 ||
		    !EVP_EncryptInit_ex(ectx, tk->aes, NULL, k->aes, iv))
			return -1;
	} else if (!EVP_DecryptInit_ex(ectx, tk->aes, NULL, k->aes, iv)) {
		return -1;
	}
	if (!HMAC_Init_ex(hctx, k->hmac, sizeof(k->hmac), tk->sha256, NULL))
		return -1;
	/* 2: a rotated-out key still opens the ticket; issue a fresh one. */
	return renew ? 2 : 1;
}

int tlscompat__set_tickets(SSL_CTX *ctx, struct tlscompat_tickets *tk)
{
	if (!tickets_attach(ctx, tk))
		return 0;
	return SSL_CTX_set_tlsext_ticket_key_cb(ctx, ticket_cb) == 1;
}
#pragma GCC diagnostic pop

/* What both libraries keep: the schedule, the secrets, the derived keys. */
static int tickets_setup(struct tlscompat_tickets *tk, unsigned rotation,
			 unsigned lifetime)
{
	if (!rotation || !lifetime)
		return -EINVAL;
	tk->rotation = rotation;
	tk->lifetime = lifetime;
	/* epochs lifetime spans, rounded up, + now's + the next */
	tk->nwin = (lifetime + rotation - 1) / rotation + 2;
	tk->keys = NULL;
	return 0;
}

static void tickets_wipe(struct tlscompat_tickets *tk)
{
	if (tk->keys) {
		OPENSSL_cleanse(tk->keys, (size_t)tk->nsecrets * tk->nwin *
						  sizeof(*tk->keys));
		free(tk->keys);
		tk->keys = NULL;
	}
	OPENSSL_cleanse(tk->secrets, sizeof(tk->secrets));
	tk->nsecrets = 0;
}

/* Both libraries: the oldest error as "library: reason". */
const char *tlscompat__err_str(char *buf, size_t len)
{
	unsigned long e = ERR_get_error();
	const char *lib, *reason;
	size_t i, n;

	buf[0] = 0;
	if (!e)
		goto out;
	lib = ERR_lib_error_string(e);
	reason = ERR_reason_error_string(e);
	if (!reason) {
		ERR_error_string_n(e, buf, len);
		goto out;
	}
	n = snprintf(buf, len, "%s%s", lib ? lib : "", lib ? ": " : "");
	if (n >= len)
		n = len - 1;
	/* BoringSSL's reasons are tokens (NO_START_LINE): as OpenSSL's */
	for (i = 0; reason[i] && n + 1 < len; i++, n++)
		buf[n] = reason[i] == '_' ? ' ' :
					    tolower((unsigned char)reason[i]);
	buf[n] = 0;
out:
	ERR_clear_error();
	return buf;
}

#ifdef OPENSSL_IS_BORINGSSL
/* --- BoringSSL (Debian's android-libboringssl) ---------------------------- */

#ifndef LBTLS_BORINGSSL_PKG
#define LBTLS_BORINGSSL_PKG "unknown"
#endif

const char *tlscompat__version(void)
{
	static char v[128];

	if (!*v)
		snprintf(
			v, sizeof(v),
			"BoringSSL, Debian android-libboringssl %s (BORINGSSL_API_VERSION %d)",
			LBTLS_BORINGSSL_PKG, BORINGSSL_API_VERSION);
	return v;
}

int tlscompat__tickets_init(struct tlscompat_tickets *tk, unsigned rotation,
			    unsigned lifetime)
{
	tk->aes = EVP_aes_256_cbc(); /* static tables, nothing to fetch */
	tk->sha256 = EVP_sha256();
	return tickets_setup(tk, rotation, lifetime);
}

void tlscompat__tickets_fini(struct tlscompat_tickets *tk)
{
	tickets_wipe(tk);
}

static int hkdf(struct tlscompat_tickets *tk, unsigned char *out,
		size_t out_len, const unsigned char *secret, size_t secret_len,
		const unsigned char *salt, size_t salt_len,
		const unsigned char *info, size_t info_len)
{
	return HKDF(out, out_len, tk->sha256, secret, secret_len, salt,
		    salt_len, info, info_len) == 1 ?
		       0 :
		       -EIO;
}

void tlscompat__set_session_lifetime(SSL_CTX *ctx, unsigned seconds)
{
	SSL_CTX_set_timeout(ctx, seconds); /* TLS 1.2 */
	/* TLS 1.3 resumption has its own bound, 7 days unless set */
	SSL_CTX_set_session_psk_dhe_timeout(ctx, seconds);
}

void tlscompat__ctx_defaults(SSL_CTX *ctx)
{
	/* Renegotiation (ssl_renegotiate_never) and compression are off by
	 * default; unexpected EOF: tlscompat__read_error(). */
	(void)ctx;
}

/*
 * The read-ahead socket BIO. BoringSSL's record layer asks for the 5-byte
 * header, then for the body: one read() each with its own socket BIO. This
 * one reads up to RA_READ bytes into a scratch buffer (one per worker
 * process: workers are single-threaded, DESIGN D4) and keeps what was not
 * asked for, in the BIO (a small record's rest fits the inline room; more
 * goes to the heap until it is taken), so a record costs one read() and an
 * idle connection holds no buffer. Writes go straight to write(2).
 */
#define RA_READ (16384 + 2048 + 5) /* the largest record, and its header */
#define RA_INLINE 512

struct ra_bio {
	int fd;
	size_t off, len; /* kept bytes: buf[off .. off + len) */
	unsigned char *buf; /* inline or heap */
	unsigned char inline_buf[RA_INLINE];
};

static unsigned char ra_scratch[RA_READ];
static BIO_METHOD *ra_method;

static void ra_drop(struct ra_bio *r)
{
	if (r->buf && r->buf != r->inline_buf)
		free(r->buf);
	r->buf = NULL;
	r->off = r->len = 0;
}

static int ra_read(BIO *b, char *out, int want)
{
	struct ra_bio *r = BIO_get_data(b);
	size_t n = want > 0 ? (size_t)want : 0, k;
	ssize_t got;

	BIO_clear_retry_flags(b);
	if (!n)
		return 0;
	if (r->len) {
		k = n < r->len ? n : r->len;
		memcpy(out, r->buf + r->off, k);
		r->off += k;
		r->len -= k;
		if (!r->len)
			ra_drop(r);
		return k;
	}
	got = read(r->fd, ra_scratch, sizeof(ra_scratch));
	if (got < 0) {
		if (errno == EAGAIN || errno == EINTR)
			BIO_set_retry_read(b);
		return -1;
	}
	k = n < (size_t)got ? n : (size_t)got;
	memcpy(out, ra_scratch, k);
	if ((size_t)got > k) {
		r->len = got - k;
		r->buf = r->len <= RA_INLINE ? r->inline_buf : malloc(r->len);
		if (!r->buf) {
			r->len = 0;
			errno = ENOMEM;
			return -1;
		}
		memcpy(r->buf, ra_scratch + k, r->len);
	}
	return k;
}

static int ra_write(BIO *b, const char *in, int n)
{
	struct ra_bio *r = BIO_get_data(b);
	ssize_t w;

	BIO_clear_retry_flags(b);
	w = write(r->fd, in, n > 0 ? (size_t)n : 0);
	if (w < 0 && (errno == EAGAIN || errno == EINTR))
		BIO_set_retry_write(b);
	return w;
}

static long ra_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct ra_bio *r = BIO_get_data(b);

	(void)num;
	switch (cmd) {
	case BIO_CTRL_PENDING:
		return r->len;
	case BIO_CTRL_FLUSH:
		return 1;
	case BIO_C_GET_FD:
		if (ptr)
			*(int *)ptr = r->fd;
		return r->fd;
	default:
		return 0;
	}
}

static int ra_destroy(BIO *b)
{
	struct ra_bio *r = BIO_get_data(b);

	if (r) {
		ra_drop(r);
		free(r);
	}
	BIO_set_data(b, NULL);
	BIO_set_init(b, 0);
	return 1;
}

int tlscompat__set_fd(SSL *ssl, int fd)
{
	struct ra_bio *r;
	BIO *b;

	if (!ra_method) {
		ra_method =
			BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
				     "lbtls read-ahead socket");
		if (!ra_method || !BIO_meth_set_read(ra_method, ra_read) ||
		    !BIO_meth_set_write(ra_method, ra_write) ||
		    !BIO_meth_set_ctrl(ra_method, ra_ctrl) ||
		    !BIO_meth_set_destroy(ra_method, ra_destroy))
			return 0;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return 0;
	r->fd = fd;
	b = BIO_new(ra_method);
	if (!b) {
		free(r);
		return 0;
	}
	BIO_set_data(b, r);
	BIO_set_init(b, 1);
	SSL_set_bio(ssl, b, b);
	return 1;
}

int tlscompat__pending(const SSL *ssl)
{
	return SSL_has_pending(ssl) || BIO_ctrl_pending(SSL_get_rbio(ssl));
}

int tlscompat__read_error(const SSL *ssl, int ret)
{
	int e = SSL_get_error(ssl, ret);

	if (e == SSL_ERROR_SYSCALL && ret == 0) {
		ERR_clear_error();
		return SSL_ERROR_ZERO_RETURN;
	}
	return e;
}

int tlscompat__set_groups(SSL_CTX *ctx, const char *list)
{
	return SSL_CTX_set1_curves_list(ctx, list);
}

int tlscompat__ctx_full(SSL_CTX *ctx)
{
	return SSL_CTX_get0_privatekey(ctx) != NULL;
}

/* Can the client verify a signature by a key of this type? */
static int peer_verifies(const uint16_t *sig, size_t n, int type)
{
	size_t i;

	if (!n) /* no signature_algorithms (TLS 1.2): RSA (RFC 5246 7.4.1.4.1) */
		return type == EVP_PKEY_RSA;
	for (i = 0; i < n; i++)
		if (SSL_get_signature_algorithm_key_type(sig[i]) == type)
			return 1;
	return 0;
}

/*
 * Certificate callback: after SNI picked the set, its context for a key
 * the client can verify, ECDSA before the others.
 */
static int pick_key_cb(SSL *s, void *arg)
{
	struct tlscompat_certset *cs = arg;
	const uint16_t *sig;
	size_t n = SSL_get0_peer_verify_algorithms(s, &sig);
	int best = -1, best_type = EVP_PKEY_NONE, type;
	unsigned i;

	for (i = 0; i < cs->nctx; i++) {
		type = EVP_PKEY_id(SSL_CTX_get0_privatekey(cs->ctx[i]));
		if (!peer_verifies(sig, n, type))
			continue;
		if (best < 0 ||
		    (type == EVP_PKEY_EC && best_type != EVP_PKEY_EC)) {
			best = i;
			best_type = type;
		}
	}
	/* none fits: leave it, the handshake fails as it would anyway */
	if (best >= 0 && cs->ctx[best] != SSL_get_SSL_CTX(s))
		SSL_set_SSL_CTX(s, cs->ctx[best]);
	return 1;
}

void tlscompat__certset_link(struct tlscompat_certset *cs)
{
	unsigned i;

	if (cs->nctx < 2)
		return;
	for (i = 0; i < cs->nctx; i++)
		SSL_CTX_set_cert_cb(cs->ctx[i], pick_key_cb, cs);
}

int tlscompat__set_tls13_suites(SSL_CTX *ctx, const char *list, char *note,
				size_t len)
{
	static const char *const fixed[] = {
		"TLS_AES_128_GCM_SHA256",
		"TLS_AES_256_GCM_SHA384",
		"TLS_CHACHA20_POLY1305_SHA256",
	};
	unsigned seen = 0, i;
	const char *p = list;

	(void)ctx;
	*note = 0;
	while (*p) {
		size_t n = strcspn(p, ":");

		for (i = 0; i < 3; i++)
			if (strlen(fixed[i]) == n && !strncmp(p, fixed[i], n))
				seen |= 1u << i;
		p += n + (p[n] == ':');
	}
	if (!seen)
		return 0;
	if (seen != 7)
		snprintf(
			note, len,
			"BoringSSL cannot restrict TLS 1.3 suites: %s, %s and %s stay enabled and the client's order picks",
			fixed[0], fixed[1], fixed[2]);
	return 1;
}

#else
/* --- OpenSSL 3.0 ----------------------------------------------------------- */

const char *tlscompat__version(void)
{
	static char v[160];

	const char *run = OpenSSL_version(OPENSSL_VERSION);

	/* the headers', and the library's when a newer one runs it */
	if (!*v && !strcmp(run, OPENSSL_VERSION_TEXT))
		snprintf(v, sizeof(v), "%s", run);
	else if (!*v)
		snprintf(v, sizeof(v), "%s (running %s)", OPENSSL_VERSION_TEXT,
			 run);
	return v;
}

int tlscompat__tickets_init(struct tlscompat_tickets *tk, unsigned rotation,
			    unsigned lifetime)
{
	/* Fetched once, not per ticket (openssl#21005). */
	tk->aes = EVP_CIPHER_fetch(NULL, "AES-256-CBC", NULL);
	tk->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	tk->kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	if (!tk->aes || !tk->sha256 || !tk->kdf)
		return -EIO;
	return tickets_setup(tk, rotation, lifetime);
}

void tlscompat__tickets_fini(struct tlscompat_tickets *tk)
{
	EVP_CIPHER_free((EVP_CIPHER *)tk->aes);
	EVP_MD_free((EVP_MD *)tk->sha256);
	EVP_KDF_free(tk->kdf);
	tk->aes = NULL;
	tk->sha256 = NULL;
	tk->kdf = NULL;
	tickets_wipe(tk);
}

/*
 * Once per epoch change per secret, never per handshake: the digest named
 * here is looked up by name on each call, which is fine at that rate.
 */
static int hkdf(struct tlscompat_tickets *tk, unsigned char *out,
		size_t out_len, const unsigned char *secret, size_t secret_len,
		const unsigned char *salt, size_t salt_len,
		const unsigned char *info, size_t info_len)
{
	EVP_KDF_CTX *kc = EVP_KDF_CTX_new(tk->kdf);
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
						 (char *)"SHA256", 0),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
						  (void *)secret, secret_len),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
						  (void *)salt, salt_len),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
						  (void *)info, info_len),
		OSSL_PARAM_construct_end(),
	};
	int ok = kc && EVP_KDF_derive(kc, out, out_len, params) == 1;

	EVP_KDF_CTX_free(kc);
	ERR_clear_error();
	return ok ? 0 : -EIO;
}

void tlscompat__set_session_lifetime(SSL_CTX *ctx, unsigned seconds)
{
	/* the cache's timeout, the ticket lifetime hint and the bound on
	 * resumption, TLS 1.2 and 1.3 */
	SSL_CTX_set_timeout(ctx, seconds);
}

void tlscompat__ctx_defaults(SSL_CTX *ctx)
{
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
					 SSL_OP_NO_COMPRESSION |
					 SSL_OP_IGNORE_UNEXPECTED_EOF);
}

int tlscompat__read_error(const SSL *ssl, int ret)
{
	return SSL_get_error(ssl, ret);
}

int tlscompat__set_fd(SSL *ssl, int fd)
{
	return SSL_set_fd(ssl, fd); /* read-ahead: SSL_CTX_set_read_ahead */
}

int tlscompat__pending(const SSL *ssl)
{
	return SSL_has_pending(ssl);
}

int tlscompat__set_groups(SSL_CTX *ctx, const char *list)
{
	return SSL_CTX_set1_groups_list(ctx, list);
}

int tlscompat__ctx_full(SSL_CTX *ctx)
{
	(void)ctx;
	return 0;
}

void tlscompat__certset_link(struct tlscompat_certset *cs)
{
	(void)cs;
}

int tlscompat__set_tls13_suites(SSL_CTX *ctx, const char *list, char *note,
				size_t len)
{
	(void)len;
	*note = 0;
	return SSL_CTX_set_ciphersuites(ctx, list);
}

#endif
