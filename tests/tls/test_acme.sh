#!/usr/bin/env bash
# shellcheck disable=SC2317 # cleanup (a trap) and helpers run indirectly
# certbot's webroot flow through lbtls, end to end against pebble (Debian's
# ACME test server), in a network namespace of its own:
#
#   certbot --webroot -> pebble (127.0.0.1:14000) -> HTTP-01 validation:
#   pebble asks pebble-challtestsrv's DNS (127.0.0.1:8053) for DOMAIN,
#   gets 198.18.2.1, fetches http://DOMAIN:80/.well-known/acme-challenge/T
#   from lbtls, which serves it from acme_webroot = certbot's webroot.
#   certbot's deploy hook (docker/certbot-deploy-hook.sh) copies the new
#   certificate to lbtls's certificate directory and SIGHUPs the master;
#   a request loop through lbtls counts zero failures meanwhile. Then
#   lbtls is pointed at certbot's live/DOMAIN symlinks and a forced renewal
#   is served after the hook's SIGHUP alone.
#
# Usage: bash tests/tls/test_acme.sh BUILD_DIR
# Prints one line per check and ends with "N passed, N failed"; exits
# non-zero on any failure. Missing root, pebble, certbot, curl, openssl or
# python3-flask is a failure, never a skip.
set -u
build=${1:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
lbtls=$root/$build/lbtls
[[ $build == /* ]] && lbtls=$build/lbtls
hook=$root/docker/certbot-deploy-hook.sh
app=$root/docker/app/app.py
python=${PYTHON:-/usr/bin/python3}

domain=acme.lbtls.test
vip=198.18.2.1 # lbtls's http and https in the namespace; DOMAIN resolves here
ns=lbtls-acme-$$

# shellcheck source=tests/tls/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tmp=$(mktemp -d /tmp/lbtls-acme.XXXXXX)
pids=()
master=
ns_made=0
stop_pid() { # stop_pid PID: TERM, bounded wait, KILL
	local p=$1
	kill -TERM "$p" 2>/dev/null || return 0
	for _ in $(seq 1 50); do
		kill -0 "$p" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$p" 2>/dev/null
}
cleanup() {
	local p
	if [ -n "$master" ]; then
		stop_pid "$master"
	fi
	for p in "${pids[@]}"; do
		stop_pid "$p"
	done
	if [ "$ns_made" -eq 1 ]; then
		# Whatever is left in the test's own namespace (lbtls workers
		# draining, a certbot cut by the suite timeout) was started here.
		for p in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$p" 2>/dev/null
		done
		ip netns del "$ns" 2>/dev/null
	fi
	wait 2>/dev/null
	if [ "${KEEP_TMP:-0}" = 1 ] && [ "$failed" -gt 0 ]; then
		echo "kept $tmp"
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
# KEEP_TMP=1 keeps logs and configs of a failed run for a look.
trap 'exit 130' INT TERM

# --- prerequisites: fail, never skip --------------------------------------
require_root "a network namespace with port 80"
require_tools "apt-get install pebble certbot" pebble pebble-challtestsrv \
	certbot curl openssl ip
require_flask "$python"
require_built "$lbtls" "$build"
check "prerequisite: deploy hook $hook" test -f "$hook"
[ "$missing" -eq 0 ] || finish

# --- namespace --------------------------------------------------------------------
# Foreground only: in the background, $! would be the function's subshell;
# background processes run "ip netns exec" directly (it execs the command).
in_ns() { ip netns exec "$ns" "$@"; }
if ip netns add "$ns"; then ns_made=1; fi
ip -n "$ns" link set lo up 2>/dev/null &&
	ip -n "$ns" addr add "$vip/32" dev lo 2>/dev/null
check "network namespace $ns with $vip on lo" \
	bash -c "ip -n '$ns' -4 -o addr show dev lo | grep -q ' $vip/'"
[ "$ns_made" -eq 1 ] || finish

wait_tcp() { # wait_tcp HOST PORT: bounded wait for a listener in the namespace
	for _ in $(seq 1 100); do
		in_ns bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
fingerprint() {
	openssl x509 -noout -fingerprint -sha256 | sed 's/.*=//'
}

# --- pebble and its DNS -------------------------------------------------------------
# pebble-challtestsrv answers every A query with $vip and no AAAA; only its
# DNS is used (the HTTP-01 server pebble would check is lbtls).
ip netns exec "$ns" pebble-challtestsrv -dns01 127.0.0.1:8053 -http01 "" -https01 "" \
	-tlsalpn01 "" -management 127.0.0.1:8055 -defaultIPv4 "$vip" \
	-defaultIPv6 "" >"$tmp/challtestsrv.log" 2>&1 &
pids+=($!)
mkdir -p "$tmp/pebble"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-keyout "$tmp/pebble/key.pem" -out "$tmp/pebble/cert.pem" -days 2 \
	-subj /CN=pebble -addext subjectAltName=IP:127.0.0.1,DNS:localhost \
	2>/dev/null
cat >"$tmp/pebble/config.json" <<EOF
{
  "pebble": {
    "listenAddress": "127.0.0.1:14000",
    "managementListenAddress": "127.0.0.1:15000",
    "certificate": "$tmp/pebble/cert.pem",
    "privateKey": "$tmp/pebble/key.pem",
    "httpPort": 80,
    "tlsPort": 5001,
    "ocspResponderURL": "",
    "externalAccountBindingRequired": false
  }
}
EOF
# No random sleeps before validation, no random nonce rejections; validation
# itself is real (PEBBLE_VA_ALWAYS_VALID is not set).
(cd "$tmp/pebble" && exec env -u PEBBLE_VA_ALWAYS_VALID PEBBLE_VA_NOSLEEP=1 \
	PEBBLE_WFE_NONCEREJECT=0 ip netns exec "$ns" pebble \
	-config "$tmp/pebble/config.json" -dnsserver 127.0.0.1:8053 \
	>"$tmp/pebble.log" 2>&1) &
pids+=($!)
check "pebble-challtestsrv DNS up" wait_tcp 127.0.0.1 8055
check "pebble ACME directory up" wait_tcp 127.0.0.1 14000
dns=$(in_ns "$python" - "$domain" <<'EOF'
import socket, struct, sys
# One A query to 127.0.0.1:8053; the A answers' addresses printed.
q = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
for label in sys.argv[1].split("."):
    q += bytes([len(label)]) + label.encode()
q += b"\0" + struct.pack(">HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.sendto(q, ("127.0.0.1", 8053))
r = s.recv(4096)
an = struct.unpack(">H", r[6:8])[0]
i = len(q)  # the question is echoed as sent
out = []
for _ in range(an):
    while True:  # owner name: labels, or a compression pointer
        n = r[i]
        if n >= 0xC0:
            i += 2
            break
        i += 1 + n
        if n == 0:
            break
    t, _c, _ttl, ln = struct.unpack(">HHIH", r[i:i + 10])
    i += 10
    if t == 1:
        out.append(".".join(str(b) for b in r[i:i + 4]))
    i += ln
print(" ".join(out) or "none")
EOF
)
check "challtestsrv resolves $domain to $vip ($dns)" test "$dns" = "$vip"

# --- backend and lbtls ---------------------------------------------------------------
ip netns exec "$ns" env VERSION=1 "$python" "$app" --host 127.0.0.1 --port 5000 \
	>"$tmp/app.log" 2>&1 &
pids+=($!)
check "backend answers" wait_tcp 127.0.0.1 5000

# lbtls starts on a self-signed certificate in its own directory, as
# docker/stack.sh does before Let's Encrypt has issued one.
certdir=$tmp/lbtls-certs/live/$domain
mkdir -p "$certdir" "$tmp/webroot"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-keyout "$certdir/privkey.pem" -out "$certdir/fullchain.pem" -days 2 \
	-subj "/CN=$domain" -addext "subjectAltName=DNS:$domain" 2>/dev/null
fp_self=$(fingerprint <"$certdir/fullchain.pem")
write_conf() { # write_conf CERT_DIR
	cat >"$tmp/lbtls.yaml" <<EOF
workers: 2
listen:
  https: $vip:443
  http: $vip:80
tls:
  certificates:
    - fullchain: $1/fullchain.pem
      privkey: $1/privkey.pem
acme_webroot: $tmp/webroot
upstream:
  servers: [127.0.0.1:5000]
  health: {enabled: false}
log:
  access: $tmp/access.log
  error: $tmp/error.log
  level: info
shutdown_timeout: 5s
EOF
}
lbtls_t() { in_ns "$lbtls" -t -c "$tmp/lbtls.yaml" >>"$tmp/lbtls-t.out" 2>&1; }
write_conf "$certdir"
check "lbtls -t accepts the configuration" \
	lbtls_t
ip netns exec "$ns" "$lbtls" -c "$tmp/lbtls.yaml" >"$tmp/lbtls.out" 2>&1 &
master=$! # ip netns exec execs lbtls: this is the master
echo "$master" >"$tmp/lbtls.pid"
export LBTLS_PIDFILE=$tmp/lbtls.pid
get() { # get URL: status code through lbtls, DOMAIN resolved to $vip
	in_ns curl -sk -o /dev/null -w '%{http_code}' --max-time 5 \
		--resolve "$domain:443:$vip" --resolve "$domain:80:$vip" "$1"
}
up=0
for _ in $(seq 1 100); do
	if [ "$(get "https://$domain/healthz")" = 200 ]; then
		up=1
		break
	fi
	sleep 0.1
done
check "lbtls serves https on $vip:443" test "$up" -eq 1
check "lbtls master pid $master is lbtls" \
	test "$(cat "/proc/$master/comm" 2>/dev/null)" = lbtls
served_fp() {
	in_ns timeout 10 openssl s_client -connect "$vip:443" \
		-servername "$domain" </dev/null 2>/dev/null |
		openssl x509 -noout -fingerprint -sha256 | sed 's/.*=//'
}
served_issuer() {
	in_ns timeout 10 openssl s_client -connect "$vip:443" \
		-servername "$domain" </dev/null 2>/dev/null |
		openssl x509 -noout -issuer -nameopt RFC2253 | sed 's/^issuer=//'
}
check "self-signed certificate served first" test "$(served_fp)" = "$fp_self"
check "port 80 redirects other paths (301)" \
	test "$(get "http://$domain/x")" = 301

# --- certbot, under a request loop ------------------------------------------------------
# The loop: requests until certbot is done (a marker file) and 40 more after
# it, so the hook's SIGHUP is inside it; bounded to 180 s. It writes the
# count after the marker to FILE.after.
loop() { # loop FILE
	local after=0 end=$((SECONDS + 180))
	while [ "$SECONDS" -lt "$end" ]; do
		get "https://$domain/healthz"
		echo
		if [ -e "$tmp/certbot.done" ]; then
			after=$((after + 1))
			[ "$after" -ge 40 ] && break
		fi
	done >"$1"
	echo "$after" >"$1.after"
}
le=$tmp/letsencrypt
certbot_run() { # certbot_run ARGS...: certbot in the namespace, files in $tmp
	in_ns env REQUESTS_CA_BUNDLE="$tmp/pebble/cert.pem" certbot "$@" \
		--server https://127.0.0.1:14000/dir \
		--config-dir "$le" --work-dir "$tmp/certbot-work" \
		--logs-dir "$tmp/certbot-logs" --non-interactive \
		--deploy-hook "bash $hook" >>"$tmp/certbot.out" 2>&1
}
loop "$tmp/codes" &
loader=$!
pids+=("$loader")
for _ in $(seq 1 100); do # the loop is running before certbot starts
	[ "$(wc -l <"$tmp/codes")" -ge 10 ] && break
	sleep 0.05
done
rc=0
LBTLS_CERT_DIR=$certdir certbot_run certonly --webroot -w "$tmp/webroot" \
	-d "$domain" --agree-tos --register-unsafely-without-email \
	--key-type ecdsa || rc=$?
touch "$tmp/certbot.done"
wait "$loader"
check "certbot certonly --webroot succeeds (exit $rc)" test "$rc" -eq 0
[ "$rc" -eq 0 ] || tail -n 20 "$tmp/certbot.out" | sed 's/^/  certbot: /'
live=$le/live/$domain
check "certbot wrote $live/fullchain.pem" test -s "$live/fullchain.pem"
check "pebble validated through lbtls: access log has GET /.well-known/acme-challenge/" \
	grep -Eq '"GET /\.well-known/acme-challenge/[A-Za-z0-9_-]+ HTTP/1\.1" 200 ' \
	"$tmp/access.log"
check "challenge fetched by pebble's VA (user agent LetsEncrypt-Pebble-VA)" \
	grep -Eq 'acme-challenge/.*" 200 [0-9]+ "-" "LetsEncrypt-Pebble-VA' "$tmp/access.log"
check "pebble validated http://$domain:80/.well-known/acme-challenge/ and set the authorization VALID" \
	bash -c "grep -q 'validate w/ HTTP: http://$domain:80/.well-known/acme-challenge/' '$tmp/pebble.log' &&
		grep -q 'authz .* set VALID' '$tmp/pebble.log'"
check "deploy hook ran and sent SIGHUP" \
	grep -rq "sent SIGHUP to the lbtls master $master" "$tmp/certbot.out" "$tmp/certbot-logs"
total=$(wc -l <"$tmp/codes")
fails=$(grep -vc '^200$' "$tmp/codes")
check "request loop during issuance and reload: $total requests, $fails failed" \
	bash -c "[ $total -ge 50 ] && [ $fails -eq 0 ]"
check "request loop went on 40 requests past certbot's end" \
	test "$(cat "$tmp/codes.after")" -ge 40

fp_new=$(fingerprint <"$live/fullchain.pem" 2>/dev/null)
inter=$(in_ns curl -s --cacert "$tmp/pebble/cert.pem" \
	https://127.0.0.1:15000/intermediates/0 |
	openssl x509 -noout -subject -nameopt RFC2253 2>/dev/null | sed 's/^subject=//')
served=
for _ in $(seq 1 50); do # the new generation is up at once; bounded anyway
	served=$(served_fp)
	[ -n "$fp_new" ] && [ "$served" = "$fp_new" ] && break
	sleep 0.1
done
check "lbtls serves certbot's certificate after the hook (fingerprint of fullchain.pem)" \
	bash -c "[ -n '$fp_new' ] && [ '$served' = '$fp_new' ]"
issuer=$(served_issuer)
check "served certificate issued by pebble's intermediate ($issuer)" \
	bash -c "[ -n '$inter' ] && [ '$issuer' = '$inter' ]"
chain_ok=$(in_ns timeout 10 openssl s_client -connect "$vip:443" \
	-servername "$domain" -showcerts </dev/null 2>/dev/null | grep -c 'BEGIN CERTIFICATE')
check "lbtls sends the full chain ($chain_ok certificates)" \
	test "${chain_ok:-0}" -ge 2

# --- renewal with lbtls reading certbot's live/ symlinks ---------------------------------
# What an operator's configuration looks like once Let's Encrypt has issued:
# tls.certificates names /etc/letsencrypt/live/DOMAIN/*.pem, the hook only
# SIGHUPs (docker/stack.sh picks that directory when it exists).
write_conf "$live"
check "lbtls -t accepts certbot's live/ symlinks" lbtls_t
gens() { grep -c "generation .* started" "$tmp/error.log" 2>/dev/null; }
g=$(gens)
kill -HUP "$master"
for _ in $(seq 1 50); do # until the generation reading live/ is up
	[ "$(gens)" -gt "$g" ] && break
	sleep 0.1
done
check "SIGHUP: lbtls now reads $live" test "$(gens)" -gt "$g"
rm -f "$tmp/certbot.done"
loop "$tmp/codes2" &
loader=$!
pids+=("$loader")
for _ in $(seq 1 100); do
	[ "$(wc -l <"$tmp/codes2")" -ge 10 ] && break
	sleep 0.05
done
rc=0
certbot_run renew --force-renewal --no-random-sleep-on-renew || rc=$?
touch "$tmp/certbot.done"
wait "$loader"
check "certbot renew --force-renewal succeeds (exit $rc)" test "$rc" -eq 0
fp_renew=$(fingerprint <"$live/fullchain.pem" 2>/dev/null)
check "renewal made a new certificate" \
	bash -c "[ -n '$fp_renew' ] && [ '$fp_renew' != '$fp_new' ]"
served=
for _ in $(seq 1 50); do
	served=$(served_fp)
	[ "$served" = "$fp_renew" ] && break
	sleep 0.1
done
check "lbtls serves the renewed certificate after the hook's SIGHUP" \
	test -n "$fp_renew" -a "$served" = "$fp_renew"
total=$(wc -l <"$tmp/codes2")
fails=$(grep -vc '^200$' "$tmp/codes2")
check "request loop during renewal and reload: $total requests, $fails failed" \
	bash -c "[ $total -ge 50 ] && [ $fails -eq 0 ]"
check "request loop went on 40 requests past certbot renew's end" \
	test "$(cat "$tmp/codes2.after")" -ge 40
check "deploy hook refuses a pid that is not lbtls" \
	bash -c "echo $$ >'$tmp/bogus.pid'; ! LBTLS_PIDFILE='$tmp/bogus.pid' bash '$hook' 2>/dev/null"

# --- graceful stop ---------------------------------------------------------------------------
kill -TERM "$master"
stopped=0
for _ in $(seq 1 100); do
	if ! kill -0 "$master" 2>/dev/null; then
		stopped=1
		break
	fi
	sleep 0.1
done
check "SIGTERM: lbtls exits" test "$stopped" -eq 1
[ "$stopped" -eq 1 ] && master=

finish
