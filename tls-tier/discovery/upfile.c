// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * upstream.file (upfile.h): strict parsing, an atomic writer for 'lbtls
 * discover', and the master's stat()-driven watch. Reading a regular file
 * of at most 64 KiB on a local file system is the only I/O the master does
 * for discovery: it never waits for another process.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "log.h"
#include "upfile.h"

/* "PATH:LINE: cause" into err; returns -EINVAL. */
static int bad(char *err, size_t errlen, const char *path, unsigned line,
	       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int bad(char *err, size_t errlen, const char *path, unsigned line,
	       const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(err, errlen, "%s:%u: %s", path, line, msg);
	return -EINVAL;
}

/* "1.2.3.4:80" or "[::1]:80", numeric only, into 'a' (name normalized). */
static int parse_addr(const char *s, struct upstream_addr *a)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&a->ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a->ss;
	char host[INET6_ADDRSTRLEN + 1], norm[INET6_ADDRSTRLEN];
	const char *port, *end;
	unsigned long p = 0;
	size_t hl;
	bool v6 = s[0] == '[';

	if (v6) {
		end = strchr(s, ']');
		if (!end || end[1] != ':')
			return -EINVAL;
		hl = end - s - 1;
		s++;
		port = end + 2;
	} else {
		end = strrchr(s, ':');
		if (!end)
			return -EINVAL;
		hl = end - s;
		port = end + 1;
	}
	if (!hl || hl >= sizeof(host) || !*port || strlen(port) > 5)
		return -EINVAL;
	for (end = port; *end; end++) {
		if (*end < '0' || *end > '9')
			return -EINVAL;
		p = p * 10 + (*end - '0');
	}
	if (!p || p > 65535)
		return -EINVAL;
	memcpy(host, s, hl);
	host[hl] = 0;
	memset(a, 0, sizeof(*a));
	if (v6) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(p);
		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			return -EINVAL;
		a->len = sizeof(*sin6);
		inet_ntop(AF_INET6, &sin6->sin6_addr, norm, sizeof(norm));
		snprintf(a->name, sizeof(a->name), "[%s]:%lu", norm, p);
	} else {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(p);
		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			return -EINVAL;
		a->len = sizeof(*sin);
		inet_ntop(AF_INET, &sin->sin_addr, norm, sizeof(norm));
		snprintf(a->name, sizeof(a->name), "%s:%lu", norm, p);
	}
	return 0;
}

int upfile__parse(const char *path, const char *text, size_t len,
		  struct upstream_addr *out, char *err, size_t errlen)
{
	unsigned lines[CFG_MAX_SERVERS], n = 0, line = 0, i;
	const char *p = text, *end = text + len, *nl;
	char tok[96];
	size_t tl;

	if (len > UPFILE_MAX_BYTES) {
		snprintf(err, errlen, "%s: larger than %d bytes", path,
			 UPFILE_MAX_BYTES);
		return -EFBIG;
	}
	while (p < end) {
		const char *s, *e;

		line++;
		nl = memchr(p, '\n', end - p);
		if (!nl)
			return bad(
				err, errlen, path, line,
				"the last line has no newline (a file written in place? write a temporary file and rename it)");
		if (memchr(p, 0, nl - p))
			return bad(err, errlen, path, line, "a NUL byte");
		s = p;
		e = memchr(p, '#', nl - p);
		if (!e)
			e = nl;
		p = nl + 1;
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (s == e)
			continue;
		tl = e - s;
		if (tl >= sizeof(tok))
			return bad(err, errlen, path, line,
				   "a line of %zu characters: want one IP:PORT",
				   tl);
		memcpy(tok, s, tl);
		tok[tl] = 0;
		if (strpbrk(tok, " \t\r"))
			return bad(
				err, errlen, path, line,
				"'%s': want one IPv4:PORT or [IPv6]:PORT per line",
				tok);
		if (n == CFG_MAX_SERVERS)
			return bad(err, errlen, path, line,
				   "more than %d servers", CFG_MAX_SERVERS);
		if (parse_addr(tok, &out[n]))
			return bad(
				err, errlen, path, line,
				"'%s': want IPv4:PORT or [IPv6]:PORT, numeric, port 1..65535",
				tok);
		for (i = 0; i < n; i++)
			if (out[i].len == out[n].len &&
			    !memcmp(&out[i].ss, &out[n].ss, out[n].len))
				return bad(err, errlen, path, line,
					   "'%s' is already on line %u",
					   out[n].name, lines[i]);
		lines[n++] = line;
	}
	return n;
}

