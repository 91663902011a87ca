#!/usr/bin/env bash
# The Python package's tests: builds the wheel of crates/plasticity-py with maturin,
# installs it with its test extras into a fresh virtual environment, and runs pytest
# (which compares results with the CLI binary, built here too).
#   PLASTICITY_VENV   where the environment goes (default target/python-venv)
set -euo pipefail
cd "$(dirname "$0")/../.."

venv=${PLASTICITY_VENV:-${CARGO_TARGET_DIR:-target}/python-venv}
if ! python3 -m venv --help >/dev/null 2>&1; then
  echo "python3 with the venv module is required (Debian: apt-get install python3-venv)" >&2
  exit 1
fi
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
# the wheel CI builds; then installed with the test extras
"$venv/bin/python" -m pip install --quiet maturin
"$venv/bin/maturin" build --release --quiet -m crates/plasticity-py/Cargo.toml --out "$venv/wheels"
wheel=$(ls "$venv"/wheels/plasticity-*.whl)
"$venv/bin/python" -m pip install --quiet "${wheel}[test]"
echo "installed $(basename "$wheel")"

cargo build --release --quiet -p plasticity-cli
PLASTICITY_CLI="$(cd "${CARGO_TARGET_DIR:-target}/release" && pwd)/plasticity"
export PLASTICITY_CLI
"$venv/bin/python" -m pytest crates/plasticity-py/tests -q "$@"
