// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * upstream.file (tls-tier/discovery/upfile.c): the strict parser with its FILE:LINE
 * errors, the size and server caps, the atomic writer 'lbtls discover'
 * uses, and the master's watch: a bad or missing file never replaces the
 * running set. Also the configuration side: upstream.file, upstream.docker
 * needing it, and 'lbtls discover' reading only what it needs.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "config.h"
#include "upfile.h"
#include "upstream.h"

static struct upstream_addr out[CFG_MAX_SERVERS];
static char err[512];

static int parse(const char *text)
{
	err[0] = 0;
	return upfile__parse("up.list", text, strlen(text), out, err,
			     sizeof(err));
}

static void test_valid_file(void **state)
{
	const struct sockaddr_in *sin = (const void *)&out[0].ss;
	const struct sockaddr_in6 *sin6 = (const void *)&out[2].ss;

	(void)state;
	assert_int_equal(parse("# written by hand\n"
			       "198.19.200.11:5000\n"
			       "\n"
			       "  198.19.200.12:5000   # website2\n"
			       "\t[fd00:198:18:0::0011]:8080\n"),
			 3);
	assert_string_equal(out[0].name, "198.19.200.11:5000");
	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(ntohs(sin->sin_port), 5000);
	assert_int_equal(out[0].len, sizeof(struct sockaddr_in));
	assert_string_equal(out[1].name, "198.19.200.12:5000");
	/* IPv6, its name normalized as inet_ntop writes it */
	assert_string_equal(out[2].name, "[fd00:198:18::11]:8080");
	assert_int_equal(sin6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(sin6->sin6_port), 8080);
	assert_int_equal(out[2].len, sizeof(struct sockaddr_in6));
	/* empty, comments only: no servers, not an error */
	assert_int_equal(parse(""), 0);
	assert_int_equal(parse("# nothing running\n\n"), 0);
}

static void test_bad_lines_name_file_and_line(void **state)
{
	static const struct {
		const char *text, *want;
	} rows[] = {
		{ "198.19.200.11:5000\nwebsite2:5000\n",
		  "up.list:2: 'website2:5000': want IPv4:PORT or [IPv6]:PORT" },
		{ "198.19.200.11\n", "up.list:1: '198.19.200.11': want" },
		{ "198.19.200.11:0\n", "up.list:1: '198.19.200.11:0': want" },
		{ "198.19.200.11:65536\n", "up.list:1: '198.19.200.11:65536'" },
		{ "198.19.200.11:+80\n", "up.list:1: '198.19.200.11:+80'" },
		{ "198.19.200.11: 80\n",
		  "up.list:1: '198.19.200.11: 80': want one" },
		{ "1.2.3.4:80 5.6.7.8:80\n",
		  "up.list:1: '1.2.3.4:80 5.6.7.8:80': want one" },
		{ "\n\n256.1.1.1:80\n", "up.list:3: '256.1.1.1:80'" },
		{ "fd00::1:80\n", "up.list:1: 'fd00::1:80'" },
		{ "[fd00::1]80\n", "up.list:1: '[fd00::1]80'" },
		{ "[fd00::zz]:80\n", "up.list:1: '[fd00::zz]:80'" },
		{ "1.2.3.4:80\r\n", "up.list:1: '1.2.3.4:80\r': want one" },
		{ "1.2.3.4:80\n1.2.3.5:80\n1.2.3.4:80\n",
		  "up.list:3: '1.2.3.4:80' is already on line 1" },
		{ "1.2.3.4:80\n1.2.3.5:80",
		  "up.list:2: the last line has no newline" },
	};
	unsigned i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		assert_int_equal(parse(rows[i].text), -EINVAL);
		if (!strstr(err, rows[i].want))
			fail_msg("row %u: got \"%s\", want \"%s\"", i, err,
				 rows[i].want);
	}
	/* a NUL byte, which strlen() would hide */
	assert_int_equal(upfile__parse("up.list", "1.2.3.4:80\n1.2\0.3.5:80\n",
				       23, out, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "up.list:2: a NUL byte"));
	/* a long line */
	char line[300];
	memset(line, '1', sizeof(line) - 2);
	line[sizeof(line) - 2] = '\n';
	line[sizeof(line) - 1] = 0;
	assert_int_equal(parse(line), -EINVAL);
	assert_non_null(strstr(err, "up.list:1: a line of 298 characters"));
}

static void test_more_than_max_servers(void **state)
{
	static char text[CFG_MAX_SERVERS * 32 + 64];
	size_t off = 0;
	unsigned i;

	(void)state;
	for (i = 0; i < CFG_MAX_SERVERS; i++)
		off += sprintf(text + off, "198.19.202.%u:5000\n", i + 1);
	assert_int_equal(parse(text), CFG_MAX_SERVERS);
	sprintf(text + off, "198.19.203.1:5000\n");
	assert_int_equal(parse(text), -EINVAL);
	assert_non_null(strstr(err, "up.list:65: more than 64 servers"));
}

