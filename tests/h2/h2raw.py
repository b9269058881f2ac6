"""h2raw: an HTTP/2 client that writes whatever frames it is told to.

The hostile clients of tests/h2/attack.py are built on it. A well-behaved
HTTP/2 library (python3-h2) refuses to send a malformed frame, so frames
are built here byte by byte (RFC 9113 section 4.1); what the server sends
back is parsed with hyperframe and its header blocks decoded with hpack,
so that the two directions never share a mistake.

    c = Client("127.0.0.1", 443)     # TLS, ALPN "h2", no certificate check
    c.start()                        # preface and SETTINGS
    sid = c.new_stream()
    c.send(headers(sid, c.block(request_fields("/")), end_stream=True))
    c.wait(lambda: sid in c.status)  # reads, acknowledges SETTINGS
    print(c.status[sid], c.outcome())

Only Debian's python3-h2 4.1, hyperframe 6 and hpack 4 are used.
"""
import select
import socket
import ssl
import struct
import time

import hpack
from h2.errors import ErrorCodes
from hyperframe.frame import (ContinuationFrame, DataFrame, Frame,
                              GoAwayFrame, HeadersFrame, PingFrame,
                              RstStreamFrame, SettingsFrame)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# Frame types and flags (RFC 9113 section 6)
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS = 0x0, 0x1, 0x2, 0x3, 0x4
PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = 0x5, 0x6, 0x7, 0x8, 0x9
END_STREAM = ACK = 0x1
END_HEADERS = 0x4
PADDED = 0x8
PRIORITY_FLAG = 0x20

# SETTINGS parameters (section 6.5.2, RFC 9218 for the last)
HEADER_TABLE_SIZE = 0x1
ENABLE_PUSH = 0x2
MAX_CONCURRENT_STREAMS = 0x3
INITIAL_WINDOW_SIZE = 0x4
MAX_FRAME_SIZE = 0x5
MAX_HEADER_LIST_SIZE = 0x6
NO_RFC7540_PRIORITIES = 0x9

MAX_WINDOW = 2**31 - 1


def error_name(code):
    """'PROTOCOL_ERROR' for 1; 'UNKNOWN_0x42' for a code RFC 9113 lacks."""
    try:
        return ErrorCodes(code).name
    except ValueError:
        return "UNKNOWN_0x%x" % code


def error_code(name):
    return ErrorCodes[name].value


# --- frames, byte by byte -------------------------------------------------------
def frame(ftype, flags, sid, payload=b""):
    """One frame: nothing is checked, so any frame can be written."""
    n = len(payload)
    return (struct.pack(">BHBBI", n >> 16, n & 0xFFFF, ftype, flags,
                        sid & 0x7FFFFFFF) + payload)


def settings(params=None, ack=False):
    payload = b"".join(struct.pack(">HI", k, v)
                       for k, v in (params or {}).items())
    return frame(SETTINGS, ACK if ack else 0, 0, payload)


def ping(opaque=b"h2raw!!!", ack=False):
    return frame(PING, ACK if ack else 0, 0, opaque)


def rst_stream(sid, code):
    return frame(RST_STREAM, 0, sid, struct.pack(">I", code))


def window_update(sid, increment):
    return frame(WINDOW_UPDATE, 0, sid, struct.pack(">I", increment))


def priority(sid, depends_on=0, weight=16, exclusive=False):
    dep = depends_on | (0x80000000 if exclusive else 0)
    return frame(PRIORITY, 0, sid, struct.pack(">IB", dep, weight - 1))


def data(sid, payload=b"", end_stream=False):
    return frame(DATA, END_STREAM if end_stream else 0, sid, payload)


def headers(sid, block, end_stream=False, end_headers=True):
    flags = (END_STREAM if end_stream else 0) | (END_HEADERS if end_headers
                                                 else 0)
    return frame(HEADERS, flags, sid, block)


def continuation(sid, block, end_headers=False):
    return frame(CONTINUATION, END_HEADERS if end_headers else 0, sid, block)


def goaway(last_sid, code, debug=b""):
    return frame(GOAWAY, 0, 0, struct.pack(">II", last_sid, code) + debug)


def request_fields(path="/", method="GET", authority="localhost", extra=()):
    return [(":method", method), (":scheme", "https"),
            (":authority", authority), (":path", path)] + list(extra)


