#!/usr/bin/env bash
# shellcheck disable=SC2317,SC2016 # cleanup (a trap) and helpers run
# indirectly; bash -c '...' _ ARGS expands its arguments on purpose
# lbtls end to end, the faults of issue 10: one client must never hurt
# another, and a reload or a stop must lose no request. Real Flask backends
# (docker/app/app.py), lbtls with two workers, real curl, h2load and Python
# TLS clients, loopback only.
#
#   finding 1  a stalled request body gets 408 at limits.client_body_timeout
#              and never counts against the backend (max_fails: 1)
#   finding 2  header names with '_' are dropped (limits.underscores_in_headers
#              lets them through; a Content_Length must not hang Werkzeug);
#              X-Real-IP, X-Forwarded-Host/-Port are replaced, Forwarded is
#              not passed on
#   finding 3  lbtls as PID 1 of a PID namespace serves, and SIGTERM stops it
#   finding 4  the per-worker listeners made for the agent are bound to
#              loopback only
#   reload     two SIGHUPs under h2load keep-alive load: 0 failed requests;
#              a SIGHUP under keep-alive clients that think between requests:
#              none lost, each old connection closed after Connection: close
#   stop       SIGQUIT under keep-alive load: no request lost, every
#              connection closed after a Connection: close answer
#
# Usage: bash tests/tls/test_lbtls_faults.sh BUILD_DIR
# Prints one line per check and ends with "N passed, N failed"; exits
# non-zero on any failure. Missing curl, openssl, h2load, unshare, ss or
# python3-flask is a failure, never a skip. Needs root (unshare --pid).
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

