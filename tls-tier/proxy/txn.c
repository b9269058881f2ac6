// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Transactions: the request body out of the client's input, the upstream
 * exchange in both directions, the retry policy and the phase deadlines,
 * with nginx's meanings:
 * - proxy_connect_timeout while connecting;
 * - send_timeout while request bytes wait for the upstream to take them;
 * - client_body_timeout between two reads of a request body, and
 *   client_body_min_rate over the whole body once client_body_timeout has
 *   passed since the head: a slow, stalled or vanished client is answered
 *   408 or dropped, never held against the backend (with request
 *   buffering, no backend is even picked before the body is whole);
 * - queue_timeout while waiting for a server under max_conns (503);
 * - proxy_read_timeout between two reads of the response, armed only once
 *   the whole request has been sent (or the response has started), and
 *   only while there is room to read.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "log.h"
#include "pool.h"
#include "proxy.h"
#include "txn.h"

#define UIN_CAP (64 * 1024)
#define RES_MAX_HEAD (32 * 1024)
#define UOUT_EXTRA 4096 /* X-Forwarded-* and friends */
#define TXN_CACHE 64

static struct txn *txn_cache;
static int txn_cached;

static size_t copy_span(char *dst, size_t cap, struct http1_span s)
{
	size_t n = s.len < cap ? s.len : cap;

	memcpy(dst, s.p, n);
	return n;
}

static void q_fire(struct loop_timer *tm);

struct txn *txn__new(struct proxy *px, const struct http1_request *req)
{
	struct req_info *ri;
	const struct http1_header *h;
	struct txn *t = txn_cache;

	if (t) {
		txn_cache = t->next_free;
		txn_cached--;
	} else if (!(t = malloc(sizeof(*t)))) {
		return NULL;
	}
	/* everything up to the request info, which is written below */
	memset(t, 0, offsetof(struct txn, ri));
	memset((char *)t + offsetof(struct txn, minor), 0,
	       sizeof(*t) - offsetof(struct txn, minor));
	t->px = px;
	t->server = -1;
	ri = &t->ri;
	ri->method_len = copy_span(ri->method, sizeof(ri->method), req->method);
	ri->target_len = copy_span(ri->target, sizeof(ri->target), req->target);
	h = http1__find(req->headers, req->num_headers, "Referer");
	ri->ref_len = h ? copy_span(ri->ref, sizeof(ri->ref), h->value) : 0;
	h = http1__find(req->headers, req->num_headers, "User-Agent");
	ri->ua_len = h ? copy_span(ri->ua, sizeof(ri->ua), h->value) : 0;
	t->minor = req->minor;
	t->keep_alive = req->keep_alive;
	t->idempotent = req->idempotent;
	t->rb = req->body;
	t->rb_left = req->content_length;
	t->rb_framed = t->rb == HTTP1_BODY_NONE ||
		       (t->rb == HTTP1_BODY_LENGTH && !t->rb_left);
	if (t->rb == HTTP1_BODY_CHUNKED)
		http1_chunked__init(&t->rchunk, px->cfg->limits.body);
	t->t_src = t->t_body0 = px->loop.now;
	reqbody__init(&t->body);
	loop__timer_init(&t->q_timer, q_fire);
	return t;
}

/* --- the max_conns queue ------------------------------------------------- */

static void q_unlink(struct txn *t)
{
	struct proxy *px = t->px;

	if (!t->queued)
		return;
	if (t->q_prev)
		t->q_prev->q_next = t->q_next;
	else
		px->q_head = t->q_next;
	if (t->q_next)
		t->q_next->q_prev = t->q_prev;
	else
		px->q_tail = t->q_prev;
	t->q_next = t->q_prev = NULL;
	t->queued = false;
	px->q_len--;
	METRIC_SET(px->m->queued, px->q_len);
}

/* Wait for room; 'front' for one that was woken and found none. */
static void q_add(struct txn *t, bool front)
{
	struct proxy *px = t->px;

	t->queued = true;
	if (front) {
		t->q_next = px->q_head;
		t->q_prev = NULL;
		if (px->q_head)
			px->q_head->q_prev = t;
		else
			px->q_tail = t;
		px->q_head = t;
	} else {
		t->q_prev = px->q_tail;
		t->q_next = NULL;
		if (px->q_tail)
			px->q_tail->q_next = t;
		else
			px->q_head = t;
		px->q_tail = t;
	}
	px->q_len++;
	METRIC_SET(px->m->queued, px->q_len);
}

