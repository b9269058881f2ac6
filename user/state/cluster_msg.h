/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Membership announcements of scale-out (docs/scaleout.md "Membership"):
 * a fixed header, the sender's live workers, then HMAC-SHA256 over all of
 * it under the cluster key. Pure encode/decode: no sockets, no state but
 * what the caller keeps per peer (struct cluster_peer_seq).
 *
 * Wire format, network byte order:
 *   0  magic "LBCM"        4
 *   4  version (1)         1
 *   5  flags (CM_F_*)      1
 *   6  nworkers            2
 *   8  host id             4
 *  12  boot id             8
 *  20  sequence            8
 *  28  sender time, ms     8   (CLOCK_REALTIME)
 *  36  nworkers x { worker id 2, weight 2 }
 *  ..  HMAC-SHA256        32
 */
#ifndef LB_CLUSTER_MSG_H
#define LB_CLUSTER_MSG_H

#include <stddef.h>
#include <linux/types.h>
#include "lb_kern_user.h"

#define CM_MAGIC 0x4c42434du /* "LBCM" */
#define CM_VERSION 1
#define CM_F_DRAINING 0x1
#define CM_HDR_LEN 36
#define CM_MAC_LEN 32
#define CM_MAX_WORKERS LB_MAX_WORKERS
#define CM_MIN_LEN (CM_HDR_LEN + CM_MAC_LEN)
#define CM_MAX_LEN (CM_HDR_LEN + 4 * CM_MAX_WORKERS + CM_MAC_LEN)
#define CM_KEY_MIN 32
#define CM_TIME_WINDOW_MS 30000

struct cm_worker {
	__u16 id;
	__u16 weight;
};

struct cluster_msg {
	__u8 flags;
	__u32 host;
	__u64 boot;
	__u64 seq;
	__u64 time_ms;
	__u16 nworkers;
	struct cm_worker workers[CM_MAX_WORKERS];
};

/* Why a datagram was dropped; the agent counts each. */
enum cm_reason {
	CM_OK = 0,
	CM_R_SIZE, /* shorter than a header + MAC, or longer than the max */
	CM_R_MAC, /* HMAC does not verify under the key */
	CM_R_VERSION, /* magic or version unknown (after the MAC) */
	CM_R_WORKERS, /* worker count disagrees with the length, too many,
			 an id out of range or twice */
	CM_R_HOST, /* host id not in the description, or our own */
	CM_R_SOURCE, /* source address is not the claimed host's */
	CM_R_REPLAY, /* sequence not above the last of the same boot */
	CM_R_OLD_BOOT, /* a boot id whose time is not after the last one's */
	CM_R_TIME, /* sender time more than 30 s from ours */
	CM_R_COUNT,
};

const char *cluster_msg__reason_name(enum cm_reason r);

/* Encode m and its MAC into buf; returns the length, or -ENOSPC/-EINVAL. */
int cluster_msg__encode(const struct cluster_msg *m, const __u8 *key,
			size_t keylen, __u8 *buf, size_t len);

/* Size first, then the MAC (constant time), then the fields. CM_OK and m
 * filled, or the reason. */
enum cm_reason cluster_msg__decode(const __u8 *buf, size_t len, const __u8 *key,
				   size_t keylen, struct cluster_msg *m);

/* What a receiver remembers of one peer for the replay checks. */
struct cluster_peer_seq {
	int known;
	__u64 boot;
	__u64 seq;
	__u64 time_ms; /* sender time of the last accepted message */
};

/* Replay and time checks of a decoded message against what was seen of
 * its sender and our wall clock; on CM_OK, *s is updated. */
enum cm_reason cluster_msg__check_fresh(struct cluster_peer_seq *s,
					const struct cluster_msg *m,
					__u64 now_ms);

#endif /* LB_CLUSTER_MSG_H */
