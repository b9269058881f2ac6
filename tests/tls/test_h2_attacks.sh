#!/usr/bin/env bash
# shellcheck disable=SC2317 # cleanup runs from a trap
# lbtls against the hostile HTTP/2 clients of issue 21 (tests/h2/attack.py,
# raw frames over real TLS, Debian's python3-h2/hyperframe/hpack), with a
# real Flask backend (docker/app/app.py) and lbtls with ONE worker, so that
# the attacker and a well-behaved client (h2load, one connection, 4 streams
# at a time) share it. Loopback only, ports 24000-24002 (H2_ATTACK_PORT
# moves them).
#
# One group of checks per attack:
#   - the attacker's connections all ended as RFC 9113 and the issue say
#     (the GOAWAY or RST_STREAM code: attack.py prints what it got);
#   - the well-behaved client kept its rate: requests completed in a
#     window (H2_ATTACK_WINDOW_MS, 1200) during the attack, compared with
#     the mean of the same window just before and just after it, as a
#     ratio with a starvation floor (>= 25 %), never against an absolute
#     figure (the machine may be slow or busy); the figures are printed;
#     none of its requests failed;
#   - the lbtls_http2_* counter of the limit that bit moved;
#   - the worker is the same process (no crash), and for the HPACK bombs
#     its peak RSS (VmHWM) grew by less than 32 MB.
# Then h2spec's cases (tests/h2/conformance.py, h2spec cannot be
# installed here), one check each: docs/h2spec.md lists them.
# When the machine has two CPUs or more, lbtls, Flask and h2load run on
# CPU 0 and the attacker on CPU 1, so that the attacker's own Python work
# does not count against the server's; the victim's runs alone have a
# spinning process on CPU 1 instead of the attacker.
#
# Usage: bash tests/tls/test_h2_attacks.sh BUILD_DIR
# Prints one line per check and ends with "N passed, N failed"; exits
# non-zero on any failure. Missing curl, openssl, h2load, python3-flask or
# python3-h2 is a failure, never a skip. KEEP_TMP=1 keeps the logs of a
# failed run.
set -u
export LC_ALL=C # sort and join agree on the order of metric names
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ left in tests/h2
build=${1:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
lbtls=$root/$build/lbtls
[[ $build == /* ]] && lbtls=$build/lbtls
app=$root/docker/app/app.py
attack=$root/tests/h2/attack.py
python=${PYTHON:-/usr/bin/python3}
window_ms=${H2_ATTACK_WINDOW_MS:-1200}
window=$(awk -v m="$window_ms" 'BEGIN {print m / 1000}') # attack.py's seconds
max_inflight=16
glitch_burst=100 # lbtls's default, written in the config for the bounds

# shellcheck source=tests/tls/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tmp=$(mktemp -d /tmp/lbtls-h2attacks.XXXXXX)
master=
cleanup() {
	local p
	[ -n "$master" ] && stop_tree "$master"
	for p in $(jobs -p); do
		kill -TERM "$p" 2>/dev/null
	done
	wait 2>/dev/null
	remove_tmp "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- prerequisites: fail, never skip --------------------------------------
require_tools "" curl openssl taskset ss
require_tools "nghttp2-client" h2load
require_flask "$python"
if "$python" -c 'import h2, hyperframe, hpack' 2>/dev/null; then
	ok "prerequisite: python3-h2, hyperframe, hpack importable by $python"
else
	bad "prerequisite: python3-h2 (hyperframe, hpack) not installed for $python"
	missing=1
fi
require_built "$lbtls" "$build"
[ "$missing" -eq 0 ] || finish

port=${H2_ATTACK_PORT:-24000}
https=$port admin=$((port + 1)) be=$((port + 2))
for p in "$https" "$admin" "$be"; do
	if port_busy "$p"; then
		bad "loopback port $p is free"
		finish
	fi
done

# server side on CPU 0, attacker on CPU 1 (when there are two)
if [ "$(nproc)" -ge 2 ]; then
	server_cpu=(taskset -c 0) attack_cpu=(taskset -c 1)
else
	server_cpu=() attack_cpu=()
fi

mkcert "$tmp/cert"
check "self-signed certificate made with openssl" test -s "$tmp/cert/fullchain.pem"

# Short limits where a test waits for one: send_timeout (zero-window),
# settings_timeout; max_inflight low enough for reset-inflight to reach.
cat >"$tmp/lbtls.yaml" <<EOF
workers: 1
listen:
  https: 127.0.0.1:$https
tls:
  certificates:
    - fullchain: $tmp/cert/fullchain.pem
      privkey: $tmp/cert/privkey.pem
upstream:
  servers: [127.0.0.1:$be]
  health: {enabled: false}
limits:
  send_timeout: 1s
  max_connections: 1024
http2:
  max_inflight: $max_inflight
  glitch_burst: $glitch_burst
  settings_timeout: 500ms
log:
  access: $tmp/access.log
  error: $tmp/error.log
  level: info
metrics: 127.0.0.1:$admin
EOF

"${server_cpu[@]}" env VERSION=1 "$python" "$app" --host 127.0.0.1 --port "$be" \
	>"$tmp/app.log" 2>&1 &
check "backend answers /healthz" wait_http "http://127.0.0.1:$be/healthz"
"${server_cpu[@]}" "$lbtls" -c "$tmp/lbtls.yaml" >"$tmp/lbtls.out" 2>&1 &
master=$!
if ! wait_http "https://127.0.0.1:$https/healthz"; then
	bad "lbtls serves https (see $tmp/lbtls.out)"
	cat "$tmp/lbtls.out" "$tmp/error.log" 2>/dev/null | tail -5
	finish
fi
worker=$(ps -o pid= --ppid "$master" | tr -d ' ')
check "lbtls runs one worker (pid ${worker:-none})" \
	test "$(wc -w <<<"$worker")" = 1
check "curl --http2 gets HTTP/2 from lbtls" \
	test "$(curl -sk --http2 -o /dev/null -w '%{http_version}' \
		"https://127.0.0.1:$https/healthz")" = 2

metrics() { curl -s -m 5 "http://127.0.0.1:$admin/metrics" | grep '^lbtls_http2_'; }
counter() { # counter FILE NAME: a counter's value in a metrics snapshot
	awk -v n="$2" '$1 == n {print $2; f = 1} END {if (!f) print 0}' "$1"
}
vm() { # vm FIELD: the worker's VmRSS/VmHWM in kB
	awk -v f="$1:" '$1 == f {print $2}' "/proc/$worker/status" 2>/dev/null
}
# victim: h2load, one connection, 4 streams at a time, for the window;
# prints "SUCCEEDED FAILED" (failed, errored and timed out together)
victim() {
	# a hard limit: h2load 1.52's -D never ends a client that is still
	# connecting when the duration ends (a stuck server hung the suite)
	timeout -s KILL $((window_ms / 1000 + 10)) \
		"${server_cpu[@]}" h2load -c 1 -m 4 -D "${window_ms}ms" \
		"https://127.0.0.1:$https/healthz" >"$tmp/victim.out" 2>&1
	sed -nE 's/^requests: .* ([0-9]+) succeeded, ([0-9]+) failed, ([0-9]+) errored, ([0-9]+) timeout.*/\1 \2 \3 \4/p' \
		"$tmp/victim.out" | awk '{print $1, $2 + $3 + $4} END {if (!NR) print 0, 0}'
}
# victim_alone: the same, with a Python process spinning where the
# attacker runs (CPU 1): a busy neighbour CPU alone changes the victim's
# rate on a VM (by +35 % on the machine this was written on), so the
# runs before and after an attack get one too and only the attack's
# frames differ
victim_alone() {
	local spin
	"${attack_cpu[@]}" "$python" -c 'import time
end = time.monotonic() + 10  # bounded, even if never killed
while time.monotonic() < end: pass' &
	spin=$!
	victim
	kill "$spin"
	wait "$spin" 2>/dev/null
}
# upstream connections lbtls closed (it is the side in TIME_WAIT) and not
# yet expired (60 s): each is a connection the backend accepted (one
# closed by a RST would leave no trace: lbtls closes them with a FIN)
closed_upstream() { ss -Htan state time-wait "( dport = :$be )" | wc -l; }
rate() { awk -v n="$1" -v w="$window" 'BEGIN {printf "%.0f", n / w}'; }

# group NAME COUNTERS -- ATTACK_ARGS...: one attack and its checks.
# COUNTERS: space-separated lbtls_http2_* names that must all move; a
# name may be "a|b" (either moves). The undisturbed rate is the mean of
# the victim's runs just before and just after the attack (the one after
# is the next group's before), which evens out a busy machine's drift.
# settle=SECONDS: a pause between the attack and the run after it.
before='' before_bad=0 settle=''
# attack_once NAME ATTACK_ARGS...: the attack during one victim run, then
# the victim alone; sets arc, under, uf, after, af, ratio
attack_once() {
	local name=$1 apid base
	shift
	rm -f "$tmp/ready"
	"${attack_cpu[@]}" "$python" "$attack" "$@" --port "$https" \
		--duration "$window" --ready "$tmp/ready" >"$tmp/attack.out" 2>&1 &
	apid=$!
	for _ in $(seq 1 100); do
		[ -e "$tmp/ready" ] && break
		sleep 0.05
	done
	read -r under uf < <(victim)
	wait "$apid"
	arc=$?
	[ -z "$settle" ] || sleep "$settle"
	read -r after af < <(victim_alone)
	base=$(((before + after) / 2))
	ratio=$((base > 0 ? under * 100 / base : 0))
	cat "$tmp/attack.out" >>"$tmp/attack.all"
	echo "# $name: $(tail -1 "$tmp/attack.out")"
	grep '^unexpected' "$tmp/attack.out" | head -3 | sed 's/^/# /'
	echo "# $name: victim $(rate "$before") req/s before, $(rate "$under") under attack, $(rate "$after") after: $ratio % of the mean"
}
# The floor is starvation's, not a speed: a quarter of the victim's own
# undisturbed rate. What each attack leaves is a figure (printed here;
# docs/bench-h2.md for rapid reset): rapid-reset/split leaves 42-46 % on
# this 2-core VM, where attacker, victim and lbtls share the cores, so a
# 50 % floor failed CI. An attack that starves the victim leaves ~0.
floor=25
# A ratio under the floor is measured again, up to three runs (another
# attack, the victim's run after the last as the new "before"): on a
# machine shared with other work, a burst of someone else's load can
# halve a run, twice in a row once in a CI run (rapid-reset/split, 46 %
# after a first run under 50 %); an attack that really starves the
# victim does it every time.
group() {
	local name=$1 counters=$2 arc under uf after af ratio arcs='' bad=0 try
	local hwm0 hwm1 c alt moved d
	shift 3
	: >"$tmp/attack.all"
	[ -n "$before" ] || read -r before before_bad < <(victim_alone)
	metrics >"$tmp/m0"
	hwm0=$(vm VmHWM)
	for try in 1 2 3; do
		attack_once "$name" "$@"
		arcs="$arcs$arc"
		bad=$((bad + before_bad + uf + af))
		before=$after before_bad=$af
		[ "$ratio" -ge "$floor" ] && break
		[ "$try" -lt 3 ] && echo "# $name: under $floor %: once more"
	done
	metrics >"$tmp/m1"
	hwm1=$(vm VmHWM)
	check "$name: every attacking connection ended as expected" \
		test "${arcs//0/}" = ""
	check "$name: the well-behaved client was not starved: >= $floor % of its rate ($ratio %)" \
		test "$ratio" -ge "$floor"
	check "$name: none of the well-behaved client's requests failed ($bad)" \
		test "$bad" = 0 -a "$under" -gt 0
	d=$(join <(sort "$tmp/m0") <(sort "$tmp/m1") |
		awk '$3 != $2 {printf " %s+%d", $1, $3 - $2}')
	echo "# $name: counters:${d:- none moved}"
	for c in $counters; do
		moved=0
		for alt in ${c//|/ }; do
			[ "$(counter "$tmp/m1" "$alt")" -gt "$(counter "$tmp/m0" "$alt")" ] && moved=1
		done
		check "$name: $c moved" test "$moved" = 1
	done
	check "$name: the worker did not die (pid $worker)" kill -0 "$worker"
	echo "# $name: worker VmHWM ${hwm0:-?} -> ${hwm1:-?} kB, VmRSS $(vm VmRSS) kB"
	if [[ $name == hpack-* ]]; then
		check "$name: worker peak RSS grew < 32 MB (${hwm0:-?} -> ${hwm1:-?} kB)" \
			test "$((${hwm1:-999999} - ${hwm0:-0}))" -lt 32768
	fi
}
limit() { echo "lbtls_http2_limited_total{limit=\"$1\"}"; }
glitches="$(limit glitches)"
proto="$(limit protocol_error)"

# rapid-reset: the backend's work for reset streams is bounded too, per
# attacking connection (the victim's few pooled connections aside: 32):
# - each HEADERS and its RST_STREAM in one write: lbtls reads the reset
#   with its stream, which need not start upstream; no more requests, nor
#   upstream connections opened and dropped, than max_inflight;
# - the resets 1 ms after their HEADERS, in another write (another read
#   for lbtls: the streams have started upstream). A connection has
#   max_inflight requests upstream at a time and each reset of one spends
#   a glitch: over its life, no more than glitch_burst + max_inflight
#   (glitch_rate over its second or two adds little).
rapid_reset() { # rapid_reset NAME BOUND ATTACK_ARGS...: BOUND per connection
	local name=$1 bound=$2 tw0 tw conns got
	shift 2
	tw0=$(closed_upstream)
	got=$(grep -c 'GET /healthz?tag=rapid-reset' "$tmp/app.log")
	group "$name" "lbtls_http2_client_resets_total $glitches|$proto" -- rapid-reset "$@"
	tw=$(($(closed_upstream) - tw0))
	conns=$(sed -nE 's/^rapid-reset: ([0-9]+) connections.*/\1/p' "$tmp/attack.all" |
		awk '{n += $1} END {print n + 0}') # one try or two
	got=$(($(grep -c 'GET /healthz?tag=rapid-reset' "$tmp/app.log") - got))
	echo "# $name: $conns attacking connections; the backend received $got of the reset requests; lbtls closed $tw upstream connections"
	check "$name: requests the backend received <= $bound per connection ($got <= $conns x $bound)" \
		test "$got" -le $((conns * bound))
	check "$name: upstream connections lbtls opened and closed <= $bound per connection ($tw <= $conns x $bound + 32)" \
		test "$tw" -le $((conns * bound + 32))
}
rapid_reset rapid-reset "$max_inflight"
rapid_reset rapid-reset/split $((glitch_burst + max_inflight)) --split-ms 1 --wave 16

# reset-inflight: /slow holds each request 3 s, longer than the attack, so
# the backend must have received at most max_inflight per connection
# (counted once werkzeug has logged them, when they end, before the
# victim's next run)
settle=3.5
group reset-inflight "$(limit max_inflight)|$glitches" -- reset-inflight --slow-ms 3000
settle=''
conns=$(sed -nE 's/^reset-inflight: ([0-9]+) connections.*/\1/p' "$tmp/attack.all" |
	awk '{n += $1} END {print n + 0}') # one try or two
sent=$(sed -nE 's/.*last: ([0-9]+) streams sent.*/\1/p' "$tmp/attack.out")
got=$(grep -c 'GET /slow?ms=3000&tag=reset-inflight' "$tmp/app.log")
echo "# reset-inflight: ${conns:-?} connection(s), ${sent:-?} streams on the last, backend received $got (max_inflight $max_inflight)"
check "reset-inflight: the backend received <= max_inflight per connection ($got <= ${conns:-0} x $max_inflight)" \
	test "$got" -le $((${conns:-0} * max_inflight)) -a "$got" -gt 0

# MadeYouReset: the stream errors spend the glitch budget until GOAWAY(
# ENHANCE_YOUR_CALM); nghttp2 makes the other two connection errors
for p in window-overflow content-length connection-header; do
	group "made-you-reset/$p" "lbtls_http2_glitches_total $glitches" -- \
		made-you-reset --primitive "$p"
done
for p in half-closed-data zero-increment; do
	group "made-you-reset/$p" "$proto|$glitches" -- \
		made-you-reset --primitive "$p"
done
group continuation-flood "$proto" -- continuation-flood
group hpack-many-headers "$(limit headers)|$proto|$glitches" -- hpack-many-headers
group hpack-ref-bomb "$(limit headers)|$proto|$glitches" -- hpack-ref-bomb
group hpack-table-size "$proto" -- hpack-table-size
group hpack-error "$proto" -- hpack-error
group settings-flood "$glitches" -- settings-flood
group ping-flood "$glitches" -- ping-flood
group empty-data-flood "$glitches" -- empty-data-flood
group priority-flood "$glitches" -- priority-flood
# a client that does not read: with a zero window (nothing can be sent),
# and with open windows and a full socket
group zero-window "$(limit send_timeout)" -- zero-window --wait 3
group never-reads "$(limit send_timeout)" -- never-reads --streams 400 --wait 5
group bad-preface "$(limit bad_preface)" -- bad-preface
group data-stream0 "$proto" -- data-stream0
group headers-stream0 "$proto" -- headers-stream0
group window-overflow "$proto" -- window-overflow
group settings-timeout "$(limit settings_timeout)" -- settings-timeout --wait 5

# h2spec's cases (tests/h2/conformance.py; docs/h2spec.md), one check each.
# Six deviate by design: with no_closed_streams and NO_RFC7540_PRIORITIES
# (issue 21's own choices) nghttp2 ignores the frame; for those the check
# is that it was ignored: no reset, no GOAWAY, the connection open.
by_design=" http2/5.1/8 http2/5.1/9 http2/5.1/11 http2/5.1/12 http2/5.1.1/2 http2/5.3.1/2 "
"$python" "$root/tests/h2/conformance.py" --port "$https" >"$tmp/conformance.out" 2>&1
while IFS=$'\t' read -r verdict id desc got; do
	if [ "$verdict" = FAIL ] && [[ $by_design == *" $id "* ]]; then
		check "h2spec $id: $desc: ignored, by design (got: $got)" \
			test "${got#nothing (}" != "$got"
		continue
	fi
	case $verdict in
	PASS) ok "h2spec $id: $desc ($got)" ;;
	FAIL) bad "h2spec $id: $desc (got: $got)" ;;
	*) bad "conformance.py: $verdict $id $desc $got" ;;
	esac
done <"$tmp/conformance.out"
ran=$(grep -c '^PASS\|^FAIL' "$tmp/conformance.out")
all=$("$python" "$root/tests/h2/conformance.py" --list | wc -l)
check "conformance.py ran every case ($ran of $all)" test "$ran" = "$all" -a "$all" -gt 0
check "the worker did not die (pid $worker)" kill -0 "$worker"

check "lbtls still serves after every attack" wait_http "https://127.0.0.1:$https/healthz" 5
if [ "$failed" -gt 0 ]; then
	echo "# lbtls error log (last lines):"
	tail -5 "$tmp/error.log" | sed 's/^/# /'
fi
finish
