// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The cluster: section (cluster_config.h). The key file is read here, at
 * load: a reload with a missing or unsafe key is refused whole, and the
 * running config stays.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/stat.h>
#include "agent_config_walk.h"
#include "cluster_config.h"
#include "cluster_msg.h"

int cluster_config__duration(const char *s, __u32 *ms)
{
	unsigned long long v;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	if (!strcmp(end, "s"))
		v *= 1000;
	else if (!strcmp(end, "m"))
		v *= 60000;
	else if (strcmp(end, "ms") && *end)
		return -EINVAL;
	if (v > 86400000ull)
		return -EINVAL;
	*ms = (__u32)v;
	return 0;
}

const struct cluster_host *cluster_config__host(const struct cluster_config *c,
						__u32 id)
{
	int i;

	for (i = 0; i < c->nhosts; i++)
		if (c->hosts[i].id == id)
			return &c->hosts[i];
	return NULL;
}

static void get_duration(struct walk *w, const yaml_node_t *n, const char *what,
			 __u32 min, __u32 *out)
{
	const char *s = cfg_scalar(w, n, what);

	if (!s)
		return;
	if (cluster_config__duration(s, out) || *out < min)
		cfg_error(
			w, n,
			"'%s' expects a duration of at least %u ms (e.g. 500ms, 2s), not '%s'",
			what, min, s);
}

static void parse_roles(struct walk *w, yaml_node_t *n, struct cluster_host *h)
{
	yaml_node_item_t *it;

	if (!cfg_want(w, n, YAML_SEQUENCE_NODE, "roles"))
		return;
	for_each_item(w->doc, n, it)
	{
		yaml_node_t *r = yaml_document_get_node(w->doc, *it);
		const char *s = cfg_scalar(w, r, "roles");

		if (!s)
			continue;
		if (!strcmp(s, "balancer"))
			h->flags |= LB_HOST_F_BALANCER;
		else if (!strcmp(s, "worker"))
			h->flags |= LB_HOST_F_WORKER;
		else
			cfg_error(
				w, r,
				"'roles' expects balancer or worker, not '%s'",
				s);
	}
}

