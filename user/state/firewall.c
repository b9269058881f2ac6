// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "firewall.h"

/* --- prefixes ---------------------------------------------------------- */

static int fw__bits(__u8 family)
{
	return family == LB_FAMILY_V6 ? 128 : 32;
}

/* Clear the bits of addr beyond len (addr in network order). */
static void fw__mask(struct lb_addr *addr, __u8 family, __u8 len)
{
	__u8 *b = (__u8 *)addr;
	int i, keep;

	for (i = 0; i < fw__bits(family) / 8; i++) {
		keep = (int)len - i * 8;
		if (keep < 8)
			b[i] &= keep <= 0 ? 0 : (__u8)(0xff << (8 - keep));
	}
}

int fw__parse_prefix(const char *text, struct fw_prefix *p, char *why,
		     size_t len)
{
	const char *slash = strchr(text, '/');
	size_t hl = slash ? (size_t)(slash - text) : strlen(text);
	char host[INET6_ADDRSTRLEN + 1], net[FW_PREFIX_TEXT_MAX];
	struct fw_prefix masked;
	unsigned long plen;
	char *end;
	int max;

	memset(p, 0, sizeof(*p));
	if (hl && hl < sizeof(host)) {
		memcpy(host, text, hl);
		host[hl] = '\0';
		if (inet_pton(AF_INET, host, &p->addr.v4) == 1)
			p->family = LB_FAMILY_V4;
		else if (inet_pton(AF_INET6, host, p->addr.v6) == 1)
			p->family = LB_FAMILY_V6;
	}
	if (!p->family) {
		snprintf(why, len, "not an IPv4 or IPv6 address or prefix");
		return -EINVAL;
	}
	max = fw__bits(p->family);
	plen = max;
	if (slash) {
		errno = 0;
		plen = strtoul(slash + 1, &end, 10);
		if (!isdigit((unsigned char)slash[1]) || *end) {
			snprintf(why, len, "prefix length '%s' is not a number",
				 slash + 1);
			return -EINVAL;
		}
		if (errno || plen > (unsigned long)max) {
			snprintf(why, len,
				 "prefix length %s is out of range 0..%d",
				 slash + 1, max);
			return -EINVAL;
		}
	}
	p->len = plen;
	masked = *p;
	fw__mask(&masked.addr, p->family, p->len);
	if (memcmp(&masked.addr, &p->addr, sizeof(p->addr))) {
		fw__format_prefix(&masked, net, sizeof(net));
		snprintf(
			why, len,
			"host bits set beyond /%u (the network is %s; one address is /%d)",
			p->len, net, max);
		return -EINVAL;
	}
	return 0;
}

void fw__format_prefix(const struct fw_prefix *p, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(p->family == LB_FAMILY_V6 ? AF_INET6 : AF_INET, &p->addr, a,
		  sizeof(a));
	snprintf(buf, len, "%s/%u", a, p->len);
}

const char *fw__action_name(__u32 action)
{
	return action == LB_SRC_DENY  ? "deny" :
	       action == LB_SRC_ALLOW ? "allow" :
					"?";
}

static int fw__prefix_cmp(const struct fw_prefix *a, const struct fw_prefix *b)
{
	int c;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	c = memcmp(&a->addr, &b->addr, sizeof(a->addr));
	return c ?: (a->len > b->len) - (a->len < b->len);
}

void fw__file_path(const char *instance, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s/firewall", FW_STATE_DIR, instance);
}

/* --- lists --------------------------------------------------------------- */

int fw_list__push(struct fw_list *l, const struct fw_entry *e)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct fw_entry *ne = realloc(l->e, cap * sizeof(*ne));

		if (!ne)
			return -ENOMEM;
		l->e = ne;
		l->cap = cap;
	}
	l->e[l->n++] = *e;
	return 0;
}

