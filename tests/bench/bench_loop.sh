#!/usr/bin/env bash
# make bench-loop: epoll against io_uring on lbtls's I/O pattern, with
# BUILD/bench/bench_loop (tests/bench/bench_loop.c) as the server: a
# TLS-terminating keep-alive HTTP/1.1 proxy in front of BUILD/bench/fast_backend,
# the same code with either event loop. Method and results: docs/lbtls.md,
# "Why epoll (and what io_uring would take)".
#
#   - servers: epoll, uring (TLS, ECDSA P-256 self-signed certificate made
#     here, TLS 1.3, TLS_AES_128_GCM_SHA256, X25519) and epoll-plain,
#     uring-plain (no TLS: the loop and syscall cost alone);
#   - server pinned to SERVER_CPU, wrk (one thread) and fast_backend to
#     CLIENT_CPU;
#   - scenario "ka": wrk -t1 -c KA_CONNS keep-alive; scenario "hs": wrk -t1
#     -c HS_CONNS with "Connection: close", a new connection (and a full TLS
#     handshake: wrk's session resumption is switched off by the LD_PRELOAD
#     shim of lib/common.sh, as in bench_tls.sh) per request;
#   - ROUNDS rounds, servers alternating within a round (A B C D A B C D);
#     per run: WARMUP s of wrk during which `perf stat -e
#     raw_syscalls:sys_enter` counts the server's syscalls (the tracepoint
#     costs CPU, so not during the measured run), then DURATION s measured:
#     requests/s and p99 (wrk --latency), server CPU from /proc/PID/stat
#     (utime + stime delta, all threads; lib/common.sh cpu_ticks) per request;
#   - medians and min-max over the rounds.
#
# Usage: tests/bench/bench_loop.sh BUILD_DIR
# Environment: ROUNDS (5), DURATION (10), WARMUP (2), KA_CONNS (64),
# HS_CONNS (32), SERVER_CPU (0), CLIENT_CPU (1), SERVERS ("epoll uring
# epoll-plain uring-plain"), URING_RECV (multishot: bench_loop's --recv for
# the uring servers, multishot recv on a provided buffer ring, or single),
# RETRIES (1): a run during which the server's
# core was more than 10 points busier than the server (other load) is
# measured again once; KEEP_TMP=1 keeps the temp dir.
#
# Fails loudly when a tool is missing, a server does not answer 200 with the
# backend's body, wrk sees non-2xx answers or socket errors, the backend saw
# fewer requests than wrk counted, or a handshake was resumed. The last line
# is exactly:
#   loop: ka_us_per_req epoll=N uring=N hs_us_per_req epoll=N uring=N
set -u -o pipefail

