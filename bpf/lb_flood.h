/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * SYN-flood defence state (BPF only): flood detection per CPU, the
 * per-source token buckets of flood mode, and the filter that tells a
 * retransmitted SYN from a new one. All of it lives in fixed-size per-CPU
 * arrays: a flood inserts nothing, takes no lock and makes no CPU write a
 * line another CPU reads, except lb_flood_state once per window.
 */
#ifndef LB_FLOOD_H
#define LB_FLOOD_H

#include "lb_maps.h"
#include "lb_parse.h"

#include "lb_hash_kern_user.h"

/* How long after flood mode ends an ACK may still bring back a cookie. */
#define LB_COOKIE_LIFETIME_NS (64ull * 1000000000ull)
#define LB_NS_PER_S 1000000000ull

/*
 * Count a SYN to a VIP in this CPU's window; returns 1 in flood mode. A
 * window over its share of flood_syn_rate starts (or extends) flood mode
 * for flood_hold_ms.
 */
static __always_inline int lb_flood_syn(const struct lb_config *cfg, __u64 now)
{
	struct lb_flood_state *st;
	struct lb_flood *f;
	__u64 limit, until;
	__u32 zero = 0;

	if (!(cfg->flags & LB_CF_FLOOD) || !cfg->flood_syn_rate)
		return 0;
	f = bpf_map_lookup_elem(&lb_flood, &zero);
	if (!f)
		return 0;
	if (now - f->window_start >= LB_FLOOD_WINDOW_NS) {
		f->window_start = now;
		f->window_syns = 0;
	}
	f->window_syns++;
	limit = (__u64)cfg->flood_syn_rate * LB_FLOOD_WINDOW_NS / LB_NS_PER_S;
	if (f->window_syns > limit) {
		if (now >= f->flood_until)
			lb_count(LB_R_FLOOD_START);
		f->flood_until = now + (__u64)cfg->flood_hold_ms * 1000000ull;
	}
	if (now >= f->flood_until)
		return 0;
	/* Tell the tc program that cookie ACKs may come, moving the shared
	 * time forward at most once a window. */
	st = bpf_map_lookup_elem(&lb_flood_state, &zero);
	until = f->flood_until + LB_COOKIE_LIFETIME_NS;
	if (st && st->cookies_until + LB_FLOOD_WINDOW_NS < until)
		st->cookies_until = until;
	return 1;
}

/* Bucket slot of the client's prefix (src_v4_prefix / src_v6_prefix). */
static __always_inline __u32 lb_bucket_slot(const struct lb_config *cfg,
					    const struct lb_pkt *pkt)
{
	struct lb_vip_meta cut = {
		.v4_prefix = cfg->src_v4_prefix,
		.v6_prefix = cfg->src_v6_prefix,
	};

	return lb_client_hash(&pkt->src, pkt->family, &cut,
			      (__u32)cfg->cookie_key[1]) %
	       LB_BUCKETS;
}

/*
 * Take a token from the source prefix's bucket (GCRA: one SYN every
 * 1/src_rate s, src_burst at once). Returns 0 if the SYN may go on. Prefixes
 * whose hashes collide share a bucket; with LB_BUCKETS slots that costs a
 * handful of sources their share in a flood from many.
 */
static __always_inline int lb_bucket_take(const struct lb_config *cfg,
					  const struct lb_pkt *pkt, __u64 now)
{
	__u32 slot = lb_bucket_slot(cfg, pkt);
	__u64 interval, tau, tat;
	struct lb_bucket *b;

	if (!cfg->src_rate)
		return 0;
	b = bpf_map_lookup_elem(&lb_buckets, &slot);
	if (!b)
		return 0;
	interval = LB_NS_PER_S / cfg->src_rate;
	tau = interval * (cfg->src_burst ?: 1);
	tat = b->tat > now ? b->tat : now;
	if (tat + interval - now > tau)
		return -1;
	b->tat = tat + interval;
	return 0;
}

/*
 * 1 if this CPU saw the same SYN (4-tuple and ISN) recently: a
 * retransmission, not a new connection. Remembers it otherwise.
 */
static __always_inline int lb_syn_retransmitted(const struct lb_pkt *pkt,
						const struct tcphdr *th)
{
	__u32 k[4], h, slot, *seen;

	k[0] = pkt->src.v6[0] ^ pkt->src.v6[1] ^ pkt->src.v6[2] ^
	       pkt->src.v6[3];
	k[1] = pkt->dst.v6[0] ^ pkt->dst.v6[1] ^ pkt->dst.v6[2] ^
	       pkt->dst.v6[3];
	k[2] = ((__u32)pkt->sport << 16) | pkt->dport;
	k[3] = th->seq;
	h = lb_jhash4(k, 0) | 1; /* 0 is an empty slot */
	slot = h % LB_SYN_SEEN;
	seen = bpf_map_lookup_elem(&lb_syn_seen, &slot);
	if (!seen)
		return 0;
	if (*seen == h)
		return 1;
	*seen = h;
	return 0;
}

#endif /* LB_FLOOD_H */
