#!/usr/bin/env bash
# Build the Flask backend images lb-flask:1, :2, :3 (one per VERSION) from
# docker/app on top of BASE. Cached layers make a rerun take seconds; the
# versions differ only in their last layers. Then the image of lbctl and
# lbtls (docker/build-lb-image.sh) when BUILD has both binaries.
#
# Usage: docker/build-images.sh
# Environment: BASE_IMAGE (default lb-base:bookworm, from docker/base-image.sh;
# python:3.12-slim or similar works when the engine has it), APP_IMAGE
# (default lb-flask), VERSIONS (default "1 2 3"), BUILD (default build; the
# lbctl/lbtls image is skipped when its binaries are not built yet; a
# python image cannot carry them: set LB_BASE_IMAGE, default BASE_IMAGE, to
# a Debian 12 based one), DOCKER (client).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=docker/lib.sh
. "$here/lib.sh"

base=${BASE_IMAGE:-lb-base:bookworm}
app=${APP_IMAGE:-lb-flask}
versions=${VERSIONS:-1 2 3}

engine_answers || die "build-images: no Docker engine answers (run docker/dockerd-up.sh)"
"$DOCKER" image inspect "$base" >/dev/null 2>&1 ||
	die "build-images: base image $base not found (run docker/base-image.sh, or pull it)"

for v in $versions; do
	start=$SECONDS
	log=$(mktemp)
	if ! "$DOCKER" build --force-rm --build-arg BASE="$base" --build-arg VERSION="$v" \
		-t "$app:$v" "$here/app" >"$log" 2>&1; then
		cat "$log" >&2
		rm -f "$log"
		die "build-images: $app:$v failed"
	fi
	rm -f "$log"
	echo "build-images: $app:$v from $base in $((SECONDS - start))s," \
		"$(image_size_mb "$app:$v") MB"
done

build=${BUILD:-build}
if [ -x "$build/lbctl" ] && [ -x "$build/lbtls" ]; then
	BUILD=$build BASE_IMAGE=${LB_BASE_IMAGE:-$base} "$here/build-lb-image.sh" | head -n -1
else
	echo "build-images: no $build/lbctl and $build/lbtls yet: lbctl/lbtls image skipped (make first)"
fi
