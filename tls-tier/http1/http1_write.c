// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The HTTP/1.x heads lbtls writes: the request sent upstream, the client's
 * copy of the response, the port-80 redirect, its own answers. The grammar they share with
 * the parser (lists, targets) comes from http1.c through http1_int.h.
 *
 * Every writer checks its room as it goes (out_buf), except the client
 * head: it runs once per response, so its size is reserved up front and
 * then copied without checks.
 */
#include <string.h>

#include "http1.h"
#include "http1_int.h"

struct out_buf {
	char *p;
	size_t cap, len;
	bool short_;
};

static void out_mem(struct out_buf *o, const char *s, size_t n)
{
	if (o->short_ || n > o->cap - o->len) {
		o->short_ = true;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void out_str(struct out_buf *o, const char *s)
{
	out_mem(o, s, strlen(s));
}

#define out_lit(o, lit) out_mem((o), "" lit "", sizeof(lit) - 1)

static void out_span(struct out_buf *o, struct http1_span s)
{
	out_mem(o, s.p, s.len);
}

static void out_u64(struct out_buf *o, uint64_t v)
{
	char d[24];
	size_t i = sizeof(d);

	do {
		d[--i] = '0' + v % 10;
		v /= 10;
	} while (v);
	out_mem(o, d + i, sizeof(d) - i);
}

/* Collect the Connection headers of a head into conns[]. */
static size_t connection_headers(const struct http1_header *h, size_t n,
				 const struct http1_header **conns)
{
	size_t i, nconns = 0;

	for (i = 0; i < n; i++)
		if (span_ieq(h[i].name, "connection"))
			conns[nconns++] = &h[i];
	return nconns;
}

/*
 * Hop-by-hop in both directions: Connection, Keep-Alive, Proxy-Connection
 * and whatever a Connection header (conns[0..nconns)) lists. Connection
 * never strips the framing (lbtls relays by it) nor the Host.
 */
static bool hop_by_hop(const struct http1_header *const *conns, size_t nconns,
		       const struct http1_header *h)
{
	size_t i;

	if (span_ieq(h->name, "connection") ||
	    span_ieq(h->name, "keep-alive") ||
	    span_ieq(h->name, "proxy-connection"))
		return true;
	if (!nconns || span_ieq(h->name, "content-length") ||
	    span_ieq(h->name, "transfer-encoding") || span_ieq(h->name, "host"))
		return false;
	for (i = 0; i < nconns; i++)
		if (http1_list_has(conns[i]->value, h->name))
			return true;
	return false;
}

/* --- the request head sent upstream ----------------------------------------- */

/* Request-only hop-by-hop fields: the upstream connection is lbtls's own. */
static bool request_hop_by_hop(const struct http1_header *const *conns,
			       size_t nconns, const struct http1_header *h)
{
	return span_ieq(h->name, "te") || span_ieq(h->name, "trailer") ||
	       span_ieq(h->name, "upgrade") || hop_by_hop(conns, nconns, h);
}

/* Fields lbtls answers or sets itself: the client's never go upstream. */
static bool set_by_lbtls(struct http1_span n)
{
	/* Expect is answered here (100 Continue or 417), as nginx does;
	 * Forwarded is not ours to vouch for, so it is dropped. */
	return span_ieq(n, "expect") || span_ieq(n, "x-forwarded-for") ||
	       span_ieq(n, "x-forwarded-proto") || span_ieq(n, "x-real-ip") ||
	       span_ieq(n, "x-forwarded-host") ||
	       span_ieq(n, "x-forwarded-port") || span_ieq(n, "forwarded");
}

/*
 * Content_Length, Transfer_Encoding, Host, Connection: never forwarded,
 * whatever underscores_in_headers says. Werkzeug and other CGI-style
 * servers read Content_Length as the request's length: a GET carrying it
 * would leave the backend waiting for a body that never comes.
 */
static bool underscore_framing(struct http1_span n)
{
	static const char *const names[] = { "content-length",
					     "transfer-encoding", "host",
					     "connection" };
	size_t i, j;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (n.len != strlen(names[i]))
			continue;
		for (j = 0; j < n.len; j++) {
			char c = n.p[j] == '_' ? '-' : n.p[j];

			if ((c | 0x20) != names[i][j] && c != names[i][j])
				break;
		}
		if (j == n.len)
			return true;
	}
	return false;
}

ssize_t http1__write_upstream_head(const struct http1_request *req,
				   const struct http1_forward *fwd, char *out,
				   size_t cap)
{
	struct out_buf o = { out, cap, 0, false };
	struct http1_span target = http1_target_rest(req->target);
	struct http1_span host = req->host;
	const struct http1_header *h, *conns[HTTP1_MAX_HEADERS];
	const char *addr = fwd->client_addr ? fwd->client_addr : "";
	bool xff = false;
	size_t i, nconns;

	/* RFC 9112 3.2.2: origin-form upstream, the authority as Host */
	out_span(&o, req->method);
	out_lit(&o, " ");
	if (!target.len || target.p[0] == '?')
		out_lit(&o, "/");
	out_span(&o, target);
	out_lit(&o, " HTTP/1.1\r\n");

	nconns = connection_headers(req->headers, req->num_headers, conns);
	if (!host.len && fwd->host) {
		host.p = fwd->host;
		host.len = strlen(fwd->host);
	}
	if (!http1__find(req->headers, req->num_headers, "host")) {
		out_lit(&o, "Host: ");
		out_span(&o, host);
		out_lit(&o, "\r\n");
	}
	for (i = 0; i < req->num_headers; i++) {
		h = &req->headers[i];
		/* gunicorn folds X_Real_IP into X-Real-IP: nginx's
		 * underscores_in_headers off drops such names. */
		if (request_hop_by_hop(conns, nconns, h) ||
		    set_by_lbtls(h->name) ||
		    (fwd->framing_later &&
		     (span_ieq(h->name, "content-length") ||
		      span_ieq(h->name, "transfer-encoding"))) ||
		    (memchr(h->name.p, '_', h->name.len) &&
		     (!fwd->underscores || underscore_framing(h->name))))
			continue;
		out_span(&o, h->name);
		out_lit(&o, ": ");
		/* Framing headers go out in one canonical spelling. */
		if (span_ieq(h->name, "host"))
			out_span(&o, req->host);
		else if (span_ieq(h->name, "content-length"))
			out_u64(&o, req->content_length);
		else if (span_ieq(h->name, "transfer-encoding"))
			out_lit(&o, "chunked");
		else
			out_span(&o, h->value);
		out_lit(&o, "\r\n");
	}

	/* $proxy_add_x_forwarded_for: the client's list, then its address */
	out_lit(&o, "X-Forwarded-For: ");
	for (i = 0; i < req->num_headers; i++) {
		h = &req->headers[i];
		if (!span_ieq(h->name, "x-forwarded-for") || !h->value.len ||
		    request_hop_by_hop(conns, nconns, h))
			continue;
		if (xff)
			out_lit(&o, ", ");
		out_span(&o, h->value);
		xff = true;
	}
	if (xff)
		out_lit(&o, ", ");
	out_str(&o, addr);
	out_lit(&o, "\r\nX-Forwarded-Proto: ");
	out_str(&o, fwd->proto ? fwd->proto : "https");
	out_lit(&o, "\r\nX-Real-IP: ");
	out_str(&o, addr);
	out_lit(&o, "\r\n");
	if (host.len) {
		out_lit(&o, "X-Forwarded-Host: ");
		out_span(&o, host);
		out_lit(&o, "\r\n");
	}
	if (fwd->port) {
		out_lit(&o, "X-Forwarded-Port: ");
		out_u64(&o, fwd->port);
		out_lit(&o, "\r\n");
	}
	out_lit(&o, "Connection: keep-alive\r\n");
	if (!fwd->framing_later)
		out_lit(&o, "\r\n");
	return o.short_ ? -1 : (ssize_t)o.len;
}

ssize_t http1__end_upstream_head(uint64_t content_length, char *out, size_t cap)
{
	struct out_buf o = { out, cap, 0, false };

	out_lit(&o, "Content-Length: ");
	out_u64(&o, content_length);
	out_lit(&o, "\r\n\r\n");
	return o.short_ ? -1 : (ssize_t)o.len;
}

/* --- the client's copy of a response head ----------------------------------- */

static bool client_drops(const struct http1_header *const *conns, size_t nconns,
			 const struct http1_header *h, bool dechunk)
{
	return hop_by_hop(conns, nconns, h) ||
	       (dechunk && span_ieq(h->name, "transfer-encoding"));
}

size_t http1__client_head_size(const struct http1_response *res,
			       const struct http1_client_head *o)
{
	size_t i, need;

	need = sizeof("HTTP/1.1 200 \r\n") + res->reason.len +
	       (o->extra ? strlen(o->extra) : 0) +
	       sizeof("Connection: keep-alive\r\n\r\n");
	for (i = 0; i < res->num_headers; i++)
		need += res->headers[i].name.len + res->headers[i].value.len +
			4;
	return need;
}

size_t http1__write_client_head(const struct http1_response *res,
				const struct http1_client_head *o, char *out)
{
	const struct http1_header *conns[HTTP1_MAX_HEADERS];
	size_t i, nconns;
	char *p = out;

	/* the parser took three digits 100..599 */
	memcpy(p, "HTTP/1.1 ", 9);
	p[9] = '0' + res->status / 100 % 10;
	p[10] = '0' + res->status / 10 % 10;
	p[11] = '0' + res->status % 10;
	p[12] = ' ';
	p += 13;
	p = mempcpy(p, res->reason.p, res->reason.len);
	p = mempcpy(p, "\r\n", 2);
	nconns = connection_headers(res->headers, res->num_headers, conns);
	for (i = 0; i < res->num_headers; i++) {
		const struct http1_header *h = &res->headers[i];

		if (client_drops(conns, nconns, h, o->dechunk))
			continue;
		p = mempcpy(p, h->name.p, h->name.len);
		p = mempcpy(p, ": ", 2);
		p = mempcpy(p, h->value.p, h->value.len);
		p = mempcpy(p, "\r\n", 2);
	}
	if (o->extra)
		p = stpcpy(p, o->extra);
	p = stpcpy(p, o->close ? "Connection: close\r\n\r\n" :
				 "Connection: keep-alive\r\n\r\n");
	return p - out;
}

/* --- the port-80 redirect ---------------------------------------------------- */

/* A host that may go into a Location unquoted: name, IPv4, [IPv6], port. */
static bool redirect_host_ok(struct http1_span h)
{
	size_t i;

	if (!h.len)
		return false;
	for (i = 0; i < h.len; i++) {
		unsigned char c = h.p[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '-' ||
		      c == ':' || c == '[' || c == ']' || c == '_'))
			return false;
	}
	return true;
}

