#!/usr/bin/env bash
# make bench: the whole project end to end against what its users run today,
# on one machine, in one run, in front of the same three backends, with the
# same certificate. Writes docs/performance.md and docs/performance.png; raw
# results stay under BUILD/bench-report/. Method: docs/performance.md.
#
#   (a) nginx   Debian's nginx, the reference server block (80 and 443 ssl,
#               proxy_pass to an upstream of three, the four proxy headers)
#   (b) haproxy Debian's HAProxy with the equivalent configuration
#   (c) lbtls+xdp  this project: the lbctl agent (XDP native on the
#               balancer's veth, sk_lookup) and lbtls registered with it
#   (d) lbtls   lbtls alone (SO_REUSEPORT listener, no XDP, no agent), to
#               show the cost of native XDP on a veth by itself
#   (e) lbtls-xdp-boringssl  as (c), lbtls built with BoringSSL
#               (make TLS=boringssl, BORINGSSL_BUILD_DIR)
#
# Topology (made here, removed on exit): namespace lbbench-cli (the load
# generators) -- veth -- lbbench-lb (the balancer, VIP 198.18.0.100 on lo,
# three fast_backend processes on 127.0.0.1:8081..8083), and a veth port of
# the Docker network lbbench-flask (198.19.230.0/24, containers
# lbbench-website1..3 from lb-flask:1..3). One worker (one process) pinned
# to SERVER_CPU for every system; load generators and backends (the
# containers too) on CLIENT_CPU.
#
# Per round, systems alternate (a b c d a b c d ...); per system and round:
#   mem   PSS of the server's processes before and after IDLE_CONNS idle
#         keep-alive TLS connections (build/bench/idle_tls)
#   hs    wrk, "Connection: close", no resumption: a full handshake per request
#   ka    wrk, keep-alive requests
#   lat   h2load --h1 --rps, open-loop at LAT_RATE (default: half of nginx's
#         ka rate, measured first), p50/p99/p99.9 from the per-request log
#   then the same system again in front of Flask:
#   fka   wrk, keep-alive requests through to the three Flask containers
#   flat  h2load at FLASK_RATE (default: a quarter of nginx's fka rate)
# and once: build/bench/bench_xdp (make bench-xdp); after the rounds,
# tests/bench/bench_h2.sh (make bench-h2: HTTP/2 rows and the rapid-reset
# row, its own namespace, the same CPUs; H2=0 skips it).
#
# Usage: tests/bench/bench_report.sh BUILD_DIR [BORINGSSL_BUILD_DIR]
# Environment: ROUNDS (5), DURATION (5 s, hs/ka/lat), FLASK_DURATION (4 s),
# WARMUP (1 s), HS_CONNS (32), KA_CONNS (64), LAT_CONNS (32), FLASK_CONNS
# (16), LAT_RATE / FLASK_RATE (req/s; default a half / a quarter of nginx's
# measured ka / fka rate), IDLE_CONNS (9000: lbtls reserves two
# descriptors per connection, and a hard limit of 20000 holds 9936; the
# figure is given per 10k), SERVER_CPU (0), CLIENT_CPU (1), CIPHERSUITE
# (TLS_AES_128_GCM_SHA256), RETRIES (1), RETRY_BUDGET (6), SYSTEMS (all
# five, space-separated), DOCS (docs: where performance.md/.png go),
# H2 (1: run bench_h2.sh too; 0 skips it), KEEP_TMP=1.
#
# Exits non-zero, loudly, when a tool, binary or image is missing, a server
# does not start or does not answer 200 from the backend, wrk or h2load
# report errors, or requests did not reach the backends. A latency run that
# achieved less than 97 % of its offered rate, or during which the server's
# core was busy with other work, is measured again (RETRIES, RETRY_BUDGET)
# and, if kept, counted and said so in the report. The last line printed is exactly:
#   bench: hs_ratio_vs_nginx=R hs_ratio_boringssl_vs_nginx=R ka_ratio_vs_nginx=R p99_ratio_vs_nginx=R h2_ratio_vs_nginx=R
# (h2_ratio_vs_nginx: lbtls's HTTP/2 requests per server CPU-second over
# nginx's, from bench_h2.sh; absent with H2=0)
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
FLASK_DURATION=${FLASK_DURATION:-4}
WARMUP=${WARMUP:-1}
HS_CONNS=${HS_CONNS:-32}
KA_CONNS=${KA_CONNS:-64}
LAT_CONNS=${LAT_CONNS:-32}
FLASK_CONNS=${FLASK_CONNS:-16}
LAT_RATE=${LAT_RATE:-}
FLASK_RATE=${FLASK_RATE:-}
IDLE_CONNS=${IDLE_CONNS:-9000}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
CIPHERSUITE=${CIPHERSUITE:-TLS_AES_128_GCM_SHA256}
RETRIES=${RETRIES:-1}
RETRY_BUDGET=${RETRY_BUDGET:-6}
read -r -a SYSTEMS <<<"${SYSTEMS:-nginx haproxy lbtls-xdp lbtls lbtls-xdp-boringssl}"
DOCS=${DOCS:-$root/docs}
[[ $DOCS == /* ]] || DOCS=$root/$DOCS
NAME=bench.test
NS_LB=lbbench-lb
NS_CLI=lbbench-cli
INSTANCE=lbbench
SOCK=/run/lbctl/$INSTANCE.sock
NET=lbbench-flask
FLASK_PREFIX=${FLASK_NET_PREFIX:-198.19.230}
BR_PORT=lbbench-br # root-namespace end of the balancer's bridge link
VIP=198.18.0.100
LB_ADDR=198.18.1.1
CLI_ADDR=198.18.1.10
FAST_UPS=(127.0.0.1:8081 127.0.0.1:8082 127.0.0.1:8083)
FLASK_UPS=("$FLASK_PREFIX.11:5000" "$FLASK_PREFIX.12:5000" "$FLASK_PREFIX.13:5000")
if [ -z "${DOCKER:-}" ]; then
	if [ -x /usr/bin/docker ]; then DOCKER=/usr/bin/docker; else DOCKER=docker; fi
fi

die() {
	echo "bench: FAIL: $*" >&2
	exit 1
}
say() { echo "bench: $*"; }

# --- prerequisites ----------------------------------------------------------
[ "$(id -u)" = 0 ] || die "must run as root (namespaces, XDP, containers)"
for tool in nginx haproxy wrk h2load openssl curl taskset cc ip gnuplot \
	"$DOCKER" awk sort; do
	command -v "$tool" >/dev/null || die "$tool is not installed (make deps)"
done
lbtls=$build/lbtls
lbctl_bin=$build/lbctl
for b in "$lbtls" "$lbctl_bin" "$build/bench/fast_backend" \
	"$build/bench/idle_tls" "$build/bench/bench_xdp"; do
	[ -x "$b" ] || die "$b is missing (make BUILD=${build#"$root"/} all)"
done
ncpu=$(nproc --all)
[ "$ncpu" -ge 2 ] || die "needs 2 CPUs; this machine has $ncpu"
for c in "$SERVER_CPU" "$CLIENT_CPU"; do
	[ "$c" -lt "$ncpu" ] || die "CPU $c does not exist"
done
[ "$SERVER_CPU" != "$CLIENT_CPU" ] || die "SERVER_CPU and CLIENT_CPU must differ"
"$DOCKER" info >/dev/null 2>&1 || die "the Docker engine does not answer (make docker-up)"
for v in 1 2 3; do
	"$DOCKER" image inspect "lb-flask:$v" >/dev/null 2>&1 ||
		die "image lb-flask:$v is missing (make images)"
done
for s in "${SYSTEMS[@]}"; do
	case $s in nginx | haproxy | lbtls-xdp | lbtls) ;;
	lbtls-xdp-boringssl)
		blbtls=$bbuild/lbtls
		[ -x "$blbtls" ] || die "$blbtls is missing (make TLS=boringssl $blbtls)"
		"$blbtls" -V | grep -q 'TLS library BoringSSL' ||
			die "$blbtls is not a BoringSSL build: $("$blbtls" -V)"
		;;
	*) die "unknown system '$s'" ;;
	esac
done
hz=$(getconf CLK_TCK)
# servers and idle_tls need IDLE_CONNS descriptors and some; raise the soft
# limit to the hard one (root in a container may not raise the hard one)
ulimit -Hn 1048576 2>/dev/null
ulimit -n "$(ulimit -Hn)" || die "cannot raise RLIMIT_NOFILE"
[ "$(ulimit -n)" -ge $((IDLE_CONNS + 2000)) ] ||
	die "RLIMIT_NOFILE is $(ulimit -n); IDLE_CONNS=$IDLE_CONNS needs $((IDLE_CONNS + 2000))"

out=$build/bench-report
rm -rf "$out"
mkdir -p "$out" "$DOCS" || die "cannot create $out"
tmp=$(mktemp -d /tmp/lbbench.XXXXXX)
results=$out/results.tsv
: >"$results"
t_start=$(date +%s)

# --- cleanup ----------------------------------------------------------------
srv_pid=
agent_pid=
load_pid=
idle_pid=
backend_pids=()
made_net=0
made_ns=0
cleanup() {
	local p v
	trap - EXIT INT TERM
	[ -n "$load_pid" ] && kill -KILL "$load_pid" 2>/dev/null
	[ -n "$idle_pid" ] && kill -KILL "$idle_pid" 2>/dev/null
	kill_tree "$srv_pid"
	kill_tree "$agent_pid"
	for p in "${backend_pids[@]}"; do kill_tree "$p"; done
	if [ -d /sys/fs/bpf/$INSTANCE ] && [ "$made_ns" = 1 ]; then
		"$lbctl_bin" --instance $INSTANCE --netns $NS_LB unload >/dev/null 2>&1
	fi
	rm -f "$SOCK" /run/lbctl/$INSTANCE.lock
	if [ "$made_ns" = 1 ]; then
		ip link del $BR_PORT 2>/dev/null
		ip netns del $NS_CLI 2>/dev/null
		ip netns del $NS_LB 2>/dev/null
	fi
	if [ "$made_net" = 1 ]; then
		for v in 1 2 3; do
			"$DOCKER" rm -f "lbbench-website$v" >/dev/null 2>&1
		done
		"$DOCKER" network rm $NET >/dev/null 2>&1
	fi
	wait 2>/dev/null
	if [ "${KEEP_TMP:-0}" = 1 ]; then
		echo "bench: kept $tmp" >&2
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'echo "bench: interrupted" >&2; exit 130' INT TERM

# (not for background jobs: "in_lb cmd &" forks a subshell, whose pid $! is)
in_lb() { ip netns exec $NS_LB "$@"; }
in_cli() { ip netns exec $NS_CLI "$@"; }
lbctl() { "$lbctl_bin" --instance $INSTANCE --netns $NS_LB "$@"; }

# --- leftovers of an interrupted run (only our own names) -------------------
for v in 1 2 3; do
	if "$DOCKER" container inspect "lbbench-website$v" >/dev/null 2>&1; then
		say "removing a leftover container lbbench-website$v"
		"$DOCKER" rm -f "lbbench-website$v" >/dev/null
	fi
done
if ip netns list | grep -qw $NS_LB; then
	say "removing leftover namespaces $NS_LB, $NS_CLI"
	"$lbctl_bin" --instance $INSTANCE --netns $NS_LB unload >/dev/null 2>&1
	ip netns del $NS_LB
fi
ip netns list | grep -qw $NS_CLI && ip netns del $NS_CLI
ip link del $BR_PORT 2>/dev/null
"$DOCKER" network inspect $NET >/dev/null 2>&1 && "$DOCKER" network rm $NET >/dev/null
# our /24 must be nobody else's
for n in $("$DOCKER" network ls -q); do
	"$DOCKER" network inspect -f '{{range .IPAM.Config}}{{.Subnet}} {{end}}' "$n" |
		grep -q "^$FLASK_PREFIX\.\| $FLASK_PREFIX\." &&
		die "$FLASK_PREFIX.0/24 is used by Docker network $n; set FLASK_NET_PREFIX"
done

# --- backends: three Flask containers, three fast_backends ------------------
"$DOCKER" network create --driver bridge --subnet "$FLASK_PREFIX.0/24" \
	--ip-range "$FLASK_PREFIX.0/25" --gateway "$FLASK_PREFIX.1" $NET \
	>/dev/null 2>"$tmp/docker.err" || die "docker network create: $(cat "$tmp/docker.err")"
made_net=1
for v in 1 2 3; do
	"$DOCKER" run -d --name "lbbench-website$v" --network $NET \
		--ip "$FLASK_PREFIX.1$v" --cpuset-cpus "$CLIENT_CPU" \
		--read-only --cap-drop ALL --security-opt no-new-privileges:true \
		--label xdp-tls-lb.bench=1 "lb-flask:$v" >/dev/null 2>"$tmp/docker.err" ||
		die "docker run lb-flask:$v: $(cat "$tmp/docker.err")"
done

# --- topology ----------------------------------------------------------------
made_ns=1
br=br-$("$DOCKER" network inspect -f '{{.Id}}' $NET | cut -c1-12)
{
	ip netns add $NS_LB && ip netns add $NS_CLI &&
		ip -n $NS_LB link add lbbh type veth peer name lbbc netns $NS_CLI &&
		ip -n $NS_LB link set lo up &&
		ip -n $NS_LB addr add $VIP/32 dev lo &&
		ip -n $NS_LB addr add $LB_ADDR/24 dev lbbh &&
		ip -n $NS_LB link set lbbh up &&
		ip -n $NS_CLI link set lo up &&
		ip -n $NS_CLI addr add $CLI_ADDR/24 dev lbbc &&
		ip -n $NS_CLI link set lbbc up &&
		ip -n $NS_CLI route add 198.18.0.0/24 via $LB_ADDR &&
		ip link add $BR_PORT type veth peer name lbbup netns $NS_LB &&
		ip link set $BR_PORT master "$br" up &&
		ip -n $NS_LB addr add "$FLASK_PREFIX.200/24" dev lbbup &&
		ip -n $NS_LB link set lbbup up
} 2>"$tmp/ip.err" || die "cannot build the topology: $(cat "$tmp/ip.err")"
# The client closes first (10k idle connections at a time, wrk), so its
# namespace collects tens of thousands of TIME_WAIT sockets within a round;
# with the default 28k ephemeral ports, connect() then spends its time
# looking for a free port and the client, not the server, sets the
# handshake rate (seen: 265 handshakes/s, server 15 % busy). Both settings
# are this namespace's own.
ip netns exec $NS_CLI sysctl -q -w net.ipv4.tcp_tw_reuse=1 \
	net.ipv4.ip_local_port_range="10000 65000" 2>"$tmp/ip.err" ||
	die "cannot set the client namespace's port range: $(cat "$tmp/ip.err")"
in_cli ping -q -c1 -W2 $LB_ADDR >/dev/null || die "$NS_CLI cannot reach $LB_ADDR"

for i in 0 1 2; do
	ip netns exec $NS_LB taskset -c "$CLIENT_CPU" "$build/bench/fast_backend" "${FAST_UPS[$i]}" \
		>"$tmp/backend$i.out" 2>&1 &
	backend_pids+=($!)
done
for i in 0 1 2; do
	for _ in $(seq 1 50); do
		grep -q listening "$tmp/backend$i.out" && break
		sleep 0.1
	done
	grep -q listening "$tmp/backend$i.out" ||
		die "fast_backend ${FAST_UPS[$i]} did not start: $(cat "$tmp/backend$i.out")"
done
for v in 1 2 3; do # the image's healthcheck has a 20 s start period
	ok=0
	for _ in $(seq 1 300); do
		if in_lb curl -sf --max-time 2 "http://$FLASK_PREFIX.1$v:5000/healthz" >/dev/null; then
			ok=1
			break
		fi
		sleep 0.1
	done
	[ "$ok" = 1 ] || die "lbbench-website$v ($FLASK_PREFIX.1$v:5000) does not answer: $("$DOCKER" logs --tail 5 "lbbench-website$v" 2>&1)"
done

backend_reqs() { # sum of the three fast_backends' request counters
	local i n sum=0
	for i in 0 1 2; do
		n=$(grep -c 'conns=' "$tmp/backend$i.out")
		kill -USR1 "${backend_pids[$i]}" || die "fast_backend $i died"
		for _ in $(seq 1 50); do
			[ "$(grep -c 'conns=' "$tmp/backend$i.out")" -gt "$n" ] && break
			sleep 0.02
		done
		sum=$((sum + $(grep 'conns=' "$tmp/backend$i.out" | tail -1 |
			sed -E 's/.*reqs=([0-9]+).*/\1/')))
	done
	echo "$sum"
}

# --- certificate and configurations --------------------------------------------
make_cert "$tmp" "$NAME"
cat "$tmp/fullchain.pem" "$tmp/privkey.pem" >"$tmp/haproxy.pem"
echo '<html><body><h1>50x: the backend is not available</h1></body></html>' >"$tmp/50x.html"
printf 'HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n%s\n' \
	"$(cat "$tmp/50x.html")" >"$tmp/50x.http"

fill() { # fill TEMPLATE OUT UP1 UP2 UP3
	sed -e "s|@TMP@|$tmp|g" -e "s|@NAME@|$NAME|g" -e "s|@VIP@|$VIP|g" \
		-e "s|@CIPHERSUITE@|$CIPHERSUITE|g" -e "s|@SOCK@|$SOCK|g" \
		-e "s|@IFACE@|lbbh|g" -e "s|@UP1@|$3|g" -e "s|@UP2@|$4|g" \
		-e "s|@UP3@|$5|g" "$1" >"$2"
	! grep -q '@[A-Z_0-9]*@' "$2" || die "$2: unfilled placeholder"
}
for be in fast flask; do
	if [ $be = fast ]; then ups=("${FAST_UPS[@]}"); else ups=("${FLASK_UPS[@]}"); fi
	fill "$conf/report-nginx.conf.in" "$tmp/nginx-$be.conf" "${ups[@]}"
	fill "$conf/report-haproxy.cfg.in" "$tmp/haproxy-$be.cfg" "${ups[@]}"
	fill "$conf/report-lbtls.yaml.in" "$tmp/lbtls-$be.yaml" "${ups[@]}"
	cp "$tmp/lbtls-$be.yaml" "$tmp/lbtls-xdp-$be.yaml"
	printf 'listen:\n  https: ["%s:443"]\n  http: ["%s:80"]\n' $VIP $VIP >>"$tmp/lbtls-$be.yaml"
	printf 'agent:\n  socket: %s\n' "$SOCK" >>"$tmp/lbtls-xdp-$be.yaml"
	in_lb nginx -t -q -c "$tmp/nginx-$be.conf" -p "$tmp" 2>"$tmp/check.err" ||
		die "nginx -t: $(cat "$tmp/check.err")"
	haproxy -c -q -f "$tmp/haproxy-$be.cfg" >"$tmp/check.err" 2>&1 ||
		die "haproxy -c: $(cat "$tmp/check.err")"
	for f in lbtls lbtls-xdp; do
		"$lbtls" -t -c "$tmp/$f-$be.yaml" >"$tmp/check.err" 2>&1 ||
			die "lbtls -t $f-$be.yaml: $(cat "$tmp/check.err")"
	done
done
fill "$conf/report-agent.yaml.in" "$tmp/agent.yaml" x x x
build_noresume_shim "$tmp/noresume.so"
# The load generators offer CIPHERSUITE alone: the OpenSSL servers are
# restricted to it, BoringSSL enables all TLS 1.3 suites and takes the
# client's first (wrk's and h2load's OpenSSL would put AES-256 first).
client_cnf "$tmp/client.cnf" "$CIPHERSUITE"

# --- systems -----------------------------------------------------------------
# start_system SYSTEM BACKEND: srv_pid (and agent_pid) set; answers 200
start_system() {
	local s=$1 be=$2 code p up body bin log=$1
	[[ $s != lbtls* ]] || log=lbtls
	case $s in
	nginx)
		ip netns exec $NS_LB taskset -c "$SERVER_CPU" nginx -c "$tmp/nginx-$be.conf" -p "$tmp" \
			>>"$tmp/nginx.out" 2>&1 &
		;;
	haproxy)
		ip netns exec $NS_LB taskset -c "$SERVER_CPU" haproxy -db -f "$tmp/haproxy-$be.cfg" \
			>>"$tmp/haproxy.out" 2>&1 &
		;;
	lbtls)
		ip netns exec $NS_LB taskset -c "$SERVER_CPU" "$lbtls" -c "$tmp/lbtls-$be.yaml" \
			--workers 1 >>"$tmp/lbtls.out" 2>&1 &
		;;
	lbtls-xdp | lbtls-xdp-boringssl)
		bin=$lbtls
		[ "$s" = lbtls-xdp ] || bin=$blbtls
		taskset -c "$SERVER_CPU" "$lbctl_bin" --instance $INSTANCE --netns $NS_LB \
			agent -c "$tmp/agent.yaml" >>"$tmp/agent.out" 2>&1 &
		agent_pid=$!
		for _ in $(seq 1 100); do
			[ -S "$SOCK" ] && break
			kill -0 "$agent_pid" 2>/dev/null ||
				die "the lbctl agent exited at start: $(tail -5 "$tmp/agent.out")"
			sleep 0.1
		done
		[ -S "$SOCK" ] || die "the lbctl agent made no socket $SOCK: $(tail -5 "$tmp/agent.out")"
		ip netns exec $NS_LB taskset -c "$SERVER_CPU" "$bin" -c "$tmp/lbtls-xdp-$be.yaml" \
			--workers 1 >>"$tmp/lbtls.out" 2>&1 &
		;;
	esac
	srv_pid=$!
	if [[ $s == lbtls-xdp* ]]; then
		up=0
		for _ in $(seq 1 100); do
			up=$(lbctl worker list "$VIP:443" 2>/dev/null | grep -c ' up ')
			[ "$up" -ge 1 ] && break
			sleep 0.1
		done
		[ "$up" -ge 1 ] || die "lbtls did not register with the agent: $(tail -5 "$tmp/agent.out" "$tmp/lbtls.out")"
		ip -n $NS_LB link show lbbh | grep -q 'xdp' ||
			die "XDP is not attached to lbbh with the agent running"
	fi
	for _ in $(seq 1 100); do
		code=$(in_cli curl -sk --resolve "$NAME:443:$VIP" -o "$tmp/body" \
			-w '%{http_code}' "https://$NAME/")
		[ "$code" = 200 ] && break
		kill -0 "$srv_pid" 2>/dev/null ||
			die "$s exited at start: $(tail -5 "$tmp/$log.out")"
		sleep 0.1
	done
	[ "$code" = 200 ] || die "$s ($be): https://$NAME/ answered '$code', not 200: $(tail -5 "$tmp/$log.out")"
	if [ "$be" = fast ]; then
		grep -q '^Hello, world$' "$tmp/body" ||
			die "$s: the answer is not the fast backend's: $(head -c 200 "$tmp/body")"
	else # round robin: the three versions answer three requests in a row
		body=$(cat "$tmp/body")
		for _ in 1 2; do
			body+=$(in_cli curl -sk --resolve "$NAME:443:$VIP" "https://$NAME/")
		done
		for v in 1 2 3; do
			grep -Eq "Flask Application - Version ?$v\b" <<<"$body" ||
				die "$s: Flask version $v did not answer in 3 requests: $body"
		done
	fi
	code=$(in_cli curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "http://$NAME/x?q=1" --resolve "$NAME:80:$VIP")
	[[ $code == "301 https://$NAME/x?q=1" ]] ||
		die "$s: http://$NAME/x?q=1 answered '$code', not a 301 to https"
	for p in $(descendants "$srv_pid") ${agent_pid:+$(descendants "$agent_pid")}; do
		taskset -pc "$p" 2>/dev/null | grep -q ": $SERVER_CPU\$" ||
			die "$s: process $p is not pinned to CPU $SERVER_CPU"
	done
	if [[ $s != lbtls-xdp* ]] && ip -n $NS_LB link show lbbh | grep -q xdp; then
		die "$s: XDP is attached to lbbh; it must run without"
	fi
}
stop_system() {
	kill_tree "$srv_pid"
	srv_pid=
	if [ -n "$agent_pid" ]; then
		kill_tree "$agent_pid"
		agent_pid=
		lbctl unload >"$tmp/unload.out" 2>&1 ||
			die "lbctl unload: $(cat "$tmp/unload.out")"
		rm -f "$SOCK"
	fi
}
srv_cpu() { # server CPU ticks; for lbtls-xdp the agent's too
	if [ -n "$agent_pid" ]; then cpu_ticks "$srv_pid" "$agent_pid"; else cpu_ticks "$srv_pid"; fi
}
srv_pss() {
	if [ -n "$agent_pid" ]; then pss_kib "$srv_pid" "$agent_pid"; else pss_kib "$srv_pid"; fi
}

