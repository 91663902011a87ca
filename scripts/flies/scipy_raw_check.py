#!/usr/bin/env python3
"""Cross-check of `plasticity convert-fly` against files written by another implementation.

Writes simulated flies in the deposited raw layout of Rajagopalan et al. (PNAS 2023) with
scipy.io.savemat (struct arrays whose `type` is a char array or a 1 x 1 cell, empty and
numeric types, trials without a choice, choice points without a new entry, three blocks
with frame offsets, compressed and plain files), works out the X/Y/R the authors'
preprocessing gives on the simulation's own timeline, converts each fly with the binary
and compares. Needs numpy and scipy (not the project's test environment).

  python3 scripts/flies/scipy_raw_check.py [--binary target/release/plasticity] [--flies 10]
"""

import argparse
import csv
import random
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import scipy.io as sio

FIELDS = [("time", "O"), ("type", "O"), ("time_pt_in_vector", "O"), ("conts", "O")]


def other_type(rng):
    """A crossing that is not an entry: another 4th character, empty, numeric."""
    kind = rng.choice(["MtoA", "", "num", "cell"])
    return {
        "MtoA": "MtoA",
        "": "",
        "num": np.array([[0.0]]),
        "cell": np.array(["OtoA"], dtype=object),
    }[kind]


def make_fly(directory, rng, compress, trials=15, blocks=3):
    """Writes one fly's raw files; returns the X (odours), Y and R they must give."""
    directory.mkdir(parents=True, exist_ok=True)
    t, offset = 0, 0
    odours, decisions, rewards, pending = [], [], [], []
    choice_order = np.zeros((trials, blocks))
    reward_order = np.zeros((trials, blocks))
    for b in range(blocks):
        crossings, cps, last = [], [1.0], None
        for trial in range(trials):
            first = b == 0 and trial == 0
            c = 0 if (rng.random() < 0.2 and not first) else rng.choice([1, 2])
            if c == 0:
                k = rng.randint(0, 2)
            else:
                k = 0 if (rng.random() < 0.15 and not first) else rng.randint(1, 3)
            for e in range(k):
                if rng.random() < 0.4:
                    t += rng.randint(1, 30)
                    crossings.append((t / 30.0, other_type(rng), float(t - offset), 1.0))
                t += rng.randint(1, 30)
                o = c - 1 if (c and e == k - 1) else rng.randint(0, 1)
                code = ("AtoM", "AtoO")[o]
                kind = code if rng.random() < 0.5 else np.array([code], dtype=object)
                crossings.append((t / 30.0, kind, float(t - offset), 1.0))
                pending.append((len(odours), t))
                odours.append(o)
                decisions.append(0)
            r = c if rng.random() < 0.5 else 0
            choice_order[trial, b] = c
            reward_order[trial, b] = r if c else rng.randint(0, 2)
            if c:
                t += rng.randint(1, 10)
                cps.append(float(t - offset))
                last = t
                before = [p for p in pending if p[1] < t]
                if before:
                    decisions[before[-1][0]] = 1
                    rewards.append(1.0 if r else 0.0)
                    pending = [p for p in pending if p[1] >= t]
        array = np.zeros((1, len(crossings)), dtype=FIELDS)
        for i, crossing in enumerate(crossings):
            array[0, i] = crossing
        sio.savemat(directory / f"odor_crossing_{b + 1}.mat", {"odor_crossing": array},
                    do_compression=compress)
        sio.savemat(directory / f"cps_{b + 1}.mat", {"cps": np.array(cps)},
                    do_compression=not compress)
        if last is not None:
            offset = last
    for name, matrix in [("choice_order", choice_order), ("reward_order", reward_order)]:
        sio.savemat(directory / f"{name}.mat", {name: matrix}, do_compression=compress)
    return odours, decisions, rewards


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default="target/release/plasticity")
    parser.add_argument("--flies", type=int, default=10)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    exact = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.flies):
            fly = Path(tmp) / f"Fly{i + 1}"
            odours, decisions, rewards = make_fly(fly, rng, compress=i % 2 == 0)
            out = Path(tmp) / f"Fly{i + 1}.csv"
            subprocess.run([args.binary, "convert-fly", str(fly), "--out", str(out), "--quiet"],
                           check=True)
            rows = list(csv.DictReader(out.open()))
            got = (
                [int(r["odour"]) for r in rows],
                [int(r["decision"]) for r in rows],
                [float(r["reward"]) for r in rows if r["decision"] == "1"],
            )
            if got == (odours, decisions, rewards):
                exact += 1
            else:
                print(f"Fly{i + 1}: differs")
    print(f"scipy-written flies converted exactly: {exact} of {args.flies}")
    raise SystemExit(0 if exact == args.flies else 1)


if __name__ == "__main__":
    main()