/* Host without its port ("[::1]:80" -> "[::1]"). */
static size_t host_name_len(struct http1_span h)
{
	size_t i;

	if (h.len && h.p[0] == '[') {
		for (i = 0; i < h.len; i++)
			if (h.p[i] == ']')
				return i + 1;
		return h.len;
	}
	for (i = 0; i < h.len; i++)
		if (h.p[i] == ':')
			return i;
	return h.len;
}

ssize_t http1__write_redirect(const struct http1_request *req,
			      const char *fallback_host, uint16_t https_port,
			      const char *extra, bool close, char *out,
			      size_t cap)
{
	struct out_buf o = { out, cap, 0, false };
	struct http1_span t = http1_target_rest(req->target), host = req->host;
	bool absolute = t.p != req->target.p;

	if (!host.len) {
		host.p = fallback_host ? fallback_host : "";
		host.len = strlen(host.p);
	}
	/* origin-form, or what absolute-form has after its authority */
	if (!redirect_host_ok(host) || t.len > HTTP1_MAX_REDIRECT_TARGET ||
	    (!absolute && (!t.len || t.p[0] != '/')) ||
	    (t.len && t.p[0] == '#'))
		return -400;
	host.len = host_name_len(host);
	out_lit(&o, "HTTP/1.1 301 Moved Permanently\r\n"
		    "Server: lbtls\r\n"
		    "Location: https://");
	out_span(&o, host);
	if (https_port && https_port != 443) {
		out_lit(&o, ":");
		out_u64(&o, https_port);
	}
	if (!t.len || t.p[0] == '?')
		out_lit(&o, "/");
	out_span(&o, t);
	out_lit(&o, "\r\nContent-Type: text/html\r\nContent-Length: 0\r\n");
	if (extra)
		out_str(&o, extra);
	if (close)
		out_lit(&o, "Connection: close\r\n\r\n");
	else
		out_lit(&o, "Connection: keep-alive\r\n\r\n");
	return o.short_ ? -1 : (ssize_t)o.len;
}

