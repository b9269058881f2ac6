#!/usr/bin/env bash
# Per-source limits and our MSS in flood mode (issue 20, findings 5 and 7),
# with the real parts: a client namespace, veth to a "host" namespace where
# the lbctl agent attaches XDP (generic mode, as tests/net/test_cookies.sh)
# and the tc ingress link, two lbtls workers. Flood mode is forced on by
# the agent config's flood: section (syn_rate 1: any SYN starts it; hold
# one hour), with src_rate 5/s and src_burst 5 per /24 and /64. Then:
#   - a spoofed SYN flood claiming the victim's /24 (198.18.1.100-199, raw
#     socket in the client namespace, 400 SYN/s on each CPU for 8 s), and
#     the victim's real client, 198.18.1.10, connects (TLS) 3 of 3 through
#     cookies meanwhile; no SYN was dropped for its source (rate_limited 0).
#   - a proven prefix over its rate: 12 quick connections from the client
#     on one CPU; every SYN is answered (the client retransmits none), its
#     cookie ACKs past the burst are dropped and counted (rate_limited, per
#     VIP and as an outcome), and every connection still completes once
#     its prefix has tokens again.
#   - MSS: a route to the client with MTU 1280 (`mtu lock`, forwarding on
#     lbh: what bpf_fib_lookup reads) gives MSS 1240 (IPv4) and 1220
#     (IPv6) in the SYN-ACK though the client offered 1460 / 1440; without
#     that route, a client offering 1300 / 1280 is told the interface's
#     1460 / 1440; with lbh's MTU at 1280 and forwarding off, 1240 / 1220.
#     The SYN-ACK is read by a raw socket in the client namespace.
# Ends with "N passed, N failed"; a trap removes everything it made.
#
# Usage: [VERBOSE=1] bash tests/net/test_cookie_limits.sh BUILD_DIR
set -u
BUILD=$(realpath "${1:-build}")
cd "$(dirname "$0")/../.." || exit 1
. tests/net/lib.sh
T=lbq$$
HOST=$T-host
CLI=$T-cli
INST=$T
DIR=$(mktemp -d /tmp/lbl-limits.XXXXXX)
SOCK=/run/lbctl/$T.sock
VIP4=198.18.0.100
VIP6=fd00:198:18::100
CLI4=198.18.1.10
CLI6=fd00:198:18:1::10
pass=0
fail=0
pids=()

LBCTL=("$BUILD/lbctl" --instance "$INST" --netns "$HOST")

cleanup() {
	local p
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	"${LBCTL[@]}" unload 2>/dev/null
	ip netns del "$CLI" 2>/dev/null
	ip netns del "$HOST" 2>/dev/null
	rm -f /run/lbctl/"$T".* "$SOCK" # the agent's lock too: it dies by -9
	if [ "$fail" -gt 0 ] || [ -n "${VERBOSE:-}" ]; then
		echo "--- checks.log"
		grep -v '^ \{0,1\}[a-z0-9_:.\[]\{1,\} \{2,\}[0-9]' "$DIR/checks.log" | tail -n 40
		echo "--- agent.log"
		tail -n 20 "$DIR/agent.log"
	fi
	rm -rf "$DIR"
}
trap cleanup EXIT

topology() {
	ip netns add "$HOST" && ip netns add "$CLI" &&
		ip -n "$HOST" link add lbh type veth peer name lbc netns "$CLI" &&
		ip -n "$HOST" link set lo up && ip -n "$HOST" link set lbh up &&
		ip -n "$HOST" addr add 198.18.1.1/24 dev lbh &&
		ip -n "$HOST" addr add fd00:198:18:1::1/64 dev lbh &&
		ip -n "$HOST" addr add $VIP4/32 dev lo &&
		ip -n "$HOST" addr add $VIP6/128 dev lo &&
		ip -n "$CLI" link set lo up && ip -n "$CLI" link set lbc up &&
		ip -n "$CLI" addr add $CLI4/24 dev lbc &&
		ip -n "$CLI" addr add $CLI6/64 dev lbc &&
		ip -n "$CLI" route add 198.18.0.0/24 via 198.18.1.1 &&
		ip -n "$CLI" route add fd00:198:18::/64 via fd00:198:18:1::1 &&
		no_tentative "$HOST" && no_tentative "$CLI" &&
		ip netns exec "$CLI" ping -q -c1 -W2 198.18.1.1 >/dev/null &&
		ip netns exec "$CLI" ping -q -c1 -W2 fd00:198:18:1::1 >/dev/null
}

