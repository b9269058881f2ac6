#!/usr/bin/env bash
# Scale-out's control plane (docs/scaleout.md "Membership", "Changes",
# "Routing") with three real agents: namespaces c2-*-h1/h2/h3 on one
# bridge (198.19.0.11-13), each its own lbctl instance and agent with the
# same cluster description; workers registered by a small Python client of
# the registration protocol (include/lb_proto.h), holding listening
# sockets on loopback. Asserted:
#   - after membership every host's ring holds the refs of every host's
#     workers, and the three rings are identical (lbctl pick of 200
#     clients, and lbctl cluster's slots per host);
#   - an agent killed (-9) leaves the other hosts' rings (dead_after);
#   - lbctl cluster drain on a worker host takes its workers out of every
#     ring, while lb_rings_prev still holds them (the second chance), and
#     second_chance after the last change lb_rings_prev is lb_rings again;
#   - lbctl worker list counts a worker's slots in the global ring;
#   - a datagram with a wrong MAC, one replayed, and one from the wrong
#     source are dropped and counted in /metrics by reason;
#   - the announce link lbvip0 of a balancer (a veth here: some test kernels
#     lack the dummy module) is up, goes down on drain and while XDP is
#     off one of its interfaces, up again after, down on SIGTERM;
#   - a reload with a bad cluster: section keeps the running config.
# Ends with "N passed, N failed"; a trap removes everything it made.
#
# Usage: [VERBOSE=1] bash tests/net/test_cluster_agent.sh BUILD_DIR
#        (under flock /tmp/lb-net.lock)
set -u
BUILD=$(realpath "${1:-build}")
cd "$(dirname "$0")/../.." || exit 1
. tests/net/lib.sh
T=c2-$$
DIR=$(mktemp -d /tmp/c2-cluster.XXXXXX)
VIP=198.18.0.100
pass=0
fail=0
pids=()
HOSTS=(h1 h2 h3)
declare -A ADDR=([h1]=198.19.0.11 [h2]=198.19.0.12 [h3]=198.19.0.13)
declare -A ID=([h1]=11 [h2]=12 [h3]=13)
declare -A MPORT=([h1]=9171 [h2]=9172 [h3]=9173)

ns() { echo "$T-$1"; }
inst() { echo "c2$$$1"; }
lbctl() { # lbctl HOST ARGS...
	local h=$1
	shift
	"$BUILD/lbctl" --instance "$(inst "$h")" --netns "$(ns "$h")" "$@"
}

cleanup() {
	local p h
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	for h in "${HOSTS[@]}"; do
		lbctl "$h" unload 2>/dev/null
		ip netns del "$(ns "$h")" 2>/dev/null
		rm -f /run/lbctl/"$(inst "$h")".*
	done
	ip netns del "$T-sw" 2>/dev/null
	if [ "$fail" -gt 0 ] || [ -n "${VERBOSE:-}" ]; then
		echo "--- checks.log"
		tail -n 60 "$DIR/checks.log"
		for h in "${HOSTS[@]}"; do
			echo "--- agent $h"
			tail -n 25 "$DIR/agent_$h.log"
			echo "--- workers $h"
			tail -n 5 "$DIR/workers_$h.log" 2>/dev/null
		done
	fi
	rm -rf "$DIR"
}
trap cleanup EXIT

topology() {
	local h
	ip netns add "$T-sw" &&
		ip -n "$T-sw" link add br0 type bridge &&
		ip -n "$T-sw" link set br0 up || return 1
	for h in "${HOSTS[@]}"; do
		ip netns add "$(ns "$h")" &&
			ip -n "$(ns "$h")" link add eth0 type veth peer name "p$h" netns "$T-sw" &&
			ip -n "$T-sw" link set "p$h" master br0 &&
			ip -n "$T-sw" link set "p$h" up &&
			ip -n "$(ns "$h")" link set lo up &&
			ip -n "$(ns "$h")" link set eth0 up &&
			ip -n "$(ns "$h")" addr add "${ADDR[$h]}/24" dev eth0 &&
			ip -n "$(ns "$h")" link add lbvip0 type veth peer name lbvip0p || return 1
	done
	ip netns exec "$(ns h1)" ping -q -c1 -W2 198.19.0.12 >/dev/null &&
		ip netns exec "$(ns h1)" ping -q -c1 -W2 198.19.0.13 >/dev/null
}

