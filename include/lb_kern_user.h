/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Everything that crosses the BPF/userspace line: limits, map keys and
 * values, counter reasons. Included by bpf/ and by user space alike, so only
 * fixed-width types and explicit padding; tests/unit/test_abi.c asserts every
 * size. Map names (LB_MAP_*) are stable API for lbctl, tests and docs.
 */
#ifndef LB_KERN_USER_H
#define LB_KERN_USER_H

#include <linux/types.h>

#define LB_MAX_VIPS 64
#define LB_MAX_WORKERS 256
#define LB_LISTENER_KINDS 2 /* LB_LISTENER_HTTPS, LB_LISTENER_HTTP */
#define LB_MAX_LISTENERS 4 /* per worker: each kind, IPv4 and IPv6 */
#define LB_RING_SIZE_DEFAULT 65537
#define LB_IP6_EXT_MAX 4 /* extension headers walked before giving up */
#define LB_SK_FALLBACK_SLOTS \
	8 /* ring slots sk_lookup tries past a pick
				  without a socket */

/* Ring slot with no worker (empty ring, every worker drained). */
#define LB_WORKER_NONE 0xffffffffu

/* Map names as they appear in bpftool and under /sys/fs/bpf/<instance>/. */
#define LB_MAP_CONFIG "lb_config"
#define LB_MAP_VIPS "lb_vips"
#define LB_MAP_RINGS "lb_rings"
#define LB_MAP_VIP_ADDRS "lb_vip_addrs"
#define LB_MAP_ADDR_FILTER "lb_addr_filter"
#define LB_MAP_SRC_V4 "lb_src_v4"
#define LB_MAP_SRC_V6 "lb_src_v6"
#define LB_MAP_FLOOD "lb_flood"
#define LB_MAP_FLOOD_STATE "lb_flood_state"
#define LB_MAP_BUCKETS "lb_buckets"
#define LB_MAP_SYN_SEEN "lb_syn_seen"
#define LB_MAP_SOCKETS "lb_sockets"
#define LB_MAP_REASONS "lb_reasons"
#define LB_MAP_VIP_STATS "lb_vip_stats"
#define LB_MAP_WORKER_STATS "lb_worker_stats"
#define LB_MAP_VIP_WORKERS "lb_vip_workers"
#define LB_MAP_TC_PROBE "lb_tc_probe"
#define LB_MAP_RINGS_PREV "lb_rings_prev"
#define LB_MAP_HOSTS "lb_hosts"
#define LB_MAP_HOST_ADDRS "lb_host_addrs"

enum lb_family {
	LB_FAMILY_V4 = 4,
	LB_FAMILY_V6 = 6,
};

/* An IPv4 address lives in v4 (== v6[0]); the other words are zero. */
struct lb_addr {
	union {
		__be32 v4;
		__be32 v6[4];
	};
};

struct lb_vip_key {
	struct lb_addr addr;
	__be16 port;
	__u8 proto; /* IPPROTO_TCP */
	__u8 family; /* enum lb_family */
};

/* Which of a worker's listening sockets a VIP's connections go to. */
enum lb_listener {
	LB_LISTENER_HTTPS = 0,
	LB_LISTENER_HTTP = 1,
};

struct lb_vip_meta {
	__u32 index; /* row of this VIP in lb_rings and lb_vip_stats */
	__u8 v4_prefix; /* client bits hashed: 1..32 */
	__u8 v6_prefix; /* client bits hashed: 1..128 (privacy addresses) */
	__u8 listener; /* enum lb_listener */
	__u8 flags; /* LB_VIP_F_* */
};

/* The operator gave the VIP's address to the balancer alone: the firewall
 * drops what the address does not serve (issue 20: shared, the default,
 * passes it). 0x1 meant "shared" before and is ignored, so an old pinned
 * VIP comes back shared, never exclusive. */
#define LB_VIP_F_EXCLUSIVE 0x2

