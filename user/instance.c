// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
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

static int instance__ensure_bpffs(const char *dir)
{
	struct statfs st;

	if (statfs(dir, &st) == 0 && st.f_type == BPF_FS_MAGIC)
		return 0;
	if (mkdir(dir, 0700) && errno != EEXIST)
		return -errno;
	if (mount("bpf", dir, "bpf", 0, "mode=0700")) {
		fprintf(stderr,
			"lbctl: cannot mount the BPF filesystem on '%s': %s\n",
			dir, strerror(errno));
		return -errno;
	}
	return 0;
}

int instance__init(struct instance *in, const char *name, const char *bpffs,
		   const char *netns)
{
	int err;

	memset(in, 0, sizeof(*in));
	in->lock_fd = -1;
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

	if (in->netns_fd >= 0)
		return 0;
	if (in->netns)
		snprintf(path, sizeof(path), "/var/run/netns/%s", in->netns);
	else
		snprintf(path, sizeof(path), "/proc/self/ns/net");
	in->netns_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (in->netns_fd < 0) {
		fprintf(stderr,
			"lbctl: cannot open network namespace '%s': %s\n",
			in->netns ?: "self", strerror(errno));
		return -errno;
	}
	if (in->netns && setns(in->netns_fd, CLONE_NEWNET)) {
		fprintf(stderr,
			"lbctl: cannot enter network namespace '%s': %s\n",
			in->netns, strerror(errno));
		return -errno;
	}
	return 0;
}

int instance__lock(struct instance *in)
{
	char path[PATH_MAX];

	if (mkdir(INSTANCE_RUN_DIR, 0700) && errno != EEXIST)
		return -errno;
	snprintf(path, sizeof(path), "%s/%s.lock", INSTANCE_RUN_DIR, in->name);
	in->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (in->lock_fd < 0 || flock(in->lock_fd, LOCK_EX)) {
		fprintf(stderr, "lbctl: cannot lock '%s': %s\n", path,
			strerror(errno));
		return -errno;
	}
	return 0;
}

void instance__unlock(struct instance *in)
{
	if (in->lock_fd >= 0)
		close(in->lock_fd); /* releases the flock */
	in->lock_fd = -1;
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
	if (in->netns_fd >= 0)
		close(in->netns_fd);
	in->netns_fd = -1;
}
