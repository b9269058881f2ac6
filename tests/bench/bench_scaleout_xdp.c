// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * make bench-scaleout: the cost per packet of scale-out's XDP data path
 * (docs/scaleout.md "Data path") against the floor, a program that only
 * returns XDP_PASS, all through bpf_prog_test_run_opts in a private
 * namespace with a veth and a neighbour entry, so that bpf_fib_lookup()
 * succeeds as on a balancer's uplink:
 *
 *   floor   XDP_PASS only, an established segment
 *   other   lb_xdp in cluster mode, a segment to another address
 *   fwd     lb_xdp forwarding an established segment (pick, encapsulation,
 *           FIB lookup, XDP_TX)
 *   decap   lb_xdp decapsulating a GUE packet from a cluster host
 *
 * Figures are the kernel's own timing (opts.duration). A forwarded or
 * decapsulated frame is rewritten, and test_run's repeat loop would run
 * the program again on the result, so those two run once per call, and
 * the floor run the same way is subtracted: fwd = floor + (fwd once -
 * floor once), as bench_xdp.c measures its cookie SYN-ACK. One run per
 * syscall finds the program's maps and code cold; the batch figures
 * (floor, other) are warm. Live frames (BPF_F_TEST_XDP_LIVE_FRAMES) would
 * keep the frame, but on this kernel they stopped after one batch of 64.
 * A warm figure of both together: an IPv6 segment whose pick is host 3,
 * whose address is this host's own, is encapsulated to us (the FIB says
 * local: passed, routed) and the next run decapsulates it back into the
 * original frame, so the repeat loop alternates the two ("cycle", the
 * mean of one encapsulation with its FIB lookup and one decapsulation).
 * ROUNDS rounds alternate the scenarios; the median round is reported.
 * Figures, not a test.
 */
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "../bpf/fixture.h"
#include "../bpf/pkt.h"
#include "floor_prog.h"

#define REPEAT 1000000 /* batch runs per round */
#define SINGLES 100000 /* single runs per round */
#define ROUNDS 7

#define SELF "198.18.2.1"
#define HOST2 "198.18.2.2"

static int ifindex;

static __be32 ip4(const char *s)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		abort();
	return a.s_addr;
}

static void die(const char *what)
{
	fprintf(stderr, "bench-scaleout: %s failed\n", what);
	exit(1);
}

static void setup_cluster(struct fixture *fx)
{
	struct lb_host h1 = { .addr = ip4(SELF), .flags = LB_HOST_F_BALANCER };
	struct lb_host h2 = { .addr = ip4(HOST2), .flags = LB_HOST_F_WORKER };
	struct lb_host_addr a1 = { .host = 1 }, a2 = { .host = 2 };
	__u32 id1 = 1, id2 = 2, zero = 0, i;
	static __u32 ring[FX_RING];
	struct lb_config cfg;
	FILE *f;

	if (system("ip link set lo up") ||
	    system("ip link add c1-b0 address 02:00:00:00:02:01 type veth "
		   "peer name c1-b1") ||
	    system("ip addr add " SELF "/24 dev c1-b0") ||
	    system("ip link set c1-b0 up") || system("ip link set c1-b1 up") ||
	    system("ip neigh replace " HOST2 " lladdr 02:00:00:00:02:02 dev "
		   "c1-b0 nud permanent"))
		die("veth set-up");
	f = fopen("/proc/sys/net/ipv4/conf/all/forwarding", "w");
	if (!f || fputs("1", f) < 0 || fclose(f))
		die("ip_forward");
	ifindex = if_nametoindex("c1-b0");
	if (!ifindex)
		die("if_nametoindex");
	if (bpf_map_update_elem(fx->dp.fds[DP_HOSTS], &id1, &h1, BPF_ANY) ||
	    bpf_map_update_elem(fx->dp.fds[DP_HOSTS], &id2, &h2, BPF_ANY) ||
	    bpf_map_update_elem(fx->dp.fds[DP_HOST_ADDRS], &h1.addr, &a1,
				BPF_ANY) ||
	    bpf_map_update_elem(fx->dp.fds[DP_HOST_ADDRS], &h2.addr, &a2,
				BPF_ANY))
		die("lb_hosts");
	if (bpf_map_lookup_elem(fx->dp.fds[DP_CONFIG], &zero, &cfg))
		die("lb_config read");
	cfg.self_host = 1;
	cfg.self_addr = h1.addr;
	cfg.gue_port = htons(LB_GUE_PORT_DEFAULT);
	cfg.mss_v4 = 1400;
	cfg.mss_v6 = 1380;
	if (bpf_map_update_elem(fx->dp.fds[DP_CONFIG], &zero, &cfg, BPF_ANY))
		die("lb_config write");
	/* every pick on host 2; the IPv6 VIP's on host 3, at our own address */
	for (i = 0; i < FX_RING; i++)
		ring[i] = LB_REF(2, 1);
	if (dataplane__ring_write(&fx->dp, fx->vip4.index, ring, NULL, 0))
		die("ring");
	h2.addr = h1.addr;
	id2 = 3;
	if (bpf_map_update_elem(fx->dp.fds[DP_HOSTS], &id2, &h2, BPF_ANY))
		die("lb_hosts");
	for (i = 0; i < FX_RING; i++)
		ring[i] = LB_REF(3, 1);
	if (dataplane__ring_write(&fx->dp, fx->vip6.index, ring, NULL, 0))
		die("ring");
}

