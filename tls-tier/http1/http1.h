/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * HTTP/1.x for lbtls (RFC 9112), the one home of its grammar: request and
 * response heads, the chunked body scanner, request targets and hosts, and
 * the heads lbtls writes (upstream request, client response, redirect).
 * http1.c parses, http1_write.c writes; both share http1_int.h.
 *
 * The parser never allocates and never copies: every span points into the
 * caller's buffer, which must stay unchanged while the spans are used.
 * Errors are the HTTP status lbtls answers with (negative), so the event
 * loop needs no mapping table.
 */
#ifndef LBTLS_HTTP1_H
#define LBTLS_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HTTP1_MAX_HEADERS 100
/*
 * Largest chunk-size accepted, requests and responses alike: 1 TiB. RFC 9112
 * sets no bound; a smaller one than 2^63 keeps any sum of sizes far from
 * overflow and rejects absurd framing early (nginx and HAProxy also refuse
 * sizes near 2^63). A body's total is limited separately (max_total).
 */
#define HTTP1_MAX_CHUNK (1ULL << 40)
/* Longest origin-form target a redirect carries (longer: 400). */
#define HTTP1_MAX_REDIRECT_TARGET 8192

struct http1_span {
	const char *p;
	size_t len;
};

struct http1_header {
	struct http1_span name;
	struct http1_span value;
};

struct http1_limits {
	size_t max_line; /* request line or one header line; over: 431 (414
			    for the request line) */
	size_t max_head; /* whole head; over: 431 */
	uint64_t max_body; /* Content-Length or chunk total; over: 413 */
};
/* A NULL limits pointer or a zero max_line/max_head means 8 KiB / 64 KiB;
 * max_body 0 means no body limit (nginx's client_max_body_size 0). */

enum http1_body {
	HTTP1_BODY_NONE, /* no body (no CL/TE, or CL: 0) */
	HTTP1_BODY_LENGTH, /* content_length bytes follow */
	HTTP1_BODY_CHUNKED, /* chunked; scan with http1_chunked__scan() */
	HTTP1_BODY_UNTIL_CLOSE, /* responses only: read until EOF */
};

struct http1_request {
	struct http1_span method;
	struct http1_span target; /* request-target as sent */
	int minor; /* HTTP/1.<minor>: 0 or 1 */
	struct http1_header headers[HTTP1_MAX_HEADERS];
	size_t num_headers;
	/* Derived while parsing: */
	enum http1_body body;
	uint64_t content_length;
	struct http1_span host; /* Host value, empty if none (1.0) */
	bool keep_alive; /* 1.1 without "close", or 1.0 with "keep-alive" */
	bool expect_continue; /* 1.1 with Expect: 100-continue */
	bool idempotent; /* RFC 9110 9.2.2: safe to retry on another server */
	bool upgrade; /* an Upgrade header (not honoured: stripped upstream),
			 or CONNECT (answered 501) */
};

struct http1_response {
	int status;
	int minor;
	struct http1_span reason;
	struct http1_header headers[HTTP1_MAX_HEADERS];
	size_t num_headers;
	enum http1_body body;
	uint64_t content_length;
	bool keep_alive; /* the upstream connection may be reused */
};

/*
 * Parse a request head from buf[0..len). Returns the length of the head
 * (through the blank line) when it is complete, 0 when more bytes are
 * needed, or a negative HTTP status: -400 malformed (bad syntax, CL with TE,
 * bad or duplicate CL, duplicate Host, 1.1 without Host, obs-fold, NUL/CR/LF
 * in a field), -431 line or head too long, -413 declared body over the
 * limit, -417 an Expect other than 100-continue, -501 transfer coding other
 * than a final "chunked", or a method lbtls does not proxy (CONNECT), -505
 * HTTP version other than 1.0/1.1. Errors about the framing (400, 413,
 * 501) win over 417.
 * Leading empty lines before the request line are skipped (RFC 9112 2.2).
 *
 * Each call parses from buf[0] again: call it only when the bytes received
 * since the last call hold a '\n' or when the buffer has grown by max_line,
 * so that a client sending one byte at a time costs O(lines x head), not
 * O(head^2). A prefix of a message answers 0 or the message's own error.
 */
int http1__parse_request(const char *buf, size_t len,
			 const struct http1_limits *lim,
			 struct http1_request *req);

/*
 * Parse a response head. 'req_method' decides whether a body follows (HEAD,
 * 1xx, 204, 304 have none). Returns as http1__parse_request(); any error is
 * -502 (the upstream broke the protocol).
 */
int http1__parse_response(const char *buf, size_t len, size_t max_head,
			  struct http1_span req_method,
			  struct http1_response *res);

/* Incremental scanner over a chunked body, framing included. */
struct http1_chunked {
	int state;
	uint64_t chunk_left; /* data bytes left in the current chunk */
	uint64_t total; /* data bytes seen so far */
	uint64_t max_total; /* 0: unlimited */
	size_t line_len; /* bytes of the current size/trailer line */
};

void http1_chunked__init(struct http1_chunked *c, uint64_t max_total);

/*
 * Scan buf[0..len) of chunked body. Returns how many bytes belong to the
 * body (forward them verbatim), sets *done when the last chunk and trailer
 * section have ended (bytes past that belong to the next message). Returns
 * -400 on bad framing (non-hex size, a size over HTTP1_MAX_CHUNK, missing
 * CRLF, over-long size or trailer line), -413 when the total passes
 * max_total.
 */
ssize_t http1_chunked__scan(struct http1_chunked *c, const char *buf,
			    size_t len, bool *done);

/*
 * De-chunking: as http1_chunked__scan(), but stops right after the first
 * run of chunk data in buf and sets *data to its length. The returned count
 * is the framing bytes before the run plus the run itself, so the data are
 * the last *data bytes consumed (*data is 0 when buf held framing only).
 * Call again on the rest for the next run.
 */
