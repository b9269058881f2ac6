/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * TLS for lbtls: one set of SSL_CTXs per configuration generation, built by
 * the master before it forks the generation's workers (each worker then has
 * its own copy, hence its own session cache, with nothing shared to lock).
 * Certificates with the same names (an ECDSA and an RSA one) share a
 * context, so OpenSSL picks the key type the client can use; SNI picks the
 * context. Session tickets are sealed with keys every worker derives for
 * itself from the same secret and the time (tlscompat.h), so any worker,
 * and any host sharing the key file, resumes any client's session.
 */
#ifndef LBTLS_TLS_H
#define LBTLS_TLS_H

#include <stdio.h>
#include <openssl/ssl.h>

#include "config.h"
#include "tlscompat.h"

#define TLS_MAX_NAMES 64

struct tls_group {
	struct tlscompat_certset set; /* set.ctx[0]: what SNI picks */
	char *names[TLS_MAX_NAMES]; /* DNS names in the certificate(s) */
	unsigned nnames;
};

struct tls_ctx {
	struct tls_group groups[CFG_MAX_CERTS];
	unsigned ngroups;
	struct tlscompat_tickets
		tickets; /* keys and algorithms, fetched once */
};

/* A random ticket secret for when the configuration names no key file
 * (made once per master start: reloads keep it). */
int tls__random_key(struct tls_ticket_key *key);

/*
 * Build the contexts for cfg. Problems go to errs as "FILE:LINE: reason".
 * 'fallback' is the ticket secret when cfg has no session_ticket_key.
 */
int tls__ctx_new(const struct lbtls_config *cfg,
		 const struct tls_ticket_key *fallback, struct tls_ctx **out,
		 FILE *errs);
void tls__ctx_free(struct tls_ctx *t);

/* A server-side SSL on fd, non-blocking, not yet handshaken. */
SSL *tls__ssl_new(struct tls_ctx *t, int fd);

#endif /* LBTLS_TLS_H */
