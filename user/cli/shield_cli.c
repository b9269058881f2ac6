// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "firewall.h"
#include "flood.h"
#include "shield_cli.h"

#define FW_FILE_HEADER                                                        \
	"# Source deny/allow list: one 'deny PREFIX' or 'allow PREFIX' per\n" \
	"# line; the longest matching prefix decides. 'lbctl deny|allow\n"    \
	"# add|del' edit it; the agent applies it at start and on SIGHUP.\n"

/* The list file's text with line `skip` removed (0: none) and `add`
 * appended (NULL: none). */
static char *fw_cli__new_text(const char *text, size_t n, int skip,
			      const char *add, size_t *out_n)
{
	const char *s = text, *end = text + n, *nl;
	char *out = NULL;
	int line = 0;
	FILE *o;

	o = open_memstream(&out, out_n);
	if (!o)
		return NULL;
	if (!n)
		fputs(FW_FILE_HEADER, o);
	for (; s < end; s = nl) {
		nl = memchr(s, '\n', end - s);
		nl = nl ? nl + 1 : end;
		if (++line != skip)
			fwrite(s, 1, nl - s, o);
	}
	if (n && text[n - 1] != '\n')
		fputc('\n', o);
	if (add)
		fputs(add, o);
	fclose(o);
	return out;
}

static int fw_cli__edit(struct instance *in, struct dataplane *dp, __u32 action,
			int add, const char *arg)
{
	const char *a = fw__action_name(action), *verb = add ? "add" : "del";
	char path[PATH_MAX], why[256], net[FW_PREFIX_TEXT_MAX], line[96];
	struct fw_list old = { 0 }, next = { 0 };
	char *text = NULL, *ntext = NULL;
	size_t n = 0, nn = 0;
	struct fw_prefix p;
	struct fw_entry *e;
	int err, i;

	if (fw__parse_prefix(arg, &p, why, sizeof(why))) {
		fprintf(stderr, "lbctl: '%s': %s\n", arg, why);
		return -EINVAL;
	}
	fw__format_prefix(&p, net, sizeof(net));
	fw__file_path(in->name, path, sizeof(path));
	err = fw__read_file(path, &text, &n);
	if (err) {
		fprintf(stderr, "lbctl: cannot read %s: %s\n", path,
			strerror(-err));
		return err;
	}
	err = fw_list__parse(text, n, path, &old, stderr);
	if (err) {
		fprintf(stderr,
			"lbctl: %s %s %s: %s has errors (above); fix it first\n",
			a, verb, net, path);
		goto out;
	}
	i = fw_list__find(&old, &p);
	e = i >= 0 ? &old.e[i] : NULL;
	err = add ? -EEXIST : -ENOENT;
	if (add && e && e->action == action)
		fprintf(stderr,
			"lbctl: %s %s %s: on the %s list already (%s:%d)\n", a,
			verb, net, a, path, e->line);
	else if (add && e)
		fprintf(stderr,
			"lbctl: %s %s %s: it is on the %s list (%s:%d); 'lbctl %s del %s' first\n",
			a, verb, net, fw__action_name(e->action), path, e->line,
			fw__action_name(e->action), net);
	else if (!add && e && e->action != action)
		fprintf(stderr,
			"lbctl: %s %s %s: not on the %s list but on the %s list (%s:%d)\n",
			a, verb, net, a, fw__action_name(e->action), path,
			e->line);
	else if (!add && !e)
		fprintf(stderr, "lbctl: %s %s %s: not on the %s list\n", a,
			verb, net, a);
	else
		err = 0;
	if (err)
		goto out;
	snprintf(line, sizeof(line), "%s %s\n", a, net);
	ntext = fw_cli__new_text(text, n, add ? 0 : e->line, add ? line : NULL,
				 &nn);
	err = ntext ? fw_list__parse(ntext, nn, path, &next, stderr) : -ENOMEM;
	/* the tries first, the file once they hold it; undone on failure */
	err = err ?: fw__apply(dp, &next, NULL);
	if (err >= 0) {
		err = fw__write_file(path, ntext, nn);
		if (err)
			fprintf(stderr, "lbctl: cannot write %s: %s\n", path,
				strerror(-err));
	}
	if (err < 0) {
		fprintf(stderr, "lbctl: %s %s %s failed: %s; nothing changed\n",
			a, verb, net, strerror(-err));
		fw__apply(dp, &old, NULL);
		goto out;
	}
	printf("%s %s %s (%s); lb_config src_rules_v4 %u, src_rules_v6 %u\n", a,
	       net, add ? "added" : "deleted", path, dp->cfg.src_rules_v4,
	       dp->cfg.src_rules_v6);
out:
	fw_list__free(&old);
	fw_list__free(&next);
	free(text);
	free(ntext);
	return err < 0 ? err : 0;
}

/* The tries' entries of one action, one prefix per line. */
static int fw_cli__list(const struct dataplane *dp, __u32 action)
{
	char buf[FW_PREFIX_TEXT_MAX];
	struct fw_list have = { 0 };
	size_t i;
	int err;

	err = fw__map_read(dp, &have);
	if (err) {
		fprintf(stderr, "lbctl: cannot read the source tries: %s\n",
			strerror(-err));
		return err;
	}
	fw_list__sort(&have);
	for (i = 0; i < have.n; i++) {
		if (have.e[i].action != action)
			continue;
		fw__format_prefix(&have.e[i].p, buf, sizeof(buf));
		printf("%s\n", buf);
	}
	fw_list__free(&have);
	return 0;
}

static int flood_cli__show(const struct dataplane *dp)
{
	struct flood_settings s;
	int n;

	flood__from_config(&s, &dp->cfg);
	flood__print(stdout, &s);
	n = flood__cpus_flooded(dp);
	if (n < 0) {
		fprintf(stderr, "lbctl: cannot read lb_flood: %s\n",
			strerror(-n));
		return n;
	}
	printf("flooded    %d CPU%s now\n", n, n == 1 ? "" : "s");
	return 0;
}

int shield_cli__run(struct instance *in, struct dataplane *dp, const char *cmd,
		    const char *arg)
{
	__u32 action = !strncmp(cmd, "deny", 4) ? LB_SRC_DENY : LB_SRC_ALLOW;
	const char *verb = strchr(cmd, ' ');

	if (!strncmp(cmd, "flood", 5))
		return flood_cli__show(dp);
	if (verb && !strcmp(verb, " list"))
		return fw_cli__list(dp, action);
	return fw_cli__edit(in, dp, action, verb && !strcmp(verb, " add"), arg);
}
