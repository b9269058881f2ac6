// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * HTTP/2 sessions on libnghttp2 (h2.h). nghttp2 parses frames, keeps the
 * stream states and HPACK, and checks what RFC 9113 8 makes a malformed
 * request (pseudo-headers, connection-specific fields, content-length
 * against DATA); this file adds what 1.52 leaves to its user: bounds on a
 * request's fields before anything is kept for them, the glitch budget,
 * the control-frame allowance, the SETTINGS deadline, graceful shutdown,
 * and the conversion to and from HTTP/1 heads.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <nghttp2/nghttp2.h>

#include "h2.h"
#include "log.h"
#include "metrics.h"

#define TOKEN_UNIT 1000 /* buckets count thousandths of a token */
#define RECV_SLICE 4096 /* bytes fed to nghttp2 between liveness checks */
#define HEAD_SLACK 512 /* request line, Host, framing beyond the fields */

/* A stream while it exists in nghttp2 (its stream user data). */
struct h2_stream {
	struct h2_stream *next, *prev; /* every stream of the session */
	int32_t id;
	void *st; /* the owner's; NULL until the request was taken */
	/* the request head being received: fields as HTTP/1 lines, the
	 * pseudo-headers, Host and cookies apart */
	struct buf fields, cookies;
	char method[32];
	struct buf path, authority, host;
	uint32_t nfields, bytes;
	int error; /* 0, or the status to answer */
	bool has_length, expect_continue;
	bool responded; /* our HEADERS were submitted */
	bool body_eof; /* ops->read said the end */
};

struct h2 {
	nghttp2_session *ng;
	const struct cfg_http2 *l;
	size_t max_header_bytes;
	const struct h2_ops *ops;
	void *owner;
	struct metrics_h2 *m;
	uint64_t now;
	struct h2_stream *streams; /* nghttp2_session_del closes none */
	unsigned nstreams;
	bool dead; /* the session is ending: read nothing more */
	/* token buckets, in thousandths */
	uint64_t glitch_tokens, glitch_t;
	uint64_t control_tokens, control_t;
	uint64_t reset_tokens, reset_t;
	uint64_t settings_deadline; /* UINT64_MAX: acknowledged */
	/* graceful shutdown: notice sent, a PING to learn the round trip */
	bool shutting, goaway_final;
	bool peer_goaway; /* the client said it is leaving */
	bool term_pending; /* end_session() from a callback: GOAWAY to queue */
	uint32_t term_code;
	int32_t last_delivered; /* the highest stream handed to the owner */
	/* streams to reset once their answer has been written */
	int32_t rst[16];
	unsigned nrst;
};

#define COUNT(h, f)                               \
	do {                                      \
		if ((h)->m)                       \
			METRIC_ADD((h)->m->f, 1); \
	} while (0)

static const uint8_t shutdown_ping[8] = "lbtls-sd";

/* --- budgets ---------------------------------------------------------------- */

static bool take_token(uint64_t *tokens, uint64_t *t, uint32_t rate,
		       uint32_t burst, uint64_t now)
{
	uint64_t cap = (uint64_t)burst * TOKEN_UNIT;

	if (now > *t) {
		*tokens +=
			(now - *t) * rate; /* rate/s is rate per ms in 1/1000 */
		if (*tokens > cap)
			*tokens = cap;
		*t = now;
	}
	if (*tokens < TOKEN_UNIT)
		return false;
	*tokens -= TOKEN_UNIT;
	return true;
}

/*
 * End the session with GOAWAY(code). From inside an nghttp2 callback,
 * nghttp2 1.52 must not be told at once: it would go on parsing the rest
 * of the read and abort on the next connection error (an assertion
 * fixed upstream in 2025). The session is dead at once (nothing more goes
 * to the owner); the GOAWAY is queued when nghttp2 has returned
 * (end_pending).
 */
static void end_session(struct h2 *h, uint32_t code)
{
	if (h->dead)
		return;
	h->dead = true;
	h->term_code = code;
	h->term_pending = true;
}

static void end_pending(struct h2 *h)
{
	if (!h->term_pending)
		return;
	h->term_pending = false;
	/* the last stream the owner got: nghttp2 may have read further in
	 * that read, and it may have sent a GOAWAY of its own meanwhile,
	 * whose last id this must not exceed */
	nghttp2_session_terminate_session2(h->ng, h->last_delivered,
					   h->term_code);
}

