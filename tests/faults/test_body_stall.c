// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Finding 1 of issue 10: a stalled request body must cost the client, not
 * the backend. A client that stops sending its body gets 408 from
 * limits.client_body_timeout and its connection closed; the backend is not
 * blamed (no failure counted, the next client is served). The upstream read
 * deadline runs only once the whole request has been sent, so a body that
 * comes slowly but steadily is not cut by upstream.read_timeout.
 */
#include "harness.h"

/* POST with 3 of 1000 body bytes, then nothing: 408, closed, no failure. */
static void stalled_body_gets_408_and_spares_the_backend(void **state)
{
	struct fx *f = *state;
	struct fclient *a = &f->c[0];

	assert_int_equal(fbackend__start(&f->be[0], fb_script_normal, 0), 0);
	assert_int_equal(fproxy__start(&f->p,
				       "upstream:\n"
				       "  servers: [\"%s\"]\n"
				       "  max_fails: 1\n"
				       "  fail_timeout: 30s\n"
				       "  read_timeout: 400ms\n"
				       "limits:\n"
				       "  client_body_timeout: 300ms\n",
				       f->be[0].name),
			 0);
	assert_int_equal(fclient__connect(a, f->p.https), 0);
	assert_int_equal(fclient__sendstr(a, "POST /x HTTP/1.1\r\n"
					     "Host: test\r\n"
					     "Content-Length: 1000\r\n\r\n"
					     "abc"),
			 0);
	/* client A stalls: it only reads from now on */
	fclient__read_response(a, &f->r, false);
	expect_status(&f->r, 408);
	expect_closed(a);
	expect_ge((long long)fmetrics__get(
			  f->p.admin, "lbtls_requests_total{code=\"408\"}"),
		  1, "lbtls_requests_total{code=\"408\"}");
	expect_eq(fmetrics__failures(&f->p, &f->be[0]), 0,
		  "lbtls_upstream_failures_total of the backend");
	expect_eq(fmetrics__up(&f->p, &f->be[0]), 1,
		  "lbtls_upstream_up of the backend");
	/* client B, right after, from the same single backend */
	fh_get(f->p.https, "/b", &f->r);
	expect_status(&f->r, 200);
	expect_eq(fbackend__count(&f->be[0], "/b"), 1,
		  "requests for /b the backend saw");
	expect_eq(fmetrics__failures(&f->p, &f->be[0]), 0,
		  "lbtls_upstream_failures_total of the backend");
}

/*
 * 24 body bytes, 2 every 100 ms: about 1.2 s in all, three times
 * read_timeout, each gap far below client_body_timeout. The backend
 * answers once it has the whole body: 200.
 */
static void slow_steady_body_is_not_cut_by_read_timeout(void **state)
{
	struct fx *f = *state;
	struct fclient *a = &f->c[0];
	int i;

	assert_int_equal(fbackend__start(&f->be[0], fb_script_normal, 0), 0);
	assert_int_equal(fproxy__start(&f->p,
				       "upstream:\n"
				       "  servers: [\"%s\"]\n"
				       "  max_fails: 1\n"
				       "  fail_timeout: 30s\n"
				       "  read_timeout: 400ms\n"
				       "limits:\n"
				       "  client_body_timeout: 3s\n",
				       f->be[0].name),
			 0);
	assert_int_equal(fclient__connect(a, f->p.https), 0);
	assert_int_equal(fclient__sendstr(a, "POST /slow HTTP/1.1\r\n"
					     "Host: test\r\n"
					     "Content-Length: 24\r\n\r\n"),
			 0);
	/* stop early when lbtls answered already (and say what it was) */
	for (i = 0; i < 12 && !fclient__readable(a); i++) {
		fh_sleep_ms(100);
		if (fclient__sendstr(a, "xy"))
			break;
	}
	fclient__read_response(a, &f->r, false);
	expect_status(&f->r, 200);
	expect_body(&f->r, "ok");
	expect_eq(fmetrics__failures(&f->p, &f->be[0]), 0,
		  "lbtls_upstream_failures_total of the backend");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(stalled_body_gets_408_and_spares_the_backend),
		FX_TEST(slow_steady_body_is_not_cut_by_read_timeout),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
