// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * XDP: the VIP's shield (DESIGN.md D1). A packet whose destination is not a
 * VIP address leaves with XDP_PASS untouched and uncounted, whatever else is
 * wrong with it. For a VIP address: sources on the deny list are dropped;
 * an exclusive address drops what it does not serve (TCP to other ports,
 * UDP, other protocols) but lets ICMP errors and neighbour discovery by;
 * malformed packets the kernel would drop anyway are dropped and counted.
 * A SYN to a served port counts towards flood detection; in flood mode it
 * is answered with a SYN cookie from here, whatever source it claims, or
 * dropped when XDP will not answer it (lb_syn_check.h): none reaches a
 * listen queue. Otherwise it goes on to the kernel, and sk_lookup picks
 * the worker. Nothing is written per connection.
 *
 * Cluster mode (lb_config.self_host != 0, docs/scaleout.md): every TCP
 * segment to a served port is picked, and one whose pick is on another
 * host is encapsulated to it (lb_fwd.h); the GUE packets other hosts send
 * to this host's underlay address are judged and decapsulated
 * (lb_decap.h). With self_host 0 nothing of it runs.
 */
#include "lb_parse.h"
#include "lb_flood.h"
#include "lb_synack.h"
#include "lb_exclusive.h"
#include "lb_decap.h"

/* Row in lb_vip_stats of the address's served port, or -1. */
static __always_inline int lb_port_index(const struct lb_vip_addr *va,
					 __be16 port)
{
	int i;

	for (i = 0; i < LB_VIP_PORTS_MAX; i++) {
		if (i >= va->nports)
			break;
		if (va->ports[i] == port)
			return va->index[i];
	}
	return -1;
}

static __always_inline void lb_count_vip(__u32 index, __u32 field)
{
	struct lb_counters *c = lb_vip_counters(index);

	if (!c)
		return;
	/* one switch, so the verifier sees constant offsets */
	switch (field) {
	case LB_R_SYN_NEW:
		c->syns++;
		break;
	case LB_R_SYN_RETRANS:
		c->syn_retrans++;
		break;
	}
}

static __always_inline int lb_verdict(__u32 reason, int action)
{
	lb_count(reason);
	return action;
}

static __always_inline int lb_syn(struct xdp_md *ctx, struct lb_pkt *pkt,
				  const struct lb_config *cfg, __u32 index,
				  __u32 src_action)
{
	__u64 now = bpf_ktime_get_coarse_ns();

	if (lb_flood_syn(cfg, now)) {
		/* No limit on a claimed source: a cookie costs no state, and
		 * its prefix is charged only once it proves itself (tc). */
		if (src_action == LB_SRC_ALLOW)
			lb_count(LB_R_SRC_ALLOWED);
		/* A cookie or a drop, whatever the SYN's shape: no SYN
		 * reaches a listen queue in flood mode. */
		if (lb_cookies_here(ctx, cfg))
			return lb_cookie_synack(ctx, pkt, cfg, index);
	}
	if (lb_syn_retransmitted(pkt, pkt->l4)) {
		lb_count_vip(index, LB_R_SYN_RETRANS);
		return lb_verdict(LB_R_SYN_RETRANS, XDP_PASS);
	}
	lb_count_vip(index, LB_R_SYN_NEW);
	return lb_verdict(LB_R_SYN_NEW, XDP_PASS);
}

/* More IPv6 extension headers than we walk: the protocol is unknown. An
 * exclusive address drops it; a shared one passes it, but not in flood
 * mode with cookies on: it may be a SYN, which must not reach a listen
 * queue past the cookies. */
static __always_inline int lb_ext_limit_action(const struct xdp_md *ctx,
					       const struct lb_vip_addr *va,
					       const struct lb_config *cfg)
{
	if (va->flags & LB_VA_EXCLUSIVE)
		return XDP_DROP;
	if (lb_cookies_here(ctx, cfg) &&
	    lb_cpu_in_flood(bpf_ktime_get_coarse_ns()))
		return XDP_DROP;
	return XDP_PASS;
}

/*
 * The established path: a TCP segment without SYN to a served port, in a
 * plain IPv4 header or right behind the IPv6 header, with no source list
 * to consult. Passed on two inline array reads; anything else takes the
 * full path. Returns 1 to pass.
 */
static __always_inline int lb_established(const struct lb_pkt *pkt,
					  void *data_end,
					  const struct lb_addr_filter *filter,
					  const struct lb_config *cfg)
{
	struct ipv6hdr *ip6h = pkt->l3;
	struct iphdr *iph = pkt->l3;
	struct tcphdr *th;

	if (pkt->family == LB_FAMILY_V4) {
		if (cfg->src_rules_v4 || iph->version != 4 || iph->ihl < 5 ||
		    iph->protocol != IPPROTO_TCP ||
		    (iph->frag_off & bpf_htons(IP_OFFSET_MASK)) ||
		    bpf_ntohs(iph->tot_len) < iph->ihl * 4 + sizeof(*th) ||
		    (void *)iph + bpf_ntohs(iph->tot_len) > data_end)
			return 0;
		th = (void *)iph + iph->ihl * 4;
	} else {
		if (cfg->src_rules_v6 || ip6h->version != 6 ||
		    ip6h->nexthdr != IPPROTO_TCP ||
		    bpf_ntohs(ip6h->payload_len) < sizeof(*th) ||
		    (void *)(ip6h + 1) + bpf_ntohs(ip6h->payload_len) >
			    data_end)
			return 0;
		th = (void *)(ip6h + 1);
	}
	if ((void *)(th + 1) > data_end || th->syn)
		return 0;
	return lb_filter_has(filter->ports,
			     lb_port_filter_bit(&pkt->dst, th->dest));
}

