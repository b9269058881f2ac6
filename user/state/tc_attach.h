/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The tc ingress program (SYN-cookie ACKs, bpf/lb_tc.bpf.c) on the
 * interfaces that run our XDP program: a tcx ingress link per interface,
 * pinned in the instance's directory as link_tcx_<ifindex>, so detach and
 * unload find this instance's link by its pin and nothing else.
 */
#ifndef LB_TC_ATTACH_H
#define LB_TC_ATTACH_H

#include "instance.h"

#define TC_ATTACH_PIN_PREFIX "link_tcx_"

/* Attach (or re-attach) to ifindex of the current namespace. */
int tc_attach__ingress(const struct instance *in, int ifindex);
/* Detach and unpin; -ENOENT if this instance has no link there. */
int tc_attach__detach(const struct instance *in, int ifindex);
/* Detach and unpin every link of the instance. */
void tc_attach__unload(const struct instance *in);

#endif /* LB_TC_ATTACH_H */
