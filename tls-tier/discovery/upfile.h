/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * upstream.file: the servers of the pool as a small text file, one
 * "IPv4:port" or "[IPv6]:port" per line, '#' comments and blank lines
 * allowed, every line ending in a newline. 'lbtls discover' writes it from
 * the Docker Engine API (atomically: a temporary file renamed over it);
 * anything else may (consul-template, a script). The master re-reads it
 * when its stat changes and publishes it to the workers through the
 * seqlocked upstream_set; a file that does not parse never replaces the
 * running set. No names are resolved: addresses only (DESIGN D12).
 */
#ifndef LBTLS_UPFILE_H
#define LBTLS_UPFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "config.h"
#include "upstream.h"

/* 64 servers of at most 48 characters fit many times over. */
#define UPFILE_MAX_BYTES (64 * 1024)

/*
 * Parse 'len' bytes of 'text' into 'out' (CFG_MAX_SERVERS entries).
 * Returns how many servers, or -EINVAL with 'err' set to "PATH:LINE: cause"
 * (the first error; 'path' only names the file).
 */
int upfile__parse(const char *path, const char *text, size_t len,
		  struct upstream_addr *out, char *err, size_t errlen);

/*
 * Open, check (a regular file of at most UPFILE_MAX_BYTES) and parse
 * 'path'. Returns how many servers, or a negative errno with 'err' set:
 * -ENOENT when missing, -EFBIG, -EINVAL for content. When 'st' is given,
 * it gets the stat of what was read.
 */
int upfile__read(const char *path, struct upstream_addr *out, struct stat *st,
		 char *err, size_t errlen);

/*
 * Write 'n' servers to 'path' atomically: PATH.tmp, fsync, rename, so a
 * reader sees the old file or the new one, never half of one. 'comment'
 * (one line, may be NULL) goes first as a '#' line. 0 or a negative errno.
 */
int upfile__write(const char *path, const struct upstream_addr *a, unsigned n,
		  const char *comment);

/* Set the file's times to now, its content untouched: "still current".
 * 0 or a negative errno. */
int upfile__touch(const char *path);

/* Publish 'n' servers through the seqlock of 's' (one writer). */
void upfile__publish(struct upstream_set *s, const struct upstream_addr *a,
		     unsigned n);

/* The master's view of upstream.file. */
struct upfile_watch {
	char path[PATH_MAX];
	struct upstream_set *out;
	bool have_stat; /* 'st' is the last version looked at */
	struct stat st;
	int err; /* what was logged last (0: the file was read) */
	bool loaded; /* 'out' holds a set read from this file */
	unsigned max_age_ms; /* upstream.file_max_age; 0: not checked */
	bool stale; /* older than that: said once, until it is fresh again */
};

void upfile__watch_init(struct upfile_watch *w, const char *path,
			struct upstream_set *out);
/*
 * stat() the file; when it changed (device, inode, size, mtime, ctime),
 * read it and publish it if its servers differ. Returns 1 when a new set
 * was published, 0 when nothing changed, a negative errno when the file is
 * missing or bad: the running set stays, and the cause is logged once
 * until it changes. A file older than max_age_ms is logged as stale once
 * (and fresh again once), its set kept.
 */
int upfile__poll(struct upfile_watch *w);

#endif /* LBTLS_UPFILE_H */
