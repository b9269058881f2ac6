// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * HTTP/2 streams as transactions (h2conn.h). Each stream has its request
 * body buffer, which the transaction reads as an HTTP/1 client's input;
 * the flow-control window opens by what the transaction has taken from it
 * (sent upstream or into the request buffer). The response head comes
 * through txn's res_head hook, the body through the session's read
 * callback, which defers while the upstream has nothing new.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <nghttp2/nghttp2.h>

#include "h2.h"
#include "h2conn.h"
#include "local.h"
#include "log.h"
#include "proxy.h"
#include "txn.h"

#define OUT_HIGH (32 * 1024) /* frames queued for the socket, at most */

struct h2s {
	struct h2conn *hc;
	struct h2s *next, *prev;
	int32_t id;
	struct txn *t; /* NULL for an answer of our own */
	struct buf in; /* request body, the transaction's 'src' */
	size_t unconsumed; /* bytes of 'in' the window has not got back */
	struct buf local; /* our own answer's body */
	bool gone; /* the session closed the stream: an orphan if t runs */
	bool stopped; /* t aborted and was answered for: step it no more */
	bool reset_by_us; /* ended by our RST_STREAM, not the client's */
	bool local_answer; /* the answer is ours (in 'local'), not t's */
	/* something may move: step it (a connection steps only these, not
	 * each of its streams on every event) */
	bool dirty;
	bool deferred; /* the body read said -EAGAIN */
	bool logged;
	int status;
	uint64_t body_sent;
	uint64_t t_start_us;
	uint64_t t_data; /* response bytes last moved to the client */
	const char *end; /* why it ended early (access log) */
};

struct h2conn {
	struct h2conn_peer p;
	struct h2 *h2;
	struct h2s *streams; /* live and orphaned */
	unsigned ntxn; /* transactions alive, orphans included */
	uint64_t t_idle; /* when the last stream ended */
	bool draining, freeing;
	bool had_request; /* before the first, limits.header_timeout */
	uint64_t t_data; /* response bytes last left on any stream */
};

/* Parser output, used only within the callback that parsed it. */
static struct http1_request req_scratch;

static struct proxy *px_of(const struct h2s *s)
{
	return s->hc->p.px;
}

static uint64_t now_ms(const struct h2conn *hc)
{
	return hc->p.px->loop.now;
}

/* --- the end of a stream ------------------------------------------------ */

static void log_stream(struct h2s *s)
{
	struct proxy *px = px_of(s);
	struct txn *t = s->t;
	struct access_entry e;

	if (s->logged)
		return;
	s->logged = true;
	if (!s->status)
		s->status = t && t->res_started ? t->status : 499;
	if (t && !s->local_answer)
		s->body_sent = t->body_sent;
	if (s->status > 0 && s->status < METRICS_MAX_STATUS)
		METRIC_ADD(px->m->status[s->status], 1);
	if (!log__access_enabled())
		return;
	memset(&e, 0, sizeof(e));
	e.remote_addr = s->hc->p.peer_str;
	if (t) {
		e.method = t->ri.method;
		e.method_len = t->ri.method_len;
		e.target = t->ri.target;
		e.target_len = t->ri.target_len;
		e.referer = t->ri.ref;
		e.referer_len = t->ri.ref_len;
		e.user_agent = t->ri.ua;
		e.user_agent_len = t->ri.ua_len;
	}
	e.stream = s->id;
	e.status = s->status;
	e.body_bytes = s->body_sent;
	e.upstream = t && t->server >= 0 ? px->up.servers[t->server].name : "-";
	e.reason = s->end ? s->end : "-";
	e.start_us = s->t_start_us;
	e.duration_us = proxy__wall_us() - s->t_start_us;
	log__access(&e);
}

static void stream_free(struct h2s *s)
{
	struct h2conn *hc = s->hc;

	log_stream(s);
	if (s->t) {
		txn__finish(s->t);
		txn__free(s->t);
		hc->ntxn--;
	}
	buf__free(&s->in);
	buf__free(&s->local);
	if (s->prev)
		s->prev->next = s->next;
	else
		hc->streams = s->next;
	if (s->next)
		s->next->prev = s->prev;
	if (!hc->streams)
		hc->t_idle = now_ms(hc);
	free(s);
}

/* --- answers of our own ------------------------------------------------- */

static void reset(struct h2s *s, uint32_t code)
{
	s->reset_by_us = true;
	h2__reset(s->hc->h2, s->id, code);
}

