// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Client connections. One function, pump(), moves every byte it can in
 * both directions (client -> upstream request, upstream -> client response)
 * until nothing moves, then arms epoll and the connection's single timer
 * from the state it stopped in. Re-trying every direction after each step
 * is what keeps TLS (which buffers records of its own) and full-duplex
 * bodies from stalling. A socket is only read again once epoll reported it
 * or the last read filled the buffer (rd_ready, up_rd_ready), or OpenSSL
 * holds bytes (SSL_has_pending): epoll is level-triggered, so what a short
 * read left behind is reported, and the re-tries cost no EAGAIN syscalls.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <openssl/err.h>

#include "conn.h"
#include "http1.h"
#include "log.h"
#include "pool.h"
#include "worker.h"

#define IN_EXTRA (16 * 1024) /* room for body bytes beyond a full head */
#define IN_SMALL 8192 /* first client read buffer (client_header_buffer_size) */
#define OUT_CAP 4096
#define UIN_CAP (64 * 1024)
#define RES_MAX_HEAD (32 * 1024)
#define UOUT_EXTRA 4096 /* X-Forwarded-* and friends */
#define LINGER_MS 2000
#define ACME_MAX_FILE (64 * 1024)
#define ACME_PREFIX "/.well-known/acme-challenge/"

struct buf {
	char *d;
	size_t s, e, cap;
};

enum cstate {
	C_HANDSHAKE,
	C_IDLE, /* keep-alive, waiting for the next request */
	C_HEAD, /* reading a request head */
	C_PROXY, /* relaying a request and its response */
	C_LOCAL, /* sending a response of our own */
	C_LINGER, /* response sent, write side shut, draining input */
};

enum rstate { R_HEAD, R_BODY, R_DONE };

/* What the access log and error messages keep of a request head: only
 * while a request is in flight (from a per-worker cache, ri_get()). */
struct req_info {
	struct req_info *next; /* in the cache */
	size_t method_len, target_len, ref_len, ua_len;
	char method[32];
	char target[1024], ref[256], ua[256];
};

struct conn {
	struct loop_io io; /* first: the epoll callback casts back */
	struct loop_timer timer;
	struct worker *w;
	struct worker_listener *lis;
	struct conn *next, *prev;
	SSL *ssl;
	enum cstate state;
	bool dead;
	bool hs_want_write, rd_wants_write, wr_wants_read;
	/* The socket may have bytes for us: set by its events, cleared by
	 * EAGAIN or a short read. Level-triggered epoll reports what is
	 * left, so reading again before it does would only cost an EAGAIN. */
	bool rd_ready;
	/* The last write to the client would block: no write is tried
	 * again before epoll reports the socket writable (or readable, for
	 * a TLS write that needs to read). Meanwhile the upstream is read
	 * only until uin is full (back-pressure). */
	bool wr_blocked;
	bool client_eof;
	bool close_after;
	struct sockaddr_storage peer;
	char peer_str[INET6_ADDRSTRLEN];
	/* only while in use: in_ready(), out_ready(), given back by arm() */
	struct buf in, out;
	size_t head_seen; /* head bytes the parser has already seen */
	uint64_t head_deadline, idle_deadline, linger_deadline;
	uint64_t deadline; /* of the state arm() left it in; timer <= it */
	uint64_t t_client_io;

	/* the request in progress (its parsed head is in req_scratch only
	 * during the event that parsed it) */
	struct req_info *ri; /* NULL until a head was parsed */
	int minor;
	bool keep_alive, idempotent;
	enum http1_body rb;
	uint64_t rb_left;
	struct http1_chunked rchunk;
	size_t rb_ready; /* body bytes at in.s ready to go upstream */
	bool rb_framed, rb_started;
	uint64_t t_start_us, t_start_ms;
	int status;
	uint64_t body_sent;

	/* its upstream side */
	struct pool_conn *uc;
	int server; /* -1 when none was used */
	uint64_t tried;
	struct buf uout; /* request head, kept whole for a retry */
	size_t uout_off;
	struct buf uin;
	enum rstate rs;
	bool res_keep_alive; /* the upstream connection may be reused */
	bool up_eof;
	bool up_rd_ready; /* as rd_ready, for the upstream socket */
	enum http1_body sb;
	uint64_t sb_left;
	struct http1_chunked schunk;
	size_t sb_ready; /* body bytes at uin.s ready for the client */
	bool dechunk; /* chunked response to a 1.0 client: data only */
	bool res_started; /* response bytes queued for the client */
	uint64_t t_up_start, t_up_read, t_up_write;
};

static void pump(struct conn *c);

/* --- buffers ------------------------------------------------------------ */

static size_t buf_len(const struct buf *b)
{
	return b->e - b->s;
}

static void buf_consume(struct buf *b, size_t n)
{
	b->s += n;
	if (b->s == b->e)
		b->s = b->e = 0;
}

/* Free space at the end, moving data to the front when that makes room. */
static size_t buf_room(struct buf *b)
{
	if (b->e == b->cap && b->s) {
		memmove(b->d, b->d + b->s, b->e - b->s);
		b->e -= b->s;
		b->s = 0;
	}
	return b->cap - b->e;
}

static int buf_reserve(struct buf *b, size_t n)
{
	size_t cap;
	char *d;

	if (buf_room(b) >= n)
		return 0;
	if (b->s) {
		memmove(b->d, b->d + b->s, b->e - b->s);
		b->e -= b->s;
		b->s = 0;
		if (b->cap - b->e >= n)
			return 0;
	}
	cap = b->cap ? b->cap : 4096;
	while (cap - b->e < n)
		cap *= 2;
	d = realloc(b->d, cap);
	if (!d)
		return -ENOMEM;
	b->d = d;
	b->cap = cap;
	return 0;
}

static int buf_add(struct buf *b, const void *p, size_t n)
{
	if (buf_reserve(b, n))
		return -ENOMEM;
	memcpy(b->d + b->e, p, n);
	b->e += n;
	return 0;
}

static int buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || buf_reserve(b, n + 1))
		return -ENOMEM;
	va_start(ap, fmt);
	vsnprintf(b->d + b->e, n + 1, fmt, ap);
	va_end(ap);
	b->e += n;
	return 0;
}

static void buf_free(struct buf *b)
{
	free(b->d);
	memset(b, 0, sizeof(*b));
}

static int buf_alloc(struct buf *b, size_t cap)
{
	b->d = malloc(cap);
	b->s = b->e = 0;
	b->cap = b->d ? cap : 0;
	return b->d ? 0 : -ENOMEM;
}

/*
 * Buffers live only while they hold bytes or a request is in flight: an
 * idle connection (handshake, keep-alive, waiting for its first request)
 * holds neither in nor out, nor the upstream ones (36 + 64 KiB). Freeing
 * them each time made glibc trim the heap top and fault it back in on the
 * next request (page faults and brk per request), so finished ones wait
 * here for the next request. One cache per buffer size, one set per
 * process = per worker.
 */
