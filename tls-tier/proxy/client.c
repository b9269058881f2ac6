// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Client connections. pump() moves every byte it can (handshake, reading,
 * the transaction's steps, writing) until nothing moves, then arm() sets
 * epoll and the connection's single timer from the state it stopped in.
 * Each step returns what happened (progress, blocked, closed); a closed
 * connection is freed only after the current batch of events.
 *
 * Re-trying every direction after each step is what keeps TLS (which
 * buffers records of its own) and full-duplex bodies from stalling. A
 * socket is read again only once epoll reported it or the last read filled
 * the buffer (rd_ready), or the TLS layer holds bytes (tlsio__pending): epoll is
 * level-triggered, so what a short read left behind is reported.
 *
 * Every request that had a head ends with one access-log line and one
 * status count, also when it ends early: the line's last field says why
 * (client_reset, upstream_reset, send_timeout, ...), and a request the
 * client left before any response is counted as nginx's 499.
 *
 * Draining (reload, graceful stop) closes nothing under a client's feet:
 * each connection's next response says "Connection: close" and the
 * connection closes after it; an idle one goes at its keep-alive timeout
 * or at the worker's shutdown_timeout.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <openssl/err.h>

#include "client.h"
#include "h2conn.h"
#include "local.h"
#include "log.h"
#include "peers.h"
#include "proxy.h"
#include "tlsio.h"
#include "txn.h"

#define IN_EXTRA (16 * 1024) /* room for body bytes beyond a full head */
#define IN_SMALL 8192 /* first read buffer (client_header_buffer_size) */
#define OUT_CAP 4096
#define LINGER_MS 2000

enum cstate {
	C_HANDSHAKE,
	C_IDLE, /* keep-alive, waiting for the next request */
	C_HEAD, /* reading a request head */
	C_PROXY, /* a transaction runs */
	C_LOCAL, /* sending an answer of our own */
	C_LINGER, /* response sent, write side shut, draining input */
	C_H2, /* HTTP/2: the streams are h2conn.c's */
};

enum step {
	S_BLOCKED = 0,
	S_PROGRESS = 1,
	S_CLOSED = 2, /* the connection is gone: touch nothing */
};

struct client {
	struct loop_io io; /* first: the epoll callback casts back */
	struct loop_timer timer;
	/* HTTP/2: upstream events of one batch are answered with one pump
	 * after the batch, so their responses share TLS records and writes */
	struct loop_timer posted;
	struct proxy *px;
	struct client *next, *prev;
	SSL *ssl;
	enum cstate state;
	bool hs_want_write, rd_wants_write, wr_wants_read;
	/* The socket may have bytes for us: set by its events, cleared by
	 * EAGAIN or a short read. */
	bool rd_ready;
	/* The last write would block: no write is tried again before epoll
	 * reports the socket writable (or readable, for a TLS write that
	 * needs to read). Meanwhile the upstream is read only until the
	 * transaction's buffer is full (back-pressure). */
	bool wr_blocked;
	bool client_eof;
	bool close_after; /* the response being sent closes the connection */
	bool counted; /* in px->peers (limits.per_client_connections) */
	bool was_pending; /* output waited for the client at the last arm() */
	uint16_t local_port; /* the port the client reached; 0: not known yet */
	struct sockaddr_storage peer;
	char peer_str[INET6_ADDRSTRLEN];
	/* only while in use (in_ready, out_ready); given back by arm() */
	struct buf in, out;
	size_t head_seen; /* head bytes the parser has already seen */
	uint64_t head_deadline, idle_deadline, linger_deadline;
	uint64_t deadline; /* of the state arm() left it in; timer <= it */
	uint64_t t_client_io;
	/* the response last moved to the client, or started waiting for it:
	 * send_timeout runs from here, whatever the client sends */
	uint64_t t_wr;
	uint64_t t_start_us;
	/* the request in progress */
	struct txn *txn; /* NULL between requests and for bad heads */
	struct h2conn *h2; /* C_H2 */
	bool h2_over; /* the session ended: write what is left, close */
	int status; /* of a local answer */
	uint64_t body_sent;
	const char *end; /* why the request ended early (access log) */
};

/* Parser output, used only within the event that parsed it: one per
 * worker instead of 3.2 KiB of header array per connection. */
static struct http1_request req_scratch;

static void pump(struct client *c);

