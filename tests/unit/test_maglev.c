// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Weighted Maglev (user/state/maglev.c): exact quotas; a table that is a function
 * of the (id, weight) set alone (any input order, any history, the same
 * bytes as every other build of the set); the disruption of removing one of
 * N, measured and printed; validation and diff. The .c is included to reach
 * its statics.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../user/state/maglev.c"

#define M LB_RING_SIZE_DEFAULT
/* test_known_table: the reference table's bytes, FNV-1a */
#define KNOWN_TABLE_FNV1A 0x0b55cf3da3d72915ull

static __u32 *table_new(void)
{
	__u32 *t = malloc(M * sizeof(*t));

	assert_non_null(t);
	return t;
}

static size_t count_owner(const __u32 *t, __u32 m, __u32 id)
{
	size_t c = 0;
	__u32 s;

	for (s = 0; s < m; s++)
		c += t[s] == id;
	return c;
}

/* Independent largest-remainder quota: floor, +1 for the top remainders. */
static __u32 expected_quota(const struct maglev_worker *w, size_t n, __u32 m,
			    __u32 id)
{
	__u64 total = 0, left = m, share, rem;
	size_t i, rank = 0, me = n;

	for (i = 0; i < n; i++) {
		total += w[i].weight;
		if (w[i].id == id)
			me = i;
	}
	assert_true(me < n);
	if (!total || !w[me].weight)
		return 0;
	for (i = 0; i < n; i++)
		left -= (__u64)m * w[i].weight / total;
	share = (__u64)m * w[me].weight;
	rem = share % total;
	for (i = 0; i < n; i++) {
		__u64 r = (__u64)m * w[i].weight % total;

		if (i != me && w[i].weight &&
		    (r > rem || (r == rem && w[i].id < id)))
			rank++;
	}
	return (__u32)(share / total) + (rank < left);
}

/* Every slot holds a listed worker and each has exactly its quota. */
static void assert_exact_quotas(const struct maglev_worker *w, size_t n,
				__u32 m, const __u32 *t)
{
	size_t i, sum = 0;

	for (i = 0; i < n; i++) {
		size_t c = count_owner(t, m, w[i].id);

		assert_int_equal(c, expected_quota(w, n, m, w[i].id));
		sum += c;
	}
	assert_int_equal(sum, m);
}

/* Ten workers with ids unrelated to their list position. */
static void ten_workers(struct maglev_worker *w)
{
	static const __u32 ids[10] = { 17, 3, 250, 42, 99, 0, 128, 7, 64, 201 };
	size_t i;

	for (i = 0; i < 10; i++) {
		w[i].id = ids[i];
		w[i].weight = 1;
	}
}

static void test_valid_size(void **state)
{
	(void)state;
	assert_true(maglev__valid_size(3));
	assert_true(maglev__valid_size(5));
	assert_true(maglev__valid_size(251));
	assert_true(maglev__valid_size(65537));
	assert_true(maglev__valid_size(MAGLEV_SIZE_MAX));
	assert_false(maglev__valid_size(16777213)); /* 4 GiB of lb_rings */
	assert_false(maglev__valid_size(0));
	assert_false(maglev__valid_size(1));
	assert_false(maglev__valid_size(2));
	assert_false(maglev__valid_size(4));
	assert_false(maglev__valid_size(9));
	assert_false(maglev__valid_size(65536));
	assert_false(maglev__valid_size(65539 * 3));
	assert_false(maglev__valid_size(4294967291u)); /* prime, > 2^24 */
	assert_false(maglev__valid_size(16777259)); /* prime, > 2^24 */
}

/* Each worker's walk (offset + j * skip) % m visits every slot once. */
static void test_permutation_is_complete(void **state)
{
	__u32 ids[] = { 0, 1, 42, 255 };
	__u32 m = 10007, i, j, slot;
	__u8 *seen = malloc(m);

	(void)state;
	assert_non_null(seen);
	for (i = 0; i < 4; i++) {
		__u32 off = maglev__hash(ids[i], MAGLEV_SEED_OFFSET) % m;
		__u32 skip =
			maglev__hash(ids[i], MAGLEV_SEED_SKIP) % (m - 1) + 1;

		memset(seen, 0, m);
		slot = off;
		for (j = 0; j < m; j++) {
			assert_int_equal(seen[slot], 0);
			seen[slot] = 1;
			slot = (slot + skip) % m;
		}
	}
	free(seen);
}

