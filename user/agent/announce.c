// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The announce link (announce.h): IFF_UP through SIOCSIFFLAGS. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include "announce.h"

int announce__set(const char *ifname, int up)
{
	struct ifreq ifr = { 0 };
	int fd, err = 0;

	if (strlen(ifname) >= sizeof(ifr.ifr_name))
		return -ENODEV;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr)) {
		err = -errno;
		goto out;
	}
	if (!!(ifr.ifr_flags & IFF_UP) == !!up)
		goto out;
	if (up)
		ifr.ifr_flags |= IFF_UP;
	else
		ifr.ifr_flags &= ~IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr))
		err = -errno;
out:
	close(fd);
	return err;
}
