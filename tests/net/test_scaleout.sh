#!/usr/bin/env bash
# Scale-out end to end (issue 22, docs/scaleout.md) in network namespaces:
# a client, a router running BIRD with ECMP over eBGP, three balancer hosts
# (BIRD announcing the VIP while their agent holds lbvip0 up, XDP on the
# uplink encapsulating in GUE) and three worker hosts (XDP decapsulating,
# lbtls with 2 workers each, a Flask backend, DSR replies), the topology of
# tests/net/scaleout_lib.sh. w3 starts drained: out of the rings.
#
#  1. BGP converges: the router has 3 paths to the VIP (time printed)
#  2. 100 client addresses: every balancer's lbctl pick agrees, and real
#     HTTPS requests are served by that worker, through ECMP and through
#     each balancer alone (policy routes by source port on the router)
#  3. a balancer drained and brought back under load (tests/net/
#     scaleout_load.py): no established connection fails, new ones succeed
#  4. w3 added, then w1 drained, under load: no established connection
#     fails (second chance), new connections land where lbctl pick says
#  5. a balancer withdrawn while a worker host is added: no failure
#  6. 20 MB through the encapsulation, SHA-256 intact; the forwarded SYN's
#     MSS clamped to mtu-80 in the GUE packet on the wire
#  7. forged GUE from a non-cluster source is dropped and counted
#     (decap_not_cluster); traffic to the hosts' own addresses is untouched
#
# Each load run covers one ring change, so that a failure names the change
# that caused it.
# Ends with "N passed, N failed"; a trap removes every namespace, process,
# BIRD, pin and socket it made, also on failure. About 2 minutes.
#
# Usage: bash tests/net/test_scaleout.sh BUILD_DIR
set -u
BUILD=$(realpath "${1:-build}")
cd "$(dirname "$0")/../.." || exit 1
. tests/net/lib.sh
. tests/net/scaleout_lib.sh
DIR=$(mktemp -d /tmp/sx-test.XXXXXX)
pass=0
fail=0
pids=()
NPROBE=100 # client addresses checked one by one
LOADSRC=198.18.1.1-198.18.1.100

cleanup() {
	sx_down
	[ -n "${SX_KEEP:-}" ] && rm -rf "$SX_KEEP" && cp -r "$DIR" "$SX_KEEP"
	if [ "$fail" -gt 0 ]; then
		echo "--- checks.log"
		tail -n 60 "$DIR/checks.log"
		for f in "$DIR"/agent_*.log; do
			echo "--- ${f##*/}"
			tail -n 8 "$f"
		done
	fi
	rm -rf "$DIR"
}

fail_now() {
	echo "FAIL $1"
	echo "0 passed, 1 failed"
	exit 1
}

info() { # a figure, printed under its check (check sends stdout to checks.log)
	echo "     $*" | tee -a "$DIR/info"
}

checki() { # check, then the figures it found
	check "$@"
	[ -s "$DIR/info" ] && cat "$DIR/info"
	: >"$DIR/info"
}

jget() { # jget FILE EXPR: EXPR over the JSON object in FILE (its keys as names)
	"$SX_PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, d))' "$1" "$2"
}

# --- load client ------------------------------------------------------------
load_pid=""
load_start() { # load_start NAME: scaleout_load.py in the background
	local name=$1 _
	rm -f "$DIR/$name.ready"
	ip netns exec $SX_NS_C "$SX_PY" tests/net/scaleout_load.py \
		--sources $LOADSRC --conns 24 --interval 0.1 --new-rate 5 \
		--duration 120 --events "$DIR/$name.events" \
		--ready "$DIR/$name.ready" >"$DIR/$name.json" 2>"$DIR/$name.err" &
	load_pid=$!
	pids+=("$load_pid")
	for _ in $(seq 50); do
		[ -e "$DIR/$name.ready" ] && break
		sleep 0.1
	done
	sleep 3 # every kept-alive connection open and answering
}

