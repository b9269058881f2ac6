#!/usr/bin/env bash
# Start a Docker engine for this project if none answers; install nothing.
#
# If `docker info` already works, this does nothing (and warns when that
# engine's default bridge is outside 198.18.0.0/15). Otherwise it starts
# Debian's dockerd in the background, in its own session, with the project's
# daemon config (docker/daemon.json: every network in 198.19.0.0/16, no
# iptables rules, no masquerading), logs to $DOCKERD_LOG, and waits until
# `docker info` answers, at most $DOCKERD_WAIT seconds.
#
# Environment: DOCKER (client, default /usr/bin/docker when present: the
# client of the same release as Debian's dockerd), DOCKERD (default
# /usr/sbin/dockerd), DOCKERD_LOG (default /var/log/xdp-tls-lb/dockerd.log),
# DOCKERD_WAIT (default 60), DOCKERD_CONFIG (default docker/daemon.json).
set -eu
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=docker/lib.sh
. "$here/lib.sh"

dockerd=${DOCKERD:-/usr/sbin/dockerd}
log=${DOCKERD_LOG:-/var/log/xdp-tls-lb/dockerd.log}
wait_s=${DOCKERD_WAIT:-60}
config=${DOCKERD_CONFIG:-$here/daemon.json}

if engine_answers; then
	bridge=$(default_bridge_subnet)
	echo "dockerd-up: engine already answers (server $(server_version)," \
		"default bridge ${bridge:-none})"
	if [ -n "$bridge" ] && ! in_test_space "$bridge"; then
		echo "dockerd-up: WARNING: this engine was not started by" \
			"docker/dockerd-up.sh: its default bridge $bridge is" \
			"outside 198.18.0.0/15 (see docs/docker.md)" >&2
	fi
	exit 0
fi

[ "$(id -u)" -eq 0 ] || die "dockerd-up: must run as root"
[ -x "$dockerd" ] || die "dockerd-up: $dockerd not found (Debian package docker.io)"
for b in containerd runc; do
	command -v "$b" >/dev/null || die "dockerd-up: $b not found (Debian package $b)"
done

mkdir -p "$(dirname "$log")"
echo "dockerd-up: starting $dockerd --config-file $config (log $log)"
# setsid: the daemon outlives this script and any timeout(1) process group
# that runs it (tests/run-suites.sh kills its suites' groups). Every
# descriptor above 2 is closed first: a daemon that inherited, say, the
# fd of `flock /tmp/lb-docker.lock ...` (the tests' serialization) would
# hold that lock for as long as it runs, and every later test would wait
# for it forever.
(
	for fd in /proc/self/fd/*; do
		fd=${fd##*/}
		[ "$fd" -gt 2 ] && eval "exec $fd>&-"
	done 2>/dev/null
	exec setsid "$dockerd" --config-file "$config" >>"$log" 2>&1 </dev/null
) &
pid=$!

for ((i = 0; i < wait_s * 2; i++)); do
	if engine_answers; then
		echo "dockerd-up: engine answers (server $(server_version)," \
			"default bridge $(default_bridge_subnet), pid $pid)"
		exit 0
	fi
	if ! kill -0 "$pid" 2>/dev/null; then
		tail -n 20 "$log" >&2
		die "dockerd-up: dockerd exited; see $log"
	fi
	sleep 0.5
done
tail -n 20 "$log" >&2
die "dockerd-up: no answer from the engine after ${wait_s}s; see $log (dockerd pid $pid left running)"
