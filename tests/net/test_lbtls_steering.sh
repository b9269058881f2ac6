#!/usr/bin/env bash
# The whole steering path with the real parts: a client namespace with 16
# client addresses, veth to a "host" namespace where lbctl attaches XDP in
# native mode and where the lbctl agent, four lbtls workers (registered with
# the agent) and three python3-flask backends run. Each client address must
# land on the worker its ring slot names (X-Served-By), over IPv4 and IPv6;
# a worker's own listeners are on loopback and refused to the client, which
# reaches that worker through the VIP only; drain keeps an open keep-alive
# connection; kill -9 of a worker fails no
# later request; killing and restarting the agent under a bounded load fails
# nothing; with XDP detached connections still land on the computed worker.
# Ends with "N passed, N failed"; a trap removes everything it made.
#
# Usage: bash tests/net/test_lbtls_steering.sh BUILD_DIR
set -u
BUILD=$(realpath "${1:-build}")
cd "$(dirname "$0")/../.." || exit 1
. tests/net/lib.sh
T=lbl$$
HOST=$T-host
CLI=$T-cli
INST=$T
DIR=$(mktemp -d /tmp/lbl-steer.XXXXXX)
SOCK=/run/lbctl/$T.sock
VIP4=198.18.0.100
VIP6=fd00:198:18::100
NCLI=16
pass=0
fail=0
pids=()

LBCTL=("$BUILD/lbctl" --instance "$INST" --netns "$HOST")

cleanup() {
	local p
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	pkill -9 -f "$DIR/" 2>/dev/null
	"${LBCTL[@]}" unload 2>/dev/null
	ip netns del "$CLI" 2>/dev/null
	ip netns del "$HOST" 2>/dev/null
	rm -f /run/lbctl/"$T".lock /run/lbctl/"$T".agent.lock "$SOCK"
	if [ "$fail" -gt 0 ]; then
		echo "--- checks.log"
		tail -n 40 "$DIR/checks.log"
		echo "--- agent.log"
		tail -n 20 "$DIR/agent.log"
		echo "--- lbtls.log"
		tail -n 20 "$DIR/lbtls.log"
	fi
	rm -rf "$DIR"
}
trap cleanup EXIT

addr4() { echo "198.18.1.$((10 + $1))"; }
addr6() { printf 'fd00:198:18:1::%x' $((16 + $1)); }

topology() {
	local i
	ip netns add "$HOST" && ip netns add "$CLI" &&
		ip -n "$HOST" link add lbh type veth peer name lbc netns "$CLI" &&
		ip -n "$HOST" link set lo up && ip -n "$HOST" link set lbh up &&
		ip -n "$HOST" addr add 198.18.1.1/24 dev lbh &&
		ip -n "$HOST" addr add fd00:198:18:1::1/64 dev lbh nodad &&
		ip -n "$HOST" addr add $VIP4/32 dev lo &&
		ip -n "$HOST" addr add $VIP6/128 dev lo &&
		ip -n "$CLI" link set lo up && ip -n "$CLI" link set lbc up || return 1
	for i in $(seq 0 $((NCLI - 1))); do
		ip -n "$CLI" addr add "$(addr4 "$i")/24" dev lbc &&
			ip -n "$CLI" addr add "$(addr6 "$i")/64" dev lbc nodad || return 1
	done
	ip -n "$CLI" route add 198.18.0.0/24 via 198.18.1.1 &&
		ip -n "$CLI" route add fd00:198:18::/64 via fd00:198:18:1::1 || return 1
	for i in $(seq 0 $((NCLI - 1))); do # ARP and ND before any test
		ip netns exec "$CLI" ping -q -c1 -W2 -I "$(addr4 "$i")" 198.18.1.1 >/dev/null &&
			ip netns exec "$CLI" ping -q -c1 -W2 -I "$(addr6 "$i")" fd00:198:18:1::1 >/dev/null ||
			return 1
	done
}

pid_agent=""
backends() {
	local v
	mkdir -p "$DIR/app"
	cp docker/app/app.py "$DIR/app/app.py"
	for v in 1 2 3; do
		VERSION=$v start "flask$v" ip netns exec "$HOST" python3 \
			"$DIR/app/app.py" --host 127.0.0.1 --port $((5000 + v))
	done
	for _ in $(seq 100); do
		ip netns exec "$HOST" curl -sf http://127.0.0.1:5003/healthz >/dev/null &&
			ip netns exec "$HOST" curl -sf http://127.0.0.1:5001/healthz >/dev/null &&
			return 0
		sleep 0.1
	done
	return 1
}

