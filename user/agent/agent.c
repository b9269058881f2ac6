// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * lbctl agent: applies a declarative config to the pinned state, takes
 * worker registrations (include/lb_proto.h), health-checks the workers and
 * serves /metrics. One thread, one epoll loop. All state that matters is in
 * the pinned maps: the agent may be killed and restarted at any time, and
 * workers re-register with it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <bpf/bpf.h>
#include "agent.h"
#include "agent_cluster.h"
#include "agent_config.h"
#include "agent_log.h"
#include "agent_metrics.h"
#include "agent_cookies.h"
#include "agent_shield.h"
#include "health.h"
#include "lb_proto.h"
#include "sshd.h"
#include "stats.h"
#include "vip.h"
#include "ring.h"
#include "worker.h"

enum ev_kind {
	EV_LISTEN = 1,
	EV_SIGNAL,
	EV_TIMER,
	EV_METRICS,
	EV_METRICS_CONN,
	EV_CONN,
	EV_PROBE,
	EV_CLUSTER, /* membership datagrams */
	EV_CLUSTER_TIMER /* the heartbeat */
};

#define EV(kind, id) (((__u64)(kind) << 32) | (__u32)(id))

struct agent_worker {
	int conn; /* registration connection; -1: not registered */
	/* The peer that holds the id while conn lives (SO_PEERCRED; pid 0
	 * when it is in another pid namespace) and the SO_COOKIEs of the
	 * sockets it sent: who may replace it (agent__may_replace). */
	uid_t uid;
	pid_t pid;
	__u64 cookie[LB_MAX_LISTENERS];
	__u32 weight;
	int nlisteners;
	__u8 listener[LB_MAX_LISTENERS];
	__u8 family[LB_MAX_LISTENERS];
	struct sockaddr_storage addr[LB_MAX_LISTENERS]; /* bound to, probed */
	struct probe probe;
	int ok_streak, fail_streak;
	int down;
};

/*
 * Connections that hold no worker id (not registered yet, or replaced by a
 * successor): at most AGENT_MAX_PENDING, each closed AGENT_FIRST_MSG_MS
 * after it came unless it registers. lbtls sends its registration with its
 * connect, before the agent accepts, so a real worker never waits here.
 * When the table is full the oldest gives way: a peer that hoards idle
 * connections must then outrun every connect, whereas refusing the newest
 * would let 64 idle connections keep every worker out.
 */
#define AGENT_MAX_PENDING 64
#define AGENT_FIRST_MSG_MS 2000

struct agent_pending {
	int fd;
	__u64 deadline_ms;
};

struct agent {
	struct instance *in;
	const char *config_path;
	struct agent_config cfg;
	struct dataplane dp;
	int epfd, listen_fd, sig_fd, timer_fd;
	struct metrics_server metrics;
	SSL_CTX *probe_ctx;
	__u64 generation; /* ring rebuilds, for /metrics */
	__u64 netns_cookie; /* of the namespace workers' sockets must be in */
	struct agent_cookies cookies; /* sysctls and interfaces vs cookies */
	struct agent_worker w[LB_MAX_WORKERS];
	struct agent_pending pending[AGENT_MAX_PENDING]; /* oldest first */
	int npending;
	__u64 idle_closed, idle_reported, idle_logged_ms;
	int stop;
	struct agent_cluster cl; /* scale-out */
};

