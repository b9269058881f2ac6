#!/usr/bin/env bash
# Nothing blocks lbtls's event loops (issue 10, finding 9), asserted by the
# order of events, never by a duration:
#  - a fake lbctl agent accepts the worker's registration and never answers;
#    a client request to that worker is answered while the registration
#    connection is still open (the worker does not wait for the agent);
#  - a scraper sends GET /metrics and never reads; a second scraper gets its
#    complete answer and the master handles a SIGHUP while the first is
#    stalled, and the first still gets its complete answer when it reads.
# lbtls runs in a network namespace of its own whose TCP send buffers are
# small (net.ipv4.tcp_wmem), so a /metrics answer cannot sit whole in the
# kernel. Needs root (the namespace): without it the checks fail.
#
# Usage: bash tests/tls/test_no_blocking.sh BUILD_DIR
set -u
build=${1:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
lbtls=$root/$build/lbtls
[[ $build == /* ]] && lbtls=$build/lbtls

# shellcheck source=tests/tls/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ns=lbnb$$
tmp=$(mktemp -d /tmp/lbtls-noblock.XXXXXX)
master=
agent_pid=
cleanup() {
	[ -n "$master" ] && kill -KILL "$master" 2>/dev/null
	[ -n "$agent_pid" ] && kill -KILL "$agent_pid" 2>/dev/null
	# the workers die with the namespace's last process: kill what is left
	for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p"; done
	wait 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	if [ "${KEEP_TMP:-0}" = 1 ] && [ "$failed" -gt 0 ]; then
		echo "kept $tmp"
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- prerequisites: fail, never skip ----------------------------------------
require_root "it makes a network namespace"
require_tools "" curl openssl python3 ip
require_built "$lbtls" "$build"
[ "$missing" -eq 0 ] || finish

nsx() { ip netns exec "$ns" "$@"; }

check "network namespace with small TCP send buffers" \
	bash -c "ip netns add $ns && ip -n $ns link set lo up &&
		ip netns exec $ns sysctl -qw net.ipv4.tcp_wmem='4096 4096 4096'"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-days 2 -subj "/CN=noblock.test" -keyout "$tmp/key.pem" \
	-out "$tmp/cert.pem" 2>/dev/null

# Many (absent) upstream servers: a /metrics answer far above the buffers.
servers=$(for p in $(seq 20001 20064); do printf '127.0.0.1:%s, ' "$p"; done)
cat >"$tmp/lbtls.yaml" <<EOF
workers: 1
listen:
  http: [127.0.0.1:8080]
tls:
  certificates: [{fullchain: $tmp/cert.pem, privkey: $tmp/key.pem}]
upstream:
  servers: [${servers%, }]
  health: {enabled: false}
agent: {socket: $tmp/agent.sock}
log: {access: "off", error: $tmp/error.log}
metrics: 127.0.0.1:9145
EOF

# --- a fake agent that never answers ----------------------------------------
# Prints "listening", then "registered N" once it holds the worker's
# registration (N bytes); then, for each "state" line on stdin, "open" while
# that connection is open and "eof" once the worker has closed it.
cat >"$tmp/fake_agent.py" <<'EOF'
import os, socket, sys
path = sys.argv[1]
srv = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
srv.bind(path)
srv.listen(8)
print("listening", flush=True)
conn, _ = srv.accept()
msg, anc, _, _ = conn.recvmsg(64, socket.CMSG_SPACE(64))
print("registered", len(msg), flush=True)
for line in sys.stdin:
    try:
        data = conn.recv(64, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        print("open" if data else "eof", flush=True)
    except BlockingIOError:
        print("open", flush=True)
    except OSError:
        print("eof", flush=True)
EOF

coproc FAKE { python3 -u "$tmp/fake_agent.py" "$tmp/agent.sock" 2>"$tmp/fake_agent.err"; }
agent_pid=$FAKE_PID
disown "$agent_pid" # the trap kills it; no job report after the summary
exec {agent_out}<&"${FAKE[0]}" {agent_in}>&"${FAKE[1]}"
line=
read -r -t 10 line <&"$agent_out"
check "fake agent listens on $tmp/agent.sock" test "$line" = listening

ip netns exec "$ns" "$lbtls" -c "$tmp/lbtls.yaml" 2>>"$tmp/error.log" &
master=$! # ip netns exec execs lbtls: this is the master
disown "$master" # the trap kills it; no job report after the summary
line=
read -r -t 10 line <&"$agent_out"
check "the worker sent its registration to the fake agent ($line)" \
	test "${line% *}" = registered

# The agent holds the registration and says nothing. The worker must serve.
code=$(nsx curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
	http://127.0.0.1:8080/x)
echo state >&"$agent_in"
state=
read -r -t 10 state <&"$agent_out"
echo "    client answered $code; registration connection then: $state"
check "a client is answered while the agent has not answered the registration" \
	test "$code" = 301 -a "$state" = open

# --- a scraper that never reads -------------------------------------------------
# Scraper 1 asks and does not read (the smallest receive buffer) until the
# master has started its answer; scraper 2 then asks and reads all; the
# master is sent SIGHUP and must log the reload; only then scraper 1 reads.
cat >"$tmp/scrapers.py" <<'EOF'
import os, signal, socket, sys, time
master, log = int(sys.argv[1]), sys.argv[2]
REQ = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"

def answer(s):
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    want = -1
    for h in head.split(b"\r\n"):
        if h.lower().startswith(b"content-length:"):
            want = int(h.split(b":")[1])
    return len(body), want

s1 = socket.socket()
s1.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)
s1.settimeout(10)
s1.connect(("127.0.0.1", 9145))
s1.sendall(REQ)
s1.recv(1, socket.MSG_PEEK)  # the master has begun the answer
s2 = socket.create_connection(("127.0.0.1", 9145), timeout=10)
s2.sendall(REQ)
got, want = answer(s2)
print("second", got, want, flush=True)
os.kill(master, signal.SIGHUP)
reloaded = False
for _ in range(100):  # a bound, not an assertion
    with open(log) as f:
        if "reload: generation 1 started" in f.read():
            reloaded = True
            break
    time.sleep(0.1)
print("reloaded", "yes" if reloaded else "no", flush=True)
got, want = answer(s1)
print("first", got, want, flush=True)
EOF
out=$(nsx python3 "$tmp/scrapers.py" "$master" "$tmp/error.log" 2>&1)
echo "    ${out//$'\n'/$'\n    '}"
read -r _ got2 want2 < <(grep '^second' <<<"$out")
read -r _ got1 want1 < <(grep '^first' <<<"$out")
check "the /metrics answer (${want2:-?} bytes) is over 4 times the 4 KiB send buffer" \
	test "${want2:-0}" -gt 16384
# The first is served, not given up on, while the master does the rest:
# its answer is whole when it finally reads.
first_whole=no
[ -n "${got1:-}" ] && [ "${got1:-0}" = "${want1:-1}" ] && first_whole=yes
check "a second scraper gets its complete answer while the first is stalled (first: ${got1:-?} of ${want1:-?} bytes)" \
	test -n "${got2:-}" -a "${got2:-0}" = "${want2:-1}" -a "$first_whole" = yes
check "the master handles SIGHUP while the first scraper is stalled (first: ${got1:-?} of ${want1:-?} bytes)" \
	test "$(grep -c '^reloaded yes' <<<"$out")" = 1 -a "$first_whole" = yes

finish