/*
 * A request left a server: the first waiter starts on this loop turn's
 * timers, not from inside whichever transaction released the server (its
 * client may be in the middle of its own step).
 */
static void q_kick(struct proxy *px)
{
	struct txn *t = px->q_head;

	if (!t)
		return;
	q_unlink(t);
	loop__timer_set(&px->loop, &t->q_timer, px->loop.now);
}

/* The transaction ends: out of the queue, and a room it was woken for
 * but did not take goes to the next waiter. */
static void q_leave(struct txn *t)
{
	q_unlink(t);
	if (t->q_timer.idx >= 0) {
		loop__timer_del(&t->px->loop, &t->q_timer);
		q_kick(t->px);
	}
}

static void up_release(struct txn *t, bool reuse)
{
	struct pool_conn *uc = t->uc;

	if (!uc)
		return;
	t->uc = NULL;
	t->px->up.servers[t->server].active--;
	pool__release(uc, reuse);
	q_kick(t->px);
}

void txn__free(struct txn *t)
{
	struct proxy *px = t->px;

	q_leave(t);
	reqbody__free(&t->body);
	/* a connection from the pool that nothing was sent on yet goes back
	 * (an HTTP/2 stream reset at once must not cost the server one) */
	up_release(t, t->uc && !t->uc->connecting && !t->head_sent &&
			      !t->send_err && !t->up_hup);
	buf__put(&px->uout_cache, &t->uout);
	buf__put(&px->uin_cache, &t->uin);
	if (txn_cached >= TXN_CACHE) {
		free(t);
		return;
	}
	t->next_free = txn_cache;
	txn_cache = t;
	txn_cached++;
}

/* Every request byte has gone upstream. */
static bool request_sent(const struct txn *t)
{
	return t->rb_framed && !t->rb_ready && t->uout_off == t->uout.e &&
	       reqbody__sent(&t->body);
}

/*
 * The one early way out. The client connection survives only when the
 * request body was consumed whole: body bytes left in the input would be
 * parsed as the next request.
 */
static enum txn_result txn_abort(struct txn *t, int status, const char *why)
{
	t->aborted = true;
	t->end = why;
	q_leave(t);
	up_release(t, false);
	t->rs = R_DONE;
	t->sb_ready = 0;
	if (t->res_started) {
		/* a response is half out: only closing tells the client */
		t->abort_status = 0;
		t->close = true;
		return TXN_ABORTED;
	}
	t->abort_status = status;
	if (t->rb_framed) {
		buf_consume(t->src, t->rb_ready);
		t->rb_ready = 0;
	} else {
		t->close = true;
	}
	return TXN_ABORTED;
}

static void up_event(struct pool_conn *pc, uint32_t events, void *data);

/* Every live server is at max_conns: wait for room, or 503 at once when
 * the queue is full. One that waited already keeps its place in front. */
static enum txn_result q_wait(struct txn *t)
{
	struct proxy *px = t->px;
	bool front = t->t_queued != 0;

	if (!front && px->q_len >= px->cfg->upstream.queue) {
		METRIC_ADD(px->m->queue_full, 1);
		log_warn(
			"upstream.queue full (%u waiting, every server at max_conns %u): 503 for %.*s %.*s from %s",
			px->q_len, px->cfg->upstream.max_conns,
			(int)t->ri.method_len, t->ri.method,
			(int)t->ri.target_len, t->ri.target, t->peer_str);
		return txn_abort(t, 503, "queue_full");
	}
	if (!front)
		t->t_queued = px->loop.now;
	q_add(t, front);
	return TXN_BLOCKED;
}

static enum txn_result up_start(struct txn *t);

/* Room on a server came: start where the transaction waited. */
static void q_fire(struct loop_timer *tm)
{
	struct txn *t =
		(struct txn *)((char *)tm - offsetof(struct txn, q_timer));
	struct proxy *px = t->px;

	up_start(t); /* back in front of the queue if another took the room */
	if (t->queued)
		return;
	/* There may be more room (a server came back): the next one looks,
	 * and goes back in front if there is none. */
	q_kick(px);
	t->wake(t->owner);
}

void txn__queue_poll(struct proxy *px)
{
	q_kick(px);
}

