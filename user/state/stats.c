// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include "stats.h"

/* Name and verdict of every outcome (docs/xdp-outcomes.md). */
static const struct {
	const char *name;
	const char *verdict;
} reasons[LB_R_MAX] = {
	[LB_R_SYN_NEW] = { "syn_new", "pass" },
	[LB_R_SYN_RETRANS] = { "syn_retrans", "pass" },
	[LB_R_FRAGMENT] = { "fragment", "pass" },
	[LB_R_IP6_EXT_LIMIT] = { "ip6_ext_limit", "pass_or_drop" },
	[LB_R_UNSUPPORTED] = { "unsupported", "pass" },
	[LB_R_ICMP_PASS] = { "icmp_pass", "pass" },
	[LB_R_SHARED_PASS] = { "shared_pass", "pass" },
	[LB_R_SRC_ALLOWED] = { "src_allowed", "pass" },
	[LB_R_FW_PORT] = { "fw_port", "drop" },
	[LB_R_FW_PROTO] = { "fw_proto", "drop" },
	[LB_R_SRC_DENIED] = { "src_denied", "drop" },
	[LB_R_RATE_LIMITED] = { "rate_limited", "drop" },
	[LB_R_IP4_BAD] = { "ip4_bad", "drop" },
	[LB_R_IP4_TRUNC] = { "ip4_trunc", "drop" },
	[LB_R_IP6_BAD] = { "ip6_bad", "drop" },
	[LB_R_IP6_TRUNC] = { "ip6_trunc", "drop" },
	[LB_R_TCP_TRUNC] = { "tcp_trunc", "drop" },
	[LB_R_TCP_BAD_DOFF] = { "tcp_bad_doff", "drop" },
	[LB_R_FLOOD_START] = { "flood_start", "event" },
	[LB_R_COOKIE_SENT] = { "cookie_sent", "tx" },
	[LB_R_COOKIE_OK] = { "cookie_ok", "pass" },
	[LB_R_COOKIE_BAD] = { "cookie_bad", "drop" },
	[LB_R_COOKIE_NO_WORKER] = { "cookie_no_worker", "pass" },
	[LB_R_COOKIE_ASSIGN_FAIL] = { "cookie_assign_fail", "pass" },
	[LB_R_COOKIE_NOT_OURS] = { "cookie_not_ours", "pass" },
	[LB_R_SK_COMPUTED] = { "sk_computed", "sk_lookup" },
	[LB_R_SK_NO_WORKER] = { "sk_no_worker", "sk_lookup" },
	[LB_R_SK_NO_SOCKET] = { "sk_no_socket", "sk_lookup" },
	[LB_R_SK_ASSIGN_FAIL] = { "sk_assign_fail", "sk_lookup" },
	[LB_R_SK_FALLBACK] = { "sk_fallback", "sk_lookup" },
	[LB_R_HOST_CONN] = { "host_conn", "pass" },
	[LB_R_ECHO_PASS] = { "echo_pass", "pass" },
	[LB_R_COOKIE_IP_OPTS] = { "cookie_ip_opts", "tx" },
	[LB_R_SYN_IP_OPTS_DROP] = { "syn_ip_opts_drop", "drop" },
	[LB_R_SYN_FRAG_DROP] = { "syn_frag_drop", "drop" },
	[LB_R_SYN_BAD_MAC] = { "syn_bad_mac", "drop" },
	[LB_R_SYN_MARTIAN] = { "syn_martian", "drop" },
	[LB_R_SYN_OWN_SRC] = { "syn_own_src", "drop" },
	[LB_R_SYN_BAD_FLAGS] = { "syn_bad_flags", "drop" },
	[LB_R_SYN_BAD_CSUM] = { "syn_bad_csum", "drop" },
	[LB_R_COOKIE_NO_ROOM] = { "cookie_no_room", "drop" },
	[LB_R_FWD] = { "fwd", "tx" },
	[LB_R_FWD_ROUTED] = { "fwd_routed", "pass" },
	[LB_R_FWD_NO_HOST] = { "fwd_no_host", "pass" },
	[LB_R_FWD_NO_ROOM] = { "fwd_no_room", "drop" },
	[LB_R_MSS_CLAMPED] = { "mss_clamped", "event" },
	[LB_R_ICMP_FWD] = { "icmp_fwd", "tx" },
	[LB_R_DECAP] = { "decap", "pass" },
	[LB_R_DECAP_NOT_CLUSTER] = { "decap_not_cluster", "drop" },
	[LB_R_DECAP_BAD] = { "decap_bad", "drop" },
	[LB_R_SECOND_CHANCE] = { "second_chance", "tx" },
	[LB_R_FWD_NOT_FORWARDING] = { "fwd_not_forwarding", "pass" },
};

