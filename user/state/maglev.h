/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Maglev lookup tables (Eisenbud et al., NSDI'16) with weights, built in
 * user space and written to lb_rings (DESIGN.md D2).
 *
 * Each worker gets an exact quota of slots from its weight (largest
 * remainder), and fills it walking its own permutation of the table, in
 * Maglev's round-robin turns. The table depends on the (id, weight) set
 * alone, never on a previous table or on the order of the input: a worker
 * that leaves and comes back restores the exact table, and two balancers
 * with the same workers have the same tables (DESIGN.md D2, D7). Removing
 * one of N workers moves about 1/N of the slots (tests/unit/test_maglev.c
 * prints the figure); callers write only the slots that differ from the
 * table in use (maglev__diff).
 */
#ifndef LB_MAGLEV_H
#define LB_MAGLEV_H

#include <stddef.h>
#include <linux/types.h>

struct maglev_worker {
	__u32 id; /* worker id < LB_MAX_WORKERS, or a ref (build_refs) */
	__u32 weight; /* 0 = drained: no slots */
};

/*
 * The largest table: lb_rings holds LB_MAX_VIPS (64) of them, so 131071
 * (2^17 - 1, a prime) is 32 MiB of kernel memory, twice the default 65537,
 * and 512 slots per worker at LB_MAX_WORKERS (256), five times Maglev's
 * 100 per backend. The old bound, 2^24, asked for 4 GiB.
 */
#define MAGLEV_SIZE_MAX 131071u

/* True if m is a prime usable as a table size (3..MAGLEV_SIZE_MAX). */
int maglev__valid_size(__u32 m);

/*
 * Fill table[0..m-1] with worker ids; LB_WORKER_NONE everywhere if no
 * worker has weight. Returns 0, or -EINVAL (m not prime, duplicate id, id
 * out of range), -ENOMEM.
 */
int maglev__build(const struct maglev_worker *workers, size_t n, __u32 m,
		  __u32 *table);

/* Scale-out rings hold LB_REF(host, worker) (lb_kern_user.h): ids are
 * refs, any value but LB_WORKER_NONE, at most MAGLEV_MAX_REFS of them.
 * The same properties hold: the table is a function of the set alone. */
#define MAGLEV_MAX_REFS 8192u
int maglev__build_refs(const struct maglev_worker *refs, size_t n, __u32 m,
		       __u32 *table);

/*
 * Store in changed[] the indices where old and new differ, ascending.
 * Returns their count. 'changed' must have room for m entries.
 */
size_t maglev__diff(const __u32 *old, const __u32 *new, __u32 m,
		    __u32 *changed);

#endif /* LB_MAGLEV_H */
