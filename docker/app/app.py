"""Flask demo backend for lbtls.

/              <h1><center>This is Flask Application - Version N</center></h1>
               (N from the VERSION environment variable)
/healthz       200 "ok" (lbtls active health checks)
/echo-headers  the request headers as JSON (tests check X-Forwarded-*)
/slow?ms=N     answers after N milliseconds (tests hold requests upstream)
/bytes?n=N     N deterministic bytes, streamed (tests check big answers)
/sha256        the SHA-256 (hex) of the request body (tests check big bodies)

Run: VERSION=1 python3 docker/app/app.py --port 5000 [--host 0.0.0.0]
"""
import argparse
import hashlib
import os
import random
import time

from flask import Flask, Response, jsonify, request

app = Flask(__name__)


@app.route("/")
def index():
    version = os.environ.get("VERSION", "1")
    return f"<h1><center>This is Flask Application - Version {version}</center></h1>"


@app.route("/healthz")
def healthz():
    return "ok", 200, {"Content-Type": "text/plain"}


@app.route("/echo-headers", methods=["GET", "POST", "PUT"])
def echo_headers():
    body = request.get_data()
    return jsonify(
        {
            "headers": dict(request.headers),
            "method": request.method,
            "path": request.full_path,
            "body_length": len(body),
            "version": os.environ.get("VERSION", "1"),
        }
    )


# /slow?ms=N: "slept N ms" after N milliseconds (0..60000, default 1000), so
# that a test can keep requests in flight upstream (HTTP/2 clients that reset
# them; werkzeug logs each when it answers).
@app.route("/slow")
def slow():
    ms = request.args.get("ms", "1000")
    if not ms.isdigit() or int(ms) > 60000:
        return "ms: 0..60000\n", 400, {"Content-Type": "text/plain"}
    time.sleep(int(ms) / 1000)
    return "slept %s ms\n" % ms, 200, {"Content-Type": "text/plain"}


# /bytes?n=N: N bytes, byte k being BYTES_BLOCK[k % len(BYTES_BLOCK)], made
# as they are sent (a 1 GiB answer takes no memory). The block's length is
# prime, so bytes sent out of order or twice change the digest. Its
# SHA-256 is in X-Content-Sha256 for the client to compare with what it
# got; ?chunked=1 leaves out Content-Length (a chunked answer upstream).
BYTES_BLOCK = random.Random(21).randbytes(65521)
BYTES_MAX = 1 << 30


def bytes_chunks(n):
    off = 0
    while off < n:
        start = off % len(BYTES_BLOCK)
        piece = BYTES_BLOCK[start:start + min(n - off, len(BYTES_BLOCK) - start)]
        off += len(piece)
        yield piece


@app.route("/bytes")
def bytes_():
    n = request.args.get("n", "0")
    if not n.isdigit() or int(n) > BYTES_MAX:
        return "n: 0..%d\n" % BYTES_MAX, 400, {"Content-Type": "text/plain"}
    n = int(n)
    digest = hashlib.sha256()
    for piece in bytes_chunks(n):
        digest.update(piece)
    headers = {"X-Content-Sha256": digest.hexdigest()}
    if request.args.get("chunked") != "1":
        headers["Content-Length"] = str(n)
    return Response(bytes_chunks(n), mimetype="application/octet-stream",
                    headers=headers)


# /sha256: the request body's SHA-256 in hex, read as it comes (a 1 GiB
# upload takes no memory); its length in X-Body-Length.
@app.route("/sha256", methods=["POST", "PUT"])
def sha256():
    digest, length = hashlib.sha256(), 0
    while True:
        piece = request.stream.read(65536)
        if not piece:
            break
        digest.update(piece)
        length += len(piece)
    return digest.hexdigest() + "\n", 200, {"Content-Type": "text/plain",
                                            "X-Body-Length": str(length)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args()
    # threaded=True makes werkzeug speak HTTP/1.1 with keep-alive.
    app.run(host=args.host, port=args.port, threaded=True)


if __name__ == "__main__":
    main()
