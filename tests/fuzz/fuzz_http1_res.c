// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer target for the response side of tls-tier/http1/http1.c and
 * http1_write.c: what an upstream sends. One input is a stream of
 * responses, read as lbtls reads them, for a GET and for a HEAD request:
 * - http1__parse_response() (interim 1xx heads skipped, as conn.c does),
 *   then on a prefix whose length comes from the data: 0 or the same
 *   answer;
 * - every parsed final head goes through http1__write_client_head() with
 *   each de-chunk/close choice, in a buffer of exactly
 *   http1__client_head_size() bytes (ASan sees any write past it), and the
 *   copy must parse back with the same status and framing;
 * - a chunked body is scanned (http1_chunked__scan) and de-chunked
 *   (http1_chunked__decode), each whole and in pieces: they must consume
 *   the same bytes, end at the same point or fail the same way, and the
 *   data decode yields must be exactly the bytes the scanner counted as
 *   data (found by scanning one byte at a time).
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

#define MAX_MESSAGES 6

static void check_span(struct http1_span s, const char *buf, size_t len)
{
	CHECK(s.p != NULL);
	if (s.len)
		CHECK(s.p >= buf && s.len <= len &&
		      s.p - buf <= (ptrdiff_t)(len - s.len));
}

static void check_head(const struct http1_response *res, const char *buf,
		       size_t head, bool is_head)
{
	size_t i;

	CHECK(res->status >= 100 && res->status <= 599);
	CHECK(res->minor == 0 || res->minor == 1);
	check_span(res->reason, buf, head);
	CHECK(res->num_headers <= HTTP1_MAX_HEADERS);
	for (i = 0; i < res->num_headers; i++) {
		CHECK(res->headers[i].name.len > 0);
		check_span(res->headers[i].name, buf, head);
		check_span(res->headers[i].value, buf, head);
	}
	if (res->body == HTTP1_BODY_LENGTH)
		CHECK(res->content_length > 0);
	if (res->body == HTTP1_BODY_UNTIL_CLOSE || res->status == 101)
		CHECK(!res->keep_alive);
	if (is_head || res->status < 200 || res->status == 204 ||
	    res->status == 304)
		CHECK(res->body == HTTP1_BODY_NONE);
}

/* The client's copy: bounded by the size, and parses back the same. */
static void check_client_head(const struct http1_response *res,
			      struct http1_span method)
{
	static const char *const extras[] = { "",
					      "X-Served-By: h/worker-1\r\n" };
	struct http1_response again;
	unsigned k;

	for (k = 0; k < 8; k++) {
		struct http1_client_head o = {
			.dechunk = k & 1,
			.close = k & 2,
			.extra = extras[k >> 2],
		};
		size_t size = http1__client_head_size(res, &o), n;
		char *out = malloc(size);
		int r;

		CHECK(out != NULL);
		n = http1__write_client_head(res, &o, out);
		CHECK(n <= size);
		r = http1__parse_response(out, n, n, method, &again);
		if (r == -502) {
			/* only room can be the reason: Connection added */
			CHECK(res->num_headers + 2 > HTTP1_MAX_HEADERS);
			free(out);
			continue;
		}
		CHECK(r == (int)n);
		CHECK(again.status == res->status && again.minor == 1);
		CHECK(again.reason.len == res->reason.len &&
		      !memcmp(again.reason.p, res->reason.p, res->reason.len));
		if (o.close)
			CHECK(!again.keep_alive);
		if (o.dechunk && res->body == HTTP1_BODY_CHUNKED) {
			/* no Transfer-Encoding left: the close delimits it */
			CHECK(!http1__find(again.headers, again.num_headers,
					   "transfer-encoding"));
			CHECK(again.body == HTTP1_BODY_UNTIL_CLOSE);
		} else if (!o.dechunk) {
			CHECK(again.body == res->body);
			CHECK(again.content_length == res->content_length);
		}
		free(out);
	}
}

/*
 * The scanner one byte at a time, marking which bytes it counted as chunk
 * data. Returns as http1_chunked__scan() over the whole buffer.
 */
static ssize_t scan_marking(const char *buf, size_t len, uint64_t max_total,
			    char *is_data, bool *done)
{
	struct http1_chunked c;
	size_t i;
	uint64_t before;
	ssize_t n;

	http1_chunked__init(&c, max_total);
	*done = false;
	for (i = 0; i < len && !*done; i++) {
		before = c.total;
		n = http1_chunked__scan(&c, buf + i, 1, done);
		if (n < 0)
			return n;
		CHECK(n == 1);
		CHECK(c.total == before || c.total == before + 1);
		CHECK(c.chunk_left <= HTTP1_MAX_CHUNK);
		is_data[i] = c.total != before;
		if (max_total)
			CHECK(c.total <= max_total);
	}
	return (ssize_t)i;
}

