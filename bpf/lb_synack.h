/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The XDP half of SYN cookies (BPF only): in flood mode a SYN to a VIP is
 * turned, in place, into the SYN-ACK whose ISN is a cookie (lb_cookie.h)
 * and sent back out of the interface it came in on (XDP_TX). The kernel
 * keeps nothing for it; the tc program (lb_tc.bpf.c) makes the request
 * socket when the ACK brings the cookie back.
 *
 * The reply is built on the stack and written over the SYN with
 * bpf_xdp_store_bytes(): the TCP header's length depends on the options
 * the client sent, and a helper with a bounded length keeps the verifier
 * out of variable-offset packet writes.
 */
#ifndef LB_SYNACK_H
#define LB_SYNACK_H

#include "lb_parse.h"
#include "lb_csum.h"
#include "lb_cookie.h"
#include "lb_mss.h"

#define LB_SYNACK_TTL 64
#define LB_SYNACK_WINDOW 65535 /* never scaled in a SYN-ACK */
#define LB_IP4_DF 0x4000

/* Our SYN-ACK's TCP header; the options are 4-byte words. */
struct lb_tcp_synack {
	struct tcphdr th;
	__be32 opt[5]; /* 4, 16 or 20 bytes used */
};

/* Fill in the options after the header: MSS, then with timestamps SACK
 * permitted (or two NOPs), TS, and NOP + window scale. Only what the
 * client offered and the namespace's sysctls allow (flags: LB_CF_NO_*):
 * bpf_sk_assign_tcp_reqsk() refuses the rest when the ACK comes. The
 * option bits of tsval are set here to what is offered. Returns the
 * options' length in bytes. */
static __always_inline __u32 lb_synack_opts(struct lb_tcp_synack *t,
					    const struct lb_tcp_opts *o,
					    __u16 mss, __u32 tsval, __u32 flags)
{
	struct lb_tcp_opts m = *o;

	if (flags & LB_CF_NO_TS)
		m.ts_ok = 0;
	if (flags & LB_CF_NO_SACK)
		m.sack_ok = 0;
	if (flags & LB_CF_NO_WSCALE)
		m.wscale_ok = 0;
	t->opt[0] = bpf_htonl(LB_TCPOPT_MSS << 24 | LB_TCPOLEN_MSS << 16 | mss);
	if (!m.ts_ok)
		return 4; /* like the kernel's: no TS, no room for SACK/wscale */
	if (m.sack_ok)
		t->opt[1] = bpf_htonl(LB_TCPOPT_SACK_PERM << 24 |
				      LB_TCPOLEN_SACK_PERM << 16 |
				      LB_TCPOPT_TS << 8 | LB_TCPOLEN_TS);
	else
		t->opt[1] =
			bpf_htonl(LB_TCPOPT_NOP << 24 | LB_TCPOPT_NOP << 16 |
				  LB_TCPOPT_TS << 8 | LB_TCPOLEN_TS);
	t->opt[2] =
		bpf_htonl((tsval & ~LB_TS_OPT_MASK) | lb_cookie_ts_bits(&m));
	t->opt[3] = bpf_htonl(m.tsval); /* echo the client's */
	if (!m.wscale_ok)
		return 16;
	t->opt[4] = bpf_htonl(LB_TCPOPT_NOP << 24 | LB_TCPOPT_WSCALE << 16 |
			      LB_TCPOLEN_WSCALE << 8 | LB_COOKIE_RCV_WSCALE);
	return 20;
}

/* Cookies on, the namespace's tcp_syncookies not 0, and an interface whose
 * XDP_TX frames leave (lb_cookie_ifs: looked up on the flood path only). */
static __always_inline int lb_cookies_here(const struct xdp_md *ctx,
					   const struct lb_config *cfg)
{
	__u32 ifindex = ctx->ingress_ifindex;

	if ((cfg->flags & (LB_CF_COOKIES | LB_CF_NO_SYNCOOKIES)) !=
	    LB_CF_COOKIES)
		return 0;
	return !bpf_map_lookup_elem(&lb_cookie_ifs, &ifindex);
}

