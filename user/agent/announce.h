/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The announce link of a balancer (docs/scaleout.md "Routing"): a dummy
 * interface BIRD's static route checks (check link); up while this host
 * should draw traffic, down otherwise.
 */
#ifndef LB_ANNOUNCE_H
#define LB_ANNOUNCE_H

/* Bring the link up or down in the current namespace: 0, -ENODEV when
 * there is no such interface, -errno. Unchanged flags are not written. */
int announce__set(const char *ifname, int up);

#endif /* LB_ANNOUNCE_H */
