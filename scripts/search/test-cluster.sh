#!/usr/bin/env bash
# Integration test of plasticity-search on a real cluster and a real database:
#   the search crates/plasticity-py/tests/search/choices.toml (three learning rates of a
#   0.3 s fit, every seed kept, 6 trials) is run
#   (0) locally with one worker on its journal file: the reference;
#   (b) with two local workers on a throwaway PostgreSQL server (start-postgres.sh;
#       installs postgresql from Debian's packages if missing);
#   (a) as a Slurm job array of two tasks on the journal file (--executor slurm, then
#       --collect), on a real single-node cluster (scripts/slurm/start-cluster.sh;
#       installs slurm-wlm and munge if missing);
# and each of (a) and (b) must complete the budget's 6 trials, evaluate every choice, give
# each choice the reference's objective and end with the reference's best choice. Prints
# how long each step took.
#
# Usage: scripts/search/test-cluster.sh [PLASTICITY_BINARY]
#   (default: $CARGO_TARGET_DIR/release/plasticity or target/release/plasticity, built if
#   missing); the Python environment is ${PLASTICITY_VENV:-target/python-venv}, as
#   scripts/python/test.sh leaves it (the wheel with its test extras: optuna, psycopg).
# PLASTICITY_POSTGRES_OPTIONAL=1 / PLASTICITY_SLURM_OPTIONAL=1: a server or cluster that
# cannot start on this machine (not root, no package registry) skips its part with a
# message (exit 0) instead of failing; one that starts and gives other results fails.
# PLASTICITY_SEARCH_TEST_PARTS="postgres slurm" (the default) chooses the parts to run.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/slurm/lib.sh
plasticity_binary "${1:-}"
export PLASTICITY_CLI="$BIN"
unset PLASTICITY_SEARCH_STORAGE

VENV="${PLASTICITY_VENV:-${CARGO_TARGET_DIR:-target}/python-venv}"
PY="$(cd "$(dirname "$VENV/bin/python")" && pwd -P)/python"
if [ ! -x "$PY" ] || ! "$PY" -c 'import optuna, plasticity.search' 2>/dev/null; then
  echo "test-cluster: FAILED: $VENV has no plasticity with optuna (run scripts/python/test.sh first," \
    "or set PLASTICITY_VENV)" >&2
  exit 1
fi
export PLASTICITY_VENV="$VENV"

SEARCH=crates/plasticity-py/tests/search/choices.toml
WORK="$(mktemp -d /tmp/plasticity-search-cluster.XXXXXX)"
STATE="$(mktemp -d /tmp/plasticity-slurm-search.XXXXXX)"
PGSTATE="$(mktemp -d /tmp/plasticity-postgres-search.XXXXXX)"
cleanup() {
  scripts/search/stop-postgres.sh "$PGSTATE" >/dev/null 2>&1 || true
  stop_cluster_and_clean
  rm -rf "$PGSTATE"
}
trap cleanup EXIT

log() { echo "test-cluster: $*" >&2; }
search() { "$PY" -m plasticity.search "$SEARCH" --quiet "$@"; }

# same RUN: RUN's trials.csv against the reference's (see the header); prints a summary.
same() {
  "$PY" - "$WORK/local/trials.csv" "$WORK/$1/trials.csv" "$1" <<'PY'
import csv, sys
def read(path):
    with open(path) as handle:
        return list(csv.DictReader(handle))
reference, run, name = read(sys.argv[1]), read(sys.argv[2]), sys.argv[3]
key = "fit.learning_rate"
def values(rows):
    found = {}
    for row in rows:
        found.setdefault(row[key], set()).add(row["final_loss"])
    return found
def best(rows):
    return min(rows, key=lambda r: (float(r["final_loss"]), int(r["number"])))[key]
problems = []
complete = [r for r in run if r["state"] == "COMPLETE"]
if len(complete) != 6 or len(run) != 6:
    problems.append(f"{len(complete)} of {len(run)} trials COMPLETE, the budget is 6")
expected, got = values(reference), values(complete)
if set(got) != set(expected):
    problems.append(f"choices evaluated {sorted(got)}, expected all of {sorted(expected)}")
for choice, losses in got.items():
    if losses != expected.get(choice):
        problems.append(f"{key}={choice}: final_loss {sorted(losses)}, the reference has {sorted(expected.get(choice, []))}")
if complete and best(complete) != best(reference):
    problems.append(f"best {key}={best(complete)}, the reference's is {best(reference)}")
if problems:
    print(f"test-cluster: FAILED ({name}): " + "; ".join(problems), file=sys.stderr)
    sys.exit(1)
workers = len({r["worker"] for r in complete})
print(f"test-cluster: {name}: 6 trials COMPLETE by {workers} worker(s), every choice's final_loss equals the reference's, "
      f"best {key}={best(complete)} as the reference", file=sys.stderr)
PY
}

