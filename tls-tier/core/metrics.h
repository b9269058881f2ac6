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

/*
 * Process slots: every worker a reload can have, the running generation
 * plus one draining generation at CFG_MAX_WORKERS each. A reload that would
 * need more waits for older generations to drain (master.c).
 *
 * The mapping is made once, before the first fork, and every worker of
 * every later generation inherits it, so it cannot follow the
 * configuration: a reload may raise 'workers' to CFG_MAX_WORKERS and it
 * cannot be grown under live children. It is sized for the maximum:
 * sizeof(struct metrics_block) is 12040 bytes (4800 of status counters,
 * 7168 of servers), 512 blocks + 'retired' + 'discovered' are 5.9 MiB
 * of address space. It is shmem: a page is backed once touched, and blocks
 * are claimed lowest first and never read above the highest ever claimed
 * ('high'), so lbtls pays for the most processes it ever had at once: 4
 * workers with one draining generation, 8 blocks (94 KiB); 200 workers,
 * 400 blocks (4.6 MiB). Status counters for only the codes that occur (an
 * index per code) would save 4 KiB a block but cost a lookup on every
 * response; not worth it at this size.
 */
#define METRICS_MAX_PROCS (2 * CFG_MAX_WORKERS)
#define METRICS_MAX_STATUS 600

struct metrics_server {
	char name[80];
	uint64_t requests; /* responses received from it */
	uint64_t failures; /* connect/read errors and timeouts */
	uint64_t latency_us; /* sum of time to response head */
	uint32_t up; /* this worker's view: 1 up, 0 down */
	uint32_t pad;
};

/*
 * HTTP/2 (http2/h2.c): connections and streams, and each defence by the
 * limit that bit (lbtls_http2_limited_total{limit=...}).
 */
#define METRICS_H2_LIMITS(X)                                                   \
	X(max_streams) /* a stream over max_concurrent_streams: refused */     \
	X(max_inflight) /* over max_inflight: REFUSED_STREAM */                \
	X(headers) /* over max_headers or max_header_bytes: 431 */             \
	X(glitches) /* the glitch budget ran out: GOAWAY(ENHANCE_YOUR_CALM) */ \
	X(settings_timeout) /* our SETTINGS never acknowledged */              \
	X(send_timeout) /* a client that did not read (zero window) */         \
	X(idle_timeout) /* no stream for keepalive_timeout */                  \
	X(bad_preface) /* not HTTP/2 after ALPN h2 */                          \
	X(protocol_error) /* nghttp2 ended the connection (its limits too) */

struct metrics_h2 {
	uint64_t connections; /* ALPN h2 */
	uint64_t streams; /* requests received */
	uint64_t resets_by_client; /* RST_STREAM before the response ended */
	uint64_t glitch_events; /* each spent a token of the budget */
#define METRICS_H2_FIELD(n) uint64_t n;
	struct {
		METRICS_H2_LIMITS(METRICS_H2_FIELD)
	} limited;
#undef METRICS_H2_FIELD
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
	uint64_t client_refused; /* over limits.per_client_connections */
	uint64_t bodies_in_memory, bodies_in_file; /* request buffering */
	uint64_t queue_full, queue_timeouts; /* upstream.max_conns: 503s */
	struct metrics_h2 h2;
	int64_t queued; /* gauge: requests waiting for a server */
	int64_t active; /* gauge: open client connections */
	uint32_t nservers;
	uint32_t pad;
	struct metrics_server servers[CFG_MAX_SERVERS];
};

/* upstream.file as the master last saw it, for its age in /metrics. */
struct metrics_upfile {
	bool watched; /* upstream.file is set */
	int64_t mtime_s; /* 0: missing */
	unsigned max_age_ms; /* upstream.file_max_age; 0: not checked */
};

struct metrics_shm {
	/* Blocks [0, high) have been claimed at least once; the master reads
	 * no block above, so their pages are never backed. */
	uint32_t high;
	uint32_t pad;
	struct metrics_block retired;
	struct metrics_block procs[METRICS_MAX_PROCS];
	/* Not counters: the servers the master read from upstream.file, which
	 * the workers read; the mapping is already shared with all of them. */
	struct upstream_set discovered;
	struct metrics_upfile upfile;
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

/*
 * Prometheus text exposition, always whole: *text is a malloc'd buffer
 * sized to it (the caller frees it), NUL-terminated, *len bytes long.
 * 0, or -ENOMEM with nothing to free.
 */
int metrics__render(struct metrics_shm *m, char **text, size_t *len);

#endif /* LBTLS_METRICS_H */
