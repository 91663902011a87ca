"""Shared fixtures: the repository, the CLI binary the Python results are compared
with, and small datasets."""

import os
import pathlib
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]


def cli_binary() -> pathlib.Path:
    """The `plasticity` binary: $PLASTICITY_CLI, else target/release/plasticity (under
    $CARGO_TARGET_DIR when set). Missing is a failure, not a skip: the CLI equality
    tests are part of the contract."""
    if "PLASTICITY_CLI" in os.environ:
        path = pathlib.Path(os.environ["PLASTICITY_CLI"])
    else:
        target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
        path = target / "release" / "plasticity"
    if not path.is_file():
        pytest.fail(
            f"the plasticity CLI is not at {path}: build it with "
            "`cargo build --release -p plasticity-cli` or set PLASTICITY_CLI"
        )
    return path


@pytest.fixture(scope="session")
def cli():
    binary = cli_binary()

    def run(*args: str) -> str:
        done = subprocess.run(
            [str(binary), "--quiet", *map(str, args)],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, f"plasticity {' '.join(map(str, args))}: {done.stderr}"
        return done.stdout

    return run


@pytest.fixture(scope="session")
def fly_path() -> pathlib.Path:
    return REPO / "crates" / "plasticity" / "tests" / "data" / "flies" / "Fly1.mat"
