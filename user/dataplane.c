// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "dataplane.h"
#include "maglev.h"
#include "lb_xdp.skel.h"
#include "lb_sk_lookup.skel.h"

static int dataplane__pin_maps(struct bpf_object *obj, const char *dir)
{
	char path[PATH_MAX];
	struct bpf_map *map;
	int err;

	bpf_object__for_each_map(map, obj)
	{
		if (bpf_map__is_internal(map))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, bpf_map__name(map));
		err = bpf_map__set_pin_path(map, path);
		if (err)
			return err;
	}
	return 0;
}

/* The sk_lookup object gets no maps of its own: it reuses the XDP ones. */
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

static int dataplane__init_config(const struct dataplane *dp, __u32 ring_size,
				  __u32 seed)
{
	struct lb_config cfg;
	int err;

	err = dataplane__config(dp, &cfg);
	if (err)
		return err;
	if (cfg.ring_size && cfg.ring_size != ring_size) {
		fprintf(stderr,
			"dataplane: pinned ring size %u differs from %u\n",
			cfg.ring_size, ring_size);
		return -EINVAL;
	}
	if (cfg.ring_size) /* pinned state from an earlier run: keep it */
		return 0;
	cfg.ring_size = ring_size;
	cfg.hash_seed = seed;
	return bpf_map_update_elem(bpf_map__fd(dp->xdp->maps.lb_config),
				   &(__u32){ 0 }, &cfg, BPF_ANY) ?
		       -errno :
		       0;
}

int dataplane__load(struct dataplane *dp, const struct dataplane_opts *opts)
{
	__u32 ring_size =
		opts->ring_size ? opts->ring_size : LB_RING_SIZE_DEFAULT;
	const char *what = "open";
	int err;

	memset(dp, 0, sizeof(*dp));
	if (!maglev__valid_size(ring_size)) {
		fprintf(stderr,
			"dataplane: ring size %u is not a prime in 3..2^24\n",
			ring_size);
		return -EINVAL;
	}
	dp->xdp = lb_xdp__open();
	dp->skl = lb_sk_lookup__open();
	if (!dp->xdp || !dp->skl) {
		err = -errno;
		goto out;
	}
	what = "size ring map";
	err = bpf_map__set_max_entries(dp->xdp->maps.lb_rings,
				       LB_MAX_VIPS * ring_size);
	if (err)
		goto out;
	if (opts->pin_dir) {
		what = "set pin paths";
		err = dataplane__pin_maps(dp->xdp->obj, opts->pin_dir);
		if (err)
			goto out;
	}
	what = "load XDP program";
	err = lb_xdp__load(dp->xdp);
	if (err)
		goto out;
	what = "share maps";
	err = dataplane__share_maps(dp->xdp->obj, dp->skl->obj);
	if (err)
		goto out;
	what = "load sk_lookup program";
	err = lb_sk_lookup__load(dp->skl);
	if (err)
		goto out;
	what = "write config";
	err = dataplane__init_config(dp, ring_size, opts->hash_seed);
out:
	if (err) {
		fprintf(stderr, "dataplane: cannot %s: %s\n", what,
			strerror(-err));
		dataplane__destroy(dp);
	}
	return err;
}

void dataplane__destroy(struct dataplane *dp)
{
	lb_sk_lookup__destroy(dp->skl);
	lb_xdp__destroy(dp->xdp);
	dp->skl = NULL;
	dp->xdp = NULL;
}

int dataplane__map_fd(const struct dataplane *dp, const char *map_name)
{
	struct bpf_map *map;

	map = bpf_object__find_map_by_name(dp->xdp->obj, map_name);
	return map ? bpf_map__fd(map) : -ENOENT;
}

int dataplane__xdp_fd(const struct dataplane *dp)
{
	return bpf_program__fd(dp->xdp->progs.lb_xdp);
}

