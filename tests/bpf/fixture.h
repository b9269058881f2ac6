/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Shared set-up of the BPF tests: the real programs loaded into the real
 * kernel through user/state/dataplane.c, inside a private network namespace (so a
 * test never touches the machine's own), with two VIPs and a Maglev ring of
 * four equal workers.
 */
#ifndef LB_TEST_FIXTURE_H
#define LB_TEST_FIXTURE_H

#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "dataplane.h"
#include "lb_hash_kern_user.h"
#include "maglev.h"
#include "vip.h"

#define FX_RING 65537
#define FX_SEED 0x5eed1234u
#define FX_VIP4 "198.18.0.100"
#define FX_VIP6 "fd00:198:18::100"
#define FX_VIP4_SHARED "198.18.0.101" /* :443, shared (the default) */
#define FX_WORKERS 4

struct fixture {
	struct dataplane dp;
	__u32 ring[FX_RING];
	struct lb_vip_meta vip4, vip6, vip4_http, vip4_shared;
};

static int fx_libbpf_print(enum libbpf_print_level level, const char *fmt,
			   va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static inline void fx_addr(struct lb_addr *a, int family, const char *text)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(family == 6 ? AF_INET6 : AF_INET, text, a) != 1) {
		fprintf(stderr, "fixture: bad address '%s'\n", text);
		abort();
	}
}

static inline struct lb_vip_key fx_vip_key(int family, const char *addr,
					   uint16_t port)
{
	struct lb_vip_key k;

	memset(&k, 0, sizeof(k));
	fx_addr(&k.addr, family, addr);
	k.port = htons(port);
	k.proto = IPPROTO_TCP;
	k.family = family == 6 ? LB_FAMILY_V6 : LB_FAMILY_V4;
	return k;
}

/* Build the ring for workers 0..n-1 with the given weights; write it to
 * every VIP row in use. */
static inline int fx_set_ring(struct fixture *fx, const __u32 *weights, int n)
{
	struct maglev_worker w[LB_MAX_WORKERS];
	int i, err;

	for (i = 0; i < n; i++) {
		w[i].id = i;
		w[i].weight = weights[i];
	}
	err = maglev__build(w, n, FX_RING, fx->ring);
	if (err)
		return err;
	err = dataplane__ring_write(&fx->dp, fx->vip4.index, fx->ring, NULL, 0);
	err = err   ?:
		      dataplane__ring_write(&fx->dp, fx->vip6.index, fx->ring,
					    NULL, 0);
	err = err   ?:
		      dataplane__ring_write(&fx->dp, fx->vip4_http.index,
					    fx->ring, NULL, 0);
	err = err   ?:
		      dataplane__ring_write(&fx->dp, fx->vip4_shared.index,
					    fx->ring, NULL, 0);
	return err;
}

static inline int fx_add_vip(struct fixture *fx, int family, const char *addr,
			     uint16_t port, const struct lb_vip_meta *meta)
{
	struct vip v = { .key = fx_vip_key(family, addr, port), .meta = *meta };
	int err = vip__add(&fx->dp, &v);

	if (!err && v.meta.index != meta->index)
		err = -EINVAL;
	return err;
}

/* Flood-defence settings of lb_config (the rest kept). */
static inline int fx_set_flood(struct fixture *fx, __u32 flags, __u32 syn_rate,
			       __u32 src_rate, __u32 src_burst)
{
	struct lb_config cfg;
	__u32 zero = 0;
	int fd = fx->dp.fds[DP_CONFIG];

	if (bpf_map_lookup_elem(fd, &zero, &cfg))
		return -errno;
	cfg.flags = flags;
	cfg.flood_syn_rate = syn_rate;
	cfg.src_rate = src_rate;
	cfg.src_burst = src_burst;
	if (bpf_map_update_elem(fd, &zero, &cfg, BPF_ANY))
		return -errno;
	fx->dp.cfg = cfg;
	return 0;
}

