# shellcheck shell=bash disable=SC2034 # missing= is read by the sourcing script
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

# Prerequisites fail, never skip: each require_* records a failed check
# and sets missing=1; the script then calls finish if anything is missing.
missing=0
require_tools() { # require_tools HINT TOOL...
	local hint=$1 tool
	shift
	for tool in "$@"; do
		if command -v "$tool" >/dev/null; then
			ok "prerequisite: $tool"
		else
			bad "prerequisite: $tool is not installed${hint:+ ($hint)}"
			missing=1
		fi
	done
}
require_flask() { # require_flask PYTHON
	if "$1" -c 'import flask' 2>/dev/null; then
		ok "prerequisite: flask importable by $1"
	else
		bad "prerequisite: python3-flask is not installed for $1"
		missing=1
	fi
}
require_built() { # require_built BINARY BUILD_DIR
	if [ -x "$1" ]; then
		ok "prerequisite: $1 built"
	else
		bad "prerequisite: $1 is missing (make $2/${1##*/})"
		missing=1
	fi
}
