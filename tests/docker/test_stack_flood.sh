#!/usr/bin/env bash
# `make run` (docker/stack.sh up) as it comes up, under a SYN flood (issue
# 20, finding 2): flood mode forced on through the agent config's flood:
# section (syn_rate 50, reloaded with SIGHUP), spoofed SYNs from another
# /24 (198.18.2.0/24) on every CPU of the client namespace, then the real
# client 198.18.1.10 connects 3 of 3 over HTTPS, through XDP cookies
# (cookies_ok rises): the demo's client veth has an XDP_PASS program, so
# the SYN-ACKs XDP sends with XDP_TX reach it, and lbctl sees that and
# keeps cookies on. Prints one line per check and ends with "N passed, N
# failed"; a trap takes the stack down (docker/stack.sh down, then by
# force what it missed). Docker or BPF missing is a failure, never a skip.
#
# Usage: bash tests/docker/test_stack_flood.sh BUILD_DIR
set -u
BUILD=${1:-build}
cd "$(dirname "$0")/../.." || exit 1
export BUILD
export STACK=lbf$$
export FLASK_NET_PREFIX=198.19.$((170 + $$ % 30))
. tests/docker/stack_lib.sh
LBCTL=("$BUILD/lbctl" --instance "$STACK" --netns "$HOST_NS")

stack_up() { docker/stack.sh up >>"$LOGDIR/stack.log" 2>&1; }

# The agent config as docker/stack.sh wrote it, plus a flood: section;
# the agent re-reads it on SIGHUP.
force_flood() {
	cat >>"$STATE/agent.yaml" <<EOF
# test_stack_flood.sh: any 5 SYNs in 100 ms on a CPU start flood mode,
# which then lasts a minute
flood: {enabled: true, cookies: true, syn_rate: 50, hold_ms: 60000}
EOF
	dc kill -s HUP agent || return 1
	for _ in $(seq 50); do
		"${LBCTL[@]}" flood show | grep -Eq '^syn_rate +50$' && return 0
		sleep 0.1
	done
	"${LBCTL[@]}" flood show
	return 1
}

# 300 SYNs from random addresses of 198.18.2.0/24 to VIP:443, on each
# CPU in turn (flood mode is per CPU; a veth delivers on the sender's),
# over about a second per CPU. Their SYN-ACKs come back to a namespace
# without those addresses (and without a default route): dropped there.
spoof_syns() {
	local cpu ncpu
	ncpu=$(nproc)
	for cpu in $(seq 0 $((ncpu - 1))); do
		ip netns exec "$CLIENT_NS" taskset -c "$cpu" python3 -c '
import random, socket, struct, sys, time
dst = sys.argv[1]
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
for i in range(300):
    src = "198.18.2.%d" % random.randrange(1, 255)
    th = struct.pack("!HHIIBBHHH", random.randrange(1024, 65535), 443,
                     random.getrandbits(32), 0, 5 << 4, 0x02, 65535, 0, 0)
    ph = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, 20)
    th = th[:16] + struct.pack("!H", csum(ph + th)) + th[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 0, 0, 64, 6, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    s.sendto(ip + th, (dst, 0))
    time.sleep(0.003)' "$VIP4" || return 1
	done
	"${LBCTL[@]}" flood show
	"${LBCTL[@]}" flood show | grep -Eq "^flooded +$ncpu CPU"
}

vip_stat() { # vip_stat COUNTER of VIP:443
	"${LBCTL[@]}" stats --json | python3 -c '
import json, sys
for v in json.load(sys.stdin)["vips"]:
    if v["vip"] == sys.argv[1]:
        print(v[sys.argv[2]])' "$VIP4:443" "$1"
}

# The real client, 3 times over HTTPS; every answer from Flask, and the
# connections made by XDP cookies (cookies_ok rose by at least 3).
client_connects() {
	local ok=0 body ok0 ok1 sent0 sent1
	ok0=$(vip_stat cookies_ok) sent0=$(vip_stat cookies_sent)
	for _ in 1 2 3; do
		body=$(ip netns exec "$CLIENT_NS" curl -sS --max-time 10 -k \
			--resolve "$DOMAIN:443:$VIP4" "https://$DOMAIN/") &&
			echo "$body" | grep -q 'Flask Application' && ok=$((ok + 1))
	done
	ok1=$(vip_stat cookies_ok) sent1=$(vip_stat cookies_sent)
	echo "real client: $ok of 3; cookies_sent $sent0->$sent1 cookies_ok $ok0->$ok1"
	[ "$ok" = 3 ] && [ "$ok1" -ge $((ok0 + 3)) ]
}

cookies_on_lbh() {
	"${LBCTL[@]}" status | grep '^cookies:'
	"${LBCTL[@]}" status | grep -q '^cookies: *lbh on'
}

docker_preconditions docker docker-compose curl ip python3 taskset

check "docker/stack.sh up (make run) brings the stack up" stack_up
check "lbctl status: XDP cookies on for lbh (the client veth has XDP_PASS)" \
	cookies_on_lbh
check "flood mode forced on through the agent's flood: section (syn_rate 50)" \
	force_flood
check "spoofed SYNs from 198.18.2.0/24 put every CPU in flood mode" spoof_syns
check "the real client 198.18.1.10 connects 3 of 3 through XDP cookies" \
	client_connects

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
