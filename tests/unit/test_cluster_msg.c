// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Membership announcements (user/state/cluster_msg.c): a round trip, then
 * everything a receiver must refuse: any byte changed, a wrong key, sizes
 * out of bounds, worker counts that lie, replays, an earlier boot and
 * times out of the window.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "cluster_msg.h"

static const __u8 key[32] = "0123456789abcdef0123456789abcdef";
static const __u8 other_key[32] = "0123456789abcdef0123456789abcdeF";

static struct cluster_msg sample(int nworkers)
{
	struct cluster_msg m;
	int i;

	memset(&m, 0, sizeof(m));
	m.flags = CM_F_DRAINING;
	m.host = 11;
	m.boot = 0x1122334455667788ull;
	m.seq = 42;
	m.time_ms = 1800000000000ull;
	m.nworkers = nworkers;
	for (i = 0; i < nworkers; i++) {
		m.workers[i].id = (i * 7) % LB_MAX_WORKERS;
		m.workers[i].weight = 1 + i % 256;
	}
	return m;
}

static void test_round_trip(void **state)
{
	static struct cluster_msg in, out;
	__u8 buf[CM_MAX_LEN];
	int n, len;

	(void)state;
	for (n = 0; n <= CM_MAX_WORKERS; n += n < 4 ? 1 : 63) {
		in = sample(n);
		len = cluster_msg__encode(&in, key, sizeof(key), buf,
					  sizeof(buf));
		assert_int_equal(len, CM_HDR_LEN + 4 * n + CM_MAC_LEN);
		memset(&out, 0xa5, sizeof(out));
		assert_int_equal(
			cluster_msg__decode(buf, len, key, sizeof(key), &out),
			CM_OK);
		assert_int_equal(out.flags, in.flags);
		assert_int_equal(out.host, in.host);
		assert_true(out.boot == in.boot);
		assert_true(out.seq == in.seq);
		assert_true(out.time_ms == in.time_ms);
		assert_int_equal(out.nworkers, n);
		assert_memory_equal(out.workers, in.workers, 4 * n);
	}
}

static void test_every_byte_tampered(void **state)
{
	struct cluster_msg m = sample(5), out;
	__u8 buf[CM_MAX_LEN];
	int len, i, bit;

	(void)state;
	len = cluster_msg__encode(&m, key, sizeof(key), buf, sizeof(buf));
	assert_true(len > 0);
	for (i = 0; i < len; i++)
		for (bit = 0; bit < 8; bit++) {
			buf[i] ^= 1 << bit;
			assert_int_equal(cluster_msg__decode(buf, len, key,
							     sizeof(key), &out),
					 CM_R_MAC);
			buf[i] ^= 1 << bit;
		}
	assert_int_equal(cluster_msg__decode(buf, len, key, sizeof(key), &out),
			 CM_OK);
}

static void test_wrong_key(void **state)
{
	struct cluster_msg m = sample(2), out;
	__u8 buf[CM_MAX_LEN];
	int len;

	(void)state;
	len = cluster_msg__encode(&m, key, sizeof(key), buf, sizeof(buf));
	assert_int_equal(cluster_msg__decode(buf, len, other_key,
					     sizeof(other_key), &out),
			 CM_R_MAC);
	/* a key shorter than the minimum is not used to send */
	assert_int_equal(cluster_msg__encode(&m, key, 16, buf, sizeof(buf)),
			 -EINVAL);
}

static void test_sizes(void **state)
{
	struct cluster_msg m = sample(3), out;
	__u8 buf[CM_MAX_LEN + 8];
	int len, cut;

	(void)state;
	len = cluster_msg__encode(&m, key, sizeof(key), buf, sizeof(buf));
	for (cut = 0; cut < CM_MIN_LEN; cut++)
		assert_int_equal(
			cluster_msg__decode(buf, cut, key, sizeof(key), &out),
			CM_R_SIZE);
	/* truncated but long enough: the MAC fails */
	for (cut = CM_MIN_LEN; cut < len; cut++)
		assert_int_equal(
			cluster_msg__decode(buf, cut, key, sizeof(key), &out),
			CM_R_MAC);
	assert_int_equal(cluster_msg__decode(buf, CM_MAX_LEN + 1, key,
					     sizeof(key), &out),
			 CM_R_SIZE);
	assert_int_equal(cluster_msg__encode(&m, key, sizeof(key), buf,
					     CM_HDR_LEN + 12 + CM_MAC_LEN - 1),
			 -ENOSPC);
}

/* A sender with the key that lies about its worker count: the MAC holds,
 * the count must still agree with the length. */
