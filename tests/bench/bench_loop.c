// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * bench_loop: epoll against io_uring on lbtls's I/O pattern (make
 * bench-loop, tests/bench/bench_loop.sh, docs/lbtls.md "Why epoll").
 *
 * A single-threaded TLS-terminating keep-alive HTTP/1.1 proxy: a request is
 * read from a TLS client, forwarded over a kept-alive plain TCP upstream
 * connection (fast_backend), the response (Content-Length) is read and sent
 * back over TLS as one record. Everything but the event loop is shared:
 *
 *   --loop epoll  level-triggered epoll readiness; OpenSSL on the socket
 *                 (SSL_set_fd, WANT_READ/WANT_WRITE), read-ahead on, a side
 *                 is read only while epoll reported it and the last read was
 *                 not short, lingering close, up to 16 accepts per
 *                 wakeup with no handshake step inline: as tls-tier/conn.c
 *                 and worker.c do.
 *   --loop uring  io_uring completions: multishot accept; on each client
 *                 socket one multishot recv into a provided buffer ring
 *                 (--recv multishot, the default: the buffer goes back to
 *                 the ring once its bytes are copied) or one single-shot
 *                 recv always posted into a per-connection buffer (--recv
 *                 single); send and recv on the upstream, close as SQEs;
 *                 OpenSSL through two memory BIOs (BIO_s_mem) fed by recv
 *                 completions and drained into send SQEs; one
 *                 io_uring_submit_and_wait per loop iteration
 *                 (SINGLE_ISSUER|DEFER_TASKRUN when the kernel has them,
 *                 else COOP_TASKRUN, else none).
 *   --plain       no TLS on the client side (the same loops, plain TCP).
 *
 * Usage: bench_loop --loop epoll|uring [--recv multishot|single] [--plain]
 *                   --listen ADDR:PORT --upstream ADDR:PORT
 *                   [--cert FILE --key FILE]
 *
 * TLS: 1.3 only, TLS_AES_128_GCM_SHA256, X25519, stock session tickets,
 * server session cache, read-ahead (lbtls's settings in bench-tls).
 * Limits (a benchmark tool, not lbtls): requests without a body only
 * (GET/HEAD), a response must fit in RESP_MAX bytes and have a
 * Content-Length, no timeouts, upstream connections are opened with a
 * blocking connect() (loopback) and then kept in an idle pool (with uring,
 * an idle one the backend closed is noticed at its next use). Anything
 * outside that closes the client connection, which wrk reports as an error.
 * Prints "bench_loop: listening ..." once ready; on SIGTERM/SIGINT prints
 * "bench_loop: conns=N reqs=N upstreams=N errors=N handshakes=N resumed=N"
 * to stderr and exits 0 (errors: bad requests or responses, upstream
 * failures; a client closing mid-request is not one).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_http.h"

#define HEAD_MAX 8192 /* a request head */
#define RESP_MAX 16384 /* a whole upstream response */
#define OUT_MAX (RESP_MAX + 64) /* the response to the client */
#define NET_BUF 17408 /* uring: recv and send buffers (one TLS record) */
#define RBIO_MAX (4 * NET_BUF) /* uring single recv: pause above this */
#define ACCEPT_BATCH 16 /* epoll: accepts per wakeup (lbtls's accept_io) */
#define MAX_EVENTS 256
#define RING_ENTRIES 4096
#define FREE_MAX 1024
#define BGID 1 /* uring multishot: the provided buffer group */
#define PBUF_COUNT 256 /* a power of 2 */
#define PBUF_SIZE 16384

enum { C_HS, C_REQ, C_UP, C_RESP, C_LINGER };

/* Tags in the low bits of epoll data and io_uring user_data. */
enum {
	T_LISTEN,
	T_CLIENT,
	T_UPSTREAM,
	T_CRECV,
	T_CSEND,
	T_URECV,
	T_USEND,
	T_IGNORE
};
#define TAG_MASK ((uintptr_t)7) /* the structs are 8-byte aligned */

struct conn;

struct upstream {
	int fd;
	int pending; /* uring: SQEs in flight */
	bool dead; /* as conn.dead */
	bool want_out; /* epoll: EPOLLOUT registered */
	struct conn *owner; /* NULL while idle */
	struct upstream *next; /* idle pool */
	size_t out_len, out_off, in_len;
	char out[HEAD_MAX];
	char in[RESP_MAX];
} __attribute__((aligned(8)));

struct conn {
	int fd;
	int state;
	SSL *ssl;
	BIO *rbio, *wbio; /* uring TLS: memory BIOs */
	struct upstream *up;
	bool close_after; /* the client asked for close */
	bool rd_ready; /* epoll: read until EAGAIN or a short read */
	bool want_out; /* epoll: EPOLLOUT registered */
	bool dead; /* epoll: closed, freed after the batch; uring: waiting
		    * for its SQEs in flight before it is freed */
	bool eof, shut_wr;
	bool recv_armed, send_armed; /* uring */
	int pending; /* uring: SQEs in flight */
	size_t in_len, out_len, out_off, send_len, send_off;
	struct conn *next; /* free list */
	char in[HEAD_MAX];
	char out[OUT_MAX];
	char rbuf[NET_BUF]; /* uring: recv target */
	char sbuf[NET_BUF]; /* uring TLS: send source */
} __attribute__((aligned(8)));

static bool use_uring, plain, multishot = true;
static struct io_uring_buf_ring *pbr;
static char *pbufs;
static SSL_CTX *ctx;
static struct sockaddr_in up_addr;
static int lfd, epfd;
static struct io_uring ring;
static struct upstream *idle_ups;
static struct conn *free_conns, *zombies; /* epoll: freed after a batch */
static struct upstream *up_zombies;
static int n_free;
/* n_errs: bad requests or responses, upstream failures (not client aborts) */
static unsigned long long n_conns, n_reqs, n_ups, n_errs, n_hs, n_resumed;
static volatile sig_atomic_t stop;

static void die(const char *what)
{
	fprintf(stderr, "bench_loop: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void *tagged(void *p, unsigned int tag)
{
	return (void *)((uintptr_t)p | tag);
}

static struct io_uring_sqe *sqe_get(void)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

	if (!sqe) { /* full: submit what is there (rare) */
		io_uring_submit(&ring);
		sqe = io_uring_get_sqe(&ring);
		if (!sqe)
			die("io_uring_get_sqe");
	}
	return sqe;
}

static void sqe_tag(struct io_uring_sqe *sqe, void *p, unsigned int tag)
{
	io_uring_sqe_set_data(sqe, tagged(p, tag));
}

/* --- HTTP: the part both loops share ------------------------------------ */

/*
 * Copy the head [p, p + len) (ending in CRLF CRLF) to DST without its
 * Connection and Keep-Alive lines, with EXTRA before the blank line.
 * Returns the bytes written, or 0 if it does not fit in ROOM.
 */
static size_t copy_head(char *dst, size_t room, const char *p, size_t len,
			const char *extra)
{
	const char *end = p + len - 2; /* the blank line */
	size_t o = 0, x = strlen(extra);

	while (p < end) {
		const char *eol = memchr(p, '\n', end - p);
		size_t l;

		if (!eol)
			return 0;
		l = eol + 1 - p;
		if (strncasecmp(p, "connection:", 11) &&
		    strncasecmp(p, "keep-alive:", 11)) {
			if (o + l > room)
				return 0;
			memcpy(dst + o, p, l);
			o += l;
		}
		p = eol + 1;
	}
	if (o + x + 2 > room)
		return 0;
	memcpy(dst + o, extra, x);
	memcpy(dst + o + x, "\r\n", 2);
	return o + x + 2;
}

/* --- upstream pool ------------------------------------------------------- */

static void ep_set(int fd, void *data, bool add, bool out)
{
	struct epoll_event ev = {
		.events = EPOLLIN | (out ? EPOLLOUT : 0),
		.data.ptr = data,
	};

	if (epoll_ctl(epfd, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &ev))
		die("epoll_ctl");
}

static struct upstream *up_get(void)
{
	struct upstream *up = idle_ups;
	int one = 1;

	if (up) {
		idle_ups = up->next;
		return up;
	}
	up = calloc(1, sizeof(*up));
	if (!up)
		return NULL;
	up->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (up->fd < 0 ||
	    connect(up->fd, (struct sockaddr *)&up_addr, sizeof(up_addr))) {
		fprintf(stderr, "bench_loop: upstream connect: %s\n",
			strerror(errno));
		if (up->fd >= 0)
			close(up->fd);
		free(up);
		return NULL;
	}
	setsockopt(up->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (!use_uring) {
		fcntl(up->fd, F_SETFL, O_NONBLOCK);
		ep_set(up->fd, tagged(up, T_UPSTREAM), true, false);
	}
	n_ups++;
	return up;
}

static void up_put(struct upstream *up)
{
	up->owner = NULL;
	up->in_len = 0;
	up->out_len = 0;
	up->out_off = 0;
	up->next = idle_ups;
	idle_ups = up;
}

static void up_free(struct upstream *up)
{
	if (up->owner)
		up->owner->up = NULL;
	up->owner = NULL;
	if (use_uring && up->pending) {
		/* freed by the last completion */
		struct io_uring_sqe *sqe = sqe_get();

		up->dead = true;
		io_uring_prep_cancel_fd(sqe, up->fd, IORING_ASYNC_CANCEL_ALL);
		sqe_tag(sqe, NULL, T_IGNORE);
		return;
	}
	close(up->fd); /* epoll: also leaves the interest list */
	if (use_uring) {
		free(up);
		return;
	}
	up->dead = true; /* epoll: events of this batch may still name it */
	up->next = up_zombies;
	up_zombies = up;
}

/* --- connections -------------------------------------------------------- */

static struct conn *conn_new(int fd)
{
	struct conn *c = free_conns;

	if (c) {
		free_conns = c->next;
		n_free--;
	} else {
		c = malloc(sizeof(*c));
		if (!c)
			return NULL;
	}
	memset(c, 0, offsetof(struct conn, in));
	c->fd = fd;
	c->state = plain ? C_REQ : C_HS;
	if (!plain) {
		c->ssl = SSL_new(ctx);
		if (!c->ssl)
			goto fail;
		if (use_uring) {
			c->rbio = BIO_new(BIO_s_mem());
			c->wbio = BIO_new(BIO_s_mem());
			if (!c->rbio || !c->wbio) {
				BIO_free(c->rbio);
				BIO_free(c->wbio);
				goto fail;
			}
			/* empty means "retry", not end of file */
			BIO_set_mem_eof_return(c->rbio, -1);
			SSL_set_bio(c->ssl, c->rbio, c->wbio);
		} else if (!SSL_set_fd(c->ssl, fd)) {
			goto fail;
		}
		SSL_set_accept_state(c->ssl);
	}
	n_conns++;
	return c;
fail:
	SSL_free(c->ssl);
	free(c);
	return NULL;
}

static void conn_free(struct conn *c)
{
	SSL_free(c->ssl); /* and the memory BIOs */
	if (n_free < FREE_MAX) {
		c->next = free_conns;
		free_conns = c;
		n_free++;
	} else {
		free(c);
	}
}

static void uring_conn_close(struct conn *c);

static void conn_close(struct conn *c, bool error)
{
	if (error)
		n_errs++;
	if (c->up) /* a request in flight: that upstream is not reusable */
		up_free(c->up);
	if (use_uring) {
		uring_conn_close(c);
		return;
	}
	epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL); /* as lbtls's loop */
	close(c->fd);
	c->dead = true; /* events of this batch may still name it */
	c->next = zombies;
	zombies = c;
}

static int up_send(struct upstream *up);
static void uring_up_recv(struct upstream *up);

/*
 * A complete request head in c->in: forward it upstream. Returns -1 on a
 * request this proxy does not take.
 */
static int on_request(struct conn *c)
{
	char *hend = memmem(c->in, c->in_len, "\r\n\r\n", 4);
	const char *v, *eol;
	struct upstream *up;
	size_t hlen;

	if (!hend)
		return c->in_len == sizeof(c->in) ? -1 : 0;
	hend += 4;
	hlen = hend - c->in;
	if (find_header(c->in, hend, "Content-Length") ||
	    find_header(c->in, hend, "Transfer-Encoding"))
		return -1; /* bodies: not in this benchmark */
	eol = memchr(c->in, '\n', hlen);
	c->close_after = !memmem(c->in, eol - c->in, "HTTP/1.1", 8);
	v = find_header(c->in, hend, "Connection");
	if (v && value_has(v, "close"))
		c->close_after = true;
	else if (v && value_has(v, "keep-alive"))
		c->close_after = false;
	up = up_get();
	if (!up)
		return -1;
	up->owner = c;
	c->up = up;
	up->out_len = copy_head(up->out, sizeof(up->out), c->in, hlen, "");
	if (!up->out_len)
		return -1;
	memmove(c->in, hend, c->in_len - hlen);
	c->in_len -= hlen;
	c->state = C_UP;
	if (up_send(up))
		return -1;
	if (use_uring)
		uring_up_recv(up);
	return 0;
}

/*
 * Bytes arrived from the upstream: 1 when the response is complete (it is
 * then in c->out and the upstream back in the pool), 0 when more is to
 * come, -1 on a response this proxy does not take.
 */
static int on_response(struct upstream *up)
{
	struct conn *c = up->owner;
	char *hend = memmem(up->in, up->in_len, "\r\n\r\n", 4);
	const char *v;
	size_t hlen, cl, h;

	if (!hend)
		return up->in_len == sizeof(up->in) ? -1 : 0;
	hend += 4;
	hlen = hend - up->in;
	v = find_header(up->in, hend, "Content-Length");
	if (!v)
		return -1;
	cl = strtoull(v, NULL, 10);
	if (hlen + cl > sizeof(up->in))
		return -1;
	if (up->in_len < hlen + cl)
		return 0;
	if (up->in_len > hlen + cl)
		return -1; /* we never pipeline upstream */
	h = copy_head(c->out, sizeof(c->out), up->in, hlen,
		      c->close_after ? "Connection: close\r\n" : "");
	if (!h || h + cl > sizeof(c->out))
		return -1;
	memcpy(c->out + h, hend, cl); /* head and body: one TLS record */
	c->out_len = h + cl;
	c->out_off = 0;
	c->state = C_RESP;
	c->up = NULL;
	up_put(up);
	return 1;
}

/* The response is out (or, uring TLS, handed to OpenSSL). */
static int request_done(struct conn *c)
{
	n_reqs++;
	c->out_len = c->out_off = 0;
	if (c->close_after) {
		c->state = C_LINGER;
		c->in_len = 0;
		if (c->ssl) {
			ERR_clear_error();
			SSL_shutdown(c->ssl); /* close_notify */
			ERR_clear_error();
		}
		if (!use_uring) { /* uring: after the last send */
			shutdown(c->fd, SHUT_WR);
			c->shut_wr = true;
		}
		return 0;
	}
	c->state = C_REQ;
	return c->in_len ? on_request(c) : 0;
}

static void handshake_done(struct conn *c)
{
	n_hs++;
	if (SSL_session_reused(c->ssl))
		n_resumed++;
}

/* --- epoll ------------------------------------------------------------------ */

static void ep_want_out(struct conn *c, bool out)
{
	if (c->want_out != out) {
		c->want_out = out;
		ep_set(c->fd, tagged(c, T_CLIENT), false, out);
	}
}

/* >0 bytes, 0 would block, -1 end of stream or error */
static ssize_t ep_read(struct conn *c, char *p, size_t n)
{
	ssize_t r;

	if (!c->ssl) {
		r = read(c->fd, p, n);
		if (r > 0)
			return r;
		return r < 0 && (errno == EAGAIN || errno == EINTR) ? 0 : -1;
	}
	ERR_clear_error();
	r = SSL_read(c->ssl, p, n);
	if (r > 0)
		return r;
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return 0;
	default:
		ERR_clear_error();
		return -1;
	}
}

static ssize_t ep_write(struct conn *c, const char *p, size_t n)
{
	ssize_t r;

	if (!c->ssl) {
		r = send(c->fd, p, n, MSG_NOSIGNAL);
		if (r >= 0)
			return r;
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	}
	ERR_clear_error();
	r = SSL_write(c->ssl, p, n);
	if (r > 0)
		return r;
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return 0;
	default:
		ERR_clear_error();
		return -1;
	}
}

