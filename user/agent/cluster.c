// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Scale-out membership (cluster.h). Announcements are full snapshots: a
 * lost one costs nothing, and a host is live while one arrived within
 * dead_after.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/random.h>
#include <sys/socket.h>
#include "cluster.h"

static void cl_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void cl_log(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "lbctl agent: cluster: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static __u64 wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

void cluster__init(struct cluster *cl)
{
	memset(cl, 0, sizeof(*cl));
	cl->fd = -1;
	/* a new boot id per start: peers accept our sequence from 1 again */
	if (getrandom(&cl->boot, sizeof(cl->boot), 0) != sizeof(cl->boot))
		cl->boot = ((__u64)getpid() << 32) ^ wall_ms();
}

void cluster__close(struct cluster *cl)
{
	if (cl->fd >= 0)
		close(cl->fd);
	cl->fd = -1;
	cl->cfg.enabled = 0;
	memset(cl->peer, 0, sizeof(cl->peer));
}

static int cluster__bind(struct cluster *cl, __be32 addr, __u16 port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = addr,
				  .sin_port = htons(port) };
	int fd, err;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		err = -errno;
		close(fd);
		return err;
	}
	if (cl->fd >= 0)
		close(cl->fd);
	cl->fd = fd;
	cl->bound_addr = addr;
	cl->bound_port = port;
	return 0;
}

int cluster__configure(struct cluster *cl, const struct cluster_config *cfg)
{
	const struct cluster_host *self = &cfg->hosts[cfg->self];
	char ip[INET_ADDRSTRLEN];
	int err, i;

	if (cl->fd < 0 || cl->bound_addr != self->addr ||
	    cl->bound_port != cfg->membership_port) {
		err = cluster__bind(cl, self->addr, cfg->membership_port);
		if (err) {
			inet_ntop(AF_INET, &self->addr, ip, sizeof(ip));
			cl_log("cannot bind %s:%u: %s", ip,
			       cfg->membership_port, strerror(-err));
			return err;
		}
	}
	/* what was heard of a host holds while its id keeps its address */
	for (i = 1; i < LB_MAX_HOSTS; i++) {
		const struct cluster_host *was = cluster_config__host(&cl->cfg,
								      i),
					  *now = cluster_config__host(cfg, i);

		if (!now || !was || now->addr != was->addr ||
		    now == &cfg->hosts[cfg->self])
			memset(&cl->peer[i], 0, sizeof(cl->peer[i]));
	}
	cl->cfg = *cfg;
	return 0;
}

static int same_workers(const struct cluster_peer *p,
			const struct cluster_msg *m)
{
	return p->nworkers == m->nworkers &&
	       !memcmp(p->workers, m->workers,
		       m->nworkers * sizeof(m->workers[0]));
}

/* One datagram from 'from'; CM_OK when it was taken, with *changed. */
static enum cm_reason cluster__take(struct cluster *cl, const __u8 *buf,
				    size_t len, const struct sockaddr_in *from,
				    __u64 now_ms, int *changed)
{
	static struct cluster_msg m; /* 1 KiB; one agent thread */
	const struct cluster_host *h;
	struct cluster_peer *p;
	enum cm_reason r;

	r = cluster_msg__decode(buf, len, cl->cfg.key, cl->cfg.keylen, &m);
	if (r)
		return r;
	h = m.host < LB_MAX_HOSTS ? cluster_config__host(&cl->cfg, m.host) :
				    NULL;
	if (!h || h == &cl->cfg.hosts[cl->cfg.self])
		return CM_R_HOST;
	if (from->sin_addr.s_addr != h->addr)
		return CM_R_SOURCE;
	p = &cl->peer[m.host];
	r = cluster_msg__check_fresh(&p->seq, &m, wall_ms());
	if (r)
		return r;
	if (!p->alive || p->flags != m.flags || !same_workers(p, &m)) {
		*changed = 1;
		if (!p->alive)
			cl_log("host %s (%u) is live: %u worker(s)%s", h->name,
			       h->id, m.nworkers,
			       m.flags & CM_F_DRAINING ? ", draining" : "");
		else if ((p->flags ^ m.flags) & CM_F_DRAINING)
			cl_log("host %s (%u) %s", h->name, h->id,
			       m.flags & CM_F_DRAINING ? "drains" :
							 "no longer drains");
	}
	p->alive = 1;
	p->heard_ms = now_ms;
	p->flags = m.flags;
	p->nworkers = m.nworkers;
	memcpy(p->workers, m.workers, m.nworkers * sizeof(m.workers[0]));
	return CM_OK;
}

int cluster__recv(struct cluster *cl, __u64 now_ms)
{
	__u8 buf[CM_MAX_LEN + 1]; /* one more: an oversized one is seen */
	struct sockaddr_in from;
	socklen_t fl;
	int changed = 0, i;
	ssize_t n;

	for (i = 0; i < 256 && cl->fd >= 0; i++) {
		enum cm_reason r;

		fl = sizeof(from);
		n = recvfrom(cl->fd, buf, sizeof(buf), MSG_TRUNC,
			     (struct sockaddr *)&from, &fl);
		if (n < 0)
			break;
		if (fl < sizeof(from) || from.sin_family != AF_INET)
			r = CM_R_SOURCE;
		else
			r = cluster__take(cl, buf, (size_t)n, &from, now_ms,
					  &changed);
		if (r)
			cl->rejects[r]++;
		else
			cl->accepted++;
	}
	return changed;
}

