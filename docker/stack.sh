#!/usr/bin/env bash
# The whole system on one host: `make run` is `docker/stack.sh up`, `make
# stop` is `docker/stack.sh down`. Both are idempotent.
#
#   up    Docker engine, offline base image and the three Flask images;
#         a certificate for $DOMAIN (Let's Encrypt's if present, else
#         self-signed); website1..3 on flask-network; the lbctl agent with
#         XDP on the host interface; lbtls workers registered with it,
#         finding the containers by their labels (upstream.docker).
#   down  everything up made, in reverse; images and certificates are kept.
#
# Environment (all optional):
#   STACK   name of this stack: namespaces, BPF instance, compose project
#           (default lb; tests use their own so a user's stack is untouched)
#   IFACE   a real interface to serve on; empty (default): a demo topology
#           of two network namespaces, $STACK-host (the balancer) and
#           $STACK-client (a client), joined by veth, so the machine's own
#           interfaces are never touched
#   DOMAIN  certificate name (flask.example.test)
#   WORKERS lbtls workers (2)
#   BUILD   build directory with lbctl and lbtls (build)
#   FLASK_NET_PREFIX  flask-network's /24 (198.19.200)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=docker/lib.sh
. docker/lib.sh

STACK=${STACK:-lb}
DOMAIN=${DOMAIN:-flask.example.test}
WORKERS=${WORKERS:-2}
BUILD=${BUILD:-build}
IFACE=${IFACE:-}
export FLASK_NET_PREFIX=${FLASK_NET_PREFIX:-198.19.200}
export FLASK_NETWORK=${FLASK_NETWORK:-$STACK-flask}
export WEBSITE_PREFIX=${WEBSITE_PREFIX:-}
export COMPOSE_PROJECT_NAME=$STACK
STATE=/run/xdp-tls-lb/$STACK
LOGS=/var/log/xdp-tls-lb/$STACK
HOST_NS=$STACK-host
CLIENT_NS=$STACK-client
BRIDGE_PORT=${STACK:0:10}-br # root-namespace end of the host's bridge link
VIP4=198.18.0.100
VIP6=fd00:198:18::100
CLIENT4=198.18.1.10
CLIENT6=fd00:198:18:1::10

compose() {
	docker-compose -f docker/docker-compose.yml "$@"
}

# Commands as arrays, so that setsid can run them: lbctl on this stack's
# instance and namespace, and a prefix that runs in the balancer's
# namespace (demo) or here (IFACE).
LBCTL=("$BUILD/lbctl" --instance "$STACK")
IN_HOST=()
if [ -z "$IFACE" ]; then
	LBCTL+=(--netns "$HOST_NS")
	IN_HOST=(ip netns exec "$HOST_NS")
fi

lbctl() {
	"${LBCTL[@]}" "$@"
}

# --- certificate -------------------------------------------------------------
cert_dir() {
	if [ -f "/etc/letsencrypt/live/$DOMAIN/fullchain.pem" ]; then
		echo "/etc/letsencrypt/live/$DOMAIN"
	else
		echo "/var/lib/xdp-tls-lb/certs/live/$DOMAIN"
	fi
}

make_cert() {
	local dir
	dir=$(cert_dir)
	[ -f "$dir/fullchain.pem" ] && return 0
	mkdir -p "$dir"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-days 825 -subj "/CN=$DOMAIN" \
		-addext "subjectAltName=DNS:$DOMAIN" \
		-keyout "$dir/privkey.pem" -out "$dir/fullchain.pem" 2>/dev/null
	chmod 600 "$dir/privkey.pem"
	echo "stack: self-signed certificate for $DOMAIN in $dir"
}

