#!/usr/bin/env bash
# Scale-out on one Docker engine (docs/scaleout.md; docs/docker.md,
# "Scale-out"): `docker/stack.sh scaleout CMD` runs this.
#
#   up            images (offline), configurations, the containers of
#                 docker/scaleout/docker-compose.yml; waits until every
#                 worker host has its lbtls workers registered and the
#                 router has a BGP session with every balancer
#   down          everything up made, in reverse (images stay)
#   status        containers, the router's routes to the VIP, each host's
#                 `lbctl cluster`
#   drain HOST    `lbctl cluster drain` on HOST (lb1, lb2, w1, w2)
#   undrain HOST  `lbctl cluster undrain` on HOST
#   lbctl HOST ARGS...  any lbctl command on HOST's instance
#
# The hosts: router (BIRD: ECMP over the balancers' BGP paths), lb1 and
# lb2 (balancers: lbctl's agent with XDP on the uplink, BIRD announcing
# the VIP), w1 and w2 (worker hosts: the agent, XDP decapsulating, lbtls),
# website1..3 (Flask, behind both worker hosts), and a client. Each host
# is a container holding a network namespace; its daemons are containers
# that join it (docker-compose.yml's header says why).
#
# Environment (all optional):
#   SX        name prefix: containers, networks, compose project, BPF
#             instances $SX-lb1 ... (default lbsx)
#   SX_EDGE, SX_UNDER, SX_APP  the three /24s, first three octets
#             (198.19.60, 198.19.61, 198.19.62)
#   SX_VIP    the VIP (198.18.0.100); SX_VIP_PREFIX, what the router
#             accepts from balancers (198.18.0.0/24)
#   SX_XDP_MODE  generic (default) or native. Native XDP_TX does not get
#             out of a container's veth (docs/docker.md, measured): native
#             is there to see that, not to use
#   SX_MTU    the underlay's MTU (1500): cluster.mtu
#   SX_WORKERS  lbtls workers per worker host (2)
#   DOMAIN    certificate name (flask.example.test)
#   BUILD     build directory with lbctl and lbtls (build)
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=docker/lib.sh
. docker/lib.sh

export SX=${SX:-lbsx}
export SX_EDGE=${SX_EDGE:-198.19.60}
export SX_UNDER=${SX_UNDER:-198.19.61}
export SX_APP=${SX_APP:-198.19.62}
export SX_VIP=${SX_VIP:-198.18.0.100}
export SX_VIP_PREFIX=${SX_VIP_PREFIX:-198.18.0.0/24}
export SX_XDP_MODE=${SX_XDP_MODE:-generic}
export SX_MTU=${SX_MTU:-1500}
export SX_WORKERS=${SX_WORKERS:-2}
export SX_TLS_UID=${SX_TLS_UID:-65532}
export SX_ROUTER_AS=65000 SX_BALANCER_AS=65001
export SX_ROUTER_ADDR=$SX_UNDER.2
export SX_STATE=/run/xdp-tls-lb/$SX
export SX_LOGS=/var/log/xdp-tls-lb/$SX
export APP_IMAGE=${APP_IMAGE:-lb-flask}
DOMAIN=${DOMAIN:-flask.example.test}
BUILD=${BUILD:-build}
SX_BASE=${SX_BASE_IMAGE:-lb-sx-base:bookworm}
SX_PACKAGES=bird2,iproute2,curl,iputils-ping
COMPOSE_FILE=docker/scaleout/docker-compose.yml

# The cluster: name, id, underlay address, roles. Ids are explicit
# (docs/scaleout.md): reordering this list changes nothing.
BALANCERS=(lb1 lb2)
WORKER_HOSTS=(w1 w2)
declare -A HOST_ID=([lb1]=1 [lb2]=2 [w1]=11 [w2]=12)
declare -A HOST_ADDR=([lb1]=$SX_UNDER.11 [lb2]=$SX_UNDER.12
	[w1]=$SX_UNDER.21 [w2]=$SX_UNDER.22)