static enum txn_result up_start(struct txn *t)
{
	struct proxy *px = t->px;
	int idx, err;

	for (;;) {
		idx = upstream__pick(&px->up, (struct sockaddr *)t->peer,
				     px->loop.now, t->tried);
		if (idx == -EBUSY)
			return q_wait(t);
		if (idx < 0) {
			log_warn("no live upstream for %.*s %.*s from %s",
				 (int)t->ri.method_len, t->ri.method,
				 (int)t->ri.target_len, t->ri.target,
				 t->peer_str);
			return txn_abort(t, 502, "no_live_upstream");
		}
		t->server = idx;
		t->tried |= 1ULL << idx;
		t->send_err = 0;
		t->up_hup = false;
		err = pool__acquire(&px->pool, idx, up_event, t, &t->uc);
		if (err && pool__local_error(err)) {
			proxy__local_error(px, err, "upstream connection");
			return txn_abort(t, 503, "local_error");
		}
		if (err) {
			log_warn("upstream %s: connect: %s",
				 px->up.servers[idx].name, strerror(-err));
			upstream__fail(&px->up, idx, px->loop.now);
			METRIC_ADD(px->m->servers[idx].failures, 1);
			proxy__publish_health(px);
			continue;
		}
		px->up.servers[idx].active++;
		t->uout_off = 0;
		t->body.sent = 0; /* a buffered body goes again whole */
		t->head_sent = false;
		t->uin.s = t->uin.e = 0;
		t->up_eof = false;
		/* Nothing to read before the request is sent: wait for epoll. */
		t->up_rd_ready = false;
		t->rs = R_HEAD;
		t->t_up_start = t->t_up_read = t->t_up_write = px->loop.now;
		return TXN_PROGRESS;
	}
}

enum up_fail {
	F_CONNECT, /* nothing reached the server */
	F_IO, /* error or close before any response byte */
	F_FINAL, /* timeout or bad response: the server's, never resent */
};

/*
 * The upstream failed. It counts against the server unless a connection
 * from the pool broke before any answer (the server may have timed it out
 * as we sent). Resend on another server when nothing of the request is
 * lost and resending is safe (RFC 9110 9.2.2): the head never reached a
 * server, or the method is idempotent, or the operator allows it.
 */
static enum txn_result up_failed(struct txn *t, int status, enum up_fail kind,
				 const char *why)
{
	struct proxy *px = t->px;
	bool reused = t->uc && t->uc->reused;
	bool stale = reused && kind == F_IO;

	if (!stale) {
		upstream__fail(&px->up, t->server, px->loop.now);
		METRIC_ADD(px->m->servers[t->server].failures, 1);
		proxy__publish_health(px);
	}
	log_warn("upstream %s: %s (client %s, %.*s %.*s)",
		 px->up.servers[t->server].name, why, t->peer_str,
		 (int)t->ri.method_len, t->ri.method, (int)t->ri.target_len,
		 t->ri.target);
	up_release(t, false);
	if (!t->res_started && !t->rb_started && kind != F_FINAL &&
	    (kind == F_CONNECT || !t->head_sent || t->idempotent ||
	     px->cfg->upstream.retry_non_idempotent)) {
		if (stale) /* the server itself may be fine */
			t->tried &= ~(1ULL << t->server);
		return up_start(t);
	}
	return txn_abort(t, status,
			 status == 504	   ? "upstream_timeout" :
			 kind == F_CONNECT ? "upstream_connect" :
					     "upstream_error");
}

enum txn_result txn__start(struct txn *t, const struct http1_request *req,
			   const struct http1_forward *fwd)
{
	struct proxy *px = t->px;
	struct http1_forward f = *fwd;
	ssize_t n;

	if ((!t->uout.d &&
	     buf__get(&px->uout_cache, &t->uout,
		      px->cfg->limits.header_total + UOUT_EXTRA)) ||
	    (!t->uin.d && buf__get(&px->uin_cache, &t->uin, UIN_CAP))) {
		proxy__local_error(px, ENOMEM, "request buffers");
		return txn_abort(t, 503, "local_error");
	}
	/* Always HTTP/1.1 upstream, on a kept-alive connection; an HTTP/1.0
	 * client gets a chunked response de-chunked. A buffered body goes
	 * with the Content-Length it turned out to have. */
	t->buffered = (px->cfg->upstream.request_buffering ||
		       t->rb == HTTP1_BODY_UNTIL_CLOSE) &&
		      !t->rb_framed;
	f.framing_later = t->buffered;
	n = http1__write_upstream_head(req, &f, t->uout.d, t->uout.cap);
	if (n < 0)
		return txn_abort(t, 431, "header_too_large");
	t->uout.e = n;
	if (t->buffered)
		return TXN_PROGRESS; /* the body first: buffer_body() */
	if (t->start_later) {
		t->start_pending = true;
		return TXN_PROGRESS; /* the first txn__step() picks a server */
	}
	return up_start(t);
}

