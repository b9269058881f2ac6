#!/usr/bin/env bash
# make bench-tls: lbtls (OpenSSL 3.0 and BoringSSL builds) against Debian's
# nginx and HAProxy as TLS-terminating reverse proxies on one machine.
# Method and results: docs/bench-tls.md.
#
#   - one ECDSA P-256 self-signed certificate (made here with openssl) for
#     all four; TLS 1.3 only, X25519 only, one cipher suite, which the
#     load generator alone offers (BoringSSL cannot restrict TLS 1.3
#     suites and takes the client's first);
#   - the server (one worker process, or one thread) pinned to CPU 0, the
#     load generator (wrk, one thread) and the fast backend
#     (build/bench/fast_backend) pinned to CPU 1;
#   - scenario "hs": every request on a new TLS connection (wrk with
#     "Connection: close"), full handshakes: wrk's own session resumption is
#     switched off by a small LD_PRELOAD shim, and this is checked;
#   - scenario "ka": keep-alive requests on established TLS connections;
#   - both through to the backend over keep-alive upstream connections;
#   - ROUNDS rounds, servers alternating (A B C A B C ...), medians reported;
#   - server CPU = delta of utime+stime (+cutime+cstime) in /proc/PID/stat
#     of the server's processes (master and children) over the measured run.
#
# Usage: tests/bench/bench_tls.sh BUILD_DIR [BORINGSSL_BUILD_DIR]
#   (lbtls from BUILD_DIR, lbtls-boringssl from BORINGSSL_BUILD_DIR, default
#   build-boringssl: make TLS=boringssl)
# Environment: ROUNDS (5), DURATION (10, seconds per measured run), WARMUP
# (2), HS_CONNS (32), KA_CONNS (64), SERVER_CPU (0), CLIENT_CPU (1),
# CIPHERSUITE (TLS_AES_128_GCM_SHA256), RETRIES (2) and RETRY_BUDGET (8):
# a run during which CPU 0 was more than 10 points busier than the server
# (other processes, hypervisor steal) is measured again, at most RETRIES
# times, RETRY_BUDGET times in all; KEEP_TMP=1 keeps the temp dir.
#
# Exits non-zero, loudly, when a tool or binary is missing, a server does not
# start or does not answer 200, wrk reports non-2xx answers or socket errors,
# or requests do not reach the backend. Not meeting the goal is not a
# failure: this prints figures.
# The last line is exactly:
#   tls: hs_per_cpu_s lbtls=N lbtls_boringssl=N nginx=N haproxy=N ka_per_cpu_s lbtls=N lbtls_boringssl=N nginx=N haproxy=N
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
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
HS_CONNS=${HS_CONNS:-32}
KA_CONNS=${KA_CONNS:-64}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
CIPHERSUITE=${CIPHERSUITE:-TLS_AES_128_GCM_SHA256}
RETRIES=${RETRIES:-2}
RETRY_BUDGET=${RETRY_BUDGET:-8}
NAME=bench.test
SERVERS=(lbtls lbtls-boringssl nginx haproxy)
SCENARIOS=(hs ka)

die() {
	echo "bench-tls: FAIL: $*" >&2
	exit 1
}
say() { echo "bench-tls: $*"; }

# --- prerequisites ------------------------------------------------------------
for tool in nginx haproxy wrk openssl curl taskset cc; do
	command -v "$tool" >/dev/null || die "$tool is not installed (make deps)"
done
lbtls=$build/lbtls
blbtls=$bbuild/lbtls
backend_bin=$build/bench/fast_backend
[ -x "$lbtls" ] || die "$lbtls is missing (make $lbtls)"
[ -x "$blbtls" ] || die "$blbtls is missing (make TLS=boringssl $blbtls)"
"$lbtls" -V | grep -q 'TLS library OpenSSL' ||
	die "$lbtls is not an OpenSSL build: $("$lbtls" -V)"
"$blbtls" -V | grep -q 'TLS library BoringSSL' ||
	die "$blbtls is not a BoringSSL build: $("$blbtls" -V)"
[ -x "$backend_bin" ] || die "$backend_bin is missing (make $backend_bin)"
two_cpus
ncpu=$(nproc --all)

# --- processes and cleanup (lib/common.sh) ------------------------------------
bench_tmp bench-tls

# --- ports: a free block on loopback, above 20000, below the ephemeral range --
base=$(free_port_block 7) || die "no free block of 7 loopback ports above 20000"
BACKEND_PORT=$base
declare -A PORT=([lbtls]=$((base + 1)) [nginx]=$((base + 2)) [haproxy]=$((base + 3))
	[lbtls-boringssl]=$((base + 5)))
