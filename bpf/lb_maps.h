/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Map definitions (BPF only). Both programs include this file; the loader
 * (user/dataplane.c) makes the sk_lookup object reuse the XDP object's maps,
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

/* LB_MAX_VIPS rows of ring_size slots; resized by the loader before load. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LB_MAX_VIPS *LB_RING_SIZE_DEFAULT);
	__type(key, __u32);
	__type(value, __u32);
} lb_rings SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, LB_FLOWS_MAX);
	__type(key, struct lb_flow_key);
	__type(value, struct lb_flow);
} lb_flows SEC(".maps");

/* LB_SOCKET_SLOT(listener, family, worker) -> that listening socket, put
 * there by the lbctl agent when the worker registers (SCM_RIGHTS). */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, LB_MAX_LISTENERS *LB_MAX_WORKERS);
	__type(key, __u32);
	__type(value, __u64);
} lb_sockets SEC(".maps");

/* User-space state, pinned with the rest; the programs never read it. */
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

#endif /* LB_MAPS_H */
