// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * lbtls configuration (tls-tier/core/config.c) on real files: a good one is
 * accepted with the right values, each bad one is refused with
 * "FILE:LINE: reason" naming the line at fault. Files the configuration
 * names but tls.c reads (session ticket keys) are checked here too, with
 * the same error format.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <cmocka.h>
#include <openssl/ssl.h>

#include "config.h"
#include "tls.h"

struct fixture {
	char dir[64];
	char cert[128], key[128];
	char path[128];
	char *errs;
	size_t errs_len;
	struct lbtls_config cfg;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	FILE *fp;

	if (!f)
		return -1;
	strcpy(f->dir, "/tmp/lbtls-config-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	/* config.c only checks the PEM files are readable; tls.c parses them */
	snprintf(f->cert, sizeof(f->cert), "%s/fullchain.pem", f->dir);
	snprintf(f->key, sizeof(f->key), "%s/privkey.pem", f->dir);
	snprintf(f->path, sizeof(f->path), "%s/lbtls.yaml", f->dir);
	fp = fopen(f->cert, "w");
	if (!fp)
		return -1;
	fclose(fp);
	fp = fopen(f->key, "w");
	if (!fp)
		return -1;
	fclose(fp);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	config__free(&f->cfg);
	free(f->errs);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd))
		return -1;
	free(f);
	return 0;
}

/* Write the YAML (with @CERT@/@KEY@ filled in), load it, keep the errors. */
static int load(struct fixture *f, const char *yaml)
{
	FILE *fp = fopen(f->path, "w"), *errs;
	const char *p;
	int err;

	assert_non_null(fp);
	for (p = yaml; *p; p++) {
		if (!strncmp(p, "@CERT@", 6)) {
			fputs(f->cert, fp);
			p += 5;
		} else if (!strncmp(p, "@KEY@", 5)) {
			fputs(f->key, fp);
			p += 4;
		} else {
			fputc(*p, fp);
		}
	}
	fclose(fp);
	free(f->errs);
	f->errs = NULL;
	errs = open_memstream(&f->errs, &f->errs_len);
	assert_non_null(errs);
	err = config__load(&f->cfg, f->path, errs);
	fclose(errs);
	return err;
}

/* The error output has a line "FILE:LINE: ..." containing 'what'. */
static void assert_error_at(struct fixture *f, int line, const char *what)
{
	char prefix[200], *p;

	snprintf(prefix, sizeof(prefix), "%s:%d: ", f->path, line);
	for (p = f->errs; p && *p;
	     p = strchr(p, '\n') ? strchr(p, '\n') + 1 : "") {
		size_t len = strcspn(p, "\n");

		if (!strncmp(p, prefix, strlen(prefix)) &&
		    memmem(p, len, what, strlen(what)))
			return;
	}
	fail_msg("no error '%s%s...' in:\n%s", prefix, what, f->errs);
}

static const char good[] =
	"workers: 4\n"
	"listen:\n"
	"  https: [\"127.0.0.1:8443\", \"[::1]:8443\"]\n"
	"  http: 127.0.0.1:8080\n"
	"tls:\n"
	"  certificates:\n"
	"    - fullchain: @CERT@\n"
	"      privkey: @KEY@\n"
	"  protocols: [TLSv1.3]\n"
	"upstream:\n"
	"  algorithm: least_conn\n"
	"  servers:\n"
	"    - 127.0.0.1:5001\n"
	"    - 127.0.0.1:5002 weight=3\n"
	"    - {address: \"[::1]:5003\", weight: 2}\n"
	"  max_fails: 2\n"
	"  fail_timeout: 30s\n"
	"  health: {path: /healthz, interval: 500ms, rise: 2, fall: 3}\n"
	"  keepalive: 16\n"
	"  read_timeout: 2m\n"
	"limits: {header_line: 4k, header_total: 16k, body: 1m, header_timeout: 5s}\n"
	"log: {access: /dev/null, level: warn}\n"
	"x_served_by: true\n";

