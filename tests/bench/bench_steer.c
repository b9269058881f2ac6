// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * make bench-steer: new TCP connections per second through the whole
 * steering path (native XDP on the host veth + sk_lookup into per-worker
 * listeners), against the same worker processes sharing the VIP port with
 * plain SO_REUSEPORT and no BPF at all. Same namespaces, same clients, same
 * run; rounds alternate A B A B so drift hits both; the median is reported.
 *
 * Workers accept and close: a TLS handshake per connection would hide the
 * cost being measured (one map lookup and one socket assignment per SYN)
 * under ~100 us of crypto. Clients close with RST (SO_LINGER 0) so no
 * TIME_WAIT exhausts their ports. Figures, not a test.
 *
 * The last line: "steer: conn_per_s xdp=N reuseport=N overhead=P%
 * overhead_vs_xdp_pass=P%", the medians of the full path and of plain
 * reuseport, the full path's cost against no BPF at all, and against a
 * program that only returns XDP_PASS on the same veth: what our programs
 * add beyond what any native XDP program costs on a veth. Both overheads
 * are the medians of the per-round ratios (the two measured next to each
 * other), not ratios of medians. ROUNDS (environment, 1..41, default 5).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "../net/topology.h"
#include "dataplane.h"
#include "maglev.h"
#include "vip.h"
#include "floor_prog.h"

#define NWORKERS 2
#define NCLIENT_PROCS 2
#define NCLIENTS 16
#define MAX_ROUNDS 41
#define SECONDS 2.0

static struct topo topo;
static struct dataplane dp;
static struct bpf_link *sk_link;
static int xdp_link = -1;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* reuseport: bound to the VIP port in a group; else [::]:0 alone. */
static int listener(int reuseport)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6 };
	int fd, off = 0, on = 1;

	fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
	if (reuseport) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on));
		sa.sin6_port = htons(443);
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 4096)) {
		perror("bench-steer: listener");
		exit(1);
	}
	return fd;
}

/* Serves both its own listener (steered) and the reuseport group's. */
static pid_t worker(int own, int group)
{
	pid_t p = fork();

	if (p == 0) {
		struct pollfd pf[2] = { { .fd = own, .events = POLLIN },
					{ .fd = group, .events = POLLIN } };
		int i, c;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fcntl(own, F_SETFL, O_NONBLOCK);
		fcntl(group, F_SETFL, O_NONBLOCK);
		for (;;) {
			if (poll(pf, 2, -1) <= 0)
				continue;
			for (i = 0; i < 2; i++)
				while (pf[i].revents &&
				       (c = accept(pf[i].fd, NULL, NULL)) >= 0)
					close(c);
		}
	}
	return p;
}

/* One client process: connect/close from its addresses for SECONDS;
 * writes its count of established connections and failures to the pipe. */
static pid_t client(int id, int out)
{
	pid_t p = fork();

	if (p == 0) {
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };
		struct sockaddr_in dst = { .sin_family = AF_INET,
					   .sin_port = htons(443) };
		long ok = 0, failed = 0, counts[2];
		double end = now() + SECONDS;
		int i = id;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		inet_pton(AF_INET, TOPO_VIP4, &dst.sin_addr);
		while (now() < end) {
			struct sockaddr_in src = { .sin_family = AF_INET };
			int fd =
				topo_client_socket(&topo, AF_INET, SOCK_STREAM);

			inet_pton(AF_INET, topo.addr4[i % NCLIENTS],
				  &src.sin_addr);
			i += NCLIENT_PROCS;
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
			if (!bind(fd, (struct sockaddr *)&src, sizeof(src)) &&
			    !connect(fd, (struct sockaddr *)&dst, sizeof(dst)))
				ok++;
			else
				failed++;
			close(fd);
		}
		counts[0] = ok;
		counts[1] = failed;
		if (write(out, counts, sizeof(counts)) != sizeof(counts))
			_exit(1);
		_exit(0);
	}
	return p;
}

