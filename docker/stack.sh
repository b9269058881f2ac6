#!/usr/bin/env bash
# The whole system on one host: `make run` is `docker/stack.sh up`, `make
# stop` is `docker/stack.sh down`. Both are idempotent.
#
#   up    Docker engine, offline base image, the three Flask images and the
#         lbctl+lbtls image; a certificate for $DOMAIN (Let's Encrypt's if
#         present, else self-signed); website1..3 on flask-network; the
#         demo topology; the configurations; then the compose services
#         `agent` (lbctl's agent, XDP on the balancer's interface),
#         `discover` (`lbtls discover`: the only one with the Docker
#         socket; finds the containers by their labels, upstream.docker,
#         and writes their addresses to $STATE/discovery/upstreams) and
#         `lbtls` (its workers registered with the agent, its servers read
#         from that file: upstream.file).
#   down  everything up made, in reverse; images and certificates are kept.
#   scaleout up|down|status|drain HOST|undrain HOST
#         the scale-out mode (docs/scaleout.md): a router with BIRD, two
#         balancer hosts and two worker hosts as containers on one engine;
#         docker/scaleout/scaleout.sh, which documents its environment.
#
# Both services run in the host network namespace (network_mode: host) and
# enter $STACK-host with --netns in the demo topology. The stack's compose
# variables are kept in /run/xdp-tls-lb/$STACK/compose.env, so that
#   docker-compose --env-file /run/xdp-tls-lb/$STACK/compose.env \
#       -f docker/docker-compose.yml up -d --scale flaskapp=N
# scales its pool (docs/docker.md).
#
# Environment (all optional):
#   STACK   name of this stack: namespaces, BPF instance, compose project
#           (default lb; tests use their own so a user's stack is untouched)
#   IFACE   a real interface to serve on; empty (default): a demo topology
#           of two network namespaces, $STACK-host (the balancer) and
#           $STACK-client (a client), joined by veth, so the machine's own
#           interfaces are never touched. IFACE's first IPv4 address is
#           served shared: the host's SSH, ping and outgoing connections
#           keep working on it
#   EXCLUSIVE  1: with IFACE, give that address to the balancer alone
#           ('exclusive: true'; refused while sshd listens on it)
#   DOMAIN  certificate name (flask.example.test)
#   WORKERS lbtls workers (2)
#   LB_TLS_UID  uid and gid of lbtls's workers (65532, distroless's
#           `nonroot`: no passwd entry needed, outside Debian's system and
#           human ranges, not nobody, whom other daemons share)
#   BUILD   build directory with lbctl and lbtls (build)
#   FLASK_NET_PREFIX  flask-network's /24 (198.19.200)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=docker/lib.sh
. docker/lib.sh

STACK=${STACK:-lb}
DOMAIN=${DOMAIN:-flask.example.test}
WORKERS=${WORKERS:-2}
LB_TLS_UID=${LB_TLS_UID:-65532}
BUILD=${BUILD:-build}
IFACE=${IFACE:-}
EXCLUSIVE=${EXCLUSIVE:-}
export FLASK_NET_PREFIX=${FLASK_NET_PREFIX:-198.19.200}
export FLASK_NETWORK=${FLASK_NETWORK:-$STACK-flask}
export WEBSITE_PREFIX=${WEBSITE_PREFIX:-}
export COMPOSE_PROJECT_NAME=$STACK
# agent and lbtls are in the profile "lb": a plain `docker-compose up`
# (docs/docker.md's quick start) leaves them out.
export COMPOSE_PROFILES=lb
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
	if [ -f "$STATE/compose.env" ]; then
		docker-compose --env-file "$STATE/compose.env" -f docker/docker-compose.yml "$@"
	else
		docker-compose -f docker/docker-compose.yml "$@"
	fi
}

