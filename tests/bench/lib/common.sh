# shellcheck shell=bash
# Helpers shared by tests/bench/bench_report.sh, bench_tls.sh and bench_loop.sh (sourced,
# not run): process trees, CPU and memory from /proc, the wrk
# no-resumption shim. The caller defines die().

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

# start_fast_backend BIN CPU ADDR:PORT OUT: fast_backend pinned to CPU,
# its output in OUT; sets backend_pid once it listens
start_fast_backend() {
	taskset -c "$2" "$1" "$3" >"$4" 2>&1 &
	backend_pid=$!
	for _ in $(seq 1 50); do
		grep -q listening "$4" && return 0
		kill -0 "$backend_pid" 2>/dev/null || break
		sleep 0.1
	done
	die "fast_backend $3 did not start: $(cat "$4")"
}