static void ep_client_io(struct conn *c)
{
	int i;

	if (c->state == C_HS) {
		int r;

		ERR_clear_error();
		r = SSL_do_handshake(c->ssl);
		if (r != 1) {
			switch (SSL_get_error(c->ssl, r)) {
			case SSL_ERROR_WANT_READ:
				ep_want_out(c, false);
				return;
			case SSL_ERROR_WANT_WRITE:
				ep_want_out(c, true);
				return;
			default:
				ERR_clear_error();
				conn_close(c, false);
				return;
			}
		}
		ep_want_out(c, false);
		c->state = C_REQ;
		c->rd_ready = true;
		handshake_done(c);
	}
	/* bounded: each pass makes progress or stops */
	for (i = 0; i < 64; i++) {
		bool progress = false;

		if (c->state == C_LINGER) {
			char junk[4096];
			ssize_t n = recv(c->fd, junk, sizeof(junk), 0);

			if (n == 0 || (n < 0 && errno != EAGAIN))
				conn_close(c, false);
			return;
		}
		if (c->in_len < sizeof(c->in) &&
		    (c->rd_ready || (c->ssl && SSL_has_pending(c->ssl)))) {
			size_t room = sizeof(c->in) - c->in_len;
			ssize_t n = ep_read(c, c->in + c->in_len, room);

			if (n < 0) {
				conn_close(c, false);
				return;
			}
			if (n == 0 || (size_t)n < room)
				c->rd_ready = false;
			c->in_len += n;
			progress = n > 0;
		}
		if (c->state == C_REQ && c->in_len && on_request(c)) {
			conn_close(c, true);
			return;
		}
		if (c->state == C_RESP) {
			ssize_t n = ep_write(c, c->out + c->out_off,
					     c->out_len - c->out_off);

			if (n < 0) {
				conn_close(c, false);
				return;
			}
			c->out_off += n;
			ep_want_out(c, c->out_off < c->out_len);
			if (c->out_off == c->out_len) {
				if (request_done(c)) {
					conn_close(c, true);
					return;
				}
				progress = true;
			}
		}
		if (!progress)
			break;
	}
}