check_tls() { # check_tls SYSTEM: protocol, cipher, group, signature, cert
	local s=$1 o
	o=$(in_cli env OPENSSL_CONF="$tmp/client.cnf" openssl s_client -connect "$VIP:443" \
		-servername "$NAME" </dev/null 2>&1)
	grep -q "New, TLSv1.3, Cipher is $CIPHERSUITE" <<<"$o" ||
		die "$s: not TLS 1.3 with $CIPHERSUITE: $(grep -E '^(New|Cipher)' <<<"$o")"
	grep -q "Server Temp Key: X25519" <<<"$o" || die "$s: key exchange is not X25519"
	grep -q "Peer signature type: ECDSA" <<<"$o" || die "$s: not an ECDSA signature"
	grep -q "subject=CN = $NAME" <<<"$o" || die "$s: not the benchmark certificate"
}

syn_steered() { # SYNs XDP passed on to sk_lookup: new and retransmitted
	lbctl stats --json 2>/dev/null | grep -oE '"syn_(new|retrans)": *[0-9]*' |
		grep -o '[0-9]*$' | awk '{ s += $1 } END { print s + 0 }'
}

# --- measurement ----------------------------------------------------------------
rec() { printf '%s\t%s\t%s\t%s\t%s\n' "$round" "$cur" "$1" "$2" "$3" >>"$tmp/pending"; }