static void test_good_config(void **state)
{
	struct fixture *f = *state;
	struct lbtls_config *c = &f->cfg;

	assert_int_equal(load(f, good), 0);
	assert_string_equal(f->errs, "");
	assert_int_equal(c->workers, 4);
	assert_int_equal(c->nhttps, 2);
	assert_int_equal(c->https[1].ss.ss_family, AF_INET6);
	assert_int_equal(c->https[1].port, 8443);
	assert_int_equal(c->nhttp, 1);
	assert_int_equal(c->tls.ncerts, 1);
	assert_int_equal(c->tls.min_proto, TLS1_3_VERSION);
	assert_int_equal(c->upstream.algo, LB_LEAST_CONN);
	assert_int_equal(c->upstream.nservers, 3);
	assert_int_equal(c->upstream.servers[0].weight, 1);
	assert_int_equal(c->upstream.servers[1].weight, 3);
	assert_int_equal(c->upstream.servers[2].weight, 2);
	assert_string_equal(c->upstream.servers[2].name, "[::1]:5003");
	assert_int_equal(c->upstream.max_fails, 2);
	assert_int_equal(c->upstream.fail_timeout_ms, 30000);
	assert_true(c->upstream.health.enabled);
	assert_int_equal(c->upstream.health.interval_ms, 500);
	assert_int_equal(c->upstream.read_timeout_ms, 120000);
	assert_int_equal(c->limits.header_line, 4096);
	assert_int_equal(c->limits.body, 1024 * 1024);
	assert_int_equal(c->log_level, LOG_LVL_WARN);
	assert_true(c->x_served_by);
	/* defaults */
	assert_string_equal(c->metrics.text, "127.0.0.1:9145");
	assert_int_equal(c->upstream.connect_timeout_ms, 5000);
	assert_int_equal(c->tls.max_proto, TLS1_3_VERSION);
}

static void test_defaults_x_served_by_off(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f, "listen: {http: 127.0.0.1:8080}\n"), 0);
	assert_false(f->cfg.x_served_by);
	assert_int_equal(f->cfg.workers, 0); /* one per CPU */
	assert_int_equal(f->cfg.upstream.algo, LB_ROUND_ROBIN);
}

static void test_errors_carry_file_and_line(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f, "workers: 4\n" /* 1 */
				 "listen:\n" /* 2 */
				 "  https: 127.0.0.1:8443\n" /* 3 */
				 "  htps: 127.0.0.1:8080\n" /* 4 */
				 "tls:\n" /* 5 */
				 "  certificates:\n" /* 6 */
				 "    - fullchain: @CERT@\n" /* 7 */
				 "      privkey: @KEY@\n" /* 8 */
				 "upstream:\n" /* 9 */
				 "  servers:\n" /* 10 */
				 "    - 127.0.0.1:5001 weight=999\n" /* 11 */
				 "    - 127.0.0.1:99999\n" /* 12 */
				 "  algorithm: fastest\n" /* 13 */
				 "  fail_timeout: soon\n" /* 14 */
				 "  servers_typo: 1\n" /* 15 */
				 "log: {level: loud}\n" /* 16 */
				 "workerz: 2\n"), /* 17 */
			 -EINVAL);
	assert_error_at(f, 4, "unknown setting 'listen.htps'");
	assert_error_at(f, 11, "'weight' expects 1..256");
	assert_error_at(f, 12, "bad address");
	assert_error_at(f, 13, "unknown 'fastest'");
	assert_error_at(f, 14, "'fail_timeout' expects a duration");
	assert_error_at(f, 15, "unknown setting 'upstream.servers_typo'");
	assert_error_at(f, 16, "'log.level': unknown 'loud'");
	assert_error_at(f, 17, "unknown setting 'workerz'");
}

static void test_bad_values(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(
		load(f,
		     "workers: 0\n" /* 1 */
		     "listen:\n" /* 2 */
		     "  https: [127.0.0.1:8443, 127.0.0.1:8443]\n" /* 3 */
		     "tls:\n" /* 4 */
		     "  certificates:\n" /* 5 */
		     "    - fullchain: /nonexistent/fullchain.pem\n" /* 6 */
		     "      privkey: @KEY@\n" /* 7 */
		     "  protocols: [SSLv3]\n" /* 8 */
		     "upstream:\n" /* 9 */
		     "  servers: [127.0.0.1:5001]\n" /* 10 */
		     "  health: {path: healthz, interval: 10ms}\n" /* 11 */
		     "limits: {header_line: 64k, header_total: 2k}\n" /* 12 */
		     "x_served_by: maybe\n"), /* 13 */
		-EINVAL);
	assert_error_at(f, 1, "'workers' expects an integer 1..256, got '0'");
	assert_error_at(f, 3, "already used on line 3");
	assert_error_at(f, 6, "certificate '/nonexistent/fullchain.pem'");
	assert_error_at(f, 8, "unsupported protocol 'SSLv3'");
	assert_error_at(f, 11, "'health.path' must start with '/'");
	assert_error_at(f, 11, "at least 100ms");
	assert_error_at(f, 12, "exceeds 'limits.header_total'");
	assert_error_at(f, 13, "'x_served_by' expects true or false");
}