/* Answer 'status' with our own page (local.h) instead of an upstream's. */
static void answer_local(struct h2s *s, int status)
{
	struct h2conn *hc = s->hc;
	struct local_answer a = { 0 };
	struct http1_response res;
	struct http1_span get = { "GET", 3 };
	int n;

	/* a transaction stays for its request line in the access log */
	s->local_answer = true;
	s->stopped = true;
	buf__free(&s->local);
	if (local__error(px_of(s), &s->local, status, &a) ||
	    (n = http1__parse_response(s->local.d, buf_len(&s->local),
				       buf_len(&s->local), get, &res)) <= 0) {
		reset(s, NGHTTP2_INTERNAL_ERROR);
		s->end = "local_error";
		return;
	}
	buf_consume(&s->local, n);
	s->status = status;
	s->body_sent = buf_len(&s->local);
	if (h2__respond(hc->h2, s->id, &res, NULL, buf_len(&s->local) > 0))
		reset(s, NGHTTP2_INTERNAL_ERROR);
}

/* The transaction ended early. */
static void txn_aborted(struct h2s *s)
{
	struct txn *t = s->t;

	s->end = t->end;
	s->stopped = true;
	if (s->gone) {
		stream_free(s);
		return;
	}
	if (t->abort_status && !t->res_started) {
		answer_local(s, t->abort_status);
		return;
	}
	/* a response half out: only a reset tells the client it was cut */
	s->status = t->res_started ? t->status : 0;
	s->body_sent = t->body_sent;
	reset(s, t->res_started ? NGHTTP2_INTERNAL_ERROR : NGHTTP2_CANCEL);
}

/* --- the session's callbacks -------------------------------------------- */

static void stream_wake(void *owner)
{
	struct h2s *s = owner;

	s->dirty = true;
	s->hc->p.wake(s->hc->p.client);
}

static int res_head(void *owner, struct txn *t,
		    const struct http1_response *res)
{
	struct h2s *s = owner;
	bool body = t->sb != HTTP1_BODY_NONE &&
		    !(t->sb == HTTP1_BODY_LENGTH && !t->sb_left);

	if (s->gone) /* an orphan: its answer goes nowhere */
		return 0;
	s->t_data = now_ms(s->hc);
	return h2__respond(s->hc->h2, s->id, res, px_of(s)->served_by, body);
}

static void *on_request(void *owner, const struct h2_request *r)
{
	struct h2conn *hc = owner;
	struct proxy *px = hc->p.px;
	const struct lbtls_config *cfg = px->cfg;
	struct http1_limits lim = {
		.max_line = cfg->limits.header_line,
		.max_head = cfg->limits.header_total + 1024,
		.max_body = cfg->limits.body,
	};
	struct http1_forward fwd = {
		.client_addr = hc->p.peer_str,
		.proto = "https",
		.port = hc->p.port,
		.underscores = cfg->limits.underscores_in_headers,
	};
	struct h2s *s;
	struct txn *t;
	int n;

	if (hc->ntxn >= cfg->http2.max_inflight) {
		METRIC_ADD(px->m->h2.limited.max_inflight, 1);
		return NULL; /* REFUSED_STREAM */
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		proxy__local_error(px, ENOMEM, "HTTP/2 stream");
		return NULL;
	}
	hc->had_request = true;
	s->hc = hc;
	s->id = r->id;
	s->dirty = true;
	s->t_start_us = proxy__wall_us();
	s->t_data = now_ms(hc);
	s->next = hc->streams;
	if (hc->streams)
		hc->streams->prev = s;
	hc->streams = s;
	if (r->error) {
		answer_local(s, r->error);
		return s;
	}
	n = http1__parse_request(r->head, r->len, &lim, &req_scratch);
	if (n <= 0) {
		answer_local(s, n < 0 ? -n : 400);
		return s;
	}
	/* no content-length and more to come: the body ends with the stream */
	if (!r->end_stream && !r->has_length)
		req_scratch.body = HTTP1_BODY_UNTIL_CLOSE;
	t = txn__new(px, &req_scratch);
	if (!t) {
		proxy__local_error(px, ENOMEM, "request");
		answer_local(s, 503);
		return s;
	}
	s->t = t;
	hc->ntxn++;
	t->peer = hc->p.peer;
	t->peer_str = hc->p.peer_str;
	t->src = &s->in;
	t->dst = NULL;
	t->wake = stream_wake;
	t->owner = s;
	t->res_head = res_head;
	t->data_only = true;
	t->start_later = true;
	t->src_eof = r->end_stream;
	t->t_start_us = s->t_start_us;
	if (txn__start(t, &req_scratch, &fwd) == TXN_ABORTED) {
		txn_aborted(s);
		return s;
	}
	if (r->expect_continue && !r->end_stream)
		h2__continue(hc->h2, s->id);
	return s;
}

