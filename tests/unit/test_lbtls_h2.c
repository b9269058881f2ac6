// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The HTTP/2 session layer (tls-tier/http2/h2.c) in process, against a
 * real HTTP/2 client: libnghttp2's client session makes the frames, the
 * test owner answers through the h2.h callbacks, and the bytes go back
 * and forth in memory (pump()). Every test ends with h2__free() and checks
 * that each stream the owner took was closed exactly once.
 *
 * Covered: a GET as an HTTP/1.1 head (Host from :authority, cookies joined,
 * nothing connection-specific), :authority against Host (400), header
 * count and bytes (431), request bodies and the window opening only after
 * h2__consume(), the window of a stream reset with bytes unconsumed, a
 * response from an HTTP/1 head (names lower-cased, hop-by-hop fields gone,
 * extra lines), -EAGAIN then h2__resume(), 100-continue, refused and
 * client-reset streams, content-length against DATA, graceful shutdown
 * (and a request crossing its notice) and immediate shutdown, the glitch
 * budget (PING, empty-DATA, padding-only DATA and PRIORITY floods end in
 * GOAWAY(ENHANCE_YOUR_CALM), and a bad frame after it in the same read
 * does not kill the process), nghttp2's rapid-reset limit against what
 * reached the owner, and the SETTINGS acknowledgement deadline.
 * Frames no well-behaved client sends are written by hand (raw_frame()).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <errno.h>
#include <unistd.h>
#include <sys/wait.h>
#include <cmocka.h>

#include <nghttp2/nghttp2.h>

#include "buf.h"
#include "config.h"
#include "h2.h"
#include "http1.h"
#include "metrics.h"

#define MAXS 64 /* stream ids below 2 * MAXS */
#define T0 1000000

/* --- the owner -------------------------------------------------------------- */

struct tstream {
	int32_t id;
	int closed; /* times ops->closed was called */
	uint32_t code;
	int ended;
	int error;
	bool end_stream, has_length, expect_continue;
	size_t got, consumed;
	uint8_t body_in[8192];
	/* response body */
	const char *out;
	size_t given;
	int eagain; /* ops->read says -EAGAIN this many times first */
};

struct owner {
	struct h2 *h;
	struct tstream st[MAXS];
	int nst;
	int nreq;
	char head[8192]; /* the last request head */
	size_t head_len;
	bool refuse;
};

static struct tstream *owner_stream(struct owner *o, int32_t id)
{
	int i;

	for (i = 0; i < o->nst; i++)
		if (o->st[i].id == id)
			return &o->st[i];
	return NULL;
}

static void *on_request(void *owner, const struct h2_request *req)
{
	struct owner *o = owner;
	struct tstream *s;

	o->nreq++;
	o->head_len = 0;
	if (req->head) {
		assert_true(req->len < sizeof(o->head));
		memcpy(o->head, req->head, req->len);
		o->head_len = req->len;
	}
	o->head[o->head_len] = 0;
	if (o->refuse)
		return NULL;
	assert_true(o->nst < MAXS);
	s = &o->st[o->nst++];
	memset(s, 0, sizeof(*s));
	s->id = req->id;
	s->error = req->error;
	s->end_stream = req->end_stream;
	s->has_length = req->has_length;
	s->expect_continue = req->expect_continue;
	return s;
}

static void on_data(void *owner, void *st, const uint8_t *p, size_t n)
{
	struct tstream *s = st;

	(void)owner;
	assert_int_equal(s->closed, 0);
	assert_int_equal(s->ended, 0);
	if (s->got < sizeof(s->body_in))
		memcpy(s->body_in + s->got, p,
		       n < sizeof(s->body_in) - s->got ?
			       n :
			       sizeof(s->body_in) - s->got);
	s->got += n;
}

static void on_end(void *owner, void *st)
{
	struct tstream *s = st;

	(void)owner;
	assert_int_equal(s->closed, 0);
	s->ended++;
}

static ssize_t on_read(void *owner, void *st, uint8_t *p, size_t len, bool *eof)
{
	struct tstream *s = st;
	size_t n;

	(void)owner;
	assert_int_equal(s->closed, 0);
	assert_non_null(s->out);
	if (s->eagain) {
		s->eagain--;
		return -EAGAIN;
	}
	n = strlen(s->out) - s->given;
	if (n > len)
		n = len;
	memcpy(p, s->out + s->given, n);
	s->given += n;
	*eof = s->given == strlen(s->out);
	return n;
}

static void on_closed(void *owner, void *st, uint32_t code)
{
	struct owner *o = owner;
	struct tstream *s = st;

	s->closed++;
	s->code = code;
	/* bytes never consumed go back to the connection's window, as
	 * proxy/h2conn.c does */
	h2__consume(o->h, s->id, s->got - s->consumed);
	s->consumed = s->got;
}

static const struct h2_ops test_ops = {
	.request = on_request,
	.data = on_data,
	.end = on_end,
	.read = on_read,
	.closed = on_closed,
};

/* --- the client (libnghttp2) ------------------------------------------------ */

struct cstream {
	int status; /* the final one */
	int interim; /* 1xx heads seen */
	char fields[4096]; /* "name: value\n" of the final head */
	size_t flen;
	char data[8192];
	size_t dlen;
	bool ended;
	bool rst;
	uint32_t rst_code;
};

struct client {
	nghttp2_session *ng;
	struct cstream s[MAXS];
	int ngoaway;
	uint32_t goaway_code;
	int32_t goaway_last;
	int pings_acked;
};

static struct cstream *cs(struct client *c, int32_t id)
{
	assert_true(id > 0 && id < 2 * MAXS);
	return &c->s[id / 2];
}