# lbctl (here, on the host: status, worker list, unload) on this stack's
# instance and namespace, and a prefix that runs in the balancer's
# namespace (demo) or here (IFACE).
LBCTL=("$BUILD/lbctl" --instance "$STACK")
IN_HOST=()
NETNS_OPT=""
if [ -z "$IFACE" ]; then
	LBCTL+=(--netns "$HOST_NS")
	IN_HOST=(ip netns exec "$HOST_NS")
	NETNS_OPT="--netns $HOST_NS"
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
	# XDP answers SYNs in flood mode with XDP_TX out of lbh, and a veth
	# drops such frames unless its peer has NAPI, which an XDP program
	# (or GRO) gives it: an XDP_PASS program on the client's end keeps
	# the demo's cookies working. Without it lbctl keeps cookies off on
	# lbh (lbctl status: veth-peer-no-napi) and the kernel's own
	# syncookies answer floods. A NIC needs nothing of the kind.
	ip -n "$CLIENT_NS" link set dev lbc xdpdrv obj "$BUILD/bpf/lb_pass.bpf.o" sec xdp
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
	mkdir -p "$STATE" "$STATE/discovery" "$LOGS"
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
		# The host's own address: shared, so XDP passes what the stack
		# does not serve (SSH, ping, the replies of the host's own
		# connections). 'exclusive: true' is the operator's call.
		local excl="" how="shared: other services of this host keep working"
		if [ "$EXCLUSIVE" = 1 ]; then
			excl="
    exclusive: true"
			how="exclusive (EXCLUSIVE=1)"
		fi
		vips="  # $how on $a.
  # 'exclusive: true' under both VIPs gives the address to the balancer
  # alone: XDP drops new connections to other ports and UDP that no
  # connected socket takes. The agent keeps it shared while sshd listens
  # on $a unless 'force: true' (docs/operator-guide.md).
  - address: $a:443$excl
  - address: $a:80$excl"
		SERVE_ADDR=$a
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
# lbtls's workers run as $LB_TLS_UID (lbtls.yaml's user:): they may
# connect (socket_group) and register (register_uids)
socket_group: $LB_TLS_UID
register_uids: [$LB_TLS_UID]
EOF
	cat >"$STATE/lbtls.yaml" <<EOF
# generated by docker/stack.sh
user: "$LB_TLS_UID:$LB_TLS_UID"
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
  # this stack's network join when healthy and leave when they stop:
  # the service 'discover' (lbtls discover) watches the engine and writes
  # their addresses to 'file', which lbtls reads (it has no Docker socket)
  file: $STATE/discovery/upstreams
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

