/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A VIP's ring in lb_rings: the Maglev table (maglev.h) of its workers
 * (worker.h). A worker takes ring slots by its weight unless it is
 * drained, down, or has no listening socket.
 */
#ifndef LB_RING_H
#define LB_RING_H

#include <stddef.h>
#include "dataplane.h"

/* Rebuild the VIP's ring from its workers' (id, weight) set alone (a worker
 * counts with weight 0 unless up), and write only the slots that differ
 * from the ring in use; *moved says how many. In cluster mode
 * (lb_config.self_host set) nothing: the agent's membership loop builds
 * the global rings (cluster_ring.h) at its next heartbeat. */
int ring__rebuild(const struct dataplane *dp, const struct lb_vip_meta *vip,
		  __u8 family, size_t *moved);

#endif /* LB_RING_H */