# snapshot before / after a measured run
snap0() {
	c0=$(srv_cpu)
	k0=$(core_busy "$SERVER_CPU")
	a0=$(all_busy)
	t0=$(date +%s.%N)
}
snap1() {
	t1=$(date +%s.%N)
	c1=$(srv_cpu)
	k1=$(core_busy "$SERVER_CPU")
	a1=$(all_busy)
	kill -0 "$srv_pid" 2>/dev/null || die "$cur died during the $scen run"
	[ -z "$agent_pid" ] || kill -0 "$agent_pid" 2>/dev/null ||
		die "the agent died during the $scen run"
}
# record CPU figures for N requests: µs of server CPU per request, per
# CPU-second, server busy, machine CPU (both cores) per request
rec_cpu() {
	local n=$1 cpu_s
	cpu_s=$(awk -v t=$((c1 - c0)) -v hz="$hz" 'BEGIN {print t / hz}')
	srvbusy=$(awk -v c="$cpu_s" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", 100 * c / (b - a)}')
	corebusy=$(awk -v k=$((k1 - k0)) -v hz="$hz" -v a="$t0" -v b="$t1" \
		'BEGIN {printf "%.0f", 100 * k / hz / (b - a)}')
	rec "$scen" us "$(awk -v c="$cpu_s" -v n="$n" 'BEGIN {printf "%.2f", 1e6 * c / n}')"
	rec "$scen" ops "$(awk -v c="$cpu_s" -v n="$n" 'BEGIN {printf "%.0f", (c > 0 ? n / c : 0)}')"
	rec "$scen" busy "$srvbusy"
	rec "$scen" mus "$(awk -v t=$((a1 - a0)) -v hz="$hz" -v n="$n" 'BEGIN {printf "%.2f", 1e6 * t / hz / n}')"
	cpu_line=$(printf 'server CPU %.2f s (%s%% of a core; core %s %s%% busy)' "$cpu_s" "$srvbusy" "$SERVER_CPU" "$corebusy")
	foreign_run=0
	short_run=0
	# not for Flask: the bridge to the containers and dockerd's log
	# handling of gunicorn's access log run on any core, uncharged
	if [ "${scen#f}" = "$scen" ] && [ $((corebusy - srvbusy)) -gt 10 ]; then
		echo "bench: WARNING: CPU $SERVER_CPU was ${corebusy}% busy but the server used ${srvbusy}%: other load on the server's core" >&2
		foreign_run=1
	fi
}

run_wrk() { # run_wrk SECONDS OUTFILE [resume]: $scen against $cur
	local secs=$1 o=$2 preload=$tmp/noresume.so args=(-t1 --latency --timeout 5s)
	[ "${3:-}" = resume ] && preload=
	case $scen in
	hs) args+=(-c "$HS_CONNS" -H 'Connection: close') ;;
	ka) args+=(-c "$KA_CONNS") ;;
	fka) args+=(-c "$FLASK_CONNS") ;;
	esac
	ip netns exec $NS_CLI env OPENSSL_CONF="$tmp/client.cnf" LD_PRELOAD="$preload" taskset -c "$CLIENT_CPU" wrk "${args[@]}" \
		-d "${secs}s" "https://$VIP/" >"$o" 2>&1 &
	load_pid=$!
	wait "$load_pid"
	local rc=$?
	load_pid=
	[ "$rc" -eq 0 ] || die "$cur $scen: wrk exited $rc: $(cat "$o")"
}

