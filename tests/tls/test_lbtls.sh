#!/usr/bin/env bash
# lbtls end to end: three real Flask backends (docker/app/app.py), lbtls with
# two workers, real curl and openssl s_client, loopback only.
#
# Usage: bash tests/tls/test_lbtls.sh BUILD_DIR
# Prints one line per check and ends with "N passed, N failed"; exits
# non-zero on any failure. Missing curl, openssl or python3-flask is a
# failure, never a skip.
set -u
build=${1:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
lbtls=$root/$build/lbtls
[[ $build == /* ]] && lbtls=$build/lbtls
app=$root/docker/app/app.py
# Debian's python3-flask lives with /usr/bin/python3; PYTHON overrides.
python=${PYTHON:-/usr/bin/python3}

# shellcheck source=tests/tls/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# This file is about HTTP/1.x (header case, chunked framing, Connection,
# the access-log line); curl would pick h2, which tests/tls/test_h2.sh
# covers. A later --http1.0 wins over this.
curl() { command curl --http1.1 "$@"; }

tmp=$(mktemp -d /tmp/lbtls-test.XXXXXX)
pids=()
master=
cleanup() {
	local p
	if [ -n "$master" ]; then
		kill -TERM "$master" 2>/dev/null
		for _ in $(seq 1 30); do
			kill -0 "$master" 2>/dev/null || break
			sleep 0.1
		done
		for p in $(ps -o pid= --ppid "$master" 2>/dev/null); do
			kill -KILL "$p" 2>/dev/null
		done
		kill -KILL "$master" 2>/dev/null
	fi
	for p in "${pids[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	wait 2>/dev/null
	if [ "${KEEP_TMP:-0}" = 1 ] && [ "$failed" -gt 0 ]; then
		echo "kept $tmp"
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
# KEEP_TMP=1 keeps logs and configs of a failed run for a look.
trap 'exit 130' INT TERM

# --- prerequisites: fail, never skip --------------------------------------
require_tools "" curl openssl
require_flask "$python"
require_built "$lbtls" "$build"
[ "$missing" -eq 0 ] || finish

# --- ports: nine free loopback ports in a row --------------------------------
find_ports 9 || {
	bad "no free block of loopback ports"
	finish
}
https=$base http=$((base + 1)) admin=$((base + 2))
be=($((base + 3)) $((base + 4)) $((base + 5)))
stream=$((base + 8)) # the streaming Flask backend (HTTP/1.0, slow client)

# raw PART1 [PART2]: one TLS connection; sends PART1 (backslash escapes as
# in printf), and with PART2 waits for a response head (an interim one)
# before sending PART2; prints all it received until the server closed.
cat >"$tmp/raw.py" <<'EOF'
import socket, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
esc = lambda a: a.encode().decode("unicode_escape").encode("latin-1")
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))))
s.settimeout(10)  # a guard against hanging, not a measurement
got = b""
try:
    s.sendall(esc(sys.argv[2]))
    if len(sys.argv) > 3:
        while b"\r\n\r\n" not in got:
            d = s.recv(65536)
            if not d:
                break
            got += d
        s.sendall(esc(sys.argv[3]))
    while True:
        d = s.recv(65536)
        if not d:
            break
        got += d
except (OSError, ssl.SSLError) as e:
    got += b"\n[raw.py: %s]" % str(e).encode()
sys.stdout.buffer.write(got)
EOF
raw() { "$python" "$tmp/raw.py" "$https" "$@"; }
first_line() { head -1 <<<"$1" | tr -d '\r'; }

# --- certificates -------------------------------------------------------------
fingerprint() {
	openssl x509 -noout -fingerprint -sha256 | sed 's/.*=//'
}
live=$tmp/live/example
mkcert "$tmp/cert1" && mkcert "$tmp/cert2"
mkdir -p "$live"
cp "$tmp/cert1/"*.pem "$live/"
check "self-signed ECDSA certificate made with openssl" \
	test -s "$live/fullchain.pem"
# SNI: rsa.example has an RSA and an ECDSA certificate, the client's
# signature algorithms choose; other names get the first certificate.
mkdir -p "$tmp/rsa" "$tmp/ecrsa"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/rsa/privkey.pem" \
	-out "$tmp/rsa/fullchain.pem" -days 2 -subj /CN=rsa.example \
	-addext subjectAltName=DNS:rsa.example 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-keyout "$tmp/ecrsa/privkey.pem" -out "$tmp/ecrsa/fullchain.pem" -days 2 \
	-subj /CN=rsa.example -addext subjectAltName=DNS:rsa.example 2>/dev/null
fp_rsa=$(fingerprint <"$tmp/rsa/fullchain.pem")
fp_ecrsa=$(fingerprint <"$tmp/ecrsa/fullchain.pem")
fp1=$(fingerprint <"$tmp/cert1/fullchain.pem")
fp2=$(fingerprint <"$tmp/cert2/fullchain.pem")
openssl rand 80 >"$tmp/ticket.key"

mkdir -p "$tmp/acme/.well-known/acme-challenge"
echo "token-content-42" >"$tmp/acme/.well-known/acme-challenge/tok_en-42"
echo "secret" >"$tmp/secret.txt"
ln -s "$tmp/secret.txt" "$tmp/acme/.well-known/acme-challenge/link"

# write_conf FILE UPSTREAM_BLOCK [EXTRA]: the test's lbtls.yaml
write_conf() {
	cat >"$1" <<EOF
workers: 2
listen:
  https: 127.0.0.1:$https
  http: 127.0.0.1:$http
tls:
  certificates:
    - fullchain: $live/fullchain.pem
      privkey: $live/privkey.pem
    - fullchain: $tmp/rsa/fullchain.pem
      privkey: $tmp/rsa/privkey.pem
    - fullchain: $tmp/ecrsa/fullchain.pem
      privkey: $tmp/ecrsa/privkey.pem
  session_ticket_key: $tmp/ticket.key
acme_webroot: $tmp/acme
$2
limits:
  header_timeout: 2s
  body: 2m
log:
  access: $tmp/access.log
  error: $tmp/error.log
  level: info
metrics: 127.0.0.1:$admin
x_served_by: true
shutdown_timeout: 5s
${3:-}
EOF
}
write_conf "$tmp/lbtls.yaml" "upstream:
  algorithm: round_robin
  servers:
    - 127.0.0.1:${be[0]}
    - 127.0.0.1:${be[1]}
    - 127.0.0.1:${be[2]}
  max_fails: 1
  fail_timeout: 1s
  health: {path: /healthz, interval: 300ms, rise: 1, fall: 1, timeout: 1s}
  connect_timeout: 1s"

# --- lbtls -t -------------------------------------------------------------------
out=$("$lbtls" -t -c "$tmp/lbtls.yaml" 2>&1)
check "lbtls -t accepts the good configuration" \
	grep -q "test is successful" <<<"$out"
cat >"$tmp/bad.yaml" <<EOF
listen:
  https: 127.0.0.1:$https
upstream:
  servers:
    - 127.0.0.1:${be[0]} weight=1000
  algorithm: fastest
EOF
out=$("$lbtls" -t -c "$tmp/bad.yaml" 2>&1)
rc=$?
check "lbtls -t exits 1 on a bad configuration" test "$rc" -eq 1
check "lbtls -t names FILE:LINE of a bad weight" \
	grep -q "^$tmp/bad.yaml:5: .*'weight' expects 1..256" <<<"$out"
check "lbtls -t names FILE:LINE of an unknown algorithm" \
	grep -q "^$tmp/bad.yaml:6: .*unknown 'fastest'" <<<"$out"
out=$("$lbtls" --workers many 2>&1)
check "bad CLI argument is named" grep -q "\-\-workers expects 1..256, got 'many'" <<<"$out"

# --- backends -------------------------------------------------------------------
start_backend() { # start_backend INDEX
	VERSION=$(($1 + 1)) "$python" "$app" --host 127.0.0.1 --port "${be[$1]}" \
		>"$tmp/app$1.log" 2>&1 &
	bpid[$1]=$!
	pids+=($!)
}
bpid=()
for i in 0 1 2; do start_backend $i; done
for i in 0 1 2; do
	check "backend VERSION=$((i + 1)) answers /healthz" \
		wait_http "http://127.0.0.1:${be[$i]}/healthz"
done

# --- lbtls ------------------------------------------------------------------------
"$lbtls" -c "$tmp/lbtls.yaml" --workers 2 >"$tmp/lbtls.out" 2>&1 &
master=$!
check "lbtls serves https" wait_http "https://127.0.0.1:$https/healthz"
workers() { ps -o pid= --ppid "$master" | tr -d ' ' | sort; }
check "lbtls runs 2 workers" test "$(workers | wc -l)" -eq 2

# Round-robin, per worker: each worker's own sequence must cycle 1 2 3.
sleep 1 # let the first health probes pass
declare -A last
rr_ok=1 seen=""
for _ in $(seq 1 18); do
	resp=$(curl -sk -D - "https://127.0.0.1:$https/")
	v=$(sed -n 's/.*Version \([0-9]\).*/\1/p' <<<"$resp")
	w=$(sed -n 's/^X-Served-By: .*worker-\([0-9]*\).*/\1/p' <<<"$resp")
	if [ -z "$v" ] || [ -z "$w" ]; then
		rr_ok=0
		continue
	fi
	seen+=$v
	if [ -n "${last[$w]:-}" ] && [ "$v" -ne $((last[$w] % 3 + 1)) ]; then
		rr_ok=0
	fi
	last[$w]=$v
done
check "round-robin: each worker serves versions 1, 2, 3 in turn ($seen)" \
	test "$rr_ok" -eq 1
check "round-robin: all three versions answered" \
	bash -c "[[ '$seen' == *1* && '$seen' == *2* && '$seen' == *3* ]]"
check "X-Served-By names the worker" \
	grep -qi "^X-Served-By: .*worker-[01]" <<<"$resp"

# --- port 80 --------------------------------------------------------------------
hdr=$(curl -s -D - -o /dev/null "http://127.0.0.1:$http/a/b?x=1&y=two")
check "http answers 301" grep -q "^HTTP/1.1 301" <<<"$hdr"
check "redirect keeps path and query string" \
	grep -q "^Location: https://127.0.0.1:$https/a/b?x=1&y=two" <<<"$hdr"
body=$(curl -s "http://127.0.0.1:$http/.well-known/acme-challenge/tok_en-42")
check "ACME challenge served from the webroot" \
	test "$body" = "token-content-42"
code=$(curl -s -o /dev/null -w '%{http_code}' --path-as-is \
	"http://127.0.0.1:$http/.well-known/acme-challenge/../../../secret.txt")
check "ACME path traversal refused (got $code)" test "$code" = 404
code=$(curl -s -o /dev/null -w '%{http_code}' \
	"http://127.0.0.1:$http/.well-known/acme-challenge/link")
check "ACME symlink refused (got $code)" test "$code" = 404

# --- headers the backend sees --------------------------------------------------------
json=$(curl -sk -H 'X-Forwarded-For: 203.0.113.7' -H 'X-Real-IP: 6.6.6.6' \
	-H 'Host: app.example' "https://127.0.0.1:$https/echo-headers")
check "backend sees X-Forwarded-For appended" \
	grep -q '"X-Forwarded-For":"203.0.113.7, 127.0.0.1"' <<<"$json"
check "backend sees X-Real-IP of the client" \
	grep -q '"X-Real-Ip":"127.0.0.1"' <<<"$json"
check "backend sees X-Forwarded-Proto https" \
	grep -q '"X-Forwarded-Proto":"https"' <<<"$json"
check "backend sees the client's Host" grep -q '"Host":"app.example"' <<<"$json"

# --- bodies both ways ------------------------------------------------------------------
head -c 1500000 /dev/urandom >"$tmp/body.bin"
json=$(curl -sk --data-binary @"$tmp/body.bin" "https://127.0.0.1:$https/echo-headers")
check "Content-Length body (1.5 MB, Expect: 100-continue) relayed whole" \
	grep -q '"body_length":1500000' <<<"$json"
json=$(curl -sk -H 'Transfer-Encoding: chunked' --data-binary @"$tmp/body.bin" \
	"https://127.0.0.1:$https/echo-headers")
check "chunked body relayed whole" grep -q '"body_length":1500000' <<<"$json"
check "chunked body buffered: upstream gets Content-Length, no Transfer-Encoding" \
	bash -c 'grep -q "\"Content-Length\":\"1500000\"" <<<"$1" &&
		! grep -qi "\"Transfer-Encoding\"" <<<"$1"' _ "$json"
head -c 2100000 /dev/zero >"$tmp/big.bin"
code=$(curl -sk -o /dev/null -w '%{http_code}' --data-binary @"$tmp/big.bin" \
	"https://127.0.0.1:$https/echo-headers")
check "a body over limits.body is 413 ($code)" test "$code" = 413
conns=$(curl -sk "https://127.0.0.1:$https/" "https://127.0.0.1:$https/healthz" \
	"https://127.0.0.1:$https/" -w '\nconnects=%{num_connects}\n' | grep '^connects=' | tr '\n' ' ')
check "keep-alive: three requests on one connection ($conns)" \
	test "$conns" = "connects=1 connects=0 connects=0 "
resp=$(printf 'GET /healthz HTTP/1.1\r\nHost: a\r\n\r\nGET /healthz HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n' |
	timeout 10 openssl s_client -quiet -connect "127.0.0.1:$https" 2>/dev/null)
check "pipelining: three responses in order" \
	test "$(grep -o 'HTTP/1.1 200' <<<"$resp" | wc -l)" -eq 3
resp=$(printf 'GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n' |
	timeout 10 openssl s_client -quiet -connect "127.0.0.1:$https" 2>/dev/null)
check "malformed request answered 400" grep -q '^HTTP/1.1 400' <<<"$resp"

# --- Upgrade: not honoured, the request goes on without it (as nginx) ----------
out=$(curl -sk -w '\n%{http_code}' -H 'Connection: Upgrade' -H 'Upgrade: websocket' \
	-H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' \
	"https://127.0.0.1:$https/echo-headers")
check "websocket Upgrade request answered by the backend ($(tail -1 <<<"$out"))" \
	test "$(tail -1 <<<"$out")" = 200
check "websocket Upgrade: backend sees no Upgrade, Connection: keep-alive" \
	bash -c '! grep -q "\"Upgrade\"" <<<"$1" &&
		grep -q "\"Connection\":\"keep-alive\"" <<<"$1" &&
		grep -q "\"Sec-Websocket-Key\"" <<<"$1"' _ "$out"
out=$(raw 'GET /echo-headers HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings, close\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n')
check "h2c upgrade not honoured: 200 over HTTP/1.1 ($(first_line "$out"))" \
	bash -c 'grep -q "^HTTP/1.1 200" <<<"$1" && ! grep -q "^HTTP/1.1 101" <<<"$1"' _ "$out"
check "h2c upgrade: backend sees neither Upgrade nor HTTP2-Settings" \
	bash -c 'grep -q "\"body_length\":0" <<<"$1" &&
		! grep -qi "\"upgrade\"\|\"http2-settings\"" <<<"$1"' _ "$out"

# --- Expect: 100-continue answered by lbtls, never forwarded ---------------------
out=$(raw 'PUT /echo-headers HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\nConnection: close\r\n\r\n' 'hello')
check "Expect: 100-continue: 100 Continue before the body ($(first_line "$out"))" \
	test "$(first_line "$out")" = "HTTP/1.1 100 Continue"
check "Expect: 100-continue: body relayed, Expect not forwarded" \
	bash -c 'grep -q "^HTTP/1.1 200" <<<"$1" && grep -q "\"body_length\":5" <<<"$1" &&
		! grep -qi "\"expect\"" <<<"$1"' _ "$out"
out=$(raw 'PUT /echo-headers HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello')
check "Expect: 100-continue with the body already sent: no 100 ($(first_line "$out"))" \
	bash -c 'grep -q "^HTTP/1.1 200" <<<"$1" && ! grep -q "100 Continue" <<<"$1" &&
		grep -q "\"body_length\":5" <<<"$1"' _ "$out"
out=$(raw 'PUT /echo-headers HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5000000000\r\n\r\n')
check "Expect: 100-continue over the body limit: 413 without 100 ($(first_line "$out"))" \
	bash -c 'grep -q "^HTTP/1.1 413" <<<"$1" && ! grep -q "100 Continue" <<<"$1"' _ "$out"
out=$(raw 'PUT /echo-headers HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\nContent-Length: 5\r\n\r\nhello')
check "unknown expectation answered 417 ($(first_line "$out"))" \
	test "$(first_line "$out")" = "HTTP/1.1 417 Expectation Failed"

# --- TLS --------------------------------------------------------------------------------
sc() { timeout 10 openssl s_client -connect "127.0.0.1:$https" "$@" 2>/dev/null; }
req='GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'
out=$(printf "$req" | sc -tls1_2 -ign_eof -sess_out "$tmp/s12")
check "TLS 1.2 handshake" grep -q "Protocol *: TLSv1.2" <<<"$out"
out=$(printf "$req" | sc -tls1_3 -ign_eof -sess_out "$tmp/s13" -alpn h2,http/1.1)
check "TLS 1.3 handshake" grep -q "Protocol *: TLSv1.3" <<<"$out"
check "ALPN picks h2 when offered first or not (http2 is on by default)" \
	grep -q "ALPN protocol: h2" <<<"$out"
out=$(printf "$req" | sc -tls1_3 -ign_eof -alpn http/1.1)
check "ALPN picks http/1.1 for an HTTP/1.1-only client" \
	bash -c 'grep -q "ALPN protocol: http/1.1" <<<"$1" &&
		grep -q "^HTTP/1.1 200" <<<"$1"' _ "$out"
code=$(curl -sk --http1.0 -o /dev/null -w '%{http_code} %{http_version}' \
	"https://127.0.0.1:$https/")
check "HTTP/1.0 client (ALPN http/1.0) served ($code)" test "${code%% *}" = 200
out=$(printf "$req" | sc -tls1_1)
check "TLS 1.1 refused" grep -q '^New, (NONE), Cipher is (NONE)' <<<"$out"
sni_fp() { # sni_fp NAME [s_client options]
	local name=$1
	shift
	sc -servername "$name" "$@" </dev/null |
		openssl x509 -noout -fingerprint -sha256 | sed 's/.*=//'
}
check "SNI rsa.example, ECDSA-capable client: its ECDSA certificate" \
	test "$(sni_fp rsa.example)" = "$fp_ecrsa"
check "SNI rsa.example, RSA-only client: its RSA certificate" \
	test "$(sni_fp rsa.example -sigalgs RSA-PSS+SHA256:RSA+SHA256)" = "$fp_rsa"
check "SNI unknown name: the first certificate" \
	test "$(sni_fp other.example)" = "$fp1"
out=$(printf "$req" | sc -tls1_2 -ign_eof -sess_in "$tmp/s12")
check "TLS 1.2 session resumed (session ticket shared by workers)" \
	grep -q "^Reused, TLSv1.2" <<<"$out"
out=$(printf "$req" | sc -tls1_3 -ign_eof -sess_in "$tmp/s13")
check "TLS 1.3 session resumed" grep -q "^Reused, TLSv1.3" <<<"$out"
# A client that half-closes TCP after its request, without close_notify,
# still gets its answer (BoringSSL reports that EOF as an error: tlscompat.c)
out=$("$python" - "$https" <<'PY' 2>&1
import os, socket, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))))
s.sendall(b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
socket.socket(fileno=os.dup(s.fileno())).shutdown(socket.SHUT_WR)
s.settimeout(5)
print(s.recv(4096).split(b"\r\n")[0].decode())
PY
)
check "TCP half-close after the request, no close_notify: answered ($out)" \
	test "$out" = "HTTP/1.1 200 OK"

# --- a backend dies and comes back -----------------------------------------------------------
kill -TERM "${bpid[1]}"
wait "${bpid[1]}" 2>/dev/null
fails=0 v2=0
for _ in $(seq 1 30); do
	body=$(curl -sk -w '\n%{http_code}' "https://127.0.0.1:$https/")
	[ "$(tail -1 <<<"$body")" = 200 ] || fails=$((fails + 1))
	grep -q "Version 2" <<<"$body" && v2=$((v2 + 1))
done
check "backend 2 killed: 30 requests, $fails failed" test "$fails" -eq 0
check "backend 2 killed: not answering" test "$v2" -eq 0
metrics=$(curl -s "http://127.0.0.1:$admin/metrics")
check "metrics show backend 2 down" \
	grep -q "lbtls_upstream_up{server=\"127.0.0.1:${be[1]}\",.*} 0" <<<"$metrics"
start_backend 1
wait_http "http://127.0.0.1:${be[1]}/healthz"
back=0
for _ in $(seq 1 60); do
	if curl -sk "https://127.0.0.1:$https/" | grep -q "Version 2"; then
		back=1
		break
	fi
	sleep 0.2
done
check "backend 2 back up: used again (active health check)" test "$back" -eq 1

# --- slowloris ------------------------------------------------------------------------------
slow=$("$python" - "$https" <<'EOF'
import socket, ssl, sys, time
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))))
s.settimeout(0.5)
s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n")
got = b""
for i in range(30):  # trickle one header line every 0.5 s, for 15 s at most
    try:
        s.sendall(b"X-Slow-%d: x\r\n" % i)
    except OSError:
        print("closed")
        sys.exit(0)
    try:
        d = s.recv(4096)
        if not d:
            print("closed" if not got else got.decode(errors="replace").split("\r\n")[0])
            sys.exit(0)
        got += d
        if b"\r\n\r\n" in got:
            print(got.decode(errors="replace").split("\r\n")[0])
            sys.exit(0)
    except socket.timeout:
        pass
    except OSError:
        print("closed")
        sys.exit(0)
