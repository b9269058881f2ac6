// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The lbctl agent and CLI with real processes: the agent (build/lbctl agent,
 * in the test's host namespace), four worker processes that each own two
 * listening sockets on loopback (127.0.0.1:0 and [::1]:0, as lbtls), register
 * them with the agent (tls-tier/process/agent_link.c on tls-tier/core/loop.c, the code
 * lbtls uses) and greet every connection with "worker N", and clients in the
 * client namespace connecting to the VIP through native XDP and sk_lookup.
 * Asserted: every client lands on the worker its ring slot names (v4 and
 * v6); the listeners are reachable through the VIP only; sockets of the
 * wrong family or kind, duplicates, sockets of another namespace and
 * registrations from a uid that is not root nor listed are refused, as are
 * sockets not bound to loopback and a held worker id asked for by a
 * process without the holder's uid and sockets; 1000 idle connections to
 * the agent's socket are bounded (64, 2 s) and stop no registration; a
 * re-registration with fewer sockets leaves no stale slot; drain keeps an open connection and
 * moves new ones; kill -9 of a worker takes it out and no later connection
 * fails; a worker killed and respawned gives back byte-identical rings; killing and restarting the agent under load fails nothing; XDP
 * detached still lands on the computed worker; bad input is refused and
 * changes nothing; /metrics serves while scrapers stall, evicts the oldest
 * when its slots are full and answers bad requests with their status.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <sys/epoll.h>
#include <bpf/bpf.h>
#include "../../tls-tier/process/agent_link.c"
#include "dataplane.h"
#include "vip.h"
#include "topology.h"

#define NCLIENTS 16
#define NWORKERS 4
#define VIP4 TOPO_VIP4 ":443"
#define VIP6 "[" TOPO_VIP6 "]:443"

static struct topo topo;
static char lbctl[PATH_MAX], instance[32], dir[64], config[128],
	bad_config[128], sock_path[108], agent_log[128];
static pid_t agent_pid = -1, workers[NWORKERS];
static struct loop *worker_loop;

static int agent_logged(const char *what);
static int still_open(int fd);

/* --- helpers ------------------------------------------------------------ */

