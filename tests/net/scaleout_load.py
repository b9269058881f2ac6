#!/usr/bin/python3
"""Load client of tests/net/test_scaleout.sh and make bench-scaleout.

Two kinds of traffic to https://SNI/ at VIP:443, from many source
addresses (the router's ECMP hashes on the 4-tuple, the balancers' rings on
the client address):

- CONNS kept-alive TLS connections (HTTP/1.1), source i % len(SOURCES); each
  sends "GET /" every INTERVAL seconds and checks every answer: status 200,
  the whole body, and the same X-Served-By as its first answer (a
  connection never changes server). A connection that fails in any way is
  counted once by kind (connect, tls, reset, eof, timeout, status, body,
  moved) and opened again, so the load goes on.
- NEW_RATE new connections per second, one request each (Connection:
  close), sources in turn; each is counted ok or failed by kind, and logged
  to EVENTS (one JSON line: t, src, ok, kind, served_by) so that the test
  can tell which worker new connections reached after a change.

Runs for DURATION seconds or until SIGTERM/SIGINT, then prints one JSON
summary on stdout. --probe instead does one request from each SOURCE (with
--sport-range LO-HI for the local port) and prints "SRC SERVED_BY" lines.
--interval 0 sends requests back to back; the summary's requests_per_s
is then a throughput figure.

Bounded: every wait has a timeout, every loop ends at DURATION.
"""
import argparse
import asyncio
import ipaddress
import json
import random
import signal
import ssl
import sys
import time

TIMEOUT = 5.0


def sources(spec):
    out = []
    for part in spec.split(","):
        if "-" in part:
            lo, hi = part.split("-")
            a, b = int(ipaddress.IPv4Address(lo)), int(ipaddress.IPv4Address(hi))
            out += [str(ipaddress.IPv4Address(x)) for x in range(a, b + 1)]
        elif part:
            out.append(part)
    return out


class Fail(Exception):
    def __init__(self, kind, detail=""):
        super().__init__(kind)
        self.kind = kind
        self.detail = detail


def tls_ctx():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


async def connect(a, src, sport=0):
    try:
        r, w = await asyncio.wait_for(
            asyncio.open_connection(a.vip, 443, local_addr=(src, sport)),
            TIMEOUT)
    except asyncio.TimeoutError:
        raise Fail("connect", "timeout")
    except OSError as e:
        raise Fail("connect", str(e))
    try:
        await asyncio.wait_for(
            w.start_tls(a.ctx, server_hostname=a.sni), TIMEOUT)
    except asyncio.TimeoutError:
        w.transport.abort()
        raise Fail("tls", "timeout")
    except (OSError, ssl.SSLError) as e:
        w.transport.abort()
        raise Fail("tls", str(e))
    return r, w


async def request(r, w, a, close=False):
    """One GET; returns (served_by, body). Raises Fail."""
    head = "GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (
        a.path, a.sni, "Connection: close\r\n" if close else "")
    try:
        w.write(head.encode())
        await asyncio.wait_for(w.drain(), TIMEOUT)
        raw = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), TIMEOUT)
    except asyncio.TimeoutError:
        raise Fail("timeout")
    except asyncio.IncompleteReadError:
        raise Fail("eof")
    except (ConnectionResetError, BrokenPipeError):
        raise Fail("reset")
    except (OSError, ssl.SSLError) as e:
        raise Fail("reset", str(e))
    lines = raw.decode("latin-1").split("\r\n")
    status = lines[0].split(" ")[1] if " " in lines[0] else "?"
    hdr = {}
    for ln in lines[1:]:
        if ":" in ln:
            k, v = ln.split(":", 1)
            hdr[k.strip().lower()] = v.strip()
    n = int(hdr.get("content-length", "-1"))
    try:
        if n >= 0:
            body = await asyncio.wait_for(r.readexactly(n), TIMEOUT)
        else:
            raise Fail("body", "no content-length")
    except asyncio.TimeoutError:
        raise Fail("timeout")
    except asyncio.IncompleteReadError:
        raise Fail("eof")
    except (OSError, ssl.SSLError):
        raise Fail("reset")
    if status != "200":
        raise Fail("status", status)
    if a.expect and a.expect not in body:
        raise Fail("body", body[:60].decode("latin-1"))
    return hdr.get("x-served-by", "?"), body


def close(w):
    try:
        w.transport.abort()
    except Exception:
        pass


class Stats:
    def __init__(self):
        self.requests = 0
        self.est_failures = {}
        self.est_opened = 0
        self.new_ok = 0
        self.new_failures = {}
        self.new_by_worker = {}
        self.est_by_worker = {}
        self.last_new_failure = None
        self.first_new_failure = None

    def est_fail(self, kind):
        self.est_failures[kind] = self.est_failures.get(kind, 0) + 1


async def keepalive(a, st, src, stop, i):
    # spread the first requests over one interval
    await asyncio.sleep(a.interval * i / max(a.conns, 1))
    while not stop.is_set():
        try:
            r, w = await connect(a, src)
        except Fail as f:
            # not established yet: a failed opening is a new-connection
            # failure, not a broken established one
            st.new_failures[f.kind] = st.new_failures.get(f.kind, 0) + 1
            await asyncio.sleep(a.interval)
            continue
        st.est_opened += 1
        first = None
        try:
            while not stop.is_set():
                sb, _ = await request(r, w, a)
                st.requests += 1
                if first is None:
                    first = sb
                    st.est_by_worker[sb] = st.est_by_worker.get(sb, 0) + 1
                elif sb != first:
                    raise Fail("moved", "%s -> %s" % (first, sb))
                if a.interval:
                    await asyncio.sleep(a.interval)
        except Fail as f:
            st.est_fail(f.kind)
            print("established %s failed: %s %s" % (src, f.kind, f.detail),
                  file=sys.stderr, flush=True)
        finally:
            close(w)


