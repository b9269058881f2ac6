#!/usr/bin/env bash
# make bench-scaleout: what scale-out (docs/scaleout.md) costs and gives, on
# the namespace topology of tests/net/scaleout_lib.sh (client, router with
# BIRD ECMP, balancers b1-b3, worker hosts w1-w3 with lbtls and the
# fast_backend). Method and figures: docs/bench-scaleout.md.
#
#   1. XDP forwarding cost in-process: build/bench/bench_scaleout_xdp
#      (BPF_PROG_RUN; its line "scaleout_xdp: ... fwd_ns_ratio=R")
#   2. live per-packet cost: kernel.bpf_stats_enabled=1 and bpftool's
#      run_time_ns/run_cnt of the XDP program on b1's and w1's uplinks,
#      over a load run of the test's load client
#   3. new TLS connections/s (build/bench/flood_client, NSRC sources) and
#      keep-alive requests/s (wrk, 32 connections) with 1, 2 and 3
#      balancer hosts announced (the others drained: BIRD withdraws them),
#      ROUNDS rounds in alternating order (1,2,3 then 3,2,1), each figure
#      as a ratio to 1 balancer in the same round: median (min-max)
#   4. established connections lost (tests/net/scaleout_load.py: 24
#      kept-alive TLS connections, a request every 100 ms, 5 new
#      connections/s) across a balancer drained and undrained, and across
#      a worker host drained and added back (one load run per change)
#
# Last line: "scaleout: fwd_ns_ratio=R conn_loss_on_lb_removal=N
# conn_loss_on_worker_host_change=N". Exit 1 if a step could not run.
#
# Usage: tests/bench/bench_scaleout.sh BUILD_DIR  (ROUNDS=3 SECONDS_EACH=5)
set -u
BUILD=$(realpath "${1:-build}")
cd "$(dirname "$0")/../.." || exit 1
. tests/net/lib.sh
SX_BACKEND=fast
. tests/net/scaleout_lib.sh
DIR=$(mktemp -d /tmp/sx-bench.XXXXXX)
pass=0
fail=0
pids=()
ROUNDS=${ROUNDS:-3}
SECS=${SECONDS_EACH:-5}
NSRC_HS=50 # flood_client sources 198.18.2.10, 198.18.3.10, ... (one per /24)
CONC_HS=16
status=0
bpf_stats_was=""

die() {
	echo "bench_scaleout: $*" >&2
	tail -n 30 "$DIR/checks.log" >&2
	exit 1
}
note() { echo "bench_scaleout: $*" >&2; }

cleanup() {
	[ -n "$bpf_stats_was" ] && sysctl -qw kernel.bpf_stats_enabled="$bpf_stats_was"
	sx_down
	rm -rf "$DIR"
}

[ "$(id -u)" = 0 ] || die "must run as root (namespaces, BPF)"
for t in bird birdc bpftool wrk curl bc; do
	command -v $t >/dev/null || die "$t is missing (make deps)"
done
for b in lbctl lbtls bpf/lb_pass.bpf.o bench/fast_backend bench/flood_client; do
	[ -e "$BUILD/$b" ] || die "$BUILD/$b is missing (make all)"
done
exec 9>/tmp/sx-scaleout.lock
flock -w 900 9 || die "another scale-out test or bench holds /tmp/sx-scaleout.lock"
trap cleanup EXIT
sx_down

# --- 1. in-process forwarding cost ---------------------------------------------
fwd_ratio=nan
if [ -x "$BUILD/bench/bench_scaleout_xdp" ]; then
	"$BUILD/bench/bench_scaleout_xdp" | tee "$DIR/xdp.out" >&2
	fwd_ratio=$(sed -n 's/^scaleout_xdp:.*fwd_ns_ratio=\([0-9.]*\).*/\1/p' "$DIR/xdp.out" | tail -n1)
	[ -n "$fwd_ratio" ] || {
		fwd_ratio=nan
		status=1
		note "bench_scaleout_xdp printed no fwd_ns_ratio"
	}