/* GOAWAY(ENHANCE_YOUR_CALM): the budget is spent. */
static void calm_down(struct h2 *h, const char *what)
{
	if (h->dead)
		return;
	log_info(
		"HTTP/2 client spent its glitch budget (last: %s): GOAWAY ENHANCE_YOUR_CALM",
		what);
	COUNT(h, limited.glitches);
	end_session(h, NGHTTP2_ENHANCE_YOUR_CALM);
}

bool h2__glitch(struct h2 *h, const char *what, uint64_t now_ms)
{
	if (now_ms > h->now)
		h->now = now_ms;
	COUNT(h, glitch_events);
	if (take_token(&h->glitch_tokens, &h->glitch_t, h->l->glitch_rate,
		       h->l->glitch_burst, h->now))
		return h->dead;
	calm_down(h, what);
	return true;
}

/* A control frame: free within its allowance, a glitch beyond. */
static void control_frame(struct h2 *h, const char *what)
{
	if (!take_token(&h->control_tokens, &h->control_t, h->l->control_rate,
			h->l->control_burst, h->now))
		h2__glitch(h, what, h->now);
}

/* --- streams ---------------------------------------------------------------- */

static struct h2_stream *stream_of(struct h2 *h, int32_t id)
{
	return nghttp2_session_get_stream_user_data(h->ng, id);
}

static void stream_free(struct h2_stream *s)
{
	buf__free(&s->fields);
	buf__free(&s->cookies);
	buf__free(&s->path);
	buf__free(&s->authority);
	buf__free(&s->host);
	free(s);
}

static void stream_unlink(struct h2 *h, struct h2_stream *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		h->streams = s->next;
	if (s->next)
		s->next->prev = s->prev;
	h->nstreams--;
}

/* The head is built: the fields' memory goes. */
static void stream_drop_head(struct h2_stream *s)
{
	buf__free(&s->fields);
	buf__free(&s->cookies);
	buf__free(&s->path);
	buf__free(&s->authority);
	buf__free(&s->host);
}

