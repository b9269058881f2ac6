// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * peers.c: connections per client address for
 * limits.per_client_connections. IPv4 and its v4-mapped IPv6 form are one
 * client; an IPv6 client is its prefix (a host picks addresses from a /64).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "peers.h"

static struct sockaddr_storage addr(const char *s)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(s, ':')) {
		ss.ss_family = AF_INET6;
		assert_int_equal(
			inet_pton(AF_INET6, s,
				  &((struct sockaddr_in6 *)&ss)->sin6_addr),
			1);
	} else {
		ss.ss_family = AF_INET;
		assert_int_equal(
			inet_pton(AF_INET, s,
				  &((struct sockaddr_in *)&ss)->sin_addr),
			1);
	}
	return ss;
}

static void test_limit_per_v4_address(void **state)
{
	struct peer_counts *pc = peers__new(64);
	struct sockaddr_storage a = addr("198.18.1.10"),
				b = addr("198.18.1.11");
	int i;

	(void)state;
	assert_non_null(pc);
	for (i = 0; i < 3; i++)
		assert_int_equal(peers__add(pc, &a, 3), 0);
	assert_int_equal(peers__add(pc, &a, 3), -EBUSY);
	assert_int_equal(peers__count(pc, &a), 3);
	assert_int_equal(peers__add(pc, &b, 3), 0);
	peers__del(pc, &a);
	assert_int_equal(peers__add(pc, &a, 3), 0);
	for (i = 0; i < 3; i++)
		peers__del(pc, &a);
	assert_int_equal(peers__count(pc, &a), 0);
	assert_int_equal(peers__count(pc, &b), 1);
	peers__free(pc);
}

static void test_v4_mapped_is_the_v4_client(void **state)
{
	struct peer_counts *pc = peers__new(64);
	struct sockaddr_storage a = addr("198.18.1.10"),
				m = addr("::ffff:198.18.1.10"),
				o = addr("::ffff:198.18.1.11");

	(void)state;
	assert_int_equal(peers__add(pc, &a, 2), 0);
	assert_int_equal(peers__add(pc, &m, 2), 0);
	assert_int_equal(peers__add(pc, &a, 2), -EBUSY);
	assert_int_equal(peers__add(pc, &o, 2), 0);
	peers__free(pc);
}

static void test_v6_client_is_its_prefix(void **state)
{
	struct peer_counts *pc64 = peers__new(64), *pc128 = peers__new(128),
			   *pc56 = peers__new(56);
	struct sockaddr_storage a = addr("fd00:198:18:1::1"),
				b = addr("fd00:198:18:1:ffff::2"),
				c = addr("fd00:198:18:2::1"),
				d = addr("fd00:198:18:1f::1");

	(void)state;
	/* one /64: a and b are one client */
	assert_int_equal(peers__add(pc64, &a, 1), 0);
	assert_int_equal(peers__add(pc64, &b, 1), -EBUSY);
	assert_int_equal(peers__add(pc64, &c, 1), 0);
	/* /128: every address its own */
	assert_int_equal(peers__add(pc128, &a, 1), 0);
	assert_int_equal(peers__add(pc128, &b, 1), 0);
	/* /56: fd00:198:18:1:: and fd00:198:18:1f:: share the first 56 bits */
	assert_int_equal(peers__add(pc56, &a, 1), 0);
	assert_int_equal(peers__add(pc56, &d, 1), -EBUSY);
	peers__free(pc64);
	peers__free(pc128);
	peers__free(pc56);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_limit_per_v4_address),
		cmocka_unit_test(test_v4_mapped_is_the_v4_client),
		cmocka_unit_test(test_v6_client_is_its_prefix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
