#!/usr/bin/env bash
# The scale-out stack (docs/scaleout.md) on one Docker engine, as
# `docker/stack.sh scaleout up` builds it, under a name of its own: a
# router with BIRD in front of two balancer hosts (lbctl agent, XDP
# forwarding over GUE, BIRD announcing the VIP), two worker hosts (agent,
# XDP decapsulating, lbtls), Flask behind them and a client. Checks BGP
# (both balancers' paths on the router, one ECMP route), HTTPS from the
# client through the VIP to Flask through both balancers and both worker
# hosts, and that draining a balancer withdraws its route while requests
# keep working. Prints one line per check and ends with "N passed, N
# failed". A trap takes everything down even when a check fails; Docker
# or BPF missing is a failure, never a skip.
#
# Usage: flock /tmp/lb-docker.lock bash tests/docker/test_stack_scaleout.sh BUILD_DIR
set -u
BUILD=${1:-build}
cd "$(dirname "$0")/../.." || exit 1
export BUILD
export SX=lbsx$$
base=$((63 + 3 * ($$ % 20))) # 198.19.63-122: three /24s of its own
export SX_EDGE=198.19.$base SX_UNDER=198.19.$((base + 1)) SX_APP=198.19.$((base + 2))
export SX_VIP=198.18.0.100
export DOMAIN=flask.example.test
STATE=/run/xdp-tls-lb/$SX
LOGDIR=${LOGDIR:-$BUILD/tests/docker/$SX}
HOSTS="lb1 lb2 w1 w2"
mkdir -p "$LOGDIR"
pass=0
fail=0
DOCKER=docker
[ -x /usr/bin/docker ] && DOCKER=/usr/bin/docker
# shellcheck source=tests/docker/preconditions.sh
. tests/docker/preconditions.sh

check() { # check DESCRIPTION COMMAND...
	local what=$1
	shift
	echo "=== $what" >>"$LOGDIR/checks.log"
	if "$@" >>"$LOGDIR/checks.log" 2>&1; then
		echo "ok   $what"
		pass=$((pass + 1))
	else
		echo "FAIL $what (see $LOGDIR/checks.log)"
		fail=$((fail + 1))
		return 1
	fi
}

# A check that needs the running stack: when `up` failed it is not run
# but counted failed at once (each request would wait for its timeout).
stack_up=0
check_up() {
	if [ "$stack_up" = 1 ]; then
		check "$@"
	else
		echo "FAIL $1 (not run: the stack did not come up)"
		fail=$((fail + 1))
	fi
}

sx() { docker/stack.sh scaleout "$@"; }

project_containers() {
	"$DOCKER" ps -aq --filter "label=com.docker.compose.project=$SX"
}

nothing_left() {
	local left="" n h
	[ -z "$(project_containers)" ] || left="$left containers:$(project_containers | tr '\n' ' ')"
	for n in edge under app; do
		"$DOCKER" network inspect "$SX-$n" >/dev/null 2>&1 && left="$left network:$SX-$n"
	done
	for h in $HOSTS; do
		[ -e "/sys/fs/bpf/$SX-$h" ] && left="$left pins:/sys/fs/bpf/$SX-$h"
		[ -e "/run/lbctl/$SX-$h.lock" ] && left="$left lock:/run/lbctl/$SX-$h.lock"
	done
	[ -e "$STATE" ] && left="$left state:$STATE"
	[ -z "$left" ] || echo "left behind:$left"
	[ -z "$left" ]
}