print("still open")
EOF
)
check "slowloris cut at the header deadline ($slow)" \
	bash -c "[[ '$slow' == 'HTTP/1.1 408'* || '$slow' == closed ]]"

# --- SIGHUP with a new certificate under load -----------------------------------------------
served_fp() {
	sc </dev/null | openssl x509 -noout -fingerprint -sha256 | sed 's/.*=//'
}
check "old certificate served before the reload" test "$(served_fp)" = "$fp1"
(
	for _ in $(seq 1 150); do
		curl -sk -o /dev/null -w '%{http_code}\n' "https://127.0.0.1:$https/"
	done
) >"$tmp/codes" &
loader=$!
for _ in $(seq 1 100); do
	[ "$(wc -l <"$tmp/codes")" -ge 20 ] && break
	sleep 0.05
done
old_workers=$(workers)
cp "$tmp/cert2/"*.pem "$live/"
kill -HUP "$master"
wait "$loader"
total=$(wc -l <"$tmp/codes")
bad_codes=$(grep -vc '^200$' "$tmp/codes")
check "SIGHUP under load: $total requests, $bad_codes failed" \
	bash -c "[ $total -eq 150 ] && [ $bad_codes -eq 0 ]"
check "new certificate served after SIGHUP" test "$(served_fp)" = "$fp2"
for _ in $(seq 1 100); do # the old generation drains, then exits
	[ "$(workers | wc -l)" -eq 2 ] && break
	sleep 0.1
