#!/usr/bin/env bash
# The whole stack as `make run` builds it (docker/stack.sh), under a stack
# name of its own, checked from its client namespace through XDP and lbtls
# to the Flask containers: lbctl's agent and lbtls run as the compose
# services `agent` and `lbtls` (host network, --netns into the stack's
# balancer namespace), and the pool is scaled with `docker-compose up
# --scale flaskapp=N`. Prints one line per check and ends with "N passed,
# N failed". Cleans up through a trap even when a check fails (containers,
# network, namespaces, BPF pins, XDP); Docker or BPF missing is a failure,
# never a skip.
#
# Usage: bash tests/docker/test_stack.sh BUILD_DIR
set -u
BUILD=${1:-build}
cd "$(dirname "$0")/../.." || exit 1
export BUILD
export STACK=lbe$$
export FLASK_NET_PREFIX=198.19.$((210 + $$ % 40))
. tests/docker/stack_lib.sh

in_client() {
	ip netns exec "$CLIENT_NS" "$@"
}

get() { # get PATH: the body, over HTTPS to the VIP
	in_client curl -sS --max-time 5 -k --resolve "$DOMAIN:443:$VIP4" \
		"https://$DOMAIN$1"
}

versions_answer() {
	local seen="" i body
	for i in $(seq 9); do
		body=$(get /) || return 1
		seen="$seen $(echo "$body" | grep -o 'Version [0-9]')"
	done
	echo "versions seen:$seen"
	for v in 1 2 3; do
		echo "$seen" | grep -q "Version $v" || return 1
	done
}

redirect_keeps_query() {
	local out
	out=$(in_client curl -sS --max-time 5 -o /dev/null -w '%{http_code} %{redirect_url}' \
		-H "Host: $DOMAIN" "http://$VIP4/a/b?x=1&y=2")
	echo "$out"
	[ "$out" = "301 https://$DOMAIN/a/b?x=1&y=2" ]
}

client_in_xff() {
	local body
	body=$(get /echo-headers) || return 1
	echo "$body"
	echo "$body" | grep -q '198.18.1.10'
}

# lbtls's view of one upstream over all its workers (its /metrics, in the
# host namespace): "0" once every worker has it down, "" once it left the
# pool (a removed container).
upstream_up() {
	ip netns exec "$HOST_NS" curl -sf --max-time 2 http://127.0.0.1:9145/metrics |
		grep -E "^lbtls_upstream_up\{[^}]*$1[^}]*\} " | awk '{print $2}' |
		sort -u | tr -d '\n'
}

# The compose services: running, host network, all capabilities dropped
# but the named ones, not privileged.
services_run_in_compose() {
	local svc id want got
	for svc in agent lbtls; do
		id=$(dc ps -q "$svc") || return 1
		[ -n "$id" ] || {
			echo "no container for the service $svc"
			return 1
		}
		case $svc in
		agent) want="running host [ALL] false CHOWN NET_ADMIN SYS_ADMIN" ;;
		lbtls) want="running host [ALL] false CHOWN KILL SETGID SETPCAP SETUID SYS_ADMIN" ;;
		esac
		got="$("$DOCKER" inspect -f '{{.State.Status}} {{.HostConfig.NetworkMode}} {{.HostConfig.CapDrop}} {{.HostConfig.Privileged}}' "$id")"
		got="$got $("$DOCKER" inspect -f '{{range .HostConfig.CapAdd}}{{println .}}{{end}}' "$id" |
			sed 's/^CAP_//' | grep . | sort | tr '\n' ' ' | sed 's/ $//')"
		echo "$svc: $got"
		[ "$got" = "$want" ] || return 1
	done
}