tmp=$(mktemp -d /tmp/lbtls-faults.XXXXXX)
# Every process this script starts is a background job of it (jobs -p
# lists those still running, so no pid is signalled after it was reaped
# and maybe reused), except the PID-1 lbtls under unshare: masters lists
# the lbtls masters not yet stopped.
masters=()
stop_lbtls() { # stop_lbtls PID: TERM, bounded wait, then KILL it and its workers
	local p
	if kill -0 "$1" 2>/dev/null; then
		kill -TERM "$1" 2>/dev/null
		for _ in $(seq 1 30); do
			kill -0 "$1" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$1" 2>/dev/null; then
			for p in $(ps -o pid= --ppid "$1" 2>/dev/null); do
				kill -KILL "$p" 2>/dev/null
			done
			kill -KILL "$1" 2>/dev/null
		fi
	fi
	for p in "${!masters[@]}"; do
		[ "${masters[$p]}" = "$1" ] && unset 'masters[p]'
	done
}
cleanup() {
	local p
	for p in "${masters[@]}"; do
		stop_lbtls "$p"
	done
	for p in $(jobs -p); do
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
require_tools "" curl openssl ss unshare
require_tools "nghttp2-client" h2load
require_flask "$python"
require_built "$lbtls" "$build"
require_root "unshare --pid for lbtls as PID 1"
[ "$missing" -eq 0 ] || finish

# --- ports: 3 backends, then https and admin ports of each lbtls ------------
find_ports 15 || {
	bad "no free block of loopback ports"
	finish
}
be=("$base" $((base + 1)) $((base + 2)))
port=$((base + 3)) # next free one: https, then admin
next_ports() { # next_ports: sets https and admin to two fresh ports
	https=$port admin=$((port + 1))
	port=$((port + 2))
}

mkcert "$tmp/cert"
check "self-signed certificate made with openssl" test -s "$tmp/cert/fullchain.pem"

# write_conf NAME UPSTREAM_BLOCK [TOP_LEVEL_EXTRA] [LIMITS_EXTRA]: writes
# $tmp/NAME.yaml for the current https and admin ports
write_conf() {
	cat >"$tmp/$1.yaml" <<EOF
workers: 2
listen:
  https: 127.0.0.1:$https
tls:
  certificates:
    - fullchain: $tmp/cert/fullchain.pem
      privkey: $tmp/cert/privkey.pem
$2
limits:
  header_timeout: 5s
  max_connections: 1024 # 2 fds each: within any RLIMIT_NOFILE
${4:-}
log:
  access: $tmp/$1.access.log
  error: $tmp/$1.error.log
  level: info
metrics: 127.0.0.1:$admin
${3:-shutdown_timeout: 5s}
EOF
}
three="upstream:
  servers: [127.0.0.1:${be[0]}, 127.0.0.1:${be[1]}, 127.0.0.1:${be[2]}]
  health: {enabled: false}"
start_lbtls() { # start_lbtls NAME: sets master; true once it serves https
	"$lbtls" -c "$tmp/$1.yaml" >"$tmp/$1.out" 2>&1 &
	master=$!
	masters+=("$master")
	wait_http "https://127.0.0.1:$https/healthz"
}
workers() { ps -o pid= --ppid "$1" | tr -d ' ' | sort; }
gone() { # gone PID...: true when none of them exists any more
	local p
	for p in "$@"; do
		kill -0 "$p" 2>/dev/null && return 1
	done
	return 0
}
wait_gone() { # wait_gone SECONDS PID...: bounded wait until gone
	local end=$((SECONDS + $1))
	shift
	while [ "$SECONDS" -lt "$end" ]; do
		gone "$@" && return 0
		sleep 0.1
	done
	gone "$@"
}
codes() { # codes URL N: N requests, each on a new connection; their codes
	local i
	for i in $(seq 1 "$2"); do
		curl -sk -m 3 -o /dev/null -w '%{http_code} ' "$1"
	done
}
all_200() { # all_200 "CODES": at least one code, and every one 200
	[ -n "${1// /}" ] && ! tr ' ' '\n' <<<"$1" | grep -qv '^200$\|^$'
}
header() { # header JSON NAME: a header's value in app.py's /echo-headers
	"$python" -c 'import json, sys
try:
    print(json.loads(sys.argv[1])["headers"].get(sys.argv[2], "<absent>"))
except ValueError:
    print("<no JSON>")' "$1" "$2"
}

val() { sed -n "s/.*\<$1=\([0-9]*\).*/\1/p" <<<"$res"; } # of ka_load.py's $res
no_loss() { # no_loss SUMMARY: ka_load.py sent requests and each was answered
	local res=$1 sent
	sent=$(val sent)
	[ "${sent:-0}" -gt 0 ] && [ "$sent" = "$(val answered)" ] &&
		[ "$(val lost)" = 0 ] && [ "$(val errors)" = 0 ]
}
gone_before() { # gone_before LIMIT SECONDS PID...
	[ "$2" -lt "$1" ] && shift 2 && gone "$@"
}

# --- backends -------------------------------------------------------------------
for i in 0 1 2; do
	VERSION=$((i + 1)) "$python" "$app" --host 127.0.0.1 --port "${be[$i]}" \
		>"$tmp/app$i.log" 2>&1 &
done
for i in 0 1 2; do
	check "backend VERSION=$((i + 1)) answers /healthz" \
		wait_http "http://127.0.0.1:${be[$i]}/healthz"
done

# --- finding 1: a stalled request body -----------------------------------------------
# One backend, max_fails 1: if the stall counted against it, every client
# of that worker would get 502 for fail_timeout. The request goes to
# /echo-headers, which reads the body (Flask answers an unknown path like
# /x with 404 at once, without waiting for the body).
cat >"$tmp/stall.py" <<'EOF'
import socket, ssl, sys, time
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))))
s.settimeout(10)  # a guard against hanging, not a measurement
t0 = time.monotonic()
s.sendall(b"POST /echo-headers HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\nabc")
got, end, at = b"", "timeout", None
try:
    while True:
        d = s.recv(65536)
        if not d:
            end = "eof"
            break
        if at is None:
            at = time.monotonic() - t0
        got += d
except socket.timeout:
    pass
except (OSError, ssl.SSLError) as e:
    end = "error:" + type(e).__name__
status = got.split(b"\r\n")[0].split(b" ")[1:2]
print("status=%s seconds=%.2f end=%s" % (
    status[0].decode() if status else "none",
    at if at is not None else -1, end))