static __always_inline void lb_count_cookie_sent(__u32 vip_index)
{
	struct lb_counters *c = lb_vip_counters(vip_index);

	lb_count(LB_R_COOKIE_SENT);
	if (c)
		c->cookies_sent++;
}

/*
 * bpf_xdp_adjust_tail() failed and left the frame as it was, but the
 * verifier forgets every packet pointer after the call, those in *pkt
 * included: give the caller fresh ones. XDP_ABORTED only if the frame no
 * longer holds the TCP header, which cannot be.
 */
static __always_inline int lb_synack_unchanged(struct xdp_md *ctx,
					       struct lb_pkt *pkt, __u32 l3_off,
					       __u32 l4_off)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct tcphdr *th = data + l4_off;

	if ((void *)(th + 1) > data_end)
		return XDP_ABORTED;
	pkt->l3 = data + l3_off;
	pkt->l4 = th;
	return XDP_PASS;
}

/*
 * Turn the SYN in ctx into its cookie SYN-ACK. Returns XDP_TX when it did,
 * XDP_PASS when it could not (the kernel's own syncookies take over): IPv4
 * options or IPv6 extension headers (we would have to echo or drop them),
 * a fragment, or a frame whose tail cannot grow. Nothing is changed before
 * the last of those checks. Any other verdict is final (see
 * lb_synack_unchanged()).
 */
