#!/usr/bin/env bash
# The operator side of XDP's shield with the real parts: a client namespace
# and a "host" namespace joined by two veth pairs; instance A run by the
# lbctl agent (native XDP on lbh, VIPs on lo, a plain listener behind them),
# instance B attached by the CLI to lbh2 in the same namespace. Asserted:
# 'lbctl deny add' of the client's prefix makes its SYNs to the VIP vanish
# and counts them (src_denied in 'lbctl stats' and in /metrics), 'del'
# restores; a longer allow prefix beats a shorter deny (v4, v6); the list
# survives an agent restart and an unload/reattach; the flood: section
# reaches lb_config and a bad one on SIGHUP keeps the running settings;
# B's detach on A's interface is refused and B's unload leaves A attached
# and pinned. Ends with "N passed, N failed"; a trap removes everything.
#
# Usage: bash tests/net/test_shield.sh BUILD_DIR (under flock /tmp/lb-net.lock)
set -u
BUILD=$(realpath "${1:-build}")
cd "$(dirname "$0")/../.." || exit 1
. tests/net/lib.sh
T=lbs$$
HOST=$T-host
CLI=$T-cli
A=${T}a
B=${T}b
DIR=$(mktemp -d /tmp/lb-shield.XXXXXX)
VIP4=198.18.0.100
VIP6=fd00:198:18::100
C4=198.18.1.10 # denied by prefix, then allowed by a /32
C4B=198.18.1.11
C6=fd00:198:18:1::10
C6B=fd00:198:18:1::11
METRICS=127.0.0.1:$((20000 + $$ % 10000))
pass=0
fail=0
pids=()
LA=("$BUILD/lbctl" --instance "$A" --netns "$HOST")
LB=("$BUILD/lbctl" --instance "$B" --netns "$HOST")

cleanup() {
	local p
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	"${LB[@]}" unload 2>/dev/null
	"${LA[@]}" unload 2>/dev/null
	ip netns del "$CLI" 2>/dev/null
	ip netns del "$HOST" 2>/dev/null
	rm -rf /var/lib/lbctl/"$A" /var/lib/lbctl/"$B"
	rm -f /run/lbctl/"$A".* /run/lbctl/"$B".*
	if [ "$fail" -gt 0 ]; then
		echo "--- checks.log"
		tail -n 60 "$DIR/checks.log"
		echo "--- agent.log"
		tail -n 30 "$DIR/agent.log"
	fi
	rm -rf "$DIR"
}
trap cleanup EXIT

topology() {
	ip netns add "$HOST" && ip netns add "$CLI" &&
		ip -n "$HOST" link add lbh type veth peer name lbc netns "$CLI" &&
		ip -n "$HOST" link add lbh2 type veth peer name lbc2 netns "$CLI" &&
		ip -n "$HOST" link set lo up && ip -n "$HOST" link set lbh up &&
		ip -n "$HOST" link set lbh2 up &&
		ip -n "$HOST" addr add 198.18.1.1/24 dev lbh &&
		ip -n "$HOST" addr add fd00:198:18:1::1/64 dev lbh nodad &&
		ip -n "$HOST" addr add $VIP4/32 dev lo &&
		ip -n "$HOST" addr add $VIP6/128 dev lo &&
		ip -n "$CLI" link set lo up && ip -n "$CLI" link set lbc up &&
		ip -n "$CLI" link set lbc2 up &&
		ip -n "$CLI" addr add $C4/24 dev lbc &&
		ip -n "$CLI" addr add $C4B/24 dev lbc &&
		ip -n "$CLI" addr add $C6/64 dev lbc nodad &&
		ip -n "$CLI" addr add $C6B/64 dev lbc nodad &&
		ip -n "$CLI" route add 198.18.0.0/24 via 198.18.1.1 &&
		ip -n "$CLI" route add fd00:198:18::/64 via fd00:198:18:1::1 &&
		ip netns exec "$CLI" ping -q -c1 -W2 198.18.1.1 >/dev/null &&
		ip netns exec "$CLI" ping -q -c1 -W2 fd00:198:18:1::1 >/dev/null &&
		no_tentative "$HOST" "$CLI"
}

