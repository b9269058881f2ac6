// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * SSL_CTX construction, SNI, ALPN and the session ticket key callback.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "tls.h"

#define SESSION_CACHE_SIZE 20480

int tls__random_key(struct tls_ticket_key *key)
{
	return RAND_bytes((unsigned char *)key, sizeof(*key)) == 1 ? 0 : -EIO;
}

/*
 * Read nginx's 80-byte keys from 'path'. Returns 0, -errno, -EINVAL when
 * the size is not a multiple of 80, or -E2BIG with *found set when the file
 * holds more than TLS_MAX_TICKET_KEYS keys (cutting the list silently would
 * drop the keys that open tickets issued before a rotation).
 */
static int load_ticket_keys(struct tls_ctx *t, const char *path, size_t *found)
{
	unsigned char buf[TLS_TICKET_KEY_LEN * TLS_MAX_TICKET_KEYS];
	unsigned char rest[TLS_TICKET_KEY_LEN];
	size_t len = 0, total;
	ssize_t n = 0;
	int fd, err = 0;
	unsigned i;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (len < sizeof(buf) &&
	       (n = read(fd, buf + len, sizeof(buf) - len)) > 0)
		len += n;
	/* count what does not fit, to say how much there was */
	total = len;
	while (len == sizeof(buf) && (n = read(fd, rest, sizeof(rest))) > 0)
		total += n;
	if (n < 0)
		err = -errno;
	else if (total == 0 || total % TLS_TICKET_KEY_LEN)
		err = -EINVAL;
	else if (total > sizeof(buf))
		err = -E2BIG;
	close(fd);
	*found = total / TLS_TICKET_KEY_LEN;
	if (err)
		goto out;
	t->tickets.nsecrets = len / TLS_TICKET_KEY_LEN;
	/* nginx's 80-byte keys; here each is the secret the epochs' keys
	 * are derived from (tlscompat.h) */
	for (i = 0; i < t->tickets.nsecrets; i++)
		memcpy(&t->tickets.secrets[i], buf + i * TLS_TICKET_KEY_LEN,
		       TLS_TICKET_KEY_LEN);
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	OPENSSL_cleanse(rest, sizeof(rest));
	return err;
}

