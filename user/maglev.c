// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Weighted Maglev with exact quotas (see maglev.h).
 *
 * Every worker walks its own permutation of the table, slot
 * (offset + j * skip) % m for j = 0, 1, ..., where offset and skip come from
 * two hashes of the worker id alone. Its quota is m * weight / total weight,
 * rounded by largest remainder (ties to the lower id) so the quotas sum to m.
 *
 * With a previous table, each present worker first keeps its old slots up to
 * its quota; one that owns too many keeps those it reaches earliest in its
 * permutation. Then free slots are filled in Maglev's round-robin turns:
 * each worker still under quota takes the next free slot of its permutation.
 * Workers are handled in id order, never in input order.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lb_kern_user.h"
#include "maglev.h"

#define MAGLEV_SIZE_MAX (1u << 24)
#define MAGLEV_SEED_OFFSET 0x2f4a7c15u
#define MAGLEV_SEED_SKIP 0x9e3779b9u
#define MAGLEV_NO_INDEX 0xffffu

/* Per-worker state of one build, kept in id order. */
struct maglev_slot_owner {
	__u32 id;
	__u32 weight;
	__u32 offset; /* first slot of the permutation */
	__u32 skip; /* step of the permutation, 1..m-1 */
	__u32 quota; /* slots this worker must end with */
	__u32 count; /* slots it holds so far */
	__u32 cur; /* next slot of its permutation to try */
	__u32 inv_skip; /* skip^-1 mod m, set only when needed */
	__u64 rem; /* remainder of m * weight / total, for rounding */
};