/*
 * lb_sockets slot of a worker's listener of one kind and address family
 * (enum lb_family). A worker's listeners are bound to loopback, one per
 * family (DESIGN.md D3): only sk_lookup reaches them, and it assigns a
 * connection to a socket of the connection's own family.
 */
#define LB_SOCKET_SLOT(listener, family, worker)                          \
	((((listener)*2 + ((family) == LB_FAMILY_V6)) * LB_MAX_WORKERS) + \
	 (worker))

/*
 * lb_vip_addrs: every address that has a VIP, with the ports it serves
 * (DESIGN.md D1). XDP looks a packet's destination up here first; a miss is
 * passed untouched, whatever else is wrong with the packet. An exclusive
 * address (only when one of its VIPs says LB_VIP_F_EXCLUSIVE) drops TCP to a
 * port it does not serve, UDP and other protocols, but passes the replies of
 * connections the host opened, ICMP echo, ICMP errors and neighbour
 * discovery. lbctl keeps it in step with lb_vips.
 */
struct lb_addr_key {
	struct lb_addr addr;
	__u8 family; /* enum lb_family */
	__u8 pad[3];
};

#define LB_VIP_PORTS_MAX 8 /* served ports per address */
#define LB_VA_EXCLUSIVE 0x1 /* drop what the address does not serve */

struct lb_vip_addr {
	__u32 flags; /* LB_VA_* */
	__u32 nports; /* 0..LB_VIP_PORTS_MAX used entries of ports[] */
	__be16 ports[LB_VIP_PORTS_MAX];
	__u8 index[LB_VIP_PORTS_MAX]; /* lb_vip_meta.index of each port */
};

/*
 * lb_addr_filter[0], read inline by XDP before any hash lookup:
 *   addrs  one bit per hash of a VIP address. A packet to any other address
 *          is passed after this read. A set bit only says "ask
 *          lb_vip_addrs"; lbctl sets a bit before the address enters
 *          lb_vip_addrs and clears it after it left, so a VIP's bit is
 *          never clear.
 *   ports  one bit per hash of a served (address, port). A TCP segment
 *          without SYN to a set bit is passed at once: the established
 *          path. A collision can only pass a non-SYN segment to an
 *          unserved port, which no connection can own (SYNs always get
 *          the exact check), and the kernel answers it with a RST.
 */
#define LB_ADDR_FILTER_BITS 65536
#define LB_ADDR_FILTER_WORDS (LB_ADDR_FILTER_BITS / 64)

struct lb_addr_filter {
	__u64 addrs[LB_ADDR_FILTER_WORDS];
	__u64 ports[LB_ADDR_FILTER_WORDS];
};

/*
 * lb_src_v4 / lb_src_v6 (LPM tries): source prefixes denied or allowed for
 * every VIP. The longest match decides: deny drops every packet from the
 * prefix to a VIP address; allow exempts it from a shorter deny and from the
 * per-source buckets of flood mode. lbctl counts the entries in
 * lb_config so XDP skips an empty trie.
 */
struct lb_lpm_v4 {
	__u32 prefixlen;
	__be32 addr;
};

struct lb_lpm_v6 {
	__u32 prefixlen;
	__be32 addr[4];
};

enum lb_src_action {
	LB_SRC_DENY = 1,
	LB_SRC_ALLOW = 2,
};

struct lb_src_rule {
	__u32 action; /* enum lb_src_action */
};

#define LB_SRC_RULES_MAX 16384 /* entries per family */

/*
 * lb_vip_workers: the workers of each VIP as lbctl was told (CLI or agent).
 * Only user space reads it; it is a map so that it is pinned with the rest
 * and survives lbctl. A worker is in the VIP's ring with its weight unless
 * drained, down, or without a listening socket in lb_sockets.
 */
struct lb_worker_key {
	__u32 vip_index;
	__u32 worker;
};

#define LB_WF_DRAINED 0x1 /* operator: no new connections */
#define LB_WF_DOWN 0x2 /* health checks failed */

