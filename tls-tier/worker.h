/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A worker process: one thread, one epoll loop, its own copy of the TLS
 * contexts and upstream state. The master forks it with everything ready.
 */
#ifndef LBTLS_WORKER_H
#define LBTLS_WORKER_H

#include <stdbool.h>

#include "agent_link.h"
#include "config.h"
#include "listener.h"
#include "loop.h"
#include "metrics.h"
#include "tls.h"
#include "upstream.h"

struct conn;
struct health;

struct worker_listener {
	struct loop_io io;
	struct worker *w;
	bool tls;
	const struct cfg_addr *addr;
};

struct worker {
	struct loop loop;
	const struct lbtls_config *cfg;
	struct tls_ctx *tls;
	struct upstream up;
	struct metrics_block *m;
	struct health *health;
	int slot;
	unsigned gen;
	struct worker_listener lis[2 * CFG_MAX_LISTEN];
	unsigned nlis;
	bool paused; /* listeners off: connection limit or EMFILE */
	struct conn *conns; /* every open client connection */
	unsigned nconns;
	bool draining;
	uint64_t drain_deadline;
	struct loop_io sig;
	struct loop_timer tick;
	char served_by[96]; /* header line or "" */
	char who[32]; /* "worker 3", for the error log */
	uint16_t https_port; /* for the port 80 redirect */
	struct agent_link agent; /* cfg->agent_socket, agent.c */
	/* servers discovered by the master (upstream.docker), shared memory */
	const struct upstream_set *dyn;
	uint32_t dyn_seq; /* the last one applied */
};

/*
 * Run a worker on the given listeners (those of its slot); never returns.
 */
void __attribute__((noreturn))
worker__main(const struct lbtls_config *cfg, struct tls_ctx *tls,
	     struct metrics_block *m, const struct upstream_set *dyn,
	     const struct listener *lis, unsigned nlis, int slot, unsigned gen);

/* Apply the master's latest discovered server set, if it changed. */
void worker__sync_servers(struct worker *w);

/* Hand the agent listeners of this worker to the lbctl agent and keep the
 * link up (agent.c); no-op in standalone mode. */
int worker__agent_start(struct worker *w);

/* Refresh the "up" gauges after a health change. */
void worker__publish_health(struct worker *w);

/* Pause or resume accepting (connection limit). */
void worker__listeners_enable(struct worker *w, bool on);

#endif /* LBTLS_WORKER_H */