#define BUF_CACHE 64

static struct buf_cache {
	char *d[BUF_CACHE];
	size_t cap; /* the one size this cache holds */
	int n;
} uin_cache, uout_cache, in_cache, in_big_cache, out_cache;

static int buf_get(struct buf_cache *bc, struct buf *b, size_t cap)
{
	if (bc->cap != cap) {
		/* another size (a new configuration): drop the old ones */
		while (bc->n)
			free(bc->d[--bc->n]);
		bc->cap = cap;
	}
	if (bc->n) {
		b->d = bc->d[--bc->n];
		b->cap = cap;
		b->s = b->e = 0;
		return 0;
	}
	return buf_alloc(b, cap);
}

/* A buffer that grew (out, by buf_reserve) is not of the cache's size. */
static void buf_put(struct buf_cache *bc, struct buf *b)
{
	if (b->d && b->cap == bc->cap && bc->n < BUF_CACHE) {
		bc->d[bc->n++] = b->d;
		memset(b, 0, sizeof(*b));
		return;
	}
	buf_free(b);
}

/*
 * Parser output: the spans point into in (uin) and are used only within
 * the event that parsed them (note_request copies what the access log
 * needs, the upstream head is written at once; got_res_head copies the
 * response head out), so one of each per worker instead of 2 x 3.2 KiB of
 * header arrays per connection.
 */
static struct http1_request req_scratch;
static struct http1_response res_scratch;

#define RI_CACHE 64

static struct req_info *ri_cache;
static int ri_cached;

static struct req_info *ri_get(void)
{
	struct req_info *ri = ri_cache;

	if (!ri)
		return malloc(sizeof(*ri));
	ri_cache = ri->next;
	ri_cached--;
	return ri;
}

static void ri_put(struct conn *c)
{
	struct req_info *ri = c->ri;

	if (!ri)
		return;
	c->ri = NULL;
	if (ri_cached >= RI_CACHE) {
		free(ri);
		return;
	}
	ri->next = ri_cache;
	ri_cache = ri;
	ri_cached++;
}

static void in_put(struct conn *c)
{
	buf_put(c->in.cap == IN_SMALL ? &in_cache : &in_big_cache, &c->in);
}

/*
 * Room to read a request into: in starts small and grows once to
 * header_total + IN_EXTRA when a head does not fit (nginx's
 * client_header_buffer_size and large_client_header_buffers). No span
 * points into in between events (req_scratch), and head_seen and rb_ready
 * count from in.s, so moving the bytes is safe.
 */
static int in_ready(struct conn *c)
{
	struct buf nb;

	if (!c->in.d)
		return buf_get(&in_cache, &c->in, IN_SMALL);
	if (buf_room(&c->in))
		return 0;
	if (buf_get(&in_big_cache, &nb,
		    c->w->cfg->limits.header_total + IN_EXTRA))
		return -ENOMEM;
	nb.e = buf_len(&c->in);
	memcpy(nb.d, c->in.d + c->in.s, nb.e);
	in_put(c);
	c->in = nb;
	return 0;
}

static int out_ready(struct conn *c)
{
	return c->out.d ? 0 : buf_get(&out_cache, &c->out, OUT_CAP);
}

/* --- time --------------------------------------------------------------- */

static uint64_t wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static uint64_t now_ms(struct conn *c)
{
	return c->w->loop.now;
}

/* --- client I/O: TLS or plain ------------------------------------------- */

static ssize_t c_read(struct conn *c, char *p, size_t n)
{
	ssize_t r;

	if (!c->ssl) {
		r = recv(c->io.fd, p, n, 0);
		if (r >= 0)
			return r;
		return errno == EAGAIN || errno == EINTR ? -EAGAIN : -errno;
	}
	/* The error queue is empty here: every failure path below, and
	 * handshake() and conn_linger(), clear it (ERR_clear_error per call
	 * cost ~10 % of a keep-alive request's instructions). */
	c->rd_wants_write = false;
	r = SSL_read(c->ssl, p, n);
	if (r > 0)
		return r;
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		return -EAGAIN;
	case SSL_ERROR_WANT_WRITE:
		c->rd_wants_write = true;
		return -EAGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	default:
		ERR_clear_error();
		return -EIO;
	}
}

static ssize_t c_write(struct conn *c, const char *p, size_t n)
{
	ssize_t r;

	if (!c->ssl) {
		r = send(c->io.fd, p, n, MSG_NOSIGNAL);
		if (r >= 0)
			return r;
		return errno == EAGAIN || errno == EINTR ? -EAGAIN : -errno;
	}
	c->wr_wants_read = false; /* the queue is empty: see c_read() */
	r = SSL_write(c->ssl, p, n);
	if (r > 0)
		return r;
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_WRITE:
		return -EAGAIN;
	case SSL_ERROR_WANT_READ:
		c->wr_wants_read = true;
		return -EAGAIN;
	default:
		ERR_clear_error();
		return -EIO;
	}
}

/* --- lifetime ----------------------------------------------------------- */

static void up_release(struct conn *c, bool reuse)
{
	struct pool_conn *uc = c->uc;

	if (!uc)
		return;
	c->uc = NULL;
	if (c->server >= 0 && c->server < CFG_MAX_SERVERS)
		c->w->up.servers[c->server].active--;
	if (reuse && !c->w->draining)
		pool__put(uc);
	else
		pool__close(uc);
}

static void conn_close(struct conn *c)
{
	struct worker *w = c->w;

	if (c->dead)
		return;
	c->dead = true;
	up_release(c, false);
	loop__timer_del(&w->loop, &c->timer);
	if (c->ssl)
		SSL_free(c->ssl);
	c->ssl = NULL;
	loop__io_close(&w->loop, &c->io);
	in_put(c);
	buf_put(&out_cache, &c->out);
	ri_put(c);
	buf_put(&uout_cache, &c->uout);
	buf_put(&uin_cache, &c->uin);
	if (c->prev)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	w->nconns--;
	METRIC_ADD(w->m->active, -1);
	if (w->paused && !w->draining &&
	    w->nconns < w->cfg->limits.max_connections)
		worker__listeners_enable(w, true);
	loop__defer_free(&w->loop, c);
}

/*
 * Close after the response: send close_notify and FIN, then read and drop
 * what the client still sends for a moment. Closing with unread input
 * would send RST, which can destroy the response before the client reads
 * it (nginx's lingering_close, for the same reason).
 */
static void conn_linger(struct conn *c)
{
	up_release(c, false);
	if (c->ssl) {
		ERR_clear_error();
		SSL_shutdown(c->ssl);
		ERR_clear_error();
	}
	shutdown(c->io.fd, SHUT_WR);
	c->state = C_LINGER;
	c->linger_deadline = now_ms(c) + LINGER_MS;
}

/* --- responses of our own ------------------------------------------------- */

static const char *reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 301:
		return "Moved Permanently";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 408:
		return "Request Timeout";
	case 413:
		return "Content Too Large";
	case 414:
		return "URI Too Long";
	case 417:
		return "Expectation Failed";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Error";
	}
}

