// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Finding 1 of issue 19: a slow client must cost lbtls memory (or a
 * temporary file), never a backend. With upstream.request_buffering (on by
 * default) the whole body is read before a server is picked or connected:
 * a body that comes one byte every 2 s opens no upstream connection until
 * it is whole, fifty of them hold no backend, a body over
 * limits.client_body_buffer_size goes through an unlinked temporary file
 * and arrives intact, a chunked body goes de-chunked with a
 * Content-Length, and nothing is left behind when the client resets.
 */
#include <openssl/evp.h>

#include <sys/mount.h>

#include "harness.h"

#define NSLOW 50

/* Read one request and its Content-Length body, answer 200 with the
 * body's SHA-256 in hex, a space and its length; keep-alive. */
static void script_sha(struct fb_conn *c)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[32];
	char out[2 * 32 + 32];
	EVP_MD_CTX *sh = EVP_MD_CTX_new();
	struct fb_req r;
	long long got;
	size_t k;
	int i;

	while (sh && !fb_read_head(c, &r)) {
		EVP_DigestInit_ex(sh, EVP_sha256(), NULL);
		for (got = 0; got < r.content_length; got += k) {
			if (!c->len && fb_fill(c) <= 0)
				goto out;
			k = (long long)c->len < r.content_length - got ?
				    c->len :
				    (size_t)(r.content_length - got);
			EVP_DigestUpdate(sh, c->buf, k);
			memmove(c->buf, c->buf + k, c->len - k);
			c->len -= k;
		}
		EVP_DigestFinal_ex(sh, md, NULL);
		for (i = 0; i < 32; i++) {
			out[2 * i] = hex[md[i] >> 4];
			out[2 * i + 1] = hex[md[i] & 15];
		}
		snprintf(out + 2 * i, sizeof(out) - 2 * i, " %lld", got);
		if (fb_answer(c, out))
			break;
	}
out:
	EVP_MD_CTX_free(sh);
}

static void sha_hex(const void *p, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[32];
	int i;

	EVP_Digest(p, n, md, NULL, EVP_sha256(), NULL);
	for (i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	sprintf(out + 2 * i, " %zu", n);
}

/* Descriptors of the worker that point into 'dir'. */
static int fds_in(pid_t pid, const char *dir)
{
	char path[64], link[512];
	struct dirent *de;
	int n = 0;
	ssize_t k;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		char fp[400];

		snprintf(fp, sizeof(fp), "%s/%s", path, de->d_name);
		k = readlink(fp, link, sizeof(link) - 1);
		if (k <= 0)
			continue;
		link[k] = 0;
		if (!strncmp(link, dir, strlen(dir)))
			n++;
	}
	closedir(d);
	return n;
}

/* Entries in a directory, "." and ".." aside. */
static int entries(const char *dir)
{
	struct dirent *de;
	int n = 0;
	DIR *d = opendir(dir);

	if (!d)
		return -1;
	while ((de = readdir(d)))
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return n;
}

/* The body comes one byte every 2 s: no upstream connection before it is
 * whole; then the backend gets it with its Content-Length. */
static void slow_body_opens_no_upstream_until_whole(void **state)
{
	struct fx *f = *state;
	struct fclient *a = &f->c[0];
	const char *body = "abc";
	char want[128];
	int i;

	assert_int_equal(fbackend__start(&f->be[0], script_sha, 0), 0);
	assert_int_equal(fproxy__start(&f->p,
				       "upstream:\n"
				       "  servers: [\"%s\"]\n"
				       "limits:\n"
				       "  client_body_timeout: 10s\n",
				       f->be[0].name),
			 0);
	assert_int_equal(fclient__connect(a, f->p.https), 0);
	assert_int_equal(fclient__sendstr(a, "POST /slow HTTP/1.1\r\n"
					     "Host: test\r\n"
					     "Content-Length: 3\r\n\r\n"),
			 0);
	for (i = 0; i < 3; i++) {
		fh_sleep_ms(2000);
		expect_eq(fbackend__nconns(&f->be[0]), 0,
			  "upstream connections while the body comes");
		assert_int_equal(fclient__send(a, body + i, 1), 0);
	}
	fclient__read_response(a, &f->r, false);
	expect_status(&f->r, 200);
	sha_hex(body, 3, want);
	expect_body(&f->r, want);
	expect_eq(fbackend__nconns(&f->be[0]), 1,
		  "upstream connections at the end");
}