static int on_begin_headers(nghttp2_session *ng, const nghttp2_frame *f,
			    void *data)
{
	struct h2 *h = data;
	struct h2_stream *s;

	(void)ng;
	if (f->hd.type != NGHTTP2_HEADERS ||
	    f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	/* after a GOAWAY, nghttp2 refuses streams above its last id itself;
	 * those the client sent before it saw one are served */
	if (h->dead)
		return 0;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	s->id = f->hd.stream_id;
	if (nghttp2_session_set_stream_user_data(h->ng, s->id, s)) {
		free(s);
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	}
	s->next = h->streams;
	if (h->streams)
		h->streams->prev = s;
	h->streams = s;
	h->nstreams++;
	COUNT(h, streams);
	return 0;
}

static bool is(const uint8_t *p, size_t n, const char *lit)
{
	return n == strlen(lit) && !memcmp(p, lit, n);
}

static int add_span(struct buf *b, const uint8_t *p, size_t n)
{
	return buf__add(b, p, n);
}

/*
 * One field of a request head. nghttp2 has checked its characters, the
 * pseudo-headers' rules and the connection-specific fields (those make
 * the stream malformed: RST_STREAM(PROTOCOL_ERROR)). Over the count or the
 * bytes, nothing more is kept: the stream is answered 431.
 */
static int on_header(nghttp2_session *ng, const nghttp2_frame *f,
		     const uint8_t *name, size_t nl, const uint8_t *value,
		     size_t vl, uint8_t flags, void *data)
{
	struct h2 *h = data;
	struct h2_stream *s = stream_of(h, f->hd.stream_id);
	int err = 0;

	(void)ng;
	(void)flags;
	if (!s || f->hd.type != NGHTTP2_HEADERS)
		return 0;
	s->nfields++;
	s->bytes += nl + vl;
	/* Far over the bounds: an HPACK bomb (one table entry referenced
	 * thousands of times). nghttp2 would still check every value it
	 * decodes; failing here makes it skip the rest of the block and reset
	 * the stream (INTERNAL_ERROR) instead of answering 431. */
	if (s->nfields > 2 * h->l->max_headers ||
	    s->bytes > 2 * h->max_header_bytes) {
		h2__glitch(h, "header block far over its bounds", h->now);
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	}
	if (s->error)
		return 0;
	if (s->nfields > h->l->max_headers || s->bytes > h->max_header_bytes) {
		s->error = 431;
		COUNT(h, limited.headers);
		stream_drop_head(s);
		return 0;
	}
	if (f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0; /* trailers: not forwarded */
	if (nl && name[0] == ':') {
		if (is(name, nl, ":method")) {
			if (vl >= sizeof(s->method))
				s->error = 501;
			else
				memcpy(s->method, value, vl);
		} else if (is(name, nl, ":path")) {
			err = add_span(&s->path, value, vl);
		} else if (is(name, nl, ":authority")) {
			err = add_span(&s->authority, value, vl);
		}
		return err ? NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE : 0;
	}
	if (is(name, nl, "host")) {
		if (buf_len(&s->host)) /* two Host fields */
			s->error = 400;
		err = add_span(&s->host, value, vl);
	} else if (is(name, nl, "cookie")) {
		/* RFC 9113 8.2.3: crumbs joined with "; " for HTTP/1.1 */
		if (buf_len(&s->cookies))
			err = buf__add(&s->cookies, "; ", 2);
		err = err ?: add_span(&s->cookies, value, vl);
	} else if (is(name, nl, "expect") && is(value, vl, "100-continue")) {
		s->expect_continue = true;
	} else {
		if (is(name, nl, "content-length"))
			s->has_length = true;
		err = buf__reserve(&s->fields, nl + vl + 4);
		if (!err) {
			char *o = s->fields.d + s->fields.e;

			memcpy(o, name, nl);
			o[nl] = ':';
			o[nl + 1] = ' ';
			memcpy(o + nl + 2, value, vl);
			o[nl + 2 + vl] = '\r';
			o[nl + 3 + vl] = '\n';
			s->fields.e += nl + vl + 4;
		}
	}
	return err ? NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE : 0;
}

/* A buffer's bytes; never NULL + 0 (a buffer that never got any). */
static const char *bytes(const struct buf *b)
{
	return b->d ? b->d + b->s : "";
}

static bool same_host(const struct buf *a, const struct buf *b)
{
	return buf_len(a) == buf_len(b) &&
	       !strncasecmp(bytes(a), bytes(b), buf_len(a));
}

/* The request as the HTTP/1.1 head an HTTP/1.1 client would have sent. */
static void deliver_request(struct h2 *h, struct h2_stream *s, bool end)
{
	struct h2_request r = { .id = s->id, .end_stream = end };
	const struct buf *host =
		buf_len(&s->authority) ? &s->authority : &s->host;
	struct buf head = { 0 };
	int err;

	if (h->dead) { /* the rest of a read after the session ended */
		stream_drop_head(s);
		nghttp2_submit_rst_stream(h->ng, NGHTTP2_FLAG_NONE, s->id,
					  NGHTTP2_REFUSED_STREAM);
		return;
	}
	if (!s->error && buf_len(&s->authority) && buf_len(&s->host) &&
	    !same_host(&s->authority, &s->host))
		s->error = 400; /* RFC 9113 8.3.1: they must agree */
	r.error = s->error;
	r.has_length = s->has_length;
	r.expect_continue = s->expect_continue;
	if (!r.error) {
		err = buf__reserve(&head, buf_len(&s->fields) +
						  buf_len(&s->cookies) +
						  buf_len(&s->path) +
						  buf_len(host) + HEAD_SLACK);
		err = err   ?:
			      buf__printf(&head, "%s %.*s HTTP/1.1\r\n",
					  s->method, (int)buf_len(&s->path),
					  bytes(&s->path));
		if (!err && buf_len(host))
			err = buf__printf(&head, "Host: %.*s\r\n",
					  (int)buf_len(host), bytes(host));
		err = err   ?:
			      buf__add(&head, bytes(&s->fields),
				       buf_len(&s->fields));
		if (!err && buf_len(&s->cookies))
			err = buf__printf(&head, "Cookie: %.*s\r\n",
					  (int)buf_len(&s->cookies),
					  bytes(&s->cookies));
		err = err ?: buf__add(&head, "\r\n", 2);
		if (err) {
			buf__free(&head);
			nghttp2_submit_rst_stream(h->ng, NGHTTP2_FLAG_NONE,
						  s->id,
						  NGHTTP2_INTERNAL_ERROR);
			return;
		}
		r.head = head.d;
		r.len = buf_len(&head);
	}
	stream_drop_head(s);
	if (s->id > h->last_delivered)
		h->last_delivered = s->id;
	s->st = h->ops->request(h->owner, &r);
	buf__free(&head);
	if (!s->st)
		nghttp2_submit_rst_stream(h->ng, NGHTTP2_FLAG_NONE, s->id,
					  NGHTTP2_REFUSED_STREAM);
}

static int on_frame_recv(nghttp2_session *ng, const nghttp2_frame *f,
			 void *data)
{
	struct h2 *h = data;
	struct h2_stream *s =
		f->hd.stream_id ? stream_of(h, f->hd.stream_id) : NULL;
	bool end = f->hd.flags & NGHTTP2_FLAG_END_STREAM;

	(void)ng;
	switch (f->hd.type) {
	case NGHTTP2_HEADERS:
		if (!s)
			break;
		if (f->headers.cat == NGHTTP2_HCAT_REQUEST)
			deliver_request(h, s, end);
		else if (end && s->st)
			h->ops->end(h->owner, s->st);
		break;
	case NGHTTP2_DATA:
		/* an empty DATA frame that ends nothing: a flood's unit */
		if (f->hd.length == f->data.padlen && !end)
			h2__glitch(h, "empty DATA frame", h->now);
		if (end && s && s->st)
			h->ops->end(h->owner, s->st);
		break;
	case NGHTTP2_SETTINGS:
		if (f->hd.flags & NGHTTP2_FLAG_ACK)
			h->settings_deadline = UINT64_MAX;
		else
			control_frame(h, "SETTINGS");
		break;
	case NGHTTP2_PING:
		if (!(f->hd.flags & NGHTTP2_FLAG_ACK)) {
			control_frame(h, "PING");
		} else if (h->shutting && !h->goaway_final &&
			   !memcmp(f->ping.opaque_data, shutdown_ping, 8)) {
			/* a round trip after the notice: every stream the
			 * client started before it has reached us */
			h->goaway_final = true;
			nghttp2_submit_goaway(
				h->ng, NGHTTP2_FLAG_NONE,
				nghttp2_session_get_last_proc_stream_id(h->ng),
				NGHTTP2_NO_ERROR, NULL, 0);
		}
		break;
	case NGHTTP2_RST_STREAM:
		if (s && s->st && !s->body_eof)
			COUNT(h, resets_by_client);
		break;
	case NGHTTP2_GOAWAY:
		h->peer_goaway = true;
		break;
	default:
		break;
	}
	return 0;
}

/*
 * Every frame's header, before nghttp2 acts on it. With
 * NO_RFC7540_PRIORITIES nghttp2 drops PRIORITY frames unseen: they are
 * counted here, and one on stream 0 is the connection error RFC 9113 6.3
 * says it is.
 */
static int on_begin_frame(nghttp2_session *ng, const nghttp2_frame_hd *hd,
			  void *data)
{
	struct h2 *h = data;

	(void)ng;
	if (h->dead)
		return 0;
	/*
	 * The rapid-reset limit (CVE-2023-44487), on every RST_STREAM as
	 * nghttp2's own counts them. Debian's backport of that one queues a
	 * GOAWAY and goes on reading (the rest of the read reached us, and a
	 * later error sent a second GOAWAY with a higher last stream id): it
	 * is left off, this one ends the session.
	 */
	if (hd->type == NGHTTP2_RST_STREAM &&
	    !take_token(&h->reset_tokens, &h->reset_t, h->l->reset_rate,
			h->l->reset_burst, h->now)) {
		log_info(
			"HTTP/2 client over http2.reset_rate: GOAWAY ENHANCE_YOUR_CALM");
		COUNT(h, limited.glitches);
		end_session(h, NGHTTP2_ENHANCE_YOUR_CALM);
		return 0;
	}
	if (hd->type != NGHTTP2_PRIORITY)
		return 0;
	if (!hd->stream_id) {
		h2__glitch(h, "PRIORITY on stream 0", h->now);
		if (!h->dead)
			COUNT(h, limited.protocol_error);
		end_session(h, NGHTTP2_PROTOCOL_ERROR);
		return 0;
	}
	control_frame(h, "PRIORITY");
	return 0;
}

static int on_invalid_frame(nghttp2_session *ng, const nghttp2_frame *f,
			    int lib_error, void *data)
{
	struct h2 *h = data;

	(void)ng;
	(void)f;
	h2__glitch(h, nghttp2_strerror(lib_error), h->now);
	return 0;
}

static int on_data_chunk(nghttp2_session *ng, uint8_t flags, int32_t id,
			 const uint8_t *p, size_t n, void *data)
{
	struct h2 *h = data;
	struct h2_stream *s = stream_of(h, id);

	(void)flags;
	if (s && s->st && !h->dead) {
		h->ops->data(h->owner, s->st, p, n);
		return 0;
	}
	/* nobody takes it (refused, answered already): window back now */
	nghttp2_session_consume(ng, id, n);
	return 0;
}

/*
 * RST_STREAM(NO_ERROR) for a stream answered before its request ended, once
 * the answer has left: sent with it, some clients (curl 7.88) drop the
 * answer they have not processed yet.
 */
static void end_request(struct h2 *h, int32_t id)
{
	if (h->nrst < sizeof(h->rst) / sizeof(h->rst[0])) {
		h->rst[h->nrst++] = id;
		return;
	}
	nghttp2_submit_rst_stream(h->ng, NGHTTP2_FLAG_NONE, id,
				  NGHTTP2_NO_ERROR);
}

static void flush_end_requests(struct h2 *h)
{
	unsigned i;

	for (i = 0; i < h->nrst; i++)
		if (stream_of(h, h->rst[i]) &&
		    !nghttp2_session_get_stream_remote_close(h->ng, h->rst[i]))
			nghttp2_submit_rst_stream(h->ng, NGHTTP2_FLAG_NONE,
						  h->rst[i], NGHTTP2_NO_ERROR);
	h->nrst = 0;
}

static int on_frame_send(nghttp2_session *ng, const nghttp2_frame *f,
			 void *data)
{
	struct h2 *h = data;
	struct h2_stream *s;

	switch (f->hd.type) {
	case NGHTTP2_GOAWAY:
		/* the notice is out: a PING behind it measures the round
		 * trip (nghttp2 would send one queued with it first) */
		if (h->shutting && !h->goaway_final &&
		    f->goaway.last_stream_id == (1U << 31) - 1)
			nghttp2_submit_ping(ng, NGHTTP2_FLAG_NONE,
					    shutdown_ping);
		/* nghttp2 ended the connection itself (a connection error,
		 * its rapid-reset or CONTINUATION limit); ours set dead */
		if (f->goaway.error_code != NGHTTP2_NO_ERROR && !h->dead) {
			COUNT(h, limited.protocol_error);
			log_info("HTTP/2 connection error: GOAWAY %s",
				 nghttp2_http2_strerror(f->goaway.error_code));
			h->dead = true;
		}
		break;
	case NGHTTP2_RST_STREAM:
		/* refused by nghttp2 before we saw it: over
		 * max_concurrent_streams (or above a GOAWAY's last id) */
		if (f->rst_stream.error_code == NGHTTP2_REFUSED_STREAM &&
		    !stream_of(h, f->hd.stream_id))
			COUNT(h, limited.max_streams);
		/* nghttp2 reset a stream the client broke: MadeYouReset's
		 * unit (CVE-2025-8671); ours carry other codes */
		if (f->rst_stream.error_code == NGHTTP2_PROTOCOL_ERROR ||
		    f->rst_stream.error_code == NGHTTP2_FLOW_CONTROL_ERROR ||
		    f->rst_stream.error_code == NGHTTP2_STREAM_CLOSED ||
		    f->rst_stream.error_code == NGHTTP2_FRAME_SIZE_ERROR)
			h2__glitch(h, "stream error", h->now);
		break;
	case NGHTTP2_DATA:
	case NGHTTP2_HEADERS:
		/* The response is whole but the request is not: RFC 9113
		 * 8.1 lets the server end the stream, after its data. */
		if ((f->hd.flags & NGHTTP2_FLAG_END_STREAM) &&
		    (s = stream_of(h, f->hd.stream_id)) && s->responded &&
		    !nghttp2_session_get_stream_remote_close(ng, s->id))
			end_request(h, s->id);
		break;
	default:
		break;
	}
	return 0;
}

static int on_stream_close(nghttp2_session *ng, int32_t id, uint32_t code,
			   void *data)
{
	struct h2 *h = data;
	struct h2_stream *s = stream_of(h, id);

	if (!s)
		return 0;
	nghttp2_session_set_stream_user_data(ng, id, NULL);
	stream_unlink(h, s);
	if (s->st)
		h->ops->closed(h->owner, s->st, code);
	stream_free(s);
	return 0;
}

/* --- the session ------------------------------------------------------------ */

struct h2 *h2__new(const struct cfg_http2 *l, size_t max_header_bytes,
		   const struct h2_ops *ops, void *owner, struct metrics_h2 *m,
		   uint64_t now_ms)
{
	nghttp2_session_callbacks *cb = NULL;
	nghttp2_option *opt = NULL;
	struct h2 *h = calloc(1, sizeof(*h));
	nghttp2_settings_entry iv[] = {
		{ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, l->max_streams },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, l->initial_window },
		{ NGHTTP2_SETTINGS_HEADER_TABLE_SIZE, l->header_table },
		{ NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE,
		  (uint32_t)max_header_bytes + 32 * l->max_headers },
		{ NGHTTP2_SETTINGS_ENABLE_PUSH, 0 },
		{ NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES, 1 },
	};

	if (!h)
		return NULL;
	h->l = l;
	h->max_header_bytes = max_header_bytes;
	h->ops = ops;
	h->owner = owner;
	h->m = m;
	h->now = h->glitch_t = h->control_t = now_ms;
	h->glitch_tokens = (uint64_t)l->glitch_burst * TOKEN_UNIT;
	h->control_tokens = (uint64_t)l->control_burst * TOKEN_UNIT;
	h->reset_tokens = (uint64_t)l->reset_burst * TOKEN_UNIT;
	h->reset_t = now_ms;
	h->settings_deadline = l->settings_timeout_ms ?
				       now_ms + l->settings_timeout_ms :
				       UINT64_MAX;
	if (nghttp2_session_callbacks_new(&cb) || nghttp2_option_new(&opt))
		goto fail;
	nghttp2_session_callbacks_set_on_begin_headers_callback(
		cb, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
	nghttp2_session_callbacks_set_on_begin_frame_callback(cb,
							      on_begin_frame);
	nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(
		cb, on_invalid_frame);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
		cb, on_data_chunk);
	nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb,
							       on_stream_close);
	/* the window opens when the owner has passed the bytes on */
	nghttp2_option_set_no_auto_window_update(opt, 1);
	/* closed streams are not kept for RFC 7540 priorities */
	nghttp2_option_set_no_closed_streams(opt, 1);
	nghttp2_option_set_max_send_header_block_length(opt, 64 * 1024);
	nghttp2_option_set_max_deflate_dynamic_table_size(opt, 4096);
	/* ours instead (on_begin_frame): a bucket never emptied (its
	 * refill is rate x elapsed, so rate stays small) */
	nghttp2_option_set_stream_reset_rate_limit(opt, (uint64_t)1 << 62, 1);
	nghttp2_option_set_max_continuations(opt, 8);
	nghttp2_option_set_max_settings(opt, 32);
	nghttp2_option_set_max_outbound_ack(opt, 1000);
	if (nghttp2_session_server_new2(&h->ng, cb, h, opt))
		goto fail;
	nghttp2_session_callbacks_del(cb);
	nghttp2_option_del(opt);
	cb = NULL;
	opt = NULL;
	if (nghttp2_submit_settings(h->ng, NGHTTP2_FLAG_NONE, iv,
				    sizeof(iv) / sizeof(iv[0])) ||
	    (l->conn_window > 65535 &&
	     nghttp2_session_set_local_window_size(h->ng, NGHTTP2_FLAG_NONE, 0,
						   l->conn_window)))
		goto fail;
	COUNT(h, connections);
	return h;
fail:
	if (h->ng)
		nghttp2_session_del(h->ng);
	nghttp2_session_callbacks_del(cb);
	nghttp2_option_del(opt);
	free(h);
	return NULL;
}

