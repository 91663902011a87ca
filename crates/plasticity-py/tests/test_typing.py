"""The type stubs describe the native module exactly, and the package type-checks."""

import pathlib
import subprocess
import sys

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1]


def test_stubs_match_the_native_module():
    pytest.importorskip("mypy")
    done = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "plasticity._plasticity"],
        capture_output=True, text=True, cwd="/",
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_package_type_checks():
    pytest.importorskip("mypy")
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--ignore-missing-imports",
         str(PACKAGE / "python" / "plasticity"), str(PACKAGE / "tests")],
        capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
