#!/usr/bin/env bash
# make bench-flood: legitimate TLS handshakes under a spoofed SYN flood, in
# network namespaces made here. Method and figures: docs/bench-shield.md, "SYN flood".
#
#   (a) nginx      Debian's nginx, the kernel's SYN cookies
#                  (net.ipv4.tcp_syncookies=1 in the balancer's namespace)
#   (b) lbtls      the lbctl agent (native XDP on the balancer's veth,
#                  sk_lookup) and one lbtls worker registered with it, as
#                  make bench runs them, with the agent's flood defence on
#   (c) lbtls_off  the same with the flood defence off (the kernel's SYN
#                  cookies stay on, as for nginx)
#
# Topology (made here, removed on exit): namespace lbflood-cli -- veth
# lbflc/lbflh -- lbflood-lb (the balancer: VIP 198.18.0.100 and
# fd00:198:18::100 on lo, one fast_backend on 127.0.0.1). No namespace has a
# default route. The legitimate clients (build/bench/flood_client) use NSRC
# source addresses 198.18.32.10, 198.18.33.10, ... (one per /24, as many
# clients would); the flood (build/bench/flood_gen -x: XDP live frames
# redirected out of lbflc, see below) comes from random sources in
# 198.19.0.0/16 (IPv6: fd00:198:18:f000::/52).
# The balancer routes those ranges back over the veth, so every SYN-ACK to
# a spoofed source, the kernel's as XDP's (XDP_TX), costs the balancer what
# sending it costs, and a small XDP program on lbflc drops it on arrival
# (the client namespace forwards nothing either).
#
# CPUs: the server (nginx, or the agent and lbtls) on SERVER_CPU; the
# clients, the generator and the backend on CLIENT_CPU. On a veth the
# receive work runs where the sender sends, so both veth ends get NAPI (an
# XDP program: the agent's on lbflh, an XDP_PASS program for nginx, the
# drop program on lbflc) in threaded mode, the NAPI thread of lbflh pinned
# to SERVER_CPU and that of lbflc to CLIENT_CPU: XDP, the kernel's SYN
# handling and SYN cookies all run on the server's CPU, as they would on a
# NIC whose interrupts go to it. The NAPI thread of lbflh runs SCHED_FIFO
# (NAPI_SCHED=fifo): a NIC's receive work runs in softirq on its
# interrupt, before the interrupted process gets its core back. A NAPI
# thread at the processes' priority (NAPI_SCHED=other) waits its turn
# behind the server's RSA signatures, and meanwhile the veth's ring (256
# frames, fixed) overflows and drops legitimate SYNs too, whatever XDP
# would do with them (measured: 60-120 legitimate SYN retransmits per
# flood run and a 1 s p99 connect with other, about 2 with fifo; docs/
# bench-shield.md).
#
# The same flood for every system: the generator paces itself at a rate
# set before the rounds and never waits for anyone, as a network does not:
# a frame the balancer's full ring refuses is dropped and counted, and
# frames that fell due more than 10 ms ago while the generator had no CPU
# are counted as missed, not sent late (flood_gen.c, pace()). It runs
# SCHED_FIFO (priority GEN_PRIO, 10), so that it wakes on time on the
# clients' busy core; it needs little CPU (1 to 4 % of a core at 50 k to
# 150 k pps: live frames are cheap), so the clients keep theirs. With -x
# the flood leaves in bursts of 7 to 15 ms of frames, the wall time of one
# BPF_PROG_RUN call on this kernel. Two rates, each measured in every round
# for every system: FLOOD_PPS, a rate that every system takes on this
# machine (the common rate of the last line; at 10 k pps a burst is 70 to
# 150 frames, which the 256-frame ring holds, where at 50 k pps every
# system's ring dropped half of each burst), and FLOOD_TOP_PPS: with auto,
# the generator's best on CLIENT_CPU, measured alone for 1 s before the
# rounds (rounded down to 10 k).
#
# The SYN-ACKs that the kernel sends to spoofed sources (nginx, lbtls_off,
# and lbtls outside flood mode) are dropped on lbflh's egress by a tc
# program: the server pays for making and routing them up to the device,
# and the clients' core does not pay for receiving them (veth copies every
# skb into a page before lbflc's XDP sink can drop it, about a microsecond
# each on CLIENT_CPU). Without it, the kernel's SYN-ACKs took the
# generator's CPU, so nginx got a smaller flood than lbtls at the same
# FLOOD_PPS, whose cookie SYN-ACKs (XDP_TX) reach the sink as cheap
# xdp_frames. XDP_TX frames do not pass tc egress: they still cost the
# server their veth transmit.
#
# The flood's frames (FLOOD_TX=xdp, the default) are written by an XDP
# program that BPF_PROG_RUN runs in live-frames mode and redirected out of
# lbflc: lbflh's XDP gets them as xdp_frames on pages, as a NIC driver's
# XDP does. With FLOOD_TX=packet they are sent on an AF_PACKET socket, and
# veth copies each such skb into a page of its own before lbflh's XDP sees
# it (skb_pp_cow_data()): measured with perf, that copy and the skb's
# freeing took most of the server core under the flood, our XDP program 6 %
# of it, a cost no NIC has.
#
# The certificate's key is RSA-2048 (CERT_KEY): with OpenSSL 3.0 on both
# ends, a client's side of a full TLS 1.3 handshake with an ECDSA P-256
# certificate costs about what the server's does (measured here: the client
# core 100 % busy, the server's 50 %), so the client, not the server, would
# set the rate and a flood's cost to the server would not show. An RSA
# signature costs the server 17x what its verification costs the client:
# the server's core is the bottleneck, as it must be for the ratio to mean
# "the server's capacity kept under the flood".
#
# Per round, systems alternate (a b c a b c ...); per system and round, on
# a freshly started server:
#   noflood  flood_client alone: WARMUP s, then DURATION s measured
#   flood    the same with flood_gen at FLOOD_PPS from the start to the end
#   top      the same at FLOOD_TOP_PPS
# Reported per system and rate: offered flood pps (the same for every
# system), missed by the generator, dropped by the full ring, taken; legitimate
# handshakes/s with and without the flood and their ratio, p99 connect
# time (TCP) and p99 of the whole exchange, the XDP flood counters of
# lbctl stats --json when they exist (SYN-ACKs sent by XDP = cookies sent),
# and in the balancer's namespace the deltas of TcpExtListenDrops,
# ListenOverflows, SyncookiesSent, SyncookiesRecv, SyncookiesFailed,
# TCPReqQFullDrop, and the CPU time of lbflh's NAPI thread (where XDP and
# the stack's receive run) and of the server's processes, in % of a core.
# The CPU cost per flood SYN absorbed: the NAPI thread's busy time in the
# flood run less that of the same round's run without flood, over the
# flood frames lbflh's ring took: for lbtls XDP's cookie SYN-ACK or
# rate-limited drop, for nginx and lbtls_off the kernel's own SYN-cookie
# path (plus lb_xdp passing the SYN, for lbtls_off).
# Medians, with min-max, over ROUNDS.
#
# Usage: tests/bench/bench_flood.sh BUILD_DIR
# Environment: ROUNDS (5), FLOOD_SECONDS (or DURATION; 5 s measured per run), WARMUP (1 s), CONNS (32
# legitimate connections at a time), NSRC (32 legitimate source /24s,
# 1..32), TIMEOUT_MS (5000, per legitimate connection), FLOOD_FAMILY (4, 6
# or 46: both, alternating), FLOOD_COUNT (2000000000, packets per run at
# most), FLOOD_PPS (the common rate, 10000), FLOOD_TOP_PPS (auto: the
# generator's best alone, measured before the rounds; or N), GEN_PRIO (10),
# FLOOD_TX (xdp or packet, above),
# NAPI_SCHED (fifo or other, above), SERVER_CPU (0), CLIENT_CPU (1), CIPHERSUITE
# (TLS_AES_128_GCM_SHA256), CERT_KEY (rsa2048, rsa3072 or ec256), SYSTEMS ("nginx lbtls lbtls_off"),
# FLOOD_SYN_RATE (20000), FLOOD_HOLD_MS (2000), FLOOD_COOKIES (true or false),
# FLOOD_SOURCE_RATE (200), FLOOD_SOURCE_BURST (400), FLOOD_V4_PREFIX (24),
# FLOOD_V6_PREFIX (64): the agent config's "flood:" section (docs/lbctl.md,
# "Flood defence settings"), enabled: true for (b) and false for (c),
# KEEP_TMP=1. Raw outputs: BUILD_DIR/bench-flood/.
#
# Exits non-zero, loudly, when a tool or binary is missing, a server does
# not start or does not answer 200 over TLS, or the legitimate clients get
# nothing done without a flood. A benchmark, not a test: no thresholds.
# The last line printed is exactly:
#   flood: offered_pps=N legit_ratio nginx=R lbtls=R lbtls_off=R
# at the common rate (FLOOD_PPS), after "flood_top: ..." (the same at the
# top rate) and "flood_cost: ..." (microseconds of the server's receive
# CPU per flood SYN absorbed, at the top rate).
set -u -o pipefail

