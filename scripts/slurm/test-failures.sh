#!/usr/bin/env bash
# A sweep that survives failures, on a real single-node Slurm cluster:
#   1. start the cluster (scripts/slurm/start-cluster.sh) and submit
#      experiments/tests/failure_sweep.toml (200 cells, one cell per array task) with
#      --executor slurm and a per-sweep time limit of 1 minute (--sbatch-option=--time=1);
#   2. while the array runs, cancel 10 % of its tasks (20, chosen with a seeded
#      generator, so the choice is the same every time) with `scancel JOB_TASK`, each as
#      soon as it is running, i.e. mid-cell;
#   3. make one task (also chosen by the seed) hit its time limit: once it runs, its
#      process is stopped (SIGSTOP, a hung cell), and Slurm ends it when its minute is
#      up (state TIMEOUT, "DUE TO TIME LIMIT" in its log);
#   4. `plasticity collect DIR --resubmit-failed` (waiting for each new job with
#      wait-jobs.sh), as many rounds as needed, until `plasticity collect DIR` completes
#      the table;
#   5. run the same sweep with the local executor and require the two table.csv files to
#      be byte-identical.
# Prints the number of cells, the tasks cancelled, the timed-out task, the resubmission
# rounds and cells resubmitted, and the wall time of each phase. Takes 4-6 min on 2 cores
# (see docs/reliability.md); not run by CI.
#
# Usage: scripts/slurm/test-failures.sh [PLASTICITY_BINARY]
#   (default: $CARGO_TARGET_DIR/release/plasticity, or target/release/plasticity; built
#   with `cargo build --release -p plasticity-cli` if missing)
# Environment: PLASTICITY_FAILURE_SEED (default 27) picks the cancelled and timed-out
# tasks; PLASTICITY_SLURM_OPTIONAL=1 reports (exit 0) instead of failing when no cluster
# can be started here. Needs root (as start-cluster.sh does).
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/slurm/lib.sh
plasticity_binary "${1:-}"
EXPERIMENT=experiments/tests/failure_sweep.toml
SEED="${PLASTICITY_FAILURE_SEED:-27}"
CANCEL_PERCENT=10
MAX_ROUNDS=5
STATE="$(mktemp -d /tmp/plasticity-slurm-failures.XXXXXX)"
WORK="$(mktemp -d /tmp/plasticity-failures-test.XXXXXX)"
STOPPED_PID=""

secs() { awk -v a="$1" -v b="${2:-$(now)}" 'BEGIN { printf "%.1f", b - a }'; }
say() { echo "test-failures: $*" >&2; }
fail() { say "FAILED: $*"; exit 1; }
cleanup() {
  # a task stopped on purpose that Slurm has not ended (the test failed before it did)
  if [ -n "$STOPPED_PID" ] && kill -0 "$STOPPED_PID" 2>/dev/null; then
    kill -CONT "$STOPPED_PID" 2>/dev/null || true
    kill -TERM "$STOPPED_PID" 2>/dev/null || true
  fi
  scripts/slurm/stop-cluster.sh "$STATE" >/dev/null 2>&1 || true
  if [ "${PLASTICITY_KEEP_WORK:-0}" = 1 ]; then
    say "kept $WORK and $STATE"
  else
    rm -rf "$STATE" "$WORK"
  fi
}
trap cleanup EXIT

# ---------------------------------------------------------------------------------------
# The seeded choice: a 31-bit linear congruential generator (same numbers on every
# machine), a partial Fisher-Yates shuffle of the task indices.
# ---------------------------------------------------------------------------------------
rng=$SEED
next_random() { # next_random N: a number in [0, N) in $r
  rng=$(( (rng * 1103515245 + 12345) % 2147483648 ))
  r=$(( (rng / 65536) % $1 ))
}

t0=$(now)
if ! exports="$(scripts/slurm/start-cluster.sh "$STATE")"; then
  if [ "${PLASTICITY_SLURM_OPTIONAL:-0}" = 1 ]; then
    say "SKIPPED: could not start a Slurm cluster on this machine"
    exit 0
  fi
  fail "could not start the Slurm cluster"
