/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Counters in one shared anonymous mapping made by the master before it
 * forks: each worker process owns one block and is its only writer (relaxed
 * stores, no locks); the master sums the blocks into Prometheus text. When a
 * worker exits, the master folds its counters into the 'retired' block so
 * totals never go backwards across reloads and respawns.
 */
#ifndef LBTLS_METRICS_H
#define LBTLS_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "upstream.h"

#define METRICS_MAX_PROCS 128
#define METRICS_MAX_STATUS 600

struct metrics_server {
	char name[80];
	uint64_t requests; /* responses received from it */
	uint64_t failures; /* connect/read errors and timeouts */
	uint64_t latency_us; /* sum of time to response head */
	uint32_t up; /* this worker's view: 1 up, 0 down */
	uint32_t pad;
};

struct metrics_block {
	int32_t pid;
	int32_t slot;
	uint32_t gen;
	uint32_t in_use;
	uint64_t status[METRICS_MAX_STATUS];
	uint64_t handshakes_full;
	uint64_t handshakes_resumed;
	uint64_t handshake_errors;
	uint64_t accepted;
	uint64_t local_errors; /* EMFILE, ENOBUFS...: never a backend's fault */
	int64_t active; /* gauge: open client connections */
	uint32_t nservers;
	uint32_t pad;
	struct metrics_server servers[CFG_MAX_SERVERS];
};

struct metrics_shm {
	struct metrics_block retired;
	struct metrics_block procs[METRICS_MAX_PROCS];
	/* Not counters: the servers the master read from upstream.file, which
	 * the workers read; the mapping is already shared with all of them. */
	struct upstream_set discovered;
};

#define METRIC_ADD(field, n) \
	__atomic_store_n(&(field), (field) + (n), __ATOMIC_RELAXED)
#define METRIC_SET(field, v) __atomic_store_n(&(field), (v), __ATOMIC_RELAXED)

struct metrics_shm *metrics__create(void);
void metrics__destroy(struct metrics_shm *m);

/* A free block for a worker about to be forked, or NULL. */
struct metrics_block *metrics__claim(struct metrics_shm *m, int slot,
				     unsigned gen,
				     const struct cfg_upstream *up);
/* Fold the counters of the process that owned blk into 'retired'. */
void metrics__retire(struct metrics_shm *m, struct metrics_block *blk);

/* Prometheus text exposition into buf; returns its length. */
size_t metrics__render(struct metrics_shm *m, char *buf, size_t cap);

#endif /* LBTLS_METRICS_H */