static int ep_add(struct agent *a, int fd, __u32 events, __u64 data)
{
	struct epoll_event ev = { .events = events, .data.u64 = data };

	return epoll_ctl(a->epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

/* Rebuild every VIP's ring; called after any change of workers. Holds the
 * instance lock so lbctl commands do not interleave. */
static void agent__rebuild_all(struct agent *a)
{
	struct vip vips[LB_MAX_VIPS];
	char name[VIP_TEXT_MAX];
	size_t moved;
	int n, i, err;

	if (agent_cluster__on(&a->cl)) {
		if (agent_cluster__rings(&a->cl, 1))
			a->generation++;
		return;
	}
	if (instance__lock(a->in))
		return;
	n = vip__list(&a->dp, vips);
	for (i = 0; i < n; i++) {
		err = ring__rebuild(&a->dp, &vips[i].meta, vips[i].key.family,
				    &moved);
		vip__format(&vips[i].key, name, sizeof(name));
		if (err)
			agent_log("cannot rebuild the ring of %s: %s", name,
				  strerror(-err));
		else if (moved)
			agent_log("ring of %s: %zu slots moved", name, moved);
	}
	a->generation++;
	instance__unlock(a->in);
}

/*
 * An exclusive VIP whose address sshd listens on is served shared, with a
 * log line that says why: XDP would drop the operator's SSH (issue 20).
 * The next reload asks again; force: true skips the question.
 */
static void agent__check_exclusive(struct agent *a, const struct agent_vip *cv,
				   struct vip *v)
{
	char name[VIP_TEXT_MAX], what[160];
	struct sshd_listener l;
	int rc;

	if (!(v->meta.flags & LB_VIP_F_EXCLUSIVE) || cv->force)
		return;
	rc = sshd__find(&v->key.addr, v->key.family, &l);
	if (rc == 0)
		return;
	vip__format(&v->key, name, sizeof(name));
	if (rc < 0)
		snprintf(what, sizeof(what),
			 "the listening sockets cannot be read (%s)",
			 strerror(-rc));
	else
		sshd__describe(&l, what, sizeof(what));
	agent_log(
		"%s:%d: VIP %s served shared, not exclusive: %s; move sshd off the address, or set 'force: true'",
		a->config_path, cv->line, name, what);
	v->meta.flags &= ~LB_VIP_F_EXCLUSIVE;
}

/* Make lb_vips what the config says; new VIPs get every live worker. */
static int agent__apply_vips(struct agent *a)
{
	struct vip have[LB_MAX_VIPS], v;
	struct lb_vip_meta cur;
	char name[VIP_TEXT_MAX];
	int n, i, j, err = 0;

	err = instance__lock(a->in);
	if (err)
		return err;
	n = vip__list(&a->dp, have);
	for (i = 0; i < n; i++) { /* gone from the config */
		for (j = 0; j < a->cfg.nvips; j++)
			if (!memcmp(&have[i].key, &a->cfg.vips[j].key,
				    sizeof(have[i].key)))
				break;
		if (j == a->cfg.nvips) {
			vip__format(&have[i].key, name, sizeof(name));
			agent_log("removing VIP %s (not in the config)", name);
			vip__del(&a->dp, &have[i].key);
		}
	}
	for (j = 0; j < a->cfg.nvips && !err; j++) {
		v.key = a->cfg.vips[j].key;
		v.meta = a->cfg.vips[j].meta;
		agent__check_exclusive(a, &a->cfg.vips[j], &v);
		vip__format(&v.key, name, sizeof(name));
		if (!vip__get(&a->dp, &v.key, &cur)) {
			v.meta.index = cur.index;
			/* the config wins over an earlier 'lbctl vip add';
			 * say so rather than change it silently */
			if ((cur.flags ^ v.meta.flags) & LB_VIP_F_EXCLUSIVE)
				agent_log("VIP %s: %s, as %s:%d says", name,
					  v.meta.flags & LB_VIP_F_EXCLUSIVE ?
						  "exclusive" :
						  "shared",
					  a->config_path, a->cfg.vips[j].line);
			err = vip__update(&a->dp, &v);
		} else {
			err = vip__add(&a->dp, &v);
			if (!err)
				agent_log("added VIP %s", name);
		}
		for (i = 0; i < LB_MAX_WORKERS && !err; i++) {
			struct lb_worker_state st = { .weight =
							      a->w[i].weight };

			if (a->w[i].conn < 0 ||
			    !worker__get(&a->dp, v.meta.index, i, &st))
				continue;
			err = worker__put(&a->dp, v.meta.index, i, &st);
		}
		if (err)
			agent_log("cannot apply VIP %s: %s", name,
				  strerror(-err));
	}
	instance__unlock(a->in);
	return err;
}

static int agent__apply_ifaces(struct agent *a)
{
	struct attachment at[64];
	enum attach_mode used;
	int n, i, j, err = 0;

	n = attach__list(a->in, at, 64);
	for (j = 0; j < a->cfg.nifaces; j++) {
		for (i = 0; i < n; i++)
			if (!strcmp(at[i].ifname, a->cfg.ifaces[j].name))
				break;
		if (i < n)
			continue; /* attached already */
		err = attach__xdp(a->in, a->cfg.ifaces[j].name,
				  a->cfg.ifaces[j].mode, &used);
		if (err)
			return err;
		agent_log("attached XDP to %s (%s)", a->cfg.ifaces[j].name,
			  used == ATTACH_NATIVE ? "native" : "generic");
	}
	return 0;
}

/* Every VIP's entry for worker id: weight and whether it is down. */
static void agent__put_worker(struct agent *a, __u32 id)
{
	struct vip vips[LB_MAX_VIPS];
	struct lb_worker_state st;
	int n, i;

	if (instance__lock(a->in))
		return;
	n = vip__list(&a->dp, vips);
	for (i = 0; i < n; i++) {
		if (worker__get(&a->dp, vips[i].meta.index, id, &st))
			st.flags =
				0; /* new here; drain state is the operator's */
		st.weight = a->w[id].weight;
		st.flags = a->w[id].down ? st.flags | LB_WF_DOWN :
					   st.flags & ~LB_WF_DOWN;
		worker__put(&a->dp, vips[i].meta.index, id, &st);
	}
	instance__unlock(a->in);
}

static void agent__reply(int conn, int status, const char *msg)
{
	struct lb_register_reply r = { .magic = LB_PROTO_MAGIC,
				       .status = status };

	snprintf(r.message, sizeof(r.message), "%s", msg);
	if (send(conn, &r, sizeof(r), MSG_NOSIGNAL) < 0)
		agent_log("cannot answer a registration: %s", strerror(errno));
}

static int netns_cookie(int fd, __u64 *cookie)
{
	socklen_t len = sizeof(*cookie);

	return getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, cookie, &len) ?
		       -errno :
		       0;
}

/* Only root and the configured uids may put sockets in the SOCKMAP. */
static int agent__check_peer(const struct agent *a, int conn, struct ucred *uc,
			     char *why, size_t len)
{
	socklen_t ul = sizeof(*uc);
	int i;

	if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, uc, &ul)) {
		snprintf(why, len, "cannot read the peer's credentials: %s",
			 strerror(errno));
		return -EACCES;
	}
	if (uc->uid == 0)
		return 0;
	for (i = 0; i < a->cfg.nregister_uids; i++)
		if (a->cfg.register_uids[i] == uc->uid)
			return 0;
	snprintf(why, len,
		 "peer pid %d uid %u is not root nor in register_uids",
		 (int)uc->pid, (unsigned)uc->uid);
	return -EPERM;
}

