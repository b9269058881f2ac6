// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The XDP program run in the real kernel through bpf_prog_test_run_opts: one
 * cmocka test per row of a table (description, packet, verdict, expected
 * counter, whether a flow is recorded), plus the distribution properties.
 * The output frame must always equal the input: XDP never rewrites.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <netinet/in.h>
#include "fixture.h"
#include "pkt.h"

#define NO_REASON (-1)

struct xdp_case {
	const char *desc;
	struct pkt_spec pkt;
	int verdict;
	int reason; /* the one counter that must rise by 1, or NO_REASON */
	int steered; /* a flow record must appear with the expected worker */
};

#define SYN .flags = F_SYN

static const struct xdp_case cases[] = {
	{ "v4 SYN to VIP:443",
	  { .family = 4, SYN },
	  XDP_PASS,
	  LB_R_SYN_STEERED,
	  1 },
	{ "v4 SYN to VIP:80",
	  { .family = 4, .dport = 80, SYN },
	  XDP_PASS,
	  LB_R_SYN_STEERED,
	  1 },
	{ "v6 SYN to VIP",
	  { .family = 6, SYN },
	  XDP_PASS,
	  LB_R_SYN_STEERED,
	  1 },
	{ "v4 ACK to VIP",
	  { .family = 4, .flags = F_ACK },
	  XDP_PASS,
	  NO_REASON,
	  0 },
	{ "v4 data to VIP",
	  { .family = 4, .flags = F_ACK | F_PSH, .payload = 100 },
	  XDP_PASS,
	  NO_REASON,
	  0 },
	{ "v4 SYN-ACK to VIP",
	  { .family = 4, .flags = F_SYN | F_ACK },
	  XDP_PASS,
	  NO_REASON,
	  0 },
	{ "v4 RST to VIP",
	  { .family = 4, .flags = F_RST },
	  XDP_PASS,
	  NO_REASON,
	  0 },
	{ "v6 ACK to VIP",
	  { .family = 6, .flags = F_ACK },
	  XDP_PASS,
	  NO_REASON,
	  0 },
	{ "v4 SYN to non-VIP address",
	  { .family = 4, .dst = "198.18.0.200", SYN },
	  XDP_PASS,
	  NO_REASON,
	  0 },
	{ "v6 SYN to non-VIP address",
	  { .family = 6, .dst = "fd00:198:18::200", SYN },
	  XDP_PASS,
	  NO_REASON,
	  0 },
	{ "v4 SYN to VIP address, other port",
	  { .family = 4, .dport = 22, SYN },
	  XDP_PASS,
	  NO_REASON,
	  0 },
	{ "UDP to VIP:443",
	  { .family = 4, .proto = IPPROTO_UDP, .payload = 32 },
	  XDP_PASS,
	  NO_REASON,
	  0 },
	{ "ICMP echo to VIP",
	  { .family = 4, .proto = IPPROTO_ICMP },
	  XDP_PASS,
	  NO_REASON,
	  0 },
	{ "ICMPv6 echo to VIP",
	  { .family = 6, .proto = IPPROTO_ICMP },
	  XDP_PASS,
	  NO_REASON,
	  0 },
	{ "ARP",
	  { .family = 4, .ethertype = ETH_P_ARP },
	  XDP_PASS,
	  NO_REASON,
	  0 },
	{ "VLAN-tagged v4 SYN",
	  { .family = 4, .vlan = 1, SYN },
	  XDP_PASS,
	  LB_R_SYN_STEERED,
	  1 },
	{ "VLAN-tagged v6 SYN",
	  { .family = 6, .vlan = 1, SYN },
	  XDP_PASS,
	  LB_R_SYN_STEERED,
	  1 },
	{ "v4 SYN with 12 bytes of IP options",
	  { .family = 4, .ip4_opt_words = 3, SYN },
	  XDP_PASS,
	  LB_R_SYN_STEERED,
	  1 },
	{ "v4 SYN with 40 bytes of IP options (IHL 15)",
	  { .family = 4, .ip4_opt_words = 10, SYN },
	  XDP_PASS,
	  LB_R_SYN_STEERED,
	  1 },
	{ "v4 SYN with Ethernet padding after the IP packet",
	  { .family = 4, .pad = 6, SYN },
	  XDP_PASS,
	  LB_R_SYN_STEERED,
	  1 },
	{ "v4 SYN, first fragment (MF, offset 0)",
	  { .family = 4, .frag_off = 0x2000, SYN },
	  XDP_PASS,
	  LB_R_SYN_STEERED,
	  1 },
	{ "v6 SYN after hop-by-hop, routing, dest-options",
	  { .family = 6,
	    .ip6_ext = { IPPROTO_HOPOPTS, IPPROTO_ROUTING, IPPROTO_DSTOPTS },
	    .ip6_ext_n = 3,
	    SYN },
	  XDP_PASS,
	  LB_R_SYN_STEERED,
	  1 },
	{ "v6 SYN after a first-fragment header",
	  { .family = 6, .ip6_frag = 1, SYN },
	  XDP_PASS,
	  LB_R_SYN_STEERED,
	  1 },
	{ "v6 SYN behind 5 extension headers",
	  { .family = 6,
	    .ip6_ext = { IPPROTO_HOPOPTS, IPPROTO_DSTOPTS, IPPROTO_ROUTING,
			 IPPROTO_DSTOPTS, IPPROTO_DSTOPTS },
	    .ip6_ext_n = 5,
	    SYN },
	  XDP_PASS,
	  LB_R_IP6_EXT_LIMIT,
	  0 },
	{ "v4 non-first fragment that looks like a SYN",
	  { .family = 4, .frag_off = 185, SYN },
	  XDP_PASS,
	  LB_R_FRAGMENT,
	  0 },
	{ "v6 non-first fragment that looks like a SYN",
	  { .family = 6, .ip6_frag = 1, .frag_off = 185, SYN },
	  XDP_PASS,
	  LB_R_FRAGMENT,
	  0 },
	{ "v6 jumbogram marker (payload length 0)",
	  { .family = 6, .len_zero = 1, SYN },
	  XDP_PASS,
	  LB_R_UNSUPPORTED,
	  0 },
	/* Truncation at every layer. Frames under 14 bytes never reach XDP
	 * (test_run refuses them, as NICs do), so L2 starts at the tag. */
	{ "truncated in the VLAN tag",
	  { .family = 4, .vlan = 1, SYN, .truncate = 16 },
	  XDP_PASS,
	  LB_R_L2_TRUNC,
	  0 },
	{ "truncated in the IPv4 header",
	  { .family = 4, SYN, .truncate = 14 + 12 },
	  XDP_DROP,
	  LB_R_IP4_TRUNC,
	  0 },
	{ "truncated in the IPv4 options",
	  { .family = 4, .ip4_opt_words = 4, SYN, .truncate = 14 + 28 },
	  XDP_DROP,
	  LB_R_IP4_TRUNC,
	  0 },
	{ "v4 total length beyond the frame",
	  { .family = 4, SYN, .len_delta = 1 },
	  XDP_DROP,
	  LB_R_IP4_TRUNC,
	  0 },
	{ "v4 bogus IHL 3",
	  { .family = 4, .ihl = 3, SYN },
	  XDP_DROP,
	  LB_R_IP4_BAD,
	  0 },
	{ "v4 IHL 6 on a 5-word header: TCP misread would follow",
	  { .family = 4, .ihl = 6, SYN },
	  XDP_DROP,
	  LB_R_TCP_TRUNC,
	  0 },
	{ "v4 version 6 in an IPv4 frame",
	  { .family = 4, .version = 6, SYN },
	  XDP_DROP,
	  LB_R_IP4_BAD,
	  0 },
	{ "v4 total length shorter than the header",
	  { .family = 4, SYN, .len_delta = -21 },
	  XDP_DROP,
	  LB_R_IP4_BAD,
	  0 },
	{ "v4 total length cuts the TCP header (padding hides it)",
	  { .family = 4, SYN, .len_delta = -10 },
	  XDP_DROP,
	  LB_R_TCP_TRUNC,
	  0 },
	{ "truncated in the TCP header",
	  { .family = 4, SYN, .truncate = 14 + 20 + 12, .len_delta = -8 },
	  XDP_DROP,
	  LB_R_TCP_TRUNC,
	  0 },
	{ "v4 SYN with data offset 4",
	  { .family = 4, SYN, .doff = 4 },
	  XDP_DROP,
	  LB_R_TCP_BAD_DOFF,
	  0 },
	{ "v4 SYN with data offset 15 but no options",
	  { .family = 4, SYN, .doff = 15 },
	  XDP_DROP,
	  LB_R_TCP_TRUNC,
	  0 },
	{ "truncated in the IPv6 header",
	  { .family = 6, SYN, .truncate = 14 + 30 },
	  XDP_DROP,
	  LB_R_IP6_TRUNC,
	  0 },
	{ "v6 payload length beyond the frame",
	  { .family = 6, SYN, .len_delta = 1 },
	  XDP_DROP,
	  LB_R_IP6_TRUNC,
	  0 },
	{ "v6 version 4 in an IPv6 frame",
	  { .family = 6, .version = 4, SYN },
	  XDP_DROP,
	  LB_R_IP6_BAD,
	  0 },
	{ "truncated in an IPv6 extension header",
	  { .family = 6,
	    .ip6_ext = { IPPROTO_HOPOPTS },
	    .ip6_ext_n = 1,
	    SYN,
	    .truncate = 14 + 40 + 1,
	    .len_delta = -27 },
	  XDP_DROP,
	  LB_R_IP6_TRUNC,
	  0 },
	{ "v6 extension header longer than the payload",
	  { .family = 6,
	    .ip6_ext = { IPPROTO_HOPOPTS },
	    .ip6_ext_n = 1,
	    SYN,
	    .len_delta = -24 },
	  XDP_DROP,
	  LB_R_IP6_TRUNC,
	  0 },
	{ "truncated in the TCP header after IPv6",
	  { .family = 6, SYN, .truncate = 14 + 40 + 10, .len_delta = -10 },
	  XDP_DROP,
	  LB_R_TCP_TRUNC,
	  0 },
};