ALL_HOSTS=("${BALANCERS[@]}" "${WORKER_HOSTS[@]}")

compose() {
	if [ -f "$SX_STATE/compose.env" ]; then
		docker-compose --env-file "$SX_STATE/compose.env" -p "$SX" -f "$COMPOSE_FILE" "$@"
	else
		docker-compose -p "$SX" -f "$COMPOSE_FILE" "$@"
	fi
}

# render TEMPLATE OUT: the template's ${SX_...} replaced (and nothing else).
render() {
	local vars
	vars=$(grep -o '\${SX_[A-Z_]*}' "$1" | sort -u | tr '\n' ' ')
	envsubst "$vars" <"$1" >"$2"
}

host_pid() { # host_pid HOST: the pid of the container holding HOST's netns
	"$DOCKER" inspect -f '{{.State.Pid}}' "$SX-$1" 2>/dev/null
}

in_host() { # in_host HOST CMD...: CMD in HOST's network namespace
	local pid
	pid=$(host_pid "$1") && [ "$pid" != 0 ] || die "scaleout: host $1 is not running"
	shift
	nsenter -t "$pid" -n "$@"
}

# uplink HOST: the name of HOST's interface on the underlay. Docker names
# a container's interfaces in the order it joins its networks, which is
# not the order of the compose file: look it up.
uplink() {
	in_host "$1" ip -o -4 addr show to "$SX_UNDER.0/24" | awk '{print $2; exit}'
}

edge_dev() { # the client's interface on the edge network
	in_host client ip -o -4 addr show to "$SX_EDGE.0/24" | awk '{print $2; exit}'
}

sx_lbctl() { # sx_lbctl HOST ARGS...: lbctl in HOST's agent container
	local h=$1
	shift
	"$DOCKER" exec "$SX-$h-agent" lbctl --instance "$SX-$h" "$@"
}

# --- images ---------------------------------------------------------------
# lb-flask:1..3 on lb-base (docker/build-images.sh), and lb-sx:HASH:
# lbctl and lbtls (docker/lb/Dockerfile) on lb-sx-base, the offline base
# plus BIRD, iproute2 and curl from Debian (docker/base-image.sh with
# EXTRA_PACKAGES). No registry is involved.
images() {
	docker/dockerd-up.sh
	docker/base-image.sh
	BUILD=/nonexistent docker/build-images.sh | grep -v '^build-images: no'
	BASE_IMAGE=$SX_BASE EXTRA_PACKAGES=$SX_PACKAGES docker/base-image.sh
	SX_IMAGE=$(BUILD=$BUILD BASE_IMAGE=$SX_BASE LB_IMAGE_NAME=lb-sx \
		docker/build-lb-image.sh | tail -n 1)
	export SX_IMAGE
}

# --- configurations -----------------------------------------------------------
make_key() {
	[ -s "$SX_STATE/cluster.key" ] && return 0
	# 32 random bytes as 64 hex characters: the same file on every host
	(umask 077 && openssl rand -hex 32 >"$SX_STATE/cluster.key")
}

make_cert() {
	[ -f "$SX_STATE/certs/fullchain.pem" ] && return 0
	mkdir -p "$SX_STATE/certs"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-days 825 -subj "/CN=$DOMAIN" -addext "subjectAltName=DNS:$DOMAIN" \
		-keyout "$SX_STATE/certs/privkey.pem" \
		-out "$SX_STATE/certs/fullchain.pem" 2>/dev/null
	# lbtls's master reads it as root before its workers drop privileges
	chmod 600 "$SX_STATE/certs/privkey.pem"
}