static void test_size_cap(void **state)
{
	static char text[UPFILE_MAX_BYTES + 2];
	char path[] = "/tmp/lbtls-upfile-XXXXXX";
	FILE *f;
	int fd;

	(void)state;
	/* comments only, so the size is the only fault */
	memset(text, '#', sizeof(text) - 1);
	text[UPFILE_MAX_BYTES - 1] = '\n';
	text[UPFILE_MAX_BYTES] = 0;
	assert_int_equal(parse(text), 0);
	text[UPFILE_MAX_BYTES] = '\n';
	text[UPFILE_MAX_BYTES + 1] = 0;
	assert_int_equal(parse(text), -EFBIG);
	assert_non_null(strstr(err, "up.list: larger than 65536 bytes"));
	/* read from a file: refused by its size, before it is read */
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
	assert_int_equal(upfile__read(path, out, NULL, err, sizeof(err)),
			 -EFBIG);
	assert_non_null(strstr(err, "65537 bytes, larger than 65536"));
	unlink(path);
}

static void test_read_refuses_what_is_not_a_file(void **state)
{
	char dir[] = "/tmp/lbtls-upfile-XXXXXX", fifo[64];

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(upfile__read(dir, out, NULL, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "not a regular file"));
	/* a FIFO nobody writes: refused at once, not waited on */
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(upfile__read(fifo, out, NULL, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "not a regular file"));
	unlink(fifo);
	snprintf(fifo, sizeof(fifo), "%s/missing", dir);
	assert_int_equal(upfile__read(fifo, out, NULL, err, sizeof(err)),
			 -ENOENT);
	rmdir(dir);
}