/* Reading a buffered body: no server yet. */
static bool buffering(const struct txn *t)
{
	return t->buffered && !t->rb_framed;
}

static const char *body_error(ssize_t err)
{
	return err == -413 ? "body_too_large" : "bad_request_body";
}

static enum txn_result store_failed(struct txn *t, int err)
{
	proxy__local_error(
		t->px, err,
		"request body buffer (limits.client_body_temp_path)");
	return txn_abort(t, 503, "local_error");
}

/*
 * Request buffering: move the body out of src into t->body (de-chunked),
 * and once it is whole, end the head with its length and start upstream.
 */
static enum txn_result buffer_body(struct txn *t)
{
	const struct cfg_limits *lim = &t->px->cfg->limits;
	enum txn_result r = TXN_BLOCKED;
	size_t avail, data, m;
	const char *p;
	uint64_t hint;
	bool done = false;
	ssize_t k;
	int err;

	while (!t->rb_framed && (avail = buf_len(t->src))) {
		p = t->src->d + t->src->s;
		hint = 0;
		if (t->rb == HTTP1_BODY_LENGTH) {
			hint = t->rb_got + t->rb_left;
			m = data = avail < t->rb_left ? avail : t->rb_left;
			t->rb_left -= m;
			done = !t->rb_left;
		} else if (t->rb == HTTP1_BODY_UNTIL_CLOSE) {
			m = data = avail;
			if (lim->body && t->rb_got + data > lim->body)
				return txn_abort(t, 413, body_error(-413));
		} else {
			k = http1_chunked__decode(&t->rchunk, p, avail, &data,
						  &done);
			if (k < 0) /* 400 bad framing, 413 over the limit */
				return txn_abort(t, -k, body_error(k));
			if (!k)
				break; /* a size line is not whole yet */
			m = k;
			p += m - data;
		}
		err = reqbody__add(&t->body, p, data, hint,
				   lim->body_buffer_size, lim->body_temp_path);
		if (err)
			return store_failed(t, err);
		buf_consume(t->src, m);
		t->rb_got += data;
		t->rb_framed = done;
		r = TXN_PROGRESS;
	}
	if (t->rb == HTTP1_BODY_UNTIL_CLOSE && t->src_eof && !buf_len(t->src))
		t->rb_framed = true;
	if (!t->rb_framed)
		return r;
	err = reqbody__end(&t->body);
	if (err)
		return store_failed(t, err);
	k = http1__end_upstream_head(t->body.len, t->uout.d + t->uout.e,
				     t->uout.cap - t->uout.e);
	if (k < 0)
		return txn_abort(t, 431, "header_too_large");
	t->uout.e += k;
	if (reqbody__in_file(&t->body))
		METRIC_ADD(t->px->m->bodies_in_file, 1);
	else
		METRIC_ADD(t->px->m->bodies_in_memory, 1);
	return up_start(t) == TXN_ABORTED ? TXN_ABORTED : TXN_PROGRESS;
}

/* Frame the next slice of request body out of src. */
static enum txn_result frame_req_body(struct txn *t)
{
	size_t avail = buf_len(t->src);
	bool done = false;
	ssize_t m;

	if (t->rb_ready || t->rb_framed || !avail)
		return TXN_BLOCKED;
	if (t->rb == HTTP1_BODY_LENGTH) {
		m = avail < t->rb_left ? avail : t->rb_left;
		t->rb_left -= m;
		done = !t->rb_left;
	} else {
		m = http1_chunked__scan(&t->rchunk, t->src->d + t->src->s,
					avail, &done);
		if (m < 0) /* 400 bad framing, 413 over the limit */
			return txn_abort(t, -m, body_error(m));
	}
	t->rb_got =
		t->rb == HTTP1_BODY_LENGTH ? t->rb_got + m : t->rchunk.total;
	t->rb_ready = m;
	t->rb_framed = done;
	return TXN_PROGRESS;
}