configs() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-days 2 -subj "/CN=limits.test" -addext "subjectAltName=DNS:limits.test" \
		-keyout "$DIR/key.pem" -out "$DIR/cert.pem" 2>/dev/null || return 1
	cat >"$DIR/agent.yaml" <<EOF
socket: $SOCK
metrics: 127.0.0.1:9156
interfaces: [{name: lbh, mode: generic}]
vips:
  - address: $VIP4:443
  - address: "[$VIP6]:443"
health: {interval_ms: 300, timeout_ms: 500, rise: 1, fall: 2}
flood:
  enabled: true
  cookies: true
  syn_rate: 1
  hold_ms: 3600000
  src_rate: 5
  src_burst: 5
EOF
	cat >"$DIR/lbtls.yaml" <<EOF
workers: 2
agent: {socket: $SOCK}
tls:
  certificates: [{fullchain: $DIR/cert.pem, privkey: $DIR/key.pem}]
upstream:
  servers: [127.0.0.1:5001]
log: {access: "off", error: $DIR/lbtls-error.log}
metrics: 127.0.0.1:9155
EOF
}

up_workers() { # until N workers are up on the v4 VIP (bounded: 10 s)
	local up
	for _ in $(seq 100); do
		up=$("${LBCTL[@]}" worker list "$VIP4:443" 2>/dev/null | grep -c ' up ')
		[ "$up" -ge "$1" ] && return 0
		sleep 0.1
	done
	say "only $up of $1 workers up"
	return 1
}

stat_of() { # stat_of VIP COUNTER, e.g. stat_of 198.18.0.100:443 cookies_ok
	"${LBCTL[@]}" stats --json | python3 -c '
import json, sys
for v in json.load(sys.stdin)["vips"]:
    if v["vip"] == sys.argv[1]:
        print(v[sys.argv[2]])' "$1" "$2"
}

reason() { # reason NAME: an outcome count
	"${LBCTL[@]}" stats --json | python3 -c '
import json, sys
print(json.load(sys.stdin)["outcomes"][sys.argv[1]])' "$1"
}

cli_stat() { # cli_stat NAME: a kernel counter of the client namespace
	ip netns exec "$CLI" nstat -az "$1" | awk -v n="$1" '$1 == n {print $2}'
}

tls_ok() { # tls_ok: one TLS request from the real client over IPv4
	ip netns exec "$CLI" curl -sS -k --max-time 6 --interface "$CLI4" \
		-o /dev/null -w '%{http_code}\n' \
		--resolve "limits.test:443:$VIP4" "https://limits.test/" \
		2>>"$DIR/curl.log" | grep -qx 200
}

# Spoofed SYNs to the VIP from 198.18.1.100-199 (the victim's /24, never
# the real client's address), pinned to CPU $1: $2 SYN/s for $3 s. Bounded
# in count and time; the client namespace has no default route.
spoof() {
	ip netns exec "$CLI" taskset -c "$1" python3 -c '
import random, socket, struct, sys, time
dst, pps, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
n, t0 = 0, time.monotonic()
while n < pps * secs and time.monotonic() - t0 < secs + 2:
    src = "198.18.1.%d" % (100 + n % 100)
    sport = 1024 + random.randrange(60000)
    th = struct.pack("!HHIIBBHHH", sport, 443, random.getrandbits(32), 0,
                     5 << 4, 0x02, 65535, 0, 0)
    ph = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, 20)
    th = th[:16] + struct.pack("!H", csum(ph + th)) + th[18:]
    ih = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, n & 0xffff, 0, 64, 6, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    ih = ih[:10] + struct.pack("!H", csum(ih)) + ih[12:]
    s.sendto(ih + th, (dst, 0))
    n += 1
    time.sleep(max(0, t0 + n / pps - time.monotonic()))
