/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Answers of lbtls's own: error pages, the port 80 redirect and ACME
 * challenge files. Each writes a whole response into 'out' and says what
 * it answered.
 */
#ifndef LBTLS_LOCAL_H
#define LBTLS_LOCAL_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "http1.h"

struct proxy;

struct local_answer {
	int status;
	size_t body_len;
	bool close; /* in: the connection closes after it; out: or must */
};

/* An error page: the configured one for 502..504, else a built-in one. */
int local__error(const struct proxy *px, struct buf *out, int status,
		 struct local_answer *a);

/*
 * A request on a plain HTTP listener: an ACME challenge file from the
 * webroot, else a redirect to https. 'fallback_host' is the address the
 * client reached (for an HTTP/1.0 request without Host).
 */
int local__port80(const struct proxy *px, struct buf *out,
		  const struct http1_request *req, const char *fallback_host,
		  struct local_answer *a);

#endif /* LBTLS_LOCAL_H */