static void test_equal_weights(void **state)
{
	static const size_t ns[] = { 1, 2, 3, 4, 7, 10, 16, 100, 256 };
	struct maglev_worker w[LB_MAX_WORKERS];
	__u32 *t = table_new();
	size_t k, i;

	(void)state;
	for (k = 0; k < sizeof(ns) / sizeof(ns[0]); k++) {
		size_t n = ns[k];
		double fair = (double)M / n;

		for (i = 0; i < n; i++) {
			/* ids spread over 0..255, not list positions */
			w[i].id = (__u32)((i * 37 + 11) % LB_MAX_WORKERS);
			w[i].weight = 5;
		}
		assert_int_equal(maglev__build(w, n, M, t), 0);
		for (i = 0; i < n; i++) {
			size_t c = count_owner(t, M, w[i].id);
			size_t rank = 0, j;

			/* acceptance bound: M/N +- 1 % */
			assert_true(c >= fair * 0.99 && c <= fair * 1.01);
			/* exact: ties go to lower ids */
			for (j = 0; j < n; j++)
				rank += w[j].id < w[i].id;
			assert_int_equal(c, M / n + (rank < M % n));
		}
		assert_exact_quotas(w, n, M, t);
	}
	free(t);
}

static void test_weights_one_two(void **state)
{
	struct maglev_worker w[] = { { .id = 5, .weight = 1 },
				     { .id = 2, .weight = 2 } };
	struct maglev_worker w3[] = { { .id = 9, .weight = 1 },
				      { .id = 4, .weight = 2 },
				      { .id = 1, .weight = 3 } };
	__u32 *t = table_new();
	double a, b;

	(void)state;
	assert_int_equal(maglev__build(w, 2, M, t), 0);
	a = count_owner(t, M, 5);
	b = count_owner(t, M, 2);
	assert_true(a + b == M);
	assert_true(b / a >= 2 * 0.98 && b / a <= 2 * 1.02);
	/* 65537/3 = 21845 r 2, 2*65537/3 = 43691 r 1: the spare slot to id 5 */
	assert_int_equal(a, 21846);
	assert_int_equal(b, 43691);

	assert_int_equal(maglev__build(w3, 3, M, t), 0);
	assert_exact_quotas(w3, 3, M, t);
	a = count_owner(t, M, 9);
	assert_true(count_owner(t, M, 4) / a >= 2 * 0.98 &&
		    count_owner(t, M, 4) / a <= 2 * 1.02);
	assert_true(count_owner(t, M, 1) / a >= 3 * 0.98 &&
		    count_owner(t, M, 1) / a <= 3 * 1.02);
	free(t);
}

/* The set without the worker at position 'skip' of w. */
static size_t without(const struct maglev_worker *w, size_t n, size_t skip,
		      struct maglev_worker *out)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++)
		if (i != skip)
			out[k++] = w[i];
	return k;
}

/*
 * Remove one of ten, then add it back. The removal moves the removed
 * worker's slots and a few more (Maglev rebuilds every permutation walk),
 * about 1/N in all; adding it back restores the first table byte for byte.
 */
static void test_remove_and_add_back(void **state)
{
	struct maglev_worker all[10], nine[9];
	__u32 *t0 = table_new(), *t1 = table_new(), *t2 = table_new();
	__u32 *changed = table_new();
	const __u32 gone = 42; /* all[3] */
	size_t i, n, own = 0;

	(void)state;
	ten_workers(all);
	without(all, 10, 3, nine);
	assert_int_equal(maglev__build(all, 10, M, t0), 0);
	assert_exact_quotas(all, 10, M, t0);

	assert_int_equal(maglev__build(nine, 9, M, t1), 0);
	assert_exact_quotas(nine, 9, M, t1);
	assert_int_equal(count_owner(t1, M, gone), 0);
	n = maglev__diff(t0, t1, M, changed);
	for (i = 0; i < n; i++)
		own += t0[changed[i]] == gone;
	/* every slot of the removed worker moved, and about 1/N in all */
	assert_int_equal(own, count_owner(t0, M, gone));
	assert_true(n <= M / 10 * 1.05);
	print_message("remove 1 of 10: %zu slots moved (%.2f %% of the ring, "
		      "1/N = 10 %%); %zu of them were its own\n",
		      n, 100.0 * n / M, own);

	/* it comes back: the exact first table */
	assert_int_equal(maglev__build(all, 10, M, t2), 0);
	assert_memory_equal(t0, t2, M * sizeof(*t0));
	n = maglev__diff(t1, t2, M, changed);
	print_message("add it back:    %zu slots moved, table identical to "
		      "the one before the removal\n",
		      n);
	free(t0);
	free(t1);
	free(t2);
	free(changed);
}

