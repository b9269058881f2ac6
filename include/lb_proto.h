/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Worker registration with the lbctl agent (DESIGN.md D3).
 *
 * A worker connects a SOCK_SEQPACKET unix socket to the agent (default
 * /run/lbctl/<instance>.sock) and sends one struct lb_register with its
 * listening sockets attached as SCM_RIGHTS, in the order of listener[] and
 * family[]. Each is a listening TCP socket of the family it is sent for
 * (the agent checks), bound to loopback so that nothing reaches it but the
 * connections to a VIP that sk_lookup steers there. The agent answers one
 * struct lb_register_reply. The connection then stays open
 * and idle: when it closes (the worker exited or died) the agent takes the
 * worker out of every ring at once. When the agent restarts, workers connect
 * again and send the same message; traffic keeps flowing meanwhile from the
 * pinned maps. An id is its registering peer's while that connection lives;
 * a registration for a held id replaces it only from the same uid with one
 * of the holder's very sockets (a reloaded worker while its predecessor
 * drains), and only the newest connection's close takes the worker out.
 * A connection must register within 2 s. Workers need no BPF privileges.
 */
#ifndef LB_PROTO_H
#define LB_PROTO_H

#include <linux/types.h>
#include "lb_kern_user.h"

#define LB_PROTO_MAGIC 0x4c42524du /* "LBRM" */
#define LB_PROTO_VERSION 2 /* 2: family[] (listeners per family) */

struct lb_register {
	__u32 magic;
	__u16 version;
	__u16 nfds; /* 1..LB_MAX_LISTENERS sockets attached */
	__u32 worker; /* id, < LB_MAX_WORKERS, unique among live workers */
	__u32 weight; /* 1..LB_MAX_WEIGHT */
	__u8 listener[LB_MAX_LISTENERS]; /* enum lb_listener of each fd */
	__u8 family[LB_MAX_LISTENERS]; /* enum lb_family of each fd */
};

struct lb_register_reply {
	__u32 magic;
	__s32 status; /* 0, or a negative errno */
	char message[120]; /* why, when status != 0 */
};

#endif /* LB_PROTO_H */
