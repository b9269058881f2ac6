#!/usr/bin/env bash
# SYN cookies end to end, with the real parts: a client namespace, veth to a
# "host" namespace where the lbctl agent attaches XDP (generic mode: no
# ethtool here to give the client's veth the NAPI a native XDP_TX needs) and
# the tc ingress link, and two lbtls workers. Flood mode is forced on
# (flood_syn_rate 1 SYN/s) by rewriting the pinned lb_config. Then:
#   - curl completes TLS over IPv4 and IPv6; every SYN was answered by XDP
#     (cookies_sent), every ACK made a request socket in tc (cookies_ok), no
#     SYN reached the stack (new_conns and syn_retrans 0, the kernel sent no
#     cookie of its own), and the kernel made the children (PassiveOpens).
#   - a ring change between SYN-ACK and ACK: the client's ACKs are held back
#     (iptables in the client namespace drops all but SYNs) while the
#     picked worker is drained; once released, the retransmitted ACK lands
#     on the worker the new ring picks, which answers.
#   - a forged ACK (random cookie) in flood mode draws no RST and counts
#     cookie_bad.
#   - a tcx program attached after ours (tests/net/tcx_count.py) still
#     sees the packets that are not ours (pings to the host's address).
#   - SYNs of odd shapes from scapy (tests/net/syn_probe.py), in flood
#     mode: an IPv4 router alert option and an IPv6 destination-options
#     header get a cookie SYN-ACK without them, a fragmented SYN is
#     dropped, none reaches the listener (no SYN_RECV socket, the kernel's
#     listen-queue drop counters unchanged); a SYN to the broadcast MAC, a
#     SYN|FIN and a SYN with a bad checksum get no SYN-ACK. Each counted.
#   - detach removes the tcx link with XDP.
# Ends with "N passed, N failed"; a trap removes everything it made.
#
# Usage: bash tests/net/test_cookies.sh BUILD_DIR
set -u
BUILD=$(realpath "${1:-build}")
cd "$(dirname "$0")/../.." || exit 1
. tests/net/lib.sh
T=lbk$$
HOST=$T-host
CLI=$T-cli
INST=$T
DIR=$(mktemp -d /tmp/lbl-cookie.XXXXXX)
SOCK=/run/lbctl/$T.sock
VIP4=198.18.0.100
VIP6=fd00:198:18::100
CLI4=198.18.1.10
CLI6=fd00:198:18:1::10
PIN=/sys/fs/bpf/$INST
COUNT_PIN=/sys/fs/bpf/$T-count # tcx_count.py's link and map
pass=0
fail=0
pids=()

LBCTL=("$BUILD/lbctl" --instance "$INST" --netns "$HOST")