static void local_response(struct conn *c, int status, const char *headers,
			   const char *type, const char *body, size_t len,
			   bool close)
{
	c->close_after |= close || !c->keep_alive || c->w->draining;
	c->status = status;
	c->body_sent = len;
	if (out_ready(c) ||
	    buf_printf(
		    &c->out,
		    "HTTP/1.1 %d %s\r\nServer: lbtls\r\n%sContent-Type: %s\r\nContent-Length: %zu\r\n%sConnection: %s\r\n\r\n",
		    status, reason(status), headers ? headers : "", type, len,
		    c->w->served_by, c->close_after ? "close" : "keep-alive") ||
	    buf_add(&c->out, body, len))
		c->close_after = true;
	c->state = C_LOCAL;
}

static void error_response(struct conn *c, int status, bool close)
{
	const struct lbtls_config *cfg = c->w->cfg;
	char page[512];
	int n;

	up_release(c, false);
	if (status >= 502 && status <= 504 && cfg->error_page_body) {
		local_response(c, status, NULL, "text/html",
			       cfg->error_page_body, cfg->error_page_len,
			       close);
		return;
	}
	n = snprintf(
		page, sizeof(page),
		"<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n<center><h1>%d %s</h1></center>\r\n<hr><center>lbtls</center>\r\n</body>\r\n</html>\r\n",
		status, reason(status), status, reason(status));
	local_response(c, status, NULL, "text/html", page, n, close);
}

/* --- end of a request ----------------------------------------------------- */

static void request_done(struct conn *c)
{
	struct worker *w = c->w;
	struct access_entry e;

	if (c->status > 0 && c->status < METRICS_MAX_STATUS)
		METRIC_ADD(w->m->status[c->status], 1);
	if (log__access_enabled() && c->status) {
		memset(&e, 0, sizeof(e));
		e.remote_addr = c->peer_str;
		if (c->ri) {
			e.method = c->ri->method;
			e.method_len = c->ri->method_len;
			e.target = c->ri->target;
			e.target_len = c->ri->target_len;
			e.minor = c->minor;
			e.referer = c->ri->ref;
			e.referer_len = c->ri->ref_len;
			e.user_agent = c->ri->ua;
			e.user_agent_len = c->ri->ua_len;
		}
		e.status = c->status;
		e.body_bytes = c->body_sent;
		e.upstream =
			c->server >= 0 ? w->up.servers[c->server].name : "-";
		e.start_us = c->t_start_us;
		e.duration_us = wall_us() - c->t_start_us;
		log__access(&e);
	}
	c->status = 0;
	c->body_sent = 0;
	ri_put(c);
	c->server = -1;
	c->tried = 0;
}

/* The response is out: next request, or close. */
static void finish(struct conn *c)
{
	request_done(c);
	if (c->close_after || !c->keep_alive || c->client_eof ||
	    c->w->draining) {
		conn_linger(c);
		return;
	}
	c->state = C_IDLE;
	c->idle_deadline = now_ms(c) + c->w->cfg->limits.keepalive_timeout_ms;
	if (!buf_len(&c->in)) {
		/* Idle keep-alive connections hold no upstream buffers. */
		buf_put(&uout_cache, &c->uout);
		buf_put(&uin_cache, &c->uin);
	}
}

/* --- request heads ------------------------------------------------------- */

static size_t copy_span(char *dst, size_t cap, struct http1_span s)
{
	size_t n = s.len < cap ? s.len : cap;

	memcpy(dst, s.p, n);
	return n;
}

static int note_request(struct conn *c)
{
	const struct http1_header *h;
	struct req_info *ri = c->ri ? c->ri : ri_get();

	if (!ri)
		return -ENOMEM;
	c->ri = ri;
	ri->method_len =
		copy_span(ri->method, sizeof(ri->method), req_scratch.method);
	ri->target_len =
		copy_span(ri->target, sizeof(ri->target), req_scratch.target);
	h = http1__find(req_scratch.headers, req_scratch.num_headers,
			"Referer");
	ri->ref_len = h ? copy_span(ri->ref, sizeof(ri->ref), h->value) : 0;
	h = http1__find(req_scratch.headers, req_scratch.num_headers,
			"User-Agent");
	ri->ua_len = h ? copy_span(ri->ua, sizeof(ri->ua), h->value) : 0;
	c->minor = req_scratch.minor;
	c->keep_alive = req_scratch.keep_alive;
	c->idempotent = req_scratch.idempotent;
	return 0;
}

static bool host_ok(const char *h, size_t n)
{
	size_t i;

	if (!n)
		return false;
	for (i = 0; i < n; i++) {
		char ch = h[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' ||
		      ch == ':' || ch == '[' || ch == ']' || ch == '_'))
			return false;
	}
	return true;
}

/* Host without its port ("[::1]:80" -> "[::1]"). */
static size_t host_name_len(const char *h, size_t n)
{
	size_t i;

	if (n && h[0] == '[') {
		for (i = 0; i < n; i++)
			if (h[i] == ']')
				return i + 1;
		return n;
	}
	for (i = 0; i < n; i++)
		if (h[i] == ':')
			return i;
	return n;
}

/* Path-and-query of the target; absolute-form loses its scheme://authority. */
static struct http1_span origin_target(struct http1_span t)
{
	struct http1_span r = t;
	const char *p;

	if (t.len > 7 && !strncasecmp(t.p, "http://", 7)) {
		p = memchr(t.p + 7, '/', t.len - 7);
		r.p = p ? p : "/";
		r.len = p ? t.len - (p - t.p) : 1;
	} else if (t.len > 8 && !strncasecmp(t.p, "https://", 8)) {
		p = memchr(t.p + 8, '/', t.len - 8);
		r.p = p ? p : "/";
		r.len = p ? t.len - (p - t.p) : 1;
	}
	return r;
}

static void serve_acme(struct conn *c, struct http1_span path)
{
	const char *root = c->w->cfg->acme_webroot;
	const char *tok = path.p + strlen(ACME_PREFIX);
	size_t toklen = path.len - strlen(ACME_PREFIX), i;
	char file[PATH_MAX + 300], *body = NULL;
	struct stat st;
	int fd = -1;

	/* RFC 8555 8.3: the token is base64url, nothing else gets near disk. */
	if (!toklen || toklen > 256)
		goto notfound;
	for (i = 0; i < toklen; i++)
		if (!((tok[i] >= 'a' && tok[i] <= 'z') ||
		      (tok[i] >= 'A' && tok[i] <= 'Z') ||
		      (tok[i] >= '0' && tok[i] <= '9') || tok[i] == '-' ||
		      tok[i] == '_'))
			goto notfound;
	snprintf(file, sizeof(file), "%s%s%.*s", root, ACME_PREFIX, (int)toklen,
		 tok);
	fd = open(file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode) ||
	    st.st_size > ACME_MAX_FILE)
		goto notfound;
	body = malloc(st.st_size + 1);
	if (!body || read(fd, body, st.st_size) != st.st_size)
		goto notfound;
	close(fd);
	local_response(c, 200, NULL, "text/plain", body, st.st_size, false);
	free(body);
	return;