cleanup() {
	local ids n h
	trap - EXIT INT TERM
	sx down >>"$LOGDIR/stack.log" 2>&1
	if ! nothing_left >/dev/null; then
		echo "cleanup: $(nothing_left); removing by force"
		ids=$(project_containers)
		# shellcheck disable=SC2086 # ids are words
		[ -z "$ids" ] || "$DOCKER" rm -f $ids >/dev/null 2>&1
		for n in edge under app; do "$DOCKER" network rm "$SX-$n" >/dev/null 2>&1; done
		for h in $HOSTS; do rm -rf "/sys/fs/bpf/$SX-$h"; done
		rm -rf "$STATE"
		nothing_left || echo "cleanup: could not remove everything"
	fi
	if [ "$fail" -gt 0 ]; then
		echo "--- checks.log (last lines)"
		tail -n 40 "$LOGDIR/checks.log"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# a write to the FIFO of a client script that died must fail, not kill us
trap '' PIPE

# --- helpers ------------------------------------------------------------------
sx_lbctl() { # sx_lbctl HOST ARGS...
	local h=$1
	shift
	"$DOCKER" exec "$SX-$h-agent" lbctl --instance "$SX-$h" "$@"
}

# get N: one HTTPS request from the client to the VIP, from the client's
# address number N % 32 (scaleout.sh gives it .100-.131: the pick is by
# client address); prints "CODE SERVED_BY BODY-VERSION"
get() {
	local out src=$SX_EDGE.$((100 + $1 % 32))
	out=$("$DOCKER" exec "$SX-client" curl -sS --max-time 5 -k -D - --interface "$src" \
		--resolve "$DOMAIN:443:$SX_VIP" "https://$DOMAIN/" 2>&1) || {
		echo "curl failed: $out"
		return 1
	}
	local status=${out%%$'\n'*} by ver
	status=${status#* }
	status=${status%$'\r'}
	by=$(grep -i '^x-served-by:' <<<"$out" | awk '{print $2}' | tr -d '\r')
	ver=$(grep -o 'Version [0-9]' <<<"$out" | tr -d ' ')
	echo "${status%% *} $by $ver"
}

# forwarded HOST: packets HOST's XDP encapsulated (fwd + fwd_routed)
forwarded() {
	sx_lbctl "$1" stats | awk '$1 == "fwd" || $1 == "fwd_routed" {n += $2} END {print n + 0}'
}

# paths: the balancers (underlay addresses) the router's kernel route to
# the VIP has as next hops, sorted
paths() {
	"$DOCKER" exec "$SX-router" ip route show "$SX_VIP/32" |
		grep -o 'via [0-9.]*' | awk '{print $2}' | sort | tr '\n' ' '
}

wait_paths() { # wait_paths WANT: bounded, 20 s
	local i got
	for i in $(seq 100); do
		got=$(paths)
		[ "$got" = "$1" ] && {
			echo "paths: $got (after $i polls)"
			return 0
		}
		sleep 0.2
	done
	echo "paths: '$got', want '$1'"
	"$DOCKER" exec "$SX-router" birdc show route "$SX_VIP/32" all
	return 1
}

# N requests, all 200 from Flask; prints what served them. Gives up after
# 3 failures (each costs curl's 5 s).
requests_ok() { # requests_ok N
	local i r ok=0 bad=0 served=""
	for i in $(seq "$1"); do
		[ "$bad" -ge 3 ] && break
		r=$(get "$i") || {
			echo "$r"
			bad=$((bad + 1))
			continue
		}
		case $r in "200 "*" Version"[123]) ok=$((ok + 1)) ;; *)
			echo "request $i: $r"
			bad=$((bad + 1))
			;;
		esac
		served="$served ${r#200 }"
	done
	echo "$ok of $1 answered 200 by Flask; served by:$(echo "$served" | tr ' ' '\n' | grep . | sort | uniq -c | tr -s ' \n' ' ')"
	[ "$ok" = "$1" ]
}

# --- checks -----------------------------------------------------------------
# Capabilities: each container's CapAdd as documented, nothing privileged.
caps_as_documented() {
	local svc want got add bad=0
	while read -r svc want; do
		add=$("$DOCKER" inspect -f '{{range .HostConfig.CapAdd}}{{println .}}{{end}}' "$SX-$svc" |
			sed 's/^CAP_//' | grep . | sort | tr '\n' ',')
		got="$("$DOCKER" inspect -f '{{.HostConfig.Privileged}} {{.HostConfig.CapDrop}}' "$SX-$svc") ${add:--}"
		echo "$svc: $got"
		[ "$got" = "false [ALL] $want" ] || bad=1
	done <<EOF
client -
router NET_ADMIN,NET_BIND_SERVICE,
lb1 -
lb1-agent NET_ADMIN,SYS_ADMIN,
lb1-bird NET_BIND_SERVICE,
lb2 -
lb2-agent NET_ADMIN,SYS_ADMIN,
lb2-bird NET_BIND_SERVICE,
w1 -
w1-agent CHOWN,NET_ADMIN,SYS_ADMIN,
w1-lbtls CHOWN,KILL,SETGID,SETPCAP,SETUID,
w2 -
w2-agent CHOWN,NET_ADMIN,SYS_ADMIN,
w2-lbtls CHOWN,KILL,SETGID,SETPCAP,SETUID,
EOF
	[ "$bad" = 0 ]
}

