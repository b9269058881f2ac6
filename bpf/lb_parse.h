/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Packet parsing for the XDP program (BPF only), in two steps so that a
 * packet not addressed to a VIP is judged on nothing but its destination:
 *
 *   lb_parse_dst()  Ethernet (one VLAN tag) and the fixed IP header, just
 *                   far enough to read the addresses. Anything it cannot
 *                   read is LB_PKT_OTHER: passed, uncounted, untouched.
 *   lb_parse_l4()   only for a VIP address: the IP header checked as the
 *                   kernel's own input would check it (IPv6 extension
 *                   headers walked), then the transport header. It returns
 *                   what the packet is (LB_PKT_*); LB_PKT_REASON when it
 *                   judged the packet, with the reason in pkt->reason.
 *
 * Every access goes through a check of the cursor against data_end first.
 * Only a header checked against the frame and against the length the layer
 * below declared is believed, so a truncated or inconsistent packet can
 * never open a port or yield a wrong verdict.
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

/* lb_parse_dst() */
#define LB_PKT_OTHER 0 /* not IP, or not readable up to its addresses */
#define LB_PKT_IP 1 /* addresses read; ask lb_vip_addrs */
/* lb_parse_l4() */
#define LB_PKT_TCP 2 /* TCP segment that is not a bare SYN */
#define LB_PKT_SYN 3 /* well-formed bare SYN (SYN set, ACK clear) */
#define LB_PKT_ICMP_PASS 4 /* ICMP error or neighbour discovery */
#define LB_PKT_NOT_TCP 5 /* UDP, ICMP echo, any other protocol */
#define LB_PKT_REASON 6 /* judged: pkt->reason (enum lb_reason) says how */

/* lb_pkt.shape: what lies between the IP and the TCP header. */
#define LB_SHAPE_IP_EXT 0x1 /* IPv4 options or IPv6 extension headers */
#define LB_SHAPE_FRAG 0x2 /* first fragment: more follow (MF, M flag) */

#define IP_OFFSET_MASK 0x1fff
#define IP_MF 0x2000
#define IP6_FRAG_OFFSET_MASK 0xfff8
#define IP6_FRAG_MORE 0x0001

#define LB_ICMP6_ND_FIRST 133 /* router solicitation .. redirect */
#define LB_ICMP6_ND_LAST 137

struct lb_pkt {
	struct lb_addr src;
	struct lb_addr dst;
	void *l3; /* IPv4 or IPv6 header */
	void *l4; /* TCP header, once lb_parse_l4() returned TCP or SYN */
	__u32 l3_off; /* offsets of l3 and l4 in the frame, for helpers */
	__u32 l4_off;
	__u32 l4_len; /* bytes from l4 to the end of the IP payload */
	__u32 reason; /* enum lb_reason, when lb_parse_l4() says REASON */
	__be16 sport;
	__be16 dport;
	__u8 family;
	__u8 proto; /* after lb_parse_l4(): the transport protocol */
	__u8 shape; /* after lb_parse_l4(): LB_SHAPE_* */
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

/* The first bytes of ICMP and ICMPv6 alike. */
struct lb_icmp_hdr {
	__u8 type;
	__u8 code;
};

/* The packet is judged: say why in pkt->reason. */
static __always_inline int lb_judged(struct lb_pkt *pkt, enum lb_reason r)
{
	pkt->reason = r;
	return LB_PKT_REASON;
}

static __always_inline void lb_copy_in6(struct lb_addr *a,
					const struct in6_addr *in)
{
	a->v6[0] = in->in6_u.u6_addr32[0];
	a->v6[1] = in->in6_u.u6_addr32[1];
	a->v6[2] = in->in6_u.u6_addr32[2];
	a->v6[3] = in->in6_u.u6_addr32[3];
}

/*
 * Step 1. Reads the addresses at their fixed places and nothing else: a
 * bad IHL or length is judged only once the destination is known to be a
 * VIP's.
 */
static __always_inline int lb_parse_dst(void *data, void *data_end,
					struct lb_pkt *pkt)
{
	struct ethhdr *eth = data;
	struct lb_vlan_hdr *vlan;
	struct ipv6hdr *ip6h;
	struct iphdr *iph;
	void *pos;
	__be16 proto;

