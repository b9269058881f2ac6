# shellcheck shell=bash
# The check harness of the tls suite's scripts (sourced): one line per
# check, and finish prints "N passed, N failed" and exits non-zero on any
# failure, as tests/run-suites.sh expects.
passed=0
failed=0
ok() {
	echo "ok   - $*"
	passed=$((passed + 1))
}
bad() {
	echo "FAIL - $*"
	failed=$((failed + 1))
}
check() { # check "description" command...
	local what=$1
	shift
	if "$@"; then ok "$what"; else bad "$what"; fi
}
finish() {
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit $?
}
