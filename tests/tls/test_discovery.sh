#!/usr/bin/env bash
# Discovery without Docker in lbtls (issue 19, findings 9 and 10): the lbtls
# master reads upstream.file and never talks to the Docker Engine API;
# 'lbtls discover' does, with a client that waits for nothing. Against a
# fake engine that accepts every connection, reads the request and never
# answers:
#  - lbtls starts without the file (and says so), serves once the file
#    lists a backend, and handles SIGHUP, while the fake engine holds
#    'lbtls discover''s requests unanswered;
#  - no process of lbtls (master, workers) ever connects to the engine's
#    socket, though upstream.docker names it; lbtls discover does;
#  - a bad file (FILE:LINE in the log) or a vanished one keeps the running
#    set; a good one replaces it;
#  - lbtls discover stops on SIGTERM while the engine holds its request.
# Order of events, never durations (every wait is a bounded poll). lbtls
# runs in a network namespace of its own; needs root for it.
#
# Usage: bash tests/tls/test_discovery.sh BUILD_DIR
set -u
build=${1:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
lbtls=$root/$build/lbtls
[[ $build == /* ]] && lbtls=$build/lbtls

# shellcheck source=tests/tls/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ns=lbdc$$
tmp=$(mktemp -d /tmp/lbtls-discovery.XXXXXX)
master=
discover=
fake_pid=
cleanup() {
	[ -n "$master" ] && kill -KILL "$master" 2>/dev/null
	[ -n "$discover" ] && kill -KILL "$discover" 2>/dev/null
	[ -n "$fake_pid" ] && kill -KILL "$fake_pid" 2>/dev/null
	for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p"; done
	wait 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	remove_tmp "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- prerequisites: fail, never skip ----------------------------------------
require_root "it makes a network namespace"
require_tools "" curl openssl python3 ip
require_built "$lbtls" "$build"
[ "$missing" -eq 0 ] || finish

nsx() { ip netns exec "$ns" "$@"; }
check "network namespace" bash -c "ip netns add $ns && ip -n $ns link set lo up"
mkcert "$tmp/cert"
mkdir -p "$tmp/disc" "$tmp/www"
echo "backend A" >"$tmp/www/index.html"
list=$tmp/disc/upstreams

# --- a fake Docker engine that never answers --------------------------------
# Logs one line per connection: "conn PID REQUEST-LINE" (the peer's pid
# from SO_PEERCRED) and keeps every connection open.
cat >"$tmp/fake_docker.py" <<'PY'
import os, socket, struct, sys, threading
path, log = sys.argv[1], sys.argv[2]
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(64)
held = []
def serve(c):
    pid = struct.unpack("3i", c.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[0]
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = c.recv(4096)
        if not chunk:
            break
        data += chunk
    with open(log, "a") as f:
        f.write("conn %d %s\n" % (pid, data.split(b"\r\n")[0].decode(errors="replace")))
    held.append(c)  # never answered, never closed
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
: >"$tmp/docker.log"
python3 -u "$tmp/fake_docker.py" "$tmp/docker.sock" "$tmp/docker.log" 2>"$tmp/fake.err" &
fake_pid=$!
disown "$fake_pid"
for _ in $(seq 100); do [ -S "$tmp/docker.sock" ] && break; sleep 0.05; done
check "fake Docker engine listens on $tmp/docker.sock" test -S "$tmp/docker.sock"

# A backend in the namespace.
nsx python3 -m http.server --bind 127.0.0.1 --directory "$tmp/www" 18080 \
	>"$tmp/backend.log" 2>&1 &
disown $!
cat >"$tmp/lbtls.yaml" <<YAML
workers: 1
listen:
  https: [127.0.0.1:8443]
tls:
  certificates: [{fullchain: $tmp/cert/fullchain.pem, privkey: $tmp/cert/privkey.pem}]
upstream:
  health: {enabled: false}
  max_fails: 0
  file: $list
  docker:
    socket: $tmp/docker.sock
    label: xdp-tls-lb.upstream=flaskapp
log: {access: "off", error: $tmp/error.log}
metrics: 127.0.0.1:9145
YAML

# As the compose services run them: discover first, then lbtls.
"$lbtls" discover -c "$tmp/lbtls.yaml" 2>"$tmp/discover.log" &
discover=$!
disown "$discover"
ip netns exec "$ns" "$lbtls" -c "$tmp/lbtls.yaml" 2>>"$tmp/error.log" &
master=$! # ip netns exec execs lbtls: this is the master
disown "$master"

get() { nsx curl -sk -m 5 https://127.0.0.1:8443/; }
metrics() { nsx curl -s -m 5 http://127.0.0.1:9145/metrics; }
wait_for() { # wait_for COMMAND...: bounded poll, 10 s
	local _
	for _ in $(seq 100); do "$@" && return 0; sleep 0.1; done
	return 1
}
held_list() { grep -q "^conn $discover GET /containers/json" "$tmp/docker.log"; }
logged() { grep -qF -- "$1" "$tmp/error.log"; }

check "lbtls discover holds an unanswered container list request at the fake engine" \
	wait_for held_list
check "lbtls starts without the file and says so" \
	wait_for logged "upstream.file $list: No such file or directory"
check "lbtls answers /metrics meanwhile" bash -c "$(declare -f metrics nsx); ns=$ns; metrics | grep -q '^lbtls_workers 1'"

# The operator's way to write it: a temporary file renamed over.
printf '# by the test\n127.0.0.1:18080\n' >"$list.new" && mv "$list.new" "$list"
body_a() { [ "$(get)" = "backend A" ]; }
check "the file's backend serves once written" wait_for body_a
check "lbtls logged the file's servers" logged "upstream.file $list: 1 server(s)"

kill -HUP "$master"
check "SIGHUP reloads while the engine holds discover's requests" \
	wait_for logged "reload: generation 1 started"
check "still served after the reload" wait_for body_a

# A bad version: FILE:LINE in the log, the running set stays.
printf '127.0.0.1:18080\nwebsite2:5000\n' >"$list.new" && mv "$list.new" "$list"
check "a bad file is refused with FILE:LINE" \
	wait_for logged "upstream.file $list:2: 'website2:5000'"
check "the running set stays after a bad file" body_a
rm -f "$list"
check "a removed file is logged and the set stays" \
	wait_for logged "upstream.file $list: No such file or directory: keeping the 1 server(s)"
check "still served with the file gone" body_a
printf '127.0.0.1:18081\n' >"$list.new" && mv "$list.new" "$list"
gone_a() { metrics | grep -q 'lbtls_upstream_up{server="127.0.0.1:18081"' && ! body_a; }
check "a good file replaces the set (A leaves, an absent server joins)" wait_for gone_a

# A writer that is gone or stuck (this engine never answers, so discover
# never refreshes the file): upstream.file_max_age, set by a reload, makes
# lbtls say so in its log and /metrics, and keep the set; a refresh of the
# file's time (what discover does when a list finds the same containers)
# is "fresh again", and not a change.
sed -i 's/^  max_fails: 0$/  max_fails: 0\n  file_max_age: 2s/' "$tmp/lbtls.yaml"
kill -HUP "$master"
check "SIGHUP with upstream.file_max_age: 2s" wait_for logged "reload: generation 2 started"
stale() { metrics | grep -qx 'lbtls_upstream_file_stale 1'; }
check "a file not refreshed for 2 s is logged as stale" \
	wait_for logged "upstream.file $list: not refreshed for"
check "... and lbtls_upstream_file_stale is 1 ($(metrics | grep '^lbtls_upstream_file_age_seconds'))" wait_for stale
changes=$(grep -c "upstream.file $list changed" "$tmp/error.log")
touch "$list"
fresh() { metrics | grep -qx 'lbtls_upstream_file_stale 0'; }
check "a refreshed file is fresh again (log)" wait_for logged "upstream.file $list: refreshed again"
check "... and lbtls_upstream_file_stale is 0" wait_for fresh
check "a refresh is not a change (no new 'changed' line), the set stays" \
	bash -c "[ \$(grep -c 'upstream.file $list changed' '$tmp/error.log') = $changes ] && $(declare -f metrics nsx); ns=$ns; metrics | grep -q 'lbtls_upstream_up{server=\"127.0.0.1:18081\"'"

# Who talked to the engine: lbtls discover, never lbtls.
pids=" $master $(pgrep -P "$master" | tr '\n' ' ')"
talkers=$(awk '{print $2}' "$tmp/docker.log" | sort -u | tr '\n' ' ')
echo "    engine connections from pids: $talkers; lbtls:$pids; discover: $discover"
lbtls_talked=no
for p in $talkers; do
	case "$pids " in *" $p "*) lbtls_talked=yes ;; esac
done
check "no lbtls process ever connected to the Docker socket" test "$lbtls_talked" = no
check "lbtls discover did (events and list)" \
	bash -c "grep -q '^conn $discover GET /events' '$tmp/docker.log' && grep -q '^conn $discover GET /containers/json' '$tmp/docker.log'"
check "lbtls discover wrote nothing: no list ever succeeded" \
	bash -c "! grep -q 'server(s):' '$tmp/discover.log'"

# discover's client waits for nothing either: SIGTERM while the engine
# holds its list request stops it at once, without first giving up on
# the list (no new "listing containers" error between the two).
errs_before=$(grep -c 'listing containers' "$tmp/discover.log")
held_now() { [ "$(grep -c "^conn $discover GET /containers/json" "$tmp/docker.log")" -gt 0 ]; }
wait_for held_now
kill -TERM "$discover"
exited() { ! kill -0 "$discover" 2>/dev/null; }
check "lbtls discover exits on SIGTERM while the engine holds its list" wait_for exited
errs_after=$(grep -c 'listing containers' "$tmp/discover.log")
echo "    discover's list errors: $errs_before before SIGTERM, $errs_after after"
check "... without giving up on the list first, and says the file stays" \
	bash -c "[ $errs_before = $errs_after ] && grep -q 'Terminated: stopping; $list keeps the last set' '$tmp/discover.log'"
discover=
finish