measure_wrk() { # hs, ka, fka
	local o=$tmp/wrk.$cur.$scen.$round secs=$DURATION b0 b1 s0 s1
	local reqs rps p99 non2xx errs ce re we te
	[ "$scen" = fka ] && secs=$FLASK_DURATION
	run_wrk "$WARMUP" "$o.warmup"
	[ "$scen" = fka ] || b0=$(backend_reqs)
	[[ $cur == lbtls-xdp* ]] && s0=$(syn_steered)
	snap0
	run_wrk "$secs" "$o"
	snap1
	[ "$scen" = fka ] || b1=$(backend_reqs)
	reqs=$(sed -nE 's/^ *([0-9]+) requests in .*/\1/p' "$o")
	rps=$(sed -nE 's/^Requests\/sec: *([0-9.]+).*/\1/p' "$o")
	p99=$(awk '$1 == "99%" {print $2}' "$o")
	non2xx=$(sed -nE 's/^ *Non-2xx or 3xx responses: *([0-9]+).*/\1/p' "$o")
	non2xx=${non2xx:-0}
	errs=$(sed -nE 's/^ *Socket errors: connect ([0-9]+), read ([0-9]+), write ([0-9]+), timeout ([0-9]+).*/\1 \2 \3 \4/p' "$o")
	read -r ce re we te <<<"${errs:-0 0 0 0}"
	[ -n "$reqs" ] && [ "$reqs" -gt 0 ] && [ -n "$p99" ] ||
		die "$cur $scen: no figures from wrk: $(cat "$o")"
	rec "$scen" rps "$rps"
	rec "$scen" p99 "$(to_ms "$p99")"
	rec_cpu "$reqs"
	printf 'bench: round %d %-4s %-9s %9.0f req/s  p99 %7s  %s' "$round" "$scen" \
		"$cur" "$rps" "$p99" "$cpu_line"
	[ "$scen" = fka ] || printf '  %s req at the backends' $((b1 - b0))
	printf '  non-2xx %s  socket errors connect %s read %s write %s timeout %s' \
		"$non2xx" "$ce" "$re" "$we" "$te"
	if [[ $cur == lbtls-xdp* ]]; then
		s1=$(syn_steered)
		printf '  SYNs steered by XDP %s' $((s1 - s0))
		[ "$scen" != hs ] || [ $((s1 - s0)) -ge "$reqs" ] ||
			die "$cur hs: XDP steered $((s1 - s0)) SYNs for $reqs new connections"
	fi
	echo
	[ "$non2xx" -eq 0 ] || die "$cur $scen: $non2xx answers were not 2xx"
	[ $((ce + we + te)) -eq 0 ] ||
		die "$cur $scen: socket errors (connect $ce, write $we, timeout $te)"
	[ "$re" -le $((reqs / 1000)) ] || die "$cur $scen: $re read errors for $reqs requests"
	[ "$scen" = fka ] || [ $((b1 - b0)) -ge "$reqs" ] ||
		die "$cur $scen: wrk counted $reqs answers but the backends only $((b1 - b0))"
}

