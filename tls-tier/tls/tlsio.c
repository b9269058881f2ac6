// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <openssl/err.h>

#include "tls.h"
#include "tlscompat.h"
#include "tlsio.h"

/*
 * The error queue is empty on entry to tlsio__read() and tlsio__write():
 * every failure path clears it, and so do the handshake and the shutdown
 * (ERR_clear_error per call cost ~10 % of a keep-alive request's
 * instructions).
 */
ssize_t tlsio__read(SSL *ssl, int fd, char *p, size_t n, bool *wants_write)
{
	ssize_t r;

	if (!ssl) {
		r = recv(fd, p, n, 0);
		if (r >= 0)
			return r;
		return errno == EAGAIN || errno == EINTR ? -EAGAIN : -errno;
	}
	*wants_write = false;
	r = SSL_read(ssl, p, n);
	if (r > 0)
		return r;
	switch (tlscompat__read_error(ssl, r)) {
	case SSL_ERROR_WANT_READ:
		return -EAGAIN;
	case SSL_ERROR_WANT_WRITE:
		*wants_write = true;
		return -EAGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	default:
		ERR_clear_error();
		return -EIO;
	}
}

ssize_t tlsio__write(SSL *ssl, int fd, const char *p, size_t n,
		     bool *wants_read)
{
	ssize_t r;

	if (!ssl) {
		r = send(fd, p, n, MSG_NOSIGNAL);
		if (r >= 0)
			return r;
		return errno == EAGAIN || errno == EINTR ? -EAGAIN : -errno;
	}
	*wants_read = false;
	r = SSL_write(ssl, p, n);
	if (r > 0)
		return r;
	switch (SSL_get_error(ssl, r)) {
	case SSL_ERROR_WANT_WRITE:
		return -EAGAIN;
	case SSL_ERROR_WANT_READ:
		*wants_read = true;
		return -EAGAIN;
	default:
		ERR_clear_error();
		return -EIO;
	}
}

int tlsio__handshake(SSL *ssl, bool *want_write, char *why, size_t len)
{
	int r;

	ERR_clear_error();
	r = SSL_do_handshake(ssl);
	if (r == 1) {
		/* whatever a callback left (a ticket that did not open) */
		ERR_clear_error();
		return 1;
	}
	switch (SSL_get_error(ssl, r)) {
	case SSL_ERROR_WANT_READ:
		*want_write = false;
		return 0;
	case SSL_ERROR_WANT_WRITE:
		*want_write = true;
		return 0;
	default:
		tlscompat__err_str(why, len); /* clears the queue */
		return -EIO;
	}
}

bool tlsio__pending(const SSL *ssl)
{
	return tlscompat__pending(ssl);
}

void tlsio__shutdown(SSL *ssl, int fd)
{
	if (ssl) {
		ERR_clear_error();
		SSL_shutdown(ssl);
		ERR_clear_error();
	}
	shutdown(fd, SHUT_WR);
}

bool tlsio__is_h2(const SSL *ssl)
{
	const unsigned char *p = NULL;
	unsigned n = 0;

	if (!ssl)
		return false;
	SSL_get0_alpn_selected(ssl, &p, &n);
	return n == 2 && !memcmp(p, "h2", 2);
}
