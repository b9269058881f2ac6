// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Membership announcements: encode, authenticate, decode (cluster_msg.h).
 * Nothing of a datagram is read before its MAC verified but its length.
 */
#include <errno.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "cluster_msg.h"

static const char *const reason_names[CM_R_COUNT] = {
	[CM_OK] = "ok",
	[CM_R_SIZE] = "size",
	[CM_R_MAC] = "mac",
	[CM_R_VERSION] = "version",
	[CM_R_WORKERS] = "workers",
	[CM_R_HOST] = "host",
	[CM_R_SOURCE] = "source",
	[CM_R_REPLAY] = "replay",
	[CM_R_OLD_BOOT] = "old_boot",
	[CM_R_TIME] = "time",
};

const char *cluster_msg__reason_name(enum cm_reason r)
{
	return r < CM_R_COUNT ? reason_names[r] : "?";
}

static void put16(__u8 *p, __u16 v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void put32(__u8 *p, __u32 v)
{
	put16(p, v >> 16);
	put16(p + 2, v);
}

static void put64(__u8 *p, __u64 v)
{
	put32(p, v >> 32);
	put32(p + 4, v);
}

static __u16 get16(const __u8 *p)
{
	return (__u16)(p[0] << 8 | p[1]);
}

static __u32 get32(const __u8 *p)
{
	return (__u32)get16(p) << 16 | get16(p + 2);
}

static __u64 get64(const __u8 *p)
{
	return (__u64)get32(p) << 32 | get32(p + 4);
}

static int mac(const __u8 *key, size_t keylen, const __u8 *data, size_t len,
	       __u8 out[CM_MAC_LEN])
{
	unsigned int olen = CM_MAC_LEN;

	if (!HMAC(EVP_sha256(), key, (int)keylen, data, len, out, &olen) ||
	    olen != CM_MAC_LEN)
		return -EIO;
	return 0;
}

int cluster_msg__encode(const struct cluster_msg *m, const __u8 *key,
			size_t keylen, __u8 *buf, size_t len)
{
	size_t body = CM_HDR_LEN + 4 * (size_t)m->nworkers;
	int i;

	if (m->nworkers > CM_MAX_WORKERS || keylen < CM_KEY_MIN)
		return -EINVAL;
	if (len < body + CM_MAC_LEN)
		return -ENOSPC;
	put32(buf, CM_MAGIC);
	buf[4] = CM_VERSION;
	buf[5] = m->flags;
	put16(buf + 6, m->nworkers);
	put32(buf + 8, m->host);
	put64(buf + 12, m->boot);
	put64(buf + 20, m->seq);
	put64(buf + 28, m->time_ms);
	for (i = 0; i < m->nworkers; i++) {
		put16(buf + CM_HDR_LEN + 4 * i, m->workers[i].id);
		put16(buf + CM_HDR_LEN + 4 * i + 2, m->workers[i].weight);
	}
	if (mac(key, keylen, buf, body, buf + body))
		return -EIO;
	return (int)(body + CM_MAC_LEN);
}

enum cm_reason cluster_msg__decode(const __u8 *buf, size_t len, const __u8 *key,
				   size_t keylen, struct cluster_msg *m)
{
	__u64 seen[CM_MAX_WORKERS / 64] = { 0 };
	__u8 want[CM_MAC_LEN];
	size_t body;
	int i;

	if (len < CM_MIN_LEN || len > CM_MAX_LEN)
		return CM_R_SIZE;
	body = len - CM_MAC_LEN;
	if (mac(key, keylen, buf, body, want) ||
	    CRYPTO_memcmp(want, buf + body, CM_MAC_LEN))
		return CM_R_MAC;
	if (get32(buf) != CM_MAGIC || buf[4] != CM_VERSION)
		return CM_R_VERSION;
	m->nworkers = get16(buf + 6);
	if (m->nworkers > CM_MAX_WORKERS ||
	    body != CM_HDR_LEN + 4 * (size_t)m->nworkers)
		return CM_R_WORKERS;
	m->flags = buf[5];
	m->host = get32(buf + 8);
	m->boot = get64(buf + 12);
	m->seq = get64(buf + 20);
	m->time_ms = get64(buf + 28);
	for (i = 0; i < m->nworkers; i++) {
		m->workers[i].id = get16(buf + CM_HDR_LEN + 4 * i);
		m->workers[i].weight = get16(buf + CM_HDR_LEN + 4 * i + 2);
		if (m->workers[i].id >= LB_MAX_WORKERS ||
		    m->workers[i].weight > LB_MAX_WEIGHT)
			return CM_R_WORKERS;
		/* a worker twice would make every host's ring build fail
		 * (maglev refuses duplicate ids): the whole message goes */
		if (seen[m->workers[i].id / 64] &
		    (1ull << (m->workers[i].id % 64)))
			return CM_R_WORKERS;
		seen[m->workers[i].id / 64] |= 1ull << (m->workers[i].id % 64);
	}
	return CM_OK;
}

enum cm_reason cluster_msg__check_fresh(struct cluster_peer_seq *s,
					const struct cluster_msg *m,
					__u64 now_ms)
{
	__u64 d =
		m->time_ms > now_ms ? m->time_ms - now_ms : now_ms - m->time_ms;

	if (d > CM_TIME_WINDOW_MS)
		return CM_R_TIME;
	if (s->known && m->boot == s->boot && m->seq <= s->seq)
		return CM_R_REPLAY;
	/* a capture of an earlier boot, replayed within the window, must not
	 * displace the running one: a new boot starts after the last */
	if (s->known && m->boot != s->boot && m->time_ms <= s->time_ms)
		return CM_R_OLD_BOOT;
	s->known = 1;
	s->boot = m->boot;
	s->seq = m->seq;
	s->time_ms = m->time_ms;
	return CM_OK;
}
