// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The sk_lookup program run in the real kernel through test_run, with real
 * listening sockets in the SOCKMAP, bound to loopback one per family as
 * lbtls binds them. The kernel reports the cookie of the socket the program
 * assigned, which we compare with each listener's own.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <sys/socket.h>
#include <unistd.h>
#include "fixture.h"

#define CLIENT4 "198.18.1.10"
#define CLIENT6 "fd00:198:18:1::10"
#define SPORT 40000

static struct fixture *fx;
static int listeners[FX_WORKERS], listeners6[FX_WORKERS],
	http_listeners[FX_WORKERS];
static __u64 cookies[FX_WORKERS], cookies6[FX_WORKERS],
	http_cookies[FX_WORKERS];

/* 127.0.0.1:0 or [::1]:0 (IPv6 only), as lbtls's agent listeners. */
static int listener_new(int family, __u64 *cookie)
{
	struct sockaddr_in6 sa6 = { .sin6_family = AF_INET6,
				    .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct sockaddr_in sa4 = { .sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr *sa =
		family == 6 ? (struct sockaddr *)&sa6 : (struct sockaddr *)&sa4;
	socklen_t len = sizeof(*cookie);
	int fd, on = 1;

	fd = socket(family == 6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
	if (fd < 0 ||
	    (family == 6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on))) ||
	    bind(fd, sa, family == 6 ? sizeof(sa6) : sizeof(sa4)) ||
	    listen(fd, 16) ||
	    getsockopt(fd, SOL_SOCKET, SO_COOKIE, cookie, &len)) {
		perror("listener");
		return -1;
	}
	return fd;
}

/* lb_sockets values are 8 bytes (a lookup returns the socket cookie), so
 * the fd goes in as a __u64. */
static int put_listener(__u32 listener, int family, __u32 worker, int fd)
{
	__u32 slot = LB_SOCKET_SLOT(
		listener, family == 6 ? LB_FAMILY_V6 : LB_FAMILY_V4, worker);
	__u64 value = fd;

	return bpf_map_update_elem(dataplane__map_fd(&fx->dp, LB_MAP_SOCKETS),
				   &slot, &value, BPF_ANY);
}

static int put_socket(__u32 worker, int fd)
{
	return put_listener(LB_LISTENER_HTTPS, 4, worker, fd);
}

static int group_setup(void **state)
{
	__u32 i;

	(void)state;
	/* [::1] needs the private namespace's loopback up */
	if (fx_setup(&fx) || system("ip link set lo up"))
		return -1;
	for (i = 0; i < FX_WORKERS; i++) {
		listeners[i] = listener_new(4, &cookies[i]);
		listeners6[i] = listener_new(6, &cookies6[i]);
		http_listeners[i] = listener_new(4, &http_cookies[i]);
		if (listeners[i] < 0 || put_socket(i, listeners[i]) ||
		    listeners6[i] < 0 ||
		    put_listener(LB_LISTENER_HTTPS, 6, i, listeners6[i]) ||
		    http_listeners[i] < 0 ||
		    put_listener(LB_LISTENER_HTTP, 4, i, http_listeners[i]))
			return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < FX_WORKERS; i++) {
		close(listeners[i]);
		close(listeners6[i]);
		close(http_listeners[i]);
	}
	return fx_teardown(fx);
}

struct lookup {
	int family;
	const char *client, *local;
	uint16_t local_port;
	int proto;
};

/* Runs the program; returns the cookie of the assigned socket, 0 if none. */
static __u64 run_lookup(const struct lookup *l)
{
	struct bpf_sk_lookup ctx = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .ctx_out = &ctx,
		    .ctx_size_out = sizeof(ctx));
	struct lb_addr a;

	ctx.protocol = l->proto ? l->proto : IPPROTO_TCP;
	ctx.remote_port = htons(SPORT);
	ctx.local_port = l->local_port ? l->local_port : 443;
	if (l->family == 6) {
		ctx.family = AF_INET6;
		fx_addr(&a, 6, l->client ? l->client : CLIENT6);
		memcpy(ctx.remote_ip6, &a, 16);
		fx_addr(&a, 6, l->local ? l->local : FX_VIP6);
		memcpy(ctx.local_ip6, &a, 16);
	} else {
		ctx.family = AF_INET;
		fx_addr(&a, 4, l->client ? l->client : CLIENT4);
		ctx.remote_ip4 = a.v4;
		fx_addr(&a, 4, l->local ? l->local : FX_VIP4);
		ctx.local_ip4 = a.v4;
	}
	assert_int_equal(
		bpf_prog_test_run_opts(dataplane__sk_lookup_fd(&fx->dp), &opts),
		0);
	assert_int_equal(opts.retval, SK_PASS);
	return ctx.cookie;
}