notfound:
	free(body);
	if (fd >= 0)
		close(fd);
	error_response(c, 404, false);
}

/* Port 80: ACME challenges from the webroot, everything else to https. */
static void plain_request(struct conn *c)
{
	struct http1_span t = origin_target(req_scratch.target);
	struct http1_span path = t;
	char hostbuf[300], loc[64];
	const char *host;
	size_t hlen;
	char *q;

	if (req_scratch.body != HTTP1_BODY_NONE)
		c->close_after = true; /* we will not read it */
	q = memchr(t.p, '?', t.len);
	if (q)
		path.len = q - t.p;
	if (*c->w->cfg->acme_webroot && path.len > strlen(ACME_PREFIX) &&
	    !memcmp(path.p, ACME_PREFIX, strlen(ACME_PREFIX))) {
		serve_acme(c, path);
		return;
	}
	if (t.p[0] != '/') {
		error_response(c, 400, true);
		return;
	}
	host = req_scratch.host.p;
	hlen = req_scratch.host.len;
	if (!hlen) {
		/* HTTP/1.0 without Host: the address it reached us on */
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		char ip[INET6_ADDRSTRLEN] = "localhost";

		if (!getsockname(c->io.fd, (struct sockaddr *)&ss, &sl)) {
			if (ss.ss_family == AF_INET6)
				inet_ntop(AF_INET6,
					  &((struct sockaddr_in6 *)&ss)
						   ->sin6_addr,
					  ip, sizeof(ip));
			else
				inet_ntop(
					AF_INET,
					&((struct sockaddr_in *)&ss)->sin_addr,
					ip, sizeof(ip));
		}
		snprintf(hostbuf, sizeof(hostbuf),
			 ss.ss_family == AF_INET6 ? "[%s]" : "%s", ip);
		host = hostbuf;
		hlen = strlen(hostbuf);
	}
	if (!host_ok(host, hlen) || t.len > 8192) {
		error_response(c, 400, true);
		return;
	}
	hlen = host_name_len(host, hlen);
	loc[0] = 0;
	if (c->w->https_port && c->w->https_port != 443)
		snprintf(loc, sizeof(loc), ":%u", c->w->https_port);
	c->status = 301;
	c->close_after |= !c->keep_alive || c->w->draining;
	if (out_ready(c) ||
	    buf_printf(
		    &c->out,
		    "HTTP/1.1 301 Moved Permanently\r\nServer: lbtls\r\nLocation: https://%.*s%s%.*s\r\nContent-Type: text/html\r\nContent-Length: 0\r\n%sConnection: %s\r\n\r\n",
		    (int)hlen, host, loc, (int)t.len, t.p, c->w->served_by,
		    c->close_after ? "close" : "keep-alive"))
		c->close_after = true;
	c->state = C_LOCAL;
}

static int up_start(struct conn *c);

static void start_proxy(struct conn *c, size_t head_len)
{
	const struct lbtls_config *cfg = c->w->cfg;
	struct http1_forward fwd = {
		.client_addr = c->peer_str,
		.proto = "https",
		.host = c->lis->addr->text,
	};
	ssize_t n;

	if ((!c->uout.d && buf_get(&uout_cache, &c->uout,
				   cfg->limits.header_total + UOUT_EXTRA)) ||
	    (!c->uin.d && buf_get(&uin_cache, &c->uin, UIN_CAP))) {
		error_response(c, 500, true);
		return;
	}
	c->uout.s = c->uout.e = 0;
	n = http1__write_upstream_head(&req_scratch, &fwd, c->uout.d,
				       c->uout.cap);
	if (n < 0) {
		error_response(c, 431, true);
		return;
	}
	/* Always HTTP/1.1 upstream, on a kept-alive connection; an HTTP/1.0
	 * client gets a chunked response de-chunked (write_res_head). */
	c->uout.e = n;
	c->uout_off = 0;
	c->rb = req_scratch.body;
	c->rb_left = req_scratch.content_length;
	c->rb_ready = 0;
	c->rb_started = false;
	c->rb_framed = c->rb == HTTP1_BODY_NONE ||
		       (c->rb == HTTP1_BODY_LENGTH && !c->rb_left);
	if (c->rb == HTTP1_BODY_CHUNKED)
		http1_chunked__init(&c->rchunk, cfg->limits.body);
	c->tried = 0;
	c->res_started = false;
	c->state = C_PROXY;
	if (up_start(c))
		return; /* answered 502 */
	/*
	 * Expect is not forwarded: as nginx, lbtls itself tells a 1.1 client
	 * to send its body, once the request is accepted (a rejected one,
	 * e.g. 413, got its final status instead) and unless body bytes came
	 * with the head already. An upstream's own 1xx are dropped.
	 */
	if (req_scratch.expect_continue && !c->rb_framed &&
	    buf_len(&c->in) == head_len &&
	    (out_ready(c) ||
	     buf_add(&c->out, "HTTP/1.1 100 Continue\r\n\r\n", 25)))
		c->close_after = true;
}

/* Returns true when something happened. */
static bool parse_head(struct conn *c)
{
	const struct lbtls_config *cfg = c->w->cfg;
	struct http1_limits lim = {
		.max_line = cfg->limits.header_line,
		.max_head = cfg->limits.header_total,
		.max_body = cfg->limits.body,
	};
	size_t len = buf_len(&c->in);
	int r;

	if (!len) {
		if (c->client_eof) {
			conn_close(c);
			return true;
		}
		return false;
	}
	if (c->state == C_IDLE) {
		c->state = C_HEAD;
		c->head_deadline = now_ms(c) + cfg->limits.header_timeout_ms;
		c->t_start_us = wall_us();
		c->t_start_ms = now_ms(c);
	}
	/* Re-parse only when a line may have ended (http1.h): a client
	 * sending a byte at a time must not cost O(head^2). */
	if (len == c->head_seen ||
	    (!memchr(c->in.d + c->in.s + c->head_seen, '\n',
		     len - c->head_seen) &&
	     len - c->head_seen < lim.max_line && len < lim.max_head)) {
		if (c->client_eof)
			conn_close(c);
		return c->client_eof;
	}
	c->head_seen = len;
	r = http1__parse_request(c->in.d + c->in.s, len, &lim, &req_scratch);
	if (r > 0)
		c->head_seen = 0;
	if (r == 0) {
		if (len >= cfg->limits.header_total) {
			error_response(c, 431, true);
			return true;
		}
		if (c->client_eof)
			conn_close(c);
		return c->client_eof;
	}
	if (r < 0) {
		c->keep_alive = false;
		error_response(c, -r, true);
		return true;
	}
	if (note_request(c)) {
		c->keep_alive = false;
		error_response(c, 500, true);
		return true;
	}
	/* An Upgrade (websocket, h2c) is not honoured: the request goes on
	 * as a plain HTTP/1.1 one without it, as nginx does unless told to
	 * pass Upgrade. CONNECT was answered 501 by the parser. */
	if (!c->ssl) {
		plain_request(c);
		buf_consume(&c->in, r);
		return true;
	}
	start_proxy(c, r);
	/* The forwarded head is built: the client's copy can go. */
	buf_consume(&c->in, r);
	return true;
}