static int run(char *out, size_t len, const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	FILE *p;
	size_t n = 0;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	if (out) {
		n = fread(out, 1, len - 1, p);
		out[n] = '\0';
	} else {
		char sink[4096];

		while (fread(sink, 1, sizeof(sink), p) > 0)
			;
	}
	rc = pclose(p);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

#define LBCTL "%s --instance %s --netns %s "
#define LBCTL_ARGS lbctl, instance, topo.host

static int pick(const char *vip, const char *client)
{
	char out[64];

	if (run(out, sizeof(out), LBCTL "pick %s %s", LBCTL_ARGS, vip, client))
		return -1;
	return strncmp(out, "none", 4) ? atoi(out) : -1;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int connect_vip(int family, const char *src)
{
	struct sockaddr_storage ss = { 0 }, local = { 0 };
	struct timeval tv = { .tv_sec = 2 };
	socklen_t sl;
	int fd = topo_client_socket(&topo, family == 6 ? AF_INET6 : AF_INET,
				    SOCK_STREAM);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (family == 6) {
		struct sockaddr_in6 *l = (void *)&local, *d = (void *)&ss;

		l->sin6_family = d->sin6_family = AF_INET6;
		inet_pton(AF_INET6, src, &l->sin6_addr);
		inet_pton(AF_INET6, TOPO_VIP6, &d->sin6_addr);
		d->sin6_port = htons(443);
		sl = sizeof(*d);
	} else {
		struct sockaddr_in *l = (void *)&local, *d = (void *)&ss;

		l->sin_family = d->sin_family = AF_INET;
		inet_pton(AF_INET, src, &l->sin_addr);
		inet_pton(AF_INET, TOPO_VIP4, &d->sin_addr);
		d->sin_port = htons(443);
		sl = sizeof(*d);
	}
	if (bind(fd, (struct sockaddr *)&local, sl) ||
	    connect(fd, (struct sockaddr *)&ss, sl)) {
		fprintf(stderr, "connect from %s: %s\n", src, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Ask on an open connection who serves it; -1 on any failure. */
static int ask(int fd)
{
	char buf[64];
	ssize_t n;

	if (send(fd, "who\n", 4, MSG_NOSIGNAL) != 4)
		return -1;
	n = recv(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0) {
		fprintf(stderr, "no answer on the connection: %s\n",
			n ? strerror(errno) : "closed");
		return -1;
	}
	buf[n] = '\0';
	return strncmp(buf, "worker ", 7) ? -1 : atoi(buf + 7);
}

/* One request on a new connection: the worker id that served it, or -1. */
static int request(int family, const char *src)
{
	int fd = connect_vip(family, src), w;

	if (fd < 0)
		return -1;
	w = ask(fd);
	close(fd);
	return w;
}

/*
 * Both VIPs' rings as lb_rings holds them now, v4 then v6, from the pinned
 * maps (the test reads them itself, not through lbctl). Returns a
 * malloc'd array of 2 * ring_size slots; *m gets the ring size.
 */
static __u32 *read_rings(__u32 *m)
{
	static const char *const vips[2] = { VIP4, VIP6 };
	struct dataplane dp;
	struct lb_vip_meta meta;
	struct lb_vip_key key;
	char pins[128];
	__u32 *rings = NULL;
	int i, err;

	snprintf(pins, sizeof(pins), "/sys/fs/bpf/%s", instance);
	if (dataplane__open_pinned(&dp, pins))
		return NULL;
	*m = dp.cfg.ring_size;
	rings = malloc(2 * (size_t)*m * sizeof(*rings));
	for (i = 0, err = !rings; i < 2 && !err; i++) {
		err = vip__parse(vips[i], &key);
		err = err ?: vip__get(&dp, &key, &meta);
		err = err   ?:
			      dataplane__ring_read(&dp, meta.index,
						   rings + (size_t)i * *m);
	}
	dataplane__destroy(&dp);
	if (err) {
		free(rings);
		return NULL;
	}
	return rings;
}

static size_t slots_of(const __u32 *rings, __u32 m, int id)
{
	size_t s, n = 0;

	for (s = 0; s < 2 * (size_t)m; s++)
		n += rings[s] == (__u32)id;
	return n;
}

/* Until both rings are 'want' byte for byte (bounded: 5 s); 0 if so. */
static int wait_rings(const __u32 *want, __u32 m)
{
	__u32 *now, mm;
	int i, same = 0;

	for (i = 0; i < 50 && !same; i++) {
		now = read_rings(&mm);
		same = now && mm == m &&
		       !memcmp(now, want, 2 * (size_t)m * sizeof(*now));
		free(now);
		if (!same)
			usleep(100000);
	}
	return same ? 0 : -1;
}

/* --- the worker process -------------------------------------------------- */

/* A worker greets every line on a connection with "worker ID PORT4 PORT6",
 * the ports of its loopback listeners, on the loop lbtls runs. */
static char greet[64];

static void greeter_io(struct loop_io *io, uint32_t events)
{
	char buf[64];

	(void)events;
	if (recv(io->fd, buf, sizeof(buf), 0) <= 0 ||
	    send(io->fd, greet, strlen(greet), MSG_NOSIGNAL) < 0) {
		loop__io_close(worker_loop, io);
		loop__defer_free(worker_loop, io);
	}
}

static void greeter_accept(struct loop_io *io, uint32_t events)
{
	struct loop_io *c;
	int fd;

	(void)events;
	fd = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	c = malloc(sizeof(*c));
	loop__io_init(c, fd, greeter_io);
	loop__io_set(worker_loop, c, EPOLLIN);
}

/* 127.0.0.1:0 or [::1]:0 (IPv6 only), as lbtls binds its agent listeners */
static int loopback_listener(int family, unsigned *port)
{
	struct sockaddr_in6 sa6 = { .sin6_family = AF_INET6,
				    .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct sockaddr_in sa4 = { .sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd, on = 1;

	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    (family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on))) ||
	    bind(fd,
		 family == AF_INET6 ? (struct sockaddr *)&sa6 :
				      (struct sockaddr *)&sa4,
		 family == AF_INET6 ? sizeof(sa6) : sizeof(sa4)) ||
	    listen(fd, 128) || getsockname(fd, (struct sockaddr *)&ss, &len))
		_exit(1);
	*port = ntohs(family == AF_INET6 ?
			      ((struct sockaddr_in6 *)&ss)->sin6_port :
			      ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

static unsigned port_of(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		_exit(1);
	return ntohs(ss.ss_family == AF_INET6 ?
			     ((struct sockaddr_in6 *)&ss)->sin6_port :
			     ((struct sockaddr_in *)&ss)->sin_port);
}

/* Worker 'id' on its own new listeners, or on 'given' (v4, v6) that it
 * shares with the test as an lbtls worker does with its master. */
static void worker_main(int id, const int *given)
{
	static struct loop loop;
	static struct loop_io lis[2];
	static const int families[2] = { AF_INET, AF_INET6 };
	struct agent_link link;
	unsigned port[2];
	int i, fd;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	worker_loop = &loop;
	if (loop__init(&loop) ||
	    agent_link__init(&link, &loop, sock_path, id, 1))
		_exit(1);
	for (i = 0; i < 2; i++) {
		fd = given ? given[i] :
			     loopback_listener(families[i], &port[i]);
		port[i] = port_of(fd);
		loop__io_init(&lis[i], fd, greeter_accept);
		if (loop__io_set(&loop, &lis[i], EPOLLIN) ||
		    agent_link__add_listener(&link, lis[i].fd,
					     LB_LISTENER_HTTPS, families[i]))
			_exit(1);
	}
	snprintf(greet, sizeof(greet), "worker %d %u %u\n", id, port[0],
		 port[1]);
	/* registers, and again whenever the agent comes back */
	agent_link__start(&link);
	for (;;)
		if (loop__run_once(&loop, -1))
			_exit(1);
}

static pid_t spawn_worker_on(int id, const int *fds)
{
	pid_t p = fork();

	if (p == 0)
		worker_main(id, fds);
	return p;
}

static pid_t spawn_worker(int id)
{
	return spawn_worker_on(id, NULL);
}

static pid_t spawn_agent(const char *cfg)
{
	pid_t p = fork();

	if (p == 0) {
		int fd = open(agent_log, O_WRONLY | O_CREAT | O_APPEND, 0600);

		/* systemd's default for a service: idle connections that
		 * are never closed take the agent's last fd */
		struct rlimit rl = { 1024, 1024 };

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		setrlimit(RLIMIT_NOFILE, &rl);
		dup2(fd, 2);
		dup2(fd, 1);
		execl(lbctl, lbctl, "--instance", instance, "--netns",
		      topo.host, "agent", "-c", cfg, (char *)NULL);
		_exit(127);
	}
	return p;
}

/* Until 'expect' workers are up in lbctl's view (bounded: 10 s). */
static int wait_up(int expect)
{
	char out[4096], *p;
	int i, up = 0;

	for (i = 0; i < 100; i++) {
		up = 0;
		if (run(out, sizeof(out), LBCTL "worker list %s", LBCTL_ARGS,
			VIP4) == 0)
			for (p = out; (p = strstr(p, " up ")); p++)
				up++;
		if (up == expect)
			return 0;
		usleep(100000);
	}
	fprintf(stderr, "wait_up: %d workers up, wanted %d\n", up, expect);
	return -1;
}

/* --- tests ---------------------------------------------------------------- */

static int group_setup(void **state)
{
	int i;

	(void)state;
	if (setns(topo.host_fd, CLONE_NEWNET))
		return -1;
	agent_pid = spawn_agent(config);
	for (i = 0; i < NWORKERS; i++)
		workers[i] = spawn_worker(i);
	return wait_up(NWORKERS);
}

static int group_teardown(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < NWORKERS; i++)
		if (workers[i] > 0)
			kill(workers[i], SIGKILL);
	if (agent_pid > 0)
		kill(agent_pid, SIGTERM);
	while (wait(NULL) > 0)
		;
	return 0;
}

static void test_clients_land_on_ring_pick(void **state)
{
	int i, want, got, seen[NWORKERS] = { 0 };

	(void)state;
	for (i = 0; i < NCLIENTS; i++) {
		want = pick(VIP4, topo.addr4[i]);
		got = request(4, topo.addr4[i]);
		print_message("%-22s -> worker %d (ring: %d)\n", topo.addr4[i],
			      got, want);
		assert_int_equal(got, want);
		seen[got]++;
	}
	for (i = 0; i < NWORKERS; i++)
		assert_true(seen[i] > 0); /* 16 clients reach all four */
	for (i = 0; i < 8; i++) {
		want = pick(VIP6, topo.addr6[i]);
		got = request(6, topo.addr6[i]);
		print_message("%-22s -> worker %d (ring: %d)\n", topo.addr6[i],
			      got, want);
		assert_int_equal(got, want);
	}
}

static void test_drain_keeps_open_connection(void **state)
{
	int w = pick(VIP4, topo.addr4[0]), keep, i, moved = 0, back = 0;
	__u32 m, *rings = read_rings(&m);

	(void)state;
	assert_non_null(rings);
	keep = connect_vip(4, topo.addr4[0]);
	assert_true(keep >= 0);
	assert_int_equal(ask(keep), w);
	assert_int_equal(
		run(NULL, 0, LBCTL "worker drain %s %d", LBCTL_ARGS, VIP4, w),
		0);
	/* the open keep-alive connection still works, on w */
	assert_int_equal(ask(keep), w);
	/* new connections of w's clients go to others, as the ring says */
	for (i = 0; i < NCLIENTS; i++) {
		int got = request(4, topo.addr4[i]);

		assert_int_not_equal(got, w);
		assert_int_equal(got, pick(VIP4, topo.addr4[i]));
		moved++;
	}
	assert_int_equal(ask(keep), w);
	close(keep);
	assert_int_equal(
		run(NULL, 0, LBCTL "worker undrain %s %d", LBCTL_ARGS, VIP4, w),
		0);
	/* w takes back exactly the slots it had (the ring is a function of
	 * the worker set), and every client follows it */
	assert_int_equal(wait_rings(rings, m), 0);
	free(rings);
	for (i = 0; i < NCLIENTS; i++) {
		int got = request(4, topo.addr4[i]);

		assert_int_equal(got, pick(VIP4, topo.addr4[i]));
		back += got == w;
	}
	assert_true(moved > 0);
	assert_true(back > 0);
}

/* Until lbctl shows the worker without a socket (bounded: 5 s). */
static int wait_gone(int id)
{
	char out[4096], line[64];
	int i;

	snprintf(line, sizeof(line), " %6d      1 no-socket", id);
	for (i = 0; i < 50; i++) {
		if (run(out, sizeof(out), LBCTL "worker list %s", LBCTL_ARGS,
			VIP4) == 0 &&
		    strstr(out, line))
			return 0;
		usleep(100000);
	}
	return -1;
}

static void test_kill9_worker_leaves_at_once(void **state)
{
	int victim = pick(VIP4, topo.addr4[0]), i, got, failures = 0;
	double t0;

	(void)state;
	kill(workers[victim], SIGKILL);
	waitpid(workers[victim], NULL, 0);
	workers[victim] = -1;
	t0 = now();
	/* From the moment the process is gone nothing fails: its socket left
	 * the SOCKMAP with it, and sk_lookup falls back to the next slot's
	 * worker until the agent has rebuilt the ring. */
	for (i = 0; i < 3 * NCLIENTS; i++) {
		got = request(4, topo.addr4[i % NCLIENTS]);
		failures += got < 0;
		assert_int_not_equal(got, victim);
	}
	assert_int_equal(failures, 0);
	assert_int_equal(wait_gone(victim), 0);
	print_message(
		"worker %d killed: out of the ring after %.0f ms, no request failed\n",
		victim, (now() - t0) * 1000);
	for (i = 0; i < NCLIENTS; i++)
		assert_int_equal(request(4, topo.addr4[i]),
				 pick(VIP4, topo.addr4[i]));
	workers[victim] = spawn_worker(victim);
	assert_int_equal(wait_up(NWORKERS), 0);
}

/*
 * DESIGN.md D2: a worker that dies and comes back restores the exact ring,
 * byte for byte, read from lb_rings before and after (both VIPs).
 */
static void test_respawn_restores_exact_ring(void **state)
{
	int victim = pick(VIP4, topo.addr4[5]), i;
	__u32 m, mm, *before = read_rings(&m), *during = NULL, *after;
	size_t moved = 0, s;

	(void)state;
	assert_non_null(before);
	assert_true(slots_of(before, m, victim) > 0);
	kill(workers[victim], SIGKILL);
	waitpid(workers[victim], NULL, 0);
	/* until the agent has rebuilt without it (bounded: 5 s) */
	for (i = 0; i < 50; i++) {
		free(during);
		during = read_rings(&mm);
		if (during && !slots_of(during, mm, victim))
			break;
		usleep(100000);
	}
	assert_non_null(during);
	assert_int_equal(slots_of(during, m, victim), 0);
	for (s = 0; s < 2 * (size_t)m; s++)
		moved += during[s] != before[s];
	free(during);
	workers[victim] = spawn_worker(victim);
	assert_int_equal(wait_up(NWORKERS), 0);
	assert_int_equal(wait_rings(before, m), 0);
	after = read_rings(&mm);
	assert_non_null(after);
	assert_memory_equal(before, after, 2 * (size_t)m * sizeof(*after));
	print_message("worker %d killed: %zu of %u slots moved (%zu its own); "
		      "respawned: both rings byte-identical to before\n",
		      victim, moved, 2 * m, slots_of(before, m, victim));
	free(before);
	free(after);
}

static void test_reregistration_replaces(void **state)
{
	int w = pick(VIP4, topo.addr4[0]), i, failures = 0, fds[2];
	char what[160];
	unsigned port;
	pid_t old;

	(void)state;
	/* as on an lbtls reload: the test is the master, which keeps the
	 * listeners of slot w; a new process registers the same id on them
	 * while the old one still runs; then the old one goes */
	fds[0] = loopback_listener(AF_INET, &port);
	fds[1] = loopback_listener(AF_INET6, &port);
	kill(workers[w], SIGKILL);
	waitpid(workers[w], NULL, 0);
	assert_int_equal(wait_gone(w), 0);
	old = spawn_worker_on(w, fds);
	assert_int_equal(wait_up(NWORKERS), 0);
	workers[w] = spawn_worker_on(w, fds);
	snprintf(what, sizeof(what),
		 "worker %d registered again by pid %d: replacing the "
		 "connection of pid %d",
		 w, (int)workers[w], (int)old);
	for (i = 0; i < 50 && agent_logged(what); i++)
		usleep(100000);
	kill(old, SIGKILL);
	waitpid(old, NULL, 0);
	close(fds[0]); /* the new worker's alone now, as after a reload */
	close(fds[1]);
	usleep(300000);
	assert_int_equal(wait_up(NWORKERS), 0);
	for (i = 0; i < NCLIENTS; i++) {
		int got = request(4, topo.addr4[i]);

		failures += got < 0;
		assert_int_equal(got, pick(VIP4, topo.addr4[i]));
	}
	assert_int_equal(failures, 0);
	assert_int_equal(agent_logged(what), 0);
}

static void test_agent_restart_under_load(void **state)
{
	char before[8192], after[8192];
	int i, failures = 0, done = 0;
	double t_end;

	(void)state;
	assert_int_equal(run(before, sizeof(before), LBCTL "worker list %s",
			     LBCTL_ARGS, VIP4),
			 0);
	kill(agent_pid, SIGKILL);
	waitpid(agent_pid, NULL, 0);
	agent_pid = -1;
	/* bounded load: 1.5 s without an agent, then through its restart */
	t_end = now() + 1.5;
	for (i = 0; now() < t_end && i < 5000; i++, done++)
		failures += request(4, topo.addr4[i % NCLIENTS]) < 0;
	agent_pid = spawn_agent(config);
	t_end = now() + 1.5;
	for (; now() < t_end && i < 10000; i++, done++)
		failures += request(4, topo.addr4[i % NCLIENTS]) < 0;
	print_message("agent killed and restarted: %d requests, %d failed\n",
		      done, failures);
	assert_int_equal(failures, 0);
	assert_true(done > 0);
	assert_int_equal(wait_up(NWORKERS), 0);
	assert_int_equal(run(after, sizeof(after), LBCTL "worker list %s",
			     LBCTL_ARGS, VIP4),
			 0);
	assert_string_equal(before, after); /* same workers, same slots */
}

static void test_xdp_detached_still_lands_on_pick(void **state)
{
	char out[4096];
	int i;

	(void)state;
	assert_int_equal(run(NULL, 0, LBCTL "detach lbh", LBCTL_ARGS), 0);
	assert_int_equal(run(out, sizeof(out), LBCTL "status", LBCTL_ARGS), 0);
	assert_non_null(strstr(out, "not attached to any interface"));
	for (i = 0; i < NCLIENTS; i++)
		assert_int_equal(request(4, topo.addr4[i]),
				 pick(VIP4, topo.addr4[i]));
	assert_int_equal(run(NULL, 0, LBCTL "attach lbh", LBCTL_ARGS), 0);
	assert_int_equal(run(out, sizeof(out), LBCTL "status", LBCTL_ARGS), 0);
	assert_non_null(strstr(out, "lbh (native)"));
}

static void test_bad_input_refused_state_unchanged(void **state)
{
	char before[8192], after[8192], out[4096];

	(void)state;
	assert_int_equal(
		run(before, sizeof(before), LBCTL "status", LBCTL_ARGS), 0);
	assert_int_equal(
		run(out, sizeof(out), LBCTL "attach eth9 2>&1", LBCTL_ARGS), 1);
	assert_non_null(
		strstr(out, "cannot attach to 'eth9': no such interface"));
	assert_int_equal(run(out, sizeof(out),
			     LBCTL "vip add 198.18.0.300:443 2>&1", LBCTL_ARGS),
			 1);
	assert_non_null(strstr(out, "invalid VIP '198.18.0.300:443'"));
	assert_int_equal(run(out, sizeof(out), LBCTL "worker add %s 256 2>&1",
			     LBCTL_ARGS, VIP4),
			 1);
	assert_non_null(
		strstr(out, "worker id '256' must be a number in 0..255"));
	assert_int_equal(run(out, sizeof(out), LBCTL "worker drain %s 9 2>&1",
			     LBCTL_ARGS, VIP4),
			 1);
	assert_non_null(strstr(out, "no worker 9 on VIP"));
	assert_int_equal(run(out, sizeof(out),
			     LBCTL "worker add 198.18.0.9:443 1 2>&1",
			     LBCTL_ARGS),
			 1);
	assert_non_null(strstr(out, "no VIP 198.18.0.9:443"));
	/* an agent given a bad config refuses to start, naming file:line */
	assert_int_equal(run(out, sizeof(out),
			     "%s --instance %s-x --netns %s agent -c %s 2>&1",
			     lbctl, instance, topo.host, bad_config),
			 1);
	assert_non_null(
		strstr(out, "bad.yaml:3: 'ring_size' 65536 is not a prime"));
	assert_non_null(strstr(out, "bad.yaml:6: 'address' expects ADDR:PORT"));
	/* a running agent sent SIGHUP with a bad config keeps the good one */
	assert_int_equal(run(NULL, 0, "cp %s %s.good && cp %s %s", config,
			     config, bad_config, config),
			 0);
	kill(agent_pid, SIGHUP);
	usleep(300000);
	assert_int_equal(run(NULL, 0, "mv %s.good %s", config, config), 0);
	assert_int_equal(kill(agent_pid, 0), 0);
	assert_int_equal(run(out, sizeof(out),
			     "grep -c 'keeping the running config' %s",
			     agent_log),
			 0);
	assert_int_equal(run(after, sizeof(after), LBCTL "status", LBCTL_ARGS),
			 0);
	assert_string_equal(before, after);
	assert_int_equal(request(4, topo.addr4[1]), pick(VIP4, topo.addr4[1]));
}

/* Connect from the client namespace to dst:port; 0 or the errno. */
static int connect_from_client(int family, const char *dst, unsigned port)
{
	struct sockaddr_storage ss = { 0 };
	struct timeval tv = { .tv_sec = 2 };
	socklen_t sl;
	int fd, err = 0;

	fd = topo_client_socket(&topo, family == 6 ? AF_INET6 : AF_INET,
				SOCK_STREAM);
	if (fd < 0)
		return errno;
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (family == 6) {
		struct sockaddr_in6 *d = (void *)&ss;

		d->sin6_family = AF_INET6;
		inet_pton(AF_INET6, dst, &d->sin6_addr);
		d->sin6_port = htons(port);
		sl = sizeof(*d);
	} else {
		struct sockaddr_in *d = (void *)&ss;

		d->sin_family = AF_INET;
		inet_pton(AF_INET, dst, &d->sin_addr);
		d->sin_port = htons(port);
		sl = sizeof(*d);
	}
	if (connect(fd, (struct sockaddr *)&ss, sl))
		err = errno;
	close(fd);
	return err;
}

/* Who serves a new VIP connection from src, and its listeners' ports. */
static int ask_ports(int family, const char *src, unsigned *p4, unsigned *p6)
{
	char buf[64];
	int fd = connect_vip(family, src), w = -1;
	ssize_t n;

	if (fd < 0)
		return -1;
	if (send(fd, "who\n", 4, MSG_NOSIGNAL) == 4 &&
	    (n = recv(fd, buf, sizeof(buf) - 1, 0)) > 0) {
		buf[n] = '\0';
		if (sscanf(buf, "worker %d %u %u", &w, p4, p6) != 3)
			w = -1;
	}
	close(fd);
	return w;
}

/* DESIGN D3: a worker's listeners are on loopback, so nothing reaches
 * them from the network but connections to a VIP, which sk_lookup steers
 * there whatever the socket is bound to. */
static void test_listeners_reachable_only_through_vip(void **state)
{
	unsigned p4, p6, q4, q6;
	int w, i, w6 = -1;

	(void)state;
	w = ask_ports(4, topo.addr4[0], &p4, &p6);
	assert_int_equal(w, pick(VIP4, topo.addr4[0]));
	for (i = 0; i < NCLIENTS && w6 != w; i++)
		if (pick(VIP6, topo.addr6[i]) == w)
			w6 = ask_ports(6, topo.addr6[i], &q4, &q6);
	print_message("worker %d: VIP v4 and v6 steered to it; its listeners "
		      "127.0.0.1:%u and [::1]:%u\n",
		      w, p4, p6);
	assert_int_equal(w6, w);
	assert_int_equal(q4, p4);
	assert_int_equal(q6, p6);
	/* the same ports on the host's own addresses, from the client */
	assert_int_equal(connect_from_client(4, "198.18.1.1", p4),
			 ECONNREFUSED);
	assert_int_equal(connect_from_client(4, "198.18.1.1", p6),
			 ECONNREFUSED);
	assert_int_equal(connect_from_client(6, "fd00:198:18:1::1", p6),
			 ECONNREFUSED);
	assert_int_equal(connect_from_client(6, "fd00:198:18:1::1", p4),
			 ECONNREFUSED);
	/* and the VIP still reaches it */
	assert_int_equal(request(4, topo.addr4[0]), w);
}

/* Register sockets as worker 'id' with the real link, in this process;
 * the link's state once the agent has answered (bounded: 5 s). */
static int register_as(int id, const int *fds, const int *families, int n,
		       struct agent_link *link, struct loop *loop)
{
	int i;

	if (loop__init(loop) || agent_link__init(link, loop, sock_path, id, 1))
		return -1;
	for (i = 0; i < n; i++)
		if (agent_link__add_listener(link, fds[i], LB_LISTENER_HTTPS,
					     families[i]))
			return -1;
	agent_link__start(link);
	for (i = 0; i < 50 && link->state == AGENT_LINK_WAITING; i++)
		loop__run_once(loop, 100);
	return link->state;
}

static void unregister(struct agent_link *link, struct loop *loop)
{
	agent_link__stop(link);
	agent_link__close(link);
	loop__fini(loop);
}

static int agent_logged(const char *what)
{
	return run(NULL, 0, "grep -q '%s' %s", what, agent_log);
}

/* Register sockets as worker 200; the agent's log must name the refusal. */
static void assert_refused_n(const int *fds, const int *families, int n,
			     const char *message)
{
	struct loop loop;
	struct agent_link link;
	char what[160];

	assert_int_equal(register_as(200, fds, families, n, &link, &loop),
			 AGENT_LINK_IDLE); /* refused */
	unregister(&link, &loop);
	snprintf(what, sizeof(what), "registration of worker 200 refused: %s",
		 message);
	assert_int_equal(agent_logged(what), 0);
}

static void assert_refused(int fd, int family, const char *message)
{
	assert_refused_n(&fd, &family, 1, message);
}

static void test_wrong_sockets_refused(void **state)
{
	unsigned port;
	int v4 = loopback_listener(AF_INET, &port);
	int tcp = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	(void)state;
	assert_refused(v4, AF_INET6,
		       "https socket sent for IPv6 is not an IPv6 socket");
	assert_refused(tcp, AF_INET, "https IPv4 socket is not listening");
	assert_refused(udp, AF_INET, "https IPv4 socket is not TCP");
	close(v4);
	close(tcp);
	close(udp);
	/* nothing changed for the registered workers */
	assert_int_equal(wait_up(NWORKERS), 0);
	assert_int_equal(request(4, topo.addr4[1]), pick(VIP4, topo.addr4[1]));
}

/* Two sockets for the same slot, or a socket in another namespace, where
 * sk_lookup (in the agent's namespace) would never see a connection. */
static void test_duplicate_and_foreign_sockets_refused(void **state)
{
	unsigned port;
	int two[2] = { loopback_listener(AF_INET, &port),
		       loopback_listener(AF_INET, &port) };
	int fam[2] = { AF_INET, AF_INET };
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int foreign = topo_client_socket(&topo, AF_INET, SOCK_STREAM);

	(void)state;
	assert_refused_n(two, fam, 2, "two https IPv4 sockets");
	assert_true(foreign >= 0);
	assert_int_equal(bind(foreign, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(foreign, 16), 0);
	assert_refused(foreign, AF_INET,
		       "https IPv4 socket is in another network namespace");
	close(two[0]);
	close(two[1]);
	close(foreign);
	assert_int_equal(wait_up(NWORKERS), 0);
	assert_int_equal(request(4, topo.addr4[1]), pick(VIP4, topo.addr4[1]));
}

/*
 * In a child that is what lbtls's workers are with `user: nobody` (uid and
 * gid 65534, groups [65534]): register one listener as worker 'id'. Exits
 * 0 if the agent registered it, 1 if it refused, 3 if the socket file
 * cannot be opened (EACCES: the same check connect() makes), 2 if nothing
 * could be tried.
 */
static int register_in_child(int fd, int id, uid_t uid)
{
	pid_t p = fork();
	int status;

	if (p == 0) {
		struct loop loop;
		struct agent_link link;
		gid_t nogroup = 65534;
		unsigned port;
		int family = AF_INET, st;

		if (fd < 0)
			fd = loopback_listener(AF_INET, &port);
		if (uid &&
		    (setgroups(1, &nogroup) || setresgid(65534, 65534, 65534) ||
		     setresuid(uid, uid, uid)))
			_exit(2);
		if (access(sock_path, W_OK))
			_exit(errno == EACCES ? 3 : 2);
		st = register_as(id, &fd, &family, 1, &link, &loop);
		unregister(&link, &loop);
		_exit(st == AGENT_LINK_REGISTERED ? 0 :
		      st == AGENT_LINK_IDLE	  ? 1 :
						    2);
	}
	if (p < 0 || waitpid(p, &status, 0) != p || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static int register_as_nobody(int fd, int id)
{
	return register_in_child(fd, id, 65534);
}

/* The test's agent config plus 'extra' lines, applied with SIGHUP. */
static void reload_with(const char *extra)
{
	assert_int_equal(run(NULL, 0,
			     "cp %s.orig %s && printf '%%s\\n' '%s' >> %s",
			     config, config, extra, config),
			 0);
	kill(agent_pid, SIGHUP);
	usleep(300000);
}

/* SO_PEERCRED: root and the uids in register_uids only. socket_group lets
 * the uid's group connect; the agent's check is what refuses it. */
static void test_registration_needs_root_or_listed_uid(void **state)
{
	unsigned port;
	int fd = loopback_listener(AF_INET, &port), refused, listed;

	(void)state;
	reload_with("socket_group: 65534");
	refused = register_as_nobody(fd, 202);
	/* the same uid, listed in the config and reloaded */
	reload_with("socket_group: 65534\nregister_uids: [65534]");
	listed = register_as_nobody(fd, 202);
	reload_with("");
	chmod("/run/lbctl", 0700);
	close(fd);
	print_message("uid 65534: %s; listed in register_uids: %s\n",
		      refused == 1 ? "refused" : "not refused",
		      listed == 0 ? "registered" : "not registered");
	assert_int_equal(refused, 1);
	assert_int_equal(
		agent_logged(
			"registration of worker 202 refused: peer pid "
			"[0-9]* uid 65534 is not root nor in register_uids"),
		0);
	assert_int_equal(listed, 0);
	assert_int_equal(agent_logged("worker 202 registered"), 0);
	assert_int_equal(wait_up(NWORKERS), 0); /* 202 left with its child */
}

/*
 * socket_group (issue 19, finding 10): lbtls's workers run as an
 * unprivileged user. Without socket_group the socket is root's (0660 in a
 * 0700 directory) and such a worker cannot even connect, though its uid is
 * in register_uids; with socket_group: 65534 the socket is root:65534 0660
 * in a directory others may search (not list), and the same worker
 * registers. Dropping the key gives the socket back to root's group.
 */
static void test_socket_group_lets_unprivileged_worker_register(void **state)
{
	struct stat sock_before, sock_with, sock_after, dir_with;
	unsigned port;
	int fd = loopback_listener(AF_INET, &port), without, with;

	(void)state;
	assert_int_equal(chmod("/run/lbctl", 0700), 0); /* lbctl's own mode */
	reload_with("register_uids: [65534]");
	assert_int_equal(stat(sock_path, &sock_before), 0);
	without = register_as_nobody(fd, 203);
	reload_with("register_uids: [65534]\nsocket_group: 65534");
	assert_int_equal(stat(sock_path, &sock_with), 0);
	assert_int_equal(stat("/run/lbctl", &dir_with), 0);
	with = register_as_nobody(fd, 203);
	reload_with("");
	assert_int_equal(stat(sock_path, &sock_after), 0);
	chmod("/run/lbctl", 0700);
	close(fd);
	print_message(
		"without socket_group: socket gid %u mode %04o, worker %s; "
		"with socket_group: 65534: socket gid %u mode %04o, "
		"/run/lbctl %04o, worker %s; after: gid %u\n",
		(unsigned)sock_before.st_gid,
		(unsigned)(sock_before.st_mode & 07777),
		without == 3 ? "cannot connect (EACCES)" : "connected",
		(unsigned)sock_with.st_gid,
		(unsigned)(sock_with.st_mode & 07777),
		(unsigned)(dir_with.st_mode & 07777),
		with == 0 ? "registered" : "not registered",
		(unsigned)sock_after.st_gid);
	assert_int_equal(sock_before.st_gid, 0);
	assert_int_equal(sock_before.st_mode & 07777, 0660);
	assert_int_equal(without, 3);
	assert_int_equal(sock_with.st_uid, 0);
	assert_int_equal(sock_with.st_gid, 65534);
	assert_int_equal(sock_with.st_mode & 07777, 0660);
	assert_int_equal(dir_with.st_mode & 07777, 0711);
	assert_int_equal(with, 0);
	assert_int_equal(agent_logged("worker 203 registered"), 0);
	assert_int_equal(agent_logged("made /run/lbctl searchable (0711) for "
				      "socket_group 65534"),
			 0);
	assert_int_equal(sock_after.st_gid, 0);
	assert_int_equal(wait_up(NWORKERS), 0); /* 203 left with its child */
}

/*
 * A worker id is its holder's while the holder's connection lives. Only a
 * successor with the same uid and one of the holder's very sockets (an
 * lbtls reload: the master hands the slot's listeners on) replaces it; a
 * process with sockets of its own, or with the holder's socket but another
 * uid, is refused and the message names the holder's pid.
 */
static void test_held_id_needs_holders_sockets_and_uid(void **state)
{
	unsigned port;
	int fd = loopback_listener(AF_INET, &port), fam = AF_INET, taker, other,
	    nobody, successor;
	struct agent_link link;
	struct loop loop;
	char what[200];

	(void)state;
	reload_with("socket_group: 65534\nregister_uids: [65534]");
	/* worker 1 of the running four, from another process */
	taker = register_in_child(-1, 1, 0);
	assert_int_equal(register_as(210, &fd, &fam, 1, &link, &loop),
			 AGENT_LINK_REGISTERED);
	other = register_in_child(-1, 210, 0);
	nobody = register_in_child(fd, 210, 65534);
	successor = register_in_child(fd, 210, 0);
	unregister(&link, &loop);
	reload_with("");
	chmod("/run/lbctl", 0700);
	close(fd);
	print_message("worker 1 asked for by another process: %s; worker "
		      "210 asked for by a process with its own socket: %s, "
		      "with the holder's socket as uid 65534: %s, with the "
		      "holder's socket and uid: %s\n",
		      taker == 1 ? "refused" : "taken",
		      other == 1 ? "refused" : "taken",
		      nobody == 1 ? "refused" : "taken",
		      successor == 0 ? "taken" : "refused");
	assert_int_equal(taker, 1);
	snprintf(what, sizeof(what),
		 "registration of worker 1 refused: worker 1 is held by pid "
		 "%d uid 0",
		 (int)workers[1]);
	assert_int_equal(agent_logged(what), 0);
	assert_int_equal(other, 1);
	assert_int_equal(nobody, 1);
	snprintf(what, sizeof(what),
		 "registration of worker 210 refused: worker 210 is held by "
		 "pid %d uid 0; only a process with its sockets and uid",
		 (int)getpid());
	assert_int_equal(agent_logged(what), 0);
	assert_int_equal(successor, 0);
	snprintf(what, sizeof(what),
		 "worker 210 registered again by pid [0-9]*: replacing the "
		 "connection of pid %d",
		 (int)getpid());
	assert_int_equal(agent_logged(what), 0);
	assert_int_equal(wait_up(NWORKERS), 0);
	assert_int_equal(request(4, topo.addr4[1]), pick(VIP4, topo.addr4[1]));
}

/* A listener bound to 'addr' (port 0), made to listen. */
static int listener_on(int family, const char *addr)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *s4 = (void *)&ss;
	struct sockaddr_in6 *s6 = (void *)&ss;
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0), on = 1;

	ss.ss_family = family;
	if (family == AF_INET)
		inet_pton(AF_INET, addr, &s4->sin_addr);
	else
		inet_pton(AF_INET6, addr, &s6->sin6_addr);
	if (fd < 0 ||
	    (family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on))) ||
	    bind(fd, (struct sockaddr *)&ss,
		 family == AF_INET ? sizeof(*s4) : sizeof(*s6)) ||
	    listen(fd, 16))
		return -1;
	return fd;
}

/* A registered socket reachable from the network would let a client that
 * finds its port around drain, weights and XDP's filters. */
static void test_non_loopback_sockets_refused(void **state)
{
	int host4 = listener_on(AF_INET, "198.18.1.1"),
	    host6 = listener_on(AF_INET6, "fd00:198:18:1::1"),
	    any4 = listener_on(AF_INET, "0.0.0.0"),
	    any6 = listener_on(AF_INET6, "::"),
	    lo8 = listener_on(AF_INET, "127.0.0.53");
	struct agent_link link;
	struct loop loop;
	char what[160];

	(void)state;
	assert_true(host4 >= 0 && host6 >= 0 && any4 >= 0 && any6 >= 0 &&
		    lo8 >= 0);
	snprintf(what, sizeof(what),
		 "https IPv4 socket is bound to 198.18.1.1:%u, not loopback",
		 port_of(host4));
	assert_refused(host4, AF_INET, what);
	snprintf(what, sizeof(what),
		 "https IPv6 socket is bound to \\[fd00:198:18:1::1\\]:%u, "
		 "not loopback",
		 port_of(host6));
	assert_refused(host6, AF_INET6, what);
	snprintf(what, sizeof(what),
		 "https IPv4 socket is bound to 0.0.0.0:%u, not loopback",
		 port_of(any4));
	assert_refused(any4, AF_INET, what);
	snprintf(what, sizeof(what),
		 "https IPv6 socket is bound to \\[::\\]:%u, not loopback",
		 port_of(any6));
	assert_refused(any6, AF_INET6, what);
	/* all of 127.0.0.0/8 is loopback */
	assert_int_equal(
		register_as(200, &lo8, (int[]){ AF_INET }, 1, &link, &loop),
		AGENT_LINK_REGISTERED);
	unregister(&link, &loop);
	close(host4);
	close(host6);
	close(any4);
	close(any6);
	close(lo8);
	assert_int_equal(wait_up(NWORKERS), 0);
	assert_int_equal(request(4, topo.addr4[1]), pick(VIP4, topo.addr4[1]));
}

/*
 * 1000 connections to the agent's socket that never send a thing (from a
 * peer allowed to connect: root here). The agent keeps at most 64 of them
 * and closes each 2 s after it came; a worker registers meanwhile. The old
 * agent kept every one forever and, at its 1024 open files, could accept
 * nothing more: no worker could register until they went.
 */
static void test_idle_connections_do_not_stop_registration(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	static int idle[1000];
	struct rlimit rl;
	int n = 0, i, fd, st, open_now = 0, open_later = 0;
	struct agent_link link;
	struct loop loop;
	unsigned port;
	double t0 = now();

	(void)state;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur < 2048 && rl.rlim_max >= 2048)
		rl.rlim_cur = 2048;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	/* bounded: 10 s; a full backlog answers EAGAIN, then try again */
	while (n < 1000 && now() < t0 + 10) {
		fd = socket(AF_UNIX,
			    SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		assert_true(fd >= 0);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			idle[n++] = fd;
			continue;
		}
		close(fd);
		usleep(1000);
	}
	fd = loopback_listener(AF_INET, &port);
	st = register_as(211, &fd, (int[]){ AF_INET }, 1, &link, &loop);
	unregister(&link, &loop);
	close(fd);
	for (i = 0; i < n; i++)
		open_now += still_open(idle[i]);
	usleep(2500000); /* past the 2 s for a first message */
	for (i = 0; i < n; i++) {
		open_later += still_open(idle[i]);
		close(idle[i]);
	}
	print_message("%d idle connections made in %.1f s; a registration "
		      "then: %s; idle ones still open: %d, 2.5 s later: %d\n",
		      n, now() - t0,
		      st == AGENT_LINK_REGISTERED ? "registered" : "failed",
		      open_now, open_later);
	assert_int_equal(n, 1000);
	assert_int_equal(st, AGENT_LINK_REGISTERED);
	assert_true(open_now <= 64);
	assert_int_equal(open_later, 0);
	assert_int_equal(agent_logged("closed [0-9]* connection(s) holding no "
				      "worker id"),
			 0);
	assert_int_equal(wait_up(NWORKERS), 0);
}

/* A worker that registers again with fewer sockets leaves no stale slot. */
static void test_reregistration_with_fewer_sockets(void **state)
{
	unsigned port;
	int fds[2] = { loopback_listener(AF_INET, &port),
		       loopback_listener(AF_INET6, &port) };
	int fam[2] = { AF_INET, AF_INET6 };
	__u32 v4 = LB_SOCKET_SLOT(LB_LISTENER_HTTPS, LB_FAMILY_V4, 203),
	      v6 = LB_SOCKET_SLOT(LB_LISTENER_HTTPS, LB_FAMILY_V6, 203);
	struct loop l1, l2;
	struct agent_link a1, a2;
	struct dataplane dp;
	char pins[128];
	__u64 val;
	int in4, in6;

	(void)state;
	snprintf(pins, sizeof(pins), "/sys/fs/bpf/%s", instance);
	assert_int_equal(dataplane__open_pinned(&dp, pins), 0);
	assert_int_equal(register_as(203, fds, fam, 2, &a1, &l1),
			 AGENT_LINK_REGISTERED);
	in4 = !bpf_map_lookup_elem(dp.fds[DP_SOCKETS], &v4, &val);
	in6 = !bpf_map_lookup_elem(dp.fds[DP_SOCKETS], &v6, &val);
	assert_true(in4 && in6);
	assert_int_equal(register_as(203, fds, fam, 1, &a2, &l2),
			 AGENT_LINK_REGISTERED);
	in4 = !bpf_map_lookup_elem(dp.fds[DP_SOCKETS], &v4, &val);
	in6 = !bpf_map_lookup_elem(dp.fds[DP_SOCKETS], &v6, &val);
	print_message("worker 203 registered v4+v6, then v4 only: v4 slot %s, "
		      "v6 slot %s\n",
		      in4 ? "kept" : "gone", in6 ? "stale" : "gone");
	unregister(&a1, &l1);
	unregister(&a2, &l2);
	close(fds[0]);
	close(fds[1]);
	assert_true(in4);
	assert_false(in6);
	assert_int_equal(wait_up(NWORKERS), 0);
	in4 = !bpf_map_lookup_elem(dp.fds[DP_SOCKETS], &v4, &val);
	dataplane__destroy(&dp);
	assert_false(in4); /* its connection closed: out */
}

/* One agent per instance: a second one refuses and names the first. */
static void test_second_agent_refused(void **state)
{
	char out[4096], want[128];

	(void)state;
	assert_int_equal(
		run(out, sizeof(out),
		    "timeout 10 %s --instance %s --netns %s agent -c %s 2>&1",
		    lbctl, instance, topo.host, config),
		1);
	snprintf(want, sizeof(want),
		 "lbctl agent: instance '%s' is already run by pid %d",
		 instance, (int)agent_pid);
	print_message("%s", out);
	assert_non_null(strstr(out, want));
	/* the CLI does not change a weight the agent owns */
	assert_int_equal(run(out, sizeof(out),
			     LBCTL "worker weight %s 1 5 2>&1", LBCTL_ARGS,
			     VIP4),
			 1);
	assert_non_null(strstr(out, "is managed by the agent (pid"));
	/* the first one still runs and serves */
	assert_int_equal(kill(agent_pid, 0), 0);
	assert_int_equal(wait_up(NWORKERS), 0);
	assert_int_equal(request(4, topo.addr4[2]), pick(VIP4, topo.addr4[2]));
}

static void test_metrics(void **state)
{
	char out[16384];

	(void)state;
	assert_int_equal(
		run(out, sizeof(out),
		    "ip netns exec %s curl -sf http://127.0.0.1:9146/metrics",
		    topo.host),
		0);
	assert_non_null(strstr(out, "lb_worker_up{worker=\"0\"} 1"));
	assert_non_null(
		strstr(out, "lb_vip_assigned_total{vip=\"198.18.0.100:443\"}"));
	assert_non_null(strstr(out, "lb_ring_generation"));
}

/* A TCP connection to the agent's /metrics port, from the host namespace. */
static int metrics_connect(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons(9146) };
	struct timeval tv = { .tv_sec = 15 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Neither data nor FIN from the agent yet. */
static int still_open(int fd)
{
	char c;

	return recv(fd, &c, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN;
}

/* Everything the agent sends until it closes (bounded by SO_RCVTIMEO). */
static ssize_t read_to_close(int fd, char *buf, size_t len)
{
	size_t n = 0;
	ssize_t r;

	while (n < len - 1 && (r = recv(fd, buf + n, len - 1 - n, 0)) > 0)
		n += r;
	buf[n] = '\0';
	return r < 0 ? -1 : (ssize_t)n;
}

static int metrics_exchange(const char *req, size_t rlen, char *resp,
			    size_t len)
{
	int fd = metrics_connect();
	ssize_t n = -1;

	if (fd >= 0 && send(fd, req, rlen, MSG_NOSIGNAL) == (ssize_t)rlen)
		n = read_to_close(fd, resp, len);
	if (fd >= 0)
		close(fd);
	return n > 0 ? 0 : -1;
}

/* Scrapes that stall (connected and silent, or stopped inside their
 * headers) hold a slot each but never the agent's loop: another scrape and
 * a worker's registration are served while they stay open, the one that
 * stopped mid-headers is answered when it finishes, and the silent ones
 * are closed at their deadline. The old agent read each scrape with a
 * blocking recv, closing every staller before it looked at the next. */
static void test_metrics_stalled_scrape_blocks_nothing(void **state)
{
	static const char part[] = "GET /metrics HTTP/1.1\r\nHost: agent\r\n";
	int silent[3], partial[3], fds[1], fam[1] = { AF_INET }, i, open_after;
	char out[16384];
	struct agent_link link;
	struct loop loop;
	unsigned port;

	(void)state;
	for (i = 0; i < 3; i++) {
		silent[i] = metrics_connect();
		partial[i] = metrics_connect();
		assert_true(silent[i] >= 0 && partial[i] >= 0);
		assert_int_equal(send(partial[i], part, strlen(part), 0),
				 (ssize_t)strlen(part));
	}
	assert_int_equal(
		run(out, sizeof(out),
		    "curl -sf --max-time 20 http://127.0.0.1:9146/metrics"),
		0);
	assert_non_null(strstr(out, "lb_ring_generation"));
	fds[0] = loopback_listener(AF_INET, &port);
	assert_int_equal(register_as(204, fds, fam, 1, &link, &loop),
			 AGENT_LINK_REGISTERED);
	unregister(&link, &loop);
	close(fds[0]);
	for (i = open_after = 0; i < 3; i++)
		open_after += still_open(silent[i]) + still_open(partial[i]);
	print_message("6 stalled scrapes; after another scrape and a "
		      "registration were served: %d still open\n",
		      open_after);
	assert_int_equal(open_after, 6);
	for (i = 0; i < 3; i++) {
		assert_int_equal(send(partial[i], "\r\n", 2, 0), 2);
		assert_int_equal(
			read_to_close(partial[i], out, sizeof(out)) > 0, 1);
		assert_int_equal(strncmp(out, "HTTP/1.1 200 OK\r\n", 17), 0);
		assert_non_null(strstr(out, "lb_ring_generation"));
		close(partial[i]);
	}
	for (i = 0; i < 3; i++) { /* the deadline closes them */
		assert_int_equal(read_to_close(silent[i], out, sizeof(out)), 0);
		close(silent[i]);
	}
	assert_int_equal(wait_up(NWORKERS), 0);
}

/* More stalled scrapes than slots: the oldest give way, the newest and a
 * real scrape are served. Bad requests get their status and a close. */
static void test_metrics_full_slots_and_bad_requests(void **state)
{
	static const struct {
		const char *req, *status;
	} bad[] = {
		{ "POST /metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 405 " },
		{ "GET /nope HTTP/1.1\r\n\r\n", "HTTP/1.1 404 " },
		{ "hello\r\n\r\n", "HTTP/1.1 400 " },
		{ "GET /metrics SMTP/1.0\r\n\r\n", "HTTP/1.1 400 " },
		{ "GET /metrics?x=1 HTTP/1.0\r\n\r\n", "HTTP/1.1 200 " },
	};
	int fds[12], closed = 0, i;
	char out[16384], big[6000];

	(void)state;
	for (i = 0; i < 12; i++) {
		fds[i] = metrics_connect();
		assert_true(fds[i] >= 0);
	}
	assert_int_equal(
		run(out, sizeof(out),
		    "curl -sf --max-time 20 http://127.0.0.1:9146/metrics"),
		0);
	assert_non_null(strstr(out, "lb_worker_up"));
	for (i = 0; i < 5; i++) /* 12 + curl into 8 slots: 5 evicted */
		closed += read_to_close(fds[i], out, sizeof(out)) == 0;
	print_message("12 stalled scrapes and one real one in 8 slots: the "
		      "5 oldest %d closed, the newest %s\n",
		      closed, still_open(fds[11]) ? "open" : "closed");
	assert_int_equal(closed, 5);
	assert_true(still_open(fds[11]));
	for (i = 0; i < 12; i++)
		close(fds[i]);
	for (i = 0; i < (int)(sizeof(bad) / sizeof(bad[0])); i++) {
		assert_int_equal(metrics_exchange(bad[i].req,
						  strlen(bad[i].req), out,
						  sizeof(out)),
				 0);
		print_message("%.*s -> %.*s\n", (int)strcspn(bad[i].req, "\r"),
			      bad[i].req, (int)strcspn(out, "\r"), out);
		assert_int_equal(
			strncmp(out, bad[i].status, strlen(bad[i].status)), 0);
	}
	assert_int_equal(metrics_exchange("HEAD /metrics HTTP/1.0\r\n\r\n", 26,
					  out, sizeof(out)),
			 0);
	assert_non_null(strstr(out, "HTTP/1.1 200 OK"));
	assert_null(strstr(out, "lb_ring_generation")); /* no body */
	memset(big, 'x', sizeof(big));
	assert_int_equal(metrics_exchange(big, sizeof(big), out, sizeof(out)),
			 0);
	assert_int_equal(strncmp(out, "HTTP/1.1 431 ", 13), 0);
}

static int run_agent_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clients_land_on_ring_pick),
		cmocka_unit_test(test_listeners_reachable_only_through_vip),
		cmocka_unit_test(test_wrong_sockets_refused),
		cmocka_unit_test(test_duplicate_and_foreign_sockets_refused),
		cmocka_unit_test(test_non_loopback_sockets_refused),
		cmocka_unit_test(test_registration_needs_root_or_listed_uid),
		cmocka_unit_test(
			test_socket_group_lets_unprivileged_worker_register),
		cmocka_unit_test(test_held_id_needs_holders_sockets_and_uid),
		cmocka_unit_test(
			test_idle_connections_do_not_stop_registration),
		cmocka_unit_test(test_reregistration_with_fewer_sockets),
		cmocka_unit_test(test_second_agent_refused),
		cmocka_unit_test(test_drain_keeps_open_connection),
		cmocka_unit_test(test_kill9_worker_leaves_at_once),
		cmocka_unit_test(test_respawn_restores_exact_ring),
		cmocka_unit_test(test_reregistration_replaces),
		cmocka_unit_test(test_agent_restart_under_load),
		cmocka_unit_test(test_xdp_detached_still_lands_on_pick),
		cmocka_unit_test(test_bad_input_refused_state_unchanged),
		cmocka_unit_test(test_metrics),
		cmocka_unit_test(test_metrics_stalled_scrape_blocks_nothing),
		cmocka_unit_test(test_metrics_full_slots_and_bad_requests),
	};

	return cmocka_run_group_tests_name("agent", tests, group_setup,
					   group_teardown);
}

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

static int write_configs(void)
{
	char text[1024], orig[160];

	snprintf(text, sizeof(text),
		 "# agent config of test_agent\n"
		 "ring_size: 65537\n"
		 "socket: %s\n"
		 "metrics: 127.0.0.1:9146\n"
		 "interfaces:\n"
		 "  - name: lbh\n"
		 "    mode: native\n"
		 "vips:\n"
		 "  - address: %s\n"
		 "  - address: \"%s\"\n"
		 "health:\n"
		 "  interval_ms: 0 # the greeters speak no TLS\n"
		 "  timeout_ms: 500\n"
		 "  rise: 1\n"
		 "  fall: 2\n",
		 sock_path, VIP4, VIP6);
	if (write_file(config, text))
		return -1;
	/* reload_with() starts from this copy */
	snprintf(orig, sizeof(orig), "%s.orig", config);
	if (write_file(orig, text))
		return -1;
	return write_file(bad_config, "# two mistakes\n"
				      "socket: /run/lbctl/never.sock\n"
				      "ring_size: 65536\n"
				      "vips:\n"
				      "  - address: 198.18.0.100:443\n"
				      "  - address: 198.18.0.300\n");
}

int main(int argc, char **argv)
{
	char exe[PATH_MAX], cmd[PATH_MAX + 128];
	int status = 1, rc = 1;
	ssize_t n;
	pid_t child;

	(void)argc;
	(void)argv;
	/* build/tests/net/test_agent -> build/lbctl */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return 1;
	exe[n] = '\0';
	snprintf(lbctl, sizeof(lbctl), "%s/../../lbctl", dirname(exe));
	if (access(lbctl, X_OK)) {
		fprintf(stderr, "agent: %s not built\n", lbctl);
		return 1;
	}
	snprintf(instance, sizeof(instance), "t%d", getpid());
	snprintf(dir, sizeof(dir), "/tmp/lbt-agent-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	snprintf(config, sizeof(config), "%s/agent.yaml", dir);
	snprintf(bad_config, sizeof(bad_config), "%s/bad.yaml", dir);
	snprintf(agent_log, sizeof(agent_log), "%s/agent.log", dir);
	snprintf(sock_path, sizeof(sock_path), "/run/lbctl/%s.sock", instance);
	if (write_configs() || topo_create(&topo, "lba", NCLIENTS)) {
		fprintf(stderr, "agent: cannot set up (root?)\n");
		goto out;
	}
	child = fork();
	if (child == 0)
		_exit(run_agent_tests());
	if (child > 0 && waitpid(child, &status, 0) > 0 && WIFEXITED(status))
		rc = WEXITSTATUS(status);
	else
		fprintf(stderr, "agent: test process died (status %d)\n",
			status);
out:
	if (rc) {
		snprintf(cmd, sizeof(cmd), "echo '--- agent log:'; cat %s",
			 agent_log);
		rc = system(cmd) ? rc : rc;
	}
	/* the instance's pins live in the host's BPF filesystem: remove */
	snprintf(cmd, sizeof(cmd),
		 "%s --instance %s --netns %s unload 2>/dev/null", lbctl,
		 instance, topo.host);
	if (system(cmd))
		fprintf(stderr, "agent: unload of instance %s failed\n",
			instance);
	topo_destroy(&topo);
	snprintf(cmd, sizeof(cmd),
		 "rm -rf %s /run/lbctl/%s.lock /run/lbctl/%s.agent.lock", dir,
		 instance, instance);
	if (system(cmd))
		fprintf(stderr, "agent: cannot remove %s\n", dir);
	return rc;
}
