/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The MSS our cookie SYN-ACK advertises (BPF only): what the client may
 * send us, from the MTU of the path back to it, as the kernel's own
 * SYN-ACK does (dst_metric_advmss). The cookie carries the other MSS, the
 * client's, which is what we may send (lb_cookie.h).
 *
 * bpf_fib_lookup() from the VIP to the client gives the MTU of the route
 * out (a locked route MTU, a learnt path MTU, or the egress device's).
 * The kernel answers it only where forwarding is on for the ingress
 * interface (BPF_FIB_LKUP_RET_FWD_DISABLED otherwise) and reads a route's
 * MTU only when it is locked (`mtu lock N`) as a router would; without an
 * answer the ingress interface's MTU stands (bpf_check_mtu()).
 */
#ifndef LB_MSS_H
#define LB_MSS_H

#include "lb_parse.h"
#include "lb_cookie.h" /* LB_MSS_DEFAULT_* */

#define LB_AF_INET 2 /* bpf_fib_lookup's family: AF_INET, AF_INET6 */
#define LB_AF_INET6 10
#define LB_MSS_MAX_MTU 65535 /* IPV4_MAX_PMTU; IPv6 without jumbograms */

static __always_inline __u16 lb_our_mss(struct xdp_md *ctx,
					const struct lb_pkt *pkt)
{
	struct bpf_fib_lookup fib = {};
	__u32 hdr, min, mtu = 0;
	int i;

	fib.ifindex = ctx->ingress_ifindex;
	fib.l4_protocol = IPPROTO_TCP;
	fib.sport = pkt->dport;
	fib.dport = pkt->sport;
	if (pkt->family == LB_FAMILY_V4) {
		fib.family = LB_AF_INET;
		fib.ipv4_src = pkt->dst.v4;
		fib.ipv4_dst = pkt->src.v4;
		hdr = sizeof(struct iphdr) + sizeof(struct tcphdr);
		min = LB_MSS_DEFAULT_V4;
	} else {
		fib.family = LB_AF_INET6;
#pragma unroll
		for (i = 0; i < 4; i++) {
			fib.ipv6_src[i] = pkt->dst.v6[i];
			fib.ipv6_dst[i] = pkt->src.v6[i];
		}
		hdr = sizeof(struct ipv6hdr) + sizeof(struct tcphdr);
		min = LB_MSS_DEFAULT_V6;
	}
	/* tot_len 0: no MTU check, mtu_result (its union mate) is the MTU;
	 * no neighbour needed, the reply goes back where the SYN came from */
	if (bpf_fib_lookup(ctx, &fib, sizeof(fib), BPF_FIB_LOOKUP_SKIP_NEIGH) ==
		    BPF_FIB_LKUP_RET_SUCCESS &&
	    fib.mtu_result)
		mtu = fib.mtu_result;
	else if (bpf_check_mtu(ctx, ctx->ingress_ifindex, &mtu, 0, 0))
		mtu = 0;
	if (mtu > LB_MSS_MAX_MTU)
		mtu = LB_MSS_MAX_MTU;
	/* 536..MTU-40 (IPv4), 1220..MTU-60 (IPv6): RFC 9293, RFC 8200 */
	return mtu > hdr + min ? mtu - hdr : min;
}

#endif /* LB_MSS_H */
