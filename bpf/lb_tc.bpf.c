// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * tc ingress half of the SYN-cookie defence (DESIGN.md D1): an ACK to a VIP
 * that finds no connection and carries a cookie XDP issued (lb_synack.h)
 * becomes a request socket on the listener the ring picks now
 * (lb_pick_sock(), as sk_lookup would), made by the kernel's
 * bpf_sk_assign_tcp_reqsk(); the kernel then completes the handshake as for
 * one of its own syncookies. The SYN left no state anywhere.
 *
 * Only while cookies can come back (lb_flood_state.cookies_until, moved by
 * XDP in flood mode) does an ACK cost more than two array reads. An ACK
 * whose cookie is not ours:
 *   - this CPU in flood mode (RSS sends a flow's SYN and ACK to the same
 *     CPU, so XDP answered its SYNs): dropped, unless the kernel says it
 *     made it (bpf_tcp_check_syncookie: a SYN XDP passed, answered by the
 *     kernel's own syncookies). A forged ACK costs the stack nothing and
 *     draws no RST.
 *   - otherwise: passed. The kernel checks its own cookies (made while our
 *     flood defence was off) or answers RST, as without us.
 * Everything else passes untouched.
 *
 * The program is one link of a tcx chain (user/state/tc_attach.c): what we
 * decide, a request socket assigned or a forged ACK dropped, is final
 * (TCX_PASS, TCX_DROP); every other packet goes on to the next program and
 * the clsact filters behind (TCX_NEXT), as if we were not there.
 */
#include "lb_parse.h"
#include "lb_pick.h"
#include "lb_cookie.h"
#include "lb_flood.h"

/* tcx verdicts (kernel 6.6+), not in libbpf 1.1's uapi headers. */
#ifndef TCX_NEXT
#define TCX_NEXT -1
#define TCX_PASS 0
#define TCX_DROP 2
#endif

/* The kfunc (kernel 6.9+) and its argument, as in the kernel's BTF;
 * libbpf 1.1's headers predate them. struct sock is defined, not declared:
 * libbpf 1.1 finds a forward declaration incompatible with the kernel's
 * struct ("func_proto incompatible with kernel"); the verifier uses the
 * kernel's type anyway. */
struct sock {
	int opaque;
};
struct bpf_tcp_req_attrs {
	__u32 rcv_tsval;
	__u32 rcv_tsecr;
	__u16 mss;
	__u8 rcv_wscale;
	__u8 snd_wscale;
	__u8 ecn_ok;
	__u8 wscale_ok;
	__u8 sack_ok;
	__u8 tstamp_ok;
	__u8 usec_ts_ok;
	__u8 reserved[3];
};

extern int bpf_sk_assign_tcp_reqsk(struct __sk_buff *skb, struct sock *sk,
				   struct bpf_tcp_req_attrs *attrs,
				   int attrs__sz) __ksym;

/* The ACK as read from the skb (copies: the headers need not be linear). */
struct lb_ack {
	struct lb_cookie_flow f;
	union {
		struct iphdr ip4;
		struct ipv6hdr ip6;
	};
	struct tcphdr th;
	__u32 l4_off;
};

static __always_inline int lb_tc_verdict(__u32 reason, int action)
{
	lb_count(reason);
	return action;
}

/* Plain IPv4 (not a fragment) or IPv6 with TCP right behind, and the TCP
 * header. Returns 0 for an ACK without SYN, RST or FIN. No VLAN tag: the
 * kernel takes it off (skb_vlan_untag()) before tc ingress runs, and
 * skb->protocol says what follows. */
static __always_inline int lb_ack_parse(struct __sk_buff *skb, struct lb_ack *a)
{
	__u32 off = sizeof(struct ethhdr);
	__be16 proto = skb->protocol;

	__builtin_memset(&a->f, 0, sizeof(a->f));
	if (proto == bpf_htons(ETH_P_IP)) {
		if (bpf_skb_load_bytes(skb, off, &a->ip4, sizeof(a->ip4)) ||
		    a->ip4.version != 4 || a->ip4.ihl < 5 ||
		    a->ip4.protocol != IPPROTO_TCP ||
		    a->ip4.frag_off & bpf_htons(IP_MF | IP_OFFSET_MASK))
			return -1;
		a->f.family = LB_FAMILY_V4;
		a->f.client.v4 = a->ip4.saddr;
		a->f.vip.v4 = a->ip4.daddr;
		a->l4_off = off + a->ip4.ihl * 4;
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		if (bpf_skb_load_bytes(skb, off, &a->ip6, sizeof(a->ip6)) ||
		    a->ip6.version != 6 || a->ip6.nexthdr != IPPROTO_TCP)
			return -1;
		a->f.family = LB_FAMILY_V6;
		lb_copy_in6(&a->f.client, &a->ip6.saddr);
		lb_copy_in6(&a->f.vip, &a->ip6.daddr);
		a->l4_off = off + sizeof(a->ip6);
	} else {
		return -1;
	}
	if (bpf_skb_load_bytes(skb, a->l4_off, &a->th, sizeof(a->th)) ||
	    a->th.doff < 5)
		return -1;
	if (!a->th.ack || a->th.syn || a->th.rst || a->th.fin)
		return -1;
	a->f.sport = a->th.source;
	a->f.dport = a->th.dest;
	return 0;
}

/* Does the kernel know this connection (established, time-wait or its
 * own request socket)? A listener does not count: it is what a cookie ACK
 * finds. sk_lookup stays out of it (lb_tc_probe). */
static __always_inline int lb_ack_has_conn(struct __sk_buff *skb,
					   const struct lb_ack *a)
{
	struct bpf_sock_tuple t = {};
	struct bpf_sock *skc;
	__u32 zero = 0, *probe, size;
	int conn = 0;

	if (a->f.family == LB_FAMILY_V4) {
		t.ipv4.saddr = a->f.client.v4;
		t.ipv4.daddr = a->f.vip.v4;
		t.ipv4.sport = a->f.sport;
		t.ipv4.dport = a->f.dport;
		size = sizeof(t.ipv4);
	} else {
		__builtin_memcpy(t.ipv6.saddr, a->f.client.v6, 16);
		__builtin_memcpy(t.ipv6.daddr, a->f.vip.v6, 16);
		t.ipv6.sport = a->f.sport;
		t.ipv6.dport = a->f.dport;
		size = sizeof(t.ipv6);
	}
	probe = bpf_map_lookup_elem(&lb_tc_probe, &zero);
	if (!probe)
		return 1; /* cannot keep sk_lookup out: leave it all to the kernel */
	*probe = 1;
	skc = bpf_skc_lookup_tcp(skb, &t, size, BPF_F_CURRENT_NETNS, 0);
	*probe = 0;
	if (skc) {
		conn = skc->state != BPF_TCP_LISTEN;
		bpf_sk_release(skc);
	}
	return conn;
}

/* Did the kernel's own syncookies make this one? Asked of the listener the
 * ring picks: the kernel's secret is per namespace, and the listener only
 * says whether its queue overflowed lately (else the kernel would refuse
 * the cookie itself). */
static __always_inline int lb_kernel_cookie(struct lb_ack *a,
					    struct bpf_sock *listener)
{
	if (a->f.family == LB_FAMILY_V4)
		return !bpf_tcp_check_syncookie(listener, &a->ip4,
						sizeof(a->ip4), &a->th,
						sizeof(a->th));
	return !bpf_tcp_check_syncookie(listener, &a->ip6, sizeof(a->ip6),
					&a->th, sizeof(a->th));
}

static __always_inline int
lb_cookie_bad(struct lb_ack *a, const struct lb_vip_meta *vip, __u64 now)
{
	struct lb_counters *c = lb_vip_counters(vip->index);
	struct bpf_sock *sk;
	__u32 worker;
	int how, theirs = 0;

	if (c)
		c->cookies_bad++;
	if (!lb_cpu_in_flood(now))
		return lb_tc_verdict(LB_R_COOKIE_NOT_OURS, TCX_NEXT);
	sk = lb_pick_sock(vip, &a->f.client, a->f.family, &worker, &how);
	if (sk) {
		theirs = lb_kernel_cookie(a, sk);
		bpf_sk_release(sk);
	}
	if (theirs)
		return lb_tc_verdict(LB_R_COOKIE_NOT_OURS, TCX_NEXT);
	return lb_tc_verdict(LB_R_COOKIE_BAD, TCX_DROP);
}

/* What the handshake agreed, from the cookie and the ACK's options: window
 * scale and SACK come back in the low bits of the echoed TSval. Nothing
 * the namespace's sysctls turned off (flags: LB_CF_NO_*), which our
 * SYN-ACK did not offer either (lb_synack_opts()): the kfunc would refuse
 * the request socket and the kernel reset the connection. */
static __always_inline void lb_req_attrs(struct bpf_tcp_req_attrs *at,
					 const struct lb_tcp_opts *o,
					 __u8 family, __u32 mss_index,
					 __u32 flags)
{
	__u32 bits = o->tsecr & LB_TS_OPT_MASK;

	__builtin_memset(at, 0, sizeof(*at));
	at->mss = lb_cookie_mss(family, mss_index);
	if (!o->ts_ok || (flags & LB_CF_NO_TS))
		return; /* our SYN-ACK offered neither scaling nor SACK */
	at->tstamp_ok = 1;
	at->rcv_tsval = o->tsval;
	at->rcv_tsecr = o->tsecr;
	at->sack_ok = !!(bits & LB_TS_SACK) && !(flags & LB_CF_NO_SACK);
	if ((bits & LB_TS_WSCALE_MASK) != LB_TS_WSCALE_MASK &&
	    !(flags & LB_CF_NO_WSCALE)) {
		at->wscale_ok = 1;
		at->snd_wscale = bits & LB_TS_WSCALE_MASK;
		at->rcv_wscale = LB_COOKIE_RCV_WSCALE;
	}
}

static __always_inline void lb_count_cookie_ok(__u32 vip_index, __u32 worker)
{
	struct lb_counters *c = lb_vip_counters(vip_index);

	if (c)
		c->cookies_ok++;
	c = lb_worker_counters(worker);
	if (c)
		c->cookies_ok++;
}

static __always_inline int lb_cookie_ack(struct __sk_buff *skb)
{
	struct bpf_tcp_req_attrs attrs;
	struct lb_opt_walk w = {};
	struct lb_vip_key vkey = {};
	struct lb_flood_state *st;
	struct lb_vip_meta *vip;
	struct lb_config *cfg;
	struct bpf_sock *sk;
	struct tcp_sock *tp;
	__u32 zero = 0, olen, mss_index, worker;
	struct lb_ack a;
	int how, err;
	__u64 now;

	cfg = bpf_map_lookup_elem(&lb_config, &zero);
	st = bpf_map_lookup_elem(&lb_flood_state, &zero);
	now = bpf_ktime_get_coarse_ns();
	if (!cfg || !(cfg->flags & LB_CF_COOKIES) || !st ||
	    now >= st->cookies_until)
		return TCX_NEXT;
	if (lb_ack_parse(skb, &a))
		return TCX_NEXT;
	vkey.addr = a.f.vip;
	vkey.port = a.f.dport;
	vkey.proto = IPPROTO_TCP;
	vkey.family = a.f.family;
	vip = bpf_map_lookup_elem(&lb_vips, &vkey);
	if (!vip || lb_ack_has_conn(skb, &a))
		return TCX_NEXT;

	if (lb_cookie_check(cfg, &a.f, bpf_ntohl(a.th.seq) - 1,
			    bpf_ntohl(a.th.ack_seq) - 1, now, &mss_index))
		return lb_cookie_bad(&a, vip, now);
	if (lb_proven_limited(cfg, a.f.family, &a.f.client, vip->index, now))
		return TCX_DROP; /* its prefix is over src_rate */

	olen = a.th.doff * 4 - sizeof(a.th);
	if (olen > LB_TCP_OPTS_MAX)
		olen = LB_TCP_OPTS_MAX;
	if (olen &&
	    bpf_skb_load_bytes(skb, a.l4_off + sizeof(a.th), w.buf, olen))
		olen = 0;
	w.len = olen;
	lb_tcp_opts_parse(&w);
	lb_req_attrs(&attrs, &w.o, a.f.family, mss_index, cfg->flags);

	sk = lb_pick_sock(vip, &a.f.client, a.f.family, &worker, &how);
	if (!sk) /* the kernel answers RST: the client learns at once */
		return lb_tc_verdict(LB_R_COOKIE_NO_WORKER, TCX_NEXT);
	tp = bpf_skc_to_tcp_sock(sk);
	err = tp ? bpf_sk_assign_tcp_reqsk(skb, (struct sock *)tp, &attrs,
					   sizeof(attrs)) :
		   -1;
	bpf_sk_release(sk);
	if (err)
		return lb_tc_verdict(LB_R_COOKIE_ASSIGN_FAIL, TCX_NEXT);
	lb_count_cookie_ok(vip->index, worker);
	return lb_tc_verdict(LB_R_COOKIE_OK, TCX_PASS);
}

SEC("tc")
int lb_tc_ingress(struct __sk_buff *skb)
{
	return lb_cookie_ack(skb);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
