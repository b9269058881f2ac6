/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Which SYNs XDP may answer with a cookie (BPF only). In flood mode the
 * kernel never sees a SYN to a served port, so the checks its input would
 * make before it answers with a SYN-ACK are made here, and a SYN that fails
 * one is dropped and counted, never passed: no SYN reaches a listen queue
 * in flood mode (docs/xdp-outcomes.md). Outside flood mode none of this
 * runs and the kernel judges every SYN itself.
 *
 *   lb_syn_refused()   flags, MAC, source address, fragments, IPv4 options
 *                      and IPv6 extension headers: a reason, or 0
 *   lb_tcp_csum_ok()   the TCP checksum over the whole segment
 */
#ifndef LB_SYN_CHECK_H
#define LB_SYN_CHECK_H

#include "lb_parse.h"
#include "lb_csum.h"
#include "lb_cookie.h"
#include "lb_hash_kern_user.h"

#define LB_IPOPT_END 0
#define LB_IPOPT_NOOP 1
#define LB_IPOPT_RA 148 /* router alert (RFC 2113), 4 bytes */
#define LB_IP4_OPTS_MAX 40
#define LB_IP6_OPT_PAD1 0
#define LB_IP6_OPT_ACTION 0xc0 /* RFC 8200 4.2: 00 = skip if unknown */
#define LB_CSUM_CHUNK 64
#define LB_CSUM_CHUNKS 144 /* 9216 bytes of SYN data: a jumbo frame's */

/*
 * A helper's length, already checked to lie in 1..pow2, said again for
 * the verifier: it loses such bounds when clang checks a 32-bit copy and
 * passes the 64-bit register. The barrier keeps clang from dropping the
 * mask it can prove useless.
 */
static __always_inline __u32 lb_len_bound(__u32 v, __u32 pow2)
{
	asm volatile("" : "+r"(v));
	return ((v - 1) & (pow2 - 1)) + 1;
}

/*
 * Sources no SYN may come from: those ip_route_input_slow() calls martian
 * (0.0.0.0/8, 127/8, multicast, limited broadcast), class E (240/4), and
 * for IPv6 ::, ::1, multicast, v4-mapped (ipv6_rcv() drops these) and a
 * link-local source to a VIP that is not link-local (it cannot have come
 * through a router, and a host picks a global source for a global VIP).
 */
static __always_inline int lb_src_martian(const struct lb_pkt *pkt)
{
	__u32 w0 = bpf_ntohl(pkt->src.v6[0]), w2, w3;

	if (pkt->family == LB_FAMILY_V4)
		return (w0 >> 24) == 0 || (w0 >> 24) == 127 ||
		       (w0 >> 28) >= 0xe;
	if ((w0 >> 24) == 0xff)
		return 1;
	if ((w0 & 0xffc00000) == 0xfe800000)
		return (bpf_ntohl(pkt->dst.v6[0]) & 0xffc00000) != 0xfe800000;
	if (w0 || pkt->src.v6[1])
		return 0;
	w2 = bpf_ntohl(pkt->src.v6[2]);
	w3 = bpf_ntohl(pkt->src.v6[3]);
	return (w2 == 0 && w3 <= 1) || w2 == 0xffff;
}

/* From the VIP itself, or from any VIP address: a reflection we would
 * send to ourselves. */
static __always_inline int lb_src_own(const struct lb_pkt *pkt)
{
	struct lb_addr_filter *filter;
	struct lb_addr_key k;
	__u32 zero = 0;

	if (pkt->src.v6[0] == pkt->dst.v6[0] &&
	    pkt->src.v6[1] == pkt->dst.v6[1] &&
	    pkt->src.v6[2] == pkt->dst.v6[2] &&
	    pkt->src.v6[3] == pkt->dst.v6[3])
		return 1;
	filter = bpf_map_lookup_elem(&lb_addr_filter, &zero);
	if (!filter ||
	    !lb_filter_has(filter->addrs, lb_addr_filter_bit(&pkt->src)))
		return 0;
	k.addr = pkt->src;
	k.family = pkt->family;
	k.pad[0] = k.pad[1] = k.pad[2] = 0;
	return !!bpf_map_lookup_elem(&lb_vip_addrs, &k);
}

/* A walk over type-length-value options copied out of the packet into
 * the caller's scratch buffer (LB_OPT_BUF bytes, initialised: the stack
 * has no room for a second one). */
struct lb_tlv_walk {
	__u8 *buf;
	__u32 len; /* bytes in buf */
	__u32 i; /* next option */
	__u32 bad; /* an option we will not answer */
};

