// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "bpf_log.h"
#include "dataplane.h"
#include "maglev.h"
#include "lb_xdp.skel.h"
#include "lb_sk_lookup.skel.h"
#include "lb_tc.skel.h"

static const char *const map_names[DP_MAP_COUNT] = {
	[DP_CONFIG] = LB_MAP_CONFIG,
	[DP_VIPS] = LB_MAP_VIPS,
	[DP_RINGS] = LB_MAP_RINGS,
	[DP_SOCKETS] = LB_MAP_SOCKETS,
	[DP_REASONS] = LB_MAP_REASONS,
	[DP_VIP_STATS] = LB_MAP_VIP_STATS,
	[DP_WORKER_STATS] = LB_MAP_WORKER_STATS,
	[DP_VIP_WORKERS] = LB_MAP_VIP_WORKERS,
	[DP_VIP_ADDRS] = LB_MAP_VIP_ADDRS,
	[DP_ADDR_FILTER] = LB_MAP_ADDR_FILTER,
	[DP_SRC_V4] = LB_MAP_SRC_V4,
	[DP_SRC_V6] = LB_MAP_SRC_V6,
	[DP_FLOOD] = LB_MAP_FLOOD,
	[DP_FLOOD_STATE] = LB_MAP_FLOOD_STATE,
	[DP_BUCKETS] = LB_MAP_BUCKETS,
	[DP_SYN_SEEN] = LB_MAP_SYN_SEEN,
	[DP_TC_PROBE] = LB_MAP_TC_PROBE,
	[DP_RINGS_PREV] = LB_MAP_RINGS_PREV,
	[DP_HOSTS] = LB_MAP_HOSTS,
	[DP_HOST_ADDRS] = LB_MAP_HOST_ADDRS,
};

const char *dataplane__map_name(enum dp_map map)
{
	return map < DP_MAP_COUNT ? map_names[map] : "?";
}

static void dataplane__reset(struct dataplane *dp)
{
	int i;

	memset(dp, 0, sizeof(*dp));
	for (i = 0; i < DP_MAP_COUNT; i++)
		dp->fds[i] = -1;
}

