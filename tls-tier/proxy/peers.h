/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Open client connections per client address, in one worker: what
 * limits.per_client_connections (nginx's limit_conn on $binary_remote_addr)
 * counts. A chained hash table keyed by the address (IPv4 as v4-mapped
 * IPv6; IPv6 cut to a prefix, since one host has a /64 to pick addresses
 * from), with a per-process random key so that a client cannot choose
 * addresses that all land in one chain.
 */
#ifndef LBTLS_PEERS_H
#define LBTLS_PEERS_H

#include <sys/socket.h>

struct peer_counts;

/* v6_prefix: how many leading bits of an IPv6 address name a client. */
struct peer_counts *peers__new(unsigned v6_prefix);
void peers__free(struct peer_counts *pc);

/* One more connection from 'ss': 0, -EBUSY when it already has 'limit'
 * (nothing counted then), -ENOMEM. */
int peers__add(struct peer_counts *pc, const struct sockaddr_storage *ss,
	       unsigned limit);

/* That connection closed. */
void peers__del(struct peer_counts *pc, const struct sockaddr_storage *ss);

/* Connections open from 'ss' now. */
unsigned peers__count(const struct peer_counts *pc,
		      const struct sockaddr_storage *ss);

#endif /* LBTLS_PEERS_H */