build=${1:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
[[ $build == /* ]] || build=$root/$build
conf=$root/tests/bench/conf
# shellcheck source=tests/bench/lib/common.sh
. "$root/tests/bench/lib/common.sh"

ROUNDS=${ROUNDS:-5}
DURATION=${FLOOD_SECONDS:-${DURATION:-5}}
WARMUP=${WARMUP:-1}
CONNS=${CONNS:-32}
NSRC=${NSRC:-32}
TIMEOUT_MS=${TIMEOUT_MS:-5000}
FLOOD_FAMILY=${FLOOD_FAMILY:-4}
FLOOD_COUNT=${FLOOD_COUNT:-2000000000}
FLOOD_PPS=${FLOOD_PPS:-10000}
FLOOD_TOP_PPS=${FLOOD_TOP_PPS:-auto}
FLOOD_TX=${FLOOD_TX:-xdp}
GEN_PRIO=${GEN_PRIO:-10}
[[ $GEN_PRIO =~ ^[1-9][0-9]?$ ]] || die "GEN_PRIO is a SCHED_FIFO priority, 1..99"
NAPI_SCHED=${NAPI_SCHED:-fifo}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
CIPHERSUITE=${CIPHERSUITE:-TLS_AES_128_GCM_SHA256}
CERT_KEY=${CERT_KEY:-rsa2048}
FLOOD_SYN_RATE=${FLOOD_SYN_RATE:-20000}
FLOOD_HOLD_MS=${FLOOD_HOLD_MS:-2000}
FLOOD_COOKIES=${FLOOD_COOKIES:-true}
FLOOD_SOURCE_RATE=${FLOOD_SOURCE_RATE:-200}
FLOOD_SOURCE_BURST=${FLOOD_SOURCE_BURST:-400}
FLOOD_V4_PREFIX=${FLOOD_V4_PREFIX:-24}
FLOOD_V6_PREFIX=${FLOOD_V6_PREFIX:-64}
read -r -a SYSTEMS <<<"${SYSTEMS:-nginx lbtls lbtls_off}"
NAME=bench.test
NS_LB=lbflood-lb
NS_CLI=lbflood-cli
IF_LB=lbflh
IF_CLI=lbflc
INSTANCE=lbflood
SOCK=/run/lbctl/$INSTANCE.sock
VIP=198.18.0.100
VIP6=fd00:198:18::100
LB_ADDR=198.18.1.1
CLI_ADDR=198.18.1.10
LB_ADDR6=fd00:198:18:1::1
CLI_ADDR6=fd00:198:18:1::10
LEGIT_NET=198.18.32.0/19 # NSRC addresses 198.18.(32+i).10
FLOOD_SRC4=198.19.0.0/16
FLOOD_SRC6=fd00:198:18:f000::/52
NETSTAT_KEYS="TcpExtListenDrops TcpExtListenOverflows TcpExtSyncookiesSent \
TcpExtSyncookiesRecv TcpExtSyncookiesFailed TcpExtTCPReqQFullDrop"

die() {
	echo "bench-flood: FAIL: $*" >&2
	exit 1
}
say() { echo "bench-flood: $*"; }

# --- prerequisites ----------------------------------------------------------
[ "$(id -u)" = 0 ] || die "must run as root (namespaces, XDP, raw sockets)"
for tool in nginx openssl curl taskset chrt ip tc clang awk sort; do
	command -v "$tool" >/dev/null || die "$tool is not installed (make deps)"
done
lbtls=$build/lbtls
lbctl_bin=$build/lbctl
for b in "$lbtls" "$lbctl_bin" "$build/bench/fast_backend" \
	"$build/bench/flood_gen" "$build/bench/flood_client"; do
	[ -x "$b" ] || die "$b is missing (make BUILD=${build#"$root"/} all)"
done
ncpu=$(nproc --all)
[ "$ncpu" -ge 2 ] || die "needs 2 CPUs; this machine has $ncpu"
for c in "$SERVER_CPU" "$CLIENT_CPU"; do
	[ "$c" -lt "$ncpu" ] || die "CPU $c does not exist"
done
[ "$SERVER_CPU" != "$CLIENT_CPU" ] || die "SERVER_CPU and CLIENT_CPU must differ"
for s in "${SYSTEMS[@]}"; do
	case $s in nginx | lbtls | lbtls_off) ;; *) die "unknown system '$s'" ;; esac
done
case $NAPI_SCHED in fifo | other) ;; *) die "NAPI_SCHED is fifo or other" ;; esac
case $FLOOD_COOKIES in true | false) ;; *) die "FLOOD_COOKIES is true or false" ;; esac
case $FLOOD_TX in xdp) flood_tx=(-x) ;; packet) flood_tx=() ;; *) die "FLOOD_TX is xdp or packet" ;; esac
case $FLOOD_FAMILY in
4) flood_dst=(-4 "$VIP") ;;
6) flood_dst=(-6 "$VIP6") ;;
46) flood_dst=(-4 "$VIP" -6 "$VIP6") ;;
*) die "FLOOD_FAMILY is 4, 6 or 46" ;;
esac
{ [ "$NSRC" -ge 1 ] && [ "$NSRC" -le 32 ]; } || die "NSRC is 1..32"
[[ $FLOOD_PPS =~ ^[1-9][0-9]*$ ]] || die "FLOOD_PPS is a rate in pps (more than 0), not '$FLOOD_PPS'"
[[ $FLOOD_TOP_PPS == auto || $FLOOD_TOP_PPS =~ ^[1-9][0-9]*$ ]] ||
	die "FLOOD_TOP_PPS is auto or a rate in pps, not '$FLOOD_TOP_PPS'"
# the generator's hard cap is 60 s: the flood covers the client's run and
# the time its last connections may take
flood_secs=$((WARMUP + DURATION + (TIMEOUT_MS + 999) / 1000 + 2))
[ "$flood_secs" -le 60 ] || die "WARMUP + DURATION + TIMEOUT_MS/1000 + 2 must be at most 60 s"

out=$build/bench-flood
rm -rf "$out"
mkdir -p "$out" || die "cannot create $out"
tmp=$(mktemp -d /tmp/lbflood.XXXXXX)
results=$out/results.tsv
: >"$results"
t_start=$(date +%s)

# --- cleanup ----------------------------------------------------------------
srv_pid=
agent_pid=
backend_pid=
gen_pid=
cli_pid=
made_ns=0
cleanup() {
	trap - EXIT INT TERM
	[ -n "$gen_pid" ] && kill -KILL "$gen_pid" 2>/dev/null
	[ -n "$cli_pid" ] && kill -KILL "$cli_pid" 2>/dev/null
	kill_tree "$srv_pid"
	kill_tree "$agent_pid"
	kill_tree "$backend_pid"
	if [ "$made_ns" = 1 ]; then
		if [ -d /sys/fs/bpf/$INSTANCE ]; then
			"$lbctl_bin" --instance $INSTANCE --netns $NS_LB unload >/dev/null 2>&1 ||
				echo "bench-flood: WARNING: lbctl unload failed; /sys/fs/bpf/$INSTANCE is left" >&2
		fi
		ip netns del $NS_CLI 2>/dev/null
		ip netns del $NS_LB 2>/dev/null
	fi
	rm -f "$SOCK" /run/lbctl/$INSTANCE.lock
	wait 2>/dev/null
	if [ "${KEEP_TMP:-0}" = 1 ]; then
		echo "bench-flood: kept $tmp" >&2
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'echo "bench-flood: interrupted" >&2; exit 130' INT TERM

in_lb() { ip netns exec $NS_LB "$@"; }
in_cli() { ip netns exec $NS_CLI "$@"; }
lbctl() { "$lbctl_bin" --instance $INSTANCE --netns $NS_LB "$@"; }

# --- leftovers of an interrupted run (only our own names) ---------------------
if ip netns list | grep -qw $NS_LB; then
	say "removing leftover namespaces $NS_LB, $NS_CLI"
	"$lbctl_bin" --instance $INSTANCE --netns $NS_LB unload >/dev/null 2>&1
	ip netns del $NS_LB
fi
ip netns list | grep -qw $NS_CLI && ip netns del $NS_CLI
[ -d /sys/fs/bpf/$INSTANCE ] && die "/sys/fs/bpf/$INSTANCE exists without its namespace; remove it by hand"
rm -f "$SOCK" /run/lbctl/$INSTANCE.lock

# --- the XDP programs of the veth ends ----------------------------------------
# pass: for nginx on lbflh, so that its veth end has NAPI as the agent's XDP
# gives it for (b) and (c). sink: on lbflc, drops what is addressed to the
# flood's source ranges (SYN-ACKs sent by XDP to spoofed sources), passes
# the rest. Both are built here (no header: constants written out).
cat >"$tmp/flood_xdp.c" <<'EOC'
#define SEC(s) __attribute__((section(s), used))
typedef unsigned char u8;
typedef unsigned int u32;
struct xdp_md { u32 data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex; };
#ifdef SINK
/* IPv4 dst in 198.19.0.0/16, IPv6 dst in fd00:198:18:f000::/52 */
SEC("xdp") int xdp_sink(struct xdp_md *ctx)
{
	u8 *d = (u8 *)(long)ctx->data, *end = (u8 *)(long)ctx->data_end;

	if (d + 14 + 40 > end)
		return 2;
	if (d[12] == 0x08 && d[13] == 0x00 && d[14 + 16] == 198 && d[14 + 17] == 19)
		return 1;
	if (d[12] == 0x86 && d[13] == 0xdd && d[14 + 24] == 0xfd && d[14 + 25] == 0x00 &&
	    d[14 + 26] == 0x01 && d[14 + 27] == 0x98 && d[14 + 28] == 0x00 &&
	    d[14 + 29] == 0x18 && (d[14 + 30] & 0xf0) == 0xf0)
		return 1;
	return 2;
}
#elif defined(TCSINK)
/* tc egress of lbflh: the kernel's SYN-ACKs (and RSTs) to the flood's
 * sources are dropped (TC_ACT_SHOT) once the server has made them */
struct __sk_buff { u32 pad[19], data, data_end; }; /* the uapi's first 21 words */
SEC("tc") int tc_sink(struct __sk_buff *skb)
{
	u8 *d = (u8 *)(long)skb->data, *end = (u8 *)(long)skb->data_end;

	if (d + 14 + 40 > end)
		return 0;
	if (d[12] == 0x08 && d[13] == 0x00 && d[14 + 16] == 198 && d[14 + 17] == 19)
		return 2;
	if (d[12] == 0x86 && d[13] == 0xdd && d[14 + 24] == 0xfd && d[14 + 25] == 0x00 &&
	    d[14 + 26] == 0x01 && d[14 + 27] == 0x98 && d[14 + 28] == 0x00 &&
	    d[14 + 29] == 0x18 && (d[14 + 30] & 0xf0) == 0xf0)
		return 2;
	return 0;
}
#else
SEC("xdp") int xdp_pass(struct xdp_md *ctx)
{
	return 2;
}
#endif
char _license[] SEC("license") = "GPL";
EOC
for p in PASS SINK TCSINK; do
	clang -target bpf -O2 -D$p -c "$tmp/flood_xdp.c" -o "$tmp/xdp_${p,,}.o" 2>"$tmp/clang.err" ||
		die "cannot build the veth XDP programs: $(cat "$tmp/clang.err")"
done

# --- topology ------------------------------------------------------------------
legit_addrs() { # the legitimate clients' sources, one per /24
	local i
	for i in $(seq 0 $((NSRC - 1))); do
		ip -n $NS_CLI addr add 198.18.$((32 + i)).10/32 dev $IF_CLI || return 1
	done
}
made_ns=1
{
	ip netns add $NS_LB && ip netns add $NS_CLI &&
		ip -n $NS_LB link add $IF_LB type veth peer name $IF_CLI netns $NS_CLI &&
		ip -n $NS_LB link set lo up &&
		ip -n $NS_LB addr add $VIP/32 dev lo &&
		ip -n $NS_LB addr add $VIP6/128 dev lo &&
		ip -n $NS_LB addr add $LB_ADDR/24 dev $IF_LB &&
		ip -n $NS_LB addr add $LB_ADDR6/64 dev $IF_LB nodad &&
		ip -n $NS_LB link set $IF_LB up &&
		ip -n $NS_LB route add $LEGIT_NET via $CLI_ADDR &&
		ip -n $NS_LB route add $FLOOD_SRC4 via $CLI_ADDR &&
		ip -n $NS_LB -6 route add $FLOOD_SRC6 via $CLI_ADDR6 &&
		ip -n $NS_CLI link set lo up &&
		ip -n $NS_CLI addr add $CLI_ADDR/24 dev $IF_CLI &&
		ip -n $NS_CLI addr add $CLI_ADDR6/64 dev $IF_CLI nodad &&
		legit_addrs &&
		ip -n $NS_CLI link set $IF_CLI up &&
		ip -n $NS_CLI route add 198.18.0.0/24 via $LB_ADDR &&
		ip -n $NS_CLI -6 route add fd00:198:18::/64 via $LB_ADDR6 &&
		ip -n $NS_CLI link set dev $IF_CLI xdpdrv obj "$tmp/xdp_sink.o" sec xdp &&
		tc -n $NS_LB qdisc add dev $IF_LB clsact &&
		tc -n $NS_LB filter add dev $IF_LB egress bpf da obj "$tmp/xdp_tcsink.o" sec tc
} 2>"$tmp/ip.err" || die "cannot build the topology: $(cat "$tmp/ip.err")"
for ns in $NS_LB $NS_CLI; do
	[ -z "$(ip -n "$ns" route show default)$(ip -n "$ns" -6 route show default)" ] ||
		die "namespace $ns has a default route"
done
# the kernel's SYN cookies for every system. The client closes first: many
# TIME_WAIT sockets, so a wide port range and their reuse.
{
	in_lb sysctl -q -w net.ipv4.tcp_syncookies=1 &&
		in_cli sysctl -q -w net.ipv4.tcp_tw_reuse=1 \
			net.ipv4.ip_local_port_range="10000 65000" net.ipv4.ip_forward=0 \
			net.ipv6.conf.all.forwarding=0
} 2>"$tmp/ip.err" || die "cannot set the namespaces' sysctls: $(cat "$tmp/ip.err")"
in_cli ping -q -c1 -W2 $LB_ADDR >/dev/null || die "$NS_CLI cannot reach $LB_ADDR"
lb_mac=$(in_lb cat /sys/class/net/$IF_LB/address) || die "no MAC address on $IF_LB"

# napi_pin NS DEV CPU: DEV's NAPI threaded, its thread on CPU (the NAPI
# exists while an XDP program is attached; it is made again at each attach)
napi_pin() {
	local ns=$1 dev=$2 cpu=$3 p c n=0
	[ "$(ip netns exec "$ns" cat /sys/class/net/"$dev"/threaded)" = 1 ] ||
		ip netns exec "$ns" sh -c "echo 1 >/sys/class/net/$dev/threaded" 2>"$tmp/napi.err" ||
		die "cannot make $dev's NAPI threaded: $(cat "$tmp/napi.err")"
	for p in /proc/[0-9]*; do
		c=$(cat "$p/comm" 2>/dev/null) || continue
		[[ $c == "napi/$dev-"* ]] || continue
		taskset -pc "$cpu" "${p#/proc/}" >/dev/null 2>&1 ||
			die "cannot pin $c to CPU $cpu"
		if [ "$NAPI_SCHED" = fifo ] && [ "$dev" = $IF_LB ]; then
			chrt -f -p 50 "${p#/proc/}" >/dev/null 2>&1 || die "cannot make $c SCHED_FIFO"
		fi
		n=$((n + 1))
	done
	[ "$n" -ge 1 ] || die "no NAPI thread for $dev (is an XDP program attached?)"
}
napi_check() { # napi_check DEV CPU: every NAPI thread of DEV is still on CPU
	local p c
	for p in /proc/[0-9]*; do
		c=$(cat "$p/comm" 2>/dev/null) || continue
		[[ $c == "napi/$1-"* ]] || continue
		taskset -pc "${p#/proc/}" 2>/dev/null | grep -q ": $2\$" ||
			die "$c is not on CPU $2 any more (its XDP program was attached again?)"
	done
}
napi_pin $NS_CLI $IF_CLI "$CLIENT_CPU"

# --- backend, certificate, configurations ------------------------------------------
UP=127.0.0.1:8081 # the balancer's namespace is ours: the port is free
ip netns exec $NS_LB taskset -c "$CLIENT_CPU" "$build/bench/fast_backend" "$UP" \
	>"$tmp/backend.out" 2>&1 &
backend_pid=$!
for _ in $(seq 1 50); do
	grep -q listening "$tmp/backend.out" && break
	sleep 0.1
done
grep -q listening "$tmp/backend.out" || die "fast_backend $UP did not start: $(cat "$tmp/backend.out")"

case $CERT_KEY in
rsa2048 | rsa3072) key=(-newkey "rsa:${CERT_KEY#rsa}") ;;
ec256) key=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1) ;;
*) die "CERT_KEY is rsa2048, rsa3072 or ec256" ;;
esac
openssl req -x509 "${key[@]}" -nodes -keyout "$tmp/privkey.pem" -out "$tmp/fullchain.pem" \
	-days 2 -subj "/CN=$NAME" -addext "subjectAltName=DNS:$NAME" 2>"$tmp/openssl.err" ||
	die "openssl could not make the certificate: $(cat "$tmp/openssl.err")"