/* 127.0.0.0/8 or ::1: nothing reaches the socket from the network but
 * what sk_lookup steers there (drain, weights and XDP's filters hold). */
static int agent__loopback(const struct sockaddr_storage *ss)
{
	const struct sockaddr_in *s4 = (const void *)ss;
	const struct sockaddr_in6 *s6 = (const void *)ss;

	if (ss->ss_family == AF_INET)
		return ntohl(s4->sin_addr.s_addr) >> 24 == 127;
	return IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr);
}

static void agent__format_addr(const struct sockaddr_storage *ss, char *buf,
			       size_t len)
{
	const struct sockaddr_in *s4 = (const void *)ss;
	const struct sockaddr_in6 *s6 = (const void *)ss;
	char ip[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET) {
		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, ntohs(s4->sin_port));
	} else {
		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%u", ip, ntohs(s6->sin6_port));
	}
}

/*
 * A socket sent for slot (listener, family) must be a listening TCP socket
 * of that family: sk_lookup assigns a connection only to a socket of its
 * own family, and anything else in the SOCKMAP would swallow connections.
 */
static int agent__check_socket(const struct agent *a, int fd, __u8 listener,
			       __u8 family, struct sockaddr_storage *addr,
			       char *why, size_t len)
{
	int want = family == LB_FAMILY_V6 ? AF_INET6 : AF_INET, on = 0,
	    proto = 0;
	socklen_t ol = sizeof(int), sl = sizeof(*addr);
	__u64 ns = 0;

	if (listener >= LB_LISTENER_KINDS ||
	    (family != LB_FAMILY_V4 && family != LB_FAMILY_V6)) {
		snprintf(why, len, "unknown listener %u or family %u", listener,
			 family);
		return -EINVAL;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &ol) ||
	    proto != IPPROTO_TCP) {
		snprintf(why, len, "%s IPv%u socket is not TCP",
			 vip__listener_name(listener), family);
		return -EINVAL;
	}
	ol = sizeof(int);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &ol) || !on) {
		snprintf(why, len, "%s IPv%u socket is not listening",
			 vip__listener_name(listener), family);
		return -EINVAL;
	}
	if (getsockname(fd, (struct sockaddr *)addr, &sl) ||
	    addr->ss_family != want) {
		snprintf(why, len,
			 "%s socket sent for IPv%u is not an IPv%u socket",
			 vip__listener_name(listener), family, family);
		return -EINVAL;
	}
	if (!agent__loopback(addr)) {
		char text[INET6_ADDRSTRLEN + 8];

		agent__format_addr(addr, text, sizeof(text));
		snprintf(why, len,
			 "%s IPv%u socket is bound to %s, not loopback",
			 vip__listener_name(listener), family, text);
		return -EINVAL;
	}
	/* sk_lookup runs in the agent's namespace: a socket of another
	 * would never see a connection */
	if (netns_cookie(fd, &ns) || ns != a->netns_cookie) {
		snprintf(why, len,
			 "%s IPv%u socket is in another network namespace",
			 vip__listener_name(listener), family);
		return -EINVAL;
	}
	return 0;
}

/* Worker id's slots that registration r leaves out: after a reload with
 * fewer listeners, or an agent restart, none may keep a stale socket. */
static void agent__drop_left_out(struct agent *a, const struct lb_register *r,
				 int nfds)
{
	static const __u8 families[2] = { LB_FAMILY_V4, LB_FAMILY_V6 };
	__u8 kind;
	int f, j;

	for (kind = 0; kind < LB_LISTENER_KINDS; kind++)
		for (f = 0; f < 2; f++) {
			__u32 slot =
				LB_SOCKET_SLOT(kind, families[f], r->worker);

			for (j = 0; j < nfds; j++)
				if (r->listener[j] == kind &&
				    r->family[j] == families[f])
					break;
			if (j == nfds)
				bpf_map_delete_elem(a->dp.fds[DP_SOCKETS],
						    &slot);
		}
}

/* Its peer closed it, though the agent has not seen the event yet. */
static int agent__conn_gone(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLRDHUP };

	return poll(&p, 1, 0) > 0 &&
	       (p.revents & (POLLHUP | POLLRDHUP | POLLERR | POLLNVAL));
}

/*
 * A worker id belongs to the peer that registered it while that peer's
 * connection lives. Only its successor may replace it: the same uid, and
 * holding one of the very sockets the holder sent (same SO_COOKIE). That
 * is an lbtls reload or respawn, whose master hands each new worker the
 * listeners of its slot; pids cannot say so across the pid namespaces of
 * containers, and anyone else would need the holder's file descriptors.
 */
static int agent__may_replace(const struct agent_worker *w,
			      const struct ucred *uc, const __u64 *cookie,
			      int nfds)
{
	int i, j;

	if (uc->uid != w->uid)
		return 0;
	for (i = 0; i < nfds; i++)
		for (j = 0; j < w->nlisteners; j++)
			if (cookie[i] == w->cookie[j])
				return 1;
	return 0;
}

