// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Discovery from the Docker Engine API: the JSON of GET /containers/json and
 * GET /events into servers (tls-tier/discovery/docker.c), the discovered set applied
 * to a worker's upstreams without moving slots (upstream__set), and the
 * upstream.docker settings with their FILE:LINE errors.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <cmocka.h>

#include "config.h"
#include "docker.h"
#include "upstream.h"

static const struct cfg_docker cfg = {
	.enabled = true,
	.socket = "/var/run/docker.sock",
	.label = "xdp-tls-lb.upstream=flaskapp",
	.port_label = "xdp-tls-lb.port",
	.network = "lb-flask",
};

/* One container of the list, as the engine prints it (trimmed). */
#define CONTAINER(id, state, status, labels, nets)                            \
	"{\"Id\":\"" id "\",\"Names\":[\"/c\"],\"Image\":\"lb-flask:2\","     \
	"\"State\":\"" state "\",\"Status\":\"" status                        \
	"\",\"Labels\":{" labels "},\"NetworkSettings\":{\"Networks\":{" nets \
	"}}}"
#define LABELS(port)                                                       \
	"\"xdp-tls-lb.upstream\":\"flaskapp\",\"xdp-tls-lb.port\":\"" port \
	"\",\"com.docker.compose.service\":\"website\""
#define NET(name, ip) \
	"\"" name "\":{\"NetworkID\":\"n1\",\"IPAddress\":\"" ip "\"}"

static int parse(const char *json, struct docker_container *out, unsigned max,
		 char *err)
{
	return docker__parse_list(json, strlen(json), &cfg, out, max, err, 256);
}

static void test_list_takes_healthy_labelled_containers(void **state)
{
	static const char json[] = "[" CONTAINER("aaa", "running", "Up 9 seconds (healthy)", LABELS("5000"), NET("lb-flask", "198.19.200.21")) "," CONTAINER(
		"bbb", "running", "Up 2 seconds (health: starting)",
		LABELS("5000"),
		NET("lb-flask",
		    "198.19.200.22")) "," CONTAINER("ccc", "running",
						    "Up 1 minute (unhealthy)",
						    LABELS("5000"),
						    NET("lb-flask",
							"198.19.200.23")) "," CONTAINER("ddd",
											"exited",
											"Exited (0) 3 seconds ago",
											LABELS("5000"),
											NET("lb-flask",
											    "198.19.200.24")) "," CONTAINER("eee",
															    "running",
															    "Up 4 seconds",
															    LABELS("8080"),
															    NET("bridge", "198.19.0.2") "," NET(
																    "lb-flask",
																    "198.19.200.25")) "]";
	struct docker_container c[8];
	const struct sockaddr_in *sin;
	char err[256] = "";

	(void)state;
	assert_int_equal(parse(json, c, 8, err), 2);
	assert_string_equal(c[0].id, "aaa");
	assert_string_equal(c[0].addr.name, "198.19.200.21:5000");
	sin = (const struct sockaddr_in *)&c[0].addr.ss;
	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(ntohs(sin->sin_port), 5000);
	assert_int_equal(ntohl(sin->sin_addr.s_addr), 0xc613c815);
	assert_int_equal(c[0].addr.len, sizeof(*sin));
	/* no healthcheck: running is enough; the configured network's IP */
	assert_string_equal(c[1].id, "eee");
	assert_string_equal(c[1].addr.name, "198.19.200.25:8080");
}

static void test_list_skips_what_does_not_match(void **state)
{
	static const char json[] = "["
		/* another pool */
		CONTAINER(
			"a1", "running", "Up (healthy)",
			"\"xdp-tls-lb.upstream\":\"other\",\"xdp-tls-lb.port\":\"5000\"",
			NET("lb-flask", "198.19.200.31"))
		/* no port label, a bad port, port 0 */
		"," CONTAINER(
			"a2", "running", "Up (healthy)",
			"\"xdp-tls-lb.upstream\":\"flaskapp\"",
			NET("lb-flask",
			    "198.19.200.32")) "," CONTAINER("a3", "running",
							    "Up (healthy)",
							    LABELS("50x0"),
							    NET("lb-flask",
								"198.19.200.33")) "," CONTAINER("a4",
												"running",
												"Up (healthy)",
												LABELS("0"),
												NET("lb-flask",
												    "198.19.200.34"))
		/* not on the network, or no address on it */
		"," CONTAINER(
			"a5", "running", "Up (healthy)", LABELS("5000"),
			NET("bridge",
			    "198.19.0.3")) "," CONTAINER("a6", "running",
							 "Up (healthy)",
							 LABELS("5000"),
							 NET("lb-flask", ""))
		/* not an object, no Id */
		",42,{\"State\":\"running\"}"
		"]";
	struct docker_container c[8];
	char err[256] = "";

	(void)state;
	assert_int_equal(parse(json, c, 8, err), 0);
	assert_int_equal(parse("[]", c, 8, err), 0);
}

