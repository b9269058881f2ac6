/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The HTTP/2 side of a client connection: an HTTP/2 session (http2/h2.h)
 * whose streams are transactions (txn.h), one each, with the same routing,
 * request buffering, limits, retries, timeouts, access log and counters as
 * HTTP/1.1. client.c keeps the socket, TLS and the connection's buffers;
 * this file turns the bytes it reads into streams and the streams' answers
 * into bytes for it to write.
 *
 * A stream the client resets while its request is with a server stays
 * alive, unseen, until the server answers (its answer is dropped): the
 * server's work for a connection is bounded by http2.max_inflight, whatever
 * the client resets (HAProxy and Go count the same way).
 */
#ifndef LBTLS_H2CONN_H
#define LBTLS_H2CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "buf.h"

struct proxy;
struct h2conn;

struct h2conn_peer {
	struct proxy *px;
	const struct sockaddr_storage *peer;
	const char *peer_str;
	uint16_t port; /* the port the client reached (X-Forwarded-Port) */
	/* something moved outside the client's own events: pump it */
	void (*wake)(void *client);
	void *client;
};

/* NULL without memory. */
struct h2conn *h2conn__new(const struct h2conn_peer *p);
/* Every stream ends (access-logged as cut short by 'why'). */
void h2conn__free(struct h2conn *hc, const char *why);

/* The client's bytes: all of 'in' is consumed. -1: the session is over,
 * write what h2conn__send() still gives and close. */
int h2conn__recv(struct h2conn *hc, struct buf *in);
/* Step every transaction; true when anything moved. */
bool h2conn__step(struct h2conn *hc);
/* Frames for the client into 'out' (bounded). -1: no memory. */
int h2conn__send(struct h2conn *hc, struct buf *out);
/* No stream is open (nor orphaned). */
bool h2conn__idle(const struct h2conn *hc);
/* Nothing more to read or write: close once 'out' is sent. */
bool h2conn__done(const struct h2conn *hc);
/* The earliest deadline of the session and its streams; *again when a
 * transaction aborted while arming (step again). */
uint64_t h2conn__arm(struct h2conn *hc, bool *again);
void h2conn__timeout(struct h2conn *hc);

#endif /* LBTLS_H2CONN_H */