# lbtls's workers on both worker hosts: uid/gid 65532, no capability,
# NoNewPrivs (DESIGN.md D12), as in the single-host stack.
workers_unprivileged() {
	local h init master p n=0 good=0
	for h in w1 w2; do
		init=$("$DOCKER" inspect -f '{{.State.Pid}}' "$SX-$h-lbtls") || return 1
		master=$(ps -o pid=,comm= --ppid "$init" | awk '$2 == "lbtls" {print $1}' | head -n1)
		[ -n "$master" ] || {
			echo "$h: no lbtls master"
			return 1
		}
		for p in $(ps -o pid= --ppid "$master"); do
			n=$((n + 1))
			grep -E '^(Uid|Gid|CapEff|CapPrm|NoNewPrivs):' "/proc/$p/status" | tr -s '\t ' ' ' | tr '\n' ' '
			echo
			grep -Eq '^Uid:\s+65532\s+65532\s+65532\s+65532$' "/proc/$p/status" &&
				grep -Eq '^Gid:\s+65532\s+65532\s+65532\s+65532$' "/proc/$p/status" &&
				grep -q '^CapEff:\s*0000000000000000$' "/proc/$p/status" &&
				grep -q '^CapPrm:\s*0000000000000000$' "/proc/$p/status" &&
				grep -q '^NoNewPrivs:\s*1$' "/proc/$p/status" &&
				good=$((good + 1))
		done
	done
	echo "$good of $n workers unprivileged"
	[ "$n" -ge 4 ] && [ "$good" = "$n" ]
}

# Every agent has the same view: the four hosts by address, and the same
# ring shares per VIP, w1 (11) and w2 (12) each holding slots (membership
# carried both worker hosts' workers to every host, D2's identical rings).
cluster_members() {
	local h out shares first="" bad=0 a
	for h in $HOSTS; do
		out=$(sx_lbctl "$h" cluster 2>&1) || {
			echo "$h: lbctl cluster failed: $out"
			bad=1
			continue
		}
		echo "--- $h"
		echo "$out"
		for a in 11 12 21 22; do
			echo "$out" | grep -q " $SX_UNDER.$a " || {
				echo "$h does not list $SX_UNDER.$a"
				bad=1
			}
		done
		shares=$(echo "$out" | grep -E '^ +host [0-9]+ +[0-9]+ slots' | awk '{print $2, $3}')
		if ! echo "$shares" | grep -Eq '^11 [1-9]' ||
			! echo "$shares" | grep -Eq '^12 [1-9]'; then
			echo "$h: w1 or w2 holds no slot"
			bad=1
		fi
		[ -n "$first" ] || first=$shares
		[ "$shares" = "$first" ] || {
			echo "$h's ring shares differ from lb1's"
			bad=1
		}
	done
	[ "$bad" = 0 ]
}

bgp_both_balancers() {
	local out
	out=$("$DOCKER" exec "$SX-router" birdc show route "$SX_VIP/32" all) || return 1
	echo "$out"
	echo "$out" | grep -q "via $SX_UNDER.11 " &&
		echo "$out" | grep -q "via $SX_UNDER.12 " &&
		echo "$out" | grep -q "\[lb1 " && echo "$out" | grep -q "\[lb2 " &&
		wait_paths "$SX_UNDER.11 $SX_UNDER.12 "
}

# 40 requests (new connections, new source ports: the L4 hash spreads
# them); each balancer forwarded some, each worker host served some.
through_both() {
	local f1 f2 g1 g2 out
	f1=$(forwarded lb1) && f2=$(forwarded lb2) || return 1
	out=$(requests_ok 40) || {
		echo "$out"
		return 1
	}
	echo "$out"
	g1=$(forwarded lb1) && g2=$(forwarded lb2) || return 1
	echo "forwarded: lb1 $f1 -> $g1, lb2 $f2 -> $g2"
	[ "$g1" -gt "$f1" ] && [ "$g2" -gt "$f2" ] &&
		echo "$out" | grep -q 'w1/worker' && echo "$out" | grep -q 'w2/worker'
}

# drain_balancer LB OTHER: `lbctl cluster drain` on LB; its path leaves
# the router's route; requests go on working, all through OTHER.
drain_balancer() {
	local lb=$1 other=$2 fa fb ga gb out want
	want="${3} "
	sx drain "$lb" || return 1
	wait_paths "$want" || return 1
	fa=$(forwarded "$lb") && fb=$(forwarded "$other") || return 1
	out=$(requests_ok 20) || {
		echo "$out"
		return 1
	}
	echo "$out"
	ga=$(forwarded "$lb") && gb=$(forwarded "$other") || return 1
	echo "while $lb drains: $lb forwarded $fa -> $ga, $other $fb -> $gb"
	[ "$ga" = "$fa" ] && [ "$gb" -gt "$fb" ]
}

