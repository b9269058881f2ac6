// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Selection algorithms. Round-robin is nginx's smooth weighted round-robin
 * (ngx_http_upstream_get_peer): each pick adds every weight to its server's
 * current weight, takes the largest and subtracts the total from it, which
 * spreads a heavy server's turns out (5:1:1 gives a a b a c a a).
 */
#include <errno.h>
#include <string.h>
#include <netinet/in.h>

#include "upstream.h"

#define IP_HASH_TRIES 20

int upstream__init(struct upstream *u, const struct cfg_upstream *c,
		   uint64_t seed)
{
	unsigned i;

	memset(u, 0, sizeof(*u));
	for (i = 0; i < c->nservers; i++) {
		struct upstream_server *s = &u->servers[i];

		memcpy(s->name, c->servers[i].name, sizeof(s->name));
		s->ss = c->servers[i].ss;
		s->len = c->servers[i].len;
		s->weight = c->servers[i].weight;
	}
	u->n = c->nservers;
	u->algo = c->algo;
	u->max_fails = c->max_fails;
	u->fail_timeout = c->fail_timeout_ms;
	u->keepalive = c->keepalive;
	u->max_conns = c->max_conns;
	u->rng = seed ? seed : 0x9e3779b97f4a7c15ULL;
	return u->n ? 0 : -EINVAL;
}

static bool in_set(const struct upstream_server *s,
		   const struct upstream_addr *set, unsigned n)
{
	unsigned j;

	for (j = 0; j < n; j++)
		if (!strcmp(s->name, set[j].name))
			return true;
	return false;
}

static void slot_fill(struct upstream_server *s, const struct upstream_addr *a)
{
	memset(s, 0, sizeof(*s));
	memcpy(s->name, a->name, sizeof(s->name));
	s->name[sizeof(s->name) - 1] = 0;
	s->ss = a->ss;
	s->len = a->len;
	s->weight = 1;
	s->dynamic = true;
}

static int find_slot(struct upstream *u, const struct upstream_addr *a,
		     const struct upstream_addr *set, unsigned n)
{
	unsigned i;

	for (i = 0; i < u->n; i++)
		if (u->servers[i].dynamic &&
		    !strcmp(u->servers[i].name, a->name))
			return i;
	if (u->n < CFG_MAX_SERVERS)
		return u->n++;
	for (i = 0; i < u->n; i++) {
		struct upstream_server *s = &u->servers[i];

		if (s->dynamic && s->removed && !s->active && !s->nidle &&
		    !in_set(s, set, n))
			return i;
	}
	return -1;
}

unsigned upstream__set(struct upstream *u, const struct upstream_addr *set,
		       unsigned n, uint64_t *gone)
{
	unsigned i, lost = 0;
	int k;

	*gone = 0;
	for (i = 0; i < u->n; i++) {
		struct upstream_server *s = &u->servers[i];

		if (s->dynamic && !s->removed && !in_set(s, set, n)) {
			s->removed = true;
			*gone |= 1ULL << i;
		}
	}
	for (i = 0; i < n; i++) {
		struct upstream_server *s;

		k = find_slot(u, &set[i], set, n);
		if (k < 0) {
			lost++;
			continue;
		}
		s = &u->servers[k];
		if (!s->dynamic || strcmp(s->name, set[i].name)) {
			slot_fill(s, &set[i]);
		} else if (s->removed) {
			/* back: a fresh start for its health state */
			s->removed = false;
			s->fails = 0;
			s->health_down = false;
			s->health_ok = s->health_bad = 0;
			s->current_weight = 0;
		}
	}
	return lost;
}

bool upstream__available(const struct upstream *u, unsigned i, uint64_t now)
{
	const struct upstream_server *s = &u->servers[i];

	if (s->health_down || s->removed)
		return false;
	return !(u->max_fails && s->fails >= u->max_fails &&
		 now - s->checked <= u->fail_timeout);
}

static bool eligible(const struct upstream *u, unsigned i, uint64_t now,
		     uint64_t tried)
{
	return !(tried & (1ULL << i)) && upstream__available(u, i, now);
}

/* Smooth WRR over the servers set in 'set'. */
static int pick_swrr(struct upstream *u, uint64_t set)
{
	int best = -1, total = 0;
	unsigned i;

	for (i = 0; i < u->n; i++) {
		struct upstream_server *s = &u->servers[i];

		if (!(set & (1ULL << i)))
			continue;
		s->current_weight += s->weight;
		total += s->weight;
		if (best < 0 ||
		    s->current_weight > u->servers[best].current_weight)
			best = i;
	}
	if (best >= 0)
		u->servers[best].current_weight -= total;
	return best;
}

/* a has fewer requests per unit of weight than b */
static int load_cmp(const struct upstream_server *a,
		    const struct upstream_server *b)
{
	uint64_t la = (uint64_t)a->active * b->weight;
	uint64_t lb = (uint64_t)b->active * a->weight;

	return la < lb ? -1 : la > lb;
}

