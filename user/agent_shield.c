// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "agent_shield.h"
#include "managed.h"

#define LOG "lbctl agent: "

int agent_shield__apply(struct instance *in, struct dataplane *dp,
			const struct agent_config *cfg, const char *config_path)
{
	struct fw_list file = { 0 }, want = { 0 };
	struct managed m = { 0 };
	int err, changes, i;

	err = fw_list__load(cfg->fw_file, &file, stderr);
	if (err) {
		fprintf(stderr,
			LOG "firewall list %s has errors: nothing applied\n",
			cfg->fw_file);
		goto out;
	}
	for (i = 0; i < cfg->nfw && !err; i++)
		err = fw_list__push(&m.inline_rules, &cfg->fw[i]);
	err = err ?: fw__union(&m.inline_rules, config_path, &file,
			       cfg->fw_file, &want);
	if (err)
		goto out;
	err = instance__lock(in);
	if (err)
		goto out;
	changes = fw__apply(dp, &want, stderr, LOG "firewall: ");
	if (changes < 0) {
		err = changes;
		fprintf(stderr, LOG "cannot apply the firewall list: %s\n",
			strerror(-err));
	}
	if (!err && cfg->flood_line) {
		err = flood__apply(dp, &cfg->flood);
		if (err > 0)
			fprintf(stderr, LOG "flood settings from %s:%d applied\n",
				config_path, cfg->flood_line);
		else if (err < 0)
			fprintf(stderr, LOG "cannot apply the flood settings: %s\n",
				strerror(-err));
		err = err < 0 ? err : 0;
	}
	if (!err) {
		if (!realpath(config_path, m.config))
			snprintf(m.config, sizeof(m.config), "%s", config_path);
		snprintf(m.fw_file, sizeof(m.fw_file), "%s", cfg->fw_file);
		m.flood_line = cfg->flood_line;
		err = managed__write(in->name, &m);
		if (err)
			fprintf(stderr, LOG "cannot publish what the config manages: %s\n",
				strerror(-err));
	}
	instance__unlock(in);
	if (!err)
		fprintf(stderr,
			LOG "firewall: %zu entries (%d inline, list %s), %d changed\n",
			want.n, cfg->nfw, cfg->fw_file, changes);
out:
	managed__free(&m);
	fw_list__free(&file);
	fw_list__free(&want);
	return err;
}