static int agent__pending_find(const struct agent *a, int fd);
static void agent__pending_del(struct agent *a, int i);
static void agent__pending_add(struct agent *a, int fd);

/* One registration message; replies, and returns 0 if the worker is in,
 * -EAGAIN if there was none to read after all. */
static int agent__register(struct agent *a, int conn)
{
	char cbuf[CMSG_SPACE(sizeof(int) * LB_MAX_LISTENERS)];
	int fds[LB_MAX_LISTENERS], nfds = 0, i, j, err = -EINVAL;
	struct lb_register r = { 0 };
	struct iovec iov = { &r, sizeof(r) };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct sockaddr_storage addrs[LB_MAX_LISTENERS];
	__u64 cookie[LB_MAX_LISTENERS];
	struct agent_worker *w = NULL;
	struct ucred uc;
	struct cmsghdr *cm;
	char why[sizeof(((struct lb_register_reply *)0)->message)] =
		"malformed registration";
	socklen_t cl;
	ssize_t n;

	n = recvmsg(conn, &mh, MSG_CMSG_CLOEXEC);
	if (n <= 0)
		return n == 0 ? -ECONNRESET : -errno;
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
			for (i = 0; i < (int)((cm->cmsg_len - CMSG_LEN(0)) /
					      sizeof(int));
			     i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int),
				       sizeof(int));
				if (nfds < LB_MAX_LISTENERS)
					fds[nfds++] = fd;
				else
					close(fd);
			}
	err = agent__check_peer(a, conn, &uc, why, sizeof(why));
	if (err)
		goto out;
	err = -EINVAL;
	if (n != sizeof(r) || r.magic != LB_PROTO_MAGIC ||
	    r.version != LB_PROTO_VERSION)
		goto out;
	if (r.worker >= LB_MAX_WORKERS) {
		snprintf(why, sizeof(why), "worker id out of range");
		goto out;
	}
	if (r.weight < 1 || r.weight > LB_MAX_WEIGHT) {
		snprintf(why, sizeof(why), "weight out of range 1..256");
		goto out;
	}
	if (r.nfds < 1 || r.nfds != nfds) {
		snprintf(why, sizeof(why),
			 "listener count does not match the sockets sent");
		goto out;
	}
	w = &a->w[r.worker];
	for (i = 0; i < nfds; i++) {
		if (agent__check_socket(a, fds[i], r.listener[i], r.family[i],
					&addrs[i], why, sizeof(why)))
			goto out;
		for (j = 0; j < i; j++)
			if (r.listener[i] == r.listener[j] &&
			    r.family[i] == r.family[j]) {
				snprintf(why, sizeof(why),
					 "two %s IPv%u sockets",
					 vip__listener_name(r.listener[i]),
					 r.family[i]);
				goto out;
			}
		cl = sizeof(cookie[i]);
		if (getsockopt(fds[i], SOL_SOCKET, SO_COOKIE, &cookie[i],
			       &cl)) {
			snprintf(why, sizeof(why),
				 "cannot read a socket's cookie");
			goto out;
		}
	}
	if (w->conn >= 0 && w->conn != conn &&
	    !agent__may_replace(w, &uc, cookie, nfds) &&
	    !agent__conn_gone(w->conn)) {
		snprintf(why, sizeof(why),
			 "worker %u is held by pid %d uid %u; only a process "
			 "with its sockets and uid may replace it",
			 r.worker, (int)w->pid, (unsigned)w->uid);
		err = -EBUSY;
		goto out;
	}
	agent_cluster__clamp_listeners(&a->cl, fds, r.family, nfds);
	err = instance__lock(a->in);
	if (!err)
		agent__drop_left_out(a, &r, nfds);
	for (i = 0; i < nfds && !err; i++) {
		__u32 slot =
			LB_SOCKET_SLOT(r.listener[i], r.family[i], r.worker);
		__u64 value = fds[i];

		if (bpf_map_update_elem(a->dp.fds[DP_SOCKETS], &slot, &value,
					BPF_ANY)) {
			err = -errno;
			snprintf(
				why, sizeof(why),
				"the kernel refused the socket for the SOCKMAP");
		}
	}
	instance__unlock(a->in);
	if (err)
		goto out;
	/* A successor takes the id over (a reloaded or respawned worker while
	 * its predecessor drains): the older connection holds nothing now and
	 * waits with the unregistered ones, whose deadline closes it. */
	if (w->conn >= 0 && w->conn != conn) {
		agent_log(
			"worker %u registered again by pid %d: replacing the connection of pid %d",
			r.worker, (int)uc.pid, (int)w->pid);
		agent__pending_add(a, w->conn);
	}
	i = agent__pending_find(a, conn);
	if (i >= 0)
		agent__pending_del(a, i);
	w->conn = conn;
	w->uid = uc.uid;
	w->pid = uc.pid;
	memcpy(w->cookie, cookie, sizeof(cookie[0]) * nfds);
	w->weight = r.weight;
	w->nlisteners = nfds;
	memcpy(w->listener, r.listener, sizeof(w->listener));
	memcpy(w->family, r.family, sizeof(w->family));
	memcpy(w->addr, addrs, sizeof(w->addr));
	w->down = 0;
	w->ok_streak = w->fail_streak = 0;
	agent__put_worker(a, r.worker);
	agent__rebuild_all(a);
	agent_log("worker %u registered (weight %u, %d listener%s)", r.worker,
		  r.weight, nfds, nfds > 1 ? "s" : "");
