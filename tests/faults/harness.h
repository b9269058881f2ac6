/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Fault harness for lbtls, in the spirit of HAProxy's VTest and nginx-tests:
 * one small cmocka test per scenario, with
 *
 *   fproxy    the real build/lbtls as a child process (master + 1 worker),
 *             from a config the test writes to a mkdtemp dir, with a
 *             self-signed ECDSA certificate; killed with its workers and
 *             the dir removed at teardown (fproxy__stop, from a cmocka
 *             teardown, so it runs when an assertion failed too);
 *   fbackend  scripted upstreams in this process: a listening socket on
 *             127.0.0.1, an accept thread and one thread per connection
 *             running a script (stall, reset or close after the head,
 *             partial answer, 204 plus extra bytes, close mid-body, slow
 *             answer, normal keep-alive); every request head seen is
 *             recorded with its connection number;
 *   fclient   real OpenSSL TLS clients sending exact bytes and reading a
 *             whole response (Content-Length, chunked or close), and
 *             telling whether the server closed the connection;
 *   fmetrics  one series from the admin address's /metrics;
 *   fproc     the worker's pid, SIGSTOP/SIGCONT and its open-file limit.
 *
 * Assertions are about outcomes and their order (status codes, what a
 * backend received, whether a connection was closed, counters). Every wait
 * is bounded by a generous safety net (WAIT_MS) that only matters when the
 * behaviour under test is wrong; no timing threshold is ever asserted.
 *
 * SIGSTOP on the worker is how a test makes two events land in the same
 * epoll batch in a known order (epoll reports ready sockets first come,
 * first served): "the backend's FIN and the next request arrive while the
 * worker is busy" becomes deterministic instead of a one-in-a-thousand race.
 *
 * FAULTS_VERBOSE=1 prints lbtls's log at teardown.
 */
#ifndef FAULTS_HARNESS_H
#define FAULTS_HARNESS_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

/* Safety net for every wait: only reached when the behaviour is wrong. */
#define WAIT_MS 5000

/* --- small helpers ------------------------------------------------------- */

static inline uint64_t fh_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void fh_sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static inline void fh_set_timeouts(int fd, unsigned ms)
{
	struct timeval tv = { ms / 1000, (long)(ms % 1000) * 1000 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* A listening socket on 127.0.0.1 and a free port; *port gets the port. */
static inline int fh_listen(int *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sin);
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) || listen(fd, 128) ||
	    getsockname(fd, (struct sockaddr *)&sin, &sl)) {
		close(fd);
		return -1;
	}
	*port = ntohs(sin.sin_port);
	return fd;
}

/* A port nothing listens on right now (bound once, then closed). */
static inline int fh_free_port(void)
{
	int port = -1, fd = fh_listen(&port);

	if (fd < 0)
		return -1;
	close(fd);
	return port;
}

/* Three ports nothing listens on, all different: each is held while the
 * next is taken (two fh_free_port() calls may get the same port back). */
static inline int fh_free_ports(int *a, int *b, int *c)
{
	int *out[3] = { a, b, c }, fd[3], i, err = 0;

	for (i = 0; i < 3; i++)
		if ((fd[i] = fh_listen(out[i])) < 0)
			err = -1;
	for (i = 0; i < 3; i++)
		if (fd[i] >= 0)
			close(fd[i]);
	return err;
}

static inline int fh_connect_plain(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Content-Length of a head (request or response), -1 without one. */
static inline long long fh_content_length(const char *head)
{
	const char *p = head;

	while ((p = strchr(p, '\n'))) {
		p++;
		if (!strncasecmp(p, "content-length:", 15))
			return strtoll(p + 15, NULL, 10);
	}
	return -1;
}

/* Value of header NAME in HEAD into out ("" when absent). */
static inline void fh_header(const char *head, const char *name, char *out,
			     size_t cap)
{
	size_t nl = strlen(name);
	const char *p = head, *e;

	out[0] = 0;
	while ((p = strchr(p, '\n'))) {
		p++;
		if (!strncasecmp(p, name, nl) && p[nl] == ':') {
			p += nl + 1;
			while (*p == ' ' || *p == '\t')
				p++;
			e = strpbrk(p, "\r\n");
			if (!e)
				e = p + strlen(p);
			if ((size_t)(e - p) >= cap)
				e = p + cap - 1;
			memcpy(out, p, e - p);
			out[e - p] = 0;
			return;
		}
	}
}

/* --- the certificate ------------------------------------------------------- */

#include "../lib/testcert.h"

/* --- processes ---------------------------------------------------------- */

/* The first child of PARENT (lbtls's worker), 0 when there is none. */
static inline pid_t fproc__child(pid_t parent)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	pid_t found = 0;

	if (!d)
		return 0;
	while (!found && (de = readdir(d))) {
		char path[300], buf[512], *p;
		int ppid;
		FILE *f;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		p = fgets(buf, sizeof(buf), f);
		fclose(f);
		/* pid (comm) state ppid: comm may hold spaces */
		if (!p || !(p = strrchr(buf, ')')))
			continue;
		if (sscanf(p + 1, " %*c %d", &ppid) == 1 && ppid == parent)
			found = atoi(de->d_name);
	}
	closedir(d);
	return found;
}

static inline char fproc__state(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	if (!p || !(p = strrchr(buf, ')')))
		return 0;
	return p[2];
}

/* SIGSTOP and wait until the process is stopped. */
static inline int fproc__stop(pid_t pid)
{
	uint64_t end = fh_now_ms() + WAIT_MS;

	if (kill(pid, SIGSTOP))
		return -1;
	while (fproc__state(pid) != 'T' && fproc__state(pid) != 't') {
		if (fh_now_ms() > end)
			return -1;
		fh_sleep_ms(2);
	}
	return 0;
}

static inline int fproc__cont(pid_t pid)
{
	return kill(pid, SIGCONT);
}