# open-loop latency at a fixed offered rate: h2load --rps per connection
measure_lat() { # lat, flat
	local rate=$LAT_RATE conns=$LAT_CONNS secs=$DURATION o lg b0 b1
	local total ok fail err tmo s2xx rps got
	if [ "$scen" = flat ]; then
		rate=$FLASK_RATE conns=$FLASK_CONNS secs=$FLASK_DURATION
	fi
	o=$tmp/h2load.$cur.$scen.$round
	lg=$o.log
	[ "$scen" = flat ] || b0=$(backend_reqs)
	snap0
	ip netns exec $NS_CLI env OPENSSL_CONF="$tmp/client.cnf" taskset -c "$CLIENT_CPU" h2load --h1 -c "$conns" \
		--rps "$((rate / conns))" -n "$((rate / conns * conns * secs))" \
		--log-file "$lg" "https://$VIP/" >"$o" 2>&1 &
	load_pid=$!
	wait "$load_pid" || die "$cur $scen: h2load failed: $(tail -5 "$o")"
	load_pid=
	snap1
	[ "$scen" = flat ] || b1=$(backend_reqs)
	read -r total ok fail err tmo < <(sed -nE 's/^requests: ([0-9]+) total, [0-9]+ started, [0-9]+ done, ([0-9]+) succeeded, ([0-9]+) failed, ([0-9]+) errored, ([0-9]+) timeout.*/\1 \2 \3 \4 \5/p' "$o")
	s2xx=$(sed -nE 's/^status codes: ([0-9]+) 2xx.*/\1/p' "$o")
	rps=$(sed -nE 's/^finished in [0-9.]+[a-z]*, ([0-9.]+) req\/s.*/\1/p' "$o")
	[ -n "$total" ] && [ -n "$rps" ] || die "$cur $scen: no figures from h2load: $(cat "$o")"
	[ "$fail" = 0 ] && [ "$err" = 0 ] && [ "$tmo" = 0 ] && [ "$s2xx" = "$total" ] ||
		die "$cur $scen: h2load: $total requests, $ok succeeded, $fail failed, $err errored, $tmo timeout, $s2xx 2xx"
	# percentiles of the per-request times (3rd column, µs), excluding the
	# first second (connections being set up)
	read -r p50 p99 p999 n < <(awk -F'\t' 'NR == 1 {s = $1} $1 >= s + 1e6 && $2 == 200 {print $3}' "$lg" |
		sort -n | awk '{a[++n] = $1} END {
			if (!n) { print "nan nan nan 0"; exit }
			i50 = int(n * 0.50 + 0.999999); i99 = int(n * 0.99 + 0.999999)
			i999 = int(n * 0.999 + 0.999999)
			printf "%.3f %.3f %.3f %d\n", a[i50] / 1000, a[i99] / 1000, a[i999] / 1000, n }')
	[ "$n" -gt 100 ] || die "$cur $scen: only $n requests in h2load's log"
	got=$(awk -v r="$rps" -v t="$((rate / conns * conns))" 'BEGIN {printf "%.1f", 100 * r / t}')
	rec "$scen" offered "$((rate / conns * conns))"
	rec "$scen" achieved "$rps"
	rec "$scen" p50 "$p50"
	rec "$scen" p99 "$p99"
	rec "$scen" p999 "$p999"
	rec_cpu "$ok"
	printf 'bench: round %d %-4s %-9s offered %d req/s, achieved %.0f (%s%%)  p50 %s ms  p99 %s ms  p99.9 %s ms  %s' \
		"$round" "$scen" "$cur" "$((rate / conns * conns))" "$rps" "$got" "$p50" "$p99" "$p999" "$cpu_line"
	[ "$scen" = flat ] || printf '  %s req at the backends' $((b1 - b0))
	echo
	if ! awk -v g="$got" 'BEGIN {exit !(g >= 97)}'; then
		echo "bench: WARNING: $cur $scen: h2load achieved only $got% of the offered $((rate / conns * conns)) req/s" >&2
		foreign_run=1
		short_run=1
	fi
	[ "$scen" = flat ] || [ $((b1 - b0)) -ge "$ok" ] ||
		die "$cur $scen: h2load counted $ok answers but the backends only $((b1 - b0))"
}

