// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Steering end to end in the real kernel: a client namespace and a "host"
 * namespace made by the test, joined by veth; XDP attached in native mode
 * on the host-side veth, sk_lookup on the host namespace (never the
 * machine's own); two workers' plain TCP listeners in the SOCKMAP, bound to
 * loopback one per family as lbtls binds them (127.0.0.1:0, [::1]:0); no
 * socket bound on the VIP port. Each client address must land on the
 * listener its ring slot names, over IPv4 and IPv6, and a client on the
 * host's loopback on the computed pick; the listeners' own ports are
 * refused to the client.
 *
 * The parent process only creates and always deletes the namespaces; a
 * child runs the tests, so a crash cannot leave them behind.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/if_link.h>
#include "../bpf/fixture.h"
#include "topology.h"

#define NCLIENTS 8
#define NWORKERS 2

static struct topo topo;
static struct fixture *fx;
static struct bpf_link *sk_link;
static int xdp_link = -1;
static int listeners[2][NWORKERS]; /* [IPv6?][worker] */
static unsigned ports[2][NWORKERS];

/* 127.0.0.1:0 or [::1]:0, IPv6 only: reachable through sk_lookup alone. */
static int listener_new(int v6, unsigned *port)
{
	struct sockaddr_in6 sa6 = { .sin6_family = AF_INET6,
				    .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct sockaddr_in sa4 = { .sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = v6 ? sizeof(sa6) : sizeof(sa4);
	int fd, on = 1;

	fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (fd < 0 ||
	    (v6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on))) ||
	    bind(fd, v6 ? (struct sockaddr *)&sa6 : (struct sockaddr *)&sa4,
		 len) ||
	    listen(fd, 64) ||
	    getsockname(fd,
			v6 ? (struct sockaddr *)&sa6 : (struct sockaddr *)&sa4,
			&len))
		return -1;
	*port = ntohs(v6 ? sa6.sin6_port : sa4.sin_port);
	return fd;
}

static int group_setup(void **state)
{
	static const __u32 equal[NWORKERS] = { 1, 1 };
	LIBBPF_OPTS(bpf_link_create_opts, xopts, .flags = XDP_FLAGS_DRV_MODE);
	LIBBPF_OPTS(bpf_xdp_query_opts, query);
	int ifindex, i, v6;
	__u32 slot;
	__u64 value;

	(void)state;
	if (setns(topo.host_fd, CLONE_NEWNET)) {
		perror("net: enter host namespace");
		return -1;
	}
	/* fx_setup() unshares a private namespace; here we want the host one,
	 * so load through it and come back. */
	if (fx_setup(&fx) || setns(topo.host_fd, CLONE_NEWNET))
		return -1;
	if (fx_set_ring(fx, equal, NWORKERS))
		return -1;
	ifindex = if_nametoindex("lbh");
	xdp_link = bpf_link_create(dataplane__xdp_fd(&fx->dp), ifindex, BPF_XDP,
				   &xopts);
	if (xdp_link < 0) {
		fprintf(stderr, "net: native XDP attach on lbh: %s\n",
			strerror(-xdp_link));
		return -1;
	}
	if (bpf_xdp_query(ifindex, 0, &query) ||
	    query.attach_mode != XDP_ATTACHED_DRV) {
		fprintf(stderr, "net: XDP is not attached in native mode\n");
		return -1;
	}
	sk_link = dataplane__attach_netns(&fx->dp, topo.host_fd);
	if (!sk_link) {
		fprintf(stderr, "net: sk_lookup attach: %s\n", strerror(errno));
		return -1;
	}
	for (v6 = 0; v6 < 2; v6++)
		for (i = 0; i < NWORKERS; i++) {
			listeners[v6][i] = listener_new(v6, &ports[v6][i]);
			value = listeners[v6][i];
			slot = LB_SOCKET_SLOT(LB_LISTENER_HTTPS,
					      v6 ? LB_FAMILY_V6 : LB_FAMILY_V4,
					      i);
			if (listeners[v6][i] < 0 ||
			    bpf_map_update_elem(
				    dataplane__map_fd(&fx->dp, LB_MAP_SOCKETS),
				    &slot, &value, BPF_ANY)) {
				perror("net: listener");
				return -1;
			}
		}
	return 0;
}

static int group_teardown(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < NWORKERS; i++) {
		close(listeners[0][i]);
		close(listeners[1][i]);
	}
	bpf_link__destroy(sk_link);
	if (xdp_link >= 0)
		close(xdp_link);
	return fx ? fx_teardown(fx) : 0;
}