static int c_on_header(nghttp2_session *ng, const nghttp2_frame *f,
		       const uint8_t *name, size_t nl, const uint8_t *value,
		       size_t vl, uint8_t flags, void *data)
{
	struct client *c = data;
	struct cstream *s = cs(c, f->hd.stream_id);

	(void)ng;
	(void)flags;
	if (nl == 7 && !memcmp(name, ":status", 7)) {
		s->status = atoi((const char *)value);
		if (s->status < 200)
			s->interim++;
		else
			s->flen = 0;
		return 0;
	}
	if (s->status >= 200 && s->flen + nl + vl + 3 < sizeof(s->fields))
		s->flen += snprintf(s->fields + s->flen,
				    sizeof(s->fields) - s->flen, "%.*s: %.*s\n",
				    (int)nl, name, (int)vl, value);
	return 0;
}

static int c_on_data(nghttp2_session *ng, uint8_t flags, int32_t id,
		     const uint8_t *p, size_t n, void *data)
{
	struct client *c = data;
	struct cstream *s = cs(c, id);

	(void)ng;
	(void)flags;
	assert_true(s->dlen + n < sizeof(s->data));
	memcpy(s->data + s->dlen, p, n);
	s->dlen += n;
	return 0;
}

static int c_on_frame(nghttp2_session *ng, const nghttp2_frame *f, void *data)
{
	struct client *c = data;

	(void)ng;
	if ((f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA) &&
	    (f->hd.flags & NGHTTP2_FLAG_END_STREAM))
		cs(c, f->hd.stream_id)->ended = true;
	if (f->hd.type == NGHTTP2_RST_STREAM) {
		cs(c, f->hd.stream_id)->rst = true;
		cs(c, f->hd.stream_id)->rst_code = f->rst_stream.error_code;
	}
	if (f->hd.type == NGHTTP2_GOAWAY) {
		c->ngoaway++;
		c->goaway_code = f->goaway.error_code;
		c->goaway_last = f->goaway.last_stream_id;
	}
	if (f->hd.type == NGHTTP2_PING && (f->hd.flags & NGHTTP2_FLAG_ACK))
		c->pings_acked++;
	return 0;
}

/* A request body: 'len' bytes of a pattern, after 'empty' empty frames. */
struct body {
	size_t len, off;
	int empty;
};

static uint8_t pattern(size_t i)
{
	return (uint8_t)('a' + i % 23);
}

static ssize_t c_read_body(nghttp2_session *ng, int32_t id, uint8_t *buf,
			   size_t len, uint32_t *flags,
			   nghttp2_data_source *src, void *data)
{
	struct body *b = src->ptr;
	size_t i, n;

	(void)ng;
	(void)id;
	(void)data;
	if (b->empty) {
		b->empty--;
		return 0; /* an empty DATA frame */
	}
	n = b->len - b->off < len ? b->len - b->off : len;
	for (i = 0; i < n; i++)
		buf[i] = pattern(b->off + i);
	b->off += n;
	if (b->off == b->len)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return n;
}

/* --- both ends ---------------------------------------------------------------- */

struct pair {
	struct cfg_http2 cfg;
	size_t hbytes;
	struct metrics_h2 m;
	struct owner o;
	struct client c;
	struct h2 *h;
	struct buf out;
	uint64_t now;
	bool dead; /* h2__recv said -1 */
};

/* The pair of the running test, for teardown() when a check fails. */
static struct pair *cur;

static void cfg_defaults(struct cfg_http2 *l)
{
	/* config.c's defaults (config__defaults) */
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
}

static struct pair *pair_new(const struct cfg_http2 *l, size_t hbytes)
{
	struct pair *p = calloc(1, sizeof(*p));
	nghttp2_session_callbacks *cb;

	assert_non_null(p);
	if (l)
		p->cfg = *l;
	else
		cfg_defaults(&p->cfg);
	p->hbytes = hbytes ? hbytes : 32768;
	p->now = T0;
	p->h = h2__new(&p->cfg, p->hbytes, &test_ops, &p->o, &p->m, p->now);
	assert_non_null(p->h);
	p->o.h = p->h;
	assert_int_equal(nghttp2_session_callbacks_new(&cb), 0);
	nghttp2_session_callbacks_set_on_header_callback(cb, c_on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb,
								  c_on_data);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, c_on_frame);
	assert_int_equal(nghttp2_session_client_new(&p->c.ng, cb, &p->c), 0);
	nghttp2_session_callbacks_del(cb);
	assert_int_equal(
		nghttp2_submit_settings(p->c.ng, NGHTTP2_FLAG_NONE, NULL, 0),
		0);
	cur = p;
	return p;
}

/* Client bytes to the server: false when there were none. */
static bool client_to_server(struct pair *p)
{
	const uint8_t *d;
	ssize_t n;
	bool any = false;

	while ((n = nghttp2_session_mem_send(p->c.ng, &d)) > 0) {
		any = true;
		if (!p->dead && h2__recv(p->h, d, n, p->now) < 0)
			p->dead = true;
	}
	assert_true(n == 0);
	return any;
}

static bool server_to_client(struct pair *p)
{
	ssize_t n;
	bool any;

	assert_int_equal(h2__send(p->h, &p->out, 1 << 20), 0);
	any = buf_len(&p->out) > 0;
	if (any) {
		n = nghttp2_session_mem_recv(p->c.ng,
					     (uint8_t *)p->out.d + p->out.s,
					     buf_len(&p->out));
		assert_true(n == (ssize_t)buf_len(&p->out));
		buf_consume(&p->out, n);
	}
	return any;
}

/* Bytes both ways until neither side has any. */
static void pump(struct pair *p)
{
	int i;
	bool a, b;

	for (i = 0; i < 1000; i++) {
		a = client_to_server(p);
		b = server_to_client(p);
		if (!a && !b)
			return;
	}
	fail_msg("pump: no quiet after 1000 rounds");
}

static void pair_release(struct pair *p)
{
	if (p->h)
		h2__free(p->h);
	nghttp2_session_del(p->c.ng);
	buf__free(&p->out);
	free(p);
	cur = NULL;
}

static int teardown(void **state)
{
	(void)state;
	if (cur)
		pair_release(cur);
	return 0;
}

