// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include "health.h"

SSL_CTX *probe__ctx_new(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	/* The probe asks "does this worker complete a handshake?", not "is
	 * its certificate valid for some name": no verification. */
	if (ctx)
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	return ctx;
}

int probe__start(struct probe *p, SSL_CTX *ctx,
		 const struct sockaddr_storage *addr, int tls,
		 __u64 deadline_ms)
{
	socklen_t len = addr->ss_family == AF_INET6 ?
				sizeof(struct sockaddr_in6) :
				sizeof(struct sockaddr_in);

	memset(p, 0, sizeof(*p));
	p->tls = tls;
	p->deadline_ms = deadline_ms;
	p->fd = socket(addr->ss_family,
		       SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->fd < 0)
		return -errno;
	if (connect(p->fd, (const struct sockaddr *)addr, len) &&
	    errno != EINPROGRESS) {
		probe__stop(p);
		return -errno;
	}
	if (tls) {
		p->ssl = SSL_new(ctx);
		if (!p->ssl || !SSL_set_fd(p->ssl, p->fd)) {
			probe__stop(p);
			return -ENOMEM;
		}
		SSL_set_connect_state(p->ssl);
	}
	p->wants = EPOLLOUT; /* connect completion */
	return 0;
}

enum probe_result probe__step(struct probe *p)
{
	int err = 0, rc;
	socklen_t len = sizeof(err);

	if (p->wants == EPOLLOUT && !p->ssl) {
		if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len) || err)
			return PROBE_FAILED;
		return PROBE_OK;
	}
	rc = SSL_do_handshake(p->ssl);
	if (rc == 1)
		return PROBE_OK;
	switch (SSL_get_error(p->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
		p->wants = EPOLLIN;
		return PROBE_PENDING;
	case SSL_ERROR_WANT_WRITE:
		p->wants = EPOLLOUT;
		return PROBE_PENDING;
	default:
		return PROBE_FAILED;
	}
}

void probe__stop(struct probe *p)
{
	if (p->ssl)
		SSL_free(p->ssl);
	if (p->fd >= 0)
		close(p->fd);
	p->ssl = NULL;
	p->fd = -1;
}
