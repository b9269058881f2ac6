// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <yaml.h>
#include "agent_config.h"
#include "agent_config_walk.h"
#include "cluster_config.h"
#include "instance.h"
#include "number.h"
#include "maglev.h"
#include "vip.h"

void cfg_error(struct walk *w, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%zu: ", w->path, n ? n->start_mark.line + 1 : 0);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	w->errors++;
}

const char *cfg_scalar(struct walk *w, const yaml_node_t *n, const char *what)
{
	if (n->type != YAML_SCALAR_NODE) {
		cfg_error(w, n, "'%s' expects a single value", what);
		return NULL;
	}
	return (const char *)n->data.scalar.value;
}

int cfg_get_u32(struct walk *w, const yaml_node_t *n, const char *what,
		__u32 min, __u32 max, __u32 *out)
{
	const char *s = cfg_scalar(w, n, what);
	int err;

	if (!s)
		return -EINVAL;
	err = number__parse_u32(s, min, max, out);
	if (err)
		cfg_error(w, n, "'%s' expects %u..%u%s, not '%s'", what, min,
			  max, err == -EINVAL ? ", in decimal or 0x hex" : "",
			  s);
	return err;
}

int cfg_get_str(struct walk *w, const yaml_node_t *n, const char *what,
		char *out, size_t len)
{
	const char *s = cfg_scalar(w, n, what);

	if (!s)
		return -EINVAL;
	if (strlen(s) >= len) {
		cfg_error(w, n, "'%s' is longer than %zu bytes", what, len - 1);
		return -EINVAL;
	}
	strcpy(out, s);
	return 0;
}

int cfg_want(struct walk *w, const yaml_node_t *n, yaml_node_type_t type,
	     const char *what)
{
	if (n->type == type)
		return 1;
	cfg_error(w, n, "'%s' expects a %s", what,
		  type == YAML_MAPPING_NODE ? "mapping" : "list");
	return 0;
}

/* YAML 1.1's booleans, as the flood: section takes them. */
int cfg_get_bool(struct walk *w, const yaml_node_t *n, const char *what,
		 int *out)
{
	static const char *const words[] = { "false", "true", "no",
					     "yes",   "off",  "on" };
	const char *s = cfg_scalar(w, n, what);
	size_t i;

	for (i = 0; s && i < sizeof(words) / sizeof(words[0]); i++)
		if (!strcmp(s, words[i])) {
			*out = i % 2;
			return 0;
		}
	if (s)
		cfg_error(w, n, "'%s' expects true or false, not '%s'", what,
			  s);
	return -EINVAL;
}

static void parse_vip(struct walk *w, yaml_node_t *n, struct agent_config *c)
{
	struct agent_vip *v = &c->vips[c->nvips];
	int have_addr = 0, listener = -1, exclusive = 0, i;
	yaml_node_pair_t *p;
	__u32 val;

	if (!cfg_want(w, n, YAML_MAPPING_NODE, "vips item"))
		return;
	if (c->nvips == LB_MAX_VIPS) {
		cfg_error(w, n, "more than %d VIPs", LB_MAX_VIPS);
		return;
	}
	memset(v, 0, sizeof(*v));
	v->line = n->start_mark.line + 1;
	v->meta.v4_prefix = 32;
	v->meta.v6_prefix = 128;
	for_each_pair(w->doc, n, p)
	{
		yaml_node_t *k = yaml_document_get_node(w->doc, p->key);
		yaml_node_t *val_n = yaml_document_get_node(w->doc, p->value);
		const char *key = cfg_scalar(w, k, "key"), *s;

		if (!key)
			continue;
		if (!strcmp(key, "address")) {
			s = cfg_scalar(w, val_n, key);
			if (s && vip__parse(s, &v->key))
				cfg_error(
					w, val_n,
					"'address' expects ADDR:PORT (e.g. 198.18.0.1:443 or [fd00::1]:443), not '%s'",
					s);
			else if (s)
				have_addr = 1;
		} else if (!strcmp(key, "listener")) {
			s = cfg_scalar(w, val_n, key);
			if (s && (listener = vip__parse_listener(s)) < 0)
				cfg_error(
					w, val_n,
					"'listener' expects https or http, not '%s'",
					s);
		} else if (!strcmp(key, "v4_prefix")) {
			if (!cfg_get_u32(w, val_n, key, 1, 32, &val))
				v->meta.v4_prefix = val;
		} else if (!strcmp(key, "v6_prefix")) {
			if (!cfg_get_u32(w, val_n, key, 1, 128, &val))
				v->meta.v6_prefix = val;
		} else if (!strcmp(key, "exclusive")) {
			cfg_get_bool(w, val_n, key, &exclusive);
		} else if (!strcmp(key, "force")) {
			cfg_get_bool(w, val_n, key, &v->force);
		} else {
			cfg_error(w, k, "unknown VIP key '%s'", key);
		}
	}
	if (!have_addr) {
		cfg_error(w, n, "VIP without 'address'");
		return;
	}
	if (listener < 0) /* port 80 serves the redirect listener */
		listener = ntohs(v->key.port) == 80 ? LB_LISTENER_HTTP :
						      LB_LISTENER_HTTPS;
	v->meta.listener = listener;
	/* shared unless the operator says so: the address may be the host's */
	if (exclusive)
		v->meta.flags |= LB_VIP_F_EXCLUSIVE;
	for (i = 0; i < c->nvips; i++)
		if (!memcmp(&c->vips[i].key, &v->key, sizeof(v->key))) {
			cfg_error(w, n, "VIP listed twice (first at line %d)",
				  c->vips[i].line);
			return;
		}
	c->nvips++;
}

