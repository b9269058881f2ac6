/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * HTTP/1.x message framing for lbtls (RFC 9112): request and response heads,
 * the chunked body scanner, and the request head lbtls sends upstream.
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
 * -400 on bad framing (non-hex size, size overflow over 2^63, missing CRLF,
 * over-long size or trailer line), -413 when the total passes max_total.
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
	/* textual, no port: "198.18.1.10", "fd00::1" */
	const char *client_addr;
	const char *proto; /* "https" or "http" */
	const char *host; /* used when the request had no Host (1.0) */
};

/*
 * Write the request head sent upstream into out[0..cap): request line as
 * HTTP/1.1 whatever the client's version (an HTTP/1.0 request without Host
 * gets fwd->host), the client's headers minus hop-by-hop ones (Connection,
 * Keep-Alive, Proxy-Connection, TE, Trailer, Upgrade, and every header the
 * Connection header names, so an upgrade request goes as a plain one; the
 * Transfer-Encoding kept as the body is relayed chunked) and minus Expect
 * (lbtls answers it), X-Forwarded-For appended to any it had, X-Forwarded-Proto and
 * X-Real-IP set (client values replaced), Host kept, and
 * "Connection: keep-alive". Returns bytes written, or -1 if cap is short.
 */
ssize_t http1__write_upstream_head(const struct http1_request *req,
				   const struct http1_forward *fwd, char *out,
				   size_t cap);

/* Case-insensitive header lookup; the first match, or NULL. */
const struct http1_header *http1__find(const struct http1_header *h, size_t n,
				       const char *name);

#endif /* LBTLS_HTTP1_H */
