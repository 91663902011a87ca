#!/usr/bin/env bash
# Issue 30's "the same search as a Slurm array … and once against a real PostgreSQL
# server": searches/benchmark_tpe.toml (TPE over the 150-cell grid of
# docs/search.md's benchmark, 45 trials) run three ways with 4 workers each:
#   local workers on the journal file; local workers on a throwaway PostgreSQL server
#   (scripts/search/start-postgres.sh); a Slurm job array of 4 tasks on the journal file
#   (scripts/slurm/start-cluster.sh, the single-node cluster of the sweep test).
# Prints each run's best configuration, its objective and its rank among the grid's
# cells (the grid's values as docs/search.md gives them), and how many trials completed.
#   scripts/search/benchmark-cluster.sh [PLASTICITY_BINARY]
#   (the Python environment: ${PLASTICITY_VENV:-target/python-venv} with the search extras)
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/slurm/lib.sh
plasticity_binary "${1:-}"
export PLASTICITY_CLI="$BIN"
unset PLASTICITY_SEARCH_STORAGE
VENV="${PLASTICITY_VENV:-${CARGO_TARGET_DIR:-target}/python-venv}"
PY="$(cd "$(dirname "$VENV/bin/python")" && pwd -P)/python"
export PLASTICITY_VENV="$VENV"
SEARCH=searches/benchmark_tpe.toml
WORK="$(mktemp -d /tmp/plasticity-search-benchmark.XXXXXX)"
STATE="$(mktemp -d /tmp/plasticity-slurm-benchmark.XXXXXX)"
PGSTATE="$(mktemp -d /tmp/plasticity-postgres-benchmark.XXXXXX)"
KEEP="${BENCHMARK_CLUSTER_OUT:-runs/search_benchmark_cluster}"
cleanup() {
  mkdir -p "$KEEP"
  for run in local postgres slurm; do
    [ -e "$WORK/$run/trials.csv" ] && cp "$WORK/$run/trials.csv" "$KEEP/$run.trials.csv"
  done
  scripts/search/stop-postgres.sh "$PGSTATE" >/dev/null 2>&1 || true
  stop_cluster_and_clean
  rm -rf "$PGSTATE"
}
trap cleanup EXIT
log() { echo "benchmark-cluster: $*" >&2; }
search() { "$PY" -m plasticity.search "$SEARCH" --quiet "$@"; }
summary() {
  "$PY" - "$WORK/$1/trials.csv" "$1" <<'PY'
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["state"] == "COMPLETE"]
metric = "evaluation.percent_deviance"
best = max(rows, key=lambda r: (float(r[metric]), -int(r["number"])))
keys = ["fit.learning_rate", "fit.l1", "fit.trainable"]
print(f"{sys.argv[2]}: {len(rows)} trials COMPLETE by {len({r['worker'] for r in rows})} worker(s); "
      f"best {float(best[metric]):.3f} % at " + ", ".join(f"{k}={best[k]}" for k in keys)
      + f" (trial {best['number']})")
PY
}
t0=$(now)
search --out "$WORK/local" --workers 4
log "local: 4 workers, journal file, in $(took "$t0")"
summary local
t1=$(now)
if exports="$(scripts/search/start-postgres.sh "$PGSTATE")"; then
  eval "$exports"
  search --out "$WORK/postgres" --workers 4 --storage "$PLASTICITY_SEARCH_STORAGE"
  log "postgres: 4 workers, PostgreSQL storage, in $(took "$t1")"
  summary postgres
  scripts/search/stop-postgres.sh "$PGSTATE" >/dev/null 2>&1 || true
  unset PLASTICITY_SEARCH_STORAGE
else
  log "could not start PostgreSQL"
fi
t2=$(now)
if exports="$(scripts/slurm/start-cluster.sh "$STATE")"; then
  eval "$exports"
  job="$(search --out "$WORK/slurm" --executor slurm --workers 4)"
  "$PY" -m plasticity.search "$SEARCH" --out "$WORK/slurm" --collect >/dev/null
  log "slurm: job array $job of 4 tasks, journal file, submit to collected in $(took "$t2")"
  summary slurm
else
  log "could not start the Slurm cluster"
fi
