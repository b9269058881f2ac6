// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include "stats.h"

static const char *const reason_names[LB_R_MAX] = {
	[LB_R_SYN_STEERED] = "syn_steered",
	[LB_R_NO_WORKER] = "no_worker",
	[LB_R_BAD_WORKER] = "bad_worker",
	[LB_R_FLOW_FULL] = "flow_full",
	[LB_R_FRAGMENT] = "fragment",
	[LB_R_L2_TRUNC] = "l2_trunc",
	[LB_R_IP6_EXT_LIMIT] = "ip6_ext_limit",
	[LB_R_UNSUPPORTED] = "unsupported",
	[LB_R_IP4_BAD] = "ip4_bad",
	[LB_R_IP4_TRUNC] = "ip4_trunc",
	[LB_R_IP6_BAD] = "ip6_bad",
	[LB_R_IP6_TRUNC] = "ip6_trunc",
	[LB_R_TCP_TRUNC] = "tcp_trunc",
	[LB_R_TCP_BAD_DOFF] = "tcp_bad_doff",
	[LB_R_SK_FLOW] = "sk_flow",
	[LB_R_SK_COMPUTED] = "sk_computed",
	[LB_R_SK_NO_WORKER] = "sk_no_worker",
	[LB_R_SK_NO_SOCKET] = "sk_no_socket",
	[LB_R_SK_ASSIGN_FAIL] = "sk_assign_fail",
	[LB_R_SK_FALLBACK] = "sk_fallback",
};

const char *stats__reason_name(__u32 reason)
{
	return reason < LB_R_MAX && reason_names[reason] ?
		       reason_names[reason] :
		       "unknown";
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
	int i;

	fprintf(f, "%-28s %12s %12s%s\n", "vip", "new_conns", "assigned",
		prev ? "      conn/s" : "");
	for (i = 0; i < s->nvips; i++) {
		vip__format(&s->vips[i].key, name, sizeof(name));
		p = prev_vip(prev, &s->vips[i].key) ?: &zero;
		fprintf(f, "%-28s %12llu %12llu", name,
			(unsigned long long)s->vip[i].syns,
			(unsigned long long)s->vip[i].assigned);
		if (prev)
			fprintf(f, " %11.1f",
				rate(s->vip[i].assigned, p->assigned, s, prev));
		fputc('\n', f);
	}
	fprintf(f, "\n%-28s %12s %12s%s\n", "worker", "new_conns", "assigned",
		prev ? "      conn/s" : "");
	for (i = 0; i < LB_MAX_WORKERS; i++) {
		if (!s->worker[i].syns && !s->worker[i].assigned)
			continue;
		fprintf(f, "%-28d %12llu %12llu", i,
			(unsigned long long)s->worker[i].syns,
			(unsigned long long)s->worker[i].assigned);
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
			i >= LB_R_SK_FLOW    ? "sk_lookup" :
			LB_R_DROPS((__u32)i) ? "drop" :
					       "pass");
}

int stats__print_json(FILE *f, const struct stats *s, const struct stats *prev)
{
	json_t *root = json_object(), *vips = json_array(),
	       *workers = json_array(), *reasons = json_object(), *o;
	static const struct lb_counters zero;
	char name[VIP_TEXT_MAX];
	const struct lb_counters *p;
	int i, err;

	for (i = 0; i < s->nvips; i++) {
		vip__format(&s->vips[i].key, name, sizeof(name));
		p = prev_vip(prev, &s->vips[i].key) ?: &zero;
		o = json_pack("{s:s, s:i, s:I, s:I}", "vip", name, "index",
			      (int)s->vips[i].meta.index, "new_conns",
			      (json_int_t)s->vip[i].syns, "assigned",
			      (json_int_t)s->vip[i].assigned);
		if (prev)
			json_object_set_new(
				o, "conn_per_s",
				json_real(rate(s->vip[i].assigned, p->assigned,
					       s, prev)));
		json_array_append_new(vips, o);
	}
	for (i = 0; i < LB_MAX_WORKERS; i++) {
		if (!s->worker[i].syns && !s->worker[i].assigned)
			continue;
		o = json_pack("{s:i, s:I, s:I}", "worker", i, "new_conns",
			      (json_int_t)s->worker[i].syns, "assigned",
			      (json_int_t)s->worker[i].assigned);
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
	int i;

	fprintf(f,
		"# HELP lb_vip_new_connections_total SYNs to the VIP steered by XDP.\n"
		"# TYPE lb_vip_new_connections_total counter\n");
	for (i = 0; i < s->nvips; i++) {
		vip__format(&s->vips[i].key, name, sizeof(name));
		fprintf(f, "lb_vip_new_connections_total{vip=\"%s\"} %llu\n",
			name, (unsigned long long)s->vip[i].syns);
	}
	fprintf(f,
		"# HELP lb_vip_assigned_total Connections handed to a worker socket by sk_lookup.\n"
		"# TYPE lb_vip_assigned_total counter\n");
	for (i = 0; i < s->nvips; i++) {
		vip__format(&s->vips[i].key, name, sizeof(name));
		fprintf(f, "lb_vip_assigned_total{vip=\"%s\"} %llu\n", name,
			(unsigned long long)s->vip[i].assigned);
	}
	fprintf(f,
		"# HELP lb_worker_assigned_total Connections handed to the worker.\n"
		"# TYPE lb_worker_assigned_total counter\n");
	for (i = 0; i < LB_MAX_WORKERS; i++)
		if (s->worker[i].syns || s->worker[i].assigned)
			fprintf(f,
				"lb_worker_assigned_total{worker=\"%d\"} %llu\n",
				i, (unsigned long long)s->worker[i].assigned);
	fprintf(f, "# HELP lb_outcomes_total Packets and lookups by outcome.\n"
		   "# TYPE lb_outcomes_total counter\n");
	for (i = 0; i < LB_R_MAX; i++)
		fprintf(f,
			"lb_outcomes_total{outcome=\"%s\",verdict=\"%s\"} %llu\n",
			stats__reason_name(i),
			i >= LB_R_SK_FLOW    ? "sk_lookup" :
			LB_R_DROPS((__u32)i) ? "drop" :
					       "pass",
			(unsigned long long)s->reasons[i]);
}
