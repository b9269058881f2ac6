/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Internet checksums (RFC 1071) of headers the programs build on the stack
 * (BPF only). Words are summed as they lie in memory: the one's complement
 * sum does not care about byte order as long as the result is stored the
 * same way, so nothing is swapped.
 */
#ifndef LB_CSUM_H
#define LB_CSUM_H

#include <linux/types.h>
#include <linux/in.h>
#include <bpf/bpf_endian.h>
#include "lb_kern_user.h"

/* Sum of the 16-bit words of buf; len is a constant, even. */
static __always_inline __u64 lb_csum_words(const void *buf, int len)
{
	const __u16 *w = buf;
	__u64 sum = 0;
	int i;

#pragma unroll
	for (i = 0; i < len / 2; i++)
		sum += w[i];
	return sum;
}

/* Sum of the 16-bit halves of a 32-bit word as it lies in memory. */
static __always_inline __u64 lb_csum_u32(__u32 v)
{
	return (v & 0xffff) + (v >> 16);
}

/* Fold a sum to 16 bits and complement it: the checksum field. */
static __always_inline __u16 lb_csum_fold(__u64 sum)
{
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* Sum of the TCP pseudo-header (RFC 9293 3.1, RFC 8200 8.1) of a segment
 * of tcp_len bytes from src to dst. */
static __always_inline __u64 lb_csum_pseudo(const struct lb_addr *src,
					    const struct lb_addr *dst,
					    __u8 family, __u32 tcp_len)
{
	__u64 sum = bpf_htons(IPPROTO_TCP) + bpf_htons((__u16)tcp_len);
	int i;

	if (family == LB_FAMILY_V4)
		return sum + lb_csum_u32(src->v4) + lb_csum_u32(dst->v4);
#pragma unroll
	for (i = 0; i < 4; i++)
		sum += lb_csum_u32(src->v6[i]) + lb_csum_u32(dst->v6[i]);
	return sum;
}

#endif /* LB_CSUM_H */
