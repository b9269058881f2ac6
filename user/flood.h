/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * SYN-flood defence settings (docs/xdp-outcomes.md, "Flood mode") as
 * operators name them, and their fields in lb_config. One grammar for the
 * agent config's flood: section and 'lbctl flood set KEY VALUE':
 *
 *   enabled       bool          detect floods, defend in flood mode
 *   syn_rate      1..10^8       SYNs/s to VIPs per CPU that start flood mode
 *   hold          duration      flood mode lasts this long past the last
 *                               window over the rate ("500ms", "2s", "1m")
 *   cookies       bool          answer SYNs with XDP SYN cookies in flood mode
 *   source_rate   0..10^6       SYNs/s per source prefix per CPU (0: no limit)
 *   source_burst  1..10^6       bucket depth, SYNs
 *   v4_prefix     1..32         source bits that make a bucket's prefix
 *   v6_prefix     1..128
 */
#ifndef LB_FLOOD_SETTINGS_H
#define LB_FLOOD_SETTINGS_H

#include <stddef.h>
#include <stdio.h>
#include "dataplane.h"

struct flood_settings {
	__u32 flags; /* LB_CF_FLOOD | LB_CF_COOKIES */
	__u32 syn_rate;
	__u32 hold_ms;
	__u32 src_rate;
	__u32 src_burst;
	__u8 v4_prefix;
	__u8 v6_prefix;
};

/* The values a new instance starts with (LB_*_DEFAULT). */
void flood__defaults(struct flood_settings *s);
/* Set one key from its text. -ENOENT: no such key; -EINVAL: bad value;
 * why names the key and the accepted values either way. */
int flood__set_key(struct flood_settings *s, const char *key,
		   const char *value, char *why, size_t len);
/* "true"/"false" and YAML's other spellings (yes/no, on/off, 1/0). */
int flood__parse_bool(const char *text, int *out);
/* "500ms", "2s", "1m" -> milliseconds in [min_ms, max_ms]. */
int flood__parse_duration(const char *text, __u32 min_ms, __u32 max_ms,
			  __u32 *out);

void flood__from_config(struct flood_settings *s, const struct lb_config *c);
void flood__to_config(const struct flood_settings *s, struct lb_config *c);
/* Read lb_config now (not dp->cfg, which may be old). */
int flood__read(const struct dataplane *dp, struct flood_settings *s);
/* Write the settings into lb_config, the other fields as they are now;
 * returns 1 if anything changed, 0 if not, or -errno. Caller holds the
 * instance lock. */
int flood__apply(struct dataplane *dp, const struct flood_settings *s);
/* CPUs in flood mode now (lb_flood's flood_until is in the future). */
int flood__cpus_flooded(const struct dataplane *dp);
/* One "key value" line per setting, in the grammar above. */
void flood__print(FILE *f, const struct flood_settings *s);
/* One line: "on, cookies on: 20000 SYNs/s per CPU, hold 2s; ...". */
void flood__summary(const struct flood_settings *s, char *buf, size_t len);

#endif /* LB_FLOOD_SETTINGS_H */
