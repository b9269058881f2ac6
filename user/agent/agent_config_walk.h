/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The YAML walk the config parsers share (agent_config.c, the cluster:
 * section in cluster_config.c): every error FILE:LINE: reason, counted.
 */
#ifndef LB_AGENT_CONFIG_WALK_H
#define LB_AGENT_CONFIG_WALK_H

#include <stddef.h>
#include <linux/types.h>
#include <yaml.h>

struct walk {
	const char *path;
	yaml_document_t *doc;
	int errors;
};

void cfg_error(struct walk *w, const yaml_node_t *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
const char *cfg_scalar(struct walk *w, const yaml_node_t *n, const char *what);
int cfg_get_u32(struct walk *w, const yaml_node_t *n, const char *what,
		__u32 min, __u32 max, __u32 *out);
int cfg_get_str(struct walk *w, const yaml_node_t *n, const char *what,
		char *out, size_t len);
int cfg_want(struct walk *w, const yaml_node_t *n, yaml_node_type_t type,
	     const char *what);
int cfg_get_bool(struct walk *w, const yaml_node_t *n, const char *what,
		 int *out);

#define for_each_pair(doc, map, p)                \
	for (p = (map)->data.mapping.pairs.start; \
	     p < (map)->data.mapping.pairs.top; p++)
#define for_each_item(doc, seq, it)                 \
	for (it = (seq)->data.sequence.items.start; \
	     it < (seq)->data.sequence.items.top; it++)

#endif /* LB_AGENT_CONFIG_WALK_H */
