// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include "cluster_ring.h"
#include "maglev.h"
#include "ring.h"
#include "worker.h"

int ring__rebuild(const struct dataplane *dp, const struct lb_vip_meta *vip,
		  __u8 family, size_t *moved)
{
	__u32 m = dp->cfg.ring_size, *old = NULL, *new = NULL, *changed = NULL;
	struct maglev_worker mw[LB_MAX_WORKERS];
	struct worker *ws;
	int n, i, err = -ENOMEM;

	*moved = 0;
	/* clustered: the agent writes global rings (cluster_ring.h); a
	 * single-host ring here would undo them until its next tick */
	if (cluster_ring__active(dp))
		return 0;
	ws = calloc(LB_MAX_WORKERS, sizeof(*ws));
	old = malloc(m * sizeof(*old));
	new = malloc(m * sizeof(*new));
	changed = malloc(m * sizeof(*changed));
	if (!ws || !old || !new || !changed)
		goto out;
	n = worker__list(dp, vip, family, NULL, ws);
	for (i = 0; i < n; i++) {
		int live = ws[i].has_socket &&
			   !(ws[i].st.flags & (LB_WF_DRAINED | LB_WF_DOWN));

		mw[i].id = ws[i].id;
		mw[i].weight = live ? ws[i].st.weight : 0;
	}
	/* the table from the set alone; the ring in use only for the diff */
	err = maglev__build(mw, n, m, new);
	err = err ?: dataplane__ring_read(dp, vip->index, old);
	if (err)
		goto out;
	*moved = maglev__diff(old, new, m, changed);
	err = dataplane__ring_write(dp, vip->index, new, changed, *moved);
out:
	free(ws);
	free(old);
	free(new);
	free(changed);
	return err;
}
