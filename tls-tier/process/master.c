// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Master: one epoll loop over a signalfd, the admin listener and its
 * clients. Listening sockets are made here, one per (address, worker slot)
 * with SO_REUSEPORT, and stay open across reloads: a new generation's
 * worker for slot i inherits the very socket the old one drained from, so
 * a reload never drops a connection waiting in an accept queue.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "listener.h"
#include "log.h"
#include "loop.h"
#include "master.h"
#include "metrics.h"
#include "priv.h"
#include "tls.h"
#include "upfile.h"
#include "worker.h"

#define MAX_LISTENERS (2 * CFG_MAX_LISTEN * CFG_MAX_WORKERS)
#define ADMIN_MAX 16
#define ADMIN_TIMEOUT_MS 5000
#define RESPAWN_DELAY_MS 1000
/* An old worker drains for shutdown_timeout and exits by itself; one
 * still there this long after that is hung (or stopped) and is killed. */
#define DRAIN_GRACE_MS 2000

struct proc {
	pid_t pid; /* 0: free */
	int slot;
	unsigned gen;
	bool old; /* draining generation */
	uint64_t kill_at; /* old: SIGKILL from then on (0: sent) */
	uint64_t started;
	struct metrics_block *blk;
};

/* A scraper: its request, then its answer, written as it reads. The
 * master never waits for one: at most ADMIN_MAX of them, each with at most
 * one answer, as long as its content (the whole /metrics text, rendered
 * once, never cut), for at most ADMIN_TIMEOUT_MS. */
struct admin_conn {
	int fd; /* -1: free */
	uint64_t since;
	char buf[2048];
	size_t len;
	char head[256];
	size_t head_len;
	char *body; /* the answer's body (malloc'd), once the request is read */
	size_t body_len;
	size_t off; /* bytes of head + body sent */
};

struct master {
	const struct master_opts *opts;
	struct lbtls_config *cfg;
	struct tls_ctx *tls;
	struct tls_ticket_key fallback_key;
	unsigned gen;
	unsigned nslots;
	struct listener lis[MAX_LISTENERS];
	unsigned nlis;
	int admin_fd;
	struct cfg_addr admin_addr;
	struct admin_conn admin[ADMIN_MAX];
	struct proc procs[METRICS_MAX_PROCS];
	uint64_t respawn_at[CFG_MAX_WORKERS]; /* 0: slot is running */
	struct metrics_shm *shm;
	/* A reload that waits for process slots (see reload()). */
	struct lbtls_config *next_cfg;
	struct tls_ctx *next_tls;
	/* upstream.file: servers discovered by another process (no Docker
	 * here: 'lbtls discover' has the engine's socket, DESIGN D12) */
	struct upfile_watch upfile;
	int epfd, sigfd;
	bool stopping;
	uint64_t stop_deadline;
};

/* Run a loader with its FILE:LINE errors going to the error log. */
/* Errors, or the warnings of a configuration that loaded. */
static void log_lines(char *text, bool failed)
{
	char *save = NULL, *line;

	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		if (failed)
			log_err("%s", line);
		else
			log_warn("%s", line);
}

/*
 * Each worker needs two descriptors per connection (client, upstream) and
 * some for listeners, probes and logs; the master holds every listener.
 * Raise RLIMIT_NOFILE to that (the hard limit too, when privileged). When
 * that is not possible, a max_connections written in the file is refused
 * (running into EMFILE later would fail requests); the default is lowered
 * to what the limit holds, as a warning.
 */
#define FD_SLACK (CFG_MAX_SERVERS + 64)