# Discovery is split off (DESIGN D12): the lbtls container has no Docker
# socket; the service discover has it, and nothing else: no network, no
# capability, a read-only root, no-new-privileges. lbtls reads the file
# discover writes.
discovery_split() {
	local lbtls_id disc_id mounts got want
	lbtls_id=$(dc ps -q lbtls) || return 1
	disc_id=$(dc ps -q discover) || return 1
	if [ -z "$lbtls_id" ] || [ -z "$disc_id" ]; then
		echo "lbtls: '$lbtls_id', discover: '$disc_id'"
		return 1
	fi
	mounts=$("$DOCKER" inspect -f '{{range .Mounts}}{{.Source}}:{{.Destination}} {{end}}' "$lbtls_id")
	echo "lbtls mounts: $mounts"
	case $mounts in *docker.sock*) return 1 ;; esac
	got=$("$DOCKER" inspect -f '{{.State.Status}} {{.HostConfig.NetworkMode}} {{.HostConfig.CapDrop}} caps:{{len .HostConfig.CapAdd}} {{.HostConfig.Privileged}} ro:{{.HostConfig.ReadonlyRootfs}} {{.HostConfig.SecurityOpt}}' "$disc_id")
	want="running none [ALL] caps:0 false ro:true [no-new-privileges:true]"
	echo "discover: $got"
	[ "$got" = "$want" ] || return 1
	mounts=$("$DOCKER" inspect -f '{{range .Mounts}}{{.Source}}:{{.Destination}} {{end}}' "$disc_id")
	echo "discover mounts: $mounts"
	case $mounts in *docker.sock*) ;; *) return 1 ;; esac
	# its file lists website1..3, and lbtls's log says it reads it
	grep -c "^$FLASK_NET_PREFIX\.1[123]:5000$" "$STATE/discovery/upstreams"
	[ "$(grep -c "^$FLASK_NET_PREFIX\.1[123]:5000$" "$STATE/discovery/upstreams")" = 3 ] &&
		grep -q "upstream.file $STATE/discovery/upstreams" "/var/log/xdp-tls-lb/$STACK/error.log"
}

# A list that finds the same containers refreshes the file's time and
# nothing else (lbtls tells a live discover from a dead one by it,
# upstream.file_max_age): a short-lived container with the pool's label
# but no network (discover's event filter is the label) makes discover
# list again; it is never listed, so the content stays, lbtls logs no
# change and its /metrics says the file is fresh.
discovery_refreshes() {
	local f=$STATE/discovery/upstreams img before after sum changes i m
	img=$("$DOCKER" inspect -f '{{.Config.Image}}' "$(dc ps -q lbtls)") || return 1
	before=$(stat -c %y "$f") && sum=$(md5sum <"$f") || return 1
	changes=$(grep -c "upstream.file $f changed" "/var/log/xdp-tls-lb/$STACK/error.log")
	sleep 1.1 # a later time can be told apart
	"$DOCKER" run --rm --network none --label xdp-tls-lb.upstream=flaskapp \
		"$img" true >/dev/null || return 1
	for i in $(seq 1 50); do
		after=$(stat -c %y "$f")
		[ "$after" != "$before" ] && break
		sleep 0.2
	done
	m=$(ip netns exec "$HOST_NS" curl -sf --max-time 2 http://127.0.0.1:9145/metrics |
		grep '^lbtls_upstream_file_')
	echo "upstream.file time $before -> $after; $(tr '\n' ' ' <<<"$m")"
	[ "$after" != "$before" ] && [ "$(md5sum <"$f")" = "$sum" ] &&
		[ "$(grep -c "upstream.file $f changed" "/var/log/xdp-tls-lb/$STACK/error.log")" = "$changes" ] &&
		grep -qx 'lbtls_upstream_file_stale 0' <<<"$m"
}

# lbtls's listeners in the balancer's namespace (its metrics on 9145; the
# VIP's ports reach its workers through sk_lookup) belong to a process of
# the lbtls container: the container entered $HOST_NS with --netns.
lbtls_listens_from_its_container() {
	local id pid
	id=$(dc ps -q lbtls) || return 1
	pid=$(ip netns exec "$HOST_NS" ss -Hltnp "sport = :9145" |
		grep -o 'lbtls",pid=[0-9]*' | head -n1 | cut -d= -f2)
	echo "lbtls container ${id:0:12}, listener pid ${pid:-none}"
	[ -n "$pid" ] && grep -q "$id" "/proc/$pid/cgroup"
}