void h2__free(struct h2 *h)
{
	struct h2_stream *s;

	if (!h)
		return;
	/* nghttp2_session_del calls no callback: the owner hears here */
	while ((s = h->streams)) {
		nghttp2_session_set_stream_user_data(h->ng, s->id, NULL);
		stream_unlink(h, s);
		if (s->st)
			h->ops->closed(h->owner, s->st, NGHTTP2_CANCEL);
		stream_free(s);
	}
	nghttp2_session_del(h->ng);
	free(h);
}

int h2__recv(struct h2 *h, const uint8_t *p, size_t n, uint64_t now_ms)
{
	ssize_t r;
	size_t k;

	if (now_ms > h->now)
		h->now = now_ms;
	while (n && !h->dead) {
		k = n < RECV_SLICE ? n : RECV_SLICE;
		r = nghttp2_session_mem_recv(h->ng, p, k);
		end_pending(h);
		if (r < 0) {
			if (r == NGHTTP2_ERR_BAD_CLIENT_MAGIC)
				COUNT(h, limited.bad_preface);
			else if (r != NGHTTP2_ERR_NOMEM)
				COUNT(h, limited.protocol_error);
			log_debug("HTTP/2 session ended: %s",
				  nghttp2_strerror((int)r));
			h->dead = true;
			return -1;
		}
		p += k;
		n -= k;
	}
	return h->dead ? -1 : 0;
}