# --- HPACK by hand (RFC 7541), for blocks an encoder would never make ---------
def hpack_int(value, prefix_bits, first_byte_flags=0):
    """An integer with an N-bit prefix (RFC 7541 section 5.1)."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first_byte_flags | value])
    out = bytearray([first_byte_flags | limit])
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def hpack_string(s):
    """A string literal without Huffman coding."""
    if isinstance(s, str):
        s = s.encode()
    return hpack_int(len(s), 7) + s


def hpack_indexed(index):
    """Indexed header field (section 6.1): 1xxxxxxx."""
    return hpack_int(index, 7, 0x80)


def hpack_literal_indexed(name, value):
    """Literal with incremental indexing, new name (section 6.2.1): the
    field is added to the decoder's dynamic table at index 62."""
    return b"\x40" + hpack_string(name) + hpack_string(value)


def hpack_literal(name, value):
    """Literal without indexing, new name (section 6.2.2)."""
    return b"\x00" + hpack_string(name) + hpack_string(value)


def hpack_size_update(size):
    """Dynamic table size update (section 6.3): 001xxxxx."""
    return hpack_int(size, 5, 0x20)


def hpack_request(path="/", method="GET", authority="localhost", extra=()):
    """A request head of literals only: the same bytes can be sent any
    number of times, as they leave the decoder's table alone."""
    return b"".join(hpack_literal(k, v)
                    for k, v in request_fields(path, method, authority, extra))