/*
 * The next request bytes for the upstream, from the head, the buffered
 * body or the client's input: 0 with *len 0 when nothing is ready, -1 when
 * the framing failed (the transaction aborted).
 */
static int next_out(struct txn *t, const char **p, size_t *len)
{
	*len = 0;
	if (t->uout_off < t->uout.e) {
		*p = t->uout.d + t->uout_off;
		*len = t->uout.e - t->uout_off;
	} else if (!t->buffered) {
		if (frame_req_body(t) == TXN_ABORTED)
			return -1;
		*p = t->src->d + t->src->s;
		*len = t->rb_ready;
	}
	return 0;
}

/* Request bytes to the upstream. */
static enum txn_result up_send(struct txn *t)
{
	struct pool_conn *uc = t->uc;
	enum txn_result r = TXN_BLOCKED;
	const char *p;
	size_t len;
	ssize_t n;

	while (t->uc && !uc->connecting && !t->send_err) {
		if (next_out(t, &p, &len))
			return TXN_ABORTED;
		if (len) {
			n = send(uc->io.fd, p, len, MSG_NOSIGNAL);
			if (n < 0)
				n = -errno;
		} else if (t->buffered && !reqbody__sent(&t->body)) {
			n = reqbody__send(&t->body, uc->io.fd);
			if (!n) /* the file is shorter than what it held */
				n = -EIO;
		} else {
			break;
		}
		if (n == -EAGAIN || n == -EINTR)
			break;
		if (n < 0) {
			/*
			 * A server that answers before reading the whole body
			 * (413, 401) and closes makes the send fail while its
			 * answer waits in the socket: read that first, it is
			 * no failure of the server. No answer: up_recv fails.
			 */
			t->send_err = -n;
			t->up_rd_ready = true;
			return TXN_PROGRESS;
		}
		r = TXN_PROGRESS;
		t->t_up_write = t->px->loop.now;
		if (t->uout_off < t->uout.e) {
			t->uout_off += n;
			t->head_sent = true;
		} else if (len) {
			t->rb_started = true;
			t->rb_ready -= n;
			buf_consume(t->src, n);
		}
		if (request_sent(t)) /* the read deadline starts now */
			t->t_up_read = t->px->loop.now;
	}
	return r;
}

static int write_res_head(struct txn *t, const struct http1_response *res)
{
	struct proxy *px = t->px;
	struct http1_client_head o;
	size_t need;

	/* An HTTP/1.0 client cannot read chunked (RFC 9112 7.1): it gets the
	 * data alone, delimited by closing the connection. */
	t->dechunk =
		(t->minor == 0 || t->data_only) && t->sb == HTTP1_BODY_CHUNKED;
	/* An answer before the request body is whole (a 413, say) ends the
	 * connection: the rest of the body will not be read. */
	t->close |= !t->keep_alive || px->draining ||
		    t->sb == HTTP1_BODY_UNTIL_CLOSE || t->dechunk ||
		    !t->rb_framed ||
		    (t->src_eof && buf_len(t->src) <= t->rb_ready);
	if (t->res_head)
		return t->res_head(t->owner, t, res);
	o.dechunk = t->dechunk;
	o.close = t->close;
	o.extra = px->served_by;
	need = http1__client_head_size(res, &o);
	if (buf__reserve(t->dst, need))
		return -ENOMEM;
	t->dst->e += http1__write_client_head(res, &o, t->dst->d + t->dst->e);
	return 0;
}

static enum txn_result got_res_head(struct txn *t,
				    const struct http1_response *res, int len)
{
	struct proxy *px = t->px;
	struct metrics_server *ms = &px->m->servers[t->server];

	upstream__success(&px->up, t->server);
	METRIC_ADD(ms->requests, 1);
	METRIC_ADD(ms->latency_us, (px->loop.now - t->t_up_start) * 1000);
	t->status = res->status;
	t->res_keep_alive = res->keep_alive;
	t->sb = res->body;
	t->sb_left = res->content_length;
	t->sb_ready = 0;
	if (t->sb == HTTP1_BODY_CHUNKED)
		http1_chunked__init(&t->schunk, 0);
	if (write_res_head(t, res)) {
		proxy__local_error(px, ENOMEM, "response head");
		return txn_abort(t, 503, "local_error");
	}
	t->res_started = true;
	buf_consume(&t->uin, len);
	t->rs = t->sb == HTTP1_BODY_NONE ||
				(t->sb == HTTP1_BODY_LENGTH && !t->sb_left) ?
			R_DONE :
			R_BODY;
	return TXN_PROGRESS;
}

