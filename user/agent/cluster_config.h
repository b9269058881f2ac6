/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The cluster: section of the agent's YAML (docs/scaleout.md "Cluster
 * description"). Absent: enabled == 0 and nothing of scale-out runs.
 */
#ifndef LB_CLUSTER_CONFIG_H
#define LB_CLUSTER_CONFIG_H

#include <stddef.h>
#include <linux/types.h>
#include "lb_kern_user.h"

#define CLUSTER_NAME_MAX 32
#define CLUSTER_KEY_MAX 1024

struct cluster_host {
	char name[CLUSTER_NAME_MAX];
	__u32 id; /* 1..LB_MAX_HOSTS-1 */
	__be32 addr; /* underlay IPv4 */
	__u32 flags; /* LB_HOST_F_* */
	int line;
};

struct cluster_config {
	int enabled;
	int self; /* index in hosts[] */
	char key_file[256];
	__u8 key[CLUSTER_KEY_MAX];
	size_t keylen;
	__u16 membership_port;
	__u16 gue_port;
	__u32 heartbeat_ms;
	__u32 dead_after_ms;
	__u32 second_chance_ms;
	__u32 mtu;
	char announce_link[16]; /* "" for none */
	int nhosts;
	struct cluster_host hosts[LB_MAX_HOSTS];
};

struct walk;
struct yaml_node_s;

/* Parse the mapping at n into c (defaults first); errors via the walk. */
void cluster_config__parse(struct walk *w, struct yaml_node_s *n,
			   struct cluster_config *c);

/* The host of id, or NULL. */
const struct cluster_host *cluster_config__host(const struct cluster_config *c,
						__u32 id);

/* "500ms", "2s", "5m", or a bare number of ms: 0 or -EINVAL. */
int cluster_config__duration(const char *s, __u32 *ms);

#endif /* LB_CLUSTER_CONFIG_H */
