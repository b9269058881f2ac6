// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * 'lbtls discover' (discover.h): one epoll loop over a signalfd, the
 * engine's event stream and a list request in flight (docker.c: nothing
 * waits, so SIGTERM is handled at once even when the engine hangs). Each
 * new set is written atomically to
 * upstream.file; nothing is written before the first list succeeds, so a
 * restart of this process or of the engine leaves the last set in place.
 * A list that finds the same set only refreshes the file's time: lbtls
 * tells a live discover from a dead one by it (upstream.file_max_age).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>

#include "config.h"
#include "discover.h"
#include "docker.h"
#include "log.h"
#include "loop.h"
#include "upfile.h"

struct discover {
	const char *path; /* the configuration */
	struct lbtls_config cfg;
	struct upstream_set set; /* docker.c's output */
	struct docker docker;
	uint32_t written; /* set.seq last written to the file */
	/* what the file holds: the 30 s relist rewrites nothing unchanged */
	struct upstream_addr last[CFG_MAX_SERVERS];
	unsigned last_n;
	bool have_last;
	bool write_failed; /* logged once until a write succeeds */
	int epfd, sigfd;
};

static void start(struct discover *d)
{
	const struct cfg_docker *c = &d->cfg.upstream.docker;

	docker__init(&d->docker, c, &d->set, d->epfd);
	d->written = d->set.seq;
	d->have_last = false; /* settings may have changed: write the next */
	log_info(
		"watching containers labelled %s on %s (port from label %s) through %s; writing their addresses to %s",
		c->label, c->network[0] ? c->network : "any network",
		c->port_label, c->socket, d->cfg.upstream.file);
}

static void write_set(struct discover *d)
{
	char names[CFG_MAX_SERVERS * 24], comment[512];
	const struct upstream_set *s = &d->set;
	size_t off = 0;
	unsigned i;
	int err;

	if (s->seq == d->written)
		return;
	if (d->have_last && s->n == d->last_n &&
	    !memcmp(s->servers, d->last, s->n * sizeof(s->servers[0]))) {
		/* the engine answered: the file's time says so to lbtls
		 * (upstream.file_max_age), its content stays */
		err = upfile__touch(d->cfg.upstream.file);
		if (err && !d->write_failed)
			log_err("cannot refresh the time of %s: %s; retrying",
				d->cfg.upstream.file, strerror(-err));
		d->write_failed = err != 0;
		if (!err)
			d->written = s->seq;
		return;
	}
	snprintf(comment, sizeof(comment),
		 "written by lbtls discover: containers labelled %s on %s",
		 d->cfg.upstream.docker.label,
		 d->cfg.upstream.docker.network[0] ?
			 d->cfg.upstream.docker.network :
			 "any network");
	err = upfile__write(d->cfg.upstream.file, s->servers, s->n, comment);
	if (err) {
		if (!d->write_failed)
			log_err("cannot write %s: %s; retrying",
				d->cfg.upstream.file, strerror(-err));
		d->write_failed = true;
		return;
	}
	d->write_failed = false;
	d->written = s->seq;
	memcpy(d->last, s->servers, s->n * sizeof(s->servers[0]));
	d->last_n = s->n;
	d->have_last = true;
	names[0] = 0;
	for (i = 0; i < s->n && off < sizeof(names) - 1; i++)
		off += snprintf(names + off, sizeof(names) - off, " %s",
				s->servers[i].name);
	log_info("%s: %u server(s):%s", d->cfg.upstream.file, s->n, names);
}

static void reload(struct discover *d)
{
	static struct lbtls_config next;

	if (config__load_discovery(&next, d->path, stderr)) {
		log_err("SIGHUP: %s has errors: keeping the running settings",
			d->path);
		return;
	}
	log_info("SIGHUP: %s reloaded", d->path);
	docker__stop(&d->docker);
	config__free(&d->cfg);
	d->cfg = next;
	start(d);
}

static int setup(struct discover *d)
{
	struct epoll_event ev = { .events = EPOLLIN };
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	d->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (d->sigfd < 0 || d->epfd < 0)
		return -errno;
	ev.data.fd = d->sigfd;
	if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->sigfd, &ev))
		return -errno;
	return 0;
}

/* false: stop */
static bool on_signal(struct discover *d)
{
	struct signalfd_siginfo si;

	while (read(d->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			reload(d);
			continue;
		}
		log_info("%s: stopping; %s keeps the last set",
			 strsignal(si.ssi_signo), d->cfg.upstream.file);
		return false;
	}
	return true;
}

int discover__run(const char *config_path)
{
	static struct discover dsc;
	struct discover *d = &dsc;
	struct epoll_event evs[8];
	int i, n, err;

	d->path = config_path;
	log__set_who("discover");
	if (config__load_discovery(&d->cfg, config_path, stderr)) {
		log_err("%s has errors: not starting", config_path);
		return 1;
	}
	err = setup(d);
	if (err) {
		log_err("cannot start: %s", strerror(-err));
		return 1;
	}
	start(d);
	for (;;) {
		docker__tick(&d->docker, loop__now_ms());
		write_set(d);
		n = epoll_wait(d->epfd, evs, 8, 200);
		if (n < 0 && errno != EINTR) {
			log_err("epoll_wait: %s", strerror(errno));
			return 1;
		}
		for (i = 0; i < n; i++) {
			if (evs[i].data.fd == d->sigfd) {
				if (!on_signal(d)) {
					docker__stop(&d->docker);
					return 0;
				}
			} else if (evs[i].data.fd == d->docker.fd) {
				docker__on_events(&d->docker, loop__now_ms());
			} else if (evs[i].data.fd == d->docker.list_fd) {
				docker__on_list(&d->docker, loop__now_ms());
			}
		}
	}
}