static int dataplane__pin_maps(struct bpf_object *obj, const char *dir)
{
	char path[PATH_MAX];
	struct bpf_map *map;
	int err;

	bpf_object__for_each_map(map, obj)
	{
		/* lb_cluster_req is per-packet scratch of the XDP program
		 * (bpf/lb_fwd.h): nothing to keep, and an unpinned map is
		 * nothing for 'lbctl unload' to leave behind */
		if (bpf_map__is_internal(map) ||
		    !strcmp(bpf_map__name(map), "lb_cluster_req"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, bpf_map__name(map));
		err = bpf_map__set_pin_path(map, path);
		if (err)
			return err;
	}
	return 0;
}

/* The other objects get no maps of their own: they reuse the XDP ones. */
static int dataplane__share_maps(struct bpf_object *from, struct bpf_object *to)
{
	struct bpf_map *map, *src;
	int err;

	bpf_object__for_each_map(map, to)
	{
		if (bpf_map__is_internal(map))
			continue;
		src = bpf_object__find_map_by_name(from, bpf_map__name(map));
		if (!src) {
			fprintf(stderr,
				"dataplane: map '%s' missing from the XDP object\n",
				bpf_map__name(map));
			return -ENOENT;
		}
		err = bpf_map__reuse_fd(map, bpf_map__fd(src));
		if (err)
			return err;
	}
	return 0;
}

static int dataplane__read_config(struct dataplane *dp)
{
	if (bpf_map_lookup_elem(dp->fds[DP_CONFIG], &(__u32){ 0 }, &dp->cfg))
		return -errno;
	return 0;
}

static int dataplane__init_config(struct dataplane *dp, __u32 ring_size,
				  __u32 seed)
{
	int err = dataplane__read_config(dp);

	if (err)
		return err;
	if (dp->cfg.ring_size && dp->cfg.ring_size != ring_size) {
		fprintf(stderr,
			"dataplane: pinned ring size %u differs from %u\n",
			dp->cfg.ring_size, ring_size);
		return -EINVAL;
	}
	/* Pinned state from an earlier run: keep it, but never run cookies
	 * with a zero key (state pinned before the key existed). */
	if (dp->cfg.ring_size &&
	    (dp->cfg.cookie_key[0] || dp->cfg.cookie_key[1]))
		return 0;
	if (dp->cfg.ring_size)
		goto key;
	dp->cfg.ring_size = ring_size;
	dp->cfg.hash_seed = seed;
	dp->cfg.flags = LB_CF_FLOOD | LB_CF_COOKIES;
	dp->cfg.flood_syn_rate = LB_FLOOD_SYN_RATE_DEFAULT;
	dp->cfg.flood_hold_ms = LB_FLOOD_HOLD_MS_DEFAULT;
	dp->cfg.src_rate = LB_SRC_RATE_DEFAULT;
	dp->cfg.src_burst = LB_SRC_BURST_DEFAULT;
	dp->cfg.src_v4_prefix = 24;
	dp->cfg.src_v6_prefix = 64;
key:
	/* The cookie secret never leaves the kernel and this process. */
	if (getrandom(dp->cfg.cookie_key, sizeof(dp->cfg.cookie_key), 0) !=
	    sizeof(dp->cfg.cookie_key))
		return -errno;
	if (bpf_map_update_elem(dp->fds[DP_CONFIG], &(__u32){ 0 }, &dp->cfg,
				BPF_ANY))
		return -errno;
	return 0;
}

int dataplane__load(struct dataplane *dp, const struct dataplane_opts *opts)
{
	__u32 ring_size = opts->ring_size ?: LB_RING_SIZE_DEFAULT;
	const char *what = "open the BPF objects";
	struct bpf_map *map;
	int err, i;

	dataplane__reset(dp);
	bpf_log__reset();
	if (!maglev__valid_size(ring_size)) {
		fprintf(stderr,
			"dataplane: ring size %u is not a prime in 3..%u\n",
			ring_size, MAGLEV_SIZE_MAX);
		return -EINVAL;
	}
	dp->xdp = lb_xdp__open();
	dp->skl = lb_sk_lookup__open();
	dp->tc = lb_tc__open();
	if (!dp->xdp || !dp->skl || !dp->tc) {
		err = -errno;
		goto out;
	}
	what = "size the ring map";
	err = bpf_map__set_max_entries(dp->xdp->maps.lb_rings,
				       LB_MAX_VIPS * ring_size);
	err = err   ?:
		      bpf_map__set_max_entries(dp->xdp->maps.lb_rings_prev,
					       LB_MAX_VIPS * ring_size);
	if (err)
		goto out;
	if (opts->pin_dir) {
		what = "set pin paths";
		err = dataplane__pin_maps(dp->xdp->obj, opts->pin_dir);
		if (err)
			goto out;
	}
	what = "load the XDP program (pinned maps of another version?)";
	err = lb_xdp__load(dp->xdp);
	if (err)
		goto out;
	what = "share maps";
	err = dataplane__share_maps(dp->xdp->obj, dp->skl->obj);
	if (!err)
		err = dataplane__share_maps(dp->xdp->obj, dp->tc->obj);
	if (err)
		goto out;
	what = "load the sk_lookup program";
	err = lb_sk_lookup__load(dp->skl);
	if (err)
		goto out;
	what = "load the tc ingress program";
	err = lb_tc__load(dp->tc);
	if (err)
		goto out;
	for (i = 0; i < DP_MAP_COUNT; i++) {
		map = bpf_object__find_map_by_name(dp->xdp->obj, map_names[i]);
		dp->fds[i] = map ? bpf_map__fd(map) : -1;
	}
	what = "write the config";
	err = dataplane__init_config(dp, ring_size, opts->hash_seed);
out:
	if (err) {
		fprintf(stderr, "dataplane: cannot %s: %s\n", what,
			strerror(-err));
		bpf_log__dump(stderr);
		dataplane__destroy(dp);
	}
	return err;
}

int dataplane__open_pinned(struct dataplane *dp, const char *pin_dir)
{
	char path[PATH_MAX];
	int i, err = 0;

	dataplane__reset(dp);
	for (i = 0; i < DP_MAP_COUNT; i++) {
		snprintf(path, sizeof(path), "%s/%s", pin_dir, map_names[i]);
		dp->fds[i] = bpf_obj_get(path);
		if (dp->fds[i] < 0) {
			err = -errno;
			goto out;
		}
	}
	err = dataplane__read_config(dp);
out:
	if (err)
		dataplane__destroy(dp);
	return err;
}

void dataplane__destroy(struct dataplane *dp)
{
	int i;

	if (dp->xdp || dp->skl || dp->tc) { /* the skeletons own the fds */
		lb_tc__destroy(dp->tc);
		lb_sk_lookup__destroy(dp->skl);
		lb_xdp__destroy(dp->xdp);
	} else {
		for (i = 0; i < DP_MAP_COUNT; i++)
			if (dp->fds[i] >= 0)
				close(dp->fds[i]);
	}
	dataplane__reset(dp);
}

int dataplane__map_fd(const struct dataplane *dp, const char *map_name)
{
	int i;

	for (i = 0; i < DP_MAP_COUNT; i++)
		if (!strcmp(map_names[i], map_name))
			return dp->fds[i];
	return -ENOENT;
}

int dataplane__xdp_fd(const struct dataplane *dp)
{
	return dp->xdp ? bpf_program__fd(dp->xdp->progs.lb_xdp) : -ENOENT;
}

int dataplane__sk_lookup_fd(const struct dataplane *dp)
{
	return dp->skl ? bpf_program__fd(dp->skl->progs.lb_sk_lookup) : -ENOENT;
}

int dataplane__tc_fd(const struct dataplane *dp)
{
	return dp->tc ? bpf_program__fd(dp->tc->progs.lb_tc_ingress) : -ENOENT;
}

struct bpf_link *dataplane__attach_netns(const struct dataplane *dp,
					 int netns_fd)
{
	if (!dp->skl) {
		errno = ENOENT;
		return NULL;
	}
	return bpf_program__attach_netns(dp->skl->progs.lb_sk_lookup, netns_fd);
}

int dataplane__vip_set(const struct dataplane *dp, const struct lb_vip_key *key,
		       const struct lb_vip_meta *meta)
{
	if (meta->index >= LB_MAX_VIPS || meta->listener >= LB_LISTENER_KINDS)
		return -ERANGE;
	if (bpf_map_update_elem(dp->fds[DP_VIPS], key, meta, BPF_ANY))
		return -errno;
	return 0;
}

int dataplane__ring_write(const struct dataplane *dp, __u32 vip_index,
			  const __u32 *table, const __u32 *changed, size_t n)
{
	return dataplane__ring_write_map(dp, DP_RINGS, vip_index, table,
					 changed, n);
}

int dataplane__ring_read(const struct dataplane *dp, __u32 vip_index,
			 __u32 *table)
{
	return dataplane__ring_read_map(dp, DP_RINGS, vip_index, table);
}

int dataplane__ring_write_map(const struct dataplane *dp, enum dp_map map,
			      __u32 vip_index, const __u32 *table,
			      const __u32 *changed, size_t n)
{
	if (map != DP_RINGS && map != DP_RINGS_PREV)
		return -EINVAL;
	__u32 m = dp->cfg.ring_size, *keys = NULL, *vals = NULL, count;
	size_t i;
	int err = 0;

	if (vip_index >= LB_MAX_VIPS)
		return -ERANGE;
	if (!changed)
		n = m;
	if (!n)
		return 0;
	keys = calloc(n, sizeof(*keys));
	vals = calloc(n, sizeof(*vals));
	if (!keys || !vals) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		__u32 slot = changed ? changed[i] : i;

		if (slot >= m) {
			err = -ERANGE;
			goto out;
		}
		keys[i] = vip_index * m + slot;
		vals[i] = table[slot];
	}
	count = n;
	err = bpf_map_update_batch(dp->fds[map], keys, vals, &count, NULL);
out:
	free(keys);
	free(vals);
	return err;
}

