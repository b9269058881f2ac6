// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The second chance across two membership changes (issue 22): a worker
 * host added, then another drained, within second_chance. A flow that the
 * first change moved off host 1 must still find host 1 in lb_rings_prev
 * after the second change, when the second change leaves its slot alone.
 * A copy of the whole ring at each change (the first form) would leave the
 * added host there instead: this test fails on it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include "fixture.h"
#include "cluster_ring.h"

#define RING FX_RING

static __u32 before[RING], added[RING], drained[RING], prev[RING];

/* Workers 0 and 1 on each of the hosts in 'hosts' (n of them). */
static size_t refs_of(const __u32 *hosts, int n, struct maglev_worker *w)
{
	size_t k = 0;
	int i, j;

	for (i = 0; i < n; i++)
		for (j = 0; j < 2; j++) {
			w[k].id = LB_REF(hosts[i], j);
			w[k++].weight = 1;
		}
	return k;
}

static void rebuild(struct fixture *fx, const __u32 *hosts, int n, __u32 *ring)
{
	struct maglev_worker w[16];
	size_t moved, k = refs_of(hosts, n, w);

	assert_int_equal(cluster_ring__rebuild(&fx->dp, 0, w, k, &moved), 0);
	assert_int_equal(dataplane__ring_read(&fx->dp, 0, ring), 0);
}

static void test_second_chance_survives_two_changes(void **state)
{
	static const __u32 two[] = { 1, 2 }, three[] = { 1, 2, 3 },
			   after_drain[] = { 2, 3 };
	struct fixture *fx = *state;
	size_t kept = 0, moved_to_3 = 0, s;

	rebuild(fx, two, 2, before);
	rebuild(fx, three, 3, added);
	rebuild(fx, after_drain, 2, drained);
	assert_int_equal(
		dataplane__ring_read_map(&fx->dp, DP_RINGS_PREV, 0, prev), 0);
	for (s = 0; s < RING; s++) {
		/* the drain changed the slot: its second chance is what it
		 * held just before (host 1's flows, when host 1 held it) */
		if (drained[s] != added[s]) {
			assert_int_equal(prev[s], added[s]);
			continue;
		}
		/* moved from host 1 to the added host 3 by the first change,
		 * left alone by the drain: host 1 is still its second chance */
		if (LB_REF_HOST(before[s]) == 1 && LB_REF_HOST(added[s]) == 3) {
			moved_to_3++;
			assert_int_equal(prev[s], before[s]);
			kept++;
		}
	}
	print_message(
		"slots moved from host 1 to host 3 and kept as host 1's second chance: %zu of %zu\n",
		kept, moved_to_3);
	assert_true(moved_to_3 > 0);
}

static int setup(void **state)
{
	struct fixture *fx;

	if (fx_setup(&fx))
		return -1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	return fx_teardown(*state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_second_chance_survives_two_changes),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
