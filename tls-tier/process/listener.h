/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Listening sockets. listener__open() is the one place a listening socket
 * is made, so that a later agent (DESIGN D3) can receive exactly what the
 * workers accept on.
 */
#ifndef LBTLS_LISTENER_H
#define LBTLS_LISTENER_H

#include <stdbool.h>

#include "config.h"

struct listener {
	struct cfg_addr addr;
	int slot; /* worker slot it serves, -1 for the admin address */
	bool tls;
	int fd;
};

/*
 * A non-blocking, close-on-exec TCP listener on addr with SO_REUSEPORT, so
 * each worker slot has its own socket and the kernel spreads connections.
 * Returns the descriptor or -errno.
 */
int listener__open(const struct cfg_addr *addr, bool reuseport);

#endif /* LBTLS_LISTENER_H */
