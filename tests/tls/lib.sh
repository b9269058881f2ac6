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
require_root() { # require_root WHY: the test needs root for WHY
	if [ "$(id -u)" = 0 ]; then
		ok "prerequisite: root ($1)"
	else
		bad "prerequisite: must run as root ($1)"
		missing=1
	fi
}
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

# --- shared by the lbtls end-to-end scripts ------------------------------------
# find_ports N: sets base to the first of N free loopback ports in a row,
# below the ephemeral range where no client socket can be holding them;
# returns 1 when 50 tries found none.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
find_ports() {
	local n=$1 eph_lo top lo b o free
	read -r eph_lo _ </proc/sys/net/ipv4/ip_local_port_range
	top=$((eph_lo > 12000 ? eph_lo - n - 1 : 60000))
	lo=$((eph_lo > 12000 ? 10000 : 61000))
	base=
	for _ in $(seq 1 50); do
		b=$((lo + RANDOM % (top - lo)))
		free=1
		for o in $(seq 0 $((n - 1))); do
			if port_busy $((b + o)); then
				free=0
				break
			fi
		done
		if [ "$free" -eq 1 ]; then
			base=$b
			return 0
		fi
	done
	return 1
}
mkcert() { # mkcert DIR: self-signed ECDSA P-256 for localhost and 127.0.0.1
	mkdir -p "$1"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		-nodes -keyout "$1/privkey.pem" -out "$1/fullchain.pem" -days 2 \
		-subj /CN=localhost \
		-addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null
}
wait_http() { # wait_http URL [SECONDS]: bounded wait (10 s) for a 200
	local end=$((SECONDS + ${2:-10}))
	while [ "$SECONDS" -lt "$end" ]; do
		[ "$(curl -sk -m 2 -o /dev/null -w '%{http_code}' "$1")" = 200 ] && return 0
		sleep 0.1
	done
	return 1
}
# epoch_key_name KEYFILE ROTATION_S [TIME]: the name (hex) of the session
# ticket key lbtls derives from the file's first 80 bytes for the epoch
# of TIME (default now), by the formula in tls-tier/tls/tlscompat.h, computed
# with `openssl kdf` (another implementation than lbtls's).
epoch_key_name() {
	local t=${3:-$(date +%s)} info
	info=$(printf 'lbtls ticket epoch' | od -An -tx1 | tr -d ' \n')
	info=$info$(printf '%016x%016x' "$2" $((t / $2)))
	openssl kdf -keylen 80 -kdfopt digest:SHA256 \
		-kdfopt hexkey:"$(head -c 80 "$1" | od -An -tx1 | tr -d ' \n')" \
		-kdfopt salt:"lbtls ticket key" -kdfopt hexinfo:"$info" HKDF |
		tr -d ':\n' | tr 'A-F' 'a-f' | head -c 32
}
ticket_name() { # the key name (first 16 bytes, hex) of a saved session's ticket
	openssl sess_id -in "$1" -noout -text 2>/dev/null |
		sed -n '/TLS session ticket:/{n;p;q}' |
		sed -E 's/^ *0000 - //; s/-/ /; s/   .*//; s/ //g'
}

# stop_tree PID...: TERM, a bounded wait (5 s), then KILL each and its
# children (an lbtls master and its workers).
stop_tree() {
	local p c alive
	for p in "$@"; do kill -TERM "$p" 2>/dev/null; done
	for _ in $(seq 1 50); do
		alive=0
		for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done
		[ "$alive" -eq 0 ] && break
		sleep 0.1
	done
	for p in "$@"; do
		for c in $(ps -o pid= --ppid "$p" 2>/dev/null); do
			kill -KILL "$c" 2>/dev/null
		done
		kill -KILL "$p" 2>/dev/null
	done
}

# remove_tmp DIR: removed, or kept for a look when KEEP_TMP=1 and a check
# failed.
remove_tmp() {
	if [ "${KEEP_TMP:-0}" = 1 ] && [ "${failed:-0}" -gt 0 ]; then
		echo "kept $1"
	else
		rm -rf "$1"
	fi
}