configs() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-days 2 -subj "/CN=steer.test" -addext "subjectAltName=DNS:steer.test" \
		-keyout "$DIR/key.pem" -out "$DIR/cert.pem" 2>/dev/null || return 1
	cat >"$DIR/agent.yaml" <<EOF
socket: $SOCK
metrics: 127.0.0.1:9146
interfaces: [{name: lbh, mode: native}]
vips:
  - address: $VIP4:443
  - address: "[$VIP6]:443"
health: {interval_ms: 300, timeout_ms: 1000, rise: 1, fall: 2}
EOF
	cat >"$DIR/lbtls.yaml" <<EOF
workers: 4
agent: {socket: $SOCK}
tls:
  certificates: [{fullchain: $DIR/cert.pem, privkey: $DIR/key.pem}]
upstream:
  servers: [127.0.0.1:5001, 127.0.0.1:5002, 127.0.0.1:5003]
log: {access: "off", error: $DIR/lbtls-error.log}
metrics: 127.0.0.1:9145
x_served_by: true
EOF
}

up_workers() { # until N workers are up on the v4 VIP (bounded: 10 s)
	local n=$1 up
	for _ in $(seq 100); do
		up=$("${LBCTL[@]}" worker list "$VIP4:443" 2>/dev/null | grep -c ' up ')
		[ "$up" -ge "$n" ] && return 0
		sleep 0.1
	done
	say "only $up of $n workers up"
	return 1
}

served_by() { # served_by FAMILY SRC: the worker id that answered, or "fail"
	local vip=$VIP4 out
	[ "$1" = 6 ] && vip="[$VIP6]"
	out=$(ip netns exec "$CLI" curl -sS -k -g --max-time 5 --interface "$2" \
		-D - -o /dev/null --resolve "steer.test:443:$vip" \
		"https://steer.test/" 2>>"$DIR/curl.log") || {
		echo fail
		return
	}
	echo "$out" | tr -d '\r' | sed -n 's/^x-served-by: .*worker-\([0-9]*\)$/\1/Ip'
}

pick() { "${LBCTL[@]}" pick "$1" "$2"; }

lands_on_pick() { # lands_on_pick FAMILY
	local i a got want vip=$VIP4:443 bad=0
	[ "$1" = 6 ] && vip="[$VIP6]:443"
	for i in $(seq 0 $((NCLI - 1))); do
		if [ "$1" = 6 ]; then a=$(addr6 "$i"); else a=$(addr4 "$i"); fi
		want=$(pick "$vip" "$a")
		got=$(served_by "$1" "$a")
		say "$a -> worker $got (ring: $want)"
		[ "$got" = "$want" ] || bad=$((bad + 1))
	done
	[ "$bad" = 0 ]
}

# A kept-alive HTTPS connection from $1 answering "who" on each line of
# stdin with the worker id (python3's http.client, one connection).
keepalive_client() {
	ip netns exec "$CLI" python3 -c '
import http.client, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
c = http.client.HTTPSConnection(sys.argv[2], 443, context=ctx,
                                source_address=(sys.argv[1], 0), timeout=5)
for line in sys.stdin:
    c.request("GET", "/", headers={"Host": "steer.test"})
    r = c.getresponse(); r.read()
    print(r.getheader("X-Served-By", "?").rsplit("-", 1)[-1], flush=True)
' "$1" "$VIP4"
}

# DESIGN D3: the listeners lbtls hands to the agent are bound to loopback
# (127.0.0.1:0, [::1]:0), so a client that learns their ports cannot bypass
# the VIP (drain, weights, XDP's filters); sk_lookup steers the VIP to them.
listeners_reachable_only_through_vip() {
	local a w pid l port host rc got n=0 bad=0 i
	a=$(addr4 3)
	w=$(pick "$VIP4:443" "$a")
	pid=$(worker_pid "$w")
	[ -n "$pid" ] || return 1
	for l in $(ip netns exec "$HOST" ss -Hltnp | grep "pid=$pid," | awk '{print $4}'); do
		port=${l##*:}
		case $l in
		127.0.0.1:*) host=198.18.1.1 ;;
		"[::1]:"*) host="[fd00:198:18:1::1]" ;;
		*)
			say "worker $w listens on $l, not on loopback"
			bad=$((bad + 1))
			continue
			;;
		esac
		n=$((n + 1))
		ip netns exec "$CLI" curl -sk -g --max-time 5 -o /dev/null \
			"https://$host:$port/" 2>>"$DIR/curl.log"
		rc=$?
		say "worker $w listens on $l; client to $host:$port: curl exit $rc (7: refused)"
		[ "$rc" = 7 ] || bad=$((bad + 1))
	done
	# https and http, IPv4 and IPv6
	[ "$n" = 4 ] && [ "$bad" = 0 ] || return 1
	[ "$(served_by 4 "$a")" = "$w" ] || return 1
	for i in $(seq 0 $((NCLI - 1))); do
		if [ "$(pick "[$VIP6]:443" "$(addr6 "$i")")" = "$w" ]; then
			got=$(served_by 6 "$(addr6 "$i")")
			say "IPv6 client $(addr6 "$i") -> worker $got (ring: $w)"
			[ "$got" = "$w" ]
			return
		fi
	done
	say "no IPv6 client picks worker $w"
	return 1
}

