// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>
#include "instance.h"
#include "lb_kern_user.h"

static int instance__valid_name(const char *name)
{
	size_t i, n = strlen(name);

	if (!n || n > 32)
		return 0;
	for (i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') ||
		      (name[i] >= '0' && name[i] <= '9') || name[i] == '-' ||
		      name[i] == '_'))
			return 0;
	return 1;
}

/* Each error path takes errno before printing: fprintf may change it. */
static int instance__ensure_bpffs(const char *dir)
{
	struct statfs st;
	int err;

	if (statfs(dir, &st) == 0 && st.f_type == BPF_FS_MAGIC)
		return 0;
	if (mkdir(dir, 0700) && errno != EEXIST)
		return -errno;
	if (mount("bpf", dir, "bpf", 0, "mode=0700")) {
		err = -errno;
		fprintf(stderr,
			"lbctl: cannot mount the BPF filesystem on '%s': %s\n",
			dir, strerror(-err));
		return err;
	}
	return 0;
}

int instance__init(struct instance *in, const char *name, const char *bpffs,
		   const char *netns)
{
	int err;

	memset(in, 0, sizeof(*in));
	in->lock_fd = -1;
	in->agent_lock_fd = -1;
	in->netns_fd = -1;
	in->name = name ?: INSTANCE_DEFAULT;
	in->bpffs = bpffs ?: INSTANCE_BPFFS;
	in->netns = netns;
	if (!instance__valid_name(in->name)) {
		fprintf(stderr,
			"lbctl: instance name '%s' must be 1-32 of [a-z0-9_-]\n",
			in->name);
		return -EINVAL;
	}
	if (strlen(in->bpffs) >= 200) {
		fprintf(stderr, "lbctl: BPF filesystem path too long: '%s'\n",
			in->bpffs);
		return -ENAMETOOLONG;
	}
	err = instance__ensure_bpffs(in->bpffs);
	if (err)
		return err;
	snprintf(in->pin_dir, sizeof(in->pin_dir), "%s/%s", in->bpffs,
		 in->name);
	return 0;
}

int instance__enter_netns(struct instance *in)
{
	char path[PATH_MAX];
	int err;

	if (in->netns_fd >= 0)
		return 0;
	if (in->netns)
		snprintf(path, sizeof(path), "/var/run/netns/%s", in->netns);
	else
		snprintf(path, sizeof(path), "/proc/self/ns/net");
	in->netns_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (in->netns_fd < 0) {
		err = -errno;
		fprintf(stderr,
			"lbctl: cannot open network namespace '%s': %s\n",
			in->netns ?: "self", strerror(-err));
		return err;
	}
	if (in->netns && setns(in->netns_fd, CLONE_NEWNET)) {
		err = -errno;
		fprintf(stderr,
			"lbctl: cannot enter network namespace '%s': %s\n",
			in->netns, strerror(-err));
		return err;
	}
	return 0;
}

int instance__lock(struct instance *in)
{
	char path[PATH_MAX];
	int err;

	if (mkdir(INSTANCE_RUN_DIR, 0700) && errno != EEXIST)
		return -errno;
	snprintf(path, sizeof(path), "%s/%s.lock", INSTANCE_RUN_DIR, in->name);
	in->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (in->lock_fd < 0 || flock(in->lock_fd, LOCK_EX)) {
		err = -errno;
		fprintf(stderr, "lbctl: cannot lock '%s': %s\n", path,
			strerror(-err));
		instance__unlock(in);
		return err;
	}
	return 0;
}

void instance__unlock(struct instance *in)
{
	if (in->lock_fd >= 0)
		close(in->lock_fd); /* releases the flock */
	in->lock_fd = -1;
}

static void instance__agent_lock_path(const struct instance *in, char *buf,
				      size_t len)
{
	snprintf(buf, len, "%s/%s.agent.lock", INSTANCE_RUN_DIR, in->name);
}

/*
 * The holder of a write lock on fd's file, as the kernel says (F_GETLK
 * takes nothing), else the pid the holder wrote in it; 0 if neither.
 */
static pid_t instance__lock_holder(int fd)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	char buf[24] = "";
	ssize_t n;
	long pid;

	if (fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK &&
	    fl.l_pid > 0)
		return fl.l_pid;
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	pid = strtol(buf, NULL, 10);
	return pid > 0 ? (pid_t)pid : 0;
}

/*
 * A POSIX record lock (fcntl), not flock: lbctl can ask who holds it
 * (F_GETLK) without taking it, so asking never makes an agent that is
 * starting at that moment think the instance is taken.
 */
int instance__agent_lock(struct instance *in, pid_t *holder)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	char path[PATH_MAX];
	struct stat held, named;
	int fd, err;

	*holder = 0;
	if (mkdir(INSTANCE_RUN_DIR, 0700) && errno != EEXIST)
		return -errno;
	instance__agent_lock_path(in, path, sizeof(path));
	for (;;) {
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0)
			return -errno;
		if (fcntl(fd, F_SETLK, &fl)) {
			err = errno == EAGAIN || errno == EACCES ? -EBUSY :
								   -errno;
			if (err == -EBUSY)
				*holder = instance__lock_holder(fd);
			close(fd);
			return err;
		}
		/*
		 * A leaving agent unlinks the file while it holds it: if we
		 * opened it before that, we hold a file nobody else will see.
		 * Take the one the path names now.
		 */
		if (!fstat(fd, &held) && !stat(path, &named) &&
		    held.st_dev == named.st_dev && held.st_ino == named.st_ino)
			break;
		close(fd);
	}
	if (ftruncate(fd, 0) || dprintf(fd, "%d\n", (int)getpid()) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	in->agent_lock_fd = fd;
	return 0;
}

void instance__agent_unlock(struct instance *in)
{
	char path[PATH_MAX];

	if (in->agent_lock_fd < 0)
		return;
	instance__agent_lock_path(in, path, sizeof(path));
	unlink(path); /* still held: see the check in instance__agent_lock() */
	close(in->agent_lock_fd);
	in->agent_lock_fd = -1;
}

int instance__agent_running(const struct instance *in, pid_t *pid)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	char path[PATH_MAX];
	int fd, running;

	*pid = 0;
	instance__agent_lock_path(in, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	running = fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
	if (running)
		*pid = instance__lock_holder(fd);
	close(fd);
	return running;
}

int instance__pin_path(const struct instance *in, const char *name, char *buf,
		       size_t len)
{
	int n = snprintf(buf, len, "%s/%s", in->pin_dir, name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int instance__exists(const struct instance *in)
{
	char path[PATH_MAX];

	instance__pin_path(in, LB_MAP_CONFIG, path, sizeof(path));
	return access(path, F_OK) == 0;
}

void instance__close(struct instance *in)
{
	instance__unlock(in);
	instance__agent_unlock(in);
	if (in->netns_fd >= 0)
		close(in->netns_fd);
	in->netns_fd = -1;
}