/* A slot an over-quota worker held in prev, and its rank in its permutation. */
struct maglev_held {
	__u32 owner; /* index in the id-ordered worker array */
	__u32 pos; /* j such that slot = (offset + j * skip) % m */
	__u32 slot;
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

/* b^e mod m; m <= 2^24 so products fit in 64 bits. */
static __u32 maglev__pow_mod(__u32 b, __u32 e, __u32 m)
{
	__u64 r = 1, x = b % m;

	while (e) {
		if (e & 1)
			r = r * x % m;
		x = x * x % m;
		e >>= 1;
	}
	return (__u32)r;
}

/* Rank j of 'slot' in a permutation: (slot - offset) * skip^-1 mod m. */
static __u32 maglev__position(__u32 slot, __u32 offset, __u32 inv_skip, __u32 m)
{
	__u64 d = (slot + (__u64)m - offset) % m;

	return (__u32)(d * inv_skip % m);
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

static int maglev__cmp_held(const void *a, const void *b)
{
	const struct maglev_held *x = a, *y = b;

	if (x->owner != y->owner)
		return x->owner < y->owner ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
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
 * Keep prev's slots of present workers up to their quotas; every other slot
 * of 'table' becomes LB_WORKER_NONE. 'table' may be 'prev' itself: each slot
 * is read before it is written. Returns the number of free slots, or
 * -ENOMEM.
 */
static long maglev__keep(struct maglev_slot_owner *w, size_t n,
			 const __u16 *index, __u32 m, const __u32 *prev,
			 __u32 *table)
{
	struct maglev_held *held = NULL;
	size_t nheld = 0, i, k;
	long free_slots = 0, err;
	__u32 s, o;

	/* 1: how many slots each worker holds in prev */
	for (s = 0; s < m; s++) {
		o = prev[s];
		if (o < LB_MAX_WORKERS && index[o] != MAGLEV_NO_INDEX)
			w[index[o]].count++;
	}
	for (i = 0; i < n; i++) {
		if (!w[i].quota || w[i].count <= w[i].quota)
			continue;
		nheld += w[i].count;
		/* m is prime: skip^-1 = skip^(m-2) (Fermat) */
		w[i].inv_skip = maglev__pow_mod(w[i].skip, m - 2, m);
	}

	/* 2: rank the slots of over-quota workers along their permutations */
	if (nheld) {
		held = malloc(nheld * sizeof(*held));
		if (!held) {
			err = -ENOMEM;
			goto out;
		}
		k = 0;
		for (s = 0; s < m; s++) {
			struct maglev_slot_owner *x;

			o = prev[s];
			if (o >= LB_MAX_WORKERS || index[o] == MAGLEV_NO_INDEX)
				continue;
			x = &w[index[o]];
			if (!x->quota || x->count <= x->quota)
				continue;
			held[k].owner = index[o];
			held[k].slot = s;
			held[k].pos =
				maglev__position(s, x->offset, x->inv_skip, m);
			k++;
		}
		qsort(held, nheld, sizeof(*held), maglev__cmp_held);
	}

	/* 3: copy what stays; a worker with quota 0 keeps nothing */
	for (s = 0; s < m; s++) {
		o = prev[s];
		if (o < LB_MAX_WORKERS && index[o] != MAGLEV_NO_INDEX &&
		    w[index[o]].quota) {
			table[s] = o;
		} else {
			table[s] = LB_WORKER_NONE;
			free_slots++;
		}
	}

	/* 4: over-quota workers release all but their earliest slots */
	for (k = 0, i = 0; k < nheld; k++, i++) {
		if (k && held[k].owner != held[k - 1].owner)
			i = 0;
		if (i >= w[held[k].owner].quota) {
			table[held[k].slot] = LB_WORKER_NONE;
			free_slots++;
		}
	}
	for (i = 0; i < n; i++)
		if (w[i].count > w[i].quota)
			w[i].count = w[i].quota;
	err = free_slots;
out:
	free(held);
	return err;
}

/* Maglev's round-robin turns over workers under quota, in id order. */
static void maglev__fill(struct maglev_slot_owner *w, size_t n, __u32 m,
			 long free_slots, __u32 *table)
{
	__u16 turn[LB_MAX_WORKERS];
	size_t nturn = 0, i, k;

	for (i = 0; i < n; i++)
		if (w[i].count < w[i].quota)
			turn[nturn++] = (__u16)i;
	while (free_slots > 0 && nturn) {
		for (i = 0, k = 0; i < nturn; i++) {
			struct maglev_slot_owner *x = &w[turn[i]];

			/*
			 * Slots passed over were taken and stay taken, and a
			 * worker under quota means a free slot exists, so
			 * this ends within m steps.
			 */
			while (table[x->cur] != LB_WORKER_NONE) {
				x->cur += x->skip;
				if (x->cur >= m)
					x->cur -= m;
			}
			table[x->cur] = x->id;
			x->count++;
			free_slots--;
			if (x->count < x->quota)
				turn[k++] = turn[i];
		}
		nturn = k;
	}
}

int maglev__build(const struct maglev_worker *workers, size_t n, __u32 m,
		  const __u32 *prev, __u32 *table)
{
	struct maglev_slot_owner w[LB_MAX_WORKERS];
	__u16 index[LB_MAX_WORKERS];
	long free_slots;
	size_t i;
	__u32 s;
	int err = 0;

	if (!maglev__valid_size(m) || n > LB_MAX_WORKERS || (n && !workers) ||
	    !table) {
		err = -EINVAL;
		goto out;
	}
	memset(index, 0xff, sizeof(index));
	for (i = 0; i < n; i++) {
		__u32 id = workers[i].id;

		if (id >= LB_MAX_WORKERS || index[id] != MAGLEV_NO_INDEX) {
			err = -EINVAL;
			goto out;
		}
		index[id] = 0;
		memset(&w[i], 0, sizeof(w[i]));
		w[i].id = id;
		w[i].weight = workers[i].weight;
		w[i].offset = maglev__hash(id, MAGLEV_SEED_OFFSET) % m;
		w[i].skip = maglev__hash(id, MAGLEV_SEED_SKIP) % (m - 1) + 1;
		w[i].cur = w[i].offset;
	}

	if (!maglev__quotas(w, n, m)) {
		for (s = 0; s < m; s++)
			table[s] = LB_WORKER_NONE;
		goto out;
	}
	for (i = 0; i < n; i++)
		index[w[i].id] = (__u16)i;

	if (prev) {
		free_slots = maglev__keep(w, n, index, m, prev, table);
		if (free_slots < 0) {
			err = (int)free_slots;
			goto out;
		}
	} else {
		for (s = 0; s < m; s++)
			table[s] = LB_WORKER_NONE;
		free_slots = m;
	}
	maglev__fill(w, n, m, free_slots, table);
out:
	return err;
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
