// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Weighted Maglev (user/maglev.c): exact quotas, minimal disruption with a
 * previous table, determinism, validation and diff. The .c is included to
 * reach its statics.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* Route the builder's allocations through a hook that can fail on demand. */
static int fail_malloc;
static void *hook_malloc(size_t size)
{
	return fail_malloc ? NULL : malloc(size);
}
#define malloc hook_malloc
#include "../../user/maglev.c"
#undef malloc

#define M LB_RING_SIZE_DEFAULT

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
	assert_true(maglev__valid_size(16777213)); /* largest prime < 2^24 */
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

/* The inverse rank of a slot matches the forward walk of the permutation. */
static void test_permutation_position(void **state)
{
	__u32 ids[] = { 0, 1, 42, 255 };
	__u32 m = 10007, i, j, slot;

	(void)state;
	for (i = 0; i < 4; i++) {
		__u32 off = maglev__hash(ids[i], MAGLEV_SEED_OFFSET) % m;
		__u32 skip =
			maglev__hash(ids[i], MAGLEV_SEED_SKIP) % (m - 1) + 1;
		__u32 inv = maglev__pow_mod(skip, m - 2, m);

		assert_int_equal((__u64)skip * inv % m, 1);
		slot = off;
		for (j = 0; j < m; j++) {
			assert_int_equal(maglev__position(slot, off, inv, m),
					 j);
			slot = (slot + skip) % m;
		}
	}
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
		assert_int_equal(maglev__build(w, n, M, NULL, t), 0);
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
	assert_int_equal(maglev__build(w, 2, M, NULL, t), 0);
	a = count_owner(t, M, 5);
	b = count_owner(t, M, 2);
	assert_true(a + b == M);
	assert_true(b / a >= 2 * 0.98 && b / a <= 2 * 1.02);
	/* 65537/3 = 21845 r 2, 2*65537/3 = 43691 r 1: the spare slot to id 5 */
	assert_int_equal(a, 21846);
	assert_int_equal(b, 43691);

	assert_int_equal(maglev__build(w3, 3, M, NULL, t), 0);
	assert_exact_quotas(w3, 3, M, t);
	a = count_owner(t, M, 9);
	assert_true(count_owner(t, M, 4) / a >= 2 * 0.98 &&
		    count_owner(t, M, 4) / a <= 2 * 1.02);
	assert_true(count_owner(t, M, 1) / a >= 3 * 0.98 &&
		    count_owner(t, M, 1) / a <= 3 * 1.02);
	free(t);
}

/* Remove one of ten, then add it back, each time from the table in use. */
static void test_remove_and_add_back(void **state)
{
	struct maglev_worker all[10], nine[9];
	__u32 *t0 = table_new(), *t1 = table_new(), *t2 = table_new();
	__u32 *ts = table_new(), *changed = table_new();
	const __u32 gone = 42;
	size_t i, k, n;

	(void)state;
	ten_workers(all);
	for (i = 0, k = 0; i < 10; i++)
		if (all[i].id != gone)
			nine[k++] = all[i];
	assert_int_equal(maglev__build(all, 10, M, NULL, t0), 0);
	assert_exact_quotas(all, 10, M, t0);

	/* removal with prev: only the removed worker's slots move */
	assert_int_equal(maglev__build(nine, 9, M, t0, t1), 0);
	assert_exact_quotas(nine, 9, M, t1);
	n = maglev__diff(t0, t1, M, changed);
	assert_true(n <= M * 0.12);
	assert_int_equal(n, count_owner(t0, M, gone));
	for (i = 0; i < n; i++) {
		assert_int_equal(t0[changed[i]], gone);
		assert_int_not_equal(t1[changed[i]], gone);
	}
	print_message(
		"remove 1 of 10 with prev:    %zu slots moved (%.2f %%)\n", n,
		100.0 * n / M);

	/* the same removal without prev (stateless, plain weighted Maglev) */
	assert_int_equal(maglev__build(nine, 9, M, NULL, ts), 0);
	assert_exact_quotas(nine, 9, M, ts);
	n = maglev__diff(t0, ts, M, changed);
	assert_true(n <= M * 0.12);
	print_message(
		"remove 1 of 10 without prev: %zu slots moved (%.2f %%)\n", n,
		100.0 * n / M);

	/* add it back, from t1: every changed slot goes to it */
	assert_int_equal(maglev__build(all, 10, M, t1, t2), 0);
	assert_exact_quotas(all, 10, M, t2);
	n = maglev__diff(t1, t2, M, changed);
	assert_int_equal(n, expected_quota(all, 10, M, gone));
	assert_int_equal(count_owner(t2, M, gone),
			 expected_quota(all, 10, M, gone));
	for (i = 0; i < n; i++)
		assert_int_equal(t2[changed[i]], gone);
	print_message(
		"add it back with prev:       %zu slots moved (%.2f %%)\n", n,
		100.0 * n / M);

	free(t0);
	free(t1);
	free(t2);
	free(ts);
	free(changed);
}

