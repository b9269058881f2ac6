/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Shared by http1.c (parsing) and http1_write.c (writing) only: the grammar
 * helpers both sides need, so that they can never disagree.
 */
#ifndef LBTLS_HTTP1_INT_H
#define LBTLS_HTTP1_INT_H

#include <string.h>

#include "http1.h"

static inline unsigned char http1_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c | 0x20 : c;
}

static inline bool http1_mem_ieq(const char *a, const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (http1_lower(a[i]) != http1_lower(b[i]))
			return false;
	return true;
}

/* Inlined: most calls differ in length and cost one compare. */
static inline __attribute__((always_inline)) bool
span_ieq_n(struct http1_span s, const char *lit, size_t n)
{
	return s.len == n && http1_mem_ieq(s.p, lit, n);
}

/* Against a string literal: the length is known at compile time, so most
 * header names are told apart by one compare ("" rejects a non-literal). */
#define span_ieq(s, lit) span_ieq_n((s), "" lit "", sizeof(lit) - 1)
#define span_eq(s, lit)                \
	((s).len == sizeof(lit) - 1 && \
	 memcmp((s).p, "" lit "", sizeof(lit) - 1) == 0)

/* 'tok' is an element of the comma-separated list (RFC 9110 5.6.1),
 * compared case-insensitively. */
bool http1_list_has(struct http1_span list, struct http1_span tok);

/*
 * What follows scheme://authority in an absolute-form target (empty, or
 * starting with '/' or '?'); any other target is returned as it is. The
 * authority ends at the first '/', '?' or '#' (RFC 3986 3.2).
 */
struct http1_span http1_target_rest(struct http1_span target);

#endif /* LBTLS_HTTP1_INT_H */
