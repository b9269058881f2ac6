// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Shared-memory counters (tls-tier/metrics.c): /metrics sums every worker's
 * block, and a worker's exit folds its counters into the retired block so
 * totals never go backwards across reloads and respawns.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "config.h"
#include "metrics.h"

static char text[256 * 1024];

static void render(struct metrics_shm *m)
{
	size_t n = metrics__render(m, text, sizeof(text));

	assert_true(n > 0 && n < sizeof(text));
	text[n] = 0;
}

static void assert_line(const char *line)
{
	char want[256];

	snprintf(want, sizeof(want), "\n%s\n", line);
	if (!strstr(text, want))
		fail_msg("no line '%s' in:\n%s", line, text);
}

static void test_sum_and_retire(void **state)
{
	struct metrics_shm *m = metrics__create();
	static struct cfg_upstream up;
	struct metrics_block *a, *b, *c;

	(void)state;
	assert_non_null(m);
	memset(&up, 0, sizeof(up));
	up.nservers = 2;
	strcpy(up.servers[0].name, "127.0.0.1:5001");
	strcpy(up.servers[1].name, "127.0.0.1:5002");
	a = metrics__claim(m, 0, 0, &up);
	b = metrics__claim(m, 1, 0, &up);
	assert_non_null(a);
	assert_non_null(b);
	assert_ptr_not_equal(a, b);
	a->pid = 100;
	b->pid = 101;
	METRIC_ADD(a->status[200], 3);
	METRIC_ADD(b->status[200], 4);
	METRIC_ADD(b->status[502], 1);
	METRIC_ADD(a->handshakes_full, 2);
	METRIC_ADD(b->handshakes_resumed, 5);
	METRIC_ADD(a->active, 1);
	METRIC_ADD(b->active, 2);
	METRIC_ADD(a->servers[1].requests, 6);
	METRIC_ADD(a->servers[1].latency_us, 1500000);
	METRIC_SET(b->servers[0].up, 0);
	render(m);
	assert_line("lbtls_requests_total{code=\"200\"} 7");
	assert_line("lbtls_requests_total{code=\"502\"} 1");
	assert_line("lbtls_handshakes_total{type=\"full\"} 2");
	assert_line("lbtls_handshakes_total{type=\"resumed\"} 5");
	assert_line("lbtls_connections_active 3");
	assert_line(
		"lbtls_upstream_responses_total{server=\"127.0.0.1:5002\"} 6");
	assert_line(
		"lbtls_upstream_response_seconds_sum{server=\"127.0.0.1:5002\"} 1.500000");
	assert_line(
		"lbtls_upstream_up{server=\"127.0.0.1:5001\",worker=\"1\",pid=\"101\"} 0");
	assert_line(
		"lbtls_upstream_up{server=\"127.0.0.1:5001\",worker=\"0\",pid=\"100\"} 1");
	assert_line("lbtls_workers 2");

	/* worker 1 exits, its replacement starts from zero */
	metrics__retire(m, b);
	c = metrics__claim(m, 1, 1, &up);
	assert_non_null(c);
	c->pid = 102;
	METRIC_ADD(c->status[200], 1);
	render(m);
	assert_line("lbtls_requests_total{code=\"200\"} 8");
	assert_line("lbtls_requests_total{code=\"502\"} 1");
	assert_line("lbtls_handshakes_total{type=\"resumed\"} 5");
	assert_line("lbtls_connections_active 1"); /* a gauge is not kept */
	assert_line("lbtls_workers 2");
	assert_null(strstr(text, "pid=\"101\""));
	metrics__destroy(m);
}

static void test_blocks_run_out(void **state)
{
	struct metrics_shm *m = metrics__create();
	static struct cfg_upstream up;
	unsigned i;

	(void)state;
	assert_non_null(m);
	for (i = 0; i < METRICS_MAX_PROCS; i++)
		assert_non_null(metrics__claim(m, i % 4, 0, &up));
	assert_null(metrics__claim(m, 0, 0, &up));
	metrics__retire(m, &m->procs[7]);
	assert_ptr_equal(metrics__claim(m, 0, 1, &up), &m->procs[7]);
	metrics__destroy(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sum_and_retire),
		cmocka_unit_test(test_blocks_run_out),
	};

	return cmocka_run_group_tests_name("lbtls_metrics", tests, NULL, NULL);
}