configs() {
	local h
	head -c 48 /dev/urandom >"$DIR/cluster.key" && chmod 600 "$DIR/cluster.key" || return 1
	for h in "${HOSTS[@]}"; do
		cat >"$DIR/agent_$h.yaml" <<EOF
socket: /run/lbctl/$(inst "$h").sock
metrics: 127.0.0.1:${MPORT[$h]}
interfaces: [{name: eth0, mode: generic}]
vips:
  - address: $VIP:80
health: {interval_ms: 0}
cluster:
  self: $h
  key_file: $DIR/cluster.key
  heartbeat: 200ms
  dead_after: 1s
  second_chance: 300s
  mtu: 1500
  announce_link: lbvip0
  hosts:
    - { name: h1, id: 11, address: 198.19.0.11, roles: [balancer, worker] }
    - { name: h2, id: 12, address: 198.19.0.12, roles: [worker] }
    - { name: h3, id: 13, address: 198.19.0.13, roles: [balancer, worker] }
EOF
	done
	# a worker: registers ids with the agent and holds the connections
	cat >"$DIR/worker.py" <<'EOF'
import socket, struct, sys, time
path, ids = sys.argv[1], [int(x) for x in sys.argv[2:]]
keep = []
for wid in ids:
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    c.connect(path)
    # struct lb_register: magic, version 2, nfds, worker, weight,
    # listener[4] (1: http), family[4] (4: IPv4)
    msg = struct.pack("<IHHII4s4s", 0x4C42524D, 2, 1, wid, 1 + wid % 3,
                      bytes([1, 0, 0, 0]), bytes([4, 0, 0, 0]))
    socket.send_fds(c, [msg], [ls.fileno()])
    magic, status = struct.unpack("<Ii", c.recv(256)[:8])
    if status != 0:
        sys.exit("worker %d refused: %d" % (wid, status))
    keep += [ls, c]
print("registered", ids, flush=True)
while True:
    time.sleep(3600)
EOF
}

start_agent() {
	start "agent_$1" "$BUILD/lbctl" --instance "$(inst "$1")" --netns "$(ns "$1")" \
		agent -c "$DIR/agent_$1.yaml"
}

wait_long() { # wait_long CMD...: CMD succeeds within 30 s (a loaded
	local _ # machine starts three agents slowly)
	for _ in $(seq 300); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

workers() { # workers HOST IDS...: once its agent serves
	local h=$1
	shift
	wait_long grep -q 'workers register at' "$DIR/agent_$h.log" || return 1
	start "workers_$h" ip netns exec "$(ns "$h")" python3 "$DIR/worker.py" \
		/run/lbctl/"$(inst "$h")".sock "$@"
	wait_long grep -q registered "$DIR/workers_$h.log"
}

picks() { # picks HOST: lbctl pick of 200 clients
	local i
	for i in $(seq 1 200); do
		lbctl "$1" pick "$VIP:80" "198.18.$((i / 100)).$((i % 100 + 1))" || return 1
	done
}

# host H's ring: slots per host ("host 12 ... N slots"), from lbctl cluster
slots() { # slots HOST OF
	lbctl "$1" cluster | awk -v h="$2" '$1 == "host" && $2 == h && $4 == "slots" { print $3 }'
}
prev_slots() { # prev_slots HOST OF: lb_rings_prev's slots of host OF
	lbctl "$1" cluster | awk -v h="$2" '$1 == "host" && $2 == h && $4 == "slots" { print $NF }'
}

ring_has() { # ring_has HOST OF: some slot of HOST's ring holds host OF
	local n
	n=$(slots "$1" "$2")
	[ "${n:-0}" -gt 0 ]
}
ring_lacks() { ! ring_has "$@"; }

rings_equal() {
	picks h1 >"$DIR/p1" && picks h2 >"$DIR/p2" && picks h3 >"$DIR/p3" || return 1
	# the same worker on the same host everywhere; "this host" aside
	sed -i 's/, this host//' "$DIR/p1" "$DIR/p2" "$DIR/p3"
	cmp "$DIR/p1" "$DIR/p2" && cmp "$DIR/p1" "$DIR/p3" &&
		grep -q 'on host 11 (198.19.0.11)' "$DIR/p1" &&
		grep -q 'on host 12 (198.19.0.12)' "$DIR/p1" &&
		grep -q 'on host 13 (198.19.0.13)' "$DIR/p1"
}

metric() { # metric HOST NAME{labels}
	ip netns exec "$(ns "$1")" curl -s "http://127.0.0.1:${MPORT[$1]}/metrics" |
		awk -v m="$2" '$1 == m { print $2 }'
}
metric_above() { # metric_above HOST NAME VALUE
	local v
	v=$(metric "$1" "$2")
	say "$2 = ${v:-none} (was $3)"
	[ -n "$v" ] && [ "$v" -gt "$3" ]
}

link_is() { # link_is HOST up|down
	local flags
	flags=$(ip -n "$(ns "$1")" -o link show lbvip0)
	say "$flags"
	if [ "$2" = up ]; then
		[[ "$flags" == *"<"*UP*">"* ]]
	else
		[[ "$flags" != *",UP"* && "$flags" != *"<UP"* ]]
	fi
}

# Capture what host FROM announces to host TO's address: TO's agent is
# gone, so a plain socket takes its port. Prints the datagram in hex.
capture() { # capture TO
	ip netns exec "$(ns "$1")" python3 - "${ADDR[$1]}" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 6082))
