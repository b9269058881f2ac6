/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * SYN-flood defence settings (docs/xdp-outcomes.md, "Flood mode") as the
 * agent config's flood: section names them, and their fields in lb_config:
 *
 *   enabled    bool       detect floods, defend in flood mode (LB_CF_FLOOD)
 *   cookies    bool       answer SYNs with XDP SYN cookies in flood mode
 *   syn_rate   1..10^8    SYNs/s to VIPs per CPU that start flood mode
 *   hold_ms    1..3600000 flood mode lasts this long past the last
 *                         window over the rate
 *   src_rate   0..10^6    flood mode: handshakes/s per source prefix per
 *                         CPU, charged by valid cookie ACKs, never by
 *                         SYNs (0: no per-source limit)
 *   src_burst  1..10^6    bucket depth, handshakes
 *   v4_prefix  1..32      source bits that make a bucket's prefix
 *   v6_prefix  1..128
 */
#ifndef LB_FLOOD_SETTINGS_H
#define LB_FLOOD_SETTINGS_H

#include <stddef.h>
#include <stdio.h>
#include "dataplane.h"

struct flood_settings {
	__u32 enabled, cookies; /* 0 or 1 */
	__u32 syn_rate, hold_ms, src_rate, src_burst, v4_prefix, v6_prefix;
};

/* The values a new instance starts with (LB_*_DEFAULT). */
void flood__defaults(struct flood_settings *s);
/* Set one key from its text. -ENOENT: no such key; -EINVAL: bad value;
 * why names the key and the accepted values either way. */
int flood__set_key(struct flood_settings *s, const char *key, const char *value,
		   char *why, size_t len);
void flood__from_config(struct flood_settings *s, const struct lb_config *c);
/* Write the settings into lb_config, its other fields as they are now;
 * returns 1 if anything changed, 0 if not, or -errno. Caller holds the
 * instance lock. */
int flood__apply(struct dataplane *dp, const struct flood_settings *s);
/* CPUs in flood mode now (lb_flood's flood_until is in the future). */
int flood__cpus_flooded(const struct dataplane *dp);
/* One "key value" line per setting, in the grammar above. */
void flood__print(FILE *f, const struct flood_settings *s);

#endif /* LB_FLOOD_SETTINGS_H */
