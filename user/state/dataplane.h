/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The BPF side as user space sees it: load the three programs (XDP,
 * sk_lookup, tc ingress for SYN-cookie ACKs) with one shared
 * set of maps (pinned under a directory when asked), or open the pinned maps
 * of a running instance without loading anything; then the map operations
 * everything else builds on (lbctl, the agent, tests, benchmarks).
 */
#ifndef LB_DATAPLANE_H
#define LB_DATAPLANE_H

#include <stddef.h>
#include <linux/types.h>
#include "lb_kern_user.h"

struct lb_xdp;
struct lb_sk_lookup;
struct lb_tc;
struct bpf_link;

enum dp_map {
	DP_CONFIG,
	DP_VIPS,
	DP_RINGS,
	DP_SOCKETS,
	DP_REASONS,
	DP_VIP_STATS,
	DP_WORKER_STATS,
	DP_VIP_WORKERS,
	DP_VIP_ADDRS,
	DP_ADDR_FILTER,
	DP_SRC_V4,
	DP_SRC_V6,
	DP_FLOOD,
	DP_FLOOD_STATE,
	DP_BUCKETS,
	DP_SYN_SEEN,
	DP_TC_PROBE,
	DP_RINGS_PREV,
	DP_HOSTS,
	DP_HOST_ADDRS,
	DP_MAP_COUNT,
};

struct dataplane {
	struct lb_xdp *xdp; /* NULL when opened from pins */
	struct lb_sk_lookup *skl; /* NULL when opened from pins */
	struct lb_tc *tc; /* NULL when opened from pins */
	int fds[DP_MAP_COUNT];
	struct lb_config cfg;
};

struct dataplane_opts {
	__u32 ring_size; /* prime; 0: LB_RING_SIZE_DEFAULT */
	__u32 hash_seed;
	const char *pin_dir; /* NULL: nothing pinned; else maps reused/pinned
				there, e.g. /sys/fs/bpf/lb0 */
};

/* Open and load the programs; maps shared, config written (or, from an
 * earlier run's pins, checked). Errors are printed, naming the cause. */
int dataplane__load(struct dataplane *dp, const struct dataplane_opts *opts);
/* Open the maps pinned under pin_dir; -ENOENT if there are none. */
int dataplane__open_pinned(struct dataplane *dp, const char *pin_dir);
void dataplane__destroy(struct dataplane *dp);

const char *dataplane__map_name(enum dp_map map);
/* Is this map of the programs' objects pinned with the instance's state?
 * (All but libbpf's internal ones and the XDP program's scratch.) */
struct bpf_map;
int dataplane__map_pinned(const struct bpf_map *map);
/* Before loading obj (an XDP or tc skeleton attached apart from the
 * instance's own load): its maps become the ones pinned under pin_dir,
 * sized as they were loaded. */
struct bpf_object;
int dataplane__use_pins(struct bpf_object *obj, const char *pin_dir,
			__u32 ring_size);
int dataplane__map_fd(const struct dataplane *dp, const char *map_name);
int dataplane__xdp_fd(const struct dataplane *dp);
int dataplane__sk_lookup_fd(const struct dataplane *dp);
int dataplane__tc_fd(const struct dataplane *dp);

/* Attach sk_lookup to the network namespace open at netns_fd; the link
 * detaches when destroyed, unless pinned. */
struct bpf_link *dataplane__attach_netns(const struct dataplane *dp,
					 int netns_fd);

int dataplane__vip_set(const struct dataplane *dp, const struct lb_vip_key *key,
		       const struct lb_vip_meta *meta);

/* Write table[changed[i]] into the VIP's ring row; changed == NULL writes
 * all ring_size slots. */
int dataplane__ring_write(const struct dataplane *dp, __u32 vip_index,
			  const __u32 *table, const __u32 *changed, size_t n);
int dataplane__ring_read(const struct dataplane *dp, __u32 vip_index,
			 __u32 *table);
/* The same on a ring map of that layout: DP_RINGS or DP_RINGS_PREV. */
int dataplane__ring_write_map(const struct dataplane *dp, enum dp_map map,
			      __u32 vip_index, const __u32 *table,
			      const __u32 *changed, size_t n);
int dataplane__ring_read_map(const struct dataplane *dp, enum dp_map map,
			     __u32 vip_index, __u32 *table);

/* Per-CPU counters summed over all possible CPUs. */
int dataplane__reason_sum(const struct dataplane *dp, __u32 reason, __u64 *sum);
int dataplane__counters_sum(const struct dataplane *dp, enum dp_map map,
			    __u32 index, struct lb_counters *sum);

#endif /* LB_DATAPLANE_H */