/* The per-VIP counters, in struct lb_counters order, with their series. */
#define COUNTER(f, help)                                  \
	{                                                 \
#f, offsetof(struct lb_counters, f), help \
	}
static const struct {
	const char *name;
	size_t off;
	const char *help;
} counters[] = {
	{ "new_conns", offsetof(struct lb_counters, syns),
	  "First SYNs to the VIP passed to the stack (new connections)." },
	COUNTER(syn_retrans, "Retransmitted SYNs (same 4-tuple and ISN)."),
	COUNTER(assigned,
		"Connections handed to a worker socket by sk_lookup."),
	COUNTER(cookies_sent,
		"SYN-ACKs with a cookie sent by XDP (flood mode)."),
	COUNTER(cookies_ok, "ACKs with a valid cookie: request socket made."),
	COUNTER(cookies_bad,
		"ACKs to no socket with a cookie XDP did not make."),
	COUNTER(rate_limited,
		"Valid cookie ACKs over their source prefix's rate, dropped."),
};
#define NCOUNTERS (sizeof(counters) / sizeof(counters[0]))

static __u64 counter(const struct lb_counters *c, size_t i)
{
	return *(const __u64 *)((const char *)c + counters[i].off);
}

const char *stats__reason_name(__u32 reason)
{
	return reason < LB_R_MAX && reasons[reason].name ?
		       reasons[reason].name :
		       "unknown";
}

const char *stats__reason_verdict(__u32 reason)
{
	return reason < LB_R_MAX && reasons[reason].verdict ?
		       reasons[reason].verdict :
		       "?";
}

int stats__read(const struct dataplane *dp, struct stats *s)
{
	struct timespec ts;
	__u32 i;
	int err = 0;

	memset(s, 0, sizeof(*s));
	clock_gettime(CLOCK_MONOTONIC, &ts);
	s->when = ts.tv_sec + ts.tv_nsec / 1e9;
	for (i = 0; i < LB_R_MAX && !err; i++)
		err = dataplane__reason_sum(dp, i, &s->reasons[i]);
	s->nvips = vip__list(dp, s->vips);
	for (i = 0; i < (__u32)s->nvips && !err; i++)
		err = dataplane__counters_sum(
			dp, DP_VIP_STATS, s->vips[i].meta.index, &s->vip[i]);
	for (i = 0; i < LB_MAX_WORKERS && !err; i++)
		err = dataplane__counters_sum(dp, DP_WORKER_STATS, i,
					      &s->worker[i]);
	return err;
}

static double rate(__u64 now, __u64 then, const struct stats *s,
		   const struct stats *prev)
{
	double dt = prev ? s->when - prev->when : 0;

	return dt > 0 && now >= then ? (now - then) / dt : 0;
}

/* The same VIP's counters in an earlier snapshot (matched by key). */
static const struct lb_counters *prev_vip(const struct stats *prev,
					  const struct lb_vip_key *key)
{
	int i;

	for (i = 0; prev && i < prev->nvips; i++)
		if (!memcmp(&prev->vips[i].key, key, sizeof(*key)))
			return &prev->vip[i];
	return NULL;
}

void stats__print_text(FILE *f, const struct stats *s, const struct stats *prev)
{
	static const struct lb_counters zero;
	char name[VIP_TEXT_MAX];
	const struct lb_counters *p;
	size_t c;
	int i;

	fprintf(f, "%-28s", "vip");
	for (c = 0; c < NCOUNTERS; c++)
		fprintf(f, " %12s", counters[c].name);
	fprintf(f, "%s\n", prev ? "      conn/s" : "");
	for (i = 0; i < s->nvips; i++) {
		vip__format(&s->vips[i].key, name, sizeof(name));
		p = prev_vip(prev, &s->vips[i].key) ?: &zero;
		fprintf(f, "%-28s", name);
		for (c = 0; c < NCOUNTERS; c++)
			fprintf(f, " %12llu",
				(unsigned long long)counter(&s->vip[i], c));
		if (prev)
			fprintf(f, " %11.1f",
				rate(s->vip[i].assigned, p->assigned, s, prev));
		fputc('\n', f);
	}
	fprintf(f, "\n%-28s %12s %12s%s\n", "worker", "assigned", "cookies_ok",
		prev ? "      conn/s" : "");
	for (i = 0; i < LB_MAX_WORKERS; i++) {
		if (!s->worker[i].assigned && !s->worker[i].cookies_ok)
			continue;
		fprintf(f, "%-28d %12llu %12llu", i,
			(unsigned long long)s->worker[i].assigned,
			(unsigned long long)s->worker[i].cookies_ok);
		if (prev)
			fprintf(f, " %11.1f",
				rate(s->worker[i].assigned,
				     prev->worker[i].assigned, s, prev));
		fputc('\n', f);
	}
	fprintf(f, "\n%-28s %12s %12s\n", "outcome", "count", "verdict");
	for (i = 0; i < LB_R_MAX; i++)
		fprintf(f, "%-28s %12llu %12s\n", stats__reason_name(i),
			(unsigned long long)s->reasons[i],
			stats__reason_verdict(i));
}

