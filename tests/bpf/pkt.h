/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Test packet builder: Ethernet (optional VLAN tag), IPv4 (optional options)
 * or IPv6 (optional extension headers), then TCP, UDP or ICMP, with knobs to
 * corrupt or truncate each layer. Fields left zero get sane defaults.
 */
#ifndef LB_TEST_PKT_H
#define LB_TEST_PKT_H

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

#define PKT_MAX 512

enum { F_FIN = 0x01, F_SYN = 0x02, F_RST = 0x04, F_PSH = 0x08, F_ACK = 0x10 };

struct pkt_spec {
	int family; /* 4 or 6 */
	const char *src, *dst;
	uint16_t sport, dport;
	uint8_t proto; /* 0: TCP */
	uint8_t flags; /* TCP flags */
	int vlan; /* one 802.1Q tag */
	uint16_t ethertype; /* 0: from family; else forced (e.g. ARP) */
	int ip4_opt_words; /* IPv4 options, in 4-byte words (NOPs) */
	const uint8_t *ip4_opts; /* their bytes instead of NOPs */
	uint8_t ip6_ext[8]; /* extension header chain before L4 */
	int ip6_ext_n;
	int frag_off; /* fragment offset in 8-byte units; !0 = non-first */
	int ip6_frag; /* add an IPv6 fragment header (offset frag_off) */
	int payload; /* L4 payload bytes */
	uint32_t seq; /* TCP sequence number (0: 1) */
	uint32_t ack_seq; /* TCP acknowledgment number */
	const uint8_t *tcp_opts; /* TCP options, a multiple of 4 bytes */
	int tcp_opts_len;
	int icmp_type; /* ICMP / ICMPv6 type (0: echo request) */
	int pad; /* bytes after the IP packet (Ethernet padding) */
	const uint8_t *dst_mac; /* 6 bytes (0: 02:00:00:00:00:01) */
	/* corruption */
	int version; /* 0: correct */
	int ihl; /* 0: correct */
	int len_delta; /* added to tot_len / payload_len */
	int len_zero; /* IPv6 payload_len / IPv4 tot_len = 0 (BIG TCP) */
	int doff; /* 0: correct (5) */
	int csum_delta; /* added to the TCP checksum (0: correct) */
	int csum_partial; /* the pseudo-header's sum only (CHECKSUM_PARTIAL) */
	int truncate; /* cut the frame to this many bytes (0: no) */
};

static inline void pkt_put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static inline uint16_t pkt_ip_csum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (p[i] << 8) | p[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons(~sum & 0xffff);
}

/* Checksum of the pseudo-header of a len-byte segment and of the first
 * sum_len bytes at l4. */