/* --- upstream side --------------------------------------------------------- */

static int up_start(struct conn *c)
{
	struct worker *w = c->w;
	struct pool_conn *uc;
	int idx, err;

	for (;;) {
		idx = upstream__pick(&w->up, (struct sockaddr *)&c->peer,
				     now_ms(c), c->tried);
		if (idx < 0) {
			log_warn("no live upstream for %.*s %.*s from %s",
				 (int)c->ri->method_len, c->ri->method,
				 (int)c->ri->target_len, c->ri->target,
				 c->peer_str);
			error_response(c, 502, !c->rb_framed);
			return -EHOSTUNREACH;
		}
		c->server = idx;
		c->tried |= 1ULL << idx;
		uc = pool__get(w, idx);
		if (!uc) {
			err = pool__connect(w, idx, &uc);
			if (err) {
				log_warn("upstream %s: connect: %s",
					 w->up.servers[idx].name,
					 strerror(-err));
				upstream__fail(&w->up, idx, now_ms(c));
				METRIC_ADD(w->m->servers[idx].failures, 1);
				worker__publish_health(w);
				continue;
			}
		}
		uc->owner = c;
		c->uc = uc;
		w->up.servers[idx].active++;
		c->uout_off = 0;
		c->uin.s = c->uin.e = 0;
		c->up_eof = false;
		/* Nothing to read before the request is sent: wait for epoll. */
		c->up_rd_ready = false;
		c->rs = R_HEAD;
		c->t_up_start = c->t_up_read = c->t_up_write = now_ms(c);
		return 0;
	}
}

/*
 * The upstream failed before a response head arrived. Retry on another
 * server when nothing of the request is lost (no body byte consumed) and
 * resending is safe: always after a failed connect, otherwise only for
 * idempotent methods (RFC 9110 9.2.2).
 */
enum up_fail {
	F_CONNECT, /* nothing reached the server */
	F_IO, /* error or close before any response byte */
	F_FINAL, /* timeout or bad response: never resend */
};

static void up_failed(struct conn *c, int status, enum up_fail kind,
		      const char *why)
{
	struct worker *w = c->w;
	bool reused = c->uc && c->uc->reused;
	bool connect_phase = kind == F_CONNECT;

	if (!(reused && !connect_phase)) {
		upstream__fail(&w->up, c->server, now_ms(c));
		METRIC_ADD(w->m->servers[c->server].failures, 1);
		worker__publish_health(w);
	}
	log_warn("upstream %s: %s (client %s, %.*s %.*s)",
		 w->up.servers[c->server].name, why, c->peer_str,
		 (int)c->ri->method_len, c->ri->method, (int)c->ri->target_len,
		 c->ri->target);
	up_release(c, false);
	if (c->res_started) {
		conn_close(c);
		return;
	}
	/* A stale pooled connection is not the server's fault: retry. */
	if (!c->rb_started && kind != F_FINAL &&
	    (connect_phase || c->idempotent || reused)) {
		if (reused && !connect_phase)
			c->tried &= ~(1ULL << c->server);
		up_start(c);
		return;
	}
	error_response(c, status, !c->rb_framed);
}

/* Client-facing copy of the response head. */
static int write_res_head(struct conn *c)
{
	const struct http1_response *r = &res_scratch;
	const struct http1_header *conn_hdr;
	bool closing;
	size_t i, need;
	char *p;

	/* An HTTP/1.0 client cannot read chunked (RFC 9112 7.1): it gets the
	 * data alone, delimited by closing the connection. */
	c->dechunk = c->minor == 0 && c->sb == HTTP1_BODY_CHUNKED;
	closing = c->close_after || !c->keep_alive || c->w->draining ||
		  c->sb == HTTP1_BODY_UNTIL_CLOSE || c->client_eof ||
		  c->dechunk;
	c->close_after = closing;
	/* Reserve for the whole head once, then copy: no printf, no
	 * reallocation check per piece (this runs for every response). */
	need = sizeof("HTTP/1.1 200 \r\n") + r->reason.len +
	       strlen(c->w->served_by) +
	       sizeof("Connection: keep-alive\r\n\r\n");
	for (i = 0; i < r->num_headers; i++)
		need += r->headers[i].name.len + r->headers[i].value.len + 4;
	if (out_ready(c) || buf_reserve(&c->out, need))
		return -ENOMEM;
	p = c->out.d + c->out.e;
	/* the parser took three digits 100..599 */
	memcpy(p, "HTTP/1.1 ", 9);
	p[9] = '0' + r->status / 100;
	p[10] = '0' + r->status / 10 % 10;
	p[11] = '0' + r->status % 10;
	p[12] = ' ';
	p += 13;
	p = mempcpy(p, r->reason.p, r->reason.len);
	p = mempcpy(p, "\r\n", 2);
	conn_hdr = http1__find(r->headers, r->num_headers, "Connection");
	for (i = 0; i < r->num_headers; i++) {
		const struct http1_header *h = &r->headers[i];
		struct http1_span n = h->name;

		/* hop-by-hop: ours to set */
		if ((n.len == 10 && !strncasecmp(n.p, "Connection", 10)) ||
		    (n.len == 10 && !strncasecmp(n.p, "Keep-Alive", 10)) ||
		    (n.len == 16 && !strncasecmp(n.p, "Proxy-Connection", 16)))
			continue;
		if (c->dechunk && n.len == 17 &&
		    !strncasecmp(n.p, "Transfer-Encoding", 17))
			continue;
		if (conn_hdr && n.len && conn_hdr->value.len >= n.len) {
			/* a header the Connection header lists */
			const char *v = conn_hdr->value.p;
			size_t vl = conn_hdr->value.len, j;
			bool listed = false;

			for (j = 0; j + n.len <= vl; j++)
				if ((j == 0 || v[j - 1] == ',' ||
				     v[j - 1] == ' ') &&
				    !strncasecmp(v + j, n.p, n.len) &&
				    (j + n.len == vl || v[j + n.len] == ',' ||
				     v[j + n.len] == ' '))
					listed = true;
			if (listed)
				continue;
		}
		p = mempcpy(p, n.p, n.len);
		p = mempcpy(p, ": ", 2);
		p = mempcpy(p, h->value.p, h->value.len);
		p = mempcpy(p, "\r\n", 2);
	}
	p = stpcpy(p, c->w->served_by);
	p = stpcpy(p, closing ? "Connection: close\r\n\r\n" :
				"Connection: keep-alive\r\n\r\n");
	c->out.e = p - c->out.d;
	return 0;
}

