/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * SYN-flood defence state (BPF only): flood detection per CPU, the
 * per-source token buckets charged by sources that proved themselves (a
 * valid cookie ACK, lb_tc.bpf.c), and the filter that tells a
 * retransmitted SYN from a new one. All of it lives in fixed-size per-CPU
 * arrays: a flood inserts nothing, takes no lock and makes no CPU write a
 * line another CPU reads, except lb_flood_state once per window.
 */
#ifndef LB_FLOOD_H
#define LB_FLOOD_H

#include "lb_maps.h"
#include "lb_parse.h"

#include "lb_siphash.h"
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

/* enum lb_src_action of the longest source prefix that holds src, or 0. */
static __always_inline __u32 lb_src_rule(const struct lb_config *cfg,
					 __u8 family, const struct lb_addr *src)
{
	struct lb_src_rule *rule = NULL;
	struct lb_lpm_v4 k4;
	struct lb_lpm_v6 k6;

	if (family == LB_FAMILY_V4) {
		if (!cfg->src_rules_v4)
			return 0;
		k4.prefixlen = 32;
		k4.addr = src->v4;
		rule = bpf_map_lookup_elem(&lb_src_v4, &k4);
	} else {
		if (!cfg->src_rules_v6)
			return 0;
		k6.prefixlen = 128;
		k6.addr[0] = src->v6[0];
		k6.addr[1] = src->v6[1];
		k6.addr[2] = src->v6[2];
		k6.addr[3] = src->v6[3];
		rule = bpf_map_lookup_elem(&lb_src_v6, &k6);
	}
	return rule ? rule->action : 0;
}

/* Last SipHash word of a bucket hash: keeps it apart from every cookie
 * hash made with the same key (lb_cookie.h), whose last word is small. */
#define LB_BUCKET_TAG (0x6275636bull << 32) /* "buck" */

/*
 * SipHash-2-4 of the source prefix (src_v4_prefix / src_v6_prefix bits),
 * keyed by the whole 128-bit cookie key: nobody outside can tell which
 * prefixes share a slot, so nobody can aim at another's.
 */
static __always_inline __u64 lb_bucket_hash(const struct lb_config *cfg,
					    __u8 family,
					    const struct lb_addr *src)
{
	int bits = family == LB_FAMILY_V4 ? cfg->src_v4_prefix :
					    cfg->src_v6_prefix;
	struct lb_sip s;

	lb_sip_init(&s, cfg->cookie_key);
	lb_sip_word(&s, (__u64)(src->v6[0] & lb_prefix_word(bits)) |
				(__u64)(src->v6[1] & lb_prefix_word(bits - 32))
					<< 32);
	if (family == LB_FAMILY_V6)
		lb_sip_word(
			&s,
			(__u64)(src->v6[2] & lb_prefix_word(bits - 64)) |
				(__u64)(src->v6[3] & lb_prefix_word(bits - 96))
					<< 32);
	lb_sip_word(&s, LB_BUCKET_TAG | family);
	return lb_sip_final(&s);
}

/*
 * Take a token for the source's prefix (GCRA: one handshake every
 * 1/src_rate s, src_burst at once). Returns 0 if it may go on, -1 if the
 * prefix is over its rate.
 *
 * Two slots per prefix, from the two halves of its hash, and the prefix
 * is as busy as the less busy one: a prefix is wrongly limited only when
 * both its slots are shared with busy prefixes, (k / LB_BUCKETS)^2 for k
 * busy ones instead of k / LB_BUCKETS. A slot is raised only up to the
 * prefix's own time (conservative update, as in a count-min sketch), so a
 * quiet prefix never makes a shared slot busier than it already is.
 */
static __always_inline int lb_bucket_take(const struct lb_config *cfg,
					  __u8 family,
					  const struct lb_addr *src, __u64 now)
{
	__u64 h, interval, tau, tat;
	struct lb_bucket *b0, *b1;
	__u32 k0, k1;

	if (!cfg->src_rate)
		return 0;
	h = lb_bucket_hash(cfg, family, src);
	k0 = (__u32)h % LB_BUCKETS;
	k1 = (__u32)(h >> 32) % LB_BUCKETS;
	b0 = bpf_map_lookup_elem(&lb_buckets, &k0);
	b1 = bpf_map_lookup_elem(&lb_buckets, &k1);
	if (!b0 || !b1)
		return 0;
	interval = LB_NS_PER_S / cfg->src_rate;
	tau = interval * (cfg->src_burst ?: 1);
	tat = b0->tat < b1->tat ? b0->tat : b1->tat;
	if (tat < now)
		tat = now;
	if (tat + interval - now > tau)
		return -1;
	tat += interval;
	if (b0->tat < tat)
		b0->tat = tat;
	if (b1->tat < tat)
		b1->tat = tat;
	return 0;
}

/*
 * A source proved itself: its ACK brought back a valid cookie, so it
 * receives at the address it claims. Charge its prefix; 1 if the prefix is
 * over its rate (the caller drops the ACK, counted here), 0 to go on.
 * Sources on the allow list are spared.
 */
static __always_inline int lb_proven_limited(const struct lb_config *cfg,
					     __u8 family,
					     const struct lb_addr *src,
					     __u32 vip_index, __u64 now)
{
	struct lb_counters *c;

	if (lb_src_rule(cfg, family, src) == LB_SRC_ALLOW ||
	    !lb_bucket_take(cfg, family, src, now))
		return 0;
	c = lb_vip_counters(vip_index);
	if (c)
		c->rate_limited++;
	lb_count(LB_R_RATE_LIMITED);
	return 1;
}

/*
 * 1 if this CPU saw the same SYN (4-tuple and ISN) recently: a
 * retransmission, not a new connection. Remembers it otherwise.
 */
static __always_inline int lb_syn_retransmitted(const struct lb_pkt *pkt,
						const struct tcphdr *th)
{
	__u32 k[4], h, slot, zero = 0;
	struct lb_syn_seen *seen;

	k[0] = pkt->src.v6[0] ^ pkt->src.v6[1] ^ pkt->src.v6[2] ^
	       pkt->src.v6[3];
	k[1] = pkt->dst.v6[0] ^ pkt->dst.v6[1] ^ pkt->dst.v6[2] ^
	       pkt->dst.v6[3];
	k[2] = ((__u32)pkt->sport << 16) | pkt->dport;
	k[3] = th->seq;
	h = lb_jhash4(k, 0) | 1; /* 0 is an empty slot */
	slot = h & (LB_SYN_SEEN - 1);
	seen = bpf_map_lookup_elem(&lb_syn_seen, &zero);
	if (!seen)
		return 0;
	if (seen->hash[slot] == h)
		return 1;
	seen->hash[slot] = h;
	return 0;
}

#endif /* LB_FLOOD_H */
