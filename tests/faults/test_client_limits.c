// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Findings 2 and 3 of issue 19: the limits an operator expects. A client
 * that reads nothing but sends a byte now and then is closed at
 * limits.send_timeout (client reads no longer reset it); one address gets
 * at most limits.per_client_connections connections while another is
 * served; a server gets at most upstream.max_conns requests at once, the
 * rest wait in a bounded queue and are served, or get 503 when the queue
 * is full or upstream.queue_timeout passes.
 */
#include "harness.h"

#define NCONC 5

/* 200 with an 8 MiB body. */
static void script_big(struct fb_conn *c)
{
	static char chunk[65536];
	int i;

	memset(chunk, 'b', sizeof(chunk));
	if (fb_read_head(c, NULL) ||
	    fb_sendstr(c, "HTTP/1.1 200 OK\r\nContent-Length: 8388608\r\n\r\n"))
		return;
	for (i = 0; i < 128; i++)
		if (fb_send(c, chunk, sizeof(chunk)))
			return;
	fb_stall(c);
}

/*
 * The client asks for 8 MiB, reads none of it, and sends a byte every
 * 300 ms: closed at send_timeout all the same, logged as send_timeout.
 */
static void send_timeout_closes_a_client_that_only_sends(void **state)
{
	struct fx *f = *state;
	struct fclient *a = &f->c[0];
	int small = 4096, i;

	f->p.access_log = true;
	assert_int_equal(fbackend__start(&f->be[0], script_big, 0), 0);
	assert_int_equal(fproxy__start(&f->p,
				       "upstream:\n"
				       "  servers: [\"%s\"]\n"
				       "limits:\n"
				       "  send_timeout: 1s\n",
				       f->be[0].name),
			 0);
	assert_int_equal(fclient__connect(a, f->p.https), 0);
	setsockopt(a->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	assert_int_equal(fclient__sendstr(a, "GET /big HTTP/1.1\r\n"
					     "Host: test\r\n\r\n"),
			 0);
	/* Bytes for at most 10 s, as long as the connection is open; a
	 * working send_timeout ends it after about 1 s. */
	for (i = 0; i < 33; i++) {
		if (fmetrics__get(f->p.admin, "lbtls_connections_active") == 0)
			break;
		fh_sleep_ms(300);
		if (fclient__send(a, "x", 1))
			break;
	}
	if (i == 33)
		expect_eq(
			(long long)fmetrics__get(f->p.admin,
						 "lbtls_connections_active"),
			0,
			"lbtls_connections_active after 10 s of a byte every 300 ms");
	expect_active(&f->p, 0);
	if (!fproxy__log_has(&f->p, "limits.send_timeout"))
		fail_msg("no send_timeout line in lbtls's log");
	fh_sleep_ms(100);
	{
		FILE *al = fopen(f->p.access, "re");
		char line[2048];
		bool found = false;

		assert_non_null(al);
		while (fgets(line, sizeof(line), al))
			found |= strstr(line, "\"GET /big HTTP/1.1\" 200 ") &&
				 strstr(line, " send_timeout\n");
		fclose(al);
		if (!found)
			fail_msg(
				"no access-log line for /big ending in send_timeout");
	}
}

/* per_client_connections: 10: the 11th from one address is refused, a
 * connection from another address is served, and a closed one frees its
 * place. */
static void eleventh_connection_from_one_address_is_refused(void **state)
{
	struct fx *f = *state;
	struct fclient *cs = calloc(11, sizeof(*cs));
	struct fclient *b = &f->c[0];
	int i, ok = 0;

	assert_non_null(cs);
	assert_int_equal(fbackend__start(&f->be[0], fb_script_normal, 0), 0);
	assert_int_equal(fproxy__start(&f->p,
				       "upstream:\n"
				       "  servers: [\"%s\"]\n"
				       "limits:\n"
				       "  per_client_connections: 10\n",
				       f->be[0].name),
			 0);
	for (i = 0; i < 10; i++)
		ok += !fclient__connect_from(&cs[i], f->p.https, "127.0.0.1");
	expect_eq(ok, 10, "connections from 127.0.0.1 (10 allowed)");
	expect_eq(fclient__connect_from(&cs[10], f->p.https, "127.0.0.1"), -1,
		  "the 11th handshake from 127.0.0.1 (-1: refused)");
	expect_eq(
		(long long)fmetrics__get(
			f->p.admin,
			"lbtls_connections_refused_total{limit=\"per_client_connections\"}"),
		1, "lbtls_connections_refused_total");
	if (!fproxy__log_has(
		    &f->p,
		    "limits.per_client_connections (10) reached for 127.0.0.1"))
		fail_msg("no log line naming the limit and the address");
	/* another address */
	assert_int_equal(fclient__connect_from(b, f->p.https, "127.0.0.2"), 0);
	assert_int_equal(fclient__sendstr(b, "GET /other HTTP/1.1\r\n"
					     "Host: test\r\n\r\n"),
			 0);
	fclient__read_response(b, &f->r, false);
	expect_status(&f->r, 200);
	/* the ten still work, and a closed one frees a place */
	assert_int_equal(fclient__sendstr(&cs[0], "GET /first HTTP/1.1\r\n"
						  "Host: test\r\n\r\n"),
			 0);
	fclient__read_response(&cs[0], &f->r, false);
	expect_status(&f->r, 200);
	fclient__close(&cs[1]);
	expect_active(&f->p, 10);
	expect_eq(fclient__connect_from(&cs[10], f->p.https, "127.0.0.1"), 0,
		  "a new connection once one of the ten closed");
	for (i = 0; i < 11; i++)
		fclient__close(&cs[i]);
	free(cs);
}

static int inflight, max_inflight;

/* Answer after 300 ms, counting the requests in flight at once. */
static void script_slow_counted(struct fb_conn *c)
{
	int now;

	while (!fb_read_head(c, NULL)) {
		now = __atomic_add_fetch(&inflight, 1, __ATOMIC_SEQ_CST);
		pthread_mutex_lock(&c->be->mu);
		if (now > max_inflight)
			max_inflight = now;
		pthread_mutex_unlock(&c->be->mu);
		fh_sleep_ms(c->be->arg);
		__atomic_sub_fetch(&inflight, 1, __ATOMIC_SEQ_CST);
		if (fb_answer(c, "ok"))
			return;
	}
}

/* NCONC requests at once, each on its own connection; their statuses. */
static void concurrent_gets(struct fx *f, int *status)
{
	struct fclient *cs = calloc(NCONC, sizeof(*cs));
	struct fresp *r = calloc(1, sizeof(*r));
	char req[64];
	int i;

	assert_non_null(cs);
	assert_non_null(r);
	for (i = 0; i < NCONC; i++) {
		assert_int_equal(fclient__connect(&cs[i], f->p.https), 0);
		snprintf(req, sizeof(req),
			 "GET /c%d HTTP/1.1\r\nHost: test\r\n\r\n", i);
		assert_int_equal(fclient__sendstr(&cs[i], req), 0);
	}
	for (i = 0; i < NCONC; i++) {
		fclient__read_response(&cs[i], r, false);
		status[i] = r->status;
		fclient__close(&cs[i]);
	}
	free(r);
	free(cs);
}

/* max_conns: 2, five at once: never more than two at the server, all five
 * served. */
static void max_conns_two_serves_five_two_at_a_time(void **state)
{
	struct fx *f = *state;
	int status[NCONC], i;

	inflight = max_inflight = 0;
	assert_int_equal(fbackend__start(&f->be[0], script_slow_counted, 300),
			 0);
	assert_int_equal(fproxy__start(&f->p,
				       "upstream:\n"
				       "  servers: [\"%s\"]\n"
				       "  max_conns: 2\n",
				       f->be[0].name),
			 0);
	concurrent_gets(f, status);
	for (i = 0; i < NCONC; i++)
		expect_eq(status[i], 200, "status of a concurrent request");
	expect_eq(max_inflight, 2, "requests in flight at the server at once");
	expect_eq(fbackend__nconns(&f->be[0]), 2,
		  "upstream connections opened (kept alive, reused)");
}

static int count(const int *status, int want)
{
	int i, n = 0;

	for (i = 0; i < NCONC; i++)
		n += status[i] == want;
	return n;
}

/* max_conns: 1, queue: 1: one in flight, one waits and is served, the
 * other three get 503 at once. */
static void full_queue_is_503(void **state)
{
	struct fx *f = *state;
	int status[NCONC];

	inflight = max_inflight = 0;
	assert_int_equal(fbackend__start(&f->be[0], script_slow_counted, 1000),
			 0);
	assert_int_equal(fproxy__start(&f->p,
				       "upstream:\n"
				       "  servers: [\"%s\"]\n"
				       "  max_conns: 1\n"
				       "  queue: 1\n",
				       f->be[0].name),
			 0);
	concurrent_gets(f, status);
	expect_eq(count(status, 200), 2, "requests served");
	expect_eq(count(status, 503), 3, "requests answered 503");
	expect_eq(max_inflight, 1, "requests in flight at the server at once");
	expect_eq((long long)fmetrics__get(
			  f->p.admin,
			  "lbtls_queue_rejected_total{cause=\"queue_full\"}"),
		  3, "lbtls_queue_rejected_total{cause=\"queue_full\"}");
	expect_eq(fmetrics__failures(&f->p, &f->be[0]), 0,
		  "lbtls_upstream_failures_total of the backend");
}

/* max_conns: 1, queue_timeout: 300ms, the server takes 1.5 s: the first
 * is served, the others wait 300 ms and get 503. */
static void queue_timeout_is_503(void **state)
{
	struct fx *f = *state;
	int status[NCONC];

	inflight = max_inflight = 0;
	assert_int_equal(fbackend__start(&f->be[0], script_slow_counted, 1500),
			 0);
	assert_int_equal(fproxy__start(&f->p,
				       "upstream:\n"
				       "  servers: [\"%s\"]\n"
				       "  max_conns: 1\n"
				       "  queue_timeout: 300ms\n",
				       f->be[0].name),
			 0);
	concurrent_gets(f, status);
	expect_eq(count(status, 200), 1, "requests served");
	expect_eq(count(status, 503), NCONC - 1, "requests answered 503");
	expect_eq(
		(long long)fmetrics__get(
			f->p.admin,
			"lbtls_queue_rejected_total{cause=\"queue_timeout\"}"),
		NCONC - 1,
		"lbtls_queue_rejected_total{cause=\"queue_timeout\"}");
	expect_eq(fmetrics__up(&f->p, &f->be[0]), 1,
		  "lbtls_upstream_up of the backend");
}

/* One keep-alive GET of 'path' on c, sent whole. */
static void send_get(struct fclient *c, const char *path)
{
	char req[128];

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: test\r\n\r\n",
		 path);
	assert_int_equal(fclient__sendstr(c, req), 0);
}

