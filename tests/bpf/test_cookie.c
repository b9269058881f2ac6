// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * SYN cookies in the real kernel through bpf_prog_test_run_opts, in flood
 * mode forced on (flood_syn_rate 1): the XDP program's SYN-ACK, byte by
 * byte (addresses and ports swapped, SYN|ACK, ack = ISN + 1, IPv4 and TCP
 * checksums recomputed here, the MSS option from the table, timestamps,
 * window scale and SACK as lb_cookie.h lays them out, the cookie decoded
 * with SipHash-2-4 here), then the tc program on the ACK that brings the
 * cookie back, and on forged ones (wrong hash, wrong period, wrong MSS
 * bits). Making the request socket needs a real handshake at tc ingress,
 * which test_run is not: tests/net/test_cookies.sh covers it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <time.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include "fixture.h"
#include "pkt.h"
#include "stats.h"
#include "../../bpf/lb_siphash.h"
#include "lb_xdp.skel.h" /* lb_cookie_ifs: not one of the DP_ maps */

/* tcx verdicts (kernel 6.6+), newer than the installed uapi headers */
#ifndef TCX_NEXT
#define TCX_NEXT -1
#define TCX_PASS 0
#define TCX_DROP 2
#endif

#define PERIOD_NS (64ull * 1000000000ull)
#define CLIENT_PORT 40123

static struct fixture *fx;

/* --- an independent decoder of the cookie (lb_cookie.h's layout) --- */

static uint32_t oracle_hash(const struct lb_config *cfg, int family,
			    const struct lb_addr *client,
			    const struct lb_addr *vip, uint16_t sport_be,
			    uint16_t dport_be, uint32_t isn, uint64_t period,
			    uint32_t mss_index)
{
	struct lb_sip s;
	uint64_t h;

	lb_sip_init(&s, cfg->cookie_key);
	lb_sip_word(&s, (uint64_t)client->v6[0] | (uint64_t)vip->v6[0] << 32);
	if (family == 6) {
		lb_sip_word(&s, (uint64_t)client->v6[1] |
					(uint64_t)client->v6[2] << 32);
		lb_sip_word(&s, (uint64_t)client->v6[3] | (uint64_t)vip->v6[1]
								  << 32);
		lb_sip_word(&s,
			    (uint64_t)vip->v6[2] | (uint64_t)vip->v6[3] << 32);
	}
	lb_sip_word(&s,
		    (uint64_t)isn << 32 | (uint32_t)sport_be << 16 | dport_be);
	lb_sip_word(&s, period << 8 | mss_index << 4 |
				(family == 6 ? LB_FAMILY_V6 : LB_FAMILY_V4));
	h = lb_sip_final(&s);
	return (uint32_t)(h ^ (h >> 32)) & 0xfffffff8u;
}

static uint64_t now_period(void)
{
	struct timespec ts;

	/* bpf_ktime_get_coarse_ns() reads this clock */
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec) / PERIOD_NS;
}

static struct lb_config config(void)
{
	struct lb_config cfg;

	assert_int_equal(
		bpf_map_lookup_elem(fx->dp.fds[DP_CONFIG], &(__u32){ 0 }, &cfg),
		0);
	return cfg;
}

/* A cookie for the flow as XDP would make it in the given period. */
static uint32_t make_cookie(int family, const char *client, const char *vip,
			    uint32_t isn, uint64_t period, uint32_t idx)
{
	struct lb_config cfg = config();
	struct lb_addr c, v;

	fx_addr(&c, family, client);
	fx_addr(&v, family, vip);
	return oracle_hash(&cfg, family, &c, &v, htons(CLIENT_PORT), htons(443),
			   isn, period, idx) |
	       idx << 1 | (uint32_t)(period & 1);
}

/* The MSS index the cookie claims, if its hash is right (else -1). */
static int decode_cookie(int family, const char *client, const char *vip,
			 uint32_t isn, uint32_t cookie)
{
	uint64_t period = now_period();
	uint32_t idx = cookie >> 1 & 3;

	if ((period & 1) != (cookie & 1))
		period--;
	return make_cookie(family, client, vip, isn, period, idx) == cookie ?
		       (int)idx :
		       -1;
}

/* SipHash-2-4 itself: the reference vector of an 8-byte message (key
 * 00..0f, message 00..07) from the authors' test vectors. */
static void test_siphash_reference_vector(void **state)
{
	const __u64 key[2] = { 0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull };
	struct lb_sip s;

	(void)state;
	lb_sip_init(&s, key);
	lb_sip_word(&s, 0x0706050403020100ull);
	assert_true(lb_sip_final(&s) == 0x93f5f5799a932462ull);
}

/* --- frames --- */

static uint16_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

/* 0xffff when the TCP checksum over pseudo-header and segment holds. */
static uint16_t tcp_csum_sum(int family, const uint8_t *l3, const uint8_t *th,
			     size_t tcp_len)
{
	uint8_t ph[40] = { 0 };
	size_t n;

	if (family == 4) {
		memcpy(ph, l3 + 12, 8);
		ph[9] = IPPROTO_TCP;
		ph[10] = tcp_len >> 8;
		ph[11] = tcp_len & 0xff;
		n = 12;
	} else {
		memcpy(ph, l3 + 8, 32);
		ph[34] = tcp_len >> 8;
		ph[35] = tcp_len & 0xff;
		ph[39] = IPPROTO_TCP;
		n = 40;
	}
	return csum_add(csum_add(0, ph, n), th, tcp_len);
}

static int run_prog(int fd, const uint8_t *frame, size_t len, uint8_t *out,
		    size_t *out_len)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame,
		    .data_size_in = len, .data_out = out,
		    .data_size_out = PKT_MAX, .repeat = 1);

	assert_int_equal(bpf_prog_test_run_opts(fd, &opts), 0);
	*out_len = opts.data_size_out;
	return opts.retval;
}

static __u64 vip_counter(__u32 index, size_t off)
{
	struct lb_counters c;

	assert_int_equal(
		dataplane__counters_sum(&fx->dp, DP_VIP_STATS, index, &c), 0);
	return *(__u64 *)((char *)&c + off);
}

/* The options a Linux client sends: MSS, SACK permitted, timestamps,
 * window scale 7. */
static void linux_syn_opts(uint8_t o[20], uint16_t mss, uint32_t tsval)
{
	const uint8_t tmpl[20] = { 2, 4, 0, 0, 4, 2, 8, 10, 0, 0,
				   0, 0, 0, 0, 0, 0, 1, 3,  3, 7 };

	memcpy(o, tmpl, 20);
	o[2] = mss >> 8;
	o[3] = mss & 0xff;
	o[8] = tsval >> 24;
	o[9] = tsval >> 16;
	o[10] = tsval >> 8;
	o[11] = tsval;
}

