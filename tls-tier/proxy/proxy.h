/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the pieces of the proxy core share inside one worker: the loop, the
 * configuration, the upstreams and their pool, the counters. The worker
 * owns it and is the only file that knows every piece (docs/lbtls.md,
 * "Structure"); client, txn and local answers see only this.
 */
#ifndef LBTLS_PROXY_H
#define LBTLS_PROXY_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "loop.h"
#include "metrics.h"
#include "pool.h"
#include "tls.h"
#include "upstream.h"

struct client;
struct txn;
struct peer_counts;

struct proxy {
	struct loop loop;
	const struct lbtls_config *cfg;
	struct tls_ctx *tls;
	struct upstream up;
	struct pool pool;
	struct metrics_block *m;
	char served_by[96]; /* header line or "" */
	uint16_t https_port; /* for the port 80 redirect */
	/* Draining (reload, graceful stop): every response says
	 * Connection: close, no upstream connection is pooled. */
	bool draining;
	struct client *clients; /* every open client connection */
	unsigned nclients;
	/* the worker's: a client connection has gone (resume accepting) */
	void (*client_gone)(struct proxy *px);
	/* Transactions waiting for a server under upstream.max_conns, FIFO */
	struct txn *q_head, *q_tail;
	unsigned q_len;
	/* open connections per client address (limits.per_client_connections) */
	struct peer_counts *peers;
	/* Buffers between requests (buf.h), one cache per size. */
	struct buf_cache in_cache, in_big_cache, out_cache, uin_cache,
		uout_cache;
};

/* Refresh the "up" gauges after a health change. */
void proxy__publish_health(struct proxy *px);

/* A local resource ran out (EMFILE, ENOBUFS...): logged and counted, never
 * held against a backend. */
void proxy__local_error(struct proxy *px, int err, const char *what);

/* Wall clock in microseconds, for the access log. */
uint64_t proxy__wall_us(void);

#endif /* LBTLS_PROXY_H */