/*
 * Fifty clients each send a head and one byte of a 4000-byte body, then
 * stall. A normal client alongside is served by the same single backend,
 * which saw only its connection; the backend is not marked down.
 */
static void fifty_slow_bodies_hold_no_backend(void **state)
{
	struct fx *f = *state;
	struct fclient *slow = calloc(NSLOW, sizeof(*slow));
	int i, ok = 0;

	assert_non_null(slow);
	assert_int_equal(fbackend__start(&f->be[0], script_sha, 0), 0);
	assert_int_equal(fproxy__start(&f->p,
				       "upstream:\n"
				       "  servers: [\"%s\"]\n"
				       "  max_fails: 1\n"
				       "  fail_timeout: 30s\n"
				       "  read_timeout: 1s\n",
				       f->be[0].name),
			 0);
	for (i = 0; i < NSLOW; i++)
		if (!fclient__connect(&slow[i], f->p.https) &&
		    !fclient__sendstr(&slow[i],
				      "POST /echo-headers HTTP/1.1\r\n"
				      "Host: test\r\n"
				      "Content-Length: 4000\r\n\r\nx"))
			ok++;
	expect_eq(ok, NSLOW, "slow clients with a head and a byte sent");
	fh_sleep_ms(1500); /* past read_timeout: nothing may fail meanwhile */
	fh_get(f->p.https, "/normal", &f->r);
	expect_status(&f->r, 200);
	expect_eq(fbackend__nconns(&f->be[0]), 1,
		  "upstream connections (the normal client's only)");
	expect_eq(fbackend__count(&f->be[0], "/echo-headers"), 0,
		  "slow requests the backend saw");
	expect_eq(fmetrics__up(&f->p, &f->be[0]), 1,
		  "lbtls_upstream_up of the backend");
	expect_eq(fmetrics__failures(&f->p, &f->be[0]), 0,
		  "lbtls_upstream_failures_total of the backend");
	for (i = 0; i < NSLOW; i++)
		fclient__close(&slow[i]);
	free(slow);
}

static void start_temp(struct fx *f, char *tmpdir, size_t len)
{
	snprintf(tmpdir, len, "%s/body", f->p.dir);
	assert_int_equal(mkdir(tmpdir, 0700), 0);
	assert_int_equal(fbackend__start(&f->be[0], script_sha, 0), 0);
	assert_int_equal(fproxy__start(&f->p,
				       "upstream:\n"
				       "  servers: [\"%s\"]\n"
				       "limits:\n"
				       "  body: 16m\n"
				       "  client_body_buffer_size: 16k\n"
				       "  client_body_temp_path: %s\n",
				       f->be[0].name, tmpdir),
			 0);
}

/* 1 MiB over a 16 KiB buffer: through a temporary file, intact (SHA-256
 * on both sides), and no file is left. */
static void big_body_goes_through_a_temp_file_intact(void **state)
{
	struct fx *f = *state;
	struct fclient *a = &f->c[0];
	size_t len = 1 << 20, i;
	char *body = malloc(len), head[128], want[128], tmpdir[128];

	assert_non_null(body);
	for (i = 0; i < len; i++)
		body[i] = (char)(i * 2654435761u >> 13);
	start_temp(f, tmpdir, sizeof(tmpdir));
	assert_int_equal(fclient__connect(a, f->p.https), 0);
	snprintf(
		head, sizeof(head),
		"POST /up HTTP/1.1\r\nHost: test\r\nContent-Length: %zu\r\n\r\n",
		len);
	assert_int_equal(fclient__sendstr(a, head), 0);
	assert_int_equal(fclient__send(a, body, len), 0);
	fclient__read_response(a, &f->r, false);
	expect_status(&f->r, 200);
	sha_hex(body, len, want);
	expect_body(&f->r, want);
	expect_eq((long long)fmetrics__get(
			  f->p.admin,
			  "lbtls_request_bodies_buffered_total{in=\"file\"}"),
		  1, "request bodies buffered in a file");
	expect_eq(fds_in(f->p.worker, tmpdir), 0,
		  "worker descriptors into the temp dir after the request");
	expect_eq(entries(tmpdir), 0, "files in the temp dir");
	free(body);
}

