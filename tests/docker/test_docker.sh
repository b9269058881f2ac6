#!/usr/bin/env bash
# Docker half of the stack: engine, offline base image, app images, compose.
#
# Usage: bash tests/docker/test_docker.sh [BUILD_DIR]     (as root)
#
# Starts the engine if none answers (docker/dockerd-up.sh), builds the base
# image if it is missing (docker/base-image.sh, a minute or two the first
# time), builds lb-flask:1..3 (docker/build-images.sh), then brings up
# website1..3 with docker/docker-compose.yml under a project name, container
# names and a network of this run's own, on a free 198.19.x.0/24, and checks
# them from the host by their bridge addresses. Prints one line per check
# and closes with "N passed, N failed"; a missing tool or a non-root user is
# a failure, never a skip. Every container and network this run made is
# removed on exit, whatever happened; the images are kept for the next run.
# Logs: BUILD_DIR/tests/docker/.
set -u
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${1:-build}
case $build in /*) ;; *) build=$root/$build ;; esac
logdir=$build/tests/docker
mkdir -p "$logdir"
# shellcheck source=docker/lib.sh
. "$root/docker/lib.sh"

BASE_IMAGE=${BASE_IMAGE:-lb-base:bookworm}
APP_IMAGE=${APP_IMAGE:-lb-flask}
export BASE_IMAGE APP_IMAGE

pass=0
fail=0
ok() {
	echo "ok   - $*"
	pass=$((pass + 1))
}
bad() {
	echo "FAIL - $*"
	fail=$((fail + 1))
}
check() { # check DESCRIPTION COMMAND...: ok when the command succeeds
	local what=$1
	shift
	if "$@"; then ok "$what"; else bad "$what"; fi
}

# This run's names: nothing of a user's stack is touched.
proj=lbtdocker$$x$RANDOM
export COMPOSE_PROJECT_NAME=$proj
export WEBSITE_PREFIX=$proj-
export FLASK_NETWORK=$proj-flask-network
compose_file=$root/docker/docker-compose.yml
compose_up=0
extra=$proj-env
ns=$proj-host
veth_host=lbtd$$h

compose() {
	docker-compose -f "$compose_file" --project-directory "$root/docker" "$@"
}

cleanup() {
	[ "$compose_up" -eq 1 ] || return 0
	trap '' INT TERM
	{
		ip netns del "$ns"
		ip link del "$veth_host"
		"$DOCKER" rm -f "$extra"
		compose down --remove-orphans --volumes --timeout 5
		"$DOCKER" network rm "$FLASK_NETWORK"
	} >>"$logdir/cleanup.log" 2>&1
	local left
	left=$("$DOCKER" ps -aq --filter "label=com.docker.compose.project=$proj" 2>&1)
	left+=$("$DOCKER" ps -aq --filter "name=^$proj-" 2>&1)
	left+=$("$DOCKER" network ls -q --filter "name=^$FLASK_NETWORK\$" 2>&1)
	left+=$(ip netns list | grep -w "$ns")
	if [ -z "$left" ]; then
		ok "cleanup: no container or network of $proj left"
	else
		bad "cleanup: left behind: $(echo "$left" | tr '\n' ' ')"
	fi
}

finish() {
	local rc=$?
	cleanup
	echo "$pass passed, $fail failed"
	if [ "$fail" -gt 0 ] || [ "$rc" -ne 0 ]; then exit 1; fi
	exit 0
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- preconditions: fail, never skip --------------------------------------------
if [ "$(id -u)" -eq 0 ]; then
	ok "running as root"
else
	bad "running as root (the engine and debootstrap need it; run as root)"
	exit 1
fi

missing=
for t in "$DOCKER" /usr/sbin/dockerd containerd runc docker-compose debootstrap curl; do
	command -v "$t" >/dev/null 2>&1 || missing+=" $t"
done
if [ -z "$missing" ]; then
	ok "tools present: $DOCKER dockerd containerd runc docker-compose debootstrap curl"
else
	bad "tools missing:$missing (Debian packages docker.io containerd runc docker-compose debootstrap curl)"
	exit 1
fi

# --- engine, base image, app images ---------------------------------------------------
if "$root/docker/dockerd-up.sh" >"$logdir/dockerd-up.log" 2>&1; then
	ok "engine answers (server $(server_version), default bridge $(default_bridge_subnet))"
else
	bad "engine answers (see $logdir/dockerd-up.log)"
	exit 1
fi

if "$root/docker/base-image.sh" >"$logdir/base-image.log" 2>&1; then
	ok "base image: $(tail -n 1 "$logdir/base-image.log" | sed 's/^base-image: //')"
else
	bad "base image $BASE_IMAGE (see $logdir/base-image.log)"
	exit 1
fi

if "$root/docker/build-images.sh" >"$logdir/build-images.log" 2>&1; then
	ok "app images $APP_IMAGE:1..3 build with --build-arg BASE=$BASE_IMAGE"
else
	bad "app images $APP_IMAGE:1..3 build with --build-arg BASE=$BASE_IMAGE (see $logdir/build-images.log)"
	exit 1
fi

image_ok() { # the image's own config: non-root user, healthcheck, version
	local img=$APP_IMAGE:$1
	[ "$("$DOCKER" image inspect -f '{{.Config.User}}' "$img")" = 10001:10001 ] &&
		"$DOCKER" image inspect -f '{{.Config.Healthcheck.Test}}' "$img" | grep -q /healthz &&
		"$DOCKER" image inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$img" |
		grep -qx "VERSION=$1"
}
for v in 1 2 3; do
	check "$APP_IMAGE:$v: USER 10001:10001, HEALTHCHECK on /healthz, VERSION=$v" image_ok "$v"
done

# The lbctl/lbtls image of each TLS build (docker/lb/Dockerfile's TLS
# argument): OpenSSL from BUILD_DIR, BoringSSL from BORINGSSL_BUILD
# (make test sets it; default build-boringssl, made by make TLS=boringssl).
lb_image_ok() { # lb_image_ok DIR TLS NAME: builds, and its lbtls says NAME
	local ref
	ref=$(BUILD=$1 TLS=$2 "$root/docker/build-lb-image.sh" 2>>"$logdir/lb-image.log" |
		tail -n 1) || return 1
	"$DOCKER" run --rm --network none "$ref" lbtls -V | grep -q "TLS library $3" &&
		[ "$("$DOCKER" image inspect -f '{{index .Config.Labels "xdp-tls-lb.tls"}}' "$ref")" = "$2" ]
}
boring=${BORINGSSL_BUILD:-build-boringssl}
case $boring in /*) ;; *) boring=$root/$boring ;; esac
for t in "openssl $build OpenSSL" "boringssl $boring BoringSSL"; do
	read -r tls dir name <<<"$t"
	if [ -x "$dir/lbtls" ] && [ -x "$dir/lbctl" ]; then
		check "lbctl/lbtls image with TLS=$tls from ${dir#"$root"/}: lbtls -V says $name" \
			lb_image_ok "$dir" "$tls" "$name"
	else
		bad "lbctl/lbtls image with TLS=$tls: ${dir#"$root"/}/lbtls or lbctl missing (make TLS=$tls BUILD=${dir#"$root"/})"
	fi
done

# --- compose up on a free 198.19.x.0/24 ----------------------------------------------
# shellcheck disable=SC2046 # one argument per network id
used=$("$DOCKER" network inspect $("$DOCKER" network ls -q) \
	--format '{{range .IPAM.Config}}{{.Subnet}} {{end}}' 2>/dev/null)
used+=" $(ip -4 -o addr show) $(ip -4 route show)"
prefix=
for ((i = 0; i < 50; i++)); do
	x=$((201 + ($$ + i) % 50))
	case $used in *"198.19.$x."*) continue ;; esac
	prefix=198.19.$x
	break
done
if [ -n "$prefix" ]; then
	ok "free subnet for flask-network: $prefix.0/24"
else
	bad "free subnet for flask-network in 198.19.201-250.0/24"
	exit 1
fi
export FLASK_NET_PREFIX=$prefix

check "compose file is valid for docker-compose $(docker-compose version --short 2>/dev/null)" \
	compose config -q

compose_up=1
if compose up -d --no-build >"$logdir/compose-up.log" 2>&1; then
	ok "compose up -d: project $proj, network $FLASK_NETWORK"
else
	bad "compose up -d (see $logdir/compose-up.log)"
	exit 1
fi

subnet=$("$DOCKER" network inspect -f '{{range .IPAM.Config}}{{.Subnet}}{{end}}' "$FLASK_NETWORK" 2>/dev/null)
if [ "$subnet" = "$prefix.0/24" ] && in_test_space "$subnet"; then
	ok "network $FLASK_NETWORK is $subnet, inside 198.18.0.0/15"
else
	bad "network $FLASK_NETWORK is '$subnet', expected $prefix.0/24"
	exit 1
fi

health() { "$DOCKER" inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$1" 2>/dev/null; }
state() { "$DOCKER" inspect -f '{{.State.Status}}' "$1" 2>/dev/null; }
# wait_health CONTAINER: poll until healthy or unhealthy, at most 120 times.
wait_health() {
	local i h
	for ((i = 0; i < 120; i++)); do
		h=$(health "$1")
		case $h in healthy | unhealthy) break ;; esac
		sleep 1
	done
	[ "$h" = healthy ]
}
ip_of() {
	"$DOCKER" inspect -f "{{(index .NetworkSettings.Networks \"$FLASK_NETWORK\").IPAddress}}" "$1" 2>/dev/null
}
# get URL: the body, from an address of this run's network only.
get() {
	local host=${1#http://}
	host=${host%%[:/]*}
	in_test_space "$host" || {
		echo "refusing $1: outside 198.18.0.0/15" >&2
		return 1
	}
	curl -sS --max-time 5 "$1"
}

for n in 1 2 3; do
	c=${proj}-website$n
	if wait_health "$c"; then
		ok "website$n ($c) is healthy"
	else
		bad "website$n ($c) is healthy: state $(state "$c"), health $(health "$c")"
		"$DOCKER" logs --tail 20 "$c" >"$logdir/website$n.log" 2>&1
	fi
done

for n in 1 2 3; do
	c=${proj}-website$n
	ip=$(ip_of "$c")
	if [ "$ip" != "$prefix.1$n" ]; then
		bad "website$n has address $prefix.1$n on $FLASK_NETWORK (has '$ip')"
		continue
	fi
	body=$(get "http://$ip:5000/" 2>>"$logdir/curl.log")
	want="<h1><center>This is Flask Application - Version $n</center></h1>"
	if [ "$body" = "$want" ]; then
		ok "website$n at $ip:5000 answers 'This is Flask Application - Version $n'"
	else
		bad "website$n at $ip:5000 answers Version $n: got '$body'"
	fi
	body=$(get "http://$ip:5000/healthz" 2>>"$logdir/curl.log")
	check "website$n /healthz answers ok" [ "$body" = ok ]
done

# docker top: every process non-root, PID 1 the gunicorn master plus its
# workers (WEB_CONCURRENCY, default 2), no Flask development server.
top_ok() {
	local c=$1 out
	# (a healthcheck probe may show up too: it runs as the image's user)
	out=$("$DOCKER" top "$c" -eo pid,uid,args 2>/dev/null | tail -n +2)
	[ -n "$out" ] || return 1
	echo "$out" | awk '$2 != 10001 { bad = 1 } END { exit bad }' || return 1
	[ "$(echo "$out" | grep -c 'gunicorn --config /app/gunicorn.conf.py app:app')" -eq 3 ] || return 1
	"$DOCKER" exec "$c" cat /proc/1/cmdline | tr '\0' ' ' | grep -q 'gunicorn'
}
for n in 1 2 3; do
	c=${proj}-website$n
	check "website$n runs as uid 10001 under gunicorn (master + 2 workers, docker top)" top_ok "$c"
done

# A test host (network namespace) on the bridge, as tests/tls will put lbtls:
# a veth whose peer is a port of flask-network's bridge, an address from the
# half Docker does not hand out. Pure layer 2: no forwarding, no NAT.
netns_ok() {
	local br
	br=br-$("$DOCKER" network inspect -f '{{.Id}}' "$FLASK_NETWORK" | cut -c1-12)
	ip netns add "$ns" &&
		ip link add "$veth_host" type veth peer name eth0 netns "$ns" &&
		ip link set "$veth_host" master "$br" up &&
		ip -n "$ns" addr add "$prefix.200/24" dev eth0 &&
		ip -n "$ns" link set eth0 up &&
		ip -n "$ns" link set lo up || return 1
	local i body
	for ((i = 0; i < 10; i++)); do # bounded: the port may take a moment to forward
		body=$(ip netns exec "$ns" curl -sS --max-time 2 "http://$prefix.13:5000/" 2>>"$logdir/curl.log")
		[ "$body" = "<h1><center>This is Flask Application - Version 3</center></h1>" ] && return 0
		sleep 0.5
	done
	return 1
}
check "a test namespace ($prefix.200) on the bridge reaches website3:5000" netns_ok

engine_rules_ok() {
	! iptables -S 2>/dev/null | grep -q DOCKER &&
		! iptables -t nat -S 2>/dev/null | grep -q DOCKER
}
check "the engine added no iptables rules (no DOCKER chains, no masquerading)" engine_rules_ok

ports_ok() {
	local c=$1
	[ -z "$("$DOCKER" port "$c" 2>/dev/null)" ] &&
		[ "$("$DOCKER" inspect -f '{{len .NetworkSettings.Networks}}' "$c")" -eq 1 ]
}
check "no published ports, only $FLASK_NETWORK attached" \
	ports_ok "${proj}-website1"

# --- stop and start one backend ----------------------------------------------------------
c2=${proj}-website2
"$DOCKER" stop -t 10 "$c2" >>"$logdir/stop-start.log" 2>&1
st=$(state "$c2")
h=$(health "$c2")
if [ "$st" = exited ] && [ "$h" != healthy ]; then
	ok "docker stop website2: state $st, health $h"
else
	bad "docker stop website2: state $st, health $h (want exited, not healthy)"
fi
if get "http://$prefix.12:5000/healthz" >/dev/null 2>&1; then
	bad "stopped website2 no longer answers on $prefix.12:5000"
else
	ok "stopped website2 no longer answers on $prefix.12:5000"
fi
others_ok() { [ "$(health "${proj}-website1")" = healthy ] && [ "$(health "${proj}-website3")" = healthy ]; }
check "website1 and website3 stay healthy" others_ok

"$DOCKER" start "$c2" >>"$logdir/stop-start.log" 2>&1
if wait_health "$c2" && [ "$(get "http://$prefix.12:5000/" 2>>"$logdir/curl.log")" = \
	"<h1><center>This is Flask Application - Version 2</center></h1>" ]; then
	ok "docker start website2: healthy again, answers Version 2"
else
	bad "docker start website2: state $(state "$c2"), health $(health "$c2")"
fi

# --- VERSION from the environment overrides the build argument ------------------------
if "$DOCKER" run -d --name "$extra" --network "$FLASK_NETWORK" --ip "$prefix.21" \
	-e VERSION=7 --read-only "$APP_IMAGE:1" >>"$logdir/env.log" 2>&1 &&
	wait_health "$extra" &&
	[ "$(get "http://$prefix.21:5000/" 2>>"$logdir/curl.log")" = \
		"<h1><center>This is Flask Application - Version 7</center></h1>" ]; then
	ok "VERSION=7 in the environment overrides the image's VERSION=1"
else
	bad "VERSION=7 in the environment overrides the image's VERSION=1 (see $logdir/env.log)"
fi
