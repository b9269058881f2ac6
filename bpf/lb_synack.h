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
#include "lb_syn_check.h"

#define LB_SYNACK_TTL 64
#define LB_SYNACK_WINDOW 65535 /* never scaled in a SYN-ACK */
#define LB_IP4_DF 0x4000
/* Our TCP header's offset: Ethernet, a VLAN tag, IPv6 */
#define LB_L4_OFF_MAX (14 + 4 + 40)

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

static __always_inline int lb_cookie_sent(__u32 vip_index, __u32 reason)
{
	struct lb_counters *c = lb_vip_counters(vip_index);

	lb_count(reason);
	if (c)
		c->cookies_sent++;
	return XDP_TX;
}

static __always_inline int lb_cookie_drop(__u32 reason)
{
	lb_count(reason);
	return XDP_DROP;
}

/*
 * Turn the SYN in ctx into its cookie SYN-ACK and return XDP_TX, or drop
 * it, counted: in flood mode no SYN to a served port goes on to the
 * kernel. Refused (lb_syn_check.h): what the kernel would not answer
 * either, a fragment, IPv4 options or IPv6 extension headers we cannot
 * vouch for, a bad checksum; also a frame whose tail cannot grow. Other
 * IPv4 options and IPv6 extension headers are not echoed, as the kernel's
 * own SYN-ACK does not echo them: the reply is our fixed IP header and
 * TCP right behind it. Nothing is changed before the last of the checks.
 */
static __always_inline int lb_cookie_synack(struct xdp_md *ctx,
					    struct lb_pkt *pkt,
					    const struct lb_config *cfg,
					    __u32 vip_index)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct lb_opt_walk w = {}; /* and scratch before and after */
	struct lb_tcp_synack t = {};
	struct lb_tcp_opts *o = &w.o;
	struct lb_cookie_flow f;
	struct tcphdr *th = pkt->l4;
	struct ethhdr *eth = data;
	__u32 l3_off = pkt->l3_off, l4_off, olen, mss_index, isn, cookie;
	__u32 tcp_len, ip_len, reason;
	__u8 mac[2][ETH_ALEN];
	__u64 now, sum;
	int i, err;

	/* lb_parse_dst() and lb_parse_tcp() checked these */
	if ((void *)(th + 1) > data_end || (void *)(eth + 1) > data_end)
		return XDP_ABORTED;
	reason = lb_syn_refused(ctx, pkt, th, eth, w.buf);
	if (reason)
		return lb_cookie_drop(reason);
	if (pkt->shape & LB_SHAPE_IP_EXT) /* the checksum sums all of it */
		__builtin_memset(w.buf, 0, sizeof(w.buf));

	/* Everything the reply needs, read before the frame changes. */
	olen = th->doff * 4 - sizeof(*th); /* lb_parse_tcp: doff >= 5 */
	if (olen > LB_TCP_OPTS_MAX)
		return XDP_ABORTED; /* doff is 4 bits */
	/* olen is bounded above, so the helper's length is too; the options
	 * lie inside the IP payload (lb_parse_tcp checked doff). */
	if (olen &&
	    bpf_xdp_load_bytes(ctx, pkt->l4_off + sizeof(*th), w.buf, olen))
		return XDP_ABORTED;
	w.len = olen;
	lb_tcp_opts_parse(&w);
	/* w.buf still holds the options; then it is scratch for the data */
	if (!lb_tcp_csum_ok(ctx, pkt, th, w.buf, w.buf))
		return lb_cookie_drop(LB_R_SYN_BAD_CSUM);
	isn = bpf_ntohl(th->seq);
	f.client = pkt->src;
	f.vip = pkt->dst;
	f.sport = pkt->sport;
	f.dport = pkt->dport;
	f.family = pkt->family;
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

	/* The frame ends with our TCP header, right behind our IP header: a
	 * SYN's options, extension headers, payload (TFO data) or Ethernet
	 * padding go. */
	l4_off =
		l3_off + (pkt->family == LB_FAMILY_V4 ? sizeof(struct iphdr) :
							sizeof(struct ipv6hdr));
	/* l3_off is 14 or 18, but the verifier lost it on the stack, and
	 * clang would add l4_off to the packet pointer below: bound it,
	 * behind a barrier clang cannot see through. */
	asm volatile("" : "+r"(l4_off));
	if (l4_off > LB_L4_OFF_MAX)
		return XDP_ABORTED;
	ip_len = (pkt->family == LB_FAMILY_V4 ? sizeof(struct iphdr) : 0) +
		 tcp_len;
	if (bpf_xdp_adjust_tail(ctx, (int)(l4_off + tcp_len) -
					     (int)(data_end - data)))
		return lb_cookie_drop(LB_R_COOKIE_NO_ROOM);

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
		err = bpf_xdp_store_bytes(ctx, l3_off, &ip, sizeof(ip));
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
		err = bpf_xdp_store_bytes(ctx, l3_off, &ip6, sizeof(ip6));
	}
	/* tcp_len is 24, 36 or 40: a bounded length for the helper. A
	 * failed write leaves a half-made frame: never send or pass it. */
	err = err ?: bpf_xdp_store_bytes(ctx, l4_off, &t, tcp_len);
	err = err ?: bpf_xdp_store_bytes(ctx, 0, mac[0], ETH_ALEN);
	err = err ?: bpf_xdp_store_bytes(ctx, ETH_ALEN, mac[1], ETH_ALEN);
	if (err)
		return XDP_ABORTED;
	return lb_cookie_sent(vip_index, pkt->shape & LB_SHAPE_IP_EXT ?
						 LB_R_COOKIE_IP_OPTS :
						 LB_R_COOKIE_SENT);
}

#endif /* LB_SYNACK_H */
