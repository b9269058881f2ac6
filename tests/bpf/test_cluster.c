// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Scale-out's data path (docs/scaleout.md "Data path") in the real kernel
 * through bpf_prog_test_run_opts: the balancer's encapsulation byte for
 * byte, the MSS clamp, the second chance field, ICMP forwarding, the
 * worker host's decapsulation and its checks, the second chance against a
 * real TCP connection, and sk_lookup with refs of other hosts. The private
 * network namespace (fixture.h) gets a veth with neighbour entries so that
 * bpf_fib_lookup() answers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>
#include "fixture.h"
#include "pkt.h"
#include "worker.h"

#define SELF "198.18.2.1" /* this host, host 1, on c1-v0 */
#define HOST2 "198.18.2.2" /* worker host with a neighbour entry */
#define HOST3 "198.18.2.3" /* worker host without one */
#define HOST4 "198.18.2.4" /* previous pick's host, neighbour entry */
#define STRANGER "198.18.2.77" /* not in the cluster */
#define CLIENT4 "198.18.1.10"
#define CLIENT6 "fd00:198:18:1::10"
#define GUE_PORT 6080
#define MSS4 1400
#define MSS6 1380
#define MAC_SELF "\x02\x00\x00\x00\x02\x01"
#define MAC_HOST2 "\x02\x00\x00\x00\x02\x02"
#define MAC_HOST4 "\x02\x00\x00\x00\x02\x04"
#define OUT_MAX (PKT_MAX + 64)

static struct fixture *fx;
static int ifindex; /* c1-v0 */
static __u32 ring[FX_RING];

static __be32 ip4(const char *s)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		abort();
	return a.s_addr;
}

static int sh(const char *cmd)
{
	int rc = system(cmd);

	if (rc)
		fprintf(stderr, "test_cluster: '%s' failed (%d)\n", cmd, rc);
	return rc;
}

static int write_file(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");
	int rc;

	if (!f)
		return -1;
	rc = fputs(s, f) < 0;
	return fclose(f) || rc ? -1 : 0;
}

/* self_host 0: a single host; else this host is host 1. */
static void set_cluster(__u32 self_host)
{
	struct lb_config cfg;
	__u32 zero = 0;
	int fd = fx->dp.fds[DP_CONFIG];

	assert_int_equal(bpf_map_lookup_elem(fd, &zero, &cfg), 0);
	cfg.self_host = self_host;
	cfg.self_addr = self_host ? ip4(SELF) : 0;
	cfg.gue_port = htons(GUE_PORT);
	cfg.mss_v4 = MSS4;
	cfg.mss_v6 = MSS6;
	assert_int_equal(bpf_map_update_elem(fd, &zero, &cfg, BPF_ANY), 0);
}

static int add_host(__u32 id, const char *addr, __u32 flags)
{
	struct lb_host h = { .addr = ip4(addr), .flags = flags };
	struct lb_host_addr ha = { .host = id };
	__be32 a = h.addr;

	return bpf_map_update_elem(fx->dp.fds[DP_HOSTS], &id, &h, BPF_ANY) ?:
		       bpf_map_update_elem(fx->dp.fds[DP_HOST_ADDRS], &a, &ha,
					   BPF_ANY);
}

/* Every slot of both test VIPs' rows (lb_rings or lb_rings_prev). */
static void fill_ring(enum dp_map map, __u32 ref)
{
	__u32 i;

	for (i = 0; i < FX_RING; i++)
		ring[i] = ref;
	assert_int_equal(dataplane__ring_write_map(&fx->dp, map, fx->vip4.index,
						   ring, NULL, 0),
			 0);
	assert_int_equal(dataplane__ring_write_map(&fx->dp, map, fx->vip6.index,
						   ring, NULL, 0),
			 0);
}

static int group_setup(void **state)
{
	(void)state;
	if (fx_setup(&fx))
		return -1;
	/* the veth lives in the fixture's private namespace */
	if (sh("ip link set lo up") ||
	    sh("ip link add c1-v0 address 02:00:00:00:02:01 type veth peer "
	       "name c1-v1") ||
	    sh("ip addr add " SELF "/24 dev c1-v0") ||
	    sh("ip link set c1-v0 up") || sh("ip link set c1-v1 up") ||
	    sh("ip neigh replace " HOST2 " lladdr 02:00:00:00:02:02 dev c1-v0 "
	       "nud permanent") ||
	    sh("ip neigh replace " HOST4 " lladdr 02:00:00:00:02:04 dev c1-v0 "
	       "nud permanent") ||
	    write_file("/proc/sys/net/ipv4/conf/all/forwarding", "1"))
		return -1;
	ifindex = if_nametoindex("c1-v0");
	if (!ifindex)
		return -1;
	if (add_host(1, SELF, LB_HOST_F_BALANCER | LB_HOST_F_WORKER) ||
	    add_host(2, HOST2, LB_HOST_F_WORKER) ||
	    add_host(3, HOST3, LB_HOST_F_WORKER) ||
	    add_host(4, HOST4, LB_HOST_F_WORKER | LB_HOST_F_BALANCER))
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	return fx_teardown(fx);
}

