#!/usr/bin/env bash
# make bench-h2: HTTP/2 to clients, lbtls (OpenSSL and BoringSSL builds)
# against Debian's nginx (`listen ... ssl http2`) and HAProxy (`bind ... alpn
# h2,http/1.1`) in front of the same three fast backends, one server core
# each; and the same under one HTTP/2 rapid-reset attacker. Method and
# results: docs/bench-h2.md. make bench runs it too (tests/bench/bench_report.sh).
#
#   - a network namespace of its own (lbh2bench, loopback only), so the
#     servers take make bench's configurations as they are
#     (tests/bench/conf/report-*.in, VIP 127.0.0.1:443) plus HTTP/2: the
#     same ECDSA P-256 certificate, TLS 1.3 with one cipher suite, X25519,
#     three fast_backends (build/bench/fast_backend) with upstream keep-alive;
#   - the server (one process, or lbtls's master and one worker) pinned to
#     SERVER_CPU; h2load (one thread), the fast_backends and the attacker
#     on CLIENT_CPU, as in make bench;
#   - per round, systems alternating (a b c d a b c d ...), per system:
#     ka   h2load -c H2_CONNS -m H2_STREAMS (10 streams per connection),
#          closed loop, a warm-up of 100 requests per stream slot, then
#          DURATION s measured: requests per
#          second and per server CPU-second (utime+stime of every process
#          of the server, /proc/PID/stat);
#     lat  h2load --rps at H2_LAT_RATE in all (default: half of nginx's ka
#          rate, measured first), H2_LAT_CONNS connections of up to
#          H2_STREAMS streams, open loop: p50/p99/p99.9 from h2load's
#          per-request log without the first second;
#     rr   ka's load again while build/bench/h2_rapid_reset (one connection
#          at a time, HEADERS + RST_STREAM as fast as the server takes them,
#          the next connection when the server closes one) attacks the same
#          server: the legitimate rate as a share of ka's in the same round.
#          The attacker runs at SCHED_IDLE on CLIENT_CPU: it stands for
#          another machine and takes only what h2load and the backends
#          leave of that core, so it slows h2load through the server only.
#
# Usage: tests/bench/bench_h2.sh BUILD_DIR [BORINGSSL_BUILD_DIR]
# Environment: ROUNDS (5), DURATION (5 s), WARMUP (1 s), H2_CONNS (16),
# H2_STREAMS (10), H2_LAT_CONNS (8), H2_LAT_RATE (req/s in all; default half
# of nginx's ka rate), H2_SYSTEMS (nginx haproxy lbtls lbtls-boringssl),
# SERVER_CPU (0), CLIENT_CPU (1), CIPHERSUITE (TLS_AES_128_GCM_SHA256),
# RETRIES (1), RETRY_BUDGET (6), H2_OUT (a directory: tables.md and
# results.env are written there, for make bench), KEEP_TMP=1.
#
# Exits non-zero, loudly, when a tool or binary is missing, a server does not
# start, does not answer 200 from the backend over HTTP/2, h2load did not
# speak h2 or reports failed requests outside the attack, or the backends saw
# fewer requests than h2load counted answers. Under attack, failed legitimate
# requests are counted and printed, not fatal. Missing a goal is not a
# failure: it prints figures. The last line is exactly:
#   h2: per_cpu_s nginx=N haproxy=N lbtls=N lbtls_boringssl=N p99_ms nginx=N ... rr_kept_pct nginx=N ... h2_ratio_vs_nginx=R
# (systems not measured are left out; R is "-" without lbtls or nginx)
set -u -o pipefail