LBTLS_METRICS_PORT=$((base + 4))
declare -A METRICS_PORT=([lbtls]=$LBTLS_METRICS_PORT [lbtls-boringssl]=$((base + 6)))

# --- certificate: ECDSA P-256, self-signed, one name ---------------------------
make_cert "$tmp" "$NAME"
cat "$tmp/fullchain.pem" "$tmp/privkey.pem" >"$tmp/haproxy.pem"

# --- configurations from the templates ------------------------------------------
fill() { # fill TEMPLATE OUT
	fill_template "$1" "$2" TMP="$tmp" NAME="$NAME" CIPHERSUITE="$CIPHERSUITE" \
		BACKEND_PORT="$BACKEND_PORT" LBTLS_PORT="${PORT[lbtls]}" \
		NGINX_PORT="${PORT[nginx]}" HAPROXY_PORT="${PORT[haproxy]}" \
		LBTLS_METRICS_PORT="$LBTLS_METRICS_PORT"
}
fill "$conf/nginx.conf.in" "$tmp/nginx.conf"
fill "$conf/haproxy.cfg.in" "$tmp/haproxy.cfg"
fill "$conf/lbtls.yaml.in" "$tmp/lbtls.yaml"
# the BoringSSL build: the same file on its own ports and error log
sed -e "s|:${PORT[lbtls]}\"|:${PORT[lbtls-boringssl]}\"|" \
	-e "s|:$LBTLS_METRICS_PORT |:${METRICS_PORT[lbtls-boringssl]} |" \
	-e "s|lbtls-error.log|lbtls-boringssl-error.log|" \
	"$tmp/lbtls.yaml" >"$tmp/lbtls-boringssl.yaml"
grep -q ":${PORT[lbtls-boringssl]}\"" "$tmp/lbtls-boringssl.yaml" &&
	grep -q ":${METRICS_PORT[lbtls-boringssl]} " "$tmp/lbtls-boringssl.yaml" ||
	die "lbtls-boringssl.yaml: ports not replaced"
nginx -t -q -c "$tmp/nginx.conf" -p "$tmp" 2>"$tmp/check.err" ||
	die "nginx -t: $(cat "$tmp/check.err")"
haproxy -c -q -f "$tmp/haproxy.cfg" 2>"$tmp/check.err" >&2 ||
	die "haproxy -c: $(cat "$tmp/check.err")"
"$lbtls" -t -c "$tmp/lbtls.yaml" 2>"$tmp/check.err" ||
	die "lbtls -t: $(cat "$tmp/check.err")"
"$blbtls" -t -c "$tmp/lbtls-boringssl.yaml" 2>"$tmp/check.err" ||
	die "lbtls-boringssl -t: $(cat "$tmp/check.err")"

# --- the load generator offers CIPHERSUITE alone ------------------------------------
# The servers with OpenSSL are restricted to it; BoringSSL enables all
# three TLS 1.3 suites and takes the client's first (wrk's OpenSSL default
# is TLS_AES_256_GCM_SHA384): so wrk, and the checks, offer only this one.
client_cnf "$tmp/client.cnf" "$CIPHERSUITE"

# --- wrk without session resumption ----------------------------------------------
# wrk reuses its SSL object and would resume every session (PSK, no
# certificate signature): the shim (lib/common.sh) drops it first
build_noresume_shim "$tmp/noresume.so"

# --- servers ------------------------------------------------------------------------
backend_counts() { fast_backend_counts "$backend_pid" "$tmp/backend.out"; }

start_server() { # start_server NAME
	local s=$1
	case $s in
	lbtls)
		taskset -c "$SERVER_CPU" "$lbtls" -c "$tmp/lbtls.yaml" --workers 1 \
			>"$tmp/lbtls.out" 2>&1 &
		;;
	lbtls-boringssl)
		taskset -c "$SERVER_CPU" "$blbtls" -c "$tmp/lbtls-boringssl.yaml" \
			--workers 1 >"$tmp/lbtls-boringssl.out" 2>&1 &
		;;
	nginx)
		taskset -c "$SERVER_CPU" nginx -c "$tmp/nginx.conf" -p "$tmp" \
			>"$tmp/nginx.out" 2>&1 &
		;;
	haproxy)
		taskset -c "$SERVER_CPU" haproxy -db -f "$tmp/haproxy.cfg" \
			>"$tmp/haproxy.out" 2>&1 &
		;;
	esac
	server_pid=$!
	await_backend_answer "$s" "$server_pid" "$tmp/$s.out" \
		"https://$NAME:${PORT[$s]}/" --resolve "$NAME:${PORT[$s]}:127.0.0.1"
	# every process of the server on SERVER_CPU only
	check_pinned "$s" "$server_pid" "$SERVER_CPU"
}
stop_server() {
	kill_tree "$server_pid"
	server_pid=
}