/* Lowest file descriptor number the process does not use. */
static inline int fproc__lowest_free_fd(pid_t pid)
{
	static char used[65536];
	char path[64];
	struct dirent *de;
	DIR *d;
	int i;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d)
		return -1;
	memset(used, 0, sizeof(used));
	while ((de = readdir(d))) {
		int n = atoi(de->d_name);

		if (isdigit((unsigned char)de->d_name[0]) && n >= 0 &&
		    n < (int)sizeof(used))
			used[n] = 1;
	}
	closedir(d);
	for (i = 0; i < (int)sizeof(used); i++)
		if (!used[i])
			return i;
	return -1;
}

/* Soft RLIMIT_NOFILE of a process, from /proc/PID/limits (-1: unknown). */
static inline long long fproc__nofile_soft(pid_t pid)
{
	char path[64], line[256];
	long long soft = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/limits", pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "Max open files", 14)) {
			soft = strtoll(line + 14, NULL, 10);
			break;
		}
	fclose(f);
	return soft;
}

/* --- lbtls as a child process -------------------------------------------- */

struct fproxy {
	char dir[64];
	char conf[128], log[128], crt[128], key[128];
	char access[128]; /* DIR/access.log, written when access_log is set */
	bool access_log;
	pid_t pid; /* the master */
	pid_t pgid; /* its process group: master and workers */
	pid_t worker;
	int https, http, admin;
	/* RLIMIT_NOFILE for lbtls, when set_nofile */
	bool set_nofile;
	struct rlimit nofile;
	int status; /* wait status when it exited during fproxy__start */
};

static inline const char *fh_lbtls_path(void)
{
	static char path[4096];
	char *s;
	ssize_t n;

	if (getenv("LBTLS"))
		return getenv("LBTLS");
	/* BUILD/tests/faults/test_x -> BUILD/lbtls */
	n = readlink("/proc/self/exe", path, sizeof(path) - 16);
	if (n < 0)
		return "build/lbtls";
	path[n] = 0;
	for (int i = 0; i < 3; i++) {
		s = strrchr(path, '/');
		if (!s)
			return "build/lbtls";
		*s = 0;
	}
	strcat(path, "/lbtls");
	return path;
}

/* The dir, the certificate and the ports; nothing runs yet. */
static inline int fproxy__init(struct fproxy *p)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->dir, sizeof(p->dir), "/tmp/lbtls-fharness.XXXXXX");
	if (!mkdtemp(p->dir)) {
		p->dir[0] = 0;
		return -1;
	}
	snprintf(p->conf, sizeof(p->conf), "%s/lbtls.yaml", p->dir);
	snprintf(p->log, sizeof(p->log), "%s/lbtls.log", p->dir);
	snprintf(p->access, sizeof(p->access), "%s/access.log", p->dir);
	snprintf(p->crt, sizeof(p->crt), "%s/fullchain.pem", p->dir);
	snprintf(p->key, sizeof(p->key), "%s/privkey.pem", p->dir);
	if (fh_free_ports(&p->https, &p->http, &p->admin))
		return -1;
	return testcert__make(p->crt, p->key);
}

/*
 * lbtls's default max_connections (16384 per worker) needs more open files
 * than a test machine may allow (this VM's hard RLIMIT_NOFILE is 20000),
 * and lbtls is to refuse to start below what it needs: unless the test's
 * YAML sets limits.max_connections, add FH_MAX_CONNECTIONS to its limits:
 * section (or a section of its own). Takes and returns a malloc'd string.
 */
#define FH_MAX_CONNECTIONS 256

static inline char *fh_with_max_connections(char *yaml)
{
	const char *lim = strstr(yaml, "limits:\n");
	char *out = NULL;
	int n;

	if (strstr(yaml, "max_connections:"))
		return yaml;
	if (lim && (lim == yaml || lim[-1] == '\n')) {
		lim += strlen("limits:\n");
		n = asprintf(&out, "%.*s  max_connections: %d\n%s",
			     (int)(lim - yaml), yaml, FH_MAX_CONNECTIONS, lim);
	} else {
		n = asprintf(&out, "%slimits:\n  max_connections: %d\n", yaml,
			     FH_MAX_CONNECTIONS);
	}
	free(yaml);
	return n < 0 ? NULL : out;
}