/* Rebuilding the same set from its own table changes nothing. */
static void test_rebuild_same_set_is_stable(void **state)
{
	struct maglev_worker w[10];
	__u32 *t0 = table_new(), *t1 = table_new(), *changed = table_new();

	(void)state;
	ten_workers(w);
	w[2].weight = 3;
	assert_int_equal(maglev__build(w, 10, M, NULL, t0), 0);
	assert_int_equal(maglev__build(w, 10, M, t0, t1), 0);
	assert_int_equal(maglev__diff(t0, t1, M, changed), 0);
	/* and the stateless build is the fixed point too */
	assert_int_equal(maglev__build(w, 10, M, NULL, t1), 0);
	assert_memory_equal(t0, t1, M * sizeof(*t0));
	free(t0);
	free(t1);
	free(changed);
}

static void test_drain(void **state)
{
	struct maglev_worker w[10];
	__u32 *t0 = table_new(), *t1 = table_new(), *changed = table_new();
	size_t i, n, had;

	(void)state;
	ten_workers(w);
	assert_int_equal(maglev__build(w, 10, M, NULL, t0), 0);
	had = count_owner(t0, M, 250);
	w[2].weight = 0; /* id 250 */
	assert_int_equal(maglev__build(w, 10, M, t0, t1), 0);
	assert_int_equal(count_owner(t1, M, 250), 0);
	assert_exact_quotas(w, 10, M, t1);
	n = maglev__diff(t0, t1, M, changed);
	assert_int_equal(n, had);
	for (i = 0; i < n; i++)
		assert_int_equal(t0[changed[i]], 250);

	/* stateless: a drained worker gets nothing either */
	assert_int_equal(maglev__build(w, 10, M, NULL, t1), 0);
	assert_int_equal(count_owner(t1, M, 250), 0);
	assert_exact_quotas(w, 10, M, t1);
	free(t0);
	free(t1);
	free(changed);
}

/* Raising one weight: every moved slot goes to the worker that grew. */
static void test_weight_increase_moves_only_to_it(void **state)
{
	struct maglev_worker w[10];
	__u32 *t0 = table_new(), *t1 = table_new(), *changed = table_new();
	size_t i, n;

	(void)state;
	ten_workers(w);
	assert_int_equal(maglev__build(w, 10, M, NULL, t0), 0);
	w[6].weight = 2; /* id 128 */
	assert_int_equal(maglev__build(w, 10, M, t0, t1), 0);
	assert_exact_quotas(w, 10, M, t1);
	n = maglev__diff(t0, t1, M, changed);
	assert_int_equal(n, expected_quota(w, 10, M, 128) -
				    count_owner(t0, M, 128));
	for (i = 0; i < n; i++)
		assert_int_equal(t1[changed[i]], 128);
	free(t0);
	free(t1);
	free(changed);
}