static void test_list_bounded_by_max(void **state)
{
	static const char json[] = "[" CONTAINER(
		"x1", "running", "Up", LABELS("5000"),
		NET("lb-flask",
		    "198.19.200.41")) "," CONTAINER("x2", "running", "Up",
						    LABELS("5000"),
						    NET("lb-flask",
							"198.19.200.42")) "]";
	struct docker_container c[1];
	char err[256] = "";

	(void)state;
	assert_int_equal(parse(json, c, 1, err), 1);
	assert_string_equal(c[0].addr.name, "198.19.200.41:5000");
}

static void test_list_bad_json(void **state)
{
	struct docker_container c[2];
	char err[256] = "";

	(void)state;
	assert_int_equal(parse("[{\"Id\":", c, 2, err), -EINVAL);
	assert_non_null(strstr(err, "bad JSON"));
	err[0] = 0;
	assert_int_equal(parse("{\"message\":\"page not found\"}", c, 2, err),
			 -EINVAL);
	assert_non_null(strstr(err, "array"));
}

static void test_label_without_value(void **state)
{
	static const char json[] =
		"[" CONTAINER("k1", "running", "Up", LABELS("5000"),
			      NET("lb-flask", "198.19.200.51")) "]";
	struct cfg_docker c = cfg;
	struct docker_container out[1];
	char err[256];

	(void)state;
	strcpy(c.label, "xdp-tls-lb.upstream");
	c.network[0] = 0; /* any network */
	assert_int_equal(docker__parse_list(json, strlen(json), &c, out, 1, err,
					    sizeof(err)),
			 1);
	strcpy(c.label, "xdp-tls-lb.other");
	assert_int_equal(docker__parse_list(json, strlen(json), &c, out, 1, err,
					    sizeof(err)),
			 0);
}

static void test_event_lines(void **state)
{
	char action[64], id[DOCKER_ID_LEN + 1], sig[16];

	(void)state;
	assert_int_equal(
		docker__parse_event(
			"{\"status\":\"kill\",\"id\":\"abc\",\"Type\":\"container\",\"Action\":\"kill\",\"Actor\":{\"ID\":\"abc\",\"Attributes\":{\"signal\":\"15\",\"xdp-tls-lb.upstream\":\"flaskapp\"}},\"time\":1}",
			action, sizeof(action), id, sig, sizeof(sig)),
		0);
	assert_string_equal(action, "kill");
	assert_string_equal(id, "abc");
	assert_string_equal(sig, "15");
	assert_int_equal(
		docker__parse_event(
			"{\"Type\":\"container\",\"Action\":\"health_status: healthy\",\"Actor\":{\"ID\":\"def\",\"Attributes\":{}}}",
			action, sizeof(action), id, sig, sizeof(sig)),
		0);
	assert_string_equal(action, "health_status: healthy");
	assert_string_equal(sig, "");
	assert_int_equal(
		docker__parse_event(
			"{\"Type\":\"network\",\"Action\":\"connect\",\"Actor\":{\"ID\":\"n\"}}",
			action, sizeof(action), id, sig, sizeof(sig)),
		-EINVAL);
	assert_int_equal(docker__parse_event("{\"Type\":", action,
					     sizeof(action), id, sig,
					     sizeof(sig)),
			 -EINVAL);
}

/* --- the client against a fake engine that answers when told ------------ */

struct fake_engine {
	char dir[32];
	char path[64];
	int lfd;
};

static void engine_start(struct fake_engine *e, struct cfg_docker *c)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	strcpy(e->dir, "/tmp/lbtls-engine-XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	snprintf(e->path, sizeof(e->path), "%s/docker.sock", e->dir);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", e->path);
	e->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(e->lfd >= 0);
	assert_int_equal(bind(e->lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(e->lfd, 8), 0);
	*c = cfg;
	snprintf(c->socket, sizeof(c->socket), "%s", e->path);
}

