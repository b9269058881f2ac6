#!/usr/bin/env bash
# Latency at a fixed offered rate, nginx against one or more lbtls builds,
# with make bench's method for its "lat" scenario (h2load --h1 --rps,
# open-loop, LAT_CONNS keep-alive connections, p50/p99/p99.9 from the
# per-request log without the first second) but alone, so that one change to
# lbtls can be measured before and after in a few minutes. The findings it
# was written for: docs/performance.md, "Latency at a fixed rate".
#
#   - a network namespace of its own (lblat, loopback only: no veth, no
#     XDP), three fast_backends and h2load on CLIENT_CPU, the server (one
#     process, one worker) on SERVER_CPU; the same nginx and lbtls
#     configurations as make bench (tests/bench/conf/report-*.in);
#   - ROUNDS rounds, systems alternating within a round;
#   - per run: WARMUP s of h2load at the rate, then DURATION s measured:
#     achieved rate, p50/p99/p99.9, server CPU per request (/proc/PID/stat);
#   - SYSCALLS=1: after the rounds, one more run per system under
#     `strace -c -f` (syscalls per request by name; strace slows the server,
#     so these runs give no latency figures).
#
# Usage: tests/bench/bench_lat.sh BUILD_DIR [NAME=LBTLS_BINARY ...]
#   (default: lbtls=BUILD_DIR/lbtls). nginx is always measured.
# Environment: ROUNDS (5), DURATION (8), WARMUP (2), LAT_RATE (8544, make
# bench's last calibrated rate), LAT_CONNS (32), SERVER_CPU (0), CLIENT_CPU
# (1), SYSCALLS (0), SPIN (0: 1 runs a SCHED_IDLE busy loop on both CPUs,
# a diagnostic of vCPU halts), CIPHERSUITE (TLS_AES_128_GCM_SHA256),
# KEEP_TMP=1.
# The last line is exactly:
#   lat: p99_ms nginx=N NAME=N ... p50_ms nginx=N NAME=N ...
set -u -o pipefail

