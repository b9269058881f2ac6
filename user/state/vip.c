// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "lb_hash_kern_user.h"
#include "vip.h"
#include "worker.h"

int vip__parse_addr(const char *text, struct lb_addr *addr, __u8 *family)
{
	memset(addr, 0, sizeof(*addr));
	if (inet_pton(AF_INET, text, &addr->v4) == 1) {
		*family = LB_FAMILY_V4;
		return 0;
	}
	if (inet_pton(AF_INET6, text, addr->v6) == 1) {
		*family = LB_FAMILY_V6;
		return 0;
	}
	return -EINVAL;
}

int vip__parse(const char *text, struct lb_vip_key *key)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon, *start = text;
	size_t len;
	char *end;
	long port;

	memset(key, 0, sizeof(*key));
	colon = strrchr(text, ':');
	if (!colon || colon == text)
		return -EINVAL;
	if (text[0] == '[') { /* [v6]:port */
		if (colon[-1] != ']')
			return -EINVAL;
		start = text + 1;
		len = colon - 1 - start;
	} else {
		len = colon - start;
		if (memchr(start, ':', len)) /* bare v6 needs brackets */
			return -EINVAL;
	}
	if (len == 0 || len >= sizeof(host))
		return -EINVAL;
	memcpy(host, start, len);
	host[len] = '\0';
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || port < 1 || port > 65535)
		return -EINVAL;
	if (vip__parse_addr(host, &key->addr, &key->family))
		return -EINVAL;
	key->port = htons(port);
	key->proto = IPPROTO_TCP;
	return 0;
}

void vip__format(const struct lb_vip_key *key, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (key->family == LB_FAMILY_V6) {
		inet_ntop(AF_INET6, key->addr.v6, a, sizeof(a));
		snprintf(buf, len, "[%s]:%u", a, ntohs(key->port));
	} else {
		inet_ntop(AF_INET, &key->addr.v4, a, sizeof(a));
		snprintf(buf, len, "%s:%u", a, ntohs(key->port));
	}
}

int vip__parse_listener(const char *text)
{
	if (!strcmp(text, "https"))
		return LB_LISTENER_HTTPS;
	if (!strcmp(text, "http"))
		return LB_LISTENER_HTTP;
	return -EINVAL;
}

const char *vip__listener_name(__u8 listener)
{
	return listener == LB_LISTENER_HTTP ? "http" : "https";
}

static int vip__cmp(const void *a, const void *b)
{
	const struct vip *x = a, *y = b;

	return (x->meta.index > y->meta.index) -
	       (x->meta.index < y->meta.index);
}

int vip__list(const struct dataplane *dp, struct vip *out)
{
	struct lb_vip_key key, next;
	int n = 0, started = 0;

	while (n < LB_MAX_VIPS &&
	       !bpf_map_get_next_key(dp->fds[DP_VIPS], started ? &key : NULL,
				     &next)) {
		key = next;
		started = 1;
		if (!bpf_map_lookup_elem(dp->fds[DP_VIPS], &key,
					 &out[n].meta)) {
			out[n].key = key;
			n++;
		}
	}
	qsort(out, n, sizeof(*out), vip__cmp);
	return n;
}

int vip__get(const struct dataplane *dp, const struct lb_vip_key *key,
	     struct lb_vip_meta *meta)
{
	if (bpf_map_lookup_elem(dp->fds[DP_VIPS], key, meta))
		return -errno;
	return 0;
}

/* Zero a per-CPU counters slot so a reused index starts from nothing. */
static int vip__clear_stats(const struct dataplane *dp, __u32 index)
{
	int ncpu = libbpf_num_possible_cpus(), err = 0;
	struct lb_counters *zero;

	if (ncpu < 0)
		return ncpu;
	zero = calloc(ncpu, sizeof(*zero));
	if (!zero)
		return -ENOMEM;
	if (bpf_map_update_elem(dp->fds[DP_VIP_STATS], &index, zero, BPF_ANY))
		err = -errno;
	free(zero);
	return err;
}

static int vip__clear_ring(const struct dataplane *dp, __u32 index)
{
	__u32 *none, i;
	int err;

	none = malloc(dp->cfg.ring_size * sizeof(*none));
	if (!none)
		return -ENOMEM;
	for (i = 0; i < dp->cfg.ring_size; i++)
		none[i] = LB_WORKER_NONE;
	err = dataplane__ring_write(dp, index, none, NULL, 0);
	free(none);
	return err;
}

static void vip__filter_set(__u64 *words, __u32 bit)
{
	words[bit / 64] |= 1ull << (bit % 64);
}

/*
 * lb_addr_filter from the VIPs in lb_vips and the addresses in
 * lb_vip_addrs, the cluster's self_addr, plus 'extra' (an address about to enter; NULL for none).
 * Called before an address enters and after one left, so a VIP's address
 * bit is never clear.
 */
