// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>
#include "attach.h"
#include "firewall.h"
#include "tc_attach.h"
#include "lb_xdp.skel.h"

int attach__sk_lookup_ok(const struct instance *in)
{
	struct bpf_link_info info = { 0 };
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd, ok;

	instance__pin_path(in, INSTANCE_SK_LOOKUP_LINK, path, sizeof(path));
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	ok = !bpf_obj_get_info_by_fd(fd, &info, &len) &&
	     info.type == BPF_LINK_TYPE_NETNS && info.netns.netns_ino != 0;
	close(fd);
	return ok;
}

int attach__ensure_loaded(struct instance *in,
			  const struct dataplane_opts *opts)
{
	struct dataplane_opts o = *opts;
	struct bpf_link *link = NULL;
	char path[PATH_MAX];
	struct dataplane dp;
	int err;

	if (instance__exists(in) && attach__sk_lookup_ok(in))
		return 0;
	err = instance__enter_netns(in);
	if (err)
		return err;
	o.pin_dir = in->pin_dir;
	err = dataplane__load(&dp, &o);
	if (err)
		return err;
	/* fresh tries: the saved deny/allow list before any traffic */
	err = fw__apply_file(&dp, in->name, NULL);
	if (err < 0)
		goto out;
	instance__pin_path(in, INSTANCE_SK_LOOKUP_LINK, path, sizeof(path));
	unlink(path); /* a stale link whose namespace is gone */
	link = dataplane__attach_netns(&dp, in->netns_fd);
	if (!link) {
		err = -errno;
		fprintf(stderr,
			"lbctl: cannot attach sk_lookup to the network namespace: %s\n",
			strerror(errno));
		goto out;
	}
	err = bpf_link__pin(link, path);
	if (err)
		fprintf(stderr,
			"lbctl: cannot pin the sk_lookup link at '%s': %s\n",
			path, strerror(-err));
out:
	bpf_link__destroy(link); /* the pin keeps it attached */
	dataplane__destroy(&dp);
	return err;
}

static int attach__ifindex(const char *ifname)
{
	int ifindex = if_nametoindex(ifname);

	if (!ifindex)
		fprintf(stderr,
			"lbctl: cannot attach to '%s': no such interface\n",
			ifname);
	return ifindex ? ifindex : -ENODEV;
}

/* An XDP object whose maps are the instance's pinned ones. */
static struct lb_xdp *attach__open_xdp(const struct instance *in)
{
	struct dataplane dp;
	struct lb_xdp *skel;
	int err;

	err = dataplane__open_pinned(&dp, in->pin_dir);
	if (err) {
		errno = -err;
		return NULL;
	}
	skel = lb_xdp__open();
	if (!skel)
		goto out;
	if (dataplane__use_pins(skel->obj, in->pin_dir, dp.cfg.ring_size)) {
		lb_xdp__destroy(skel);
		skel = NULL;
		goto out;
	}
out:
	dataplane__destroy(&dp);
	return skel;
}

/*
 * The id of the instance's pinned lb_config, or 0 (not loaded). A program
 * is this instance's if it uses that map: every instance loads the same
 * program under the same name, so a name says nothing about whose it is.
 */
static __u32 attach__config_id(const struct instance *in)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd;

	instance__pin_path(in, LB_MAP_CONFIG, path, sizeof(path));
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		info.id = 0;
	close(fd);
	return info.id;
}

static int attach__prog_uses(const struct xdp_program *p, __u32 map_id)
{
	struct bpf_prog_info info = { 0 };
	__u32 len = sizeof(info), ids[64], i;
	int fd = xdp_program__fd(p);

	if (fd < 0 || !map_id)
		return 0;
	info.nr_map_ids = sizeof(ids) / sizeof(ids[0]);
	info.map_ids = (__u64)(unsigned long)ids;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return 0;
	for (i = 0; i < info.nr_map_ids && i < sizeof(ids) / sizeof(ids[0]);
	     i++)
		if (ids[i] == map_id)
			return 1;
	return 0;
}