static int fd_limit_check(struct lbtls_config *cfg)
{
	rlim_t master = (rlim_t)cfg->workers * 2 * CFG_MAX_LISTEN + 64;
	rlim_t need = 2 * (rlim_t)cfg->limits.max_connections + FD_SLACK;
	struct rlimit rl, want;
	unsigned fit;
	int err;

	if (need < master)
		need = master;
	if (getrlimit(RLIMIT_NOFILE, &rl))
		return -errno;
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
		return 0;
	want.rlim_cur = need;
	want.rlim_max = rl.rlim_max; /* raising it needs CAP_SYS_RESOURCE */
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need)
		want.rlim_max = need;
	if (!setrlimit(RLIMIT_NOFILE, &want))
		return 0;
	err = errno;
	if (!cfg->limits.max_connections_set && rl.rlim_max > master &&
	    rl.rlim_max > FD_SLACK + 2) {
		/* the default: as many as the hard limit holds */
		want.rlim_cur = want.rlim_max = rl.rlim_max;
		if (!setrlimit(RLIMIT_NOFILE, &want)) {
			fit = (rl.rlim_max - FD_SLACK) / 2;
			log_warn(
				"limits.max_connections: the default %u needs %llu open files per worker, RLIMIT_NOFILE allows %llu: using %u",
				cfg->limits.max_connections,
				(unsigned long long)need,
				(unsigned long long)rl.rlim_max, fit);
			cfg->limits.max_connections = fit;
			return 0;
		}
		err = errno;
	}
	log_err("%s: limits.max_connections %u needs %llu open files per worker, but RLIMIT_NOFILE is %llu (hard limit %llu) and cannot be raised: %s; raise it (ulimit -n, systemd LimitNOFILE=, docker --ulimit nofile=) or lower limits.max_connections",
		cfg->path, cfg->limits.max_connections,
		(unsigned long long)need, (unsigned long long)rl.rlim_cur,
		(unsigned long long)rl.rlim_max, strerror(err));
	return -EMFILE;
}

static int load(struct master *m, struct lbtls_config **cfgp,
		struct tls_ctx **tlsp)
{
	struct lbtls_config *cfg = calloc(1, sizeof(*cfg));
	char *text = NULL;
	size_t len = 0;
	FILE *errs;
	int err = -ENOMEM;

	if (!cfg)
		return err;
	errs = open_memstream(&text, &len);
	if (!errs)
		goto out;
	err = config__load(cfg, m->opts->config_path, errs);
	if (!err)
		err = tls__ctx_new(cfg, &m->fallback_key, tlsp, errs);
	fclose(errs);
	if (text && *text)
		log_lines(text, err);
out:
	free(text);
	if (err) {
		config__free(cfg);
		free(cfg);
		return err;
	}
	if (m->opts->workers)
		cfg->workers = m->opts->workers;
	if (!cfg->workers) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		cfg->workers = n > 0 && n <= CFG_MAX_WORKERS ? n : 1;
	}
	err = fd_limit_check(cfg);
	if (err) {
		tls__ctx_free(*tlsp);
		*tlsp = NULL;
		config__free(cfg);
		free(cfg);
		return err;
	}
	*cfgp = cfg;
	return 0;
}

static bool same_addr(const struct cfg_addr *a, const struct cfg_addr *b)
{
	return a->len == b->len && !memcmp(&a->ss, &b->ss, a->len);
}

/*
 * Listeners for cfg: keep every socket whose (address, slot) survives,
 * open the missing ones, close the rest (draining workers hold their own
 * copies). On failure nothing changes.
 */
static int set_listeners(struct master *m, const struct lbtls_config *cfg)
{
	static struct listener next[MAX_LISTENERS];
	bool kept[MAX_LISTENERS] = { false };
	unsigned n = 0, i, j, slot;
	int fd, err = 0;

	for (slot = 0; slot < cfg->workers; slot++) {
		for (i = 0; i < cfg->nhttps + cfg->nhttp; i++) {
			bool tls = i < cfg->nhttps;
			const struct cfg_addr *a =
				tls ? &cfg->https[i] :
				      &cfg->http[i - cfg->nhttps];
			struct listener *l = &next[n++];

			l->addr = *a;
			l->slot = slot;
			l->tls = tls;
			l->fd = -1;
			for (j = 0; j < m->nlis; j++)
				if (!kept[j] && m->lis[j].slot == (int)slot &&
				    m->lis[j].tls == tls &&
				    m->lis[j].addr.agent == a->agent &&
				    same_addr(&m->lis[j].addr, a)) {
					kept[j] = true;
					l->fd = m->lis[j].fd;
					break;
				}
			if (l->fd >= 0)
				continue;
			fd = listener__open(a, !a->agent);
			if (fd < 0) {
				err = fd;
				log_err("%s:%d: cannot listen on %s: %s",
					cfg->path, a->line, a->text,
					strerror(-fd));
				goto fail;
			}
			l->fd = fd;
		}
	}
	for (j = 0; j < m->nlis; j++)
		if (!kept[j])
			close(m->lis[j].fd);
	memcpy(m->lis, next, n * sizeof(next[0]));
	m->nlis = n;
	return 0;
fail:
	/* close what this call opened, keep the old set */
	for (i = 0; i < n; i++) {
		bool old = false;

		for (j = 0; j < m->nlis; j++)
			if (m->lis[j].fd == next[i].fd)
				old = true;
		if (!old && next[i].fd >= 0)
			close(next[i].fd);
	}
	return err;
}