out:
	for (i = 0; i < nfds; i++) /* the SOCKMAP holds its own reference */
		close(fds[i]);
	if (err) {
		agent_log("registration of worker %u refused: %s", r.worker,
			  why);
		agent__reply(conn, err, why);
		return err;
	}
	agent__reply(conn, 0, "registered");
	return 0;
}

/* The worker's connection closed: it is gone; take it out at once. */
static void agent__unregister(struct agent *a, __u32 id)
{
	struct agent_worker *w = &a->w[id];
	int i;

	if (instance__lock(a->in) == 0) {
		for (i = 0; i < w->nlisteners; i++) {
			__u32 slot = LB_SOCKET_SLOT(w->listener[i],
						    w->family[i], id);

			bpf_map_delete_elem(a->dp.fds[DP_SOCKETS], &slot);
		}
		instance__unlock(a->in);
	}
	probe__stop(&w->probe);
	close(w->conn);
	w->conn = -1;
	w->nlisteners = 0;
	agent__rebuild_all(a);
	agent_log("worker %u left: out of every ring", id);
}

static void agent__close_conn(struct agent *a, int fd)
{
	epoll_ctl(a->epfd, EPOLL_CTL_DEL, fd, NULL);
	close(fd);
}

static int agent__pending_find(const struct agent *a, int fd)
{
	int i;

	for (i = 0; i < a->npending; i++)
		if (a->pending[i].fd == fd)
			return i;
	return -1;
}

static void agent__pending_del(struct agent *a, int i)
{
	memmove(&a->pending[i], &a->pending[i + 1],
		(a->npending - i - 1) * sizeof(a->pending[0]));
	a->npending--;
}

static void agent__pending_add(struct agent *a, int fd)
{
	if (a->npending == AGENT_MAX_PENDING) {
		agent__close_conn(a, a->pending[0].fd);
		agent__pending_del(a, 0);
		a->idle_closed++;
	}
	a->pending[a->npending].fd = fd;
	a->pending[a->npending++].deadline_ms =
		agent_now_ms() + AGENT_FIRST_MSG_MS;
}

/* Close those past their deadline; say how many went, once a second. */
static void agent__pending_expire(struct agent *a)
{
	__u64 t = agent_now_ms();

	while (a->npending && a->pending[0].deadline_ms <= t) {
		agent__close_conn(a, a->pending[0].fd);
		agent__pending_del(a, 0);
		a->idle_closed++;
	}
	if (a->idle_closed == a->idle_reported || t < a->idle_logged_ms + 1000)
		return;
	agent_log(
		"closed %llu connection(s) holding no worker id: no registration within %d ms, or more than %d waiting",
		(unsigned long long)(a->idle_closed - a->idle_reported),
		AGENT_FIRST_MSG_MS, AGENT_MAX_PENDING);
	a->idle_reported = a->idle_closed;
	a->idle_logged_ms = t;
}

/* epoll_wait's timeout: the sooner of 'other', the first deadline and
 * the next report of closes. */
static int agent__pending_timeout(const struct agent *a, int other)
{
	__u64 t = agent_now_ms(), d;
	int ms;

	if (a->idle_closed != a->idle_reported)
		other = other < 0 || other > 1000 ? 1000 : other;
	if (!a->npending)
		return other;
	d = a->pending[0].deadline_ms;
	ms = d > t ? (int)(d - t) : 0;
	return other < 0 || ms < other ? ms : other;
}