/* The established segment of 'fwd', encapsulated by host 2 to us. */
static size_t gue_frame(const uint8_t *inner, size_t inner_len, uint8_t *buf)
{
	uint8_t *ip = buf + 14, *udp = ip + 20, *gue = udp + 8;
	size_t ilen = inner_len - 14;
	__be32 a;

	memset(buf, 0, 14 + 40);
	memcpy(buf, "\x02\x00\x00\x00\x02\x01\x02\x00\x00\x00\x02\x02", 12);
	buf[12] = 0x08;
	ip[0] = 0x45;
	pkt_put16(ip + 2, htons(40 + ilen));
	pkt_put16(ip + 6, htons(0x4000));
	ip[8] = 64;
	ip[9] = IPPROTO_UDP;
	a = ip4(HOST2);
	memcpy(ip + 12, &a, 4);
	a = ip4(SELF);
	memcpy(ip + 16, &a, 4);
	pkt_put16(ip + 10, pkt_ip_csum(ip, 20));
	pkt_put16(udp, htons(0xc123));
	pkt_put16(udp + 2, htons(LB_GUE_PORT_DEFAULT));
	pkt_put16(udp + 4, htons(20 + ilen));
	gue[0] = LB_GUE_PRIV_WORDS;
	gue[1] = 4;
	gue[4] = LB_GUE_MAGIC;
	pkt_put16(gue + 6, htons(1));
	memcpy(buf + 54, inner + 14, ilen);
	return 54 + ilen;
}

/* In-kernel ns per run: repeat runs in one call, or 'calls' calls of
 * one run each (averaged). Checks the verdict. */