static void test_takes_computed_pick_v4(void **state)
{
	struct lookup l = { .family = 4 };
	__u32 want = fx_expected(fx, 4, CLIENT4);
	__u64 before = fx_reason(fx, LB_R_SK_COMPUTED);
	struct lb_counters w0, w1;

	(void)state;
	assert_int_equal(
		dataplane__counters_sum(&fx->dp, DP_WORKER_STATS, want, &w0),
		0);
	assert_int_equal(run_lookup(&l), cookies[want]);
	assert_int_equal(fx_reason(fx, LB_R_SK_COMPUTED), before + 1);
	assert_int_equal(
		dataplane__counters_sum(&fx->dp, DP_WORKER_STATS, want, &w1),
		0);
	assert_int_equal(w1.assigned, w0.assigned + 1);
}

static void test_takes_computed_pick_v6(void **state)
{
	struct lookup l = { .family = 6 };

	(void)state;
	/* the worker's IPv6 listener, never its IPv4 one */
	assert_int_equal(run_lookup(&l), cookies6[fx_expected(fx, 6, CLIENT6)]);
}

static void test_family_without_socket_not_assigned(void **state)
{
	struct lookup l6 = { .family = 6 };
	__u64 before = fx_reason(fx, LB_R_SK_NO_SOCKET);
	__u32 i, slot;

	(void)state;
	/* without IPv6 listeners an IPv6 client is left to the kernel, never
	 * given a worker's IPv4 socket */
	for (i = 0; i < FX_WORKERS; i++) {
		slot = LB_SOCKET_SLOT(LB_LISTENER_HTTPS, LB_FAMILY_V6, i);
		assert_int_equal(
			bpf_map_delete_elem(
				dataplane__map_fd(&fx->dp, LB_MAP_SOCKETS),
				&slot),
			0);
	}
	assert_int_equal(run_lookup(&l6), 0);
	assert_int_equal(fx_reason(fx, LB_R_SK_NO_SOCKET), before + 1);
	for (i = 0; i < FX_WORKERS; i++)
		assert_int_equal(
			put_listener(LB_LISTENER_HTTPS, 6, i, listeners6[i]),
			0);
	assert_int_equal(run_lookup(&l6),
			 cookies6[fx_expected(fx, 6, CLIENT6)]);
}

static void test_many_clients_match_computed_pick(void **state)
{
	char addr[32];
	int i;

	(void)state;
	for (i = 0; i < 64; i++) {
		struct lookup l = { .family = 4, .client = addr };

		snprintf(addr, sizeof(addr), "198.18.4.%d", i + 1);
		assert_int_equal(run_lookup(&l),
				 cookies[fx_expected(fx, 4, addr)]);
	}
}

static void test_port_80_goes_to_the_http_listener(void **state)
{
	struct lookup l = { .family = 4, .local_port = 80 };
	__u32 want = fx_expected(fx, 4, CLIENT4);

	(void)state;
	assert_int_equal(run_lookup(&l), http_cookies[want]);
}

static int delete_socket(__u32 worker)
{
	__u32 slot = LB_SOCKET_SLOT(LB_LISTENER_HTTPS, LB_FAMILY_V4, worker);

	return bpf_map_delete_elem(dataplane__map_fd(&fx->dp, LB_MAP_SOCKETS),
				   &slot);
}

