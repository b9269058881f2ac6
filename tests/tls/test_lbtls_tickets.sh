#!/usr/bin/env bash
# Session ticket rotation end to end (issue 19, finding 11): two lbtls
# instances ("host A" with two workers, "host B" with one) share a
# tls.session_ticket_key, with tls.ticket_rotation 2s and
# tls.ticket_lifetime 6s; real openssl s_client resumptions, loopback only.
# For TLS 1.3 and TLS 1.2, a ticket
# - is sealed with the key `openssl kdf` derives from the file for now's
#   epoch (the documented formula, tlscompat.h);
# - resumes on the other worker of A (X-Served-By names it; SO_REUSEPORT
#   spreads connections, so several are tried) and on B;
# - still resumes after a rotation, and is renewed with the new epoch's key;
# - gives a full handshake, on A and on B, once older than the lifetime.
# The waits are for the clock to pass a rotation or the lifetime; the
# checks are on the resumption outcome, never on durations.
#
# Usage: bash tests/tls/test_lbtls_tickets.sh BUILD_DIR
set -u
build=${1:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
lbtls=$root/$build/lbtls
[[ $build == /* ]] && lbtls=$build/lbtls
python=${PYTHON:-/usr/bin/python3}
ROT=2 LIFE=6

# shellcheck source=tests/tls/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tmp=$(mktemp -d /tmp/lbtls-tickets.XXXXXX)
pids=()
cleanup() { # every process this script started, even after a failure
	stop_tree "${pids[@]}"
	wait 2>/dev/null
	remove_tmp "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

require_tools "" openssl curl
require_tools "" "$python"
require_built "$lbtls" "$build"
[ "$missing" -eq 0 ] || finish
find_ports 3 || {
	bad "no free block of loopback ports"
	finish
}
port_a=$base port_b=$((base + 1)) be=$((base + 2))

mkcert "$tmp/cert"
openssl rand 80 >"$tmp/ticket.key"
mkdir -p "$tmp/www"
echo ok >"$tmp/www/index.html"
"$python" -m http.server --bind 127.0.0.1 --directory "$tmp/www" "$be" \
	>"$tmp/backend.log" 2>&1 &
pids+=($!)

conf() { # conf NAME PORT WORKERS
	cat >"$tmp/$1.yaml" <<EOF
workers: $3
listen:
  https: 127.0.0.1:$2
tls:
  certificates:
    - fullchain: $tmp/cert/fullchain.pem
      privkey: $tmp/cert/privkey.pem
  session_ticket_key: $tmp/ticket.key
  ticket_rotation: ${ROT}s
  ticket_lifetime: ${LIFE}s
upstream:
  servers: [127.0.0.1:$be]
log:
  error: $tmp/$1.error.log
metrics: "off"
x_served_by: true
EOF
}
conf a "$port_a" 2
conf b "$port_b" 1
for h in a b; do
	out=$("$lbtls" -t -c "$tmp/$h.yaml" 2>&1)
	check "lbtls -t accepts ticket_rotation and ticket_lifetime ($h)" \
		grep -q "test is successful" <<<"$out"
	"$lbtls" -c "$tmp/$h.yaml" >"$tmp/$h.out" 2>&1 &
	pids+=($!)
done
check "backend answers" wait_http "http://127.0.0.1:$be/"
check "host A serves https" wait_http "https://127.0.0.1:$port_a/"
check "host B serves https" wait_http "https://127.0.0.1:$port_b/"
[ "$failed" -eq 0 ] || finish

req='GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'
sc() { # sc PORT s_client-options...
	local port=$1
	shift
	printf "$req" | timeout 10 openssl s_client -connect "127.0.0.1:$port" \
		-ign_eof "$@" 2>/dev/null
}
served_by() { sed -n 's/^X-Served-By: .*worker-\([0-9]*\).*/\1/p' <<<"$1" | tr -d '\r'; }
reused() { grep -q "^Reused, TLSv1.$2" <<<"$1"; }
full() { grep -q "^New, TLSv1.$2" <<<"$1"; }
# sealed_now SESSION T_BEFORE T_AFTER: the ticket's key is the derived key
# of the epoch at one end of the connection
sealed_now() {
	local name
	name=$(ticket_name "$1")
	[ -n "$name" ] &&
		{ [ "$name" = "$(epoch_key_name "$tmp/ticket.key" "$ROT" "$2")" ] ||
			[ "$name" = "$(epoch_key_name "$tmp/ticket.key" "$ROT" "$3")" ]; }
}
differ() { [ -n "$1" ] && [ -n "$2" ] && [ "$1" != "$2" ]; }
wait_until() { # wait_until UNIX_TIME: the clock, not a threshold
	while [ "$(date +%s)" -lt "$1" ]; do sleep 0.2; done
}

for v in 3 2; do
	s=$tmp/s1$v
	t0=$(date +%s)
	out=$(sc "$port_a" -tls1_$v -sess_out "$s")
	t1=$(date +%s)
	w0=$(served_by "$out")
	check "TLSv1.$v: full handshake on host A, worker ${w0:-?}" \
		bash -c '[ -n "$2" ] && grep -q "^New, TLSv1.$1" <<<"$3"' _ "$v" "$w0" "$out"
	check "TLSv1.$v: ticket sealed with the epoch key derived from the shared file" \
		sealed_now "$s" "$t0" "$t1"

	# the other worker of A: SO_REUSEPORT picks by the 4-tuple
	other='' other_reused=0
	for _ in $(seq 1 40); do
		out=$(sc "$port_a" -tls1_$v -sess_in "$s")
		w=$(served_by "$out")
		if [ -n "$w" ] && [ "$w" != "$w0" ]; then
			other=$w
			reused "$out" $v && other_reused=1
			break
		fi
	done
	check "TLSv1.$v: a connection reached the other worker of A (${other:-none in 40})" \
		test -n "$other"
	check "TLSv1.$v: the ticket of worker $w0 resumes on worker ${other:-?}" \
		test "$other_reused" -eq 1
	out=$(sc "$port_b" -tls1_$v -sess_in "$s")
	check "TLSv1.$v: the ticket of host A resumes on host B (shared key file)" \
		reused "$out" $v

	# one rotation: the next epoch starts
	wait_until $(((t1 / ROT + 1) * ROT))
	t2=$(date +%s)
	out=$(sc "$port_b" -tls1_$v -sess_in "$s" -sess_out "$s.renewed" -msg)
	t3=$(date +%s)
	check "TLSv1.$v: after a rotation, still within the lifetime: resumes" \
		reused "$out" $v
	if [ "$v" = 3 ]; then
		# TLS 1.3 sends new tickets on every resumption: their key
		check "TLSv1.3: the new ticket is sealed with the new epoch's key" \
			differ "$(ticket_name "$s")" "$(ticket_name "$s.renewed")"
		check "TLSv1.3: which is now's epoch key from the shared file" \
			sealed_now "$s.renewed" "$t2" "$t3"
	else
		# TLS 1.2 renews only a ticket of an older key (s_client
		# writes no -sess_out for a resumption)
		check "TLSv1.2: renewed (a NewSessionTicket in the resumption)" \
			grep -q NewSessionTicket <<<"$out"
	fi

	# past the lifetime (session times are whole seconds: one more)
	wait_until $((t1 + LIFE + 2))
	out=$(sc "$port_a" -tls1_$v -sess_in "$s")
	check "TLSv1.$v: older than ticket_lifetime: full handshake on host A" \
		full "$out" $v
	out=$(sc "$port_b" -tls1_$v -sess_in "$s")
	check "TLSv1.$v: older than ticket_lifetime: full handshake on host B" \
		full "$out" $v
done
finish
