// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The operator side of XDP's shield without the kernel: source prefixes
 * (user/state/firewall.c), the list file's grammar with FILE:LINE errors, the
 * list file edits of 'lbctl deny|allow add|del' (user/cli/shield_cli.c), and
 * the agent config's flood: section (user/agent/agent_config.c, user/state/flood.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../../user/cli/shield_cli.c" /* fw_cli__new_text is static */
#include "agent_config.h"

/* stderr of fn(arg) as a string (caller frees). */
static char *capture_stderr(int (*fn)(void *), void *arg, int *rc)
{
	char path[] = "/tmp/test_shield_XXXXXX", *text = NULL;
	int fd = mkstemp(path), saved = dup(2);
	size_t n = 0;

	assert_true(fd >= 0 && saved >= 0);
	fflush(stderr);
	dup2(fd, 2);
	*rc = fn(arg);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	close(fd);
	assert_int_equal(fw__read_file(path, &text, &n), 0);
	unlink(path);
	return text;
}

/* --- prefixes ---------------------------------------------------------- */

static void expect_prefix(const char *text, __u8 family, __u8 len,
			  const char *canonical)
{
	char why[256] = "", buf[FW_PREFIX_TEXT_MAX];
	struct fw_prefix p;

	assert_int_equal(fw__parse_prefix(text, &p, why, sizeof(why)), 0);
	assert_int_equal(p.family, family);
	assert_int_equal(p.len, len);
	fw__format_prefix(&p, buf, sizeof(buf));
	assert_string_equal(buf, canonical);
}

static void expect_bad(const char *text, const char *why_expected)
{
	char why[256] = "";
	struct fw_prefix p;

	assert_int_equal(fw__parse_prefix(text, &p, why, sizeof(why)), -EINVAL);
	if (!strstr(why, why_expected))
		fail_msg("'%s': got '%s', expected '%s'", text, why,
			 why_expected);
}

static void test_prefix_good(void **state)
{
	(void)state;
	expect_prefix("203.0.113.0/24", LB_FAMILY_V4, 24, "203.0.113.0/24");
	expect_prefix("198.18.0.7", LB_FAMILY_V4, 32, "198.18.0.7/32");
	expect_prefix("0.0.0.0/0", LB_FAMILY_V4, 0, "0.0.0.0/0");
	expect_prefix("2001:db8::/32", LB_FAMILY_V6, 32, "2001:db8::/32");
	expect_prefix("fd00:198:18::1", LB_FAMILY_V6, 128,
		      "fd00:198:18::1/128");
	expect_prefix("fd00:198:18:0:8000::/65", LB_FAMILY_V6, 65,
		      "fd00:198:18:0:8000::/65");
	expect_prefix("::/0", LB_FAMILY_V6, 0, "::/0");
}

static void test_prefix_bad(void **state)
{
	(void)state;
	expect_bad("203.0.113.0/33", "prefix length 33 is out of range 0..32");
	expect_bad("2001:db8::/129",
		   "prefix length 129 is out of range 0..128");
	expect_bad("203.0.113.0/99999999999999999999", "out of range 0..32");
	expect_bad("203.0.113.7/24",
		   "host bits set beyond /24 (the network is 203.0.113.0/24");
	expect_bad("fd00:198:18::1/48",
		   "host bits set beyond /48 (the network is fd00:198:18::/48");
	expect_bad("203.0.113.0/", "prefix length '' is not a number");
	expect_bad("203.0.113.0/-1", "prefix length '-1' is not a number");
	expect_bad("203.0.113.0/2x", "prefix length '2x' is not a number");
	expect_bad("203.0.113.0/ 24", "is not a number");
	expect_bad("/24", "not an IPv4 or IPv6 address");
	expect_bad("", "not an IPv4 or IPv6 address");
	expect_bad("203.0.113.256", "not an IPv4 or IPv6 address");
	expect_bad("example.com", "not an IPv4 or IPv6 address");
	expect_bad("1.2.3.4.5/8", "not an IPv4 or IPv6 address");
}

/* --- the list file ------------------------------------------------------- */

struct parse_arg {
	const char *text;
	struct fw_list l;
};

static int do_parse(void *p)
{
	struct parse_arg *a = p;

	return fw_list__parse(a->text, strlen(a->text), "fw.list", &a->l,
			      stderr);
}