/* The next connection and the first line of its request. */
static int engine_accept(struct fake_engine *e, char *line, size_t len)
{
	char buf[4096];
	size_t got = 0;
	ssize_t n;
	int fd = accept(e->lfd, NULL, NULL);

	assert_true(fd >= 0);
	while (!memmem(buf, got, "\r\n\r\n", 4)) {
		n = recv(fd, buf + got, sizeof(buf) - got, 0);
		assert_true(n > 0);
		got += n;
	}
	snprintf(line, len, "%.*s", (int)(strchr(buf, '\r') - buf), buf);
	return fd;
}

static void engine_stop(struct fake_engine *e)
{
	close(e->lfd);
	unlink(e->path);
	rmdir(e->dir);
}

static void say(int fd, const char *text)
{
	assert_int_equal(send(fd, text, strlen(text), MSG_NOSIGNAL),
			 (ssize_t)strlen(text));
}

#define LIST_OF_TWO                                                  \
	"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n"  \
	"[" CONTAINER(                                               \
		"c1", "running", "Up (healthy)", LABELS("5000"),     \
		NET("lb-flask",                                      \
		    "198.19.200.61")) "," CONTAINER("c2", "running", \
						    "Up (healthy)",  \
						    LABELS("5000"),  \
						    NET("lb-flask",  \
							"198.19.200.62")) "]"

/*
 * docker__tick() sends its requests and returns: an engine that has not
 * answered yet (here: the test, which answers only afterwards) holds
 * nothing up. The answer is gathered by docker__on_list(); an event makes
 * a new list, and a 'die' leaves the container out at once.
 */
static void test_client_never_waits_for_the_engine(void **state)
{
	static struct upstream_set out;
	static struct docker d;
	struct fake_engine e;
	struct cfg_docker c;
	char line[512];
	int ev, ls;

	(void)state;
	engine_start(&e, &c);
	docker__init(&d, &c, &out, -1);
	docker__tick(&d, 1000);
	/* both requests are out, nothing answered, nothing failed */
	assert_false(d.warned);
	assert_true(d.fd >= 0);
	assert_true(d.list_fd >= 0);
	ev = engine_accept(&e, line, sizeof(line));
	assert_non_null(strstr(line, "GET /events?filters="));
	ls = engine_accept(&e, line, sizeof(line));
	assert_non_null(strstr(line, "GET /containers/json?filters="));
	/* half an answer: still waiting, nothing published */
	say(ls, "HTTP/1.0 200 OK\r\n");
	docker__on_list(&d, 1001);
	assert_true(d.list_fd >= 0);
	assert_int_equal(out.seq, 0);
	say(ls, LIST_OF_TWO + strlen("HTTP/1.0 200 OK\r\n"));
	close(ls);
	docker__on_list(&d, 1002);
	assert_int_equal(d.list_fd, -1);
	assert_int_equal(out.n, 2);
	assert_int_equal(out.seq, 2);
	assert_string_equal(out.servers[1].name, "198.19.200.62:5000");
	/* c2 dies: left out before the next list answers */
	say(ev,
	    "HTTP/1.0 200 OK\r\n\r\n"
	    "{\"Type\":\"container\",\"Action\":\"die\",\"Actor\":{\"ID\":\"c2\",\"Attributes\":{}}}\n");
	docker__on_events(&d, 1003);
	assert_true(d.list_fd >= 0);
	ls = engine_accept(&e, line, sizeof(line));
	assert_non_null(strstr(line, "GET /containers/json"));
	say(ls, LIST_OF_TWO);
	close(ls);
	docker__on_list(&d, 1004);
	assert_int_equal(out.n, 1);
	assert_string_equal(out.servers[0].name, "198.19.200.61:5000");
	assert_false(d.warned);
	docker__stop(&d);
	close(ev);
	engine_stop(&e);
}

/* An engine that accepts and never answers: the list is given up at its
 * deadline, the set stays, and the engine is retried after the backoff. */