static void ep_accept(void)
{
	int i, one = 1;

	for (i = 0; i < ACCEPT_BATCH; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct conn *c;

		if (fd < 0)
			return;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c = conn_new(fd);
		if (!c) {
			close(fd);
			continue;
		}
		/* registered only: the handshake moves on readiness events */
		ep_set(fd, tagged(c, T_CLIENT), true, false);
		c->rd_ready = true;
	}
}

/* Send the request upstream (or post the send); -1 on an error. */
static int up_send(struct upstream *up)
{
	ssize_t n;

	if (use_uring) {
		struct io_uring_sqe *sqe = sqe_get();

		io_uring_prep_send(sqe, up->fd, up->out + up->out_off,
				   up->out_len - up->out_off, MSG_NOSIGNAL);
		sqe_tag(sqe, up, T_USEND);
		up->pending++;
		return 0;
	}
	n = send(up->fd, up->out + up->out_off, up->out_len - up->out_off,
		 MSG_NOSIGNAL);
	if (n < 0 && errno != EAGAIN && errno != EINTR)
		return -1;
	if (n > 0)
		up->out_off += n;
	if ((up->out_off < up->out_len) != up->want_out) {
		up->want_out = !up->want_out;
		ep_set(up->fd, tagged(up, T_UPSTREAM), false, up->want_out);
	}
	return 0;
}

