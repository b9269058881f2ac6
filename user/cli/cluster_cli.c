// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* lbctl's scale-out commands (cluster_cli.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include "cluster_cli.h"
#include "cluster_ring.h"
#include "vip.h"

static int read_config(const struct dataplane *dp, struct lb_config *c)
{
	return bpf_map_lookup_elem(dp->fds[DP_CONFIG], &(__u32){ 0 }, c) ?
		       -errno :
		       0;
}

static int read_host(const struct dataplane *dp, __u32 id, struct lb_host *h)
{
	if (id >= LB_MAX_HOSTS ||
	    bpf_map_lookup_elem(dp->fds[DP_HOSTS], &id, h))
		memset(h, 0, sizeof(*h));
	return h->addr != 0;
}

void cluster_cli__print_pick(const struct dataplane *dp, __u32 ref)
{
	char ip[INET_ADDRSTRLEN] = "?";
	struct lb_config c;
	struct lb_host h;

	if (ref == LB_WORKER_NONE) {
		printf("none\n");
		return;
	}
	if (read_config(dp, &c) || !c.self_host) {
		printf("%u\n", ref);
		return;
	}
	if (read_host(dp, LB_REF_HOST(ref), &h))
		inet_ntop(AF_INET, &h.addr, ip, sizeof(ip));
	printf("worker %u on host %u (%s)%s\n", LB_REF_WORKER(ref),
	       LB_REF_HOST(ref), ip,
	       LB_REF_HOST(ref) == c.self_host ? ", this host" : "");
}

/* Per host of one ring: slots held; hosts[LB_MAX_HOSTS] for refs of no
 * host in range, and slot count of LB_WORKER_NONE. */
static void ring_shares(const __u32 *ring, __u32 m, __u32 *per_host,
			__u32 *none)
{
	__u32 s;

	memset(per_host, 0, LB_MAX_HOSTS * sizeof(*per_host));
	*none = 0;
	for (s = 0; s < m; s++) {
		if (ring[s] == LB_WORKER_NONE)
			(*none)++;
		else if (LB_REF_HOST(ring[s]) < LB_MAX_HOSTS)
			per_host[LB_REF_HOST(ring[s])]++;
	}
}

static int cluster_cli__status(struct instance *in, const struct dataplane *dp)
{
	__u32 m = dp->cfg.ring_size, *ring, *prev, per[LB_MAX_HOSTS],
	      pper[LB_MAX_HOSTS], none, pnone, s, diff, id;
	char ip[INET_ADDRSTRLEN], name[VIP_TEXT_MAX], drain[300];
	struct vip vips[LB_MAX_VIPS];
	struct lb_config c;
	struct lb_host h;
	int n, i, err;

	err = read_config(dp, &c);
	if (err)
		return err;
	if (!c.self_host) {
		printf("not clustered (no cluster: section in the agent's config)\n");
		return 0;
	}
	snprintf(drain, sizeof(drain), CLUSTER_DRAIN_FMT, in->name);
	inet_ntop(AF_INET, &c.self_addr, ip, sizeof(ip));
	printf("self: host %u (%s), GUE port %u, MSS %u/%u%s\n", c.self_host,
	       ip, ntohs(c.gue_port), c.mss_v4, c.mss_v6,
	       access(drain, F_OK) ? "" : ", draining");
	printf("%-6s %-15s %s\n", "host", "address", "roles");
	for (id = 1; id < LB_MAX_HOSTS; id++) {
		if (!read_host(dp, id, &h))
			continue;
		inet_ntop(AF_INET, &h.addr, ip, sizeof(ip));
		printf("%-6u %-15s %s%s%s\n", id, ip,
		       h.flags & LB_HOST_F_BALANCER ? "balancer" : "",
		       (h.flags & LB_HOST_F_BALANCER) &&
				       (h.flags & LB_HOST_F_WORKER) ?
			       "," :
			       "",
		       h.flags & LB_HOST_F_WORKER ? "worker" : "");
	}
	ring = malloc(m * sizeof(*ring));
	prev = malloc(m * sizeof(*prev));
	if (!ring || !prev) {
		err = -ENOMEM;
		goto out;
	}
	n = vip__list(dp, vips);
	for (i = 0; i < n; i++) {
		vip__format(&vips[i].key, name, sizeof(name));
		if (dataplane__ring_read(dp, vips[i].meta.index, ring) ||
		    dataplane__ring_read_map(dp, DP_RINGS_PREV,
					     vips[i].meta.index, prev)) {
			printf("%s: cannot read its rings\n", name);
			continue;
		}
		ring_shares(ring, m, per, &none);
		ring_shares(prev, m, pper, &pnone);
		for (s = 0, diff = 0; s < m; s++)
			diff += ring[s] != prev[s];
		printf("vip %s: %u slots differ from the second chance\n", name,
		       diff);
		for (id = 0; id < LB_MAX_HOSTS; id++)
			if (per[id] || pper[id])
				printf("  host %-4u %7u slots (%6.2f%%), second chance %7u\n",
				       id, per[id], 100.0 * per[id] / m,
				       pper[id]);
		if (none || pnone)
			printf("  none      %7u slots, second chance %7u\n",
			       none, pnone);
	}
out:
	free(ring);
	free(prev);
	return err;
}

/* The drain file: the agent reads it every heartbeat (no restart) and a
 * restarted agent still drains. */
static int cluster_cli__drain(struct instance *in, int on)
{
	char path[300];
	int fd;

	snprintf(path, sizeof(path), CLUSTER_DRAIN_FMT, in->name);
	if (!on) {
		if (unlink(path) && errno != ENOENT) {
			fprintf(stderr, "lbctl: cannot remove %s: %s\n", path,
				strerror(errno));
			return -errno;
		}
		printf("undrained: the agent announces this host again within a heartbeat\n");
		return 0;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "lbctl: cannot create %s: %s\n", path,
			strerror(errno));
		return -errno;
	}
	close(fd);
	printf("draining: the agent announces it within a heartbeat (%s)\n",
	       path);
	return 0;
}

int cluster_cli__run(struct instance *in, struct dataplane *dp, const char *cmd)
{
	if (!strcmp(cmd, "cluster drain"))
		return cluster_cli__drain(in, 1);
	if (!strcmp(cmd, "cluster undrain"))
		return cluster_cli__drain(in, 0);
	return cluster_cli__status(in, dp);
}
