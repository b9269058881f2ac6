# shellcheck shell=bash
# Shared by the tests/docker scripts that bring up the whole stack with
# docker/stack.sh under a name of their own: sourced after they cd to the
# repository and export BUILD, STACK and FLASK_NET_PREFIX. Sets the stack's
# names, check(), dc(), and a trap that takes the stack down (stack.sh
# down, then by force what it missed) even when a check fails.
export DOMAIN=flask.example.test
export WEBSITE_PREFIX=$STACK-
CLIENT_NS=$STACK-client
HOST_NS=$STACK-host
# shellcheck disable=SC2034 # used by the scripts that source this
VIP4=198.18.0.100
STATE=/run/xdp-tls-lb/$STACK
LOGDIR=${LOGDIR:-$BUILD/tests/docker/$STACK}
mkdir -p "$LOGDIR"
pass=0
fail=0
# Only 'ok'/'FAIL' lines and the summary go to stdout.
DOCKER=docker
[ -x /usr/bin/docker ] && DOCKER=/usr/bin/docker
# shellcheck source=tests/docker/preconditions.sh
. tests/docker/preconditions.sh

check() { # check DESCRIPTION COMMAND...
	local what=$1
	shift
	if "$@" >>"$LOGDIR/checks.log" 2>&1; then
		echo "ok   $what"
		pass=$((pass + 1))
	else
		echo "FAIL $what (see $LOGDIR/checks.log)"
		fail=$((fail + 1))
	fi
}

# The stack's compose project, as a user scales it (docker/stack.sh keeps
# the variables in compose.env).
dc() {
	docker-compose --env-file "$STATE/compose.env" -f docker/docker-compose.yml "$@"
}

project_containers() { # every container of this stack's compose project
	"$DOCKER" ps -aq --filter "label=com.docker.compose.project=$STACK"
}

# What docker/stack.sh down must leave: no container, network, namespace,
# bridge port or BPF pin of this stack (XDP lived on the namespace's veth,
# so it goes with it). Prints what is left.
nothing_left() {
	local left=""
	[ -z "$(project_containers)" ] || left="$left containers:$(project_containers | tr '\n' ' ')"
	"$DOCKER" network inspect "$STACK-flask" >/dev/null 2>&1 && left="$left network:$STACK-flask"
	ip netns list | grep -qw "$HOST_NS" && left="$left netns:$HOST_NS"
	ip netns list | grep -qw "$CLIENT_NS" && left="$left netns:$CLIENT_NS"
	ip link show "${STACK:0:10}-br" >/dev/null 2>&1 && left="$left link:${STACK:0:10}-br"
	[ -e "/sys/fs/bpf/$STACK" ] && left="$left pins:/sys/fs/bpf/$STACK"
	[ -e "$STATE" ] && left="$left state:$STATE"
	[ -z "$left" ] || echo "left behind:$left"
	[ -z "$left" ]
}

# docker/stack.sh down, then whatever it missed, removed by force (only
# this stack's own: its project's containers, network, namespaces, pins).
cleanup() {
	local ids
	trap - EXIT INT TERM
	docker/stack.sh down >>"$LOGDIR/stack.log" 2>&1
	if nothing_left >/dev/null; then
		rm -f "/run/lbctl/$STACK.lock"
	else
		echo "cleanup: $(nothing_left); removing by force"
		ids=$(project_containers)
		# shellcheck disable=SC2086 # ids are words
		[ -z "$ids" ] || "$DOCKER" rm -f $ids >/dev/null 2>&1
		"$DOCKER" network rm "$STACK-flask" >/dev/null 2>&1
		ip link del "${STACK:0:10}-br" 2>/dev/null
		ip netns del "$CLIENT_NS" 2>/dev/null
		ip netns del "$HOST_NS" 2>/dev/null
		rm -rf "/sys/fs/bpf/$STACK" "$STATE" "/run/lbctl/$STACK.lock"
		nothing_left || echo "cleanup: could not remove everything"
	fi
	if [ "$fail" -gt 0 ]; then
		echo "--- checks.log"
		tail -n 30 "$LOGDIR/checks.log"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
