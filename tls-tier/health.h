/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Active HTTP health checks, run by every worker for its own view of the
 * upstreams (see docs/lbtls.md for why not by the master).
 */
#ifndef LBTLS_HEALTH_H
#define LBTLS_HEALTH_H

struct worker;

int health__start(struct worker *w);
void health__stop(struct worker *w);
/* Start probing the slots upstream__set() added since. */
void health__sync(struct worker *w);

#endif /* LBTLS_HEALTH_H */
