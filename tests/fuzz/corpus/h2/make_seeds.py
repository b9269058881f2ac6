#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Seed corpus of tests/fuzz/fuzz_h2.c: what HTTP/2 clients send a server.

Each seed is a client's bytes followed by the fuzz target's 8 control bytes
(how the bytes are cut, the limits, what the fake owner does; fuzz_h2.c
describes them). Every seed is written with the all-zero control (one
h2__recv, default limits, every request answered at once) and with one of
the other controls below (chosen by a hash of its name).

Three sources:
- real clients, captured: nghttp, curl --http2-prior-knowledge and h2load
  talk cleartext HTTP/2 to a small python3-h2 server on 127.0.0.1 (a port
  in 27400-27499), which answers each request; the bytes it received are
  the seed;
- python3-h2 as a client (well-formed conversations: requests, bodies,
  trailers, resets, pings, settings, window updates, priorities, goaway);
- hand-made frames with hpack (what a hostile or broken client sends:
  floods, CONTINUATION games, MadeYouReset primitives, bad prefaces,
  Host/:authority mismatches, connection-specific fields...).

Run it from anywhere: ./make_seeds.py [--no-capture]. It rewrites the
files it names (NAME.VARIANT) and leaves the others (the fuzzer's) alone.
"""
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import zlib

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
from hpack import Encoder

HERE = os.path.dirname(os.path.abspath(__file__))
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# fuzz_h2.c's control bytes: cut mode, cut parameter, limits, owner
# actions, output high mark/drain, clock/metrics, response/shutdown,
# body sizes
CTL_DEFAULT = bytes(8)
CTLS = [
    # 17-byte cuts, default limits, mixed actions, extra lines, stale ids,
    # answers from inside the callbacks
    bytes([1, 16, 0, 1, 0, 0, 0x0d, 2]),
    # varied cuts, tight limits, small output mark and slow drain, the
    # clock moves, immediate shutdown at the end
    bytes([2, 3, 1, 3, 0x88, 20, 0x41, 4]),
    # tiny cuts, small windows, graceful shutdown at step 3
    bytes([3, 0, 2, 5, 0, 3, 0x83, 3]),
    # whole, limits from the control byte, every action in turn, from
    # inside the callbacks
    bytes([0, 0, 0x6b, 0x0b, 0x10, 2, 0x0e, 1]),
]

# types and flags (RFC 9113 6)
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING = range(7)
GOAWAY, WINDOW_UPDATE, CONTINUATION = 7, 8, 9
END_STREAM, ACK, END_HEADERS, PADDED, PRIO = 0x1, 0x1, 0x4, 0x8, 0x20

REQ = [(":method", "GET"), (":scheme", "https"),
       (":authority", "example.com"), (":path", "/")]


def frame(ftype, flags, sid, payload=b""):
    return (struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) +
            struct.pack(">I", sid) + payload)


def settings(**kv):
    ids = {"header_table_size": 1, "enable_push": 2,
           "max_concurrent_streams": 3, "initial_window_size": 4,
           "max_frame_size": 5, "max_header_list_size": 6,
           "enable_connect_protocol": 8, "no_rfc7540_priorities": 9}
    return b"".join(struct.pack(">HI", ids[k], v) for k, v in kv.items())


class Raw:
    """A client that writes frames by hand (its own HPACK encoder)."""

    def __init__(self, ack=True, preface=PREFACE, **kv):
        self.enc = Encoder()
        self.out = bytearray(preface)
        self.out += frame(SETTINGS, 0, 0, settings(**kv))
        if ack:  # as if the server's SETTINGS had arrived
            self.out += frame(SETTINGS, ACK, 0)

    def add(self, ftype, flags, sid, payload=b""):
        self.out += frame(ftype, flags, sid, payload)
        return self

    def block(self, hdrs):
        return self.enc.encode(hdrs)

    def headers(self, sid, hdrs, end=True, pad=None, prio=None):
        flags = END_HEADERS | (END_STREAM if end else 0)
        body = self.block(hdrs)
        if prio is not None:
            flags |= PRIO
            body = struct.pack(">IB", prio, 15) + body
        if pad is not None:
            flags |= PADDED
            body = bytes([pad]) + body + bytes(pad)
        return self.add(HEADERS, flags, sid, body)

    def data(self, sid, payload, end=False, pad=None):
        flags = END_STREAM if end else 0
        if pad is not None:
            flags |= PADDED
            payload = bytes([pad]) + payload + bytes(pad)
        return self.add(DATA, flags, sid, payload)

    def bytes(self):
        return bytes(self.out)


def h2_client(streams=100):
    """python3-h2 as a client that has seen the server's SETTINGS (and
    acknowledges them)."""
    c = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=True))
    c.initiate_connection()
    c.receive_data(frame(SETTINGS, 0, 0, settings(
        max_concurrent_streams=streams, initial_window_size=65535,
        header_table_size=4096)))
    return c


# --- python3-h2 conversations ------------------------------------------------

def py_seeds():
    s = {}

    c = h2_client()
    c.send_headers(1, REQ + [("user-agent", "python3-h2/4.1"),
                             ("accept", "*/*"), ("cookie", "a=1"),
                             ("cookie", "b=2")], end_stream=True)
    s["py-get"] = c.data_to_send()

    c = h2_client()
    body = b"x" * 1000
    c.send_headers(1, [(":method", "POST"), (":scheme", "https"),
                       (":authority", "example.com"), (":path", "/upload"),
                       ("content-length", str(len(body))),
                       ("content-type", "application/octet-stream")])
    for i in range(0, len(body), 400):
        c.send_data(1, body[i:i + 400], end_stream=i + 400 >= len(body))
    s["py-post"] = c.data_to_send()

    c = h2_client()
    c.send_headers(1, [(":method", "PUT"), (":scheme", "https"),
                       (":authority", "example.com"), (":path", "/nolen")])
    c.send_data(1, b"a" * 300, pad_length=20)
    c.send_data(1, b"b" * 10)
    c.send_headers(1, [("x-checksum", "abc")], end_stream=True)
    s["py-post-trailers"] = c.data_to_send()

    c = h2_client()
    c.send_headers(1, REQ + [("x-h%03d" % i, "v" * (i % 7))
                             for i in range(150)], end_stream=True)
    s["py-many-headers"] = c.data_to_send()

    c = h2_client()  # one 40000-byte field: HEADERS + CONTINUATION
    c.send_headers(1, REQ + [("x-big", "b" * 40000)], end_stream=True)
    s["py-big-header"] = c.data_to_send()

    c = h2_client()
    for sid in range(1, 40, 2):
        c.send_headers(sid, REQ, end_stream=False)
        c.reset_stream(sid, error_code=8)  # CANCEL
    s["py-rapid-reset"] = c.data_to_send()

    c = h2_client()
    c.send_headers(1, REQ, end_stream=True)
    for i in range(20):
        c.ping(b"%08d" % i)
    c.update_settings({h2.settings.SettingCodes.HEADER_TABLE_SIZE: 0,
                       h2.settings.SettingCodes.MAX_FRAME_SIZE: 65536})
    c.increment_flow_control_window(100000)
    c.increment_flow_control_window(5000, stream_id=1)
    c.send_headers(3, REQ[:3] + [(":path", "/two")], end_stream=True)
    c.close_connection(error_code=0)
    s["py-control-goaway"] = c.data_to_send()

    c = h2_client()
    c.send_headers(1, REQ, end_stream=True, priority_weight=200,
                   priority_depends_on=0, priority_exclusive=True)
    c.prioritize(3, weight=16, depends_on=1)
    c.prioritize(5, weight=1, depends_on=3, exclusive=True)
    c.send_headers(7, REQ, end_stream=True)
    s["py-priority"] = c.data_to_send()

    c = h2_client(streams=1000)  # more than lbtls allows
    for sid in range(1, 260, 2):
        c.send_headers(sid, REQ[:3] + [(":path", "/s%d" % sid)],
                       end_stream=True)
    s["py-many-streams"] = c.data_to_send()
    return s


# --- hand-made frames ----------------------------------------------------------

def raw_seeds():
    s = {}
    post = [(":method", "POST"), (":scheme", "https"),
            (":authority", "example.com"), (":path", "/p")]

    r = Raw()
    blk = r.block(REQ + [("x-long", "y" * 200)])
    r.add(HEADERS, 0, 1, blk[:5])
    for i in range(5, len(blk), 20):
        last = i + 20 >= len(blk)
        r.add(CONTINUATION, END_HEADERS if last else 0, 1, blk[i:i + 20])
    s["raw-continuation"] = r.bytes()

    r = Raw()  # CVE-2024-28182: CONTINUATION without end
    r.add(HEADERS, 0, 1, r.block(REQ))
    for i in range(100):
        r.add(CONTINUATION, 0, 1, r.block([("x-c%d" % i, "v")]))
    s["raw-continuation-flood"] = r.bytes()

    r = Raw()
    r.headers(1, REQ[:2] + [(":authority", "a.example"), (":path", "/"),
                            ("host", "b.example")])
    r.headers(3, REQ[:2] + [(":authority", "a.example"), (":path", "/"),
                            ("host", "A.EXAMPLE")])
    r.headers(5, REQ[:2] + [(":path", "/hostonly"), ("host", "h.example")])
    r.headers(7, REQ[:2] + [(":path", "/none")])
    r.headers(9, REQ + [("host", "example.com"), ("host", "other")])
    s["raw-authority-host"] = r.bytes()

    r = Raw()  # empty values (nghttp2 refuses an empty :authority or host)
    r.headers(1, REQ + [("cookie", ""), ("cookie", "a=1"), ("x-empty", "")])
    r.headers(3, REQ + [("x-empty", "")])
    r.headers(5, REQ[:2] + [(":authority", ""), (":path", "/"),
                            ("host", "e.x")])
    r.headers(7, REQ[:3] + [(":path", "/"), ("host", "")])
    s["raw-empty-values"] = r.bytes()

    r = Raw()
    r.headers(1, REQ + [("connection", "keep-alive")])
    r.headers(3, REQ + [("te", "trailers")])
    r.headers(5, REQ + [("te", "gzip")])
    r.headers(7, post + [("transfer-encoding", "chunked")], end=False)
    r.data(7, b"5\r\nhello\r\n0\r\n\r\n", end=True)
    r.headers(9, REQ + [("upgrade", "websocket"), ("keep-alive", "5")])
    r.headers(11, REQ + [("proxy-connection", "close")])
    r.headers(13, REQ + [("X-Upper", "1")])
    r.headers(15, REQ + [("x-sp", " lead")])
    s["raw-connection-specific"] = r.bytes()

    r = Raw()
    r.headers(1, post + [("content-length", "10")], end=False)
    r.data(1, b"12345", end=True)
    r.headers(3, post + [("content-length", "2")], end=False)
    r.data(3, b"12345", end=True)
    r.headers(5, post + [("content-length", "1"), ("content-length", "2")])
    r.headers(7, post + [("content-length", "x")])
    r.headers(9, REQ + [("content-length", "0")])
    s["raw-content-length"] = r.bytes()

    r = Raw()  # MadeYouReset primitives
    r.headers(1, post, end=False)
    r.add(WINDOW_UPDATE, 0, 1, struct.pack(">I", 0x7fffffff))
    r.add(WINDOW_UPDATE, 0, 1, struct.pack(">I", 0x7fffffff))
    r.headers(3, post, end=True)
    r.data(3, b"after end")
    r.headers(5, post, end=False)
    r.add(WINDOW_UPDATE, 0, 5, struct.pack(">I", 0))
    r.headers(7, post, end=False)
    r.add(PRIORITY, 0, 7, struct.pack(">IB", 7, 1))  # depends on itself
    r.headers(9, post + [("content-length", "-1")])
    r.add(RST_STREAM, 0, 11, struct.pack(">I", 8))  # idle stream
    s["raw-madeyoureset"] = r.bytes()

    r = Raw()
    r.headers(1, post, end=False)
    for _ in range(200):
        r.data(1, b"")
    r.data(1, b"z", end=True)
    s["raw-empty-data-flood"] = r.bytes()

    r = Raw()
    for i in range(300):
        r.add(PING, 0, 0, struct.pack(">Q", i))
    s["raw-ping-flood"] = r.bytes()

    r = Raw()
    for i in range(100):
        r.add(SETTINGS, 0, 0, settings(header_table_size=i * 64,
                                       initial_window_size=65535 - i))
    s["raw-settings-flood"] = r.bytes()

    r = Raw()
    r.headers(1, REQ, end=True)
    for i in range(200):
        r.add(PRIORITY, 0, 3 + 2 * i, struct.pack(">IB", 1, i & 0xff))
    r.add(WINDOW_UPDATE, 0, 0, struct.pack(">I", 1))
    for i in range(100):
        r.add(WINDOW_UPDATE, 0, 0, struct.pack(">I", 1))
    s["raw-priority-window-flood"] = r.bytes()

    r = Raw()  # window overflow on the connection
    r.add(WINDOW_UPDATE, 0, 0, struct.pack(">I", 0x7fffffff))
    r.add(WINDOW_UPDATE, 0, 0, struct.pack(">I", 0x7fffffff))
    s["raw-window-overflow"] = r.bytes()

    r = Raw(initial_window_size=0)  # a reader with no window
    r.headers(1, REQ, end=True)
    r.headers(3, REQ, end=True)
    r.add(WINDOW_UPDATE, 0, 1, struct.pack(">I", 10))
    r.add(SETTINGS, 0, 0, settings(initial_window_size=1))
    s["raw-zero-window"] = r.bytes()

    r = Raw()  # HPACK: a big entry in the table, referenced many times
    big = [("x-bomb", "q" * 3000)]
    r.headers(1, REQ + big)
    r.headers(3, REQ + big * 100)
    r.add(HEADERS, END_HEADERS | END_STREAM, 5,
          b"\x3f\xe1\x1f" + r.block(REQ))  # table size update 4096
    r.add(HEADERS, END_HEADERS | END_STREAM, 7, b"\x3f\xe1\xff\x07")
    s["raw-hpack-bomb"] = r.bytes()

    r = Raw()
    r.add(HEADERS, END_HEADERS | END_STREAM, 1, b"\xff\xff\xff\xff\x0f")
    s["raw-hpack-error"] = r.bytes()

    r = Raw()
    r.headers(1, REQ, end=True, pad=17, prio=0)
    r.headers(3, post, end=False, pad=0)
    r.data(3, b"padded", pad=200, end=True)
    r.add(HEADERS, END_HEADERS | PADDED, 5, b"\xff")  # pad > length
    s["raw-padding"] = r.bytes()

    r = Raw()
    r.headers(1, [(":method", "HEAD"), (":scheme", "https"),
                  (":authority", "e.x"), (":path", "/h")])
    r.headers(3, [(":method", "OPTIONS"), (":scheme", "https"),
                  (":authority", "e.x"), (":path", "*")])
    r.headers(5, [(":method", "CONNECT"), (":authority", "e.x:443")])
    r.headers(7, [(":method", "M" * 40), (":scheme", "https"),
                  (":authority", "e.x"), (":path", "/")])
    r.headers(9, [(":method", "GET"), (":scheme", "https"),
                  (":authority", "e.x"), (":path", "/a b")])
    r.headers(11, [(":method", "GET"), (":authority", "e.x"),
                   (":path", "/noscheme")])
    r.headers(13, [(":method", "GET"), (":scheme", "https"),
                   (":authority", "e.x"), (":path", "/q?x=1&y=%20"),
                   (":path", "/dup")])
    r.headers(15, [(":scheme", "https"), (":method", "GET"),
                   ("accept", "*/*"), (":authority", "e.x"),
                   (":path", "/late")])
    s["raw-methods-paths"] = r.bytes()

    r = Raw()
    r.headers(1, post + [("expect", "100-continue"),
                         ("content-length", "4")], end=False)
    r.data(1, b"body", end=True)
    r.headers(3, post + [("expect", "something")], end=True)
    s["raw-expect"] = r.bytes()

    r = Raw()
    r.headers(5, REQ)
    r.headers(3, REQ)  # ids go down
    s["raw-stream-id-down"] = r.bytes()

    r = Raw()
    r.headers(2, REQ)  # even id from a client
    s["raw-even-stream"] = r.bytes()

    # Rapid reset past nghttp2's limit (reset_burst 3 with this control)
    # in one read, then a connection error: the second GOAWAY must not
    # name a higher last stream id than the first (RFC 9113 6.8)
    r = Raw()
    for sid in range(1, 40, 2):
        r.headers(sid, REQ + [("user-agent", "rr")], end=False)
        r.add(RST_STREAM, 0, sid, struct.pack(">I", 8))
    r.add(DATA, 0, 0, b"on stream zero")
    s["raw-rapid-reset-batch"] = (r.bytes(), bytes([0, 0, 0x23, 0, 0, 0, 0,
                                                     0]))

    # The glitch budget (tight limits: 1 token) spent by empty DATA frames
    # inside one read, then a bad frame in the same read: nghttp2 1.52
    # aborts (assert iframe->state == NGHTTP2_IB_IGN_ALL) when the session
    # was terminated from a callback (here before our SETTINGS are acked)
    r = Raw(ack=False)
    r.headers(1, REQ + [("user-agent", "calm")], end=False)
    r.data(1, b"")
    r.data(1, b"")
    r.add(PING, 0, 1)
    s["raw-calm-then-bad-frame"] = (r.bytes(), bytes([0, 0, 1, 0, 0, 0, 0,
                                                      0]))

    # Graceful shutdown after the first piece (the control cuts the input
    # after the first request); the client then acknowledges the notice's
    # PING ("lbtls-sd", h2.c) and sends one more request, which crossed
    # the notice
    r = Raw()
    r.headers(1, REQ + [("user-agent", "sd")])
    first = len(r.out)
    r.add(PING, ACK, 0, b"lbtls-sd")
    r.headers(3, REQ + [("user-agent", "sd")])
    r.headers(5, REQ + [("user-agent", "sd")])
    s["raw-shutdown-ping-ack"] = (r.bytes(), bytes([1, first - 1, 0, 0, 0,
                                                    0, 0x80, 0]))

    r = Raw()
    r.add(0xfa, 0xff, 1, b"ext")
    r.add(PUSH_PROMISE, END_HEADERS, 1, struct.pack(">I", 2))
    r.add(DATA, 0, 0, b"on stream zero")
    s["raw-odd-frames"] = r.bytes()

    r = Raw(ack=False)  # never acknowledges our SETTINGS
    r.headers(1, REQ)
    s["raw-no-settings-ack"] = r.bytes()

    s["raw-http1"] = (b"GET / HTTP/1.1\r\nHost: example.com\r\n"
                      b"Connection: Upgrade, HTTP2-Settings\r\n"
                      b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAA\r\n\r\n")
    s["raw-preface-short"] = PREFACE[:12]
    s["raw-no-settings"] = PREFACE + frame(PING, 0, 0, bytes(8))

    r = Raw()
    r.headers(1, post, end=False)
    r.data(1, b"d" * 16384)
    r.data(1, b"d" * 16384)
    r.data(1, b"d" * 16384)
    r.data(1, b"d" * 16384)
    r.data(1, b"d" * 16384, end=True)  # past the 65535 window
    s["raw-window-exceeded"] = r.bytes()

    r = Raw(max_frame_size=16384, enable_push=1)
    r.add(SETTINGS, 0, 0, settings(max_frame_size=100))  # invalid
    s["raw-bad-settings"] = r.bytes()
    return s


# --- real clients, captured ----------------------------------------------------

class Capture:
    """A cleartext HTTP/2 server that keeps what each client sent."""

    def __init__(self):
        self.sock = None
        for port in range(27400, 27500):
            try:
                s = socket.socket()
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("127.0.0.1", port))
                s.listen(8)
                self.sock, self.port = s, port
                break
            except OSError:
                s.close()
        if not self.sock:
            sys.exit("make_seeds: no free port in 27400-27499")
        self.got = []
        self.lock = threading.Lock()
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(conn,),
                             daemon=True).start()

    def serve(self, conn):
        h = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False))
        h.initiate_connection()
        conn.sendall(h.data_to_send())
        got = bytearray()
        conn.settimeout(10)
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                got += data
                for ev in h.receive_data(data):
                    if isinstance(ev, h2.events.DataReceived):
                        h.acknowledge_received_data(
                            ev.flow_controlled_length, ev.stream_id)
                    elif isinstance(ev, h2.events.StreamEnded):
                        h.send_headers(ev.stream_id, [
                            (":status", "200"), ("content-length", "6"),
                            ("content-type", "text/plain")])
                        h.send_data(ev.stream_id, b"hello\n",
                                    end_stream=True)
                conn.sendall(h.data_to_send())
        except (OSError, h2.exceptions.ProtocolError):
            pass
        conn.close()
        with self.lock:
            self.got.append(bytes(got))

    def run(self, argv):
        with self.lock:
            n = len(self.got)
        subprocess.run(argv, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=20, check=False)
        for _ in range(100):
            with self.lock:
                if len(self.got) > n:
                    return b"".join(self.got[n:])
            threading.Event().wait(0.05)
        sys.exit("make_seeds: %s sent nothing" % argv[0])

    def close(self):
        self.sock.close()


def captured_seeds(tmp):
    body = os.path.join(tmp, "body")
    with open(body, "wb") as f:
        f.write(bytes(range(256)) * 12)
    cap = Capture()
    url = "http://127.0.0.1:%d" % cap.port
    curl = ["curl", "-s", "-o", "/dev/null", "--http2-prior-knowledge"]
    many = []
    for i in range(40):
        many += ["-H", "X-Header-%02d: value %d" % (i, i)]
    runs = {
        "nghttp-get": ["nghttp", "-n", url + "/"],
        "nghttp-multi": ["nghttp", "-n", "-m", "3", "-H", "cookie: a=1",
                         "-H", "cookie: b=2", "-H", "accept-language: en",
                         url + "/index.html", url + "/a?b=c"],
        "nghttp-post-trailer": ["nghttp", "-n", "-d", body, "--trailer",
                                "x-checksum: 1", url + "/upload"],
        "nghttp-continuation": ["nghttp", "-n", "--continuation",
                                url + "/"],
        "nghttp-padding": ["nghttp", "-n", "-b", "40", "-d", body,
                           url + "/pad"],
        "nghttp-small-windows": ["nghttp", "-n", "-w", "10", "-W", "16",
                                 "-c", "0", url + "/"],
        "curl-get": curl + [url + "/"],
        "curl-two": curl + ["-H", "Cookie: a=1; b=2", url + "/1",
                            "-o", "/dev/null", url + "/2"],
        "curl-post": curl + ["--data-binary", "@" + body, url + "/form"],
        "curl-headers": curl + many + [url + "/many"],
        "h2load-get": ["h2load", "-n", "20", "-c", "1", "-m", "10",
                       url + "/"],
        "h2load-post": ["h2load", "-n", "6", "-c", "1", "-m", "3", "-d",
                        body, url + "/up"],
    }
    s = {}
    try:
        for name, argv in runs.items():
            s[name] = cap.run(argv)
            if not s[name].startswith(PREFACE):
                sys.exit("make_seeds: %s did not speak HTTP/2" % name)
    finally:
        cap.close()
    return s


def main():
    seeds = {}
    if "--no-capture" not in sys.argv[1:]:
        with tempfile.TemporaryDirectory() as tmp:
            seeds.update(captured_seeds(tmp))
    seeds.update(py_seeds())
    seeds.update(raw_seeds())
    files = 0
    for name in sorted(seeds):
        if isinstance(seeds[name], tuple):  # bytes for one control only
            data, ctl = seeds[name]
            variants = {"a": ctl}
        else:
            data = seeds[name]
            variants = {"a": CTL_DEFAULT,
                        "b": CTLS[zlib.crc32(name.encode()) % len(CTLS)]}
        for v, ctl in variants.items():
            with open(os.path.join(HERE, "%s.%s" % (name, v)), "wb") as f:
                f.write(data + ctl)
            files += 1
    print("make_seeds: %d seeds, %d files in %s" % (len(seeds), files, HERE))


if __name__ == "__main__":
    main()
