// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * HTTP/1.x framing: one cmocka test per table row (requests, chunked
 * bodies, responses), then limits, incremental feeding, pipelining and the
 * upstream head rewrite. Every request row is also fed at every split point:
 * each prefix must answer 0 or the row's own error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "../../tls-tier/http1/http1.c"
#include "../../tls-tier/http1/http1_write.c"

static const struct http1_limits test_lim = {
	.max_line = 256,
	.max_head = 1024,
	.max_body = 1000,
};

/* --- requests ----------------------------------------------------------------- */

#define F_KA 1
#define F_EXPECT 2
#define F_IDEM 4
#define F_UPGRADE 8

struct req_case {
	const char *name;
	const char *in;
	size_t len; /* 0: strlen(in) */
	int want; /* 0: a valid head spanning the whole input; else the error */
	enum http1_body body;
	uint64_t cl;
	unsigned flags; /* F_*, checked for valid rows */
	const char *host; /* NULL: not checked */
	int minor;
};

#define BIN(s) .in = (s), .len = sizeof(s) - 1
#define H11 " HTTP/1.1\r\nHost: a\r\n"

static const struct req_case req_cases[] = {
	/* valid heads */
	{ "get_1_1", "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
	  .flags = F_KA | F_IDEM, .host = "a", .minor = 1 },
	{ "get_1_0_no_host", "GET / HTTP/1.0\r\n\r\n", .flags = F_IDEM,
	  .host = "" },
	{ "get_1_0_keep_alive",
	  "GET / HTTP/1.0\r\nConnection: foo ,Keep-Alive\r\n\r\n",
	  .flags = F_KA | F_IDEM },
	{ "get_1_1_close", "GET /" H11 "Connection: close\r\n\r\n",
	  .flags = F_IDEM, .minor = 1 },
	{ "connection_list_case_insensitive",
	  "GET /" H11 "Connection: x-a\r\nConnection: TE, CLOSE\r\n\r\n",
	  .flags = F_IDEM, .minor = 1 },
	{ "connection_keep_alive_1_1",
	  "GET /" H11 "Connection: keep-alive\r\n\r\n", .flags = F_KA | F_IDEM,
	  .minor = 1 },
	{ "content_length", "POST /f" H11 "Content-Length: 5\r\n\r\n",
	  .body = HTTP1_BODY_LENGTH, .cl = 5, .flags = F_KA, .minor = 1 },
	{ "content_length_zero", "POST /f" H11 "Content-Length: 0\r\n\r\n",
	  .flags = F_KA, .minor = 1 },
	{ "content_length_leading_zeros",
	  "POST /f" H11 "Content-Length: 007\r\n\r\n",
	  .body = HTTP1_BODY_LENGTH, .cl = 7, .flags = F_KA, .minor = 1 },
	{ "content_length_ows", "POST /f" H11 "Content-Length: \t 5 \t\r\n\r\n",
	  .body = HTTP1_BODY_LENGTH, .cl = 5, .flags = F_KA, .minor = 1 },
	{ "content_length_at_max_body",
	  "POST /f" H11 "Content-Length: 1000\r\n\r\n",
	  .body = HTTP1_BODY_LENGTH, .cl = 1000, .flags = F_KA, .minor = 1 },
	{ "chunked", "POST /f" H11 "Transfer-Encoding: chunked\r\n\r\n",
	  .body = HTTP1_BODY_CHUNKED, .flags = F_KA, .minor = 1 },
	{ "chunked_leading_ows_trimmed",
	  "POST /f" H11 "Transfer-Encoding:  \tchunked \r\n\r\n",
	  .body = HTTP1_BODY_CHUNKED, .flags = F_KA, .minor = 1 },
	{ "chunked_case_insensitive",
	  "POST /f" H11 "transfer-encoding: Chunked\r\n\r\n",
	  .body = HTTP1_BODY_CHUNKED, .flags = F_KA, .minor = 1 },
	{ "leading_empty_lines", "\r\n\r\nGET /" H11 "\r\n",
	  .flags = F_KA | F_IDEM, .minor = 1 },
	{ "absolute_form",
	  "GET http://Example.com:8080/x?y HTTP/1.1\r\n"
	  "Host: other\r\n\r\n",
	  .flags = F_KA | F_IDEM, .host = "Example.com:8080", .minor = 1 },
	{ "absolute_form_https_no_path",
	  "GET https://h HTTP/1.1\r\nHost: h\r\n\r\n", .flags = F_KA | F_IDEM,
	  .host = "h", .minor = 1 },
	{ "asterisk_form_options", "OPTIONS *" H11 "\r\n",
	  .flags = F_KA | F_IDEM, .minor = 1 },
	{ "expect_100_continue",
	  "PUT /u" H11 "Expect: 100-Continue\r\nContent-Length: 3\r\n\r\n",
	  .body = HTTP1_BODY_LENGTH, .cl = 3, .flags = F_KA | F_EXPECT | F_IDEM,
	  .minor = 1 },
	{ "expect_ignored_in_1_0",
	  "PUT /u HTTP/1.0\r\nExpect: 100-continue\r\n\r\n", .flags = F_IDEM },
	{ "expect_list_100_continue",
	  "PUT /u" H11 "Expect: , 100-continue ,\r\nContent-Length: 3\r\n\r\n",
	  .body = HTTP1_BODY_LENGTH, .cl = 3, .flags = F_KA | F_EXPECT | F_IDEM,
	  .minor = 1 },
	{ "expect_empty_ignored", "PUT /u" H11 "Expect:\r\n\r\n",
	  .flags = F_KA | F_IDEM, .minor = 1 },
	{ "method_post_not_idempotent", "POST /" H11 "\r\n", .flags = F_KA,
	  .minor = 1 },
	{ "method_patch_not_idempotent", "PATCH /" H11 "\r\n", .flags = F_KA,
	  .minor = 1 },
	{ "method_delete_idempotent", "DELETE /" H11 "\r\n",
	  .flags = F_KA | F_IDEM, .minor = 1 },
	{ "method_head_idempotent", "HEAD /" H11 "\r\n", .flags = F_KA | F_IDEM,
	  .minor = 1 },
	{ "method_case_sensitive", "get /" H11 "\r\n", .flags = F_KA,
	  .minor = 1 },
	{ "upgrade_flag",
	  "GET /" H11 "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
	  .flags = F_KA | F_IDEM | F_UPGRADE, .minor = 1 },
	{ "upgrade_h2c_flag",
	  "GET /" H11 "Connection: Upgrade, HTTP2-Settings\r\n"
	  "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n",
	  .flags = F_KA | F_IDEM | F_UPGRADE, .minor = 1 },
	{ "empty_header_value", "GET /" H11 "X-Empty:\r\nX-Ws:   \r\n\r\n",
	  .flags = F_KA | F_IDEM, .minor = 1 },
	{ "obs_text_and_tab_in_value",
	  "GET /" H11 "X-A: caf\xc3\xa9\tau lait\r\n\r\n",
	  .flags = F_KA | F_IDEM, .minor = 1 },
	{ "ipv6_host", "GET / HTTP/1.1\r\nHost: [fd00::1]:8443\r\n\r\n",
	  .flags = F_KA | F_IDEM, .host = "[fd00::1]:8443", .minor = 1 },
	{ "empty_host_1_1", "GET / HTTP/1.1\r\nHost:\r\n\r\n",
	  .flags = F_KA | F_IDEM, .host = "", .minor = 1 },

	/* request line */
	{ "method_not_token", "G(ET /" H11 "\r\n", .want = -400 },
	{ "request_line_double_space", "GET  /" H11 "\r\n", .want = -400 },
	{ "target_with_space", "GET /a b" H11 "\r\n", .want = -400 },
	{ "target_with_ctl", "GET /\x01" H11 "\r\n", .want = -400 },
	{ "target_with_tab", "GET /\t" H11 "\r\n", .want = -400 },
	{ "target_with_del", "GET /\x7f" H11 "\r\n", .want = -400 },
	{ "target_non_ascii", "GET /\xc3\xa9" H11 "\r\n", .want = -400 },
	{ "target_fragment", "GET /#x" H11 "\r\n", .want = -400 },
	{ "target_relative", "GET foo" H11 "\r\n", .want = -400 },
	{ "target_asterisk_not_options", "GET *" H11 "\r\n", .want = -400 },
	{ "target_absolute_empty_host", "GET http:///x" H11 "\r\n",
	  .want = -400 },
	{ "target_absolute_userinfo", "GET http://u@h/" H11 "\r\n",
	  .want = -400 },
	{ "target_absolute_other_scheme", "GET ftp://h/" H11 "\r\n",
	  .want = -400 },
	{ "http_0_9", "GET /\r\n\r\n", .want = -400 },
	{ "method_only", "GET\r\n\r\n", .want = -400 },
	{ "version_lowercase", "GET / http/1.1\r\nHost: a\r\n\r\n",
	  .want = -400 },
	{ "version_two_digits", "GET / HTTP/1.10\r\nHost: a\r\n\r\n",
	  .want = -400 },
	{ "version_no_minor", "GET / HTTP/1\r\nHost: a\r\n\r\n", .want = -400 },
	{ "version_trailing_space", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n",
	  .want = -400 },
	{ "version_2_0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", .want = -505 },
	{ "version_1_2", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", .want = -505 },
	{ "version_0_9", "GET / HTTP/0.9\r\n\r\n", .want = -505 },
	{ "connect", "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n",
	  .want = -501 },

	/* expectations other than 100-continue: 417 (RFC 9110 10.1.1) */
	{ "expect_unknown_417",
	  "POST /" H11 "Expect: 200-ok\r\nContent-Length: 3\r\n\r\n",
	  .want = -417 },
	{ "expect_100_continue_and_other_417",
	  "POST /" H11 "Expect: 100-continue, foo\r\nContent-Length: 3\r\n\r\n",
	  .want = -417 },
	{ "expect_second_header_unknown_417",
	  "POST /" H11 "Expect: 100-continue\r\nExpect: x=1\r\n\r\n",
	  .want = -417 },
	{ "expect_unknown_in_1_0_417", "GET / HTTP/1.0\r\nExpect: foo\r\n\r\n",
	  .want = -417 },
	{ "expect_unknown_body_over_limit_413",
	  "POST /" H11 "Expect: foo\r\nContent-Length: 1001\r\n\r\n",
	  .want = -413 },
	{ "expect_100_body_over_limit_413",
	  "POST /" H11 "Expect: 100-continue\r\nContent-Length: 1001\r\n\r\n",
	  .want = -413 },
	{ "bare_lf_line_ends", "GET / HTTP/1.1\nHost: a\n\n", .want = -400 },
	{ "bare_cr_in_request_line", "GET /\rx" H11 "\r\n", .want = -400 },

	/* header syntax */
	{ "space_before_colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n",
	  .want = -400 },
	{ "empty_header_name", "GET /" H11 ": a\r\n\r\n", .want = -400 },
	{ "header_without_colon", "GET /" H11 "Foo\r\n\r\n", .want = -400 },
	{ "header_name_not_token", "GET /" H11 "Fo{o: x\r\n\r\n",
	  .want = -400 },
	{ "obs_fold", "GET /" H11 "X-A: a\r\n b\r\n\r\n", .want = -400 },
	{ "obs_fold_tab", "GET /" H11 "X-A: a\r\n\tb\r\n\r\n", .want = -400 },
	{ "whitespace_before_first_header",
	  "GET / HTTP/1.1\r\n Host: a\r\n\r\n", .want = -400 },
	{ "nul_in_value", BIN("GET /" H11 "X-A: a\0b\r\n\r\n"), .want = -400 },
	{ "nul_in_name", BIN("GET /" H11 "X-\0A: b\r\n\r\n"), .want = -400 },
	{ "nul_in_target", BIN("GET /\0" H11 "\r\n"), .want = -400 },
	{ "bare_cr_in_value", "GET /" H11 "X-A: a\rb\r\n\r\n", .want = -400 },
	{ "bare_lf_in_value", "GET /" H11 "X-A: a\nb: c\r\n\r\n",
	  .want = -400 },
	{ "ctl_in_value", "GET /" H11 "X-A: a\x01z\r\n\r\n", .want = -400 },
	{ "del_in_value", "GET /" H11 "X-A: a\x7fz\r\n\r\n", .want = -400 },

	/* framing: request smuggling */
	{ "cl_and_te",
	  "POST /" H11 "Content-Length: 5\r\n"
	  "Transfer-Encoding: chunked\r\n\r\n",
	  .want = -400 },
	{ "te_and_cl",
	  "POST /" H11 "Transfer-Encoding: chunked\r\n"
	  "Content-Length: 5\r\n\r\n",
	  .want = -400 },
	{ "cl_and_bad_te",
	  "POST /" H11 "Content-Length: 5\r\n"
	  "Transfer-Encoding: gzip\r\n\r\n",
	  .want = -400 },
	{ "cl_not_digits", "POST /" H11 "Content-Length: abc\r\n\r\n",
	  .want = -400 },
	{ "cl_negative", "POST /" H11 "Content-Length: -5\r\n\r\n",
	  .want = -400 },
	{ "cl_plus_sign", "POST /" H11 "Content-Length: +5\r\n\r\n",
	  .want = -400 },
	{ "cl_empty", "POST /" H11 "Content-Length:\r\n\r\n", .want = -400 },
	{ "cl_inner_space", "POST /" H11 "Content-Length: 5 5\r\n\r\n",
	  .want = -400 },
	{ "cl_hex", "POST /" H11 "Content-Length: 0x5\r\n\r\n", .want = -400 },
	{ "cl_overflow_u64",
	  "POST /" H11 "Content-Length: 99999999999999999999\r\n\r\n",
	  .want = -400 },
	{ "cl_overflow_2_63",
	  "POST /" H11 "Content-Length: 9223372036854775808\r\n\r\n",
	  .want = -400 },
	{ "cl_duplicate_differing",
	  "POST /" H11 "Content-Length: 5\r\n"
	  "Content-Length: 6\r\n\r\n",
	  .want = -400 },
	{ "cl_duplicate_identical_rejected",
	  "POST /" H11 "Content-Length: 5\r\n"
	  "Content-Length: 5\r\n\r\n",
	  .want = -400 },
	{ "cl_list_differing", "POST /" H11 "Content-Length: 5, 6\r\n\r\n",
	  .want = -400 },
	{ "cl_list_identical_rejected",
	  "POST /" H11 "Content-Length: 5, 5\r\n\r\n", .want = -400 },
	{ "cl_over_max_body", "POST /" H11 "Content-Length: 1001\r\n\r\n",
	  .want = -413 },
	{ "host_duplicate", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
	  .want = -400 },
	{ "host_duplicate_1_0", "GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n",
	  .want = -400 },
	{ "host_missing_1_1", "GET / HTTP/1.1\r\nX-A: b\r\n\r\n",
	  .want = -400 },
	{ "host_missing_absolute_form", "GET http://h/ HTTP/1.1\r\n\r\n",
	  .want = -400 },
	{ "host_invalid_slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n",
	  .want = -400 },
	{ "host_invalid_space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
	  .want = -400 },
	{ "host_invalid_userinfo", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n",
	  .want = -400 },
	{ "te_gzip_chunked",
	  "POST /" H11 "Transfer-Encoding: gzip, chunked\r\n\r\n",
	  .want = -501 },
	{ "te_identity", "POST /" H11 "Transfer-Encoding: identity\r\n\r\n",
	  .want = -501 },
	{ "te_chunked_identity",
	  "POST /" H11 "Transfer-Encoding: chunked, identity\r\n\r\n",
	  .want = -501 },
	{ "te_xchunked", "POST /" H11 "Transfer-Encoding: xchunked\r\n\r\n",
	  .want = -501 },
	{ "te_chunked_param",
	  "POST /" H11 "Transfer-Encoding: chunked;x\r\n\r\n", .want = -501 },
	{ "te_chunked_trailing_comma",
	  "POST /" H11 "Transfer-Encoding: chunked,\r\n\r\n", .want = -501 },
	{ "te_chunked_twice",
	  "POST /" H11 "Transfer-Encoding: chunked\r\n"
	  "Transfer-Encoding: chunked\r\n\r\n",
	  .want = -501 },
	{ "te_empty", "POST /" H11 "Transfer-Encoding:\r\n\r\n", .want = -501 },
	{ "te_in_1_0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
	  .want = -400 },
	{ "te_gzip_in_1_0",
	  "POST / HTTP/1.0\r\nTransfer-Encoding: gzip\r\n\r\n", .want = -400 },
};

static size_t case_len(const char *in, size_t len)
{
	return len ? len : strlen(in);
}

static bool span_in(struct http1_span s, const char *buf, size_t len)
{
	return !s.len || (s.p >= buf && s.p + s.len <= buf + len);
}

static void check_spans(const struct http1_request *req, const char *buf,
			size_t len)
{
	size_t i;

	assert_true(span_in(req->method, buf, len));
	assert_true(span_in(req->target, buf, len));
	assert_true(span_in(req->host, buf, len));
	assert_true(req->num_headers <= HTTP1_MAX_HEADERS);
	for (i = 0; i < req->num_headers; i++) {
		assert_true(span_in(req->headers[i].name, buf, len));
		assert_true(span_in(req->headers[i].value, buf, len));
	}
}

/* The whole input, then every prefix: 0 or the same error. */
static void test_request_row(void **state)
{
	const struct req_case *c = *state;
	size_t len = case_len(c->in, c->len), k;
	struct http1_request req;
	char *buf;
	int r, want = c->want ? c->want : (int)len;

	/* heap copy of the exact size: ASan catches any read past the end */
	buf = malloc(len);
	assert_non_null(buf);
	memcpy(buf, c->in, len);

	r = http1__parse_request(buf, len, &test_lim, &req);
	assert_int_equal(r, want);
	if (r > 0) {
		check_spans(&req, buf, len);
		assert_int_equal(req.body, c->body);
		assert_int_equal(req.content_length, c->cl);
		assert_int_equal(req.keep_alive, !!(c->flags & F_KA));
		assert_int_equal(req.expect_continue, !!(c->flags & F_EXPECT));
		assert_int_equal(req.idempotent, !!(c->flags & F_IDEM));
		assert_int_equal(req.upgrade, !!(c->flags & F_UPGRADE));
		assert_int_equal(req.minor, c->minor);
		if (c->host) {
			assert_int_equal(req.host.len, strlen(c->host));
			assert_memory_equal(req.host.p, c->host, req.host.len);
		}
	}
	for (k = 0; k < len; k++) {
		r = http1__parse_request(buf, k, &test_lim, &req);
		if (r != 0 && r != c->want)
			fail_msg("prefix of %zu bytes: %d, whole: %d", k, r,
				 want);
	}
	free(buf);
}

/* --- request limits, pipelining, incremental feeding ---------------------------- */

static char *repeat_into(char *p, char ch, size_t n)
{
	memset(p, ch, n);
	return p + n;
}

static void test_request_line_too_long_414(void **state)
{
	char buf[600], *p = buf;
	struct http1_request req;

	(void)state;
	p += sprintf(p, "GET /");
	p = repeat_into(p, 'a', 300);
	p += sprintf(p, " HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(http1__parse_request(buf, p - buf, &test_lim, &req),
			 -414);
	/* no CRLF yet, but already past the limit */
	assert_int_equal(http1__parse_request(buf, 300, &test_lim, &req), -414);
	/* exactly max_line bytes of request line is fine */
	p = buf;
	p += sprintf(p, "GET /");
	p = repeat_into(p, 'a', 256 - 5 - 9);
	p += sprintf(p, " HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(http1__parse_request(buf, p - buf, &test_lim, &req),
			 p - buf);
}

static void test_header_line_too_long_431(void **state)
{
	char buf[600], *p = buf;
	struct http1_request req;
	size_t n;

	(void)state;
	p += sprintf(p, "GET / HTTP/1.1\r\nHost: a\r\nX-Long: ");
	n = p - buf;
	p = repeat_into(p, 'v', 300);
	p += sprintf(p, "\r\n\r\n");
	assert_int_equal(http1__parse_request(buf, p - buf, &test_lim, &req),
			 -431);
	assert_int_equal(http1__parse_request(buf, n + 260, &test_lim, &req),
			 -431);
}

static void test_head_too_long_431(void **state)
{
	char buf[2048], *p = buf;
	struct http1_request req;
	int i;

	(void)state;
	p += sprintf(p, "GET / HTTP/1.1\r\nHost: a\r\n");
	for (i = 0; i < 60; i++)
		p += sprintf(p, "X-H%02d: 0123456789\r\n", i);
	p += sprintf(p, "\r\n");
	assert_true(p - buf > 1024);
	assert_int_equal(http1__parse_request(buf, p - buf, &test_lim, &req),
			 -431);
	/* the same head without its blank line yet: already too long */
	assert_int_equal(
		http1__parse_request(buf, p - buf - 2, &test_lim, &req), -431);
}

static void test_leading_empty_lines_bounded(void **state)
{
	struct http1_limits tiny = { 256, 10, 0 };
	char buf[64];
	struct http1_request req;
	size_t n = 0;
	int i;

	(void)state;
	for (i = 0; i < 8; i++)
		n += sprintf(buf + n, "\r\n");
	n += sprintf(buf + n, "GET / HTTP/1.0\r\n\r\n");
	assert_int_equal(http1__parse_request(buf, n, &test_lim, &req), n);
	memmove(buf + 2, buf, n);
	memcpy(buf, "\r\n", 2);
	assert_int_equal(http1__parse_request(buf, n + 2, &test_lim, &req),
			 -400);
	/* a small head limit counts them too */
	assert_int_equal(http1__parse_request(buf, n + 2, &tiny, &req), -431);
}

static void test_too_many_headers_431(void **state)
{
	static char buf[8192];
	struct http1_limits big = { 8192, 8192, 0 };
	struct http1_request req;
	size_t n;
	int i;

	(void)state;
	n = snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: a\r\n");
	for (i = 1; i < HTTP1_MAX_HEADERS; i++)
		n += snprintf(buf + n, sizeof(buf) - n, "X-%d: v\r\n", i);
	memcpy(buf + n, "\r\n", 2);
	assert_int_equal(http1__parse_request(buf, n + 2, &big, &req), n + 2);
	assert_int_equal(req.num_headers, HTTP1_MAX_HEADERS);
	n += snprintf(buf + n, sizeof(buf) - n, "X-last: v\r\n\r\n");
	assert_int_equal(http1__parse_request(buf, n, &big, &req), -431);
}

static void test_limits_defaults(void **state)
{
	static const char big_body[] =
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4000000000\r\n\r\n";
	struct http1_limits zero = { 0, 0, 0 };
	struct http1_request req;

	(void)state;
	/* NULL limits: defaults, no body limit; max_body 0: no body limit */
	assert_int_equal(
		http1__parse_request(big_body, strlen(big_body), NULL, &req),
		(int)strlen(big_body));
	assert_int_equal(req.content_length, 4000000000ULL);
	assert_int_equal(
		http1__parse_request(big_body, strlen(big_body), &zero, &req),
		(int)strlen(big_body));
}

static void test_incremental_every_split(void **state)
{
	static const char msg[] =
		"\r\nPOST http://h.example/up?x=1 HTTP/1.1\r\n"
		"Host: ignored\r\nContent-Length: 11\r\nConnection: x, close\r\n"
		"X-Forwarded-For: 1.2.3.4\r\nExpect: 100-continue\r\n\r\n"
		"hello world";
	size_t head = strlen(msg) - 11, k;
	struct http1_request whole, part;

	(void)state;
	assert_int_equal(
		http1__parse_request(msg, strlen(msg), &test_lim, &whole),
		head);
	assert_int_equal(whole.content_length, 11);
	assert_false(whole.keep_alive);
	assert_true(whole.expect_continue);
	for (k = 0; k <= strlen(msg); k++) {
		int r = http1__parse_request(msg, k, &test_lim, &part);

		assert_int_equal(r, k < head ? 0 : (int)head);
		if (r > 0) {
			assert_int_equal(part.num_headers, whole.num_headers);
			assert_int_equal(part.body, whole.body);
			assert_int_equal(part.host.len, whole.host.len);
			assert_ptr_equal(part.host.p, whole.host.p);
		}
	}
}

static void test_pipelined_requests(void **state)
{
	static const char msg[] =
		"GET /one HTTP/1.1\r\nHost: a\r\n\r\n"
		"POST /two HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nbody"
		"POST /three HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
		"\r\n4\r\nbody\r\n0\r\n\r\n"
		"\r\nGET /four HTTP/1.0\r\n\r\n";
	static const char *const targets[] = { "/one", "/two", "/three",
					       "/four" };
	size_t pos = 0, len = strlen(msg), i;
	struct http1_request req;
	struct http1_chunked ch;
	bool done;

	(void)state;
	for (i = 0; i < 4; i++) {
		int r = http1__parse_request(msg + pos, len - pos, &test_lim,
					     &req);

		assert_true(r > 0);
		assert_true((size_t)r <= len - pos);
		assert_int_equal(req.target.len, strlen(targets[i]));
		assert_memory_equal(req.target.p, targets[i], req.target.len);
		pos += r;
		if (req.body == HTTP1_BODY_LENGTH) {
			pos += req.content_length;
		} else if (req.body == HTTP1_BODY_CHUNKED) {
			ssize_t n;

			http1_chunked__init(&ch, 0);
			n = http1_chunked__scan(&ch, msg + pos, len - pos,
						&done);
			assert_true(done);
			assert_int_equal(n, 14);
			pos += n;
		}
	}
	assert_int_equal(pos, len);
}

static void test_find(void **state)
{
	static const char msg[] =
		"GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nx-a: 2\r\n\r\n";
	struct http1_request req;
	const struct http1_header *h;

	(void)state;
	assert_true(http1__parse_request(msg, strlen(msg), NULL, &req) > 0);
	h = http1__find(req.headers, req.num_headers, "X-a");
	assert_non_null(h);
	assert_memory_equal(h->value.p, "1", 1);
	assert_null(http1__find(req.headers, req.num_headers, "X-B"));
	assert_null(http1__find(req.headers, req.num_headers, "X-"));
}

/* --- chunked bodies ----------------------------------------------------------- */

struct chunk_case {
	const char *name;
	const char *in;
	size_t len; /* 0: strlen(in) */
	ssize_t want; /* bytes of body, or the error */
	bool done;
	uint64_t total; /* checked when done */
	uint64_t max_total;
};

static const struct chunk_case chunk_cases[] = {
	{ "one_chunk", "5\r\nhello\r\n0\r\n\r\n", .want = 15, .done = true,
	  .total = 5 },
	{ "stops_at_message_end", "5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\n",
	  .want = 15, .done = true, .total = 5 },
	{ "two_chunks_upper_hex", "A\r\n0123456789\r\n1\r\n!\r\n0\r\n\r\n",
	  .want = 26, .done = true, .total = 11 },
	{ "leading_zeros", "00000000000000000005\r\nhello\r\n000\r\n\r\n",
	  .want = 36, .done = true, .total = 5 },
	{ "extensions", "5;a=b;c\r\nhello\r\n0 ; last=\"x y\"\r\n\r\n",
	  .want = 34, .done = true, .total = 5 },
	{ "trailers", "1\r\nx\r\n0\r\nX-T: 1\r\nY:\r\n\r\n", .want = 23,
	  .done = true, .total = 1 },
	{ "incomplete_data", "5\r\nhel", .want = 6 },
	{ "incomplete_size_line", "5;ext", .want = 5 },
	{ "max_size_accepted", "10000000000\r\nab", .want = 15 },
	{ "max_size_leading_zeros", "0000010000000000\r\nab", .want = 20 },
	/* finding 11c: sizes up to 2^63 were accepted (9593e43) */
	{ "size_over_max_chunk", "10000000001\r\n", .want = -400 },
	{ "size_2_63_minus_1", "7fffffffffffffff\r\nab", .want = -400 },
	{ "size_over_max_chunk_with_limit", "10000000001\r\n", .want = -400,
	  .max_total = 1ULL << 50 },
	{ "max_total_reached", "5\r\nhello\r\n6\r\nworld!\r\n0\r\n\r\n",
	  .want = 26, .done = true, .total = 11, .max_total = 11 },
	{ "max_total_passed_413", "5\r\nhello\r\n6\r\nworld!\r\n0\r\n\r\n",
	  .want = -413, .max_total = 10 },
	{ "non_hex_size", "g\r\nx\r\n0\r\n\r\n", .want = -400 },
	{ "hex_prefix", "0x5\r\nhello\r\n0\r\n\r\n", .want = -400 },
	{ "negative_size", "-1\r\nx\r\n0\r\n\r\n", .want = -400 },
	{ "empty_size", "\r\nhello\r\n0\r\n\r\n", .want = -400 },
	{ "leading_space_size", " 5\r\nhello\r\n0\r\n\r\n", .want = -400 },
	{ "trailing_space_no_ext", "5 \r\nhello\r\n0\r\n\r\n", .want = -400 },
	{ "size_overflow_2_63", "8000000000000000\r\n", .want = -400 },
	{ "size_overflow_17_digits", "fffffffffffffffff\r\n", .want = -400 },
	{ "missing_crlf_after_data", "5\r\nhelloX\r\n0\r\n\r\n", .want = -400 },
	{ "bare_lf_after_data", "5\r\nhello\n0\r\n\r\n", .want = -400 },
	{ "bare_lf_after_size", "5\nhello\r\n0\r\n\r\n", .want = -400 },
	{ "bare_cr_in_extension", "5;a\rb\r\nhello\r\n0\r\n\r\n",
	  .want = -400 },
	{ "lf_in_extension", "5;a\nhello\r\n0\r\n\r\n", .want = -400 },
	{ "nul_in_extension", BIN("5;a\0\r\nhello\r\n0\r\n\r\n"),
	  .want = -400 },
	{ "bare_lf_final", "0\r\n\n", .want = -400 },
	{ "trailer_obs_fold", "0\r\nX: a\r\n b\r\n\r\n", .want = -400 },
	{ "trailer_without_colon", "0\r\nX\r\n\r\n", .want = -400 },
	{ "trailer_bare_lf", "0\r\nX: a\n\r\n", .want = -400 },
};

/* Scan buf in pieces ending at cuts[], as the event loop would. */
static ssize_t scan_pieces(const char *buf, size_t len, const size_t *cuts,
			   size_t ncuts, uint64_t max_total, bool *done,
			   uint64_t *total)
{
	struct http1_chunked c;
	size_t pos = 0, i;
	ssize_t n, sum = 0;

	http1_chunked__init(&c, max_total);
	*done = false;
	for (i = 0; i <= ncuts && !*done; i++) {
		size_t end = i < ncuts ? cuts[i] : len;

		n = http1_chunked__scan(&c, buf + pos, end - pos, done);
		if (n < 0)
			return n;
		assert_true((size_t)n <= end - pos);
		if (!*done)
			assert_int_equal(n, end - pos);
		sum += n;
		pos = end;
	}
	*total = c.total;
	return sum;
}

static void test_chunked_row(void **state)
{
	const struct chunk_case *c = *state;
	size_t len = case_len(c->in, c->len), k, *cuts;
	uint64_t total;
	ssize_t r;
	bool done;
	char *buf = malloc(len);

	assert_non_null(buf);
	memcpy(buf, c->in, len);
	r = scan_pieces(buf, len, NULL, 0, c->max_total, &done, &total);
	assert_int_equal(r, c->want);
	if (r >= 0) {
		assert_int_equal(done, c->done);
		if (done)
			assert_int_equal(total, c->total);
	}
	/* split in two at every byte */
	for (k = 0; k <= len; k++) {
		bool d;
		uint64_t t;

		assert_int_equal(
			scan_pieces(buf, len, &k, 1, c->max_total, &d, &t), r);
		if (r >= 0)
			assert_int_equal(d, done);
	}
	/* one byte at a time */
	cuts = malloc((len + 1) * sizeof(*cuts));
	assert_non_null(cuts);
	for (k = 0; k < len; k++)
		cuts[k] = k + 1;
	assert_int_equal(
		scan_pieces(buf, len, cuts, len, c->max_total, &done, &total),
		r);
	free(cuts);
	free(buf);
}

static void test_chunked_extension_bounded(void **state)
{
	char buf[5000];
	struct http1_chunked c;
	bool done;

	(void)state;
	memset(buf, 'e', sizeof(buf));
	memcpy(buf, "5;", 2);
	http1_chunked__init(&c, 0);
	assert_int_equal(http1_chunked__scan(&c, buf, sizeof(buf), &done),
			 -400);
	/* a long but bounded extension passes */
	memcpy(buf + 3000, "\r\nhello\r\n0\r\n\r\n", 14);
	http1_chunked__init(&c, 0);
	assert_int_equal(http1_chunked__scan(&c, buf, 3014, &done), 3014);
	assert_true(done);
}

static void test_chunked_trailer_bounded(void **state)
{
	static char buf[20000];
	struct http1_chunked c;
	char *p = buf;
	bool done;
	int i;

	(void)state;
	p += sprintf(p, "0\r\n");
	for (i = 0; i < 1000; i++)
		p += sprintf(p, "X-T%d: v\r\n", i);
	p += sprintf(p, "\r\n");
	http1_chunked__init(&c, 0);
	assert_int_equal(http1_chunked__scan(&c, buf, p - buf, &done), -400);
}

static void test_chunked_done_is_sticky(void **state)
{
	struct http1_chunked c;
	bool done;

	(void)state;
	http1_chunked__init(&c, 0);
	assert_int_equal(http1_chunked__scan(&c, "0\r\n\r\n", 5, &done), 5);
	assert_true(done);
	assert_int_equal(http1_chunked__scan(&c, "GET", 3, &done), 0);
	assert_true(done);
}

/* --- responses ----------------------------------------------------------------- */

struct res_case {
	const char *name;
	const char *in;
	const char *method; /* NULL: GET */
	int want; /* 0: valid head spanning the input */
	int status;
	enum http1_body body;
	uint64_t cl;
	bool ka;
};

static const struct res_case res_cases[] = {
	{ "res_length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
	  .status = 200, .body = HTTP1_BODY_LENGTH, .cl = 5, .ka = true },
	{ "res_length_zero", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
	  .status = 200, .ka = true },
	{ "res_chunked",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
	  .status = 200, .body = HTTP1_BODY_CHUNKED, .ka = true },
	{ "res_gzip_chunked",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
	  .status = 200, .body = HTTP1_BODY_CHUNKED, .ka = true },
	{ "res_te_not_chunked_until_close",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", .status = 200,
	  .body = HTTP1_BODY_UNTIL_CLOSE },
	{ "res_until_close", "HTTP/1.1 200 OK\r\n\r\n", .status = 200,
	  .body = HTTP1_BODY_UNTIL_CLOSE },
	{ "res_204_ignores_cl",
	  "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", .status = 204,
	  .ka = true },
	{ "res_304",
	  "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n",
	  .status = 304, .ka = true },
	{ "res_100", "HTTP/1.1 100 Continue\r\n\r\n", .status = 100,
	  .ka = true },
	{ "res_101_not_reusable",
	  "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
	  .status = 101 },
	{ "res_head", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "HEAD",
	  .status = 200, .ka = true },
	{ "res_1_0_keep_alive",
	  "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 1\r\n\r\n",
	  .status = 200, .body = HTTP1_BODY_LENGTH, .cl = 1, .ka = true },
	{ "res_1_0_default_close",
	  "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", .status = 200,
	  .body = HTTP1_BODY_LENGTH, .cl = 1 },
	{ "res_close",
	  "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n",
	  .status = 200, .body = HTTP1_BODY_LENGTH, .cl = 1 },
	{ "res_no_reason", "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n",
	  .status = 200, .ka = true },
	{ "res_empty_reason", "HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n",
	  .status = 404, .ka = true },
	{ "res_version_2", "HTTP/2 200 OK\r\n\r\n", .want = -502 },
	{ "res_version_1_2", "HTTP/1.2 200 OK\r\n\r\n", .want = -502 },
	{ "res_status_short", "HTTP/1.1 20 OK\r\n\r\n", .want = -502 },
	{ "res_status_600", "HTTP/1.1 600 X\r\n\r\n", .want = -502 },
	{ "res_status_099", "HTTP/1.1 099 X\r\n\r\n", .want = -502 },
	{ "res_status_no_space", "HTTP/1.1 2000\r\n\r\n", .want = -502 },
	{ "res_cl_and_te",
	  "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
	  .want = -502 },
	{ "res_cl_duplicate",
	  "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
	  .want = -502 },
	{ "res_cl_invalid", "HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\n",
	  .want = -502 },
	{ "res_te_in_1_0",
	  "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
	  .want = -502 },
	{ "res_obs_fold", "HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\n\r\n",
	  .want = -502 },
	{ "res_space_before_colon", "HTTP/1.1 200 OK\r\nX-A : a\r\n\r\n",
	  .want = -502 },
	{ "res_bare_lf", "HTTP/1.1 200 OK\nContent-Length: 0\n\n",
	  .want = -502 },
};

static void test_response_row(void **state)
{
	const struct res_case *c = *state;
	const char *m = c->method ? c->method : "GET";
	struct http1_span method = { m, strlen(m) };
	size_t len = strlen(c->in), k;
	struct http1_response res;
	int r, want = c->want ? c->want : (int)len;
	char *buf = malloc(len);

	assert_non_null(buf);
	memcpy(buf, c->in, len);
	r = http1__parse_response(buf, len, 1024, method, &res);
	assert_int_equal(r, want);
	if (r > 0) {
		assert_int_equal(res.status, c->status);
		assert_int_equal(res.body, c->body);
		assert_int_equal(res.content_length, c->cl);
		assert_int_equal(res.keep_alive, c->ka);
	}
	for (k = 0; k < len; k++) {
		r = http1__parse_response(buf, k, 1024, method, &res);
		if (r != 0 && r != c->want)
			fail_msg("prefix of %zu bytes: %d", k, r);
	}
	free(buf);
}

static void test_response_head_too_long(void **state)
{
	char buf[300];
	struct http1_span get = { "GET", 3 };
	struct http1_response res;

	(void)state;
	memset(buf, 'x', sizeof(buf));
	memcpy(buf, "HTTP/1.1 200 OK\r\nX-A: ", 22);
	assert_int_equal(
		http1__parse_response(buf, sizeof(buf), 100, get, &res), -502);
	assert_int_equal(http1__parse_response(buf, 99, 100, get, &res), 0);
}

/* --- the upstream head ------------------------------------------------------------ */

static const struct http1_forward fwd = {
	.client_addr = "198.18.1.10",
	.proto = "https",
	.host = "backend.example",
	.port = 443,
};

static void expect_upstream_fwd(const struct http1_forward *f, const char *in,
				const char *want)
{
	struct http1_request req, again;
	size_t n = strlen(want), cap;
	char *out;
	ssize_t w;

	assert_int_equal(http1__parse_request(in, strlen(in), NULL, &req),
			 strlen(in));
	out = malloc(n + 64);
	assert_non_null(out);
	w = http1__write_upstream_head(&req, f, out, n + 64);
	if (w != (ssize_t)n || memcmp(out, want, n))
		fail_msg("got %zd bytes:\n%.*s\nwant:\n%s", w,
			 (int)(w > 0 ? w : 0), out, want);
	/* what we send parses, as HTTP/1.1, with the same framing */
	assert_int_equal(http1__parse_request(out, n, NULL, &again), n);
	assert_int_equal(again.minor, 1);
	assert_int_equal(again.body, req.body);
	assert_int_equal(again.content_length, req.content_length);
	assert_true(again.keep_alive);
	free(out);
	/* every short buffer: -1, never a byte past cap (ASan) */
	for (cap = 0; cap < n; cap++) {
		out = malloc(cap ? cap : 1);
		assert_non_null(out);
		assert_int_equal(http1__write_upstream_head(&req, f, out, cap),
				 -1);
		free(out);
	}
}

static void expect_upstream(const char *in, const char *want)
{
	expect_upstream_fwd(&fwd, in, want);
}

static void test_upstream_head_rewrite(void **state)
{
	(void)state;
	expect_upstream("GET /path?q=1 HTTP/1.1\r\n"
			"Host: example.com\r\n"
			"User-Agent: t/1\r\n"
			"X-Forwarded-For: 203.0.113.7\r\n"
			"Connection: keep-alive, X-Custom\r\n"
			"X-Custom: secret\r\n"
			"Keep-Alive: timeout=5\r\n"
			"X-Real-IP: 6.6.6.6\r\n"
			"X-Forwarded-Proto: http\r\n"
			"Accept: */*\r\n"
			"\r\n",
			"GET /path?q=1 HTTP/1.1\r\n"
			"Host: example.com\r\n"
			"User-Agent: t/1\r\n"
			"Accept: */*\r\n"
			"X-Forwarded-For: 203.0.113.7, 198.18.1.10\r\n"
			"X-Forwarded-Proto: https\r\n"
			"X-Real-IP: 198.18.1.10\r\n"
			"X-Forwarded-Host: example.com\r\n"
			"X-Forwarded-Port: 443\r\n"
			"Connection: keep-alive\r\n"
			"\r\n");
}

static void test_upstream_head_1_0_without_host(void **state)
{
	(void)state;
	expect_upstream("GET / HTTP/1.0\r\nAccept: */*\r\n\r\n",
			"GET / HTTP/1.1\r\n"
			"Host: backend.example\r\n"
			"Accept: */*\r\n"
			"X-Forwarded-For: 198.18.1.10\r\n"
			"X-Forwarded-Proto: https\r\n"
			"X-Real-IP: 198.18.1.10\r\n"
			"X-Forwarded-Host: backend.example\r\n"
			"X-Forwarded-Port: 443\r\n"
			"Connection: keep-alive\r\n"
			"\r\n");
}

static void test_upstream_head_absolute_form(void **state)
{
	(void)state;
	expect_upstream(
		"GET http://h.example?x=1 HTTP/1.1\r\nHost: other\r\n\r\n",
		"GET /?x=1 HTTP/1.1\r\n"
		"Host: h.example\r\n"
		"X-Forwarded-For: 198.18.1.10\r\n"
		"X-Forwarded-Proto: https\r\n"
		"X-Real-IP: 198.18.1.10\r\n"
		"X-Forwarded-Host: h.example\r\n"
		"X-Forwarded-Port: 443\r\n"
		"Connection: keep-alive\r\n"
		"\r\n");
	expect_upstream("GET HTTPS://h.example:8443/a/b HTTP/1.0\r\n\r\n",
			"GET /a/b HTTP/1.1\r\n"
			"Host: h.example:8443\r\n"
			"X-Forwarded-For: 198.18.1.10\r\n"
			"X-Forwarded-Proto: https\r\n"
			"X-Real-IP: 198.18.1.10\r\n"
			"X-Forwarded-Host: h.example:8443\r\n"
			"X-Forwarded-Port: 443\r\n"
			"Connection: keep-alive\r\n"
			"\r\n");
}

static void test_upstream_head_hop_by_hop_and_framing(void **state)
{
	(void)state;
	/* Connection may not strip the framing; TE, Trailer, Upgrade,
	 * Proxy-Connection go; several X-Forwarded-For join in order. */
	expect_upstream(
		"POST /u HTTP/1.1\r\n"
		"Host: a\r\n"
		"Connection: Content-Length, Transfer-Encoding, Host, x-forwarded-for\r\n"
		"content-length: 007\r\n"
		"TE: trailers\r\n"
		"Trailer: X-T\r\n"
		"Upgrade: h2c\r\n"
		"Proxy-Connection: keep-alive\r\n"
		"X-Forwarded-For: 1.1.1.1\r\n"
		"\r\n",
		"POST /u HTTP/1.1\r\n"
		"Host: a\r\n"
		"content-length: 7\r\n"
		"X-Forwarded-For: 198.18.1.10\r\n"
		"X-Forwarded-Proto: https\r\n"
		"X-Real-IP: 198.18.1.10\r\n"
		"X-Forwarded-Host: a\r\n"
		"X-Forwarded-Port: 443\r\n"
		"Connection: keep-alive\r\n"
		"\r\n");
	expect_upstream(
		"POST /u HTTP/1.1\r\n"
		"Host: a\r\n"
		"Transfer-Encoding:  CHUNKED\r\n"
		"x-forwarded-for: 1.1.1.1\r\n"
		"X-Forwarded-For: \r\n"
		"X-Forwarded-For: 2.2.2.2, 3.3.3.3\r\n"
		"\r\n",
		"POST /u HTTP/1.1\r\n"
		"Host: a\r\n"
		"Transfer-Encoding: chunked\r\n"
		"X-Forwarded-For: 1.1.1.1, 2.2.2.2, 3.3.3.3, 198.18.1.10\r\n"
		"X-Forwarded-Proto: https\r\n"
		"X-Real-IP: 198.18.1.10\r\n"
		"X-Forwarded-Host: a\r\n"
		"X-Forwarded-Port: 443\r\n"
		"Connection: keep-alive\r\n"
		"\r\n");
}

static void test_upstream_head_upgrade_and_expect_stripped(void **state)
{
	(void)state;
	/* websocket without websocket support: a plain GET goes upstream */
	expect_upstream("GET /chat HTTP/1.1\r\n"
			"Host: a\r\n"
			"Connection: keep-alive, Upgrade\r\n"
			"Upgrade: websocket\r\n"
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
			"Sec-WebSocket-Version: 13\r\n"
			"\r\n",
			"GET /chat HTTP/1.1\r\n"
			"Host: a\r\n"
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
			"Sec-WebSocket-Version: 13\r\n"
			"X-Forwarded-For: 198.18.1.10\r\n"
			"X-Forwarded-Proto: https\r\n"
			"X-Real-IP: 198.18.1.10\r\n"
			"X-Forwarded-Host: a\r\n"
			"X-Forwarded-Port: 443\r\n"
			"Connection: keep-alive\r\n"
			"\r\n");
	/* h2c: neither Upgrade nor HTTP2-Settings (named by Connection) */
	expect_upstream("GET / HTTP/1.1\r\n"
			"Host: a\r\n"
			"Connection: Upgrade, HTTP2-Settings\r\n"
			"Upgrade: h2c\r\n"
			"HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n"
			"\r\n",
			"GET / HTTP/1.1\r\n"
			"Host: a\r\n"
			"X-Forwarded-For: 198.18.1.10\r\n"
			"X-Forwarded-Proto: https\r\n"
			"X-Real-IP: 198.18.1.10\r\n"
			"X-Forwarded-Host: a\r\n"
			"X-Forwarded-Port: 443\r\n"
			"Connection: keep-alive\r\n"
			"\r\n");
	/* Expect is answered by lbtls, never forwarded */
	expect_upstream("PUT /u HTTP/1.1\r\n"
			"Host: a\r\n"
			"expect: 100-continue\r\n"
			"Content-Length: 3\r\n"
			"\r\n",
			"PUT /u HTTP/1.1\r\n"
			"Host: a\r\n"
			"Content-Length: 3\r\n"
			"X-Forwarded-For: 198.18.1.10\r\n"
			"X-Forwarded-Proto: https\r\n"
			"X-Real-IP: 198.18.1.10\r\n"
			"X-Forwarded-Host: a\r\n"
			"X-Forwarded-Port: 443\r\n"
			"Connection: keep-alive\r\n"
			"\r\n");
}

static void test_upstream_head_1_0_keeps_host(void **state)
{
	(void)state;
	/* 1.1 upstream on a kept-alive connection, the client's Host kept,
	 * its keep-alive wish is between it and lbtls */
	expect_upstream("POST /f?x=1 HTTP/1.0\r\n"
			"Host: h.example:8443\r\n"
			"Connection: keep-alive\r\n"
			"Content-Length: 2\r\n"
			"\r\n",
			"POST /f?x=1 HTTP/1.1\r\n"
			"Host: h.example:8443\r\n"
			"Content-Length: 2\r\n"
			"X-Forwarded-For: 198.18.1.10\r\n"
			"X-Forwarded-Proto: https\r\n"
			"X-Real-IP: 198.18.1.10\r\n"
			"X-Forwarded-Host: h.example:8443\r\n"
			"X-Forwarded-Port: 443\r\n"
			"Connection: keep-alive\r\n"
			"\r\n");
}

/* Finding 11a: a '/' in the query is not the start of the path. */
static void test_upstream_head_absolute_query_slash(void **state)
{
	(void)state;
	expect_upstream("GET http://h.example?x=/y HTTP/1.1\r\nHost: h\r\n\r\n",
			"GET /?x=/y HTTP/1.1\r\n"
			"Host: h.example\r\n"
			"X-Forwarded-For: 198.18.1.10\r\n"
			"X-Forwarded-Proto: https\r\n"
			"X-Real-IP: 198.18.1.10\r\n"
			"X-Forwarded-Host: h.example\r\n"
			"X-Forwarded-Port: 443\r\n"
			"Connection: keep-alive\r\n"
			"\r\n");
	expect_upstream(
		"GET https://h.example:8443 HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET / HTTP/1.1\r\n"
		"Host: h.example:8443\r\n"
		"X-Forwarded-For: 198.18.1.10\r\n"
		"X-Forwarded-Proto: https\r\n"
		"X-Real-IP: 198.18.1.10\r\n"
		"X-Forwarded-Host: h.example:8443\r\n"
		"X-Forwarded-Port: 443\r\n"
		"Connection: keep-alive\r\n"
		"\r\n");
}

/* Finding 2: X_Real_IP went upstream (9593e43), and gunicorn read it as
 * X-Real-IP. Dropped unless the switch says otherwise. */
/* Werkzeug reads Content_Length as the request's length: a GET with it
 * hung the backend until read_timeout and marked it down. The framing
 * names never go, even with underscores allowed. */
static void test_upstream_head_underscore_framing(void **state)
{
	static const char in[] = "GET / HTTP/1.1\r\n"
				 "Host: a\r\n"
				 "Content_Length: 20\r\n"
				 "TRANSFER_ENCODING: chunked\r\n"
				 "host_: x\r\n"
				 "Connection_: x\r\n"
				 "\r\n";
	struct http1_forward allow = fwd;

	(void)state;
	allow.underscores = true;
	expect_upstream_fwd(&allow, in,
			    "GET / HTTP/1.1\r\n"
			    "Host: a\r\n"
			    "host_: x\r\n"
			    "Connection_: x\r\n"
			    "X-Forwarded-For: 198.18.1.10\r\n"
			    "X-Forwarded-Proto: https\r\n"
			    "X-Real-IP: 198.18.1.10\r\n"
			    "X-Forwarded-Host: a\r\n"
			    "X-Forwarded-Port: 443\r\n"
			    "Connection: keep-alive\r\n"
			    "\r\n");
}

static void test_upstream_head_underscores(void **state)
{
	static const char in[] = "GET / HTTP/1.1\r\n"
				 "Host: a\r\n"
				 "X_Real_IP: 6.6.6.6\r\n"
				 "X_Forwarded_For: 6.6.6.6\r\n"
				 "My_Header: 1\r\n"
				 "My-Header: 2\r\n"
				 "\r\n";
	struct http1_forward allow = fwd;

	(void)state;
	expect_upstream(in, "GET / HTTP/1.1\r\n"
			    "Host: a\r\n"
			    "My-Header: 2\r\n"
			    "X-Forwarded-For: 198.18.1.10\r\n"
			    "X-Forwarded-Proto: https\r\n"
			    "X-Real-IP: 198.18.1.10\r\n"
			    "X-Forwarded-Host: a\r\n"
			    "X-Forwarded-Port: 443\r\n"
			    "Connection: keep-alive\r\n"
			    "\r\n");
	allow.underscores = true;
	expect_upstream_fwd(&allow, in,
			    "GET / HTTP/1.1\r\n"
			    "Host: a\r\n"
			    "X_Real_IP: 6.6.6.6\r\n"
			    "X_Forwarded_For: 6.6.6.6\r\n"
			    "My_Header: 1\r\n"
			    "My-Header: 2\r\n"
			    "X-Forwarded-For: 198.18.1.10\r\n"
			    "X-Forwarded-Proto: https\r\n"
			    "X-Real-IP: 198.18.1.10\r\n"
			    "X-Forwarded-Host: a\r\n"
			    "X-Forwarded-Port: 443\r\n"
			    "Connection: keep-alive\r\n"
			    "\r\n");
}

/* X-Forwarded-Host and -Port are lbtls's (9593e43 passed the client's);
 * Forwarded is stripped; no port given: no X-Forwarded-Port. */
static void test_upstream_head_forwarded_set_or_stripped(void **state)
{
	static const char in[] = "GET / HTTP/1.1\r\n"
				 "Host: Shop.Example:8443\r\n"
				 "X-Forwarded-Host: evil.example\r\n"
				 "X-Forwarded-Port: 1\r\n"
				 "Forwarded: for=6.6.6.6;proto=https\r\n"
				 "forwarded: by=x\r\n"
				 "\r\n";
	struct http1_forward noport = fwd;

	(void)state;
	expect_upstream(in, "GET / HTTP/1.1\r\n"
			    "Host: Shop.Example:8443\r\n"
			    "X-Forwarded-For: 198.18.1.10\r\n"
			    "X-Forwarded-Proto: https\r\n"
			    "X-Real-IP: 198.18.1.10\r\n"
			    "X-Forwarded-Host: Shop.Example:8443\r\n"
			    "X-Forwarded-Port: 443\r\n"
			    "Connection: keep-alive\r\n"
			    "\r\n");
	noport.port = 0;
	noport.proto = "http";
	expect_upstream_fwd(&noport, "GET / HTTP/1.0\r\n\r\n",
			    "GET / HTTP/1.1\r\n"
			    "Host: backend.example\r\n"
			    "X-Forwarded-For: 198.18.1.10\r\n"
			    "X-Forwarded-Proto: http\r\n"
			    "X-Real-IP: 198.18.1.10\r\n"
			    "X-Forwarded-Host: backend.example\r\n"
			    "Connection: keep-alive\r\n"
			    "\r\n");
}

/* --- the client's copy of a response head ---------------------------------------- */

static void expect_client_head(const char *in, const char *method,
			       const struct http1_client_head *o,
			       const char *want)
{
	struct http1_span m = { method, strlen(method) };
	struct http1_response res, again;
	size_t size, n;
	char *out;

	assert_int_equal(http1__parse_response(in, strlen(in), 0, m, &res),
			 strlen(in));
	size = http1__client_head_size(&res, o);
	out = malloc(size);
	assert_non_null(out);
	n = http1__write_client_head(&res, o, out);
	assert_true(n <= size);
	if (n != strlen(want) || memcmp(out, want, n))
		fail_msg("got %zu bytes:\n%.*s\nwant:\n%s", n, (int)n, out,
			 want);
	/* what the client gets parses, as HTTP/1.1 */
	assert_int_equal(http1__parse_response(out, n, 0, m, &again), n);
	assert_int_equal(again.status, res.status);
	assert_int_equal(again.minor, 1);
	free(out);
}

static void test_client_head(void **state)
{
	struct http1_client_head ka = { .extra = "" };
	struct http1_client_head close_extra = {
		.close = true,
		.extra = "X-Served-By: h/worker-0\r\n",
	};
	struct http1_client_head dechunk = { .dechunk = true, .close = true };

	(void)state;
	/* hop-by-hop dropped, as the Connection header lists them; the
	 * framing stays even when listed */
	expect_client_head("HTTP/1.0 200 OK\r\n"
			   "Content-Length: 2\r\n"
			   "Connection: keep-alive, X-Hop,content-length\r\n"
			   "Keep-Alive: timeout=5\r\n"
			   "Proxy-Connection: close\r\n"
			   "x-hop: 1\r\n"
			   "X-Hop-Not: 2\r\n"
			   "connection: x-other\r\n"
			   "X-Other: 3\r\n"
			   "\r\n",
			   "GET", &ka,
			   "HTTP/1.1 200 OK\r\n"
			   "Content-Length: 2\r\n"
			   "X-Hop-Not: 2\r\n"
			   "Connection: keep-alive\r\n"
			   "\r\n");
	expect_client_head("HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n", "GET",
			   &close_extra,
			   "HTTP/1.1 404 \r\n"
			   "Content-Length: 0\r\n"
			   "X-Served-By: h/worker-0\r\n"
			   "Connection: close\r\n"
			   "\r\n");
	/* an HTTP/1.0 client: data alone, delimited by the close */
	expect_client_head("HTTP/1.1 200 OK\r\n"
			   "Transfer-Encoding: chunked\r\n"
			   "Connection: Transfer-Encoding\r\n"
			   "Content-Type: text/plain\r\n"
			   "\r\n",
			   "GET", &dechunk,
			   "HTTP/1.1 200 OK\r\n"
			   "Content-Type: text/plain\r\n"
			   "Connection: close\r\n"
			   "\r\n");
	expect_client_head("HTTP/1.1 200 OK\r\n"
			   "Transfer-Encoding: chunked\r\n"
			   "\r\n",
			   "GET", &ka,
			   "HTTP/1.1 200 OK\r\n"
			   "Transfer-Encoding: chunked\r\n"
			   "Connection: keep-alive\r\n"
			   "\r\n");
}

/* The size is a bound for every head: the most headers, the longest
 * reason, nothing dropped. */
static void test_client_head_size_bound(void **state)
{
	static char in[16384];
	struct http1_client_head o = { .extra = "X-Served-By: a\r\n" };
	struct http1_span get = { "GET", 3 };
	struct http1_response res;
	char *p = in, *out;
	size_t size, n;
	int i, r;

	(void)state;
	p += sprintf(p, "HTTP/1.1 599 %0200d\r\n", 7);
	for (i = 0; i < HTTP1_MAX_HEADERS; i++)
		p += sprintf(p, "X-%d:%s\r\n", i, i % 2 ? "" : "v");
	p += sprintf(p, "\r\n");
	r = http1__parse_response(in, p - in, 0, get, &res);
	assert_int_equal(r, p - in);
	size = http1__client_head_size(&res, &o);
	out = malloc(size);
	assert_non_null(out);
	n = http1__write_client_head(&res, &o, out);
	assert_true(n <= size);
	free(out);
}

/* --- the port-80 redirect --------------------------------------------------------- */

static void expect_redirect(const char *in, const char *fallback, uint16_t port,
			    const char *want_location)
{
	struct http1_request req;
	char out[16384], want[16384];
	ssize_t w, n;
	size_t cap;

	assert_int_equal(http1__parse_request(in, strlen(in), NULL, &req),
			 strlen(in));
	n = snprintf(want, sizeof(want),
		     "HTTP/1.1 301 Moved Permanently\r\n"
		     "Server: lbtls\r\n"
		     "Location: %s\r\n"
		     "Content-Type: text/html\r\n"
		     "Content-Length: 0\r\n"
		     "X-Served-By: h/worker-1\r\n"
		     "Connection: keep-alive\r\n"
		     "\r\n",
		     want_location);
	w = http1__write_redirect(&req, fallback, port,
				  "X-Served-By: h/worker-1\r\n", false, out,
				  sizeof(out));
	if (w != n || memcmp(out, want, n))
		fail_msg("got %zd bytes:\n%.*s\nwant:\n%s", w,
			 (int)(w > 0 ? w : 0), out, want);
	for (cap = 0; cap < (size_t)n; cap += 7)
		assert_int_equal(
			http1__write_redirect(&req, fallback, port,
					      "X-Served-By: h/worker-1\r\n",
					      false, out, cap),
			-1);
}

/* Finding 11a: at 9593e43 conn.c's origin_target() cut
 * "http://h.example?x=/y" at the first '/' and redirected to
 * https://h.example/y. */
static void test_redirect_absolute_form(void **state)
{
	(void)state;
	expect_redirect("GET http://h.example?x=/y HTTP/1.1\r\nHost: h\r\n\r\n",
			NULL, 443, "https://h.example/?x=/y");
	expect_redirect("GET http://h.example HTTP/1.1\r\nHost: h\r\n\r\n",
			NULL, 0, "https://h.example/");
	expect_redirect("GET HTTP://h.example:80/a/b?c=/d HTTP/1.1\r\n"
			"Host: h\r\n\r\n",
			NULL, 8443, "https://h.example:8443/a/b?c=/d");
}

static void test_redirect_origin_form(void **state)
{
	(void)state;
	expect_redirect("GET /p?q=1 HTTP/1.1\r\nHost: a.example:80\r\n\r\n",
			NULL, 443, "https://a.example/p?q=1");
	expect_redirect("GET / HTTP/1.1\r\nHost: [fd00::1]:80\r\n\r\n", NULL,
			8443, "https://[fd00::1]:8443/");
	/* HTTP/1.0 without Host: the address the client reached */
	expect_redirect("GET /x HTTP/1.0\r\n\r\n", "198.18.0.1", 443,
			"https://198.18.0.1/x");
	expect_redirect("GET /x HTTP/1.0\r\n\r\n", "[fd00::1]", 4443,
			"https://[fd00::1]:4443/x");
}

static void test_redirect_refused(void **state)
{
	static char in[9000];
	struct http1_request req;
	char out[512];
	int n;

	(void)state;
	/* a Host the parser accepts but a Location should not carry */
	n = sprintf(in, "GET / HTTP/1.1\r\nHost: a'b\r\n\r\n");
	assert_int_equal(http1__parse_request(in, n, NULL, &req), n);
	assert_int_equal(http1__write_redirect(&req, NULL, 443, "", true, out,
					       sizeof(out)),
			 -400);
	/* no Host, no fallback */
	n = sprintf(in, "GET / HTTP/1.0\r\n\r\n");
	assert_int_equal(http1__parse_request(in, n, NULL, &req), n);
	assert_int_equal(http1__write_redirect(&req, NULL, 443, "", true, out,
					       sizeof(out)),
			 -400);
	/* asterisk-form */
	n = sprintf(in, "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(http1__parse_request(in, n, NULL, &req), n);
	assert_int_equal(http1__write_redirect(&req, NULL, 443, "", true, out,
					       sizeof(out)),
			 -400);
	/* a target over 8192 bytes */
	n = sprintf(in, "GET /%08192d HTTP/1.1\r\nHost: a\r\n\r\n", 0);
	assert_int_equal(
		http1__parse_request(
			in, n, &(struct http1_limits){ 9000, 9100, 0 }, &req),
		n);
	assert_int_equal(http1__write_redirect(&req, NULL, 443, "", true, out,
					       sizeof(out)),
			 -400);
	/* close */
	n = sprintf(in, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(http1__parse_request(in, n, NULL, &req), n);
	n = http1__write_redirect(&req, NULL, 443, NULL, true, out,
				  sizeof(out));
	assert_true(n > 0);
	assert_non_null(memmem(out, n, "\r\nConnection: close\r\n\r\n", 23));
}

/* --- lbtls's own answers ----------------------------------------------------------- */

static void test_local_head(void **state)
{
	static const char want[] = "HTTP/1.1 404 Not Found\r\n"
				   "Server: lbtls\r\n"
				   "Retry-After: 1\r\n"
				   "Content-Type: text/html\r\n"
				   "Content-Length: 153\r\n"
				   "X-Served-By: h/worker-0\r\n"
				   "Connection: close\r\n"
				   "\r\n";
	struct http1_span get = { "GET", 3 };
	struct http1_response res;
	char out[256];
	ssize_t n;
	size_t cap;

	(void)state;
	n = http1__write_local_head(404, "Retry-After: 1\r\n", "text/html", 153,
				    "X-Served-By: h/worker-0\r\n", true, out,
				    sizeof(out));
	assert_int_equal(n, sizeof(want) - 1);
	assert_memory_equal(out, want, n);
	for (cap = 0; cap < (size_t)n; cap++)
		assert_int_equal(http1__write_local_head(
					 404, "Retry-After: 1\r\n", "text/html",
					 153, "X-Served-By: h/worker-0\r\n",
					 true, out, cap),
				 -1);
	n = http1__write_local_head(200, NULL, "text/plain", 0, "", false, out,
				    sizeof(out));
	assert_int_equal(http1__parse_response(out, n, 0, get, &res), n);
	assert_int_equal(res.status, 200);
	assert_true(res.keep_alive);
	assert_string_equal(http1__reason(413), "Content Too Large");
	assert_string_equal(http1__reason(299), "Error");
}

/* --- request targets ------------------------------------------------------------- */

static void expect_path(const char *target, const char *want)
{
	struct http1_span t = { target, strlen(target) };
	struct http1_span p = http1__target_path(t);

	if (p.len != strlen(want) || memcmp(p.p, want, p.len))
		fail_msg("'%s': got '%.*s', want '%s'", target, (int)p.len, p.p,
			 want);
}

static void test_target_path(void **state)
{
	(void)state;
	expect_path("/.well-known/acme-challenge/tok?x=1",
		    "/.well-known/acme-challenge/tok");
	expect_path("/", "/");
	expect_path("/a/b", "/a/b");
	expect_path("http://h.example/.well-known/acme-challenge/t",
		    "/.well-known/acme-challenge/t");
	expect_path("http://h.example?x=/y", "/");
	expect_path("HTTPS://h.example", "/");
	expect_path("http://h.example:80/p#f", "/p");
	expect_path("*", "*");
}

/* --- chunk sizes, both directions ------------------------------------------------- */

/* Finding 11c: requests (a body limit, or none) and responses (none),
 * scanned or de-chunked, refuse a size over HTTP1_MAX_CHUNK. */
static void test_chunk_size_bound_both_sides(void **state)
{
	static const uint64_t limits[] = { 0, 1ULL << 20, UINT64_MAX };
	static const char over[] = "10000000001\r\n";
	static const char at[] = "10000000000\r\n";
	struct http1_chunked c;
	size_t i, data;
	bool done;

	(void)state;
	for (i = 0; i < 3; i++) {
		http1_chunked__init(&c, limits[i]);
		assert_int_equal(http1_chunked__scan(&c, over, 13, &done),
				 -400);
		http1_chunked__init(&c, limits[i]);
		assert_int_equal(
			http1_chunked__decode(&c, over, 13, &data, &done),
			-400);
		/* at the bound: accepted, unless the body limit says 413 */
		http1_chunked__init(&c, limits[i]);
		assert_int_equal(http1_chunked__scan(&c, at, 13, &done),
				 limits[i] == 1ULL << 20 ? -413 : 13);
	}
	/* a response's body, parsed from its head on */
	{
		static const char res_in[] = "HTTP/1.1 200 OK\r\n"
					     "Transfer-Encoding: chunked\r\n"
					     "\r\n"
					     "ffffffffffffffff\r\n";
		struct http1_span get = { "GET", 3 };
		struct http1_response res;
		int head = http1__parse_response(res_in, sizeof(res_in) - 1, 0,
						 get, &res);

		assert_true(head > 0);
		assert_int_equal(res.body, HTTP1_BODY_CHUNKED);
		http1_chunked__init(&c, 0);
		assert_int_equal(http1_chunked__scan(&c, res_in + head,
						     sizeof(res_in) - 1 - head,
						     &done),
				 -400);
	}
}

/* --- de-chunking ------------------------------------------------------------------- */

static const char dechunk_in[] = "5\r\nhello\r\n"
				 "3;ext=\"a b\"\r\n wo\r\n"
				 "A\r\nrld, 10 by\r\n"
				 "0\r\nX-Trailer: t\r\n\r\n"
				 "NEXT";
static const char dechunk_want[] = "hello world, 10 by";

/* De-chunk in[0..len) fed in pieces ending at the cuts; returns the data. */
static size_t dechunk(const char *in, size_t len, const size_t *cuts,
		      size_t ncuts, char *out, size_t *consumed, bool *done)
{
	struct http1_chunked c;
	size_t pos = 0, have = 0, i, data, end;
	ssize_t n;

	http1_chunked__init(&c, 0);
	*done = false;
	for (i = 0; i <= ncuts && !*done; i++) {
		end = i < ncuts ? cuts[i] : len;
		/* the caller keeps what was not consumed and adds to it */
		while (pos < end && !*done) {
			n = http1_chunked__decode(&c, in + pos, end - pos,
						  &data, done);
			assert_true(n > 0);
			assert_true(data <= (size_t)n);
			memcpy(out + have, in + pos + n - data, data);
			have += data;
			pos += n;
		}
	}
	*consumed = pos;
	return have;
}

static void test_dechunk_every_split(void **state)
{
	size_t len = sizeof(dechunk_in) - 1, body = len - 4;
	size_t cut, consumed, got, cuts[64], i;
	char out[64];
	bool done;

	(void)state;
	for (cut = 0; cut <= len; cut++) {
		got = dechunk(dechunk_in, len, &cut, 1, out, &consumed, &done);
		assert_true(done);
		assert_int_equal(consumed, body); /* "NEXT" is not the body's */
		assert_int_equal(got, strlen(dechunk_want));
		assert_memory_equal(out, dechunk_want, got);
	}
	/* byte by byte */
	for (i = 0; i < body && i < 64; i++)
		cuts[i] = i + 1;
	got = dechunk(dechunk_in, len, cuts, body < 64 ? body : 64, out,
		      &consumed, &done);
	assert_true(done);
	assert_int_equal(consumed, body);
	assert_memory_equal(out, dechunk_want, got);
	assert_int_equal(got, strlen(dechunk_want));
}

static void test_dechunk_one_run_per_call(void **state)
{
	struct http1_chunked c;
	size_t data;
	bool done;
	ssize_t n;

	(void)state;
	http1_chunked__init(&c, 0);
	/* framing, then the first run only */
	n = http1_chunked__decode(&c, dechunk_in, sizeof(dechunk_in) - 1, &data,
				  &done);
	assert_int_equal(n, 8); /* "5\r\nhello" */
	assert_int_equal(data, 5);
	assert_false(done);
	/* bad framing is still an error, on the call that reaches it */
	http1_chunked__init(&c, 0);
	assert_int_equal(
		http1_chunked__decode(&c, "5\r\nhelloX", 9, &data, &done), 8);
	assert_int_equal(http1_chunked__decode(&c, "X", 1, &data, &done), -400);
	/* over the limit */
	http1_chunked__init(&c, 4);
	assert_int_equal(
		http1_chunked__decode(&c, "5\r\nhello\r\n", 10, &data, &done),
		-413);
}

/* --- runner ----------------------------------------------------------------------- */

#define N_ROWS(a) (sizeof(a) / sizeof((a)[0]))

static int run_rows(const char *group, CMUnitTestFunction fn, const void *rows,
		    size_t size, size_t n, const char *(*name)(const void *))
{
	struct CMUnitTest *t = calloc(n, sizeof(*t));
	size_t i;
	int r;

	assert_non_null(t);
	for (i = 0; i < n; i++) {
		const void *row = (const char *)rows + i * size;

		t[i].name = name(row);
		t[i].test_func = fn;
		t[i].initial_state = (void *)row;
	}
	r = _cmocka_run_group_tests(group, t, n, NULL, NULL);
	free(t);
	return r;
}

static const char *req_name(const void *r)
{
	return ((const struct req_case *)r)->name;
}

static const char *chunk_name(const void *r)
{
	return ((const struct chunk_case *)r)->name;
}

static const char *res_name(const void *r)
{
	return ((const struct res_case *)r)->name;
}

int main(void)
{
	const struct CMUnitTest misc[] = {
		cmocka_unit_test(test_request_line_too_long_414),
		cmocka_unit_test(test_header_line_too_long_431),
		cmocka_unit_test(test_head_too_long_431),
		cmocka_unit_test(test_too_many_headers_431),
		cmocka_unit_test(test_leading_empty_lines_bounded),
		cmocka_unit_test(test_limits_defaults),
		cmocka_unit_test(test_incremental_every_split),
		cmocka_unit_test(test_pipelined_requests),
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_chunked_extension_bounded),
		cmocka_unit_test(test_chunked_trailer_bounded),
		cmocka_unit_test(test_chunked_done_is_sticky),
		cmocka_unit_test(test_response_head_too_long),
		cmocka_unit_test(test_upstream_head_rewrite),
		cmocka_unit_test(test_upstream_head_1_0_without_host),
		cmocka_unit_test(test_upstream_head_absolute_form),
		cmocka_unit_test(test_upstream_head_hop_by_hop_and_framing),
		cmocka_unit_test(
			test_upstream_head_upgrade_and_expect_stripped),
		cmocka_unit_test(test_upstream_head_1_0_keeps_host),
		cmocka_unit_test(test_upstream_head_absolute_query_slash),
		cmocka_unit_test(test_upstream_head_underscores),
		cmocka_unit_test(test_upstream_head_underscore_framing),
		cmocka_unit_test(test_upstream_head_forwarded_set_or_stripped),
		cmocka_unit_test(test_client_head),
		cmocka_unit_test(test_client_head_size_bound),
		cmocka_unit_test(test_redirect_absolute_form),
		cmocka_unit_test(test_redirect_origin_form),
		cmocka_unit_test(test_redirect_refused),
		cmocka_unit_test(test_target_path),
		cmocka_unit_test(test_local_head),
		cmocka_unit_test(test_chunk_size_bound_both_sides),
		cmocka_unit_test(test_dechunk_every_split),
		cmocka_unit_test(test_dechunk_one_run_per_call),
	};
	int fails = 0;

	fails += run_rows("http1_request", test_request_row, req_cases,
			  sizeof(req_cases[0]), N_ROWS(req_cases), req_name);
	fails += run_rows("http1_chunked", test_chunked_row, chunk_cases,
			  sizeof(chunk_cases[0]), N_ROWS(chunk_cases),
			  chunk_name);
	fails += run_rows("http1_response", test_response_row, res_cases,
			  sizeof(res_cases[0]), N_ROWS(res_cases), res_name);
	fails += cmocka_run_group_tests_name("http1_misc", misc, NULL, NULL);
	return fails ? 1 : 0;
}
