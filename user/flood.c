// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "flood.h"

#define FLOOD_HOLD_MAX_MS 3600000u /* an hour */

void flood__defaults(struct flood_settings *s)
{
	*s = (struct flood_settings){
		.flags = LB_CF_FLOOD | LB_CF_COOKIES,
		.syn_rate = LB_FLOOD_SYN_RATE_DEFAULT,
		.hold_ms = LB_FLOOD_HOLD_MS_DEFAULT,
		.src_rate = LB_SRC_RATE_DEFAULT,
		.src_burst = LB_SRC_BURST_DEFAULT,
		.v4_prefix = 24,
		.v6_prefix = 64,
	};
}

int flood__parse_bool(const char *text, int *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcasecmp(text, yes[i])) {
			*out = 1;
			return 0;
		}
		if (!strcasecmp(text, no[i])) {
			*out = 0;
			return 0;
		}
	}
	return -EINVAL;
}

int flood__parse_duration(const char *text, __u32 min_ms, __u32 max_ms,
			  __u32 *out)
{
	unsigned long long v, mul;
	char *end;

	if (!*text || *text < '0' || *text > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno)
		return -EINVAL;
	if (!strcmp(end, "ms"))
		mul = 1;
	else if (!strcmp(end, "s"))
		mul = 1000;
	else if (!strcmp(end, "m"))
		mul = 60000;
	else
		return -EINVAL;
	if (v > max_ms || v * mul < min_ms || v * mul > max_ms)
		return -EINVAL;
	*out = v * mul;
	return 0;
}

