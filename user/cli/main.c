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
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>
#include "agent.h"
#include "attach.h"
#include "bpf_log.h"
#include "cluster_cli.h"
#include "dataplane.h"
#include "instance.h"
#include "maglev.h"
#include "number.h"
#include "shield_cli.h"
#include "sshd.h"
#include "lb_hash_kern_user.h"
#include "stats.h"
#include "vip.h"
#include "ring.h"
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
	int err = number__parse_u32(text, min, max, out);

	if (err)
		fprintf(stderr, "lbctl: %s '%s' must be a number in %u..%u%s\n",
			what, text, min, max,
			err == -EINVAL ? " (decimal, or hex after 0x)" : "");
	return err ? -EINVAL : 0;
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
		    parse_u32(opt_val(c, "ring-size"), 3, MAGLEV_SIZE_MAX,
			      "ring size", &o.ring_size))
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

/* The agent's -c/--config argument, from its command line, as a path from
 * its working directory; "its config file" if it cannot be read. */
static void agent_config_path(pid_t pid, char *buf, size_t len)
{
	char path[64], cmdline[4096], cwd[PATH_MAX] = "", *a, *file = NULL;
	ssize_t n = -1;
	FILE *f;

	snprintf(buf, len, "its config file");
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	f = pid ? fopen(path, "r") : NULL;
	if (f) {
		n = fread(cmdline, 1, sizeof(cmdline) - 1, f);
		fclose(f);
	}
	if (n <= 0)
		return;
	cmdline[n] = '\0';
	for (a = cmdline; a < cmdline + n && !file; a += strlen(a) + 1) {
		if (!strcmp(a, "-c") || !strcmp(a, "--config"))
			file = a + strlen(a) + 1;
		else if (!strncmp(a, "--config=", 9))
			file = a + 9;
		else if (!strncmp(a, "-c", 2))
			file = a + 2;
	}
	if (!file || file >= cmdline + n || !*file)
		return;
	snprintf(path, sizeof(path), "/proc/%d/cwd", (int)pid);
	if (file[0] != '/' && (n = readlink(path, cwd, sizeof(cwd) - 1)) > 0) {
		cwd[n] = '\0';
		snprintf(buf, len, "%s/%s", cwd, file);
	} else {
		snprintf(buf, len, "%s", file);
	}
}

/*
 * The agent makes lb_vips what its config says on every start and reload
 * (docs/lbctl.md): a VIP changed here would be put back or removed without
 * a word. Refuse, and say where the change belongs.
 */
static int vip_agent_managed(struct ctx *c, const char *verb)
{
	char config[PATH_MAX + 64];
	pid_t pid;

	if (!instance__agent_running(&c->in, &pid))
		return 0;
	agent_config_path(pid, config, sizeof(config));
	fprintf(stderr,
		"lbctl: cannot %s VIP %s: the agent (pid %d) manages the VIPs of instance '%s'; change 'vips:' in %s (exclusive: true, force: true) and reload it (SIGHUP)\n",
		verb, c->args[0], (int)pid, c->in.name, config);
	return -EBUSY;
}

/* Refuse to make an address exclusive while sshd listens on it. */
static int vip_check_sshd(struct ctx *c, const struct vip *v)
{
	struct sshd_listener l;
	char what[160], addr[INET6_ADDRSTRLEN];
	int rc;

	rc = instance__enter_netns(&c->in);
	rc = rc ?: sshd__find(&v->key.addr, v->key.family, &l);
	if (rc < 0) {
		fprintf(stderr,
			"lbctl: cannot add VIP %s: cannot read the listening sockets of the namespace: %s\n",
			c->args[0], strerror(-rc));
		return rc;
	}
	if (!rc)
		return 0;
	inet_ntop(v->key.family == LB_FAMILY_V6 ? AF_INET6 : AF_INET,
		  &v->key.addr, addr, sizeof(addr));
	sshd__describe(&l, what, sizeof(what));
	fprintf(stderr,
		"lbctl: will not make %s exclusive: %s, and XDP would drop every new connection to it, SSH to port %u included; serve it shared (no --exclusive), move sshd off that address, or add --force\n",
		addr, what, l.port);
	return -EBUSY;
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
	if (opt_val(c, "shared") && opt_val(c, "exclusive")) {
		fprintf(stderr,
			"lbctl: --shared and --exclusive exclude each other\n");
		return -EINVAL;
	}
	v.meta = (struct lb_vip_meta){ .v4_prefix = p4,
				       .v6_prefix = p6,
				       .listener = listener,
				       .flags = opt_val(c, "exclusive") ?
							LB_VIP_F_EXCLUSIVE :
							0 };
	err = vip_agent_managed(c, "add");
	if (!err && opt_val(c, "exclusive") && !opt_val(c, "force"))
		err = vip_check_sshd(c, &v);
	err = err ?: load_state(c, 1);
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
	int err = vip_agent_managed(c, "remove");

	err = err ?: load_state(c, 0);
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
		       vips[i].meta.flags & LB_VIP_F_EXCLUSIVE ? "exclusive" :
								 "shared",
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
	pid_t pid;

	/* The agent sets the weight each worker registers with: refuse
	 * rather than be overwritten silently (docs/lbctl.md). */
	if (instance__agent_running(&c->in, &pid)) {
		fprintf(stderr,
			"lbctl: worker weight: instance '%s' is managed by the agent (pid %d); set the weight in the worker's config (lbtls) and reload it\n",
			c->in.name, (int)pid);
		return -EBUSY;
	}
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
	cluster_cli__print_pick(&c->dp, worker);
	return 0;
}

