/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The TLS library lbtls is built with (DESIGN D10): OpenSSL 3.0 (`make`,
 * the default) or BoringSSL (`make TLS=boringssl`, Debian's
 * android-libboringssl). Everything that differs between the two lives
 * in tlscompat.c, the only file that asks which one it is built against;
 * the rest of the tier uses the API both share (SSL_new, SSL_read,
 * SSL_get_error, SNI and ALPN callbacks, certificate loading...).
 *
 * What differs: the TLS 1.3 suite setting (BoringSSL has none), the name
 * of the group-list call, algorithm fetching for the ticket callback
 * (OpenSSL 3.0 looks algorithms up by name unless they are fetched once,
 * openssl#21005; BoringSSL's are static), one key per SSL_CTX in
 * BoringSSL, HKDF (EVP_KDF against <openssl/hkdf.h>), the TLS 1.3
 * session lifetime, the unexpected-EOF option, error strings and the
 * version.
 */
#ifndef LBTLS_TLSCOMPAT_H
#define LBTLS_TLSCOMPAT_H

#include <stddef.h>
#include <openssl/ssl.h>

#define TLS_TICKET_KEY_LEN 80
#define TLS_MAX_TICKET_KEYS 16

/* nginx's 80-byte ticket key: name[16], HMAC key[32], AES key[32]. */
struct tls_ticket_key {
	unsigned char name[16];
	unsigned char hmac[32];
	unsigned char aes[32];
};

/*
 * Session ticket keys that rotate with no IPC between workers or hosts.
 * Time is cut into epochs of 'rotation' seconds, epoch = floor(unix time /
 * rotation) (CLOCK_REALTIME, so that hosts agree). The key of an epoch
 * (name, HMAC and AES keys: 80 bytes) is
 *
 *   HKDF-SHA256(IKM = secret, salt = "lbtls ticket key",
 *               info = "lbtls ticket epoch" || be64(rotation) || be64(epoch))
 *
 * so every worker forked from one master, and every host that reads the
 * same key file, computes the same key for the same epoch by itself. The
 * secrets are the 80-byte keys of tls.session_ticket_key ([0] seals, the
 * others still open: the operator's own rotation of the file keeps
 * working) or, without a file, one random secret made at master start.
 * The current epoch's key of secret [0] seals. A ticket opens when its
 * key name is that of an epoch in which a ticket still within 'lifetime'
 * may have been sealed, floor((now - lifetime) / rotation) .. now's, or
 * the next one (a host whose clock is a little ahead); a key other than
 * the sealing one gets the ticket renewed. A worker derives keys only
 * when the epoch changes: ceil(lifetime / rotation) + 2 per secret, kept
 * in 'keys'. The ticket's age itself is bounded by the session timeout
 * (tlscompat__set_session_lifetime), exact to the second.
 */
struct tlscompat_tickets {
	struct tls_ticket_key secrets[TLS_MAX_TICKET_KEYS]; /* [0] seals */
	unsigned nsecrets;
	unsigned rotation; /* seconds */
	unsigned lifetime; /* seconds */
	unsigned nwin; /* epochs kept per secret */
	long long top; /* newest epoch in keys (now's + 1) */
	/* keys[s * nwin + i]: secret s, epoch top - i; NULL: none derived */
	struct tls_ticket_key *keys;
	long long (*now)(void); /* unix seconds; tests inject a clock */
	const EVP_CIPHER *aes;
	const EVP_MD *sha256;
	void *kdf; /* OpenSSL: the EVP_KDF for HKDF, fetched once */
};

/*
 * The contexts of one set of certificates with the same names (an ECDSA
 * and an RSA one). OpenSSL keeps every key type in one SSL_CTX and picks
 * by the client's signature algorithms itself: ctx[0] only. BoringSSL
 * holds one key per SSL_CTX: one context per certificate, and a
 * certificate callback that moves the connection to the context whose key
 * the client can verify (ECDSA first).
 */
#define TLSCOMPAT_MAX_KEYS 4

struct tlscompat_certset {
	SSL_CTX *ctx[TLSCOMPAT_MAX_KEYS];
	unsigned nctx;
};

/* Whether the next certificate of a set needs a context of its own. */
int tlscompat__ctx_full(SSL_CTX *ctx);

/* Once the set is complete (cs stays where it is while its contexts live). */
void tlscompat__certset_link(struct tlscompat_certset *cs);

/* "OpenSSL 3.0.x ..." or "BoringSSL (...)": what lbtls -V prints. */
const char *tlscompat__version(void);

/*
 * Fetch the ticket algorithms and set the schedule (seconds, both > 0).
 * The caller fills secrets and nsecrets. 0 or -EIO.
 */
int tlscompat__tickets_init(struct tlscompat_tickets *tk, unsigned rotation,
			    unsigned lifetime);
/* Release them and wipe the keys. */
void tlscompat__tickets_fini(struct tlscompat_tickets *tk);

/*
 * The key that seals a ticket now (name NULL), or the one whose name is
 * 'name' if it may open a ticket now (NULL when none: a full handshake);
 * *renew says a key other than the sealing one opened it. Derives the
 * epoch's keys when the epoch changed (NULL if that fails).
 */
const struct tls_ticket_key *tlscompat__ticket_key(struct tlscompat_tickets *tk,
						   const unsigned char *name,
						   int *renew);

/*
 * How long a session, hence a ticket, resumes: the session cache's timeout
 * and the ticket lifetime hint, in TLS 1.2 and 1.3 (BoringSSL has a
 * second setting for TLS 1.3).
 */
void tlscompat__set_session_lifetime(SSL_CTX *ctx, unsigned seconds);

/* Seal and open ctx's session tickets with tk (which outlives ctx). */
int tlscompat__set_tickets(SSL_CTX *ctx, struct tlscompat_tickets *tk);

/*
 * What both libraries do differently by default: read an EOF without
 * close_notify as the end of the connection (OpenSSL 3.0 reports it as an
 * error unless told), renegotiation and compression off.
 */
void tlscompat__ctx_defaults(SSL_CTX *ctx);

/*
 * SSL_get_error() after SSL_read(), with an EOF that came without
 * close_notify read as the end of the stream (SSL_ERROR_ZERO_RETURN): a
 * client may half-close TCP after its request and still wait for the
 * answer. OpenSSL does this with SSL_OP_IGNORE_UNEXPECTED_EOF; BoringSSL
 * reports SSL_ERROR_SYSCALL with a return of 0.
 */
int tlscompat__read_error(const SSL *ssl, int ret);

/*
 * Connect ssl to the socket fd (not closed with it), reading ahead: a
 * record's header and body, and whatever follows, in one read(). OpenSSL:
 * SSL_set_fd, with SSL_CTX_set_read_ahead. BoringSSL has no read-ahead
 * (two reads per record): a socket BIO of ours that reads up to 18 KiB
 * at once and keeps what the record layer has not asked for yet.
 */
int tlscompat__set_fd(SSL *ssl, int fd);

/* Bytes ssl holds that the socket no longer shows (SSL_has_pending, plus
 * what the BoringSSL read-ahead BIO keeps): read again without waiting. */
int tlscompat__pending(const SSL *ssl);

/* "X25519:P-256:P-384". 1, or 0 when a group is unknown. */
int tlscompat__set_groups(SSL_CTX *ctx, const char *list);

/*
 * TLS 1.3 suites, "TLS_AES_128_GCM_SHA256:...". Returns 1, or 0 when the
 * list names no suite the library knows. BoringSSL cannot restrict them
 * (the three are always on, the client's order picks): when the list is
 * not all three, 1 is returned with a warning in note (else note is "").
 */
int tlscompat__set_tls13_suites(SSL_CTX *ctx, const char *list, char *note,
				size_t len);

/* The oldest queued error as "library: reason", queue cleared ("" if none). */
const char *tlscompat__err_str(char *buf, size_t len);

#endif /* LBTLS_TLSCOMPAT_H */
