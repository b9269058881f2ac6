// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Upstream selection and health state (tls-tier/core/upstream.c), driven
 * directly: shares per algorithm, nginx's smooth round-robin sequence,
 * passive and active health transitions.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "config.h"
#include "upstream.h"

static void make_upstream(struct upstream *u, enum lb_algo algo,
			  const int *weights, unsigned n)
{
	static struct cfg_upstream c;
	unsigned i;

	memset(&c, 0, sizeof(c));
	for (i = 0; i < n; i++) {
		struct cfg_addr a;

		assert_int_equal(
			config__parse_addr("127.0.0.1:5000", &a, false), 0);
		snprintf(c.servers[i].name, sizeof(c.servers[i].name),
			 "127.0.0.1:%u", 5001 + i);
		c.servers[i].ss = a.ss;
		c.servers[i].len = a.len;
		c.servers[i].weight = weights[i];
	}
	c.nservers = n;
	c.algo = algo;
	c.max_fails = 1;
	c.fail_timeout_ms = 10000;
	assert_int_equal(upstream__init(u, &c, 12345), 0);
}

static struct sockaddr_in client4(uint32_t host)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };

	sin.sin_addr.s_addr = htonl(0xc6120000 | host); /* 198.18.x.x */
	return sin;
}

static void test_smooth_rr_sequence(void **state)
{
	static const int w[] = { 5, 1, 1 };
	static const int want[] = { 0, 0, 1, 0, 2, 0, 0 }; /* a a b a c a a */
	struct upstream u;
	unsigned round, i;

	(void)state;
	make_upstream(&u, LB_ROUND_ROBIN, w, 3);
	for (round = 0; round < 3; round++)
		for (i = 0; i < 7; i++)
			assert_int_equal(upstream__pick(&u, NULL, 0, 0),
					 want[i]);
}

static void test_rr_shares_and_order(void **state)
{
	static const int w[] = { 1, 1, 1 };
	static const int wt[] = { 3, 1 };
	unsigned count[2] = { 0 }, i;
	struct upstream u;

	(void)state;
	make_upstream(&u, LB_ROUND_ROBIN, w, 3);
	for (i = 0; i < 9; i++)
		assert_int_equal(upstream__pick(&u, NULL, 0, 0), i % 3);
	make_upstream(&u, LB_ROUND_ROBIN, wt, 2);
	for (i = 0; i < 400; i++)
		count[upstream__pick(&u, NULL, 0, 0)]++;
	assert_int_equal(count[0], 300);
	assert_int_equal(count[1], 100);
}

static void test_tried_mask_and_none_left(void **state)
{
	static const int w[] = { 1, 1, 1 };
	struct upstream u;
	int a, b, c;

	(void)state;
	make_upstream(&u, LB_ROUND_ROBIN, w, 3);
	a = upstream__pick(&u, NULL, 0, 0);
	b = upstream__pick(&u, NULL, 0, 1ULL << a);
	assert_int_not_equal(a, b);
	c = upstream__pick(&u, NULL, 0, (1ULL << a) | (1ULL << b));
	assert_int_not_equal(c, a);
	assert_int_not_equal(c, b);
	assert_int_equal(upstream__pick(&u, NULL, 0, 7), -EHOSTUNREACH);
}

static void test_least_conn(void **state)
{
	static const int w[] = { 1, 1, 1 };
	static const int wt[] = { 2, 1 };
	unsigned count[3] = { 0 }, i;
	struct upstream u;

	(void)state;
	make_upstream(&u, LB_LEAST_CONN, w, 3);
	u.servers[0].active = 5;
	u.servers[1].active = 1;
	u.servers[2].active = 3;
	assert_int_equal(upstream__pick(&u, NULL, 0, 0), 1);
	/* excluded by 'tried': the next least loaded */
	assert_int_equal(upstream__pick(&u, NULL, 0, 1ULL << 1), 2);
	/* ties broken by round-robin: all three share equally */
	u.servers[0].active = u.servers[1].active = u.servers[2].active = 0;
	for (i = 0; i < 300; i++)
		count[upstream__pick(&u, NULL, 0, 0)]++;
	assert_int_equal(count[0], 100);
	assert_int_equal(count[1], 100);
	assert_int_equal(count[2], 100);
	/* load is per unit of weight: 2 on weight 2 equals 1 on weight 1 */
	make_upstream(&u, LB_LEAST_CONN, wt, 2);
	u.servers[0].active = 3;
	u.servers[1].active = 1;
	assert_int_equal(upstream__pick(&u, NULL, 0, 0), 1);
	u.servers[0].active = 1;
	u.servers[1].active = 1;
	assert_int_equal(upstream__pick(&u, NULL, 0, 0), 0);
}