build=${1:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
[[ $build == /* ]] || build=$root/$build
[ -r "$root/tests/bench/lib/common.sh" ] || {
	echo "bench-loop: FAIL: tests/bench/lib/common.sh is missing" >&2
	exit 1
}
# descendants, kill_tree, cpu_ticks, core_busy, to_ms, build_noresume_shim
# shellcheck source=tests/bench/lib/common.sh
. "$root/tests/bench/lib/common.sh"

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
KA_CONNS=${KA_CONNS:-64}
HS_CONNS=${HS_CONNS:-32}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
RETRIES=${RETRIES:-1}
URING_RECV=${URING_RECV:-multishot}
read -r -a SERVERS <<<"${SERVERS:-epoll uring epoll-plain uring-plain}"
SCENARIOS=(ka hs)

die() {
	echo "bench-loop: FAIL: $*" >&2
	exit 1
}
say() { echo "bench-loop: $*"; }

# --- prerequisites -------------------------------------------------------------
for tool in wrk openssl curl taskset perf cc awk; do
	command -v "$tool" >/dev/null || die "$tool is not installed (make deps; perf: apt-get install linux-perf)"
done
server_bin=$build/bench/bench_loop
backend_bin=$build/bench/fast_backend
[ -x "$server_bin" ] || die "$server_bin is missing (make BUILD=${build#"$root"/} bench-loop)"
if [ ! -x "$backend_bin" ]; then # bench-loop's Makefile rule builds only bench_loop
	make -s -C "$root" BUILD="$build" "$backend_bin" >/dev/null ||
		die "cannot build $backend_bin"
fi
ncpu=$(nproc --all)
[ "$ncpu" -ge 2 ] || die "needs 2 CPUs; this machine has $ncpu"
for c in "$SERVER_CPU" "$CLIENT_CPU"; do
	[ "$c" -lt "$ncpu" ] || die "CPU $c does not exist"
done
[ "$SERVER_CPU" != "$CLIENT_CPU" ] || die "SERVER_CPU and CLIENT_CPU must differ"
perf stat -e raw_syscalls:sys_enter -x, -o /dev/null -- true 2>/dev/null ||
	die "perf cannot count raw_syscalls:sys_enter (root, tracefs, perf_event_paranoid)"
hz=$(getconf CLK_TCK)

# --- processes and cleanup -----------------------------------------------------
tmp=$(mktemp -d /tmp/bench-loop.XXXXXX) || die "mktemp"
server_pid=
backend_pid=
client_pid=

cleanup() {
	trap - EXIT INT TERM
	kill_tree "$client_pid"
	kill_tree "$server_pid"
	kill_tree "$backend_pid"
	if [ "${KEEP_TMP:-0}" = 1 ]; then
		echo "bench-loop: kept $tmp" >&2
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'echo "bench-loop: interrupted" >&2; exit 130' INT TERM

# --- ports: a free loopback block above 20000, below the ephemeral range -------
base=$(free_port_block 5) || die "no free block of 5 loopback ports above 20000"
BACKEND_PORT=$base
declare -A PORT
i=1
for s in "${SERVERS[@]}"; do
	case $s in
	epoll | uring | epoll-plain | uring-plain) ;;
	*) die "unknown server '$s' (epoll uring epoll-plain uring-plain)" ;;
	esac
	PORT[$s]=$((base + i))
	i=$((i + 1))
done
[ "$i" -le 5 ] || die "at most 4 servers"

# --- certificate and the no-resumption shim ------------------------------------
make_cert "$tmp" bench.test
# wrk resumes TLS sessions (SSL_clear keeps a cleanly closed session)
build_noresume_shim "$tmp/noresume.so"

# --- backend and servers -------------------------------------------------------
backend_reqs() { # cumulative requests the backend answered
	local n
	n=$(grep -c 'conns=' "$tmp/backend.out")
	kill -USR1 "$backend_pid" 2>/dev/null || die "fast_backend died"
	for _ in $(seq 1 50); do
		[ "$(grep -c 'conns=' "$tmp/backend.out")" -gt "$n" ] && break
		sleep 0.02
	done
	grep 'conns=' "$tmp/backend.out" | tail -1 | sed -E 's/.*reqs=([0-9]+).*/\1/'
}
url() { # url SERVER
	case $1 in
	*-plain) echo "http://127.0.0.1:${PORT[$1]}/" ;;
	*) echo "https://127.0.0.1:${PORT[$1]}/" ;;
	esac
}
start_server() { # start_server NAME
	local s=$1 args code
	args=(--loop "${s%-plain}" --listen "127.0.0.1:${PORT[$s]}"
		--upstream "127.0.0.1:$BACKEND_PORT")
	case $s in
	*-plain) args+=(--plain) ;;
	*) args+=(--cert "$tmp/fullchain.pem" --key "$tmp/privkey.pem") ;;
	esac
	[[ $s == uring* ]] && args+=(--recv "$URING_RECV")
	# an io_uring listener is released asynchronously after its exit
	for _ in $(seq 1 50); do
		port_busy "${PORT[$s]}" || break
		sleep 0.1
	done
	taskset -c "$SERVER_CPU" "$server_bin" "${args[@]}" >"$tmp/$s.out" 2>"$tmp/$s.err" &
	server_pid=$!
	for _ in $(seq 1 50); do
		grep -q listening "$tmp/$s.out" && break
		kill -0 "$server_pid" 2>/dev/null ||
			die "$s exited at start: $(cat "$tmp/$s.err")"
		sleep 0.1
	done
	code=$(curl -sk -o "$tmp/body" -w '%{http_code}' "$(url "$s")")
	[ "$code" = 200 ] || die "$s: $(url "$s") answered '$code', not 200: $(cat "$tmp/$s.err")"
	grep -q '^Hello, world$' "$tmp/body" ||
		die "$s: the answer is not the backend's: $(head -c 200 "$tmp/body")"
	taskset -pc "$server_pid" | grep -q ": $SERVER_CPU\$" ||
		die "$s: not pinned to CPU $SERVER_CPU"
}
stop_server() { # checks the server's own counters on the way out
	local s=$1 line
	kill_tree "$server_pid"
	server_pid=
	line=$(grep 'bench_loop: conns=' "$tmp/$s.err") ||
		die "$s did not exit cleanly: $(tail -3 "$tmp/$s.err")"
	[[ $line =~ errors=0\  ]] || die "$s reported errors: $line"
	[[ $line =~ resumed=0$ ]] || die "$s: wrk resumed TLS sessions: $line"
	say "$s: $line"
}

