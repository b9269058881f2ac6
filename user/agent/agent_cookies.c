// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "agent_cookies.h"
#include "attach.h"

/*
 * What bpf_sk_assign_tcp_reqsk() and the kernel do with each sysctl at 0
 * (net/core/filter.c, net/ipv4/syncookies.c, 6.9+): the kfunc returns
 * -EINVAL for attributes with tstamp_ok, sack_ok or wscale_ok set while
 * tcp_timestamps, tcp_sack or tcp_window_scaling is 0 (the tc program then
 * passes the ACK and the listener resets it); cookie_v4_check() and
 * cookie_v6_check() return before looking at the request socket while
 * tcp_syncookies is 0, so the listener resets every cookie ACK.
 */
static const struct cookie_sysctl {
	const char *name;
	__u32 flag; /* LB_CF_NO_*: set while the sysctl is 0 */
	const char *effect;
} sysctls[AGENT_COOKIE_SYSCTLS] = {
	{ "tcp_syncookies", LB_CF_NO_SYNCOOKIES,
	  "XDP SYN cookies refused: the kernel resets every cookie ACK" },
	{ "tcp_timestamps", LB_CF_NO_TS,
	  "cookie SYN-ACKs carry no timestamps, so no SACK or window scaling" },
	{ "tcp_sack", LB_CF_NO_SACK, "cookie SYN-ACKs offer no SACK" },
	{ "tcp_window_scaling", LB_CF_NO_WSCALE,
	  "cookie SYN-ACKs offer no window scaling" },
};

#define COOKIE_FLAGS \
	(LB_CF_NO_SYNCOOKIES | LB_CF_NO_TS | LB_CF_NO_SACK | LB_CF_NO_WSCALE)

static void log_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void log_msg(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "lbctl agent: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void agent_cookies__init(struct agent_cookies *c)
{
	memset(c, 0, sizeof(*c));
	memset(c->val, 0xff, sizeof(c->val)); /* -1: not read yet */
}

/* /proc/sys/net is the namespace of the task that opens it: the
 * instance's, which the agent entered (instance__enter_netns). */
static int cookie_sysctl_read(const char *name)
{
	char path[96], buf[32];
	FILE *f;
	int v = -1;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/%s", name);
	f = fopen(path, "re");
	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f))
		v = atoi(buf);
	fclose(f);
	return v;
}

static int cookie_flags_write(struct dataplane *dp, __u32 flags)
{
	struct lb_config cfg;

	if (bpf_map_lookup_elem(dp->fds[DP_CONFIG], &(__u32){ 0 }, &cfg))
		return -errno;
	if ((cfg.flags & COOKIE_FLAGS) == flags)
		return 0;
	cfg.flags = (cfg.flags & ~COOKIE_FLAGS) | flags;
	if (bpf_map_update_elem(dp->fds[DP_CONFIG], &(__u32){ 0 }, &cfg,
				BPF_ANY))
		return -errno;
	dp->cfg.flags = cfg.flags;
	return 1;
}

int agent_cookies__sync(struct agent_cookies *c, struct instance *in,
			struct dataplane *dp)
{
	__u32 flags = 0;
	int i, v, err;

	for (i = 0; i < AGENT_COOKIE_SYSCTLS; i++) {
		v = cookie_sysctl_read(sysctls[i].name);
		if (v == 0)
			flags |= sysctls[i].flag;
		if (v == c->val[i])
			continue;
		if (v < 0)
			log_msg("cannot read net.ipv4.%s; taking it as on",
				sysctls[i].name);
		else if (v == 0)
			log_msg("net.ipv4.%s=0: %s", sysctls[i].name,
				sysctls[i].effect);
		else if (c->val[i] == 0)
			log_msg("net.ipv4.%s=%d again", sysctls[i].name, v);
		c->val[i] = v;
	}
	if (c->synced && flags == c->flags)
		return 0;
	err = instance__lock(in);
	if (err)
		return err;
	err = cookie_flags_write(dp, flags);
	instance__unlock(in);
	if (err < 0) {
		log_msg("cannot write the sysctl flags to lb_config: %s",
			strerror(-err));
		return err;
	}
	c->flags = flags;
	c->synced = 1;
	return err;
}

void agent_cookies__check_ifaces(struct instance *in,
				 const struct agent_config *cfg)
{
	int j;

	for (j = 0; j < cfg->nifaces; j++)
		attach__cookie_check(in, cfg->ifaces[j].name);
}

void agent_cookies__metrics(const struct agent_cookies *c,
			    const struct instance *in,
			    const struct agent_config *cfg,
			    const struct dataplane *dp, FILE *f)
{
	const char *name, *why;
	int i, ifindex;

	fprintf(f,
		"# HELP lb_cookies_enabled XDP SYN cookies in flood mode on an interface of the config (1), or the reason they are off (0).\n"
		"# TYPE lb_cookies_enabled gauge\n");
	for (i = 0; i < cfg->nifaces; i++) {
		name = cfg->ifaces[i].name;
		ifindex = if_nametoindex(name);
		if (!ifindex)
			why = "no-such-interface";
		else if (!(dp->cfg.flags & LB_CF_COOKIES))
			why = "config";
		else if (dp->cfg.flags & LB_CF_NO_SYNCOOKIES)
			why = "net.ipv4.tcp_syncookies=0";
		else
			why = attach__cookie_off_name(
				attach__cookie_reason(in, ifindex));
		fprintf(f,
			"lb_cookies_enabled{interface=\"%s\",reason=\"%s\"} %d\n",
			name, why, !strcmp(why, "ok"));
	}
	fprintf(f,
		"# HELP lb_cookie_sysctl The namespace's net.ipv4 sysctls the cookie SYN-ACK follows, as last read (-1: unreadable).\n"
		"# TYPE lb_cookie_sysctl gauge\n");
	for (i = 0; i < AGENT_COOKIE_SYSCTLS; i++)
		fprintf(f, "lb_cookie_sysctl{name=\"net.ipv4.%s\"} %d\n",
			sysctls[i].name, c->val[i]);
}
