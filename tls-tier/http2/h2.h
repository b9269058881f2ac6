/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The server side of one HTTP/2 connection (RFC 9113) on libnghttp2 1.52:
 * frames in, frames out, and every limit a hostile client meets. It knows
 * nothing of sockets, TLS or upstreams: its owner (proxy/h2conn.c, or the
 * fuzz target) feeds it the client's bytes, drains its output into a
 * buffer, and answers its callbacks.
 *
 * A request reaches the owner as an HTTP/1.1 head it would have received
 * from an HTTP/1.1 client (":authority" as Host, cookies joined with "; "),
 * so that the one HTTP/1 parser and rewriter (http1/) validates it and the
 * proxy core treats both protocols alike. Request bodies go to the owner
 * as DATA arrives; the flow-control window opens again only when the owner
 * says the bytes have gone (h2__consume), so a slow backend pushes back on
 * its own stream. Responses come from an HTTP/1 response head (any
 * connection-specific field dropped, names lower-cased) and a body the
 * owner hands out when it has bytes (h2__resume after a -EAGAIN).
 *
 * Defences beyond nghttp2's own (docs/lbtls.md, "HTTP/2"): header count and
 * bytes bounded before anything is kept for them; a "glitch" budget (token
 * bucket) spent by protocol errors, invalid frames, resets of requests,
 * empty DATA frames and control frames (PING, SETTINGS, PRIORITY) beyond
 * their own allowance: when it runs out, GOAWAY(ENHANCE_YOUR_CALM) and
 * close; a rapid-reset limiter on RST_STREAM frames; a SETTINGS
 * acknowledgement deadline; nghttp2's CONTINUATION limit.
 */
#ifndef LBTLS_H2_H
#define LBTLS_H2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "config.h"
#include "http1.h"

struct h2;
struct metrics_h2;

/* A request head, whole. */
struct h2_request {
	int32_t id; /* the stream */
	/* HTTP/1.1 text of the head, through its blank line; valid during
	 * the callback only */
	const char *head;
	size_t len;
	/* 0, or the status to answer instead of forwarding (400: a
	 * malformed request nghttp2 let through, :authority and Host
	 * differ; 431: over max_headers or max_header_bytes) */
	int error;
	bool end_stream; /* no body will follow */
	bool has_length; /* the head carries a content-length */
	bool expect_continue; /* "expect: 100-continue" (not in head) */
};

/*
 * The owner's side. 'st' is what request() returned for the stream. The
 * calls come from inside h2__recv(), h2__send() and h2__free().
 */
struct h2_ops {
	/* A new request: the owner's stream object, or NULL when it cannot
	 * take it now (RST_STREAM(REFUSED_STREAM): the client may retry). */
	void *(*request)(void *owner, const struct h2_request *req);
	/* Request body bytes: the owner keeps all of them (the stream's
	 * window, initial_window, bounds what it has not consumed yet). */
	void (*data)(void *owner, void *st, const uint8_t *p, size_t n);
	/* END_STREAM: the request body is whole. */
	void (*end)(void *owner, void *st);
	/* Response body for DATA frames: copy at most 'len' bytes into p;
	 * returns the count (with *eof at the end of the body), or -EAGAIN
	 * when none is ready yet (the owner calls h2__resume() later). */
	ssize_t (*read)(void *owner, void *st, uint8_t *p, size_t len,
			bool *eof);
	/* The stream is gone (answered, reset by either side, or the
	 * connection ended): 'st' is never passed again. 'code' is the
	 * RST_STREAM error code, 0 for a stream that ended cleanly. */
	void (*closed)(void *owner, void *st, uint32_t code);
};

/*
 * NULL without memory. 'l' (config: http2.*) must outlive the session;
 * 'max_header_bytes' bounds a request's field names and values
 * (limits.header_total). 'm' may be NULL (no counters).
 */
struct h2 *h2__new(const struct cfg_http2 *l, size_t max_header_bytes,
		   const struct h2_ops *ops, void *owner, struct metrics_h2 *m,
		   uint64_t now_ms);
/* Every open stream is closed (ops->closed) first. */
void h2__free(struct h2 *h);

/*
 * The client's bytes. Returns 0, or -1 when the connection is over: a
 * GOAWAY may be queued, send what h2__send() gives and close.
 */
int h2__recv(struct h2 *h, const uint8_t *p, size_t n, uint64_t now_ms);

/*
 * Frames for the client, appended to 'out' while it holds fewer than
 * 'high' bytes (so a client that does not read stops costing memory).
 * Returns 0, or -1 on a fatal error (out of memory).
 */
int h2__send(struct h2 *h, struct buf *out, size_t high);

/* There are frames to send (and room in the peer's windows for data). */
bool h2__want_write(const struct h2 *h);
/* The session is ending (GOAWAY queued or sent after an error, a limit
 * or an immediate shutdown): nothing more is read, no deadline of its
 * streams matters. */
bool h2__dead(const struct h2 *h);
/* Nothing more will be read or written: close once 'out' is sent. */
bool h2__done(const struct h2 *h);
/* Open streams. */
unsigned h2__streams(const struct h2 *h);

/*
 * The response head for a stream, from an HTTP/1 head (an upstream's or
 * one of our own): status and fields, minus connection-specific ones,
 * names lower-cased, 'extra' header lines ("Name: value\r\n"...) added.
 * 'body': DATA follows through ops->read; else the HEADERS end the stream.
 * Returns 0 or -1 (the stream is gone, or no memory).
 */
int h2__respond(struct h2 *h, int32_t id, const struct http1_response *res,
		const char *extra, bool body);
/* An interim "100" for a request that asked for it. */
int h2__continue(struct h2 *h, int32_t id);
/* Response bytes are ready again after ops->read said -EAGAIN. */
void h2__resume(struct h2 *h, int32_t id);
/* 'n' request body bytes have left the owner's buffer: window for more. */
void h2__consume(struct h2 *h, int32_t id, size_t n);
/* Reset a stream (NGHTTP2_* error code: CANCEL, INTERNAL_ERROR...). */
void h2__reset(struct h2 *h, int32_t id, uint32_t code);
/* A glitch the owner saw (a reset of a stream with a request upstream);
 * returns true when the budget is spent (the connection is going away). */
bool h2__glitch(struct h2 *h, const char *what, uint64_t now_ms);

/*
 * Graceful shutdown (reload, stop): a GOAWAY with the last stream id, new
 * streams refused, those open finish; h2__done() once they have. Immediate
 * when 'now' (shutdown_timeout passed): GOAWAY(NO_ERROR), streams reset.
 */
void h2__shutdown(struct h2 *h, bool now);

/* The next deadline of the session itself (the SETTINGS acknowledgement);
 * UINT64_MAX for none. h2__timeout() acts on it. */
uint64_t h2__deadline(const struct h2 *h);
void h2__timeout(struct h2 *h, uint64_t now_ms);

#endif /* LBTLS_H2_H */