undrain_balancer() {
	sx undrain "$1" && wait_paths "$SX_UNDER.11 $SX_UNDER.12 " && requests_ok 10
}

# Requests in a loop while lb1 is drained and undrained: none fails.
drain_under_load() {
	local pid out
	(
		sleep 1
		sx drain lb1 && wait_paths "$SX_UNDER.12 " && sleep 1 &&
			sx undrain lb1 && wait_paths "$SX_UNDER.11 $SX_UNDER.12 "
	) >"$LOGDIR/drain-load.txt" 2>&1 &
	pid=$!
	out=$(requests_ok 60)
	wait "$pid" || {
		cat "$LOGDIR/drain-load.txt"
		return 1
	}
	echo "$out"
	echo "$out" | grep -q '^60 of 60'
}

# A 256 kB upload through the VIP: Flask's SHA-256 of the body is the
# sender's. The client's segments cross the GUE tunnel, so they fit only
# if the worker hosts' advertised MSS leaves room for its 40 bytes.
upload_whole() {
	local want got
	head -c 262144 /dev/urandom >"$LOGDIR/up.bin"
	want=$(sha256sum <"$LOGDIR/up.bin" | awk '{print $1}')
	got=$("$DOCKER" exec -i "$SX-client" curl -sS --max-time 20 -k \
		--resolve "$DOMAIN:443:$SX_VIP" --data-binary @- \
		"https://$DOMAIN/sha256" <"$LOGDIR/up.bin")
	echo "sent $want, Flask got $got"
	[ "$got" = "$want" ]
}

# lbctl cluster drain on w1: once the cluster has heard it, every request
# is served by w2 (10 in a row), none fails; undrained, w1 serves again.
drain_worker_host() {
	local i r streak=0 bad=0 back=""
	sx drain w1 || return 1
	for i in $(seq 100); do # bounded: 100 requests
		r=$(get "$i") || {
			echo "$r"
			bad=$((bad + 1))
			continue
		}
		case $r in
		"200 w2/"*) streak=$((streak + 1)) ;;
		"200 w1/"*) streak=0 ;;
		*)
			echo "$r"
			bad=$((bad + 1))
			;;
		esac
		[ "$streak" -ge 10 ] && break
	done
	echo "w1 draining: after $i requests the last $streak were served by w2; $bad failed"
	sx undrain w1 || return 1
	for i in $(seq 100); do
		r=$(get "$i") || {
			bad=$((bad + 1))
			continue
		}
		case $r in "200 w1/"*)
			back=$i
			break
			;;
		esac
	done
	echo "w1 undrained: served again after ${back:-more than 100} requests; $bad failed in all"
	[ "$streak" -ge 10 ] && [ "$bad" = 0 ] && [ -n "$back" ]
}

# Established connections across a change (docs/scaleout.md, "Changes"):
# 16 keep-alive TLS connections from the client's 32 addresses, one
# request each; then CHANGE (drain a balancer: ECMP moves its flows to the
# other, which picks the same workers; drain a worker host: the rings
# change and its connections reach it through the second chance); then a
# second request on every one of the same connections. All 32 must be
# 200 from the same worker as before. The client is a Python script in
# the client container, driven through a FIFO (READY, then GO).
KEEPALIVE_PY='
import socket, ssl, sys
vip, host, base = sys.argv[1], sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
def req(s):
    s.sendall(b"GET / HTTP/1.1\r\nHost: " + host.encode() + b"\r\n\r\n")
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(4096)
        if not d:
            return "closed"
        buf += d
    head, body = buf.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    h = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:]}
    n = int(h.get("content-length", "0"))
    while len(body) < n:
        d = s.recv(4096)
        if not d:
            return "closed"
        body += d
    return lines[0].split()[1] + " " + h.get("x-served-by", "?")
conns = []
for i in range(16):
    src = base + "." + str(100 + 2 * i)
    s = socket.create_connection((vip, 443), timeout=5, source_address=(src, 0))
    conns.append((src, ctx.wrap_socket(s, server_hostname=host)))
first = [req(s) for _, s in conns]
print("first:", " ".join(first), flush=True)
print("READY", flush=True)
sys.stdin.readline()
bad = 0
for (src, s), a in zip(conns, first):
    try:
        b = req(s)
    except OSError as e:
        b = "error " + str(e)
    if b != a or not b.startswith("200 "):
        bad += 1
    print(src, s.getsockname()[1], a, "->", b, flush=True)