/* Decode buf in pieces ending at cut, then at len; returns as scan. */
static ssize_t decode_pieces(const char *buf, size_t len, size_t cut,
			     uint64_t max_total, char *data_out,
			     size_t *data_len, bool *done)
{
	struct http1_chunked c;
	size_t pos = 0, end, data;
	ssize_t n;

	http1_chunked__init(&c, max_total);
	*done = false;
	*data_len = 0;
	for (end = cut; !*done; end = len) {
		while (pos < end && !*done) {
			n = http1_chunked__decode(&c, buf + pos, end - pos,
						  &data, done);
			if (n < 0)
				return n;
			CHECK((size_t)n <= end - pos && data <= (size_t)n);
			if (!n) {
				CHECK(*done);
				break;
			}
			memcpy(data_out + *data_len, buf + pos + n - data,
			       data);
			*data_len += data;
			pos += n;
		}
		if (end == len)
			break;
	}
	CHECK(*data_len == c.total);
	return (ssize_t)pos;
}

/* Returns the body length when the body ended inside buf, else -1. */
static ssize_t fuzz_chunked(const char *buf, size_t len, size_t cut,
			    uint64_t max_total)
{
	char *is_data = calloc(len + 1, 1), *want = malloc(len + 1);
	char *got = malloc(len + 1);
	struct http1_chunked c;
	size_t i, nwant = 0, ngot;
	ssize_t marked, whole, dec;
	bool done_m, done_w, done_d;

	CHECK(is_data && want && got);
	marked = scan_marking(buf, len, max_total, is_data, &done_m);
	http1_chunked__init(&c, max_total);
	whole = http1_chunked__scan(&c, buf, len, &done_w);
	CHECK(whole == marked);
	if (whole >= 0) {
		CHECK(done_w == done_m);
		CHECK((size_t)whole <= len);
		if (!done_w)
			CHECK((size_t)whole == len);
		for (i = 0; i < (size_t)whole; i++)
			if (is_data[i])
				want[nwant++] = buf[i];
		CHECK(nwant == c.total);
	}
	dec = decode_pieces(buf, len, cut, max_total, got, &ngot, &done_d);
	CHECK(dec == whole);
	if (whole >= 0) {
		CHECK(done_d == done_w);
		CHECK(ngot == nwant && !memcmp(got, want, nwant));
	}
	dec = decode_pieces(buf, len, len, max_total, got, &ngot, &done_d);
	CHECK(dec == whole);
	if (whole >= 0)
		CHECK(ngot == nwant && !memcmp(got, want, nwant));
	free(is_data);
	free(want);
	free(got);
	return whole >= 0 && done_w ? whole : -1;
}

/* A prefix of a head answers 0, or the very answer of the whole. */
static void fuzz_prefix(const char *buf, size_t len, size_t k,
			struct http1_span method)
{
	struct http1_response res;
	int whole, part;

	whole = http1__parse_response(buf, len, 256, method, &res);
	part = http1__parse_response(buf, k, 256, method, &res);
	if (whole > 0 && k >= (size_t)whole)
		CHECK(part == whole);
	else
		CHECK(part == 0 || (whole < 0 && part == whole));
}

static void fuzz_stream(const char *buf, size_t len, const char *m,
			size_t split)
{
	struct http1_span method = { m, strlen(m) };
	struct http1_response res;
	size_t pos = 0;
	ssize_t body;
	int i, r;

	fuzz_prefix(buf, len, split, method);
	for (i = 0; i < MAX_MESSAGES && pos < len; i++) {
		const char *p = buf + pos;
		size_t n = len - pos;

		r = http1__parse_response(p, n, 0, method, &res);
		if (r <= 0) {
			CHECK(r == 0 || r == -502);
			return;
		}
		CHECK((size_t)r <= n);
		check_head(&res, p, r, !strcmp(m, "HEAD"));
		pos += r;
		/* interim answers are dropped; the final one follows */
		if (res.status < 200 && res.status != 101)
			continue;
		check_client_head(&res, method);
		switch (res.body) {
		case HTTP1_BODY_NONE:
			break;
		case HTTP1_BODY_LENGTH:
			if (res.content_length > len - pos)
				return;
			pos += res.content_length;
			break;
		case HTTP1_BODY_CHUNKED:
			fuzz_chunked(buf + pos, len - pos,
				     split % (len - pos + 1),
				     split & 1 ? 64 : 0);
			body = fuzz_chunked(buf + pos, len - pos,
					    (split / 2) % (len - pos + 1), 0);
			if (body < 0)
				return;
			pos += body;
			break;
		case HTTP1_BODY_UNTIL_CLOSE:
			return;
		}
	}
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
	fuzz_stream(buf, size, "GET", split);
	fuzz_stream(buf, size, "HEAD", split);
	/* the whole input as a chunked body, as after a chunked head */
	fuzz_chunked(buf, size, split, 0);
	free(buf);
	return 0;
}
