/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Active HTTP health checks, run by every worker for its own view of the
 * upstreams (see docs/lbtls.md for why not by the master). Results go into
 * the upstream state; the owner hears of changes through a callback.
 */
#ifndef LBTLS_HEALTH_H
#define LBTLS_HEALTH_H

#include "config.h"
#include "loop.h"

struct upstream;
struct health;

enum health_event {
	HEALTH_UP, /* the server went up */
	HEALTH_DOWN, /* the server went down */
	HEALTH_LOCAL_ERROR, /* no probe: this process ran out (EMFILE...) */
};

typedef void (*health_cb)(void *data, unsigned server, enum health_event ev);

/* *out is NULL when checks are disabled. Returns 0 or -ENOMEM. */
int health__start(struct loop *l, struct upstream *up,
		  const struct cfg_health *cfg, health_cb cb, void *data,
		  struct health **out);
/* Stop probing; safe from inside any event callback of the same loop. */
void health__stop(struct health *h);
/* Start probing the slots upstream__set() added since. */
void health__sync(struct health *h);

#endif /* LBTLS_HEALTH_H */