/* One try of fproxy__start(): EXTRA is the test's YAML. */
static inline int fproxy_spawn(struct fproxy *p, const char *extra)
{
	const char *bin = fh_lbtls_path();
	uint64_t end;
	FILE *f;

	f = fopen(p->conf, "w");
	if (!f)
		return -1;
	fprintf(f,
		"workers: 1\n"
		"listen:\n"
		"  https: [\"127.0.0.1:%d\"]\n"
		"  http: [\"127.0.0.1:%d\"]\n"
		"tls:\n"
		"  certificates:\n"
		"    - fullchain: %s\n"
		"      privkey: %s\n"
		"metrics: 127.0.0.1:%d\n"
		"log:\n"
		"  access: \"%s\"\n"
		"  level: info\n"
		"shutdown_timeout: 1s\n"
		"%s",
		p->https, p->http, p->crt, p->key, p->admin,
		p->access_log ? p->access : "off", extra);
	fclose(f);

	fflush(NULL);
	p->pid = fork();
	if (p->pid < 0)
		return -1;
	if (p->pid == 0) {
		int fd = open(p->log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		/* its own group: teardown kills master and workers at once */
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		if (p->set_nofile && setrlimit(RLIMIT_NOFILE, &p->nofile))
			_exit(126);
		execl(bin, "lbtls", "-c", p->conf, (char *)NULL);
		_exit(127);
	}
	setpgid(p->pid, p->pid);
	p->pgid = p->pid;
	end = fh_now_ms() + WAIT_MS;
	while (fh_now_ms() < end) {
		int fd1, fd2;

		if (waitpid(p->pid, &p->status, WNOHANG) == p->pid) {
			p->pid = 0;
			/* the harness's own failures (setrlimit, exec) */
			if (WIFEXITED(p->status) &&
			    (WEXITSTATUS(p->status) == 126 ||
			     WEXITSTATUS(p->status) == 127)) {
				fprintf(stderr, "harness: could not run %s\n",
					bin);
				return -1;
			}
			return 1;
		}
		fd1 = fh_connect_plain(p->https);
		fd2 = fd1 >= 0 ? fh_connect_plain(p->admin) : -1;
		if (fd1 >= 0)
			close(fd1);
		if (fd2 >= 0)
			close(fd2);
		if (fd2 >= 0 && (p->worker = fproc__child(p->pid)) > 0)
			return 0;
		fh_sleep_ms(10);
	}
	return -1;
}

static inline bool fproxy__log_has(const struct fproxy *p, const char *s);

/*
 * Write the config (one worker, https/http/admin on 127.0.0.1, the error
 * log on lbtls's stderr = DIR/lbtls.log) with the test's own YAML (its
 * upstream: and limits: sections) appended, start lbtls and wait until it
 * accepts on https and admin and its worker exists. A port taken by
 * someone else between fh_free_port() and lbtls's bind() means new ports
 * and another try.
 * Returns 0 when ready, 1 when lbtls exited (p->status), -1 otherwise.
 */
static inline int fproxy__start(struct fproxy *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static inline int fproxy__start(struct fproxy *p, const char *fmt, ...)
{
	char *extra = NULL;
	va_list ap;
	int rc = -1, i;

	va_start(ap, fmt);
	if (vasprintf(&extra, fmt, ap) < 0)
		extra = NULL;
	va_end(ap);
	if (!extra)
		return -1;
	extra = fh_with_max_connections(extra);
	if (!extra)
		return -1;
	for (i = 0; i < 3; i++) {
		rc = fproxy_spawn(p, extra);
		if (rc != 1 || !fproxy__log_has(p, "Address already in use"))
			break;
		unlink(p->log);
		if (fh_free_ports(&p->https, &p->http, &p->admin))
			break;
	}
	free(extra);
	if (rc == 1) { /* say why lbtls exited: the failure is otherwise mute */
		char cmd[PATH_MAX + 32];

		snprintf(cmd, sizeof(cmd), "tail -n 20 '%s' >&2", p->log);
		if (system(cmd))
			fprintf(stderr, "fproxy: no log at %s\n", p->log);
	}
	return rc;
}

static inline void fproxy__dump_log(const struct fproxy *p)
{
	char line[1024];
	FILE *f = fopen(p->log, "re");

	if (!f)
		return;
	fprintf(stderr, "--- %s\n", p->log);
	while (fgets(line, sizeof(line), f))
		fputs(line, stderr);
	fclose(f);
}

/* Does lbtls's log (its stderr) contain S? */
static inline bool fproxy__log_has(const struct fproxy *p, const char *s)
{
	char buf[65536];
	size_t n;
	FILE *f = fopen(p->log, "re");

	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	return strstr(buf, s) != NULL;
}

/* Does the log contain the number N, not as part of a longer one? */
static inline bool fproxy__log_has_number(const struct fproxy *p, long long n)
{
	char buf[65536], want[32], *s;
	size_t k, wl;
	FILE *f = fopen(p->log, "re");

	if (!f)
		return false;
	k = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[k] = 0;
	wl = snprintf(want, sizeof(want), "%lld", n);
	for (s = buf; (s = strstr(s, want)); s += wl)
		if ((s == buf || !isdigit((unsigned char)s[-1])) &&
		    !isdigit((unsigned char)s[wl]))
			return true;
	return false;
}

/* Kill master and workers (stopped ones too), remove the dir. */
static inline void fproxy__stop(struct fproxy *p)
{
	char cmd[128];

	if (getenv("FAULTS_VERBOSE"))
		fproxy__dump_log(p);
	if (p->pgid > 0)
		kill(-p->pgid, SIGKILL);
	if (p->pid > 0) {
		kill(p->pid, SIGKILL);
		waitpid(p->pid, NULL, 0);
		p->pid = 0;
	}
	if (p->worker > 0) {
		kill(p->worker, SIGKILL);
		p->worker = 0;
	}
	if (p->dir[0] && !strncmp(p->dir, "/tmp/lbtls-fharness.", 20)) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", p->dir);
		if (system(cmd))
			fprintf(stderr, "could not remove %s\n", p->dir);
		p->dir[0] = 0;
	}
}

/* --- scripted backends ----------------------------------------------------- */

#define FB_MAX_CONNS 32
#define FB_MAX_REQS 64

struct fbackend;

struct fb_conn {
	struct fbackend *be;
	int fd;
	int idx; /* 0 for the backend's first connection, then 1, ... */
	int nreq; /* request heads read on this connection */
	pthread_t th;
	char buf[65536]; /* bytes read beyond the last head */
	size_t len;
};

typedef void (*fb_script)(struct fb_conn *c);

struct fb_req {
	int conn, nth; /* connection number, request number on it */
	char method[16];
	char target[256];
	long long content_length;
	char head[2048]; /* the head, cut at 2047 bytes */
};

struct fbackend {
	int lfd, port;
	char name[32]; /* "127.0.0.1:PORT", the server label of /metrics */
	fb_script script;
	long arg; /* the script's parameter (e.g. a delay in ms) */
	pthread_t th;
	bool running;
	int stop;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int nconns;
	struct fb_conn *conns[FB_MAX_CONNS];
	int nreqs;
	struct fb_req reqs[FB_MAX_REQS];
	int stage; /* scripts count the steps they reached */
	int go; /* the test lets scripts go on */
};

static inline bool fb_stopping(struct fbackend *be)
{
	return __atomic_load_n(&be->stop, __ATOMIC_ACQUIRE);
}

static inline void *fb_conn_main(void *arg)
{
	struct fb_conn *c = arg;

	c->be->script(c);
	pthread_mutex_lock(&c->be->mu);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	pthread_mutex_unlock(&c->be->mu);
	return NULL;
}

static inline void *fb_accept_main(void *arg)
{
	struct fbackend *be = arg;

	while (!fb_stopping(be)) {
		struct pollfd pfd = { be->lfd, POLLIN, 0 };
		struct fb_conn *c;
		int fd;

		if (poll(&pfd, 1, 20) <= 0)
			continue;
		fd = accept4(be->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		/* short ticks: a blocked read notices the stop flag */
		fh_set_timeouts(fd, 50);
		c = calloc(1, sizeof(*c));
		pthread_mutex_lock(&be->mu);
		if (!c || be->nconns >= FB_MAX_CONNS) {
			pthread_mutex_unlock(&be->mu);
			free(c);
			close(fd);
			continue;
		}
		c->be = be;
		c->fd = fd;
		c->idx = be->nconns;
		be->conns[be->nconns++] = c;
		pthread_cond_broadcast(&be->cv);
		pthread_mutex_unlock(&be->mu);
		if (pthread_create(&c->th, NULL, fb_conn_main, c)) {
			close(fd);
			c->fd = -1;
			c->th = 0;
		}
	}
	return NULL;
}

static inline int fbackend__start(struct fbackend *be, fb_script script,
				  long arg)
{
	memset(be, 0, sizeof(*be));
	pthread_mutex_init(&be->mu, NULL);
	pthread_cond_init(&be->cv, NULL);
	be->script = script;
	be->arg = arg;
	be->lfd = fh_listen(&be->port);
	if (be->lfd < 0)
		return -1;
	snprintf(be->name, sizeof(be->name), "127.0.0.1:%d", be->port);
	if (pthread_create(&be->th, NULL, fb_accept_main, be))
		return -1;
	be->running = true;
	return 0;
}

static inline void fbackend__stop(struct fbackend *be)
{
	int i;

	if (!be->running)
		return;
	__atomic_store_n(&be->stop, 1, __ATOMIC_RELEASE);
	pthread_mutex_lock(&be->mu);
	pthread_cond_broadcast(&be->cv);
	pthread_mutex_unlock(&be->mu);
	pthread_join(be->th, NULL);
	for (i = 0; i < be->nconns; i++) {
		if (be->conns[i]->th)
			pthread_join(be->conns[i]->th, NULL);
		free(be->conns[i]);
	}
	close(be->lfd);
	be->running = false;
}

/* Count a step reached by a script; tests wait for it. */
static inline void fb_stage(struct fb_conn *c)
{
	pthread_mutex_lock(&c->be->mu);
	c->be->stage++;
	pthread_cond_broadcast(&c->be->cv);
	pthread_mutex_unlock(&c->be->mu);
}

static inline bool fb_wait_cond(struct fbackend *be, int *v, int n)
{
	struct timespec ts;
	bool ok;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += WAIT_MS / 1000;
	pthread_mutex_lock(&be->mu);
	while (*v < n && !fb_stopping(be))
		if (pthread_cond_timedwait(&be->cv, &be->mu, &ts) == ETIMEDOUT)
			break;
	ok = *v >= n;
	pthread_mutex_unlock(&be->mu);
	return ok;
}

/* A script waits until the test said go N times. */
static inline bool fb_wait_go(struct fb_conn *c, int n)
{
	return fb_wait_cond(c->be, &c->be->go, n);
}

static inline void fbackend__go(struct fbackend *be)
{
	pthread_mutex_lock(&be->mu);
	be->go++;
	pthread_cond_broadcast(&be->cv);
	pthread_mutex_unlock(&be->mu);
}

static inline bool fbackend__wait_stage(struct fbackend *be, int n)
{
	return fb_wait_cond(be, &be->stage, n);
}

static inline bool fbackend__wait_reqs(struct fbackend *be, int n)
{
	return fb_wait_cond(be, &be->nreqs, n);
}

static inline int fbackend__nreqs(struct fbackend *be)
{
	int n;

	pthread_mutex_lock(&be->mu);
	n = be->nreqs;
	pthread_mutex_unlock(&be->mu);
	return n;
}

/* How many request heads with this target the backend saw. */
/* Connections the backend has accepted so far. */
static inline int fbackend__nconns(struct fbackend *be)
{
	int n;

	pthread_mutex_lock(&be->mu);
	n = be->nconns;
	pthread_mutex_unlock(&be->mu);
	return n;
}

static inline int fbackend__count(struct fbackend *be, const char *target)
{
	int i, n = 0;

	pthread_mutex_lock(&be->mu);
	for (i = 0; i < be->nreqs; i++)
		if (!strcmp(be->reqs[i].target, target))
			n++;
	pthread_mutex_unlock(&be->mu);
	return n;
}

/* Request heads seen on connection number CONN. */
static inline int fbackend__count_on(struct fbackend *be, int conn)
{
	int i, n = 0;

	pthread_mutex_lock(&be->mu);
	for (i = 0; i < be->nreqs; i++)
		if (be->reqs[i].conn == conn)
			n++;
	pthread_mutex_unlock(&be->mu);
	return n;
}

/* Connection number on which TARGET was seen first, -1 if never. */
static inline int fbackend__conn_of(struct fbackend *be, const char *target)
{
	int i, conn = -1;

	pthread_mutex_lock(&be->mu);
	for (i = 0; i < be->nreqs && conn < 0; i++)
		if (!strcmp(be->reqs[i].target, target))
			conn = be->reqs[i].conn;
	pthread_mutex_unlock(&be->mu);
	return conn;
}

/* Read into c->buf; 0 on EOF or error, -1 when the backend stops. */
static inline ssize_t fb_fill(struct fb_conn *c)
{
	for (;;) {
		ssize_t n;

		if (fb_stopping(c->be) || c->fd < 0)
			return -1;
		if (c->len == sizeof(c->buf))
			return 0;
		n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
		if (n > 0) {
			c->len += n;
			return n;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		return 0;
	}
}

/* Read a request head and record it. -1 on EOF (no new request). */
static inline int fb_read_head(struct fb_conn *c, struct fb_req *out)
{
	struct fb_req r = { .conn = c->idx };
	char *e;
	size_t hl, n;

	while (!(e = memmem(c->buf, c->len, "\r\n\r\n", 4)))
		if (fb_fill(c) <= 0)
			return -1;
	hl = e + 4 - c->buf;
	n = hl < sizeof(r.head) - 1 ? hl : sizeof(r.head) - 1;
	memcpy(r.head, c->buf, n);
	r.head[n] = 0;
	sscanf(r.head, "%15s %255s", r.method, r.target);
	r.content_length = fh_content_length(r.head);
	r.nth = c->nreq++;
	memmove(c->buf, c->buf + hl, c->len - hl);
	c->len -= hl;
	pthread_mutex_lock(&c->be->mu);
	if (c->be->nreqs < FB_MAX_REQS)
		c->be->reqs[c->be->nreqs++] = r;
	pthread_cond_broadcast(&c->be->cv);
	pthread_mutex_unlock(&c->be->mu);
	if (out)
		*out = r;
	return 0;
}

/* Read and drop N body bytes; returns how many came before EOF. */
static inline long long fb_read_body(struct fb_conn *c, long long n)
{
	long long got = 0;

	while (got < n) {
		size_t k;

		if (!c->len && fb_fill(c) <= 0)
			break;
		k = (long long)c->len < n - got ? c->len : (size_t)(n - got);
		memmove(c->buf, c->buf + k, c->len - k);
		c->len -= k;
		got += k;
	}
	return got;
}

static inline int fb_send(struct fb_conn *c, const void *p, size_t n)
{
	const char *s = p;

	while (n && !fb_stopping(c->be)) {
		ssize_t k = send(c->fd, s, n, MSG_NOSIGNAL);

		if (k < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (k <= 0)
			return -1;
		s += k;
		n -= k;
	}
	return n ? -1 : 0;
}

static inline int fb_sendstr(struct fb_conn *c, const char *s)
{
	return fb_send(c, s, strlen(s));
}

/* 200 with BODY, keep-alive. */
static inline int fb_answer(struct fb_conn *c, const char *body)
{
	char head[256];

	snprintf(head, sizeof(head),
		 "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n"
		 "Connection: keep-alive\r\n\r\n",
		 strlen(body));
	if (fb_sendstr(c, head))
		return -1;
	return fb_sendstr(c, body);
}

/* RST: SO_LINGER 0, then close. */
static inline void fb_reset(struct fb_conn *c)
{
	struct linger lg = { 1, 0 };

	pthread_mutex_lock(&c->be->mu);
	if (c->fd >= 0) {
		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(c->fd);
	}
	c->fd = -1;
	pthread_mutex_unlock(&c->be->mu);
}

static inline void fb_close(struct fb_conn *c)
{
	pthread_mutex_lock(&c->be->mu);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	pthread_mutex_unlock(&c->be->mu);
}

/* Do nothing until the peer goes away or the backend stops. */
static inline void fb_stall(struct fb_conn *c)
{
	while (!fb_stopping(c->be) && c->fd >= 0) {
		struct pollfd pfd = { c->fd, POLLRDHUP, 0 };

		if (poll(&pfd, 1, 20) > 0 &&
		    (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR)))
			return;
	}
}

/* Read one whole request (head and Content-Length body). */
static inline int fb_read_request(struct fb_conn *c, struct fb_req *r)
{
	struct fb_req tmp;

	if (!r)
		r = &tmp;
	if (fb_read_head(c, r))
		return -1;
	if (r->content_length > 0 &&
	    fb_read_body(c, r->content_length) < r->content_length)
		return -1;
	return 0;
}

/* --- ready-made scripts (be->arg is their parameter) --- */

/* Answer every request "ok", keep-alive; after arg ms when arg > 0 (slow). */
static inline void fb_script_normal(struct fb_conn *c)
{
	while (!fb_read_request(c, NULL)) {
		if (c->be->arg > 0)
			fh_sleep_ms(c->be->arg);
		if (fb_answer(c, "ok"))
			return;
	}
}

/* Accept and stall: read nothing, answer nothing. */
static inline void fb_script_stall(struct fb_conn *c)
{
	fb_stall(c);
}

/* Read the head, then reset the connection. */
static inline void fb_script_head_reset(struct fb_conn *c)
{
	if (!fb_read_head(c, NULL))
		fb_reset(c);
}

/* Read the head, then close the connection. */
static inline void fb_script_head_close(struct fb_conn *c)
{
	if (!fb_read_head(c, NULL))
		fb_close(c);
}

#define FB_PARTIAL_HEAD "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
#define FB_PARTIAL_BODY "0123456789"

/* Answer partially (head and 10 of 100 body bytes), then stall. */
static inline void fb_script_partial(struct fb_conn *c)
{
	if (fb_read_request(c, NULL) || fb_sendstr(c, FB_PARTIAL_HEAD) ||
	    fb_sendstr(c, FB_PARTIAL_BODY))
		return;
	fb_stall(c);
}

/* Answer 10 of 100 body bytes, then close. */
static inline void fb_script_close_mid_body(struct fb_conn *c)
{
	if (fb_read_request(c, NULL) || fb_sendstr(c, FB_PARTIAL_HEAD) ||
	    fb_sendstr(c, FB_PARTIAL_BODY))
		return;
	fb_close(c);
}

#define FB_EVIL "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nEVIL"

/* First connection: a 204 and, in the same write, a second response;
 * other connections: normal. */
static inline void fb_script_204_extra(struct fb_conn *c)
{
	if (c->idx == 0) {
		if (fb_read_request(c, NULL) ||
		    fb_sendstr(c, "HTTP/1.1 204 No Content\r\n\r\n" FB_EVIL))
			return;
	}
	fb_script_normal(c);
}

/* --- scripted TLS clients ---------------------------------------------------- */

struct fclient {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	char buf[1 << 17]; /* read but not yet consumed */
	size_t len;
	int error; /* last read: FC_TIMEOUT or FC_CLOSED */
};

enum { FC_OK, FC_CLOSED, FC_TIMEOUT, FC_DATA };

struct fresp {
	int status;
	char head[8192];
	char body[65536]; /* the first 64 KiB of it, NUL-terminated */
	size_t body_len; /* all of it */
	bool complete; /* the body arrived to its end */
	bool conn_close; /* "Connection: close" */
	int end; /* FC_OK, or how the read stopped: FC_CLOSED, FC_TIMEOUT */
};

/* Keep the first bytes of the body, count them all. */
static inline void fresp__add(struct fresp *r, const char *p, size_t n)
{
	size_t room = sizeof(r->body) - 1 - r->body_len;

	if (r->body_len < sizeof(r->body) - 1)
		memcpy(r->body + r->body_len, p, n < room ? n : room);
	r->body_len += n;
	r->body[r->body_len < sizeof(r->body) - 1 ? r->body_len :
						    sizeof(r->body) - 1] = 0;
}

static inline void fclient__close(struct fclient *c)
{
	if (c->ssl)
		SSL_free(c->ssl);
	if (c->ctx)
		SSL_CTX_free(c->ctx);
	if (c->fd > 0)
		close(c->fd);
	c->ssl = NULL;
	c->ctx = NULL;
	c->fd = -1;
	ERR_clear_error();
}

/* TLS connection to 127.0.0.1:PORT from address SRC (NULL: any),
 * handshake done. */
static inline int fclient__connect_from(struct fclient *c, int port,
					const char *src)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };

	memset(c, 0, sizeof(*c));
	if (src) {
		c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		inet_pton(AF_INET, src, &sin.sin_addr);
		if (c->fd < 0 ||
		    bind(c->fd, (struct sockaddr *)&sin, sizeof(sin))) {
			fclient__close(c);
			return -1;
		}
		sin.sin_port = htons(port);
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (connect(c->fd, (struct sockaddr *)&sin, sizeof(sin))) {
			fclient__close(c);
			return -1;
		}
	} else {
		c->fd = fh_connect_plain(port);
	}
	if (c->fd < 0)
		return -1;
	fh_set_timeouts(c->fd, WAIT_MS);
	c->ctx = SSL_CTX_new(TLS_client_method());
	if (!c->ctx)
		goto fail;
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
	c->ssl = SSL_new(c->ctx);
	if (!c->ssl || !SSL_set_fd(c->ssl, c->fd) ||
	    !SSL_set_tlsext_host_name(c->ssl, "localhost") ||
	    SSL_connect(c->ssl) != 1)
		goto fail;
	return 0;
fail:
	fclient__close(c);
	return -1;
}

static inline int fclient__connect(struct fclient *c, int port)
{
	return fclient__connect_from(c, port, NULL);
}

static inline int fclient__send(struct fclient *c, const void *p, size_t n)
{
	size_t done;

	if (!n)
		return 0;
	ERR_clear_error();
	if (SSL_write_ex(c->ssl, p, n, &done) != 1 || done != n) {
		ERR_clear_error();
		return -1;
	}
	return 0;
}

static inline int fclient__sendstr(struct fclient *c, const char *s)
{
	return fclient__send(c, s, strlen(s));
}

/* Read more into c->buf: >0 bytes, or 0 with c->error set. */
static inline ssize_t fclient__fill(struct fclient *c)
{
	size_t got = 0;
	int r, e;

	if (c->len == sizeof(c->buf)) {
		c->error = FC_TIMEOUT;
		return 0;
	}
	ERR_clear_error();
	errno = 0;
	r = SSL_read_ex(c->ssl, c->buf + c->len, sizeof(c->buf) - c->len, &got);
	if (r == 1) {
		c->len += got;
		return got;
	}
	e = SSL_get_error(c->ssl, 0);
	if (e == SSL_ERROR_WANT_READ ||
	    (e == SSL_ERROR_SYSCALL &&
	     (errno == EAGAIN || errno == EWOULDBLOCK)))
		c->error = FC_TIMEOUT;
	else
		c->error = FC_CLOSED; /* close_notify, FIN or RST */
	ERR_clear_error();
	return 0;
}

static inline void fclient__consume(struct fclient *c, size_t n)
{
	memmove(c->buf, c->buf + n, c->len - n);
	c->len -= n;
}

/*
 * Read one response: status, head, body by Content-Length, chunked or
 * close (HEAD_REQUEST: no body). Returns the status, -1 when no head came.
 * r->end says whether the read stopped early (closed, or the safety net).
 */
static inline int fclient__read_response(struct fclient *c, struct fresp *r,
					 bool head_request)
{
	char v[128], *e;
	size_t hl;
	long long cl;

	memset(r, 0, sizeof(*r));
	r->status = -1;
	r->end = FC_OK;
	while (!(e = memmem(c->buf, c->len, "\r\n\r\n", 4)))
		if (!fclient__fill(c)) {
			r->end = c->error;
			return -1;
		}
	hl = e + 4 - c->buf;
	memcpy(r->head, c->buf, hl < sizeof(r->head) ? hl : sizeof(r->head));
	r->head[sizeof(r->head) - 1] = 0;
	if (hl < sizeof(r->head))
		r->head[hl] = 0;
	fclient__consume(c, hl);
	sscanf(r->head, "HTTP/1.%*d %d", &r->status);
	fh_header(r->head, "Connection", v, sizeof(v));
	r->conn_close = !strcasecmp(v, "close");
	cl = fh_content_length(r->head);
	fh_header(r->head, "Transfer-Encoding", v, sizeof(v));
	if (head_request || r->status == 204 || r->status == 304 ||
	    r->status / 100 == 1) {
		r->complete = true;
		return r->status;
	}
	if (!strcasecmp(v, "chunked")) {
		for (;;) {
			char *le;
			long long sz;

			while (!(le = memmem(c->buf, c->len, "\r\n", 2)))
				if (!fclient__fill(c))
					goto early;
			sz = strtoll(c->buf, NULL, 16);
			fclient__consume(c, le + 2 - c->buf);
			if (sz == 0) {
				/* trailers, then the empty line */
				while (!(
					le = memmem(c->buf, c->len, "\r\n", 2)))
					if (!fclient__fill(c))
						goto early;
				fclient__consume(c, le + 2 - c->buf);
				r->complete = true;
				return r->status;
			}
			while ((long long)c->len < sz + 2)
				if (!fclient__fill(c))
					goto early;
			fresp__add(r, c->buf, sz);
			fclient__consume(c, sz + 2);
		}
	}
	for (;;) {
		size_t k = c->len;

		if (cl >= 0 && (long long)(r->body_len + k) > cl)
			k = cl - r->body_len;
		fresp__add(r, c->buf, k);
		fclient__consume(c, k);
		if (cl >= 0 && (long long)r->body_len == cl) {
			r->complete = true;
			return r->status;
		}
		if (!fclient__fill(c)) {
			if (cl < 0 && c->error == FC_CLOSED) {
				r->complete = true; /* delimited by close */
				return r->status;
			}
			goto early;
		}
	}
early:
	r->end = c->error;
	return r->status;
}

/* close_notify and FIN: the client sends nothing more, still reads. */
static inline void fclient__half_close(struct fclient *c)
{
	SSL_shutdown(c->ssl);
	shutdown(c->fd, SHUT_WR);
}

/*
 * Did the server close the connection? FC_CLOSED when it did (within the
 * safety net), FC_DATA when bytes came instead (e.g. another response),
 * FC_TIMEOUT when it stayed open and silent for WAIT_MS.
 */
static inline int fclient__wait_close(struct fclient *c)
{
	if (c->len)
		return FC_DATA;
	if (fclient__fill(c))
		return FC_DATA;
	return c->error;
}

/*
 * Has the server sent application data (or closed) that is not read yet?
 * A non-blocking read, so that TLS 1.3 session tickets do not count.
 */
static inline bool fclient__readable(struct fclient *c)
{
	int fl = fcntl(c->fd, F_GETFL);
	bool r;

	if (c->len)
		return true;
	fcntl(c->fd, F_SETFL, fl | O_NONBLOCK);
	r = fclient__fill(c) > 0 || c->error == FC_CLOSED;
	fcntl(c->fd, F_SETFL, fl);
	return r;
}

/* GET PATH on a new connection: the status (-1: no response). */
static inline int fh_get(int port, const char *path, struct fresp *r)
{
	struct fclient *c = calloc(1, sizeof(*c));
	char req[512];
	int status = -1;

	if (!c)
		return -1;
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: test\r\n\r\n",
		 path);
	if (!fclient__connect(c, port) && !fclient__sendstr(c, req))
		status = fclient__read_response(c, r, false);
	fclient__close(c);
	free(c);
	return status;
}

