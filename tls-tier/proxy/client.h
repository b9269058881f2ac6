/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A client connection: its socket, TLS, buffers, the handshake, reading and
 * parsing request heads, writing responses, keep-alive, pipelining and
 * lingering close, and its connection deadlines. Each request it parses is
 * a transaction (txn.h) or a local answer (local.h).
 */
#ifndef LBTLS_CLIENT_H
#define LBTLS_CLIENT_H

#include <stdbool.h>
#include <sys/socket.h>

struct proxy;

/* Take over an accepted socket; 'tls' for an https listener. */
int client__accept(struct proxy *px, bool tls, int fd,
		   const struct sockaddr_storage *peer);

/* Draining began (px->draining): HTTP/2 connections send their GOAWAY
 * now (HTTP/1.1 ones say Connection: close with their next response). */
void client__drain_all(struct proxy *px);

/* Hard stop: close every client connection. */
void client__close_all(struct proxy *px);

#endif /* LBTLS_CLIENT_H */