struct synack {
	uint32_t cookie;
	uint32_t tsval; /* ours, 0 without timestamps */
	uint16_t mss;
	int opt_len;
	uint8_t opts[40];
};

/*
 * Send the SYN of spec s (with a frame edit, if any, at byte edit_at),
 * check every byte of the reply that can be known, and return what the
 * ACK needs. The reply has our IP header alone, whatever the SYN had
 * between IP and TCP; outcome is the reason that must count it.
 */
static void spec_to_synack(const struct pkt_spec *s, int edit_at, uint8_t edit,
			   __u32 outcome, struct synack *sa)
{
	int family = s->family;
	const char *vip = s->dst, *client = s->src;
	uint32_t isn = s->seq;
	__u32 index = family == 6 ? fx->vip6.index : fx->vip4.index;
	size_t off = offsetof(struct lb_counters, cookies_sent);
	__u64 sent = vip_counter(index, off);
	__u64 reason = fx_reason(fx, outcome);
	__u64 syns = fx_reason(fx, LB_R_SYN_NEW);
	uint8_t in[PKT_MAX], out[PKT_MAX], *l3 = out + 14, *th;
	size_t len, out_len, ip_len, tcp_len;
	struct lb_addr a;

	__u64 before[LB_R_MAX], after[LB_R_MAX];
	int verdict;
	__u32 r;

	len = pkt_build(s, in);
	if (edit_at)
		in[edit_at] = edit;
	fx_reasons(fx, before);
	verdict = run_prog(dataplane__xdp_fd(&fx->dp), in, len, out, &out_len);
	fx_reasons(fx, after);
	for (r = 0; r < LB_R_MAX; r++)
		if (verdict != XDP_TX && after[r] != before[r])
			fail_msg("verdict %d, outcome %s counted", verdict,
				 stats__reason_name(r));
	assert_int_equal(verdict, XDP_TX);
	/* Ethernet: the MACs swapped */
	assert_memory_equal(out, in + 6, 6);
	assert_memory_equal(out + 6, in, 6);
	assert_memory_equal(out + 12, in + 12, 2);
	if (family == 4) {
		ip_len = 20;
		assert_int_equal(l3[0], 0x45);
		assert_int_equal(l3[9], IPPROTO_TCP);
		fx_addr(&a, 4, vip);
		assert_memory_equal(l3 + 12, &a, 4);
		fx_addr(&a, 4, client);
		assert_memory_equal(l3 + 16, &a, 4);
		assert_int_equal(csum_add(0, l3, 20), 0xffff);
		tcp_len = (l3[2] << 8 | l3[3]) - 20;
	} else {
		ip_len = 40;
		assert_int_equal(l3[0] >> 4, 6);
		assert_int_equal(l3[6], IPPROTO_TCP);
		fx_addr(&a, 6, vip);
		assert_memory_equal(l3 + 8, &a, 16);
		fx_addr(&a, 6, client);
		assert_memory_equal(l3 + 24, &a, 16);
		tcp_len = l3[4] << 8 | l3[5];
	}
	th = l3 + ip_len;
	/* the frame ends with the TCP header */
	assert_int_equal(out_len, 14 + ip_len + tcp_len);
	assert_int_equal(tcp_len, (th[12] >> 4) * 4);
	assert_int_equal(th[0] << 8 | th[1], 443);
	assert_int_equal(th[2] << 8 | th[3], CLIENT_PORT);
	assert_int_equal(th[13], F_SYN | F_ACK);
	assert_int_equal(
		(uint32_t)(th[8] << 24 | th[9] << 16 | th[10] << 8 | th[11]),
		isn + 1);
	assert_int_equal(tcp_csum_sum(family, l3, th, tcp_len), 0xffff);
	sa->cookie = (uint32_t)th[4] << 24 | th[5] << 16 | th[6] << 8 | th[7];
	sa->opt_len = tcp_len - 20;
	memcpy(sa->opts, th + 20, sa->opt_len);
	/* MSS first, always */
	assert_true(sa->opt_len >= 4);
	assert_int_equal(sa->opts[0], 2);
	assert_int_equal(sa->opts[1], 4);
	sa->mss = sa->opts[2] << 8 | sa->opts[3];
	sa->tsval = 0;
	/* the cookie is ours, for this flow and ISN, with the MSS it says */
	assert_int_equal(decode_cookie(family, client, vip, isn, sa->cookie),
			 (int)(sa->cookie >> 1 & 3));
	assert_int_equal(vip_counter(index, off), sent + 1);
	assert_int_equal(fx_reason(fx, outcome), reason + 1);
	assert_int_equal(fx_reason(fx, LB_R_SYN_NEW), syns);
}

static void syn_to_synack(int family, const char *client, uint32_t isn,
			  const uint8_t *opts, int opts_len, struct synack *sa)
{
	struct pkt_spec s = { .family = family,
			      .src = client,
			      .dst = family == 6 ? FX_VIP6 : FX_VIP4,
			      .sport = CLIENT_PORT,
			      .seq = isn,
			      .flags = F_SYN,
			      .tcp_opts = opts,
			      .tcp_opts_len = opts_len };

	spec_to_synack(&s, 0, 0, LB_R_COOKIE_SENT, sa);
}

static const uint16_t msstab4[] = { 536, 1300, 1440, 1460 };
static const uint16_t msstab6[] = { 1220, 1420, 1440, 8940 };

/* test_run's frames come in on lo, whose MTU the test sets; forwarding
 * is off, so the SYN-ACK's MSS is the interface's (lb_mss.h). */
static int lo_mtu = 1500;

static uint16_t our_mss(int family)
{
	return lo_mtu - (family == 6 ? 60 : 40);
}

static void set_lo_mtu(int mtu)
{
	struct ifreq ifr = { .ifr_mtu = mtu };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	assert_true(fd >= 0);
	strcpy(ifr.ifr_name, "lo");
	assert_int_equal(ioctl(fd, SIOCSIFMTU, &ifr), 0);
	close(fd);
	lo_mtu = mtu;
}

/* Client MSS -> the table's value at or below it in the cookie's MSS bits
 * (what we may send); the option says ours. */
static void check_mss(int family, const char *client, uint16_t client_mss,
		      uint16_t want)
{
	const uint16_t *tab = family == 6 ? msstab6 : msstab4;
	uint8_t o[20];
	struct synack sa;

	linux_syn_opts(o, client_mss, 1000);
	syn_to_synack(family, client, 5000 + client_mss, o, sizeof(o), &sa);
	assert_int_equal(sa.mss, our_mss(family));
	assert_int_equal(tab[sa.cookie >> 1 & 3], want);
}

