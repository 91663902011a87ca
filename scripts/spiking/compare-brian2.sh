#!/usr/bin/env bash
# The performance comparison of docs/spiking.md: the 1,000-neuron plastic LIF network
# simulated for 10 s at dt = 1 ms and 0.1 ms by plasticity (examples/spike_benchmark.rs)
# and by Brian2's C++ standalone mode (scripts/spiking/brian2_benchmark.py, installed by
# scripts/spiking/install-brian2.sh), one thread each, one JSON line per run; then the
# gradient's cost on the escape-noise variant.
#   scripts/spiking/compare-brian2.sh
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$here"
venv="${BRIAN2_VENV:-/tmp/venv-brian2}"
[ -x "$venv/bin/python" ] || scripts/spiking/install-brian2.sh
cargo build --release -q -p plasticity --example spike_benchmark
bench=target/release/examples/spike_benchmark
export RAYON_NUM_THREADS=1
"$bench" experiments/spiking/benchmark_1000.toml 10000
"$venv/bin/python" scripts/spiking/brian2_benchmark.py --dt-ms 1.0 --duration-s 10 --seed 1 --threads 1 --ext-rate-hz 25
"$bench" experiments/spiking/benchmark_1000_dt01.toml 100000
"$venv/bin/python" scripts/spiking/brian2_benchmark.py --dt-ms 0.1 --duration-s 10 --seed 1 --threads 1 --ext-rate-hz 25
"$bench" experiments/spiking/benchmark_1000_escape.toml 10000 gradient