load_stop() { # load_stop NAME: stop it, its summary in checks.log
	local name=$1
	kill -TERM "$load_pid" 2>/dev/null
	wait "$load_pid"
	sx_log "load $name: $(cat "$DIR/$name.json")"
	sed 's/^/  /' "$DIR/$name.err" >>"$DIR/checks.log"
	[ -s "$DIR/$name.json" ]
}

# load_ok NAME: no established connection failed, no new one failed, and
# the load did run (requests and new connections counted)
load_ok() {
	local f=$DIR/$1.json e n r ok
	e=$(jget "$f" established_failed)
	n=$(jget "$f" new_failed)
	r=$(jget "$f" requests)
	ok=$(jget "$f" new_ok)
	info "load $1: $r requests on 24 kept-alive connections, $(jget "$f" established_failed) failed ($(jget "$f" established_failures)); $ok new connections, $n failed ($(jget "$f" new_failures))"
	[ "$e" = 0 ] && [ "$n" = 0 ] && [ "$r" -gt 100 ] && [ "$ok" -gt 10 ]
}

# --- rings and picks ----------------------------------------------------------
# host_slots B HOSTID: slots the host holds in balancer B's ring (lbctl cluster)
host_slots() {
	sx_lbctl "$1" cluster 2>/dev/null |
		awk -v h="$2" '$1 == "host" && $2 == h { print $3; found = 1 } END { if (!found) print 0 }' |
		head -n1
}

# rings_have HOSTID yes|no: on every balancer (bounded: 10 s)
rings_have() {
	local id=$1 want=$2 b n ok _
	for _ in $(seq 100); do
		ok=1
		for b in "${SX_BAL[@]}"; do
			n=$(host_slots "$b" "$id")
			if [ "$want" = yes ]; then [ "${n:-0}" -gt 0 ] || ok=0; else [ "${n:-0}" = 0 ] || ok=0; fi
		done
		[ $ok = 1 ] && return 0
		sleep 0.1
	done
	for b in "${SX_BAL[@]}"; do sx_log "$b: $(sx_lbctl "$b" cluster 2>&1)"; done
	return 1
}

# picks FILE: every balancer's pick for client 1..NPROBE, equal, in FILE
# ("SRC sx-wN/worker-K" lines)
picks() {
	local out=$1 i src p1 p2 p3 bad=0
	: >"$out"
	for i in $(seq 1 $NPROBE); do
		src=$(sx_src "$i")
		p1=$(sx_pick b1 "$src")
		p2=$(sx_pick b2 "$src")
		p3=$(sx_pick b3 "$src")
		if [ "$p1" != "$p2" ] || [ "$p1" != "$p3" ] || [[ $p1 != sx-w?/worker-? ]]; then
			sx_log "$src: b1 '$p1' b2 '$p2' b3 '$p3'"
			bad=$((bad + 1))
		fi
		echo "$src $p1" >>"$out"
	done
	[ $bad = 0 ]
}

picks_agree() {
	picks "$DIR/picks0" || return 1
	info "picks: $(awk '{print $2}' "$DIR/picks0" | cut -d/ -f1 | sort | uniq -c | tr '\n' ' ')"
	# w1 and w2 hold the rings, w3 (drained) none
	grep -q ' sx-w1/' "$DIR/picks0" && grep -q ' sx-w2/' "$DIR/picks0" &&
		! grep -q ' sx-w3/' "$DIR/picks0"
}

fwd_counts() { # fwd counter of each balancer, space-separated
	local b
	for b in "${SX_BAL[@]}"; do printf '%s ' "$(sx_reason "$b" fwd)"; done
}

# the requests through the router's ECMP: each on its pick, and every
# balancer forwarded part of them
ecmp_on_pick() {
	local i src want got bad=0 before after b k=0
	read -ra before <<<"$(fwd_counts)"
	for i in $(seq 1 $NPROBE); do
		src=$(sx_src "$i")
		want=$(awk -v s="$src" '$1 == s {print $2}' "$DIR/picks0")
		got=$(sx_served_by "$src")
		[ "$got" = "$want" ] || {
			sx_log "$src: served by '$got', pick '$want'"
			bad=$((bad + 1))
		}
	done
	read -ra after <<<"$(fwd_counts)"
	for b in 0 1 2; do
		info "b$((b + 1)) forwarded $((after[b] - before[b])) packets"
		[ $((after[b] - before[b])) -gt 0 ] || k=1
	done
	[ $bad = 0 ] && [ $k = 0 ]
}

