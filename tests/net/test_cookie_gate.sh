#!/usr/bin/env bash
# XDP SYN cookies only where the kernel and the interface let them work
# (issue 20, findings 2 and 6). A client namespace, a veth to a "host"
# namespace where the lbctl agent attaches XDP, two lbtls workers behind
# VIP:80 (their redirect answers; no backend needed). Flood mode is forced
# on through the agent config's flood: section (syn_rate 1: the first SYN
# on a CPU starts it). Then:
#   (a) native XDP on a veth whose peer has no XDP program: the agent
#       keeps cookies off there and says so (log line naming the interface
#       and the reason, lb_cookies_enabled metric, lbctl status); the
#       client connects 3 of 3 through the kernel. With an XDP_PASS program
#       on the peer (build/bpf/lb_pass.bpf.o) cookies come back on and
#       carry the connections. A peer in the host's own namespace counts
#       its GRO too (lbctl attach). Generic mode needs nothing on the peer: its
#       XDP_TX goes through the veth's own transmit (checked here).
#   (b) tcp_timestamps=0, tcp_sack=0, tcp_window_scaling=0 in the host
#       namespace: the cookie SYN-ACK offers none of them, the connections
#       work and carry none (TCP_INFO), cookie_ok equals the connections
#       accepted; tcp_syncookies=0: the agent refuses cookies and names the
#       sysctl, connections work through the kernel, cookie_ok unchanged.
# Ends with "N passed, N failed"; a trap removes everything it made.
#
# Usage: bash tests/net/test_cookie_gate.sh BUILD_DIR
set -u
BUILD=$(realpath "${1:-build}")
cd "$(dirname "$0")/../.." || exit 1
. tests/net/lib.sh
T=lbg$$
HOST=$T-host
CLI=$T-cli
INST=$T
DIR=$(mktemp -d /tmp/lbl-gate.XXXXXX)
SOCK=/run/lbctl/$T.sock
VIP4=198.18.0.100
CLI4=198.18.1.10
METRICS=127.0.0.1:9157
PASS_OBJ=$BUILD/bpf/lb_pass.bpf.o
# a build from before lb_pass existed: the tree's own
[ -f "$PASS_OBJ" ] || PASS_OBJ=$PWD/build/bpf/lb_pass.bpf.o
pass=0
fail=0
pids=()
agent_pid=

LBCTL=("$BUILD/lbctl" --instance "$INST" --netns "$HOST")

cleanup() {
	local p
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	"${LBCTL[@]}" unload 2>/dev/null
	ip netns del "$CLI" 2>/dev/null
	ip netns del "$HOST" 2>/dev/null
	rm -f /run/lbctl/"$T".lock /run/lbctl/"$T".agent.lock "$SOCK" # the agent dies by -9
	if [ "$fail" -gt 0 ]; then
		echo "--- checks.log"
		tail -n 40 "$DIR/checks.log"
		echo "--- agent.log"
		tail -n 30 "$DIR/agent.log"
	fi
	rm -rf "$DIR"
}
trap cleanup EXIT

topology() {
	ip netns add "$HOST" && ip netns add "$CLI" &&
		ip -n "$HOST" link add lbh type veth peer name lbc netns "$CLI" &&
		ip -n "$HOST" link set lo up && ip -n "$HOST" link set lbh up &&
		ip -n "$HOST" addr add 198.18.1.1/24 dev lbh &&
		ip -n "$HOST" addr add $VIP4/32 dev lo &&
		ip -n "$CLI" link set lo up && ip -n "$CLI" link set lbc up &&
		ip -n "$CLI" addr add $CLI4/24 dev lbc &&
		ip -n "$CLI" route add 198.18.0.0/24 via 198.18.1.1 &&
		ip netns exec "$CLI" ping -q -c1 -W2 198.18.1.1 >/dev/null
}

agent_config() { # agent_config MODE
	cat >"$DIR/agent.yaml" <<EOF
socket: $SOCK
metrics: $METRICS
interfaces: [{name: lbh, mode: $1}]
vips:
  - address: $VIP4:80
health: {interval_ms: 300, timeout_ms: 500, rise: 1, fall: 2}
# flood mode from the first SYN on a CPU, for 10 minutes; no per-source
# limit, so every SYN meets the cookie decision
flood: {enabled: true, cookies: true, syn_rate: 1, hold_ms: 600000, src_rate: 0}
EOF
}

configs() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-days 2 -subj "/CN=gate.test" -addext "subjectAltName=DNS:gate.test" \
		-keyout "$DIR/key.pem" -out "$DIR/cert.pem" 2>/dev/null || return 1
	agent_config native
	cat >"$DIR/lbtls.yaml" <<EOF
workers: 2
agent: {socket: $SOCK}
tls:
  certificates: [{fullchain: $DIR/cert.pem, privkey: $DIR/key.pem}]
upstream:
  servers: [127.0.0.1:5001]
log: {access: "off", error: $DIR/lbtls-error.log}
metrics: 127.0.0.1:9158
EOF
	# N connections to VIP:80, one request each; prints "OK/N options=..."
	# with each connection's TCP_INFO options (1 TS, 2 SACK, 4 WSCALE)
	cat >"$DIR/conn.py" <<'EOF'