else
	status=1
	note "$BUILD/bench/bench_scaleout_xdp is missing (the dataplane's bench; make $BUILD/bench/bench_scaleout_xdp)"
fi

# --- the topology ---------------------------------------------------------------------
sx_up w1 w2 w3 || die "topology did not come up (see above)"
for w in "${SX_WRK[@]}"; do sx_workers_up "$w" 2 || die "$w: lbtls workers not up"; done
sx_wait_nexthops 3 >/dev/null || die "BGP did not converge to 3 paths"
# flood_client's sources, one per /24 (the router routes 198.18.0.0/16 back)
for i in $(seq 2 $((NSRC_HS + 1))); do echo "addr add 198.18.$i.10/32 dev up0"; done \
	>"$DIR/hs-addrs.batch"
ip -n $SX_NS_C -batch "$DIR/hs-addrs.batch" || die "client addresses"
sleep 2 # every host heard every other: full rings

# announce N: b1..bN announced, the others drained (BIRD withdraws them)
announce() {
	local n=$1 i
	for i in 1 2 3; do
		if [ "$i" -le "$n" ]; then
			sx_lbctl "b$i" cluster undrain >/dev/null
		else
			sx_lbctl "b$i" cluster drain >/dev/null
		fi
	done
	sx_wait_nexthops "$n" >/dev/null
}

# --- 2. live per-packet cost (bpf_stats) -------------------------------------------
xdp_prog_id() { # the XDP program on HOST's up0 (libxdp's dispatcher: the
	# entry point, whose run time includes lb_xdp's)
	ip -n "sx-$1" -d link show up0 | sed -n 's/.*prog\/xdp id \([0-9]*\).*/\1/p' | head -n1
}
prog_stats() { # prog_stats ID: "run_time_ns run_cnt"
	bpftool prog show id "$1" --json | "$SX_PY" -c '
import json, sys
d = json.load(sys.stdin)
print(d.get("run_time_ns", 0), d.get("run_cnt", 0))'
}
load_run() { # load_run NAME SECONDS: the test's load client, summary in DIR/NAME.json
	ip netns exec $SX_NS_C "$SX_PY" tests/net/scaleout_load.py \
		--sources 198.18.1.1-198.18.1.100 --conns 24 --interval 0.1 \
		--new-rate 5 --duration "$2" --expect "" \
		>"$DIR/$1.json" 2>"$DIR/$1.err"
}
bpf_stats_was=$(sysctl -n kernel.bpf_stats_enabled)
sysctl -qw kernel.bpf_stats_enabled=1
idb=$(xdp_prog_id b1)
idw=$(xdp_prog_id w1)
live_b=nan
live_w=nan
if [ -n "$idb" ] && [ -n "$idw" ]; then
	read -r tb0 cb0 <<<"$(prog_stats "$idb")"
	read -r tw0 cw0 <<<"$(prog_stats "$idw")"
	load_run live 10
	read -r tb1 cb1 <<<"$(prog_stats "$idb")"
	read -r tw1 cw1 <<<"$(prog_stats "$idw")"
	[ $((cb1 - cb0)) -gt 0 ] && live_b=$(((tb1 - tb0) / (cb1 - cb0)))
	[ $((cw1 - cw0)) -gt 0 ] && live_w=$(((tw1 - tw0) / (cw1 - cw0)))
	echo "bpf_stats: b1 XDP (prog $idb) ${live_b} ns/packet over $((cb1 - cb0)) packets; w1 XDP (prog $idw) ${live_w} ns/packet over $((cw1 - cw0)) packets; load: $(cat "$DIR/live.json")"
else
	status=1
	note "no XDP program id on b1 or w1 up0"
fi
sysctl -qw kernel.bpf_stats_enabled="$bpf_stats_was"
bpf_stats_was=""