print("sent", n)' "$VIP4" "$2" "$3"
}

victim_connects_under_spoofed_flood() {
	local ncpu ok=0 sent0 sent lim0 lim cok0 cok c spids=()
	ncpu=$(nproc)
	sent0=$(stat_of "$VIP4:443" cookies_sent) lim0=$(reason rate_limited)
	cok0=$(stat_of "$VIP4:443" cookies_ok)
	for ((c = 0; c < ncpu; c++)); do
		spoof "$c" 400 8 >>"$DIR/spoof.log" 2>&1 &
		spids+=($!)
		pids+=($!)
	done
	sleep 1 # every CPU's bucket for 198.18.1.0/24 would be empty by now
	for _ in 1 2 3; do
		tls_ok && ok=$((ok + 1))
		sleep 0.5
	done
	wait "${spids[@]}"
	sent=$(stat_of "$VIP4:443" cookies_sent) lim=$(reason rate_limited)
	cok=$(stat_of "$VIP4:443" cookies_ok)
	say "victim's client: $ok of 3 under the spoofed flood ($(tr '\n' ' ' <"$DIR/spoof.log"));" \
		"cookies_sent $sent0->$sent cookies_ok $cok0->$cok rate_limited $lim0->$lim"
	[ "$ok" = 3 ] && [ "$lim" = "$lim0" ] && [ $((cok - cok0)) -ge 3 ] &&
		[ $((sent - sent0)) -gt 1000 ]
}

# 12 connections at once from the real client on CPU 0: src_burst 5, then
# 5/s. Each sends a byte and waits for the worker's answer or close.
proven_prefix_limited() {
	local lim0 lim vlim0 vlim out rt0 rt
	lim0=$(reason rate_limited) vlim0=$(stat_of "$VIP4:443" rate_limited)
	rt0=$(cli_stat TcpExtTCPSynRetrans)
	out=$(ip netns exec "$CLI" taskset -c 0 python3 -c '
import socket, sys, time
vip = sys.argv[1]
socks = []
for i in range(12):
    s = socket.socket()
    s.settimeout(15)
    s.connect((vip, 443))
    s.sendall(b"\x16\x03\x01\x00\x04\x01\x00\x00\x00")  # an empty ClientHello: alert, close
    socks.append(s)
done = 0
for s in socks:
    try:
        s.recv(100)  # an alert or the close: the worker has the connection
        done += 1
    except OSError:
        pass
print(done)' "$VIP4")
	lim=$(reason rate_limited) vlim=$(stat_of "$VIP4:443" rate_limited)
	rt=$(cli_stat TcpExtTCPSynRetrans)
	say "12 connections from one /24: $out answered by a worker;" \
		"rate_limited outcome $lim0->$lim, per VIP $vlim0->$vlim;" \
		"client's SYN retransmits $rt0->$rt"
	[ "$out" = 12 ] && [ "$lim" -gt "$lim0" ] && [ "$vlim" -gt "$vlim0" ] &&
		[ "$rt" = "$rt0" ]
}

# The MSS option of the SYN-ACK to a connect() from the client namespace
# with the client's own MSS set to $3 (TCP_MAXSEG), read by a raw socket.
synack_mss() { # synack_mss FAMILY VIP CLIENT_MSS
	ip netns exec "$CLI" python3 -c '
import socket, struct, sys
fam = socket.AF_INET6 if sys.argv[1] == "6" else socket.AF_INET
vip, cmss = sys.argv[2], int(sys.argv[3])
raw = socket.socket(fam, socket.SOCK_RAW, socket.IPPROTO_TCP)
raw.settimeout(3)
c = socket.socket(fam, socket.SOCK_STREAM)
c.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, cmss)
c.settimeout(3)
c.connect((vip, 443))
sport = c.getsockname()[1]
while True:
    d = raw.recv(2000)
    if fam == socket.AF_INET:
        d = d[(d[0] & 15) * 4:]  # IPv4 raw sockets get the IP header
    sp, dp = struct.unpack("!HH", d[:4])
    if sp != 443 or dp != sport or d[13] & 0x12 != 0x12:
        continue
    o, i = d[20:(d[12] >> 4) * 4], 0
    while i < len(o) and o[i] != 0:
        if o[i] == 1:
            i += 1
            continue
        if o[i] == 2:
            print(struct.unpack("!H", o[i + 2:i + 4])[0])
            sys.exit(0)
        i += o[i + 1]
    print("none")
    sys.exit(0)' "$@"
}

