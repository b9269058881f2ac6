#!/usr/bin/env bash
# The balancer on a host's own NIC must not lock the host out (issue 20).
# A veth made here stands in for the NIC: "nic0" in a host namespace carries
# the host's addresses 198.18.77.1 and fd00:198:18:77::1, its peer in
# another namespace is "the internet" (...2). The lbctl agent alone is
# attached to nic0, with the host's addresses as VIPs (plain listeners on
# :443 behind them). Every check below is made for both families.
#
# Asserted: with the VIP as configured by default (shared), an SSH-like TCP
# connection to another port of the address, ping both ways, the replies
# to the host's own outgoing TCP and UDP, and TCP to the served port all
# work. With 'exclusive: true' (SIGHUP): the other port is dropped, UDP to
# a service with no connected socket too, but ping both ways, the host's
# outgoing TCP and UDP and the served port still work, and each is counted.
# While an agent runs, 'lbctl vip add' is refused with the config file
# named. A process named sshd listening on :22 (or named sshd on any port
# of the address): 'lbctl vip add --exclusive' is refused, naming the
# address, port and process; '--force' is accepted; the agent serves such
# a VIP shared and says why until 'force: true'.
# Ends with "N passed, N failed"; a trap removes everything.
#
# Usage: bash tests/net/test_host_safety.sh BUILD_DIR (under flock /tmp/lb-net.lock)
set -u
BUILD=$(realpath "${1:-build}")
cd "$(dirname "$0")/../.." || exit 1
. tests/net/lib.sh
T=lbx$$
HOST=$T-host
NET=$T-net
A=${T}a
DIR=$(mktemp -d /tmp/lb-hostsafe.XXXXXX)
ADDR=198.18.77.1 # the host's own address, and the VIP's
PEER=198.18.77.2 # somewhere on the internet
ADDR6=fd00:198:18:77::1
PEER6=fd00:198:18:77::2
METRICS=127.0.0.1:$((20000 + $$ % 10000))
pass=0
fail=0
pids=()
LA=("$BUILD/lbctl" --instance "$A" --netns "$HOST")

cleanup() {
	local p
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	"${LA[@]}" unload 2>/dev/null
	ip netns del "$NET" 2>/dev/null
	ip netns del "$HOST" 2>/dev/null
	rm -rf /var/lib/lbctl/"$A"
	rm -f /run/lbctl/"$A".*
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
	ip netns add "$HOST" && ip netns add "$NET" &&
		ip -n "$HOST" link add nic0 type veth peer name net0 netns "$NET" &&
		ip -n "$HOST" link set lo up && ip -n "$HOST" link set nic0 up &&
		ip -n "$HOST" addr add $ADDR/24 dev nic0 &&
		ip -n "$HOST" addr add $ADDR6/64 dev nic0 nodad &&
		ip -n "$NET" link set lo up && ip -n "$NET" link set net0 up &&
		ip -n "$NET" addr add $PEER/24 dev net0 &&
		ip -n "$NET" addr add $PEER6/64 dev net0 nodad &&
		no_tentative "$HOST" "$NET" &&
		ip netns exec "$NET" ping -q -c1 -W2 $ADDR >/dev/null &&
		ip netns exec "$NET" ping -q -c1 -W2 $ADDR6 >/dev/null
}

# tcp_server NAME NS ADDR PORT [COMM]: accepts, answers "hi" and closes;
# "::" takes both families.
# COMM renames the process (prctl PR_SET_NAME sets the main thread's name,
# which is what /proc/PID/comm shows and what lbctl reads).
tcp_server() {
	start "$1" ip netns exec "$2" python3 -c '
import ctypes, socket, sys
if len(sys.argv) > 3:
    ctypes.CDLL(None).prctl(15, sys.argv[3].encode(), 0, 0, 0)
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(16)
while True:
    c, _ = s.accept(); c.sendall(b"hi"); c.close()
' "${@:3}"
}

