#!/usr/bin/env bash
# HTTP/2 through the whole stack as `make run` builds it (docker/stack.sh,
# issue 21): from the stack's client namespace through XDP and lbtls to the
# Flask containers (gunicorn), with real clients: curl --http2 on the IPv4
# and IPv6 VIPs, nghttp with 100 concurrent streams on one connection, 50 MB
# each way with sha256 checked on both ends, h2load keep-alive streams; and
# every answer the same as the one HTTP/1.1 gets. Prints one line per check
# and ends with "N passed, N failed". A trap takes the stack down even when
# a check fails; Docker or BPF missing is a failure, never a skip.
#
# Usage: flock /tmp/lb-docker.lock bash tests/docker/test_stack_h2.sh BUILD_DIR
set -u
BUILD=${1:-build}
cd "$(dirname "$0")/../.." || exit 1
export BUILD
export STACK=lbh$$
export FLASK_NET_PREFIX=198.19.$((130 + $$ % 30))
. tests/docker/stack_lib.sh
VIP6=fd00:198:18::100
TMPD=$(mktemp -d /tmp/lb-stack-h2.XXXXXX)
# lbtls's logs of this stack (stack.sh down keeps them): removed after a
# run without failure, kept for a look after one.
finish_h2() {
	rm -rf "$TMPD"
	cleanup
	if [ "$fail" = 0 ]; then
		rm -rf "/var/log/xdp-tls-lb/$STACK"
	else
		echo "lbtls's logs kept in /var/log/xdp-tls-lb/$STACK"
	fi
}
trap finish_h2 EXIT

in_client() {
	ip netns exec "$CLIENT_NS" "$@"
}

# vcurl FAMILY ARGS... URL_PATH: curl from the client to the VIP of that
# family, by the certificate's name
vcurl() {
	local fam=$1 args=("${@:2:$#-2}") path=${*: -1} vip=$VIP4
	[ "$fam" = 6 ] && vip="[$VIP6]"
	in_client curl -sS -g --max-time 120 -k --resolve "$DOMAIN:443:$vip" \
		"${args[@]}" "https://$DOMAIN$path"
}

# The three backends differ only in their version number: answers are
# compared with it taken out.
norm() { sed -E 's/Version [0-9]/Version N/; s/"version":"[0-9]"/"version":"N"/' "$1"; }

# same_answers FAMILY: every path answered alike over HTTP/2 and HTTP/1.1
same_answers() {
	local fam=$1 p a b bad=0
	for p in / /healthz '/echo-headers?q=1&r=two' /no-such-page \
		'/bytes?n=300000' '/bytes?n=300000&chunked=1'; do
		a=$(vcurl "$fam" --http1.1 -o "$TMPD/a1" -w '%{http_code} %{http_version}' "$p")
		b=$(vcurl "$fam" --http2 -o "$TMPD/a2" -w '%{http_code} %{http_version}' "$p")
		echo "v$fam $p: HTTP/1.1 '$a', HTTP/2 '$b'"
		if [ "${a% *}" != "${b% *}" ] || [ "${a#* }" != 1.1 ] || [ "${b#* }" != 2 ] ||
			[ "$(norm "$TMPD/a1")" != "$(norm "$TMPD/a2")" ]; then
			echo "  differ:"
			diff <(norm "$TMPD/a1") <(norm "$TMPD/a2") | head -5
			bad=1
		fi
	done
	[ "$bad" = 0 ]
}

# Nine requests on one HTTP/2 connection: one worker's round-robin gives
# the three versions; all nine were HTTP/2 on one connection.
versions_over_h2() { # versions_over_h2 FAMILY
	local args=() i out vip=$VIP4
	[ "$1" = 6 ] && vip="[$VIP6]"
	for i in $(seq 9); do args+=(-o "$TMPD/v$i" "https://$DOMAIN/"); done
	out=$(in_client curl -sS -g --max-time 20 -k --resolve "$DOMAIN:443:$vip" \
		--http2 -w '%{http_version}:%{num_connects} ' "${args[@]}")
	echo "protocol:connects per request: $out"
	echo "versions: $(cat "$TMPD"/v? | grep -o 'Version [0-9]' | sort | uniq -c | tr '\n' ' ')"
	[ "$out" = "2:1 2:0 2:0 2:0 2:0 2:0 2:0 2:0 2:0 " ] || return 1
	for v in 1 2 3; do grep -q "Version $v" "$TMPD"/v? || return 1; done
}

