"""The example notebooks are committed executed, with small outputs, and still run
against the package as it is now."""

import json
import subprocess
import sys

import pytest

from conftest import REPO

NOTEBOOKS = sorted((REPO / "examples").glob("*.ipynb"))


def test_there_are_example_notebooks():
    assert {p.name for p in NOTEBOOKS} >= {"oja.ipynb", "fly.ipynb"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_notebook_is_executed_and_small(path):
    notebook = json.loads(path.read_text())
    code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    assert code and all(c.get("execution_count") for c in code), "not executed"
    assert not any(o.get("output_type") == "error" for c in code for o in c["outputs"])
    assert any("image/png" in o.get("data", {}) for c in code for o in c["outputs"]), "no figure"
    assert path.stat().st_size < 200_000


def test_notebooks_run():
    pytest.importorskip("nbclient")
    pytest.importorskip("matplotlib")
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "python" / "build-notebooks.py"), "--check"],
        capture_output=True, text=True, timeout=900,
    )
    assert done.returncode == 0, done.stdout + done.stderr[-4000:]