/* Before each test: cluster mode, every pick on host 2, no previous ring. */
static int test_setup(void **state)
{
	(void)state;
	set_cluster(1);
	fill_ring(DP_RINGS, LB_REF(2, 7));
	fill_ring(DP_RINGS_PREV, LB_WORKER_NONE);
	return 0;
}

/* Runs lb_xdp on frame (ingress c1-v0 unless ifx is 0); returns the
 * verdict, the output in out and its length in *out_len. */
static int run_xdp(const uint8_t *in, size_t len, int ifx, uint8_t *out,
		   __u32 *out_len)
{
	struct xdp_md ctx = { .data_end = len, .ingress_ifindex = ifx };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in, .data_size_in = len,
		    .data_out = out, .data_size_out = OUT_MAX, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx));

	assert_int_equal(
		bpf_prog_test_run_opts(dataplane__xdp_fd(&fx->dp), &opts), 0);
	*out_len = opts.data_size_out;
	return opts.retval;
}

/* The sum of a header's 16-bit words folds to 0xffff when it is right. */
static void assert_ip_csum_ok(const uint8_t *iph)
{
	assert_int_equal(pkt_ip_csum(iph, 20), 0);
}

static __u16 client_sport(int family, const char *client)
{
	struct lb_addr a;
	__u32 h;

	fx_addr(&a, family, client);
	h = lb_client_hash(&a, family == 6 ? LB_FAMILY_V6 : LB_FAMILY_V4,
			   family == 6 ? &fx->vip6 : &fx->vip4, FX_SEED);
	return 0xc000 | (h & 0x3fff);
}

static __u16 get16(const uint8_t *p)
{
	return p[0] << 8 | p[1];
}

/* The encapsulation of in (a frame with a 14-byte Ethernet header) as
 * lb_xdp must write it: every byte. */
static void assert_encap(const uint8_t *in, size_t in_len, const uint8_t *out,
			 __u32 out_len, int family, const char *client,
			 const char *dst, const uint8_t *dmac, __u16 worker,
			 const char *second)
{
	const uint8_t *ip = out + 14, *udp = ip + 20, *gue = udp + 8;
	size_t inner = in_len - 14;
	__be32 a;

	assert_int_equal(out_len, in_len + LB_ENCAP_OVERHEAD);
	assert_memory_equal(out, dmac, 6);
	assert_memory_equal(out + 6, MAC_SELF, 6);
	assert_int_equal(get16(out + 12), ETH_P_IP);
	assert_int_equal(ip[0], 0x45);
	assert_int_equal(ip[1], 0);
	assert_int_equal(get16(ip + 2), inner + 40);
	assert_int_equal(get16(ip + 4), 0); /* id */
	assert_int_equal(get16(ip + 6), 0x4000); /* DF */
	assert_int_equal(ip[8], 64);
	assert_int_equal(ip[9], IPPROTO_UDP);
	assert_ip_csum_ok(ip);
	a = ip4(SELF);
	assert_memory_equal(ip + 12, &a, 4);
	a = ip4(dst);
	assert_memory_equal(ip + 16, &a, 4);
	assert_int_equal(get16(udp), client_sport(family, client));
	assert_int_equal(get16(udp + 2), GUE_PORT);
	assert_int_equal(get16(udp + 4), inner + 20);
	assert_int_equal(get16(udp + 6), 0);
	assert_int_equal(gue[0], LB_GUE_PRIV_WORDS);
	assert_int_equal(gue[1], family == 6 ? 41 : 4);
	assert_int_equal(get16(gue + 2), 0);
	assert_int_equal(gue[4], LB_GUE_MAGIC);
	assert_int_equal(gue[5], 0);
	assert_int_equal(get16(gue + 6), worker);
	a = second ? ip4(second) : 0;
	assert_memory_equal(gue + 8, &a, 4);
	assert_memory_equal(gue + 12, in + 14, inner);
}

static void fwd_case(const struct pkt_spec *s, const char *client)
{
	uint8_t in[PKT_MAX], out[OUT_MAX];
	__u64 fwd = fx_reason(fx, LB_R_FWD);
	size_t len = pkt_build(s, in);
	__u32 out_len;

	assert_int_equal(run_xdp(in, len, ifindex, out, &out_len), XDP_TX);
	assert_encap(in, len, out, out_len, s->family, client, HOST2,
		     (const uint8_t *)MAC_HOST2, 7, NULL);
	assert_int_equal(fx_reason(fx, LB_R_FWD), fwd + 1);
}

static void test_fwd_v4_syn(void **state)
{
	struct pkt_spec s = { .family = 4, .flags = F_SYN };

	(void)state;
	fwd_case(&s, CLIENT4);
}

static void test_fwd_v4_ack(void **state)
{
	struct pkt_spec s = { .family = 4,
			      .flags = F_ACK | F_PSH,
			      .payload = 100 };

	(void)state;
	fwd_case(&s, CLIENT4);
}

static void test_fwd_v6_syn(void **state)
{
	struct pkt_spec s = { .family = 6, .flags = F_SYN };

	(void)state;
	fwd_case(&s, CLIENT6);
}

static void test_fwd_v6_ack(void **state)
{
	struct pkt_spec s = { .family = 6, .flags = F_ACK, .payload = 33 };

	(void)state;
	fwd_case(&s, CLIENT6);
}