/* Response bytes from the upstream. */
static enum txn_result up_recv(struct txn *t)
{
	static struct http1_response res; /* spans used in this call only */
	enum txn_result r = TXN_BLOCKED;
	size_t room;
	ssize_t n;
	int h;

	while (t->uc && !t->uc->connecting && t->rs != R_DONE && !t->up_eof &&
	       t->up_rd_ready && (room = buf__room(&t->uin))) {
		n = recv(t->uc->io.fd, t->uin.d + t->uin.e, room, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			t->up_rd_ready = false;
			break;
		}
		/* Drained: level-triggered epoll reports what comes next. */
		if (n > 0 && (size_t)n < room)
			t->up_rd_ready = false;
		r = TXN_PROGRESS;
		if (n == 0) {
			/* What is buffered still gets parsed and framed. */
			t->up_eof = true;
			break;
		}
		if (n < 0) {
			if (t->rs == R_HEAD)
				return up_failed(t, 502, F_IO,
						 strerror(t->send_err ?
								  t->send_err :
								  errno));
			/* what came before the error still goes out */
			t->up_err = errno;
			t->up_eof = true;
			break;
		}
		t->uin.e += n;
		t->t_up_read = t->px->loop.now;
	}
	while (t->rs == R_HEAD && buf_len(&t->uin)) {
		struct http1_span m = { t->ri.method, t->ri.method_len };

		h = http1__parse_response(t->uin.d + t->uin.s, buf_len(&t->uin),
					  RES_MAX_HEAD, m, &res);
		if (h == 0 && buf_len(&t->uin) < RES_MAX_HEAD)
			break;
		if (h <= 0)
			return up_failed(t, 502, F_FINAL,
					 "invalid response head");
		if (res.status < 200) { /* interim: ours already went */
			buf_consume(&t->uin, h);
			continue;
		}
		return got_res_head(t, &res, h);
	}
	if (t->rs == R_HEAD && t->up_eof)
		return up_failed(t, 502, F_IO,
				 t->send_err ? strerror(t->send_err) :
					       "closed before a response");
	return r;
}

/* Frame the next slice of response body. */
static enum txn_result frame_res_body(struct txn *t)
{
	const char *name = t->px->up.servers[t->server].name;
	size_t avail = buf_len(&t->uin), data;
	bool done = false;
	ssize_t m;

	if (t->rs != R_BODY || t->sb_ready)
		return TXN_BLOCKED;
	if (!avail) {
		if (!t->up_eof)
			return TXN_BLOCKED;
		if (t->sb == HTTP1_BODY_UNTIL_CLOSE && !t->up_err) {
			t->rs = R_DONE;
			return TXN_PROGRESS;
		}
		log_warn("upstream %s: %s in the middle of the response body",
			 name, t->up_err ? strerror(t->up_err) : "closed");
		return txn_abort(
			t, 0, t->up_err ? "upstream_reset" : "upstream_closed");
	}
	switch (t->sb) {
	case HTTP1_BODY_LENGTH:
		m = avail < t->sb_left ? avail : t->sb_left;
		t->sb_left -= m;
		done = !t->sb_left;
		break;
	case HTTP1_BODY_CHUNKED:
		if (t->dechunk) {
			/* framing before the data run is dropped here */
			m = http1_chunked__decode(&t->schunk,
						  t->uin.d + t->uin.s, avail,
						  &data, &done);
			if (m >= 0) {
				buf_consume(&t->uin, m - data);
				m = data;
			}
		} else {
			m = http1_chunked__scan(&t->schunk, t->uin.d + t->uin.s,
						avail, &done);
		}
		if (m < 0) {
			log_warn("upstream %s: bad chunked framing", name);
			return txn_abort(t, 0, "upstream_bad_framing");
		}
		break;
	default:
		m = avail;
		break;
	}
	t->sb_ready = m;
	if (done)
		t->rs = R_DONE;
	return TXN_PROGRESS;
}

/*
 * Response framed to its end and request fully sent: the upstream is free
 * now, even while a slow client still drains the body from uin. Nothing
 * is pooled with unread bytes (a body after a 204, say).
 */