# each balancer alone: the router sends source ports 4N000-4N999 to bN
# (policy routing), and the probe client uses those ports
each_balancer_on_pick() {
	local n b lo bad=0 before after src got want
	for n in 1 2 3; do
		ip -n $SX_NS_R route add $SX_VIP/32 via "$(sx_addr b$n)" table $((100 + n)) &&
			ip -n $SX_NS_R rule add ipproto tcp sport "4${n}000-4${n}999" \
				lookup $((100 + n)) pref $((100 + n)) || return 1
	done
	for n in 1 2 3; do
		b=b$n
		lo=4${n}000
		before=$(sx_reason "$b" fwd)
		ip netns exec $SX_NS_C "$SX_PY" tests/net/scaleout_load.py --probe \
			--sources "$(sx_src 1)-$(sx_src $NPROBE)" \
			--sport-range "$lo-$((lo + 999))" >"$DIR/probe-$b" 2>>"$DIR/checks.log"
		after=$(sx_reason "$b" fwd)
		while read -r src got; do
			want=$(awk -v s="$src" '$1 == s {print $2}' "$DIR/picks0")
			[ "$got" = "$want" ] || {
				sx_log "via $b: $src served by '$got', pick '$want'"
				bad=$((bad + 1))
			}
		done <"$DIR/probe-$b"
		info "via $b alone: $(wc -l <"$DIR/probe-$b") requests, $((after - before)) packets forwarded by $b"
		[ "$(wc -l <"$DIR/probe-$b")" = $NPROBE ] || bad=$((bad + 1))
		# at least the 3 packets of each handshake's client side
		[ $((after - before)) -ge $((3 * NPROBE)) ] || bad=$((bad + 1))
	done
	for n in 1 2 3; do
		ip -n $SX_NS_R rule del pref $((100 + n))
		ip -n $SX_NS_R route flush table $((100 + n))
	done
	[ $bad = 0 ]
}

# --- changes under load ------------------------------------------------------------
balancer_drain_under_load() {
	local t_out t_back
	load_start l3
	sx_lbctl b2 cluster drain >>"$DIR/checks.log" 2>&1 || return 1
	t_out=$(sx_wait_nexthops 2) || return 1
	ip -n sx-b2 link show lbvip0 | grep -q 'state DOWN' || {
		sx_log "b2 drained but lbvip0 is not down"
		return 1
	}
	sleep 3
	sx_lbctl b2 cluster undrain >>"$DIR/checks.log" 2>&1 || return 1
	t_back=$(sx_wait_nexthops 3) || return 1
	sleep 3
	load_stop l3 || return 1
	info "b2 drained: 2 paths after ${t_out} s; undrained: 3 paths after ${t_back} s"
	echo "$t_out $t_back" >"$DIR/conv-balancer"
	load_ok l3
}

# new_on_pick EVENTS PICKS T0 T1: the new connections opened in [T0, T1]
# were served by the worker PICKS names for their source; prints the
# count per worker host
new_on_pick() {
	"$SX_PY" - "$@" <<'EOF'
import json, sys
ev, picks, t0, t1 = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
pick = dict(l.split() for l in open(picks))
bad, hosts = 0, {}
for line in open(ev):
    e = json.loads(line)
    if not (t0 <= e["t"] <= t1):
        continue
    if not e["ok"] or e["served_by"] != pick.get(e["src"]):
        bad += 1
        print("new connection from %s: %s, pick %s" % (e["src"], e["served_by"] or e["kind"], pick.get(e["src"])), file=sys.stderr)
    h = e["served_by"].split("/")[0]
    hosts[h] = hosts.get(h, 0) + 1
print(" ".join("%s=%d" % kv for kv in sorted(hosts.items())))
sys.exit(1 if bad else 0)
EOF
}