static void got_res_head(struct conn *c, int len)
{
	struct worker *w = c->w;
	struct metrics_server *ms = &w->m->servers[c->server];

	upstream__success(&w->up, c->server);
	METRIC_ADD(ms->requests, 1);
	METRIC_ADD(ms->latency_us, (now_ms(c) - c->t_up_start) * 1000);
	c->status = res_scratch.status;
	c->res_keep_alive = res_scratch.keep_alive;
	c->sb = res_scratch.body;
	c->sb_left = res_scratch.content_length;
	c->sb_ready = 0;
	if (c->sb == HTTP1_BODY_CHUNKED)
		http1_chunked__init(&c->schunk, 0);
	if (write_res_head(c)) {
		conn_close(c);
		return;
	}
	c->res_started = true;
	buf_consume(&c->uin, len);
	c->rs = c->sb == HTTP1_BODY_NONE ||
				(c->sb == HTTP1_BODY_LENGTH && !c->sb_left) ?
			R_DONE :
			R_BODY;
}

/* Request bytes to the upstream. */
static bool up_send(struct conn *c)
{
	struct pool_conn *uc = c->uc;
	bool progress = false;
	ssize_t n;

	while (c->uc && !uc->connecting) {
		const char *p;
		size_t len;

		if (c->uout_off < c->uout.e) {
			p = c->uout.d + c->uout_off;
			len = c->uout.e - c->uout_off;
		} else {
			if (!c->rb_ready && !c->rb_framed && buf_len(&c->in)) {
				size_t avail = buf_len(&c->in);
				bool done = false;
				ssize_t m;

				if (c->rb == HTTP1_BODY_LENGTH) {
					m = avail < c->rb_left ? avail :
								 c->rb_left;
					c->rb_left -= m;
					done = !c->rb_left;
				} else {
					m = http1_chunked__scan(
						&c->rchunk, c->in.d + c->in.s,
						avail, &done);
				}
				if (m < 0) {
					if (c->res_started)
						conn_close(c);
					else
						error_response(c, -m, true);
					return true;
				}
				c->rb_ready = m;
				c->rb_framed = done;
			}
			if (!c->rb_ready)
				break;
			p = c->in.d + c->in.s;
			len = c->rb_ready;
		}
		n = send(uc->io.fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n < 0) {
			up_failed(c, 502, F_IO, strerror(errno));
			return true;
		}
		progress = true;
		c->t_up_write = now_ms(c);
		if (c->uout_off < c->uout.e) {
			c->uout_off += n;
		} else {
			c->rb_started = true;
			c->rb_ready -= n;
			buf_consume(&c->in, n);
		}
	}
	return progress;
}

/* Response bytes from the upstream. */
static bool up_recv(struct conn *c)
{
	bool progress = false;
	ssize_t n;
	int r;

	while (c->uc && !c->uc->connecting && c->rs != R_DONE && !c->up_eof &&
	       c->up_rd_ready && buf_room(&c->uin)) {
		size_t room = buf_room(&c->uin);

		n = recv(c->uc->io.fd, c->uin.d + c->uin.e, room, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			c->up_rd_ready = false;
			break;
		}
		/* Drained: level-triggered epoll reports what comes next. */
		if (n > 0 && (size_t)n < room)
			c->up_rd_ready = false;
		if (n == 0) {
			/* What is buffered still gets parsed and framed. */
			c->up_eof = true;
			progress = true;
			break;
		}
		if (n < 0) {
			if (c->rs == R_HEAD) {
				up_failed(c, 502, F_IO, strerror(errno));
				return true;
			}
			log_warn("upstream %s: %s in the response body",
				 c->w->up.servers[c->server].name,
				 strerror(errno));
			conn_close(c);
			return true;
		}
		c->uin.e += n;
		c->t_up_read = now_ms(c);
		progress = true;
	}
	while (c->rs == R_HEAD && buf_len(&c->uin)) {
		struct http1_span m = { c->ri->method, c->ri->method_len };

		r = http1__parse_response(c->uin.d + c->uin.s, buf_len(&c->uin),
					  RES_MAX_HEAD, m, &res_scratch);
		if (r == 0 && buf_len(&c->uin) < RES_MAX_HEAD)
			break;
		if (r <= 0) {
			up_failed(c, 502, F_FINAL, "invalid response head");
			return true;
		}
		if (res_scratch.status >= 100 && res_scratch.status < 200) {
			buf_consume(&c->uin,
				    r); /* interim: ours already went */
			continue;
		}
		got_res_head(c, r);
		return true;
	}
	if (c->rs == R_HEAD && c->up_eof) {
		up_failed(c, 502, F_IO, "closed before a response");
		return true;
	}
	return progress;
}

/* Frame the next slice of response body. */
static bool frame_res_body(struct conn *c)
{
	size_t avail = buf_len(&c->uin);
	bool done = false;
	ssize_t m;

	if (c->rs != R_BODY || c->sb_ready)
		return false;
	if (!avail) {
		if (!c->up_eof)
			return false;
		if (c->sb == HTTP1_BODY_UNTIL_CLOSE) {
			c->rs = R_DONE;
			return true;
		}
		log_warn(
			"upstream %s: closed in the middle of the response body",
			c->w->up.servers[c->server].name);
		conn_close(c);
		return true;
	}
	switch (c->sb) {
	case HTTP1_BODY_LENGTH:
		m = avail < c->sb_left ? avail : c->sb_left;
		c->sb_left -= m;
		done = !c->sb_left;
		break;
	case HTTP1_BODY_CHUNKED:
		if (c->dechunk) {
			size_t data;

			/* framing before the data run is dropped here */
			m = http1_chunked__decode(&c->schunk,
						  c->uin.d + c->uin.s, avail,
						  &data, &done);
			if (m >= 0) {
				buf_consume(&c->uin, m - data);
				m = data;
			}
		} else {
			m = http1_chunked__scan(&c->schunk, c->uin.d + c->uin.s,
						avail, &done);
		}
		if (m < 0) {
			log_warn("upstream %s: bad chunked framing",
				 c->w->up.servers[c->server].name);
			conn_close(c);
			return true;
		}
		break;
	default:
		m = avail;
		break;
	}
	c->sb_ready = m;
	if (done)
		c->rs = R_DONE;
	return true;
}

/* --- the pump -------------------------------------------------------------- */

static bool client_can_read(struct conn *c)
{
	switch (c->state) {
	case C_IDLE:
	case C_HEAD:
	case C_PROXY:
		/* in is taken (or grown, for a head) by client_read() */
		return !c->client_eof &&
		       (!c->in.d || buf_room(&c->in) ||
			(c->state != C_PROXY && c->in.cap == IN_SMALL));
	default:
		return false;
	}
}

