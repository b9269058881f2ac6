/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A transaction: one request and its upstream exchange. It frames the
 * request body out of the client's input, picks a server, sends the head
 * and body, frames the response, applies the retry policy and keeps its
 * own deadlines (connect, send, client body, upstream read). It ends early
 * through one path, txn_abort(), which decides whether the client
 * connection can be reused: only when the request body was consumed whole.
 *
 * It is protocol-neutral: the request comes as an HTTP/1 head (an HTTP/2
 * stream's is converted to one, http2/h2.h), its body from the owner's
 * buffer 'src', and the response head goes to the owner through res_head
 * (HTTP/2) or as HTTP/1 text into 'dst' (HTTP/1.1); the body is read with
 * txn__body(). One transaction per HTTP/1 request or HTTP/2 stream.
 *
 * With upstream.request_buffering (the default) no server is picked before
 * the body is whole: a slow client costs lbtls memory or a temporary file,
 * never a backend's connection. upstream.max_conns bounds the requests in
 * flight per server; over it, a transaction waits in the proxy's queue.
 */
#ifndef LBTLS_TXN_H
#define LBTLS_TXN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "buf.h"
#include "http1.h"
#include "loop.h"
#include "reqbody.h"

struct proxy;
struct pool_conn;

enum txn_result {
	TXN_BLOCKED, /* nothing moved: wait for events */
	TXN_PROGRESS, /* bytes moved: step again */
	TXN_ABORTED, /* ended early: see abort_status and must_close */
};

/* What the access log and error messages keep of a request head. */
struct req_info {
	size_t method_len, target_len, ref_len, ua_len;
	char method[32];
	char target[1024], ref[256], ua[256];
};

enum txn_rstate { R_HEAD, R_BODY, R_DONE };

struct txn {
	struct proxy *px;
	const struct sockaddr_storage *peer;
	const char *peer_str;
	/* the owner's: the client's input (request body at src->s) and
	 * output (the response head goes there), and its wake-up */
	struct buf *src, *dst;
	void (*wake)(void *owner);
	void *owner;
	/* HTTP/2: the response head goes here instead of into dst, and a
	 * chunked body is handed out de-chunked (data_only) */
	int (*res_head)(void *owner, struct txn *t,
			const struct http1_response *res);
	bool data_only;
	/* HTTP/2: no server is picked inside txn__start(), only at the first
	 * txn__step(), after the rest of what the client sent was read: a
	 * stream reset in the same read costs no upstream connection */
	bool start_later;
	bool start_pending;
	struct txn *next_free;

	/* the request */
	struct req_info ri;
	int minor;
	bool keep_alive, idempotent;
	/* HTTP1_BODY_UNTIL_CLOSE: an HTTP/2 body without content-length,
	 * whole at src_eof; always buffered, sent with its length */
	enum http1_body rb;
	uint64_t rb_left;
	struct http1_chunked rchunk;
	size_t rb_ready; /* framed body bytes at src->s, not yet sent */
	bool rb_framed; /* the whole body has been framed */
	bool rb_started; /* body bytes went upstream: never resent */
	bool src_eof; /* owner: no more request bytes will come */
	uint64_t t_src; /* owner: when request bytes last arrived */
	uint64_t t_body0; /* when the head was parsed */
	uint64_t rb_got; /* body bytes received, framing excluded */
	/* request buffering: the whole body is read into 'body' before a
	 * server is picked, then sent from there (again, for a retry) */
	bool buffered; /* this request's body goes through 'body' */
	struct reqbody body;

	/* upstream.max_conns: waiting in the proxy's queue for room */
	bool queued;
	struct txn *q_next, *q_prev;
	uint64_t t_queued;
	struct loop_timer q_timer; /* room came: start on the next turn */

	/* the upstream exchange */
	struct pool_conn *uc;
	int server; /* -1 when none was used */
	uint64_t tried; /* servers tried, one bit each */
	bool head_sent; /* a byte of this attempt's head went out */
	int send_err; /* the upstream refused more request bytes: read its
			 answer (an early 413) before judging it */
	bool up_hup; /* epoll said error or hang-up on the upstream */
	struct buf uout; /* request head, kept whole for a retry */
	size_t uout_off;
	struct buf uin;
	enum txn_rstate rs;
	bool res_keep_alive; /* the upstream connection may be reused */
	bool up_eof;
	int up_err; /* the upstream failed (errno) after the response head */
	bool up_rd_ready; /* the upstream socket may have bytes for us */
	enum http1_body sb;
	uint64_t sb_left;
	struct http1_chunked schunk;
	size_t sb_ready; /* response body bytes at uin.s for the client */
	bool dechunk; /* chunked response to a 1.0 client: data only */
	bool res_started; /* response bytes queued for the client */
	uint64_t t_up_start, t_up_read, t_up_write;

	/* the outcome */
	int status;
	uint64_t body_sent;
	uint64_t t_start_us;
	/* The client connection closes after this response: set by the
	 * owner before txn__start (client asked, draining, ...) and by the
	 * transaction (body not consumed, response delimited by close). */
	bool close;
	bool aborted; /* ended early; txn__step says TXN_ABORTED */
	int abort_status; /* the status to answer then, 0: none */
	const char *end; /* why it ended early (access log), NULL: it did not */
};

/* A transaction for the request just parsed in 'req' (its spans are read
 * now only); NULL without memory. */
struct txn *txn__new(struct proxy *px, const struct http1_request *req);
void txn__free(struct txn *t);

/*
 * Build the upstream head and start the exchange. 'fwd' says what to add.
 * Returns TXN_PROGRESS, or TXN_ABORTED (431, 500, 502, 503).
 */
enum txn_result txn__start(struct txn *t, const struct http1_request *req,
			   const struct http1_forward *fwd);

/* Move every byte that can move without blocking; TXN_ABORTED also
 * reports an abort that happened in an event or a timer since. */
enum txn_result txn__step(struct txn *t);

/* Watch the upstream for what the exchange waits on; returns the
 * transaction's next deadline (UINT64_MAX: none). It may abort (epoll
 * failed): check t->aborted. */
uint64_t txn__arm(struct txn *t);

/* The deadline has passed: act on whichever phase it belongs to. */
enum txn_result txn__timeout(struct txn *t);

/* Woken from the max_conns queue: it starts on this loop turn's timers,
 * so a queue deadline that passed in the same turn claims nothing. */
static inline bool txn__starting(const struct txn *t)
{
	return t->q_timer.idx >= 0;
}

/* Response body bytes ready for the client, and their consumption. */
static inline size_t txn__body(const struct txn *t, const char **p)
{
	*p = t->uin.d + t->uin.s;
	return t->sb_ready;
}
void txn__body_sent(struct txn *t, size_t n);

/* The response is framed to its end and queued for the client. */
static inline bool txn__res_done(const struct txn *t)
{
	return t->rs == R_DONE && !t->sb_ready;
}

/* A server may have room that no release announced (its fail_timeout
 * ran out, a health check or upstream.file brought it back): the first
 * request waiting under max_conns looks, on this loop turn's timers. */
void txn__queue_poll(struct proxy *px);

/* The owner is done with it: release the upstream (pooled when clean) and
 * say whether the request body was consumed whole. */
bool txn__finish(struct txn *t);

#endif /* LBTLS_TXN_H */
