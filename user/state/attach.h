/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Putting the programs in the kernel: the pinned maps and the sk_lookup link
 * of an instance (created once, reused by every later command), and the XDP
 * program on interfaces through libxdp's dispatcher, so other XDP programs
 * can share the NIC.
 */
#ifndef LB_ATTACH_H
#define LB_ATTACH_H

#include "dataplane.h"
#include "instance.h"

enum attach_mode {
	ATTACH_NATIVE,
	ATTACH_GENERIC,
};

/* Create the pinned maps and the pinned sk_lookup link on the instance's
 * network namespace unless they exist. Caller holds the instance lock. */
int attach__ensure_loaded(struct instance *in,
			  const struct dataplane_opts *opts);
/* Attach XDP to ifname; native falls back to generic with a warning.
 * *mode_used says which took. -ENODEV: no such interface. */
int attach__xdp(struct instance *in, const char *ifname, enum attach_mode mode,
		enum attach_mode *mode_used);
int attach__xdp_detach(struct instance *in, const char *ifname);
/* Can XDP_TX frames leave ifname as its XDP runs now (native or generic)?
 * Keeps lb_cookie_ifs in step (XDP sends no cookie where they cannot)
 * and says so on stderr when that changes. Returns 0 (cookies on), an
 * enum lb_cookie_off, or -errno. attach__xdp() runs it; the agent again
 * on its timer. */
int attach__cookie_check(struct instance *in, const char *ifname);
/* lb_cookie_ifs's entry for ifindex: 0 (none: cookies on) or why not. */
__u32 attach__cookie_reason(const struct instance *in, int ifindex);
/* "ok" or the short name of an enum lb_cookie_off, for status and
 * metrics. */
const char *attach__cookie_off_name(__u32 reason);

struct attachment {
	char ifname[16];
	const char *mode; /* "native", "generic", "offload" */
	__u32 cookies_off; /* lb_cookie_ifs: enum lb_cookie_off, 0: on */
};
/* Interfaces of the current namespace running this instance's XDP program:
 * the one using its pinned maps (another instance's program has the same
 * name). */
int attach__list(const struct instance *in, struct attachment *out, int max);
/* Is the pinned sk_lookup link there and attached to a live namespace? */
int attach__sk_lookup_ok(const struct instance *in);
/* Detach this instance's XDP everywhere in the namespace, unpin its link
 * and maps; other instances' programs and pins stay. */
int attach__unload(struct instance *in);

#endif /* LB_ATTACH_H */