import socket, struct, sys
vip, n = sys.argv[1], int(sys.argv[2])
ok, opts = 0, set()
for _ in range(n):
    s = socket.socket()
    s.settimeout(4)
    try:
        s.connect((vip, 80))
        opts.add(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[5])
        s.sendall(b"GET / HTTP/1.0\r\nHost: gate.test\r\n\r\n")
        if s.recv(100).startswith(b"HTTP/1."):
            ok += 1
    except OSError as e:
        print("connect:", e, file=sys.stderr)
    s.close()
print("%d/%d options=%s" % (ok, n, ",".join(str(o) for o in sorted(opts))))
EOF
}

up_workers() { # until N workers are up on the VIP (bounded: 10 s)
	local up
	for _ in $(seq 100); do
		up=$("${LBCTL[@]}" worker list "$VIP4:80" 2>/dev/null | grep -c ' up ')
		[ "$up" -ge "$1" ] && return 0
		sleep 0.1
	done
	say "only $up of $1 workers up"
	return 1
}

stat_of() { # stat_of COUNTER of the VIP
	"${LBCTL[@]}" stats --json | python3 -c '
import json, sys
for v in json.load(sys.stdin)["vips"]:
    if v["vip"] == sys.argv[1]:
        print(v[sys.argv[2]])' "$VIP4:80" "$1"
}

reason() { # reason NAME: an outcome count
	"${LBCTL[@]}" stats --json | python3 -c '
import json, sys
print(json.load(sys.stdin)["outcomes"][sys.argv[1]])' "$1"
}

metric() { # metric REGEX: the agent's /metrics lines matching
	ip netns exec "$HOST" curl -sf --max-time 2 "http://$METRICS/metrics" |
		grep -E "$1"
}

wait_quiet() { # wait_quiet CMD...: until it succeeds (5 s); output of the last try only
	for _ in $(seq 50); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	"$@"
}