/* A chunked body goes upstream de-chunked, with its Content-Length. */
static void chunked_body_goes_with_a_content_length(void **state)
{
	struct fx *f = *state;
	struct fclient *a = &f->c[0];
	char body[60000], size[32], want[128], tmpdir[128];
	struct fb_req r;
	size_t off, n;

	memset(body, 'q', sizeof(body));
	memcpy(body + 1000, "0\r\n\r\nGET /smuggled HTTP/1.1\r\n", 29);
	start_temp(f, tmpdir, sizeof(tmpdir));
	assert_int_equal(fclient__connect(a, f->p.https), 0);
	assert_int_equal(fclient__sendstr(a,
					  "POST /chunked HTTP/1.1\r\n"
					  "Host: test\r\n"
					  "Transfer-Encoding: chunked\r\n\r\n"),
			 0);
	for (off = 0; off < sizeof(body); off += n) {
		n = sizeof(body) - off < 7000 ? sizeof(body) - off : 7000;
		snprintf(size, sizeof(size), "%zx\r\n", n);
		assert_int_equal(fclient__sendstr(a, size), 0);
		assert_int_equal(fclient__send(a, body + off, n), 0);
		assert_int_equal(fclient__sendstr(a, "\r\n"), 0);
	}
	assert_int_equal(fclient__sendstr(a, "0\r\nX-Trailer: t\r\n\r\n"), 0);
	fclient__read_response(a, &f->r, false);
	expect_status(&f->r, 200);
	sha_hex(body, sizeof(body), want);
	expect_body(&f->r, want);
	assert_true(fbackend__wait_reqs(&f->be[0], 1));
	r = f->be[0].reqs[0];
	if (!strstr(r.head, "\r\nContent-Length: 60000\r\n") ||
	    strcasestr(r.head, "transfer-encoding"))
		fail_msg(
			"upstream head without Content-Length: 60000, or with Transfer-Encoding: %s",
			r.head);
	expect_eq(fbackend__count(&f->be[0], "/smuggled"), 0,
		  "requests for /smuggled");
}

/* A client that resets in the middle of a body kept in a file: no upstream
 * was connected, and the file goes with the connection. */
