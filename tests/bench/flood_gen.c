// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * flood_gen: the spoofed SYN flood of make bench-flood
 * (tests/bench/bench_flood.sh). Sends TCP SYNs to a VIP from random source
 * addresses and ports, as fast as one core allows: an AF_PACKET socket on
 * one veth, whole Ethernet frames built here, sendmmsg() in batches,
 * PACKET_QDISC_BYPASS. Every frame has a valid IPv4 header checksum (or is
 * IPv6) and a valid TCP checksum, a random ISN and an MSS option.
 *
 * Usage: flood_gen -i IFACE -m DST_MAC [-4 VIP4] [-6 VIP6] -n COUNT -t SECONDS
 *                  [-r PPS] [-p PORT] [-s SRC4/LEN] [-S SRC6/LEN] [-b BATCH] [-x]
 *
 *   -i   the veth to send on (it must be a veth, in a network namespace
 *        other than the one of PID 1: a namespace the bench made)
 *   -m   the destination MAC (the balancer's end of the veth)
 *   -4/-6  the VIP; with both, frames alternate between the families
 *   -n   packets to offer at most (hard cap 2e9)
 *   -t   seconds to send at most (hard cap 60)
 *   -r   offer PPS packets a second (default 0: as fast as it can)
 *   -s   IPv4 source range (default 198.19.0.0/16), inside 198.18.0.0/15
 *   -S   IPv6 source range (default fd00:198:18:f000::/52), inside
 *        fd00:198:18::/48
 *   -x   send through XDP, not AF_PACKET: BPF_PROG_RUN in live-frames mode
 *        runs tests/bench/bpf/flood_tx.bpf.c, which writes each SYN and
 *        redirects it out of IFACE (XDP_REDIRECT, the veth's ndo_xdp_xmit):
 *        the peer receives xdp_frames on pages, as a NIC's driver gives its
 *        XDP program, and no skb is made. (AF_PACKET's skbs reach a veth
 *        peer's XDP only after veth copies each into a page of its own:
 *        skb_pp_cow_data(), most of the receiver's cost per frame.) The peer
 *        must have an XDP program attached. A frame its full ring refuses
 *        is counted by the veth as IFACE's tx_dropped, read here.
 *
 * The VIPs must be test addresses too (198.18.0.0/15, fd00:198:18::/48).
 * Stops at COUNT, at SECONDS or on SIGINT/SIGTERM, whichever is first, and
 * prints "flood_gen: offered=N packets=N dropped=N missed=N seconds=S
 * offered_pps=P pps=P v4=N v6=N". A network does not wait for its
 * receiver: every frame is offered once; a veth whose peer's receive ring
 * is full refuses it (ENOBUFS) and it is counted as dropped, as a NIC drops
 * what its full ring cannot take. With -r the flood keeps its schedule:
 * frames that fell due while the generator had no CPU (it shares a core
 * with the legitimate clients) are not sent late in a burst but counted as
 * missed, lost on the way. So offered_pps is the rate asked for whatever
 * the receiver and the generator's core do; packets (pps) are the frames
 * the balancer's ring took, v4/v6 their families. Figures, not a test.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <linux/ethtool.h>
#include <linux/if_packet.h>
#include <linux/sockios.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "bench/flood_tx.skel.h"

#define MAX_COUNT 2000000000L
#define MAX_SECONDS 60.0
#define MAX_BATCH 256
#define TCP_HLEN 24 /* 20 + the MSS option */
#define FRAME_MAX (ETH_HLEN + sizeof(struct ip6_hdr) + TCP_HLEN)
#define MSS 1460

struct range4 {
	uint32_t base; /* host order */
	uint32_t mask; /* host bits */
};

struct range6 {
	struct in6_addr base;
	int len;
};

static volatile sig_atomic_t stop;
static uint64_t rng_state;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void die(const char *fmt, const char *arg)
{
	fprintf(stderr, "flood_gen: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* xorshift64*: fast, and random enough for addresses and ports */
static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

static uint32_t sum16(const void *p, size_t len, uint32_t sum)
{
	const uint8_t *b = p;

	for (; len > 1; len -= 2, b += 2)
		sum += (uint32_t)b[0] << 8 | b[1];
	if (len)
		sum += (uint32_t)b[0] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons(~sum & 0xffff);
}

static int in_prefix4(uint32_t a, uint32_t net, int len)
{
	uint32_t m = len ? ~0u << (32 - len) : 0;

	return (a & m) == (net & m);
}

static int in_prefix6(const struct in6_addr *a, const struct in6_addr *net,
		      int len)
{
	int i;

	for (i = 0; i < 16 && len > 0; i++, len -= 8) {
		uint8_t m = len >= 8 ? 0xff : (uint8_t)(0xff << (8 - len));

		if ((a->s6_addr[i] & m) != (net->s6_addr[i] & m))
			return 0;
	}
	return 1;
}

static const struct in6_addr test6 = { { { 0xfd, 0x00, 0x01, 0x98, 0x00,
					   0x18 } } }; /* fd00:198:18::/48 */
#define TEST4 0xc6120000u /* 198.18.0.0/15 */

static int split_prefix(char *s, int max)
{
	char *slash = strchr(s, '/');
	char *end;
	long len;

	if (!slash)
		return -1;
	*slash = '\0';
	len = strtol(slash + 1, &end, 10);
	return *end || len < 0 || len > max ? -1 : (int)len;
}

static void parse_range4(char *arg, struct range4 *r)
{
	struct in_addr a;
	int len = split_prefix(arg, 32);

	if (len < 0 || inet_pton(AF_INET, arg, &a) != 1)
		die("bad IPv4 source range '%s'", arg);
	if (len < 15 || !in_prefix4(ntohl(a.s_addr), TEST4, 15))
		die("source range %s is not inside 198.18.0.0/15", arg);
	r->mask = len == 32 ? 0 : ~0u >> len;
	r->base = ntohl(a.s_addr) & ~r->mask;
}

static void parse_range6(char *arg, struct range6 *r)
{
	int len = split_prefix(arg, 128);

	if (len < 0 || inet_pton(AF_INET6, arg, &r->base) != 1)
		die("bad IPv6 source range '%s'", arg);
	if (len < 48 || !in_prefix6(&r->base, &test6, 48))
		die("source range %s is not inside fd00:198:18::/48", arg);
	r->len = len;
}

/* Our network namespace is a named one (ip netns add; /run/netns/NAME),
 * and not PID 1's where we can see it. */
static int named_netns(void)
{
	struct stat self, st, init;
	struct dirent *d;
	char path[300];
	DIR *dir;
	int found = 0;

	if (stat("/proc/self/ns/net", &self))
		die("cannot see my network namespace: %s", strerror(errno));
	if (!stat("/proc/1/ns/net", &init) && init.st_ino == self.st_ino &&
	    init.st_dev == self.st_dev)
		return 0;
	dir = opendir("/run/netns");
	while (dir && !found && (d = readdir(dir))) {
		snprintf(path, sizeof(path), "/run/netns/%s", d->d_name);
		found = d->d_name[0] != '.' && !stat(path, &st) &&
			st.st_ino == self.st_ino && st.st_dev == self.st_dev;
	}
	if (dir)
		closedir(dir);
	return found;
}

/* Refuse to send anywhere but on a veth in a namespace made for it. */
static void check_place(int fd, const char *ifname)
{
	struct ethtool_drvinfo di = { .cmd = ETHTOOL_GDRVINFO };
	struct ifreq ifr = { 0 };

	if (!named_netns())
		die("%s", "refusing to send: not in a named network namespace "
			  "(ip netns exec NAME) made for the bench");
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = (void *)&di;
	if (ioctl(fd, SIOCETHTOOL, &ifr))
		die("cannot ask the driver of '%s'", ifname);
	if (strcmp(di.driver, "veth"))
		die("refusing to send on '%s': not a veth", ifname);
}

static void parse_mac(const char *s, uint8_t *mac)
{
	if (sscanf(s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &mac[0], &mac[1],
		   &mac[2], &mac[3], &mac[4], &mac[5]) != 6)
		die("bad MAC address '%s'", s);
}

static void tcp_syn(struct tcphdr *th, uint16_t dport)
{
	uint8_t *opt = (uint8_t *)(th + 1);

	memset(th, 0, TCP_HLEN);
	th->source = htons(1024 + rnd() % 64512);
	th->dest = dport;
	th->seq = (uint32_t)rnd();
	th->doff = TCP_HLEN / 4;
	th->syn = 1;
	th->window = htons(64240);
	opt[0] = TCPOPT_MAXSEG;
	opt[1] = TCPOLEN_MAXSEG;
	opt[2] = MSS >> 8;
	opt[3] = MSS & 0xff;
}

static size_t frame4(uint8_t *f, const struct range4 *src, uint16_t dport)
{
	struct ip *ip = (struct ip *)(f + ETH_HLEN);
	struct tcphdr *th = (struct tcphdr *)(ip + 1);
	uint32_t s, sum;

	ip->ip_id = (uint16_t)rnd();
	s = htonl(src->base | ((uint32_t)rnd() & src->mask));
	ip->ip_src.s_addr = s;
	ip->ip_sum = 0;
	ip->ip_sum = fold(sum16(ip, sizeof(*ip), 0));
	tcp_syn(th, dport);
	sum = sum16(&ip->ip_src, 8, 0) + IPPROTO_TCP + TCP_HLEN;
	th->check = fold(sum16(th, TCP_HLEN, sum));
	return ETH_HLEN + sizeof(*ip) + TCP_HLEN;
}

static size_t frame6(uint8_t *f, const struct range6 *src, uint16_t dport)
{
	struct ip6_hdr *ip6 = (struct ip6_hdr *)(f + ETH_HLEN);
	struct tcphdr *th = (struct tcphdr *)(ip6 + 1);
	uint8_t *a = ip6->ip6_src.s6_addr;
	uint64_t r[2] = { rnd(), rnd() };
	uint32_t sum;
	int i, keep = src->len;

	/* the range's bits, random bits below them */
	for (i = 0; i < 16; i++, keep -= 8) {
		uint8_t m = keep >= 8 ? 0xff :
			    keep <= 0 ? 0 :
					(uint8_t)(0xff << (8 - keep));
		uint8_t b = (uint8_t)(r[i / 8] >> (8 * (i % 8)));

		a[i] = (src->base.s6_addr[i] & m) | (b & ~m);
	}
	tcp_syn(th, dport);
	sum = sum16(&ip6->ip6_src, 32, 0) + IPPROTO_TCP + TCP_HLEN;
	th->check = fold(sum16(th, TCP_HLEN, sum));
	return ETH_HLEN + sizeof(*ip6) + TCP_HLEN;
}

static long read_counter(const char *ifname, const char *name)
{
	char path[200];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/%s", ifname,
		 name);
	f = fopen(path, "r");
	if (!f || fscanf(f, "%ld", &v) != 1)
		die("cannot read %s", path);
	fclose(f);
	return v;
}

/* A switch's buffer: frames up to this late are still sent; older ones
 * are lost. */
#define LATE_MAX 0.050

/*
 * A paced flood keeps its schedule. Returns how many frames to send now:
 * all that are due (at least a step of 1 ms) after sleeping while none is;
 * frames due more than LATE_MAX ago are offered and lost (*missed), not
 * sent late. Sending what is due rather than a fixed step matters with
 * -x: each BPF_PROG_RUN call takes 7 to 15 ms of wall time on this
 * kernel whatever its size (little of it CPU; calls from several threads
 * do not overlap), so the flood goes out in bursts of that many ms.
 */
static long pace(double t0, double pps, long step, long *offered, long *missed)
{
	double t = now(), due = (t - t0) * pps;
	struct timespec ts;

	if (pps <= 0)
		return step;
	if (*offered < due - LATE_MAX * pps) {
		*missed += (long)(due - LATE_MAX * pps) - *offered;
		*offered = (long)(due - LATE_MAX * pps);
	}
	if (*offered + step <= due)
		return (long)due - *offered;
	due = t0 + (*offered + step) / pps;
	ts.tv_sec = (time_t)due;
	ts.tv_nsec = (long)((due - ts.tv_sec) * 1e9);
	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	return step;
}

/* -x: the frames through XDP live frames; counts as the AF_PACKET loop */
static void xdp_loop(const char *ifname, const uint8_t *f4, size_t l4,
		     const uint8_t *f6, size_t l6, const struct range4 *src4,
		     const struct range6 *src6, long count, double seconds,
		     double pps, long *offered, long *sent, long *missed,
		     long *n4, long *n6)
{
	struct flood_tx_bpf *skel;
	long drop0, dropped;
	double t0, t1, deadline;
	int i, v6 = 0, fd, keep;

	libbpf_set_print(NULL);
	skel = flood_tx_bpf__open_and_load();
	if (!skel)
		die("cannot load the XDP program of -x: %s", strerror(errno));
	skel->bss->out_ifindex = if_nametoindex(ifname);
	skel->bss->src4_base = htonl(src4->base);
	skel->bss->src4_rand = htonl(src4->mask);
	for (i = 0, keep = src6->len; i < 16; i++, keep -= 8) {
		uint8_t m = keep >= 8 ? 0xff :
			    keep <= 0 ? 0 :
					(uint8_t)(0xff << (8 - keep));

		((uint8_t *)skel->bss->src6_base)[i] =
			src6->base.s6_addr[i] & m;
		((uint8_t *)skel->bss->src6_rand)[i] = (uint8_t)~m;
	}
	if (f4)
		memcpy(skel->bss->tmpl4, f4, sizeof(skel->bss->tmpl4));
	if (f6)
		memcpy(skel->bss->tmpl6, f6, sizeof(skel->bss->tmpl6));
	fd = bpf_program__fd(skel->progs.flood_tx);
	drop0 = read_counter(ifname, "tx_dropped");
	t0 = now();
	deadline = t0 + seconds;
	t1 = t0;
	while (!stop && *offered < count && t1 < deadline) {
		/* paced: what is due, at least 1 ms of frames; else 4096
		 * frames a call, so a signal or the deadline is seen soon */
		long n = pps > 0 ? (long)(pps / 1000) + 1 : 4096;
		int use6 = f6 && (!f4 || v6);
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = use6 ? f6 : f4,
			    .data_size_in = use6 ? l6 : l4,
			    .flags = BPF_F_TEST_XDP_LIVE_FRAMES);

		n = pace(t0, pps, n, offered, missed);
		if (n > count - *offered)
			n = count - *offered;
		if (n <= 0)
			break;
		o.repeat = n;
		if (bpf_prog_test_run_opts(fd, &o)) {
			/* a signal stops a run part way: how far it went is
			 * not told, so it is not counted */
			if (errno == EINTR)
				break;
			die("BPF_PROG_RUN (live frames): %s", strerror(errno));
		}
		if (use6)
			*n6 += n;
		else
			*n4 += n;
		*offered += n;
		v6 = !v6;
		t1 = now();
	}
	dropped = read_counter(ifname, "tx_dropped") - drop0;
	*sent = *offered - *missed - dropped;
	flood_tx_bpf__destroy(skel);
}

int main(int argc, char **argv)
{
	static uint8_t frames[MAX_BATCH][FRAME_MAX];
	struct range4 src4 = { 0 };
	struct range6 src6 = { 0 };
	struct in_addr vip4 = { 0 };
	struct in6_addr vip6;
	struct mmsghdr msgs[MAX_BATCH];
	struct iovec iov[MAX_BATCH];
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	struct ifreq ifr = { 0 };
	uint8_t dmac[6], smac[6];
	const char *ifname = NULL, *mac = NULL;
	long count = -1, offered = 0, sent = 0, dropped = 0, missed = 0;
	long n4 = 0, n6 = 0;
	double seconds = -1, pps = 0, t0, t1, deadline;
	int have4 = 0, have6 = 0, batch = 64, fd, c, i, one = 1, xdp = 0;
	uint16_t dport = htons(443);
	char s4[] = "198.19.0.0/16", s6[] = "fd00:198:18:f000::/52";
	char *end;

	parse_range4(s4, &src4);
	parse_range6(s6, &src6);
	while ((c = getopt(argc, argv, "i:m:4:6:n:t:r:p:s:S:b:x")) != -1) {
		switch (c) {
		case 'x':
			xdp = 1;
			break;
		case 'i':
			ifname = optarg;
			break;
		case 'm':
			mac = optarg;
			break;
		case '4':
			if (inet_pton(AF_INET, optarg, &vip4) != 1 ||
			    !in_prefix4(ntohl(vip4.s_addr), TEST4, 15))
				die("the VIP %s is not in 198.18.0.0/15",
				    optarg);
			have4 = 1;
			break;
		case '6':
			if (inet_pton(AF_INET6, optarg, &vip6) != 1 ||
			    !in_prefix6(&vip6, &test6, 48))
				die("the VIP %s is not in fd00:198:18::/48",
				    optarg);
			have6 = 1;
			break;
		case 'n':
			count = strtol(optarg, &end, 10);
			if (*end || count < 1 || count > MAX_COUNT)
				die("-n %s: 1..2000000000 packets", optarg);
			break;
		case 't':
			seconds = strtod(optarg, &end);
			if (*end || !(seconds > 0 && seconds <= MAX_SECONDS))
				die("-t %s: more than 0, at most 60 seconds",
				    optarg);
			break;
		case 'r':
			pps = strtod(optarg, &end);
			if (*end || !(pps >= 0 && pps <= 1e8))
				die("-r %s: 0 (as fast as possible) .. 1e8",
				    optarg);
			break;
		case 'p':
			dport = htons(atoi(optarg));
			break;
		case 's':
			parse_range4(optarg, &src4);
			break;
		case 'S':
			parse_range6(optarg, &src6);
			break;
		case 'b':
			batch = atoi(optarg);
			if (batch < 1 || batch > MAX_BATCH)
				die("-b %s: 1..256", optarg);
			break;
		default:
			goto usage;
		}
	}
	if (!ifname || !mac || count < 0 || seconds < 0 || !(have4 || have6) ||
	    optind != argc || !dport) {
usage:
		fprintf(stderr,
			"usage: flood_gen -i IFACE -m DST_MAC [-4 VIP4] [-6 VIP6] "
			"-n COUNT -t SECONDS [-r PPS] [-p PORT] [-s SRC4/LEN] "
			"[-S SRC6/LEN] [-b BATCH] [-x]\n");
		return 2;
	}
	parse_mac(mac, dmac);

	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("AF_PACKET socket: %s (root?)", strerror(errno));
	check_place(fd, ifname);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr))
		die("no MAC address on '%s'", ifname);
	memcpy(smac, ifr.ifr_hwaddr.sa_data, 6);
	sll.sll_ifindex = if_nametoindex(ifname);
	sll.sll_protocol = 0; /* send only: receive nothing */
	if (!sll.sll_ifindex || bind(fd, (struct sockaddr *)&sll, sizeof(sll)))
		die("cannot bind to '%s'", ifname);
	setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
	/* only the peer's ring may refuse a frame, not our send buffer */
	setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &(int){ 16 << 20 },
		   sizeof(int));

	/* the fixed parts of each frame; per packet only addresses, ports,
	 * ISN, IP id and checksums change */
	for (i = 0; i < batch; i++) {
		int v6 = have6 && (!have4 || i % 2);
		uint8_t *f = frames[i];
		struct ether_header *eh = (struct ether_header *)f;

		memcpy(eh->ether_dhost, dmac, 6);
		memcpy(eh->ether_shost, smac, 6);
		if (v6) {
			struct ip6_hdr *ip6 = (struct ip6_hdr *)(f + ETH_HLEN);

			eh->ether_type = htons(ETHERTYPE_IPV6);
			ip6->ip6_flow = htonl(6u << 28);
			ip6->ip6_plen = htons(TCP_HLEN);
			ip6->ip6_nxt = IPPROTO_TCP;
			ip6->ip6_hlim = 64;
			ip6->ip6_dst = vip6;
		} else {
			struct ip *ip = (struct ip *)(f + ETH_HLEN);

			eh->ether_type = htons(ETHERTYPE_IP);
			ip->ip_v = 4;
			ip->ip_hl = 5;
			ip->ip_len = htons(sizeof(*ip) + TCP_HLEN);
			ip->ip_off = htons(IP_DF);
			ip->ip_ttl = 64;
			ip->ip_p = IPPROTO_TCP;
			ip->ip_dst = vip4;
		}
		iov[i].iov_base = f;
		msgs[i].msg_hdr =
			(struct msghdr){ .msg_iov = &iov[i], .msg_iovlen = 1 };
	}

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	rng_state = ((uint64_t)getpid() << 32) ^ (uint64_t)(now() * 1e9) ^
		    0x9e3779b97f4a7c15ULL;
	if (xdp) {
		/* one frame of each family as the program's template */
		size_t l4 = 0, l6 = 0;
		int i4 = have4 ? 0 : -1, i6 = have6 ? (have4 ? 1 : 0) : -1;

		if (i4 >= 0)
			l4 = frame4(frames[i4], &src4, dport);
		if (i6 >= 0)
			l6 = frame6(frames[i6], &src6, dport);
		t0 = now();
		xdp_loop(ifname, i4 >= 0 ? frames[i4] : NULL, l4,
			 i6 >= 0 ? frames[i6] : NULL, l6, &src4, &src6, count,
			 seconds, pps, &offered, &sent, &missed, &n4, &n6);
		dropped = offered - missed - sent;
		t1 = now() - t0;
		goto out;
	}
	t0 = now();
	deadline = t0 + seconds;
	t1 = t0;
	while (!stop && offered < count && t1 < deadline) {
		int n, r, k = 0;

		n = (int)pace(t0, pps, batch, &offered, &missed);
		if (n > batch)
			n = batch;
		if (offered >= count)
			break;
		n = count - offered < n ? (int)(count - offered) : n;
		for (i = 0; i < n; i++) {
			int v6 = have6 && (!have4 || i % 2);

			iov[i].iov_len = v6 ? frame6(frames[i], &src6, dport) :
					      frame4(frames[i], &src4, dport);
		}
		/* sendmmsg() stops at a refused frame: that one is dropped,
		 * the rest of the batch offered again */
		while (k < n) {
			r = sendmmsg(fd, msgs + k, n - k, 0);
			if (r < 0) {
				if (errno != ENOBUFS && errno != EAGAIN &&
				    errno != EINTR)
					die("sendmmsg: %s", strerror(errno));
				r = 0;
			}
			for (i = k; i < k + r; i++) {
				if (have6 && (!have4 || i % 2))
					n6++;
				else
					n4++;
			}
			sent += r;
			k += r;
			if (k < n) {
				dropped++;
				k++;
			}
		}
		offered += n;
		t1 = now();
	}
	t1 -= t0;
out:
	printf("flood_gen: offered=%ld packets=%ld dropped=%ld missed=%ld "
	       "seconds=%.2f offered_pps=%.0f pps=%.0f v4=%ld v6=%ld\n",
	       offered, sent, dropped, missed, t1, t1 > 0 ? offered / t1 : 0.0,
	       t1 > 0 ? sent / t1 : 0.0, n4, n6);
	return 0;
}
