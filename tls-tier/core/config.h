/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * lbtls configuration: a YAML file parsed with libyaml. Every error names
 * the file and line ("lbtls.yaml:12: 'weight' expects 1..256") so that
 * `lbtls -t` reads like `nginx -t`.
 */
#ifndef LBTLS_CONFIG_H
#define LBTLS_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <limits.h>
#include <sys/socket.h>
#include <sys/types.h>

#define CFG_MAX_LISTEN 8
#define CFG_MAX_CERTS 16
#define CFG_MAX_SERVERS 64
#define CFG_MAX_WORKERS 256
/* ticket keys kept per key of the file: ceil(lifetime / rotation) + 2 */
#define CFG_MAX_TICKET_EPOCHS 64
#define CFG_MAX_GROUPS 64

enum lb_algo {
	LB_ROUND_ROBIN,
	LB_LEAST_CONN,
	LB_IP_HASH,
	LB_RANDOM_TWO,
};

enum log_level {
	LOG_LVL_ERROR,
	LOG_LVL_WARN,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG,
};

struct cfg_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	char text[80]; /* as written: "127.0.0.1:443", "[::1]:443" */
	uint16_t port;
	int line;
	bool agent; /* made for the lbctl agent: 127.0.0.1:0 or [::1]:0, no
		       SO_REUSEPORT, registered by the worker */
};

struct cfg_cert {
	char fullchain[PATH_MAX];
	char privkey[PATH_MAX];
	int line;
};

struct cfg_server {
	char name[80]; /* host:port as written, for logs and metrics */
	struct sockaddr_storage ss;
	socklen_t len;
	int weight;
	int line;
};

struct cfg_health {
	bool enabled;
	char path[256];
	unsigned interval_ms;
	unsigned timeout_ms;
	unsigned rise;
	unsigned fall;
};

/* lbtls discover lists the containers this often, and refreshes
 * upstream.file's time each time the list succeeds, changed or not. */
#define CFG_DISCOVER_RELIST_MS 30000
#define CFG_DISCOVER_MAX_AGE_MS (3 * CFG_DISCOVER_RELIST_MS)

/* Servers discovered from the Docker Engine API by 'lbtls discover'
 * (discover.c, docker.c), which writes them to upstream.file. */
struct cfg_docker {
	bool enabled;
	char socket[108]; /* the engine's unix socket */
	char label[256]; /* "key=value" a container must carry */
	char port_label[128]; /* label holding the port it serves on */
	char network[128]; /* network whose address to use; "": the first */
	int line;
};

struct cfg_upstream {
	struct cfg_server servers[CFG_MAX_SERVERS];
	unsigned nservers;
	enum lb_algo algo;
	unsigned max_fails; /* 0: passive health off */
	unsigned fail_timeout_ms;
	struct cfg_health health;
	unsigned keepalive; /* idle connections kept per server */
	unsigned
		keepalive_timeout_ms; /* drop idle ones before the server does */
	unsigned connect_timeout_ms;
	unsigned read_timeout_ms;
	unsigned send_timeout_ms;
	/* resend a non-idempotent request whose head may have reached a
	 * server (nginx's proxy_next_upstream non_idempotent); off */
	bool retry_non_idempotent;
	/* Read the whole request body before picking a server (nginx's
	 * proxy_request_buffering, HAProxy's http-buffer-request); on */
	bool request_buffering;
	/* Requests in flight per server and worker (HAProxy's maxconn, nginx's
	 * max_conns); 0: no cap. Over it, requests wait in a queue of 'queue'
	 * places for at most queue_timeout_ms, then 503. */
	unsigned max_conns;
	unsigned queue;
	unsigned queue_timeout_ms;
	struct cfg_docker docker;
	/* servers listed in a file (upfile.c), re-read by the master when it
	 * changes; written by 'lbtls discover' or anything else; "": none */
	char file[PATH_MAX];
	int file_line;
	/* upstream.file older than this is stale: logged and in /metrics
	 * (its writer is gone or stuck); 0: not checked. Default: three of
	 * lbtls discover's relists with upstream.docker, else 0. */
	unsigned file_max_age_ms;
	bool file_max_age_set;
};

struct cfg_limits {
	size_t header_line;
	size_t header_total;
	uint64_t body;
	unsigned header_timeout_ms;
	unsigned body_timeout_ms; /* between two reads of a request body */
	/* The whole body must average this many bytes/s once
	 * client_body_timeout has passed since its first byte; 0: off */
	unsigned body_min_rate;
	size_t body_buffer_size; /* in memory, beyond: a temporary file */
	char body_temp_path[PATH_MAX]; /* where those files are made */
	unsigned send_timeout_ms; /* a client that takes no response bytes */
	unsigned per_client_connections; /* per address and worker; 0: off */
	/* an IPv6 client is its /N: a host has a /64 to pick addresses from */
	unsigned per_client_v6_prefix;
	unsigned keepalive_timeout_ms;
	bool underscores_in_headers; /* forward names with '_' (nginx's) */
	unsigned max_connections; /* per worker */
	bool max_connections_set; /* written in the file, not the default */
};

