#!/usr/bin/env bash
# make bench-body: what request buffering costs per request. POST bodies on
# keep-alive TLS connections through lbtls with request buffering (the
# default), lbtls without it, and Debian's nginx (proxy_request_buffering
# on, its default). Method and results: docs/bench-tls.md, "Request
# bodies: what buffering costs".
#
#   - bench-tls's configurations (tests/bench/conf/{lbtls.yaml,nginx.conf}.in):
#     TLS 1.3, TLS_AES_128_GCM_SHA256, X25519, ECDSA P-256, keep-alive
#     upstream; plus, for both servers, a 16 KiB in-memory body buffer
#     (lbtls limits.client_body_buffer_size, nginx client_body_buffer_size:
#     both defaults, set anyway) with the temp files in the run's temp dir;
#     lbtls-nobuf is the same lbtls with upstream.request_buffering: off;
#     nginx's error log at "error" (at "warn" it writes a line per body
#     that goes to a temp file);
#   - the server (one worker process) pinned to SERVER_CPU, wrk (one
#     thread) and build/bench/fast_backend (which reads each body and then
#     answers) pinned to CLIENT_CPU; the backend acknowledges at once
#     (--quickack; QUICKACK=0: not): nginx writes a body from its temp file
#     in 16 KiB writes on an upstream socket without TCP_NODELAY, and with
#     a delayed ACK its last write waits ~40 ms (Nagle) for every request;
#   - scenarios: "get", bench-tls's keep-alive GET (no body: the baseline),
#     and "post<SIZE>" for each of SIZES: a POST with a SIZE body
#     (Content-Length) on each of KA_CONNS keep-alive connections; 1k stays
#     in memory, 64k goes over the 16 KiB buffer to a temp file (buffered
#     servers only);
#   - ROUNDS rounds, servers alternating (A B C A B C ...); server CPU =
#     delta of utime+stime(+cutime+cstime) of the server's processes; a run
#     during which SERVER_CPU was more than 10 points busier than the server
#     is measured again (RETRIES, RETRY_BUDGET); medians with min-max.
#
# Usage: tests/bench/bench_body.sh BUILD_DIR
# Environment: ROUNDS (5), DURATION (5, seconds per measured run), WARMUP
# (2), KA_CONNS (64), SIZES ("1k 64k"), SERVER_CPU (0), CLIENT_CPU (1),
# CIPHERSUITE (TLS_AES_128_GCM_SHA256), RETRIES (2), RETRY_BUDGET (8),
# QUICKACK (1), KEEP_TMP=1 keeps the temp dir.
#
# Exits non-zero, loudly, when a tool or binary is missing, a server does not
# start or does not answer 200, wrk reports non-2xx answers or socket errors,
# requests do not reach the backend, or a buffered server did not use the
# memory or the temp file the size calls for. It prints figures, not a
# verdict. The last line is exactly:
#   body: post_1k_per_cpu_s lbtls=N lbtls_nobuf=N nginx=N post_64k_per_cpu_s lbtls=N lbtls_nobuf=N nginx=N get_per_cpu_s lbtls=N lbtls_nobuf=N nginx=N
set -u -o pipefail

