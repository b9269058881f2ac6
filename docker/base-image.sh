#!/usr/bin/env bash
# Build the project's offline base image once: a minimal Debian bookworm
# (debootstrap --variant=minbase) with python3-flask and gunicorn from
# Debian's packages, plus the shared libraries lbctl and lbtls link
# (docker/lb/Dockerfile; both TLS builds: OpenSSL and android-libboringssl),
# imported with `docker import`. Skips when the
# image exists already with the same package list (a label records it: an
# lb-base built from an older list is rebuilt once); --force rebuilds it.
# No image registry is involved: only the Debian mirror.
#
# Usage: docker/base-image.sh [--force]
# Environment: BASE_IMAGE (default lb-base:bookworm), DEBIAN_MIRROR (default
# http://deb.debian.org/debian), SUITE (default bookworm), DOCKER (client),
# EXTRA_PACKAGES (comma-separated Debian packages added to the list, for a
# base of another name: docker/scaleout/ builds lb-sx-base:bookworm with
# bird2, iproute2 and curl this way).
set -eu
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=docker/lib.sh
. "$here/lib.sh"

image=${BASE_IMAGE:-lb-base:bookworm}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=${SUITE:-bookworm}
# The Flask app's, then lbctl's and lbtls's run-time libraries (ldd
# build/lbctl build/lbtls; docker/lb/Dockerfile lists the same).
packages=python3-flask,gunicorn,libbpf1,libxdp1,libelf1,zlib1g,libssl3,libyaml-0-2,libjansson4,libnghttp2-14,android-libboringssl${EXTRA_PACKAGES:+,$EXTRA_PACKAGES}
label=xdp-tls-lb.base-packages
force=0
[ "${1:-}" = --force ] && force=1

engine_answers || die "base-image: no Docker engine answers (run docker/dockerd-up.sh)"

# One builder at a time; the second waits, then finds the image and skips.
exec 9>/var/lock/xdp-tls-lb-base-image.lock
flock 9

# An image this script built carries its package list as a label; one built
# from another list (or before the label existed: its description says
# xdp-tls-lb) is rebuilt. Any other image of that name (a user's own
# BASE_IMAGE) is left alone.
if [ "$force" -eq 0 ] && "$DOCKER" image inspect "$image" >/dev/null 2>&1; then
	have=$("$DOCKER" image inspect -f "{{index .Config.Labels \"$label\"}}" "$image" 2>/dev/null || true)
	desc=$("$DOCKER" image inspect -f '{{index .Config.Labels "org.opencontainers.image.description"}}' "$image" 2>/dev/null || true)
	if [ "$have" = "$packages" ]; then
		echo "base-image: $image exists ($(image_size_mb "$image") MB), skipping"
		exit 0
	elif [ -z "$have" ] && [[ $desc != *xdp-tls-lb* ]]; then
		echo "base-image: $image exists and is not one of ours, skipping"
		exit 0
	fi
	echo "base-image: $image was built with other packages (${have:-python3-flask,gunicorn}), rebuilding"
fi

[ "$(id -u)" -eq 0 ] || die "base-image: must run as root (debootstrap)"
command -v debootstrap >/dev/null || die "base-image: debootstrap not found (Debian package debootstrap)"

start=$SECONDS
work=$(mktemp -d /var/tmp/lb-base.XXXXXX)
root=$work/root
cleanup() {
	# debootstrap unmounts what it mounted, unless it was killed midway.
	grep -o " ${root}[^ ]*" /proc/mounts | sort -r | while read -r m; do
		umount -l "$m" || true
	done
	rm -rf "$work"
}
trap cleanup EXIT

echo "base-image: debootstrap --variant=minbase $suite from $mirror (+ $packages)"
debootstrap --variant=minbase --include="$packages" --components=main \
	"$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 || {
	tail -n 30 "$work/debootstrap.log" >&2
	die "base-image: debootstrap failed"
}

# Slim it: no docs (copyright files stay), man pages, locales, apt lists or
# caches, logs; and keep later `apt-get install`s in derived images slim too.
cat >"$root/etc/dpkg/dpkg.cfg.d/90-xdp-tls-lb-nodoc" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
CFG
cat >"$root/etc/apt/apt.conf.d/90-xdp-tls-lb-slim" <<'CFG'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
CFG
chroot "$root" apt-get clean
find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/lintian/*
find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias \
	-exec rm -rf {} +
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin \
	"$root"/var/cache/debconf/*-old "$root"/var/lib/dpkg/*-old \
	"$root"/var/cache/ldconfig/aux-cache
find "$root/var/log" -type f -delete
: >"$root/etc/machine-id"
rm -f "$root/etc/hostname" "$root/etc/resolv.conf"

# Check what the app, lbctl and lbtls need before importing.
chroot "$root" python3 -c 'import flask, gunicorn' ||
	die "base-image: flask or gunicorn missing from the root file system"
for lib in libbpf.so.1 libxdp.so.1 libelf.so.1 libz.so.1 libssl.so.3 \
	libcrypto.so.3 libyaml-0.so.2 libjansson.so.4 libnghttp2.so.14; do
	chroot "$root" ldconfig -p | grep -qF "$lib " ||
		die "base-image: $lib missing from the root file system"
done
# lbtls built with TLS=boringssl finds these by its rpath, not ldconfig
for lib in libssl.so.0 libcrypto.so.0; do
	[ -e "$root/usr/lib/$(uname -m)-linux-gnu/android/$lib" ] ||
		die "base-image: android/$lib missing from the root file system"
done

echo "base-image: importing as $image"
tar --numeric-owner -C "$root" --exclude='./dev/*' --exclude='./proc/*' \
	--exclude='./sys/*' -cf - . |
	"$DOCKER" import \
		--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		--change 'ENV LANG=C.UTF-8' \
		--change 'CMD ["python3"]' \
		--change "LABEL org.opencontainers.image.description=\"Debian $suite minbase with python3-flask, gunicorn and lbctl/lbtls run-time libraries (xdp-tls-lb)\"" \
		--change "LABEL $label=$packages" \
		--message "debootstrap --variant=minbase --include=$packages $suite" \
		- "$image" >/dev/null

echo "base-image: $image built in $((SECONDS - start))s," \
	"$(image_size_mb "$image") MB"
