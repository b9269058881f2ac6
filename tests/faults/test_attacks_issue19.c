// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Attacks on issue 19's request buffering, max_conns queue and client
 * limits: each test is one way in that was found to break, or that was
 * tried and held.
 */
#include "harness.h"

/* By target: /hold answers nothing until the client goes, /fail resets
 * after the head; anything else is 200 "ok" (body read by Content-Length). */
static void script_by_target(struct fb_conn *c)
{
	struct fb_req r;

	while (!fb_read_request(c, &r)) {
		if (!strcmp(r.target, "/hold")) {
			fb_stall(c);
			return;
		}
		if (!strcmp(r.target, "/fail")) {
			fb_reset(c);
			return;
		}
		if (fb_answer(c, "ok"))
			return;
	}
}

static void wait_count(struct fbackend *be, const char *target, int n)
{
	int i;

	for (i = 0; i < WAIT_MS / 10 && fbackend__count(be, target) < n; i++)
		fh_sleep_ms(10);
	expect_eq(fbackend__count(be, target), n, target);
}

/*
 * max_conns: 1 on two servers. X holds a request; Y fails a POST and is
 * down for fail_timeout (1 s); a GET then waits in the queue. Once Y is
 * back it has room, and the GET must go there, not wait for X's request
 * or for queue_timeout (20 s): nothing released a server, so nothing woke
 * the queue.
 */
static void queued_request_starts_when_a_server_comes_back(void **state)
{
	struct fx *f = *state;
	struct fclient *hold = &f->c[0], *fail = &f->c[1], *q = &f->c[2];
	int x, i, j;

	assert_int_equal(fbackend__start(&f->be[0], script_by_target, 0), 0);
	assert_int_equal(fbackend__start(&f->be[1], script_by_target, 0), 0);
	assert_int_equal(fproxy__start(&f->p,
				       "upstream:\n"
				       "  servers: [\"%s\", \"%s\"]\n"
				       "  max_conns: 1\n"
				       "  max_fails: 1\n"
				       "  fail_timeout: 1s\n"
				       "  queue_timeout: 20s\n"
				       "  read_timeout: 30s\n",
				       f->be[0].name, f->be[1].name),
			 0);
	assert_int_equal(fclient__connect(hold, f->p.https), 0);
	assert_int_equal(fclient__sendstr(hold, "GET /hold HTTP/1.1\r\n"
						"Host: t\r\n\r\n"),
			 0);
	for (x = -1, i = 0; x < 0 && i < WAIT_MS / 10; i++, fh_sleep_ms(10))
		for (j = 0; j < 2; j++)
			if (fbackend__count(&f->be[j], "/hold"))
				x = j;
	assert_true(x >= 0);
	/* the other server fails a POST (not resent): down for 1 s */
	assert_int_equal(fclient__connect(fail, f->p.https), 0);
	assert_int_equal(fclient__sendstr(fail, "POST /fail HTTP/1.1\r\n"
						"Host: t\r\n"
						"Content-Length: 1\r\n\r\nx"),
			 0);
	fclient__read_response(fail, &f->r, false);
	expect_status(&f->r, 502);
	wait_count(&f->be[!x], "/fail", 1);
	/* X full, Y down: the GET waits; Y comes back after 1 s */
	assert_int_equal(fclient__connect(q, f->p.https), 0);
	assert_int_equal(
		fclient__sendstr(q, "GET /queued HTTP/1.1\r\nHost: t\r\n\r\n"),
		0);
	fclient__read_response(q, &f->r, false);
	expect_status(&f->r, 200);
	expect_eq(fbackend__count(&f->be[!x], "/queued"), 1,
		  "/queued requests on the server that came back");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(queued_request_starts_when_a_server_comes_back),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