static void agent__accept(struct agent *a)
{
	int i, conn;

	for (i = 0; i < AGENT_MAX_PENDING; i++) { /* then the next events */
		conn = accept4(a->listen_fd, NULL, NULL,
			       SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (conn < 0)
			return;
		/* The id is unknown until the message: key events by fd. */
		if (ep_add(a, conn, EPOLLIN | EPOLLRDHUP, EV(EV_CONN, conn))) {
			close(conn);
			continue;
		}
		agent__pending_add(a, conn);
	}
}

static int agent__worker_of_conn(struct agent *a, int conn)
{
	int i;

	for (i = 0; i < LB_MAX_WORKERS; i++)
		if (a->w[i].conn == conn)
			return i;
	return -1;
}

static void agent__conn_event(struct agent *a, int conn, __u32 events)
{
	int id = agent__worker_of_conn(a, conn), p, err;

	if (id < 0 && agent__pending_find(a, conn) < 0)
		return; /* closed earlier in this round of events */
	if (id < 0 && (events & EPOLLIN) && !(events & EPOLLHUP)) {
		err = agent__register(a, conn);
		if (err == 0 || err == -EAGAIN)
			return;
	} else if (id >= 0 && !(events & (EPOLLHUP | EPOLLRDHUP | EPOLLERR))) {
		char buf[64]; /* nothing more is expected: drain it */

		if (recv(conn, buf, sizeof(buf), 0) > 0)
			return;
	}
	epoll_ctl(a->epfd, EPOLL_CTL_DEL, conn, NULL);
	if (id >= 0) {
		agent__unregister(a, id);
		return;
	}
	p = agent__pending_find(a, conn);
	if (p >= 0)
		agent__pending_del(a, p);
	close(conn);
}

/* --- health ---------------------------------------------------------- */

static void agent__probe_done(struct agent *a, __u32 id, int ok)
{
	struct agent_worker *w = &a->w[id];
	int was_down = w->down;

	epoll_ctl(a->epfd, EPOLL_CTL_DEL, w->probe.fd, NULL);
	probe__stop(&w->probe);
	if (ok) {
		w->fail_streak = 0;
		if (++w->ok_streak >= (int)a->cfg.health_rise)
			w->down = 0;
	} else {
		w->ok_streak = 0;
		if (++w->fail_streak >= (int)a->cfg.health_fall)
			w->down = 1;
	}
	if (w->down != was_down) {
		agent_log("worker %u is %s", id, w->down ? "DOWN" : "up again");
		agent__put_worker(a, id);
		agent__rebuild_all(a);
	}
}

static void agent__probe_event(struct agent *a, __u32 id)
{
	struct agent_worker *w = &a->w[id];
	struct epoll_event ev;
	enum probe_result r;

	if (w->probe.fd < 0)
		return;
	r = probe__step(&w->probe);
	if (r != PROBE_PENDING) {
		agent__probe_done(a, id, r == PROBE_OK);
		return;
	}
	ev.events = w->probe.wants;
	ev.data.u64 = EV(EV_PROBE, id);
	epoll_ctl(a->epfd, EPOLL_CTL_MOD, w->probe.fd, &ev);
}

/* Each tick: time out probes still running, start the next ones. */
static void agent__tick(struct agent *a)
{
	__u64 t = agent_now_ms(), exp;
	int i, j;

	if (read(a->timer_fd, &exp, sizeof(exp)) < 0)
		return;
	agent_cookies__sync(&a->cookies, a->in, &a->dp);
	agent_cookies__check_ifaces(a->in, &a->cfg);
	for (i = 0; i < LB_MAX_WORKERS; i++) {
		struct agent_worker *w = &a->w[i];
		int https = -1;

		if (w->conn < 0)
			continue;
		if (w->probe.fd >= 0) {
			if (t >= w->probe.deadline_ms)
				agent__probe_done(a, i, 0);
			continue;
		}
		for (j = w->nlisteners - 1; j >= 0; j--)
			if (w->listener[j] == LB_LISTENER_HTTPS)
				https = j;
		j = https >= 0 ? https : 0;
		if (probe__start(&w->probe, a->probe_ctx, &w->addr[j],
				 https >= 0, t + a->cfg.health_timeout_ms) ||
		    ep_add(a, w->probe.fd, w->probe.wants, EV(EV_PROBE, i)))
			agent__probe_done(a, i, 0);
	}
}

/* --- scale-out -------------------------------------------------------- */

/* Live local workers, the rule ring.c applies: registered, up, with a
 * socket, drained on no VIP. One set for every VIP: all hosts must build
 * the same ring, and they know our workers only from this list. */
static int agent__local_workers(void *ctx, struct cm_worker *out)
{
	struct agent *a = ctx;
	struct vip vips[LB_MAX_VIPS];
	struct lb_worker_state st;
	int n = 0, nv, i, j;

	nv = vip__list(&a->dp, vips);
	for (i = 0; i < LB_MAX_WORKERS; i++) {
		const struct agent_worker *w = &a->w[i];

		if (w->conn < 0 || w->down || !w->nlisteners)
			continue;
		for (j = 0; j < nv; j++)
			if (!worker__get(&a->dp, vips[j].meta.index, i, &st) &&
			    (st.flags & LB_WF_DRAINED))
				break;
		if (j < nv)
			continue;
		out[n].id = i;
		out[n++].weight = w->weight;
	}
	return n;
}

/* --- metrics ----------------------------------------------------------- */

/* The Prometheus text: the pinned counters and the agent's own state. */
static void agent__render_metrics(void *ctx, FILE *f)
{
	struct agent *a = ctx;
	struct stats *s = calloc(1, sizeof(*s));
	int i;

	if (s && !stats__read(&a->dp, s))
		stats__print_prometheus(f, s);
	free(s);
	agent_cookies__metrics(&a->cookies, a->in, &a->cfg, &a->dp, f);
	cluster__metrics(&a->cl.cl, f);
	fprintf(f,
		"# HELP lb_ring_generation Ring rebuilds since the agent started.\n"
		"# TYPE lb_ring_generation counter\nlb_ring_generation %llu\n",
		(unsigned long long)a->generation);
	fprintf(f,
		"# HELP lb_worker_up Registered worker passing its health checks.\n"
		"# TYPE lb_worker_up gauge\n");
	for (i = 0; i < LB_MAX_WORKERS; i++)
		if (a->w[i].conn >= 0)
			fprintf(f, "lb_worker_up{worker=\"%d\"} %d\n", i,
				!a->w[i].down);
}

/* --- set-up and the loop ------------------------------------------------- */

static int listen_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(path); /* a previous agent's */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || chmod(path, 0660) ||
	    listen(fd, 64)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/*
 * Who may connect to the socket: root only (root:root 0660 in /run/lbctl,
 * 0700), or with socket_group: root:GROUP 0660, and its directory made
 * searchable by others (o+x: search, not list) so that an unprivileged
 * worker (lbtls's user:) in that group reaches it. Applied at start and
 * on every reload. Connecting is not registering: SO_PEERCRED against
 * register_uids (agent__check_peer) still decides who registers.
 */
static void agent__socket_access(const struct agent_config *c)
{
	char dir[sizeof(c->socket_path)], *slash;
	gid_t gid = c->socket_group_set ? c->socket_gid : getegid();
	struct stat st;

	if (chown(c->socket_path, -1, gid) || chmod(c->socket_path, 0660)) {
		agent_log("cannot give %s to group %u: %s", c->socket_path,
			  (unsigned)gid, strerror(errno));
		return;
	}
	if (!c->socket_group_set)
		return;
	snprintf(dir, sizeof(dir), "%s", c->socket_path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return;
	*slash = 0;
	if (stat(dir, &st)) {
		agent_log("cannot stat %s: %s", dir, strerror(errno));
		return;
	}
	if ((st.st_mode & S_IXOTH) && (st.st_mode & S_IXGRP))
		return;
	if (chmod(dir, (st.st_mode & 07777) | S_IXGRP | S_IXOTH)) {
		agent_log("cannot make %s searchable for socket_group %u: %s",
			  dir, (unsigned)gid, strerror(errno));
		return;
	}
	agent_log(
		"made %s searchable (%04o) for socket_group %u; the socket is root:%u 0660",
		dir, (unsigned)((st.st_mode & 07777) | S_IXGRP | S_IXOTH),
		(unsigned)gid, (unsigned)gid);
}

static int agent__arm_timer(struct agent *a)
{
	__u32 ms = a->cfg.health_interval_ms;
	struct itimerspec its = {
		.it_interval = { ms / 1000, (ms % 1000) * 1000000 },
		.it_value = { ms / 1000, (ms % 1000) * 1000000 },
	};

	return timerfd_settime(a->timer_fd, 0, &its, NULL) ? -errno : 0;
}

static void agent__reload(struct agent *a)
{
	struct agent_config *next = malloc(sizeof(*next));

	if (!next)
		return;
	if (agent_config__load(a->config_path, a->in->name, next)) {
		agent_log("%s has errors: keeping the running config",
			  a->config_path);
		goto out;
	}
	/* deny/allow list and flood settings first: a bad list file refuses
	 * the whole reload, as a bad config does */
	agent_cookies__sync(&a->cookies, a->in, &a->dp);
	if (agent_shield__apply(a->in, &a->dp, next)) {
		agent_log("%s: keeping the running config", a->config_path);
		goto out;
	}
	if (agent_cluster__apply(&a->cl, a->epfd, EV(EV_CLUSTER, 0),
				 &next->cluster)) {
		agent_log(
			"%s: the cluster cannot run as it says: keeping the running config",
			a->config_path);
		goto out;
	}
	if (next->ring_size != a->cfg.ring_size)
		agent_log(
			"ring_size change to %u needs 'lbctl unload' and a restart; keeping %u",
			next->ring_size, a->cfg.ring_size);
	next->ring_size = a->cfg.ring_size;
	next->hash_seed = a->cfg.hash_seed;
	memcpy(next->socket_path, a->cfg.socket_path,
	       sizeof(next->socket_path));
	memcpy(next->metrics, a->cfg.metrics, sizeof(next->metrics));
	a->cfg = *next;
	agent__socket_access(&a->cfg);
	agent__apply_ifaces(a);
	agent__apply_vips(a);
	agent__rebuild_all(a);
	agent__arm_timer(a);
	agent_log("reloaded %s", a->config_path);
out:
	free(next);
}

static int agent__own_netns(struct agent *a)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), err;

	if (fd < 0)
		return -errno;
	err = netns_cookie(fd, &a->netns_cookie);
	close(fd);
	if (err)
		agent_log("cannot read the network namespace's cookie: %s",
			  strerror(-err));
	return err;
}