static void test_missing_socket_falls_back_to_next_slot(void **state)
{
	__u32 pick = fx_expected(fx, 4, CLIENT4), slot, next = pick, i;
	__u64 no_socket = fx_reason(fx, LB_R_SK_NO_SOCKET);
	__u64 fallback = fx_reason(fx, LB_R_SK_FALLBACK);
	struct lookup l = { .family = 4 };

	(void)state;
	assert_int_equal(delete_socket(pick), 0);
	/* the first later slot whose worker still has a socket */
	slot = fx_slot(fx, 4, CLIENT4);
	for (i = 1; i <= LB_SK_FALLBACK_SLOTS && next == pick; i++)
		next = fx->ring[(slot + i) % FX_RING];
	assert_int_not_equal(next, pick);
	assert_int_equal(run_lookup(&l), cookies[next]);
	assert_int_equal(run_lookup(&l), cookies[next]); /* stable */
	assert_int_equal(fx_reason(fx, LB_R_SK_NO_SOCKET), no_socket + 2);
	assert_int_equal(fx_reason(fx, LB_R_SK_FALLBACK), fallback + 2);
	assert_int_equal(put_socket(pick, listeners[pick]), 0);
	assert_int_equal(run_lookup(&l), cookies[pick]);
}

static void test_no_socket_anywhere_counted(void **state)
{
	__u64 before = fx_reason(fx, LB_R_SK_NO_SOCKET);
	struct lookup l = { .family = 4 };
	__u32 i;

	(void)state;
	for (i = 0; i < FX_WORKERS; i++)
		assert_int_equal(delete_socket(i), 0);
	assert_int_equal(run_lookup(&l), 0); /* the kernel decides */
	assert_int_equal(fx_reason(fx, LB_R_SK_NO_SOCKET), before + 1);
	for (i = 0; i < FX_WORKERS; i++)
		assert_int_equal(put_socket(i, listeners[i]), 0);
	assert_int_equal(run_lookup(&l), cookies[fx_expected(fx, 4, CLIENT4)]);
}

static void test_empty_ring_counted(void **state)
{
	static const __u32 equal[FX_WORKERS] = { 1, 1, 1, 1 };
	__u64 before = fx_reason(fx, LB_R_SK_NO_WORKER);
	struct lookup l = { .family = 4 };

	(void)state;
	assert_int_equal(fx_set_ring(fx, NULL, 0), 0);
	assert_int_equal(run_lookup(&l), 0);
	assert_int_equal(fx_reason(fx, LB_R_SK_NO_WORKER), before + 1);
	assert_int_equal(fx_set_ring(fx, equal, FX_WORKERS), 0);
}

static void test_not_a_vip_untouched(void **state)
{
	struct lookup other_addr = { .family = 4, .local = "198.18.0.200" };
	struct lookup other_port = { .family = 4, .local_port = 8443 };
	struct lookup udp = { .family = 4, .proto = IPPROTO_UDP };
	__u64 before[LB_R_MAX], after[LB_R_MAX];

	(void)state;
	fx_reasons(fx, before);
	assert_int_equal(run_lookup(&other_addr), 0);
	assert_int_equal(run_lookup(&other_port), 0);
	assert_int_equal(run_lookup(&udp), 0);
	fx_reasons(fx, after);
	assert_memory_equal(before, after, sizeof(before));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_takes_computed_pick_v4),
		cmocka_unit_test(test_takes_computed_pick_v6),
		cmocka_unit_test(test_family_without_socket_not_assigned),
		cmocka_unit_test(test_many_clients_match_computed_pick),
		cmocka_unit_test(test_port_80_goes_to_the_http_listener),
		cmocka_unit_test(test_missing_socket_falls_back_to_next_slot),
		cmocka_unit_test(test_no_socket_anywhere_counted),
		cmocka_unit_test(test_empty_ring_counted),
		cmocka_unit_test(test_not_a_vip_untouched),
	};

	return cmocka_run_group_tests_name("sk_lookup", tests, group_setup,
					   group_teardown);
}