static void admin_close(struct master *m, struct admin_conn *a)
{
	epoll_ctl(m->epfd, EPOLL_CTL_DEL, a->fd, NULL);
	close(a->fd);
	a->fd = -1;
	free(a->body);
	a->body = NULL;
}

static int set_admin(struct master *m, const struct lbtls_config *cfg)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int fd;

	if (m->admin_fd >= 0 && cfg->metrics.len &&
	    same_addr(&m->admin_addr, &cfg->metrics))
		return 0;
	if (m->admin_fd >= 0) {
		epoll_ctl(m->epfd, EPOLL_CTL_DEL, m->admin_fd, NULL);
		close(m->admin_fd);
		m->admin_fd = -1;
	}
	if (!cfg->metrics.len)
		return 0;
	fd = listener__open(&cfg->metrics, false);
	if (fd < 0) {
		log_err("%s:%d: cannot listen on metrics address %s: %s",
			cfg->path, cfg->metrics.line, cfg->metrics.text,
			strerror(-fd));
		return fd;
	}
	ev.data.fd = fd;
	epoll_ctl(m->epfd, EPOLL_CTL_ADD, fd, &ev);
	m->admin_fd = fd;
	m->admin_addr = cfg->metrics;
	return 0;
}

static struct proc *find_proc(struct master *m, pid_t pid)
{
	unsigned i;

	for (i = 0; i < METRICS_MAX_PROCS; i++)
		if (m->procs[i].pid == pid)
			return &m->procs[i];
	return NULL;
}

static unsigned nprocs(struct master *m)
{
	unsigned i, n = 0;

	for (i = 0; i < METRICS_MAX_PROCS; i++)
		n += m->procs[i].pid > 0;
	return n;
}

static unsigned ndraining(struct master *m)
{
	unsigned i, n = 0;

	for (i = 0; i < METRICS_MAX_PROCS; i++)
		n += m->procs[i].pid > 0 && m->procs[i].old;
	return n;
}

static void spawn(struct master *m, int slot)
{
	static struct listener mine[2 * CFG_MAX_LISTEN];
	struct metrics_block *blk;
	struct proc *p;
	unsigned i, n = 0;
	pid_t pid, self = getpid();

	p = find_proc(m, 0);
	blk = metrics__claim(m->shm, slot, m->gen, &m->cfg->upstream);
	if (!p || !blk) {
		/* reload() waits rather than get here; a safety net */
		log_err("cannot start worker %d: all %u process slots are taken (%u by draining workers of older generations): retrying in %u ms",
			slot, METRICS_MAX_PROCS, ndraining(m),
			RESPAWN_DELAY_MS);
		if (blk)
			blk->in_use = 0;
		m->respawn_at[slot] = loop__now_ms() + RESPAWN_DELAY_MS;
		return;
	}
	pid = fork();
	if (pid < 0) {
		log_err("cannot start worker %d: fork: %s", slot,
			strerror(errno));
		blk->in_use = 0;
		m->respawn_at[slot] = loop__now_ms() + RESPAWN_DELAY_MS;
		return;
	}
	if (pid == 0) {
		/* Child: keep our slot's listeners, drop the master's fds. */
		for (i = 0; i < m->nlis; i++) {
			if (m->lis[i].slot == slot)
				mine[n++] = m->lis[i];
			else
				close(m->lis[i].fd);
		}
		for (i = 0; i < ADMIN_MAX; i++)
			if (m->admin[i].fd >= 0)
				close(m->admin[i].fd);
		if (m->admin_fd >= 0)
			close(m->admin_fd);
		close(m->epfd);
		close(m->sigfd);
		worker__main(m->cfg, m->tls, blk, &m->shm->discovered, mine, n,
			     slot, m->gen, self);
	}
	blk->pid = pid;
	p->pid = pid;
	p->slot = slot;
	p->gen = m->gen;
	p->old = false;
	p->started = loop__now_ms();
	p->blk = blk;
	m->respawn_at[slot] = 0;
}