static void ep_upstream(struct upstream *up, uint32_t events)
{
	struct conn *c = up->owner;
	int r = 0;

	if ((events & EPOLLOUT) && up->out_off < up->out_len && up_send(up))
		r = -1;
	for (; !r && (events & (EPOLLIN | EPOLLERR | EPOLLHUP));) {
		size_t room = sizeof(up->in) - up->in_len;
		ssize_t n;

		if (!room) {
			r = -1;
			break;
		}
		n = recv(up->fd, up->in + up->in_len, room, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n <= 0 || !c) { /* closed, error, or bytes on an idle one */
			r = -1;
			break;
		}
		up->in_len += n;
		if ((size_t)n < room) /* short: epoll reports the rest */
			break;
	}
	if (!r && c && up->in_len)
		r = on_response(up);
	if (r < 0) {
		if (!c) /* an idle one: drop it from the pool */
			for (struct upstream **p = &idle_ups; *p;
			     p = &(*p)->next)
				if (*p == up) {
					*p = up->next;
					break;
				}
		up_free(up);
		if (c)
			conn_close(c, true);
	} else if (r > 0) {
		ep_client_io(c);
	}
}

static void ep_run(void)
{
	struct epoll_event evs[MAX_EVENTS];

	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		die("epoll_create1");
	ep_set(lfd, tagged(NULL, T_LISTEN), true, false);
	while (!stop) {
		int n = epoll_wait(epfd, evs, MAX_EVENTS, -1), i;

		if (n < 0 && errno != EINTR)
			die("epoll_wait");
		for (i = 0; i < n; i++) {
			uintptr_t d = (uintptr_t)evs[i].data.ptr;
			void *p = (void *)(d & ~TAG_MASK);

			switch (d & TAG_MASK) {
			case T_LISTEN:
				ep_accept();
				break;
			case T_CLIENT: {
				struct conn *c = p;

				if (c->dead)
					break;
				if (evs[i].events &
				    (EPOLLIN | EPOLLERR | EPOLLHUP))
					c->rd_ready = true;
				ep_client_io(c);
				break;
			}
			case T_UPSTREAM:
				if (!((struct upstream *)p)->dead)
					ep_upstream(p, evs[i].events);
				break;
			}
		}
		while (zombies) {
			struct conn *c = zombies;

			zombies = c->next;
			conn_free(c);
		}
		while (up_zombies) {
			struct upstream *up = up_zombies;

			up_zombies = up->next;
			free(up);
		}
	}
}

