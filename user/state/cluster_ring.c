// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Scale-out state in the maps (cluster_ring.h). The agent holds the
 * instance lock around these, as around ring__rebuild.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include "cluster_ring.h"
#include "vip.h"

static int config_read(const struct dataplane *dp, struct lb_config *c)
{
	return bpf_map_lookup_elem(dp->fds[DP_CONFIG], &(__u32){ 0 }, c) ?
		       -errno :
		       0;
}

static int config_write(const struct dataplane *dp, const struct lb_config *c)
{
	return bpf_map_update_elem(dp->fds[DP_CONFIG], &(__u32){ 0 }, c,
				   BPF_ANY) ?
		       -errno :
		       0;
}

int cluster_ring__active(const struct dataplane *dp)
{
	struct lb_config c;

	return !config_read(dp, &c) && c.self_host;
}

/* Delete every lb_host_addrs entry whose address is not in hosts[]. */
static void drop_addrs(const struct dataplane *dp,
		       const struct cluster_ring_host *hosts, int n)
{
	__be32 key, next;
	int started = 0, i;

	while (!bpf_map_get_next_key(dp->fds[DP_HOST_ADDRS],
				     started ? &key : NULL, &next)) {
		for (i = 0; i < n; i++)
			if (hosts[i].addr == next)
				break;
		if (i == n) {
			bpf_map_delete_elem(dp->fds[DP_HOST_ADDRS], &next);
			continue; /* the walk restarts from 'key' */
		}
		key = next;
		started = 1;
	}
}

/* lb_hosts and lb_host_addrs hold hosts[] and nothing else. */
static int write_hosts(const struct dataplane *dp,
		       const struct cluster_ring_host *hosts, int n)
{
	__u32 id;
	int i;

	drop_addrs(dp, hosts, n); /* first: the hash has room for all */
	for (id = 0; id < LB_MAX_HOSTS; id++) {
		struct lb_host h = { 0 };

		for (i = 0; i < n; i++)
			if (hosts[i].id == id) {
				h.addr = hosts[i].addr;
				h.flags = hosts[i].flags;
			}
		if (bpf_map_update_elem(dp->fds[DP_HOSTS], &id, &h, BPF_ANY))
			return -errno;
	}
	for (i = 0; i < n; i++) {
		struct lb_host_addr ha = { .host = hosts[i].id };

		if (bpf_map_update_elem(dp->fds[DP_HOST_ADDRS], &hosts[i].addr,
					&ha, BPF_ANY))
			return -errno;
	}
	return 0;
}

int cluster_ring__set_hosts(const struct dataplane *dp,
			    const struct cluster_ring_self *self,
			    const struct cluster_ring_host *hosts, int n)
{
	struct lb_config c;
	int err;

	/* hosts first: XDP reads none of them before self_host is set */
	err = write_hosts(dp, hosts, n);
	err = err ?: config_read(dp, &c);
	if (err)
		return err;
	c.self_host = self->id;
	c.self_addr = self->addr;
	c.gue_port = htons(self->gue_port);
	c.mss_v4 = self->mtu - LB_ENCAP_OVERHEAD - 40;
	c.mss_v6 = self->mtu - LB_ENCAP_OVERHEAD - 60;
	err = config_write(dp, &c);
	/* the filter takes self_addr from lb_config (vip__sync_filters) */
	return err ?: vip__sync_filters(dp);
}

int cluster_ring__clear(const struct dataplane *dp)
{
	struct lb_config c;
	int err;

	err = config_read(dp, &c);
	if (err)
		return err;
	c.self_host = 0;
	c.self_addr = 0;
	c.gue_port = 0;
	c.mss_v4 = c.mss_v6 = 0;
	err = config_write(dp, &c);
	err = err ?: write_hosts(dp, NULL, 0);
	return err ?: vip__sync_filters(dp);
}

int cluster_ring__rebuild(const struct dataplane *dp, __u32 vip_index,
			  const struct maglev_worker *refs, size_t n,
			  size_t *moved)
{
	__u32 m = dp->cfg.ring_size, *old, *new, *changed;
	int err = -ENOMEM;

	*moved = 0;
	old = malloc(m * sizeof(*old));
	new = malloc(m * sizeof(*new));
	changed = malloc(m * sizeof(*changed));
	if (!old || !new || !changed)
		goto out;
	err = maglev__build_refs(refs, n, m, new);
	err = err ?: dataplane__ring_read(dp, vip_index, old);
	if (err)
		goto out;
	*moved = maglev__diff(old, new, m, changed);
	if (!*moved)
		goto out;
	/* Each slot that changes keeps its old ref as its second chance,
	 * written before the slot itself; a slot this change leaves alone
	 * keeps the second chance an earlier change gave it. So a flow that
	 * a first change moved (a worker host added) still finds its host
	 * after a second change (another drained) within second_chance. */
	err = dataplane__ring_write_map(dp, DP_RINGS_PREV, vip_index, old,
					changed, *moved);
	err = err ?: dataplane__ring_write(dp, vip_index, new, changed, *moved);
out:
	free(old);
	free(new);
	free(changed);
	return err;
}

int cluster_ring__hold_end(const struct dataplane *dp, __u32 vip_index)
{
	__u32 *ring = malloc(dp->cfg.ring_size * sizeof(*ring));
	int err = -ENOMEM;

	if (ring) {
		err = dataplane__ring_read(dp, vip_index, ring);
		err = err   ?:
			      dataplane__ring_write_map(dp, DP_RINGS_PREV,
							vip_index, ring, NULL,
							0);
	}
	free(ring);
	return err;
}