static struct fixture *fx;

static int group_setup(void **state)
{
	(void)state;
	return fx_setup(&fx);
}

static int group_teardown(void **state)
{
	(void)state;
	return fx_teardown(fx);
}

static int run_xdp(const uint8_t *frame, size_t len, uint8_t *out,
		   size_t *out_len)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame,
		    .data_size_in = len, .data_out = out,
		    .data_size_out = PKT_MAX, .repeat = 1);
	int err;

	err = bpf_prog_test_run_opts(dataplane__xdp_fd(&fx->dp), &opts);
	assert_int_equal(err, 0);
	*out_len = opts.data_size_out;
	return opts.retval;
}

static struct lb_flow_key flow_key_of(const struct pkt_spec *s)
{
	struct lb_flow_key k;
	int fam = s->family == 6 ? 6 : 4;

	memset(&k, 0, sizeof(k));
	fx_addr(&k.src, fam,
		s->src	 ? s->src :
		fam == 6 ? "fd00:198:18:1::10" :
			   "198.18.1.10");
	fx_addr(&k.dst, fam, s->dst ? s->dst : fam == 6 ? FX_VIP6 : FX_VIP4);
	k.sport = htons(s->sport ? s->sport : 40000);
	k.dport = htons(s->dport ? s->dport : 443);
	k.family = fam == 6 ? LB_FAMILY_V6 : LB_FAMILY_V4;
	return k;
}

