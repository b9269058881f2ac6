/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * One balancer instance: its pin directory under the BPF filesystem, the
 * lock that serialises changes between lbctl commands and the agent, the
 * lock its one agent holds for its lifetime, and the network namespace it
 * serves.
 */
#ifndef LB_INSTANCE_H
#define LB_INSTANCE_H

#include <limits.h>
#include <sys/types.h>

#define INSTANCE_DEFAULT "lb0"
#define INSTANCE_BPFFS "/sys/fs/bpf"
#define INSTANCE_RUN_DIR "/run/lbctl"
#define INSTANCE_SK_LOOKUP_LINK "link_sk_lookup"

struct instance {
	const char *name;
	const char *bpffs;
	const char *netns; /* NULL: the namespace lbctl runs in */
	char pin_dir[256]; /* bpffs (< 200 bytes) / name (<= 32) */
	int lock_fd;
	int agent_lock_fd; /* held by the agent for its lifetime; -1 */
	int netns_fd; /* of the namespace served; -1 until entered */
};

/* Check the name, work out the paths; mount the BPF filesystem if absent. */
int instance__init(struct instance *in, const char *name, const char *bpffs,
		   const char *netns);
/* Enter the configured network namespace (mount namespace untouched, so
 * the BPF filesystem stays the host's) and keep an fd to it. */
int instance__enter_netns(struct instance *in);
int instance__lock(struct instance *in);
void instance__unlock(struct instance *in);
/*
 * One agent per instance: the agent takes /run/lbctl/<name>.agent.lock
 * (a write lock, its pid written in it) for its whole life. -EBUSY if
 * another process holds it, with *holder set to that pid (0 if unknown).
 * Unlike instance__lock(), never waits.
 */
int instance__agent_lock(struct instance *in, pid_t *holder);
/* Remove the lock file and release it (the agent leaving). */
void instance__agent_unlock(struct instance *in);
/* Is an agent running for this instance? 1 with *pid (0 if unknown), or
 * 0. Takes no lock, so it never disturbs an agent starting. */
int instance__agent_running(const struct instance *in, pid_t *pid);
int instance__pin_path(const struct instance *in, const char *name, char *buf,
		       size_t len);
/* Does the instance have pinned state? */
int instance__exists(const struct instance *in);
void instance__close(struct instance *in);

#endif /* LB_INSTANCE_H */
