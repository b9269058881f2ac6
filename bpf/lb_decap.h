/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Scale-out, the worker host's half (BPF only; docs/scaleout.md "Data
 * path"): UDP to this host's underlay address and the GUE port. Only a
 * host of the cluster description is heard (lb_host_addrs); a well-formed
 * encapsulation of a packet to a VIP address is stripped and passed, and
 * sk_lookup delivers it. A non-SYN segment that finds no connection here,
 * sent with a second chance, goes on to that host once (GLB's second
 * chance): a flow started there before the last ring change lives there.
 */
#ifndef LB_DECAP_H
#define LB_DECAP_H

#include "lb_fwd.h"

/* Is this an IPv4 UDP packet to this host's underlay address (cluster
 * mode)? Everything else never looks further. */
static __always_inline int lb_for_self(const struct lb_pkt *pkt,
				       const struct lb_config *cfg)
{
	const struct iphdr *iph = pkt->l3;

	return cfg->self_host && pkt->family == LB_FAMILY_V4 &&
	       pkt->dst.v4 == cfg->self_addr && iph->protocol == IPPROTO_UDP;
}

/* The inner packet, as far as the decapsulation judges it. */
struct lb_inner {
	struct bpf_sock_tuple t; /* client -> VIP, when a TCP segment */
	__u32 tuple_size; /* 0: not a TCP segment we can look up */
	__u8 syn; /* TCP SYN flag */
	__u8 family;
	struct lb_addr dst;
};

/* Read the inner packet at off (inner_len bytes declared by the outer
 * headers). Returns -1 when it is malformed or truncated. */
static __always_inline int lb_inner_parse(struct xdp_md *ctx, __u32 off,
					  __u32 inner_len, __u8 proto,
					  struct lb_inner *in)
{
	struct ipv6hdr ip6;
	struct iphdr ip4;
	struct tcphdr th;
	__u32 hlen, len;

	__builtin_memset(in, 0, sizeof(*in));
	if (proto == LB_IPPROTO_IPIP) {
		if (inner_len < sizeof(ip4) ||
		    bpf_xdp_load_bytes(ctx, off, &ip4, sizeof(ip4)) ||
		    ip4.version != 4 || ip4.ihl < 5)
			return -1;
		hlen = ip4.ihl * 4;
		len = bpf_ntohs(ip4.tot_len);
		if (len < hlen || len > inner_len)
			return -1;
		in->family = LB_FAMILY_V4;
		in->dst.v4 = ip4.daddr;
		if (ip4.protocol != IPPROTO_TCP ||
		    (ip4.frag_off & bpf_htons(IP_OFFSET_MASK)) ||
		    len < hlen + sizeof(th) ||
		    bpf_xdp_load_bytes(ctx, off + hlen, &th, sizeof(th)))
			return 0;
		in->t.ipv4.saddr = ip4.saddr;
		in->t.ipv4.daddr = ip4.daddr;
		in->t.ipv4.sport = th.source;
		in->t.ipv4.dport = th.dest;
		in->tuple_size = sizeof(in->t.ipv4);
	} else if (proto == LB_IPPROTO_IPV6) {
		if (inner_len < sizeof(ip6) ||
		    bpf_xdp_load_bytes(ctx, off, &ip6, sizeof(ip6)) ||
		    ip6.version != 6 ||
		    sizeof(ip6) + bpf_ntohs(ip6.payload_len) > inner_len)
			return -1;
		in->family = LB_FAMILY_V6;
		lb_copy_in6(&in->dst, &ip6.daddr);
		/* extension headers: decapsulated, no second chance */
		if (ip6.nexthdr != IPPROTO_TCP ||
		    bpf_ntohs(ip6.payload_len) < sizeof(th) ||
		    bpf_xdp_load_bytes(ctx, off + sizeof(ip6), &th, sizeof(th)))
			return 0;
		__builtin_memcpy(in->t.ipv6.saddr, &ip6.saddr, 16);
		__builtin_memcpy(in->t.ipv6.daddr, &ip6.daddr, 16);
		in->t.ipv6.sport = th.source;
		in->t.ipv6.dport = th.dest;
		in->tuple_size = sizeof(in->t.ipv6);
	} else {
		return -1;
	}
	in->syn = th.syn;
	return 0;
}

/* Has this host a connection (not a listener) for the inner segment?
 * sk_lookup stays out of it (lb_tc_probe), as for the tc program. */
static __always_inline int lb_inner_has_conn(struct xdp_md *ctx,
					     struct lb_inner *in)
{
	__u32 zero = 0, *probe;
	struct bpf_sock *sk;
	int conn = 0;

	probe = bpf_map_lookup_elem(&lb_tc_probe, &zero);
	if (!probe)
		return 1; /* cannot keep sk_lookup out: deliver here */
	*probe = 1;
	if (in->tuple_size == sizeof(in->t.ipv4))
		sk = bpf_skc_lookup_tcp(ctx, &in->t, sizeof(in->t.ipv4),
					BPF_F_CURRENT_NETNS, 0);
	else
		sk = bpf_skc_lookup_tcp(ctx, &in->t, sizeof(in->t.ipv6),
					BPF_F_CURRENT_NETNS, 0);
	*probe = 0;
	if (sk) {
		conn = sk->state != BPF_TCP_LISTEN;
		bpf_sk_release(sk);
	}
	return conn;
}

