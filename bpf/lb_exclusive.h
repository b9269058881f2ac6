/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * An exclusive address (the operator's `exclusive: true`, issue 20) drops
 * what it does not serve, but never what the host itself asked for: the
 * replies of connections the host opened (apt, certbot, DNS, docker pull)
 * and ping, both ways. Called for a packet to an exclusive VIP address
 * that is not TCP to a served port, after lb_parse_l4().
 *
 * TCP: a bare SYN opens a connection to a port the balancer does not
 * serve: dropped. Anything else passes only if the kernel has a socket for
 * it that is not a listener (bpf_skc_lookup_tcp: established, SYN-SENT,
 * time-wait, a request socket). Rejected: passing every non-SYN. It costs
 * nothing for a packet that is ours, but then an ACK flood to any port
 * reaches the stack and draws a RST for each packet; the lookup costs
 * about what the kernel's own lookup would (docs/xdp-outcomes.md, "Cost")
 * and is paid only by packets to unserved ports of exclusive addresses.
 *
 * UDP: passes if a connected socket takes it (bpf_sk_lookup_udp; a
 * connected UDP socket is TCP_ESTABLISHED): glibc's resolver, c-ares,
 * systemd-resolved and chrony connect theirs. An unconnected socket is a
 * UDP service, or a client that uses sendto(): dropped, as before.
 *
 * ICMP and ICMPv6 echo request and reply pass, so the host answers ping
 * and its own pings come back; the kernel rate-limits what it answers.
 */
#ifndef LB_EXCLUSIVE_H
#define LB_EXCLUSIVE_H

#include <linux/udp.h>
#include "lb_maps.h"
#include "lb_parse.h"

#define LB_ICMP_ECHO_REPLY 0
#define LB_ICMP_ECHO 8
#define LB_ICMP6_ECHO 128
#define LB_ICMP6_ECHO_REPLY 129
/* Longest IPv6 extension chain lb_parse_ip6() walks: 4 x 2048 bytes. */
#define LB_IP6_EXT_BYTES_MAX 8192

/*
 * The transport header of a packet that lb_parse_l4() judged: the IP
 * payload's end less its l4_len. lb_parse_l4() checked the lengths against
 * the frame; the bound on the offset is for the verifier.
 */
static __always_inline void *lb_exclusive_l4(const struct lb_pkt *pkt,
					     void *data_end)
{
	struct ipv6hdr *ip6h = pkt->l3;
	struct iphdr *iph = pkt->l3;
	__u32 off;

	if (pkt->family == LB_FAMILY_V4)
		return (void *)(iph + 1) > data_end ?
			       NULL :
			       (void *)iph + iph->ihl * 4;
	if ((void *)(ip6h + 1) > data_end)
		return NULL;
	off = bpf_ntohs(ip6h->payload_len) - pkt->l4_len;
	if (off > LB_IP6_EXT_BYTES_MAX)
		return NULL;
	return (void *)(ip6h + 1) + off;
}

/* Tuple as the packet sees it: its source is the remote end. */
static __always_inline __u32 lb_exclusive_tuple(const struct lb_pkt *pkt,
						__be16 sport, __be16 dport,
						struct bpf_sock_tuple *t)
{
	if (pkt->family == LB_FAMILY_V4) {
		t->ipv4.saddr = pkt->src.v4;
		t->ipv4.daddr = pkt->dst.v4;
		t->ipv4.sport = sport;
		t->ipv4.dport = dport;
		return sizeof(t->ipv4);
	}
	__builtin_memcpy(t->ipv6.saddr, pkt->src.v6, 16);
	__builtin_memcpy(t->ipv6.daddr, pkt->dst.v6, 16);
	t->ipv6.sport = sport;
	t->ipv6.dport = dport;
	return sizeof(t->ipv6);
}

/* Has the host a TCP connection (not a listener) this segment belongs to? */
static __always_inline int
lb_exclusive_tcp(struct xdp_md *ctx, const struct lb_pkt *pkt, void *data_end)
{
	struct bpf_sock_tuple t = {};
	struct tcphdr *th = pkt->l4;
	struct bpf_sock *sk;
	__u32 size;
	int conn;

	/* re-checked: the verifier does not keep the range of a pointer
	 * read back from the struct */
	if (!th || (void *)(th + 1) > data_end || (th->syn && !th->ack))
		return 0;
	size = lb_exclusive_tuple(pkt, th->source, th->dest, &t);
	sk = bpf_skc_lookup_tcp(ctx, &t, size, BPF_F_CURRENT_NETNS, 0);
	if (!sk)
		return 0;
	conn = sk->state != BPF_TCP_LISTEN;
	bpf_sk_release(sk);
	return conn;
}

/* Does a connected UDP socket take this datagram? */
static __always_inline int
lb_exclusive_udp(struct xdp_md *ctx, const struct lb_pkt *pkt, void *data_end)
{
	struct udphdr *uh = lb_exclusive_l4(pkt, data_end);
	struct bpf_sock_tuple t = {};
	struct bpf_sock *sk;
	__u32 size;
	int conn;

	if (!uh || (void *)(uh + 1) > data_end)
		return 0;
	size = lb_exclusive_tuple(pkt, uh->source, uh->dest, &t);
	sk = bpf_sk_lookup_udp(ctx, &t, size, BPF_F_CURRENT_NETNS, 0);
	if (!sk)
		return 0;
	conn = sk->state == BPF_TCP_ESTABLISHED;
	bpf_sk_release(sk);
	return conn;
}

static __always_inline int lb_exclusive_echo(const struct lb_pkt *pkt,
					     void *data_end)
{
	struct lb_icmp_hdr *ih = lb_exclusive_l4(pkt, data_end);

	if (!ih || (void *)(ih + 1) > data_end)
		return 0;
	if (pkt->proto == IPPROTO_ICMP)
		return ih->type == LB_ICMP_ECHO ||
		       ih->type == LB_ICMP_ECHO_REPLY;
	return ih->type == LB_ICMP6_ECHO || ih->type == LB_ICMP6_ECHO_REPLY;
}

/* Verdict, counted, for what an exclusive address does not serve. */
static __always_inline int
lb_exclusive(struct xdp_md *ctx, const struct lb_pkt *pkt, void *data_end)
{
	switch (pkt->proto) {
	case IPPROTO_TCP:
		if (lb_exclusive_tcp(ctx, pkt, data_end))
			break;
		lb_count(LB_R_FW_PORT);
		return XDP_DROP;
	case IPPROTO_UDP:
		if (lb_exclusive_udp(ctx, pkt, data_end))
			break;
		lb_count(LB_R_FW_PROTO);
		return XDP_DROP;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		if (!lb_exclusive_echo(pkt, data_end)) {
			lb_count(LB_R_FW_PROTO);
			return XDP_DROP;
		}
		lb_count(LB_R_ECHO_PASS);
		return XDP_PASS;
	default:
		lb_count(LB_R_FW_PROTO);
		return XDP_DROP;
	}
	lb_count(LB_R_HOST_CONN);
	return XDP_PASS;
}

#endif /* LB_EXCLUSIVE_H */