/* This instance's program in the interface's dispatcher (or alone,
 * legacy), found by the map it uses (attach__config_id), if any. */
static struct xdp_program *attach__find(struct xdp_multiprog *mp, __u32 map_id)
{
	struct xdp_program *p;

	if (xdp_multiprog__is_legacy(mp)) {
		p = xdp_multiprog__main_prog(mp);
		return p && attach__prog_uses(p, map_id) ? p : NULL;
	}
	for (p = xdp_multiprog__next_prog(NULL, mp); p;
	     p = xdp_multiprog__next_prog(p, mp))
		if (attach__prog_uses(p, map_id))
			return p;
	return NULL;
}

/* Is this instance's program on ifindex already? In which mode? */
static int attach__attached(const struct instance *in, int ifindex,
			    enum attach_mode *mode)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);
	int found;

	if (libxdp_get_error(mp))
		return 0;
	found = attach__find(mp, attach__config_id(in)) != NULL;
	*mode = xdp_multiprog__attach_mode(mp) == XDP_MODE_NATIVE ?
			ATTACH_NATIVE :
			ATTACH_GENERIC;
	xdp_multiprog__close(mp);
	return found;
}

static int attach__xdp_prog(struct instance *in, const char *ifname,
			    enum attach_mode mode, enum attach_mode *mode_used)
{
	struct xdp_program *prog = NULL;
	struct lb_xdp *skel = NULL;
	char msg[128];
	int ifindex, err;

	err = instance__enter_netns(in);
	if (err)
		return err;
	ifindex = attach__ifindex(ifname);
	if (ifindex < 0)
		return ifindex;
	if (attach__attached(in, ifindex, mode_used)) /* once is enough */
		return 0;
	/* cookie ACKs are checked in tc: there before XDP sends a cookie */
	err = tc_attach__ingress(in, ifindex);
	if (err)
		return err;
	skel = attach__open_xdp(in);
	if (!skel) {
		err = -errno;
		fprintf(stderr, "lbctl: cannot open the XDP program: %s\n",
			strerror(errno));
		tc_attach__detach(in, ifindex);
		return err;
	}
	prog = xdp_program__from_bpf_obj(skel->obj, NULL);
	err = libxdp_get_error(prog);
	if (err) {
		prog = NULL;
		goto out;
	}
	*mode_used = mode;
	if (mode == ATTACH_NATIVE) {
		err = xdp_program__attach(prog, ifindex, XDP_MODE_NATIVE, 0);
		if (!err)
			goto out;
		libxdp_strerror(err, msg, sizeof(msg));
		fprintf(stderr,
			"lbctl: warning: native XDP on '%s' failed (%s); using generic mode\n",
			ifname, msg);
		*mode_used = ATTACH_GENERIC;
	}
	err = xdp_program__attach(prog, ifindex, XDP_MODE_SKB, 0);
out:
	if (err) {
		libxdp_strerror(err, msg, sizeof(msg));
		fprintf(stderr, "lbctl: cannot attach to '%s': %s\n", ifname,
			msg);
		tc_attach__detach(in, ifindex);
	}
	xdp_program__close(prog);
	lb_xdp__destroy(skel);
	return err;
}

/* --- can XDP_TX leave? -------------------------------------------------- */

/* What RTM_GETLINK says of one link, as far as XDP_TX cares. */
struct attach_link {
	char name[IFNAMSIZ];
	char kind[16]; /* IFLA_INFO_KIND: "veth", ... */
	int peer; /* IFLA_LINK: a veth's peer ifindex; 0: none */
	int peer_nsid; /* IFLA_LINK_NETNSID; -1: same namespace */
	int xdp_drv; /* a native XDP program is attached */
};

