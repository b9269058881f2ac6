#!/usr/bin/env bash
# HTTP/2 to clients (issue 21) end to end with real clients: lbtls (workers
# 1 and 2) in front of the Flask backend docker/app/app.py, spoken to by
# openssl s_client (ALPN), curl --http2 (IPv4 and IPv6 loopback), nghttp
# and h2load, loopback only. Every answer is compared with the one the same
# request gets over HTTP/1.1.
#
# Usage: bash tests/tls/test_h2.sh BUILD_DIR
# Prints one line per check and ends with "N passed, N failed"; exits
# non-zero on any failure. Missing curl (with HTTP2), openssl, nghttp,
# h2load or python3-flask is a failure, never a skip.
# LBTLS_TEST_PORTS=LO-HI takes the loopback ports from that range
# (default: any free block below the ephemeral range). KEEP_TMP=1 keeps
# the logs and configurations of a failed run.
set -u
build=${1:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
lbtls=$root/$build/lbtls
[[ $build == /* ]] && lbtls=$build/lbtls
appdir=$root/docker/app
# Debian's python3-flask lives with /usr/bin/python3; PYTHON overrides.
python=${PYTHON:-/usr/bin/python3}

# shellcheck source=tests/tls/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tmp=$(mktemp -d /tmp/lbtls-h2.XXXXXX)
pids=()
master=
cleanup() {
	local p
	[ -z "$master" ] || stop_tree "$master"
	for p in "${pids[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	wait 2>/dev/null
	remove_tmp "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- prerequisites: fail, never skip --------------------------------------------
require_tools "nghttp2-client, curl, openssl" curl openssl nghttp h2load
require_flask "$python"
require_built "$lbtls" "$build"
if curl -V | grep -q '^Features:.* HTTP2'; then
	ok "prerequisite: curl speaks HTTP/2"
else
	bad "prerequisite: this curl has no HTTP2 feature"
	missing=1
fi
if ip -6 addr show dev lo 2>/dev/null | grep -q 'inet6 ::1/128'; then
	ok "prerequisite: IPv6 loopback ::1"
else
	bad "prerequisite: no ::1 on lo (IPv6 disabled?)"
	missing=1
fi
[ "$missing" -eq 0 ] || finish

# --- ports --------------------------------------------------------------------------
# port_free PORT: nothing bound to it, listening or connected, v4 or v6
port_free() { [ -z "$(ss -Htan "( sport = :$1 )" 2>/dev/null)" ]; }
find_ports_in() { # find_ports_in LO HI N: sets base
	local b o free
	for ((b = $1; b + $3 - 1 <= $2; b += $3)); do
		free=1
		for ((o = 0; o < $3; o++)); do
			port_free $((b + o)) || {
				free=0
				break
			}
		done
		if [ "$free" -eq 1 ]; then
			base=$b
			return 0
		fi
	done
	return 1
}
if [ -n "${LBTLS_TEST_PORTS:-}" ]; then
	find_ports_in "${LBTLS_TEST_PORTS%-*}" "${LBTLS_TEST_PORTS#*-}" 6
else
	find_ports 6
fi || {
	bad "no free block of loopback ports"
	finish
}
https=$base http=$((base + 1)) admin=$((base + 2)) be=$((base + 3))
dead=$((base + 4)) # nothing listens there

# --- the backend: docker/app/app.py, and three routes of this test's own ------
# /barrier?n=N answers once N requests wait in it at the same time (503
# after 20 s): N streams of one connection that all get 200 were all in
# flight upstream together. /hold?key=K waits until /release?key=K (60 s at
# most); /held?key=K counts the requests waiting there (asked of the backend
# directly): streams held in flight across a reload or a stop.
# /truncated?n=N announces 2N bytes and stops after N.
cat >"$tmp/h2_app.py" <<'EOF'
import sys
import threading

sys.path.insert(0, sys.argv[1])
from app import app  # noqa: E402  docker/app/app.py
from flask import Response, request  # noqa: E402

lock = threading.Lock()
barriers, events, held = {}, {}, {}


@app.route("/barrier")
def barrier():
    n = int(request.args.get("n", "2"))
    with lock:
        b = barriers.setdefault(n, threading.Barrier(n, timeout=20))
    try:
        b.wait()
    except threading.BrokenBarrierError:
        with lock:
            if barriers.get(n) is b:
                del barriers[n]
        return "barrier broken\n", 503
    return "together\n"


def event(key):
    with lock:
        return events.setdefault(key, threading.Event())


@app.route("/hold")
def hold():
    key = request.args.get("key", "")
    with lock:
        held[key] = held.get(key, 0) + 1
    released = event(key).wait(60)
    with lock:
        held[key] -= 1
    return ("released %s\n" % key, 200) if released else ("never released\n", 504)


@app.route("/release")
def release():
    event(request.args.get("key", "")).set()
    return "ok\n"


@app.route("/truncated")
def truncated():
    # announces 2n bytes, sends n, then the backend drops the connection
    n = int(request.args.get("n", "100000"))

    def body():
        yield b"t" * n
        raise ConnectionAbortedError("test_h2.sh: cut mid-body")
    return Response(body(), headers={"Content-Length": str(2 * n)})


@app.route("/held")
def held_count():
    with lock:
        return "%d\n" % held.get(request.args.get("key", ""), 0)


app.run(host="127.0.0.1", port=int(sys.argv[2]), threaded=True)
EOF
backend=
start_backend() {
	"$python" -B "$tmp/h2_app.py" "$appdir" "$be" >>"$tmp/app.log" 2>&1 &  # -B: no __pycache__ left in docker/app
	backend=$!
	pids+=("$backend")
}
start_backend
check "Flask backend (docker/app/app.py) answers /healthz" \
	wait_http "http://127.0.0.1:$be/healthz"

# --- certificate, configuration, lbtls --------------------------------------------
mkcert "$tmp/cert"
echo '<html><body>lbtls h2 test error page</body></html>' >"$tmp/50x.html"
# write_conf WORKERS [EXTRA [UPSTREAM_EXTRA [SERVER]]]: the test's lbtls.yaml
# (limits.body: $body_limit, 64m unless set)
write_conf() {
	cat >"$tmp/lbtls.yaml" <<EOF
workers: $1
listen:
  https: ["127.0.0.1:$https", "[::1]:$https"]
  http: 127.0.0.1:$http
tls:
  certificates:
    - fullchain: $tmp/cert/fullchain.pem
      privkey: $tmp/cert/privkey.pem
upstream:
  servers: ["${4:-127.0.0.1:$be}"]
  health: {path: /healthz, interval: 300ms, rise: 1, fall: 1, timeout: 1s}
  connect_timeout: 1s
  ${3:-}
limits:
  body: ${body_limit:-64m}
error_page: $tmp/50x.html
log:
  access: $tmp/access.log
  error: $tmp/error.log
  level: info
metrics: 127.0.0.1:$admin
x_served_by: true
shutdown_timeout: 20s
${2:-}
EOF
}
workers() { ps -o pid= --ppid "$master" 2>/dev/null | tr -d ' ' | sort; }
start_lbtls() { # start_lbtls WORKERS
	"$lbtls" -c "$tmp/lbtls.yaml" >>"$tmp/lbtls.out" 2>&1 &
	master=$!
	wait_http "https://127.0.0.1:$https/healthz" 15 &&
		for _ in $(seq 1 50); do
			[ "$(workers | wc -l)" -eq "$1" ] && return 0
			sleep 0.1
		done
	return 1
}
stop_lbtls() {
	stop_tree "$master"
	master=
}
reload() { # SIGHUP, then a bounded wait until every worker is a new one
	local before
	before=$(workers)
	kill -HUP "$master"
	for _ in $(seq 1 100); do
		[ -n "$(workers)" ] &&
			[ -z "$(comm -12 <(echo "$before") <(workers))" ] && break
		sleep 0.1
	done
	wait_http "https://127.0.0.1:$https/healthz"
}
metric() { # metric NAME: its value in /metrics (0 when absent)
	local v
	v=$(curl -s -m 5 "http://127.0.0.1:$admin/metrics" | sed -n "s/^$1 //p")
	echo "${v:-0}"
}
# metric_reaches NAME VALUE: a bounded wait (3 s) for the counter to be
# VALUE at least (workers publish their counters as they go)
metric_reaches() {
	for _ in $(seq 1 30); do
		[ "$(metric "$1")" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
alpn() { # alpn PROTOCOLS: the protocol the server chose, or "none"
	local out
	out=$(timeout 10 openssl s_client -connect "127.0.0.1:$https" -alpn "$1" \
		</dev/null 2>/dev/null | tr -d '\0')
	if grep -q "^ALPN protocol: " <<<"$out"; then
		sed -n 's/^ALPN protocol: //p' <<<"$out"
	else
		echo none
	fi
}
url() { # url FAMILY PATH
	if [ "$1" = 6 ]; then echo "https://[::1]:$https$2"; else echo "https://127.0.0.1:$https$2"; fi
}
# h2curl ARGS...: curl --http2, the protocol of each answer (2, or 1.1 when
# lbtls did not offer h2) written to $tmp/ver; h2ok COMMAND... is true when
# the last h2curl's answers were all HTTP/2 and COMMAND is.
h2curl() { curl -sk -g -m 60 --http2 -w '%{stderr}%{http_version}\n' "$@" 2>"$tmp/ver"; }
h2ok() { [ "$(sort -u "$tmp/ver" 2>/dev/null)" = 2 ] && "$@"; }
sha_of() { sha256sum "$1" | cut -c1-64; }
# header FILE NAME: a response header's value from a curl -D dump
header() { tr -d '\r' <"$1" | sed -n "s/^$2: //Ip" | tail -1; }

write_conf 1
out=$("$lbtls" -t -c "$tmp/lbtls.yaml" 2>&1)
check "lbtls -t accepts the test's configuration" grep -q "test is successful" <<<"$out"

# --- HTTP/2 and HTTP/1.1 side by side, with 1 and then 2 workers ---------------------
head -c 1500000 /dev/urandom >"$tmp/body.bin"
body_sha=$(sha_of "$tmp/body.bin")

# same_answer FAMILY PATH: status and body over HTTP/2 and HTTP/1.1 alike
same_answer() {
	local u a b
	u=$(url "$1" "$2")
	a=$(curl -sk -g -m 20 --http1.1 -o "$tmp/a1" -w '%{http_code} %{http_version}' "$u")
	b=$(curl -sk -g -m 20 --http2 -o "$tmp/a2" -w '%{http_code} %{http_version}' "$u")
	if [ "${a% *}" = "${b% *}" ] && [ "${a#* }" = 1.1 ] && [ "${b#* }" = 2 ] &&
		cmp -s "$tmp/a1" "$tmp/a2"; then
		ok "w$w v$1 $2: same answer over HTTP/2 and HTTP/1.1 ($a / $b)"
	else
		bad "w$w v$1 $2: HTTP/1.1 got '$a', HTTP/2 got '$b', bodies $(cmp -s "$tmp/a1" "$tmp/a2" && echo equal || echo differ)"
	fi
}

# bodies MODE: request bodies of 1.5 MB over HTTP/2 reach Flask whole
bodies() {
	local out
	out=$(nghttp -y -d "$tmp/body.bin" "$(url 4 /sha256)" 2>&1)
	check "w$w buffering $1: nghttp -d (POST, content-length): Flask's sha256 of the body matches" \
		test "$out" = "$body_sha"
	out=$(h2curl -D "$tmp/hd" -T "$tmp/body.bin" -H 'Transfer-Encoding: chunked' \
		"$(url 4 /sha256)")
	check "w$w buffering $1: curl -T, no content-length (PUT): sha256 matches, $(header "$tmp/hd" x-body-length) bytes" \
		h2ok bash -c '[ "$1" = "$2" ] && [ "$3" = 1500000 ]' _ "$out" "$body_sha" \
		"$(header "$tmp/hd" x-body-length)"
	out=$(h2curl -H 'Transfer-Encoding: chunked' --data-binary @"$tmp/body.bin" \
		"$(url 6 /echo-headers)")
	check "w$w buffering $1: POST without content-length over IPv6: body_length 1500000" \
		h2ok grep -q '"body_length":1500000' <<<"$out"
	out=$(h2curl --data-binary @"$tmp/body.bin" "$(url 4 /echo-headers)")
	check "w$w buffering $1: POST with content-length: body_length 1500000, Content-Length upstream" \
		h2ok bash -c 'grep -q "\"body_length\":1500000" <<<"$1" &&
			grep -q "\"Content-Length\":\"1500000\"" <<<"$1"' _ "$out"
}

for w in 1 2; do
	write_conf "$w"
	check "w$w: lbtls starts with $w worker(s)" start_lbtls "$w"

	# ALPN: h2 first, the server's preference over the client's order
	check "w$w ALPN h2,http/1.1 -> h2" test "$(alpn h2,http/1.1)" = h2
	check "w$w ALPN http/1.1 -> http/1.1" test "$(alpn http/1.1)" = http/1.1
	check "w$w ALPN http/1.1,h2 -> h2 (the server's preference)" \
		test "$(alpn http/1.1,h2)" = h2

	for fam in 4 6; do
		for p in / /healthz '/echo-headers?q=1&r=two' /no-such-page \
			'/bytes?n=300000' '/bytes?n=300000&chunked=1'; do
			same_answer "$fam" "$p"
		done
	done
	h2curl -D "$tmp/hd" -o "$tmp/chunked.bin" "$(url 4 '/bytes?n=1000000&chunked=1')"
	check "w$w: a chunked upstream answer arrives as DATA, whole (sha256 as Flask's)" \
		h2ok bash -c '[ "$(stat -c %s "$1")" = 1000000 ] && [ "$(sha256sum "$1" | cut -c1-64)" = "$2" ]' \
		_ "$tmp/chunked.bin" "$(header "$tmp/hd" x-content-sha256)"

	# the headers Flask sees from an HTTP/2 client
	json=$(h2curl -H 'X-Forwarded-For: 203.0.113.7' -H 'X-Real-IP: 6.6.6.6' \
		-H 'Host: app.example' "$(url 4 /echo-headers)")
	check "w$w h2: X-Forwarded-For appended" \
		h2ok grep -q '"X-Forwarded-For":"203.0.113.7, 127.0.0.1"' <<<"$json"
	check "w$w h2: X-Real-IP is the client's" h2ok grep -q '"X-Real-Ip":"127.0.0.1"' <<<"$json"
	check "w$w h2: X-Forwarded-Proto https" \
		h2ok grep -q '"X-Forwarded-Proto":"https"' <<<"$json"
	check "w$w h2: Host from :authority" h2ok grep -q '"Host":"app.example"' <<<"$json"
	json=$(h2curl "$(url 6 /echo-headers)")
	check "w$w h2 over IPv6: X-Real-IP ::1, X-Forwarded-For ::1, Host [::1]:port" \
		h2ok bash -c 'grep -q "\"X-Real-Ip\":\"::1\"" <<<"$1" &&
			grep -q "\"X-Forwarded-For\":\"::1\"" <<<"$1" &&
			grep -q "\"Host\":\"\[::1\]:$2\"" <<<"$1"' _ "$json" "$https"
	json=$(h2curl -H 'Cookie: a=1' -H 'Cookie: b=2' "$(url 4 /echo-headers)")
	check "w$w h2: two cookie fields (curl) joined with '; '" \
		h2ok grep -q '"Cookie":"a=1; b=2"' <<<"$json"
	json=$(nghttp -y -H 'cookie: a=1' -H 'cookie: b=2' -H 'cookie: c=3' \
		"$(url 4 /echo-headers)" 2>&1)
	check "w$w h2: three cookie fields (nghttp) joined with '; '" \
		grep -q '"Cookie":"a=1; b=2; c=3"' <<<"$json"

	# 100 streams at once on one connection, all in flight upstream together
	c0=$(metric lbtls_http2_connections_total)
	s0=$(metric lbtls_http2_streams_total)
	nghttp -y -n -s -m 100 "$(url 4 '/barrier?n=100')" >"$tmp/ng100" 2>&1
	n200=$(awk '$5 == 200 && $7 ~ /barrier/' "$tmp/ng100" | wc -l)
	check "w$w nghttp: 100 concurrent streams on one connection, $n200 answered 200 (together upstream)" \
		test "$n200" -eq 100
	metric_reaches lbtls_http2_streams_total $((s0 + 100))
	c1=$(metric lbtls_http2_connections_total)
	s1=$(metric lbtls_http2_streams_total)
	check "w$w /metrics: that was 1 HTTP/2 connection ($c0 -> $c1) and 100 streams ($s0 -> $s1)" \
		bash -c "[ $((c1 - c0)) -eq 1 ] && [ $((s1 - s0)) -eq 100 ]"
	curl -sk --http1.1 -o /dev/null "$(url 4 /healthz)"
	h2curl -o /dev/null -o /dev/null -o /dev/null "$(url 4 /healthz)" \
		"$(url 4 /)" "$(url 4 /healthz)"
	metric_reaches lbtls_http2_streams_total $((s1 + 3))
	c2=$(metric lbtls_http2_connections_total)
	s2=$(metric lbtls_http2_streams_total)
	check "w$w /metrics: curl's 3 requests on one h2 connection (+$((c2 - c1)) conn, +$((s2 - s1)) streams), an HTTP/1.1 one not counted" \
		bash -c "[ $((c2 - c1)) -eq 1 ] && [ $((s2 - s1)) -eq 3 ]"

	# the access log: protocol HTTP/2.0 and the stream id
	h2curl -o /dev/null "$(url 4 "/healthz?log=h2-w$w")"
	curl -sk --http1.1 -o /dev/null "$(url 4 "/healthz?log=h1-w$w")"
	for _ in $(seq 1 30); do
		grep -q "log=h1-w$w" "$tmp/access.log" 2>/dev/null && break
		sleep 0.1
	done
	check "w$w access log: h2 request as \"HTTP/2.0\" with stream=1 at the end" \
		grep -Eq "^127\.0\.0\.1 - - \[[^]]+\] \"GET /healthz\?log=h2-w$w HTTP/2\.0\" 200 [0-9]+ \"-\" \"curl/[^\"]*\" 127\.0\.0\.1:$be [0-9]+\.[0-9]{3} - stream=1$" \
		"$tmp/access.log"
	check "w$w access log: an HTTP/1.1 request has no stream=" \
		grep -Eq "\"GET /healthz\?log=h1-w$w HTTP/1\.1\" 200 .* -$" "$tmp/access.log"

	bodies on

	# h2load: keep-alive streams, 10 per connection
	h2load -n 2000 -c 4 -m 10 "$(url 4 /healthz)" >"$tmp/h2load.out" 2>&1
	res=$(grep -E '^requests:' "$tmp/h2load.out")
	check "w$w h2load -n 2000 -c 4 -m 10 over h2: ${res:-no result}" \
		bash -c 'grep -q "^Application protocol: h2" "$1" &&
			grep -q "^requests: 2000 total, 2000 started, 2000 done, 2000 succeeded, 0 failed, 0 errored, 0 timeout" "$1" &&
			grep -q "^status codes: 2000 2xx" "$1"' _ "$tmp/h2load.out"

	# the same bodies streamed (no request buffering)
	write_conf "$w" "" "request_buffering: off"
	reload
	bodies off
	stop_lbtls
done

# --- 50 MB each way, sha256 on both ends ----------------------------------------------
w=2
write_conf 2
check "lbtls starts again with 2 workers" start_lbtls 2
big=52428800
h2curl -D "$tmp/hd" -o "$tmp/down.bin" "$(url 4 "/bytes?n=$big")"
want=$("$python" -B - "$appdir" "$big" <<'EOF'
import hashlib, sys
sys.path.insert(0, sys.argv[1])
import app  # docker/app/app.py: its pattern, hashed here as the client would
d = hashlib.sha256()
for piece in app.bytes_chunks(int(sys.argv[2])):
    d.update(piece)
print(d.hexdigest())
EOF
)
got=$(sha_of "$tmp/down.bin")
check "50 MB download over h2: $(stat -c %s "$tmp/down.bin") bytes, sha256 as Flask sent (X-Content-Sha256) and as expected" \
	h2ok bash -c '[ "$(stat -c %s "$1")" = "$2" ] && [ "$3" = "$4" ] && [ "$3" = "$5" ]' \
	_ "$tmp/down.bin" "$big" "$got" "$(header "$tmp/hd" x-content-sha256)" "$want"
h2curl -o "$tmp/down.bin" "$(url 6 "/bytes?n=$big&chunked=1")"
check "50 MB chunked download over h2 (IPv6): sha256 as expected" \
	h2ok test "$(sha_of "$tmp/down.bin")" = "$want"
rm -f "$tmp/down.bin"
head -c "$big" /dev/urandom >"$tmp/up.bin"
up_sha=$(sha_of "$tmp/up.bin")
out=$(h2curl -D "$tmp/hd" --data-binary @"$tmp/up.bin" "$(url 4 /sha256)")
check "50 MB upload over h2 (content-length, buffered): Flask got $(header "$tmp/hd" x-body-length) bytes, sha256 matches" \
	h2ok bash -c '[ "$1" = "$2" ] && [ "$3" = "$4" ]' _ "$out" "$up_sha" \
	"$(header "$tmp/hd" x-body-length)" "$big"
write_conf 2 "" "request_buffering: off"
reload
out=$(h2curl -D "$tmp/hd" -T - "$(url 4 /sha256)" <"$tmp/up.bin")
check "50 MB upload over h2 (no content-length, streamed): Flask got $(header "$tmp/hd" x-body-length) bytes, sha256 matches" \
	h2ok bash -c '[ "$1" = "$2" ] && [ "$3" = "$4" ]' _ "$out" "$up_sha" \
	"$(header "$tmp/hd" x-body-length)" "$big"
rm -f "$tmp/up.bin"

# --- http2: off -----------------------------------------------------------------------
write_conf 2 "http2: off"
reload
c0=$(metric lbtls_http2_connections_total)
check "http2: off: ALPN h2,http/1.1 -> http/1.1" test "$(alpn h2,http/1.1)" = http/1.1
check "http2: off: ALPN h2 alone -> none offered" test "$(alpn h2)" = none
out=$(h2curl -o /dev/null -w '%{http_code} %{http_version}' "$(url 4 /healthz)")
check "http2: off: curl --http2 served over HTTP/1.1 ($out)" test "$out" = "200 1.1"
check "http2: off: no HTTP/2 connection counted" \
	test "$(metric lbtls_http2_connections_total)" = "$c0"
write_conf 2 "http2: on"
reload
check "http2: on again: ALPN h2,http/1.1 -> h2" test "$(alpn h2,http/1.1)" = h2

# --- a body over limits.body: 413, as over HTTP/1.1 ---------------------------------------
# lbtls answers on the head (content-length over the limit) while the
# client is still sending: the client must get the whole 413 (RFC 9113
# 8.1: a complete response, then RST_STREAM(NO_ERROR)), with Debian's curl
# as with nghttp.
body_limit=1m write_conf 2
reload
head -c 2100000 /dev/zero >"$tmp/over.bin"
out=$(curl -sk --http1.1 -o /dev/null -w '%{http_code} %{http_version}' \
	--data-binary @"$tmp/over.bin" "$(url 4 /echo-headers)")
check "body over limits.body over HTTP/1.1: 413 ($out)" test "$out" = "413 1.1"
lines=$(wc -l <"$tmp/access.log")
out=$(h2curl -o /dev/null -w '%{http_code} %{http_version}' \
	--data-binary @"$tmp/over.bin" "$(url 4 "/echo-headers?over=h2")")
rc=$?
check "body over limits.body, curl --http2: 413 and curl exits 0 ($out, exit $rc)" \
	test "$out $rc" = "413 2 0"
out=$(nghttp -y -v -d "$tmp/over.bin" "$(url 4 /echo-headers)" 2>&1 |
	sed -n 's/.*recv (stream_id=[0-9]*) :status: //p')
check "body over limits.body, nghttp -d: 413 (${out:-none})" test "$out" = 413
for _ in $(seq 1 30); do
	[ "$(wc -l <"$tmp/access.log")" -gt "$lines" ] && break
	sleep 0.1
done
got=$(sed -n "$((lines + 1))p" "$tmp/access.log")
# (a head rejected on its content-length is logged without its request
# line over HTTP/1.1 too: only the status and the stream are asserted)
check "413 over h2 logged with its stream id ($got)" \
	grep -Eq '" 413 [0-9]+ .* stream=1$' <<<"$got"
rm -f "$tmp/over.bin"
write_conf 2
reload

# --- upstream errors reach an h2 client as statuses -------------------------------------
# A backend that drops its connection mid-body: the h2 stream must end in
# an error (RST_STREAM), never as a clean shorter answer, and the other
# streams of the connection go on.
out=$(curl -sk --http1.1 -o /dev/null -w '%{http_code} %{size_download}' "$(url 4 '/truncated?n=100000')")
rc=$?
check "upstream cut mid-body over HTTP/1.1: curl sees it (exit $rc, $out)" \
	bash -c "[ $rc -ne 0 ] && [ '$out' = '200 100000' ]"
out=$(h2curl -o /dev/null -w '%{http_code} %{http_version} %{size_download}' \
	"$(url 4 '/truncated?n=100000')")
rc=$?
check "upstream cut mid-body over h2: curl sees an error, not a complete answer (exit $rc, $out)" \
	bash -c "[ $rc -ne 0 ] && [[ '$out' == '200 2 '* ]] && [ '${out##* }' -lt 200000 ]"
nghttp -y -v "$(url 4 '/truncated?n=100000')" "$(url 4 /healthz)" >"$tmp/ngcut" 2>&1
cut_id=$(grep -B8 ':path: /truncated' "$tmp/ngcut" | sed -n 's/.*send HEADERS frame .*stream_id=\([0-9]*\)>.*/\1/p' | tail -1)
ok_id=$(grep -B8 ':path: /healthz' "$tmp/ngcut" | sed -n 's/.*send HEADERS frame .*stream_id=\([0-9]*\)>.*/\1/p' | tail -1)
check "upstream cut mid-body, nghttp: its stream ($cut_id) reset, /healthz ($ok_id) on the same connection 200" \
	bash -c "[ -n '$cut_id' ] && [ -n '$ok_id' ] &&
		grep -q 'recv RST_STREAM frame <length=4, flags=0x00, stream_id=$cut_id>' '$tmp/ngcut' &&
		! grep -A1 'recv DATA frame.*stream_id=$cut_id>' '$tmp/ngcut' | grep -q END_STREAM &&
		grep -q 'recv (stream_id=$ok_id) :status: 200' '$tmp/ngcut'"
kill -TERM "$backend"
wait "$backend" 2>/dev/null
out=$(h2curl -o "$tmp/e1" -o "$tmp/e2" -w '%{http_code} %{http_version} %{num_connects}\n' \
	"$(url 4 /)" "$(url 4 /echo-headers)" | tr '\n' ' ')
check "backend stopped: two streams on one h2 connection answered 502 ($out)" \
	test "$out" = "502 2 1 502 2 0 "
check "backend stopped: the 502 carries the error page" \
	grep -q "lbtls h2 test error page" "$tmp/e1"
for _ in $(seq 1 50); do # bounded (5 s): every worker's health check marks it down
	curl -s -m 5 "http://127.0.0.1:$admin/metrics" |
		grep -q "^lbtls_upstream_up{server=\"127.0.0.1:$be\".*} 1$" || break
	sleep 0.1
done
lines=$(wc -l <"$tmp/access.log")
out=$(h2curl -o /dev/null -w '%{http_code} %{http_version}' "$(url 4 /?down)")
for _ in $(seq 1 30); do
	[ "$(wc -l <"$tmp/access.log")" -gt "$lines" ] && break
	sleep 0.1
done
got=$(tail -n 1 "$tmp/access.log")
check "no live upstream (marked down): 502 over h2 ($out)" test "$out" = "502 2"
check "no live upstream: logged as \"GET /?down HTTP/2.0\" 502 ... no_live_upstream stream=1 ($got)" \
	grep -Eq '"GET /\?down HTTP/2\.0" 502 .* "curl/[^"]*" .* no_live_upstream stream=1$' <<<"$got"
write_conf 2 "" "" "127.0.0.1:$dead"
reload
out=$(h2curl -o /dev/null -w '%{http_code} %{http_version}' "$(url 6 /)")
check "only a server where nothing listens: 502 over h2 on IPv6 ($out)" \
	test "$out" = "502 2"
start_backend
wait_http "http://127.0.0.1:$be/healthz"
write_conf 2
reload
back=
for _ in $(seq 1 50); do
	back=$(h2curl -o /dev/null -w '%{http_code} %{http_version}' "$(url 4 /)")
	[ "$back" = "200 2" ] && break
	sleep 0.2
done
check "backend back: 200 over h2 again ($back)" test "$back" = "200 2"

# --- graceful reload and stop with streams in flight -----------------------------------------
# in_flight SIGNAL KEY: nghttp opens 5 streams that wait in the backend
# (/hold); once all 5 are there, SIGNAL goes to the master; the client must
# see a GOAWAY (NO_ERROR) while they are still in flight, then (released)
# every stream ends with its 200 and its body ("released KEY", printed
# among nghttp's frames), no RST_STREAM, and nghttp exits 0.
in_flight() {
	local sig=$1 key=$2 n goaway=0 rc
	nghttp -y -v -m 5 "$(url 4 "/hold?key=$key")" >"$tmp/ng-$key" 2>&1 &
	local ng=$!
	for _ in $(seq 1 100); do
		n=$(curl -s -m 2 "http://127.0.0.1:$be/held?key=$key")
		[ "$n" = 5 ] && break
		sleep 0.1
	done
	check "$sig: 5 h2 streams in flight upstream before the signal ($n)" test "$n" = 5
	kill "-$sig" "$master"
	for _ in $(seq 1 100); do
		if grep -q "recv GOAWAY" "$tmp/ng-$key"; then
			goaway=1
			break
		fi
		sleep 0.1
	done
	check "$sig: the client sees a GOAWAY while its streams are in flight" \
		test "$goaway" -eq 1
	curl -s -m 2 -o /dev/null "http://127.0.0.1:$be/release?key=$key"
	wait "$ng"
	rc=$?
	n=$(grep -c 'recv (stream_id=[0-9]*) :status: 200' "$tmp/ng-$key")
	check "$sig: the 5 in-flight streams complete with 200 ($n), nghttp exits 0 ($rc)" \
		bash -c "[ $n -eq 5 ] && [ $rc -eq 0 ] &&
			[ \$(grep -c 'released $key' '$tmp/ng-$key') -eq 5 ]"
	check "$sig: every GOAWAY says NO_ERROR, no stream reset" \
		bash -c 'grep -q "recv GOAWAY" "$1" &&
			! grep -A1 "recv GOAWAY" "$1" | grep "error_code=" | grep -qv "NO_ERROR" &&
			! grep -q "recv RST_STREAM" "$1"' _ "$tmp/ng-$key"
}
old=$(workers)
in_flight HUP reload1
check "HUP: the new generation serves h2" \
	bash -c "[ \"\$(curl -sk --http2 -o /dev/null -w '%{http_code} %{http_version}' https://127.0.0.1:$https/)\" = '200 2' ]"
for _ in $(seq 1 100); do # the old generation drains and exits
	[ -z "$(comm -12 <(echo "$old") <(workers))" ] && break
	sleep 0.1
done
check "HUP: the old workers have exited" test -z "$(comm -12 <(echo "$old") <(workers))"
for sig in TERM QUIT; do
	in_flight "$sig" "stop-$sig"
	stopped=0
	for _ in $(seq 1 100); do
		if ! kill -0 "$master" 2>/dev/null; then
			stopped=1
			break
		fi
		sleep 0.1
	done
	check "$sig: lbtls exits once its streams are done" test "$stopped" -eq 1
	[ "$stopped" -eq 1 ] && master=
	[ "$sig" = QUIT ] || check "lbtls starts again" start_lbtls 2
done

finish