int dataplane__ring_read_map(const struct dataplane *dp, enum dp_map map,
			     __u32 vip_index, __u32 *table)
{
	if (map != DP_RINGS && map != DP_RINGS_PREV)
		return -EINVAL;
	__u32 m = dp->cfg.ring_size, done = 0, prev, out, n, *keys;
	int err = 0;

	if (vip_index >= LB_MAX_VIPS)
		return -ERANGE;
	keys = malloc(m * sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	/* Batches, not one syscall per slot (a ring is 65537 slots). The
	 * batch cursor is the key before the first one wanted. */
	while (done < m) {
		__u32 first = vip_index * m + done;

		prev = first - 1;
		n = m - done;
		err = bpf_map_lookup_batch(dp->fds[map], first ? &prev : NULL,
					   &out, keys, table + done, &n, NULL);
		if (err && err != -ENOENT)
			break;
		err = 0;
		if (!n) {
			err = -EIO;
			break;
		}
		done += n;
	}
	free(keys);
	return err;
}

/* Sum 'width' __u64 fields of a per-CPU value into out[]. */
static int dataplane__percpu_sum(int fd, __u32 index, size_t width, __u64 *out)
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 *vals;
	size_t i, f;
	int err = 0;

	if (ncpu < 0)
		return ncpu;
	vals = calloc((size_t)ncpu * width, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	memset(out, 0, width * sizeof(*out));
	if (bpf_map_lookup_elem(fd, &index, vals)) {
		err = -errno;
		goto out;
	}
	for (i = 0; i < (size_t)ncpu; i++)
		for (f = 0; f < width; f++)
			out[f] += vals[i * width + f];
out:
	free(vals);
	return err;
}

int dataplane__reason_sum(const struct dataplane *dp, __u32 reason, __u64 *sum)
{
	return dataplane__percpu_sum(dp->fds[DP_REASONS], reason, 1, sum);
}

int dataplane__counters_sum(const struct dataplane *dp, enum dp_map map,
			    __u32 index, struct lb_counters *sum)
{
	if (map != DP_VIP_STATS && map != DP_WORKER_STATS)
		return -EINVAL;
	/* struct lb_counters is nothing but __u64 fields */
	return dataplane__percpu_sum(dp->fds[map], index,
				     sizeof(*sum) / sizeof(__u64),
				     (__u64 *)sum);
}