second_chances() { # second_chance counters of the worker hosts, summed
	local w s=0
	for w in "${SX_WRK[@]}"; do s=$((s + $(sx_reason "$w" second_chance))); done
	echo $s
}

worker_host_add_under_load() {
	local t_in t_end spread
	load_start l4a
	sx_lbctl w3 cluster undrain >>"$DIR/checks.log" 2>&1 || return 1
	rings_have 13 yes || return 1
	t_in=$(date +%s.%N)
	sleep 4
	t_end=$(date +%s.%N)
	load_stop l4a || return 1
	picks "$DIR/picksA" || return 1
	spread=$(new_on_pick "$DIR/l4a.events" "$DIR/picksA" "$(echo "$t_in + 1" | bc)" "$t_end" 2>>"$DIR/checks.log") || {
		sx_log "new connections after w3 joined are not where the picks say"
		return 1
	}
	info "w3 added: new connections after it joined: $spread"
	load_ok l4a && [[ $spread == *sx-w3=* ]] && grep -q ' sx-w3/' "$DIR/picksA"
}

worker_host_drain_under_load() {
	local t_out t_end spread sc0 sc1
	load_start l4b
	sc0=$(second_chances)
	sx_lbctl w1 cluster drain >>"$DIR/checks.log" 2>&1 || return 1
	rings_have 11 no || return 1
	t_out=$(date +%s.%N)
	sleep 4
	t_end=$(date +%s.%N)
	sc1=$(second_chances)
	load_stop l4b || return 1
	picks "$DIR/picksB" || return 1
	spread=$(new_on_pick "$DIR/l4b.events" "$DIR/picksB" "$(echo "$t_out + 1" | bc)" "$t_end" 2>>"$DIR/checks.log") || {
		sx_log "new connections after w1 drained are not where the picks say"
		return 1
	}
	info "w1 drained: new connections after: $spread; second chance forwarded $((sc1 - sc0)) packets to w1"
	load_ok l4b && [[ $spread != *sx-w1=* ]] && [[ $spread == *sx-w3=* ]] &&
		! grep -q ' sx-w1/' "$DIR/picksB" && [ $((sc1 - sc0)) -gt 0 ]
}

# b3 withdrawn while w1 comes back (undrained)
combined_under_load() {
	local t_out t_back
	load_start l5
	sx_lbctl b3 cluster drain >>"$DIR/checks.log" 2>&1 &&
		sx_lbctl w1 cluster undrain >>"$DIR/checks.log" 2>&1 || return 1
	t_out=$(sx_wait_nexthops 2) || return 1
	rings_have 11 yes || return 1
	sleep 3
	sx_lbctl b3 cluster undrain >>"$DIR/checks.log" 2>&1 || return 1
	t_back=$(sx_wait_nexthops 3) || return 1
	sleep 3
	load_stop l5 || return 1
	info "b3 drained while w1 came back: 2 paths after ${t_out} s; 3 again after ${t_back} s"
	load_ok l5
}

# --- big answers, MSS ------------------------------------------------------------
big_answer_intact() {
	local src n=$((20 * 1024 * 1024)) want got size
	src=$(sx_src 7)
	ip netns exec $SX_NS_C curl -sS -k --http1.1 --max-time 60 \
		--interface "$src" -D "$DIR/big.head" -o "$DIR/big.body" \
		--resolve "$SX_SNI:443:$SX_VIP" "https://$SX_SNI/bytes?n=$n" ||
		return 1
	want=$(tr -d '\r' <"$DIR/big.head" | sed -n 's/^x-content-sha256: *//Ip')
	got=$(sha256sum "$DIR/big.body" | cut -d' ' -f1)
	size=$(stat -c %s "$DIR/big.body")
	info "20 MB from $(tr -d '\r' <"$DIR/big.head" | sed -n 's/^x-served-by: *//Ip'): $size bytes, sha256 ${got:0:16}... (header ${want:0:16}...)"
	[ "$size" = "$n" ] && [ -n "$want" ] && [ "$got" = "$want" ]
}