static void test_client_gives_up_a_list_at_its_deadline(void **state)
{
	static struct upstream_set out = { .seq = 2, .n = 1 };
	static struct docker d;
	struct fake_engine e;
	struct cfg_docker c;
	char line[512];
	int ev, ls;

	(void)state;
	engine_start(&e, &c);
	docker__init(&d, &c, &out, -1);
	docker__tick(&d, 1000);
	ev = engine_accept(&e, line, sizeof(line));
	ls = engine_accept(&e, line, sizeof(line));
	docker__on_list(&d, 1500); /* nothing to read */
	docker__tick(&d, 10999);
	assert_true(d.list_fd >= 0);
	assert_false(d.warned);
	docker__tick(&d, 11000);
	assert_true(d.warned);
	assert_int_equal(d.list_fd, -1);
	assert_int_equal(d.fd, -1);
	assert_int_equal(out.seq, 2);
	assert_int_equal(out.n, 1);
	assert_int_equal(d.retry_at, 11500);
	close(ls);
	close(ev);
	engine_stop(&e);
}

/* --- the set applied to a worker's upstreams ----------------------------- */

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

static void static_one(struct upstream *u)
{
	struct cfg_upstream c = { .nservers = 1, .algo = LB_ROUND_ROBIN };
	struct upstream_addr a = addr("198.19.200.11", 5000);

	memcpy(c.servers[0].name, a.name, sizeof(a.name));
	c.servers[0].ss = a.ss;
	c.servers[0].len = a.len;
	c.servers[0].weight = 1;
	assert_int_equal(upstream__init(u, &c, 1), 0);
}

static void test_set_adds_and_removes_keeping_slots(void **state)
{
	static struct upstream u;
	struct upstream_addr s[3] = { addr("198.19.200.21", 5000),
				      addr("198.19.200.22", 5000),
				      addr("198.19.200.23", 5000) };
	unsigned seen[4] = { 0 }, i;
	uint64_t gone;
	int k;

	(void)state;
	static_one(&u);
	assert_int_equal(upstream__set(&u, s, 3, &gone), 0);
	assert_int_equal(gone, 0);
	assert_int_equal(u.n, 4);
	assert_string_equal(u.servers[3].name, "198.19.200.23:5000");
	for (i = 0; i < 40; i++) {
		k = upstream__pick(&u, NULL, 0, 0);
		assert_true(k >= 0 && k < 4);
		seen[k]++;
	}
	for (i = 0; i < 4; i++)
		assert_int_equal(seen[i], 10);

	/* .22 leaves with a request in flight: no new ones, slot kept */
	u.servers[2].active = 1;
	assert_int_equal(upstream__set(&u,
				       (struct upstream_addr[]){ s[0], s[2] },
				       2, &gone),
			 0);
	assert_int_equal(gone, 1ULL << 2);
	assert_int_equal(u.n, 4);
	assert_true(u.servers[2].removed);
	assert_false(upstream__available(&u, 2, 0));
	for (i = 0; i < 30; i++)
		assert_int_not_equal(upstream__pick(&u, NULL, 0, 0), 2);
	/* the static server never leaves */
	assert_int_equal(upstream__set(&u, NULL, 0, &gone), 0);
	assert_int_equal(gone, (1ULL << 1) | (1ULL << 3));
	assert_false(u.servers[0].removed);
	assert_int_equal(upstream__pick(&u, NULL, 0, 0), 0);

	/* .22 comes back into its own slot, with fresh health state */
	u.servers[2].health_down = true;
	assert_int_equal(upstream__set(&u, &s[1], 1, &gone), 0);
	assert_int_equal(gone, 0);
	assert_int_equal(u.n, 4);
	assert_false(u.servers[2].removed);
	assert_false(u.servers[2].health_down);
	assert_int_equal(u.servers[2].active, 1); /* still in flight */
}