# --- the connection -------------------------------------------------------------
class Client:
    """One TLS connection that speaks frames and records what came back.

    What the server said is kept in: goaway (code, last stream id, debug
    data) or None; resets {stream: code}; status {stream: :status};
    ended (streams whose response ended); closed (why reading stopped:
    "eof", "recv: ConnectionResetError"...) or None; write_error; counts
    of every frame type received in frames_in.
    """

    def __init__(self, host, port, timeout=5.0, alpn=("h2",), rcvbuf=None):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(list(alpn))
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:  # before connect, so that the window scale follows
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        raw.settimeout(timeout)
        raw.connect((host, port))
        self.addr = (raw.getsockname(), raw.getpeername())  # (ours, server's)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = ctx.wrap_socket(raw, server_hostname="localhost")
        self.sock.settimeout(timeout)
        self.alpn = self.sock.selected_alpn_protocol()
        self.enc = hpack.Encoder()
        self.dec = hpack.Decoder()
        self.dec.max_header_list_size = 1 << 30
        self.ack_settings = True  # acknowledge the server's SETTINGS
        self.inbuf = bytearray()
        self.next_sid = 1
        self.goaway = None
        self.resets = {}
        self.status = {}
        self.ended = set()
        self.data_lengths = {}  # stream: [length of each DATA frame]
        self.server_settings = []  # one dict per non-ACK SETTINGS frame
        self.settings_acks = 0
        self.ping_acks = 0
        self.frames_in = {}
        self.bytes_in = 0
        self.closed = None
        self.write_error = None
        self.decode_error = None

    # sending
    def new_stream(self):
        sid = self.next_sid
        self.next_sid += 2
        return sid

    def block(self, fields):
        """A header block from the hpack encoder (keeps its table in step
        with the server's decoder: send blocks in the order made)."""
        return self.enc.encode(fields)

    def send(self, *chunks):
        """Write bytes; False once a write failed (write_error says why:
        the server is gone; its last frames may still be read)."""
        if self.write_error:
            return False
        try:
            self.sock.sendall(b"".join(chunks))
            return True
        except (OSError, ssl.SSLError) as e:
            self.write_error = e.__class__.__name__
            return False

    def start(self, params=None, preface=PREFACE):
        """The client preface and our SETTINGS (params: {id: value})."""
        return self.send(preface, settings(params))

    # receiving
    def _on_frame(self, f, length):
        name = type(f).__name__.replace("Frame", "")
        self.frames_in[name] = self.frames_in.get(name, 0) + 1
        if isinstance(f, GoAwayFrame):
            if self.goaway is None:
                self.goaway = (f.error_code, f.last_stream_id,
                               bytes(f.additional_data))
        elif isinstance(f, RstStreamFrame):
            self.resets.setdefault(f.stream_id, f.error_code)
        elif isinstance(f, SettingsFrame):
            if "ACK" in f.flags:
                self.settings_acks += 1
            else:
                self.server_settings.append(dict(f.settings))
                if self.ack_settings:
                    self.send(settings(ack=True))
        elif isinstance(f, PingFrame):
            if "ACK" in f.flags:
                self.ping_acks += 1
            else:
                self.send(ping(bytes(f.opaque_data), ack=True))
        elif isinstance(f, (HeadersFrame, ContinuationFrame)):
            # the server's blocks are small: no CONTINUATION expected,
            # but decode what comes in either frame
            try:
                for k, v in self.dec.decode(bytes(f.data)):
                    if k == ":status":
                        self.status.setdefault(f.stream_id, int(v))
            except Exception as e:  # noqa: BLE001 - any decoder failure
                self.decode_error = repr(e)
        if isinstance(f, DataFrame):
            self.data_lengths.setdefault(f.stream_id, []).append(len(f.data))
        if isinstance(f, (HeadersFrame, DataFrame)) and "END_STREAM" in f.flags:
            self.ended.add(f.stream_id)

    def _parse(self):
        while len(self.inbuf) >= 9:
            f, length = Frame.parse_frame_header(memoryview(self.inbuf)[:9])
            if len(self.inbuf) < 9 + length:
                return
            body = bytes(self.inbuf[9:9 + length])
            del self.inbuf[:9 + length]
            try:
                f.parse_body(memoryview(body))
            except Exception as e:  # noqa: BLE001 - a frame we cannot parse
                self.decode_error = "%s: %r" % (type(f).__name__, e)
                continue
            self._on_frame(f, length)

    def pump(self, timeout=0.0):
        """Read what has arrived, waiting at most 'timeout' for the first
        bytes; returns False once the server closed the connection."""
        if self.closed:
            return False
        deadline = time.monotonic() + timeout
        while True:
            if not self.sock.pending():
                wait = max(0.0, deadline - time.monotonic())
                try:
                    r, _, _ = select.select([self.sock], [], [], wait)
                except (OSError, ValueError):
                    self.closed = "select failed"
                    return False
                if not r:
                    return True
            try:
                chunk = self.sock.recv(65536)
            except ssl.SSLWantReadError:
                continue
            except (OSError, ssl.SSLError) as e:
                self.closed = "recv: %s" % e.__class__.__name__
                return False
            if not chunk:
                self.closed = "eof"
                return False
            self.bytes_in += len(chunk)
            self.inbuf += chunk
            self._parse()
            deadline = time.monotonic()  # then only what is there already

    def wait(self, done, timeout):
        """Read until done() is true, the server closes or 'timeout'
        seconds passed; returns done()."""
        deadline = time.monotonic() + timeout
        while not done():
            left = deadline - time.monotonic()
            if left <= 0 or not self.pump(min(left, 0.2)):
                break
        return done()

    def drain(self, timeout):
        """Read until the server closes or 'timeout' passed."""
        self.wait(lambda: False, timeout)

    def finished(self):
        """The server said goodbye: a GOAWAY, or it closed."""
        return self.goaway is not None or self.closed is not None

    def outcome(self):
        """How the connection ended: 'GOAWAY(ENHANCE_YOUR_CALM)', 'closed'
        (no GOAWAY), or 'open'."""
        if self.goaway is not None:
            return "GOAWAY(%s)" % error_name(self.goaway[0])
        if self.closed:
            return "closed"
        return "open"

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def tcp_state(sock):
    """The kernel's TCP state of a socket (TCP_INFO's first byte): 1
    ESTABLISHED, 7 CLOSE, 8 CLOSE_WAIT (the server closed, nothing read)."""
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)
    return info[0]


TCP_ESTABLISHED = 1


def server_side_state(c):
    """The TCP state of the server's end of this (loopback, IPv4)
    connection, from /proc/net/tcp: 1 ESTABLISHED, 4 FIN_WAIT1 (closed,
    its data still unsent)...; None once it is gone."""
    def hexaddr(addr):
        ip, port = addr
        return "%08X:%04X" % (struct.unpack("<I", socket.inet_aton(ip))[0],
                              port)
    local, remote = hexaddr(c.addr[1]), hexaddr(c.addr[0])
    with open("/proc/net/tcp") as f:
        for line in f:
            fields = line.split()
            if fields[1] == local and fields[2] == remote:
                return int(fields[3], 16)
    return None
