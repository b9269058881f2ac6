// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "firewall.h"

#define FW_FILE_HEADER                                                      \
	"# Source deny/allow list: one 'deny PREFIX' or 'allow PREFIX' per\n" \
	"# line. 'lbctl deny|allow add|del' edit it; the lbctl agent applies\n" \
	"# it at start and on SIGHUP (docs/lbctl.md).\n"

/* --- prefixes ---------------------------------------------------------- */

static int fw__bits(__u8 family)
{
	return family == LB_FAMILY_V6 ? 128 : 32;
}

/* Clear the bits of addr beyond len (addr in network order). */
static void fw__mask(struct lb_addr *addr, __u8 family, __u8 len)
{
	__u8 *b = (__u8 *)addr;
	int i, nbytes = fw__bits(family) / 8;

	for (i = 0; i < nbytes; i++) {
		int keep = (int)len - i * 8;

		if (keep >= 8)
			continue;
		b[i] &= keep <= 0 ? 0 : (__u8)(0xff << (8 - keep));
	}
}

int fw__parse_prefix(const char *text, struct fw_prefix *p, char *why,
		     size_t len)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(text, '/');
	size_t hl = slash ? (size_t)(slash - text) : strlen(text);
	struct lb_addr net;
	unsigned long plen;
	char *end;
	int max;

	memset(p, 0, sizeof(*p));
	if (!hl || hl >= sizeof(host)) {
		snprintf(why, len, "not an IPv4 or IPv6 address or prefix");
		return -EINVAL;
	}
	memcpy(host, text, hl);
	host[hl] = '\0';
	if (inet_pton(AF_INET, host, &p->addr.v4) == 1) {
		p->family = LB_FAMILY_V4;
	} else if (inet_pton(AF_INET6, host, p->addr.v6) == 1) {
		p->family = LB_FAMILY_V6;
	} else {
		snprintf(why, len, "'%s' is not an IPv4 or IPv6 address", host);
		return -EINVAL;
	}
	max = fw__bits(p->family);
	plen = max;
	if (slash) {
		errno = 0;
		plen = strtoul(slash + 1, &end, 10);
		if (errno || !isdigit((unsigned char)slash[1]) || *end ||
		    plen > (unsigned long)max) {
			snprintf(why, len, "prefix length must be 0..%d", max);
			return -EINVAL;
		}
	}
	p->len = plen;
	net = p->addr;
	fw__mask(&net, p->family, p->len);
	if (memcmp(&net, &p->addr, sizeof(net))) {
		struct fw_prefix n = *p;
		char buf[FW_PREFIX_TEXT_MAX];

		n.addr = net;
		fw__format_prefix(&n, buf, sizeof(buf));
		snprintf(why, len,
			 "host bits set beyond /%u (the network is %s; a single address is /%d)",
			 p->len, buf, max);
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

int fw__parse_action(const char *text)
{
	if (!strcmp(text, "deny"))
		return LB_SRC_DENY;
	if (!strcmp(text, "allow"))
		return LB_SRC_ALLOW;
	return -EINVAL;
}

const char *fw__action_name(__u32 action)
{
	return action == LB_SRC_DENY  ? "deny" :
	       action == LB_SRC_ALLOW ? "allow" :
					"?";
}

int fw__prefix_eq(const struct fw_prefix *a, const struct fw_prefix *b)
{
	return a->family == b->family && a->len == b->len &&
	       !memcmp(&a->addr, &b->addr, sizeof(a->addr));
}

static int fw__prefix_cmp(const struct fw_prefix *a, const struct fw_prefix *b)
{
	int c;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	c = memcmp(&a->addr, &b->addr, sizeof(a->addr));
	if (c)
		return c;
	return (a->len > b->len) - (a->len < b->len);
}

void fw__default_file(const char *instance, char *buf, size_t len)
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
		if (fw__prefix_eq(&l->e[i].p, p))
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

	return fw__prefix_cmp(&a->p, &b->p) ?: (a->line > b->line) -
							(a->line < b->line);
}

void fw_list__sort(struct fw_list *l)
{
	if (l->n)
		qsort(l->e, l->n, sizeof(*l->e), fw__entry_cmp);
}

/* Split one line into at most max words, comments cut; returns the count
 * (max + 1 if there are more). */
static int fw__split(char *line, char **tok, int max)
{
	char *hash = strchr(line, '#'), *s;
	int n = 0;

	if (hash)
		*hash = '\0';
	for (s = strtok(line, " \t\r\n"); s; s = strtok(NULL, " \t\r\n")) {
		if (n == max)
			return max + 1;
		tok[n++] = s;
	}
	return n;
}

/* One line: 0 and *e set, 1 for nothing (blank, comment), or -EINVAL with
 * why filled. */