/* Until n requests wait for a server (bounded: 1 s), then that they do. */
static void wait_queued(struct fx *f, int n, const char *what)
{
	int i;

	for (i = 0;
	     i < 100 && fmetrics__get(f->p.admin, "lbtls_queued_requests") < n;
	     i++)
		fh_sleep_ms(10);
	expect_eq((long long)fmetrics__get(f->p.admin, "lbtls_queued_requests"),
		  n, what);
}

/*
 * The room comes in the same loop turn as the waiter's queue_timeout
 * passes: the worker is stopped while the first answer arrives and the
 * second request's queue_timeout runs out, then continued. It got the
 * room before its deadline ran: it is served (or answered 503), never
 * closed without an answer (it was: closed as 'timeout', 499 logged).
 */
static void woken_as_its_queue_timeout_passes(void **state)
{
	struct fx *f = *state;
	struct fclient *a = &f->c[0], *b = &f->c[1];
	struct fresp *r = &f->r;

	inflight = max_inflight = 0;
	assert_int_equal(fbackend__start(&f->be[0], script_slow_counted, 200),
			 0);
	assert_int_equal(fproxy__start(&f->p,
				       "upstream:\n"
				       "  servers: [\"%s\"]\n"
				       "  max_conns: 1\n"
				       "  queue_timeout: 500ms\n",
				       f->be[0].name),
			 0);
	assert_int_equal(fclient__connect(a, f->p.https), 0);
	assert_int_equal(fclient__connect(b, f->p.https), 0);
	send_get(a, "/a");
	assert_true(fbackend__wait_reqs(&f->be[0], 1));
	send_get(b, "/b");
	wait_queued(f, 1, "lbtls_queued_requests once /b was sent");
	assert_int_equal(fproc__stop(f->p.worker), 0);
	fh_sleep_ms(900); /* /a answered at 200 ms, /b's 500 ms run out */
	assert_int_equal(fproc__cont(f->p.worker), 0);
	fclient__read_response(a, r, false);
	expect_status(r, 200);
	fclient__read_response(b, r, false);
	if (r->status != 200 && r->status != 503)
		fail_msg(
			"/b: %s (want 200 or 503, not a close without an answer)",
			fresp__summary(r));
}

