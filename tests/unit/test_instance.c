// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * user/state/instance.c returns the errno of the call that failed, not one
 * that printing the message left behind: with stderr closed (a daemon's),
 * the old code printed, fprintf failed with EBADF, and -EBADF came back
 * instead of -ENOENT.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "instance.h"

/* fn(in) with fd 2 closed; its return value. */
static int with_stderr_closed(int (*fn)(struct instance *), struct instance *in)
{
	int saved = dup(2), rc;

	assert_true(saved >= 0);
	fflush(stderr);
	close(2);
	rc = fn(in);
	dup2(saved, 2);
	close(saved);
	return rc;
}

static void test_enter_missing_netns_says_enoent(void **state)
{
	struct instance in;
	char name[64];

	(void)state;
	memset(&in, 0, sizeof(in));
	in.lock_fd = in.agent_lock_fd = in.netns_fd = -1;
	in.name = "t0";
	snprintf(name, sizeof(name), "lbt-none-%d", (int)getpid());
	in.netns = name;
	assert_int_equal(with_stderr_closed(instance__enter_netns, &in),
			 -ENOENT);
	assert_int_equal(in.netns_fd, -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_enter_missing_netns_says_enoent),
	};

	return cmocka_run_group_tests_name("instance", tests, NULL, NULL);
}
