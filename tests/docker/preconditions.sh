# shellcheck shell=bash
# What every tests/docker stack test needs before its first check: root,
# its tools, a Docker engine (started by docker/dockerd-up.sh if none
# answers) and the BPF file system. A missing one is a failure, never a
# skip: "FAIL ..." and "0 passed, 1 failed", and the script exits.
# Needs DOCKER and LOGDIR set. Usage: docker_preconditions TOOL...
docker_preconditions() {
	local tool why=
	[ "$(id -u)" = 0 ] || why="must run as root"
	for tool in "$@"; do
		[ -z "$why" ] && ! command -v "$tool" >/dev/null &&
			why="$tool is missing (make deps)"
	done
	if [ -z "$why" ]; then
		"$DOCKER" info >/dev/null 2>&1 || docker/dockerd-up.sh >>"$LOGDIR/stack.log" 2>&1
		"$DOCKER" info >/dev/null 2>&1 ||
			why="no Docker engine answers (docker/dockerd-up.sh; see $LOGDIR/stack.log)"
	fi
	if [ -z "$why" ]; then
		[ "$(stat -f -c %T /sys/fs/bpf 2>/dev/null)" = bpf_fs ] ||
			mount -t bpf bpf /sys/fs/bpf 2>/dev/null
		[ "$(stat -f -c %T /sys/fs/bpf 2>/dev/null)" = bpf_fs ] ||
			why="no BPF file system on /sys/fs/bpf (and it cannot be mounted)"
	fi
	[ -z "$why" ] && return 0
	echo "FAIL $why"
	echo "0 passed, 1 failed"
	exit 1
}