/* A transaction's upstream moved. */
static void wake(void *owner)
{
	struct client *c = owner;

	if (c->state != C_H2) {
		pump(c);
		return;
	}
	if (c->posted.idx < 0)
		loop__timer_set(&c->px->loop, &c->posted, c->px->loop.now);
}

static void posted(struct loop_timer *tm)
{
	pump((struct client *)((char *)tm - offsetof(struct client, posted)));
}

/* --- buffers ------------------------------------------------------------ */

static void in_put(struct client *c)
{
	struct proxy *px = c->px;

	buf__put(c->in.cap == IN_SMALL ? &px->in_cache : &px->in_big_cache,
		 &c->in);
}

/*
 * Room to read a request into: in starts small and grows once to
 * header_total + IN_EXTRA when a head does not fit (nginx's
 * client_header_buffer_size and large_client_header_buffers). No span
 * points into in between events, and head_seen and the transaction's
 * counts start at in.s, so moving the bytes is safe.
 */
static int in_ready(struct client *c)
{
	struct proxy *px = c->px;
	struct buf nb;

	if (!c->in.d)
		return buf__get(&px->in_cache, &c->in, IN_SMALL);
	if (buf__room(&c->in))
		return 0;
	if (buf__get(&px->in_big_cache, &nb,
		     px->cfg->limits.header_total + IN_EXTRA))
		return -ENOMEM;
	nb.e = buf_len(&c->in);
	memcpy(nb.d, c->in.d + c->in.s, nb.e);
	in_put(c);
	c->in = nb;
	return 0;
}

static int out_ready(struct client *c)
{
	return c->out.d ? 0 : buf__get(&c->px->out_cache, &c->out, OUT_CAP);
}

static uint64_t now_ms(const struct client *c)
{
	return c->px->loop.now;
}

/* --- lifetime ----------------------------------------------------------- */

static void txn_drop(struct client *c)
{
	if (c->txn)
		txn__free(c->txn);
	c->txn = NULL;
}

static void log_request(struct client *c);

/* 'why' names the cause for the access log when a request is cut short. */
static enum step client_close(struct client *c, const char *why)
{
	struct proxy *px = c->px;

	if (c->state == C_PROXY || c->state == C_LOCAL) {
		if (!c->status)
			c->status =
				c->txn && c->txn->res_started ?
					c->txn->status :
					499; /* nginx's: client went first */
		if (!c->end)
			c->end = why;
		if (c->state == C_PROXY && c->txn)
			c->body_sent = c->txn->body_sent;
		log_request(c);
	}
	if (c->counted)
		peers__del(px->peers, &c->peer);
	txn_drop(c);
	h2conn__free(c->h2, why);
	c->h2 = NULL;
	loop__timer_del(&px->loop, &c->timer);
	loop__timer_del(&px->loop, &c->posted);
	if (c->ssl)
		SSL_free(c->ssl);
	c->ssl = NULL;
	loop__io_close(&px->loop, &c->io);
	in_put(c);
	buf__put(&px->out_cache, &c->out);
	if (c->prev)
		c->prev->next = c->next;
	else
		px->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	px->nclients--;
	METRIC_ADD(px->m->active, -1);
	loop__defer_free(&px->loop, c);
	if (px->client_gone)
		px->client_gone(px);
	return S_CLOSED;
}

/*
 * Close after the response: send close_notify and FIN, then read and drop
 * what the client still sends for a moment. Closing with unread input
 * would send RST, which can destroy the response before the client reads
 * it (nginx's lingering_close, for the same reason).
 */
static void linger(struct client *c)
{
	txn_drop(c);
	h2conn__free(c->h2, "connection_error");
	c->h2 = NULL;
	tlsio__shutdown(c->ssl, c->io.fd);
	c->state = C_LINGER;
	c->linger_deadline = now_ms(c) + LINGER_MS;
}

/* --- local answers ------------------------------------------------------- */

/* Whatever was being answered, answer 'status' instead. */
static enum step answer_error(struct client *c, int status, bool close)
{
	struct local_answer a = { .close = close || c->close_after ||
					   c->px->draining };

	if (c->txn && !c->txn->keep_alive)
		a.close = true;
	if (out_ready(c) || local__error(c->px, &c->out, status, &a))
		return client_close(c, "local_error");
	c->status = a.status;
	c->body_sent = a.body_len;
	c->close_after = a.close;
	c->state = C_LOCAL;
	return S_PROGRESS;
}