void cluster__announce(struct cluster *cl, const struct cm_worker *w, int n)
{
	static struct cluster_msg m;
	__u8 buf[CM_MAX_LEN];
	int len, i;

	if (cl->fd < 0)
		return;
	memset(&m, 0, sizeof(m));
	m.flags = cl->draining ? CM_F_DRAINING : 0;
	m.host = cl->cfg.hosts[cl->cfg.self].id;
	m.boot = cl->boot;
	m.seq = ++cl->seq;
	m.time_ms = wall_ms();
	m.nworkers = n > CM_MAX_WORKERS ? CM_MAX_WORKERS : n;
	memcpy(m.workers, w, m.nworkers * sizeof(*w));
	len = cluster_msg__encode(&m, cl->cfg.key, cl->cfg.keylen, buf,
				  sizeof(buf));
	if (len < 0)
		return;
	for (i = 0; i < cl->cfg.nhosts; i++) {
		struct sockaddr_in to = {
			.sin_family = AF_INET,
			.sin_addr.s_addr = cl->cfg.hosts[i].addr,
			.sin_port = htons(cl->cfg.membership_port),
		};

		if (i == cl->cfg.self)
			continue;
		if (sendto(cl->fd, buf, len, 0, (struct sockaddr *)&to,
			   sizeof(to)) == len)
			cl->sent++;
		else
			cl->send_errors++;
	}
}

int cluster__expire(struct cluster *cl, __u64 now_ms)
{
	int changed = 0, i;

	for (i = 0; i < cl->cfg.nhosts; i++) {
		const struct cluster_host *h = &cl->cfg.hosts[i];
		struct cluster_peer *p = &cl->peer[h->id];

		if (!p->alive || now_ms - p->heard_ms < cl->cfg.dead_after_ms)
			continue;
		p->alive = 0;
		changed = 1;
		cl_log("host %s (%u) not heard from for %u ms: out of the rings",
		       h->name, h->id, cl->cfg.dead_after_ms);
	}
	return changed;
}

size_t cluster__refs(const struct cluster *cl, const struct cm_worker *local,
		     int nlocal, struct maglev_worker *out)
{
	size_t n = 0;
	int i, j;

	for (i = 0; i < cl->cfg.nhosts; i++) {
		const struct cluster_host *h = &cl->cfg.hosts[i];
		const struct cluster_peer *p = &cl->peer[h->id];
		const struct cm_worker *w = p->workers;
		int nw = p->nworkers;

		if (!(h->flags & LB_HOST_F_WORKER))
			continue;
		if (i == cl->cfg.self) {
			if (cl->draining)
				continue;
			w = local;
			nw = nlocal;
		} else if (!p->alive || (p->flags & CM_F_DRAINING)) {
			continue;
		}
		for (j = 0; j < nw && n < MAGLEV_MAX_REFS; j++)
			if (w[j].weight) {
				out[n].id = LB_REF(h->id, w[j].id);
				out[n++].weight = w[j].weight;
			}
	}
	return n;
}

void cluster__log_rejects(struct cluster *cl, __u64 now_ms)
{
	char line[512];
	size_t off = 0;
	int r;

	if (now_ms < cl->log_ms + 1000)
		return;
	for (r = 1; r < CM_R_COUNT; r++) {
		__u64 d = cl->rejects[r] - cl->rejects_logged[r];

		if (!d)
			continue;
		off += snprintf(line + off, sizeof(line) - off, "%s%s %llu",
				off ? ", " : "", cluster_msg__reason_name(r),
				(unsigned long long)d);
		cl->rejects_logged[r] = cl->rejects[r];
		if (off >= sizeof(line))
			break;
	}
	if (!off)
		return;
	cl_log("dropped announcements: %s", line);
	cl->log_ms = now_ms;
}

void cluster__metrics(const struct cluster *cl, FILE *f)
{
	int r, i;

	if (cl->fd < 0)
		return;
	fprintf(f,
		"# HELP lb_cluster_announce_rejected_total Membership datagrams dropped, by reason.\n"
		"# TYPE lb_cluster_announce_rejected_total counter\n");
	for (r = 1; r < CM_R_COUNT; r++)
		fprintf(f,
			"lb_cluster_announce_rejected_total{reason=\"%s\"} %llu\n",
			cluster_msg__reason_name(r),
			(unsigned long long)cl->rejects[r]);
	fprintf(f,
		"# HELP lb_cluster_announce_accepted_total Membership datagrams taken.\n"
		"# TYPE lb_cluster_announce_accepted_total counter\n"
		"lb_cluster_announce_accepted_total %llu\n"
		"# HELP lb_cluster_announce_sent_total Announcements sent.\n"
		"# TYPE lb_cluster_announce_sent_total counter\n"
		"lb_cluster_announce_sent_total %llu\n"
		"# HELP lb_cluster_announce_send_errors_total Announcements the kernel refused.\n"
		"# TYPE lb_cluster_announce_send_errors_total counter\n"
		"lb_cluster_announce_send_errors_total %llu\n"
		"# HELP lb_cluster_draining This host drains.\n"
		"# TYPE lb_cluster_draining gauge\nlb_cluster_draining %d\n"
		"# HELP lb_cluster_host_live Another host heard within dead_after.\n"
		"# TYPE lb_cluster_host_live gauge\n",
		(unsigned long long)cl->accepted, (unsigned long long)cl->sent,
		(unsigned long long)cl->send_errors, cl->draining);
	for (i = 0; i < cl->cfg.nhosts; i++)
		if (i != cl->cfg.self)
			fprintf(f,
				"lb_cluster_host_live{host=\"%s\",id=\"%u\"} %d\n",
				cl->cfg.hosts[i].name, cl->cfg.hosts[i].id,
				cl->peer[cl->cfg.hosts[i].id].alive);
}
