// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Weighted Maglev with exact quotas (see maglev.h).
 *
 * Every worker walks its own permutation of the table, slot
 * (offset + j * skip) % m for j = 0, 1, ..., where offset and skip come from
 * two hashes of the worker id alone. Its quota is m * weight / total weight,
 * rounded by largest remainder (ties to the lower id) so the quotas sum to m.
 * Slots are filled in Maglev's round-robin turns: each worker still under
 * quota takes the next free slot of its permutation. Workers are handled in
 * id order, never in input order, and nothing else enters the build: the
 * table is a function of the (id, weight) set (DESIGN.md D2).
 */
#include <errno.h>
#include <stdlib.h> /* qsort */
#include <string.h>

#include "lb_kern_user.h"
#include "maglev.h"

#define MAGLEV_SEED_OFFSET 0x2f4a7c15u
#define MAGLEV_SEED_SKIP 0x9e3779b9u

/* Per-worker state of one build, kept in id order. */
struct maglev_slot_owner {
	__u32 id;
	__u32 weight;
	__u32 offset; /* first slot of the permutation */
	__u32 skip; /* step of the permutation, 1..m-1 */
	__u32 quota; /* slots this worker must end with */
	__u32 count; /* slots it holds so far */
	__u32 cur; /* next slot of its permutation to try */
	__u64 rem; /* remainder of m * weight / total, for rounding */
};

static __u32 maglev__rotl(__u32 x, unsigned int r)
{
	return (x << r) | (x >> (32 - r));
}

/* MurmurHash3 (x86_32) of one 32-bit word. */
static __u32 maglev__hash(__u32 key, __u32 seed)
{
	__u32 k = key * 0xcc9e2d51u;
	__u32 h;

	k = maglev__rotl(k, 15) * 0x1b873593u;
	h = maglev__rotl(seed ^ k, 13) * 5 + 0xe6546b64u;
	h ^= 4; /* key length in bytes */
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

int maglev__valid_size(__u32 m)
{
	__u32 d;

	if (m < 3 || m > MAGLEV_SIZE_MAX || !(m & 1))
		return 0;
	for (d = 3; d * d <= m; d += 2)
		if (m % d == 0)
			return 0;
	return 1;
}

static int maglev__cmp_id(const void *a, const void *b)
{
	const struct maglev_slot_owner *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* Largest remainder first, then lower id. */
static int maglev__cmp_rem(const void *a, const void *b)
{
	const struct maglev_slot_owner *x = a, *y = b;

	if (x->rem != y->rem)
		return x->rem > y->rem ? -1 : 1;
	return maglev__cmp_id(a, b);
}

/*
 * Exact quotas summing to m (largest remainder). Returns the number of
 * workers with a quota, i.e. 0 if the total weight is 0. Leaves 'w' sorted
 * by id.
 */
static size_t maglev__quotas(struct maglev_slot_owner *w, size_t n, __u32 m)
{
	__u64 total = 0, left = m;
	size_t i, active = 0;

	for (i = 0; i < n; i++)
		total += w[i].weight;
	if (!total)
		return 0;
	for (i = 0; i < n; i++) {
		__u64 share = (__u64)m * w[i].weight;

		w[i].quota = (__u32)(share / total);
		w[i].rem = share % total;
		left -= w[i].quota;
	}
	/*
	 * left < number of non-zero remainders, so a drained worker (weight
	 * 0, remainder 0) never gets a slot here; the weight test keeps that
	 * obvious.
	 */
	qsort(w, n, sizeof(*w), maglev__cmp_rem);
	for (i = 0; i < n && left; i++) {
		if (!w[i].weight)
			continue;
		w[i].quota++;
		left--;
	}
	qsort(w, n, sizeof(*w), maglev__cmp_id);
	for (i = 0; i < n; i++)
		active += w[i].quota > 0;
	return active;
}

/*
 * Maglev's round-robin turns over the workers with a quota, in id order, on
 * a table that starts empty: each takes the next free slot of its
 * permutation until it has its quota.
 */
static void maglev__fill(struct maglev_slot_owner *w, size_t n, __u32 m,
			 __u32 *table, __u32 *turn)
{
	size_t nturn = 0, i, k;
	__u32 s;

	for (s = 0; s < m; s++)
		table[s] = LB_WORKER_NONE;
	for (i = 0; i < n; i++)
		if (w[i].quota)
			turn[nturn++] = (__u32)i;
	while (nturn) {
		for (i = 0, k = 0; i < nturn; i++) {
			struct maglev_slot_owner *x = &w[turn[i]];

			/*
			 * Slots passed over were taken and stay taken, and
			 * the quotas sum to m, so a worker under quota means
			 * a free slot exists: this ends within m steps.
			 */
			while (table[x->cur] != LB_WORKER_NONE) {
				x->cur += x->skip;
				if (x->cur >= m)
					x->cur -= m;
			}
			table[x->cur] = x->id;
			x->count++;
			if (x->count < x->quota)
				turn[k++] = turn[i];
		}
		nturn = k;
	}
}

/* The build proper: ids are any values but LB_WORKER_NONE, n <= max. */
static int maglev__build_ids(const struct maglev_worker *workers, size_t n,
			     __u32 m, __u32 *table, size_t max)
{
	struct maglev_slot_owner *w;
	__u32 *turn, s;
	size_t i;
	int err = -EINVAL;

	if (!maglev__valid_size(m) || n > max || (n && !workers) || !table)
		return -EINVAL;
	w = calloc(n ? n : 1, sizeof(*w));
	turn = calloc(n ? n : 1, sizeof(*turn));
	if (!w || !turn) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		__u32 id = workers[i].id;

		w[i].id = id;
		w[i].weight = workers[i].weight;
		w[i].offset = maglev__hash(id, MAGLEV_SEED_OFFSET) % m;
		w[i].skip = maglev__hash(id, MAGLEV_SEED_SKIP) % (m - 1) + 1;
		w[i].cur = w[i].offset;
	}
	/* duplicates side by side once sorted; the order given is lost */
	qsort(w, n, sizeof(*w), maglev__cmp_id);
	for (i = 0; i < n; i++)
		if (w[i].id == LB_WORKER_NONE || (i && w[i].id == w[i - 1].id))
			goto out;
	if (!maglev__quotas(w, n, m)) {
		for (s = 0; s < m; s++)
			table[s] = LB_WORKER_NONE;
	} else {
		maglev__fill(w, n, m, table, turn);
	}
	err = 0;
out:
	free(w);
	free(turn);
	return err;
}

int maglev__build(const struct maglev_worker *workers, size_t n, __u32 m,
		  __u32 *table)
{
	size_t i;

	for (i = 0; i < n && workers; i++)
		if (workers[i].id >= LB_MAX_WORKERS)
			return -EINVAL;
	return maglev__build_ids(workers, n, m, table, LB_MAX_WORKERS);
}

int maglev__build_refs(const struct maglev_worker *refs, size_t n, __u32 m,
		       __u32 *table)
{
	return maglev__build_ids(refs, n, m, table, MAGLEV_MAX_REFS);
}

size_t maglev__diff(const __u32 *old, const __u32 *new, __u32 m, __u32 *changed)
{
	size_t n = 0;
	__u32 s;

	for (s = 0; s < m; s++)
		if (old[s] != new[s])
			changed[n++] = s;
	return n;
}
