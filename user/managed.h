/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the agent's config manages, published for lbctl so that the CLI and
 * the agent never overwrite each other silently: the agent writes
 * /run/lbctl/<instance>.managed each time it applies its config (start,
 * SIGHUP); lbctl reads it to learn which list file 'deny/allow add/del'
 * must edit, which entries come from the config's inline lists (lbctl
 * refuses to delete those), and whether the flood settings come from the
 * config (lbctl refuses 'flood set' then). No file: no agent has applied
 * a config since boot; the default list file is used and nothing is
 * refused.
 */
#ifndef LB_MANAGED_H
#define LB_MANAGED_H

#include <limits.h>
#include "firewall.h"

struct managed {
	char config[PATH_MAX]; /* the agent config; "" if none */
	char fw_file[PATH_MAX]; /* the list file */
	int flood_line; /* line of the config's flood: section; 0: none */
	struct fw_list inline_rules; /* origin FW_FROM_CONFIG, with lines */
};

void managed__path(const char *instance, char *buf, size_t len);
/* Read the instance's file; with none (-ENOENT is not an error), the
 * defaults. 0 or -errno (an unreadable or garbled file, printed). */
int managed__read(const char *instance, struct managed *m);
int managed__write(const char *instance, const struct managed *m);
void managed__free(struct managed *m);

#endif /* LB_MANAGED_H */