fi
eval "$exports"
t_cluster=$(secs "$t0")
say "cluster up in $t_cluster s"

# ---------------------------------------------------------------------------------------
# 1. Submit
# ---------------------------------------------------------------------------------------
t1=$(now)
RUN="$WORK/slurm"
job="$("$BIN" --quiet run "$EXPERIMENT" --out "$RUN" --executor slurm --sbatch-option=--time=1)"
cells=$(grep -o '"cells": [0-9]*' "$RUN/run.json" | grep -o '[0-9]*$')
[ "$cells" -ge 200 ] || fail "expected at least 200 cells, got $cells"
say "submitted job array $job: $cells cells, one per task, each with a 1-minute time limit"

# the timed-out task: one of the first 20 (it must start early for its minute to run
# out while the others run); the cancelled ones: 10 % of all cells, among the others
# (tasks start in index order, so they run after the timed-out one has been stopped)
next_random 20
timeout_task=$r
declare -a order
for ((i = 20; i < cells; i++)); do order[i - 20]=$i; done
left=$(( cells - 20 ))
n_cancel=$(( cells * CANCEL_PERCENT / 100 ))
declare -A to_cancel=()
for ((k = 0; k < n_cancel; k++)); do
  next_random "$left"
  to_cancel[${order[r]}]=1
  order[r]=${order[left - 1]}
  unset "order[$((left - 1))]"
  left=$(( left - 1 ))
done
cancel_list="$(printf '%s\n' "${!to_cancel[@]}" | sort -n | tr '\n' ' ')"
say "seed $SEED: cancel tasks ${cancel_list% }; time out task $timeout_task"

# ---------------------------------------------------------------------------------------
# 3. The timed-out task: its process (the job script execs `plasticity cell`) is stopped
# as soon as it exists, before its ~1 s cell can finish
# ---------------------------------------------------------------------------------------
pid=""
deadline=$(( $(date +%s) + 300 ))
while [ -z "$pid" ]; do
  pid="$(pgrep -f -- "cell $RUN --index $timeout_task --resume\$" | head -n1 || true)"
  [ "$(date +%s)" -lt "$deadline" ] || fail "task ${job}_${timeout_task} never started"
  [ -n "$pid" ] || sleep 0.01
done
kill -STOP "$pid"
STOPPED_PID=$pid
say "stopped task ${job}_${timeout_task} (pid $pid) $(secs "$t1") s after submission"

# ---------------------------------------------------------------------------------------
# 2. Cancel each chosen task as soon as it is running (mid-cell)
# ---------------------------------------------------------------------------------------
cancelled_running=0
missed=""
declare -A handled=()
while [ "${#handled[@]}" -lt "$n_cancel" ]; do
  # one line per task still in the queue: "INDEX STATE"
  if ! queue="$(squeue -h -r -j "$job" -o '%K %T' 2>/dev/null)"; then queue=""; fi
  [ -n "$queue" ] || break
  unset state
  declare -A state=()
  while read -r index st; do
    [ -n "$index" ] && state[$index]=$st
  done <<<"$queue"
  for index in "${!to_cancel[@]}"; do
    [ -n "${handled[$index]:-}" ] && continue
    case "${state[$index]:-GONE}" in
      RUNNING)
        scancel "${job}_${index}"
        handled[$index]=1
        cancelled_running=$((cancelled_running + 1)) ;;
      GONE)
        handled[$index]=1
        missed="$missed $index" ;;
    esac
  done
  sleep 0.05
done
t_cancels=$(secs "$t1")
n_cancelled=$cancelled_running
say "cancelled $n_cancelled running tasks by $t_cancels s after submission${missed:+ (finished before they could be cancelled:$missed)}"

scripts/slurm/wait-jobs.sh "$job" 600
t_array=$(secs "$t1")
# what Slurm says of each task (MinJobAge keeps finished tasks visible)
scontrol -o show job "$job" >"$WORK/tasks.txt"
summary="$(sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' "$WORK/tasks.txt" | sort | uniq -c \
  | awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $2 }')"
