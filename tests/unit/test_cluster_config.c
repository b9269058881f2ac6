// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The agent config's cluster: section (user/agent/cluster_config.c): the
 * example of docs/scaleout.md loads as written, and every error names the
 * file, the line and the cause.
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
#include <arpa/inet.h>
#include <sys/stat.h>
#include "agent_config.h"

static char dir[] = "/tmp/test_cluster_config_XXXXXX";
static char key_ok[256], key_short[256], key_open[256], conf[256];
static struct agent_config cfg;

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(dir))
		return -1;
	snprintf(key_ok, sizeof(key_ok), "%s/ok.key", dir);
	snprintf(key_short, sizeof(key_short), "%s/short.key", dir);
	snprintf(key_open, sizeof(key_open), "%s/open.key", dir);
	snprintf(conf, sizeof(conf), "%s/agent.yaml", dir);
	write_file(key_ok, "0123456789abcdef0123456789abcdef!", 0600);
	write_file(key_short, "0123456789abcdef0123456789abcde", 0600);
	write_file(key_open, "0123456789abcdef0123456789abcdef", 0640);
	return 0;
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) ? -1 : 0;
}

/* Load 'text' (with KEY replaced by key); returns stderr (static). */
static const char *load(const char *text, const char *key, int *rc)
{
	static char out[4096];
	char body[4096], path[300], *k;
	int fd, saved;
	ssize_t n;

	snprintf(body, sizeof(body), "%s", text);
	k = strstr(body, "KEY");
	if (k) {
		char rest[4096];

		snprintf(rest, sizeof(rest), "%s", k + 3);
		snprintf(k, sizeof(body) - (k - body), "%s%s", key, rest);
	}
	write_file(conf, body, 0600);
	snprintf(path, sizeof(path), "%s/stderr", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	saved = dup(2);
	fflush(stderr);
	dup2(fd, 2);
	*rc = agent_config__load(conf, "t", &cfg);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	lseek(fd, 0, SEEK_SET);
	n = read(fd, out, sizeof(out) - 1);
	out[n > 0 ? n : 0] = 0;
	close(fd);
	return out;
}

#define HEAD            \
	"cluster:\n"    \
	"  self: lb1\n" \
	"  key_file: KEY\n"
#define HOSTS                                                                   \
	"  hosts:\n"                                                            \
	"    - { name: lb1, id: 1, address: 198.19.0.11, roles: [balancer] }\n" \
	"    - { name: w1,  id: 11, address: 198.19.0.21, roles: [worker] }\n"

static void expect_error(const char *text, const char *key, const char *want)
{
	char line[600];
	const char *err;
	int rc;

	err = load(text, key, &rc);
	assert_int_equal(rc, -EINVAL);
	snprintf(line, sizeof(line), "%s:%s", conf, want);
	if (!strstr(err, line))
		fail_msg("expected '%s' in:\n%s", line, err);
}

static void test_doc_example(void **state)
{
	const char *err;
	int rc;

	(void)state;
	err = load(
		"cluster:\n"
		"  self: lb1\n"
		"  key_file: KEY\n"
		"  membership_port: 6082\n"
		"  gue_port: 6080\n"
		"  heartbeat: 500ms\n"
		"  dead_after: 2s\n"
		"  second_chance: 300s\n"
		"  mtu: 1500\n"
		"  announce_link: lbvip0\n"
		"  hosts:\n"
		"    - { name: lb1, id: 1, address: 198.19.0.11, roles: [balancer] }\n"
		"    - { name: w1,  id: 11, address: 198.19.0.21, roles: [worker] }\n"
		"    - { name: both1, id: 21, address: 198.19.0.31, roles: [balancer, worker] }\n",
		key_ok, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(err, "");
	assert_true(cfg.cluster.enabled);
	assert_int_equal(cfg.cluster.nhosts, 3);
	assert_int_equal(cfg.cluster.self, 0);
	assert_int_equal(cfg.cluster.membership_port, 6082);
	assert_int_equal(cfg.cluster.gue_port, 6080);
	assert_int_equal(cfg.cluster.heartbeat_ms, 500);
	assert_int_equal(cfg.cluster.dead_after_ms, 2000);
	assert_int_equal(cfg.cluster.second_chance_ms, 300000);
	assert_int_equal(cfg.cluster.mtu, 1500);
	assert_string_equal(cfg.cluster.announce_link, "lbvip0");
	assert_int_equal(cfg.cluster.keylen, 33);
	assert_int_equal(cfg.cluster.hosts[2].id, 21);
	assert_int_equal(cfg.cluster.hosts[2].addr, inet_addr("198.19.0.31"));
	assert_int_equal(cfg.cluster.hosts[2].flags,
			 LB_HOST_F_BALANCER | LB_HOST_F_WORKER);
	assert_int_equal(cfg.cluster.hosts[1].flags, LB_HOST_F_WORKER);
}

static void test_no_cluster(void **state)
{
	int rc;

	(void)state;
	load("ring_size: 65537\n", key_ok, &rc);
	assert_int_equal(rc, 0);
	assert_false(cfg.cluster.enabled);
}

static void test_errors(void **state)
{
	char want[400];

	(void)state;
	expect_error("cluster:\n  self: nobody\n  key_file: KEY\n" HOSTS,
		     key_ok, "2: 'self' 'nobody' is not one of the hosts");
	expect_error(
		HEAD HOSTS
		"    - { name: w2, id: 11, address: 198.19.0.22, roles: [worker] }\n",
		key_ok, "7: host id 11 used twice (first at line 6)");
	expect_error(
		HEAD HOSTS
		"    - { name: w1, id: 12, address: 198.19.0.22, roles: [worker] }\n",
		key_ok, "7: host name 'w1' used twice (first at line 6)");
	expect_error(
		HEAD HOSTS
		"    - { name: w2, id: 12, address: 198.19.0.21, roles: [worker] }\n",
		key_ok, "7: host address of 'w2' used twice (first at line 6)");
	expect_error(
		HEAD HOSTS
		"    - { name: w2, id: 12, address: 198.19.0.22, roles: [cache] }\n",
		key_ok, "7: 'roles' expects balancer or worker, not 'cache'");
	expect_error(
		HEAD HOSTS
		"    - { name: w2, id: 256, address: 198.19.0.22, roles: [worker] }\n",
		key_ok, "7: 'id' expects 1..255");
	expect_error(
		HEAD HOSTS
		"    - { name: w2, id: 0, address: 198.19.0.22, roles: [worker] }\n",
		key_ok, "7: 'id' expects 1..255");
	expect_error(
		HEAD HOSTS
		"    - { name: w2, id: 12, address: fd00::1, roles: [worker] }\n",
		key_ok, "7: 'address' expects an IPv4 address, not 'fd00::1'");
	expect_error(HEAD HOSTS
		     "    - { name: w2, id: 12, address: 198.19.0.22 }\n",
		     key_ok, "7: host 'w2' without 'roles'");
	expect_error(HEAD HOSTS, "/nonexistent/cluster.key",
		     "3: 'key_file' /nonexistent/cluster.key: cannot open");
	snprintf(want, sizeof(want),
		 "3: 'key_file' %s holds 31 bytes; at least 32 are needed",
		 key_short);
	expect_error(HEAD HOSTS, key_short, want);
	snprintf(
		want, sizeof(want),
		"3: 'key_file' %s is readable by group or others (mode 0640): chmod 600",
		key_open);
	expect_error(HEAD HOSTS, key_open, want);
	expect_error(
		HEAD "  heartbeat: 2s\n  dead_after: 2s\n" HOSTS, key_ok,
		"5: 'dead_after' (2000 ms) must be longer than 'heartbeat' (2000 ms)");
	expect_error(HEAD "  heartbeat: soon\n" HOSTS, key_ok,
		     "4: 'heartbeat' expects a duration");
	expect_error(HEAD "  gue_port: 6082\n" HOSTS, key_ok,
		     "4: 'membership_port' and 'gue_port' are both 6082");
	expect_error(HEAD "  mtu: 100\n" HOSTS, key_ok,
		     "4: 'mtu' expects 576..65535");
	expect_error(HEAD "  colour: blue\n" HOSTS, key_ok,
		     "4: unknown cluster key 'colour'");
	expect_error("cluster:\n  key_file: KEY\n" HOSTS, key_ok,
		     "2: cluster without 'self'");
	expect_error("cluster:\n  self: lb1\n" HOSTS, key_ok,
		     "2: cluster without 'key_file'");
	expect_error(HEAD, key_ok, "2: cluster without 'hosts'");
}

static void test_durations(void **state)
{
	__u32 ms;

	(void)state;
	assert_int_equal(cluster_config__duration("500ms", &ms), 0);
	assert_int_equal(ms, 500);
	assert_int_equal(cluster_config__duration("2s", &ms), 0);
	assert_int_equal(ms, 2000);
	assert_int_equal(cluster_config__duration("5m", &ms), 0);
	assert_int_equal(ms, 300000);
	assert_int_equal(cluster_config__duration("250", &ms), 0);
	assert_int_equal(ms, 250);
	assert_int_equal(cluster_config__duration("2h", &ms), -EINVAL);
	assert_int_equal(cluster_config__duration("-1s", &ms), -EINVAL);
	assert_int_equal(cluster_config__duration("", &ms), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_doc_example),
		cmocka_unit_test(test_no_cluster),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_durations),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
