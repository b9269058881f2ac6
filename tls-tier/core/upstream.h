/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Upstream server selection and health state, per worker. Pure logic, no
 * I/O: the proxy, the health checker and the unit tests drive it.
 */
#ifndef LBTLS_UPSTREAM_H
#define LBTLS_UPSTREAM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config.h"

struct pool_conn;

struct upstream_server {
	char name[80];
	struct sockaddr_storage ss;
	socklen_t len;
	int weight;
	int current_weight; /* smooth weighted round-robin state */
	unsigned active; /* requests in flight (least_conn, random_two) */
	/* passive health, nginx's max_fails/fail_timeout semantics */
	unsigned fails;
	uint64_t checked; /* ms of the last failure or probe */
	/* active health */
	bool health_down;
	unsigned health_ok, health_bad; /* consecutive results */
	/* discovered at runtime (upstream__set); 'removed' ones take no new
	 * requests, those in flight on them finish */
	bool dynamic;
	bool removed;
	/* idle keep-alive connections (pool.c) */
	struct pool_conn *idle;
	unsigned nidle;
};

/* A discovered server, as the master publishes it to the workers. */
struct upstream_addr {
	char name[80]; /* "ip:port" */
	struct sockaddr_storage ss;
	socklen_t len;
};

/*
 * The discovered set, in the master's shared mapping: a seqlock (odd 'seq'
 * while the master writes), read by each worker on its tick.
 */
struct upstream_set {
	uint32_t seq;
	uint32_t n;
	struct upstream_addr servers[CFG_MAX_SERVERS];
};

struct upstream {
	struct upstream_server servers[CFG_MAX_SERVERS];
	unsigned n;
	enum lb_algo algo;
	unsigned max_fails;
	uint64_t fail_timeout;
	unsigned keepalive;
	unsigned max_conns; /* requests in flight per server; 0: no cap */
	uint64_t rng; /* xorshift64* state for random_two */
};

int upstream__init(struct upstream *u, const struct cfg_upstream *c,
		   uint64_t seed);

/*
 * Make the discovered servers exactly 'set' (static ones never change): new
 * ones get a slot (a removed one of the same name comes back, else a new
 * slot, else a removed slot nothing uses any more), missing ones are marked
 * removed and their bits set in *gone so that the caller closes their idle
 * connections; requests in flight on them finish. Slot indices never move.
 * Returns how many servers did not fit (0 normally).
 */
unsigned upstream__set(struct upstream *u, const struct upstream_addr *set,
		       unsigned n, uint64_t *gone);

/* Usable now: not marked down by active or passive health. */
bool upstream__available(const struct upstream *u, unsigned i, uint64_t now);

/*
 * Pick a server for a client, skipping those whose bit is set in 'tried'
 * and those at max_conns. Returns the index, -EBUSY when every server left
 * is at max_conns (wait for one), or -EHOSTUNREACH when none is left.
 */
int upstream__pick(struct upstream *u, const struct sockaddr *client,
		   uint64_t now, uint64_t tried);

/* Passive health: a connect/read failure, or a good response. */
void upstream__fail(struct upstream *u, unsigned i, uint64_t now);
void upstream__success(struct upstream *u, unsigned i);

/*
 * Active health result; returns 1 when the server went up, -1 when it went
 * down, 0 when its state did not change.
 */
int upstream__health_result(struct upstream *u, unsigned i, bool ok,
			    unsigned rise, unsigned fall);

#endif /* LBTLS_UPSTREAM_H */