/* The address the client reached, "ip:port" or "[ip6]:port", for an
 * HTTP/1.0 request without Host. */
static void local_host(const struct client *c, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char ip[INET6_ADDRSTRLEN] = "localhost";
	unsigned port = 0;

	if (getsockname(c->io.fd, (struct sockaddr *)&ss, &sl))
		ss.ss_family = AF_UNSPEC;
	if (ss.ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr,
			  ip, sizeof(ip));
		port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	} else if (ss.ss_family == AF_INET) {
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, ip,
			  sizeof(ip));
		port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	}
	snprintf(buf, len, ss.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip,
		 port);
}

static uint16_t local_port(struct client *c)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (c->local_port || getsockname(c->io.fd, (struct sockaddr *)&ss, &sl))
		return c->local_port;
	c->local_port = ntohs(ss.ss_family == AF_INET6 ?
				      ((struct sockaddr_in6 *)&ss)->sin6_port :
				      ((struct sockaddr_in *)&ss)->sin_port);
	return c->local_port;
}

/* --- end of a request ---------------------------------------------------- */

static void log_request(struct client *c)
{
	struct proxy *px = c->px;
	struct txn *t = c->txn;
	struct access_entry e;

	if (c->status > 0 && c->status < METRICS_MAX_STATUS)
		METRIC_ADD(px->m->status[c->status], 1);
	if (!log__access_enabled() || !c->status)
		return;
	memset(&e, 0, sizeof(e));
	e.remote_addr = c->peer_str;
	if (t) {
		e.method = t->ri.method;
		e.method_len = t->ri.method_len;
		e.target = t->ri.target;
		e.target_len = t->ri.target_len;
		e.minor = t->minor;
		e.referer = t->ri.ref;
		e.referer_len = t->ri.ref_len;
		e.user_agent = t->ri.ua;
		e.user_agent_len = t->ri.ua_len;
	}
	e.status = c->status;
	e.body_bytes = c->body_sent;
	e.upstream = t && t->server >= 0 ? px->up.servers[t->server].name : "-";
	e.reason = c->end ? c->end : "-";
	e.start_us = c->t_start_us;
	e.duration_us = proxy__wall_us() - c->t_start_us;
	log__access(&e);
}

/* The response is out: the next request, or close. */
static enum step finish(struct client *c)
{
	log_request(c);
	txn_drop(c);
	c->status = 0;
	c->body_sent = 0;
	c->end = NULL;
	/* After a half-close, requests already received are still answered. */
	if (c->close_after || (c->client_eof && !buf_len(&c->in))) {
		linger(c);
		return S_PROGRESS;
	}
	c->state = C_IDLE;
	c->idle_deadline = now_ms(c) + c->px->cfg->limits.keepalive_timeout_ms;
	return S_PROGRESS;
}

static enum step txn_aborted(struct client *c)
{
	struct txn *t = c->txn;

	c->end = t->end;
	if (t->abort_status)
		return answer_error(c, t->abort_status, t->close);
	if (!t->res_started || !buf_len(&c->out))
		return client_close(c, t->end);
	/* What the upstream sent before it failed still goes out; then the
	 * close tells the client that the response was cut. */
	c->status = t->status;
	c->body_sent = t->body_sent;
	c->close_after = true;
	c->state = C_LOCAL;
	return S_PROGRESS;
}

/* --- request heads ------------------------------------------------------- */

/* An https request: a transaction to an upstream. */
static enum step start_txn(struct client *c, const struct http1_request *req,
			   size_t head_len)
{
	struct proxy *px = c->px;
	struct http1_forward fwd = {
		.client_addr = c->peer_str,
		.proto = "https",
		.port = local_port(c),
		.underscores = px->cfg->limits.underscores_in_headers,
	};
	char host[INET6_ADDRSTRLEN + 8];
	struct txn *t = c->txn;
	enum txn_result r;

	if (!req->host.len) {
		local_host(c, host, sizeof(host));
		fwd.host = host;
	}
	t->peer = &c->peer;
	t->peer_str = c->peer_str;
	t->src = &c->in;
	t->dst = &c->out;
	t->wake = wake;
	t->owner = c;
	t->close = c->close_after;
	t->src_eof = c->client_eof; /* a half-close may come with the head */
	t->t_start_us = c->t_start_us;
	c->state = C_PROXY;
	if (out_ready(c))
		return client_close(c, "local_error");
	r = txn__start(t, req, &fwd);
	/* The upstream head is built: the client's copy can go. */
	buf_consume(&c->in, head_len);
	if (r == TXN_ABORTED)
		return txn_aborted(c);
	/*
	 * Expect is not forwarded: as nginx, lbtls itself tells a 1.1 client
	 * to send its body, once the request is accepted (a rejected one got
	 * its final status instead) and unless body bytes came with the head
	 * already. An upstream's own 1xx are dropped.
	 */
	if (req->expect_continue && !t->rb_framed && !buf_len(&c->in) &&
	    buf__add(&c->out, "HTTP/1.1 100 Continue\r\n\r\n", 25))
		return client_close(c, "local_error");
	return S_PROGRESS;
}

