/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Upstream connections and the per-server keep-alive pool. An idle pooled
 * connection stays in epoll: if the server closes it (or sends anything),
 * it is dropped at once instead of failing the next request.
 */
#ifndef LBTLS_POOL_H
#define LBTLS_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include "loop.h"

struct worker;
struct conn;

struct pool_conn {
	struct loop_io io;
	struct worker *w;
	struct conn *owner; /* NULL while idle in the pool */
	int server;
	bool connecting;
	bool reused; /* came from the pool: may be stale */
	bool idle; /* linked in its server's idle list */
	uint64_t idle_since; /* loop ms when it was pooled */
	struct pool_conn *next;
};

/* An idle connection to 'server', or NULL. */
struct pool_conn *pool__get(struct worker *w, int server);

/* Start a non-blocking connect; *out is set even while in progress. */
int pool__connect(struct worker *w, int server, struct pool_conn **out);

/* Return to the pool when there is room, else close. */
void pool__put(struct pool_conn *pc);

void pool__close(struct pool_conn *pc);

/* Close idle connections pooled for longer than 'max_idle' ms. */
void pool__expire(struct worker *w, uint64_t max_idle);

/* Close every idle connection (worker exit). */
void pool__flush(struct worker *w);

#endif /* LBTLS_POOL_H */
