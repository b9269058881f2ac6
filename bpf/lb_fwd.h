/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Scale-out, the balancer's half (BPF only; docs/scaleout.md "Data path"):
 * the pick of a VIP packet in cluster mode, and, when it names another
 * host, the encapsulation to that host (outer IPv4 + UDP + GUE, struct
 * lb_gue_hdr), sent by the FIB's answer. Forwarded SYNs get their MSS
 * clamped, so that the worker's replies and the client's segments fit the
 * path with the 40 bytes added. ICMP "fragmentation needed" and "packet
 * too big" about a VIP flow go where the flow went: the pick of the
 * embedded packet's destination, the client.
 */
#ifndef LB_FWD_H
#define LB_FWD_H

#include <linux/udp.h>
#include "lb_parse.h"
#include "lb_csum.h"
#include "lb_maps.h"
#include "lb_cookie.h" /* LB_TCPOPT_*, LB_OPT_BUF */
#include "lb_hash_kern_user.h"

#ifndef LB_AF_INET
#define LB_AF_INET 2 /* bpf_fib_lookup's family */
#endif
#define LB_IP_DF 0x4000
#define LB_IPPROTO_IPIP 4
#define LB_IPPROTO_IPV6 41

/* The 40 bytes put in front of the client's packet. */
struct lb_encap {
	struct iphdr ip;
	struct udphdr udp;
	struct lb_gue_hdr gue;
};

_Static_assert(sizeof(struct lb_encap) == LB_ENCAP_OVERHEAD,
	       "the encapsulation is 40 bytes");

/* A client's pick in cluster mode. */
struct lb_fwd {
	__u32 ref; /* worker ref of the slot, or LB_WORKER_NONE */
	__u32 hash; /* client hash: the outer UDP source port */
	__u32 idx; /* lb_rings index of the slot, lb_rings_prev's too */
};

/* Does the pick name another host? Host 0 (a single-host ring) and this
 * host are served here, and so is an empty slot (sk_lookup decides). */
static __always_inline int lb_pick_remote(const struct lb_config *cfg,
					  __u32 ref)
{
	__u32 host = LB_REF_HOST(ref);

	return ref != LB_WORKER_NONE && host && host != cfg->self_host;
}

/*
 * What lb_process() hands to lb_cluster() (two subprograms: the stack of
 * either alone is near the verifier's 512 bytes). Per CPU, one entry.
 */
#define LB_GO_FWD 0x100 /* forward pkt to f's host */
#define LB_GO_ICMP 0x101 /* an ICMP error to a VIP address: pick, forward */
#define LB_GO_DECAP 0x102 /* UDP to this host's underlay address */

struct lb_cluster_req {
	struct lb_pkt pkt; /* its pointers are not used past lb_process() */
	struct lb_fwd f;
	struct lb_vip_key vkey; /* lb_cluster_pick()'s question */
	struct lb_addr client;
	__u32 k[4]; /* the client's hashed words: no stack for them */
	__u32 syn; /* a bare SYN: clamp its MSS */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lb_cluster_req);
} lb_cluster_req SEC(".maps");

/*
 * The pick of req->client for the VIP req->vkey, in req->f. Returns 1
 * when it names another host, 0 when it is served here or there is no
 * such VIP or ring. A global function without arguments: the verifier
 * checks it once, not once per path of each caller (the hash's branches
 * multiplied them past its limit), and no caller's stack is exposed.
 */
