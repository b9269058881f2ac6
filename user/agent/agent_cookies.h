/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * XDP SYN cookies against the host they run on (issue 20): the net.ipv4
 * sysctls of the instance's namespace (tcp_syncookies, tcp_timestamps,
 * tcp_sack, tcp_window_scaling; they govern IPv6 too), read at start and
 * on every agent tick (/proc/sys has no inotify), mirrored into lb_config
 * as LB_CF_NO_* so that the XDP SYN-ACK offers only what the kernel will
 * take; with tcp_syncookies=0 the agent refuses XDP cookies (the kernel
 * resets their ACKs). And, per interface, whether XDP_TX can deliver
 * (attach__cookie_check), checked again on the tick.
 */
#ifndef LB_AGENT_COOKIES_H
#define LB_AGENT_COOKIES_H

#include <stdio.h>
#include "agent_config.h"
#include "dataplane.h"
#include "instance.h"

#define AGENT_COOKIE_SYSCTLS 4

struct agent_cookies {
	int val[AGENT_COOKIE_SYSCTLS]; /* last read; -1: not readable */
	__u32 flags; /* LB_CF_NO_* as last written to lb_config */
	int synced; /* flags written at least once */
};

void agent_cookies__init(struct agent_cookies *c);
/* Read the sysctls; on a change, write the LB_CF_NO_* bits of lb_config
 * (instance lock taken here) and log each sysctl that limits cookies.
 * Returns 1 if lb_config changed, 0 if not, or -errno. */
int agent_cookies__sync(struct agent_cookies *c, struct instance *in,
			struct dataplane *dp);
/* Each configured interface: can its cookie SYN-ACKs leave? */
void agent_cookies__check_ifaces(struct instance *in,
				 const struct agent_config *cfg);
/* lb_cookies_enabled{interface,reason} per interface of the config and
 * lb_cookie_sysctl{name} per sysctl, Prometheus text. */
void agent_cookies__metrics(const struct agent_cookies *c,
			    const struct instance *in,
			    const struct agent_config *cfg,
			    const struct dataplane *dp, FILE *f);

#endif /* LB_AGENT_COOKIES_H */
