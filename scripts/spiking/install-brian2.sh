#!/usr/bin/env bash
# Create (idempotently) a Python virtual environment with Brian2 for
# scripts/spiking/brian2_benchmark.py, and check that Brian2's C++ standalone
# mode can compile on this machine.
#
#   scripts/spiking/install-brian2.sh            # venv at /tmp/venv-brian2
#   BRIAN2_VENV=$HOME/venv-b2 scripts/spiking/install-brian2.sh
#
# Needs: python3 >= 3.10 (Brian2 2.9 requires it), its venv module (Debian/Ubuntu:
# python3-venv), g++ and make (Brian2's C++ standalone mode compiles with a
# Makefile; Debian/Ubuntu: sudo apt-get install g++ make, or build-essential).
# Only PyPI has to be reachable. BRIAN2_VERSION pins a version (default: newest).
#
# numpy is held below 2.4: Brian2 2.9.0 (the newest release on PyPI when this was
# written) wraps np.ndarray.ptp, which numpy 2.4 removed, so 'import brian2' fails
# with "AttributeError: type object 'numpy.ndarray' has no attribute 'ptp'". The fix
# is merged upstream (brian-team/brian2#1705) but not yet released. Override with
# NUMPY_SPEC (e.g. NUMPY_SPEC=numpy) once a newer Brian2 is out.
set -euo pipefail

VENV="${BRIAN2_VENV:-/tmp/venv-brian2}"
PYTHON="${PYTHON:-python3}"
SPEC="brian2${BRIAN2_VERSION:+==${BRIAN2_VERSION}}"
NUMPY_SPEC="${NUMPY_SPEC:-numpy<2.4}"

die() { echo "install-brian2.sh: error: $*" >&2; exit 1; }

command -v "$PYTHON" >/dev/null 2>&1 \
    || die "'$PYTHON' not found. On Debian/Ubuntu: sudo apt-get install python3 python3-venv"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
    || die "$("$PYTHON" --version 2>&1) is too old: Brian2 needs Python >= 3.10 (set PYTHON=python3.X)"
command -v g++ >/dev/null 2>&1 \
    || die "g++ not found; Brian2's C++ standalone mode needs it. On Debian/Ubuntu: sudo apt-get install g++ make (or build-essential)"
command -v make >/dev/null 2>&1 \
    || die "make not found; Brian2's C++ standalone mode builds with a Makefile. On Debian/Ubuntu: sudo apt-get install make (or build-essential)"

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
    # On Debian/Ubuntu without python3-venv, 'python3 -m venv' fails after creating a
    # half-made directory (no pip): check ensurepip first for a clear message.
    "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1 \
        || die "'$PYTHON -m venv' is unavailable (no venv/ensurepip module). On Debian/Ubuntu: sudo apt-get install python3-venv (or python3.X-venv for your python3 version)"
    rm -rf "$VENV"
    echo "creating virtual environment $VENV" >&2
    "$PYTHON" -m venv "$VENV" \
        || die "'$PYTHON -m venv $VENV' failed. On Debian/Ubuntu: sudo apt-get install python3-venv"
fi

PY="$VENV/bin/python"
"$PY" -m pip install --quiet --upgrade pip
"$PY" -m pip install --quiet --upgrade "$SPEC" "$NUMPY_SPEC"

# Compile-and-run check of C++ standalone mode: a tiny network built into a
# temporary directory (deleted afterwards).
CHECK_DIR="$(mktemp -d "${TMPDIR:-/tmp}/brian2-check.XXXXXX")"
trap 'rm -rf "$CHECK_DIR"' EXIT
"$PY" - "$CHECK_DIR" <<'PY' || die "Brian2 C++ standalone mode could not compile or run a test network (see the messages above)"
import sys, brian2
from brian2 import set_device, device, prefs, NeuronGroup, SpikeMonitor, run, ms
prefs.logging.console_log_level = "WARNING"
set_device("cpp_standalone", directory=sys.argv[1], build_on_run=False)
g = NeuronGroup(1, "dv/dt = (2 - v) / (10*ms) : 1", threshold="v > 1", reset="v = 0", method="exact")
m = SpikeMonitor(g)
run(50 * ms)
device.build(directory=sys.argv[1], compile=True, run=True, debug=False)
assert m.num_spikes > 0, "test network produced no spikes"
print(f"brian2 {brian2.__version__}: C++ standalone mode compiles and runs ({m.num_spikes} spikes in the check)")
PY
echo "ready: $PY scripts/spiking/brian2_benchmark.py" >&2
