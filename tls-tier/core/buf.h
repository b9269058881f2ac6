/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Byte buffers of the proxy: data lives in d[s..e) of a block of cap
 * bytes. Blocks of the sizes the proxy uses come from per-process caches
 * (buf__get/buf__put), so that a busy worker does not make glibc trim and
 * refault its heap top on every request.
 */
#ifndef LBTLS_BUF_H
#define LBTLS_BUF_H

#include <stddef.h>

struct buf {
	char *d;
	size_t s, e, cap;
};

#define BUF_CACHE 64

/* Finished blocks of one size, waiting for the next request. */
struct buf_cache {
	char *d[BUF_CACHE];
	size_t cap; /* the one size this cache holds */
	int n;
};

static inline size_t buf_len(const struct buf *b)
{
	return b->e - b->s;
}

static inline void buf_consume(struct buf *b, size_t n)
{
	b->s += n;
	if (b->s == b->e)
		b->s = b->e = 0;
}

/* Free space at the end, moving data to the front when that makes room. */
size_t buf__room(struct buf *b);
/* Make room for n more bytes, growing the block when needed. */
int buf__reserve(struct buf *b, size_t n);
int buf__add(struct buf *b, const void *p, size_t n);
int buf__printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A block of cap bytes, from the cache when it has one. */
int buf__get(struct buf_cache *bc, struct buf *b, size_t cap);
/* Back to the cache (a block that grew is not of its size: freed). */
void buf__put(struct buf_cache *bc, struct buf *b);
void buf__free(struct buf *b);

#endif /* LBTLS_BUF_H */
