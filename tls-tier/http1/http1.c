// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * HTTP/1.x parsing for lbtls (RFC 9112, RFC 9110): heads, chunked bodies,
 * request targets. The writers are in http1_write.c.
 *
 * The head parsers are stateless: they parse buf[0..len) from the start on
 * every call and answer 0 until the head is complete, so the event loop only
 * appends bytes and calls again. A line is looked at only once its CRLF is
 * in the buffer (or once it has passed a limit), and the head is judged as a
 * whole only once its blank line is in: so a prefix of a message answers 0
 * or the very error the whole message gets, however the bytes arrive.
 *
 * Choices where the RFCs leave room, all on the strict side because the
 * message is relayed to another parser (request smuggling):
 * - lines end with CRLF only; a bare LF or bare CR is an error (RFC 9112 2.2
 *   allows accepting a bare LF; we do not);
 * - up to 8 empty lines before the request line are skipped (counted in
 *   the head), more is 400;
 * - any repeated Content-Length is an error, even with identical values,
 *   and so is a list ("5, 5"), as nginx does (RFC 9110 8.6 would allow
 *   collapsing identical values);
 * - a request line over max_line is 414, a header line over it 431;
 * - Transfer-Encoding in a request must be exactly one "chunked" coding
 *   (case-insensitive, one header); anything else is 501;
 * - the request-target must be origin-form, "*" (OPTIONS only) or an
 *   absolute http/https URI without userinfo; no '#', no byte outside
 *   0x21..0x7e. In absolute-form the target's authority (up to the first
 *   '/', '?' or '#') is the host (RFC 9112 3.2.2), and the upstream head
 *   carries origin-form;
 * - a chunk size over HTTP1_MAX_CHUNK (1 TiB) is an error;
 * - a Host value must look like uri-host[:port] (RFC 9110 7.2).
 */
#include <string.h>

#include "http1.h"
#include "http1_int.h"

#define HTTP1_DEFAULT_MAX_LINE 8192
#define HTTP1_DEFAULT_MAX_HEAD 65536
#define HTTP1_CHUNK_LINE_MAX 4096 /* chunk size line, extensions included */
#define HTTP1_TRAILER_MAX 8192 /* whole trailer section */
#define HTTP1_MAX_EMPTY_LINES 8 /* skipped before a request line */
#define HTTP1_SIZE_MAX ((uint64_t)INT64_MAX) /* Content-Length: < 2^63 */

