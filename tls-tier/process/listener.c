// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The listening socket factory.
 */
#include <errno.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "listener.h"

#define LISTEN_BACKLOG 4096

int listener__open(const struct cfg_addr *addr, bool reuseport)
{
	int fd, one = 1, err;

	fd = socket(addr->ss.ss_family,
		    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		goto fail;
	if (reuseport &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)))
		goto fail;
	/* "[::]:443" should not also take IPv4: list 0.0.0.0:443 for that. */
	if (addr->ss.ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)))
		goto fail;
	if (bind(fd, (const struct sockaddr *)&addr->ss, addr->len))
		goto fail;
	if (listen(fd, LISTEN_BACKLOG))
		goto fail;
	return fd;
fail:
	err = -errno;
	close(fd);
	return err;
}