__noinline int lb_cluster_pick(void)
{
	struct lb_cluster_req *req;
	struct lb_vip_meta *vip;
	struct lb_config *cfg;
	__u32 zero = 0, *ref;
	int prefix;

	req = bpf_map_lookup_elem(&lb_cluster_req, &zero);
	cfg = bpf_map_lookup_elem(&lb_config, &zero);
	if (!req || !cfg || !cfg->ring_size)
		return 0;
	vip = bpf_map_lookup_elem(&lb_vips, &req->vkey);
	if (!vip)
		return 0;
	/* lb_client_hash(), its words in the map value: this frame and
	 * lb_process()'s must stay within the verifier's 512 bytes */
	prefix = req->vkey.family == LB_FAMILY_V4 ? vip->v4_prefix :
						    vip->v6_prefix;
	req->k[0] = req->client.v6[0] & lb_prefix_word(prefix);
	req->k[1] = req->client.v6[1] & lb_prefix_word(prefix - 32);
	req->k[2] = req->client.v6[2] & lb_prefix_word(prefix - 64);
	req->k[3] = req->client.v6[3] & lb_prefix_word(prefix - 96);
	req->f.hash = lb_jhash4(req->k, cfg->hash_seed);
	req->f.idx = vip->index * cfg->ring_size + req->f.hash % cfg->ring_size;
	ref = bpf_map_lookup_elem(&lb_rings, &req->f.idx);
	req->f.ref = ref ? *ref : LB_WORKER_NONE;
	return lb_pick_remote(cfg, req->f.ref);
}

/*
 * Send the frame, whose outer IPv4 header (src -> dst, tot_len bytes)
 * follows an Ethernet header, towards dst: MACs from the FIB, XDP_TX when
 * it leaves where it came in, else a redirect. Without a neighbour entry
 * (or any other FIB answer) the encapsulated packet goes up: the kernel
 * routes it and resolves the neighbour (ip_forward=1 on a balancer).
 * Counts reason when XDP sends it.
 */
static __always_inline int lb_fwd_xmit(struct xdp_md *ctx, __be32 src,
				       __be32 dst, __u32 tot_len, __u32 reason)
{
	struct bpf_fib_lookup fib = {};
	void *data_end, *data;
	struct ethhdr *eth;
	long rc;

	fib.family = LB_AF_INET;
	fib.l4_protocol = IPPROTO_UDP;
	fib.tot_len = tot_len;
	fib.ipv4_src = src;
	fib.ipv4_dst = dst;
	fib.ifindex = ctx->ingress_ifindex;
	rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), 0);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS) {
		/* ip_forward=0 on the uplink: the FIB answers nothing, the
		 * kernel will drop it too; a reason of its own, so that the
		 * operator's mistake is named (docs/scaleout.md) */
		lb_count(rc == BPF_FIB_LKUP_RET_FWD_DISABLED ?
				 LB_R_FWD_NOT_FORWARDING :
				 LB_R_FWD_ROUTED);
		return XDP_PASS;
	}
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	if ((void *)(eth + 1) > data_end)
		return XDP_DROP;
	__builtin_memcpy(eth->h_dest, fib.dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, fib.smac, ETH_ALEN);
	lb_count(reason);
	if (fib.ifindex == ctx->ingress_ifindex)
		return XDP_TX;
	return bpf_redirect(fib.ifindex, 0);
}

/* The MSS option's offset among the options (lb_mss_find()). */
struct lb_mss_walk {
	__u8 buf[LB_OPT_BUF];
	__u32 len; /* bytes of options in buf */
	__u32 i; /* next option */
	__s32 at; /* offset of the MSS option, -1: none */
};

static long lb_mss_step(__u32 n, void *ctx)
{
	struct lb_mss_walk *w = ctx;
	__u32 i = w->i, kind, size;

	(void)n;
	if (i >= w->len)
		return 1;
	kind = w->buf[i & (LB_OPT_BUF - 1)];
	if (kind == LB_TCPOPT_EOL)
		return 1;
	if (kind == LB_TCPOPT_NOP) {
		w->i = i + 1;
		return 0;
	}
	if (i + 2 > w->len)
		return 1;
	size = w->buf[(i + 1) & (LB_OPT_BUF - 1)];
	if (size < 2 || i + size > w->len)
		return 1;
	if (kind == LB_TCPOPT_MSS && size == LB_TCPOLEN_MSS) {
		w->at = i;
		return 1;
	}
	w->i = i + size;
	return 0;
}

/* A 16-bit value as it adds to a checksum at an even (0) or odd offset. */
static __always_inline __u32 lb_csum_at(__u32 v, __u32 odd)
{
	return odd ? ((v & 0xff) << 8) | (v >> 8) : v;
}