ssize_t http1_chunked__decode(struct http1_chunked *c, const char *buf,
			      size_t len, size_t *data, bool *done);

/* What the proxy adds when it forwards a request. */
struct http1_forward {
	/* textual, no port: "198.18.1.10", "fd00::1": X-Real-IP,
	 * X-Forwarded-For */
	const char *client_addr;
	const char *proto; /* "https" or "http": X-Forwarded-Proto */
	const char *host; /* Host when the request had none (HTTP/1.0) */
	uint16_t port; /* the port the client connected to: X-Forwarded-Port
			  (0: none sent) */
	bool underscores; /* forward header names containing '_' (nginx's
			     underscores_in_headers on); false: drop them */
	bool framing_later; /* the body is buffered: no Content-Length or
			       Transfer-Encoding, and the head ends before
			       its blank line (http1__end_upstream_head) */
};

/*
 * Write the request head sent upstream into out[0..cap): request line as
 * HTTP/1.1 whatever the client's version, with the target in origin-form
 * (RFC 9112 3.2.2: an absolute-form target loses scheme://authority, and
 * the authority becomes the Host); an HTTP/1.0 request without Host gets
 * fwd->host. Then the client's headers minus:
 * - hop-by-hop ones (Connection, Keep-Alive, Proxy-Connection, TE,
 *   Trailer, Upgrade, and every header the Connection header names, so an
 *   upgrade request goes as a plain one; Transfer-Encoding is kept as the
 *   body is relayed chunked);
 * - Expect (lbtls answers it);
 * - names containing '_' unless fwd->underscores (a backend may fold
 *   X_Real_IP into X-Real-IP: nginx drops them by default too);
 * - the ones lbtls sets: X-Forwarded-Proto, X-Real-IP, X-Forwarded-Host,
 *   X-Forwarded-Port (client values replaced), and Forwarded (stripped: a
 *   backend trusting it could be lied to).
 * X-Forwarded-For is the client's list with fwd->client_addr appended;
 * X-Forwarded-Host is the Host sent upstream; X-Forwarded-Port is
 * fwd->port; then "Connection: keep-alive". Returns bytes written, or -1 if
 * cap is short.
 */
ssize_t http1__write_upstream_head(const struct http1_request *req,
				   const struct http1_forward *fwd, char *out,
				   size_t cap);

/* End a head written with framing_later: "Content-Length: N" and the blank
 * line. Returns bytes written, or -1 if cap is short. */
ssize_t http1__end_upstream_head(uint64_t content_length, char *out,
				 size_t cap);

/* The client-facing copy of an upstream response head. */
struct http1_client_head {
	bool dechunk; /* the body goes out de-chunked: no Transfer-Encoding */
	bool close; /* Connection: close, else keep-alive */
	const char *extra; /* header lines to add, each ending in CRLF, or "" */
};

/* An upper bound of what http1__write_client_head() writes. */
size_t http1__client_head_size(const struct http1_response *res,
			       const struct http1_client_head *o);

/*
 * Write the client's copy of res into out, which holds at least
 * http1__client_head_size() bytes: the status line as HTTP/1.1 (reason
 * kept), the headers minus Connection, Keep-Alive, Proxy-Connection and
 * every header a Connection header lists (never Content-Length or
 * Transfer-Encoding: the framing lbtls relays by), minus Transfer-Encoding
 * when o->dechunk, then o->extra, "Connection: close" or "Connection:
 * keep-alive", and the blank line. Returns the bytes written.
 */
size_t http1__write_client_head(const struct http1_response *res,
				const struct http1_client_head *o, char *out);

/*
 * The port-80 answer: "301 Moved Permanently" to
 * https://HOST[:https_port]/path?query, HOST being the request's host
 * without its port (the Host header, or the absolute-form authority), or
 * fallback_host when it had none (HTTP/1.0; e.g. "198.18.0.1" or
 * "[fd00::1]"). https_port 443 or 0 adds no port. 'extra' (header lines,
 * each ending in CRLF, or "") is appended as is, then Connection: close or
 * keep-alive. Returns bytes written, -400 when the host or target is not
 * acceptable (characters other than letters, digits, ".-_:[]" in the host,
 * a target longer than HTTP1_MAX_REDIRECT_TARGET, or neither origin- nor
 * absolute-form), or -1 when cap is short.
 */
ssize_t http1__write_redirect(const struct http1_request *req,
			      const char *fallback_host, uint16_t https_port,
			      const char *extra, bool close, char *out,
			      size_t cap);

/*
 * The path of a request target, without query (or fragment), for matching
 * local paths (ACME): absolute-form loses scheme://authority, and one
 * without a path gives "/". The span points into target, or is "/".
 */
struct http1_span http1__target_path(struct http1_span target);

/* The reason phrase lbtls sends with a status it answers itself ("Error"
 * for one it does not know). */
const char *http1__reason(int status);

/*
 * The head of an answer lbtls makes itself (error pages, ACME files):
 * "HTTP/1.1 STATUS REASON", "Server: lbtls", 'headers' (lines each ending
 * in CRLF, or NULL), Content-Type, Content-Length, 'extra' (the same, e.g.
 * X-Served-By), then Connection: close or keep-alive. Returns bytes
 * written, or -1 when cap is short.
 */
ssize_t http1__write_local_head(int status, const char *headers,
				const char *type, uint64_t length,
				const char *extra, bool close, char *out,
				size_t cap);

/* Case-insensitive header lookup; the first match, or NULL. */
const struct http1_header *http1__find(const struct http1_header *h, size_t n,
				       const char *name);

#endif /* LBTLS_HTTP1_H */
