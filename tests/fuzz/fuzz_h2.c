// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer target for tls-tier/http2/h2.c, the server side of an HTTP/2
 * connection, driven by a fake owner as proxy/h2conn.c drives it.
 *
 * An input is what a client sends, then CTL_LEN bytes that steer the run
 * (taken from the end, as FuzzedDataProvider does, so that the corpus,
 * tests/fuzz/corpus/h2/make_seeds.py, starts with a real connection
 * preface and SETTINGS): how the bytes are cut into h2__recv() calls, the
 * limits (defaults or tight ones), what the owner does with each stream,
 * how much output it drains, how the clock moves and when it shuts down.
 *
 * The owner answers some requests (h2__respond() with a parsed HTTP/1
 * response head, the body through ops->read, sometimes -EAGAIN then
 * h2__resume()), resets others, refuses some (NULL), consumes request
 * bodies at once, slowly or never, and calls the API on ids that are gone.
 * As proxy/h2conn.c, it may call back into the session from inside a
 * callback (its own error answers, 100-continue, consume or reset on
 * DATA), and on ops->closed it gives the unconsumed bytes back to the
 * connection's window and counts a reset of work in flight as a glitch.
 *
 * Invariants checked (any failure aborts):
 * - every stream the owner took gets ops->closed exactly once, nothing is
 *   called for it after that, and callbacks come only from inside
 *   h2__recv(), h2__send() and h2__free() (h2.h);
 * - a request head is one HTTP/1.1 head ending in a blank line, with no
 *   pseudo-header and no connection-specific field; when it carries no
 *   error, the HTTP/1 parser reads exactly that head or rejects it (never
 *   a shorter head: no smuggled second request); its stream ids rise;
 * - body bytes the owner has not consumed never exceed the stream's window
 *   (nor, summed, the connection's) by more than one frame;
 * - h2__respond() on a stream that is gone says -1;
 * - h2__send() appends nothing while 'out' holds 'high' bytes or more;
 * - the output is a run of well-formed frames that starts with SETTINGS;
 *   HEADERS and DATA go only to streams the owner answered, never after
 *   the stream's END_STREAM or RST_STREAM, nor above a GOAWAY's last
 *   stream id; GOAWAY ids never rise; header blocks decode (HPACK) with
 *   lower-case names, no connection-specific field, ":status" first; a
 *   stream's DATA carry no more than ops->read gave, and exactly that when
 *   they end it.
 * ASan and UBSan (FUZZ_FLAGS) catch memory errors and leaks: the owner's
 * stream objects live until the end of the run and are checked there.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "../../tls-tier/core/buf.c"
#include "../../tls-tier/core/log.c"
#include "../../tls-tier/http1/http1.c"
#include "../../tls-tier/http2/h2.c"

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
				__LINE__, #cond);                              \
			abort();                                               \
		}                                                              \
	} while (0)

#define CTL_LEN 8
#define MAX_STREAMS 512
#define MAX_STEPS 4096
#define DEFAULT_WINDOW 65535 /* RFC 9113 6.9.2, until SETTINGS are acked */
#define MAX_FRAME 16384 /* SETTINGS_MAX_FRAME_SIZE: h2.c keeps the default */

/* What the owner does with a stream (chosen per stream from the input). */
enum action {
	A_NOW, /* consume the body as it comes, answer with a body at its end */
	A_EAGAIN, /* answer at once; read says -EAGAIN every other call */
	A_NOBODY, /* answer without a body at the end of the request */
	A_RESET, /* h2__reset() */
	A_SLOW, /* consume 100 bytes a step, answer at the end */
	A_REFUSE, /* request() returns NULL */
	A_HANG, /* never answer, never consume */
	A_CONTINUE, /* 100-continue if asked, a glitch, then as A_NOW */
};

struct fstream {
	int32_t id;
	enum action action;
	int error; /* h2_request.error */
	bool expect_continue, end_stream, ended, closed, answered, body,
		continued, eof, ready, reset;
	uint32_t code;
	uint64_t got, consumed; /* request body bytes */
	uint64_t body_len, given; /* response body: planned, handed out */
	/* what went out on the wire for it */
	bool out_final, out_end, out_rst;
	uint64_t out_data;
};