int fw_list__find(const struct fw_list *l, const struct fw_prefix *p)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (!fw__prefix_cmp(&l->e[i].p, p))
			return i;
	return -1;
}

void fw_list__free(struct fw_list *l)
{
	free(l->e);
	memset(l, 0, sizeof(*l));
}

static int fw__entry_cmp(const void *x, const void *y)
{
	const struct fw_entry *a = x, *b = y;

	return fw__prefix_cmp(&a->p, &b->p) ?:
		       (a->line > b->line) - (a->line < b->line);
}

void fw_list__sort(struct fw_list *l)
{
	if (l->n)
		qsort(l->e, l->n, sizeof(*l->e), fw__entry_cmp);
}

/* One line: 0 and *e set, 1 for nothing (blank, comment), or -EINVAL with
 * why filled. line is changed. */
static int fw__parse_line(char *line, struct fw_entry *e, char *why, size_t len)
{
	char *hash = strchr(line, '#'), *tok[3], pwhy[160];
	int n = 0;

	if (hash)
		*hash = '\0';
	for (tok[0] = strtok(line, " \t\r"); tok[n] && n < 2;)
		tok[++n] = strtok(NULL, " \t\r");
	if (!n)
		return 1;
	memset(e, 0, sizeof(*e));
	if (!strcmp(tok[0], "deny"))
		e->action = LB_SRC_DENY;
	else if (!strcmp(tok[0], "allow"))
		e->action = LB_SRC_ALLOW;
	if (!e->action) {
		snprintf(why, len, "unknown action '%s' (deny or allow)",
			 tok[0]);
		return -EINVAL;
	}
	if (n != 2 || tok[2]) {
		snprintf(why, len, "'%s' expects one prefix", tok[0]);
		return -EINVAL;
	}
	if (fw__parse_prefix(tok[1], &e->p, pwhy, sizeof(pwhy))) {
		snprintf(why, len, "'%s': %s", tok[1], pwhy);
		return -EINVAL;
	}
	return 0;
}

/* Prefixes listed twice, found in a sorted copy. */
static int fw__report_dups(const struct fw_list *l, const char *name, FILE *err)
{
	struct fw_list s = { .n = l->n };
	char buf[FW_PREFIX_TEXT_MAX];
	int dups = 0;
	size_t i;

	if (l->n < 2)
		return 0;
	s.e = malloc(l->n * sizeof(*s.e));
	if (!s.e)
		return -ENOMEM;
	memcpy(s.e, l->e, l->n * sizeof(*s.e));
	fw_list__sort(&s);
	for (i = 1; i < s.n; i++) {
		if (fw__prefix_cmp(&s.e[i].p, &s.e[i - 1].p))
			continue;
		fw__format_prefix(&s.e[i].p, buf, sizeof(buf));
		fprintf(err, "%s:%d: %s listed twice (first at line %d)\n",
			name, s.e[i].line, buf, s.e[i - 1].line);
		dups++;
	}
	free(s.e);
	return dups ? -EINVAL : 0;
}

int fw_list__parse(const char *text, size_t n, const char *name,
		   struct fw_list *l, FILE *err)
{
	const char *s = text, *end = text + n, *nl;
	size_t count[2] = { 0 };
	int lineno = 0, errors = 0, rc;
	char line[512], why[256];
	struct fw_entry e;

	for (; s < end; s = nl + 1) {
		nl = memchr(s, '\n', end - s) ?: end;
		lineno++;
		if ((size_t)(nl - s) >= sizeof(line) ||
		    memchr(s, '\0', nl - s)) {
			fprintf(err,
				"%s:%d: line too long or with a NUL byte\n",
				name, lineno);
			errors++;
			continue;
		}
		memcpy(line, s, nl - s);
		line[nl - s] = '\0';
		rc = fw__parse_line(line, &e, why, sizeof(why));
		if (rc > 0)
			continue;
		if (!rc &&
		    ++count[e.p.family == LB_FAMILY_V6] > LB_SRC_RULES_MAX) {
			snprintf(why, sizeof(why), "more than %d IPv%u entries",
				 LB_SRC_RULES_MAX, e.p.family);
			rc = -EINVAL;
		}
		if (rc) {
			fprintf(err, "%s:%d: %s\n", name, lineno, why);
			errors++;
			continue;
		}
		e.line = lineno;
		if (fw_list__push(l, &e))
			return -ENOMEM;
	}
	rc = fw__report_dups(l, name, err);
	return rc == -ENOMEM ? rc : errors || rc ? -EINVAL : 0;
}

