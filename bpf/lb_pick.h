/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The pick: client address -> ring slot -> worker ref -> that worker's
 * listening socket. A ref names a host and a worker on it (LB_REF); only
 * a ref of this host (or of host 0, a single-host ring) has a socket here. sk_lookup (on the SYN) and the tc program (on a SYN
 * cookie's ACK) both call lb_pick_sock(), so they can never disagree; the
 * hash itself is shared with user space.
 */
#ifndef LB_PICK_H
#define LB_PICK_H

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

/* Worker of the slot 'ahead' places after the client's own (0: its own).
 * The modulo only past the ring's end (a ring may be as small as 3): the
 * pick itself (ahead 0) then costs no second division. */
static __always_inline __u32 lb_slot_worker(const struct lb_slot *s,
					    __u32 ahead)
{
	__u32 slot = s->slot + ahead, idx, *worker;

	if (slot >= s->ring_size)
		slot %= s->ring_size;
	idx = s->row + slot;

	worker = bpf_map_lookup_elem(&lb_rings, &idx);
	return worker ? *worker : LB_WORKER_NONE;
}

/* Returns a worker ref, or LB_WORKER_NONE for an empty slot or no config. */
static __always_inline __u32 lb_pick(const struct lb_vip_meta *vip,
				     const struct lb_addr *client, __u8 family)
{
	struct lb_slot s;

	if (lb_slot_of(vip, client, family, &s))
		return LB_WORKER_NONE;
	return lb_slot_worker(&s, 0);
}

/* This host's id in the cluster (0: not clustered). */
static __always_inline __u32 lb_self_host(void)
{
	__u32 zero = 0;
	struct lb_config *cfg = bpf_map_lookup_elem(&lb_config, &zero);

	return cfg ? cfg->self_host : 0;
}

/* The worker's listener of the VIP's kind and of the connection's family:
 * the kernel assigns only a socket of the connection's own family. A ref
 * of another host has none here: its host serves it (a worker host whose
 * ring differs for a moment from the balancer's falls back to a local
 * worker). The socket is referenced: bpf_sk_release() it. */
static __always_inline struct bpf_sock *
lb_worker_sock(const struct lb_vip_meta *vip, __u8 family, __u32 ref,
	       __u32 self_host)
{
	__u32 slot, worker = LB_REF_WORKER(ref), host = LB_REF_HOST(ref);

	if ((host && host != self_host) || worker >= LB_MAX_WORKERS ||
	    vip->listener >= LB_LISTENER_KINDS)
		return NULL;
	slot = LB_SOCKET_SLOT(vip->listener, family, worker);
	return bpf_map_lookup_elem(&lb_sockets, &slot);
}

/* The first of the LB_SK_FALLBACK_SLOTS slots after the client's own whose
 * worker has a socket: the same for every connection of this client. */
static __always_inline __u32 lb_fallback(const struct lb_vip_meta *vip,
					 const struct lb_addr *client,
					 __u8 family, struct bpf_sock **sk)
{
	__u32 i, ref, self_host = lb_self_host();
	struct lb_slot s;

	*sk = NULL;
	if (lb_slot_of(vip, client, family, &s))
		return LB_WORKER_NONE;
	for (i = 1; i <= LB_SK_FALLBACK_SLOTS; i++) {
		ref = lb_slot_worker(&s, i);
		*sk = lb_worker_sock(vip, family, ref, self_host);
		if (*sk)
			return LB_REF_WORKER(ref);
	}
	return LB_WORKER_NONE;
}

/*
 * A worker host got a connection its ring does not give to a local worker
 * in the fallback slots: a balancer picked this host on a ring that
 * differs from ours for a moment (a change heard here first or last, or
 * this host draining). The balancer's choice stands: any local worker
 * that serves the VIP (listed for it, not drained, not down), from a
 * start the client's slot gives, rather than a reset.
 */
static __always_inline __u32 lb_any_local(const struct lb_vip_meta *vip,
					  const struct lb_addr *client,
					  __u8 family, struct bpf_sock **sk)
{
	struct lb_worker_key key = { .vip_index = vip->index };
	struct lb_worker_state *st;
	struct lb_slot s;
	__u32 i, slot;

	*sk = NULL;
	if (vip->listener >= LB_LISTENER_KINDS ||
	    lb_slot_of(vip, client, family, &s))
		return LB_WORKER_NONE;
	for (i = 0; i < LB_MAX_WORKERS; i++) {
		key.worker = (s.slot + i) % LB_MAX_WORKERS;
		st = bpf_map_lookup_elem(&lb_vip_workers, &key);
		if (!st || (st->flags & (LB_WF_DRAINED | LB_WF_DOWN)))
			continue;
		slot = LB_SOCKET_SLOT(vip->listener, family, key.worker);
		*sk = bpf_map_lookup_elem(&lb_sockets, &slot);
		if (*sk)
			return key.worker;
	}
	return LB_WORKER_NONE;
}

/* How lb_pick_sock() found its socket, or why it found none. */
enum lb_pick_how {
	LB_PICK_COMPUTED, /* the pick's own socket */
	LB_PICK_FALLBACK, /* the pick had none; a later slot's worker (or,
			   * on a worker host, any local one) */
	LB_PICK_NO_WORKER, /* empty ring slot (or no config) */
	LB_PICK_NO_SOCKET, /* neither the pick nor the fallback slots */
};

/*
 * The listener a new connection from client goes to: the pick's, or, when
 * the pick has lost its socket (it died; the agent has not rebuilt the
 * ring yet, or is not running), the next slots' with a live worker.
 * Returns a referenced socket (bpf_sk_release() it) and its worker id
 * on this host in *worker, or NULL; *how says which case it was.
 */
static __always_inline struct bpf_sock *
lb_pick_sock(const struct lb_vip_meta *vip, const struct lb_addr *client,
	     __u8 family, __u32 *worker, int *how)
{
	struct bpf_sock *sk;

	*worker = lb_pick(vip, client, family);
	if (*worker == LB_WORKER_NONE) {
		*how = LB_PICK_NO_WORKER;
		return NULL;
	}
	sk = lb_worker_sock(vip, family, *worker, lb_self_host());
	if (sk) {
		*worker = LB_REF_WORKER(*worker);
		*how = LB_PICK_COMPUTED;
		return sk;
	}
	*worker = lb_fallback(vip, client, family, &sk);
	if (!sk && lb_self_host())
		*worker = lb_any_local(vip, client, family, &sk);
	*how = sk ? LB_PICK_FALLBACK : LB_PICK_NO_SOCKET;
	return sk;
}

#endif /* LB_PICK_H */