# Everything that does not depend on interface names: BIRD's
# configurations, lbtls's, the key, the certificate, compose.env.
write_static_configs() {
	local h t
	mkdir -p "$SX_STATE/router" "$SX_LOGS"
	for h in "${ALL_HOSTS[@]}"; do mkdir -p "$SX_STATE/$h/run"; done
	for h in "${WORKER_HOSTS[@]}"; do mkdir -p "$SX_LOGS/$h"; done
	make_key
	make_cert
	SX_ROUTER_PEERS=""
	for h in "${BALANCERS[@]}"; do
		SX_ROUTER_PEERS+="protocol bgp $h from balancer {
	neighbor ${HOST_ADDR[$h]} as $SX_BALANCER_AS;
}
"
	done
	export SX_ROUTER_PEERS
	render docker/scaleout/bird-router.conf.in "$SX_STATE/router/bird.conf"
	export SX_STATIC_ROUTES="	route $SX_VIP/32 via \"lbvip0\";"
	for h in "${BALANCERS[@]}"; do
		SX_SELF_ADDR=${HOST_ADDR[$h]} render docker/scaleout/bird-balancer.conf.in \
			"$SX_STATE/$h/bird.conf"
	done
	export SX_UPSTREAMS=""
	for t in 11 12 13; do SX_UPSTREAMS+="    - $SX_APP.$t:5000"$'\n'; done
	SX_UPSTREAMS=${SX_UPSTREAMS%$'\n'}
	for h in "${WORKER_HOSTS[@]}"; do
		render docker/scaleout/lbtls.yaml.in "$SX_STATE/$h/lbtls.yaml"
	done
	cat >"$SX_STATE/compose.env" <<EOF
# generated by docker/scaleout/scaleout.sh for '$SX'
COMPOSE_PROJECT_NAME=$SX
SX=$SX
SX_IMAGE=$SX_IMAGE
APP_IMAGE=$APP_IMAGE
SX_EDGE=$SX_EDGE
SX_UNDER=$SX_UNDER
SX_APP=$SX_APP
SX_STATE=$SX_STATE
SX_LOGS=$SX_LOGS
EOF
}

# agent.yaml per host: needs the uplink's name (the hosts are up).
write_agent_configs() {
	local h roles
	export SX_HOSTS=""
	for h in "${ALL_HOSTS[@]}"; do
		roles=worker
		[[ " ${BALANCERS[*]} " == *" $h "* ]] && roles=balancer
		SX_HOSTS+="    - { name: $h, id: ${HOST_ID[$h]}, address: ${HOST_ADDR[$h]}, roles: [$roles] }"$'\n'
	done
	SX_HOSTS=${SX_HOSTS%$'\n'}
	export SX_VIPS="  - address: $SX_VIP:443
  - address: $SX_VIP:80"
	for h in "${ALL_HOSTS[@]}"; do
		SX_ANNOUNCE="  # no announce_link: a worker host is not announced"
		SX_REGISTER="# lbtls's workers run as $SX_TLS_UID: they may connect and register
socket_group: $SX_TLS_UID
register_uids: [$SX_TLS_UID]"
		if [[ " ${BALANCERS[*]} " == *" $h "* ]]; then
			SX_ANNOUNCE="  announce_link: lbvip0     # BIRD: route VIP via \"lbvip0\", check link"
			SX_REGISTER="# no lbtls on a balancer host: no socket_group, no register_uids"
		fi
		SX_SELF=$h SX_UPLINK=$(uplink "$h") SX_ANNOUNCE=$SX_ANNOUNCE SX_REGISTER=$SX_REGISTER \
			render docker/scaleout/agent.yaml.in "$SX_STATE/$h/agent.yaml.new"
		# unchanged: keep the file (and the agent's view of it) as it is
		if cmp -s "$SX_STATE/$h/agent.yaml.new" "$SX_STATE/$h/agent.yaml"; then
			rm -f "$SX_STATE/$h/agent.yaml.new"
		else
			mv "$SX_STATE/$h/agent.yaml.new" "$SX_STATE/$h/agent.yaml"
		fi
	done
}

