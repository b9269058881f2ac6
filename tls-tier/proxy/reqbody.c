// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Buffered request bodies: memory, then an unlinked temporary file.
 * Memory grows with what came (a client that announces 16 KiB and sends a
 * byte holds a small block, not the whole buffer); once in the file, 'mem'
 * stages writes, so a body of one-byte chunks costs a write(2) per buffer,
 * not per byte. Writing to the file is a write to the page cache, as
 * nginx's client_body_temp_path is: it does not wait for the disk.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/sendfile.h>
#include <sys/socket.h>

#include "reqbody.h"

/* What one sendfile() call moves at most: the loop stays fair. */
#define SENDFILE_MAX (1 << 20)
#define MEM_FIRST 4096

void reqbody__init(struct reqbody *b)
{
	memset(b, 0, sizeof(*b));
	b->fd = -1;
}

/* An unnamed file in dir: O_TMPFILE, or a name removed at once where the
 * file system has no O_TMPFILE. */
static int temp_file(const char *dir)
{
	char path[4096];
	int fd;

	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR))
		return fd >= 0 ? fd : -errno;
	if (snprintf(path, sizeof(path), "%s/lbtls-body-XXXXXX", dir) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	unlink(path);
	return fd;
}

static int write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		if (w == 0)
			return -ENOSPC;
		p += w;
		n -= w;
	}
	return 0;
}

int reqbody__check_dir(const char *dir)
{
	int fd = temp_file(dir);

	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

/* mem holds at least 'need' bytes, at most mem_max. */
static int mem_grow(struct reqbody *b, size_t need, size_t mem_max)
{
	size_t cap = b->cap ? b->cap : MEM_FIRST;
	char *m;

	while (cap < need)
		cap *= 2;
	if (cap > mem_max)
		cap = mem_max;
	if (cap <= b->cap)
		return 0;
	m = realloc(b->mem, cap);
	if (!m)
		return -ENOMEM;
	b->mem = m;
	b->cap = cap;
	return 0;
}

/* Staged bytes to the file. */
static int flush(struct reqbody *b)
{
	int err = b->staged ? write_all(b->fd, b->mem, b->staged) : 0;

	if (!err)
		b->staged = 0;
	return err;
}

int reqbody__add(struct reqbody *b, const char *p, size_t n, uint64_t hint,
		 size_t mem_max, const char *dir)
{
	size_t k;
	int fd, err;

	if (!n)
		return 0;
	if (b->fd < 0 && b->len + n <= mem_max && (!hint || hint <= mem_max)) {
		err = mem_grow(b, b->len + n, mem_max);
		if (err)
			return err;
		memcpy(b->mem + b->len, p, n);
		b->len += n;
		return 0;
	}
	if (b->fd < 0) {
		fd = temp_file(dir);
		if (fd < 0)
			return fd;
		b->fd = fd;
		b->staged = b->len; /* what memory holds goes first */
		err = mem_grow(b, mem_max, mem_max);
		if (err)
			return err;
	}
	while (n) {
		if (b->staged == b->cap && (err = flush(b)))
			return err;
		k = b->cap - b->staged < n ? b->cap - b->staged : n;
		memcpy(b->mem + b->staged, p, k);
		b->staged += k;
		b->len += k;
		p += k;
		n -= k;
	}
	return 0;
}

int reqbody__end(struct reqbody *b)
{
	int err;

	if (b->fd < 0)
		return 0;
	err = flush(b);
	free(b->mem);
	b->mem = NULL;
	b->cap = 0;
	return err;
}

ssize_t reqbody__send(struct reqbody *b, int fd)
{
	uint64_t left = b->len - b->sent;
	off_t off = b->sent;
	ssize_t n;

	if (!left)
		return 0;
	if (b->fd < 0)
		n = send(fd, b->mem + b->sent, left, MSG_NOSIGNAL);
	else
		n = sendfile(fd, b->fd, &off,
			     left < SENDFILE_MAX ? left : SENDFILE_MAX);
	if (n < 0)
		return errno == EINTR ? -EAGAIN : -errno;
	b->sent += n;
	return n;
}

void reqbody__free(struct reqbody *b)
{
	free(b->mem);
	if (b->fd >= 0)
		close(b->fd);
	reqbody__init(b);
}
