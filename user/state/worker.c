// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "worker.h"

int worker__get(const struct dataplane *dp, __u32 vip_index, __u32 id,
		struct lb_worker_state *st)
{
	struct lb_worker_key k = { .vip_index = vip_index, .worker = id };

	if (bpf_map_lookup_elem(dp->fds[DP_VIP_WORKERS], &k, st))
		return -errno;
	return 0;
}

int worker__put(const struct dataplane *dp, __u32 vip_index, __u32 id,
		const struct lb_worker_state *st)
{
	struct lb_worker_key k = { .vip_index = vip_index, .worker = id };

	if (id >= LB_MAX_WORKERS || st->weight < 1 ||
	    st->weight > LB_MAX_WEIGHT)
		return -ERANGE;
	if (bpf_map_update_elem(dp->fds[DP_VIP_WORKERS], &k, st, BPF_ANY))
		return -errno;
	return 0;
}

int worker__del(const struct dataplane *dp, __u32 vip_index, __u32 id)
{
	struct lb_worker_key k = { .vip_index = vip_index, .worker = id };

	if (bpf_map_delete_elem(dp->fds[DP_VIP_WORKERS], &k))
		return -errno;
	return 0;
}

int worker__del_all(const struct dataplane *dp, __u32 vip_index)
{
	__u32 id;

	for (id = 0; id < LB_MAX_WORKERS; id++) {
		int err = worker__del(dp, vip_index, id);

		if (err && err != -ENOENT)
			return err;
	}
	return 0;
}

int worker__has_socket(const struct dataplane *dp, __u8 listener, __u8 family,
		       __u32 id)
{
	__u32 slot = LB_SOCKET_SLOT(listener, family, id);
	__u64 cookie;

	return !bpf_map_lookup_elem(dp->fds[DP_SOCKETS], &slot, &cookie);
}

static int worker__cmp(const void *a, const void *b)
{
	const struct worker *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

int worker__list(const struct dataplane *dp, const struct lb_vip_meta *vip,
		 __u8 family, const __u32 *ring, struct worker *out)
{
	struct lb_worker_key key, next;
	int n = 0, started = 0, i;
	struct lb_config cfg;
	__u32 s, self = 0;

	while (n < LB_MAX_WORKERS &&
	       !bpf_map_get_next_key(dp->fds[DP_VIP_WORKERS],
				     started ? &key : NULL, &next)) {
		key = next;
		started = 1;
		if (key.vip_index != vip->index ||
		    bpf_map_lookup_elem(dp->fds[DP_VIP_WORKERS], &key,
					&out[n].st))
			continue;
		out[n].id = key.worker;
		out[n].has_socket = worker__has_socket(dp, vip->listener,
						       family, key.worker);
		out[n].slots = 0;
		n++;
	}
	qsort(out, n, sizeof(*out), worker__cmp);
	/* a clustered ring holds refs: ours are LB_REF(self_host, id) */
	if (ring &&
	    !bpf_map_lookup_elem(dp->fds[DP_CONFIG], &(__u32){ 0 }, &cfg))
		self = cfg.self_host;
	for (s = 0; ring && s < dp->cfg.ring_size; s++)
		for (i = 0; i < n; i++)
			if ((self ? LB_REF(self, out[i].id) : out[i].id) ==
			    ring[s]) {
				out[i].slots++;
				break;
			}
	return n;
}