int h2__send(struct h2 *h, struct buf *out, size_t high)
{
	const uint8_t *p;
	ssize_t n;

	if (h->nrst && !buf_len(out)) /* what came before has been written */
		flush_end_requests(h);
	end_pending(h);
	while (buf_len(out) < high) {
		n = nghttp2_session_mem_send(h->ng, &p);
		if (n < 0)
			return -1;
		if (!n) {
			if (!h->term_pending) /* a glitch in on_frame_send */
				break;
			end_pending(h);
			continue;
		}
		if (buf__add(out, p, n))
			return -1;
	}
	return 0;
}

bool h2__want_write(const struct h2 *h)
{
	return nghttp2_session_want_write(h->ng);
}

/*
 * nghttp2 stops wanting to read once any GOAWAY went and no stream is
 * open, the shutdown notice included: a graceful shutdown is done only
 * after its final GOAWAY, so that what the client sent meanwhile is read.
 */
bool h2__done(const struct h2 *h)
{
	if (nghttp2_session_want_write(h->ng))
		return false;
	if (h->dead)
		return true;
	if (h->shutting && !h->goaway_final)
		return false;
	return !nghttp2_session_want_read(h->ng);
}

bool h2__dead(const struct h2 *h)
{
	return h->dead;
}

unsigned h2__streams(const struct h2 *h)
{
	return h->nstreams;
}