# --- measurement ---------------------------------------------------------------
wrk_cmd() { # wrk_cmd SCENARIO SECONDS URL: sets wrk (a command line)
	wrk=(env LD_PRELOAD="$tmp/noresume.so" wrk -t1 --latency --timeout 5s -d "$2s")
	if [ "$1" = hs ]; then
		wrk+=(-c "$HS_CONNS" -H 'Connection: close' "$3")
	else
		wrk+=(-c "$KA_CONNS" "$3")
	fi
}
run_client() { # run_client OUT CMD...: in the background, waited for, killable
	local out=$1 rc
	shift
	"$@" >"$out" 2>&1 &
	client_pid=$!
	wait "$client_pid"
	rc=$?
	client_pid=
	[ "$rc" -eq 0 ] || die "$cur: '$*' exited $rc: $(tail -5 "$out")"
}
wrk_check() { # wrk_check OUT: dies on non-2xx or socket errors, prints requests
	local out=$1 reqs non2xx ce re we te
	reqs=$(sed -nE 's/^ *([0-9]+) requests in .*/\1/p' "$out")
	[ -n "$reqs" ] && [ "$reqs" -gt 0 ] || die "$cur: no figures from wrk: $(cat "$out")"
	non2xx=$(sed -nE 's/^ *Non-2xx or 3xx responses: *([0-9]+).*/\1/p' "$out")
	[ -z "$non2xx" ] || die "$cur: $non2xx answers were not 2xx"
	read -r ce re we te < <(sed -nE 's/^ *Socket errors: connect ([0-9]+), read ([0-9]+), write ([0-9]+), timeout ([0-9]+).*/\1 \2 \3 \4/p' "$out")
	[ $((${ce:-0} + ${we:-0} + ${te:-0})) -eq 0 ] ||
		die "$cur: wrk socket errors: $(grep 'Socket errors' "$out")"
	[ "${re:-0}" -le $((reqs / 1000)) ] || die "$cur: ${re} read errors for $reqs requests"
	echo "$reqs"
}

declare -A R # R[scen.server.field] = values, one per kept run
foreign=0
measure() { # measure SCENARIO ROUND: one run against $cur ($server_pid)
	local scen=$1 round=$2 out=$tmp/wrk.$cur.$1.$2 u
	local wreqs sys c0 c1 k0 k1 t0 t1 b0 b1 reqs rps p99 cpu_s us srv core
	u=$(url "$cur")
	wrk_cmd "$scen" "$WARMUP" "$u"
	# warm-up, syscalls counted: perf counts for as long as wrk runs
	run_client "$out.warm" taskset -c "$CLIENT_CPU" perf stat \
		-e raw_syscalls:sys_enter -x, -o "$out.perf" -p "$server_pid" -- \
		"${wrk[@]}"
	wreqs=$(wrk_check "$out.warm") || exit 1
	sys=$(awk -F, '$3 == "raw_syscalls:sys_enter" {print $1}' "$out.perf")
	[[ $sys =~ ^[0-9]+$ ]] || die "$cur: no syscall count from perf: $(cat "$out.perf")"
	# measured run
	wrk_cmd "$scen" "$DURATION" "$u"
	b0=$(backend_reqs)
	c0=$(cpu_ticks "$server_pid")
	k0=$(core_busy "$SERVER_CPU")
	t0=$(date +%s.%N)
	run_client "$out" taskset -c "$CLIENT_CPU" "${wrk[@]}"
	t1=$(date +%s.%N)
	c1=$(cpu_ticks "$server_pid")
	kill -0 "$server_pid" 2>/dev/null || die "$cur died during the $scen run"
	k1=$(core_busy "$SERVER_CPU")
	b1=$(backend_reqs)
	reqs=$(wrk_check "$out") || exit 1
	[ $((b1 - b0)) -ge "$reqs" ] ||
		die "$cur $scen: wrk counted $reqs answers, the backend only $((b1 - b0)) requests"
	rps=$(sed -nE 's/^Requests\/sec: *([0-9.]+).*/\1/p' "$out")
	p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$out")")
	read -r cpu_s us srv core < <(awk -v c=$((c1 - c0)) -v k=$((k1 - k0)) \
		-v hz="$hz" -v n="$reqs" -v a="$t0" -v b="$t1" 'BEGIN {
		printf "%.2f %.2f %.0f %.0f\n", c / hz, 1e6 * c / hz / n,
			100 * c / hz / (b - a), 100 * k / hz / (b - a) }')
	run_sys=$(awk -v s="$sys" -v n="$wreqs" 'BEGIN {printf "%.2f", s / n}')
	printf 'bench-loop: round %d %-3s %-12s %8.0f req/s  p99 %6.2f ms  server CPU %5.2f s (%3s%% of a core; core %s %3s%% busy)  %7.2f us/req  %6.2f syscalls/req\n' \
		"$round" "$scen" "$cur" "$rps" "$p99" "$cpu_s" "$srv" "$SERVER_CPU" "$core" "$us" "$run_sys"
	run_foreign=0
	if [ $((core - srv)) -gt 10 ]; then
		echo "bench-loop: WARNING: CPU $SERVER_CPU was $core% busy, the server used $srv%: other load" >&2
		run_foreign=1
	fi
	run=([rps]=$rps [p99]=$p99 [us]=$us [sys]=$run_sys [busy]=$srv)
}