static void test_ip_hash(void **state)
{
	static const int w[] = { 1, 1, 1 };
	unsigned count[3] = { 0 }, i;
	int first[256];
	struct upstream u;

	(void)state;
	make_upstream(&u, LB_IP_HASH, w, 3);
	for (i = 0; i < 256; i++) {
		struct sockaddr_in sin = client4(i);

		first[i] = upstream__pick(&u, (struct sockaddr *)&sin, 0, 0);
		assert_in_range(first[i], 0, 2);
		count[first[i]]++;
		/* sticky */
		assert_int_equal(
			upstream__pick(&u, (struct sockaddr *)&sin, 0, 0),
			first[i]);
	}
	/* every server gets a fair part of 256 clients */
	for (i = 0; i < 3; i++)
		assert_in_range(count[i], 50, 120);
	/* server 1 down: its clients move, nobody else does */
	u.servers[1].health_down = true;
	for (i = 0; i < 256; i++) {
		struct sockaddr_in sin = client4(i);
		int p = upstream__pick(&u, (struct sockaddr *)&sin, 0, 0);

		assert_int_not_equal(p, 1);
		if (first[i] != 1)
			assert_int_equal(p, first[i]);
	}
}

static void test_random_two(void **state)
{
	static const int w[] = { 1, 1, 2 };
	static const int w2[] = { 1, 1 };
	unsigned count[3] = { 0 }, i;
	struct upstream u;

	(void)state;
	make_upstream(&u, LB_RANDOM_TWO, w, 3);
	/* Idle servers: two weighted draws, ties go to the first draw, so
	 * the shares follow the weights (25% 25% 50%). */
	for (i = 0; i < 4000; i++)
		count[upstream__pick(&u, NULL, 0, 0)]++;
	assert_in_range(count[0], 800, 1200);
	assert_in_range(count[1], 800, 1200);
	assert_in_range(count[2], 1600, 2400);
	/* With two servers both are always drawn: the less loaded wins. */
	make_upstream(&u, LB_RANDOM_TWO, w2, 2);
	u.servers[0].active = 4;
	u.servers[1].active = 2;
	for (i = 0; i < 100; i++)
		assert_int_equal(upstream__pick(&u, NULL, 0, 0), 1);
}

static void test_passive_health(void **state)
{
	static const int w[] = { 1, 1 };
	struct upstream u;
	unsigned i;

	(void)state;
	make_upstream(&u, LB_ROUND_ROBIN, w, 2);
	u.max_fails = 2;
	u.fail_timeout = 1000;
	upstream__fail(&u, 0, 100);
	assert_true(upstream__available(&u, 0, 100)); /* 1 of 2 */
	upstream__fail(&u, 0, 200);
	assert_false(upstream__available(&u, 0, 200));
	for (i = 0; i < 10; i++)
		assert_int_equal(upstream__pick(&u, NULL, 500, 0), 1);
	/* fail_timeout over: one probe request, then shut again */
	assert_true(upstream__available(&u, 0, 1201));
	for (i = 0; i < 4 && upstream__pick(&u, NULL, 1201, 0) != 0; i++)
		;
	assert_true(i < 4);
	assert_false(upstream__available(&u, 0, 1300));
	/* the probe succeeded: back in rotation */
	upstream__success(&u, 0);
	assert_true(upstream__available(&u, 0, 1300));
	/* max_fails 0 turns passive health off */
	u.max_fails = 0;
	for (i = 0; i < 10; i++)
		upstream__fail(&u, 1, 2000);
	assert_true(upstream__available(&u, 1, 2000));
}

static void test_active_health(void **state)
{
	static const int w[] = { 1, 1 };
	struct upstream u;

	(void)state;
	make_upstream(&u, LB_ROUND_ROBIN, w, 2);
	/* fall 3: down on the third failure in a row */
	assert_int_equal(upstream__health_result(&u, 0, false, 2, 3), 0);
	assert_int_equal(upstream__health_result(&u, 0, false, 2, 3), 0);
	assert_int_equal(upstream__health_result(&u, 0, false, 2, 3), -1);
	assert_false(upstream__available(&u, 0, 0));
	assert_int_equal(upstream__pick(&u, NULL, 0, 0), 1);
	assert_int_equal(upstream__pick(&u, NULL, 0, 0), 1);
	/* rise 2: a success, a failure, then two successes */
	assert_int_equal(upstream__health_result(&u, 0, true, 2, 3), 0);
	assert_int_equal(upstream__health_result(&u, 0, false, 2, 3), 0);
	assert_int_equal(upstream__health_result(&u, 0, true, 2, 3), 0);
	assert_false(upstream__available(&u, 0, 0));
	assert_int_equal(upstream__health_result(&u, 0, true, 2, 3), 1);
	assert_true(upstream__available(&u, 0, 0));
	/* both down: nothing to pick */
	u.servers[0].health_down = u.servers[1].health_down = true;
	assert_int_equal(upstream__pick(&u, NULL, 0, 0), -EHOSTUNREACH);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_smooth_rr_sequence),
		cmocka_unit_test(test_rr_shares_and_order),
		cmocka_unit_test(test_tried_mask_and_none_left),
		cmocka_unit_test(test_least_conn),
		cmocka_unit_test(test_ip_hash),
		cmocka_unit_test(test_random_two),
		cmocka_unit_test(test_passive_health),
		cmocka_unit_test(test_active_health),
	};

	return cmocka_run_group_tests_name("lbtls_upstream", tests, NULL, NULL);
}