# --- demo topology -----------------------------------------------------------
# $HOST_NS: lbh (to the client, XDP here), lo (the VIPs), lbup (a port of
# flask-network's bridge: the upstream side). $CLIENT_NS: lbc.
topology_up() {
	local br
	ip netns list | grep -qw "$HOST_NS" && return 0
	br=br-$("$DOCKER" network inspect -f '{{.Id}}' "$FLASK_NETWORK" | cut -c1-12)
	ip netns add "$HOST_NS"
	ip netns add "$CLIENT_NS"
	ip -n "$HOST_NS" link add lbh type veth peer name lbc netns "$CLIENT_NS"
	ip -n "$HOST_NS" link set lo up
	ip -n "$HOST_NS" addr add $VIP4/32 dev lo
	ip -n "$HOST_NS" addr add $VIP6/128 dev lo
	ip -n "$HOST_NS" addr add 198.18.1.1/24 dev lbh
	ip -n "$HOST_NS" addr add fd00:198:18:1::1/64 dev lbh nodad
	ip -n "$HOST_NS" link set lbh up
	ip -n "$CLIENT_NS" link set lo up
	ip -n "$CLIENT_NS" addr add $CLIENT4/24 dev lbc
	ip -n "$CLIENT_NS" addr add $CLIENT6/64 dev lbc nodad
	ip -n "$CLIENT_NS" link set lbc up
	ip -n "$CLIENT_NS" route add 198.18.0.0/24 via 198.18.1.1
	ip -n "$CLIENT_NS" route add fd00:198:18::/64 via fd00:198:18:1::1
	ip link add "$BRIDGE_PORT" type veth peer name lbup netns "$HOST_NS"
	ip link set "$BRIDGE_PORT" master "$br" up
	ip -n "$HOST_NS" addr add "$FLASK_NET_PREFIX.200/24" dev lbup
	ip -n "$HOST_NS" link set lbup up
}

topology_down() {
	ip link del "$BRIDGE_PORT" 2>/dev/null || true
	ip netns del "$CLIENT_NS" 2>/dev/null || true
	ip netns del "$HOST_NS" 2>/dev/null || true
}

# --- configs -------------------------------------------------------------------
write_configs() {
	local dir iface vips
	dir=$(cert_dir)
	mkdir -p "$STATE" "$LOGS"
	if [ -z "$IFACE" ]; then
		iface=lbh
		vips="  - address: $VIP4:443
  - address: $VIP4:80
  - address: \"[$VIP6]:443\"
  - address: \"[$VIP6]:80\""
	else
		iface=$IFACE
		local a
		a=$(ip -4 -o addr show dev "$IFACE" | awk '{print $4}' | cut -d/ -f1 | head -n1)
		[ -n "$a" ] || die "stack: '$IFACE' has no IPv4 address to serve on"
		vips="  - address: $a:443
  - address: $a:80"
	fi
	cat >"$STATE/agent.yaml" <<EOF
# generated by docker/stack.sh
socket: /run/lbctl/$STACK.sock
metrics: 127.0.0.1:9146
interfaces:
  - name: $iface
    mode: native
vips:
$vips
health: {interval_ms: 1000, timeout_ms: 800, rise: 2, fall: 2}
EOF
	cat >"$STATE/lbtls.yaml" <<EOF
# generated by docker/stack.sh
workers: $WORKERS
agent:
  socket: /run/lbctl/$STACK.sock
tls:
  certificates:
    - fullchain: $dir/fullchain.pem
      privkey: $dir/privkey.pem
upstream:
  algorithm: round_robin
  # website1..3 and any container started later with these labels on
  # this stack's network join when healthy and leave when they stop
  docker:
    socket: /var/run/docker.sock
    label: xdp-tls-lb.upstream=flaskapp
    port_label: xdp-tls-lb.port
    network: $FLASK_NETWORK
  health: {path: /healthz, interval: 1s, timeout: 1s, rise: 1, fall: 2}
  keepalive: 32
  keepalive_timeout: 30s
acme_webroot: /var/lib/xdp-tls-lb/acme
log:
  access: $LOGS/access.log
  error: $LOGS/error.log
metrics: 127.0.0.1:9145
x_served_by: true
EOF
	mkdir -p /var/lib/xdp-tls-lb/acme
}