# A plain listener on the VIPs' port: with no worker registered sk_lookup
# passes the SYN on to it, so a connect that completes proves the SYN got
# through XDP.
listener() {
	start listener ip netns exec "$HOST" python3 -c '
import socket, select
ls = []
for fam, a in ((socket.AF_INET, "'$VIP4'"), (socket.AF_INET6, "'$VIP6'")):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((a, 443)); s.listen(128); ls.append(s)
while True:
    for s in select.select(ls, [], [])[0]:
        c, _ = s.accept(); c.close()
'
}

# reach SRC DST: exit 0 if a TCP connection from SRC to DST:443 completes
# within 2 s (the SYN got through), 1 otherwise.
reach() {
	ip netns exec "$CLI" python3 -c '
import socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM); s.settimeout(2)
s.bind((sys.argv[1], 0))
try:
    s.connect((sys.argv[2], 443)); print("connected", sys.argv[1]); sys.exit(0)
except OSError as e:
    print("no connection from", sys.argv[1], e); sys.exit(1)
' "$1" "$2"
}
blocked() { ! reach "$@"; }

outcome() { # outcome NAME: the counter from 'lbctl stats --json'
	"${LA[@]}" stats --json | jq -r ".outcomes.$1"
}

agent_config() { # agent_config FLOOD_SYN_RATE
	cat >"$DIR/agent.yaml" <<EOF
socket: /run/lbctl/$A.sock
metrics: $METRICS
interfaces: [{name: lbh, mode: native}]
vips:
  - address: $VIP4:443
  - address: "[$VIP6]:443"
health: {interval_ms: 0}
flood:
  enabled: true
  cookies: false
  syn_rate: $1
  hold_ms: 500
  src_rate: 50
  src_burst: 100
  v4_prefix: 24
  v6_prefix: 56
EOF
}

start_agent() {
	start agent "${LA[@]}" agent -c "$DIR/agent.yaml"
	local i
	for i in $(seq 100); do
		grep -q "firewall .*changed; flood" "$DIR/agent.log" 2>/dev/null &&
			"${LA[@]}" status 2>/dev/null | grep -q "xdp: *lbh" && return 0
		sleep 0.1
	done
	return 1
}

stop_agent() {
	kill "$pid_agent" && wait_gone "$pid_agent"
}