EOF
next_ports
write_conf f1 "upstream:
  servers: [127.0.0.1:${be[0]}]
  max_fails: 1
  fail_timeout: 30s
  read_timeout: 2s
  health: {enabled: false}" "" "  client_body_timeout: 1s"
check "finding 1: lbtls serves (one backend, max_fails 1)" start_lbtls f1
url=https://127.0.0.1:$https/
"$python" "$tmp/stall.py" "$https" >"$tmp/stall.out" 2>&1 &
stall=$!
sleep 0.2
during=
for _ in 1 2 3 4; do # new clients while the stalled one waits
	kill -0 "$stall" 2>/dev/null || break
	during+=$(codes "$url" 1)
done
wait "$stall"
res=$(cat "$tmp/stall.out")
after=$(codes "$url" 12)
fails=$(curl -s "http://127.0.0.1:$admin/metrics" |
	sed -n "s/^lbtls_upstream_failures_total{server=\"127.0.0.1:${be[0]}\"} //p")
check "finding 1: stalled body answered 408 ($res)" grep -q '^status=408 ' <<<"$res"
check "finding 1: 408 at client_body_timeout 1s, before read_timeout 2s ($res)" \
	"$python" -c 'import sys; t = float(sys.argv[1]); sys.exit(not 0.8 <= t < 1.9)' \
	"$(sed -n 's/.*seconds=\([-0-9.]*\).*/\1/p' <<<"$res")"
check "finding 1: connection closed after the answer ($res)" grep -q ' end=eof$' <<<"$res"
check "finding 1: other clients during the stall get 200 (${during% })" \
	all_200 "$during"
check "finding 1: other clients right after get 200, backend not down (${after% })" \
	all_200 "$after"
check "finding 1: lbtls_upstream_failures_total 0 for the backend (${fails:-none})" \
	test "${fails:-none}" = 0
stop_lbtls "$master"

# --- finding 2: forwarded headers ---------------------------------------------
# Werkzeug folds X_Real_IP into the same WSGI key as X-Real-IP (as gunicorn
# does), so an underscore header shows up in the echoed X-Real-Ip.
next_ports
f2up="$three
  read_timeout: 3s"
write_conf f2 "$f2up"
check "finding 2: lbtls serves" start_lbtls f2
url=https://127.0.0.1:$https/echo-headers
json=$(curl -sk -H 'X_Real_IP: 6.6.6.6' -H 'X_Forwarded_For: 6.6.6.6' "$url")
v=$(header "$json" X-Real-Ip)
check "finding 2: X_Real_IP: backend sees X-Real-IP = the client's address ($v)" \
	test "$v" = 127.0.0.1
v=$(header "$json" X-Forwarded-For)
check "finding 2: X_Forwarded_For: backend sees X-Forwarded-For = the client's address ($v)" \
	test "$v" = 127.0.0.1
check "finding 2: no 6.6.6.6 in any header the backend sees" \
	bash -c '[[ $1 == *headers* && $1 != *6.6.6.6* ]]' _ "$json"
json=$(curl -sk -H 'Host: app.example' -H 'X-Forwarded-Host: evil' \
	-H 'X-Forwarded-Port: 1' -H 'Forwarded: for=6.6.6.6' "$url")
v=$(header "$json" X-Forwarded-Host)
check "finding 2: X-Forwarded-Host replaced by the client's Host ($v)" \
	test "$v" = app.example
v=$(header "$json" X-Forwarded-Port)
check "finding 2: X-Forwarded-Port replaced by the https port ($v)" test "$v" = "$https"
v=$(header "$json" Forwarded)
check "finding 2: the client's Forwarded: for=6.6.6.6 not passed on ($v)" \
	bash -c '[[ $1 == *headers* && $1 != *6.6.6.6* ]]' _ "$json"
# Werkzeug also takes Content_Length for Content-Length (gunicorn does not):
# a GET carrying it would leave the backend waiting for a body that never
# comes, until read_timeout, a 504 and a failure against the backend.
got=$(curl -sk -m 10 -o /dev/null -w '%{http_code} %{time_total}' \
	-H 'Content_Length: 20' "$url")