/* Forwarded SYN with an MSS option: the inner MSS is the clamp and the
 * TCP checksum, recomputed here from scratch, is right. */
static void clamp_case(int family, const uint8_t *opts, int opts_len,
		       int mss_at, __u16 mss_in, __u16 want)
{
	struct pkt_spec s = { .family = family,
			      .flags = F_SYN,
			      .tcp_opts = opts,
			      .tcp_opts_len = opts_len };
	uint8_t in[PKT_MAX], out[OUT_MAX], inner[PKT_MAX];
	__u64 clamped = fx_reason(fx, LB_R_MSS_CLAMPED);
	size_t len = pkt_build(&s, in), l3 = 14 + 40, hl;
	__u32 out_len;
	__u16 check;

	hl = family == 6 ? 40 : 20;
	assert_int_equal(get16(in + 14 + hl + 20 + mss_at + 2), mss_in);
	assert_int_equal(run_xdp(in, len, ifindex, out, &out_len), XDP_TX);
	assert_int_equal(out_len, len + 40);
	memcpy(inner, out + l3, len - 14);
	assert_int_equal(get16(inner + hl + 20 + mss_at + 2), want);
	check = get16(inner + hl + 16);
	inner[hl + 16] = inner[hl + 17] = 0;
	assert_int_equal(check,
			 ntohs(pkt_tcp_csum(&s, inner, inner + hl,
					    len - 14 - hl, len - 14 - hl)));
	assert_int_equal(fx_reason(fx, LB_R_MSS_CLAMPED),
			 clamped + (want != mss_in));
	/* nothing else of the inner packet changed */
	inner[hl + 16] = out[l3 + hl + 16];
	inner[hl + 17] = out[l3 + hl + 17];
	memcpy(inner + hl + 20 + mss_at + 2, in + 14 + hl + 20 + mss_at + 2, 2);
	in[14 + hl + 16] = inner[hl + 16];
	in[14 + hl + 17] = inner[hl + 17];
	assert_memory_equal(inner, in + 14, len - 14);
}

static void test_mss_clamped_v4(void **state)
{
	static const uint8_t mss1460[] = { 2, 4, 0x05, 0xb4 };

	(void)state;
	clamp_case(4, mss1460, 4, 0, 1460, MSS4);
}

static void test_mss_clamped_odd_offset(void **state)
{
	/* NOP first: the MSS value sits at an odd offset of the segment */
	static const uint8_t nop_mss[] = { 1, 2, 4, 0x05, 0xb4, 1, 1, 0 };

	(void)state;
	clamp_case(4, nop_mss, 8, 1, 1460, MSS4);
}

static void test_mss_clamped_v6(void **state)
{
	static const uint8_t opts[] = { 4, 2, 2, 4, 0x05, 0xa0, 1, 1 };

	(void)state;
	clamp_case(6, opts, 8, 2, 1440, MSS6);
}

static void test_mss_lower_untouched(void **state)
{
	static const uint8_t mss1300[] = { 2, 4, 0x05, 0x14 };

	(void)state;
	clamp_case(4, mss1300, 4, 0, 1300, 1300);
}

static void second_case(__u32 prev_ref, const char *want)
{
	struct pkt_spec s = { .family = 4, .flags = F_ACK };
	uint8_t in[PKT_MAX], out[OUT_MAX];
	size_t len = pkt_build(&s, in);
	__u32 out_len;

	fill_ring(DP_RINGS_PREV, prev_ref);
	assert_int_equal(run_xdp(in, len, ifindex, out, &out_len), XDP_TX);
	assert_encap(in, len, out, out_len, 4, CLIENT4, HOST2,
		     (const uint8_t *)MAC_HOST2, 7, want);
}

static void test_second_from_prev_ring(void **state)
{
	(void)state;
	second_case(LB_REF(4, 1), HOST4);
}

static void test_no_second_same_host(void **state)
{
	(void)state;
	second_case(LB_REF(2, 3), NULL); /* another worker, same host */
	second_case(LB_REF(0, 3), NULL); /* a single-host ring */
	second_case(LB_WORKER_NONE, NULL);
}

/* Frame passed as it came, and reason (or none: -1) counted once. */
static void untouched_case(const struct pkt_spec *s, int verdict, int reason)
{
	uint8_t in[PKT_MAX], out[OUT_MAX];
	size_t len = pkt_build(s, in);
	__u64 before[LB_R_MAX], after[LB_R_MAX];
	__u32 out_len, r;

	fx_reasons(fx, before);
	assert_int_equal(run_xdp(in, len, ifindex, out, &out_len), verdict);
	assert_int_equal(out_len, len);
	assert_memory_equal(out, in, len);
	fx_reasons(fx, after);
	for (r = 0; r < LB_R_MAX; r++)
		assert_int_equal(after[r],
				 before[r] + ((int)r == reason ? 1 : 0));
}

static void test_pick_on_self_or_host0_passes(void **state)
{
	struct pkt_spec syn = { .family = 4, .flags = F_SYN, .seq = 11 };
	struct pkt_spec ack = { .family = 6, .flags = F_ACK };

	(void)state;
	fill_ring(DP_RINGS, LB_REF(1, 2));
	untouched_case(&syn, XDP_PASS, LB_R_SYN_NEW);
	untouched_case(&ack, XDP_PASS, -1);
	fill_ring(DP_RINGS, 2); /* host 0 */
	syn.seq = 12;
	untouched_case(&syn, XDP_PASS, LB_R_SYN_NEW);
	untouched_case(&ack, XDP_PASS, -1);
}