static void test_synack_v4_mss_table(void **state)
{
	(void)state;
	check_mss(4, "198.18.1.10", 1460, 1460);
	check_mss(4, "198.18.1.10", 1459, 1440);
	check_mss(4, "198.18.1.10", 1400, 1300);
	check_mss(4, "198.18.1.10", 1299, 536);
	check_mss(4, "198.18.1.10", 65495, 1460);
}

static void test_synack_v6_mss_table(void **state)
{
	(void)state;
	check_mss(6, "fd00:198:18:1::10", 1440, 1440);
	check_mss(6, "fd00:198:18:1::10", 1430, 1420);
	check_mss(6, "fd00:198:18:1::10", 9000, 8940);
	check_mss(6, "fd00:198:18:1::10", 1300, 1220);
}

/* No options: MSS alone (the protocol's default: 536, IPv6 1220), no
 * timestamps, so neither window scale nor SACK. */
static void test_synack_syn_without_options(void **state)
{
	struct synack sa;

	(void)state;
	syn_to_synack(4, "198.18.1.11", 777, NULL, 0, &sa);
	assert_int_equal(sa.opt_len, 4);
	assert_int_equal(sa.mss, our_mss(4));
	assert_int_equal(sa.cookie >> 1 & 3, 0); /* 536 */
	syn_to_synack(6, "fd00:198:18:1::11", 777, NULL, 0, &sa);
	assert_int_equal(sa.opt_len, 4);
	assert_int_equal(sa.mss, our_mss(6));
	assert_int_equal(sa.cookie >> 1 & 3, 0); /* 1220 */
}

/* Our MSS follows the MTU, clamped to 536 / 1220 below: a jumbo client
 * is told ours, not its own (issue 20, finding 7). */
static void test_synack_our_mss_from_mtu(void **state)
{
	static const struct {
		int mtu, family, client_mss, want;
	} rows[] = {
		{ 1280, 4, 1460, 1240 },   { 1280, 6, 8940, 1220 },
		{ 9000, 4, 1460, 8960 },   { 9000, 6, 8940, 8940 },
		{ 576, 4, 1460, 536 },	   { 65536, 4, 1460, 65495 },
		{ 65536, 6, 1440, 65475 },
	};
	const uint16_t *tab;
	struct synack sa;
	uint8_t o[20];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		set_lo_mtu(rows[i].mtu);
		linux_syn_opts(o, rows[i].client_mss, 1000);
		syn_to_synack(rows[i].family,
			      rows[i].family == 6 ? "fd00:198:18:1::12" :
						    "198.18.1.12",
			      9000 + i, o, sizeof(o), &sa);
		assert_int_equal(sa.mss, rows[i].want);
		tab = rows[i].family == 6 ? msstab6 : msstab4;
		assert_int_equal(tab[sa.cookie >> 1 & 3], rows[i].client_mss);
	}
	set_lo_mtu(1500);
}

/* Timestamps: SACK permitted and TS (our TSval carries wscale 7 and the
 * SACK bit; TSecr echoes the client's), then NOP + our window scale. */
static void check_timestamps(int family, const char *client)
{
	const uint8_t want[16] = { 4,	 2,    8,    10,   0, 0, 0, 0,
				   0xa1, 0xb2, 0xc3, 0xd4, 1, 3, 3, 7 };
	uint8_t o[20];
	struct synack sa;

	linux_syn_opts(o, 1460, 0xa1b2c3d4);
	syn_to_synack(family, client, 90000, o, sizeof(o), &sa);
	assert_int_equal(sa.opt_len, 20);
	assert_memory_equal(sa.opts + 4, want, 4);
	assert_memory_equal(sa.opts + 12, want + 8, 8);
	sa.tsval = (uint32_t)sa.opts[8] << 24 | sa.opts[9] << 16 |
		   sa.opts[10] << 8 | sa.opts[11];
	assert_int_equal(sa.tsval & 0x3f, 0x10 | 7);

	/* no window scale asked: none offered, 0xf in the TSval */
	o[16] = o[17] = o[18] = o[19] = 1; /* NOPs */
	syn_to_synack(family, client, 90001, o, sizeof(o), &sa);
	assert_int_equal(sa.opt_len, 16);
	sa.tsval = (uint32_t)sa.opts[8] << 24 | sa.opts[9] << 16 |
		   sa.opts[10] << 8 | sa.opts[11];
	assert_int_equal(sa.tsval & 0x3f, 0x10 | 0xf);
}

static void test_synack_with_timestamps(void **state)
{
	(void)state;
	check_timestamps(4, "198.18.1.12");
	check_timestamps(6, "fd00:198:18:1::12");
}

/* --- flood mode: SYNs of every shape get a cookie or are dropped --- */

#define C4 "198.18.1.50"
#define C6 "fd00:198:18:1::50"
#define V4(...)                                                               \
	{                                                                     \
		.family = 4, .src = C4, .dst = FX_VIP4, .sport = CLIENT_PORT, \
		.flags = F_SYN, __VA_ARGS__                                   \
	}
#define V6(...)                                                               \
	{                                                                     \
		.family = 6, .src = C6, .dst = FX_VIP6, .sport = CLIENT_PORT, \
		.flags = F_SYN, __VA_ARGS__                                   \
	}
#define EXT6 (14 + 40) /* first IPv6 extension header in the frame */
#define VIP6_SHARED "fd00:198:18::101" /* :443, --shared (group_setup) */

static const uint8_t router_alert[4] = { 148, 4, 0, 0 };
static const uint8_t ip4_timestamp[8] = { 68, 8, 5, 0, 0, 0, 0, 0 };
static const uint8_t ip4_lsrr[8] = { 131, 7, 4, 198, 18, 0, 1, 0 };
static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t mcast[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };
static const uint8_t mcast6[6] = { 0x33, 0x33, 0x00, 0x00, 0x00, 0x01 };

struct shape_case {
	const char *desc;
	struct pkt_spec pkt;
	int edit_at; /* a byte of the built frame set to edit (0: none) */
	uint8_t edit;
	int verdict;
	__u32 reason;
};