static int alpn_cb(SSL *s, const unsigned char **out, unsigned char *outlen,
		   const unsigned char *in, unsigned int inlen, void *arg)
{
	/* Server preference: h2 first when http2 is on (RFC 9113 3.2);
	 * http/1.0 for clients such as curl --http1.0. */
	static const unsigned char with_h2[] = "\x02h2\x08http/1.1\x08http/1.0";
	const unsigned char *ours = with_h2 + 3;
	unsigned ours_len = sizeof(with_h2) - 1 - 3;
	unsigned char *sel;

	(void)s;
	if (arg) {
		ours = with_h2;
		ours_len = sizeof(with_h2) - 1;
	}
	if (SSL_select_next_proto(&sel, outlen, ours, ours_len, in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL; /* RFC 7301 3.2 */
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

/* "*.example.com" covers exactly one label (RFC 6125 6.4.3). */
static bool name_matches(const char *pattern, const char *host)
{
	const char *dot;

	if (!strcasecmp(pattern, host))
		return true;
	if (strncmp(pattern, "*.", 2))
		return false;
	dot = strchr(host, '.');
	return dot && dot != host && !strcasecmp(pattern + 1, dot);
}

static int sni_cb(SSL *s, int *alert, void *arg)
{
	struct tls_ctx *t = arg;
	const char *host = SSL_get_servername(s, TLSEXT_NAMETYPE_host_name);
	unsigned g, i;

	(void)alert;
	if (!host)
		return SSL_TLSEXT_ERR_OK;
	for (g = 0; g < t->ngroups; g++)
		for (i = 0; i < t->groups[g].nnames; i++)
			if (name_matches(t->groups[g].names[i], host)) {
				if (g)
					SSL_set_SSL_CTX(
						s, t->groups[g].set.ctx[0]);
				return SSL_TLSEXT_ERR_OK;
			}
	/* Unknown name: the first certificate, as nginx's default server. */
	return SSL_TLSEXT_ERR_OK;
}

static int add_name(struct tls_group *g, const char *name)
{
	unsigned i;

	for (i = 0; i < g->nnames; i++)
		if (!strcasecmp(g->names[i], name))
			return 0;
	if (g->nnames == TLS_MAX_NAMES)
		return 0;
	g->names[g->nnames] = strdup(name);
	if (!g->names[g->nnames])
		return -ENOMEM;
	g->nnames++;
	return 0;
}

/* Names of the leaf certificate: DNS SANs, else the subject CN. */
static int cert_names(const char *path, struct tls_group *g)
{
	GENERAL_NAMES *sans;
	X509 *x = NULL;
	FILE *f;
	int i, nsans, err = 0;

	f = fopen(path, "re");
	if (!f)
		return -errno;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!x)
		return -EINVAL;
	sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	/* int in OpenSSL, size_t in BoringSSL */
	nsans = sans ? (int)sk_GENERAL_NAME_num(sans) : 0;
	for (i = 0; i < nsans && !err; i++) {
		GENERAL_NAME *gn = sk_GENERAL_NAME_value(sans, i);

		if (gn->type == GEN_DNS)
			err = add_name(g, (const char *)ASN1_STRING_get0_data(
						  gn->d.dNSName));
	}
	GENERAL_NAMES_free(sans);
	if (!err && !g->nnames) {
		char cn[256];

		if (X509_NAME_get_text_by_NID(X509_get_subject_name(x),
					      NID_commonName, cn,
					      sizeof(cn)) > 0)
			err = add_name(g, cn);
	}
	X509_free(x);
	return err;
}

static bool same_names(const struct tls_group *a, const struct tls_group *b)
{
	unsigned i, j;

	if (a->nnames != b->nnames)
		return false;
	for (i = 0; i < a->nnames; i++) {
		for (j = 0; j < b->nnames; j++)
			if (!strcasecmp(a->names[i], b->names[j]))
				break;
		if (j == b->nnames)
			return false;
	}
	return true;
}

static SSL_CTX *ctx_new(const struct lbtls_config *cfg, struct tls_ctx *t,
			FILE *errs)
{
	const struct cfg_tls *c = &cfg->tls;
	char ebuf[256], note[256];
	SSL_CTX *ctx;

	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx)
		goto fail;
	SSL_CTX_set_min_proto_version(ctx, c->min_proto);
	SSL_CTX_set_max_proto_version(ctx, c->max_proto);
	if (!SSL_CTX_set_cipher_list(ctx, c->ciphers)) {
		if (errs)
			fprintf(errs,
				"%s: tls.ciphers '%s': no usable cipher\n",
				cfg->path, c->ciphers);
		goto fail;
	}
	if (!tlscompat__set_tls13_suites(ctx, c->ciphersuites, note,
					 sizeof(note))) {
		if (errs)
			fprintf(errs,
				"%s: tls.ciphersuites '%s': no usable suite\n",
				cfg->path, c->ciphersuites);
		goto fail;
	}
	if (*note && errs)
		fprintf(errs, "%s: warning: tls.ciphersuites '%s': %s\n",
			cfg->path, c->ciphersuites, note);
	if (!tlscompat__set_groups(ctx, c->groups)) {
		if (errs)
			fprintf(errs, "%s: tls.groups '%s': unknown group\n",
				cfg->path, c->groups);
		goto fail;
	}
	tlscompat__ctx_defaults(ctx);
	/* The client's order by default (nginx's ssl_prefer_server_ciphers
	 * off): every suite allowed is AEAD with forward secrecy, and a client
	 * without AES hardware puts ChaCha20 first. */
	if (c->prefer_server_ciphers)
		SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* NO_AUTO_CHAIN: the chain is the fullchain file's, as given. Without
	 * it OpenSSL, finding no intermediate after the leaf (a self-signed
	 * or leaf-only file), runs X509_verify_cert against the context's
	 * store at every handshake to build one; that store is empty here,
	 * so it never added a certificate. BoringSSL never auto-chains. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
				      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
				      SSL_MODE_RELEASE_BUFFERS |
				      SSL_MODE_NO_AUTO_CHAIN);
	/* A record's header and body in one read(), not two; client.c asks
	 * tlsio__pending() for what this buffers beyond the record. BoringSSL
	 * ignores it: its read-ahead is tlscompat__set_fd()'s BIO. */
	SSL_CTX_set_read_ahead(ctx, 1);
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"lbtls", 5);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	SSL_CTX_sess_set_cache_size(ctx, SESSION_CACHE_SIZE);
	/* a session, from the cache or a ticket, resumes for this long */
	tlscompat__set_session_lifetime(ctx, c->ticket_lifetime_s);
	if (!tlscompat__set_tickets(ctx, &t->tickets))
		goto fail;
	SSL_CTX_set_alpn_select_cb(ctx, alpn_cb,
				   cfg->http2.enabled ? (void *)1 : NULL);
	SSL_CTX_set_tlsext_servername_callback(ctx, sni_cb);
	SSL_CTX_set_tlsext_servername_arg(ctx, t);
	return ctx;