static void attach__parse_link(struct nlmsghdr *h, struct attach_link *l)
{
	struct ifinfomsg *ifi = NLMSG_DATA(h);
	int len = IFLA_PAYLOAD(h), nlen, xlen;
	struct rtattr *a, *n, *x;

	for (a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		switch (a->rta_type) {
		case IFLA_IFNAME:
			snprintf(l->name, sizeof(l->name), "%s",
				 (char *)RTA_DATA(a));
			break;
		case IFLA_LINK:
			l->peer = *(int *)RTA_DATA(a);
			break;
		case IFLA_LINK_NETNSID:
			l->peer_nsid = *(int *)RTA_DATA(a);
			break;
		case IFLA_LINKINFO:
			nlen = RTA_PAYLOAD(a);
			for (n = RTA_DATA(a); RTA_OK(n, nlen);
			     n = RTA_NEXT(n, nlen))
				if (n->rta_type == IFLA_INFO_KIND)
					snprintf(l->kind, sizeof(l->kind), "%s",
						 (char *)RTA_DATA(n));
			break;
		case IFLA_XDP:
			xlen = RTA_PAYLOAD(a);
			for (x = RTA_DATA(a); RTA_OK(x, xlen);
			     x = RTA_NEXT(x, xlen))
				if (x->rta_type == IFLA_XDP_DRV_PROG_ID &&
				    *(__u32 *)RTA_DATA(x))
					l->xdp_drv = 1;
			break;
		}
	}
}

/* RTM_GETLINK of ifindex in the namespace with id nsid (-1: ours). */
static int attach__get_link(int ifindex, int nsid, struct attach_link *l)
{
	struct {
		struct nlmsghdr h;
		struct ifinfomsg ifi;
		char attrs[64];
	} req = {
		.h.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg)),
		.h.nlmsg_type = RTM_GETLINK,
		.h.nlmsg_flags = NLM_F_REQUEST,
		.ifi.ifi_family = AF_UNSPEC,
		.ifi.ifi_index = ifindex,
	};
	char buf[32768]; /* one link: a few KiB, more with VFs */
	struct nlmsghdr *h;
	struct rtattr *a;
	int fd, len, err = -ENOENT;

	memset(l, 0, sizeof(*l));
	l->peer_nsid = -1;
	if (nsid >= 0) {
		a = (struct rtattr *)((char *)&req + req.h.nlmsg_len);
		a->rta_type = IFLA_TARGET_NETNSID;
		a->rta_len = RTA_LENGTH(sizeof(int));
		*(int *)RTA_DATA(a) = nsid;
		req.h.nlmsg_len += RTA_ALIGN(a->rta_len);
	}
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	if (send(fd, &req, req.h.nlmsg_len, 0) < 0) {
		err = -errno;
		goto out;
	}
	len = recv(fd, buf, sizeof(buf), 0);
	if (len < 0) {
		err = -errno;
		goto out;
	}
	for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (unsigned)len);
	     h = NLMSG_NEXT(h, len)) {
		if (h->nlmsg_type == NLMSG_ERROR) {
			err = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
			break;
		}
		if (h->nlmsg_type == RTM_NEWLINK) {
			attach__parse_link(h, l);
			err = 0;
			break;
		}
	}
out:
	close(fd);
	return err;
}

/* GRO on a link of our namespace (veth: GRO gives its receive side NAPI). */
static int attach__gro_on(const char *name)
{
	struct ethtool_value ev = { .cmd = ETHTOOL_GGRO };
	struct ifreq ifr = { .ifr_data = (void *)&ev };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), on;

	if (fd < 0)
		return 0;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	on = !ioctl(fd, SIOCETHTOOL, &ifr) && ev.data;
	close(fd);
	return on;
}

