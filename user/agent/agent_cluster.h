/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The agent's scale-out side (docs/scaleout.md): membership (cluster.h)
 * turned into every VIP's global ring and its second chance
 * (cluster_ring.h), the drain file, the balancer's announce link and the
 * worker host's listener MSS. agent.c owns the loop and the workers; it
 * hands this file its live local workers through 'local'.
 */
#ifndef LB_AGENT_CLUSTER_H
#define LB_AGENT_CLUSTER_H

#include <sys/un.h>
#include "agent_config.h"
#include "cluster.h"
#include "dataplane.h"
#include "instance.h"

/* The live local workers (registered, up, drained on no VIP) into 'out'
 * (LB_MAX_WORKERS entries); returns how many. */
typedef int (*agent_cluster_local_fn)(void *ctx, struct cm_worker *out);

struct agent_cluster {
	struct cluster cl; /* cl.fd < 0 when not clustered */
	struct instance *in;
	struct dataplane *dp;
	const struct agent_config *cfg; /* the agent's, as reloads change it */
	agent_cluster_local_fn local;
	void *ctx;
	int timer_fd, ep_fd; /* the heartbeat; cl.fd as added to epoll */
	__u64 change_ms; /* last ring change; 0: the second chance ended */
	__u64 start_ms; /* cluster mode began: peers not heard yet */
	struct maglev_worker *refs; /* the set the rings were built from */
	size_t nrefs;
	int link; /* announce link: 1 up, 0 down, -1 unknown */
	int link_err; /* the last error logged for it */
	char drain_path[sizeof(((struct sockaddr_un *)0)->sun_path) + 16];
};

void agent_cluster__init(struct agent_cluster *ac, struct instance *in,
			 struct dataplane *dp, const struct agent_config *cfg,
			 agent_cluster_local_fn local, void *ctx);
/* The heartbeat timer, in epoll as 'timer_ev' (EV_* of agent.c). */
int agent_cluster__open(struct agent_cluster *ac, int epfd, __u64 timer_ev);
/* Enter, follow or leave cluster mode as c says (setup and reload), the
 * membership socket in epoll as 'sock_ev'. A socket that cannot be bound
 * refuses c: the caller keeps the running config. */
int agent_cluster__apply(struct agent_cluster *ac, int epfd, __u64 sock_ev,
			 const struct cluster_config *c);
static inline int agent_cluster__on(const struct agent_cluster *ac)
{
	return cluster__on(&ac->cl);
}
/* The global rings from the live set; only when the set changed, unless
 * forced (a VIP or a registration came). 1 if a slot moved. */
int agent_cluster__rings(struct agent_cluster *ac, int force);
/* The heartbeat fired: drain file, announce, expiry, rings, the end of
 * the second chance, the announce link. 1 if a ring slot moved. */
int agent_cluster__tick(struct agent_cluster *ac);
/* Datagrams waiting: 1 if a ring slot moved. */
int agent_cluster__event(struct agent_cluster *ac);
/* The announce link as things stand; 'stopping': down. */
void agent_cluster__link(struct agent_cluster *ac, int stopping);
/* A worker's listeners on a worker host: TCP_MAXSEG that fits the
 * tunnel. */
void agent_cluster__clamp_listeners(const struct agent_cluster *ac,
				    const int *fds, const __u8 *family, int n);
void agent_cluster__close(struct agent_cluster *ac);

#endif /* LB_AGENT_CLUSTER_H */
