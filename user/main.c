// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * lbctl: the command line over one balancer instance's pinned state. Every
 * command opens what is pinned under /sys/fs/bpf/<instance>/, changes it
 * under the instance lock and exits; nothing lives in this process, so it
 * may stop and start at any time.
 */
#include <errno.h>
#include <arpa/inet.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>
#include "agent.h"
#include "attach.h"
#include "dataplane.h"
#include "firewall.h"
#include "flood.h"
#include "instance.h"
#include "managed.h"
#include "lb_hash_kern_user.h"
#include "stats.h"
#include "vip.h"
#include "worker.h"

#define MAX_OPTS 8
#define MAX_ARGS 4

struct opt {
	const char *name;
	char shortopt; /* 0: long form only */
	const char *arg; /* NULL: a flag */
	const char *help;
};

struct ctx;

struct cmd {
	const char *name; /* one or two words */
	const char *args; /* positional arguments, for usage */
	const char *summary;
	int min_args, max_args;
	int (*run)(struct ctx *c);
	struct opt opts[MAX_OPTS];
};

struct ctx {
	const struct cmd *cmd;
	struct instance in;
	struct dataplane dp;
	char *args[MAX_ARGS];
	int nargs;
	const char *val[MAX_OPTS]; /* option values; "" for a set flag */
	int verbose;
};

static int verbose;

