# shellcheck shell=bash
# Helpers shared by tests/bench/bench_report.sh, bench_tls.sh, bench_body.sh
# and bench_loop.sh (sourced, not run): process trees, CPU and memory from
# /proc, the wrk no-resumption shim, fast_backend's counters, wrk's figures
# and checks, retries on a busy core, medians. The caller defines die() and
# say().

descendants() { # descendants PID: PID and all its descendants, one a line
	local p=$1 t c
	echo "$p"
	for t in /proc/"$p"/task/*/children; do
		[ -r "$t" ] || continue
		for c in $(cat "$t" 2>/dev/null); do descendants "$c"; done
	done
}

kill_tree() { # kill_tree PID: TERM, a bounded wait, then KILL what is left
	local pid=$1 all p
	[ -n "$pid" ] || return 0
	all=$(descendants "$pid")
	kill -TERM "$pid" 2>/dev/null
	for _ in $(seq 1 50); do
		# gone, or a zombie waiting for us
		[[ $(cat /proc/"$pid"/stat 2>/dev/null) =~ \)\ [ZX] ]] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	for p in $all; do kill -KILL "$p" 2>/dev/null; done
	wait "$pid" 2>/dev/null
	return 0
}

# cpu_ticks PID...: utime+stime+cutime+cstime of the PIDs and their live
# descendants, in clock ticks (a child that exits moves into its parent's
# cutime, so a respawned worker still counts)
cpu_ticks() {
	local sum=0 p f root
	for root in "$@"; do
		for p in $(descendants "$root"); do
			f=$(cat /proc/"$p"/stat 2>/dev/null) || continue
			f=${f##*) } # fields from 3 on; comm may hold spaces
			# shellcheck disable=SC2086
			set -- $f
			sum=$((sum + ${12} + ${13} + ${14} + ${15}))
		done
	done
	echo "$sum"
}

# pss_kib PID...: proportional set size of the PIDs and their descendants
pss_kib() {
	local sum=0 p v root
	for root in "$@"; do
		for p in $(descendants "$root"); do
			v=$(awk '/^Pss:/ {print $2}' /proc/"$p"/smaps_rollup 2>/dev/null)
			sum=$((sum + ${v:-0}))
		done
	done
	echo "$sum"
}

core_busy() { # core_busy CPU: busy ticks of that core (all tasks, irq, softirq)
	awk -v c="cpu$1" '$1 == c {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat
}

all_busy() { # all_busy: busy ticks of every core together
	awk '$1 == "cpu" {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat
}

to_ms() { # to_ms "1.23ms" | "456.78us" | "1.20s" (wrk's units)
	awk -v v="$1" 'BEGIN {
		if (v ~ /us$/) { sub(/us$/, "", v); print v / 1000 }
		else if (v ~ /ms$/) { sub(/ms$/, "", v); print v + 0 }
		else if (v ~ /m$/) { sub(/m$/, "", v); print v * 60000 }
		else if (v ~ /s$/) { sub(/s$/, "", v); print v * 1000 }
		else print "nan" }'
}

# build_noresume_shim OUT.so: an LD_PRELOAD for wrk. wrk closes with
# SSL_shutdown + SSL_clear and reuses the SSL object, and SSL_clear keeps a
# cleanly closed session, so the next connection would resume it (a TLS 1.3
# PSK handshake, no certificate signature). The shim drops the session first,
# so every connection is a full handshake.
build_noresume_shim() {
	local out=$1
	cat >"${out%.so}.c" <<'EOC'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <openssl/ssl.h>
int SSL_clear(SSL *s)
{
	static int (*real)(SSL *);

	if (!real)
		real = (int (*)(SSL *))dlsym(RTLD_NEXT, "SSL_clear");
	SSL_set_session(s, NULL);
	return real(s);
}
EOC
	cc -O2 -shared -fPIC -o "$out" "${out%.so}.c" -ldl ||
		die "cannot build the wrk no-resumption shim"
}

# port_busy PORT: something listens on 127.0.0.1:PORT.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# free_port_block N: prints the first of N consecutive free loopback ports,
# above 20000 and below the ephemeral range; fails when 50 tries found none.
free_port_block() {
	local n=$1 b o free _
	for _ in $(seq 1 50); do
		b=$((20000 + RANDOM % 12000))
		free=1
		for ((o = 0; o < n; o++)); do
			port_busy $((b + o)) && free=0
		done
		if [ "$free" -eq 1 ]; then
			echo "$b"
			return 0
		fi
	done
	return 1
}

# client_cnf FILE SUITE: an OPENSSL_CONF for the load generators that
# offers the TLS 1.3 suite SUITE alone
client_cnf() {
	cat >"$1" <<EOF
openssl_conf = init
[init]
ssl_conf = ssl
[ssl]
system_default = client
[client]
Ciphersuites = $2
EOF
}

# make_cert DIR NAME: a self-signed ECDSA P-256 certificate for NAME in
# Let's Encrypt's file names, DIR/fullchain.pem and DIR/privkey.pem
make_cert() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$1/privkey.pem" -out "$1/fullchain.pem" -days 2 \
		-subj "/CN=$2" -addext "subjectAltName=DNS:$2" 2>"$1/openssl.err" ||
		die "openssl could not make the certificate: $(cat "$1/openssl.err")"
}

# start_fast_backend BIN CPU ADDR:PORT OUT [OPTION]: fast_backend pinned to
# CPU, its output in OUT; sets backend_pid once it listens
start_fast_backend() {
	taskset -c "$2" "$1" "$3" ${5:+"$5"} >"$4" 2>&1 &
	backend_pid=$!
	for _ in $(seq 1 50); do
		grep -q listening "$4" && return 0
		kill -0 "$backend_pid" 2>/dev/null || break
		sleep 0.1
	done
	die "fast_backend $3 did not start: $(cat "$4")"
}


# fast_backend_counts PID OUT: "conns reqs" (cumulative) of the fast_backend
# PID whose output goes to OUT (it prints them on SIGUSR1)
fast_backend_counts() {
	local pid=$1 out=$2 n
	n=$(grep -c 'conns=' "$out")
	kill -USR1 "$pid" 2>/dev/null || die "fast_backend died"
	for _ in $(seq 1 50); do
		[ "$(grep -c 'conns=' "$out")" -gt "$n" ] && break
		sleep 0.02
	done
	grep 'conns=' "$out" | tail -1 |
		sed -E 's/.*conns=([0-9]+) reqs=([0-9]+).*/\1 \2/'
}

