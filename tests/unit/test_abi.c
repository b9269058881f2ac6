// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Every struct that crosses the BPF/user-space line has the size and field
 * offsets both sides assume: no implicit padding, no surprise from a
 * compiler or architecture change. A change here is an ABI change for
 * pinned maps (a restarted lbctl reuses them).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include "lb_kern_user.h"
#include "lb_proto.h"

static void test_addr(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct lb_addr), 16);
	assert_int_equal(offsetof(struct lb_addr, v4),
			 offsetof(struct lb_addr, v6));
}

static void test_vip_key(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct lb_vip_key), 20);
	assert_int_equal(offsetof(struct lb_vip_key, port), 16);
	assert_int_equal(offsetof(struct lb_vip_key, proto), 18);
	assert_int_equal(offsetof(struct lb_vip_key, family), 19);
}

static void test_vip_meta(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct lb_vip_meta), 8);
	assert_int_equal(offsetof(struct lb_vip_meta, v4_prefix), 4);
	assert_int_equal(offsetof(struct lb_vip_meta, v6_prefix), 5);
	assert_int_equal(offsetof(struct lb_vip_meta, listener), 6);
	assert_int_equal(offsetof(struct lb_vip_meta, flags), 7);
}

static void test_firewall(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct lb_addr_key), 20);
	assert_int_equal(offsetof(struct lb_addr_key, family), 16);
	assert_int_equal(sizeof(struct lb_vip_addr), 32);
	assert_int_equal(offsetof(struct lb_vip_addr, ports), 8);
	assert_int_equal(offsetof(struct lb_vip_addr, index), 24);
	assert_int_equal(sizeof(struct lb_lpm_v4), 8);
	assert_int_equal(sizeof(struct lb_lpm_v6), 20);
	assert_int_equal(sizeof(struct lb_src_rule), 4);
	/* vip index fits the u8 of lb_vip_addr.index */
	assert_true(LB_MAX_VIPS <= 256);
}

static void test_flood(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct lb_flood), 24);
	assert_int_equal(sizeof(struct lb_flood_state), 8);
	assert_int_equal(sizeof(struct lb_bucket), 8);
}

static void test_worker_state(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct lb_worker_key), 8);
	assert_int_equal(sizeof(struct lb_worker_state), 8);
	assert_int_equal(offsetof(struct lb_worker_state, flags), 4);
}

static void test_config_and_counters(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct lb_config), 80);
	assert_int_equal(offsetof(struct lb_config, self_host), 64);
	assert_int_equal(offsetof(struct lb_config, gue_port), 72);
	assert_int_equal(offsetof(struct lb_config, src_v4_prefix), 28);
	assert_int_equal(offsetof(struct lb_config, src_rules_v4), 32);
	assert_int_equal(offsetof(struct lb_config, cookie_key), 48);
	assert_int_equal(sizeof(struct lb_counters), 7 * 8);
}

static void test_cluster(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct lb_host), 8);
	assert_int_equal(sizeof(struct lb_host_addr), 4);
	assert_int_equal(sizeof(struct lb_gue_hdr), 12);
	assert_int_equal(LB_ENCAP_OVERHEAD, 20 + 8 + sizeof(struct lb_gue_hdr));
	assert_int_equal(LB_REF_HOST(LB_REF(11, 3)), 11);
	assert_int_equal(LB_REF_WORKER(LB_REF(11, 3)), 3);
	/* a single host's rings hold plain worker ids: host 0 */
	assert_int_equal(LB_REF(0, 7), 7);
}

static void test_registration(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct lb_register), 24);
	assert_int_equal(offsetof(struct lb_register, listener), 16);
	assert_int_equal(offsetof(struct lb_register, family), 20);
	assert_int_equal(sizeof(struct lb_register_reply), 128);
	/* version 2: listeners per family; a version 1 worker is refused */
	assert_int_equal(LB_PROTO_VERSION, 2);
}

/* Every (kind, family, worker) has its own lb_sockets slot, in range. */
static void test_socket_slots(void **state)
{
	static unsigned char seen[LB_MAX_LISTENERS * LB_MAX_WORKERS];
	const __u8 families[2] = { LB_FAMILY_V4, LB_FAMILY_V6 };
	__u32 kind, f, w, slot;

	(void)state;
	assert_int_equal(LB_MAX_LISTENERS, 2 * LB_LISTENER_KINDS);
	for (kind = 0; kind < LB_LISTENER_KINDS; kind++)
		for (f = 0; f < 2; f++)
			for (w = 0; w < LB_MAX_WORKERS; w++) {
				slot = LB_SOCKET_SLOT(kind, families[f], w);
				assert_true(slot <
					    LB_MAX_LISTENERS * LB_MAX_WORKERS);
				assert_int_equal(seen[slot]++, 0);
			}
}

static void test_limits(void **state)
{
	(void)state;
	/* lb_rings must stay addressable with a 32-bit key at the largest
	 * ring size maglev accepts (2^24). */
	assert_true((unsigned long long)LB_MAX_VIPS * (1u << 24) <=
		    0xffffffffull);
	assert_true(LB_MAX_WORKERS < LB_WORKER_NONE);
}

/* The cookie gate (issue 20): sysctl bits apart from each other and from
 * the operator's, and the lb_cookie_ifs value. */
static void test_cookie_gate(void **state)
{
	const __u32 bits[] = { LB_CF_FLOOD, LB_CF_COOKIES, LB_CF_NO_SYNCOOKIES,
			       LB_CF_NO_TS, LB_CF_NO_SACK, LB_CF_NO_WSCALE };
	__u32 seen = 0;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
		assert_int_equal(bits[i] & (bits[i] - 1), 0);
		assert_int_equal(seen & bits[i], 0);
		seen |= bits[i];
	}
	assert_int_equal(sizeof(struct lb_cookie_if), 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr),
		cmocka_unit_test(test_vip_key),
		cmocka_unit_test(test_vip_meta),
		cmocka_unit_test(test_firewall),
		cmocka_unit_test(test_flood),
		cmocka_unit_test(test_worker_state),
		cmocka_unit_test(test_config_and_counters),
		cmocka_unit_test(test_cluster),
		cmocka_unit_test(test_registration),
		cmocka_unit_test(test_socket_slots),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_cookie_gate),
	};

	return cmocka_run_group_tests_name("abi", tests, NULL, NULL);
}
