/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The client hash that picks a ring slot. XDP, sk_lookup and user space
 * (lbctl, tests) all include this one definition, so the pick never differs
 * between them. Bob Jenkins' lookup3 final mix over the four address words,
 * as the kernel's jhash2() does.
 */
#ifndef LB_HASH_KERN_USER_H
#define LB_HASH_KERN_USER_H

#include <linux/types.h>
#include "lb_kern_user.h"

#ifndef LB_INLINE
#define LB_INLINE static inline __attribute__((always_inline))
#endif

#define LB_JHASH_INITVAL 0xdeadbeefu

LB_INLINE __u32 lb_rol32(__u32 w, unsigned int s)
{
	return (w << s) | (w >> (32 - s));
}

LB_INLINE __u32 lb_be32(__u32 host)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return __builtin_bswap32(host);
#else
	return host;
#endif
}

/* jhash2() of four 32-bit words. */
LB_INLINE __u32 lb_jhash4(const __u32 k[4], __u32 seed)
{
	__u32 a, b, c;

	/* the mix reads best as lookup3 prints it */
	/* clang-format off */
	a = b = c = LB_JHASH_INITVAL + (4 << 2) + seed;
	a += k[0];
	b += k[1];
	c += k[2];
	/* __jhash_mix */
	a -= c; a ^= lb_rol32(c, 4); c += b;
	b -= a; b ^= lb_rol32(a, 6); a += c;
	c -= b; c ^= lb_rol32(b, 8); b += a;
	a -= c; a ^= lb_rol32(c, 16); c += b;
	b -= a; b ^= lb_rol32(a, 19); a += c;
	c -= b; c ^= lb_rol32(b, 4); b += a;
	a += k[3];
	/* __jhash_final */
	c ^= b; c -= lb_rol32(b, 14);
	a ^= c; a -= lb_rol32(c, 11);
	b ^= a; b -= lb_rol32(a, 25);
	c ^= b; c -= lb_rol32(b, 16);
	a ^= c; a -= lb_rol32(c, 4);
	b ^= a; b -= lb_rol32(a, 14);
	c ^= b; c -= lb_rol32(b, 24);
	/* clang-format on */
	return c;
}

/* Network-order mask keeping the first 'bits' of a 32-bit word (0..32). */
LB_INLINE __u32 lb_prefix_word(int bits)
{
	if (bits <= 0)
		return 0;
	if (bits >= 32)
		return 0xffffffffu;
	return lb_be32(0xffffffffu << (32 - bits));
}

/*
 * Hash of the client address, cut to the VIP's prefix length (IP-hash).
 * Only the address is hashed: every connection of a client picks alike.
 */
LB_INLINE __u32 lb_client_hash(const struct lb_addr *client, __u8 family,
			       const struct lb_vip_meta *vip, __u32 seed)
{
	int prefix = family == LB_FAMILY_V4 ? vip->v4_prefix : vip->v6_prefix;
	__u32 k[4];

	k[0] = client->v6[0] & lb_prefix_word(prefix);
	k[1] = client->v6[1] & lb_prefix_word(prefix - 32);
	k[2] = client->v6[2] & lb_prefix_word(prefix - 64);
	k[3] = client->v6[3] & lb_prefix_word(prefix - 96);
	return lb_jhash4(k, seed);
}

/* Bit of an address in lb_addr_filter: a multiplicative hash of the
 * folded words (cheap; lbctl chooses the addresses, not a client). */
LB_INLINE __u32 lb_addr_filter_bit(const struct lb_addr *a)
{
	__u32 w = a->v6[0] ^ a->v6[1] ^ a->v6[2] ^ a->v6[3];

	return (w * 0x9e3779b1u) >> 16; /* 0..LB_ADDR_FILTER_BITS-1 */
}

/* Bit of a served (address, port) in lb_addr_filter.ports. */
LB_INLINE __u32 lb_port_filter_bit(const struct lb_addr *a, __be16 port)
{
	__u32 w = a->v6[0] ^ a->v6[1] ^ a->v6[2] ^ a->v6[3];

	return ((w ^ ((__u32)port * 0x85ebca6bu)) * 0x9e3779b1u) >> 16;
}

#endif /* LB_HASH_KERN_USER_H */
