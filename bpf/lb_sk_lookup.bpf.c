// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sk_lookup half of the steering (DESIGN.md D1): a new TCP connection to a
 * VIP goes to the listening socket of the worker lb_pick() computes from the
 * client address and the VIP's ring, the function XDP's cookie path uses
 * too. Runs once per connection: established packets find their socket
 * first, and so does a retransmitted SYN (its request socket).
 */
#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_endian.h>
#include "lb_pick.h"

#define AF_INET 2
#define AF_INET6 10

/* The connection as the client sent it: src = client, dst = VIP. */
struct lb_sk_tuple {
	struct lb_addr src;
	struct lb_addr dst;
	__be16 dport;
	__u8 family;
};

/* Context fields are read one by one: the verifier refuses a load through a
 * ctx pointer the compiler has moved (it merges the v4 and v6 branches). */
#define LB_CTX(field) (*(volatile __typeof__(ctx->field) *)&ctx->field)

static __always_inline int lb_sk_tuple(const struct bpf_sk_lookup *ctx,
				       struct lb_sk_tuple *key)
{
	__builtin_memset(key, 0, sizeof(*key));
	if (ctx->family == AF_INET) {
		key->family = LB_FAMILY_V4;
		key->src.v4 = LB_CTX(remote_ip4);
		key->dst.v4 = LB_CTX(local_ip4);
	} else if (ctx->family == AF_INET6) {
		key->family = LB_FAMILY_V6;
		key->src.v6[0] = LB_CTX(remote_ip6[0]);
		key->src.v6[1] = LB_CTX(remote_ip6[1]);
		key->src.v6[2] = LB_CTX(remote_ip6[2]);
		key->src.v6[3] = LB_CTX(remote_ip6[3]);
		key->dst.v6[0] = LB_CTX(local_ip6[0]);
		key->dst.v6[1] = LB_CTX(local_ip6[1]);
		key->dst.v6[2] = LB_CTX(local_ip6[2]);
		key->dst.v6[3] = LB_CTX(local_ip6[3]);
	} else {
		return -1;
	}
	key->dport = bpf_htons(ctx->local_port); /* ctx has host order */
	return 0;
}

/* The worker's listener of the VIP's kind and of the connection's family:
 * the kernel assigns only a socket of the connection's own family. */
static __always_inline struct bpf_sock *
lb_worker_sock(const struct lb_vip_meta *vip, __u8 family, __u32 worker)
{
	__u32 slot;

	if (worker >= LB_MAX_WORKERS || vip->listener >= LB_LISTENER_KINDS)
		return NULL;
	slot = LB_SOCKET_SLOT(vip->listener, family, worker);
	return bpf_map_lookup_elem(&lb_sockets, &slot);
}

static __always_inline __u32 lb_fallback(const struct lb_vip_meta *vip,
					 const struct lb_sk_tuple *fkey,
					 struct bpf_sock **sk)
{
	struct lb_slot s;
	__u32 i, worker;

	*sk = NULL;
	if (lb_slot_of(vip, &fkey->src, fkey->family, &s))
		return LB_WORKER_NONE;
	for (i = 1; i <= LB_SK_FALLBACK_SLOTS; i++) {
		worker = lb_slot_worker(&s, i);
		*sk = lb_worker_sock(vip, fkey->family, worker);
		if (*sk)
			return worker;
	}
	return LB_WORKER_NONE;
}

static __always_inline void lb_count_assigned(__u32 vip_index, __u32 worker)
{
	struct lb_counters *c;

	c = lb_vip_counters(vip_index);
	if (c)
		c->assigned++;
	c = lb_worker_counters(worker);
	if (c)
		c->assigned++;
}

static __always_inline int lb_assign(struct bpf_sk_lookup *ctx)
{
	struct lb_vip_key vkey = {};
	struct lb_sk_tuple fkey;
	struct lb_vip_meta *vip;
	struct bpf_sock *sk;
	__u32 worker, reason;
	long err;

	if (ctx->protocol != IPPROTO_TCP || lb_sk_tuple(ctx, &fkey))
		return SK_PASS;
	vkey.addr = fkey.dst;
	vkey.port = fkey.dport;
	vkey.proto = IPPROTO_TCP;
	vkey.family = fkey.family;
	vip = bpf_map_lookup_elem(&lb_vips, &vkey);
	if (!vip)
		return SK_PASS;

	worker = lb_pick(vip, &fkey.src, fkey.family);
	if (worker == LB_WORKER_NONE) {
		lb_count(LB_R_SK_NO_WORKER);
		return SK_PASS;
	}
	sk = lb_worker_sock(vip, fkey.family, worker);
	reason = LB_R_SK_COMPUTED;
	if (!sk) {
		/* The pick has lost its socket (it died; the agent has not
		 * rebuilt the ring yet, or is not running). The next slots
		 * with a live worker take the connection: the same for every
		 * connection of this client, and no RST meanwhile. */
		lb_count(LB_R_SK_NO_SOCKET);
		worker = lb_fallback(vip, &fkey, &sk);
		if (!sk)
			return SK_PASS;
		reason = LB_R_SK_FALLBACK;
	}
	err = bpf_sk_assign(ctx, sk, BPF_SK_LOOKUP_F_NO_REUSEPORT);
	bpf_sk_release(sk);
	if (err) {
		lb_count(LB_R_SK_ASSIGN_FAIL);
		return SK_PASS;
	}
	lb_count(reason);
	lb_count_assigned(vip->index, worker);
	return SK_PASS;
}

SEC("sk_lookup")
int lb_sk_lookup(struct bpf_sk_lookup *ctx)
{
	return lb_assign(ctx);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