	if ((void *)(eth + 1) > data_end)
		return LB_PKT_OTHER;
	proto = eth->h_proto;
	pos = eth + 1;
	if (proto == bpf_htons(ETH_P_8021Q) ||
	    proto == bpf_htons(ETH_P_8021AD)) {
		vlan = pos;
		if ((void *)(vlan + 1) > data_end)
			return LB_PKT_OTHER;
		proto = vlan->proto;
		pos = vlan + 1;
	}
	pkt->l3 = pos;
	pkt->l3_off = pos - data;
	if (proto == bpf_htons(ETH_P_IP)) {
		iph = pos;
		if ((void *)(iph + 1) > data_end)
			return LB_PKT_OTHER;
		/* The words past v4 are part of map keys: zero them (a
		 * union initialiser would leave them undefined). */
		pkt->family = LB_FAMILY_V4;
		pkt->src.v6[0] = iph->saddr;
		pkt->dst.v6[0] = iph->daddr;
		pkt->src.v6[1] = pkt->src.v6[2] = pkt->src.v6[3] = 0;
		pkt->dst.v6[1] = pkt->dst.v6[2] = pkt->dst.v6[3] = 0;
		return LB_PKT_IP;
	}
	if (proto == bpf_htons(ETH_P_IPV6)) {
		ip6h = pos;
		if ((void *)(ip6h + 1) > data_end)
			return LB_PKT_OTHER;
		pkt->family = LB_FAMILY_V6;
		lb_copy_in6(&pkt->src, &ip6h->saddr);
		lb_copy_in6(&pkt->dst, &ip6h->daddr);
		return LB_PKT_IP;
	}
	return LB_PKT_OTHER;
}

/*
 * Mirrors ip_rcv_core()'s checks, so what we drop the stack would have
 * dropped too. Returns 0 with *proto, *pos at the transport header and
 * *l4_len its length, or LB_PKT_REASON.
 */
static __always_inline int lb_parse_ip4(struct lb_pkt *pkt, void *data_end,
					void **pos, __u32 *l4_len, __u8 *proto)
{
	struct iphdr *iph = pkt->l3;
	__u32 hlen, tot_len;

	if ((void *)(iph + 1) > data_end)
		return lb_judged(pkt, LB_R_IP4_TRUNC);
	if (iph->version != 4 || iph->ihl < 5)
		return lb_judged(pkt, LB_R_IP4_BAD);
	hlen = iph->ihl * 4;
	tot_len = bpf_ntohs(iph->tot_len);
	/* IPv4 BIG TCP (generic XDP on a GRO packet) says 0: not ours to
	 * judge, and never harmful to pass. */
	if (tot_len == 0)
		return lb_judged(pkt, LB_R_UNSUPPORTED);
	if (tot_len < hlen)
		return lb_judged(pkt, LB_R_IP4_BAD);
	/* Options and the declared payload must be in the frame. */
	if ((void *)iph + tot_len > data_end)
		return lb_judged(pkt, LB_R_IP4_TRUNC);
	if (iph->frag_off & bpf_htons(IP_OFFSET_MASK))
		return lb_judged(pkt, LB_R_FRAGMENT);
	if (iph->frag_off & bpf_htons(IP_MF))
		pkt->shape |= LB_SHAPE_FRAG;
	if (hlen > sizeof(*iph))
		pkt->shape |= LB_SHAPE_IP_EXT;
	*proto = iph->protocol;
	*pos = (void *)iph + hlen;
	pkt->l4_off = pkt->l3_off + hlen;
	*l4_len = tot_len - hlen;
	return 0;
}

/* Bounded walk over hop-by-hop, routing, destination-options and fragment
 * headers, as ipv6_rcv() and the extension handlers would check them. */
static __always_inline int lb_parse_ip6(struct lb_pkt *pkt, void *data_end,
					void **pos, __u32 *l4_len, __u8 *proto)
{
	struct ipv6hdr *ip6h = pkt->l3;
	struct lb_ip6_frag *frag;
	struct lb_ip6_opt *opt;
	__u32 payload, len;
	__u8 next;
	int i;

	if ((void *)(ip6h + 1) > data_end)
		return lb_judged(pkt, LB_R_IP6_TRUNC);
	if (ip6h->version != 6)
		return lb_judged(pkt, LB_R_IP6_BAD);
	payload = bpf_ntohs(ip6h->payload_len);
	if (payload == 0) /* jumbogram or BIG TCP: not ours to judge */
		return lb_judged(pkt, LB_R_UNSUPPORTED);
	if ((void *)(ip6h + 1) + payload > data_end)
		return lb_judged(pkt, LB_R_IP6_TRUNC);
	next = ip6h->nexthdr;
	*pos = ip6h + 1;
	pkt->l4_off = pkt->l3_off + sizeof(*ip6h);

	for (i = 0; i < LB_IP6_EXT_MAX; i++) {
		switch (next) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
			opt = *pos;
			if ((void *)(opt + 1) > data_end)
				return lb_judged(pkt, LB_R_IP6_TRUNC);
			len = (opt->hdrlen + 1) * 8;
			if (len > payload)
				return lb_judged(pkt, LB_R_IP6_TRUNC);
			next = opt->nexthdr;
			break;
		case IPPROTO_FRAGMENT:
			frag = *pos;
			if ((void *)(frag + 1) > data_end)
				return lb_judged(pkt, LB_R_IP6_TRUNC);
			if (frag->frag_off & bpf_htons(IP6_FRAG_OFFSET_MASK))
				return lb_judged(pkt, LB_R_FRAGMENT);
			if (frag->frag_off & bpf_htons(IP6_FRAG_MORE))
				pkt->shape |= LB_SHAPE_FRAG;
			len = sizeof(*frag);
			if (len > payload)
				return lb_judged(pkt, LB_R_IP6_TRUNC);
			next = frag->nexthdr;
			break;
		default:
			goto done;
		}
		payload -= len;
		*pos += len;
		pkt->l4_off += len;
		pkt->shape |= LB_SHAPE_IP_EXT;
	}
	switch (next) {
	case IPPROTO_HOPOPTS:
	case IPPROTO_ROUTING:
	case IPPROTO_DSTOPTS:
	case IPPROTO_FRAGMENT:
		return lb_judged(pkt, LB_R_IP6_EXT_LIMIT);
	}
done:
	*proto = next;
	*l4_len = payload;
	return 0;
}