check "finding 2: GET with Content_Length: 20 answered 200 at once ($got s)" \
	bash -c '[[ $1 == "200 "* ]] && awk -v t="${1#* }" "BEGIN { exit !(t < 2) }"' _ "$got"
old=$(workers "$master")
write_conf f2 "$f2up" "" "  underscores_in_headers: true"
kill -HUP "$master"
for _ in $(seq 1 100); do # the new generation runs, the old one is gone
	[ "$(workers "$master" | wc -l)" -eq 2 ] &&
		[ -z "$(comm -12 <(echo "$old") <(workers "$master"))" ] && break
	sleep 0.1
done
json=$(curl -sk -H 'X_Real_IP: 6.6.6.6' -H 'X_Forwarded_For: 6.6.6.6' "$url")
check "finding 2: underscores_in_headers: true lets X_Real_IP and X_Forwarded_For through" \
	bash -c '[[ $1 == *6.6.6.6* && $2 == *6.6.6.6* ]]' _ \
	"$(header "$json" X-Real-Ip)" "$(header "$json" X-Forwarded-For)"
stop_lbtls "$master"

# --- finding 3: lbtls as PID 1 -----------------------------------------------------
# As a container without init runs it: PID 1 of a PID namespace, in the
# foreground. unshare forks, its child execs lbtls.
next_ports
write_conf f3 "$three"
unshare --pid --fork --mount-proc "$lbtls" -c "$tmp/f3.yaml" >"$tmp/f3.out" 2>&1 &
ushare=$!
master=
for _ in $(seq 1 50); do
	master=$(ps -o pid= --ppid "$ushare" | tr -d ' ')
	[ -n "$master" ] && break
	sleep 0.1
done
[ -n "$master" ] && masters+=("$master")
nspid=$(sed -n 's/^NSpid:\s*[0-9]*\s*//p' "/proc/${master:-0}/status" 2>/dev/null)
check "finding 3: lbtls is PID 1 of its PID namespace (NSpid ${nspid:-?})" \
	test "${nspid:-}" = 1
pidns=$(readlink "/proc/${master:-0}/ns/pid" 2>/dev/null)
check "finding 3: as PID 1, https answers 200" \
	wait_http "https://127.0.0.1:$https/healthz" 8
got=$(codes "https://127.0.0.1:$https/" 8)
check "finding 3: as PID 1, 8 requests on new connections all 200 (${got% })" \
	all_200 "$got"
w1=$(workers "${master:-0}")
sleep 1.5
w2=$(workers "${master:-0}")
check "finding 3: as PID 1, its 2 workers stay (not drained and respawned)" \
	bash -c '[ "$(wc -w <<<"$1")" -eq 2 ] && [ "$1" = "$2" ]' _ "$w1" "$w2"
t0=$SECONDS
kill -TERM "${master:-0}" 2>/dev/null
stopped=0
# shellcheck disable=SC2086 # one argument per pid
wait_gone 8 "$ushare" ${master:-} $w2 && stopped=1
rc=-1
if [ "$stopped" -eq 1 ]; then
	wait "$ushare" 2>/dev/null
	rc=$?
fi
check "finding 3: SIGTERM stops it and its workers (status $rc, $((SECONDS - t0)) s)" \
	bash -c '[ "$1" -eq 1 ] && [ "$2" -eq 0 ]' _ "$stopped" "$rc"
left=0
for f in /proc/[0-9]*/ns/pid; do
	[ "$(readlink "$f" 2>/dev/null)" = "$pidns" ] && left=$((left + 1))
done
check "finding 3: nothing left in its PID namespace ($left process(es))" \
	bash -c '[ -n "$1" ] && [ "$2" -eq 0 ]' _ "$pidns" "$left"
[ -n "$master" ] && stop_lbtls "$master"

# --- finding 4: the agent's listeners -----------------------------------------------
# With agent.socket set (no agent runs: the workers keep retrying), every
# socket lbtls listens on is the configured one, the admin one, or bound to
# loopback: only traffic steered by sk_lookup may reach the agent's.
next_ports
write_conf f4 "$three" "agent:
  socket: $tmp/agent.sock
