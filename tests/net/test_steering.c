// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Steering end to end in the real kernel: a client namespace and a "host"
 * namespace made by the test, joined by veth; XDP attached in native mode
 * on the host-side veth, sk_lookup on the host namespace (never the
 * machine's own); two plain TCP listeners in the SOCKMAP; no socket bound
 * on the VIP port. Each client address must land on the listener its ring
 * slot names, over IPv4 and IPv6, and a client on the host's loopback on
 * the computed pick.
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
static int listeners[NWORKERS];

static int listener_new(void)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6 };
	int fd, off = 0;

	fd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (fd < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 64))
		return -1;
	return fd;
}

static int group_setup(void **state)
{
	static const __u32 equal[NWORKERS] = { 1, 1 };
	LIBBPF_OPTS(bpf_link_create_opts, xopts, .flags = XDP_FLAGS_DRV_MODE);
	LIBBPF_OPTS(bpf_xdp_query_opts, query);
	int ifindex, i;
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
	for (i = 0; i < NWORKERS; i++) {
		listeners[i] = listener_new();
		value = listeners[i];
		if (listeners[i] < 0 ||
		    bpf_map_update_elem(
			    dataplane__map_fd(&fx->dp, LB_MAP_SOCKETS),
			    &(__u32){ i }, &value, BPF_ANY)) {
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
	for (i = 0; i < NWORKERS; i++)
		close(listeners[i]);
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
	for (i = 0; i < NWORKERS; i++)
		pfd[i] =
			(struct pollfd){ .fd = listeners[i], .events = POLLIN };
	assert_true(poll(pfd, NWORKERS, 3000) == 1);
	for (i = 0; i < NWORKERS; i++) {
		if (!(pfd[i].revents & POLLIN))
			continue;
		c = accept(listeners[i], (struct sockaddr *)&peer, &pl);
		assert_true(c >= 0);
		close(c);
		got = i;
	}
	close(fd);
	return got;
}

static void assert_lands_on_pick(int family, const char *client)
{
	__u64 flow_before = fx_reason(fx, LB_R_SK_FLOW);
	__u32 want = fx_expected(fx, family, client);
	int got = connect_and_find(family, client, 0);

	print_message("client %-22s -> listener %d (ring says %u)\n", client,
		      got, want);
	assert_int_equal(got, want);
	/* sk_lookup used the record XDP wrote on the veth: the XDP path ran */
	assert_int_equal(fx_reason(fx, LB_R_SK_FLOW), flow_before + 1);
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

static int run_steering_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v4_clients_land_on_ring_pick),
		cmocka_unit_test(test_v6_clients_land_on_ring_pick),
		cmocka_unit_test(test_loopback_client_takes_computed_pick),
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