drain_keeps_open_connection() {
	local a w fifo out got n_other=0 i ka
	a=$(addr4 0)
	fifo=$DIR/ka.in
	mkfifo "$fifo"
	keepalive_client "$a" <"$fifo" >"$DIR/ka.out" 2>>"$DIR/ka.err" &
	ka=$!
	exec 7>"$fifo"
	echo who >&7
	# the worker that holds the connection, as it answers: a pick read
	# before the connect can be stale if a slow probe moved the ring
	for _ in $(seq 50); do # bounded: 5 s
		w=$(head -1 "$DIR/ka.out")
		[ -n "$w" ] && break
		sleep 0.1
	done
	[ -n "$w" ] || return 1
	"${LBCTL[@]}" worker drain "$VIP4:443" "$w" || return 1
	echo who >&7
	# new connections of w's clients go elsewhere, as the ring now says
	for i in $(seq 0 $((NCLI - 1))); do
		got=$(served_by 4 "$(addr4 "$i")")
		[ "$got" != "$w" ] || return 1
		[ "$got" = "$(pick "$VIP4:443" "$(addr4 "$i")")" ] || return 1
		[ "$(pick "$VIP4:443" "$(addr4 "$i")")" != "$w" ] && n_other=$((n_other + 1))
	done
	echo who >&7
	exec 7>&-
	wait "$ka"
	out=$(tr '\n' ' ' <"$DIR/ka.out")
	say "worker $w drained; its kept-alive connection answered: $out"
	"${LBCTL[@]}" worker undrain "$VIP4:443" "$w" || return 1
	[ "$out" = "$w $w $w " ] && [ "$n_other" = "$NCLI" ]
}

# The pid of lbtls worker slot $1 (its own /metrics labels say).
worker_pid() {
	ip netns exec "$HOST" curl -sf http://127.0.0.1:9145/metrics |
		sed -n "s/.*worker=\"$1\",pid=\"\([0-9]*\)\".*/\1/p" | head -n1
}

kill9_worker_fails_nothing() {
	local a w pid i got failures=0
	a=$(addr4 1)
	w=$(pick "$VIP4:443" "$a")
	pid=$(worker_pid "$w")
	[ -n "$pid" ] || return 1
	kill -9 "$pid"
	while kill -0 "$pid" 2>/dev/null; do sleep 0.01; done
	for i in $(seq 0 $((3 * NCLI - 1))); do
		got=$(served_by 4 "$(addr4 $((i % NCLI)))")
		[ "$got" = fail ] && failures=$((failures + 1))
	done
	say "worker $w (pid $pid) killed: $((3 * NCLI)) requests after, $failures failed"
	[ "$failures" = 0 ] && up_workers 4 # respawned by the master, back in
}

# A hung worker (SIGSTOP) still accepts TCP in the kernel's backlog but
# never completes TLS: the agent's probes must take it out of the rings.
hung_worker_leaves_rings() {
	local a w pid i got failures=0 state=""
	a=$(addr4 2)
	w=$(pick "$VIP4:443" "$a")
	pid=$(worker_pid "$w")
	[ -n "$pid" ] || return 1
	kill -STOP "$pid"
	for _ in $(seq 100); do # bounded: 10 s
		state=$("${LBCTL[@]}" worker list "$VIP4:443" |
			awk -v w="$w" '$2 == w {print $4}')
		[ "$state" = down ] && break
		sleep 0.1
	done
	say "worker $w (pid $pid) stopped: agent says '$state'"
	if [ "$state" != down ]; then
		kill -CONT "$pid"
		return 1
	fi
	for i in $(seq 0 $((NCLI - 1))); do
		got=$(served_by 4 "$(addr4 "$i")")
		[ "$got" = fail ] && failures=$((failures + 1))
		[ "$got" = "$w" ] && failures=$((failures + 1))
	done
	kill -CONT "$pid"
	say "while it hung: $failures failed or reached it"
	[ "$failures" = 0 ] && up_workers 4
}

