#!/usr/bin/env python3
"""Run every shell and Python block of README.md and docs/*.md, in order, as a reader would.

Blocks run in the repository's root, where a reader of a fresh clone runs them (so they
find `experiments/`, `data/` and `crates/`, and Cargo reuses the build in `target/`); the
files and folders a Markdown file's blocks create there are removed after its last block.
Shell blocks (```sh, ```bash) run with `bash -e -o pipefail`; Python blocks (```python)
in one interpreter per Markdown file, so later blocks see earlier names. `python` and
`pip` are those of the test environment `scripts/python/test.sh` makes
(`$PLASTICITY_VENV`, default `target/python-venv`) where it exists.

Comments on the lines right above a block's fence change what happens to it:
  <!-- doc-test: long -->              takes minutes: run only with --long
  <!-- doc-test: requires PROGRAM -->  run only where PROGRAM is on PATH
  <!-- doc-test: skip REASON -->       not run here, for the reason given (e.g. it is the
                                       CI's own test step); listed, never silent
  <!-- doc-test: measure ID -->        with --record, its wall time and output are kept
                                       in docs/results.json under ID
A fenced ```text block under `<!-- doc-output: ID grep REGEX -->` shows the lines of
ID's recorded output that match REGEX, and a span
`<!-- measured:ID.seconds -->…<!-- /measured -->` its time (`fresh.run`, `fresh.test`,
`fresh.pip`, `fresh.python`: the steps of --fresh-clone): --render writes them from
docs/results.json, --check fails where a document differs from what --render would write,
so no quoted output or time can drift from its measurement.

  scripts/docs/run-blocks.py [--long] [--record] [FILE.md ...]   run (and record)
  scripts/docs/run-blocks.py --render | --check | --list
  scripts/docs/run-blocks.py --fresh-clone    time the README's steps in a new clone
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "docs" / "results.json"
FENCE = re.compile(r"^```(\w+)?\s*$")
MARK = re.compile(r"^<!--\s*doc-test:\s*(.*?)\s*-->\s*$")
OUTPUT_MARK = re.compile(r"^<!--\s*doc-output:\s*(\S+)\s+grep\s+(.*?)\s*-->\s*$")
SPAN = re.compile(r"<!-- measured:([\w-]+)\.([\w-]+) -->(.*?)<!-- /measured -->")
TABLE = re.compile(r"(<!-- measured-table -->\n)(.*?)(<!-- /measured-table -->)", re.S)
LANGUAGES = {"sh": "shell", "bash": "shell", "python": "python"}
BLOCK_TIMEOUT_S = 1800
PYTHON_DRIVER = r"""
import json, sys, traceback
namespace = {"__name__": "__main__"}
for line in sys.stdin:
    block = json.loads(line)
    try:
        exec(compile(block["code"], f"{block['file']}:{block['line']}", "exec"), namespace)
    except BaseException:
        traceback.print_exc()
        print("@@doc-test failed", flush=True)
        sys.exit(1)
    print("@@doc-test passed", flush=True)
"""


@dataclass
class Block:
    file: str
    line: int
    language: str
    code: str
    marks: list = field(default_factory=list)

    def mark(self, kind: str) -> str | None:
        """The argument of this block's mark of that kind ('' when it has none)."""
        for m in self.marks:
            if m == kind or m.startswith(kind + " "):
                return m[len(kind):].strip()
        return None


@dataclass
class Outcome:
    ran: list = field(default_factory=list)
    not_run: list = field(default_factory=list)
    failed: list = field(default_factory=list)