/*
 * HTTP/2 to clients (http2/h2.h): offered in ALPN when enabled, with the
 * limits a hostile client meets (docs/lbtls.md, "HTTP/2").
 */
struct cfg_http2 {
	bool enabled; /* ALPN offers h2 before http/1.1 */
	unsigned max_streams; /* SETTINGS_MAX_CONCURRENT_STREAMS */
	/* upstream requests per connection, reset streams whose request is
	 * still upstream included; over it, new streams are refused */
	unsigned max_inflight;
	unsigned initial_window; /* per stream, SETTINGS_INITIAL_WINDOW_SIZE */
	unsigned conn_window; /* the connection's receive window */
	unsigned header_table; /* SETTINGS_HEADER_TABLE_SIZE (HPACK) */
	unsigned max_headers; /* fields per request (nginx's max_headers) */
	unsigned settings_timeout_ms; /* our SETTINGS unacknowledged */
	unsigned glitch_rate, glitch_burst; /* tokens/s, bucket size */
	unsigned control_rate, control_burst; /* PING, SETTINGS... per second */
	unsigned reset_rate, reset_burst; /* nghttp2's rapid-reset limiter */
};

struct cfg_tls {
	struct cfg_cert certs[CFG_MAX_CERTS];
	unsigned ncerts;
	int min_proto; /* TLS1_2_VERSION or TLS1_3_VERSION */
	int max_proto;
	char ciphers[512]; /* TLS 1.2 cipher list */
	char ciphersuites[256]; /* TLS 1.3 */
	char groups[128];
	char ticket_key_file[PATH_MAX];
	int ticket_key_line;
	/* Session tickets (tlscompat.h): a new key every ticket_rotation_s,
	 * each ticket good for ticket_lifetime_s (nginx's
	 * ssl_session_timeout, 5m), also the session cache's timeout. */
	unsigned ticket_rotation_s;
	unsigned ticket_lifetime_s;
	bool prefer_server_ciphers; /* nginx's ssl_prefer_server_ciphers */
};

/*
 * user: the identity the workers run as (nginx's `user`), resolved when the
 * file is read, in the master: a worker looks nothing up after fork
 * (priv.c). Forms: NAME, NAME GROUP, UID, UID:GID (NAME:GROUP too).
 */
struct cfg_user {
	bool set;
	char text[64]; /* as written, for logs */
	uid_t uid;
	gid_t gid;
	gid_t groups
		[CFG_MAX_GROUPS]; /* supplementary; none if no passwd entry */
	unsigned ngroups;
	int line;
};

struct lbtls_config {
	char path[PATH_MAX];
	struct cfg_user user;
	unsigned workers; /* 0: one per online CPU */
	struct cfg_addr https[CFG_MAX_LISTEN];
	unsigned nhttps;
	struct cfg_addr http[CFG_MAX_LISTEN];
	unsigned nhttp;
	struct cfg_tls tls;
	char acme_webroot[PATH_MAX];
	struct cfg_upstream upstream;
	struct cfg_limits limits;
	struct cfg_http2 http2;
	char error_page[PATH_MAX];
	char *error_page_body; /* loaded at parse time; NULL: built-in page */
	size_t error_page_len;
	char access_log[PATH_MAX]; /* "" or "off": none */
	char error_log[PATH_MAX]; /* "": stderr */
	enum log_level log_level;
	struct cfg_addr metrics; /* len 0: off */
	bool x_served_by;
	char agent_socket[108]; /* "": standalone (SO_REUSEPORT only) */
	unsigned agent_weight;
	unsigned shutdown_timeout_ms;
};

/* Fill defaults (no listeners, no upstreams); cfg holds no error page. */
void config__defaults(struct lbtls_config *cfg);

/*
 * Parse and validate 'path'. Every problem is printed to 'errs' as
 * "FILE:LINE: reason" (errs may be NULL). cfg must be zeroed or loaded
 * before (its error page is freed). Returns 0, or -EINVAL when
 * anything is wrong, -errno when the file cannot be read.
 */
int config__load(struct lbtls_config *cfg, const char *path, FILE *errs);
/*
 * What 'lbtls discover' needs of the same file: upstream.docker and
 * upstream.file only. Nothing else is parsed or checked, so the discovery
 * process needs neither the certificates nor anything else lbtls reads.
 */
int config__load_discovery(struct lbtls_config *cfg, const char *path,
			   FILE *errs);

/* Release what config__load() allocated (the error page). */
void config__free(struct lbtls_config *cfg);

const char *config__algo_name(enum lb_algo algo);

/* "host:port" / "[v6]:port" / "port" into a socket address. */
int config__parse_addr(const char *s, struct cfg_addr *out, bool resolve);

#endif /* LBTLS_CONFIG_H */