static void parse_host(struct walk *w, yaml_node_t *n, struct cluster_config *c)
{
	struct cluster_host *h = &c->hosts[c->nhosts];
	int have_id = 0, have_addr = 0, have_roles = 0, i;
	yaml_node_pair_t *p;

	if (!cfg_want(w, n, YAML_MAPPING_NODE, "hosts item"))
		return;
	if (c->nhosts == LB_MAX_HOSTS - 1) {
		cfg_error(w, n, "more than %d hosts", LB_MAX_HOSTS - 1);
		return;
	}
	memset(h, 0, sizeof(*h));
	h->line = n->start_mark.line + 1;
	for_each_pair(w->doc, n, p)
	{
		yaml_node_t *k = yaml_document_get_node(w->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(w->doc, p->value);
		const char *key = cfg_scalar(w, k, "key"), *s;

		if (!key)
			continue;
		if (!strcmp(key, "name")) {
			cfg_get_str(w, v, key, h->name, sizeof(h->name));
		} else if (!strcmp(key, "id")) {
			have_id = !cfg_get_u32(w, v, key, 1, LB_MAX_HOSTS - 1,
					       &h->id);
		} else if (!strcmp(key, "address")) {
			s = cfg_scalar(w, v, key);
			if (s && inet_pton(AF_INET, s, &h->addr) != 1)
				cfg_error(
					w, v,
					"'address' expects an IPv4 address, not '%s'",
					s);
			else if (s)
				have_addr = 1;
		} else if (!strcmp(key, "roles")) {
			parse_roles(w, v, h);
			have_roles = 1;
		} else {
			cfg_error(w, k, "unknown host key '%s'", key);
		}
	}
	if (!h->name[0] || !have_id || !have_addr) {
		cfg_error(w, n, "host without %s",
			  !h->name[0] ? "'name'" :
			  !have_id    ? "'id'" :
					"'address'");
		return;
	}
	if (!have_roles || !h->flags) {
		cfg_error(w, n, "host '%s' without 'roles' (balancer, worker)",
			  h->name);
		return;
	}
	for (i = 0; i < c->nhosts; i++) {
		const struct cluster_host *o = &c->hosts[i];

		if (o->id == h->id)
			cfg_error(w, n,
				  "host id %u used twice (first at line %d)",
				  h->id, o->line);
		else if (!strcmp(o->name, h->name))
			cfg_error(
				w, n,
				"host name '%s' used twice (first at line %d)",
				h->name, o->line);
		else if (o->addr == h->addr)
			cfg_error(
				w, n,
				"host address of '%s' used twice (first at line %d)",
				h->name, o->line);
		else
			continue;
		return;
	}
	c->nhosts++;
}

/* The shared secret: a regular file of at least CM_KEY_MIN bytes that
 * only its owner may read (it lets anyone forge membership). */
static void read_key(struct walk *w, const yaml_node_t *n,
		     struct cluster_config *c)
{
	struct stat st;
	ssize_t got;
	int fd;

	fd = open(c->key_file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		cfg_error(w, n, "'key_file' %s: cannot open: %s", c->key_file,
			  strerror(errno));
		return;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		cfg_error(w, n, "'key_file' %s is not a regular file",
			  c->key_file);
		goto out;
	}
	if (st.st_mode & 077) {
		cfg_error(
			w, n,
			"'key_file' %s is readable by group or others (mode %04o): chmod 600",
			c->key_file, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	got = read(fd, c->key, sizeof(c->key));
	if (got < CM_KEY_MIN) {
		cfg_error(
			w, n,
			"'key_file' %s holds %zd bytes; at least %d are needed",
			c->key_file, got < 0 ? 0 : got, CM_KEY_MIN);
		goto out;
	}
	c->keylen = (size_t)got;
out:
	close(fd);
}

void cluster_config__parse(struct walk *w, yaml_node_t *n,
			   struct cluster_config *c)
{
	const yaml_node_t *self_n = NULL, *key_n = NULL, *dead_n = NULL,
			  *port_n = NULL;
	char self[CLUSTER_NAME_MAX] = "";
	yaml_node_pair_t *p;
	yaml_node_item_t *it;
	__u32 v;
	int i;

	memset(c, 0, sizeof(*c));
	c->membership_port = 6082;
	c->gue_port = LB_GUE_PORT_DEFAULT;
	c->heartbeat_ms = 500;
	c->dead_after_ms = 2000;
	c->second_chance_ms = 300000;
	c->mtu = 1500;
	c->self = -1;
	if (!cfg_want(w, n, YAML_MAPPING_NODE, "cluster"))
		return;
	for_each_pair(w->doc, n, p)
	{
		yaml_node_t *k = yaml_document_get_node(w->doc, p->key);
		yaml_node_t *val = yaml_document_get_node(w->doc, p->value);
		const char *key = cfg_scalar(w, k, "key");

		if (!key)
			continue;
		if (!strcmp(key, "self")) {
			if (!cfg_get_str(w, val, key, self, sizeof(self)))
				self_n = val;
		} else if (!strcmp(key, "key_file")) {
			if (!cfg_get_str(w, val, key, c->key_file,
					 sizeof(c->key_file)))
				key_n = val;
		} else if (!strcmp(key, "membership_port")) {
			if (!cfg_get_u32(w, val, key, 1, 65535, &v))
				c->membership_port = v;
			port_n = val;
		} else if (!strcmp(key, "gue_port")) {
			if (!cfg_get_u32(w, val, key, 1, 65535, &v))
				c->gue_port = v;
			port_n = val;
		} else if (!strcmp(key, "heartbeat")) {
			get_duration(w, val, key, 10, &c->heartbeat_ms);
		} else if (!strcmp(key, "dead_after")) {
			get_duration(w, val, key, 10, &c->dead_after_ms);
			dead_n = val;
		} else if (!strcmp(key, "second_chance")) {
			get_duration(w, val, key, 0, &c->second_chance_ms);
		} else if (!strcmp(key, "mtu")) {
			cfg_get_u32(w, val, key, 576, 65535, &c->mtu);
		} else if (!strcmp(key, "announce_link")) {
			cfg_get_str(w, val, key, c->announce_link,
				    sizeof(c->announce_link));
		} else if (!strcmp(key, "hosts")) {
			if (cfg_want(w, val, YAML_SEQUENCE_NODE, key))
				for_each_item(w->doc, val, it) parse_host(
					w, yaml_document_get_node(w->doc, *it),
					c);
		} else {
			cfg_error(w, k, "unknown cluster key '%s'", key);
		}
	}
	if (!self_n)
		cfg_error(w, n, "cluster without 'self'");
	if (!key_n)
		cfg_error(w, n, "cluster without 'key_file'");
	if (!c->nhosts)
		cfg_error(w, n, "cluster without 'hosts'");
	if (c->membership_port == c->gue_port)
		cfg_error(w, port_n ?: n,
			  "'membership_port' and 'gue_port' are both %u",
			  c->gue_port);
	if (c->dead_after_ms <= c->heartbeat_ms)
		cfg_error(
			w, dead_n ?: n,
			"'dead_after' (%u ms) must be longer than 'heartbeat' (%u ms)",
			c->dead_after_ms, c->heartbeat_ms);
	for (i = 0; self_n && i < c->nhosts; i++)
		if (!strcmp(c->hosts[i].name, self))
			c->self = i;
	if (self_n && c->self < 0)
		cfg_error(w, self_n, "'self' '%s' is not one of the hosts",
			  self);
	if (key_n)
		read_key(w, key_n, c);
	c->enabled = 1;
}