static void test_missing_pieces(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f, "listen:\n  https: 127.0.0.1:8443\n"),
			 -EINVAL);
	assert_error_at(f, 1, "'tls.certificates' is empty");
	assert_error_at(f, 1, "'upstream.servers' is empty");
}

static void test_yaml_syntax_error(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f, "workers: 2\nlisten:\n  https: [127.0.0.1:1\n"
				 "upstream: x\n"),
			 -EINVAL);
	/* libyaml reports where it noticed: the unclosed flow sequence */
	assert_non_null(strstr(f->errs, f->path));
	assert_non_null(strstr(f->errs, "YAML syntax"));
}

static void test_missing_file(void **state)
{
	struct fixture *f = *state;
	FILE *errs;
	int err;

	errs = open_memstream(&f->errs, &f->errs_len);
	err = config__load(&f->cfg, "/nonexistent/lbtls.yaml", errs);
	fclose(errs);
	assert_int_equal(err, -ENOENT);
	assert_non_null(
		strstr(f->errs, "/nonexistent/lbtls.yaml: cannot open"));
}

/* Issue 19 finding 11: the ticket schedule and the cipher order are
 * settings (at dee1224 they were unknown: one key for 24 h, the server's
 * order forced). Defaults: nginx's ssl_session_timeout 5m, a key an hour,
 * the client's order. */
static void test_ticket_settings(void **state)
{
	struct fixture *f = *state;
	struct cfg_tls *t = &f->cfg.tls;

	assert_int_equal(load(f, "listen: {http: 127.0.0.1:8080}\n"), 0);
	assert_int_equal(t->ticket_lifetime_s, 300);
	assert_int_equal(t->ticket_rotation_s, 3600);
	assert_false(t->prefer_server_ciphers);
	assert_int_equal(load(f, "listen: {http: 127.0.0.1:8080}\n"
				 "tls:\n"
				 "  ticket_rotation: 2s\n"
				 "  ticket_lifetime: 1m\n"
				 "  prefer_server_ciphers: on\n"),
			 0);
	assert_string_equal(f->errs, "");
	assert_int_equal(t->ticket_rotation_s, 2);
	assert_int_equal(t->ticket_lifetime_s, 60);
	assert_true(t->prefer_server_ciphers);
	/* the rotation may exceed the lifetime: two keys kept, nothing odd */
	assert_int_equal(
		load(f, "listen: {http: 127.0.0.1:8080}\n"
			"tls: {ticket_rotation: 24h, ticket_lifetime: 1s}\n"),
		0);
}

static void test_ticket_settings_errors(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f, "listen: {http: 127.0.0.1:8080}\n" /* 1 */
				 "tls:\n" /* 2 */
				 "  ticket_rotation: 0\n" /* 3 */
				 "  ticket_lifetime: 1500ms\n" /* 4 */
				 "  prefer_server_ciphers: maybe\n" /* 5 */
				 "  ticket_lifetimes: 5m\n"), /* 6 */
			 -EINVAL);
	assert_error_at(
		f, 3,
		"'tls.ticket_rotation' expects whole seconds, 1s..24h, got '0'");
	assert_error_at(
		f, 4,
		"'tls.ticket_lifetime' expects whole seconds, 1s..24h, got '1500ms'");
	assert_error_at(
		f, 5,
		"'tls.prefer_server_ciphers' expects true or false, got 'maybe'");
	assert_error_at(f, 6, "unknown setting 'tls.ticket_lifetimes'");
	assert_int_equal(load(f, "listen: {http: 127.0.0.1:8080}\n" /* 1 */
				 "tls:\n" /* 2 */
				 "  ticket_rotation: soon\n" /* 3 */
				 "  ticket_lifetime: 25h\n"), /* 4 */
			 -EINVAL);
	assert_error_at(f, 3, "'tls.ticket_rotation' expects a duration");
	assert_error_at(f, 4, "'tls.ticket_lifetime' expects a duration");
	/* 24h of tickets with a key a minute: 1442 keys per worker */
	assert_int_equal(load(f, "listen: {http: 127.0.0.1:8080}\n" /* 1 */
				 "tls:\n" /* 2 */
				 "  ticket_lifetime: 24h\n" /* 3 */
				 "  ticket_rotation: 1m\n"), /* 4 */
			 -EINVAL);
	assert_error_at(
		f, 4,
		"'tls.ticket_lifetime' (86400s) over 'tls.ticket_rotation' (60s) keeps 1442 keys, at most 64");
	/* the limit itself: 62 rotations in a lifetime, + 2 */
	assert_int_equal(
		load(f, "listen: {http: 127.0.0.1:8080}\n"
			"tls: {ticket_lifetime: 62s, ticket_rotation: 1s}\n"),
		0);
}