static int fw__parse_line(char *line, struct fw_entry *e, char *why,
			  size_t len)
{
	char *tok[2], pwhy[160];
	int n = fw__split(line, tok, 2), action;

	if (!n)
		return 1;
	action = fw__parse_action(tok[0]);
	if (action < 0) {
		snprintf(why, len, "unknown action '%s' (expected deny or allow)",
			 tok[0]);
		return -EINVAL;
	}
	if (n != 2) {
		snprintf(why, len, "'%s' expects one prefix: '%s PREFIX'",
			 tok[0], tok[0]);
		return -EINVAL;
	}
	memset(e, 0, sizeof(*e));
	if (fw__parse_prefix(tok[1], &e->p, pwhy, sizeof(pwhy))) {
		snprintf(why, len, "%s %s: %s", tok[0], tok[1], pwhy);
		return -EINVAL;
	}
	e->action = action;
	e->origin = FW_FROM_FILE;
	return 0;
}

struct fw_dup {
	int line, first;
	struct fw_prefix p;
};

static int fw__dup_cmp(const void *x, const void *y)
{
	const struct fw_dup *a = x, *b = y;

	return (a->line > b->line) - (a->line < b->line);
}

/* Prefixes listed twice: sorted, neighbours compared; reported by line. */
static int fw__report_dups(struct fw_list *l, const char *name, FILE *err)
{
	struct fw_list s = { 0 };
	struct fw_dup *d;
	size_t i, nd = 0;
	char buf[FW_PREFIX_TEXT_MAX];

	if (l->n < 2)
		return 0;
	s.e = malloc(l->n * sizeof(*s.e));
	d = malloc(l->n * sizeof(*d));
	if (!s.e || !d) {
		free(s.e);
		free(d);
		return -ENOMEM;
	}
	memcpy(s.e, l->e, l->n * sizeof(*s.e));
	s.n = s.cap = l->n;
	fw_list__sort(&s);
	for (i = 1; i < s.n; i++) {
		size_t first = i - 1;

		if (!fw__prefix_eq(&s.e[i].p, &s.e[first].p))
			continue;
		while (first > 0 && fw__prefix_eq(&s.e[first - 1].p, &s.e[i].p))
			first--;
		d[nd++] = (struct fw_dup){ s.e[i].line, s.e[first].line,
					   s.e[i].p };
	}
	qsort(d, nd, sizeof(*d), fw__dup_cmp);
	for (i = 0; i < nd; i++) {
		fw__format_prefix(&d[i].p, buf, sizeof(buf));
		fprintf(err, "%s:%d: %s listed twice (first at line %d)\n",
			name, d[i].line, buf, d[i].first);
	}
	free(s.e);
	free(d);
	return nd ? -EINVAL : 0;
}

int fw_list__parse(FILE *in, const char *name, struct fw_list *l, FILE *err)
{
	size_t cap = 0, count[2] = { 0 };
	char *line = NULL, why[256];
	struct fw_entry e;
	int lineno = 0, errors = 0, rc;
	ssize_t n;

	while ((n = getline(&line, &cap, in)) >= 0) {
		lineno++;
		if (memchr(line, '\0', n)) {
			fprintf(err, "%s:%d: NUL byte in the line\n", name,
				lineno);
			errors++;
			continue;
		}
		rc = fw__parse_line(line, &e, why, sizeof(why));
		if (rc > 0)
			continue;
		if (rc < 0) {
			fprintf(err, "%s:%d: %s\n", name, lineno, why);
			errors++;
			continue;
		}
		if (++count[e.p.family == LB_FAMILY_V6] > LB_SRC_RULES_MAX) {
			fprintf(err, "%s:%d: more than %d IPv%u entries\n", name,
				lineno, LB_SRC_RULES_MAX, e.p.family);
			errors++;
			continue;
		}
		e.line = lineno;
		if (fw_list__push(l, &e)) {
			free(line);
			return -ENOMEM;
		}
	}
	free(line);
	if (ferror(in)) {
		fprintf(err, "%s: cannot read: %s\n", name, strerror(errno));
		return -EIO;
	}
	rc = fw__report_dups(l, name, err);
	if (rc == -ENOMEM)
		return rc;
	return errors || rc ? -EINVAL : 0;
}

int fw_list__load(const char *path, struct fw_list *l, FILE *err)
{
	FILE *f = fopen(path, "r");
	int rc;

	if (!f) {
		if (errno == ENOENT)
			return 0;
		rc = -errno;
		fprintf(err, "%s: cannot read: %s\n", path, strerror(errno));
		return rc;
	}
	rc = fw_list__parse(f, path, l, err);
	fclose(f);
	return rc;
}

