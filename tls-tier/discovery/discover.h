/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * 'lbtls discover': the discovery process (DESIGN D8, D12). It alone talks
 * to the Docker Engine API (docker.c) and writes the healthy containers'
 * addresses to upstream.file (upfile.h), which the lbtls master reads. It
 * parses no client byte and listens on nothing; the lbtls processes that
 * do never get the engine's socket.
 */
#ifndef LBTLS_DISCOVER_H
#define LBTLS_DISCOVER_H

/* Run until SIGTERM/SIGINT (SIGHUP re-reads the file); the exit status. */
int discover__run(const char *config_path);

#endif /* LBTLS_DISCOVER_H */
