// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Worker process main loop: accept, signals, graceful drain.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>

#include "conn.h"
#include "health.h"
#include "log.h"
#include "pool.h"
#include "worker.h"

/*
 * Connections accepted per listener wakeup. Accepting is cheap (accept4,
 * two buffers, SSL_new, one epoll_ctl): no handshake step runs here, each
 * connection's handshake moves on its own readiness events, interleaved
 * with the traffic of established connections. The bound keeps a SYN flood
 * from filling one wakeup with accepts.
 */
#define ACCEPT_BATCH 16
#define TICK_MS 250

void worker__publish_health(struct worker *w)
{
	unsigned i;

	for (i = 0; i < w->up.n; i++)
		METRIC_SET(w->m->servers[i].up,
			   upstream__available(&w->up, i, w->loop.now) ? 1 : 0);
}

void worker__sync_servers(struct worker *w)
{
	static struct upstream_set snap;
	uint64_t gone, was_out = 0;
	uint32_t seq;
	unsigned i, lost, n0 = w->up.n;

	if (!w->dyn || !w->cfg->upstream.docker.enabled)
		return;
	seq = __atomic_load_n(&w->dyn->seq, __ATOMIC_ACQUIRE);
	if ((seq & 1) || seq == w->dyn_seq)
		return;
	memcpy(&snap, w->dyn, sizeof(snap));
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (__atomic_load_n(&w->dyn->seq, __ATOMIC_RELAXED) != seq)
		return; /* torn: the next tick retries */
	w->dyn_seq = seq;
	for (i = 0; i < w->up.n; i++)
		if (w->up.servers[i].removed)
			was_out |= 1ULL << i;
	lost = upstream__set(
		&w->up, snap.servers,
		snap.n < CFG_MAX_SERVERS ? snap.n : CFG_MAX_SERVERS, &gone);
	if (lost)
		log_err("upstream.docker: %u server(s) left out: more than %d slots",
			lost, CFG_MAX_SERVERS);
	for (i = 0; i < w->up.n; i++) {
		struct upstream_server *s = &w->up.servers[i];

		if (gone & (1ULL << i)) {
			log_info(
				"upstream %s left the pool (%u request(s) in flight finish)",
				s->name, s->active);
			while (s->idle)
				pool__close(s->idle);
		}
		if (!s->dynamic || s->removed)
			continue;
		if (i >= n0 || strcmp(w->m->servers[i].name, s->name)) {
			log_info("upstream %s joined the pool", s->name);
			memcpy(w->m->servers[i].name, s->name, sizeof(s->name));
		} else if (was_out & (1ULL << i)) {
			log_info("upstream %s is back in the pool", s->name);
		}
	}
	METRIC_SET(w->m->nservers, w->up.n);
	health__sync(w);
	worker__publish_health(w);
}

void worker__listeners_enable(struct worker *w, bool on)
{
	unsigned i;

	for (i = 0; i < w->nlis; i++)
		if (w->lis[i].io.fd >= 0)
			loop__io_set(&w->loop, &w->lis[i].io, on ? EPOLLIN : 0);
	w->paused = !on;
}

static void accept_io(struct loop_io *io, uint32_t events)
{
	struct worker_listener *l = (struct worker_listener *)io;
	struct worker *w = l->w;
	struct sockaddr_storage ss;
	socklen_t len;
	int i, fd;

	(void)events;
	for (i = 0; i < ACCEPT_BATCH; i++) {
		if (w->nconns >= w->cfg->limits.max_connections) {
			log_warn(
				"limits.max_connections (%u) reached: not accepting",
				w->cfg->limits.max_connections);
			worker__listeners_enable(w, false);
			return;
		}
		len = sizeof(ss);
		fd = accept4(io->fd, (struct sockaddr *)&ss, &len,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				/* Back off; the tick turns accepting on again. */
				log_err("accept on %s: %s", l->addr->text,
					strerror(errno));
				worker__listeners_enable(w, false);
				return;
			}
			continue; /* ECONNABORTED and friends: next one */
		}
		conn__accept(w, l, fd, &ss);
	}
}

static void __attribute__((noreturn)) worker_exit(struct worker *w, int code)
{
	conn__close_all(w);
	health__stop(w);
	pool__flush(w);
	log_info("worker %d (generation %u) exits", w->slot, w->gen);
	loop__fini(&w->loop);
	_exit(code);
}