wait_gone() {
	local i
	for i in $(seq 100); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

denied_grew() { # denied_grew BEFORE: src_denied went up
	local now
	now=$(outcome src_denied)
	echo "src_denied $1 -> $now"
	[ "$now" -gt "$1" ]
}

metrics_has() { # metrics_has REGEX
	ip netns exec "$HOST" curl -sf "http://$METRICS/metrics" | grep -E "$1"
}

flood_is() { # flood_is KEY VALUE
	"${LA[@]}" flood show | grep -E "^$1 +$2\$"
}

xdp_on() { # xdp_on IFACE: some XDP program on IFACE
	ip -n "$HOST" -d link show "$1" | grep "prog/xdp"
}
xdp_off() { ! xdp_on "$@"; }

refused() { # refused MESSAGE CMD...: CMD fails and says MESSAGE
	local msg=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	echo "$out"
	[ "$rc" -ne 0 ] && grep -qF -- "$msg" <<<"$out"
}

lines_are() { # lines_are "EXPECTED" CMD...: CMD's output, lines joined by ' '
	local out
	out=$("${@:2}" | tr '\n' ' ')
	echo "$out"
	[ "$out" = "$1" ]
}

agent_logged() { grep -E "$1" "$DIR/agent.log"; }

echo "--- setup" >>"$DIR/checks.log"
if ! topology >>"$DIR/checks.log" 2>&1; then
	echo "FAIL topology"
	fail=1
	echo "0 passed, $fail failed"
	exit 1
fi
listener
agent_config 50000
check "agent A starts with the flood: section" start_agent
check "connect v4 before any rule" reach $C4 $VIP4
check "connect v6 before any rule" reach $C6 $VIP6
check "flood: syn_rate from the config in lb_config" flood_is syn_rate 50000
check "flood: cookies from the config" flood_is cookies false
check "flood: v6_prefix from the config" flood_is v6_prefix 56

# --- deny, counted, del ---
check "bad prefix refused with the cause" refused \
	"lbctl: '198.18.1.0/33': prefix length 33 is out of range 0..32" \
	"${LA[@]}" deny add 198.18.1.0/33
check "deny add 198.18.1.0/24" "${LA[@]}" deny add 198.18.1.0/24
check "deny list shows it" lines_are "198.18.1.0/24 " "${LA[@]}" deny list
before=$(outcome src_denied)
check "denied client cannot connect (v4)" blocked $C4 $VIP4
check "its SYNs counted as src_denied" denied_grew "$before"
check "src_denied in /metrics" metrics_has \
	'^lb_outcomes_total\{outcome="src_denied",verdict="drop"\} [1-9]'
check "v6 client still connects" reach $C6 $VIP6
check "deny del restores" "${LA[@]}" deny del 198.18.1.0/24
check "client connects again" reach $C4 $VIP4
check "deny list empty again" lines_are "" "${LA[@]}" deny list

# --- allow: the longest prefix wins ---
check "deny add 198.18.1.0/24 again" "${LA[@]}" deny add 198.18.1.0/24
check "allow add $C4B" "${LA[@]}" allow add $C4B
check "allow of a denied prefix refused" refused "it is on the deny list" \
	"${LA[@]}" allow add 198.18.1.0/24
check "the /32 allow beats the /24 deny" reach $C4B $VIP4
check "the rest of the /24 stays denied" blocked $C4 $VIP4
check "deny add fd00:198:18:1::/64" "${LA[@]}" deny add fd00:198:18:1::/64
check "allow add $C6B" "${LA[@]}" allow add $C6B
check "v6: the /128 allow beats the /64 deny" reach $C6B $VIP6
check "v6: the rest of the /64 stays denied" blocked $C6 $VIP6

# --- persistence: agent restart, unload and reattach ---
check "agent A stops" stop_agent
check "unload A (maps and XDP gone)" "${LA[@]}" unload
check "agent A starts again" start_agent
check "deny list back after unload + agent restart" lines_are \
	"198.18.1.0/24 fd00:198:18:1::/64 " "${LA[@]}" deny list
check "allow list back" lines_are "198.18.1.11/32 fd00:198:18:1::11/128 " \
	"${LA[@]}" allow list
check "still denied after restart (v4)" blocked $C4 $VIP4
check "still allowed after restart (v6)" reach $C6B $VIP6

# --- a bad flood: section on SIGHUP keeps the running settings ---
sed -i 's/syn_rate: 50000/syn_rate: 0/' "$DIR/agent.yaml"
kill -HUP "$pid_agent"
check "SIGHUP with syn_rate 0: FILE:LINE error logged" wait_for agent_logged \
	"agent.yaml:11: 'syn_rate' expects 1..100000000, not '0'"
check "... and the running config kept" wait_for agent_logged \
	"agent.yaml has errors: keeping the running config"
check "running flood settings kept" flood_is syn_rate 50000
agent_config 60000
kill -HUP "$pid_agent"
check "SIGHUP with a good config applies it" wait_for flood_is syn_rate 60000

# --- a hand-broken list file: reload refused, the tries kept ---
FW=/var/lib/lbctl/$A/firewall
cp "$FW" "$DIR/firewall.good"
echo "deny 198.18.7.0/99" >>"$FW"
kill -HUP "$pid_agent"
check "SIGHUP with a bad list file: FILE:LINE error logged" wait_for \
	agent_logged "$FW:[0-9]+: '198.18.7.0/99': prefix length 99 is out of range 0..32"
check "... the tries kept" lines_are "198.18.1.0/24 fd00:198:18:1::/64 " \
	"${LA[@]}" deny list
check "deny add refused until the file is fixed" refused \
	"has errors (above); fix it first" "${LA[@]}" deny add 198.18.8.0/24
cp "$DIR/firewall.good" "$FW"

# --- instance isolation ---
check "instance B attaches to lbh2" "${LB[@]}" attach lbh2
check "B's XDP on lbh2" xdp_on lbh2
check "B's detach on A's interface refused" refused \
	"lbctl: cannot detach from 'lbh': instance '$B' is not attached there" \
	"${LB[@]}" detach lbh
check "A still on lbh" xdp_on lbh
check "B's unload" "${LB[@]}" unload
check "B's XDP gone from lbh2" xdp_off lbh2
check "B's pins gone" test ! -e /sys/fs/bpf/"$B"
check "A's XDP still on lbh" xdp_on lbh
check "A's status: attached to lbh" lines_are "xdp:        lbh (native) " \
	bash -c "${LA[*]} status | grep '^xdp:'"
check "A's pins still there" test -e /sys/fs/bpf/"$A"/lb_config
check "A still filters after B's unload" blocked $C4 $VIP4
check "A still passes allowed clients" reach $C4B $VIP4

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