/* --- status lines of lbtls's own answers ------------------------------------- */

const char *http1__reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 301:
		return "Moved Permanently";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 408:
		return "Request Timeout";
	case 413:
		return "Content Too Large";
	case 414:
		return "URI Too Long";
	case 417:
		return "Expectation Failed";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Error";
	}
}

ssize_t http1__write_local_head(int status, const char *headers,
				const char *type, uint64_t length,
				const char *extra, bool close, char *out,
				size_t cap)
{
	struct out_buf o = { out, cap, 0, false };

	out_lit(&o, "HTTP/1.1 ");
	out_u64(&o, status >= 100 && status <= 599 ? status : 500);
	out_lit(&o, " ");
	out_str(&o, http1__reason(status));
	out_lit(&o, "\r\nServer: lbtls\r\n");
	if (headers)
		out_str(&o, headers);
	out_lit(&o, "Content-Type: ");
	out_str(&o, type ? type : "text/plain");
	out_lit(&o, "\r\nContent-Length: ");
	out_u64(&o, length);
	out_lit(&o, "\r\n");
	if (extra)
		out_str(&o, extra);
	if (close)
		out_lit(&o, "Connection: close\r\n\r\n");
	else
		out_lit(&o, "Connection: keep-alive\r\n\r\n");
	return o.short_ ? -1 : (ssize_t)o.len;
}
