/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The source deny/allow list (DESIGN.md D1): prefixes, the list file that
 * persists it, and its entries in the LPM tries lb_src_v4 / lb_src_v6,
 * with lb_config's src_rules_v4 / src_rules_v6 kept equal to the number of
 * entries (XDP skips a trie whose count is 0).
 *
 * A prefix is "203.0.113.0/24", "2001:db8::/32", or a bare address (/32,
 * /128). Host bits set beyond the prefix length are refused, not silently
 * cleared: "203.0.113.7/24" is more likely a typo for a /32 than a wish to
 * deny the whole /24, and the error names the network it would be.
 *
 * The list file has one entry per line, "deny PREFIX" or "allow PREFIX";
 * '#' starts a comment, blank lines are ignored. lbctl edits it line by
 * line (other lines and comments stay) and replaces it atomically.
 */
#ifndef LB_FIREWALL_H
#define LB_FIREWALL_H

#include <stddef.h>
#include <stdio.h>
#include "dataplane.h"

#define FW_STATE_DIR "/var/lib/lbctl" /* list file: DIR/<instance>/firewall */
#define FW_PREFIX_TEXT_MAX 56 /* INET6_ADDRSTRLEN + "/128" */

struct fw_prefix {
	struct lb_addr addr; /* host bits clear */
	__u8 family; /* enum lb_family */
	__u8 len; /* 0..32 or 0..128 */
};

/* Where an entry comes from, for messages and for who may delete it. */
enum fw_origin {
	FW_FROM_FILE = 0, /* the list file (lbctl deny/allow edit it) */
	FW_FROM_CONFIG, /* the agent config's inline deny:/allow: lists */
	FW_FROM_MAP, /* in the tries only: not persisted anywhere */
};

struct fw_entry {
	struct fw_prefix p;
	__u32 action; /* enum lb_src_action */
	__u8 origin; /* enum fw_origin */
	int line; /* in the file it comes from; 0 if none */
};

/* A growable list; zero-initialised is empty. */
struct fw_list {
	struct fw_entry *e;
	size_t n, cap;
};

/* Parse a prefix. On error, why says what is wrong (without the text). */
int fw__parse_prefix(const char *text, struct fw_prefix *p, char *why,
		     size_t len);
/* "203.0.113.0/24", "2001:db8::/32" (always with the length). */
void fw__format_prefix(const struct fw_prefix *p, char *buf, size_t len);
/* "deny", "allow" -> enum lb_src_action; -EINVAL otherwise. */
int fw__parse_action(const char *text);
const char *fw__action_name(__u32 action);
int fw__prefix_eq(const struct fw_prefix *a, const struct fw_prefix *b);
/* Default list file of an instance. */
void fw__default_file(const char *instance, char *buf, size_t len);

int fw_list__push(struct fw_list *l, const struct fw_entry *e);
/* Index of the entry for prefix p (any action), or -1. */
int fw_list__find(const struct fw_list *l, const struct fw_prefix *p);
void fw_list__free(struct fw_list *l);
/* Family, address, then length: a stable order for listings. */
void fw_list__sort(struct fw_list *l);

/*
 * Parse list text from in; name is the file name in messages. Every error
 * is printed to err as "NAME:LINE: reason"; returns 0 or -EINVAL (then l
 * holds the good lines). A prefix listed twice is an error.
 */
int fw_list__parse(FILE *in, const char *name, struct fw_list *l, FILE *err);
/* The same from a file; a missing file is an empty list. */
int fw_list__load(const char *path, struct fw_list *l, FILE *err);
/*
 * Add "ACTION PREFIX" to the file (add != 0) or remove every line of that
 * prefix with that action, keeping all other lines; written to PATH.tmp
 * and renamed over PATH, its directory created if missing. The file must
 * parse. 0, or -errno with why filled.
 */
int fw_file__edit(const char *path, int add, __u32 action,
		  const struct fw_prefix *p, char *why, size_t len);

/* mkdir -p of path's directory (0755). */
int fw__mkdir_parent(const char *path);
/* Write text to PATH.tmp, sync it, rename it over path: a reader sees the
 * old file or the new one, never a part. */
int fw__write_atomic(const char *path, const char *text, size_t n);

/*
 * want = the agent config's inline entries + the list file's, one entry
 * per prefix (alike in both: the inline one). A prefix the two give
 * different actions is printed as FILE:LINE and makes it -EINVAL.
 */
int fw__union(const struct fw_list *inline_rules, const char *config_name,
	      const struct fw_list *file, const char *file_name,
	      struct fw_list *want);

/* --- the tries (caller holds the instance lock) ------------------------- */

/* Every entry of both tries (origin FW_FROM_MAP), appended to out. */
int fw__map_read(const struct dataplane *dp, struct fw_list *out);
/* The action of exactly this prefix in its trie: 0 if absent. */
__u32 fw__map_get(const struct dataplane *dp, const struct fw_prefix *p);
/* Insert or replace; the counts in lb_config follow. */
int fw__map_put(struct dataplane *dp, const struct fw_prefix *p,
		__u32 action);
/* Remove (-ENOENT if absent); the counts in lb_config follow. */
int fw__map_del(struct dataplane *dp, const struct fw_prefix *p);
/* Count both tries and write the counts into lb_config if they differ
 * (dp->cfg is refreshed). */
int fw__sync_counts(struct dataplane *dp);
/*
 * Make the tries hold exactly want (entries of one prefix must not
 * repeat): only the differences are written, then the counts. Each change
 * is logged to log (if not NULL) after prefix. Returns the number of
 * changes, or -errno (the tries may then hold part of the change, and the
 * counts still match them).
 */
int fw__apply(struct dataplane *dp, const struct fw_list *want, FILE *log,
	      const char *prefix);

#endif /* LB_FIREWALL_H */
