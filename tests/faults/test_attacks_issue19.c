// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Attacks on issue 19's request buffering, max_conns queue and client
 * limits: each test is one way in that was found to break, or that was
 * tried and held.
 */
#include "harness.h"

/* Read a Content-Length body: its length and a position-weighted sum
 * ("LEN SUM"), so a body resent from the wrong offset shows. */
static int read_summed(struct fb_conn *c, const struct fb_req *r, char *out,
		       size_t len)
{
	unsigned long long sum = 0;
	long long got = 0;
	size_t i;

	while (got < r->content_length) {
		if (!c->len && fb_fill(c) <= 0)
			return -1;
		for (i = 0; i < c->len && got < r->content_length; i++, got++)
			sum += (unsigned char)c->buf[i] *
			       (unsigned long long)(got + 1);
		memmove(c->buf, c->buf + i, c->len - i);
		c->len -= i;
	}
	snprintf(out, len, "%lld %llu", got, sum);
	return 0;
}

static void sum_of(const char *p, size_t n, char *out, size_t len)
{
	unsigned long long sum = 0;
	size_t i;

	for (i = 0; i < n; i++)
		sum += (unsigned char)p[i] * (unsigned long long)(i + 1);
	snprintf(out, len, "%zu %llu", n, sum);
}

/* By target: /hold answers nothing until the client goes, /fail resets
 * after the head; anything else is 200 with "LEN SUM" of its body. */