/* Issue 19's settings: defaults as nginx's, and errors with file and
 * line; limits.body 0 with buffering loads with a warning. */
static void test_buffering_and_limits_settings(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f, "listen: {http: 127.0.0.1:8080}\n"), 0);
	assert_true(f->cfg.upstream.request_buffering);
	assert_int_equal(f->cfg.limits.body, 1024 * 1024);
	assert_int_equal(f->cfg.limits.body_buffer_size, 16 * 1024);
	assert_string_equal(f->cfg.limits.body_temp_path, "/tmp");
	assert_int_equal(f->cfg.limits.send_timeout_ms, 60000);
	assert_int_equal(f->cfg.limits.per_client_connections, 0);
	assert_int_equal(f->cfg.limits.per_client_v6_prefix, 64);
	assert_int_equal(f->cfg.upstream.max_conns, 0);
	assert_int_equal(load(f, "listen: {http: 127.0.0.1:8080}\n" /* 1 */
				 "upstream:\n" /* 2 */
				 "  request_buffering: sometimes\n" /* 3 */
				 "  max_conns: -1\n" /* 4 */
				 "  queue_timeout: soon\n" /* 5 */
				 "limits:\n" /* 6 */
				 "  client_body_temp_path: tmp\n" /* 7 */
				 "  client_body_buffer_size: 10\n" /* 8 */
				 "  per_client_ipv6_prefix: 129\n" /* 9 */
				 "  send_timeout: forever\n"), /* 10 */
			 -EINVAL);
	assert_error_at(f, 3, "'upstream.request_buffering' expects");
	assert_error_at(f, 4, "'upstream.max_conns' expects an integer");
	assert_error_at(f, 5, "'upstream.queue_timeout' expects a duration");
	assert_error_at(
		f, 7,
		"'limits.client_body_temp_path' expects an absolute path, got 'tmp'");
	assert_error_at(f, 8,
			"'limits.client_body_buffer_size' expects a size");
	assert_error_at(
		f, 9,
		"'limits.per_client_ipv6_prefix' expects an integer 1..128");
	assert_error_at(f, 10, "'limits.send_timeout' expects a duration");
	assert_int_equal(load(f,
			      "listen: {http: 127.0.0.1:8080}\n" /* 1 */
			      "limits:\n" /* 2 */
			      "  client_body_temp_path: /nonexistent-lbtls\n"),
			 -EINVAL);
	assert_error_at(
		f, 3,
		"'limits.client_body_temp_path' '/nonexistent-lbtls': No such file or directory");
	assert_int_equal(load(f, "listen: {http: 127.0.0.1:8080}\n" /* 1 */
				 "limits:\n" /* 2 */
				 "  body: 0\n"), /* 3 */
			 0);
	assert_error_at(f, 3, "warning: 'limits.body' 0: no limit");
}

/* Finding 11b: at 9593e43 a file of 17 keys was cut to its first 16
 * without a word; now tls__ctx_new() refuses it, naming file, count and
 * maximum at the configuration line. */