static void test_case(void **state)
{
	const struct xdp_case *c = *state;
	uint8_t frame[PKT_MAX], out[PKT_MAX];
	__u64 before[LB_R_MAX], after[LB_R_MAX];
	int flows = dataplane__map_fd(&fx->dp, LB_MAP_FLOWS);
	struct lb_flow_key key = flow_key_of(&c->pkt);
	struct lb_flow flow;
	size_t len, out_len;
	__u32 r;

	len = pkt_build(&c->pkt, frame);
	bpf_map_delete_elem(flows, &key);
	fx_reasons(fx, before);

	assert_int_equal(run_xdp(frame, len, out, &out_len), c->verdict);

	/* never rewritten */
	assert_int_equal(out_len, len);
	assert_memory_equal(out, frame, len);
	/* exactly the expected counter moved, by one */
	fx_reasons(fx, after);
	for (r = 0; r < LB_R_MAX; r++) {
		__u64 want = before[r] + ((int)r == c->reason);

		if (after[r] != want)
			fail_msg("%s: counter %u is %llu, want %llu", c->desc,
				 r, (unsigned long long)after[r],
				 (unsigned long long)want);
	}
	/* a flow record, with the computed pick, if and only if steered */
	if (c->steered) {
		assert_int_equal(bpf_map_lookup_elem(flows, &key, &flow), 0);
		assert_int_equal(flow.worker,
				 fx_expected(fx, c->pkt.family,
					     c->pkt.src ? c->pkt.src :
					     c->pkt.family == 6 ?
							  "fd00:198:18:1::10" :
							  "198.18.1.10"));
	} else {
		assert_int_not_equal(bpf_map_lookup_elem(flows, &key, &flow),
				     0);
	}
}

static __u32 steer_and_read(int family, const char *client, uint16_t sport)
{
	struct pkt_spec s = {
		.family = family, .src = client, .sport = sport, .flags = F_SYN
	};
	struct lb_flow_key key = flow_key_of(&s);
	uint8_t frame[PKT_MAX], out[PKT_MAX];
	struct lb_flow flow;
	size_t out_len;

	assert_int_equal(run_xdp(frame, pkt_build(&s, frame), out, &out_len),
			 XDP_PASS);
	assert_int_equal(
		bpf_map_lookup_elem(dataplane__map_fd(&fx->dp, LB_MAP_FLOWS),
				    &key, &flow),
		0);
	return flow.worker;
}

