// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Dropping privileges in the workers. Capabilities through the raw
 * capget/capset system calls (version 3, two 32-bit words), so lbtls needs
 * no libcap. The order matters:
 *   1. ambient set cleared, bounding set dropped (needs CAP_SETPCAP, which
 *      the next steps take away);
 *   2. setgroups, setresgid, setresuid: leaving uid 0 clears the
 *      permitted, effective and ambient sets, not the inheritable one;
 *   3. capset with all sets empty (the inheritable one too);
 *   4. no_new_privs: nothing exec'd later could gain privileges;
 *   5. verify: ids, every set empty, no_new_privs on, and setuid(0) fails.
 */
#include <errno.h>
#include <grp.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "log.h"
#include "priv.h"

typedef struct __user_cap_data_struct cap_data[_LINUX_CAPABILITY_U32S_3];

static int caps_get(cap_data d)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };

	return syscall(SYS_capget, &h, d) ? -errno : 0;
}

static int caps_clear(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	cap_data d;

	memset(d, 0, sizeof(cap_data));
	return syscall(SYS_capset, &h, d) ? -errno : 0;
}

static bool has_cap(const cap_data d, int cap)
{
	return d[CAP_TO_INDEX(cap)].effective & CAP_TO_MASK(cap);
}

/* Some set still holds a capability. */
static bool caps_any(const cap_data d)
{
	unsigned i;

	for (i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
		if (d[i].effective || d[i].permitted || d[i].inheritable)
			return true;
	return false;
}

/* Could user u read (and, for a directory, search) what st describes? */
static bool readable_by(const struct stat *st, const struct cfg_user *u)
{
	mode_t need = S_ISDIR(st->st_mode) ? 5 : 4; /* r-x or r-- */
	unsigned i;

	if (st->st_uid == u->uid)
		return ((st->st_mode >> 6) & need) == need;
	for (i = 0; i < u->ngroups; i++)
		if (u->groups[i] == st->st_gid)
			return ((st->st_mode >> 3) & need) == need;
	if (st->st_gid == u->gid)
		return ((st->st_mode >> 3) & need) == need;
	return (st->st_mode & need) == need;
}

static void check_webroot(const struct lbtls_config *cfg)
{
	char path[PATH_MAX + 32];
	struct stat st;

	if (!*cfg->acme_webroot)
		return;
	snprintf(path, sizeof(path), "%s/.well-known/acme-challenge",
		 cfg->acme_webroot);
	if ((!stat(cfg->acme_webroot, &st) && !readable_by(&st, &cfg->user)) ||
	    (!stat(path, &st) && !readable_by(&st, &cfg->user)))
		log_warn(
			"%s:%d: user %s cannot read the acme_webroot %s: ACME challenges will get 404 (make it world-readable, or readable by the user's group)",
			cfg->path, cfg->user.line, cfg->user.text,
			cfg->acme_webroot);
}

int priv__check(const struct lbtls_config *cfg, char *why, size_t len)
{
	const struct cfg_user *u = &cfg->user;
	cap_data d;
	int err;

	if (!u->set || geteuid())
		return 0; /* config.c: a non-root lbtls runs them as itself */
	err = caps_get(d);
	if (err) {
		snprintf(why, len, "capget: %s", strerror(-err));
		return err;
	}
	if (!has_cap(d, CAP_SETUID) || !has_cap(d, CAP_SETGID)) {
		snprintf(
			why, len,
			"%s:%d: the workers cannot switch to user %s: the master lacks %s (in Docker: cap_add SETUID and SETGID)",
			cfg->path, u->line, u->text,
			!has_cap(d, CAP_SETUID) ? "CAP_SETUID" : "CAP_SETGID");
		return -EPERM;
	}
	check_webroot(cfg);
	return 0;
}

#define FAIL(step, ...)                                                    \
	do {                                                               \
		err = errno;                                               \
		log_err("cannot drop privileges to user %s: " step ": %s", \
			u->text, ##__VA_ARGS__, strerror(err));            \
		return -err;                                               \
	} while (0)

/* A check after the drop that failed: no errno to show. */
#define WRONG(fmt, ...)                                                    \
	do {                                                               \
		log_err("cannot drop privileges to user %s: verify: " fmt, \
			u->text, ##__VA_ARGS__);                           \
		return -EPERM;                                             \
	} while (0)

static int verify(const struct cfg_user *u)
{
	uid_t r, e, s;
	gid_t rg, eg, sg;
	cap_data d;
	int cap, err;

	if (getresuid(&r, &e, &s))
		FAIL("getresuid");
	if (getresgid(&rg, &eg, &sg))
		FAIL("getresgid");
	if (!r || !e || !s || r != u->uid || e != u->uid || s != u->uid ||
	    (uid_t)setfsuid(-1) != u->uid)
		WRONG("uids are %u/%u/%u, not %u", (unsigned)r, (unsigned)e,
		      (unsigned)s, (unsigned)u->uid);
	if (rg != u->gid || eg != u->gid || sg != u->gid)
		WRONG("gids are %u/%u/%u, not %u", (unsigned)rg, (unsigned)eg,
		      (unsigned)sg, (unsigned)u->gid);
	if (caps_get(d))
		FAIL("verify: capget");
	if (caps_any(d))
		WRONG("capabilities left (effective %08x%08x, permitted %08x%08x, inheritable %08x%08x)",
		      d[1].effective, d[0].effective, d[1].permitted,
		      d[0].permitted, d[1].inheritable, d[0].inheritable);
	for (cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++)
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0) > 0)
			WRONG("ambient capability %d left", cap);
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		WRONG("no_new_privs is not set");
	if (!setuid(0))
		WRONG("setuid(0) succeeded");
	return 0;
}

int priv__drop(const struct cfg_user *u)
{
	bool root = !geteuid();
	cap_data d;
	int cap, err;

	if (!u->set)
		return 0;
	if (caps_get(d))
		FAIL("capget");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0))
		FAIL("prctl(PR_CAP_AMBIENT_CLEAR_ALL)");
	/* Without CAP_SETPCAP the bounding set stays; no_new_privs and an
	 * empty permitted set leave it nothing to grant. */
	if (has_cap(d, CAP_SETPCAP))
		for (cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++)
			if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0))
				FAIL("prctl(PR_CAPBSET_DROP, %d)", cap);
	if (root) {
		if (setgroups(u->ngroups, u->groups))
			FAIL("setgroups(%u groups)", u->ngroups);
		if (setresgid(u->gid, u->gid, u->gid))
			FAIL("setresgid(%u)", (unsigned)u->gid);
		if (setresuid(u->uid, u->uid, u->uid))
			FAIL("setresuid(%u)", (unsigned)u->uid);
	}
	if (caps_clear())
		FAIL("capset(all sets empty)");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		FAIL("prctl(PR_SET_NO_NEW_PRIVS)");
	return verify(u);
}

