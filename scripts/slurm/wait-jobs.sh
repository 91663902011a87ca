#!/usr/bin/env bash
# Wait until a Slurm job (or a whole job array) has left the queue.
#
# Usage: wait-jobs.sh JOBID [TIMEOUT_S]        (default TIMEOUT_S=120)
#
# Polls `squeue -h -j JOBID` every 0.5 s (SLURM_CONF is taken from the environment) until
# it lists nothing, i.e. no task of the job is pending, running or completing. A job id that
# the controller has already forgotten ("Invalid job id") also counts as gone.
# Exits 0 when the job has left the queue; exits 1 with a message (and the last squeue
# output) on timeout; exits 2 on bad usage or when no Slurm config can be found.
# It says nothing about whether tasks succeeded: check outputs or `scontrol show job JOBID`.
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ] || [ -z "$1" ]; then
  echo "usage: $(basename "$0") JOBID [TIMEOUT_S]" >&2
  exit 2
fi
JOBID="$1"
TIMEOUT_S="${2:-120}"
case "$TIMEOUT_S" in
  ''|*[!0-9]*) echo "wait-jobs: TIMEOUT_S must be a whole number of seconds" >&2; exit 2 ;;
esac

if [ -z "${SLURM_CONF:-}" ] && [ ! -f /etc/slurm/slurm.conf ]; then
  echo "wait-jobs: SLURM_CONF is not set (and there is no /etc/slurm/slurm.conf);" \
    "eval the export line printed by start-cluster.sh first" >&2
  exit 2
fi

deadline=$(( $(date +%s) + TIMEOUT_S ))
out=""
while :; do
  if out="$(squeue -h -j "$JOBID" 2>&1)"; then
    [ -z "$out" ] && exit 0
  else
    case "$out" in
      *"Invalid job id"*) exit 0 ;;   # already purged from the controller
    esac
    # Any other error (controller briefly unreachable, ...): keep polling until timeout.
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "wait-jobs: job $JOBID still in the queue (or squeue failing) after ${TIMEOUT_S}s;" \
      "last squeue output:" >&2
    printf '%s\n' "$out" >&2
    exit 1
  fi
  sleep 0.5
done
