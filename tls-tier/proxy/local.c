// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "local.h"
#include "proxy.h"

#define ACME_MAX_FILE (64 * 1024)
#define ACME_PREFIX "/.well-known/acme-challenge/"

/* Room for a head of our own, besides the configured served_by line. */
#define LOCAL_HEAD_MAX 256

static int respond(const struct proxy *px, struct buf *out, int status,
		   const char *type, const char *body, size_t len,
		   struct local_answer *a)
{
	ssize_t n;

	a->status = status;
	a->body_len = len;
	if (buf__reserve(out, LOCAL_HEAD_MAX + strlen(px->served_by) + len))
		return -ENOMEM;
	n = http1__write_local_head(status, NULL, type, len, px->served_by,
				    a->close, out->d + out->e,
				    out->cap - out->e);
	if (n < 0)
		return -ENOMEM;
	out->e += n;
	return buf__add(out, body, len);
}

int local__error(const struct proxy *px, struct buf *out, int status,
		 struct local_answer *a)
{
	const struct lbtls_config *cfg = px->cfg;
	char page[512];
	int n;

	if (status >= 502 && status <= 504 && cfg->error_page_body)
		return respond(px, out, status, "text/html",
			       cfg->error_page_body, cfg->error_page_len, a);
	n = snprintf(
		page, sizeof(page),
		"<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n<center><h1>%d %s</h1></center>\r\n<hr><center>lbtls</center>\r\n</body>\r\n</html>\r\n",
		status, http1__reason(status), status, http1__reason(status));
	return respond(px, out, status, "text/html", page, n, a);
}

/* RFC 8555 8.3: the token is base64url; nothing else gets near the disk. */
static bool acme_token_ok(const char *tok, size_t n)
{
	size_t i;

	if (!n || n > 256)
		return false;
	for (i = 0; i < n; i++)
		if (!((tok[i] >= 'a' && tok[i] <= 'z') ||
		      (tok[i] >= 'A' && tok[i] <= 'Z') ||
		      (tok[i] >= '0' && tok[i] <= '9') || tok[i] == '-' ||
		      tok[i] == '_'))
			return false;
	return true;
}

static int serve_acme(const struct proxy *px, struct buf *out,
		      struct http1_span path, struct local_answer *a)
{
	const char *tok = path.p + strlen(ACME_PREFIX);
	size_t toklen = path.len - strlen(ACME_PREFIX);
	char file[PATH_MAX + 300], *body = NULL;
	struct stat st;
	int fd = -1, err;

	if (!acme_token_ok(tok, toklen))
		goto notfound;
	snprintf(file, sizeof(file), "%s%s%.*s", px->cfg->acme_webroot,
		 ACME_PREFIX, (int)toklen, tok);
	fd = open(file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode) ||
	    st.st_size > ACME_MAX_FILE)
		goto notfound;
	body = malloc(st.st_size + 1);
	if (!body || read(fd, body, st.st_size) != st.st_size)
		goto notfound;
	close(fd);
	err = respond(px, out, 200, "text/plain", body, st.st_size, a);
	free(body);
	return err;
notfound:
	free(body);
	if (fd >= 0)
		close(fd);
	return local__error(px, out, 404, a);
}

int local__port80(const struct proxy *px, struct buf *out,
		  const struct http1_request *req, const char *fallback_host,
		  struct local_answer *a)
{
	struct http1_span path = http1__target_path(req->target);
	size_t plen = strlen(ACME_PREFIX);
	ssize_t n;

	if (req->body != HTTP1_BODY_NONE)
		a->close = true; /* we will not read it */
	if (*px->cfg->acme_webroot && path.len > plen &&
	    !memcmp(path.p, ACME_PREFIX, plen))
		return serve_acme(px, out, path, a);
	/* 'Location' and the rest: the head's size is bounded by the target
	 * (8 KiB at most) and the Host. */
	if (buf__reserve(out, req->target.len + req->host.len + 512 +
				      strlen(px->served_by)))
		return -ENOMEM;
	n = http1__write_redirect(req, fallback_host, px->https_port,
				  px->served_by, a->close, out->d + out->e,
				  out->cap - out->e);
	if (n == -400) {
		a->close = true;
		return local__error(px, out, 400, a);
	}
	if (n < 0)
		return -ENOMEM;
	out->e += n;
	a->status = 301;
	a->body_len = 0;
	return 0;
}