static int print_libbpf(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	if (!verbose && level != LIBBPF_WARN)
		return 0;
	if (!verbose) /* libbpf's own warnings repeat ours; -v shows them */
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static int print_libxdp(enum libxdp_print_level level, const char *fmt,
			va_list ap)
{
	(void)level;
	return verbose ? vfprintf(stderr, fmt, ap) : 0;
}

static const char *opt_val(const struct ctx *c, const char *name)
{
	int i;

	for (i = 0; i < MAX_OPTS && c->cmd->opts[i].name; i++)
		if (!strcmp(c->cmd->opts[i].name, name))
			return c->val[i];
	return NULL;
}

/* Strict unsigned parse: the whole string, within [min, max]. */
static int parse_u32(const char *text, __u32 min, __u32 max, const char *what,
		     __u32 *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(text, &end, 0);
	if (errno || !*text || *end || text[0] == '-' || v < min || v > max) {
		fprintf(stderr, "lbctl: %s '%s' must be a number in %u..%u\n",
			what, text, min, max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int load_state(struct ctx *c, int create)
{
	struct dataplane_opts o = { 0 };
	__u32 v;
	int err;

	err = instance__lock(&c->in);
	if (err)
		return err;
	if (create) {
		if (opt_val(c, "ring-size") &&
		    parse_u32(opt_val(c, "ring-size"), 3, 1 << 24, "ring size",
			      &o.ring_size))
			return -EINVAL;
		if (opt_val(c, "seed") &&
		    parse_u32(opt_val(c, "seed"), 0, 0xffffffffu, "seed", &v))
			return -EINVAL;
		o.hash_seed = opt_val(c, "seed") ? v : 0x4c42u;
		err = attach__ensure_loaded(&c->in, &o);
		if (err)
			return err;
	}
	err = dataplane__open_pinned(&c->dp, c->in.pin_dir);
	if (err == -ENOENT)
		fprintf(stderr,
			"lbctl: instance '%s' is not loaded (no state under %s); run 'lbctl load' or 'lbctl attach' first\n",
			c->in.name, c->in.pin_dir);
	else if (err)
		fprintf(stderr,
			"lbctl: cannot open the pinned maps under %s: %s\n",
			c->in.pin_dir, strerror(-err));
	return err;
}

static int arg_vip(struct ctx *c, const char *text, struct vip *v)
{
	char name[VIP_TEXT_MAX];

	memset(v, 0, sizeof(*v));
	if (vip__parse(text, &v->key)) {
		fprintf(stderr,
			"lbctl: invalid VIP '%s': expected ADDR:PORT, e.g. 198.18.0.1:443 or [fd00::1]:443\n",
			text);
		return -EINVAL;
	}
	if (vip__get(&c->dp, &v->key, &v->meta)) {
		vip__format(&v->key, name, sizeof(name));
		fprintf(stderr, "lbctl: no VIP %s (see 'lbctl vip list')\n",
			name);
		return -ENOENT;
	}
	return 0;
}

static int rebuild(struct ctx *c, const struct vip *v)
{
	char name[VIP_TEXT_MAX];
	size_t moved;
	int err = ring__rebuild(&c->dp, &v->meta, v->key.family, &moved);

	vip__format(&v->key, name, sizeof(name));
	if (err)
		fprintf(stderr, "lbctl: cannot rebuild the ring of %s: %s\n",
			name, strerror(-err));
	else if (c->verbose)
		fprintf(stderr, "lbctl: ring of %s: %zu of %u slots moved\n",
			name, moved, c->dp.cfg.ring_size);
	return err;
}

/* --- commands ---------------------------------------------------------- */

static int cmd_load(struct ctx *c)
{
	int err = load_state(c, 1);

	if (!err)
		printf("instance %s loaded: ring size %u, state in %s\n",
		       c->in.name, c->dp.cfg.ring_size, c->in.pin_dir);
	return err;
}

static int cmd_unload(struct ctx *c)
{
	int err = instance__lock(&c->in);

	return err ?: attach__unload(&c->in);
}

static int cmd_attach(struct ctx *c)
{
	const char *mode = opt_val(c, "mode") ?: "native";
	enum attach_mode want, used;
	int err;

	if (!strcmp(mode, "native")) {
		want = ATTACH_NATIVE;
	} else if (!strcmp(mode, "generic")) {
		want = ATTACH_GENERIC;
	} else {
		fprintf(stderr,
			"lbctl: --mode '%s' must be native or generic\n", mode);
		return -EINVAL;
	}
	err = load_state(c, 1);
	err = err ?: attach__xdp(&c->in, c->args[0], want, &used);
	if (!err)
		printf("attached to %s (%s)\n", c->args[0],
		       used == ATTACH_NATIVE ? "native" : "generic");
	return err;
}

static int cmd_detach(struct ctx *c)
{
	int err = load_state(c, 0);

	return err ?: attach__xdp_detach(&c->in, c->args[0]);
}

static int cmd_vip_add(struct ctx *c)
{
	char name[VIP_TEXT_MAX];
	struct vip v = { 0 };
	__u32 p4 = 32, p6 = 128;
	int listener, err;

	if (vip__parse(c->args[0], &v.key)) {
		fprintf(stderr,
			"lbctl: invalid VIP '%s': expected ADDR:PORT, e.g. 198.18.0.1:443 or [fd00::1]:443\n",
			c->args[0]);
		return -EINVAL;
	}
	listener =
		ntohs(v.key.port) == 80 ? LB_LISTENER_HTTP : LB_LISTENER_HTTPS;
	if (opt_val(c, "listener")) {
		listener = vip__parse_listener(opt_val(c, "listener"));
		if (listener < 0) {
			fprintf(stderr,
				"lbctl: --listener '%s' must be https or http\n",
				opt_val(c, "listener"));
			return -EINVAL;
		}
	}
	if ((opt_val(c, "v4-prefix") &&
	     parse_u32(opt_val(c, "v4-prefix"), 1, 32, "--v4-prefix", &p4)) ||
	    (opt_val(c, "v6-prefix") &&
	     parse_u32(opt_val(c, "v6-prefix"), 1, 128, "--v6-prefix", &p6)))
		return -EINVAL;
	v.meta = (struct lb_vip_meta){ .v4_prefix = p4,
				       .v6_prefix = p6,
				       .listener = listener,
				       .flags = opt_val(c, "shared") ?
							LB_VIP_F_SHARED :
							0 };
	err = load_state(c, 1);
	if (err)
		return err;
	vip__format(&v.key, name, sizeof(name));
	err = vip__add(&c->dp, &v);
	if (err == -EEXIST)
		fprintf(stderr, "lbctl: cannot add VIP %s: it exists\n", name);
	else if (err == -ENOSPC)
		fprintf(stderr,
			"lbctl: cannot add VIP %s: all %d VIP slots are in use, or its address has %d ports already\n",
			name, LB_MAX_VIPS, LB_VIP_PORTS_MAX);
	else if (err)
		fprintf(stderr, "lbctl: cannot add VIP %s: %s\n", name,
			strerror(-err));
	return err;
}

static int cmd_vip_del(struct ctx *c)
{
	struct vip v;
	int err = load_state(c, 0);

	err = err ?: arg_vip(c, c->args[0], &v);
	err = err ?: vip__del(&c->dp, &v.key);
	return err;
}

static int cmd_vip_list(struct ctx *c)
{
	struct vip vips[LB_MAX_VIPS];
	char name[VIP_TEXT_MAX];
	int n, i, err = load_state(c, 0);

	if (err)
		return err;
	n = vip__list(&c->dp, vips);
	printf("%-5s %-28s %-8s %-9s %s\n", "index", "vip", "listener",
	       "address", "hash");
	for (i = 0; i < n; i++) {
		vip__format(&vips[i].key, name, sizeof(name));
		printf("%-5u %-28s %-8s %-9s /%u v4, /%u v6\n",
		       vips[i].meta.index, name,
		       vip__listener_name(vips[i].meta.listener),
		       vips[i].meta.flags & LB_VIP_F_SHARED ? "shared" :
							      "exclusive",
		       vips[i].meta.v4_prefix, vips[i].meta.v6_prefix);
	}
	return 0;
}

/* Shared head of the worker commands: lock, VIP, worker id. */
static int worker_args(struct ctx *c, struct vip *v, __u32 *id)
{
	int err = load_state(c, 0);

	err = err ?: arg_vip(c, c->args[0], v);
	if (!err &&
	    parse_u32(c->args[1], 0, LB_MAX_WORKERS - 1, "worker id", id))
		err = -EINVAL;
	return err;
}

static int worker_change(struct ctx *c, __u32 set, __u32 clear,
			 const char *weight)
{
	char name[VIP_TEXT_MAX];
	struct lb_worker_state st;
	struct vip v;
	__u32 id;
	int err = worker_args(c, &v, &id);

	if (err)
		return err;
	vip__format(&v.key, name, sizeof(name));
	if (worker__get(&c->dp, v.meta.index, id, &st)) {
		fprintf(stderr, "lbctl: no worker %u on VIP %s\n", id, name);
		return -ENOENT;
	}
	if (weight && parse_u32(weight, 1, LB_MAX_WEIGHT, "weight", &st.weight))
		return -EINVAL;
	st.flags = (st.flags | set) & ~clear;
	err = worker__put(&c->dp, v.meta.index, id, &st);
	return err ?: rebuild(c, &v);
}

static int cmd_worker_add(struct ctx *c)
{
	struct lb_worker_state st = { .weight = 1 };
	char name[VIP_TEXT_MAX];
	struct vip v;
	__u32 id;
	int err = worker_args(c, &v, &id);

	if (err)
		return err;
	if (opt_val(c, "weight") &&
	    parse_u32(opt_val(c, "weight"), 1, LB_MAX_WEIGHT, "weight",
		      &st.weight))
		return -EINVAL;
	if (!worker__get(&c->dp, v.meta.index, id, &st)) {
		vip__format(&v.key, name, sizeof(name));
		fprintf(stderr,
			"lbctl: worker %u is already on VIP %s (use 'lbctl worker weight')\n",
			id, name);
		return -EEXIST;
	}
	err = worker__put(&c->dp, v.meta.index, id, &st);
	return err ?: rebuild(c, &v);
}

static int cmd_worker_del(struct ctx *c)
{
	char name[VIP_TEXT_MAX];
	struct vip v;
	__u32 id;
	int err = worker_args(c, &v, &id);

	if (err)
		return err;
	if (worker__del(&c->dp, v.meta.index, id)) {
		vip__format(&v.key, name, sizeof(name));
		fprintf(stderr, "lbctl: no worker %u on VIP %s\n", id, name);
		return -ENOENT;
	}
	return rebuild(c, &v);
}

static int cmd_worker_drain(struct ctx *c)
{
	return worker_change(c, LB_WF_DRAINED, 0, NULL);
}

static int cmd_worker_undrain(struct ctx *c)
{
	return worker_change(c, 0, LB_WF_DRAINED, NULL);
}

static int cmd_worker_weight(struct ctx *c)
{
	return worker_change(c, 0, 0, c->args[2]);
}

static void print_workers(struct ctx *c, const struct vip *v)
{
	__u32 *ring = malloc(c->dp.cfg.ring_size * sizeof(*ring));
	struct worker ws[LB_MAX_WORKERS];
	char name[VIP_TEXT_MAX];
	int n, i;

	vip__format(&v->key, name, sizeof(name));
	if (ring && dataplane__ring_read(&c->dp, v->meta.index, ring)) {
		free(ring);
		ring = NULL;
	}
	n = worker__list(&c->dp, &v->meta, v->key.family, ring, ws);
	free(ring);
	for (i = 0; i < n; i++) {
		const char *state = ws[i].st.flags & LB_WF_DRAINED ? "drained" :
				    ws[i].st.flags & LB_WF_DOWN	   ? "down" :
				    !ws[i].has_socket ? "no-socket" :
							"up";

		printf("%-28s %6u %6u %-9s %7u %6.2f%%\n", name, ws[i].id,
		       ws[i].st.weight, state, ws[i].slots,
		       100.0 * ws[i].slots / c->dp.cfg.ring_size);
	}
}

static int cmd_worker_list(struct ctx *c)
{
	struct vip vips[LB_MAX_VIPS], one;
	int n, i, err = load_state(c, 0);

	if (err)
		return err;
	printf("%-28s %6s %6s %-9s %7s %7s\n", "vip", "worker", "weight",
	       "state", "slots", "share");
	if (c->nargs) {
		err = arg_vip(c, c->args[0], &one);
		if (!err)
			print_workers(c, &one);
		return err;
	}
	n = vip__list(&c->dp, vips);
	for (i = 0; i < n; i++)
		print_workers(c, &vips[i]);
	return 0;
}

static int cmd_pick(struct ctx *c)
{
	struct lb_addr client;
	__u32 slot, worker;
	__u8 family;
	struct vip v;
	int err = load_state(c, 0);

	err = err ?: arg_vip(c, c->args[0], &v);
	if (err)
		return err;
	if (vip__parse_addr(c->args[1], &client, &family)) {
		fprintf(stderr, "lbctl: invalid client address '%s'\n",
			c->args[1]);
		return -EINVAL;
	}
	slot = lb_client_hash(&client, family, &v.meta, c->dp.cfg.hash_seed) %
	       c->dp.cfg.ring_size;
	worker = LB_WORKER_NONE;
	{
		__u32 *ring = malloc(c->dp.cfg.ring_size * sizeof(*ring));

		if (!ring)
			return -ENOMEM;
		err = dataplane__ring_read(&c->dp, v.meta.index, ring);
		if (!err)
			worker = ring[slot];
		free(ring);
	}
	if (err)
		return err;
	if (worker == LB_WORKER_NONE)
		printf("none\n");
	else
		printf("%u\n", worker);
	return 0;
}

static int cmd_stats(struct ctx *c)
{
	struct stats *cur, *prev = NULL;
	__u32 watch = 0, count = 0, i;
	int err = load_state(c, 0);

	if (err)
		return err;
	if ((opt_val(c, "watch") && parse_u32(opt_val(c, "watch"), 1, 3600,
					      "--watch seconds", &watch)) ||
	    (opt_val(c, "count") &&
	     parse_u32(opt_val(c, "count"), 1, 1000000, "--count", &count)))
		return -EINVAL;
	instance__unlock(&c->in); /* reading only: let others change state */
	cur = calloc(1, sizeof(*cur));
	prev = calloc(1, sizeof(*prev));
	if (!cur || !prev) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0;; i++) {
		err = stats__read(&c->dp, cur);
		if (err)
			break;
		if (opt_val(c, "json"))
			err = stats__print_json(stdout, cur, i ? prev : NULL);
		else
			stats__print_text(stdout, cur, i ? prev : NULL);
		fflush(stdout);
		if (err || !watch || (count && i + 1 >= count))
			break;
		*prev = *cur;
		sleep(watch);
		if (!opt_val(c, "json"))
			printf("\n");
	}
out:
	free(cur);
	free(prev);
	return err;
}

/* --- source deny/allow list (user/firewall.h) ------------------------- */

/* "FILE:LINE" or "the agent config FILE:LINE" of where an entry is kept. */
static void fw_where(const struct managed *m, const struct fw_list *file,
		     const struct fw_prefix *p, char *buf, size_t len)
{
	int i = fw_list__find(&m->inline_rules, p);

	if (i >= 0) {
		snprintf(buf, len, "config %s:%d", m->config,
			 m->inline_rules.e[i].line);
		return;
	}
	i = fw_list__find(file, p);
	if (i >= 0)
		snprintf(buf, len, "%s:%d", m->fw_file, file->e[i].line);
	else
		snprintf(buf, len,
			 "in the map only: not saved, the agent's next reload removes it");
}

/*
 * The shared head of deny/allow add and del: the prefix, the state, what
 * the agent config manages, the list file, and the prefix's action now
 * in the tries (0: absent).
 */
static int fw_begin(struct ctx *c, const char *verb, __u32 action,
		    struct fw_prefix *p, struct managed *m,
		    struct fw_list *file, __u32 *cur)
{
	char why[200];
	int err;

	if (fw__parse_prefix(c->args[0], p, why, sizeof(why))) {
		fprintf(stderr, "lbctl: cannot %s %s %s: %s\n", verb,
			fw__action_name(action), c->args[0], why);
		return -EINVAL;
	}
	err = load_state(c, !strcmp(verb, "add"));
	err = err ?: managed__read(c->in.name, m);
	if (err)
		return err;
	err = fw_list__load(m->fw_file, file, stderr);
	if (err) {
		fprintf(stderr,
			"lbctl: cannot %s %s %s: the list file %s has errors (above); fix it first\n",
			verb, fw__action_name(action), c->args[0], m->fw_file);
		return err;
	}
	*cur = fw__map_get(&c->dp, p);
	return 0;
}

static int fw_add(struct ctx *c, __u32 action)
{
	__u32 other = action == LB_SRC_DENY ? LB_SRC_ALLOW : LB_SRC_DENY, cur;
	const char *a = fw__action_name(action), *arg = c->args[0];
	struct fw_list file = { 0 };
	struct managed m = { 0 };
	struct fw_prefix p;
	char why[300], where[PATH_MAX + 80];
	int err, i, fi;

	err = fw_begin(c, "add", action, &p, &m, &file, &cur);
	if (err)
		goto out;
	err = -EEXIST;
	i = fw_list__find(&m.inline_rules, &p);
	fi = fw_list__find(&file, &p);
	if (i >= 0 && m.inline_rules.e[i].action != action) {
		fprintf(stderr,
			"lbctl: cannot add %s %s: the agent config %s:%d says %s; change it there and send the agent SIGHUP\n",
			a, arg, m.config, m.inline_rules.e[i].line,
			fw__action_name(other));
	} else if (cur == other || (fi >= 0 && file.e[fi].action == other)) {
		fw_where(&m, &file, &p, where, sizeof(where));
		fprintf(stderr,
			"lbctl: cannot add %s %s: it is on the %s list (%s); 'lbctl %s del %s' first\n",
			a, arg, fw__action_name(other), where,
			fw__action_name(other), arg);
	} else if (cur == action && (i >= 0 || fi >= 0)) {
		fw_where(&m, &file, &p, where, sizeof(where));
		fprintf(stderr,
			"lbctl: cannot add %s %s: it is on the %s list already (%s)\n",
			a, arg, a, where);
	} else {
		err = 0;
	}
	if (err)
		goto out;
	if (!cur) {
		err = fw__map_put(&c->dp, &p, action);
		if (err) {
			fprintf(stderr, "lbctl: cannot add %s %s: %s\n", a, arg,
				err == -ENOSPC ?
					"the trie is full (16384 entries per family)" :
					strerror(-err));
			goto out;
		}
	}
	if (i < 0 && fi < 0) {
		err = fw_file__edit(m.fw_file, 1, action, &p, why, sizeof(why));
		if (err) {
			fprintf(stderr, "lbctl: cannot add %s %s: %s\n", a, arg,
				why);
			if (!cur)
				fw__map_del(&c->dp, &p); /* as it was */
		}
	}
out:
	fw_list__free(&file);
	managed__free(&m);
	return err;
}

static int fw_del(struct ctx *c, __u32 action)
{
	__u32 other = action == LB_SRC_DENY ? LB_SRC_ALLOW : LB_SRC_DENY, cur;
	const char *a = fw__action_name(action), *arg = c->args[0];
	struct fw_list file = { 0 };
	struct managed m = { 0 };
	struct fw_prefix p;
	char why[300];
	int err, i, fi;

	err = fw_begin(c, "delete", action, &p, &m, &file, &cur);
	if (err)
		goto out;
	i = fw_list__find(&m.inline_rules, &p);
	fi = fw_list__find(&file, &p);
	if (i >= 0) {
		fprintf(stderr,
			"lbctl: cannot delete %s %s: it comes from the agent config %s:%d; remove it there and send the agent SIGHUP\n",
			a, arg, m.config, m.inline_rules.e[i].line);
		err = -EPERM;
	} else if (cur == other || (fi >= 0 && file.e[fi].action == other)) {
		fprintf(stderr,
			"lbctl: cannot delete %s %s: it is on the %s list, not the %s list\n",
			a, arg, fw__action_name(other), a);
		err = -ENOENT;
	} else if (!cur && fi < 0) {
		fprintf(stderr, "lbctl: cannot delete %s %s: not on the %s list\n",
			a, arg, a);
		err = -ENOENT;
	}
	if (err)
		goto out;
	if (fi >= 0) {
		err = fw_file__edit(m.fw_file, 0, action, &p, why, sizeof(why));
		if (err) {
			fprintf(stderr, "lbctl: cannot delete %s %s: %s\n", a,
				arg, why);
			goto out;
		}
	}
	if (cur) {
		err = fw__map_del(&c->dp, &p);
		if (err)
			fprintf(stderr, "lbctl: cannot delete %s %s: %s\n", a,
				arg, strerror(-err));
	}
out:
	fw_list__free(&file);
	managed__free(&m);
	return err;
}

/* Entries of action (0: both) in the tries with where each is kept, then
 * kept entries not in the tries yet. */
static int fw_list(struct ctx *c, __u32 action)
{
	struct fw_list have = { 0 }, file = { 0 }, kept = { 0 };
	char pbuf[FW_PREFIX_TEXT_MAX], where[PATH_MAX + 80];
	struct managed m = { 0 };
	size_t i;
	int err;

	err = load_state(c, 0);
	err = err ?: fw__map_read(&c->dp, &have);
	err = err ?: managed__read(c->in.name, &m);
	if (err)
		goto out;
	instance__unlock(&c->in); /* reading only */
	if (fw_list__load(m.fw_file, &file, stderr))
		fprintf(stderr,
			"lbctl: warning: the list file %s has errors (above)\n",
			m.fw_file);
	fw__union(&m.inline_rules, m.config, &file, m.fw_file, &kept);
	fw_list__sort(&have);
	fw_list__sort(&kept);
	printf("%-6s %-44s %s\n", "action", "prefix", "kept in");
	for (i = 0; i < have.n; i++) {
		if (action && have.e[i].action != action)
			continue;
		fw__format_prefix(&have.e[i].p, pbuf, sizeof(pbuf));
		fw_where(&m, &file, &have.e[i].p, where, sizeof(where));
		printf("%-6s %-44s %s\n", fw__action_name(have.e[i].action),
		       pbuf, where);
	}
	for (i = 0; i < kept.n; i++) {
		int j = fw_list__find(&have, &kept.e[i].p);

		if (action && kept.e[i].action != action)
			continue;
		if (j >= 0 && have.e[j].action == kept.e[i].action)
			continue;
		fw__format_prefix(&kept.e[i].p, pbuf, sizeof(pbuf));
		fw_where(&m, &file, &kept.e[i].p, where, sizeof(where));
		printf("%-6s %-44s %s (NOT APPLIED: the agent applies it on SIGHUP, or 'lbctl firewall apply')\n",
		       fw__action_name(kept.e[i].action), pbuf, where);
	}
	if (!action)
		printf("\nlist file:  %s\nconfig:     %s\nlb_config:  src_rules_v4 %u, src_rules_v6 %u\n",
		       m.fw_file, m.config[0] ? m.config : "(no agent has applied one)",
		       c->dp.cfg.src_rules_v4, c->dp.cfg.src_rules_v6);
out:
	fw_list__free(&have);
	fw_list__free(&file);
	fw_list__free(&kept);
	managed__free(&m);
	return err;
}

static int cmd_deny_add(struct ctx *c)
{
	return fw_add(c, LB_SRC_DENY);
}

static int cmd_deny_del(struct ctx *c)
{
	return fw_del(c, LB_SRC_DENY);
}

static int cmd_deny_list(struct ctx *c)
{
	return fw_list(c, LB_SRC_DENY);
}

static int cmd_allow_add(struct ctx *c)
{
	return fw_add(c, LB_SRC_ALLOW);
}

static int cmd_allow_del(struct ctx *c)
{
	return fw_del(c, LB_SRC_ALLOW);
}

static int cmd_allow_list(struct ctx *c)
{
	return fw_list(c, LB_SRC_ALLOW);
}

static int cmd_firewall_list(struct ctx *c)
{
	return fw_list(c, 0);
}

/* What the agent does at start, for a host without one: the list file
 * and the last published inline entries, into the tries. */
static int cmd_firewall_apply(struct ctx *c)
{
	struct fw_list file = { 0 }, want = { 0 };
	struct managed m = { 0 };
	int err;

	err = load_state(c, 1);
	err = err ?: managed__read(c->in.name, &m);
	err = err ?: fw_list__load(m.fw_file, &file, stderr);
	err = err ?: fw__union(&m.inline_rules, m.config, &file, m.fw_file,
			       &want);
	if (!err) {
		err = fw__apply(&c->dp, &want, stdout, "");
		if (err >= 0)
			printf("%zu entries, %d changed\n", want.n, err);
		else
			fprintf(stderr, "lbctl: cannot apply %s: %s\n",
				m.fw_file, strerror(-err));
		err = err < 0 ? err : 0;
	} else if (err == -EINVAL) {
		fprintf(stderr, "lbctl: %s not applied: it has errors (above)\n",
			m.fw_file);
	}
	fw_list__free(&file);
	fw_list__free(&want);
	managed__free(&m);
	return err;
}

/* --- flood settings (user/flood.h) -------------------------------------- */

static int cmd_flood(struct ctx *c)
{
	struct flood_settings s;
	struct managed m = { 0 };
	int err, n;

	err = load_state(c, 0);
	err = err ?: flood__read(&c->dp, &s);
	err = err ?: managed__read(c->in.name, &m);
	if (err)
		return err;
	flood__print(stdout, &s);
	n = flood__cpus_flooded(&c->dp);
	printf("\nin flood mode: %d CPU%s now\n", n < 0 ? 0 : n,
	       n == 1 ? "" : "s");
	if (m.flood_line)
		printf("set by:        the agent config %s:%d\n", m.config,
		       m.flood_line);
	else
		printf("set by:        defaults or 'lbctl flood set' (no agent config has a flood: section)\n");
	managed__free(&m);
	return 0;
}

static int cmd_flood_set(struct ctx *c)
{
	struct flood_settings s;
	struct managed m = { 0 };
	char why[200];
	int err;

	err = load_state(c, 1);
	err = err ?: managed__read(c->in.name, &m);
	if (err)
		return err;
	if (m.flood_line) {
		fprintf(stderr,
			"lbctl: cannot set flood %s: the flood settings come from the agent config %s:%d; change them there and send the agent SIGHUP\n",
			c->args[0], m.config, m.flood_line);
		err = -EPERM;
		goto out;
	}
	err = flood__read(&c->dp, &s);
	if (err)
		goto out;
	err = flood__set_key(&s, c->args[0], c->args[1], why, sizeof(why));
	if (err) {
		fprintf(stderr, "lbctl: cannot set flood %s: %s\n", c->args[0],
			why);
		goto out;
	}
	err = flood__apply(&c->dp, &s);
	if (err < 0)
		fprintf(stderr, "lbctl: cannot set flood %s: %s\n", c->args[0],
			strerror(-err));
	err = err < 0 ? err : 0;
out:
	managed__free(&m);
	return err;
}

/* The shield's lines of 'lbctl status'. */
static void status_shield(struct ctx *c)
{
	struct flood_settings s;
	struct managed m = { 0 };
	char line[256];

	flood__from_config(&s, &c->dp.cfg);
	flood__summary(&s, line, sizeof(line));
	printf("flood:      %s\n", line);
	if (managed__read(c->in.name, &m))
		return;
	printf("firewall:   %u IPv4 and %u IPv6 source prefixes (lbctl firewall list); list file %s\n",
	       c->dp.cfg.src_rules_v4, c->dp.cfg.src_rules_v6, m.fw_file);
	managed__free(&m);
}

static int cmd_status(struct ctx *c)
{
	struct attachment at[64];
	struct vip vips[LB_MAX_VIPS];
	int n, i, err = load_state(c, 0);

	if (err)
		return err;
	instance__unlock(&c->in);
	err = instance__enter_netns(&c->in);
	if (err)
		return err;
	printf("instance:   %s (%s)\n", c->in.name, c->in.pin_dir);
	printf("ring size:  %u slots per VIP, hash seed 0x%x\n",
	       c->dp.cfg.ring_size, c->dp.cfg.hash_seed);
	printf("sk_lookup:  %s\n", attach__sk_lookup_ok(&c->in) ?
					   "attached to the network namespace" :
					   "NOT attached");
	n = attach__list(&c->in, at, 64);
	printf("xdp:        ");
	for (i = 0; i < n; i++)
		printf("%s%s (%s)", i ? ", " : "", at[i].ifname, at[i].mode);
	printf("%s\n", n > 0 ? "" : "not attached to any interface");
	status_shield(c);
	n = vip__list(&c->dp, vips);
	printf("vips:       %d\n\n", n);
	printf("%-28s %6s %6s %-9s %7s %7s\n", "vip", "worker", "weight",
	       "state", "slots", "share");
	for (i = 0; i < n; i++)
		print_workers(c, &vips[i]);
	return 0;
}

static int cmd_agent(struct ctx *c)
{
	const char *config = opt_val(c, "config");

	if (!config) {
		fprintf(stderr, "lbctl: agent: -c/--config FILE is required\n");
		return -EINVAL;
	}
	return agent__run(&c->in, config);
}

/* The commands; each one's --help is generated from its opts. */
#define OPT_RING                                                \
	{                                                       \
		.name = "ring-size", .arg = "M",                \
		.help = "ring size if the state is created now" \
	}
#define OPT_SEED                                                \
	{                                                       \
		.name = "seed", .arg = "N",                     \
		.help = "hash seed if the state is created now" \
	}
static const struct cmd cmds[] = {
	{ .name = "load",
	  .args = "",
	  .run = cmd_load,
	  .summary = "create the pinned state, attach sk_lookup",
	  .opts = { OPT_RING, OPT_SEED } },
	{ .name = "unload",
	  .args = "",
	  .run = cmd_unload,
	  .summary = "detach everything, remove the pinned state" },
	{ .name = "attach",
	  .args = "IFACE",
	  .min_args = 1,
	  .max_args = 1,
	  .run = cmd_attach,
	  .summary = "attach XDP to IFACE (libxdp dispatcher)",
	  .opts = { { .name = "mode",
		      .arg = "native|generic",
		      .help = "XDP mode; native falls back to generic" },
		    OPT_RING,
		    OPT_SEED } },
	{ .name = "detach",
	  .args = "IFACE",
	  .min_args = 1,
	  .max_args = 1,
	  .run = cmd_detach,
	  .summary = "detach XDP from IFACE" },
	{ .name = "vip add",
	  .args = "ADDR:PORT",
	  .min_args = 1,
	  .max_args = 1,
	  .run = cmd_vip_add,
	  .summary = "add a VIP",
	  .opts = { { .name = "listener",
		      .arg = "https|http",
		      .help = "worker socket it goes to (default: http for port 80)" },
		    { .name = "v4-prefix",
		      .arg = "N",
		      .help = "IPv4 client bits hashed (default 32)" },
		    { .name = "v6-prefix",
		      .arg = "N",
		      .help = "IPv6 client bits hashed (default 128)" },
		    { .name = "shared",
		      .help = "the address serves others too: XDP passes what it does not serve (default: exclusive, dropped)" },
		    OPT_RING,
		    OPT_SEED } },
	{ .name = "vip del",
	  .args = "ADDR:PORT",
	  .min_args = 1,
	  .max_args = 1,
	  .run = cmd_vip_del,
	  .summary = "remove a VIP and its workers" },
	{ .name = "vip list",
	  .args = "",
	  .run = cmd_vip_list,
	  .summary = "list VIPs" },
	{ .name = "worker add",
	  .args = "VIP ID",
	  .min_args = 2,
	  .max_args = 2,
	  .run = cmd_worker_add,
	  .summary = "add worker ID to VIP",
	  .opts = { { .name = "weight",
		      .arg = "W",
		      .help = "1..256 (default 1)" } } },
	{ .name = "worker del",
	  .args = "VIP ID",
	  .min_args = 2,
	  .max_args = 2,
	  .run = cmd_worker_del,
	  .summary = "remove worker ID from VIP" },
	{ .name = "worker drain",
	  .args = "VIP ID",
	  .min_args = 2,
	  .max_args = 2,
	  .run = cmd_worker_drain,
	  .summary = "no new connections to ID; established ones go on" },
	{ .name = "worker undrain",
	  .args = "VIP ID",
	  .min_args = 2,
	  .max_args = 2,
	  .run = cmd_worker_undrain,
	  .summary = "take new connections again" },
	{ .name = "worker weight",
	  .args = "VIP ID W",
	  .min_args = 3,
	  .max_args = 3,
	  .run = cmd_worker_weight,
	  .summary = "set the weight (1..256)" },
	{ .name = "worker list",
	  .args = "[VIP]",
	  .max_args = 1,
	  .run = cmd_worker_list,
	  .summary = "workers, state and ring share" },
	{ .name = "pick",
	  .args = "VIP CLIENT",
	  .min_args = 2,
	  .max_args = 2,
	  .run = cmd_pick,
	  .summary = "the worker CLIENT's connections go to" },
	{ .name = "deny add",
	  .args = "PREFIX",
	  .min_args = 1,
	  .max_args = 1,
	  .run = cmd_deny_add,
	  .summary = "drop every packet from PREFIX to a VIP address; saved in the list file" },
	{ .name = "deny del",
	  .args = "PREFIX",
	  .min_args = 1,
	  .max_args = 1,
	  .run = cmd_deny_del,
	  .summary = "take PREFIX off the deny list and the list file" },
	{ .name = "deny list",
	  .args = "",
	  .run = cmd_deny_list,
	  .summary = "denied source prefixes and where each is kept" },
	{ .name = "allow add",
	  .args = "PREFIX",
	  .min_args = 1,
	  .max_args = 1,
	  .run = cmd_allow_add,
	  .summary = "exempt PREFIX from a shorter deny and from flood buckets" },
	{ .name = "allow del",
	  .args = "PREFIX",
	  .min_args = 1,
	  .max_args = 1,
	  .run = cmd_allow_del,
	  .summary = "take PREFIX off the allow list and the list file" },
	{ .name = "allow list",
	  .args = "",
	  .run = cmd_allow_list,
	  .summary = "allowed source prefixes and where each is kept" },
	{ .name = "firewall list",
	  .args = "",
	  .run = cmd_firewall_list,
	  .summary = "deny and allow entries, the list file, the counts in lb_config" },
	{ .name = "firewall apply",
	  .args = "",
	  .run = cmd_firewall_apply,
	  .summary = "make the tries hold the list file (what the agent does at start)" },
	{ .name = "flood",
	  .args = "",
	  .run = cmd_flood,
	  .summary = "SYN-flood defence settings in lb_config" },
	{ .name = "flood set",
	  .args = "KEY VALUE",
	  .min_args = 2,
	  .max_args = 2,
	  .run = cmd_flood_set,
	  .summary = "change one (refused if the agent config has a flood: section)" },
	{ .name = "stats",
	  .args = "",
	  .run = cmd_stats,
	  .summary = "counters per VIP, worker and outcome",
	  .opts = { { .name = "json", .help = "JSON output" },
		    { .name = "watch",
		      .arg = "SECONDS",
		      .help = "repeat, with rates" },
		    { .name = "count",
		      .arg = "N",
		      .help = "with --watch: stop after N reports" } } },
	{ .name = "status",
	  .args = "",
	  .run = cmd_status,
	  .summary = "what is attached where, VIPs, workers" },
	{ .name = "agent",
	  .args = "",
	  .run = cmd_agent,
	  .summary = "run the agent: config, registrations, health",
	  .opts = { { .name = "config",
		      .shortopt = 'c',
		      .arg = "FILE",
		      .help = "YAML config (see docs/lbctl.md)" } } },
};

#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

static void usage_cmd(FILE *f, const struct cmd *cmd)
{
	int i;

	fprintf(f, "Usage: lbctl [GLOBAL] %s%s%s%s\n  %s\n", cmd->name,
		cmd->opts[0].name ? " [OPTIONS]" : "", *cmd->args ? " " : "",
		cmd->args, cmd->summary);
	for (i = 0; i < MAX_OPTS && cmd->opts[i].name; i++) {
		char left[48];

		snprintf(left, sizeof(left), "%s%c%s--%s%s%s",
			 cmd->opts[i].shortopt ? "-" : "",
			 cmd->opts[i].shortopt ?: ' ',
			 cmd->opts[i].shortopt ? ", " : "   ",
			 cmd->opts[i].name, cmd->opts[i].arg ? " " : "",
			 cmd->opts[i].arg ?: "");
		fprintf(f, "  %-28s %s\n", left, cmd->opts[i].help);
	}
}

static void usage(FILE *f)
{
	size_t i;

	fprintf(f,
		"Usage: lbctl [GLOBAL] COMMAND [OPTIONS] [ARGS]\n\n"
		"Global options:\n"
		"  --instance NAME              state under BPFFS/NAME (default lb0)\n"
		"  --bpffs DIR                  BPF filesystem (default /sys/fs/bpf)\n"
		"  --netns NAME                 serve the network namespace NAME\n"
		"  -v, --verbose                say more, show libbpf/libxdp logs\n"
		"  -h, --help                   this help; COMMAND --help for one\n\n"
		"Commands:\n");
	for (i = 0; i < NCMDS; i++) {
		char left[48];

		snprintf(left, sizeof(left), "%s %s", cmds[i].name,
			 cmds[i].args);
		fprintf(f, "  %-28s %s\n", left, cmds[i].summary);
	}
}

/* Match one or two command words; returns words used, 0 if none. */
static int find_cmd(int argc, char **argv, const struct cmd **out)
{
	char two[64];
	size_t i;

	if (argc >= 2) {
		snprintf(two, sizeof(two), "%s %s", argv[0], argv[1]);
		for (i = 0; i < NCMDS; i++)
			if (!strcmp(cmds[i].name, two)) {
				*out = &cmds[i];
				return 2;
			}
	}
	for (i = 0; argc >= 1 && i < NCMDS; i++)
		if (!strcmp(cmds[i].name, argv[0])) {
			*out = &cmds[i];
			return 1;
		}
	return 0;
}

static int parse_cmd_opts(struct ctx *c, int argc, char **argv)
{
	struct option lopts[MAX_OPTS + 2] = { 0 };
	char shorts[2 * MAX_OPTS + 2] = "h";
	size_t sl = 1;
	int i, n = 0, o;

	for (i = 0; i < MAX_OPTS && c->cmd->opts[i].name; i++, n++)
		lopts[n] = (struct option){ c->cmd->opts[i].name,
					    c->cmd->opts[i].arg ?
						    required_argument :
						    no_argument,
					    NULL, i };
	for (i = 0; i < MAX_OPTS && c->cmd->opts[i].name; i++) {
		if (!c->cmd->opts[i].shortopt)
			continue;
		shorts[sl++] = c->cmd->opts[i].shortopt;
		if (c->cmd->opts[i].arg)
			shorts[sl++] = ':';
	}
	lopts[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	optind = 0;
	opterr = 0;
	while ((o = getopt_long(argc, argv, shorts, lopts, NULL)) != -1) {
		for (i = 0;
		     o >= MAX_OPTS && i < MAX_OPTS && c->cmd->opts[i].name; i++)
			if (c->cmd->opts[i].shortopt &&
			    o == c->cmd->opts[i].shortopt) {
				o = i;
				break;
			}
		if (o == 'h') {
			usage_cmd(stdout, c->cmd);
			exit(0);
		}
		if (o == '?' || o == ':') {
			fprintf(stderr,
				"lbctl: %s: unknown option or missing value '%s'\n",
				c->cmd->name, argv[optind - 1]);
			usage_cmd(stderr, c->cmd);
			return -EINVAL;
		}
		c->val[o] = optarg ?: "";
	}
	for (i = optind; i < argc; i++) {
		if (c->nargs == MAX_ARGS)
			break;
		c->args[c->nargs++] = argv[i];
	}
	if (argc - optind < c->cmd->min_args ||
	    argc - optind > c->cmd->max_args) {
		fprintf(stderr, "lbctl: %s: expected %s%s\n", c->cmd->name,
			*c->cmd->args ? c->cmd->args : "no arguments",
			argc - optind > c->cmd->max_args ? ", got more" : "");
		usage_cmd(stderr, c->cmd);
		return -EINVAL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option gopts[] = {
		{ "instance", required_argument, NULL, 'i' },
		{ "bpffs", required_argument, NULL, 'b' },
		{ "netns", required_argument, NULL, 'n' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *instance = NULL, *bpffs = NULL, *netns = NULL;
	struct ctx c = { 0 };
	int o, used, err;

	while ((o = getopt_long(argc, argv, "+vh", gopts, NULL)) != -1) {
		switch (o) {
		case 'i':
			instance = optarg;
			break;
		case 'b':
			bpffs = optarg;
			break;
		case 'n':
			netns = optarg;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	used = find_cmd(argc - optind, argv + optind, &c.cmd);
	if (!used) {
		if (optind < argc)
			fprintf(stderr, "lbctl: unknown command '%s'\n",
				argv[optind]);
		usage(stderr);
		return 2;
	}
	c.verbose = verbose;
	libbpf_set_print(print_libbpf);
	libxdp_set_print(print_libxdp);
	/* getopt sees the command's own arguments with the name in argv[0] */
	if (parse_cmd_opts(&c, argc - optind - used + 1,
			   argv + optind + used - 1))
		return 2;
	err = instance__init(&c.in, instance, bpffs, netns);
	err = err ?: c.cmd->run(&c);
	dataplane__destroy(&c.dp);
	instance__close(&c.in);
	return err ? 1 : 0;
}
