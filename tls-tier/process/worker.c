// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Worker process: the composition root. It owns the listeners, the proxy
 * state (client connections, upstreams and their pool), the health checks
 * and the agent link, wires their callbacks, and runs the loop: accept,
 * signals, the tick, graceful drain.
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

#include "client.h"
#include "health.h"
#include "log.h"
#include "priv.h"
#include "reqbody.h"
#include "txn.h"
#include "worker.h"

/*
 * Connections accepted per listener wakeup. Accepting is cheap (accept4,
 * SSL_new, one epoll_ctl): no handshake step runs here, each connection's
 * handshake moves on its own readiness events, interleaved with the
 * traffic of established connections. The bound keeps a SYN flood from
 * filling one wakeup with accepts.
 */
#define ACCEPT_BATCH 16
#define TICK_MS 250

static struct worker *of_px(struct proxy *px)
{
	return (struct worker *)((char *)px - offsetof(struct worker, px));
}

static void listeners_enable(struct worker *w, bool on)
{
	unsigned i;

	for (i = 0; i < w->nlis; i++)
		if (w->lis[i].io.fd >= 0)
			loop__io_set(&w->px.loop, &w->lis[i].io,
				     on ? EPOLLIN : 0);
	w->paused = !on;
}

/* A client connection closed: there may be room to accept again. */
static void client_gone(struct proxy *px)
{
	struct worker *w = of_px(px);

	if (w->paused && !px->draining &&
	    px->nclients < px->cfg->limits.max_connections)
		listeners_enable(w, true);
}

static void health_changed(void *data, unsigned server, enum health_event ev)
{
	struct proxy *px = data;

	if (ev == HEALTH_LOCAL_ERROR) {
		METRIC_ADD(px->m->local_errors, 1);
		return;
	}
	(void)server;
	proxy__publish_health(px);
}

void worker__sync_servers(struct worker *w)
{
	static struct upstream_set snap;
	struct proxy *px = &w->px;
	uint64_t gone, was_out = 0;
	uint32_t seq;
	unsigned i, lost, n0 = px->up.n;

	if (!w->dyn || !px->cfg->upstream.file[0])
		return;
	seq = __atomic_load_n(&w->dyn->seq, __ATOMIC_ACQUIRE);
	if ((seq & 1) || seq == w->dyn_seq)
		return;
	memcpy(&snap, w->dyn, sizeof(snap));
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (__atomic_load_n(&w->dyn->seq, __ATOMIC_RELAXED) != seq)
		return; /* torn: the next tick retries */
	w->dyn_seq = seq;
	for (i = 0; i < px->up.n; i++)
		if (px->up.servers[i].removed)
			was_out |= 1ULL << i;
	lost = upstream__set(
		&px->up, snap.servers,
		snap.n < CFG_MAX_SERVERS ? snap.n : CFG_MAX_SERVERS, &gone);
	if (lost)
		log_err("upstream.file: %u server(s) left out: more than %d slots",
			lost, CFG_MAX_SERVERS);
	for (i = 0; i < px->up.n; i++) {
		struct upstream_server *s = &px->up.servers[i];

		if (gone & (1ULL << i)) {
			log_info(
				"upstream %s left the pool (%u request(s) in flight finish)",
				s->name, s->active);
			pool__flush(&px->pool, i);
		}
		if (!s->dynamic || s->removed)
			continue;
		if (i >= n0 || strcmp(px->m->servers[i].name, s->name)) {
			log_info("upstream %s joined the pool", s->name);
			memcpy(px->m->servers[i].name, s->name,
			       sizeof(s->name));
		} else if (was_out & (1ULL << i)) {
			log_info("upstream %s is back in the pool", s->name);
		}
	}
	METRIC_SET(px->m->nservers, px->up.n);
	health__sync(w->health);
	proxy__publish_health(px);
}

static void accept_io(struct loop_io *io, uint32_t events)
{
	struct worker_listener *l = (struct worker_listener *)io;
	struct worker *w = l->w;
	struct proxy *px = &w->px;
	struct sockaddr_storage ss;
	socklen_t len;
	int i, fd;

	(void)events;
	for (i = 0; i < ACCEPT_BATCH; i++) {
		if (px->nclients >= px->cfg->limits.max_connections) {
			log_warn(
				"limits.max_connections (%u) reached: not accepting",
				px->cfg->limits.max_connections);
			listeners_enable(w, false);
			return;
		}
		len = sizeof(ss);
		fd = accept4(io->fd, (struct sockaddr *)&ss, &len,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			if (pool__local_error(errno)) {
				/* Back off; the tick turns accepting on again. */
				proxy__local_error(px, errno, l->addr->text);
				listeners_enable(w, false);
				return;
			}
			continue; /* ECONNABORTED and friends: next one */
		}
		client__accept(px, l->tls, fd, &ss);
	}
}

static void __attribute__((noreturn)) worker_exit(struct worker *w, int code)
{
	client__close_all(&w->px);
	health__stop(w->health);
	pool__flush(&w->px.pool, -1);
	log_info("worker %d (generation %u) exits", w->slot, w->gen);
	loop__fini(&w->px.loop);
	_exit(code);
}

