// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Shared-memory counters and their Prometheus rendering.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>

#include "metrics.h"

struct metrics_shm *metrics__create(void)
{
	void *p = mmap(NULL, sizeof(struct metrics_shm), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

void metrics__destroy(struct metrics_shm *m)
{
	if (m)
		munmap(m, sizeof(*m));
}

struct metrics_block *metrics__claim(struct metrics_shm *m, int slot,
				     unsigned gen,
				     const struct cfg_upstream *up)
{
	struct metrics_block *b;
	unsigned i, j;

	for (i = 0; i < METRICS_MAX_PROCS; i++) {
		b = &m->procs[i];
		if (b->in_use)
			continue;
		memset(b, 0, sizeof(*b));
		b->in_use = 1;
		if (i >= m->high)
			m->high = i + 1;
		b->slot = slot;
		b->gen = gen;
		b->nservers = up->nservers;
		for (j = 0; j < up->nservers; j++) {
			memcpy(b->servers[j].name, up->servers[j].name,
			       sizeof(b->servers[j].name));
			b->servers[j].up = 1;
		}
		return b;
	}
	return NULL;
}

static struct metrics_server *find_server(struct metrics_block *b,
					  const char *name)
{
	unsigned i;

	for (i = 0; i < b->nservers; i++)
		if (!strcmp(b->servers[i].name, name))
			return &b->servers[i];
	if (b->nservers == CFG_MAX_SERVERS)
		return NULL;
	memcpy(b->servers[b->nservers].name, name, sizeof(b->servers[0].name));
	return &b->servers[b->nservers++];
}

/*
 * Add b's counters to t: the status codes, the totals and the per-server
 * figures, and the gauges when 'gauges' (a live block's; an exited
 * worker's are gone with it). Relaxed loads: b's worker may be writing.
 */
static void add_block(struct metrics_block *t, struct metrics_block *b,
		      bool gauges)
{
	unsigned j;

#define ADD(f) (t->f += __atomic_load_n(&b->f, __ATOMIC_RELAXED))
	for (j = 0; j < METRICS_MAX_STATUS; j++)
		ADD(status[j]);
	ADD(handshakes_full);
	ADD(handshakes_resumed);
	ADD(handshake_errors);
	ADD(accepted);
	ADD(local_errors);
	ADD(client_refused);
	ADD(bodies_in_memory);
	ADD(bodies_in_file);
	ADD(queue_full);
	ADD(queue_timeouts);
	ADD(h2.connections);
	ADD(h2.streams);
	ADD(h2.resets_by_client);
	ADD(h2.glitch_events);
#define ADD_LIMIT(n) ADD(h2.limited.n);
	METRICS_H2_LIMITS(ADD_LIMIT)
#undef ADD_LIMIT
	if (gauges) {
		ADD(queued);
		ADD(active);
	}
#undef ADD
	for (j = 0; j < b->nservers; j++) {
		struct metrics_server *s = find_server(t, b->servers[j].name);

		if (!s)
			continue;
		s->requests += b->servers[j].requests;
		s->failures += b->servers[j].failures;
		s->latency_us += b->servers[j].latency_us;
	}
}

void metrics__retire(struct metrics_shm *m, struct metrics_block *blk)
{
	add_block(&m->retired, blk, false);
	memset(blk, 0, sizeof(*blk));
}

/*
 * The text goes into a buffer that grows to its size: with every worker
 * slot in use and the longest server names it is several MiB
 * (METRICS_MAX_PROCS x CFG_MAX_SERVERS lbtls_upstream_up lines), and a
 * fixed buffer would cut it mid-line, which fails the whole scrape.
 * Counters move while we read them, so no size pass could be trusted.
 */
struct out {
	char *buf;
	size_t len, cap;
	bool failed; /* out of memory: nothing more is written */
};

static void emit(struct out *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void emit(struct out *o, const char *fmt, ...)
{
	va_list ap;
	size_t cap;
	char *buf;
	int n;

	if (o->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			o->failed = true;
			return;
		}
		if ((size_t)n < o->cap - o->len) {
			o->len += n;
			return;
		}
		cap = 2 * o->cap > o->len + n + 1 ? 2 * o->cap : o->len + n + 1;
		buf = realloc(o->buf, cap);
		if (!buf) {
			o->failed = true;
			return;
		}
		o->buf = buf;
		o->cap = cap;
	}
}

/* The retired block plus every live one, summed. */
static void sum_blocks(struct metrics_shm *m, struct metrics_block *t)
{
	unsigned i;

	memcpy(t, &m->retired, sizeof(*t));
	for (i = 0; i < m->high; i++)
		if (m->procs[i].in_use)
			add_block(t, &m->procs[i], true);
}

/* How old upstream.file is: its writer (lbtls discover) refreshes it at
 * each list that works, so an age that grows says the writer is gone. */
static void render_upfile(struct out *o, const struct metrics_upfile *u)
{
	long long age;

	if (!u->watched)
		return;
	age = u->mtime_s ? (long long)time(NULL) - u->mtime_s : -1;
	emit(o,
	     "# HELP lbtls_upstream_file_age_seconds Since upstream.file was last written or refreshed; -1 while it is missing.\n"
	     "# TYPE lbtls_upstream_file_age_seconds gauge\n"
	     "lbtls_upstream_file_age_seconds %lld\n"
	     "# HELP lbtls_upstream_file_stale 1 while upstream.file is missing or older than upstream.file_max_age.\n"
	     "# TYPE lbtls_upstream_file_stale gauge\n"
	     "lbtls_upstream_file_stale %d\n",
	     age, age < 0 || (u->max_age_ms && age * 1000 > u->max_age_ms));
}

int metrics__render(struct metrics_shm *m, char **text, size_t *len)
{
	static struct metrics_block t; /* big; the master is single-threaded */
	struct out o = { .cap = 64 * 1024 };
	unsigned i, j, workers = 0;
	char *fit;

	o.buf = malloc(o.cap);
	if (!o.buf)
		return -ENOMEM;
	sum_blocks(m, &t);
	emit(&o,
	     "# HELP lbtls_requests_total Responses sent to clients, by status code.\n"
	     "# TYPE lbtls_requests_total counter\n");
	for (i = 0; i < METRICS_MAX_STATUS; i++)
		if (t.status[i])
			emit(&o, "lbtls_requests_total{code=\"%u\"} %llu\n", i,
			     (unsigned long long)t.status[i]);
	emit(&o,
	     "# HELP lbtls_handshakes_total TLS handshakes completed, full or resumed.\n"
	     "# TYPE lbtls_handshakes_total counter\n"
	     "lbtls_handshakes_total{type=\"full\"} %llu\n"
	     "lbtls_handshakes_total{type=\"resumed\"} %llu\n"
	     "# HELP lbtls_handshake_errors_total TLS handshakes that failed.\n"
	     "# TYPE lbtls_handshake_errors_total counter\n"
	     "lbtls_handshake_errors_total %llu\n"
	     "# HELP lbtls_connections_accepted_total Client connections accepted.\n"
	     "# TYPE lbtls_connections_accepted_total counter\n"
	     "lbtls_connections_accepted_total %llu\n"
	     "# HELP lbtls_connections_active Client connections open now.\n"
	     "# TYPE lbtls_connections_active gauge\n"
	     "lbtls_connections_active %lld\n"
	     "# HELP lbtls_local_resource_errors_total Local resources that ran out (EMFILE, ENFILE, ENOBUFS, ENOMEM); never counted against a backend.\n"
	     "# TYPE lbtls_local_resource_errors_total counter\n"
	     "lbtls_local_resource_errors_total %llu\n",
	     (unsigned long long)t.handshakes_full,
	     (unsigned long long)t.handshakes_resumed,
	     (unsigned long long)t.handshake_errors,
	     (unsigned long long)t.accepted, (long long)t.active,
	     (unsigned long long)t.local_errors);
	emit(&o,
	     "# HELP lbtls_connections_refused_total Client connections closed at once, by the limit that refused them.\n"
	     "# TYPE lbtls_connections_refused_total counter\n"
	     "lbtls_connections_refused_total{limit=\"per_client_connections\"} %llu\n"
	     "# HELP lbtls_request_bodies_buffered_total Request bodies read whole before going upstream, by where they were kept.\n"
	     "# TYPE lbtls_request_bodies_buffered_total counter\n"
	     "lbtls_request_bodies_buffered_total{in=\"memory\"} %llu\n"
	     "lbtls_request_bodies_buffered_total{in=\"file\"} %llu\n"
	     "# HELP lbtls_queue_rejected_total Requests answered 503 while every server was at max_conns, by cause.\n"
	     "# TYPE lbtls_queue_rejected_total counter\n"
	     "lbtls_queue_rejected_total{cause=\"queue_full\"} %llu\n"
	     "lbtls_queue_rejected_total{cause=\"queue_timeout\"} %llu\n"
	     "# HELP lbtls_queued_requests Requests waiting for a server under max_conns now.\n"
	     "# TYPE lbtls_queued_requests gauge\n"
	     "lbtls_queued_requests %lld\n",
	     (unsigned long long)t.client_refused,
	     (unsigned long long)t.bodies_in_memory,
	     (unsigned long long)t.bodies_in_file,
	     (unsigned long long)t.queue_full,
	     (unsigned long long)t.queue_timeouts, (long long)t.queued);
	emit(&o,
	     "# HELP lbtls_http2_connections_total Client connections that chose HTTP/2 (ALPN h2).\n"
	     "# TYPE lbtls_http2_connections_total counter\n"
	     "lbtls_http2_connections_total %llu\n"
	     "# HELP lbtls_http2_streams_total HTTP/2 requests received.\n"
	     "# TYPE lbtls_http2_streams_total counter\n"
	     "lbtls_http2_streams_total %llu\n"
	     "# HELP lbtls_http2_client_resets_total HTTP/2 streams the client reset before their response ended.\n"
	     "# TYPE lbtls_http2_client_resets_total counter\n"
	     "lbtls_http2_client_resets_total %llu\n"
	     "# HELP lbtls_http2_glitches_total Protocol errors, resets of streams in flight and frames over their allowance, each spending the glitch budget of its connection.\n"
	     "# TYPE lbtls_http2_glitches_total counter\n"
	     "lbtls_http2_glitches_total %llu\n"
	     "# HELP lbtls_http2_limited_total HTTP/2 streams or connections stopped, by the limit that bit.\n"
	     "# TYPE lbtls_http2_limited_total counter\n",
	     (unsigned long long)t.h2.connections,
	     (unsigned long long)t.h2.streams,
	     (unsigned long long)t.h2.resets_by_client,
	     (unsigned long long)t.h2.glitch_events);
#define EMIT_LIMIT(n)                                                  \
	emit(&o, "lbtls_http2_limited_total{limit=\"" #n "\"} %llu\n", \
	     (unsigned long long)t.h2.limited.n);
	METRICS_H2_LIMITS(EMIT_LIMIT)
#undef EMIT_LIMIT
	emit(&o,
	     "# HELP lbtls_upstream_up Whether a worker considers the server usable.\n"
	     "# TYPE lbtls_upstream_up gauge\n");
	for (i = 0; i < m->high; i++) {
		struct metrics_block *b = &m->procs[i];

		if (!b->in_use)
			continue;
		workers++;
		for (j = 0; j < b->nservers; j++)
			emit(&o,
			     "lbtls_upstream_up{server=\"%s\",worker=\"%d\",pid=\"%d\"} %u\n",
			     b->servers[j].name, b->slot, b->pid,
			     b->servers[j].up);
	}
	emit(&o,
	     "# HELP lbtls_upstream_responses_total Response heads received, by server.\n"
	     "# TYPE lbtls_upstream_responses_total counter\n");
	for (j = 0; j < t.nservers; j++)
		emit(&o, "lbtls_upstream_responses_total{server=\"%s\"} %llu\n",
		     t.servers[j].name,
		     (unsigned long long)t.servers[j].requests);
	emit(&o,
	     "# HELP lbtls_upstream_failures_total Connect, read and timeout failures, by server.\n"
	     "# TYPE lbtls_upstream_failures_total counter\n");
	for (j = 0; j < t.nservers; j++)
		emit(&o, "lbtls_upstream_failures_total{server=\"%s\"} %llu\n",
		     t.servers[j].name,
		     (unsigned long long)t.servers[j].failures);
	emit(&o,
	     "# HELP lbtls_upstream_response_seconds Time from sending the request to the response head.\n"
	     "# TYPE lbtls_upstream_response_seconds summary\n");
	for (j = 0; j < t.nservers; j++)
		emit(&o,
		     "lbtls_upstream_response_seconds_sum{server=\"%s\"} %.6f\n"
		     "lbtls_upstream_response_seconds_count{server=\"%s\"} %llu\n",
		     t.servers[j].name, t.servers[j].latency_us / 1e6,
		     t.servers[j].name,
		     (unsigned long long)t.servers[j].requests);
	emit(&o,
	     "# HELP lbtls_workers Worker processes alive.\n"
	     "# TYPE lbtls_workers gauge\n"
	     "lbtls_workers %u\n",
	     workers);
	render_upfile(&o, &m->upfile);
	if (o.failed) {
		free(o.buf);
		return -ENOMEM;
	}
	/* What a scrape holds is its content, not the doubling's slack. */
	fit = realloc(o.buf, o.len + 1);
	*text = fit ? fit : o.buf;
	*len = o.len;
	return 0;
}
