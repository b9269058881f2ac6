/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The source deny/allow list (DESIGN.md D1): prefixes, the list file that
 * persists it, and its entries in the LPM tries lb_src_v4 / lb_src_v6,
 * with lb_config's src_rules_v4 / src_rules_v6 kept equal to the number of
 * entries (XDP skips a trie whose count is 0).
 *
 * The list file (FW_STATE_DIR/<instance>/firewall) is the truth: lbctl
 * edits it and then makes the tries equal to it; the agent and a fresh
 * load apply it too. One line per entry, "deny PREFIX" or "allow PREFIX";
 * '#' starts a comment. A prefix has one action: listed twice is an error.
 *
 * A prefix is "203.0.113.0/24", "2001:db8::/32", or a bare address (/32,
 * /128). Host bits set beyond the length are refused, not cleared:
 * "203.0.113.7/24" is more likely a typo than a wish to deny the /24.
 */
#ifndef LB_FIREWALL_H
#define LB_FIREWALL_H

#include <stddef.h>
#include <stdio.h>
#include "dataplane.h"

#define FW_STATE_DIR "/var/lib/lbctl"
#define FW_PREFIX_TEXT_MAX 56 /* INET6_ADDRSTRLEN + "/128" */

struct fw_prefix {
	struct lb_addr addr; /* host bits clear */
	__u8 family; /* enum lb_family */
	__u8 len; /* 0..32 or 0..128 */
};

struct fw_entry {
	struct fw_prefix p;
	__u32 action; /* enum lb_src_action */
	int line; /* in the list file; 0 if from the tries */
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
const char *fw__action_name(__u32 action);
/* The instance's list file. */
void fw__file_path(const char *instance, char *buf, size_t len);

int fw_list__push(struct fw_list *l, const struct fw_entry *e);
/* Index of the entry for prefix p (any action), or -1. */
int fw_list__find(const struct fw_list *l, const struct fw_prefix *p);
void fw_list__free(struct fw_list *l);
/* Family, address, then length: a stable order for listings. */
void fw_list__sort(struct fw_list *l);

/*
 * Parse list text; name is the file name in messages. Every error is
 * printed to err as "NAME:LINE: reason"; returns 0 or -EINVAL (then l
 * holds the good lines). A prefix listed twice is an error.
 */
int fw_list__parse(const char *text, size_t n, const char *name,
		   struct fw_list *l, FILE *err);
/* The whole file into *text (NUL-terminated); a missing file is "". */
int fw__read_file(const char *path, char **text, size_t *n);
/* mkdir -p of path's directory, then PATH.tmp renamed over path. */
int fw__write_file(const char *path, const char *text, size_t n);

/* Every entry of both tries, appended to out. */
int fw__map_read(const struct dataplane *dp, struct fw_list *out);
/*
 * Make the tries hold exactly want: only the differences are written,
 * each logged to log (if not NULL), then lb_config's counts are set from
 * the tries. Returns the number of changes, or -errno. Caller holds the
 * instance lock.
 */
int fw__apply(struct dataplane *dp, const struct fw_list *want, FILE *log);
/* Read and apply the instance's list file; errors printed as FILE:LINE,
 * and then nothing is changed. Returns as fw__apply. */
int fw__apply_file(struct dataplane *dp, const char *instance, FILE *log);

#endif /* LB_FIREWALL_H */