static int pick_least_conn(struct upstream *u, uint64_t set)
{
	uint64_t ties = 0;
	int best = -1;
	unsigned i;

	for (i = 0; i < u->n; i++) {
		if (!(set & (1ULL << i)))
			continue;
		if (best < 0 ||
		    load_cmp(&u->servers[i], &u->servers[best]) < 0) {
			best = i;
			ties = 1ULL << i;
		} else if (!load_cmp(&u->servers[i], &u->servers[best])) {
			ties |= 1ULL << i;
		}
	}
	/* nginx breaks ties with weighted round-robin among the tied. */
	return best < 0 ? -1 : pick_swrr(u, ties);
}

static uint64_t rnd(struct upstream *u)
{
	u->rng ^= u->rng >> 12;
	u->rng ^= u->rng << 25;
	u->rng ^= u->rng >> 27;
	return u->rng * 0x2545f4914f6cdd1dULL;
}

static int pick_weighted_random(struct upstream *u, uint64_t set)
{
	uint64_t total = 0, r;
	unsigned i;

	for (i = 0; i < u->n; i++)
		if (set & (1ULL << i))
			total += u->servers[i].weight;
	if (!total)
		return -1;
	r = rnd(u) % total;
	for (i = 0; i < u->n; i++) {
		if (!(set & (1ULL << i)))
			continue;
		if (r < (uint64_t)u->servers[i].weight)
			return i;
		r -= u->servers[i].weight;
	}
	return -1;
}

/* Power of two choices: two weighted draws, the less loaded wins. */
static int pick_random_two(struct upstream *u, uint64_t set)
{
	int a = pick_weighted_random(u, set), b;

	if (a < 0)
		return -1;
	b = pick_weighted_random(u, set & ~(1ULL << a));
	if (b < 0)
		return a;
	return load_cmp(&u->servers[b], &u->servers[a]) < 0 ? b : a;
}

static uint64_t fnv1a(uint64_t h, const void *p, size_t len)
{
	const unsigned char *c = p;

	while (len--)
		h = (h ^ *c++) * 0x100000001b3ULL;
	return h;
}

/*
 * Hash the whole client address onto the weighted list of all servers, so a
 * client's server does not move when another server goes down; when the
 * hashed one is unusable, rehash (nginx's ip_hash does the same, 20 tries).
 */
static int pick_ip_hash(struct upstream *u, const struct sockaddr *client,
			uint64_t set)
{
	uint64_t h = 0xcbf29ce484222325ULL, total = 0, w;
	unsigned i, tries;

	if (client && client->sa_family == AF_INET)
		h = fnv1a(h, &((const struct sockaddr_in *)client)->sin_addr,
			  4);
	else if (client && client->sa_family == AF_INET6)
		h = fnv1a(h, &((const struct sockaddr_in6 *)client)->sin6_addr,
			  16);
	for (i = 0; i < u->n; i++)
		total += u->servers[i].weight;
	for (tries = 0; tries < IP_HASH_TRIES; tries++) {
		w = h % total;
		for (i = 0; i < u->n; i++) {
			if (w < (uint64_t)u->servers[i].weight)
				break;
			w -= u->servers[i].weight;
		}
		if (set & (1ULL << i))
			return i;
		h = fnv1a(h, &tries, sizeof(tries));
	}
	return pick_swrr(u, set);
}

int upstream__pick(struct upstream *u, const struct sockaddr *client,
		   uint64_t now, uint64_t tried)
{
	uint64_t set = 0, full = 0;
	unsigned i;
	int pick;

	for (i = 0; i < u->n; i++) {
		if (!eligible(u, i, now, tried))
			continue;
		if (u->max_conns && u->servers[i].active >= u->max_conns)
			full |= 1ULL << i;
		else
			set |= 1ULL << i;
	}
	if (!set)
		return full ? -EBUSY : -EHOSTUNREACH;
	switch (u->algo) {
	case LB_LEAST_CONN:
		pick = pick_least_conn(u, set);
		break;
	case LB_IP_HASH:
		pick = pick_ip_hash(u, client, set);
		break;
	case LB_RANDOM_TWO:
		pick = pick_random_two(u, set);
		break;
	default:
		pick = pick_swrr(u, set);
		break;
	}
	if (pick < 0)
		return -EHOSTUNREACH;
	/* A server past fail_timeout gets one probe request per period. */
	if (u->max_fails && u->servers[pick].fails >= u->max_fails)
		u->servers[pick].checked = now;
	return pick;
}

void upstream__fail(struct upstream *u, unsigned i, uint64_t now)
{
	struct upstream_server *s = &u->servers[i];

	s->fails++;
	s->checked = now;
}

void upstream__success(struct upstream *u, unsigned i)
{
	u->servers[i].fails = 0;
}

int upstream__health_result(struct upstream *u, unsigned i, bool ok,
			    unsigned rise, unsigned fall)
{
	struct upstream_server *s = &u->servers[i];

	if (ok) {
		s->health_bad = 0;
		if (++s->health_ok >= rise && s->health_down) {
			s->health_down = false;
			s->fails = 0;
			return 1;
		}
	} else {
		s->health_ok = 0;
		if (++s->health_bad >= fall && !s->health_down) {
			s->health_down = true;
			return -1;
		}
	}
	return 0;
}
