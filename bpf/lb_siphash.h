/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * SipHash-2-4 (Aumasson and Bernstein, 2012), the keyed hash the kernel's
 * own SYN cookies use, over whole 64-bit words (BPF only). The caller feeds
 * words with lb_sip_word() and closes with lb_sip_final(); everything is
 * inlined straight-line code, so the verifier sees no loop.
 */
#ifndef LB_SIPHASH_H
#define LB_SIPHASH_H

#include <linux/types.h>

struct lb_sip {
	__u64 v0, v1, v2, v3;
	__u32 words; /* fed so far: the length byte of the last block */
};

#define LB_SIP_ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))

static __always_inline void lb_sip_round(struct lb_sip *s)
{
	s->v0 += s->v1;
	s->v1 = LB_SIP_ROTL(s->v1, 13);
	s->v1 ^= s->v0;
	s->v0 = LB_SIP_ROTL(s->v0, 32);
	s->v2 += s->v3;
	s->v3 = LB_SIP_ROTL(s->v3, 16);
	s->v3 ^= s->v2;
	s->v0 += s->v3;
	s->v3 = LB_SIP_ROTL(s->v3, 21);
	s->v3 ^= s->v0;
	s->v2 += s->v1;
	s->v1 = LB_SIP_ROTL(s->v1, 17);
	s->v1 ^= s->v2;
	s->v2 = LB_SIP_ROTL(s->v2, 32);
}

static __always_inline void lb_sip_init(struct lb_sip *s, const __u64 key[2])
{
	s->v0 = key[0] ^ 0x736f6d6570736575ull;
	s->v1 = key[1] ^ 0x646f72616e646f6dull;
	s->v2 = key[0] ^ 0x6c7967656e657261ull;
	s->v3 = key[1] ^ 0x7465646279746573ull;
	s->words = 0;
}

/* One message block: c = 2 rounds. */
static __always_inline void lb_sip_word(struct lb_sip *s, __u64 m)
{
	s->v3 ^= m;
	lb_sip_round(s);
	lb_sip_round(s);
	s->v0 ^= m;
	s->words++;
}

/* The length block (no tail bytes: the message is whole words), then
 * d = 4 rounds. */
static __always_inline __u64 lb_sip_final(struct lb_sip *s)
{
	__u64 b = (__u64)(s->words * 8) << 56;

	s->v3 ^= b;
	lb_sip_round(s);
	lb_sip_round(s);
	s->v0 ^= b;
	s->v2 ^= 0xff;
	lb_sip_round(s);
	lb_sip_round(s);
	lb_sip_round(s);
	lb_sip_round(s);
	return s->v0 ^ s->v1 ^ s->v2 ^ s->v3;
}

#endif /* LB_SIPHASH_H */