static void up_done(struct txn *t)
{
	if (!t->uc || t->rs != R_DONE || !request_sent(t))
		return;
	up_release(t, t->res_keep_alive && !t->up_eof &&
			      buf_len(&t->uin) == t->sb_ready &&
			      t->sb != HTTP1_BODY_UNTIL_CLOSE);
}

enum txn_result txn__step(struct txn *t)
{
	enum txn_result r, any = TXN_BLOCKED;

	if (t->aborted) /* from an event or a timer since the last step */
		return TXN_ABORTED;
	if (t->start_pending) {
		t->start_pending = false;
		if ((r = up_start(t)) == TXN_ABORTED)
			return r;
		any |= r;
	}
	/* The client left before its body was whole: nothing to answer. */
	if (t->src_eof && !t->rb_framed && !buf_len(t->src) &&
	    t->rb != HTTP1_BODY_UNTIL_CLOSE) {
		log_info("client %s closed in the middle of its request body",
			 t->peer_str);
		return txn_abort(t, 0, "client_closed");
	}
	if (buffering(t)) {
		if ((r = buffer_body(t)) == TXN_ABORTED)
			return r;
		any |= r;
	}
	if (buffering(t) || t->queued)
		return any;
	/*
	 * Error or hang-up on the upstream: epoll reports it whatever we
	 * watch. Reading tells what happened, after the bytes that came
	 * before it (a response body the server sent whole before its reset
	 * goes out whole); while there is no room to read, txn__arm takes
	 * the socket out of epoll, so it does not spin.
	 */
	if (t->up_hup && t->uc && !t->uc->connecting)
		t->up_rd_ready = true;
	if ((r = up_send(t)) == TXN_ABORTED)
		return r;
	any |= r;
	if ((r = up_recv(t)) == TXN_ABORTED)
		return r;
	any |= r;
	if ((r = frame_res_body(t)) == TXN_ABORTED)
		return r;
	any |= r;
	up_done(t);
	return any;
}

void txn__body_sent(struct txn *t, size_t n)
{
	t->sb_ready -= n;
	t->body_sent += n;
	buf_consume(&t->uin, n);
}

/* The body is not whole and everything received went upstream: the
 * client is who we wait for. */
static bool waits_for_client(const struct txn *t)
{
	return !t->rb_framed && !buf_len(t->src) && !t->src_eof;
}