# udp_echo NS ADDR PORT: a UDP service (unconnected socket) that echoes;
# "::" takes both families.
udp_echo() {
	start "udp_$3" ip netns exec "$1" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET,
                  socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
while True:
    d, a = s.recvfrom(2048); s.sendto(d, a)
' "$2" "$3"
}

# tcp_talk NS DST PORT: connect within 2 s and read the server's "hi".
tcp_talk() {
	ip netns exec "$1" python3 -c '
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2)
d = s.recv(16); print("got", d, "from", s.getpeername(), "on", s.getsockname())
sys.exit(d != b"hi")
' "$2" "$3"
}
tcp_dropped() { ! tcp_talk "$@"; }

# udp_talk NS DST PORT: a connected UDP socket (as glibc's resolver uses),
# one datagram out, its echo back within 2 s.
udp_talk() {
	ip netns exec "$1" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET,
                  socket.SOCK_DGRAM)
s.settimeout(2)
s.connect((sys.argv[1], int(sys.argv[2]))); s.send(b"query")
d = s.recv(64); print("got", d, "on", s.getsockname()); sys.exit(d != b"query")
' "$2" "$3"
}
udp_dropped() { ! udp_talk "$@"; }

listening() { # listening NS PORT: a TCP listener on PORT
	ip netns exec "$1" ss -Hltn "sport = :$2" | grep -q LISTEN
}

pings() { ip netns exec "$1" ping -q -c2 -i0.2 -W2 "$2"; }

outcome() { "${LA[@]}" stats --json | jq -r ".outcomes.$1"; }
grew() { # grew NAME BEFORE
	local now
	now=$(outcome "$1")
	echo "$1 $2 -> $now"
	[ "$now" -gt "$2" ]
}

agent_config() { # agent_config [EXCLUSIVE [FORCE]]: no word, the default
	local v
	cat >"$DIR/agent.yaml" <<EOF
socket: /run/lbctl/$A.sock
metrics: $METRICS
interfaces: [{name: nic0, mode: native}]
health: {interval_ms: 0}
vips:
EOF
	for v in "$ADDR:443" "\"[$ADDR6]:443\""; do
		echo "  - address: $v" >>"$DIR/agent.yaml"
		[ -z "${1:-}" ] || echo "    exclusive: $1" >>"$DIR/agent.yaml"
		[ -z "${2:-}" ] || echo "    force: $2" >>"$DIR/agent.yaml"
	done
}

start_agent() {
	: >"$DIR/agent.log"
	start agent "${LA[@]}" agent -c "$DIR/agent.yaml"
	local i
	for i in $(seq 100); do
		grep -q "added VIP\|firewall .*changed" "$DIR/agent.log" 2>/dev/null &&
			"${LA[@]}" status 2>/dev/null | grep -q "xdp: *nic0" &&
			"${LA[@]}" vip list 2>/dev/null | grep -q "$ADDR:443" && return 0
		sleep 0.1
	done
	return 1
}