struct lb_worker_state {
	__u32 weight; /* 1..LB_MAX_WEIGHT, kept while drained */
	__u32 flags; /* LB_WF_* */
};

#define LB_MAX_WEIGHT 256

/*
 * Scale-out (DESIGN.md D7, docs/scaleout.md). One cluster description
 * names every host (balancer, worker or both) with an id 1..LB_MAX_HOSTS-1
 * and an underlay IPv4 address. A ring slot then holds a worker *ref*: the
 * host id in the high 16 bits, the worker id on that host in the low 16.
 * Host 0 is "this host, not clustered": a single-host instance's rings hold
 * plain worker ids, exactly as before.
 */
#define LB_MAX_HOSTS 256
#define LB_REF(host, worker) (((__u32)(host) << 16) | ((worker)&0xffffu))
#define LB_REF_HOST(ref) ((ref) >> 16)
#define LB_REF_WORKER(ref) ((ref)&0xffffu)

/*
 * lb_rings_prev: the same layout as lb_rings; each VIP's ring as it was
 * before the last membership change, kept for cluster.second_chance
 * (the agent copies lb_rings here before it writes a changed ring, and
 * copies it again when the hold ends). A balancer puts the previous
 * pick's host in the encapsulation when it differs from the current
 * pick's: the second chance (GLB's design).
 */

/* lb_hosts[host id]: the hosts of the cluster description. */
#define LB_HOST_F_BALANCER 0x1 /* may send us encapsulated packets */
#define LB_HOST_F_WORKER 0x2 /* runs workers; a forwarding target */

struct lb_host {
	__be32 addr; /* underlay IPv4 address; 0: no such host */
	__u32 flags; /* LB_HOST_F_* */
};

/* lb_host_addrs: underlay address -> host id, the decapsulation's source
 * check (only hosts of the cluster description are heard). */
struct lb_host_addr {
	__u32 host; /* 1..LB_MAX_HOSTS-1 */
};

/*
 * The encapsulation: outer IPv4 (20 bytes, no options, DF, TTL 64, src =
 * the sender's underlay address, dst = the target host's), UDP (8 bytes,
 * source port 0xc000 | 14 bits of the client hash for the receiver's RSS,
 * destination cluster.gue_port, checksum 0) and GUE (draft-ietf-intarea-
 * gue, variant 0) with 8 bytes of private data: 40 bytes in all. The
 * inner packet is the client's, untouched (IPv4 or IPv6, proto 4 or 41).
 */
#define LB_GUE_PORT_DEFAULT 6080
#define LB_GUE_PRIV_WORDS 2

struct lb_gue_hdr {
	__u8 hlen_ver; /* version 0, C 0, hlen (low 5 bits) = LB_GUE_PRIV_WORDS */
	__u8 proto; /* IPPROTO_IPIP (4) or IPPROTO_IPV6 (41) inside */
	__be16 flags; /* 0 */
	/* private data */
	__u8 magic; /* LB_GUE_MAGIC */
	__u8 hop; /* 0: sent to the pick; 1: forwarded to the second chance */
	__be16 worker; /* the pick's worker id on the target host */
	__be32 second; /* underlay address of the second chance, 0: none */
};

#define LB_GUE_MAGIC 0x5a
#define LB_ENCAP_OVERHEAD (20 + 8 + 12)

/* lb_config[0]: read by the programs; written by lbctl (load, agent). */
#define LB_CF_FLOOD 0x1 /* detect SYN floods and defend in flood mode */
#define LB_CF_COOKIES 0x2 /* in flood mode, answer SYNs with XDP cookies */

