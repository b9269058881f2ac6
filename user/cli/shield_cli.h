/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * lbctl's shield commands: "deny add|del|list", "allow add|del|list"
 * (edit the instance's list file, then make the tries equal to it) and
 * "flood" (the flood settings in lb_config, and the CPUs in flood mode).
 */
#ifndef LB_SHIELD_CLI_H
#define LB_SHIELD_CLI_H

#include "dataplane.h"
#include "instance.h"

/* cmd is the command's name ("deny add"); arg its PREFIX or NULL. The
 * caller holds the instance lock and has dp open. Errors are printed. */
int shield_cli__run(struct instance *in, struct dataplane *dp, const char *cmd,
		    const char *arg);

#endif /* LB_SHIELD_CLI_H */
