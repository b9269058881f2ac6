#!/usr/bin/env bash
# lbtls least privilege end to end (docs/lbtls.md, Privileges; DESIGN.md
# D12): lbtls started as root with `user: nobody`, loopback only.
# Asserted: every worker is uid 65534 on all four fields with no
# capability in any set and no_new_privs; the master stays root; HTTPS
# through the workers works with a private key, ticket key and error page
# only root can read; the ACME webroot is served; SIGUSR1 after a
# logrotate-style move gets the new access log written by the workers; a
# reload (SIGHUP) gives the new workers the same properties; a master
# without CAP_SETUID refuses to start; a worker whose drop fails says which
# step and the master respawns it no faster than its delay; without
# `user:` the master warns once that the workers run as root; with
# --netns the master gives up CAP_SYS_ADMIN once it is in the namespace.
#
# Usage: bash tests/tls/test_privileges.sh BUILD_DIR
# Prints one line per check and ends with "N passed, N failed". Needs
# root: not being root is a failure, never a skip.
set -u
build=${1:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
lbtls=$root/$build/lbtls
[[ $build == /* ]] && lbtls=$build/lbtls
python=${PYTHON:-/usr/bin/python3}

# shellcheck source=tests/tls/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tmp=$(mktemp -d /tmp/lbtls-priv.XXXXXX)
chmod 755 "$tmp"
master=
backend=
stop_master() {
	[ -n "$master" ] || return 0
	stop_tree "$master"
	wait "$master" 2>/dev/null
	master=
}
ns=lbtls-priv-$$
cleanup() {
	stop_master
	[ -z "$backend" ] || kill -TERM "$backend" 2>/dev/null
	wait 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	remove_tmp "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- prerequisites: fail, never skip ------------------------------------------
require_tools "" curl openssl setpriv unshare ip
require_built "$lbtls" "$build"
if [ "$(id -u)" = 0 ]; then
	ok "prerequisite: running as root"
else
	bad "prerequisite: must run as root (lbtls starts as root and drops to nobody)"
	missing=1
fi
if [ "$(id -u nobody 2>/dev/null)" = 65534 ]; then
	ok "prerequisite: user nobody is uid 65534"
else
	bad "prerequisite: no user nobody with uid 65534"
	missing=1
fi
[ "$missing" -eq 0 ] || finish

find_ports 4 || {
	bad "no free block of loopback ports"
	finish
}
https=$base http=$((base + 1)) admin=$((base + 2)) be=$((base + 3))

# --- files: the secret ones readable by root only -----------------------------
mkdir -m 700 "$tmp/secret"
mkcert "$tmp/secret"
chmod 600 "$tmp/secret/privkey.pem"
openssl rand 80 >"$tmp/secret/ticket.key"
echo "<h1>custom 50x</h1>" >"$tmp/secret/50x.html"
chmod 600 "$tmp/secret/ticket.key" "$tmp/secret/50x.html"
# ACME webroot as certbot leaves it: world-readable
mkdir -p "$tmp/acme/.well-known/acme-challenge"
echo "token-content-7" >"$tmp/acme/.well-known/acme-challenge/tok-7"
chmod -R a+rX "$tmp/acme"
# the log directory: root's, not writable by nobody
mkdir -m 755 "$tmp/logs"
mkdir -p "$tmp/www"
echo "backend-ok" >"$tmp/www/index.html"

write_conf() { # write_conf FILE [USER_LINE]
	cat >"$1" <<EOF
${2:-}
workers: 2
listen:
  https: 127.0.0.1:$https
  http: 127.0.0.1:$http
tls:
  certificates:
    - fullchain: $tmp/secret/fullchain.pem
      privkey: $tmp/secret/privkey.pem
  session_ticket_key: $tmp/secret/ticket.key
acme_webroot: $tmp/acme
error_page: $tmp/secret/50x.html
upstream:
  servers: [127.0.0.1:$be]
  health: {path: /, interval: 300ms, rise: 1, fall: 1, timeout: 1s}
log:
  access: $tmp/logs/access.log
  error: $tmp/logs/error.log
metrics: 127.0.0.1:$admin
shutdown_timeout: 2s
EOF
}
write_conf "$tmp/lbtls.yaml" "user: nobody"

start_backend() { # start_backend [PREFIX...]
	(cd "$tmp/www" && exec "$@" "$python" -m http.server -b 127.0.0.1 "$be" \
		>>"$tmp/backend.log" 2>&1) &
	backend=$!
}
stop_backend() {
	kill -TERM "$backend" 2>/dev/null
	wait "$backend" 2>/dev/null
	backend=
}
start_backend

start_lbtls() { # start_lbtls CONFIG [PREFIX...]: as root, in the background
	local conf=$1
	shift
	"$@" "$lbtls" -c "$conf" 2>>"$tmp/stderr.log" &
	master=$!
}

# workers: pids of the master's children (the workers)
workers() { ps -o pid= --ppid "$master" 2>/dev/null | tr -d ' '; }
field() { sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status" | tr -s '\t ' ' ' | sed 's/ $//'; }

# unprivileged PID: uid 65534 on all four fields, every capability set
# empty, no_new_privs; prints what it saw
unprivileged() {
	local p=$1 uid gid
	uid=$(field "$p" Uid)
	gid=$(field "$p" Gid)
	echo "pid $p: Uid $uid Gid $gid CapInh $(field "$p" CapInh) CapPrm $(field "$p" CapPrm) CapEff $(field "$p" CapEff) CapBnd $(field "$p" CapBnd) CapAmb $(field "$p" CapAmb) NoNewPrivs $(field "$p" NoNewPrivs)"
	[ "$uid" = "65534 65534 65534 65534" ] &&
		[ "$gid" = "65534 65534 65534 65534" ] &&
		[ "$(field "$p" CapInh)" = 0000000000000000 ] &&
		[ "$(field "$p" CapPrm)" = 0000000000000000 ] &&
		[ "$(field "$p" CapEff)" = 0000000000000000 ] &&
		[ "$(field "$p" CapAmb)" = 0000000000000000 ] &&
		[ "$(field "$p" CapBnd)" = 0000000000000000 ] &&
		[ "$(field "$p" NoNewPrivs)" = 1 ]
}

all_workers_unprivileged() { # all_workers_unprivileged N
	local p n=0 okn=0
	for p in $(workers); do
		n=$((n + 1))
		if unprivileged "$p" >/dev/null; then okn=$((okn + 1)); fi
	done
	[ "$n" -eq "$1" ] && [ "$okn" -eq "$1" ]
}

# --- lbtls as root with user: nobody ---------------------------------------------
start_lbtls "$tmp/lbtls.yaml"
check "lbtls with user: nobody serves HTTPS (key readable by root only)" \
	wait_http "https://127.0.0.1:$https/"
body=$(curl -sk -m 5 "https://127.0.0.1:$https/")
check "the response comes from the backend ($body)" test "$body" = backend-ok
sleep 0.3 # the workers' "started" lines
for p in $(workers); do echo "     $(unprivileged "$p")"; done
check "2 workers: Uid 65534 x4, Gid 65534 x4, CapInh/CapPrm/CapEff/CapBnd/CapAmb 0, NoNewPrivs 1" \
	all_workers_unprivileged 2
check "the master is still root (Uid 0 0 0 0)" \
	test "$(field "$master" Uid)" = "0 0 0 0"
acme=$(curl -s -m 5 "http://127.0.0.1:$http/.well-known/acme-challenge/tok-7")
check "the ACME webroot is served by the unprivileged workers ($acme)" \
	test "$acme" = token-content-7
check "no 'workers run as root' warning with user: set" \
	bash -c "! grep -q 'workers run as root' '$tmp/logs/error.log'"
check "the log files are handed to the workers' user (nobody)" \
	test "$(stat -c %U "$tmp/logs/access.log") $(stat -c %U "$tmp/logs/error.log")" = "nobody nobody"
check "without --netns the master gives up CAP_SYS_ADMIN at start (CapEff $(field "$master" CapEff))" \
	bash -c "! (( (0x$(field "$master" CapEff) | 0x$(field "$master" CapPrm) | 0x$(field "$master" CapBnd)) >> 21 & 1 ))"
stop_backend
code=$(curl -sk -m 5 -o "$tmp/50x.out" -w '%{http_code}' "https://127.0.0.1:$https/")
start_backend
check "an error answer uses the root-only error page read by the master ($code)" \
	bash -c "[ '$code' -ge 500 ] && grep -q 'custom 50x' '$tmp/50x.out'"
wait_http "https://127.0.0.1:$https/" 5 >/dev/null

# --- SIGUSR1 after logrotate moved the logs away ------------------------------------
mv "$tmp/logs/access.log" "$tmp/logs/access.log.1"
mv "$tmp/logs/error.log" "$tmp/logs/error.log.1"
kill -USR1 "$master"
reopened=0
for _ in $(seq 1 50); do
	curl -sk -o /dev/null "https://127.0.0.1:$https/?after-rotation"
	if grep -q 'after-rotation' "$tmp/logs/access.log" 2>/dev/null; then
		reopened=1
		break
	fi
	sleep 0.1
done
check "SIGUSR1: the new access.log gets the workers' lines" test "$reopened" -eq 1
check "SIGUSR1: no worker failed to reopen the logs" \
	bash -c "! grep -h 'cannot reopen the logs' '$tmp/logs/error.log' '$tmp/logs/error.log.1'"
check "SIGUSR1: the old access.log.1 gets nothing more" \
	bash -c "! grep -q 'after-rotation' '$tmp/logs/access.log.1'"

# --- SIGHUP: a new generation, dropped the same way ----------------------------------
old=$(workers | sort | tr '\n' ' ')
kill -HUP "$master"
reloaded=0
for _ in $(seq 1 60); do
	now=$(workers | sort | tr '\n' ' ')
	if [ "$(workers | wc -l)" -eq 2 ] && [ -z "$(comm -12 <(tr ' ' '\n' <<<"$old" | grep .) <(tr ' ' '\n' <<<"$now" | grep .))" ]; then
		reloaded=1
		break
	fi
	sleep 0.1
done
check "SIGHUP: two new workers replaced the old ones ($old-> $now)" test "$reloaded" -eq 1
for p in $(workers); do echo "     $(unprivileged "$p")"; done
check "SIGHUP: the new workers are uid 65534 with no capability and NoNewPrivs" \
	all_workers_unprivileged 2
check "SIGHUP: the master is still root" test "$(field "$master" Uid)" = "0 0 0 0"
check "SIGHUP: HTTPS still works" wait_http "https://127.0.0.1:$https/" 5
stop_master

# --- --netns: CAP_SYS_ADMIN is for setns() only ----------------------------------------
# (docker-compose.yml gives the lbtls container SYS_ADMIN for it)
cap_set() { # cap_set PID FIELD BIT: the bit is set in /proc/PID/status FIELD
	local hex
	hex=$(field "$1" "$2")
	[ -n "$hex" ] && (((0x$hex >> $3) & 1))
}
stop_backend
ip netns add "$ns" && ip -n "$ns" link set lo up
start_backend ip netns exec "$ns"
"$lbtls" --netns "$ns" -c "$tmp/lbtls.yaml" 2>>"$tmp/stderr.log" &
master=$!
served=
for _ in $(seq 1 50); do
	served=$(ip netns exec "$ns" curl -sk -m 2 "https://127.0.0.1:$https/")
	[ "$served" = backend-ok ] && break
	sleep 0.1
done
check "--netns $ns: lbtls serves HTTPS in the namespace ($served)" test "$served" = backend-ok
echo "     master pid $master: CapEff $(field "$master" CapEff) CapPrm $(field "$master" CapPrm) CapBnd $(field "$master" CapBnd)"
check "--netns: the master has no CAP_SYS_ADMIN left (CapEff, CapPrm, CapInh, CapBnd bit 21 clear)" \
	bash -c "! { $(declare -f field cap_set); cap_set $master CapEff 21 || cap_set $master CapPrm 21 || cap_set $master CapInh 21 || cap_set $master CapBnd 21; }"
check "--netns: the master keeps CAP_SETUID for its workers" cap_set "$master" CapEff 7
check "--netns: 2 workers unprivileged as without it" all_workers_unprivileged 2
old=$(workers | sort | tr '\n' ' ')
kill -HUP "$master"
reloaded=0
for _ in $(seq 1 60); do
	if [ "$(workers | wc -l)" -eq 2 ] && [ -z "$(comm -12 <(tr ' ' '\n' <<<"$old" | grep .) <(workers | sort))" ]; then
		reloaded=1
		break
	fi
	sleep 0.1
done
served=$(ip netns exec "$ns" curl -sk -m 5 "https://127.0.0.1:$https/")
check "--netns: SIGHUP without CAP_SYS_ADMIN: new workers, still served ($served)" \
	bash -c "[ $reloaded -eq 1 ] && [ '$served' = backend-ok ]"
stop_master
stop_backend
ip netns del "$ns"
start_backend

# --- a master without CAP_SETUID refuses to start --------------------------------------
rm -f "$tmp/logs/error.log"
out=$(timeout 10 setpriv --bounding-set -setuid "$lbtls" -c "$tmp/lbtls.yaml" 2>&1)
rc=$?
log=$(cat "$tmp/logs/error.log" 2>/dev/null)
echo "     exit $rc: $(grep -o 'the workers cannot switch.*not starting' <<<"$log$out" | head -1)"
check "without CAP_SETUID: exit 1, 'the master lacks CAP_SETUID', not starting" \
	bash -c "[ $rc -eq 1 ] && grep -q \"lbtls.yaml:1: the workers cannot switch to user nobody: the master lacks CAP_SETUID.*not starting\" <<<'$log$out'"

# --- a worker whose drop fails: named step, throttled respawn -----------------------------
# In a user namespace mapping only root, setgroups() is denied: the
# master's check passes (it holds CAP_SETUID there), the workers' drop
# fails.
# (root there may not open files of users it does not map: the logs
# nobody owns now are moved away.)
sed -i 's/^workers: 2/workers: 1/' "$tmp/lbtls.yaml"
mkdir "$tmp/logs/old" && mv "$tmp/logs/"*.log* "$tmp/logs/old/"
start_lbtls "$tmp/lbtls.yaml" unshare --user --map-root-user
sleep 3.2
stop_master
drop_lines=$(grep -c 'worker 0: cannot drop privileges to user nobody: setgroups(1 groups): Operation not permitted' "$tmp/logs/error.log")
respawns=$(grep -c 'worker 0 (pid [0-9]*) could not drop its privileges (its line above says which step): respawning in 1000 ms' "$tmp/logs/error.log")
echo "     $(grep -m1 'cannot drop privileges' "$tmp/logs/error.log")"
echo "     $(grep -m1 'could not drop its privileges' "$tmp/logs/error.log")"
check "a failed drop: the worker names the step and errno ($drop_lines times)" \
	test "$drop_lines" -ge 1
check "a failed drop: the master says so and respawns at most once a second ($respawns in 3.2 s)" \
	bash -c "[ $respawns -ge 2 ] && [ $respawns -le 4 ]"
check "a failed drop: no worker ever started its loop" \
	bash -c "! grep -q 'worker 0 (generation 0) started' '$tmp/logs/error.log'"

# --- without user:, as root: one warning ------------------------------------------
write_conf "$tmp/root.yaml"
rm -f "$tmp/logs/error.log"
start_lbtls "$tmp/root.yaml"
wait_http "https://127.0.0.1:$https/" >/dev/null
kill -HUP "$master"
sleep 0.5
# shellcheck disable=SC2016 # the backquotes are the message's
warned=$(grep -c 'workers run as root: set `user:`' "$tmp/logs/error.log")
check "without user: as root, the master warns once ($warned), not on reload" \
	test "$warned" -eq 1
stop_master

finish