struct lb_config {
	__u32 ring_size; /* prime M; lb_rings holds LB_MAX_VIPS * M slots */
	__u32 hash_seed;
	__u32 flags; /* LB_CF_* */
	__u32 flood_syn_rate; /* SYNs/s to VIPs per CPU that start flood mode */
	__u32 flood_hold_ms; /* flood mode lasts this long past the last
				window over the rate */
	__u32 src_rate; /* flood mode: handshakes/s per source prefix, per
			   CPU, charged by valid cookie ACKs (tc) */
	__u32 src_burst; /* flood mode: bucket depth, handshakes */
	__u8 src_v4_prefix; /* bucket key: source bits kept, 1..32 */
	__u8 src_v6_prefix; /* bucket key: source bits kept, 1..128 */
	__u16 pad;
	__u32 src_rules_v4; /* entries in lb_src_v4 (0: skip the lookup) */
	__u32 src_rules_v6; /* entries in lb_src_v6 */
	__u32 pad2;
	__u64 cookie_key[2]; /* SYN-cookie secret, random at load */
	/* scale-out (D7); self_host 0: not clustered, nothing below is read */
	__u32 self_host; /* this host's id in lb_hosts */
	__be32 self_addr; /* this host's underlay address */
	__be16 gue_port; /* UDP port of the encapsulation */
	__u16 mss_v4; /* MSS clamp of forwarded IPv4 SYNs (0: none) */
	__u16 mss_v6; /* MSS clamp of forwarded IPv6 SYNs */
	__u16 pad3;
};

/*
 * XDP SYN cookies and the host (issue 20, "cookies only where their
 * SYN-ACKs can leave"; the agent keeps these in step, lbctl shows them).
 * The LB_CF_NO_* bits mirror net.ipv4 sysctls of the instance's namespace
 * (they govern IPv6 too): bpf_sk_assign_tcp_reqsk() refuses attributes the
 * namespace has turned off, and with tcp_syncookies=0 the kernel resets
 * every cookie ACK (cookie_v4_check/cookie_v6_check never look at the
 * request socket), so XDP sends no cookie then. Zero bits: the defaults,
 * every option on.
 */
#define LB_CF_NO_SYNCOOKIES 0x100 /* tcp_syncookies=0: no XDP cookies */
#define LB_CF_NO_TS 0x200 /* tcp_timestamps=0: SYN-ACK without TS */
#define LB_CF_NO_SACK 0x400 /* tcp_sack=0: no SACK permitted */
#define LB_CF_NO_WSCALE 0x800 /* tcp_window_scaling=0: no window scale */

/*
 * lb_cookie_ifs: ingress ifindex -> why XDP sends no cookie there (an
 * XDP_TX frame would not leave: a veth in native mode whose peer has
 * neither an XDP program nor GRO). No entry: cookies allowed. Written at
 * attach time (lbctl, agent); a hash, read only on the flood path.
 */
#define LB_MAP_COOKIE_IFS "lb_cookie_ifs"
#define LB_COOKIE_IFS_MAX 64

enum lb_cookie_off {
	LB_COOKIE_OFF_VETH_PEER = 1, /* veth peer: no XDP program, no GRO */
};

struct lb_cookie_if {
	__u32 reason; /* enum lb_cookie_off */
};

#define LB_FLOOD_SYN_RATE_DEFAULT 20000
#define LB_FLOOD_HOLD_MS_DEFAULT 2000
#define LB_SRC_RATE_DEFAULT 200
#define LB_SRC_BURST_DEFAULT 400

/*
 * Flood detection, per CPU (Katran's is_under_flood()): SYNs to VIPs counted
 * per window of LB_FLOOD_WINDOW_NS; a window over flood_syn_rate's share puts
 * this CPU in flood mode until flood_until.
 */
#define LB_FLOOD_WINDOW_NS 100000000ull /* 100 ms */

struct lb_flood {
	__u64 window_start; /* ns, bpf_ktime_get_coarse_ns() */
	__u64 window_syns;
	__u64 flood_until; /* ns; in flood mode while now < flood_until */
};

/*
 * lb_flood_state[0], shared by all CPUs: until when an ACK may carry one of
 * our cookies. XDP moves it forward at most once per window per CPU, so
 * the flood itself never makes CPUs write one cache line.
 */
