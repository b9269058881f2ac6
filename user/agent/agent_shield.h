/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The agent's part of XDP's shield: the instance's source deny/allow list
 * file (firewall.h) and the config's flood settings, applied at start and
 * on SIGHUP.
 */
#ifndef LB_AGENT_SHIELD_H
#define LB_AGENT_SHIELD_H

#include "agent_config.h"
#include "dataplane.h"
#include "instance.h"

/*
 * Under the instance lock: the list file into the tries (only the
 * differences; counts exact), then the flood settings into lb_config. A
 * list file with errors is printed as FILE:LINE and returns -EINVAL with
 * nothing changed.
 */
int agent_shield__apply(struct instance *in, struct dataplane *dp,
			const struct agent_config *cfg);

#endif /* LB_AGENT_SHIELD_H */