# What the handshake looks like, once per server: protocol, cipher, group,
# signature, certificate.
check_tls() { # check_tls NAME
	local s=$1 out
	# a client offering every suite: the server's own restriction
	if [ "$s" != lbtls-boringssl ]; then
		out=$(openssl s_client -connect "127.0.0.1:${PORT[$s]}" -servername "$NAME" \
			</dev/null 2>&1)
		grep -q "New, TLSv1.3, Cipher is $CIPHERSUITE" <<<"$out" ||
			die "$s: not TLS 1.3 with $CIPHERSUITE: $(grep -E '^(New|Cipher)' <<<"$out")"
	fi
	# what wrk offers (client.cnf): what is measured
	out=$(OPENSSL_CONF=$tmp/client.cnf openssl s_client -connect "127.0.0.1:${PORT[$s]}" \
		-servername "$NAME" </dev/null 2>&1)
	grep -q "New, TLSv1.3, Cipher is $CIPHERSUITE" <<<"$out" ||
		die "$s: not TLS 1.3 with $CIPHERSUITE for wrk's client: $(grep -E '^(New|Cipher)' <<<"$out")"
	grep -q "Server Temp Key: X25519" <<<"$out" ||
		die "$s: key exchange is not X25519"
	grep -q "Peer signature type: ECDSA" <<<"$out" ||
		die "$s: not an ECDSA certificate signature"
	grep -q "subject=CN = $NAME" <<<"$out" ||
		die "$s: not the benchmark certificate"
}

# --- measurement ----------------------------------------------------------------------
lbtls_handshakes() { # "full resumed" from the current lbtls's /metrics
	curl -s "http://127.0.0.1:${METRICS_PORT[$cur]}/metrics" |
		awk '/^lbtls_handshakes_total\{type="full"\}/ {f = $2}
		     /^lbtls_handshakes_total\{type="resumed"\}/ {r = $2}
		     END {printf "%d %d\n", f, r}'
}
run_wrk() { # run_wrk SCENARIO SECONDS OUTFILE
	local scen=$1 secs=$2 out=$3 port=${PORT[$cur]} preload=$tmp/noresume.so
	[ "${4:-}" = resume ] && preload=
	local args=(-t1 --latency --timeout 5s -d "${secs}s")
	if [ "$scen" = hs ]; then
		args+=(-c "$HS_CONNS" -H 'Connection: close')
	else
		args+=(-c "$KA_CONNS")
	fi
	# by address: SNI and Host are "127.0.0.1"; each server has one cert
	OPENSSL_CONF=$tmp/client.cnf LD_PRELOAD=$preload \
		taskset -c "$CLIENT_CPU" wrk "${args[@]}" \
		"https://127.0.0.1:$port/" >"$out" 2>&1 &
	wrk_pid=$!
	wait "$wrk_pid"
	local rc=$?
	wrk_pid=
	[ "$rc" -eq 0 ] || die "$cur $scen: wrk exited $rc: $(cat "$out")"
}

foreign=0
retry_budget=$RETRY_BUDGET
declare -A R # R[scen.server.field] = space-separated values, one per round
declare -A P # the run just measured, field -> value, until kept
add() { P[$1]=$2; }
keep() { local k; for k in "${!P[@]}"; do R[$k]="${R[$k]:-} ${P[$k]}"; done; }