# What the client sends is what takes the tunnel: 1 MB up (under lbtls's
# 1 MiB body limit), hashed by Flask. Its segments fit the underlay with
# the 40 bytes of GUE only because the worker host's SYN-ACK advertised
# mtu-80 (the agent's TCP_MAXSEG on the listeners): with 1460 the
# balancer's FIB answers "fragmentation needed" and the upload stalls.
upload_intact() {
	local src n=1000000 want got
	src=$(sx_src 8)
	head -c $n /dev/urandom >"$DIR/up.bin"
	want=$(sha256sum "$DIR/up.bin" | cut -d' ' -f1)
	got=$(ip netns exec $SX_NS_C curl -sS -k --http1.1 --max-time 30 \
		--interface "$src" --data-binary @"$DIR/up.bin" \
		-H 'Content-Type: application/octet-stream' \
		--resolve "$SX_SNI:443:$SX_VIP" "https://$SX_SNI/sha256") ||
		return 1
	info "1 MB up from $src: sha256 ${got:0:16}... (sent ${want:0:16}...)"
	[ "$got" = "$want" ]
}

# The MSS the client learns (the SYN-ACK, straight from the worker host):
# 1500 - 40 (GUE) - 40 = 1420 advertised; the client's socket reports it
# less its own options (1408 with timestamps). Without the clamp: 1448.
synack_mss() {
	local src mss
	src=$(sx_src 10)
	mss=$(ip netns exec $SX_NS_C "$SX_PY" - "$src" "$SX_VIP" <<'EOF'
import socket, sys
s = socket.socket()
s.bind((sys.argv[1], 0))
s.settimeout(5)
s.connect((sys.argv[2], 443))
print(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG))
EOF
	) || return 1
	info "the client's MSS towards the VIP from $src: $mss"
	[ "$mss" -le 1420 ] && [ "$mss" -ge 1400 ]
}

# The SYN as the client sent it (router's client port) and as the balancer
# forwarded it in GUE (router's port to the worker host): MSS 1460, then
# 1500 - 40 (outer IPv4, UDP, GUE) - 40 = 1420
mss_clamped_on_wire() {
	local src w pid1 pid2 mss c0 c1 b _
	src=$(sx_src 9)
	w=$(sx_pick b1 "$src" | sed -n 's,^sx-\(w[0-9]\)/.*,\1,p')
	[ -n "$w" ] || return 1
	c0=0
	for b in "${SX_BAL[@]}"; do c0=$((c0 + $(sx_reason "$b" mss_clamped))); done
	ip netns exec $SX_NS_R tcpdump -U --immediate-mode -i rc -w "$DIR/syn-client.pcap" \
		"tcp[tcpflags] & tcp-syn != 0 and src host $src" 2>"$DIR/tcpdump1.err" &
	pid1=$!
	ip netns exec $SX_NS_R tcpdump -U --immediate-mode -i "r$w" -w "$DIR/syn-gue.pcap" \
		"udp dst port $SX_GUE_PORT and src net 198.19.0.0/24" 2>"$DIR/tcpdump2.err" &
	pid2=$!
	pids+=("$pid1" "$pid2")
	for _ in $(seq 50); do # both listening (bounded: 5 s)
		grep -q listening "$DIR/tcpdump1.err" && grep -q listening "$DIR/tcpdump2.err" && break
		sleep 0.1
	done
	sx_served_by "$src" >/dev/null
	sleep 1
	kill "$pid1" "$pid2" 2>/dev/null
	wait "$pid1" "$pid2" 2>/dev/null
	c1=0
	for b in "${SX_BAL[@]}"; do c1=$((c1 + $(sx_reason "$b" mss_clamped))); done
	mss=$("$SX_PY" - "$DIR/syn-client.pcap" "$DIR/syn-gue.pcap" <<'EOF'
import sys
from scapy.all import rdpcap, IP, UDP, TCP
def mss(tcp):
    return dict((k, v) for k, v in tcp.options if isinstance(k, str)).get("MSS")
c = rdpcap(sys.argv[1])[0]
for g in rdpcap(sys.argv[2]):  # the first GUE packet that carries a SYN
    pl = bytes(g[UDP].payload)
    hlen = 4 + 4 * (pl[0] & 0x1f)      # GUE base header + private words
    inner = IP(pl[hlen:])
    if pl[4] == 0x5a and TCP in inner and inner[TCP].flags & 0x02:
        break
else:
    sys.exit("no GUE packet with a SYN inside")
print(mss(c[TCP]), mss(inner[TCP]), g[IP].src, g[IP].dst, inner.src, inner.dst)
EOF
	) || return 1
	# shellcheck disable=SC2086 # the six fields
	set -- $mss
	info "SYN from $src: MSS $1 as sent, $2 inside GUE $3 -> $4 (inner $5 -> $6); mss_clamped +$((c1 - c0))"
	[ "$1" = 1460 ] && [ "$2" = 1420 ] && [ "$5" = "$src" ] &&
		[ "$6" = $SX_VIP ] && [ $((c1 - c0)) -ge 1 ]
}