s.settimeout(5)
while True:
    d, a = s.recvfrom(4096)
    if a[0] == "198.19.0.12":
        print(d.hex())
        break
EOF
}
send_from() { # send_from HOST TO HEX
	ip netns exec "$(ns "$1")" python3 - "${ADDR[$1]}" "${ADDR[$2]}" "$3" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 0))
s.sendto(bytes.fromhex(sys.argv[3]), (sys.argv[2], 6082))
EOF
}

check "topology: three hosts on a bridge, lbvip0 in each" topology
check "configs and a 0600 key" configs
for h in "${HOSTS[@]}"; do start_agent "$h"; done
check "workers register: h1 1 2, h2 1 2 3, h3 5" \
	eval 'workers h1 1 2 && workers h2 1 2 3 && workers h3 5'
check "lbctl cluster names self and the three hosts" \
	eval "lbctl h1 cluster | grep -q 'self: host 11 (198.19.0.11)' &&
	      [ \$(lbctl h1 cluster | grep -c '^1[123] ') = 3 ]"
for h in "${HOSTS[@]}"; do
	check "$h's ring holds every host's workers" \
		wait_for eval "ring_has $h 11 && ring_has $h 12 && ring_has $h 13"
done
check "the three rings are identical (200 picks, host and worker)" rings_equal
check "lbctl worker list on h2 counts its workers' slots in the global ring" \
	eval "[ \$(lbctl h2 worker list $VIP:80 | awk '\$4 == \"up\" && \$5 > 0' | wc -l) = 3 ]"
check "single-host rings are gone: no plain worker id in h1's ring" \
	eval "! picks h1 | grep -qx '[0-9]*'"
check "the announce link of balancer h1 is up" wait_for link_is h1 up
check "worker host h2 leaves its link alone (still down)" link_is h2 down

# forged and replayed datagrams, to h1, while h3 is down
kill -9 "$pid_agent_h3"
check "h3 killed: out of h1's and h2's rings within dead_after" \
	wait_for eval "ring_lacks h1 13 && ring_lacks h2 13"
check "h1 and h2 agree without h3" \
	eval 'picks h1 | sed "s/, this host//" >$DIR/q1 && picks h2 | sed "s/, this host//" >$DIR/q2 && cmp $DIR/q1 $DIR/q2'
