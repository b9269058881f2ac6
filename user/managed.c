// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "instance.h"
#include "managed.h"

/*
 * The file, one item per line:
 *   config PATH
 *   firewall_file PATH
 *   flood LINE
 *   deny|allow PREFIX LINE
 */

void managed__path(const char *instance, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s.managed", INSTANCE_RUN_DIR, instance);
}

static void managed__defaults(const char *instance, struct managed *m)
{
	memset(m, 0, sizeof(*m));
	fw__default_file(instance, m->fw_file, sizeof(m->fw_file));
}

static int managed__line(struct managed *m, char *line)
{
	char why[160], *word = line, *rest, *nl = strchr(line, '\n');
	struct fw_entry e = { .origin = FW_FROM_CONFIG };
	int action;

	if (nl)
		*nl = '\0';
	if (!*line || *line == '#')
		return 0;
	rest = strchr(line, ' ');
	if (!rest)
		return -EINVAL;
	*rest++ = '\0';
	if (!strcmp(word, "config")) {
		snprintf(m->config, sizeof(m->config), "%s", rest);
		return 0;
	}
	if (!strcmp(word, "firewall_file")) {
		snprintf(m->fw_file, sizeof(m->fw_file), "%s", rest);
		return 0;
	}
	if (!strcmp(word, "flood")) {
		m->flood_line = atoi(rest);
		return 0;
	}
	action = fw__parse_action(word);
	if (action < 0)
		return -EINVAL;
	word = rest;
	rest = strchr(word, ' ');
	if (!rest)
		return -EINVAL;
	*rest++ = '\0';
	if (fw__parse_prefix(word, &e.p, why, sizeof(why)))
		return -EINVAL;
	e.action = action;
	e.line = atoi(rest);
	return fw_list__push(&m->inline_rules, &e);
}

int managed__read(const char *instance, struct managed *m)
{
	char path[PATH_MAX], *line = NULL;
	size_t cap = 0;
	int err = 0, n = 0;
	FILE *f;

	managed__defaults(instance, m);
	managed__path(instance, path, sizeof(path));
	f = fopen(path, "r");
	if (!f) {
		if (errno == ENOENT)
			return 0;
		err = -errno;
		fprintf(stderr, "lbctl: cannot read %s: %s\n", path,
			strerror(errno));
		return err;
	}
	while (!err && getline(&line, &cap, f) >= 0) {
		n++;
		err = managed__line(m, line);
	}
	free(line);
	fclose(f);
	if (err)
		fprintf(stderr,
			"lbctl: %s:%d: garbled (written by the agent; restart it or remove the file)\n",
			path, n);
	return err;
}

int managed__write(const char *instance, const struct managed *m)
{
	char path[PATH_MAX], pbuf[FW_PREFIX_TEXT_MAX], *text = NULL;
	size_t n = 0, i;
	FILE *o;
	int err;

	managed__path(instance, path, sizeof(path));
	o = open_memstream(&text, &n);
	if (!o)
		return -ENOMEM;
	fprintf(o,
		"# Written by the lbctl agent (pid %d) each time it applies its config;\n"
		"# lbctl reads it. Do not edit (docs/lbctl.md).\n",
		(int)getpid());
	if (m->config[0])
		fprintf(o, "config %s\n", m->config);
	fprintf(o, "firewall_file %s\n", m->fw_file);
	if (m->flood_line)
		fprintf(o, "flood %d\n", m->flood_line);
	for (i = 0; i < m->inline_rules.n; i++) {
		const struct fw_entry *e = &m->inline_rules.e[i];

		fw__format_prefix(&e->p, pbuf, sizeof(pbuf));
		fprintf(o, "%s %s %d\n", fw__action_name(e->action), pbuf,
			e->line);
	}
	fclose(o);
	err = fw__mkdir_parent(path);
	err = err ?: fw__write_atomic(path, text, n);
	free(text);
	return err;
}

void managed__free(struct managed *m)
{
	fw_list__free(&m->inline_rules);
}