static int vip__sync_filter(const struct dataplane *dp,
			    const struct lb_addr *extra)
{
	struct lb_addr_filter *f = calloc(1, sizeof(*f));
	struct lb_addr_key key, next;
	struct lb_config cfg;
	struct vip all[LB_MAX_VIPS];
	int started = 0, err = 0, n, i;

	if (!f)
		return -ENOMEM;
	while (!bpf_map_get_next_key(dp->fds[DP_VIP_ADDRS],
				     started ? &key : NULL, &next)) {
		key = next;
		started = 1;
		vip__filter_set(f->addrs, lb_addr_filter_bit(&key.addr));
	}
	if (extra)
		vip__filter_set(f->addrs, lb_addr_filter_bit(extra));
	/* scale-out: XDP must see the GUE packets to the host's own
	 * underlay address */
	if (!bpf_map_lookup_elem(dp->fds[DP_CONFIG], &(__u32){ 0 }, &cfg) &&
	    cfg.self_host) {
		struct lb_addr self = { .v4 = cfg.self_addr };

		vip__filter_set(f->addrs, lb_addr_filter_bit(&self));
	}
	n = vip__list(dp, all);
	for (i = 0; i < n; i++)
		vip__filter_set(f->ports, lb_port_filter_bit(&all[i].key.addr,
							     all[i].key.port));
	if (bpf_map_update_elem(dp->fds[DP_ADDR_FILTER], &(__u32){ 0 }, f,
				BPF_ANY))
		err = -errno;
	free(f);
	return err;
}

int vip__sync_filters(const struct dataplane *dp)
{
	return vip__sync_filter(dp, NULL);
}

/*
 * Rebuild the lb_vip_addrs entry of one address from its VIPs: the ports
 * served and their rows. Shared unless one of its VIPs says exclusive: an
 * address is the balancer's alone only when the operator says so (issue
 * 20). No VIP left: the entry goes, and XDP passes everything to it.
 */
static int vip__sync_addr(const struct dataplane *dp,
			  const struct lb_vip_key *of)
{
	struct lb_addr_key akey = { .addr = of->addr, .family = of->family };
	struct lb_vip_addr va = { 0 };
	struct vip all[LB_MAX_VIPS];
	int n, i, err;

	n = vip__list(dp, all);
	for (i = 0; i < n; i++) {
		if (all[i].key.family != of->family ||
		    memcmp(&all[i].key.addr, &of->addr, sizeof(of->addr)))
			continue;
		if (va.nports == LB_VIP_PORTS_MAX)
			return -ENOSPC;
		va.ports[va.nports] = all[i].key.port;
		va.index[va.nports] = all[i].meta.index;
		va.nports++;
		if (all[i].meta.flags & LB_VIP_F_EXCLUSIVE)
			va.flags |= LB_VA_EXCLUSIVE;
	}
	if (!va.nports) {
		if (bpf_map_delete_elem(dp->fds[DP_VIP_ADDRS], &akey) &&
		    errno != ENOENT)
			return -errno;
		return vip__sync_filter(dp, NULL);
	}
	err = vip__sync_filter(dp, &of->addr);
	if (!err &&
	    bpf_map_update_elem(dp->fds[DP_VIP_ADDRS], &akey, &va, BPF_ANY))
		err = -errno;
	return err;
}

/* Ports of the VIPs on key's address, key's own port not counted. */
static int vip__ports_on_addr(const struct dataplane *dp,
			      const struct lb_vip_key *key)
{
	struct vip all[LB_MAX_VIPS];
	int n, i, ports = 0;

	n = vip__list(dp, all);
	for (i = 0; i < n; i++)
		if (all[i].key.family == key->family &&
		    !memcmp(&all[i].key.addr, &key->addr, sizeof(key->addr)) &&
		    all[i].key.port != key->port)
			ports++;
	return ports;
}

int vip__add(const struct dataplane *dp, struct vip *v)
{
	struct vip all[LB_MAX_VIPS];
	char used[LB_MAX_VIPS] = { 0 };
	struct lb_vip_meta meta;
	int n, i, err;

	if (!vip__get(dp, &v->key, &meta))
		return -EEXIST;
	n = vip__list(dp, all);
	for (i = 0; i < n; i++)
		used[all[i].meta.index] = 1;
	for (i = 0; i < LB_MAX_VIPS && used[i]; i++)
		;
	if (i == LB_MAX_VIPS ||
	    vip__ports_on_addr(dp, &v->key) >= LB_VIP_PORTS_MAX)
		return -ENOSPC;
	v->meta.index = i;
	/* Ring row and counters first: the VIP becomes visible last. */
	err = vip__clear_ring(dp, i);
	err = err ?: vip__clear_stats(dp, i);
	err = err ?: worker__del_all(dp, i);
	err = err ?: dataplane__vip_set(dp, &v->key, &v->meta);
	err = err ?: vip__sync_addr(dp, &v->key);
	return err;
}

int vip__update(const struct dataplane *dp, const struct vip *v)
{
	struct lb_vip_meta meta;
	int err = vip__get(dp, &v->key, &meta);

	if (err)
		return err;
	if (meta.index != v->meta.index)
		return -EINVAL;
	err = dataplane__vip_set(dp, &v->key, &v->meta);
	return err ?: vip__sync_addr(dp, &v->key);
}

int vip__del(const struct dataplane *dp, const struct lb_vip_key *key)
{
	struct lb_vip_meta meta;
	int err = vip__get(dp, key, &meta);

	if (err)
		return err;
	/* Invisible first, so no packet sees a half-cleared VIP. */
	if (bpf_map_delete_elem(dp->fds[DP_VIPS], key))
		return -errno;
	err = vip__sync_addr(dp, key);
	err = err ?: vip__clear_ring(dp, meta.index);
	return err ?: worker__del_all(dp, meta.index);
}
