// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A worker's registration with the lbctl agent (DESIGN.md D3): the worker's
 * agent listeners (config: agent.socket) go to the agent, which places them
 * in the SOCKMAP so that sk_lookup steers connections to this worker. The
 * link itself (agent_link.c) runs on the worker's loop without blocking it.
 */
#include <errno.h>
#include <string.h>

#include "log.h"
#include "worker.h"

int worker__agent_start(struct worker *w)
{
	unsigned i;
	int err;

	/* The worker id is the slot: stable across reloads and respawns,
	 * so a new generation replaces the old one in the agent. */
	err = agent_link__init(&w->agent, &w->px.loop, w->px.cfg->agent_socket,
			       w->slot, w->px.cfg->agent_weight);
	if (!w->px.cfg->agent_socket[0])
		return 0; /* standalone: the link stays idle */
	for (i = 0; i < w->nlis && !err; i++)
		if (w->lis[i].addr->agent)
			err = agent_link__add_listener(
				&w->agent, w->lis[i].io.fd,
				w->lis[i].tls ? LB_LISTENER_HTTPS :
						LB_LISTENER_HTTP,
				w->lis[i].addr->ss.ss_family);
	if (err) {
		errno = -err;
		log_err("cannot prepare the agent registration: %s",
			strerror(-err));
		return -1;
	}
	agent_link__start(&w->agent);
	return 0;
}