cap=$(capture h3)
check "captured an announcement of h2 (to h3's address)" test -n "$cap"
mac0=$(metric h1 'lb_cluster_announce_rejected_total{reason="mac"}')
rep0=$(metric h1 'lb_cluster_announce_rejected_total{reason="replay"}')
src0=$(metric h1 'lb_cluster_announce_rejected_total{reason="source"}')
bad=${cap:0:$((${#cap} - 2))}$(printf '%02x' $(((0x${cap: -2} + 1) % 256)))
send_from h2 h1 "$bad"
check "a datagram with a wrong MAC is dropped and counted" \
	wait_for metric_above h1 'lb_cluster_announce_rejected_total{reason="mac"}' "${mac0:-0}"
send_from h2 h1 "$cap"
check "a replayed datagram is dropped and counted" \
	wait_for metric_above h1 'lb_cluster_announce_rejected_total{reason="replay"}' "${rep0:-0}"
send_from h3 h1 "$cap"
check "h2's datagram sent from h3's address is dropped and counted" \
	wait_for metric_above h1 'lb_cluster_announce_rejected_total{reason="source"}' "${src0:-0}"
check "h1 logs the drops" wait_for grep -q 'dropped announcements: .*mac 1' "$DIR/agent_h1.log"
check "h2 is still in h1's ring after the forgeries" ring_has h1 12

# drain a worker host
lbctl h2 cluster drain >/dev/null
check "h2 drains: out of h1's ring" wait_for ring_lacks h1 12
check "h2 drains: out of its own ring" wait_for ring_lacks h2 12
check "h1's lb_rings_prev still holds h2's workers (second chance)" \
	eval "[ \"\$(prev_slots h1 12)\" -gt 0 ]"
check "the drain is logged with the slots moved" \
	grep -q 'global ring of 198.18.0.100:80: [0-9]* slots moved' "$DIR/agent_h1.log"
lbctl h2 cluster undrain >/dev/null
check "h2 undrained: back in h1's ring" wait_for ring_has h1 12
check "h1's lb_rings_prev is the ring before the undrain (no host 12)" \
	eval "[ \"\$(prev_slots h1 12)\" = 0 ]"
sed -i 's/second_chance: 300s/second_chance: 1s/' "$DIR/agent_h1.yaml"
kill -HUP "$pid_agent_h1"
check "second_chance (1 s after a reload) over: lb_rings_prev = lb_rings" \
	wait_for eval "[ \"\$(prev_slots h1 12)\" = \"\$(slots h1 12)\" ] &&
		       grep -q 'second chance over' $DIR/agent_h1.log"
sed -i 's/second_chance: 1s/second_chance: 300s/' "$DIR/agent_h1.yaml"
kill -HUP "$pid_agent_h1"
check "h1 reloaded twice: still in the cluster, h2 in its ring" \
	wait_for eval "[ \$(grep -c 'reloaded ' $DIR/agent_h1.log) -ge 2 ] && ring_has h1 12"

# drain a balancer: its link
lbctl h1 cluster drain >/dev/null
check "h1 drains: lbvip0 down" wait_for link_is h1 down
check "h1 drains: its workers leave h2's ring" wait_for ring_lacks h2 11
lbctl h1 cluster undrain >/dev/null
check "h1 undrained: lbvip0 up" wait_for link_is h1 up
check "h1 undrained: its workers are back in h2's ring" wait_for ring_has h2 11

# XDP off an interface of a balancer: its link goes down until a reload
# attaches it again
lbctl h1 detach eth0
check "XDP detached from h1's eth0: lbvip0 down" wait_for link_is h1 down
check "the agent says why" \
	grep -q 'announce link lbvip0 down: XDP is not attached to every interface' "$DIR/agent_h1.log"
kill -HUP "$pid_agent_h1"
check "a reload attaches XDP again: lbvip0 up" wait_for link_is h1 up

# a bad reload keeps the running cluster
sed -i 's/dead_after: 1s/dead_after: 100ms/' "$DIR/agent_h1.yaml"
kill -HUP "$pid_agent_h1"
check "a reload with dead_after <= heartbeat is refused, named by line" \
	wait_for grep -q "agent_h1.yaml:[0-9]*: 'dead_after' (100 ms) must be longer" "$DIR/agent_h1.log"
check "h1 keeps its ring after the refused reload" ring_has h1 12

check "lbctl pick in cluster mode names the host" \
	eval "lbctl h1 pick $VIP:80 198.18.0.7 | grep -Eq '^worker [0-9]+ on host 1[12] \\(198.19.0.1[12]\\)'"

kill -TERM "$pid_agent_h1"
check "SIGTERM: h1's lbvip0 goes down" wait_for link_is h1 down
check "SIGTERM: the agent said so" wait_for grep -q 'announce link lbvip0 down: the agent stops' "$DIR/agent_h1.log"

# h2's agent restarted without the cluster: section: single host again
kill -TERM "$pid_agent_h2"
wait_for eval "! kill -0 $pid_agent_h2 2>/dev/null"
sed -i '/^cluster:/,$d' "$DIR/agent_h2.yaml"
: >"$DIR/agent_h2.log"
start_agent h2
check "h2 restarted without cluster: lbctl cluster says not clustered" \
	wait_for eval "lbctl h2 cluster | grep -qx 'not clustered.*'"
plain_picks() { # every pick a plain worker id of h2's own (1, 2, 3)
	picks h2 >"$DIR/plain" && ! grep -qvx '[123]' "$DIR/plain"
}
check "h2 single-host again: picks are plain worker ids of its own" \
	wait_for plain_picks

# h1's agent has stopped: unload must leave no pin of a clustered
# instance behind (lb_cluster_req, the XDP program's scratch, was pinned)
check "unload of a clustered instance leaves its pin directory empty and gone" \
	eval "lbctl h1 unload && [ ! -e /sys/fs/bpf/$(inst h1) ]"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
