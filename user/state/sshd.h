/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Is an SSH daemon listening on an address? Asked before an address is made
 * exclusive (issue 20): XDP would then drop every new connection to a port
 * the balancer does not serve, the operator's own SSH session included.
 */
#ifndef LB_SSHD_H
#define LB_SSHD_H

#include <sys/types.h>
#include "lb_kern_user.h"

struct sshd_listener {
	char addr[48]; /* the socket's local address as bound: "0.0.0.0" */
	__u16 port;
	pid_t pid; /* 0: owner not found (another PID namespace) */
	char comm[16]; /* "" when pid is 0 */
};

/*
 * A TCP listener in the current network namespace bound to addr or to the
 * wildcard (for IPv4, also [::] of a dual-stack socket) that listens on
 * port 22 or belongs to a process whose name starts with "sshd". Returns
 * 1 with *out filled, 0 if there is none, or -errno.
 */
int sshd__find(const struct lb_addr *addr, __u8 family,
	       struct sshd_listener *out);
/* "sshd (pid 812) listens on 0.0.0.0:22" */
void sshd__describe(const struct sshd_listener *l, char *buf, size_t len);

#endif /* LB_SSHD_H */