struct owner {
	struct h2 *h;
	struct fstream *st[MAX_STREAMS];
	unsigned nst;
	int32_t last_id;
	bool in_api; /* inside an h2__* call that must not call back */
	bool in_callable; /* inside h2__recv/h2__send/h2__free */
	bool freeing; /* inside h2__free */
	const uint8_t *ctl;
	const struct cfg_http2 *cfg;
	uint64_t now;
	unsigned steps;
	/* output walker */
	nghttp2_hd_inflater *inflater;
	bool any_frame;
	bool goaway_seen;
	uint32_t goaway_last;
	int32_t hdr_stream; /* a header block in progress (CONTINUATION) */
	bool hdr_first, hdr_end_stream, hdr_interim;
};

static struct fstream *find(struct owner *o, int32_t id)
{
	unsigned i;

	for (i = 0; i < o->nst; i++)
		if (o->st[i]->id == id)
			return o->st[i];
	return NULL;
}

static uint64_t window_bound(const struct owner *o)
{
	return o->cfg->initial_window > DEFAULT_WINDOW ?
		       o->cfg->initial_window :
		       DEFAULT_WINDOW;
}

static uint64_t conn_bound(const struct owner *o)
{
	return o->cfg->conn_window > DEFAULT_WINDOW ? o->cfg->conn_window :
						      DEFAULT_WINDOW;
}

static bool has_field(const struct http1_request *r, const char *name)
{
	return http1__find(r->headers, r->num_headers, name) != NULL;
}

static void check_head(struct owner *o, const struct h2_request *req)
{
	struct http1_limits lim = { req->len + 1, req->len + 1, 0 };
	struct http1_request *r;
	int n;

	if (req->error) {
		/* h2.h names 400 and 431; h2.c also says 501 (a :method
		 * longer than it keeps) and gives no head with an error */
		CHECK(req->error == 400 || req->error == 431 ||
		      req->error == 501);
		return;
	}
	CHECK(req->head != NULL && req->len >= 4);
	CHECK(!memcmp(req->head + req->len - 4, "\r\n\r\n", 4));
	/* no pseudo-header became a field */
	CHECK(!memmem(req->head, req->len, "\n:", 2));
	r = malloc(sizeof(*r));
	CHECK(r != NULL);
	n = http1__parse_request(req->head, req->len, &lim, r);
	/* exactly this head, or one the HTTP/1 rules refuse (answered 400
	 * by the owner); a shorter head would hide a second request */
	CHECK(n == (int)req->len || n < 0);
	if (n > 0) {
		CHECK(r->minor == 1);
		CHECK(r->host.len > 0);
		CHECK(!has_field(r, "connection"));
		CHECK(!has_field(r, "keep-alive"));
		CHECK(!has_field(r, "proxy-connection"));
		CHECK(!has_field(r, "upgrade"));
		CHECK(r->num_headers <= o->cfg->max_headers + 1);
		CHECK(req->has_length == has_field(r, "content-length"));
		if (req->expect_continue)
			CHECK(!has_field(r, "expect"));
	}
	free(r);
}

/* --- the owner's callbacks ------------------------------------------------- */

static int respond(struct owner *o, struct fstream *s, int status, bool body);
static void consume(struct owner *o, struct fstream *s, uint64_t max);

static void callback_allowed(const struct owner *o)
{
	CHECK(!o->in_api);
	CHECK(o->in_callable);
}

static void *on_request(void *owner, const struct h2_request *req)
{
	struct owner *o = owner;
	struct fstream *s;
	unsigned a;

	callback_allowed(o);
	CHECK(req->id > 0 && (req->id & 1));
	CHECK(req->id > o->last_id);
	o->last_id = req->id;
	check_head(o, req);
	a = (o->ctl[3] * ((unsigned)(req->id >> 1) + 1)) & 7;
	if (a == A_REFUSE || o->nst == MAX_STREAMS)
		return NULL;
	s = calloc(1, sizeof(*s));
	CHECK(s != NULL);
	s->id = req->id;
	s->action = a;
	s->error = req->error;
	s->expect_continue = req->expect_continue;
	s->end_stream = req->end_stream;
	s->ended = req->end_stream;
	s->ready = true;
	switch ((o->ctl[7] + (unsigned)req->id) % 5) {
	case 0:
		s->body_len = 0;
		break;
	case 1:
		s->body_len = 1;
		break;
	case 2:
		s->body_len = 100 + o->ctl[7];
		break;
	case 3:
		s->body_len = 16385;
		break;
	default:
		s->body_len = 70000;
		break;
	}
	o->st[o->nst++] = s;
	if (o->ctl[6] & 8) {
		/* an eager owner, as proxy/h2conn.c: its own answers and
		 * 100-continue from inside the callback */
		if (s->error) {
			respond(o, s, s->error, false);
		} else if (a == A_CONTINUE && s->expect_continue) {
			o->in_api = true;
			s->continued = !h2__continue(o->h, s->id);
			o->in_api = false;
		}
	}
	return s;
}