struct lb_flood_state {
	__u64 cookies_until; /* ns */
};

/*
 * lb_buckets (per CPU, fixed size, never inserted into): a source prefix
 * has two slots, from the halves of a SipHash of the prefix keyed by
 * cookie_key; it is as busy as the less busy one. GCRA form: one time per
 * slot, the theoretical arrival time of the next handshake. Charged only by
 * valid cookie ACKs (bpf/lb_flood.h, lb_proven_limited).
 */
#define LB_BUCKETS 16384

struct lb_bucket {
	__u64 tat; /* ns */
};

/* lb_syn_seen[0] (per CPU): hashes of (4-tuple, ISN) of recent SYNs, to
 * tell a retransmitted SYN from a new connection without a flow table. One
 * value per CPU holding the whole table, not one element per slot: a
 * per-CPU array element is reached through a pointer array, and with 4096
 * elements that pointer was a second cache miss per SYN live
 * (docs/bench-shield.md, "lb_xdp's live cost"). */
#define LB_SYN_SEEN 4096 /* a power of two: the slot is a mask */

struct lb_syn_seen {
	__u32 hash[LB_SYN_SEEN]; /* 0: empty */
};

/* Per VIP and per worker, per CPU. A worker's row counts only what
 * names a worker: assigned and cookies_ok. */
struct lb_counters {
	__u64 syns; /* new connections: first SYNs passed to the stack */
	__u64 syn_retrans; /* SYNs seen before (same 4-tuple and ISN) */
	__u64 assigned; /* connections handed to a socket by sk_lookup */
	__u64 cookies_sent; /* SYN-ACKs with a cookie, sent by XDP */
	__u64 cookies_ok; /* ACKs with a valid cookie: request socket made */
	__u64 cookies_bad; /* ACKs to no socket with a cookie that is not ours */
	__u64 rate_limited; /* valid cookie ACKs over their prefix's rate:
			       dropped */
};

/*
 * Outcome counters (lb_reasons, per CPU). The verdict of each is in
 * docs/xdp-outcomes.md; keep the two in step. Packets not addressed to a
 * VIP address are never counted and never dropped.
 */