build=${1:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
[[ $build == /* ]] || build=$root/$build
conf=$root/tests/bench/conf
# shellcheck source=tests/bench/lib/common.sh
. "$root/tests/bench/lib/common.sh"

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-2}
KA_CONNS=${KA_CONNS:-64}
read -r -a SIZES <<<"${SIZES:-1k 64k}"
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
CIPHERSUITE=${CIPHERSUITE:-TLS_AES_128_GCM_SHA256}
RETRIES=${RETRIES:-2}
RETRY_BUDGET=${RETRY_BUDGET:-8}
QUICKACK=${QUICKACK:-1}
BODY_BUFFER=16k # both servers' in-memory body buffer
NAME=bench.test
SERVERS=(lbtls lbtls-nobuf nginx)
SCENARIOS=()
for z in "${SIZES[@]}"; do SCENARIOS+=("post$z"); done
SCENARIOS+=(get)

die() {
	echo "bench-body: FAIL: $*" >&2
	exit 1
}
say() { echo "bench-body: $*"; }

bytes() { # bytes 64k: 65536
	case $1 in
	*k) echo $((${1%k} * 1024)) ;;
	*m) echo $((${1%m} * 1048576)) ;;
	*) echo "$1" ;;
	esac
}

# --- prerequisites ------------------------------------------------------------
for tool in nginx wrk openssl curl taskset cc; do
	command -v "$tool" >/dev/null || die "$tool is not installed (make deps)"
done
lbtls=$build/lbtls
backend_bin=$build/bench/fast_backend
[ -x "$lbtls" ] || die "$lbtls is missing (make $lbtls)"
"$lbtls" -V | grep -q 'TLS library OpenSSL' ||
	die "$lbtls is not an OpenSSL build: $("$lbtls" -V)"
[ -x "$backend_bin" ] || die "$backend_bin is missing (make $backend_bin)"
two_cpus
ncpu=$(nproc --all)
for z in "${SIZES[@]}"; do
	[[ $z =~ ^[0-9]+[km]?$ ]] && [ "$(bytes "$z")" -gt 0 ] &&
		[ "$(bytes "$z")" -le 1048576 ] ||
		die "SIZES: '$z' is not a size from 1 to 1m (limits.body and client_max_body_size are 1m)"
done

# --- processes and cleanup (lib/common.sh) ------------------------------------
bench_tmp bench-body

base=$(free_port_block 5) || die "no free block of 5 loopback ports above 20000"
BACKEND_PORT=$base
declare -A PORT=([lbtls]=$((base + 1)) [nginx]=$((base + 2)) [lbtls-nobuf]=$((base + 3)))
declare -A METRICS_PORT=([lbtls]=$((base + 4)))

make_cert "$tmp" "$NAME"
client_cnf "$tmp/client.cnf" "$CIPHERSUITE"
build_noresume_shim "$tmp/noresume.so"
mkdir -p "$tmp/lbtls-body"

# --- configurations: bench-tls's, with the body settings ------------------------
fill() { # fill TEMPLATE OUT
	fill_template "$1" "$2" TMP="$tmp" NAME="$NAME" CIPHERSUITE="$CIPHERSUITE" \
		BACKEND_PORT="$BACKEND_PORT" LBTLS_PORT="${PORT[lbtls]}" \
		NGINX_PORT="${PORT[nginx]}" LBTLS_METRICS_PORT="${METRICS_PORT[lbtls]}"
}
fill "$conf/lbtls.yaml.in" "$tmp/lbtls.base.yaml"
fill "$conf/nginx.conf.in" "$tmp/nginx.base.conf"
# lbtls: the body buffer and temp dir under limits; request_buffering under
# upstream (on: the default, written out)
sed -e "s|^limits:\$|limits:\n  client_body_buffer_size: $BODY_BUFFER\n  client_body_temp_path: $tmp/lbtls-body|" \
	-e "s|^upstream:\$|upstream:\n  request_buffering: on|" \
	"$tmp/lbtls.base.yaml" >"$tmp/lbtls.yaml"
# lbtls-nobuf: the same, buffering off, its own ports (metrics off)
sed -e "s|request_buffering: on|request_buffering: off|" \
	-e "s|:${PORT[lbtls]}\"|:${PORT[lbtls-nobuf]}\"|" \
	-e "s|^metrics: .*|metrics: \"off\"|" \
	-e "s|lbtls-error.log|lbtls-nobuf-error.log|" \
	"$tmp/lbtls.yaml" >"$tmp/lbtls-nobuf.yaml"
grep -q "client_body_buffer_size: $BODY_BUFFER" "$tmp/lbtls.yaml" &&
	grep -q 'request_buffering: on' "$tmp/lbtls.yaml" &&
	grep -q 'request_buffering: off' "$tmp/lbtls-nobuf.yaml" &&
	grep -q ":${PORT[lbtls-nobuf]}\"" "$tmp/lbtls-nobuf.yaml" ||
	die "lbtls.yaml / lbtls-nobuf.yaml: the body settings were not written in"
# nginx: the same buffer (its default on 64-bit) and buffering on (its
# default), error log at "error"
sed -e "s|^\(\tclient_body_temp_path .*\)\$|\1\n\tclient_body_buffer_size $BODY_BUFFER;\n\tproxy_request_buffering on;|" \
	-e "s|^error_log \(.*\) warn;|error_log \1 error;|" \
	"$tmp/nginx.base.conf" >"$tmp/nginx.conf"
grep -q "client_body_buffer_size $BODY_BUFFER;" "$tmp/nginx.conf" &&
	grep -q 'proxy_request_buffering on;' "$tmp/nginx.conf" &&
	grep -q '^error_log .* error;' "$tmp/nginx.conf" ||
	die "nginx.conf: the body settings were not written in"
nginx -t -q -c "$tmp/nginx.conf" -p "$tmp" 2>"$tmp/check.err" ||
	die "nginx -t: $(cat "$tmp/check.err")"
for s in lbtls lbtls-nobuf; do
	"$lbtls" -t -c "$tmp/$s.yaml" 2>"$tmp/check.err" ||
		die "$s -t: $(cat "$tmp/check.err")"
done

# --- wrk scripts: one POST per SIZE --------------------------------------------
for z in "${SIZES[@]}"; do
	cat >"$tmp/post$z.lua" <<EOF
-- make bench-body: every request a POST with a $z body
wrk.method = "POST"
wrk.body = string.rep("x", $(bytes "$z"))
wrk.headers["Content-Type"] = "application/octet-stream"
wrk.headers["Content-Length"] = tostring(#wrk.body)
EOF
done

# --- servers ---------------------------------------------------------------------
start_server() { # start_server NAME
	local s=$1 z code
	case $s in
	lbtls*)
		taskset -c "$SERVER_CPU" "$lbtls" -c "$tmp/$s.yaml" --workers 1 \
			>"$tmp/$s.out" 2>&1 &
		;;
	nginx)
		taskset -c "$SERVER_CPU" nginx -c "$tmp/nginx.conf" -p "$tmp" \
			>"$tmp/nginx.out" 2>&1 &
		;;
	esac
	server_pid=$!
	await_backend_answer "$s" "$server_pid" "$tmp/$s.out" \
		"https://$NAME:${PORT[$s]}/" --resolve "$NAME:${PORT[$s]}:127.0.0.1"
	check_pinned "$s" "$server_pid" "$SERVER_CPU"
	# a POST of every size goes through
	for z in "${SIZES[@]}"; do
		head -c "$(bytes "$z")" /dev/zero >"$tmp/body.$z"
		code=$(curl -sk --resolve "$NAME:${PORT[$s]}:127.0.0.1" -o /dev/null \
			-w '%{http_code}' --data-binary "@$tmp/body.$z" \
			-H 'Content-Type: application/octet-stream' -H 'Expect:' \
			"https://$NAME:${PORT[$s]}/")
		[ "$code" = 200 ] || die "$s: a POST of $z answered '$code', not 200"
	done
}
stop_server() {
	kill_tree "$server_pid"
	server_pid=
}

# --- measurement --------------------------------------------------------------------
backend_counts() { fast_backend_counts "$backend_pid" "$tmp/backend.out"; }
lbtls_bodies() { # "memory file": lbtls's buffered bodies so far (/metrics)
	curl -s "http://127.0.0.1:${METRICS_PORT[lbtls]}/metrics" |
		awk '/^lbtls_request_bodies_buffered_total\{in="memory"\}/ {m = $2}
		     /^lbtls_request_bodies_buffered_total\{in="file"\}/ {f = $2}
		     END {printf "%d %d\n", m, f}'
}
run_wrk() { # run_wrk SCENARIO SECONDS OUTFILE
	local scen=$1 secs=$2 out=$3 rc
	local args=(-t1 -c "$KA_CONNS" --latency --timeout 5s -d "${secs}s")
	[ "$scen" = get ] || args+=(-s "$tmp/$scen.lua")
	OPENSSL_CONF=$tmp/client.cnf LD_PRELOAD=$tmp/noresume.so \
		taskset -c "$CLIENT_CPU" wrk "${args[@]}" \
		"https://127.0.0.1:${PORT[$cur]}/" >"$out" 2>&1 &
	wrk_pid=$!
	wait "$wrk_pid"
	rc=$?
	wrk_pid=
	[ "$rc" -eq 0 ] || die "$cur $scen: wrk exited $rc: $(cat "$out")"
}

foreign=0
retry_budget=$RETRY_BUDGET
declare -A R # R[scen.server.field] = values, one per kept run
declare -A P # the run just measured, until kept
keep() { local k; for k in "${!P[@]}"; do R[$k]="${R[$k]:-} ${P[$k]}"; done; }

measure() { # measure SCENARIO ROUND: one measured run against $cur
	local scen=$1 round=$2 out b0 b1 breqs0 breqs1 conns breqs m0 f0 m1 f1
	local reqs rps p99 non2xx ce re we te cpu_s srvbusy busy where=
	P=()
	out=$tmp/wrk.$cur.$scen.$round
	run_wrk "$scen" "$WARMUP" "$out.warmup"
	[ "$cur" = lbtls ] && read -r m0 f0 < <(lbtls_bodies)
	read -r b0 breqs0 < <(backend_counts)
	run_start "$server_pid" "$SERVER_CPU"
	run_wrk "$scen" "$DURATION" "$out"
	run_end "$server_pid" "$SERVER_CPU"
	read -r b1 breqs1 < <(backend_counts)
	kill -0 "$server_pid" 2>/dev/null || die "$cur died during the $scen run"
	wrk_figures "$out"
	conns=$((b1 - b0))
	breqs=$((breqs1 - breqs0))
	P[$scen.$cur.rps]=$rps
	P[$scen.$cur.p99]=$(to_ms "$p99")
	P[$scen.$cur.us]=$(awk -v c="$cpu_s" -v n="$reqs" 'BEGIN {printf "%.2f", 1e6 * c / n}')
	P[$scen.$cur.ops]=$(awk -v c="$cpu_s" -v n="$reqs" 'BEGIN {printf "%.0f", (c > 0 ? n / c : 0)}')
	P[$scen.$cur.busy]=$srvbusy
	P[$scen.$cur.conns]=$conns
	if [ "$cur" = lbtls ]; then
		read -r m1 f1 < <(lbtls_bodies)
		where="  bodies buffered in memory $((m1 - m0)) in a file $((f1 - f0))"
	fi
	printf 'bench-body: round %d %-7s %-12s %7.0f req/s  p99 %7s  server CPU %5.2f s (%s%% of a core; core %s %s%% busy)  %s req at backend over %s new upstream conns  non-2xx %s  socket errors connect %s read %s write %s timeout %s%s\n' \
		"$round" "$scen" "$cur" "$rps" "$p99" "$cpu_s" "$srvbusy" \
		"$SERVER_CPU" "$busy" "$breqs" "$conns" "$non2xx" "$ce" "$re" \
		"$we" "$te" "$where"
	foreign_check "$SERVER_CPU"
	wrk_verdict "$breqs"
	# the buffered lbtls kept each body where its size says
	if [ "$cur" = lbtls ] && [ "$scen" != get ]; then
		local z=${scen#post} want got
		if [ "$(bytes "$z")" -le "$(bytes "$BODY_BUFFER")" ]; then
			want=memory got=$((m1 - m0))
		else
			want=file got=$((f1 - f0))
		fi
		[ "$got" -ge "$reqs" ] ||
			die "lbtls $scen: $got bodies buffered in $want for $reqs requests"
	fi
}

say "lbtls $(git -C "$root" describe --always --dirty 2>/dev/null || echo '?'), $(nginx -v 2>&1 | sed 's/.*: //'), $(wrk -v 2>&1 | head -1 | awk '{print $1, $2}'), $(openssl version | awk '{print $1, $2}')"
say "$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $ncpu CPUs, kernel $(uname -r); temp files in $tmp ($(df -T "$tmp" | awk 'NR == 2 {print $2}'))"
say "server on CPU $SERVER_CPU; wrk (1 thread) and fast_backend (quickack $QUICKACK) share CPU $CLIENT_CPU"
say "TLS 1.3, $CIPHERSUITE, X25519; $KA_CONNS keep-alive conns; bodies ${SIZES[*]} (in-memory buffer $BODY_BUFFER for lbtls and nginx); $ROUNDS rounds x ${DURATION}s (+${WARMUP}s warm-up)"
qa=
[ "$QUICKACK" = 1 ] && qa=--quickack
start_fast_backend "$backend_bin" "$CLIENT_CPU" "127.0.0.1:$BACKEND_PORT" "$tmp/backend.out" $qa

# nginx writes a body over its buffer to a temp file: with the error log at
# "warn" it says so, once per body; checked once here
sed "s|^error_log \(.*\) error;|error_log \1 warn;|" "$tmp/nginx.conf" >"$tmp/nginx-warn.conf"
taskset -c "$SERVER_CPU" nginx -c "$tmp/nginx-warn.conf" -p "$tmp" >"$tmp/nginx.out" 2>&1 &
server_pid=$!
await_backend_answer nginx "$server_pid" "$tmp/nginx.out" "https://127.0.0.1:${PORT[nginx]}/"
for z in "${SIZES[@]}"; do
	head -c "$(bytes "$z")" /dev/zero >"$tmp/body.$z"
	: >"$tmp/nginx-error.log"
	curl -sk -o /dev/null --data-binary "@$tmp/body.$z" -H 'Expect:' \
		"https://127.0.0.1:${PORT[nginx]}/"
	n=$(grep -c 'buffered to a temporary file' "$tmp/nginx-error.log")
	if [ "$(bytes "$z")" -gt "$(bytes "$BODY_BUFFER")" ]; then
		[ "$n" -eq 1 ] || die "nginx did not write a $z body to a temp file"
		say "nginx check: a $z body goes to a temp file (error log: 'a client request body is buffered to a temporary file')"
	else
		[ "$n" -eq 0 ] || die "nginx wrote a $z body to a temp file"
	fi
done
stop_server

for s in "${SERVERS[@]}"; do
	cur=$s
	start_server "$s"
	stop_server
done
say "all three servers answer 200 from the backend, to GET and to POSTs of ${SIZES[*]}"

# --- rounds: A B C A B C ... -------------------------------------------------------
run_rounds

# --- report -----------------------------------------------------------------------
cell() { # cell KEY FORMAT: "median (min-max)"
	local m lo hi
	read -r m lo hi < <(stat3 <<<"${R[$1]}")
	# shellcheck disable=SC2059 # the format is the caller's
	printf "$2 ($2-$2)" "$m" "$lo" "$hi"
}
med() { stat3 <<<"${R[$1]}" | cut -d' ' -f1; }
# differences within a round (runs minutes apart, not the medians'):
# diff_cell A B: R[A] minus R[B] round by round, median (min to max)
diff_cell() {
	local a b i
	read -r -a a <<<"${R[$1]}"
	read -r -a b <<<"${R[$2]}"
	for i in "${!a[@]}"; do awk -v x="${a[$i]}" -v y="${b[$i]}" 'BEGIN {print x - y}'; done |
		stat3 | awk '{printf "%+.1f (%+.1f to %+.1f)", $1, $2, $3}'
}
declare -A OPS
for scen in "${SCENARIOS[@]}"; do
	echo
	if [ "$scen" = get ]; then
		echo "get: keep-alive GET (no body), $KA_CONNS connections; median (min-max) of $ROUNDS runs of ${DURATION}s"
	else
		echo "$scen: keep-alive POST with a ${scen#post} body, $KA_CONNS connections; median (min-max) of $ROUNDS runs of ${DURATION}s"
	fi
	printf '%-12s %22s %20s %22s %24s %6s %10s\n' server "req/s" "p99 ms" "CPU us/req" "req per CPU-s" busy "upstr conn"
	for s in "${SERVERS[@]}"; do
		OPS[$scen.$s]=$(med "$scen.$s.ops")
		printf '%-12s %22s %20s %22s %24s %5.0f%% %10.0f\n' "$s" \
			"$(cell "$scen.$s.rps" %.0f)" "$(cell "$scen.$s.p99" %.2f)" \
			"$(cell "$scen.$s.us" %.1f)" "$(cell "$scen.$s.ops" %.0f)" \
			"$(med "$scen.$s.busy")" "$(med "$scen.$s.conns")"
	done
done
echo
echo "Server CPU us per request: differences within each round, median (min to max) of $ROUNDS"
for scen in "${SCENARIOS[@]}"; do
	echo "  $scen: buffered - streamed (lbtls - lbtls-nobuf) $(diff_cell "$scen.lbtls.us" "$scen.lbtls-nobuf.us"); lbtls - nginx $(diff_cell "$scen.lbtls.us" "$scen.nginx.us")"
	[ "$scen" = get ] && continue
	echo "  $scen - get (what the body costs): lbtls $(diff_cell "$scen.lbtls.us" get.lbtls.us); lbtls-nobuf $(diff_cell "$scen.lbtls-nobuf.us" get.lbtls-nobuf.us); nginx $(diff_cell "$scen.nginx.us" get.nginx.us)"
done
echo
[ "$foreign" -eq 0 ] ||
	echo "bench-body: WARNING: $foreign kept runs had other load on CPU $SERVER_CPU (see above); rerun on a quiet machine" >&2
line="body:"
for scen in "${SCENARIOS[@]}"; do
	[ "$scen" = get ] && key=get_per_cpu_s || key=post_${scen#post}_per_cpu_s
	echo "lbtls/nginx per CPU-second, $scen: $(ratio "${OPS[$scen.lbtls]}" "${OPS[$scen.nginx]}")x buffered, $(ratio "${OPS[$scen.lbtls-nobuf]}" "${OPS[$scen.nginx]}")x streamed"
	line+=" $key lbtls=${OPS[$scen.lbtls]} lbtls_nobuf=${OPS[$scen.lbtls-nobuf]} nginx=${OPS[$scen.nginx]}"
done
echo "$line"