fill() { # fill TEMPLATE OUT
	sed -e "s|@TMP@|$tmp|g" -e "s|@NAME@|$NAME|g" -e "s|@VIP@|$VIP|g" \
		-e "s|@VIP6@|$VIP6|g" -e "s|@CIPHERSUITE@|$CIPHERSUITE|g" \
		-e "s|@SOCK@|$SOCK|g" -e "s|@IFACE@|$IF_LB|g" -e "s|@UP@|$UP|g" \
		"$1" >"$2"
	! grep -q '@[A-Z_0-9]*@' "$2" || die "$2: unfilled placeholder"
}
fill "$conf/flood-nginx.conf.in" "$tmp/nginx.conf"
fill "$conf/flood-lbtls.yaml.in" "$tmp/lbtls.yaml"
fill "$conf/flood-agent.yaml.in" "$tmp/agent-base.yaml"
in_lb nginx -t -q -c "$tmp/nginx.conf" -p "$tmp" 2>"$tmp/check.err" ||
	die "nginx -t: $(cat "$tmp/check.err")"
"$lbtls" -t -c "$tmp/lbtls.yaml" >"$tmp/check.err" 2>&1 ||
	die "lbtls -t: $(cat "$tmp/check.err")"
flood_section() { # flood_section true|false: the agent's flood defence
	printf 'flood:\n  enabled: %s\n  cookies: %s\n  syn_rate: %s\n  hold_ms: %s\n' \
		"$1" "$FLOOD_COOKIES" "$FLOOD_SYN_RATE" "$FLOOD_HOLD_MS"
	printf '  src_rate: %s\n  src_burst: %s\n  v4_prefix: %s\n  v6_prefix: %s\n' \
		"$FLOOD_SOURCE_RATE" "$FLOOD_SOURCE_BURST" "$FLOOD_V4_PREFIX" "$FLOOD_V6_PREFIX"
}
# the agent's configs: (b) enabled: true, (c) enabled: false
{
	cat "$tmp/agent-base.yaml"
	flood_section true
} >"$tmp/agent-lbtls.yaml"
{
	cat "$tmp/agent-base.yaml"
	flood_section false
} >"$tmp/agent-lbtls_off.yaml"

