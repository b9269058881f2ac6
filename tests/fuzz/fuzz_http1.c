// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer target for tls-tier/http1/http1.c. One input drives:
 * - the request parser with generous and with tight limits, then the body
 *   (Content-Length skipped, chunked scanned) and the next pipelined
 *   request, a few times; a parsed head is rewritten for the upstream and
 *   the rewrite must parse back with the same framing;
 * - the request parser on a prefix whose length comes from the data: it
 *   answers 0 or the whole input's answer;
 * - the chunked scanner over the whole input, in one go, split at a
 *   position taken from the data, and (for short inputs) byte by byte: the
 *   answers must agree;
 * - the response parser for GET and HEAD, then the chunked body if any;
 * - for a parsed request, the port-80 redirect (bounded, parses back as a
 *   301 whose Location holds the target's path) and http1__target_path()
 *   (a span inside the target, or "/").
 * The response side has its own target, fuzz_http1_res.c.
 * Invariants: a head length is <= len, spans lie inside the buffer, a scan
 * never returns more than it was given.
 */
#include <stdio.h>
#include <stdlib.h>

#include "../../tls-tier/http1/http1.c"
#include "../../tls-tier/http1/http1_write.c"

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
				__LINE__, #cond);                              \
			abort();                                               \
		}                                                              \
	} while (0)

static const struct http1_limits lim_big = { 8192, 65536, 0 };
static const struct http1_limits lim_tight = { 64, 256, 100 };

static void check_span(struct http1_span s, const char *buf, size_t len)
{
	CHECK(s.p != NULL);
	if (s.len)
		CHECK(s.p >= buf && s.len <= len &&
		      s.p - buf <= (ptrdiff_t)(len - s.len));
}

static void check_headers(const struct http1_header *h, size_t n,
			  const char *buf, size_t len)
{
	size_t i;

	CHECK(n <= HTTP1_MAX_HEADERS);
	for (i = 0; i < n; i++) {
		CHECK(h[i].name.len > 0);
		check_span(h[i].name, buf, len);
		check_span(h[i].value, buf, len);
	}
}

static bool is_error(int r)
{
	return r == -400 || r == -413 || r == -414 || r == -417 || r == -431 ||
	       r == -501 || r == -505;
}

/* Scan buf[0..len) with cuts at the given positions; returns as scan. */
static ssize_t scan_split(const char *buf, size_t len, const size_t *cuts,
			  size_t ncuts, uint64_t max_total, bool *done)
{
	struct http1_chunked c;
	size_t pos = 0, i;
	ssize_t n, sum = 0;

	http1_chunked__init(&c, max_total);
	*done = false;
	for (i = 0; i <= ncuts && !*done; i++) {
		size_t end = i < ncuts ? cuts[i] : len;

		if (end < pos)
			end = pos;
		if (end > len)
			end = len;
		n = http1_chunked__scan(&c, buf + pos, end - pos, done);
		if (n < 0) {
			CHECK(n == -400 || n == -413);
			return n;
		}
		CHECK((size_t)n <= end - pos);
		if (!*done)
			CHECK((size_t)n == end - pos);
		CHECK(c.total <= len);
		if (max_total)
			CHECK(c.total <= max_total);
		sum += n;
		pos = end;
	}
	return sum;
}

static void check_upstream(const struct http1_request *req, size_t head)
{
	static const struct http1_forward fwd = {
		.client_addr = "198.18.1.10",
		.proto = "https",
		.host = "backend.example",
		.port = 443,
	};
	struct http1_request again;
	size_t cap = 2 * head + 512;
	char *out = malloc(cap), *exact;
	ssize_t w;
	int r;

	CHECK(out != NULL);
	w = http1__write_upstream_head(req, &fwd, out, cap);
	CHECK(w > 0 && (size_t)w <= cap);
	r = http1__parse_request(out, w, &lim_big, &again);
	if (r == -431) {
		/* up to seven fields more (Host, X-Forwarded-*, X-Real-IP,
		 * Connection), or the joined X-Forwarded-For line or the head
		 * grew past the limits */
		CHECK(req->num_headers + 7 > HTTP1_MAX_HEADERS ||
		      (size_t)w > lim_big.max_line);
	} else {
		CHECK(r == w);
		CHECK(again.minor == 1 && again.keep_alive);
		CHECK(again.body == req->body);
		CHECK(again.content_length == req->content_length);
		CHECK(again.method.len == req->method.len &&
		      !memcmp(again.method.p, req->method.p, req->method.len));
		if (req->host.len ||
		    http1__find(req->headers, req->num_headers, "host"))
			CHECK(again.host.len == req->host.len);
		else
			CHECK(again.host.len == strlen(fwd.host));
	}
	/* one byte short: -1, and not a byte written past cap (ASan) */
	exact = malloc(w - 1 ? w - 1 : 1);
	CHECK(exact != NULL);
	CHECK(http1__write_upstream_head(req, &fwd, exact, w - 1) == -1);
	free(exact);
	free(out);
}