static void test_set_reuses_free_slots_when_full(void **state)
{
	static struct upstream u;
	static struct upstream_addr s[CFG_MAX_SERVERS], next[CFG_MAX_SERVERS];
	struct upstream_addr extra[2] = { addr("198.19.201.1", 5000),
					  addr("198.19.201.2", 5000) };
	uint64_t gone;
	unsigned i;

	(void)state;
	static_one(&u);
	for (i = 0; i < CFG_MAX_SERVERS - 1; i++)
		s[i] = addr("198.19.202.1", 1000 + i);
	assert_int_equal(upstream__set(&u, s, CFG_MAX_SERVERS - 1, &gone), 0);
	assert_int_equal(u.n, CFG_MAX_SERVERS);
	/* full: one more does not fit */
	s[CFG_MAX_SERVERS - 1] = extra[0];
	assert_int_equal(upstream__set(&u, s, CFG_MAX_SERVERS, &gone), 1);
	/* two leave, one of them still busy: only the idle slot is reused */
	u.servers[1].active = 1;
	assert_int_equal(upstream__set(&u, &s[2], CFG_MAX_SERVERS - 3, &gone),
			 0);
	assert_int_equal(gone, (1ULL << 1) | (1ULL << 2));
	/* the 61 that stay and two new ones: one free slot for two */
	memcpy(next, &s[2], (CFG_MAX_SERVERS - 3) * sizeof(s[0]));
	next[CFG_MAX_SERVERS - 3] = extra[0];
	next[CFG_MAX_SERVERS - 2] = extra[1];
	assert_int_equal(upstream__set(&u, next, CFG_MAX_SERVERS - 1, &gone),
			 1);
	assert_int_equal(gone, 0);
	assert_string_equal(u.servers[2].name, "198.19.201.1:5000");
	assert_false(u.servers[2].removed);
	assert_true(u.servers[1].removed);
}

/* --- configuration --------------------------------------------------------- */

static int load(const char *yaml, char **errs)
{
	static struct lbtls_config c;
	char path[] = "/tmp/lbtls-docker-XXXXXX";
	size_t len = 0;
	FILE *fp, *ef;
	int fd, err;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	fp = fdopen(fd, "w");
	fputs(yaml, fp);
	fclose(fp);
	*errs = NULL;
	ef = open_memstream(errs, &len);
	memset(&c, 0, sizeof(c));
	err = config__load(&c, path, ef);
	fclose(ef);
	if (!err) {
		assert_true(c.upstream.docker.enabled);
		assert_string_equal(c.upstream.docker.label, "a.b=c");
		assert_string_equal(c.upstream.docker.socket,
				    "/var/run/docker.sock");
		assert_string_equal(c.upstream.docker.port_label,
				    "xdp-tls-lb.port");
		assert_string_equal(c.upstream.docker.network, "lb-flask");
	}
	config__free(&c);
	unlink(path);
	return err;
}

static void test_config(void **state)
{
	char *errs;

	(void)state;
	/* no servers needed with docker discovery; defaults filled in */
	assert_int_equal(load("listen: {http: 127.0.0.1:8080}\n"
			      "upstream:\n"
			      "  docker: {label: a.b=c, network: lb-flask}\n"
			      "  file: /run/x/upstreams\n",
			      &errs),
			 0);
	free(errs);
	assert_int_equal(load("listen: {http: 127.0.0.1:8080}\n"
			      "upstream:\n"
			      "  docker:\n"
			      "    socket: run/docker.sock\n"
			      "    label: \"a b\"\n"
			      "    sockett: x\n",
			      &errs),
			 -EINVAL);
	assert_non_null(
		strstr(errs, ":4: 'docker.socket' must be an absolute"));
	assert_non_null(strstr(errs, ":5: 'docker.label' expects 'key=value'"));
	assert_non_null(
		strstr(errs, ":6: unknown setting 'upstream.docker.sockett'"));
	free(errs);
	assert_int_equal(load("listen: {http: 127.0.0.1:8080}\n"
			      "upstream:\n"
			      "  docker: {network: x}\n",
			      &errs),
			 -EINVAL);
	assert_non_null(strstr(errs, ":3: 'upstream.docker' needs 'label'"));
	free(errs);
	assert_int_equal(load("listen: {http: 127.0.0.1:8080}\n"
			      "upstream: {docker: yes}\n",
			      &errs),
			 -EINVAL);
	assert_non_null(
		strstr(errs, ":2: 'upstream.docker' expects a mapping"));
	free(errs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_takes_healthy_labelled_containers),
		cmocka_unit_test(test_list_skips_what_does_not_match),
		cmocka_unit_test(test_list_bounded_by_max),
		cmocka_unit_test(test_list_bad_json),
		cmocka_unit_test(test_label_without_value),
		cmocka_unit_test(test_event_lines),
		cmocka_unit_test(test_client_never_waits_for_the_engine),
		cmocka_unit_test(test_client_gives_up_a_list_at_its_deadline),
		cmocka_unit_test(test_set_adds_and_removes_keeping_slots),
		cmocka_unit_test(test_set_reuses_free_slots_when_full),
		cmocka_unit_test(test_config),
	};

	return cmocka_run_group_tests_name("lbtls_docker", tests, NULL, NULL);
}
