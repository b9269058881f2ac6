/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Upstream connections and the per-server keep-alive pool. The pool never
 * knows who uses a connection (h2o's socketpool): the owner gets its events
 * through the callback it passed to pool__acquire(). An idle pooled
 * connection stays in epoll: if the server closes it or sends anything, it
 * is dropped at once; and it is checked again (recv MSG_PEEK) before reuse.
 */
#ifndef LBTLS_POOL_H
#define LBTLS_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include "loop.h"

struct upstream;
struct pool_conn;

typedef void (*pool_cb)(struct pool_conn *pc, uint32_t events, void *data);

struct pool_conn {
	struct loop_io io; /* first: the epoll callback casts back */
	struct pool *pool;
	pool_cb cb; /* NULL while idle in the pool */
	void *data;
	int server;
	bool connecting;
	bool reused; /* came from the pool */
	bool idle; /* linked in its server's idle list */
	uint64_t idle_since; /* loop ms when it was pooled */
	struct pool_conn *next;
};

struct pool {
	struct loop *loop;
	struct upstream *up; /* idle lists live in its servers */
	unsigned keepalive; /* idle connections kept per server */
	bool closing; /* pool nothing any more (draining worker) */
};

void pool__init(struct pool *p, struct loop *loop, struct upstream *up,
		unsigned keepalive);

/*
 * A connection to 'server' for an owner: a pooled one that is still alive,
 * else a new non-blocking connect (pc->connecting while in progress; the
 * owner learns the outcome from its first event). Returns 0 or -errno:
 * pool__local_error() tells apart a lack of local resources (no fault of
 * the server) from a connect the server refused.
 */
int pool__acquire(struct pool *p, int server, pool_cb cb, void *data,
		  struct pool_conn **out);

/* The owner is done: back to the pool when 'reuse' and there is room. */
void pool__release(struct pool_conn *pc, bool reuse);

/* EMFILE, ENFILE, ENOBUFS, ENOMEM, EADDRNOTAVAIL: this process or host
 * ran out. */
bool pool__local_error(int err);

/* Close idle connections pooled for longer than 'max_idle' ms. */
void pool__expire(struct pool *p, uint64_t max_idle);

/* Close the idle connections of one server, or of all (server < 0). */
void pool__flush(struct pool *p, int server);

#endif /* LBTLS_POOL_H */