static void test_single_host_unchanged(void **state)
{
	struct pkt_spec syn = { .family = 4, .flags = F_SYN, .seq = 21 };
	struct pkt_spec ack = { .family = 4, .flags = F_ACK };
	struct pkt_spec udp = { .family = 4,
				.proto = IPPROTO_UDP,
				.dst = SELF,
				.dport = GUE_PORT,
				.payload = 60 };

	(void)state;
	set_cluster(0); /* rings still name host 2 */
	untouched_case(&syn, XDP_PASS, LB_R_SYN_NEW);
	untouched_case(&ack, XDP_PASS, -1);
	udp.src = HOST2;
	untouched_case(&udp, XDP_PASS, -1);
}

static void test_no_neighbour_routed(void **state)
{
	struct pkt_spec s = { .family = 4, .flags = F_ACK };
	uint8_t in[PKT_MAX], out[OUT_MAX];
	__u64 routed = fx_reason(fx, LB_R_FWD_ROUTED);
	size_t len = pkt_build(&s, in);
	__u32 out_len;
	__be32 a = ip4(HOST3);

	(void)state;
	fill_ring(DP_RINGS, LB_REF(3, 1));
	assert_int_equal(run_xdp(in, len, ifindex, out, &out_len), XDP_PASS);
	assert_int_equal(out_len, len + 40);
	assert_memory_equal(out + 14 + 16, &a, 4);
	assert_memory_equal(out + 54, in + 14, len - 14);
	assert_int_equal(fx_reason(fx, LB_R_FWD_ROUTED), routed + 1);
}

static void test_unknown_host_passes(void **state)
{
	struct pkt_spec s = { .family = 4, .flags = F_ACK };

	(void)state;
	fill_ring(DP_RINGS, LB_REF(9, 1));
	untouched_case(&s, XDP_PASS, LB_R_FWD_NO_HOST);
}

static void test_deny_list_before_forwarding(void **state)
{
	struct lb_lpm_v4 k = { .prefixlen = 32, .addr = ip4(CLIENT4) };
	struct lb_src_rule rule = { .action = LB_SRC_DENY };
	struct pkt_spec s = { .family = 4, .flags = F_ACK };
	struct lb_config cfg;
	__u32 zero = 0;

	(void)state;
	assert_int_equal(
		bpf_map_update_elem(fx->dp.fds[DP_SRC_V4], &k, &rule, BPF_ANY),
		0);
	assert_int_equal(
		bpf_map_lookup_elem(fx->dp.fds[DP_CONFIG], &zero, &cfg), 0);
	cfg.src_rules_v4 = 1;
	assert_int_equal(bpf_map_update_elem(fx->dp.fds[DP_CONFIG], &zero, &cfg,
					     BPF_ANY),
			 0);
	untouched_case(&s, XDP_DROP, LB_R_SRC_DENIED);
	cfg.src_rules_v4 = 0;
	assert_int_equal(bpf_map_update_elem(fx->dp.fds[DP_CONFIG], &zero, &cfg,
					     BPF_ANY),
			 0);
	assert_int_equal(bpf_map_delete_elem(fx->dp.fds[DP_SRC_V4], &k), 0);
}

static void test_flood_syn_forwarded_not_cookied(void **state)
{
	struct pkt_spec s = { .family = 4, .flags = F_SYN };

	(void)state;
	/* every SYN over the rate: flood mode, cookies on */
	assert_int_equal(fx_set_flood(fx, LB_CF_FLOOD | LB_CF_COOKIES, 1,
				      0xffffffffu, 0xffffffffu),
			 0);
	fwd_case(&s, CLIENT4);
	fwd_case(&s, CLIENT4);
	assert_int_equal(fx_set_flood(fx, 0, LB_FLOOD_SYN_RATE_DEFAULT,
				      LB_SRC_RATE_DEFAULT,
				      LB_SRC_BURST_DEFAULT),
			 0);
	set_cluster(1);
}

/* ICMP frag-needed / packet-too-big quoting a segment VIP:443 -> client. */
static size_t icmp_build(int family, uint8_t *buf)
{
	struct pkt_spec s = { .family = family,
			      .proto = IPPROTO_ICMP,
			      .src = family == 6 ? "fd00:198:18:3::1" :
						   "198.18.3.1",
			      .icmp_type = family == 6 ? 2 : 3,
			      .payload = family == 6 ? 48 : 28 };
	struct pkt_spec q = { .family = family,
			      .src = family == 6 ? FX_VIP6 : FX_VIP4,
			      .dst = family == 6 ? CLIENT6 : CLIENT4,
			      .sport = 443,
			      .dport = 40000,
			      .flags = F_ACK };
	uint8_t quote[PKT_MAX];
	size_t len = pkt_build(&s, buf), l4 = 14 + (family == 6 ? 40 : 20);

	pkt_build(&q, quote);
	if (family == 4)
		buf[l4 + 1] = 4; /* fragmentation needed */
	memcpy(buf + l4 + 8, quote + 14, family == 6 ? 48 : 28);
	return len;
}