static struct fstream *live(struct owner *o, void *st)
{
	struct fstream *s = st;
	unsigned i;

	callback_allowed(o);
	for (i = 0; i < o->nst; i++)
		if (o->st[i] == s)
			break;
	CHECK(i < o->nst);
	CHECK(!s->closed);
	return s;
}

static void on_data(void *owner, void *st, const uint8_t *p, size_t n)
{
	struct owner *o = owner;
	struct fstream *s = live(o, st);
	volatile uint8_t sum = 0;
	uint64_t total = 0;
	unsigned i;
	size_t j;

	CHECK(!s->ended);
	CHECK(p != NULL || n == 0);
	for (j = 0; j < n; j++) /* ASan: every byte is readable */
		sum += p[j];
	s->got += n;
	/* nghttp2 1.52 hands over the whole DATA frame that overflows a
	 * window, then resets the stream (FLOW_CONTROL_ERROR): one frame
	 * (we never allow more than 16384 bytes) past the window */
	CHECK(s->got - s->consumed <= window_bound(o) + MAX_FRAME);
	for (i = 0; i < o->nst; i++)
		if (!o->st[i]->closed)
			total += o->st[i]->got - o->st[i]->consumed;
	CHECK(total <= conn_bound(o) + MAX_FRAME);
	if (o->ctl[6] & 8) {
		/* from inside the callback, as h2conn.c does */
		if (s->action == A_RESET && !s->reset) {
			s->reset = true;
			o->in_api = true;
			h2__reset(o->h, s->id, NGHTTP2_INTERNAL_ERROR);
			o->in_api = false;
		} else if (s->action != A_SLOW && s->action != A_HANG) {
			consume(o, s, UINT64_MAX);
		}
	}
}

static void on_end(void *owner, void *st)
{
	struct owner *o = owner;
	struct fstream *s = live(o, st);

	CHECK(!s->ended);
	s->ended = true;
}

static ssize_t on_read(void *owner, void *st, uint8_t *p, size_t len, bool *eof)
{
	struct owner *o = owner;
	struct fstream *s = live(o, st);
	size_t n;

	CHECK(s->answered && s->body && !s->eof);
	CHECK(len > 0);
	if (s->action == A_EAGAIN && !s->ready)
		return -EAGAIN;
	if (s->action == A_EAGAIN)
		s->ready = false;
	n = s->body_len - s->given < len ? s->body_len - s->given : len;
	memset(p, 'a' + (s->given % 26), n);
	s->given += n;
	*eof = s->given == s->body_len;
	s->eof = *eof;
	return n;
}

static void on_closed(void *owner, void *st, uint32_t code)
{
	struct owner *o = owner;
	struct fstream *s = live(o, st);

	s->closed = true;
	s->code = code;
	/* what the stream's window never got back goes back to the
	 * connection's (proxy/h2conn.c does so), and a reset of work in
	 * flight is a glitch (not while freeing, as h2conn.c) */
	o->in_api = true;
	h2__consume(o->h, s->id, s->got - s->consumed);
	s->consumed = s->got;
	if (code && s->action == A_HANG && !o->freeing)
		h2__glitch(o->h, "reset in flight", o->now);
	o->in_api = false;
}

static const struct h2_ops fuzz_ops = {
	.request = on_request,
	.data = on_data,
	.end = on_end,
	.read = on_read,
	.closed = on_closed,
};

/* --- output: the frames the client would read ------------------------------- */

static bool connection_specific(const uint8_t *name, size_t len)
{
	static const char *const bad[] = { "connection", "keep-alive",
					   "proxy-connection",
					   "transfer-encoding", "upgrade" };
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (len == strlen(bad[i]) && !memcmp(name, bad[i], len))
			return true;
	return false;
}

