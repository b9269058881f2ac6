/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Workers of a VIP (lb_vip_workers) and the Maglev ring built from them.
 * A worker takes ring slots by its weight unless it is drained, down, or
 * has no listening socket for the VIP's listener and family in lb_sockets.
 */
#ifndef LB_WORKER_H
#define LB_WORKER_H

#include <stddef.h>
#include "dataplane.h"

struct worker {
	__u32 id;
	struct lb_worker_state st;
	int has_socket;
	__u32 slots; /* ring slots it holds now */
};

int worker__get(const struct dataplane *dp, __u32 vip_index, __u32 id,
		struct lb_worker_state *st);
int worker__put(const struct dataplane *dp, __u32 vip_index, __u32 id,
		const struct lb_worker_state *st);
int worker__del(const struct dataplane *dp, __u32 vip_index, __u32 id);
int worker__del_all(const struct dataplane *dp, __u32 vip_index);
/* Workers of one VIP (family: its key's) sorted by id, with socket
 * presence, and their slot counts in 'ring' if given; returns the count
 * (<= LB_MAX_WORKERS). */
int worker__list(const struct dataplane *dp, const struct lb_vip_meta *vip,
		 __u8 family, const __u32 *ring, struct worker *out);
/* Does the worker have a socket for this listener and family (enum
 * lb_family) in lb_sockets? */
int worker__has_socket(const struct dataplane *dp, __u8 listener, __u8 family,
		       __u32 id);

/* Rebuild the VIP's ring from its workers' (id, weight) set alone (a worker
 * counts with weight 0 unless up), and write only the slots that differ
 * from the ring in use; *moved says how many. */
int ring__rebuild(const struct dataplane *dp, const struct lb_vip_meta *vip,
		  __u8 family, size_t *moved);

#endif /* LB_WORKER_H */