/*
 * Lower a SYN's MSS option to clamp (when it is higher) and fix the TCP
 * checksum incrementally (RFC 1624: HC' = ~(~HC + ~m + m')). The
 * encapsulation takes 40 bytes of the path's MTU that the client does not
 * know of. A SYN without the option is left alone: its default MSS (536,
 * 1220) fits any underlay.
 */
static __always_inline void lb_mss_clamp(struct xdp_md *ctx,
					 const struct lb_pkt *pkt, __u16 clamp)
{
	struct lb_mss_walk w;
	struct tcphdr th;
	__u32 olen, off, odd, sum, old;
	__be16 v, check;

	if (!clamp || bpf_xdp_load_bytes(ctx, pkt->l4_off, &th, sizeof(th)) ||
	    th.doff <= 5)
		return;
	olen = th.doff * 4 - sizeof(th);
	if (olen > LB_TCP_OPTS_MAX)
		return;
	if (bpf_xdp_load_bytes(ctx, pkt->l4_off + sizeof(th), w.buf, olen))
		return;
	w.len = olen;
	w.i = 0;
	w.at = -1;
	bpf_loop(LB_TCP_OPTS_MAX, lb_mss_step, &w, 0);
	if (w.at < 0 || w.at > LB_TCP_OPTS_MAX - LB_TCPOLEN_MSS)
		return;
	old = w.buf[(w.at + 2) & (LB_OPT_BUF - 1)] << 8 |
	      w.buf[(w.at + 3) & (LB_OPT_BUF - 1)];
	if (old <= clamp)
		return;
	off = pkt->l4_off + sizeof(th) + w.at + 2;
	v = bpf_htons(clamp);
	if (bpf_xdp_store_bytes(ctx, off, &v, sizeof(v)))
		return;
	/* the sum in host order, each field where its bytes fall */
	odd = (sizeof(th) + w.at + 2) & 1;
	sum = (__u16)~bpf_ntohs(th.check);
	sum += (__u16)~lb_csum_at(old, odd) + lb_csum_at(clamp, odd);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	check = bpf_htons((__u16)~sum);
	if (bpf_xdp_store_bytes(ctx, pkt->l4_off + 16, &check, sizeof(check)))
		return;
	lb_count(LB_R_MSS_CLAMPED);
}

/* Move the L2 header (l2 bytes: 14, or 18 with a VLAN tag) from 'from'
 * bytes into the frame to 'to', and say what follows it. */
static __always_inline int lb_move_l2(void *data, void *data_end, __u32 l2,
				      __u32 from, __u32 to, __be16 proto)
{
	const __u32 eth = sizeof(struct ethhdr);
	const __u32 vlan = eth + sizeof(struct lb_vlan_hdr);

	if (data + LB_ENCAP_OVERHEAD + vlan > data_end)
		return -1;
	if (l2 == eth) {
		__builtin_memmove(data + to, data + from, eth);
		((struct ethhdr *)(data + to))->h_proto = proto;
		return 0;
	}
	if (l2 == vlan) {
		__builtin_memmove(data + to, data + from, vlan);
		((struct lb_vlan_hdr *)(data + to + eth))->proto = proto;
		return 0;
	}
	return -1;
}

/*
 * Encapsulate the parsed packet (its IP packet is inner_len bytes from
 * pkt->l3_off) to the pick's host and send it. The second chance is the
 * host of the slot's previous pick (lb_rings_prev) when that is another
 * host: a flow that started there before the last change finds its
 * socket there. reason: LB_R_FWD or LB_R_ICMP_FWD.
 */