static void test_icmp_forwarded_by_client(void **state)
{
	uint8_t in[PKT_MAX], out[OUT_MAX];
	__u64 fwd = fx_reason(fx, LB_R_ICMP_FWD);
	__u32 out_len;
	size_t len;
	int family;

	(void)state;
	for (family = 4; family <= 6; family += 2) {
		len = icmp_build(family, in);
		assert_int_equal(run_xdp(in, len, ifindex, out, &out_len),
				 XDP_TX);
		/* the UDP source port says the client's hash was used */
		assert_encap(in, len, out, out_len, family,
			     family == 6 ? CLIENT6 : CLIENT4, HOST2,
			     (const uint8_t *)MAC_HOST2, 7, NULL);
	}
	assert_int_equal(fx_reason(fx, LB_R_ICMP_FWD), fwd + 2);
}

static void test_icmp_local_pick_passes(void **state)
{
	uint8_t in[PKT_MAX], out[OUT_MAX];
	__u64 pass = fx_reason(fx, LB_R_ICMP_PASS);
	__u32 out_len;
	size_t len = icmp_build(4, in);

	(void)state;
	fill_ring(DP_RINGS, LB_REF(1, 0));
	assert_int_equal(run_xdp(in, len, ifindex, out, &out_len), XDP_PASS);
	assert_int_equal(out_len, len);
	assert_memory_equal(out, in, len);
	assert_int_equal(fx_reason(fx, LB_R_ICMP_PASS), pass + 1);
}

/* --- the worker host ---------------------------------------------------- */

struct gue_spec {
	const char *src; /* outer source (HOST2) */
	const char *second; /* NULL: 0 */
	int hop;
	int magic; /* 0: LB_GUE_MAGIC */
	int hlen_ver; /* 0: LB_GUE_PRIV_WORDS */
	int proto; /* 0: from the inner family */
	int ip_opts; /* outer IPv4 options, words */
	int mf; /* more fragments */
	int udp_len_delta;
	int cut; /* bytes cut off the frame's end */
};

/* A GUE packet from the spec's source to SELF:GUE_PORT around the inner
 * packet of s. Returns its length; *inner_off says where s's IP starts. */
static size_t gue_build(const struct pkt_spec *s, const struct gue_spec *g,
			uint8_t *buf, size_t *inner_off)
{
	uint8_t in[PKT_MAX];
	size_t ilen = pkt_build(s, in) - 14, hl = 20 + 4 * g->ip_opts, off;
	uint8_t *ip = buf + 14, *udp, *gue;
	__be32 a;

	memset(buf, 0, PKT_MAX);
	memcpy(buf, "\x02\x00\x00\x00\x02\x01\x02\x00\x00\x00\x02\x02", 12);
	buf[12] = 0x08;
	ip[0] = 0x40 | (hl / 4);
	pkt_put16(ip + 2, htons(hl + 8 + 12 + ilen));
	pkt_put16(ip + 6, htons(0x4000 | (g->mf ? 0x2000 : 0)));
	ip[8] = 64;
	ip[9] = IPPROTO_UDP;
	a = ip4(g->src ? g->src : HOST2);
	memcpy(ip + 12, &a, 4);
	a = ip4(SELF);
	memcpy(ip + 16, &a, 4);
	memset(ip + 20, 1, hl - 20);
	pkt_put16(ip + 10, pkt_ip_csum(ip, hl));
	udp = ip + hl;
	pkt_put16(udp, htons(0xc123));
	pkt_put16(udp + 2, htons(GUE_PORT));
	pkt_put16(udp + 4, htons(8 + 12 + ilen + g->udp_len_delta));
	gue = udp + 8;
	gue[0] = g->hlen_ver ? g->hlen_ver : LB_GUE_PRIV_WORDS;
	gue[1] = g->proto ? g->proto : s->family == 6 ? 41 : 4;
	gue[4] = g->magic ? g->magic : LB_GUE_MAGIC;
	gue[5] = g->hop;
	pkt_put16(gue + 6, htons(7));
	a = g->second ? ip4(g->second) : 0;
	memcpy(gue + 8, &a, 4);
	off = 14 + hl + 20;
	memcpy(buf + off, in + 14, ilen);
	*inner_off = off;
	return off + ilen - g->cut;
}

/* Decapsulated: the Ethernet header with the inner family's type, then
 * the inner packet, byte for byte. */
static void decap_case(const struct pkt_spec *s, const struct gue_spec *g)
{
	uint8_t in[PKT_MAX], out[OUT_MAX];
	__u64 decap = fx_reason(fx, LB_R_DECAP);
	size_t off, len = gue_build(s, g, in, &off);
	__u32 out_len;

	assert_int_equal(run_xdp(in, len, ifindex, out, &out_len), XDP_PASS);
	assert_int_equal(out_len, len - 40);
	assert_memory_equal(out, in, 12);
	assert_int_equal(get16(out + 12),
			 s->family == 6 ? ETH_P_IPV6 : ETH_P_IP);
	assert_memory_equal(out + 14, in + off, len - off);
	assert_int_equal(fx_reason(fx, LB_R_DECAP), decap + 1);
}