measure_mem() {
	local p0 p1 o=$tmp/idle.$cur.$round alive t
	sleep 0.5
	p0=$(srv_pss)
	ip netns exec $NS_CLI taskset -c "$CLIENT_CPU" "$build/bench/idle_tls" "$VIP:443" \
		"$IDLE_CONNS" 100 "$NAME" 120 >"$o" 2>&1 &
	idle_pid=$!
	t=$(date +%s)
	while ! grep -q '^idle_tls: ready' "$o"; do
		kill -0 "$idle_pid" 2>/dev/null || die "$cur mem: idle_tls: $(tail -3 "$o")"
		sleep 0.2
	done
	t=$(($(date +%s) - t))
	sleep 1
	p1=$(srv_pss)
	kill -USR1 "$idle_pid"
	for _ in $(seq 1 50); do
		grep -q '^idle_tls: alive' "$o" && break
		sleep 0.1
	done
	alive=$(sed -nE 's/^idle_tls: alive ([0-9]+)/\1/p' "$o" | tail -1)
	kill -TERM "$idle_pid" 2>/dev/null
	wait "$idle_pid" 2>/dev/null
	idle_pid=
	[ "${alive:-0}" = "$IDLE_CONNS" ] ||
		die "$cur mem: only ${alive:-?} of $IDLE_CONNS idle connections still open"
	rec mem before "$(awk -v k="$p0" 'BEGIN {printf "%.1f", k / 1024}')"
	rec mem after "$(awk -v k="$p1" 'BEGIN {printf "%.1f", k / 1024}')"
	rec mem per10k "$(awk -v a="$p0" -v b="$p1" -v n="$IDLE_CONNS" 'BEGIN {printf "%.1f", (b - a) / 1024 * 10000 / n}')"
	printf 'bench: round %d mem  %-9s PSS %.1f -> %.1f MiB with %d idle TLS connections (opened in %d s)\n' \
		"$round" "$cur" "$(awk -v k="$p0" 'BEGIN {print k / 1024}')" \
		"$(awk -v k="$p1" 'BEGIN {print k / 1024}')" "$IDLE_CONNS" "$t"
	sleep 1 # let the server close them
}