tl_line="$(grep -E "ArrayTaskId=$timeout_task " "$WORK/tasks.txt" || true)"
tl_state="$(sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' <<<"$tl_line")"
tl_start="$(sed -n 's/.*StartTime=\([^ ]*\).*/\1/p' <<<"$tl_line")"
tl_end="$(sed -n 's/.*EndTime=\([^ ]*\).*/\1/p' <<<"$tl_line")"
tl_ran=$(( $(date -d "$tl_end" +%s) - $(date -d "$tl_start" +%s) ))
tl_log="$(grep -h 'TIME LIMIT' "$RUN/slurm/logs/cell_${timeout_task}.out" || true)"
STOPPED_PID=""
say "array $job left the queue $t_array s after submission; task states: $summary"
say "task ${job}_${timeout_task}: $tl_state after ${tl_ran} s (start $tl_start, end $tl_end); log: ${tl_log:-nothing}"
[ "$tl_state" = TIMEOUT ] || fail "task ${job}_${timeout_task} ended $tl_state, not TIMEOUT"
n_slurm_cancelled=$(grep -c 'JobState=CANCELLED' "$WORK/tasks.txt" || true)
[ "$n_slurm_cancelled" -eq "$n_cancelled" ] \
  || fail "Slurm shows $n_slurm_cancelled cancelled tasks, the script cancelled $n_cancelled"

# ---------------------------------------------------------------------------------------
# 4. Resubmit until the table is complete
# ---------------------------------------------------------------------------------------
t2=$(now)
rounds=0
resubmitted=0
per_round=""
while ! "$BIN" --quiet collect "$RUN" 2>"$WORK/collect.err"; do
  rounds=$((rounds + 1))
  [ "$rounds" -le "$MAX_ROUNDS" ] || { cat "$WORK/collect.err" >&2; fail "table still incomplete after $MAX_ROUNDS resubmissions"; }
  done_cells=$(find "$RUN/cells" -name result.json | wc -l)
  missing=$(( cells - done_cells ))
  resubmitted=$((resubmitted + missing))
  per_round="$per_round $missing"
  job2="$("$BIN" --quiet collect "$RUN" --resubmit-failed)"
  grep -q '^#SBATCH --time=1$' "$RUN/slurm/array.sh" \
    || fail "the resubmitted job lost the run's --sbatch-option=--time=1"
  say "round $rounds: resubmitted $missing cells as job $job2 ($(sed -n 's/^#SBATCH --array=//p' "$RUN/slurm/array.sh"))"
  scripts/slurm/wait-jobs.sh "$job2" 600
done
t_resubmit=$(secs "$t2")
say "collect completed the table after $rounds rounds ($resubmitted cells resubmitted:${per_round:- none}) in $t_resubmit s"

# ---------------------------------------------------------------------------------------
# 5. The same sweep here, and the tables compared
# ---------------------------------------------------------------------------------------
t3=$(now)
"$BIN" --quiet run "$EXPERIMENT" --out "$WORK/local"
t_local=$(secs "$t3")
identical=yes
if ! cmp "$RUN/table.csv" "$WORK/local/table.csv"; then
  identical=no
  diff "$RUN/table.csv" "$WORK/local/table.csv" >&2 || true
fi
t_total=$(secs "$t0")
rows=$(($(wc -l <"$WORK/local/table.csv") - 1))

echo "cells: $cells (table rows: $rows)"
echo "tasks cancelled while running: $n_cancelled of $n_cancel chosen (seed $SEED)${missed:+; finished before cancel:$missed}"
echo "timed-out task: ${job}_${timeout_task}: $tl_state after ${tl_ran} s with a 1-minute limit; ${tl_log:-no TIME LIMIT line in its log}"
echo "slurm task states after the first array: $summary"
echo "resubmission rounds: $rounds; cells resubmitted: $resubmitted (per round:${per_round:- none})"
echo "wall time: cluster $t_cluster s; array (submit to empty queue) $t_array s; resubmission $t_resubmit s; local sweep $t_local s; total $t_total s"
echo "identical table.csv: $identical"
[ "$identical" = yes ] || fail "the Slurm (with failures) and local tables differ"
say "OK"
