// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Shared-memory counters (tls-tier/core/metrics.c): /metrics sums every worker's
 * block, and a worker's exit folds its counters into the retired block so
 * totals never go backwards across reloads and respawns.
 */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "config.h"
#include "metrics.h"

static char *text;
static size_t text_len;

static void render(struct metrics_shm *m)
{
	free(text);
	text = NULL;
	assert_int_equal(metrics__render(m, &text, &text_len), 0);
	assert_non_null(text);
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

/*
 * A reload forks a whole new generation while the old one drains: the
 * blocks hold two generations of the most workers a configuration allows.
 */
static void test_two_full_generations(void **state)
{
	struct metrics_shm *m = metrics__create();
	static struct cfg_upstream up;
	unsigned i;

	(void)state;
	assert_non_null(m);
	for (i = 0; i < 2 * CFG_MAX_WORKERS; i++)
		if (!metrics__claim(m, i % CFG_MAX_WORKERS, i / CFG_MAX_WORKERS,
				    &up))
			fail_msg("no block for worker %u of generation %u",
				 i % CFG_MAX_WORKERS, i / CFG_MAX_WORKERS);
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

/*
 * One line of the Prometheus text format (version 0.0.4), without its
 * newline: a "# HELP name text" or "# TYPE name type" comment, or a sample
 * 'name{label="value",...} number'. The name of a sample goes to *name.
 */
static bool is_name(const char **p, bool metric)
{
	const char *s = *p;

	if (!(**p == '_' || (**p >= 'a' && **p <= 'z') ||
	      (**p >= 'A' && **p <= 'Z') || (metric && **p == ':')))
		return false;
	while (**p == '_' || (**p >= 'a' && **p <= 'z') ||
	       (**p >= 'A' && **p <= 'Z') || (**p >= '0' && **p <= '9') ||
	       (metric && **p == ':'))
		(*p)++;
	return *p > s;
}

static bool prom_line(const char *l, const char *end, char *name, size_t cap)
{
	const char *p = l, *n;
	char *num_end;

	if (*p == '#') {
		if (!strncmp(p, "# HELP ", 7))
			p += 7;
		else if (!strncmp(p, "# TYPE ", 7))
			p += 7;
		else
			return false;
		if (!is_name(&p, true) || *p != ' ')
			return false;
		if (!strncmp(l, "# TYPE ", 7)) {
			p++;
			return (end - p == 7 && !strncmp(p, "counter", 7)) ||
			       (end - p == 5 && !strncmp(p, "gauge", 5)) ||
			       (end - p == 7 && !strncmp(p, "summary", 7)) ||
			       (end - p == 9 && !strncmp(p, "histogram", 9)) ||
			       (end - p == 7 && !strncmp(p, "untyped", 7));
		}
		return p + 1 < end;
	}
	n = p;
	if (!is_name(&p, true) || (size_t)(p - n) >= cap)
		return false;
	memcpy(name, n, p - n);
	name[p - n] = 0;
	if (*p == '{') {
		p++;
		while (*p != '}') {
			if (!is_name(&p, false) || *p++ != '=' || *p++ != '"')
				return false;
			while (p < end && *p != '"' && *p != '\\' && *p != '\n')
				p++;
			if (*p++ != '"')
				return false;
			if (*p == ',')
				p++;
			else if (*p != '}')
				return false;
		}
		p++;
	}
	if (*p++ != ' ' || p >= end)
		return false;
	strtod(p, &num_end);
	return num_end == end;
}

/* The whole text is valid; returns how many samples are named 'want'. */
static unsigned check_exposition(const char *want)
{
	const char *l = text, *nl;
	char name[128];
	unsigned n = 0;

	assert_true(text_len > 0);
	assert_int_equal(strlen(text), text_len); /* all that was declared */
	if (text[text_len - 1] != '\n')
		fail_msg("the text ends mid-line: '...%s'",
			 text + (text_len > 80 ? text_len - 80 : 0));
	for (; l < text + text_len; l = nl + 1) {
		nl = strchr(l, '\n');
		if (!prom_line(l, nl, name, sizeof(name)))
			fail_msg("not a Prometheus line: '%.*s'", (int)(nl - l),
				 l);
		if (*l != '#' && !strcmp(name, want))
			n++;
	}
	return n;
}

/*
 * The most /metrics can hold: every process slot in use, each with the
 * most servers, names of the longest, counters of 20 digits, every status
 * code. The text must be complete: valid to its last line, which is there.
 */
static void test_render_everything(void **state)
{
	struct metrics_shm *m = metrics__create();
	static struct cfg_upstream up;
	struct metrics_block *b;
	char last[256];
	unsigned i, j;

	(void)state;
	assert_non_null(m);
	memset(&up, 0, sizeof(up));
	up.nservers = CFG_MAX_SERVERS;
	for (j = 0; j < CFG_MAX_SERVERS; j++) {
		char *name = up.servers[j].name;
		size_t cap = sizeof(up.servers[j].name);

		memset(name, 'a', cap - 1);
		name[cap - 1] = 0;
		snprintf(name + cap - 1 - 6, 7, ":%05u", 10000 + j);
	}
	for (i = 0; i < METRICS_MAX_PROCS; i++) {
		b = metrics__claim(m, i % CFG_MAX_WORKERS, i / CFG_MAX_WORKERS,
				   &up);
		assert_non_null(b);
		b->pid = 4194304 - i; /* pid_max's widest */
		for (j = 0; j < METRICS_MAX_STATUS; j++)
			b->status[j] = 1ull << 54; /* x 512 still fits */
		b->handshakes_full = b->handshakes_resumed = 1ull << 54;
		b->handshake_errors = b->accepted = 1ull << 54;
		b->local_errors = 1ull << 54;
		b->active = 1ll << 54;
		for (j = 0; j < CFG_MAX_SERVERS; j++) {
			b->servers[j].requests = 1ull << 54;
			b->servers[j].failures = 1ull << 54;
			b->servers[j].latency_us = 1ull << 54;
		}
	}
	render(m);
	assert_int_equal(check_exposition("lbtls_upstream_up"),
			 METRICS_MAX_PROCS * CFG_MAX_SERVERS);
	assert_int_equal(check_exposition("lbtls_requests_total"),
			 METRICS_MAX_STATUS);
	snprintf(
		last, sizeof(last),
		"\nlbtls_upstream_up{server=\"%s\",worker=\"%d\",pid=\"%d\"} 1\n",
		up.servers[CFG_MAX_SERVERS - 1].name,
		(METRICS_MAX_PROCS - 1) % CFG_MAX_WORKERS,
		4194304 - (METRICS_MAX_PROCS - 1));
	assert_non_null(strstr(text, last));
	snprintf(last, sizeof(last), "\nlbtls_workers %u\n", METRICS_MAX_PROCS);
	assert_int_equal(strlen(text) - strlen(last),
			 strstr(text, last) ? strstr(text, last) - text : -1);
	metrics__destroy(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sum_and_retire),
		cmocka_unit_test(test_two_full_generations),
		cmocka_unit_test(test_blocks_run_out),
		cmocka_unit_test(test_render_everything),
	};

	int failed =
		cmocka_run_group_tests_name("lbtls_metrics", tests, NULL, NULL);

	free(text);
	return failed;
}
