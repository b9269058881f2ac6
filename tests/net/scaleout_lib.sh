# shellcheck shell=bash
# The scale-out topology of docs/scaleout.md in network namespaces, shared
# by tests/net/test_scaleout.sh and tests/bench/bench_scaleout.sh (sourced
# after tests/net/lib.sh, from the repository's top; the caller sets BUILD,
# DIR, pass, fail and pids=() first).
#
#   sx-c  client   up0 198.18.0.2/24 + 198.18.1.1-200/32 (and bench sources)
#    |  rc
#   sx-r  router   rc 198.18.0.1/24, br0 198.19.0.1/24 (rb1..rb3, rw1..rw3),
#    |             BIRD: eBGP to each balancer, kernel ECMP ("merge paths")
#   br0 ----+--------+--------+--------+--------+
#   sx-b1..b3 198.19.0.11-13  balancers: BIRD (static VIP/32 via "lbvip0",
#             check link), dummy lbvip0 the agent holds up, XDP on up0
#   sx-w1..w3 198.19.0.21-23  worker hosts: VIP on lo, XDP on up0 (GUE
#             decapsulation), lbtls (2 workers) + a backend on 127.0.0.1
#
# Only 198.18.0.0/15, no default route anywhere. Namespaces, processes,
# BIRD daemons, pins and sockets are removed by sx_down.
#
# BIRD 2.0.12 installs ECMP routes as RTA_MULTIPATH routes, not as kernel
# nexthop objects (it has no RTA_NH_ID/NHA_* code), so the router cannot
# use resilient nexthop groups (ip nexthop ... type resilient): removing
# one of three paths rehashes flows of the two others too (hash-threshold).
# Identical rings on every balancer and the second chance make that
# harmless; that is what the test checks.

SX_NS_C=sx-c
SX_NS_R=sx-r
SX_BAL=(b1 b2 b3)
SX_WRK=(w1 w2 w3)
SX_VIP=198.18.200.10
SX_SNI=sx.test
SX_GUE_PORT=6080
SX_MEMB_PORT=6082
SX_NSRC=${SX_NSRC:-200}  # client addresses 198.18.1.1..N (N <= 250)
SX_BACKEND=${SX_BACKEND:-flask} # flask | fast (the bench's fast_backend)
SX_PY=${PYTHON:-/usr/bin/python3} # Debian's: flask and scapy live there

sx_ns() { echo "sx-$1"; }   # sx_ns b1 -> sx-b1
sx_addr() {                 # underlay address of a host
	case $1 in
	b[1-3]) echo "198.19.0.1${1#b}" ;;
	w[1-3]) echo "198.19.0.2${1#w}" ;;
	r) echo 198.19.0.1 ;;
	esac
}
sx_id() { # cluster host id
	case $1 in
	b*) echo "${1#b}" ;;
	w*) echo "1${1#w}" ;;
	esac
}
sx_src() { echo "198.18.1.$1"; } # client address number N (1..250)

sx_lbctl() { # sx_lbctl HOST ARGS...: lbctl against that host's instance
	local h=$1
	shift
	"$BUILD/lbctl" --instance "sx-$h" --netns "sx-$h" "$@"
}

sx_log() { echo "$*" >>"$DIR/checks.log"; }