static __always_inline int lb_encap(struct xdp_md *ctx,
				    const struct lb_config *cfg,
				    const struct lb_pkt *pkt,
				    const struct lb_fwd *f, __u32 inner_len,
				    __u32 reason)
{
	__u32 host = LB_REF_HOST(f->ref), phost, l2 = pkt->l3_off, *prev;
	struct lb_host *h, *ph;
	void *data_end, *data;
	struct lb_encap e;

	h = bpf_map_lookup_elem(&lb_hosts, &host);
	if (!h || !h->addr) {
		lb_count(LB_R_FWD_NO_HOST);
		return XDP_PASS;
	}
	e.gue.second = 0;
	prev = bpf_map_lookup_elem(&lb_rings_prev, &f->idx);
	if (prev && *prev != LB_WORKER_NONE) {
		phost = LB_REF_HOST(*prev);
		if (phost && phost != host) {
			ph = bpf_map_lookup_elem(&lb_hosts, &phost);
			if (ph)
				e.gue.second = ph->addr;
		}
	}
	inner_len &= 0xffff;
	e.ip.version = 4;
	e.ip.ihl = 5;
	e.ip.tos = 0;
	e.ip.tot_len = bpf_htons(inner_len + LB_ENCAP_OVERHEAD);
	e.ip.id = 0;
	e.ip.frag_off = bpf_htons(LB_IP_DF);
	e.ip.ttl = 64;
	e.ip.protocol = IPPROTO_UDP;
	e.ip.check = 0;
	e.ip.saddr = cfg->self_addr;
	e.ip.daddr = h->addr;
	e.ip.check = lb_csum_fold(lb_csum_words(&e.ip, sizeof(e.ip)));
	e.udp.source = bpf_htons(0xc000 | (f->hash & 0x3fff));
	e.udp.dest = cfg->gue_port;
	e.udp.len = bpf_htons(inner_len + sizeof(e.udp) + sizeof(e.gue));
	e.udp.check = 0;
	e.gue.hlen_ver = LB_GUE_PRIV_WORDS;
	e.gue.proto =
		pkt->family == LB_FAMILY_V4 ? LB_IPPROTO_IPIP : LB_IPPROTO_IPV6;
	e.gue.flags = 0;
	e.gue.magic = LB_GUE_MAGIC;
	e.gue.hop = 0;
	e.gue.worker = bpf_htons(LB_REF_WORKER(f->ref));

	if (bpf_xdp_adjust_head(ctx, -(int)sizeof(e))) {
		lb_count(LB_R_FWD_NO_ROOM);
		return XDP_DROP;
	}
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	if (lb_move_l2(data, data_end, l2, sizeof(e), 0, bpf_htons(ETH_P_IP)))
		return XDP_DROP;
	if (l2 == sizeof(struct ethhdr)) {
		if (data + sizeof(struct ethhdr) + sizeof(e) > data_end)
			return XDP_DROP;
		__builtin_memcpy(data + sizeof(struct ethhdr), &e, sizeof(e));
	} else {
		if (data + sizeof(struct ethhdr) + sizeof(struct lb_vlan_hdr) +
			    sizeof(e) >
		    data_end)
			return XDP_DROP;
		__builtin_memcpy(data + sizeof(struct ethhdr) +
					 sizeof(struct lb_vlan_hdr),
				 &e, sizeof(e));
	}
	return lb_fwd_xmit(ctx, cfg->self_addr, h->addr,
			   inner_len + LB_ENCAP_OVERHEAD, reason);
}

/* Bytes of the parsed packet's IP packet (header and declared payload). */
static __always_inline __u32 lb_inner_len(const struct lb_pkt *pkt)
{
	return pkt->l4_off + pkt->l4_len - pkt->l3_off;
}

/* Hand pkt to lb_cluster(): returns go, or XDP_PASS without the scratch
 * entry. */
static __always_inline int lb_cluster_go(const struct lb_pkt *pkt, __u32 syn,
					 int go)
{
	__u32 zero = 0;
	struct lb_cluster_req *req =
		bpf_map_lookup_elem(&lb_cluster_req, &zero);

	if (!req)
		return XDP_PASS;
	req->pkt = *pkt;
	req->syn = syn;
	return go;
}

/*
 * A TCP segment to a served VIP port, cluster mode. Returns -1 when the
 * pick is served here (the caller goes on as a single host would), else
 * LB_GO_FWD. A SYN to another host is forwarded even in flood mode, not
 * answered with a cookie: the worker host will hold the connection, and
 * its own kernel's syncookies protect its listen queue.
 */