/* V4()/V6() give defaults that a row may override */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init"
static const struct shape_case shapes[] = {
	/* answered, without the SYN's options or extension headers */
	{ "v4 SYN with a router alert option",
	  V4(.ip4_opt_words = 1, .ip4_opts = router_alert), 0, 0, XDP_TX,
	  LB_R_COOKIE_IP_OPTS },
	{ "v4 SYN with 40 bytes of NOP options", V4(.ip4_opt_words = 10), 0, 0,
	  XDP_TX, LB_R_COOKIE_IP_OPTS },
	{ "v6 SYN with a destination-options header",
	  V6(.ip6_ext = { IPPROTO_DSTOPTS }, .ip6_ext_n = 1), 0, 0, XDP_TX,
	  LB_R_COOKIE_IP_OPTS },
	{ "v6 SYN with PadN and router alert in hop-by-hop",
	  V6(.ip6_ext = { IPPROTO_HOPOPTS }, .ip6_ext_n = 1), EXT6 + 2, 5,
	  XDP_TX, LB_R_COOKIE_IP_OPTS }, /* RA, len 0 */
	{ "v6 SYN after hop-by-hop, routing (0 left), dest-options",
	  V6(.ip6_ext = { IPPROTO_HOPOPTS, IPPROTO_ROUTING, IPPROTO_DSTOPTS },
	     .ip6_ext_n = 3),
	  0, 0, XDP_TX, LB_R_COOKIE_IP_OPTS },
	{ "v6 SYN in an atomic fragment (offset 0, no more)", V6(.ip6_frag = 1),
	  EXT6 + 3, 0, XDP_TX, LB_R_COOKIE_IP_OPTS },
	{ "v4 SYN with 101 bytes of data (odd, two chunks)", V4(.payload = 101),
	  0, 0, XDP_TX, LB_R_COOKIE_SENT },
	{ "v6 SYN with 400 bytes of data", V6(.payload = 400), 0, 0, XDP_TX,
	  LB_R_COOKIE_SENT },
	{ "v4 SYN with a CHECKSUM_PARTIAL checksum (veth peer)",
	  V4(.csum_partial = 1), 0, 0, XDP_TX, LB_R_COOKIE_SENT },
	{ "v6 SYN with a CHECKSUM_PARTIAL checksum (veth peer)",
	  V6(.csum_partial = 1), 0, 0, XDP_TX, LB_R_COOKIE_SENT },

	/* dropped: options or headers the kernel would refuse or act on */
	{ "v4 SYN with a timestamp option",
	  V4(.ip4_opt_words = 2, .ip4_opts = ip4_timestamp), 0, 0, XDP_DROP,
	  LB_R_SYN_IP_OPTS_DROP },
	{ "v4 SYN with a loose source route",
	  V4(.ip4_opt_words = 2, .ip4_opts = ip4_lsrr), 0, 0, XDP_DROP,
	  LB_R_SYN_IP_OPTS_DROP },
	{ "v6 SYN with a destination option to discard (type 0xc9)",
	  V6(.ip6_ext = { IPPROTO_DSTOPTS }, .ip6_ext_n = 1), EXT6 + 2, 0xc9,
	  XDP_DROP, LB_R_SYN_IP_OPTS_DROP },
	{ "v6 SYN with a routing header, 1 segment left",
	  V6(.ip6_ext = { IPPROTO_ROUTING }, .ip6_ext_n = 1), EXT6 + 3, 1,
	  XDP_DROP, LB_R_SYN_IP_OPTS_DROP },
	{ "v6 SYN with hop-by-hop after dest-options",
	  V6(.ip6_ext = { IPPROTO_DSTOPTS, IPPROTO_HOPOPTS }, .ip6_ext_n = 2),
	  0, 0, XDP_DROP, LB_R_SYN_IP_OPTS_DROP },

	/* dropped: fragments */
	{ "v4 SYN, first fragment (MF)", V4(.frag_off = 0x2000), 0, 0, XDP_DROP,
	  LB_R_SYN_FRAG_DROP },
	{ "v6 SYN, first fragment (M)", V6(.ip6_frag = 1), 0, 0, XDP_DROP,
	  LB_R_SYN_FRAG_DROP },

	/* dropped: what the kernel would never answer */
	{ "v4 SYN to the broadcast MAC", V4(.dst_mac = bcast), 0, 0, XDP_DROP,
	  LB_R_SYN_BAD_MAC },
	{ "v4 SYN to a multicast MAC", V4(.dst_mac = mcast), 0, 0, XDP_DROP,
	  LB_R_SYN_BAD_MAC },
	{ "v6 SYN to a multicast MAC", V6(.dst_mac = mcast6), 0, 0, XDP_DROP,
	  LB_R_SYN_BAD_MAC },
	{ "v4 SYN from 0.1.2.3", V4(.src = "0.1.2.3"), 0, 0, XDP_DROP,
	  LB_R_SYN_MARTIAN },
	{ "v4 SYN from 127.0.0.1", V4(.src = "127.0.0.1"), 0, 0, XDP_DROP,
	  LB_R_SYN_MARTIAN },
	{ "v4 SYN from multicast", V4(.src = "224.0.0.5"), 0, 0, XDP_DROP,
	  LB_R_SYN_MARTIAN },
	{ "v4 SYN from class E", V4(.src = "240.0.0.1"), 0, 0, XDP_DROP,
	  LB_R_SYN_MARTIAN },
	{ "v4 SYN from 255.255.255.255", V4(.src = "255.255.255.255"), 0, 0,
	  XDP_DROP, LB_R_SYN_MARTIAN },
	{ "v6 SYN from ::", V6(.src = "::"), 0, 0, XDP_DROP, LB_R_SYN_MARTIAN },
	{ "v6 SYN from ::1", V6(.src = "::1"), 0, 0, XDP_DROP,
	  LB_R_SYN_MARTIAN },
	{ "v6 SYN from multicast", V6(.src = "ff02::1"), 0, 0, XDP_DROP,
	  LB_R_SYN_MARTIAN },
	{ "v6 SYN from v4-mapped", V6(.src = "::ffff:198.18.1.10"), 0, 0,
	  XDP_DROP, LB_R_SYN_MARTIAN },
	{ "v6 SYN from link-local to a global VIP", V6(.src = "fe80::1"), 0, 0,
	  XDP_DROP, LB_R_SYN_MARTIAN },
	{ "v4 SYN from the VIP itself", V4(.src = FX_VIP4), 0, 0, XDP_DROP,
	  LB_R_SYN_OWN_SRC },
	{ "v4 SYN from another VIP address", V4(.src = FX_VIP4_SHARED), 0, 0,
	  XDP_DROP, LB_R_SYN_OWN_SRC },
	{ "v6 SYN from the VIP itself", V6(.src = FX_VIP6), 0, 0, XDP_DROP,
	  LB_R_SYN_OWN_SRC },
	{ "v4 SYN|FIN", V4(.flags = F_SYN | F_FIN), 0, 0, XDP_DROP,
	  LB_R_SYN_BAD_FLAGS },
	{ "v4 SYN|RST", V4(.flags = F_SYN | F_RST), 0, 0, XDP_DROP,
	  LB_R_SYN_BAD_FLAGS },
	{ "v6 SYN|FIN", V6(.flags = F_SYN | F_FIN), 0, 0, XDP_DROP,
	  LB_R_SYN_BAD_FLAGS },
	{ "v4 SYN with a bad TCP checksum", V4(.csum_delta = 1), 0, 0, XDP_DROP,
	  LB_R_SYN_BAD_CSUM },
	{ "v6 SYN with a bad TCP checksum", V6(.csum_delta = 1), 0, 0, XDP_DROP,
	  LB_R_SYN_BAD_CSUM },
	{ "v4 SYN with data and a bad checksum",
	  V4(.payload = 101, .csum_delta = 0x100), 0, 0, XDP_DROP,
	  LB_R_SYN_BAD_CSUM },
	{ "v6 SYN behind 5 extension headers to a shared address",
	  V6(.dst = VIP6_SHARED,
	     .ip6_ext = { IPPROTO_DSTOPTS, IPPROTO_DSTOPTS, IPPROTO_DSTOPTS,
			  IPPROTO_DSTOPTS, IPPROTO_DSTOPTS },
	     .ip6_ext_n = 5),
	  0, 0, XDP_DROP, LB_R_IP6_EXT_LIMIT }, /* passed outside flood mode */
	{ "v4 SYN with options, a bad checksum",
	  V4(.ip4_opt_words = 1, .ip4_opts = router_alert, .csum_delta = 1), 0,
	  0, XDP_DROP, LB_R_SYN_BAD_CSUM },
};
#pragma GCC diagnostic pop