# --- topology -----------------------------------------------------------------
sx_links() {
	local h ns i
	for ns in $SX_NS_C $SX_NS_R; do
		ip netns add "$ns" || return 1
	done
	for h in "${SX_BAL[@]}" "${SX_WRK[@]}"; do
		ip netns add "sx-$h" || return 1
	done
	# router <-> client
	ip -n $SX_NS_R link add rc type veth peer name up0 netns $SX_NS_C &&
		ip -n $SX_NS_R addr add 198.18.0.1/24 dev rc &&
		ip -n $SX_NS_C addr add 198.18.0.2/24 dev up0 || return 1
	# router's bridge, one port per host
	ip -n $SX_NS_R link add br0 type bridge &&
		ip -n $SX_NS_R addr add 198.19.0.1/24 dev br0 &&
		ip -n $SX_NS_R link set br0 up || return 1
	for h in "${SX_BAL[@]}" "${SX_WRK[@]}"; do
		ns=sx-$h
		ip -n $SX_NS_R link add "r$h" type veth peer name up0 netns "$ns" &&
			ip -n $SX_NS_R link set "r$h" master br0 &&
			ip -n $SX_NS_R link set "r$h" up &&
			ip -n "$ns" addr add "$(sx_addr "$h")/24" dev up0 &&
			ip -n "$ns" link set lo up && ip -n "$ns" link set up0 up &&
			ip -n "$ns" route add 198.18.0.0/16 via 198.19.0.1 || return 1
		# A veth drops XDP_TX / redirected frames unless its peer runs
		# NAPI. The hosts' up0 carry the agents' XDP; the router's ends
		# get an XDP_PASS program so that the balancers' and worker
		# hosts' XDP_TX (encapsulated, second chance) arrive. GRO is
		# not enough on this kernel (6.18): with "ethtool -K rb1 gro
		# on" (also toggled off and on after the link was up) the
		# sender counts xdp_tx and the router never sees the frame.
		ip -n $SX_NS_R link set dev "r$h" xdpdrv \
			obj "$BUILD/bpf/lb_pass.bpf.o" sec xdp || return 1
		# A wire: packets leave the router with their checksums
		# complete. With the veth's checksum offload a forwarded
		# segment stays CHECKSUM_PARTIAL, the balancer's XDP sees a
		# checksum not yet computed, and after XDP_TX (no skb, no
		# offload state) the worker host counts TcpInCsumErrors.
		ip netns exec $SX_NS_R ethtool -K "r$h" tx off >/dev/null ||
			return 1
	done
	ip -n $SX_NS_R link set lo up && ip -n $SX_NS_R link set rc up &&
		ip -n $SX_NS_C link set lo up && ip -n $SX_NS_C link set up0 up ||
		return 1
	# client sources, /32 each, one batch
	for i in $(seq 1 "$SX_NSRC"); do
		echo "addr add $(sx_src "$i")/32 dev up0"
	done >"$DIR/client-addrs.batch"
	ip -n $SX_NS_C -batch "$DIR/client-addrs.batch" || return 1
	ip -n $SX_NS_C route add $SX_VIP/32 via 198.18.0.1 &&
		ip -n $SX_NS_C route add 198.19.0.0/24 via 198.18.0.1 &&
		ip -n $SX_NS_R route add 198.18.0.0/16 via 198.18.0.2 || return 1
}

sx_sysctls() {
	local h ns
	ip netns exec $SX_NS_R sysctl -qw net.ipv4.ip_forward=1 \
		net.ipv4.fib_multipath_hash_policy=1 \
		net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 ||
		return 1
	for h in "${SX_BAL[@]}"; do
		ns=sx-$h
		# The announce link. This kernel has no dummy driver (no modules):
		# a veth pair does the same job, its peer always up, so lbvip0's
		# carrier follows its own admin state, which the agent sets.
		ip -n "$ns" link add lbvip0 type veth peer name lbvip0p &&
			ip -n "$ns" link set lbvip0p up || return 1
		ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1 || return 1
	done
	for h in "${SX_WRK[@]}"; do
		ns=sx-$h
		ip -n "$ns" addr add $SX_VIP/32 dev lo || return 1
		# DSR: never answer ARP for the VIP; decapsulated packets come in
		# on up0 with the client's source (the route to clients is via
		# up0 too, loose is what docs/scaleout.md advises)
		ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.arp_ignore=1 \
			net.ipv4.conf.all.arp_announce=2 \
			net.ipv4.conf.up0.arp_ignore=1 net.ipv4.conf.up0.arp_announce=2 \
			net.ipv4.conf.all.rp_filter=2 net.ipv4.conf.up0.rp_filter=2 ||
			return 1
		# a worker host forwards the second chance: bpf_fib_lookup()
		# answers "forwarding disabled" without it (docs/scaleout.md).
		# SX_WORKER_FORWARD=0 leaves it off, to see what that breaks.
		ip netns exec "$ns" sysctl -qw \
			net.ipv4.ip_forward="${SX_WORKER_FORWARD:-1}" || return 1
	done
}