/*
 * Waiters that leave give their place: max_conns 1, queue 2. /a is in
 * flight, /b and /c wait. /b's client resets while the worker is stopped
 * and /a's answer arrives, so on one loop turn the room may go to /b,
 * whose client is gone: it must pass on to /c. Then a new /d finds the
 * queue empty (not 503 queue_full) and is served too.
 */
static void a_waiter_that_leaves_passes_the_room_on(void **state)
{
	struct fx *f = *state;
	struct fclient *a = &f->c[0], *b = &f->c[1], *c = &f->c[2];
	struct fclient *d = b; /* b's, once its client has gone */

	inflight = max_inflight = 0;
	assert_int_equal(fbackend__start(&f->be[0], script_slow_counted, 300),
			 0);
	assert_int_equal(fproxy__start(&f->p,
				       "upstream:\n"
				       "  servers: [\"%s\"]\n"
				       "  max_conns: 1\n"
				       "  queue: 2\n"
				       "  queue_timeout: 20s\n",
				       f->be[0].name),
			 0);
	assert_int_equal(fclient__connect(a, f->p.https), 0);
	assert_int_equal(fclient__connect(b, f->p.https), 0);
	assert_int_equal(fclient__connect(c, f->p.https), 0);
	send_get(a, "/a");
	assert_true(fbackend__wait_reqs(&f->be[0], 1));
	send_get(b, "/b");
	send_get(c, "/c");
	wait_queued(f, 2, "lbtls_queued_requests once /b and /c were sent");
	assert_int_equal(fproc__stop(f->p.worker), 0);
	{
		struct linger lg = { 1, 0 }; /* close = RST */

		setsockopt(b->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		fclient__close(b);
	}
	fh_sleep_ms(600); /* /a's answer is in by now */
	assert_int_equal(fproc__cont(f->p.worker), 0);
	fclient__read_response(a, &f->r, false);
	expect_status(&f->r, 200);
	fclient__read_response(c, &f->r, false);
	expect_status(&f->r, 200);
	assert_int_equal(fclient__connect(d, f->p.https), 0);
	send_get(d, "/d");
	fclient__read_response(d, &f->r, false);
	expect_status(&f->r, 200);
	expect_eq(fbackend__count(&f->be[0], "/b"), 0,
		  "/b requests at the server (its client left)");
	expect_eq(max_inflight, 1, "requests in flight at the server at once");
	expect_eq((long long)fmetrics__get(f->p.admin, "lbtls_queued_requests"),
		  0, "lbtls_queued_requests at the end");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(send_timeout_closes_a_client_that_only_sends),
		FX_TEST(eleventh_connection_from_one_address_is_refused),
		FX_TEST(max_conns_two_serves_five_two_at_a_time),
		FX_TEST(full_queue_is_503),
		FX_TEST(queue_timeout_is_503),
		FX_TEST(woken_as_its_queue_timeout_passes),
		FX_TEST(a_waiter_that_leaves_passes_the_room_on),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