/* A request on a plain listener: answered here (local.h). */
static enum step plain_request(struct client *c,
			       const struct http1_request *req, size_t head_len)
{
	struct proxy *px = c->px;
	struct local_answer a = { .close = c->close_after || !req->keep_alive ||
					   px->draining };
	char host[INET6_ADDRSTRLEN + 8] = "";

	if (!req->host.len)
		local_host(c, host, sizeof(host));
	if (out_ready(c) || local__port80(px, &c->out, req, host, &a))
		return client_close(c, "local_error");
	buf_consume(&c->in, head_len);
	c->status = a.status;
	c->body_sent = a.body_len;
	c->close_after = a.close;
	c->state = C_LOCAL;
	return S_PROGRESS;
}

static enum step parse_head(struct client *c)
{
	struct proxy *px = c->px;
	const struct lbtls_config *cfg = px->cfg;
	struct http1_limits lim = {
		.max_line = cfg->limits.header_line,
		.max_head = cfg->limits.header_total,
		.max_body = cfg->limits.body,
	};
	size_t len = buf_len(&c->in);
	int r;

	if (!len)
		return c->client_eof ? client_close(c, "client_reset") :
				       S_BLOCKED;
	if (c->state == C_IDLE) {
		c->state = C_HEAD;
		c->head_deadline = now_ms(c) + cfg->limits.header_timeout_ms;
		c->t_start_us = proxy__wall_us();
	}
	/* Re-parse only when a line may have ended (http1.h): a client
	 * sending a byte at a time must not cost O(head^2). */
	if (len == c->head_seen ||
	    (!memchr(c->in.d + c->in.s + c->head_seen, '\n',
		     len - c->head_seen) &&
	     len - c->head_seen < lim.max_line && len < lim.max_head))
		return c->client_eof ? client_close(c, "client_reset") :
				       S_BLOCKED;
	c->head_seen = len;
	r = http1__parse_request(c->in.d + c->in.s, len, &lim, &req_scratch);
	if (r == 0) {
		if (len >= cfg->limits.header_total)
			return answer_error(c, 431, true);
		return c->client_eof ? client_close(c, "client_reset") :
				       S_BLOCKED;
	}
	if (r < 0)
		return answer_error(c, -r, true);
	c->head_seen = 0;
	c->txn = txn__new(px, &req_scratch);
	if (!c->txn) {
		proxy__local_error(px, ENOMEM, "request");
		return answer_error(c, 503, true);
	}
	if (!c->ssl)
		return plain_request(c, &req_scratch, r);
	return start_txn(c, &req_scratch, r);
}

/* --- the pump -------------------------------------------------------------- */

static bool can_read(struct client *c)
{
	switch (c->state) {
	case C_H2:
		return !c->client_eof && !c->h2_over;
	case C_IDLE:
	case C_HEAD:
	case C_PROXY:
		/* in is taken (or grown, for a head) by client_read() */
		return !c->client_eof &&
		       (!c->in.d || buf__room(&c->in) ||
			(c->state != C_PROXY && c->in.cap == IN_SMALL));
	default:
		return false;
	}
}

static enum step client_read(struct client *c)
{
	size_t room;
	ssize_t n;

