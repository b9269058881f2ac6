// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * XDP_PASS and nothing else, for the far end of a veth that lb_xdp runs on
 * in native mode: a veth drops the frames XDP_TX sends (our cookie
 * SYN-ACKs) unless its peer has NAPI, which an XDP program (or GRO) gives
 * it. docker/stack.sh puts it on the demo client's veth; lbctl sees it
 * there and keeps cookies on (user/state/attach.c).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int lb_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
