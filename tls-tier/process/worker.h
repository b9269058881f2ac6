/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A worker process: one thread, one epoll loop, its own copy of the TLS
 * contexts and upstream state. The master forks it with everything ready.
 * The worker is the composition root of the proxy core: the only file
 * that knows the listeners, client connections, the upstream pool, the
 * health checks and the agent link, and wires their callbacks.
 */
#ifndef LBTLS_WORKER_H
#define LBTLS_WORKER_H

#include <stdbool.h>
#include <sys/types.h>

#include "agent_link.h"
#include "config.h"
#include "listener.h"
#include "proxy.h"

struct health;

struct worker_listener {
	struct loop_io io;
	struct worker *w;
	bool tls;
	const struct cfg_addr *addr;
};

struct worker {
	struct proxy px; /* the proxy core's shared state, with the loop */
	struct health *health;
	int slot;
	unsigned gen;
	pid_t master; /* its death drains us (a pid, not getppid() == 1:
			 the master may be PID 1 of a container) */
	struct worker_listener lis[2 * CFG_MAX_LISTEN];
	unsigned nlis;
	bool paused; /* listeners off: connection limit or EMFILE */
	uint64_t drain_deadline;
	struct loop_io sig;
	struct loop_timer tick;
	char who[32]; /* "worker 3", for the error log */
	struct agent_link agent; /* cfg->agent_socket, agent.c */
	/* servers the master read from upstream.file, shared memory */
	const struct upstream_set *dyn;
	uint32_t dyn_seq; /* the last one applied */
};

/*
 * Run a worker on the given listeners (those of its slot); never returns.
 */
void __attribute__((noreturn))
worker__main(const struct lbtls_config *cfg, struct tls_ctx *tls,
	     struct metrics_block *m, const struct upstream_set *dyn,
	     const struct listener *lis, unsigned nlis, int slot, unsigned gen,
	     pid_t master);

/* Apply the master's latest discovered server set, if it changed. */
void worker__sync_servers(struct worker *w);

/* Hand the agent listeners of this worker to the lbctl agent and keep the
 * link up (agent.c); no-op in standalone mode. */
int worker__agent_start(struct worker *w);

#endif /* LBTLS_WORKER_H */