fail:
	if (errs && !ctx)
		fprintf(errs, "%s: cannot create TLS context: %s\n", cfg->path,
			tlscompat__err_str(ebuf, sizeof(ebuf)));
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return NULL;
}

static int load_cert(const struct lbtls_config *cfg, const struct cfg_cert *c,
		     SSL_CTX *ctx, FILE *errs)
{
	char ebuf[256];

	if (SSL_CTX_use_certificate_chain_file(ctx, c->fullchain) != 1) {
		if (errs)
			fprintf(errs, "%s:%d: certificate '%s': %s\n",
				cfg->path, c->line, c->fullchain,
				tlscompat__err_str(ebuf, sizeof(ebuf)));
		return -EINVAL;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, c->privkey, SSL_FILETYPE_PEM) !=
	    1) {
		if (errs)
			fprintf(errs, "%s:%d: private key '%s': %s\n",
				cfg->path, c->line, c->privkey,
				tlscompat__err_str(ebuf, sizeof(ebuf)));
		return -EINVAL;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		if (errs)
			fprintf(errs,
				"%s:%d: private key '%s' does not match certificate '%s'\n",
				cfg->path, c->line, c->privkey, c->fullchain);
		ERR_clear_error();
		return -EINVAL;
	}
	return 0;
}

int tls__ctx_new(const struct lbtls_config *cfg,
		 const struct tls_ticket_key *fallback, struct tls_ctx **out,
		 FILE *errs)
{
	struct tls_ctx *t;
	struct tls_group probe;
	struct tlscompat_certset *set;
	char ebuf[256];
	unsigned i, g;
	int err = -EINVAL, nerr = 0, e;

	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	if (tlscompat__tickets_init(&t->tickets, cfg->tls.ticket_rotation_s,
				    cfg->tls.ticket_lifetime_s)) {
		tlscompat__tickets_fini(&t->tickets);
		free(t);
		return -EIO;
	}
	if (*cfg->tls.ticket_key_file) {
		size_t found = 0;

		e = load_ticket_keys(t, cfg->tls.ticket_key_file, &found);
		if (e == -E2BIG) {
			if (errs)
				fprintf(errs,
					"%s:%d: session ticket key '%s': %zu keys, at most %d\n",
					cfg->path, cfg->tls.ticket_key_line,
					cfg->tls.ticket_key_file, found,
					TLS_MAX_TICKET_KEYS);
			nerr++;
		} else if (e) {
			if (errs)
				fprintf(errs,
					"%s:%d: session ticket key '%s': %s\n",
					cfg->path, cfg->tls.ticket_key_line,
					cfg->tls.ticket_key_file,
					e == -EINVAL ?
						"size is not a multiple of 80 bytes" :
						strerror(-e));
			nerr++;
		}
	} else if (fallback) {
		t->tickets.secrets[0] = *fallback;
		t->tickets.nsecrets = 1;
	}
	/* the first derivation here, in the master: a failure is a config
	 * error, and the forked workers start with the keys of now */
	if (!nerr && t->tickets.nsecrets &&
	    !tlscompat__ticket_key(&t->tickets, NULL, &e)) {
		if (errs)
			fprintf(errs,
				"%s: cannot derive session ticket keys: %s\n",
				cfg->path,
				tlscompat__err_str(ebuf, sizeof(ebuf)));
		nerr++;
	}
	for (i = 0; i < cfg->tls.ncerts; i++) {
		const struct cfg_cert *c = &cfg->tls.certs[i];

		memset(&probe, 0, sizeof(probe));
		e = cert_names(c->fullchain, &probe);
		if (e) {
			if (errs)
				fprintf(errs, "%s:%d: certificate '%s': %s\n",
					cfg->path, c->line, c->fullchain,
					e == -EINVAL ?
						"no PEM certificate in file" :
						strerror(-e));
			nerr++;
			goto next;
		}
		for (g = 0; g < t->ngroups; g++)
			if (same_names(&t->groups[g], &probe))
				break;
		if (g == t->ngroups) {
			t->groups[g] = probe;
			memset(&probe, 0, sizeof(probe));
			t->ngroups++;
		}
		set = &t->groups[g].set;
		/* BoringSSL: one key per context (tlscompat.h) */
		if (!set->nctx ||
		    tlscompat__ctx_full(set->ctx[set->nctx - 1])) {
			if (set->nctx == TLSCOMPAT_MAX_KEYS) {
				if (errs)
					fprintf(errs,
						"%s:%d: certificate '%s': more than %d certificates for the same names\n",
						cfg->path, c->line,
						c->fullchain,
						TLSCOMPAT_MAX_KEYS);
				nerr++;
				goto next;
			}
			set->ctx[set->nctx] = ctx_new(cfg, t, errs);
			if (!set->ctx[set->nctx]) {
				nerr++;
				goto next;
			}
			set->nctx++;
		}
		if (load_cert(cfg, c, set->ctx[set->nctx - 1], errs))
			nerr++;
next:
		while (probe.nnames)
			free(probe.names[--probe.nnames]);
	}
	if (nerr)
		goto fail;
	for (g = 0; g < t->ngroups; g++)
		tlscompat__certset_link(&t->groups[g].set);
	*out = t;
	return 0;
fail:
	tls__ctx_free(t);
	return err;
}

void tls__ctx_free(struct tls_ctx *t)
{
	unsigned g, i;

	if (!t)
		return;
	for (g = 0; g < t->ngroups; g++) {
		for (i = 0; i < t->groups[g].set.nctx; i++)
			SSL_CTX_free(t->groups[g].set.ctx[i]);
		while (t->groups[g].nnames)
			free(t->groups[g].names[--t->groups[g].nnames]);
	}
	tlscompat__tickets_fini(&t->tickets);
	free(t);
}

SSL *tls__ssl_new(struct tls_ctx *t, int fd)
{
	SSL *ssl;

	if (!t->ngroups)
		return NULL;
	if (!t->groups[0].set.nctx)
		return NULL;
	ssl = SSL_new(t->groups[0].set.ctx[0]);
	if (!ssl)
		return NULL;
	if (!tlscompat__set_fd(ssl, fd)) {
		SSL_free(ssl);
		return NULL;
	}
	SSL_set_accept_state(ssl);
	return ssl;
}
