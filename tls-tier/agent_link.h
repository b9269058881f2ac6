/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A worker's link to the lbctl agent (include/lb_proto.h): hand over its
 * listening sockets, then keep the connection open so that the agent sees
 * the worker leave. If the agent goes away the worker goes on serving and
 * registers again when it is back. No BPF privileges needed.
 */
#ifndef LBTLS_AGENT_LINK_H
#define LBTLS_AGENT_LINK_H

#include <stddef.h>
#include <stdint.h>
#include "lb_kern_user.h"

struct agent_link {
	char path[108];
	int fd; /* -1 while not registered */
	uint32_t worker;
	uint32_t weight;
	int nfds;
	int fds[LB_MAX_LISTENERS];
	uint8_t listener[LB_MAX_LISTENERS]; /* enum lb_listener */
	uint8_t family[LB_MAX_LISTENERS]; /* enum lb_family */
};

int agent_link__init(struct agent_link *l, const char *path, uint32_t worker,
		     uint32_t weight);
/* which: LB_LISTENER_HTTPS or LB_LISTENER_HTTP; family: AF_INET or
 * AF_INET6, the socket's own. The fd stays the caller's. */
int agent_link__add_listener(struct agent_link *l, int fd, int which,
			     int family);
/*
 * Connect and register; waits at most about a second for the answer.
 * Returns 0 (then watch l->fd: readable or hung up means the agent left;
 * call agent_link__lost() and register again later) or a negative errno,
 * with the reason in why.
 */
int agent_link__register(struct agent_link *l, char *why, size_t len);
void agent_link__lost(struct agent_link *l);

#endif /* LBTLS_AGENT_LINK_H */