# The compose variables of this stack (docker/docker-compose.yml's header),
# for stack.sh and for a user's `docker-compose --env-file`.
write_compose_env() { # write_compose_env LB_IMAGE
	local certs restart=no
	certs=$(cert_dir)
	case $certs in
	/etc/letsencrypt/*) certs=/etc/letsencrypt ;; # live/ links to archive/
	*) certs=/var/lib/xdp-tls-lb/certs ;;
	esac
	[ -z "$IFACE" ] || restart=unless-stopped
	mkdir -p "$STATE" "$LOGS" /run/lbctl /var/lib/xdp-tls-lb/acme
	cat >"$STATE/compose.env" <<EOF
# generated by docker/stack.sh for the stack '$STACK'
COMPOSE_PROJECT_NAME=$STACK
FLASK_NET_PREFIX=$FLASK_NET_PREFIX
FLASK_NETWORK=$FLASK_NETWORK
WEBSITE_PREFIX=$WEBSITE_PREFIX
LB_IMAGE=$1
LB_STACK=$STACK
LB_NETNS_OPT=$NETNS_OPT
LB_STATE=$STATE
LB_LOGS=$LOGS
LB_CERTS=$certs
LB_RESTART=$restart
EOF
}

# --- processes -------------------------------------------------------------------
# Processes of a stack.sh from before the compose services (setsid, pid
# files): stopped, so that an upgrade leaves nothing running.
stop_legacy() {
	local f pid _
	for f in "$STATE"/lbtls.pid "$STATE"/agent.pid; do
		[ -f "$f" ] || continue
		pid=$(cat "$f")
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$pid" 2>/dev/null || true
		rm -f "$f"
	done
}

logs_hint() { # logs_hint SERVICE: its last lines, for an error message
	compose logs --no-color --tail 20 "$1" 2>&1 | sed 's/^/    /' >&2 || true
}

wait_workers() {
	local up=0 _
	for _ in $(seq 100); do
		up=$(lbctl worker list 2>/dev/null | grep -c ' up ' || true)
		[ "$up" -ge "$WORKERS" ] && return 0
		sleep 0.1
	done
	logs_hint agent
	logs_hint lbtls
	die "stack: only $up of $WORKERS lbtls workers registered; see above and $LOGS/"
}

# lbtls gets website1..3 from discover's file once their healthchecks
# pass (upstream.docker): wait until every worker has the three.
wait_pool() {
	local n=0 _
	for _ in $(seq 600); do # bounded: 60 s, the healthcheck's start period
		n=$("${IN_HOST[@]}" curl -sf --max-time 2 http://127.0.0.1:9145/metrics |
			grep -c '^lbtls_upstream_up{.*} 1$' || true)
		[ "$n" -ge $((3 * WORKERS)) ] && return 0
		sleep 0.1
	done
	logs_hint discover
	logs_hint lbtls
	die "stack: lbtls has $n of $((3 * WORKERS)) upstreams up; see above and $LOGS/"
}

up() {
	[ "$(id -u)" = 0 ] || die "stack: must run as root"
	if [ ! -x "$BUILD/lbctl" ] || [ ! -x "$BUILD/lbtls" ] ||
		[ ! -f "$BUILD/bpf/lb_pass.bpf.o" ]; then
		die "stack: build first (make)"
	fi
	local image
	docker/dockerd-up.sh
	docker/base-image.sh
	BUILD=$BUILD docker/build-images.sh
	image=$(BUILD=$BUILD docker/build-lb-image.sh | tail -n 1)
	make_cert
	stop_legacy
	write_compose_env "$image"
	# network (and website1..3) -> topology -> configs -> agent -> lbtls
	compose up -d --no-build website1 website2 website3
	[ -n "$IFACE" ] || topology_up
	write_configs
	# The configuration and certificates, checked first by the same binary
	# (the image's is a copy). Not with `compose run`: it links the running
	# agent, which host networking refuses.
	"${IN_HOST[@]}" "$BUILD/lbtls" -t -c "$STATE/lbtls.yaml" >/dev/null
	compose up -d --no-build agent
	compose up -d --no-build discover
	compose up -d --no-build --no-deps lbtls
	wait_workers
	wait_pool
	cat <<EOF

The stack '$STACK' is up: $WORKERS lbtls workers behind XDP, three Flask
containers behind them; lbctl's agent and lbtls run as the compose services
'agent', 'discover' and 'lbtls' of the project '$STACK' (image $image).
Logs in $LOGS/ and 'docker-compose --env-file $STATE/compose.env -f docker/docker-compose.yml logs agent discover lbtls';
state with 'lbctl --instance $STACK${NETNS_OPT:+ $NETNS_OPT} status'.
Scale the pool (containers of the service flaskapp join it when healthy):
  docker-compose --env-file $STATE/compose.env -f docker/docker-compose.yml up -d --scale flaskapp=2
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
	else
		if [ "$EXCLUSIVE" = 1 ]; then
			cat <<EOF
Serving on $IFACE's address $SERVE_ADDR (:443, :80), EXCLUSIVE: XDP drops
new connections to its other ports (the agent keeps it shared, and logs
why, while sshd listens on it: 'logs agent' above).
Stop with: IFACE=$IFACE make stop
EOF
		else
			cat <<EOF
Serving on $IFACE's address $SERVE_ADDR (:443, :80), SHARED: SSH, ping and
the replies of this host's own connections pass XDP as before. To give the
address to the balancer alone (XDP drops new connections to other ports):
  EXCLUSIVE=1 IFACE=$IFACE make run
(refused while sshd listens on $SERVE_ADDR; docs/operator-guide.md).
Stop with: IFACE=$IFACE make stop
EOF
		fi
	fi
}

down() {
	stop_legacy
	if engine_answers; then
		compose stop lbtls >/dev/null 2>&1 || true
		compose stop discover >/dev/null 2>&1 || true
		compose stop agent >/dev/null 2>&1 || true
	fi
	if [ -z "$IFACE" ] && ip netns list | grep -qw "$HOST_NS"; then
		lbctl unload 2>/dev/null || true
	elif [ -n "$IFACE" ]; then
		lbctl unload 2>/dev/null || true
	fi
	if engine_answers; then
		compose down --remove-orphans >/dev/null 2>&1 || true
	fi
	[ -n "$IFACE" ] || topology_down
	rm -f "/run/lbctl/$STACK.lock" # lbctl's instance lock, held by no one now
	rm -rf "$STATE"
	echo "stack: '$STACK' stopped"
}

case ${1:-} in
up) up ;;
down) down ;;
scaleout)
	shift
	BUILD=$BUILD exec docker/scaleout/scaleout.sh "$@"
	;;
*) die "usage: docker/stack.sh up|down|scaleout up|down|status|drain HOST|undrain HOST" ;;
esac