/*
 * When workers shrink to a smaller quota, each keeps the slots it reaches
 * earliest in its own permutation and releases the later ones.
 */
static void test_over_quota_keeps_earliest(void **state)
{
	struct maglev_worker w[10];
	__u32 *t0 = table_new(), *t1 = table_new();
	size_t i;
	__u32 s;

	(void)state;
	ten_workers(w);
	w[9].weight = 0; /* id 201 starts drained */
	assert_int_equal(maglev__build(w, 10, M, NULL, t0), 0);
	w[9].weight = 4; /* and comes back heavy: all others shrink */
	assert_int_equal(maglev__build(w, 10, M, t0, t1), 0);
	assert_exact_quotas(w, 10, M, t1);
	for (i = 0; i < 9; i++) {
		__u32 id = w[i].id, m = M;
		__u32 off = maglev__hash(id, MAGLEV_SEED_OFFSET) % m;
		__u32 skip = maglev__hash(id, MAGLEV_SEED_SKIP) % (m - 1) + 1;
		__u32 inv = maglev__pow_mod(skip, m - 2, m);
		__u32 last_kept = 0, first_released = m;
		size_t released = 0;

		for (s = 0; s < m; s++) {
			__u32 j;

			if (t0[s] != id)
				continue;
			j = maglev__position(s, off, inv, m);
			if (t1[s] == id) {
				if (j > last_kept)
					last_kept = j;
			} else {
				released++;
				if (j < first_released)
					first_released = j;
			}
		}
		assert_true(released > 0);
		assert_true(last_kept < first_released);
		/* a shrinking worker gains nothing new */
		assert_int_equal(count_owner(t1, M, id),
				 count_owner(t0, M, id) - released);
	}
	free(t0);
	free(t1);
}

