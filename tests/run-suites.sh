#!/usr/bin/env bash
# Runs every test suite and closes with one total line "N passed, N failed".
#
# A suite is a cmocka binary build/tests/SUITE/test_* or a script
# tests/SUITE/test_*.sh printing "N passed, N failed". A suite that exits
# non-zero without reporting a failure, or reports nothing at all, counts as
# one failure: a crash or a silent runner is never green.
#
# Usage: tests/run-suites.sh BUILD_DIR      (SUITES="unit bpf" to pick)
#
# BORINGSSL_BUILD=DIR (make test sets it to build-boringssl): then the
# suites that run the TLS tier (unit, faults, tls) run a second time on
# that build of lbtls (make TLS=boringssl), named "boringssl:SUITE/TEST",
# in the same total: a failure in either build fails the run.
set -u
build=${1:-build}
suites=${SUITES:-unit faults fuzz bpf net tls docker}
suite_timeout=${SUITE_TIMEOUT:-900}
total_pass=0
total_fail=0
failed_names=()

run_one() {
	local name=$1
	shift
	local out rc pass=0 fail=0
	out=$(mktemp)
	echo "=== $name"
	timeout --kill-after=10 "$suite_timeout" "$@" 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	# cmocka: "[  PASSED  ] 3 test(s)." / "[  FAILED  ] 1 test(s), listed below:"
	pass=$(awk '/^\[  PASSED  \] [0-9]+ test/ {s += $4} END {print s + 0}' "$out")
	fail=$(awk '/^\[  FAILED  \] [0-9]+ test\(s\)/ {s += $4} END {print s + 0}' "$out")
	# plain: "N passed, N failed" (optionally "word: " before it)
	read -r p f < <(sed -nE 's/^([A-Za-z-]+: )?([0-9]+) passed, ([0-9]+) failed.*/\2 \3/p' "$out" |
		awk '{p += $1; f += $2} END {print p + 0, f + 0}')
	pass=$((pass + p))
	fail=$((fail + f))
	if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then
		echo "run-suites: $name exited with status $rc without a failed test: counted as one failure"
		fail=1
	elif [ $((pass + fail)) -eq 0 ]; then
		echo "run-suites: $name reported no test: counted as one failure"
		fail=1
	fi
	[ "$fail" -gt 0 ] && failed_names+=("$name")
	total_pass=$((total_pass + pass))
	total_fail=$((total_fail + fail))
	rm -f "$out"
}

run_suite() { # run_suite BUILD SUITE NAME_PREFIX
	local build=$1 suite=$2 prefix=$3 bin script corpus
	for bin in "$build"/tests/"$suite"/test_* "$build"/tests/"$suite"/replay_*; do
		[ -x "$bin" ] || continue
		case $bin in *.d | *.o) continue ;; esac
		if [[ $bin == */replay_* ]]; then
			corpus=tests/fuzz/corpus/${bin##*/replay_}
			run_one "$prefix$suite/${bin##*/}" "$bin" "$corpus"
		else
			run_one "$prefix$suite/${bin##*/}" "$bin"
		fi
	done
	for script in tests/"$suite"/test_*.sh; do
		[ -f "$script" ] || continue
		run_one "$prefix$suite/${script##*/}" bash "$script" "$build"
	done
}

for suite in $suites; do
	run_suite "$build" "$suite" ""
done

# The BoringSSL build of the TLS tier (its binaries are only lbtls's)
if [ -n "${BORINGSSL_BUILD:-}" ]; then
	for suite in $suites; do
		case $suite in
		unit | faults | tls) run_suite "$BORINGSSL_BUILD" "$suite" boringssl: ;;
		esac
	done
fi

echo
if [ "${#failed_names[@]}" -gt 0 ]; then
	echo "failing suites: ${failed_names[*]}"
fi
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