static void signal_procs(struct master *m, int sig, bool old_only)
{
	unsigned i;

	for (i = 0; i < METRICS_MAX_PROCS; i++)
		if (m->procs[i].pid > 0 && (!old_only || m->procs[i].old) &&
		    kill(m->procs[i].pid, sig))
			log_err("cannot send %s to worker %d (pid %d): %s%s",
				strsignal(sig), m->procs[i].slot,
				m->procs[i].pid, strerror(errno),
				errno == EPERM ?
					" (workers run as `user:`: the master needs CAP_KILL)" :
					"");
}

/* upstream.file read if it changed; its age for /metrics */
static void poll_upfile(struct master *m)
{
	struct metrics_upfile *u = &m->shm->upfile;

	upfile__poll(&m->upfile);
	u->watched = m->upfile.path[0] != 0;
	u->mtime_s = m->upfile.have_stat ? m->upfile.st.st_mtim.tv_sec : 0;
	u->max_age_ms = m->upfile.max_age_ms;
}

/*
 * Watch upstream.file 'path' ("" for none). The published set stays until
 * the new file is read; workers of a configuration without upstream.file
 * ignore it. Only a stat() and, when it changed, the read of a small
 * regular file: nothing here waits for another process.
 */
static void set_upfile(struct master *m, const struct cfg_upstream *up)
{
	if (!strcmp(m->upfile.path, up->file)) {
		m->upfile.max_age_ms = up->file_max_age_ms;
		return;
	}
	upfile__watch_init(&m->upfile, up->file, &m->shm->discovered);
	m->upfile.max_age_ms = up->file_max_age_ms;
	if (!up->file[0])
		return;
	log_info("upstream.file: servers from %s%s", up->file,
		 up->docker.enabled ? " (written by 'lbtls discover')" : "");
	poll_upfile(m);
}

static void drop_config(struct lbtls_config *cfg, struct tls_ctx *tls)
{
	tls__ctx_free(tls);
	config__free(cfg);
	free(cfg);
}

static void drop_waiting(struct master *m)
{
	if (!m->next_cfg)
		return;
	drop_config(m->next_cfg, m->next_tls);
	m->next_cfg = NULL;
	m->next_tls = NULL;
}

/* The next generation, from a loaded cfg and tls (ours from here on). */
static void start_generation(struct master *m, struct lbtls_config *cfg,
			     struct tls_ctx *tls)
{
	unsigned i, slot;

	if (set_listeners(m, cfg)) {
		log_err("reload: keeping the running configuration");
		drop_config(cfg, tls);
		return;
	}
	set_admin(m, cfg);
	if (log__open(cfg, "master"))
		log_err("reload: cannot open the logs: %s", strerror(errno));
	for (i = 0; i < METRICS_MAX_PROCS; i++)
		if (m->procs[i].pid > 0 && !m->procs[i].old) {
			m->procs[i].old = true;
			m->procs[i].kill_at = loop__now_ms() +
					      m->cfg->shutdown_timeout_ms +
					      DRAIN_GRACE_MS;
		}
	set_upfile(m, &cfg->upstream);
	drop_config(m->cfg, m->tls);
	m->cfg = cfg;
	m->tls = tls;
	m->gen++;
	m->nslots = cfg->workers;
	/* New workers first, then the old ones stop accepting. */
	for (slot = 0; slot < m->nslots; slot++)
		spawn(m, slot);
	signal_procs(m, SIGQUIT, true);
	log_info("reload: generation %u started with %u worker(s)", m->gen,
		 m->nslots);
}