# lbtls's workers in its container (DESIGN.md D12): uid and gid 65532
# (stack.sh's LB_TLS_UID, lbtls.yaml's user:) on all four fields, every
# capability set empty, no_new_privs; its master (tini's child) stays
# root. They registered with the agent as that uid (socket_group,
# register_uids): "workers are registered" checks it.
lbtls_workers_unprivileged() {
	local id init master p st f hex n=0 good=0
	id=$(dc ps -q lbtls) || return 1
	init=$("$DOCKER" inspect -f '{{.State.Pid}}' "$id") || return 1
	master=$(ps -o pid=,comm= --ppid "$init" | awk '$2 == "lbtls" {print $1}' | head -n1)
	[ -n "$master" ] || {
		echo "no lbtls master under the container's init ($init)"
		return 1
	}
	st=$(grep -E '^(Uid|CapEff):' "/proc/$master/status" | tr -s '\t ' ' ' | tr '\n' ' ')
	echo "master $master: $st"
	grep -Eq '^Uid:\s+0\s+0\s+0\s+0$' "/proc/$master/status" || return 1
	# compose grants SYS_ADMIN for --netns's setns(): given up after it
	for f in CapEff CapPrm CapBnd; do
		hex=$(sed -n "s/^$f:\s*//p" "/proc/$master/status")
		(((0x$hex >> 21) & 1)) && {
			echo "the master still holds CAP_SYS_ADMIN in $f ($hex)"
			return 1
		}
	done
	for p in $(ps -o pid= --ppid "$master"); do
		n=$((n + 1))
		st=$(grep -E '^(Uid|Gid|CapInh|CapPrm|CapEff|CapAmb|NoNewPrivs):' "/proc/$p/status" |
			tr -s '\t ' ' ' | tr '\n' ' ')
		echo "worker $p: $st"
		grep -Eq '^Uid:\s+65532\s+65532\s+65532\s+65532$' "/proc/$p/status" &&
			grep -Eq '^Gid:\s+65532\s+65532\s+65532\s+65532$' "/proc/$p/status" &&
			grep -q '^CapEff:\s*0000000000000000$' "/proc/$p/status" &&
			grep -q '^CapPrm:\s*0000000000000000$' "/proc/$p/status" &&
			grep -q '^CapInh:\s*0000000000000000$' "/proc/$p/status" &&
			grep -q '^CapAmb:\s*0000000000000000$' "/proc/$p/status" &&
			grep -q '^NoNewPrivs:\s*1$' "/proc/$p/status" &&
			good=$((good + 1))
	done
	[ "$n" -ge 2 ] && [ "$good" -eq "$n" ]
}

# docker/stack.sh up on a running stack: succeeds, recreates neither
# service (same containers), and the stack still serves.
up_again_changes_nothing() {
	local before after
	before=$(dc ps -q agent lbtls | sort)
	docker/stack.sh up || return 1
	after=$(dc ps -q agent lbtls | sort)
	echo "before: $before; after: $after"
	[ -n "$before" ] && [ "$before" = "$after" ] && versions_answer
}

# lbtls --netns with a namespace that does not exist: a non-zero exit and
# a message naming the namespace and the cause.
lbtls_netns_missing() {
	local out rc=0
	out=$("$BUILD/lbtls" --netns "$STACK-missing" -t -c /dev/null 2>&1) || rc=$?
	echo "exit $rc: $out"
	[ "$rc" != 0 ] && echo "$out" | grep -q "network namespace '$STACK-missing'.*No such file or directory" || return 1
	out=$("$BUILD/lbtls" --netns ../etc -t -c /dev/null 2>&1) || rc=$?
	echo "exit $rc: $out"
	[ "$rc" != 0 ] && echo "$out" | grep -q "'../etc'"
}

# Issue 19's finding 1 as it was found: 40 TLS connections from the client
# each send a POST head (Content-Length: 4000) and a body byte every 4 s for
# 16 s, against gunicorn's 2 workers x 4 threads per container. With request
# buffering no backend connection is opened for them: 30 requests alongside
# are all served and no website is marked down (on the old lbtls every
# backend's health check timed out and 30 of 30 got 502).
slow_bodies_hold_no_backend() {
	local pid ok=0 i code ip up bad=""
	in_client /usr/bin/python3 - "$VIP4" "$DOMAIN" >"$LOGDIR/slow.txt" 2>&1 <<'PY' &
import socket, ssl, sys, time
vip, host = sys.argv[1], sys.argv[2]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
conns = []
for _ in range(40):
    s = ctx.wrap_socket(socket.create_connection((vip, 443), timeout=5),
                        server_hostname=host)
    s.sendall(b"POST /echo-headers HTTP/1.1\r\nHost: " + host.encode() +
              b"\r\nContent-Length: 4000\r\n\r\n")
    conns.append(s)
print("slow clients connected:", len(conns), flush=True)
for _ in range(5):
    for s in conns:
        try:
            s.sendall(b"x")
        except OSError:
            pass
    time.sleep(4)
print("slow clients done", flush=True)
PY
	pid=$!
	sleep 8 # gunicorn's threads would be taken and health checks failing
	for i in $(seq 30); do
		code=$(in_client curl -s -o /dev/null -w '%{http_code}' --max-time 5 -k \
			--resolve "$DOMAIN:443:$VIP4" "https://$DOMAIN/")
		[ "$code" = 200 ] && ok=$((ok + 1))
	done
	for ip in 11 12 13; do
		up=$(upstream_up "$FLASK_NET_PREFIX.$ip:5000")
		[ "$up" = 1 ] || bad="$bad $FLASK_NET_PREFIX.$ip=${up:-none}"
	done
	wait "$pid"
	cat "$LOGDIR/slow.txt"
	echo "30 requests alongside 40 slow bodies: $ok answered 200; websites down:${bad:- none}"
	grep -q "slow clients connected: 40" "$LOGDIR/slow.txt" && [ "$ok" = 30 ] && [ -z "$bad" ]
}