static void test_enomem(void **state)
{
	struct maglev_worker w[10];
	__u32 *t0 = table_new(), *t1 = table_new();

	(void)state;
	ten_workers(w);
	w[0].weight = 0;
	assert_int_equal(maglev__build(w, 10, M, NULL, t0), 0);
	w[0].weight = 1; /* others over quota: the keep step allocates */
	fail_malloc = 1;
	assert_int_equal(maglev__build(w, 10, M, t0, t1), -ENOMEM);
	fail_malloc = 0;
	assert_int_equal(maglev__build(w, 10, M, t0, t1), 0);
	assert_exact_quotas(w, 10, M, t1);
	free(t0);
	free(t1);
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

static void test_input_order_irrelevant(void **state)
{
	struct maglev_worker w[10], nine[9];
	__u32 *ref = table_new(), *t = table_new();
	__u32 *prev = table_new(), *ref_prev = table_new();
	__u32 rng = 12345;
	int round;

	(void)state;
	ten_workers(w);
	w[4].weight = 7;
	w[8].weight = 0;
	assert_int_equal(maglev__build(w, 10, M, NULL, ref), 0);
	/* a prev from another set, for the keep path */
	memcpy(nine, w + 1, sizeof(nine));
	assert_int_equal(maglev__build(nine, 9, M, NULL, prev), 0);
	assert_int_equal(maglev__build(w, 10, M, prev, ref_prev), 0);
	for (round = 0; round < 8; round++) {
		shuffle(w, 10, &rng);
		assert_int_equal(maglev__build(w, 10, M, NULL, t), 0);
		assert_memory_equal(ref, t, M * sizeof(*t));
		assert_int_equal(maglev__build(w, 10, M, prev, t), 0);
		assert_memory_equal(ref_prev, t, M * sizeof(*t));
	}
	free(ref);
	free(t);
	free(prev);
	free(ref_prev);
}

/* prev may be the output table itself, and may hold unknown ids. */
static void test_prev_in_place_and_foreign_ids(void **state)
{
	struct maglev_worker w[10], nine[9];
	__u32 *t = table_new(), *ref = table_new(), *prev = table_new();
	__u32 s;

	(void)state;
	ten_workers(w);
	memcpy(nine, w, sizeof(nine));
	assert_int_equal(maglev__build(w, 10, M, NULL, prev), 0);
	assert_int_equal(maglev__build(nine, 9, M, prev, ref), 0);
	memcpy(t, prev, M * sizeof(*t));
	assert_int_equal(maglev__build(nine, 9, M, t, t), 0);
	assert_memory_equal(ref, t, M * sizeof(*t));

	/* ids that are not workers (none, out of range, absent) are free */
	for (s = 0; s < M; s += 3)
		prev[s] = s % 2 ? LB_WORKER_NONE : 1000 + s;
	for (s = 1; s < M; s += 7)
		prev[s] = 77;
	assert_int_equal(maglev__build(nine, 9, M, prev, t), 0);
	assert_exact_quotas(nine, 9, M, t);
	free(t);
	free(ref);
	free(prev);
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
	assert_int_equal(maglev__build(dup, 3, M, NULL, t), -EINVAL);
	assert_int_equal(maglev__build(big, 2, M, NULL, t), -EINVAL);
	assert_int_equal(maglev__build(ok, 2, 65536, NULL, t), -EINVAL);
	assert_int_equal(maglev__build(ok, 2, 2, NULL, t), -EINVAL);
	assert_int_equal(maglev__build(ok, 2, 0, NULL, t), -EINVAL);
	assert_int_equal(maglev__build(ok, 2, 16777259, NULL, t), -EINVAL);
	for (i = 0; i <= LB_MAX_WORKERS; i++) {
		many[i].id = i % LB_MAX_WORKERS;
		many[i].weight = 1;
	}
	assert_int_equal(maglev__build(many, LB_MAX_WORKERS + 1, M, NULL, t),
			 -EINVAL);
	/* the valid neighbours of those cases do build */
	assert_int_equal(maglev__build(ok, 2, M, NULL, t), 0);
	assert_int_equal(maglev__build(ok, 2, 3, NULL, t), 0);
	assert_int_equal(maglev__build(many, LB_MAX_WORKERS, M, NULL, t), 0);
	free(t);
}

static void test_no_workers(void **state)
{
	struct maglev_worker zero[] = { { 3, 0 }, { 4, 0 } };
	struct maglev_worker one[] = { { 3, 1 } };
	__u32 *t = table_new(), *prev = table_new();

	(void)state;
	assert_int_equal(maglev__build(one, 1, M, NULL, prev), 0);
	assert_int_equal(count_owner(prev, M, 3), M);

	memset(t, 0, M * sizeof(*t));
	assert_int_equal(maglev__build(NULL, 0, M, NULL, t), 0);
	assert_int_equal(count_owner(t, M, LB_WORKER_NONE), M);

	memset(t, 0, M * sizeof(*t));
	assert_int_equal(maglev__build(zero, 2, M, prev, t), 0);
	assert_int_equal(count_owner(t, M, LB_WORKER_NONE), M);

	memset(t, 0, M * sizeof(*t));
	assert_int_equal(maglev__build(NULL, 0, M, prev, t), 0);
	assert_int_equal(count_owner(t, M, LB_WORKER_NONE), M);
	free(t);
	free(prev);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_size),
		cmocka_unit_test(test_permutation_position),
		cmocka_unit_test(test_equal_weights),
		cmocka_unit_test(test_weights_one_two),
		cmocka_unit_test(test_remove_and_add_back),
		cmocka_unit_test(test_rebuild_same_set_is_stable),
		cmocka_unit_test(test_drain),
		cmocka_unit_test(test_weight_increase_moves_only_to_it),
		cmocka_unit_test(test_over_quota_keeps_earliest),
		cmocka_unit_test(test_enomem),
		cmocka_unit_test(test_input_order_irrelevant),
		cmocka_unit_test(test_prev_in_place_and_foreign_ids),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_no_workers),
		cmocka_unit_test(test_diff),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
