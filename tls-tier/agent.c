// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A worker's registration with the lbctl agent (DESIGN.md D3): the worker's
 * agent listeners (config: agent.socket) go to the agent, which places them
 * in the SOCKMAP so that sk_lookup steers connections to this worker.
 * The link stays open; if the agent goes away the worker goes on serving
 * from the pinned state and registers again every AGENT_RETRY_MS.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "log.h"
#include "worker.h"

#define AGENT_RETRY_MS 500

static void agent_register(struct worker *w);

static struct worker *of_io(struct loop_io *io)
{
	return (struct worker *)((char *)io - offsetof(struct worker, link_io));
}

static struct worker *of_timer(struct loop_timer *t)
{
	return (struct worker *)((char *)t -
				 offsetof(struct worker, link_retry));
}

/* The agent never writes after its reply: readable means it left. */
static void agent_io(struct loop_io *io, uint32_t events)
{
	struct worker *w = of_io(io);
	char buf[64];

	if (!(events & (EPOLLHUP | EPOLLERR | EPOLLRDHUP)) &&
	    recv(io->fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		return;
	loop__io_close(&w->loop, io);
	w->link.fd = -1; /* closed with the io */
	if (w->draining)
		return;
	log_warn("the agent at %s went away; registering again",
		 w->cfg->agent_socket);
	agent_register(w);
}

static void agent_retry(struct loop_timer *t)
{
	agent_register(of_timer(t));
}

static void agent_register(struct worker *w)
{
	char why[200];

	if (w->draining)
		return;
	if (agent_link__register(&w->link, why, sizeof(why))) {
		if (!w->link_warned)
			log_warn("%s; retrying every %d ms", why,
				 AGENT_RETRY_MS);
		w->link_warned = true;
		loop__timer_set(&w->loop, &w->link_retry,
				w->loop.now + AGENT_RETRY_MS);
		return;
	}
	w->link_warned = false;
	log_info("registered with the agent at %s (worker id %d)",
		 w->cfg->agent_socket, w->slot);
	loop__io_init(&w->link_io, w->link.fd, agent_io);
	if (loop__io_set(&w->loop, &w->link_io, EPOLLIN | EPOLLRDHUP)) {
		loop__io_close(&w->loop, &w->link_io);
		w->link.fd = -1;
		loop__timer_set(&w->loop, &w->link_retry,
				w->loop.now + AGENT_RETRY_MS);
	}
}

int worker__agent_start(struct worker *w)
{
	unsigned i;
	int err;

	w->link.fd = -1;
	w->link_io.fd = -1;
	loop__timer_init(&w->link_retry, agent_retry);
	if (!w->cfg->agent_socket[0])
		return 0;
	/* The worker id is the slot: stable across reloads and respawns,
	 * so a new generation replaces the old one in the agent. */
	err = agent_link__init(&w->link, w->cfg->agent_socket, w->slot,
			       w->cfg->agent_weight);
	for (i = 0; i < w->nlis && !err; i++)
		if (w->lis[i].addr->agent)
			err = agent_link__add_listener(
				&w->link, w->lis[i].io.fd,
				w->lis[i].tls ? LB_LISTENER_HTTPS :
						LB_LISTENER_HTTP,
				w->lis[i].addr->ss.ss_family);
	if (err) {
		errno = -err;
		log_err("cannot prepare the agent registration: %s",
			strerror(-err));
		return -1;
	}
	agent_register(w);
	return 0;
}