int fw__read_file(const char *path, char **text, size_t *n)
{
	FILE *f = fopen(path, "r"), *m;
	char buf[4096];
	size_t r;
	int err = 0;

	if (!f && errno != ENOENT)
		return -errno;
	m = open_memstream(text, n);
	if (!m) {
		if (f)
			fclose(f);
		return -ENOMEM;
	}
	while (f && (r = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, r, m);
	if (f && ferror(f))
		err = -EIO;
	if (f)
		fclose(f);
	fclose(m);
	if (err) {
		free(*text);
		*text = NULL;
	}
	return err;
}

static int fw__mkdir_parent(const char *path)
{
	char dir[PATH_MAX], *s;

	snprintf(dir, sizeof(dir), "%s", path);
	for (s = dir + 1; (s = strchr(s, '/')); s++) {
		*s = '\0';
		if (mkdir(dir, 0755) && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	return 0;
}

int fw__write_file(const char *path, const char *text, size_t n)
{
	char tmp[PATH_MAX];
	int fd, err;
	FILE *f;

	err = fw__mkdir_parent(path);
	if (err)
		return err;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	f = fd < 0 ? NULL : fdopen(fd, "w");
	if (!f) {
		err = -errno;
		if (fd >= 0)
			close(fd);
		return err;
	}
	/* synced before the rename: a reader sees the old file or the new */
	if (fwrite(text, 1, n, f) != n || fflush(f) || fsync(fd))
		err = -errno ?: -EIO;
	if (fclose(f) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

/* --- the tries ----------------------------------------------------------- */

static int fw__trie_fd(const struct dataplane *dp, __u8 family)
{
	return dp->fds[family == LB_FAMILY_V6 ? DP_SRC_V6 : DP_SRC_V4];
}

static int fw__read_trie(const struct dataplane *dp, __u8 family,
			 struct fw_list *out, __u32 *count)
{
	struct lb_lpm_v6 key, next; /* a v4 key is a prefix of it */
	int fd = fw__trie_fd(dp, family), started = 0, err;
	struct lb_src_rule rule;
	struct fw_entry e;

	*count = 0;
	while (!bpf_map_get_next_key(fd, started ? &key : NULL, &next)) {
		key = next;
		started = 1;
		if (bpf_map_lookup_elem(fd, &key, &rule))
			continue; /* deleted meanwhile */
		(*count)++;
		if (!out)
			continue;
		memset(&e, 0, sizeof(e));
		e.p.family = family;
		e.p.len = key.prefixlen;
		memcpy(&e.p.addr, key.addr, fw__bits(family) / 8);
		e.action = rule.action;
		err = fw_list__push(out, &e);
		if (err)
			return err;
	}
	return errno == ENOENT ? 0 : -errno;
}

int fw__map_read(const struct dataplane *dp, struct fw_list *out)
{
	__u32 n;

	return fw__read_trie(dp, LB_FAMILY_V4, out, &n) ?:
		       fw__read_trie(dp, LB_FAMILY_V6, out, &n);
}

/* lb_config's counts from the tries, whatever happened before. */
static int fw__sync_counts(struct dataplane *dp)
{
	struct lb_config cfg;
	__u32 n4, n6;
	int err;

	err = fw__read_trie(dp, LB_FAMILY_V4, NULL, &n4);
	err = err ?: fw__read_trie(dp, LB_FAMILY_V6, NULL, &n6);
	if (err)
		return err;
	if (bpf_map_lookup_elem(dp->fds[DP_CONFIG], &(__u32){ 0 }, &cfg))
		return -errno;
	if (cfg.src_rules_v4 != n4 || cfg.src_rules_v6 != n6) {
		cfg.src_rules_v4 = n4;
		cfg.src_rules_v6 = n6;
		if (bpf_map_update_elem(dp->fds[DP_CONFIG], &(__u32){ 0 }, &cfg,
					BPF_ANY))
			return -errno;
	}
	dp->cfg = cfg;
	return 0;
}

/* Put (action != 0) or delete p's entry. */
static int fw__write(const struct dataplane *dp, const struct fw_prefix *p,
		     __u32 action)
{
	struct lb_src_rule rule = { .action = action };
	int fd = fw__trie_fd(dp, p->family), rc;
	struct lb_lpm_v6 key = { .prefixlen = p->len };

	memcpy(key.addr, &p->addr, fw__bits(p->family) / 8);
	rc = action ? bpf_map_update_elem(fd, &key, &rule, BPF_ANY) :
		      bpf_map_delete_elem(fd, &key);
	return rc ? -errno : 0;
}

int fw__apply(struct dataplane *dp, const struct fw_list *want, FILE *log)
{
	struct fw_list have = { 0 }, w = { 0 };
	char buf[FW_PREFIX_TEXT_MAX];
	int changes = 0, err, c;
	size_t i = 0, j = 0;

	err = fw__map_read(dp, &have);
	for (i = 0; !err && i < want->n; i++)
		err = fw_list__push(&w, &want->e[i]);
	fw_list__sort(&have);
	fw_list__sort(&w);
	/* Both sorted by prefix: one merge walk finds every difference. */
	for (i = 0; !err && (i < w.n || j < have.n); i += c <= 0, j += c >= 0) {
		const struct fw_entry *a = i < w.n ? &w.e[i] : NULL;
		const struct fw_entry *b = j < have.n ? &have.e[j] : NULL;

		c = !a ? 1 : !b ? -1 : fw__prefix_cmp(&a->p, &b->p);
		if (!c && a->action == b->action)
			continue;
		err = fw__write(dp, c <= 0 ? &a->p : &b->p,
				c <= 0 ? a->action : 0);
		if (err == -ENOSPC)
			fprintf(stderr,
				"lbctl: the source trie is full (%d entries per family)\n",
				LB_SRC_RULES_MAX);
		fw__format_prefix(c <= 0 ? &a->p : &b->p, buf, sizeof(buf));
		if (!err && log)
			fprintf(log, "firewall: %s %s %s\n",
				fw__action_name(c <= 0 ? a->action : b->action),
				buf,
				c < 0 ? "added" :
				c > 0 ? "removed" :
					"changed");
		changes++;
	}
	/* the counts follow the tries even after a failed write */
	c = fw__sync_counts(dp);
	fw_list__free(&have);
	fw_list__free(&w);
	return err ?: c ?: changes;
}

int fw__apply_file(struct dataplane *dp, const char *instance, FILE *log)
{
	char path[PATH_MAX], *text = NULL;
	struct fw_list l = { 0 };
	size_t n = 0;
	int err;

	fw__file_path(instance, path, sizeof(path));
	err = fw__read_file(path, &text, &n);
	if (err)
		fprintf(stderr, "lbctl: cannot read %s: %s\n", path,
			strerror(-err));
	if (!err) {
		err = fw_list__parse(text, n, path, &l, stderr);
		if (err)
			fprintf(stderr,
				"lbctl: %s has errors (above): not applied\n",
				path);
	}
	err = err ?: fw__apply(dp, &l, log);
	fw_list__free(&l);
	free(text);
	return err;
}