# --- 3. throughput with 1, 2, 3 balancers --------------------------------------------
hs_rate() { # new TLS connections/s
	ip netns exec $SX_NS_C "$BUILD/bench/flood_client" $SX_VIP:443 $SX_SNI \
		$CONC_HS "$SECS" 1 5000 198.18.2.10 $NSRC_HS 2>>"$DIR/checks.log" |
		tee -a "$DIR/checks.log" | sed -n 's/.* rate=\([0-9.]*\).*/\1/p'
}
ka_rate() { # keep-alive requests/s (wrk: one source, so one worker by IP-hash)
	ip netns exec $SX_NS_C wrk -t1 -c32 -d"${SECS}s" -H "Host: $SX_SNI" \
		"https://$SX_VIP/" 2>>"$DIR/checks.log" | tee -a "$DIR/checks.log" |
		awk '/^Requests\/sec:/ {print $2}'
}
: >"$DIR/rates"
for r in $(seq 1 "$ROUNDS"); do
	order="1 2 3"
	[ $((r % 2)) = 0 ] && order="3 2 1"
	for n in $order; do
		announce "$n" || {
			status=1
			note "round $r: the router did not get $n paths"
			continue
		}
		sleep 1
		h=$(hs_rate)
		k=$(ka_rate)
		echo "round $r: $n balancer(s): ${h:-nan} new TLS connections/s, ${k:-nan} keep-alive requests/s" >&2
		echo "$r $n ${h:-nan} ${k:-nan}" >>"$DIR/rates"
	done
done
announce 3 >/dev/null
"$SX_PY" - "$DIR/rates" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
by = {}
for r, n, h, k in rows:
    by.setdefault(r, {})[n] = (float(h), float(k))
def cell(v):
    v = [x for x in v if x == x]
    if not v:
        return "nan"
    return "%.2f (%.2f-%.2f)" % (statistics.median(v), min(v), max(v))
for i, what in ((0, "new TLS connections/s"), (1, "keep-alive requests/s")):
    base = ["%.0f" % statistics.median([by[r]["1"][i] for r in by if "1" in by[r]])]
    parts = []
    for n in ("2", "3"):
        ratios = [by[r][n][i] / by[r]["1"][i] for r in by
                  if n in by[r] and "1" in by[r] and by[r]["1"][i] > 0]
        parts.append("%s balancers %s" % (n, cell(ratios)))
    print("%s: 1 balancer %s/s (median); ratio to 1: %s" % (what, base[0], "; ".join(parts)))
EOF

# --- 4. connections lost on changes ------------------------------------------------------
loss() { # loss NAME: established connections failed in that load run
	jget_loss=$("$SX_PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["established_failed"])' "$DIR/$1.json" 2>/dev/null)
	echo "${jget_loss:-nan}"
}
change_run() { # change_run NAME CMD...: a load run of 14 s, CMD 3 s in
	load_run "$1" 14 &
	local lp=$!
	pids+=("$lp")
	sleep 3
	shift
	"$@" >>"$DIR/checks.log" 2>&1
	wait "$lp"
}
lb_change() {
	sx_lbctl b2 cluster drain && sx_wait_nexthops 2 && sleep 3 &&
		sx_lbctl b2 cluster undrain && sx_wait_nexthops 3
}
change_run lb lb_change
l_lb=$(loss lb)
change_run wdrain sx_lbctl w1 cluster drain
change_run wadd sx_lbctl w1 cluster undrain
l_w=nan
a=$(loss wdrain)
b=$(loss wadd)
[[ $a =~ ^[0-9]+$ && $b =~ ^[0-9]+$ ]] && l_w=$((a + b))
for x in lb wdrain wadd; do echo "load across change '$x': $(cat "$DIR/$x.json")"; done
echo "connections lost: balancer drained and back: $l_lb; worker host drained: $(loss wdrain); added back: $(loss wadd)"
echo "scaleout: fwd_ns_ratio=$fwd_ratio conn_loss_on_lb_removal=$l_lb conn_loss_on_worker_host_change=$l_w"
exit $status