static void on_data(void *owner, void *st, const uint8_t *p, size_t n)
{
	struct h2s *s = st;
	struct h2conn *hc = owner;

	if (!s->t || s->stopped || s->t->rb_framed || buf__add(&s->in, p, n)) {
		/* nobody reads it (an answer of ours, a body answered
		 * already), or no memory: window back at once */
		if (s->t && !s->stopped && !s->t->rb_framed) {
			proxy__local_error(hc->p.px, ENOMEM, "HTTP/2 body");
			reset(s, NGHTTP2_INTERNAL_ERROR);
		}
		h2__consume(hc->h2, s->id, n);
		return;
	}
	s->unconsumed += n;
	s->t->t_src = now_ms(hc);
	s->dirty = true;
}

static void on_end(void *owner, void *st)
{
	struct h2s *s = st;

	(void)owner;
	s->dirty = true;
	if (s->t)
		s->t->src_eof = true;
}

static ssize_t on_read(void *owner, void *st, uint8_t *p, size_t len, bool *eof)
{
	struct h2s *s = st;
	const char *b;
	size_t k;

	(void)owner;
	if (s->local_answer) {
		k = buf_len(&s->local) < len ? buf_len(&s->local) : len;
		if (k) {
			memcpy(p, s->local.d + s->local.s, k);
			buf_consume(&s->local, k);
		}
		*eof = !buf_len(&s->local);
		return k;
	}
	k = txn__body(s->t, &b);
	if (k > len)
		k = len;
	if (k) {
		memcpy(p, b, k);
		txn__body_sent(s->t, k);
		s->t_data = s->hc->t_data = now_ms(s->hc);
		s->dirty = true; /* room to read the upstream again */
	}
	if (txn__res_done(s->t)) {
		*eof = true;
		return k;
	}
	if (!k) {
		s->deferred = true;
		return -EAGAIN;
	}
	return k;
}

/* The transaction's request has reached its server, and its answer not
 * yet come back whole: the server is working for a client that left. */
static bool upstream_busy(const struct txn *t)
{
	return t && t->uc && t->head_sent && !t->aborted && !txn__res_done(t) &&
	       t->rb_framed && !buf_len(t->src);
}

static void on_closed(void *owner, void *st, uint32_t code)
{
	struct h2conn *hc = owner;
	struct h2s *s = st;

	s->gone = true;
	/* what the window never got back, the connection's window gets */
	h2__consume(hc->h2, s->id, s->unconsumed);
	s->unconsumed = 0;
	if (code && !s->end)
		s->end = code == NGHTTP2_CANCEL || code == NGHTTP2_NO_ERROR ?
				 "client_reset" :
				 "stream_error";
	if (hc->freeing || !code || s->reset_by_us || !s->t) {
		stream_free(s);
		return;
	}
	/* The client reset a request it had made: a browser does it now and
	 * then, a rapid-reset attacker all the time. Each is a glitch, seen
	 * or not by the server yet; nghttp2's limiter counts every reset. */
	if (upstream_busy(s->t)) {
		/* orphaned: runs on, counted in max_inflight, its answer
		 * dropped, so the work a connection causes stays bounded */
		log_stream(s);
		h2__glitch(hc->h2, "reset of a request in flight", now_ms(hc));
		return;
	}
	stream_free(s);
	h2__glitch(hc->h2, "reset of a request", now_ms(hc));
}

static const struct h2_ops ops = {
	.request = on_request,
	.data = on_data,
	.end = on_end,
	.read = on_read,
	.closed = on_closed,
};

/* --- the connection -------------------------------------------------------- */

struct h2conn *h2conn__new(const struct h2conn_peer *p)
{
	struct h2conn *hc = calloc(1, sizeof(*hc));

	if (!hc)
		return NULL;
	hc->p = *p;
	hc->t_idle = hc->t_data = p->px->loop.now;
	hc->h2 = h2__new(&p->px->cfg->http2, p->px->cfg->limits.header_total,
			 &ops, hc, &p->px->m->h2, p->px->loop.now);
	if (!hc->h2) {
		free(hc);
		return NULL;
	}
	return hc;
}

void h2conn__free(struct h2conn *hc, const char *why)
{
	struct h2s *s;

	if (!hc)
		return;
	hc->freeing = true;
	for (s = hc->streams; s; s = s->next)
		if (!s->end)
			s->end = why;
	h2__free(hc->h2); /* closes the live streams */
	while (hc->streams) /* and the orphans */
		stream_free(hc->streams);
	free(hc);
}

int h2conn__recv(struct h2conn *hc, struct buf *in)
{
	int r = h2__recv(hc->h2, (const uint8_t *)in->d + in->s, buf_len(in),
			 now_ms(hc));

	buf_consume(in, buf_len(in));
	return r;
}

