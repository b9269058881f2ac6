/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Scale-out membership (docs/scaleout.md "Membership"): one UDP socket on
 * self's underlay address; every heartbeat a signed announcement to every
 * other host; what was heard, checked (cluster_msg.h), per host. The agent
 * turns the live set into refs for the global rings (cluster_ring.h).
 */
#ifndef LB_CLUSTER_H
#define LB_CLUSTER_H

#include <stdio.h>
#include "cluster_config.h"
#include "cluster_msg.h"
#include "maglev.h"

struct cluster_peer {
	struct cluster_peer_seq seq;
	__u64 heard_ms; /* CLOCK_MONOTONIC of the last accepted; 0: never */
	int alive;
	__u8 flags; /* CM_F_* */
	__u16 nworkers;
	struct cm_worker workers[CM_MAX_WORKERS];
};

struct cluster {
	struct cluster_config cfg;
	int fd; /* -1: not clustered */
	__be32 bound_addr;
	__u16 bound_port;
	__u64 boot, seq;
	int draining;
	struct cluster_peer peer[LB_MAX_HOSTS]; /* by host id */
	__u64 accepted, sent, send_errors;
	__u64 rejects[CM_R_COUNT], rejects_logged[CM_R_COUNT];
	__u64 log_ms;
};

void cluster__init(struct cluster *cl);
/* Take cfg (enabled), (re)binding the socket when self's address or the
 * port changed; peers whose host left or moved are forgotten. */
int cluster__configure(struct cluster *cl, const struct cluster_config *cfg);
void cluster__close(struct cluster *cl);
static inline int cluster__on(const struct cluster *cl)
{
	return cl->fd >= 0;
}

/* Read every waiting datagram; 1 if the live set changed. */
int cluster__recv(struct cluster *cl, __u64 now_ms);
/* Announce ours (live local workers) to every other host. */
void cluster__announce(struct cluster *cl, const struct cm_worker *w, int n);
/* Hosts silent for dead_after leave; 1 if any did. */
int cluster__expire(struct cluster *cl, __u64 now_ms);
/* The refs of the global ring: live workers of every live, not draining
 * worker-role host; ours from 'local'. Returns the count. */
size_t cluster__refs(const struct cluster *cl, const struct cm_worker *local,
		     int nlocal, struct maglev_worker *out);
/* Rejects since the last log line, once a second at most. */
void cluster__log_rejects(struct cluster *cl, __u64 now_ms);
void cluster__metrics(const struct cluster *cl, FILE *f);

#endif /* LB_CLUSTER_H */