build=${1:-build}
shift || true
root=$(cd "$(dirname "$0")/../.." && pwd)
[[ $build == /* ]] || build=$root/$build
# shellcheck source=tests/bench/lib/common.sh
. "$root/tests/bench/lib/common.sh"

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-8}
WARMUP=${WARMUP:-2}
LAT_RATE=${LAT_RATE:-8544}
LAT_CONNS=${LAT_CONNS:-32}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
SYSCALLS=${SYSCALLS:-0}
CIPHERSUITE=${CIPHERSUITE:-TLS_AES_128_GCM_SHA256}
NS=lblat
VIP=127.0.0.1
NAME=bench.test
UPS=(127.0.0.1:8081 127.0.0.1:8082 127.0.0.1:8083)

die() {
	echo "bench-lat: FAIL: $*" >&2
	exit 1
}
say() { echo "bench-lat: $*"; }

[ "$(id -u)" = 0 ] || die "must run as root (a network namespace)"
for tool in nginx h2load openssl curl taskset ip awk strace; do
	command -v "$tool" >/dev/null || die "$tool is not installed (make deps)"
done
[ -x "$build/bench/fast_backend" ] || die "$build/bench/fast_backend is missing (make all)"
declare -A BIN
SYSTEMS=(nginx)
[ $# -gt 0 ] || set -- "lbtls=$build/lbtls"
for a in "$@"; do
	n=${a%%=*}
	b=${a#*=}
	if ! [[ $n =~ ^[a-z0-9_-]+$ ]] || [ "$n" = nginx ]; then
		die "bad name '$n'"
	fi
	[ -x "$b" ] || die "$b is not an executable"
	BIN[$n]=$b
	SYSTEMS+=("$n")
done
hz=$(getconf CLK_TCK)
ip netns list | grep -qw "$NS" && die "namespace $NS exists (another run?)"

tmp=$(mktemp -d /tmp/bench-lat.XXXXXX) || die "mktemp"
backend_pids=()
spin_pids=()
srv_pid=
load_pid=
cleanup() {
	trap - EXIT INT TERM
	kill_tree "$load_pid"
	kill_tree "$srv_pid"
	for p in "${backend_pids[@]}" "${spin_pids[@]}"; do kill_tree "$p"; done
	ip netns del $NS 2>/dev/null
	if [ "${KEEP_TMP:-0}" = 1 ]; then echo "bench-lat: kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'echo "bench-lat: interrupted" >&2; exit 130' INT TERM

ip netns add $NS || die "cannot make namespace $NS"
# SPIN=1 (a diagnostic, not make bench's method): a SCHED_IDLE busy loop on
# each CPU keeps the vCPUs from halting when the processes there sleep, so
# a wake-up costs no halt exit and re-entry
spin_pids=()
if [ "${SPIN:-0}" = 1 ]; then
	for c in "$SERVER_CPU" "$CLIENT_CPU"; do
		chrt -i 0 taskset -c "$c" sh -c 'while :; do :; done' &
		spin_pids+=($!)
	done
	say "SPIN=1: SCHED_IDLE busy loops on CPUs $SERVER_CPU and $CLIENT_CPU"
fi
ip -n $NS link set lo up
in_ns() { ip netns exec $NS "$@"; }

make_cert "$tmp" "$NAME"
echo '<html><body>50x</body></html>' >"$tmp/50x.html"
fill() {
	sed -e "s|@TMP@|$tmp|g" -e "s|@NAME@|$NAME|g" -e "s|@VIP@|$VIP|g" \
		-e "s|@CIPHERSUITE@|$CIPHERSUITE|g" -e "s|@UP1@|${UPS[0]}|g" \
		-e "s|@UP2@|${UPS[1]}|g" -e "s|@UP3@|${UPS[2]}|g" "$1" >"$2"
}
fill "$root/tests/bench/conf/report-nginx.conf.in" "$tmp/nginx.conf"
fill "$root/tests/bench/conf/report-lbtls.yaml.in" "$tmp/lbtls.yaml"
sed -i '/^metrics:/d' "$tmp/lbtls.yaml"
printf 'listen:\n  https: ["%s:443"]\n  http: ["%s:80"]\n' $VIP $VIP >>"$tmp/lbtls.yaml"
client_cnf "$tmp/client.cnf" "$CIPHERSUITE"

for i in 0 1 2; do
	in_ns taskset -c "$CLIENT_CPU" "$build/bench/fast_backend" "${UPS[$i]}" >"$tmp/backend$i.out" 2>&1 &
	backend_pids+=($!)
done
for i in 0 1 2; do
	for _ in $(seq 1 50); do
		grep -q listening "$tmp/backend$i.out" && break
		sleep 0.1
	done
	grep -q listening "$tmp/backend$i.out" || die "fast_backend ${UPS[$i]} did not start"
done

start_system() { # start_system NAME [WRAPPER...]
	local s=$1 code
	shift
	if [ "$s" = nginx ]; then
		in_ns taskset -c "$SERVER_CPU" "$@" nginx -c "$tmp/nginx.conf" -p "$tmp" >>"$tmp/nginx.out" 2>&1 &
	else
		in_ns taskset -c "$SERVER_CPU" "$@" "${BIN[$s]}" -c "$tmp/lbtls.yaml" --workers 1 >>"$tmp/lbtls.out" 2>&1 &
	fi
	srv_pid=$!
	for _ in $(seq 1 100); do
		code=$(in_ns curl -sk -o "$tmp/body" -w '%{http_code}' "https://$VIP/")
		[ "$code" = 200 ] && break
		kill -0 "$srv_pid" 2>/dev/null || die "$s exited at start: $(tail -5 "$tmp/$s.out" "$tmp/lbtls.out" 2>/dev/null)"
		sleep 0.1
	done
	[ "$code" = 200 ] || die "$s answered '$code'"
	grep -q '^Hello, world$' "$tmp/body" || die "$s: not the backend's answer"
}
stop_system() {
	kill_tree "$srv_pid"
	srv_pid=
}
# the process that serves: nginx (master_process off) itself, lbtls's worker
server_proc() {
	local p
	p=$(descendants "$srv_pid" | tail -1)
	echo "${p:-$srv_pid}"
}

h2() { # h2 SECONDS LOG OUT
	local per=$((LAT_RATE / LAT_CONNS))
	in_ns env OPENSSL_CONF="$tmp/client.cnf" taskset -c "$CLIENT_CPU" h2load --h1 -c "$LAT_CONNS" \
		--rps "$per" -n "$((per * LAT_CONNS * $1))" --log-file "$2" "https://$VIP/" >"$3" 2>&1 &
	load_pid=$!
	wait "$load_pid" || die "$cur: h2load failed: $(tail -5 "$3")"
	load_pid=
	grep -qE '^requests: [0-9]+ total, [0-9]+ started, [0-9]+ done, [0-9]+ succeeded, 0 failed, 0 errored, 0 timeout' "$3" ||
		die "$cur: h2load: $(grep '^requests:' "$3")"
}

declare -A R
measure() {
	local o=$tmp/h2.$cur.$round perf_pid p c0 c1 t0 t1 rps p50 p99 p999 n us busy wn sc ew cs
	p=$(server_proc)
	# warm-up, counted by perf: syscalls, epoll_wait calls (wake-ups) and
	# context switches of the server per request (not during the measured
	# run: the tracepoints cost CPU)
	perf stat -x, -o "$o.perf" -e raw_syscalls:sys_enter,syscalls:sys_enter_epoll_wait,context-switches \
		-p "$p" -- sleep "$WARMUP" &
	perf_pid=$!
	h2 "$WARMUP" /dev/null "$o.warm"
	wait "$perf_pid"
	wn=$(sed -nE 's/^requests: ([0-9]+) total.*/\1/p' "$o.warm")
	read -r sc ew cs < <(awk -F, -v n="$wn" '$3 == "raw_syscalls:sys_enter" {a = $1}
		$3 == "syscalls:sys_enter_epoll_wait" {b = $1} $3 == "context-switches" {c = $1}
		END {printf "%.2f %.3f %.3f\n", a / n, b / n, c / n}' "$o.perf")
	c0=$(cpu_ticks "$p")
	t0=$(date +%s.%N)
	h2 "$DURATION" "$o.log" "$o"
	t1=$(date +%s.%N)
	c1=$(cpu_ticks "$p")
	rps=$(sed -nE 's/^finished in [0-9.]+[a-z]*, ([0-9.]+) req\/s.*/\1/p' "$o")
	read -r p50 p99 p999 n < <(awk -F'\t' 'NR == 1 {s = $1} $1 >= s + 1e6 && $2 == 200 {print $3}' "$o.log" |
		sort -n | awk '{a[++n] = $1} END {
			i50 = int(n * 0.50 + 0.999999); i99 = int(n * 0.99 + 0.999999)
			i999 = int(n * 0.999 + 0.999999)
			printf "%.3f %.3f %.3f %d\n", a[i50] / 1000, a[i99] / 1000, a[i999] / 1000, n }')
	[ "$n" -gt 100 ] || die "$cur: only $n requests logged"
	read -r us busy < <(awk -v c=$((c1 - c0)) -v hz="$hz" -v r="$rps" -v a="$t0" -v b="$t1" \
		-v d="$DURATION" 'BEGIN {printf "%.1f %.0f\n", 1e6 * c / hz / (r * d), 100 * c / hz / (b - a)}')
	printf 'bench-lat: round %d %-10s achieved %6.0f req/s  p50 %s  p99 %s  p99.9 %s ms  CPU %s us/req (%s%% busy)  per req: %s syscalls %s epoll_wait %s cs\n' \
		"$round" "$cur" "$rps" "$p50" "$p99" "$p999" "$us" "$busy" "$sc" "$ew" "$cs"
	R[$cur.sc]+=" $sc"
	R[$cur.ew]+=" $ew"
	R[$cur.p50]+=" $p50"
	R[$cur.p99]+=" $p99"
	R[$cur.p999]+=" $p999"
	R[$cur.us]+=" $us"
}

say "$(git -C "$root" describe --always --dirty 2>/dev/null), $(nginx -v 2>&1 | sed 's/.*: //'), kernel $(uname -r)"
say "$LAT_RATE req/s over $LAT_CONNS keep-alive connections, loopback in netns $NS; $ROUNDS rounds x ${DURATION}s (+${WARMUP}s); systems ${SYSTEMS[*]}"
for round in $(seq 1 "$ROUNDS"); do
	for s in "${SYSTEMS[@]}"; do
		cur=$s
		start_system "$s"
		measure
		stop_system
	done
done

if [ "$SYSCALLS" = 1 ]; then
	for s in "${SYSTEMS[@]}"; do
		cur=$s
		start_system "$s"
		p=$(server_proc)
		strace -c -f -p "$p" -o "$tmp/strace.$s" &
		st=$!
		sleep 0.5
		h2 "$DURATION" /dev/null "$tmp/h2.strace.$s"
		kill -INT "$st"
		wait "$st"
		stop_system
		nreq=$(sed -nE 's/^requests: ([0-9]+) total.*/\1/p' "$tmp/h2.strace.$s")
		echo
		echo "syscalls per request, $s (strace -c -f, $nreq requests):"
		awk -v n="$nreq" '$1 ~ /^[0-9.]+$/ && NF >= 5 && $NF != "total" {
			name = $NF; calls = $4
			printf "  %-16s %7.3f\n", name, calls / n; tot += calls }
			END { printf "  %-16s %7.3f\n", "total", tot / n }' "$tmp/strace.$s"
	done
fi

echo
printf '%-12s %24s %24s %24s %24s %24s %24s\n' system "p50 ms" "p99 ms" "p99.9 ms" "CPU us/req" "syscalls/req" "epoll_wait/req"
declare -A MED
for s in "${SYSTEMS[@]}"; do
	line=$(printf '%-12s' "$s")
	for f in p50 p99 p999 us sc ew; do
		read -r m lo hi < <(stat3 <<<"${R[$s.$f]}")
		MED[$s.$f]=$m
		line+=$(printf ' %24s' "$(printf '%.3f (%.3f-%.3f)' "$m" "$lo" "$hi")")
	done
	echo "$line"
done
echo
l99="lat: p99_ms"
l50=" p50_ms"
for s in "${SYSTEMS[@]}"; do
	l99+=" $s=${MED[$s.p99]}"
	l50+=" $s=${MED[$s.p50]}"
done
echo "$l99$l50"