static void test_decap_v4_v6(void **state)
{
	struct pkt_spec a4 = { .family = 4, .flags = F_ACK, .payload = 10 };
	struct pkt_spec s6 = { .family = 6, .flags = F_SYN };
	struct gue_spec g = { 0 };

	(void)state;
	decap_case(&a4, &g);
	decap_case(&s6, &g);
}

static void drop_case(const struct pkt_spec *s, const struct gue_spec *g,
		      __u32 reason)
{
	uint8_t in[PKT_MAX], out[OUT_MAX];
	__u64 before = fx_reason(fx, reason);
	size_t off, len = gue_build(s, g, in, &off);
	__u32 out_len;

	assert_int_equal(run_xdp(in, len, ifindex, out, &out_len), XDP_DROP);
	assert_int_equal(fx_reason(fx, reason), before + 1);
}

static void test_decap_not_cluster_dropped(void **state)
{
	struct pkt_spec s = { .family = 4, .flags = F_ACK };
	struct gue_spec g = { .src = STRANGER };

	(void)state;
	drop_case(&s, &g, LB_R_DECAP_NOT_CLUSTER);
	g.magic = 0x11; /* anything from a stranger: not judged further */
	drop_case(&s, &g, LB_R_DECAP_NOT_CLUSTER);
}

static void test_decap_malformed_dropped(void **state)
{
	struct pkt_spec s4 = { .family = 4, .flags = F_ACK, .payload = 8 };
	struct pkt_spec s6 = { .family = 6, .flags = F_ACK };
	struct pkt_spec other = { .family = 4,
				  .flags = F_ACK,
				  .dst = "198.18.0.200" };
	const struct {
		const char *desc;
		const struct pkt_spec *s;
		struct gue_spec g;
	} bad[] = {
		{ "outer IPv4 options", &s4, { .ip_opts = 1 } },
		{ "outer fragment", &s4, { .mf = 1 } },
		{ "UDP length short", &s4, { .udp_len_delta = -1 } },
		{ "UDP length long", &s4, { .udp_len_delta = 4 } },
		{ "wrong magic", &s4, { .magic = 0x5b } },
		{ "GUE version 1", &s4, { .hlen_ver = 0x40 | 2 } },
		{ "GUE hlen 3", &s4, { .hlen_ver = 3 } },
		{ "proto 17", &s4, { .proto = 17 } },
		{ "proto 41, inner IPv4", &s4, { .proto = 41 } },
		{ "proto 4, inner IPv6", &s6, { .proto = 4 } },
		{ "frame cut short", &s4, { .cut = 4 } },
		{ "inner not for a VIP", &other, { 0 } },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fprintf(stderr, "  malformed: %s\n", bad[i].desc);
		drop_case(bad[i].s, &bad[i].g, LB_R_DECAP_BAD);
	}
}

/* The inner packet says it is longer than what the outer one carries. */
static void test_decap_inner_truncated_dropped(void **state)
{
	struct pkt_spec s = { .family = 4, .flags = F_ACK, .len_delta = 8 };
	struct gue_spec g = { 0 };

	(void)state;
	drop_case(&s, &g, LB_R_DECAP_BAD);
	s.family = 6;
	drop_case(&s, &g, LB_R_DECAP_BAD);
}

static void test_other_traffic_untouched(void **state)
{
	struct pkt_spec udp53 = { .family = 4,
				  .proto = IPPROTO_UDP,
				  .src = STRANGER,
				  .dst = SELF,
				  .dport = 53 };
	struct pkt_spec udp_other = { .family = 4,
				      .proto = IPPROTO_UDP,
				      .src = STRANGER,
				      .dst = "198.18.0.200",
				      .dport = GUE_PORT };
	struct pkt_spec tcp_self = { .family = 4,
				     .src = STRANGER,
				     .dst = SELF,
				     .dport = GUE_PORT,
				     .flags = F_ACK };
	struct pkt_spec non_vip = { .family = 6,
				    .dst = "fd00:198:18::200",
				    .flags = F_ACK };

	(void)state;
	untouched_case(&udp53, XDP_PASS, -1);
	untouched_case(&udp_other, XDP_PASS, -1);
	untouched_case(&tcp_self, XDP_PASS, -1);
	untouched_case(&non_vip, XDP_PASS, -1);
}

static void test_hop1_never_forwarded(void **state)
{
	struct pkt_spec s = { .family = 4, .sport = 40001, .flags = F_ACK };
	struct gue_spec g = { .second = HOST4, .hop = 1 };

	(void)state;
	decap_case(&s, &g);
}

static void test_syn_never_second_chanced(void **state)
{
	struct pkt_spec s = { .family = 4, .sport = 40001, .flags = F_SYN };
	struct gue_spec g = { .second = HOST4 };

	(void)state;
	decap_case(&s, &g);
}

/* A real connection client -> VIP in this namespace: its segments stay;
 * an unknown tuple goes to the second chance. */