def markdown_files(given: list[Path]) -> list[Path]:
    return [f.resolve() for f in given] or [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def blocks_of(path: Path) -> list[Block]:
    """The shell and Python blocks of one Markdown file, with the marks above each."""
    found, lines = [], path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if not fence:
            i += 1
            continue
        start, language = i, LANGUAGES.get(fence.group(1) or "")
        i += 1
        body = []
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        i += 1
        if language is None:
            continue
        marks, above = [], start - 1
        while above >= 0 and MARK.match(lines[above]):
            marks.insert(0, MARK.match(lines[above]).group(1))
            above -= 1
        found.append(Block(str(path.relative_to(ROOT)), start + 1, language,
                           "\n".join(body) + "\n", marks))
    return found


def reason_not_to_run(block: Block, long: bool) -> str | None:
    """Why a block is not run here, or None to run it."""
    if block.mark("skip") is not None:
        return block.mark("skip") or "marked skip"
    if block.mark("long") is not None and not long:
        return "long (run with --long)"
    program = block.mark("requires")
    if program and not shutil.which(program):
        return f"needs {program}, not on PATH"
    return None


def environment(root: Path, target: Path, venv: Path) -> dict:
    env = dict(os.environ, CARGO_TARGET_DIR=str(target), PYTHONUNBUFFERED="1")
    path = [str(target / "release")]
    if (venv / "bin" / "python").exists():
        path.insert(0, str(venv / "bin"))
        env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = os.pathsep.join(path + [env.get("PATH", "")])
    return env


def run_shell(block: Block, cwd: Path, env: dict, capture: bool) -> tuple[bool, str]:
    """Run one shell block; with capture, its stdout and stderr are also returned."""
    process = subprocess.Popen(["bash", "-e", "-o", "pipefail", "-c", block.code], cwd=cwd,
                               env=env, stdout=subprocess.PIPE if capture else None,
                               stderr=subprocess.STDOUT if capture else None, text=True)
    output = []
    if capture:
        for line in process.stdout:
            print(line, end="", flush=True)
            output.append(line)
    return process.wait(timeout=BLOCK_TIMEOUT_S) == 0, "".join(output)


class PythonSession:
    """One interpreter per Markdown file: each block runs in the names of the ones before."""

    def __init__(self, cwd: Path, env: dict):
        self.process = subprocess.Popen(["python", "-c", PYTHON_DRIVER], cwd=cwd, env=env,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True)

    def run(self, block: Block) -> tuple[bool, str]:
        self.process.stdin.write(json.dumps({"file": block.file, "line": block.line,
                                             "code": block.code}) + "\n")
        self.process.stdin.flush()
        output = []
        for line in self.process.stdout:
            if line.startswith("@@doc-test "):
                return line.startswith("@@doc-test passed"), "".join(output)
            print(line, end="", flush=True)
            output.append(line)
        return False, "".join(output)  # the interpreter died

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=60)


def run_blocks(blocks: list[Block], cwd: Path, env: dict, outcome: Outcome,
               records: dict | None) -> None:
    """Run blocks in order until one fails; record the measured ones into records."""
    python = None
    try:
        for block in blocks:
            print(f"\n@@ {block.file}:{block.line}\n{block.code}", flush=True)
            started = time.monotonic()
            if block.language == "python":
                python = python or PythonSession(cwd, env)
                passed, output = python.run(block)
            else:
                passed, output = run_shell(block, cwd, env, capture=records is not None)
            seconds = time.monotonic() - started
            if not passed:
                outcome.failed.append(f"{block.file}:{block.line}: this block failed:\n"
                                      f"{block.code}")
                return
            outcome.ran.append(f"{block.file}:{block.line} {block.language} ({seconds:.0f} s)")
            if records is not None and block.mark("measure"):
                records[block.mark("measure")] = {
                    "seconds": round(seconds, 2), "command": block.code.strip(),
                    "language": block.language,
                    "output": output, "source": f"{block.file}:{block.line}"}
    finally:
        if python:
            python.close()


def run_file(path: Path, long: bool, env: dict, outcome: Outcome, records: dict | None) -> None:
    runnable = []
    for block in blocks_of(path):
        reason = reason_not_to_run(block, long)
        if reason:
            outcome.not_run.append(f"{block.file}:{block.line} {block.language}: {reason}")
        else:
            runnable.append(block)
    if not runnable:
        return
    before = {p.name for p in ROOT.iterdir()}
    try:
        run_blocks(runnable, ROOT, env, outcome, records)
    finally:
        for made in sorted({p.name for p in ROOT.iterdir()} - before):
            print(f"@@ removing {made} (made by {path.name}'s blocks)")
            target = ROOT / made
            shutil.rmtree(target) if target.is_dir() else target.unlink()


