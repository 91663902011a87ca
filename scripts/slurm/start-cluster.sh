#!/usr/bin/env bash
# Start a real single-node Slurm cluster (slurmctld + slurmd + munged) on this machine.
#
# Usage: start-cluster.sh [STATE_DIR]        (default STATE_DIR=/tmp/plasticity-slurm)
#
# Needs root on Debian 12 (no systemd needed). Installs slurm-wlm and munge with apt-get
# when slurmctld is missing. All Slurm state, logs, PID files and slurm.conf live in
# STATE_DIR; nothing is written under /etc/slurm.
#
# stdout carries exactly one line, `export SLURM_CONF=STATE_DIR/slurm.conf`, so a caller can
#     eval "$(scripts/slurm/start-cluster.sh)"
# Everything else (progress, timings, errors) goes to stderr.
# If a cluster from the same STATE_DIR is already running with a responding node, it says
# so and exits 0 (printing the same export line). Stop it with stop-cluster.sh STATE_DIR.
set -euo pipefail

STATE_DIR="${1:-/tmp/plasticity-slurm}"
READY_TIMEOUT_S="${SLURM_READY_TIMEOUT_S:-60}"

log() { echo "start-cluster: $*" >&2; }
die() { echo "start-cluster: ERROR: $*" >&2; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

[ "$(id -u)" -eq 0 ] || die "must run as root"

mkdir -p "$STATE_DIR"
STATE_DIR="$(cd "$STATE_DIR" && pwd -P)"
CONF="$STATE_DIR/slurm.conf"
export SLURM_CONF="$CONF"

# alive PID: PID is a live process. A zombie counts as dead: here PID 1 reaps exited
# daemons only every ~2 s, and `kill -0` succeeds on a zombie.
alive() {
  local st
  kill -0 "$1" 2>/dev/null || return 1
  st="$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null || true)"
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

pid_alive() { # pid_alive FILE: the PID recorded in FILE is a live process
  local f="$1" pid
  [ -s "$f" ] || return 1
  pid="$(tr -dc '0-9' <"$f")"
  [ -n "$pid" ] && alive "$pid"
}

node_state() { # the node's state as sinfo reports it ("idle", "idle*", "down*", ...)
  timeout 10 sinfo -h -N -o '%T' 2>/dev/null | head -n1 || true
}

show_logs() {
  local f
  for f in "$STATE_DIR"/slurmctld.log "$STATE_DIR"/slurmd.log /var/log/munge/munged.log; do
    [ -f "$f" ] || continue
    echo "----- tail -n 30 $f -----" >&2
    tail -n 30 "$f" >&2 || true
  done
  echo "----- sinfo -----" >&2
  timeout 10 sinfo -N -l >&2 2>&1 || true
}

# ---------------------------------------------------------------------------------------
# 0. Already running from this STATE_DIR?
# ---------------------------------------------------------------------------------------
if command -v sinfo >/dev/null 2>&1 && [ -f "$CONF" ] \
   && pid_alive "$STATE_DIR/slurmctld.pid" && pid_alive "$STATE_DIR/slurmd.pid"; then
  state="$(node_state)"
  case "$state" in
    idle|mixed|allocated|completing)
      log "cluster from $STATE_DIR is already running (node $state); nothing to do"
      echo "export SLURM_CONF=$CONF"
      exit 0 ;;
  esac
  log "daemons from $STATE_DIR are running but node state is '${state:-unknown}'; restarting them"
  "$(dirname "${BASH_SOURCE[0]}")/stop-cluster.sh" "$STATE_DIR" >&2 || true
fi

# ---------------------------------------------------------------------------------------
# 1. Install (only when slurmctld is missing)
# ---------------------------------------------------------------------------------------
t_install0="$(now)"
if ! command -v slurmctld >/dev/null 2>&1; then
  log "installing slurm-wlm and munge with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt_install() {
    apt-get install -y --no-install-recommends -o Dpkg::Use-Pty=0 slurm-wlm munge >&2
  }
  # (captured first: `apt-cache ... | grep -q` would fail under pipefail via SIGPIPE)
  policy="$(apt-cache policy slurm-wlm 2>/dev/null || true)"
  case "$policy" in
    *"Candidate: (none)"*|"") apt-get update >&2 ;;
  esac
  if ! apt_install; then
    log "apt-get install failed; running apt-get update and retrying"
    apt-get update >&2
    apt_install
  fi
  command -v slurmctld >/dev/null 2>&1 || die "slurmctld still missing after install"
else
  log "slurm already installed ($(slurmctld -V 2>/dev/null || echo '?')); skipping install"
fi
t_install1="$(now)"