# ARP everywhere before any measurement: the first packet of a flow would
# wait for the neighbour, and XDP's bpf_fib_lookup finds none for a host
# the balancer never talked to (it then passes the encapsulated packet to
# the kernel instead of XDP_TX). Balancers and worker hosts learn every
# worker host (encapsulation, second chance) and the router.
sx_neigh() {
	local h w
	ip netns exec $SX_NS_C ping -q -c1 -W2 198.18.0.1 >/dev/null || return 1
	for h in "${SX_BAL[@]}" "${SX_WRK[@]}"; do
		ip netns exec $SX_NS_R ping -q -c1 -W2 "$(sx_addr "$h")" >/dev/null ||
			return 1
		ip netns exec "sx-$h" ping -q -c1 -W2 198.19.0.1 >/dev/null || return 1
		for w in "${SX_WRK[@]}"; do
			[ "$w" = "$h" ] && continue
			ip netns exec "sx-$h" ping -q -c1 -W2 "$(sx_addr "$w")" \
				>/dev/null || return 1
		done
	done
}

# --- BIRD ---------------------------------------------------------------------
sx_bird_router() {
	local h
	{
		cat <<EOF
log "$DIR/bird-r.log" all;
router id 198.19.0.1;
protocol device { scan time 1; }
protocol kernel {
	ipv4 { import none; export all; };
	merge paths on;	# ECMP: one route, one nexthop per balancer
}
template bgp bal {
	local 198.19.0.1 as 65000;
	hold time 3; keepalive time 1;
	connect delay time 1; connect retry time 1; error wait time 1, 2;
	ipv4 { import all; export none; };
}
EOF
		for h in "${SX_BAL[@]}"; do
			echo "protocol bgp $h from bal { neighbor $(sx_addr "$h") as 65001; }"
		done
	} >"$DIR/bird-r.conf"
	sx_bird r
}

sx_bird_balancer() {
	local h=$1
	cat >"$DIR/bird-$h.conf" <<EOF
log "$DIR/bird-$h.log" all;
router id $(sx_addr "$h");
protocol device { scan time 1; }
# announced while the agent holds lbvip0 up (docs/scaleout.md, Routing)
protocol static vip {
	ipv4;
	check link yes;
	route $SX_VIP/32 via "lbvip0";
}
protocol bgp uplink {
	local $(sx_addr "$h") as 65001;
	neighbor 198.19.0.1 as 65000;
	hold time 3; keepalive time 1;
	connect delay time 1; connect retry time 1; error wait time 1, 2;
	ipv4 { import none; export where proto = "vip"; };
}
EOF
	sx_bird "$h"
}

sx_bird() { # sx_bird r|b1..: start BIRD in the foreground (start() tracks it)
	local h=$1
	start "bird_$h" ip netns exec "sx-$h" bird -f -c "$DIR/bird-$h.conf" \
		-s "$DIR/bird-$h.ctl" -P "$DIR/bird-$h.pid"
}

sx_birdc() { # sx_birdc HOST CMD...
	local h=$1
	shift
	birdc -s "$DIR/bird-$h.ctl" "$@"
}

# number of nexthops the router has for the VIP (0 without a route)
sx_nexthops() {
	local r
	r=$(ip -n $SX_NS_R route show $SX_VIP/32 2>/dev/null)
	[ -n "$r" ] || {
		echo 0
		return
	}
	if echo "$r" | grep -q nexthop; then
		echo "$r" | grep -c nexthop
	else
		echo 1
	fi
}

# sx_wait_nexthops N [TENTHS]: until the router has N paths (bounded,
# default 30 s); prints the seconds it took
sx_wait_nexthops() {
	local want=$1 max=${2:-300} t0 i
	t0=$(date +%s.%N)
	for i in $(seq "$max"); do
		if [ "$(sx_nexthops)" = "$want" ]; then
			echo "$(date +%s.%N) - $t0" | bc | sed 's/^\./0./'
			return 0
		fi
		sleep 0.1
	done
	echo "timeout"
	return 1
}

# --- cluster: key, agents, lbtls, backends ---------------------------------------
sx_key() {
	head -c 32 /dev/urandom >"$DIR/cluster.key" && chmod 0600 "$DIR/cluster.key"
}

