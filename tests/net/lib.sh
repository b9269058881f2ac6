# shellcheck shell=bash
# Shared by the tests/net/*.sh scripts, sourced after they cd to the
# repository. The script sets DIR (its temporary directory), pass=0,
# fail=0 and pids=() (what its cleanup trap kills) first.

say() { echo "$*" >>"$DIR/checks.log"; }

check() { # check WHAT CMD...: "ok   WHAT" or "FAIL WHAT"; output in checks.log
	local what=$1
	shift
	echo "--- $what" >>"$DIR/checks.log"
	if "$@" >>"$DIR/checks.log" 2>&1; then
		echo "ok   $what"
		pass=$((pass + 1))
	else
		echo "FAIL $what"
		fail=$((fail + 1))
	fi
}

start() { # start NAME CMD...: background, logs in $DIR/NAME.log, pid in pid_NAME
	local name=$1
	shift
	"$@" >>"$DIR/$name.log" 2>&1 &
	pids+=($!)
	disown $! # the trap kills them; no job report after the summary
	eval "pid_$name=$!"
}

wait_for() { # wait_for CMD...: CMD succeeds within 5 s
	local _
	for _ in $(seq 50); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

# no_tentative NS...: IPv6 DAD done in every namespace given (within 5 s).
# Before that, the host's neighbour solicitations for a client it has not
# heard from get no answer, and a first v6 connect fails now and then.
no_tentative() {
	local ns
	for ns in "$@"; do
		wait_for eval "[ -z \"\$(ip -n $ns -6 addr show tentative)\" ]" || return 1
	done
}

# backend: the demo Flask app on 127.0.0.1:5001 in $HOST, answering /healthz
backend() {
	mkdir -p "$DIR/app"
	cp docker/app/app.py "$DIR/app/app.py"
	VERSION=1 start flask ip netns exec "$HOST" python3 "$DIR/app/app.py" \
		--host 127.0.0.1 --port 5001
	local _
	for _ in $(seq 100); do
		ip netns exec "$HOST" curl -sf http://127.0.0.1:5001/healthz >/dev/null &&
			return 0
		sleep 0.1
	done
	return 1
}
