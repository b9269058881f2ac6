// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Numbers as the operator writes them (user/state/number.c): decimal or
 * 0x hex, never a leading zero (024 was octal 20 to strtoul(.., 0)), no
 * sign or space; the agent config's errors name the value and the range,
 * with FILE:LINE; ring_size stops at MAGLEV_SIZE_MAX (2^24 was accepted:
 * 4 GiB of lb_rings).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "agent_config.h"
#include "maglev.h"
#include "number.h"

static void expect_num(const char *text, __u32 want)
{
	__u32 v = 0xdeadbeef;

	assert_int_equal(number__parse_u32(text, 0, 0xffffffffu, &v), 0);
	assert_int_equal(v, want);
}

static void expect_err(const char *text, __u32 min, __u32 max, int err)
{
	__u32 v = 7;

	assert_int_equal(number__parse_u32(text, min, max, &v), err);
	assert_int_equal(v, 7); /* untouched */
}

static void test_parse(void **state)
{
	(void)state;
	expect_num("0", 0);
	expect_num("20", 20);
	expect_num("65537", 65537);
	expect_num("4294967295", 0xffffffffu);
	expect_num("0x4c42", 0x4c42);
	expect_num("0XFF", 255);
	expect_err("024", 0, 100, -EINVAL); /* octal 20 to strtoul(.., 0) */
	expect_err("00", 0, 100, -EINVAL);
	expect_err("0x", 0, 100, -EINVAL);
	expect_err("0x-1", 0, 100, -EINVAL);
	expect_err("", 0, 100, -EINVAL);
	expect_err("-1", 0, 100, -EINVAL);
	expect_err("+5", 0, 100, -EINVAL);
	expect_err(" 5", 0, 100, -EINVAL);
	expect_err("5 ", 0, 100, -EINVAL);
	expect_err("2s", 0, 100, -EINVAL);
	expect_err("1e3", 0, 10000, -EINVAL);
	expect_err("101", 0, 100, -ERANGE);
	expect_err("2", 3, 100, -ERANGE);
	expect_err("4294967296", 0, 0xffffffffu, -ERANGE);
	expect_err("99999999999999999999999", 0, 0xffffffffu, -ERANGE);
}

static void test_ring_size_bound(void **state)
{
	(void)state;
	assert_true(maglev__valid_size(MAGLEV_SIZE_MAX)); /* 2^17 - 1 */
	assert_true(maglev__valid_size(65537));
	assert_false(maglev__valid_size(131101)); /* the next prime */
	assert_false(maglev__valid_size(16777213)); /* largest prime < 2^24 */
}

/* Load text as lb.conf from a fresh directory; rc and stderr (freed by
 * the caller). */
static char *load(const char *text, struct agent_config *cfg, int *rc)
{
	char dir[] = "/tmp/test_numbers_XXXXXX", *out;
	int fd, saved;
	ssize_t len;
	FILE *f;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(chdir(dir), 0);
	f = fopen("lb.conf", "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	fd = open("err", O_RDWR | O_CREAT | O_TRUNC, 0600);
	saved = dup(2);
	assert_true(fd >= 0 && saved >= 0);
	fflush(stderr);
	dup2(fd, 2);
	*rc = agent_config__load("lb.conf", "t0", cfg);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	out = calloc(1, 4096);
	assert_non_null(out);
	len = pread(fd, out, 4095, 0);
	assert_true(len < 4095);
	close(fd);
	unlink("lb.conf");
	unlink("err");
	assert_int_equal(chdir("/"), 0);
	rmdir(dir);
	return out;
}

static void test_config_numbers(void **state)
{
	struct agent_config *cfg = calloc(1, sizeof(*cfg));
	char *err;
	int rc;

	(void)state;
	err = load("ring_size: 131071\nhash_seed: 0x4c42\nmetrics: \"\"\n"
		   "health:\n  rise: 10\n",
		   cfg, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(err, "");
	assert_int_equal(cfg->ring_size, 131071);
	assert_int_equal(cfg->hash_seed, 0x4c42);
	assert_int_equal(cfg->health_rise, 10);
	free(err);

	err = load("ring_size: 65537\nmetrics: \"\"\nhealth:\n  rise: 024\n",
		   cfg, &rc);
	print_message("%s", err);
	assert_int_equal(rc, -EINVAL);
	assert_non_null(strstr(
		err,
		"lb.conf:4: 'rise' expects 1..100, in decimal or 0x hex, not '024'"));
	free(err);

	err = load("ring_size: 16777213\nmetrics: \"\"\n", cfg, &rc);
	print_message("%s", err);
	assert_int_equal(rc, -EINVAL);
	assert_non_null(strstr(
		err,
		"lb.conf:1: 'ring_size' expects 3..131071, not '16777213'"));
	free(err);

	err = load("ring_size: 0131071\nmetrics: \"\"\n", cfg, &rc);
	assert_int_equal(rc, -EINVAL);
	assert_non_null(strstr(err, "'ring_size' expects 3..131071, in "
				    "decimal or 0x hex, not '0131071'"));
	free(err);
	free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_ring_size_bound),
		cmocka_unit_test(test_config_numbers),
	};

	return cmocka_run_group_tests_name("numbers", tests, NULL, NULL);
}