done
new_workers=$(workers)
check "SIGHUP replaced the workers" \
	test -z "$(comm -12 <(echo "$old_workers") <(echo "$new_workers"))"
printf 'workers: [\n' >"$tmp/broken.yaml"
cp "$tmp/lbtls.yaml" "$tmp/good.yaml"
cp "$tmp/broken.yaml" "$tmp/lbtls.yaml"
kill -HUP "$master"
for _ in $(seq 1 50); do # until the master has read it
	grep -q "reload: .* has errors" "$tmp/error.log" && break
	sleep 0.1
done
cp "$tmp/good.yaml" "$tmp/lbtls.yaml"
check "SIGHUP with a broken config: running one kept" \
	wait_http "https://127.0.0.1:$https/healthz"
check "SIGHUP with a broken config: FILE:LINE in the error log" \
	grep -q "$tmp/lbtls.yaml:[0-9]*: YAML syntax" "$tmp/error.log"
check "SIGHUP with a broken config: same workers" test "$(workers)" = "$new_workers"

# --- session ticket key rotation (tlscompat.c's ticket callback) -------------------------------
reload_wait() { # SIGHUP, then wait until the workers are all new ones
	local before
	before=$(workers)
	kill -HUP "$master"
	for _ in $(seq 1 100); do
		[ "$(workers | wc -l)" -eq 2 ] &&
			[ -z "$(comm -12 <(echo "$before") <(workers))" ] && break
		sleep 0.1
	done
}
# sealed_by_first_key SESSION: its ticket's key is the one lbtls derives
# from the key file's first key for now's epoch (default rotation, 1 h;
# either side of an epoch change between the connection and the check)
sealed_by_first_key() {
	local name before=$2 after
	name=$(ticket_name "$1")
	after=$(date +%s)
	[ -n "$name" ] &&
		{ [ "$name" = "$(epoch_key_name "$tmp/ticket.key" 3600 "$before")" ] ||
			[ "$name" = "$(epoch_key_name "$tmp/ticket.key" 3600 "$after")" ]; }
}
key_name() { head -c 16 "$1" | od -An -tx1 | tr -d ' \n'; }
t=$(date +%s)
printf "$req" | sc -tls1_2 -ign_eof -sess_out "$tmp/rot12" >/dev/null
check "ticket sealed with the key derived from the key file's first key (this epoch)" \
	sealed_by_first_key "$tmp/rot12" "$t"
