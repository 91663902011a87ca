#!/usr/bin/env bash
# Model-selection acceptance (issue 13, part 3): simulate 18 sessions (default task)
# from each of 5 generating rules of the paper's table, run `plasticity select` over a
# pool of their terms plus distractors (every subset up to 3 terms, 5 folds by
# session), and report whether the generating term set is ranked first or within the
# equivalence set (2 units of held-out deviance), with the wall time of each; then the
# L1 path of the forgetting rule's data.
#
# usage: scripts/select/acceptance.sh [OUT_DIR]   (PLASTICITY=path/to/binary)
set -euo pipefail
OUT=${1:-acceptance-select}
BIN=${PLASTICITY:-target/release/plasticity}
POOL="1,x,r,w,x*y,x*r,y*r"
RULES=("x*r" "x*r - 0.05*w" "x*r - 0.05*r" "x*r - 0.05*x" "x*r - 0.05*y*r")
GENERATING=("x*r" "w,x*r" "r,x*r" "x,x*r" "y*r,x*r")
mkdir -p "$OUT"
echo "rule|generating set|rank|within 2 units|equivalence set size|best set|D − D_best ± SE|within 1 SE|AIC rank|BIC rank|seconds" > "$OUT/summary.psv"
for i in "${!RULES[@]}"; do
  rule=${RULES[$i]}
  dir="$OUT/rule$i"
  mkdir -p "$dir"
  "$BIN" simulate behaviour --rule "$rule" --seed $((100 + i)) --out "$dir/data.npz" --quiet
  start=$(date +%s.%N)
  "$BIN" select "$dir/data.npz" --out "$dir" --pool "$POOL" --max-terms 3 --folds 5 --quiet > "$dir/stdout.txt"
  end=$(date +%s.%N)
  python3 "$(dirname "$0")/summarise.py" "$dir" "$rule" "${GENERATING[$i]}" "$(python3 -c "print($end - $start)")" >> "$OUT/summary.psv"
done
column -t -s'|' "$OUT/summary.psv"
# the L1 path (timed on its own) of the forgetting rule
start=$(date +%s)
mkdir -p "$OUT/l1path"
"$BIN" select "$OUT/rule1/data.npz" --out "$OUT/l1path" --pool "$POOL" --max-terms 1 --folds 5 --l1-path --quiet | tee "$OUT/l1path/stdout.txt"
echo "L1 path (and the 8 one-term sets): $(( $(date +%s) - start )) s"