# --- forged GUE ------------------------------------------------------------------
drops_w1() { # every drop counter of w1, summed (stats --json)
	sx_lbctl w1 stats --json 2>/dev/null | "$SX_PY" -c '
import json, sys
d = json.load(sys.stdin)
names = sys.argv[1].split(",")
print(sum(v for k, v in d.get("outcomes", {}).items() if k in names or k.endswith("_drop")))' \
		"fw_port,fw_proto,src_denied,fwd_no_room,decap_not_cluster,decap_bad,syn_bad_mac,syn_martian,syn_own_src,syn_bad_flags,syn_bad_csum,cookie_no_room"
}

forged_gue_dropped() {
	local n0 n1 d0 d1
	n0=$(sx_reason w1 decap_not_cluster)
	d0=$(sx_reason w1 decap)
	ip netns exec $SX_NS_C "$SX_PY" - "$(sx_src 77)" "$(sx_addr w1)" $SX_GUE_PORT $SX_VIP <<'EOF' || return 1
import struct, sys
from scapy.all import IP, UDP, TCP, Raw, send
src, host, port, vip = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
# a well-formed GUE header (include/lb_kern_user.h, struct lb_gue_hdr):
# hlen 2 words of private data, inner IPv4, magic, hop 0, worker 0, no second
gue = struct.pack("!BBHBBHI", 2, 4, 0, 0x5a, 0, 0, 0)
inner = IP(src=src, dst=vip) / TCP(sport=40404, dport=443, flags="S", seq=1)
send(IP(src=src, dst=host) / UDP(sport=port, dport=port) / Raw(gue + bytes(inner)),
     count=20, verbose=False)
EOF
	sleep 0.5
	n1=$(sx_reason w1 decap_not_cluster)
	d1=$(sx_reason w1 decap)
	info "20 forged GUE packets from $(sx_src 77): decap_not_cluster +$((n1 - n0)), decap +$((d1 - d0))"
	[ $((n1 - n0)) -ge 20 ] && [ "$d1" = "$d0" ]
}

# ping and UDP to the hosts' own addresses pass, and no drop counter moves
own_traffic_untouched() {
	local h d0 d1 got
	d0=$(drops_w1)
	for h in "${SX_BAL[@]}" "${SX_WRK[@]}"; do
		ip netns exec $SX_NS_C ping -q -c2 -i0.2 -W2 -I "$(sx_src 5)" \
			"$(sx_addr "$h")" >/dev/null || {
			sx_log "no ping answer from $h"
			return 1
		}
	done
	start udpecho ip netns exec sx-w1 "$SX_PY" -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("198.19.0.21", 7007))
s.settimeout(20)
for _ in range(5):
    d, a = s.recvfrom(2048)
    s.sendto(d, a)'
	sleep 0.5
	got=$(ip netns exec $SX_NS_C "$SX_PY" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 0))
s.settimeout(2)
n = 0
for i in range(5):
    s.sendto(b"x%d" % i, ("198.19.0.21", 7007))
    try:
        n += s.recv(100) == b"x%d" % i
    except socket.timeout:
        pass