/* --- /metrics ------------------------------------------------------------- */

/*
 * One series from the admin address: "name" or "name{label=\"v\",...}"
 * (every label given must be on the line; lines that match are summed).
 * -1 when no line matches (a series that does not exist).
 */
static inline double fmetrics__get(int admin_port, const char *series)
{
	static char buf[1 << 18];
	char name[128], labels[256] = "";
	const char *brace = strchr(series, '{');
	size_t n = 0, nl;
	double sum = 0;
	bool found = false;
	char *line, *save;
	int fd;

	if (brace) {
		nl = brace - series;
		snprintf(labels, sizeof(labels), "%.*s",
			 (int)(strlen(brace + 1) - 1), brace + 1);
	} else {
		nl = strlen(series);
	}
	snprintf(name, sizeof(name), "%.*s", (int)nl, series);
	fd = fh_connect_plain(admin_port);
	if (fd < 0)
		return -2;
	fh_set_timeouts(fd, WAIT_MS);
	if (send(fd, "GET /metrics HTTP/1.0\r\n\r\n", 25, MSG_NOSIGNAL) != 25) {
		close(fd);
		return -2;
	}
	for (;;) {
		ssize_t k = recv(fd, buf + n, sizeof(buf) - 1 - n, 0);

		if (k <= 0)
			break;
		n += k;
	}
	close(fd);
	buf[n] = 0;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *sp, *lab_end, *l, *lsave, want[256];
		bool all = true;

		if (strncmp(line, name, nl) ||
		    (line[nl] != '{' && line[nl] != ' '))
			continue;
		sp = strrchr(line, ' ');
		if (!sp)
			continue;
		lab_end = line[nl] == '{' ? strchr(line, '}') : NULL;
		snprintf(want, sizeof(want), "%s", labels);
		for (l = strtok_r(want, ",", &lsave); l && all;
		     l = strtok_r(NULL, ",", &lsave)) {
			char *hit = lab_end ? strstr(line + nl, l) : NULL;

			all = hit && hit < lab_end;
		}
		if (!all)
			continue;
		sum += strtod(sp + 1, NULL);
		found = true;
	}
	return found ? sum : -1;
}

