// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include "agent_shield.h"
#include "firewall.h"

int agent_shield__apply(struct instance *in, struct dataplane *dp,
			const struct agent_config *cfg)
{
	char path[PATH_MAX];
	int err, n;

	fw__file_path(in->name, path, sizeof(path));
	err = instance__lock(in);
	if (err)
		return err;
	n = fw__apply_file(dp, in->name, stderr);
	if (n >= 0)
		err = flood__apply(dp, &cfg->flood);
	instance__unlock(in);
	if (n < 0) {
		fprintf(stderr,
			"lbctl agent: firewall list %s not applied: %s\n", path,
			strerror(-n));
		return n;
	}
	if (err < 0) {
		fprintf(stderr,
			"lbctl agent: cannot write the flood settings: %s\n",
			strerror(-err));
		return err;
	}
	fprintf(stderr,
		"lbctl agent: firewall %s: %u IPv4, %u IPv6 prefixes, %d changed; flood %s\n",
		path, dp->cfg.src_rules_v4, dp->cfg.src_rules_v6, n,
		cfg->flood.enabled ? "on" : "off");
	return 0;
}