/* Send the encapsulated packet on to its second chance, once (hop 1).
 * The headers are rewritten in a copy: the verifier loses the bounds of
 * a packet pointer at a variable offset the compiler recomputes. */
static __always_inline int lb_second_chance(struct xdp_md *ctx,
					    const struct lb_config *cfg,
					    __u32 l2, __be32 second)
{
	struct lb_encap e;

	if (bpf_xdp_load_bytes(ctx, l2, &e, sizeof(e)))
		return XDP_DROP;
	e.gue.hop = 1;
	e.ip.saddr = cfg->self_addr;
	e.ip.daddr = second;
	e.ip.ttl = 64;
	e.ip.check = 0;
	e.ip.check = lb_csum_fold(lb_csum_words(&e.ip, sizeof(e.ip)));
	if (bpf_xdp_store_bytes(ctx, l2, &e, sizeof(e)))
		return XDP_DROP;
	return lb_fwd_xmit(ctx, cfg->self_addr, second, bpf_ntohs(e.ip.tot_len),
			   LB_R_SECOND_CHANCE);
}

static __always_inline int lb_decap_verdict(__u32 reason, int action)
{
	lb_count(reason);
	return action;
}

/*
 * An IPv4 UDP packet to this host's underlay address (lb_for_self()).
 * Not to the GUE port, or a non-first fragment (no port to read): passed
 * untouched. To the GUE port: judged and dropped, forwarded to its
 * second chance, or stripped of its 40 bytes and passed.
 */
static __always_inline int lb_decap(struct xdp_md *ctx,
				    const struct lb_config *cfg,
				    const struct lb_pkt *pkt)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct lb_addr_key akey;
	struct lb_inner in;
	struct iphdr *iph;
	struct udphdr *uh;
	struct lb_gue_hdr *g;
	__u32 l2 = pkt->l3_off, hlen, tot_len, gue_off;
	__be32 src, second;
	__u8 proto, hop;

	if (l2 > sizeof(struct ethhdr) + sizeof(struct lb_vlan_hdr))
		return XDP_PASS;
	iph = data + l2;
	if ((void *)(iph + 1) > data_end ||
	    (iph->frag_off & bpf_htons(IP_OFFSET_MASK)) || iph->ihl < 5)
		return XDP_PASS;
	hlen = iph->ihl * 4;
	uh = (void *)iph + hlen;
	if ((void *)(uh + 1) > data_end || uh->dest != cfg->gue_port)
		return XDP_PASS;
	src = iph->saddr;
	if (!bpf_map_lookup_elem(&lb_host_addrs, &src))
		return lb_decap_verdict(LB_R_DECAP_NOT_CLUSTER, XDP_DROP);

	/* From a cluster host: what the encapsulation says is checked. */
	tot_len = bpf_ntohs(iph->tot_len);
	if (hlen != sizeof(*iph) || iph->version != 4 ||
	    (iph->frag_off & bpf_htons(IP_MF)) || tot_len < LB_ENCAP_OVERHEAD ||
	    (void *)iph + tot_len > data_end ||
	    bpf_ntohs(uh->len) != tot_len - sizeof(*iph))
		return lb_decap_verdict(LB_R_DECAP_BAD, XDP_DROP);
	g = (void *)(uh + 1);
	if ((void *)(g + 1) > data_end || g->hlen_ver != LB_GUE_PRIV_WORDS ||
	    g->magic != LB_GUE_MAGIC)
		return lb_decap_verdict(LB_R_DECAP_BAD, XDP_DROP);
	proto = g->proto;
	hop = g->hop;
	second = g->second;
	gue_off = l2 + LB_ENCAP_OVERHEAD;
	if (lb_inner_parse(ctx, gue_off, tot_len - LB_ENCAP_OVERHEAD, proto,
			   &in))
		return lb_decap_verdict(LB_R_DECAP_BAD, XDP_DROP);
	akey.addr = in.dst;
	akey.family = in.family;
	akey.pad[0] = akey.pad[1] = akey.pad[2] = 0;
	if (!bpf_map_lookup_elem(&lb_vip_addrs, &akey))
		return lb_decap_verdict(LB_R_DECAP_BAD, XDP_DROP);

	/* hop 1 came from a second chance already: never sent on again */
	if (!hop && second && in.tuple_size && !in.syn &&
	    !lb_inner_has_conn(ctx, &in))
		return lb_second_chance(ctx, cfg, l2, second);

	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	if (lb_move_l2(data, data_end, l2, 0, LB_ENCAP_OVERHEAD,
		       in.family == LB_FAMILY_V4 ? bpf_htons(ETH_P_IP) :
						   bpf_htons(ETH_P_IPV6)) ||
	    bpf_xdp_adjust_head(ctx, LB_ENCAP_OVERHEAD))
		return lb_decap_verdict(LB_R_DECAP_BAD, XDP_DROP);
	return lb_decap_verdict(LB_R_DECAP, XDP_PASS);
}

#endif /* LB_DECAP_H */
