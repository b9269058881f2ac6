"""Flask demo backend for lbtls.

/              <h1><center>This is Flask Application - Version N</center></h1>
               (N from the VERSION environment variable)
/healthz       200 "ok" (lbtls active health checks)
/echo-headers  the request headers as JSON (tests check X-Forwarded-*)
/slow?ms=N     answers after N milliseconds (tests hold requests upstream)

Run: VERSION=1 python3 docker/app/app.py --port 5000 [--host 0.0.0.0]
"""
import argparse
import os
import time

from flask import Flask, jsonify, request

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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args()
    # threaded=True makes werkzeug speak HTTP/1.1 with keep-alive.
    app.run(host=args.host, port=args.port, threaded=True)


if __name__ == "__main__":
    main()