/* Room for a whole new generation next to every process still alive. */
static bool room_for(struct master *m, const struct lbtls_config *cfg)
{
	return nprocs(m) + cfg->workers <= METRICS_MAX_PROCS;
}

/*
 * A new generation starts whole or not at all: its workers need process
 * slots next to the running generation (which drains only once they run)
 * and to older ones still draining. METRICS_MAX_PROCS holds two full
 * generations; when reloads come faster than old workers finish their
 * connections (shutdown_timeout bounds that), the new configuration,
 * already loaded and checked, waits until enough of them have exited and
 * starts then (periodic()); meanwhile the running generation serves, and
 * a further SIGHUP replaces the waiting configuration.
 */
static void reload(struct master *m)
{
	struct lbtls_config *cfg;
	struct tls_ctx *tls;
	char why[512];

	log_info("SIGHUP: reloading %s", m->opts->config_path);
	if (load(m, &cfg, &tls)) {
		log_err("reload: %s has errors: keeping the running configuration",
			m->opts->config_path);
		return;
	}
	if (priv__check(cfg, why, sizeof(why))) {
		log_err("reload: %s: keeping the running configuration", why);
		drop_config(cfg, tls);
		return;
	}
	if (m->next_cfg) {
		log_info(
			"reload: this configuration replaces the one waiting for process slots");
		drop_waiting(m);
	}
	if (room_for(m, cfg)) {
		start_generation(m, cfg, tls);
		return;
	}
	m->next_cfg = cfg;
	m->next_tls = tls;
	log_warn(
		"reload: generation %u (%u workers) waits for process slots: %u of %u are held, %u by workers of older generations still draining; it starts when enough of them have exited (each within shutdown_timeout of its reload)",
		m->gen + 1, cfg->workers, nprocs(m), METRICS_MAX_PROCS,
		ndraining(m));
}

static void reap(struct master *m)
{
	struct proc *p;
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		p = find_proc(m, pid);
		if (!p)
			continue;
		metrics__retire(m->shm, p->blk);
		p->pid = 0;
		if (p->old || m->stopping)
			continue;
		if (WIFSIGNALED(status))
			log_err("worker %d (pid %d) killed by signal %d: respawning",
				p->slot, pid, WTERMSIG(status));
		else if (WEXITSTATUS(status) == PRIV_EXIT_STATUS)
			log_err("worker %d (pid %d) could not drop its privileges (its line above says which step): respawning in %d ms",
				p->slot, pid, RESPAWN_DELAY_MS);
		else
			log_err("worker %d (pid %d) exited with status %d: respawning",
				p->slot, pid, WEXITSTATUS(status));
		/* A worker dying at once would otherwise fork-loop. */
		if (loop__now_ms() - p->started < RESPAWN_DELAY_MS)
			m->respawn_at[p->slot] = p->started + RESPAWN_DELAY_MS;
		else
			spawn(m, p->slot);
	}
}

static void begin_stop(struct master *m, const char *why)
{
	if (m->stopping)
		return;
	log_info("%s: stopping, connections get %u ms to finish", why,
		 m->cfg->shutdown_timeout_ms);
	m->stopping = true;
	m->stop_deadline = loop__now_ms() + m->cfg->shutdown_timeout_ms;
	drop_waiting(m);
	signal_procs(m, SIGQUIT, false);
}

static void on_signal(struct master *m)
{
	struct signalfd_siginfo si;

	while (read(m->sigfd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			reap(m);
			break;
		case SIGHUP:
			if (!m->stopping)
				reload(m);
			break;
		case SIGTERM:
			begin_stop(m, "SIGTERM");
			break;
		case SIGINT:
			begin_stop(m, "SIGINT");
			break;
		case SIGQUIT:
			begin_stop(m, "SIGQUIT");
			break;
		case SIGUSR1:
			/* logrotate: reopen ours, then the workers' */
			if (log__open(m->cfg, "master"))
				log_err("SIGUSR1: cannot reopen the logs: %s",
					strerror(errno));
			else
				log_info("SIGUSR1: logs reopened");
			signal_procs(m, SIGUSR1, false);
			break;
		}
	}
}

