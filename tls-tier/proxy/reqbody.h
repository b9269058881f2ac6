/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A buffered request body (upstream.request_buffering, nginx's
 * proxy_request_buffering): the body as the client sent it, de-chunked,
 * in memory up to limits.client_body_buffer_size, beyond that in an
 * unlinked temporary file under limits.client_body_temp_path (O_TMPFILE:
 * it has no name, so nothing is left behind whatever ends the request).
 * Sent upstream from the start again for a retry.
 */
#ifndef LBTLS_REQBODY_H
#define LBTLS_REQBODY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct reqbody {
	/* the body while it fits; once in the file, bytes staged for it */
	char *mem;
	size_t cap; /* of mem */
	size_t staged; /* bytes in mem not yet written to the file */
	int fd; /* the temporary file, -1 while in memory */
	uint64_t len; /* bytes stored */
	uint64_t sent; /* bytes sent upstream in this attempt */
};

void reqbody__init(struct reqbody *b);

/*
 * Store n more bytes. 'hint' is the length announced (0: unknown,
 * chunked): a body that will not fit in 'mem_max' goes to a file from the
 * start. Returns 0, or -errno (ENOMEM, ENOSPC, EACCES...: the caller
 * reports a local error).
 */
int reqbody__add(struct reqbody *b, const char *p, size_t n, uint64_t hint,
		 size_t mem_max, const char *dir);

/* The body is whole: staged bytes to the file. 0 or -errno. */
int reqbody__end(struct reqbody *b);

/* Send what is left to socket 'fd' without blocking: bytes sent, or -errno
 * (-EAGAIN: the socket is full). */
ssize_t reqbody__send(struct reqbody *b, int fd);

static inline bool reqbody__sent(const struct reqbody *b)
{
	return b->sent == b->len;
}

static inline bool reqbody__in_file(const struct reqbody *b)
{
	return b->fd >= 0;
}

/* Release memory and the file (the file's blocks go with its last fd). */
void reqbody__free(struct reqbody *b);

/* Can a temporary file be made in 'dir'? 0 or -errno (checked at start). */
int reqbody__check_dir(const char *dir);

#endif /* LBTLS_REQBODY_H */