static int agent__setup(struct agent *a)
{
	struct dataplane_opts o = { .ring_size = a->cfg.ring_size,
				    .hash_seed = a->cfg.hash_seed };
	sigset_t mask;
	int err, i;

	for (i = 0; i < LB_MAX_WORKERS; i++) {
		a->w[i].conn = -1;
		a->w[i].probe.fd = -1;
	}
	err = instance__lock(a->in);
	err = err ?: attach__ensure_loaded(a->in, &o);
	instance__unlock(a->in);
	err = err ?: instance__enter_netns(a->in);
	err = err ?: agent__own_netns(a);
	err = err ?: dataplane__open_pinned(&a->dp, a->in->pin_dir);
	if (err)
		return err;
	if (a->dp.cfg.ring_size != a->cfg.ring_size)
		agent_log(
			"pinned ring size %u differs from the config's %u: keeping %u",
			a->dp.cfg.ring_size, a->cfg.ring_size,
			a->dp.cfg.ring_size);
	a->cfg.ring_size = a->dp.cfg.ring_size;
	/* the sysctls before flood settings: no cookie the kernel would reset */
	agent_cookies__init(&a->cookies);
	agent_cookies__sync(&a->cookies, a->in, &a->dp);
	/* the deny list is in place before XDP is attached and VIPs exist */
	err = agent_shield__apply(a->in, &a->dp, &a->cfg);
	err = err ?: agent__apply_ifaces(a);
	err = err ?: agent__apply_vips(a);
	if (err)
		return err;
	/* Workers that died while no agent ran have lost their sockets. */
	agent__rebuild_all(a);

	a->probe_ctx = probe__ctx_new();
	a->epfd = epoll_create1(EPOLL_CLOEXEC);
	a->listen_fd = listen_unix(a->cfg.socket_path);
	if (a->listen_fd < 0) {
		agent_log("cannot listen on %s: %s", a->cfg.socket_path,
			  strerror(-a->listen_fd));
		return a->listen_fd;
	}
	agent__socket_access(&a->cfg);
	sigemptyset(&mask);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	a->sig_fd = signalfd(-1, &mask, SFD_CLOEXEC);
	a->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	if (!a->probe_ctx || a->epfd < 0 || a->sig_fd < 0 || a->timer_fd < 0)
		return -errno;
	if (a->cfg.metrics[0]) {
		err = metrics__open(&a->metrics, a->cfg.metrics, a->epfd,
				    EV(EV_METRICS, 0), EV(EV_METRICS_CONN, 0),
				    agent__render_metrics, a);
		if (err) {
			agent_log("cannot serve metrics on '%s': %s",
				  a->cfg.metrics, strerror(-err));
			return err;
		}
	}
	err = ep_add(a, a->listen_fd, EPOLLIN, EV(EV_LISTEN, 0));
	err = err ?: ep_add(a, a->sig_fd, EPOLLIN, EV(EV_SIGNAL, 0));
	err = err ?: ep_add(a, a->timer_fd, EPOLLIN, EV(EV_TIMER, 0));
	if (!err && a->cfg.health_interval_ms)
		err = agent__arm_timer(a);
	if (err)
		return err;
	err = agent_cluster__open(&a->cl, a->epfd, EV(EV_CLUSTER_TIMER, 0));
	err = err   ?:
		      agent_cluster__apply(&a->cl, a->epfd, EV(EV_CLUSTER, 0),
					   &a->cfg.cluster);
	if (!err) /* global rings, or single-host ones after cluster mode */
		agent__rebuild_all(a);
	return err;
}