/* h2__free, then each stream the owner took was closed exactly once. */
static void pair_free(struct pair *p)
{
	int i;

	h2__free(p->h);
	p->h = NULL;
	for (i = 0; i < p->o.nst; i++)
		if (p->o.st[i].closed != 1)
			fail_msg("stream %d: ops->closed called %d times "
				 "(h2.h: h2__free() closes every open stream)",
				 p->o.st[i].id, p->o.st[i].closed);
	pair_release(p);
}

#define NV(n, v)                                                              \
	{                                                                     \
		(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, sizeof(v) - 1, \
			NGHTTP2_NV_FLAG_NONE                                  \
	}

static int32_t submit(struct pair *p, const nghttp2_nv *nv, size_t n,
		      struct body *b)
{
	nghttp2_data_provider dp = { .source.ptr = b,
				     .read_callback = c_read_body };
	int32_t id = nghttp2_submit_request(p->c.ng, NULL, nv, n,
					    b ? &dp : NULL, NULL);

	assert_true(id > 0);
	return id;
}

static int32_t get(struct pair *p, const char *path)
{
	nghttp2_nv nv[] = {
		NV(":method", "GET"),
		NV(":scheme", "https"),
		NV(":authority", "example.com"),
		{ (uint8_t *)":path", (uint8_t *)path, 5, strlen(path),
		  NGHTTP2_NV_FLAG_NONE },
	};

	return submit(p, nv, 4, NULL);
}

/* The owner passed 'n' more body bytes of stream 'id' on. */
static void consume(struct pair *p, int32_t id, size_t n)
{
	struct tstream *s = owner_stream(&p->o, id);

	assert_non_null(s);
	s->consumed += n;
	assert_true(s->consumed <= s->got);
	h2__consume(p->h, id, n);
}

/* Answer a stream from an HTTP/1 response head. */
static int respond(struct pair *p, int32_t id, const char *head,
		   const char *extra, const char *body)
{
	static const struct http1_span m = { "GET", 3 };
	struct http1_response res;
	struct tstream *s = owner_stream(&p->o, id);
	int n = strlen(head);

	assert_int_equal(http1__parse_response(head, n, n, m, &res), n);
	if (s)
		s->out = body;
	return h2__respond(p->h, id, &res, extra, body != NULL);
}

static const char ok_head[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";

/* Every stream the owner still has gets its answer. */
static void answer_all(struct pair *p)
{
	int i;

	for (i = 0; i < p->o.nst; i++)
		if (!p->o.st[i].closed)
			respond(p, p->o.st[i].id, ok_head, "", "hello");
	pump(p);
}

/* The error code of the first GOAWAY in raw server output, or -1. */
static int64_t goaway_in(const struct buf *b)
{
	const uint8_t *f = (const uint8_t *)b->d + b->s;
	size_t left = buf_len(b), len;

	while (left >= 9) {
		len = (size_t)f[0] << 16 | (size_t)f[1] << 8 | f[2];
		if (left < 9 + len)
			break;
		if (f[3] == NGHTTP2_GOAWAY && len >= 8)
			return (int64_t)f[13] << 24 | f[14] << 16 | f[15] << 8 |
			       f[16];
		f += 9 + len;
		left -= 9 + len;
	}
	return -1;
}

/* --- requests ----------------------------------------------------------------- */

static void test_get_becomes_http1_head(void **state)
{
	struct pair *p = pair_new(NULL, 0);
	nghttp2_nv nv[] = {
		NV(":method", "GET"),
		NV(":scheme", "https"),
		NV(":authority", "example.com"),
		NV(":path", "/p?q=1"),
		NV("user-agent", "t/1"),
		NV("cookie", "a=1"),
		NV("accept", "*/*"),
		NV("cookie", "b=2"),
	};
	struct http1_request req;
	const struct http1_header *c;
	struct tstream *s;
	int32_t id;

	(void)state;
	id = submit(p, nv, 8, NULL);
	pump(p);
	assert_int_equal(p->o.nreq, 1);
	s = owner_stream(&p->o, id);
	assert_non_null(s);
	assert_int_equal(s->error, 0);
	assert_true(s->end_stream);
	assert_false(s->has_length);
	assert_string_equal(p->o.head, "GET /p?q=1 HTTP/1.1\r\n"
				       "Host: example.com\r\n"
				       "user-agent: t/1\r\n"
				       "accept: */*\r\n"
				       "Cookie: a=1; b=2\r\n"
				       "\r\n");
	/* and the one HTTP/1 parser takes it as it is */
	assert_int_equal(
		http1__parse_request(p->o.head, p->o.head_len, NULL, &req),
		(int)p->o.head_len);
	assert_int_equal(req.host.len, 11);
	c = http1__find(req.headers, req.num_headers, "cookie");
	assert_non_null(c);
	assert_int_equal(c->value.len, 8);
	assert_memory_equal(c->value.p, "a=1; b=2", 8);
	assert_int_equal(respond(p, id, ok_head, "", "hello"), 0);
	pump(p);
	assert_int_equal(p->c.s[id / 2].status, 200);
	assert_true(p->c.s[id / 2].ended);
	assert_int_equal(s->closed, 1);
	assert_int_equal(s->code, 0);
	assert_int_equal(p->m.streams, 1);
	pair_free(p);
}

/* nghttp2 makes these malformed (RFC 9113 8.2.2): the owner never sees
 * them as requests, the client gets RST_STREAM(PROTOCOL_ERROR). */
static void test_connection_specific_fields_refused(void **state)
{
	struct pair *p = pair_new(NULL, 0);
	nghttp2_nv conn[] = { NV(":method", "GET"), NV(":scheme", "https"),
			      NV(":authority", "e.x"), NV(":path", "/"),
			      NV("connection", "keep-alive") };
	nghttp2_nv te[] = { NV(":method", "GET"), NV(":scheme", "https"),
			    NV(":authority", "e.x"), NV(":path", "/"),
			    NV("te", "gzip") };
	nghttp2_nv tet[] = { NV(":method", "GET"), NV(":scheme", "https"),
			     NV(":authority", "e.x"), NV(":path", "/"),
			     NV("te", "trailers") };
	int32_t a, b, c;

	(void)state;
	a = submit(p, conn, 5, NULL);
	b = submit(p, te, 5, NULL);
	c = submit(p, tet, 5, NULL);
	pump(p);
	assert_true(p->c.s[a / 2].rst);
	assert_int_equal(p->c.s[a / 2].rst_code, NGHTTP2_PROTOCOL_ERROR);
	assert_true(p->c.s[b / 2].rst);
	assert_int_equal(p->c.s[b / 2].rst_code, NGHTTP2_PROTOCOL_ERROR);
	/* "te: trailers" is the one allowed */
	assert_int_equal(p->o.nreq, 1);
	assert_non_null(owner_stream(&p->o, c));
	assert_non_null(strstr(p->o.head, "te: trailers\r\n"));
	assert_null(strcasestr(p->o.head, "connection"));
	answer_all(p);
	pair_free(p);
}

static void test_authority_host_mismatch_400(void **state)
{
	struct pair *p = pair_new(NULL, 0);
	nghttp2_nv diff[] = { NV(":method", "GET"), NV(":scheme", "https"),
			      NV(":authority", "a.example"), NV(":path", "/"),
			      NV("host", "b.example") };
	nghttp2_nv same[] = { NV(":method", "GET"), NV(":scheme", "https"),
			      NV(":authority", "a.example"), NV(":path", "/"),
			      NV("host", "A.Example") };
	nghttp2_nv host_only[] = { NV(":method", "GET"), NV(":scheme", "https"),
				   NV(":path", "/h"), NV("host", "h.example") };
	int32_t a, b, c;

	(void)state;
	a = submit(p, diff, 5, NULL);
	pump(p);
	assert_int_equal(owner_stream(&p->o, a)->error, 400);
	assert_int_equal(respond(p, a,
				 "HTTP/1.1 400 Bad Request\r\n"
				 "Content-Length: 0\r\n\r\n",
				 "", NULL),
			 0);
	b = submit(p, same, 5, NULL);
	pump(p);
	assert_int_equal(p->c.s[a / 2].status, 400);
	assert_int_equal(owner_stream(&p->o, b)->error, 0);
	assert_non_null(strstr(p->o.head, "Host: a.example\r\n"));
	c = submit(p, host_only, 4, NULL);
	pump(p);
	assert_int_equal(owner_stream(&p->o, c)->error, 0);
	assert_string_equal(p->o.head,
			    "GET /h HTTP/1.1\r\nHost: h.example\r\n\r\n");
	answer_all(p);
	pair_free(p);
}

static void test_header_count_and_bytes_431(void **state)
{
	struct cfg_http2 l;
	struct pair *p;
	nghttp2_nv nv[24];
	static char names[20][8];
	static char big[2000];
	int32_t ok, many, large, far;
	int i;

	(void)state;
	cfg_defaults(&l);
	l.max_headers = 10;
	p = pair_new(&l, 1024);
	nv[0] = (nghttp2_nv)NV(":method", "GET");
	nv[1] = (nghttp2_nv)NV(":scheme", "https");
	nv[2] = (nghttp2_nv)NV(":authority", "e.x");
	nv[3] = (nghttp2_nv)NV(":path", "/");
	for (i = 0; i < 20; i++) {
		snprintf(names[i], sizeof(names[i]), "x-h%02d", i);
		nv[4 + i] = (nghttp2_nv){ (uint8_t *)names[i], (uint8_t *)"v",
					  5, 1, NGHTTP2_NV_FLAG_NONE };
	}
	ok = submit(p, nv, 4 + 4, NULL); /* 8 fields: under 10 */
	many = submit(p, nv, 4 + 12, NULL); /* 16: over, under twice */
	far = submit(p, nv, 4 + 20, NULL); /* 24: past twice, a bomb */
	memset(big, 'b', sizeof(big));
	nv[4] = (nghttp2_nv){ (uint8_t *)"x-big", (uint8_t *)big, 5,
			      sizeof(big), NGHTTP2_NV_FLAG_NONE };
	large = submit(p, nv, 5, NULL);
	pump(p);
	assert_int_equal(owner_stream(&p->o, ok)->error, 0);
	assert_int_equal(owner_stream(&p->o, many)->error, 431);
	assert_int_equal(owner_stream(&p->o, large)->error, 431);
	/* decoding stopped: reset by nghttp2, never handed to the owner */
	assert_null(owner_stream(&p->o, far));
	assert_int_equal(p->m.limited.headers, 3);
	answer_all(p);
	pair_free(p);
}

/* --- request bodies ------------------------------------------------------------ */

static void test_body_window_opens_on_consume(void **state)
{
	struct cfg_http2 l;
	struct pair *p;
	struct body b = { .len = 5000 };
	nghttp2_nv nv[] = { NV(":method", "POST"), NV(":scheme", "https"),
			    NV(":authority", "e.x"), NV(":path", "/up"),
			    NV("content-length", "5000") };
	struct tstream *s;
	int32_t id;
	size_t i, last;

	(void)state;
	cfg_defaults(&l);
	l.initial_window = 1024;
	l.conn_window = 65535;
	p = pair_new(&l, 0);
	pump(p); /* SETTINGS both ways: the client knows the 1024 */
	id = submit(p, nv, 5, &b);
	pump(p);
	s = owner_stream(&p->o, id);
	assert_non_null(s);
	assert_true(s->has_length);
	assert_false(s->end_stream);
	assert_int_equal(s->got, 1024);
	pump(p); /* nothing consumed: nothing more */
	assert_int_equal(s->got, 1024);
	for (i = 0; i < 20 && !s->ended; i++) {
		last = s->got;
		consume(p, id, s->got - s->consumed);
		pump(p);
		/* more came, never more than the window */
		assert_true(s->got > last);
		assert_true(s->got - s->consumed <= 1024);
	}
	assert_int_equal(s->ended, 1);
	assert_int_equal(s->got, 5000);
	for (i = 0; i < 5000; i++)
		if (s->body_in[i] != pattern(i))
			fail_msg("body byte %zu differs", i);
	answer_all(p);
	pair_free(p);
}

/*
 * A stream reset by the client while its bytes wait in the owner (a slow
 * backend): the owner drops them and, in ops->closed, consumes them for
 * the id that is gone (as proxy/h2conn.c does). The connection's window
 * must come back, or the connection stalls.
 */
static void test_window_back_after_reset(void **state)
{
	struct cfg_http2 l;
	struct pair *p;
	struct body b1 = { .len = 60000 }, b2 = { .len = 60000 };
	nghttp2_nv nv[] = { NV(":method", "POST"), NV(":scheme", "https"),
			    NV(":authority", "e.x"), NV(":path", "/up") };
	struct tstream *s1, *s2;
	int32_t id1, id2;
	int i;

	(void)state;
	cfg_defaults(&l);
	l.conn_window = 65535;
	p = pair_new(&l, 0);
	pump(p);
	id1 = submit(p, nv, 4, &b1);
	pump(p);
	s1 = owner_stream(&p->o, id1);
	assert_int_equal(s1->got, 60000);
	nghttp2_submit_rst_stream(p->c.ng, NGHTTP2_FLAG_NONE, id1,
				  NGHTTP2_CANCEL);
	pump(p);
	assert_int_equal(s1->closed, 1);
	assert_int_equal(s1->code, NGHTTP2_CANCEL);
	id2 = submit(p, nv, 4, &b2);
	s2 = NULL;
	for (i = 0; i < 50; i++) {
		pump(p);
		s2 = owner_stream(&p->o, id2);
		if (!s2 || s2->ended)
			break;
		consume(p, id2, s2->got - s2->consumed);
	}
	assert_non_null(s2);
	if (!s2->ended)
		fail_msg("stream %d stalled at %zu of 60000 bytes: the %d "
			 "bytes of the reset stream %d never went back to the "
			 "connection window",
			 id2, s2->got, 60000, id1);
	answer_all(p);
	pair_free(p);
}

static void test_content_length_mismatch(void **state)
{
	struct pair *p = pair_new(NULL, 0);
	struct body b = { .len = 5 };
	nghttp2_nv nv[] = { NV(":method", "POST"), NV(":scheme", "https"),
			    NV(":authority", "e.x"), NV(":path", "/"),
			    NV("content-length", "10") };
	struct tstream *s;
	int32_t id;

	(void)state;
	id = submit(p, nv, 5, &b);
	pump(p);
	s = owner_stream(&p->o, id);
	assert_non_null(s);
	assert_int_equal(s->ended, 0); /* never a whole body */
	assert_int_equal(s->closed, 1);
	assert_int_equal(s->code, NGHTTP2_PROTOCOL_ERROR);
	assert_true(p->c.s[id / 2].rst);
	pair_free(p);
}

static void test_expect_continue(void **state)
{
	struct pair *p = pair_new(NULL, 0);
	struct body b = { .len = 4 };
	nghttp2_nv nv[] = {
		NV(":method", "POST"),	      NV(":scheme", "https"),
		NV(":authority", "e.x"),      NV(":path", "/"),
		NV("expect", "100-continue"), NV("content-length", "4")
	};
	struct tstream *s;
	int32_t id;

	(void)state;
	id = submit(p, nv, 6, &b);
	pump(p);
	s = owner_stream(&p->o, id);
	assert_true(s->expect_continue);
	assert_null(strcasestr(p->o.head, "expect"));
	assert_int_equal(h2__continue(p->h, id), 0);
	pump(p);
	assert_int_equal(p->c.s[id / 2].interim, 1);
	assert_int_equal(s->ended, 1);
	assert_int_equal(respond(p, id, ok_head, "", "hello"), 0);
	pump(p);
	assert_int_equal(p->c.s[id / 2].status, 200);
	assert_int_equal(p->c.s[id / 2].dlen, 5);
	pair_free(p);
}

/* --- responses ------------------------------------------------------------------ */

static void test_response_from_http1_head(void **state)
{
	struct pair *p = pair_new(NULL, 0);
	struct cstream *c;
	int32_t id;

	(void)state;
	id = get(p, "/");
	pump(p);
	assert_int_equal(respond(p, id,
				 "HTTP/1.1 200 OK\r\n"
				 "Content-Type: text/plain\r\n"
				 "Connection: keep-alive, X-Hop\r\n"
				 "Keep-Alive: timeout=5\r\n"
				 "Transfer-Encoding: chunked\r\n"
				 "X-Hop: 1\r\n"
				 "Proxy-Connection: keep-alive\r\n"
				 "Upgrade: h2c\r\n"
				 "X-Custom-Header: Yes\r\n"
				 "Set-Cookie: a=1\r\n"
				 "Set-Cookie: b=2\r\n\r\n",
				 "X-Served-By: lb1\r\nX-Second: 2\r\n",
				 "hello world"),
			 0);
	pump(p);
	c = &p->c.s[id / 2];
	assert_int_equal(c->status, 200);
	c->fields[c->flen] = 0;
	assert_string_equal(c->fields, "content-type: text/plain\n"
				       "x-custom-header: Yes\n"
				       "set-cookie: a=1\n"
				       "set-cookie: b=2\n"
				       "x-served-by: lb1\n"
				       "x-second: 2\n");
	assert_int_equal(c->dlen, 11);
	assert_memory_equal(c->data, "hello world", 11);
	assert_true(c->ended);
	pair_free(p);
}

static void test_eagain_then_resume(void **state)
{
	struct pair *p = pair_new(NULL, 0);
	struct tstream *s;
	int32_t id;

	(void)state;
	id = get(p, "/slow");
	pump(p);
	s = owner_stream(&p->o, id);
	s->eagain = 1;
	assert_int_equal(respond(p, id, ok_head, "", "hello"), 0);
	s->eagain = 1; /* respond() set out */
	pump(p);
	assert_int_equal(p->c.s[id / 2].status, 200);
	assert_int_equal(p->c.s[id / 2].dlen, 0);
	assert_false(p->c.s[id / 2].ended);
	assert_int_equal(s->closed, 0);
	pump(p); /* nothing happens without resume */
	assert_int_equal(p->c.s[id / 2].dlen, 0);
	h2__resume(p->h, id);
	pump(p);
	assert_int_equal(p->c.s[id / 2].dlen, 5);
	assert_true(p->c.s[id / 2].ended);
	assert_int_equal(s->closed, 1);
	assert_int_equal(s->code, 0);
	pair_free(p);
}

static void test_refused_and_reset_streams(void **state)
{
	struct pair *p = pair_new(NULL, 0);
	struct tstream *s;
	int32_t a, b;

	(void)state;
	p->o.refuse = true;
	a = get(p, "/refused");
	pump(p);
	assert_int_equal(p->o.nreq, 1);
	assert_true(p->c.s[a / 2].rst);
	assert_int_equal(p->c.s[a / 2].rst_code, NGHTTP2_REFUSED_STREAM);
	p->o.refuse = false;
	b = get(p, "/reset");
	pump(p);
	s = owner_stream(&p->o, b);
	assert_non_null(s);
	nghttp2_submit_rst_stream(p->c.ng, NGHTTP2_FLAG_NONE, b,
				  NGHTTP2_CANCEL);
	pump(p);
	assert_int_equal(s->closed, 1);
	assert_int_equal(s->code, NGHTTP2_CANCEL);
	assert_int_equal(respond(p, b, ok_head, "", "hello"), -1);
	/* the owner resets one of its own */
	b = get(p, "/ours");
	pump(p);
	h2__reset(p->h, b, NGHTTP2_INTERNAL_ERROR);
	pump(p);
	assert_true(p->c.s[b / 2].rst);
	assert_int_equal(p->c.s[b / 2].rst_code, NGHTTP2_INTERNAL_ERROR);
	assert_int_equal(owner_stream(&p->o, b)->closed, 1);
	pair_free(p);
}

/* --- shutdown ----------------------------------------------------------------- */

/* One frame appended to 'b', as a client would write it. */
static void raw_frame(struct buf *b, uint8_t type, uint8_t flags, int32_t id,
		      const void *payload, size_t len)
{
	uint8_t h[9] = { len >> 16, len >> 8, len,     type, flags,
			 id >> 24,  id >> 16, id >> 8, id };

	assert_int_equal(buf__add(b, h, 9), 0);
	if (len)
		assert_int_equal(buf__add(b, payload, len), 0);
}

/* A request's HEADERS (literal fields, no indexing, so the server's HPACK
 * table stays as the client session left it). */
static void raw_headers(struct buf *b, int32_t id, uint8_t flags)
{
	nghttp2_hd_deflater *d;
	nghttp2_nv nv[] = { NV(":method", "POST"), NV(":scheme", "https"),
			    NV(":authority", "e.x"), NV(":path", "/late"),
			    NV("user-agent", "raw") };
	uint8_t f[256];
	ssize_t n;
	size_t i;

	for (i = 0; i < 5; i++)
		nv[i].flags = NGHTTP2_NV_FLAG_NO_INDEX;
	assert_int_equal(nghttp2_hd_deflate_new(&d, 0), 0);
	n = nghttp2_hd_deflate_hd(d, f, sizeof(f), nv, 5);
	nghttp2_hd_deflate_del(d);
	assert_true(n > 0);
	raw_frame(b, NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS | flags, id, f,
		  n);
}

static void raw_get(struct pair *p, int32_t id)
{
	struct buf b = { 0 };

	raw_headers(&b, id, NGHTTP2_FLAG_END_STREAM);
	h2__recv(p->h, (uint8_t *)b.d + b.s, buf_len(&b), p->now);
	buf__free(&b);
}

static void test_shutdown_graceful(void **state)
{
	struct pair *p = pair_new(NULL, 0);
	struct tstream *s;
	int32_t id;

	(void)state;
	id = get(p, "/open");
	pump(p);
	h2__shutdown(p->h, false);
	pump(p);
	/* the notice, then after the PING round trip the last id */
	assert_int_equal(p->c.ngoaway, 2);
	assert_int_equal(p->c.goaway_code, NGHTTP2_NO_ERROR);
	assert_int_equal(p->c.goaway_last, id);
	assert_false(h2__done(p->h));
	/* a stream above the last id is not taken */
	raw_get(p, id + 4);
	assert_int_equal(p->o.nreq, 1);
	/* the open one finishes, then the connection is done */
	assert_int_equal(respond(p, id, ok_head, "", "hello"), 0);
	server_to_client(p);
	s = owner_stream(&p->o, id);
	assert_int_equal(s->closed, 1);
	assert_true(p->c.s[id / 2].ended);
	assert_true(h2__done(p->h));
	pair_free(p);
}

/*
 * A request already on its way when the notice leaves: the client has not
 * seen it, so the stream is one the final GOAWAY covers. It must be served
 * (or refused with REFUSED_STREAM so the client retries it), not dropped.
 */
static void test_shutdown_stream_in_flight(void **state)
{
	struct pair *p = pair_new(NULL, 0);
	struct tstream *s;
	int32_t a, b;
	int i;

	(void)state;
	a = get(p, "/first");
	pump(p);
	h2__shutdown(p->h, false);
	b = get(p, "/crossing");
	client_to_server(p); /* b reaches the server after the notice */
	pump(p);
	for (i = 0; i < p->o.nst; i++) {
		s = &p->o.st[i];
		if (!s->closed)
			respond(p, s->id, ok_head, "", "hello");
	}
	pump(p);
	assert_true(p->c.s[a / 2].ended);
	if (!(p->c.s[b / 2].ended ||
	      (p->c.s[b / 2].rst &&
	       p->c.s[b / 2].rst_code == NGHTTP2_REFUSED_STREAM) ||
	      p->c.goaway_last < b))
		fail_msg("stream %d: neither answered, refused nor above the "
			 "GOAWAY's last id (%d); requests seen by the owner: "
			 "%d",
			 b, p->c.goaway_last, p->o.nreq);
	assert_true(h2__done(p->h));
	pair_free(p);
}

static void test_shutdown_now(void **state)
{
	struct pair *p = pair_new(NULL, 0);
	int32_t id;

	(void)state;
	id = get(p, "/open");
	pump(p);
	assert_int_equal(h2__streams(p->h), 1);
	h2__shutdown(p->h, true);
	pump(p);
	assert_int_equal(p->c.ngoaway, 1);
	assert_int_equal(p->c.goaway_code, NGHTTP2_NO_ERROR);
	assert_true(h2__done(p->h));
	assert_true(owner_stream(&p->o, id)->closed <= 1);
	pair_free(p); /* h2.h: every open stream closed, exactly once */
}

/* --- defences ---------------------------------------------------------------- */

static struct pair *budget_pair(void)
{
	struct cfg_http2 l;

	cfg_defaults(&l);
	l.control_burst = 4; /* the client's SETTINGS takes one */
	l.glitch_burst = 4;
	return pair_new(&l, 0);
}

static void ping(struct pair *p, int n)
{
	uint8_t opaque[8] = { 0 };
	int i;

	for (i = 0; i < n; i++) {
		opaque[0] = i;
		assert_int_equal(
			nghttp2_submit_ping(p->c.ng, NGHTTP2_FLAG_NONE, opaque),
			0);
	}
}

static void test_glitch_budget_ping_flood(void **state)
{
	struct pair *p = budget_pair();

	(void)state;
	pump(p);
	ping(p, 5); /* 3 free, 2 glitches of 4 */
	pump(p);
	assert_int_equal(p->c.ngoaway, 0);
	assert_false(p->dead);
	assert_int_equal(p->c.pings_acked, 5);
	ping(p, 20);
	pump(p);
	assert_true(p->dead);
	assert_int_equal(p->c.ngoaway, 1);
	assert_int_equal(p->c.goaway_code, NGHTTP2_ENHANCE_YOUR_CALM);
	assert_int_equal(p->m.limited.glitches, 1);
	assert_true(h2__done(p->h));
	pair_free(p);
}

static void test_glitch_budget_empty_data(void **state)
{
	struct pair *p = budget_pair();
	struct body b = { .len = 1, .empty = 30 };
	nghttp2_nv nv[] = { NV(":method", "POST"), NV(":scheme", "https"),
			    NV(":authority", "e.x"), NV(":path", "/") };
	int32_t id;

	(void)state;
	id = submit(p, nv, 4, &b);
	pump(p);
	assert_true(p->dead);
	assert_int_equal(p->c.goaway_code, NGHTTP2_ENHANCE_YOUR_CALM);
	assert_int_equal(owner_stream(&p->o, id)->ended, 0);
	pair_free(p);
}

/*
 * nghttp2's rapid-reset limiter (reset_burst, reset_rate) answers with a
 * GOAWAY naming the last stream it took. Streams above it are ones the
 * client may retry elsewhere (RFC 9113 6.8): none of them may have reached
 * the owner (an upstream), and no later GOAWAY may name a higher id.
 */
static void test_rapid_reset_limit(void **state)
{
	struct cfg_http2 l;
	struct pair *p;
	nghttp2_nv nv[] = { NV(":method", "POST"), NV(":scheme", "https"),
			    NV(":authority", "e.x"), NV(":path", "/rr"),
			    NV("user-agent", "rr") };
	struct buf read = { 0 };
	const uint8_t *d;
	int32_t id, highest = 0, first_last;
	ssize_t n;
	int i;

	(void)state;
	cfg_defaults(&l);
	l.reset_burst = 3;
	l.reset_rate = 1;
	p = pair_new(&l, 0);
	pump(p);
	for (i = 0; i < 20; i++) {
		id = nghttp2_submit_headers(p->c.ng, NGHTTP2_FLAG_NONE, -1,
					    NULL, nv, 5, NULL);
		assert_true(id > 0);
		/* the HEADERS leave before the reset (nghttp2 would cancel
		 * both otherwise) */
		while ((n = nghttp2_session_mem_send(p->c.ng, &d)) > 0)
			assert_int_equal(buf__add(&read, d, n), 0);
		assert_int_equal(nghttp2_submit_rst_stream(p->c.ng,
							   NGHTTP2_FLAG_NONE,
							   id, NGHTTP2_CANCEL),
				 0);
		while ((n = nghttp2_session_mem_send(p->c.ng, &d)) > 0)
			assert_int_equal(buf__add(&read, d, n), 0);
	}
	/* one read's worth, as a socket would give it */
	h2__recv(p->h, (uint8_t *)read.d + read.s, buf_len(&read), p->now);
	buf__free(&read);
	server_to_client(p);
	assert_true(p->c.ngoaway >= 1);
	first_last = p->c.goaway_last;
	for (i = 0; i < p->o.nst; i++)
		if (p->o.st[i].id > highest)
			highest = p->o.st[i].id;
	/* a connection error afterwards: its GOAWAY names the last id too */
	nghttp2_submit_ping(p->c.ng, NGHTTP2_FLAG_NONE, NULL);
	pump(p);
	if (highest > first_last)
		fail_msg("GOAWAY(%u) says streams above %d were not processed, "
			 "but the owner was handed streams up to %d",
			 p->c.goaway_code, first_last, highest);
	assert_true(p->c.goaway_last <= first_last);
	pair_free(p);
}

/* The same with DATA frames that carry only padding (a pad length of 0):
 * no data either, so a flood of them must cost the same. */
static void test_glitch_budget_padding_only_data(void **state)
{
	struct pair *p = budget_pair();
	struct buf b = { 0 };
	uint8_t pad0 = 0;
	int i;

	(void)state;
	pump(p);
	raw_headers(&b, 1, 0);
	for (i = 0; i < 30; i++)
		raw_frame(&b, NGHTTP2_DATA, NGHTTP2_FLAG_PADDED, 1, &pad0, 1);
	h2__recv(p->h, (uint8_t *)b.d + b.s, buf_len(&b), p->now);
	buf__free(&b);
	server_to_client(p);
	if (p->c.goaway_code != NGHTTP2_ENHANCE_YOUR_CALM)
		fail_msg("30 DATA frames of padding only: %d GOAWAY, glitch "
			 "events %llu",
			 p->c.ngoaway, (unsigned long long)p->m.glitch_events);
	answer_all(p);
	pair_free(p);
}

/*
 * PRIORITY frames are control frames of the allowance (h2.c counts them
 * in on_frame_recv): a flood of them spends the budget as a PING flood
 * does. (We send SETTINGS_NO_RFC7540_PRIORITIES=1; nghttp2 may drop them
 * before any callback, and then nothing counts them.)
 */
static void test_glitch_budget_priority_flood(void **state)
{
	struct pair *p = budget_pair();
	struct buf b = { 0 };
	uint8_t pri[5] = { 0, 0, 0, 0, 15 };
	int i;

	(void)state;
	pump(p);
	for (i = 0; i < 100; i++) {
		pri[3] = 1; /* depends on stream 1 */
		raw_frame(&b, NGHTTP2_PRIORITY, 0, 3 + 2 * i, pri, 5);
	}
	h2__recv(p->h, (uint8_t *)b.d + b.s, buf_len(&b), p->now);
	buf__free(&b);
	server_to_client(p);
	if (p->c.ngoaway != 1 || p->c.goaway_code != NGHTTP2_ENHANCE_YOUR_CALM)
		fail_msg("100 PRIORITY frames: %d GOAWAY (code %u), glitch "
			 "events %llu: the flood was not counted",
			 p->c.ngoaway, p->c.goaway_code,
			 (unsigned long long)p->m.glitch_events);
	pair_free(p);
}

/*
 * The glitch budget runs out inside nghttp2's callbacks; the rest of the
 * same read must not reach nghttp2 as if nothing happened. Here a bad
 * frame follows in the same read (a PING on a stream): nghttp2 1.52 then
 * aborts on assert(iframe->state == NGHTTP2_IB_IGN_ALL) (its PR #2509)
 * when the session was terminated from a callback. Run in a child so that
 * an abort fails this test only.
 */
static void test_glitch_goaway_then_bad_frame(void **state)
{
	struct buf b = { 0 };
	struct pair *p;
	pid_t pid;
	int i, status;

	(void)state;
	p = budget_pair();
	pump(p);
	raw_headers(&b, 1, 0);
	for (i = 0; i < 10; i++)
		raw_frame(&b, NGHTTP2_DATA, 0, 1, NULL, 0);
	raw_frame(&b, NGHTTP2_PING, 0, 1, NULL, 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		bool dead = h2__recv(p->h, (uint8_t *)b.d + b.s, buf_len(&b),
				     p->now) < 0;
		_exit(dead && p->m.limited.glitches == 1 ? 0 : 3);
	}
	buf__free(&b);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		fail_msg("h2__recv died of signal %d (empty DATA flood, then a "
			 "PING on stream 1, in one read)",
			 WTERMSIG(status));
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	pair_free(p);
}

static void test_settings_ack_deadline(void **state)
{
	struct pair *p = pair_new(NULL, 0);
	struct buf lost = { 0 };

	(void)state;
	/* acknowledged: no deadline */
	pump(p);
	assert_int_equal(h2__deadline(p->h), UINT64_MAX);
	pair_free(p);

	p = pair_new(NULL, 0);
	client_to_server(p);
	/* our SETTINGS never reach the client */
	assert_int_equal(h2__send(p->h, &lost, 1 << 20), 0);
	assert_true(buf_len(&lost) > 0);
	assert_int_equal(h2__deadline(p->h), T0 + 10000);
	h2__timeout(p->h, T0 + 9999);
	assert_false(h2__done(p->h));
	assert_int_equal(goaway_in(&lost), -1);
	buf_consume(&lost, buf_len(&lost));
	h2__timeout(p->h, T0 + 10000);
	assert_int_equal(p->m.limited.settings_timeout, 1);
	assert_int_equal(h2__send(p->h, &lost, 1 << 20), 0);
	assert_int_equal(goaway_in(&lost), NGHTTP2_SETTINGS_TIMEOUT);
	buf__free(&lost);
	assert_true(h2__done(p->h));
	pair_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_get_becomes_http1_head,
					  teardown),
		cmocka_unit_test_teardown(
			test_connection_specific_fields_refused, teardown),
		cmocka_unit_test_teardown(test_authority_host_mismatch_400,
					  teardown),
		cmocka_unit_test_teardown(test_header_count_and_bytes_431,
					  teardown),
		cmocka_unit_test_teardown(test_body_window_opens_on_consume,
					  teardown),
		cmocka_unit_test_teardown(test_window_back_after_reset,
					  teardown),
		cmocka_unit_test_teardown(test_content_length_mismatch,
					  teardown),
		cmocka_unit_test_teardown(test_expect_continue, teardown),
		cmocka_unit_test_teardown(test_response_from_http1_head,
					  teardown),
		cmocka_unit_test_teardown(test_eagain_then_resume, teardown),
		cmocka_unit_test_teardown(test_refused_and_reset_streams,
					  teardown),
		cmocka_unit_test_teardown(test_shutdown_graceful, teardown),
		cmocka_unit_test_teardown(test_shutdown_stream_in_flight,
					  teardown),
		cmocka_unit_test_teardown(test_shutdown_now, teardown),
		cmocka_unit_test_teardown(test_glitch_budget_ping_flood,
					  teardown),
		cmocka_unit_test_teardown(test_glitch_budget_empty_data,
					  teardown),
		cmocka_unit_test_teardown(test_rapid_reset_limit, teardown),
		cmocka_unit_test_teardown(test_glitch_budget_padding_only_data,
					  teardown),
		cmocka_unit_test_teardown(test_glitch_budget_priority_flood,
					  teardown),
		cmocka_unit_test_teardown(test_glitch_goaway_then_bad_frame,
					  teardown),
		cmocka_unit_test_teardown(test_settings_ack_deadline, teardown),
	};

	return cmocka_run_group_tests_name("h2", tests, NULL, NULL);
}
