#!/usr/bin/env bash
# Build the image of the compose services `agent` and `lbtls`: lbctl and
# lbtls from BUILD on BASE (docker/lb/Dockerfile). The tag is a hash of the
# binaries, the Dockerfile and the base (lib.sh: lb_image_ref), so a rerun
# with the same binaries does nothing and new binaries get a new image; it
# prints the tag on its last line.
#
# Usage: docker/build-lb-image.sh
# Environment: BUILD (default build), BASE_IMAGE (default lb-base:bookworm),
# LB_IMAGE_NAME (default lb-bin), DOCKER (client), TLS (the Dockerfile's
# build argument, openssl or boringssl; default: what BUILD/lbtls -V says,
# so build-boringssl/ gives a BoringSSL image).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=docker/lib.sh
. "$here/lib.sh"

build=${BUILD:-build}
base=${BASE_IMAGE:-lb-base:bookworm}

for b in lbctl lbtls; do
	[ -x "$build/$b" ] || die "build-lb-image: $build/$b not found (make BUILD=$build)"
done
case $("$build/lbtls" -V 2>/dev/null) in
"lbtls: TLS library BoringSSL"*) built=boringssl ;;
*) built=openssl ;;
esac
tls=${TLS:-$built}
[ "$tls" = "$built" ] ||
	die "build-lb-image: TLS=$tls, but $build/lbtls was built with $built (make TLS=$tls)"
engine_answers || die "build-lb-image: no Docker engine answers (run docker/dockerd-up.sh)"
"$DOCKER" image inspect "$base" >/dev/null 2>&1 ||
	die "build-lb-image: base image $base not found (run docker/base-image.sh, or pull it)"

ref=$(lb_image_ref "$build" "$base")
if "$DOCKER" image inspect "$ref" >/dev/null 2>&1; then
	echo "build-lb-image: $ref is up to date"
	echo "$ref"
	exit 0
fi

start=$SECONDS
# The context: the two binaries and the Dockerfile, nothing else.
ctx=$(mktemp -d /var/tmp/lb-bin.XXXXXX)
trap 'rm -rf "$ctx"' EXIT
mkdir "$ctx/context"
cp "$build/lbctl" "$build/lbtls" "$here/lb/Dockerfile" "$ctx/context/"
if ! "$DOCKER" build --force-rm --build-arg BASE="$base" --build-arg TLS="$tls" \
	--label "xdp-tls-lb.build=$(cd "$build" && pwd)" \
	-t "$ref" "$ctx/context" >"$ctx/build.log" 2>&1; then
	cat "$ctx/build.log" >&2
	die "build-lb-image: $ref failed"
fi
echo "build-lb-image: $ref (TLS=$tls) from $base in $((SECONDS - start))s," \
	"$(image_size_mb "$ref") MB"
# Older images of the same build directory go, unless a container (a
# running stack) still uses them: the engine refuses those.
name=${ref%:*}
"$DOCKER" images --filter "label=xdp-tls-lb.build=$(cd "$build" && pwd)" \
	--format '{{.Repository}}:{{.Tag}}' | while read -r old; do
	[ "$old" = "$ref" ] || [ "${old%:*}" != "$name" ] ||
		"$DOCKER" image rm "$old" >/dev/null 2>&1 || true
done
echo "$ref"