static void header_block(struct owner *o, const uint8_t *p, size_t n, bool last)
{
	nghttp2_nv nv;
	int flags;
	ssize_t r;
	size_t i;

	for (;;) {
		flags = 0;
		r = nghttp2_hd_inflate_hd2(o->inflater, &nv, &flags, p, n,
					   last);
		CHECK(r >= 0);
		p += r;
		n -= r;
		if (flags & NGHTTP2_HD_INFLATE_EMIT) {
			for (i = 0; i < nv.namelen; i++)
				CHECK(nv.name[i] < 'A' || nv.name[i] > 'Z');
			CHECK(!connection_specific(nv.name, nv.namelen));
			if (o->hdr_first) {
				CHECK(nv.namelen == 7 &&
				      !memcmp(nv.name, ":status", 7));
				CHECK(nv.valuelen == 3);
				o->hdr_interim = nv.value[0] == '1';
				o->hdr_first = false;
			} else {
				CHECK(nv.namelen > 0 && nv.name[0] != ':');
			}
		}
		if (flags & NGHTTP2_HD_INFLATE_FINAL) {
			nghttp2_hd_inflate_end_headers(o->inflater);
			break;
		}
		if (!(flags & NGHTTP2_HD_INFLATE_EMIT) && n == 0)
			break;
	}
}

static void end_of_headers(struct owner *o, struct fstream *s)
{
	CHECK(!o->hdr_first); /* a :status at least */
	if (o->hdr_interim) {
		CHECK(s->continued && !s->out_final);
		CHECK(!o->hdr_end_stream);
		return;
	}
	CHECK(!s->out_final);
	s->out_final = true;
	if (o->hdr_end_stream) {
		/* no body was dropped */
		CHECK(!s->body || s->body_len == 0);
		s->out_end = true;
	}
}

static void frame(struct owner *o, const uint8_t *f, size_t len)
{
	uint8_t type = f[3], flags = f[4];
	int32_t id = (int32_t)(((uint32_t)f[5] << 24 | (uint32_t)f[6] << 16 |
				(uint32_t)f[7] << 8 | f[8]) &
			       0x7fffffff);
	const uint8_t *p = f + 9;
	struct fstream *s = NULL;
	size_t pad = 0;

	if (!o->any_frame) {
		/* the server's connection preface */
		CHECK(type == NGHTTP2_SETTINGS && id == 0 &&
		      !(flags & NGHTTP2_FLAG_ACK));
		o->any_frame = true;
	}
	/* a header block is not interrupted (RFC 9113 6.10) */
	CHECK(!o->hdr_stream ||
	      (type == NGHTTP2_CONTINUATION && id == o->hdr_stream));
	if (type == NGHTTP2_HEADERS || type == NGHTTP2_DATA) {
		CHECK(id & 1);
		CHECK(!o->goaway_seen || (uint32_t)id <= o->goaway_last);
		s = find(o, id);
		CHECK(s != NULL);
		CHECK(!s->out_end && !s->out_rst);
		if (flags & NGHTTP2_FLAG_PADDED) {
			CHECK(len >= 1);
			pad = p[0] + 1u;
			CHECK(pad <= len);
			p++;
		}
	}
	switch (type) {
	case NGHTTP2_DATA:
		CHECK(s->answered && s->body && s->out_final);
		s->out_data += len - pad;
		CHECK(s->out_data <= s->given);
		if (flags & NGHTTP2_FLAG_END_STREAM) {
			CHECK(s->eof && s->out_data == s->given);
			s->out_end = true;
		}
		break;
	case NGHTTP2_HEADERS:
		CHECK(s->answered || s->continued);
		if (flags & NGHTTP2_FLAG_PRIORITY) {
			CHECK(len >= pad + 5);
			p += 5;
			len -= 5;
		}
		o->hdr_first = true;
		o->hdr_end_stream = flags & NGHTTP2_FLAG_END_STREAM;
		header_block(o, p, len - pad, flags & NGHTTP2_FLAG_END_HEADERS);
		if (flags & NGHTTP2_FLAG_END_HEADERS)
			end_of_headers(o, s);
		else
			o->hdr_stream = id;
		break;
	case NGHTTP2_CONTINUATION:
		CHECK(o->hdr_stream == id);
		header_block(o, p, len, flags & NGHTTP2_FLAG_END_HEADERS);
		if (flags & NGHTTP2_FLAG_END_HEADERS) {
			end_of_headers(o, find(o, id));
			o->hdr_stream = 0;
		}
		break;
	case NGHTTP2_RST_STREAM:
		CHECK(id != 0 && len == 4);
		s = find(o, id);
		if (s)
			s->out_rst = true;
		break;
	case NGHTTP2_SETTINGS:
		CHECK(id == 0 && len % 6 == 0);
		if (flags & NGHTTP2_FLAG_ACK)
			CHECK(len == 0);
		break;
	case NGHTTP2_PING:
		CHECK(id == 0 && len == 8);
		break;
	case NGHTTP2_GOAWAY: {
		uint32_t last;

		CHECK(id == 0 && len >= 8);
		last = ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
			(uint32_t)p[2] << 8 | p[3]) &
		       0x7fffffff;
		CHECK(!o->goaway_seen || last <= o->goaway_last);
		o->goaway_seen = true;
		o->goaway_last = last;
		break;
	}
	case NGHTTP2_WINDOW_UPDATE:
		CHECK(len == 4);
		break;
	default:
		/* no PUSH_PROMISE, PRIORITY or extension frames from us */
		CHECK(0);
	}
}