# --- systems -----------------------------------------------------------------
# start_agent CONFIG: 0 when its socket is up; 1 when it exited at start
start_agent() {
	taskset -c "$SERVER_CPU" "$lbctl_bin" --instance $INSTANCE --netns $NS_LB \
		agent -c "$1" >>"$tmp/agent.out" 2>&1 &
	agent_pid=$!
	for _ in $(seq 1 100); do
		[ -S "$SOCK" ] && return 0
		if ! kill -0 "$agent_pid" 2>/dev/null; then
			wait "$agent_pid" 2>/dev/null
			agent_pid=
			return 1
		fi
		sleep 0.1
	done
	die "the lbctl agent made no socket $SOCK: $(tail -5 "$tmp/agent.out")"
}

stop_agent() {
	kill_tree "$agent_pid"
	agent_pid=
	lbctl unload >"$tmp/unload.out" 2>&1 || die "lbctl unload: $(cat "$tmp/unload.out")"
	rm -f "$SOCK"
}

# flood_check SYSTEM: what lbctl flood show reads from the running
# instance's lb_config is what SYSTEM's config asks for
flood_check() {
	local want got
	want=$(flood_section "$([ "$1" = lbtls ] && echo true || echo false)" |
		awk 'NR > 1 { sub(/:$/, "", $1); print $1, $2 }')
	got=$(lbctl flood show 2>&1) || die "lbctl flood show: $got"
	got=$(awk '$1 != "flooded" { print $1, $2 }' <<<"$got")
	[ "$got" = "$want" ] ||
		die "$1: lbctl flood show reads '${got//$'\n'/, }', not what the config asks, '${want//$'\n'/, }'"
}