build=${1:-build}
bbuild=${2:-build-boringssl}
root=$(cd "$(dirname "$0")/../.." && pwd)
[[ $build == /* ]] || build=$root/$build
[[ $bbuild == /* ]] || bbuild=$root/$bbuild
conf=$root/tests/bench/conf
# shellcheck source=tests/bench/lib/common.sh
. "$root/tests/bench/lib/common.sh"

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-1}
H2_CONNS=${H2_CONNS:-16}
H2_STREAMS=${H2_STREAMS:-10}
H2_LAT_CONNS=${H2_LAT_CONNS:-8}
H2_LAT_RATE=${H2_LAT_RATE:-}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
CIPHERSUITE=${CIPHERSUITE:-TLS_AES_128_GCM_SHA256}
RETRIES=${RETRIES:-1}
RETRY_BUDGET=${RETRY_BUDGET:-6}
H2_OUT=${H2_OUT:-}
H2_TIMEOUT=$((${DURATION:-5} * 4 + 30)) # seconds, any one h2load run
# warm-up runs count requests, not seconds: with -D, a client still in its
# TLS handshake when the duration ends is never stopped (h2load 1.52), and
# on a loaded machine 16 handshakes can take longer than a 1 s warm-up
WARM_N=$((${H2_CONNS:-16} * ${H2_STREAMS:-10} * 100))
read -r -a SERVERS <<<"${H2_SYSTEMS:-nginx haproxy lbtls lbtls-boringssl}"
SCENARIOS=(ka lat rr)
NS=lbh2bench
VIP=127.0.0.1
NAME=bench.test
UPS=(127.0.0.1:8081 127.0.0.1:8082 127.0.0.1:8083)
METRICS=127.0.0.1:9145 # lbtls's, in the namespace (report-lbtls.yaml.in)

die() {
	echo "bench-h2: FAIL: $*" >&2
	exit 1
}
say() { echo "bench-h2: $*"; }

# --- prerequisites ---------------------------------------------------------------
[ "$(id -u)" = 0 ] || die "must run as root (a network namespace)"
for tool in nginx haproxy h2load openssl curl taskset chrt ip awk sort; do
	command -v "$tool" >/dev/null || die "$tool is not installed (make deps)"
done
curl -V | grep -qw HTTP2 || die "curl has no HTTP/2 support"
attacker=$build/bench/h2_rapid_reset
for b in "$build/bench/fast_backend" "$attacker"; do
	[ -x "$b" ] || die "$b is missing (make all)"
done
declare -A BIN
for s in "${SERVERS[@]}"; do
	case $s in
	nginx | haproxy) ;;
	lbtls)
		BIN[$s]=$build/lbtls
		[ -x "${BIN[$s]}" ] || die "${BIN[$s]} is missing (make all)"
		"${BIN[$s]}" -V | grep -q 'TLS library OpenSSL' ||
			die "${BIN[$s]} is not an OpenSSL build: $("${BIN[$s]}" -V)"
		;;
	lbtls-boringssl)
		BIN[$s]=$bbuild/lbtls
		[ -x "${BIN[$s]}" ] || die "${BIN[$s]} is missing (make TLS=boringssl ${BIN[$s]})"
		"${BIN[$s]}" -V | grep -q 'TLS library BoringSSL' ||
			die "${BIN[$s]} is not a BoringSSL build: $("${BIN[$s]}" -V)"
		;;
	*) die "unknown system '$s' (nginx haproxy lbtls lbtls-boringssl)" ;;
	esac
done
two_cpus
ip netns list | grep -qw "$NS" && die "namespace $NS exists (another run?)"

# --- processes and cleanup -----------------------------------------------------------
tmp=$(mktemp -d /tmp/bench-h2.XXXXXX) || die "mktemp"
backend_pids=()
server_pid=
load_pid=
attack_pid=
cleanup() {
	local p
	trap - EXIT INT TERM
	kill_tree "$load_pid"
	kill_tree "$attack_pid"
	kill_tree "$server_pid"
	for p in "${backend_pids[@]}"; do kill_tree "$p"; done
	ip netns del $NS 2>/dev/null
	wait 2>/dev/null
	if [ "${KEEP_TMP:-0}" = 1 ]; then echo "bench-h2: kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'echo "bench-h2: interrupted" >&2; exit 130' INT TERM

ip netns add $NS || die "cannot make namespace $NS"
ip -n $NS link set lo up || die "cannot bring up lo in $NS"
# (not for background jobs: "in_ns cmd &" forks a subshell, whose pid $! is)
in_ns() { ip netns exec $NS "$@"; }

# --- certificate and configurations: make bench's, plus HTTP/2 ----------------------
make_cert "$tmp" "$NAME"
cat "$tmp/fullchain.pem" "$tmp/privkey.pem" >"$tmp/haproxy.pem"
echo '<html><body><h1>50x: the backend is not available</h1></body></html>' >"$tmp/50x.html"
printf 'HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n%s\n' \
	"$(cat "$tmp/50x.html")" >"$tmp/50x.http"
fill() { # fill TEMPLATE OUT
	fill_template "$1" "$2" TMP="$tmp" NAME="$NAME" VIP="$VIP" \
		CIPHERSUITE="$CIPHERSUITE" UP1="${UPS[0]}" UP2="${UPS[1]}" UP3="${UPS[2]}"
}
fill "$conf/report-nginx.conf.in" "$tmp/nginx.conf"
fill "$conf/report-haproxy.cfg.in" "$tmp/haproxy.cfg"
fill "$conf/report-lbtls.yaml.in" "$tmp/lbtls.yaml"
# nginx 1.22: "http2" on the listen line (1.25's "http2 on;" is not there)
sed -i "s|^\(\s*listen $VIP:443 ssl\);|\1 http2;|" "$tmp/nginx.conf"
grep -q "listen $VIP:443 ssl http2;" "$tmp/nginx.conf" || die "nginx.conf: no http2 listener"
sed -i "s|^\(\s*bind $VIP:443 ssl .*\)$|\1 alpn h2,http/1.1|" "$tmp/haproxy.cfg"
grep -q "bind $VIP:443 ssl .* alpn h2,http/1.1\$" "$tmp/haproxy.cfg" || die "haproxy.cfg: no h2 in ALPN"
# http2 is lbtls's default; said here so the file shows it
printf 'http2: on\nlisten:\n  https: ["%s:443"]\n  http: ["%s:80"]\n' $VIP $VIP >>"$tmp/lbtls.yaml"
in_ns nginx -t -q -c "$tmp/nginx.conf" -p "$tmp" 2>"$tmp/check.err" ||
	die "nginx -t: $(cat "$tmp/check.err")"
haproxy -c -q -f "$tmp/haproxy.cfg" >"$tmp/check.err" 2>&1 ||
	die "haproxy -c: $(cat "$tmp/check.err")"
for s in "${SERVERS[@]}"; do
	[[ $s == lbtls* ]] || continue
	"${BIN[$s]}" -t -c "$tmp/lbtls.yaml" >"$tmp/check.err" 2>&1 ||
		die "$s -t: $(cat "$tmp/check.err")"
done
# h2load and the attacker offer CIPHERSUITE alone (BoringSSL takes the
# client's first; see bench_tls.sh)
client_cnf "$tmp/client.cnf" "$CIPHERSUITE"

# --- backends --------------------------------------------------------------------------
for i in 0 1 2; do
	ip netns exec $NS taskset -c "$CLIENT_CPU" "$build/bench/fast_backend" "${UPS[$i]}" \
		>"$tmp/backend$i.out" 2>&1 &
	backend_pids+=($!)
done
for i in 0 1 2; do
	for _ in $(seq 1 50); do
		grep -q listening "$tmp/backend$i.out" && break
		sleep 0.1
	done
	grep -q listening "$tmp/backend$i.out" ||
		die "fast_backend ${UPS[$i]} did not start: $(cat "$tmp/backend$i.out")"
done
backend_counts() { # "conns reqs": the three fast_backends' totals so far
	local i c r conns=0 reqs=0
	for i in 0 1 2; do
		read -r c r < <(fast_backend_counts "${backend_pids[$i]}" "$tmp/backend$i.out")
		conns=$((conns + c))
		reqs=$((reqs + r))
	done
	echo "$conns $reqs"
}

# --- systems ------------------------------------------------------------------------------
start_server() { # start_server NAME: server_pid; answers 200 over HTTP/2
	local s=$1 out code ver
	out=$tmp/$s.out
	case $s in
	nginx)
		ip netns exec $NS taskset -c "$SERVER_CPU" nginx -c "$tmp/nginx.conf" -p "$tmp" >>"$out" 2>&1 &
		;;
	haproxy)
		ip netns exec $NS taskset -c "$SERVER_CPU" haproxy -db -f "$tmp/haproxy.cfg" >>"$out" 2>&1 &
		;;
	lbtls*)
		ip netns exec $NS taskset -c "$SERVER_CPU" "${BIN[$s]}" -c "$tmp/lbtls.yaml" --workers 1 \
			>>"$out" 2>&1 &
		;;
	esac
	server_pid=$!
	for _ in $(seq 1 100); do
		read -r code ver < <(in_ns curl -sk --http2 --resolve "$NAME:443:$VIP" \
			-o "$tmp/body" -w '%{http_code} %{http_version}\n' "https://$NAME/")
		[ "$code" = 200 ] && break
		kill -0 "$server_pid" 2>/dev/null || die "$s exited at start: $(tail -5 "$out")"
		sleep 0.1
	done
	[ "$code" = 200 ] || die "$s: https://$NAME/ answered '$code', not 200: $(tail -5 "$out")"
	[ "$ver" = 2 ] || die "$s: curl --http2 got HTTP/$ver, not HTTP/2"
	grep -q '^Hello, world$' "$tmp/body" ||
		die "$s: the answer is not the fast backend's: $(head -c 200 "$tmp/body")"
	check_pinned "$s" "$server_pid" "$SERVER_CPU"
}
stop_server() {
	kill_tree "$server_pid"
	server_pid=
}

# --- measurement ------------------------------------------------------------------------------
# h2run OUT ARGS...: h2load on CLIENT_CPU in the namespace, in the
# background (load_pid); h2wait waits for it. h2load 1.52 in -D mode stops
# only the clients connected when its duration ends: one that connects
# later runs forever, so every run has a hard limit (H2_TIMEOUT s); and a
# connection with no traffic for 10 s is closed (-N: its requests count as
# timed out)
h2start() {
	local out=$1
	shift
	ip netns exec $NS env OPENSSL_CONF="$tmp/client.cnf" timeout -s KILL "$H2_TIMEOUT" \
		taskset -c "$CLIENT_CPU" h2load -t1 -N 10s "$@" "https://$VIP/" >"$out" 2>&1 &
	load_pid=$!
}
h2wait() {
	local out=$1 rc
	wait "$load_pid"
	rc=$?
	load_pid=
	[ "$rc" -ne 137 ] || die "$cur $scen: h2load did not finish in $H2_TIMEOUT s: $(tail -3 "$out")"
	[ "$rc" -eq 0 ] || die "$cur $scen: h2load exited $rc: $(tail -5 "$out")"
}
h2run() {
	h2start "$@"
	h2wait "$1"
}
# h2_figures OUT: total ok fail err tmo s2xx rps from h2load's summary;
# dies when it has none or did not speak h2
h2_figures() {
	local out=$1
	grep -q '^Application protocol: h2$' "$out" ||
		die "$cur $scen: h2load did not speak h2: $(grep -E '^(Application|No protocol)' "$out" || tail -3 "$out")"
	read -r total ok fail err tmo < <(sed -nE 's/^requests: ([0-9]+) total, [0-9]+ started, [0-9]+ done, ([0-9]+) succeeded, ([0-9]+) failed, ([0-9]+) errored, ([0-9]+) timeout.*/\1 \2 \3 \4 \5/p' "$out")
	s2xx=$(sed -nE 's/^status codes: ([0-9]+) 2xx.*/\1/p' "$out")
	rps=$(sed -nE 's/^finished in [0-9.]+[a-z]*, ([0-9.]+) req\/s.*/\1/p' "$out")
	if [ -z "${total:-}" ] || [ -z "${rps:-}" ] || [ -z "${s2xx:-}" ]; then
		die "$cur $scen: no figures from h2load: $(tail -5 "$out")"
	fi
}
h2_clean() { # no failed request, all 2xx
	if [ "$fail" != 0 ] || [ "$err" != 0 ] || [ "$tmo" != 0 ] || [ "$s2xx" != "$total" ]; then
		die "$cur $scen: h2load: $total requests, $ok succeeded, $fail failed, $err errored, $tmo timeout, $s2xx 2xx"
	fi
}
lbtls_h2_counters() { # "streams resets conns limited" from lbtls's /metrics
	in_ns curl -s --max-time 2 "http://$METRICS/metrics" | awk '
		$1 == "lbtls_http2_streams_total" {s = $2}
		$1 == "lbtls_http2_client_resets_total" {r = $2}
		$1 == "lbtls_http2_connections_total" {c = $2}
		$1 ~ /^lbtls_http2_limited_total/ {l += $2}
		END {printf "%d %d %d %d\n", s, r, c, l}'
}

declare -A R # R[scen.server.field] = values, one per round
declare -A P # the run being measured, until kept
add() { P[$1]=$2; }
keep() { local k; for k in "${!P[@]}"; do R[$k]="${R[$k]:-} ${P[$k]}"; done; }
ka_rps= # this round's ka rate of the current server, for rr

measure_ka() {
	local o=$tmp/h2.$cur.ka.$round b0 b1 n0 n1
	h2run "$o.warm" -c "$H2_CONNS" -m "$H2_STREAMS" -n "$WARM_N"
	read -r n0 b0 < <(backend_counts)
	run_start "$server_pid" "$SERVER_CPU"
	h2run "$o" -c "$H2_CONNS" -m "$H2_STREAMS" -D "$DURATION"
	run_end "$server_pid" "$SERVER_CPU"
	read -r n1 b1 < <(backend_counts)
	kill -0 "$server_pid" 2>/dev/null || die "$cur died during the ka run"
	h2_figures "$o"
	h2_clean
	[ $((b1 - b0)) -ge "$ok" ] ||
		die "$cur ka: h2load counted $ok answers but the backends only $((b1 - b0))"
	ka_rps=$rps
	add "ka.$cur.rps" "$rps"
	add "ka.$cur.us" "$(awk -v c="$cpu_s" -v n="$ok" 'BEGIN {printf "%.2f", 1e6 * c / n}')"
	add "ka.$cur.ops" "$(awk -v c="$cpu_s" -v n="$ok" 'BEGIN {printf "%.0f", (c > 0 ? n / c : 0)}')"
	add "ka.$cur.busy" "$srvbusy"
	printf 'bench-h2: round %d ka  %-15s %9.0f req/s  server CPU %5.2f s (%s%% of a core; core %s %s%% busy)  %s req at the backends over %s new upstream conns\n' \
		"$round" "$cur" "$rps" "$cpu_s" "$srvbusy" "$SERVER_CPU" "$busy" $((b1 - b0)) $((n1 - n0))
	foreign_check "$SERVER_CPU"
}

measure_lat() {
	local o=$tmp/h2.$cur.lat.$round per n got b0 b1 n0 n1
	per=$((H2_LAT_RATE / H2_LAT_CONNS))
	read -r n0 b0 < <(backend_counts)
	run_start "$server_pid" "$SERVER_CPU"
	h2run "$o" -c "$H2_LAT_CONNS" -m "$H2_STREAMS" --rps "$per" \
		-n "$((per * H2_LAT_CONNS * (DURATION + 1)))" --log-file "$o.log"
	run_end "$server_pid" "$SERVER_CPU"
	read -r n1 b1 < <(backend_counts)
	kill -0 "$server_pid" 2>/dev/null || die "$cur died during the lat run"
	h2_figures "$o"
	h2_clean
	[ $((b1 - b0)) -ge "$ok" ] ||
		die "$cur lat: h2load counted $ok answers but the backends only $((b1 - b0))"
	# per-request times (3rd column, µs) without the first second
	read -r p50 p99 p999 n < <(awk -F'\t' 'NR == 1 {s = $1} $1 >= s + 1e6 && $2 == 200 {print $3}' "$o.log" |
		sort -n | awk '{a[++n] = $1} END {
			if (!n) { print "nan nan nan 0"; exit }
			i50 = int(n * 0.50 + 0.999999); i99 = int(n * 0.99 + 0.999999)
			i999 = int(n * 0.999 + 0.999999)
			printf "%.3f %.3f %.3f %d\n", a[i50] / 1000, a[i99] / 1000, a[i999] / 1000, n }')
	[ "$n" -gt 100 ] || die "$cur lat: only $n requests in h2load's log"
	got=$(awk -v r="$rps" -v t="$((per * H2_LAT_CONNS))" 'BEGIN {printf "%.1f", 100 * r / t}')
	add "lat.$cur.achieved" "$rps"
	add "lat.$cur.p50" "$p50"
	add "lat.$cur.p99" "$p99"
	add "lat.$cur.p999" "$p999"
	add "lat.$cur.us" "$(awk -v c="$cpu_s" -v n="$ok" 'BEGIN {printf "%.2f", 1e6 * c / n}')"
	add "lat.$cur.busy" "$srvbusy"
	printf 'bench-h2: round %d lat %-15s offered %d req/s, achieved %.0f (%s%%)  p50 %s ms  p99 %s ms  p99.9 %s ms  server CPU %5.2f s (%s%% of a core; core %s %s%% busy)  %s new upstream conns\n' \
		"$round" "$cur" "$((per * H2_LAT_CONNS))" "$rps" "$got" "$p50" "$p99" "$p999" \
		"$cpu_s" "$srvbusy" "$SERVER_CPU" "$busy" $((n1 - n0))
	foreign_check "$SERVER_CPU"
	if ! awk -v g="$got" 'BEGIN {exit !(g >= 97)}'; then
		say "WARNING: $cur lat: h2load achieved only $got% of the offered rate" >&2
		run_foreign=1
	fi
}

measure_rr() {
	local o=$tmp/h2.$cur.rr.$round a=$tmp/attack.$cur.$round b0 b1 n0 n1 m0 m1 line kept
	local at_streams at_rate at_conns at_goaways at_last at_resets t
	# the legitimate client first, its connections up before the attack
	# (established keep-alive connections, as a browser's: how a server
	# accepts new ones under attack is another matter), warm-up then
	# DURATION s counted; the attacker from 0.3 s on
	[[ $cur == lbtls* ]] && m0=$(lbtls_h2_counters)
	read -r n0 b0 < <(backend_counts)
	run_start "$server_pid" "$SERVER_CPU"
	h2start "$o" -c "$H2_CONNS" -m "$H2_STREAMS" --warm-up-time="${WARMUP}s" -D "${DURATION}s"
	sleep 0.3
	: >"$a"
	# bounded: it stops by itself WARMUP + DURATION + 10 s after its start
	ip netns exec $NS env OPENSSL_CONF="$tmp/client.cnf" taskset -c "$CLIENT_CPU" chrt -i 0 \
		"$attacker" -s "$NAME" -d $((WARMUP + DURATION + 10)) "$VIP" 443 >"$a" 2>&1 &
	attack_pid=$!
	t=$(date +%s.%N)
	for _ in $(seq 1 100); do
		grep -q '^h2_rapid_reset: attacking' "$a" && break
		kill -0 "$attack_pid" 2>/dev/null || die "$cur rr: the attacker exited: $(cat "$a")"
		sleep 0.05
	done
	grep -q '^h2_rapid_reset: attacking' "$a" || die "$cur rr: the attacker did not start: $(cat "$a")"
	t=$(awk -v a="$t" -v b="$(date +%s.%N)" 'BEGIN {printf "%.2f", b - a}')
	h2wait "$o"
	run_end "$server_pid" "$SERVER_CPU"
	read -r n1 b1 < <(backend_counts)
	[[ $cur == lbtls* ]] && m1=$(lbtls_h2_counters)
	kill -TERM "$attack_pid" 2>/dev/null
	wait "$attack_pid"
	attack_pid=
	kill -0 "$server_pid" 2>/dev/null || die "$cur died during the rr run"
	line=$(grep '^h2_rapid_reset: seconds=' "$a") ||
		die "$cur rr: no summary from the attacker: $(tail -3 "$a")"
	read -r at_streams at_rate at_conns at_goaways at_last at_resets < <(awk '{
		for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		print v["streams"], v["streams_per_s"], v["conns"], v["goaways"], v["last_goaway"], v["resets_recv"] }' <<<"$line")
	h2_figures "$o"
	kept=$(awk -v a="$rps" -v b="$ka_rps" 'BEGIN {printf "%.1f", (b > 0 ? 100 * a / b : 0)}')
	add "rr.$cur.rps" "$rps"
	add "rr.$cur.kept" "$kept"
	add "rr.$cur.busy" "$srvbusy"
	add "rr.$cur.attack" "$at_rate"
	add "rr.$cur.conns" "$at_conns"
	add "rr.$cur.failed" "$((total - s2xx))"
	# the upstream connections the server opened meanwhile (ka opens next
	# to none: keep-alive): work for streams the client had reset
	add "rr.$cur.upconns" "$(((n1 - n0) / (WARMUP + DURATION)))"
	P[rr.$cur.goaway]=$at_last
	printf 'bench-h2: round %d rr  %-15s %9.0f req/s under attack = %s%% of ka (%.0f)  %s not 2xx or failed  server CPU %5.2f s (%s%% of a core; core %s %s%% busy)  attacker: %s streams written (%s/s) over %s conns, %s GOAWAY (last %s), %s RST_STREAM back  backends: %s req, %s new upstream conns (warm-up included)' \
		"$round" "$cur" "$rps" "$kept" "$ka_rps" "$((total - s2xx))" "$cpu_s" "$srvbusy" \
		"$SERVER_CPU" "$busy" "$at_streams" "$at_rate" "$at_conns" "$at_goaways" "$at_last" \
		"$at_resets" "$((b1 - b0))" "$((n1 - n0))"
	if [[ $cur == lbtls* ]]; then
		# shellcheck disable=SC2086 # two lists of four numbers
		set -- $m0 $m1
		printf '  lbtls: %d streams, %d client resets, %d h2 conns, %d limited' \
			$(($5 - $1)) $(($6 - $2)) $(($7 - $3)) $(($8 - $4))
	fi
	echo
	foreign_check "$SERVER_CPU"
	if awk -v t="$t" -v w="$WARMUP" 'BEGIN {exit !(t + 0.3 > w)}'; then
		say "WARNING: $cur rr: the attacker took ${t}s to connect, past the warm-up" >&2
		run_foreign=1
	fi
}

# --- versions, checks, calibration ------------------------------------------------------------
v_lbtls=$(git -C "$root" describe --always --dirty 2>/dev/null || echo '?')
say "lbtls $v_lbtls, $(nginx -v 2>&1 | sed 's/.*: //'), $(haproxy -v | head -1 | awk '{print $1, $3}'), h2load $(h2load --version 2>&1 | head -1 | sed 's/^h2load //'), $(openssl version | awk '{print $1, $2}')"
say "$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc --all) CPUs, kernel $(uname -r)"
say "servers on CPU $SERVER_CPU; h2load (1 thread), 3 fast_backends and the attacker (SCHED_IDLE) on CPU $CLIENT_CPU; netns $NS, loopback"
say "$ROUNDS rounds x ${DURATION}s (warm-up: $WARM_N requests; rr: ${WARMUP}s); ka/rr: $H2_CONNS conns x $H2_STREAMS streams; systems ${SERVERS[*]}"
for s in "${SERVERS[@]}"; do
	cur=$s
	start_server "$s"
	stop_server
done
say "all systems answer 200 from the backends over HTTP/2 (curl --http2)"

if [ -z "$H2_LAT_RATE" ]; then
	cur=nginx scen=calibrate
	start_server nginx
	h2run "$tmp/h2.calibrate.warm" -c "$H2_CONNS" -m "$H2_STREAMS" -n "$WARM_N"
	h2run "$tmp/h2.calibrate" -c "$H2_CONNS" -m "$H2_STREAMS" -D 5
	stop_server
	h2_figures "$tmp/h2.calibrate"
	H2_LAT_RATE=$(awk -v r="$rps" 'BEGIN {printf "%d", r / 2}')
	say "fixed rate for the latency run: $H2_LAT_RATE req/s (half of nginx's HTTP/2 rate in a 5 s run)"
fi
[ "$H2_LAT_RATE" -ge "$H2_LAT_CONNS" ] || die "H2_LAT_RATE $H2_LAT_RATE is below H2_LAT_CONNS"
H2_LAT_RATE=$((H2_LAT_RATE / H2_LAT_CONNS * H2_LAT_CONNS))

# --- rounds ---------------------------------------------------------------------------------------
foreign=0
retry_budget=$RETRY_BUDGET
for round in $(seq 1 "$ROUNDS"); do
	for s in "${SERVERS[@]}"; do
		cur=$s
		start_server "$s"
		for scen in "${SCENARIOS[@]}"; do
			P=()
			retry_busy "measure_$scen"
			keep
		done
		stop_server
	done
done

# --- report ---------------------------------------------------------------------------------------
declare -A M # medians
st() { # st KEY DECIMALS: "median [min–max]"
	local m lo hi
	[ -n "${R[$1]:-}" ] || {
		echo "–"
		return
	}
	read -r m lo hi < <(stat3 <<<"${R[$1]}")
	awk -v m="$m" -v l="$lo" -v h="$hi" -v d="$2" 'BEGIN {printf "%.*f [%.*f–%.*f]", d, m, d, l, d, h}'
}
most() { tr ' ' '\n' <<<"${R[$1]:-}" | awk 'NF' | sort | uniq -c | sort -rn | awk 'NR == 1 {print $2}'; }
tables() {
	local s
	echo "Median [min–max] of $ROUNDS runs of ${DURATION}s; one server core; h2load -t1 -c$H2_CONNS -m$H2_STREAMS (closed loop) unless said."
	echo
	echo "#### HTTP/2 keep-alive requests ($H2_CONNS connections x $H2_STREAMS streams)"
	echo
	echo "| system | req/s | server CPU µs/req | req per CPU-s | server busy % |"
	echo "|---|---:|---:|---:|---:|"
	for s in "${SERVERS[@]}"; do
		echo "| $s | $(st "ka.$s.rps" 0) | $(st "ka.$s.us" 1) | $(st "ka.$s.ops" 0) | $(st "ka.$s.busy" 0) |"
	done
	echo
	echo "#### HTTP/2 latency at $H2_LAT_RATE req/s offered (open loop, $H2_LAT_CONNS connections, up to $H2_STREAMS streams each)"
	echo
	echo "| system | achieved req/s | p50 ms | p99 ms | p99.9 ms | server CPU µs/req |"
	echo "|---|---:|---:|---:|---:|---:|"
	for s in "${SERVERS[@]}"; do
		echo "| $s | $(st "lat.$s.achieved" 0) | $(st "lat.$s.p50" 3) | $(st "lat.$s.p99" 3) | $(st "lat.$s.p999" 3) | $(st "lat.$s.us" 1) |"
	done
	echo
	echo "#### Rapid reset: the keep-alive load again, with one attacker (build/bench/h2_rapid_reset)"
	echo
	echo "| system | legitimate req/s under attack | kept, % of its ka run | server busy % | attack streams written per s | attacker connections | GOAWAY code | legitimate requests failed | new upstream conns per s |"
	echo "|---|---:|---:|---:|---:|---:|---|---:|---:|"
	for s in "${SERVERS[@]}"; do
		echo "| $s | $(st "rr.$s.rps" 0) | $(st "rr.$s.kept" 1) | $(st "rr.$s.busy" 0) | $(st "rr.$s.attack" 0) | $(st "rr.$s.conns" 0) | $(most "rr.$s.goaway") | $(st "rr.$s.failed" 0) | $(st "rr.$s.upconns" 0) |"
	done
}
echo
tables >"$tmp/tables.md"
cat "$tmp/tables.md"
for k in "${!R[@]}"; do # the medians
	[[ $k == *.goaway ]] && continue
	read -r m _ < <(stat3 <<<"${R[$k]}")
	M[$k]=$m
done
echo
[ "$foreign" -eq 0 ] ||
	say "WARNING: $foreign kept runs had other load on CPU $SERVER_CPU (see above); rerun on a quiet machine" >&2
ratio_of() { # ratio_of KEY_A KEY_B: "-" when either is missing
	if [ -n "${M[$1]:-}" ] && [ -n "${M[$2]:-}" ]; then ratio "${M[$1]}" "${M[$2]}"; else echo -; fi
}
h2_ratio=$(ratio_of ka.lbtls.ops ka.nginx.ops)
for s in lbtls lbtls-boringssl; do
	if [ -z "${M[ka.$s.ops]:-}" ] || [ -z "${M[ka.nginx.ops]:-}" ]; then continue; fi
	echo "$s/nginx HTTP/2 requests per CPU-second: $(ratio_of "ka.$s.ops" ka.nginx.ops)x (goal 1.3x); rapid reset: $s keeps ${M[rr.$s.kept]}% of its rate (goal >= 90% and above nginx's ${M[rr.nginx.kept]:--}%)"
done
last="h2: per_cpu_s"
for f in ka.ops lat.p99 rr.kept; do
	case $f in lat.p99) last+=" p99_ms" ;; rr.kept) last+=" rr_kept_pct" ;; esac
	for s in "${SERVERS[@]}"; do last+=" ${s//-/_}=${M[${f%%.*}.$s.${f#*.}]:--}"; done
done
last+=" h2_ratio_vs_nginx=$h2_ratio"
if [ -n "$H2_OUT" ]; then
	mkdir -p "$H2_OUT" || die "cannot create $H2_OUT"
	cp "$tmp/tables.md" "$H2_OUT/tables.md"
	{
		printf 'h2_ratio=%q\nh2_lat_rate=%q\nh2_foreign=%q\nh2_last=%q\n' \
			"$h2_ratio" "$H2_LAT_RATE" "$foreign" "$last"
	} >"$H2_OUT/results.env"
	cp "$tmp"/*.conf "$tmp"/*.cfg "$tmp"/*.yaml "$H2_OUT/" 2>/dev/null
fi
echo "$last"
