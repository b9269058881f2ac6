/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * lbctl's scale-out commands (docs/scaleout.md): "cluster" (what the maps
 * say: self, hosts, each host's share of every VIP's ring and how the
 * second chance differs), "cluster drain|undrain" (the drain file the
 * agent reads every heartbeat), and the host part of "pick".
 */
#ifndef LB_CLUSTER_CLI_H
#define LB_CLUSTER_CLI_H

#include "dataplane.h"
#include "instance.h"

/* cmd: "cluster", "cluster drain" or "cluster undrain". The caller holds
 * the instance lock and has dp open. Errors are printed. */
int cluster_cli__run(struct instance *in, struct dataplane *dp,
		     const char *cmd);

/* Print pick's answer for ring slot value 'ref': "worker W on host H
 * (ADDR)" when clustered, else the plain id, as before. */
void cluster_cli__print_pick(const struct dataplane *dp, __u32 ref);

#endif /* LB_CLUSTER_CLI_H */
