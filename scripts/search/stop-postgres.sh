#!/usr/bin/env bash
# Stop the PostgreSQL server that start-postgres.sh started from STATE_DIR.
#
# Usage: stop-postgres.sh [STATE_DIR]        (default STATE_DIR=/tmp/plasticity-postgres)
#
# pg_ctl stop -m fast on STATE_DIR/data; if the server is still there after that, SIGKILL
# to the postmaster PID recorded in STATE_DIR/data/postmaster.pid (when that process is a
# postgres). Never by process name. Exits 0 when no server of STATE_DIR is left running.
# The data stay in STATE_DIR (rm -rf it to throw them away).
set -euo pipefail

STATE_DIR="${1:-/tmp/plasticity-postgres}"
DATA="$STATE_DIR/data"
log() { echo "stop-postgres: $*" >&2; }

# alive PID: PID is a live postgres process (a zombie, which PID 1 reaps only every few
# seconds here, counts as gone; so does a PID reused by another program).
alive() {
  local st comm
  kill -0 "$1" 2>/dev/null || return 1
  st="$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null || true)"
  comm="$(cat "/proc/$1/comm" 2>/dev/null || true)"
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ] && { [ "$comm" = postgres ] || [ "$comm" = postmaster ]; }
}

if [ ! -s "$DATA/postmaster.pid" ]; then
  log "no server running from $STATE_DIR"
  exit 0
fi
pid="$(head -n 1 "$DATA/postmaster.pid" | tr -dc '0-9')"
BIN=""
if command -v pg_ctl >/dev/null 2>&1; then
  BIN="$(dirname "$(readlink -f "$(command -v pg_ctl)")")"
else
  BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
fi
if [ "$(id -u)" -eq 0 ]; then
  as_owner() { runuser -u postgres -- "$@"; }
else
  as_owner() { "$@"; }
fi
if [ -n "$BIN" ]; then
  as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -w -t 30 stop >&2 || true
fi
if [ -n "$pid" ] && alive "$pid"; then
  log "server PID $pid still running; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do
    alive "$pid" || break
    sleep 0.1
  done
fi
if [ -n "$pid" ] && alive "$pid"; then
  log "server PID $pid would not exit"
  exit 1
fi
log "stopped (PID ${pid:-?})"