	if (c->state == C_LINGER) {
		char junk[4096];

		n = recv(c->io.fd, junk, sizeof(junk), 0);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return client_close(c, "client_reset");
		return S_BLOCKED;
	}
	/* OpenSSL may hold decrypted or raw bytes the socket no longer shows. */
	if (!can_read(c) ||
	    !(c->rd_ready || (c->ssl && tlsio__pending(c->ssl))))
		return S_BLOCKED;
	if (in_ready(c)) {
		proxy__local_error(c->px, ENOMEM, "client buffer");
		return client_close(c, "local_error");
	}
	room = buf__room(&c->in);
	n = tlsio__read(c->ssl, c->io.fd, c->in.d + c->in.e, room,
			&c->rd_wants_write);
	if (n == -EAGAIN) {
		c->rd_ready = false;
		return S_BLOCKED;
	}
	if (n < 0)
		return client_close(c, "client_reset");
	if (n == 0)
		c->client_eof = true;
	/* A short read took what was there (a TLS read returns at most one
	 * record: the rest, if any, is in the socket and epoll says so). */
	if ((size_t)n < room)
		c->rd_ready = false;
	c->in.e += n;
	c->t_client_io = now_ms(c);
	if (c->state == C_PROXY) {
		c->txn->t_src = c->t_client_io;
		c->txn->src_eof = c->client_eof;
	}
	return S_PROGRESS;
}

static bool pending(const struct client *c)
{
	return buf_len(&c->out) || (c->state == C_PROXY && c->txn->sb_ready);
}

/*
 * Response head in out, body bytes ready: move what fits in out's free
 * space behind the head, so a small response goes out as one TLS record
 * and one write instead of two (out never grows for this). In C_PROXY the
 * body always follows everything queued in out.
 */
static void coalesce_body(struct client *c)
{
	const char *p;
	size_t k, room;

	if (c->state != C_PROXY || !buf_len(&c->out))
		return;
	k = txn__body(c->txn, &p);
	room = buf__room(&c->out);
	if (k > room)
		k = room;
	if (!k)
		return;
	memcpy(c->out.d + c->out.e, p, k);
	c->out.e += k;
	txn__body_sent(c->txn, k);
}

static enum step client_write(struct client *c)
{
	enum step r = S_BLOCKED;
	const char *p;
	size_t len;
	bool body;
	ssize_t n;

	if (c->wr_blocked)
		return S_BLOCKED;
	coalesce_body(c);
	while (pending(c)) {
		body = !buf_len(&c->out);
		if (body) {
			len = txn__body(c->txn, &p);
		} else {
			p = c->out.d + c->out.s;
			len = buf_len(&c->out);
		}
		n = tlsio__write(c->ssl, c->io.fd, p, len, &c->wr_wants_read);
		if (n == -EAGAIN) {
			c->wr_blocked = true;
			break;
		}
		if (n < 0)
			return client_close(c, "client_reset");
		r = S_PROGRESS;
		c->t_client_io = c->t_wr = now_ms(c);
		if (body)
			txn__body_sent(c->txn, n);
		else
			buf_consume(&c->out, n);
	}
	return r;
}

static enum step maybe_finish(struct client *c)
{
	struct txn *t = c->txn;

	if (pending(c))
		return S_BLOCKED;
	if (c->state == C_LOCAL)
		return finish(c);
	if (c->state != C_PROXY || !txn__res_done(t))
		return S_BLOCKED;
	txn__finish(t);
	c->status = t->status;
	c->body_sent = t->body_sent;
	c->close_after = t->close;
	return finish(c);
}

/* ALPN chose h2: the connection's streams are h2conn.c's from now on. */
static enum step start_h2(struct client *c)
{
	struct h2conn_peer p = {
		.px = c->px,
		.peer = &c->peer,
		.peer_str = c->peer_str,
		.port = local_port(c),
		.wake = wake,
		.client = c,
	};

	c->h2 = h2conn__new(&p);
	if (!c->h2) {
		proxy__local_error(c->px, ENOMEM, "HTTP/2 session");
		return client_close(c, "local_error");
	}
	c->state = C_H2;
	return S_PROGRESS;
}

/* HTTP/2: what was read goes to the session, the streams move, their
 * frames come out; a session that is over closes once they are sent. */
static enum step h2_step(struct client *c)
{
	enum step r = S_BLOCKED;
	size_t before;