async def one_new(a, st, src, events):
    t = time.time()
    ev = {"t": round(t, 3), "src": src, "ok": True, "kind": "", "served_by": ""}
    w = None
    try:
        r, w = await connect(a, src)
        sb, _ = await request(r, w, a, close=True)
        ev["served_by"] = sb
        st.new_ok += 1
        st.new_by_worker[sb] = st.new_by_worker.get(sb, 0) + 1
    except Fail as f:
        ev["ok"] = False
        ev["kind"] = f.kind
        st.new_failures[f.kind] = st.new_failures.get(f.kind, 0) + 1
        st.last_new_failure = t
        if st.first_new_failure is None:
            st.first_new_failure = t
    finally:
        if w:
            close(w)
    if events:
        events.write(json.dumps(ev) + "\n")
        events.flush()


async def newconns(a, st, srcs, stop, events):
    if a.new_rate <= 0:
        return
    tasks = set()
    k = random.randrange(len(srcs))
    gap = 1.0 / a.new_rate
    nxt = time.monotonic()
    while not stop.is_set():
        src = srcs[k % len(srcs)]
        k += 1
        t = asyncio.ensure_future(one_new(a, st, src, events))
        tasks.add(t)
        t.add_done_callback(tasks.discard)
        nxt += gap
        await asyncio.sleep(max(0.0, nxt - time.monotonic()))
    if tasks:
        await asyncio.wait(tasks, timeout=TIMEOUT * 3)


async def run(a):
    srcs = sources(a.sources)
    st = Stats()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, stop.set)
    events = open(a.events, "a") if a.events else None
    t0 = time.monotonic()
    tasks = [asyncio.ensure_future(
        keepalive(a, st, srcs[i % len(srcs)], stop, i)) for i in range(a.conns)]
    tasks.append(asyncio.ensure_future(newconns(a, st, srcs, stop, events)))
    if a.ready:
        open(a.ready, "w").close()
    try:
        await asyncio.wait_for(stop.wait(), a.duration)
    except asyncio.TimeoutError:
        stop.set()
    elapsed = time.monotonic() - t0
    await asyncio.wait(tasks, timeout=TIMEOUT * 3)
    out = {
        "seconds": round(elapsed, 2),
        "conns": a.conns,
        "requests": st.requests,
        "requests_per_s": round(st.requests / elapsed, 1) if elapsed else 0,
        "established_opened": st.est_opened,
        "established_failed": sum(st.est_failures.values()),
        "established_failures": st.est_failures,
        "established_by_worker": st.est_by_worker,
        "new_ok": st.new_ok,
        "new_failed": sum(st.new_failures.values()),
        "new_failures": st.new_failures,
        "new_by_worker": st.new_by_worker,
        "first_new_failure": st.first_new_failure,
        "last_new_failure": st.last_new_failure,
    }
    print(json.dumps(out), flush=True)


async def probe(a):
    """One request per source; prints "SRC SERVED_BY" (or "SRC fail:KIND")."""
    lo, hi = 0, 0
    if a.sport_range:
        lo, hi = (int(x) for x in a.sport_range.split("-"))
    sem = asyncio.Semaphore(a.parallel)

    async def one(src, n):
        async with sem:
            for attempt in range(20):  # a local port still in TIME_WAIT
                sport = lo + (n * 7 + attempt) % (hi - lo + 1) if hi else 0
                w = None
                try:
                    r, w = await connect(a, src, sport)
                    sb, _ = await request(r, w, a, close=True)
                    return "%s %s" % (src, sb)
                except Fail as f:
                    if f.kind == "connect" and "in use" in f.detail and hi:
                        continue
                    return "%s fail:%s:%s" % (src, f.kind, f.detail.replace(" ", "_"))
                finally:
                    if w:
                        close(w)
            return "%s fail:port" % src

    res = await asyncio.gather(*(one(s, n) for n, s in enumerate(sources(a.sources))))
    for line in res:
        print(line)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--vip", default="198.18.200.10")
    p.add_argument("--sni", default="sx.test")
    p.add_argument("--path", default="/")
    p.add_argument("--expect", default="Flask Application",
                   help="bytes every answer's body must contain ('' for none)")
    p.add_argument("--sources", default="198.18.1.1-198.18.1.100")
    p.add_argument("--conns", type=int, default=24)
    p.add_argument("--interval", type=float, default=0.1)
    p.add_argument("--new-rate", type=float, default=5.0)
    p.add_argument("--duration", type=float, default=120.0)
    p.add_argument("--events", default="")
    p.add_argument("--ready", default="", help="file created once running")
    p.add_argument("--probe", action="store_true")
    p.add_argument("--sport-range", default="")
    p.add_argument("--parallel", type=int, default=8)
    a = p.parse_args()
    a.ctx = tls_ctx()
    a.expect = a.expect.encode()
    asyncio.run(probe(a) if a.probe else run(a))


if __name__ == "__main__":
    main()