/* --- characters and spans ------------------------------------------------- */

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int hex_value(unsigned char c)
{
	if (is_digit(c))
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Character classes, one table lookup per byte (every head byte passes). */
#define CC_TCHAR 1 /* RFC 9110 5.6.2 tchar */
#define CC_HOST 2 /* RFC 3986 uri-host and ":" port, no userinfo */

static const unsigned char cc_table[256] = {
#define CC_ALNUM (CC_TCHAR | CC_HOST)
	['0' ... '9'] = CC_ALNUM,
	['A' ... 'Z'] = CC_ALNUM,
	['a' ... 'z'] = CC_ALNUM,
	['!'] = CC_TCHAR | CC_HOST,
	['#'] = CC_TCHAR,
	['$'] = CC_TCHAR | CC_HOST,
	['%'] = CC_TCHAR | CC_HOST,
	['&'] = CC_TCHAR | CC_HOST,
	['\''] = CC_TCHAR | CC_HOST,
	['*'] = CC_TCHAR | CC_HOST,
	['+'] = CC_TCHAR | CC_HOST,
	['-'] = CC_TCHAR | CC_HOST,
	['.'] = CC_TCHAR | CC_HOST,
	['^'] = CC_TCHAR,
	['_'] = CC_TCHAR | CC_HOST,
	['`'] = CC_TCHAR,
	['|'] = CC_TCHAR,
	['~'] = CC_TCHAR | CC_HOST,
	['('] = CC_HOST,
	[')'] = CC_HOST,
	[','] = CC_HOST,
	[';'] = CC_HOST,
	['='] = CC_HOST,
	[':'] = CC_HOST,
	['['] = CC_HOST,
	[']'] = CC_HOST,
#undef CC_ALNUM
};

static bool is_tchar(unsigned char c)
{
	return cc_table[c] & CC_TCHAR;
}

static bool is_ows(unsigned char c)
{
	return c == ' ' || c == '\t';
}

/* field-vchar / SP / HTAB: VCHAR and obs-text, no CTL, no DEL */
static bool is_field_char(unsigned char c)
{
	return c == '\t' || c == ' ' || (c > 0x20 && c != 0x7f);
}

/*
 * Next non-empty element of a comma-separated list (RFC 9110 5.6.1), OWS
 * trimmed. Returns false when the list is exhausted.
 */
static bool list_next(struct http1_span *rest, struct http1_span *elem)
{
	const char *p = rest->p, *end = rest->p + rest->len, *e;

	for (;;) {
		while (p < end && (is_ows(*p) || *p == ','))
			p++;
		if (p == end) {
			rest->p = p;
			rest->len = 0;
			return false;
		}
		e = p;
		while (e < end && *e != ',')
			e++;
		rest->p = e;
		rest->len = end - e;
		while (e > p && is_ows(e[-1]))
			e--;
		elem->p = p;
		elem->len = e - p;
		return true;
	}
}

bool http1_list_has(struct http1_span list, struct http1_span tok)
{
	struct http1_span e;

	while (list_next(&list, &e))
		if (e.len == tok.len && http1_mem_ieq(e.p, tok.p, e.len))
			return true;
	return false;
}

static bool list_has_str(struct http1_span list, const char *tok)
{
	struct http1_span t = { tok, strlen(tok) };

	return http1_list_has(list, t);
}

/* 1*DIGIT, below 2^63 */
static bool parse_length(struct http1_span v, uint64_t *out)
{
	uint64_t n = 0;
	size_t i;

	if (!v.len)
		return false;
	for (i = 0; i < v.len; i++) {
		unsigned char c = v.p[i];

		if (!is_digit(c))
			return false;
		if (n > (HTTP1_SIZE_MAX - (c - '0')) / 10)
			return false;
		n = n * 10 + (c - '0');
	}
	*out = n;
	return true;
}

/* uri-host [ ":" port ] in the characters RFC 3986 allows; no userinfo */
static bool host_ok(struct http1_span h)
{
	size_t i;

	for (i = 0; i < h.len; i++)
		if (!(cc_table[(unsigned char)h.p[i]] & CC_HOST))
			return false;
	return true;
}

/* --- lines and fields ----------------------------------------------------- */

struct head_errors {
	int syntax; /* malformed */
	int line; /* one line over max_line */
	int head; /* head over max_head, or too many fields */
};

/*
 * Find the CRLF ending the line that starts at 'pos'. Returns 1 and sets
 * *cr to the index of its CR, 0 when more bytes are needed, or an error:
 * the line or the head has passed its limit, or it ends in a bare LF.
 */
static int next_line(const char *buf, size_t len, size_t pos, size_t max_line,
		     size_t max_head, const struct head_errors *err, size_t *cr)
{
	size_t line_cap, end, i;
	const char *lf;

	/* The LF of a line may sit at most at pos + max_line + 1. */
	line_cap =
		max_line > SIZE_MAX - 2 - pos ? SIZE_MAX : pos + max_line + 2;
	end = line_cap < max_head ? line_cap : max_head;
	if (end < pos)
		return err->head;
	lf = memchr(buf + pos, '\n', (len < end ? len : end) - pos);
	if (lf) {
		i = lf - buf;
		if (i == pos || buf[i - 1] != '\r')
			return err->syntax;
		*cr = i - 1;
		return 1;
	}
	if (len < end)
		return 0;
	return end == line_cap ? err->line : err->head;
}

/*
 * Parse header fields from 'pos' through the blank line into hdrs[].
 * Returns the head length, 0 for more bytes, or an error.
 */
static int parse_fields(const char *buf, size_t len, size_t pos,
			size_t max_line, size_t max_head,
			const struct head_errors *err,
			struct http1_header *hdrs, size_t *num)
{
	size_t cr, n, v, ve, k;
	int r;

	*num = 0;
	for (;;) {
		r = next_line(buf, len, pos, max_line, max_head, err, &cr);
		if (r <= 0)
			return r;
		if (cr == pos)
			return (int)(cr + 2);
		/* obs-fold, or whitespace after the start line: RFC 9112 5.2 */
		if (is_ows(buf[pos]))
			return err->syntax;
		for (n = pos; n < cr && is_tchar(buf[n]); n++)
			;
		/* no whitespace between name and colon: RFC 9112 5.1 */
		if (n == pos || n == cr || buf[n] != ':')
			return err->syntax;
		for (v = n + 1; v < cr && is_ows(buf[v]); v++)
			;
		for (ve = cr; ve > v && is_ows(buf[ve - 1]); ve--)
			;
		for (k = v; k < ve; k++)
			if (!is_field_char(buf[k]))
				return err->syntax;
		if (*num == HTTP1_MAX_HEADERS)
			return err->head;
		hdrs[*num].name.p = buf + pos;
		hdrs[*num].name.len = n - pos;
		hdrs[*num].value.p = buf + v;
		hdrs[*num].value.len = ve - v;
		(*num)++;
		pos = cr + 2;
	}
}

/* "HTTP/" DIGIT "." DIGIT: 1 for 1.0/1.1, 0 other version, -1 malformed */
static int parse_version(const char *p, size_t n, int *minor)
{
	if (n != 8 || memcmp(p, "HTTP/", 5) || !is_digit(p[5]) || p[6] != '.' ||
	    !is_digit(p[7]))
		return -1;
	*minor = p[7] - '0';
	return p[5] == '1' && *minor <= 1;
}

/* --- requests --------------------------------------------------------------- */

/* Length of an http:// or https:// prefix (any case), else 0. */
static size_t scheme_len(struct http1_span t)
{
	if (t.len >= 7 && http1_mem_ieq(t.p, "http://", 7))
		return 7;
	if (t.len >= 8 && http1_mem_ieq(t.p, "https://", 8))
		return 8;
	return 0;
}

/* The authority of an absolute-form target, and what follows it. */
static bool split_absolute(struct http1_span t, struct http1_span *authority,
			   struct http1_span *rest)
{
	size_t s = scheme_len(t), i;

	if (!s)
		return false;
	/* RFC 3986 3.2: the authority ends at the first '/', '?' or '#'; a
	 * '/' in the query belongs to the query. */
	for (i = s;
	     i < t.len && t.p[i] != '/' && t.p[i] != '?' && t.p[i] != '#'; i++)
		;
	authority->p = t.p + s;
	authority->len = i - s;
	rest->p = t.p + i;
	rest->len = t.len - i;
	return true;
}

/* absolute-form: http(s)://authority[path-abempty][?query] */
static bool parse_absolute(struct http1_span t, struct http1_span *authority)
{
	struct http1_span rest;

	return split_absolute(t, authority, &rest) && authority->len &&
	       host_ok(*authority);
}

struct http1_span http1_target_rest(struct http1_span target)
{
	struct http1_span authority, rest;

	return split_absolute(target, &authority, &rest) ? rest : target;
}

struct http1_span http1__target_path(struct http1_span target)
{
	struct http1_span p = http1_target_rest(target);
	size_t i;

	for (i = 0; i < p.len && p.p[i] != '?' && p.p[i] != '#'; i++)
		;
	p.len = i;
	if (!p.len) {
		p.p = "/";
		p.len = 1;
	}
	return p;
}

static bool method_idempotent(struct http1_span m)
{
	return span_eq(m, "GET") || span_eq(m, "HEAD") ||
	       span_eq(m, "OPTIONS") || span_eq(m, "TRACE") ||
	       span_eq(m, "PUT") || span_eq(m, "DELETE");
}

/* request-line = method SP request-target SP HTTP-version */
static int parse_request_line(const char *buf, size_t pos, size_t cr,
			      struct http1_request *req)
{
	size_t m, t;
	int v;

	for (m = pos; m < cr && is_tchar(buf[m]); m++)
		;
	if (m == pos || m == cr || buf[m] != ' ')
		return -400;
	for (t = m + 1; t < cr && buf[t] > 0x20 && buf[t] < 0x7f; t++)
		if (buf[t] == '#')
			return -400;
	if (t == m + 1 || t == cr || buf[t] != ' ')
		return -400;
	v = parse_version(buf + t + 1, cr - t - 1, &req->minor);
	if (v < 0)
		return -400;
	if (v == 0)
		return -505;
	req->method.p = buf + pos;
	req->method.len = m - pos;
	req->target.p = buf + m + 1;
	req->target.len = t - m - 1;
	return 0;
}

/* Judge the complete head: framing, Host, connection options. */
static int request_semantics(struct http1_request *req,
			     const struct http1_limits *lim, bool absolute)
{
	const struct http1_header *h;
	struct http1_span conn_close = { "close", 5 };
	bool have_cl = false, have_host = false, close = false, ka = false;
	bool other_expect = false;
	size_t i, te = 0;
	bool te_chunked = false;

	for (i = 0; i < req->num_headers; i++) {
		h = &req->headers[i];
		if (span_ieq(h->name, "content-length")) {
			if (have_cl ||
			    !parse_length(h->value, &req->content_length))
				return -400;
			have_cl = true;
		} else if (span_ieq(h->name, "host")) {
			if (have_host || !host_ok(h->value))
				return -400;
			have_host = true;
			if (!absolute)
				req->host = h->value;
		} else if (span_ieq(h->name, "transfer-encoding")) {
			te++;
			te_chunked = span_ieq(h->value, "chunked");
		} else if (span_ieq(h->name, "connection")) {
			close |= http1_list_has(h->value, conn_close);
			ka |= list_has_str(h->value, "keep-alive");
		} else if (span_ieq(h->name, "expect")) {
			/* RFC 9110 10.1.1: 100-continue is ignored in 1.0;
			 * any other expectation cannot be met (417). */
			struct http1_span rest = h->value, e;

			while (list_next(&rest, &e)) {
				if (!span_ieq(e, "100-continue"))
					other_expect = true;
				else if (req->minor == 1)
					req->expect_continue = true;
			}
		} else if (span_ieq(h->name, "upgrade")) {
			if (h->value.len)
				req->upgrade = true;
		}
	}
	if (req->minor == 1 && !have_host)
		return -400;
	if (te) {
		/* RFC 9112 6.1: TE in 1.0 is faulty framing; CL+TE smuggling */
		if (req->minor == 0 || have_cl)
			return -400;
		if (te != 1 || !te_chunked)
			return -501;
		req->body = HTTP1_BODY_CHUNKED;
	} else if (have_cl && req->content_length) {
		if (lim->max_body && req->content_length > lim->max_body)
			return -413;
		req->body = HTTP1_BODY_LENGTH;
	}
	if (other_expect)
		return -417;
	req->keep_alive = !close && (req->minor == 1 || ka);
	req->idempotent = method_idempotent(req->method);
	return 0;
}

int http1__parse_request(const char *buf, size_t len,
			 const struct http1_limits *lim,
			 struct http1_request *req)
{
	static const struct head_errors line_err = { -400, -414, -431 };
	static const struct head_errors field_err = { -400, -431, -431 };
	struct http1_limits l = { HTTP1_DEFAULT_MAX_LINE,
				  HTTP1_DEFAULT_MAX_HEAD, 0 };
	struct http1_span authority = { "", 0 };
	size_t pos = 0, cr;
	bool absolute = false;
	int r, head;

	if (lim) {
		l.max_body = lim->max_body;
		if (lim->max_line)
			l.max_line = lim->max_line;
		if (lim->max_head)
			l.max_head = lim->max_head;
	}
	if (l.max_head > INT32_MAX)
		l.max_head = INT32_MAX; /* the head length is an int */
	req->num_headers = 0;
	req->body = HTTP1_BODY_NONE;
	req->content_length = 0;
	req->host.p = "";
	req->host.len = 0;
	req->keep_alive = false;
	req->expect_continue = false;
	req->idempotent = false;
	req->upgrade = false;

	/* RFC 9112 2.2: ignore a few empty lines before the request line */
	while (pos < len && buf[pos] == '\r') {
		if (pos + 1 == len)
			return 0;
		if (buf[pos + 1] != '\n')
			break;
		pos += 2;
		if (pos >= l.max_head)
			return -431;
		if (pos > 2 * HTTP1_MAX_EMPTY_LINES)
			return -400;
	}
	r = next_line(buf, len, pos, l.max_line, l.max_head, &line_err, &cr);
	if (r <= 0)
		return r;
	r = parse_request_line(buf, pos, cr, req);
	if (r)
		return r;
	if (span_eq(req->method, "CONNECT")) {
		req->upgrade = true;
		return -501;
	}
	if (req->target.p[0] == '/') {
		/* origin-form */
	} else if (span_eq(req->target, "*")) {
		if (!span_eq(req->method, "OPTIONS"))
			return -400;
	} else if (parse_absolute(req->target, &authority)) {
		absolute = true;
		req->host = authority;
	} else {
		return -400;
	}

	head = parse_fields(buf, len, cr + 2, l.max_line, l.max_head,
			    &field_err, req->headers, &req->num_headers);
	if (head <= 0)
		return head;
	r = request_semantics(req, &l, absolute);
	return r ? r : head;
}

/* --- responses -------------------------------------------------------------- */

int http1__parse_response(const char *buf, size_t len, size_t max_head,
			  struct http1_span req_method,
			  struct http1_response *res)
{
	static const struct head_errors err = { -502, -502, -502 };
	const struct http1_header *h;
	bool have_cl = false, close = false, ka = false, chunked = false;
	size_t i, cr, te = 0;
	int r, head, v;

	if (!max_head)
		max_head = HTTP1_DEFAULT_MAX_HEAD;
	if (max_head > INT32_MAX)
		max_head = INT32_MAX;
	res->num_headers = 0;
	res->body = HTTP1_BODY_NONE;
	res->content_length = 0;
	res->keep_alive = false;
	res->reason.p = "";
	res->reason.len = 0;

	r = next_line(buf, len, 0, max_head, max_head, &err, &cr);
	if (r <= 0)
		return r;
	/* status-line = HTTP-version SP status-code SP [ reason-phrase ] */
	if (cr < 12)
		return -502;
	v = parse_version(buf, 8, &res->minor);
	if (v <= 0 || buf[8] != ' ' || !is_digit(buf[9]) || buf[9] < '1' ||
	    buf[9] > '5' || !is_digit(buf[10]) || !is_digit(buf[11]))
		return -502;
	res->status =
		(buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
	/* The SP before an empty reason is often left out: accept that. */
	if (cr > 12) {
		if (buf[12] != ' ')
			return -502;
		for (i = 13; i < cr; i++)
			if (!is_field_char(buf[i]))
				return -502;
		res->reason.p = buf + 13;
		res->reason.len = cr - 13;
	}

	head = parse_fields(buf, len, cr + 2, max_head, max_head, &err,
			    res->headers, &res->num_headers);
	if (head <= 0)
		return head;

	for (i = 0; i < res->num_headers; i++) {
		h = &res->headers[i];
		if (span_ieq(h->name, "content-length")) {
			if (have_cl ||
			    !parse_length(h->value, &res->content_length))
				return -502;
			have_cl = true;
		} else if (span_ieq(h->name, "transfer-encoding")) {
			struct http1_span rest = h->value, e, last = { "", 0 };

			while (list_next(&rest, &e))
				last = e;
			te++;
			chunked = span_ieq(last, "chunked");
		} else if (span_ieq(h->name, "connection")) {
			close |= list_has_str(h->value, "close");
			ka |= list_has_str(h->value, "keep-alive");
		}
	}
	/* RFC 9112 6.1 and 6.3: both are faulty framing from the upstream */
	if (te && (have_cl || res->minor == 0))
		return -502;

	if (res->status < 200 || res->status == 204 || res->status == 304 ||
	    span_eq(req_method, "HEAD")) {
		res->body = HTTP1_BODY_NONE;
		res->content_length = 0;
	} else if (te) {
		res->body =
			chunked ? HTTP1_BODY_CHUNKED : HTTP1_BODY_UNTIL_CLOSE;
	} else if (have_cl) {
		res->body = res->content_length ? HTTP1_BODY_LENGTH :
						  HTTP1_BODY_NONE;
	} else {
		res->body = HTTP1_BODY_UNTIL_CLOSE;
	}
	res->keep_alive = !close && (res->minor == 1 || ka) &&
			  res->body != HTTP1_BODY_UNTIL_CLOSE &&
			  res->status != 101;
	return head;
}

/* --- chunked bodies --------------------------------------------------------- */

enum {
	CH_SIZE_START, /* first hex digit of a chunk size */
	CH_SIZE, /* more hex digits */
	CH_SIZE_WS, /* BWS before ';' */
	CH_EXT, /* chunk extensions, up to CR */
	CH_SIZE_LF, /* LF ending the size line */
	CH_DATA,
	CH_DATA_CR, /* CRLF after chunk data */
	CH_DATA_LF,
	CH_TRAILER_START, /* a trailer field or the final CRLF */
	CH_TRAILER_NAME,
	CH_TRAILER_VALUE,
	CH_TRAILER_LF,
	CH_END_LF, /* LF of the final CRLF */
	CH_DONE,
};

void http1_chunked__init(struct http1_chunked *c, uint64_t max_total)
{
	memset(c, 0, sizeof(*c));
	c->state = CH_SIZE_START;
	c->max_total = max_total;
}

/* Scan; with 'data', stop right after the first run of chunk data and
 * set *data to its length (the run is the last *data bytes consumed). */
static ssize_t chunked_run(struct http1_chunked *c, const char *buf, size_t len,
			   bool *done, size_t *data)
{
	size_t i = 0, n;
	unsigned char ch;
	int d;

	*done = c->state == CH_DONE;
	if (data)
		*data = 0;
	while (i < len && c->state != CH_DONE) {
		if (c->state == CH_DATA) {
			n = len - i;
			if (n > c->chunk_left)
				n = c->chunk_left;
			i += n;
			c->chunk_left -= n;
			c->total += n;
			if (!c->chunk_left)
				c->state = CH_DATA_CR;
			if (data) {
				*data = n;
				break;
			}
			continue;
		}
		ch = buf[i++];
		if (c->state <= CH_SIZE_LF) {
			if (++c->line_len > HTTP1_CHUNK_LINE_MAX)
				return -400;
		} else if (c->state >= CH_TRAILER_START) {
			if (++c->line_len > HTTP1_TRAILER_MAX)
				return -400;
		}
		switch (c->state) {
		case CH_SIZE_START:
		case CH_SIZE:
			d = hex_value(ch);
			if (d >= 0) {
				if (c->chunk_left > (HTTP1_MAX_CHUNK - d) / 16)
					return -400;
				c->chunk_left = c->chunk_left * 16 + d;
				c->state = CH_SIZE;
			} else if (c->state == CH_SIZE_START) {
				return -400;
			} else if (ch == '\r') {
				c->state = CH_SIZE_LF;
			} else if (ch == ';') {
				c->state = CH_EXT;
			} else if (is_ows(ch)) {
				c->state = CH_SIZE_WS;
			} else {
				return -400;
			}
			break;
		case CH_SIZE_WS:
			if (ch == ';')
				c->state = CH_EXT;
			else if (!is_ows(ch))
				return -400;
			break;
		case CH_EXT:
			/* bounded by the line length; no bare CR, LF or CTL */
			if (ch == '\r')
				c->state = CH_SIZE_LF;
			else if (!is_field_char(ch))
				return -400;
			break;
		case CH_SIZE_LF:
			if (ch != '\n')
				return -400;
			if (c->max_total &&
			    c->chunk_left > c->max_total - c->total)
				return -413;
			c->line_len = 0;
			c->state = c->chunk_left ? CH_DATA : CH_TRAILER_START;
			break;
		case CH_DATA_CR:
			if (ch != '\r')
				return -400;
			c->state = CH_DATA_LF;
			break;
		case CH_DATA_LF:
			if (ch != '\n')
				return -400;
			c->state = CH_SIZE_START;
			break;
		case CH_TRAILER_START:
			if (ch == '\r')
				c->state = CH_END_LF;
			else if (is_tchar(ch))
				c->state = CH_TRAILER_NAME;
			else
				return -400;
			break;
		case CH_TRAILER_NAME:
			if (ch == ':')
				c->state = CH_TRAILER_VALUE;
			else if (!is_tchar(ch))
				return -400;
			break;
		case CH_TRAILER_VALUE:
			if (ch == '\r')
				c->state = CH_TRAILER_LF;
			else if (!is_field_char(ch))
				return -400;
			break;
		case CH_TRAILER_LF:
			if (ch != '\n')
				return -400;
			c->state = CH_TRAILER_START;
			break;
		case CH_END_LF:
			if (ch != '\n')
				return -400;
			c->state = CH_DONE;
			*done = true;
			break;
		default:
			return -400;
		}
	}
	return (ssize_t)i;
}

ssize_t http1_chunked__scan(struct http1_chunked *c, const char *buf,
			    size_t len, bool *done)
{
	return chunked_run(c, buf, len, done, NULL);
}

ssize_t http1_chunked__decode(struct http1_chunked *c, const char *buf,
			      size_t len, size_t *data, bool *done)
{
	return chunked_run(c, buf, len, done, data);
}

const struct http1_header *http1__find(const struct http1_header *h, size_t n,
				       const char *name)
{
	size_t i, len = strlen(name);

	for (i = 0; i < n; i++)
		if (span_ieq_n(h[i].name, name, len))
			return &h[i];
	return NULL;
}