/*
 * The disruption of removing one worker, for every worker of sets of N:
 * about 1/N of the ring while M is large against N (M > 100 N, Cilium's
 * advice), more as N nears M / 256. Printed for the docs (docs/lbctl.md).
 */
static void test_removal_disruption(void **state)
{
	static const struct {
		size_t n;
		double bound; /* worst moved fraction, in units of 1/N */
	} cases[] = { { 2, 1.01 },  { 3, 1.01 },  { 4, 1.01 },
		      { 10, 1.05 }, { 16, 1.08 }, { 100, 1.8 } };
	struct maglev_worker w[LB_MAX_WORKERS], less[LB_MAX_WORKERS];
	__u32 *t0 = table_new(), *t1 = table_new(), *changed = table_new();
	size_t k, i, r;

	(void)state;
	for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		size_t n = cases[k].n;
		double worst = 0, sum = 0;

		for (i = 0; i < n; i++) {
			w[i].id = (__u32)((i * 37 + 11) % LB_MAX_WORKERS);
			w[i].weight = 1;
		}
		assert_int_equal(maglev__build(w, n, M, t0), 0);
		for (r = 0; r < n; r++) {
			double f;

			assert_int_equal(maglev__build(less,
						       without(w, n, r, less),
						       M, t1),
					 0);
			f = (double)maglev__diff(t0, t1, M, changed) * n / M;
			sum += f;
			if (f > worst)
				worst = f;
		}
		print_message("remove 1 of %3zu: moved %.3f/N on average, "
			      "%.3f/N at worst (M = %u)\n",
			      n, sum / n, worst, M);
		assert_true(worst <= cases[k].bound);
		assert_true(sum / n >= 1.0); /* its own slots at least */
	}
	free(t0);
	free(t1);
	free(changed);
}

/* Drain (weight 0) and undrain; a weight raised and put back. */
static void test_drain_and_weight_restore_exact_table(void **state)
{
	struct maglev_worker w[10];
	__u32 *t0 = table_new(), *t1 = table_new(), *changed = table_new();
	size_t i, n, had;

	(void)state;
	ten_workers(w);
	assert_int_equal(maglev__build(w, 10, M, t0), 0);
	had = count_owner(t0, M, 250);
	w[2].weight = 0; /* id 250 */
	assert_int_equal(maglev__build(w, 10, M, t1), 0);
	assert_int_equal(count_owner(t1, M, 250), 0);
	assert_exact_quotas(w, 10, M, t1);
	n = maglev__diff(t0, t1, M, changed);
	assert_true(n >= had && n <= M / 10 * 1.05);
	/* a drained worker and an absent one give the same table */
	{
		struct maglev_worker nine[9];
		__u32 *t2 = table_new();

		assert_int_equal(
			maglev__build(nine, without(w, 10, 2, nine), M, t2), 0);
		assert_memory_equal(t1, t2, M * sizeof(*t1));
		free(t2);
	}
	w[2].weight = 1;
	assert_int_equal(maglev__build(w, 10, M, t1), 0);
	assert_memory_equal(t0, t1, M * sizeof(*t0));

	w[6].weight = 2; /* id 128 grows */
	assert_int_equal(maglev__build(w, 10, M, t1), 0);
	assert_exact_quotas(w, 10, M, t1);
	n = maglev__diff(t0, t1, M, changed);
	for (i = 0, had = 0; i < n; i++)
		had += t1[changed[i]] == 128;
	print_message("weight 1 -> 2 of one of 10: %zu slots moved, %zu of "
		      "them to it\n",
		      n, had);
	assert_int_equal(had, expected_quota(w, 10, M, 128) -
				      count_owner(t0, M, 128));
	w[6].weight = 1;
	assert_int_equal(maglev__build(w, 10, M, t1), 0);
	assert_memory_equal(t0, t1, M * sizeof(*t0));
	free(t0);
	free(t1);
	free(changed);
}