static __always_inline __u32 lb_tlv_byte(const struct lb_tlv_walk *w, __u32 i)
{
	return w->buf[i & (LB_OPT_BUF - 1)]; /* masked: see lb_opt_byte() */
}

/* IPv4 options: only NOP, end of list and router alert. Anything else
 * (source routes, which the kernel drops by default, timestamps and record
 * route, which it would fill in, or a malformed list) is refused. */
static long lb_ip4_opt_step(__u32 n, void *ctx)
{
	struct lb_tlv_walk *w = ctx;
	__u32 i = w->i, kind;

	(void)n;
	if (i >= w->len)
		return 1;
	kind = lb_tlv_byte(w, i);
	if (kind == LB_IPOPT_END)
		return 1;
	if (kind == LB_IPOPT_NOOP) {
		w->i = i + 1;
		return 0;
	}
	if (kind == LB_IPOPT_RA && i + 4 <= w->len &&
	    lb_tlv_byte(w, i + 1) == 4) {
		w->i = i + 4;
		return 0;
	}
	w->bad = 1;
	return 1;
}

/* IPv6 hop-by-hop or destination options: padding and types the kernel
 * skips when it does not know them (RFC 8200 4.2, high bits 00). The
 * others make it discard the packet or act on it. */
static long lb_ip6_opt_step(__u32 n, void *ctx)
{
	struct lb_tlv_walk *w = ctx;
	__u32 i = w->i, type, size;

	(void)n;
	if (i >= w->len)
		return 1;
	type = lb_tlv_byte(w, i);
	if (type == LB_IP6_OPT_PAD1) {
		w->i = i + 1;
		return 0;
	}
	size = i + 2 > w->len ? 0 : 2 + lb_tlv_byte(w, i + 1);
	if (!size || i + size > w->len || (type & LB_IP6_OPT_ACTION)) {
		w->bad = 1;
		return 1;
	}
	w->i = i + size;
	return 0;
}

static __always_inline int lb_ip4_opts_ok(struct xdp_md *ctx,
					  const struct lb_pkt *pkt,
					  struct lb_tlv_walk *w)
{
	__u32 len = pkt->l4_off - pkt->l3_off - sizeof(struct iphdr);

	if (len == 0 || len > LB_IP4_OPTS_MAX)
		return 0;
	len = lb_len_bound(len, LB_OPT_BUF);
	if (bpf_xdp_load_bytes(ctx, pkt->l3_off + sizeof(struct iphdr), w->buf,
			       len))
		return 0;
	w->len = len;
	w->i = 0;
	w->bad = 0;
	bpf_loop(LB_IP4_OPTS_MAX, lb_ip4_opt_step, w, 0);
	return !w->bad;
}

/*
 * The chain lb_parse_ip6() walked, looked at as the kernel's handlers
 * would: hop-by-hop first only, options it would skip, a routing header
 * with no segments left (else the packet is not for us yet), a fragment
 * header of a whole packet (a fragmented SYN was refused before this).
 * Options headers longer than LB_OPT_BUF are refused.
 */
static __always_inline int lb_ip6_exts_ok(struct xdp_md *ctx,
					  const struct lb_pkt *pkt,
					  struct lb_tlv_walk *w)
{
	__u32 off = pkt->l3_off + sizeof(struct ipv6hdr), len;
	struct ipv6hdr ip6;
	__u8 next;
	int i;

	if (bpf_xdp_load_bytes(ctx, pkt->l3_off, &ip6, sizeof(ip6)))
		return 0;
	next = ip6.nexthdr;
	for (i = 0; i < LB_IP6_EXT_MAX; i++) {
		if (next == IPPROTO_TCP)
			return 1;
		if (bpf_xdp_load_bytes(ctx, off, w->buf, 8))
			return 0;
		len = (w->buf[1] + 1) * 8;
		switch (next) {
		case IPPROTO_HOPOPTS:
			if (i)
				return 0;
			/* fall through */
		case IPPROTO_DSTOPTS:
			if (len > LB_OPT_BUF)
				return 0;
			len = lb_len_bound(len, LB_OPT_BUF);
			if (bpf_xdp_load_bytes(ctx, off, w->buf, len))
				return 0;
			w->len = len;
			w->i = 2;
			w->bad = 0;
			bpf_loop(LB_OPT_BUF, lb_ip6_opt_step, w, 0);
			if (w->bad)
				return 0;
			break;
		case IPPROTO_ROUTING:
			if (w->buf[3]) /* segments left */
				return 0;
			break;
		case IPPROTO_FRAGMENT:
			len = 8;
			break;
		default:
			return 0;
		}
		next = w->buf[0];
		off += len;
	}
	return next == IPPROTO_TCP;
}