/* lbtls_upstream_up of one backend (summed over workers: one here). */
static inline long long fmetrics__up(const struct fproxy *p,
				     const struct fbackend *be)
{
	char s[128];

	snprintf(s, sizeof(s), "lbtls_upstream_up{server=\"%s\"}", be->name);
	return (long long)fmetrics__get(p->admin, s);
}

/* lbtls_upstream_failures_total of one backend. */
static inline long long fmetrics__failures(const struct fproxy *p,
					   const struct fbackend *be)
{
	char s[128];

	snprintf(s, sizeof(s), "lbtls_upstream_failures_total{server=\"%s\"}",
		 be->name);
	return (long long)fmetrics__get(p->admin, s);
}

/* --- assertions with messages that say what was compared, in decimal --- */

/* Wait (bounded: 3 x WAIT_MS) for lbtls_connections_active to be 'want',
 * then assert it. */
#define expect_active(p, want)                                             \
	do {                                                               \
		int i_;                                                    \
		for (i_ = 0; i_ < 3 * WAIT_MS / 10; i_++) {                \
			if (fmetrics__get((p)->admin,                      \
					  "lbtls_connections_active") ==   \
			    (want))                                        \
				break;                                     \
			fh_sleep_ms(10);                                   \
		}                                                          \
		expect_eq((long long)fmetrics__get(                        \
				  (p)->admin, "lbtls_connections_active"), \
			  (want), "lbtls_connections_active");             \
	} while (0)

