/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Counters: one snapshot of every per-CPU counter, summed, and its views
 * (text, JSON, Prometheus), with rates against an earlier snapshot. */
#ifndef LB_STATS_H
#define LB_STATS_H

#include <stdio.h>
#include "dataplane.h"
#include "vip.h"

struct stats {
	double when; /* CLOCK_MONOTONIC seconds */
	__u64 reasons[LB_R_MAX];
	int nvips;
	struct vip vips[LB_MAX_VIPS];
	struct lb_counters vip[LB_MAX_VIPS]; /* by position in vips[] */
	struct lb_counters worker[LB_MAX_WORKERS]; /* by worker id */
};

int stats__read(const struct dataplane *dp, struct stats *s);
const char *stats__reason_name(__u32 reason);
/* "pass", "drop", "tx", "event", "sk_lookup" (docs/xdp-outcomes.md). */
const char *stats__reason_verdict(__u32 reason);
/* prev may be NULL (no rates). */
void stats__print_text(FILE *f, const struct stats *s,
		       const struct stats *prev);
int stats__print_json(FILE *f, const struct stats *s, const struct stats *prev);
void stats__print_prometheus(FILE *f, const struct stats *s);

#endif /* LB_STATS_H */