# An lbtls reload (SIGHUP): each new worker takes its slot's id over from
# the draining one (the same uid, the slot's very listeners); the agent
# refuses none of them, and no request fails meanwhile.
lbtls_reload_takes_over() {
	local total=0 failures=0 mark refused_before after=0 refused t_end
	mark=$(wc -l <"$DIR/agent.log")
	refused_before=$(grep -c 'refused' "$DIR/agent.log")
	kill -HUP "$pid_lbtls" || return 1
	t_end=$(($(date +%s) + 3))
	while [ "$(date +%s)" -lt "$t_end" ] && [ $total -lt 300 ]; do
		[ "$(served_by 4 "$(addr4 $((total % NCLI)))")" = fail ] && failures=$((failures + 1))
		total=$((total + 1))
	done
	for _ in $(seq 50); do # bounded: 5 s
		# an id is taken over whether the old worker still held it
		# ("registered again") or had already drained and left
		after=$(tail -n +$((mark + 1)) "$DIR/agent.log" |
			grep -oE 'worker [0-9]+ registered' | sort -u | wc -l)
		[ "$after" -ge 4 ] && break
		sleep 0.1
	done
	refused=$(($(grep -c 'refused' "$DIR/agent.log") - refused_before))
	say "lbtls reloaded: $after ids taken over by the new generation, $refused registrations refused, $total requests, $failures failed"
	[ "$after" -ge 4 ] && [ "$refused" = 0 ] && [ "$failures" = 0 ] &&
		up_workers 4 && lands_on_pick 4
}

agent_restart_under_load() {
	local i failures=0 total=0 t_end
	kill -9 "$pid_agent"
	t_end=$(($(date +%s) + 2))
	while [ "$(date +%s)" -lt "$t_end" ] && [ $total -lt 300 ]; do
		[ "$(served_by 4 "$(addr4 $((total % NCLI)))")" = fail ] && failures=$((failures + 1))
		total=$((total + 1))
	done
	start agent "${LBCTL[@]}" agent -c "$DIR/agent.yaml"
	t_end=$(($(date +%s) + 2))
	while [ "$(date +%s)" -lt "$t_end" ] && [ $total -lt 600 ]; do
		[ "$(served_by 4 "$(addr4 $((total % NCLI)))")" = fail ] && failures=$((failures + 1))
		total=$((total + 1))
	done
	say "agent killed and restarted: $total requests, $failures failed"
	[ "$failures" = 0 ] && up_workers 4 && lands_on_pick 4
}

xdp_detached_lands_on_pick() {
	"${LBCTL[@]}" detach lbh || return 1
	"${LBCTL[@]}" status | grep -q 'not attached to any interface' || return 1
	lands_on_pick 4 || return 1
	"${LBCTL[@]}" attach lbh
}

fail_now() {
	echo "FAIL $1"
	echo "0 passed, 1 failed"
	exit 1
}

[ "$(id -u)" = 0 ] || fail_now "must run as root (namespaces, BPF)"
for t in python3 curl openssl ip; do
	command -v $t >/dev/null || fail_now "$t is missing (make deps)"
done
python3 -c 'import flask' 2>/dev/null || fail_now "python3-flask is missing (make deps)"

check "topology: host and client namespaces, 16 client addresses" topology
check "three Flask backends answer" backends
check "configs and certificate" configs
start agent "${LBCTL[@]}" agent -c "$DIR/agent.yaml"
start lbtls ip netns exec "$HOST" "$BUILD/lbtls" -c "$DIR/lbtls.yaml"
check "four lbtls workers register with the agent and pass its TLS probes" \
	up_workers 4
check "XDP attached in native mode by the agent" \
	bash -c "${LBCTL[*]} status | grep -q 'lbh (native)'"
check "each IPv4 client lands on the worker its ring slot names" lands_on_pick 4
check "each IPv6 client lands on the worker its ring slot names" lands_on_pick 6
check "a worker's listeners: on loopback, refused to the client, reached via the VIP (v4, v6)" \
	listeners_reachable_only_through_vip
check "drain: the open keep-alive connection goes on, new ones move" \
	drain_keeps_open_connection
check "kill -9 of a worker: no later request fails; it comes back" \
	kill9_worker_fails_nothing
check "a hung worker (SIGSTOP) fails its TLS probes and leaves the rings" \
	hung_worker_leaves_rings
check "lbtls reload: the new generation takes every worker id over, none refused, no request fails" \
	lbtls_reload_takes_over
check "agent killed and restarted under load: zero failed requests" \
	agent_restart_under_load
check "XDP detached: connections still land on the computed worker" \
	xdp_detached_lands_on_pick

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