#define expect_eq(got, want, what)                                             \
	do {                                                                   \
		long long g_ = (got), w_ = (want);                             \
		if (g_ != w_)                                                  \
			fail_msg("%s: got %lld, expected %lld", what, g_, w_); \
	} while (0)

#define expect_ge(got, min, what)                                              \
	do {                                                                   \
		long long g_ = (got), m_ = (min);                              \
		if (g_ < m_)                                                   \
			fail_msg("%s: got %lld, expected at least %lld", what, \
				 g_, m_);                                      \
	} while (0)

/* "HTTP/1.1 504 Gateway Timeout, Connection: close" or what ended it. */
static inline const char *fresp__summary(const struct fresp *r)
{
	static char s[256];
	char conn[64], body[41];
	size_t n = strcspn(r->head, "\r\n"), i;

	snprintf(body, sizeof(body), "%.40s", r->body);
	for (i = 0; body[i]; i++)
		if ((unsigned char)body[i] < ' ')
			body[i] = ' ';

	if (r->status < 0)
		return r->end == FC_TIMEOUT ? "no response (timed out)" :
					      "no response (closed)";
	fh_header(r->head, "Connection", conn, sizeof(conn));
	snprintf(s, sizeof(s), "'%.*s', Connection: %s, body '%s'%s",
		 (int)(n < 100 ? n : 100), r->head, conn[0] ? conn : "-", body,
		 r->end == FC_TIMEOUT ? ", body timed out" :
		 r->end == FC_CLOSED  ? ", body cut by a close" :
					"");
	return s;
}

