// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * epoll event loop. Level-triggered because TLS keeps decrypted bytes of its
 * own (SSL_has_pending): the proxy re-tries those itself, and
 * level-triggering means a missed edge can never stall a connection (conn.c
 * relies on it to skip reads that would only return EAGAIN).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>

#include "loop.h"

#define LOOP_BATCH 256

uint64_t loop__now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int loop__init(struct loop *l)
{
	memset(l, 0, sizeof(*l));
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0)
		return -errno;
	l->clock = loop__now_ms;
	l->now = l->clock();
	return 0;
}

static void run_deferred(struct loop *l)
{
	while (l->ndeferred)
		free(l->deferred[--l->ndeferred]);
}

void loop__fini(struct loop *l)
{
	run_deferred(l);
	free(l->deferred);
	free(l->heap);
	if (l->epfd >= 0)
		close(l->epfd);
	l->epfd = -1;
}

void loop__io_init(struct loop_io *io, int fd, loop_io_cb cb)
{
	io->fd = fd;
	io->events = 0;
	io->added = false;
	io->cb = cb;
}

int loop__io_set(struct loop *l, struct loop_io *io, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = io };
	int op;

	if (io->added && io->events == events)
		return 0;
	op = io->added ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	if (epoll_ctl(l->epfd, op, io->fd, &ev))
		return -errno;
	io->added = true;
	io->events = events;
	return 0;
}

int loop__io_unwatch(struct loop *l, struct loop_io *io)
{
	if (!io->added)
		return 0;
	if (epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL))
		return -errno;
	io->added = false;
	io->events = 0;
	return 0;
}

void loop__io_close(struct loop *l, struct loop_io *io)
{
	if (io->fd < 0)
		return;
	if (io->added)
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL);
	close(io->fd);
	io->fd = -1;
	io->added = false;
}

void loop__defer_free(struct loop *l, void *ptr)
{
	if (l->ndeferred == l->capdeferred) {
		int cap = l->capdeferred ? 2 * l->capdeferred : 64;
		void **d = realloc(l->deferred, cap * sizeof(*d));

		if (!d) {
			/* Leaking beats a use-after-free. */
			return;
		}
		l->deferred = d;
		l->capdeferred = cap;
	}
	l->deferred[l->ndeferred++] = ptr;
}

/* --- timers: binary min-heap on 'at' ----------------------------------- */

static void heap_swap(struct loop *l, int a, int b)
{
	struct loop_timer *t = l->heap[a];

	l->heap[a] = l->heap[b];
	l->heap[b] = t;
	l->heap[a]->idx = a;
	l->heap[b]->idx = b;
}

static void heap_up(struct loop *l, int i)
{
	while (i > 0 && l->heap[(i - 1) / 2]->at > l->heap[i]->at) {
		heap_swap(l, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void heap_down(struct loop *l, int i)
{
	for (;;) {
		int c = 2 * i + 1, m = i;

		if (c < l->nheap && l->heap[c]->at < l->heap[m]->at)
			m = c;
		if (c + 1 < l->nheap && l->heap[c + 1]->at < l->heap[m]->at)
			m = c + 1;
		if (m == i)
			return;
		heap_swap(l, i, m);
		i = m;
	}
}

void loop__timer_init(struct loop_timer *t, loop_timer_cb cb)
{
	t->at = 0;
	t->idx = -1;
	t->cb = cb;
}

void loop__timer_del(struct loop *l, struct loop_timer *t)
{
	struct loop_timer *moved;
	int i = t->idx;

	if (i < 0)
		return;
	t->idx = -1;
	l->nheap--;
	if (i == l->nheap)
		return;
	moved = l->heap[l->nheap];
	l->heap[i] = moved;
	moved->idx = i;
	heap_up(l, i);
	heap_down(l, moved->idx);
}

void loop__timer_set(struct loop *l, struct loop_timer *t, uint64_t at)
{
	if (t->idx >= 0) {
		if (t->at == at)
			return;
		loop__timer_del(l, t);
	}
	if (l->nheap == l->capheap) {
		int cap = l->capheap ? 2 * l->capheap : 256;
		struct loop_timer **h = realloc(l->heap, cap * sizeof(*h));

		if (!h)
			return; /* the fd's own errors still end the connection */
		l->heap = h;
		l->capheap = cap;
	}
	t->at = at;
	t->idx = l->nheap;
	l->heap[l->nheap++] = t;
	heap_up(l, t->idx);
}

static void run_timers(struct loop *l)
{
	while (l->nheap && l->heap[0]->at <= l->now) {
		struct loop_timer *t = l->heap[0];

		loop__timer_del(l, t);
		t->cb(t);
	}
}

int loop__run_once(struct loop *l, int max_ms)
{
	struct epoll_event evs[LOOP_BATCH];
	int timeout = max_ms, n, i;

	if (l->nheap) {
		uint64_t at = l->heap[0]->at;
		int until = at > l->now ? (int)(at - l->now) : 0;

		if (timeout < 0 || until < timeout)
			timeout = until;
	}
	n = epoll_wait(l->epfd, evs, LOOP_BATCH, timeout);
	if (n < 0 && errno != EINTR)
		return -errno;
	l->now = l->clock();
	for (i = 0; i < n; i++) {
		struct loop_io *io = evs[i].data.ptr;

		if (io->fd >= 0)
			io->cb(io, evs[i].events);
	}
	run_timers(l);
	run_deferred(l);
	return 0;
}