# fill_template TEMPLATE OUT KEY=VALUE...: @KEY@ replaced by VALUE; a
# placeholder left over is an error
fill_template() {
	local in=$1 out=$2 kv args=()
	shift 2
	for kv in "$@"; do args+=(-e "s|@${kv%%=*}@|${kv#*=}|g"); done
	sed "${args[@]}" "$in" >"$out"
	! grep -q '@[A-Z_]*@' "$out" || die "$out: unfilled placeholder"
}

# await_backend_answer NAME PID LOG URL [CURL ARG...]: waits (10 s at most)
# until URL answers 200 with fast_backend's body; dies when PID exits first
# (LOG's tail says why) or on any other answer
await_backend_answer() {
	local s=$1 pid=$2 log=$3 url=$4 code
	shift 4
	for _ in $(seq 1 100); do
		code=$(curl -sk "$@" -o "$log.body" -w '%{http_code}' "$url")
		[ "$code" = 200 ] && break
		kill -0 "$pid" 2>/dev/null ||
			die "$s exited at start: $(tail -5 "$log")"
		sleep 0.1
	done
	[ "$code" = 200 ] || die "$s: $url answered '$code', not 200: $(tail -5 "$log")"
	grep -q '^Hello, world$' "$log.body" ||
		die "$s: the answer is not the backend's: $(head -c 200 "$log.body")"
}

# check_pinned NAME PID CPU: PID and every descendant run on CPU only
check_pinned() {
	local p
	for p in $(descendants "$2"); do
		taskset -pc "$p" 2>/dev/null | grep -q ": $3\$" ||
			die "$1: process $p is not pinned to CPU $3"
	done
}

# run_start PID CPU / run_end PID CPU: around a measured run; run_end sets
# cpu_s (server CPU seconds of PID's tree), srvbusy (that, in % of the
# wall time) and busy (% of CPU busy with anything: other load shows as
# busy > srvbusy)
run_start() {
	run_c0=$(cpu_ticks "$1")
	run_k0=$(core_busy "$2")
	run_t0=$(date +%s.%N)
}
run_end() {
	local t1 c1 k1
	t1=$(date +%s.%N)
	c1=$(cpu_ticks "$1")
	k1=$(core_busy "$2")
	# shellcheck disable=SC2034 # for the caller
	read -r cpu_s srvbusy busy < <(awk -v c=$((c1 - run_c0)) \
		-v k=$((k1 - run_k0)) -v hz="$(getconf CLK_TCK)" -v a="$run_t0" \
		-v b="$t1" 'BEGIN {
		printf "%s %.0f %.0f\n", c / hz, 100 * c / hz / (b - a),
			100 * k / hz / (b - a) }')
}