retry_budget=$RETRY_BUDGET
foreign=0
short=0
# with_retries FUNCTION: repeat a run with other load on CPU 0, or whose
# offered rate was not achieved
with_retries() {
	local attempt
	for attempt in $(seq 0 "$RETRIES"); do
		: >"$tmp/pending"
		"$1"
		[ "$foreign_run" = 0 ] && break
		[ "$attempt" -lt "$RETRIES" ] && [ "$retry_budget" -gt 0 ] || break
		retry_budget=$((retry_budget - 1))
		say "measuring that run again"
	done
	[ "$foreign_run" = 0 ] || foreign=$((foreign + 1))
	[ "$short_run" = 0 ] || short=$((short + 1))
	cat "$tmp/pending" >>"$results"
}

# --- versions, machine --------------------------------------------------------------
v_lbtls=$(git -C "$root" describe --always --dirty 2>/dev/null || echo '?')
v_nginx=$(nginx -v 2>&1 | sed 's/.*: //')
v_haproxy=$(haproxy -v | head -1 | awk '{print $1, $3}')
v_wrk=$(wrk -v 2>&1 | head -1 | awk '{print $1, $2}')
v_h2load=$(h2load --version 2>&1 | head -1 | sed 's/^h2load //')
v_openssl=$(openssl version | awk '{print $1, $2}')
v_docker=$("$DOCKER" version --format '{{.Server.Version}}' 2>/dev/null)
cpu_model=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
kernel=$(uname -r)
say "lbtls $v_lbtls, $v_nginx, $v_haproxy, $v_openssl, $v_wrk, h2load $v_h2load, Docker $v_docker"
say "$cpu_model, $ncpu CPUs, kernel $kernel"
say "servers on CPU $SERVER_CPU (1 worker); load generators, fast_backends and containers on CPU $CLIENT_CPU"
say "$ROUNDS rounds, systems ${SYSTEMS[*]}; hs/ka/lat ${DURATION}s (+${WARMUP}s warm-up), Flask ${FLASK_DURATION}s; $IDLE_CONNS idle connections"

# --- checks, then calibration of the fixed rates ----------------------------------------
round=0
for s in "${SYSTEMS[@]}"; do
	cur=$s
	start_system "$s" fast
	check_tls "$s"
	stop_system
done
say "all systems answer 200 from the backends over TLS 1.3 / $CIPHERSUITE / X25519 / ECDSA, and 301 on port 80"

# wrk does not resume: nginx logging $ssl_session_reused says so
cur=nginx
sed -e "s|access_log off;|log_format r '\$ssl_session_reused'; access_log $tmp/resume.log r;|" \
	"$tmp/nginx-fast.conf" >"$tmp/nginx-resume.conf"
