// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * make bench-xdp: the cost of the XDP program per packet against the floor,
 * a program that only returns XDP_PASS, all through bpf_prog_test_run_opts
 * in one process. Each figure is wall time over REPEAT runs in the kernel
 * divided by REPEAT; ROUNDS rounds alternate the programs so that drift hits
 * all alike; the median round is reported. Figures, not a test.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include "../bpf/fixture.h"
#include "../bpf/pkt.h"
#include "floor_prog.h"

#define REPEAT 1000000
#define ROUNDS 7

enum mode {
	NORMAL, /* flood detection on, threshold out of reach */
	FLOOD_DROP, /* flood mode, the source's bucket empty */
	FLOOD_COOKIE, /* flood mode, cookies on, bucket without limit */
};

struct scenario {
	const char *name;
	const char *what;
	struct pkt_spec pkt;
	int use_floor;
	enum mode mode;
	double ns[ROUNDS];
};

static void set_mode(struct fixture *fx, enum mode mode)
{
	int err = 0;

	switch (mode) {
	case NORMAL:
		err = fx_set_flood(fx, LB_CF_FLOOD | LB_CF_COOKIES, 0xffffffffu,
				   LB_SRC_RATE_DEFAULT, LB_SRC_BURST_DEFAULT);
		break;
	case FLOOD_DROP: /* every SYN over the rate; 1 SYN/s per source */
		err = fx_set_flood(fx, LB_CF_FLOOD, 1, 1, 1);
		break;
	case FLOOD_COOKIE:
		err = fx_set_flood(fx, LB_CF_FLOOD | LB_CF_COOKIES, 1,
				   0xffffffffu, 0xffffffffu);
		break;
	}
	if (err) {
		fprintf(stderr, "bench-xdp: cannot set lb_config: %s\n",
			strerror(-err));
		exit(1);
	}
}

static double run_ns(int prog, const uint8_t *frame, size_t len)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame,
		    .data_size_in = len, .repeat = REPEAT);
	struct timespec a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	if (bpf_prog_test_run_opts(prog, &opts)) {
		perror("bench-xdp: test_run");
		exit(1);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	return ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / REPEAT;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v)
{
	double s[ROUNDS];

	memcpy(s, v, sizeof(s));
	qsort(s, ROUNDS, sizeof(double), cmp_double);
	return s[ROUNDS / 2];
}

int main(void)
{
	struct scenario sc[] = {
		{ .name = "floor",
		  .what = "XDP_PASS only, established packet",
		  .pkt = { .family = 4,
			   .flags = F_ACK | F_PSH,
			   .payload = 100 },
		  .use_floor = 1 },
		{ .name = "est",
		  .what = "TCP ACK+data to a VIP",
		  .pkt = { .family = 4,
			   .flags = F_ACK | F_PSH,
			   .payload = 100 } },
		{ .name = "syn",
		  .what = "TCP SYN to a VIP (flood count, retransmit filter)",
		  .pkt = { .family = 4, .flags = F_SYN } },
		{ .name = "other",
		  .what = "TCP ACK+data to another address",
		  .pkt = { .family = 4,
			   .dst = "198.18.0.200",
			   .flags = F_ACK | F_PSH,
			   .payload = 100 } },
		{ .name = "o-syn",
		  .what = "TCP SYN to another address (VIP miss)",
		  .pkt = { .family = 4,
			   .dst = "198.18.0.200",
			   .flags = F_SYN } },
		{ .name = "syn6",
		  .what = "TCP SYN to an IPv6 VIP",
		  .pkt = { .family = 6, .flags = F_SYN } },
		{ .name = "udp",
		  .what = "UDP to another address",
		  .pkt = { .family = 4,
			   .proto = IPPROTO_UDP,
			   .dst = "198.18.0.200",
			   .payload = 64 } },
		{ .name = "fw",
		  .what = "UDP to a VIP address (firewall drop)",
		  .pkt = { .family = 4, .proto = IPPROTO_UDP, .payload = 64 } },
		{ .name = "f-drop",
		  .what = "flood mode: SYN over its source's bucket (drop)",
		  .pkt = { .family = 4, .flags = F_SYN },
		  .mode = FLOOD_DROP },
		{ .name = "cookie",
		  .what = "flood mode: SYN answered with a cookie SYN-ACK",
		  .pkt = { .family = 4, .flags = F_SYN },
		  .mode = FLOOD_COOKIE },
	};
	size_t n = sizeof(sc) / sizeof(sc[0]), i;
	uint8_t frames[sizeof(sc) / sizeof(sc[0])][PKT_MAX];
	size_t lens[sizeof(sc) / sizeof(sc[0])];
	struct fixture *fx;
	double m[sizeof(sc) / sizeof(sc[0])];
	int floor_fd, r;

	cpu_set_t one;

	/* flood state is per CPU: keep every run on one */
	CPU_ZERO(&one);
	CPU_SET(0, &one);
	sched_setaffinity(0, sizeof(one), &one);
	if (fx_setup(&fx))
		return 1;
	floor_fd = floor_prog_load();
	if (floor_fd < 0) {
		fprintf(stderr,
			"bench-xdp: cannot load the floor program: %s\n",
			strerror(-floor_fd));
		return 1;
	}
	for (i = 0; i < n; i++)
		lens[i] = pkt_build(&sc[i].pkt, frames[i]);
	for (r = 0; r < ROUNDS; r++)
		for (i = 0; i < n; i++) {
			set_mode(fx, sc[i].mode);
			sc[i].ns[r] = run_ns(sc[i].use_floor ?
						     floor_fd :
						     dataplane__xdp_fd(&fx->dp),
					     frames[i], lens[i]);
		}

	printf("bench-xdp: %d rounds x %d runs each, median round, ns/packet\n",
	       ROUNDS, REPEAT);
	for (i = 0; i < n; i++) {
		double lo = sc[i].ns[0], hi = sc[i].ns[0];

		for (r = 1; r < ROUNDS; r++) {
			lo = sc[i].ns[r] < lo ? sc[i].ns[r] : lo;
			hi = sc[i].ns[r] > hi ? sc[i].ns[r] : hi;
		}
		m[i] = median(sc[i].ns);
		printf("  %-6s %6.1f ns  (%.2f x floor, rounds %.1f..%.1f)  %s\n",
		       sc[i].name, m[i], m[i] / m[0], lo, hi, sc[i].what);
	}
	printf("xdp: floor=%.1f ns est=%.1f ns (%.2f) syn=%.1f ns (%.2f) "
	       "other=%.1f ns (%.2f) flood_drop=%.1f ns (%.2f) "
	       "cookie=%.1f ns (%.2f)\n",
	       m[0], m[1], m[1] / m[0], m[2], m[2] / m[0], m[3], m[3] / m[0],
	       m[n - 2], m[n - 2] / m[0], m[n - 1], m[n - 1] / m[0]);
	close(floor_fd);
	return fx_teardown(fx);
}