/* --- io_uring --------------------------------------------------------------- */

static void uring_accept(void)
{
	struct io_uring_sqe *sqe = sqe_get();

	io_uring_prep_multishot_accept(sqe, lfd, NULL, NULL, SOCK_CLOEXEC);
	sqe_tag(sqe, NULL, T_LISTEN);
}

static void uring_up_recv(struct upstream *up)
{
	struct io_uring_sqe *sqe = sqe_get();

	io_uring_prep_recv(sqe, up->fd, up->in + up->in_len,
			   sizeof(up->in) - up->in_len, 0);
	sqe_tag(sqe, up, T_URECV);
	up->pending++;
}

static void uring_conn_close(struct conn *c)
{
	struct io_uring_sqe *sqe;

	if (c->pending) { /* freed by the last completion */
		if (!c->dead) {
			sqe = sqe_get();
			io_uring_prep_cancel_fd(sqe, c->fd,
						IORING_ASYNC_CANCEL_ALL);
			sqe_tag(sqe, NULL, T_IGNORE);
		}
		c->dead = true;
		return;
	}
	sqe = sqe_get();
	io_uring_prep_close(sqe, c->fd);
	sqe_tag(sqe, NULL, T_IGNORE);
	conn_free(c);
}

/*
 * Drive a connection after a completion: handshake, decrypt, requests,
 * encrypt the response, then post the sends and recvs it needs.
 */