/* The port-80 answer and the local path of a parsed request. */
static void check_redirect(const struct http1_request *req)
{
	static const struct http1_span get = { "GET", 3 };
	struct http1_span path = http1__target_path(req->target);
	struct http1_response res;
	const struct http1_header *loc;
	size_t cap = req->target.len + req->host.len + 512;
	char *out = malloc(cap), *exact;
	ssize_t w;

	CHECK(out != NULL);
	CHECK(path.len > 0);
	if (!(path.len == 1 && path.p[0] == '/'))
		check_span(path, req->target.p, req->target.len);
	CHECK(memchr(path.p, '?', path.len) == NULL);
	w = http1__write_redirect(req, "[fd00::1]", 8443, "X-A: b\r\n", false,
				  out, cap);
	if (w == -400) {
		free(out);
		return;
	}
	CHECK(w > 0 && (size_t)w <= cap);
	CHECK(http1__parse_response(out, w, w, get, &res) == w);
	CHECK(res.status == 301 && res.keep_alive);
	loc = http1__find(res.headers, res.num_headers, "location");
	CHECK(loc != NULL && loc->value.len > 8 &&
	      !memcmp(loc->value.p, "https://", 8));
	CHECK(memmem(loc->value.p, loc->value.len, path.p, path.len) != NULL);
	exact = malloc(w - 1 ? w - 1 : 1);
	CHECK(exact != NULL);
	CHECK(http1__write_redirect(req, "[fd00::1]", 8443, "X-A: b\r\n", false,
				    exact, w - 1) == -1);
	free(exact);
	free(out);
}

static void fuzz_requests(const char *buf, size_t len,
			  const struct http1_limits *lim, bool upstream)
{
	struct http1_request req;
	size_t pos = 0;
	bool done;
	int i, r;

	for (i = 0; i < 4 && pos < len; i++) {
		const char *p = buf + pos;
		size_t n = len - pos;

		r = http1__parse_request(p, n, lim, &req);
		if (r <= 0) {
			CHECK(r == 0 || is_error(r));
			return;
		}
		CHECK((size_t)r <= n);
		CHECK(req.minor == 0 || req.minor == 1);
		CHECK(req.method.len > 0 && req.target.len > 0);
		check_span(req.method, p, r);
		check_span(req.target, p, r);
		check_span(req.host, p, r);
		check_headers(req.headers, req.num_headers, p, r);
		if (req.body == HTTP1_BODY_LENGTH)
			CHECK(req.content_length > 0 &&
			      (!lim->max_body ||
			       req.content_length <= lim->max_body));
		if (req.body == HTTP1_BODY_CHUNKED)
			CHECK(req.minor == 1);
		CHECK(req.body != HTTP1_BODY_UNTIL_CLOSE);
		if (upstream) {
			check_upstream(&req, r);
			check_redirect(&req);
		}
		pos += r;
		if (req.body == HTTP1_BODY_LENGTH) {
			if (req.content_length > len - pos)
				return;
			pos += req.content_length;
		} else if (req.body == HTTP1_BODY_CHUNKED) {
			ssize_t s = scan_split(buf + pos, len - pos, NULL, 0,
					       lim->max_body, &done);

			if (s < 0 || !done)
				return;
			pos += s;
		}
	}
}

