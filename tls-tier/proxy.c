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

void proxy__local_error(struct proxy *px, int err, const char *what)
{
	METRIC_ADD(px->m->local_errors, 1);
	log_err("%s: %s (a local limit, not the upstream's fault)", what,
		strerror(err < 0 ? -err : err));
}

uint64_t proxy__wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
