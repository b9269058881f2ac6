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
 * overhead_vs_xdp_pass=P% live_ns xdp=N sk_lookup=N pass=N", the medians of the full path and of plain
 * reuseport, the full path's cost against no BPF at all, and against a
 * program that only returns XDP_PASS on the same veth: what our programs
 * add beyond what any native XDP program costs on a veth. Both overheads
 * are the medians of the per-round ratios (the two measured next to each
 * other), not ratios of medians. ROUNDS (environment, 1..41, default 5).
 *
 * The live cost of each program is read from the kernel's BPF run-time
 * statistics (run_time_ns / run_cnt of bpf_prog_info), switched on for this
 * process's lifetime with BPF_ENABLE_STATS: the kernel switches them off
 * again when the fd closes, also when the benchmark dies, and the
 * kernel.bpf_stats_enabled sysctl is never written (another session's
 * setting stays as it was). They are printed as the median (min-max) of
 * the per-round averages and appended to the last line: "live_ns xdp=N
 * sk_lookup=N pass=N", lb_xdp in the rounds' xdp+sk_lookup and xdp only
 * runs, lb_sk_lookup in xdp+sk_lookup and sk_lookup only, the
 * XDP_PASS-only program in its own runs. Each average includes the
 * statistics' own two clock reads per run; time stolen from a VM in a run
 * counts too, so each program's excess over the XDP_PASS-only program of
 * the same round is printed as well (median and range).
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

enum live_prog { L_XDP, L_SK, L_PASS, NLIVE };

static const char *const live_names[NLIVE] = { "lb_xdp", "lb_sk_lookup",
					       "XDP_PASS-only" };

/* Cumulative run time and count of a program since it was loaded. */
static int live_read(int prog_fd, __u64 *ns, __u64 *cnt)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int err = bpf_obj_get_info_by_fd(prog_fd, &info, &len);

	if (err)
		return err;
	*ns = info.run_time_ns;
	*cnt = info.run_cnt;
	return 0;
}

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
	double live[NLIVE][MAX_ROUNDS], live_med[NLIVE], over[2][MAX_ROUNDS];
	__u64 ns0[NLIVE], cnt0[NLIVE], ns1[NLIVE], cnt1[NLIVE];
	int live_fd[NLIVE], stats_fd = -1;

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
	live_fd[L_XDP] = dataplane__xdp_fd(&dp);
	live_fd[L_SK] = dataplane__sk_lookup_fd(&dp);
	live_fd[L_PASS] = floor_fd;
	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (stats_fd < 0) {
		fprintf(stderr,
			"bench-steer: cannot enable BPF run-time statistics: %s\n",
			strerror(-stats_fd));
		goto out;
	}
	for (r = 0; r < rounds; r++) {
		for (i = 0; i < NLIVE; i++)
			if (live_read(live_fd[i], &ns0[i], &cnt0[i])) {
				fprintf(stderr,
					"bench-steer: cannot read the statistics of %s\n",
					live_names[i]);
				goto out;
			}
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
		for (i = 0; i < NLIVE; i++) {
			if (live_read(live_fd[i], &ns1[i], &cnt1[i]))
				goto out;
			live[i][r] = cnt1[i] > cnt0[i] ?
					     (double)(ns1[i] - ns0[i]) /
						     (cnt1[i] - cnt0[i]) :
					     0;
		}
		/* stolen time inflates every program of a round alike: the
		 * difference to the XDP_PASS-only program is steadier */
		over[0][r] = live[L_XDP][r] - live[L_PASS][r];
		over[1][r] = live[L_SK][r] - live[L_PASS][r];
		printf("    live ns/run: %s %.1f, %s %.1f, %s %.1f\n",
		       live_names[L_XDP], live[L_XDP][r], live_names[L_SK],
		       live[L_SK][r], live_names[L_PASS], live[L_PASS][r]);
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
	for (i = 0; i < NLIVE; i++) {
		qsort(live[i], rounds, sizeof(double), cmp);
		live_med[i] = live[i][rounds / 2];
		printf("  live %-23s %8.1f ns/run  (%.1f..%.1f)\n",
		       live_names[i], live_med[i], live[i][0],
		       live[i][rounds - 1]);
	}
	qsort(over[0], rounds, sizeof(double), cmp);
	qsort(over[1], rounds, sizeof(double), cmp);
	printf("  live over XDP_PASS-only, per round: lb_xdp %.1f ns (%.1f..%.1f), lb_sk_lookup %.1f ns (%.1f..%.1f)\n",
	       over[0][rounds / 2], over[0][0], over[0][rounds - 1],
	       over[1][rounds / 2], over[1][0], over[1][rounds - 1]);
	printf("  per-round overhead against XDP_PASS-only: median %.1f%% (%.1f..%.1f); against plain reuseport: median %.1f%% (%.1f..%.1f)\n",
	       ov[rounds / 2], ov[0], ov[rounds - 1], ovp[rounds / 2], ovp[0],
	       ovp[rounds - 1]);
	/* overhead: the full path against no BPF at all; overhead_vs_xdp_pass:
	 * against a program that only returns XDP_PASS on the same veth, so
	 * what any native XDP program costs there (the veth's XDP receive
	 * path) is left out and only our programs' own work remains. */
	printf("steer: conn_per_s xdp=%.0f reuseport=%.0f overhead=%.1f%% overhead_vs_xdp_pass=%.1f%% live_ns xdp=%.0f sk_lookup=%.0f pass=%.0f\n",
	       med[FULL], med[PLAIN], ovp[rounds / 2], ov[rounds / 2],
	       live_med[L_XDP], live_med[L_SK], live_med[L_PASS]);
	rc = 0;
out:
	for (i = 0; i < NWORKERS; i++)
		if (w[i] > 0)
			kill(w[i], SIGKILL);
	while (wait(NULL) > 0)
		;
	set_mode(PLAIN);
	if (stats_fd >= 0)
		close(stats_fd);
	dataplane__destroy(&dp);
	topo_destroy(&topo);
	return rc;
}
