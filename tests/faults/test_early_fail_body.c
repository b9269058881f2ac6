// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Finding 5 of issue 10: an upstream that fails early (reset before
 * reading the body, refused connect) while the client is still sending a
 * body must end the client's connection: the answer is a 5xx with
 * "Connection: close", and the rest of the body is never parsed as the
 * next request. Every body here carries a complete request for /smuggled
 * at a piece boundary; no backend may ever see it. max_fails is 0 so that
 * a smuggled request would reach the backend instead of being answered 502
 * for lack of a live server.
 */
#include "harness.h"

#define BODY_LEN 200000
#define PIECE 4096
#define SMUGGLED "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
#define HEAD                                                      \
	"POST /upload HTTP/1.1\r\nHost: test\r\nContent-Length: " \
	"200000\r\n\r\n"

/* Streamed bodies (request_buffering off): buffered, the upstream is not
 * even connected before the body is whole (test_request_buffering.c). */
#define CONFIG                            \
	"upstream:\n"                     \
	"  servers: [\"127.0.0.1:%d\"]\n" \
	"  max_fails: 0\n"                \
	"  request_buffering: off\n"      \
	"  read_timeout: 5s\n"

/* Send body bytes [from, to) in PIECE-sized records, SMUGGLED at offset
 * PIECE * 2; stop early when lbtls answered or the connection broke. */
static void send_body(struct fclient *c, size_t from, size_t to)
{
	static char body[BODY_LEN];
	size_t off;

	memset(body, 'a', sizeof(body));
	memcpy(body + 2 * PIECE, SMUGGLED, strlen(SMUGGLED));
	memcpy(body + BODY_LEN - strlen(SMUGGLED), SMUGGLED, strlen(SMUGGLED));
	for (off = from; off < to; off += PIECE) {
		size_t n = to - off < PIECE ? to - off : PIECE;

		/* the last piece is exactly the smuggled request */
		if (off < BODY_LEN - strlen(SMUGGLED) &&
		    off + n > BODY_LEN - strlen(SMUGGLED))
			n = BODY_LEN - strlen(SMUGGLED) - off;
		if (fclient__readable(c) || fclient__send(c, body + off, n))
			return;
	}
}

/* First connection: read the head and reset; later ones: normal. */
static void script_head_reset_first(struct fb_conn *c)
{
	if (c->idx == 0)
		fb_script_head_reset(c);
	else
		fb_script_normal(c);
}

/*
 * The backend resets right after the head, while the client sends its
 * 200000-byte body in 4 KiB pieces (the smuggled request opens the third).
 */
static void reset_before_body_closes_the_client(void **state)
{
	struct fx *f = *state;
	struct fclient *a = &f->c[0];

	assert_int_equal(fbackend__start(&f->be[0], script_head_reset_first, 0),
			 0);
	assert_int_equal(fproxy__start(&f->p, CONFIG, f->be[0].port), 0);
	assert_int_equal(fclient__connect(a, f->p.https), 0);
	assert_int_equal(fclient__sendstr(a, HEAD), 0);
	send_body(a, 0, BODY_LEN);
	fclient__read_response(a, &f->r, false);
	expect_5xx(&f->r);
	expect_conn_close(&f->r);
	expect_closed(a);
	expect_eq(fbackend__count(&f->be[0], "/smuggled"), 0,
		  "requests for /smuggled the backend saw");
}

/* First connection: read the head and all of the body but its last
 * (smuggled) piece, then wait for the test's go and reset. */
static void script_reset_before_last_piece(struct fb_conn *c)
{
	long long want = BODY_LEN - strlen(SMUGGLED);

	if (c->idx > 0) {
		fb_script_normal(c);
		return;
	}
	if (fb_read_head(c, NULL) || fb_read_body(c, want) < want)
		return;
	fb_stage(c); /* 1: all but the last piece went through */
	fb_wait_go(c, 1);
	fb_reset(c);
	fb_stage(c); /* 2: reset */
}

/*
 * The last piece of the body and the backend's reset reach the worker in
 * the same wakeup, the piece first (the worker is stopped meanwhile):
 * lbtls has the whole body framed but not yet sent when the upstream
 * fails. The piece (a complete request for /smuggled) is body: it must
 * never be parsed as a request. The client gets a 5xx; the connection may
 * stay open only because the body was consumed whole (txn_abort discards
 * it), and then the next request on it is answered as itself.
 */
static void reset_with_last_piece_unsent_never_smuggles(void **state)
{
	struct fx *f = *state;
	struct fclient *a = &f->c[0];

	assert_int_equal(
		fbackend__start(&f->be[0], script_reset_before_last_piece, 0),
		0);
	assert_int_equal(fproxy__start(&f->p, CONFIG, f->be[0].port), 0);
	assert_int_equal(fclient__connect(a, f->p.https), 0);
	assert_int_equal(fclient__sendstr(a, HEAD), 0);
	send_body(a, 0, BODY_LEN - strlen(SMUGGLED));
	assert_true(fbackend__wait_stage(&f->be[0], 1));
	assert_int_equal(fproc__stop(f->p.worker), 0);
	assert_int_equal(fclient__sendstr(a, SMUGGLED), 0);
	fh_sleep_ms(20); /* ordering only: the piece lands before the RST */
	fbackend__go(&f->be[0]);
	assert_true(fbackend__wait_stage(&f->be[0], 2));
	fh_sleep_ms(50);
	assert_int_equal(fproc__cont(f->p.worker), 0);
	fclient__read_response(a, &f->r, false);
	expect_5xx(&f->r);
	if (!f->r.conn_close) {
		assert_int_equal(
			fclient__sendstr(
				a, "GET /next HTTP/1.1\r\nHost: x\r\n\r\n"),
			0);
		fclient__read_response(a, &f->r, false);
		expect_eq(f->r.status, 200, "status of the next request");
		expect_eq(fbackend__count(&f->be[0], "/next"), 1,
			  "requests for /next the backend saw");
	}
	expect_eq(fbackend__count(&f->be[0], "/smuggled"), 0,
		  "requests for /smuggled the backend saw");
}

/* The only backend's port is closed: refused connect, body incomplete. */
static void refused_connect_with_body_pending_closes_the_client(void **state)
{
	struct fx *f = *state;
	struct fclient *a = &f->c[0];

	assert_int_equal(fproxy__start(&f->p, CONFIG, fh_free_port()), 0);
	assert_int_equal(fclient__connect(a, f->p.https), 0);
	assert_int_equal(fclient__sendstr(a, HEAD), 0);
	/* two pieces and the one that opens with the smuggled request */
	send_body(a, 0, 3 * PIECE);
	fclient__read_response(a, &f->r, false);
	expect_5xx(&f->r);
	expect_conn_close(&f->r);
	expect_closed(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(reset_before_body_closes_the_client),
		FX_TEST(reset_with_last_piece_unsent_never_smuggles),
		FX_TEST(refused_connect_with_body_pending_closes_the_client),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