enum lb_reason {
	LB_R_SYN_NEW = 0, /* pass: first SYN to a served port */
	LB_R_SYN_RETRANS, /* pass: a SYN seen before */
	LB_R_FRAGMENT, /* pass: non-first fragment to a VIP address */
	LB_R_IP6_EXT_LIMIT, /* pass: more extension headers than we walk */
	LB_R_UNSUPPORTED, /* pass: well-formed but not judged (jumbogram) */
	LB_R_ICMP_PASS, /* pass: ICMP error or neighbour discovery */
	LB_R_SHARED_PASS, /* pass: unserved port/protocol, shared address */
	LB_R_SRC_ALLOWED, /* pass: SYN from an allowed source in flood mode,
			     spared the bucket */
	LB_R_FW_PORT, /* drop: TCP to a port the exclusive address lacks */
	LB_R_FW_PROTO, /* drop: UDP or another protocol, exclusive address */
	LB_R_SRC_DENIED, /* drop: source on the deny list */
	LB_R_RATE_LIMITED, /* tc: drop: valid cookie ACK, its source prefix
			      over src_rate */
	LB_R_IP4_BAD, /* drop: version, IHL < 5 or total length wrong */
	LB_R_IP4_TRUNC, /* drop: IPv4 header or payload beyond the frame */
	LB_R_IP6_BAD, /* drop: IP version field is not 6 */
	LB_R_IP6_TRUNC, /* drop: IPv6 extension or payload beyond the frame */
	LB_R_TCP_TRUNC, /* drop: TCP header beyond the frame or IP payload */
	LB_R_TCP_BAD_DOFF, /* drop: TCP data offset < 5 */
	LB_R_FLOOD_START, /* event: a CPU entered flood mode */
	LB_R_COOKIE_SENT, /* tx: SYN answered with a cookie SYN-ACK */
	LB_R_COOKIE_OK, /* tc: valid cookie ACK, request socket assigned */
	LB_R_COOKIE_BAD, /* tc: drop: ACK to no socket, cookie invalid, this
			    CPU in flood mode, not the kernel's cookie */
	LB_R_COOKIE_NO_WORKER, /* tc: valid cookie, no worker socket: pass */
	LB_R_COOKIE_ASSIGN_FAIL, /* tc: bpf_sk_assign_tcp_reqsk refused: pass */
	LB_R_COOKIE_NOT_OURS, /* tc: pass: cookie invalid, but this CPU is not
				 in flood mode or the kernel made it */
	LB_R_SK_COMPUTED, /* sk_lookup: assigned the computed pick */
	LB_R_SK_NO_WORKER, /* sk_lookup: empty ring slot, kernel decides */
	LB_R_SK_NO_SOCKET, /* sk_lookup: worker has no socket, kernel decides */
	LB_R_SK_ASSIGN_FAIL, /* sk_lookup: bpf_sk_assign refused the socket */
	LB_R_SK_FALLBACK, /* sk_lookup: pick had no socket; a later slot's
			     worker took the connection */
	/* issue 20, host safety (bpf/lb_exclusive.h): exclusive addresses */
	LB_R_HOST_CONN, /* pass: reply to a connection the host opened */
	LB_R_ECHO_PASS, /* pass: ICMP/ICMPv6 echo request or reply */
	/* Flood mode with cookies: what XDP will not answer (issue 20). */
	LB_R_COOKIE_IP_OPTS, /* tx: SYN with IPv4 options or IPv6 extension
				headers answered with a cookie, without them */
	LB_R_SYN_IP_OPTS_DROP, /* drop: an IPv4 option or IPv6 extension
				  header the kernel would refuse or act on */
	LB_R_SYN_FRAG_DROP, /* drop: SYN in a fragmented datagram */
	LB_R_SYN_BAD_MAC, /* drop: SYN to a broadcast or multicast MAC */
	LB_R_SYN_MARTIAN, /* drop: SYN from a martian source address */
	LB_R_SYN_OWN_SRC, /* drop: SYN from its destination or a VIP */
	LB_R_SYN_BAD_FLAGS, /* drop: SYN with FIN or RST */
	LB_R_SYN_BAD_CSUM, /* drop: SYN with a bad TCP checksum */
	LB_R_COOKIE_NO_ROOM, /* drop: the frame cannot hold the SYN-ACK */
	/* Scale-out (issue 22, docs/scaleout.md). */
	LB_R_FWD, /* tx: encapsulated to the pick's host */
	LB_R_FWD_ROUTED, /* pass: encapsulated, no neighbour entry: the
			    kernel routes it (and resolves the neighbour) */
	LB_R_FWD_NO_HOST, /* pass: the pick's host is not in lb_hosts */
	LB_R_FWD_NO_ROOM, /* drop: the frame cannot grow by the overhead */
	LB_R_MSS_CLAMPED, /* a forwarded SYN's MSS lowered by the overhead */
	LB_R_ICMP_FWD, /* tx: ICMP error about a VIP flow forwarded to the
			  host of the client's pick */
	LB_R_DECAP, /* pass: decapsulated, delivered here */
	LB_R_DECAP_NOT_CLUSTER, /* drop: encapsulated from a non-cluster
				   source */
	LB_R_DECAP_BAD, /* drop: malformed encapsulation, or the inner
			   packet is not for a VIP address */
	LB_R_SECOND_CHANCE, /* tx: no socket here for a non-SYN segment:
			       forwarded to the second chance */
	LB_R_FWD_NOT_FORWARDING, /* pass: encapsulated, but the uplink has
				    ip_forward=0, so the FIB will not answer
				    and the kernel drops it */
	LB_R_MAX,
};

#endif /* LB_KERN_USER_H */