/* --- responses -------------------------------------------------------------- */

static ssize_t read_body(nghttp2_session *ng, int32_t id, uint8_t *buf,
			 size_t len, uint32_t *flags, nghttp2_data_source *src,
			 void *data)
{
	struct h2 *h = data;
	struct h2_stream *s = src->ptr;
	bool eof = false;
	ssize_t n;

	(void)ng;
	(void)id;
	if (!s->st)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	n = h->ops->read(h->owner, s->st, buf, len, &eof);
	if (n == -EAGAIN)
		return NGHTTP2_ERR_DEFERRED;
	if (n < 0)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	if (eof) {
		s->body_eof = true;
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	}
	return n;
}

/* Fields a connection-specific HTTP/1 response carries that HTTP/2 must
 * not (RFC 9113 8.2.2), and those it names in its Connection field. */
static bool hop_by_hop(const struct http1_response *res,
		       const struct http1_span *name)
{
	static const char *const fixed[] = { "connection",
					     "keep-alive",
					     "proxy-connection",
					     "transfer-encoding",
					     "upgrade",
					     "te",
					     NULL };
	const struct http1_header *c;
	size_t i;

	for (i = 0; fixed[i]; i++)
		if (name->len == strlen(fixed[i]) &&
		    !strncasecmp(name->p, fixed[i], name->len))
			return true;
	for (i = 0; i < res->num_headers; i++) {
		const char *v, *e, *t;

		c = &res->headers[i];
		if (c->name.len != 10 ||
		    strncasecmp(c->name.p, "connection", 10))
			continue;
		v = c->value.p;
		e = v + c->value.len;
		while (v < e) {
			while (v < e && (*v == ' ' || *v == '\t' || *v == ','))
				v++;
			t = v;
			while (v < e && *v != ',' && *v != ' ' && *v != '\t')
				v++;
			if ((size_t)(v - t) == name->len &&
			    !strncasecmp(t, name->p, name->len))
				return true;
		}
	}
	return false;
}