/* Frames whole in 'out' are checked; how many of them the client reads
 * (is drained) depends on the input. */
static void drain(struct owner *o, struct buf *out, bool all)
{
	size_t len;

	for (;;) {
		const uint8_t *f = (const uint8_t *)out->d + out->s;

		if (buf_len(out) < 9)
			break;
		len = (size_t)f[0] << 16 | (size_t)f[1] << 8 | f[2];
		if (buf_len(out) < 9 + len)
			break;
		frame(o, f, len);
		buf_consume(out, 9 + len);
		if (!all && (o->ctl[4] & 0x80))
			break;
	}
}

static int send_out(struct owner *o, struct buf *out, size_t high, bool all)
{
	size_t before = buf_len(out);
	int r;

	o->in_callable = true;
	r = h2__send(o->h, out, high);
	o->in_callable = false;
	if (before >= high)
		CHECK(buf_len(out) == before);
	drain(o, out, all);
	return r;
}

/* --- the owner's moves between h2__recv() calls ------------------------------ */

static const char *const responses[] = {
	"HTTP/1.1 200 OK\r\nContent-Length: %llu\r\nConnection: keep-alive\r\n"
	"Keep-Alive: timeout=5\r\nContent-Type: text/plain\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nSet-Cookie: a=1\r\n"
	"Set-Cookie: b=2\r\nX-Mixed-CASE: Yes\r\nConnection: close, X-Hop\r\n"
	"X-Hop: 1\r\n\r\n",
	"HTTP/1.1 404 Not Found\r\nContent-Length: %llu\r\nUpgrade: h2c\r\n"
	"Proxy-Connection: keep-alive\r\nServer: flask\r\n\r\n",
	"HTTP/1.0 503 Service Unavailable\r\nRetry-After: 1\r\n"
	"Content-Type: text/html; charset=utf-8\r\n\r\n",
};

static int respond(struct owner *o, struct fstream *s, int status, bool body)
{
	static const struct http1_span get = { "GET", 3 };
	struct http1_response *res = malloc(sizeof(*res));
	unsigned k = (o->ctl[6] + (unsigned)s->id) % 4;
	char head[512];
	int n, r;

	CHECK(res != NULL);
	if (status)
		n = snprintf(head, sizeof(head),
			     "HTTP/1.1 %d Error\r\nContent-Length: 0\r\n"
			     "Connection: close\r\n\r\n",
			     status);
	else
		n = snprintf(head, sizeof(head), responses[k],
			     (unsigned long long)s->body_len);
	CHECK(n > 0 && (size_t)n < sizeof(head));
	CHECK(http1__parse_response(head, n, sizeof(head), get, res) == n);
	o->in_api = true;
	r = h2__respond(
		o->h, s->id, res,
		(o->ctl[6] & 1) ? "X-Served-By: fuzz\r\nX-A: b\r\n" : "", body);
	o->in_api = false;
	free(res);
	if (!r) {
		s->answered = true;
		s->body = body;
	}
	return r;
}

static void consume(struct owner *o, struct fstream *s, uint64_t max)
{
	uint64_t n = s->got - s->consumed;

	if (n > max)
		n = max;
	if (!n)
		return;
	o->in_api = true;
	h2__consume(o->h, s->id, n);
	o->in_api = false;
	s->consumed += n;
}