# ---------------------------------------------------------------------------------------
# 2. munge
# ---------------------------------------------------------------------------------------
t_start0="$(now)"
getent passwd munge >/dev/null || die "user 'munge' missing (munge package not installed?)"
mkdir -p /etc/munge /run/munge /var/lib/munge /var/log/munge
chown munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge
chmod 0700 /etc/munge
chmod 0755 /run/munge
if [ ! -s /etc/munge/munge.key ]; then
  log "creating /etc/munge/munge.key"
  if command -v mungekey >/dev/null 2>&1; then
    mungekey --create --force --keyfile=/etc/munge/munge.key >&2
  else
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
  fi
fi
chown munge:munge /etc/munge/munge.key
chmod 0600 /etc/munge/munge.key

munge_ok() { munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; }
# (munge -n spends ~2 s retrying against a stale socket, so check the PID first)
if pid_alive /run/munge/munged.pid && munge_ok; then
  log "munged already running"
else
  log "starting munged"
  rm -f /run/munge/munged.pid
  runuser -u munge -- munged --force >&2 \
    || { show_logs; die "munged failed to start"; }
  for _ in $(seq 1 50); do
    munge_ok && break
    sleep 0.1
  done
  munge_ok || { show_logs; die "munged is not answering"; }
  # Recorded so that stop-cluster.sh stops the munged that this script started.
  if [ -s /run/munge/munged.pid ]; then cp /run/munge/munged.pid "$STATE_DIR/munged.pid"; fi
fi

# ---------------------------------------------------------------------------------------
# 3. slurm.conf in STATE_DIR
# ---------------------------------------------------------------------------------------
HOST="$(hostname -s)"
mkdir -p "$STATE_DIR/ctld" "$STATE_DIR/spool"
NODE_C="$(slurmd -C 2>/dev/null || true)"
NODE_LINE="$(printf '%s\n' "$NODE_C" | sed -n '/^NodeName=/{p;q}')"
[ -n "$NODE_LINE" ] || die "'slurmd -C' printed no NodeName line: $NODE_C"
cat >"$CONF" <<EOF
# Written by plasticity scripts/slurm/start-cluster.sh -- single-node test cluster.
ClusterName=plasticity
SlurmctldHost=${HOST}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
# Start queued batch jobs (array tasks) at once when CPUs free up, not ~3 s later: a 4-task
# array on 2 CPUs takes ~2 s instead of ~5-6 s.
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MailProg=/bin/true
ReturnToService=2
# Keep finished jobs visible to scontrol show job for an hour (default 300 s).
MinJobAge=3600
StateSaveLocation=${STATE_DIR}/ctld
SlurmdSpoolDir=${STATE_DIR}/spool
SlurmctldPidFile=${STATE_DIR}/slurmctld.pid
SlurmdPidFile=${STATE_DIR}/slurmd.pid
SlurmctldLogFile=${STATE_DIR}/slurmctld.log
SlurmdLogFile=${STATE_DIR}/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
${NODE_LINE} NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=${HOST} Default=YES MaxTime=INFINITE State=UP
EOF

# ---------------------------------------------------------------------------------------
# 4. slurmctld, slurmd
# ---------------------------------------------------------------------------------------
rm -f "$STATE_DIR/slurmctld.pid" "$STATE_DIR/slurmd.pid"
log "starting slurmctld"
slurmctld -f "$CONF" >&2 2>&1 || { show_logs; die "slurmctld failed to start"; }
log "starting slurmd"
slurmd -f "$CONF" >&2 2>&1 || { show_logs; die "slurmd failed to start"; }

# Wait until both PID files exist and the node reports idle.
deadline=$(( $(date +%s) + READY_TIMEOUT_S ))
state=""
while :; do
  if pid_alive "$STATE_DIR/slurmctld.pid" && pid_alive "$STATE_DIR/slurmd.pid"; then
    state="$(node_state)"
    [ "$state" = idle ] && break
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "start-cluster: node not idle after ${READY_TIMEOUT_S}s (state: '${state:-unknown}');" \
      "slurmctld pid alive: $(pid_alive "$STATE_DIR/slurmctld.pid" && echo yes || echo no)," \
      "slurmd pid alive: $(pid_alive "$STATE_DIR/slurmd.pid" && echo yes || echo no)" >&2
    show_logs
    die "cluster did not come up (stop leftovers with: $(dirname "${BASH_SOURCE[0]}")/stop-cluster.sh $STATE_DIR)"
  fi
  sleep 0.2
done
t_start1="$(now)"

log "node $HOST is idle; state dir $STATE_DIR"
log "elapsed: install $(elapsed "$t_install0" "$t_install1") s, start $(elapsed "$t_start0" "$t_start1") s"
echo "export SLURM_CONF=$CONF"
