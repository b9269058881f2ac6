/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The master process: owns the configuration, the listening sockets and the
 * counters; forks, watches and replaces workers; serves /metrics.
 */
#ifndef LBTLS_MASTER_H
#define LBTLS_MASTER_H

struct master_opts {
	const char *config_path;
	unsigned workers; /* 0: from the configuration */
};

/* Run until SIGTERM/SIGINT; returns the exit status. */
int master__run(const struct master_opts *opts);

#endif /* LBTLS_MASTER_H */