static void admin_accept(struct master *m)
{
	struct epoll_event ev = { .events = EPOLLIN };
	unsigned i;
	int fd;

	while ((fd = accept4(m->admin_fd, NULL, NULL,
			     SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		for (i = 0; i < ADMIN_MAX; i++)
			if (m->admin[i].fd < 0)
				break;
		if (i == ADMIN_MAX) {
			close(fd); /* a scraper, not a crowd */
			continue;
		}
		m->admin[i].fd = fd;
		m->admin[i].len = 0;
		m->admin[i].since = loop__now_ms();
		ev.data.fd = fd;
		epoll_ctl(m->epfd, EPOLL_CTL_ADD, fd, &ev);
	}
}

/* As much of the answer as the socket takes now; closes when all is sent. */
static void admin_write(struct master *m, struct admin_conn *a)
{
	size_t total = a->head_len + a->body_len;
	struct iovec iov[2];
	struct msghdr msg = { .msg_iov = iov };
	ssize_t n;

	while (a->off < total) {
		if (a->off < a->head_len) {
			iov[0].iov_base = a->head + a->off;
			iov[0].iov_len = a->head_len - a->off;
			iov[1].iov_base = a->body;
			iov[1].iov_len = a->body_len;
			msg.msg_iovlen = 2;
		} else {
			iov[0].iov_base = a->body + (a->off - a->head_len);
			iov[0].iov_len = total - a->off;
			msg.msg_iovlen = 1;
		}
		n = sendmsg(a->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return; /* EPOLLOUT brings us back */
		if (n <= 0)
			break;
		a->off += n;
	}
	admin_close(m, a);
}

static void admin_read(struct master *m, struct admin_conn *a)
{
	struct epoll_event ev = { .events = EPOLLOUT, .data.fd = a->fd };
	const char *status = "200 OK", *type = "text/plain; version=0.0.4";
	ssize_t n;
	int err;

	n = recv(a->fd, a->buf + a->len, sizeof(a->buf) - 1 - a->len, 0);
	if (n <= 0) {
		if (n == 0 || errno != EAGAIN)
			admin_close(m, a);
		return;
	}
	a->len += n;
	a->buf[a->len] = 0;
	if (!strstr(a->buf, "\r\n\r\n") && !strstr(a->buf, "\n\n")) {
		if (a->len == sizeof(a->buf) - 1)
			admin_close(m, a);
		return;
	}
	if (!strncmp(a->buf, "GET /metrics ", 13) ||
	    !strncmp(a->buf, "GET /metrics?", 13)) {
		/* whole or not at all: a cut text fails the entire scrape */
		err = metrics__render(m->shm, &a->body, &a->body_len);
		if (err) {
			log_err("/metrics: cannot render: %s", strerror(-err));
			status = "503 Service Unavailable";
			type = "text/plain";
			a->body = strdup("cannot render the metrics now\n");
		}
	} else {
		status = "404 Not Found";
		type = "text/plain";
		a->body = strdup("not found: try /metrics\n");
	}
	if (a->body && strncmp(status, "200", 3))
		a->body_len = strlen(a->body);
	a->head_len = snprintf(
		a->head, sizeof(a->head),
		"HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
		status, type, a->body_len);
	a->off = 0;
	if (!a->body || epoll_ctl(m->epfd, EPOLL_CTL_MOD, a->fd, &ev)) {
		admin_close(m, a);
		return;
	}
	admin_write(m, a);
}

/* Old workers past their generation's shutdown_timeout: hung or stopped,
 * they would hold their process slots (and a waiting reload) for ever. */
static void kill_hung(struct master *m, uint64_t now)
{
	struct proc *p;
	unsigned i;

	for (i = 0; i < METRICS_MAX_PROCS; i++) {
		p = &m->procs[i];
		if (p->pid <= 0 || !p->old || !p->kill_at || now < p->kill_at)
			continue;
		p->kill_at = 0;
		log_warn(
			"worker %d (pid %d) of generation %u is still running %u ms after its generation's shutdown_timeout: killed",
			p->slot, p->pid, p->gen, DRAIN_GRACE_MS);
		if (kill(p->pid, SIGKILL))
			log_err("cannot kill worker %d (pid %d): %s", p->slot,
				p->pid, strerror(errno));
	}
}

static void periodic(struct master *m)
{
	uint64_t now = loop__now_ms();
	unsigned i;

	for (i = 0; i < ADMIN_MAX; i++)
		if (m->admin[i].fd >= 0 &&
		    now - m->admin[i].since > ADMIN_TIMEOUT_MS)
			admin_close(m, &m->admin[i]);
	if (m->stopping) {
		if (now >= m->stop_deadline)
			signal_procs(m, SIGKILL, false);
		return;
	}
	kill_hung(m, now);
	if (m->next_cfg && room_for(m, m->next_cfg)) {
		struct lbtls_config *cfg = m->next_cfg;
		struct tls_ctx *tls = m->next_tls;

		m->next_cfg = NULL;
		m->next_tls = NULL;
		log_info(
			"reload: older generations have drained enough: starting generation %u",
			m->gen + 1);
		start_generation(m, cfg, tls);
	}
	for (i = 0; i < m->nslots; i++)
		if (m->respawn_at[i] && now >= m->respawn_at[i])
			spawn(m, i);
	poll_upfile(m);
}

static int master_init(struct master *m)
{
	struct epoll_event ev = { .events = EPOLLIN };
	sigset_t set;
	unsigned i;

	m->admin_fd = -1;
	m->epfd = m->sigfd = -1;
	for (i = 0; i < ADMIN_MAX; i++)
		m->admin[i].fd = -1;
	if (tls__random_key(&m->fallback_key))
		return -EIO;
	m->shm = metrics__create();
	if (!m->shm)
		return -ENOMEM;
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	m->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	m->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (m->sigfd < 0 || m->epfd < 0)
		return -errno;
	ev.data.fd = m->sigfd;
	if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, m->sigfd, &ev))
		return -errno;
	return 0;
}

int master__run(const struct master_opts *opts)
{
	static struct master mst;
	struct master *m = &mst;
	struct epoll_event evs[32];
	char why[512];
	unsigned i, slot;
	int n, err;

	m->opts = opts;
	log__set_who("master");
	err = master_init(m);
	if (err) {
		log_err("cannot start: %s", strerror(-err));
		return 1;
	}
	if (load(m, &m->cfg, &m->tls)) {
		log_err("%s has errors: not starting", opts->config_path);
		return 1;
	}
	err = log__open(m->cfg, "master");
	if (err) {
		log_err("cannot open the logs named in %s: %s",
			opts->config_path, strerror(-err));
		return 1;
	}
	if (priv__check(m->cfg, why, sizeof(why))) {
		log_err("%s: not starting", why);
		return 1;
	}
	if (!geteuid() && !m->cfg->user.set)
		log_warn(
			"workers run as root: set `user:` in %s (docs/lbtls.md, Privileges)",
			opts->config_path);
	if (set_listeners(m, m->cfg) || set_admin(m, m->cfg))
		return 1;
	/* Before the workers: they start with the servers known by then. */
	set_upfile(m, &m->cfg->upstream);
	m->nslots = m->cfg->workers;
	log_info("starting %u worker(s), %u listener(s) each", m->nslots,
		 m->cfg->nhttps + m->cfg->nhttp);
	for (slot = 0; slot < m->nslots; slot++)
		spawn(m, slot);
	for (;;) {
		n = epoll_wait(m->epfd, evs, 32, 200);
		if (n < 0 && errno != EINTR) {
			log_err("epoll_wait: %s", strerror(errno));
			break;
		}
		for (i = 0; i < (unsigned)(n > 0 ? n : 0); i++) {
			int fd = evs[i].data.fd;
			unsigned j;

			if (fd == m->sigfd) {
				on_signal(m);
				continue;
			}
			if (fd == m->admin_fd) {
				admin_accept(m);
				continue;
			}
			for (j = 0; j < ADMIN_MAX; j++)
				if (m->admin[j].fd == fd) {
					if (m->admin[j].body)
						admin_write(m, &m->admin[j]);
					else
						admin_read(m, &m->admin[j]);
					break;
				}
		}
		periodic(m);
		if (m->stopping && !nprocs(m))
			break;
	}
	log_info("stopped");
	return 0;
}
