/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * One epoll loop per worker process, level-triggered, with a binary heap of
 * millisecond timers. Objects closed while a batch of events is being
 * dispatched are freed after the batch (loop__defer_free), so an event
 * that is still queued for them finds io->fd == -1 instead of freed memory.
 */
#ifndef LBTLS_LOOP_H
#define LBTLS_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct loop_io;
typedef void (*loop_io_cb)(struct loop_io *io, uint32_t events);

struct loop_io {
	int fd; /* -1 once closed */
	uint32_t events; /* what epoll currently watches */
	bool added;
	loop_io_cb cb;
};

struct loop_timer;
typedef void (*loop_timer_cb)(struct loop_timer *t);

struct loop_timer {
	uint64_t at; /* monotonic ms */
	int idx; /* heap slot, -1 when not armed */
	loop_timer_cb cb;
};

struct loop {
	int epfd;
	uint64_t now; /* cached monotonic ms, refreshed per iteration */
	uint64_t (*clock)(void); /* loop__now_ms; tests inject their own */
	struct loop_timer **heap;
	int nheap, capheap;
	void **deferred;
	int ndeferred, capdeferred;
	bool stop;
};

int loop__init(struct loop *l);
void loop__fini(struct loop *l);
uint64_t loop__now_ms(void);

void loop__io_init(struct loop_io *io, int fd, loop_io_cb cb);
/* Watch exactly 'events' (EPOLLIN/EPOLLOUT); no syscall when unchanged.
 * Errors and hang-ups are reported whatever 'events' is. */
int loop__io_set(struct loop *l, struct loop_io *io, uint32_t events);
/* Out of epoll until the next loop__io_set(): a hang-up that cannot be
 * acted on yet is not reported again and again. */
int loop__io_unwatch(struct loop *l, struct loop_io *io);
/* Stop watching and close the descriptor. */
void loop__io_close(struct loop *l, struct loop_io *io);

void loop__timer_init(struct loop_timer *t, loop_timer_cb cb);
void loop__timer_set(struct loop *l, struct loop_timer *t, uint64_t at);
void loop__timer_del(struct loop *l, struct loop_timer *t);

/* free(ptr) once the current batch of events is dispatched. */
void loop__defer_free(struct loop *l, void *ptr);

/* Wait at most max_ms (-1: until the next timer) and dispatch. */
int loop__run_once(struct loop *l, int max_ms);

#endif /* LBTLS_LOOP_H */
