// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "dataplane.h"
#include "tc_attach.h"
#include "lb_tc.skel.h"

/* tcx (kernel 6.6+): the installed uapi header and libbpf 1.1 predate it,
 * so the attach type is passed to bpf_link_create() by value. tcx rather
 * than clsact + cls_bpf: a link, pinned, is owned by this instance alone
 * and goes away with its pin; a filter in a shared qdisc is not. */
#define TC_ATTACH_TCX_INGRESS 46

static void tc_attach__pin(const struct instance *in, int ifindex, char *buf,
			   size_t len)
{
	char name[32];

	snprintf(name, sizeof(name), TC_ATTACH_PIN_PREFIX "%d", ifindex);
	instance__pin_path(in, name, buf, len);
}

/* The tc object on the instance's pinned maps, loaded. */
static struct lb_tc *tc_attach__load(const struct instance *in)
{
	struct dataplane dp;
	struct lb_tc *skel;
	int err;

	err = dataplane__open_pinned(&dp, in->pin_dir);
	if (err) {
		errno = -err;
		return NULL;
	}
	skel = lb_tc__open();
	if (!skel)
		goto out;
	if (dataplane__use_pins(skel->obj, in->pin_dir, dp.cfg.ring_size)) {
		lb_tc__destroy(skel);
		skel = NULL;
		goto out;
	}
	err = lb_tc__load(skel);
	if (err) {
		lb_tc__destroy(skel);
		skel = NULL;
		errno = -err;
	}
out:
	dataplane__destroy(&dp);
	return skel;
}

int tc_attach__detach(const struct instance *in, int ifindex)
{
	char path[PATH_MAX];
	int fd, err = 0;

	tc_attach__pin(in, ifindex, path, sizeof(path));
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -ENOENT;
	/* Detach now, not when the last reference goes: lbctl itself may
	 * hold none, a concurrent reader might. */
	if (bpf_link_detach(fd) && errno != ENOLINK)
		err = -errno;
	close(fd);
	if (unlink(path) && !err)
		err = -errno;
	if (err)
		fprintf(stderr, "lbctl: cannot detach the tc link '%s': %s\n",
			path, strerror(-err));
	return err;
}

int tc_attach__ingress(const struct instance *in, int ifindex)
{
	char path[PATH_MAX];
	struct lb_tc *skel;
	int fd, err = 0;

	tc_attach__detach(in, ifindex); /* an earlier attach's, if any */
	skel = tc_attach__load(in);
	if (!skel) {
		err = -errno;
		fprintf(stderr,
			"lbctl: cannot load the tc ingress program: %s\n",
			strerror(errno));
		return err;
	}
	fd = bpf_link_create(bpf_program__fd(skel->progs.lb_tc_ingress),
			     ifindex,
			     (enum bpf_attach_type)TC_ATTACH_TCX_INGRESS, NULL);
	if (fd < 0) {
		err = fd;
		fprintf(stderr,
			"lbctl: cannot attach tc ingress (tcx) to ifindex %d: %s\n",
			ifindex, strerror(-err));
		goto out;
	}
	tc_attach__pin(in, ifindex, path, sizeof(path));
	if (bpf_obj_pin(fd, path)) {
		err = -errno;
		fprintf(stderr, "lbctl: cannot pin the tc link at '%s': %s\n",
			path, strerror(errno));
	}
	close(fd); /* the pin keeps it attached; without one it detaches */
out:
	lb_tc__destroy(skel);
	return err;
}

void tc_attach__unload(const struct instance *in)
{
	size_t plen = strlen(TC_ATTACH_PIN_PREFIX);
	DIR *dir = opendir(in->pin_dir);
	struct dirent *de;

	if (!dir)
		return;
	while ((de = readdir(dir)))
		if (!strncmp(de->d_name, TC_ATTACH_PIN_PREFIX, plen))
			tc_attach__detach(in, atoi(de->d_name + plen));
	closedir(dir);
}