/*
 * Graceful stop (reload or SIGQUIT). The listeners stay open in the master
 * and the next generation, so no queued connection is lost; the clients'
 * next responses say "Connection: close" (client.c). The agent link is
 * kept: closing it would take this slot out of the rings although the next
 * generation has registered it already.
 */
static void start_drain(struct worker *w)
{
	unsigned i;

	if (w->px.draining)
		return;
	w->px.draining = true;
	w->px.pool.closing = true;
	w->drain_deadline = w->px.loop.now + w->px.cfg->shutdown_timeout_ms;
	agent_link__stop(&w->agent);
	for (i = 0; i < w->nlis; i++)
		loop__io_close(&w->px.loop, &w->lis[i].io);
	health__stop(w->health);
	w->health = NULL;
	pool__flush(&w->px.pool, -1);
	client__drain_all(&w->px);
	log_info("worker %d draining %u connection(s)", w->slot,
		 w->px.nclients);
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
			if (log__open(w->px.cfg, w->who))
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
	struct proxy *px = &w->px;

	if (getppid() != w->master && !px->draining)
		start_drain(w); /* orphaned: finish and go */
	if (px->draining &&
	    (!px->nclients || px->loop.now >= w->drain_deadline))
		worker_exit(w, 0);
	if (w->paused && !px->draining &&
	    px->nclients < px->cfg->limits.max_connections)
		listeners_enable(w, true);
	worker__sync_servers(w);
	proxy__publish_health(px);
	txn__queue_poll(px);
	pool__expire(&px->pool, px->cfg->upstream.keepalive_timeout_ms);
	loop__timer_set(&px->loop, t, px->loop.now + TICK_MS);
}

void worker__main(const struct lbtls_config *cfg, struct tls_ctx *tls,
		  struct metrics_block *m, const struct upstream_set *dyn,
		  const struct listener *lis, unsigned nlis, int slot,
		  unsigned gen, pid_t master)
{
	static struct worker wk;
	struct worker *w = &wk;
	struct proxy *px = &w->px;
	char host[64] = "lbtls";
	sigset_t set;
	unsigned i;
	int fd, err;

	snprintf(w->who, sizeof(w->who), "worker %d", slot);
	log__set_who(w->who);
	/* user: first, before anything reads a client byte (priv.c). */
	if (priv__drop(&cfg->user))
		_exit(PRIV_EXIT_STATUS);
	/* The master's death drains us rather than leaving orphans; the tick
	 * checks too, for a death before this line. After the drop: a change
	 * of uid clears the parent-death signal. */
	prctl(PR_SET_PDEATHSIG, SIGQUIT);
	w->master = master;
	px->cfg = cfg;
	px->tls = tls;
	px->m = m;
	px->client_gone = client_gone;
	w->dyn = dyn;
	w->slot = slot;
	w->gen = gen;
	if (loop__init(&px->loop))
		goto fail;
	if (upstream__init(&px->up, &cfg->upstream,
			   ((uint64_t)getpid() << 32) ^ loop__now_ms()) &&
	    cfg->nhttps && !cfg->upstream.file[0])
		goto fail;
	pool__init(&px->pool, &px->loop, &px->up, cfg->upstream.keepalive);
	worker__sync_servers(w);
	if (cfg->x_served_by) {
		gethostname(host, sizeof(host) - 1);
		snprintf(px->served_by, sizeof(px->served_by),
			 "X-Served-By: %s/worker-%d\r\n", host, slot);
	}
	if (cfg->nhttps)
		px->https_port = cfg->https[0].port;
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
	if (loop__io_set(&px->loop, &w->sig, EPOLLIN))
		goto fail;
	for (i = 0; i < nlis; i++) {
		struct worker_listener *wl = &w->lis[w->nlis++];

		loop__io_init(&wl->io, lis[i].fd, accept_io);
		wl->w = w;
		wl->tls = lis[i].tls;
		wl->addr = &lis[i].addr;
		if (loop__io_set(&px->loop, &wl->io, EPOLLIN))
			goto fail;
	}
	if (health__start(&px->loop, &px->up, &cfg->upstream.health,
			  health_changed, px, &w->health) ||
	    worker__agent_start(w))
		goto fail;
	loop__timer_init(&w->tick, tick);
	loop__timer_set(&px->loop, &w->tick, px->loop.now + TICK_MS);
	proxy__publish_health(px);
	/* As the worker's own user: a body that outgrows memory needs it. */
	if (cfg->upstream.request_buffering &&
	    (err = reqbody__check_dir(cfg->limits.body_temp_path)))
		log_err("limits.client_body_temp_path '%s': cannot make a temporary file: %s (request bodies over %zu bytes will be answered 503)",
			cfg->limits.body_temp_path, strerror(-err),
			cfg->limits.body_buffer_size);
	m->pid = getpid();
	log_info("worker %d (generation %u) started", slot, gen);
	if (getppid() != master)
		start_drain(w);
	for (;;)
		if (loop__run_once(&px->loop, -1))
			goto fail;
fail:
	log_err("worker %d: cannot run: %s", slot, strerror(errno));
	_exit(1);
}