/* The status of a response, the response summed up in the message. */
#define expect_status(r, want)                                               \
	do {                                                                 \
		if ((r)->status != (want))                                   \
			fail_msg("status %d, expected %d (%s)", (r)->status, \
				 (want), fresp__summary(r));                 \
	} while (0)

#define expect_5xx(r)                                                         \
	do {                                                                  \
		if ((r)->status < 500 || (r)->status > 599)                   \
			fail_msg("status %d, expected 5xx (%s)", (r)->status, \
				 fresp__summary(r));                          \
	} while (0)

/* The whole body, as expected. */
#define expect_body(r, want)                                                   \
	do {                                                                   \
		if (!(r)->complete || strcmp((r)->body, (want)))               \
			fail_msg("body '%.60s'%s, expected '%s' (%s)",         \
				 (r)->body,                                    \
				 (r)->complete ? "" : " (incomplete)", (want), \
				 fresp__summary(r));                           \
	} while (0)

/* The response says Connection: close. */
#define expect_conn_close(r)                                        \
	do {                                                        \
		if (!(r)->conn_close)                               \
			fail_msg("expected Connection: close (%s)", \
				 fresp__summary(r));                \
	} while (0)

static inline const char *fc_name(int v)
{
	static const char *const n[] = { "ok", "closed",
					 "still open (timed out)",
					 "data instead of a close" };

	return v >= 0 && v <= FC_DATA ? n[v] : "?";
}

