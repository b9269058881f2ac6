/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Packet parsing for the XDP program (BPF only). Every access goes through a
 * helper that checks the cursor against data_end first. lb_parse() fills a
 * struct lb_pkt for TCP packets and says what the packet is:
 *   LB_PKT_OTHER  not TCP over IP: pass, uncounted, at the least cost;
 *   LB_PKT_TCP    a TCP segment that is not a bare SYN: pass, uncounted;
 *   LB_PKT_SYN    a well-formed bare SYN (SYN set, ACK clear): steer it;
 *   a reason      (enum lb_reason, >= LB_PKT_REASON_BASE) to count.
 * Only the first header of each layer is trusted after it has been checked
 * against the frame and against the length the layer below declared, so a
 * truncated or inconsistent packet can never yield a wrong pick.
 */
#ifndef LB_PARSE_H
#define LB_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include "lb_kern_user.h"

#define LB_PKT_OTHER 0
#define LB_PKT_TCP 1
#define LB_PKT_SYN 2
#define LB_PKT_REASON_BASE 16 /* reason r is returned as BASE + r */

#define IP_OFFSET_MASK 0x1fff
#define IP6_FRAG_OFFSET_MASK 0xfff8

struct lb_pkt {
	struct lb_addr src;
	struct lb_addr dst;
	__be16 sport;
	__be16 dport;
	__u8 family;
};

struct lb_vlan_hdr {
	__be16 tci;
	__be16 proto;
};

/* IPv6 hop-by-hop, routing and destination options share this start. */
struct lb_ip6_opt {
	__u8 nexthdr;
	__u8 hdrlen; /* in 8-octet units, not counting the first 8 */
};

struct lb_ip6_frag {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off;
	__be32 id;
};

static __always_inline int lb_reason_ret(enum lb_reason r)
{
	return LB_PKT_REASON_BASE + r;
}

/* Ethernet plus at most one 802.1Q/802.1ad tag; returns the ethertype. */
static __always_inline int lb_parse_eth(void **pos, void *data_end,
					__be16 *proto)
{
	struct ethhdr *eth = *pos;
	struct lb_vlan_hdr *vlan;

	if ((void *)(eth + 1) > data_end)
		return lb_reason_ret(LB_R_L2_TRUNC);
	*proto = eth->h_proto;
	*pos = eth + 1;
	if (*proto == bpf_htons(ETH_P_8021Q) ||
	    *proto == bpf_htons(ETH_P_8021AD)) {
		vlan = *pos;
		if ((void *)(vlan + 1) > data_end)
			return lb_reason_ret(LB_R_L2_TRUNC);
		*proto = vlan->proto;
		*pos = vlan + 1;
	}
	return 0;
}

/*
 * Mirrors the kernel's own ip_rcv_core() checks, so what we drop the stack
 * would have dropped too. Returns IPPROTO_TCP with *l4_len set, LB_PKT_OTHER,
 * or a reason.
 */
static __always_inline int lb_parse_ip4(void **pos, void *data_end,
					struct lb_pkt *pkt, __u32 *l4_len)
{
	struct iphdr *iph = *pos;
	__u32 hlen, tot_len;

	if ((void *)(iph + 1) > data_end)
		return lb_reason_ret(LB_R_IP4_TRUNC);
	if (iph->version != 4 || iph->ihl < 5)
		return lb_reason_ret(LB_R_IP4_BAD);
	hlen = iph->ihl * 4;
	tot_len = bpf_ntohs(iph->tot_len);
	if (tot_len < hlen)
		return lb_reason_ret(LB_R_IP4_BAD);
	/* Options and the declared payload must be in the frame. */
	if ((void *)iph + tot_len > data_end)
		return lb_reason_ret(LB_R_IP4_TRUNC);
	if (iph->frag_off & bpf_htons(IP_OFFSET_MASK))
		return lb_reason_ret(LB_R_FRAGMENT);
	if (iph->protocol != IPPROTO_TCP)
		return LB_PKT_OTHER;
	/* The words past v4 are part of map keys: zero them (a union
	 * initialiser would leave them undefined). */
	pkt->family = LB_FAMILY_V4;
	pkt->src.v6[0] = iph->saddr;
	pkt->dst.v6[0] = iph->daddr;
	pkt->src.v6[1] = pkt->src.v6[2] = pkt->src.v6[3] = 0;
	pkt->dst.v6[1] = pkt->dst.v6[2] = pkt->dst.v6[3] = 0;
	*pos = (void *)iph + hlen;
	*l4_len = tot_len - hlen;
	return IPPROTO_TCP;
}