static __always_inline int lb_cluster_tcp(const struct lb_pkt *pkt, int syn)
{
	struct lb_cluster_req *req;
	__u32 zero = 0;

	req = bpf_map_lookup_elem(&lb_cluster_req, &zero);
	if (!req)
		return -1;
	req->vkey.addr = pkt->dst;
	req->vkey.port = pkt->dport;
	req->vkey.proto = IPPROTO_TCP;
	req->vkey.family = pkt->family;
	req->client = pkt->src;
	if (!lb_cluster_pick())
		return -1;
	return lb_cluster_go(pkt, syn, LB_GO_FWD);
}

/* LB_GO_FWD, in lb_cluster(). */
static __always_inline int lb_cluster_fwd(struct xdp_md *ctx,
					  const struct lb_config *cfg,
					  const struct lb_cluster_req *req)
{
	if (req->syn)
		lb_mss_clamp(ctx, &req->pkt,
			     req->pkt.family == LB_FAMILY_V4 ? cfg->mss_v4 :
							       cfg->mss_v6);
	return lb_encap(ctx, cfg, &req->pkt, &req->f, lb_inner_len(&req->pkt),
			LB_R_FWD);
}

/* The start of the packet an ICMP error quotes, as far as we read it. */
struct lb_icmp_quote4 {
	__u8 type, code;
	__be16 check;
	__be32 unused;
	struct iphdr ip;
};

struct lb_icmp_quote6 {
	__u8 type, code;
	__be16 check;
	__be32 mtu;
	struct ipv6hdr ip6;
};

/*
 * ICMP "fragmentation needed" (3/4) or ICMPv6 "packet too big" (2) to a
 * VIP address, cluster mode: it quotes a segment the worker sent (source
 * the VIP, destination the client), so its pick is the client's. Returns
 * -1 when it is served here or is not about a VIP flow, else the verdict.
 */
static __always_inline int lb_cluster_icmp(struct xdp_md *ctx,
					   const struct lb_config *cfg,
					   struct lb_cluster_req *req)
{
	const struct lb_pkt *pkt = &req->pkt;
	struct lb_icmp_quote6 q6;
	struct lb_icmp_quote4 q4;
	__be16 ports[2];
	__u32 l4;

	__builtin_memset(&req->vkey, 0, sizeof(req->vkey));
	__builtin_memset(&req->client, 0, sizeof(req->client));
	if (pkt->family == LB_FAMILY_V4) {
		if (bpf_xdp_load_bytes(ctx, pkt->l4_off, &q4, sizeof(q4)) ||
		    q4.type != 3 || q4.code != 4 || q4.ip.version != 4 ||
		    q4.ip.ihl < 5 || q4.ip.protocol != IPPROTO_TCP)
			return -1;
		l4 = pkt->l4_off + 8 + q4.ip.ihl * 4;
		req->vkey.addr.v4 = q4.ip.saddr;
		req->client.v4 = q4.ip.daddr;
	} else {
		if (bpf_xdp_load_bytes(ctx, pkt->l4_off, &q6, sizeof(q6)) ||
		    q6.type != 2 || q6.ip6.version != 6 ||
		    q6.ip6.nexthdr != IPPROTO_TCP)
			return -1;
		l4 = pkt->l4_off + sizeof(q6);
		lb_copy_in6(&req->vkey.addr, &q6.ip6.saddr);
		lb_copy_in6(&req->client, &q6.ip6.daddr);
	}
	if (bpf_xdp_load_bytes(ctx, l4, ports, sizeof(ports)))
		return -1;
	req->vkey.port = ports[0];
	req->vkey.proto = IPPROTO_TCP;
	req->vkey.family = pkt->family;
	if (!lb_cluster_pick())
		return -1;
	return lb_encap(ctx, cfg, pkt, &req->f, lb_inner_len(pkt),
			LB_R_ICMP_FWD);
}

#endif /* LB_FWD_H */