static void test_ticket_keys_over_max(void **state)
{
	struct fixture *f = *state;
	char ticket[160], yaml[512], what[256];
	struct tls_ctx *t = NULL;
	unsigned char key[TLS_TICKET_KEY_LEN];
	unsigned n, i;
	FILE *fp, *errs;

	snprintf(ticket, sizeof(ticket), "%s/ticket.key", f->dir);
	memset(key, 0x5a, sizeof(key));
	for (n = TLS_MAX_TICKET_KEYS; n <= TLS_MAX_TICKET_KEYS + 1; n++) {
		fp = fopen(ticket, "w");
		assert_non_null(fp);
		for (i = 0; i < n; i++)
			assert_int_equal(fwrite(key, sizeof(key), 1, fp), 1);
		fclose(fp);
		snprintf(yaml, sizeof(yaml),
			 "listen: {https: 127.0.0.1:8443}\n" /* 1 */
			 "tls:\n" /* 2 */
			 "  certificates:\n" /* 3 */
			 "    - fullchain: @CERT@\n" /* 4 */
			 "      privkey: @KEY@\n" /* 5 */
			 "  session_ticket_key: %s\n" /* 6 */
			 "upstream: {servers: [127.0.0.1:5001]}\n",
			 ticket);
		assert_int_equal(load(f, yaml), 0);
		free(f->errs);
		f->errs = NULL;
		errs = open_memstream(&f->errs, &f->errs_len);
		assert_non_null(errs);
		/* the certificate files are empty: this fails in any case */
		assert_int_not_equal(tls__ctx_new(&f->cfg, NULL, &t, errs), 0);
		fclose(errs);
		if (n == TLS_MAX_TICKET_KEYS) {
			assert_null(strstr(f->errs, "session ticket key"));
			continue;
		}
		snprintf(what, sizeof(what),
			 "session ticket key '%s': 17 keys, at most 16",
			 ticket);
		assert_error_at(f, 6, what);
	}
}

/* A uid and gid with no passwd and no group entry: the numeric form. */
static unsigned unnamed_id(void)
{
	unsigned id;

	for (id = 4242; getpwuid(id) || getgrgid(id); id++)
		;
	return id;
}

/* user: NAME, NAME GROUP, NAME:GROUP, UID, UID:GID; resolved at load. */
static void test_user_forms(void **state)
{
	struct fixture *f = *state;
	struct cfg_user *u = &f->cfg.user;
	struct passwd *pw = getpwnam("nobody");
	struct group *gr = getgrnam("nogroup");
	unsigned id = unnamed_id();
	char yaml[256];

	assert_int_equal(geteuid(), 0); /* root: any user may be named */
	assert_non_null(pw);
	assert_non_null(gr);
	assert_int_equal(load(f, "listen: {http: 127.0.0.1:8080}\n"), 0);
	assert_false(u->set); /* no user: the workers stay as they are */

	assert_int_equal(load(f, "listen: {http: 127.0.0.1:8080}\n"
				 "user: nobody\n"),
			 0);
	assert_true(u->set);
	assert_string_equal(u->text, "nobody");
	assert_int_equal(u->line, 2);
	assert_int_equal(u->uid, pw->pw_uid);
	assert_int_equal(u->gid, pw->pw_gid); /* the primary group */
	assert_true(u->ngroups >= 1); /* getgrouplist: the primary one too */
	assert_int_equal(u->groups[0], pw->pw_gid);

	assert_int_equal(load(f, "listen: {http: 127.0.0.1:8080}\n"
				 "user: nobody nogroup\n"),
			 0);
	assert_int_equal(u->uid, pw->pw_uid);
	assert_int_equal(u->gid, gr->gr_gid);
	assert_int_equal(load(f, "listen: {http: 127.0.0.1:8080}\n"
				 "user: \"nobody:nogroup\"\n"),
			 0);
	assert_int_equal(u->gid, gr->gr_gid);

	/* a number with no passwd entry: gid of the same number, no
	 * supplementary groups (never gid 0) */
	snprintf(yaml, sizeof(yaml),
		 "listen: {http: 127.0.0.1:8080}\nuser: %u\n", id);
	assert_int_equal(load(f, yaml), 0);
	assert_int_equal(u->uid, id);
	assert_int_equal(u->gid, id);
	assert_int_equal(u->ngroups, 0);
	snprintf(yaml, sizeof(yaml),
		 "listen: {http: 127.0.0.1:8080}\nuser: \"%u:%u\"\n", id,
		 id + 1);
	assert_int_equal(load(f, yaml), 0);
	assert_int_equal(u->uid, id);
	assert_int_equal(u->gid, id + 1);
	/* a number that has an entry: that user's groups */
	snprintf(yaml, sizeof(yaml),
		 "listen: {http: 127.0.0.1:8080}\nuser: %u\n",
		 (unsigned)pw->pw_uid);
	assert_int_equal(load(f, yaml), 0);
	assert_int_equal(u->gid, pw->pw_gid);
	assert_true(u->ngroups >= 1);
}