say "$(git -C "$root" describe --always --dirty 2>/dev/null || echo '?'), $(wrk -v 2>&1 | head -1 | awk '{print $1, $2}'), $(openssl version | awk '{print $1, $2}'), liburing $(dpkg-query -W -f='${Version}' liburing2 2>/dev/null || echo '?'), kernel $(uname -r)"
say "$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $ncpu CPUs; server on CPU $SERVER_CPU, wrk and fast_backend on CPU $CLIENT_CPU"
say "uring servers: recv $URING_RECV; $ROUNDS rounds x ${DURATION}s (+${WARMUP}s warm-up with syscall counting); ka: $KA_CONNS conns; hs: $HS_CONNS conns, Connection: close"
start_fast_backend "$backend_bin" "$CLIENT_CPU" "127.0.0.1:$BACKEND_PORT" "$tmp/backend.out"
declare -A run
for round in $(seq 1 "$ROUNDS"); do
	for s in "${SERVERS[@]}"; do
		cur=$s
		start_server "$s"
		for scen in "${SCENARIOS[@]}"; do
			for attempt in $(seq 0 "$RETRIES"); do
				measure "$scen" "$round"
				[ "$run_foreign" -eq 0 ] && break
				[ "$attempt" -lt "$RETRIES" ] && say "measuring that run again"
			done
			[ "$run_foreign" -eq 0 ] || foreign=$((foreign + 1))
			for f in "${!run[@]}"; do R[$scen.$s.$f]="${R[$scen.$s.$f]:-} ${run[$f]}"; done
		done
		stop_server "$s"
	done
done

# --- report --------------------------------------------------------------------
declare -A MED
for scen in "${SCENARIOS[@]}"; do
	echo
	if [ "$scen" = ka ]; then
		echo "ka: keep-alive, $KA_CONNS connections; median (min-max) of $ROUNDS runs of ${DURATION}s"
	else
		echo "hs: Connection: close, $HS_CONNS connections (TLS: full handshake per request); median (min-max) of $ROUNDS runs of ${DURATION}s"
	fi
	printf '%-12s %22s %22s %20s %22s %6s\n' server "req/s" "CPU us/req" "syscalls/req" "p99 ms" busy
	for s in "${SERVERS[@]}"; do
		line=$(printf '%-12s' "$s")
		for f in rps us sys p99; do
			read -r m lo hi < <(stat3 <<<"${R[$scen.$s.$f]}")
			case $f in
			rps) cell=$(printf '%.0f (%.0f-%.0f)' "$m" "$lo" "$hi") ;;
			*) cell=$(printf '%.2f (%.2f-%.2f)' "$m" "$lo" "$hi") ;;
			esac
			[ "$f" = us ] && MED[$scen.$s]=$(printf '%.1f' "$m")
			line+=$(printf ' %22s' "$cell")
		done
		read -r m _ < <(stat3 <<<"${R[$scen.$s.busy]}")
		line+=$(printf ' %5.0f%%' "$m")
		echo "$line"
	done
done
echo
[ "$foreign" -eq 0 ] ||
	echo "bench-loop: WARNING: $foreign kept runs had other load on CPU $SERVER_CPU; CPU figures are noisy (syscall counts are not)" >&2
echo "loop: ka_us_per_req epoll=${MED[ka.epoll]:-NA} uring=${MED[ka.uring]:-NA} hs_us_per_req epoll=${MED[hs.epoll]:-NA} uring=${MED[hs.uring]:-NA}"
