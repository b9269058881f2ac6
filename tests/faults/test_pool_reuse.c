// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Finding 10 of issue 10: a pooled upstream connection is checked before
 * it is reused (h2o: recv with MSG_PEEK), and nothing is pooled with
 * unread bytes. Bytes an upstream sent after a complete response (here a
 * second response after a 204) must never reach the next client, and a
 * connection the server half-closed while idle is not used again.
 *
 * The "worker busy" tests stop the worker while the next client's request
 * and the backend's late bytes (or FIN) arrive, request first: both land
 * in one epoll batch in that order, which is the race a loaded worker
 * hits. Nothing but a check before reuse can catch it.
 */
#include "harness.h"

#define CONFIG                  \
	"upstream:\n"           \
	"  servers: [\"%s\"]\n" \
	"  keepalive: 8\n"      \
	"  max_fails: 1\n"      \
	"  fail_timeout: 30s\n" \
	"  read_timeout: 5s\n"

static void start(struct fx *f, fb_script script)
{
	assert_int_equal(fbackend__start(&f->be[0], script, 0), 0);
	assert_int_equal(fproxy__start(&f->p, CONFIG, f->be[0].name), 0);
}

/* B's request, sent while the worker is stopped; then LATE happens
 * (the backend's stage 2) and the worker goes on. */
static void request_while_busy(struct fx *f, struct fclient *b)
{
	assert_int_equal(fclient__connect(b, f->p.https), 0);
	assert_int_equal(fproc__stop(f->p.worker), 0);
	assert_int_equal(
		fclient__sendstr(b, "GET /b HTTP/1.1\r\nHost: test\r\n\r\n"),
		0);
	fh_sleep_ms(20); /* ordering only: B's request lands first */
	fbackend__go(&f->be[0]);
	assert_true(fbackend__wait_stage(&f->be[0], 2));
	fh_sleep_ms(50);
	assert_int_equal(fproc__cont(f->p.worker), 0);
	fclient__read_response(b, &f->r, false);
}

/* A 204 and a second response in the same write (fb_script_204_extra). */
static void bytes_after_204_never_reach_the_next_client(void **state)
{
	struct fx *f = *state;

	start(f, fb_script_204_extra);
	fh_get(f->p.https, "/a", &f->r);
	expect_status(&f->r, 204);
	fh_get(f->p.https, "/b", &f->r);
	expect_status(&f->r, 200);
	expect_body(&f->r, "ok");
	expect_eq(fbackend__count_on(&f->be[0], 0), 1,
		  "requests on the connection that sent the extra bytes");
}

/* First connection: 204, then (on go) a second response, late. */
static void script_204_then_late_bytes(struct fb_conn *c)
{
	if (c->idx == 0) {
		if (fb_read_request(c, NULL) ||
		    fb_sendstr(c, "HTTP/1.1 204 No Content\r\n\r\n"))
			return;
		fb_stage(c); /* 1 */
		fb_wait_go(c, 1);
		fb_sendstr(c, FB_EVIL);
		fb_stage(c); /* 2 */
	}
	fb_script_normal(c);
}

/* The extra bytes come after lbtls pooled the connection, together with
 * the next client's request. */
static void late_bytes_after_204_never_reach_the_next_client(void **state)
{
	struct fx *f = *state;

	start(f, script_204_then_late_bytes);
	fh_get(f->p.https, "/a", &f->r);
	expect_status(&f->r, 204);
	assert_true(fbackend__wait_stage(&f->be[0], 1));
	request_while_busy(f, &f->c[0]);
	expect_status(&f->r, 200);
	expect_body(&f->r, "ok");
	expect_eq(fbackend__count_on(&f->be[0], 0), 1,
		  "requests on the connection that sent the extra bytes");
}

/* First connection: answer, then (on go) FIN; a request that still
 * comes on it is recorded (on connection 0) and the connection closed. */
static void script_fin_when_idle(struct fb_conn *c)
{
	if (c->idx == 0) {
		if (fb_read_request(c, NULL) || fb_answer(c, "first"))
			return;
		fb_stage(c); /* 1 */
		fb_wait_go(c, 1);
		shutdown(c->fd, SHUT_WR);
		fb_stage(c); /* 2 */
		if (fb_read_head(c, NULL))
			fb_stage(c); /* 3: lbtls closed its end */
		return;
	}
	fb_script_normal(c);
}

/* FIN while idle, seen by lbtls before the next request comes. */
static void half_closed_idle_connection_is_not_reused(void **state)
{
	struct fx *f = *state;

	start(f, script_fin_when_idle);
	fh_get(f->p.https, "/a", &f->r);
	expect_status(&f->r, 200);
	assert_true(fbackend__wait_stage(&f->be[0], 1));
	fbackend__go(&f->be[0]);
	/* ordering only: lbtls closing its end is what 9593e43 does (an
	 * idle connection stays in epoll), a check before reuse need not */
	fbackend__wait_stage(&f->be[0], 3);
	fh_get(f->p.https, "/b", &f->r);
	expect_status(&f->r, 200);
	expect_body(&f->r, "ok");
	expect_eq(fbackend__count_on(&f->be[0], 0), 1,
		  "requests on the half-closed connection");
	expect_eq(fmetrics__failures(&f->p, &f->be[0]), 0,
		  "lbtls_upstream_failures_total of the backend");
}

/* FIN while idle, arriving together with the next request. */
static void half_closed_connection_is_not_reused_by_a_busy_worker(void **state)
{
	struct fx *f = *state;

	start(f, script_fin_when_idle);
	fh_get(f->p.https, "/a", &f->r);
	expect_status(&f->r, 200);
	assert_true(fbackend__wait_stage(&f->be[0], 1));
	request_while_busy(f, &f->c[0]);
	expect_eq(fbackend__count_on(&f->be[0], 0), 1,
		  "requests on the half-closed connection");
	expect_status(&f->r, 200);
	expect_body(&f->r, "ok");
	expect_eq(fmetrics__failures(&f->p, &f->be[0]), 0,
		  "lbtls_upstream_failures_total of the backend");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(bytes_after_204_never_reach_the_next_client),
		FX_TEST(late_bytes_after_204_never_reach_the_next_client),
		FX_TEST(half_closed_idle_connection_is_not_reused),
		FX_TEST(half_closed_connection_is_not_reused_by_a_busy_worker),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