print("failed:", bad, flush=True)
'
keepalive_across() { # keepalive_across WHAT HOST [WAIT_PATHS]
	local what=$1 h=$2 fifo="$LOGDIR/ka.fifo" out="$LOGDIR/ka-$1-$2.txt"
	local pid i sc0 sc1 fb f0 f1 ok=0
	fb=$(forwarded lb1)
	rm -f "$fifo"
	mkfifo "$fifo"
	"$DOCKER" exec -i "$SX-client" python3 -c "$KEEPALIVE_PY" "$SX_VIP" "$DOMAIN" \
		"$SX_EDGE" <"$fifo" >"$out" 2>&1 &
	pid=$!
	exec 7>"$fifo"
	for i in $(seq 100); do # bounded: 20 s
		grep -q READY "$out" && break
		sleep 0.2
	done
	f0=$(forwarded lb1)
	sc0=$(sx_lbctl w2 stats | awk '$1 == "second_chance" {print $2}')
	sx drain "$h" || ok=fail
	if [ "$what" = balancer ]; then
		wait_paths "$3 " || ok=fail
	else
		# the rings change once every host heard it: w1's share is 0
		for i in $(seq 50); do
			sx_lbctl lb1 cluster | grep -Eq '^ +host 11 +0 slots' && break
			sleep 0.2
		done
	fi
	echo GO >&7
	exec 7>&-
	wait "$pid"
	cat "$out"
	f1=$(forwarded lb1)
	sc1=$(sx_lbctl w2 stats | awk '$1 == "second_chance" {print $2}')
	echo "lb1 forwarded $fb -> $f0 (first requests) -> $f1; w2 second_chance $sc0 -> $sc1"
	sx undrain "$h" >/dev/null
	[ "$what" = worker ] || wait_paths "$SX_UNDER.11 $SX_UNDER.12 " >/dev/null
	[ "$ok" = fail ] && return 1
	grep -q '^failed: 0$' "$out" && [ "$(grep -c ' -> 200 ' "$out")" = 16 ] && ok=1
	if [ "$what" = balancer ]; then
		# some of them were on lb1 before it drained
		[ "$f0" -gt "$fb" ] || ok=0
	else
		# the check is about w1's connections: some were on it, and
		# they came back to it through w2's second chance
		grep -q '^first:.* 200 w1/' "$out" && [ "$sc1" -gt "$sc0" ] || ok=0
	fi
	[ "$ok" = 1 ]
}

# --- run -------------------------------------------------------------------------
docker_preconditions docker docker-compose curl ip nsenter envsubst openssl

check "docker/stack.sh scaleout up brings the cluster up" \
	bash -c "docker/stack.sh scaleout up >>'$LOGDIR/stack.log' 2>&1 || { tail -n 30 '$LOGDIR/stack.log'; exit 1; }" &&
	stack_up=1
check_up "each container has only its documented capabilities, none privileged" \
	caps_as_documented
check_up "lbtls's workers on both worker hosts: uid 65532, no capability, NoNewPrivs" \
	workers_unprivileged
check_up "every agent's 'lbctl cluster': the four hosts, the same ring shares, w1 and w2 in them" \
	cluster_members
check_up "the router learnt the VIP from both balancers over BGP (ECMP route, 2 next hops)" \
	bgp_both_balancers
check_up "HTTPS to the VIP from the client reaches Flask through both balancers and both worker hosts" \
	through_both
check_up "a 256 kB upload through the VIP reaches Flask whole (MSS fits GUE)" upload_whole
check_up "draining lb1 withdraws its route; requests keep working, all through lb2" \
	drain_balancer lb1 lb2 "$SX_UNDER.12"
check_up "undraining lb1 announces it again" undrain_balancer lb1
check_up "draining lb2 withdraws its route; requests keep working, all through lb1" \
	drain_balancer lb2 lb1 "$SX_UNDER.11"
check_up "undraining lb2 announces it again" undrain_balancer lb2
check_up "60 requests while lb1 is drained and undrained: none fails" drain_under_load
check_up "16 established connections survive draining lb1 (same worker after ECMP moved them)" \
	keepalive_across balancer lb1 "$SX_UNDER.12"
check_up "16 established connections survive draining w1 (w1's come back through w2's second chance)" \
	keepalive_across worker w1
check_up "draining worker host w1: w2 serves everything, nothing fails; undrained, w1 serves again" \
	drain_worker_host
check "docker/stack.sh scaleout down removes what it made" \
	bash -c "docker/stack.sh scaleout down >>'$LOGDIR/stack.log' 2>&1"
check "nothing of the stack is left (containers, networks, pins, state)" nothing_left

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
