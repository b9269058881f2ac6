// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The XDP side of flood_gen -x (tests/bench/flood_gen.c): run by
 * BPF_PROG_RUN in live-frames mode (BPF_F_TEST_XDP_LIVE_FRAMES), it turns
 * each frame into a fresh spoofed SYN and redirects it out of the client's
 * veth end, whose peer (the balancer's end, which has an XDP program)
 * receives it as an xdp_frame on a page: what a NIC's driver hands its XDP
 * program, with no skb made and copied on the way.
 *
 * Each run starts from the pristine frame in tmpl4/tmpl6 (a page comes back
 * from the receiver rewritten, e.g. into a SYN-ACK), then draws the source
 * address inside the range, the port, the ISN and the IP id, and computes
 * both checksums. The frame's length tells the family (58 bytes: IPv4, 78:
 * IPv6; Ethernet, IP, TCP with an MSS option).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include "lb_csum.h"

#define TCP_HLEN 24
#define LEN4 (ETH_HLEN + 20 + TCP_HLEN)
#define LEN6 (ETH_HLEN + 40 + TCP_HLEN)

/* set by flood_gen after load (the .bss is mmapped) */
__u32 out_ifindex;
__u32 src4_base, src4_rand; /* network order: base | (random & rand) */
__u32 src6_base[4], src6_rand[4]; /* the same per 32-bit word */
__u8 tmpl4[LEN4], tmpl6[LEN6];

static __always_inline __u16 sport(void)
{
	return bpf_htons(1024 + bpf_get_prandom_u32() % 64512);
}

SEC("xdp")
int flood_tx(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	long len = end - data;
	struct tcphdr *th;
	__u64 sum;

	if (len == LEN4) {
		struct iphdr *ip = data + ETH_HLEN;

		if (data + LEN4 > end)
			return XDP_ABORTED;
		__builtin_memcpy(data, tmpl4, LEN4);
		th = (void *)(ip + 1);
		ip->saddr = src4_base | (bpf_get_prandom_u32() & src4_rand);
		ip->id = bpf_get_prandom_u32();
		ip->check = 0;
		ip->check = lb_csum_fold(lb_csum_words(ip, 20));
		th->source = sport();
		th->seq = bpf_get_prandom_u32();
		th->check = 0;
		sum = lb_csum_words(&ip->saddr, 8) +
		      lb_csum_u32(bpf_htonl(IPPROTO_TCP + TCP_HLEN));
	} else if (len == LEN6) {
		struct ipv6hdr *ip6 = data + ETH_HLEN;
		__u32 *a;
		int i;

		if (data + LEN6 > end)
			return XDP_ABORTED;
		__builtin_memcpy(data, tmpl6, LEN6);
		th = (void *)(ip6 + 1);
		a = (__u32 *)&ip6->saddr;
#pragma unroll
		for (i = 0; i < 4; i++)
			a[i] = src6_base[i] |
			       (bpf_get_prandom_u32() & src6_rand[i]);
		th->source = sport();
		th->seq = bpf_get_prandom_u32();
		th->check = 0;
		sum = lb_csum_words(&ip6->saddr, 32) +
		      lb_csum_u32(bpf_htonl(TCP_HLEN)) +
		      lb_csum_u32(bpf_htonl(IPPROTO_TCP));
	} else {
		return XDP_ABORTED;
	}
	th->check = lb_csum_fold(sum + lb_csum_words(th, TCP_HLEN));
	return bpf_redirect(out_ifindex, 0);
}

char _license[] SEC("license") = "GPL";