static void start_drain(struct worker *w)
{
	unsigned i;

	if (w->draining)
		return;
	w->draining = true;
	w->drain_deadline = w->loop.now + w->cfg->shutdown_timeout_ms;
	agent_link__stop(&w->agent);
	/* Our copies only: the master and the next generation keep the
	 * sockets open, so no queued connection is lost. */
	for (i = 0; i < w->nlis; i++)
		loop__io_close(&w->loop, &w->lis[i].io);
	health__stop(w);
	pool__flush(w);
	conn__drain_all(w);
	log_info("worker %d draining %u connection(s)", w->slot, w->nconns);
}

static void signal_io(struct loop_io *io, uint32_t events)
{
	struct worker *w =
		(struct worker *)((char *)io - offsetof(struct worker, sig));
	struct signalfd_siginfo si;

	(void)events;
	while (read(io->fd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGQUIT:
			start_drain(w);
			break;
		case SIGUSR1:
			if (log__open(w->cfg, w->who))
				log_err("cannot reopen the logs: %s",
					strerror(errno));
			break;
		case SIGTERM:
			worker_exit(w, 0);
		default:
			break; /* SIGINT, SIGHUP: the master decides */
		}
	}
}

static void tick(struct loop_timer *t)
{
	struct worker *w =
		(struct worker *)((char *)t - offsetof(struct worker, tick));

	if (getppid() == 1 && !w->draining)
		start_drain(w); /* orphaned: finish and go */
	if (w->draining && (!w->nconns || w->loop.now >= w->drain_deadline))
		worker_exit(w, 0);
	if (w->paused && !w->draining &&
	    w->nconns < w->cfg->limits.max_connections)
		worker__listeners_enable(w, true);
	worker__sync_servers(w);
	worker__publish_health(w);
	pool__expire(w, w->cfg->upstream.keepalive_timeout_ms);
	loop__timer_set(&w->loop, t, w->loop.now + TICK_MS);
}

void worker__main(const struct lbtls_config *cfg, struct tls_ctx *tls,
		  struct metrics_block *m, const struct upstream_set *dyn,
		  const struct listener *lis, unsigned nlis, int slot,
		  unsigned gen)
{
	static struct worker wk;
	struct worker *w = &wk;
	char host[64] = "lbtls";
	sigset_t set;
	unsigned i;
	int fd;

	snprintf(w->who, sizeof(w->who), "worker %d", slot);
	log__set_who(w->who);
	/* The master's death drains us rather than leaving orphans. */
	prctl(PR_SET_PDEATHSIG, SIGQUIT);
	w->cfg = cfg;
	w->tls = tls;
	w->m = m;
	w->dyn = dyn;
	w->slot = slot;
	w->gen = gen;
	if (loop__init(&w->loop))
		goto fail;
	if (upstream__init(&w->up, &cfg->upstream,
			   ((uint64_t)getpid() << 32) ^ loop__now_ms()) &&
	    cfg->nhttps && !cfg->upstream.docker.enabled)
		goto fail;
	worker__sync_servers(w);
	if (cfg->x_served_by) {
		gethostname(host, sizeof(host) - 1);
		snprintf(w->served_by, sizeof(w->served_by),
			 "X-Served-By: %s/worker-%d\r\n", host, slot);
	}
	if (cfg->nhttps)
		w->https_port = cfg->https[0].port;
	sigemptyset(&set);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		goto fail;
	loop__io_init(&w->sig, fd, signal_io);
	if (loop__io_set(&w->loop, &w->sig, EPOLLIN))
		goto fail;
	for (i = 0; i < nlis; i++) {
		struct worker_listener *wl = &w->lis[w->nlis++];

		loop__io_init(&wl->io, lis[i].fd, accept_io);
		wl->w = w;
		wl->tls = lis[i].tls;
		wl->addr = &lis[i].addr;
		if (loop__io_set(&w->loop, &wl->io, EPOLLIN))
			goto fail;
	}
	if (health__start(w) || worker__agent_start(w))
		goto fail;
	loop__timer_init(&w->tick, tick);
	loop__timer_set(&w->loop, &w->tick, w->loop.now + TICK_MS);
	worker__publish_health(w);
	m->pid = getpid();
	log_info("worker %d (generation %u) started", slot, gen);
	if (getppid() == 1)
		start_drain(w);
	for (;;)
		if (loop__run_once(&w->loop, -1))
			goto fail;
fail:
	log_err("worker %d: cannot run: %s", slot, strerror(errno));
	_exit(1);
}