static void parse_iface(struct walk *w, yaml_node_t *n, struct agent_config *c)
{
	struct agent_iface *f = &c->ifaces[c->nifaces];
	yaml_node_pair_t *p;
	char mode[16] = "native";

	if (!cfg_want(w, n, YAML_MAPPING_NODE, "interfaces item"))
		return;
	if (c->nifaces == AGENT_MAX_IFACES) {
		cfg_error(w, n, "more than %d interfaces", AGENT_MAX_IFACES);
		return;
	}
	memset(f, 0, sizeof(*f));
	for_each_pair(w->doc, n, p)
	{
		yaml_node_t *k = yaml_document_get_node(w->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(w->doc, p->value);
		const char *key = cfg_scalar(w, k, "key");

		if (!key)
			continue;
		if (!strcmp(key, "name"))
			cfg_get_str(w, v, key, f->name, sizeof(f->name));
		else if (!strcmp(key, "mode"))
			cfg_get_str(w, v, key, mode, sizeof(mode));
		else
			cfg_error(w, k, "unknown interface key '%s'", key);
	}
	if (!f->name[0]) {
		cfg_error(w, n, "interface without 'name'");
		return;
	}
	if (!strcmp(mode, "native")) {
		f->mode = ATTACH_NATIVE;
	} else if (!strcmp(mode, "generic")) {
		f->mode = ATTACH_GENERIC;
	} else {
		cfg_error(w, n, "'mode' expects native or generic, not '%s'",
			  mode);
		return;
	}
	c->nifaces++;
}

static void parse_health(struct walk *w, yaml_node_t *n, struct agent_config *c)
{
	yaml_node_pair_t *p;

	if (!cfg_want(w, n, YAML_MAPPING_NODE, "health"))
		return;
	for_each_pair(w->doc, n, p)
	{
		yaml_node_t *k = yaml_document_get_node(w->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(w->doc, p->value);
		const char *key = cfg_scalar(w, k, "key");

		if (!key)
			continue;
		if (!strcmp(key, "interval_ms"))
			cfg_get_u32(w, v, key, 0, 3600000,
				    &c->health_interval_ms);
		else if (!strcmp(key, "timeout_ms"))
			cfg_get_u32(w, v, key, 10, 60000,
				    &c->health_timeout_ms);
		else if (!strcmp(key, "rise"))
			cfg_get_u32(w, v, key, 1, 100, &c->health_rise);
		else if (!strcmp(key, "fall"))
			cfg_get_u32(w, v, key, 1, 100, &c->health_fall);
		else
			cfg_error(w, k, "unknown health key '%s'", key);
	}
}

static void parse_flood(struct walk *w, yaml_node_t *n, struct agent_config *c)
{
	yaml_node_pair_t *p;
	char why[200];
	int rc;

	if (!cfg_want(w, n, YAML_MAPPING_NODE, "flood"))
		return;
	for_each_pair(w->doc, n, p)
	{
		yaml_node_t *k = yaml_document_get_node(w->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(w->doc, p->value);
		const char *key = cfg_scalar(w, k, "key"), *val;

		if (!key || !(val = cfg_scalar(w, v, key)))
			continue;
		rc = flood__set_key(&c->flood, key, val, why, sizeof(why));
		if (rc)
			cfg_error(w, rc == -ENOENT ? k : v, "%s", why);
	}
}

static void parse_uids(struct walk *w, yaml_node_t *v, struct agent_config *c)
{
	yaml_node_item_t *it;

	if (!cfg_want(w, v, YAML_SEQUENCE_NODE, "register_uids"))
		return;
	for_each_item(w->doc, v, it)
	{
		yaml_node_t *u = yaml_document_get_node(w->doc, *it);

		if (c->nregister_uids == AGENT_MAX_UIDS) {
			cfg_error(w, u, "'register_uids': at most %d uids",
				  AGENT_MAX_UIDS);
			return;
		}
		cfg_get_u32(w, u, "register_uids", 0, 0xfffffffeu,
			    &c->register_uids[c->nregister_uids++]);
	}
}

/* socket_group: a group name or a gid; not 0 (root's group has it). */
static void parse_socket_group(struct walk *w, yaml_node_t *v,
			       struct agent_config *c)
{
	const char *s = cfg_scalar(w, v, "socket_group");
	struct group *gr;
	unsigned long gid;
	char *end;

	if (!s)
		return;
	errno = 0;
	gid = strtoul(s, &end, 10);
	if (*s && !*end && s[0] != '-' && !errno && gid < 0xffffffffUL) {
		c->socket_gid = gid;
	} else if ((gr = getgrnam(s))) {
		c->socket_gid = gr->gr_gid;
	} else {
		cfg_error(w, v, "'socket_group': no group '%s'", s);
		return;
	}
	if (!c->socket_gid) {
		cfg_error(
			w, v,
			"'socket_group' 0 is root's group, which has the socket already");
		return;
	}
	c->socket_group_set = 1;
}

static void parse_root(struct walk *w, yaml_node_t *root,
		       struct agent_config *c)
{
	yaml_node_pair_t *p;
	yaml_node_item_t *it;

	if (!cfg_want(w, root, YAML_MAPPING_NODE, "the file"))
		return;
	for_each_pair(w->doc, root, p)
	{
		yaml_node_t *k = yaml_document_get_node(w->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(w->doc, p->value);
		const char *key = cfg_scalar(w, k, "key");

		if (!key)
			continue;
		if (!strcmp(key, "ring_size")) {
			if (!cfg_get_u32(w, v, key, 3, MAGLEV_SIZE_MAX,
					 &c->ring_size) &&
			    !maglev__valid_size(c->ring_size))
				cfg_error(w, v, "'ring_size' %u is not a prime",
					  c->ring_size);
		} else if (!strcmp(key, "hash_seed")) {
			cfg_get_u32(w, v, key, 0, 0xffffffffu, &c->hash_seed);
		} else if (!strcmp(key, "socket")) {
			cfg_get_str(w, v, key, c->socket_path,
				    sizeof(c->socket_path));
		} else if (!strcmp(key, "metrics")) {
			cfg_get_str(w, v, key, c->metrics, sizeof(c->metrics));
		} else if (!strcmp(key, "vips")) {
			if (cfg_want(w, v, YAML_SEQUENCE_NODE, key))
				for_each_item(w->doc, v, it) parse_vip(
					w, yaml_document_get_node(w->doc, *it),
					c);
		} else if (!strcmp(key, "interfaces")) {
			if (cfg_want(w, v, YAML_SEQUENCE_NODE, key))
				for_each_item(w->doc, v, it) parse_iface(
					w, yaml_document_get_node(w->doc, *it),
					c);
		} else if (!strcmp(key, "health")) {
			parse_health(w, v, c);
		} else if (!strcmp(key, "flood")) {
			parse_flood(w, v, c);
		} else if (!strcmp(key, "register_uids")) {
			parse_uids(w, v, c);
		} else if (!strcmp(key, "socket_group")) {
			parse_socket_group(w, v, c);
		} else if (!strcmp(key, "cluster")) {
			cluster_config__parse(w, v, &c->cluster);
		} else {
			cfg_error(w, k, "unknown key '%s'", key);
		}
	}
}

int agent_config__load(const char *path, const char *instance,
		       struct agent_config *cfg)
{
	struct walk w = { .path = path };
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	FILE *f;
	int err = 0;

	memset(cfg, 0, sizeof(*cfg));
	cfg->ring_size = LB_RING_SIZE_DEFAULT;
	cfg->hash_seed = 0x4c42;
	snprintf(cfg->socket_path, sizeof(cfg->socket_path), "%s/%s.sock",
		 INSTANCE_RUN_DIR, instance);
	cfg->health_interval_ms = 1000;
	cfg->health_timeout_ms = 500;
	cfg->health_rise = 2;
	cfg->health_fall = 2;
	snprintf(cfg->metrics, sizeof(cfg->metrics), "127.0.0.1:9146");
	flood__defaults(&cfg->flood);

	f = fopen(path, "r");
	if (!f) {
		err = -errno;
		fprintf(stderr, "%s: cannot read: %s\n", path, strerror(errno));
		return err;
	}
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_file(&parser, f);
	if (!yaml_parser_load(&parser, &doc)) {
		fprintf(stderr, "%s:%zu: %s\n", path,
			parser.problem_mark.line + 1,
			parser.problem ?: "YAML syntax error");
		err = -EINVAL;
		goto out;
	}
	w.doc = &doc;
	root = yaml_document_get_root_node(&doc);
	if (!root)
		cfg_error(&w, NULL, "empty file");
	else
		parse_root(&w, root, cfg);
	yaml_document_delete(&doc);
	if (w.errors)
		err = -EINVAL;
out:
	yaml_parser_delete(&parser);
	fclose(f);
	return err;
}
