/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The test network: a "host" namespace and a client namespace made by the
 * test, joined by veth (lbh in the host, lbc in the client). The host has
 * 198.18.1.1/24 and fd00:198:18:1::1/64 on lbh and the VIPs on lo; the
 * client has n addresses 198.18.1.10+i and fd00:198:18:1::10+i. Names carry
 * the pid, so tests can run side by side. Nothing touches the machine's own
 * namespace.
 */
#ifndef LB_TEST_TOPOLOGY_H
#define LB_TEST_TOPOLOGY_H

#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define TOPO_VIP4 "198.18.0.100"
#define TOPO_VIP6 "fd00:198:18::100"
#define TOPO_MAX_CLIENTS 64

struct topo {
	char host[32], client[32];
	int host_fd, client_fd;
	int nclients;
	char addr4[TOPO_MAX_CLIENTS][32];
	char addr6[TOPO_MAX_CLIENTS][64];
};

static int topo_sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	if (rc)
		fprintf(stderr, "topology: '%s' failed (%d)\n", cmd, rc);
	return rc;
}

static int topo_open(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), "/var/run/netns/%s", name);
	return open(path, O_RDONLY | O_CLOEXEC);
}

/* Create; returns 0, or -1 after printing what failed (not root?). */
static int topo_create(struct topo *t, const char *tag, int nclients)
{
	int i, err;

	t->host_fd = t->client_fd = -1;
	t->nclients = nclients;
	snprintf(t->host, sizeof(t->host), "%s-host-%d", tag, getpid());
	snprintf(t->client, sizeof(t->client), "%s-cli-%d", tag, getpid());
	for (i = 0; i < nclients; i++) {
		snprintf(t->addr4[i], sizeof(t->addr4[i]), "198.18.1.%d",
			 10 + i);
		snprintf(t->addr6[i], sizeof(t->addr6[i]), "fd00:198:18:1::%x",
			 0x10 + i);
	}
	err = topo_sh("ip netns add %s && ip netns add %s", t->host, t->client);
	err = err ?:
		      topo_sh("ip -n %s link add lbh type veth peer name lbc netns %s",
			      t->host, t->client);
	err = err ?:
		      topo_sh("ip -n %s link set lo up && ip -n %s link set lbh up && "
			      "ip -n %s addr add 198.18.1.1/24 dev lbh && "
			      "ip -n %s addr add fd00:198:18:1::1/64 dev lbh nodad && "
			      "ip -n %s addr add %s/32 dev lo && "
			      "ip -n %s addr add %s/128 dev lo",
			      t->host, t->host, t->host, t->host, t->host,
			      TOPO_VIP4, t->host, TOPO_VIP6);
	err = err   ?:
		      topo_sh("ip -n %s link set lo up && ip -n %s link set lbc up",
			      t->client, t->client);
	for (i = 0; i < nclients && !err; i++)
		err = topo_sh("ip -n %s addr add %s/24 dev lbc && "
			      "ip -n %s addr add %s/64 dev lbc nodad",
			      t->client, t->addr4[i], t->client, t->addr6[i]);
	err = err   ?:
		      topo_sh("ip -n %s route add 198.18.0.0/24 via 198.18.1.1 && "
			      "ip -n %s route add fd00:198:18::/64 via fd00:198:18:1::1",
			      t->client, t->client);
	/* Neighbour discovery and ARP for every client address before any
	 * test: a fresh address's first SYN-ACK otherwise waits on ND's and
	 * TCP's one-second retry timers. */
	for (i = 0; i < nclients && !err; i++)
		err = topo_sh(
			"ip netns exec %s ping -q -c1 -W2 -I %s 198.18.1.1 >/dev/null && "
			"ip netns exec %s ping -q -c1 -W2 -I %s fd00:198:18:1::1 >/dev/null",
			t->client, t->addr4[i], t->client, t->addr6[i]);
	if (!err) {
		t->host_fd = topo_open(t->host);
		t->client_fd = topo_open(t->client);
		if (t->host_fd < 0 || t->client_fd < 0)
			err = -1;
	}
	return err ? -1 : 0;
}

/* Deleting the namespaces removes the veth pair and its XDP attachment. */
static void topo_destroy(struct topo *t)
{
	if (t->host_fd >= 0)
		close(t->host_fd);
	if (t->client_fd >= 0)
		close(t->client_fd);
	topo_sh("ip netns del %s 2>/dev/null; ip netns del %s 2>/dev/null; true",
		t->host, t->client);
}

/* A socket of 'type' created in the client namespace (the caller's
 * namespace is the host's before and after). */
static int topo_client_socket(const struct topo *t, int family, int type)
{
	int fd;

	if (setns(t->client_fd, CLONE_NEWNET))
		return -1;
	fd = socket(family, type | SOCK_CLOEXEC, 0);
	if (setns(t->host_fd, CLONE_NEWNET)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

#endif /* LB_TEST_TOPOLOGY_H */