static int flood__parse_u32(const char *text, __u32 min, __u32 max,
			    __u32 *out)
{
	unsigned long v;
	char *end;

	if (!*text || *text < '0' || *text > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(text, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static void flood__set_flag(struct flood_settings *s, __u32 flag, int on)
{
	s->flags = on ? s->flags | flag : s->flags & ~flag;
}

int flood__set_key(struct flood_settings *s, const char *key,
		   const char *value, char *why, size_t len)
{
	static const struct {
		const char *key;
		__u32 min, max;
	} nums[] = {
		{ "syn_rate", 1, 100000000 },  { "source_rate", 0, 1000000 },
		{ "source_burst", 1, 1000000 }, { "v4_prefix", 1, 32 },
		{ "v6_prefix", 1, 128 },
	};
	__u32 v;
	size_t i;
	int on;

	if (!strcmp(key, "enabled") || !strcmp(key, "cookies")) {
		if (flood__parse_bool(value, &on)) {
			snprintf(why, len, "'%s' expects true or false, not '%s'",
				 key, value);
			return -EINVAL;
		}
		flood__set_flag(s, key[0] == 'e' ? LB_CF_FLOOD : LB_CF_COOKIES,
				on);
		return 0;
	}
	if (!strcmp(key, "hold")) {
		if (flood__parse_duration(value, 1, FLOOD_HOLD_MAX_MS,
					  &s->hold_ms)) {
			snprintf(why, len,
				 "'hold' expects a duration from 1ms to 60m such as 500ms, 2s or 1m, not '%s'",
				 value);
			return -EINVAL;
		}
		return 0;
	}
	for (i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		if (strcmp(key, nums[i].key))
			continue;
		if (flood__parse_u32(value, nums[i].min, nums[i].max, &v)) {
			snprintf(why, len, "'%s' expects %u..%u, not '%s'", key,
				 nums[i].min, nums[i].max, value);
			return -EINVAL;
		}
		switch (i) {
		case 0:
			s->syn_rate = v;
			break;
		case 1:
			s->src_rate = v;
			break;
		case 2:
			s->src_burst = v;
			break;
		case 3:
			s->v4_prefix = v;
			break;
		default:
			s->v6_prefix = v;
		}
		return 0;
	}
	snprintf(why, len,
		 "unknown flood key '%s' (enabled, syn_rate, hold, cookies, source_rate, source_burst, v4_prefix, v6_prefix)",
		 key);
	return -ENOENT;
}

void flood__from_config(struct flood_settings *s, const struct lb_config *c)
{
	s->flags = c->flags & (LB_CF_FLOOD | LB_CF_COOKIES);
	s->syn_rate = c->flood_syn_rate;
	s->hold_ms = c->flood_hold_ms;
	s->src_rate = c->src_rate;
	s->src_burst = c->src_burst;
	s->v4_prefix = c->src_v4_prefix;
	s->v6_prefix = c->src_v6_prefix;
}

void flood__to_config(const struct flood_settings *s, struct lb_config *c)
{
	c->flags = (c->flags & ~(LB_CF_FLOOD | LB_CF_COOKIES)) | s->flags;
	c->flood_syn_rate = s->syn_rate;
	c->flood_hold_ms = s->hold_ms;
	c->src_rate = s->src_rate;
	c->src_burst = s->src_burst;
	c->src_v4_prefix = s->v4_prefix;
	c->src_v6_prefix = s->v6_prefix;
}

int flood__read(const struct dataplane *dp, struct flood_settings *s)
{
	struct lb_config cfg;

	if (bpf_map_lookup_elem(dp->fds[DP_CONFIG], &(__u32){ 0 }, &cfg))
		return -errno;
	flood__from_config(s, &cfg);
	return 0;
}

int flood__apply(struct dataplane *dp, const struct flood_settings *s)
{
	struct lb_config cfg, next;

	if (bpf_map_lookup_elem(dp->fds[DP_CONFIG], &(__u32){ 0 }, &cfg))
		return -errno;
	next = cfg;
	flood__to_config(s, &next);
	if (!memcmp(&next, &cfg, sizeof(cfg))) {
		dp->cfg = cfg;
		return 0;
	}
	if (bpf_map_update_elem(dp->fds[DP_CONFIG], &(__u32){ 0 }, &next,
				BPF_ANY))
		return -errno;
	dp->cfg = next;
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
	if (bpf_map_lookup_elem(dp->fds[DP_FLOOD], &(__u32){ 0 }, f)) {
		n = -errno;
	} else {
		for (i = 0; i < ncpu; i++)
			n += f[i].flood_until > now;
	}
	free(f);
	return n;
}

static void flood__format_ms(__u32 ms, char *buf, size_t len)
{
	if (ms % 60000 == 0)
		snprintf(buf, len, "%um", ms / 60000);
	else if (ms % 1000 == 0)
		snprintf(buf, len, "%us", ms / 1000);
	else
		snprintf(buf, len, "%ums", ms);
}

void flood__print(FILE *f, const struct flood_settings *s)
{
	char hold[32];

	flood__format_ms(s->hold_ms, hold, sizeof(hold));
	fprintf(f,
		"enabled       %s\n"
		"syn_rate      %u\n"
		"hold          %s\n"
		"cookies       %s\n"
		"source_rate   %u\n"
		"source_burst  %u\n"
		"v4_prefix     %u\n"
		"v6_prefix     %u\n",
		s->flags & LB_CF_FLOOD ? "true" : "false", s->syn_rate, hold,
		s->flags & LB_CF_COOKIES ? "true" : "false", s->src_rate,
		s->src_burst, s->v4_prefix, s->v6_prefix);
}

void flood__summary(const struct flood_settings *s, char *buf, size_t len)
{
	char hold[32];

	flood__format_ms(s->hold_ms, hold, sizeof(hold));
	if (!(s->flags & LB_CF_FLOOD)) {
		snprintf(buf, len, "off");
		return;
	}
	snprintf(buf, len,
		 "on, cookies %s: flood mode over %u SYNs/s per CPU, held %s; per source /%u, /%u: %u/s, burst %u",
		 s->flags & LB_CF_COOKIES ? "on" : "off", s->syn_rate, hold,
		 s->v4_prefix, s->v6_prefix, s->src_rate, s->src_burst);
}