static struct upstream_addr addr(const char *ip, unsigned port)
{
	struct upstream_addr a = { 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&a.ss;

	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	inet_pton(AF_INET, ip, &sin->sin_addr);
	a.len = sizeof(*sin);
	snprintf(a.name, sizeof(a.name), "%s:%u", ip, port);
	return a;
}

static void test_write_is_atomic_and_reads_back(void **state)
{
	struct upstream_addr a[2] = { addr("198.19.200.11", 5000),
				      addr("198.19.200.12", 5001) };
	char dir[] = "/tmp/lbtls-upfile-XXXXXX", path[64], tmp[80];
	struct stat before, after;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/upstreams", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	assert_int_equal(upfile__write(path, a, 2, "written by a test"), 0);
	assert_int_equal(stat(path, &before), 0);
	assert_int_equal(upfile__read(path, out, NULL, err, sizeof(err)), 2);
	assert_string_equal(out[0].name, "198.19.200.11:5000");
	assert_string_equal(out[1].name, "198.19.200.12:5001");
	/* a new version is a new inode, renamed over: never half written */
	assert_int_equal(upfile__write(path, a, 0, NULL), 0);
	assert_int_equal(stat(path, &after), 0);
	assert_int_not_equal(before.st_ino, after.st_ino);
	assert_int_equal(upfile__read(path, out, NULL, err, sizeof(err)), 0);
	assert_int_equal(access(tmp, F_OK), -1);
	unlink(path);
	rmdir(dir);
}

static void put(const char *path, const char *text)
{
	char tmp[128];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.new", path);
	f = fopen(tmp, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(rename(tmp, path), 0);
}

static void test_watch_keeps_the_last_good_set(void **state)
{
	static struct upstream_set set;
	static struct upfile_watch w;
	char dir[] = "/tmp/lbtls-upfile-XXXXXX", path[64];
	uint32_t seq;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/upstreams", dir);
	upfile__watch_init(&w, path, &set);
	/* missing at start: nothing published, said once */
	assert_int_equal(upfile__poll(&w), -ENOENT);
	assert_int_equal(set.seq, 0);
	put(path, "198.19.200.11:5000\n198.19.200.12:5000\n");
	assert_int_equal(upfile__poll(&w), 1);
	assert_int_equal(set.n, 2);
	assert_int_equal(set.seq % 2, 0);
	seq = set.seq;
	assert_int_not_equal(seq, 0);
	/* unchanged: not read again */
	assert_int_equal(upfile__poll(&w), 0);
	assert_int_equal(set.seq, seq);
	/* a bad version does not replace the set */
	put(path, "198.19.200.11:5000\nnot-an-address\n");
	assert_int_equal(upfile__poll(&w), -EINVAL);
	assert_int_equal(set.seq, seq);
	assert_int_equal(set.n, 2);
	assert_string_equal(set.servers[1].name, "198.19.200.12:5000");
	assert_int_equal(upfile__poll(&w), -EINVAL); /* same bad version */
	/* too many servers: the same */
	{
		static char text[CFG_MAX_SERVERS * 32 + 64];
		size_t off = 0;
		unsigned i;

		for (i = 0; i <= CFG_MAX_SERVERS; i++)
			off += sprintf(text + off, "198.19.202.%u:5000\n",
				       i + 1);
		put(path, text);
		assert_int_equal(upfile__poll(&w), -EINVAL);
		assert_int_equal(set.seq, seq);
		assert_int_equal(set.n, 2);
	}
	/* gone (the discovery process died and someone removed it): kept */
	unlink(path);
	assert_int_equal(upfile__poll(&w), -ENOENT);
	assert_int_equal(set.seq, seq);
	assert_int_equal(set.n, 2);
	/* a good version again: published */
	put(path, "198.19.200.13:5000\n");
	assert_int_equal(upfile__poll(&w), 1);
	assert_int_equal(set.n, 1);
	assert_string_equal(set.servers[0].name, "198.19.200.13:5000");
	assert_true(set.seq > seq && set.seq % 2 == 0);
	unlink(path);
	rmdir(dir);
}

/* set the file's times to 'ago' seconds before now */
static void age_file(const char *path, int ago)
{
	struct timespec t[2];

	clock_gettime(CLOCK_REALTIME, &t[0]);
	t[0].tv_sec -= ago;
	t[1] = t[0];
	assert_int_equal(utimensat(AT_FDCWD, path, t, 0), 0);
}

/* upstream.file_max_age: a file its writer stopped refreshing is stale,
 * its set kept; a refresh (upfile__touch, what lbtls discover does when
 * a list finds the same containers) makes it fresh and publishes nothing. */
static void test_watch_age(void **state)
{
	static struct upstream_set set;
	static struct upfile_watch w;
	char dir[] = "/tmp/lbtls-upfile-XXXXXX", path[64];
	uint32_t seq;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/upstreams", dir);
	upfile__watch_init(&w, path, &set);
	w.max_age_ms = 2000;
	put(path, "198.19.200.11:5000\n");
	assert_int_equal(upfile__poll(&w), 1);
	assert_false(w.stale);
	seq = set.seq;
	age_file(path, 5);
	assert_int_equal(upfile__poll(&w), 0); /* same servers */
	assert_true(w.stale);
	assert_int_equal(set.seq, seq);
	assert_int_equal(set.n, 1);
	assert_int_equal(upfile__touch(path), 0);
	assert_int_equal(upfile__poll(&w), 0);
	assert_false(w.stale);
	assert_int_equal(set.seq, seq); /* a refresh publishes nothing */
	/* not checked without a maximum */
	w.max_age_ms = 0;
	age_file(path, 3600);
	assert_int_equal(upfile__poll(&w), 0);
	assert_false(w.stale);
	/* a new content under an old time: published, and stale */
	w.max_age_ms = 2000;
	put(path, "198.19.200.12:5000\n");
	age_file(path, 5);
	assert_int_equal(upfile__poll(&w), 1);
	assert_true(w.stale);
	assert_string_equal(set.servers[0].name, "198.19.200.12:5000");
	assert_int_equal(upfile__touch(path + 1), -ENOENT);
	unlink(path);
	rmdir(dir);
}

/* --- configuration --------------------------------------------------------- */

static int load(const char *yaml, bool discovery, char **errs,
		struct lbtls_config *c)
{
	char path[] = "/tmp/lbtls-upfile-XXXXXX";
	size_t len = 0;
	FILE *fp, *ef;
	int fd, e;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	fp = fdopen(fd, "w");
	fputs(yaml, fp);
	fclose(fp);
	*errs = NULL;
	ef = open_memstream(errs, &len);
	memset(c, 0, sizeof(*c));
	e = discovery ? config__load_discovery(c, path, ef) :
			config__load(c, path, ef);
	fclose(ef);
	config__free(c);
	unlink(path);
	return e;
}

static void test_config(void **state)
{
	static struct lbtls_config c;
	char *errs;

	(void)state;
	/* the file alone is a pool */
	assert_int_equal(load("listen: {http: 127.0.0.1:8080}\n"
			      "upstream:\n"
			      "  file: /run/x/upstreams\n",
			      false, &errs, &c),
			 0);
	assert_string_equal(c.upstream.file, "/run/x/upstreams");
	assert_int_equal(c.upstream.file_line, 3);
	free(errs);
	assert_int_equal(load("listen: {http: 127.0.0.1:8080}\n"
			      "upstream:\n"
			      "  file: run/x/upstreams\n",
			      false, &errs, &c),
			 -EINVAL);
	assert_non_null(
		strstr(errs, ":3: 'upstream.file' must be an absolute path"));
	free(errs);
	/* docker without a file: lbtls would have no way to learn the set */
	assert_int_equal(load("listen: {http: 127.0.0.1:8080}\n"
			      "upstream:\n"
			      "  docker: {label: a.b=c}\n",
			      false, &errs, &c),
			 -EINVAL);
	assert_non_null(
		strstr(errs, ":3: 'upstream.docker' needs 'upstream.file'"));
	free(errs);
	/* file_max_age: three of discover's relists with docker, else off */
	assert_int_equal(load("listen: {http: 127.0.0.1:8080}\n"
			      "upstream:\n"
			      "  docker: {label: a.b=c}\n"
			      "  file: /run/x/upstreams\n",
			      false, &errs, &c),
			 0);
	assert_int_equal(c.upstream.file_max_age_ms, 90000);
	free(errs);
	assert_int_equal(load("listen: {http: 127.0.0.1:8080}\n"
			      "upstream:\n"
			      "  file: /run/x/upstreams\n",
			      false, &errs, &c),
			 0);
	assert_int_equal(c.upstream.file_max_age_ms, 0);
	free(errs);
	assert_int_equal(load("listen: {http: 127.0.0.1:8080}\n"
			      "upstream:\n"
			      "  docker: {label: a.b=c}\n"
			      "  file: /run/x/upstreams\n"
			      "  file_max_age: 0\n",
			      false, &errs, &c),
			 0);
	assert_int_equal(c.upstream.file_max_age_ms, 0);
	free(errs);
	assert_int_equal(load("listen: {http: 127.0.0.1:8080}\n"
			      "upstream:\n"
			      "  file: /run/x/upstreams\n"
			      "  file_max_age: 5m\n",
			      false, &errs, &c),
			 0);
	assert_int_equal(c.upstream.file_max_age_ms, 300000);
	free(errs);
	assert_int_equal(load("listen: {http: 127.0.0.1:8080}\n"
			      "upstream:\n"
			      "  file: /run/x/upstreams\n"
			      "  file_max_age: soon\n",
			      false, &errs, &c),
			 -EINVAL);
	assert_non_null(
		strstr(errs, ":4: 'upstream.file_max_age' expects a duration"));
	free(errs);
}

/* 'lbtls discover' reads upstream.docker and upstream.file only: it needs
 * no certificate, error page or anything else lbtls itself reads. */
static void test_config_for_discovery(void **state)
{
	static const char yaml[] =
		"listen: {https: 127.0.0.1:8443}\n"
		"tls:\n"
		"  certificates: [{fullchain: /nonexistent/f.pem, privkey: /nonexistent/k.pem}]\n"
		"error_page: /nonexistent/50x.html\n"
		"upstream:\n"
		"  servers: [no-such-host.invalid:80]\n"
		"  docker: {label: a.b=c, network: lb-flask}\n"
		"  file: /run/x/upstreams\n";
	static struct lbtls_config c;
	char *errs;

	(void)state;
	assert_int_equal(load(yaml, false, &errs, &c), -EINVAL);
	free(errs);
	assert_int_equal(load(yaml, true, &errs, &c), 0);
	assert_string_equal(c.upstream.docker.label, "a.b=c");
	assert_string_equal(c.upstream.docker.socket, "/var/run/docker.sock");
	assert_string_equal(c.upstream.file, "/run/x/upstreams");
	free(errs);
	/* its own settings are still checked */
	assert_int_equal(load("upstream:\n"
			      "  docker: {label: \"a b\"}\n"
			      "  file: /run/x/upstreams\n",
			      true, &errs, &c),
			 -EINVAL);
	assert_non_null(strstr(errs, ":2: 'docker.label' expects"));
	free(errs);
	assert_int_equal(load("upstream:\n"
			      "  docker: {label: a.b=c}\n",
			      true, &errs, &c),
			 -EINVAL);
	assert_non_null(
		strstr(errs, ":2: 'lbtls discover' needs 'upstream.file'"));
	free(errs);
	assert_int_equal(load("upstream:\n"
			      "  file: /run/x/upstreams\n",
			      true, &errs, &c),
			 -EINVAL);
	assert_non_null(strstr(
		errs, "'lbtls discover' needs an 'upstream.docker' section"));
	free(errs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_file),
		cmocka_unit_test(test_bad_lines_name_file_and_line),
		cmocka_unit_test(test_more_than_max_servers),
		cmocka_unit_test(test_size_cap),
		cmocka_unit_test(test_read_refuses_what_is_not_a_file),
		cmocka_unit_test(test_write_is_atomic_and_reads_back),
		cmocka_unit_test(test_watch_keeps_the_last_good_set),
		cmocka_unit_test(test_watch_age),
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_config_for_discovery),
	};

	return cmocka_run_group_tests_name("lbtls_upfile", tests, NULL, NULL);
}