ip netns exec $NS_LB taskset -c "$SERVER_CPU" nginx -c "$tmp/nginx-resume.conf" -p "$tmp" >>"$tmp/nginx.out" 2>&1 &
srv_pid=$!
for _ in $(seq 1 50); do
	[ "$(in_cli curl -sk -o /dev/null -w '%{http_code}' "https://$VIP/")" = 200 ] && break
	sleep 0.1
done
: >"$tmp/resume.log"
scen=hs
run_wrk 2 "$tmp/wrk.resume"
stop_system
n=$(wc -l <"$tmp/resume.log")
r=$(grep -c '^r$' "$tmp/resume.log")
[ "$n" -gt 100 ] || die "resumption check: only $n connections logged"
[ "$r" -eq 0 ] || die "resumption check: $r of $n wrk connections resumed a TLS session"
say "resumption check: $n wrk connections with 'Connection: close', $r resumed"

calibrate() { # calibrate BACKEND SCEN VAR: VAR = half of nginx's keep-alive rate
	local be=$1 o=$tmp/wrk.calibrate.$1 r
	scen=$2
	cur=nginx
	start_system nginx "$be"
	run_wrk "$WARMUP" "$o.warmup"
	run_wrk 5 "$o"
	stop_system
	r=$(awk '/^Requests\/sec:/ {printf "%d", $2 / 2}' "$o")
	[ -n "$r" ] || die "calibration: no figures from wrk: $(cat "$o")"
	printf -v "$3" '%s' "$r"
}
if [ -z "$LAT_RATE" ]; then
	calibrate fast ka LAT_RATE
	say "fixed rate for the latency run: $LAT_RATE req/s (half of nginx's keep-alive rate in a 5 s run)"
fi
if [ -z "$FLASK_RATE" ]; then
	calibrate flask fka FLASK_RATE
	# a quarter: gunicorn's rate moves with any other load on its core
	FLASK_RATE=$((FLASK_RATE / 2))
	say "fixed rate for the Flask latency run: $FLASK_RATE req/s (a quarter of nginx's keep-alive rate)"
fi
[ "$LAT_RATE" -ge "$LAT_CONNS" ] || die "LAT_RATE $LAT_RATE is below LAT_CONNS"
[ "$FLASK_RATE" -ge "$FLASK_CONNS" ] || die "FLASK_RATE $FLASK_RATE is below FLASK_CONNS"
LAT_RATE=$((LAT_RATE / LAT_CONNS * LAT_CONNS))
FLASK_RATE=$((FLASK_RATE / FLASK_CONNS * FLASK_CONNS))

# --- bench-xdp ----------------------------------------------------------------------
say "make bench-xdp:"
taskset -c "$SERVER_CPU" "$build/bench/bench_xdp" >"$out/bench_xdp.txt" 2>&1 ||
	die "bench_xdp failed: $(tail -5 "$out/bench_xdp.txt")"
sed 's/^/  /' "$out/bench_xdp.txt"
# shellcheck disable=SC2034 # written to meta.env by name
xdp_line=$(grep '^xdp:' "$out/bench_xdp.txt")

# --- rounds --------------------------------------------------------------------------
for round in $(seq 1 "$ROUNDS"); do
	for s in "${SYSTEMS[@]}"; do
		cur=$s
		start_system "$s" fast
		scen=mem
		: >"$tmp/pending"
		measure_mem
		cat "$tmp/pending" >>"$results"
		for scen in hs ka; do with_retries measure_wrk; done
		scen=lat
		with_retries measure_lat
		stop_system
		start_system "$s" flask
		scen=fka
		with_retries measure_wrk
		scen=flat
		with_retries measure_lat
		stop_system
	done
done
cp "$tmp"/*.conf "$tmp"/*.cfg "$tmp"/*.yaml "$out/" 2>/dev/null

# --- report -------------------------------------------------------------------------
t_end=$(date +%s)
{
	for v in ROUNDS DURATION FLASK_DURATION WARMUP HS_CONNS KA_CONNS LAT_CONNS \
		FLASK_CONNS LAT_RATE FLASK_RATE IDLE_CONNS SERVER_CPU CLIENT_CPU \
		CIPHERSUITE v_lbtls v_nginx v_haproxy v_openssl v_wrk v_h2load \
		v_docker cpu_model ncpu kernel foreign short xdp_line; do
		printf '%s=%q\n' "$v" "${!v}"
	done
	printf 'systems=%q\n' "${SYSTEMS[*]}"
	printf 'date=%q\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
	printf 'elapsed=%q\n' "$((t_end - t_start))"
} >"$out/meta.env"

# --- HTTP/2 (tests/bench/bench_h2.sh, make bench-h2) ----------------------------------
# its own namespace, loopback only, the same configurations, CPUs, cipher
# suite and rounds; its tables go into performance.md (the marker line of
# conf/performance.md.in) and its ratio onto the last line. H2=0 skips it.
h2_ratio='' h2_foreign=0 h2_last='' h2_failed=''
if [ "${H2:-1}" = 1 ]; then
	h2_systems="nginx haproxy lbtls"
	[[ " ${SYSTEMS[*]} " == *" lbtls-xdp-boringssl "* ]] && h2_systems+=" lbtls-boringssl"
	say "make bench-h2 ($h2_systems):"
	ROUNDS=$ROUNDS DURATION=$DURATION WARMUP=$WARMUP SERVER_CPU=$SERVER_CPU \
		CLIENT_CPU=$CLIENT_CPU CIPHERSUITE=$CIPHERSUITE H2_SYSTEMS=$h2_systems \
		H2_OUT=$out/h2 KEEP_TMP=${KEEP_TMP:-0} "$root/tests/bench/bench_h2.sh" "$build" "$bbuild" \
		>"$out/bench_h2.txt" 2>&1
	rc=$?
	sed 's/^/  /' "$out/bench_h2.txt"
	if [ "$rc" = 0 ] && [ -s "$out/h2/results.env" ]; then
		# shellcheck source=/dev/null
		. "$out/h2/results.env"
	else # the report of the rounds first, then the failure
		h2_failed="bench_h2.sh failed (exit $rc): $(grep 'FAIL' "$out/bench_h2.txt" | tail -1)"
		echo "bench: $h2_failed" >&2
	fi
fi

"$root/tests/bench/report.sh" "$out" "$DOCS" >"$out/report.txt" || {
	cat "$out/report.txt"
	die "report.sh failed"
}
if [ -z "$h2_ratio" ]; then
	cat "$out/report.txt"
	[ -z "$h2_failed" ] || die "$h2_failed"
	exit 0
fi
last=$(tail -1 "$out/report.txt")
[[ $last == "bench: hs_ratio_vs_nginx="* ]] || die "report.sh's last line is not bench's: $last"
# performance.md: the HTTP/2 tables at the marker, the ratio on the last line
h2_md=$DOCS/performance.md
{
	[ "$h2_foreign" = 0 ] ||
		printf '%s kept HTTP/2 runs were flagged for other load on CPU %s.\n\n' "$h2_foreign" "$SERVER_CPU"
	cat "$out/h2/tables.md"
	printf '\n    %s\n' "$h2_last"
} >"$out/h2/section.md"
grep -q '^<!-- h2 tables -->$' "$h2_md" || die "$h2_md has no '<!-- h2 tables -->' line"
sed -i -e "/^<!-- h2 tables -->\$/{r $out/h2/section.md" -e 'd}' \
	-e "s|^$last\$|$last h2_ratio_vs_nginx=$h2_ratio|" "$h2_md" ||
	die "cannot write $h2_md"
head -n -1 "$out/report.txt"
echo "$last h2_ratio_vs_nginx=$h2_ratio"