	if (buf_len(&c->in) && !c->h2_over) {
		if (h2conn__recv(c->h2, &c->in) < 0)
			c->h2_over = true;
		r = S_PROGRESS;
	}
	buf_consume(&c->in, buf_len(&c->in));
	if (h2conn__step(c->h2))
		r = S_PROGRESS;
	if (!c->wr_blocked) {
		if (out_ready(c))
			return client_close(c, "local_error");
		before = buf_len(&c->out);
		if (h2conn__send(c->h2, &c->out)) {
			proxy__local_error(c->px, ENOMEM, "HTTP/2 output");
			return client_close(c, "local_error");
		}
		if (buf_len(&c->out) != before)
			r = S_PROGRESS;
	}
	if (buf_len(&c->out))
		return r;
	if (c->h2_over || h2conn__done(c->h2)) {
		linger(c);
		return S_PROGRESS;
	}
	if (c->client_eof)
		return client_close(c, "client_reset");
	return r;
}

static enum step handshake(struct client *c)
{
	struct proxy *px = c->px;
	char why[256];
	int r = tlsio__handshake(c->ssl, &c->hs_want_write, why, sizeof(why));

	if (!r)
		return S_BLOCKED;
	if (r < 0) {
		log_debug("TLS handshake with %s failed: %s", c->peer_str, why);
		METRIC_ADD(px->m->handshake_errors, 1);
		return client_close(c, "client_reset");
	}
	if (SSL_session_reused(c->ssl))
		METRIC_ADD(px->m->handshakes_resumed, 1);
	else
		METRIC_ADD(px->m->handshakes_full, 1);
	/* The first request may have come with the Finished. */
	c->rd_ready = true;
	if (tlsio__is_h2(c->ssl))
		return start_h2(c);
	c->state = C_HEAD;
	c->t_start_us = proxy__wall_us();
	return S_PROGRESS;
}

static enum step proxy_step(struct client *c)
{
	switch (txn__step(c->txn)) {
	case TXN_ABORTED:
		return txn_aborted(c);
	case TXN_PROGRESS:
		return S_PROGRESS;
	default:
		return S_BLOCKED;
	}
}

/* S_PROGRESS: the transaction aborted while arming; pump again. */
static enum step arm(struct client *c)
{
	const struct lbtls_config *cfg = c->px->cfg;
	struct loop *l = &c->px->loop;
	uint64_t dl = UINT64_MAX, send_dl;
	uint32_t ev = 0;

	/* No request in flight: empty buffers go back to the cache (an idle
	 * connection holds none); a lingering one reads into a stack buffer. */
	if (c->state != C_PROXY && c->state != C_LOCAL &&
	    (c->state != C_H2 || h2conn__idle(c->h2))) {
		if (c->in.d && (!buf_len(&c->in) || c->state == C_LINGER))
			in_put(c);
		if (c->out.d && !buf_len(&c->out))
			buf__put(&c->px->out_cache, &c->out);
	}
	if (pending(c) && !c->was_pending)
		c->t_wr = now_ms(c);
	c->was_pending = pending(c);
	send_dl = c->t_wr + cfg->limits.send_timeout_ms;
	switch (c->state) {
	case C_HANDSHAKE:
		ev = c->hs_want_write ? EPOLLOUT : EPOLLIN;
		dl = c->head_deadline;
		break;
	case C_IDLE:
		dl = c->idle_deadline;
		break;
	case C_HEAD:
		dl = c->head_deadline;
		break;
	case C_PROXY:
		dl = txn__arm(c->txn);
		if (c->txn->aborted)
			return S_PROGRESS;
		/* a client that does not take its response */
		if (pending(c) && send_dl < dl)
			dl = send_dl;
		if (dl == UINT64_MAX) /* a safety net: no phase has one */
			dl = c->t_client_io + cfg->limits.send_timeout_ms;
		break;
	case C_LOCAL:
		dl = send_dl;
		break;
	case C_H2: {
		bool again;

		dl = h2conn__arm(c->h2, &again);
		if (again)
			return S_PROGRESS;
		if (pending(c) && send_dl < dl)
			dl = send_dl;
		break;
	}
	case C_LINGER:
		ev = EPOLLIN;
		dl = c->linger_deadline;
		break;
	}
	/* A TLS read that needs the socket writable (or a write that needs
	 * it readable) waits for that, not for the readiness that would
	 * wake us again at once: level-triggered epoll would spin. */
	if (can_read(c) && !c->rd_wants_write)
		ev |= EPOLLIN;
	if (c->state != C_HANDSHAKE && pending(c) && !c->wr_wants_read)
		ev |= EPOLLOUT;
	if (c->rd_wants_write)
		ev |= EPOLLOUT;
	if (c->wr_wants_read)
		ev |= EPOLLIN;
	if (loop__io_set(l, &c->io, ev)) {
		proxy__local_error(c->px, errno, "epoll");
		return client_close(c, "local_error");
	}
	/*
	 * Deadlines mostly move later (every byte of a request or response
	 * pushes them): the heap is only touched when the new one is earlier
	 * than the armed one; a timer that fires before c->deadline is armed
	 * again for it (client_timeout). Two heap updates per request saved.
	 */
	c->deadline = dl;
	if (c->timer.idx < 0 || dl < c->timer.at)
		loop__timer_set(l, &c->timer, dl);
	return S_BLOCKED;
}