static void shuffle(struct maglev_worker *w, size_t n, __u32 *rng)
{
	size_t i, j;

	for (i = n - 1; i > 0; i--) {
		struct maglev_worker tmp;

		*rng = *rng * 1664525u + 1013904223u;
		j = (*rng >> 8) % (i + 1);
		tmp = w[i];
		w[i] = w[j];
		w[j] = tmp;
	}
}

/*
 * The same set in any input order, whatever was built before and whatever
 * the output buffer held: the same bytes.
 */
static void test_same_set_same_bytes(void **state)
{
	struct maglev_worker w[10], nine[9];
	__u32 *ref = table_new(), *t = table_new(), *other = table_new();
	__u32 rng = 12345, s;
	int round;

	(void)state;
	ten_workers(w);
	w[4].weight = 7;
	w[8].weight = 0;
	assert_int_equal(maglev__build(w, 10, M, ref), 0);
	assert_int_equal(maglev__build(nine, without(w, 10, 0, nine), M, other),
			 0);
	for (round = 0; round < 8; round++) {
		shuffle(w, 10, &rng);
		/* garbage in the output, another set built in between */
		for (s = 0; s < M; s++)
			t[s] = rng ^ s;
		assert_int_equal(maglev__build(nine, 9, M, other), 0);
		assert_int_equal(maglev__build(w, 10, M, t), 0);
		assert_memory_equal(ref, t, M * sizeof(*t));
	}
	free(ref);
	free(t);
	free(other);
}