static void client_reset_mid_body_leaves_no_temp_file(void **state)
{
	struct fx *f = *state;
	struct fclient *a = &f->c[0];
	struct linger lg = { 1, 0 };
	char chunk[65536], tmpdir[128];
	int i, seen = 0;

	memset(chunk, 'z', sizeof(chunk));
	start_temp(f, tmpdir, sizeof(tmpdir));
	assert_int_equal(fclient__connect(a, f->p.https), 0);
	assert_int_equal(fclient__sendstr(a,
					  "POST /up HTTP/1.1\r\n"
					  "Host: test\r\n"
					  "Content-Length: 10000000\r\n\r\n"),
			 0);
	assert_int_equal(fclient__send(a, chunk, sizeof(chunk)), 0);
	for (i = 0; i < WAIT_MS / 10 && !seen; i++) {
		seen = fds_in(f->p.worker, tmpdir) > 0;
		if (!seen)
			fh_sleep_ms(10);
	}
	expect_eq(seen, 1, "the worker holds a temporary file mid-body");
	setsockopt(a->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	fclient__close(a);
	expect_active(&f->p, 0);
	expect_eq(fds_in(f->p.worker, tmpdir), 0,
		  "worker descriptors into the temp dir after the reset");
	expect_eq(entries(tmpdir), 0, "files in the temp dir");
	expect_eq(fbackend__nconns(&f->be[0]), 0, "upstream connections");
}

/*
 * A body that trickles: a byte every 400 ms, each gap well inside
 * client_body_timeout (1 s), at 2.5 bytes/s against client_body_min_rate
 * 100 bytes/s: 408 about a second after the head, not when the body is
 * done (100 bytes: 40 s), and no backend was connected.
 */
static void trickling_body_is_cut_by_the_min_rate(void **state)
{
	struct fx *f = *state;
	struct fclient *a = &f->c[0];
	int i;

	assert_int_equal(fbackend__start(&f->be[0], script_sha, 0), 0);
	assert_int_equal(fproxy__start(&f->p,
				       "upstream:\n"
				       "  servers: [\"%s\"]\n"
				       "limits:\n"
				       "  client_body_timeout: 1s\n"
				       "  client_body_min_rate: 100\n",
				       f->be[0].name),
			 0);
	assert_int_equal(fclient__connect(a, f->p.https), 0);
	assert_int_equal(fclient__sendstr(a, "POST /trickle HTTP/1.1\r\n"
					     "Host: test\r\n"
					     "Content-Length: 100\r\n\r\n"),
			 0);
	/* at most 30 bytes (12 s); a working min rate answers after ~1 s */
	for (i = 0; i < 30 && !fclient__readable(a); i++) {
		fh_sleep_ms(400);
		if (fclient__send(a, "t", 1))
			break;
	}
	if (i == 30)
		fail_msg(
			"no answer while 30 bytes trickled in at one per 400 ms");
	fclient__read_response(a, &f->r, false);
	expect_status(&f->r, 408);
	expect_eq(fbackend__nconns(&f->be[0]), 0, "upstream connections");
	if (!fproxy__log_has(&f->p, "request body timed out"))
		fail_msg("no 'request body timed out' line in lbtls's log");
}

static char full_dir[192]; /* a tmpfs mounted by the test below */

static int full_teardown(void **state)
{
	if (full_dir[0]) {
		umount2(full_dir, MNT_DETACH);
		full_dir[0] = 0;
	}
	return fx_teardown(state);
}

/*
 * The temp files' file system is full (a client body fills it, or other
 * clients' bodies did): that request gets lbtls's answer to every local
 * resource failure, 503 with the cause in the log (nginx answers 500),
 * nothing is left on the disk, the upstream never sees a byte, and a
 * request with a body that fits in memory is served alongside.
 */
static void full_temp_disk_fails_that_request_only(void **state)
{
	struct fx *f = *state;
	struct fclient *a = &f->c[0], *b = &f->c[1];
	size_t len = 1 << 20;
	char *body = calloc(1, len), head[128], tmpdir[128];

	assert_non_null(body);
	start_temp(f, tmpdir, sizeof(tmpdir));
	snprintf(full_dir, sizeof(full_dir), "%s", tmpdir);
	assert_int_equal(
		mount("lbtls-full", tmpdir, "tmpfs", 0, "size=128k,mode=0700"),
		0);
	assert_int_equal(fclient__connect(a, f->p.https), 0);
	snprintf(
		head, sizeof(head),
		"POST /up HTTP/1.1\r\nHost: test\r\nContent-Length: %zu\r\n\r\n",
		len);
	assert_int_equal(fclient__sendstr(a, head), 0);
	fclient__send(a, body, len); /* may be cut short by the answer */
	fclient__read_response(a, &f->r, false);
	expect_status(&f->r, 503);
	if (!fproxy__log_has(&f->p, "No space left on device (a local limit"))
		fail_msg("no log line naming the full disk");
	expect_eq(fbackend__nreqs(&f->be[0]), 0,
		  "requests the upstream saw of the failed body");
	expect_eq(entries(tmpdir), 0, "files in the full temp dir");
	expect_eq(fds_in(f->p.worker, tmpdir), 0,
		  "worker descriptors into the temp dir");
	/* another client, a body that fits in memory: served */
	assert_int_equal(fclient__connect(b, f->p.https), 0);
	assert_int_equal(
		fclient__sendstr(b, "POST /small HTTP/1.1\r\nHost: test\r\n"
				    "Content-Length: 5\r\n\r\nhello"),
		0);
	fclient__read_response(b, &f->r, false);
	expect_status(&f->r, 200);
	free(body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(slow_body_opens_no_upstream_until_whole),
		FX_TEST(fifty_slow_bodies_hold_no_backend),
		FX_TEST(big_body_goes_through_a_temp_file_intact),
		FX_TEST(chunked_body_goes_with_a_content_length),
		FX_TEST(client_reset_mid_body_leaves_no_temp_file),
		FX_TEST(trickling_body_is_cut_by_the_min_rate),
		cmocka_unit_test_setup_teardown(
			full_temp_disk_fails_that_request_only, fx_setup,
			full_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