/* A prefix answers 0 or exactly what the whole input answers. */
static void fuzz_prefix(const char *buf, size_t len, size_t k)
{
	struct http1_request req;
	int whole, part;

	whole = http1__parse_request(buf, len, &lim_tight, &req);
	part = http1__parse_request(buf, k, &lim_tight, &req);
	if (whole > 0 && k >= (size_t)whole)
		CHECK(part == whole);
	else
		CHECK(part == 0 || (whole < 0 && part == whole));
}

/*
 * De-chunking the same bytes, one data run per call, consumes what the
 * scanner consumes, ends when it ends, yields exactly the data bytes it
 * counted, and each run lies inside what that call consumed.
 */
static void dechunk_agrees(const char *buf, size_t len, ssize_t whole,
			   bool done_whole)
{
	struct http1_chunked sc, dc;
	size_t pos = 0, data, total = 0;
	bool done = false;
	ssize_t n;

	http1_chunked__init(&dc, 0);
	http1_chunked__init(&sc, 0);
	while (pos < len && !done) {
		n = http1_chunked__decode(&dc, buf + pos, len - pos, &data,
					  &done);
		if (n < 0) {
			CHECK(n == whole);
			return;
		}
		CHECK((size_t)n <= len - pos && data <= (size_t)n);
		if (!n)
			break;
		pos += n;
		total += data;
	}
	CHECK(whole >= 0 && (size_t)whole == pos);
	CHECK(done == done_whole);
	n = http1_chunked__scan(&sc, buf, len, &done);
	CHECK(total == sc.total && total == dc.total);
}

static void fuzz_chunked(const char *buf, size_t len, size_t split)
{
	size_t cuts[2] = { split / 2, split }, *bytes, i;
	ssize_t whole, r;
	bool done_whole, done;

	whole = scan_split(buf, len, NULL, 0, 0, &done_whole);
	dechunk_agrees(buf, len, whole, done_whole);
	r = scan_split(buf, len, cuts, 2, 0, &done);
	CHECK(r == whole);
	if (r >= 0)
		CHECK(done == done_whole);
	if (len > 1024)
		return;
	bytes = malloc((len + 1) * sizeof(*bytes));
	CHECK(bytes != NULL);
	for (i = 0; i < len; i++)
		bytes[i] = i + 1;
	r = scan_split(buf, len, bytes, len, 0, &done);
	free(bytes);
	CHECK(r == whole);
	if (r >= 0)
		CHECK(done == done_whole);
	/* a body limit only turns success into 413, at the same point */
	r = scan_split(buf, len, NULL, 0, 16, &done);
	CHECK(r == whole || r == -413);
}

static void fuzz_response(const char *buf, size_t len, const char *method)
{
	struct http1_span m = { method, strlen(method) };
	struct http1_response res;
	bool done;
	int r;

	r = http1__parse_response(buf, len, 4096, m, &res);
	if (r <= 0) {
		CHECK(r == 0 || r == -502);
		return;
	}
	CHECK((size_t)r <= len);
	CHECK(res.status >= 100 && res.status <= 599);
	CHECK(res.minor == 0 || res.minor == 1);
	check_span(res.reason, buf, r);
	check_headers(res.headers, res.num_headers, buf, r);
	if (res.body == HTTP1_BODY_LENGTH)
		CHECK(res.content_length > 0);
	if (res.body == HTTP1_BODY_UNTIL_CLOSE)
		CHECK(!res.keep_alive);
	if (!strcmp(method, "HEAD"))
		CHECK(res.body == HTTP1_BODY_NONE);
	if (res.body == HTTP1_BODY_CHUNKED)
		scan_split(buf + r, len - r, NULL, 0, 0, &done);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact-size heap copy: ASan sees any read past the end */
	char *buf = malloc(size ? size : 1);
	size_t split;

	if (!buf)
		return 0;
	if (size)
		memcpy(buf, data, size);
	split = size ? (data[0] * 31u + data[size - 1]) % (size + 1) : 0;

	fuzz_requests(buf, size, &lim_big, true);
	fuzz_requests(buf, size, &lim_tight, false);
	fuzz_prefix(buf, size, split);
	fuzz_chunked(buf, size, split);
	fuzz_response(buf, size, "GET");
	fuzz_response(buf, size, "HEAD");
	free(buf);
	return 0;
}