int upfile__read(const char *path, struct upstream_addr *out, struct stat *st,
		 char *err, size_t errlen)
{
	static char buf[UPFILE_MAX_BYTES + 1];
	struct stat s;
	size_t len = 0;
	ssize_t r;
	int fd, e;

	/* O_NONBLOCK: a FIFO put there must not hold the master in open() */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		e = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	if (fstat(fd, &s)) {
		e = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		close(fd);
		return -e;
	}
	if (st)
		*st = s;
	if (!S_ISREG(s.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return -EINVAL;
	}
	if (s.st_size > UPFILE_MAX_BYTES) {
		snprintf(err, errlen, "%s: %lld bytes, larger than %d", path,
			 (long long)s.st_size, UPFILE_MAX_BYTES);
		close(fd);
		return -EFBIG;
	}
	/* one byte more than allowed: a file growing as we read is caught */
	while (len < sizeof(buf)) {
		r = read(fd, buf + len, sizeof(buf) - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			e = errno;
			snprintf(err, errlen, "%s: %s", path, strerror(e));
			close(fd);
			return -e;
		}
		if (!r)
			break;
		len += r;
	}
	close(fd);
	return upfile__parse(path, buf, len, out, err, errlen);
}

int upfile__write(const char *path, const struct upstream_addr *a, unsigned n,
		  const char *comment)
{
	char tmp[PATH_MAX + 8];
	FILE *f;
	unsigned i;
	int fd, e = 0;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		  0644);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		e = -errno;
		close(fd);
		unlink(tmp);
		return e;
	}
	if (comment)
		fprintf(f, "# %s\n", comment);
	for (i = 0; i < n; i++)
		fprintf(f, "%s\n", a[i].name);
	if (fflush(f) || fsync(fd))
		e = -errno;
	if (fclose(f) && !e)
		e = -errno;
	if (!e && rename(tmp, path))
		e = -errno;
	if (e)
		unlink(tmp);
	return e;
}

int upfile__touch(const char *path)
{
	return utimensat(AT_FDCWD, path, NULL, 0) ? -errno : 0;
}

void upfile__publish(struct upstream_set *s, const struct upstream_addr *a,
		     unsigned n)
{
	uint32_t seq = s->seq;

	__atomic_store_n(&s->seq, seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	memcpy(s->servers, a, n * sizeof(a[0]));
	s->n = n;
	__atomic_store_n(&s->seq, seq + 2, __ATOMIC_RELEASE);
}

void upfile__watch_init(struct upfile_watch *w, const char *path,
			struct upstream_set *out)
{
	memset(w, 0, sizeof(*w));
	snprintf(w->path, sizeof(w->path), "%s", path);
	w->out = out;
}

static bool same_stat(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	       a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	       a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* Age in ms of what 'st' describes: since its writer last wrote or
 * refreshed it (upfile__touch). */
static long long age_ms(const struct stat *st)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return (now.tv_sec - st->st_mtim.tv_sec) * 1000LL +
	       (now.tv_nsec - st->st_mtim.tv_nsec) / 1000000;
}

static void check_age(struct upfile_watch *w, const struct stat *st)
{
	long long age = age_ms(st);

	if (!w->max_age_ms) {
		w->stale = false;
	} else if (age > w->max_age_ms && !w->stale) {
		w->stale = true;
		log_warn(
			"upstream.file %s: not refreshed for %lld s (upstream.file_max_age %u s): its writer is gone or stuck (lbtls discover refreshes it every %u s while the Docker engine answers); its servers stay in use",
			w->path, age / 1000, w->max_age_ms / 1000,
			CFG_DISCOVER_RELIST_MS / 1000);
	} else if (age <= w->max_age_ms && w->stale) {
		w->stale = false;
		log_info("upstream.file %s: refreshed again", w->path);
	}
}

static bool same_set(const struct upstream_set *s,
		     const struct upstream_addr *a, int n)
{
	int i;

	if ((int)s->n != n)
		return false;
	for (i = 0; i < n; i++)
		if (strcmp(s->servers[i].name, a[i].name))
			return false;
	return true;
}

int upfile__poll(struct upfile_watch *w)
{
	static struct upstream_addr next[CFG_MAX_SERVERS];
	char err[512];
	struct stat st;
	int n;

	if (!w->path[0])
		return 0;
	if (stat(w->path, &st)) {
		n = -errno;
		if (n != w->err) {
			if (w->loaded)
				log_err("upstream.file %s: %s: keeping the %u server(s) it listed",
					w->path, strerror(-n), w->out->n);
			else
				log_warn(
					"upstream.file %s: %s: no discovered servers until it appears (static servers only)",
					w->path, strerror(-n));
		}
		w->err = n;
		w->have_stat = false;
		return n;
	}
	check_age(w, &st);
	if (w->have_stat && same_stat(&st, &w->st))
		return w->err;
	n = upfile__read(w->path, next, &st, err, sizeof(err));
	w->st = st;
	w->have_stat = true;
	if (n < 0) {
		/* logged once per version of the file */
		if (w->loaded)
			log_err("upstream.file %s; keeping the %u server(s) of the last good version",
				err, w->out->n);
		else
			log_err("upstream.file %s; no discovered servers until it is fixed",
				err);
		w->err = n;
		return n;
	}
	/* only its time changed (a refresh): nothing to publish or say */
	if (w->loaded && !w->err && same_set(w->out, next, n))
		return 0;
	if (w->err || !w->loaded)
		log_info("upstream.file %s: %d server(s)", w->path, n);
	else
		log_info("upstream.file %s changed: %d server(s)", w->path, n);
	w->err = 0;
	w->loaded = true;
	upfile__publish(w->out, next, n);
	return 1;
}