measure() { # measure SCENARIO ROUND: one measured run against $cur
	local scen=$1 round=$2 out b0 b1 h0 h1 conns breqs
	local reqs rps p99 non2xx ce re we te cpu_s srvbusy busy
	P=()
	out=$tmp/wrk.$cur.$scen.$round
	run_wrk "$scen" "$WARMUP" "$out.warmup"
	[[ $cur == lbtls* ]] && h0=$(lbtls_handshakes)
	read -r b0 breqs0 < <(backend_counts)
	run_start "$server_pid" "$SERVER_CPU"
	run_wrk "$scen" "$DURATION" "$out"
	run_end "$server_pid" "$SERVER_CPU"
	read -r b1 breqs1 < <(backend_counts)
	kill -0 "$server_pid" 2>/dev/null || die "$cur died during the $scen run"

	wrk_figures "$out"
	conns=$((b1 - b0))
	breqs=$((breqs1 - breqs0))
	add "$scen.$cur.rps" "$rps"
	add "$scen.$cur.p99" "$(to_ms "$p99")"
	add "$scen.$cur.us" "$(awk -v c="$cpu_s" -v n="$reqs" 'BEGIN {printf "%.2f", 1e6 * c / n}')"
	add "$scen.$cur.ops" "$(awk -v c="$cpu_s" -v n="$reqs" 'BEGIN {printf "%.0f", (c > 0 ? n / c : 0)}')"
	add "$scen.$cur.busy" "$srvbusy"
	add "$scen.$cur.core" "$busy"
	add "$scen.$cur.conns" "$conns"
	add "$scen.$cur.errs" "$((non2xx + ce + re + we + te))"
	printf 'bench-tls: round %d %-3s %-15s %9.0f req/s  p99 %7s  server CPU %5.2f s (%s%% of a core; core %s %s%% busy)  %s req at backend over %s new upstream conns  non-2xx %s  socket errors connect %s read %s write %s timeout %s' \
		"$round" "$scen" "$cur" "$rps" "$p99" "$cpu_s" "$srvbusy" \
		"$SERVER_CPU" "$busy" "$breqs" "$conns" "$non2xx" "$ce" "$re" "$we" "$te"
	if [[ $cur == lbtls* ]]; then
		h1=$(lbtls_handshakes)
		set -- $h0 $h1
		printf '  handshakes full %d resumed %d' $(($3 - $1)) $(($4 - $2))
		[ "$scen" = hs ] && [ $(($4 - $2)) -ne 0 ] &&
			die "lbtls reports resumed handshakes in the full-handshake scenario"
	fi
	echo
	# CPU 0 busier than the server: something else ran there
	foreign_check "$SERVER_CPU"
	wrk_verdict "$breqs"
}