static bool client_read(struct conn *c)
{
	size_t room;
	ssize_t n;

	if (c->state == C_LINGER) {
		char junk[4096];

		n = recv(c->io.fd, junk, sizeof(junk), 0);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			conn_close(c);
		return false;
	}
	/* OpenSSL may hold decrypted or raw bytes the socket no longer shows. */
	if (!client_can_read(c) ||
	    !(c->rd_ready || (c->ssl && SSL_has_pending(c->ssl))))
		return false;
	if (in_ready(c)) {
		conn_close(c);
		return true;
	}
	room = buf_room(&c->in);
	n = c_read(c, c->in.d + c->in.e, room);
	if (n == -EAGAIN) {
		c->rd_ready = false;
		return false;
	}
	if (n < 0) {
		conn_close(c);
		return true;
	}
	if (n == 0)
		c->client_eof = true;
	/* A short read took what was there (a TLS read returns at most one
	 * record: the rest, if any, is in the socket and epoll says so). */
	if ((size_t)n < room)
		c->rd_ready = false;
	c->in.e += n;
	c->t_client_io = now_ms(c);
	return true;
}

static bool client_pending(const struct conn *c)
{
	return buf_len(&c->out) || (c->state == C_PROXY && c->sb_ready);
}

/*
 * Response head in out, body bytes ready in uin: move what fits in out's
 * free space behind the head, so a small response goes out as one TLS
 * record and one write instead of two (out never grows for this). In
 * C_PROXY the body always follows everything queued in out.
 */
static void coalesce_body(struct conn *c)
{
	size_t k = c->sb_ready, room;

	if (c->state != C_PROXY || !k || !buf_len(&c->out))
		return;
	room = buf_room(&c->out);
	if (k > room)
		k = room;
	if (!k)
		return;
	memcpy(c->out.d + c->out.e, c->uin.d + c->uin.s, k);
	c->out.e += k;
	c->sb_ready -= k;
	c->body_sent += k;
	buf_consume(&c->uin, k);
}

static bool client_write(struct conn *c)
{
	bool progress = false;
	ssize_t n;

	if (c->wr_blocked)
		return false;
	coalesce_body(c);
	while (!c->dead && client_pending(c)) {
		bool body = !buf_len(&c->out);
		const char *p =
			body ? c->uin.d + c->uin.s : c->out.d + c->out.s;
		size_t len = body ? c->sb_ready : buf_len(&c->out);

		n = c_write(c, p, len);
		if (n == -EAGAIN) {
			c->wr_blocked = true;
			break;
		}
		if (n < 0) {
			conn_close(c);
			return true;
		}
		progress = true;
		c->t_client_io = now_ms(c);
		if (body) {
			c->sb_ready -= n;
			c->body_sent += n;
			buf_consume(&c->uin, n);
		} else {
			buf_consume(&c->out, n);
		}
	}
	return progress;
}

/*
 * Response framed to its end and request fully sent: the upstream is free
 * now, even while a slow client still drains the body from uin.
 */
static void up_done(struct conn *c)
{
	if (!c->uc || c->rs != R_DONE || !c->rb_framed || c->rb_ready ||
	    c->uout_off != c->uout.e)
		return;
	up_release(c, c->res_keep_alive && !c->up_eof &&
			      buf_len(&c->uin) == c->sb_ready &&
			      c->sb != HTTP1_BODY_UNTIL_CLOSE);
}

static bool maybe_finish(struct conn *c)
{
	bool body_sent;

	if (c->dead || client_pending(c))
		return false;
	if (c->state == C_LOCAL) {
		finish(c);
		return true;
	}
	if (c->state != C_PROXY || c->rs != R_DONE)
		return false;
	body_sent = c->rb_framed && !c->rb_ready && c->uout_off == c->uout.e;
	up_release(c, body_sent && c->res_keep_alive && !buf_len(&c->uin) &&
			      !c->up_eof && c->sb != HTTP1_BODY_UNTIL_CLOSE);
	if (!body_sent)
		c->close_after = true; /* the rest of its body is unread */
	finish(c);
	return true;
}

static bool handshake(struct conn *c)
{
	struct worker *w = c->w;
	int r;

	ERR_clear_error();
	r = SSL_do_handshake(c->ssl);
	if (r == 1) {
		/* whatever a callback left (a ticket that did not open) */
		ERR_clear_error();
		if (SSL_session_reused(c->ssl))
			METRIC_ADD(w->m->handshakes_resumed, 1);
		else
			METRIC_ADD(w->m->handshakes_full, 1);
		c->state = C_HEAD;
		/* The first request may have come with the Finished. */
		c->rd_ready = true;
		c->t_start_us = wall_us();
		c->t_start_ms = now_ms(c);
		return true;
	}
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		c->hs_want_write = false;
		return false;
	case SSL_ERROR_WANT_WRITE:
		c->hs_want_write = true;
		return false;
	default:
		if (log__access_enabled() ||
		    w->cfg->log_level >= LOG_LVL_DEBUG) {
			char e[256];

			log_debug("TLS handshake with %s failed: %s",
				  c->peer_str, tls__err_str(e, sizeof(e)));
		}
		ERR_clear_error();
		METRIC_ADD(w->m->handshake_errors, 1);
		conn_close(c);
		return true;
	}
}

static void arm(struct conn *c)
{
	const struct lbtls_config *cfg = c->w->cfg;
	struct loop *l = &c->w->loop;
	uint32_t ev = 0, uev = 0;
	uint64_t dl = UINT64_MAX;

	/* No request in flight: empty buffers go back to the cache (an idle
	 * connection holds none); a lingering one reads into a stack buffer. */
	if (c->state != C_PROXY && c->state != C_LOCAL) {
		if (c->in.d && (!buf_len(&c->in) || c->state == C_LINGER))
			in_put(c);
		if (c->out.d && !buf_len(&c->out))
			buf_put(&out_cache, &c->out);
	}
	switch (c->state) {
	case C_HANDSHAKE:
		ev = c->hs_want_write ? EPOLLOUT : EPOLLIN;
		dl = c->head_deadline;
		break;
	case C_IDLE:
	case C_HEAD:
		dl = c->state == C_IDLE ? c->idle_deadline : c->head_deadline;
		break;
	case C_PROXY:
		if (c->uc && c->uc->connecting) {
			dl = c->t_up_start + cfg->upstream.connect_timeout_ms;
			uev = EPOLLOUT;
		} else if (c->uc) {
			if (c->uout_off < c->uout.e || c->rb_ready)
				uev |= EPOLLOUT;
			if (c->rs != R_DONE && !c->up_eof && buf_room(&c->uin))
				uev |= EPOLLIN;
			if (uev & EPOLLOUT)
				dl = c->t_up_write +
				     cfg->upstream.send_timeout_ms;
			else if (c->rs != R_DONE && !c->up_eof)
				dl = c->t_up_read +
				     cfg->upstream.read_timeout_ms;
		}
		if (client_pending(c) &&
		    c->t_client_io + cfg->upstream.send_timeout_ms < dl)
			dl = c->t_client_io + cfg->upstream.send_timeout_ms;
		if (dl == UINT64_MAX)
			dl = c->t_client_io + cfg->upstream.read_timeout_ms;
		break;
	case C_LOCAL:
		dl = c->t_client_io + cfg->upstream.send_timeout_ms;
		break;
	case C_LINGER:
		ev = EPOLLIN;
		dl = c->linger_deadline;
		break;
	}
	/* A TLS read that needs the socket writable (or a write that needs
	 * it readable) waits for that, not for the readiness that would
	 * wake us again at once: level-triggered epoll would spin. */
	if (client_can_read(c) && !c->rd_wants_write)
		ev |= EPOLLIN;
	if (c->state != C_HANDSHAKE && client_pending(c) && !c->wr_wants_read)
		ev |= EPOLLOUT;
	if (c->rd_wants_write)
		ev |= EPOLLOUT;
	if (c->wr_wants_read)
		ev |= EPOLLIN;
	if (loop__io_set(l, &c->io, ev)) {
		conn_close(c);
		return;
	}
	if (c->uc && loop__io_set(l, &c->uc->io, uev)) {
		up_failed(c, 502, F_FINAL, "epoll");
		return;
	}
	/*
	 * Deadlines mostly move later (every byte of a request or response
	 * pushes them): the heap is only touched when the new one is earlier
	 * than the armed one; a timer that fires before c->deadline is armed
	 * again for it (conn_timeout). Two heap updates per request saved.
	 */
	c->deadline = dl;
	if (c->timer.idx < 0 || dl < c->timer.at)
		loop__timer_set(l, &c->timer, dl);
}