out=$(printf "$req" | sc -tls1_2 -ign_eof -sess_in "$tmp/rot12" -msg)
check "a ticket of the first key resumes, not renewed" \
	bash -c 'grep -q "^Reused, TLSv1.2" <<<"$1" && ! grep -q NewSessionTicket <<<"$1"' _ "$out"
old_key_name=$(key_name "$tmp/ticket.key")
{ openssl rand 80; cat "$tmp/ticket.key"; } >"$tmp/ticket.key.new"
mv "$tmp/ticket.key.new" "$tmp/ticket.key"
reload_wait
out=$(printf "$req" | sc -tls1_2 -ign_eof -sess_in "$tmp/rot12" -msg)
check "rotation: a ticket of the previous key still resumes" \
	grep -q "^Reused, TLSv1.2" <<<"$out"
check "rotation: and is renewed (a NewSessionTicket in the resumption)" \
	grep -q NewSessionTicket <<<"$out"
t=$(date +%s)
printf "$req" | sc -tls1_2 -ign_eof -sess_out "$tmp/rot12b" >/dev/null
check "rotation: new tickets sealed with the new first key's derived key" \
	sealed_by_first_key "$tmp/rot12b" "$t"
head -c 80 "$tmp/ticket.key" >"$tmp/ticket.key.new"
mv "$tmp/ticket.key.new" "$tmp/ticket.key"
reload_wait
out=$(printf "$req" | sc -tls1_2 -ign_eof -sess_in "$tmp/rot12")
check "rotation: a ticket of a removed key ($old_key_name) is a full handshake" \
	grep -q "^New, TLSv1.2" <<<"$out"

