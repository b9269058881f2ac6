/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * SYN cookies (BPF only): the value XDP puts in the ISN of its SYN-ACK
 * (lb_synack.h) and the tc program checks in the returning ACK
 * (lb_tc.bpf.c), and the TCP options both of them read.
 *
 * ISN (our sequence number):
 *
 *   | 31 ........................ 3 | 2 1 | 0      |
 *   | SipHash, 29 bits              | MSS | period |
 *
 *   SipHash-2-4 keyed by lb_config.cookie_key over the 4-tuple, the
 *   client's ISN, the time period and the MSS index; MSS is the index of
 *   the client's MSS in a table of four (as the kernel's syncookies); period
 *   is the low bit of the 64 s time period the cookie was made in. A cookie
 *   is good in its own period and the next, so for 64 to 128 s; the bit
 *   says which one to hash, so a check costs one hash.
 *
 * TSval (when the client sent timestamps), as the kernel's syncookies:
 *
 *   | 31 .......... 6 | 5 | 4    | 3 2 1 0 |
 *   | random          | 0 | SACK | WScale  |  (WScale 0xf: none)
 *
 *   The client echoes it in every ACK, so the window scale and SACK
 *   permission the SYN asked for come back with it. Without timestamps the
 *   SYN-ACK offers neither (as the kernel does): there is nowhere to keep
 *   them.
 */
#ifndef LB_COOKIE_H
#define LB_COOKIE_H

#include "lb_maps.h"
#include "lb_siphash.h"

#define LB_COOKIE_PERIOD_NS (64ull * 1000000000ull)
#define LB_COOKIE_PERIOD_BIT 0x1u
#define LB_COOKIE_MSS_SHIFT 1
#define LB_COOKIE_MSS_MASK 0x3u
#define LB_COOKIE_HASH_MASK 0xfffffff8u

#define LB_TS_WSCALE_MASK 0xfu /* 0xf: the SYN had no window scale */
#define LB_TS_SACK 0x10u
#define LB_TS_OPT_MASK 0x3fu /* the kernel's six bits; ECN is never set */
#define LB_TCP_MAX_WSCALE 14 /* RFC 7323 2.3 */
/* Our own window scale, offered when the client asks for scaling: what
 * Linux picks for the default tcp_rmem (6 MB). The request socket gets the
 * same value (bpf_tcp_req_attrs.rcv_wscale), so both ends agree. */
#define LB_COOKIE_RCV_WSCALE 7

/* TCP option kinds and lengths (RFC 9293, 7323, 2018). */
#define LB_TCPOPT_EOL 0
#define LB_TCPOPT_NOP 1
#define LB_TCPOPT_MSS 2
#define LB_TCPOPT_WSCALE 3
#define LB_TCPOPT_SACK_PERM 4
#define LB_TCPOPT_TS 8
#define LB_TCPOLEN_MSS 4
#define LB_TCPOLEN_WSCALE 3
#define LB_TCPOLEN_SACK_PERM 2
#define LB_TCPOLEN_TS 10
#define LB_TCP_OPTS_MAX 40 /* doff 15 */
/* The options are copied into a buffer of this size (a power of two), so
 * that an index masked with LB_OPT_BUF - 1 is always inside it. */
#define LB_OPT_BUF 64

/* Default MSS when the SYN has no MSS option (RFC 9293 3.7.1, RFC 8200). */
#define LB_MSS_DEFAULT_V4 536
#define LB_MSS_DEFAULT_V6 1220

/* MSS values a cookie can carry, as the kernel's syncookies (msstab of
 * net/ipv4/syncookies.c and net/ipv6/syncookies.c): a client's MSS is
 * rounded down to one of them. */
