// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Listening sockets from /proc/thread-self/net/tcp{,6} (the namespace the
 * calling thread is in), their owners from /proc/PID/fd, as ss -p finds
 * them. Only listeners on the address asked about or the wildcard count.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "sshd.h"

#define TCP_LISTEN 0x0a

/* The owner of socket inode ino: pid and comm, or 0 if none is visible. */
static pid_t sshd__owner(unsigned long ino, char *comm, size_t len)
{
	char path[PATH_MAX], link[64], want[64];
	struct dirent *p, *f;
	DIR *proc, *fds;
	pid_t pid = 0;
	ssize_t n;
	FILE *cf;

	snprintf(want, sizeof(want), "socket:[%lu]", ino);
	proc = opendir("/proc");
	if (!proc)
		return 0;
	while (!pid && (p = readdir(proc))) {
		if (!isdigit((unsigned char)p->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd", p->d_name);
		fds = opendir(path);
		if (!fds)
			continue; /* gone, or not ours to read */
		while ((f = readdir(fds))) {
			snprintf(path, sizeof(path), "/proc/%s/fd/%s",
				 p->d_name, f->d_name);
			n = readlink(path, link, sizeof(link) - 1);
			if (n <= 0)
				continue;
			link[n] = '\0';
			if (!strcmp(link, want)) {
				pid = atoi(p->d_name);
				break;
			}
		}
		closedir(fds);
	}
	closedir(proc);
	comm[0] = '\0';
	if (!pid)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	cf = fopen(path, "r");
	if (cf) {
		if (fgets(comm, len, cf))
			comm[strcspn(comm, "\n")] = '\0';
		fclose(cf);
	}
	return pid;
}

/* /proc/net/tcp6 prints each 32-bit word of the address as a native u32. */
static int sshd__parse_addr(const char *hex, int v6, __u32 w[4])
{
	char word[9] = { 0 };
	int i;

	if (strlen(hex) != (v6 ? 32u : 8u))
		return -EINVAL;
	for (i = 0; i < (v6 ? 4 : 1); i++) {
		memcpy(word, hex + 8 * i, 8);
		w[i] = strtoul(word, NULL, 16);
	}
	return 0;
}

/* Does a socket bound to w (v6 or not) take packets to addr? */
static int sshd__covers(const __u32 w[4], int v6, const struct lb_addr *addr,
			__u8 family)
{
	static const __u32 mapped = 0xffff; /* ::ffff:a.b.c.d, word 2 */

	if (!v6)
		return family == LB_FAMILY_V4 && (!w[0] || w[0] == addr->v4);
	if (!w[0] && !w[1] && !w[2] && !w[3])
		return 1; /* [::]: dual-stack unless IPV6_V6ONLY; assume so */
	if (family == LB_FAMILY_V6)
		return !memcmp(w, addr->v6, 16);
	return !w[0] && !w[1] && w[2] == htonl(mapped) && w[3] == addr->v4;
}

static void sshd__format(const __u32 w[4], int v6, char *buf, size_t len)
{
	inet_ntop(v6 ? AF_INET6 : AF_INET, w, buf, len);
}

static int sshd__scan(const char *file, int v6, const struct lb_addr *addr,
		      __u8 family, struct sshd_listener *out)
{
	char line[512], local[64];
	unsigned int port, state;
	unsigned long ino;
	int found = 0;
	__u32 w[4];
	FILE *f;

	f = fopen(file, "r");
	if (!f)
		return errno == ENOENT ? 0 : -errno; /* no IPv6 in the kernel */
	if (!fgets(line, sizeof(line), f)) { /* header */
		fclose(f);
		return 0;
	}
	while (!found && fgets(line, sizeof(line), f)) {
		/* sl local:port rem:port st tx:rx tr:when retr uid tmo inode */
		if (sscanf(line,
			   " %*s %63[0-9A-Fa-f]:%x %*s %x %*s %*s %*s %*s %*s %lu",
			   local, &port, &state, &ino) != 4 ||
		    state != TCP_LISTEN || sshd__parse_addr(local, v6, w) ||
		    !sshd__covers(w, v6, addr, family))
			continue;
		memset(out, 0, sizeof(*out));
		out->pid = sshd__owner(ino, out->comm, sizeof(out->comm));
		if (port != 22 && strncmp(out->comm, "sshd", 4))
			continue;
		out->port = port;
		sshd__format(w, v6, out->addr, sizeof(out->addr));
		found = 1;
	}
	fclose(f);
	return found;
}

int sshd__find(const struct lb_addr *addr, __u8 family,
	       struct sshd_listener *out)
{
	int rc = 0;

	if (family == LB_FAMILY_V4)
		rc = sshd__scan("/proc/thread-self/net/tcp", 0, addr, family,
				out);
	return rc    ?:
		       sshd__scan("/proc/thread-self/net/tcp6", 1, addr, family,
				  out);
}

void sshd__describe(const struct sshd_listener *l, char *buf, size_t len)
{
	const char *fmt = strchr(l->addr, ':') ? "[%s]:%u" : "%s:%u";
	char where[64];

	snprintf(where, sizeof(where), fmt, l->addr, l->port);
	if (l->pid)
		snprintf(buf, len, "%s (pid %d) listens on %s", l->comm,
			 (int)l->pid, where);
	else
		snprintf(buf, len,
			 "a process this host cannot name listens on %s",
			 where);
}
