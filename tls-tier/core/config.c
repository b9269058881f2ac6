// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * YAML configuration, parsed with libyaml's document API: the node tree
 * keeps each node's start mark, which is what puts a line number on every
 * error. Parsing never stops at the first problem, so one `lbtls -t` run
 * lists them all.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <yaml.h>

#include "config.h"

#define ERROR_PAGE_MAX (64 * 1024)

struct parser {
	yaml_document_t doc;
	const char *file;
	FILE *errs;
	int nerr;
	struct lbtls_config *cfg;
	bool discovery; /* config__load_discovery(): upstream.docker, .file */
};

static void perr_line(struct parser *p, size_t line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void perr_line(struct parser *p, size_t line, const char *fmt, ...)
{
	va_list ap;

	p->nerr++;
	if (!p->errs)
		return;
	fprintf(p->errs, "%s:%zu: ", p->file, line);
	va_start(ap, fmt);
	vfprintf(p->errs, fmt, ap);
	va_end(ap);
	fputc('\n', p->errs);
}

#define perr(p, node, ...) \
	perr_line(p, (node)->start_mark.line + 1, __VA_ARGS__)

/* A setting that loads but is risky: said, not counted as an error. */
static void pwarn(struct parser *p, yaml_node_t *node, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void pwarn(struct parser *p, yaml_node_t *node, const char *fmt, ...)
{
	va_list ap;

	if (!p->errs)
		return;
	fprintf(p->errs, "%s:%zu: warning: ", p->file,
		(size_t)node->start_mark.line + 1);
	va_start(ap, fmt);
	vfprintf(p->errs, fmt, ap);
	va_end(ap);
	fputc('\n', p->errs);
}

static const char *scalar(yaml_node_t *n)
{
	return n->type == YAML_SCALAR_NODE ?
		       (const char *)n->data.scalar.value :
		       NULL;
}

static const char *node_kind(yaml_node_t *n)
{
	switch (n->type) {
	case YAML_MAPPING_NODE:
		return "a mapping";
	case YAML_SEQUENCE_NODE:
		return "a list";
	default:
		return "a scalar";
	}
}

static int get_str(struct parser *p, const char *key, yaml_node_t *n, char *out,
		   size_t size)
{
	const char *s = scalar(n);

	if (!s) {
		perr(p, n, "'%s' expects a string, got %s", key, node_kind(n));
		return -EINVAL;
	}
	if (strlen(s) >= size) {
		perr(p, n, "'%s' is too long (max %zu bytes)", key, size - 1);
		return -EINVAL;
	}
	strcpy(out, s);
	return 0;
}

static int get_uint(struct parser *p, const char *key, yaml_node_t *n,
		    unsigned long min, unsigned long max, unsigned *out)
{
	const char *s = scalar(n);
	unsigned long v;
	char *end;

	if (!s || !*s || *s == '-')
		goto bad;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		goto bad;
	*out = v;
	return 0;
bad:
	perr(p, n, "'%s' expects an integer %lu..%lu, got '%s'", key, min, max,
	     s ? s : node_kind(n));
	return -EINVAL;
}

/* "250ms", "10s", "2m", "1h"; a bare number is seconds (nginx's habit). */
static int get_duration(struct parser *p, const char *key, yaml_node_t *n,
			unsigned *ms)
{
	const char *s = scalar(n);
	unsigned long long v, mul = 1000;
	char *end;

	if (!s || !*s || *s == '-')
		goto bad;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		goto bad;
	if (!strcmp(end, "ms"))
		mul = 1;
	else if (!strcmp(end, "s") || !*end)
		mul = 1000;
	else if (!strcmp(end, "m"))
		mul = 60000;
	else if (!strcmp(end, "h"))
		mul = 3600000;
	else
		goto bad;
	if (v > 86400000ULL / mul)
		goto bad;
	*ms = v * mul;
	return 0;
bad:
	perr(p, n,
	     "'%s' expects a duration like 500ms, 10s, 2m (max 24h), got '%s'",
	     key, s ? s : node_kind(n));
	return -EINVAL;
}

/* A duration in whole seconds, at least 1s (ticket keys, session lifetime). */
static int get_seconds(struct parser *p, const char *key, yaml_node_t *n,
		       unsigned *s)
{
	unsigned ms;

	if (get_duration(p, key, n, &ms))
		return -EINVAL;
	if (ms < 1000 || ms % 1000) {
		perr(p, n, "'%s' expects whole seconds, 1s..24h, got '%s'", key,
		     scalar(n));
		return -EINVAL;
	}
	*s = ms / 1000;
	return 0;
}

/* "512", "8k", "1m", "1g" bytes. */
static int get_size(struct parser *p, const char *key, yaml_node_t *n,
		    uint64_t min, uint64_t max, uint64_t *out)
{
	const char *s = scalar(n);
	unsigned long long v, mul = 1;
	char *end;

	if (!s || !*s || *s == '-')
		goto bad;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		goto bad;
	if (!strcasecmp(end, "k"))
		mul = 1024;
	else if (!strcasecmp(end, "m"))
		mul = 1024 * 1024;
	else if (!strcasecmp(end, "g"))
		mul = 1024 * 1024 * 1024;
	else if (*end)
		goto bad;
	if (v > max / mul || v * mul < min)
		goto bad;
	*out = v * mul;
	return 0;
bad:
	perr(p, n, "'%s' expects a size %llu..%llu like 8k or 1m, got '%s'",
	     key, (unsigned long long)min, (unsigned long long)max,
	     s ? s : node_kind(n));
	return -EINVAL;
}

static int get_bool(struct parser *p, const char *key, yaml_node_t *n,
		    bool *out)
{
	const char *s = scalar(n);

	if (s &&
	    (!strcmp(s, "true") || !strcmp(s, "on") || !strcmp(s, "yes"))) {
		*out = true;
		return 0;
	}
	if (s &&
	    (!strcmp(s, "false") || !strcmp(s, "off") || !strcmp(s, "no"))) {
		*out = false;
		return 0;
	}
	perr(p, n, "'%s' expects true or false, got '%s'", key,
	     s ? s : node_kind(n));
	return -EINVAL;
}

int config__parse_addr(const char *s, struct cfg_addr *out, bool resolve)
{
	char host[256] = "", port[16];
	const char *colon;
	struct addrinfo hints = { 0 }, *res = NULL;
	unsigned long pnum;
	char *end;
	int err = -EINVAL;

	if (strlen(s) >= sizeof(out->text))
		goto out;
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (!rb || rb[1] != ':' || (size_t)(rb - s - 1) >= sizeof(host))
			goto out;
		memcpy(host, s + 1, rb - s - 1);
		host[rb - s - 1] = 0;
		colon = rb + 1;
	} else if ((colon = strrchr(s, ':'))) {
		if ((size_t)(colon - s) >= sizeof(host) ||
		    memchr(s, ':', colon - s))
			goto out;
		memcpy(host, s, colon - s);
		host[colon - s] = 0;
	} else {
		colon = s - 1; /* bare port: all addresses */
		strcpy(host, "0.0.0.0");
	}
	if (strlen(colon + 1) >= sizeof(port))
		goto out;
	strcpy(port, colon + 1);
	errno = 0;
	pnum = strtoul(port, &end, 10);
	if (!*port || *end || errno || pnum < 1 || pnum > 65535)
		goto out;
	if (!*host || !strcmp(host, "*"))
		strcpy(host, "0.0.0.0");
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | (resolve ? 0 : AI_NUMERICHOST);
	if (getaddrinfo(host, port, &hints, &res) || !res) {
		err = -ENOENT;
		goto out;
	}
	memset(out, 0, sizeof(*out));
	memcpy(&out->ss, res->ai_addr, res->ai_addrlen);
	out->len = res->ai_addrlen;
	out->port = pnum;
	strcpy(out->text, s);
	freeaddrinfo(res);
	err = 0;
out:
	return err;
}

static int get_addr(struct parser *p, const char *key, yaml_node_t *n,
		    struct cfg_addr *out)
{
	const char *s = scalar(n);
	int err;

	if (!s) {
		perr(p, n,
		     "'%s' expects an address like 127.0.0.1:443 or [::1]:443, got %s",
		     key, node_kind(n));
		return -EINVAL;
	}
	err = config__parse_addr(s, out, false);
	if (err) {
		perr(p, n,
		     "'%s': bad address '%s' (want IP:PORT, [IPv6]:PORT or PORT)",
		     key, s);
		return err;
	}
	out->line = n->start_mark.line + 1;
	return 0;
}

/* Iterate a mapping: k and v are the key/value nodes of each pair. */
#define for_each_pair(p, map, k, v)                                     \
	for (yaml_node_pair_t *pair_ = (map)->data.mapping.pairs.start; \
	     pair_ < (map)->data.mapping.pairs.top &&                   \
	     ((k) = yaml_document_get_node(&(p)->doc, pair_->key)) &&   \
	     ((v) = yaml_document_get_node(&(p)->doc, pair_->value));   \
	     pair_++)

#define for_each_item(p, seq, it)                                        \
	for (yaml_node_item_t *item_ = (seq)->data.sequence.items.start; \
	     item_ < (seq)->data.sequence.items.top &&                   \
	     ((it) = yaml_document_get_node(&(p)->doc, *item_));         \
	     item_++)

static bool want_map(struct parser *p, const char *key, yaml_node_t *n)
{
	if (n->type == YAML_MAPPING_NODE)
		return true;
	perr(p, n, "'%s' expects a mapping, got %s", key, node_kind(n));
	return false;
}

static void parse_listen_list(struct parser *p, const char *key, yaml_node_t *n,
			      struct cfg_addr *out, unsigned *count)
{
	yaml_node_t *it;

	if (n->type == YAML_SCALAR_NODE) {
		if (!get_addr(p, key, n, &out[0]))
			*count = 1;
		return;
	}
	if (n->type != YAML_SEQUENCE_NODE) {
		perr(p, n, "'%s' expects an address or a list of addresses",
		     key);
		return;
	}
	for_each_item(p, n, it)
	{
		if (*count == CFG_MAX_LISTEN) {
			perr(p, it, "'%s': more than %d addresses", key,
			     CFG_MAX_LISTEN);
			return;
		}
		if (!get_addr(p, key, it, &out[*count]))
			(*count)++;
	}
}

static void parse_listen(struct parser *p, yaml_node_t *n)
{
	yaml_node_t *k, *v;

	if (!want_map(p, "listen", n))
		return;
	for_each_pair(p, n, k, v)
	{
		const char *key = scalar(k) ? scalar(k) : "";

		if (!strcmp(key, "https"))
			parse_listen_list(p, "listen.https", v, p->cfg->https,
					  &p->cfg->nhttps);
		else if (!strcmp(key, "http"))
			parse_listen_list(p, "listen.http", v, p->cfg->http,
					  &p->cfg->nhttp);
		else
			perr(p, k,
			     "unknown setting 'listen.%s' (want https, http)",
			     key);
	}
}

static int proto_version(const char *s)
{
	if (!strcmp(s, "TLSv1.2"))
		return TLS1_2_VERSION;
	if (!strcmp(s, "TLSv1.3"))
		return TLS1_3_VERSION;
	return 0;
}

static void parse_certs(struct parser *p, yaml_node_t *n)
{
	struct cfg_tls *tls = &p->cfg->tls;
	yaml_node_t *it, *k, *v;

	if (n->type != YAML_SEQUENCE_NODE) {
		perr(p, n,
		     "'tls.certificates' expects a list of {fullchain, privkey}");
		return;
	}
	for_each_item(p, n, it)
	{
		struct cfg_cert *c = &tls->certs[tls->ncerts];

		if (tls->ncerts == CFG_MAX_CERTS) {
			perr(p, it, "'tls.certificates': more than %d entries",
			     CFG_MAX_CERTS);
			return;
		}
		if (!want_map(p, "tls.certificates[]", it))
			continue;
		memset(c, 0, sizeof(*c));
		c->line = it->start_mark.line + 1;
		for_each_pair(p, it, k, v)
		{
			const char *key = scalar(k) ? scalar(k) : "";

			if (!strcmp(key, "fullchain"))
				get_str(p, "fullchain", v, c->fullchain,
					sizeof(c->fullchain));
			else if (!strcmp(key, "privkey"))
				get_str(p, "privkey", v, c->privkey,
					sizeof(c->privkey));
			else
				perr(p, k,
				     "unknown setting '%s' in a certificate (want fullchain, privkey)",
				     key);
		}
		if (!*c->fullchain || !*c->privkey) {
			perr(p, it,
			     "certificate needs both 'fullchain' and 'privkey'");
			continue;
		}
		if (access(c->fullchain, R_OK))
			perr(p, it, "certificate '%s': %s", c->fullchain,
			     strerror(errno));
		if (access(c->privkey, R_OK))
			perr(p, it, "private key '%s': %s", c->privkey,
			     strerror(errno));
		tls->ncerts++;
	}
}

static void parse_tls(struct parser *p, yaml_node_t *n)
{
	struct cfg_tls *tls = &p->cfg->tls;
	yaml_node_t *k, *v, *it, *last_tk = NULL;
	unsigned kept;

	if (!want_map(p, "tls", n))
		return;
	for_each_pair(p, n, k, v)
	{
		const char *key = scalar(k) ? scalar(k) : "";

		if (!strcmp(key, "certificates")) {
			parse_certs(p, v);
		} else if (!strcmp(key, "protocols")) {
			int lo = 0, hi = 0;

			if (v->type != YAML_SEQUENCE_NODE) {
				perr(p, v,
				     "'tls.protocols' expects a list like [TLSv1.2, TLSv1.3]");
				continue;
			}
			for_each_item(p, v, it)
			{
				int ver = scalar(it) ?
						  proto_version(scalar(it)) :
						  0;

				if (!ver) {
					perr(p, it,
					     "'tls.protocols': unsupported protocol '%s' (want TLSv1.2, TLSv1.3)",
					     scalar(it) ? scalar(it) : "?");
					continue;
				}
				if (!lo || ver < lo)
					lo = ver;
				if (ver > hi)
					hi = ver;
			}
			if (lo) {
				tls->min_proto = lo;
				tls->max_proto = hi;
			}
		} else if (!strcmp(key, "ciphers")) {
			get_str(p, "tls.ciphers", v, tls->ciphers,
				sizeof(tls->ciphers));
		} else if (!strcmp(key, "ciphersuites")) {
			get_str(p, "tls.ciphersuites", v, tls->ciphersuites,
				sizeof(tls->ciphersuites));
		} else if (!strcmp(key, "groups")) {
			get_str(p, "tls.groups", v, tls->groups,
				sizeof(tls->groups));
		} else if (!strcmp(key, "session_ticket_key")) {
			struct stat st;

			if (get_str(p, "tls.session_ticket_key", v,
				    tls->ticket_key_file,
				    sizeof(tls->ticket_key_file)))
				continue;
			tls->ticket_key_line = v->start_mark.line + 1;
			if (stat(tls->ticket_key_file, &st))
				perr(p, v, "session ticket key '%s': %s",
				     tls->ticket_key_file, strerror(errno));
			else if (!st.st_size || st.st_size % 80)
				perr(p, v,
				     "session ticket key '%s': size %lld is not a multiple of 80 bytes (openssl rand 80 > FILE)",
				     tls->ticket_key_file,
				     (long long)st.st_size);
		} else if (!strcmp(key, "ticket_rotation")) {
			if (!get_seconds(p, "tls.ticket_rotation", v,
					 &tls->ticket_rotation_s))
				last_tk = v;
		} else if (!strcmp(key, "ticket_lifetime")) {
			if (!get_seconds(p, "tls.ticket_lifetime", v,
					 &tls->ticket_lifetime_s))
				last_tk = v;
		} else if (!strcmp(key, "prefer_server_ciphers")) {
			get_bool(p, "tls.prefer_server_ciphers", v,
				 &tls->prefer_server_ciphers);
		} else {
			perr(p, k, "unknown setting 'tls.%s'", key);
		}
	}
	/* Every worker keeps the keys of each epoch a live ticket may have
	 * been sealed in, plus the next one (clock skew between hosts). */
	kept = (tls->ticket_lifetime_s + tls->ticket_rotation_s - 1) /
		       tls->ticket_rotation_s +
	       2;
	if (last_tk && kept > CFG_MAX_TICKET_EPOCHS)
		perr(p, last_tk,
		     "'tls.ticket_lifetime' (%us) over 'tls.ticket_rotation' (%us) keeps %u keys, at most %d: rotate less often",
		     tls->ticket_lifetime_s, tls->ticket_rotation_s, kept,
		     CFG_MAX_TICKET_EPOCHS);
}

static void parse_server(struct parser *p, yaml_node_t *n)
{
	struct cfg_upstream *up = &p->cfg->upstream;
	struct cfg_server *s = &up->servers[up->nservers];
	char text[sizeof(up->servers[0].name)] = "", *sp;
	unsigned weight = 1;
	yaml_node_t *k, *v;
	struct cfg_addr a;

	if (up->nservers == CFG_MAX_SERVERS) {
		perr(p, n, "'upstream.servers': more than %d servers",
		     CFG_MAX_SERVERS);
		return;
	}
	if (n->type == YAML_SCALAR_NODE) {
		/* "host:port", "host:port weight=3" or "host:port 3" */
		if (get_str(p, "upstream.servers[]", n, text, sizeof(text)))
			return;
		sp = strchr(text, ' ');
		if (sp) {
			char *w = sp + strspn(sp, " ");
			char *end;

			*sp = 0;
			if (!strncmp(w, "weight=", 7))
				w += 7;
			weight = strtoul(w, &end, 10);
			if (!*w || *end || weight < 1 || weight > 256) {
				perr(p, n,
				     "server '%s': 'weight' expects 1..256, got '%s'",
				     text, w);
				return;
			}
		}
	} else if (n->type == YAML_MAPPING_NODE) {
		for_each_pair(p, n, k, v)
		{
			const char *key = scalar(k) ? scalar(k) : "";

			if (!strcmp(key, "address"))
				get_str(p, "address", v, text, sizeof(text));
			else if (!strcmp(key, "weight"))
				get_uint(p, "weight", v, 1, 256, &weight);
			else
				perr(p, k,
				     "unknown setting '%s' in a server (want address, weight)",
				     key);
		}
		if (!*text) {
			perr(p, n, "server needs an 'address'");
			return;
		}
	} else {
		perr(p, n,
		     "'upstream.servers' items are 'host:port [weight=N]' or {address, weight}");
		return;
	}
	switch (config__parse_addr(text, &a, true)) {
	case 0:
		break;
	case -ENOENT:
		perr(p, n, "server '%s': host not found", text);
		return;
	default:
		perr(p, n, "server '%s': bad address (want HOST:PORT)", text);
		return;
	}
	memset(s, 0, sizeof(*s));
	strcpy(s->name, text);
	s->ss = a.ss;
	s->len = a.len;
	s->weight = weight;
	s->line = n->start_mark.line + 1;
	up->nservers++;
}

static void parse_health(struct parser *p, yaml_node_t *n)
{
	struct cfg_health *h = &p->cfg->upstream.health;
	yaml_node_t *k, *v;

	if (!want_map(p, "upstream.health", n))
		return;
	h->enabled = true;
	for_each_pair(p, n, k, v)
	{
		const char *key = scalar(k) ? scalar(k) : "";

		if (!strcmp(key, "path")) {
			if (!get_str(p, "health.path", v, h->path,
				     sizeof(h->path)) &&
			    (h->path[0] != '/' || strpbrk(h->path, " \r\n\t")))
				perr(p, v,
				     "'health.path' must start with '/' and hold no spaces, got '%s'",
				     h->path);
		} else if (!strcmp(key, "interval")) {
			get_duration(p, "health.interval", v, &h->interval_ms);
		} else if (!strcmp(key, "timeout")) {
			get_duration(p, "health.timeout", v, &h->timeout_ms);
		} else if (!strcmp(key, "rise")) {
			get_uint(p, "health.rise", v, 1, 100, &h->rise);
		} else if (!strcmp(key, "fall")) {
			get_uint(p, "health.fall", v, 1, 100, &h->fall);
		} else if (!strcmp(key, "enabled")) {
			get_bool(p, "health.enabled", v, &h->enabled);
		} else {
			perr(p, k, "unknown setting 'upstream.health.%s'", key);
		}
	}
	if (h->interval_ms < 100)
		perr(p, n, "'health.interval' must be at least 100ms");
}

static void parse_docker(struct parser *p, yaml_node_t *n)
{
	struct cfg_docker *d = &p->cfg->upstream.docker;
	yaml_node_t *k, *v;

	if (!want_map(p, "upstream.docker", n))
		return;
	d->enabled = true;
	d->line = n->start_mark.line + 1;
	for_each_pair(p, n, k, v)
	{
		const char *key = scalar(k) ? scalar(k) : "";

		if (!strcmp(key, "socket")) {
			if (!get_str(p, "docker.socket", v, d->socket,
				     sizeof(d->socket)) &&
			    d->socket[0] != '/')
				perr(p, v,
				     "'docker.socket' must be an absolute path, got '%s'",
				     d->socket);
		} else if (!strcmp(key, "label")) {
			if (!get_str(p, "docker.label", v, d->label,
				     sizeof(d->label)) &&
			    (d->label[0] == '=' ||
			     strpbrk(d->label, "\"\\ \t\r\n")))
				perr(p, v,
				     "'docker.label' expects 'key=value' or 'key' without spaces or quotes, got '%s'",
				     d->label);
		} else if (!strcmp(key, "port_label")) {
			if (!get_str(p, "docker.port_label", v, d->port_label,
				     sizeof(d->port_label)) &&
			    (!d->port_label[0] ||
			     strpbrk(d->port_label, "\"\\= \t\r\n")))
				perr(p, v,
				     "'docker.port_label' expects a label name, got '%s'",
				     d->port_label);
		} else if (!strcmp(key, "network")) {
			if (!get_str(p, "docker.network", v, d->network,
				     sizeof(d->network)) &&
			    strpbrk(d->network, "\"\\\r\n"))
				perr(p, v,
				     "'docker.network' holds a quote or newline");
		} else {
			perr(p, k, "unknown setting 'upstream.docker.%s'", key);
		}
	}
	if (!d->label[0])
		perr(p, n,
		     "'upstream.docker' needs 'label', e.g. xdp-tls-lb.upstream=flaskapp");
}

static void parse_upstream(struct parser *p, yaml_node_t *n)
{
	struct cfg_upstream *up = &p->cfg->upstream;
	yaml_node_t *k, *v, *it;

	if (!want_map(p, "upstream", n))
		return;
	for_each_pair(p, n, k, v)
	{
		const char *key = scalar(k) ? scalar(k) : "";

		if (p->discovery && strcmp(key, "docker") &&
		    strcmp(key, "file"))
			continue; /* lbtls's own business, checked by lbtls */
		if (!strcmp(key, "servers")) {
			if (v->type != YAML_SEQUENCE_NODE) {
				perr(p, v, "'upstream.servers' expects a list");
				continue;
			}
			for_each_item(p, v, it) parse_server(p, it);
		} else if (!strcmp(key, "algorithm")) {
			const char *s = scalar(v) ? scalar(v) : "";

			if (!strcmp(s, "round_robin"))
				up->algo = LB_ROUND_ROBIN;
			else if (!strcmp(s, "least_conn"))
				up->algo = LB_LEAST_CONN;
			else if (!strcmp(s, "ip_hash"))
				up->algo = LB_IP_HASH;
			else if (!strcmp(s, "random_two"))
				up->algo = LB_RANDOM_TWO;
			else
				perr(p, v,
				     "'upstream.algorithm': unknown '%s' (want round_robin, least_conn, ip_hash, random_two)",
				     s);
		} else if (!strcmp(key, "max_fails")) {
			get_uint(p, "max_fails", v, 0, 1000, &up->max_fails);
		} else if (!strcmp(key, "fail_timeout")) {
			get_duration(p, "fail_timeout", v,
				     &up->fail_timeout_ms);
		} else if (!strcmp(key, "health")) {
			parse_health(p, v);
		} else if (!strcmp(key, "docker")) {
			parse_docker(p, v);
		} else if (!strcmp(key, "file")) {
			if (!get_str(p, "upstream.file", v, up->file,
				     sizeof(up->file)) &&
			    up->file[0] != '/')
				perr(p, v,
				     "'upstream.file' must be an absolute path, got '%s'",
				     up->file);
			up->file_line = v->start_mark.line + 1;
		} else if (!strcmp(key, "file_max_age")) {
			if (!get_duration(p, "upstream.file_max_age", v,
					  &up->file_max_age_ms))
				up->file_max_age_set = true;
		} else if (!strcmp(key, "keepalive")) {
			get_uint(p, "keepalive", v, 0, 10000, &up->keepalive);
		} else if (!strcmp(key, "keepalive_timeout")) {
			get_duration(p, "keepalive_timeout", v,
				     &up->keepalive_timeout_ms);
		} else if (!strcmp(key, "connect_timeout")) {
			get_duration(p, "connect_timeout", v,
				     &up->connect_timeout_ms);
		} else if (!strcmp(key, "read_timeout")) {
			get_duration(p, "read_timeout", v,
				     &up->read_timeout_ms);
		} else if (!strcmp(key, "send_timeout")) {
			get_duration(p, "send_timeout", v,
				     &up->send_timeout_ms);
		} else if (!strcmp(key, "retry_non_idempotent")) {
			get_bool(p, "upstream.retry_non_idempotent", v,
				 &up->retry_non_idempotent);
		} else if (!strcmp(key, "request_buffering")) {
			get_bool(p, "upstream.request_buffering", v,
				 &up->request_buffering);
		} else if (!strcmp(key, "max_conns")) {
			get_uint(p, "upstream.max_conns", v, 0, 1000000,
				 &up->max_conns);
		} else if (!strcmp(key, "queue")) {
			get_uint(p, "upstream.queue", v, 0, 1000000,
				 &up->queue);
		} else if (!strcmp(key, "queue_timeout")) {
			get_duration(p, "upstream.queue_timeout", v,
				     &up->queue_timeout_ms);
		} else {
			perr(p, k, "unknown setting 'upstream.%s'", key);
		}
	}
}

/* 'http2: on|off', or a map of its settings. */
static void parse_http2(struct parser *p, yaml_node_t *n)
{
	struct cfg_http2 *h = &p->cfg->http2;
	yaml_node_t *k, *v;

	if (scalar(n)) {
		get_bool(p, "http2", n, &h->enabled);
		return;
	}
	if (!want_map(p, "http2", n))
		return;
	for_each_pair(p, n, k, v)
	{
		const char *key = scalar(k) ? scalar(k) : "";
		uint64_t sz;

		if (!strcmp(key, "enabled")) {
			get_bool(p, "http2.enabled", v, &h->enabled);
		} else if (!strcmp(key, "max_concurrent_streams")) {
			get_uint(p, "http2.max_concurrent_streams", v, 1, 1000,
				 &h->max_streams);
		} else if (!strcmp(key, "max_inflight")) {
			get_uint(p, "http2.max_inflight", v, 1, 10000,
				 &h->max_inflight);
		} else if (!strcmp(key, "initial_window")) {
			if (!get_size(p, "http2.initial_window", v, 1024,
				      (1U << 31) - 1, &sz))
				h->initial_window = sz;
		} else if (!strcmp(key, "connection_window")) {
			if (!get_size(p, "http2.connection_window", v, 65535,
				      (1U << 31) - 1, &sz))
				h->conn_window = sz;
		} else if (!strcmp(key, "header_table_size")) {
			if (!get_size(p, "http2.header_table_size", v, 0, 65536,
				      &sz))
				h->header_table = sz;
		} else if (!strcmp(key, "max_headers")) {
			get_uint(p, "http2.max_headers", v, 4, 1000,
				 &h->max_headers);
		} else if (!strcmp(key, "settings_timeout")) {
			get_duration(p, "http2.settings_timeout", v,
				     &h->settings_timeout_ms);
		} else if (!strcmp(key, "glitch_rate")) {
			get_uint(p, "http2.glitch_rate", v, 1, 100000,
				 &h->glitch_rate);
		} else if (!strcmp(key, "glitch_burst")) {
			get_uint(p, "http2.glitch_burst", v, 1, 100000,
				 &h->glitch_burst);
		} else if (!strcmp(key, "control_rate")) {
			get_uint(p, "http2.control_rate", v, 1, 100000,
				 &h->control_rate);
		} else if (!strcmp(key, "control_burst")) {
			get_uint(p, "http2.control_burst", v, 1, 100000,
				 &h->control_burst);
		} else if (!strcmp(key, "reset_rate")) {
			get_uint(p, "http2.reset_rate", v, 1, 100000,
				 &h->reset_rate);
		} else if (!strcmp(key, "reset_burst")) {
			get_uint(p, "http2.reset_burst", v, 1, 100000,
				 &h->reset_burst);
		} else {
			perr(p, k, "unknown setting 'http2.%s'", key);
		}
	}
	if (h->settings_timeout_ms && h->settings_timeout_ms < 100)
		perr(p, n, "'http2.settings_timeout' must be at least 100ms");
}

static void parse_limits(struct parser *p, yaml_node_t *n)
{
	struct cfg_limits *l = &p->cfg->limits;
	yaml_node_t *k, *v;
	uint64_t sz;

	if (!want_map(p, "limits", n))
		return;
	for_each_pair(p, n, k, v)
	{
		const char *key = scalar(k) ? scalar(k) : "";

		if (!strcmp(key, "header_line")) {
			if (!get_size(p, "limits.header_line", v, 256, 65536,
				      &sz))
				l->header_line = sz;
		} else if (!strcmp(key, "header_total")) {
			if (!get_size(p, "limits.header_total", v, 1024,
				      1 << 20, &sz))
				l->header_total = sz;
		} else if (!strcmp(key, "body")) {
			if (!get_size(p, "limits.body", v, 0, 1ULL << 40,
				      &l->body) &&
			    !l->body)
				pwarn(p, v,
				      "'limits.body' 0: no limit, so with upstream.request_buffering one client can fill limits.client_body_temp_path (requests then get 503)");
		} else if (!strcmp(key, "header_timeout")) {
			get_duration(p, "limits.header_timeout", v,
				     &l->header_timeout_ms);
		} else if (!strcmp(key, "client_body_timeout")) {
			get_duration(p, "limits.client_body_timeout", v,
				     &l->body_timeout_ms);
		} else if (!strcmp(key, "client_body_min_rate")) {
			if (!get_size(p, "limits.client_body_min_rate", v, 0,
				      1 << 30, &sz))
				l->body_min_rate = sz;
		} else if (!strcmp(key, "client_body_buffer_size")) {
			if (!get_size(p, "limits.client_body_buffer_size", v,
				      1024, 1 << 30, &sz))
				l->body_buffer_size = sz;
		} else if (!strcmp(key, "client_body_temp_path")) {
			struct stat st;

			if (get_str(p, "limits.client_body_temp_path", v,
				    l->body_temp_path,
				    sizeof(l->body_temp_path)))
				continue;
			if (l->body_temp_path[0] != '/')
				perr(p, v,
				     "'limits.client_body_temp_path' expects an absolute path, got '%s'",
				     l->body_temp_path);
			else if (stat(l->body_temp_path, &st))
				perr(p, v,
				     "'limits.client_body_temp_path' '%s': %s",
				     l->body_temp_path, strerror(errno));
			else if (!S_ISDIR(st.st_mode))
				perr(p, v,
				     "'limits.client_body_temp_path' '%s' is not a directory",
				     l->body_temp_path);
		} else if (!strcmp(key, "send_timeout")) {
			get_duration(p, "limits.send_timeout", v,
				     &l->send_timeout_ms);
		} else if (!strcmp(key, "per_client_connections")) {
			get_uint(p, "limits.per_client_connections", v, 0,
				 1000000, &l->per_client_connections);
		} else if (!strcmp(key, "per_client_ipv6_prefix")) {
			get_uint(p, "limits.per_client_ipv6_prefix", v, 1, 128,
				 &l->per_client_v6_prefix);
		} else if (!strcmp(key, "underscores_in_headers")) {
			get_bool(p, "limits.underscores_in_headers", v,
				 &l->underscores_in_headers);
		} else if (!strcmp(key, "keepalive_timeout")) {
			get_duration(p, "limits.keepalive_timeout", v,
				     &l->keepalive_timeout_ms);
		} else if (!strcmp(key, "max_connections")) {
			l->max_connections_set =
				!get_uint(p, "limits.max_connections", v, 1,
					  1000000, &l->max_connections);
		} else {
			perr(p, k, "unknown setting 'limits.%s'", key);
		}
	}
	if (l->header_line > l->header_total)
		perr(p, n,
		     "'limits.header_line' (%zu) exceeds 'limits.header_total' (%zu)",
		     l->header_line, l->header_total);
}

static void parse_log(struct parser *p, yaml_node_t *n)
{
	struct lbtls_config *cfg = p->cfg;
	yaml_node_t *k, *v;

	if (!want_map(p, "log", n))
		return;
	for_each_pair(p, n, k, v)
	{
		const char *key = scalar(k) ? scalar(k) : "";

		if (!strcmp(key, "access")) {
			get_str(p, "log.access", v, cfg->access_log,
				sizeof(cfg->access_log));
		} else if (!strcmp(key, "error")) {
			get_str(p, "log.error", v, cfg->error_log,
				sizeof(cfg->error_log));
		} else if (!strcmp(key, "level")) {
			const char *s = scalar(v) ? scalar(v) : "";

			if (!strcmp(s, "error"))
				cfg->log_level = LOG_LVL_ERROR;
			else if (!strcmp(s, "warn"))
				cfg->log_level = LOG_LVL_WARN;
			else if (!strcmp(s, "info"))
				cfg->log_level = LOG_LVL_INFO;
			else if (!strcmp(s, "debug"))
				cfg->log_level = LOG_LVL_DEBUG;
			else
				perr(p, v,
				     "'log.level': unknown '%s' (want error, warn, info, debug)",
				     s);
		} else {
			perr(p, k, "unknown setting 'log.%s'", key);
		}
	}
}

static void load_error_page(struct parser *p, yaml_node_t *n)
{
	struct lbtls_config *cfg = p->cfg;
	char *buf = NULL;
	struct stat st;
	int fd;

	if (get_str(p, "error_page", n, cfg->error_page,
		    sizeof(cfg->error_page)))
		return;
	fd = open(cfg->error_page, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		perr(p, n, "error page '%s': %s", cfg->error_page,
		     strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > ERROR_PAGE_MAX) {
		perr(p, n,
		     "error page '%s': not a regular file of at most %d bytes",
		     cfg->error_page, ERROR_PAGE_MAX);
		goto out;
	}
	buf = malloc(st.st_size + 1);
	if (!buf || read(fd, buf, st.st_size) != st.st_size) {
		perr(p, n, "error page '%s': cannot read", cfg->error_page);
		free(buf);
		goto out;
	}
	free(cfg->error_page_body);
	cfg->error_page_body = buf;
	cfg->error_page_len = st.st_size;
out:
	if (fd >= 0)
		close(fd);
}

/*
 * agent: {socket: PATH, weight: N}. Each worker then also gets https and
 * plain listeners of its own on 127.0.0.1:0 and [::1]:0, which it hands to
 * the lbctl agent (DESIGN.md D3): sk_lookup steers connections to a VIP to
 * them. On loopback nothing else reaches them: not drain, weights or XDP's
 * filters bypassed by a client that finds the port.
 */
static void parse_agent(struct parser *p, yaml_node_t *v)
{
	struct lbtls_config *cfg = p->cfg;
	yaml_node_pair_t *pair;

	if (v->type != YAML_MAPPING_NODE) {
		perr(p, v,
		     "'agent' expects a mapping {socket: PATH, weight: N}");
		return;
	}
	cfg->agent_weight = 1;
	for (pair = v->data.mapping.pairs.start;
	     pair < v->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = yaml_document_get_node(&p->doc, pair->key);
		yaml_node_t *val = yaml_document_get_node(&p->doc, pair->value);
		const char *key = scalar(k) ? scalar(k) : "";

		if (!strcmp(key, "socket"))
			get_str(p, "agent.socket", val, cfg->agent_socket,
				sizeof(cfg->agent_socket));
		else if (!strcmp(key, "weight"))
			get_uint(p, "agent.weight", val, 1, 256,
				 &cfg->agent_weight);
		else
			perr(p, k, "unknown setting 'agent.%s'", key);
	}
	if (!cfg->agent_socket[0])
		perr(p, v, "'agent' needs 'socket', the agent's unix socket");
}

/* A uid or gid written as digits: 0..2^32-2 ((uid_t)-1 means "none"). */
static bool numeric_id(const char *s, unsigned long *out)
{
	char *end;

	if (!*s || strspn(s, "0123456789") != strlen(s))
		return false;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return !errno && *out < 0xffffffffUL;
}

/*
 * user: NAME [GROUP] | UID[:GID] (NAME:GROUP too). Resolved here, in the
 * master, so that `lbtls -t` names a user that does not exist and a worker
 * needs no user database after fork. Without GROUP: the user's primary
 * group, or for a UID with no passwd entry, the gid of the same number
 * (never Docker's habit of gid 0). Supplementary groups: the user's, from
 * the group database; none for a UID with no passwd entry. Root, as user
 * or as a group, is refused: it is what the workers are meant to drop.
 * lbtls not started as root can only run its workers as itself.
 */
static void parse_user(struct parser *p, yaml_node_t *n)
{
	struct cfg_user *u = &p->cfg->user;
	char text[sizeof(u->text)], buf[16384], *name, *group = NULL, *e;
	struct passwd pw, *pwp = NULL;
	struct group gr, *grp = NULL;
	unsigned long id;
	int ng = CFG_MAX_GROUPS;
	unsigned i;

	memset(u, 0, sizeof(*u));
	if (get_str(p, "user", n, text, sizeof(text)))
		return;
	name = text + strspn(text, " \t");
	for (e = name + strlen(name);
	     e > name && (e[-1] == ' ' || e[-1] == '\t');)
		*--e = 0;
	e = name + strcspn(name, " \t:");
	if (*e) {
		*e++ = 0;
		group = e + strspn(e, " \t");
	}
	if (!*name || (group && (!*group || strpbrk(group, " \t:")))) {
		perr(p, n,
		     "'user' expects NAME, NAME GROUP, UID or UID:GID, got '%s'",
		     text);
		return;
	}
	if (getpwnam_r(name, &pw, buf, sizeof(buf), &pwp) || !pwp) {
		pwp = NULL;
		if (!numeric_id(name, &id)) {
			perr(p, n, "'user': no user '%s' in the user database",
			     name);
			return;
		}
		u->uid = id;
		if (getpwuid_r(u->uid, &pw, buf, sizeof(buf), &pwp))
			pwp = NULL;
	} else {
		u->uid = pwp->pw_uid;
	}
	if (group) {
		if (!getgrnam_r(group, &gr, buf + sizeof(buf) / 2,
				sizeof(buf) / 2, &grp) &&
		    grp) {
			u->gid = grp->gr_gid;
		} else if (numeric_id(group, &id)) {
			u->gid = id;
		} else {
			perr(p, n,
			     "'user': no group '%s' in the group database",
			     group);
			return;
		}
	} else {
		u->gid = pwp ? pwp->pw_gid : u->uid;
	}
	if (pwp) {
		if (getgrouplist(pwp->pw_name, u->gid, u->groups, &ng) < 0) {
			perr(p, n, "'user': '%s' is in more than %d groups",
			     name, CFG_MAX_GROUPS);
			return;
		}
		u->ngroups = ng;
	}
	if (!u->uid) {
		perr(p, n,
		     "'user' %s is uid 0 (root): the workers would keep root's power; name an unprivileged user",
		     name);
		return;
	}
	for (i = 0; i < u->ngroups && u->groups[i]; i++)
		;
	if (!u->gid || i < u->ngroups) {
		perr(p, n,
		     "'user' %s: group 0 (root) is not allowed for the workers",
		     text);
		return;
	}
	if (geteuid() && (geteuid() != u->uid || getegid() != u->gid)) {
		perr(p, n,
		     "'user' %s (uid %u, gid %u): lbtls runs as uid %u gid %u, not root, so its workers can only run as that; remove 'user' or start lbtls as root",
		     name, (unsigned)u->uid, (unsigned)u->gid,
		     (unsigned)geteuid(), (unsigned)getegid());
		return;
	}
	snprintf(u->text, sizeof(u->text), "%s", scalar(n));
	u->line = n->start_mark.line + 1;
	u->set = true;
}

/* The listeners handed to the agent, after those of 'listen'. */
static void add_agent_listeners(struct parser *p, yaml_node_t *root)
{
	struct lbtls_config *cfg = p->cfg;
	struct sockaddr_in v4 = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in6 v6 = { .sin6_family = AF_INET6,
				   .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct cfg_addr a[2] = {
		{ .len = sizeof(v4),
		  .agent = true,
		  .text = "127.0.0.1:0 (agent)" },
		{ .len = sizeof(v6), .agent = true, .text = "[::1]:0 (agent)" },
	};
	unsigned i;

	if (!cfg->agent_socket[0])
		return;
	if (cfg->nhttps > CFG_MAX_LISTEN - 2 ||
	    cfg->nhttp > CFG_MAX_LISTEN - 2) {
		perr(p, root,
		     "no room for the agent's listeners: at most %d "
		     "listen addresses each",
		     CFG_MAX_LISTEN - 2);
		return;
	}
	memcpy(&a[0].ss, &v4, sizeof(v4));
	memcpy(&a[1].ss, &v6, sizeof(v6));
	for (i = 0; i < 2; i++) {
		a[i].line = root->start_mark.line + 1;
		cfg->https[cfg->nhttps++] = a[i];
		cfg->http[cfg->nhttp++] = a[i];
	}
}

static void parse_root_key(struct parser *p, yaml_node_t *k, yaml_node_t *v)
{
	struct lbtls_config *cfg = p->cfg;
	const char *key = scalar(k) ? scalar(k) : "";
	struct stat st;

	if (!strcmp(key, "user")) {
		parse_user(p, v);
	} else if (!strcmp(key, "workers")) {
		if (scalar(v) && !strcmp(scalar(v), "auto"))
			cfg->workers = 0;
		else
			get_uint(p, "workers", v, 1, CFG_MAX_WORKERS,
				 &cfg->workers);
	} else if (!strcmp(key, "listen")) {
		parse_listen(p, v);
	} else if (!strcmp(key, "tls")) {
		parse_tls(p, v);
	} else if (!strcmp(key, "acme_webroot")) {
		if (get_str(p, "acme_webroot", v, cfg->acme_webroot,
			    sizeof(cfg->acme_webroot)))
			return;
		if (stat(cfg->acme_webroot, &st) || !S_ISDIR(st.st_mode))
			perr(p, v, "acme webroot '%s': not a directory",
			     cfg->acme_webroot);
	} else if (!strcmp(key, "upstream")) {
		parse_upstream(p, v);
	} else if (!strcmp(key, "limits")) {
		parse_limits(p, v);
	} else if (!strcmp(key, "http2")) {
		parse_http2(p, v);
	} else if (!strcmp(key, "error_page")) {
		load_error_page(p, v);
	} else if (!strcmp(key, "log")) {
		parse_log(p, v);
	} else if (!strcmp(key, "metrics")) {
		if (scalar(v) && !strcmp(scalar(v), "off"))
			cfg->metrics.len = 0;
		else
			get_addr(p, "metrics", v, &cfg->metrics);
	} else if (!strcmp(key, "x_served_by")) {
		get_bool(p, "x_served_by", v, &cfg->x_served_by);
	} else if (!strcmp(key, "agent")) {
		parse_agent(p, v);
	} else if (!strcmp(key, "shutdown_timeout")) {
		get_duration(p, "shutdown_timeout", v,
			     &cfg->shutdown_timeout_ms);
	} else {
		perr(p, k, "unknown setting '%s'", key);
	}
}

static bool same_addr(const struct cfg_addr *a, const struct cfg_addr *b)
{
	return a->len == b->len && !memcmp(&a->ss, &b->ss, a->len);
}

/* Checks that need the whole file: what must exist, what must not clash. */
static void validate(struct parser *p, yaml_node_t *root)
{
	struct lbtls_config *cfg = p->cfg;
	struct cfg_addr *all[2 * CFG_MAX_LISTEN + 1];
	unsigned n = 0, i, j;
	int prior = p->nerr;

	add_agent_listeners(p, root);
	if (!cfg->nhttps && !cfg->nhttp)
		perr(p, root,
		     "no 'listen' address: set listen.https and/or listen.http");
	/* After other errors, "empty" is often just their echo. */
	if (cfg->nhttps && !cfg->tls.ncerts && !prior)
		perr(p, root,
		     "listen.https is set but 'tls.certificates' is empty");
	if (!cfg->upstream.file_max_age_set)
		cfg->upstream.file_max_age_ms =
			cfg->upstream.docker.enabled ? CFG_DISCOVER_MAX_AGE_MS :
						       0;
	if (cfg->upstream.docker.enabled && !cfg->upstream.file[0])
		perr_line(
			p, cfg->upstream.docker.line,
			"'upstream.docker' needs 'upstream.file': 'lbtls discover' writes the containers it finds there and lbtls reads them (lbtls itself never talks to Docker)");
	if (cfg->nhttps && !cfg->upstream.nservers && !cfg->upstream.file[0] &&
	    !prior)
		perr(p, root,
		     "listen.https is set but 'upstream.servers' is empty (and no 'upstream.file')");
	for (i = 0; i < cfg->nhttps; i++)
		all[n++] = &cfg->https[i];
	for (i = 0; i < cfg->nhttp; i++)
		all[n++] = &cfg->http[i];
	if (cfg->metrics.len)
		all[n++] = &cfg->metrics;
	for (i = 0; i < n; i++)
		for (j = 0; j < i; j++)
			if (!all[i]->agent && !all[j]->agent &&
			    same_addr(all[i], all[j]))
				perr_line(
					p, all[i]->line,
					"address '%s' is already used on line %d",
					all[i]->text, all[j]->line);
}

void config__defaults(struct lbtls_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->tls.min_proto = TLS1_2_VERSION;
	cfg->tls.max_proto = TLS1_3_VERSION;
	/* Mozilla "intermediate" (2023): forward secrecy and AEAD only. */
	strcpy(cfg->tls.ciphers,
	       "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
	       "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
	       "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305");
	strcpy(cfg->tls.ciphersuites,
	       "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
	       "TLS_CHACHA20_POLY1305_SHA256");
	strcpy(cfg->tls.groups, "X25519:P-256:P-384");
	/* nginx's ssl_session_timeout: the ticket lifetime hint and the
	 * bound on resumption; a new ticket key every hour */
	cfg->tls.ticket_lifetime_s = 300;
	cfg->tls.ticket_rotation_s = 3600;
	cfg->upstream.algo = LB_ROUND_ROBIN;
	cfg->upstream.max_fails = 1; /* nginx's defaults */
	cfg->upstream.fail_timeout_ms = 10000;
	cfg->upstream.health.path[0] = '/';
	cfg->upstream.health.interval_ms = 5000;
	cfg->upstream.health.rise = 2;
	cfg->upstream.health.fall = 3;
	cfg->upstream.keepalive = 32;
	cfg->upstream.keepalive_timeout_ms = 60000; /* nginx's default */
	cfg->upstream.connect_timeout_ms = 5000;
	cfg->upstream.read_timeout_ms = 60000;
	cfg->upstream.send_timeout_ms = 60000;
	cfg->upstream.request_buffering = true;
	cfg->upstream.queue = 128;
	cfg->upstream.queue_timeout_ms = 10000;
	strcpy(cfg->upstream.docker.socket, "/var/run/docker.sock");
	strcpy(cfg->upstream.docker.port_label, "xdp-tls-lb.port");
	cfg->limits.header_line = 8192;
	cfg->limits.header_total = 32768;
	cfg->limits.body = 1024 * 1024; /* nginx's client_max_body_size */
	cfg->limits.header_timeout_ms = 10000;
	cfg->limits.body_timeout_ms = 60000; /* nginx's client_body_timeout */
	cfg->limits.body_min_rate = 1024;
	cfg->limits.body_buffer_size = 16 * 1024; /* nginx's on 64-bit */
	strcpy(cfg->limits.body_temp_path, "/tmp");
	cfg->limits.send_timeout_ms = 60000; /* nginx's send_timeout */
	cfg->limits.per_client_v6_prefix = 64;
	cfg->limits.keepalive_timeout_ms = 75000;
	cfg->limits.max_connections = 16384;
	/* nghttpx's and h2o's stream count, nghttp2's default windows grown
	 * for the connection so that one upload does not stall the rest */
	cfg->http2.enabled = true;
	cfg->http2.max_streams = 100;
	cfg->http2.max_inflight = 128;
	cfg->http2.initial_window = 65535;
	cfg->http2.conn_window = 1024 * 1024;
	cfg->http2.header_table = 4096;
	cfg->http2.max_headers = 100;
	cfg->http2.settings_timeout_ms = 10000;
	cfg->http2.glitch_rate = 10;
	cfg->http2.glitch_burst = 100;
	cfg->http2.control_rate = 50;
	cfg->http2.control_burst = 200;
	cfg->http2.reset_rate = 33; /* nghttp2 1.57's defaults */
	cfg->http2.reset_burst = 1000;
	cfg->log_level = LOG_LVL_INFO;
	config__parse_addr("127.0.0.1:9145", &cfg->metrics, false);
	cfg->shutdown_timeout_ms = 30000;
}

static int load(struct lbtls_config *cfg, const char *path, FILE *errs,
		bool discovery)
{
	struct parser p = {
		.file = path, .errs = errs, .cfg = cfg, .discovery = discovery
	};
	yaml_parser_t yp;
	yaml_node_t *root, *k, *v;
	FILE *f;
	int err;

	config__free(cfg);
	config__defaults(cfg);
	snprintf(cfg->path, sizeof(cfg->path), "%s", path);
	f = fopen(path, "re");
	if (!f) {
		err = -errno;
		if (errs)
			fprintf(errs, "%s: cannot open: %s\n", path,
				strerror(errno));
		return err;
	}
	yaml_parser_initialize(&yp);
	yaml_parser_set_input_file(&yp, f);
	if (!yaml_parser_load(&yp, &p.doc)) {
		perr_line(&p, yp.problem_mark.line + 1, "YAML syntax: %s%s%s",
			  yp.problem ? yp.problem : "error",
			  yp.context ? " " : "", yp.context ? yp.context : "");
		yaml_parser_delete(&yp);
		fclose(f);
		return -EINVAL;
	}
	root = yaml_document_get_root_node(&p.doc);
	if (!root) {
		perr_line(&p, 1, "empty configuration");
	} else if (root->type != YAML_MAPPING_NODE) {
		perr(&p, root, "top level must be a mapping of settings");
	} else if (discovery) {
		for_each_pair(&p, root, k, v)
		{
			if (scalar(k) && !strcmp(scalar(k), "upstream"))
				parse_upstream(&p, v);
		}
		if (!p.nerr && !cfg->upstream.docker.enabled)
			perr(&p, root,
			     "'lbtls discover' needs an 'upstream.docker' section");
		else if (!p.nerr && !cfg->upstream.file[0])
			perr_line(
				&p, cfg->upstream.docker.line,
				"'lbtls discover' needs 'upstream.file', where it writes the servers");
	} else {
		for_each_pair(&p, root, k, v) parse_root_key(&p, k, v);
		if (!cfg->upstream.health.timeout_ms)
			cfg->upstream.health.timeout_ms =
				cfg->upstream.health.interval_ms;
		validate(&p, root);
	}
	yaml_document_delete(&p.doc);
	yaml_parser_delete(&yp);
	fclose(f);
	return p.nerr ? -EINVAL : 0;
}

int config__load(struct lbtls_config *cfg, const char *path, FILE *errs)
{
	return load(cfg, path, errs, false);
}

int config__load_discovery(struct lbtls_config *cfg, const char *path,
			   FILE *errs)
{
	return load(cfg, path, errs, true);
}

void config__free(struct lbtls_config *cfg)
{
	free(cfg->error_page_body);
	cfg->error_page_body = NULL;
}

const char *config__algo_name(enum lb_algo algo)
{
	static const char *const names[] = { "round_robin", "least_conn",
					     "ip_hash", "random_two" };

	return algo <= LB_RANDOM_TWO ? names[algo] : "?";
}
