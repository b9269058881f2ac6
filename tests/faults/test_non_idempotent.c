// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Finding 8 of issue 10: a non-idempotent request whose head may have
 * reached an upstream is never resent (RFC 9110 9.2.2; nginx's default),
 * even when it went out on a pooled keep-alive connection;
 * upstream.retry_non_idempotent allows it. An idempotent one is retried.
 * And on a pooled connection too, a read timeout or an invalid response
 * head is the server's failure (passive health).
 *
 * Backend 1 answers the first request of each connection with keep-alive
 * (lbtls pools the connection), then on that connection reads the next
 * head and closes, stalls, or answers garbage. Backend 2 answers normally.
 */
#include "harness.h"

enum { DIE_CLOSE, DIE_STALL, DIE_GARBAGE };

static void script_die_on_second(struct fb_conn *c)
{
	if (fb_read_request(c, NULL) || fb_answer(c, "first"))
		return;
	if (fb_read_head(c, NULL))
		return;
	switch (c->be->arg) {
	case DIE_CLOSE:
		fb_close(c);
		break;
	case DIE_STALL:
		fb_stall(c);
		break;
	case DIE_GARBAGE:
		fb_sendstr(c, "NOT HTTP AT ALL\r\n\r\n");
		fb_stall(c);
		break;
	}
}

#define CONFIG2                         \
	"upstream:\n"                   \
	"  servers: [\"%s\", \"%s\"]\n" \
	"  keepalive: 8\n"              \
	"  max_fails: 1\n"              \
	"  fail_timeout: 30s\n"         \
	"  read_timeout: 5s\n"          \
	"  retry_non_idempotent: %s\n"

static void start2(struct fx *f, const char *retry_non_idempotent)
{
	assert_int_equal(
		fbackend__start(&f->be[0], script_die_on_second, DIE_CLOSE), 0);
	assert_int_equal(fbackend__start(&f->be[1], fb_script_normal, 0), 0);
	assert_int_equal(fproxy__start(&f->p, CONFIG2, f->be[0].name,
				       f->be[1].name, retry_non_idempotent),
			 0);
}

/*
 * GETs until backend 1 answered one (its connection is pooled) and the
 * last went to backend 2: round robin sends the next request to backend
 * 1, on the pooled connection.
 */
static void warm_up(struct fx *f)
{
	int i;

	for (i = 0; i < 4; i++) {
		int n1 = fbackend__nreqs(&f->be[0]);

		fh_get(f->p.https, "/warm", &f->r);
		expect_status(&f->r, 200);
		if (fbackend__nreqs(&f->be[0]) == 1 &&
		    fbackend__nreqs(&f->be[0]) == n1)
			return;
	}
	fail_msg("round robin did not alternate between the two backends");
}

static void send_on_new_client(struct fx *f, const char *req)
{
	struct fclient *a = &f->c[0];

	assert_int_equal(fclient__connect(a, f->p.https), 0);
	assert_int_equal(fclient__sendstr(a, req), 0);
	fclient__read_response(a, &f->r, false);
}

/* POST without body, head reached backend 1 which died: 502, no resend. */
static void post_on_dead_pooled_connection_is_not_resent(void **state)
{
	struct fx *f = *state;

	start2(f, "false");
	warm_up(f);
	send_on_new_client(f, "POST /post HTTP/1.1\r\nHost: test\r\n"
			      "Content-Length: 0\r\n\r\n");
	expect_eq(fbackend__count(&f->be[0], "/post"), 1,
		  "POST /post heads backend 1 saw");
	expect_status(&f->r, 502);
	expect_eq(fbackend__count(&f->be[1], "/post"), 0,
		  "POST /post heads backend 2 saw");
}

/* The same with GET: retried, answered by backend 2. */
static void get_on_dead_pooled_connection_is_retried(void **state)
{
	struct fx *f = *state;

	start2(f, "false");
	warm_up(f);
	send_on_new_client(f, "GET /get HTTP/1.1\r\nHost: test\r\n\r\n");
	expect_eq(fbackend__count(&f->be[0], "/get"), 1,
		  "GET /get heads backend 1 saw");
	expect_status(&f->r, 200);
	expect_eq(fbackend__count(&f->be[1], "/get"), 1,
		  "GET /get heads backend 2 saw");
}

/* upstream.retry_non_idempotent: true lets the POST be resent. */
static void post_is_resent_with_retry_non_idempotent(void **state)
{
	struct fx *f = *state;

	start2(f, "true");
	warm_up(f);
	send_on_new_client(f, "POST /post HTTP/1.1\r\nHost: test\r\n"
			      "Content-Length: 0\r\n\r\n");
	expect_eq(fbackend__count(&f->be[0], "/post"), 1,
		  "POST /post heads backend 1 saw");
	expect_status(&f->r, 200);
	expect_eq(fbackend__count(&f->be[1], "/post"), 1,
		  "POST /post heads backend 2 saw");
}

#define CONFIG1                 \
	"upstream:\n"           \
	"  servers: [\"%s\"]\n" \
	"  keepalive: 8\n"      \
	"  max_fails: 1\n"      \
	"  fail_timeout: 30s\n" \
	"  read_timeout: 400ms\n"

/* One backend; the second request goes on the pooled connection. */
static void second_on_pooled(struct fx *f, long how)
{
	assert_int_equal(fbackend__start(&f->be[0], script_die_on_second, how),
			 0);
	assert_int_equal(fproxy__start(&f->p, CONFIG1, f->be[0].name), 0);
	fh_get(f->p.https, "/first", &f->r);
	expect_status(&f->r, 200);
	fh_get(f->p.https, "/second", &f->r);
	/* it did go out on the pooled connection */
	expect_eq(fbackend__count(&f->be[0], "/second"), 1,
		  "requests for /second the backend saw");
	expect_eq(f->be[0].nconns, 1, "connections the backend accepted");
}

/* No answer on a reused connection: 504, and it counts as a failure. */
static void read_timeout_on_pooled_connection_is_a_failure(void **state)
{
	struct fx *f = *state;

	second_on_pooled(f, DIE_STALL);
	expect_status(&f->r, 504);
	expect_eq(fmetrics__failures(&f->p, &f->be[0]), 1,
		  "lbtls_upstream_failures_total of the backend");
}

/* Garbage instead of a response head on a reused connection: the same. */
static void invalid_head_on_pooled_connection_is_a_failure(void **state)
{
	struct fx *f = *state;

	second_on_pooled(f, DIE_GARBAGE);
	expect_status(&f->r, 502);
	expect_eq(fmetrics__failures(&f->p, &f->be[0]), 1,
		  "lbtls_upstream_failures_total of the backend");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(post_on_dead_pooled_connection_is_not_resent),
		FX_TEST(get_on_dead_pooled_connection_is_retried),
		FX_TEST(post_is_resent_with_retry_non_idempotent),
		FX_TEST(read_timeout_on_pooled_connection_is_a_failure),
		FX_TEST(invalid_head_on_pooled_connection_is_a_failure),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
