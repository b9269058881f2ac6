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
#define LB_FLOWS_MAX 262144
#define LB_IP6_EXT_MAX 4 /* extension headers walked before giving up */
#define LB_SK_FALLBACK_SLOTS \
	8 /* ring slots sk_lookup tries past a pick
				  without a socket */

/* Ring slot with no worker (empty ring, every worker drained). */
#define LB_WORKER_NONE 0xffffffffu

/* Map names as they appear in bpftool and under /sys/fs/bpf/<instance>/. */
#define LB_MAP_CONFIG "lb_config"
#define LB_MAP_VIPS "lb_vips"
#define LB_MAP_VIP_PORTS "lb_vip_ports"
#define LB_MAP_RINGS "lb_rings"
#define LB_MAP_FLOWS "lb_flows"
#define LB_MAP_SOCKETS "lb_sockets"
#define LB_MAP_REASONS "lb_reasons"
#define LB_MAP_VIP_STATS "lb_vip_stats"
#define LB_MAP_WORKER_STATS "lb_worker_stats"
#define LB_MAP_VIP_WORKERS "lb_vip_workers"

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
	__u8 flags; /* none defined yet: 0 */
};

/*
 * lb_sockets slot of a worker's listener of one kind and address family
 * (enum lb_family). A worker's listeners are bound to loopback, one per
 * family (DESIGN.md D3): only sk_lookup reaches them, and it assigns a
 * connection to a socket of the connection's own family.
 */
#define LB_SOCKET_SLOT(listener, family, worker)                          \
	((((listener)*2 + ((family) == LB_FAMILY_V6)) * LB_MAX_WORKERS) + \
	 (worker))

/* Connection 4-tuple as the client sent it: src = client, dst = VIP. */
struct lb_flow_key {
	struct lb_addr src;
	struct lb_addr dst;
	__be16 sport;
	__be16 dport;
	__u8 family;
	__u8 pad[3];
};

struct lb_flow {
	__u32 worker;
	__u32 vip_index;
};

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

/* lb_config[0]: read by both programs; written by lbctl before attaching. */
struct lb_config {
	__u32 ring_size; /* prime M; lb_rings holds LB_MAX_VIPS * M slots */
	__u32 hash_seed;
};

/* Per VIP and per worker, per CPU. */
struct lb_counters {
	__u64 syns; /* SYNs steered by XDP */
	__u64 assigned; /* connections handed to a socket by sk_lookup */
};

/*
 * Outcome counters (lb_reasons, per CPU). The verdict of each is in
 * docs/xdp-outcomes.md; keep the two in step.
 */
enum lb_reason {
	LB_R_SYN_STEERED = 0, /* pass: SYN to a VIP, pick recorded */
	LB_R_NO_WORKER, /* pass: SYN to a VIP whose ring slot is empty */
	LB_R_BAD_WORKER, /* pass: ring slot names a worker id out of range */
	LB_R_FLOW_FULL, /* pass: flow record could not be written */
	LB_R_FRAGMENT, /* pass: non-first fragment, never read as TCP */
	LB_R_L2_TRUNC, /* pass: frame shorter than its Ethernet/VLAN header */
	LB_R_IP6_EXT_LIMIT, /* pass: more extension headers than we walk */
	LB_R_UNSUPPORTED, /* pass: well-formed but not steered (jumbogram) */
	LB_R_IP4_BAD, /* drop: version, IHL < 5 or total length wrong */
	LB_R_IP4_TRUNC, /* drop: IPv4 header beyond the frame */
	LB_R_IP6_BAD, /* drop: IP version field is not 6 */
	LB_R_IP6_TRUNC, /* drop: IPv6 header, extension or payload beyond
			   the frame */
	LB_R_TCP_TRUNC, /* drop: TCP header beyond the frame or the IP payload */
	LB_R_TCP_BAD_DOFF, /* drop: TCP data offset < 5 */
	LB_R_SK_FLOW, /* sk_lookup: assigned the worker XDP recorded */
	LB_R_SK_COMPUTED, /* sk_lookup: no record, assigned the computed pick */
	LB_R_SK_NO_WORKER, /* sk_lookup: empty ring slot, kernel decides */
	LB_R_SK_NO_SOCKET, /* sk_lookup: worker has no socket, kernel decides */
	LB_R_SK_ASSIGN_FAIL, /* sk_lookup: bpf_sk_assign refused the socket */
	LB_R_SK_FALLBACK, /* sk_lookup: pick had no socket; a later slot's
			     worker took the connection */
	LB_R_MAX,
};

/* XDP drops exactly the reasons from LB_R_IP4_BAD to LB_R_TCP_BAD_DOFF: the
 * packets the kernel's own IP and TCP input would discard anyway. */
#define LB_R_DROPS(r) ((r) >= LB_R_IP4_BAD && (r) <= LB_R_TCP_BAD_DOFF)

#endif /* LB_KERN_USER_H */
