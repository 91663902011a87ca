#!/usr/bin/env bash
# Creates bench/.venv and installs the pinned CPU JAX stack (bench/jax/requirements.txt).
# Idempotent: re-running only installs what is missing or at the wrong version.
# Usage: bench/setup-jax.sh            (uses python3; override with PYTHON=python3.12)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv"
req="$here/jax/requirements.txt"
python="${PYTHON:-python3}"

if [[ ! -x "$venv/bin/python" ]]; then
    echo "setup-jax: creating $venv with $("$python" --version 2>&1)"
    "$python" -m venv "$venv"
fi
# Skip pip entirely when every pin is already satisfied.
if "$venv/bin/python" - "$req" <<'PY' 2>/dev/null; then
import sys
from importlib.metadata import version
for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if not line:
        continue
    name, pin = line.split("==")
    if version(name) != pin:
        sys.exit(1)
PY
    echo "setup-jax: $venv already has the pinned packages"
else
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
fi
"$venv/bin/python" -c 'import jax, numpy; print("setup-jax: jax", jax.__version__, "numpy", numpy.__version__, "devices", jax.devices())'
