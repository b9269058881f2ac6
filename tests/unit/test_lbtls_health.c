// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Active health checks (tls-tier/proxy/health.c) on a real loop and a real
 * backend socket:
 * - a probe's result reaches the owner through its callback (the server
 *   goes down after 'fall' failed probes, up again after 'rise' good ones);
 * - health__stop() from an event callback while a probe's event is queued
 *   in the same batch (a reload stops the checks from a signal event): the
 *   queued event must find a closed probe, not freed memory. Built with
 *   ASan, the old code (free() in health__stop) reports a
 *   heap-use-after-free here.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <cmocka.h>

/* Built into this file, with ASan, so that their memory accesses are
 * checked (the archive's copies are not instrumented). */
#include "../../tls-tier/proxy/health.c"
#include "../../tls-tier/core/loop.c"

static struct loop L;
static struct upstream U;
static struct cfg_upstream C;
static int lfd = -1;
static unsigned ups, downs;
static struct health *H;

static void on_health(void *data, unsigned server, enum health_event ev)
{
	assert_ptr_equal(data, &U);
	assert_int_equal(server, 0);
	if (ev == HEALTH_UP)
		ups++;
	else if (ev == HEALTH_DOWN)
		downs++;
}

static int setup(void **state)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sin);

	(void)state;
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) ||
	    listen(lfd, 16) || getsockname(lfd, (struct sockaddr *)&sin, &sl))
		return -1;
	memset(&C, 0, sizeof(C));
	memcpy(&C.servers[0].ss, &sin, sizeof(sin));
	C.servers[0].len = sizeof(sin);
	C.servers[0].weight = 1;
	snprintf(C.servers[0].name, sizeof(C.servers[0].name), "127.0.0.1:%u",
		 ntohs(sin.sin_port));
	C.nservers = 1;
	C.health.enabled = true;
	strcpy(C.health.path, "/healthz");
	C.health.interval_ms = 20;
	C.health.timeout_ms = 5000;
	C.health.rise = 1;
	C.health.fall = 1;
	ups = downs = 0;
	if (loop__init(&L) || upstream__init(&U, &C, 1))
		return -1;
	return health__start(&L, &U, &C.health, on_health, &U, &H);
}

static int teardown(void **state)
{
	(void)state;
	health__stop(H);
	H = NULL;
	loop__fini(&L);
	close(lfd);
	return 0;
}

/* Run the loop until the backend has a probe's request; its socket. */
static int accept_probe(void)
{
	char buf[512];
	int i, fd = -1;
	ssize_t n = 0;

	for (i = 0; i < 500 && fd < 0; i++) {
		loop__run_once(&L, 5);
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	}
	assert_true(fd >= 0);
	for (i = 0; i < 500 && n <= 0; i++) {
		loop__run_once(&L, 5);
		n = recv(fd, buf, sizeof(buf) - 1, 0);
	}
	assert_true(n > 0);
	buf[n] = 0;
	assert_non_null(strstr(buf, "GET /healthz HTTP/1.1\r\n"));
	return fd;
}

static void test_results_through_callback(void **state)
{
	static const char bad[] = "HTTP/1.1 500 Oops\r\n\r\n";
	static const char good[] = "HTTP/1.1 200 OK\r\n\r\n";
	int fd, i;

	(void)state;
	fd = accept_probe();
	assert_int_equal(send(fd, bad, sizeof(bad) - 1, 0), sizeof(bad) - 1);
	for (i = 0; i < 200 && !downs; i++)
		loop__run_once(&L, 5);
	close(fd);
	assert_int_equal(downs, 1);
	assert_false(upstream__available(&U, 0, L.now));
	fd = accept_probe();
	assert_int_equal(send(fd, good, sizeof(good) - 1, 0), sizeof(good) - 1);
	for (i = 0; i < 200 && !ups; i++)
		loop__run_once(&L, 5);
	close(fd);
	assert_int_equal(ups, 1);
	assert_true(upstream__available(&U, 0, L.now));
}

/* The trigger's callback stops the checks. */
static void stop_io(struct loop_io *io, uint32_t events)
{
	uint64_t v;

	(void)events;
	assert_int_equal(read(io->fd, &v, sizeof(v)), sizeof(v));
	health__stop(H);
	H = NULL;
}

static void test_stop_with_probe_event_queued(void **state)
{
	static const char good[] = "HTTP/1.1 200 OK\r\n\r\n";
	struct loop_io trig;
	uint64_t one = 1;
	int fd, efd;

	(void)state;
	fd = accept_probe(); /* the probe now waits for the answer */
	/* Level-triggered epoll keeps a reported item on its ready list
	 * until the next wait finds it idle: two idle passes empty it, so
	 * the order below is the order of the batch. */
	loop__run_once(&L, 0);
	loop__run_once(&L, 0);
	efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	assert_true(efd >= 0);
	loop__io_init(&trig, efd, stop_io);
	assert_int_equal(loop__io_set(&L, &trig, EPOLLIN), 0);
	/* Ready in this order: epoll hands them out in one batch, the
	 * trigger first, so the probe's event is still queued when the
	 * checks stop. */
	assert_int_equal(write(efd, &one, sizeof(one)), sizeof(one));
	assert_int_equal(send(fd, good, sizeof(good) - 1, 0), sizeof(good) - 1);
	usleep(10000);
	assert_int_equal(loop__run_once(&L, 100), 0);
	assert_null(H);
	assert_int_equal(ups + downs, 0); /* no result after the stop */
	loop__io_close(&L, &trig);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_results_through_callback,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_stop_with_probe_event_queued, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