static inline int fx_setup(struct fixture **out)
{
	static const __u32 equal[FX_WORKERS] = { 1, 1, 1, 1 };
	struct dataplane_opts opts = { .ring_size = FX_RING,
				       .hash_seed = FX_SEED };
	struct fixture *fx;
	int err;

	if (unshare(CLONE_NEWNET)) {
		fprintf(stderr,
			"fixture: unshare(CLONE_NEWNET): %s (needs root)\n",
			strerror(errno));
		return -1;
	}
	libbpf_set_print(fx_libbpf_print);
	fx = calloc(1, sizeof(*fx));
	if (!fx)
		return -1;
	err = dataplane__load(&fx->dp, &opts);
	if (err)
		goto fail;
	/* FX_VIP4 and FX_VIP6 are exclusive, as the operator must say */
	fx->vip4 = (struct lb_vip_meta){ .index = 0,
					 .v4_prefix = 32,
					 .v6_prefix = 128,
					 .flags = LB_VIP_F_EXCLUSIVE };
	fx->vip6 = (struct lb_vip_meta){ .index = 1,
					 .v4_prefix = 32,
					 .v6_prefix = 128,
					 .flags = LB_VIP_F_EXCLUSIVE };
	/* port 80 is its own VIP, served by the workers' plain listeners */
	fx->vip4_http = (struct lb_vip_meta){ .index = 2,
					      .v4_prefix = 32,
					      .v6_prefix = 128,
					      .listener = LB_LISTENER_HTTP,
					      .flags = LB_VIP_F_EXCLUSIVE };
	fx->vip4_shared = (struct lb_vip_meta){ .index = 3,
						.v4_prefix = 32,
						.v6_prefix = 128 };
	/* vip__add, as lbctl does: it keeps lb_vip_addrs in step, and
	 * gives the lowest free index, so the order sets the indices. */
	err = fx_add_vip(fx, 4, FX_VIP4, 443, &fx->vip4);
	err = err ?: fx_add_vip(fx, 6, FX_VIP6, 443, &fx->vip6);
	err = err ?: fx_add_vip(fx, 4, FX_VIP4, 80, &fx->vip4_http);
	err = err ?: fx_add_vip(fx, 4, FX_VIP4_SHARED, 443, &fx->vip4_shared);
	err = err ?: fx_set_ring(fx, equal, FX_WORKERS);
	if (err)
		goto fail;
	*out = fx;
	return 0;
fail:
	fprintf(stderr, "fixture: set-up failed: %s\n", strerror(-err));
	dataplane__destroy(&fx->dp);
	free(fx);
	return -1;
}

static inline int fx_teardown(struct fixture *fx)
{
	dataplane__destroy(&fx->dp);
	free(fx);
	return 0;
}

/* The client's slot in its VIP's ring row. */
static inline __u32 fx_slot(const struct fixture *fx, int family,
			    const char *client)
{
	const struct lb_vip_meta *vip = family == 6 ? &fx->vip6 : &fx->vip4;
	struct lb_addr a;

	fx_addr(&a, family, client);
	return lb_client_hash(&a, family == 6 ? LB_FAMILY_V6 : LB_FAMILY_V4,
			      vip, FX_SEED) %
	       FX_RING;
}

/* The worker lb_pick() must choose for this client (computed in user space
 * from the same hash and the ring we wrote). */
static inline __u32 fx_expected(const struct fixture *fx, int family,
				const char *client)
{
	const struct lb_vip_meta *vip = family == 6 ? &fx->vip6 : &fx->vip4;
	struct lb_addr a;
	__u32 h;

	fx_addr(&a, family, client);
	h = lb_client_hash(&a, family == 6 ? LB_FAMILY_V6 : LB_FAMILY_V4, vip,
			   FX_SEED);
	return fx->ring[h % FX_RING];
}

static inline __u64 fx_reason(const struct fixture *fx, __u32 reason)
{
	__u64 v = 0;

	if (dataplane__reason_sum(&fx->dp, reason, &v))
		abort();
	return v;
}

static inline void fx_reasons(const struct fixture *fx, __u64 out[LB_R_MAX])
{
	__u32 r;

	for (r = 0; r < LB_R_MAX; r++)
		out[r] = fx_reason(fx, r);
}

#endif /* LB_TEST_FIXTURE_H */