sx_cert() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-days 2 -subj "/CN=$SX_SNI" -addext "subjectAltName=DNS:$SX_SNI" \
		-keyout "$DIR/key.pem" -out "$DIR/cert.pem" 2>/dev/null
}

sx_agent_conf() { # sx_agent_conf HOST: $DIR/agent-HOST.yaml
	local h=$1 x role
	{
		cat <<EOF
socket: /run/lbctl/sx-$h.sock
metrics: 127.0.0.1:9146
interfaces: [{name: up0, mode: native}]
vips:
  - address: $SX_VIP:443
health: {interval_ms: 300, timeout_ms: 1000, rise: 1, fall: 2}
cluster:
  self: $h
  key_file: $DIR/cluster.key
  membership_port: $SX_MEMB_PORT
  gue_port: $SX_GUE_PORT
  heartbeat: 200ms
  dead_after: 1s
  second_chance: 300s
  mtu: 1500
EOF
		[[ $h == b* ]] && echo "  announce_link: lbvip0"
		echo "  hosts:"
		for x in "${SX_BAL[@]}" "${SX_WRK[@]}"; do
			role=worker
			[[ $x == b* ]] && role=balancer
			echo "    - { name: $x, id: $(sx_id "$x"), address: $(sx_addr "$x"), roles: [$role] }"
		done
	} >"$DIR/agent-$h.yaml"
}

sx_agent() { # sx_agent HOST: start its agent
	local h=$1
	sx_agent_conf "$h" || return 1
	start "agent_$h" "$BUILD/lbctl" --instance "sx-$h" --netns "sx-$h" \
		agent -c "$DIR/agent-$h.yaml"
}

sx_backend() { # sx_backend W: the worker host's backend on 127.0.0.1:5001
	local w=$1 ns=sx-$1 _
	if [ "$SX_BACKEND" = fast ]; then
		start "backend_$w" ip netns exec "$ns" "$BUILD/bench/fast_backend" \
			127.0.0.1:5001
	else
		mkdir -p "$DIR/app"
		cp docker/app/app.py "$DIR/app/app.py"
		VERSION=${w#w} start "backend_$w" ip netns exec "$ns" "$SX_PY" \
			"$DIR/app/app.py" --host 127.0.0.1 --port 5001
	fi
	for _ in $(seq 100); do
		ip netns exec "$ns" curl -s -o /dev/null http://127.0.0.1:5001/healthz &&
			return 0
		sleep 0.1
	done
	return 1
}

# lbtls with 2 workers registered with the host's agent. It runs in its own
# UTS namespace named sx-W, so its X-Served-By ("<host>/worker-<n>", the
# hostname) tells which worker host answered.
sx_lbtls() {
	local w=$1
	cat >"$DIR/lbtls-$w.yaml" <<EOF
workers: 2
agent: {socket: /run/lbctl/sx-$w.sock}
tls:
  certificates: [{fullchain: $DIR/cert.pem, privkey: $DIR/key.pem}]
upstream:
  servers: [127.0.0.1:5001]
log: {access: "off", error: $DIR/lbtls-$w-error.log}
metrics: 127.0.0.1:9145
x_served_by: true
EOF
	start "lbtls_$w" ip netns exec "sx-$w" unshare --uts sh -c \
		"hostname sx-$w && exec '$BUILD/lbtls' -c '$DIR/lbtls-$w.yaml'"
}

# sx_worker_host W [drained]: backend, agent, lbtls. Drained: the agent
# drains the host before lbtls registers, so that its workers join the
# rings in one change at "lbctl cluster undrain", as an operator adds a
# host.
sx_worker_host() {
	local w=$1 _
	sx_backend "$w" && sx_agent "$w" || return 1
	if [ "${2:-}" = drained ]; then
		for _ in $(seq 50); do # the agent's state exists (bounded: 5 s)
			sx_lbctl "$w" cluster drain >>"$DIR/checks.log" 2>&1 && break
			sleep 0.1
		done
		[ -e "/run/lbctl/sx-$w.drain" ] || return 1
	fi
	sx_lbtls "$w"
}

# sx_workers_up W N: N workers of W up on its own agent (bounded: 10 s)
sx_workers_up() {
	local w=$1 n=$2 up=0 _
	for _ in $(seq 100); do
		up=$(sx_lbctl "$w" worker list "$SX_VIP:443" 2>/dev/null | grep -c ' up ')
		[ "$up" -ge "$n" ] && return 0
		sleep 0.1
	done
	sx_log "$w: only $up of $n workers up"
	return 1
}

# pick on balancer B for client SRC: the worker host and worker, as lbctl
# prints them ("HOST/worker-N", the form of X-Served-By)
sx_pick() {
	local b=$1 src=$2 out
	out=$(sx_lbctl "$b" pick "$SX_VIP:443" "$src" 2>&1) || {
		echo "error: $out"
		return 1
	}
	sx_norm_pick "$out"
}

# lbctl pick's answer with a cluster, "worker N on host H (ADDR)[, this
# host]", in X-Served-By's form "sx-<host name>/worker-N"; "none" stays
sx_norm_pick() {
	local s=$1 id host
	if [[ $s =~ ^worker\ ([0-9]+)\ on\ host\ ([0-9]+) ]]; then
		id=${BASH_REMATCH[2]}
		case $id in
		1[1-3]) host=w${id#1} ;;
		[1-3]) host=b$id ;;
		*) host=h$id ;;
		esac
		echo "sx-$host/worker-${BASH_REMATCH[1]}"
	else
		echo "$s"
	fi
}

