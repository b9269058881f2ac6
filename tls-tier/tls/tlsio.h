/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Bytes to and from a client socket, through TLS (ssl) or plain (ssl NULL):
 * the handshake, reads, writes and the closing shutdown. -EAGAIN means
 * "wait"; *wants says when a TLS read must wait for the socket to be
 * writable, or a write for it to be readable (renegotiation, key update).
 */
#ifndef LBTLS_TLSIO_H
#define LBTLS_TLSIO_H

#include <stdbool.h>
#include <sys/types.h>
#include <openssl/ssl.h>

/* Bytes read, 0 at the end of the stream, -EAGAIN, or -errno / -EIO. */
ssize_t tlsio__read(SSL *ssl, int fd, char *p, size_t n, bool *wants_write);
/* Bytes written, -EAGAIN, or -errno / -EIO. */
ssize_t tlsio__write(SSL *ssl, int fd, const char *p, size_t n,
		     bool *wants_read);
/* 1 done, 0 in progress (*want_write: waits for writability), or -EIO
 * with the reason in why. */
int tlsio__handshake(SSL *ssl, bool *want_write, char *why, size_t len);
/* close_notify (TLS) and FIN: the write side is done. */
/* Bytes held by the TLS layer (decrypted, or read ahead) that the socket
 * no longer shows: read again without waiting for epoll. */
bool tlsio__pending(const SSL *ssl);
/* The handshake chose HTTP/2 (ALPN "h2"). */
bool tlsio__is_h2(const SSL *ssl);

void tlsio__shutdown(SSL *ssl, int fd);

#endif /* LBTLS_TLSIO_H */
