#!/usr/bin/env bash
# The long fuzz run of issue 27: every harness of the library's fuzz tests
# (crates/plasticity/tests/fuzz.rs: .npz datasets — neural, streamed, behaviour,
# circuit — circuit files, MAT and CSV fly recordings, rule expressions;
# crates/plasticity/tests/fuzz_raw.rs: MAT struct, cell and char arrays and the
# deposited raw fly directories of issue 25) with CASES
# inputs each and the seed SEED; prints each harness's count, the total, the wall time
# and the result. Exits non-zero if any harness fails (a panic, an abort, an oversized
# allocation, a badly formed error); the full log is in $LOG.
#   scripts/fuzz/run.sh [CASES] [SEED]      (defaults: 8000, issue27)
set -euo pipefail
cases=${1:-8000}
seed=${2:-issue27}
log=${LOG:-$(mktemp -t fuzz-run.XXXXXX.log)}
cd "$(dirname "$0")/../.."
cargo test --release -p plasticity --test fuzz --test fuzz_raw --no-run
start=$(date +%s.%N)
status=0
PLASTICITY_FUZZ_CASES=$cases PLASTICITY_FUZZ_SEED=$seed \
  cargo test --release -p plasticity --test fuzz --test fuzz_raw -- --nocapture > "$log" 2>&1 || status=$?
end=$(date +%s.%N)
echo "seed '$seed', $cases cases per harness:"
grep -a '^fuzz harness ' "$log" | sort | sed 's/^fuzz harness /  /'
total=$(grep -a '^fuzz harness ' "$log" | sed -E 's/.*: ([0-9]+) inputs tried.*/\1/' | paste -sd+ | bc)
harnesses=$(grep -ac '^fuzz harness ' "$log" || true)
wall=$(echo "$end - $start" | bc)
if [ "$status" -eq 0 ]; then result="no failure"; else result="FAILED (see $log)"; fi
printf 'total: %s inputs in %s harnesses, %.0f s wall; %s\n' "$total" "$harnesses" "$wall" "$result"
grep -a 'test result' "$log" || true
exit "$status"