stop_website2_under_load() {
	local t0 t_down="" i start fails_after=0 total=0 st
	: >"$LOGDIR/load.log"
	t0=$(date +%s.%N)
	docker stop "${WEBSITE_PREFIX:-}website2" >/dev/null &
	# bounded: at most 400 requests or 20 s
	for i in $(seq 400); do
		start=$(date +%s.%N)
		if [ -z "$t_down" ] && [ "$(upstream_up "$FLASK_NET_PREFIX.12")" = 0 ]; then
			t_down=$start
		fi
		st=$(in_client curl -s -o /dev/null -w '%{http_code}' --max-time 5 -k \
			--resolve "$DOMAIN:443:$VIP4" "https://$DOMAIN/")
		echo "$start $st" >>"$LOGDIR/load.log"
		total=$((total + 1))
		if [ -n "$t_down" ] && [ "$st" != 200 ]; then
			fails_after=$((fails_after + 1))
		fi
		[ -n "$t_down" ] && [ "$total" -ge 60 ] && break
		[ "$(echo "$start - $t0 > 20" | bc)" = 1 ] && break
	done
	wait
	if [ -z "$t_down" ]; then
		echo "lbtls never marked website2 down"
		return 1
	fi
	echo "website2 detected down $(echo "$t_down - $t0" | bc) s after docker stop; $total requests, $fails_after failed after that" |
		tee "$LOGDIR/stop.txt"
	[ "$fails_after" = 0 ]
}

website2_back() {
	local i
	docker start "${WEBSITE_PREFIX:-}website2" >/dev/null || return 1
	for i in $(seq 60); do # bounded: 30 s for the healthcheck and lbtls
		if get / | grep -q 'Version 2'; then
			echo "website2 serves again after $i tries"
			return 0
		fi
		sleep 0.5
	done
	return 1
}