static __always_inline void lb_copy_in6(struct lb_addr *a,
					const struct in6_addr *in)
{
	a->v6[0] = in->in6_u.u6_addr32[0];
	a->v6[1] = in->in6_u.u6_addr32[1];
	a->v6[2] = in->in6_u.u6_addr32[2];
	a->v6[3] = in->in6_u.u6_addr32[3];
}

/* Bounded walk over hop-by-hop, routing, destination-options and fragment
 * headers, as ipv6_rcv() and the extension handlers would check them. */
static __always_inline int lb_parse_ip6(void **pos, void *data_end,
					struct lb_pkt *pkt, __u32 *l4_len)
{
	struct ipv6hdr *ip6h = *pos;
	struct lb_ip6_frag *frag;
	struct lb_ip6_opt *opt;
	__u32 payload, len;
	__u8 next;
	int i;

	if ((void *)(ip6h + 1) > data_end)
		return lb_reason_ret(LB_R_IP6_TRUNC);
	if (ip6h->version != 6)
		return lb_reason_ret(LB_R_IP6_BAD);
	payload = bpf_ntohs(ip6h->payload_len);
	if (payload == 0) /* jumbogram: not ours to judge */
		return lb_reason_ret(LB_R_UNSUPPORTED);
	if ((void *)(ip6h + 1) + payload > data_end)
		return lb_reason_ret(LB_R_IP6_TRUNC);
	next = ip6h->nexthdr;
	*pos = ip6h + 1;

	for (i = 0; i < LB_IP6_EXT_MAX; i++) {
		switch (next) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
			opt = *pos;
			if ((void *)(opt + 1) > data_end)
				return lb_reason_ret(LB_R_IP6_TRUNC);
			len = (opt->hdrlen + 1) * 8;
			if (len > payload)
				return lb_reason_ret(LB_R_IP6_TRUNC);
			next = opt->nexthdr;
			break;
		case IPPROTO_FRAGMENT:
			frag = *pos;
			if ((void *)(frag + 1) > data_end)
				return lb_reason_ret(LB_R_IP6_TRUNC);
			if (frag->frag_off & bpf_htons(IP6_FRAG_OFFSET_MASK))
				return lb_reason_ret(LB_R_FRAGMENT);
			len = sizeof(*frag);
			if (len > payload)
				return lb_reason_ret(LB_R_IP6_TRUNC);
			next = frag->nexthdr;
			break;
		case IPPROTO_TCP:
			goto tcp;
		default:
			return LB_PKT_OTHER;
		}
		payload -= len;
		*pos += len;
	}
	if (next != IPPROTO_TCP)
		return lb_reason_ret(LB_R_IP6_EXT_LIMIT);
tcp:
	pkt->family = LB_FAMILY_V6;
	lb_copy_in6(&pkt->src, &ip6h->saddr);
	lb_copy_in6(&pkt->dst, &ip6h->daddr);
	*l4_len = payload;
	return IPPROTO_TCP;
}

/*
 * The only test on the established path is the flag check: anything but a
 * bare SYN returns before any map is touched. A SYN must carry a whole TCP
 * header inside the IP payload before its ports are believed.
 */
static __always_inline int lb_parse_tcp(void *pos, void *data_end,
					struct lb_pkt *pkt, __u32 l4_len)
{
	struct tcphdr *th = pos;

	if ((void *)(th + 1) > data_end || l4_len < sizeof(*th))
		return lb_reason_ret(LB_R_TCP_TRUNC);
	if (!th->syn || th->ack)
		return LB_PKT_TCP;
	if (th->doff < 5)
		return lb_reason_ret(LB_R_TCP_BAD_DOFF);
	if (th->doff * 4 > l4_len)
		return lb_reason_ret(LB_R_TCP_TRUNC);
	pkt->sport = th->source;
	pkt->dport = th->dest;
	return LB_PKT_SYN;
}

static __always_inline int lb_parse(void *data, void *data_end,
				    struct lb_pkt *pkt)
{
	void *pos = data;
	__u32 l4_len = 0;
	__be16 proto;
	int rc;

	rc = lb_parse_eth(&pos, data_end, &proto);
	if (rc)
		return rc;
	if (proto == bpf_htons(ETH_P_IP))
		rc = lb_parse_ip4(&pos, data_end, pkt, &l4_len);
	else if (proto == bpf_htons(ETH_P_IPV6))
		rc = lb_parse_ip6(&pos, data_end, pkt, &l4_len);
	else
		return LB_PKT_OTHER;
	if (rc != IPPROTO_TCP)
		return rc;
	return lb_parse_tcp(pos, data_end, pkt, l4_len);
}

#endif /* LB_PARSE_H */