shutdown_timeout: 5s"
check "finding 4: lbtls with agent.socket serves" start_lbtls f4
sleep 0.5 # the workers have made their listeners
pidre=$({
	echo "$master"
	workers "$master"
} | paste -sd'|')
lis=$(ss -Hltnp | grep -E "pid=($pidre)," | awk '{print $4}' | sort -u)
outside=$(grep -v "^127\.0\.0\.1:$https$\|^127\.0\.0\.1:$admin$\|^127\.\|^\[::1\]:\|^\[::ffff:127\." <<<"$lis" | paste -sd' ')
check "finding 4: no lbtls listener reachable from outside (${outside:-none}; $(wc -l <<<"$lis") listening)" \
	test -z "$outside"
stop_lbtls "$master"

# ka_load.py PORT NCONN SECONDS: NCONN keep-alive connections, each sending
# its next request 0-30 ms after the last answer (as a browser does), for
# at most SECONDS; prints "ready" once each has had 3 answers, then a
# summary. A lost request is one sent on a connection that then closed or
# reset without answering it. A connection ends well only after an answer
# with Connection: close; the client does not reconnect (a stopping lbtls
# refuses new connections).
cat >"$tmp/ka_load.py" <<'EOF'
import random, socket, ssl, sys, threading, time
port, nconn, cap = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
lock = threading.Lock()
st = dict(sent=0, answered=0, lost=0, closed_after_close=0, closed_other=0,
          open_at_end=0, errors=0)
warm = threading.Semaphore(0)
deadline = time.monotonic() + cap

def add(k):
    with lock:
        st[k] += 1

def read_answer(s, buf):
    """(head, rest) of one answer with Content-Length, or None on close."""
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            return None
        buf += d
    head, rest = buf.split(b"\r\n\r\n", 1)
    n = 0
    for l in head.split(b"\r\n")[1:]:
        k, _, v = l.partition(b":")
        if k.strip().lower() == b"content-length":
            n = int(v)
    while len(rest) < n:
        d = s.recv(65536)
        if not d:
            return None
        rest += d
    return head, rest[n:]

def conn():
    try:
        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)))
        s.settimeout(8)
    except (OSError, ssl.SSLError):
        add("errors")
        warm.release()
        return
    buf, done = b"", 0
    while time.monotonic() < deadline:
        try:
            s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        except (OSError, ssl.SSLError):
            add("sent")
            add("lost")
            return
        add("sent")
        try:
            r = read_answer(s, buf)
        except (OSError, ssl.SSLError):
            r = None
        if r is None:
            add("lost")
            return
        head, buf = r
        add("answered")
        done += 1
        if done == 3:
            warm.release()
        if b"\r\nconnection: close" in head.lower():
            try:
                end = s.recv(1)  # lbtls closes after it
            except (OSError, ssl.SSLError):
                end = b""
            add("closed_after_close" if end == b"" else "closed_other")
            return
        time.sleep(random.uniform(0, 0.03))
    add("open_at_end")

ts = [threading.Thread(target=conn, daemon=True) for _ in range(nconn)]
for t in ts:
    t.start()
for _ in ts:
    warm.acquire(timeout=cap)
print("ready", flush=True)
for t in ts:
    t.join(max(0, deadline - time.monotonic()) + 10)
with lock:
    print(" ".join("%s=%d" % kv for kv in st.items()), flush=True)
EOF
ka_run() { # ka_run SIGNAL OUT: ka_load.py against lbtls, SIGNAL to the master
	# once it is warm; sets res to its summary
	"$python" "$tmp/ka_load.py" "$https" 20 20 >"$2" 2>&1 &
	local ka=$!
	for _ in $(seq 1 100); do
		grep -q ready "$2" && break
		sleep 0.1
	done
	sleep 0.5
	kill -"$1" "$master"
	t0=$SECONDS
	wait "$ka"
	res=$(tail -1 "$2")
}