static double measure(long *failed)
{
	long total = 0, counts[2];
	pid_t c[NCLIENT_PROCS];
	double t0, t1;
	int pfd[2], i;

	if (pipe(pfd))
		exit(1);
	t0 = now();
	for (i = 0; i < NCLIENT_PROCS; i++)
		c[i] = client(i, pfd[1]);
	for (i = 0; i < NCLIENT_PROCS; i++) {
		waitpid(c[i], NULL, 0);
		if (read(pfd[0], counts, sizeof(counts)) == sizeof(counts)) {
			total += counts[0];
			*failed += counts[1];
		}
	}
	t1 = now();
	close(pfd[0]);
	close(pfd[1]);
	return total / (t1 - t0 > SECONDS ? SECONDS : t1 - t0);
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int print_quiet(enum libbpf_print_level l, const char *f, va_list ap)
{
	return l == LIBBPF_WARN ? vfprintf(stderr, f, ap) : 0;
}

/* Load the data plane with a VIP and a ring of NWORKERS whose sockets are
 * the per-worker listeners; set_mode() attaches what a mode needs. */
static int load_steering(const int *fds)
{
	struct dataplane_opts o = { .ring_size = LB_RING_SIZE_DEFAULT };
	struct maglev_worker mw[NWORKERS];
	__u32 *ring = malloc(LB_RING_SIZE_DEFAULT * sizeof(*ring));
	struct vip v = { 0 };
	int i, err;

	err = dataplane__load(&dp, &o);
	if (err || !ring) {
		free(ring);
		return -1;
	}
	/* This measures steering: its one client /24 opens tens of
	 * thousands of connections a second, over the flood threshold, and
	 * flood mode would rate-limit it (make bench-flood measures that). */
	dp.cfg.flags = 0;
	if (bpf_map_update_elem(dp.fds[DP_CONFIG], &(__u32){ 0 }, &dp.cfg, 0)) {
		free(ring);
		return -1;
	}
	vip__parse(TOPO_VIP4 ":443", &v.key);
	v.meta = (struct lb_vip_meta){ .v4_prefix = 32, .v6_prefix = 128 };
	err = vip__add(&dp, &v);
	for (i = 0; i < NWORKERS && !err; i++) {
		__u32 slot = LB_SOCKET_SLOT(LB_LISTENER_HTTPS, LB_FAMILY_V4, i);
		__u64 val = fds[i];

		mw[i] = (struct maglev_worker){ .id = i, .weight = 1 };
		err = bpf_map_update_elem(dp.fds[DP_SOCKETS], &slot, &val, 0);
	}
	err = err ?: maglev__build(mw, NWORKERS, LB_RING_SIZE_DEFAULT, ring);
	err = err ?: dataplane__ring_write(&dp, v.meta.index, ring, NULL, 0);
	free(ring);
	return err;
}

enum mode { FULL, SK_ONLY, XDP_ONLY, XDP_FLOOR, PLAIN, NMODES };

static const char *const mode_names[NMODES] = {
	[FULL] = "xdp+sk_lookup",
	[SK_ONLY] = "sk_lookup only",
	[XDP_ONLY] = "xdp only (reuseport serves)",
	[XDP_FLOOR] = "XDP_PASS-only prog, reuseport",
	[PLAIN] = "plain reuseport",
};

static int floor_fd = -1;

static int set_mode(enum mode m)
{
	LIBBPF_OPTS(bpf_link_create_opts, xo, .flags = XDP_FLAGS_DRV_MODE);
	int want_xdp = m == FULL || m == XDP_ONLY || m == XDP_FLOOR;
	int want_sk = m == FULL || m == SK_ONLY;

	if (xdp_link >= 0) {
		close(xdp_link);
		xdp_link = -1;
	}
	if (want_xdp)
		xdp_link = bpf_link_create(
			m == XDP_FLOOR ? floor_fd : dataplane__xdp_fd(&dp),
			if_nametoindex("lbh"), BPF_XDP, &xo);
	if (!want_sk && sk_link) {
		bpf_link__destroy(sk_link);
		sk_link = NULL;
	}
	if (want_sk && !sk_link)
		sk_link = dataplane__attach_netns(&dp, topo.host_fd);
	return (want_xdp && xdp_link < 0) || (want_sk && !sk_link) ? -1 : 0;
}

int main(void)
{
	double fig[NMODES][MAX_ROUNDS], med[NMODES], ov[MAX_ROUNDS],
		ovp[MAX_ROUNDS];
	const char *env = getenv("ROUNDS");
	int rounds = env ? atoi(env) : 5, k;
	int fds[NWORKERS], rfds[NWORKERS], i, r, m, rc = 1;
	long failed[NMODES] = { 0 };
	pid_t w[NWORKERS] = { 0 };

	if (rounds < 1 || rounds > MAX_ROUNDS) {
		fprintf(stderr, "bench-steer: ROUNDS is 1..%d, not '%s'\n",
			MAX_ROUNDS, env);
		return 1;
	}
	libbpf_set_print(print_quiet);
	if (topo_create(&topo, "lbs", NCLIENTS) ||
	    setns(topo.host_fd, CLONE_NEWNET)) {
		fprintf(stderr,
			"bench-steer: cannot build the topology (root?)\n");
		goto out;
	}
	for (i = 0; i < NWORKERS; i++) {
		fds[i] = listener(0);
		rfds[i] = listener(1);
	}
	floor_fd = floor_prog_load();
	if (floor_fd < 0 || load_steering(fds)) {
		fprintf(stderr, "bench-steer: cannot set up steering\n");
		goto out;
	}
	for (i = 0; i < NWORKERS; i++)
		w[i] = worker(fds[i], rfds[i]);
	for (r = 0; r < rounds; r++) {
		printf("  round %d:", r + 1);
		for (k = 0; k < NMODES; k++) {
			m = r % 2 ? NMODES - 1 - k : k;
			if (set_mode(m)) {
				fprintf(stderr,
					"bench-steer: cannot switch to %s\n",
					mode_names[m]);
				goto out;
			}
			fig[m][r] = measure(&failed[m]);
			printf(" %s %.0f%s", mode_names[m], fig[m][r],
			       k + 1 < NMODES ? "," : " conn/s\n");
			fflush(stdout);
		}
		ov[r] = 100.0 * (fig[XDP_FLOOR][r] - fig[FULL][r]) /
			fig[XDP_FLOOR][r];
		ovp[r] = 100.0 * (fig[PLAIN][r] - fig[FULL][r]) / fig[PLAIN][r];
	}
	qsort(ov, rounds, sizeof(double), cmp);
	qsort(ovp, rounds, sizeof(double), cmp);
	printf("bench-steer: %d workers, %d client processes, %d rounds of %.0f s, median conn/s (range):\n",
	       NWORKERS, NCLIENT_PROCS, rounds, SECONDS);
	for (m = 0; m < NMODES; m++) {
		qsort(fig[m], rounds, sizeof(double), cmp);
		med[m] = fig[m][rounds / 2];
		printf("  %-28s %8.0f  (%.0f..%.0f)  failed connects %ld\n",
		       mode_names[m], med[m], fig[m][0], fig[m][rounds - 1],
		       failed[m]);
	}
	printf("  per-round overhead against XDP_PASS-only: median %.1f%% (%.1f..%.1f); against plain reuseport: median %.1f%% (%.1f..%.1f)\n",
	       ov[rounds / 2], ov[0], ov[rounds - 1], ovp[rounds / 2], ovp[0],
	       ovp[rounds - 1]);
	/* overhead: the full path against no BPF at all; overhead_vs_xdp_pass:
	 * against a program that only returns XDP_PASS on the same veth, so
	 * what any native XDP program costs there (the veth's XDP receive
	 * path) is left out and only our programs' own work remains. */
	printf("steer: conn_per_s xdp=%.0f reuseport=%.0f overhead=%.1f%% overhead_vs_xdp_pass=%.1f%%\n",
	       med[FULL], med[PLAIN], ovp[rounds / 2], ov[rounds / 2]);
	rc = 0;
out:
	for (i = 0; i < NWORKERS; i++)
		if (w[i] > 0)
			kill(w[i], SIGKILL);
	while (wait(NULL) > 0)
		;
	set_mode(PLAIN);
	dataplane__destroy(&dp);
	topo_destroy(&topo);
	return rc;
}