/* One agent per instance, for its whole life (the kernel drops the lock
 * when the process dies, however it dies). */
static int agent__claim(struct instance *in)
{
	pid_t holder;
	int err = instance__agent_lock(in, &holder);

	if (err == -EBUSY && holder > 0)
		agent_log("instance '%s' is already run by pid %d", in->name,
			  (int)holder);
	else if (err == -EBUSY)
		agent_log("instance '%s' is already run by another agent",
			  in->name);
	else if (err)
		agent_log("cannot take the agent lock of instance '%s': %s",
			  in->name, strerror(-err));
	return err;
}

static void agent__signal(struct agent *a)
{
	struct signalfd_siginfo si;

	if (read(a->sig_fd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == SIGHUP)
		agent__reload(a);
	else
		a->stop = 1;
}

int agent__run(struct instance *in, const char *config_path)
{
	struct agent *a = calloc(1, sizeof(*a));
	struct epoll_event evs[32];
	int n, i, err;

	if (!a)
		return -ENOMEM;
	a->in = in;
	a->config_path = config_path;
	a->epfd = a->listen_fd = a->sig_fd = a->timer_fd = -1;
	agent_cluster__init(&a->cl, in, &a->dp, &a->cfg, agent__local_workers,
			    a);
	metrics__init(&a->metrics);
	err = agent__claim(in);
	err = err ?: agent_config__load(config_path, in->name, &a->cfg);
	err = err ?: agent__setup(a);
	if (err)
		goto out;
	agent_log("instance %s serving %d VIPs; workers register at %s",
		  in->name, a->cfg.nvips, a->cfg.socket_path);
	while (!a->stop) {
		n = epoll_wait(a->epfd, evs, 32,
			       agent__pending_timeout(
				       a, metrics__timeout_ms(&a->metrics)));
		for (i = 0; i < n; i++) {
			__u32 kind = evs[i].data.u64 >> 32;
			__u32 id = (__u32)evs[i].data.u64;

			switch (kind) {
			case EV_LISTEN:
				agent__accept(a);
				break;
			case EV_SIGNAL:
				agent__signal(a);
				break;
			case EV_TIMER:
				agent__tick(a);
				break;
			case EV_METRICS:
				metrics__accept(&a->metrics);
				break;
			case EV_METRICS_CONN:
				metrics__event(&a->metrics, id, evs[i].events);
				break;
			case EV_CONN:
				agent__conn_event(a, id, evs[i].events);
				break;
			case EV_PROBE:
				agent__probe_event(a, id);
				break;
			case EV_CLUSTER:
				if (agent_cluster__event(&a->cl))
					a->generation++;
				break;
			case EV_CLUSTER_TIMER:
				if (agent_cluster__tick(&a->cl))
					a->generation++;
				break;
			}
		}
		metrics__expire(&a->metrics);
		agent__pending_expire(a);
	}
	/* Leaving keeps every socket and ring slot: traffic flows on, and the
	 * workers re-register with the next agent. */
	agent_log("stopping; the pinned state keeps serving");
	/* the routers stop sending here; what still comes is forwarded */
	agent_cluster__link(&a->cl, 1);
out:
	if (a->listen_fd >= 0)
		unlink(a->cfg.socket_path);
	instance__agent_unlock(in); /* after the unlink: the next agent's */
	metrics__close(&a->metrics);
	dataplane__destroy(&a->dp);
	SSL_CTX_free(a->probe_ctx);
	agent_cluster__close(&a->cl);
	free(a);
	return err;
}
