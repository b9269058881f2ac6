/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Minimal HTTP head scanning for the benchmark tools (fast_backend.c,
 * bench_loop.c): their peers are wrk and the project's own servers, so a
 * case-insensitive line scan is enough; lbtls's real parser is
 * tls-tier/http1/http1.c.
 */
#ifndef BENCH_HTTP_H
#define BENCH_HTTP_H

#include <stdbool.h>
#include <string.h>
#include <strings.h>

/* The value of header NAME in the head [p, end), or NULL. */
static inline const char *find_header(const char *p, const char *end,
				      const char *name)
{
	size_t n = strlen(name);

	while (p < end) {
		const char *eol = memchr(p, '\n', end - p);

		if (!eol)
			break;
		if ((size_t)(eol - p) > n && !strncasecmp(p, name, n) &&
		    p[n] == ':') {
			p += n + 1;
			while (*p == ' ' || *p == '\t')
				p++;
			return p;
		}
		p = eol + 1;
	}
	return NULL;
}

/* The header value at V (to the end of its line) contains WORD. */
static inline bool value_has(const char *v, const char *word)
{
	size_t n = strlen(word);

	for (; *v && *v != '\r' && *v != '\n'; v++)
		if (!strncasecmp(v, word, n))
			return true;
	return false;
}

#endif