static __always_inline __u16 lb_cookie_mss(__u8 family, __u32 index)
{
	switch (index & LB_COOKIE_MSS_MASK) {
	case 0:
		return family == LB_FAMILY_V4 ? 536 : 1280 - 60;
	case 1:
		return family == LB_FAMILY_V4 ? 1300 : 1480 - 60;
	case 2:
		return family == LB_FAMILY_V4 ? 1440 : 1500 - 60;
	default:
		return family == LB_FAMILY_V4 ? 1460 : 9000 - 60;
	}
}

/* Index of the largest table MSS not above mss (0 if all are). */
static __always_inline __u32 lb_cookie_mss_index(__u8 family, __u32 mss)
{
	__u32 i;

	for (i = LB_COOKIE_MSS_MASK; i > 0; i--)
		if (mss >= lb_cookie_mss(family, i))
			break;
	return i;
}

/* What the SYN's (or the ACK's) options say. */
struct lb_tcp_opts {
	__u32 tsval;
	__u32 tsecr;
	__u16 mss; /* 0: no MSS option */
	__u8 wscale; /* shift, when wscale_ok */
	__u8 wscale_ok;
	__u8 sack_ok;
	__u8 ts_ok;
};

/* The options of a segment, copied out of the packet, and the walk over
 * them (lb_tcp_opts_parse()). */
struct lb_opt_walk {
	__u8 buf[LB_OPT_BUF];
	__u32 len; /* bytes of options in buf, <= LB_TCP_OPTS_MAX */
	__u32 i; /* next option */
	struct lb_tcp_opts o;
};

static __always_inline __u32 lb_opt_byte(const struct lb_opt_walk *w, __u32 i)
{
	return w->buf[i & (LB_OPT_BUF - 1)];
}

static __always_inline __u32 lb_opt_be32(const struct lb_opt_walk *w, __u32 i)
{
	return lb_opt_byte(w, i) << 24 | lb_opt_byte(w, i + 1) << 16 |
	       lb_opt_byte(w, i + 2) << 8 | lb_opt_byte(w, i + 3);
}

/*
 * One option; 1 ends the walk. A malformed list stops it, and what was
 * read before stands, as in the kernel's tcp_parse_options(). Every index
 * is masked into buf, so the verifier needs no bound on the offset, which
 * grows by lengths read from the packet.
 */
static long lb_opt_step(__u32 n, void *ctx)
{
	struct lb_opt_walk *w = ctx;
	__u32 i = w->i, kind, size;

	(void)n;
	if (i >= w->len)
		return 1;
	kind = lb_opt_byte(w, i);
	if (kind == LB_TCPOPT_EOL)
		return 1;
	if (kind == LB_TCPOPT_NOP) {
		w->i = i + 1;
		return 0;
	}
	if (i + 2 > w->len)
		return 1;
	size = lb_opt_byte(w, i + 1);
	if (size < 2 || i + size > w->len)
		return 1;
	switch (kind) {
	case LB_TCPOPT_MSS:
		if (size == LB_TCPOLEN_MSS)
			w->o.mss = lb_opt_be32(w, i) & 0xffff;
		break;
	case LB_TCPOPT_WSCALE:
		if (size == LB_TCPOLEN_WSCALE) {
			w->o.wscale = lb_opt_byte(w, i + 2);
			w->o.wscale_ok = 1;
		}
		break;
	case LB_TCPOPT_SACK_PERM:
		if (size == LB_TCPOLEN_SACK_PERM)
			w->o.sack_ok = 1;
		break;
	case LB_TCPOPT_TS:
		if (size == LB_TCPOLEN_TS) {
			w->o.tsval = lb_opt_be32(w, i + 2);
			w->o.tsecr = lb_opt_be32(w, i + 6);
			w->o.ts_ok = 1;
		}
		break;
	}
	w->i = i + size;
	return 0;
}

/*
 * Walk the w->len bytes of options in w->buf into w->o. bpf_loop(), not a
 * plain loop: with option lengths read from the packet, the verifier
 * follows every iteration of a plain loop separately and gives up (over a
 * million instructions); a bpf_loop() callback is checked once.
 */