int dataplane__sk_lookup_fd(const struct dataplane *dp)
{
	return bpf_program__fd(dp->skl->progs.lb_sk_lookup);
}

struct bpf_link *dataplane__attach_netns(const struct dataplane *dp,
					 int netns_fd)
{
	return bpf_program__attach_netns(dp->skl->progs.lb_sk_lookup, netns_fd);
}

int dataplane__config(const struct dataplane *dp, struct lb_config *cfg)
{
	__u32 zero = 0;

	if (bpf_map_lookup_elem(bpf_map__fd(dp->xdp->maps.lb_config), &zero,
				cfg))
		return -errno;
	return 0;
}

int dataplane__vip_set(const struct dataplane *dp, const struct lb_vip_key *key,
		       const struct lb_vip_meta *meta)
{
	if (meta->index >= LB_MAX_VIPS)
		return -ERANGE;
	if (bpf_map_update_elem(bpf_map__fd(dp->xdp->maps.lb_vips), key, meta,
				BPF_ANY))
		return -errno;
	return 0;
}

int dataplane__ring_write(const struct dataplane *dp, __u32 vip_index,
			  const __u32 *table, const __u32 *changed, size_t n)
{
	int fd = bpf_map__fd(dp->xdp->maps.lb_rings);
	struct lb_config cfg;
	__u32 *keys = NULL, *vals = NULL, count;
	size_t i;
	int err;

	err = dataplane__config(dp, &cfg);
	if (err)
		return err;
	if (vip_index >= LB_MAX_VIPS)
		return -ERANGE;
	if (!changed)
		n = cfg.ring_size;
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

		if (slot >= cfg.ring_size) {
			err = -ERANGE;
			goto out;
		}
		keys[i] = vip_index * cfg.ring_size + slot;
		vals[i] = table[slot];
	}
	count = n;
	err = bpf_map_update_batch(fd, keys, vals, &count, NULL);
out:
	free(keys);
	free(vals);
	return err;
}

int dataplane__ring_read(const struct dataplane *dp, __u32 vip_index,
			 __u32 *table)
{
	int fd = bpf_map__fd(dp->xdp->maps.lb_rings);
	struct lb_config cfg;
	__u32 slot, key;
	int err;

	err = dataplane__config(dp, &cfg);
	if (err)
		return err;
	if (vip_index >= LB_MAX_VIPS)
		return -ERANGE;
	for (slot = 0; slot < cfg.ring_size; slot++) {
		key = vip_index * cfg.ring_size + slot;
		if (bpf_map_lookup_elem(fd, &key, &table[slot]))
			return -errno;
	}
	return 0;
}

int dataplane__reason_sum(const struct dataplane *dp, __u32 reason, __u64 *sum)
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 *vals;
	int i, err = 0;

	if (ncpu < 0)
		return ncpu;
	vals = calloc(ncpu, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	*sum = 0;
	if (bpf_map_lookup_elem(bpf_map__fd(dp->xdp->maps.lb_reasons), &reason,
				vals)) {
		err = -errno;
		goto out;
	}
	for (i = 0; i < ncpu; i++)
		*sum += vals[i];
out:
	free(vals);
	return err;
}

int dataplane__counters_sum(const struct dataplane *dp, const char *map_name,
			    __u32 index, struct lb_counters *sum)
{
	int ncpu = libbpf_num_possible_cpus();
	int fd = dataplane__map_fd(dp, map_name);
	struct lb_counters *vals;
	int i, err = 0;

	if (fd < 0)
		return fd;
	if (ncpu < 0)
		return ncpu;
	vals = calloc(ncpu, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	memset(sum, 0, sizeof(*sum));
	if (bpf_map_lookup_elem(fd, &index, vals)) {
		err = -errno;
		goto out;
	}
	for (i = 0; i < ncpu; i++) {
		sum->syns += vals[i].syns;
		sum->assigned += vals[i].assigned;
	}
out:
	free(vals);
	return err;
}