# The headers Flask sees from an HTTP/2 client of FAMILY: the client's
# address in X-Forwarded-For and X-Real-IP, https, Host from :authority,
# two cookie fields joined.
h2_headers() { # h2_headers FAMILY CLIENT_ADDRESS
	local json
	json=$(vcurl "$1" --http2 -H 'Cookie: a=1' -H 'Cookie: b=2' \
		-w '\n%{http_version}' /echo-headers) || return 1
	echo "$json"
	[ "$(tail -n1 <<<"$json")" = 2 ] &&
		grep -q "\"X-Forwarded-For\":\"$2\"" <<<"$json" &&
		grep -q "\"X-Real-Ip\":\"$2\"" <<<"$json" &&
		grep -q '"X-Forwarded-Proto":"https"' <<<"$json" &&
		grep -q "\"Host\":\"$DOMAIN\"" <<<"$json" &&
		grep -q '"Cookie":"a=1; b=2"' <<<"$json"
}

# nghttp: 100 streams at once on one connection, every one 200.
nghttp_100() {
	local n
	in_client nghttp -y -n -s -m 100 "https://$VIP4/healthz" >"$TMPD/ng100" 2>&1
	n=$(awk '$5 == 200 && $7 == "/healthz"' "$TMPD/ng100" | wc -l)
	tail -n 3 "$TMPD/ng100"
	echo "nghttp: $n of 100 streams answered 200"
	[ "$n" = 100 ]
}

# limits.body raised to 64m for the 50 MB upload (the stack's lbtls.yaml
# keeps the default 1m), lbtls reloaded with SIGHUP through tini, as an
# operator does; done once a 2 MB body passes. (Not `docker-compose
# restart lbtls`: the restarted master cannot open its log files, which
# the first one gave to the workers' user.)
raise_body_limit() {
	local code
	cat >>"$STATE/lbtls.yaml" <<EOF
# test_stack_h2.sh: room for its 50 MB upload
limits:
  body: 64m
EOF
	dc kill -s HUP lbtls || return 1
	head -c 2000000 /dev/zero >"$TMPD/2m"
	for _ in $(seq 100); do # bounded: 10 s
		code=$(vcurl 4 --http2 -o /dev/null -w '%{http_code}' \
			--data-binary @"$TMPD/2m" /sha256)
		[ "$code" = 200 ] && return 0
		sleep 0.1
	done
	echo "a 2 MB body still answered $code"
	return 1
}

# SIGHUP with x_served_by turned off: once an answer comes without
# X-Served-By (the new generation), every later one must (the old
# generation serves no new request): 20 h2 requests over 6 s, IPv4 and
# IPv6 in turn.
served_by() { # served_by FAMILY: yes or no (X-Served-By in a 200), else fail
	local h
	h=$(vcurl "$1" --http2 -o /dev/null -D - /healthz) || {
		echo fail
		return
	}
	if ! grep -q '^HTTP/2 200' <<<"$h"; then
		echo fail
	elif grep -qi '^x-served-by:' <<<"$h"; then
		echo yes
	else
		echo no
	fi
}
reload_only_new_generation() {
	local i got seen=""
	sed -i 's/^x_served_by: true$/x_served_by: false/' "$STATE/lbtls.yaml"
	grep -q '^x_served_by: false$' "$STATE/lbtls.yaml" || return 1
	dc kill -s HUP lbtls || return 1
	for _ in $(seq 100); do # bounded: 10 s
		[ "$(served_by 4)" = no ] && break
		sleep 0.1
	done
	for i in $(seq 20); do
		got=$(served_by $((i % 2 ? 4 : 6)))
		seen="$seen $got"
		sleep 0.3
	done
	echo "X-Served-By after the reload:$seen"
	grep -E "generation|went away" "/var/log/xdp-tls-lb/$STACK/error.log" | tail -n 8
	! grep -Eq 'yes|fail' <<<"$seen"
}