static void uring_progress(struct conn *c)
{
	struct io_uring_sqe *sqe;

	if (c->state == C_HS) {
		int r;

		ERR_clear_error();
		r = SSL_do_handshake(c->ssl);
		if (r == 1) {
			c->state = C_REQ;
			handshake_done(c);
		} else if (SSL_get_error(c->ssl, r) != SSL_ERROR_WANT_READ) {
			ERR_clear_error();
			conn_close(c, false);
			return;
		}
	}
	if (c->ssl && c->state != C_HS && c->state != C_LINGER) {
		while (c->in_len < sizeof(c->in)) {
			int r;

			ERR_clear_error();
			r = SSL_read(c->ssl, c->in + c->in_len,
				     sizeof(c->in) - c->in_len);
			if (r > 0) {
				c->in_len += r;
				continue;
			}
			if (SSL_get_error(c->ssl, r) != SSL_ERROR_WANT_READ) {
				ERR_clear_error();
				conn_close(c, false);
				return;
			}
			break;
		}
	}
	if (c->state == C_REQ && c->in_len && on_request(c)) {
		conn_close(c, true);
		return;
	}
	if (c->state == C_RESP && c->ssl) {
		/* a memory BIO takes it all: one record, one SSL_write */
		ERR_clear_error();
		if (SSL_write(c->ssl, c->out, c->out_len) != (int)c->out_len ||
		    request_done(c)) {
			ERR_clear_error();
			conn_close(c, true);
			return;
		}
	}
	if (c->eof && c->state != C_LINGER) {
		conn_close(c, false);
		return;
	}
	/* send: the TLS bytes OpenSSL wrote, or the plain response */
	if (!c->send_armed) {
		if (c->ssl && BIO_ctrl_pending(c->wbio)) {
			c->send_len =
				BIO_read(c->wbio, c->sbuf, sizeof(c->sbuf));
			c->send_off = 0;
			sqe = sqe_get();
			io_uring_prep_send(sqe, c->fd, c->sbuf, c->send_len,
					   MSG_NOSIGNAL);
		} else if (!c->ssl && c->state == C_RESP) {
			c->send_len = c->out_len;
			c->send_off = 0;
			sqe = sqe_get();
			io_uring_prep_send(sqe, c->fd, c->out, c->out_len,
					   MSG_NOSIGNAL);
		} else {
			sqe = NULL;
		}
		if (sqe) {
			sqe_tag(sqe, c, T_CSEND);
			c->send_armed = true;
			c->pending++;
		}
	}
	if (c->state == C_LINGER && !c->send_armed && !c->shut_wr) {
		/* a syscall, as lbtls: IORING_OP_SHUTDOWN always goes to io-wq */
		shutdown(c->fd, SHUT_WR);
		c->shut_wr = true;
	}
	if (c->state == C_LINGER && c->eof) {
		if (!c->send_armed)
			conn_close(c, false);
		return;
	}
	/* one recv always posted, unless OpenSSL holds enough unread */
	if (!c->recv_armed && !c->eof &&
	    (!c->ssl || BIO_ctrl_pending(c->rbio) < RBIO_MAX)) {
		size_t n = sizeof(c->rbuf);

		if (!c->ssl && c->state != C_LINGER)
			n = sizeof(c->in) - c->in_len;
		if (n) {
			sqe = sqe_get();
			if (multishot) {
				io_uring_prep_recv_multishot(sqe, c->fd, NULL,
							     0, 0);
				sqe->flags |= IOSQE_BUFFER_SELECT;
				sqe->buf_group = BGID;
			} else {
				io_uring_prep_recv(sqe, c->fd, c->rbuf, n, 0);
			}
			sqe_tag(sqe, c, T_CRECV);
			c->recv_armed = true;
			c->pending++;
		}
	}
}

static void uring_crecv(struct conn *c, int res, const char *data, bool more)
{
	c->recv_armed = more;
	if (res == -ENOBUFS) { /* the ring ran dry: post it again */
		uring_progress(c);
		return;
	}
	if (res <= 0) {
		if (res < 0 && res != -ECONNRESET) {
			conn_close(c, false);
			return;
		}
		c->eof = true;
	} else if (c->state == C_LINGER) {
		/* dropped */
	} else if (c->ssl) {
		if (BIO_write(c->rbio, data, res) != res) {
			conn_close(c, true);
			return;
		}
	} else {
		if ((size_t)res > sizeof(c->in) - c->in_len) {
			conn_close(c, true); /* multishot: no room to pause */
			return;
		}
		memcpy(c->in + c->in_len, data, res);
		c->in_len += res;
	}
	uring_progress(c);
}