# The pool scaled with compose, as a user would: `up -d --scale flaskapp=2`
# adds two containers (five Flask containers in all) that lbtls discovers
# by their labels; they must serve within 2 s of being healthy. Then
# `--scale flaskapp=0` removes them under load with no request failing.
# The trap's `stack.sh down` removes them in any case.
scale_with_compose() {
	local ids=() ips=() id ip i net=${FLASK_NETWORK:-$STACK-flask}
	local t_healthy="" t_seen="" st fails=0 total=0 seen gone=0 n
	local t_up
	t_up=$(date +%s.%N)
	dc up -d --no-build --scale flaskapp=2 >>"$LOGDIR/compose.log" 2>&1 || return 1
	mapfile -t ids < <(dc ps -q flaskapp)
	for id in "${ids[@]}"; do
		ips+=("$("$DOCKER" inspect -f "{{(index .NetworkSettings.Networks \"$net\").IPAddress}}" "$id")")
	done
	n=$("$DOCKER" ps -q --filter "label=com.docker.compose.project=$STACK" \
		--filter label=xdp-tls-lb.upstream=flaskapp | wc -l)
	echo "scaled: ${#ids[@]} flaskapp containers at ${ips[*]}; $n Flask containers in all"
	[ "${#ids[@]}" = 2 ] && [ "$n" = 5 ] || return 1
	# bounded: 40 s for both healthchecks (the first runs after 5 s)
	for i in $(seq 400); do
		if [ "$("$DOCKER" inspect -f '{{.State.Health.Status}}' "${ids[@]}" | sort -u)" = healthy ]; then
			t_healthy=$(date +%s.%N)
			echo "both healthy $(echo "$t_healthy - $t_up" | bc) s after docker-compose up"
			break
		fi
		sleep 0.1
	done
	# bounded: 2 s from healthy; each round 5 requests, then lbtls's counts
	while [ -n "$t_healthy" ] &&
		[ "$(echo "$(date +%s.%N) - $t_healthy < 2" | bc)" = 1 ]; do
		for i in 1 2 3 4 5; do get / >/dev/null; done
		seen=0
		for ip in "${ips[@]}"; do
			ip netns exec "$HOST_NS" curl -sf --max-time 2 http://127.0.0.1:9145/metrics |
				grep -qE "^lbtls_upstream_responses_total\{server=\"$ip:5000\"\} [1-9]" &&
				seen=$((seen + 1))
		done
		if [ "$seen" = 2 ]; then
			t_seen=$(date +%s.%N)
			echo "both served requests $(echo "$t_seen - $t_healthy" | bc) s after they were healthy" |
				tee "$LOGDIR/scale.txt"
			break
		fi
	done
	[ -n "$t_seen" ] || {
		echo "the new containers did not serve within 2 s of being healthy"
		return 1
	}
	dc up -d --no-build --scale flaskapp=0 >>"$LOGDIR/compose.log" 2>&1 &
	# bounded: 20 requests at least, 300 or 20 s at most
	for i in $(seq 300); do
		st=$(in_client curl -s -o /dev/null -w '%{http_code}' --max-time 5 -k \
			--resolve "$DOMAIN:443:$VIP4" "https://$DOMAIN/")
		total=$((total + 1))
		[ "$st" = 200 ] || fails=$((fails + 1))
		gone=0
		for ip in "${ips[@]}"; do
			case $(upstream_up "$ip:5000") in "" | 0) gone=$((gone + 1)) ;; esac
		done
		[ "$i" -ge 20 ] && [ "$gone" = 2 ] && break
		[ "$(echo "$(date +%s.%N) - $t_seen > 20" | bc)" = 1 ] && break
	done
	wait
	n=$(dc ps -q flaskapp | wc -l)
	echo "after --scale flaskapp=0: $n flaskapp containers, $gone of 2 left the pool; $total requests, $fails failed" |
		tee -a "$LOGDIR/scale.txt"
	[ "$n" = 0 ] && [ "$gone" = 2 ] && [ "$fails" = 0 ] && versions_answer
}

docker_preconditions docker docker-compose curl bc ip ss

check "lbtls --netns with a missing namespace fails, naming it" lbtls_netns_missing

check "docker/stack.sh up (make run) brings the stack up" \
	docker/stack.sh up
check "agent and lbtls run as compose services, host network, named caps only" \
	services_run_in_compose
check "lbtls has no Docker socket; discover has it, no network, no caps, read-only" \
	discovery_split
check "discover's relist with the same containers refreshes upstream.file's time only" \
	discovery_refreshes
check "lbtls's listener in $HOST_NS belongs to its container (--netns)" \
	lbtls_listens_from_its_container
check "lbtls's workers: uid 65532 x4, CapEff 0000000000000000, no caps, NoNewPrivs; master root without CAP_SYS_ADMIN" \
	lbtls_workers_unprivileged
check "the three versions answer through XDP and lbtls" versions_answer
check "HTTP redirects to HTTPS with the query kept" redirect_keeps_query
check "Flask sees the client's address in X-Forwarded-For" client_in_xff
check "lbtls workers are registered and XDP is attached" \
	bash -c "$BUILD/lbctl --instance $STACK --netns $HOST_NS status | grep -q 'lbh (native)'"
check "docker/stack.sh up again changes nothing and the stack serves" \
	up_again_changes_nothing
check "40 slow request bodies hold no backend: 30 of 30 served, none marked down" \
	slow_bodies_hold_no_backend
check "docker stop website2 under load: nothing fails once it is dropped" \
	stop_website2_under_load
[ -f "$LOGDIR/stop.txt" ] && sed 's/^/     /' "$LOGDIR/stop.txt"
check "website2 started again serves again" website2_back
check "up --scale flaskapp=2: the new ones serve within 2 s of healthy, leave on --scale 0" \
	scale_with_compose
[ -f "$LOGDIR/scale.txt" ] && sed 's/^/     /' "$LOGDIR/scale.txt"
check "docker/stack.sh down (make stop) removes what it made" \
	bash -c "docker/stack.sh down"
check "nothing of the stack is left (containers, network, namespaces, pins)" \
	nothing_left
check "docker/stack.sh down again does nothing, successfully" \
	bash -c "docker/stack.sh down"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