t0=$(now)
search --out "$WORK/local"
log "reference: local search, 1 worker, journal file, in $(took "$t0")"

PARTS=" ${PLASTICITY_SEARCH_TEST_PARTS:-postgres slurm} "

# (b) PostgreSQL ------------------------------------------------------------------------
t1=$(now)
if [[ "$PARTS" != *" postgres "* ]]; then
  log "postgres: not among PLASTICITY_SEARCH_TEST_PARTS"
elif exports="$(scripts/search/start-postgres.sh "$PGSTATE")"; then
  eval "$exports"
  log "PostgreSQL up in $(took "$t1") ($PLASTICITY_SEARCH_STORAGE)"
  t2=$(now)
  search --out "$WORK/postgres" --workers 2 --storage "$PLASTICITY_SEARCH_STORAGE"
  log "postgres: local search, 2 workers, PostgreSQL storage, in $(took "$t2")"
  if [ -e "$WORK/postgres/journal.log" ]; then
    log "FAILED (postgres): the search wrote a journal file instead of using the server"
    exit 1
  fi
  port="${PLASTICITY_SEARCH_STORAGE##*:}"; port="${port%%/*}"
  stored="$(psql -h 127.0.0.1 -p "$port" -U postgres -d plasticity_search -tAc \
    "SELECT count(*) FROM trials t JOIN studies s USING (study_id) WHERE s.study_name = '$(cd "$WORK/postgres" && pwd -P)' AND t.state = 'COMPLETE'")"
  [ "$stored" = 6 ] || { log "FAILED (postgres): the server holds $stored COMPLETE trials of the search, not 6"; exit 1; }
  same postgres
  scripts/search/stop-postgres.sh "$PGSTATE" >/dev/null 2>&1 || true
  unset PLASTICITY_SEARCH_STORAGE
elif [ "${PLASTICITY_POSTGRES_OPTIONAL:-0}" = 1 ]; then
  log "SKIPPED (postgres): could not start a PostgreSQL server on this machine"
else
  log "FAILED: could not start the PostgreSQL server"
  exit 1
fi

# (a) Slurm -----------------------------------------------------------------------------
t3=$(now)
if [[ "$PARTS" != *" slurm "* ]]; then
  log "slurm: not among PLASTICITY_SEARCH_TEST_PARTS"
elif exports="$(scripts/slurm/start-cluster.sh "$STATE")"; then
  eval "$exports"
  log "Slurm cluster up in $(took "$t3")"
  t4=$(now)
  job="$(search --out "$WORK/slurm" --executor slurm --workers 2)"
  log "slurm: submitted job array $job in $(took "$t4")"
  "$PY" -m plasticity.search "$SEARCH" --out "$WORK/slurm" --collect 2>"$WORK/collect.err" \
    || { cat "$WORK/collect.err" >&2; log "FAILED (slurm): --collect failed"; exit 1; }
  log "slurm: job array of 2 workers, journal file, submit to collected in $(took "$t4")"
  for file in trials.csv best.toml figures/history.png; do
    [ -s "$WORK/slurm/$file" ] || { cat "$WORK/collect.err" >&2; log "FAILED (slurm): --collect wrote no $file"; exit 1; }
  done
  for task in 0 1; do
    [ -s "$WORK/slurm/slurm/logs/worker_$task.out" ] || { log "FAILED (slurm): task $task left no log"; exit 1; }
  done
  if grep -h -i -E 'error|traceback' "$WORK"/slurm/slurm/logs/worker_*.out >&2; then
    log "FAILED (slurm): errors in the tasks' logs"
    exit 1
  fi
  same slurm
elif [ "${PLASTICITY_SLURM_OPTIONAL:-0}" = 1 ]; then
  log "SKIPPED (slurm): could not start a Slurm cluster on this machine"
else
  log "FAILED: could not start the Slurm cluster"
  exit 1
fi
log "OK; total $(took "$t0")"
