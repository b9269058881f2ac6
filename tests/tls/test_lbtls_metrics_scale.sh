#!/usr/bin/env bash
# lbtls at scale: 200 workers and 16 upstream servers, the whole /metrics
# text, and reloads that come faster than old generations drain. The
# workers stay idle (no client, no health checks, the servers are closed
# loopback ports); an old generation is kept "draining" by stopping its
# workers (SIGSTOP) before the reload, so nothing depends on timing.
#
# Usage: bash tests/tls/test_lbtls_metrics_scale.sh BUILD_DIR
# Prints one line per check and ends with "N passed, N failed"; exits
# non-zero on any failure. Missing curl, openssl or python3 is a failure.
set -u
build=${1:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
lbtls=$root/$build/lbtls
[[ $build == /* ]] && lbtls=$build/lbtls
python=${PYTHON:-/usr/bin/python3}
nworkers=200
nservers=16

# shellcheck source=tests/tls/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tmp=$(mktemp -d /tmp/lbtls-scale.XXXXXX)
master=
cleanup() {
	local p kids
	if [ -n "$master" ]; then
		kids=$(ps -o pid= --ppid "$master" 2>/dev/null)
		for p in $kids; do kill -CONT "$p" 2>/dev/null; done
		stop_tree "$master"
		for p in $kids; do kill -KILL "$p" 2>/dev/null; done
	fi
	wait 2>/dev/null
	remove_tmp "$tmp"
}
trap cleanup EXIT
# KEEP_TMP=1 keeps logs, configs and scrapes of a failed run for a look.
trap 'exit 130' INT TERM

require_tools "" curl openssl "$python"
require_built "$lbtls" "$build"
[ "$missing" -eq 0 ] || finish

# https, admin, then the servers: closed ports nobody answers on
find_ports $((2 + nservers)) || {
	bad "no free block of loopback ports"
	finish
}
https=$base admin=$((base + 1))
last_server=127.0.0.1:$((base + 1 + nservers))
mkcert "$tmp/cert"
{
	cat <<EOF
workers: $nworkers
listen:
  https: 127.0.0.1:$https
tls:
  certificates:
    - fullchain: $tmp/cert/fullchain.pem
      privkey: $tmp/cert/privkey.pem
upstream:
  servers:
EOF
	for i in $(seq 1 "$nservers"); do
		echo "    - 127.0.0.1:$((base + 1 + i))"
	done
	cat <<EOF
limits:
  max_connections: 64
log:
  access: off
  error: $tmp/error.log
  level: info
metrics: 127.0.0.1:$admin
shutdown_timeout: 30s
EOF
} >"$tmp/lbtls.yaml"

# promcheck.py HEAD BODY: the scrape against the text format (0.0.4);
# prints key=value facts, one a line, and "error=..." for a bad line.
cat >"$tmp/promcheck.py" <<'EOF'
import re, sys
head = open(sys.argv[1], "rb").read().decode("latin-1")
body = open(sys.argv[2], "rb").read()
m = re.search(r"(?im)^content-length: *(\d+)", head)
print("status=%s" % head.split(" ", 2)[1] if " " in head else "status=none")
print("content_length=%s" % (m.group(1) if m else "none"))
print("body_len=%d" % len(body))
print("ends_nl=%d" % body.endswith(b"\n"))
name = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
label = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"'
sample = re.compile(r"(%s)(?:\{(?:%s(?:,%s)*)?,?\})? (\S+)$" % (name, label, label))
comment = re.compile(r"# (?:HELP %s .*|TYPE %s (?:counter|gauge|summary|histogram|untyped))$" % (name, name))
lines = body.decode("utf-8", "replace").split("\n")
if lines and lines[-1] == "":
    lines.pop()
up = 0
pids = set()
workers = last = "none"
for i, l in enumerate(lines):
    if l.startswith("#"):
        if not comment.match(l):
            print("error=line %d: bad comment %r" % (i + 1, l[:120]))
        continue
    s = sample.match(l)
    try:
        float(s.group(2)) if s else None
    except ValueError:
        s = None
    if not s:
        print("error=line %d: not a sample %r" % (i + 1, l[:120]))
        continue
    last = s.group(1)
    if s.group(1) == "lbtls_upstream_up":
        up += 1
        pids.add(re.search(r'pid="(\d+)"', l).group(1))
    if s.group(1) == "lbtls_workers":
        workers = s.group(2)
print("up_lines=%d" % up)
print("workers=%s" % workers)
print("last=%s" % last)
print("pids=%s" % " ".join(sorted(pids)))
EOF
declare -A r
scrape() { # scrape NAME: /metrics into $tmp/NAME.*, its facts into r[]
	local k v
	r=()
	curl -s -m 10 -D "$tmp/$1.head" -o "$tmp/$1.body" \
		"http://127.0.0.1:$admin/metrics"
	"$python" "$tmp/promcheck.py" "$tmp/$1.head" "$tmp/$1.body" >"$tmp/$1.facts"
	while IFS='=' read -r k v; do
		if [ "$k" = error ]; then
			r[error]+="$v; "
		else
			r[$k]=$v
		fi
	done <"$tmp/$1.facts"
}
check_scrape() { # check_scrape WHAT WORKERS: the whole text, all there
	check "$1: /metrics answers 200" test "${r[status]}" = 200
	check "$1: body of Content-Length bytes (${r[content_length]}, got ${r[body_len]})" \
		test "${r[content_length]}" = "${r[body_len]}"
	check "$1: body ends with a newline" test "${r[ends_nl]}" = 1
	check "$1: every line is Prometheus text${r[error]:+ (${r[error]:0:300})}" \
		test -z "${r[error]:-}"
	check "$1: lbtls_workers $2 (got ${r[workers]}), the last series" \
		test "${r[workers]}/${r[last]}" = "$2/lbtls_workers"
	check "$1: one lbtls_upstream_up per worker and server (${r[up_lines]})" \
		test "${r[up_lines]}" = $(($2 * nservers))
}
workers() { ps -o pid= --ppid "$master" | tr -d ' ' | sort; }
wait_workers() { # wait_workers N [EXCLUDED_PIDS]: bounded wait (30 s)
	for _ in $(seq 1 300); do
		[ "$(workers | wc -l)" -eq "$1" ] &&
			[ -z "$(comm -12 <(echo "${2:-}" | sort) <(workers))" ] && return 0
		sleep 0.1
	done
	return 1
}
wait_log() { # wait_log PATTERN: bounded wait (10 s) for an error-log line
	for _ in $(seq 1 100); do
		grep -q "$1" "$tmp/error.log" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
up_line() { # the series of the last worker slot and the last server
	grep -c "^lbtls_upstream_up{server=\"$last_server\",worker=\"$((nworkers - 1))\",pid=\"[0-9]*\"} 1$" \
		"$tmp/$1.body"
}

# --- start: 200 workers ---------------------------------------------------------
"$lbtls" -c "$tmp/lbtls.yaml" >"$tmp/lbtls.out" 2>&1 &
master=$!
check "lbtls starts $nworkers workers" wait_workers "$nworkers"
check "no worker was refused a process slot" \
	bash -c "! grep -q 'cannot start worker' '$tmp/error.log'"
gen1=$(workers)
scrape start
check_scrape "$nworkers workers" "$nworkers"
check "$nworkers workers: the pids in /metrics are the running workers" \
	test "$(tr ' ' '\n' <<<"${r[pids]}")" = "$gen1"
check "$nworkers workers: last worker's line for the last server" \
	test "$(up_line start)" = 1

# --- a reload while the old generation is still draining ---------------------------
# Stopped, the old workers cannot act on their SIGQUIT: they stay as a
# draining generation does, for as long as the test needs.
for p in $gen1; do kill -STOP "$p"; done
kill -HUP "$master"
check "reload: a full new generation next to the draining one ($((2 * nworkers)) workers)" \
	wait_workers $((2 * nworkers))
gen2=$(comm -13 <(echo "$gen1") <(workers))
check "reload: $nworkers new workers" test "$(wc -l <<<"$gen2")" -eq "$nworkers"
check "reload: no worker was refused a process slot" \
	bash -c "! grep -q 'cannot start worker' '$tmp/error.log'"
scrape reload
check_scrape "two generations" $((2 * nworkers))
check "two generations: the text is over 256 KiB (${r[body_len]} bytes), whole" \
	test "${r[body_len]}" -gt 262144
check "two generations: pids in /metrics are both generations" \
	test "$(tr ' ' '\n' <<<"${r[pids]}")" = "$(workers)"
check "two generations: last worker's line for the last server, in each" \
	test "$(up_line reload)" = 2

# --- a reload faster than the drain: it waits, named in the log -------------------------
kill -HUP "$master"
check "reload with no room: the log names the cause" \
	wait_log "reload: generation 2 ($nworkers workers) waits for process slots: $((2 * nworkers)) of 512 are held, $nworkers by workers of older generations still draining"
check "reload with no room: nothing started, both generations run" \
	test "$(workers)" = "$(sort <<<"$gen1"$'\n'"$gen2")"
scrape waiting
check_scrape "waiting reload" $((2 * nworkers))

# The old generation drains (its SIGQUIT is pending), which makes room;
# the waiting configuration starts and the one it replaces drains too.
for p in $gen1; do kill -CONT "$p"; done
check "the waiting reload starts once the old generation has drained" \
	wait_workers "$nworkers" "$gen1"$'\n'"$gen2"
check "log: generation 2 started with $nworkers worker(s)" \
	wait_log "reload: generation 2 started with $nworkers worker(s)"
check "no worker was ever refused a process slot" \
	bash -c "! grep -q 'cannot start worker' '$tmp/error.log'"
scrape after
check_scrape "after the reloads" "$nworkers"
check "after the reloads: the pids in /metrics are the running workers" \
	test "$(tr ' ' '\n' <<<"${r[pids]}")" = "$(workers)"

# --- stop -------------------------------------------------------------------------------
kill -TERM "$master"
stopped=0
for _ in $(seq 1 100); do
	if ! kill -0 "$master" 2>/dev/null; then
		stopped=1
		break
	fi
	sleep 0.1
done
check "SIGTERM: master and workers exit" test "$stopped" -eq 1
[ "$stopped" -eq 1 ] && master=
finish