static bool reads_upstream(const struct txn *t)
{
	return t->uc && !t->uc->connecting && t->rs != R_DONE && !t->up_eof &&
	       (request_sent(t) || t->res_started || t->send_err);
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* Request bytes wait for the upstream to take them. */
static bool has_to_send(const struct txn *t)
{
	return !t->send_err &&
	       (t->uout_off < t->uout.e || t->rb_ready ||
		(t->buffered && t->rb_framed && !reqbody__sent(&t->body)));
}

/*
 * When the client must have sent its body by: client_body_timeout after
 * the last bytes, and client_body_timeout plus what the bytes so far
 * allow at client_body_min_rate after the head, so that a byte now and
 * then does not keep a request open for ever.
 */
static uint64_t body_deadline(const struct txn *t)
{
	const struct cfg_limits *l = &t->px->cfg->limits;
	uint64_t dl = t->t_src + l->body_timeout_ms;

	if (l->body_min_rate)
		dl = min_u64(dl, t->t_body0 + l->body_timeout_ms +
					 t->rb_got * 1000 / l->body_min_rate);
	return dl;
}

uint64_t txn__arm(struct txn *t)
{
	const struct lbtls_config *cfg = t->px->cfg;
	uint64_t dl = UINT64_MAX, now = t->px->loop.now;
	uint32_t uev = 0;

	if (waits_for_client(t))
		dl = body_deadline(t);
	if (t->queued)
		dl = min_u64(dl, t->t_queued + cfg->upstream.queue_timeout_ms);
	if (!t->uc)
		return dl;
	if (t->uc->connecting) {
		uev = EPOLLOUT;
		dl = min_u64(dl,
			     t->t_up_start + cfg->upstream.connect_timeout_ms);
	} else {
		if (has_to_send(t)) {
			uev |= EPOLLOUT;
			dl = min_u64(dl, t->t_up_write +
						 cfg->upstream.send_timeout_ms);
		}
		if (t->rs != R_DONE && !t->up_eof) {
			if (buf__room(&t->uin))
				uev |= EPOLLIN;
			else /* a slow client holds us: not the server's time */
				t->t_up_read = now;
		}
		if (reads_upstream(t))
			dl = min_u64(dl, t->t_up_read +
						 cfg->upstream.read_timeout_ms);
	}
	/* A hang-up reported while there is no room to read what came
	 * before it: out of epoll until there is room, or it spins. */
	if (!uev && t->up_hup ? loop__io_unwatch(&t->px->loop, &t->uc->io) :
				loop__io_set(&t->px->loop, &t->uc->io, uev)) {
		proxy__local_error(t->px, errno, "epoll");
		txn_abort(t, 503, "local_error");
		return 0;
	}
	return dl;
}

enum txn_result txn__timeout(struct txn *t)
{
	const struct lbtls_config *cfg = t->px->cfg;
	uint64_t now = t->px->loop.now;

	if (t->uc && t->uc->connecting) {
		if (now >= t->t_up_start + cfg->upstream.connect_timeout_ms)
			return up_failed(t, 504, F_CONNECT,
					 "connect timed out");
	} else if (t->uc && has_to_send(t)) {
		if (now >= t->t_up_write + cfg->upstream.send_timeout_ms)
			return up_failed(t, 504, F_FINAL, "send timed out");
	}
	if (t->queued && now >= t->t_queued + cfg->upstream.queue_timeout_ms) {
		METRIC_ADD(t->px->m->queue_timeouts, 1);
		log_warn(
			"upstream.queue_timeout: %.*s %.*s from %s waited %u ms for a server under max_conns %u: 503",
			(int)t->ri.method_len, t->ri.method,
			(int)t->ri.target_len, t->ri.target, t->peer_str,
			cfg->upstream.queue_timeout_ms,
			cfg->upstream.max_conns);
		return txn_abort(t, 503, "queue_timeout");
	}
	if (waits_for_client(t) && now >= body_deadline(t)) {
		log_info(
			"client %s: request body timed out after %llu bytes (%.*s %.*s)",
			t->peer_str, (unsigned long long)t->rb_got,
			(int)t->ri.method_len, t->ri.method,
			(int)t->ri.target_len, t->ri.target);
		return txn_abort(t, 408, "client_body_timeout");
	}
	if (reads_upstream(t) &&
	    now >= t->t_up_read + cfg->upstream.read_timeout_ms) {
		if (t->res_started) {
			upstream__fail(&t->px->up, t->server, now);
			METRIC_ADD(t->px->m->servers[t->server].failures, 1);
			proxy__publish_health(t->px);
			log_warn(
				"upstream %s: read timed out in the response body",
				t->px->up.servers[t->server].name);
			return txn_abort(t, 0, "upstream_timeout");
		}
		return up_failed(t, 504, F_FINAL, "read timed out");
	}
	return TXN_BLOCKED;
}

bool txn__finish(struct txn *t)
{
	bool sent = request_sent(t);

	up_release(t, sent && t->res_keep_alive && !buf_len(&t->uin) &&
			      !t->up_eof && t->sb != HTTP1_BODY_UNTIL_CLOSE);
	/* A body framed whole but answered before it all went upstream:
	 * what is left of it is dropped, and the connection lives on. */
	if (t->rb_framed) {
		buf_consume(t->src, t->rb_ready);
		t->rb_ready = 0;
	} else {
		t->close = true; /* the rest of its body is unread */
	}
	return t->rb_framed;
}

static void up_event(struct pool_conn *pc, uint32_t events, void *data)
{
	struct txn *t = data;
	int err = 0;
	socklen_t len = sizeof(err);

	if (pc->connecting) {
		if (getsockopt(pc->io.fd, SOL_SOCKET, SO_ERROR, &err, &len))
			err = errno;
		if (!err && (events & (EPOLLERR | EPOLLHUP)))
			err = ECONNREFUSED;
		if (err) {
			char why[128];

			snprintf(why, sizeof(why), "connect: %s",
				 strerror(err));
			up_failed(t, 502, F_CONNECT, why);
			t->wake(t->owner);
			return;
		}
		pc->connecting = false;
	}
	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
		t->up_rd_ready = true;
	if (events & (EPOLLERR | EPOLLHUP))
		t->up_hup = true;
	t->wake(t->owner);
}