#define MAX_NV (HTTP1_MAX_HEADERS + 8)

static void lower(char *o, const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		o[i] = p[i] >= 'A' && p[i] <= 'Z' ? p[i] + 32 : p[i];
}

int h2__respond(struct h2 *h, int32_t id, const struct http1_response *res,
		const char *extra, bool body)
{
	static char names[64 * 1024];
	struct h2_stream *s = stream_of(h, id);
	nghttp2_data_provider dp = { .source.ptr = s,
				     .read_callback = read_body };
	nghttp2_nv nv[MAX_NV];
	char status[4];
	size_t n = 0, used = 0, i, nl;
	const char *p, *colon, *eol, *v;

	if (!s || s->responded)
		return -1;
	status[0] = '0' + res->status / 100 % 10;
	status[1] = '0' + res->status / 10 % 10;
	status[2] = '0' + res->status % 10;
	status[3] = 0;
	nv[n++] = (nghttp2_nv){ (uint8_t *)":status", (uint8_t *)status, 7, 3,
				NGHTTP2_NV_FLAG_NONE };
	for (i = 0; i < res->num_headers && n < MAX_NV - 4; i++) {
		const struct http1_header *f = &res->headers[i];

		if (hop_by_hop(res, &f->name) || !f->name.len ||
		    used + f->name.len > sizeof(names))
			continue;
		lower(names + used, f->name.p, f->name.len);
		nv[n++] = (nghttp2_nv){ (uint8_t *)names + used,
					(uint8_t *)f->value.p, f->name.len,
					f->value.len, NGHTTP2_NV_FLAG_NONE };
		used += f->name.len;
	}
	/* extra: "Name: value\r\n" lines of our own (X-Served-By) */
	for (p = extra; p && *p && n < MAX_NV; p = eol + 2) {
		eol = strstr(p, "\r\n");
		colon = eol ? memchr(p, ':', eol - p) : NULL;
		if (!colon || used + (colon - p) > sizeof(names))
			break;
		nl = colon - p;
		lower(names + used, p, nl);
		for (v = colon + 1; v < eol && *v == ' '; v++)
			;
		nv[n++] = (nghttp2_nv){ (uint8_t *)names + used, (uint8_t *)v,
					nl, eol - v, NGHTTP2_NV_FLAG_NONE };
		used += nl;
	}
	s->responded = true;
	if (nghttp2_submit_response(h->ng, id, nv, n, body ? &dp : NULL))
		return -1;
	return 0;
}

