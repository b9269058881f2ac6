/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Upstream discovery from the Docker Engine API (upstream.docker), run by
 * 'lbtls discover' (discover.c), a process of its own with the engine's
 * socket and nothing else: one event stream, whatever the number of
 * workers. Every container event that matches the label triggers a fresh
 * list of the running containers; the healthy ones (or running ones without
 * a HEALTHCHECK) go into an upstream_set, which discover writes to
 * upstream.file (upfile.h) for the lbtls master to read.
 */
#ifndef LBTLS_DOCKER_H
#define LBTLS_DOCKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "upstream.h"

#define DOCKER_ID_LEN 64
#define DOCKER_MAX_DYING 64

struct docker_container {
	char id[DOCKER_ID_LEN + 1];
	struct upstream_addr addr;
};

struct docker {
	struct cfg_docker cfg;
	struct upstream_set *out; /* shared with the workers */
	int fd; /* the event stream, -1 while disconnected */
	int epfd; /* where fd and list_fd are registered (data.fd), or -1 */
	/* a GET /containers/json in flight: its socket (or -1), its answer
	 * so far, and when it is given up */
	int list_fd;
	char *list_buf;
	size_t list_len, list_cap;
	uint64_t list_deadline;
	bool in_body; /* past the response head */
	char buf[16384];
	size_t len;
	bool resync; /* a change since the last list was sent: list again */
	bool warned; /* an error is logged once until the next success */
	uint64_t retry_at;
	unsigned backoff_ms;
	uint64_t next_list; /* periodic relist, a safety net */
	/* killed/stopped/died containers, left out until they start again */
	char dying[DOCKER_MAX_DYING][DOCKER_ID_LEN + 1];
	unsigned ndying;
};

/*
 * Parse the JSON array of GET /containers/json into 'out' (at most 'max'):
 * running containers that carry c->label and c->port_label, healthy or
 * without a healthcheck, with an IPv4 address on c->network (any network
 * when empty). Returns how many, or -EINVAL with 'err' set when the JSON is
 * not such an array.
 */
int docker__parse_list(const char *json, size_t len, const struct cfg_docker *c,
		       struct docker_container *out, unsigned max, char *err,
		       size_t errlen);

/*
 * One line of GET /events: sets *action ("start", "die", ...) and 'id' (at
 * most DOCKER_ID_LEN). Returns 0, or -EINVAL for bad JSON or no container
 * event.
 */
int docker__parse_event(const char *line, char *action, size_t alen, char *id,
			char *signal, size_t slen);

void docker__init(struct docker *d, const struct cfg_docker *c,
		  struct upstream_set *out, int epfd);
/* Close the event stream; 'out' keeps the last set. */
void docker__stop(struct docker *d);
/*
 * Connect, list and retry as due, give up a list past its deadline;
 * returns the event fd, or -1. Never waits: call it on every loop pass.
 */
int docker__tick(struct docker *d, uint64_t now);
/* The event stream is readable. */
void docker__on_events(struct docker *d, uint64_t now);
/* d->list_fd is readable. */
void docker__on_list(struct docker *d, uint64_t now);

#endif /* LBTLS_DOCKER_H */