# --- provisioning: what a host's network configuration would say ----------
# Done from the engine's host with nsenter, so that the containers that
# hold the namespaces need no capability. Idempotent.
provision() {
	local h dev a
	# the client reaches the VIP through the router; 32 more addresses
	# (.100-.131) make it 32 clients: the pick is by client address
	# (IP-hash), so one address always lands on the same worker
	in_host client ip route replace "$SX_VIP/32" via "$SX_EDGE.2"
	for a in $(seq 100 131); do
		in_host client ip addr replace "$SX_EDGE.$a/32" dev "$(edge_dev)"
	done
	# The client sends wire-sized packets, as over a real link: a veth
	# carries a TSO/GSO super-packet (up to 64 kB) whole through the
	# bridge and the router, and the balancer's XDP would see one
	# "packet" of 64 kB, which no encapsulation fits (bpf_fib_lookup:
	# fragmentation needed, fwd_routed; uploads stalled)
	in_host client ethtool -K "$(edge_dev)" tso off gso off
	for h in "${BALANCERS[@]}"; do
		# the announce link, down until the agent says otherwise: a
		# dummy, or an ifb where the kernel has no dummy driver (ifb
		# has carrier when up, as a dummy: BIRD's check link sees the
		# same)
		in_host "$h" ip link show lbvip0 >/dev/null 2>&1 ||
			in_host "$h" ip link add lbvip0 type dummy 2>/dev/null ||
			in_host "$h" ip link add lbvip0 type ifb
	done
	for h in "${WORKER_HOSTS[@]}"; do
		# DSR: the VIP on lo; replies go to the client through the
		# router. The SYN-ACK's MSS, which keeps the client's segments
		# small enough for the 40 bytes of GUE, is the agent's
		# (TCP_MAXSEG on the listeners, from cluster.mtu)
		in_host "$h" ip addr replace "$SX_VIP/32" dev lo
		dev=$(uplink "$h")
		in_host "$h" ip route replace "$SX_EDGE.0/24" via "$SX_ROUTER_ADDR" \
			dev "$dev"
	done
}

# --- waits ------------------------------------------------------------------
logs_hint() { # logs_hint SERVICE...
	compose logs --no-color --tail 15 "$@" 2>&1 | sed 's/^/    /' >&2 || true
}

wait_workers() { # every worker host: SX_WORKERS workers up
	local h up=0 _
	for h in "${WORKER_HOSTS[@]}"; do
		for _ in $(seq 150); do
			up=$(sx_lbctl "$h" worker list 2>/dev/null | grep -c ' up ' || true)
			[ "$up" -ge "$SX_WORKERS" ] && break
			sleep 0.2
		done
		if [ "$up" -lt "$SX_WORKERS" ]; then
			logs_hint "$h-agent" "$h-lbtls"
			die "scaleout: $h has $up of $SX_WORKERS lbtls workers up; see above"
		fi
	done
}

wait_bgp() { # the router: a session with every balancer
	local n=0 _
	for _ in $(seq 150); do
		n=$("$DOCKER" exec "$SX-router" birdc show protocols 2>/dev/null |
			grep -c 'BGP .* up .*Established' || true)
		[ "$n" -ge "${#BALANCERS[@]}" ] && return 0
		sleep 0.2
	done
	logs_hint router lb1-bird lb2-bird
	die "scaleout: the router has $n of ${#BALANCERS[@]} BGP sessions up"
}

# Every balancer's global rings hold both worker hosts: an agent builds
# its first global ring dead_after (2 s) after it starts, so that BGP and
# registered workers alone do not mean the VIP is served yet.
wait_rings() {
	local h w out ok _
	for h in "${BALANCERS[@]}"; do
		for _ in $(seq 150); do
			out=$(sx_lbctl "$h" cluster 2>/dev/null || true)
			ok=1
			for w in "${WORKER_HOSTS[@]}"; do
				echo "$out" | grep -Eq "^ +host ${HOST_ID[$w]} +[1-9]" || ok=0
			done
			[ "$ok" = 1 ] && break
			sleep 0.2
		done
		if [ "$ok" = 0 ]; then
			echo "$out" >&2
			logs_hint "$h-agent"
			die "scaleout: $h's rings do not hold every worker host"
		fi
	done
}