# --- processes -------------------------------------------------------------------
start() { # start NAME CMD...: in the background, pid in $STATE/NAME.pid
	local name=$1
	shift
	if [ -f "$STATE/$name.pid" ] && kill -0 "$(cat "$STATE/$name.pid")" 2>/dev/null; then
		return 0
	fi
	setsid "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
	echo $! >"$STATE/$name.pid"
}

stop() { # stop NAME: SIGTERM, then SIGKILL after 10 s
	local pid _
	[ -f "$STATE/$1.pid" ] || return 0
	pid=$(cat "$STATE/$1.pid")
	kill "$pid" 2>/dev/null || true
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || true
	rm -f "$STATE/$1.pid"
}

wait_workers() {
	local up=0 _
	for _ in $(seq 100); do
		up=$(lbctl worker list 2>/dev/null | grep -c ' up ' || true)
		[ "$up" -ge "$WORKERS" ] && return 0
		sleep 0.1
	done
	die "stack: only $up of $WORKERS lbtls workers registered; see $LOGS/"
}

# lbtls discovers website1..3 from the engine once their healthchecks
# pass (upstream.docker): wait until every worker has the three.
wait_pool() {
	local n=0 _
	for _ in $(seq 600); do # bounded: 60 s, the healthcheck's start period
		n=$("${IN_HOST[@]}" curl -sf --max-time 2 http://127.0.0.1:9145/metrics |
			grep -c '^lbtls_upstream_up{.*} 1$' || true)
		[ "$n" -ge $((3 * WORKERS)) ] && return 0
		sleep 0.1
	done
	die "stack: lbtls has $n of $((3 * WORKERS)) upstreams up; see $LOGS/"
}

up() {
	[ "$(id -u)" = 0 ] || die "stack: must run as root"
	if [ ! -x "$BUILD/lbctl" ] || [ ! -x "$BUILD/lbtls" ]; then
		die "stack: build first (make)"
	fi
	docker/dockerd-up.sh
	docker/base-image.sh
	docker/build-images.sh
	make_cert
	compose up -d --no-build website1 website2 website3
	[ -n "$IFACE" ] || topology_up
	write_configs
	"${IN_HOST[@]}" "$BUILD/lbtls" -t -c "$STATE/lbtls.yaml" >/dev/null
	start agent "${LBCTL[@]}" agent -c "$STATE/agent.yaml"
	start lbtls "${IN_HOST[@]}" "$BUILD/lbtls" -c "$STATE/lbtls.yaml"
	wait_workers
	wait_pool
	cat <<EOF

The stack '$STACK' is up: $WORKERS lbtls workers behind XDP, three Flask
containers behind them. Logs in $LOGS/, state with 'lbctl --instance $STACK status'.
EOF
	if [ -z "$IFACE" ]; then
		cat <<EOF
From the demo client namespace:
  ip netns exec $CLIENT_NS curl -k --resolve $DOMAIN:443:$VIP4 https://$DOMAIN/
  ip netns exec $CLIENT_NS curl -k -g --resolve $DOMAIN:443:[$VIP6] https://$DOMAIN/
  ip netns exec $CLIENT_NS curl -i "http://$VIP4/?q=1"     # 301, query kept
  $BUILD/lbctl --instance $STACK --netns $HOST_NS stats
Stop with: make stop
EOF
	fi
}

down() {
	stop lbtls
	stop agent
	if [ -z "$IFACE" ] && ip netns list | grep -qw "$HOST_NS"; then
		lbctl unload 2>/dev/null || true
	elif [ -n "$IFACE" ]; then
		lbctl unload 2>/dev/null || true
	fi
	if engine_answers; then
		compose down --remove-orphans >/dev/null 2>&1 || true
	fi
	[ -n "$IFACE" ] || topology_down
	rm -rf "$STATE"
	echo "stack: '$STACK' stopped"
}

case ${1:-} in
up) up ;;
down) down ;;
*) die "usage: docker/stack.sh up|down" ;;
esac