static void uring_csend(struct conn *c, int res)
{
	struct io_uring_sqe *sqe;

	c->send_armed = false;
	if (res < 0) {
		conn_close(c, false);
		return;
	}
	c->send_off += res;
	if (c->send_off < c->send_len) {
		sqe = sqe_get();
		io_uring_prep_send(sqe, c->fd,
				   (c->ssl ? c->sbuf : c->out) + c->send_off,
				   c->send_len - c->send_off, MSG_NOSIGNAL);
		sqe_tag(sqe, c, T_CSEND);
		c->send_armed = true;
		c->pending++;
		return;
	}
	if (!c->ssl && request_done(c)) {
		conn_close(c, true);
		return;
	}
	uring_progress(c);
}

static void uring_upstream(struct upstream *up, unsigned int tag, int res)
{
	struct conn *c = up->owner;
	int r = 0;

	if (tag == T_USEND) {
		if (res < 0)
			r = -1;
		else if ((up->out_off += res) < up->out_len)
			up_send(up);
	} else if (res <= 0) {
		r = -1;
	} else {
		up->in_len += res;
		r = on_response(up);
		if (!r)
			uring_up_recv(up);
	}
	if (r < 0) {
		up_free(up);
		if (c)
			conn_close(c, true);
	} else if (r > 0) {
		uring_progress(c);
	}
}

static void uring_cqe(struct io_uring_cqe *cqe)
{
	uintptr_t d = (uintptr_t)io_uring_cqe_get_data(cqe);
	unsigned int tag = d & TAG_MASK;
	void *p = (void *)(d & ~TAG_MASK);
	int one = 1;

	switch (tag) {
	case T_LISTEN:
		if (cqe->res >= 0) {
			struct conn *c;

			setsockopt(cqe->res, IPPROTO_TCP, TCP_NODELAY, &one,
				   sizeof(one));
			c = conn_new(cqe->res);
			if (c)
				uring_progress(c);
			else
				close(cqe->res);
		}
		if (!(cqe->flags & IORING_CQE_F_MORE))
			uring_accept();
		break;
	case T_CRECV:
	case T_CSEND: {
		struct conn *c = p;
		bool more = tag == T_CRECV && (cqe->flags & IORING_CQE_F_MORE);
		const char *data = c->rbuf;
		unsigned int bid = 0;

		if (cqe->flags & IORING_CQE_F_BUFFER) {
			bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
			data = pbufs + (size_t)bid * PBUF_SIZE;
		}
		if (!more)
			c->pending--;
		if (c->dead) {
			if (!c->pending) {
				c->dead = false;
				uring_conn_close(c);
			}
		} else if (tag == T_CRECV) {
			uring_crecv(c, cqe->res, data, more);
		} else {
			uring_csend(c, cqe->res);
		}
		if (cqe->flags &
		    IORING_CQE_F_BUFFER) { /* copied: give it back */
			io_uring_buf_ring_add(
				pbr, (char *)data, PBUF_SIZE, bid,
				io_uring_buf_ring_mask(PBUF_COUNT), 0);
			io_uring_buf_ring_advance(pbr, 1);
		}
		break;
	}
	case T_URECV:
	case T_USEND: {
		struct upstream *up = p;

		up->pending--;
		if (up->dead) {
			if (!up->pending) {
				close(up->fd);
				free(up);
			}
			break;
		}
		uring_upstream(up, tag, cqe->res);
		break;
	}
	}
}

static void uring_run(void)
{
	static const unsigned int flags[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
		IORING_SETUP_COOP_TASKRUN,
		0,
	};
	static const char *const names[] = { "single_issuer+defer_taskrun",
					     "coop_taskrun", "none" };
	unsigned int i;
	int r = -EINVAL;

	for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		r = io_uring_queue_init(RING_ENTRIES, &ring, flags[i]);
		if (!r)
			break;
	}
	if (r) {
		errno = -r;
		die("io_uring_queue_init");
	}
	fprintf(stderr, "bench_loop: io_uring setup flags: %s, recv %s\n",
		names[i], multishot ? "multishot, provided buffers" : "single");
	if (multishot) {
		struct io_uring_buf_reg reg = {
			.ring_entries = PBUF_COUNT,
			.bgid = BGID,
		};

		if (posix_memalign((void **)&pbr, 4096,
				   PBUF_COUNT * sizeof(struct io_uring_buf)))
			die("posix_memalign");
		pbufs = malloc((size_t)PBUF_COUNT * PBUF_SIZE);
		if (!pbufs)
			die("malloc");
		reg.ring_addr = (unsigned long)pbr;
		r = io_uring_register_buf_ring(&ring, &reg, 0);
		if (r) {
			errno = -r;
			die("io_uring_register_buf_ring");
		}
		io_uring_buf_ring_init(pbr);
		for (i = 0; i < PBUF_COUNT; i++)
			io_uring_buf_ring_add(
				pbr, pbufs + (size_t)i * PBUF_SIZE, PBUF_SIZE,
				i, io_uring_buf_ring_mask(PBUF_COUNT), i);
		io_uring_buf_ring_advance(pbr, PBUF_COUNT);
	}
	uring_accept();
	while (!stop) {
		struct io_uring_cqe *cqe;
		unsigned int head, n = 0;

		r = io_uring_submit_and_wait(&ring, 1);
		if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY) {
			errno = -r;
			die("io_uring_submit_and_wait");
		}
		io_uring_for_each_cqe(&ring, head, cqe)
		{
			uring_cqe(cqe);
			n++;
		}
		io_uring_cq_advance(&ring, n);
	}
}