#define SHAPES (sizeof(shapes) / sizeof(shapes[0]))

/* One row: the verdict, the one outcome counted, and for a reply the
 * checks of spec_to_synack(); a dropped SYN leaves the frame as it was. */
static void test_shape(void **state)
{
	const struct shape_case *c = *state;
	struct pkt_spec s = c->pkt;
	uint8_t in[PKT_MAX], out[PKT_MAX];
	__u64 before[LB_R_MAX], after[LB_R_MAX];
	size_t len, out_len;
	struct synack sa;
	__u32 r;

	s.seq = 60000 + (uint32_t)(c - shapes); /* no row is a retransmit */
	if (c->verdict == XDP_TX) {
		spec_to_synack(&s, c->edit_at, c->edit, c->reason, &sa);
		return;
	}
	len = pkt_build(&s, in);
	if (c->edit_at)
		in[c->edit_at] = c->edit;
	fx_reasons(fx, before);
	assert_int_equal(
		run_prog(dataplane__xdp_fd(&fx->dp), in, len, out, &out_len),
		c->verdict);
	fx_reasons(fx, after);
	for (r = 0; r < LB_R_MAX; r++)
		if (after[r] != before[r] + (r == c->reason))
			fail_msg("%s: outcome %u is %llu, want %llu", c->desc,
				 r, (unsigned long long)after[r],
				 (unsigned long long)(before[r] +
						      (r == c->reason)));
}

/* --- tc: the ACK --- */

static int send_ack(int family, const char *client, uint32_t isn,
		    uint32_t cookie, uint32_t tsecr)
{
	uint8_t o[12] = { 1, 1, 8, 10, 0, 0, 0, 42 };
	struct pkt_spec s = { .family = family,
			      .src = client,
			      .dst = family == 6 ? FX_VIP6 : FX_VIP4,
			      .sport = CLIENT_PORT,
			      .seq = isn + 1,
			      .ack_seq = cookie + 1,
			      .flags = F_ACK,
			      .tcp_opts = o,
			      .tcp_opts_len = tsecr ? sizeof(o) : 0 };
	uint8_t in[PKT_MAX], out[PKT_MAX];
	size_t len, out_len;

	o[8] = tsecr >> 24;
	o[9] = tsecr >> 16;
	o[10] = tsecr >> 8;
	o[11] = tsecr;
	len = pkt_build(&s, in);
	return run_prog(dataplane__tc_fd(&fx->dp), in, len, out, &out_len);
}

/* A real listener of every worker for the VIP's kind and family, so that
 * the pick finds a socket as in production. */
static void put_listeners(int family)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t sl;
	__u32 w, slot;
	__u64 fd64;
	int fd;

	for (w = 0; w < FX_WORKERS; w++) {
		fd = socket(family == 6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
		assert_true(fd >= 0);
		if (family == 6) {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

			a->sin6_family = AF_INET6;
			a->sin6_addr = in6addr_any; /* lo is down here */
			sl = sizeof(*a);
		} else {
			struct sockaddr_in *a = (struct sockaddr_in *)&ss;

			a->sin_family = AF_INET;
			a->sin_addr.s_addr = htonl(INADDR_ANY);
			sl = sizeof(*a);
		}
		assert_int_equal(bind(fd, (struct sockaddr *)&ss, sl), 0);
		assert_int_equal(listen(fd, 16), 0);
		slot = LB_SOCKET_SLOT(LB_LISTENER_HTTPS,
				      family == 6 ? LB_FAMILY_V6 : LB_FAMILY_V4,
				      w);
		fd64 = fd;
		assert_int_equal(bpf_map_update_elem(fx->dp.fds[DP_SOCKETS],
						     &slot, &fd64, BPF_ANY),
				 0);
	}
}

struct tc_delta {
	__u64 reasons[LB_R_MAX];
	__u64 bad;
};

static void snap(int family, struct tc_delta *d)
{
	fx_reasons(fx, d->reasons);
	d->bad = vip_counter(family == 6 ? fx->vip6.index : fx->vip4.index,
			     offsetof(struct lb_counters, cookies_bad));
}

/* Exactly one outcome moved, by one. */
static void only_reason_moved(const struct tc_delta *before, __u32 reason)
{
	__u64 after[LB_R_MAX];
	__u32 r;

	fx_reasons(fx, after);
	for (r = 0; r < LB_R_MAX; r++)
		if (after[r] != before->reasons[r] + (r == reason))
			fail_msg("outcome %u is %llu, want %llu", r,
				 (unsigned long long)after[r],
				 (unsigned long long)(before->reasons[r] +
						      (r == reason)));
}

/*
 * The good cookie is accepted: validated, the ring's listener found, and
 * bpf_sk_assign_tcp_reqsk() asked. test_run's skb is not at tc ingress, so
 * the kernel refuses to make the request socket there (cookie_assign_fail,
 * passed on); a real one is made in tests/net/test_cookies.sh.
 */
