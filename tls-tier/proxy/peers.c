// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/random.h>

#include "peers.h"

#define NBUCKETS 4096 /* a power of two */

struct peer {
	struct peer *next;
	uint8_t addr[16];
	unsigned n;
};

struct peer_counts {
	uint64_t key[2];
	unsigned v6_prefix;
	struct peer *b[NBUCKETS];
};

static void key_of(const struct peer_counts *pc,
		   const struct sockaddr_storage *ss, uint8_t out[16])
{
	const struct in6_addr *a6 =
		&((const struct sockaddr_in6 *)ss)->sin6_addr;
	unsigned i, bits = pc->v6_prefix;

	if (ss->ss_family == AF_INET6) {
		memcpy(out, a6, 16);
		if (IN6_IS_ADDR_V4MAPPED(a6))
			return;
		for (i = 0; i<16; i++, bits = bits> 8 ? bits - 8 : 0)
			if (bits < 8)
				out[i] &= (uint8_t)(0xff00 >> bits);
		return;
	}
	memset(out, 0, 10);
	out[10] = out[11] = 0xff;
	memcpy(out + 12, &((const struct sockaddr_in *)ss)->sin_addr, 4);
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	return x ^ (x >> 33);
}

static struct peer **slot(struct peer_counts *pc, const uint8_t a[16])
{
	uint64_t lo, hi;

	memcpy(&lo, a, 8);
	memcpy(&hi, a + 8, 8);
	return &pc->b[mix(mix(lo ^ pc->key[0]) ^ hi ^ pc->key[1]) &
		      (NBUCKETS - 1)];
}

struct peer_counts *peers__new(unsigned v6_prefix)
{
	struct peer_counts *pc = calloc(1, sizeof(*pc));

	if (pc)
		pc->v6_prefix = v6_prefix;
	if (pc && getrandom(pc->key, sizeof(pc->key), 0) != sizeof(pc->key)) {
		free(pc);
		return NULL;
	}
	return pc;
}

void peers__free(struct peer_counts *pc)
{
	struct peer *p, *n;
	unsigned i;

	if (!pc)
		return;
	for (i = 0; i < NBUCKETS; i++)
		for (p = pc->b[i]; p; p = n) {
			n = p->next;
			free(p);
		}
	free(pc);
}

static struct peer *find(struct peer **head, const uint8_t a[16])
{
	struct peer *p;

	for (p = *head; p; p = p->next)
		if (!memcmp(p->addr, a, 16))
			return p;
	return NULL;
}

int peers__add(struct peer_counts *pc, const struct sockaddr_storage *ss,
	       unsigned limit)
{
	uint8_t a[16];
	struct peer **head, *p;

	key_of(pc, ss, a);
	head = slot(pc, a);
	p = find(head, a);
	if (p) {
		if (p->n >= limit)
			return -EBUSY;
		p->n++;
		return 0;
	}
	if (!limit)
		return -EBUSY;
	p = malloc(sizeof(*p));
	if (!p)
		return -ENOMEM;
	memcpy(p->addr, a, 16);
	p->n = 1;
	p->next = *head;
	*head = p;
	return 0;
}

void peers__del(struct peer_counts *pc, const struct sockaddr_storage *ss)
{
	uint8_t a[16];
	struct peer **pp, *p;

	key_of(pc, ss, a);
	for (pp = slot(pc, a); (p = *pp); pp = &p->next) {
		if (memcmp(p->addr, a, 16))
			continue;
		if (--p->n == 0) {
			*pp = p->next;
			free(p);
		}
		return;
	}
}

unsigned peers__count(const struct peer_counts *pc,
		      const struct sockaddr_storage *ss)
{
	uint8_t a[16];
	struct peer *p;

	key_of(pc, ss, a);
	p = find(slot((struct peer_counts *)pc, a), a);
	return p ? p->n : 0;
}