int stats__print_json(FILE *f, const struct stats *s, const struct stats *prev)
{
	json_t *root = json_object(), *vips = json_array(),
	       *workers = json_array(), *reasons = json_object(), *o;
	static const struct lb_counters zero;
	char name[VIP_TEXT_MAX];
	const struct lb_counters *p;
	size_t c;
	int i, err;

	for (i = 0; i < s->nvips; i++) {
		vip__format(&s->vips[i].key, name, sizeof(name));
		p = prev_vip(prev, &s->vips[i].key) ?: &zero;
		o = json_pack("{s:s, s:i}", "vip", name, "index",
			      (int)s->vips[i].meta.index);
		for (c = 0; c < NCOUNTERS; c++)
			json_object_set_new(o, counters[c].name,
					    json_integer((json_int_t)counter(
						    &s->vip[i], c)));
		if (prev)
			json_object_set_new(
				o, "conn_per_s",
				json_real(rate(s->vip[i].assigned, p->assigned,
					       s, prev)));
		json_array_append_new(vips, o);
	}
	for (i = 0; i < LB_MAX_WORKERS; i++) {
		if (!s->worker[i].assigned && !s->worker[i].cookies_ok)
			continue;
		o = json_pack("{s:i, s:I, s:I}", "worker", i, "assigned",
			      (json_int_t)s->worker[i].assigned, "cookies_ok",
			      (json_int_t)s->worker[i].cookies_ok);
		if (prev)
			json_object_set_new(
				o, "conn_per_s",
				json_real(rate(s->worker[i].assigned,
					       prev->worker[i].assigned, s,
					       prev)));
		json_array_append_new(workers, o);
	}
	for (i = 0; i < LB_R_MAX; i++)
		json_object_set_new(reasons, stats__reason_name(i),
				    json_integer(s->reasons[i]));
	json_object_set_new(root, "vips", vips);
	json_object_set_new(root, "workers", workers);
	json_object_set_new(root, "outcomes", reasons);
	err = json_dumpf(root, f, JSON_INDENT(2) | JSON_SORT_KEYS);
	fputc('\n', f);
	json_decref(root);
	return err ? -EIO : 0;
}

void stats__print_prometheus(FILE *f, const struct stats *s)
{
	char name[VIP_TEXT_MAX];
	size_t c;
	int i;

	for (c = 0; c < NCOUNTERS; c++) {
		fprintf(f,
			"# HELP lb_vip_%s_total %s\n"
			"# TYPE lb_vip_%s_total counter\n",
			counters[c].name, counters[c].help, counters[c].name);
		for (i = 0; i < s->nvips; i++) {
			vip__format(&s->vips[i].key, name, sizeof(name));
			fprintf(f, "lb_vip_%s_total{vip=\"%s\"} %llu\n",
				counters[c].name, name,
				(unsigned long long)counter(&s->vip[i], c));
		}
	}
	fprintf(f,
		"# HELP lb_worker_assigned_total Connections handed to the worker.\n"
		"# TYPE lb_worker_assigned_total counter\n");
	for (i = 0; i < LB_MAX_WORKERS; i++)
		if (s->worker[i].assigned || s->worker[i].cookies_ok)
			fprintf(f,
				"lb_worker_assigned_total{worker=\"%d\"} %llu\n",
				i,
				(unsigned long long)(s->worker[i].assigned +
						     s->worker[i].cookies_ok));
	fprintf(f, "# HELP lb_outcomes_total Packets and lookups by outcome.\n"
		   "# TYPE lb_outcomes_total counter\n");
	for (i = 0; i < LB_R_MAX; i++)
		fprintf(f,
			"lb_outcomes_total{outcome=\"%s\",verdict=\"%s\"} %llu\n",
			stats__reason_name(i), stats__reason_verdict(i),
			(unsigned long long)s->reasons[i]);
}