# start_system SYSTEM: srv_pid (and agent_pid) set; answers 200 over TLS
start_system() {
	local s=$1 code p
	case $s in
	nginx)
		ip -n $NS_LB link set dev $IF_LB xdpdrv obj "$tmp/xdp_pass.o" sec xdp 2>"$tmp/ip.err" ||
			die "cannot attach the XDP_PASS program to $IF_LB: $(cat "$tmp/ip.err")"
		ip netns exec $NS_LB taskset -c "$SERVER_CPU" nginx -c "$tmp/nginx.conf" -p "$tmp" \
			>>"$tmp/nginx.out" 2>&1 &
		srv_pid=$!
		;;
	lbtls | lbtls_off)
		ip -n $NS_LB link show $IF_LB | grep -q xdp &&
			die "$s: an XDP program is still attached to $IF_LB"
		start_agent "$tmp/agent-$s.yaml" ||
			die "the lbctl agent exited at start ($s): $(tail -5 "$tmp/agent.out")"
		flood_check "$s"
		ip netns exec $NS_LB taskset -c "$SERVER_CPU" "$lbtls" -c "$tmp/lbtls.yaml" \
			--workers 1 >>"$tmp/lbtls.out" 2>&1 &
		srv_pid=$!
		up=0
		for _ in $(seq 1 100); do
			up=$(lbctl worker list "$VIP:443" 2>/dev/null | grep -c ' up ')
			[ "$up" -ge 1 ] && break
			kill -0 "$srv_pid" 2>/dev/null || die "lbtls exited at start: $(tail -5 "$tmp/lbtls.out")"
			sleep 0.1
		done
		[ "$up" -ge 1 ] || die "lbtls did not register with the agent: $(tail -5 "$tmp/agent.out" "$tmp/lbtls.out")"
		ip -n $NS_LB link show $IF_LB | grep -q 'xdp' ||
			die "XDP is not attached to $IF_LB with the agent running"
		;;
	esac
	napi_pin $NS_LB $IF_LB "$SERVER_CPU"
	for _ in $(seq 1 100); do
		code=$(in_cli curl -sk --max-time 2 --resolve "$NAME:443:$VIP" -o "$tmp/body" \
			-w '%{http_code}' "https://$NAME/")
		[ "$code" = 200 ] && break
		kill -0 "$srv_pid" 2>/dev/null || die "$s exited at start: $(tail -5 "$tmp/${s%_off}.out")"
		sleep 0.1
	done
	[ "$code" = 200 ] || die "$s: https://$NAME/ answered '$code', not 200"
	grep -q '^Hello, world$' "$tmp/body" ||
		die "$s: the answer is not the fast backend's: $(head -c 200 "$tmp/body")"
	code=$(in_cli curl -sk --max-time 2 -g --resolve "$NAME:443:[$VIP6]" -o /dev/null \
		-w '%{http_code}' "https://$NAME/")
	[ "$code" = 200 ] || die "$s: https://$NAME/ over IPv6 answered '$code', not 200"
	for p in $(descendants "$srv_pid") ${agent_pid:+$(descendants "$agent_pid")}; do
		taskset -pc "$p" 2>/dev/null | grep -q ": $SERVER_CPU\$" ||
			die "$s: process $p is not pinned to CPU $SERVER_CPU"
	done
	return 0
}
stop_system() {
	kill_tree "$srv_pid"
	srv_pid=
	if [ -n "$agent_pid" ]; then
		stop_agent
	else
		ip -n $NS_LB link set dev $IF_LB xdpdrv off 2>/dev/null
	fi
}

