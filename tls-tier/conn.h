/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A client connection and the request it is proxying: TLS handshake, head
 * parsing, the port 80 redirect and ACME files, relaying to an upstream
 * in both directions at once, keep-alive and pipelining.
 */
#ifndef LBTLS_CONN_H
#define LBTLS_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct worker;
struct worker_listener;
struct conn;

/* Take over an accepted socket. */
int conn__accept(struct worker *w, struct worker_listener *l, int fd,
		 const struct sockaddr_storage *peer);

/* Events on the upstream connection the client connection owns. */
void conn__upstream_event(struct conn *c, uint32_t events);

/* Graceful stop: close idle connections, end others after their response. */
void conn__drain_all(struct worker *w);

/* Hard stop at the drain deadline. */
void conn__close_all(struct worker *w);

#endif /* LBTLS_CONN_H */