int h2__continue(struct h2 *h, int32_t id)
{
	nghttp2_nv nv = { (uint8_t *)":status", (uint8_t *)"100", 7, 3,
			  NGHTTP2_NV_FLAG_NONE };

	return nghttp2_submit_headers(h->ng, NGHTTP2_FLAG_NONE, id, NULL, &nv,
				      1, NULL) < 0 ?
		       -1 :
		       0;
}

void h2__resume(struct h2 *h, int32_t id)
{
	nghttp2_session_resume_data(h->ng, id);
}

void h2__consume(struct h2 *h, int32_t id, size_t n)
{
	if (n)
		nghttp2_session_consume(h->ng, id, n);
}

void h2__reset(struct h2 *h, int32_t id, uint32_t code)
{
	nghttp2_submit_rst_stream(h->ng, NGHTTP2_FLAG_NONE, id, code);
}

void h2__shutdown(struct h2 *h, bool now)
{
	if (now) {
		if (!h->dead)
			nghttp2_session_terminate_session2(
				h->ng,
				nghttp2_session_get_last_proc_stream_id(h->ng),
				NGHTTP2_NO_ERROR);
		h->dead = true;
		return;
	}
	if (h->shutting)
		return;
	h->shutting = true;
	nghttp2_submit_shutdown_notice(h->ng);
}

uint64_t h2__deadline(const struct h2 *h)
{
	return h->dead ? UINT64_MAX : h->settings_deadline;
}

void h2__timeout(struct h2 *h, uint64_t now_ms)
{
	if (now_ms > h->now)
		h->now = now_ms;
	if (h->dead || h->now < h->settings_deadline)
		return;
	log_info(
		"HTTP/2 client did not acknowledge our SETTINGS in %u ms: GOAWAY SETTINGS_TIMEOUT",
		h->l->settings_timeout_ms);
	COUNT(h, limited.settings_timeout);
	nghttp2_session_terminate_session(h->ng, NGHTTP2_SETTINGS_TIMEOUT);
	h->dead = true;
}
