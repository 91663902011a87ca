#!/usr/bin/env bash
# One build (issue 26, point 4): the README's run command (`cargo run -p plasticity-cli`),
# its test command (`cargo test --workspace`) and the Python install (maturin builds
# `plasticity-py`) must resolve every shared dependency with the same features, or Cargo
# compiles it — and everything above it — once more. This compares the three feature
# sets with `cargo tree` (a few seconds, no compilation) and fails naming each crate
# whose features differ; crates/workspace-hack/Cargo.toml is where to add them.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
tree() { cargo tree --locked "$@" -f '{p} [{f}]' --prefix none | sort -u; }
tree -p plasticity-cli -e normal,build >"$dir/run"
tree -p plasticity-py -e normal,build >"$dir/python"
tree --workspace -e normal,build,dev >"$dir/test"
python3 - "$dir/run" "$dir/python" "$dir/test" <<'PY'
import re, sys
names = ["run (plasticity-cli)", "python (plasticity-py)", "test (--workspace)"]
def features(path):
    found = {}
    for line in open(path):
        m = re.match(r"(\S+) (v\S+).*?\[(.*)\]( \(\*\))?$", line.strip())
        if m:
            found.setdefault((m[1], m[2]), set()).update(f for f in m[3].split(",") if f)
    return found
builds = [features(p) for p in sys.argv[1:]]
bad = 0
for crate in sorted(set().union(*builds)):
    sets = [(n, b[crate]) for n, b in zip(names, builds) if crate in b]
    union = set().union(*(s for _, s in sets))
    missing = [f"{n} lacks {sorted(union - s)}" for n, s in sets if s != union]
    if missing:
        bad += 1
        print(f"{crate[0]} {crate[1]}: " + "; ".join(missing))
if bad:
    print(f"{bad} crate(s) would be compiled twice: add their features to crates/workspace-hack/Cargo.toml", file=sys.stderr)
    sys.exit(1)
print("one build: run, test and the Python install resolve every shared crate with the same features")
PY