/* Connect from 'src' (in the client namespace unless from_host) to the VIP;
 * return the index of the listener that accepted it. */
static int connect_and_find(int family, const char *src, int from_host)
{
	struct sockaddr_storage ss = { 0 }, peer;
	socklen_t sl, pl = sizeof(peer);
	struct pollfd pfd[NWORKERS];
	struct lb_addr a;
	int fd, i, got = -1, c;

	fd = from_host ?
		     socket(family == 6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0) :
		     topo_client_socket(&topo, family == 6 ? AF_INET6 : AF_INET,
					SOCK_STREAM);
	assert_true(fd >= 0);
	if (family == 6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		sl = sizeof(*s6);
		if (src) {
			fx_addr(&a, 6, src);
			memcpy(&s6->sin6_addr, &a, 16);
			assert_int_equal(bind(fd, (struct sockaddr *)s6, sl),
					 0);
		}
		fx_addr(&a, 6, FX_VIP6);
		memcpy(&s6->sin6_addr, &a, 16);
		s6->sin6_port = htons(443);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		sl = sizeof(*s4);
		if (src) {
			fx_addr(&a, 4, src);
			s4->sin_addr.s_addr = a.v4;
			assert_int_equal(bind(fd, (struct sockaddr *)s4, sl),
					 0);
		}
		fx_addr(&a, 4, FX_VIP4);
		s4->sin_addr.s_addr = a.v4;
		s4->sin_port = htons(443);
	}
	if (connect(fd, (struct sockaddr *)&ss, sl))
		fail_msg("connect from %s to the VIP: %s", src ? src : "host",
			 strerror(errno));
	/* only the listeners of the connection's family may take it */
	for (i = 0; i < NWORKERS; i++)
		pfd[i] = (struct pollfd){ .fd = listeners[family == 6][i],
					  .events = POLLIN };
	assert_true(poll(pfd, NWORKERS, 3000) == 1);
	for (i = 0; i < NWORKERS; i++) {
		if (!(pfd[i].revents & POLLIN))
			continue;
		c = accept(pfd[i].fd, (struct sockaddr *)&peer, &pl);
		assert_true(c >= 0);
		close(c);
		got = i;
	}
	close(fd);
	return got;
}

static void assert_lands_on_pick(int family, const char *client)
{
	__u64 syn_before = fx_reason(fx, LB_R_SYN_NEW);
	__u32 want = fx_expected(fx, family, client);
	int got = connect_and_find(family, client, 0);

	print_message("client %-22s -> listener %d (ring says %u)\n", client,
		      got, want);
	assert_int_equal(got, want);
	/* the SYN crossed XDP on the veth, counted as a new connection */
	assert_int_equal(fx_reason(fx, LB_R_SYN_NEW), syn_before + 1);
}

static void test_v4_clients_land_on_ring_pick(void **state)
{
	int i, seen[NWORKERS] = { 0 };

	(void)state;
	for (i = 0; i < NCLIENTS; i++) {
		assert_lands_on_pick(4, topo.addr4[i]);
		seen[fx_expected(fx, 4, topo.addr4[i])]++;
	}
	/* with 8 clients over 2 workers both are exercised */
	assert_true(seen[0] > 0 && seen[1] > 0);
}

static void test_v6_clients_land_on_ring_pick(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < NCLIENTS; i++)
		assert_lands_on_pick(6, topo.addr6[i]);
}

