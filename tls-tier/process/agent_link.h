/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A worker's link to the lbctl agent (include/lb_proto.h): hand over its
 * listening sockets, then keep the connection open so that the agent sees
 * the worker leave. If the agent goes away the worker goes on serving and
 * registers again when it is back. No BPF privileges needed.
 *
 * The link runs on the worker's event loop and never blocks it: connect and
 * send do not wait (a unix socket connects at once or fails), the answer
 * comes through the loop, and an agent that does not answer within
 * AGENT_LINK_REPLY_MS is given up on and tried again later.
 */
#ifndef LBTLS_AGENT_LINK_H
#define LBTLS_AGENT_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lb_kern_user.h"
#include "loop.h"

#define AGENT_LINK_RETRY_MS 500
#define AGENT_LINK_REPLY_MS 5000

enum agent_link_state {
	AGENT_LINK_IDLE, /* not connected; the timer retries */
	AGENT_LINK_WAITING, /* sent; the timer bounds the wait for the reply */
	AGENT_LINK_REGISTERED,
};

struct agent_link {
	char path[108];
	uint32_t worker;
	uint32_t weight;
	int nfds;
	int fds[LB_MAX_LISTENERS];
	uint8_t listener[LB_MAX_LISTENERS]; /* enum lb_listener */
	uint8_t family[LB_MAX_LISTENERS]; /* enum lb_family */
	struct loop *loop;
	struct loop_io io; /* the registration connection; fd -1 if none */
	struct loop_timer timer;
	enum agent_link_state state;
	bool warned; /* say a failure once, not every retry */
	bool stopped; /* draining: do not register again */
};

int agent_link__init(struct agent_link *l, struct loop *loop, const char *path,
		     uint32_t worker, uint32_t weight);
/* which: LB_LISTENER_HTTPS or LB_LISTENER_HTTP; family: AF_INET or
 * AF_INET6, the socket's own. The fd stays the caller's. */
int agent_link__add_listener(struct agent_link *l, int fd, int which,
			     int family);
/* Register now and keep registered; returns at once. */
void agent_link__start(struct agent_link *l);
/* Never register again, but keep a link that is up or being set up: a
 * draining worker's close would take its id, which the next generation has
 * registered, out of the rings. */
void agent_link__stop(struct agent_link *l);
/* Close the link: the agent takes the worker out. */
void agent_link__close(struct agent_link *l);

#endif /* LBTLS_AGENT_LINK_H */
