#!/usr/bin/env bash
# certbot deploy hook for lbtls: after a certificate is issued or renewed,
# optionally copy it to where lbtls reads it, then SIGHUP the lbtls master,
# which re-reads its configuration and certificates without dropping a
# connection (docs/lbtls.md, "Reload"). See docs/certificates.md.
#
#   certbot certonly --webroot -w /var/lib/xdp-tls-lb/acme -d DOMAIN \
#       --deploy-hook /path/to/docker/certbot-deploy-hook.sh
#
# certbot sets RENEWED_LINEAGE (e.g. /etc/letsencrypt/live/DOMAIN) and
# RENEWED_DOMAINS. Environment (all optional):
#   LBTLS_PIDFILE  pid file of the lbtls master
#                  (default /run/xdp-tls-lb/$STACK/lbtls.pid, written by
#                  docker/stack.sh; STACK defaults to lb)
#   LBTLS_CERT_DIR when set, RENEWED_LINEAGE's fullchain.pem and privkey.pem
#                  are copied there first (for an lbtls whose configuration
#                  names another directory than certbot's live/DOMAIN, such
#                  as the stack's self-signed /var/lib/xdp-tls-lb/certs/
#                  live/DOMAIN); unset: lbtls reads certbot's live/DOMAIN
#                  symlinks itself and only the SIGHUP is needed
#
# Exits non-zero (certbot then reports the hook as failed) when the master
# is not running or a copy fails; lbtls itself keeps the running
# certificates if the new ones do not load.
set -euo pipefail

pidfile=${LBTLS_PIDFILE:-/run/xdp-tls-lb/${STACK:-lb}/lbtls.pid}
lineage=${RENEWED_LINEAGE:-}

# Progress on stdout (certbot shows it as the hook's output), errors on stderr.
say() { echo "lbtls deploy hook: $*"; }
log() { echo "lbtls deploy hook: $*" >&2; }

if [ -n "${LBTLS_CERT_DIR:-}" ]; then
	[ -n "$lineage" ] || {
		log "LBTLS_CERT_DIR is set but certbot gave no RENEWED_LINEAGE"
		exit 1
	}
	mkdir -p "$LBTLS_CERT_DIR"
	# Each file is written beside its target and renamed over it, so that
	# lbtls never reads half a file; the key is never world readable.
	for f in fullchain.pem privkey.pem; do
		tmp=$(mktemp "$LBTLS_CERT_DIR/.$f.XXXXXX")
		cat "$lineage/$f" >"$tmp" # follows certbot's live/ symlinks
		chmod 600 "$tmp"
		[ "$f" = privkey.pem ] || chmod 644 "$tmp"
		mv -f "$tmp" "$LBTLS_CERT_DIR/$f"
	done
	say "copied $lineage/{fullchain,privkey}.pem to $LBTLS_CERT_DIR"
fi

[ -r "$pidfile" ] || {
	log "no pid file $pidfile: is lbtls running?"
	exit 1
}
pid=$(cat "$pidfile")
case $pid in
'' | *[!0-9]*)
	log "$pidfile does not hold a pid"
	exit 1
	;;
esac
comm=$(cat "/proc/$pid/comm" 2>/dev/null || true)
if [ "$comm" != lbtls ]; then
	log "pid $pid from $pidfile is not lbtls (${comm:-not running})"
	exit 1
fi
kill -HUP "$pid"
say "sent SIGHUP to the lbtls master $pid${lineage:+ for $lineage}"
