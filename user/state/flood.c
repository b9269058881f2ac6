// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "flood.h"

static const struct flood_key {
	const char *name;
	__u32 min, max; /* max 1 and min 0: a boolean */
	size_t off;
} flood_keys[] = {
#define FK(name, min, max)                                             \
	{                                                              \
#name, min, max, offsetof(struct flood_settings, name) \
	}
	FK(enabled, 0, 1),	    FK(cookies, 0, 1),
	FK(syn_rate, 1, 100000000), FK(hold_ms, 1, 3600000),
	FK(src_rate, 0, 1000000),   FK(src_burst, 1, 1000000),
	FK(v4_prefix, 1, 32),	    FK(v6_prefix, 1, 128),
#undef FK
};

#define FLOOD_NKEYS (sizeof(flood_keys) / sizeof(flood_keys[0]))

void flood__defaults(struct flood_settings *s)
{
	*s = (struct flood_settings){
		.enabled = 1,
		.cookies = 1,
		.syn_rate = LB_FLOOD_SYN_RATE_DEFAULT,
		.hold_ms = LB_FLOOD_HOLD_MS_DEFAULT,
		.src_rate = LB_SRC_RATE_DEFAULT,
		.src_burst = LB_SRC_BURST_DEFAULT,
		.v4_prefix = 24,
		.v6_prefix = 64,
	};
}

static int flood__parse(const struct flood_key *k, const char *text, __u32 *out)
{
	static const char *const words[] = { "false", "true", "no",
					     "yes",   "off",  "on" };
	unsigned long v;
	char *end;
	size_t i;

	if (k->max == 1) {
		for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
			if (!strcmp(text, words[i])) {
				*out = i % 2;
				return 0;
			}
		return -EINVAL;
	}
	if (*text < '0' || *text > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(text, &end, 10);
	if (errno || *end || v < k->min || v > k->max)
		return -EINVAL;
	*out = v;
	return 0;
}

int flood__set_key(struct flood_settings *s, const char *key, const char *value,
		   char *why, size_t len)
{
	const struct flood_key *k;

	for (k = flood_keys; k < flood_keys + FLOOD_NKEYS; k++) {
		if (strcmp(key, k->name))
			continue;
		if (!flood__parse(k, value, (__u32 *)((char *)s + k->off)))
			return 0;
		if (k->max == 1)
			snprintf(why, len,
				 "'%s' expects true or false, not '%s'", key,
				 value);
		else
			snprintf(why, len, "'%s' expects %u..%u, not '%s'", key,
				 k->min, k->max, value);
		return -EINVAL;
	}
	snprintf(
		why, len,
		"unknown flood key '%s' (enabled, cookies, syn_rate, hold_ms, src_rate, src_burst, v4_prefix, v6_prefix)",
		key);
	return -ENOENT;
}

void flood__from_config(struct flood_settings *s, const struct lb_config *c)
{
	s->enabled = !!(c->flags & LB_CF_FLOOD);
	s->cookies = !!(c->flags & LB_CF_COOKIES);
	s->syn_rate = c->flood_syn_rate;
	s->hold_ms = c->flood_hold_ms;
	s->src_rate = c->src_rate;
	s->src_burst = c->src_burst;
	s->v4_prefix = c->src_v4_prefix;
	s->v6_prefix = c->src_v6_prefix;
}

int flood__apply(struct dataplane *dp, const struct flood_settings *s)
{
	struct lb_config cfg, next;

	if (bpf_map_lookup_elem(dp->fds[DP_CONFIG], &(__u32){ 0 }, &cfg))
		return -errno;
	next = cfg;
	next.flags &= ~(LB_CF_FLOOD | LB_CF_COOKIES);
	next.flags |= (s->enabled ? LB_CF_FLOOD : 0) |
		      (s->cookies ? LB_CF_COOKIES : 0);
	next.flood_syn_rate = s->syn_rate;
	next.flood_hold_ms = s->hold_ms;
	next.src_rate = s->src_rate;
	next.src_burst = s->src_burst;
	next.src_v4_prefix = s->v4_prefix;
	next.src_v6_prefix = s->v6_prefix;
	dp->cfg = next;
	if (!memcmp(&next, &cfg, sizeof(cfg)))
		return 0;
	if (bpf_map_update_elem(dp->fds[DP_CONFIG], &(__u32){ 0 }, &next,
				BPF_ANY))
		return -errno;
	return 1;
}

int flood__cpus_flooded(const struct dataplane *dp)
{
	int ncpu = libbpf_num_possible_cpus(), i, n = 0;
	struct lb_flood *f;
	struct timespec ts;
	__u64 now;

	if (ncpu < 0)
		return ncpu;
	f = calloc(ncpu, sizeof(*f));
	if (!f)
		return -ENOMEM;
	/* bpf_ktime_get_coarse_ns() is CLOCK_MONOTONIC_COARSE */
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	now = ts.tv_sec * 1000000000ull + ts.tv_nsec;
	if (bpf_map_lookup_elem(dp->fds[DP_FLOOD], &(__u32){ 0 }, f))
		n = -errno;
	for (i = 0; n >= 0 && i < ncpu; i++)
		n += f[i].flood_until > now;
	free(f);
	return n;
}

void flood__print(FILE *f, const struct flood_settings *s)
{
	const struct flood_key *k;
	__u32 v;

	for (k = flood_keys; k < flood_keys + FLOOD_NKEYS; k++) {
		v = *(const __u32 *)((const char *)s + k->off);
		if (k->max == 1)
			fprintf(f, "%-10s %s\n", k->name, v ? "true" : "false");
		else
			fprintf(f, "%-10s %u\n", k->name, v);
	}
}
