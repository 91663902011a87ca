# Shared by the scripts that run plasticity on a single-node Slurm cluster
# (scripts/slurm/test-sweep.sh, scripts/slurm/test-failures.sh, scripts/select/slurm.sh);
# sourced from the repository root, after `set -euo pipefail`.

# plasticity_binary [PATH]: sets BIN to PATH, by default
# $CARGO_TARGET_DIR/release/plasticity (or target/release/plasticity), built with
# `cargo build --release -p plasticity-cli` if missing, as an absolute path.
plasticity_binary() {
  local target="${CARGO_TARGET_DIR:-$(pwd -P)/target}"
  BIN="${1:-$target/release/plasticity}"
  [ -x "$BIN" ] || cargo build --release -p plasticity-cli
  BIN="$(cd "$(dirname "$BIN")" && pwd -P)/$(basename "$BIN")"
}

# now: the time in seconds; took T0: the seconds since T0, as "12.3 s".
now() { date +%s.%N; }
took() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }

# stop_cluster_and_clean: stops the cluster of $STATE and removes $STATE and $WORK (an
# EXIT trap).
stop_cluster_and_clean() {
  scripts/slurm/stop-cluster.sh "$STATE" >/dev/null 2>&1 || true
  rm -rf "$STATE" "$WORK"
}