bool h2conn__step(struct h2conn *hc)
{
	struct h2s *s, *next;
	enum txn_result r;
	bool any = false;
	size_t left;

	if (hc->p.px->draining && !hc->draining) {
		hc->draining = true;
		h2__shutdown(hc->h2, false);
	}
	for (s = hc->streams; s; s = next) {
		next = s->next;
		if (!s->t || s->stopped || !s->dirty)
			continue;
		s->dirty = false;
		r = txn__step(s->t);
		if (r == TXN_ABORTED) {
			txn_aborted(s);
			any = true;
			continue;
		}
		if (r == TXN_PROGRESS) {
			any = true;
			s->dirty = true;
		}
		if (s->gone) {
			/* an orphan: its answer is read and dropped */
			const char *p;
			size_t k = txn__body(s->t, &p);

			if (k) {
				txn__body_sent(s->t, k);
				any = true;
				s->dirty = true;
			}
			if (txn__res_done(s->t))
				stream_free(s);
			continue;
		}
		left = buf_len(&s->in);
		if (left < s->unconsumed) {
			h2__consume(hc->h2, s->id, s->unconsumed - left);
			s->unconsumed = left;
		}
		if (s->deferred && (s->t->sb_ready || txn__res_done(s->t))) {
			s->deferred = false;
			h2__resume(hc->h2, s->id);
			any = true;
		}
	}
	return any;
}

int h2conn__send(struct h2conn *hc, struct buf *out)
{
	return h2__send(hc->h2, out, OUT_HIGH);
}

bool h2conn__idle(const struct h2conn *hc)
{
	return !hc->streams;
}

bool h2conn__done(const struct h2conn *hc)
{
	return h2__done(hc->h2);
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* No stream open: keepalive_timeout, or header_timeout until the first
 * request (a connection that never sends one costs as much as an HTTP/1
 * one that never sends a head). */
static unsigned idle_timeout(const struct h2conn *hc)
{
	const struct cfg_limits *l = &hc->p.px->cfg->limits;

	return hc->had_request ? l->keepalive_timeout_ms : l->header_timeout_ms;
}

uint64_t h2conn__arm(struct h2conn *hc, bool *again)
{
	const struct cfg_limits *l = &hc->p.px->cfg->limits;
	uint64_t dl = h2__deadline(hc->h2);
	struct h2s *s;

	*again = false;
	/* ending: only writing what is queued is left (client.c bounds it
	 * by send_timeout); a deadline of ours would fire again and again */
	if (h2__dead(hc->h2))
		return UINT64_MAX;
	if (!hc->streams)
		dl = min_u64(dl, hc->t_idle + idle_timeout(hc));
	for (s = hc->streams; s; s = s->next) {
		if (!s->t || s->stopped)
			continue;
		dl = min_u64(dl, txn__arm(s->t));
		if (s->t->aborted) {
			*again = true;
			s->dirty = true;
		}
		/* response bytes the client's window does not let out */
		if (!s->gone && s->t->sb_ready)
			dl = min_u64(dl, s->t_data + l->send_timeout_ms);
	}
	return dl;
}

bool h2conn__timeout(struct h2conn *hc)
{
	const struct cfg_limits *l = &hc->p.px->cfg->limits;
	uint64_t now = now_ms(hc);
	struct h2s *s, *next;

	if (h2__dead(hc->h2))
		return false;
	h2__timeout(hc->h2, now);
	if (h2__dead(hc->h2))
		return false;
	if (!hc->streams && now >= hc->t_idle + idle_timeout(hc)) {
		METRIC_ADD(hc->p.px->m->h2.limited.idle_timeout, 1);
		h2__shutdown(hc->h2, true);
		return false;
	}
	for (s = hc->streams; s; s = next) {
		next = s->next;
		if (!s->t || s->stopped)
			continue;
		if (!s->gone && s->t->sb_ready &&
		    now >= s->t_data + l->send_timeout_ms) {
			METRIC_ADD(hc->p.px->m->h2.limited.send_timeout, 1);
			s->end = "send_timeout";
			if (now >= hc->t_data + l->send_timeout_ms) {
				/* no stream moved: the client reads nothing,
				 * not even a GOAWAY */
				log_info(
					"HTTP/2 client %s took no response bytes for %u ms (limits.send_timeout): closed",
					hc->p.peer_str, l->send_timeout_ms);
				return true;
			}
			log_info(
				"HTTP/2 client %s took no response bytes on stream %d for %u ms (limits.send_timeout): stream reset",
				hc->p.peer_str, s->id, l->send_timeout_ms);
			/* no deadline of its own any more: the RST waits for
			 * the socket like any frame (its own fired again and
			 * again while the client read nothing) */
			s->stopped = true;
			txn__finish(s->t); /* the upstream goes (unstepped,
					    * its readiness would spin) */
			reset(s, NGHTTP2_CANCEL);
			continue;
		}
		s->dirty = true;
		if (txn__timeout(s->t) == TXN_ABORTED)
			txn_aborted(s);
	}
	return false;
}
