/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Error log with levels and the access log in nginx "combined" format plus
 * the upstream address and the request time. Each line is one write(2) on
 * an O_APPEND descriptor, so lines from several workers never interleave.
 */
#ifndef LBTLS_LOG_H
#define LBTLS_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* Open the logs named in cfg; 'who' tags error lines ("master", "worker 3"). */
int log__open(const struct lbtls_config *cfg, const char *who);
void log__close(void);
void log__set_who(const char *who);

void log__msg(enum log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_err(...) log__msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...) log__msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log__msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log__msg(LOG_LVL_DEBUG, __VA_ARGS__)

struct access_entry {
	const char *remote_addr;
	const char *method; /* spans of the request; may be NULL */
	size_t method_len;
	const char *target;
	size_t target_len;
	int minor;
	uint32_t stream; /* HTTP/2: the stream id; 0 for HTTP/1.x */
	int status;
	uint64_t body_bytes;
	const char *referer;
	size_t referer_len;
	const char *user_agent;
	size_t user_agent_len;
	const char *upstream; /* "-" when none */
	const char *reason; /* why it ended early, "-": it did not */
	uint64_t start_us; /* wall clock, microseconds */
	uint64_t duration_us;
};

void log__access(const struct access_entry *e);
bool log__access_enabled(void);

#endif /* LBTLS_LOG_H */
