// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A small Docker Engine API client over its unix socket, run by 'lbtls
 * discover' (discover.c): never by the lbtls master, which only reads the
 * file discover writes. Nothing here blocks: both sockets are non-blocking
 * in the caller's epoll (a unix connect() completes at once or fails with
 * EAGAIN when the engine's accept queue is full; a request of under 2 KiB
 * fits a fresh socket's buffer whole). Requests are HTTP/1.0, so the engine
 * answers without chunked framing and closes at the end: the list is
 * gathered as it arrives until EOF, within 10 s, so an engine that accepts
 * and never answers costs a retry, never a hang. The event stream is one
 * JSON object per line. It is opened before the list is taken so that no
 * change falls between the two.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <jansson.h>

#include "docker.h"
#include "log.h"
#include "loop.h"

#define LIST_MAX (4 << 20)
#define LIST_DEADLINE_MS 10000 /* the whole list, however it trickles */
#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 30000
#define RELIST_MS CFG_DISCOVER_RELIST_MS

static const char *obj_str(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* "key=value": the label must be there with that value; "key": present. */
static bool has_label(json_t *labels, const char *want)
{
	const char *eq = strchr(want, '=');
	char key[256];
	const char *v;

	if (!eq)
		return obj_str(labels, want) != NULL;
	snprintf(key, sizeof(key), "%.*s", (int)(eq - want), want);
	v = obj_str(labels, key);
	return v && !strcmp(v, eq + 1);
}

/* Running, and healthy when it has a healthcheck ("Up 5 seconds (healthy)"). */
static bool ready(json_t *c)
{
	const char *state = obj_str(c, "State");
	const char *status = obj_str(c, "Status");

	if (!state || strcmp(state, "running"))
		return false;
	return !status || (!strstr(status, "(health: starting)") &&
			   !strstr(status, "(unhealthy)"));
}

static const char *container_ip(json_t *c, const char *network)
{
	json_t *nets = json_object_get(json_object_get(c, "NetworkSettings"),
				       "Networks");
	const char *key, *ip;
	json_t *n;

	if (!json_is_object(nets))
		return NULL;
	if (network[0]) {
		ip = obj_str(json_object_get(nets, network), "IPAddress");
		return ip && ip[0] ? ip : NULL;
	}
	json_object_foreach(nets, key, n)
	{
		ip = obj_str(n, "IPAddress");
		if (ip && ip[0])
			return ip;
	}
	return NULL;
}

static int container_addr(json_t *c, const struct cfg_docker *cfg,
			  struct upstream_addr *a)
{
	json_t *labels = json_object_get(c, "Labels");
	struct sockaddr_in *sin = (struct sockaddr_in *)&a->ss;
	const char *ip, *port_s;
	unsigned long port;
	char *end;

	if (!json_is_object(labels) || !has_label(labels, cfg->label) ||
	    !ready(c))
		return -ENOENT;
	port_s = obj_str(labels, cfg->port_label);
	ip = container_ip(c, cfg->network);
	if (!port_s || !ip)
		return -ENOENT;
	errno = 0;
	port = strtoul(port_s, &end, 10);
	if (errno || *end || !port || port > 65535)
		return -ENOENT;
	memset(a, 0, sizeof(*a));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	if (inet_pton(AF_INET, ip, &sin->sin_addr) != 1)
		return -ENOENT;
	a->len = sizeof(*sin);
	snprintf(a->name, sizeof(a->name), "%s:%lu", ip, port);
	return 0;
}

int docker__parse_list(const char *json, size_t len, const struct cfg_docker *c,
		       struct docker_container *out, unsigned max, char *err,
		       size_t errlen)
{
	json_error_t je;
	json_t *root, *it;
	unsigned n = 0;
	size_t i;

	root = json_loadb(json, len, 0, &je);
	if (!root) {
		snprintf(err, errlen, "bad JSON at line %d column %d: %s",
			 je.line, je.column, je.text);
		return -EINVAL;
	}
	if (!json_is_array(root)) {
		snprintf(err, errlen, "expected a JSON array of containers");
		json_decref(root);
		return -EINVAL;
	}
	json_array_foreach(root, i, it)
	{
		const char *id = obj_str(it, "Id");

		if (n == max || !json_is_object(it) || !id ||
		    container_addr(it, c, &out[n].addr))
			continue;
		snprintf(out[n].id, sizeof(out[n].id), "%s", id);
		n++;
	}
	json_decref(root);
	return n;
}

int docker__parse_event(const char *line, char *action, size_t alen, char *id,
			char *signal, size_t slen)
{
	json_t *root, *actor;
	const char *type, *a, *i, *sig;
	int err = -EINVAL;

	root = json_loads(line, 0, NULL);
	if (!root)
		return -EINVAL;
	type = obj_str(root, "Type");
	a = obj_str(root, "Action");
	actor = json_object_get(root, "Actor");
	i = obj_str(actor, "ID");
	sig = obj_str(json_object_get(actor, "Attributes"), "signal");
	if (type && !strcmp(type, "container") && a && i) {
		snprintf(action, alen, "%s", a);
		snprintf(id, DOCKER_ID_LEN + 1, "%s", i);
		snprintf(signal, slen, "%s", sig ? sig : "");
		err = 0;
	}
	json_decref(root);
	return err;
}

/* --- the client ------------------------------------------------------------ */

/* A connected non-blocking socket to the engine, or a negative errno. */
static int dial(const struct docker *d)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, err;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", d->cfg.socket);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* GET 'path' with a label filter on fd: all of it now, or an error. */
static int send_get(const struct docker *d, int fd, const char *path,
		    const char *more_filters)
{
	char filt[512], enc[1536], req[2048];
	const unsigned char *s;
	char *o = enc;
	ssize_t sent;
	int n;

	snprintf(filt, sizeof(filt), "{%s\"label\":[\"%s\"]}", more_filters,
		 d->cfg.label);
	for (s = (const unsigned char *)filt; *s; s++) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr("-_.~", *s))
			*o++ = *s;
		else
			o += sprintf(o, "%%%02X", *s);
	}
	*o = 0;
	n = snprintf(req, sizeof(req),
		     "GET %s?filters=%s HTTP/1.0\r\nHost: docker\r\n\r\n", path,
		     enc);
	sent = send(fd, req, n, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (sent < 0)
		return -errno;
	return sent == n ? 0 : -EAGAIN; /* a fresh socket takes 2 KiB */
}