static void pump(struct client *c)
{
	enum step r, any;

	do {
		do {
			any = S_BLOCKED;
			if (c->state == C_HANDSHAKE) {
				if ((r = handshake(c)) == S_CLOSED)
					return;
				any |= r;
				if (c->state == C_HANDSHAKE)
					break;
			}
			if ((r = client_read(c)) == S_CLOSED)
				return;
			any |= r;
			if (c->state == C_IDLE || c->state == C_HEAD) {
				if ((r = parse_head(c)) == S_CLOSED)
					return;
				any |= r;
			}
			if (c->state == C_PROXY) {
				if ((r = proxy_step(c)) == S_CLOSED)
					return;
				any |= r;
			}
			if (c->state == C_H2) {
				if ((r = h2_step(c)) == S_CLOSED)
					return;
				any |= r;
			}
			if ((r = client_write(c)) == S_CLOSED)
				return;
			any |= r;
			if ((r = maybe_finish(c)) == S_CLOSED)
				return;
			any |= r;
		} while (any == S_PROGRESS);
		r = arm(c);
	} while (r == S_PROGRESS);
}

/* --- events ----------------------------------------------------------------- */

static void client_io(struct loop_io *io, uint32_t events)
{
	struct client *c = (struct client *)io;

	/* Reset, or both directions shut: nothing can be read or written
	 * any more, and epoll would report it again at once. */
	if (events & (EPOLLERR | EPOLLHUP)) {
		client_close(c, "client_reset");
		return;
	}
	/* EPOLLOUT wakes a TLS read that waited for the socket to drain. */
	if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) || c->rd_wants_write)
		c->rd_ready = true;
	if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) ||
	    (c->wr_wants_read && (events & EPOLLIN)))
		c->wr_blocked = false;
	pump(c);
}

static void client_timeout(struct loop_timer *tm)
{
	struct client *c =
		(struct client *)((char *)tm - offsetof(struct client, timer));
	uint64_t now = now_ms(c);

	if (now < c->deadline) {
		/* armed for an earlier deadline that has moved on since */
		loop__timer_set(&c->px->loop, tm, c->deadline);
		return;
	}
	switch (c->state) {
	case C_HEAD:
		/* No byte of a head (a browser's preconnect): there was no
		 * request, so no answer, access-log line or count. */
		if (!buf_len(&c->in)) {
			client_close(c, "header_timeout");
			return;
		}
		/* slowloris: the head did not arrive in time */
		if (answer_error(c, 408, true) == S_CLOSED)
			return;
		break;
	case C_PROXY:
		/* The client does not take its response: its own doing, the
		 * upstream is released without blame. */
		if (pending(c) &&
		    now >= c->t_wr + c->px->cfg->limits.send_timeout_ms) {
			log_info(
				"client %s took no response bytes for %u ms (limits.send_timeout): closed",
				c->peer_str,
				c->px->cfg->limits.send_timeout_ms);
			client_close(c, "send_timeout");
			return;
		}
		/* pump() sees an abort; a deadline no phase claims would
		 * only fire again */
		if (txn__timeout(c->txn) == TXN_BLOCKED && !pending(c) &&
		    !txn__starting(c->txn)) {
			client_close(c, "timeout");
			return;
		}
		break;
	case C_H2:
		if (pending(c) &&
		    now >= c->t_wr + c->px->cfg->limits.send_timeout_ms) {
			METRIC_ADD(c->px->m->h2.limited.send_timeout, 1);
			log_info(
				"HTTP/2 client %s took no bytes for %u ms (limits.send_timeout): closed",
				c->peer_str,
				c->px->cfg->limits.send_timeout_ms);
			client_close(c, "send_timeout");
			return;
		}
		if (h2conn__timeout(c->h2)) {
			client_close(c, "send_timeout");
			return;
		}
		break;
	default:
		client_close(c, "send_timeout");
		return;
	}
	pump(c);
}