# --- checks before measuring ----------------------------------------------------------
# wrk does not resume: an nginx with a log of $ssl_session_reused says so
resumption_check() {
	local log=$tmp/resume.log n r
	sed -e "s|access_log off;|log_format r '\$ssl_session_reused'; access_log $log r;|" \
		"$tmp/nginx.conf" >"$tmp/nginx-resume.conf"
	taskset -c "$SERVER_CPU" nginx -c "$tmp/nginx-resume.conf" -p "$tmp" \
		>"$tmp/nginx.out" 2>&1 &
	server_pid=$!
	cur=nginx
	for _ in $(seq 1 50); do
		[ "$(curl -sk -o /dev/null -w '%{http_code}' "https://127.0.0.1:${PORT[nginx]}/")" = 200 ] && break
		sleep 0.1
	done
	: >"$log"
	run_wrk hs 1 "$tmp/wrk.resume" resume
	n=$(wc -l <"$log")
	r=$(grep -c '^r$' "$log")
	say "resumption check: plain wrk resumed $r of $n connections; with the shim:"
	: >"$log"
	run_wrk hs 2 "$tmp/wrk.resume"
	stop_server
	n=$(wc -l <"$log")
	r=$(grep -c '^r$' "$log")
	[ "$n" -gt 100 ] || die "resumption check: only $n connections logged"
	[ "$r" -eq 0 ] ||
		die "resumption check: $r of $n wrk connections resumed a TLS session"
	say "resumption check: $n wrk connections with 'Connection: close', $r resumed (nginx \$ssl_session_reused)"
}

# wrk reads client.cnf: offered only a suite nginx does not allow, it
# gets no answer at all
client_conf_check() {
	local other=TLS_AES_256_GCM_SHA384 n
	[ "$CIPHERSUITE" = "$other" ] && other=TLS_AES_128_GCM_SHA256
	sed "s|^Ciphersuites = .*|Ciphersuites = $other|" "$tmp/client.cnf" >"$tmp/other.cnf"
	cur=nginx
	start_server nginx
	OPENSSL_CONF=$tmp/other.cnf taskset -c "$CLIENT_CPU" wrk -t1 -c4 -d1s \
		"https://127.0.0.1:${PORT[nginx]}/" >"$tmp/wrk.other" 2>&1
	stop_server
	n=$(sed -nE 's/^ *([0-9]+) requests in .*/\1/p' "$tmp/wrk.other")
	[ "${n:-0}" -eq 0 ] ||
		die "client conf check: wrk offered only $other and still got $n answers from nginx: OPENSSL_CONF is not read"
	say "client conf check: wrk offering only $other gets no answer from nginx ($CIPHERSUITE only): wrk offers what client.cnf says"
}

say "lbtls $(git -C "$root" describe --always --dirty 2>/dev/null || echo '?'), $(nginx -v 2>&1 | sed 's/.*: //'), $(haproxy -v | head -1 | awk '{print $1, $3}'), $(wrk -v 2>&1 | head -1 | awk '{print $1, $2}'), $(openssl version | awk '{print $1, $2}')"
say "lbtls: $("$lbtls" -V | sed 's/^lbtls: //'); lbtls-boringssl: $("$blbtls" -V | sed 's/^lbtls: //')"
say "$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $ncpu CPUs, kernel $(uname -r)"
say "server on CPU $SERVER_CPU; wrk (1 thread) and fast_backend share CPU $CLIENT_CPU"
say "TLS 1.3, $CIPHERSUITE, X25519, ECDSA P-256; access logs off; ports $base..$((base + 4))"
say "$ROUNDS rounds x ${DURATION}s per scenario (+${WARMUP}s warm-up); hs: $HS_CONNS conns with 'Connection: close'; ka: $KA_CONNS keep-alive conns"
start_fast_backend "$backend_bin" "$CLIENT_CPU" "127.0.0.1:$BACKEND_PORT" "$tmp/backend.out"
resumption_check
client_conf_check
for s in "${SERVERS[@]}"; do
	cur=$s
	start_server "$s"
	check_tls "$s"
	stop_server
done
say "all four servers answer 200 from the backend over TLS 1.3 / $CIPHERSUITE / X25519 / ECDSA"

# --- rounds: A B C D A B C D ... ----------------------------------------------------------------
run_rounds

# --- report ---------------------------------------------------------------------------------
med() { stat3 <<<"${R[$1]}" | cut -d' ' -f1; }
declare -A OPS
for scen in "${SCENARIOS[@]}"; do
	echo
	if [ "$scen" = hs ]; then
		echo "Full TLS handshake per request (Connection: close), $HS_CONNS connections; medians of $ROUNDS runs of ${DURATION}s"
	else
		echo "Keep-alive requests, $KA_CONNS connections; medians of $ROUNDS runs of ${DURATION}s"
	fi
	printf '%-15s %10s %9s %12s %14s %12s %10s %8s\n' server "req/s" "p99 ms" "CPU us/req" "ops per CPU-s" "server busy" "upstr conn" "errors"
	for s in "${SERVERS[@]}"; do
		OPS[$scen.$s]=$(med "$scen.$s.ops")
		printf '%-15s %10.0f %9.2f %12.1f %14.0f %11.0f%% %10.0f %8s\n' "$s" \
			"$(med "$scen.$s.rps")" "$(med "$scen.$s.p99")" \
			"$(med "$scen.$s.us")" "${OPS[$scen.$s]}" \
			"$(med "$scen.$s.busy")" "$(med "$scen.$s.conns")" \
			"$(tr ' ' '\n' <<<"${R[$scen.$s.errs]}" | awk '{s += $1} END {print s + 0}')"
	done
done
echo
[ "$foreign" -eq 0 ] ||
	echo "bench-tls: WARNING: $foreign kept runs had other load on CPU $SERVER_CPU (see above); rerun on a quiet machine" >&2
echo "lbtls/nginx per CPU-second: handshakes $(ratio "${OPS[hs.lbtls]}" "${OPS[hs.nginx]}")x (goal 1.0x), keep-alive $(ratio "${OPS[ka.lbtls]}" "${OPS[ka.nginx]}")x (goal 1.3x)"
echo "lbtls-boringssl/nginx per CPU-second: handshakes $(ratio "${OPS[hs.lbtls-boringssl]}" "${OPS[hs.nginx]}")x (goal 1.5x), keep-alive $(ratio "${OPS[ka.lbtls-boringssl]}" "${OPS[ka.nginx]}")x (goal 1.3x)"
echo "tls: hs_per_cpu_s lbtls=${OPS[hs.lbtls]} lbtls_boringssl=${OPS[hs.lbtls-boringssl]} nginx=${OPS[hs.nginx]} haproxy=${OPS[hs.haproxy]} ka_per_cpu_s lbtls=${OPS[ka.lbtls]} lbtls_boringssl=${OPS[ka.lbtls-boringssl]} nginx=${OPS[ka.nginx]} haproxy=${OPS[ka.haproxy]}"
