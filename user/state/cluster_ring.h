/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Scale-out state in the maps (docs/scaleout.md): the cluster fields of
 * lb_config, lb_hosts and lb_host_addrs from the description, and each
 * VIP's global ring of worker refs with lb_rings_prev, the second chance.
 */
#ifndef LB_CLUSTER_RING_H
#define LB_CLUSTER_RING_H

#include <stddef.h>
#include "dataplane.h"
#include "instance.h"
#include "maglev.h"

/* An operator's drain of this host (lbctl cluster drain): the file exists.
 * A file, not agent memory: it outlives an agent restart. */
#define CLUSTER_DRAIN_FMT INSTANCE_RUN_DIR "/%s.drain"

struct cluster_ring_host {
	__u32 id; /* 1..LB_MAX_HOSTS-1 */
	__be32 addr;
	__u32 flags; /* LB_HOST_F_* */
};

struct cluster_ring_self {
	__u32 id;
	__be32 addr;
	__u16 gue_port; /* host order; written in network order */
	__u32 mtu; /* forwarded SYNs get MSS mtu-40-40 / mtu-40-60 */
};

/* Write lb_config's cluster fields, lb_hosts and lb_host_addrs (hosts
 * gone from the list deleted), and self's bit in lb_addr_filter. */
int cluster_ring__set_hosts(const struct dataplane *dp,
			    const struct cluster_ring_self *self,
			    const struct cluster_ring_host *hosts, int n);
/* Leave cluster mode: self_host 0, no hosts, no filter bit of ours. */
int cluster_ring__clear(const struct dataplane *dp);
/* Is the instance clustered (lb_config.self_host != 0 in the map)? */
int cluster_ring__active(const struct dataplane *dp);

/* The VIP's global ring from refs (LB_REF(host, worker), weight); the
 * slots that differ from lb_rings get their old ref in lb_rings_prev
 * first (their second chance), then their new one. *moved: slots
 * changed. */
int cluster_ring__rebuild(const struct dataplane *dp, __u32 vip_index,
			  const struct maglev_worker *refs, size_t n,
			  size_t *moved);
/* The second chance ends: lb_rings_prev = lb_rings for the VIP. */
int cluster_ring__hold_end(const struct dataplane *dp, __u32 vip_index);

#endif /* LB_CLUSTER_RING_H */