static void test_same_client_same_worker(void **state)
{
	const char *clients[] = { "198.18.1.10", "198.18.7.33",
				  "fd00:198:18:1::10", "fd00:198:18:9::abcd" };
	unsigned int i, port;

	(void)state;
	for (i = 0; i < 4; i++) {
		int fam = strchr(clients[i], ':') ? 6 : 4;
		__u32 first = steer_and_read(fam, clients[i], 1024);

		assert_int_equal(first, fx_expected(fx, fam, clients[i]));
		for (port = 1025; port < 1025 + 200; port += 7)
			assert_int_equal(steer_and_read(fam, clients[i], port),
					 first);
	}
}

static void test_spread_1000_clients(void **state)
{
	unsigned int counts[FX_WORKERS] = { 0 }, i;
	char addr[32];

	(void)state;
	for (i = 0; i < 1000; i++) {
		__u32 w;

		snprintf(addr, sizeof(addr), "198.18.%u.%u", 2 + i / 250,
			 1 + i % 250);
		w = steer_and_read(4, addr, 40000);
		assert_true(w < FX_WORKERS);
		counts[w]++;
	}
	for (i = 0; i < FX_WORKERS; i++) {
		print_message("worker %u: %u of 1000 clients\n", i, counts[i]);
		assert_in_range(counts[i], 225, 275);
	}
}

static void test_v6_prefix_groups_privacy_addresses(void **state)
{
	struct lb_vip_key k = fx_vip_key(6, FX_VIP6, 443);
	struct lb_vip_meta m = fx->vip6;
	__u32 w1, w2, w3;
	int differs = 0, i;
	char addr[64];

	(void)state;
	m.v6_prefix = 64;
	assert_int_equal(dataplane__vip_set(&fx->dp, &k, &m), 0);
	w1 = steer_and_read(6, "fd00:198:18:5::1", 40000);
	w2 = steer_and_read(6, "fd00:198:18:5:dead:beef:1:2", 40000);
	assert_int_equal(w1, w2);
	/* other /64s still spread */
	for (i = 0; i < 32; i++) {
		snprintf(addr, sizeof(addr), "fd00:198:18:%x::1", 0x100 + i);
		w3 = steer_and_read(6, addr, 40000);
		differs += w3 != w1;
	}
	assert_true(differs > 0);
	assert_int_equal(dataplane__vip_set(&fx->dp, &k, &fx->vip6), 0);
}

static void expect_unsteered(__u32 reason)
{
	struct pkt_spec s = { .family = 4,
			      .src = "198.18.3.3",
			      .flags = F_SYN };
	struct lb_flow_key key = flow_key_of(&s);
	uint8_t frame[PKT_MAX], out[PKT_MAX];
	__u64 before = fx_reason(fx, reason);
	struct lb_flow flow;
	size_t out_len;

	bpf_map_delete_elem(dataplane__map_fd(&fx->dp, LB_MAP_FLOWS), &key);
	assert_int_equal(run_xdp(frame, pkt_build(&s, frame), out, &out_len),
			 XDP_PASS);
	assert_int_equal(fx_reason(fx, reason), before + 1);
	assert_int_not_equal(
		bpf_map_lookup_elem(dataplane__map_fd(&fx->dp, LB_MAP_FLOWS),
				    &key, &flow),
		0);
}

static void test_empty_ring_counted(void **state)
{
	static const __u32 equal[FX_WORKERS] = { 1, 1, 1, 1 };

	(void)state;
	assert_int_equal(fx_set_ring(fx, NULL, 0), 0);
	expect_unsteered(LB_R_NO_WORKER);
	assert_int_equal(fx_set_ring(fx, equal, FX_WORKERS), 0);
}

static void test_worker_id_out_of_range_counted(void **state)
{
	static const __u32 equal[FX_WORKERS] = { 1, 1, 1, 1 };
	__u32 i;

	(void)state;
	for (i = 0; i < FX_RING; i++)
		fx->ring[i] = LB_MAX_WORKERS + 7;
	assert_int_equal(dataplane__ring_write(&fx->dp, fx->vip4.index,
					       fx->ring, NULL, 0),
			 0);
	expect_unsteered(LB_R_BAD_WORKER);
	assert_int_equal(fx_set_ring(fx, equal, FX_WORKERS), 0);
}

int main(void)
{
	struct CMUnitTest tests[sizeof(cases) / sizeof(cases[0]) + 8];
	size_t i, n = 0;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		tests[n++] = (struct CMUnitTest){ .name = cases[i].desc,
						  .test_func = test_case,
						  .initial_state =
							  (void *)&cases[i] };
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(
		test_same_client_same_worker);
	tests[n++] =
		(struct CMUnitTest)cmocka_unit_test(test_spread_1000_clients);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(
		test_v6_prefix_groups_privacy_addresses);
	tests[n++] =
		(struct CMUnitTest)cmocka_unit_test(test_empty_ring_counted);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(
		test_worker_id_out_of_range_counted);
	return _cmocka_run_group_tests("xdp", tests, n, group_setup,
				       group_teardown);
}