/* --- setup ------------------------------------------------------------------ */

static int parse_addr(const char *s, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(s, ':');

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -1;
	memcpy(host, s, colon - s);
	host[colon - s] = '\0';
	sa->sin_family = AF_INET;
	sa->sin_port = htons(atoi(colon + 1));
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1 && sa->sin_port ?
		       0 :
		       -1;
}

static SSL_CTX *make_ctx(const char *cert, const char *key)
{
	SSL_CTX *x = SSL_CTX_new(TLS_server_method());

	if (!x || !SSL_CTX_set_min_proto_version(x, TLS1_3_VERSION) ||
	    !SSL_CTX_set_ciphersuites(x, "TLS_AES_128_GCM_SHA256") ||
	    !SSL_CTX_set1_groups_list(x, "X25519") ||
	    SSL_CTX_use_certificate_chain_file(x, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(x, key, SSL_FILETYPE_PEM) != 1 ||
	    !SSL_CTX_check_private_key(x)) {
		ERR_print_errors_fp(stderr);
		return NULL;
	}
	/* lbtls's settings (tls-tier/tls/tls.c) */
	SSL_CTX_set_options(x, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
				       SSL_OP_IGNORE_UNEXPECTED_EOF |
				       SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(x, SSL_MODE_ENABLE_PARTIAL_WRITE |
				    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
				    SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_read_ahead(x, 1);
	SSL_CTX_set_session_id_context(x, (const unsigned char *)"bench", 5);
	SSL_CTX_set_session_cache_mode(x, SSL_SESS_CACHE_SERVER);
	return x;
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: bench_loop --loop epoll|uring [--recv multishot|single] [--plain] --listen ADDR:PORT --upstream ADDR:PORT [--cert FILE --key FILE]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *loop = NULL, *listen_s = NULL, *up_s = NULL;
	const char *cert = NULL, *key = NULL;
	struct sockaddr_in sa;
	struct sigaction act = { .sa_handler = on_signal };
	int i, one = 1;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--plain")) {
			plain = true;
			continue;
		}
		if (i + 1 == argc)
			usage();
		if (!strcmp(a, "--loop"))
			loop = argv[++i];
		else if (!strcmp(a, "--listen"))
			listen_s = argv[++i];
		else if (!strcmp(a, "--upstream"))
			up_s = argv[++i];
		else if (!strcmp(a, "--recv"))
			multishot = strcmp(argv[++i], "single");
		else if (!strcmp(a, "--cert"))
			cert = argv[++i];
		else if (!strcmp(a, "--key"))
			key = argv[++i];
		else
			usage();
	}
	if (!loop || !listen_s || !up_s || (!plain && (!cert || !key)) ||
	    (strcmp(loop, "epoll") && strcmp(loop, "uring")))
		usage();
	use_uring = !strcmp(loop, "uring");
	if (parse_addr(listen_s, &sa) || parse_addr(up_s, &up_addr)) {
		fprintf(stderr, "bench_loop: bad address\n");
		return 2;
	}
	if (!plain && !(ctx = make_ctx(cert, key)))
		return 1;

	sigaction(SIGTERM, &act, NULL);
	sigaction(SIGINT, &act, NULL);
	signal(SIGPIPE, SIG_IGN);
	lfd = socket(AF_INET,
		     SOCK_STREAM | SOCK_CLOEXEC |
			     (use_uring ? 0 : SOCK_NONBLOCK),
		     0);
	if (lfd < 0)
		die("socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 4096))
		die(listen_s);
	printf("bench_loop: listening on %s, loop %s, %s\n", listen_s, loop,
	       plain ? "plain" : "TLS");
	fflush(stdout);
	if (use_uring)
		uring_run();
	else
		ep_run();
	fprintf(stderr,
		"bench_loop: conns=%llu reqs=%llu upstreams=%llu errors=%llu handshakes=%llu resumed=%llu\n",
		n_conns, n_reqs, n_ups, n_errs, n_hs, n_resumed);
	return 0;
}