/* A subprogram, not inlined: its stack and lb_cluster()'s would not fit
 * the verifier's 512 bytes together. Returns a verdict, or LB_GO_* with
 * the packet in lb_cluster_req. */
static __noinline int lb_process(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct lb_addr_filter *filter;
	struct lb_addr_key akey;
	struct lb_vip_addr *va;
	struct lb_config *cfg;
	struct lb_pkt pkt;
	__u32 zero = 0, src_action;
	int rc, index, action;

	if (lb_parse_dst(data, data_end, &pkt) != LB_PKT_IP)
		return XDP_PASS;
	/* Most packets on a host's NIC are for other addresses: the filter
	 * answers them without a hash lookup. */
	filter = bpf_map_lookup_elem(&lb_addr_filter, &zero);
	if (!filter)
		return XDP_PASS;
	if (!lb_filter_has(filter->addrs, lb_addr_filter_bit(&pkt.dst))) {
		/* The encapsulation to this host's underlay address: any
		 * other packet pays one more byte compare (IPv4 UDP pays a
		 * config read), and lbctl's filter needs no bit for it. */
		if (pkt.family != LB_FAMILY_V4 ||
		    ((struct iphdr *)pkt.l3)->protocol != IPPROTO_UDP)
			return XDP_PASS;
		cfg = bpf_map_lookup_elem(&lb_config, &zero);
		if (cfg && lb_for_self(&pkt, cfg))
			return lb_cluster_go(&pkt, 0, LB_GO_DECAP);
		return XDP_PASS;
	}
	cfg = bpf_map_lookup_elem(&lb_config, &zero);
	if (!cfg)
		return XDP_PASS;
	if (lb_for_self(&pkt, cfg))
		return lb_cluster_go(&pkt, 0, LB_GO_DECAP);
	/* In cluster mode an established segment may be another host's:
	 * it takes the full path and is picked. */
	if (!cfg->self_host && lb_established(&pkt, data_end, filter, cfg))
		return XDP_PASS;
	akey.addr = pkt.dst;
	akey.family = pkt.family;
	akey.pad[0] = akey.pad[1] = akey.pad[2] = 0;
	va = bpf_map_lookup_elem(&lb_vip_addrs, &akey);
	if (!va)
		return XDP_PASS;

	src_action = lb_src_rule(cfg, pkt.family, &pkt.src);
	if (src_action == LB_SRC_DENY)
		return lb_verdict(LB_R_SRC_DENIED, XDP_DROP);

	rc = lb_parse_l4(&pkt, data_end);
	switch (rc) {
	case LB_PKT_TCP:
	case LB_PKT_SYN:
		index = lb_port_index(va, pkt.dport);
		if (index < 0)
			break;
		if (cfg->self_host) {
			action = lb_cluster_tcp(&pkt, rc == LB_PKT_SYN);
			if (action >= 0)
				return action;
		}
		if (rc == LB_PKT_TCP)
			return XDP_PASS;
		return lb_syn(ctx, &pkt, cfg, index, src_action);
	case LB_PKT_ICMP_PASS:
		if (cfg->self_host)
			return lb_cluster_go(&pkt, 0, LB_GO_ICMP);
		return lb_verdict(LB_R_ICMP_PASS, XDP_PASS);
	case LB_PKT_NOT_TCP:
		break;
	default: /* LB_PKT_REASON */
		rc = pkt.reason;
		if (rc == LB_R_FRAGMENT || rc == LB_R_UNSUPPORTED)
			return lb_verdict(rc, XDP_PASS);
		if (rc == LB_R_IP6_EXT_LIMIT)
			return lb_verdict(rc,
					  lb_ext_limit_action(ctx, va, cfg));
		return lb_verdict(rc, XDP_DROP);
	}
	/* Not a served port or not TCP. */
	if (!(va->flags & LB_VA_EXCLUSIVE))
		return lb_verdict(LB_R_SHARED_PASS, XDP_PASS);
	return lb_exclusive(ctx, &pkt, data_end);
}

/* Cluster mode's second step: forwarding, ICMP errors, decapsulation. */
static __noinline int lb_cluster(struct xdp_md *ctx, int go)
{
	struct lb_cluster_req *req;
	struct lb_config *cfg;
	__u32 zero = 0;
	int action;

	req = bpf_map_lookup_elem(&lb_cluster_req, &zero);
	cfg = bpf_map_lookup_elem(&lb_config, &zero);
	if (!req || !cfg)
		return XDP_PASS;
	switch (go) {
	case LB_GO_FWD:
		return lb_cluster_fwd(ctx, cfg, req);
	case LB_GO_ICMP:
		action = lb_cluster_icmp(ctx, cfg, req);
		if (action >= 0)
			return action;
		return lb_verdict(LB_R_ICMP_PASS, XDP_PASS);
	case LB_GO_DECAP:
		return lb_decap(ctx, cfg, &req->pkt);
	}
	return XDP_PASS;
}

SEC("xdp")
int lb_xdp(struct xdp_md *ctx)
{
	int action = lb_process(ctx);

	if (action >= LB_GO_FWD)
		return lb_cluster(ctx, action);
	return action;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
