/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Workers of a VIP (lb_vip_workers): their weights and flags, and whether
 * each has a listening socket for the VIP's listener and family in
 * lb_sockets. ring.h builds the ring from them.
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

#endif /* LB_WORKER_H */
