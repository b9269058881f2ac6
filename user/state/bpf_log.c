// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "bpf_log.h"

static int bpf_log_verbose;
static char bpf_log_tail[BPF_LOG_KEEP];
static size_t bpf_log_len;

/* Append s, keeping the last BPF_LOG_KEEP bytes. */
static void bpf_log__keep(const char *s, size_t n)
{
	if (n >= BPF_LOG_KEEP) {
		s += n - BPF_LOG_KEEP;
		n = BPF_LOG_KEEP;
	}
	if (bpf_log_len + n > BPF_LOG_KEEP) {
		size_t drop = bpf_log_len + n - BPF_LOG_KEEP;

		memmove(bpf_log_tail, bpf_log_tail + drop, bpf_log_len - drop);
		bpf_log_len -= drop;
	}
	memcpy(bpf_log_tail + bpf_log_len, s, n);
	bpf_log_len += n;
}

static int bpf_log__print(enum libbpf_print_level level, const char *fmt,
			  va_list ap)
{
	char *text;
	int n;

	if (bpf_log_verbose)
		return vfprintf(stderr, fmt, ap);
	if (level != LIBBPF_WARN)
		return 0;
	/* a verifier log comes as one message of up to megabytes */
	n = vasprintf(&text, fmt, ap);
	if (n < 0)
		return 0;
	bpf_log__keep(text, n);
	free(text);
	return 0;
}

void bpf_log__init(int verbose)
{
	bpf_log_verbose = verbose;
	libbpf_set_print(bpf_log__print);
}

void bpf_log__reset(void)
{
	bpf_log_len = 0;
}

void bpf_log__dump(FILE *f)
{
	const char *start = bpf_log_tail, *nl;
	size_t n = bpf_log_len;

	if (!n)
		return;
	/* cut a partial first line */
	if (n == BPF_LOG_KEEP && (nl = memchr(start, '\n', n))) {
		n -= nl + 1 - start;
		start = nl + 1;
	}
	fprintf(f,
		"libbpf's log (-v shows all of it), its last %zu bytes:\n%.*s",
		n, (int)n, start);
	if (n && start[n - 1] != '\n')
		fputc('\n', f);
	bpf_log_len = 0;
}
