#!/usr/bin/env bash
# The TLS library of a build (DESIGN D10): lbtls says which one it was
# built with (lbtls -V) and loads that one; lbctl loads OpenSSL; no binary
# of the build loads both OpenSSL's and BoringSSL's libssl/libcrypto (they
# export the same symbol names: a mix fails at run time, not at link).
#
# Usage: bash tests/unit/test_tls_build.sh BUILD_DIR     (build or build-boringssl)
set -u
build=${1:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
[[ $build == /* ]] || build=$root/$build
# shellcheck source=tests/tls/lib.sh
. "$root/tests/tls/lib.sh"

libs() { # libs ELF: "openssl", "boringssl", "both" or "none" (ldd, transitive)
	local out o=0 b=0
	out=$(ldd "$1" 2>/dev/null)
	grep -Eq 'lib(ssl|crypto)\.so\.3 =>' <<<"$out" && o=1
	grep -Eq 'lib(ssl|crypto)\.so\.0 => .*/android/' <<<"$out" && b=1
	case $o$b in
	10) echo openssl ;;
	01) echo boringssl ;;
	11) echo both ;;
	*) echo none ;;
	esac
}

if [ ! -x "$build/lbtls" ]; then
	bad "$build/lbtls is missing (make BUILD=${build##*/})"
	finish
	exit
fi
version=$("$build/lbtls" -V 2>&1)
case $version in
"lbtls: TLS library OpenSSL "*) want=openssl ;;
"lbtls: TLS library BoringSSL"*) want=boringssl ;;
*) want=unknown ;;
esac
check "lbtls -V names its library ($version)" test "$want" != unknown
check "lbtls loads the library -V names ($want)" test "$(libs "$build/lbtls")" = "$want"
if [ -x "$build/lbctl" ]; then
	check "lbctl loads OpenSSL" test "$(libs "$build/lbctl")" = openssl
fi

n=0
mixed=()
while read -r f; do
	head -c 4 "$f" 2>/dev/null | grep -q 'ELF' || continue
	n=$((n + 1))
	[ "$(libs "$f")" = both ] && mixed+=("${f#"$build"/}")
done < <(find "$build" -type f -perm -u+x ! -name '*.o' ! -name '*.d')
check "no binary of $n loads both OpenSSL and BoringSSL${mixed[*]:+: ${mixed[*]}}" \
	test "${#mixed[@]}" -eq 0
finish
