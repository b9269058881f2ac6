// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Logs. Lines are built in a stack buffer and written with one write(2):
 * O_APPEND makes that atomic enough across worker processes for lines below
 * PIPE_BUF, and avoids stdio buffers that a crash would lose.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "log.h"

static int error_fd = STDERR_FILENO;
static int access_fd = -1;
static enum log_level max_level = LOG_LVL_INFO;
static char who_tag[32] = "lbtls";

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void log__set_who(const char *who)
{
	snprintf(who_tag, sizeof(who_tag), "%s", who);
}

/*
 * Opened by the master, as root: a file the workers (user:) will reopen on
 * SIGUSR1 is handed to them first, as nginx's master does. The master
 * reopens before it signals them, so the file a worker reopens exists and
 * is theirs. A failed chown is reported once the logs are in place.
 */
static int chown_err;
static char chown_path[PATH_MAX];

static int open_log(const struct lbtls_config *cfg, const char *path)
{
	struct stat st;
	int fd;

	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	/* A file an earlier master handed to the workers: a root master
	 * without CAP_DAC_OVERRIDE (the container's) takes it back with
	 * CAP_CHOWN, and hands it on again below. */
	if (fd < 0 && errno == EACCES && cfg->user.set && !geteuid() &&
	    !chown(path, 0, -1))
		fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0 || !cfg->user.set || geteuid() || fstat(fd, &st) ||
	    !S_ISREG(st.st_mode) || st.st_uid == cfg->user.uid)
		return fd;
	if (fchown(fd, cfg->user.uid, -1) && !chown_err) {
		chown_err = errno;
		snprintf(chown_path, sizeof(chown_path), "%s", path);
	}
	return fd;
}

int log__open(const struct lbtls_config *cfg, const char *who)
{
	int efd = STDERR_FILENO, afd = -1, err;

	chown_err = 0;
	if (*cfg->error_log && strcmp(cfg->error_log, "stderr")) {
		efd = open_log(cfg, cfg->error_log);
		if (efd < 0)
			goto fail;
	}
	if (*cfg->access_log && strcmp(cfg->access_log, "off")) {
		afd = strcmp(cfg->access_log, "stdout") ?
			      open_log(cfg, cfg->access_log) :
			      dup(STDOUT_FILENO);
		if (afd < 0)
			goto fail;
	}
	log__close();
	error_fd = efd;
	access_fd = afd;
	max_level = cfg->log_level;
	log__set_who(who);
	if (chown_err)
		log_warn(
			"cannot hand %s to user %s (fchown: %s): the workers cannot reopen it on SIGUSR1",
			chown_path, cfg->user.text, strerror(chown_err));
	return 0;
fail:
	err = -errno;
	if (efd != STDERR_FILENO)
		close(efd);
	return err;
}

void log__close(void)
{
	if (error_fd != STDERR_FILENO)
		close(error_fd);
	if (access_fd >= 0)
		close(access_fd);
	error_fd = STDERR_FILENO;
	access_fd = -1;
}

void log__msg(enum log_level lvl, const char *fmt, ...)
{
	char line[1024];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	size_t n;
	int m;

	if (lvl > max_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y/%m/%d %H:%M:%S", &tm);
	m = snprintf(line + n, sizeof(line) - n,
		     " [%s] %d %s: ", level_names[lvl], getpid(), who_tag);
	n += m > 0 ? (size_t)m : 0;
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	n += m > 0 ? (size_t)m : 0;
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (write(error_fd, line, n) < 0)
		return; /* nowhere left to complain */
}

bool log__access_enabled(void)
{
	return access_fd >= 0;
}

/* nginx escapes '"', '\' and bytes outside printable ASCII as \xHH. */
static size_t put_escaped(char *out, size_t cap, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0, i;

	if (!s || !len) {
		if (cap)
			out[n++] = '-';
		return n;
	}
	for (i = 0; i < len && n + 4 < cap; i++) {
		unsigned char c = s[i];

		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
			out[n++] = '\\';
			out[n++] = 'x';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 15];
		} else {
			out[n++] = c;
		}
	}
	return n;
}

void log__access(const struct access_entry *e)
{
	char line[4096], tbuf[64];
	size_t n = 0, cap = sizeof(line) - 1;
	time_t sec = e->start_us / 1000000;
	struct tm tm;
	int m;

	if (access_fd < 0)
		return;
	localtime_r(&sec, &tm);
	strftime(tbuf, sizeof(tbuf), "%d/%b/%Y:%H:%M:%S %z", &tm);
	m = snprintf(line, cap, "%s - - [%s] \"", e->remote_addr, tbuf);
	n += m;
	if (e->method) {
		n += put_escaped(line + n, cap - n - 200, e->method,
				 e->method_len);
		line[n++] = ' ';
		n += put_escaped(line + n, cap - n - 200, e->target,
				 e->target_len);
		if (e->stream)
			n += snprintf(line + n, cap - n, " HTTP/2.0");
		else
			n += snprintf(line + n, cap - n, " HTTP/1.%d",
				      e->minor);
	}
	n += snprintf(line + n, cap - n, "\" %d %llu \"", e->status,
		      (unsigned long long)e->body_bytes);
	n += put_escaped(line + n, cap - n - 120, e->referer, e->referer_len);
	n += snprintf(line + n, cap - n, "\" \"");
	n += put_escaped(line + n, cap - n - 100, e->user_agent,
			 e->user_agent_len);
	n += snprintf(line + n, cap - n, "\" %s %llu.%03llu %s", e->upstream,
		      (unsigned long long)(e->duration_us / 1000000),
		      (unsigned long long)(e->duration_us / 1000 % 1000),
		      e->reason ? e->reason : "-");
	if (e->stream && n < cap)
		n += snprintf(line + n, cap - n, " stream=%u", e->stream);
	if (n > cap)
		n = cap;
	line[n++] = '\n';
	if (write(access_fd, line, n) < 0)
		log_debug("access log write: %s", strerror(errno));
}
