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

/* A client's place in its VIP's ring row. */
struct lb_slot {
	__u32 row; /* first lb_rings index of the VIP */
	__u32 slot; /* hash % ring_size */
	__u32 ring_size;
};

static __always_inline int lb_slot_of(const struct lb_vip_meta *vip,
				      const struct lb_addr *client, __u8 family,
				      struct lb_slot *s)
{
	struct lb_config *cfg;
	__u32 zero = 0;

	cfg = bpf_map_lookup_elem(&lb_config, &zero);
	if (!cfg || !cfg->ring_size)
		return -1;
	s->ring_size = cfg->ring_size;
	s->row = vip->index * cfg->ring_size;
	s->slot = lb_client_hash(client, family, vip, cfg->hash_seed) %
		  cfg->ring_size;
	return 0;
}

/* Worker of the slot 'ahead' places after the client's own (0: its own). */
static __always_inline __u32 lb_slot_worker(const struct lb_slot *s,
					    __u32 ahead)
{
	__u32 idx = s->row + (s->slot + ahead) % s->ring_size, *worker;

	worker = bpf_map_lookup_elem(&lb_rings, &idx);
	return worker ? *worker : LB_WORKER_NONE;
}

/* Returns a worker id, or LB_WORKER_NONE for an empty slot or no config. */
static __always_inline __u32 lb_pick(const struct lb_vip_meta *vip,
				     const struct lb_addr *client, __u8 family)
{
	struct lb_slot s;

	if (lb_slot_of(vip, client, family, &s))
		return LB_WORKER_NONE;
	return lb_slot_worker(&s, 0);
}

#endif /* LB_PICK_H */
