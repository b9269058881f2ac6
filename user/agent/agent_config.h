/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The agent's declarative configuration (YAML, parsed with libyaml). Every
 * error is printed as FILE:LINE: reason, like nginx -t; a file with any
 * error is rejected whole, so a bad config never replaces a good one.
 */
#ifndef LB_AGENT_CONFIG_H
#define LB_AGENT_CONFIG_H

#include <sys/un.h>
#include "attach.h"
#include "cluster_config.h"
#include "flood.h"
#include "lb_kern_user.h"

#define AGENT_MAX_IFACES 16

struct agent_vip {
	struct lb_vip_key key;
	struct lb_vip_meta meta; /* index unused here; LB_VIP_F_EXCLUSIVE */
	int force; /* exclusive even while sshd listens on the address */
	int line;
};

struct agent_iface {
	char name[16];
	enum attach_mode mode;
};

#define AGENT_MAX_UIDS 16

struct agent_config {
	__u32 ring_size;
	__u32 hash_seed;
	char socket_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int nvips;
	struct agent_vip vips[LB_MAX_VIPS];
	int nifaces;
	struct agent_iface ifaces[AGENT_MAX_IFACES];
	__u32 health_interval_ms; /* 0: no active checks */
	__u32 health_timeout_ms;
	__u32 health_rise;
	__u32 health_fall;
	char metrics[64]; /* "127.0.0.1:9146", "" for none */
	struct flood_settings flood; /* the flood: section over defaults */
	/* uids besides root that may register workers (SO_PEERCRED) */
	int nregister_uids;
	__u32 register_uids[AGENT_MAX_UIDS];
	/* socket_group: who may connect to the socket (root:GROUP 0660, its
	 * directory searchable); register_uids still decides who registers */
	int socket_group_set;
	__u32 socket_gid;
	struct cluster_config cluster; /* scale-out; enabled 0: single host */
};

/* Defaults for instance 'name', then the file. 0, or -EINVAL after
 * printing every error; -errno if the file cannot be read. */
int agent_config__load(const char *path, const char *instance,
		       struct agent_config *cfg);

#endif /* LB_AGENT_CONFIG_H */