# connect N EXPECT_SENT(yes|no): N connections from the client, all OK;
# cookie_ok rose by exactly the connections accepted when cookies carry
# them, and XDP sent no cookie when they do not. Leaves the client's
# output in $DIR/conn.out.
connect() {
	local n=$1 sent0 ok0 sent ok out got
	sent0=$(stat_of cookies_sent) ok0=$(stat_of cookies_ok)
	out=$(ip netns exec "$CLI" python3 "$DIR/conn.py" $VIP4 "$n" 2>>"$DIR/conn.err")
	echo "$out" >"$DIR/conn.out"
	sent=$(stat_of cookies_sent) ok=$(stat_of cookies_ok)
	got=${out%%/*}
	say "connect $n ($2 cookies): $out; cookies_sent $sent0->$sent" \
		"cookies_ok $ok0->$ok; flood_start $(reason flood_start)" \
		"assign_fail $(reason cookie_assign_fail)"
	[ "$got" = "$n" ] || return 1
	if [ "$2" = yes ]; then
		[ "$sent" -ge $((sent0 + n)) ] && [ "$ok" = $((ok0 + got)) ]
	else
		[ "$sent" = "$sent0" ] && [ "$ok" = "$ok0" ] &&
			[ "$(reason flood_start)" -gt 0 ]
	fi
}

no_options() { grep -q 'options=0$' "$DIR/conn.out"; }

agent_said() { grep -q -- "$1" "$DIR/agent.log"; }

status_says() { "${LBCTL[@]}" status | tee -a "$DIR/checks.log" | grep -q -- "$1"; }

peer_xdp_pass() {
	ip -n "$CLI" link set dev lbc xdpdrv obj "$PASS_OBJ" sec xdp
}

reattach_generic() {
	ip -n "$CLI" link set dev lbc xdpdrv off &&
		"${LBCTL[@]}" detach lbh && agent_config generic &&
		kill -HUP "$agent_pid" &&
		wait_quiet grep -q 'attached XDP to lbh (generic)' "$DIR/agent.log"
}

# A veth pair vga/vgb inside the host namespace: lbctl attach (native) to
# vga says cookies off while vgb has no XDP program and no GRO, and on
# again once vgb has GRO (ETHTOOL_SGRO; the peer is in the same namespace,
# where its GRO can be seen).
gro() { # gro DEV 0|1
	ip netns exec "$HOST" python3 -c '
import ctypes, fcntl, socket, struct, sys
ev = ctypes.create_string_buffer(struct.pack("II", 0x2c, int(sys.argv[2])))
ifr = struct.pack("16sP", sys.argv[1].encode(), ctypes.addressof(ev)) + bytes(16)
s = socket.socket()
fcntl.ioctl(s.fileno(), 0x8946, ifr)' "$1" "$2"
}

same_ns_peer_gro() {
	local out
	ip -n "$HOST" link add vga type veth peer name vgb &&
		ip -n "$HOST" link set vga up && ip -n "$HOST" link set vgb up &&
		gro vgb 0 || return 1
	out=$("${LBCTL[@]}" attach --mode native vga 2>&1)
	echo "$out"
	echo "$out" | grep -q "cookies off on 'vga' (veth-peer-no-napi): its veth peer 'vgb' has no native XDP program and no GRO" ||
		return 1
	gro vgb 1 || return 1
	out=$("${LBCTL[@]}" attach --mode native vga 2>&1)
	echo "$out"
	echo "$out" | grep -q "cookies on 'vga' again" &&
		"${LBCTL[@]}" detach vga && ip -n "$HOST" link del vga
}

host_sysctl() { ip netns exec "$HOST" sysctl -qw "$@"; }

fail_now() {
	echo "FAIL $1"
	echo "0 passed, 1 failed"
	exit 1
}

[ "$(id -u)" = 0 ] || fail_now "must run as root (namespaces, BPF)"
for t in python3 curl openssl ip bpftool; do
	command -v $t >/dev/null || fail_now "$t is missing (make deps)"
done
[ -f "$PASS_OBJ" ] || fail_now "no XDP_PASS object lb_pass.bpf.o in $BUILD/bpf"

check "topology: host and client namespaces" topology
check "configs and certificate" configs
"${LBCTL[@]}" agent -c "$DIR/agent.yaml" >>"$DIR/agent.log" 2>&1 &
agent_pid=$!
pids+=("$agent_pid")
disown $agent_pid
start lbtls ip netns exec "$HOST" "$BUILD/lbtls" -c "$DIR/lbtls.yaml"
check "two lbtls workers register with the agent" up_workers 2

# (a) the interface gate
check "native XDP on a veth whose peer has none: the agent logs cookies off on 'lbh' and why" \
	agent_said "cookies off on 'lbh' (veth-peer-no-napi): its veth peer 'lbc' (another namespace) has no native XDP program"
check "metric lb_cookies_enabled{interface=\"lbh\",reason=\"veth-peer-no-napi\"} 0" \
	metric '^lb_cookies_enabled\{interface="lbh",reason="veth-peer-no-napi"\} 0$'
check "lbctl status shows cookies off on lbh and why" status_says "lbh veth-peer-no-napi"
check "flood mode, cookies off on lbh: 3 of 3 connect through the kernel, no cookie sent" \
	connect 3 no
check "an XDP_PASS program on the peer (lb_pass.bpf.o)" peer_xdp_pass
check "the agent sees it on its next tick: lb_cookies_enabled{lbh,ok} 1" \
	wait_quiet metric '^lb_cookies_enabled\{interface="lbh",reason="ok"\} 1$'
check "with the peer's program: 3 of 3 through XDP cookies, cookie_ok = connections" \
	connect 3 yes
check "a veth peer in the same namespace: cookies off without GRO, on with it" \
	same_ns_peer_gro
check "generic mode, peer program removed: cookies stay on (XDP_TX goes out via veth_xmit)" \
	reattach_generic
check "generic mode: metric lb_cookies_enabled{lbh,ok} 1" \
	wait_quiet metric '^lb_cookies_enabled\{interface="lbh",reason="ok"\} 1$'
check "generic mode: 3 of 3 through XDP cookies, cookie_ok = connections" \
	connect 3 yes

# (b) the namespace's sysctls
check "tcp_timestamps, tcp_sack, tcp_window_scaling = 0 in the host namespace" \
	host_sysctl net.ipv4.tcp_timestamps=0 net.ipv4.tcp_sack=0 \
	net.ipv4.tcp_window_scaling=0
check "the agent names each sysctl it follows" \
	wait_quiet bash -c "grep -q 'net.ipv4.tcp_timestamps=0: cookie SYN-ACKs carry no timestamps' '$DIR/agent.log' &&
		grep -q 'net.ipv4.tcp_sack=0' '$DIR/agent.log' &&
		grep -q 'net.ipv4.tcp_window_scaling=0' '$DIR/agent.log'"
check "lbctl status shows the SYN-ACK without timestamps" status_says "no timestamps (net.ipv4.tcp_timestamps=0)"
check "sysctls off: 5 of 5 through XDP cookies, cookie_ok = connections accepted" \
	connect 5 yes
check "sysctls off: no connection carries TS, SACK or window scaling (TCP_INFO)" no_options
check "tcp_syncookies = 0 in the host namespace (the rest back on)" \
	host_sysctl net.ipv4.tcp_syncookies=0 net.ipv4.tcp_timestamps=1 \
	net.ipv4.tcp_sack=1 net.ipv4.tcp_window_scaling=1
check "the agent refuses cookies and names net.ipv4.tcp_syncookies" \
	wait_quiet grep -q 'net.ipv4.tcp_syncookies=0: XDP SYN cookies refused' "$DIR/agent.log"
check "metric lb_cookies_enabled{lbh,net.ipv4.tcp_syncookies=0} 0" \
	wait_quiet metric '^lb_cookies_enabled\{interface="lbh",reason="net.ipv4.tcp_syncookies=0"\} 0$'
check "lbctl status says refused: net.ipv4.tcp_syncookies=0" status_says "refused: net.ipv4.tcp_syncookies=0"
check "tcp_syncookies=0: 3 of 3 connect through the kernel, cookie_ok unchanged" \
	connect 3 no

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