static void check_good_and_forged(int family, const char *client)
{
	const char *vip = family == 6 ? FX_VIP6 : FX_VIP4;
	uint64_t p = now_period();
	struct tc_delta d;
	struct synack sa;
	uint8_t o[20];
	uint32_t idx, forged;

	linux_syn_opts(o, 1460, 1234);
	syn_to_synack(family, client, 424242, o, sizeof(o), &sa);
	sa.tsval = (uint32_t)sa.opts[8] << 24 | sa.opts[9] << 16 |
		   sa.opts[10] << 8 | sa.opts[11];
	idx = sa.cookie >> 1 & 3;

	snap(family, &d);
	assert_int_equal(send_ack(family, client, 424242, sa.cookie, sa.tsval),
			 TCX_NEXT);
	only_reason_moved(&d, LB_R_COOKIE_ASSIGN_FAIL);
	snap(family, &d);
	assert_int_equal(send_ack(family, client, 424242, sa.cookie, 0),
			 TCX_NEXT); /* no timestamps in the ACK: still ours */
	only_reason_moved(&d, LB_R_COOKIE_ASSIGN_FAIL);

	/* forged: one hash bit, the MSS bits, a period two back (same
	 * period bit), another client ISN */
	const uint32_t forgeries[] = {
		sa.cookie ^ 0x100,
		(sa.cookie & ~6u) | ((idx + 1) & 3) << 1,
		make_cookie(family, client, vip, 424242, p - 2, idx),
		make_cookie(family, client, vip, 424243, p, idx),
	};
	for (size_t i = 0; i < sizeof(forgeries) / sizeof(forgeries[0]); i++) {
		forged = forgeries[i];
		snap(family, &d);
		assert_int_equal(
			send_ack(family, client, 424242, forged, sa.tsval),
			TCX_DROP);
		only_reason_moved(&d, LB_R_COOKIE_BAD);
		assert_int_equal(
			vip_counter(family == 6 ? fx->vip6.index :
						  fx->vip4.index,
				    offsetof(struct lb_counters, cookies_bad)),
			d.bad + 1);
	}
}

static void test_tc_good_and_forged_v4(void **state)
{
	(void)state;
	check_good_and_forged(4, "198.18.1.20");
}

static void test_tc_good_and_forged_v6(void **state)
{
	(void)state;
	check_good_and_forged(6, "fd00:198:18:1::20");
}

static void set_hold(__u32 ms)
{
	struct lb_config cfg = config();

	cfg.flood_hold_ms = ms;
	assert_int_equal(bpf_map_update_elem(fx->dp.fds[DP_CONFIG],
					     &(__u32){ 0 }, &cfg, BPF_ANY),
			 0);
}

/* Once this CPU has left flood mode, a cookie that is not ours goes on to
 * the kernel (its own syncookies, or its RST), counted apart; while the
 * window for ours is open a good one still validates. */
static void test_tc_outside_flood_mode_passes(void **state)
{
	struct tc_delta d;
	struct synack sa;

	(void)state;
	set_hold(50);
	syn_to_synack(4, "198.18.1.30", 31337, NULL, 0, &sa);
	usleep(400 * 1000); /* the hold, a window, the coarse clock's tick */
	snap(4, &d);
	assert_int_equal(
		send_ack(4, "198.18.1.30", 31337, sa.cookie ^ 0x100, 0),
		TCX_NEXT);
	only_reason_moved(&d, LB_R_COOKIE_NOT_OURS);
	assert_int_equal(vip_counter(fx->vip4.index,
				     offsetof(struct lb_counters, cookies_bad)),
			 d.bad + 1);
	snap(4, &d);
	assert_int_equal(send_ack(4, "198.18.1.30", 31337, sa.cookie, 0),
			 TCX_NEXT);
	only_reason_moved(&d, LB_R_COOKIE_ASSIGN_FAIL);
	set_hold(600000);
}

/* Put prefix (a /24 or /64) on the allow list, or take it off. */
static void allow_prefix(int family, const char *prefix, int on)
{
	struct lb_src_rule rule = { .action = LB_SRC_ALLOW };
	struct lb_lpm_v4 k4 = { .prefixlen = 24 };
	struct lb_lpm_v6 k6 = { .prefixlen = 64 };
	struct lb_config cfg = config();
	int fd = fx->dp.fds[family == 6 ? DP_SRC_V6 : DP_SRC_V4];
	void *key = family == 6 ? (void *)&k6 : (void *)&k4;

	if (family == 6)
		assert_int_equal(inet_pton(AF_INET6, prefix, k6.addr), 1);
	else
		assert_int_equal(inet_pton(AF_INET, prefix, &k4.addr), 1);
	if (on)
		assert_int_equal(bpf_map_update_elem(fd, key, &rule, BPF_ANY),
				 0);
	else
		assert_int_equal(bpf_map_delete_elem(fd, key), 0);
	if (family == 6)
		cfg.src_rules_v6 = on;
	else
		cfg.src_rules_v4 = on;
	assert_int_equal(bpf_map_update_elem(fx->dp.fds[DP_CONFIG],
					     &(__u32){ 0 }, &cfg, BPF_ANY),
			 0);
}

/* A source's claimed prefix costs it nothing until it proves itself: SYNs
 * from one prefix far over src_rate all get cookies (no drop in XDP); its
 * valid cookie ACKs get src_burst through, then are dropped and counted
 * (rate_limited); another prefix has its own buckets, an allowed one is
 * spared, and a forged ACK charges nothing. */
static void check_proven_prefix_limited(int family, const char *c[3],
					const char *allowed)
{
	__u32 index = family == 6 ? fx->vip6.index : fx->vip4.index;
	size_t off = offsetof(struct lb_counters, rate_limited);
	__u64 limited = vip_counter(index, off);
	struct synack sa[8];
	struct tc_delta d;
	int i;

	assert_int_equal(fx_set_flood(fx, LB_CF_FLOOD | LB_CF_COOKIES, 1, 1, 3),
			 0);
	for (i = 0; i < 8; i++) /* one prefix, two addresses: all answered */
		syn_to_synack(family, c[i % 2], 7000 + i, NULL, 0, &sa[i]);
	snap(family, &d); /* forged: not charged */
	assert_int_equal(send_ack(family, c[0], 7000, sa[0].cookie ^ 0x100, 0),
			 TCX_DROP);
	only_reason_moved(&d, LB_R_COOKIE_BAD);
	for (i = 0; i < 3; i++) { /* the burst */
		snap(family, &d);
		assert_int_equal(
			send_ack(family, c[i % 2], 7000 + i, sa[i].cookie, 0),
			TCX_NEXT);
		only_reason_moved(&d, LB_R_COOKIE_ASSIGN_FAIL);
	}
	for (; i < 6; i++) {
		snap(family, &d);
		assert_int_equal(
			send_ack(family, c[i % 2], 7000 + i, sa[i].cookie, 0),
			TCX_DROP);
		only_reason_moved(&d, LB_R_RATE_LIMITED);
	}
	assert_int_equal(vip_counter(index, off), limited + 3);
	/* another prefix */
	syn_to_synack(family, c[2], 7100, NULL, 0, &sa[0]);
	snap(family, &d);
	assert_int_equal(send_ack(family, c[2], 7100, sa[0].cookie, 0),
			 TCX_NEXT);
	only_reason_moved(&d, LB_R_COOKIE_ASSIGN_FAIL);
	/* the allow list spares a limited prefix */
	allow_prefix(family, allowed, 1);
	snap(family, &d);
	assert_int_equal(send_ack(family, c[0], 7006, sa[6].cookie, 0),
			 TCX_NEXT);
	only_reason_moved(&d, LB_R_COOKIE_ASSIGN_FAIL);
	allow_prefix(family, allowed, 0);
	assert_int_equal(fx_set_flood(fx, LB_CF_FLOOD | LB_CF_COOKIES, 1,
				      100000, 100000),
			 0);
}