static void test_list_good(void **state)
{
	struct parse_arg
		a = { .text = "# comment\n"
			      "\n"
			      "deny 203.0.113.0/24   # trailing\n"
			      "  allow\t203.0.113.5\n"
			      "deny fd00:198:18::/48" /* no newline */ };
	char *err;
	int rc;

	(void)state;
	err = capture_stderr(do_parse, &a, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(err, "");
	assert_int_equal(a.l.n, 3);
	assert_int_equal(a.l.e[0].action, LB_SRC_DENY);
	assert_int_equal(a.l.e[0].line, 3);
	assert_int_equal(a.l.e[1].action, LB_SRC_ALLOW);
	assert_int_equal(a.l.e[1].p.len, 32);
	assert_int_equal(a.l.e[1].line, 4);
	assert_int_equal(a.l.e[2].p.family, LB_FAMILY_V6);
	assert_int_equal(a.l.e[2].line, 5);
	free(err);
	fw_list__free(&a.l);
}

static void test_list_errors_have_lines(void **state)
{
	struct parse_arg a = { .text = "deny 198.18.0.0/24\n"
				       "drop 198.18.1.0/24\n"
				       "deny 198.18.2.0/33\n"
				       "allow\n"
				       "deny 198.18.3.0/24 198.18.4.0/24\n"
				       "allow 198.18.0.0/24\n"
				       "allow 198.18.9.9\n" };
	char *err;
	int rc;

	(void)state;
	err = capture_stderr(do_parse, &a, &rc);
	assert_int_equal(rc, -EINVAL);
	assert_non_null(strstr(
		err, "fw.list:2: unknown action 'drop' (deny or allow)\n"));
	assert_non_null(strstr(
		err,
		"fw.list:3: '198.18.2.0/33': prefix length 33 is out of range 0..32\n"));
	assert_non_null(strstr(err, "fw.list:4: 'allow' expects one prefix\n"));
	assert_non_null(strstr(err, "fw.list:5: 'deny' expects one prefix\n"));
	assert_non_null(strstr(
		err,
		"fw.list:6: 198.18.0.0/24 listed twice (first at line 1)\n"));
	/* the good lines are kept, nothing more */
	assert_int_equal(a.l.n, 3);
	free(err);
	fw_list__free(&a.l);
}

static void test_new_text_edits_one_line(void **state)
{
	const char *text = "# mine\ndeny 198.18.0.0/24\nallow 198.18.0.1/32";
	size_t n;
	char *out;

	(void)state;
	out = fw_cli__new_text(text, strlen(text), 0, "deny 10.0.0.0/8\n", &n);
	assert_string_equal(out, "# mine\ndeny 198.18.0.0/24\n"
				 "allow 198.18.0.1/32\ndeny 10.0.0.0/8\n");
	free(out);
	out = fw_cli__new_text(text, strlen(text), 2, NULL, &n);
	assert_string_equal(out, "# mine\nallow 198.18.0.1/32\n");
	free(out);
	out = fw_cli__new_text("", 0, 0, "deny 10.0.0.0/8\n", &n);
	assert_non_null(strstr(out, "# Source deny/allow list"));
	assert_non_null(strstr(out, "\ndeny 10.0.0.0/8\n"));
	free(out);
}

/* --- the agent config's flood: section ----------------------------------- */

struct config_arg {
	char path[64];
	struct agent_config cfg;
};

static int do_config(void *p)
{
	struct config_arg *a = p;

	return agent_config__load(a->path, "t0", &a->cfg);
}

/* Write text as lb.conf in a fresh directory, load it; stderr returned. */
static char *load_config(struct config_arg *a, const char *text, int *rc)
{
	char dir[] = "/tmp/test_shield_cfg_XXXXXX", *err;
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(a->path, sizeof(a->path), "%s/lb.conf", dir);
	f = fopen(a->path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	/* messages name the file as given: run from the directory */
	assert_int_equal(chdir(dir), 0);
	snprintf(a->path, sizeof(a->path), "lb.conf");
	err = capture_stderr(do_config, a, rc);
	unlink("lb.conf");
	assert_int_equal(chdir("/"), 0);
	rmdir(dir);
	return err;
}

static void test_flood_config_good(void **state)
{
	struct config_arg a;
	char *err;
	int rc;

	(void)state;
	err = load_config(&a,
			  "metrics: \"\"\n"
			  "flood:\n"
			  "  enabled: true\n"
			  "  cookies: off\n"
			  "  syn_rate: 5000\n"
			  "  hold_ms: 750\n"
			  "  src_rate: 0\n"
			  "  src_burst: 10\n"
			  "  v4_prefix: 32\n"
			  "  v6_prefix: 48\n",
			  &rc);
	assert_string_equal(err, "");
	assert_int_equal(rc, 0);
	assert_int_equal(a.cfg.flood.enabled, 1);
	assert_int_equal(a.cfg.flood.cookies, 0);
	assert_int_equal(a.cfg.flood.syn_rate, 5000);
	assert_int_equal(a.cfg.flood.hold_ms, 750);
	assert_int_equal(a.cfg.flood.src_rate, 0);
	assert_int_equal(a.cfg.flood.src_burst, 10);
	assert_int_equal(a.cfg.flood.v4_prefix, 32);
	assert_int_equal(a.cfg.flood.v6_prefix, 48);
	free(err);
}

static void test_flood_config_defaults(void **state)
{
	struct flood_settings d;
	struct config_arg a;
	char *err;
	int rc;

	(void)state;
	err = load_config(&a, "metrics: \"\"\nflood:\n  syn_rate: 7\n", &rc);
	assert_int_equal(rc, 0);
	flood__defaults(&d);
	d.syn_rate = 7;
	assert_memory_equal(&a.cfg.flood, &d, sizeof(d));
	free(err);
	err = load_config(&a, "metrics: \"\"\n", &rc);
	assert_int_equal(rc, 0);
	d.syn_rate = LB_FLOOD_SYN_RATE_DEFAULT;
	assert_memory_equal(&a.cfg.flood, &d, sizeof(d));
	assert_int_equal(d.enabled && d.cookies, 1);
	free(err);
}

static void test_flood_config_errors(void **state)
{
	struct config_arg a;
	char *err;
	int rc;

	(void)state;
	err = load_config(&a,
			  "metrics: \"\"\n" /* 1 */
			  "flood:\n" /* 2 */
			  "  enabled: maybe\n" /* 3 */
			  "  syn_rate: 0\n" /* 4 */
			  "  hold_ms: 2s\n" /* 5 */
			  "  src_burst: -1\n" /* 6 */
			  "  v4_prefix: 33\n" /* 7 */
			  "  v6_prefix: 129\n" /* 8 */
			  "  syn_rte: 10\n" /* 9 */
			  "  src_rate: [1, 2]\n", /* 10 */
			  &rc);
	assert_int_equal(rc, -EINVAL);
	assert_non_null(strstr(
		err,
		"lb.conf:3: 'enabled' expects true or false, not 'maybe'\n"));
	assert_non_null(strstr(
		err, "lb.conf:4: 'syn_rate' expects 1..100000000, not '0'\n"));
	assert_non_null(strstr(
		err, "lb.conf:5: 'hold_ms' expects 1..3600000, not '2s'\n"));
	assert_non_null(strstr(
		err, "lb.conf:6: 'src_burst' expects 1..1000000, not '-1'\n"));
	assert_non_null(strstr(
		err, "lb.conf:7: 'v4_prefix' expects 1..32, not '33'\n"));
	assert_non_null(strstr(
		err, "lb.conf:8: 'v6_prefix' expects 1..128, not '129'\n"));
	assert_non_null(strstr(err, "lb.conf:9: unknown flood key 'syn_rte'"));
	assert_non_null(strstr(err, "lb.conf:10: "));
	free(err);
	err = load_config(&a, "metrics: \"\"\nflood: 5\n", &rc);
	assert_int_equal(rc, -EINVAL);
	assert_non_null(strstr(err, "lb.conf:2: "));
	free(err);
}

/* --- a VIP's exclusive: and force: (issue 20) ------------------------------ */

static void test_vip_shared_unless_exclusive(void **state)
{
	struct config_arg a;
	char *err;
	int rc;

	(void)state;
	err = load_config(&a,
			  "metrics: \"\"\n"
			  "vips:\n"
			  "  - address: 198.18.77.1:443\n"
			  "  - address: 198.18.77.1:80\n"
			  "    exclusive: true\n"
			  "    force: yes\n"
			  "  - address: 198.18.77.2:443\n"
			  "    exclusive: false\n",
			  &rc);
	assert_string_equal(err, "");
	assert_int_equal(rc, 0);
	assert_int_equal(a.cfg.nvips, 3);
	assert_int_equal(a.cfg.vips[0].meta.flags, 0); /* the default */
	assert_int_equal(a.cfg.vips[0].force, 0);
	assert_int_equal(a.cfg.vips[1].meta.flags, LB_VIP_F_EXCLUSIVE);
	assert_int_equal(a.cfg.vips[1].force, 1);
	assert_int_equal(a.cfg.vips[2].meta.flags, 0);
	free(err);
	err = load_config(&a,
			  "metrics: \"\"\n" /* 1 */
			  "vips:\n" /* 2 */
			  "  - address: 198.18.77.1:443\n" /* 3 */
			  "    exclusive: maybe\n" /* 4 */
			  "    force: [1]\n", /* 5 */
			  &rc);
	assert_int_equal(rc, -EINVAL);
	assert_non_null(strstr(
		err,
		"lb.conf:4: 'exclusive' expects true or false, not 'maybe'\n"));
	assert_non_null(
		strstr(err, "lb.conf:5: 'force' expects a single value"));
	free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prefix_good),
		cmocka_unit_test(test_prefix_bad),
		cmocka_unit_test(test_list_good),
		cmocka_unit_test(test_list_errors_have_lines),
		cmocka_unit_test(test_new_text_edits_one_line),
		cmocka_unit_test(test_flood_config_good),
		cmocka_unit_test(test_flood_config_defaults),
		cmocka_unit_test(test_flood_config_errors),
		cmocka_unit_test(test_vip_shared_unless_exclusive),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
