// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include "agent_cluster.h"
#include "agent_log.h"
#include "announce.h"
#include "attach.h"
#include "cluster_ring.h"
#include "vip.h"

void agent_cluster__init(struct agent_cluster *ac, struct instance *in,
			 struct dataplane *dp, const struct agent_config *cfg,
			 agent_cluster_local_fn local, void *ctx)
{
	memset(ac, 0, sizeof(*ac));
	cluster__init(&ac->cl);
	ac->in = in;
	ac->dp = dp;
	ac->cfg = cfg;
	ac->local = local;
	ac->ctx = ctx;
	ac->timer_fd = ac->ep_fd = -1;
	ac->link = -1;
	snprintf(ac->drain_path, sizeof(ac->drain_path), CLUSTER_DRAIN_FMT,
		 in->name);
}

int agent_cluster__open(struct agent_cluster *ac, int epfd, __u64 timer_ev)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = timer_ev };

	ac->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	if (ac->timer_fd < 0)
		return -errno;
	return epoll_ctl(epfd, EPOLL_CTL_ADD, ac->timer_fd, &ev) ? -errno : 0;
}

int agent_cluster__rings(struct agent_cluster *ac, int force)
{
	static struct cm_worker local[LB_MAX_WORKERS];
	struct vip vips[LB_MAX_VIPS];
	char name[VIP_TEXT_MAX];
	struct maglev_worker *refs;
	size_t n, moved;
	int nv, nl, i, err, any = 0;

	/* Until the peers had dead_after to be heard, the set would hold
	 * our workers alone: an agent restart must not empty the rings of
	 * every other host's workers. The tick builds them after that. */
	if (agent_now_ms() - ac->start_ms < ac->cl.cfg.dead_after_ms)
		return 0;
	refs = calloc(MAGLEV_MAX_REFS, sizeof(*refs));
	if (!refs || instance__lock(ac->in)) {
		free(refs);
		return 0;
	}
	nl = ac->local(ac->ctx, local);
	n = cluster__refs(&ac->cl, local, nl, refs);
	if (!force && n == ac->nrefs && ac->refs &&
	    !memcmp(refs, ac->refs, n * sizeof(*refs)))
		goto out;
	nv = vip__list(ac->dp, vips);
	for (i = 0; i < nv; i++) {
		err = cluster_ring__rebuild(ac->dp, vips[i].meta.index, refs, n,
					    &moved);
		vip__format(&vips[i].key, name, sizeof(name));
		if (err)
			agent_log("cannot rebuild the global ring of %s: %s",
				  name, strerror(-err));
		else if (moved)
			agent_log(
				"global ring of %s: %zu slots moved (%zu workers in the cluster); the ring before is the second chance",
				name, moved, n);
		any |= moved > 0;
	}
	free(ac->refs);
	ac->refs = refs;
	ac->nrefs = n;
	refs = NULL;
	if (any)
		ac->change_ms = agent_now_ms() ?: 1;
out:
	instance__unlock(ac->in);
	free(refs);
	return any;
}

/* second_chance after the last change: lb_rings_prev = lb_rings. */
static void hold_end(struct agent_cluster *ac)
{
	struct vip vips[LB_MAX_VIPS];
	int nv, i;

	if (!ac->change_ms ||
	    agent_now_ms() - ac->change_ms < ac->cl.cfg.second_chance_ms)
		return;
	if (instance__lock(ac->in))
		return;
	nv = vip__list(ac->dp, vips);
	for (i = 0; i < nv; i++)
		cluster_ring__hold_end(ac->dp, vips[i].meta.index);
	instance__unlock(ac->in);
	ac->change_ms = 0;
	agent_log(
		"cluster: second chance over: lb_rings_prev is the ring in use");
}

/* A balancer's announce link: up while not draining and XDP is on every
 * configured interface. */
void agent_cluster__link(struct agent_cluster *ac, int stopping)
{
	const struct cluster_config *c = &ac->cl.cfg;
	struct attachment at[64];
	const char *why = NULL;
	int up = 1, n, i, j, err;

	if (!cluster__on(&ac->cl) || !c->announce_link[0] ||
	    !(c->hosts[c->self].flags & LB_HOST_F_BALANCER))
		return;
	if (stopping) {
		up = 0;
		why = "the agent stops";
	} else if (ac->cl.draining) {
		up = 0;
		why = "this host drains";
	} else {
		n = attach__list(ac->in, at, 64);
		for (j = 0; j < ac->cfg->nifaces && up; j++) {
			for (i = 0; i < n; i++)
				if (!strcmp(at[i].ifname,
					    ac->cfg->ifaces[j].name))
					break;
			if (i >= n) {
				up = 0;
				why = "XDP is not attached to every interface";
			}
		}
	}
	err = announce__set(c->announce_link, up);
	if (err) {
		if (err != ac->link_err)
			agent_log(
				"cluster: cannot set announce_link '%s' %s: %s",
				c->announce_link, up ? "up" : "down",
				strerror(-err));
		ac->link_err = err;
		ac->link = -1;
		return;
	}
	ac->link_err = 0;
	if (ac->link != up)
		agent_log("cluster: announce link %s %s%s%s", c->announce_link,
			  up ? "up" : "down", why ? ": " : "", why ?: "");
	ac->link = up;
}