mss_is() { # mss_is FAMILY VIP CLIENT_MSS WANT
	local got
	got=$(synack_mss "$1" "$2" "$3")
	say "IPv$1 SYN-ACK to a client offering MSS $3: MSS $got (want $4)"
	[ "$got" = "$4" ]
}

mss_route_1280() {
	ip netns exec "$HOST" sysctl -qw net.ipv4.conf.lbh.forwarding=1 \
		net.ipv6.conf.lbh.forwarding=1 &&
		ip -n "$HOST" route add $CLI4/32 dev lbh mtu lock 1280 &&
		ip -n "$HOST" -6 route add $CLI6/128 dev lbh mtu lock 1280 &&
		mss_is 4 $VIP4 1460 1240 && mss_is 6 $VIP6 1440 1220
}

mss_interface() {
	ip -n "$HOST" route del $CLI4/32 dev lbh &&
		ip -n "$HOST" -6 route del $CLI6/128 dev lbh &&
		ip netns exec "$HOST" sysctl -qw net.ipv4.conf.lbh.forwarding=0 \
			net.ipv6.conf.lbh.forwarding=0 &&
		mss_is 4 $VIP4 1300 1460 && mss_is 6 $VIP6 1280 1440 &&
		ip -n "$HOST" link set lbh mtu 1280 &&
		mss_is 4 $VIP4 1460 1240 && mss_is 6 $VIP6 1440 1220
}

fail_now() {
	echo "FAIL $1"
	echo "0 passed, 1 failed"
	exit 1
}

[ "$(id -u)" = 0 ] || fail_now "must run as root (namespaces, BPF)"
for t in python3 curl openssl ip bpftool taskset nproc nstat; do
	command -v $t >/dev/null || fail_now "$t is missing (make deps)"
done
python3 -c 'import flask' 2>/dev/null || fail_now "python3-flask is missing (make deps)"

check "topology: host and client namespaces" topology
check "a Flask backend answers" backend
check "configs and certificate" configs
start agent "${LBCTL[@]}" agent -c "$DIR/agent.yaml"
start lbtls ip netns exec "$HOST" "$BUILD/lbtls" -c "$DIR/lbtls.yaml"
check "two lbtls workers register with the agent and pass its TLS probes" \
	up_workers 2
check "a spoofed SYN flood claiming the victim's /24: its real client connects 3 of 3 through cookies" \
	victim_connects_under_spoofed_flood
check "a proven prefix over src_rate: no SYN lost, its cookie ACKs limited (counted), all 12 connect" \
	proven_prefix_limited
check "MSS from an MTU 1280 route to the client: 1240 (IPv4), 1220 (IPv6)" \
	mss_route_1280
check "MSS from the interface: 1460/1440 for a client offering less; 1240/1220 at MTU 1280" \
	mss_interface
"${LBCTL[@]}" stats >>"$DIR/checks.log" 2>&1

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