static void test_second_chance_real_socket(void **state)
{
	struct sockaddr_in vip = { .sin_family = AF_INET,
				   .sin_port = htons(443),
				   .sin_addr.s_addr = ip4(FX_VIP4) };
	struct sockaddr_in cli = { .sin_family = AF_INET,
				   .sin_addr.s_addr = ip4(CLIENT4) };
	socklen_t sl = sizeof(cli);
	struct pkt_spec s = { .family = 4, .flags = F_ACK, .payload = 5 };
	struct gue_spec g = { .second = HOST4 };
	uint8_t in[PKT_MAX], out[OUT_MAX];
	__u64 sc = fx_reason(fx, LB_R_SECOND_CHANCE), nf;
	int lfd, cfd, afd, on = 1;
	size_t off, len;
	__u32 out_len;
	__be32 a;

	(void)state;
	assert_int_equal(sh("ip addr add " FX_VIP4 "/32 dev lo"), 0);
	assert_int_equal(sh("ip addr add " CLIENT4 "/32 dev lo"), 0);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	cfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(lfd >= 0 && cfd >= 0);
	assert_int_equal(
		setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)), 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&vip, sizeof(vip)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	assert_int_equal(bind(cfd, (struct sockaddr *)&cli, sizeof(cli)), 0);
	assert_int_equal(connect(cfd, (struct sockaddr *)&vip, sizeof(vip)), 0);
	afd = accept(lfd, NULL, NULL);
	assert_true(afd >= 0);
	assert_int_equal(getsockname(cfd, (struct sockaddr *)&cli, &sl), 0);

	/* the connection's own tuple: delivered here */
	s.sport = ntohs(cli.sin_port);
	decap_case(&s, &g);

	/* no connection (the listener does not count): second chance */
	s.sport = ntohs(cli.sin_port) + 1;
	len = gue_build(&s, &g, in, &off);
	assert_int_equal(run_xdp(in, len, ifindex, out, &out_len), XDP_TX);
	assert_int_equal(out_len, len);
	assert_memory_equal(out, MAC_HOST4, 6);
	assert_memory_equal(out + 6, MAC_SELF, 6);
	assert_ip_csum_ok(out + 14);
	a = ip4(SELF);
	assert_memory_equal(out + 14 + 12, &a, 4);
	a = ip4(HOST4);
	assert_memory_equal(out + 14 + 16, &a, 4);
	assert_int_equal(out[14 + 28 + 5], 1); /* hop */
	assert_memory_equal(out + 14 + 20, in + 14 + 20, 8 + 5); /* UDP.. */
	assert_memory_equal(out + 14 + 28 + 6, in + 14 + 28 + 6,
			    len - 14 - 28 - 6);
	assert_int_equal(fx_reason(fx, LB_R_SECOND_CHANCE), sc + 1);

	/* ...on a host that does not forward (ip_forward=0) the FIB
	 * answers "forwarding disabled", even to an output lookup: the
	 * segment goes up, and a counter names the cause */
	s.family = 4;
	nf = fx_reason(fx, LB_R_FWD_NOT_FORWARDING);
	assert_int_equal(
		write_file("/proc/sys/net/ipv4/conf/all/forwarding", "0"), 0);
	len = gue_build(&s, &g, in, &off);
	assert_int_equal(run_xdp(in, len, ifindex, out, &out_len), XDP_PASS);
	assert_int_equal(
		write_file("/proc/sys/net/ipv4/conf/all/forwarding", "1"), 0);
	assert_int_equal(fx_reason(fx, LB_R_FWD_NOT_FORWARDING), nf + 1);
	assert_int_equal(fx_reason(fx, LB_R_SECOND_CHANCE), sc + 1);

	/* ...and a v6 segment of no connection, too */
	s.family = 6;
	len = gue_build(&s, &g, in, &off);
	assert_int_equal(run_xdp(in, len, ifindex, out, &out_len), XDP_TX);
	assert_int_equal(fx_reason(fx, LB_R_SECOND_CHANCE), sc + 2);

	close(afd);
	close(cfd);
	close(lfd);
	assert_int_equal(sh("ip addr del " FX_VIP4 "/32 dev lo"), 0);
	assert_int_equal(sh("ip addr del " CLIENT4 "/32 dev lo"), 0);
}

/* --- sk_lookup ------------------------------------------------------------ */

static __u64 sk_run(void)
{
	struct bpf_sk_lookup ctx = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .ctx_out = &ctx,
		    .ctx_size_out = sizeof(ctx));

	ctx.protocol = IPPROTO_TCP;
	ctx.family = AF_INET;
	ctx.remote_port = htons(40000);
	ctx.local_port = 443;
	ctx.remote_ip4 = ip4(CLIENT4);
	ctx.local_ip4 = ip4(FX_VIP4);
	assert_int_equal(
		bpf_prog_test_run_opts(dataplane__sk_lookup_fd(&fx->dp), &opts),
		0);
	return ctx.cookie;
}