int agent_cluster__tick(struct agent_cluster *ac)
{
	static struct cm_worker local[LB_MAX_WORKERS];
	__u64 exp, t = agent_now_ms();
	int drain, n, moved;

	if (read(ac->timer_fd, &exp, sizeof(exp)) < 0 || !cluster__on(&ac->cl))
		return 0;
	drain = access(ac->drain_path, F_OK) == 0;
	if (drain != ac->cl.draining)
		agent_log("cluster: this host %s (%s)",
			  drain ? "drains" : "no longer drains",
			  ac->drain_path);
	ac->cl.draining = drain;
	n = ac->local(ac->ctx, local);
	cluster__announce(&ac->cl, local, n);
	/* the set comparison in rings() sees every change expire makes */
	cluster__expire(&ac->cl, t);
	cluster__log_rejects(&ac->cl, t);
	moved = agent_cluster__rings(ac, 0);
	hold_end(ac);
	agent_cluster__link(ac, 0);
	return moved;
}

int agent_cluster__event(struct agent_cluster *ac)
{
	return cluster__recv(&ac->cl, agent_now_ms()) ?
		       agent_cluster__rings(ac, 0) :
		       0;
}

static int set_timer(struct agent_cluster *ac, __u32 ms)
{
	struct itimerspec its = {
		.it_interval = { ms / 1000, (ms % 1000) * 1000000 },
		.it_value = { ms / 1000, (ms % 1000) * 1000000 },
	};

	return timerfd_settime(ac->timer_fd, 0, &its, NULL) ? -errno : 0;
}

/* Out of cluster mode: single-host rings again. */
static int leave(struct agent_cluster *ac)
{
	int err;

	/* a previous agent's cluster mode, pinned, leaves too */
	if (!cluster__on(&ac->cl) && !cluster_ring__active(ac->dp))
		return 0;
	set_timer(ac, 0);
	cluster__close(&ac->cl);
	ac->ep_fd = -1;
	free(ac->refs);
	ac->refs = NULL;
	ac->nrefs = 0;
	ac->change_ms = 0;
	if (!instance__lock(ac->in)) {
		err = cluster_ring__clear(ac->dp);
		instance__unlock(ac->in);
		if (err)
			agent_log("cannot leave cluster mode: %s",
				  strerror(-err));
	}
	agent_log("cluster: left cluster mode; rings are single-host again");
	return 0;
}

int agent_cluster__apply(struct agent_cluster *ac, int epfd, __u64 sock_ev,
			 const struct cluster_config *c)
{
	static struct cluster_ring_host hosts[LB_MAX_HOSTS];
	struct cluster_ring_self self;
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = sock_ev };
	int i, err;

	if (!c->enabled)
		return leave(ac);
	if (!cluster__on(&ac->cl))
		ac->start_ms = agent_now_ms();
	err = cluster__configure(&ac->cl, c);
	if (err)
		return err;
	if (ac->cl.fd != ac->ep_fd) {
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, ac->cl.fd, &ev))
			return -errno;
		ac->ep_fd = ac->cl.fd;
	}
	for (i = 0; i < c->nhosts; i++) {
		hosts[i].id = c->hosts[i].id;
		hosts[i].addr = c->hosts[i].addr;
		hosts[i].flags = c->hosts[i].flags;
	}
	self.id = c->hosts[c->self].id;
	self.addr = c->hosts[c->self].addr;
	self.gue_port = c->gue_port;
	self.mtu = c->mtu;
	err = instance__lock(ac->in);
	if (!err) {
		err = cluster_ring__set_hosts(ac->dp, &self, hosts, c->nhosts);
		instance__unlock(ac->in);
	}
	if (err) {
		agent_log("cannot write the cluster description: %s",
			  strerror(-err));
		return err;
	}
	ac->link = -1;
	agent_log(
		"cluster: host %s (%u) of %d, membership on port %u every %u ms",
		c->hosts[c->self].name, self.id, c->nhosts, c->membership_port,
		c->heartbeat_ms);
	return set_timer(ac, c->heartbeat_ms);
}

/*
 * A worker host's connections may come encapsulated (docs/scaleout.md
 * "MTU"): the client's segments then carry LB_ENCAP_OVERHEAD more bytes
 * on the underlay. What the client sends is bounded by the MSS of the
 * SYN-ACK, which leaves the worker host straight to the client (DSR): so
 * the listener advertises the MSS that fits (TCP_MAXSEG on a listener is
 * what its SYN-ACKs advertise, and its connections inherit it). The
 * balancer's clamp of the SYN only bounds the replies, which take no
 * tunnel.
 */
void agent_cluster__clamp_listeners(const struct agent_cluster *ac,
				    const int *fds, const __u8 *family, int n)
{
	const struct cluster_config *c = &ac->cl.cfg;
	int i, mss;

	if (!c->enabled || !(c->hosts[c->self].flags & LB_HOST_F_WORKER))
		return;
	for (i = 0; i < n; i++) {
		mss = (int)c->mtu - LB_ENCAP_OVERHEAD -
		      (family[i] == LB_FAMILY_V6 ? 60 : 40);
		if (setsockopt(fds[i], IPPROTO_TCP, TCP_MAXSEG, &mss,
			       sizeof(mss)))
			agent_log("cannot set the MSS of a listener to %d: %s",
				  mss, strerror(errno));
	}
}

void agent_cluster__close(struct agent_cluster *ac)
{
	cluster__close(&ac->cl);
	if (ac->timer_fd >= 0)
		close(ac->timer_fd);
	ac->timer_fd = -1;
	free(ac->refs);
	ac->refs = NULL;
}