# --- a worker dies ----------------------------------------------------------------------------------
victim=$(workers | head -1)
kill -KILL "$victim"
respawned=0
for _ in $(seq 1 50); do
	if [ "$(workers | wc -l)" -eq 2 ] && ! workers | grep -qx "$victim"; then
		respawned=1
		break
	fi
	sleep 0.1
done
check "killed worker respawned by the master" test "$respawned" -eq 1
check "requests succeed after the respawn" wait_http "https://127.0.0.1:$https/"

# --- an old worker that hangs is killed at its shutdown_timeout (5 s) ------------------------------
# (stopped here; it never drains by itself and held its process slot)
victim=$(workers | head -1)
kill -STOP "$victim"
t0=$(date +%s)
kill -HUP "$master"
gone=0
for _ in $(seq 1 150); do # 15 s: shutdown_timeout, the 2 s grace, the tick
	if ! workers | grep -qx "$victim"; then
		gone=1
		break
	fi
	sleep 0.1
done
waited=$(($(date +%s) - t0))
kill -CONT "$victim" 2>/dev/null
check "a stopped old worker is killed after the reload's drain (gone: $gone, after ${waited} s)" \
	test "$gone" -eq 1
check "not before its shutdown_timeout of 5 s" test "$waited" -ge 5
check "the kill is logged with the worker's pid" \
	grep -q "(pid $victim) of generation [0-9]* is still running .* after its generation's shutdown_timeout: killed" "$tmp/error.log"