/* Each bad user: refused at its line, with the reason. */
static void test_user_errors(void **state)
{
	static const struct {
		const char *value, *what;
	} bad[] = {
		{ "root", "'user' root is uid 0 (root)" },
		{ "\"0:4242\"", "'user' 0 is uid 0 (root)" },
		{ "lbtls-no-such-user",
		  "'user': no user 'lbtls-no-such-user'" },
		{ "nobody lbtls-no-such-group",
		  "'user': no group 'lbtls-no-such-group'" },
		{ "nobody root", "group 0 (root) is not allowed" },
		{ "\"4242:0\"", "group 0 (root) is not allowed" },
		{ "\"nobody nogroup extra\"",
		  "'user' expects NAME, NAME GROUP" },
		{ "\"nobody:\"", "'user' expects NAME, NAME GROUP" },
		{ "\"\"", "'user' expects NAME, NAME GROUP" },
		{ "\"4294967295\"", "no user '4294967295'" },
		{ "[nobody]", "'user' expects a string, got a list" },
	};
	struct fixture *f = *state;
	char yaml[256];
	unsigned i;

	assert_int_equal(geteuid(), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(yaml, sizeof(yaml),
			 "workers: 1\n" /* 1 */
			 "listen: {http: 127.0.0.1:8080}\n" /* 2 */
			 "user: %s\n", /* 3 */
			 bad[i].value);
		assert_int_equal(load(f, yaml), -EINVAL);
		assert_error_at(f, 3, bad[i].what);
		assert_false(f->cfg.user.set);
	}
}

/*
 * lbtls not started as root: 'user' may name its own user only. Loaded in
 * a child that is uid/gid 65534 (nobody/nogroup) as lbtls would be.
 */
static void test_user_when_not_root(void **state)
{
	struct fixture *f = *state;
	char other[128], self[128];
	int status;
	pid_t pid;

	assert_int_equal(geteuid(), 0); /* to become someone else */
	snprintf(other, sizeof(other), "%s/other.yaml", f->dir);
	snprintf(self, sizeof(self), "%s/self.yaml", f->dir);
	assert_int_equal(chmod(f->dir, 0755), 0);
	{
		FILE *fp = fopen(other, "w");

		assert_non_null(fp);
		fputs("listen: {http: 127.0.0.1:8080}\nuser: daemon\n", fp);
		fclose(fp);
		fp = fopen(self, "w");
		assert_non_null(fp);
		fputs("listen: {http: 127.0.0.1:8080}\n"
		      "user: \"65534:65534\"\n",
		      fp);
		fclose(fp);
	}
	assert_int_equal(chmod(other, 0644), 0);
	assert_int_equal(chmod(self, 0644), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		static struct lbtls_config cfg;
		char *text = NULL;
		size_t len = 0;
		FILE *errs;
		int bad, good;

		if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) ||
		    setresuid(65534, 65534, 65534))
			_exit(3);
		errs = open_memstream(&text, &len);
		bad = config__load(&cfg, other, errs);
		good = config__load(&cfg, self, errs);
		fclose(errs);
		fprintf(stderr, "as uid 65534: %s", text ? text : "");
		/* the error, at line 2, naming both ids */
		_exit(bad != -EINVAL ? 4 :
		      !strstr(text, ":2: 'user' daemon (uid 1, gid 1): "
				    "lbtls runs as uid 65534 gid 65534, not "
				    "root") ?
				       5 :
		      good	    ? 6 :
		      !cfg.user.set ? 7 :
				      0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_good_config, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_defaults_x_served_by_off,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors_carry_file_and_line,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_values, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_missing_pieces, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_yaml_syntax_error, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_ticket_settings, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_buffering_and_limits_settings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ticket_settings_errors,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_ticket_keys_over_max,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_file, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_user_forms, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_user_errors, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_user_when_not_root, setup,
						teardown),
	};

	return cmocka_run_group_tests_name("lbtls_config", tests, NULL, NULL);
}
