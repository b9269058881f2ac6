/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Active health probes of a worker's listener, driven by the agent's epoll
 * loop: a real TLS handshake for an https listener (a hung worker accepts
 * TCP in the kernel's backlog but never completes TLS), a TCP connect for a
 * plain one.
 */
#ifndef LB_HEALTH_H
#define LB_HEALTH_H

#include <openssl/ssl.h>
#include <sys/socket.h>
#include <linux/types.h>

enum probe_result {
	PROBE_PENDING = 0,
	PROBE_OK = 1,
	PROBE_FAILED = -1,
};

struct probe {
	int fd; /* -1 when idle */
	SSL *ssl;
	int tls;
	__u64 deadline_ms;
	__u32 wants; /* EPOLLIN / EPOLLOUT the probe waits for */
};

SSL_CTX *probe__ctx_new(void);
/* Start a probe to the listener's own address (loopback, DESIGN.md D3);
 * p->fd is to be watched for p->wants. */
int probe__start(struct probe *p, SSL_CTX *ctx,
		 const struct sockaddr_storage *addr, int tls,
		 __u64 deadline_ms);
/* Advance after an event; PROBE_PENDING means keep waiting for p->wants. */
enum probe_result probe__step(struct probe *p);
void probe__stop(struct probe *p);

#endif /* LB_HEALTH_H */