static void pump(struct conn *c)
{
	bool progress;

	do {
		progress = false;
		if (c->state == C_HANDSHAKE) {
			progress = handshake(c);
			if (c->dead)
				return;
			if (c->state == C_HANDSHAKE)
				break;
		}
		progress |= client_read(c);
		if (c->dead)
			return;
		if (c->state == C_IDLE || c->state == C_HEAD)
			progress |= parse_head(c);
		if (c->dead)
			return;
		if (c->state == C_PROXY) {
			progress |= up_send(c);
			if (c->dead)
				return;
			if (c->state == C_PROXY)
				progress |= up_recv(c);
			if (c->dead)
				return;
			if (c->state == C_PROXY)
				progress |= frame_res_body(c);
			if (c->dead)
				return;
			if (c->state == C_PROXY)
				up_done(c);
		}
		progress |= client_write(c);
		if (c->dead)
			return;
		progress |= maybe_finish(c);
		if (c->dead)
			return;
	} while (progress);
	arm(c);
}

/* --- events ----------------------------------------------------------------- */

static void client_io(struct loop_io *io, uint32_t events)
{
	struct conn *c = (struct conn *)io;

	/* EPOLLOUT wakes a TLS read that waited for the socket to drain. */
	if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) || c->rd_wants_write)
		c->rd_ready = true;
	if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) ||
	    (c->wr_wants_read && (events & EPOLLIN)))
		c->wr_blocked = false;
	pump(c);
}

void conn__upstream_event(struct conn *c, uint32_t events)
{
	struct pool_conn *uc = c->uc;
	int err = 0;
	socklen_t len = sizeof(err);

	if (uc && uc->connecting) {
		if (getsockopt(uc->io.fd, SOL_SOCKET, SO_ERROR, &err, &len))
			err = errno;
		if (!err && (events & (EPOLLERR | EPOLLHUP)))
			err = ECONNREFUSED;
		if (err) {
			char why[128];

			snprintf(why, sizeof(why), "connect: %s",
				 strerror(err));
			up_failed(c, 502, F_CONNECT, why);
			if (!c->dead)
				pump(c);
			return;
		}
		uc->connecting = false;
	}
	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
		c->up_rd_ready = true;
	pump(c);
}

static void conn_timeout(struct loop_timer *t)
{
	struct conn *c =
		(struct conn *)((char *)t - offsetof(struct conn, timer));
	const struct lbtls_config *cfg = c->w->cfg;
	uint64_t now = now_ms(c);

	if (now < c->deadline) {
		/* armed for an earlier deadline that has moved on since */
		loop__timer_set(&c->w->loop, t, c->deadline);
		return;
	}
	switch (c->state) {
	case C_HEAD:
		/* slowloris: the head did not arrive in time */
		c->keep_alive = false;
		error_response(c, 408, true);
		break;
	case C_PROXY:
		if (client_pending(c) &&
		    now >= c->t_client_io + cfg->upstream.send_timeout_ms) {
			conn_close(c);
			return;
		}
		if (c->uc && c->uc->connecting)
			up_failed(c, 504, F_CONNECT, "connect timed out");
		else if (c->uc && (c->uout_off < c->uout.e || c->rb_ready))
			up_failed(c, 504, F_FINAL, "send timed out");
		else if (c->uc && c->rs == R_HEAD)
			up_failed(c, 504, F_FINAL, "read timed out");
		else
			conn_close(c);
		break;
	default:
		conn_close(c);
		return;
	}
	if (!c->dead)
		pump(c);
}

int conn__accept(struct worker *w, struct worker_listener *l, int fd,
		 const struct sockaddr_storage *peer)
{
	const struct lbtls_config *cfg = w->cfg;
	struct conn *c;
	int one = 1;

	c = calloc(1, sizeof(*c));
	if (!c)
		goto fail;
	if (l->tls) {
		c->ssl = tls__ssl_new(w->tls, fd);
		if (!c->ssl)
			goto fail;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	loop__io_init(&c->io, fd, client_io);
	loop__timer_init(&c->timer, conn_timeout);
	c->w = w;
	c->lis = l;
	c->peer = *peer;
	c->server = -1;
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
	/* Nothing is read before epoll reports the socket (below). */
	c->rd_ready = false;
	c->head_deadline = w->loop.now + cfg->limits.header_timeout_ms;
	c->t_client_io = w->loop.now;
	c->t_start_us = wall_us();
	c->t_start_ms = w->loop.now;
	c->keep_alive = true;
	c->next = w->conns;
	if (w->conns)
		w->conns->prev = c;
	w->conns = c;
	w->nconns++;
	METRIC_ADD(w->m->accepted, 1);
	METRIC_ADD(w->m->active, 1);
	/*
	 * No handshake step here: the ClientHello (or a port 80 request) is
	 * read when epoll reports the socket, so a burst of new connections
	 * does not run its key exchanges and signatures ahead of the
	 * requests of established connections in one wakeup. Level-triggered
	 * epoll reports bytes that arrived before the socket was added.
	 */
	arm(c);
	return 0;
fail:
	ERR_clear_error();
	if (c) {
		SSL_free(c->ssl);
		free(c);
	}
	close(fd);
	return -ENOMEM;
}

void conn__drain_all(struct worker *w)
{
	struct conn *c, *next;

	for (c = w->conns; c; c = next) {
		next = c->next;
		if (c->state == C_IDLE && !buf_len(&c->in))
			conn_close(c);
		else
			c->close_after = true;
	}
}

void conn__close_all(struct worker *w)
{
	while (w->conns)
		conn_close(w->conns);
}