# wrk_figures OUT: sets reqs, rps, p99 (wrk's unit), non2xx and ce re we te
# (socket errors: connect, read, write, timeout) from wrk's output; dies
# when there are none
# shellcheck disable=SC2034,SC2154 # sets the caller's; cur and scen are its
wrk_figures() {
	local out=$1 errs
	reqs=$(sed -nE 's/^ *([0-9]+) requests in .*/\1/p' "$out")
	rps=$(sed -nE 's/^Requests\/sec: *([0-9.]+).*/\1/p' "$out")
	p99=$(awk '$1 == "99%" {print $2}' "$out")
	non2xx=$(sed -nE 's/^ *Non-2xx or 3xx responses: *([0-9]+).*/\1/p' "$out")
	non2xx=${non2xx:-0}
	errs=$(sed -nE 's/^ *Socket errors: connect ([0-9]+), read ([0-9]+), write ([0-9]+), timeout ([0-9]+).*/\1 \2 \3 \4/p' "$out")
	read -r ce re we te <<<"${errs:-0 0 0 0}"
	[ -n "$reqs" ] && [ "$reqs" -gt 0 ] && [ -n "$p99" ] ||
		die "$cur $scen: no figures from wrk: $(cat "$out")"
}

# wrk_verdict BACKEND_REQS: after wrk_figures, dies on non-2xx answers,
# socket errors (read errors above 0.1 %: connections the server closed
# before answering) or answers that did not come through the backend
# (in-flight requests add a few)
wrk_verdict() {
	[ "$non2xx" -eq 0 ] || die "$cur $scen: $non2xx answers were not 2xx"
	[ $((ce + we + te)) -eq 0 ] ||
		die "$cur $scen: socket errors (connect $ce, write $we, timeout $te)"
	[ "$re" -le $((reqs / 1000)) ] ||
		die "$cur $scen: $re read errors for $reqs requests"
	[ "$1" -ge "$reqs" ] ||
		die "$cur $scen: wrk counted $reqs answers but the backend only $1 requests"
}

# foreign_check CPU: after run_end, sets run_foreign=1 (and warns) when CPU
# was more than 10 points busier than the server: other load ran there
foreign_check() {
	run_foreign=0
	if [ $((busy - srvbusy)) -gt 10 ]; then
		say "WARNING: CPU $1 was ${busy}% busy but the server used ${srvbusy}%: other load on the server's core" >&2
		run_foreign=1
	fi
}

# retry_busy CMD...: CMD is one measured run that sets run_foreign; a run
# with other load is measured again, at most RETRIES times for one run and
# while retry_budget (decremented) lasts; foreign counts the runs kept
# with other load
retry_busy() {
	local attempt
	for attempt in $(seq 0 "$RETRIES"); do
		"$@"
		[ "$run_foreign" -eq 0 ] && break
		[ "$attempt" -lt "$RETRIES" ] && [ "$retry_budget" -gt 0 ] || break
		retry_budget=$((retry_budget - 1))
		say "measuring that run again"
	done
	[ "$run_foreign" -eq 0 ] || foreign=$((foreign + 1))
}

# run_rounds: ROUNDS rounds, the SERVERS alternating (A B C A B C ...): the
# caller's start_server NAME, then for each of SCENARIOS one run kept
# (retry_busy measure SCENARIO ROUND, then keep), then stop_server; cur is
# the server
run_rounds() {
	local round s scen
	for round in $(seq 1 "$ROUNDS"); do
		for s in "${SERVERS[@]}"; do
			cur=$s
			start_server "$s"
			for scen in "${SCENARIOS[@]}"; do
				retry_busy measure "$scen" "$round"
				keep
			done
			stop_server
		done
	done
}

# stat3: "median min max" of the numbers on stdin (spaces or lines)
stat3() {
	tr ' ' '\n' | awk 'NF' | sort -g | awk '{a[NR] = $1} END {
		m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
		print m, a[1], a[NR] }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }

# two_cpus: SERVER_CPU and CLIENT_CPU exist and differ
two_cpus() {
	local n c
	n=$(nproc --all)
	[ "$n" -ge 2 ] || die "needs 2 CPUs (server on one, load generator on the other); this machine has $n"
	for c in "$SERVER_CPU" "$CLIENT_CPU"; do
		[ "$c" -lt "$n" ] || die "CPU $c does not exist"
	done
	[ "$SERVER_CPU" != "$CLIENT_CPU" ] || die "SERVER_CPU and CLIENT_CPU must differ"
}

# bench_tmp NAME: makes the temp dir tmp (/tmp/NAME.XXXXXX) and traps exit,
# failure and Ctrl-C: wrk_pid, server_pid and backend_pid (and their
# descendants) are stopped, tmp removed unless KEEP_TMP=1
bench_tmp() {
	tmp=$(mktemp -d "/tmp/$1.XXXXXX")
	bench_name=$1
	server_pid=''
	backend_pid=''
	wrk_pid=''
	trap bench_cleanup EXIT
	trap 'echo "$bench_name: interrupted" >&2; exit 130' INT TERM
}
bench_cleanup() {
	trap - EXIT INT TERM
	[ -n "$wrk_pid" ] && kill -KILL "$wrk_pid" 2>/dev/null
	kill_tree "$server_pid"
	kill_tree "$backend_pid"
	wait 2>/dev/null
	if [ "${KEEP_TMP:-0}" = 1 ]; then
		echo "$bench_name: kept $tmp" >&2
	else
		rm -rf "$tmp"
	fi
}
