// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Global rings of scale-out (maglev__build_refs): slots hold
 * LB_REF(host, worker); every balancer must compute the same table from
 * the same set whatever order it learnt it in, and a host that leaves
 * moves about its share of the slots, no more.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "lb_kern_user.h"
#include "maglev.h"

#define M 65537u
#define HOSTS 3
#define PER_HOST 8

static __u32 *table_new(void)
{
	__u32 *t = malloc(M * sizeof(*t));

	assert_non_null(t);
	return t;
}

/* hosts 11, 12, 13 with workers 0..7, weights 1..3 */
static size_t cluster_set(struct maglev_worker *w, __u32 skip_host)
{
	size_t n = 0;
	__u32 h, i;

	for (h = 0; h < HOSTS; h++) {
		if (11 + h == skip_host)
			continue;
		for (i = 0; i < PER_HOST; i++) {
			w[n].id = LB_REF(11 + h, i);
			w[n++].weight = 1 + (h + i) % 3;
		}
	}
	return n;
}

static void shuffle(struct maglev_worker *w, size_t n, unsigned int seed)
{
	size_t i;

	srand(seed);
	for (i = n - 1; i > 0; i--) {
		size_t j = (size_t)rand() % (i + 1);
		struct maglev_worker t = w[i];

		w[i] = w[j];
		w[j] = t;
	}
}

static void test_same_set_any_order(void **state)
{
	struct maglev_worker w[HOSTS * PER_HOST];
	__u32 *ref = table_new(), *t = table_new();
	size_t n = cluster_set(w, 0), s;
	unsigned int seed;

	(void)state;
	assert_int_equal(maglev__build_refs(w, n, M, ref), 0);
	for (s = 0; s < M; s++) {
		__u32 host = LB_REF_HOST(ref[s]);

		assert_true(host >= 11 && host < 11 + HOSTS);
		assert_true(LB_REF_WORKER(ref[s]) < PER_HOST);
	}
	for (seed = 1; seed <= 20; seed++) {
		shuffle(w, n, seed);
		assert_int_equal(maglev__build_refs(w, n, M, t), 0);
		assert_memory_equal(ref, t, M * sizeof(*t));
	}
	free(ref);
	free(t);
}

/* Each host's share follows its weights; one host leaving moves its own
 * slots and about as many again at most (Maglev's disruption), never the
 * whole table. */
static void test_host_leaves(void **state)
{
	struct maglev_worker all[HOSTS * PER_HOST], less[HOSTS * PER_HOST];
	__u32 *t0 = table_new(), *t1 = table_new(), *changed;
	size_t n = cluster_set(all, 0), nl = cluster_set(less, 12), moved,
	       held = 0, s;
	__u32 wsum = 0, wgone = 0, i;

	(void)state;
	changed = malloc(M * sizeof(*changed));
	assert_non_null(changed);
	assert_int_equal(maglev__build_refs(all, n, M, t0), 0);
	assert_int_equal(maglev__build_refs(less, nl, M, t1), 0);
	for (i = 0; i < n; i++) {
		wsum += all[i].weight;
		if (LB_REF_HOST(all[i].id) == 12)
			wgone += all[i].weight;
	}
	for (s = 0; s < M; s++) {
		held += LB_REF_HOST(t0[s]) == 12;
		assert_true(LB_REF_HOST(t1[s]) != 12);
	}
	/* the share by weight, exact quotas */
	assert_true(held >= (size_t)M * wgone / wsum - 1 &&
		    held <= (size_t)M * wgone / wsum + 1);
	moved = maglev__diff(t0, t1, M, changed);
	print_message(
		"host 12 of %d held %zu slots (%.1f%%); %zu moved (%.1f%%)\n",
		HOSTS, held, 100.0 * held / M, moved, 100.0 * moved / M);
	assert_true(moved >= held);
	assert_true(moved < held + held / 2);
	free(t0);
	free(t1);
	free(changed);
}

static void test_refs_rejected(void **state)
{
	struct maglev_worker dup[] = { { LB_REF(1, 2), 1 },
				       { LB_REF(2, 2), 1 },
				       { LB_REF(1, 2), 3 } };
	struct maglev_worker none[] = { { LB_WORKER_NONE, 1 } };
	struct maglev_worker many_ok[] = { { LB_REF(255, 255), 1 },
					   { LB_REF(1, 0), 1 } };
	__u32 *t = table_new();

	(void)state;
	assert_int_equal(maglev__build_refs(dup, 3, M, t), -EINVAL);
	assert_int_equal(maglev__build_refs(none, 1, M, t), -EINVAL);
	assert_int_equal(maglev__build_refs(many_ok, 2, M, t), 0);
	/* plain maglev__build still refuses refs: a single host's ids */
	assert_int_equal(maglev__build(many_ok, 2, M, t), -EINVAL);
	assert_int_equal(maglev__build_refs(many_ok, MAGLEV_MAX_REFS + 1, M, t),
			 -EINVAL);
	free(t);
}

/* A single host's ring is the same whether built as ids or as refs of
 * host 0: refs do not change the hash of a plain id. */
static void test_host_zero_is_single_host(void **state)
{
	struct maglev_worker w[10];
	__u32 *a = table_new(), *b = table_new();
	int i;

	(void)state;
	for (i = 0; i < 10; i++) {
		w[i].id = LB_REF(0, i * 5);
		w[i].weight = 1 + i;
	}
	assert_int_equal(maglev__build(w, 10, M, a), 0);
	assert_int_equal(maglev__build_refs(w, 10, M, b), 0);
	assert_memory_equal(a, b, M * sizeof(*a));
	free(a);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_set_any_order),
		cmocka_unit_test(test_host_leaves),
		cmocka_unit_test(test_refs_rejected),
		cmocka_unit_test(test_host_zero_is_single_host),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
