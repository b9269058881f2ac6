/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The agent's part of XDP's shield: the source deny/allow list (the list
 * file and the config's inline entries, applied as their union) and the
 * flood settings, applied at start and on SIGHUP; then what the config
 * manages is published for lbctl (managed.h).
 */
#ifndef LB_AGENT_SHIELD_H
#define LB_AGENT_SHIELD_H

#include "agent_config.h"
#include "dataplane.h"
#include "instance.h"

/*
 * Read the list file, check it against the inline entries, and write only
 * the differences into the tries (counts exact) and the flood settings
 * into lb_config, under the instance lock. A bad list file, or an entry the
 * file and the config disagree on, is printed as FILE:LINE and returns
 * -EINVAL before anything changes. config_path names the config in the
 * published file.
 */
int agent_shield__apply(struct instance *in, struct dataplane *dp,
			const struct agent_config *cfg,
			const char *config_path);

#endif /* LB_AGENT_SHIELD_H */