/*
 * Can our XDP_TX frames (cookie SYN-ACKs) leave ifindex? 0 if so, else
 * LB_COOKIE_OFF_* with the why in why. Without a native program on the
 * interface (generic mode): yes; its XDP_TX goes through the device's own
 * transmit (on a veth, veth_xmit into the peer's backlog;
 * tests/net/test_cookie_gate.sh checks it on this kernel).
 * Native mode on a veth: veth_xdp_xmit() drops the frame unless the peer
 * has NAPI, which only a native XDP program or GRO on the peer gives it.
 * The peer may be in another namespace (IFLA_LINK_NETNSID): its XDP
 * program is seen from here (IFLA_TARGET_NETNSID), its GRO is not. Other
 * drivers with native XDP transmit XDP_TX themselves.
 */
static int attach__tx_check(int ifindex, char *why, size_t len)
{
	struct attach_link l, p;

	if (attach__get_link(ifindex, -1, &l) || !l.xdp_drv ||
	    strcmp(l.kind, "veth") || !l.peer)
		return 0;
	if (attach__get_link(l.peer, l.peer_nsid, &p))
		snprintf(p.name, sizeof(p.name), "ifindex %d", l.peer);
	else if (p.xdp_drv)
		return 0;
	else if (l.peer_nsid < 0 && attach__gro_on(p.name))
		return 0;
	snprintf(
		why, len,
		"its veth peer '%s'%s has no native XDP program%s, so XDP_TX frames are dropped",
		p.name, l.peer_nsid < 0 ? "" : " (another namespace)",
		l.peer_nsid < 0 ? " and no GRO" : "");
	return LB_COOKIE_OFF_VETH_PEER;
}

const char *attach__cookie_off_name(__u32 reason)
{
	switch (reason) {
	case 0:
		return "ok";
	case LB_COOKIE_OFF_VETH_PEER:
		return "veth-peer-no-napi";
	default:
		return "?";
	}
}

static int attach__cookie_ifs(const struct instance *in)
{
	char path[PATH_MAX];

	instance__pin_path(in, LB_MAP_COOKIE_IFS, path, sizeof(path));
	return bpf_obj_get(path);
}

int attach__cookie_check(struct instance *in, const char *ifname)
{
	int ifindex = if_nametoindex(ifname), fd, had, err = 0;
	struct lb_cookie_if v = { 0 }, old;
	char why[160];
	__u32 key;

	if (!ifindex)
		return -ENODEV;
	fd = attach__cookie_ifs(in);
	if (fd < 0)
		return -errno;
	key = ifindex;
	v.reason = attach__tx_check(ifindex, why, sizeof(why));
	had = !bpf_map_lookup_elem(fd, &key, &old);
	if (v.reason && (!had || old.reason != v.reason)) {
		if (bpf_map_update_elem(fd, &key, &v, BPF_ANY))
			err = -errno;
		fprintf(stderr,
			"lbctl: XDP SYN cookies off on '%s' (%s): %s; the kernel's own syncookies answer floods there\n",
			ifname, attach__cookie_off_name(v.reason), why);
	} else if (!v.reason && had) {
		if (bpf_map_delete_elem(fd, &key))
			err = -errno;
		fprintf(stderr, "lbctl: XDP SYN cookies on '%s' again\n",
			ifname);
	}
	close(fd);
	return err ?: (int)v.reason;
}

static void attach__cookie_forget(const struct instance *in, int ifindex)
{
	int fd = attach__cookie_ifs(in);
	__u32 key = ifindex;

	if (fd < 0)
		return;
	bpf_map_delete_elem(fd, &key);
	close(fd);
}

__u32 attach__cookie_reason(const struct instance *in, int ifindex)
{
	struct lb_cookie_if v = { 0 };
	int fd = attach__cookie_ifs(in);
	__u32 key = ifindex;

	if (fd >= 0) {
		bpf_map_lookup_elem(fd, &key, &v);
		close(fd);
	}
	return v.reason;
}