static __always_inline void lb_tcp_opts_parse(struct lb_opt_walk *w)
{
	w->i = 0;
	bpf_loop(LB_TCP_OPTS_MAX, lb_opt_step, w, 0);
}

/* The connection as the client opened it. */
struct lb_cookie_flow {
	struct lb_addr client;
	struct lb_addr vip;
	__be16 sport; /* client's */
	__be16 dport; /* VIP's */
	__u8 family;
};

/* The hash bits of a cookie: SipHash-2-4 of the flow, the client's ISN,
 * the period and the MSS index. An IPv4 flow hashes two words fewer. */
static __always_inline __u32 lb_cookie_hash(const struct lb_config *cfg,
					    const struct lb_cookie_flow *f,
					    __u32 client_isn, __u64 period,
					    __u32 mss_index)
{
	struct lb_sip s;
	__u64 h;

	lb_sip_init(&s, cfg->cookie_key);
	lb_sip_word(&s, (__u64)f->client.v6[0] | (__u64)f->vip.v6[0] << 32);
	if (f->family == LB_FAMILY_V6) {
		lb_sip_word(&s, (__u64)f->client.v6[1] | (__u64)f->client.v6[2]
								 << 32);
		lb_sip_word(&s,
			    (__u64)f->client.v6[3] | (__u64)f->vip.v6[1] << 32);
		lb_sip_word(&s,
			    (__u64)f->vip.v6[2] | (__u64)f->vip.v6[3] << 32);
	}
	lb_sip_word(&s,
		    (__u64)client_isn << 32 | (__u32)f->sport << 16 | f->dport);
	lb_sip_word(&s, period << 8 | mss_index << 4 | f->family);
	h = lb_sip_final(&s);
	return (__u32)(h ^ (h >> 32)) & LB_COOKIE_HASH_MASK;
}

/* The ISN of our SYN-ACK. */
static __always_inline __u32 lb_cookie_make(const struct lb_config *cfg,
					    const struct lb_cookie_flow *f,
					    __u32 client_isn, __u32 mss_index,
					    __u64 now)
{
	__u64 period = now / LB_COOKIE_PERIOD_NS;

	return lb_cookie_hash(cfg, f, client_isn, period, mss_index) |
	       mss_index << LB_COOKIE_MSS_SHIFT |
	       (__u32)(period & LB_COOKIE_PERIOD_BIT);
}

/*
 * Is cookie (the ACK's ack_seq - 1) one we made for this flow and the
 * client's ISN (its seq - 1) in this period or the one before? Returns 0
 * and the MSS index in *mss_index if so.
 */
static __always_inline int lb_cookie_check(const struct lb_config *cfg,
					   const struct lb_cookie_flow *f,
					   __u32 client_isn, __u32 cookie,
					   __u64 now, __u32 *mss_index)
{
	__u64 period = now / LB_COOKIE_PERIOD_NS;
	__u32 idx = cookie >> LB_COOKIE_MSS_SHIFT & LB_COOKIE_MSS_MASK;

	if ((period & LB_COOKIE_PERIOD_BIT) != (cookie & LB_COOKIE_PERIOD_BIT))
		period--; /* made in the period before */
	if (lb_cookie_hash(cfg, f, client_isn, period, idx) !=
	    (cookie & LB_COOKIE_HASH_MASK))
		return -1;
	*mss_index = idx;
	return 0;
}

/* The option bits our SYN-ACK's TSval carries. */
static __always_inline __u32 lb_cookie_ts_bits(const struct lb_tcp_opts *o)
{
	__u32 bits = LB_TS_WSCALE_MASK;

	if (o->wscale_ok)
		bits = o->wscale > LB_TCP_MAX_WSCALE ? LB_TCP_MAX_WSCALE :
						       o->wscale;
	if (o->sack_ok)
		bits |= LB_TS_SACK;
	return bits;
}

#endif /* LB_COOKIE_H */