/* The server closed the client's connection (and sent nothing more). */
#define expect_closed(c)                                                          \
	do {                                                                      \
		int v_ = fclient__wait_close(c);                                  \
		if (v_ != FC_CLOSED)                                              \
			fail_msg(                                                 \
				"client connection: %s, expected closed%s%.200s", \
				fc_name(v_), v_ == FC_DATA ? ": " : "",           \
				v_ == FC_DATA ? (c)->buf : "");                   \
	} while (0)

/* --- the fixture: one lbtls, its backends and clients ---------------------- */

#define FX_BACKENDS 2
#define FX_CLIENTS 3

struct fx {
	struct fproxy p;
	struct fbackend be[FX_BACKENDS];
	struct fclient c[FX_CLIENTS];
	struct fresp r; /* scratch response */
};

/* cmocka setup: the dir and certificate; tests start what they need. */
static inline int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	signal(SIGPIPE, SIG_IGN);
	if (!f)
		return -1;
	if (fproxy__init(&f->p)) {
		fproxy__stop(&f->p);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

/* cmocka teardown: runs after a failed assertion too. */
static inline int fx_teardown(void **state)
{
	struct fx *f = *state;
	int i;

	if (!f)
		return 0;
	if (f->p.worker > 0)
		fproc__cont(f->p.worker);
	fproxy__stop(&f->p);
	for (i = 0; i < FX_CLIENTS; i++)
		fclient__close(&f->c[i]);
	for (i = 0; i < FX_BACKENDS; i++)
		fbackend__stop(&f->be[i]);
	free(f);
	return 0;
}

#define FX_TEST(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

#endif /* FAULTS_HARNESS_H */
