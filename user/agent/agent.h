/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
#ifndef LB_AGENT_H
#define LB_AGENT_H

#include "instance.h"

/* Run the agent until SIGTERM/SIGINT; SIGHUP re-reads config_path. */
int agent__run(struct instance *in, const char *config_path);

#endif /* LB_AGENT_H */