print(n)' "$(sx_src 5)")
	d1=$(drops_w1)
	info "pings to the 6 hosts answered; UDP echo on w1: $got of 5; w1's drop counters +$((d1 - d0))"
	[ "$got" = 5 ] && [ "$d1" = "$d0" ]
}

# --- main ---------------------------------------------------------------------
[ "$(id -u)" = 0 ] || fail_now "must run as root (namespaces, BPF)"
for t in bird birdc ethtool tcpdump curl openssl ip bc; do
	command -v $t >/dev/null || fail_now "$t is missing (make deps)"
done
"$SX_PY" -c 'import flask, scapy.all' 2>/dev/null ||
	fail_now "python3-flask or python3-scapy is missing (make deps)"
# one scale-out topology at a time (the names are fixed); one that a
# killed run left behind is removed once we hold the lock
exec 9>/tmp/sx-scaleout.lock
flock -w 900 9 || fail_now "another scale-out test or bench holds /tmp/sx-scaleout.lock"
trap cleanup EXIT
sx_down

checki "topology: client, router, 3 balancers, 3 worker hosts; key, certificate" \
	eval 'sx_links && sx_sysctls && sx_neigh && sx_key && sx_cert'
t_start=$(date +%s.%N)
balancers() {
	local h
	sx_bird_router || return 1
	for h in "${SX_BAL[@]}"; do
		sx_bird_balancer "$h" && sx_agent "$h" || return 1
	done
}
checki "BIRD on the router and the balancers; the balancers' agents" balancers
bgp_converged() {
	sx_wait_nexthops 3 >/dev/null || return 1
	info "3 paths $(echo "$(date +%s.%N) - $t_start" | bc | sed 's/^\./0./' | cut -c1-5) s after BIRD and the balancers' agents started"
	ip -n $SX_NS_R route show $SX_VIP/32 | tee -a "$DIR/checks.log" | grep -q nhid && return 1
	[ "$(ip -n $SX_NS_R route show $SX_VIP/32 | grep -c 'nexthop via 198.19.0.1[123] dev br0')" = 3 ]
}
checki "1. BGP converged: the router's route to the VIP has 3 nexthops (ECMP, no nexthop object)" \
	bgp_converged
checki "worker hosts w1-w3 (w3 drained): agent, lbtls, Flask" \
	eval 'sx_worker_host w1 && sx_worker_host w2 && sx_worker_host w3 drained'
checki "2 lbtls workers up on each worker host's agent" \
	eval 'sx_workers_up w1 2 && sx_workers_up w2 2 && sx_workers_up w3 2'
checki "the rings of every balancer hold w1 and w2, not w3 (drained)" \
	eval 'rings_have 11 yes && rings_have 12 yes && rings_have 13 no'
checki "2. lbctl pick agrees on all 3 balancers for $NPROBE client addresses" picks_agree
checki "2. each client's request through ECMP is served by its pick; every balancer forwarded some" \
	ecmp_on_pick
checki "2. each client's request through each balancer alone is served by its pick" \
	each_balancer_on_pick
checki "3. b2 drained and undrained under load: no established or new connection fails" \
	balancer_drain_under_load
checki "4. w3 added under load: none fails; new connections go where lbctl pick says, w3 included" \
	worker_host_add_under_load
checki "4. w1 drained under load: none fails (second chance); new connections as lbctl pick says, none to w1" \
	worker_host_drain_under_load
checki "5. b3 withdrawn while w1 is added back, under load: no failure" \
	combined_under_load
checki "6. 20 MB /bytes through GUE encapsulation, SHA-256 intact" big_answer_intact
checki "6. the forwarded SYN's MSS is clamped to 1420 inside the GUE packet" \
	mss_clamped_on_wire
checki "6. the worker host's SYN-ACK advertises 1420 (the client's segments fit GUE)" \
	synack_mss
checki "6. 1 MB uploaded through GUE encapsulation, SHA-256 intact" upload_intact
checki "7. forged GUE from a non-cluster source: dropped, counted as decap_not_cluster" \
	forged_gue_dropped
checki "7. ping and UDP to the hosts' own addresses pass; no drop counter moves" \
	own_traffic_untouched

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