/*
 * The only test on the established path is the flag check: anything but a
 * bare SYN returns before its options are looked at. A SYN must carry its
 * whole TCP header inside the IP payload before its ports are believed.
 */
static __always_inline int lb_parse_tcp(struct lb_pkt *pkt, void *pos,
					void *data_end)
{
	struct tcphdr *th = pos;

	if ((void *)(th + 1) > data_end || pkt->l4_len < sizeof(*th))
		return lb_judged(pkt, LB_R_TCP_TRUNC);
	pkt->l4 = th;
	pkt->sport = th->source;
	pkt->dport = th->dest;
	if (!th->syn || th->ack)
		return LB_PKT_TCP;
	if (th->doff < 5)
		return lb_judged(pkt, LB_R_TCP_BAD_DOFF);
	if (th->doff * 4 > pkt->l4_len)
		return lb_judged(pkt, LB_R_TCP_TRUNC);
	return LB_PKT_SYN;
}

/* ICMP errors (and, for IPv6, neighbour discovery) must reach the stack:
 * path-MTU discovery and address resolution depend on them. */
static __always_inline int lb_parse_icmp(struct lb_pkt *pkt, void *pos,
					 void *data_end)
{
	struct lb_icmp_hdr *ih = pos;

	if ((void *)(ih + 1) > data_end)
		return LB_PKT_NOT_TCP;
	if (pkt->proto == IPPROTO_ICMP)
		switch (ih->type) {
		case 3: /* destination unreachable, incl. frag. needed */
		case 4: /* source quench */
		case 5: /* redirect */
		case 11: /* time exceeded */
		case 12: /* parameter problem */
			return LB_PKT_ICMP_PASS;
		default:
			return LB_PKT_NOT_TCP;
		}
	if (ih->type <= 4 && ih->type >= 1) /* unreach, too big, time, param */
		return LB_PKT_ICMP_PASS;
	if (ih->type >= LB_ICMP6_ND_FIRST && ih->type <= LB_ICMP6_ND_LAST)
		return LB_PKT_ICMP_PASS;
	return LB_PKT_NOT_TCP;
}

/* Step 2, for a packet to a VIP address. */
static __always_inline int lb_parse_l4(struct lb_pkt *pkt, void *data_end)
{
	void *pos = NULL;
	__u8 proto = 0;
	int rc;

	pkt->shape = 0;
	if (pkt->family == LB_FAMILY_V4)
		rc = lb_parse_ip4(pkt, data_end, &pos, &pkt->l4_len, &proto);
	else
		rc = lb_parse_ip6(pkt, data_end, &pos, &pkt->l4_len, &proto);
	if (rc)
		return rc;
	pkt->proto = proto;
	if (proto == IPPROTO_TCP)
		return lb_parse_tcp(pkt, pos, data_end);
	if (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6)
		return lb_parse_icmp(pkt, pos, data_end);
	return LB_PKT_NOT_TCP;
}

#endif /* LB_PARSE_H */