# --- counters ------------------------------------------------------------------
netstat_snap() { # [NS]: NAME VALUE lines of /proc/net/netstat (the balancer's)
	ip netns exec "${1:-$NS_LB}" cat /proc/net/netstat | awk '
		{ p = substr($1, 1, length($1) - 1) }
		p in hdr { n = split(hdr[p], h); for (i = 2; i <= n; i++) print p h[i], $i; delete hdr[p]; next }
		{ hdr[p] = $0 }'
}
# xdp_snap: "section.key value" for every number in lbctl stats --json,
# summed over the entries of an array (the VIPs); nothing without an agent
xdp_snap() {
	[ -n "$agent_pid" ] || return 0
	lbctl stats --json 2>/dev/null | awk '
		/^  "[a-z_0-9]+": / { s = $1; gsub(/[":]/, "", s) }
		/^   +"[a-z_0-9]+": -?[0-9]+,?$/ {
			k = $1; gsub(/[":]/, "", k); v = $2; sub(/,$/, "", v); sum[s "." k] += v }
		END { for (k in sum) print k, sum[k] }'
}
napi_ticks() { # napi_ticks DEV: CPU ticks of DEV's NAPI threads (XDP runs there)
	local p c f sum=0
	for p in /proc/[0-9]*; do
		c=$(cat "$p/comm" 2>/dev/null) || continue
		[[ $c == "napi/$1-"* ]] || continue
		f=$(cat "$p/stat" 2>/dev/null) || continue
		f=${f##*) }
		# shellcheck disable=SC2086
		set -- $f
		sum=$((sum + ${12} + ${13}))
	done
	echo "$sum"
}
link_snap() { # packets received by the balancer's veth end
	in_lb cat /sys/class/net/$IF_LB/statistics/rx_packets
}
# delta FILE0 FILE1 KEY: the difference of KEY; "n/a" when absent from FILE1
delta() {
	awk -v k="$3" 'FNR == NR { if ($1 == k) a = $2; next }
		$1 == k { print $2 - a; f = 1 } END { if (!f) print "n/a" }' "$1" "$2"
}
# xdp_delta KEY...: the first of the names that lbctl stats has
xdp_delta() {
	local k v
	for k in "$@"; do
		v=$(delta "$tmp/xdp0" "$tmp/xdp1" "$k")
		[ "$v" != n/a ] && break
	done
	echo "$v"
}

field() { sed -nE "s/.*[ :]$1=([^ ]+).*/\1/p" <<<"$2"; }
rec() { printf '%s\t%s\t%s\t%s\t%s\n' "$cur" "$round" "$cond" "$1" "$2" >>"$results"; }

# measure COND [PPS] (noflood | flood | top): one run of the legitimate
# clients, with a flood of PPS for flood and top
measure() {
	cond=$1
	local pps=${2:-0}
	local o=$tmp/client.$cur.$cond.$round g=$tmp/gen.$cur.$cond.$round
	local line gline k v sb0 sb1 cb0 cb1 t0 t1 l0 l1 sbusy cbusy rxpps synre xs=""
	local nt0 nt1 pt0 pt1 nbusy pbusy
	netstat_snap >"$tmp/ns0"
	netstat_snap $NS_CLI >"$tmp/cns0"
	xdp_snap >"$tmp/xdp0"
	l0=$(link_snap)
	sb0=$(core_busy "$SERVER_CPU")
	cb0=$(core_busy "$CLIENT_CPU")
	nt0=$(napi_ticks $IF_LB)
	pt0=$(cpu_ticks "$srv_pid" ${agent_pid:+"$agent_pid"})
	t0=$(date +%s.%N)
	if [ "$cond" != noflood ]; then
		ip netns exec $NS_CLI chrt -f "$GEN_PRIO" taskset -c "$CLIENT_CPU" "$build/bench/flood_gen" \
			-i $IF_CLI -m "$lb_mac" "${flood_dst[@]}" -s $FLOOD_SRC4 -S $FLOOD_SRC6 \
			-n "$FLOOD_COUNT" -t "$flood_secs" -r "$pps" "${flood_tx[@]}" >"$g" 2>&1 &
		gen_pid=$!
	fi
	ip netns exec $NS_CLI taskset -c "$CLIENT_CPU" "$build/bench/flood_client" "$VIP:443" \
		"$NAME" "$CONNS" "$DURATION" "$WARMUP" "$TIMEOUT_MS" 198.18.32.10 "$NSRC" \
		>"$o" 2>&1 &
	cli_pid=$!
	wait "$cli_pid" || die "$cur $cond: flood_client failed: $(tail -3 "$o")"
	cli_pid=
	if [ -n "$gen_pid" ]; then
		kill -INT "$gen_pid" 2>/dev/null
		wait "$gen_pid" || die "$cur: flood_gen failed: $(tail -3 "$g")"
		gen_pid=
	fi
	t1=$(date +%s.%N)
	sb1=$(core_busy "$SERVER_CPU")
	cb1=$(core_busy "$CLIENT_CPU")
	nt1=$(napi_ticks $IF_LB)
	pt1=$(cpu_ticks "$srv_pid" ${agent_pid:+"$agent_pid"})
	l1=$(link_snap)
	xdp_snap >"$tmp/xdp1"
	netstat_snap >"$tmp/ns1"
	netstat_snap $NS_CLI >"$tmp/cns1"
	kill -0 "$srv_pid" 2>/dev/null || die "$cur died during the $cond run"
	[ -z "$agent_pid" ] || kill -0 "$agent_pid" 2>/dev/null ||
		die "the agent died during the $cur $cond run"

	napi_check $IF_LB "$SERVER_CPU"

	line=$(grep '^flood_client:' "$o") || die "$cur $cond: no figures from flood_client: $(cat "$o")"
	for k in rate connect_p99 total_p99 failed timeouts opened; do
		rec "$k" "$(field "$k" "$line")"
	done
	[ "$cond" = noflood ] && [ "$(field handshakes "$line")" -eq 0 ] &&
		die "$cur: no legitimate handshake completed without a flood: $line"
	# the NAPI thread's busy share as a fraction of a core, unrounded
	napi_frac=$(awk -v k=$((nt1 - nt0)) -v hz="$hz" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.4f", k / hz / (b - a)}')
	[ "$cond" = noflood ] && napi_frac0=$napi_frac
	sbusy=$(awk -v k=$((sb1 - sb0)) -v hz="$hz" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", 100 * k / hz / (b - a)}')
	cbusy=$(awk -v k=$((cb1 - cb0)) -v hz="$hz" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", 100 * k / hz / (b - a)}')
	nbusy=$(awk -v k=$((nt1 - nt0)) -v hz="$hz" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", 100 * k / hz / (b - a)}')
	pbusy=$(awk -v k=$((pt1 - pt0)) -v hz="$hz" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", 100 * k / hz / (b - a)}')
	rxpps=$(awk -v n=$((l1 - l0)) -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", n / (b - a)}')
	# SYNs the legitimate clients had to send again (a lost SYN or
	# SYN-ACK: the veth's receive ring full, a listen queue dropping)
	synre=$(delta "$tmp/cns0" "$tmp/cns1" TcpExtTCPSynRetrans)
	rec syn_retrans "$synre"
	rec server_busy "$sbusy"
	rec client_busy "$cbusy"
	rec napi_busy "$nbusy"
	rec proc_busy "$pbusy"
	rec rx_pps "$rxpps"
	for k in $NETSTAT_KEYS; do rec "$k" "$(delta "$tmp/ns0" "$tmp/ns1" "$k")"; done
	if [ -n "$agent_pid" ]; then
		# SYN-ACKs sent by XDP = cookies sent; whichever names exist
		for k in cookies_sent:cookie_sent cookies_ok:cookie_ok cookies_bad:cookie_bad \
			rate_limited:rate_limited flood_start:flood_start; do
			v=$(xdp_delta "vips.${k%%:*}" "outcomes.${k#*:}" "outcomes.${k%%:*}")
			rec "xdp_${k%%:*}" "$v"
			xs+=" ${k%%:*} $v"
		done
	fi
	printf 'bench-flood: round %d %-9s %-7s' "$round" "$cur" "$cond"
	if [ "$cond" != noflood ]; then
		local taken secs cost
		gline=$(grep '^flood_gen:' "$g") || die "$cur: no figures from flood_gen: $(cat "$g")"
		taken=$(field pps "$gline")
		secs=$(field seconds "$gline")
		rec offered_pps "$(field offered_pps "$gline")"
		rec taken_pps "$taken"
		rec ring_dropped_pps "$(awk -v n="$(field dropped "$gline")" -v s="$secs" 'BEGIN {printf "%.0f", (s > 0 ? n / s : 0)}')"
		rec missed_pps "$(awk -v n="$(field missed "$gline")" -v s="$secs" 'BEGIN {printf "%.0f", (s > 0 ? n / s : 0)}')"
		# microseconds of NAPI per flood frame taken, over the same
		# round's run without flood
		cost=$(awk -v f="$napi_frac" -v z="${napi_frac0:-0}" -v p="$taken" \
			'BEGIN { if (p > 0) printf "%.2f", (f - z) * 1e6 / p; else print "n/a" }')
		rec syn_cost_us "$cost"
		printf ' offered %s pps (missed by the generator %s, dropped by the full ring %s, taken %s pps; NAPI %s us per flood SYN)' \
			"$(field offered_pps "$gline")" "$(field missed "$gline")" "$(field dropped "$gline")" "$taken" "$cost"
	fi
	printf ' legit %s hs/s  connect p99 %s ms  total p99 %s ms  failed %s (timeouts %s)  SYN retransmits %s  %s rx %s pps  busy: server core %s%% (NAPI of %s %s%%, %s %s%%) client core %s%%' \
		"$(field rate "$line")" "$(field connect_p99 "$line")" "$(field total_p99 "$line")" \
		"$(field failed "$line")" "$(field timeouts "$line")" "$synre" "$IF_LB" "$rxpps" "$sbusy" \
		"$IF_LB" "$nbusy" "${cur%_off}" "$pbusy" "$cbusy"
	printf '  netstat:'
	for k in $NETSTAT_KEYS; do
		printf ' %s %s' "${k#TcpExt}" "$(delta "$tmp/ns0" "$tmp/ns1" "$k")"
	done
	[ -z "$xs" ] || printf '  XDP:%s' "$xs"
	echo
}

# --- versions, machine ----------------------------------------------------------------
hz=$(getconf CLK_TCK)
v_lbtls=$(git -C "$root" describe --always --dirty 2>/dev/null || echo '?')
say "lbtls $v_lbtls, $(nginx -v 2>&1 | sed 's/.*: //'), $(openssl version | awk '{print $1, $2}')"
say "$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $ncpu CPUs, kernel $(uname -r)"
say "server on CPU $SERVER_CPU (1 worker; NAPI of $IF_LB, $NAPI_SCHED); clients, flood (SCHED_FIFO $GEN_PRIO, FLOOD_TX=$FLOOD_TX), backend on CPU $CLIENT_CPU"

# --- checks: every system answers ----------------------------------------------------
round=0
say "the agent's flood: section: (b) enabled: true, cookies: $FLOOD_COOKIES, syn_rate: $FLOOD_SYN_RATE, hold_ms: $FLOOD_HOLD_MS, src_rate: $FLOOD_SOURCE_RATE, src_burst: $FLOOD_SOURCE_BURST, v4_prefix: $FLOOD_V4_PREFIX, v6_prefix: $FLOOD_V6_PREFIX; (c) the same with enabled: false"
runnable=()
for s in "${SYSTEMS[@]}"; do
	cur=$s
	start_system "$s"
	o=$(in_cli openssl s_client -connect "$VIP:443" -servername "$NAME" </dev/null 2>&1)
	grep -q "New, TLSv1.3, Cipher is $CIPHERSUITE" <<<"$o" ||
		die "$s: not TLS 1.3 with $CIPHERSUITE: $(grep -E '^(New|Cipher)' <<<"$o")"
	grep -q "subject=CN = $NAME" <<<"$o" || die "$s: not the benchmark certificate"
	stop_system
	runnable+=("$s")
done
[ "${#runnable[@]}" -ge 1 ] || die "no system to measure"
say "every system answers 200 on $VIP and $VIP6, TLS 1.3 / $CIPHERSUITE / $CERT_KEY certificate"

# --- the top rate: the generator's best on CLIENT_CPU, alone ------------------------
if [ "$FLOOD_TOP_PPS" = auto ]; then
	ip -n $NS_LB link set dev $IF_LB xdpdrv obj "$tmp/xdp_pass.o" sec xdp 2>"$tmp/ip.err" ||
		die "cannot attach the XDP_PASS program to $IF_LB: $(cat "$tmp/ip.err")"
	napi_pin $NS_LB $IF_LB "$SERVER_CPU"
	ip netns exec $NS_CLI chrt -f "$GEN_PRIO" taskset -c "$CLIENT_CPU" "$build/bench/flood_gen" -i $IF_CLI -m "$lb_mac" \
		"${flood_dst[@]}" -s $FLOOD_SRC4 -S $FLOOD_SRC6 -n "$FLOOD_COUNT" -t 1 -r 0 \
		"${flood_tx[@]}" >"$tmp/gen.calibrate" 2>&1 || die "flood_gen failed: $(tail -3 "$tmp/gen.calibrate")"
	ip -n $NS_LB link set dev $IF_LB xdpdrv off
	gline=$(grep '^flood_gen:' "$tmp/gen.calibrate") || die "no figures from flood_gen: $(cat "$tmp/gen.calibrate")"
	# its best alone, in steps of 10 k
	FLOOD_TOP_PPS=$(awk -v p="$(field offered_pps "$gline")" 'BEGIN {printf "%d", int(p / 10000) * 10000}')
	[ "$FLOOD_TOP_PPS" -gt "$FLOOD_PPS" ] ||
		die "the generator alone reaches $(field offered_pps "$gline") pps, not more than FLOOD_PPS=$FLOOD_PPS"
	say "the generator alone on CPU $CLIENT_CPU: $gline"
fi
say "$ROUNDS rounds, systems ${SYSTEMS[*]}; ${WARMUP}s + ${DURATION}s per run, $CONNS legitimate connections from $NSRC /24s; flood IPv$FLOOD_FAMILY from $FLOOD_SRC4 / $FLOOD_SRC6 at the common rate $FLOOD_PPS pps and the top rate $FLOOD_TOP_PPS pps"

# --- rounds -----------------------------------------------------------------------
for round in $(seq 1 "$ROUNDS"); do
	for s in "${runnable[@]}"; do
		cur=$s
		start_system "$s"
		measure noflood
		measure flood "$FLOOD_PPS"
		measure top "$FLOOD_TOP_PPS"
		stop_system
	done
done
cp "$tmp"/*.conf "$tmp"/*.yaml "$tmp"/client.* "$tmp"/gen.* "$tmp"/agent.out "$out/" 2>/dev/null

# --- summary ----------------------------------------------------------------------
# stat SYSTEM COND KEY: "median min max" of the rounds, or "n/a"
stat() {
	awk -F'\t' -v s="$1" -v c="$2" -v k="$3" '$1 == s && $3 == c && $4 == k && $5 != "n/a" {print $5}' \
		"$results" | sort -g | awk '{a[++n] = $1} END {
			if (!n) { print "n/a n/a n/a"; exit }
			m = n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
			print m, a[1], a[n] }'
}
fmt() { # fmt "median min max" [printf format]: "M (min-max)"
	local f=${2:-%.0f} m lo hi
	read -r m lo hi <<<"$1"
	if [ "$m" = n/a ]; then echo n/a; else
		# shellcheck disable=SC2059
		printf "$f ($f-$f)" "$m" "$lo" "$hi"
	fi
}
# ratios SYSTEM COND: per-round ratios COND/noflood of one system
ratios() {
	awk -F'\t' -v s="$1" -v c="$2" '$1 == s && $4 == "rate" { r[$2 "," $3] = $5; rounds[$2] = 1 }
		END { for (i in rounds) if (r[i ",noflood"] > 0) print r[i "," c] / r[i ",noflood"] }' \
		"$results" | sort -g | awk '{a[++n] = $1} END { if (n) printf "%.2f-%.2f", a[1], a[n] }'
}
t_end=$(date +%s)
say "summary: medians (min-max) over $ROUNDS rounds, $((t_end - t_start)) s in all"
declare -A ratio ratio_top cost_top
# summary COND SYSTEM: the figures of one system at one rate
summary() {
	local c=$1 s=$2
	echo "    offered flood        $(fmt "$(stat "$s" "$c" offered_pps)") pps at the generator: missed by it $(fmt "$(stat "$s" "$c" missed_pps)"), dropped by $IF_LB's full ring $(fmt "$(stat "$s" "$c" ring_dropped_pps)"), taken $(fmt "$(stat "$s" "$c" taken_pps)") pps (all traffic received: $(fmt "$(stat "$s" "$c" rx_pps)") pps)"
	echo "    legit handshakes/s   no flood $(fmt "$(stat "$s" noflood rate)"), flood $(fmt "$(stat "$s" "$c" rate)"): ratio of the medians ${ratio[$s]} (per round $(ratios "$s" "$c"))"
	echo "    p99 connect          no flood $(fmt "$(stat "$s" noflood connect_p99)" %.2f) ms, flood $(fmt "$(stat "$s" "$c" connect_p99)" %.2f) ms"
	echo "    p99 whole exchange   no flood $(fmt "$(stat "$s" noflood total_p99)" %.2f) ms, flood $(fmt "$(stat "$s" "$c" total_p99)" %.2f) ms"
	echo "    legit failures       per flood run $(fmt "$(stat "$s" "$c" failed)"), of which timeouts $(fmt "$(stat "$s" "$c" timeouts)"); SYN retransmits $(fmt "$(stat "$s" "$c" syn_retrans)") (no flood $(fmt "$(stat "$s" noflood syn_retrans)"))"
	echo "    server core busy     no flood $(fmt "$(stat "$s" noflood server_busy)")%, flood $(fmt "$(stat "$s" "$c" server_busy)")%; client core $(fmt "$(stat "$s" "$c" client_busy)")% under flood"
	echo "    of which             NAPI of $IF_LB (XDP, the stack's receive) no flood $(fmt "$(stat "$s" noflood napi_busy)")%, flood $(fmt "$(stat "$s" "$c" napi_busy)")%; ${s%_off} processes no flood $(fmt "$(stat "$s" noflood proc_busy)")%, flood $(fmt "$(stat "$s" "$c" proc_busy)")%"
	echo "    CPU per flood SYN    $(fmt "$(stat "$s" "$c" syn_cost_us)" %.2f) us of $IF_LB's NAPI thread ($([ "$s" = lbtls ] && echo "XDP: cookie SYN-ACK or rate-limited drop" || echo "the kernel's SYN-cookie path"))"
	if [ "$s" != nginx ]; then
		echo "    SYN-ACKs sent by XDP $(fmt "$(stat "$s" "$c" xdp_cookies_sent)") per flood run (cookies validated $(fmt "$(stat "$s" "$c" xdp_cookies_ok)"), failed $(fmt "$(stat "$s" "$c" xdp_cookies_bad)"), rate-limited SYNs $(fmt "$(stat "$s" "$c" xdp_rate_limited)"), flood mode entries $(fmt "$(stat "$s" "$c" xdp_flood_start)"))"
	fi
	printf '    per flood run        '
	for k in $NETSTAT_KEYS; do printf '%s %s  ' "${k#TcpExt}" "$(fmt "$(stat "$s" "$c" "$k")")"; done
	echo
}
for c in top flood; do
	if [ $c = top ]; then
		say "at the top rate, $FLOOD_TOP_PPS pps offered to every system:"
	else
		say "at the common rate, $FLOOD_PPS pps offered to every system:"
	fi
	for s in "${runnable[@]}"; do
		read -r nf _ <<<"$(stat "$s" noflood rate)"
		read -r fl _ <<<"$(stat "$s" "$c" rate)"
		ratio[$s]=$(awk -v a="$fl" -v b="$nf" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')
		if [ $c = top ]; then
			ratio_top[$s]=${ratio[$s]}
			read -r "cost_top[$s]" _ <<<"$(stat "$s" top syn_cost_us)"
		fi
		echo "  $s:"
		summary "$c" "$s"
	done
done
for s in nginx lbtls lbtls_off; do
	[ -n "${ratio[$s]:-}" ] || ratio[$s]=n/a
	[ -n "${ratio_top[$s]:-}" ] || ratio_top[$s]=n/a
	[ -n "${cost_top[$s]:-}" ] || cost_top[$s]=n/a
done
echo "flood_top: offered_pps=$FLOOD_TOP_PPS legit_ratio nginx=${ratio_top[nginx]} lbtls=${ratio_top[lbtls]} lbtls_off=${ratio_top[lbtls_off]}"
echo "flood_cost: us_per_flood_syn nginx=${cost_top[nginx]} lbtls=${cost_top[lbtls]} lbtls_off=${cost_top[lbtls_off]} (NAPI of $IF_LB at the top rate)"
echo "flood: offered_pps=$FLOOD_PPS legit_ratio nginx=${ratio[nginx]} lbtls=${ratio[lbtls]} lbtls_off=${ratio[lbtls_off]}"