static void test_tc_proven_prefix_limited_v4(void **state)
{
	const char *c[] = { "198.18.70.1", "198.18.70.2", "198.18.71.1" };

	(void)state;
	check_proven_prefix_limited(4, c, "198.18.70.0");
}

static void test_tc_proven_prefix_limited_v6(void **state)
{
	const char *c[] = { "fd00:198:18:70::1", "fd00:198:18:70::2",
			    "fd00:198:18:71::1" };

	(void)state;
	check_proven_prefix_limited(6, c, "fd00:198:18:70::");
}

/* The two bucket slots of an IPv6 /64, as lb_bucket_hash() makes them:
 * SipHash-2-4 keyed by the whole cookie key over the prefix and a tag. */
static void bucket_slots6(const struct lb_addr *a, uint32_t slot[2])
{
	struct lb_config cfg = config();
	struct lb_sip s;
	uint64_t h;

	lb_sip_init(&s, cfg.cookie_key);
	lb_sip_word(&s, (uint64_t)a->v6[0] | (uint64_t)a->v6[1] << 32);
	lb_sip_word(&s, 0);
	lb_sip_word(&s, 0x6275636bull << 32 | LB_FAMILY_V6);
	h = lb_sip_final(&s);
	slot[0] = (uint32_t)h % LB_BUCKETS;
	slot[1] = (uint32_t)(h >> 32) % LB_BUCKETS;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* A bucket slot's time on CPU 0, where the tests run. */
static uint64_t slot_tat(uint32_t slot)
{
	int ncpu = libbpf_num_possible_cpus();
	struct lb_bucket b[ncpu];

	assert_int_equal(bpf_map_lookup_elem(fx->dp.fds[DP_BUCKETS], &slot, b),
			 0);
	return b[0].tat;
}

/* n good cookie ACKs from client (fresh SYNs first): how many pass. */
static int good_acks(const char *client, int n, uint32_t isn)
{
	struct synack sa;
	int i, ok = 0;

	for (i = 0; i < n; i++) {
		syn_to_synack(6, client, isn + i, NULL, 0, &sa);
		ok += send_ack(6, client, isn + i, sa.cookie, 0) == TCX_NEXT;
	}
	return ok;
}

/* A prefix that shares one of its two slots with a prefix over its rate
 * keeps its own rate: it is as busy as its other slot. */
static void test_tc_bucket_two_slots(void **state)
{
	const char *quiet = "fd00:198:18:80::1";
	uint32_t qs[2], bs[2];
	char busy[64] = "";
	struct lb_addr a;
	unsigned int i;

	(void)state;
	fx_addr(&a, 6, quiet);
	bucket_slots6(&a, qs);
	for (i = 0x8100; i <= 0xffff && !busy[0]; i++) { /* /64s of the /48 */
		snprintf(busy, sizeof(busy), "fd00:198:18:%x::1", i);
		fx_addr(&a, 6, busy);
		bucket_slots6(&a, bs);
		if ((bs[0] == qs[0] || bs[1] == qs[0] || bs[0] == qs[1] ||
		     bs[1] == qs[1]) &&
		    !(bs[0] == qs[0] && bs[1] == qs[1]) &&
		    !(bs[0] == qs[1] && bs[1] == qs[0]))
			break;
		busy[0] = 0;
	}
	assert_true(busy[0]); /* about 16 such /64s are expected */
	assert_int_equal(fx_set_flood(fx, LB_CF_FLOOD | LB_CF_COOKIES, 1, 1, 3),
			 0);
	assert_int_equal(good_acks(busy, 6, 8000), 3);
	/* the slots are where the oracle says: 3 s of tokens taken */
	assert_true(slot_tat(bs[0]) > now_ns() + 2000000000ull);
	assert_true(slot_tat(bs[1]) > now_ns() + 2000000000ull);
	assert_int_equal(good_acks(quiet, 4, 8100), 3);
	assert_int_equal(fx_set_flood(fx, LB_CF_FLOOD | LB_CF_COOKIES, 1,
				      100000, 100000),
			 0);
}

/* Cookies off: no SYN-ACK from XDP, and tc leaves every ACK alone. */
static void test_cookies_off(void **state)
{
	struct pkt_spec s = { .family = 4,
			      .src = "198.18.1.40",
			      .sport = CLIENT_PORT,
			      .seq = 99,
			      .flags = F_SYN };
	uint8_t in[PKT_MAX], out[PKT_MAX];
	struct tc_delta d;
	size_t len, out_len;

	(void)state;
	assert_int_equal(fx_set_flood(fx, LB_CF_FLOOD, 1, 100000, 100000), 0);
	len = pkt_build(&s, in);
	assert_int_equal(
		run_prog(dataplane__xdp_fd(&fx->dp), in, len, out, &out_len),
		XDP_PASS);
	assert_int_equal(out_len, len);
	assert_memory_equal(out, in, len);
	snap(4, &d);
	assert_int_equal(send_ack(4, "198.18.1.40", 99, 12345, 0), TCX_NEXT);
	only_reason_moved(&d, LB_R_MAX); /* nothing */
	assert_int_equal(fx_set_flood(fx, LB_CF_FLOOD | LB_CF_COOKIES, 1,
				      100000, 100000),
			 0);
}

/* --- the cookie gate (issue 20) --- */

#define GATE_FLAGS (LB_CF_FLOOD | LB_CF_COOKIES)

static uint32_t synack_tsval(const struct synack *sa)
{
	return (uint32_t)sa->opts[8] << 24 | sa->opts[9] << 16 |
	       sa->opts[10] << 8 | sa->opts[11];
}

/* The namespace's sysctls at 0 (LB_CF_NO_*): the SYN-ACK offers only what
 * they allow, and the option bits of its TSval say the same, so that the
 * ACK asks bpf_sk_assign_tcp_reqsk() for nothing it would refuse. */
static void check_sysctls(int family, const char *client)
{
	uint8_t o[20];
	struct synack sa;

	linux_syn_opts(o, 1460, 0xa1b2c3d4);
	assert_int_equal(
		fx_set_flood(fx, GATE_FLAGS | LB_CF_NO_SACK, 1, 100000, 100000),
		0);
	syn_to_synack(family, client, 91000, o, sizeof(o), &sa);
	assert_int_equal(sa.opt_len, 20); /* NOP NOP TS, NOP WS */
	assert_int_equal(sa.opts[4], 1);
	assert_int_equal(sa.opts[5], 1);
	assert_int_equal(sa.opts[6], 8);
	assert_int_equal(sa.opts[17], 3);
	assert_int_equal(synack_tsval(&sa) & 0x3f, 7);

	assert_int_equal(fx_set_flood(fx, GATE_FLAGS | LB_CF_NO_WSCALE, 1,
				      100000, 100000),
			 0);
	syn_to_synack(family, client, 91001, o, sizeof(o), &sa);
	assert_int_equal(sa.opt_len, 16); /* SACK-permitted TS, no WS */
	assert_int_equal(sa.opts[4], 4);
	assert_int_equal(synack_tsval(&sa) & 0x3f, 0x10 | 0xf);

	assert_int_equal(
		fx_set_flood(fx, GATE_FLAGS | LB_CF_NO_TS, 1, 100000, 100000),
		0);
	syn_to_synack(family, client, 91002, o, sizeof(o), &sa);
	assert_int_equal(sa.opt_len, 4); /* MSS alone */
	assert_int_equal(fx_set_flood(fx, GATE_FLAGS, 1, 100000, 100000), 0);
}

static void test_synack_follows_sysctls(void **state)
{
	(void)state;
	check_sysctls(4, "198.18.1.50");
	check_sysctls(6, "fd00:198:18:1::50");
}

/* A SYN in flood mode that XDP must leave to the kernel, unchanged. */
static void syn_passes(const char *client)
{
	struct pkt_spec s = { .family = 4,
			      .src = client,
			      .sport = CLIENT_PORT,
			      .seq = 4242,
			      .flags = F_SYN };
	uint8_t in[PKT_MAX], out[PKT_MAX];
	__u64 sent = fx_reason(fx, LB_R_COOKIE_SENT);
	size_t len, out_len;

	len = pkt_build(&s, in);
	assert_int_equal(
		run_prog(dataplane__xdp_fd(&fx->dp), in, len, out, &out_len),
		XDP_PASS);
	assert_int_equal(out_len, len);
	assert_memory_equal(out, in, len);
	assert_int_equal(fx_reason(fx, LB_R_COOKIE_SENT), sent);
}

/* tcp_syncookies=0 (the kernel would reset every cookie ACK), or an
 * interface in lb_cookie_ifs (its XDP_TX frames would not leave): no
 * cookie. test_run's frames come in on the loopback device. */
static void test_cookies_gated(void **state)
{
	int fd = bpf_map__fd(fx->dp.xdp->maps.lb_cookie_ifs);
	struct lb_cookie_if v = { .reason = LB_COOKIE_OFF_VETH_PEER };
	__u32 lo = 1;

	(void)state;
	assert_int_equal(fx_set_flood(fx, GATE_FLAGS | LB_CF_NO_SYNCOOKIES, 1,
				      100000, 100000),
			 0);
	syn_passes("198.18.1.51");
	assert_int_equal(fx_set_flood(fx, GATE_FLAGS, 1, 100000, 100000), 0);
	assert_int_equal(bpf_map_update_elem(fd, &lo, &v, BPF_ANY), 0);
	syn_passes("198.18.1.52");
	assert_int_equal(bpf_map_delete_elem(fd, &lo), 0);
}

static int group_setup(void **state)
{
	(void)state;
	struct lb_vip_meta shared6 = { .index = 4,
				       .v4_prefix = 32,
				       .v6_prefix = 128,
				       .flags = 0 /* shared */ };

	if (fx_setup(&fx) || fx_add_vip(fx, 6, VIP6_SHARED, 443, &shared6))
		return -1;
	/* any SYN starts flood mode, which lasts the whole run */
	if (fx_set_flood(fx, LB_CF_FLOOD | LB_CF_COOKIES, 1, 100000, 100000))
		return -1;
	set_hold(600000);
	set_lo_mtu(1500);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	return fx_teardown(fx);
}

static int listeners_setup(void **state)
{
	(void)state;
	put_listeners(4);
	put_listeners(6);
	return 0;
}

int main(void)
{
	struct CMUnitTest tests[16 + SHAPES];
	const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_siphash_reference_vector),
		cmocka_unit_test(test_synack_v4_mss_table),
		cmocka_unit_test(test_synack_v6_mss_table),
		cmocka_unit_test(test_synack_syn_without_options),
		cmocka_unit_test(test_synack_our_mss_from_mtu),
		cmocka_unit_test(test_synack_with_timestamps),
		cmocka_unit_test_setup(test_tc_good_and_forged_v4,
				       listeners_setup),
		cmocka_unit_test(test_tc_good_and_forged_v6),
		cmocka_unit_test(test_tc_outside_flood_mode_passes),
		cmocka_unit_test(test_tc_proven_prefix_limited_v4),
		cmocka_unit_test(test_tc_proven_prefix_limited_v6),
		cmocka_unit_test(test_tc_bucket_two_slots),
		cmocka_unit_test(test_cookies_off),
		cmocka_unit_test(test_synack_follows_sysctls),
		cmocka_unit_test(test_cookies_gated),
	};
	size_t i, n = 0;
	cpu_set_t one;

	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		tests[n++] = fixed[i];
	/* before test_cookies_off, which leaves cookies on again anyway */
	for (i = 0; i < SHAPES; i++)
		tests[n++] = (struct CMUnitTest){ .name = shapes[i].desc,
						  .test_func = test_shape,
						  .initial_state =
							  (void *)&shapes[i] };

	/* Flood state is per CPU: run every packet on the same one. */
	CPU_ZERO(&one);
	CPU_SET(0, &one);
	if (sched_setaffinity(0, sizeof(one), &one))
		perror("sched_setaffinity");
	return _cmocka_run_group_tests("cookie", tests, n, group_setup,
				       group_teardown);
}
