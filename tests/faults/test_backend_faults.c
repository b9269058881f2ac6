// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A backend that misbehaves costs the request it was serving, never more:
 * accept-and-stall is 504 after read_timeout and one failure; a response
 * cut in the middle of its Content-Length body closes the client
 * connection (the client is never left waiting for the missing bytes, nor
 * is the connection reused); a slow answer within read_timeout is a 200.
 */
#include "harness.h"

#define CONFIG                  \
	"upstream:\n"           \
	"  servers: [\"%s\"]\n" \
	"  max_fails: 1\n"      \
	"  fail_timeout: 30s\n" \
	"  read_timeout: %s\n"

static void start(struct fx *f, fb_script script, long arg,
		  const char *read_timeout)
{
	assert_int_equal(fbackend__start(&f->be[0], script, arg), 0);
	assert_int_equal(
		fproxy__start(&f->p, CONFIG, f->be[0].name, read_timeout), 0);
}

/* Accept and never answer: 504 after read_timeout, one failure. */
static void stalled_backend_is_504_and_one_failure(void **state)
{
	struct fx *f = *state;

	start(f, fb_script_stall, 0, "400ms");
	fh_get(f->p.https, "/stall", &f->r);
	expect_status(&f->r, 504);
	expect_eq(fmetrics__failures(&f->p, &f->be[0]), 1,
		  "lbtls_upstream_failures_total of the backend");
	/* max_fails: 1 */
	expect_eq(fmetrics__up(&f->p, &f->be[0]), 0,
		  "lbtls_upstream_up of the backend");
}

/* 10 of 100 body bytes, then close: the client's connection is closed. */
static void close_mid_body_closes_the_client(void **state)
{
	struct fx *f = *state;
	struct fclient *a = &f->c[0];

	start(f, fb_script_close_mid_body, 0, "5s");
	assert_int_equal(fclient__connect(a, f->p.https), 0);
	assert_int_equal(
		fclient__sendstr(a, "GET /cut HTTP/1.1\r\nHost: test\r\n\r\n"),
		0);
	fclient__read_response(a, &f->r, false);
	expect_status(&f->r, 200);
	assert_false(f->r.complete);
	expect_eq(f->r.body_len, 10, "body bytes received");
	/* closed, not left waiting for the other 90 bytes */
	expect_eq(f->r.end, FC_CLOSED, "end of the body (1 = closed)");
}

/* 10 of 100 body bytes, then nothing: closed after read_timeout. */
static void partial_answer_then_stall_closes_the_client(void **state)
{
	struct fx *f = *state;
	struct fclient *a = &f->c[0];

	start(f, fb_script_partial, 0, "400ms");
	assert_int_equal(fclient__connect(a, f->p.https), 0);
	assert_int_equal(
		fclient__sendstr(a, "GET /part HTTP/1.1\r\nHost: test\r\n\r\n"),
		0);
	fclient__read_response(a, &f->r, false);
	expect_status(&f->r, 200);
	assert_false(f->r.complete);
	expect_eq(f->r.end, FC_CLOSED, "end of the body (1 = closed)");
}

/* The head read, then close before any answer: 502, one failure. */
static void close_before_answer_is_502(void **state)
{
	struct fx *f = *state;

	start(f, fb_script_head_close, 0, "5s");
	fh_get(f->p.https, "/close", &f->r);
	expect_status(&f->r, 502);
	expect_eq(fbackend__count(&f->be[0], "/close"), 1,
		  "requests for /close the backend saw");
	expect_ge(fmetrics__failures(&f->p, &f->be[0]), 1,
		  "lbtls_upstream_failures_total of the backend");
}

/* Answering 300 ms late with a 3 s read_timeout is fine: 200. */
static void slow_answer_within_read_timeout_is_200(void **state)
{
	struct fx *f = *state;

	start(f, fb_script_normal, 300, "3s");
	fh_get(f->p.https, "/slow", &f->r);
	expect_status(&f->r, 200);
	expect_body(&f->r, "ok");
	expect_eq(fmetrics__failures(&f->p, &f->be[0]), 0,
		  "lbtls_upstream_failures_total of the backend");
	expect_eq(fmetrics__up(&f->p, &f->be[0]), 1,
		  "lbtls_upstream_up of the backend");
}

/* Read the head only, answer at once (an early 413, say), keep the
 * connection: the body never reaches it. */
static void script_early_answer(struct fb_conn *c)
{
	if (fb_read_head(c, NULL))
		return;
	fb_sendstr(c, "HTTP/1.1 413 Content Too Large\r\n"
		      "Content-Length: 4\r\n\r\nbig!");
	fb_stall(c);
}

/*
 * An answer before the request body is whole: the rest of the body will
 * not be read, so the answer says Connection: close and the connection
 * closes (9593e43 said keep-alive, then closed).
 */
static void early_answer_says_close(void **state)
{
	struct fx *f = *state;
	struct fclient *a = &f->c[0];

	start(f, script_early_answer, 0, "5s");
	assert_int_equal(fclient__connect(a, f->p.https), 0);
	assert_int_equal(fclient__sendstr(a, "POST /up HTTP/1.1\r\n"
					     "Host: test\r\n"
					     "Content-Length: 100000\r\n"
					     "\r\n0123456789"),
			 0);
	fclient__read_response(a, &f->r, false);
	expect_status(&f->r, 413);
	expect_body(&f->r, "big!");
	expect_conn_close(&f->r);
	expect_closed(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(stalled_backend_is_504_and_one_failure),
		FX_TEST(close_mid_body_closes_the_client),
		FX_TEST(partial_answer_then_stall_closes_the_client),
		FX_TEST(close_before_answer_is_502),
		FX_TEST(slow_answer_within_read_timeout_is_200),
		FX_TEST(early_answer_says_close),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