int attach__xdp(struct instance *in, const char *ifname, enum attach_mode mode,
		enum attach_mode *mode_used)
{
	int err = attach__xdp_prog(in, ifname, mode, mode_used);

	if (!err)
		attach__cookie_check(in, ifname);
	return err;
}

int attach__xdp_detach(struct instance *in, const char *ifname)
{
	struct xdp_multiprog *mp;
	struct xdp_program *p;
	int ifindex, err;

	err = instance__enter_netns(in);
	if (err)
		return err;
	ifindex = if_nametoindex(ifname);
	if (!ifindex) {
		fprintf(stderr,
			"lbctl: cannot detach from '%s': no such interface\n",
			ifname);
		return -ENODEV;
	}
	mp = xdp_multiprog__get_from_ifindex(ifindex);
	if (libxdp_get_error(mp) ||
	    !(p = attach__find(mp, attach__config_id(in)))) {
		fprintf(stderr,
			"lbctl: cannot detach from '%s': instance '%s' is not attached there\n",
			ifname, in->name);
		if (!libxdp_get_error(mp))
			xdp_multiprog__close(mp);
		return -ENOENT;
	}
	err = xdp_program__detach(p, ifindex, xdp_multiprog__attach_mode(mp),
				  0);
	tc_attach__detach(in, ifindex);
	attach__cookie_forget(in, ifindex);
	if (err)
		fprintf(stderr, "lbctl: cannot detach from '%s': %s\n", ifname,
			strerror(-err));
	xdp_multiprog__close(mp);
	return err;
}

static const char *attach__mode_name(enum xdp_attach_mode m)
{
	switch (m) {
	case XDP_MODE_NATIVE:
		return "native";
	case XDP_MODE_SKB:
		return "generic";
	case XDP_MODE_HW:
		return "offload";
	default:
		return "?";
	}
}

int attach__list(const struct instance *in, struct attachment *out, int max)
{
	__u32 map_id = attach__config_id(in);
	struct if_nameindex *ifs, *i;
	struct xdp_multiprog *mp;
	int n = 0;

	if (!map_id)
		return 0; /* not loaded: nothing can be attached */
	ifs = if_nameindex();
	if (!ifs)
		return -errno;
	for (i = ifs; i->if_index && n < max; i++) {
		mp = xdp_multiprog__get_from_ifindex(i->if_index);
		if (libxdp_get_error(mp))
			continue;
		if (attach__find(mp, map_id)) {
			snprintf(out[n].ifname, sizeof(out[n].ifname), "%s",
				 i->if_name);
			out[n].mode = attach__mode_name(
				xdp_multiprog__attach_mode(mp));
			out[n].cookies_off =
				attach__cookie_reason(in, i->if_index);
			n++;
		}
		xdp_multiprog__close(mp);
	}
	if_freenameindex(ifs);
	return n;
}

int attach__unload(struct instance *in)
{
	struct attachment at[64];
	char path[PATH_MAX];
	int n, i, err;

	err = instance__enter_netns(in);
	if (err)
		return err;
	n = attach__list(in, at, 64); /* this instance's only */
	for (i = 0; i < n; i++)
		attach__xdp_detach(in, at[i].ifname);
	tc_attach__unload(in);
	instance__pin_path(in, INSTANCE_SK_LOOKUP_LINK, path, sizeof(path));
	unlink(path);
	for (i = 0; i < DP_MAP_COUNT; i++) {
		instance__pin_path(in, dataplane__map_name(i), path,
				   sizeof(path));
		unlink(path);
	}
	instance__pin_path(in, LB_MAP_COOKIE_IFS, path, sizeof(path));
	unlink(path); /* not a DP_ map: only attach.c and XDP use it */
	if (rmdir(in->pin_dir) && errno != ENOENT) {
		fprintf(stderr, "lbctl: cannot remove '%s': %s\n", in->pin_dir,
			strerror(errno));
		return -errno;
	}
	return 0;
}
