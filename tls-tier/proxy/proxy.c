// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <string.h>
#include <time.h>

#include "log.h"
#include "proxy.h"

void proxy__publish_health(struct proxy *px)
{
	unsigned i;

	for (i = 0; i < px->up.n; i++)
		METRIC_SET(px->m->servers[i].up,
			   upstream__available(&px->up, i, px->loop.now) ? 1 :
									   0);
}

/* Counted always, logged once a second at most: running out is when a
 * line per request would hurt most. */
void proxy__local_error(struct proxy *px, int err, const char *what)
{
	static uint64_t logged_at, missed;

	METRIC_ADD(px->m->local_errors, 1);
	if (logged_at && px->loop.now - logged_at < 1000) {
		missed++;
		return;
	}
	log_err("%s: %s (a local limit, not the upstream's fault; %llu more since the last report)",
		what, strerror(err < 0 ? -err : err),
		(unsigned long long)missed);
	logged_at = px->loop.now;
	missed = 0;
}

uint64_t proxy__wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