static void script_by_target(struct fb_conn *c)
{
	char out[64];
	struct fb_req r;

	while (!fb_read_head(c, &r)) {
		if (!strcmp(r.target, "/fail")) {
			fb_reset(c);
			return;
		}
		if (read_summed(c, &r, out, sizeof(out)))
			return;
		if (!strcmp(r.target, "/hold")) {
			fb_stall(c);
			return;
		}
		if (fb_answer(c, out))
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

static void start_one(struct fx *f, const char *extra)
{
	f->p.access_log = true;
	assert_int_equal(fbackend__start(&f->be[0], script_by_target, 0), 0);
	assert_int_equal(fproxy__start(&f->p,
				       "upstream:\n"
				       "  servers: [\"%s\"]\n"
				       "limits:\n"
				       "  client_body_buffer_size: 16k\n"
				       "%s",
				       f->be[0].name, extra),
			 0);
}

/* POST a LEN-byte body of pattern bytes on a; expect its "LEN SUM". */
static void post_body(struct fx *f, struct fclient *a, size_t len)
{
	char head[128], want[64], *body = malloc(len);
	size_t i;

	assert_non_null(body);
	for (i = 0; i < len; i++)
		body[i] = (char)(i * 2654435761u >> 13);
	snprintf(head, sizeof(head),
		 "PUT /put HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\n\r\n",
		 len);
	sum_of(body, len, want, sizeof(want));
	i = fclient__sendstr(a, head) || fclient__send(a, body, len);
	free(body);
	assert_int_equal(i, 0);
	fclient__read_response(a, &f->r, false);
	expect_status(&f->r, 200);
	expect_body(&f->r, want);
}

/* Held: a body of exactly client_body_buffer_size stays in memory, one
 * byte more goes to a file; both arrive intact on one connection. */
static void body_at_and_over_the_buffer_size(void **state)
{
	struct fx *f = *state;
	struct fclient *a = &f->c[0];

	start_one(f, "");
	assert_int_equal(fclient__connect(a, f->p.https), 0);
	post_body(f, a, 16384);
	post_body(f, a, 16385);
	expect_eq((long long)fmetrics__get(
			  f->p.admin,
			  "lbtls_request_bodies_buffered_total{in=\"memory\"}"),
		  1, "bodies buffered in memory");
	expect_eq((long long)fmetrics__get(
			  f->p.admin,
			  "lbtls_request_bodies_buffered_total{in=\"file\"}"),
		  1, "bodies buffered in a file");
}

/* Held: a chunked body (extensions, trailer) sent a byte per TLS record
 * arrives de-chunked and whole. */
static void chunked_body_a_byte_at_a_time(void **state)
{
	static const char body[] = "5;a=b\r\nhello\r\n3\r\nabc\r\n"
				   "0\r\nX-T: v\r\n\r\n";
	struct fx *f = *state;
	struct fclient *a = &f->c[0];
	char want[64];
	size_t i;

	start_one(f, "");
	assert_int_equal(fclient__connect(a, f->p.https), 0);
	assert_int_equal(fclient__sendstr(a,
					  "POST /c HTTP/1.1\r\nHost: t\r\n"
					  "Transfer-Encoding: chunked\r\n\r\n"),
			 0);
	for (i = 0; i < sizeof(body) - 1; i++)
		assert_int_equal(fclient__send(a, body + i, 1), 0);
	fclient__read_response(a, &f->r, false);
	expect_status(&f->r, 200);
	sum_of("helloabc", 8, want, sizeof(want));
	expect_body(&f->r, want);
}

/* Held: a PUT whose first server resets after the head is resent whole,
 * from the start of its temporary file (sendfile), to the other server. */
static void retry_resends_a_file_body_whole(void **state)
{
	struct fx *f = *state;
	struct fclient *a = &f->c[0];

	assert_int_equal(fbackend__start(&f->be[0], fb_script_head_reset, 0),
			 0);
	assert_int_equal(fbackend__start(&f->be[1], script_by_target, 0), 0);
	assert_int_equal(fproxy__start(&f->p,
				       "upstream:\n"
				       "  servers: [\"%s\", \"%s\"]\n"
				       "  max_fails: 0\n"
				       "limits:\n"
				       "  client_body_buffer_size: 16k\n",
				       f->be[0].name, f->be[1].name),
			 0);
	assert_int_equal(fclient__connect(a, f->p.https), 0);
	post_body(f, a, 300000);
	expect_eq(fbackend__nreqs(&f->be[0]), 1,
		  "attempts on the server that resets (round-robin's first)");
	expect_eq(fbackend__count(&f->be[1], "/put"), 1,
		  "attempts on the other server");
}

/* Held: a client that half-closes in the middle of a buffered body gets
 * no backend and one 499 line ending in client_closed. */
static void half_close_mid_buffered_body(void **state)
{
	struct fx *f = *state;
	struct fclient *a = &f->c[0];
	char line[2048];
	int n = 0, ok = 0, i;
	FILE *al;

	start_one(f, "");
	assert_int_equal(fclient__connect(a, f->p.https), 0);
	assert_int_equal(fclient__sendstr(a,
					  "POST /half HTTP/1.1\r\nHost: t\r\n"
					  "Content-Length: 100\r\n\r\nxyz"),
			 0);
	fclient__half_close(a);
	expect_closed(a);
	for (i = 0; i < WAIT_MS / 10 && !n; i++, fh_sleep_ms(10)) {
		al = fopen(f->p.access, "re");
		for (n = ok = 0; al && fgets(line, sizeof(line), al);) {
			n += !!strstr(line, "/half");
			ok += strstr(line, "\" 499 ") &&
			      strstr(line, " client_closed\n");
		}
		if (al)
			fclose(al);
	}
	expect_eq(n, 1, "access-log lines for /half");
	expect_eq(ok, 1, "499 client_closed lines for /half");
	expect_eq(fbackend__nreqs(&f->be[0]), 0, "requests the backend saw");
}

/* Held: a GET pipelined behind a buffered POST, then a half-close: both
 * answered, then the connection closed. (Whether the second answer says
 * Connection: close depends on whether the FIN was read before its head
 * was written: 1 run in ~20 it was not, so it is not asserted.) */
static void pipelined_behind_a_buffered_body(void **state)
{
	struct fx *f = *state;
	struct fclient *a = &f->c[0];

	start_one(f, "");
	assert_int_equal(fclient__connect(a, f->p.https), 0);
	assert_int_equal(fclient__sendstr(a,
					  "POST /p HTTP/1.1\r\nHost: t\r\n"
					  "Content-Length: 3\r\n\r\nabc"
					  "GET /g HTTP/1.1\r\nHost: t\r\n\r\n"),
			 0);
	fclient__half_close(a);
	fclient__read_response(a, &f->r, false);
	expect_status(&f->r, 200);
	fclient__read_response(a, &f->r, false);
	expect_status(&f->r, 200);
	expect_body(&f->r, "0 0");
	expect_closed(a);
}

/* Lines in the access log. */
static int access_lines(struct fx *f)
{
	char line[2048];
	FILE *al = fopen(f->p.access, "re");
	int n = 0;

	while (al && fgets(line, sizeof(line), al))
		n++;
	if (al)
		fclose(al);
	return n;
}

/*
 * A connection that makes its handshake and sends no byte of a head (a
 * browser's preconnect) is closed at header_timeout without a request
 * line or a count: it had no request. One with half a head gets its 408
 * and its line.
 */
static void no_head_no_access_line(void **state)
{
	struct fx *f = *state;
	struct fclient *a = &f->c[0], *b = &f->c[1];
	int i;

	start_one(f, "  header_timeout: 1s\n");
	assert_int_equal(fclient__connect(a, f->p.https), 0);
	assert_int_equal(fclient__connect(b, f->p.https), 0);
	assert_int_equal(fclient__sendstr(b, "GET /half HTTP/1.1\r\nHo"), 0);
	fclient__read_response(b, &f->r, false);
	expect_status(&f->r, 408);
	expect_closed(a);
	for (i = 0; i < WAIT_MS / 10 && access_lines(f) < 1; i++)
		fh_sleep_ms(10);
	fh_sleep_ms(50);
	expect_eq(access_lines(f), 1, "access-log lines (the half head's)");
	expect_eq((long long)fmetrics__get(
			  f->p.admin, "lbtls_requests_total{code=\"408\"}"),
		  1, "lbtls_requests_total{code=\"408\"}");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(queued_request_starts_when_a_server_comes_back),
		FX_TEST(body_at_and_over_the_buffer_size),
		FX_TEST(chunked_body_a_byte_at_a_time),
		FX_TEST(retry_resends_a_file_body_whole),
		FX_TEST(half_close_mid_buffered_body),
		FX_TEST(pipelined_behind_a_buffered_body),
		FX_TEST(no_head_no_access_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