static void act_one(struct owner *o, struct fstream *s, bool final)
{
	if (s->error) {
		if (!s->answered)
			respond(o, s, s->error, false);
		consume(o, s, UINT64_MAX);
		return;
	}
	switch (s->action) {
	case A_CONTINUE:
		if (s->expect_continue && !s->continued) {
			o->in_api = true;
			if (!h2__continue(o->h, s->id))
				s->continued = true;
			h2__glitch(o->h, "fuzz", o->now);
			o->in_api = false;
		}
		/* fall through */
	case A_NOW:
		consume(o, s, UINT64_MAX);
		if (s->ended && !s->answered)
			respond(o, s, 0, true);
		break;
	case A_EAGAIN:
		consume(o, s, UINT64_MAX);
		if (!s->answered)
			respond(o, s, 0, true);
		else if (!s->ready && (final || (o->steps & 1))) {
			s->ready = true;
			o->in_api = true;
			h2__resume(o->h, s->id);
			o->in_api = false;
		}
		break;
	case A_NOBODY:
		consume(o, s, UINT64_MAX);
		if ((s->ended || final) && !s->answered)
			respond(o, s, 0, false);
		break;
	case A_RESET:
		if (!s->reset) {
			s->reset = true;
			o->in_api = true;
			h2__reset(o->h, s->id,
				  (o->ctl[6] & 2) ? NGHTTP2_INTERNAL_ERROR :
						    NGHTTP2_CANCEL);
			o->in_api = false;
		}
		break;
	case A_SLOW:
		consume(o, s, final ? UINT64_MAX : 100);
		if ((s->ended || final) && !s->answered)
			respond(o, s, 0, true);
		break;
	case A_HANG:
	case A_REFUSE:
		break;
	}
}

/* Streams that are gone: the API must shrug (and say -1 to respond). */
static void poke_gone(struct owner *o)
{
	unsigned i;

	for (i = 0; i < o->nst; i++) {
		struct fstream *s = o->st[i];

		if (!s->closed)
			continue;
		CHECK(respond(o, s, 0, true) == -1);
		o->in_api = true;
		h2__resume(o->h, s->id);
		h2__consume(o->h, s->id, 1);
		h2__reset(o->h, s->id, NGHTTP2_CANCEL);
		o->in_api = false;
		break;
	}
	o->in_api = true;
	h2__resume(o->h, 0x7ffffff1);
	h2__consume(o->h, 0x7ffffff1, 10);
	h2__reset(o->h, 0x7ffffff1, NGHTTP2_CANCEL);
	o->in_api = false;
}

static void act(struct owner *o, bool final)
{
	unsigned i;

	for (i = 0; i < o->nst; i++)
		if (!o->st[i]->closed)
			act_one(o, o->st[i], final);
	if (o->ctl[6] & 4)
		poke_gone(o);
}

/* --- one run ----------------------------------------------------------------- */

static void limits(const uint8_t *ctl, struct cfg_http2 *l, size_t *hbytes)
{
	/* config.c's defaults */
	*l = (struct cfg_http2){
		.enabled = true,
		.max_streams = 100,
		.max_inflight = 128,
		.initial_window = 65535,
		.conn_window = 1024 * 1024,
		.header_table = 4096,
		.max_headers = 100,
		.settings_timeout_ms = 10000,
		.glitch_rate = 10,
		.glitch_burst = 100,
		.control_rate = 50,
		.control_burst = 200,
		.reset_rate = 33,
		.reset_burst = 1000,
	};
	*hbytes = 32768;
	switch (ctl[2] & 3) {
	case 1: /* everything as tight as the config allows */
		*l = (struct cfg_http2){
			.enabled = true,
			.max_streams = 2,
			.max_inflight = 1,
			.initial_window = 1024,
			.conn_window = 65535,
			.header_table = 0,
			.max_headers = 4,
			.settings_timeout_ms = 100,
			.glitch_rate = 1,
			.glitch_burst = 1,
			.control_rate = 1,
			.control_burst = 1,
			.reset_rate = 1,
			.reset_burst = 1,
		};
		*hbytes = 1024;
		break;
	case 2: /* small windows, big limits */
		l->initial_window = 1024 + 1024 * (ctl[2] >> 2);
		l->conn_window = 65535 + 4096 * (ctl[2] >> 2);
		l->max_streams = 1000;
		l->max_inflight = 10000;
		l->max_headers = 1000;
		l->header_table = 65536;
		*hbytes = 1 << 20;
		break;
	case 3: /* from the input */
		l->max_streams = 1 + (ctl[2] >> 5);
		l->max_inflight = 1 + ((ctl[2] >> 2) & 7);
		l->max_headers = 4 + (ctl[2] >> 2);
		l->glitch_burst = 1 + (ctl[2] >> 3);
		l->control_burst = 1 + (ctl[2] >> 4);
		l->reset_burst = 1 + (ctl[2] >> 4);
		*hbytes = 1024 + 64 * ctl[2];
		break;
	}
}