int fw__mkdir_parent(const char *path)
{
	char dir[PATH_MAX], *s;

	snprintf(dir, sizeof(dir), "%s", path);
	s = strrchr(dir, '/');
	if (!s || s == dir)
		return 0;
	*s = '\0';
	for (s = dir + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(dir, 0755) && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(dir, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

int fw__write_atomic(const char *path, const char *text, size_t n)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	ssize_t w;
	size_t off = 0;
	int fd, err = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	while (off < n) {
		w = write(fd, text + off, n - off);
		if (w < 0) {
			err = -errno;
			break;
		}
		off += w;
	}
	if (!err && fsync(fd))
		err = -errno;
	if (close(fd) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err) {
		unlink(tmp);
		return err;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	return 0;
}

static int fw__read_all(const char *path, char **text, size_t *n)
{
	FILE *f = fopen(path, "r"), *m;
	char buf[4096];
	size_t r;
	int err = 0;

	*text = NULL;
	*n = 0;
	m = open_memstream(text, n);
	if (!m) {
		if (f)
			fclose(f);
		return -ENOMEM;
	}
	if (!f && errno != ENOENT)
		err = -errno;
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

int fw_file__edit(const char *path, int add, __u32 action,
		  const struct fw_prefix *p, char *why, size_t len)
{
	char *text = NULL, *out = NULL, *line, *next, *copy, pbuf[128];
	struct fw_list l = { 0 };
	size_t n, on = 0;
	struct fw_entry e;
	int err, have = 0, i;
	FILE *in, *o;

	err = fw__read_all(path, &text, &n);
	if (err) {
		snprintf(why, len, "cannot read %s: %s", path, strerror(-err));
		return err;
	}
	in = fmemopen(text, n ? n : 1, "r");
	if (!in) {
		free(text);
		return -ENOMEM;
	}
	if (!n)
		fgetc(in); /* fmemopen wants a size: an empty buffer */
	err = fw_list__parse(in, path, &l, stderr);
	fclose(in);
	if (err) {
		snprintf(why, len, "%s has errors (above); fix it first", path);
		goto out;
	}
	i = fw_list__find(&l, p);
	if (add && i >= 0 && l.e[i].action != action) {
		snprintf(why, len, "%s:%d lists it as %s", path, l.e[i].line,
			 fw__action_name(l.e[i].action));
		err = -EEXIST;
		goto out;
	}
	have = i >= 0;
	o = open_memstream(&out, &on);
	if (!o) {
		err = -ENOMEM;
		goto out;
	}
	if (!n)
		fputs(FW_FILE_HEADER, o);
	for (line = text; line && line < text + n; line = next) {
		char *nl = memchr(line, '\n', text + n - line);
		size_t ll = nl ? (size_t)(nl - line + 1) : (size_t)(text + n - line);

		next = line + ll;
		if (!add) {
			copy = strndup(line, ll);
			if (!copy) {
				fclose(o);
				err = -ENOMEM;
				goto out;
			}
			if (!fw__parse_line(copy, &e, pbuf, sizeof(pbuf)) &&
			    e.action == action && fw__prefix_eq(&e.p, p)) {
				free(copy);
				continue; /* the line removed */
			}
			free(copy);
		}
		fwrite(line, 1, ll, o);
		if (!nl)
			fputc('\n', o);
	}
	if (add && !have) {
		fw__format_prefix(p, pbuf, sizeof(pbuf));
		fprintf(o, "%s %s\n", fw__action_name(action), pbuf);
	}
	fclose(o);
	err = fw__mkdir_parent(path);
	err = err ?: fw__write_atomic(path, out, on);
	if (err)
		snprintf(why, len, "cannot write %s: %s", path, strerror(-err));
out:
	fw_list__free(&l);
	free(text);
	free(out);
	return err;
}

/* --- the tries ----------------------------------------------------------- */

static int fw__trie_fd(const struct dataplane *dp, __u8 family)
{
	return dp->fds[family == LB_FAMILY_V6 ? DP_SRC_V6 : DP_SRC_V4];
}

/* The trie key of p (host bits are clear already). */
static void fw__key(const struct fw_prefix *p, struct lb_lpm_v6 *key)
{
	memset(key, 0, sizeof(*key));
	key->prefixlen = p->len;
	memcpy(key->addr, &p->addr, fw__bits(p->family) / 8);
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
		e.origin = FW_FROM_MAP;
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

__u32 fw__map_get(const struct dataplane *dp, const struct fw_prefix *p)
{
	/* A lookup answers with the longest match, not this prefix's entry:
	 * walk the family's trie (the CLI does this once per command). */
	struct fw_list l = { 0 };
	__u32 n, action = 0;
	int i;

	if (!fw__read_trie(dp, p->family, &l, &n)) {
		i = fw_list__find(&l, p);
		action = i >= 0 ? l.e[i].action : 0;
	}
	fw_list__free(&l);
	return action;
}

int fw__sync_counts(struct dataplane *dp)
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

static int fw__put(const struct dataplane *dp, const struct fw_prefix *p,
		   __u32 action)
{
	struct lb_src_rule rule = { .action = action };
	struct lb_lpm_v6 key;

	fw__key(p, &key);
	if (bpf_map_update_elem(fw__trie_fd(dp, p->family), &key, &rule,
				BPF_ANY))
		return -errno;
	return 0;
}

static int fw__del(const struct dataplane *dp, const struct fw_prefix *p)
{
	struct lb_lpm_v6 key;

	fw__key(p, &key);
	if (bpf_map_delete_elem(fw__trie_fd(dp, p->family), &key))
		return -errno;
	return 0;
}

int fw__map_put(struct dataplane *dp, const struct fw_prefix *p, __u32 action)
{
	int err = fw__put(dp, p, action);
	int err2 = fw__sync_counts(dp);

	return err ?: err2;
}

int fw__map_del(struct dataplane *dp, const struct fw_prefix *p)
{
	int err = fw__del(dp, p);
	int err2 = fw__sync_counts(dp);

	return err ?: err2;
}

int fw__apply(struct dataplane *dp, const struct fw_list *want, FILE *log,
	      const char *prefix)
{
	struct fw_list have = { 0 }, w = { 0 };
	char buf[FW_PREFIX_TEXT_MAX];
	size_t i, j = 0;
	int changes = 0, err, c;

	err = fw__map_read(dp, &have);
	if (err)
		goto out;
	for (i = 0; i < want->n; i++) {
		err = fw_list__push(&w, &want->e[i]);
		if (err)
			goto out;
	}
	i = 0;
	fw_list__sort(&have);
	fw_list__sort(&w);
	/* Both sorted by prefix: one merge walk finds every difference. */
	while (!err && (i < w.n || j < have.n)) {
		const struct fw_entry *a = i < w.n ? &w.e[i] : NULL;
		const struct fw_entry *b = j < have.n ? &have.e[j] : NULL;

		c = !a ? 1 : !b ? -1 : fw__prefix_cmp(&a->p, &b->p);
		fw__format_prefix(c <= 0 ? &a->p : &b->p, buf, sizeof(buf));
		if (c < 0) { /* wanted, absent */
			err = fw__put(dp, &a->p, a->action);
			if (!err && log)
				fprintf(log, "%s%s %s added\n", prefix,
					fw__action_name(a->action), buf);
			changes++;
		} else if (c > 0) { /* present, not wanted */
			err = fw__del(dp, &b->p);
			if (!err && log)
				fprintf(log,
					"%s%s %s removed: in neither the list file nor the config\n",
					prefix, fw__action_name(b->action),
					buf);
			changes++;
		} else if (a->action != b->action) {
			err = fw__put(dp, &a->p, a->action);
			if (!err && log)
				fprintf(log, "%s%s %s is now %s\n", prefix,
					fw__action_name(b->action), buf,
					fw__action_name(a->action));
			changes++;
		}
		i += c <= 0;
		j += c >= 0;
	}
	c = fw__sync_counts(dp);
	err = err ?: c;
out:
	fw_list__free(&have);
	fw_list__free(&w);
	return err ?: changes;
}

int fw__union(const struct fw_list *inline_rules, const char *config_name,
	      const struct fw_list *file, const char *file_name,
	      struct fw_list *want)
{
	char pbuf[FW_PREFIX_TEXT_MAX];
	size_t i, j, conflicts = 0;

	for (i = 0; i < inline_rules->n; i++)
		if (fw_list__push(want, &inline_rules->e[i]))
			return -ENOMEM;
	for (j = 0; j < file->n; j++) {
		const struct fw_entry *e = &file->e[j];

		/* only the inline part: the file has no prefix twice */
		for (i = 0; i < inline_rules->n; i++)
			if (fw__prefix_eq(&want->e[i].p, &e->p))
				break;
		if (i == inline_rules->n) {
			if (fw_list__push(want, e))
				return -ENOMEM;
			continue;
		}
		if (want->e[i].action == e->action)
			continue; /* in both, alike: the config's entry */
		fw__format_prefix(&e->p, pbuf, sizeof(pbuf));
		fprintf(stderr, "%s:%d: %s %s, but %s:%d says %s\n", file_name,
			e->line, fw__action_name(e->action), pbuf, config_name,
			want->e[i].line, fw__action_name(want->e[i].action));
		conflicts++;
	}
	return conflicts ? -EINVAL : 0;
}
