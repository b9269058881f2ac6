/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* VIPs: parsing "ADDR:PORT", and their entries in lb_vips. */
#ifndef LB_VIP_H
#define LB_VIP_H

#include <stddef.h>
#include "dataplane.h"

#define VIP_TEXT_MAX 64 /* "[ffff:...:ffff]:65535" */

struct vip {
	struct lb_vip_key key;
	struct lb_vip_meta meta;
};

/* "198.18.0.1:443" or "[fd00:198:18::1]:443". Returns 0 or -EINVAL. */
int vip__parse(const char *text, struct lb_vip_key *key);
/* Client address, no port: "198.18.1.10" or "fd00::1". */
int vip__parse_addr(const char *text, struct lb_addr *addr, __u8 *family);
void vip__format(const struct lb_vip_key *key, char *buf, size_t len);
/* "https" or "http" -> enum lb_listener; -EINVAL otherwise. */
int vip__parse_listener(const char *text);
const char *vip__listener_name(__u8 listener);

/* Add with the lowest free index (-EEXIST; -ENOSPC: LB_MAX_VIPS VIPs, or
 * LB_VIP_PORTS_MAX ports on the address); its counters and ring row start
 * empty. Also keeps the address's firewall entry (lb_vip_addrs). */
int vip__add(const struct dataplane *dp, struct vip *v);
/* Change prefix lengths or listener of an existing VIP. */
int vip__update(const struct dataplane *dp, const struct vip *v);
/* Remove the VIP, its workers and its ring row (-ENOENT). */
int vip__del(const struct dataplane *dp, const struct lb_vip_key *key);
int vip__get(const struct dataplane *dp, const struct lb_vip_key *key,
	     struct lb_vip_meta *meta);
/* All VIPs sorted by index; returns the count (<= LB_MAX_VIPS). */
int vip__list(const struct dataplane *dp, struct vip *out);
/* Rewrite lb_addr_filter from the VIPs and the cluster self_addr (after
 * lb_config.self_host/self_addr changed). */
int vip__sync_filters(const struct dataplane *dp);

#endif /* LB_VIP_H */