stop_agent() {
	kill "$pid_agent" || return 1
	local i
	for i in $(seq 100); do
		kill -0 "$pid_agent" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

reload() { # reload: SIGHUP, wait for the log line
	local n
	n=$(grep -c "reloaded" "$DIR/agent.log")
	kill -HUP "$pid_agent" && wait_for bash -c \
		"[ \$(grep -c reloaded '$DIR/agent.log') -gt $n ]"
}

address_is() { # address_is shared|exclusive [V6]: 'lbctl vip list' says so
	"${LA[@]}" vip list | tee /dev/stderr |
		grep -E "$ADDR:443 +https +$1" >/dev/null || return 1
	[ -z "${2:-}" ] || "${LA[@]}" vip list | grep -E "\[$ADDR6\]:443 +https +$2"
}

refused() { # refused MESSAGE CMD...: CMD fails and says MESSAGE
	local msg=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	echo "$out"
	[ "$rc" -ne 0 ] && grep -qF -- "$msg" <<<"$out"
}

agent_logged() { grep -F -- "$1" "$DIR/agent.log"; }

the_host_works() { # the_host_works PHASE: what must never break
	check "$1: SSH-like TCP to $ADDR:2222" tcp_talk "$NET" $ADDR 2222
	check "$1: ping the host" pings "$NET" $ADDR
	check "$1: the host pings out" pings "$HOST" $PEER
	check "$1: the host's outgoing TCP gets its replies" \
		tcp_talk "$HOST" $PEER 8080
	check "$1: the host's outgoing UDP (connected) gets its replies" \
		udp_talk "$HOST" $PEER 53
	check "$1: TCP to the served port $ADDR:443" tcp_talk "$NET" $ADDR 443
	check "$1: v6: SSH-like TCP to [$ADDR6]:2222" tcp_talk "$NET" $ADDR6 2222
	check "$1: v6: ping the host" pings "$NET" $ADDR6
	check "$1: v6: the host pings out" pings "$HOST" $PEER6
	check "$1: v6: the host's outgoing TCP gets its replies" \
		tcp_talk "$HOST" $PEER6 8080
	check "$1: v6: the host's outgoing UDP (connected) gets its replies" \
		udp_talk "$HOST" $PEER6 53
	check "$1: v6: TCP to the served port [$ADDR6]:443" \
		tcp_talk "$NET" $ADDR6 443
}

echo "--- setup" >>"$DIR/checks.log"
if ! topology >>"$DIR/checks.log" 2>&1; then
	echo "FAIL topology"
	fail=1
	echo "0 passed, $fail failed"
	exit 1
fi
tcp_server served "$HOST" $ADDR 443
tcp_server served6 "$HOST" $ADDR6 443
tcp_server sshlike "$HOST" :: 2222
tcp_server web "$NET" :: 8080
udp_echo "$NET" :: 53
udp_echo "$HOST" :: 5300
check "servers listen" wait_for bash -c "$(declare -f listening)
	listening $HOST 443 && listening $HOST 2222 && listening $NET 8080 &&
	[ \$(ip netns exec $HOST ss -Hltn 'sport = :443' | wc -l) -eq 2 ] &&
	ip netns exec $NET ss -Hlun 'sport = :53' | grep -q . &&
	ip netns exec $HOST ss -Hlun 'sport = :5300' | grep -q ."

# --- without the stack: the baseline ---
the_host_works "no balancer"
check "no balancer: UDP to the host's UDP service" udp_talk "$NET" $ADDR 5300
check "no balancer: v6: UDP to the host's UDP service" \
	udp_talk "$NET" $ADDR6 5300

# --- the host's address as a VIP, nothing said about exclusivity ---
agent_config
check "agent attaches to nic0 with the host's address as a VIP" start_agent
check "the addresses are shared by default" address_is shared shared
the_host_works "shared"

# --- exclusive, as the operator said ---
agent_config true
check "SIGHUP with exclusive: true" reload
check "the addresses are exclusive" address_is exclusive exclusive
check "the agent logs the change and where it comes from" \
	agent_logged "VIP $ADDR:443: exclusive, as $DIR/agent.yaml:6 says"
fw=$(outcome fw_port)
check "exclusive: SSH-like TCP to another port is dropped" \
	tcp_dropped "$NET" $ADDR 2222
check "exclusive: ... and counted as fw_port" grew fw_port "$fw"
fw=$(outcome fw_proto)
check "exclusive: UDP to a service with no connected socket is dropped" \
	udp_dropped "$NET" $ADDR 5300
check "exclusive: ... and counted as fw_proto" grew fw_proto "$fw"
echo_n=$(outcome echo_pass)
conn_n=$(outcome host_conn)
check "exclusive: ping the host" pings "$NET" $ADDR
check "exclusive: the host pings out" pings "$HOST" $PEER
check "exclusive: ping counted as echo_pass" grew echo_pass "$echo_n"
check "exclusive: the host's outgoing TCP gets its replies" \
	tcp_talk "$HOST" $PEER 8080
check "exclusive: the host's outgoing UDP (connected) gets its replies" \
	udp_talk "$HOST" $PEER 53
check "exclusive: replies counted as host_conn" grew host_conn "$conn_n"
check "exclusive: TCP to the served port $ADDR:443" tcp_talk "$NET" $ADDR 443
check "exclusive: v6: SSH-like TCP to another port is dropped" \
	tcp_dropped "$NET" $ADDR6 2222
check "exclusive: v6: UDP to a service with no connected socket is dropped" \
	udp_dropped "$NET" $ADDR6 5300
echo_n=$(outcome echo_pass)
conn_n=$(outcome host_conn)
check "exclusive: v6: ping the host" pings "$NET" $ADDR6
check "exclusive: v6: the host pings out" pings "$HOST" $PEER6
check "exclusive: v6: ping counted as echo_pass" grew echo_pass "$echo_n"
check "exclusive: v6: the host's outgoing TCP gets its replies" \
	tcp_talk "$HOST" $PEER6 8080
check "exclusive: v6: the host's outgoing UDP (connected) gets its replies" \
	udp_talk "$HOST" $PEER6 53
check "exclusive: v6: replies counted as host_conn" grew host_conn "$conn_n"
check "exclusive: v6: TCP to the served port [$ADDR6]:443" \
	tcp_talk "$NET" $ADDR6 443

# --- the agent owns the VIPs: the CLI says where to change them ---
check "vip add refused while the agent runs, config file named" refused \
	"change 'vips:' in $DIR/agent.yaml" \
	"${LA[@]}" vip add $ADDR:8443 --shared
check "vip del refused while the agent runs" refused \
	"the agent (pid $pid_agent) manages the VIPs" \
	"${LA[@]}" vip del $ADDR:443

# --- an SSH daemon on the address ---
tcp_server sshd "$HOST" 0.0.0.0 22 sshd
check "a process named sshd listens on 0.0.0.0:22" wait_for listening "$HOST" 22
check "agent: exclusive VIP served shared while sshd listens" \
	bash -c "kill -HUP $pid_agent; sleep 0.5; grep -q 'served shared, not exclusive: sshd (pid $pid_sshd) listens on 0.0.0.0:22' '$DIR/agent.log'"
check "agent: the log line names FILE:LINE" \
	agent_logged "$DIR/agent.yaml:6: VIP $ADDR:443"
check "agent: ... so the address is shared" address_is shared
check "agent: ... and SSH-like TCP works" tcp_talk "$NET" $ADDR 2222
agent_config true true
check "agent: force: true makes it exclusive" reload
check "agent: ... exclusive now" address_is exclusive
check "agent: ... and sshd's port 22 is dropped" tcp_dropped "$NET" $ADDR 22
check "agent stops" stop_agent

check "lbctl: --exclusive refused while sshd listens on :22" refused \
	"will not make $ADDR exclusive: sshd (pid $pid_sshd) listens on 0.0.0.0:22" \
	"${LA[@]}" vip add $ADDR:8443 --exclusive
check "lbctl: ... the VIP was not added" \
	bash -c "! ${LA[*]} vip list | grep -q $ADDR:8443"
check "lbctl: --exclusive --force accepted" \
	"${LA[@]}" vip add $ADDR:8443 --exclusive --force
check "lbctl: ... and it is exclusive" bash -c \
	"${LA[*]} vip list | grep -E '$ADDR:8443 +https +exclusive'"
check "lbctl: --shared and --exclusive together refused" refused \
	"exclude each other" "${LA[@]}" vip add $ADDR:9443 --shared --exclusive
kill "$pid_sshd"
tcp_server sshd2 "$HOST" $ADDR 2022 sshd
check "sshd gone from :22, another sshd on $ADDR:2022" wait_for \
	bash -c "! ip netns exec $HOST ss -Hltn 'sport = :22' | grep -q . &&
		ip netns exec $HOST ss -Hltn 'sport = :2022' | grep -q LISTEN"
check "lbctl: a process named sshd on another port is found too" refused \
	"sshd (pid $pid_sshd2) listens on $ADDR:2022" \
	"${LA[@]}" vip add $ADDR:9443 --exclusive
check "lbctl: an address sshd does not listen on can be exclusive" \
	"${LA[@]}" vip add 198.18.78.1:443 --exclusive

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