/* The status code of a response head, or -EPROTO. */
static int status_code(const char *head)
{
	int code;

	if (sscanf(head, "HTTP/1.%*d %d", &code) != 1)
		return -EPROTO;
	return code;
}

static void fail(struct docker *d, uint64_t now, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Log (once per outage), drop both sockets and retry with backoff. */
static void fail(struct docker *d, uint64_t now, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	d->backoff_ms = d->backoff_ms ? (d->backoff_ms * 2 > BACKOFF_MAX_MS ?
						 BACKOFF_MAX_MS :
						 d->backoff_ms * 2) :
					BACKOFF_MIN_MS;
	if (!d->warned)
		log_err("upstream.docker: %s: %s; keeping the current %u server(s), retrying in %u ms (backing off to %u)",
			d->cfg.socket, msg, d->out->n, d->backoff_ms,
			BACKOFF_MAX_MS);
	d->warned = true;
	docker__stop(d);
	d->retry_at = now + d->backoff_ms;
}

static bool is_dying(const struct docker *d, const char *id)
{
	unsigned i;

	for (i = 0; i < d->ndying; i++)
		if (!strcmp(d->dying[i], id))
			return true;
	return false;
}

static void publish(struct docker *d, const struct docker_container *c,
		    unsigned n)
{
	struct upstream_set *s = d->out;
	unsigned i, k = 0;
	uint32_t seq = s->seq;

	__atomic_store_n(&s->seq, seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	for (i = 0; i < n; i++)
		if (!is_dying(d, c[i].id))
			s->servers[k++] = c[i].addr;
	s->n = k;
	__atomic_store_n(&s->seq, seq + 2, __ATOMIC_RELEASE);
}

static int watch(struct docker *d, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	if (d->epfd >= 0 && epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev))
		return -errno;
	return 0;
}

static void unwatch(struct docker *d, int *fd)
{
	if (*fd < 0)
		return;
	if (d->epfd >= 0)
		epoll_ctl(d->epfd, EPOLL_CTL_DEL, *fd, NULL);
	close(*fd);
	*fd = -1;
}

static void list_close(struct docker *d)
{
	unwatch(d, &d->list_fd);
	free(d->list_buf);
	d->list_buf = NULL;
	d->list_len = d->list_cap = 0;
}

/* Send GET /containers/json; the answer comes to docker__on_list(). */
static void list_start(struct docker *d, uint64_t now)
{
	int fd, err;

	d->resync = false; /* a change from now on needs another list */
	fd = dial(d);
	if (fd < 0) {
		fail(d, now, "cannot connect: %s", strerror(-fd));
		return;
	}
	err = send_get(d, fd, "/containers/json", "");
	if (!err)
		err = watch(d, fd);
	if (err) {
		close(fd);
		fail(d, now, "listing containers: %s", strerror(-err));
		return;
	}
	d->list_fd = fd;
	d->list_deadline = now + LIST_DEADLINE_MS;
}

/* The whole answer is in: parse it and publish. */
static void list_done(struct docker *d, uint64_t now)
{
	static struct docker_container cs[CFG_MAX_SERVERS];
	char *resp = d->list_buf, *body, err[256];
	int n, code;

	body = strstr(resp, "\r\n\r\n");
	code = status_code(resp);
	if (!body || code != 200) {
		fail(d, now, "listing containers: HTTP status %d: %.200s", code,
		     body ? body + 4 : resp);
		return;
	}
	body += 4;
	n = docker__parse_list(body, d->list_len - (body - resp), &d->cfg, cs,
			       CFG_MAX_SERVERS, err, sizeof(err));
	if (n < 0) {
		fail(d, now, "listing containers: %s", err);
		return;
	}
	list_close(d);
	if (d->warned)
		log_info("upstream.docker: %s answers again", d->cfg.socket);
	d->warned = false;
	d->backoff_ms = 0;
	d->next_list = now + RELIST_MS;
	publish(d, cs, n);
}

void docker__on_list(struct docker *d, uint64_t now)
{
	size_t cap;
	ssize_t n;
	char *p;

	for (;;) {
		if (d->list_len + 1 >= d->list_cap) {
			cap = d->list_cap ? d->list_cap * 2 : 65536;
			if (cap > LIST_MAX) {
				fail(d, now, "listing containers: %s",
				     strerror(E2BIG));
				return;
			}
			p = realloc(d->list_buf, cap);
			if (!p) {
				fail(d, now, "listing containers: %s",
				     strerror(ENOMEM));
				return;
			}
			d->list_buf = p;
			d->list_cap = cap;
		}
		n = recv(d->list_fd, d->list_buf + d->list_len,
			 d->list_cap - 1 - d->list_len, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return; /* more later, or the deadline */
		if (n < 0) {
			fail(d, now, "listing containers: %s", strerror(errno));
			return;
		}
		if (!n)
			break;
		d->list_len += n;
	}
	d->list_buf[d->list_len] = 0;
	list_done(d, now);
}

static int open_events(struct docker *d)
{
	int fd = dial(d), err;

	if (fd < 0)
		return fd;
	err = send_get(d, fd, "/events", "\"type\":[\"container\"],");
	if (!err)
		err = watch(d, fd);
	if (err) {
		close(fd);
		return err;
	}
	d->fd = fd;
	d->in_body = false;
	d->len = 0;
	return 0;
}

void docker__init(struct docker *d, const struct cfg_docker *c,
		  struct upstream_set *out, int epfd)
{
	memset(d, 0, sizeof(*d));
	d->cfg = *c;
	d->out = out;
	d->fd = -1;
	d->list_fd = -1;
	d->epfd = epfd;
}

void docker__stop(struct docker *d)
{
	unwatch(d, &d->fd);
	list_close(d);
}

int docker__tick(struct docker *d, uint64_t now)
{
	int err;

	if (!d->cfg.enabled)
		return d->fd;
	if (d->list_fd >= 0 && now >= d->list_deadline) {
		fail(d, now,
		     "listing containers: no complete answer within %d ms",
		     LIST_DEADLINE_MS);
		return -1;
	}
	if (now < d->retry_at)
		return d->fd;
	if (d->fd < 0) {
		err = open_events(d);
		if (err) {
			fail(d, now, "cannot subscribe to events: %s",
			     strerror(-err));
			return -1;
		}
		d->resync = true;
	}
	if ((d->resync || now >= d->next_list) && d->list_fd < 0)
		list_start(d, now);
	return d->fd;
}

static void on_event(struct docker *d, const char *line)
{
	char action[64], id[DOCKER_ID_LEN + 1], sig[16];
	unsigned i;

	if (docker__parse_event(line, action, sizeof(action), id, sig,
				sizeof(sig)))
		return;
	/* Healthchecks run as exec_* every few seconds: not a change. */
	if (!strncmp(action, "exec_", 5))
		return;
	log_debug("upstream.docker: container %.12s: %s", id, action);
	if (!strcmp(action, "start") || !strcmp(action, "destroy")) {
		for (i = 0; i < d->ndying; i++)
			if (!strcmp(d->dying[i], id))
				memcpy(d->dying[i], d->dying[--d->ndying],
				       sizeof(d->dying[i]));
	} else if (!strcmp(action, "stop") || !strcmp(action, "die") ||
		   (!strcmp(action, "kill") &&
		    (!strcmp(sig, "15") || !strcmp(sig, "9") ||
		     !strcmp(sig, "SIGTERM") || !strcmp(sig, "SIGKILL")))) {
		/* Leave at once, before it stops answering: a list taken now
		 * still shows it running. */
		if (!is_dying(d, id) && d->ndying < DOCKER_MAX_DYING)
			memcpy(d->dying[d->ndying++], id, sizeof(id));
	}
	d->resync = true;
}

void docker__on_events(struct docker *d, uint64_t now)
{
	char *nl, *p;
	ssize_t n;

	for (;;) {
		if (d->len == sizeof(d->buf) - 1) {
			fail(d, now, "event line longer than %zu bytes",
			     sizeof(d->buf) - 1);
			return;
		}
		n = recv(d->fd, d->buf + d->len, sizeof(d->buf) - 1 - d->len,
			 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n <= 0) {
			fail(d, now, "the event stream %s",
			     n ? strerror(errno) : "closed");
			return;
		}
		d->len += n;
		d->buf[d->len] = 0;
		p = d->buf;
		if (!d->in_body) {
			char *end = strstr(p, "\r\n\r\n");
			int code;

			if (!end)
				continue;
			code = status_code(p);
			if (code != 200) {
				fail(d, now, "events: HTTP status %d", code);
				return;
			}
			d->in_body = true;
			p = end + 4;
		}
		while ((nl = strchr(p, '\n'))) {
			*nl = 0;
			if (*p)
				on_event(d, p);
			p = nl + 1;
		}
		d->len -= p - d->buf;
		memmove(d->buf, p, d->len);
	}
	if (d->resync && d->list_fd < 0)
		list_start(d, now);
}