/* FNV-1a over the table's bytes. */
static __u64 fnv1a(const __u32 *t, __u32 m)
{
	const unsigned char *p = (const unsigned char *)t;
	__u64 h = 0xcbf29ce484222325ull;
	size_t i;

	for (i = 0; i < (size_t)m * sizeof(*t); i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

/*
 * Hosts running different builds of lbctl must agree too (DESIGN.md D7):
 * the table of a fixed set is pinned here. A change of the hash, the
 * seeds, the quotas or the fill order changes every host's rings and must
 * be deliberate: update the figure, say so in the commit and in the
 * upgrade notes. (It is also the table lbctl built from nothing before
 * rebuilds stopped starting from the ring in use.)
 */
static void test_known_table(void **state)
{
	struct maglev_worker w[10];
	__u32 *t = table_new();
	__u64 h;

	(void)state;
	ten_workers(w);
	w[1].weight = 3;
	assert_int_equal(maglev__build(w, 10, M, t), 0);
	h = fnv1a(t, M);
	free(t);
	print_message("fnv1a of the reference table: 0x%016llx\n",
		      (unsigned long long)h);
	assert_int_equal(h, KNOWN_TABLE_FNV1A);
}

static void test_invalid(void **state)
{
	struct maglev_worker dup[] = { { 1, 1 }, { 2, 1 }, { 1, 3 } };
	struct maglev_worker big[] = { { 1, 1 }, { LB_MAX_WORKERS, 1 } };
	struct maglev_worker ok[] = { { 1, 1 }, { 2, 1 } };
	struct maglev_worker many[LB_MAX_WORKERS + 1];
	__u32 *t = table_new();
	size_t i;

	(void)state;
	assert_int_equal(maglev__build(dup, 3, M, t), -EINVAL);
	assert_int_equal(maglev__build(big, 2, M, t), -EINVAL);
	assert_int_equal(maglev__build(ok, 2, 65536, t), -EINVAL);
	assert_int_equal(maglev__build(ok, 2, 2, t), -EINVAL);
	assert_int_equal(maglev__build(ok, 2, 0, t), -EINVAL);
	assert_int_equal(maglev__build(ok, 2, 16777259, t), -EINVAL);
	for (i = 0; i <= LB_MAX_WORKERS; i++) {
		many[i].id = i % LB_MAX_WORKERS;
		many[i].weight = 1;
	}
	assert_int_equal(maglev__build(many, LB_MAX_WORKERS + 1, M, t),
			 -EINVAL);
	/* the valid neighbours of those cases do build */
	assert_int_equal(maglev__build(ok, 2, M, t), 0);
	assert_int_equal(maglev__build(ok, 2, 3, t), 0);
	assert_int_equal(maglev__build(many, LB_MAX_WORKERS, M, t), 0);
	free(t);
}

static void test_no_workers(void **state)
{
	struct maglev_worker zero[] = { { 3, 0 }, { 4, 0 } };
	struct maglev_worker one[] = { { 3, 1 } };
	__u32 *t = table_new();

	(void)state;
	memset(t, 0, M * sizeof(*t));
	assert_int_equal(maglev__build(one, 1, M, t), 0);
	assert_int_equal(count_owner(t, M, 3), M);

	memset(t, 0, M * sizeof(*t));
	assert_int_equal(maglev__build(NULL, 0, M, t), 0);
	assert_int_equal(count_owner(t, M, LB_WORKER_NONE), M);

	memset(t, 0, M * sizeof(*t));
	assert_int_equal(maglev__build(zero, 2, M, t), 0);
	assert_int_equal(count_owner(t, M, LB_WORKER_NONE), M);
	free(t);
}

static void test_diff(void **state)
{
	const __u32 a[] = { 1, 2, 3, 4, 5, 6, 7 };
	const __u32 b[] = { 9, 2, 3, 0, 5, 6, LB_WORKER_NONE };
	const __u32 want[] = { 0, 3, 6 };
	__u32 changed[7];

	(void)state;
	memset(changed, 0xaa, sizeof(changed));
	assert_int_equal(maglev__diff(a, b, 7, changed), 3);
	assert_memory_equal(changed, want, sizeof(want));
	assert_int_equal(maglev__diff(a, a, 7, changed), 0);
	assert_int_equal(maglev__diff(a, b, 1, changed), 1);
	assert_int_equal(changed[0], 0);
	assert_int_equal(maglev__diff(b, a, 7, changed), 3);
	assert_memory_equal(changed, want, sizeof(want));
}

/*
 * ring__rebuild() writes changed[0..n) of maglev__diff(): applying exactly
 * those writes to the table in use gives the new table, their count is the
 * number of differing slots (counted here independently), and a rebuild of
 * the same set writes nothing.
 */
static void test_writes_only_differing_slots(void **state)
{
	struct maglev_worker all[10], nine[9];
	__u32 *t0 = table_new(), *t1 = table_new(), *map = table_new();
	__u32 *changed = table_new();
	size_t n, i, writes = 0, differ = 0;
	__u32 s;

	(void)state;
	ten_workers(all);
	without(all, 10, 3, nine);
	assert_int_equal(maglev__build(all, 10, M, t0), 0);
	assert_int_equal(maglev__build(nine, 9, M, t1), 0);
	memcpy(map, t0, M * sizeof(*map));
	n = maglev__diff(map, t1, M, changed);
	for (i = 0; i < n; i++, writes++)
		map[changed[i]] = t1[changed[i]];
	for (s = 0; s < M; s++)
		differ += t0[s] != t1[s];
	assert_memory_equal(map, t1, M * sizeof(*map));
	assert_int_equal(writes, differ);
	assert_true(writes < M / 8);
	/* the same set again: nothing to write */
	assert_int_equal(maglev__build(nine, 9, M, t0), 0);
	assert_int_equal(maglev__diff(map, t0, M, changed), 0);
	print_message("remove 1 of 10: %zu slot writes of %u\n", writes, M);
	free(t0);
	free(t1);
	free(map);
	free(changed);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_size),
		cmocka_unit_test(test_permutation_is_complete),
		cmocka_unit_test(test_equal_weights),
		cmocka_unit_test(test_weights_one_two),
		cmocka_unit_test(test_remove_and_add_back),
		cmocka_unit_test(test_removal_disruption),
		cmocka_unit_test(test_drain_and_weight_restore_exact_table),
		cmocka_unit_test(test_same_set_same_bytes),
		cmocka_unit_test(test_known_table),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_no_workers),
		cmocka_unit_test(test_diff),
		cmocka_unit_test(test_writes_only_differing_slots),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