# ---------------------------------------------------------------- recorded results


def load_results() -> dict:
    return json.loads(RESULTS.read_text()) if RESULTS.exists() else {"runs": {}}


def save_results(results: dict, records: dict) -> None:
    machine = {"cores": os.cpu_count(), "system": platform.platform(),
               "date": time.strftime("%Y-%m-%d")}
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    for key, record in records.items():
        results["runs"][key] = {"commit": commit, **record, "machine": machine}
    RESULTS.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")


def describe_seconds(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 100:
        return f"{seconds:.0f} s"
    return f"about {seconds / 60:.0f} min"


def rendered(text: str, runs: dict, name: str, missing: list) -> str:
    """A document with its measured spans, output blocks and table written from runs;
    what has no record is left as it is and named in missing."""
    def span(match):
        run = runs.get(match.group(1))
        if run is None or match.group(2) not in run:
            missing.append(f"{name}: no recorded {match.group(1)}.{match.group(2)}")
            return match.group(0)
        value = run[match.group(2)]
        shown = describe_seconds(value) if isinstance(value, (int, float)) else str(value)
        return f"<!-- measured:{match.group(1)}.{match.group(2)} -->{shown}<!-- /measured -->"

    text = SPAN.sub(span, text)
    lines, out, i = text.split("\n"), [], 0
    while i < len(lines):
        out.append(lines[i])
        mark = OUTPUT_MARK.match(lines[i])
        if mark and i + 1 < len(lines) and lines[i + 1].startswith("```"):
            run = runs.get(mark.group(1))
            if run is None:
                missing.append(f"{name}: no recorded output of {mark.group(1)}")
                i += 1
                continue
            keep = [l for l in run["output"].splitlines() if re.search(mark.group(2), l)]
            out.append(lines[i + 1])
            out.extend(keep)
            i += 2
            while i < len(lines) and not lines[i].startswith("```"):
                i += 1
            continue
        i += 1
    text = "\n".join(out)
    return TABLE.sub(lambda m: m.group(1) + measured_table(runs) + m.group(3), text)


def shown_command(run: dict) -> str:
    """A recorded block as one line: its commands without comments or PATH set-up."""
    if run.get("language") == "python":
        return f"the Python block at {run['source']}"
    lines = [re.sub(r"\s+#.*$", "", l).strip() for l in run["command"].splitlines()]
    lines = [l for l in lines if l and not l.startswith(("#", "export PATH"))]
    return "`" + "; ".join(lines).replace("|", "\\|") + "`"


def measured_table(runs: dict) -> str:
    rows = ["| id | what ran | wall time | machine, date, commit |", "|---|---|---|---|"]
    for key in sorted(runs):
        run = runs[key]
        command = shown_command(run)
        machine = run["machine"]
        rows.append(f"| `{key}` | {command} | {describe_seconds(run['seconds'])} | "
                    f"{machine['cores']} cores, {machine['date']}, {run['commit']} |")
    return "\n".join(rows) + "\n"


def render(files: list[Path], write: bool) -> int:
    runs, stale, missing = load_results()["runs"], 0, []
    for path in dict.fromkeys(files + [ROOT / "docs" / "results.md"]):
        if not path.exists():
            continue
        text = path.read_text(encoding="utf-8")
        new = rendered(text, runs, str(path.relative_to(ROOT)), missing)
        if new != text:
            stale += 1
            if write:
                path.write_text(new, encoding="utf-8")
                print(f"rendered {path.relative_to(ROOT)}")
            else:
                print(f"{path.relative_to(ROOT)} differs from its recorded results: "
                      f"run scripts/docs/run-blocks.py --render", file=sys.stderr)
    for line in missing:
        print(f"{line} in {RESULTS.relative_to(ROOT)} (run --record or --fresh-clone)",
              file=sys.stderr)
    return 1 if (stale or missing) and not write else 0


# ---------------------------------------------------------------- the fresh-clone timing


def fresh_clone() -> dict:
    """Time the README's steps in a new clone with an empty target and pip cache."""
    scratch = Path(tempfile.mkdtemp(prefix="fresh-clone-"))
    clone, target, venv = scratch / "plasticity", scratch / "target", scratch / "venv"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=clone, check=True,
                            capture_output=True, text=True).stdout.strip()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = environment(clone, target, venv)
    env["PIP_CACHE_DIR"] = str(scratch / "pip-cache")
    readme = [b for b in blocks_of(ROOT / "README.md")]
    steps = {"run": next(b for b in readme if b.mark("measure") == "oja"),
             "test": next(b for b in readme if "cargo test" in b.code),
             "pip": next(b for b in readme if b.mark("measure") == "pip")}
    records = {}
    for name, block in steps.items():
        started = time.monotonic()
        passed, _ = run_shell(block, clone, env, capture=False)
        if not passed:
            raise SystemExit(f"fresh clone: the README's {name} step failed:\n{block.code}")
        records[name] = round(time.monotonic() - started, 1)
        print(f"@@ fresh clone: {name} {records[name]} s", flush=True)
    started, outcome = time.monotonic(), Outcome()
    python = [b for b in readme if b.language == "python"]
    run_blocks(python, clone, env, outcome, None)
    if outcome.failed:
        raise SystemExit("fresh clone: " + "\n".join(outcome.failed))
    records["python"] = round(time.monotonic() - started, 1)
    shutil.rmtree(scratch)
    return {"fresh": {"seconds": round(sum(records.values()), 1), **records,
                      "command": "scripts/docs/run-blocks.py --fresh-clone "
                                 "(README: run, test, pip install, Python blocks)",
                      "output": "", "source": "README.md", "commit": commit}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--long", action="store_true", help="also run blocks marked long")
    parser.add_argument("--record", action="store_true",
                        help="keep measured blocks' times and outputs in docs/results.json, then render")
    parser.add_argument("--render", action="store_true", help="write recorded results into the docs")
    parser.add_argument("--check", action="store_true", help="fail where a doc differs from its record")
    parser.add_argument("--list", action="store_true", help="list the blocks, run none")
    parser.add_argument("--fresh-clone", action="store_true",
                        help="time the README's steps in a new clone, record, render")
    parser.add_argument("files", nargs="*", type=Path, help="default: README.md, docs/*.md")
    args = parser.parse_args()
    files = markdown_files(args.files)
    if args.list:
        for path in files:
            for b in blocks_of(path):
                print(f"{b.file}:{b.line} {b.language} [{reason_not_to_run(b, args.long) or 'run'}]")
        return 0
    if args.render or args.check:
        return render(files, write=args.render)
    if args.fresh_clone:
        records = fresh_clone()
        save_results(load_results(), records)
        return render(files, write=True)
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")).resolve()
    venv = Path(os.environ.get("PLASTICITY_VENV", target / "python-venv")).resolve()
    env, outcome = environment(ROOT, target, venv), Outcome()
    records = {} if args.record else None
    if args.record:  # time the commands, not the compilation of the binary they use
        subprocess.run(["cargo", "build", "--release", "-p", "plasticity-cli"], cwd=ROOT,
                       env=env, check=True)
    for path in files:
        run_file(path, args.long, env, outcome, records)
    print("\n== doc blocks run:", *outcome.ran, sep="\n  ")
    if outcome.not_run:
        print("== not run here:", *outcome.not_run, sep="\n  ")
    if outcome.failed:
        print("== FAILED:", *outcome.failed, sep="\n  ", file=sys.stderr)
        return 1
    print(f"== {len(outcome.ran)} blocks passed, {len(outcome.not_run)} not run here")
    if records:
        save_results(load_results(), records)
        return render(files, write=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
