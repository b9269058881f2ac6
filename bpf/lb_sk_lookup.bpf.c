// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sk_lookup half of the steering (DESIGN.md D1): a new TCP connection to a
 * VIP goes to the listening socket of the worker lb_pick() computes from the
 * client address and the VIP's ring, the function the tc program uses
 * for a SYN cookie's ACK too (lb_pick_sock()). Runs once per connection: established packets find their socket
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

/* The tc program's "is there a connection?" lookup (lb_maps.h). */
static __always_inline int lb_tc_probing(void)
{
	__u32 zero = 0, *probe = bpf_map_lookup_elem(&lb_tc_probe, &zero);

	return probe && *probe;
}

static __always_inline int lb_assign(struct bpf_sk_lookup *ctx)
{
	struct lb_vip_key vkey = {};
	struct lb_sk_tuple fkey;
	struct lb_vip_meta *vip;
	struct bpf_sock *sk;
	__u32 worker, reason;
	int how;
	long err;

	if (ctx->protocol != IPPROTO_TCP || lb_tc_probing() ||
	    lb_sk_tuple(ctx, &fkey))
		return SK_PASS;
	vkey.addr = fkey.dst;
	vkey.port = fkey.dport;
	vkey.proto = IPPROTO_TCP;
	vkey.family = fkey.family;
	vip = bpf_map_lookup_elem(&lb_vips, &vkey);
	if (!vip)
		return SK_PASS;

	sk = lb_pick_sock(vip, &fkey.src, fkey.family, &worker, &how);
	/* A pick without a socket (it died; the agent has not rebuilt the
	 * ring yet, or is not running) is counted even when a later slot's
	 * worker takes the connection: the same for every connection of this
	 * client, and no RST meanwhile. */
	if (how == LB_PICK_NO_WORKER)
		lb_count(LB_R_SK_NO_WORKER);
	else if (how != LB_PICK_COMPUTED)
		lb_count(LB_R_SK_NO_SOCKET);
	if (!sk)
		return SK_PASS;
	reason = how == LB_PICK_FALLBACK ? LB_R_SK_FALLBACK : LB_R_SK_COMPUTED;
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
