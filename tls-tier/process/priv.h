/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Least privilege for the workers (DESIGN.md D12, nginx's `user`). The
 * master does what needs root before it forks (network namespace,
 * listeners, certificates and keys, ticket keys, error page, log files);
 * each worker, before its loop reads a client byte, becomes `user:` with
 * no capability in any set and no_new_privs, and checks that it did.
 */
#ifndef LBTLS_PRIV_H
#define LBTLS_PRIV_H

#include <stddef.h>

#include "config.h"

/* A worker that could not drop its privileges exits with this (EX_CONFIG):
 * the master says so rather than "exited with status 1". */
#define PRIV_EXIT_STATUS 78

/*
 * In the master, before forking workers for cfg: 0 when the workers can
 * become cfg->user (or none is set), else -EPERM with the reason in 'why'
 * (a capability the master lacks). Warns (log_warn) about an ACME webroot
 * the user cannot read, which would fail later, per request.
 */
int priv__check(const struct lbtls_config *cfg, char *why, size_t len);

/*
 * In a new worker: become u (setgroups, setresgid, setresuid when root),
 * clear the ambient, inheritable, permitted and effective capability sets,
 * drop the bounding set when CAP_SETPCAP allows, set no_new_privs, then
 * verify all of it. Does nothing without u->set. 0, or -errno after one
 * log line naming the step and the error.
 */
int priv__drop(const struct cfg_user *u);

/*
 * In the master, once it needs CAP_SYS_ADMIN no more (after --netns's
 * setns, or at once without it): out of every set, the bounding one too when CAP_SETPCAP allows,
 * so no later step, reload or exec can use it. 0 (also when it was not
 * held), or -errno with the step in 'why'.
 */
int priv__give_up_sys_admin(char *why, size_t len);

#endif /* LBTLS_PRIV_H */