/*
 * limits.per_client_connections: one more from this address is refused
 * before a byte is read or a handshake made (HAProxy's tcp-request
 * connection reject); logged at most once a second.
 */
static int count_peer(struct proxy *px, const struct sockaddr_storage *peer)
{
	static uint64_t logged_at, missed;
	unsigned limit = px->cfg->limits.per_client_connections;
	char ip[INET6_ADDRSTRLEN] = "?";
	int err;

	if (!limit)
		return 0;
	if (!px->peers &&
	    !(px->peers = peers__new(px->cfg->limits.per_client_v6_prefix)))
		return -ENOMEM;
	err = peers__add(px->peers, peer, limit);
	if (err != -EBUSY)
		return err;
	METRIC_ADD(px->m->client_refused, 1);
	if (logged_at && px->loop.now - logged_at < 1000) {
		missed++;
		return err;
	}
	if (peer->ss_family == AF_INET6)
		inet_ntop(AF_INET6,
			  &((const struct sockaddr_in6 *)peer)->sin6_addr, ip,
			  sizeof(ip));
	else
		inet_ntop(AF_INET,
			  &((const struct sockaddr_in *)peer)->sin_addr, ip,
			  sizeof(ip));
	log_warn(
		"limits.per_client_connections (%u) reached for %s: connection refused (%llu more refused since the last report)",
		limit, ip, (unsigned long long)missed);
	logged_at = px->loop.now;
	missed = 0;
	return err;
}

int client__accept(struct proxy *px, bool tls, int fd,
		   const struct sockaddr_storage *peer)
{
	struct client *c = NULL;
	int one = 1, err;

	err = count_peer(px, peer);
	if (err == -EBUSY) {
		close(fd);
		return err;
	}
	if (err)
		goto fail;
	c = calloc(1, sizeof(*c));
	if (!c)
		goto uncount;
	c->counted = px->cfg->limits.per_client_connections;
	if (tls) {
		c->ssl = tls__ssl_new(px->tls, fd);
		if (!c->ssl)
			goto uncount;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	loop__io_init(&c->io, fd, client_io);
	loop__timer_init(&c->timer, client_timeout);
	loop__timer_init(&c->posted, posted);
	c->px = px;
	c->peer = *peer;
	if (peer->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)peer;

		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12],
				  c->peer_str, sizeof(c->peer_str));
		else
			inet_ntop(AF_INET6, &s6->sin6_addr, c->peer_str,
				  sizeof(c->peer_str));
	} else {
		inet_ntop(AF_INET,
			  &((const struct sockaddr_in *)peer)->sin_addr,
			  c->peer_str, sizeof(c->peer_str));
	}
	c->state = c->ssl ? C_HANDSHAKE : C_HEAD;
	c->head_deadline = px->loop.now + px->cfg->limits.header_timeout_ms;
	c->t_client_io = c->t_wr = px->loop.now;
	c->t_start_us = proxy__wall_us();
	c->next = px->clients;
	if (px->clients)
		px->clients->prev = c;
	px->clients = c;
	px->nclients++;
	METRIC_ADD(px->m->accepted, 1);
	METRIC_ADD(px->m->active, 1);
	/*
	 * No handshake step here: the ClientHello (or a port 80 request) is
	 * read when epoll reports the socket, so a burst of new connections
	 * does not run its key exchanges and signatures ahead of the
	 * requests of established connections in one wakeup. Level-triggered
	 * epoll reports bytes that arrived before the socket was added.
	 */
	if (arm(c) == S_CLOSED)
		return -ENOMEM;
	return 0;
uncount:
	if (px->cfg->limits.per_client_connections)
		peers__del(px->peers, peer);
fail:
	ERR_clear_error();
	proxy__local_error(px, ENOMEM, "new client connection");
	if (c) {
		SSL_free(c->ssl);
		free(c);
	}
	close(fd);
	return -ENOMEM;
}

void client__drain_all(struct proxy *px)
{
	struct client *c, *next;

	for (c = px->clients; c; c = next) {
		next = c->next;
		if (c->state == C_H2)
			pump(c); /* GOAWAY */
	}
}

void client__close_all(struct proxy *px)
{
	while (px->clients)
		client_close(px->clients, "shutdown");
}