cleanup() {
	local p
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	pkill -9 -f "$DIR/" 2>/dev/null
	"${LBCTL[@]}" unload 2>/dev/null
	rm -rf "$COUNT_PIN"
	ip netns del "$CLI" 2>/dev/null
	ip netns del "$HOST" 2>/dev/null
	rm -f /run/lbctl/"$T".* "$SOCK" # the agent's lock too: it dies by -9
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

topology() {
	ip netns add "$HOST" && ip netns add "$CLI" &&
		ip -n "$HOST" link add lbh type veth peer name lbc netns "$CLI" &&
		ip -n "$HOST" link set lo up && ip -n "$HOST" link set lbh up &&
		ip -n "$HOST" addr add 198.18.1.1/24 dev lbh &&
		ip -n "$HOST" addr add fd00:198:18:1::1/64 dev lbh nodad &&
		ip -n "$HOST" addr add $VIP4/32 dev lo &&
		ip -n "$HOST" addr add $VIP6/128 dev lo &&
		ip -n "$CLI" link set lo up && ip -n "$CLI" link set lbc up &&
		ip -n "$CLI" addr add $CLI4/24 dev lbc &&
		ip -n "$CLI" addr add $CLI6/64 dev lbc nodad &&
		ip -n "$CLI" route add 198.18.0.0/24 via 198.18.1.1 &&
		ip -n "$CLI" route add fd00:198:18::/64 via fd00:198:18:1::1 &&
		ip netns exec "$CLI" ping -q -c1 -W2 198.18.1.1 >/dev/null &&
		ip netns exec "$CLI" ping -q -c1 -W2 fd00:198:18:1::1 >/dev/null
}

configs() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-days 2 -subj "/CN=cookie.test" -addext "subjectAltName=DNS:cookie.test" \
		-keyout "$DIR/key.pem" -out "$DIR/cert.pem" 2>/dev/null || return 1
	cat >"$DIR/agent.yaml" <<EOF
socket: $SOCK
metrics: 127.0.0.1:9156
interfaces: [{name: lbh, mode: generic}]
vips:
  - address: $VIP4:443
  - address: "[$VIP6]:443"
health: {interval_ms: 300, timeout_ms: 500, rise: 1, fall: 2}
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
x_served_by: true
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

# Rewrite lb_config's flood fields (flags, flood_syn_rate, flood_hold_ms at
# offsets 8, 12, 16; src_rate, src_burst at 20, 24), the rest kept.
set_flood() { # set_flood FLAGS SYN_RATE HOLD_MS
	local val
	val=$(bpftool -j map lookup pinned "$PIN/lb_config" key 0 0 0 0) || return 1
	val=$(python3 -c '
import json, struct, sys
v = bytearray(int(b, 16) for b in json.loads(sys.argv[1])["value"])
struct.pack_into("<5I", v, 8, int(sys.argv[2]), int(sys.argv[3]),
                 int(sys.argv[4]), 100000, 100000)
print(" ".join(str(b) for b in v))' "$val" "$1" "$2" "$3") || return 1
	# shellcheck disable=SC2086
	bpftool map update pinned "$PIN/lb_config" key 0 0 0 0 value $val
}

# lb_config.cookie_key (offset 48, 16 bytes): random, so not all zero.
cookie_key_set() {
	bpftool -j map lookup pinned "$PIN/lb_config" key 0 0 0 0 | python3 -c '
import json, sys
v = [int(b, 16) for b in json.load(sys.stdin)["value"]]
sys.exit(0 if any(v[48:64]) else 1)'
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

kstat() { # kstat NAME: a kernel counter of the host namespace
	ip netns exec "$HOST" nstat -az "$1" | awk -v n="$1" '$1 == n {print $2}'
}

served_by() { # served_by FAMILY: the worker id that answered, or "fail"
	local vip=$VIP4 src=$CLI4 out
	[ "$1" = 6 ] && vip="[$VIP6]" && src=$CLI6
	out=$(ip netns exec "$CLI" curl -sS -k -g --max-time 10 --interface "$src" \
		-D - -o /dev/null --resolve "cookie.test:443:$vip" \
		"https://cookie.test/" 2>>"$DIR/curl.log") || {
		echo fail
		return
	}
	echo "$out" | tr -d '\r' | sed -n 's/^x-served-by: .*worker-\([0-9]*\)$/\1/Ip'
}

# The pinned link is a live tcx link (type 11) on lbh, running lb_tc_ingress.
tc_link_attached() {
	local pins info prog
	pins=$(find "$PIN" -maxdepth 1 -name 'link_tcx_*' -printf '%f\n')
	say "tcx link pins: $pins"
	[ "$(echo "$pins" | wc -w)" = 1 ] || return 1
	info=$(bpftool -j link show pinned "$PIN/$pins") || return 1
	say "link: $info"
	prog=$(echo "$info" | python3 -c 'import json, sys; print(json.load(sys.stdin)["prog_id"])')
	bpftool prog show id "$prog" | grep -q 'name lb_tc_ingress' &&
		[ "$pins" = "link_tcx_$(ip netns exec "$HOST" cat /sys/class/net/lbh/ifindex)" ]
}

tls_through_cookies() { # tls_through_cookies FAMILY VIP:PORT
	local sent0 ok0 syns0 rt0 ks0 po0 got sent ok syns rt ks po
	sent0=$(stat_of "$2" cookies_sent) ok0=$(stat_of "$2" cookies_ok)
	syns0=$(stat_of "$2" new_conns) rt0=$(stat_of "$2" syn_retrans)
	ks0=$(kstat TcpExtSyncookiesSent) po0=$(kstat TcpPassiveOpens)
	got=$(served_by "$1")
	sent=$(stat_of "$2" cookies_sent) ok=$(stat_of "$2" cookies_ok)
	syns=$(stat_of "$2" new_conns) rt=$(stat_of "$2" syn_retrans)
	ks=$(kstat TcpExtSyncookiesSent) po=$(kstat TcpPassiveOpens)
	say "v$1: served by '$got'; cookies_sent $sent0->$sent cookies_ok $ok0->$ok" \
		"new_conns $syns0->$syns syn_retrans $rt0->$rt" \
		"kernel SyncookiesSent $ks0->$ks PassiveOpens $po0->$po"
	[ "$got" != fail ] && [ -n "$got" ] &&
		[ "$sent" -gt "$sent0" ] && [ "$ok" -gt "$ok0" ] &&
		[ "$syns" = "$syns0" ] && [ "$rt" = "$rt0" ] &&
		[ "$ks" = "$ks0" ] && [ "$po" -gt "$po0" ]
}

# The SYN-ACK comes from XDP with the ring as it is; the ACK is held in the
# client namespace while the worker it would have gone to is drained.
ring_change_between_synack_and_ack() {
	local w_old w_new got ok0 ok bad cpid
	w_old=$("${LBCTL[@]}" pick "$VIP4:443" "$CLI4") || return 1
	ok0=$(stat_of "$VIP4:443" cookies_ok)
	ip netns exec "$CLI" iptables -A OUTPUT -p tcp -d $VIP4 --dport 443 \
		! --syn -j DROP || return 1
	served_by 4 >"$DIR/held.out" &
	cpid=$!
	sleep 1 # SYN out, XDP's SYN-ACK back, ACK and ClientHello held
	"${LBCTL[@]}" worker drain "$VIP4:443" "$w_old" || bad=1
	w_new=$("${LBCTL[@]}" pick "$VIP4:443" "$CLI4")
	ip netns exec "$CLI" iptables -D OUTPUT -p tcp -d $VIP4 --dport 443 \
		! --syn -j DROP
	wait "$cpid"
	got=$(cat "$DIR/held.out")
	ok=$(stat_of "$VIP4:443" cookies_ok)
	"${LBCTL[@]}" worker undrain "$VIP4:443" "$w_old"
	say "pick before drain $w_old, after $w_new; served by '$got';" \
		"cookies_ok $ok0->$ok"
	[ -z "${bad:-}" ] && [ "$w_new" != "$w_old" ] && [ "$got" = "$w_new" ] &&
		[ "$ok" -gt "$ok0" ]
}

# A bare ACK with a random cookie from the client namespace (raw socket,
# no SYN before it): tc drops it (cookie_bad), so no RST comes back. Flood
# mode is per CPU, and a veth delivers on the sender's CPU: a SYN from the
# same CPU first puts that CPU in flood mode.
forged_ack_dropped() {
	local bad0 bad out
	[ "$(taskset -c 0 bash -c "$(declare -f served_by); CLI=$CLI CLI4=$CLI4 VIP4=$VIP4 DIR=$DIR; served_by 4")" != fail ] ||
		return 1
	bad0=$(reason cookie_bad)
	out=$(ip netns exec "$CLI" taskset -c 0 python3 -c '
import random, socket, struct, sys
src, dst = sys.argv[1], sys.argv[2]
sport = 40000 + random.randrange(1000)
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
th = struct.pack("!HHIIBBHHH", sport, 443, random.getrandbits(32),
                 random.getrandbits(32), 5 << 4, 0x10, 65535, 0, 0)
ph = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, 20)
th = th[:16] + struct.pack("!H", csum(ph + th)) + th[18:]
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
s.settimeout(1.5)
s.sendto(th, (dst, 0))
try:
    while True:
        d = s.recv(100)
        if struct.unpack("!H", d[20:22])[0] == 443 and \
           struct.unpack("!H", d[22:24])[0] == sport:
            print("reply flags 0x%x" % d[33]); break
except socket.timeout:
    print("no reply")' "$CLI4" "$VIP4")
	bad=$(reason cookie_bad)
	say "forged ACK: $out; cookie_bad $bad0->$bad"
	[ "$out" = "no reply" ] && [ "$bad" -gt "$bad0" ]
}

# Pings to the host's own address on lbh are not ours: the tc program must
# let the next tcx program see them (TCX_NEXT), and cookies keep working
# with that program behind ours.
tcx_next_sees_the_rest() {
	local before after got
	python3 tests/net/tcx_count.py attach "$HOST" lbh "$COUNT_PIN/c" || return 1
	before=$(python3 tests/net/tcx_count.py count "$COUNT_PIN/c")
	ip netns exec "$CLI" ping -q -c 5 -i 0.2 -W 1 198.18.1.1 >/dev/null || return 1
	after=$(python3 tests/net/tcx_count.py count "$COUNT_PIN/c")
	got=$(served_by 4)
	say "tcx program after ours counted $before -> $after packets" \
		"(5 pings sent); TLS through cookies then: '$got'"
	[ "$after" -ge $((before + 5)) ] && [ "$got" != fail ] && [ -n "$got" ]
}

SHAPE_REASONS="cookie_sent cookie_ip_opts syn_frag_drop syn_bad_mac syn_bad_flags syn_bad_csum"
declare -A R0 R1
# Send the probes once from CPU 0 (in flood mode since forged_ack_dropped),
# and keep what came back and what moved for the checks below.
probe_shapes() {
	local r hmac
	for r in $SHAPE_REASONS; do R0[$r]=$(reason "$r"); done
	LO0=$(kstat TcpExtListenOverflows) QF0=$(kstat TcpExtTCPReqQFullDrop)
	NC0=$(($(stat_of "$VIP4:443" new_conns) + $(stat_of "[$VIP6]:443" new_conns)))
	hmac=$(ip netns exec "$HOST" cat /sys/class/net/lbh/address)
	ip netns exec "$CLI" taskset -c 0 /usr/bin/python3 tests/net/syn_probe.py \
		lbc "$hmac" $CLI4 $VIP4 $CLI6 $VIP6 >"$DIR/probe.out" || return 1
	sleep 0.5
	for r in $SHAPE_REASONS; do R1[$r]=$(reason "$r"); done
	SYNRECV=$(ip netns exec "$HOST" ss -Htn state syn-recv | wc -l)
	LO1=$(kstat TcpExtListenOverflows) QF1=$(kstat TcpExtTCPReqQFullDrop)
	NC1=$(($(stat_of "$VIP4:443" new_conns) + $(stat_of "[$VIP6]:443" new_conns)))
	say "probes: $(tr '\n' ';' <"$DIR/probe.out")"
	for r in $SHAPE_REASONS; do say "  $r ${R0[$r]} -> ${R1[$r]}"; done
	say "  SYN_RECV sockets $SYNRECV; ListenOverflows $LO0 -> $LO1;" \
		"ReqQFullDrop $QF0 -> $QF1; new_conns $NC0 -> $NC1"
}

probe_is() { # probe_is NAME ANSWER
	grep -qx "$1 $2" "$DIR/probe.out"
}

moved() { # moved REASON N: the outcome rose by N during the probes
	[ -n "${R0[$1]}" ] && [ -n "${R1[$1]}" ] && [ "$((R1[$1] - R0[$1]))" = "$2" ]
}

ip_opts_cookie() {
	probe_is plain_v4 "synack ip_hdr=20" && moved cookie_sent 1 &&
		probe_is router_alert_v4 "synack ip_hdr=20" &&
		probe_is dest_opts_v6 "synack ip_hdr=40" && moved cookie_ip_opts 2
}

fragment_dropped() {
	probe_is fragmented_v4 none && moved syn_frag_drop 1
}

no_syn_reached_listener() {
	[ "$SYNRECV" = 0 ] && [ "$LO1" = "$LO0" ] && [ "$QF1" = "$QF0" ] &&
		[ "$NC1" = "$NC0" ]
}

detach_removes_tc_link() {
	local before after
	before=$(bpftool -j link show | python3 -c 'import json, sys; print(sum(l["type"] in ("tcx", 11) for l in json.load(sys.stdin)))')
	"${LBCTL[@]}" detach lbh || return 1
	after=$(bpftool -j link show | python3 -c 'import json, sys; print(sum(l["type"] in ("tcx", 11) for l in json.load(sys.stdin)))')
	say "tcx links on the machine: $before before detach, $after after"
	[ -z "$(find "$PIN" -maxdepth 1 -name 'link_tcx_*')" ] && [ "$after" -lt "$before" ]
}

fail_now() {
	echo "FAIL $1"
	echo "0 passed, 1 failed"
	exit 1
}

[ "$(id -u)" = 0 ] || fail_now "must run as root (namespaces, BPF)"
for t in python3 curl openssl ip iptables bpftool nstat taskset; do
	command -v $t >/dev/null || fail_now "$t is missing (make deps)"
done
python3 -c 'import flask' 2>/dev/null || fail_now "python3-flask is missing (make deps)"
/usr/bin/python3 -c 'import scapy.all' 2>/dev/null || fail_now "python3-scapy is missing (make deps)"

check "topology: host and client namespaces" topology
check "a Flask backend answers" backend
check "configs and certificate" configs
start agent "${LBCTL[@]}" agent -c "$DIR/agent.yaml"
start lbtls ip netns exec "$HOST" "$BUILD/lbtls" -c "$DIR/lbtls.yaml"
check "two lbtls workers register with the agent and pass its TLS probes" \
	up_workers 2
check "the tcx ingress link is attached and pinned with XDP" tc_link_attached
check "the cookie key in the pinned config is set (random)" cookie_key_set
# flood defence and cookies on; any SYN starts flood mode, for 10 minutes
check "flood mode forced on (pinned lb_config)" set_flood 3 1 600000
check "IPv4: TLS through XDP cookies; no SYN reached the stack" \
	tls_through_cookies 4 "$VIP4:443"
check "IPv6: TLS through XDP cookies; no SYN reached the stack" \
	tls_through_cookies 6 "[$VIP6]:443"
check "ring change between SYN-ACK and ACK: lands on the new pick, which serves" \
	ring_change_between_synack_and_ack
check "a forged ACK in flood mode is dropped (no RST) and counted" \
	forged_ack_dropped
check "a tcx program after ours sees the packets that are not ours (TCX_NEXT)" \
	tcx_next_sees_the_rest
check "scapy SYN probes sent from CPU 0 in flood mode" probe_shapes
check "flood mode: SYNs with an IPv4 router alert / IPv6 dest-options header get a cookie without them" \
	ip_opts_cookie
check "flood mode: a fragmented SYN (MF) is dropped and counted" fragment_dropped
check "flood mode: none of these SYNs reached the listener (SYN_RECV, listen drops, new_conns)" \
	no_syn_reached_listener
check "no SYN-ACK to a SYN for the broadcast MAC (syn_bad_mac)" \
	eval 'probe_is broadcast_mac_v4 none && moved syn_bad_mac 1'
check "no SYN-ACK to a SYN|FIN (syn_bad_flags)" \
	eval 'probe_is syn_fin_v4 none && moved syn_bad_flags 1'
check "no SYN-ACK to a SYN with a bad TCP checksum (syn_bad_csum)" \
	eval 'probe_is bad_csum_v4 none && moved syn_bad_csum 1'
check "detach removes the tcx link with XDP" detach_removes_tc_link
"${LBCTL[@]}" stats >>"$DIR/checks.log" 2>&1
[ "$fail" -gt 0 ] || sed -n '1,4p' <("${LBCTL[@]}" stats)

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
