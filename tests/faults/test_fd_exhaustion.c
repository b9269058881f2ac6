// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Finding 6 of issue 10: running out of file descriptors is lbtls's own
 * problem, never a backend's. At start, lbtls raises RLIMIT_NOFILE to what
 * limits.max_connections needs (two fds per connection: client and
 * upstream) or refuses to start with a message naming both numbers. At run
 * time, a socket() failing with EMFILE is answered 5xx (503), counted in
 * lbtls_local_resource_errors_total and not in the backend's failures:
 * the backend stays up and the next request is served.
 */
#include "harness.h"

#define CONFIG                  \
	"upstream:\n"           \
	"  servers: [\"%s\"]\n" \
	"  keepalive: 0\n"      \
	"  max_fails: 1\n"      \
	"  fail_timeout: 30s\n" \
	"  read_timeout: 5s\n"  \
	"limits:\n"             \
	"  max_connections: %u\n"

/* RLIMIT_NOFILE 64:64 cannot hold 16384 connections: refuse to start. */
static void refuses_to_start_with_too_few_fds(void **state)
{
	struct fx *f = *state;
	int rc;

	assert_int_equal(fbackend__start(&f->be[0], fb_script_normal, 0), 0);
	f->p.set_nofile = true;
	f->p.nofile = (struct rlimit){ 64, 64 };
	rc = fproxy__start(&f->p, CONFIG, f->be[0].name, 16384);
	if (rc == 0)
		fail_msg("lbtls started with RLIMIT_NOFILE 64:64 and "
			 "max_connections 16384 (worker soft limit %lld)",
			 fproc__nofile_soft(f->p.worker));
	expect_eq(rc, 1, "fproxy__start (1 = lbtls exited)");
	assert_true(WIFEXITED(f->p.status));
	assert_int_not_equal(WEXITSTATUS(f->p.status), 0);
	if (!fproxy__log_has_number(&f->p, 16384) ||
	    !fproxy__log_has_number(&f->p, 64)) {
		fproxy__dump_log(&f->p);
		fail_msg("the message does not name 16384 and 64");
	}
}

/*
 * Soft 64, hard as this process's (a test cannot raise a hard limit
 * without CAP_SYS_RESOURCE), max_connections 4096 whose 8192 fds fit
 * below it: lbtls raises the soft limit itself and serves.
 */
static void raises_the_soft_limit_when_the_hard_one_allows(void **state)
{
	struct fx *f = *state;
	struct rlimit cur;
	long long soft;

	assert_int_equal(getrlimit(RLIMIT_NOFILE, &cur), 0);
	if (cur.rlim_max != RLIM_INFINITY && cur.rlim_max < 2 * 4096 + 1024)
		fail_msg("the test needs a hard RLIMIT_NOFILE of at least "
			 "9216, this process has %llu",
			 (unsigned long long)cur.rlim_max);
	assert_int_equal(fbackend__start(&f->be[0], fb_script_normal, 0), 0);
	f->p.set_nofile = true;
	f->p.nofile = (struct rlimit){ 64, cur.rlim_max };
	expect_eq(fproxy__start(&f->p, CONFIG, f->be[0].name, 4096), 0,
		  "fproxy__start (0 = ready)");
	soft = fproc__nofile_soft(f->p.worker);
	expect_ge(soft, 2 * 4096, "the worker's soft RLIMIT_NOFILE");
	fh_get(f->p.https, "/", &f->r);
	expect_status(&f->r, 200);
}

/*
 * The worker's soft limit is lowered (prlimit(2)) to its lowest free fd
 * once the client's connection is accepted, so the upstream socket()
 * fails with EMFILE; then it is restored.
 */
static void emfile_at_runtime_is_not_a_backend_failure(void **state)
{
	struct fx *f = *state;
	struct fclient *a = &f->c[0];
	struct rlimit old, low;
	int first, lowest;

	assert_int_equal(fbackend__start(&f->be[0], fb_script_normal, 0), 0);
	assert_int_equal(fproxy__start(&f->p, CONFIG, f->be[0].name, 1024), 0);
	fh_get(f->p.https, "/warm", &f->r); /* the worker is up and serving */
	expect_status(&f->r, 200);
	assert_int_equal(fclient__connect(a, f->p.https), 0);
	lowest = fproc__lowest_free_fd(f->p.worker);
	assert_true(lowest > 0);
	assert_int_equal(prlimit(f->p.worker, RLIMIT_NOFILE, NULL, &old), 0);
	low = (struct rlimit){ lowest, old.rlim_max };
	assert_int_equal(prlimit(f->p.worker, RLIMIT_NOFILE, &low, NULL), 0);
	assert_int_equal(
		fclient__sendstr(a,
				 "GET /during HTTP/1.1\r\nHost: test\r\n\r\n"),
		0);
	first = fclient__read_response(a, &f->r, false);
	assert_int_equal(prlimit(f->p.worker, RLIMIT_NOFILE, &old, NULL), 0);
	expect_5xx(&f->r);
	expect_eq(fbackend__count(&f->be[0], "/during"), 0,
		  "requests for /during the backend saw");
	/* the backend was not marked down: the next request is served */
	expect_eq(fmetrics__up(&f->p, &f->be[0]), 1,
		  "lbtls_upstream_up of the backend");
	fh_get(f->p.https, "/after", &f->r);
	expect_status(&f->r, 200);
	expect_eq(fmetrics__failures(&f->p, &f->be[0]), 0,
		  "lbtls_upstream_failures_total of the backend");
	expect_ge((long long)fmetrics__get(f->p.admin,
					   "lbtls_local_resource_errors_total"),
		  1, "lbtls_local_resource_errors_total (-1: no such series)");
	expect_eq(first, 503, "status of the request that hit EMFILE");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(refuses_to_start_with_too_few_fds),
		FX_TEST(raises_the_soft_limit_when_the_hard_one_allows),
		FX_TEST(emfile_at_runtime_is_not_a_backend_failure),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