/* Why XDP will not answer this SYN, or 0. th is pkt->l4, checked; buf
 * is scratch of LB_OPT_BUF bytes. */
static __always_inline __u32 lb_syn_refused(struct xdp_md *ctx,
					    const struct lb_pkt *pkt,
					    const struct tcphdr *th,
					    const struct ethhdr *eth, __u8 *buf)
{
	struct lb_tlv_walk w = { .buf = buf };

	if (th->fin || th->rst)
		return LB_R_SYN_BAD_FLAGS;
	/* multicast bit: multicast and broadcast; the reply's source MAC
	 * would be that address */
	if (eth->h_dest[0] & 1)
		return LB_R_SYN_BAD_MAC;
	if (lb_src_martian(pkt))
		return LB_R_SYN_MARTIAN;
	if (lb_src_own(pkt))
		return LB_R_SYN_OWN_SRC;
	/* the rest of the segment is in other fragments: neither its
	 * checksum nor its options can be checked */
	if (pkt->shape & LB_SHAPE_FRAG)
		return LB_R_SYN_FRAG_DROP;
	if (!(pkt->shape & LB_SHAPE_IP_EXT))
		return 0;
	if (pkt->family == LB_FAMILY_V4 ? !lb_ip4_opts_ok(ctx, pkt, &w) :
					  !lb_ip6_exts_ok(ctx, pkt, &w))
		return LB_R_SYN_IP_OPTS_DROP;
	return 0;
}

/* The data of a segment, summed a chunk at a time (lb_csum_step()). */
struct lb_csum_walk {
	struct xdp_md *ctx;
	__u8 *buf; /* the caller's, LB_CSUM_CHUNK bytes */
	__u64 sum;
	__u32 off; /* next byte in the frame */
	__u32 left; /* bytes still to sum */
	__u32 err;
};

/*
 * One chunk. bpf_loop(), not a plain loop: the verifier would follow every
 * iteration of a plain one separately (over its million instructions).
 */
static long lb_csum_step(__u32 i, void *arg)
{
	struct lb_csum_walk *c = arg;
	__u32 n = c->left;

	(void)i;
	if (!n)
		return 1;
	if (n > LB_CSUM_CHUNK)
		n = LB_CSUM_CHUNK;
	n = lb_len_bound(n, LB_CSUM_CHUNK);
	/* zeros past the data add nothing; an odd last byte is padded as
	 * RFC 1071 says */
	__builtin_memset(c->buf, 0, LB_CSUM_CHUNK);
	if (bpf_xdp_load_bytes(c->ctx, c->off, c->buf, n)) {
		c->err = 1;
		return 1;
	}
	c->sum += lb_csum_words(c->buf, LB_CSUM_CHUNK);
	c->off += n;
	c->left -= n;
	return 0;
}

/*
 * Does the TCP checksum hold over the pseudo-header, the header th (in the
 * packet, checked), the options (opts: LB_TCP_OPTS_MAX bytes, zero past
 * them) and the data, read in chunks into buf (which may be opts)? A
 * segment whose checksum field holds only the pseudo-header's sum passes
 * too: that is a CHECKSUM_PARTIAL packet of a local sender (a veth peer),
 * whose sum the kernel would trust, and XDP cannot see ip_summed. A forger
 * gains nothing by it that a correct checksum would not give him.
 */
static __always_inline int lb_tcp_csum_ok(struct xdp_md *ctx,
					  const struct lb_pkt *pkt,
					  const struct tcphdr *th,
					  const __u8 *opts, __u8 *buf)
{
	__u64 pseudo =
		lb_csum_pseudo(&pkt->src, &pkt->dst, pkt->family, pkt->l4_len);
	__u32 hlen = th->doff * 4;
	struct lb_csum_walk c = {
		.ctx = ctx,
		.buf = buf,
		.sum = pseudo + lb_csum_words(th, sizeof(*th)) +
		       lb_csum_words(opts, LB_TCP_OPTS_MAX),
		/* lb_parse_tcp() checked hlen <= l4_len */
		.off = pkt->l4_off + hlen,
		.left = pkt->l4_len - hlen,
	};

	if (c.left)
		bpf_loop(LB_CSUM_CHUNKS, lb_csum_step, &c, 0);
	if (c.left || c.err)
		return 0; /* longer than any frame we take */
	if (lb_csum_fold(c.sum) == 0)
		return 1;
	return th->check == (__u16)~lb_csum_fold(pseudo);
}

#endif /* LB_SYN_CHECK_H */
