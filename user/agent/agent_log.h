/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The agent's log line and clock, shared by its files. */
#ifndef LB_AGENT_LOG_H
#define LB_AGENT_LOG_H

#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <linux/types.h>

static inline __attribute__((format(printf, 1, 2))) void
agent_log(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "lbctl agent: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static inline __u64 agent_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

#endif /* LB_AGENT_LOG_H */