static int cmd_cluster(struct ctx *c)
{
	int err = load_state(c, 0);

	return err ?: cluster_cli__run(&c->in, &c->dp, c->cmd->name);
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

/* deny|allow add|del|list, flood: user/cli/shield_cli.c */
static int cmd_shield(struct ctx *c)
{
	const char *name = c->cmd->name;
	int err = load_state(c, !strcmp(name + strlen(name) - 4, " add"));

	if (err)
		return err;
	return shield_cli__run(&c->in, &c->dp, name,
			       c->nargs ? c->args[0] : NULL);
}

/* Where XDP SYN cookies answer in flood mode, and why not elsewhere. */
static void print_cookies(const struct lb_config *cfg,
			  const struct attachment *at, int n)
{
	static const struct {
		__u32 flag;
		const char *text;
	} off[] = {
		{ LB_CF_NO_TS, "no timestamps (net.ipv4.tcp_timestamps=0)" },
		{ LB_CF_NO_SACK, "no SACK (net.ipv4.tcp_sack=0)" },
		{ LB_CF_NO_WSCALE,
		  "no window scaling (net.ipv4.tcp_window_scaling=0)" },
	};
	size_t k;
	int i;

	printf("cookies:    ");
	if (!(cfg->flags & LB_CF_COOKIES)) {
		printf("off (flood settings)\n");
		return;
	}
	if (cfg->flags & LB_CF_NO_SYNCOOKIES) {
		printf("refused: net.ipv4.tcp_syncookies=0 (the kernel would reset their ACKs)\n");
		return;
	}
	for (i = 0; i < n; i++)
		printf("%s%s %s", i ? ", " : "", at[i].ifname,
		       at[i].cookies_off ?
			       attach__cookie_off_name(at[i].cookies_off) :
			       "on");
	for (k = 0; k < sizeof(off) / sizeof(off[0]); k++)
		if (cfg->flags & off[k].flag)
			printf("; %s", off[k].text);
	printf("\n");
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
	print_cookies(&c->dp.cfg, at, n);
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
		    { .name = "exclusive",
		      .help = "the address is the balancer's alone: XDP drops new connections to other ports, UDP no connected socket takes (default: shared)" },
		    { .name = "force",
		      .help = "with --exclusive: even while sshd listens on the address" },
		    { .name = "shared",
		      .help = "the address serves others too (the default; kept for scripts)" },
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
	  .summary = "the worker CLIENT's connections go to (and its host)" },
	{ .name = "cluster",
	  .args = "",
	  .run = cmd_cluster,
	  .summary = "scale-out: self, hosts, ring shares per host" },
	{ .name = "cluster drain",
	  .args = "",
	  .run = cmd_cluster,
	  .summary =
		  "take this host out: its workers leave every ring, its announce link goes down" },
	{ .name = "cluster undrain",
	  .args = "",
	  .run = cmd_cluster,
	  .summary = "announce this host again" },
	{ .name = "deny add",
	  .args = "PREFIX",
	  .min_args = 1,
	  .max_args = 1,
	  .run = cmd_shield,
	  .summary = "drop every packet from PREFIX to a VIP address (saved)" },
	{ .name = "deny del",
	  .args = "PREFIX",
	  .min_args = 1,
	  .max_args = 1,
	  .run = cmd_shield,
	  .summary = "take PREFIX off the deny list" },
	{ .name = "deny list",
	  .args = "",
	  .run = cmd_shield,
	  .summary = "denied source prefixes" },
	{ .name = "allow add",
	  .args = "PREFIX",
	  .min_args = 1,
	  .max_args = 1,
	  .run = cmd_shield,
	  .summary =
		  "exempt PREFIX from a shorter deny and from flood buckets (saved)" },
	{ .name = "allow del",
	  .args = "PREFIX",
	  .min_args = 1,
	  .max_args = 1,
	  .run = cmd_shield,
	  .summary = "take PREFIX off the allow list" },
	{ .name = "allow list",
	  .args = "",
	  .run = cmd_shield,
	  .summary = "allowed source prefixes" },
	{ .name = "flood show",
	  .args = "",
	  .run = cmd_shield,
	  .summary = "SYN-flood defence settings and CPUs in flood mode" },
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
	bpf_log__init(verbose);
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