/* The next cut of the client's bytes. */
static size_t cut(const uint8_t *ctl, unsigned step, size_t left)
{
	size_t n;

	switch (ctl[0] & 3) {
	case 0:
		n = left;
		break;
	case 1:
		n = ctl[1] + 1u;
		break;
	case 2:
		n = 1 + (ctl[1] * 131u + step * 977u) % (9u + ctl[1] * 4u);
		break;
	default:
		n = 1 + (step + ctl[1]) % 9;
		break;
	}
	return n < left ? n : left;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t zero[CTL_LEN];
	struct metrics_h2 m = { 0 };
	struct owner o = { 0 };
	struct cfg_http2 cfg;
	struct buf out = { 0 };
	size_t hbytes, pos = 0, len = size, high;
	bool dead = false;
	unsigned i, k;
	int r;

	max_level = LOG_LVL_ERROR; /* log.c: no line per glitch */
	o.ctl = zero;
	if (size >= CTL_LEN) {
		o.ctl = data + size - CTL_LEN;
		len = size - CTL_LEN;
	}
	limits(o.ctl, &cfg, &hbytes);
	o.cfg = &cfg;
	high = (o.ctl[4] & 0x7f) ? (o.ctl[4] & 0x7f) * 128u : 1u << 20;
	o.now = 1000000;
	CHECK(nghttp2_hd_inflate_new(&o.inflater) == 0);
	CHECK(nghttp2_hd_inflate_change_table_size(o.inflater, 1 << 20) == 0);

	o.h = h2__new(&cfg, hbytes, &fuzz_ops, &o, (o.ctl[5] & 1) ? NULL : &m,
		      o.now);
	CHECK(o.h != NULL);
	CHECK(send_out(&o, &out, high, true) == 0);

	for (o.steps = 0; pos < len && o.steps < MAX_STEPS; o.steps++) {
		size_t n = cut(o.ctl, o.steps, len - pos);
		/* an exact-size heap copy: ASan sees any read past it */
		uint8_t *p = malloc(n);

		CHECK(p != NULL);
		memcpy(p, data + pos, n);
		o.in_callable = true;
		r = h2__recv(o.h, p, n, o.now);
		o.in_callable = false;
		free(p);
		pos += n;
		CHECK(r == 0 || r == -1);
		if (r < 0) {
			dead = true;
			break;
		}
		act(&o, false);
		CHECK(send_out(&o, &out, high, !(o.steps & 3)) == 0);
		o.now += (o.ctl[5] >> 1) * 7u;
		if (h2__deadline(o.h) <= o.now) {
			o.in_api = true;
			h2__timeout(o.h, o.now);
			o.in_api = false;
		}
		if ((o.ctl[6] & 0x80) && o.steps == (o.ctl[6] & 0x0f)) {
			o.in_api = true;
			h2__shutdown(o.h, false);
			o.in_api = false;
		}
		(void)h2__want_write(o.h);
		(void)h2__streams(o.h);
		if (h2__done(o.h))
			break;
	}
	if (!dead && !h2__done(o.h)) {
		/* the client stopped sending: the owner finishes, the
		 * output is read */
		for (k = 0; k < 4; k++) {
			act(&o, true);
			CHECK(send_out(&o, &out, 1u << 20, true) == 0);
		}
		if (o.ctl[6] & 0x40) {
			o.in_api = true;
			h2__shutdown(o.h, true);
			o.in_api = false;
			CHECK(send_out(&o, &out, 1u << 20, true) == 0);
		}
	} else {
		CHECK(send_out(&o, &out, 1u << 20, true) == 0);
	}
	o.in_callable = true;
	o.freeing = true;
	h2__free(o.h);
	o.in_callable = false;

	for (i = 0; i < o.nst; i++) {
		CHECK(o.st[i]->closed); /* exactly once: live() checked */
		free(o.st[i]);
	}
	nghttp2_hd_inflate_del(o.inflater);
	buf__free(&out);
	return 0;
}
