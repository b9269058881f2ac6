/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The pick: client address -> ring slot -> worker id. XDP (on the SYN) and
 * sk_lookup (when XDP left no record) both call lb_pick(), so they can never
 * disagree; the hash itself is shared with user space.
 */
#ifndef LB_PICK_H
#define LB_PICK_H

#define LB_INLINE static __always_inline
#include "lb_hash_kern_user.h"
#include "lb_maps.h"

/* Returns a worker id, or LB_WORKER_NONE for an empty slot or no config. */
static __always_inline __u32 lb_pick(const struct lb_vip_meta *vip,
				     const struct lb_addr *client, __u8 family)
{
	struct lb_config *cfg;
	__u32 zero = 0, idx, *worker;

	cfg = bpf_map_lookup_elem(&lb_config, &zero);
	if (!cfg || !cfg->ring_size)
		return LB_WORKER_NONE;
	idx = lb_ring_index(vip,
			    lb_client_hash(client, family, vip, cfg->hash_seed),
			    cfg->ring_size);
	worker = bpf_map_lookup_elem(&lb_rings, &idx);
	return worker ? *worker : LB_WORKER_NONE;
}

#endif /* LB_PICK_H */