big=52428800
download_50m() { # download_50m FAMILY [chunked]
	local q="/bytes?n=$big" out got sent want
	[ "${2:-}" = chunked ] && q="$q&chunked=1"
	out=$(vcurl "$1" --http2 -D "$TMPD/hd" -o "$TMPD/down" -w '%{http_code} %{http_version} %{size_download}' "$q")
	got=$(sha256sum "$TMPD/down" | cut -c1-64)
	sent=$(tr -d '\r' <"$TMPD/hd" | sed -n 's/^x-content-sha256: //Ip')
	want=$(/usr/bin/python3 -B - "$PWD/docker/app" "$big" <<'EOF'
import hashlib, sys
sys.path.insert(0, sys.argv[1])
import app  # docker/app/app.py: its pattern, hashed here as the client would
d = hashlib.sha256()
for piece in app.bytes_chunks(int(sys.argv[2])):
    d.update(piece)
print(d.hexdigest())
EOF
	)
	rm -f "$TMPD/down"
	echo "$out; received sha256 $got; Flask sent $sent; expected $want"
	[ "$out" = "200 2 $big" ] && [ "$got" = "$want" ] &&
		{ [ "${2:-}" = chunked ] || [ "$got" = "$sent" ]; }
}

# A 413 here comes from a worker of the generation before the reload (1m),
# which still takes new connections: reload_only_new_generation asserts
# that bug on its own; the upload is tried again (3 times at most) so that
# this check is about the body.
upload_50m() { # upload_50m FAMILY [chunked]
	local out want n try
	head -c "$big" /dev/urandom >"$TMPD/up"
	want=$(sha256sum "$TMPD/up" | cut -c1-64)
	for try in 1 2 3; do
		if [ "${2:-}" = chunked ]; then
			out=$(vcurl "$1" --http2 -D "$TMPD/hd" -T - -w '%{http_version}' /sha256 <"$TMPD/up")
		else
			out=$(vcurl "$1" --http2 -D "$TMPD/hd" --data-binary @"$TMPD/up" -w '%{http_version}' /sha256)
		fi
		grep -q '^HTTP/2 413' "$TMPD/hd" || break
		echo "try $try: 413 (a worker of the old generation)"
		sleep 1
	done
	rm -f "$TMPD/up"
	n=$(tr -d '\r' <"$TMPD/hd" | sed -n 's/^x-body-length: //Ip')
	echo "sent sha256 $want; Flask: $(echo "$out" | tr '\n' ' ') ($n bytes)"
	[ "$out" = "$want
2" ] && [ "$n" = "$big" ]
}

h2load_keepalive() {
	in_client h2load -n 2000 -c 4 -m 10 "https://$VIP4/healthz" >"$TMPD/h2load" 2>&1
	grep -E '^(Application protocol:|finished in|requests:|status codes:)' "$TMPD/h2load"
	grep -q "^Application protocol: h2" "$TMPD/h2load" &&
		grep -q "^requests: 2000 total, 2000 started, 2000 done, 2000 succeeded, 0 failed, 0 errored, 0 timeout" "$TMPD/h2load" &&
		grep -q "^status codes: 2000 2xx" "$TMPD/h2load"
}

# lbtls's own count of HTTP/2 connections (its /metrics, in the host
# namespace): the h2 answers above came from lbtls's HTTP/2, not a fallback
h2_counted() {
	local m
	m=$(ip netns exec "$HOST_NS" curl -sf --max-time 2 http://127.0.0.1:9145/metrics |
		grep -E '^lbtls_http2_(connections|streams)_total ')
	echo "$m"
	[ "$(awk '$1 == "lbtls_http2_connections_total" {print $2}' <<<"$m")" -ge 9 ] &&
		[ "$(awk '$1 == "lbtls_http2_streams_total" {print $2}' <<<"$m")" -ge 2005 ]
}

access_log_h2() {
	local f=/var/log/xdp-tls-lb/$STACK/access.log
	grep -E '"GET /healthz HTTP/2\.0" 200 .* stream=[0-9]+$' "$f" | tail -n 1
	grep -Eq '^198\.18\.1\.10 .*"GET /healthz HTTP/2\.0" 200 .* stream=[0-9]+$' "$f"
}

# docker/app/app.py's routes for this test are in the image: the scripts
# of `make run` rebuilt it from the changed app.py
new_routes() {
	local a b
	a=$(vcurl 4 --http1.1 -o /dev/null -w '%{http_code} %{size_download}' '/bytes?n=5')
	b=$(vcurl 4 --http1.1 --data-binary abc /sha256)
	echo "/bytes?n=5: $a; /sha256 of abc: $b"
	[ "$a" = "200 5" ] &&
		[ "$b" = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad ]
}

docker_preconditions docker docker-compose curl nghttp h2load ip

check "docker/stack.sh up (make run) brings the stack up" \
	bash -c "docker/stack.sh up >>'$LOGDIR/stack.log' 2>&1"
if [ "$fail" -gt 0 ]; then # nothing below can pass; the trap takes it down
	tail -n 20 "$LOGDIR/stack.log"
	echo "$pass passed, $fail failed"
	exit 1
fi
check "lbtls workers registered and XDP attached" \
	bash -c "$BUILD/lbctl --instance $STACK --netns $HOST_NS status | grep -q 'lbh (native)'"
check "the Flask image has /bytes and /sha256 (rebuilt from docker/app)" new_routes
check "ALPN through XDP: h2 chosen" \
	bash -c "ip netns exec $CLIENT_NS openssl s_client -connect $VIP4:443 -alpn h2,http/1.1 </dev/null 2>/dev/null | grep -q '^ALPN protocol: h2$'"
check "IPv4 VIP: the same answers over HTTP/2 and HTTP/1.1 (6 paths)" same_answers 4
check "IPv6 VIP: the same answers over HTTP/2 and HTTP/1.1 (6 paths)" same_answers 6
check "IPv4 VIP: nine h2 requests on one connection, the three versions" versions_over_h2 4
check "IPv6 VIP: nine h2 requests on one connection, the three versions" versions_over_h2 6
check "IPv4 h2: Flask sees the client in X-Forwarded-For/X-Real-IP, https, Host, cookies joined" \
	h2_headers 4 198.18.1.10
check "IPv6 h2: Flask sees the client in X-Forwarded-For/X-Real-IP, https, Host, cookies joined" \
	h2_headers 6 fd00:198:18:1::10
check "nghttp: 100 concurrent streams on one connection, all 200" nghttp_100
check "limits.body raised to 64m, lbtls reloaded (SIGHUP)" raise_body_limit
check "50 MB download over h2 (IPv4): sha256 as Flask sent and as expected" download_50m 4
check "50 MB chunked download over h2 (IPv6): sha256 as expected" download_50m 6 chunked
check "50 MB upload over h2 (IPv4, content-length): Flask's sha256 matches" upload_50m 4
check "50 MB upload over h2 (IPv6, no content-length): Flask's sha256 matches" upload_50m 6 chunked
check "h2load -n 2000 -c 4 -m 10 keep-alive streams: 0 failed, 0 errored" h2load_keepalive
check "lbtls counted the HTTP/2 connections and streams (/metrics)" h2_counted
check "access log: h2 requests from the client as HTTP/2.0 with their stream id" access_log_h2
check "SIGHUP (x_served_by off): once the new generation answers, only it does (20 h2 requests over 6 s)" \
	reload_only_new_generation
[ -f "$TMPD/h2load" ] && grep -E '^(finished in|requests:)' "$TMPD/h2load" | sed 's/^/     /'
check "docker/stack.sh down (make stop) removes what it made" \
	bash -c "docker/stack.sh down >>'$LOGDIR/stack.log' 2>&1"
check "nothing of the stack is left (containers, network, namespaces, pins)" \
	nothing_left

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
