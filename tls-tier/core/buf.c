// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

size_t buf__room(struct buf *b)
{
	if (b->e == b->cap && b->s) {
		memmove(b->d, b->d + b->s, b->e - b->s);
		b->e -= b->s;
		b->s = 0;
	}
	return b->cap - b->e;
}

int buf__reserve(struct buf *b, size_t n)
{
	size_t cap;
	char *d;

	if (buf__room(b) >= n)
		return 0;
	if (b->s) {
		memmove(b->d, b->d + b->s, b->e - b->s);
		b->e -= b->s;
		b->s = 0;
		if (b->cap - b->e >= n)
			return 0;
	}
	cap = b->cap ? b->cap : 4096;
	while (cap - b->e < n)
		cap *= 2;
	d = realloc(b->d, cap);
	if (!d)
		return -ENOMEM;
	b->d = d;
	b->cap = cap;
	return 0;
}

int buf__add(struct buf *b, const void *p, size_t n)
{
	if (!n) /* nothing; and no NULL + 0 on a buffer never filled */
		return 0;
	if (buf__reserve(b, n))
		return -ENOMEM;
	memcpy(b->d + b->e, p, n);
	b->e += n;
	return 0;
}

int buf__printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || buf__reserve(b, n + 1))
		return -ENOMEM;
	va_start(ap, fmt);
	vsnprintf(b->d + b->e, n + 1, fmt, ap);
	va_end(ap);
	b->e += n;
	return 0;
}

void buf__free(struct buf *b)
{
	free(b->d);
	memset(b, 0, sizeof(*b));
}

int buf__get(struct buf_cache *bc, struct buf *b, size_t cap)
{
	if (bc->cap != cap) {
		/* another size (a new configuration): drop the old ones */
		while (bc->n)
			free(bc->d[--bc->n]);
		bc->cap = cap;
	}
	b->s = b->e = 0;
	if (bc->n) {
		b->d = bc->d[--bc->n];
		b->cap = cap;
		return 0;
	}
	b->d = malloc(cap);
	b->cap = b->d ? cap : 0;
	return b->d ? 0 : -ENOMEM;
}

void buf__put(struct buf_cache *bc, struct buf *b)
{
	if (b->d && b->cap == bc->cap && bc->n < BUF_CACHE) {
		bc->d[bc->n++] = b->d;
		memset(b, 0, sizeof(*b));
		return;
	}
	buf__free(b);
}
