# shellcheck shell=bash
# Helpers shared by the docker/ scripts (sourced, not run).

# The client. Debian's docker.io ships dockerd 20.10 and its own client in
# /usr/bin/docker; a newer client elsewhere on PATH (this machine has a
# docker 28 CLI in /usr/local/bin) also negotiates the API down, but we use
# the client of the daemon's own release so that `docker build` is the
# builder that release documents. Override with DOCKER=...
if [ -z "${DOCKER:-}" ]; then
	if [ -x /usr/bin/docker ]; then DOCKER=/usr/bin/docker; else DOCKER=docker; fi
fi

die() {
	echo "$*" >&2
	exit 1
}

engine_answers() {
	"$DOCKER" info >/dev/null 2>&1
}

server_version() {
	"$DOCKER" version --format '{{.Server.Version}}' 2>/dev/null
}

default_bridge_subnet() {
	"$DOCKER" network inspect bridge \
		--format '{{range .IPAM.Config}}{{.Subnet}}{{end}}' 2>/dev/null || true
}

# in_test_space ADDRESS[/LEN]: true when it lies inside 198.18.0.0/15 (the
# RFC 2544 benchmark range, the only one tests may send to).
in_test_space() {
	local addr=${1%%/*} len=32
	case $1 in */*) len=${1##*/} ;; esac
	[[ $addr =~ ^198\.1[89]\.[0-9]+\.[0-9]+$ && $len =~ ^[0-9]+$ ]] &&
		[ "$len" -ge 15 ] && [ "$len" -le 32 ]
}

# image_size_mb IMAGE: its size in MB (10^6 bytes), as `docker images` counts.
image_size_mb() {
	local bytes
	bytes=$("$DOCKER" image inspect --format '{{.Size}}' "$1" 2>/dev/null) || return 1
	echo $(((bytes + 500000) / 1000000))
}

# lb_image_ref BUILD_DIR BASE: the tag of the lbctl+lbtls image for these
# binaries on this base (docker/build-lb-image.sh builds it): a hash of
# both binaries, the Dockerfile and the base image's id, so new binaries
# make a new tag and two build directories never share one.
lb_image_ref() {
	local base_id
	base_id=$("$DOCKER" image inspect -f '{{.Id}}' "$2" 2>/dev/null) || return 1
	echo "${LB_IMAGE_NAME:-lb-bin}:$({
		cat "$1/lbctl" "$1/lbtls" "$(dirname "${BASH_SOURCE[0]}")/lb/Dockerfile"
		echo "$base_id"
	} | sha256sum | cut -c1-12)"
}