static void test_worker_count_lies(void **state)
{
	struct cluster_msg m = sample(4), out;
	__u8 buf[CM_MAX_LEN + 64];
	unsigned int olen;
	size_t body;
	int len;

	(void)state;
	len = cluster_msg__encode(&m, key, sizeof(key), buf, sizeof(buf));
	body = len - CM_MAC_LEN;
	buf[6] = 0;
	buf[7] = 5; /* says 5, carries 4 */
	HMAC(EVP_sha256(), key, sizeof(key), buf, body, buf + body, &olen);
	assert_int_equal(cluster_msg__decode(buf, len, key, sizeof(key), &out),
			 CM_R_WORKERS);
	buf[6] = 0xff;
	buf[7] = 0xff; /* more than any host has */
	HMAC(EVP_sha256(), key, sizeof(key), buf, body, buf + body, &olen);
	assert_int_equal(cluster_msg__decode(buf, len, key, sizeof(key), &out),
			 CM_R_WORKERS);
	/* a worker id out of range, signed */
	len = cluster_msg__encode(&m, key, sizeof(key), buf, sizeof(buf));
	buf[CM_HDR_LEN] = 0x01; /* id 256 + ... */
	HMAC(EVP_sha256(), key, sizeof(key), buf, body, buf + body, &olen);
	assert_int_equal(cluster_msg__decode(buf, len, key, sizeof(key), &out),
			 CM_R_WORKERS);
	/* the same worker twice, signed: every ring build would fail */
	len = cluster_msg__encode(&m, key, sizeof(key), buf, sizeof(buf));
	memcpy(buf + CM_HDR_LEN + 4, buf + CM_HDR_LEN, 2);
	HMAC(EVP_sha256(), key, sizeof(key), buf, body, buf + body, &olen);
	assert_int_equal(cluster_msg__decode(buf, len, key, sizeof(key), &out),
			 CM_R_WORKERS);
	/* an unknown version, signed */
	len = cluster_msg__encode(&m, key, sizeof(key), buf, sizeof(buf));
	buf[4] = CM_VERSION + 1;
	HMAC(EVP_sha256(), key, sizeof(key), buf, body, buf + body, &olen);
	assert_int_equal(cluster_msg__decode(buf, len, key, sizeof(key), &out),
			 CM_R_VERSION);
}

static void test_replay_and_boots(void **state)
{
	struct cluster_peer_seq s = { 0 };
	struct cluster_msg m = sample(1);
	__u64 now = m.time_ms;

	(void)state;
	assert_int_equal(cluster_msg__check_fresh(&s, &m, now), CM_OK);
	/* the same datagram again, and an older one */
	assert_int_equal(cluster_msg__check_fresh(&s, &m, now), CM_R_REPLAY);
	m.seq = 41;
	assert_int_equal(cluster_msg__check_fresh(&s, &m, now), CM_R_REPLAY);
	m.seq = 43;
	m.time_ms += 500;
	assert_int_equal(cluster_msg__check_fresh(&s, &m, now), CM_OK);
	/* a restart: a new boot id, a later time, sequence from 1 */
	m.boot = 0x99;
	m.seq = 1;
	m.time_ms += 500;
	assert_int_equal(cluster_msg__check_fresh(&s, &m, now), CM_OK);
	/* the previous boot's capture, replayed within the window */
	m.boot = 0x1122334455667788ull;
	m.seq = 44;
	m.time_ms -= 200;
	assert_int_equal(cluster_msg__check_fresh(&s, &m, now), CM_R_OLD_BOOT);
	assert_true(s.boot == 0x99);
}

static void test_time_window(void **state)
{
	struct cluster_peer_seq s = { 0 };
	struct cluster_msg m = sample(1);
	__u64 now = m.time_ms;

	(void)state;
	m.time_ms = now - CM_TIME_WINDOW_MS - 1;
	assert_int_equal(cluster_msg__check_fresh(&s, &m, now), CM_R_TIME);
	m.time_ms = now + CM_TIME_WINDOW_MS + 1;
	assert_int_equal(cluster_msg__check_fresh(&s, &m, now), CM_R_TIME);
	assert_false(s.known); /* nothing remembered of a refused one */
	m.time_ms = now + CM_TIME_WINDOW_MS;
	assert_int_equal(cluster_msg__check_fresh(&s, &m, now), CM_OK);
	/* a new boot far from our time is refused too */
	m.boot++;
	m.seq = 1;
	m.time_ms = now + 10 * CM_TIME_WINDOW_MS;
	assert_int_equal(cluster_msg__check_fresh(&s, &m, now), CM_R_TIME);
}

static void test_reason_names(void **state)
{
	int r;

	(void)state;
	for (r = 0; r < CM_R_COUNT; r++)
		assert_non_null(cluster_msg__reason_name(r));
	assert_string_equal(cluster_msg__reason_name(CM_R_MAC), "mac");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_every_byte_tampered),
		cmocka_unit_test(test_wrong_key),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_worker_count_lies),
		cmocka_unit_test(test_replay_and_boots),
		cmocka_unit_test(test_time_window),
		cmocka_unit_test(test_reason_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