# --- commands ---------------------------------------------------------------
up() {
	local h hosts=(client router website1 website2 website3) svc=()
	[ "$(id -u)" = 0 ] || die "scaleout: must run as root"
	[ -x "$BUILD/lbctl" ] && [ -x "$BUILD/lbtls" ] || die "scaleout: build first (make)"
	case $SX_XDP_MODE in generic | native) ;; *) die "scaleout: SX_XDP_MODE is generic or native" ;; esac
	images
	write_static_configs
	hosts+=("${ALL_HOSTS[@]}")
	compose up -d --no-build "${hosts[@]}"
	provision
	write_agent_configs
	for h in "${ALL_HOSTS[@]}"; do svc+=("$h-agent"); done
	for h in "${BALANCERS[@]}"; do svc+=("$h-bird"); done
	for h in "${WORKER_HOSTS[@]}"; do svc+=("$h-lbtls"); done
	compose up -d --no-build "${svc[@]}"
	wait_workers
	wait_bgp
	wait_rings
	cat <<EOF

The scale-out stack '$SX' is up ($SX_IMAGE, XDP $SX_XDP_MODE): router
$SX_ROUTER_ADDR, balancers lb1 lb2, worker hosts w1 w2, Flask behind them.
  docker exec $SX-client curl -k --resolve $DOMAIN:443:$SX_VIP https://$DOMAIN/
  docker exec $SX-router birdc show route $SX_VIP/32 all
  docker/stack.sh scaleout status | drain lb1 | undrain lb1 | down
Configurations in $SX_STATE/, lbtls's logs in $SX_LOGS/.
EOF
}

down() {
	local h pid
	if engine_answers; then
		for h in "${ALL_HOSTS[@]}"; do
			compose stop "$h-lbtls" "$h-bird" >/dev/null 2>&1 || true
		done
		for h in "${ALL_HOSTS[@]}"; do
			compose stop "$h-agent" >/dev/null 2>&1 || true
			# the pins outlive the agent (D5): unload in its namespace
			pid=$(host_pid "$h" || true)
			if [ -n "$pid" ] && [ "$pid" != 0 ] && [ -x "$BUILD/lbctl" ]; then
				nsenter -t "$pid" -n "$BUILD/lbctl" --instance "$SX-$h" unload \
					>/dev/null 2>&1 || true
			fi
		done
		compose down --remove-orphans >/dev/null 2>&1 || true
	fi
	for h in "${ALL_HOSTS[@]}"; do
		rm -rf "/sys/fs/bpf/$SX-$h"
		# the host-side unload above takes the instance's lock file
		rm -f "/run/lbctl/$SX-$h.lock"
	done
	rm -rf "$SX_STATE"
	echo "scaleout: '$SX' stopped"
}

status() {
	local h
	compose ps
	echo "--- router: routes to $SX_VIP"
	"$DOCKER" exec "$SX-router" birdc show route "$SX_VIP/32" all || true
	"$DOCKER" exec "$SX-router" ip route show "$SX_VIP/32" || true
	for h in "${ALL_HOSTS[@]}"; do
		echo "--- $h: lbctl cluster"
		sx_lbctl "$h" cluster || true
	done
}

case ${1:-} in
up) up ;;
down) down ;;
status) status ;;
drain | undrain)
	[ -n "${2:-}" ] || die "usage: scaleout.sh $1 HOST"
	sx_lbctl "$2" cluster "$1"
	;;
lbctl)
	[ -n "${2:-}" ] || die "usage: scaleout.sh lbctl HOST ARGS..."
	h=$2
	shift 2
	sx_lbctl "$h" "$@"
	;;
*) die "usage: docker/stack.sh scaleout up|down|status|drain HOST|undrain HOST|lbctl HOST ARGS..." ;;
esac