check "requests succeed after the hung worker's end" wait_http "https://127.0.0.1:$https/"

# --- metrics and logs ---------------------------------------------------------------------------------
metrics=$(curl -s "http://127.0.0.1:$admin/metrics")
n200=$(sed -n 's/^lbtls_requests_total{code="200"} //p' <<<"$metrics")
check "/metrics counts 200 responses across workers (${n200:-none})" \
	test "${n200:-0}" -ge 150
check "/metrics counts 301 and 400" \
	bash -c "grep -q 'code=\"301\"' <<<'$metrics' && grep -q 'code=\"400\"' <<<'$metrics'"
full=$(sed -n 's/^lbtls_handshakes_total{type="full"} //p' <<<"$metrics")
resumed=$(sed -n 's/^lbtls_handshakes_total{type="resumed"} //p' <<<"$metrics")
check "/metrics counts full ($full) and resumed ($resumed) handshakes" \
	bash -c "[ ${full:-0} -gt 0 ] && [ ${resumed:-0} -ge 2 ]"
check "/metrics has active connections and upstream latency" \
	bash -c "grep -q '^lbtls_connections_active ' <<<'$metrics' &&
		grep -q '^lbtls_upstream_response_seconds_count{server=\"127.0.0.1:${be[0]}\"} [1-9]' <<<'$metrics'"
check "access log in combined format with upstream, time and end reason" \
	grep -Eq '^127\.0\.0\.1 - - \[[^]]+\] "GET / HTTP/1\.1" 200 [0-9]+ "-" "curl/[^"]*" 127\.0\.0\.1:[0-9]+ [0-9]+\.[0-9]{3} -$' \
	"$tmp/access.log"

# --- SIGUSR1 reopens the logs (logrotate) ------------------------------------------
mv "$tmp/access.log" "$tmp/access.log.1"
kill -USR1 "$master"
reopened=0
for _ in $(seq 1 50); do
	curl -sk -o /dev/null "https://127.0.0.1:$https/healthz"
	if [ -s "$tmp/access.log" ]; then
		reopened=1
		break
	fi
	sleep 0.1
done
check "SIGUSR1: access log reopened after rotation" test "$reopened" -eq 1

