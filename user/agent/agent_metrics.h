/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The agent's /metrics endpoint: a small HTTP/1.x server that runs on the
 * agent's epoll loop and never blocks it. Each scrape is a connection with
 * its own state and deadline; a client that stalls holds one slot until the
 * deadline, and when every slot is taken the oldest connection gives way.
 */
#ifndef LB_AGENT_METRICS_H
#define LB_AGENT_METRICS_H

#include <stdio.h>
#include <linux/types.h>

#define METRICS_MAX_CONNS 8
#define METRICS_DEADLINE_MS 5000 /* from accept to the last byte sent */
#define METRICS_REQ_MAX 4096 /* request line and headers */

/* Writes the Prometheus text of the moment to f. */
typedef void (*metrics_render_fn)(void *ctx, FILE *f);

struct metrics_conn {
	int fd; /* -1: free slot */
	__u64 seq, deadline_ms; /* seq: the order of accepts */
	size_t rlen; /* request bytes so far */
	char *out; /* response, once the request is complete */
	size_t olen, off;
	char req[METRICS_REQ_MAX];
};

struct metrics_server {
	int fd, epfd;
	__u64 conn_tag; /* epoll data of slot i: conn_tag | i */
	__u64 accepted;
	metrics_render_fn render;
	void *ctx;
	struct metrics_conn c[METRICS_MAX_CONNS];
};

/* No listener, no connection: what metrics__close and the rest accept. */
void metrics__init(struct metrics_server *m);
/* Listen on "a.b.c.d:port" and add the listener to epfd with listen_tag. */
int metrics__open(struct metrics_server *m, const char *addr, int epfd,
		  __u64 listen_tag, __u64 conn_tag, metrics_render_fn render,
		  void *ctx);
void metrics__accept(struct metrics_server *m);
void metrics__event(struct metrics_server *m, __u32 slot, __u32 events);
/* Milliseconds until the next deadline, or -1 when no scrape is open. */
int metrics__timeout_ms(const struct metrics_server *m);
void metrics__expire(struct metrics_server *m);
void metrics__close(struct metrics_server *m);

#endif /* LB_AGENT_METRICS_H */