# --- reload under keep-alive load ---------------------------------------------------
# h2load --h1 keeps its 50 connections alive; a server's Connection: close
# it handles by reconnecting (0 failed against nginx with keepalive_requests
# 100), so any failure is a connection closed under a request in flight.
next_ports
write_conf rl "$three" "shutdown_timeout: 10s"
check "reload: lbtls serves" start_lbtls rl
old=$(workers "$master")
h2load --h1 -n 20000 -c 50 "https://127.0.0.1:$https/" >"$tmp/h2load.out" 2>&1 &
h2=$!
(
	# On h2load's progress, not on timing alone: each SIGHUP only while
	# h2load is still running.
	sleep 0.7
	kill -0 "$h2" 2>/dev/null && kill -HUP "$master" && echo hup >>"$tmp/sighup"
	for _ in $(seq 1 200); do # h2load 40 % through (at most 10 s)
		grep -q 'progress: [4-9]0% done' "$tmp/h2load.out" && break
		kill -0 "$h2" 2>/dev/null || break
		sleep 0.05
	done
	kill -0 "$h2" 2>/dev/null && kill -HUP "$master" && echo hup >>"$tmp/sighup"
) &
signaller=$!
end=$((SECONDS + 120))
while kill -0 "$h2" 2>/dev/null && [ "$SECONDS" -lt "$end" ]; do sleep 0.2; done
kill -TERM "$h2" 2>/dev/null
wait "$h2"
wait "$signaller"
sent=0
[ -f "$tmp/sighup" ] && sent=$(wc -l <"$tmp/sighup")
check "reload: 2 SIGHUPs sent while h2load ran ($sent)" test "$sent" -eq 2
req=$(grep '^requests:' "$tmp/h2load.out")
read -r ok nfail nerr < <(sed -nE \
	's/.* ([0-9]+) succeeded, ([0-9]+) failed, ([0-9]+) errored.*/\1 \2 \3/p' <<<"$req")
check "reload: h2load 20000 succeeded, 0 failed, 0 errored (${req:-no result})" \
	bash -c '[ "${1:-0}" -eq 20000 ] && [ "${2:-1}" -eq 0 ] && [ "${3:-1}" -eq 0 ]' \
	_ "${ok:-}" "${nfail:-}" "${nerr:-}"
for _ in $(seq 1 100); do # the old generations drain, then exit
	[ "$(workers "$master" | wc -l)" -eq 2 ] && break
	sleep 0.1
done
check "reload: the workers were replaced, 2 run" \
	bash -c '[ "$(wc -l <<<"$1")" -eq 2 ] && [ -z "$(comm -12 <(echo "$2") <(echo "$1"))" ]' \
	_ "$(workers "$master")" "$old"
check "reload: lbtls serves after the reloads" wait_http "https://127.0.0.1:$https/"
# Clients that think between requests: an old worker must not close their
# idle connections under them, only answer each one's next request with
# Connection: close.
ka_run HUP "$tmp/ka_hup.out"
check "reload: SIGHUP under keep-alive load with think time: no request lost ($res)" \
	no_loss "$res"
check "reload: each old connection closed after a Connection: close answer ($(val closed_after_close)/20)" \
	test "$(val closed_after_close)" = 20
stop_lbtls "$master"

# --- graceful stop (SIGQUIT) under keep-alive load -------------------------------------
next_ports
write_conf sq "$three" "shutdown_timeout: 10s"
check "stop: lbtls serves" start_lbtls sq
sq_workers=$(workers "$master")
ka_run QUIT "$tmp/ka_quit.out"
t_load=$((SECONDS - t0))
# shellcheck disable=SC2086 # one argument per pid
wait_gone 8 "$master" $sq_workers
gone_at=$((SECONDS - t0))
check "stop: SIGQUIT under keep-alive load: no request lost ($res)" no_loss "$res"
check "stop: every connection closed after a Connection: close answer ($(val closed_after_close)/20)" \
	test "$(val closed_after_close)" = 20
# shellcheck disable=SC2086 # one argument per pid
check "stop: lbtls and its workers exited after the load, before shutdown_timeout 10s (load ${t_load}s, exit ${gone_at}s)" \
	gone_before 9 "$gone_at" "$master" $sq_workers
stop_lbtls "$master"

finish