# --- upstream keep-alive pool (Werkzeug's dev server always closes, so a
# --- keep-alive HTTP/1.1 server from the standard library stands in) --------
mkdir -p "$tmp/www"
echo "pooled" >"$tmp/www/index.html"
kaport=$((base + 5))
kill -TERM "${bpid[2]}" 2>/dev/null # frees be[2] = base + 5
wait "${bpid[2]}" 2>/dev/null
(cd "$tmp/www" && exec "$python" -m http.server -p HTTP/1.1 -b 127.0.0.1 \
	"$kaport" >"$tmp/ka.log" 2>&1) &
pids+=($!)
wait_http "http://127.0.0.1:$kaport/"
write_conf "$tmp/lbtls.yaml" "upstream:
  servers: [127.0.0.1:$kaport]
  keepalive: 8
  keepalive_timeout: 1s
  health: {enabled: false}"
kill -HUP "$master"
for _ in $(seq 1 50); do # until the new generation answers
	curl -sk "https://127.0.0.1:$https/" | grep -q pooled && break
	sleep 0.1
done
upconns() {
	ss -Htn state established "( dport = :$kaport )" | wc -l
}
for _ in $(seq 1 10); do curl -sk -o /dev/null "https://127.0.0.1:$https/"; done
n=$(upconns)
check "upstream keep-alive: 10 requests kept 1..2 connections open ($n)" \
	bash -c "[ $n -ge 1 ] && [ $n -le 2 ]"
expired=0
for _ in $(seq 1 50); do
	if [ "$(upconns)" -eq 0 ]; then
		expired=1
		break
	fi
	sleep 0.1
done
check "upstream keep-alive: idle connections closed after keepalive_timeout" \
	test "$expired" -eq 1

# --- HTTP/1.0 clients and a slow client, through a streaming Flask backend ------
cat >"$tmp/stream_app.py" <<'EOF'
import sys
from flask import Flask, Response, jsonify, request
app = Flask(__name__)
LINES = [("line %03d of a streamed answer\n" % i).encode() for i in range(50)]
BLOCK = bytes(range(256)) * 4096  # 1 MiB

@app.route("/chunked")
def chunked():  # no length: werkzeug sends it chunked
    return Response((l for l in LINES), mimetype="text/plain")

@app.route("/proto")
def proto():
    return jsonify(protocol=request.environ.get("SERVER_PROTOCOL"),
                   headers=dict(request.headers))

@app.route("/big")
def big():
    n = int(request.args.get("mb", "20"))
    return Response((BLOCK for _ in range(n)), mimetype="application/octet-stream",
                    headers={"Content-Length": str(n * len(BLOCK))})

app.run(host="127.0.0.1", port=int(sys.argv[1]), threaded=True)
EOF
"$python" "$tmp/stream_app.py" "$stream" >"$tmp/stream.log" 2>&1 &
pids+=($!)
check "streaming Flask backend answers" wait_http "http://127.0.0.1:$stream/proto"
"$python" -c 'import sys; sys.stdout.write("".join("line %03d of a streamed answer\n" % i for i in range(50)))' \
	>"$tmp/chunked.want"
write_conf "$tmp/lbtls.yaml" "upstream:
  servers: [127.0.0.1:$stream]
  health: {enabled: false}"
kill -HUP "$master"
for _ in $(seq 1 50); do # until the new generation answers
	curl -sk "https://127.0.0.1:$https/proto" | grep -q protocol && break
	sleep 0.1
done
hdr=$(curl -sk -D - -o "$tmp/chunked.got" "https://127.0.0.1:$https/chunked")
check "HTTP/1.1 client: chunked response relayed chunked" \
	bash -c 'grep -qi "^Transfer-Encoding: chunked" <<<"$1" && cmp -s "$2" "$3"' \
	_ "$hdr" "$tmp/chunked.got" "$tmp/chunked.want"
hdr=$(curl -sk --http1.0 -D - -o "$tmp/chunked.got" "https://127.0.0.1:$https/chunked")
check "HTTP/1.0 client: chunked response de-chunked, whole" \
	cmp -s "$tmp/chunked.got" "$tmp/chunked.want"
check "HTTP/1.0 client: no Transfer-Encoding, Connection: close" \
	bash -c '! grep -qi "^Transfer-Encoding" <<<"$1" &&
		grep -qi "^Connection: close" <<<"$1"' _ "$hdr"
raw 'GET /chunked HTTP/1.0\r\n\r\n' >"$tmp/raw10.out"
"$python" -c 'import sys
d = open(sys.argv[1], "rb").read()
open(sys.argv[2], "wb").write(d.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in d else b"")' \
	"$tmp/raw10.out" "$tmp/raw10.body"
check "HTTP/1.0 client: the bytes on the wire are the data alone (no chunk framing)" \
	cmp -s "$tmp/raw10.body" "$tmp/chunked.want"
out=$(raw 'GET /proto HTTP/1.0\r\n\r\n')
check "HTTP/1.0 request goes upstream as HTTP/1.1, Host added" \
	bash -c 'grep -q "\"protocol\":\"HTTP/1.1\"" <<<"$1" &&
		grep -q "\"Host\":\"127.0.0.1:$2\"" <<<"$1"' _ "$out" "$https"