static void test_loopback_client_takes_computed_pick(void **state)
{
	__u64 computed = fx_reason(fx, LB_R_SK_COMPUTED);
	int got;

	(void)state;
	/* From the host itself the source is the VIP address (on lo); no XDP
	 * runs on lo, so sk_lookup computes the pick. */
	got = connect_and_find(4, NULL, 1);
	assert_int_equal(got, fx_expected(fx, 4, FX_VIP4));
	assert_int_equal(fx_reason(fx, LB_R_SK_COMPUTED), computed + 1);
	got = connect_and_find(4, "127.0.0.1", 1);
	assert_int_equal(got, fx_expected(fx, 4, "127.0.0.1"));
	assert_int_equal(fx_reason(fx, LB_R_SK_COMPUTED), computed + 2);
}

/* Connect from the client namespace to the host's own address dst:port. */
static int connect_host_port(int family, const char *dst, unsigned port)
{
	struct sockaddr_storage ss = { 0 };
	struct lb_addr a;
	socklen_t sl;
	int fd, err = 0;

	fd = topo_client_socket(&topo, family == 6 ? AF_INET6 : AF_INET,
				SOCK_STREAM);
	assert_true(fd >= 0);
	/* a dropped SYN: ETIMEDOUT after one retransmission (3 s), not the
	 * default six (over two minutes per connect) */
	assert_int_equal(setsockopt(fd, IPPROTO_TCP, TCP_SYNCNT, &(int){ 1 },
				    sizeof(int)),
			 0);
	fx_addr(&a, family, dst);
	if (family == 6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, &a, 16);
		s6->sin6_port = htons(port);
		sl = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = a.v4;
		s4->sin_port = htons(port);
		sl = sizeof(*s4);
	}
	if (connect(fd, (struct sockaddr *)&ss, sl))
		err = errno;
	close(fd);
	return err;
}

/* DESIGN D3: bpf_sk_assign takes a loopback-bound socket (the tests above
 * land on them through the VIP), and the network never reaches it by its
 * own port. */
static void test_listener_ports_refused_from_client(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < NWORKERS; i++) {
		assert_int_equal(
			connect_host_port(4, "198.18.1.1", ports[0][i]),
			ECONNREFUSED);
		assert_int_equal(
			connect_host_port(6, "fd00:198:18:1::1", ports[1][i]),
			ECONNREFUSED);
		/* nor through the VIP address on another port: the
		 * exclusive address's firewall drops the SYN in XDP */
		assert_int_equal(connect_host_port(4, FX_VIP4, ports[0][i]),
				 ETIMEDOUT);
		assert_int_equal(connect_host_port(6, FX_VIP6, ports[1][i]),
				 ETIMEDOUT);
	}
	/* while the VIP lands on them, both families */
	assert_lands_on_pick(4, topo.addr4[0]);
	assert_lands_on_pick(6, topo.addr6[0]);
}

static int run_steering_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v4_clients_land_on_ring_pick),
		cmocka_unit_test(test_v6_clients_land_on_ring_pick),
		cmocka_unit_test(test_loopback_client_takes_computed_pick),
		cmocka_unit_test(test_listener_ports_refused_from_client),
	};

	return cmocka_run_group_tests_name("steering", tests, group_setup,
					   group_teardown);
}

int main(void)
{
	int status = 1, rc;
	pid_t child;

	if (topo_create(&topo, "lbt", NCLIENTS)) {
		fprintf(stderr,
			"net: cannot build the test topology (root?)\n");
		rc = 1;
		goto out;
	}
	child = fork();
	if (child == 0)
		_exit(run_steering_tests());
	if (child < 0 || waitpid(child, &status, 0) < 0)
		rc = 1;
	else
		rc = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
	if (!WIFEXITED(status))
		fprintf(stderr, "net: test process died (status %d)\n", status);
out:
	/* The child's exit closed every link and map. */
	topo_destroy(&topo);
	return rc;
}
