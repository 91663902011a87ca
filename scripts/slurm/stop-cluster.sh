#!/usr/bin/env bash
# Stop the single-node Slurm cluster started by start-cluster.sh from STATE_DIR.
#
# Usage: stop-cluster.sh [STATE_DIR]        (default STATE_DIR=/tmp/plasticity-slurm)
#
# Stops slurmd, slurmctld and (if start-cluster.sh started it) munged by the PIDs recorded
# in STATE_DIR -- never by process name -- and waits for them to exit (SIGTERM, then SIGKILL
# after STOP_TIMEOUT_S, default 20 s). A recorded PID whose process is not the expected
# daemon (PID reused) is left alone. Exits 0 when nothing is left running (also when nothing
# was running), 1 if a daemon would not exit.
set -euo pipefail

STATE_DIR="${1:-/tmp/plasticity-slurm}"
STOP_TIMEOUT_S="${STOP_TIMEOUT_S:-20}"

log() { echo "stop-cluster: $*" >&2; }

if [ ! -d "$STATE_DIR" ]; then
  log "no state dir $STATE_DIR; nothing to stop"
  exit 0
fi

# alive PID: PID is a live process. A zombie counts as dead: here PID 1 reaps exited
# daemons only every ~2 s, and `kill -0` succeeds on a zombie.
alive() {
  local st
  kill -0 "$1" 2>/dev/null || return 1
  st="$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null || true)"
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# All daemons are signalled first and then waited for together.
NAMES=(slurmd slurmctld munged)
declare -A PIDS=()

# signal_daemon NAME: NAME is the process name and the PID file is STATE_DIR/NAME.pid
signal_daemon() {
  local name="$1" f="$STATE_DIR/$1.pid" pid comm
  if [ ! -s "$f" ]; then
    log "$name: no PID file"
    return 0
  fi
  pid="$(tr -dc '0-9' <"$f")"
  if [ -z "$pid" ] || ! alive "$pid"; then
    log "$name: not running (stale PID ${pid:-?})"
    rm -f "$f"
    return 0
  fi
  comm="$(cat "/proc/$pid/comm" 2>/dev/null || true)"
  if [ "$comm" != "$name" ]; then
    log "$name: PID $pid is now '$comm', not $name; leaving it alone"
    rm -f "$f"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  PIDS[$name]="$pid"
}

any_alive() {
  local name
  for name in "${!PIDS[@]}"; do
    alive "${PIDS[$name]}" && return 0
  done
  return 1
}

for name in "${NAMES[@]}"; do signal_daemon "$name"; done

for ((i = 0; i < STOP_TIMEOUT_S * 10; i++)); do
  any_alive || break
  sleep 0.1
done
if any_alive; then
  for name in "${!PIDS[@]}"; do
    if alive "${PIDS[$name]}"; then
      log "$name: PID ${PIDS[$name]} still alive after ${STOP_TIMEOUT_S}s; sending SIGKILL"
      kill -KILL "${PIDS[$name]}" 2>/dev/null || true
    fi
  done
  for ((i = 0; i < 50; i++)); do
    any_alive || break
    sleep 0.1
  done
fi

rc=0
for name in "${NAMES[@]}"; do
  [ -n "${PIDS[$name]:-}" ] || continue
  if alive "${PIDS[$name]}"; then
    log "$name: PID ${PIDS[$name]} would not exit"
    rc=1
  else
    log "$name: stopped (PID ${PIDS[$name]})"
    rm -f "$STATE_DIR/$name.pid"
  fi
done
exit "$rc"