int priv__give_up_sys_admin(char *why, size_t len)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	__u32 bit = CAP_TO_MASK(CAP_SYS_ADMIN);
	unsigned i = CAP_TO_INDEX(CAP_SYS_ADMIN);
	cap_data d;
	int err;

	err = caps_get(d);
	if (err) {
		snprintf(why, len, "capget: %s", strerror(-err));
		return err;
	}
	if (has_cap(d, CAP_SETPCAP) &&
	    prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN, 0, 0, 0) > 0 &&
	    prctl(PR_CAPBSET_DROP, CAP_SYS_ADMIN, 0, 0, 0)) {
		err = -errno;
		snprintf(why, len, "prctl(PR_CAPBSET_DROP, CAP_SYS_ADMIN): %s",
			 strerror(-err));
		return err;
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, CAP_SYS_ADMIN, 0, 0) &&
	    errno != EINVAL) {
		err = -errno;
		snprintf(why, len, "prctl(PR_CAP_AMBIENT_LOWER): %s",
			 strerror(-err));
		return err;
	}
	if (!((d[i].effective | d[i].permitted | d[i].inheritable) & bit))
		return 0;
	d[i].effective &= ~bit;
	d[i].permitted &= ~bit;
	d[i].inheritable &= ~bit;
	if (syscall(SYS_capset, &h, d)) {
		err = -errno;
		snprintf(why, len, "capset(without CAP_SYS_ADMIN): %s",
			 strerror(-err));
		return err;
	}
	return 0;
}
