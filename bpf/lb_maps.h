/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Map definitions (BPF only). Every program includes this file; the loader
 * (user/state/dataplane.c) makes the other objects reuse the XDP object's maps,
 * and lbctl pins them, so there is one instance of each. Keys and values
 * are in include/lb_kern_user.h.
 */
#ifndef LB_MAPS_H
#define LB_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "lb_kern_user.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lb_config);
} lb_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LB_MAX_VIPS);
	__type(key, struct lb_vip_key);
	__type(value, struct lb_vip_meta);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} lb_vips SEC(".maps");

/* Interfaces where XDP_TX cannot deliver: no cookies there (lb_kern_user.h). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LB_COOKIE_IFS_MAX);
	__type(key, __u32);
	__type(value, struct lb_cookie_if);
} lb_cookie_ifs SEC(".maps");

/* LB_MAX_VIPS rows of ring_size slots; resized by the loader before load. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LB_MAX_VIPS *LB_RING_SIZE_DEFAULT);
	__type(key, __u32);
	__type(value, __u32);
} lb_rings SEC(".maps");

/* Each VIP's ring before the last membership change: the second chance
 * (scale-out, D7). Same layout and size as lb_rings. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LB_MAX_VIPS *LB_RING_SIZE_DEFAULT);
	__type(key, __u32);
	__type(value, __u32);
} lb_rings_prev SEC(".maps");

/* The cluster's hosts by id, and their underlay addresses (scale-out). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LB_MAX_HOSTS);
	__type(key, __u32);
	__type(value, struct lb_host);
} lb_hosts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LB_MAX_HOSTS);
	__type(key, __be32);
	__type(value, struct lb_host_addr);
} lb_host_addrs SEC(".maps");

/* Destination addresses of VIPs: the firewall's first question. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LB_MAX_VIPS);
	__type(key, struct lb_addr_key);
	__type(value, struct lb_vip_addr);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} lb_vip_addrs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lb_addr_filter);
} lb_addr_filter SEC(".maps");

/* Is bit set in one of lb_addr_filter's bit arrays (addrs or ports)? */
static __always_inline int lb_filter_has(const __u64 *words, __u32 bit)
{
	return !!(words[(bit / 64) % LB_ADDR_FILTER_WORDS] &
		  (1ull << (bit % 64)));
}

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, LB_SRC_RULES_MAX);
	__type(key, struct lb_lpm_v4);
	__type(value, struct lb_src_rule);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} lb_src_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, LB_SRC_RULES_MAX);
	__type(key, struct lb_lpm_v6);
	__type(value, struct lb_src_rule);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} lb_src_v6 SEC(".maps");

/* Flood detection, SYN buckets and the retransmit filter are per CPU and
 * fixed size: a flood makes no CPU wait for another and inserts nothing. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lb_flood);
} lb_flood SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lb_flood_state);
} lb_flood_state SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LB_BUCKETS);
	__type(key, __u32);
	__type(value, struct lb_bucket);
} lb_buckets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lb_syn_seen);
} lb_syn_seen SEC(".maps");

/* lb_tc_probe[0] (per CPU) is 1 while the tc program asks the kernel
 * whether a connection exists (bpf_skc_lookup_tcp): that lookup runs the
 * sk_lookup program too, which must then neither pick nor count. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} lb_tc_probe SEC(".maps");

/* LB_SOCKET_SLOT(listener, family, worker) -> that listening socket, put
 * there by the lbctl agent when the worker registers (SCM_RIGHTS). */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, LB_MAX_LISTENERS *LB_MAX_WORKERS);
	__type(key, __u32);
	__type(value, __u64);
} lb_sockets SEC(".maps");

/* User-space state, pinned with the rest; only a worker host's sk_lookup
 * reads it, when its ring gives a connection no local worker (lb_pick.h). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LB_MAX_VIPS *LB_MAX_WORKERS);
	__type(key, struct lb_worker_key);
	__type(value, struct lb_worker_state);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} lb_vip_workers SEC(".maps");

/*
 * Counters are per-CPU arrays: a CPU only ever touches its own copy, so a
 * plain increment is exact without atomics; lbctl sums the copies.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LB_R_MAX);
	__type(key, __u32);
	__type(value, __u64);
} lb_reasons SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LB_MAX_VIPS);
	__type(key, __u32);
	__type(value, struct lb_counters);
} lb_vip_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LB_MAX_WORKERS);
	__type(key, __u32);
	__type(value, struct lb_counters);
} lb_worker_stats SEC(".maps");

static __always_inline void lb_count(__u32 reason)
{
	__u64 *c = bpf_map_lookup_elem(&lb_reasons, &reason);

	if (c)
		*c += 1;
}

static __always_inline struct lb_counters *lb_vip_counters(__u32 index)
{
	return bpf_map_lookup_elem(&lb_vip_stats, &index);
}

static __always_inline struct lb_counters *lb_worker_counters(__u32 worker)
{
	return bpf_map_lookup_elem(&lb_worker_stats, &worker);
}

/* Is this CPU in flood mode (lb_flood_syn() in lb_flood.h sets it)? */
static __always_inline int lb_cpu_in_flood(__u64 now)
{
	__u32 zero = 0;
	struct lb_flood *f = bpf_map_lookup_elem(&lb_flood, &zero);

	return f && now < f->flood_until;
}

#endif /* LB_MAPS_H */