static void test_sk_lookup_local_refs_only(void **state)
{
	struct sockaddr_in lo = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	__u32 slot = fx_slot(fx, 4, CLIENT4), key, i;
	__u64 cookie[2], v, fallback = fx_reason(fx, LB_R_SK_FALLBACK);
	socklen_t cl = sizeof(__u64);
	struct lb_counters c2, c3;
	int fd[2];

	(void)state;
	for (i = 0; i < 2; i++) {
		fd[i] = socket(AF_INET, SOCK_STREAM, 0);
		assert_true(fd[i] >= 0);
		assert_int_equal(
			bind(fd[i], (struct sockaddr *)&lo, sizeof(lo)), 0);
		assert_int_equal(listen(fd[i], 4), 0);
		assert_int_equal(getsockopt(fd[i], SOL_SOCKET, SO_COOKIE,
					    &cookie[i], &cl),
				 0);
		key = LB_SOCKET_SLOT(LB_LISTENER_HTTPS, LB_FAMILY_V4, 2 + i);
		v = fd[i];
		assert_int_equal(bpf_map_update_elem(fx->dp.fds[DP_SOCKETS],
						     &key, &v, BPF_ANY),
				 0);
	}
	/* pick on host 2 (worker 2 there): the next local slot's worker 3 */
	for (i = 0; i < FX_RING; i++)
		ring[i] = LB_REF(1, 3);
	ring[slot] = LB_REF(2, 2);
	assert_int_equal(
		dataplane__ring_write(&fx->dp, fx->vip4.index, ring, NULL, 0),
		0);
	assert_int_equal(
		dataplane__counters_sum(&fx->dp, DP_WORKER_STATS, 3, &c3), 0);
	assert_true(sk_run() == cookie[1]);
	assert_int_equal(fx_reason(fx, LB_R_SK_FALLBACK), fallback + 1);
	/* the counter row is the worker id on this host, not the ref */
	v = c3.assigned;
	assert_int_equal(
		dataplane__counters_sum(&fx->dp, DP_WORKER_STATS, 3, &c3), 0);
	assert_int_equal(c3.assigned, v + 1);
	/* pick on this host: its own worker 2 */
	ring[slot] = LB_REF(1, 2);
	assert_int_equal(
		dataplane__ring_write(&fx->dp, fx->vip4.index, ring, NULL, 0),
		0);
	assert_int_equal(
		dataplane__counters_sum(&fx->dp, DP_WORKER_STATS, 2, &c2), 0);
	v = c2.assigned;
	assert_true(sk_run() == cookie[0]);
	assert_int_equal(
		dataplane__counters_sum(&fx->dp, DP_WORKER_STATS, 2, &c2), 0);
	assert_int_equal(c2.assigned, v + 1);
	/* No local ref in the whole ring (this host drains, or its ring
	 * lags the balancer's): the balancer picked this host, so any local
	 * worker listed for the VIP, neither drained nor down, takes it
	 * rather than a reset. Sockets of workers not listed: none. */
	for (i = 0; i < FX_RING; i++)
		ring[i] = LB_REF(2, 3);
	assert_int_equal(
		dataplane__ring_write(&fx->dp, fx->vip4.index, ring, NULL, 0),
		0);
	assert_true(sk_run() == 0);
	{
		struct lb_worker_state drained = { 1, LB_WF_DRAINED },
				       down = { 1, LB_WF_DOWN }, up = { 1, 0 };

		assert_int_equal(worker__put(&fx->dp, fx->vip4.index, 2, &down),
				 0);
		assert_int_equal(
			worker__put(&fx->dp, fx->vip4.index, 3, &drained), 0);
		assert_true(sk_run() == 0);
		assert_int_equal(worker__put(&fx->dp, fx->vip4.index, 3, &up),
				 0);
		v = fx_reason(fx, LB_R_SK_FALLBACK);
		assert_true(sk_run() == cookie[1]);
		assert_int_equal(fx_reason(fx, LB_R_SK_FALLBACK), v + 1);
		assert_int_equal(worker__put(&fx->dp, fx->vip4.index, 2, &up),
				 0);
		/* the same client lands on the same worker every time */
		v = sk_run();
		assert_true(v == cookie[0] || v == cookie[1]);
		assert_true(sk_run() == v);
		worker__del(&fx->dp, fx->vip4.index, 2);
		worker__del(&fx->dp, fx->vip4.index, 3);
	}
	for (i = 0; i < 2; i++) {
		key = LB_SOCKET_SLOT(LB_LISTENER_HTTPS, LB_FAMILY_V4, 2 + i);
		bpf_map_delete_elem(fx->dp.fds[DP_SOCKETS], &key);
		close(fd[i]);
	}
}

#define T(f) cmocka_unit_test_setup(f, test_setup)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_single_host_unchanged),
		T(test_fwd_v4_syn),
		T(test_fwd_v4_ack),
		T(test_fwd_v6_syn),
		T(test_fwd_v6_ack),
		T(test_mss_clamped_v4),
		T(test_mss_clamped_odd_offset),
		T(test_mss_clamped_v6),
		T(test_mss_lower_untouched),
		T(test_second_from_prev_ring),
		T(test_no_second_same_host),
		T(test_pick_on_self_or_host0_passes),
		T(test_no_neighbour_routed),
		T(test_unknown_host_passes),
		T(test_deny_list_before_forwarding),
		T(test_flood_syn_forwarded_not_cookied),
		T(test_icmp_forwarded_by_client),
		T(test_icmp_local_pick_passes),
		T(test_decap_v4_v6),
		T(test_decap_not_cluster_dropped),
		T(test_decap_malformed_dropped),
		T(test_decap_inner_truncated_dropped),
		T(test_other_traffic_untouched),
		T(test_hop1_never_forwarded),
		T(test_syn_never_second_chanced),
		T(test_second_chance_real_socket),
		T(test_sk_lookup_local_refs_only),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