static __always_inline int lb_cookie_synack(struct xdp_md *ctx,
					    struct lb_pkt *pkt,
					    const struct lb_config *cfg,
					    __u32 vip_index)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct lb_opt_walk w = {};
	struct lb_tcp_synack t = {};
	struct lb_tcp_opts *o = &w.o;
	struct lb_cookie_flow f;
	struct tcphdr *th = pkt->l4;
	__u32 l3_off, l4_off, olen, mss_index, isn, cookie, tcp_len, ip_len;
	__u8 mac[2][ETH_ALEN];
	struct ethhdr *eth;
	__u64 now, sum;
	int i;

	/* Shape: the fixed IP header alone, then TCP. */
	if ((void *)(th + 1) > data_end)
		return XDP_PASS;
	l3_off = pkt->l3 == data + sizeof(struct ethhdr) ?
			 sizeof(struct ethhdr) :
			 sizeof(struct ethhdr) + sizeof(struct lb_vlan_hdr);
	if (pkt->family == LB_FAMILY_V4) {
		struct iphdr *iph = pkt->l3;

		if ((void *)(iph + 1) > data_end || iph->ihl != 5 ||
		    iph->frag_off & bpf_htons(IP_MF_OFFSET_MASK) ||
		    pkt->l4 != (void *)(iph + 1))
			return XDP_PASS;
		l4_off = l3_off + sizeof(*iph);
	} else {
		struct ipv6hdr *ip6h = pkt->l3;

		if ((void *)(ip6h + 1) > data_end ||
		    ip6h->nexthdr != IPPROTO_TCP ||
		    pkt->l4 != (void *)(ip6h + 1))
			return XDP_PASS;
		l4_off = l3_off + sizeof(*ip6h);
	}

	/* Everything the reply needs, read before the frame changes. */
	olen = th->doff * 4 - sizeof(*th); /* lb_parse_tcp: doff >= 5 */
	if (olen > LB_TCP_OPTS_MAX)
		return XDP_PASS;
	/* olen is bounded above, so the helper's length is too; the options
	 * lie inside the IP payload (lb_parse_tcp checked doff). */
	if (olen && bpf_xdp_load_bytes(ctx, l4_off + sizeof(*th), w.buf, olen))
		return XDP_PASS;
	w.len = olen;
	lb_tcp_opts_parse(&w);
	isn = bpf_ntohl(th->seq);
	f.client = pkt->src;
	f.vip = pkt->dst;
	f.sport = pkt->sport;
	f.dport = pkt->dport;
	f.family = pkt->family;
	eth = data;
	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	__builtin_memcpy(mac[0], eth->h_source, ETH_ALEN);
	__builtin_memcpy(mac[1], eth->h_dest, ETH_ALEN);

	if (!o->mss)
		o->mss = pkt->family == LB_FAMILY_V4 ? LB_MSS_DEFAULT_V4 :
						       LB_MSS_DEFAULT_V6;
	mss_index = lb_cookie_mss_index(pkt->family, o->mss);
	now = bpf_ktime_get_coarse_ns();
	cookie = lb_cookie_make(cfg, &f, isn, mss_index, now);

	/* TCP header and options, then its checksum over the pseudo-header
	 * and the whole (zero-padded) struct: zeros add nothing. */
	t.th.source = pkt->dport;
	t.th.dest = pkt->sport;
	t.th.seq = bpf_htonl(cookie);
	t.th.ack_seq = bpf_htonl(isn + 1);
	t.th.syn = 1;
	t.th.ack = 1;
	t.th.window = bpf_htons(LB_SYNACK_WINDOW);
	tcp_len = sizeof(t.th) +
		  lb_synack_opts(&t, o, lb_our_mss(ctx, pkt),
				 (bpf_get_prandom_u32() & ~LB_TS_OPT_MASK) |
					 lb_cookie_ts_bits(o),
				 cfg->flags);
	t.th.doff = tcp_len / 4;
	sum = lb_csum_pseudo(&f.vip, &f.client, f.family, tcp_len) +
	      lb_csum_words(&t, sizeof(t));
	t.th.check = lb_csum_fold(sum);

	/* The frame ends with our TCP header: a SYN's payload (TFO data) or
	 * Ethernet padding goes. If the tail cannot grow, the SYN passes
	 * unchanged. */
	ip_len = (pkt->family == LB_FAMILY_V4 ? sizeof(struct iphdr) : 0) +
		 tcp_len;
	if (bpf_xdp_adjust_tail(ctx, (int)(l4_off + tcp_len) -
					     (int)(data_end - data)))
		return lb_synack_unchanged(ctx, pkt, l3_off, l4_off);

	if (pkt->family == LB_FAMILY_V4) {
		struct iphdr ip = {
			.version = 4,
			.ihl = 5,
			.tot_len = bpf_htons(ip_len),
			.frag_off = bpf_htons(LB_IP4_DF),
			.ttl = LB_SYNACK_TTL,
			.protocol = IPPROTO_TCP,
			.saddr = f.vip.v4,
			.daddr = f.client.v4,
		};

		ip.check = lb_csum_fold(lb_csum_words(&ip, sizeof(ip)));
		bpf_xdp_store_bytes(ctx, l3_off, &ip, sizeof(ip));
	} else {
		struct ipv6hdr ip6 = {
			.version = 6,
			.payload_len = bpf_htons(ip_len),
			.nexthdr = IPPROTO_TCP,
			.hop_limit = LB_SYNACK_TTL,
		};

#pragma unroll
		for (i = 0; i < 4; i++) {
			ip6.saddr.in6_u.u6_addr32[i] = f.vip.v6[i];
			ip6.daddr.in6_u.u6_addr32[i] = f.client.v6[i];
		}
		bpf_xdp_store_bytes(ctx, l3_off, &ip6, sizeof(ip6));
	}
	/* tcp_len is 24, 36 or 40: a bounded length for the helper */
	bpf_xdp_store_bytes(ctx, l4_off, &t, tcp_len);
	bpf_xdp_store_bytes(ctx, 0, mac[0], ETH_ALEN); /* destination */
	bpf_xdp_store_bytes(ctx, ETH_ALEN, mac[1], ETH_ALEN); /* source */

	lb_count_cookie_sent(vip_index);
	return XDP_TX;
}

#endif /* LB_SYNACK_H */
