#!/usr/bin/env bash
# A program the verifier refuses: lbctl says why without -v. lbctl run with
# CAP_BPF and CAP_NET_ADMIN but neither CAP_PERFMON nor CAP_SYS_ADMIN (as a
# container given only the first two) loads lb_xdp under the verifier's
# rules for the unprivileged, which refuse its packet pointer arithmetic.
# The old lbctl printed "cannot load the XDP program ...: Permission denied"
# and hid the verifier's log unless -v; it must print the log's end, with
# the reason. A load that works prints nothing of libbpf's.
# Ends with "N passed, N failed"; a trap removes the instance's pins.
#
# Usage: bash tests/bpf/test_load_log.sh BUILD_DIR
set -u
BUILD=$(realpath "${1:-build}")
INST=lbv$$
DIR=$(mktemp -d /tmp/lbv-log.XXXXXX)
pass=0
fail=0

cleanup() {
	"$BUILD/lbctl" --instance "$INST" unload >/dev/null 2>&1
	rm -rf "$DIR" "/run/lbctl/$INST.lock"
}
trap cleanup EXIT

check() {
	local what=$1
	shift
	if "$@"; then
		echo "ok   $what"
		pass=$((pass + 1))
	else
		echo "FAIL $what"
		fail=$((fail + 1))
	fi
}

if [ "$(id -u)" != 0 ] || ! command -v capsh >/dev/null; then
	echo "FAIL must run as root with capsh (libcap2-bin)"
	echo "0 passed, 1 failed"
	exit 1
fi

capsh --drop=cap_perfmon,cap_sys_admin -- -c \
	"exec '$BUILD/lbctl' --instance $INST load" >"$DIR/refused" 2>&1
rc=$?
sed 's/^/    /' "$DIR/refused" | grep -v '^    [0-9]*: ' | tail -n 8
check "without CAP_PERFMON the load fails (exit $rc)" test "$rc" = 1
# the refusal depends on the program's shape ("pointer arithmetic with
# it prohibited for !root" before lb_process became a subprogram,
# "R1 pointer -= pointer prohibited" since): a register and the rule
check "and says which instruction the verifier refused, and why" \
	grep -qE "R[0-9]+ .*prohibited" "$DIR/refused"
check "with the end of the verifier's log" \
	grep -qE "^processed [0-9]+ insns" "$DIR/refused"
"$BUILD/lbctl" --instance "$INST" unload >/dev/null 2>&1

"$BUILD/lbctl" --instance "$INST" load >"$DIR/loaded" 2>&1
rc=$?
check "with every capability it loads (exit $rc)" test "$rc" = 0
check "and prints nothing of libbpf's" \
	bash -c "! grep -qi 'libbpf' '$DIR/loaded'"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