out=$(raw 'GET /proto HTTP/1.0\r\nHost: h10.example\r\nConnection: keep-alive\r\n\r\nGET /proto HTTP/1.0\r\nHost: h10.example\r\n\r\n')
check "HTTP/1.0 keep-alive client: two answers on one connection, Host kept" \
	bash -c '[ "$(grep -c "^HTTP/1.1 200" <<<"$1")" -eq 2 ] &&
		[ "$(grep -o "\"Host\":\"h10.example\"" <<<"$1" | wc -l)" -eq 2 ]' _ "$out"
conn_hdrs=$(grep -i '^Connection:' <<<"$out" | tr -d '\r' | paste -sd,)
check "HTTP/1.0: Connection: keep-alive only when the client asked ($conn_hdrs)" \
	test "$conn_hdrs" = "Connection: keep-alive,Connection: close"

# A client reading a 20 MiB answer slowly: it arrives whole, and lbtls
# buffers at most its 64 KiB per connection: the workers' RSS does not
# follow the response size (back-pressure holds the rest in the backend).
for _ in $(seq 1 100); do # the old generation has drained
	[ "$(workers | wc -l)" -eq 2 ] && break
	sleep 0.1
done
cat >"$tmp/slow.py" <<'EOF'
import hashlib, socket, ssl, sys, time
port, pids = int(sys.argv[1]), sys.argv[2:]
def rss():
    t = 0
    for p in pids:
        try:
            for l in open("/proc/%s/status" % p):
                if l.startswith("VmRSS:"):
                    t += int(l.split()[1])
        except OSError:
            pass
    return t
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
raw = socket.socket()
raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
raw.connect(("127.0.0.1", port))
s = ctx.wrap_socket(raw)
s.settimeout(30)  # a guard against hanging, not a measurement
base = peak = rss()
s.sendall(b"GET /big?mb=20 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
head, body, n, reads, in_body = b"", hashlib.sha256(), 0, 0, False
while True:
    d = s.recv(16384)
    if not d:
        break
    if not in_body:
        head += d
        if b"\r\n\r\n" not in head:
            continue
        head, d = head.split(b"\r\n\r\n", 1)
        in_body = True
    body.update(d)
    n += len(d)
    reads += 1
    if reads % 32 == 0:
        peak = max(peak, rss())
        time.sleep(0.02)  # slow reader: its socket stays full
want = hashlib.sha256((bytes(range(256)) * 4096) * 20).hexdigest()
print("status=%s bytes=%d intact=%d growth_kb=%d" % (
    head.split(b"\r\n")[0].decode(errors="replace").replace(" ", "_"),
    n, body.hexdigest() == want, peak - base))
EOF
# shellcheck disable=SC2046 # one argument per worker pid
res=$("$python" "$tmp/slow.py" "$https" $(workers) 2>&1)
check "slow client, 20 MiB answer: arrives whole and intact ($res)" \
	grep -q "^status=HTTP/1.1_200_OK bytes=20971520 intact=1 " <<<"$res"
growth=$(sed -n 's/.*growth_kb=\(-\{0,1\}[0-9]*\).*/\1/p' <<<"$res")
check "slow client: workers' memory stays bounded (RSS +${growth:-?} KiB for 20 MiB)" \
	test "${growth:-99999}" -lt 8192

# --- upstream errors: 502 and 504 with the configured error page -----------------
echo '<html><body>lbtls test error page</body></html>' >"$tmp/50x.html"
blackhole=$((base + 6))
"$python" - "$blackhole" >"$tmp/blackhole.log" 2>&1 <<'EOF' &
import socket, sys, time
# Accepts and never answers, for 60 s at most: the read timeout must fire.
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(64)
s.settimeout(1)
held = []
end = time.time() + 60
while time.time() < end:
    try:
        held.append(s.accept()[0])
    except socket.timeout:
        pass
EOF
pids+=($!)
err_conf() { # err_conf SERVER
	write_conf "$tmp/lbtls.yaml" "upstream:
  servers: [\"$1\"]
  max_fails: 0
  health: {enabled: false}
  connect_timeout: 1s
  read_timeout: 1s" "error_page: $tmp/50x.html"
}
wait_code() { # wait_code CODE: bounded wait for the new generation
	for _ in $(seq 1 50); do
		code=$(curl -sk -o "$tmp/errbody" -w '%{http_code}' \
			"https://127.0.0.1:$https/")
		[ "$code" = "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
err_conf "127.0.0.1:$((base + 7))" # nothing listens there
check "error-page configuration passes lbtls -t" \
	"$lbtls" -t -c "$tmp/lbtls.yaml" 2>/dev/null
kill -HUP "$master"
wait_code 502
check "upstream refusing connections: 502 (last answer $code)" test "$code" = 502
check "502 carries the configured error page" \
	grep -q "lbtls test error page" "$tmp/errbody"
err_conf "127.0.0.1:$blackhole"
kill -HUP "$master"
wait_code 504
check "upstream never answering: 504 after read_timeout (last answer $code)" \
	test "$code" = 504
check "504 carries the configured error page" \
	grep -q "lbtls test error page" "$tmp/errbody"

# --- graceful stop --------------------------------------------------------------------------------------
kill -TERM "$master"
stopped=0
for _ in $(seq 1 100); do
	if ! kill -0 "$master" 2>/dev/null; then
		stopped=1
		break
	fi
	sleep 0.1
done
check "SIGTERM: master and workers exit" test "$stopped" -eq 1
[ "$stopped" -eq 1 ] && master=

finish
