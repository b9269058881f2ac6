// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * XDP half of the steering (DESIGN.md D1): on a bare TCP SYN to a VIP, pick
 * the worker from the VIP's Maglev ring by the client address and record
 * 4-tuple -> worker for sk_lookup. Packets are never rewritten; everything
 * but a malformed packet the kernel would drop anyway leaves with XDP_PASS.
 */
#include "lb_parse.h"
#include "lb_pick.h"

static __always_inline void lb_flow_key(struct lb_flow_key *key,
					const struct lb_pkt *pkt)
{
	key->src = pkt->src;
	key->dst = pkt->dst;
	key->sport = pkt->sport;
	key->dport = pkt->dport;
	key->family = pkt->family;
	key->pad[0] = key->pad[1] = key->pad[2] = 0;
}

static __always_inline void lb_count_syn(__u32 vip_index, __u32 worker)
{
	struct lb_counters *c;

	c = lb_vip_counters(vip_index);
	if (c)
		c->syns++;
	c = lb_worker_counters(worker);
	if (c)
		c->syns++;
}

static __always_inline int lb_steer_syn(const struct lb_pkt *pkt)
{
	struct lb_vip_key vkey = {};
	struct lb_flow_key fkey;
	struct lb_vip_meta *vip;
	struct lb_flow flow;

	vkey.addr = pkt->dst;
	vkey.port = pkt->dport;
	vkey.proto = IPPROTO_TCP;
	vkey.family = pkt->family;
	vip = bpf_map_lookup_elem(&lb_vips, &vkey);
	if (!vip)
		return XDP_PASS;

	flow.worker = lb_pick(vip, &pkt->src, pkt->family);
	flow.vip_index = vip->index;
	if (flow.worker == LB_WORKER_NONE) {
		lb_count(LB_R_NO_WORKER);
		return XDP_PASS;
	}
	if (flow.worker >= LB_MAX_WORKERS) {
		lb_count(LB_R_BAD_WORKER);
		return XDP_PASS;
	}
	lb_flow_key(&fkey, pkt);
	if (bpf_map_update_elem(&lb_flows, &fkey, &flow, BPF_ANY)) {
		lb_count(LB_R_FLOW_FULL);
		return XDP_PASS;
	}
	lb_count(LB_R_SYN_STEERED);
	lb_count_syn(vip->index, flow.worker);
	return XDP_PASS;
}

static __always_inline int lb_process(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct lb_pkt pkt;
	__u32 reason;
	int rc;

	rc = lb_parse(data, data_end, &pkt);
	if (rc == LB_PKT_SYN)
		return lb_steer_syn(&pkt);
	if (rc < LB_PKT_REASON_BASE)
		return XDP_PASS;
	reason = rc - LB_PKT_REASON_BASE;
	lb_count(reason);
	return LB_R_DROPS(reason) ? XDP_DROP : XDP_PASS;
}

SEC("xdp")
int lb_xdp(struct xdp_md *ctx)
{
	return lb_process(ctx);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