static inline uint16_t pkt_tcp_csum(const struct pkt_spec *s, const uint8_t *l3,
				    const uint8_t *l4, size_t len,
				    size_t sum_len)
{
	uint32_t sum = IPPROTO_TCP + len;
	size_t i;

	if (s->family == 6)
		for (i = 8; i < 40; i += 2)
			sum += l3[i] << 8 | l3[i + 1];
	else
		for (i = 12; i < 20; i += 2)
			sum += l3[i] << 8 | l3[i + 1];
	for (i = 0; i + 1 < sum_len; i += 2)
		sum += l4[i] << 8 | l4[i + 1];
	if (sum_len & 1)
		sum += l4[sum_len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons(~sum & 0xffff);
}

/* A correct TCP checksum (unless csum_delta says otherwise). */
static inline void pkt_tcp_check(const struct pkt_spec *s, uint8_t *l3,
				 uint8_t *l4, size_t len)
{
	struct tcphdr *th = (struct tcphdr *)l4;

	if ((s->proto && s->proto != IPPROTO_TCP) || len < sizeof(*th))
		return;
	th->check = 0;
	if (s->csum_partial) /* as a local sender leaves it for the NIC */
		th->check = ~pkt_tcp_csum(s, l3, l4, len, 0);
	else
		th->check = htons(ntohs(pkt_tcp_csum(s, l3, l4, len, len)) +
				  s->csum_delta);
}

static inline size_t pkt_l4(const struct pkt_spec *s, uint8_t *p)
{
	uint8_t proto = s->proto ? s->proto : IPPROTO_TCP;
	size_t hl;

	if (proto == IPPROTO_TCP) {
		struct tcphdr *th = (struct tcphdr *)p;

		memset(th, 0, sizeof(*th));
		th->source = htons(s->sport ? s->sport : 40000);
		th->dest = htons(s->dport ? s->dport : 443);
		th->seq = htonl(s->seq ? s->seq : 1);
		th->ack_seq = htonl(s->ack_seq);
		th->doff = s->doff ? s->doff : 5 + s->tcp_opts_len / 4;
		th->window = htons(65535);
		((uint8_t *)th)[13] = s->flags;
		hl = sizeof(*th);
		if (s->tcp_opts_len) {
			memcpy(p + hl, s->tcp_opts, s->tcp_opts_len);
			hl += s->tcp_opts_len;
		}
	} else if (proto == IPPROTO_UDP) {
		struct udphdr *uh = (struct udphdr *)p;

		uh->source = htons(s->sport ? s->sport : 40000);
		uh->dest = htons(s->dport ? s->dport : 443);
		uh->len = htons(sizeof(*uh) + s->payload);
		uh->check = 0;
		hl = sizeof(*uh);
	} else { /* ICMP / ICMPv6, echo request unless told */
		memset(p, 0, 8);
		p[0] = s->icmp_type ? s->icmp_type : s->family == 6 ? 128 : 8;
		hl = 8;
	}
	memset(p + hl, 'x', s->payload);
	return hl + s->payload;
}

/* Returns the frame length written to buf (of PKT_MAX bytes). */
static inline size_t pkt_build(const struct pkt_spec *s, uint8_t *buf)
{
	uint8_t proto = s->proto ? s->proto : IPPROTO_TCP;
	/* IP and TCP headers are built aligned, then copied behind L2. */
	uint8_t l3buf[PKT_MAX] __attribute__((aligned(8))) = { 0 };
	size_t off = 0, l3, len;
	struct ethhdr *eth = (struct ethhdr *)buf;
	uint16_t etype;

	memset(buf, 0, PKT_MAX);
	memcpy(eth->h_dest,
	       s->dst_mac ? s->dst_mac :
			    (const uint8_t *)"\x02\x00\x00\x00\x00\x01",
	       6);
	memcpy(eth->h_source, "\x02\x00\x00\x00\x00\x02", 6);
	etype = s->ethertype   ? s->ethertype :
		s->family == 6 ? ETH_P_IPV6 :
				 ETH_P_IP;
	off = sizeof(*eth);
	if (s->vlan) {
		eth->h_proto = htons(ETH_P_8021Q);
		pkt_put16(buf + off, htons(100));
		pkt_put16(buf + off + 2, htons(etype));
		off += 4;
	} else {
		eth->h_proto = htons(etype);
	}
	l3 = off;
	if (s->ethertype == ETH_P_ARP) {
		memset(buf + off, 0, 28);
		len = off + 28;
	} else if (s->family == 6) {
		struct ipv6hdr *ip6 = (struct ipv6hdr *)l3buf;
		uint8_t *next = &ip6->nexthdr, *p;
		size_t l4len;
		int i;

		ip6->version = s->version ? s->version : 6;
		ip6->hop_limit = 64;
		inet_pton(AF_INET6, s->src ? s->src : "fd00:198:18:1::10",
			  &ip6->saddr);
		inet_pton(AF_INET6, s->dst ? s->dst : "fd00:198:18::100",
			  &ip6->daddr);
		p = (uint8_t *)(ip6 + 1);
		for (i = 0; i < s->ip6_ext_n; i++) {
			*next = s->ip6_ext[i];
			memset(p, 0,
			       8); /* 8-byte header, PadN-free zero options */
			if (s->ip6_ext[i] == IPPROTO_ROUTING)
				p[2] = 0; /* type 0 segments left 0: ignored */
			next = &p[0];
			p += 8;
		}
		if (s->ip6_frag) {
			*next = IPPROTO_FRAGMENT;
			memset(p, 0, 8);
			pkt_put16(p + 2, htons((s->frag_off << 3) | 1));
			next = &p[0];
			p += 8;
		}
		*next = proto == IPPROTO_ICMP ? IPPROTO_ICMPV6 : proto;
		l4len = pkt_l4(s, p);
		pkt_tcp_check(s, l3buf, p, l4len);
		p += l4len;
		len = l3 + (p - l3buf);
		ip6->payload_len =
			htons(s->len_zero ? 0 :
					    (int)(len - l3 - sizeof(*ip6)) +
						    s->len_delta);
		memcpy(buf + l3, l3buf, len - l3);
	} else {
		struct iphdr *iph = (struct iphdr *)l3buf;
		size_t hl = sizeof(*iph) + 4 * s->ip4_opt_words;

		iph->version = s->version ? s->version : 4;
		iph->ihl = s->ihl ? (size_t)s->ihl : hl / 4;
		iph->ttl = 64;
		iph->protocol = proto;
		iph->frag_off = htons(s->frag_off);
		inet_pton(AF_INET, s->src ? s->src : "198.18.1.10",
			  &iph->saddr);
		inet_pton(AF_INET, s->dst ? s->dst : "198.18.0.100",
			  &iph->daddr);
		memset(iph + 1, 1, 4 * s->ip4_opt_words); /* IPOPT_NOOP */
		if (s->ip4_opts)
			memcpy(iph + 1, s->ip4_opts, 4 * s->ip4_opt_words);
		len = l3 + hl + pkt_l4(s, l3buf + hl);
		pkt_tcp_check(s, l3buf, l3buf + hl, len - l3 - hl);
		iph->tot_len = htons(s->len_zero ? 0 : len - l3 + s->len_delta);
		iph->check = pkt_ip_csum((uint8_t *)iph, hl);
		memcpy(buf + l3, l3buf, len - l3);
	}
	len += s->pad;
	if (s->truncate && (size_t)s->truncate < len)
		len = s->truncate;
	return len;
}

#endif /* LB_TEST_PKT_H */
