#!/usr/bin/env python3
"""The cost of calling the library from Python, on the behaviour epoch benchmark of
`plasticity bench-kernels`: one loss-and-gradient per session (Adam, batch 1) over 18
simulated sessions × 240 trials, 2 → 10 → 1, Taylor rule `x*r - 0.05*w`, weight bound
10, recorded inputs — the same work, timed as 18 Python calls, against the CLI's
in-process figure (`behaviour_epoch_taylor_s`). Prints JSON.

    python bench/python/behaviour_epoch.py [--cli target/release/plasticity] [--repeats 7]
"""

import argparse
import json
import pathlib
import statistics
import subprocess
import time

import numpy as np

import plasticity as pl


def median_seconds(repeats, work):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser()
    root = pathlib.Path(__file__).resolve().parents[2]
    parser.add_argument("--cli", default=str(root / "target" / "release" / "plasticity"))
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    data = pl.simulate_behaviour(rule="x*r")
    theta = np.asarray(pl.parse_expression("x*r - 0.05*w", "xywr"))

    def epoch():
        for session in range(data.n_sessions):
            pl.loss_and_gradient(data, theta, items=[session], weight_bound=10.0)

    def empty_call():
        pl.term_names("xyw")

    epoch()  # warm up
    python_epoch = median_seconds(args.repeats, epoch)
    call = median_seconds(args.repeats, lambda: [empty_call() for _ in range(1000)]) / 1000
    cli = json.loads(subprocess.run(
        [args.cli, "--quiet", "bench-kernels", "--repeats", str(args.repeats)],
        capture_output=True, text=True, check=True).stdout)
    cli_epoch = cli["behaviour_epoch_taylor_s"]
    print(json.dumps({
        "sessions": data.n_sessions,
        "python_epoch_s": python_epoch,
        "cli_epoch_s": cli_epoch,
        "python_overhead_per_call_s": (python_epoch - cli_epoch) / data.n_sessions,
        "python_over_cli": python_epoch / cli_epoch,
        "trivial_python_call_s": call,
        "repeats": args.repeats,
        "version": pl.__version__,
    }, indent=2))


if __name__ == "__main__":
    main()