# served_by SRC [CURL ARGS]: X-Served-By of one HTTPS request from SRC, or fail
sx_served_by() {
	local src=$1 out
	shift
	out=$(ip netns exec $SX_NS_C curl -sS -k --http1.1 --max-time 5 \
		--interface "$src" "$@" -D - -o /dev/null \
		--resolve "$SX_SNI:443:$SX_VIP" "https://$SX_SNI/" 2>>"$DIR/curl.log") || {
		echo fail
		return
	}
	echo "$out" | tr -d '\r' | sed -n 's/^x-served-by: *//Ip'
}

# --- counters -----------------------------------------------------------------
# sx_reason HOST NAME: the outcome counter NAME of HOST's instance
sx_reason() {
	sx_lbctl "$1" stats --json 2>/dev/null |
		"$SX_PY" -c 'import json,sys; print(json.load(sys.stdin).get("outcomes",{}).get(sys.argv[1],0))' "$2"
}

# --- everything up / down --------------------------------------------------------
# sx_up WORKERS...: topology, BIRD, the agents of every balancer and of the
# worker hosts named (the others' agents are not started: not in the rings)
sx_up() {
	local h
	mkdir -p /run/lbctl
	sx_links && sx_sysctls && sx_neigh && sx_key && sx_cert || return 1
	sx_bird_router || return 1
	for h in "${SX_BAL[@]}"; do
		sx_bird_balancer "$h" && sx_agent "$h" || return 1
	done
	for h in "$@"; do # w1 or w3:drained
		sx_worker_host "${h%%:*}" "$([[ $h == *:* ]] && echo "${h#*:}")" ||
			return 1
	done
}

sx_down() {
	local p h
	# shellcheck disable=SC2154 # pids: the caller's (tests/net/lib.sh)
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	for h in r "${SX_BAL[@]}"; do
		[ -f "$DIR/bird-$h.pid" ] && kill -9 "$(cat "$DIR/bird-$h.pid")" 2>/dev/null
	done
	for h in "${SX_BAL[@]}" "${SX_WRK[@]}"; do
		ip netns pids "sx-$h" 2>/dev/null | xargs -r kill -9 2>/dev/null
		sx_lbctl "$h" unload >/dev/null 2>&1
		rm -rf "/sys/fs/bpf/sx-$h"
		rm -f "/run/lbctl/sx-$h.lock" "/run/lbctl/sx-$h.agent.lock" \
			"/run/lbctl/sx-$h.sock" "/run/lbctl/sx-$h.drain"
	done
	for h in c r "${SX_BAL[@]}" "${SX_WRK[@]}"; do
		ip netns pids "sx-$h" 2>/dev/null | xargs -r kill -9 2>/dev/null
		ip netns del "sx-$h" 2>/dev/null
	done
	return 0
}