static double run_ns(int prog, const uint8_t *frame, size_t len, int repeat,
		     int calls, int verdict)
{
	uint8_t out[PKT_MAX + 64];
	struct xdp_md ctx = { .data_end = len, .ingress_ifindex = ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame,
		    .data_size_in = len, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = repeat);
	double sum = 0;
	int i;

	for (i = 0; i < calls; i++) {
		opts.data_out = out;
		opts.data_size_out = sizeof(out);
		if (bpf_prog_test_run_opts(prog, &opts))
			die("test_run");
		if (verdict >= 0 && (int)opts.retval != verdict) {
			fprintf(stderr, "bench-scaleout: verdict %u, not %d\n",
				opts.retval, verdict);
			exit(1);
		}
		sum += opts.duration;
	}
	return sum / calls;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(const double *v)
{
	double s[ROUNDS];

	memcpy(s, v, sizeof(s));
	qsort(s, ROUNDS, sizeof(double), cmp_double);
	return s[ROUNDS / 2];
}

int main(void)
{
	struct pkt_spec est = { .family = 4,
				.flags = F_ACK | F_PSH,
				.payload = 100 };
	struct pkt_spec est6 = { .family = 6,
				 .flags = F_ACK | F_PSH,
				 .payload = 100 };
	struct pkt_spec other = { .family = 4,
				  .dst = "198.18.0.200",
				  .flags = F_ACK | F_PSH,
				  .payload = 100 };
	double floor_b[ROUNDS], other_b[ROUNDS], fwd[ROUNDS], decap[ROUNDS];
	double cycle[ROUNDS], m_cycle;
	uint8_t f_est6[PKT_MAX];
	size_t l_est6;
	__u64 n_routed, n_decap;

	uint8_t f_est[PKT_MAX], f_other[PKT_MAX], f_gue[PKT_MAX + 64];
	size_t l_est, l_other, l_gue;
	double floor1, m_floor, m_other, m_fwd, m_decap;
	struct fixture *fx;
	int floor_fd, xdp, r;
	cpu_set_t one;

	CPU_ZERO(&one);
	CPU_SET(0, &one);
	sched_setaffinity(0, sizeof(one), &one);
	if (fx_setup(&fx))
		return 1;
	setup_cluster(fx);
	floor_fd = floor_prog_load();
	if (floor_fd < 0)
		die("floor program load");
	xdp = dataplane__xdp_fd(&fx->dp);

	l_est = pkt_build(&est, f_est);
	l_other = pkt_build(&other, f_other);
	l_est6 = pkt_build(&est6, f_est6);
	l_gue = gue_frame(f_est, l_est, f_gue);

	for (r = 0; r < ROUNDS; r++) {
		floor_b[r] =
			run_ns(floor_fd, f_est, l_est, REPEAT, 1, XDP_PASS);
		other_b[r] = run_ns(xdp, f_other, l_other, REPEAT, 1, XDP_PASS);
		n_routed = fx_reason(fx, LB_R_FWD_ROUTED);
		n_decap = fx_reason(fx, LB_R_DECAP);
		cycle[r] = run_ns(xdp, f_est6, l_est6, REPEAT, 1, XDP_PASS);
		if (fx_reason(fx, LB_R_FWD_ROUTED) - n_routed != REPEAT / 2 ||
		    fx_reason(fx, LB_R_DECAP) - n_decap != REPEAT / 2)
			die("the encapsulation/decapsulation cycle");
		floor1 = run_ns(floor_fd, f_est, l_est, 1, SINGLES, XDP_PASS);
		fwd[r] = floor_b[r] +
			 run_ns(xdp, f_est, l_est, 1, SINGLES, XDP_TX) - floor1;
		floor1 = run_ns(floor_fd, f_gue, l_gue, 1, SINGLES, XDP_PASS);
		decap[r] = floor_b[r] +
			   run_ns(xdp, f_gue, l_gue, 1, SINGLES, XDP_PASS) -
			   floor1;
	}
	m_floor = median(floor_b);
	m_other = median(other_b);
	m_fwd = median(fwd);
	m_decap = median(decap);
	m_cycle = median(cycle);
	printf("bench-scaleout: %d rounds, median round, in-kernel ns/packet "
	       "(fwd, decap: one run per call, cold)\n",
	       ROUNDS);
	printf("  floor  %6.1f ns  XDP_PASS only, established segment\n",
	       m_floor);
	printf("  other  %6.1f ns  (%.2f x floor)  cluster mode, segment to "
	       "another address\n",
	       m_other, m_other / m_floor);
	printf("  fwd    %6.1f ns  (%.2f x floor)  established segment "
	       "encapsulated, FIB, XDP_TX\n",
	       m_fwd, m_fwd / m_floor);
	printf("  decap  %6.1f ns  (%.2f x floor)  GUE from a cluster host "
	       "decapsulated\n",
	       m_decap, m_decap / m_floor);
	printf("  cycle  %6.1f ns  (%.2f x floor)  warm: encapsulation (FIB: "
	       "local) and decapsulation, alternating, mean\n",
	       m_cycle, m_cycle / m_floor);
	printf("scaleout_xdp: floor_ns=%.1f fwd_ns=%.1f decap_ns=%.1f "
	       "fwd_ns_ratio=%.2f decap_ns_ratio=%.2f\n",
	       m_floor, m_fwd, m_decap, m_fwd / m_floor, m_decap / m_floor);
	close(floor_fd);
	return fx_teardown(fx);
}
