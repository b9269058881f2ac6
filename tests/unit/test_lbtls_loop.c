// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The worker event loop (tls-tier/core/loop.c): the timer heap fires in deadline
 * order through arbitrary arming, re-arming and deletion, and I/O readiness
 * reaches the right callback.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <cmocka.h>

#include "loop.h"

#define NTIMERS 500

static uint64_t fired_at[NTIMERS];
static int fired_order[NTIMERS], nfired;
static struct loop_timer timers[NTIMERS];

static void on_timer(struct loop_timer *t)
{
	int i = t - timers;

	fired_order[nfired++] = i;
	fired_at[i] = t->at;
}

static void test_timer_heap_order(void **state)
{
	struct loop l;
	uint64_t want[NTIMERS];
	int i, live = 0;

	(void)state;
	assert_int_equal(loop__init(&l), 0);
	srand(7);
	nfired = 0;
	for (i = 0; i < NTIMERS; i++) {
		loop__timer_init(&timers[i], on_timer);
		/* deadlines in the past relative to 'now' below, random order */
		loop__timer_set(&l, &timers[i], 1000 + rand() % 5000);
	}
	/* re-arm a third, delete a fifth */
	for (i = 0; i < NTIMERS; i += 3)
		loop__timer_set(&l, &timers[i], 1000 + rand() % 5000);
	for (i = 0; i < NTIMERS; i += 5)
		loop__timer_del(&l, &timers[i]);
	for (i = 0; i < NTIMERS; i++) {
		want[i] = timers[i].idx >= 0 ? timers[i].at : 0;
		live += timers[i].idx >= 0;
	}
	/* run_once reads CLOCK_MONOTONIC, past 6 s on any running system:
	 * everything above is due. */
	assert_int_equal(loop__run_once(&l, 0), 0);
	assert_int_equal(nfired, live);
	for (i = 1; i < nfired; i++)
		assert_true(fired_at[fired_order[i - 1]] <=
			    fired_at[fired_order[i]]);
	for (i = 0; i < NTIMERS; i++) {
		if (i % 5 == 0)
			assert_int_equal(fired_at[i], 0);
		else
			assert_int_equal(fired_at[i], want[i]);
		assert_int_equal(timers[i].idx, -1);
	}
	loop__fini(&l);
}

static int io_events;

static void on_io(struct loop_io *io, uint32_t events)
{
	char b[16];

	(void)io;
	if (events & EPOLLIN)
		io_events++;
	assert_true(read(io->fd, b, sizeof(b)) > 0);
}

static void test_io_dispatch(void **state)
{
	struct loop l;
	struct loop_io io;
	int p[2];

	(void)state;
	assert_int_equal(loop__init(&l), 0);
	assert_int_equal(pipe(p), 0);
	loop__io_init(&io, p[0], on_io);
	assert_int_equal(loop__io_set(&l, &io, EPOLLIN), 0);
	io_events = 0;
	assert_int_equal(loop__run_once(&l, 0), 0);
	assert_int_equal(io_events, 0); /* nothing written yet */
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(loop__run_once(&l, 1000), 0);
	assert_int_equal(io_events, 1);
	/* watching nothing: a write does not call back */
	assert_int_equal(loop__io_set(&l, &io, 0), 0);
	assert_int_equal(write(p[1], "y", 1), 1);
	assert_int_equal(loop__run_once(&l, 0), 0);
	assert_int_equal(io_events, 1);
	loop__io_close(&l, &io);
	assert_int_equal(io.fd, -1);
	close(p[1]);
	loop__fini(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timer_heap_order),
		cmocka_unit_test(test_io_dispatch),
	};

	return cmocka_run_group_tests_name("lbtls_loop", tests, NULL, NULL);
}
